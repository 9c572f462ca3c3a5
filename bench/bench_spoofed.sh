#!/usr/bin/env bash
# bench_spoofed.sh - ddosd on a one-million-spoofed-source SYN flood, Redis on vs off (issue 11,
# issue 15 defect 1): what Redis costs the replay and what the flood costs Redis.
#
# The capture: 20 s of benign traffic (ddos-trafgen seed 53, 100 clients) with N one-packet SYNs
# (default 1,000,000), each from a different spoofed source, to 10.20.1.25:80 at 100 kpps from
# 2 s on (bench/gen_spoofed.py; about 1.1 M packets). Each build measured replays it at full speed
# (`ddosd -r`, --api none, the default model, --verdicts-out), R alternating rounds of Redis off
# (--redis none) and Redis on (a fresh redis-server on a free loopback port, FLUSHALL and CONFIG
# RESETSTAT before each run). Medians of:
#   - wall time, process start to exit, and the ratio on/off (goal <= 1.5); CPU seconds (user +
#     system, all threads) and their ratio, steadier than wall time on a busy machine;
#   - peak RSS (/usr/bin/time -v);
#   - Redis keys after the run (DBSIZE) against the IPs ddosd judged (--verdicts-out lines; goal
#     keys <= judged + 1000), and Redis used_memory (goal <= 50 MB);
#   - Redis commands per million packets: as the server counted them (INFO commandstats, every
#     call, commands run inside scripts included), and as ddosd sent them (its
#     redis_commands_total: "redis: N commands" in the final counters; builds that have it).
# A missed goal is reported, not failed: the exit status says whether the programs ran.
#
# Usage: bench/bench_spoofed.sh [BUILD_DIR] [--before BUILD_DIR] [--runs R] [--sources N]
#   BUILD_DIR      CMake build directory (default: build)
#   --before DIR   also measure that build (its app/ddosd), first in every round
#   --runs R       rounds (default 3)
#   --sources N    spoofed sources (default 1000000)
# Output: a table on stdout and BUILD_DIR/bench/bench_spoofed.json.
# Exit: 0 measured; 1 a program failed; 2 usage or missing tools.
set -euo pipefail

