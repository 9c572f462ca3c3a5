#!/usr/bin/env bash
# bench_redis_cost.sh - what one sensor costs its Redis (docs/scale-out.md): commands and bytes
# per million packets, and what Redis holds afterwards (keys, memory per verdict hash).
#
# For each capture given: a fresh redis-server on a free loopback port (no persistence),
# CONFIG RESETSTAT, then `ddosd -r CAPTURE --api none --redis redis://...` (with --realtime when
# asked: the 200 ms flush interval of a live sensor; without it the 2 s of a full-speed replay),
# then the sink's own command count (its final log line) or INFO commandstats (calls per command,
# including the commands the Lua scripts run), redis-server's CPU time (/proc), INFO
# stats (bytes in and out of Redis), INFO memory (used_memory minus that of the empty server),
# MEMORY USAGE of every verdict hash and of the top sets, and DBSIZE. Prints one block per capture, also as JSON lines in OUT (default
# redis_cost.jsonl in the current directory).
#
# usage: bench/bench_redis_cost.sh BUILD_DIR [--realtime[=SPEED]] [--out FILE] CAPTURE...
set -euo pipefail
build=${1:?usage: bench_redis_cost.sh BUILD_DIR [--realtime[=SPEED]] [--out FILE] CAPTURE...}
shift
realtime=
out=redis_cost.jsonl
caps=()
while (($# > 0)); do
    case $1 in
    --realtime | --realtime=*) realtime=$1 ;;
    --out) out=$2; shift ;;
    *) caps+=("$1") ;;
    esac
    shift
done
ddosd=$build/app/ddosd
src=$(cd "$(dirname "$0")/.." && pwd)
[[ -x $ddosd ]] || { echo "bench_redis_cost.sh: $ddosd is not built" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/redis-cost.XXXXXX")
rpid=
cleanup() {
    [[ -n $rpid ]] && { kill -KILL "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
: >"$out"
for cap in "${caps[@]}"; do
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
        --daemonize no --logfile "$work/redis.log" &
    rpid=$!
    for _ in $(seq 200); do [[ $(redis-cli -p "$port" PING 2>/dev/null) == PONG ]] && break; sleep 0.025; done
    mem0=$(redis-cli -p "$port" INFO memory | awk -F: '/^used_memory:/{print $2+0}')
    redis-cli -p "$port" CONFIG RESETSTAT >/dev/null
    cpu0=$(awk '{print $14 + $15}' "/proc/$rpid/stat")
    "$ddosd" -r "$cap" $realtime --api none --redis "redis://127.0.0.1:$port" \
        --model "$src/models/ddosd-model.msgpack" --set sensor.id=bench-cost --log-dir "$work" \
        >/dev/null 2>&1
    cpu1=$(awk '{print $14 + $15}' "/proc/$rpid/stat")
    pkts=$(grep -o 'final counters: packets [0-9]*' "$work/app.log" | tail -n 1 | awk '{print $4}')
    # The sink's own count of what it sent, when its final line gives one (redis: N commands).
    sent=$(grep -o 'redis: [0-9]* commands' "$work/app.log" | tail -n 1 | awk '{print $2}')
    redis-cli -p "$port" INFO commandstats >"$work/cs.txt"
    redis-cli -p "$port" INFO stats >"$work/st.txt"
    mem1=$(redis-cli -p "$port" INFO memory | awk -F: '/^used_memory:/{print $2+0}')
    hashes=$(redis-cli -p "$port" --scan --pattern 'ddos:verdict:*' | wc -l)
    # Exact bytes per verdict: MEMORY USAGE of every hash, and of the two sorted sets per member.
    hash_bytes=$(redis-cli -p "$port" --scan --pattern 'ddos:verdict:*' |
        while read -r k; do redis-cli -p "$port" MEMORY USAGE "$k" SAMPLES 0; done |
        awk '{s+=$1} END {print s+0}')
    zset_bytes=$(( $(redis-cli -p "$port" MEMORY USAGE ddos:top SAMPLES 0 | awk '{print $1+0}') +
        $(redis-cli -p "$port" MEMORY USAGE ddos:top:expiry SAMPLES 0 | awk '{print $1+0}') ))
    keys=$(redis-cli -p "$port" DBSIZE)
    /usr/bin/python3 - "$cap" "$pkts" "$mem0" "$mem1" "$hashes" "$keys" "$realtime" "$work/cs.txt" "$work/st.txt" "$out" "$hash_bytes" "$zset_bytes" "${sent:-}" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" <<'EOF'
import json, re, sys
cap, pkts, mem0, mem1, hashes, keys, rt, cs, st, out, hash_bytes, zset_bytes = sys.argv[1:13]
sink_sent, cpu_ticks, tck = sys.argv[13], int(sys.argv[14]), int(sys.argv[15])
hash_bytes, zset_bytes = int(hash_bytes), int(zset_bytes)
pkts, mem0, mem1, hashes = int(pkts), int(mem0), int(mem1), int(hashes)
calls = {}
for ln in open(cs):
    m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", ln.strip())
    if m:
        calls[m.group(1)] = (int(m.group(2)), int(m.group(3)))
stats = dict(ln.strip().split(":", 1) for ln in open(st) if ":" in ln)
client = {k: v for k, v in calls.items() if k in ("evalsha", "eval", "xadd", "script|load",
                                                  "info", "select", "auth", "ping")}
# The sink's own count when it logs one; else the client-level commands by name (a newer sink
# also sends plain HSET/ZADD/PEXPIRE, which commandstats cannot tell from a script's).
sent = int(sink_sent) if sink_sent else sum(c for c, _ in client.values())
# Top-level commands only: a script's usec already includes the commands it runs (which
# commandstats also lists on their own).
usec = sum(u for _, u in client.values())
inb, outb = int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])
per = 1e6 / pkts
r = {"capture": cap, "realtime": rt or "no (2 s flush)", "packets": pkts,
     "client_commands": sent, "client_commands_per_mpkt": round(sent * per),
     "all_commands_incl_lua": sum(c for c, _ in calls.values()),
     "commands_counted_by": "the sink" if sink_sent else "commandstats",
     "redis_usec_in_commands": usec, "redis_process_cpu_ms": round(cpu_ticks * 1000 / tck),
     "redis_process_cpu_ms_per_mpkt": round(cpu_ticks * 1000 / tck * per, 1),
     "bytes_in_per_mpkt": round(inb * per), "bytes_out_per_mpkt": round(outb * per),
     "verdict_hashes": hashes, "keys": int(keys), "used_memory_delta": mem1 - mem0,
     "hash_bytes_each": round(hash_bytes / hashes) if hashes else None,
     "top_sets_bytes_per_member": round(zset_bytes / hashes) if hashes else None,
     "evalsha_usec_each": round(calls["evalsha"][1] / calls["evalsha"][0], 1)
     if calls.get("evalsha", (0, 0))[0] else None,
     "calls": {k: c for k, (c, _) in sorted(calls.items())}}
print(json.dumps(r, indent=1))
with open(out, "a") as f:
    f.write(json.dumps(r) + "\n")
EOF
    kill -KILL "$rpid"; wait "$rpid" 2>/dev/null || true; rpid=
done
