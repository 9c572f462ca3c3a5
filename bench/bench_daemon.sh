#!/usr/bin/env bash
# bench_daemon.sh - ddosd end to end: offline throughput with and without Redis, detection latency
# in Redis and in the API, memory per flow and per judged IP; optionally against a baseline build
# measured in the same run (--before), so every figure has its "before" beside it.
#
#   (a) throughput: `ddosd -r FILE --api none` with Redis (a fresh redis-server on a free loopback
#       port, emptied before each run) and with `--redis none` (the default model, one shard
#       unless --threads), against the bare libpcap read loop (ddos-bench-pcaploop) on the same
#       ddos-bench-gen capture, page cache warm, R alternating runs of everything, medians of
#       packets / wall-clock second (process start to exit, every program timed the same way);
#       ratio goal >= 0.5 for both. ddos-flows is run in the same rotation for reference. CPU
#       seconds (user + system, /usr/bin/time) are printed too: on a shared machine they move
#       far less with the neighbours' load than wall-clock rates do.
#   (b) latency: a capture of 15 s of benign traffic followed by a SYN flood (ddos-trafgen seed
#       3: 9 sources to 10.20.1.31) replayed with --realtime into Redis with the API on; Redis and
#       /api/threat-analysis are polled every 5 ms for the victim reaching high; latency = the
#       wall time it was first seen minus the wall time the attack's first packet was replayed
#       (bench/daemon_latency.py), median of R runs, goal <= 0.3 s in both.
#   (c) memory per flow: peak RSS (/usr/bin/time -v) of ddosd --redis none on a capture of 1M
#       one-packet SYN flows that all stay open (ddos-trafgen seed 12, --one-way, 33 s < the 60 s
#       idle timeout) with flows.max_flows=1048576, minus the peak RSS of the same command on a
#       tiny capture (the fixed cost), divided by the flows: goal <= 512 bytes per flow.
#   (d) memory per judged IP: peak RSS of ddosd --redis none on two captures of the same flows
#       (ddos-bench-gen --packets 2000000 --snaplen 128), one with the default 20,000 client
#       addresses and one drawn from 1,000,000 (--clients): the difference in peak RSS divided
#       by the difference in judged IPs (the final "verdicts N IPs") is what one more IP costs,
#       flows and fixed cost cancelling out: goal <= 256 bytes per IP.
# A missed goal is reported, not failed: the exit status says whether the programs ran.
#
# Usage: bench/bench_daemon.sh [BUILD_DIR] [--before BUILD_DIR] [--packets N] [--runs R]
#                              [--seed S] [--threads N] [--only a,b,c,d]
#   BUILD_DIR   CMake build directory (default: build): the "after"
#   --before D  also measure the ddosd of build directory D (its ddosd only; loop, generators and
#               helpers come from BUILD_DIR) in the same rotation: the "before" column
#   --packets N packets in the (a) capture (default 4000000; shared with bench_flows.sh)
#   --runs R    runs of each program in (a) and of the replay in (b) (default 3)
#   --seed S    ddos-bench-gen seed (default 1)
#   --threads N ddosd --threads for (a) (default 1)
#   --only LIST run only these parts (default a,b,c,d)
# Output: a table on stdout and BUILD_DIR/bench/bench_daemon.json.
# Exit: 0 measured; 1 a program failed; 2 usage or missing tools.
set -euo pipefail

