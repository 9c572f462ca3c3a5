"""api_endpoints.py - every REST endpoint of a running ddosd, over real HTTP (curl).

Starts redis-server on a free loopback port, generates a SYN flood with benign background
(ddos-trafgen), and runs `ddosd -r CAPTURE --serve --api 127.0.0.1:PORT --redis URL` with
SECRET_KEY and one bouncer key in the environment. Once the flood's victim has a verdict it
checks: /health (GET and HEAD), /api/threat-analysis (known victim with its spoofed_sources and
no decision, unknown address, bad and missing ip), status codes 404, 405 (+ Allow), 413, 415, 401, 403, POST /api/report-attack with
a Bearer token and with X-Api-Key (in the store, in threat-analysis with reason "report", and in
Redis's ddos:reports stream), /api/verdicts ordering, /api/stats, /metrics, /v1/decisions and
/api/check (decisions.roles defaults to attacker: the victim passes and is no decision, a
reported attacker is denied), and the access log's combined format. Every process it starts is stopped on exit.

usage: api_endpoints.py --ddosd PATH --trafgen PATH
"""

import http.client
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, TEST_RULES, Checker, Env, common_args, curl,  # noqa: E402
                        free_port, need_binary, q, victims_of, wait_until)

LEVELS = ["low", "medium", "high", "critical"]
BOUNCER_KEY = "itest-bouncer-key-fedcba9876543210"


