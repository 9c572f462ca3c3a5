#!/usr/bin/env bash
# daemon_live.sh - ddosd captures live (-i) on the host end of a veth pair whose other end lives
# in a network namespace this test creates; tcpreplay inside the namespace sends a generated SYN
# flood capture (ddos-trafgen seed 3: 9 real sources to 10.20.1.31, with a little benign
# traffic) at a fixed packet rate. After the replay, SIGTERM: ddosd must exit 0 within 5 s and
# its --verdicts-out must show the victim high or critical (role victim, flows counted) and no
# benign-only host high; the kernel must not have dropped most of the packets.
#
# usage: daemon_live.sh BUILD_DIR      (exit 77: not root, no iproute2/tcpreplay, or no netns)
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_live.sh BUILD_DIR}"
[ "$(id -u)" -eq 0 ] || dd_skip "needs root (a veth pair and a network namespace)"
command -v ip >/dev/null || dd_skip "needs iproute2"
command -v tcpreplay >/dev/null || dd_skip "needs tcpreplay (apt-get install tcpreplay)"

w=$DD_WORK
tag=$$
ns=dddl$tag
host_if=dlh$tag
ns_if=dln$tag
pps=${DD_LIVE_PPS:-10000}

ip netns add "$ns" 2>/dev/null || dd_skip "cannot create a network namespace here"
DD_NETNS+=("$ns")
ip link add "$host_if" type veth peer name "$ns_if" || dd_die "cannot create a veth pair"
DD_LINKS+=("$host_if")
# No IPv6 on the pair: the kernel's own MLD/ND packets on link-up are not part of the test.
sysctl -qw "net.ipv6.conf.$host_if.disable_ipv6=1" 2>/dev/null
ip link set "$ns_if" netns "$ns"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ns_if.disable_ipv6=1" 2>/dev/null
ip link set "$host_if" up
ip netns exec "$ns" ip link set "$ns_if" up
ip netns exec "$ns" ip link set lo up

dd_trafgen "$w/cap.pcap" --seed 3 --scenario syn_flood --duration 10 --benign-clients 5 \
    --max-attack-packets 60000
packets=$("$DD_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator"]["packets"])' "$w/cap.json")

mkdir -p "$w/log"
dd_start_bg "$DD_DDOSD" -i "$host_if" --redis none --api none --model "$DD_MODEL" \
    --set sensor.id=itest-live --log-dir "$w/log" --verdicts-out "$w/v.jsonl"
pid=$DD_LAST_PID
if ! dd_wait_file_re "$w/log/app.log" 'ready: live' 20; then
    cat "$w/log/app.log" 2>/dev/null | tail -n 20
    dd_die "ddosd did not get ready on $host_if"
fi
sleep 0.3

t0=$(date +%s.%N)
ip netns exec "$ns" tcpreplay -q -i "$ns_if" --pps="$pps" "$w/cap.pcap" >"$w/tcpreplay.out" 2>&1
rc=$?
t1=$(date +%s.%N)
dd_ok "tcpreplay sent $packets packets at $pps/s inside namespace $ns (rc $rc, $(
    "$DD_PY" -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$t0" "$t1") s)" "$rc"
[ "$rc" -eq 0 ] || cat "$w/tcpreplay.out"
sleep 1

kill -TERM "$pid"
dd_wait_pid "$pid" 5
rc=$DD_STATUS
dd_ok "ddosd exits 0 within 5 s of SIGTERM (got $rc)" $((rc != 0))
[ "$rc" -eq 0 ] || tail -n 20 "$w/log/app.log"

# The final summary line counts packets; most of what was sent must have been seen.
seen=$(grep -Eo 'packets [0-9]+' "$w/log/app.log" | tail -n 1 | awk '{print $2}')
seen=${seen:-0}
dd_ok "ddosd saw most of the replayed packets ($seen of $packets)" \
    $((seen * 10 < packets * 9))

"$DD_PY" "$DD_LIBDIR/daemon_check.py" verdicts --manifest "$w/cap.json" --verdicts "$w/v.jsonl" \
    --sensor itest-live --open-flows >"$w/check.out" 2>&1
cat "$w/check.out"
dd_absorb "$w/check.out"
dd_finish
