#!/usr/bin/env bash
# bench_daemon.sh - ddosd end to end: offline throughput, detection latency, memory per flow.
#
#   (a) throughput: `ddosd -r FILE --redis redis://... --api none` (the default model, one
#       shard unless --threads) against the bare libpcap read loop (ddos-bench-pcaploop) on the
#       same ddos-bench-gen capture, page cache warm, R alternating runs each, medians of
#       packets / wall-clock second (process start to exit, both programs timed the same way),
#       ratio goal >= 0.5. ddos-flows is run in the same rotation for reference. Redis is a
#       fresh redis-server on a free loopback port, emptied before each ddosd run.
#   (b) latency: a capture of 15 s of benign traffic followed by a SYN flood (ddos-trafgen seed
#       3: 9 sources to 10.20.1.31) replayed with --realtime into Redis; Redis is polled every
#       10 ms for the victim's hash reaching high; latency = the wall time it was first seen
#       minus the wall time the attack's first packet was replayed (bench/daemon_latency.py),
#       median of R runs, goal <= 1 s.
#   (c) memory: peak RSS (/usr/bin/time -v) of ddosd --redis none on a capture of 1M one-packet
#       SYN flows that all stay open (ddos-trafgen seed 12, --one-way, 33 s < the 60 s idle
#       timeout) with flows.max_flows=1048576, minus the peak RSS of the same command on a tiny
#       capture (the fixed cost), divided by the flows: goal <= 512 bytes per flow.
# A missed goal is reported, not failed: the exit status says whether the programs ran.
#
# Usage: bench/bench_daemon.sh [BUILD_DIR] [--packets N] [--runs R] [--seed S] [--threads N]
#                              [--only a,b,c]
#   BUILD_DIR   CMake build directory (default: build)
#   --packets N packets in the (a) capture (default 4000000; shared with bench_flows.sh)
#   --runs R    runs of each program in (a) and of the replay in (b) (default 3)
#   --seed S    ddos-bench-gen seed (default 1)
#   --threads N ddosd --threads for (a) (default 1)
#   --only LIST run only these parts (default a,b,c)
# Output: a table on stdout and BUILD_DIR/bench/bench_daemon.json.
# Exit: 0 measured; 1 a program failed; 2 usage or missing tools.
set -euo pipefail

PY=/usr/bin/python3
build=build
packets=4000000
runs=3
seed=1
threads=1
only=a,b,c

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}
die_usage() {
    echo "bench_daemon.sh: $*" >&2
    echo "Try 'bench/bench_daemon.sh --help'." >&2
    exit 2
}
die() {
    echo "bench_daemon.sh: $*" >&2
    exit 1
}
is_count() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0)); }

