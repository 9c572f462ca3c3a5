#!/usr/bin/python3
"""flows_summary_html.py - ddos-flows --summary-html on a generated capture (issue 13, "pictures
where people look").

A ddos-trafgen capture (a SYN flood, a UDP flood and benign clients, with its manifest) goes
through `ddos-flows --manifest --model --summary-html`; the page is parsed with the standard
library's html.parser and every number on it is checked against the CSV written in the same run
(and the packet totals against --summary-json):
  - rows, flagged rows (Predicted Label other than the model's benign class);
  - rows and flagged rows per predicted class and per manifest label;
  - the timeline: rows and flagged rows per bar, recomputed from the CSV's Timestamp;
  - the top flagged sources and destinations (exact counts: fewer than 1024 addresses here);
  - no script, a CSP, nothing fetched (no src/href attributes), every element closed in order;
  - a capture named like markup (<b>x&y'".pcap) appears escaped.
Then the failures: a path in a missing directory and a path that is a directory fail before
anything is read (exit 1, "cannot write PATH", no CSV created), and /dev/full fails at the end
(exit 1, "writing /dev/full failed"), as -o and --summary-json do.

usage: flows_summary_html.py --bin BUILD/app/ddos-flows --trafgen BUILD/trafgen/ddos-trafgen
       --model models/ddosd-model.msgpack"""

import argparse
import collections
import csv
import datetime
import html.parser
import json
import os
import subprocess
import sys
import tempfile


class Page(html.parser.HTMLParser):
    """Collects what the checks read: elements with an id, class rows, bars, addresses."""

    def __init__(self):
        super().__init__()
        self.ids = {}
        self.tags = collections.Counter()
        self.classes = {}  # table id -> {name: (rows, flagged)}
        self.bars = []  # (start, rows, flagged)
        self.tops = {}  # table id -> [(addr, flows, err)]
        self.table = None
        self.urls = []
        self.csp = None
        self.stack = []  # open elements: every one must be closed, in order
        self.unbalanced = []

    def handle_startendtag(self, tag, attrs):  # <rect .../>: opened and closed at once
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.unbalanced.append((tag, list(self.stack[-3:])))
        else:
            self.stack.pop()

    VOID = {"meta", "br", "line", "rect", "img", "hr", "input", "link"}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        if tag not in self.VOID:
            self.stack.append(tag)
        for k in ("src", "href", "action", "data"):
            if k in a:
                self.urls.append(a[k])
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a.get("content")
        if "id" in a:
            self.ids[a["id"]] = a
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr" and a.get("class") == "cls":
            self.classes.setdefault(self.table, {})[a["data-name"]] = (
                int(a["data-rows"]), int(a["data-flagged"]))
        if tag == "tr" and a.get("class") == "addr":
            self.tops.setdefault(self.table, []).append(
                (a["data-addr"], int(a["data-flows"]), int(a["data-err"])))
        if tag == "g" and a.get("class") == "b":
            self.bars.append((int(a["data-start"]), int(a["data-rows"]),
                              int(a["data-flagged"])))


def check(cond, what):
    if not cond:
        print(f"FAIL {what}")
        sys.exit(1)


