#!/usr/bin/python3
"""daemon_check.py - checks for the ddosd integration tests and benchmarks (tests/integration/
daemon_*.sh, bench/bench_daemon.sh). Standard library plus python3-redis (Debian's).

Subcommands (each check prints PASS/FAIL lines and ends with "N passed, M failed"; exit 1 when
anything failed, 2 on a usage or input error):

  concat OUT IN...           append pcap files of one link type (in time order) into OUT
  first-packet PCAP CIDR...  print the time (us) of the first packet with an endpoint in a CIDR
  verdicts   --manifest M --verdicts V.jsonl [--sensor S] [--late-after-us T] ...
                             ground truth vs --verdicts-out: victims high/critical, attackers
                             of non-spoofed instances flagged, benign-only hosts never high
  redis      --port P --manifest M --verdicts V.jsonl --sensor S [--ended-before S]
                             the Redis keys of docs/redis.md vs ground truth and V.jsonl
  agree      --port P --verdicts V.jsonl   Redis holds exactly the verdicts of V.jsonl
  state      --port P --out F.json    Redis state without the volatile fields (write times, TTL)
  compare    A.json B.json   two states are equal (diff printed)
"""
import argparse
import ipaddress
import json
import os
import struct
import sys

LEVELS = {"low": 0, "medium": 1, "high": 2, "critical": 3}
HIGH = 2


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def expect(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return bool(cond)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


# ---- pcap ------------------------------------------------------------------------------------

PCAP_MAGICS = {0xA1B2C3D4: ("<", 1000), 0xA1B23C4D: ("<", 1), 0xD4C3B2A1: (">", 1000),
               0x4D3CB2A1: (">", 1)}


def pcap_open(path):
    f = open(path, "rb")
    hdr = f.read(24)
    if len(hdr) < 24:
        raise ValueError(f"{path}: not a pcap file")
    magic = struct.unpack("<I", hdr[:4])[0]
    if magic not in PCAP_MAGICS:
        raise ValueError(f"{path}: not a classic pcap file (pcapng is not supported here)")
    endian, us_factor = PCAP_MAGICS[magic]
    linktype = struct.unpack(endian + "I", hdr[20:24])[0]
    return f, hdr, endian, us_factor, linktype


def pcap_records(path):
    """Yields (ts_us, frame bytes) for each record."""
    f, _, endian, us_factor, _ = pcap_open(path)
    rec = struct.Struct(endian + "IIII")
    with f:
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, caplen, _ = rec.unpack(h)
            data = f.read(caplen)
            yield sec * 1000000 + frac * us_factor // 1000, data


def frame_addrs(data):
    """(src, dst) ipaddress objects of an Ethernet (optionally VLAN) frame, or None."""
    off, etype = 12, None
    while off + 2 <= len(data):
        etype = struct.unpack_from(">H", data, off)[0]
        if etype in (0x8100, 0x88A8):
            off += 4
            continue
        off += 2
        break
    if etype == 0x0800 and len(data) >= off + 20:
        return (ipaddress.IPv4Address(data[off + 12:off + 16]),
                ipaddress.IPv4Address(data[off + 16:off + 20]))
    if etype == 0x86DD and len(data) >= off + 40:
        return (ipaddress.IPv6Address(data[off + 8:off + 24]),
                ipaddress.IPv6Address(data[off + 24:off + 40]))
    return None


def cmd_concat(args):
    out_path, inputs = args.out, args.inputs
    linktype = None
    last_ts = 0
    with open(out_path + ".tmp", "wb") as out:
        for i, path in enumerate(inputs):
            f, hdr, endian, us_factor, lt = pcap_open(path)
            if linktype is None:
                linktype = lt
                out.write(hdr)
                first_endian, first_factor = endian, us_factor
            elif lt != linktype or endian != first_endian or us_factor != first_factor:
                sys.exit(f"concat: {path} differs in link type, byte order or precision")
            rec = struct.Struct(endian + "IIII")
            with f:
                first = True
                while True:
                    h = f.read(16)
                    if len(h) < 16:
                        break
                    sec, frac, caplen, _ = rec.unpack(h)
                    ts = sec * 1000000 + frac * us_factor // 1000
                    if first and ts < last_ts:
                        sys.exit(f"concat: {path} starts before the previous file ends")
                    first = False
                    last_ts = ts
                    out.write(h)
                    out.write(f.read(caplen))
    os.replace(out_path + ".tmp", out_path)
    return 0


def cmd_first_packet(args):
    nets = [ipaddress.ip_network(c) for c in args.cidrs]
    for ts, data in pcap_records(args.pcap):
        a = frame_addrs(data)
        if a and any(x.version == n.version and x in n for x in a for n in nets):
            print(ts)
            return 0
    print("no packet of those CIDRs", file=sys.stderr)
    return 1


# ---- ground truth ------------------------------------------------------------------------------

class Truth:
    """What a trafgen manifest (possibly several, for concatenated captures) says."""

    def __init__(self, manifest_paths):
        self.instances = []
        self.end_us = 0
        self.start_us = None
        for path in manifest_paths:
            with open(path) as f:
                g = json.load(f)["generator"]
            start = int(g["start_epoch_s"] * 1000000)
            end = start + int(g["duration_s"] * 1000000)
            self.start_us = start if self.start_us is None else min(self.start_us, start)
            self.end_us = max(self.end_us, end)
            for inst in g["instances"]:
                p = inst["params"]
                self.instances.append({
                    "scenario": inst["scenario"],
                    "cidrs": [ipaddress.ip_network(c) for c in inst["cidr"]],
                    "victims": [ipaddress.ip_address(v) for v in p.get("victims", [])],
                    "carpet": ipaddress.ip_network(p["carpet_bombing"])
                    if p.get("carpet_bombing") else None,
                    "sources": p.get("sources"),
                    "start_us": start + int(inst["start_s"] * 1000000),
                    "end_us": start + int(inst["end_s"] * 1000000),
                })

    def victims(self):
        out = {}
        for inst in self.instances:
            for v in inst["victims"]:
                out.setdefault(str(v), []).append(inst)
        return out

    def attack_side(self, ip):
        a = ipaddress.ip_address(ip)
        for inst in self.instances:
            if any(a.version == n.version and a in n for n in inst["cidrs"]):
                return True
            if a in inst["victims"]:
                return True
            if inst["carpet"] is not None and a.version == 4 and a in inst["carpet"]:
                return True
        return False


def load_verdicts(path):
    rows = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                v = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}")
            rows[v["ip"]] = v
    return rows


