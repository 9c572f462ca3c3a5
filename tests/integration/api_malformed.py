"""api_malformed.py - fault injection: malformed HTTP must be refused, and must not flood the log
(issue 15, defect 8).

Runs ddosd (-r a small generated capture, --serve, --log-dir) and sends, over real sockets:

1. Requests libmicrohttpd 0.9.75 accepts unless told to be strict, each of which must be
   answered 400 (and the connection closed, so nothing after it is read as another request):
   two different Content-Length headers (the rest of the body would be a smuggled request),
   `Host : x` (a space before the colon: no Host header), `GET /health\\0/x` (a NUL in the
   request line: it would be served as /health), and Content-Length with Transfer-Encoding.
   A well-formed request on the same server still gets 200.
2. 5,000 malformed requests, one per connection, of the kinds libmicrohttpd writes a warning
   for (no Host header; a request cut off by the client), then error.log's growth must stay
   under 16 KiB (each warning is about 240 bytes: unlimited, 5,000 add about 1.2 MB), the
   count of suppressed lines is in /metrics, and after SIGTERM error.log says how many were
   suppressed.

usage: api_malformed.py --ddosd PATH --trafgen PATH [--requests N]
"""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, Checker, Env, common_args, curl, free_port,  # noqa: E402
                        need_binary)

LOG_GROWTH_MAX = 16 * 1024


def exchange(port, raw, timeout=3.0):
    """Sends raw on a fresh connection; returns (status line, bytes after the first response
    header block) and whether the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw)
    data, closed = b"", False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return data.split(b"\r\n", 1)[0].decode("latin-1"), data, closed


def main():
    ap = common_args()
    ap.add_argument("--requests", type=int, default=5000)
    a = ap.parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    env = Env("api-malformed")
    t = Checker()

    pcap, _ = env.make_capture(trafgen, scenario="benign", seed=3, duration=3, clients=20)
    port = free_port()
    logdir = env.path("logs")
    os.mkdir(logdir)
    cfg = env.write("config.json", json.dumps({"sensor": {"id": "itest-malformed"}}))
    ddosd_p = env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--serve", "--redis", "none",
                                      "--api", f"127.0.0.1:{port}", "--log-dir", logdir],
                              env_extra={"SECRET_KEY": SECRET_KEY})

    # ---- 1. strict parsing -------------------------------------------------------------------
    smuggled = b"GET /api/verdicts HTTP/1.1\r\nHost: x\r\n\r\n"
    cases = [
        ("two different Content-Length headers",
         b"POST /api/report-attack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
         + SECRET_KEY.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
         b"Content-Length: " + str(2 + len(smuggled)).encode() + b"\r\n\r\n{}" + smuggled),
        ("'Host : x' (a space before the colon)",
         b"GET /health HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n"),
        ("a NUL in the request line (GET /health\\0/x)",
         b"GET /health\x00/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("Content-Length and Transfer-Encoding together",
         b"POST /api/report-attack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
         + SECRET_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    ]
    for name, raw in cases:
        status, data, closed = exchange(port, raw)
        # No second request may be served: nothing but 400s. (libmicrohttpd 0.9.75 writes the
        # head of its own error responses twice, the one for a missing Host among them; that
        # is its bug, and still one 400.)
        served = data.count(b"HTTP/1.1 2")
        t.check(f"{name}: 400, nothing served, connection closed (got {status!r}, {served} "
                f"served, closed {closed})",
                status.startswith("HTTP/1.1 400") and served == 0 and closed, repr(data[:300]))
    status, _, _ = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    t.check(f"a well-formed request still gets 200 (got {status!r})", "200" in status)

    # ---- 2. a flood of malformed requests ----------------------------------------------------
    err_log = os.path.join(logdir, "error.log")
    before = os.path.getsize(err_log) if os.path.exists(err_log) else 0
    sent = 0
    for i in range(a.requests):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            if i % 2:
                s.sendall(b"GET /health HTTP/1.1\r\n\r\n")  # no Host: 400 and a warning
                try:
                    s.recv(4096)
                except OSError:
                    pass
            else:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Cut: ")  # cut off
            s.close()
            sent += 1
        except OSError:
            pass
    ok = curl(f"http://127.0.0.1:{port}/health").code == 200
    t.check(f"ddosd answers after {sent} malformed requests", ok and sent == a.requests)
    metrics = curl(f"http://127.0.0.1:{port}/metrics").body
    suppressed = 0
    for line in metrics.splitlines():
        if line.startswith("ddosd_api_log_lines_suppressed_total "):
            suppressed = int(line.split()[1])
    grown = os.path.getsize(err_log) - before
    print(f"error.log grew {grown} bytes for {sent} malformed requests; {suppressed} libmicrohttpd "
          f"lines suppressed", flush=True)
    t.check(f"error.log grew at most {LOG_GROWTH_MAX} bytes (got {grown})",
            grown <= LOG_GROWTH_MAX)
    t.check(f"/metrics counts the suppressed lines ({suppressed})", suppressed >= sent // 2)
    rc = env.stop(ddosd_p, wait=15)
    t.check(f"ddosd exits 0 on SIGTERM (got {rc})", rc == 0, env.log_tail(ddosd_p))
    with open(err_log, errors="replace") as f:
        tail = f.read()[before:]
    t.check("error.log says how many libmicrohttpd messages were suppressed",
            "suppressed" in tail, tail[-500:])
    t.finish()


if __name__ == "__main__":
    main()
