#!/usr/bin/python3
"""dashboard_events.py - events and logs people can read, against a real ddosd and redis-server.

1. A spoofed SYN flood from 100,000 distinct sources to one victim (replayed at full speed with
   --serve): the trail (/api/events), Redis (ddos:events) and app.log each hold exactly one
   attack start, for the victim, with the spoofed-source count inside; no event names a spoofed
   source; /api/incidents lists the victim with ~100k spoofed sources and /api/timeseries has its
   points.
2. Spoofed SYN floods on 40 victims at once: one start per victim in the trail, but app.log
   rate-limits the lines: at most the burst (20) plus 2 a second, and a "suppressed N" line
   accounts for the rest.

Usage: dashboard_events.py --ddosd build/app/ddosd
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import Checker, Env, curl, free_port, need_binary  # noqa: E402
from spoof_pcap import write_syn_flood  # noqa: E402

VICTIM = "10.20.1.50"


def events(port, since=0):
    out = []
    while True:
        r = curl(f"http://127.0.0.1:{port}/api/events?since={since}&limit=1000")
        d = r.json()
        out += d["events"]
        if len(d["events"]) < 1000:
            return out
        since = d["next"]


def wait_for(pred, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def log_lines(path, pattern):
    try:
        with open(path, errors="replace") as f:
            return [l for l in f if re.search(pattern, l)]
    except OSError:
        return []


def one_victim(env, ck, ddosd):
    pcap = env.path("spoof100k.pcap")
    write_syn_flood(pcap, [VICTIM], 100000, 50000.0, seed=11)
    rport = env.start_redis()
    port = free_port()
    logdir = env.path("log1")
    os.makedirs(logdir)
    t0 = time.monotonic()
    p = env.start_ddosd(ddosd, ["-r", pcap, "--serve", "--api", f"127.0.0.1:{port}", "--redis",
                                f"redis://127.0.0.1:{rport}", "--log-dir", logdir])

    def victim_incident():
        d = curl(f"http://127.0.0.1:{port}/api/incidents").json() or {}
        for i in d.get("incidents", []):
            if i["ip"] == VICTIM and i["spoofed_sources"] >= 50000:
                return i
        return None

    inc = wait_for(victim_incident, 60)
    ck.check("the victim is an incident with its spoofed sources counted", inc,
             env.log_tail(p))
    if not inc:
        return
    time.sleep(3)  # Redis flushes every 2 s during a full-speed replay
    evs = events(port)
    starts = [e for e in evs if e["event"] == "start"]
    ck.check("one start event in the trail, for the victim",
             len(starts) == 1 and starts[0]["ip"] == VICTIM and starts[0]["role"] == "victim",
             [(e["event"], e["ip"], e["role"]) for e in evs][:20])
    ck.check("no event names a spoofed source",
             not [e for e in evs if e["ip"].startswith("198.18.") or e["ip"].startswith("198.19.")],
             [(e["event"], e["ip"]) for e in evs][:20])
    ck.check("the incident counts ~100k spoofed sources (HyperLogLog, 256 registers)",
             80000 <= inc["spoofed_sources"] <= 120000, inc["spoofed_sources"])
    ck.check("the incident is critical or high, syn_flood",
             inc["threat_level"] in ("high", "critical") and inc["attack_type"] == "syn_flood",
             (inc["threat_level"], inc["attack_type"]))
    ts = curl(f"http://127.0.0.1:{port}/api/timeseries?ip={VICTIM}").json()
    ck.check("/api/timeseries has the victim's points", ts and len(ts["points"]) >= 1, ts)
    raw = env.redis_cli(rport, "XRANGE", "ddos:events", "-", "+")
    n_start = raw.count("attack_start")
    xlen = int(env.redis_cli(rport, "XLEN", "ddos:events") or 0)
    ck.check("ddos:events holds one attack_start (not one per spoofed source)",
             n_start == 1 and xlen <= 5, f"attack_start {n_start}, XLEN {xlen}")
    lines = log_lines(os.path.join(logdir, "app.log"), r"attack start:")
    ck.check("app.log has one 'attack start' line, for the victim",
             len(lines) == 1 and VICTIM in lines[0], lines[:5])
    # The flood lasted 2 s; after the replay the stage clock runs on at wall pace, so the level
    # falls once the 10 s window is empty and the episode ends 10 s later.
    end = wait_for(lambda: [e for e in events(port) if e["event"] == "end"], 45, step=0.5)
    evs = events(port)
    ck.check("one start and one end: the end event carries the spoofed-source count",
             end and len(end) == 1 and end[0]["ip"] == VICTIM and
             end[0]["spoofed_sources"] >= 50000 and
             len([e for e in evs if e["event"] == "start"]) == 1,
             [(e["event"], e["ip"], e["spoofed_sources"]) for e in evs][:20])
    ck.check("level changes are events of their own, after the start and before the end",
             all(evs[i]["event"] == "start" for i in [0]) and evs[-1]["event"] == "end" and
             all(e["event"] == "level" and e["previous_level"] != e["threat_level"]
                 for e in evs[1:-1]),
             [(e["event"], e["previous_level"], e["threat_level"]) for e in evs])
    time.sleep(2.5)
    raw = env.redis_cli(rport, "XRANGE", "ddos:events", "-", "+")
    n_level = len([e for e in evs if e["event"] == "level"])
    ck.check("ddos:events: one attack_start, one attack_end, a level_change per level event",
             raw.count("attack_start") == 1 and raw.count("attack_end") == 1 and
             n_level >= 1 and raw.count("level_change") == n_level,
             f"{n_level} level events; {raw[:2000]}")
    lines = log_lines(os.path.join(logdir, "app.log"), r"attack end:")
    ck.check("app.log's 'attack end' line names the spoofed-source count",
             len(lines) == 1 and re.search(r"spoofed sources \d{5,}", lines[0]), lines[:3])
    env.stop(p)
    print(f"(one victim: {time.monotonic() - t0:.1f} s)", flush=True)


def many_victims(env, ck, ddosd):
    victims = [f"10.20.2.{i}" for i in range(1, 41)]
    pcap = env.path("spoof40.pcap")
    write_syn_flood(pcap, victims, 100000, 50000.0, seed=12)
    port = free_port()
    logdir = env.path("log2")
    os.makedirs(logdir)
    t0 = time.monotonic()
    p = env.start_ddosd(ddosd, ["-r", pcap, "--serve", "--api", f"127.0.0.1:{port}", "--redis",
                                "none", "--log-dir", logdir])

    def all_started():
        s = {e["ip"] for e in events(port) if e["event"] == "start"}
        return s if len(s) >= len(victims) else None

    wait_for(all_started, 60)
    evs = events(port)
    starts = [e for e in evs if e["event"] == "start"]
    per_victim = {v: sum(1 for e in starts if e["ip"] == v) for v in victims}
    ck.check("every victim has exactly one start event",
             all(n == 1 for n in per_victim.values()) and len(starts) == len(victims),
             {k: v for k, v in per_victim.items() if v != 1})
    time.sleep(2.5)  # the "suppressed" line comes within a second of the stage clock
    elapsed = time.monotonic() - t0
    app = os.path.join(logdir, "app.log")
    written = log_lines(app, r"attack (start|level|end):")
    supp = log_lines(app, r"attack events: \d+ log lines suppressed")
    n_supp = sum(int(re.search(r"attack events: (\d+)", l).group(1)) for l in supp)
    ck.check("app.log's attack lines are rate-limited (burst 20, then 2 a second)",
             len(written) <= 20 + 2 * elapsed + 1, f"{len(written)} lines in {elapsed:.1f} s")
    ck.check("a 'suppressed N' line accounts for the rest",
             n_supp > 0 and len(written) + n_supp >= len(starts),
             f"written {len(written)}, suppressed {n_supp}, starts {len(starts)}")
    env.stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddosd", required=True)
    args = ap.parse_args()
    ddosd = need_binary(args.ddosd, "ddosd")
    env = Env("dashboard-events")
    ck = Checker()
    one_victim(env, ck, ddosd)
    many_victims(env, ck, ddosd)
    ck.finish()


if __name__ == "__main__":
    main()