def level(v, key="threat_level"):
    return LEVELS.get(v.get(key, "low"), -1)


def peak(v):
    return max(level(v), level(v, "peak_level"))


def cmd_verdicts(args):
    c = Checks()
    truth = Truth(args.manifest)
    try:
        rows = load_verdicts(args.verdicts)
    except (OSError, ValueError) as e:
        c.expect("the verdicts file is readable JSON lines", False, str(e))
        return c.finish()
    c.expect(f"the verdicts file has lines ({len(rows)})", len(rows) > 0)
    required = ("ip", "role", "threat_level", "score", "attack_type", "reasons", "flows_total",
                "flows_attack", "pps", "bps", "spoofed_sources", "spoofed_examples",
                "first_seen_us", "last_seen_us", "sensor", "model_version", "peak_level")
    bad = [v["ip"] for v in rows.values() if any(k not in v for k in required)
           or v["threat_level"] not in LEVELS or not 0 <= v["score"] <= 1
           or v["role"] not in ("victim", "attacker")
           or not isinstance(v["spoofed_sources"], int) or v["spoofed_sources"] < 0
           or not isinstance(v["spoofed_examples"], list) or len(v["spoofed_examples"]) > 4
           or (v["role"] == "attacker" and (v["spoofed_sources"] or v["spoofed_examples"]))]
    c.expect("every line has the documented fields with valid values", not bad, f"{bad[:5]}")
    if args.sensor:
        wrong = [v["ip"] for v in rows.values() if v["sensor"] != args.sensor]
        c.expect(f"every verdict names sensor {args.sensor}", not wrong, f"{wrong[:5]}")
    for ip, insts in sorted(truth.victims().items()):
        if args.late_after_us and all(i["start_us"] < args.late_after_us for i in insts):
            continue
        v = rows.get(ip)
        what = f"victim {ip} ({','.join(i['scenario'] for i in insts)})"
        if not c.expect(f"{what} has a verdict", v is not None):
            continue
        if args.current:
            c.expect(f"{what} is high or critical at the end (got {v['threat_level']})",
                     level(v) >= HIGH)
        c.expect(f"{what} reached high or critical (peak {v.get('peak_level')})", peak(v) >= HIGH)
        c.expect(f"{what} has role victim (got {v['role']})", v["role"] == "victim")
        if args.open_flows:
            c.expect(f"{what} counts its attack flows (flows_total {v['flows_total']}, "
                     f"flows_attack {v['flows_attack']} > 0)",
                     v["flows_total"] > 0 and v["flows_attack"] > 0)
        if args.model_reason:
            c.expect(f"{what} was flagged by the model (reasons {v['reasons']})",
                     "model" in v["reasons"])
        if args.late_after_us:
            t = v.get("first_high_us", 0)
            c.expect(f"{what} first reached high after the reload point "
                     f"({t} > {args.late_after_us})", t > args.late_after_us)
    if args.attackers:
        for inst in truth.instances:
            if inst["sources"] is None or inst["sources"] > 50:
                continue
            flagged = [ip for ip, v in rows.items() if v["role"] == "attacker" and peak(v) >= HIGH
                       and any(ipaddress.ip_address(ip) in n for n in inst["cidrs"]
                               if ipaddress.ip_address(ip).version == n.version)]
            c.expect(f"{inst['scenario']} from {inst['sources']} real source(s): at least one "
                     f"attacker in {inst['cidrs'][0]} is high or critical ({len(flagged)})",
                     flagged)
    if args.no_benign:
        return c.finish()
    benign = {ip: v for ip, v in rows.items() if not truth.attack_side(ip)}
    high_benign = sorted(ip for ip, v in benign.items() if peak(v) >= HIGH)
    c.expect(f"no benign-only host ever reached high ({len(benign)} benign hosts with a verdict)",
             not high_benign, f"{high_benign[:10]}")
    return c.finish()


