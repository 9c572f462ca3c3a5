#!/usr/bin/python3
"""rate-peaks.py - per-IP peak rates of the rate-rule metrics over real captures.

For every capture of a manifest (data/manifest.json, data/real-benign.json), reads the packets
with tshark (no reassembly) and computes, for every IP and both roles (victim: packets towards
it, attacker: packets from it), the peak over aligned 100 ms windows (count x 10) and over
aligned 1 s windows of every metric verdicts/rate_rules.c evaluates, raw and after the same gates
(answered traffic, requested reflector answers, completed handshakes). Prints the worst benign
values per metric (with the capture and IP that reached them) and the victims' values in the
attack captures, which is what the default `rules` thresholds are chosen from
(docs/configuration.md, "Rate rules").

usage: scripts/rate-peaks.py [--data DIR] [--json OUT]
"""
import argparse
import collections
import json
import os
import subprocess
import sys

# features/port_class.c port_is_reflector(), copied (this script reads captures, not the C).
REFLECTOR = {17, 19, 53, 69, 111, 123, 137, 161, 389, 500, 520, 1434, 1900, 3283, 3702, 4500,
             5351, 5683, 10001, 11211, 27015, 37810}
# Gates, as in verdicts/rate_rules.c.
ANSWER_FACTOR = 20   # packets one answer explains (pps/bps gate)
REQUEST_FACTOR = 10  # reflector answers one request explains
SYN_ACK_RATIO = 3    # rules.victim.syn_ack_ratio default

FIELDS = ["frame.time_epoch", "frame.len", "frame.protocols", "ip.src", "ip.dst", "ipv6.src",
          "ipv6.dst", "ip.flags.mf", "ip.frag_offset", "tcp.flags", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "icmp.type", "icmpv6.type", "tcp.len"]

METRICS = ["pps", "bps", "syn", "synack", "tcp", "udp", "icmp", "icmp_err", "frag", "refl",
           "refl_req", "answer", "pure_ack", "flows"]


