#!/usr/bin/python3
"""shared_captures.py - runs ddos-flows (meant to be the ASan+UBSan build) on every capture of
../shared/data/captures, third-party traffic nobody on the project wrote.

For each capture, in both modes (--compat fixed and cic):
  - exit status 0 and no sanitizer report ("runtime error", AddressSanitizer, LeakSanitizer);
  - the CSV parses and every row has the header's column count;
  - no packet is lost: fixed: sum(Total Fwd + Total Backward Packets) == decode.ok;
    cic: that sum + flows_suppressed == decode.ok - packets_skipped.
For the one-way floods, the fixed-mode flow count must equal the number of distinct canonical
5-tuples tshark finds in the capture (an independent decoder), when tshark is installed.

The shared data is not part of the repository: when ../shared/data (relative to the repository
root) is missing this prints "SKIPPED: ../shared/data not present" and exits 77 (ctest: skipped).

Prints one line per capture (packets, flows fixed/cic, elapsed) and per check, then
"N passed, M failed"; exits 1 on any failure.

Usage: /usr/bin/python3 tests/integration/shared_captures.py --bin build-asan/app/ddos-flows \
           [--shared-dir ../shared/data]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowcheck import MODES, Checks, run_flows, sanitizer_marks  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# One-way floods: every packet's 5-tuple is a flow of its own or repeats one, with no TCP
# teardown and no gap near a timeout, so flows == distinct 5-tuples.
FLOODS = ("syn2020-chunk", "syn-ecn-cwr-spoofed", "isakmp-amplification", "udp-flood-port0",
          "syn-flood-single-source")
TSHARK_FIELDS = ("ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "udp.srcport",
                 "tcp.dstport", "udp.dstport", "ip.proto")


def run_tool(binary, capture, mode, work):
    """ddos-flows -r capture --compat mode into work/<mode>; a flowcheck.Run."""
    return run_flows(binary, ["-r", capture, "--compat", mode, "-q"], os.path.join(work, mode),
                     500)


def first(value):
    """tshark joins repeated fields (an ICMP error's inner header) with commas: keep the
    outer one."""
    return value.split(",")[0] if value else ""


def tshark_tuples(tshark, capture):
    """Distinct canonical 5-tuples (protocol, sorted endpoints) of the capture's IP packets,
    or None with an error text. IP reassembly is off so that, like ddos-flows, a non-first
    fragment is a portless packet of its own."""
    cmd = [tshark, "-r", capture, "-n", "-o", "ip.defragment:FALSE", "-o",
           "ipv6.defragment:FALSE", "-T", "fields", "-E", "separator=\t"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=500)
    if p.returncode != 0:
        return None, p.stderr.decode("utf-8", "replace").strip()
    tuples = set()
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        f = [first(x) for x in line.split("\t")]
        f += [""] * (len(TSHARK_FIELDS) - len(f))
        ip_src, ip6_src, ip_dst, ip6_dst, tsp, usp, tdp, udp_, proto = f
        src, dst = ip_src or ip6_src, ip_dst or ip6_dst
        if not src or not dst:
            continue  # not IP
        sport = int(tsp or usp or 0)
        dport = int(tdp or udp_ or 0)
        a, b = (src, sport), (dst, dport)
        tuples.add((proto, min(a, b), max(a, b)))
    return tuples, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the ddos-flows executable")
    ap.add_argument("--shared-dir",
                    default=os.environ.get("DDOSD_SHARED_DATA")
                    or os.path.join(REPO_ROOT, "..", "shared", "data"),
                    help="shared data folder (default: $DDOSD_SHARED_DATA, which scripts/test.sh "
                         "--shared sets, else ../shared/data from the repository root)")
    a = ap.parse_args()
    shared = os.path.abspath(a.shared_dir)
    captures_dir = os.path.join(shared, "captures")
    if not os.path.isdir(captures_dir):
        print(f"SKIPPED: {shared} not present (scripts/test.sh --shared DIR points at it)")
        print("(looked for %s)" % captures_dir)
        return 77
    binary = os.path.abspath(a.bin)
    tshark = shutil.which("tshark")
    if not tshark:
        print("note: tshark is not installed: the flood 5-tuple checks are skipped")

    c = Checks()
    names = sorted(n for n in os.listdir(captures_dir)
                   if n.endswith((".pcap", ".pcapng", ".cap")))
    c.check("shared captures found in %s" % captures_dir, len(names) > 0)
    tmp = tempfile.mkdtemp(prefix="ddosd-shared-")
    try:
        for name in names:
            path = os.path.join(captures_dir, name)
            work = os.path.join(tmp, name)
            os.makedirs(work)
            res = {m: run_tool(binary, path, m, work) for m in MODES}
            sf = res["fixed"].summary or {}
            print("%s: %s packets, flows fixed %d / cic %d, elapsed %.2f s / %.2f s"
                  % (name, sf.get("packets", "?"), len(res["fixed"].rows), len(res["cic"].rows),
                     res["fixed"].elapsed, res["cic"].elapsed))
            for mode in MODES:
                r = res[mode]
                rc, stderr, header, rows, summary = r.rc, r.stderr, r.header, r.rows, r.summary
                err = r.csv_error if r.csv_text is not None else "no CSV written"
                label = "%s [%s]" % (name, mode)
                c.check("%s: exit 0" % label, rc == 0, "exit %s, stderr: %s" % (rc, stderr[-2000:]))
                marks = sanitizer_marks(stderr)
                c.check("%s: no sanitizer report" % label, not marks,
                        "%s in stderr:\n%s" % (", ".join(marks), stderr[-4000:]))
                if not c.check("%s: csv and summary written" % label,
                               err is None and summary is not None, err or "no summary"):
                    continue
                bad = [i + 2 for i, row in enumerate(rows) if len(row) != len(header)]
                c.check("%s: %d rows have the header's %d columns" % (label, len(rows),
                                                                     len(header)),
                        not bad, "lines %s" % bad[:10])
                c.check("%s: summary flows == rows" % label, summary.get("flows") == len(rows),
                        "summary %s, rows %d" % (summary.get("flows"), len(rows)))
                try:
                    total = r.packet_sum()
                except (ValueError, IndexError) as e:
                    c.check("%s: no packet lost" % label, False, "cannot sum packets: %s" % e)
                    continue
                ok = summary["decode"]["ok"]
                if mode == "fixed":
                    c.check("%s: no packet lost (rows hold %d, decode.ok %d)" % (label, total, ok),
                            total == ok and summary.get("packets_skipped") == 0,
                            "difference %d, skipped %s" % (ok - total,
                                                           summary.get("packets_skipped")))
                else:
                    sup, skip = summary["flows_suppressed"], summary["packets_skipped"]
                    c.check("%s: no packet lost (rows %d + suppressed %d == ok %d - skipped %d)"
                            % (label, total, sup, ok, skip), total + sup == ok - skip,
                            "difference %d" % (ok - skip - total - sup))

            stem = os.path.splitext(name)[0]
            if stem in FLOODS:
                if not tshark:
                    print("SKIP %s: flows == distinct 5-tuples (tshark not installed)" % name)
                    continue
                tuples, terr = tshark_tuples(tshark, path)
                rows = res["fixed"].rows
                if tuples is None:
                    c.check("%s: tshark reads it" % name, False, terr)
                    continue
                c.check("%s [fixed]: %d flows == %d distinct 5-tuples seen by tshark"
                        % (name, len(rows), len(tuples)), len(rows) == len(tuples))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.report()


if __name__ == "__main__":
    sys.exit(main())