PY=/usr/bin/python3
build=build
packets=4000000
runs=3
seed=1
threads=1
only=a,b,c,d
before=

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
    --packets | --runs | --seed | --threads | --only | --before)
        (($# >= 2)) || die_usage "$1 needs a value"
        declare "${1#--}=$2"
        shift 2
        ;;
    --packets=* | --runs=* | --seed=* | --threads=* | --only=* | --before=*)
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
[[ $only =~ ^[abcd](,[abcd])*$ ]] || die_usage "--only: a comma-separated subset of a,b,c,d"
want() { [[ ,$only, == *,$1,* ]]; }

[[ -d $build ]] || die_usage "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
# builds measured: "after" (BUILD_DIR), and "before" first when --before names one
labels=(after)
declare -A ddosd_of
ddosd_of[after]=$build/app/ddosd
if [[ -n $before ]]; then
    [[ -x $before/app/ddosd ]] || die_usage "--before: $before/app/ddosd is missing"
    labels=(before after)
    ddosd_of[before]=$(cd "$before" && pwd)/app/ddosd
fi
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
        run_timed loop "$rundir/loop-$i.log" /usr/bin/time -o "$rundir/loop-$i.cpu" -f "%U %S" \
            "$loop" "$capture"
        echo "$wall" >"$rundir/loop-$i.wall"
        for lab in "${labels[@]}"; do
            echo "(a) run $i/$runs: ddosd ($lab), Redis on" >&2
            redis-cli -p "$port" FLUSHALL >/dev/null
            redis-cli -p "$port" CONFIG RESETSTAT >/dev/null
            run_timed "ddosd ($lab)" "$rundir/ddosd-$lab-redis-$i.log" /usr/bin/time \
                -o "$rundir/ddosd-$lab-redis-$i.cpu" -f "%U %S" "${ddosd_of[$lab]}" \
                -r "$capture" --redis "$redis_url" --api none --model "$model" \
                --threads "$threads" --set sensor.id=bench
            echo "$wall" >"$rundir/ddosd-$lab-redis-$i.wall"
            redis-cli -p "$port" DBSIZE >"$rundir/ddosd-$lab-redis-$i.dbsize"
            redis-cli -p "$port" INFO stats | tr -d '\r' |
                awk -F: '/^total_commands_processed:/ {print $2}' >"$rundir/ddosd-$lab-redis-$i.cmds"
            echo "(a) run $i/$runs: ddosd ($lab), --redis none" >&2
            run_timed "ddosd ($lab)" "$rundir/ddosd-$lab-none-$i.log" /usr/bin/time \
                -o "$rundir/ddosd-$lab-none-$i.cpu" -f "%U %S" "${ddosd_of[$lab]}" \
                -r "$capture" --redis none --api none --model "$model" --threads "$threads" \
                --set sensor.id=bench
            echo "$wall" >"$rundir/ddosd-$lab-none-$i.wall"
        done
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
    api_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    for lab in "${labels[@]}"; do
        echo "(b) latency: ddosd ($lab)" >&2
        mkdir -p "$lat/$lab"
        "$PY" "$src/bench/daemon_latency.py" --ddosd "${ddosd_of[$lab]}" --model "$model" \
            --capture "$lat/replay.pcap" --victim "$victim" --first-us "$first_us" \
            --attack-us "$attack_us" --port "$port" --api-port "$api_port" --runs "$runs" \
            --workdir "$lat/$lab" --out "$rundir/latency-$lab.json" ||
            die "a latency run failed (logs in $lat/$lab)"
    done
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
    for lab in "${labels[@]}"; do
        for kind in tiny flows1m; do
            echo "(c) peak RSS: ddosd ($lab) on $kind" >&2
            run_timed "ddosd ($lab, $kind)" "$mem/$lab-$kind.log" /usr/bin/time -v \
                "${ddosd_of[$lab]}" -r "$mem/$kind.pcap" --redis none --api none --model "$model" \
                --set flows.max_flows=1048576 --set sensor.id=bench
        done
    done
    echo "(c) peak RSS: ddos-flows on flows1m (reference)" >&2
    run_timed "ddos-flows" "$mem/flows-ref.log" /usr/bin/time -v "$flows" -r "$mem/flows1m.pcap" \
        -o /dev/null --summary-json "$mem/flows-ref.json"
fi

# ---- (d) memory per judged IP ------------------------------------------------------------------
if want d; then
    ipm=$rundir/ips
    mkdir -p "$ipm"
    for kind in few many; do
        clients=20000
        [[ $kind == many ]] && clients=1000000
        "$gen" -o "$ipm/$kind.pcap" --packets 2000000 --seed "$seed" --snaplen 128 \
            --clients "$clients" 2>"$ipm/gen-$kind.log" || die "ddos-bench-gen ($kind IPs) failed"
    done
    for lab in "${labels[@]}"; do
        for kind in few many; do
            echo "(d) peak RSS: ddosd ($lab) on $kind client addresses" >&2
            run_timed "ddosd ($lab, $kind)" "$ipm/$lab-$kind.log" /usr/bin/time -v \
                "${ddosd_of[$lab]}" -r "$ipm/$kind.pcap" --redis none --api none --model "$model" \
                --set sensor.id=bench
        done
    done
    rm -f "$ipm/few.pcap" "$ipm/many.pcap"
fi

# ---- summary -----------------------------------------------------------------------------------
"$PY" - "$rundir" "$runs" "$only" "$outdir/bench_daemon.json" "$packets" "$seed" "$threads" \
    "${labels[*]}" <<'PY'
import json, os, platform, re, statistics, sys, time

rundir, runs, only, out_path, packets, seed, threads, labels = sys.argv[1:]
runs = int(runs)
labels = labels.split()
RATIO_GOAL, LATENCY_GOAL, BPF_GOAL, BPIP_GOAL = 0.5, 0.3, 512, 256


def read(path):
    with open(path) as f:
        return f.read()


def final_counters(text):
    m = re.search(r"final counters: packets (\d+) .*?flows created (\d+) active (\d+) evicted (\d+)"
                  r".*?records (\d+) .*?scored (\d+) .*?verdicts (\d+) IPs \(high (\d+), "
                  r"critical (\d+)\)", text)
    if not m:
        sys.exit("bench_daemon.sh: ddosd printed no final counters line")
    k = ("packets", "flows_created", "flows_active", "evicted", "records", "scored", "ips", "high",
         "critical")
    return dict(zip(k, map(int, m.groups())))


def max_rss_kb(text):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not m:
        sys.exit("bench_daemon.sh: /usr/bin/time printed no maximum resident set size")
    return int(m.group(1))


def verdict(ok):
    return "met" if ok else "MISSED"


res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "builds": labels,
       "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                "kernel": platform.release()}}
rows = []  # (name, {label: value text}, goal text, result of the last label)


def row(name, values, goal="", ok=None):
    rows.append((name, values, goal, "" if ok is None else verdict(ok)))


if "a" in only:
    loop = [json.loads([l for l in read(f"{rundir}/loop-{i}.log").splitlines()
                        if l.startswith("{")][-1]) for i in range(1, runs + 1)]
    n = loop[0]["packets"]
    loop_wall = [float(read(f"{rundir}/loop-{i}.wall")) for i in range(1, runs + 1)]
    fl_wall = [float(read(f"{rundir}/flows-{i}.wall")) for i in range(1, runs + 1)]
    loop_pps = statistics.median(n / w for w in loop_wall)

    def cpu(path):  # user + system seconds, from /usr/bin/time -f "%U %S"
        u, sy = read(path).split()[-2:]
        return float(u) + float(sy)
    loop_cpu = statistics.median(cpu(f"{rundir}/loop-{i}.cpu") for i in range(1, runs + 1))
    fl_pps = statistics.median(n / w for w in fl_wall)
    t = {"packets": n, "runs": runs, "threads": int(threads), "bare_loop_pps": round(loop_pps),
         "bare_loop_self_reported_pps": round(statistics.median(float(d["pps"]) for d in loop)),
         "ddos_flows_pps": round(fl_pps), "loop_wall_s": loop_wall, "ddos_flows_wall_s": fl_wall,
         "ratio_goal": RATIO_GOAL, "warnings": []}
    for lab in labels:
        for mode in ("redis", "none"):
            wall = [float(read(f"{rundir}/ddosd-{lab}-{mode}-{i}.wall"))
                    for i in range(1, runs + 1)]
            cnt = [final_counters(read(f"{rundir}/ddosd-{lab}-{mode}-{i}.log"))
                   for i in range(1, runs + 1)]
            pps = statistics.median(n / w for w in wall)
            cpus = [cpu(f"{rundir}/ddosd-{lab}-{mode}-{i}.cpu") for i in range(1, runs + 1)]
            d = {"pps": round(pps), "ratio": round(pps / loop_pps, 4), "wall_s": wall,
                 "cpu_s": cpus, "cpu_ratio": round(loop_cpu / statistics.median(cpus), 4),
                 "counters": cnt[-1]}
            if mode == "redis":
                d["redis_keys_after_run"] = [
                    int(read(f"{rundir}/ddosd-{lab}-redis-{i}.dbsize").split()[0])
                    for i in range(1, runs + 1)]
                cmds = [int(read(f"{rundir}/ddosd-{lab}-redis-{i}.cmds").split()[0])
                        for i in range(1, runs + 1)]
                d["redis_commands"] = cmds
                d["redis_commands_per_mpkt"] = round(statistics.median(cmds) / (n / 1e6), 1)
            t.setdefault(lab, {})[mode] = d
            t["warnings"] += [f"ddosd ({lab}) read {c['packets']} packets, the loop {n}"
                              for c in cnt if c["packets"] != n]
    res["throughput"] = t
    row("(a) bare libpcap loop (packets/s)", {labels[-1]: f"{loop_pps:,.0f}"})
    row("(a) ddos-flows, reference (packets/s)", {labels[-1]: f"{fl_pps:,.0f}"})
    for mode, what in (("redis", "Redis on"), ("none", "--redis none")):
        row(f"(a) ddosd -r, {what} (packets/s)",
            {lab: f"{t[lab][mode]['pps']:,}" for lab in labels})
        row(f"(a) ratio ddosd ({what}) / bare loop",
            {lab: f"{t[lab][mode]['ratio']:.3f}" for lab in labels}, f">= {RATIO_GOAL}",
            t[labels[-1]][mode]["ratio"] >= RATIO_GOAL)
    t["bare_loop_cpu_s"] = loop_cpu
    row("(a) CPU s (user + system), bare loop / ddosd --redis none",
        {lab: f"{loop_cpu:.2f} / {statistics.median(t[lab]['none']['cpu_s']):.2f}"
         for lab in labels})
    row("(a) CPU ratio: bare loop / ddosd --redis none",
        {lab: f"{t[lab]['none']['cpu_ratio']:.3f}" for lab in labels})
    row("(a) Redis commands per million packets",
        {lab: f"{t[lab]['redis']['redis_commands_per_mpkt']:,.0f}" for lab in labels})
    row("(a) flow records / scored per million packets",
        {lab: f"{t[lab]['none']['counters']['records'] / (n / 1e6):,.0f} / "
              f"{t[lab]['none']['counters']['scored'] / (n / 1e6):,.0f}" for lab in labels})
if "b" in only:
    res["latency"] = {lab: json.loads(read(f"{rundir}/latency-{lab}.json")) for lab in labels}

    def fmt(x):
        return "not seen" if x is None else f"{x:.3f}"
    for key, what in (("median_s", "Redis"), ("api_median_s", "API"),
                      ("both_median_s", "both (the later)")):
        last = res["latency"][labels[-1]][key]
        row(f"(b) onset to high, {what}, median (s)",
            {lab: fmt(res["latency"][lab][key]) for lab in labels}, f"<= {LATENCY_GOAL}",
            last is not None and last <= LATENCY_GOAL)
if "c" in only:
    mem = f"{rundir}/memory"
    c = {}
    for lab in labels:
        tiny_kb = max_rss_kb(read(f"{mem}/{lab}-tiny.log"))
        big_kb = max_rss_kb(read(f"{mem}/{lab}-flows1m.log"))
        big = final_counters(read(f"{mem}/{lab}-flows1m.log"))
        nflows = big["flows_created"]
        bpf = (big_kb - tiny_kb) * 1024 / nflows if nflows else float("inf")
        c[lab] = {"flows": nflows, "flows_evicted": big["evicted"], "rss_tiny_kb": tiny_kb,
                  "rss_1m_kb": big_kb, "bytes_per_flow": round(bpf, 1)}
    ref = json.loads(read(f"{mem}/flows-ref.json"))
    c["ddos_flows"] = {"rss_kb": max_rss_kb(read(f"{mem}/flows-ref.log")),
                       "peak_flows": ref["peak_flows"], "table_bytes_per_flow": ref["bytes_per_flow"]}
    c["goal"] = BPF_GOAL
    res["memory_per_flow"] = c
    row("(c) peak RSS, tiny capture (MiB)", {lab: f"{c[lab]['rss_tiny_kb'] / 1024:,.1f}"
                                             for lab in labels})
    row(f"(c) peak RSS, {c[labels[-1]]['flows']:,} open flows (MiB)",
        {lab: f"{c[lab]['rss_1m_kb'] / 1024:,.1f}" for lab in labels})
    row("(c) bytes per flow above the fixed cost",
        {lab: f"{c[lab]['bytes_per_flow']:,.0f}" for lab in labels}, f"<= {BPF_GOAL}",
        c[labels[-1]]["bytes_per_flow"] <= BPF_GOAL)
if "d" in only:
    ipm = f"{rundir}/ips"
    d = {}
    for lab in labels:
        few, many = (read(f"{ipm}/{lab}-{k}.log") for k in ("few", "many"))
        cf, cm = final_counters(few), final_counters(many)
        rf, rm = max_rss_kb(few), max_rss_kb(many)
        dips = cm["ips"] - cf["ips"]
        bpip = (rm - rf) * 1024 / dips if dips > 0 else float("inf")
        d[lab] = {"ips_few": cf["ips"], "ips_many": cm["ips"], "rss_few_kb": rf,
                  "rss_many_kb": rm, "flows": cm["flows_created"],
                  "bytes_per_ip": round(bpip, 1)}
    d["goal"] = BPIP_GOAL
    res["memory_per_ip"] = d
    row("(d) judged IPs, 20k / 1M client pool",
        {lab: f"{d[lab]['ips_few']:,} / {d[lab]['ips_many']:,}" for lab in labels})
    row("(d) peak RSS, 20k / 1M client pool (MiB)",
        {lab: f"{d[lab]['rss_few_kb'] / 1024:,.0f} / {d[lab]['rss_many_kb'] / 1024:,.0f}"
         for lab in labels})
    row("(d) bytes per judged IP", {lab: f"{d[lab]['bytes_per_ip']:,.0f}" for lab in labels},
        f"<= {BPIP_GOAL}", d[labels[-1]]["bytes_per_ip"] <= BPIP_GOAL)
with open(out_path + ".tmp", "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)

print("ddosd end to end" + (" (before = --before build, after = BUILD_DIR, same run)"
                            if len(labels) > 1 else ""))
if "a" in only:
    print(f"  (a) {res['throughput']['packets']:,} packets (ddos-bench-gen --packets {packets} "
          f"--seed {seed}), page cache warm, {runs} alternating runs, medians of packets per "
          f"wall-clock second; ddosd --threads {threads}, default model, Redis on loopback")
if "b" in only:
    lt = res["latency"][labels[-1]]
    print(f"  (b) SYN flood after {lt['attack_offset_s']:.1f} s of benign traffic, "
          f"--realtime={lt['speed']:g}, Redis and the API polled every 5 ms, "
          f"{lt['detected']}/{len(lt['runs'])} runs seen in Redis, {lt['api_detected']} in the API")
width = 21
print(f"  {'':52}" + "".join(f"{lab:>{width}}" for lab in labels) + f"  {'goal':>8}  result")
for name, values, goal, r in rows:
    print(f"  {name:52}" + "".join(f"{values.get(lab, ''):>{width}}" for lab in labels)
          + f"  {goal:>8}  {r}")
if "a" in only:
    t = res["throughput"]
    for lab in labels:
        c = t[lab]["none"]["counters"]
        print(f"  (a) {lab}: runs (s) Redis {', '.join(f'{w:.2f}' for w in t[lab]['redis']['wall_s'])}"
              f"; none {', '.join(f'{w:.2f}' for w in t[lab]['none']['wall_s'])}; verdicts "
              f"{c['ips']:,} IPs ({c['high']} high, {c['critical']} critical), Redis keys "
              f"{t[lab]['redis']['redis_keys_after_run']}")
    print(f"  (a) bare loop runs (s): {', '.join(f'{w:.2f}' for w in t['loop_wall_s'])}; its own "
          f"figure {t['bare_loop_self_reported_pps']:,} packets/s")
    for w in t["warnings"]:
        print(f"  warning: {w}")
if "c" in only:
    m = res["memory_per_flow"]
    print(f"  (c) flows.max_flows=1048576, --redis none; ddos-flows on the same capture: "
          f"{m['ddos_flows']['rss_kb'] / 1024:,.1f} MiB, {m['ddos_flows']['peak_flows']:,} "
          f"concurrent flows ({m['ddos_flows']['table_bytes_per_flow']:.0f} table bytes per flow)")
print(f"  written: {out_path}")
PY
