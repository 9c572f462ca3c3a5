#!/usr/bin/env bash
# daemon_redis_sentinel.sh - a primary, a replica and three Sentinels (Debian's redis-sentinel, on
# free loopback ports, their own config files in the scratch directory: never the system
# Sentinel's 26379). ddosd finds the primary through Sentinel (redis.sentinels, redis.master_name);
# the primary is killed with -9 in the middle of a real-time replay; Sentinel promotes the replica;
# the sink follows it (asks Sentinel again on reconnect) and rewrites every verdict it holds (a
# new run_id): once ddosd is done, the new primary holds what an uninterrupted run against a plain
# redis-server wrote (daemon_check.py compare: every hash field except write times and TTLs,
# ddos:top, ddos:top:expiry members, counts per level). The log says what happened: the
# primary's address, the switch, the resync.
#
# An API-only node with redis.read_from "replica" reads from the replica Sentinel names, and after
# the failover answers the final verdicts from the promoted one.
#
# Also, Sentinel unreachable at start: with redis.required true ddosd exits 1 at once with a line
# naming every Sentinel it tried; with redis.required false (the default) it starts, says it is
# retrying, and connects when the Sentinels come up, logging in as an ACL user (redis.username:
# the server's default user may touch no key there).
#
# usage: daemon_redis_sentinel.sh BUILD_DIR   (exit 77: redis-server or redis-sentinel missing)
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_redis_sentinel.sh BUILD_DIR}"
dd_need_redis
command -v redis-sentinel >/dev/null || dd_skip "redis-sentinel is not installed (apt-get install redis-sentinel)"

w=$DD_WORK
speed=${DD_REALTIME_SPEED:-6}

