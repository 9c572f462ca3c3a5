"""flowcheck.py - helpers shared by the ddos-flows integration scripts (run_fixtures.py,
shared_captures.py): the pass/fail counter, one ddos-flows run with its CSV and --summary-json
read back, and the CSV parsing.

Imported with the script's own folder on sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import flowcheck
"""
import csv
import io
import json
import os
import subprocess
import sys
import time

MODES = ("fixed", "cic")
# What a sanitizer (ASan/UBSan/LSan) report writes to stderr.
SANITIZER_MARKS = ("runtime error", "AddressSanitizer", "LeakSanitizer")


class Checks:
    """Counts checks, printing "PASS name" or "FAIL name -- detail" for each."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        """Records one check; returns ok."""
        if ok:
            self.passed += 1
            print("PASS %s" % name)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, " -- " + detail if detail else ""))
        sys.stdout.flush()
        return ok

    def equal(self, name, got, want):
        return self.check(name, got == want, "expected %r, got %r" % (want, got))

    def report(self):
        """Prints "N passed, M failed"; returns the exit status (1 on any failure, else 0)."""
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def sanitizer_marks(stderr):
    """The SANITIZER_MARKS that stderr contains (an empty list when it is clean)."""
    return [m for m in SANITIZER_MARKS if m in stderr]


def parse_csv(text):
    """(header, rows) of a CSV text: the header cells stripped, rows as lists of strings.
    Raises csv.Error on malformed text or when there is no header line."""
    table = list(csv.reader(io.StringIO(text), strict=True))
    if not table:
        raise csv.Error("empty output: no header")
    return [c.strip() for c in table[0]], table[1:]


class Run:
    """One ddos-flows invocation and everything it produced.

    rc: exit status (None when it timed out); stdout, stderr: text; csv_text: the CSV (None when
    none was written or read); summary: the parsed --summary-json (None when missing or
    unparsable), summary_error: why it did not parse; header, rows, csv_error: parse_csv of
    csv_text (csv_error None when it parsed); out_path: where -o wrote; elapsed: seconds;
    timed_out: whether the run was killed at its time limit."""

    def __init__(self, rc, stdout, stderr, csv_text, summary):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.csv_text = csv_text
        self.summary = summary
        self.summary_error = None
        self.out_path = None
        self.elapsed = 0.0
        self.timed_out = False
        self.header = []
        self.rows = []
        self.csv_error = None
        if csv_text is not None:
            try:
                self.header, self.rows = parse_csv(csv_text)
            except csv.Error as e:
                self.csv_error = str(e)

    def col(self, name):
        """Index of the first column called name (cic repeats Fwd Header Length)."""
        return self.header.index(name)

    def dicts(self):
        """The rows as dicts keyed by header; a repeated column keeps its first cell."""
        out = []
        for r in self.rows:
            d = {}
            for k, v in zip(self.header, r):
                d.setdefault(k, v)
            out.append(d)
        return out

    def packet_sum(self):
        """Total Fwd + Total Backward Packets over all rows; ValueError/IndexError when the
        columns are missing or not numbers."""
        fi, bi = self.col("Total Fwd Packets"), self.col("Total Backward Packets")
        return sum(int(float(r[fi])) + int(float(r[bi])) for r in self.rows)


def run_flows(binary, args, work, timeout, want_csv=True, want_summary=True, stdout_csv=False):
    """Runs `binary args`, adding -o work/flows.csv (unless want_csv is false or stdout_csv
    takes the CSV from standard output) and --summary-json work/summary.json (unless
    want_summary is false); work is created. Returns a Run. On a timeout the Run has
    timed_out set, rc None, stderr "timed out after <timeout> s", and whatever files were
    written are read."""
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "flows.csv")
    summ = os.path.join(work, "summary.json")
    cmd = [binary] + list(args)
    if want_csv and not stdout_csv:
        cmd += ["-o", out]
    if want_summary:
        cmd += ["--summary-json", summ]
    t = time.monotonic()
    timed_out = False
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        rc = p.returncode
        stdout = p.stdout.decode("utf-8", "replace")
        stderr = p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        rc, stdout, stderr, timed_out = None, "", "timed out after %d s" % timeout, True
    elapsed = time.monotonic() - t
    csv_text = None
    if stdout_csv:
        csv_text = stdout
    elif want_csv and os.path.exists(out):
        with open(out, encoding="utf-8", errors="replace") as f:
            csv_text = f.read()
    summary, summary_error = None, None
    if want_summary and os.path.exists(summ):
        try:
            with open(summ) as f:
                summary = json.load(f)
        except (OSError, ValueError) as e:
            summary_error = str(e)
    r = Run(rc, stdout, stderr, csv_text, summary)
    r.summary_error = summary_error
    r.out_path = out
    r.elapsed = elapsed
    r.timed_out = timed_out
    return r
