"""api_multi_sensor.py - two sensors and one API-only node against one Redis (docs/scale-out.md).

Real processes on loopback: a redis-server, sensor A (`ddosd -r A --realtime=2 --serve`, sensor id
itest-a), sensor B (`ddosd -r B1 -r B2 --realtime=2 --serve`, sensor id itest-b) and an API-only
node (`ddosd --api-only`, id itest-api), each with its own API port, plus Debian's
crowdsec-custom-bouncer polling the API-only node.

A's capture holds a SYN flood on victim V; B's first capture is benign only (B does not see V
while A's attack runs), its second is the same flood 20 s later (B sees it too). Checked:
- the API-only node and sensor B answer V as high (or critical) within one flush interval
  (200 ms in real-time replays) + 100 ms of sensor A's own API, while B has not seen V itself;
- once B saw the flood too, both sensor ids are in V's hash (`sensors`, `sensor:<id>` fields)
  and in the API-only node's verdict (`sensor`: the leader, then the others);
- the merged verdict explains itself: while only A saw V, A answers its own document (no
  `sensor_views`) and the API-only node A's single view; then the API-only node's and both
  sensors' answers for V list both sensors in `sensor_views`, each with the level its `sensor:<id>` field holds, pps > 0 and
  last_seen (ISO 8601 with milliseconds), the leader first, the merged level the highest;
- the bouncer polling the API-only node gets every attacker's decision, each version once, one
  held at a time per address (an extension is del + add, as api/decisions.c sends it), never
  one per sensor, and nothing for V (a victim);
- a report to the API-only node reaches Redis and sensor A answers it (the node's writer connects
  only then, so it never counts as a sensor before);
- an address drops from the API-only node when its hash expires;
- read-through: a hash written by hand (no event, not in ddos:top) is answered on the first
  request for it;
- Redis killed: the API-only node still answers V from its last state and /health says
  "degraded" (HTTP 200) with the reason; Redis back: "ok" again.

usage: api_multi_sensor.py --ddosd PATH --trafgen PATH [--bouncer PATH]
"""

import http.client
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (REPO_MODEL, SECRET_KEY, Checker, Env, common_args,  # noqa: E402
                        free_port, need_binary, port_open, report_attack, wait_until, which)
from api_crowdsec_bouncer import bouncer_yaml  # noqa: E402

BOUNCER_KEY = "itest-multi-key-00112233445566778899"
FLUSH_MS = 200  # ddosd's flush interval in real-time replays (docs/redis.md)
HIGH = ("high", "critical")


def sanitizer_slack_ms(binary):
    """Extra milliseconds a sanitizer build gets on the latency bound: ASan/UBSan slow every
    thread (the release build is held to the issue's bound, flush interval + 100 ms)."""
    with open(binary, "rb") as f:
        return 200 if b"__asan_init" in f.read() else 0


