"""api_firewall_bouncer.py - an extended ban stays in the firewall: Debian's
crowdsec-firewall-bouncer (nftables mode) against ddosd's /v1/decisions/stream, both inside a
network namespace this test creates (their own loopback, their own nftables ruleset).

ddosd runs with cache.ttl TTL s and one bouncer key; the bouncer polls every second. An
authenticated report makes an address critical: the bouncer must put it in its nft set with a
timeout of about TTL. Half a TTL later a second report extends ddosd's decision: the set
element's expiry must follow (the bouncer skips a decision whose address is already in its set,
so ddosd must send the old decision as deleted and the extended one as new, as the CrowdSec LAPI
does when a decision replaces another). Past the first decision's end the address must still be
in the set, and its expiry must agree with ddosd's `until`; after the extended end it must be
gone. Before the fix the element kept its first timeout and left the set TTL/2 s early.

Needs root (ip netns, nft). Skipped (77) only when crowdsec-firewall-bouncer is not installed.

usage: api_firewall_bouncer.py --ddosd PATH --trafgen PATH [--bouncer PATH]
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (REPO_MODEL, SECRET_KEY, Checker, Env, common_args, die,  # noqa: E402
                        need_binary, which)

BOUNCER_KEY = "itest-firewall-key-00112233445566778899"
TTL = 12          # s: ddosd's decision TTL (cache.ttl)
PORT = 18731      # inside the namespace: nothing else listens there
TABLE, SET = "crowdsec", "crowdsec-blacklists"
FLAGGED = "203.0.113.50"


def run(cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        die(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


class Netns:
    """A network namespace with its loopback up; deleted at exit."""

    def __init__(self, name):
        self.name = name
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name, *args]

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def curl_ns(ns, path, *args):
    """curl inside the namespace; returns (status, parsed JSON or None)."""
    p = run(ns.cmd("curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}", *args,
                   f"http://127.0.0.1:{PORT}{path}"), check=False)
    body, _, code = p.stdout.rpartition("\n")
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    return int(code) if code.strip().isdigit() else 0, data


def report(ns, ip):
    return curl_ns(ns, "/api/report-attack", "-X", "POST",
                   "-H", f"Authorization: Bearer {SECRET_KEY}",
                   "-H", "Content-Type: application/json",
                   "--data-binary", json.dumps({"ip": ip, "threat_level": "critical",
                                                "attack_type": "http_flood"}))


def nft_element(ns, ip):
    """The set element of ip as {"timeout": s, "expires": s}, or None when absent."""
    p = run(ns.cmd("nft", "-j", "list", "set", "ip", TABLE, SET), check=False)
    if p.returncode != 0:
        return None
    for obj in json.loads(p.stdout).get("nftables", []):
        for el in (obj.get("set") or {}).get("elem", []) or []:
            if isinstance(el, dict) and "elem" in el:
                e = el["elem"]
                if e.get("val") == ip:
                    return {"timeout": e.get("timeout"), "expires": e.get("expires")}
            elif el == ip:
                return {"timeout": None, "expires": None}
    return None


def ddosd_remaining(ns, ip):
    """Seconds left on ddosd's decision for ip (from /v1/decisions), None when there is none."""
    code, d = curl_ns(ns, f"/v1/decisions?ip={ip}", "-H", f"X-Api-Key: {BOUNCER_KEY}")
    if code != 200 or not d:
        return None
    until = d[0].get("until", "")
    try:
        t = time.mktime(time.strptime(until, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except ValueError:
        return None
    return t - time.time()


def bouncer_yaml(env, key):
    d = env.path("fwb")
    os.makedirs(d, exist_ok=True)
    return env.write("fwb/bouncer.yaml", f"""\
mode: nftables
pid_dir: {d}/
update_frequency: 1s
daemonize: false
log_mode: file
log_dir: {d}/
log_level: debug
log_compression: false
log_max_size: 10
log_max_backups: 1
log_max_age: 1
api_url: http://127.0.0.1:{PORT}/
api_key: {key}
insecure_skip_verify: false
disable_ipv6: true
deny_action: DROP
deny_log: false
supported_decisions_types:
  - ban
blacklists_ipv4: {SET}
blacklists_ipv6: crowdsec6-blacklists
ipset_type: nethash
iptables_chains:
  - INPUT
nftables:
  ipv4:
    enabled: true
    set-only: false
    table: {TABLE}
    chain: crowdsec-chain
  ipv6:
    enabled: false
    set-only: false
    table: crowdsec6
    chain: crowdsec6-chain
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: 60601
""")


def main():
    ap = common_args()
    ap.add_argument("--bouncer", default=which("crowdsec-firewall-bouncer") or
                    "/usr/bin/crowdsec-firewall-bouncer")
    a = ap.parse_args()
    if not os.path.exists(a.bouncer):
        print(f"SKIP: {a.bouncer} is not installed (apt-get install crowdsec-firewall-bouncer)",
              flush=True)
        sys.exit(77)
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    if os.geteuid() != 0:
        die("this test creates a network namespace and an nftables ruleset: run it as root")
    for tool in ("ip", "nft", "curl"):
        if not which(tool):
            die(f"{tool} is not installed (apt-get install iproute2 nftables curl)")

    env = Env("api-fwbouncer")
    ns = Netns(f"ddfwb{os.getpid()}")
    t = Checker()
    try:
        # A benign capture: nothing in it reaches a decision level, so the only ban is ours.
        pcap, _ = env.make_capture(trafgen, scenario="benign", seed=5, duration=5)
        cfg = env.write("config.json", json.dumps({
            "sensor": {"id": "itest-fwbouncer"}, "cache": {"ttl": TTL},
            "bouncer_keys": ["DDOSD_ITEST_FW"]}))
        penv = dict(os.environ, SECRET_KEY=SECRET_KEY, DDOSD_ITEST_FW=BOUNCER_KEY)
        dd = env.spawn("ddosd", ns.cmd(ddosd, "-c", cfg, "-r", pcap, "--serve", "--redis", "none",
                                       "--api", f"127.0.0.1:{PORT}", "--model", REPO_MODEL),
                       env=penv, cwd=env.tmp)
        deadline = time.monotonic() + 30
        while curl_ns(ns, "/health")[0] == 0:
            if dd.poll() is not None or time.monotonic() > deadline:
                die(f"ddosd did not start in the namespace:\n{env.log_tail(dd)}")
            time.sleep(0.2)

        fwb = env.spawn("fw-bouncer", ns.cmd(a.bouncer, "-c", bouncer_yaml(env, BOUNCER_KEY)))
        deadline = time.monotonic() + 15
        while run(ns.cmd("nft", "list", "set", "ip", TABLE, SET), check=False).returncode != 0:
            if fwb.poll() is not None or time.monotonic() > deadline:
                die(f"the firewall bouncer did not create its set:\n{env.log_tail(fwb)}\n"
                    f"{open(env.path('fwb', 'crowdsec-firewall-bouncer.log')).read()[-3000:] if os.path.exists(env.path('fwb', 'crowdsec-firewall-bouncer.log')) else ''}")
            time.sleep(0.2)
        time.sleep(1.5)  # its startup poll is done: what follows comes through the delta stream

        t0 = time.monotonic()
        code, d = report(ns, FLAGGED)
        t.check(f"report {FLAGGED} critical: 200 recorded",
                code == 200 and (d or {}).get("status") == "recorded", f"{code} {d}")
        el = None
        deadline = time.monotonic() + 6
        while el is None and time.monotonic() < deadline:
            el = nft_element(ns, FLAGGED)
            time.sleep(0.1)
        t.check(f"the bouncer put {FLAGGED} in the nft set ({time.monotonic() - t0:.1f} s)", el,
                env.log_tail(fwb))
        if el and el["timeout"] is not None:
            t.check(f"its timeout is about the TTL ({el['timeout']} s, TTL {TTL} s)",
                    TTL - 3 <= el["timeout"] <= TTL, repr(el))

        # Half a TTL later, a second report extends ddosd's decision by TTL/2.
        time.sleep(max(0.0, t0 + TTL / 2 - time.monotonic()))
        t_ext = time.monotonic()
        code, d = report(ns, FLAGGED)
        t.check("the second report: 200 recorded", code == 200, f"{code} {d}")
        left = ddosd_remaining(ns, FLAGGED)
        t.check(f"ddosd extended its decision (about {TTL} s left, got {left})",
                left is not None and left > TTL - 3, repr(left))

        def extended():
            e = nft_element(ns, FLAGGED)
            if not e or e["expires"] is None:
                return None
            want = TTL - (time.monotonic() - t_ext)
            return e if e["expires"] >= want - 3 else None
        el2 = None
        deadline = time.monotonic() + 5
        while el2 is None and time.monotonic() < deadline:
            el2 = extended()
            time.sleep(0.2)
        t.check("the set element's expiry follows the extension (within 5 s: a few polls)",
                el2, f"element {nft_element(ns, FLAGGED)}, {TTL - (time.monotonic() - t_ext):.1f} "
                     f"s left on ddosd's decision\n{env.log_tail(fwb)}")

        # Past the end of the first decision: still banned, and in step with ddosd.
        time.sleep(max(0.0, t0 + TTL + 2 - time.monotonic()))
        el3 = nft_element(ns, FLAGGED)
        left = ddosd_remaining(ns, FLAGGED)
        t.check(f"{TTL + 2} s after the first ban (past its end) the address is still in the set",
                el3 is not None, f"ddosd has {left} s left\n{env.log_tail(fwb)}")
        if el3 and el3["expires"] is not None and left is not None:
            t.check(f"the element expires with ddosd's decision (nft {el3['expires']} s, ddosd "
                    f"{left:.1f} s)", abs(el3["expires"] - left) <= 3, repr(el3))

        # After the extended end: gone from ddosd and from the set.
        end = t_ext + TTL
        gone = False
        deadline = end + 6
        while time.monotonic() < deadline:
            if nft_element(ns, FLAGGED) is None:
                gone = True
                break
            time.sleep(0.2)
        t.check("after the extended end the address leaves the set", gone,
                f"{time.monotonic() - end:.1f} s past the end: {nft_element(ns, FLAGGED)}")
        t.check("gone no earlier than the extended end (minus the 1 s slack and a poll)",
                time.monotonic() >= end - 2.5, f"{end - time.monotonic():.1f} s early")
        t.check("the bouncer is still running", fwb.poll() is None, env.log_tail(fwb))
        t.check("ddosd is still running", dd.poll() is None, env.log_tail(dd))
    finally:
        env.cleanup()
        ns.delete()
    t.finish()


if __name__ == "__main__":
    main()