# ---- Redis -------------------------------------------------------------------------------------

def redis_client(port):
    import redis  # Debian python3-redis
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=5)


def redis_verdicts(r, prefix="ddos:"):
    keys = list(r.scan_iter(match=prefix + "verdict:*", count=1000))
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.hgetall(k)
        pipe.ttl(k)
    res = pipe.execute()
    out = {}
    for i, k in enumerate(keys):
        out[k[len(prefix) + len("verdict:"):]] = (res[2 * i], res[2 * i + 1])
    return out


def cmd_redis(args):
    c = Checks()
    truth = Truth(args.manifest)
    rows = load_verdicts(args.verdicts)
    r = redis_client(args.port)
    hashes = redis_verdicts(r)
    top = dict(r.zrange("ddos:top", 0, -1, withscores=True))
    events = r.xrange("ddos:events", "-", "+")
    c.expect(f"Redis holds verdict hashes ({len(hashes)}), the top set ({len(top)}) and "
             f"events ({len(events)})", hashes and top and events)

    # Ground truth: every victim's hash.
    victims = truth.victims()
    for ip, insts in sorted(victims.items()):
        h, ttl = hashes.get(ip, ({}, -2))
        what = f"ddos:verdict:{ip} ({','.join(i['scenario'] for i in insts)} victim)"
        if not c.expect(f"{what} exists", h):
            continue
        ongoing = any(i["end_us"] > truth.end_us - args.ended_before * 1000000 for i in insts)
        if ongoing:
            c.expect(f"{what}: threat_level high or critical (got {h.get('threat_level')})",
                     LEVELS.get(h.get("threat_level"), -1) >= HIGH)
        else:
            ended = (truth.end_us - max(i["end_us"] for i in insts)) / 1e6
            c.expect(f"{what}: its attack ended {ended:.0f} s before the capture end, so it is "
                     f"below high at the end (got {h.get('threat_level')})",
                     LEVELS.get(h.get("threat_level"), 9) < HIGH)
        c.expect(f"{what}: role victim (got {h.get('role')})", h.get("role") == "victim")
        ex = h.get("spoofed_examples")
        c.expect(f"{what}: spoofed_sources is a count and spoofed_examples at most 4 addresses "
                 f"(got {h.get('spoofed_sources')!r}, {ex!r})",
                 (h.get("spoofed_sources") or "").isdigit() and ex is not None
                 and (ex == "" or len(ex.split(",")) <= 4))
        c.expect(f"{what}: sensor {args.sensor} (got {h.get('sensor')}, sensors "
                 f"{h.get('sensors')})",
                 h.get("sensor") == args.sensor and h.get("sensors") == args.sensor
                 and f"sensor:{args.sensor}" in h)
        c.expect(f"{what}: TTL > 0 (got {ttl})", ttl > 0)

    # The top set: one member per hash, with the hash's score; victims on top.
    c.expect("ddos:top has exactly the addresses that have a hash",
             set(top) == set(hashes),
             f"only in top: {sorted(set(top) - set(hashes))[:5]}, only hashes: "
             f"{sorted(set(hashes) - set(top))[:5]}")
    # docs/redis.md: the top-set score is the level (low 0 .. critical 3) plus the score.
    rank = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    wrong = [ip for ip, (h, _) in hashes.items()
             if ip in top and abs(top[ip] - rank.get(h.get("threat_level"), -9)
                                  - min(float(h.get("score", -1)), 0.9999)) > 1e-6]
    c.expect("every ddos:top score is its hash's level plus its score", not wrong,
             f"{wrong[:5]}")
    benign_scores = [s for ip, s in top.items() if not truth.attack_side(ip)]
    victim_scores = {ip: top.get(ip) for ip in victims}
    ok = all(s is not None and s >= max(benign_scores, default=0)
             for ip, s in victim_scores.items()
             if any(i["end_us"] > truth.end_us - args.ended_before * 1000000 for i in victims[ip]))
    c.expect(f"victims of ongoing attacks score at least as high as any benign-only host in "
             f"ddos:top (victims {victim_scores}, best benign {max(benign_scores, default=0)})",
             ok)
    n_high = sum(1 for h, _ in hashes.values() if LEVELS.get(h.get("threat_level"), 0) >= HIGH)
    best = [m for m, _ in sorted(top.items(), key=lambda kv: -kv[1])[:max(n_high, 1)]]
    c.expect(f"the {len(best)} best-scored members of ddos:top are high or critical",
             all(LEVELS.get(hashes[m][0].get("threat_level"), 0) >= HIGH for m in best
                 if m in hashes), f"{best}")

    # The events stream.
    starts = {(e["ip"], e["role"]) for _, e in events if e.get("event") == "attack_start"}
    ends = {(e["ip"], e["role"]) for _, e in events if e.get("event") == "attack_end"}
    fields = ("event", "ip", "role", "threat_level", "score", "attack_type", "reasons",
              "flows_total", "flows_attack", "pps", "bps", "first_seen", "last_seen", "sensor",
              "model_version", "spoofed_sources", "spoofed_examples", "peers")
    bad = [i for i, e in events if any(k not in e for k in fields) or e["sensor"] != args.sensor]
    c.expect("every ddos:events entry has the documented fields and our sensor", not bad,
             f"{bad[:3]}")
    for ip, insts in sorted(victims.items()):
        c.expect(f"ddos:events has attack_start for victim {ip}", (ip, "victim") in starts)
        if all(i["end_us"] <= truth.end_us - args.ended_before * 1000000 for i in insts):
            c.expect(f"ddos:events has attack_end for victim {ip} (its attack ended "
                     f"{(truth.end_us - max(i['end_us'] for i in insts)) / 1e6:.0f} s before the "
                     f"capture end)", (ip, "victim") in ends)
    low_starts = sorted((e["ip"], e["threat_level"]) for _, e in events
                        if e.get("event") == "attack_start"
                        and LEVELS.get(e.get("threat_level"), -1) < HIGH)
    c.expect("every attack_start event is at level high or critical", not low_starts,
             f"{low_starts[:8]}")
    lonely_ends = sorted(ends - starts)
    c.expect("every attack_end follows an attack_start of the same IP and role",
             not lonely_ends, f"{lonely_ends[:5]}")
    benign_events = sorted({ip for ip, _ in starts if not truth.attack_side(ip)})
    c.expect("no attack_start for a benign-only host", not benign_events, f"{benign_events[:10]}")

    check_agreement(c, rows, hashes, "")
    return c.finish()