def get_json(port, path, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, None
    except OSError:
        return 0, None
    finally:
        c.close()


def level_of(port, ip):
    _, d = get_json(port, f"/api/threat-analysis?ip={ip}", timeout=0.5)
    return (d or {}).get("threat_level")


def trafgen(env, tg, name, *args):
    pcap = env.path(f"{name}.pcap")
    p = subprocess.run([tg, "-q", "-o", pcap, "--snaplen", "128", *args],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"ddos-trafgen failed: {p.stderr.strip()}")
    with open(pcap[:-5] + ".json") as f:
        return pcap, json.load(f)["captures"][0]


def wait_api(env, p, port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            sys.exit(f"ddosd exited ({p.returncode}) at start-up:\n{env.log_tail(p)}")
        if port_open(port) and get_json(port, "/health")[0]:
            return
        time.sleep(0.05)
    sys.exit(f"ddosd did not answer /health:\n{env.log_tail(p)}")


def main():
    ap = common_args()
    ap.add_argument("--bouncer", default=which("crowdsec-custom-bouncer") or
                    "/usr/bin/crowdsec-custom-bouncer")
    a = ap.parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    tg = need_binary(a.trafgen, "ddos-trafgen")
    bouncer = need_binary(a.bouncer, "crowdsec-custom-bouncer (apt-get install "
                                     "crowdsec-custom-bouncer)")
    env = Env("multi-sensor")
    t = Checker()

    start = 1767225600
    flood = ["--seed", "53", "--scenario", "syn_flood", "--duration", "16",
             "--benign-clients", "20", "--max-attack-packets", "60000"]
    cap_a, man_a = trafgen(env, tg, "a", *flood, "--start", str(start))
    cap_b1, _ = trafgen(env, tg, "b1", "--seed", "54", "--scenario", "benign", "--duration", "20",
                        "--benign-clients", "20", "--start", str(start))
    cap_b2, man_b2 = trafgen(env, tg, "b2", *flood, "--start", str(start + 20))
    victim = man_a["victims"][0]
    t.check("B's second capture attacks the same victim as A's",
            man_b2["victims"] == man_a["victims"], repr((man_a["victims"], man_b2["victims"])))
    attackers = man_a["attackers"]

    rport = env.start_redis()
    redis_url = f"redis://127.0.0.1:{rport}"
    base_env = dict(os.environ)
    base_env.pop("SECRET_KEY", None)
    base_env["DDOSD_ITEST_MULTI"] = BOUNCER_KEY

    def cfg(name, sensor):
        return env.write(f"{name}.json", json.dumps({
            "sensor": {"id": sensor}, "cache": {"ttl": 120},
            "bouncer_keys": ["DDOSD_ITEST_MULTI"]}))

    p_api = free_port()
    api = env.spawn("api-only", [ddosd, "--api-only", "-c", cfg("api", "itest-api"),
                                 "--redis", redis_url, "--api", f"127.0.0.1:{p_api}"],
                    env={**base_env, "SECRET_KEY": SECRET_KEY}, cwd=env.tmp)
    wait_api(env, api, p_api)
    _, h = get_json(p_api, "/health")
    t.check("API-only /health: ok, no capture, no model, following Redis",
            (h or {}).get("status") == "ok" and "api-only" in h["capture"]["detail"]
            and h["redis"]["connected"], repr(h))

    calls = env.path("calls.txt")
    script = env.write("record.sh", f"#!/bin/sh\necho \"$@\" >> {calls}\n", mode=0o755)
    b = env.spawn("bouncer", [bouncer, "-c", bouncer_yaml(env, "b1", p_api, BOUNCER_KEY,
                                                          script)])

    p_a, p_b = free_port(), free_port()
    sa = env.spawn("sensor-a", [ddosd, "-c", cfg("a", "itest-a"), "-r", cap_a, "--realtime=2",
                                "--serve", "--redis", redis_url, "--api", f"127.0.0.1:{p_a}",
                                "--model", REPO_MODEL], env=base_env, cwd=env.tmp)
    sb = env.spawn("sensor-b", [ddosd, "-c", cfg("b", "itest-b"), "-r", cap_b1, "-r", cap_b2,
                                "--realtime=2", "--serve", "--redis", redis_url, "--api",
                                f"127.0.0.1:{p_b}", "--model", REPO_MODEL],
                   env=base_env, cwd=env.tmp)
    wait_api(env, sa, p_a)
    wait_api(env, sb, p_b)

    # First time each API answers V high: A's own view, then the API-only node's and B's.
    first = {}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(first) < 3:
        for name, port in (("a", p_a), ("api", p_api), ("b", p_b)):
            if name not in first and level_of(port, victim) in HIGH:
                first[name] = time.monotonic()
        time.sleep(0.01)
    t.check("sensor A answers its victim high", "a" in first, repr(first))
    slack = sanitizer_slack_ms(ddosd)
    for name, what in (("api", "the API-only node"), ("b", "sensor B (not seeing V yet)")):
        ok = "a" in first and name in first
        lag = (first[name] - first["a"]) * 1000 if ok else float("nan")
        bound = f"{FLUSH_MS} + 100" + (f" + {slack} (sanitizers)" if slack else "")
        t.check(f"{what} answers V high {lag:.0f} ms after sensor A (<= {bound} ms)",
                ok and lag <= FLUSH_MS + 100 + slack, repr(first))
    t.check("B had not seen V itself then (its hash field is absent)",
            env.redis_cli(rport, "HGET", f"ddos:verdict:{victim}", "sensor:itest-b") == "",
            env.redis_cli(rport, "HGETALL", f"ddos:verdict:{victim}"))
    _, d_a = get_json(p_a, f"/api/threat-analysis?ip={victim}")
    _, d_api = get_json(p_api, f"/api/threat-analysis?ip={victim}")
    t.check("sensor A, the only one to see V so far: its own document, no sensor_views",
            d_a is not None and "sensor_views" not in d_a, repr(d_a))
    t.check("the API-only node meanwhile: V's single view, sensor A's",
            [v.get("sensor") for v in (d_api or {}).get("sensor_views", [])] == ["itest-a"],
            repr(d_api))

    # B's second capture: the same flood through B. Both ids in the hash and in the API's verdict.
    def both_in_hash():
        s = env.redis_cli(rport, "HGET", f"ddos:verdict:{victim}", "sensors")
        return s if set(s.split(",")) >= {"itest-a", "itest-b"} else None
    sensors = wait_until(both_in_hash, 40, 0.2)
    t.check(f"V's hash names both sensors (sensors = {sensors!r})", bool(sensors))
    fields = env.redis_cli(rport, "HKEYS", f"ddos:verdict:{victim}").split()
    t.check("V's hash has a sensor:<id> field per sensor",
            "sensor:itest-a" in fields and "sensor:itest-b" in fields, repr(fields))

    def api_names_both():
        _, d = get_json(p_api, f"/api/threat-analysis?ip={victim}")
        s = (d or {}).get("sensor", "")
        return d if set(s.split(",")) >= {"itest-a", "itest-b"} else None
    d = wait_until(api_names_both, 5, 0.1)
    t.check("the API-only node's verdict for V names both sensors (leader first)",
            bool(d) and d["threat_level"] in HIGH, repr(d))

    # Each sensor's own view: level (as its sensor:<id> field in the hash says), pps, last_seen.
    iso_ms = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def views_of(port):
        _, d = get_json(port, f"/api/threat-analysis?ip={victim}")
        views = {v.get("sensor"): v for v in (d or {}).get("sensor_views", [])}
        if set(views) != {"itest-a", "itest-b"}:
            return None
        for sid, v in views.items():
            field = env.redis_cli(rport, "HGET", f"ddos:verdict:{victim}", f"sensor:{sid}")
            if not field or v.get("threat_level") != field.split()[0]:
                return None  # a write between the two reads: ask again
        return d
    for name, port in (("the API-only node", p_api), ("sensor A (following Redis)", p_a),
                       ("sensor B (following Redis)", p_b)):
        d = wait_until(lambda: views_of(port), 5, 0.1)
        views = (d or {}).get("sensor_views", [])
        rank = {"low": 0, "medium": 1, "high": 2, "critical": 3}
        t.check(f"{name}: sensor_views lists both sensors, each at its hash field's level",
                bool(d), repr(get_json(port, f"/api/threat-analysis?ip={victim}")[1]))
        t.check(f"{name}: every view has pps > 0 and last_seen with milliseconds",
                bool(views) and all(isinstance(v.get("pps"), float) and v["pps"] > 0
                                    and iso_ms.match(v.get("last_seen") or "") for v in views),
                repr(views))
        if port == p_api:  # a mirror of the hash: its leader and its merged level
            t.check(f"{name}: the leader's view first, the merged level the highest view's",
                    bool(views) and views[0]["sensor"] == d["sensor"].split(",")[0]
                    and rank[d["threat_level"]] == max(rank[v["threat_level"]] for v in views),
                    repr(d))
        else:  # B's own verdict may stand beside the views: never below the highest of them
            t.check(f"{name}: its level is at least every view's",
                    bool(views) and rank[d["threat_level"]] >= max(rank[v["threat_level"]]
                                                                   for v in views), repr(d))

    # The bouncer: one add per attacker decision, nothing for the victim, no duplicates.
    time.sleep(3)  # three bouncer polls after the last change
    try:
        with open(calls) as f:
            rows = [ln.split() for ln in f.read().splitlines() if ln.strip()]
    except OSError:
        rows = []
    adds = [r[1].split("/")[0] for r in rows if r and r[0] == "add"]
    decided = sorted({ip for ip in attackers if level_of(p_api, ip) in HIGH})
    t.check(f"the bouncer got add for every attacker decision ({decided})",
            decided and all(ip in adds for ip in decided), f"adds {adds}\n{env.log_tail(b)}")
    # An extended decision comes as del (old version) + add (new version), as the LAPI sends a
    # replacement (api/decisions.c): so per address, add and del alternate (one ban at a time,
    # never one per sensor), and every decision version (id) is added once.
    ids = [json.loads(r[4])["id"] for r in rows if r and r[0] == "add" and len(r) > 4]
    t.check("every decision version reached the bouncer once", len(ids) == len(set(ids)),
            repr(ids))
    alternate = True
    for ip in set(adds):
        seq = [r[0] for r in rows if r and r[1].split("/")[0] == ip]
        alternate &= all(x != y for x, y in zip(seq, seq[1:])) and seq[0] == "add"
    t.check("per address: add and del alternate (one decision held at a time)", alternate,
            "\n".join(" ".join(r[:3]) for r in rows))
    t.check("the victim never reached the bouncer", victim not in adds, repr(adds))

    # A report to the API-only node goes into Redis under the node's id, and a sensor answers it.
    # Until then the node's writer stayed unconnected: it is no sensor (ddos:sensors).
    t.check("before any report the API-only node has not registered as a writing sensor",
            "itest-api" not in env.redis_cli(rport, "ZRANGE", "ddos:sensors", "0", "-1").split(),
            env.redis_cli(rport, "ZRANGE", "ddos:sensors", "0", "-1"))
    rep_ip = "203.0.113.50"
    r = report_attack(f"http://127.0.0.1:{p_api}", rep_ip, "critical", "http_flood")
    t.check(f"report {rep_ip} to the API-only node: 2xx", 200 <= r.code < 300, repr(r))
    got = wait_until(lambda: env.redis_cli(rport, "HGET", f"ddos:verdict:{rep_ip}",
                                           "threat_level") == "critical", 3, 0.05)
    t.check("the report reached Redis (critical)", got,
            env.redis_cli(rport, "HGETALL", f"ddos:verdict:{rep_ip}"))
    got = wait_until(lambda: level_of(p_a, rep_ip) == "critical", 3, 0.05)
    t.check("sensor A answers the address reported to the API-only node", got)

    # Read-through: a hash no event announced and the top set does not list (written here by
    # hand) is found on the first request for it.
    rt_ip, now_ms = "192.0.2.99", int(time.time() * 1000)
    # Its sensor fields: one in the older three-token form, and two a sensor cannot have written
    # (an id with a quote, a score that is no number): refused, counted, never shown.
    env.redis_cli(rport, "HSET", f"ddos:verdict:{rt_ip}", "ip", rt_ip, "threat_level", "high",
                  "score", "0.9000", "role", "attacker", "attack_type", "udp_flood", "reasons",
                  "model", "sensor", "itest-x", "sensors", "itest-x", "sensor:itest-x",
                  f"high 0.9000 {now_ms}", 'sensor:evil"id', f"critical 1 {now_ms} 1.0 1",
                  "sensor:itest-y", f"critical nan {now_ms} 1.0 1", "first_seen", "0",
                  "last_seen", "0")
    env.redis_cli(rport, "EXPIRE", f"ddos:verdict:{rt_ip}", "60")
    _, d = get_json(p_api, f"/api/threat-analysis?ip={rt_ip}")
    t.check("read-through: an address the node has not seen is read from Redis on a miss",
            (d or {}).get("threat_level") == "high" and d.get("sensor") == "itest-x", repr(d))
    t.check("read-through: its one valid sensor field is its one view (old form: pps 0, "
            "last_seen null)",
            (d or {}).get("sensor_views") == [{"sensor": "itest-x", "threat_level": "high",
                                               "score": 0.9, "pps": 0.0, "last_seen": None}],
            repr(d))
    c = http.client.HTTPConnection("127.0.0.1", p_api, timeout=2)
    c.request("GET", "/metrics")
    metrics = c.getresponse().read().decode()
    c.close()
    bad = re.search(r"^ddosd_follower_bad_views_total (\d+)$|^follower_bad_views_total (\d+)$",
                    metrics, re.M)
    t.check("the two hostile sensor fields are counted (follower_bad_views_total 2)",
            bool(bad) and int(bad.group(1) or bad.group(2)) == 2,
            "\n".join(ln for ln in metrics.splitlines() if "bad_views" in ln))
    _, d = get_json(p_api, "/api/threat-analysis?ip=192.0.2.98")
    t.check("read-through: an address Redis does not hold is low, unknown",
            (d or {}).get("threat_level") == "low" and d.get("known") is False, repr(d))

    # An address drops when its evidence expires: a hash in ddos:top with a 3 s TTL is answered,
    # then low once the hash is gone (the store entry carries the hash's own expiry).
    exp_ip = "192.0.2.97"
    env.redis_cli(rport, "HSET", f"ddos:verdict:{exp_ip}", "ip", exp_ip, "threat_level", "high",
                  "score", "0.8000", "role", "attacker", "sensor", "itest-x", "sensors", "itest-x",
                  "sensor:itest-x", f"high 0.8000 {now_ms}")
    env.redis_cli(rport, "PEXPIRE", f"ddos:verdict:{exp_ip}", "3000")
    env.redis_cli(rport, "ZADD", "ddos:top", "2.8", exp_ip)
    t0 = time.monotonic()
    seen = wait_until(lambda: level_of(p_api, exp_ip) == "high", 3, 0.05)
    gone = wait_until(lambda: level_of(p_api, exp_ip) == "low", 6, 0.1)
    took = time.monotonic() - t0
    t.check(f"a verdict is answered while its hash lives and drops with it ({took:.1f} s)",
            seen and gone and took >= 2.5)

    # Redis gone: the API-only node answers from its last state and says degraded.
    redis_proc = [p for n, p in env.procs if n == f"redis-{rport}"][0]
    env.stop(redis_proc, sig=9)
    def degraded():
        code, h = get_json(p_api, "/health")
        return (code, h) if h and h.get("status") == "degraded" else None
    r = wait_until(degraded, 5, 0.1)
    t.check("Redis killed: API-only /health is 200 \"degraded\" naming Redis",
            bool(r) and r[0] == 200 and not r[1]["redis"]["connected"]
            and "last state" in r[1]["redis"]["detail"], repr(r))
    t.check("Redis killed: the API-only node still answers V high from its last state",
            level_of(p_api, victim) in HIGH)
    t.check("Redis killed: the API-only node keeps running", api.poll() is None)
    env.spawn("redis-again", [which("redis-server"), "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", env.tmp,
                              "--daemonize", "no"])
    back = wait_until(lambda: (get_json(p_api, "/health")[1] or {}).get("status") == "ok", 10, 0.2)
    t.check("Redis back: /health is ok again", back, repr(get_json(p_api, "/health")))
    t.finish()


if __name__ == "__main__":
    main()