PY=/usr/bin/python3
build=build
before=
runs=3
sources=1000000

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}
die_usage() {
    echo "bench_spoofed.sh: $*" >&2
    echo "Try 'bench/bench_spoofed.sh --help'." >&2
    exit 2
}
die() {
    echo "bench_spoofed.sh: $*" >&2
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
    --runs | --sources | --before)
        (($# >= 2)) || die_usage "$1 needs a value"
        declare "${1#--}=$2"
        shift 2
        ;;
    --runs=* | --sources=* | --before=*)
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
is_count "$runs" || die_usage "--runs: '$runs' is not a positive integer"
is_count "$sources" || die_usage "--sources: '$sources' is not a positive integer"
[[ -d $build ]] || die_usage "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
labels=(after)
declare -A ddosd_of
ddosd_of[after]=$build/app/ddosd
if [[ -n $before ]]; then
    [[ -x $before/app/ddosd ]] || die_usage "--before: $before/app/ddosd is missing"
    labels=(before after)
    ddosd_of[before]=$(cd "$before" && pwd)/app/ddosd
fi
src=$(cd "$(dirname "$0")/.." && pwd)
trafgen=$build/trafgen/ddos-trafgen
model=$src/models/ddosd-model.msgpack
for tool in "${ddosd_of[@]}" "$trafgen"; do
    [[ -x $tool ]] || die_usage "$tool is not built (cmake --build $build --target ddosd ddos-trafgen)"
done
for cmd in redis-server redis-cli /usr/bin/time; do
    command -v "$cmd" >/dev/null || die_usage "$cmd is missing (apt-get install redis-server time)"
done

outdir=$build/bench
rundir=$(mktemp -d "${TMPDIR:-/tmp}/bench-spoofed.XXXXXX")
redis_pid=
cleanup() {
    [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$rundir"
}
trap cleanup EXIT
mkdir -p "$outdir"

echo "capture: benign base + $sources spoofed SYN sources" >&2
"$trafgen" -q -o "$rundir/base.pcap" --seed 53 --scenario benign --duration 20 \
    --benign-clients 100 --snaplen 128 || die "ddos-trafgen failed"
"$PY" "$src/bench/gen_spoofed.py" "$rundir/base.pcap" "$rundir/cap.pcap" --sources "$sources" \
    --rate 100000 --offset 2 || die "gen_spoofed.py failed"
rm -f "$rundir/base.pcap"

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$rundir" \
    --logfile "$rundir/redis.log" --daemonize no &
redis_pid=$!
for _ in $(seq 200); do
    [[ $(redis-cli -p "$port" PING 2>/dev/null) == PONG ]] && break
    sleep 0.025
done
[[ $(redis-cli -p "$port" PING 2>/dev/null) == PONG ]] || die "redis-server did not start"

# run LABEL MODE ROUND: one timed replay; its files in $rundir/LABEL-MODE-ROUND.*
run() {
    local label=$1 mode=$2 round=$3 base redis_arg t0 t1
    base=$rundir/$label-$mode-$round
    redis_arg=none
    if [[ $mode == on ]]; then
        redis-cli -p "$port" FLUSHALL >/dev/null
        redis-cli -p "$port" CONFIG RESETSTAT >/dev/null
        redis_arg=redis://127.0.0.1:$port
    fi
    echo "round $round: $label, Redis $mode" >&2
    t0=$(date +%s.%N)
    /usr/bin/time -v "${ddosd_of[$label]}" -r "$rundir/cap.pcap" --redis "$redis_arg" --api none \
        --model "$model" --set sensor.id=bench --verdicts-out "$base.jsonl" \
        >/dev/null 2>"$base.log" || die "$label ddosd failed (Redis $mode): see $base.log"
    t1=$(date +%s.%N)
    echo "$t0 $t1" >"$base.wall"
    if [[ $mode == on ]]; then
        redis-cli -p "$port" DBSIZE >"$base.keys"
        redis-cli -p "$port" INFO memory | tr -d '\r' >"$base.mem"
        redis-cli -p "$port" INFO commandstats | tr -d '\r' >"$base.cmds"
    fi
}
for ((r = 1; r <= runs; r++)); do
    for label in "${labels[@]}"; do
        run "$label" off "$r"
        run "$label" on "$r"
    done
done

"$PY" - "$rundir" "$runs" "$outdir/bench_spoofed.json" "$sources" "${labels[@]}" <<'PY'
import json, re, statistics, sys

rundir, runs, out_path, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
labels = sys.argv[5:]
RATIO_GOAL, KEYS_SLACK, MEM_GOAL_MB = 1.5, 1000, 50


def read(p):
    with open(p) as f:
        return f.read()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


res = {"sources": sources, "runs": runs, "builds": {}}
for label in labels:
    b = {}
    for mode in ("off", "on"):
        walls, cpus, rss, pkts, keys, judged, mem, srv, cli = [], [], [], [], [], [], [], [], []
        for r in range(1, runs + 1):
            base = f"{rundir}/{label}-{mode}-{r}"
            t0, t1 = map(float, read(base + ".wall").split())
            walls.append(t1 - t0)
            log = read(base + ".log")
            rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1)))
            cpus.append(sum(float(x) for x in re.findall(
                r"(?:User|System) time \(seconds\): ([0-9.]+)", log)))
            m = re.search(r"final counters: packets (\d+)", log)
            pkts.append(int(m.group(1)) if m else 0)
            judged.append(sum(1 for _ in open(base + ".jsonl")))
            if mode == "on":
                keys.append(int(read(base + ".keys").strip()))
                um = re.search(r"^used_memory:(\d+)", read(base + ".mem"), re.M)
                mem.append(int(um.group(1)) if um else 0)
                calls = sum(int(c) for name, c in re.findall(r"^cmdstat_([^:]+):calls=(\d+)",
                                                              read(base + ".cmds"), re.M)
                            if name not in ("info", "dbsize", "config|resetstat", "flushall"))
                srv.append(calls)
                cm = re.search(r"redis: (\d+) commands", log)
                if cm:
                    cli.append(int(cm.group(1)))
        p = med(pkts)
        b[mode] = {"wall_s": round(med(walls), 3), "walls_s": [round(w, 3) for w in walls],
                   "cpu_s": round(med(cpus), 3), "cpus_s": [round(c, 3) for c in cpus],
                   "peak_rss_mb": round(med(rss) / 1024, 1), "packets": int(p),
                   "judged_ips": int(med(judged))}
        if mode == "on":
            b[mode].update({
                "redis_keys": int(med(keys)), "redis_used_memory_mb": round(med(mem) / 2**20, 2),
                "server_commands_per_mpkt": round(med(srv) / p * 1e6, 1) if p else None,
                "client_commands_per_mpkt": round(med(cli) / p * 1e6, 1) if cli and p else None})
    on, off = b["on"], b["off"]
    ratio = on["wall_s"] / off["wall_s"]
    b["ratio_on_off"] = round(ratio, 3)
    b["cpu_ratio_on_off"] = round(on["cpu_s"] / off["cpu_s"], 3)
    b["goals"] = {"ratio_le_1.5": ratio <= RATIO_GOAL,
                  "keys_le_judged_plus_1000": on["redis_keys"] <= on["judged_ips"] + KEYS_SLACK,
                  "used_memory_le_50mb": on["redis_used_memory_mb"] <= MEM_GOAL_MB}
    res["builds"][label] = b

