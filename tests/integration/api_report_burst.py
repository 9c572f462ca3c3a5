"""api_report_burst.py - reports are never lost: 6,000 critical reports pipelined over real HTTP
to a running ddosd, then traffic from every reported address that the model judges low.

ddosd replays, in real time and with --serve, a capture this test writes: one packet at t=0,
then a quiet GAP, then ordinary HTTPS-like TCP connections (handshake, request, response,
close) from each of the N reported addresses to 200 servers, spread over SPREAD seconds. During
the quiet gap the test opens CONNS keep-alive connections and writes N/CONNS report requests on
each without waiting (pipelining), then reads every answer. Every answer must be 200
"recorded", or 503 with a Retry-After header (the report queue was full; nothing recorded).
Every recorded address must then read critical in /api/threat-analysis and 403 in /api/check:
right after the burst, after the traffic has been judged (its flows reached the verdicts), and
again near the end of the report's TTL. Before the fix, reports that overflowed the stage's
queue were answered 200 and dropped, and the traffic's low verdicts replaced them in the API's
store (critical -> low, /api/check 204).

usage: api_report_burst.py --ddosd PATH --trafgen PATH
"""

import http.client
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, Checker, Env, common_args, free_port,  # noqa: E402
                        need_binary)

N = 6000        # reports (one address each)
CONNS = 6       # pipelined connections
TTL = 60        # s: cache.ttl, the reports' TTL
GAP = 20        # s of capture time with no packet: the burst happens there
SPREAD = 10     # s over which the reported addresses' connections are spread
SERVERS = 200


def addr(i):
    return f"10.61.{i // 250}.{i % 250 + 1}"


# ---- a pcap of ordinary TCP connections ---------------------------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(src, dst, sport, dport, seq, ack, flags, payload=b""):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    tcs = csum(s + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", tcs) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp


def write_capture(path):
    """One packet at t=0, then N connections starting at GAP, spread over SPREAD seconds."""
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    recs = [(0.0, packet("192.0.2.250", "192.0.2.251", 5000, 53, 1, 0, SYN))]
    for i in range(N):
        c, srv = addr(i), f"192.0.2.{i % SERVERS + 1}"
        sport, t = 20000 + i % 40000, GAP + SPREAD * i / N
        a, b = 1000, 5000
        req, resp = b"G" * 180, b"R" * 900
        recs += [
            (t, packet(c, srv, sport, 443, a, 0, SYN)),
            (t + 0.010, packet(srv, c, 443, sport, b, a + 1, SYN | ACK)),
            (t + 0.020, packet(c, srv, sport, 443, a + 1, b + 1, ACK)),
            (t + 0.021, packet(c, srv, sport, 443, a + 1, b + 1, PSH | ACK, req)),
            (t + 0.060, packet(srv, c, 443, sport, b + 1, a + 181, PSH | ACK, resp)),
            (t + 0.080, packet(c, srv, sport, 443, a + 181, b + 901, FIN | ACK)),
            (t + 0.090, packet(srv, c, 443, sport, b + 901, a + 182, FIN | ACK)),
            (t + 0.100, packet(c, srv, sport, 443, a + 182, b + 902, ACK)),
        ]
    recs.sort(key=lambda r: r[0])
    base = int(time.time()) - 3600
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, data in recs:
            sec = base + int(ts)
            usec = int(round((ts - int(ts)) * 1e6)) % 1000000
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)


# ---- pipelined reports --------------------------------------------------------------------------

