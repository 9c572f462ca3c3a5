#!/usr/bin/env bash
# bench_live.sh - live capture: the highest packet rate ddosd takes without loss, next to tcpdump.
#
#   A veth pair whose far end lives in a network namespace this script creates (IPv6 off on both
#   ends, so the kernel adds no packets of its own). tcpreplay inside the namespace sends the
#   ddos-bench-gen mixed capture (full frames, about 600 bytes on average, 47k flows per 500k
#   packets) at stepped packet rates (--pps, the capture preloaded with -K and looped), SECONDS
#   per step. At every step each capturer runs alone on the host end, in alternating order:
#     - tcpdump -w /dev/null (its defaults: 2 MiB buffer, TPACKET_V3); loss = packets sent
#       minus packets captured (it also prints "dropped by kernel");
#     - ddosd -i (--redis none unless --redis, the default model, --threads), its counters read
#       from /metrics one second after the replay: loss = (sent - packets_received, at least
#       kernel_dropped + interface_dropped) / sent, plus (flow_records_dropped +
#       vectors_dropped) / flow_records (records the inference or verdict rings had no room
#       for, which live ddosd drops rather than stall the capture);
#     - with --before DIR, the ddosd of another build (DIR/app/ddosd) the same way;
#     - with --same-buffer, tcpdump -B with ddosd's capture buffer (capture.buffer_mb, 64 MiB)
#       as well ("tcpdump-B"): the same kernel memory for both, where plain tcpdump has 2 MiB.
#   A run is lossless below 0.1 % (--max-loss). On a shared machine a run can lose packets
#   because another process took the CPU for longer than the buffer lasts, so each capturer gets
#   up to R runs per step (--repeat) and keeps its best: the step is lossless when one run was.
#   Every capturer is treated the same way. Each run also records the capturer's CPU time per
#   packet (user + system, all threads, /proc/PID/stat, from just before the replay to just
#   before the stop): less disturbed by the machine's other load than the rates. With 2 or more CPUs the sender is pinned to CPU 0
#   (taskset; the veth's receive path, the kernel's copy into each capture buffer, runs there
#   too) and the capturer to CPU 1, so a capturer that uses more CPU does not slow its own
#   sender down (--no-pin: let the scheduler place them). A capturer's lossless rate is the highest rate
#   tcpreplay achieved ("Rated: ... pps") at a lossless step; the sender shares the machine, so
#   the achieved rate can be under the asked one. The ratio ddosd / tcpdump is printed (goal
#   >= 0.8). When tcpdump is lossless at the highest rate the sender reached, its real limit is
#   higher than measured and the printed ratio is an upper bound (the output says so).
# Needs root, iproute2, tcpreplay, tcpdump, curl. A missed goal is reported, not failed.
#
# Usage: bench/bench_live.sh [BUILD_DIR] [--rates LIST] [--seconds S] [--packets N]
#                            [--threads N] [--before DIR] [--redis] [--max-loss PCT]
#                            [--same-buffer] [--repeat R] [--no-pin]
#   BUILD_DIR     CMake build directory (default: build)
#   --rates LIST  packet rates per step, comma-separated, k/M suffixes, "max" for tcpreplay
#                 --topspeed (default 100k,200k,300k,400k,500k,600k,800k,max)
#   --seconds S   seconds per step (default 5)
#   --packets N   packets in the generated capture (default 300000; looped to fill a step)
#   --threads N   ddosd --threads (default 1)
#   --before DIR  also measure DIR/app/ddosd (e.g. the session-start build) in the same run
#   --redis       run ddosd with a throwaway redis-server on a free loopback port
#   --max-loss P  loss in percent below which a step counts as lossless (default 0.1)
#   --same-buffer also run tcpdump -B 65536 (ddosd's default buffer)
#   --repeat R    runs per capturer and step, the best kept; stops at the first lossless run
#                 (default 2)
#   --no-pin      do not pin the sender and the capturer to CPUs 0 and 1
# Output: a table on stdout and BUILD_DIR/bench/bench_live.json.
# Exit: 0 measured; 1 a program failed; 2 usage or missing tools.
set -euo pipefail