with open(out_path, "w") as f:
    json.dump(res, f, indent=2)

print(f"ddosd on a {sources:,}-spoofed-source SYN flood, medians of {runs} runs")
print(f"{'':34}" + "".join(f"{l:>18}" for l in labels))
rows = [
    ("time, Redis off (s)", lambda b: f"{b['off']['wall_s']:.2f}"),
    ("time, Redis on (s)", lambda b: f"{b['on']['wall_s']:.2f}"),
    ("ratio on/off (goal <= 1.5)", lambda b: f"{b['ratio_on_off']:.2f}"),
    ("CPU s off / on (user+sys)", lambda b: f"{b['off']['cpu_s']:.1f} / {b['on']['cpu_s']:.1f}"),
    ("CPU ratio on/off", lambda b: f"{b['cpu_ratio_on_off']:.2f}"),
    ("peak RSS off / on (MB)", lambda b: f"{b['off']['peak_rss_mb']:.0f} / {b['on']['peak_rss_mb']:.0f}"),
    ("packets", lambda b: f"{b['on']['packets']:,}"),
    ("IPs judged", lambda b: f"{b['on']['judged_ips']:,}"),
    ("Redis keys (goal <= judged+1000)", lambda b: f"{b['on']['redis_keys']:,}"),
    ("Redis used_memory (MB, goal <= 50)", lambda b: f"{b['on']['redis_used_memory_mb']:.1f}"),
    ("Redis cmds/Mpkt, server count", lambda b: f"{b['on']['server_commands_per_mpkt']}"),
    ("Redis cmds/Mpkt, ddosd's count", lambda b: f"{b['on']['client_commands_per_mpkt'] or 'n/a'}"),
]
for name, fn in rows:
    print(f"{name:34}" + "".join(f"{fn(res['builds'][l]):>18}" for l in labels))
for l in labels:
    missed = [g for g, ok in res["builds"][l]["goals"].items() if not ok]
    print(f"{l}: goals {'met' if not missed else 'missed: ' + ', '.join(missed)}")
print(f"(json: {out_path})")
PY
