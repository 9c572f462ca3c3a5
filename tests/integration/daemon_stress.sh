#!/usr/bin/env bash
# daemon_stress.sh - ddosd itself with two capture shards and two inference workers on a
# generated capture of about half a million packets: every ring and hand-over of app/daemon.h
# (reader -> shards bursts and free lists, shards -> workers records, shards -> stage alerts,
# workers -> stage scored records, the done flags at shutdown) carries real traffic. Registered
# by tests/CMakeLists.txt (label stress); scripts/test.sh runs it in the ThreadSanitizer
# tree, where any report fails the run (TSAN_OPTIONS halt_on_error=1, exitcode=66, and a
# "WARNING: ThreadSanitizer" line in the output also counts).
#
# Checks: exit 0; no sanitizer report; the final counters line shows every packet read; the
# --verdicts-out file is sane (documented fields, valid values), every victim of the two SYN
# floods and the UDP flood reached high or critical, with its attack flows counted. (Whether
# benign hosts stay below high is the model's business, checked by daemon_redis, not here.)
#
# usage: daemon_stress.sh BUILD_DIR [PACKETS_BUDGET_PER_ATTACK]
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_stress.sh BUILD_DIR}"
budget=${2:-150000}
w=$DD_WORK
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS }halt_on_error=1 exitcode=66 second_deadlock_stack=1"

dd_trafgen "$w/cap.pcap" --seed 11 --scenario syn_flood,udp_flood,syn_flood --duration 30 \
    --benign-clients 60 --max-attack-packets "$budget" --snaplen 128
packets=$("$DD_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator"]["packets"])' "$w/cap.json")
echo "capture: $packets packets"

t0=$(date +%s.%N)
timeout 900 "$DD_DDOSD" -r "$w/cap.pcap" --threads 2 --workers 2 --redis none --api none \
    --model "$DD_MODEL" --set sensor.id=stress --verdicts-out "$w/v.jsonl" \
    >"$w/stdout" 2>"$w/stderr"
rc=$?
took=$("$DD_PY" -c 'import sys,time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$t0")
dd_ok "ddosd --threads 2 --workers 2 exits 0 (got $rc after $took s; 66 = ThreadSanitizer)" "$rc"
if grep -q "ThreadSanitizer\|AddressSanitizer\|runtime error:" "$w/stderr"; then
    dd_ok "no sanitizer report" 1
    grep -A 30 -m 1 "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:" "$w/stderr"
else
    dd_ok "no sanitizer report" 0
fi
[ "$rc" -eq 0 ] || tail -n 30 "$w/stderr"
seen=$(grep -Eo 'packets [0-9]+' "$w/stderr" | tail -n 1 | awk '{print $2}')
dd_ok "every packet was read (${seen:-none} of $packets)" $((${seen:-0} != packets))

"$DD_PY" "$DD_LIBDIR/daemon_check.py" verdicts --manifest "$w/cap.json" --verdicts "$w/v.jsonl" \
    --sensor stress --open-flows --no-benign >"$w/check.out" 2>&1
cat "$w/check.out"
dd_absorb "$w/check.out"
dd_finish