def check_agreement(c, rows, hashes, label):
    """--verdicts-out (rows) against the Redis hashes: same addresses, same fields. An address
    that never rose above low gets no hash (app/stage.c worth_writing); one that fell back to low
    keeps its hash, at low."""
    want = {ip for ip, v in rows.items() if peak(v) > 0}
    c.expect(f"{label}Redis has a hash for exactly the --verdicts-out addresses that ever rose "
             f"above low ({len(want)} of {len(rows)}; Redis {len(hashes)})",
             want == set(hashes),
             f"missing in Redis: {sorted(want - set(hashes))[:5]}, unexpected in Redis: "
             f"{sorted(set(hashes) - want)[:5]}")
    diffs, seen_diffs = [], []
    for ip, v in rows.items():
        h = hashes.get(ip, ({}, 0))[0]
        if not h:
            continue
        want = {
            "threat_level": v["threat_level"], "role": v["role"], "score": f"{v['score']:.4f}",
            "attack_type": v["attack_type"], "reasons": ",".join(v["reasons"]),
            "flows_total": str(v["flows_total"]), "flows_attack": str(v["flows_attack"]),
            "sensor": v["sensor"], "model_version": v["model_version"], "ip": ip,
            "spoofed_sources": str(v["spoofed_sources"]),
            "spoofed_examples": ",".join(v["spoofed_examples"]),
        }
        for k, w in want.items():
            if h.get(k) != w:
                diffs.append(f"{ip} {k}: file {w!r}, Redis {h.get(k)!r}")
        for k, w in (("first_seen", v["first_seen_us"]), ("last_seen", v["last_seen_us"])):
            if h.get(k) != str(w):
                seen_diffs.append(f"{ip} ({v['role']}) {k}: file {w}, Redis {h.get(k)}")
    c.expect(f"{label}every --verdicts-out line equals its Redis hash (level, role, score, type, "
             "reasons, flow counts, sensor, model, spoofed sources)", not diffs,
             "; ".join(diffs[:8]) + (f" ... ({len(diffs)} differences)" if len(diffs) > 8 else ""))
    c.expect(f"{label}every --verdicts-out line has its Redis hash's first_seen and last_seen "
             "(docs/redis.md: when the address was first and last seen)", not seen_diffs,
             "; ".join(seen_diffs[:6])
             + (f" ... ({len(seen_diffs)} differences)" if len(seen_diffs) > 6 else ""))


