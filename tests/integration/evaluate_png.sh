#!/bin/bash
# evaluate_png.sh BUILD_DIR - evaluate.py's picture: on a small ddos-trafgen capture (a SYN flood
# and a UDP flood), `evaluate.py --out R.json` writes R.png beside it (per-class bars, per-IP
# outcomes, the victims' timeline) and --png names another file; both are real PNGs of the
# expected size (three panels side by side).
set -euo pipefail
B=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/ddosd-evalpng-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$B/trafgen/ddos-trafgen" -o "$T/c.pcap" --seed 2 --scenario syn_flood,udp_flood --duration 12 \
  --benign-clients 30 --max-attack-packets 20000 --snaplen 128 -q
/usr/bin/python3 "$REPO/scripts/evaluate.py" --manifest "$T/c.json" --bin "$B" --out "$T/r.json" \
  --jobs 1 > "$T/out.txt"
/usr/bin/python3 "$REPO/scripts/evaluate.py" --manifest "$T/c.json" --bin "$B" --view flows \
  --png "$T/flows.png" --jobs 1 > /dev/null
/usr/bin/python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
def size(p):
    with open(p, "rb") as f:
        h = f.read(24)
    assert h[:8] == b"\x89PNG\r\n\x1a\n", f"{p}: not a PNG"
    return struct.unpack(">II", h[16:24])
w, h = size(f"{t}/r.png")
assert w > 2.5 * h, f"r.png is {w}x{h}: three panels side by side expected"
w1, h1 = size(f"{t}/flows.png")
assert w1 < w / 2, f"flows.png is {w1}x{h1}: one panel (the flow view) expected"
assert "wrote " + f"{t}/r.png" in open(f"{t}/out.txt").read()
print(f"PASS evaluate.py pictures: r.png {w}x{h}, flows.png {w1}x{h1}")
PY