PY=/usr/bin/python3
build=build
rates=100k,200k,300k,400k,500k,600k,800k,max
seconds=5
packets=300000
threads=1
before=
use_redis=0
same_buffer=0
pin=1
repeat=2
max_loss=0.1

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}
die_usage() {
    echo "bench_live.sh: $*" >&2
    echo "Try 'bench/bench_live.sh --help'." >&2
    exit 2
}
die() {
    echo "bench_live.sh: $*" >&2
    exit 1
}

positional_seen=0
while (($# > 0)); do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --rates | --seconds | --packets | --threads | --before | --max-loss | --repeat)
        (($# >= 2)) || die_usage "$1 needs a value"
        v=$2
        case $1 in
        --rates) rates=$v ;; --seconds) seconds=$v ;; --packets) packets=$v ;;
        --threads) threads=$v ;; --before) before=$v ;; --max-loss) max_loss=$v ;;
        --repeat) repeat=$v ;;
        esac
        shift 2
        ;;
    --redis)
        use_redis=1
        shift
        ;;
    --same-buffer)
        same_buffer=1
        shift
        ;;
    --no-pin)
        pin=0
        shift
        ;;
    -*) die_usage "unknown option '$1'" ;;
    *)
        ((positional_seen == 0)) || die_usage "unexpected argument '$1'"
        build=$1
        positional_seen=1
        shift
        ;;
    esac
done
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds > 0)) || die_usage "--seconds wants a positive integer"
[[ $packets =~ ^[0-9]+$ ]] && ((packets >= 1000)) || die_usage "--packets wants at least 1000"
[[ $threads =~ ^[0-9]+$ ]] && ((threads > 0)) || die_usage "--threads wants a positive integer"
[[ $repeat =~ ^[0-9]+$ ]] && ((repeat > 0)) || die_usage "--repeat wants a positive integer"
[ "$(id -u)" -eq 0 ] || die_usage "needs root (a veth pair in a network namespace)"
for t in ip tcpreplay tcpdump curl; do
    command -v "$t" >/dev/null || die_usage "needs $t (apt-get install iproute2 tcpreplay tcpdump curl)"
