"""doc_examples.py - runs every ```console example of README.md and docs/*.md against a running
ddosd, so that the documentation cannot drift from the code again.

What it starts (api_common.Env: free loopback ports, a temporary directory, every process
stopped on exit): redis-server, and ddosd replaying a small benign ddos-trafgen capture in real
time with --serve (config.json with a sensor id and a bouncer key variable, SECRET_KEY and
BOUNCER_KEY in a mode-600 .env beside it, as docs/api.md assumes; cache.ttl 30 s so that a
decision can end during the test). A benign capture leaves no verdict above low, so every
documented state comes from operator reports (SETUP below), never from the level the model gives
a generated flow.

What an example is: in a ```console block, a line starting with "$ " (with "\\" continuations)
is a command; the lines after it, up to the next "$ " line or the end of the block, are its
documented output. Use ```console only for examples that run as written; other snippets are
```sh, ```json or ```text. `...` in a documented output means "more elements or keys here".

How a command runs: with bash, in the temporary directory, SECRET_KEY and BOUNCER_KEY in its
environment and the build's bin/ first on PATH, after REWRITES: the documented API address
(127.0.0.1:8000, or nginx's 127.0.0.1:9000) becomes the test's, `redis-cli` gets the test's port
and --no-raw (the format a terminal shows), and `BLOCK 0` (follow live) waits 100 ms instead.

What is checked, per command:
- exit status 0 (a pipeline's status is its last command's, as in a shell);
- no documented output: nothing more;
- an HTTP response (`curl -si`, documented from a "HTTP/" line): the status line, the set of
  header names and their values (but Date and Content-Length), then the body as below;
- JSON: the same keys (objects recursively), the same value types (a number is a number, null is
  null), and equal values under the keys in VALUE_KEYS (statuses, levels, roles, error codes,
  booleans such as decision). Lists of objects have as many elements as documented (more with
  `...`); lists of scalars need the documented element type (and are empty when documented so);
- redis-cli: the same reply shape (element numbers, (integer)/(nil)/strings); for hashes
  (HGETALL) and stream entries (XRANGE/XREVRANGE) the same set of field names (every
  `sensor:<id>` field counts as one name) at the documented element numbers, and for hashes
  equal level and role values; single replies that are a level or a role must be equal;
- any other text: the same lines (`...` matches any run of lines; a number standing alone, such
  as a metric's value, matches any number).

Each example prints PASS or FAIL with file:line; the test fails when any fails. Exit 77 (skip)
when redis-server, redis-cli or curl is missing; a missing ddosd is a failure.

usage: doc_examples.py --ddosd PATH --trafgen PATH [--repo DIR] [--only FILE] [-v]
Standard library only; run with /usr/bin/python3.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (REPO, Env, common_args, curl, free_port, need_binary,  # noqa: E402
                        q, wait_until)

SECRET_KEY = "doc-secret-key-0123456789abcdef"
BOUNCER_KEY = "doc-bouncer-key-fedcba9876543210"
SENSOR = "edge-1"
CACHE_TTL = 30

# JSON keys whose values are not volatile: the documented value must be the answer's.
VALUE_KEYS = {"status", "service", "threat_level", "role", "attack_type", "known", "decision",
              "error", "stored", "ok", "enabled", "connected", "origin", "type", "scope",
              "scenario", "simulated"}
# A documented string may be null in the answer: the model's version of a verdict that only
# reports raised (the test's states come from reports).
NULLABLE = {"model_version"}
# Header values that change between runs.
VOLATILE_HEADERS = {"date", "content-length"}
# redis-cli strings compared by value (in hashes and single replies).
REDIS_VALUES = {"low", "medium", "high", "critical", "attacker", "victim"}

ELLIPSIS = "\u2026"  # stands for a documented `...` once parsed


# ---- parsing the docs ------------------------------------------------------------------------

class Example:
    def __init__(self, rel, line, command, output):
        self.where = f"{rel}:{line}"
        self.command = command
        self.output = output  # list of lines


def parse_examples(path, rel):
    """Every command of every ```console block of one Markdown file, in order."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)", lines[i])
        if not m:
            i += 1
            continue
        indent, info = m.group(1), m.group(2)
        i += 1
        block = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            block.append((i + 1, lines[i][len(indent):] if lines[i].startswith(indent)
                          else lines[i].lstrip()))
            i += 1
        i += 1
        if info != "console":
            continue
        cur = None
        j = 0
        while j < len(block):
            ln, text = block[j]
            if text.startswith("$ "):
                cmd = [text[2:]]
                while cmd[-1].endswith("\\") and j + 1 < len(block):
                    j += 1
                    cmd.append(block[j][1])
                cur = Example(rel, ln, "\n".join(cmd), [])
                out.append(cur)
            elif cur is not None:
                cur.output.append(text)
            else:
                cur = Example(rel, ln, None, [text])  # output before any command
                out.append(cur)
            j += 1
    for e in out:
        while e.output and not e.output[-1].strip():
            e.output.pop()
    return out


# ---- rewriting commands ----------------------------------------------------------------------

def rewrite(cmd, api_port, redis_port):
    cmd = re.sub(r"(?:127\.0\.0\.1|localhost):(?:8000|9000)\b", f"127.0.0.1:{api_port}", cmd)
    cmd = re.sub(r"(^|[\s|;&(])redis-cli\b", rf"\1redis-cli -p {redis_port} --no-raw", cmd)
    cmd = re.sub(r"\bBLOCK 0\b", "BLOCK 100", cmd)
    return cmd


# ---- JSON ------------------------------------------------------------------------------------

def ellipsis_json(text):
    """Documented JSON with `...` made parseable: a marker key in objects, a marker element in
    lists."""
    out, stack, i, in_str = [], [], 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif c in "{[":
            stack.append(c)
            out.append(c)
        elif c in "}]":
            if stack:
                stack.pop()
            out.append(c)
        elif text.startswith("...", i):
            marker = json.dumps(ELLIPSIS)
            out.append(marker + ":0" if stack and stack[-1] == "{" else marker)
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def parse_doc_json(lines):
    try:
        return True, json.loads(ellipsis_json("\n".join(lines)))
    except ValueError:
        return False, None


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def json_diff(doc, act, path="$", key=None, errs=None):
    """Appends to errs every way act differs from the documented doc."""
    errs = [] if errs is None else errs
    td, ta = jtype(doc), jtype(act)
    if td != ta:
        if not (td == "string" and ta == "null" and key in NULLABLE):
            errs.append(f"{path}: documented {td} {json.dumps(doc)[:60]}, got {ta} "
                        f"{json.dumps(act)[:60]}")
        return errs
    if td == "object":
        more = ELLIPSIS in doc
        for k, v in doc.items():
            if k == ELLIPSIS:
                continue
            if k not in act:
                errs.append(f"{path}: documented key {k!r} is missing")
            else:
                json_diff(v, act[k], f"{path}.{k}", k, errs)
        if not more:
            extra = sorted(k for k in act if k not in doc)
            if extra:
                errs.append(f"{path}: undocumented keys {extra} (add them, or `...`)")
    elif td == "list":
        more = ELLIPSIS in doc
        elems = [e for e in doc if e != ELLIPSIS]
        if not elems:
            if act and not more:
                errs.append(f"{path}: documented empty, got {len(act)} elements")
            return errs
        if all(jtype(e) in ("object", "list") for e in elems):
            if len(act) < len(elems) or (len(act) > len(elems) and not more):
                errs.append(f"{path}: documented {len(elems)} elements"
                            f"{' or more' if more else ''}, got {len(act)}")
            for n, a in enumerate(act):
                json_diff(elems[min(n, len(elems) - 1)], a, f"{path}[{n}]", key, errs)
        else:
            if not act:
                errs.append(f"{path}: documented elements, got an empty list")
            want = {jtype(e) for e in elems}
            for n, a in enumerate(act):
                if jtype(a) not in want:
                    errs.append(f"{path}[{n}]: documented {sorted(want)}, got {jtype(a)}")
    elif key in VALUE_KEYS and doc != act:
        errs.append(f"{path}: documented {json.dumps(doc)}, got {json.dumps(act)}")
    return errs


# ---- redis-cli -------------------------------------------------------------------------------

REDIS_LEAF = re.compile(r'^(?:"(?:[^"\\]|\\.)*"|\(integer\) -?\d+|\(double\) \S+|\(nil\)|'
                        r'\(empty array\)|\(empty list or set\)|\(error\) .*)$')
REDIS_MARK = re.compile(r"\s*(\d+)\)\s+")


def looks_redis(lines):
    first = lines[0]
    return bool(re.match(r"^\s*\d+\) ", first) or REDIS_LEAF.match(first.strip()))


def leaf_kind(text):
    if text.startswith('"'):
        return "string", text[1:-1].encode().decode("unicode_escape")
    if text.startswith("(integer)"):
        return "integer", text.split()[1]
    if text.startswith("(double)"):
        return "double", text.split()[1]
    if text == "(nil)":
        return "nil", None
    if text.startswith("(empty"):
        return "empty", None
    return "error", text


def parse_redis(lines):
    """redis-cli --no-raw output -> (leaves {path: (kind, value)}, lists {path: (count, more)})
    where path is a tuple of element numbers; a `...` line marks its list as "more allowed"."""
    leaves, more, stack = {}, set(), []  # stack of (paren column, number)
    for line in lines:
        if not line.strip():
            continue
        if line.strip() == "...":
            col = len(line) - len(line.lstrip())
            depth = next((d for d, (pc, _) in enumerate(stack) if pc > col), len(stack) - 1)
            more.add(tuple(n for _, n in stack[:max(depth, 0)]))
            continue
        pos = 0
        while True:
            m = REDIS_MARK.match(line, pos)
            if not m:
                break
            pc = m.start(0) + len(m.group(0).rstrip()) - 1
            while stack and stack[-1][0] >= pc:
                stack.pop()
            stack.append((pc, int(m.group(1))))
            pos = m.end(0)
        rest = line[pos:].strip()
        if not REDIS_LEAF.match(rest):
            return None, None, f"not redis-cli output: {line!r}"
        leaves[tuple(n for _, n in stack)] = leaf_kind(rest)
        if pos == 0:
            stack = []
    lists = {}
    for p in leaves:
        for d in range(len(p)):
            prefix = p[:d]
            cnt, _ = lists.get(prefix, (0, False))
            lists[prefix] = (max(cnt, p[d]), prefix in more)
    for p in more:
        lists.setdefault(p, (0, True))
        lists[p] = (lists[p][0], True)
    return leaves, lists, None


def kv_lists(command, lists):
    """The lists of field/value pairs the command prints: a hash, or each stream entry's."""
    words = command.split()
    verb = next((w.upper() for w in words if w.upper() in
                 ("HGETALL", "XRANGE", "XREVRANGE")), None)
    if verb == "HGETALL":
        return {(): True}
    if verb in ("XRANGE", "XREVRANGE"):
        return {p: False for p in lists if len(p) == 2 and p[1] == 2}
    return {}


def where(path):
    return "reply" if not path else "element " + ".".join(map(str, path))


def field_name(name):
    return "sensor:<id>" if name.startswith("sensor:") else name


def redis_diff(command, doc_lines, act_lines):
    errs = []
    dl, dlists, err = parse_redis(doc_lines)
    if err:
        return [f"documented output: {err}"]
    al, alists, err = parse_redis(act_lines)
    if err:
        return [f"output: {err}"]
    kv = kv_lists(command, dlists)
    for p, (cnt, more) in dlists.items():
        if any(p[:len(k)] == k and len(p) > len(k) for k in kv):
            continue  # inside a field list: compared as names below
        if p in kv:
            dn = {field_name(dl[p + (i,)][1]) for i in range(1, cnt + 1, 2) if p + (i,) in dl}
            an_cnt = alists.get(p, (0, False))[0]
            names = [al[p + (i,)][1] for i in range(1, an_cnt + 1, 2) if p + (i,) in al]
            an = {field_name(n) for n in names}
            if dn - an:
                errs.append(f"{where(p)}: documented fields missing: {sorted(dn - an)}")
            if not more and an - dn:
                errs.append(f"{where(p)}: undocumented fields: {sorted(an - dn)} "
                            "(add them, or `...`)")
            for i in range(1, cnt + 1, 2):  # a field's number (but sensor:<id>, one per sensor)
                f = dl.get(p + (i,))
                if f and not f[1].startswith("sensor:") and f[1] in names and \
                        (al.get(p + (i,)) or (None, None))[1] != f[1]:
                    errs.append(f"{where(p)}: {f[1]!r} is element {i} in the docs, "
                                f"{2 * names.index(f[1]) + 1} in the output")
            if kv[p]:  # a hash: level and role values
                avals = {al[p + (i,)][1]: al.get(p + (i + 1,), (None, None))[1]
                         for i in range(1, an_cnt + 1, 2) if p + (i,) in al}
                for i in range(1, cnt + 1, 2):
                    f, v = dl.get(p + (i,)), dl.get(p + (i + 1,))
                    if f and v and v[1] in REDIS_VALUES and avals.get(f[1]) != v[1]:
                        errs.append(f"field {f[1]}: documented {v[1]!r}, got {avals.get(f[1])!r}")
            continue
        acnt = alists.get(p, (None, False))[0]
        if acnt is None:
            errs.append(f"{where(p)}: documented a list of {cnt}, got none")
        elif acnt < cnt or (acnt > cnt and not more):
            errs.append(f"{where(p)}: documented {cnt} elements{' or more' if more else ''},"
                        f" got {acnt}")
    for p, (kind, val) in dl.items():
        if any(p[:len(k)] == k and len(p) > len(k) for k in kv):
            continue
        if p not in al:
            if not errs:
                errs.append(f"{where(p)}: documented {kind}, missing")
            continue
        akind, aval = al[p]
        if akind != kind:
            errs.append(f"{where(p)}: documented {kind} {val!r}, got {akind} {aval!r}")
        elif kind == "string" and val in REDIS_VALUES and aval != val:
            errs.append(f"{where(p)}: documented {val!r}, got {aval!r}")
    return errs


# ---- HTTP and text ---------------------------------------------------------------------------

def split_http(lines):
    """(status line, [(name, value)], header `...`, body lines)."""
    status, headers, more, i = lines[0].strip(), [], False, 1
    while i < len(lines) and lines[i].strip():
        if lines[i].strip() == "...":
            more = True
        elif ":" in lines[i]:
            k, v = lines[i].split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        i += 1
    return status, headers, more, lines[i + 1:]


def body_diff(doc, act):
    if not doc:
        return [] if not "".join(act).strip() else ["documented no output, got some"]
    ok, d = parse_doc_json(doc)
    if ok:
        try:
            a = json.loads("\n".join(act))
        except ValueError:
            return [f"documented JSON, got: {' '.join(act)[:200]!r}"]
        return json_diff(d, a)
    return text_diff(doc, act)


NUMBER = re.compile(r"(?<=\s)-?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|NaN|[-+]Inf)(?=\s|$)")


def text_line(ln):
    """A documented line as a pattern: a number standing alone (a metric's value) is any."""
    out, pos = [], 0
    for m in NUMBER.finditer(ln):
        out += [re.escape(ln[pos:m.start()]), r"-?(?:[\d.eE+-]+|NaN|[-+]Inf)"]
        pos = m.end()
    return "".join(out) + re.escape(ln[pos:])


def text_diff(doc, act):
    """Line by line; a `...` documented line matches any run of lines, and a number standing
    alone any number."""
    pat = "".join(r"(?:[^\n]*\n)*?" if ln.strip() == "..." else text_line(ln.rstrip()) + r"\n"
                  for ln in doc)
    got = "".join(ln.rstrip() + "\n" for ln in act)
    return [] if re.fullmatch(pat, got) else [f"documented text differs; got:\n{got[:800]}"]


def compare(ex, act_text):
    doc = ex.output
    act = act_text.replace("\r\n", "\n").rstrip("\n").split("\n") if act_text.strip() else []
    if not doc:
        return []
    if doc[0].startswith("HTTP/"):
        ds, dh, dmore, db = split_http(doc)
        if not act:
            return ["documented an HTTP response, got nothing"]
        as_, ah, _, ab = split_http(act)
        errs = [] if ds == as_ else [f"status line: documented {ds!r}, got {as_!r}"]
        dnames, anames = {k for k, _ in dh}, {k for k, _ in ah}
        if dnames - anames:
            errs.append(f"headers missing: {sorted(dnames - anames)}")
        if not dmore and anames - dnames and (dh or db):
            errs.append(f"undocumented headers: {sorted(anames - dnames)}")
        av = dict(ah)
        for k, v in dh:
            if k not in VOLATILE_HEADERS and k in av and av[k] != v:
                errs.append(f"header {k}: documented {v!r}, got {av[k]!r}")
        return errs + body_diff(db, ab)
    if looks_redis(doc):
        return redis_diff(ex.command, doc, act)
    return body_diff(doc, act)


# ---- the running instance --------------------------------------------------------------------

class Instance:
    def __init__(self, env, ddosd, trafgen):
        self.env = env
        self.redis_port = env.start_redis()
        pcap, _ = env.make_capture(trafgen, name="benign", scenario="benign", seed=3,
                                   duration=6, clients=10)
        self.api_port = free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        os.mkdir(env.path("log"))
        cfg = env.write("config.json", json.dumps({
            "sensor": {"id": SENSOR},
            "bouncer_keys": ["BOUNCER_KEY"],
            "cache": {"ttl": CACHE_TTL},
        }))
        env.write(".env", f"SECRET_KEY={SECRET_KEY}\nBOUNCER_KEY={BOUNCER_KEY}\n", mode=0o600)
        self.proc = env.start_ddosd(ddosd, [
            "-c", cfg, "-r", pcap, "--realtime", "--serve",
            "--api", f"127.0.0.1:{self.api_port}",
            "--redis", f"redis://127.0.0.1:{self.redis_port}", "--log-dir", env.path("log")])
        done = wait_until(lambda: "finished" in ((self.get("/health").json() or {})
                                                 .get("capture", {}).get("detail", "")), 60)
        if not done:
            print(f"FAIL the replay did not finish:\n{env.log_tail(self.proc)}", flush=True)
            sys.exit(1)

    def get(self, path, *args):
        return curl(self.base + path, *args)

    def report(self, ip, level, role="attacker", attack_type=None, source="doc-test"):
        body = {"ip": ip, "threat_level": level, "role": role, "source": source}
        if attack_type:
            body["attack_type"] = attack_type
        r = curl(f"{self.base}/api/report-attack", "-X", "POST",
                 "-H", f"Authorization: Bearer {SECRET_KEY}",
                 "-H", "Content-Type: application/json", "-d", json.dumps(body))
        if r.code != 200:
            raise RuntimeError(f"report {body} answered {r.code} {r.body}")
        # The verdict stage merges it and publishes (store, Redis) within a flush interval.
        if not wait_until(lambda: (self.verdict(ip) or {}).get("reasons", []).count("report")
                          and self.in_redis(ip), 10):
            raise RuntimeError(f"report of {ip} did not reach the store and Redis")

    def verdict(self, ip):
        return self.get(f"/api/threat-analysis?ip={q(ip)}").json()

    def redis(self, *args):
        return self.env.redis_cli(self.redis_port, *args)

    def in_redis(self, ip):
        return self.redis("HGET", f"ddos:verdict:{ip}", "reasons").find("report") >= 0

    def fresh_redis(self):
        """Empties Redis (keeps the sink's scripts), so an example sees only its own state."""
        self.redis("FLUSHALL")


# ---- the states the examples document (check the docs for the addresses they use) ----------

def setup_api(inst):
    # threat-analysis: 203.0.113.5 a high syn_flood attacker (a decision); verdicts: 2001:db8::7
    # high as well, a victim (so no decision: the decision stream has 203.0.113.5 only). The
    # report example then raises 203.0.113.5 to critical; 192.0.2.1 stays unknown.
    inst.report("203.0.113.5", "high", "attacker", "syn_flood")
    inst.report("2001:db8::7", "high", "victim", "udp_amplification")
    # The operator key has a decision cursor of its own: decision_ended follows it.
    inst.get("/v1/decisions/stream?startup=true", "-H", f"X-Api-Key: {SECRET_KEY}")


def setup_redis_top(inst):
    # The Redis examples (operations.md, redis.md): 203.0.113.9 a high syn_flood attacker,
    # 2001:db8::7 a critical attacker, 192.0.2.10 a high victim, 198.51.100.23 medium.
    inst.fresh_redis()
    inst.report("2001:db8::7", "critical", "attacker", "syn_flood")
    inst.report("203.0.113.9", "high", "attacker", "syn_flood", source="gateway")
    inst.report("192.0.2.10", "high", "victim", "syn_flood")


def setup_redis(inst):
    setup_redis_top(inst)
    inst.report("198.51.100.23", "medium", "attacker", "udp_flood")
    # The events example lists several entries: the reports' attack starts reach the stream a
    # flush after their hashes (later still under the sanitizers), so wait for them.
    def events():
        out = inst.redis("XLEN", "ddos:events").strip()
        return out.isdigit() and int(out) >= 2
    if not wait_until(events, 20, 0.2):
        raise RuntimeError("the reports' attack_start events did not reach ddos:events")


def decision_ended(inst, ip):
    """Waits (up to the cache ttl and then some) until ip's decision expired and the decision
    stream lists it as deleted (to the operator key's cursor, so the bouncer key's is intact)."""
    def deleted():
        d = inst.get("/v1/decisions/stream?startup=false", "-H",
                     f"X-Api-Key: {SECRET_KEY}").json() or {}
        # In "deleted" and not in "new": a changed (extended) decision is sent as its old
        # version in "deleted" and its new one in "new"; only an ended one is deleted alone.
        return (any(x.get("value") == ip for x in d.get("deleted") or []) and
                not any(x.get("value") == ip for x in d.get("new") or []))

    if not wait_until(deleted, CACHE_TTL + 15, 0.5):
        raise RuntimeError(f"the decision on {ip} did not end within {CACHE_TTL + 15} s")


SETUP = {
    "docs/api.md": setup_api,
    "docs/operations.md": setup_redis_top,
    "docs/redis.md": setup_redis,
}
# Before a command (file, regex on the documented command): state changes the example shows.
HOOKS = [
    # startup=false lists what changed since startup=true: the example shows a decision that
    # ended (it expired: cache.ttl is short here).
    ("docs/api.md", r"stream\?startup=false", lambda inst: decision_ended(inst, "203.0.113.5")),
]


# ---- main ------------------------------------------------------------------------------------

def run(ex, inst, env_vars, cwd):
    """Runs one example; returns (problems, the command as run, its output)."""
    cmd = rewrite(ex.command, inst.api_port, inst.redis_port)
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=20,
                           env=env_vars, cwd=cwd)
    except subprocess.TimeoutExpired:
        return ["timed out after 20 s"], cmd, ""
    errs = [] if p.returncode == 0 else [f"exit status {p.returncode}: {p.stderr.strip()[:300]}"]
    return errs + compare(ex, p.stdout), cmd, p.stdout


def main():
    ap = common_args()
    ap.add_argument("--repo", default=REPO, help="the source tree whose docs are checked")
    ap.add_argument("--only", help="check one file only (e.g. docs/api.md)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    for tool in ("redis-server", "redis-cli", "curl"):
        if not shutil.which(tool):  # the examples run them by name
            print(f"SKIP: {tool} is not installed", flush=True)
            sys.exit(77)

    files = [os.path.join(a.repo, "README.md")] + sorted(glob.glob(os.path.join(a.repo, "docs",
                                                                                "*.md")))
    if a.only:
        files = [f for f in files if os.path.relpath(f, a.repo) == a.only]
    examples = [(f, parse_examples(f, os.path.relpath(f, a.repo))) for f in files]
    total = sum(len(e) for _, e in examples)
    if total == 0:
        print("FAIL no ```console examples found", flush=True)
        sys.exit(1)

    env = Env("doc-examples")
    inst = Instance(env, ddosd, trafgen)
    env_vars = dict(os.environ)
    env_vars.update({"SECRET_KEY": SECRET_KEY, "BOUNCER_KEY": BOUNCER_KEY,
                     "PATH": os.path.dirname(ddosd) + os.pathsep + os.environ.get("PATH", "")})
    env_vars.pop("REDISCLI_AUTH", None)
    passed = failed = 0
    for path, exs in examples:
        rel = os.path.relpath(path, a.repo)
        if not exs:
            continue
        print(f"== {rel}: {len(exs)} examples", flush=True)
        try:
            if rel in SETUP:
                SETUP[rel](inst)
        except RuntimeError as e:
            print(f"FAIL {rel}: setting up its state: {e}", flush=True)
            failed += len(exs)
            continue
        for ex in exs:
            if ex.command is None:
                print(f"FAIL {ex.where}: output without a `$ ` command", flush=True)
                failed += 1
                continue
            try:
                for frel, pat, hook in HOOKS:
                    if frel == rel and re.search(pat, ex.command):
                        hook(inst)
                errs, cmd, out = run(ex, inst, env_vars, env.tmp)
            except RuntimeError as e:
                errs, cmd, out = [str(e)], ex.command, ""
            first = ex.command.split("\n")[0]
            if errs:
                failed += 1
                print(f"FAIL {ex.where}: {first}", flush=True)
                for e in errs:
                    print(f"     - {e}", flush=True)
            else:
                passed += 1
                print(f"PASS {ex.where}: {first}", flush=True)
            if errs or a.verbose:
                print(f"     ran: {cmd}", flush=True)
                print("     got: " + out[:1500].rstrip().replace("\n", "\n          "),
                      flush=True)
    if inst.proc.poll() is not None:
        print(f"FAIL ddosd exited with {inst.proc.returncode}:\n{env.log_tail(inst.proc)}")
        failed += 1
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