def redis_state(port):
    r = redis_client(port)
    verdicts = {}
    for ip, (h, _) in redis_verdicts(r).items():
        clean = {}
        for k, val in h.items():
            if k == "updated":
                continue
            if k.startswith("sensor:"):
                val = " ".join(val.split()[:2])  # drop the write time
            clean[k] = val
        verdicts[ip] = clean
    top = {m: s for m, s in r.zrange("ddos:top", 0, -1, withscores=True)}
    expiry = sorted(r.zrange("ddos:top:expiry", 0, -1))
    return {"verdicts": verdicts, "top": top, "top_expiry_members": expiry}


def cmd_state(args):
    state = redis_state(args.port)
    with open(args.out, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    print(f"{len(state['verdicts'])} verdicts, {len(state['top'])} in ddos:top")
    return 0


def cmd_compare(args):
    c = Checks()
    with open(args.a) as f:
        a = json.load(f)
    with open(args.b) as f:
        b = json.load(f)
    va, vb = a["verdicts"], b["verdicts"]
    c.expect(f"the same verdict hashes ({len(va)} and {len(vb)})", set(va) == set(vb),
             f"only in {args.a}: {sorted(set(va) - set(vb))[:8]}; only in {args.b}: "
             f"{sorted(set(vb) - set(va))[:8]}")
    diffs = []
    for ip in sorted(set(va) & set(vb)):
        for k in sorted(set(va[ip]) | set(vb[ip])):
            if va[ip].get(k) != vb[ip].get(k):
                diffs.append(f"{ip} {k}: {va[ip].get(k)!r} vs {vb[ip].get(k)!r}")
    c.expect("every hash has the same fields and values (write times and TTL aside)", not diffs,
             "; ".join(diffs[:10]) + (f" ... ({len(diffs)} differences)" if len(diffs) > 10
                                     else ""))
    c.expect("ddos:top has the same members and scores", a["top"] == b["top"],
             f"{len(a['top'])} vs {len(b['top'])} members")
    c.expect("ddos:top:expiry has the same members",
             a["top_expiry_members"] == b["top_expiry_members"])
    levels = {}
    for name, st in (("a", va), ("b", vb)):
        for h in st.values():
            levels.setdefault(name, {}).setdefault(h.get("threat_level"), 0)
            levels[name][h.get("threat_level")] += 1
    c.expect(f"the same number of IPs per level ({levels.get('a')} vs {levels.get('b')})",
             levels.get("a") == levels.get("b"))
    return c.finish()


def cmd_agree(args):
    c = Checks()
    rows = load_verdicts(args.verdicts)
    hashes = redis_verdicts(redis_client(args.port))
    check_agreement(c, rows, hashes, args.label + ": " if args.label else "")
    return c.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("concat")
    p.add_argument("out")
    p.add_argument("inputs", nargs="+")
    p = sub.add_parser("first-packet")
    p.add_argument("pcap")
    p.add_argument("cidrs", nargs="+")
    p = sub.add_parser("verdicts")
    p.add_argument("--manifest", action="append", required=True)
    p.add_argument("--verdicts", required=True)
    p.add_argument("--sensor")
    p.add_argument("--current", action="store_true",
                   help="victims must still be high at the end, not only at their peak")
    p.add_argument("--attackers", action="store_true",
                   help="instances with few real sources must have a flagged attacker")
    p.add_argument("--open-flows", action="store_true",
                   help="victims must have flows_total and flows_attack > 0 (flows are counted "
                        "when they end: open ones at shutdown)")
    p.add_argument("--model-reason", action="store_true")
    p.add_argument("--no-benign", action="store_true",
                   help="skip the check that no benign-only host reached high (model quality)")
    p.add_argument("--late-after-us", type=int, default=0,
                   help="only victims of attacks starting after this packet time, and they "
                        "must first reach high after it")
    p = sub.add_parser("redis")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--manifest", action="append", required=True)
    p.add_argument("--verdicts", required=True)
    p.add_argument("--sensor", required=True)
    p.add_argument("--ended-before", type=float, default=25,
                   help="attacks ending this many seconds before the capture end must have "
                        "an attack_end event (and need not be high any more)")
    p = sub.add_parser("agree")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--verdicts", required=True)
    p.add_argument("--label", default="")
    p = sub.add_parser("state")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    args = ap.parse_args()
    try:
        return {"concat": cmd_concat, "first-packet": cmd_first_packet, "verdicts": cmd_verdicts,
                "redis": cmd_redis, "agree": cmd_agree, "state": cmd_state, "compare": cmd_compare}[args.cmd](args)
    except (OSError, ValueError, KeyError) as e:
        print(f"daemon_check.py {args.cmd}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