done
if ((pin)) && { [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; }; then
    pin=0
fi
send_cpu=()
cap_cpu=()
if ((pin)); then
    send_cpu=(taskset -c 0)
    cap_cpu=(taskset -c 1)
fi
((use_redis == 0)) || command -v redis-server >/dev/null || die_usage "--redis needs redis-server"

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" 2>/dev/null && pwd) || die_usage "no build directory $build"
ddosd=$build/app/ddosd
gen=$build/bench/ddos-bench-gen
model=$src/models/ddosd-model.msgpack
[ -x "$ddosd" ] || die_usage "$ddosd is not built (cmake --build $build --target ddosd)"
[ -x "$gen" ] || die_usage "$gen is not built (cmake --build $build --target ddos-bench-gen)"
if [ -n "$before" ]; then
    before_bin=$(cd "$before" 2>/dev/null && pwd)/app/ddosd
    [ -x "$before_bin" ] || die_usage "--before: no $before/app/ddosd"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-live.XXXXXX")
tag=$$
ns=ddbench$tag
host_if=dbh$tag
ns_if=dbn$tag
# The capturer and the sender running now (started in a $(...) subshell) are in $work/running
# and $work/sender until they were waited for, redis-server in $work/redis.pid: an interrupted
# run kills just those.
cleanup() {
    local p
    for p in $(cat "$work/sender" "$work/running" "$work/redis.pid" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$host_if" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns" || die "cannot create a network namespace"
ip link add "$host_if" type veth peer name "$ns_if" || die "cannot create a veth pair"
sysctl -qw "net.ipv6.conf.$host_if.disable_ipv6=1" 2>/dev/null || true
ip link set "$ns_if" netns "$ns"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ns_if.disable_ipv6=1" 2>/dev/null || true
ip link set "$host_if" up
ip netns exec "$ns" ip link set "$ns_if" up

"$gen" -o "$work/mixed.pcap" -n "$packets" >/dev/null 2>"$work/gen.err" || {
    cat "$work/gen.err" >&2
    die "ddos-bench-gen failed"
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_url=none
if ((use_redis)); then
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
        --daemonize no >"$work/redis.log" 2>&1 &
    echo $! >"$work/redis.pid"
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$rport" PING 2>/dev/null)" = PONG ] && break
        sleep 0.05
    done
    redis_url=redis://127.0.0.1:$rport
fi

wait_re() { # wait_re FILE REGEX SECONDS
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# send RATE: replays for $seconds at RATE; sets sent and achieved (pps).
send() {
    local rate=$1 args limit
    if [ "$rate" = max ]; then
        args=(--topspeed --duration="$seconds")
        limit=$((5000000 * seconds))
    else
        args=(--pps="$rate" --duration="$((seconds * 3))") # a starved sender still ends
        limit=$((rate * seconds))
    fi
    # ip netns exec and taskset exec: the pid is tcpreplay's.
    ip netns exec "$ns" "${send_cpu[@]}" tcpreplay -K -q "${args[@]}" --loop=0 --limit="$limit" \
        -i "$ns_if" "$work/mixed.pcap" >"$work/tcpreplay.out" 2>&1 &
    local sp=$!
    echo "$sp" >"$work/sender"
    wait "$sp" || {
        cat "$work/tcpreplay.out" >&2
        die "tcpreplay failed"
    }
    : >"$work/sender"
    sent=$(awk '/Actual:/ {print $2; exit}' "$work/tcpreplay.out")
    achieved=$(awk '/Rated:/ {for (i = 1; i < NF; i++) if ($(i + 1) == "pps") print int($i)}' \
        "$work/tcpreplay.out" | head -n 1)
}

# CPU time (user + system, all threads) of process $1 so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU microseconds per packet sent between two cpu_ticks readings: CPU used per packet.
cpu_per_pkt() {
    "$PY" -c 'import os, sys
us = (int(sys.argv[2]) - int(sys.argv[1])) * 1e6 / os.sysconf("SC_CLK_TCK")
print("%.3f" % (us / max(int(sys.argv[3]), 1)))' "$@"
}

# run_tcpdump RATE [TCPDUMP_ARGS...]: prints "sent achieved loss_pct kernel_drops 0 cpu_us"
run_tcpdump() {
    local rate=$1
    shift
    "${cap_cpu[@]}" tcpdump -i "$host_if" -n -w /dev/null "$@" >/dev/null 2>"$work/tcpdump.err" &
    local p=$!
    echo "$p" >"$work/running"
    wait_re "$work/tcpdump.err" 'listening on' 10 || die "tcpdump did not start"
    sleep 0.3
    local c0 c1
    c0=$(cpu_ticks "$p")
    send "$rate"
    sleep 1
    c1=$(cpu_ticks "$p")
    kill -INT "$p"
    wait "$p" 2>/dev/null || true
    : >"$work/running"
    local captured kdrop
    captured=$(awk '/packets captured/ {print $1}' "$work/tcpdump.err")
    kdrop=$(awk '/dropped by kernel/ {print $1}' "$work/tcpdump.err")
    "$PY" -c 'import sys; s, a, c, k = map(int, sys.argv[1:5]); print(s, a, f"{max(s - c, k, 0) / s * 100:.4f}", k, 0, sys.argv[5])' \
        "$sent" "$achieved" "${captured:-0}" "${kdrop:-0}" "$(cpu_per_pkt "$c0" "$c1" "$sent")"
}

# run_ddosd BIN RATE: prints "sent achieved loss_pct kernel_drops ring_drops cpu_us"
run_ddosd() {
    local bin=$1 rate=$2 port
    rm -rf "$work/log"
    mkdir -p "$work/log"
    port=$(free_port)
    SECRET_KEY=bench-live-secret-0123456789abcdef "${cap_cpu[@]}" "$bin" -i "$host_if" \
        --redis "$redis_url" --api "127.0.0.1:$port" --model "$model" --threads "$threads" \
        --log-dir "$work/log" --set sensor.id=bench-live >/dev/null 2>"$work/ddosd.err" &
    local p=$!
    echo "$p" >"$work/running"
    wait_re "$work/log/app.log" 'API listening' 30 || {
        tail -n 5 "$work/log/app.log" "$work/ddosd.err" >&2
        die "$bin did not start"
    }
    sleep 0.3
    local c0 c1
    c0=$(cpu_ticks "$p")
    send "$rate"
    sleep 1
    c1=$(cpu_ticks "$p")
    curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics" || die "no /metrics from $bin"
    kill -TERM "$p"
    wait "$p" 2>/dev/null || true
    : >"$work/running"
    "$PY" - "$sent" "$achieved" "$work/metrics" "$(cpu_per_pkt "$c0" "$c1" "$sent")" <<'EOF'
import sys
sent, achieved = int(sys.argv[1]), int(sys.argv[2])
m = {}
for line in open(sys.argv[3]):
    if line.startswith("#") or not line.strip():
        continue
    name, _, value = line.rpartition(" ")
    m[name] = float(value)
def get(n):
    return int(m.get("ddosd_" + n, 0))
kernel = get("kernel_dropped_total") + get("interface_dropped_total")
ring = get("flow_records_dropped_total") + get("vectors_dropped_total")
records = max(get("flow_records_total"), 1)
lost = max(sent - get("packets_received_total"), kernel, 0)
print(sent, achieved, f"{(lost / sent + ring / records) * 100:.4f}", kernel, ring, sys.argv[4])
EOF
}

echo "live capture on a veth pair: $(nproc) CPUs, $seconds s per step, ddos-bench-gen capture" \
    "of $packets packets (looped), ddosd --threads $threads, redis ${redis_url}, best of $repeat" \
    "run(s) per step, $( ((pin)) && echo "sender on CPU 0, capturer on CPU 1" || echo "not pinned")"
tools=(tcpdump ddosd)
[ -n "$before" ] && tools+=(before)
((same_buffer)) && tools+=(tcpdump-B)
printf '%-10s %-8s %10s %10s %9s %12s %10s %10s %6s %4s\n' tool rate sent achieved "loss %" \
    kernel_drops ring_drops "cpu us/pkt" load runs
results=$work/results.txt
: >"$results"
step=0
IFS=, read -r -a rate_list <<<"$rates"
for r in "${rate_list[@]}"; do
    case $r in
    max) rate=max ;;
    *k) rate=$((${r%k} * 1000)) ;;
    *M) rate=$((${r%M} * 1000000)) ;;
    *) rate=$r ;;
    esac
    [[ $rate == max || $rate =~ ^[0-9]+$ ]] || die_usage "bad rate '$r'"
    order=("${tools[@]}")
    if ((step % 2)); then # alternate who goes first: drift in the machine's load hits both
        order=()
        for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[$i]}"); done
    fi
    for t in "${order[@]}"; do
        best=
        for ((n = 1; n <= repeat; n++)); do
            load=$(cut -d' ' -f1 /proc/loadavg)
            case $t in
            tcpdump) out=$(run_tcpdump "$rate") ;;
            tcpdump-B) out=$(run_tcpdump "$rate" -B 65536) ;;
            ddosd) out=$(run_ddosd "$ddosd" "$rate") ;;
            before) out=$(run_ddosd "$before_bin" "$rate") ;;
            esac
            read -r s a l k g c <<<"$out"
            if [ -z "$best" ] || "$PY" -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$l" "${best_l}"; then
                best="$s $a $l $k $g $c $load"
                best_l=$l
            fi
            "$PY" -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$l" "$max_loss" && break
        done
        read -r s a l k g c load <<<"$best"
        printf '%-10s %-8s %10s %10s %9s %12s %10s %10s %6s %4s\n' "$t" "$r" "$s" "$a" "$l" "$k" "$g" \
            "$c" "$load" "$((n > repeat ? repeat : n))"
        echo "$t $r $s $a $l $k $g $c $load" >>"$results"
    done
    step=$((step + 1))
