#!/usr/bin/python3
"""run_fixtures.py - runs ddos-flows on the crafted captures of tests/data and checks the result.

The expected numbers come from tests/data/fixtures.json, which make_fixtures.py computed from
how it built each packet (never from running the tool). For every capture, in both modes
(--compat fixed and cic), with --summary-json, it checks:
  - the exit status, and for refused inputs the one-line message;
  - the CSV parses, every row has as many columns as the header, every feature is a number;
  - the flow count, packet and decode counters against fixtures.json;
  - no packet is lost: fixed: sum(Total Fwd + Total Backward Packets) == decode.ok;
    cic: that sum + flows_suppressed == decode.ok - packets_skipped.
Then the command-line behaviours: link types agree, nanosecond pcapng, the SYN flood, damaged
and non-captures, missing files, filters, directories, manifests, --help, standard output.

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.

Usage: /usr/bin/python3 tests/integration/run_fixtures.py --bin build/app/ddos-flows \
           --data tests/data
"""
import argparse
import json
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowcheck import MODES, Checks, Run, run_flows, sanitizer_marks  # noqa: E402

# Columns before the features: Flow ID, Source IP, Source Port, Destination IP,
# Destination Port, Protocol, Timestamp.
N_ID_COLUMNS = 7
# Every option ddos-flows accepts (its getopt long options); --help must mention each.
ALL_OPTIONS = ["--read", "--interface", "--filter", "--snaplen", "--no-promisc", "--output",
               "--manifest", "--summary-json", "--summary-html", "--quiet", "--progress",
               "--no-progress", "--compat", "--idle-timeout", "--active-timeout", "--max-flows",
               "--seed", "--version", "--help"]


class Tool:
    def __init__(self, binary, checks, tmp):
        self.bin = binary
        self.c = checks
        self.tmp = tmp
        self.n = 0

    def run(self, args, want_csv=True, want_summary=True, stdout_csv=False):
        """Runs ddos-flows with args (plus -o/--summary-json in a fresh temp folder)."""
        self.n += 1
        work = os.path.join(self.tmp, "run%03d" % self.n)
        r = run_flows(self.bin, args, work, 300, want_csv=want_csv, want_summary=want_summary,
                      stdout_csv=stdout_csv)
        if r.timed_out:
            self.c.check("run %s" % " ".join(args), False, "timed out after 300 s")
            return Run(-1, "", "", None, None)
        marks = sanitizer_marks(r.stderr)
        if marks:
            self.c.check("sanitizers quiet: %s" % " ".join(args), False,
                         "stderr mentions %s:\n%s" % (", ".join(marks), r.stderr[-3000:]))
        if r.summary_error is not None:
            self.c.check("summary json parses", False, r.summary_error)
        return r

    def extract(self, inputs, mode, extra=(), **kw):
        args = []
        for i in inputs:
            args += ["-r", i]
        return self.run(args + ["--compat", mode, "-q"] + list(extra), **kw)


def check_table(c, label, r):
    """CSV shape: parses, every row as wide as the header, features numeric."""
    if not c.check("%s: csv parses" % label, r.csv_text is not None and r.csv_error is None,
                   r.csv_error or "no CSV written"):
        return False
    bad = [i + 2 for i, row in enumerate(r.rows) if len(row) != len(r.header)]
    c.check("%s: %d rows have the header's %d columns" % (label, len(r.rows), len(r.header)),
            not bad, "lines with another width: %s" % bad[:10])
    last = len(r.header) - (1 if r.header and r.header[-1] == "Label" else 0)
    nonnum = []
    for i, row in enumerate(r.rows):
        for j in range(N_ID_COLUMNS, min(last, len(row))):
            try:
                float(row[j])
            except ValueError:
                nonnum.append((i + 2, r.header[j], row[j]))
    c.check("%s: feature cells are numbers" % label, not nonnum, "not numbers: %s" % nonnum[:5])
    return not bad


