#!/usr/bin/python3
"""redis_merge_rate.py - how many verdict merges one Redis primary takes per second
(docs/scale-out.md, "what one primary holds").

Loads the sink's merge script from verdicts/redis_sink.c (the C string literal, so the figure is
the current script's), starts a redis-server of its own on a free loopback port (no persistence),
and sends EVALSHA merges the way the sink does (pipelines of --batch) for --ips distinct
addresses written by --sensors sensors, --rounds times over. Prints the merges per second the
client saw, Redis's own microseconds per EVALSHA (INFO commandstats: the script and the commands
it runs), the memory per verdict (used_memory growth / addresses) and the Redis process's CPU
seconds (from /proc), repeated --repeat times (the best is the least disturbed by other load).

usage: redis_merge_rate.py [--source verdicts/redis_sink.c] [--ips 20000] [--sensors 2]
                           [--rounds 3] [--batch 1000] [--repeat 3]
"""
import argparse
import ast
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import redis


def merge_script(path):
    src = open(path).read()
    m = re.search(r"static const char merge_script\[\] =\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;", src)
    if not m:
        sys.exit(f"{path}: no merge_script literal")
    return "".join(ast.literal_eval(s) for s in re.findall(r"\"(?:[^\"\\]|\\.)*\"", m.group(1)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def one_run(a, script, tmp):
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
                         stdout=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(200):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.025)
        sha = r.script_load(script)
        mem0 = r.info("memory")["used_memory"]
        r.config_resetstat()
        c0, t0 = cpu_s(p.pid), time.monotonic()
        n = 0
        for rnd in range(a.rounds):
            for s in range(a.sensors):
                pipe = r.pipeline(transaction=False)
                for i in range(a.ips):
                    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
                    now = str(int(time.time() * 1000))
                    level = (i + s + rnd) % 4
                    pipe.evalsha(sha, 3, f"ddos:verdict:{ip}", "ddos:top", "ddos:top:expiry",
                                 ip, "attacker", str(level), f"0.{(i * 7 + s) % 10000:04d}",
                                 "syn_flood", "model,rate_syn", "1234", "1200", "48211.7",
                                 "24684390", "1732431288000000", "1732431421904113",
                                 f"sensor-{s:03d}", "3f9a0c1d2e4b5a67", now, "300", "0", "")
                    if len(pipe) >= a.batch:
                        pipe.execute()
                        n += a.batch
                n += len(pipe)
                pipe.execute()
        dt, dc = time.monotonic() - t0, cpu_s(p.pid) - c0
        st = r.info("commandstats").get("cmdstat_evalsha", {})
        mem = r.info("memory")["used_memory"] - mem0
        return {"merges": n, "merges_per_s": n / dt, "usec_per_evalsha": st.get("usec_per_call"),
                "redis_cpu_s": dc, "merges_per_redis_cpu_s": n / dc if dc else None,
                "bytes_per_verdict": mem / a.ips, "sensors": a.sensors}
    finally:
        p.kill()
        p.wait()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default=os.path.join(here, "..", "verdicts", "redis_sink.c"))
    ap.add_argument("--ips", type=int, default=20000)
    ap.add_argument("--sensors", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    script = merge_script(a.source)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(a, script, tmp) for _ in range(a.repeat)]
    for r in runs:
        print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in r.items()))
    best = max(runs, key=lambda r: r["merges_per_redis_cpu_s"] or 0)
    print(f"best: {best['merges_per_redis_cpu_s']:.0f} merges per Redis CPU second "
          f"({best['usec_per_evalsha']} us per EVALSHA by commandstats), client saw "
          f"{best['merges_per_s']:.0f}/s; {best['bytes_per_verdict']:.0f} bytes per verdict "
          f"with {a.sensors} sensor field(s)")


if __name__ == "__main__":
    main()
