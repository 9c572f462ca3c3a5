"""api_slow_clients.py - slow clients must not starve the API (slowloris, slow POST bodies).

Runs ddosd (-r a small generated capture, --serve), then opens 200 connections that send a
request a byte at a time: 100 send request headers that never end (slowloris), 100 send a POST
with a 4 KiB Content-Length and trickle the body. Each sends one byte every 0.5 s, which keeps
it under any inactivity timeout. Meanwhile GET /health is timed over a fresh connection every
0.25 s (connect to last byte); every sample must finish within 100 ms. (api.timeout is set to 30 s:
it is a deadline per request, and this test is about slow connections that are still open.) Checks at the end: the
slow connections were really open (most of them still connected after the probes, or closed by
the server with a 408/413-style answer, never by a crash), ddosd still answers, and it exits 0.

usage: api_slow_clients.py --ddosd PATH --trafgen PATH [--clients N] [--seconds S]
"""

import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, Checker, Env, common_args, curl, need_binary,  # noqa: E402
                        free_port)

LIMIT_MS = 100.0


def timed_health(port):
    """Milliseconds from connect to the complete /health response; None on failure."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None, b""
    return (time.perf_counter() - t0) * 1000.0, data


def main():
    ap = common_args()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    env = Env("api-slow")
    t = Checker()

    pcap, _ = env.make_capture(trafgen, scenario="benign", seed=3, duration=3, clients=20)
    port = free_port()
    # api.timeout is a deadline for each request (api_slowloris.py tests it): 30 s keeps it out of
    # this test, which checks that the slow connections held open do not starve /health.
    cfg = env.write("config.json", json.dumps({"sensor": {"id": "itest-slow"},
                                               "api": {"timeout": 30}}))
    ddosd_p = env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--serve", "--redis", "none",
                                      "--api", f"127.0.0.1:{port}"],
                              env_extra={"SECRET_KEY": SECRET_KEY})

    base_ms, _ = timed_health(port)
    print(f"/health before the slow clients: {base_ms:.1f} ms", flush=True)

    # Open every slow connection first, then trickle from one thread (select-free: each send
    # is one byte into an empty socket buffer, which never blocks).
    socks = []
    for i in range(a.clients):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if i % 2 == 0:
            payload = (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
                       + b"X-Filler: " + b"a" * 4096)
        else:
            payload = (b"POST /api/report-attack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Authorization: Bearer " + SECRET_KEY.encode() + b"\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
                       + b" " * 4096)
        socks.append([s, payload, 0, None])  # socket, bytes, sent, closed-reason
    t.check(f"{a.clients} slow connections accepted", len(socks) == a.clients)

    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for entry in socks:
                s, payload, sent, closed = entry
                if closed or sent >= len(payload):
                    continue
                try:
                    s.send(payload[sent:sent + 1])
                    entry[2] += 1
                except OSError as e:
                    entry[3] = f"send: {e}"
            stop.wait(0.5)

    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    time.sleep(1.0)  # every connection has sent its first bytes

    samples, failures = [], 0
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline:
        ms, data = timed_health(port)
        if ms is None or not data.startswith(b"HTTP/1.1 200"):
            failures += 1
        else:
            samples.append(ms)
        time.sleep(0.25)
    stop.set()
    th.join()

    samples.sort()
    worst = samples[-1] if samples else float("inf")
    median = samples[len(samples) // 2] if samples else float("inf")
    print(f"/health under {a.clients} slow clients: {len(samples)} samples, median "
          f"{median:.1f} ms, worst {worst:.1f} ms", flush=True)
    t.check("every /health probe answered 200", failures == 0 and len(samples) >= 10,
            f"{failures} failed of {len(samples) + failures}")
    t.check(f"every /health probe within {LIMIT_MS:.0f} ms (worst {worst:.1f} ms)",
            worst <= LIMIT_MS, f"samples: {[round(x, 1) for x in samples[-5:]]}")

    # The slow connections were really held open by ddosd during the probes.
    alive = 0
    for s, payload, sent, closed in socks:
        if closed:
            continue
        try:
            s.setblocking(False)
            data = s.recv(1, socket.MSG_PEEK)
            alive += 0 if data == b"" else 1  # b"": closed by the server; data: it answered
        except BlockingIOError:
            alive += 1  # still open, nothing to read: waiting for the rest of our request
        except OSError:
            pass
    print(f"slow connections still open or answered: {alive}/{a.clients}", flush=True)
    t.check("the slow connections stayed open during the probes (not refused at once)",
            alive >= a.clients // 2, f"{alive}/{a.clients}")
    for s, *_ in socks:
        s.close()

    r = curl(f"http://127.0.0.1:{port}/health")
    t.check("ddosd still answers after the slow clients left", r.code == 200, repr(r))
    rc = env.stop(ddosd_p, wait=15)
    t.check(f"ddosd exits 0 on SIGTERM (got {rc})", rc == 0, env.log_tail(ddosd_p))
    t.finish()


if __name__ == "__main__":
    main()