def check_invariant(c, label, r, mode):
    s = r.summary or {}
    ok = s.get("decode", {}).get("ok")
    try:
        total = r.packet_sum()
    except (ValueError, IndexError) as e:
        c.check("%s: no packet lost" % label, False, "cannot sum packet columns: %s" % e)
        return
    if mode == "fixed":
        c.check("%s: no packet lost (rows hold %s packets, decode.ok %s)" % (label, total, ok),
                total == ok, "fwd+bwd packets over all rows differ from decode.ok")
    else:
        sup, skip = s.get("flows_suppressed"), s.get("packets_skipped")
        c.check("%s: no packet lost (rows %s + suppressed %s == ok %s - skipped %s)"
                % (label, total, sup, ok, skip),
                ok is not None and total + sup == ok - skip, "cic accounting does not add up")


def check_fixture(c, tool, data, name, exp, mode):
    label = "%s [%s]" % (name, mode)
    r = tool.extract([os.path.join(data, name)], mode)
    if not c.equal("%s: exit status" % label, r.rc, exp["exit"]):
        if r.stderr:
            print("    stderr: " + r.stderr.strip().replace("\n", "\n    stderr: "))
    if exp["exit"] == 1:
        lines = r.stderr.strip().splitlines()
        c.check("%s: says '%s' in one line" % (label, exp["stderr"]),
                len(lines) == 1 and exp["stderr"] in lines[0], "stderr: %r" % r.stderr)
        c.check("%s: writes no CSV" % label, not os.path.exists(r.out_path),
                "an output file was created although the input was refused")
        return None
    if not check_table(c, label, r) or r.summary is None:
        c.check("%s: summary written" % label, r.summary is not None)
        return r
    s = r.summary
    want_flows = exp["flows_fixed"] if mode == "fixed" else exp["flows_cic"]
    c.equal("%s: flows" % label, len(r.rows), want_flows)
    c.equal("%s: summary flows == rows" % label, s.get("flows"), len(r.rows))
    c.equal("%s: packets" % label, s.get("packets"), exp["packets"])
    c.equal("%s: decode.ok" % label, s["decode"].get("ok"), exp["decode_ok"])
    got_kinds = {k: v for k, v in s["decode"].items() if v}
    c.equal("%s: decode counters" % label, got_kinds, exp["decode"])
    if mode == "cic":
        c.equal("%s: flows_suppressed" % label, s.get("flows_suppressed"),
                exp["cic_flows_suppressed"])
        c.equal("%s: packets_skipped" % label, s.get("packets_skipped"),
                exp["cic_packets_skipped"])
    else:
        c.equal("%s: nothing suppressed or skipped" % label,
                (s.get("flows_suppressed"), s.get("packets_skipped")), (0, 0))
    c.equal("%s: damaged_inputs" % label, s.get("damaged_inputs"), 1 if exp["exit"] == 2 else 0)
    check_invariant(c, label, r, mode)
    for f in exp.get("features", []):
        if f["mode"] != mode:
            continue
        m = [d for d in r.dicts() if all(d.get(k) == v for k, v in f["match"].items())]
        what = "%s: flow %s" % (label, json.dumps(f["match"], sort_keys=True))
        if not c.check("%s found once" % what, len(m) == 1, "%d rows match" % len(m)):
            continue
        diffs = {}
        for k, want in f["expect"].items():
            got = m[0].get(k)
            same = (got == want) if isinstance(want, str) else (
                got is not None and float(got) == float(want))
            if not same:
                diffs[k] = "expected %r, got %r" % (want, got)
        c.check("%s has %s (%s)" % (what, ", ".join(sorted(f["expect"])), f["why"]), not diffs,
                "; ".join("%s: %s" % kv for kv in sorted(diffs.items())))
    return r


