#!/usr/bin/python3
"""daemon_latency.py - detection latency of ddosd on a real-time replay (bench/bench_daemon.sh b).

Runs `ddosd -r CAPTURE --realtime=SPEED --redis redis://127.0.0.1:PORT` R times. During each run
it polls Redis every 10 ms for HGET ddos:verdict:VICTIM threat_level and notes the first time it
reads high or critical. The attack's first packet is replayed at

    replay start + (attack packet time - first packet time) / SPEED

and the replay start is bounded two ways (time.monotonic() is CLOCK_MONOTONIC, ddosd's clock):
  exec   the moment ddosd was started: the reader cannot start earlier, so latency from it is an
         upper bound (it includes start-up: model load, table allocation);
  log    the moment app.log first showed "reading CAPTURE" (logged just before the first packet;
         polled every 5 ms): the closer estimate.
Each run stops ddosd (SIGTERM) once the level is seen, or after the attack plus --timeout s.
Prints one line per run and writes a JSON summary (--out).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import redis  # Debian python3-redis


def one_run(a, i, r):
    r.flushall()
    logdir = os.path.join(a.workdir, f"latency-{i}")
    os.makedirs(logdir, exist_ok=True)
    applog = os.path.join(logdir, "app.log")
    if os.path.exists(applog):
        os.unlink(applog)
    offset = (a.attack_us - a.first_us) / 1e6 / a.speed
    cmd = [a.ddosd, "-r", a.capture, f"--realtime={a.speed}",
           "--redis", f"redis://127.0.0.1:{a.port}", "--api", "none", "--model", a.model,
           "--set", "sensor.id=bench-latency", "--log-dir", logdir]
    t_exec = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_read = None
    t_seen = None
    level_seen = None
    key = f"ddos:verdict:{a.victim}"
    deadline = t_exec + offset + a.timeout
    next_redis = t_exec
    try:
        while time.monotonic() < deadline and p.poll() is None:
            now = time.monotonic()
            if t_read is None:
                try:
                    with open(applog) as f:
                        if "reading " in f.read():
                            t_read = now
                except OSError:
                    pass
            if now >= next_redis:
                lvl = r.hget(key, "threat_level")
                if lvl in ("high", "critical"):
                    t_seen = time.monotonic()
                    level_seen = lvl
                    break
                next_redis = now + 0.010
            time.sleep(0.005 if t_read is None else 0.002)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    res = {"run": i, "level": level_seen, "exit": p.returncode,
           "startup_s": None if t_read is None else round(t_read - t_exec, 4)}
    if t_seen is None:
        res["latency_exec_s"] = res["latency_log_s"] = None
    else:
        res["latency_exec_s"] = round(t_seen - (t_exec + offset), 4)
        res["latency_log_s"] = None if t_read is None else round(t_seen - (t_read + offset), 4)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ddosd", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--capture", required=True)
    ap.add_argument("--victim", required=True)
    ap.add_argument("--first-us", type=int, required=True, help="packet time of the first packet")
    ap.add_argument("--attack-us", type=int, required=True,
                    help="packet time of the attack's first packet")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=15.0,
                    help="give up this long after the attack started")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    r = redis.Redis(host="127.0.0.1", port=a.port, decode_responses=True, socket_timeout=2)
    runs = []
    for i in range(1, a.runs + 1):
        res = one_run(a, i, r)
        runs.append(res)
        lat = res["latency_log_s"]
        print(f"latency run {i}/{a.runs}: "
              + (f"{res['level']} after {lat:.3f} s (from exec {res['latency_exec_s']:.3f} s, "
                 f"start-up {res['startup_s']} s)" if res["level"] and lat is not None
                 else f"not high within {a.timeout} s (exit {res['exit']})"), file=sys.stderr)
    got = [x["latency_log_s"] for x in runs if x["latency_log_s"] is not None]
    got_exec = [x["latency_exec_s"] for x in runs if x["latency_exec_s"] is not None]
    summary = {
        "victim": a.victim, "speed": a.speed, "attack_offset_s": (a.attack_us - a.first_us) / 1e6,
        "runs": runs, "detected": len(got), "median_s": statistics.median(got) if got else None,
        "max_s": max(got) if got else None,
        "median_exec_s": statistics.median(got_exec) if got_exec else None,
    }
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=2)
    bad = [x for x in runs if x["exit"] not in (0,)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