done

mkdir -p "$build/bench"
"$PY" - "$results" "$max_loss" "$build/bench/bench_live.json" "$seconds" "$packets" "$threads" \
    "$redis_url" <<'EOF'
import json, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
max_loss = float(sys.argv[2])
out = {"seconds_per_step": int(sys.argv[4]), "packets_in_capture": int(sys.argv[5]),
       "threads": int(sys.argv[6]), "redis": sys.argv[7], "max_loss_pct": max_loss,
       "steps": [], "lossless_pps": {}}
top = max(int(r[3]) for r in rows)
for tool, rate, sent, achieved, loss, kernel, ring, cpu, load in rows:
    out["steps"].append({"tool": tool, "rate": rate, "sent": int(sent), "achieved_pps": int(achieved),
                         "loss_pct": float(loss), "kernel_drops": int(kernel), "ring_drops": int(ring),
                         "cpu_us_per_packet": float(cpu), "loadavg_1m": float(load)})
for tool in dict.fromkeys(r[0] for r in rows):
    ok = [int(r[3]) for r in rows if r[0] == tool and float(r[4]) < max_loss]
    out["lossless_pps"][tool] = max(ok) if ok else 0
print()
for tool, pps in out["lossless_pps"].items():
    print(f"{tool:10s} lossless (< {max_loss} %) up to {pps:,} packets/s")
