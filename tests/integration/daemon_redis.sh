#!/usr/bin/env bash
# daemon_redis.sh - ddosd replays a labelled capture into a real redis-server; the keys of
# docs/redis.md are checked against the capture's ground truth and against --verdicts-out.
#
# The capture (ddos-trafgen, seed 53, 90 s, 30 benign clients): a SYN flood from 4 real sources
# to 10.20.1.25 from 22 s to the end, and a UDP flood from 29 real sources to three servers from
# 11 s to 56 s (it ends 34 s before the capture does, so its episodes end: attack_end events).
# Checks (tests/integration/daemon_check.py):
#   - ddosd exits 0;
#   - every victim has ddos:verdict:<ip> with role victim, our sensor, TTL > 0, and high or
#     critical while its attack still runs at the capture end;
#   - ddos:top has one member per hash with the hash's score, victims above every benign-only
#     host; ddos:events has attack_start for every victim and attack_end for the ended ones;
#   - --verdicts-out has the same addresses as Redis with the same fields; victims reached high,
#     a real attacker of each flood is flagged, no benign-only host ever reached high.
#
# usage: daemon_redis.sh BUILD_DIR      (exit 77: redis-server missing)
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_redis.sh BUILD_DIR}"
dd_need_redis

w=$DD_WORK
dd_trafgen "$w/cap.pcap" --seed 53 --scenario syn_flood,udp_flood --duration 90 \
    --benign-clients 30 --max-attack-packets 300000 --snaplen 128
dd_redis_start main
port=$DD_REDIS_PORT_main
sensor=itest-redis

"$DD_DDOSD" -r "$w/cap.pcap" --redis "redis://127.0.0.1:$port" --api none --model "$DD_MODEL" \
    --set sensor.id=$sensor --verdicts-out "$w/v.jsonl" >"$w/stdout" 2>"$w/stderr"
rc=$?
dd_ok "ddosd -r CAPTURE --redis redis://127.0.0.1:$port exits 0 (got $rc)" $((rc != 0))
if [ "$rc" -ne 0 ]; then
    tail -n 20 "$w/stderr"
fi
grep -E 'redis:|verdicts:' "$w/stderr" | tail -n 3

"$DD_PY" "$DD_LIBDIR/daemon_check.py" verdicts --manifest "$w/cap.json" --verdicts "$w/v.jsonl" \
    --sensor $sensor --attackers >"$w/check-verdicts.out" 2>&1
cat "$w/check-verdicts.out"
dd_absorb "$w/check-verdicts.out"
"$DD_PY" "$DD_LIBDIR/daemon_check.py" redis --port "$port" --manifest "$w/cap.json" \
    --verdicts "$w/v.jsonl" --sensor $sensor --ended-before 25 >"$w/check-redis.out" 2>&1
cat "$w/check-redis.out"
dd_absorb "$w/check-redis.out"
dd_finish
