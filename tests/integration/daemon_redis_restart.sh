#!/usr/bin/env bash
# daemon_redis_restart.sh - Redis dies (kill -9, no persistence) and comes back on the same port
# while ddosd replays a capture in real time; once ddosd is done, Redis must hold what an
# uninterrupted run wrote (docs/redis.md, "Redis restarted": the sink sees a new run_id and the
# verdict stage rewrites every verdict it holds).
#
# Two ddosd runs of the same capture (daemon_redis.sh's, 90 s of packet time) at --realtime=6
# (about 15 s each) run side by side, each with its own redis-server: run A is left alone; run B's
# server is killed 6 s in and restarted 1 s later on the same port. Compared afterwards
# (daemon_check.py state/compare): every verdict hash with every field except the write times
# (`updated`, the time in `sensor:<id>`) and the TTL, the members and scores of ddos:top, the
# members of ddos:top:expiry, and the count of IPs per level. Also: both runs exit 0, run B logs
# the resync, and each Redis holds exactly its own run's final verdicts (--verdicts-out: same
# addresses, levels, roles, scores, types, reasons, flow counts, first/last seen), which tells a
# resync problem apart from a run-to-run difference.
#
# usage: daemon_redis_restart.sh BUILD_DIR      (exit 77: redis-server missing)
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_redis_restart.sh BUILD_DIR}"
dd_need_redis

w=$DD_WORK
speed=${DD_REALTIME_SPEED:-6}
dd_trafgen "$w/cap.pcap" --seed 53 --scenario syn_flood,udp_flood --duration 90 \
    --benign-clients 30 --max-attack-packets 300000 --snaplen 128
dd_redis_start a
dd_redis_start b
port_a=$DD_REDIS_PORT_a
port_b=$DD_REDIS_PORT_b

run() { # run NAME PORT
    mkdir -p "$w/$1"
    dd_start_bg "$DD_DDOSD" -r "$w/cap.pcap" --realtime="$speed" --redis "redis://127.0.0.1:$2" \
        --api none --model "$DD_MODEL" --set sensor.id=itest-restart --log-dir "$w/$1" \
        --verdicts-out "$w/$1/v.jsonl"
}
run a "$port_a"
pid_a=$DD_LAST_PID
run b "$port_b"
pid_b=$DD_LAST_PID

sleep 6
if kill -0 "$pid_b" 2>/dev/null; then
    keys_before=$(redis-cli -p "$port_b" DBSIZE)
    dd_redis_kill b
    echo "killed redis-server b ($keys_before keys) 6 s into the replay"
    sleep 1
    dd_redis_start b "$port_b"
    echo "restarted redis-server b on port $port_b (empty: $(redis-cli -p "$port_b" DBSIZE) keys)"
    dd_ok "ddosd was still replaying when Redis was killed" 0
else
    dd_ok "ddosd was still replaying when Redis was killed (it finished in under 6 s)" 1
fi

limit=$((90 / speed + 60))
dd_wait_pid "$pid_a" "$limit"
rc_a=$DD_STATUS
dd_wait_pid "$pid_b" "$limit"
rc_b=$DD_STATUS
dd_ok "uninterrupted ddosd exits 0 (got $rc_a)" $((rc_a != 0))
dd_ok "interrupted ddosd exits 0 (got $rc_b)" $((rc_b != 0))
for r in a b; do
    if [ -s "$w/$r/error.log" ]; then
        echo "--- run $r error.log:"
        tail -n 8 "$w/$r/error.log"
    fi
done
dd_check "run b logged the restart and rewrote its verdicts" \
    grep -q "server restarted or failed over; rewriting every verdict" "$w/b/app.log"

"$DD_PY" "$DD_LIBDIR/daemon_check.py" state --port "$port_a" --out "$w/state-a.json" ||
    dd_die "cannot read Redis a"
"$DD_PY" "$DD_LIBDIR/daemon_check.py" state --port "$port_b" --out "$w/state-b.json" ||
    dd_die "cannot read Redis b"
n_high=$("$DD_PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sum(1 for h in s["verdicts"].values() if h.get("threat_level") in ("high","critical")))' "$w/state-a.json")
dd_ok "the uninterrupted run has high or critical verdicts ($n_high)" $((n_high == 0))
# The restart itself: Redis b must hold exactly what run b ended with (its --verdicts-out), as
# Redis a holds what run a ended with. Independent of run-to-run differences.
for r in a b; do
    port_var=port_$r
    "$DD_PY" "$DD_LIBDIR/daemon_check.py" agree --port "${!port_var}" --verdicts "$w/$r/v.jsonl" \
        --label "run $r" >"$w/agree-$r.out" 2>&1
    cat "$w/agree-$r.out"
    dd_absorb "$w/agree-$r.out"
done
# Against the uninterrupted run.
"$DD_PY" "$DD_LIBDIR/daemon_check.py" compare "$w/state-a.json" "$w/state-b.json" \
    >"$w/compare.out" 2>&1
cat "$w/compare.out"
dd_absorb "$w/compare.out"
dd_finish
