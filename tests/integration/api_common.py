"""api_common.py - shared scaffolding of the REST API integration tests (api_*.py here).

Starts real servers on free loopback ports and stops every one of them, whatever happens:
redis-server (no persistence, a temporary directory), ddosd (-r CAPTURE --serve), nginx (a
temporary prefix and config) and helper daemons. Each process runs in its own session, and the
cleanup (atexit, plus SIGTERM/SIGINT/SIGHUP handlers: ctest's timeout sends SIGTERM) kills exactly
those process groups, by id, then removes the temporary directory.

HTTP requests go through curl (a real client with its own parser), one process per request:
    r = curl(url, "-X", "POST", ...)  ->  r.code, r.headers (lower-case names), r.body, r.json()

A missing ddosd binary is a failure (exit 1), never a skip: these tests exist to exercise it.
Checks are counted by Checker; the test prints "N passed, M failed" and exits 1 on any failure.
Standard library only; run with /usr/bin/python3.
"""

import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

PY = "/usr/bin/python3"
SECRET_KEY = "itest-secret-key-0123456789abcdef"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO_MODEL = os.path.join(REPO, "models", "ddosd-model.msgpack")


def die(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def need_binary(path, what):
    """Exits 1 (a failure, not a skip) when path is not an executable file."""
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        die(f"{what} is missing or not executable: {path!r} (build it first)")
    return os.path.abspath(path)


def which(name, extra=("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
    found = shutil.which(name)
    if found:
        return found
    for d in extra:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def free_port():
    """A TCP port free on 127.0.0.1 now (the caller binds it soon after; retried on conflict)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)


class Reply:
    def __init__(self, code, headers, body, raw_headers):
        self.code = code
        self.headers = headers
        self.body = body
        self.raw_headers = raw_headers

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return f"<{self.code} {self.body[:300]!r}>"


def curl(url, *args, timeout=10):
    """Runs curl once; returns a Reply (code 0 when curl could not connect or timed out)."""
    with tempfile.TemporaryDirectory(prefix="ddosd-curl-") as d:
        hdr, body = os.path.join(d, "h"), os.path.join(d, "b")
        cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", body, "-D", hdr,
               "-w", "%{http_code}", *args, url]
        p = subprocess.run(cmd, capture_output=True, text=True)
        code = int(p.stdout.strip() or 0) if p.stdout.strip().isdigit() else 0
        raw = open(hdr, encoding="latin-1", newline="").read() if os.path.exists(hdr) else ""
        data = open(body, "rb").read().decode("utf-8", "replace") if os.path.exists(body) else ""
    # Keep the last response's headers (curl writes every response's when it follows).
    blocks = [b for b in raw.split("\r\n\r\n") if b.strip()]
    headers = {}
    for line in (blocks[-1].split("\r\n")[1:] if blocks else []):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return Reply(code, headers, data, raw)


class Env:
    """Owns a temporary directory and every process started through it."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix=f"ddosd-{name}-")
        self.procs = []  # (name, Popen)
        self._cleaned = False
        atexit.register(self.cleanup)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        print(f"caught signal {signum}; cleaning up", flush=True)
        self.cleanup()
        os._exit(128 + signum)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write(self, name, text, mode=None):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def spawn(self, name, cmd, env=None, cwd=None, log=None):
        """Starts cmd in its own session (so its children can be killed with it)."""
        log = log or self.path(f"{name}.log")
        out = open(log, "ab")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd, start_new_session=True)
        out.close()
        p.log_path = log
        self.procs.append((name, p))
        return p

    def log_tail(self, p, n=30):
        try:
            with open(p.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, p, sig=signal.SIGTERM, wait=10.0):
        """Stops one process group we started (sig, then SIGKILL after `wait` seconds)."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        else:
            # The leader exited; children in its group may still run.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return p.returncode

    def cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        for name, p in reversed(self.procs):
            self.stop(p, wait=5.0)
        if os.environ.get("DDOSD_KEEP_TMP"):
            print(f"kept {self.tmp}", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- servers ------------------------------------------------------------------------------

    def start_redis(self):
        """redis-server on a free loopback port; returns the port. Fails when not installed."""
        binary = which("redis-server")
        if not binary:
            die("redis-server is not installed (apt-get install redis-server)")
        for _ in range(5):
            port = free_port()
            p = self.spawn(f"redis-{port}", [binary, "--port", str(port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no", "--dir", self.tmp,
                                             "--daemonize", "no"])
            for _ in range(300):
                if self.redis_cli(port, "PING") == "PONG":
                    self.redis_port = port
                    return port
                if p.poll() is not None:
                    break
                time.sleep(0.01)
            self.stop(p)
        die("redis-server did not start")

    def redis_cli(self, port, *args):
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip()

    def start_ddosd(self, ddosd, args, env_extra=None, ready_url_path="/health", timeout=30.0):
        """Starts ddosd with args (which must include --api 127.0.0.1:PORT) and waits until
        ready_url_path answers. Returns the Popen; fails with its log when it exits or hangs."""
        env = dict(os.environ)
        env.pop("SECRET_KEY", None)
        env.update(env_extra or {})
        port = None
        for i, a in enumerate(args):
            if a == "--api":
                port = int(args[i + 1].rsplit(":", 1)[1])
        if "--model" not in args:
            # ddosd runs in the temporary directory: name the committed model by its full path.
            args = [*args, "--model", REPO_MODEL]
        p = self.spawn("ddosd", [ddosd, *args], env=env, cwd=self.tmp)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                die(f"ddosd exited with status {p.returncode} at start-up:\n{self.log_tail(p)}")
            if port and port_open(port):
                r = curl(f"http://127.0.0.1:{port}{ready_url_path}", timeout=2)
                if r.code:
                    return p
            time.sleep(0.1)
        die(f"ddosd did not answer {ready_url_path} within {timeout:.0f} s:\n{self.log_tail(p)}")

    def make_capture(self, trafgen, name="attack", scenario="syn_flood", seed=7, duration=12,
                     clients=60):
        """A ddos-trafgen capture with its manifest; returns (pcap path, manifest dict)."""
        pcap = self.path(f"{name}.pcap")
        p = subprocess.run([trafgen, "-q", "-o", pcap, "--scenario", scenario, "--seed", str(seed),
                            "--duration", str(duration), "--benign-clients", str(clients),
                            "--snaplen", "128"], capture_output=True, text=True)
        if p.returncode != 0:
            die(f"ddos-trafgen failed: {p.stderr.strip()}")
        with open(pcap[:-5] + ".json") as f:
            return pcap, json.load(f)


def victims_of(manifest):
    """The victim addresses of every attack instance in a ddos-trafgen manifest."""
    out = []
    for inst in manifest["generator"]["instances"]:
        out.extend(inst["params"].get("victims", []))
    return out


def q(ip):
    return urllib.parse.quote(ip, safe="")


def wait_until(fn, timeout, interval=0.2):
    """Calls fn until it returns a true value or timeout seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def report_attack(base, ip, level, attack_type, role=None):
    """POSTs a report of ip to base's /api/report-attack with SECRET_KEY; returns the Reply."""
    body = {"ip": ip, "threat_level": level}
    if role is not None:
        body["role"] = role
    body["attack_type"] = attack_type
    return curl(f"{base}/api/report-attack", "-X", "POST", "-H", f"Authorization: Bearer {SECRET_KEY}",
                "-H", "Content-Type: application/json", "--data-binary", json.dumps(body))


def common_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddosd", required=True, help="path to the ddosd binary")
    ap.add_argument("--trafgen", required=True, help="path to ddos-trafgen")
    return ap


# Rules used by every test: low enough that a trafgen SYN flood (1k pps and up) makes its victim
# at least "high" (10x the SYN threshold), with the SYN/SYN-ACK balance check off, so the
# verdicts do not depend on the drawn victim answer share. The model stays as configured.
TEST_RULES = {
    "victim": {"syn_per_s": 50, "syn_ack_ratio": None},
}
