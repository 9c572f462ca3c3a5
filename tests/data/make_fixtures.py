#!/usr/bin/python3
"""make_fixtures.py - writes the small crafted captures the integration tests run ddos-flows on.

Every capture is built packet by packet here, and every packet is tagged, as it is built, with
what it must become: whether it decodes, and which flow it belongs to in each mode. fixtures.json
(the expected numbers) is computed from those tags, never from running the tool, so a test
failure means the tool and the construction disagree.

Tags per packet (struct Pkt):
  decode   the decode status the packet must get ("ok", "not_ip", "trunc_tcp", ...)
  fixed    the flow it lands in in --compat fixed (every decoded IP packet has one)
  cic      the flow it lands in in --compat cic (None: IPv6, skipped by cic)
A cic flow of one packet is counted as suppressed (cic emits flows of >= 2 packets).

Output is deterministic (fixed timestamps, a seeded PRNG, no wall clock): same script, same
bytes. Standard library only.

Usage: /usr/bin/python3 tests/data/make_fixtures.py [out_dir]   (default: this script's folder)
"""
import json
import os
import random
import struct
import sys

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101   # libpcap maps it to DLT_RAW (12 on Linux)
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

TCP, UDP, ICMP = 6, 17, 1
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


class Pkt:
    """One frame to write, with what it must become."""

    def __init__(self, ts_ns, data, decode="ok", fixed=None, cic=None, wire_len=None):
        self.ts_ns = ts_ns          # nanoseconds since the epoch
        self.data = data            # captured bytes
        self.wire_len = len(data) if wire_len is None else wire_len
        self.decode = decode
        self.fixed = fixed
        self.cic = cic


# ---------------------------------------------------------------------------------------------
# Packet building


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(addr):
    return bytes(int(x) for x in addr.split("."))


def ip6(addr):
    """Parses the few IPv6 forms used here ("2001:db8::10")."""
    head, _, tail = addr.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    words = h + [0] * (8 - len(h) - len(t)) + t
    return struct.pack("!8H", *words)


def l4_checksum(src, dst, proto, segment):
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(segment))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(segment), proto)
    return checksum(pseudo + segment)


def tcp(src, dst, sport, dport, seq, ack, flags, win, payload=b"", mss=None):
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    hlen = 20 + len(opts)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hlen // 4) << 4, flags, win, 0, 0)
    seg = hdr + opts + payload
    c = l4_checksum(src, dst, TCP, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload, length=None):
    ulen = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    if length is None:
        c = l4_checksum(src, dst, UDP, seg) or 0xFFFF
        seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return seg


def icmp_echo(icmp_type, ident, seq, data):
    msg = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + data
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def ipv4(src, dst, proto, payload, ident=1, frag=0, ihl=5, total=None, ttl=64):
    """frag: the 16-bit flags/offset field (0x2000 = MF, low 13 bits = offset / 8)."""
    tot = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, ident, frag, ttl, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, next_header, payload, hop_limit=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), next_header, hop_limit) + src + dst + payload


def eth(payload, ethertype=0x0800, vlans=(), src=MAC_A, dst=MAC_B, pad=True):
    """Ethernet frame; vlans is a list of (tpid, vid), outermost first. Padded to the 60-byte
    minimum (without FCS) like a NIC does, unless pad is False."""
    types = [tpid for tpid, _ in vlans] + [ethertype]
    hdr = dst + src + struct.pack("!H", types[0])
    for i, (_, vid) in enumerate(vlans):
        hdr += struct.pack("!HH", vid & 0x0FFF, types[i + 1])
    frame = hdr + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def arp_request(sender_ip, target_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A, ip4(sender_ip),
                       b"\0" * 6, ip4(target_ip))
    return eth(body, ethertype=0x0806, dst=b"\xff" * 6)


# ---------------------------------------------------------------------------------------------
# File writers


