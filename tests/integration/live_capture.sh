#!/usr/bin/env bash
# live_capture.sh - ddos-flows -i on a real interface: a veth pair whose far end lives in a
# network namespace this test creates. Traffic (ping, UDP, TCP to a closed port) goes from the
# namespace to the host end only; ddos-flows captures on the host end, stops on SIGINT, and the
# flows it wrote are checked. Then, with tcpreplay installed, a second run takes a burst: 20,000
# 600-byte UDP frames (12 MB, one flow each) sent --topspeed must all be counted, the kernel
# dropping none (with libpcap's immediate mode its 2 MiB buffer held 8 of the 256 KiB frames and
# 98 % of such a burst was lost). Needs root and iproute2; exits 77 (skipped) otherwise.
#
# usage: live_capture.sh PATH_TO_ddos-flows
set -uo pipefail
bin=${1:?usage: live_capture.sh PATH_TO_ddos-flows}
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIPPED: needs root and iproute2"
    exit 77
fi
tag=$$
ns=ddlive$tag
host_if=ddh$tag
ns_if=ddn$tag
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    ip link del "$host_if" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
if ! ip netns add "$ns" 2>/dev/null; then
    echo "SKIPPED: cannot create a network namespace here"
    exit 77
fi
ip link add "$host_if" type veth peer name "$ns_if"
ip link set "$ns_if" netns "$ns"
ip addr add 10.199.0.1/24 dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add 10.199.0.2/24 dev "$ns_if"
ip netns exec "$ns" ip link set "$ns_if" up
ip netns exec "$ns" ip link set lo up

"$bin" -i "$host_if" -o "$work/flows.csv" --summary-json "$work/summary.json" \
    --no-progress 2>"$work/stderr" &
pid=$!
# Wait until libpcap is capturing (the start line is printed after pcap_activate).
for _ in $(seq 50); do
    grep -q "capturing on" "$work/stderr" 2>/dev/null && break
    sleep 0.1
done
sleep 0.3

# A UDP listener on the host end, so the probes do not draw ICMP port-unreachables.
/usr/bin/python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.199.0.1", 5353)); s.settimeout(5)
try:
    for _ in range(20): s.recv(64)
except OSError: pass' &
listener=$!
sleep 0.2
ip netns exec "$ns" /usr/bin/python3 -c '
import socket, struct, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in range(5):  # echo requests, id 0x4242; the host kernel answers each
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"ddosd-live"
    icmp.sendto(body[:2] + struct.pack("!H", csum(body)) + body[4:], ("10.199.0.1", 0))
    time.sleep(0.05)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("10.199.0.2", 40000))
for _ in range(20):
    udp.sendto(b"probe\n", ("10.199.0.1", 5353)); time.sleep(0.01)
for _ in range(3):  # a closed port: SYN, then the host answers RST
    t = socket.socket(); t.settimeout(1)
    try: t.connect(("10.199.0.1", 9))
    except OSError: pass
    t.close()
'
wait "$listener" 2>/dev/null
sleep 0.5
kill -INT "$pid"
wait "$pid"
rc=$?
pid=

/usr/bin/python3 - "$work/flows.csv" "$work/summary.json" "$rc" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
summary = json.load(open(sys.argv[2]))
results = []
def expect(name, cond):
    results.append(bool(cond))
    print(("PASS " if cond else "FAIL ") + name)
def pkts(r):
    return int(r["Total Fwd Packets"]) + int(r["Total Backward Packets"])
expect(f"ddos-flows exits 0 after SIGINT (rc={sys.argv[3]})", sys.argv[3] == "0")
icmp = [r for r in rows if r["Protocol"] == "1"]
udp = [r for r in rows if r["Protocol"] == "17" and r["Destination Port"] == "5353"]
tcp = [r for r in rows if r["Protocol"] == "6" and "9" in (r["Source Port"], r["Destination Port"])]
expect(f"one ICMP echo flow, 5 requests and 5 replies (got {[(r['Total Fwd Packets'], r['Total Backward Packets']) for r in icmp]})",
       len(icmp) == 1 and icmp[0]["Total Fwd Packets"] == "5" and icmp[0]["Total Backward Packets"] == "5")
expect("the ICMP flow starts at the namespace end", icmp and icmp[0]["Source IP"] == "10.199.0.2")
expect("the ICMP flow is keyed by the echo identifier", icmp and icmp[0]["Source Port"] == str(0x4242))
expect(f"one UDP flow to 5353: 20 packets of 6 bytes (got {[pkts(r) for r in udp]})",
       len(udp) == 1 and udp[0]["Total Fwd Packets"] == "20" and udp[0]["Total Length of Fwd Packets"] == "120")
expect(f"three TCP flows to port 9, each SYN then RST (got {len(tcp)})",
       len(tcp) == 3 and all(r["SYN Flag Count"] == "1" and r["RST Flag Count"] == "1" for r in tcp))
total = sum(pkts(r) for r in rows)
expect(f"every decoded packet is in a flow ({total} == {summary['decode']['ok']})",
       total == summary["decode"]["ok"])
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
sys.exit(0 if all(results) else 1)
PY
status=$?
[ "$status" -eq 0 ] || exit "$status"

if ! command -v tcpreplay >/dev/null; then
    echo "SKIP the burst: tcpreplay is not installed"
    exit 0
fi
/usr/bin/python3 - "$work/burst.pcap" <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(20000):
        payload = bytes(600 - 42)
        udp = struct.pack("!HHHH", 10000 + i % 50000, 7, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                         bytes([10, 199, 0, 2]), bytes([10, 199, 0, 1])) + udp
        eth = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + ip
        f.write(struct.pack("<IIII", 1767225600, i, len(eth), len(eth)) + eth)
PY
"$bin" -i "$host_if" -o /dev/null --summary-json "$work/burst.json" --no-progress \
    2>"$work/burst.err" &
pid=$!
for _ in $(seq 50); do
    grep -q "capturing on" "$work/burst.err" 2>/dev/null && break
    sleep 0.1
done
sleep 0.3
ip netns exec "$ns" tcpreplay -K --topspeed -i "$ns_if" "$work/burst.pcap" >"$work/tcpreplay.out" 2>&1
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
pid=
/usr/bin/python3 - "$work/burst.json" "$rc" "$work/tcpreplay.out" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))
rate = re.search(r"([0-9.]+) pps", open(sys.argv[3]).read())
got = s.get("packets", 0)
ok = sys.argv[2] == "0" and got >= 20000
print(("PASS " if ok else "FAIL ") +
      f"a burst of 20000 frames at {rate.group(1) if rate else '?'} pps: all counted (got {got}, rc {sys.argv[2]})")
print(f"{int(ok)} passed, {int(not ok)} failed")
sys.exit(0 if ok else 1)
PY
