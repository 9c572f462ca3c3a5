#!/usr/bin/python3
"""packaging_notify.py - ddosd's contract with systemd's Type=notify, without systemd.

Plays the service manager: binds an AF_UNIX datagram socket, starts ddosd with NOTIFY_SOCKET
pointing at it and WATCHDOG_USEC=200000 (ddosd should then ping every 100 ms), and checks:
  1. READY=1 arrives (capture and API up) while ddosd is running;
  2. WATCHDOG=1 arrives repeatedly after READY=1 (at least 3 within 2 s);
  3. SIGTERM brings STOPPING=1, and ddosd exits with status 0 within 5 s.

Stdlib only; run with /usr/bin/python3. Needs ddosd built: fails (does not skip) when it is
missing. Leaves no process behind (the daemon is killed on any failure).

usage: packaging_notify.py --daemon PATH --capture PCAP [--model FILE]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Notifications:
    """Datagrams received on the notify socket, split into KEY=VALUE lines, with arrival times."""

    def __init__(self, sock):
        self.sock = sock
        self.events = []  # (monotonic time, "KEY=VALUE")

    def poll(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return
        now = time.monotonic()
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                self.events.append((now, line))

    def wait_for(self, line, deadline, proc, what):
        """Waits until line has arrived (returns its time) or fails at deadline or on exit."""
        while True:
            for t, got in self.events:
                if got == line:
                    return t
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{what}: no {line} within the time limit; received: {self.lines()}")
            if proc is not None and proc.poll() is not None:
                # Drain what was sent before the exit, then decide.
                self.poll(0.2)
                if any(got == line for _, got in self.events):
                    continue
                fail(f"{what}: ddosd exited with status {proc.returncode} before {line}; "
                     f"received: {self.lines()}")
            self.poll(min(left, 0.2))

    def count(self, line, after):
        return sum(1 for t, got in self.events if got == line and t >= after)

    def lines(self):
        return [got for _, got in self.events] or "(nothing)"


PROC = None
TMP = None


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    if TMP:
        for name in ("ddosd.out", "logs/error.log", "logs/app.log"):
            path = os.path.join(TMP, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    tail = f.read()[-3000:]
                print(f"--- {name}\n{tail}", file=sys.stderr)
    sys.exit(1)


def main():
    global PROC, TMP
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--capture", required=True)
    ap.add_argument("--model")
    a = ap.parse_args()
    if not os.access(a.daemon, os.X_OK):
        fail(f"ddosd is not built: {a.daemon} (cmake --build BUILD --target ddosd)")

    TMP = tempfile.mkdtemp(prefix="ddosd-pkg-notify.")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock_path = os.path.join(TMP, "notify.sock")
    sock.bind(sock_path)
    note = Notifications(sock)
    os.mkdir(os.path.join(TMP, "logs"))

    env = dict(os.environ)
    env.update(NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="200000",
               SECRET_KEY="packaging-test-secret-0123456789abcdef")
    env.pop("WATCHDOG_PID", None)  # unset: the watchdog request is for whoever we start
    a.capture = os.path.abspath(a.capture)
    cmd = [a.daemon, "--api", f"127.0.0.1:{free_port()}", "--redis", "none",
           "-r", a.capture, "--serve", "--log-dir", os.path.join(TMP, "logs")]
    if a.model:
        cmd += ["--model", os.path.abspath(a.model)]
    print("starting:", " ".join(cmd))
    out = open(os.path.join(TMP, "ddosd.out"), "w")
    PROC = subprocess.Popen(cmd, cwd=TMP, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT)
    started = time.monotonic()

    ready = note.wait_for("READY=1", started + 30, PROC, "start-up")
    print(f"ok: READY=1 after {ready - started:.2f} s")
    if PROC.poll() is not None:
        fail(f"ddosd exited with status {PROC.returncode} right after READY=1")

    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and note.count("WATCHDOG=1", ready) < 3:
        note.poll(0.1)
    pings = note.count("WATCHDOG=1", ready)
    if pings < 3:
        fail(f"{pings} WATCHDOG=1 within 2 s of READY=1 with WATCHDOG_USEC=200000 (want >= 3; "
             f"expected one every 100 ms); received: {note.lines()}")
    print(f"ok: {pings} WATCHDOG=1 within 2 s of READY=1")

    term = time.monotonic()
    PROC.send_signal(signal.SIGTERM)
    stopping = note.wait_for("STOPPING=1", term + 5, None, "SIGTERM")
    print(f"ok: STOPPING=1 {stopping - term:.2f} s after SIGTERM")
    try:
        rc = PROC.wait(timeout=max(0.1, term + 5 - time.monotonic()))
    except subprocess.TimeoutExpired:
        fail("ddosd still running 5 s after SIGTERM")
    if rc != 0:
        fail(f"ddosd exited with status {rc} after SIGTERM, want 0")
    print(f"ok: exit status 0, {time.monotonic() - term:.2f} s after SIGTERM")
    print("PASS packaging_notify")


if __name__ == "__main__":
    try:
        main()
    finally:
        if PROC is not None and PROC.poll() is None:
            PROC.kill()
            PROC.wait()
        if TMP:
            shutil.rmtree(TMP, ignore_errors=True)
