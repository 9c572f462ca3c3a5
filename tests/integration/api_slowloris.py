"""api_slowloris.py - fault injection: a slowloris and connection exhaustion from several
addresses must not lock the gateway out of the API (issue 15, defect 2).

Runs ddosd (-r a small generated capture, --serve) with api.timeout 3 s and the gateway's address
in api.reserved_cidrs (127.0.1.0/24 here; 127.0.0.1 is reserved by default), every other limit at
its default (api.max_connections 1024, api.reserved_connections 64, api.per_address_connections
64). Then, from real sockets bound to loopback addresses the kernel routes to ddosd:

1. Deadline: one connection from 127.0.0.2 sends a request head one header line every 1 s (which
   keeps any idle timeout from firing). It must be closed by ddosd within api.timeout + 1.5 s
   (libmicrohttpd's idle timeout alone keeps it open for as long as it trickles).
2. Exhaustion: attackers from 127.0.0.10 .. 127.0.0.29 (20 addresses) each keep up to 100
   connections open (2,000 wanted, more than api.max_connections): half of them trickle a header
   line every 1 s (slowloris), half sit idle after connecting; every connection the server closes
   is reopened at once, for the whole run. Meanwhile, every 0.1 s, /health and /api/check are
   asked over fresh connections from the gateway (127.0.1.1) and /health from 127.0.0.1; every
   answer must be complete (connect to last byte) within 100 ms, and none may fail.
3. The counters say what happened: ddosd_api_connections_refused_total with reason per_address
   (100 wanted per address, 64 allowed) and shared_full (20 x 64 > the 960 shared slots), and
   ddosd_api_connections_deadline_closed_total, are all above 0; after the attack the shared
   pool's open count returns to 0 and every attacking address is served again (the per-address
   counts balance).

Against a ddosd without the guard (an idle timeout, one global limit) step 1 fails (the trickler
stays open) and step 2 fails (the attackers take every slot, the gateway's probes time out).

usage: api_slowloris.py --ddosd PATH --trafgen PATH [--seconds S] [--gateway ADDR]
  --gateway 127.0.0.1 probes from loopback only and sets no api.reserved_cidrs (a config a ddosd
  without that key accepts: how the test is shown to fail against the build before the fix).
"""

import json
import os
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, Checker, Env, common_args, curl, free_port,  # noqa: E402
                        need_binary)

LIMIT_MS = 100.0
TIMEOUT_S = 3.0
ATTACKERS = [f"127.0.0.{i}" for i in range(10, 30)]
PER_ATTACKER = 100


def timed_get(port, src, path):
    """(milliseconds from connect to the complete response, status line) from src; (None, why)
    on failure."""
    t0 = time.perf_counter()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Real-IP: 192.0.2.7\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError as e:
        return None, f"{src} {path}: {e}"
    return (time.perf_counter() - t0) * 1000.0, data.split(b"\r\n", 1)[0].decode("latin-1")