def epoch_s(ts):
    # "2026-01-01 00:00:00.123456" (UTC), the CSV's Timestamp
    d = datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S.%f")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--trafgen", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ddosd-fsh-") as t:
        cap, man = os.path.join(t, "c.pcap"), os.path.join(t, "c.json")
        subprocess.run([args.trafgen, "-o", cap, "--seed", "5", "--scenario",
                        "syn_flood,udp_flood", "--duration", "12", "--benign-clients", "30",
                        "--max-attack-packets", "20000", "--snaplen", "128", "-q"], check=True)
        out, page, js = (os.path.join(t, n) for n in ("f.csv", "s.html", "s.json"))
        p = subprocess.run([args.bin, "-r", cap, "--manifest", man, "--model", args.model,
                            "-o", out, "--summary-html", page, "--summary-json", js, "-q"],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"ddos-flows exit {p.returncode}: {p.stderr}")
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        with open(js) as f:
            summary = json.load(f)
        text = open(page, encoding="utf-8").read()
        pg = Page()
        pg.feed(text)
        pg.close()

        # a page that runs nothing and fetches nothing
        check(pg.tags["script"] == 0 and "<script" not in text.lower(), "no script")
        check(pg.csp and "default-src 'none'" in pg.csp, f"CSP forbids everything: {pg.csp}")
        check(not pg.urls, f"nothing fetched: {pg.urls}")
        check(pg.tags["svg"] == 1, "the timeline is an inline SVG")
        check(not pg.unbalanced and not pg.stack,
              f"well nested: {pg.unbalanced[:3]}, left open {pg.stack}")

        benign = "benign"
        flagged = [r for r in rows if r["Predicted Label"] != benign]
        check(len(rows) > 1000 and len(flagged) > 100, f"a real mix: {len(rows)} rows, "
              f"{len(flagged)} flagged")
        val = lambda i: int(pg.ids[i]["data-value"])  # noqa: E731
        check(val("rows") == len(rows) == summary["flows"],
              f"rows: page {val('rows')}, CSV {len(rows)}, JSON {summary['flows']}")
        check(val("flagged") == len(flagged), f"flagged: page {val('flagged')}, CSV "
              f"{len(flagged)}")
        check(val("fact-packets") == summary["packets"], "packets as --summary-json")
        check(val("fact-bytes") == summary["bytes"], "bytes as --summary-json")
        check(val("fact-flows-created") == summary["flows_created"], "flows created")

        for table, col in (("predicted", "Predicted Label"), ("truth", "Label")):
            want = {}
            for r in rows:
                n, fl = want.get(r[col], (0, 0))
                want[r[col]] = (n + 1, fl + (r["Predicted Label"] != benign))
            check(pg.classes.get(table) == want,
                  f"{table} classes: page {pg.classes.get(table)}, CSV {want}")
        check(pg.classes["truth"].get("syn_flood", (0, 0))[1] > 0, "the SYN flood is flagged")

        width = val("bucket-seconds")
        want = collections.defaultdict(lambda: [0, 0])
        for r in rows:
            b = epoch_s(r["Timestamp"]) // width * width
            want[b][0] += 1
            want[b][1] += r["Predicted Label"] != benign
        got = {s: [n, fl] for s, n, fl in pg.bars if n}
        check(got == dict(want), f"timeline per {width} s: page {got}, CSV {dict(want)}")
        check(len(pg.bars) <= 120 and width == 1, f"{len(pg.bars)} bars of {width} s")

        for table, col in (("top-src", "Source IP"), ("top-dst", "Destination IP")):
            count = collections.Counter(r[col] for r in flagged)
            check(len(count) < 1024, f"{table}: few addresses, exact counts")
            want = sorted(count.items(), key=lambda kv: -kv[1])[:10]
            got = [(a, n) for a, n, _ in pg.tops[table]]
            check(all(e == 0 for _, _, e in pg.tops[table]), f"{table}: exact")
            check([n for _, n in got] == [n for _, n in want] and
                  all(count[a] == n for a, n in got), f"{table}: page {got}, CSV {want}")

        # A capture whose name is markup: shown as text, never as elements.
        evil = os.path.join(t, "<b>x&y'\".pcap")
        os.symlink(cap, evil)
        p = subprocess.run([args.bin, "-r", evil, "--model", args.model, "-o", os.devnull,
                            "--summary-html", page, "-q"], capture_output=True, text=True)
        check(p.returncode == 0, f"markup file name: exit {p.returncode}: {p.stderr}")
        text = open(page, encoding="utf-8").read()
        check("<b>x" not in text and "&lt;b&gt;x&amp;y&#39;&quot;.pcap" in text,
              "the file name is escaped")

        # Failures, the way -o fails: at once, exit 1, a message naming the path.
        for bad in (os.path.join(t, "missing", "s.html"), t):
            csv2 = os.path.join(t, "never.csv")
            p = subprocess.run([args.bin, "-r", cap, "--model", args.model, "-o", csv2,
                                "--summary-html", bad], capture_output=True, text=True)
            check(p.returncode == 1, f"{bad}: exit {p.returncode}, want 1")
            check(f"ddos-flows: cannot write {bad}: " in p.stderr, f"{bad}: {p.stderr!r}")
            check(len(p.stderr.strip().splitlines()) == 1, f"one line: {p.stderr!r}")
            check(not os.path.exists(csv2), "nothing read, no CSV written")
        if os.path.exists("/dev/full"):
            p = subprocess.run([args.bin, "-r", cap, "-o", os.devnull, "--summary-html",
                                "/dev/full", "-q"], capture_output=True, text=True)
            check(p.returncode == 1, f"/dev/full: exit {p.returncode}, want 1")
            check("ddos-flows: writing /dev/full failed: No space left on device" in p.stderr,
                  f"/dev/full: {p.stderr!r}")
        print(f"PASS ddos-flows --summary-html: {len(rows)} rows, {len(flagged)} flagged, "
              f"{len(pg.bars)} bars, page counts equal the CSV's; unwritable paths fail (exit 1)")


if __name__ == "__main__":
    main()
