#!/usr/bin/env bash
# run.sh - the main job, end to end, on a fresh machine: install what is missing, build, make a
# capture of mixed traffic, turn it into flows with ddos-flows, and show what came out.
# When ../shared/data is present, its labelled real captures are extracted too.
#
# usage: scripts/run.sh [--packets N]      (default 200000)
# output: out/mixed.pcap, out/mixed-flows.csv, out/shared-flows.csv (when ../shared exists)
set -euo pipefail
cd "$(dirname "$0")/.."
packets=200000
[ "${1:-}" = "--packets" ] && packets=${2:?--packets needs a number}

scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target ddos-flows ddos-bench-gen >/dev/null
mkdir -p out

echo "== generating out/mixed.pcap ($packets packets of mixed flows)"
build/bench/ddos-bench-gen -o out/mixed.pcap --packets "$packets" --seed 7
echo
echo "== ddos-flows -r out/mixed.pcap -o out/mixed-flows.csv"
build/app/ddos-flows -r out/mixed.pcap -o out/mixed-flows.csv --no-progress

show() {
    /usr/bin/python3 - "$1" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
protos = collections.Counter()
pkts = collections.Counter()
for r in rows:
    key = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(r["Protocol"], "other")
    if "Label" in r:
        key = r["Label"]
    protos[key] += 1
    pkts[key] += int(float(r["Total Fwd Packets"])) + int(float(r["Total Backward Packets"]))
print(f"\n{'group':<20}{'flows':>10}{'packets':>12}")
for k, n in protos.most_common():
    print(f"{k:<20}{n:>10}{pkts[k]:>12}")
top = sorted(rows, key=lambda r: -float(r["Flow Packets/s"] or 0))[:5]
print("\nfastest flows (packets/s):")
for r in top:
    print(f"  {r['Source IP']}:{r['Source Port']} -> {r['Destination IP']}:{r['Destination Port']}"
          f" proto {r['Protocol']}  {float(r['Flow Packets/s']):.0f} pkt/s"
          f"  {r['Total Fwd Packets']}/{r['Total Backward Packets']} packets"
          + (f"  [{r['Label']}]" if 'Label' in r else ""))
PY
}
show out/mixed-flows.csv

if [ -f ../shared/data/manifest.json ]; then
    echo
    echo "== ddos-flows --manifest ../shared/data/manifest.json -o out/shared-flows.csv"
    build/app/ddos-flows --manifest ../shared/data/manifest.json -o out/shared-flows.csv \
        --no-progress
    show out/shared-flows.csv
else
    echo
    echo "(../shared/data not present: skipping the labelled real captures)"
fi
echo
echo "CSV files are in out/. Try: build/app/ddos-flows --help"
