#!/usr/bin/python3
"""daemon_latency.py - detection latency of ddosd on a real-time replay (bench/bench_daemon.sh b).

Runs `ddosd -r CAPTURE --realtime=SPEED --redis redis://127.0.0.1:PORT --api 127.0.0.1:APIPORT`
R times. During each run it polls, every 5 ms in turn, Redis (HGET ddos:verdict:VICTIM
threat_level) and the REST API (GET /api/threat-analysis?ip=VICTIM over one keep-alive
connection, its "threat_level") and notes, for each, the first time it reads high or critical.
The attack's first packet is replayed at

    replay start + (attack packet time - first packet time) / SPEED

and the replay start is bounded two ways (time.monotonic() is CLOCK_MONOTONIC, ddosd's clock):
  exec   the moment ddosd was started: the reader cannot start earlier, so latency from it is an
         upper bound (it includes start-up: model load, table allocation);
  log    the moment app.log first showed "reading CAPTURE" (logged just before the first packet;
         polled every 5 ms): the closer estimate.
Each run stops ddosd (SIGTERM) once both have shown the level, or after the attack plus --timeout
s. Prints one line per run and writes a JSON summary (--out): per run and as medians, the
latency in Redis (latency_*), in the API (api_latency_*) and the later of the two (both_*: when
the level is visible everywhere).
"""
import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import redis  # Debian python3-redis

LEVELS_UP = ("high", "critical")


class Api:
    """GET /api/threat-analysis over one keep-alive connection (reopened when it drops)."""

    def __init__(self, port, victim):
        self.port, self.path, self.conn = port, f"/api/threat-analysis?ip={victim}", None

    def level(self):
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            self.conn.request("GET", self.path)
            resp = self.conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                return None
            return json.loads(body).get("threat_level")
        except (OSError, http.client.HTTPException, ValueError):
            if self.conn is not None:
                self.conn.close()
            self.conn = None  # not listening yet, or stopped: try again next poll
            return None

    def close(self):
        if self.conn is not None:
            self.conn.close()


def one_run(a, i, r):
    r.flushall()
    logdir = os.path.join(a.workdir, f"latency-{i}")
    os.makedirs(logdir, exist_ok=True)
    applog = os.path.join(logdir, "app.log")
    if os.path.exists(applog):
        os.unlink(applog)
    offset = (a.attack_us - a.first_us) / 1e6 / a.speed
    cmd = [a.ddosd, "-r", a.capture, f"--realtime={a.speed}",
           "--redis", f"redis://127.0.0.1:{a.port}", "--api", f"127.0.0.1:{a.api_port}",
           "--model", a.model, "--set", "sensor.id=bench-latency", "--log-dir", logdir]
    t_exec = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = Api(a.api_port, a.victim)
    t_read = None
    t_seen = t_api = None
    level_seen = api_level = None
    key = f"ddos:verdict:{a.victim}"
    deadline = t_exec + offset + a.timeout
    attack_at = t_exec + offset  # no read before the attack can have been replayed is needed
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
                time.sleep(0.005)
                continue
            if now < attack_at - 0.5:  # long before the attack: poll slowly
                time.sleep(0.01)
                continue
            if t_seen is None:
                lvl = r.hget(key, "threat_level")
                if lvl in LEVELS_UP:
                    t_seen, level_seen = time.monotonic(), lvl
            if t_api is None:
                lvl = api.level()
                if lvl in LEVELS_UP:
                    t_api, api_level = time.monotonic(), lvl
            if t_seen is not None and t_api is not None:
                break
            time.sleep(0.005)
    finally:
        api.close()
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    res = {"run": i, "level": level_seen, "api_level": api_level, "exit": p.returncode,
           "startup_s": None if t_read is None else round(t_read - t_exec, 4)}
    for name, t in (("latency", t_seen), ("api_latency", t_api)):
        if t is None:
            res[f"{name}_exec_s"] = res[f"{name}_log_s"] = None
        else:
            res[f"{name}_exec_s"] = round(t - (t_exec + offset), 4)
            res[f"{name}_log_s"] = None if t_read is None else round(t - (t_read + offset), 4)
    both = [res["latency_log_s"], res["api_latency_log_s"]]
    res["both_log_s"] = None if None in both else max(both)
    return res


def median_of(runs, field):
    got = [x[field] for x in runs if x[field] is not None]
    return statistics.median(got) if got else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ddosd", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--capture", required=True)
    ap.add_argument("--victim", required=True)
    ap.add_argument("--first-us", type=int, required=True, help="packet time of the first packet")
    ap.add_argument("--attack-us", type=int, required=True,
                    help="packet time of the attack's first packet")
    ap.add_argument("--port", type=int, required=True, help="redis-server's port")
    ap.add_argument("--api-port", type=int, required=True, help="a free port for ddosd's API")
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
        lat, alat = res["latency_log_s"], res["api_latency_log_s"]
        print(f"latency run {i}/{a.runs}: "
              + (f"Redis {res['level']} after {lat:.3f} s" if lat is not None
                 else f"Redis not high within {a.timeout} s")
              + (f", API {res['api_level']} after {alat:.3f} s" if alat is not None
                 else f", API not high within {a.timeout} s")
              + f" (start-up {res['startup_s']} s, exit {res['exit']})", file=sys.stderr)
    got = [x["latency_log_s"] for x in runs if x["latency_log_s"] is not None]
    summary = {
        "victim": a.victim, "speed": a.speed, "attack_offset_s": (a.attack_us - a.first_us) / 1e6,
        "runs": runs, "detected": len(got), "median_s": median_of(runs, "latency_log_s"),
        "max_s": max(got) if got else None,
        "median_exec_s": median_of(runs, "latency_exec_s"),
        "api_detected": sum(x["api_latency_log_s"] is not None for x in runs),
        "api_median_s": median_of(runs, "api_latency_log_s"),
        "api_median_exec_s": median_of(runs, "api_latency_exec_s"),
        "both_median_s": median_of(runs, "both_log_s"),
    }
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=2)
    bad = [x for x in runs if x["exit"] not in (0,)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