# dd_sentinel_start NAME PORT PRIMARY_PORT: one Sentinel with its own (writable) config file.
sentinel_start() {
    local name=$1 port=$2 primary=$3 i
    mkdir -p "$w/$name"
    cat >"$w/$name/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
daemonize no
dir $w/$name
logfile $w/$name/sentinel.log
sentinel monitor itest 127.0.0.1 $primary 2
sentinel down-after-milliseconds itest 1000
sentinel failover-timeout itest 4000
sentinel parallel-syncs itest 1
EOF
    dd_start_bg redis-sentinel "$w/$name/sentinel.conf"
    printf -v "SENTINEL_PID_$name" %s "$DD_LAST_PID"
    for ((i = 0; i < 200; i++)); do
        [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.025
    done
    dd_die "redis-sentinel $name did not start (see $w/$name/sentinel.log)"
}

sentinel_ports() { # three distinct free ports, none of them 26379
    local p out=()
    while [ ${#out[@]} -lt 3 ]; do
        p=$(dd_free_port)
        [ "$p" = 26379 ] && continue
        [[ " ${out[*]} " == *" $p "* ]] && continue
        out+=("$p")
    done
    echo "${out[@]}"
}

# ---- 1. Sentinel unreachable at start ------------------------------------------------------------
read -r s1 s2 s3 <<<"$(sentinel_ports)"
dd_trafgen "$w/small.pcap" --seed 7 --scenario syn_flood --duration 6 --benign-clients 10 \
    --max-attack-packets 20000 --snaplen 128
cat >"$w/unreach.json" <<EOF
{"sensor": {"id": "itest-sentinel"},
 "redis": {"sentinels": ["127.0.0.1:$s1", "127.0.0.1:$s2", "127.0.0.1:$s3"],
           "master_name": "itest", "required": true}}
EOF
t0=$(date +%s.%N)
"$DD_DDOSD" -c "$w/unreach.json" -r "$w/small.pcap" --api none --model "$DD_MODEL" \
    >"$w/unreach.out" 2>&1
rc=$?
took=$("$DD_PY" -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
cat "$w/unreach.out"
dd_ok "Sentinel unreachable, redis.required true: exit 1 (got $rc, in $took s)" $((rc != 1))
dd_check "the error names the master and every Sentinel tried" \
    grep -q "no sentinel named the primary of itest (127.0.0.1:$s1: .*; 127.0.0.1:$s2: .*; 127.0.0.1:$s3: " "$w/unreach.out"
dd_check "the error says what to do" grep -q "set redis.required false" "$w/unreach.out"

# required false: starts, retries, connects once the Sentinels (and their primary) are up.
# That primary has an ACL user for ddosd (redis.username) and a default user that may touch no
# key: the verdicts reach it only when ddosd logs in as its user (AUTH user password).
dd_redis_start late
redis-cli -p "$DD_REDIS_PORT_late" ACL SETUSER ddosd-itest on '>itest-acl-pw' '~*' '&*' +@all >/dev/null
redis-cli -p "$DD_REDIS_PORT_late" ACL SETUSER default resetkeys >/dev/null
sed -e 's/"required": true/"required": false, "username": "ddosd-itest", "password": "${ITEST_REDIS_PW}"/' \
    "$w/unreach.json" >"$w/retry.json"
mkdir -p "$w/retry"
export ITEST_REDIS_PW=itest-acl-pw
dd_start_bg "$DD_DDOSD" -c "$w/retry.json" -r "$w/small.pcap" \
    --realtime=2 --api none --model "$DD_MODEL" --log-dir "$w/retry"
pid_retry=$DD_LAST_PID
dd_check "Sentinel unreachable, redis.required false: ddosd starts and says it retries" \
    dd_wait_file_re "$w/retry/app.log" "no sentinel named the primary of itest.*retrying" 5
for n in 1 2 3; do
    port_var=s$n
    sentinel_start "late$n" "${!port_var}" "$DD_REDIS_PORT_late"
done
dd_check "... and connects through Sentinel once it is up" \
    dd_wait_file_re "$w/retry/app.log" "sentinel 127.0.0.1:[0-9]+: the primary of itest is 127.0.0.1:$DD_REDIS_PORT_late" 15
dd_wait_pid "$pid_retry" 30
dd_ok "that run exits 0 (got $DD_STATUS)" $((DD_STATUS != 0))
hashes=$(redis-cli -p "$DD_REDIS_PORT_late" --scan --pattern 'ddos:verdict:*' | wc -l)
dd_ok "its verdicts reached the primary Sentinel named, as the ACL user ($hashes hashes)" $((hashes == 0))
dd_check "the default user could not have written them (NOPERM)" \
    bash -c "redis-cli -p $DD_REDIS_PORT_late HSET ddos:verdict:x a b | grep -q NOPERM"
for n in 1 2 3; do
    pv=SENTINEL_PID_late$n
    kill -KILL "${!pv}" 2>/dev/null
    wait "${!pv}" 2>/dev/null
done
dd_redis_kill late

# ---- 2. failover mid-replay ------------------------------------------------------------------------
dd_trafgen "$w/cap.pcap" --seed 53 --scenario syn_flood,udp_flood --duration 90 \
    --benign-clients 30 --max-attack-packets 300000 --snaplen 128
dd_redis_start a       # the uninterrupted run's plain server
dd_redis_start primary # Sentinel's primary ...
dd_redis_start replica # ... and its replica
port_a=$DD_REDIS_PORT_a
port_p=$DD_REDIS_PORT_primary
port_r=$DD_REDIS_PORT_replica
redis-cli -p "$port_r" REPLICAOF 127.0.0.1 "$port_p" >/dev/null
read -r s1 s2 s3 <<<"$(sentinel_ports)"
for n in 1 2 3; do
    port_var=s$n
    sentinel_start "s$n" "${!port_var}" "$port_p"
done
for ((i = 0; i < 200; i++)); do # the Sentinels have found the replica
    n=$(redis-cli -p "$s1" SENTINEL replicas itest 2>/dev/null | grep -c "^$port_r$")
    [ "$n" -ge 1 ] && [ "$(redis-cli -p "$port_r" INFO replication | grep -c 'master_link_status:up')" = 1 ] && break
    sleep 0.1
done
dd_ok "Sentinel sees the replica before the replay starts" $((n < 1))

cat >"$w/sentinel.json" <<EOF
{"sensor": {"id": "itest-restart"},
 "redis": {"sentinels": ["127.0.0.1:$s1", "127.0.0.1:$s2", "127.0.0.1:$s3"],
           "master_name": "itest"}}
EOF
# An API-only node reading from the replica (redis.read_from), found through the same Sentinels.
sed -e 's/"master_name": "itest"}/"master_name": "itest", "read_from": "replica"}/' \
    -e 's/"itest-restart"/"itest-api"/' "$w/sentinel.json" >"$w/api.json"
api_port=$(dd_free_port)
mkdir -p "$w/api"
dd_start_bg "$DD_DDOSD" --api-only -c "$w/api.json" --api "127.0.0.1:$api_port" --log-dir "$w/api"
# Sentinel learns a replica's link state from its INFO every 10 s: until then it names none
# healthy and the node reads from the primary, asking again every 5 s.
for ((i = 0; i < 250; i++)); do
    health=$(curl -s "http://127.0.0.1:$api_port/health" 2>/dev/null)
    [[ $health == *"following 127.0.0.1:$port_r"* ]] && break
    sleep 0.1
done
echo "API-only /health: $health"
dd_ok "the API-only node reads from the replica Sentinel names (127.0.0.1:$port_r) within 25 s" \
    $([[ $health == *"following 127.0.0.1:$port_r"* ]] && echo 0 || echo 1)

mkdir -p "$w/a" "$w/b"
dd_start_bg "$DD_DDOSD" -r "$w/cap.pcap" --realtime="$speed" --redis "redis://127.0.0.1:$port_a" \
    --api none --model "$DD_MODEL" --set sensor.id=itest-restart --log-dir "$w/a" \
    --verdicts-out "$w/a/v.jsonl"
pid_a=$DD_LAST_PID
dd_start_bg "$DD_DDOSD" -c "$w/sentinel.json" -r "$w/cap.pcap" --realtime="$speed" \
    --api none --model "$DD_MODEL" --log-dir "$w/b" --verdicts-out "$w/b/v.jsonl"
pid_b=$DD_LAST_PID

sleep 6
if kill -0 "$pid_b" 2>/dev/null; then
    keys=$(redis-cli -p "$port_p" DBSIZE)
    dd_redis_kill primary
    echo "kill -9 of the primary (127.0.0.1:$port_p, $keys keys) 6 s into the replay"
    dd_ok "ddosd was still replaying when the primary was killed" 0
else
    dd_ok "ddosd was still replaying when the primary was killed (it finished in under 6 s)" 1
fi
promoted=1
for ((i = 0; i < 200; i++)); do
    if redis-cli -p "$port_r" ROLE 2>/dev/null | head -n 1 | grep -q master; then
        promoted=0
        break
    fi
    sleep 0.1
done
dd_ok "Sentinel promoted the replica (127.0.0.1:$port_r) within 20 s" $promoted

limit=$((90 / speed + 60))
dd_wait_pid "$pid_a" "$limit"
rc_a=$DD_STATUS
dd_wait_pid "$pid_b" "$limit"
rc_b=$DD_STATUS
dd_ok "uninterrupted ddosd exits 0 (got $rc_a)" $((rc_a != 0))
dd_ok "ddosd through the failover exits 0 (got $rc_b)" $((rc_b != 0))
echo "--- what run b logged about Redis:"
grep -E "redis|sentinel" "$w/b/app.log" | head -n 20
dd_check "the log names the primary Sentinel gave at start (127.0.0.1:$port_p)" \
    grep -q "the primary of itest is 127.0.0.1:$port_p" "$w/b/app.log"
dd_check "the log says the primary is now the promoted replica" \
    grep -q "the primary of itest is now 127.0.0.1:$port_r (was 127.0.0.1:$port_p): following it" "$w/b/app.log"
dd_check "the log says the sink rewrote its verdicts on the new primary" \
    grep -q "server restarted or failed over; rewriting every verdict" "$w/b/app.log"

hi=$(redis-cli -p "$port_r" ZREVRANGE ddos:top 0 0)
ok=1
for ((i = 0; i < 50; i++)); do
    lv=$(curl -s "http://127.0.0.1:$api_port/api/threat-analysis?ip=$hi" | "$DD_PY" -c 'import json,sys; print(json.load(sys.stdin).get("threat_level",""))' 2>/dev/null)
    [[ $lv == high || $lv == critical ]] && { ok=0; break; }
    sleep 0.1
done
dd_ok "after the failover the API-only node answers $hi as the new primary says ($lv)" $ok

"$DD_PY" "$DD_LIBDIR/daemon_check.py" state --port "$port_a" --out "$w/state-a.json" ||
    dd_die "cannot read Redis a"
"$DD_PY" "$DD_LIBDIR/daemon_check.py" state --port "$port_r" --out "$w/state-b.json" ||
    dd_die "cannot read the new primary"
n_high=$("$DD_PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sum(1 for h in s["verdicts"].values() if h.get("threat_level") in ("high","critical")))' "$w/state-a.json")
dd_ok "the uninterrupted run has high or critical verdicts ($n_high)" $((n_high == 0))
"$DD_PY" "$DD_LIBDIR/daemon_check.py" agree --port "$port_r" --verdicts "$w/b/v.jsonl" \
    --label "new primary" >"$w/agree.out" 2>&1
cat "$w/agree.out"
dd_absorb "$w/agree.out"
"$DD_PY" "$DD_LIBDIR/daemon_check.py" compare "$w/state-a.json" "$w/state-b.json" \
    >"$w/compare.out" 2>&1
cat "$w/compare.out"
dd_absorb "$w/compare.out"
dd_finish