def check_linktypes(c, results):
    for mode in MODES:
        runs = {n: r for (n, m), r in results.items()
                if m == mode and n.startswith("linktypes-") and r is not None and r.rows}
        want = sorted(n for (n, m) in results if m == mode and n.startswith("linktypes-")
                      and not (mode == "cic" and "ipv6" in n))
        if not c.equal("linktypes [%s]: one TCP flow from each of %d captures" % (mode, len(want)),
                       sorted(n for n, r in runs.items() if len(r.rows) == 1), want):
            continue
        ref_name = "linktypes-raw.pcap"
        ref = runs[ref_name].dicts()[0]
        first_feature = runs[ref_name].header[N_ID_COLUMNS]
        for n in want:
            d = runs[n].dicts()[0]
            addr_cols = ("Flow ID", "Source IP", "Destination IP")
            cols = [h for h in runs[n].header if h not in addr_cols]
            diff = ["%s: %s vs %s" % (k, d.get(k), ref.get(k))
                    for k in cols if d.get(k) != ref.get(k)]
            c.check("linktypes [%s]: %s has the same ports, protocol, timestamp and features "
                    "(%s .. end) as %s" % (mode, n, first_feature, ref_name), not diff,
                    "; ".join(diff[:8]))
            if "ipv6" not in n:
                c.equal("linktypes [%s]: %s addresses" % (mode, n),
                        (d["Source IP"], d["Destination IP"]), ("192.168.1.10", "192.168.1.20"))
            else:
                c.equal("linktypes [%s]: %s addresses" % (mode, n),
                        (d["Source IP"], d["Destination IP"]), ("2001:db8::10", "2001:db8::20"))


def check_ns(c, results, fixtures):
    want = fixtures["captures"]["session-ns.pcapng"]["durations_us"]
    for mode in MODES:
        r = results.get(("session-ns.pcapng", mode))
        if r is None or not r.rows:
            c.check("session-ns.pcapng [%s]: durations" % mode, False, "no rows")
            continue
        got = {d["Source Port"]: float(d["Flow Duration"]) for d in r.dicts()}
        c.equal("session-ns.pcapng [%s]: flow durations in us, stamps rounded down from ns"
                % mode, got, {k: float(v) for k, v in want.items()})
        first = min(d["Timestamp"] for d in r.dicts())
        c.equal("session-ns.pcapng [%s]: first timestamp keeps its microseconds" % mode, first,
                "2023-11-14 22:13:20.000000")


def check_syn(c, results):
    r = results.get(("spoofed-syn.pcap", "fixed"))
    if r is not None and r.rows:
        ds = r.dicts()
        c.equal("spoofed-syn.pcap [fixed]: 500 flows", len(ds), 500)
        c.check("spoofed-syn.pcap [fixed]: each flow is 1 SYN to 203.0.113.10:80 from its own "
                "source", all(d["Destination IP"] == "203.0.113.10" and
                              d["Destination Port"] == "80" and d["Total Fwd Packets"] == "1" and
                              d["Total Backward Packets"] == "0" and d["SYN Flag Count"] == "1"
                              for d in ds) and len({d["Source IP"] for d in ds}) == 500)
    else:
        c.check("spoofed-syn.pcap [fixed]: 500 flows", False, "no rows")
    r = results.get(("spoofed-syn.pcap", "cic"))
    c.check("spoofed-syn.pcap [cic]: 0 flows, 500 suppressed",
            r is not None and len(r.rows) == 0 and r.summary and
            r.summary.get("flows_suppressed") == 500,
            "rows %s, summary %s" % (r and len(r.rows), r and r.summary))


def check_truncated(c, tool, data):
    for mode in MODES:
        r = tool.extract([os.path.join(data, "truncated.pcap")], mode)
        label = "truncated.pcap [%s]" % mode
        c.equal("%s: exit 2" % label, r.rc, 2)
        warn = [l for l in r.stderr.splitlines() if "warning" in l]
        c.check("%s: one warning line naming the capture and the damage" % label,
                len(warn) == 1 and "truncated.pcap" in warn[0] and "truncated" in
                warn[0].replace("truncated.pcap", ""), "stderr: %r" % r.stderr)
        c.check("%s: the 2 flows read before the damage are written" % label,
                r.csv_error is None and len(r.rows) == 2 and
                {d["Source Port"] for d in r.dicts()} == {"7000", "7002"},
                "rows: %r" % r.rows[:3])