def read_response(f):
    """Reads one HTTP/1.1 response from a buffered socket file: (status, headers, body)."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return status, headers, body


def pipeline(port, ips):
    """Writes one report request per ip on one connection without waiting, then reads every
    answer in order. Returns [(ip, status, headers, body)]."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    out = bytearray()
    for ip in ips:
        body = json.dumps({"ip": ip, "threat_level": "critical", "attack_type": "http_flood",
                           "source": "itest-burst"}).encode()
        out += (f"POST /api/report-attack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {SECRET_KEY}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return s, bytes(out)


def burst(port):
    """Sends the N reports over CONNS pipelined connections; returns {ip: (status, hdrs, body)}."""
    import threading
    per = [[addr(i) for i in range(k, N, CONNS)] for k in range(CONNS)]
    results = {}
    lock = threading.Lock()

    def one(ips):
        s, data = pipeline(port, ips)
        writer = threading.Thread(target=s.sendall, args=(data,))
        writer.start()
        f = s.makefile("rb")
        got = {}
        for ip in ips:
            r = read_response(f)
            if r is None:
                break
            got[ip] = r
        writer.join()
        s.close()
        with lock:
            results.update(got)
    threads = [threading.Thread(target=one, args=(ips,)) for ips in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def check_all(port, ips, deadline=None):
    """(addresses not critical in /api/threat-analysis, addresses not 403 in /api/check,
    how many verdicts hold flows, addresses left unchecked at the deadline): CONNS keep-alive
    connections in parallel."""
    import threading
    not_critical, not_denied, left = [], [], []
    with_flows = [0]
    lock = threading.Lock()

    def one(part):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        nc, nd, lf, wf = [], [], [], 0
        for ip in part:
            if deadline is not None and time.monotonic() > deadline:
                lf.append(ip)
                continue
            c.request("GET", f"/api/threat-analysis?ip={ip}")
            r = c.getresponse()
            d = json.loads(r.read() or b"{}")
            if d.get("threat_level") != "critical":
                nc.append((ip, d.get("threat_level"), d.get("reasons")))
            if (d.get("flows_total") or 0) > 0:
                wf += 1
            c.request("GET", "/api/check", headers={"X-Real-IP": ip})
            r = c.getresponse()
            r.read()
            if r.status != 403:
                nd.append((ip, r.status))
        c.close()
        with lock:
            not_critical.extend(nc)
            not_denied.extend(nd)
            left.extend(lf)
            with_flows[0] += wf
    threads = [threading.Thread(target=one, args=(ips[k::CONNS],)) for k in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return not_critical, not_denied, with_flows[0], left


def main():
    a = common_args().parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    env = Env("api-report-burst")
    t = Checker()
    pcap = env.path("burst.pcap")
    write_capture(pcap)
    port = free_port()
    cfg = env.write("config.json", json.dumps({"sensor": {"id": "itest-burst"},
                                               "cache": {"ttl": TTL}}))
    env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--realtime", "--serve", "--redis", "none",
                            "--api", f"127.0.0.1:{port}"], env_extra={"SECRET_KEY": SECRET_KEY})
    t_start = time.monotonic()

    t0 = time.monotonic()
    res = burst(port)
    took = time.monotonic() - t0
    recorded = [ip for ip, (st, h, b) in res.items()
                if st == 200 and json.loads(b or b"{}").get("status") == "recorded"]
    refused = [ip for ip, (st, h, b) in res.items() if st == 503]
    refused_ok = [ip for ip in refused if res[ip][1].get("retry-after", "").isdigit()]
    other = [(ip, st) for ip, (st, h, b) in res.items() if st not in (200, 503)]
    print(f"burst: {len(res)} answers in {took:.1f} s: {len(recorded)} recorded, "
          f"{len(refused)} refused (503)", flush=True)
    t.check(f"all {N} reports answered", len(res) == N, f"{len(res)} answers")
    t.check("every answer is 200 recorded or 503", not other, repr(other[:5]))
    t.check("every 503 carries Retry-After", len(refused_ok) == len(refused),
            repr([res[ip][1] for ip in refused[:3]]))
    t.check("most reports are recorded (the queue keeps up)", len(recorded) >= N * 0.9,
            f"{len(recorded)} of {N}")
    t.check("the burst ended inside the capture's quiet gap",
            time.monotonic() - t_start < GAP - 2, f"{time.monotonic() - t_start:.1f} s")

    nc, nd, _, _ = check_all(port, recorded)
    t.check("right after the burst: every recorded address is critical", not nc, repr(nc[:5]))
    t.check("right after the burst: /api/check answers 403 for every recorded address", not nd,
            repr(nd[:5]))

    # The traffic of the reported addresses plays and is judged (low: ordinary connections).
    time.sleep(max(0.0, t_start + GAP + SPREAD + 6 - time.monotonic()))
    nc, nd, flows, _ = check_all(port, recorded)
    t.check(f"the traffic reached the verdicts ({flows} of {len(recorded)} hold flows)",
            flows >= len(recorded) * 0.9, f"{flows}")
    t.check("after the traffic: every recorded address is still critical", not nc, repr(nc[:5]))
    t.check("after the traffic: /api/check still 403 for every recorded address", not nd,
            repr(nd[:5]))

    # Near the end of the reports' TTL (counted from the end of the burst), every address
    # checked before the first report's TTL can have run out (a slow machine checks fewer).
    time.sleep(max(0.0, t0 + took + TTL - 15 - time.monotonic()))
    nc, nd, _, left = check_all(port, recorded, deadline=t0 + TTL - 1)
    t.check(f"{TTL - 15} s after the burst: every recorded address is still critical", not nc,
            repr(nc[:5]))
    t.check(f"{TTL - 15} s after the burst: /api/check still 403", not nd, repr(nd[:5]))
    t.check("... and that was checked for most of them before their TTL could end",
            len(left) <= len(recorded) // 10, f"{len(left)} left unchecked")

    # A report holds for its TTL, not longer: once it ended, what the traffic said (low) shows.
    time.sleep(max(0.0, t0 + took + TTL + 3 - time.monotonic()))
    sample = recorded[::30]
    nc, nd, _, _ = check_all(port, sample)
    t.check(f"after the reports' TTL their addresses fall back to the traffic's verdict "
            f"({len(nc)} of {len(sample)} sampled)", len(nc) == len(sample),
            f"still critical: {len(sample) - len(nc)}")
    t.finish()


if __name__ == "__main__":
    main()