class Attack:
    """Keeps up to PER_ATTACKER connections open from each attacker address: even slots trickle
    a header line every second, odd ones stay idle; a closed or refused one is reopened."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.opened = 0
        self.closed_by_server = 0
        self.slots = [(a, i) for a in ATTACKERS for i in range(PER_ATTACKER)]
        self.socks = {}  # slot -> socket
        self.started = set()  # slots whose request line went out

    def _open(self, slot):
        src, i = slot
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        try:
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return
        self.started.discard(slot)
        self.socks[slot] = s
        self.sel.register(s, selectors.EVENT_READ, slot)
        self.opened += 1

    def _drop(self, slot):
        s = self.socks.pop(slot, None)
        if s is None:
            return
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()

    def run(self):
        for slot in self.slots:
            self._open(slot)
        next_trickle = next_reopen = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.05):
                slot = key.data
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # closed (or refused after accept) by ddosd
                    self.closed_by_server += 1
                    self._drop(slot)
            now = time.monotonic()
            if now >= next_trickle:
                next_trickle = now + 1.0
                for slot, s in list(self.socks.items()):
                    if slot[1] % 2:
                        continue
                    try:
                        if slot in self.started:
                            s.send(b"X-Slow: 1\r\n")
                        else:
                            s.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                            self.started.add(slot)
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self.closed_by_server += 1
                        self._drop(slot)
            if now >= next_reopen:  # reopen what was closed, 5 times a second
                next_reopen = now + 0.2
                for slot in self.slots:
                    if slot not in self.socks:
                        self._open(slot)
        for slot in list(self.socks):
            self._drop(slot)


def metric(port, name):
    r = curl(f"http://127.0.0.1:{port}/metrics", timeout=5)
    total = 0
    for line in r.body.splitlines():
        if line.startswith(name):
            try:
                total += int(float(line.rsplit(" ", 1)[1]))
            except ValueError:
                pass
    return total


def main():
    ap = common_args()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--gateway", default="127.0.1.1")
    a = ap.parse_args()
    gateway = a.gateway
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = len(ATTACKERS) * PER_ATTACKER + 512
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    env = Env("api-slowloris")
    t = Checker()

    pcap, _ = env.make_capture(trafgen, scenario="benign", seed=3, duration=3, clients=20)
    port = free_port()
    api = {"timeout": TIMEOUT_S}
    if gateway != "127.0.0.1":
        api["reserved_cidrs"] = [gateway + "/32"]
    cfg = env.write("config.json", json.dumps({"sensor": {"id": "itest-slowloris"}, "api": api}))
    ddosd_p = env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--serve", "--redis", "none",
                                      "--api", f"127.0.0.1:{port}"],
                              env_extra={"SECRET_KEY": SECRET_KEY})

    # ---- 1. the deadline -----------------------------------------------------------------
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(1.0)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    t0 = time.monotonic()
    closed_after = None
    while time.monotonic() - t0 < TIMEOUT_S + 8:
        try:
            if not s.recv(4096):  # end of file: ddosd closed it
                closed_after = time.monotonic() - t0
                break
        except socket.timeout:  # a second without an answer: the next header line
            try:
                s.send(b"X-Trickle: 1\r\n")
            except OSError:
                closed_after = time.monotonic() - t0
                break
        except OSError:
            closed_after = time.monotonic() - t0
            break
    s.close()
    print(f"trickling connection closed after "
          f"{'never' if closed_after is None else f'{closed_after:.2f} s'}", flush=True)
    t.check(f"a request head trickled one line a second is cut at api.timeout ({TIMEOUT_S:.0f} s)"
            f" + 1.5 s", closed_after is not None and closed_after <= TIMEOUT_S + 1.5,
            f"closed after {closed_after}")

    # ---- 2. exhaustion from 20 addresses, slowloris and idle ----------------------------------
    atk = Attack(port)
    th = threading.Thread(target=atk.run, daemon=True)
    th.start()
    time.sleep(1.5)  # every slot opened and sending
    samples, failures = [], []
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline:
        for src, path in ((gateway, "/health"), (gateway, "/api/check"), ("127.0.0.1", "/health")):
            ms, status = timed_get(port, src, path)
            ok_status = "200" if path == "/health" else "204"
            if ms is None or ok_status not in status:
                failures.append(status)
            else:
                samples.append((ms, src, path))
        time.sleep(0.1)
    atk.stop.set()
    th.join(timeout=10)

    print(f"attack: {atk.opened} connections opened from {len(ATTACKERS)} addresses, "
          f"{atk.closed_by_server} closed or refused by ddosd", flush=True)
    samples.sort()
    worst = samples[-1] if samples else (float("inf"), "-", "-")
    median = samples[len(samples) // 2][0] if samples else float("inf")
    print(f"gateway probes: {len(samples)} answered, {len(failures)} failed, median "
          f"{median:.1f} ms, worst {worst[0]:.1f} ms ({worst[1]} {worst[2]})", flush=True)
    t.check("the attack asked for more connections than api.max_connections",
            len(ATTACKERS) * PER_ATTACKER > 1024 and atk.opened > 1024, f"opened {atk.opened}")
    t.check("every /health and /api/check probe from the gateway and loopback answered",
            not failures and len(samples) >= 30, f"{len(failures)} failed: {failures[:5]}")
    t.check(f"every probe within {LIMIT_MS:.0f} ms (worst {worst[0]:.1f} ms)",
            worst[0] <= LIMIT_MS, f"slowest: {[(round(x[0], 1), x[1], x[2]) for x in samples[-5:]]}")

    # ---- 3. counters ---------------------------------------------------------------------------
    per_addr = metric(port, 'ddosd_api_connections_refused_total{reason="per_address"}')
    full = metric(port, 'ddosd_api_connections_refused_total{reason="shared_full"}')
    reaped = metric(port, "ddosd_api_connections_deadline_closed_total")
    print(f"ddosd: {per_addr} connections refused per address, {full} for a full shared pool, "
          f"{reaped} closed at their deadline", flush=True)
    t.check("ddosd refused connections over api.per_address_connections", per_addr > 0,
            str(per_addr))
    t.check("ddosd refused connections over the shared pool", full > 0, str(full))
    t.check("ddosd closed trickling connections at their deadline", reaped > 0, str(reaped))
    t.check("ddosd still answers after the attack",
            curl(f"http://127.0.0.1:{port}/health").code == 200)
    # The books balance once the attackers are gone: no shared slot stays counted, and every
    # attacking address may connect again (a leaked per-address count would refuse it forever).
    deadline = time.monotonic() + TIMEOUT_S + 2
    shared = -1
    while time.monotonic() < deadline:
        shared = metric(port, 'ddosd_api_connections_open{pool="shared"}')
        if shared == 0:
            break
        time.sleep(0.2)
    t.check(f"no shared connection slot stays counted after the attack (open: {shared})",
            shared == 0)
    served = [src for src in ATTACKERS if "200" in (timed_get(port, src, "/health")[1] or "")]
    t.check(f"every attacking address is served again afterwards ({len(served)}/"
            f"{len(ATTACKERS)})", len(served) == len(ATTACKERS))
    rc = env.stop(ddosd_p, wait=15)
    t.check(f"ddosd exits 0 on SIGTERM (got {rc})", rc == 0, env.log_tail(ddosd_p))
    t.finish()


if __name__ == "__main__":
    main()