def check_errors(c, tool, data):
    r = tool.run(["-r", os.path.join(data, "no-such-file.pcap"), "-q"])
    lines = r.stderr.strip().splitlines()
    c.check("missing file: exit 1, one line 'cannot open'",
            r.rc == 1 and len(lines) == 1 and "cannot open" in lines[0],
            "rc %d, stderr %r" % (r.rc, r.stderr))
    r = tool.run(["-r", os.path.join(data, "session-eth.pcap"), "--filter", "tcp and and", "-q"])
    lines = r.stderr.strip().splitlines()
    c.check("bad --filter: exit 1, one line 'bad filter'",
            r.rc == 1 and len(lines) == 1 and "bad filter" in lines[0],
            "rc %d, stderr %r" % (r.rc, r.stderr))
    r = tool.run(["-r", os.path.join(data, "session-eth.pcap"), "--compat", "legacy", "-q"])
    c.check("bad --compat: exit 1, one line", r.rc == 1 and len(r.stderr.strip().splitlines()) == 1
            and "--compat" in r.stderr, "rc %d, stderr %r" % (r.rc, r.stderr))
    r = tool.run(["-r", os.path.join(data, "session-eth.pcap"), "-q", "-o",
                  os.path.join(tool.tmp, "no-such-dir", "flows.csv")], want_csv=False)
    lines = r.stderr.strip().splitlines()
    c.check("unwritable -o: exit 1, one line 'cannot write'",
            r.rc == 1 and len(lines) == 1 and "cannot write" in lines[0],
            "rc %d, stderr %r" % (r.rc, r.stderr))
    # A capture of a link type the decoder does not know (105, IEEE 802.11), written here.
    wifi = os.path.join(tool.tmp, "wifi.pcap")
    with open(wifi, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105))
        f.write(struct.pack("<IIII", 1600000000, 0, 24, 24) + bytes(24))
    r = tool.run(["-r", wifi, "-q"])
    lines = r.stderr.strip().splitlines()
    c.check("unsupported link type: exit 1, one line 'link type 105 is not supported'",
            r.rc == 1 and len(lines) == 1 and "link type 105 is not supported" in lines[0],
            "rc %d, stderr %r" % (r.rc, r.stderr))
    empty = os.path.join(tool.tmp, "empty-dir")
    os.makedirs(empty)
    with open(os.path.join(empty, "notes.txt"), "w") as f:
        f.write("not a capture, and not named like one\n")
    r = tool.run(["-r", empty, "-q"])
    lines = r.stderr.strip().splitlines()
    c.check("directory without captures: exit 1, one line 'no capture files'",
            r.rc == 1 and len(lines) == 1 and "no capture files" in lines[0],
            "rc %d, stderr %r" % (r.rc, r.stderr))


def check_filter(c, tool, data, unfiltered):
    path = os.path.join(data, "session-eth.pcap")
    for mode, want_rows in (("fixed", 3), ("cic", 1)):
        r = tool.extract([path], mode, ["--filter", "udp"])
        label = "--filter udp [%s]" % mode
        if not c.equal("%s: exit 0" % label, r.rc, 0) or r.csv_error:
            continue
        ds = r.dicts()
        c.check("%s: only UDP flows" % label, all(d["Protocol"] == "17" for d in ds),
                "protocols %s" % sorted({d["Protocol"] for d in ds}))
        # fixed: DNS and both fragments (BPF 'udp' is 'ip proto 17', fragments included);
        # cic: DNS only (the two 1-packet fragment flows are suppressed).
        c.equal("%s: flows" % label, len(ds), want_rows)
        base = unfiltered.get(("session-eth.pcap", mode))
        if base is not None and not base.csv_error:
            want = sorted(d["Flow ID"] for d in base.dicts() if d["Protocol"] == "17")
            c.equal("%s: the same UDP flows as without the filter" % label,
                    sorted(d["Flow ID"] for d in ds), want)
        # BPF 'udp' tests the IP protocol byte only: the IHL-3 frame (protocol 17) passes the
        # filter too, then fails to decode.
        c.equal("%s: packets delivered, decoded" % label,
                ((r.summary or {}).get("packets"), (r.summary or {}).get("decode", {}).get("ok")),
                (5, 4))