positional_seen=0
while (($# > 0)); do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --packets | --runs | --seed | --threads | --only)
        (($# >= 2)) || die_usage "$1 needs a value"
        declare "${1#--}=$2"
        shift 2
        ;;
    --packets=* | --runs=* | --seed=* | --threads=* | --only=*)
        name=${1%%=*}
        declare "${name#--}=${1#*=}"
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
is_count "$packets" || die_usage "--packets: '$packets' is not a positive integer"
is_count "$runs" || die_usage "--runs: '$runs' is not a positive integer"
is_count "$threads" || die_usage "--threads: '$threads' is not a positive integer"
[[ $seed =~ ^[0-9]+$ ]] || die_usage "--seed: '$seed' is not a non-negative integer"
[[ $only =~ ^[abc](,[abc])*$ ]] || die_usage "--only: a comma-separated subset of a,b,c"
want() { [[ ,$only, == *,$1,* ]]; }

[[ -d $build ]] || die_usage "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
ddosd=$build/app/ddosd
flows=$build/app/ddos-flows
gen=$build/bench/ddos-bench-gen
loop=$build/bench/ddos-bench-pcaploop
trafgen=$build/trafgen/ddos-trafgen
model=$src/models/ddosd-model.msgpack
check=$src/tests/integration/daemon_check.py
for tool in "$ddosd" "$flows" "$gen" "$loop" "$trafgen"; do
    [[ -x $tool ]] || {
        echo "bench_daemon.sh: $tool is missing; build it first:" >&2
        echo "  cmake --build $build --target ddosd ddos-flows ddos-bench-gen" \
            "ddos-bench-pcaploop ddos-trafgen" >&2
        exit 2
    }
done
for tool in "$PY" /usr/bin/time redis-server redis-cli; do
    command -v "$tool" >/dev/null || die_usage "$tool is required (apt-get install time redis-server python3-redis)"
done
"$PY" -c 'import redis' 2>/dev/null || die_usage "python3-redis is required (apt-get install python3-redis)"

outdir=$build/bench
rundir=$outdir/bench_daemon.d
mkdir -p "$rundir"
rm -rf "${rundir:?}"/*

# ---- a Redis of our own ----------------------------------------------------------------------
redis_pid=
cleanup() { # never fails: under set -e a failing trap command would replace the exit status
    if [[ -n $redis_pid ]]; then
        kill -KILL "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -f "${tmp_capture:-/nonexistent}" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=
for _ in 1 2 3 4 5; do
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$rundir/redis"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$rundir/redis" \
        --logfile "$rundir/redis/redis.log" --daemonize no &
    redis_pid=$!
    for _ in $(seq 200); do
        [[ $(redis-cli -p "$port" PING 2>/dev/null) == PONG ]] && break 2
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.025
    done
    kill -KILL "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
done
[[ -n $redis_pid ]] || die "redis-server did not start (see $rundir/redis)"
redis_url=redis://127.0.0.1:$port

now() { date +%s.%N; }
elapsed() { "$PY" -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.6f}")' "$1" "$2"; }

# run_timed NAME LOG CMD... : runs CMD; its wall time goes to $wall; on failure shows its log.
wall=0
run_timed() {
    local name=$1 log=$2 t0 t1 status=0
    shift 2
    t0=$(now)
    "$@" >"$log" 2>&1 || status=$?
    t1=$(now)
    wall=$(elapsed "$t0" "$t1")
    if ((status != 0)); then
        echo "bench_daemon.sh: $name failed (exit $status); its output:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

# ---- (a) throughput ----------------------------------------------------------------------------
if want a; then
    capture=$outdir/mixed-$packets-$seed.pcap
    if [[ ! -s $capture ]]; then
        echo "generating $capture ..." >&2
        tmp_capture=$capture.tmp.$$
        "$gen" -o "$tmp_capture" --packets "$packets" --seed "$seed" 2>"$rundir/gen.log" ||
            die "ddos-bench-gen failed: $(tail -n 3 "$rundir/gen.log")"
        sync "$tmp_capture"
        mv "$tmp_capture" "$capture"
        tmp_capture=
    else
        echo "reusing $capture" >&2
    fi
    size_kb=$(($(stat -c %s "$capture") / 1024))
    avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    if ((avail_kb < size_kb * 3 / 2)); then
        echo "bench_daemon.sh: warning: the capture may not stay in the page cache" >&2
    fi
    cat "$capture" >/dev/null
    "$loop" "$capture" >/dev/null || die "ddos-bench-pcaploop failed on $capture"
    for ((i = 1; i <= runs; i++)); do
        echo "(a) run $i/$runs: bare libpcap loop" >&2
        run_timed loop "$rundir/loop-$i.log" "$loop" "$capture"
        echo "$wall" >"$rundir/loop-$i.wall"
        echo "(a) run $i/$runs: ddosd" >&2
        redis-cli -p "$port" FLUSHALL >/dev/null
        run_timed ddosd "$rundir/ddosd-$i.log" "$ddosd" -r "$capture" --redis "$redis_url" \
            --api none --model "$model" --threads "$threads" --set sensor.id=bench
        echo "$wall" >"$rundir/ddosd-$i.wall"
        redis-cli -p "$port" DBSIZE >"$rundir/ddosd-$i.dbsize"
        echo "(a) run $i/$runs: ddos-flows" >&2
        run_timed ddos-flows "$rundir/flows-$i.log" "$flows" -r "$capture" -o /dev/null \
            --summary-json "$rundir/flows-$i.json"
        echo "$wall" >"$rundir/flows-$i.wall"
    done
fi

# ---- (b) detection latency ---------------------------------------------------------------------
if want b; then
    lat=$rundir/latency
    mkdir -p "$lat"
    "$trafgen" -q -o "$lat/benign.pcap" --seed 7 --scenario benign --duration 15 \
        --benign-clients 30 --snaplen 128 || die "ddos-trafgen (benign) failed"
    "$trafgen" -q -o "$lat/attack.pcap" --seed 3 --scenario syn_flood --duration 10 \
        --start 1767225615 --benign-clients 30 --snaplen 128 || die "ddos-trafgen (attack) failed"
    "$PY" "$check" concat "$lat/replay.pcap" "$lat/benign.pcap" "$lat/attack.pcap" ||
        die "cannot build the latency capture"
    victim=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator"]["instances"][0]["params"]["victims"][0])' "$lat/attack.json")
    cidr=$("$PY" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["generator"]["instances"][0]["cidr"]))' "$lat/attack.json")
    first_us=$("$PY" "$check" first-packet "$lat/replay.pcap" 0.0.0.0/0 ::/0)
    # shellcheck disable=SC2086
    attack_us=$("$PY" "$check" first-packet "$lat/replay.pcap" $cidr)
    echo "(b) victim $victim, attack from $cidr starts $(("$attack_us" - "$first_us")) us into the replay" >&2
    "$PY" "$src/bench/daemon_latency.py" --ddosd "$ddosd" --model "$model" \
        --capture "$lat/replay.pcap" --victim "$victim" --first-us "$first_us" \
        --attack-us "$attack_us" --port "$port" --runs "$runs" --workdir "$lat" \
        --out "$rundir/latency.json" || die "a latency run failed (logs in $lat)"
fi

# ---- (c) memory per flow -----------------------------------------------------------------------
if want c; then
    mem=$rundir/memory
    mkdir -p "$mem"
    "$trafgen" -q -o "$mem/flows1m.pcap" --seed 12 --scenario syn_flood --duration 40 --one-way \
        --benign-clients 0 --max-attack-packets 1070000 --snaplen 128 ||
        die "ddos-trafgen (1M flows) failed"
    "$trafgen" -q -o "$mem/tiny.pcap" --seed 12 --scenario syn_flood --duration 40 --one-way \
        --benign-clients 0 --max-attack-packets 100 --snaplen 128 || die "ddos-trafgen (tiny) failed"
    for kind in tiny flows1m; do
        echo "(c) peak RSS: ddosd on $kind" >&2
        run_timed "ddosd ($kind)" "$mem/$kind.log" /usr/bin/time -v "$ddosd" -r "$mem/$kind.pcap" \
            --redis none --api none --model "$model" --set flows.max_flows=1048576 \
            --set sensor.id=bench
        echo "$wall" >"$mem/$kind.wall"
    done
    echo "(c) peak RSS: ddos-flows on flows1m (reference)" >&2
    run_timed "ddos-flows" "$mem/flows-ref.log" /usr/bin/time -v "$flows" -r "$mem/flows1m.pcap" \
        -o /dev/null --summary-json "$mem/flows-ref.json"
fi

# ---- summary -----------------------------------------------------------------------------------
"$PY" - "$rundir" "$runs" "$only" "$outdir/bench_daemon.json" "$packets" "$seed" "$threads" <<'PY'
import json, os, platform, re, statistics, sys, time

rundir, runs, only, out_path, packets, seed, threads = sys.argv[1:]
runs = int(runs)
RATIO_GOAL, LATENCY_GOAL, BPF_GOAL = 0.5, 1.0, 512


def read(path):
    with open(path) as f:
        return f.read()


def final_counters(text):
    m = re.search(r"final counters: packets (\d+) .*?flows created (\d+) active (\d+) evicted (\d+)"
                  r".*?verdicts (\d+) IPs \(high (\d+), critical (\d+)\)", text)
    if not m:
        sys.exit("bench_daemon.sh: ddosd printed no final counters line")
    k = ("packets", "flows_created", "flows_active", "evicted", "ips", "high", "critical")
    return dict(zip(k, map(int, m.groups())))


def max_rss_kb(text):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not m:
        sys.exit("bench_daemon.sh: /usr/bin/time printed no maximum resident set size")
    return int(m.group(1))


def verdict(ok):
    return "met" if ok else "MISSED"


res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                "kernel": platform.release()}}
rows = []
if "a" in only:
    loop = [json.loads([l for l in read(f"{rundir}/loop-{i}.log").splitlines()
                        if l.startswith("{")][-1]) for i in range(1, runs + 1)]
    n = loop[0]["packets"]
    loop_wall = [float(read(f"{rundir}/loop-{i}.wall")) for i in range(1, runs + 1)]
    dd_wall = [float(read(f"{rundir}/ddosd-{i}.wall")) for i in range(1, runs + 1)]
    fl_wall = [float(read(f"{rundir}/flows-{i}.wall")) for i in range(1, runs + 1)]
    dd = [final_counters(read(f"{rundir}/ddosd-{i}.log")) for i in range(1, runs + 1)]
    dbsize = [int(read(f"{rundir}/ddosd-{i}.dbsize").split()[0]) for i in range(1, runs + 1)]
    loop_pps = statistics.median(n / w for w in loop_wall)
    dd_pps = statistics.median(n / w for w in dd_wall)
    fl_pps = statistics.median(n / w for w in fl_wall)
    loop_self = statistics.median(float(d["pps"]) for d in loop)
    ratio = dd_pps / loop_pps
    warn = [f"ddosd read {d['packets']} packets, the loop {n}" for d in dd if d["packets"] != n]
    res["throughput"] = {
        "packets": n, "runs": runs, "threads": int(threads),
        "bare_loop_pps": round(loop_pps), "bare_loop_self_reported_pps": round(loop_self),
        "ddosd_pps": round(dd_pps), "ddos_flows_pps": round(fl_pps),
        "ratio": round(ratio, 4), "ratio_goal": RATIO_GOAL, "ratio_met": ratio >= RATIO_GOAL,
        "ddosd_wall_s": dd_wall, "loop_wall_s": loop_wall, "ddos_flows_wall_s": fl_wall,
        "ddosd_counters": dd[-1], "redis_keys_after_run": dbsize, "warnings": warn,
    }
    rows += [("(a) bare libpcap loop (packets/s)", f"{loop_pps:,.0f}", "", ""),
             ("(a) ddosd -r, Redis on (packets/s)", f"{dd_pps:,.0f}", "", ""),
             ("(a) ratio ddosd / bare loop", f"{ratio:.3f}", f">= {RATIO_GOAL}",
              verdict(ratio >= RATIO_GOAL)),
             ("(a) ddos-flows, reference (packets/s)", f"{fl_pps:,.0f}", "", "")]
if "b" in only:
    lat = json.loads(read(f"{rundir}/latency.json"))
    med = lat["median_s"]
    res["latency"] = lat
    rows += [("(b) detection latency, median (s)", "not detected" if med is None
              else f"{med:.3f}", f"<= {LATENCY_GOAL}",
              "MISSED" if med is None else verdict(med <= LATENCY_GOAL)),
             ("(b)   worst run / from exec, median (s)",
              "-" if med is None else f"{lat['max_s']:.3f} / {lat['median_exec_s']:.3f}", "", "")]
if "c" in only:
    mem = f"{rundir}/memory"
    tiny_kb = max_rss_kb(read(f"{mem}/tiny.log"))
    big_kb = max_rss_kb(read(f"{mem}/flows1m.log"))
    ref_kb = max_rss_kb(read(f"{mem}/flows-ref.log"))
    big = final_counters(read(f"{mem}/flows1m.log"))
    ref = json.loads(read(f"{mem}/flows-ref.json"))
    nflows = big["flows_created"]
    bpf = (big_kb - tiny_kb) * 1024 / nflows if nflows else float("inf")
    res["memory"] = {
        "flows": nflows, "flows_evicted": big["evicted"], "peak_flows_ddos_flows": ref["peak_flows"],
        "rss_tiny_kb": tiny_kb, "rss_1m_kb": big_kb, "bytes_per_flow": round(bpf, 1),
        "bytes_per_flow_goal": BPF_GOAL, "bytes_per_flow_met": bpf <= BPF_GOAL,
        "ddos_flows_rss_kb": ref_kb, "ddos_flows_bytes_per_flow_table": ref["bytes_per_flow"],
        "wall_s": float(read(f"{mem}/flows1m.wall")),
    }
    rows += [("(c) peak RSS, tiny capture (fixed cost)", f"{tiny_kb / 1024:,.1f} MiB", "", ""),
             (f"(c) peak RSS, {nflows:,} open flows", f"{big_kb / 1024:,.1f} MiB", "", ""),
             ("(c) bytes per flow above the fixed cost", f"{bpf:,.0f}", f"<= {BPF_GOAL}",
              verdict(bpf <= BPF_GOAL)),
             ("(c) ddos-flows on the same capture (RSS)", f"{ref_kb / 1024:,.1f} MiB", "", "")]
with open(out_path + ".tmp", "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)

print("ddosd end to end")
if "a" in only:
    t = res["throughput"]
    print(f"  (a) {t['packets']:,} packets (ddos-bench-gen --packets {packets} --seed {seed}), "
          f"page cache warm, {runs} alternating runs, medians of packets per wall-clock second;"
          f" ddosd --threads {threads}, default model, Redis on loopback")
if "b" in only:
    print(f"  (b) SYN flood after {res['latency']['attack_offset_s']:.1f} s of benign traffic, "
          f"--realtime={res['latency']['speed']:g}, Redis polled every 10 ms, "
          f"{res['latency']['detected']}/{len(res['latency']['runs'])} runs detected")
print(f"  {'':44}{'measured':>14}  {'goal':>8}  result")
for name, value, goal, r in rows:
    print(f"  {name:44}{value:>14}  {goal:>8}  {r}")
if "a" in only:
    t = res["throughput"]
    print(f"  (a) ddosd runs (s): {', '.join(f'{w:.2f}' for w in t['ddosd_wall_s'])}; bare loop "
          f"(s): {', '.join(f'{w:.2f}' for w in t['loop_wall_s'])}; the loop's own figure "
          f"{t['bare_loop_self_reported_pps']:,} packets/s; ddosd verdicts "
          f"{t['ddosd_counters']['ips']:,} IPs ({t['ddosd_counters']['high']} high, "
          f"{t['ddosd_counters']['critical']} critical), Redis keys {t['redis_keys_after_run']}")
    for w in t["warnings"]:
        print(f"  warning: {w}")
if "c" in only:
    m = res["memory"]
    print(f"  (c) flows.max_flows=1048576, --redis none; evicted {m['flows_evicted']}; "
          f"ddos-flows counted {m['peak_flows_ddos_flows']:,} concurrent flows "
          f"({m['ddos_flows_bytes_per_flow_table']:.0f} table bytes per flow)")
print(f"  written: {out_path}")
PY