def write_pcap(path, linktype, pkts, cut_last_at=None):
    """Classic pcap, microsecond stamps, little-endian. cut_last_at: keep only this many bytes
    of the last record's data (a capture cut short while being written)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
    for i, p in enumerate(pkts):
        sec, ns = divmod(p.ts_ns, 10**9)
        assert ns % 1000 == 0, "classic pcap fixtures use whole microseconds"
        rec = struct.pack("<IIII", sec, ns // 1000, len(p.data), p.wire_len) + p.data
        if cut_last_at is not None and i == len(pkts) - 1:
            rec = rec[: 16 + cut_last_at]
        out += rec
    with open(path, "wb") as f:
        f.write(out)


def pcapng_block(block_type, body):
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def write_pcapng_ns(path, linktype, pkts):
    """pcapng: SHB, one IDB with if_tsresol=9 (nanoseconds), one EPB per packet."""
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # Options: if_tsresol (code 9, length 1, value 9 = 10^-9 s), then opt_endofopt.
    opts = struct.pack("<HHB", 9, 1, 9) + b"\0" * 3 + struct.pack("<HH", 0, 0)
    idb = pcapng_block(0x00000001, struct.pack("<HHI", linktype, 0, 262144) + opts)
    out = bytearray(shb + idb)
    for p in pkts:
        body = struct.pack("<IIIII", 0, p.ts_ns >> 32, p.ts_ns & 0xFFFFFFFF, len(p.data),
                           p.wire_len) + p.data
        out += pcapng_block(0x00000006, body)
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------------------------------------
# The captures

US = 1000            # ns per microsecond
S = 10**9            # ns per second


def session_eth():
    """A bit of everything on Ethernet, microsecond pcap."""
    t0 = 1600000000 * S
    cli, srv, dns = ip4("10.0.0.1"), ip4("10.0.0.2"), ip4("10.0.0.53")
    pk = []

    def tcp_pkt(t_us, c2s, seq, ack, flags, win, payload=b"", mss=None, cic="tcp-1"):
        s, d = (cli, srv) if c2s else (srv, cli)
        sp, dp = (40000, 80) if c2s else (80, 40000)
        seg = tcp(s, d, sp, dp, seq, ack, flags, win, payload, mss)
        pk.append(Pkt(t0 + t_us * US, eth(ipv4(s, d, TCP, seg)), fixed="tcp", cic=cic))

    # TCP: handshake, 100 bytes up, 300 bytes down, FIN/ACK both ways, final ACK. Frames under
    # 60 bytes (the SYNs with MSS: 58; pure ACKs and FINs: 54) carry Ethernet padding.
    tcp_pkt(0, True, 1000, 0, SYN, 64240, mss=1460)
    tcp_pkt(1000, False, 5000, 1001, SYN | ACK, 65160, mss=1460)
    tcp_pkt(1200, True, 1001, 5001, ACK, 502)
    tcp_pkt(2000, True, 1001, 5001, PSH | ACK, 502, b"G" * 100)
    tcp_pkt(3000, False, 5001, 1101, ACK, 509)
    tcp_pkt(4000, False, 5001, 1101, PSH | ACK, 509, b"H" * 300)
    tcp_pkt(4500, True, 1101, 5301, ACK, 501)
    # cic: the first FIN ends the flow (FIN included); the server's FIN/ACK then starts a new
    # flow that the final ACK joins: 2 packets, so it is emitted too.
    tcp_pkt(10000, True, 1101, 5301, FIN | ACK, 501)
    tcp_pkt(11000, False, 5301, 1102, FIN | ACK, 509, cic="tcp-2")
    tcp_pkt(11500, True, 1102, 5302, ACK, 501, cic="tcp-2")

    # DNS query and answer.
    q = bytes.fromhex("abcd01000001000000000000") + b"\x07example\x03com\x00\x00\x01\x00\x01"
    a = (bytes.fromhex("abcd81800001000100000000") + b"\x07example\x03com\x00\x00\x01\x00\x01"
         + bytes.fromhex("c00c000100010000012c00045db8d822"))
    pk.append(Pkt(t0 + 20000 * US, eth(ipv4(cli, dns, UDP, udp(cli, dns, 53000, 53, q))),
                  fixed="dns", cic="dns"))
    pk.append(Pkt(t0 + 20800 * US, eth(ipv4(dns, cli, UDP, udp(dns, cli, 53, 53000, a))),
                  fixed="dns", cic="dns"))

    # ICMP echo request and reply (identifier 0x1234). cic: a protocol-0 flow per IP pair.
    data = bytes(range(32))
    pk.append(Pkt(t0 + 30000 * US, eth(ipv4(cli, srv, ICMP, icmp_echo(8, 0x1234, 1, data))),
                  fixed="icmp", cic="icmp"))
    pk.append(Pkt(t0 + 30400 * US, eth(ipv4(srv, cli, ICMP, icmp_echo(0, 0x1234, 1, data))),
                  fixed="icmp", cic="icmp"))

    # A UDP datagram of 8 + 52 bytes in two fragments: the first carries the UDP header and 32
    # bytes (offset 0, MF), the second the last 20 bytes (offset 40 = 5 * 8). Without
    # reassembly the second has no ports: it is a flow of its own in both modes (fixed: UDP,
    # ports 0; cic: protocol 0), and in cic both 1-packet flows are suppressed.
    fs, fd = ip4("10.0.0.5"), ip4("10.0.0.6")
    whole = udp(fs, fd, 5000, 6000, b"F" * 52)
    pk.append(Pkt(t0 + 40000 * US, eth(ipv4(fs, fd, UDP, whole[:40], ident=77, frag=0x2000)),
                  fixed="frag-first", cic="frag-first"))
    pk.append(Pkt(t0 + 40100 * US, eth(ipv4(fs, fd, UDP, whole[40:], ident=77, frag=5)),
                  fixed="frag-rest", cic="frag-rest"))

    # ARP: a valid frame without IP.
    pk.append(Pkt(t0 + 50000 * US, arp_request("10.0.0.1", "10.0.0.2"), decode="not_ip"))

    # A SYN (60-byte frame on the wire) captured to 44 bytes: the capture ends 10 bytes into
    # the 20-byte TCP header.
    a7, a8 = ip4("10.0.0.7"), ip4("10.0.0.8")
    full = eth(ipv4(a7, a8, TCP, tcp(a7, a8, 1234, 80, 1, 0, SYN, 1024)))
    pk.append(Pkt(t0 + 60000 * US, full[:44], decode="trunc_tcp", wire_len=len(full)))

    # IPv4 with IHL 3 (12 bytes, below the 20-byte minimum).
    a9, a10 = ip4("10.0.0.9"), ip4("10.0.0.10")
    bad = bytearray(ipv4(a9, a10, UDP, udp(a9, a10, 1111, 2222, b"x" * 8)))
    bad[0] = 0x43
    pk.append(Pkt(t0 + 70000 * US, eth(bytes(bad)), decode="bad_ipv4_header"))
    return pk


LT_CLIENT4, LT_SERVER4 = ip4("192.168.1.10"), ip4("192.168.1.20")
LT_CLIENT6, LT_SERVER6 = ip6("2001:db8::10"), ip6("2001:db8::20")


def linktype_exchange(v6=False):
    """The same 3-packet TCP exchange (SYN, SYN/ACK, 20 bytes of data) as bare IP datagrams."""
    t0 = 1600000100 * S
    cli, srv = (LT_CLIENT6, LT_SERVER6) if v6 else (LT_CLIENT4, LT_SERVER4)
    spec = [
        (0, True, 7000, 0, SYN, 29200, b"", 1460),
        (250, False, 9000, 7001, SYN | ACK, 28960, b"", 1460),
        (600, True, 7001, 9001, PSH | ACK, 229, b"D" * 20, None),
    ]
    out = []
    for t_us, c2s, seq, ack, flags, win, payload, mss in spec:
        s, d = (cli, srv) if c2s else (srv, cli)
        sp, dp = (50000, 8080) if c2s else (8080, 50000)
        seg = tcp(s, d, sp, dp, seq, ack, flags, win, payload, mss)
        if v6:
            # Hop-by-hop options (PadN) -> destination options (PadN) -> TCP.
            hbh = struct.pack("!BBBB", 60, 0, 1, 4) + b"\0" * 4
            dst = struct.pack("!BBBB", TCP, 0, 1, 4) + b"\0" * 4
            dgram = ipv6(s, d, 0, hbh + dst + seg)
        else:
            dgram = ipv4(s, d, TCP, seg)
        out.append((t0 + t_us * US, dgram))
    return out


def linktype_captures():
    """name -> (linktype, packets): one file per link layer around linktype_exchange()."""
    def tagged(frames, v6=False):
        return [Pkt(t, f, fixed="tcp", cic=None if v6 else "tcp") for t, f in frames]

    v4 = linktype_exchange()
    v6 = linktype_exchange(v6=True)
    sll_addr = MAC_A + b"\0\0"
    caps = {
        # 802.1ad service tag (0x88a8, VLAN 100) outside an 802.1Q tag (VLAN 200).
        "linktypes-eth-qinq.pcap": (LINKTYPE_ETHERNET, tagged(
            [(t, eth(d, vlans=[(0x88A8, 100), (0x8100, 200)])) for t, d in v4])),
        # Linux cooked v1: packet type, ARPHRD_ETHER, address length, address, protocol.
        "linktypes-sll.pcap": (LINKTYPE_LINUX_SLL, tagged(
            [(t, struct.pack("!HHH", 0, 1, 6) + sll_addr + struct.pack("!H", 0x0800) + d)
             for t, d in v4])),
        # Linux cooked v2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address.
        "linktypes-sll2.pcap": (LINKTYPE_LINUX_SLL2, tagged(
            [(t, struct.pack("!HHIHBB", 0x0800, 0, 2, 1, 0, 6) + sll_addr + d)
             for t, d in v4])),
        "linktypes-raw.pcap": (LINKTYPE_RAW, tagged(v4)),
        "linktypes-ipv6.pcap": (LINKTYPE_IPV6, tagged(v6, v6=True)),
        # BSD loopback: the family in the writer's byte order (this file is little-endian).
        "linktypes-null.pcap": (LINKTYPE_NULL, tagged(
            [(t, struct.pack("<I", 2) + d) for t, d in v4])),
    }
    return caps


# session-ns.pcapng: packet times as nanosecond offsets from NS_T0, per flow (UDP source port).
# ddos-flows works in microseconds: each stamp is rounded down (ns // 1000) on reading, as
# libpcap itself does, so the expected durations are differences of the rounded stamps.
NS_T0 = 1700000000 * S
NS_FLOWS = {
    41000: [100, 900],                              # 800 ns apart, same us: 0 us
    41001: [1_000_000_999, 1_000_001_001],          # 2 ns apart, across a us boundary: 1 us
    41002: [2_000_000_000, 2_000_000_400, 2_000_002_999],  # 2.999 us -> 2 us
}


def session_ns():
    cli, srv = ip4("10.2.0.1"), ip4("10.2.0.2")
    pk = []
    for sport, times in NS_FLOWS.items():
        dport = sport + 1000
        for i, off in enumerate(times):
            up = i % 2 == 0
            s, d = (cli, srv) if up else (srv, cli)
            sp, dp = (sport, dport) if up else (dport, sport)
            seg = udp(s, d, sp, dp, bytes([i]) * 20)
            pk.append(Pkt(NS_T0 + off, eth(ipv4(s, d, UDP, seg)), fixed=sport, cic=sport))
    pk.sort(key=lambda p: p.ts_ns)
    return pk


def ns_expected_durations():
    return {str(sp): (t[-1] + NS_T0) // US - (t[0] + NS_T0) // US for sp, t in NS_FLOWS.items()}


def spoofed_syn():
    """500 SYNs from 500 distinct random sources (address and port) to 203.0.113.10:80, one
    every 100 us: 49.9 ms from first to last. Nobody answers."""
    rng = random.Random(0x5F00F)
    t0 = 1600000200 * S
    victim = ip4("203.0.113.10")
    seen = set()
    pk = []
    while len(pk) < 500:
        a = rng.randrange(0x01000000, 0xE0000000)  # 1.0.0.0 .. 223.255.255.255
        src = struct.pack("!I", a)
        if a in seen or src == victim:
            continue
        seen.add(a)
        sport = rng.randrange(1024, 65536)
        seg = tcp(src, victim, sport, 80, rng.getrandbits(32), 0, SYN, 64240)
        i = len(pk)
        pk.append(Pkt(t0 + i * 100 * US, eth(ipv4(src, victim, TCP, seg, ident=i + 1)),
                      fixed=i, cic=i))
    return pk


def truncated():
    """Two UDP request/response pairs, then a 142-byte frame whose record is cut after 50 of
    its bytes: libpcap delivers the first four packets, then reports a truncated dump."""
    t0 = 1600000300 * S
    pk = []
    for n, (a, b) in enumerate([("10.3.0.1", "10.3.0.2"), ("10.3.0.3", "10.3.0.4")]):
        s, d = ip4(a), ip4(b)
        sp, dp = 7000 + 2 * n, 7001 + 2 * n
        pk.append(Pkt(t0 + (n * 1000) * US, eth(ipv4(s, d, UDP, udp(s, d, sp, dp, b"q" * 24))),
                      fixed=n, cic=n))
        pk.append(Pkt(t0 + (n * 1000 + 300) * US,
                      eth(ipv4(d, s, UDP, udp(d, s, dp, sp, b"r" * 40))), fixed=n, cic=n))
    s, d = ip4("10.3.0.5"), ip4("10.3.0.6")
    last = eth(ipv4(s, d, UDP, udp(s, d, 7004, 7005, b"z" * 100)))
    # Never delivered: decode "lost" keeps it out of every count below.
    pk.append(Pkt(t0 + 5000 * US, last, decode="lost"))
    return pk


# ---------------------------------------------------------------------------------------------
# Expected numbers, from the tags


def expect(pkts, why, exit_code=0):
    delivered = [p for p in pkts if p.decode != "lost"]
    decode = {}
    for p in delivered:
        decode[p.decode] = decode.get(p.decode, 0) + 1
    ok = [p for p in delivered if p.decode == "ok"]
    fixed = {}
    cic = {}
    for p in ok:
        assert p.fixed is not None, "every decoded packet has a fixed-mode flow"
        fixed[p.fixed] = fixed.get(p.fixed, 0) + 1
        if p.cic is not None:
            cic[p.cic] = cic.get(p.cic, 0) + 1
    return {
        "exit": exit_code,
        "packets": len(delivered),
        "decode_ok": len(ok),
        "decode": decode,
        "flows_fixed": len(fixed),
        "flows_cic": sum(1 for n in cic.values() if n >= 2),
        "cic_flows_suppressed": sum(1 for n in cic.values() if n < 2),
        "cic_packets_skipped": sum(1 for p in ok if p.cic is None),
        "why": why,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else here
    os.makedirs(out, exist_ok=True)
    fixtures = {}

    pk = session_eth()
    write_pcap(os.path.join(out, "session-eth.pcap"), LINKTYPE_ETHERNET, pk)
    fixtures["session-eth.pcap"] = expect(pk, (
        "19 frames: a 10-packet TCP session, DNS query+answer, ICMP echo+reply, a UDP datagram in "
        "2 fragments, ARP (not_ip), a SYN cut inside its TCP header (trunc_tcp), an IPv4 header "
        "with IHL 3 (bad_ipv4_header). fixed: 5 flows (TCP, DNS, ICMP, and each fragment alone: "
        "the non-first one has no ports). cic: TCP splits at the first FIN into 8 + 2 packets, "
        "DNS, ICMP as a protocol-0 flow = 4 flows; the two 1-packet fragment flows are "
        "suppressed."))
    fixtures["session-eth.pcap"]["features"] = [
        {"mode": "fixed", "match": {"Protocol": "6"},
         "expect": {"Flow Duration": 11500, "Total Fwd Packets": 6, "Total Backward Packets": 4,
                    "Total Length of Fwd Packets": 100, "Total Length of Bwd Packets": 300,
                    "FIN Flag Count": 2, "SYN Flag Count": 2,
                    "Source IP": "10.0.0.1", "Source Port": "40000"},
         "why": "the whole session in one flow; payload from IP lengths, padding excluded"},
        {"mode": "fixed", "match": {"Protocol": "1"},
         "expect": {"Total Fwd Packets": 1, "Total Backward Packets": 1, "ICMP Type": 8,
                    "Flow Duration": 400},
         "why": "echo request and reply share identifier 0x1234"},
        {"mode": "fixed", "match": {"Protocol": "17", "Destination Port": "53"},
         "expect": {"Total Fwd Packets": 1, "Total Backward Packets": 1,
                    "Total Length of Fwd Packets": 29, "Total Length of Bwd Packets": 45,
                    "Flow Duration": 800},
         "why": "DNS query 29 bytes, answer 45 bytes"},
        {"mode": "cic", "match": {"Protocol": "6", "Source Port": "40000"},
         "expect": {"Flow Duration": 10000, "Total Fwd Packets": 5, "Total Backward Packets": 3,
                    "Total Length of Fwd Packets": 120, "Total Length of Bwd Packets": 308},
         "why": "ends at the client's FIN; legacy lengths count Ethernet padding: SYN 2, "
                "each pure ACK/FIN 6 (fwd 2+6+100+6+6, bwd 2+6+300)"},
        {"mode": "cic", "match": {"Protocol": "6", "Source Port": "80"},
         "expect": {"Flow Duration": 500, "Total Fwd Packets": 1, "Total Backward Packets": 1},
         "why": "the server's FIN/ACK and the final ACK, after the first FIN ended the flow"},
        {"mode": "cic", "match": {"Protocol": "0"},
         "expect": {"Total Fwd Packets": 1, "Total Backward Packets": 1, "Source Port": "0"},
         "why": "ICMP is one protocol-0 flow per IP pair in cic"},
    ]

    for name, (linktype, pk) in linktype_captures().items():
        write_pcap(os.path.join(out, name), linktype, pk)
        v6 = "ipv6" in name
        fixtures[name] = expect(pk, (
            "SYN, SYN/ACK, 20 bytes of data: one TCP flow of 3 packets in both modes, with the "
            "same features whatever the link layer" + (
                "; IPv6 (hop-by-hop + destination options before TCP): cic skips all 3 "
                "packets, so 0 flows" if v6 else "")))

    pk = session_ns()
    write_pcapng_ns(os.path.join(out, "session-ns.pcapng"), LINKTYPE_ETHERNET, pk)
    fixtures["session-ns.pcapng"] = expect(pk, (
        "pcapng with if_tsresol=9: 3 UDP flows (2, 2 and 3 packets) whose stamps differ by "
        "sub-microsecond amounts; each stamp is rounded down to the microsecond on reading"))
    fixtures["session-ns.pcapng"]["durations_us"] = ns_expected_durations()

    pk = spoofed_syn()
    write_pcap(os.path.join(out, "spoofed-syn.pcap"), LINKTYPE_ETHERNET, pk)
    fixtures["spoofed-syn.pcap"] = expect(pk, (
        "500 SYNs, 500 distinct source addresses and ports, to one victim:80 in 49.9 ms, "
        "unanswered: 500 one-packet flows in fixed; cic suppresses all 500"))

    pk = truncated()
    write_pcap(os.path.join(out, "truncated.pcap"), LINKTYPE_ETHERNET, pk, cut_last_at=50)
    fixtures["truncated.pcap"] = expect(pk, (
        "4 good packets (2 UDP flows of 2), then a record cut after 50 of its 142 bytes: "
        "libpcap reports a truncated dump; the 2 flows read before are written, exit 2"),
        exit_code=2)

    with open(os.path.join(out, "not-a-capture.pcap"), "w") as f:
        f.write("This is a text file named like a capture.\n"
                "ddos-flows must refuse it with one line and exit 1.\n")
    fixtures["not-a-capture.pcap"] = {
        "exit": 1, "stderr": "not a pcap or pcapng capture",
        "why": "plain text: libpcap finds no pcap or pcapng magic"}

    manifest = {
        "description": "Labels for the crafted fixtures (format: ../../../shared/data/README.md). "
                       "Paths are relative to this file; the first matching rule wins.",
        "captures": [
            {"path": "session-eth.pcap", "label": "mixed",
             "rules": [{"proto": "udp", "port": 53, "label": "benign"},
                       {"ip": "10.0.0.0/24", "proto": "udp", "label": "udp_other"}]},
            {"path": "session-ns.pcapng", "label": "benign"},
            {"path": "spoofed-syn.pcap", "label": "syn_flood"},
            {"path": "linktypes-raw.pcap", "label": "benign",
             "rules": [{"ip": "192.168.1.20", "port": 9999, "label": "never"}]},
        ],
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    # Labels each manifest capture's flows must get, per mode: {label: flow count}.
    manifest_expect = {
        "comment": "session-eth: the DNS flow matches both rules, the first (port 53) wins; the "
                   "fragment flows match only the second; TCP and ICMP keep the capture label. "
                   "cic has no fragment flows (suppressed) and 2 TCP flows. linktypes-raw: the "
                   "rule needs port 9999 too, so it never matches.",
        "fixed": {"session-eth.pcap": {"benign": 1, "udp_other": 2, "mixed": 2},
                  "session-ns.pcapng": {"benign": 3},
                  "spoofed-syn.pcap": {"syn_flood": 500},
                  "linktypes-raw.pcap": {"benign": 1}},
        "cic": {"session-eth.pcap": {"benign": 1, "mixed": 3},
                "session-ns.pcapng": {"benign": 3},
                "spoofed-syn.pcap": {},
                "linktypes-raw.pcap": {"benign": 1}},
    }

    # Option variants: runs with non-default flow options, expected from the timeline of
    # session_eth() (TCP packets at 0, 1000, 1200, 2000, 3000, 4000, 4500, 10000, 11000,
    # 11500 us; client sends at 0, 1200, 2000, 4500, 10000, 11500) and from spoofed_syn().
    # tcp: sorted [fwd, bwd] packet counts of the TCP rows.
    variants = [
        {"capture": "session-eth.pcap", "mode": "fixed",
         "args": ["--active-timeout", "0.003", "--idle-timeout", "0.003"],
         "flows": 7, "tcp": [[1, 1], [2, 1], [3, 2]],
         "why": "3 ms timeouts are inside the documented (0, 4000] s: the session splits at "
                "4000 us (4000 - 0 > 3000) and at 10000 us into 0-3000 (c s c c s), 4000-4500 "
                "(s c: the server's data opens it) and 10000-11500 (c s c); DNS, ICMP and the "
                "fragments are shorter than 3 ms"},
        {"capture": "session-eth.pcap", "mode": "fixed", "args": ["--active-timeout", "30"],
         "flows": 5, "tcp": [[6, 4]],
         "why": "an active timeout of 30 s alone (idle keeps its default) changes nothing in an "
                "11.5 ms capture"},
        {"capture": "session-eth.pcap", "mode": "cic", "args": ["--active-timeout", "0.003"],
         "flows": 5, "tcp": [[1, 1], [2, 0], [3, 2]], "suppressed": 3,
         "why": "cic: 0-3000 (c s c c s); the continuation from 4000 keeps the client as "
                "forward and books its first packet forward (s c -> 2 fwd); 10000 starts a new "
                "flow that the server's FIN ends (2 packets); the final ACK is alone "
                "(suppressed, with the 2 fragments)"},
        {"capture": "session-eth.pcap", "mode": "cic", "args": ["--idle-timeout", "0.003"],
         "flows": 4, "tcp": [[1, 1], [4, 3]], "suppressed": 3,
         "why": "cic with an idle timeout (ddos-flows notes it changes cic's behaviour): the "
                "5.5 ms gap before the client's FIN ends the first flow (7 packets); the FIN "
                "starts a flow the server's FIN ends (2); the final ACK is alone"},
        {"capture": "spoofed-syn.pcap", "mode": "fixed", "args": ["--max-flows", "16"],
         "flows": 500, "ended": {"evicted": 484, "flush": 16},
         "why": "a 16-flow table: every SYN after the 16th evicts one flow, which is still "
                "written; the last 16 are flushed at the end"},
        {"capture": "spoofed-syn.pcap", "mode": "cic", "args": ["--max-flows", "16"],
         "flows": 0, "suppressed": 500, "ended": {"evicted": 484, "flush": 16},
         "why": "the same evictions in cic: all 500 one-packet flows are suppressed"},
    ]

    doc = {
        "variants": variants,
        "comment": "Expected results of ddos-flows on each capture, computed by make_fixtures.py "
                   "from how it built the packets (never from running the tool). packets: "
                   "records libpcap delivers; decode_ok: decodable IP packets; flows_fixed / "
                   "flows_cic: rows written by --compat fixed / cic; cic_flows_suppressed: cic "
                   "flows of 1 packet (not written); cic_packets_skipped: IPv6 packets cic "
                   "ignores; exit: ddos-flows exit status.",
        "captures": fixtures,
        "manifest": manifest_expect,
    }
    with open(os.path.join(out, "fixtures.json"), "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    print("wrote %d captures, fixtures.json and manifest.json to %s" % (len(fixtures), out))


if __name__ == "__main__":
    main()