def check_directories(c, tool, data):
    # Named in the order of their timestamps: read sorted by name, time never goes back.
    # Named against it: the older capture arrives late; its first packet jumps back by more
    # than the active timeout, so the table's clock follows it (a new era) and the other two
    # packets are in order again.
    for dirname, names, backwards in (
            ("dir-in-time-order", ("a.pcap", "b.pcapng"), (0, 0)),
            ("dir-against-time", ("b.pcap", "a.pcapng"), (1, 1))):
        d = os.path.join(tool.tmp, dirname)
        os.makedirs(d)
        # Created in reverse name order, so creation order is not name order.
        shutil.copy(os.path.join(data, "session-ns.pcapng"), os.path.join(d, names[1]))
        shutil.copy(os.path.join(data, "linktypes-raw.pcap"), os.path.join(d, names[0]))
        with open(os.path.join(d, "README.txt"), "w") as f:
            f.write("ignored: not named like a capture\n")
        r = tool.extract([d], "fixed")
        label = "directory %s (%s, %s)" % (dirname, names[0], names[1])
        c.equal("%s: exit 0" % label, r.rc, 0)
        c.equal("%s: both captures read" % label,
                ((r.summary or {}).get("packets"), len(r.rows)), (3 + 7, 1 + 3))
        c.equal("%s: read sorted by name (packets stamped earlier than the newest, "
                "jumps to an earlier era)" % label,
                ((r.summary or {}).get("ts_backwards"), (r.summary or {}).get("clock_jumps")),
                backwards)


def check_manifest(c, tool, data, fixtures):
    mpath = os.path.join(data, "manifest.json")
    mexp = fixtures["manifest"]
    for mode in MODES:
        r = tool.extract([os.path.join(data, "session-eth.pcap")], mode, ["--manifest", mpath])
        label = "--manifest [%s] session-eth.pcap" % mode
        c.equal("%s: exit 0" % label, r.rc, 0)
        if not check_table(c, label, r):
            continue
        c.equal("%s: last column is Label" % label, r.header[-1:], ["Label"])
        counts = {}
        for d in r.dicts():
            counts[d["Label"]] = counts.get(d["Label"], 0) + 1
        c.equal("%s: labels (first matching rule wins)" % label, counts,
                mexp[mode]["session-eth.pcap"])
        dns = [d for d in r.dicts() if "53" in (d["Source Port"], d["Destination Port"])]
        c.check("%s: the DNS flow is relabelled 'benign' by its port-53 rule" % label,
                len(dns) == 1 and dns[0]["Label"] == "benign", repr(dns))
        check_invariant(c, label, r, mode)

        # Without -r: every capture the manifest lists, each with its own labels.
        r = tool.run(["--manifest", mpath, "--compat", mode, "-q"])
        label = "--manifest [%s] alone" % mode
        c.equal("%s: exit 0" % label, r.rc, 0)
        if check_table(c, label, r):
            counts = {}
            for d in r.dicts():
                counts[d["Label"]] = counts.get(d["Label"], 0) + 1
            want = {}
            for per in mexp[mode].values():
                for k, v in per.items():
                    want[k] = want.get(k, 0) + v
            c.equal("%s: labels of all listed captures" % label, counts, want)
            check_invariant(c, label, r, mode)

    r = tool.extract([os.path.join(data, "linktypes-sll.pcap")], "fixed", ["--manifest", mpath])
    c.check("--manifest with a capture it does not list: warns, labels 'unknown'",
            r.rc == 0 and "not in the manifest" in r.stderr and
            [d["Label"] for d in r.dicts()] == ["unknown"],
            "rc %d, stderr %r, rows %r" % (r.rc, r.stderr, r.rows))