td = out["lossless_pps"].get("tcpdump", 0)
tops = {tool: max(int(r[3]) for r in rows if r[0] == tool) for tool in out["lossless_pps"]}
if td and tops.get("tcpdump") and td >= tops["tcpdump"] * 0.98:
    print(f"  (tcpdump was lossless at the highest rate the sender reached next to it: its real "
          f"limit is higher, the ratios below are upper bounds)")
tb = out["lossless_pps"].get("tcpdump-B", 0)
if tb:
    for tool in ("ddosd", "before"):
        if tool in out["lossless_pps"]:
            ratio = out["lossless_pps"][tool] / tb
            out[f"ratio_{tool}_to_tcpdump_same_buffer"] = round(ratio, 3)
            print(f"ratio {tool} / tcpdump -B 65536 lossless rate: {ratio:.2f}")
for tool in ("ddosd", "before"):
    if tool in out["lossless_pps"] and td:
        ratio = out["lossless_pps"][tool] / td
        out[f"ratio_{tool}_to_tcpdump"] = round(ratio, 3)
        goal = "goal >= 0.8: " + ("met" if ratio >= 0.8 else "MISSED") if tool == "ddosd" else ""
        print(f"ratio {tool} / tcpdump lossless rate: {ratio:.2f}  {goal}")
# CPU per packet (user + system of the capturer, all threads) at its lossless steps: a figure the
# machine's other load disturbs less than the rates. 1e6 / it is the rate one core would take.
out["cpu_us_per_packet"] = {}
for tool in out["lossless_pps"]:
    c = sorted(float(r[7]) for r in rows if r[0] == tool and float(r[4]) < max_loss and float(r[7]) > 0)
    if c:
        med = c[len(c) // 2]
        out["cpu_us_per_packet"][tool] = med
        print(f"{tool:10s} CPU per packet at its lossless steps: median {med:.2f} us "
              f"(one core: ~{1e6 / med:,.0f} packets/s)")
cd, ct = out["cpu_us_per_packet"].get("ddosd"), out["cpu_us_per_packet"].get("tcpdump")
if cd and ct:
    print(f"CPU per packet, tcpdump / ddosd: {ct / cd:.2f}")
json.dump(out, open(sys.argv[3], "w"), indent=1)
print(f"written {sys.argv[3]}")
EOF
