#!/usr/bin/env bash
# daemon_live_capture.sh - what live capture must not lose: ddosd -i on the host end of a veth
# pair whose other end lives in a network namespace this test creates; tcpreplay inside the
# namespace sends a burst of 43,550 packets (ddos-trafgen seed 12: a spoofed SYN flood of 40,000
# one-packet flows plus benign traffic, 5.2 MB) as fast as it can (--topspeed).
#   - The burst fits in the capture buffer (capture.buffer_mb, 64 MiB): the kernel must drop
#     nothing and ddosd must count every packet sent, however slowly it reads. (With libpcap's
#     immediate mode, TPACKET_V2, a 256 KiB snaplen made 256 frames of the 64 MiB and about half
#     of such a burst was dropped.)
#   - SIGTERM with the 40,000 flows still open: exit 0 within 5 s, and the shutdown flush loses
#     no record (flow_records_dropped / vectors_dropped in the final counters line equal the
#     ones /metrics said just before the signal; the flush used to drop what did not fit in the
#     inference and verdict rings, 25,000 records here).
#
# usage: daemon_live_capture.sh BUILD_DIR  (exit 77: not root, no iproute2/tcpreplay/curl, no netns)
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_live_capture.sh BUILD_DIR}"
[ "$(id -u)" -eq 0 ] || dd_skip "needs root (a veth pair and a network namespace)"
command -v ip >/dev/null || dd_skip "needs iproute2"
command -v tcpreplay >/dev/null || dd_skip "needs tcpreplay (apt-get install tcpreplay)"
command -v curl >/dev/null || dd_skip "needs curl"

w=$DD_WORK
tag=$$
ns=ddlc$tag
host_if=lch$tag
ns_if=lcn$tag
ip netns add "$ns" 2>/dev/null || dd_skip "cannot create a network namespace here"
DD_NETNS+=("$ns")
ip link add "$host_if" type veth peer name "$ns_if" || dd_die "cannot create a veth pair"
DD_LINKS+=("$host_if")
# No IPv6 on the pair: the kernel's own MLD/ND packets would not be part of the count.
sysctl -qw "net.ipv6.conf.$host_if.disable_ipv6=1" 2>/dev/null
ip link set "$ns_if" netns "$ns"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ns_if.disable_ipv6=1" 2>/dev/null
ip link set "$host_if" up
ip netns exec "$ns" ip link set "$ns_if" up

dd_trafgen "$w/burst.pcap" --seed 12 --scenario syn_flood --duration 5 --benign-clients 20 \
    --max-attack-packets 40000

port=$(dd_free_port)
mkdir -p "$w/log"
SECRET_KEY=itest-secret-key-0123456789abcdef dd_start_bg "$DD_DDOSD" -i "$host_if" \
    --redis none --api "127.0.0.1:$port" --model "$DD_MODEL" --log-dir "$w/log" \
    --set sensor.id=itest-live-capture
pid=$DD_LAST_PID
if ! dd_wait_file_re "$w/log/app.log" 'API listening' 30; then
    tail -n 20 "$w/log/app.log" 2>/dev/null
    dd_die "ddosd did not get ready on $host_if"
fi
sleep 0.3

ip netns exec "$ns" tcpreplay -K --topspeed -i "$ns_if" "$w/burst.pcap" >"$w/tcpreplay.out" 2>&1
rc=$?
sent=$(awk '/Actual:/ {print $2; exit}' "$w/tcpreplay.out")
dd_ok "tcpreplay sent the burst ($(grep -o '[0-9.]* pps' "$w/tcpreplay.out"), rc $rc)" "$rc"
sleep 2

metric() { awk -v k="ddosd_$1" '$1 == k {print $2}' "$w/metrics"; }
curl -s "http://127.0.0.1:$port/metrics" >"$w/metrics"
got=$(metric packets_received_total)
rdrop_before=$(($(metric flow_records_dropped_total) + $(metric vectors_dropped_total)))
active=$(metric flows_active)
dd_ok "ddosd counted every packet of the burst ($got of $sent)" $([ "$got" = "$sent" ] && echo 0 || echo 1)
echo "  flows open before SIGTERM: $active; records dropped while running: $rdrop_before"

kill -TERM "$pid"
dd_wait_pid "$pid" 5
dd_ok "ddosd exits 0 within 5 s of SIGTERM (got $DD_STATUS)" $((DD_STATUS != 0))
line=$(grep 'final counters' "$w/log/app.log" | tail -n 1)
echo "  ${line#*final counters: }"
kdrop=$(grep -Eo 'kernel drops [0-9]+\+[0-9]+' <<<"$line")
dd_ok "the kernel dropped none of it (final counters: ${kdrop:-none})" \
    $([ "$kdrop" = "kernel drops 0+0" ] && echo 0 || echo 1)
rdrop_after=$("$DD_PY" -c '
import re, sys
m1 = re.search(r"ring drops (\d+)", sys.argv[1]); m2 = re.search(r"\(attacks \d+, drops (\d+)\)", sys.argv[1])
print(int(m1.group(1)) + int(m2.group(1)) if m1 and m2 else -1)' "$line")
dd_ok "the shutdown flush of $active open flows lost no record (dropped $rdrop_before before, $rdrop_after after)" \
    $([ "$rdrop_after" = "$rdrop_before" ] && echo 0 || echo 1)
dd_finish