def check_variants(c, tool, data, fixtures):
    for v in fixtures.get("variants", []):
        label = "%s [%s] %s" % (v["capture"], v["mode"], " ".join(v["args"]))
        r = tool.extract([os.path.join(data, v["capture"])], v["mode"], v["args"])
        if not c.check("%s: exit 0" % label, r.rc == 0,
                       "exit %d, stderr %r (%s)" % (r.rc, r.stderr.strip(), v["why"])):
            continue
        if not check_table(c, label, r) or r.summary is None:
            continue
        c.equal("%s: flows" % label, len(r.rows), v["flows"])
        if "tcp" in v:
            got = sorted([int(float(d["Total Fwd Packets"])),
                          int(float(d["Total Backward Packets"]))]
                         for d in r.dicts() if d["Protocol"] == "6")
            c.check("%s: TCP flows [fwd, bwd] %s (%s)" % (label, v["tcp"], v["why"]),
                    got == v["tcp"], "got %s" % got)
        if "suppressed" in v:
            c.equal("%s: flows_suppressed" % label, r.summary.get("flows_suppressed"),
                    v["suppressed"])
        for why, n in v.get("ended", {}).items():
            c.equal("%s: flows ended by %s" % (label, why),
                    r.summary.get("flows_ended", {}).get(why), n)
        check_invariant(c, label, r, v["mode"])


def check_help(c, tool):
    r = tool.run(["--help"], want_csv=False, want_summary=False)
    c.equal("--help: exit 0", r.rc, 0)
    for opt in ALL_OPTIONS:
        c.check("--help mentions %s" % opt, opt in r.stdout)


def check_stdout(c, tool, data):
    path = os.path.join(data, "session-eth.pcap")
    for mode in MODES:
        a = tool.extract([path], mode, ["--seed", "1"])
        b = tool.extract([path], mode, ["--seed", "2"], stdout_csv=True)
        c.equal("stdout [%s]: exit 0" % mode, b.rc, 0)
        c.check("stdout [%s]: without -o the CSV goes to standard output, same bytes as -o "
                "(with another --seed)" % mode,
                b.csv_text is not None and b.csv_text == a.csv_text and len(b.rows) > 0,
                "stdout %d bytes, -o file %d bytes" % (len(b.csv_text or ""),
                                                       len(a.csv_text or "")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the ddos-flows executable")
    ap.add_argument("--data", required=True, help="tests/data (captures and fixtures.json)")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    data = os.path.abspath(a.data)
    with open(os.path.join(data, "fixtures.json")) as f:
        fixtures = json.load(f)

    c = Checks()
    tmp = tempfile.mkdtemp(prefix="ddosd-fixtures-")
    try:
        tool = Tool(binary, c, tmp)
        results = {}
        for name in sorted(fixtures["captures"]):
            for mode in MODES:
                results[(name, mode)] = check_fixture(c, tool, data, name,
                                                      fixtures["captures"][name], mode)
        check_linktypes(c, results)
        check_ns(c, results, fixtures)
        check_syn(c, results)
        check_truncated(c, tool, data)
        check_errors(c, tool, data)
        check_filter(c, tool, data, results)
        check_directories(c, tool, data)
        check_manifest(c, tool, data, fixtures)
        check_variants(c, tool, data, fixtures)
        check_help(c, tool)
        check_stdout(c, tool, data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.report()


if __name__ == "__main__":
    sys.exit(main())
