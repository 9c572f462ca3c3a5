#!/usr/bin/env bash
# bench_flows.sh - capture throughput of ddos-flows against the bare libpcap read loop.
#
# Generates a deterministic mixed capture once (reused while it exists), warms the page cache
# (cat, then one untimed bare-loop pass), then alternates R runs of ddos-bench-pcaploop and R runs of ddos-flows on the same file, so
# both see the same cache, CPU frequency and neighbours. The medians give the ratio (goal
# >= 0.5) and ddos-flows' summary gives the bytes per tracked flow (goal <= 512). A missed goal
# is reported, not failed: the exit status says whether the programs ran.
#
# Usage: bench/bench_flows.sh [BUILD_DIR] [--packets N] [--runs R] [--seed S]
#   BUILD_DIR   CMake build directory (default: build)
#   --packets N packets in the generated capture (default 4000000)
#   --runs R    runs of each program (default 3)
#   --seed S    generator seed (default 1)
# Output: a table on stdout and BUILD_DIR/bench/bench_flows.json.
# Exit: 0 measured; 1 a program failed; 2 usage or missing tools; 3 ddos-flows is not built
# (the bare loop was still measured and reported).
set -euo pipefail

PY=/usr/bin/python3
build=build
packets=4000000
runs=3
seed=1

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die_usage() {
    echo "bench_flows.sh: $*" >&2
    echo "Try 'bench/bench_flows.sh --help'." >&2
    exit 2
}

is_count() {
    [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0))
}

positional_seen=0
while (($# > 0)); do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --packets | --runs | --seed)
        (($# >= 2)) || die_usage "$1 needs a value"
        case $1 in
        --packets) packets=$2 ;;
        --runs) runs=$2 ;;
        --seed) seed=$2 ;;
        esac
        shift 2
        ;;
    --packets=* | --runs=* | --seed=*)
        name=${1%%=*}
        value=${1#*=}
        case $name in
        --packets) packets=$value ;;
        --runs) runs=$value ;;
        --seed) seed=$value ;;
        esac
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
[[ $seed =~ ^[0-9]+$ ]] || die_usage "--seed: '$seed' is not a non-negative integer"

[[ -x $PY ]] || {
    echo "bench_flows.sh: $PY is required (standard library only)" >&2
    exit 2
}
[[ -d $build ]] || die_usage "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
gen=$build/bench/ddos-bench-gen
loop=$build/bench/ddos-bench-pcaploop
flows=$build/app/ddos-flows
for tool in "$gen" "$loop"; do
    if [[ ! -x $tool ]]; then
        echo "bench_flows.sh: $tool is missing; build it first:" >&2
        echo "  cmake --build $build --target ddos-bench-gen ddos-bench-pcaploop" >&2
        exit 2
    fi
done
have_flows=1
if [[ ! -x $flows ]]; then
    have_flows=0
    echo "bench_flows.sh: $flows is not built; measuring the bare libpcap loop only." >&2
    echo "  build it with: cmake --build $build --target ddos-flows" >&2
fi

