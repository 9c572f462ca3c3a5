#!/usr/bin/python3
"""gen_spoofed.py - a spoofed SYN flood merged into a real-traffic capture, for the Redis
budget benchmark (bench/bench_spoofed.sh) and the Redis fault test
(tests/integration/daemon_redis_faults.sh).

Writes OUT: every packet of BASE (a classic pcap, Ethernet, microseconds: ddos-trafgen's
output) plus N one-packet TCP SYNs, each from a different source address, to VICTIM:80, at
RATE packets per second starting OFFSET seconds after BASE's first packet. Source addresses are
distinct (a seeded permutation of the 32-bit space, skipping 0/8, 10/8, 127/8, 224/3 and the
victim), source ports, IP IDs and sequence numbers are random: nothing ties two packets to one
sender, as in a real spoofed flood. The same arguments always give the same file.

usage: gen_spoofed.py BASE.pcap OUT.pcap [--sources N] [--rate PPS] [--offset S]
                      [--victim A.B.C.D] [--seed S]
"""
import argparse
import heapq
import random
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data, 0)
    if magic != 0xA1B2C3D4 or link != 1:
        sys.exit(f"{path}: need a little-endian microsecond pcap of Ethernet frames")
    off, recs = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        recs.append((sec * 1000000 + usec, data[off:off + 16 + incl]))
        off += 16 + incl
    return data[:24], recs


def checksum(words_sum):
    while words_sum >> 16:
        words_sum = (words_sum & 0xFFFF) + (words_sum >> 16)
    return ~words_sum & 0xFFFF


def spoofed(n, rate, start_us, victim, seed):
    rnd = random.Random(seed)
    vip = bytes(int(x) for x in victim.split("."))
    vsum = (vip[0] << 8 | vip[1]) + (vip[2] << 8 | vip[3])
    eth = bytes.fromhex("020000000001" "020000000002" "0800")
    # A full-period LCG over 2^32 (a = 1 mod 4, c odd) visits every address once.
    x, a, c = rnd.getrandbits(32), 1664525, rnd.getrandbits(31) * 2 + 1
    out, made = [], 0
    while made < n:
        x = (a * x + c) & 0xFFFFFFFF
        first = x >> 24
        if first in (0, 10, 127) or first >= 224 or x.to_bytes(4, "big") == vip:
            continue
        ts = start_us + made * 1000000 // rate
        ipid, sport, seq = rnd.getrandbits(16), 1024 + rnd.getrandbits(15), rnd.getrandbits(32)
        src = x.to_bytes(4, "big")
        s = 0x4500 + 40 + ipid + 0x4000 + 0x4006 + (x >> 16) + (x & 0xFFFF) + vsum
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, ipid, 0x4000, 64, 6, checksum(s), src, vip)
        # TCP checksum over the pseudo-header and the 20-byte header (no payload).
        t = (x >> 16) + (x & 0xFFFF) + vsum + 6 + 20 + sport + 80 + (seq >> 16) + (seq & 0xFFFF)
        t += (5 << 12 | 0x02) + 64240
        tcp = struct.pack("!HHIIBBHHH", sport, 80, seq, 0, 5 << 4, 0x02, 64240, checksum(t), 0)
        frame = eth + ip + tcp
        out.append((ts, struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame),
                                    len(frame)) + frame))
        made += 1
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base")
    p.add_argument("out")
    p.add_argument("--sources", type=int, default=1000000)
    p.add_argument("--rate", type=int, default=100000)
    p.add_argument("--offset", type=float, default=2.0)
    p.add_argument("--victim", default="10.20.1.25")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    header, base = read_pcap(a.base)
    start = (base[0][0] if base else 1767225600000000) + int(a.offset * 1e6)
    flood = spoofed(a.sources, a.rate, start, a.victim, a.seed)
    with open(a.out, "wb") as f:
        f.write(header[:16] + struct.pack("<II", 65535, 1))
        for _, rec in heapq.merge(base, flood, key=lambda r: r[0]):
            f.write(rec)
    print(f"{a.out}: {len(base)} base packets + {len(flood)} spoofed SYNs to {a.victim} "
          f"at {a.rate} pps", file=sys.stderr)


if __name__ == "__main__":
    main()
