# daemon_lib.sh - shared by the daemon_*.sh integration tests (sourced, never run).
#
# Owns the test's scratch directory and every process it starts: dd_start_bg records each pid,
# and the EXIT trap kills what is still running (children first), deletes network namespaces and
# veth links the test registered, then removes the scratch directory (kept when DD_KEEP=1, for
# debugging). Checks print "PASS ..." or "FAIL ..." and are totalled by dd_finish.
#
# Needs: bash, /usr/bin/python3, and for Redis tests redis-server and redis-cli (the tests exit
# 77, skipped, when redis-server is missing).
set -uo pipefail

DD_PY=/usr/bin/python3
DD_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DD_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ddosd-itest.XXXXXX")
DD_PIDS=()
DD_NETNS=()
DD_LINKS=()
dd_pass=0
dd_fail=0

dd_cleanup() {
    local pid
    for pid in "${DD_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    local ns link
    for ns in "${DD_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    for link in "${DD_LINKS[@]}"; do ip link del "$link" 2>/dev/null; done
    if [ "${DD_KEEP:-0}" = 1 ]; then
        echo "kept $DD_WORK"
    else
        rm -rf "$DD_WORK"
    fi
}
trap dd_cleanup EXIT
trap 'exit 130' INT TERM

dd_check() { # dd_check NAME COMMAND... : PASS when COMMAND succeeds
    local name=$1
    shift
    if "$@"; then
        echo "PASS $name"
        dd_pass=$((dd_pass + 1))
    else
        echo "FAIL $name"
        dd_fail=$((dd_fail + 1))
    fi
}

dd_ok() { # dd_ok NAME CONDITION_STATUS : record an already computed result (0 = pass)
    if [ "$2" -eq 0 ]; then
        echo "PASS $1"
        dd_pass=$((dd_pass + 1))
    else
        echo "FAIL $1"
        dd_fail=$((dd_fail + 1))
    fi
}

# Adds the counts of a Python checker's output ("N passed, M failed" on its last line).
dd_absorb() {
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL checker $1 gave no summary"
        dd_fail=$((dd_fail + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed}
    dd_pass=$((dd_pass + p))
    dd_fail=$((dd_fail + f))
}

dd_finish() {
    echo "$dd_pass passed, $dd_fail failed"
    [ "$dd_fail" -eq 0 ]
    exit $?
}

dd_die() {
    echo "ERROR: $*" >&2
    exit 1
}

dd_skip() {
    echo "SKIPPED: $*"
    exit 77
}

# Starts a command in the background; its pid is in $DD_LAST_PID and is killed at exit.
dd_start_bg() {
    "$@" &
    DD_LAST_PID=$!
    DD_PIDS+=("$DD_LAST_PID")
}

# Waits up to $2 seconds (fractions allowed) for pid $1 to exit; its status is in $DD_STATUS
# (124 when it did not exit in time). Returns 0 when it exited.
dd_wait_pid() {
    local pid=$1 limit=$2 t0
    t0=$(date +%s.%N)
    while kill -0 "$pid" 2>/dev/null; do
        if "$DD_PY" -c "import sys,time; sys.exit(time.time() - float(sys.argv[1]) < float(sys.argv[2]))" \
            "$t0" "$limit"; then
            DD_STATUS=124
            return 1
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    DD_STATUS=$?
    return 0
}

# Waits up to $3 seconds for the extended regex $2 to appear in file $1.
dd_wait_file_re() {
    local file=$1 re=$2 limit=$3 i
    for ((i = 0; i < limit * 20; i++)); do
        grep -Eq -- "$re" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

dd_free_port() {
    "$DD_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

dd_need_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        dd_skip "redis-server and redis-cli are not installed (apt-get install redis-server)"
}

# dd_redis_start NAME [PORT]: starts redis-server on 127.0.0.1 (a free port when PORT is not
# given; retried if another process takes it first), no persistence, its files under the
# scratch directory. Sets DD_REDIS_PORT_<NAME> and DD_REDIS_PID_<NAME>.
dd_redis_start() {
    local name=$1 want=${2:-} port attempt i
    for attempt in 1 2 3 4 5; do
        port=${want:-$(dd_free_port)}
        mkdir -p "$DD_WORK/redis-$name"
        dd_start_bg redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$DD_WORK/redis-$name" --logfile "$DD_WORK/redis-$name/redis-$port.log" \
            --daemonize no
        for ((i = 0; i < 200; i++)); do
            if [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ]; then
                printf -v "DD_REDIS_PORT_$name" %s "$port"
                printf -v "DD_REDIS_PID_$name" %s "$DD_LAST_PID"
                return 0
            fi
            kill -0 "$DD_LAST_PID" 2>/dev/null || break
            sleep 0.025
        done
        kill -KILL "$DD_LAST_PID" 2>/dev/null
        wait "$DD_LAST_PID" 2>/dev/null
        [ -n "$want" ] && [ "$attempt" -ge 3 ] && break
        sleep 0.1
    done
    dd_die "redis-server did not start (logs in $DD_WORK/redis-$name)"
}

# dd_redis_kill NAME: kill -9, as a crash would.
dd_redis_kill() {
    local pidvar=DD_REDIS_PID_$1
    kill -KILL "${!pidvar}" 2>/dev/null
    wait "${!pidvar}" 2>/dev/null
}

# dd_trafgen OUT.pcap ARGS...: a deterministic labelled capture (manifest OUT.json) or die.
dd_trafgen() {
    local out=$1
    shift
    "$DD_TRAFGEN" -q -o "$out" "$@" || dd_die "ddos-trafgen $* failed"
}

# dd_concat OUT IN1 IN2...: pcap files of one link type, in time order, appended into one.
dd_concat() {
    "$DD_PY" "$DD_LIBDIR/daemon_check.py" concat "$@" || dd_die "cannot concatenate $*"
}

# Paths of the programs under test, from the build directory given as $1 to every test.
dd_bins() {
    local build=$1
    DD_DDOSD=$build/app/ddosd
    DD_TRAFGEN=$build/trafgen/ddos-trafgen
    DD_MODEL=$DD_LIBDIR/../../models/ddosd-model.msgpack
    [ -x "$DD_DDOSD" ] || dd_die "$DD_DDOSD is not built"
    [ -x "$DD_TRAFGEN" ] || dd_die "$DD_TRAFGEN is not built"
    [ -r "$DD_MODEL" ] || dd_die "$DD_MODEL is missing"
    DD_MODEL=$(cd "$(dirname "$DD_MODEL")" && pwd)/$(basename "$DD_MODEL")
}