outdir=$build/bench
rundir=$outdir/bench_flows.d
capture=$outdir/mixed-$packets-$seed.pcap
mkdir -p "$rundir"
rm -f "$rundir"/*.json "$rundir"/*.log

# The capture is written under a temporary name and renamed, so an interrupted generation never
# leaves a truncated file that a later run would reuse.
if [[ ! -s $capture ]]; then
    echo "generating $capture ..." >&2
    tmp=$capture.tmp.$$
    trap 'rm -f "$tmp"' EXIT
    if ! "$gen" -o "$tmp" --packets "$packets" --seed "$seed" 2>"$rundir/gen.log"; then
        cat "$rundir/gen.log" >&2
        echo "bench_flows.sh: ddos-bench-gen failed" >&2
        exit 1
    fi
    cat "$rundir/gen.log" >&2
    # Flush it now: background writeback of gigabytes would otherwise overlap the timed runs.
    sync "$tmp"
    mv "$tmp" "$capture"
    trap - EXIT
else
    echo "reusing $capture" >&2
fi

# Both programs must read from memory, not disk: warn when the file cannot stay cached.
size_kb=$(($(stat -c %s "$capture") / 1024))
avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
if ((avail_kb < size_kb * 3 / 2)); then
    echo "bench_flows.sh: warning: capture ($((size_kb / 1024)) MiB) may not stay in the page" \
        "cache ($((avail_kb / 1024)) MiB available); figures would include disk reads" >&2
fi
cat "$capture" >/dev/null
# One untimed pass through libpcap as well: the first read after cat is often slower, and the
# alternation starts with the bare loop, so without it the ratio would flatter ddos-flows.
"$loop" "$capture" >/dev/null || {
    echo "bench_flows.sh: ddos-bench-pcaploop failed on $capture" >&2
    exit 1
}

now() {
    date +%s.%N
}

# run_program NAME LOG CMD... : runs CMD, stores its wall time, and on failure shows its log.
wall=0
run_program() {
    local name=$1 log=$2 t0 t1 status=0
    shift 2
    t0=$(now)
    "$@" >"$log" 2>&1 || status=$?
    t1=$(now)
    wall=$("$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.6f}')" "$t0" "$t1")
    if ((status != 0)); then
        echo "bench_flows.sh: $name failed (exit $status); its output:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

for ((i = 1; i <= runs; i++)); do
    echo "run $i/$runs: bare libpcap loop" >&2
    run_program ddos-bench-pcaploop "$rundir/loop-$i.log" "$loop" "$capture"
    grep '^{' "$rundir/loop-$i.log" | tail -n 1 >"$rundir/loop-$i.json"
    echo "$wall" >"$rundir/loop-$i.wall"
    if ((have_flows)); then
        echo "run $i/$runs: ddos-flows" >&2
        run_program ddos-flows "$rundir/flows-$i.log" \
            "$flows" -r "$capture" -o /dev/null --summary-json "$rundir/flows-$i.json"
        echo "$wall" >"$rundir/flows-$i.wall"
        if [[ ! -s $rundir/flows-$i.json ]]; then
            echo "bench_flows.sh: ddos-flows exited 0 but wrote no --summary-json" >&2
            exit 1
        fi
    fi
done

"$PY" - "$rundir" "$runs" "$have_flows" "$capture" "$packets" "$seed" \
    "$outdir/bench_flows.json" <<'PY'
import json, os, platform, statistics, sys, time

rundir, runs, have_flows, capture, packets, seed, out_path = sys.argv[1:]
runs, have_flows = int(runs), have_flows == "1"
RATIO_GOAL, BYTES_PER_FLOW_GOAL = 0.5, 512


def load(kind, i):
    path = os.path.join(rundir, f"{kind}-{i}.json")
    try:
        with open(path) as f:
            doc = json.load(f)
        with open(os.path.join(rundir, f"{kind}-{i}.wall")) as f:
            doc["_wall_s"] = float(f.read())
    except (OSError, ValueError) as e:
        sys.exit(f"bench_flows.sh: cannot read {path}: {e}")
    return doc


def need(doc, key, who):
    if key not in doc:
        sys.exit(f"bench_flows.sh: {who} summary has no \"{key}\" key")
    return doc[key]


loops = [load("loop", i) for i in range(1, runs + 1)]
bare_pps = [float(need(d, "pps", "ddos-bench-pcaploop")) for d in loops]
bare_median = statistics.median(bare_pps)
capture_packets = int(loops[0]["packets"])

result = {
    "capture": capture,
    "capture_bytes": os.path.getsize(capture),
    "packets": capture_packets,
    "seed": int(seed),
    "runs": runs,
    "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
             "kernel": platform.release()},
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "bare_loop": {"pps_median": round(bare_median), "pps_runs": [round(p) for p in bare_pps],
                  "wall_s_runs": [d["_wall_s"] for d in loops]},
    "ddos_flows_built": have_flows,
    "ddos_flows": None,
    "ratio": None,
    "ratio_goal": RATIO_GOAL,
    "ratio_met": None,
    "bytes_per_flow": None,
    "bytes_per_flow_goal": BYTES_PER_FLOW_GOAL,
    "bytes_per_flow_met": None,
}

warnings = []
if have_flows:
    fl = [load("flows", i) for i in range(1, runs + 1)]
    for key in ("packets", "flows", "elapsed_s", "pps", "flow_capacity", "flow_table_bytes",
                "bytes_per_flow", "peak_flows"):
        for d in fl:
            need(d, key, "ddos-flows --summary-json")
    flows_pps = [float(d["pps"]) for d in fl]
    flows_median = statistics.median(flows_pps)
    # Table figures come from the run whose pps is the median (the upper one for even R).
    mid = sorted(range(runs), key=lambda i: flows_pps[i])[runs // 2]
    ref = fl[mid]
    if int(ref["packets"]) != capture_packets:
        warnings.append(f"ddos-flows counted {ref['packets']} packets, the bare loop "
                        f"{capture_packets}")
    ratio = flows_median / bare_median if bare_median > 0 else 0.0
    bpf = float(ref["bytes_per_flow"])
    result.update({
        "ddos_flows": {
            "pps_median": round(flows_median), "pps_runs": [round(p) for p in flows_pps],
            "wall_s_runs": [d["_wall_s"] for d in fl],
            "packets": int(ref["packets"]), "flows": int(ref["flows"]),
            "peak_flows": int(ref["peak_flows"]), "flow_capacity": int(ref["flow_capacity"]),
            "flow_table_bytes": int(ref["flow_table_bytes"]),
        },
        "ratio": round(ratio, 4),
        "ratio_met": ratio >= RATIO_GOAL,
        "bytes_per_flow": bpf,
        "bytes_per_flow_met": bpf <= BYTES_PER_FLOW_GOAL,
    })

with open(out_path + ".tmp", "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)


def num(x):
    return f"{x:,.0f}"


def verdict(ok):
    return "met" if ok else "MISSED"


rows = [("bare libpcap loop (packets/s)", num(bare_median), "", "")]
if have_flows:
    d = result["ddos_flows"]
    rows += [
        ("ddos-flows (packets/s)", num(d["pps_median"]), "", ""),
        ("ratio ddos-flows / bare loop", f"{result['ratio']:.3f}", f">= {RATIO_GOAL}",
         verdict(result["ratio_met"])),
        ("bytes per tracked flow", f"{result['bytes_per_flow']:.0f}",
         f"<= {BYTES_PER_FLOW_GOAL}", verdict(result["bytes_per_flow_met"])),
    ]
else:
    rows += [("ddos-flows (packets/s)", "not built", "", ""),
             ("ratio ddos-flows / bare loop", "-", f">= {RATIO_GOAL}", "not measured"),
             ("bytes per tracked flow", "-", f"<= {BYTES_PER_FLOW_GOAL}", "not measured")]

print(f"ddos-flows vs bare libpcap: {capture}")
print(f"  {capture_packets:,} packets, {result['capture_bytes'] / 2**20:,.0f} MiB, page cache "
      f"warm, {runs} alternating runs each, medians")
print(f"  {'':32}{'measured':>14}  {'goal':>8}  result")
for name, value, goal, res in rows:
    print(f"  {name:32}{value:>14}  {goal:>8}  {res}")
if have_flows:
    d = result["ddos_flows"]
    print(f"  flow table: {d['flow_capacity']:,} slots, {d['flow_table_bytes'] / 2**20:,.1f} MiB; "
          f"peak {d['peak_flows']:,} tracked flows; {d['flows']:,} flows written")
print(f"  bare loop runs: {', '.join(num(p) for p in bare_pps)}")
if have_flows:
    print(f"  ddos-flows runs: {', '.join(num(p) for p in flows_pps)}")
for w in warnings:
    print(f"  warning: {w}")
print(f"  written: {out_path}")
PY

if ((!have_flows)); then
    echo "bench_flows.sh: ddos-flows missing ($flows): only the bare loop was measured" >&2
    exit 3
fi
exit 0
