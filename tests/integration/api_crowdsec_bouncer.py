"""api_crowdsec_bouncer.py - Debian's crowdsec-custom-bouncer against ddosd's CrowdSec-compatible
decision stream (/v1/decisions/stream).

ddosd runs with cache.ttl 5 s and one bouncer key (bouncer_keys names an environment variable);
the bouncer (a temporary YAML: api_url = ddosd, update_frequency 1s, not daemonized, logs in the
temporary directory) calls a script that appends its arguments to a file. After an authenticated
report makes an address critical, the script must receive `add <ip> ...`; once the verdict
expires (5 s later, nothing renews it), `del <ip> ...`. A clean address must never appear, nor
a victim reported at critical (decisions.roles defaults to ["attacker"]: victims are reported,
not banned). A
second bouncer with a wrong key must be refused (ddosd answers 403 and the bouncer gives up or
keeps failing) without receiving anything.

usage: api_crowdsec_bouncer.py --ddosd PATH --trafgen PATH [--bouncer PATH]
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, Checker, Env, common_args, curl,  # noqa: E402
                        free_port, need_binary, report_attack, wait_until, which)

BOUNCER_KEY = "itest-crowdsec-key-00112233445566778899"
TTL = 5


def bouncer_yaml(env, name, api_port, key, script):
    d = env.path(name)
    os.mkdir(d)
    return env.write(f"{name}/bouncer.yaml", f"""\
bin_path: {script}
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: {d}/
update_frequency: 1s
cache_retention_duration: 1s
daemonize: false
log_mode: file
log_dir: {d}/
log_level: debug
log_compression: false
log_max_size: 10
log_max_backups: 1
log_max_age: 1
api_url: http://127.0.0.1:{api_port}/
api_key: {key}
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: {free_port()}
""")


def main():
    ap = common_args()
    ap.add_argument("--bouncer", default=which("crowdsec-custom-bouncer") or
                    "/usr/bin/crowdsec-custom-bouncer")
    a = ap.parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    bouncer = need_binary(a.bouncer, "crowdsec-custom-bouncer (apt-get install "
                                     "crowdsec-custom-bouncer)")
    env = Env("api-crowdsec")
    t = Checker()

    # A benign capture: nothing in it reaches a decision level, so the only decision is ours.
    pcap, _ = env.make_capture(trafgen, scenario="benign", seed=5, duration=5)
    api_port = free_port()
    cfg = env.write("config.json", json.dumps({
        "sensor": {"id": "itest-crowdsec"}, "cache": {"ttl": TTL},
        "bouncer_keys": ["DDOSD_ITEST_CROWDSEC"]}))
    env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--serve", "--redis", "none",
                            "--api", f"127.0.0.1:{api_port}"],
                    env_extra={"SECRET_KEY": SECRET_KEY, "DDOSD_ITEST_CROWDSEC": BOUNCER_KEY})
    base = f"http://127.0.0.1:{api_port}"

    # The stream endpoint as the bouncer will call it.
    r = curl(f"{base}/v1/decisions/stream?startup=true", "-H", f"X-Api-Key: {BOUNCER_KEY}")
    d = r.json()
    t.check("/v1/decisions/stream?startup=true: 200 with new and deleted",
            r.code == 200 and isinstance(d, dict) and "new" in d and "deleted" in d, repr(r))
    r = curl(f"{base}/v1/decisions/stream?startup=true", "-H", "X-Api-Key: not-the-key-at-all-123")
    t.check("/v1/decisions/stream with a wrong key: 403", r.code == 403, repr(r))

    calls = env.path("calls.txt")
    script = env.write("record.sh", f"#!/bin/sh\necho \"$@\" >> {calls}\n", mode=0o755)
    bad_calls = env.path("bad-calls.txt")
    bad_script = env.write("record-bad.sh", f"#!/bin/sh\necho \"$@\" >> {bad_calls}\n", mode=0o755)

    good = env.spawn("bouncer", [bouncer, "-c", bouncer_yaml(env, "b1", api_port, BOUNCER_KEY,
                                                             script)])
    wrong = env.spawn("bouncer-wrong-key", [bouncer, "-c", bouncer_yaml(
        env, "b2", api_port, "wrong-key-wrong-key-wrong-key", bad_script)])
    time.sleep(2.5)  # two polls: the startup listing and one delta
    if not t.check("the bouncer is running", good.poll() is None, env.log_tail(good)):
        t.finish()

    def read_calls():
        try:
            with open(calls) as f:
                return [ln.split() for ln in f.read().splitlines() if ln.strip()]
        except OSError:
            return []

    def ip_of(call):
        return call[1].split("/")[0] if len(call) > 1 else ""

    flagged, clean, victim = "203.0.113.77", "198.51.100.200", "192.0.2.80"
    t0 = time.monotonic()
    r = report_attack(base, victim, "critical", "syn_flood", role="victim")
    t.check(f"report victim {victim}: 2xx", 200 <= r.code < 300, repr(r))
    d = curl(f"{base}/api/threat-analysis?ip={victim}").json() or {}
    t.check("the reported victim is critical, role victim, no decision",
            d.get("threat_level") == "critical" and d.get("role") == "victim"
            and d.get("decision") is False, repr(d))
    r = report_attack(base, flagged, "critical", "http_flood")
    t.check(f"report {flagged}: 2xx", 200 <= r.code < 300, repr(r))

    added = wait_until(lambda: [c for c in read_calls() if c[0] == "add" and
                                ip_of(c) == flagged], 8, 0.1)
    t_add = time.monotonic() - t0
    t.check(f"bouncer script got `add {flagged} ...` ({t_add:.1f} s)", added,
            f"calls: {read_calls()}\n{env.log_tail(good)}")
    if added:
        c = added[0]
        t.check("add carries a positive duration (seconds) and a reason",
                len(c) >= 4 and c[2].lstrip("-").isdigit() and 0 < int(c[2]) <= TTL + 1,
                repr(c))

    deleted = wait_until(lambda: [c for c in read_calls() if c[0] == "del" and
                                  ip_of(c) == flagged], TTL + 10, 0.1)
    t_del = time.monotonic() - t0
    t.check(f"bouncer script got `del {flagged} ...` after the TTL ({t_del:.1f} s)",
            deleted and t_del >= TTL - 1, f"calls: {read_calls()}\n{env.log_tail(good)}")
    order = [c[0] for c in read_calls() if ip_of(c) == flagged]
    t.check("add before del, once each", order == ["add", "del"], repr(order))
    t.check("a clean address never reaches the bouncer",
            not any(ip_of(c) == clean for c in read_calls()), repr(read_calls()))
    t.check("a critical victim never reaches the bouncer (decisions.roles default)",
            not any(ip_of(c) == victim for c in read_calls()), repr(read_calls()))
    r = curl(f"{base}/api/threat-analysis?ip={flagged}")
    t.check("threat-analysis after expiry: low, unknown",
            (r.json() or {}).get("threat_level") == "low", repr(r))
    t.check("the bouncer with a wrong key received nothing",
            not os.path.exists(bad_calls) or not open(bad_calls).read().strip(),
            open(bad_calls).read() if os.path.exists(bad_calls) else "")
    t.check("the bouncer is still running", good.poll() is None, env.log_tail(good))
    _ = wrong
    t.finish()


if __name__ == "__main__":
    main()
