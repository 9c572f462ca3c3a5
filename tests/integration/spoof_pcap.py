"""spoof_pcap.py - writes classic pcap files of spoofed TCP SYN floods for the event and
dashboard tests: every packet from a distinct pseudo-random source in 198.18.0.0/15 (the
benchmarking range: never a real host), to one or several victims, at a fixed packet rate.

    write_syn_flood(path, victims, packets, pps, start=1767225600.0, seed=1)

Deterministic per seed. Standard library only (struct); ~1 s per million packets."""

import random
import struct


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ip4(text):
    return bytes(int(x) for x in text.split("."))


def write_syn_flood(path, victims, packets, pps, start=1767225600.0, seed=1, dport=80):
    """packets SYNs spread round-robin over victims (dotted quads), sources all distinct."""
    rng = random.Random(seed)
    # Distinct sources: a random permutation slice of 198.18.0.0/15 (131072 addresses).
    if packets > 131070:
        raise ValueError("at most 131070 distinct sources in 198.18.0.0/15")
    offsets = rng.sample(range(1, 131071), packets)
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    vict = [_ip4(v) for v in victims]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, off in enumerate(offsets):
            src = bytes([198, 18 + (off >> 16), (off >> 8) & 0xFF, off & 0xFF])
            dst = vict[i % len(vict)]
            sport = 1024 + rng.randrange(60000)
            tcp = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02,
                              64240, 0, 0)
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp)) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rng.getrandbits(16), 0,
                             64, 6, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
            frame = eth + ip + tcp
            t = start + i / pps
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)