def main():
    a = common_args().parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    env = Env("api-endpoints")
    t = Checker()

    redis_port = env.start_redis()
    pcap, manifest = env.make_capture(trafgen, scenario="syn_flood", seed=7)
    victim = victims_of(manifest)[0]
    api_port = free_port()
    logdir = env.path("log")
    os.mkdir(logdir)
    cfg = env.write("config.json", json.dumps({
        "sensor": {"id": "itest"},
        "rules": TEST_RULES,
        "bouncer_keys": ["DDOSD_ITEST_BOUNCER"],
    }))
    env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--serve", "--api", f"127.0.0.1:{api_port}",
                            "--redis", f"redis://127.0.0.1:{redis_port}", "--log-dir", logdir],
                    env_extra={"SECRET_KEY": SECRET_KEY, "DDOSD_ITEST_BOUNCER": BOUNCER_KEY})
    base = f"http://127.0.0.1:{api_port}"

    # ---- wait for the replay to flag the victim ---------------------------------------------
    def victim_flagged():
        r = curl(f"{base}/api/threat-analysis?ip={q(victim)}")
        d = r.json() or {}
        return d if d.get("threat_level") in ("high", "critical") else None

    flagged = wait_until(victim_flagged, 90)
    if not t.check(f"the flood's victim {victim} is flagged high or critical", flagged,
                   repr(curl(f"{base}/api/threat-analysis?ip={q(victim)}"))):
        t.finish()

    # ---- /health -------------------------------------------------------------------------------
    # Its counters are the pipeline's snapshot, published every 100 ms: the store can already
    # hold the victim while the snapshot still says 0 verdicts (seen under ASan), so give it
    # a moment before judging the counts.
    def health_counted():
        r = curl(f"{base}/health")
        return r if ((r.json() or {}).get("verdicts") or 0) > 0 else None

    r = wait_until(health_counted, 5) or curl(f"{base}/health")
    h = r.json() or {}
    t.check("/health: 200", r.code == 200, repr(r))
    t.check("/health: application/json", r.headers.get("content-type", "").startswith(
        "application/json"), r.headers.get("content-type"))
    t.check("/health: status ok or degraded", h.get("status") in ("ok", "degraded"), repr(h))
    for key in ("packets", "flows", "verdicts", "uptime_s"):
        t.check(f"/health: numeric {key}", isinstance(h.get(key), (int, float)), repr(h))
    t.check("/health: counted packets and verdicts",
            (h.get("packets") or 0) > 0 and (h.get("verdicts") or 0) > 0, repr(h))
    r = curl(f"{base}/health", "-I")
    t.check("HEAD /health: 200 with GET's headers", r.code == 200 and r.headers.get(
        "content-type", "").startswith("application/json"), repr(r.headers))
    head = subprocess.run(["curl", "-sS", "--max-time", "5", "-I", "-o", "/dev/null", "-w",
                           "%{size_download}", f"{base}/health"], capture_output=True, text=True)
    t.check("HEAD /health: no body", head.stdout.strip() == "0", head.stdout + head.stderr)

    # Gateways and benchmarks reuse connections: HTTP/1.1 must keep the connection open.
    conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=5)
    answered = []
    try:
        for _ in range(3):
            conn.request("GET", "/health")
            resp = conn.getresponse()
            resp.read()
            answered.append((resp.status, resp.getheader("Connection")))
            if resp.will_close:
                break
    except (OSError, http.client.HTTPException) as e:
        answered.append(repr(e))
    conn.close()
    t.check("HTTP/1.1 keep-alive: three requests on one connection", len(answered) == 3 and all(
        isinstance(a, tuple) and a[0] == 200 and (a[1] or "").lower() != "close"
        for a in answered), repr(answered))

    # ---- threat analysis ---------------------------------------------------------------------
    d = flagged
    t.check("threat-analysis victim: ip echoed", d.get("ip") == victim, repr(d))
    t.check("threat-analysis victim: known true", d.get("known") is True, repr(d))
    t.check("threat-analysis victim: role victim", d.get("role") == "victim", repr(d))
    ex = d.get("spoofed_examples")
    t.check("threat-analysis victim: spoofed_sources a count, spoofed_examples at most 4 "
            "addresses", isinstance(d.get("spoofed_sources"), int) and d["spoofed_sources"] >= 0
            and isinstance(ex, list) and len(ex) <= 4 and all(isinstance(x, str) for x in ex),
            repr(d))
    # decisions.roles defaults to ["attacker"]: the victim is reported, not banned.
    t.check("threat-analysis victim at high/critical: decision false (roles default)",
            d.get("decision") is False, repr(d))
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {victim}")
    t.check("/api/check of the flagged victim: 204", r.code == 204, repr(r))
    unknown = "192.0.2.77"
    r = curl(f"{base}/api/threat-analysis?ip={unknown}")
    d = r.json() or {}
    t.check("threat-analysis unknown: 200, low, known false",
            r.code == 200 and d.get("threat_level") == "low" and d.get("known") is False, repr(r))
    r = curl(f"{base}/api/threat-analysis?ip={q('2001:0DB8:0:0:0:0:0:77')}")
    d = r.json() or {}
    t.check("threat-analysis IPv6: 200, canonical ip", r.code == 200 and d.get("ip") ==
            "2001:db8::77", repr(r))
    for bad in ("not-an-ip", "1.2.3.256", "", "1.2.3.4%00"):
        r = curl(f"{base}/api/threat-analysis?ip={bad}")
        t.check(f"threat-analysis ip={bad!r}: 400 with JSON",
                r.code == 400 and r.json() is not None, repr(r))
    r = curl(f"{base}/api/threat-analysis")
    t.check("threat-analysis without ip: 400", r.code == 400, repr(r))

    # ---- protocol errors -------------------------------------------------------------------
    r = curl(f"{base}/no/such/path")
    t.check("unknown path: 404 JSON", r.code == 404 and r.json() is not None, repr(r))
    r = curl(f"{base}/health", "-X", "DELETE")
    t.check("DELETE /health: 405 with Allow: GET",
            r.code == 405 and "GET" in r.headers.get("allow", ""), f"{r!r} {r.headers}")
    r = curl(f"{base}/api/report-attack")
    t.check("GET /api/report-attack: 405 with Allow: POST",
            r.code == 405 and "POST" in r.headers.get("allow", ""), f"{r!r} {r.headers}")

    auth = ["-H", f"Authorization: Bearer {SECRET_KEY}"]
    json_ct = ["-H", "Content-Type: application/json"]
    big = env.write("big.json", json.dumps({"ip": "203.0.113.9", "pad": "x" * (64 * 1024 + 100)}))
    r = curl(f"{base}/api/report-attack", "-X", "POST", *auth, *json_ct, "--data-binary", f"@{big}")
    t.check("report body > 64 KiB: 413", r.code == 413, repr(r))
    r = curl(f"{base}/api/report-attack", "-X", "POST", *auth, "-H", "Content-Type: text/plain",
             "--data-binary", '{"ip": "203.0.113.9"}')
    t.check("report as text/plain: 415", r.code == 415, repr(r))
    report = json.dumps({"ip": "203.0.113.9", "threat_level": "high", "attack_type": "http_flood"})
    r = curl(f"{base}/api/report-attack", "-X", "POST", *json_ct, "--data-binary", report)
    t.check("report without a key: 401", r.code == 401, repr(r))
    t.check("401 names the scheme (WWW-Authenticate)", "www-authenticate" in r.headers, r.headers)
    r = curl(f"{base}/api/report-attack", "-X", "POST", *json_ct, "-H",
             "Authorization: Bearer wrong-key-wrong-key-wrong", "--data-binary", report)
    t.check("report with a wrong Bearer key: 403", r.code == 403, repr(r))
    r = curl(f"{base}/api/report-attack", "-X", "POST", *json_ct, "-H",
             "X-Api-Key: wrong-key-wrong-key-wrong", "--data-binary", report)
    t.check("report with a wrong X-Api-Key: 403", r.code == 403, repr(r))
    r = curl(f"{base}/api/report-attack", "-X", "POST", *auth, *json_ct,
             "--data-binary", '{"ip": "203.0.113.9", ')
    t.check("report with broken JSON: 400", r.code == 400, repr(r))

    # ---- reports -------------------------------------------------------------------------------
    reported = {"203.0.113.10": ["-H", f"Authorization: Bearer {SECRET_KEY}"],
                "203.0.113.11": ["-H", f"X-Api-Key: {SECRET_KEY}"]}
    for ip, hdr in reported.items():
        body = json.dumps({"ip": ip, "threat_level": "critical", "attack_type": "http_flood"})
        r = curl(f"{base}/api/report-attack", "-X", "POST", *hdr, *json_ct, "--data-binary", body)
        t.check(f"report {ip} with {hdr[1].split(':')[0]}: 2xx recorded",
                200 <= r.code < 300 and r.json() is not None, repr(r))
        r = curl(f"{base}/api/threat-analysis?ip={ip}")
        d = r.json() or {}
        reasons = d.get("reasons")
        reasons = reasons if isinstance(reasons, list) else str(reasons or "").split(",")
        t.check(f"threat-analysis {ip}: critical, known, reason report",
                d.get("threat_level") == "critical" and d.get("known") is True
                and "report" in reasons, repr(r))

    def stream_ips():
        out = env.redis_cli(redis_port, "XRANGE", "ddos:reports", "-", "+")
        return all(ip in out for ip in reported) and out

    out = wait_until(stream_ips, 10)
    t.check("both reports in Redis XRANGE ddos:reports", out,
            env.redis_cli(redis_port, "XRANGE", "ddos:reports", "-", "+")[:500])

    def hash_level():
        return env.redis_cli(redis_port, "HGET", "ddos:verdict:203.0.113.10", "threat_level")

    t.check("reported verdict merged into Redis hash",
            wait_until(lambda: hash_level() == "critical", 10), hash_level())

    # ---- listings --------------------------------------------------------------------------
    r = curl(f"{base}/api/verdicts")
    d = r.json()
    items = d if isinstance(d, list) else (d or {}).get("verdicts")
    ok = r.code == 200 and isinstance(items, list) and len(items) >= 3
    t.check("/api/verdicts: 200, a list with the victim and the reports", ok, repr(r)[:400])
    if ok:
        keys = [(LEVELS.index(v.get("threat_level", "low")), float(v.get("score", 0)))
                for v in items]
        t.check("/api/verdicts: worst first (level, then score)",
                keys == sorted(keys, reverse=True), repr(keys[:10]))
        ips = [v.get("ip") for v in items]
        t.check("/api/verdicts: holds the victim and both reported ips",
                victim in ips and all(ip in ips for ip in reported), repr(ips[:20]))
    r = curl(f"{base}/api/verdicts?limit=1")
    d = r.json()
    items = d if isinstance(d, list) else (d or {}).get("verdicts")
    t.check("/api/verdicts?limit=1: one entry", r.code == 200 and isinstance(items, list)
            and len(items) == 1, repr(r)[:300])

    r = curl(f"{base}/api/stats")
    t.check("/api/stats: 200 JSON object", r.code == 200 and isinstance(r.json(), dict),
            repr(r)[:300])

    r = curl(f"{base}/metrics")
    lines = r.body.splitlines()
    label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    sample = re.compile(r'^ddosd_[a-zA-Z0-9_:]+(\{' + label + r'(,' + label + r')*\})? '
                        r'([0-9.e+-]+|\+Inf|-Inf|NaN)$')
    samples = [ln for ln in lines if ln and not ln.startswith("#")]
    t.check("/metrics: 200 text/plain", r.code == 200 and r.headers.get(
        "content-type", "").startswith("text/plain"), repr(r)[:200])
    t.check("/metrics: HELP and TYPE lines", any(ln.startswith("# HELP ddosd_") for ln in lines)
            and any(re.match(r"# TYPE ddosd_\S+ (counter|gauge)$", ln) for ln in lines),
            "\n".join(lines[:6]))
    bad = [ln for ln in samples if not sample.match(ln)]
    t.check("/metrics: every sample line is Prometheus text", samples and not bad, repr(bad[:5]))

    # ---- CrowdSec decisions ----------------------------------------------------------------
    bk = ["-H", f"X-Api-Key: {BOUNCER_KEY}"]
    # A reported address holds its level for cache.ttl; the victim's own level follows its
    # flood, which may already be over in packet time when the replay ends.
    banned = next(iter(reported))
    r = curl(f"{base}/v1/decisions?ip={q(banned)}", *bk)
    d = r.json()
    t.check("/v1/decisions?ip=reported: a decision array", r.code == 200 and isinstance(d, list)
            and d and d[0].get("value") == banned and d[0].get("type") == "ban", repr(r)[:300])
    now = (curl(f"{base}/api/threat-analysis?ip={q(victim)}").json() or {})
    r = curl(f"{base}/v1/decisions?ip={q(victim)}", *bk)
    d = r.json()
    t.check("/v1/decisions?ip=victim agrees with threat-analysis's decision",
            r.code == 200 and (isinstance(d, list) and d and d[0].get("value") == victim)
            == bool(now.get("decision")), repr(r)[:300] + " / " + repr(now)[:200])
    t.check("/v1/decisions?ip=victim: null (decisions.roles defaults to attacker)",
            r.code == 200 and r.body.strip() == "null", repr(r)[:300])
    r = curl(f"{base}/v1/decisions", *bk)
    d = r.json()
    listed = [x.get("value") for x in d] if isinstance(d, list) else []
    t.check("/v1/decisions: lists the reported attackers, never the victim",
            r.code == 200 and all(ip in listed for ip in reported) and victim not in listed,
            repr(r)[:300])
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {victim}")
    t.check("/api/check victim: 204 (reported, not banned)", r.code == 204, repr(r))
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {banned}")
    t.check("/api/check reported attacker: 403", r.code == 403, repr(r))
    r = curl(f"{base}/v1/decisions?ip={unknown}", *bk)
    t.check("/v1/decisions?ip=unknown: null", r.code == 200 and r.body.strip() == "null",
            repr(r))
    r = curl(f"{base}/v1/decisions?ip={q(victim)}")
    t.check("/v1/decisions without a key: 401/403", r.code in (401, 403), repr(r))

    # ---- access log --------------------------------------------------------------------------
    combined = re.compile(r'^\S+ \S+ \S+ \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
                          r'"(GET|HEAD|POST|DELETE) \S+ HTTP/1\.[01]" \d{3} (\d+|-) "[^"]*" "[^"]*"'
                          r'( \d+\.\d+)?$')
    path = os.path.join(logdir, "access.log")

    def log_lines():
        try:
            with open(path) as f:
                return f.read().splitlines()
        except OSError:
            return []

    lines = wait_until(lambda: [ln for ln in log_lines() if "/no/such/path" in ln], 5) and \
        log_lines()
    t.check("access.log exists with lines", lines, f"{path}: {os.listdir(logdir)}")
    bad = [ln for ln in lines if not combined.match(ln)]
    t.check("access.log: every line in combined format", lines and not bad, repr(bad[:3]))
    t.check("access.log: the 404 is logged with its status",
            any('"GET /no/such/path HTTP/1.1" 404' in ln for ln in lines), repr(lines[-3:]))
    t.check("access.log: keys never logged", not any(SECRET_KEY in ln or BOUNCER_KEY in ln
                                                      for ln in lines))

    # ---- shutdown ---------------------------------------------------------------------------
    p = [p for n, p in env.procs if n == "ddosd"][0]
    rc = env.stop(p, wait=15)
    t.check(f"ddosd exits 0 on SIGTERM (got {rc})", rc == 0, env.log_tail(p))
    t.finish()


if __name__ == "__main__":
    main()