def packets(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields", "-E", "occurrence=f",
           "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(FIELDS):
            continue
        yield dict(zip(FIELDS, v))


def classify(p):
    """(src, dst, counts-dict, flow key) or None when not IP."""
    layers = p["frame.protocols"].split(":")
    if "ip" in layers and (("ipv6" not in layers) or layers.index("ip") < layers.index("ipv6")):
        src, dst, v6 = p["ip.src"], p["ip.dst"], False
    elif "ipv6" in layers:
        src, dst, v6 = p["ipv6.src"], p["ipv6.dst"], True
    else:
        return None
    first = layers.index("ipv6" if v6 else "ip")
    # The transport is the first L4 layer after the outer IP header (ICMP errors quote inner
    # headers and tunnels carry inner IP: both come after it and are ignored).
    l4 = None
    for layer in layers[first + 1:]:
        if layer in ("tcp", "udp", "icmp", "icmpv6"):
            l4 = layer
            break
        if layer in ("ip", "ipv6", "gre", "esp"):
            break
    frag = False
    if v6:
        frag = "ipv6.fraghdr" in layers[first:first + 4]
    else:
        frag = p["ip.flags.mf"] in ("1", "True") or (p["ip.frag_offset"] not in ("", "0"))
    c = {"pps": 1, "bps": int(p["frame.len"] or 0) * 8}
    flags = int(p["tcp.flags"], 16) if (l4 == "tcp" and p["tcp.flags"]) else 0
    sport = dport = 0
    if l4 == "tcp":
        c["tcp"] = 1
        sport, dport = int(p["tcp.srcport"] or 0), int(p["tcp.dstport"] or 0)
        if flags & 0x12 == 0x02:
            c["syn"] = 1
        if flags & 0x12 == 0x12:
            c["synack"] = 1
        if flags & 0x17 == 0x10 and (p["tcp.len"] in ("", "0")):
            c["pure_ack"] = 1
    elif l4 == "udp":
        c["udp"] = 1
        sport, dport = int(p["udp.srcport"] or 0), int(p["udp.dstport"] or 0)
        if sport in REFLECTOR:
            c["refl"] = 1
        if dport in REFLECTOR:
            c["refl_req"] = 1
    icmp_err = reflex = False
    if l4 == "icmp" and p["icmp.type"]:
        c["icmp"] = 1
        icmp_err = int(p["icmp.type"]) in (3, 4, 5, 11, 12)
        reflex = int(p["icmp.type"]) == 0
    if l4 == "icmpv6" and p["icmpv6.type"]:
        c["icmp"] = 1
        icmp_err = 1 <= int(p["icmpv6.type"]) <= 4
        reflex = int(p["icmpv6.type"]) == 129
    if icmp_err:
        c["icmp_err"] = 1
    if frag:
        c["frag"] = 1
    # Answers: not the reflexes that answer spoofed floods too (RST, ICMP errors, echo replies,
    # SYN-ACKs).
    if not (flags & 0x04) and flags & 0x12 != 0x12 and not icmp_err and not reflex:
        c["answer"] = 1
    a, b = (src, sport), (dst, dport)
    key = (l4,) + (a + b if a <= b else b + a)
    return src, dst, c, key


def gated(w_in, w_out):
    """Gated values of one role's window (w_in: this role's direction, w_out: the other)."""
    g = dict(w_in)
    pps = w_in.get("pps", 0)
    unans = max(0.0, pps - ANSWER_FACTOR * w_out.get("answer", 0))
    share = unans / pps if pps else 0
    g["pps_gated"] = unans
    g["bps_gated"] = w_in.get("bps", 0) * share
    g["frag_gated"] = w_in.get("frag", 0) * share
    g["refl_gated"] = max(0.0, w_in.get("refl", 0) - REQUEST_FACTOR * w_out.get("refl_req", 0))
    hs = min(w_out.get("synack", 0), w_in.get("pure_ack", 0))
    syn = w_in.get("syn", 0)
    g["syn_gated"] = syn if syn > SYN_ACK_RATIO * hs else 0
    return g


def peaks(path):
    """{(ip, role): {metric@100ms / metric@1s: peak}} for one capture."""
    win = {0.1: collections.defaultdict(lambda: collections.defaultdict(float)),
           1.0: collections.defaultdict(lambda: collections.defaultdict(float))}
    srcs = collections.defaultdict(set)
    seen_flows = set()
    for p in packets(path):
        r = classify(p)
        if not r:
            continue
        src, dst, c, key = r
        t = float(p["frame.time_epoch"] or 0)
        if key not in seen_flows:
            seen_flows.add(key)
            c["flows"] = 1
        for size, table in win.items():
            w = int(t / size)
            for k, v in c.items():
                table[(dst, "in", w)][k] += v
                table[(src, "out", w)][k] += v
        srcs[(dst, int(t))].add(src)
    out = collections.defaultdict(dict)
    for size, table in win.items():
        scale = 1 / size
        tag = "100ms" if size < 1 else "1s"
        for (ip, d, w), vals in table.items():
            other = table.get((ip, "out" if d == "in" else "in", w), {})
            g = gated(vals, other)
            role = "victim" if d == "in" else "attacker"
            o = out[(ip, role)]
            for k, v in g.items():
                name = f"{k}@{tag}"
                o[name] = max(o.get(name, 0), v * scale)
    for (ip, s), ss in srcs.items():
        o = out[(ip, "victim")]
        o["sources@1s"] = max(o.get("sources@1s", 0), len(ss))
        w_in = win[1.0].get((ip, "in", s), {})
        w_out = win[1.0].get((ip, "out", s), {})
        pps = w_in.get("pps", 0)
        share = max(0.0, pps - ANSWER_FACTOR * w_out.get("answer", 0)) / pps if pps else 0
        o["sources_gated@1s"] = max(o.get("sources_gated@1s", 0), len(ss) * share)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "shared", "data"))
    ap.add_argument("--json", help="write every capture's peaks here")
    args = ap.parse_args()
    sets = []
    for name in ("real-benign.json", "manifest.json"):
        m = os.path.join(args.data, name)
        if not os.path.exists(m):
            sys.exit(f"rate-peaks: {m} not found")
        sets += json.load(open(m))["captures"]
    worst = {}
    attacks = []
    dump = {}
    for cap in sets:
        path = os.path.join(args.data, cap["path"])
        res = peaks(path)
        dump[cap["path"]] = {f"{ip}/{role}": v for (ip, role), v in res.items()}
        if cap.get("label") == "benign":
            for (ip, role), vals in res.items():
                for k, v in vals.items():
                    wk = (role, k)
                    if v > worst.get(wk, (0,))[0]:
                        worst[wk] = (v, cap["path"], ip)
        else:
            for v in cap.get("victims", []):
                attacks.append((cap["path"], v, res.get((v, "victim"), {})))
            for a in cap.get("attackers", []):
                attacks.append((cap["path"], a + " (attacker)", res.get((a, "attacker"), {})))
    print("worst real benign peak per role and metric:")
    for (role, k) in sorted(worst):
        v, path, ip = worst[(role, k)]
        print(f"  {role:8s} {k:22s} {v:14.0f}  {os.path.basename(path)} {ip}")
    print("attack victims / attackers:")
    for path, ip, vals in attacks:
        show = {k: round(v) for k, v in sorted(vals.items()) if v}
        print(f"  {os.path.basename(path)} {ip}: {show}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dump, f)


if __name__ == "__main__":
    main()
