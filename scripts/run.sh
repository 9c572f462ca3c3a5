#!/usr/bin/env bash
# run.sh - the detector end to end on a fresh machine: installs what is missing, builds, starts a
# local redis-server, generates an attack-plus-benign capture, and replays it through `ddosd` in
# real time (or live through a veth pair in a network namespace with --live). The API stays up on
# 127.0.0.1:8000 and the script prints what to try. Ctrl-C stops everything it started.
#
# usage: scripts/run.sh [--live] [--duration S] [--speed X] [--api HOST:PORT] [--redis-port N]
#   --live            send the capture with tcpreplay from a namespace over a veth pair that ddosd
#                     captures live (needs root; default: replay the file in real time)
#   --duration S      seconds of generated traffic (default 40)
#   --speed X         replay X times faster than real time (default 1)
#   --api HOST:PORT   where ddosd serves its REST API (default 127.0.0.1:8000)
#   --redis-port N    the port of the redis-server this script starts on 127.0.0.1 (default 6390,
#                     not 6379, so a Redis you already run is left alone)
# output: out/run-<UTC time>/ for each run (out/latest points at the newest; earlier runs are
#         kept): logs/{app,error,access,redis}.log, verdicts.jsonl when ddosd stops; the capture
#         itself is out/demo.pcap (+ .json ground truth)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

live=0 duration=40 speed=1 api=127.0.0.1:8000 redis_port=6390
while [ $# -gt 0 ]; do
    case "$1" in
    --live) live=1 ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --speed) speed=${2:?--speed needs a factor}; shift ;;
    --api) api=${2:?--api needs HOST:PORT}; shift ;;
    --redis-port) redis_port=${2:?--redis-port needs a port}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 1 ;;
    esac
    shift
done
if [ "$live" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: --live creates a network namespace and a veth pair: run it as root" >&2
    exit 1
fi

scripts/deps.sh run
echo "== building (Release) into build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target ddosd ddos-trafgen bin_links >/dev/null
# Each run writes into its own folder, so a run never empties the previous one's verdicts or logs.
out=$root/out/run-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out/logs"
ln -sfn "$(basename "$out")" "$root/out/latest"

pids=()
ns=""
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "== stopping"
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "$ns" ]; then
        ip netns del "$ns" 2>/dev/null || true
        ip link del ddosd-demo0 2>/dev/null || true
    fi
    [ -f "$out/redis.pid" ] && kill "$(cat "$out/redis.pid")" 2>/dev/null || true
    rm -f "$out/redis.pid"
    [ -s "$out/verdicts.jsonl" ] && echo "final verdicts: $out/verdicts.jsonl ($(wc -l <"$out/verdicts.jsonl") IPs)"
}
trap cleanup INT TERM EXIT

echo "== redis-server on 127.0.0.1:$redis_port (no persistence; stopped on exit; --redis-port N changes it)"
if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    echo "run.sh: something already answers on 127.0.0.1:$redis_port: stop it or pick another port with --redis-port N" >&2
    exit 1
fi
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$out/redis.pid" --logfile "$out/logs/redis.log" >/dev/null
redis_up=0
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && { redis_up=1; break; }; sleep 0.1; done
if [ "$redis_up" = 0 ]; then
    echo "run.sh: redis-server did not start on 127.0.0.1:$redis_port; see $out/logs/redis.log" >&2
    exit 1
fi

echo "== generating out/demo.pcap: $duration s of benign traffic with a SYN flood and a UDP flood"
mkdir -p out
build/trafgen/ddos-trafgen -o out/demo.pcap --seed 7 --scenario syn_flood,udp_flood \
    --duration "$duration" --max-attack-packets 300000 --snaplen 128 -q
/usr/bin/python3 - "$root/out/demo.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for r in m["captures"][0].get("rules", []):
    print(f"   attackers {r['ip']:<18} {r['label']}")
print(f"   victims in {m['generator']['addressing']['protected'][0]}")
PY

secret=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
export SECRET_KEY=$secret
common=(--redis "redis://127.0.0.1:$redis_port" --api "$api" --log-dir "$out/logs"
    --verdicts-out "$out/verdicts.jsonl" --set cache.ttl=600)
if [ "$live" = 1 ]; then
    ns=ddosd-demo-$$
    ip netns add "$ns"
    ip link add ddosd-demo0 type veth peer name ddosd-demo1
    ip link set ddosd-demo1 netns "$ns"
    ip link set ddosd-demo0 up
    ip -n "$ns" link set ddosd-demo1 up
    echo "== ddosd capturing live on ddosd-demo0 (veth; the namespace $ns sends the capture)"
    build/app/ddosd -i ddosd-demo0 "${common[@]}" &
    pids+=($!)
    sleep 1
    (ip netns exec "$ns" tcpreplay -q -i ddosd-demo1 --multiplier="$speed" out/demo.pcap \
        >"$out/logs/tcpreplay.log" 2>&1 &&
        echo "== tcpreplay finished: the verdicts stay served until Ctrl-C") &
    pids+=($!)
else
    echo "== ddosd replaying out/demo.pcap in real time (x$speed), then serving"
    build/app/ddosd -r out/demo.pcap --realtime="$speed" --serve "${common[@]}" &
    pids+=($!)
fi
# ddosd exits at once on a start-up error (a port in use, a bad flag): say so and stop, rather
# than print instructions for a detector that is not there.
healthy=0
for _ in $(seq 100); do
    curl -fsS "http://$api/health" >/dev/null 2>&1 && { healthy=1; break; }
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
if [ "$healthy" = 0 ]; then
    echo "run.sh: ddosd did not start (no answer from http://$api/health); its last words:" >&2
    tail -n 5 "$out/logs/error.log" "$out/logs/app.log" 2>/dev/null | sed 's/^/    /' >&2
    exit 1
fi

cat <<EOF

ddosd is running (logs: $out/logs/app.log, errors: $out/logs/error.log; Redis on
127.0.0.1:$redis_port). Open the dashboard in a browser: http://$api/dashboard
(from another machine: ssh -L ${api##*:}:$api this-host). Or try, while the attack plays:
  curl -s http://$api/health
  curl -s http://$api/api/incidents
  curl -s 'http://$api/api/verdicts?min_level=high&limit=10'
  curl -s "http://$api/api/threat-analysis?ip=\$(redis-cli -p $redis_port ZREVRANGE ddos:top 0 0)"
  curl -s http://$api/metrics | grep -v '^#' | head -30
  redis-cli -p $redis_port ZREVRANGE ddos:top 0 9 WITHSCORES
  redis-cli -p $redis_port HGETALL ddos:verdict:<ip from the top set>
  redis-cli -p $redis_port XRANGE ddos:events - + COUNT 5
  curl -s -X POST http://$api/api/report-attack -H "X-Api-Key: $secret" \\
       -H 'Content-Type: application/json' -d '{"ip":"203.0.113.9","attack_type":"http_flood"}'
Ctrl-C stops ddosd (it scores every open flow and writes $out/verdicts.jsonl) and redis-server.
EOF
wait "${pids[0]}" || true
