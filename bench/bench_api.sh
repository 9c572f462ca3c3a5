#!/usr/bin/env bash
# bench_api.sh - ddosd's REST API (GET /api/threat-analysis?ip=) against two baselines measured
# in the same run: nginx answering `return 200` with a fixed body (what this machine's HTTP
# stack can do at all) and the seed's FastAPI backend (bench/seed_backend/app.py, uvicorn with
# uvloop and httptools, 2 workers, reading the same verdicts from Redis).
#
# Loading: ddosd serves what its verdict store holds, so the N verdicts go in through the API
# itself: `ddosd -r CAPTURE --serve` (a tiny generated capture; the API stays up after the
# replay) gets N authenticated POST /api/report-attack (198.18.0.0 + i, level high), sent by wrk
# with a generated Lua script, until /health counts N decisions. (A capture that makes 100,000
# sources cross a rate rule does not do it: the rate rules evaluate a bounded slice of their
# table per tick, so a short burst raises a few thousand alerts, and after a replay the wall
# clock ends every attack within about 20 s, which lowers the verdicts to "low".) The same N
# addresses are written to Redis (ddos:verdict:<ip> threat_level high) for
# the FastAPI backend, which reads Redis on every request as the seed did.
#
# Measuring: wrk with bench/wrk_threat.lua (every 4th request asks for an address without a
# verdict; the others rotate through the N loaded ones), T threads, C connections, D seconds per
# target after an untimed 2 s warm-up, targets in the order nginx, FastAPI, ddosd, R rounds;
# figures are medians over the rounds. p50/p99 come from wrk's --latency table. A missed goal is
# reported, not failed: the exit status says whether everything ran.
#
# Usage: bench/bench_api.sh [BUILD_DIR] [--duration S] [--connections C] [--threads T]
#                           [--verdicts N] [--rounds R] [--api-threads K]
#   BUILD_DIR      CMake build directory (default: build)
#   --duration S   seconds of wrk per target and round (default 10)
#   --connections C  wrk connections (default 64)
#   --threads T    wrk threads (default 2)
#   --verdicts N   verdicts loaded (default 100000)
#   --rounds R     measurement rounds (default 1)
#   --api-threads K  ddosd api.threads (default: ddosd's own default)
# Output: a table on stdout and BUILD_DIR/bench/bench_api.json.
# Exit: 0 measured; 1 a server or wrk failed; 2 usage or missing tools; 3 ddosd is not built
# (the baselines were still measured and reported).
set -euo pipefail

PY=/usr/bin/python3
build=build
duration=10
connections=64
wthreads=2
verdicts=100000
rounds=1
api_threads=
here=$(cd "$(dirname "$0")" && pwd)

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die_usage() {
    echo "bench_api.sh: $*" >&2
    echo "Try 'bench/bench_api.sh --help'." >&2
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
    --duration | --connections | --threads | --verdicts | --rounds | --api-threads)
        (($# >= 2)) || die_usage "$1 needs a value"
        case $1 in
        --duration) duration=$2 ;;
        --connections) connections=$2 ;;
        --threads) wthreads=$2 ;;
        --verdicts) verdicts=$2 ;;
        --rounds) rounds=$2 ;;
        --api-threads) api_threads=$2 ;;
        esac
        shift 2
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
for v in duration connections wthreads verdicts rounds; do
    is_count "${!v}" || die_usage "--${v/wthreads/threads}: '${!v}' is not a positive integer"
done
[[ -z $api_threads ]] || is_count "$api_threads" || die_usage "--api-threads: '$api_threads'"
((verdicts <= 1000000)) || die_usage "--verdicts: at most 1000000"

missing=()
for tool in wrk nginx redis-server redis-cli curl; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
[[ -x $PY ]] || missing+=("$PY")
if ((${#missing[@]})); then
    echo "bench_api.sh: missing: ${missing[*]}" >&2
    echo "  apt-get install wrk nginx-light redis-server curl python3" >&2
    exit 2
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if ! "$PY" -c 'import fastapi, uvicorn, uvloop, httptools, redis' 2>/dev/null; then
    echo "bench_api.sh: the FastAPI baseline needs Debian's python3-fastapi python3-uvicorn" \
        "python3-uvloop python3-httptools python3-redis" >&2
    exit 2
fi
[[ -d $build ]] || die_usage "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
ddosd=$build/app/ddosd
have_ddosd=1
if [[ ! -x $ddosd ]]; then
    have_ddosd=0
    echo "bench_api.sh: $ddosd is not built; measuring the baselines only." >&2
    echo "  build it with: cmake --build $build --target ddosd" >&2
fi

outdir=$build/bench
mkdir -p "$outdir"
work=$(mktemp -d /tmp/ddosd-bench-api.XXXXXX)
pids=()

# Stops exactly the processes this script started (each leads its own process group: setsid).
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# spawn NAME CMD... : starts CMD in its own session, logs to $work/NAME.log, records its pid.
spawn() {
    local name=$1
    shift
    setsid "$@" >"$work/$name.log" 2>&1 </dev/null &
    pids+=($!)
    last_pid=$!
}

# wait_http URL SECONDS PID: waits until URL answers 200, or fails with the server's log.
wait_http() {
    local url=$1 secs=$2 pid=$3 name=$4 i
    for ((i = 0; i < secs * 10; i++)); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) == 200 ]]; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench_api.sh: $name exited during start-up; its log:" >&2
            tail -n 20 "$work/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "bench_api.sh: $name did not answer $url within $secs s; its log:" >&2
    tail -n 20 "$work/$name.log" >&2
    exit 1
}

# ---- the capture: a few pings (ddosd needs something to replay before --serve) -------------
capture=$work/pings.pcap
"$PY" - "$capture" <<'PY'
import struct, sys


def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for k in range(5):
        icmp = struct.pack("!BBHHH", 8, 0, 0, 0x77, k) + b"\0" * 32
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), k, 0x4000, 64, 1, 0,
                         bytes([100, 64, 255, 1]), bytes([10, 20, 1, 10]))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = bytes.fromhex("020000000001020000000002" "0800") + ip + icmp
        f.write(struct.pack("<IIII", 1767225600, k * 100_000, len(frame), len(frame)) + frame)
PY

# ---- servers ---------------------------------------------------------------------------------
redis_port=$(free_port)
spawn redis redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" --daemonize no
redis_pid=$last_pid
for _ in $(seq 100); do
    [[ $(redis-cli -p "$redis_port" PING 2>/dev/null) == PONG ]] && break
    sleep 0.05
done
[[ $(redis-cli -p "$redis_port" PING 2>/dev/null) == PONG ]] || {
    echo "bench_api.sh: redis-server did not start" >&2
    exit 1
}
echo "loading $verdicts verdicts into Redis for the FastAPI backend ..." >&2
"$PY" - "$verdicts" <<'PY' | redis-cli -p "$redis_port" --pipe >"$work/redis-load.log"
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*args):
    b = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = str(a).encode()
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
base = 0xC6120000
chunk = []
for i in range(n):
    v = base + i
    ip = f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"
    key = f"ddos:verdict:{ip}"
    chunk.append(cmd("HSET", key, "ip", ip, "threat_level", "high", "reasons", "rate_syn"))
    chunk.append(cmd("EXPIRE", key, 86400))
    if len(chunk) >= 20000:
        out.write(b"".join(chunk)); chunk = []
out.write(b"".join(chunk))
PY
got=$(redis-cli -p "$redis_port" DBSIZE)
((got == verdicts)) || {
    echo "bench_api.sh: Redis holds $got keys after loading, expected $verdicts" >&2
    exit 1
}

nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            default_type application/json;
            return 200 '{"ip":"198.18.0.1","threat_level":"high","known":true}';
        }
    }
}
EOF
spawn nginx "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf"
wait_http "http://127.0.0.1:$nginx_port/health" 10 "$last_pid" nginx

fastapi_port=$(free_port)
echo '{"cache": {"enabled": true, "ttl": 86400}}' >"$work/fastapi-config.json"
spawn fastapi env REDIS_HOST=127.0.0.1 REDIS_PORT="$redis_port" \
    DDOSD_CONFIG="$work/fastapi-config.json" "$PY" -m uvicorn --app-dir "$here/seed_backend" \
    app:app --host 127.0.0.1 --port "$fastapi_port" --workers 2 --loop uvloop --http httptools \
    --no-access-log --log-level warning
wait_http "http://127.0.0.1:$fastapi_port/health" 30 "$last_pid" fastapi
fa_known=$(curl -s "http://127.0.0.1:$fastapi_port/api/threat-analysis?ip=198.18.0.7")
[[ $fa_known == *'"high"'* ]] || {
    echo "bench_api.sh: FastAPI does not see the loaded verdicts: $fa_known" >&2
    exit 1
}

targets=(nginx fastapi)
declare -A url
url[nginx]=http://127.0.0.1:$nginx_port
url[fastapi]=http://127.0.0.1:$fastapi_port
load_s=
if ((have_ddosd)); then
    ddosd_port=$(free_port)
    {
        printf '{"sensor": {"id": "bench"}, "ml_model": {"path": ""}, "cache": {"ttl": 86400}'
        [[ -z $api_threads ]] || printf ', "api": {"threads": %d}' "$api_threads"
        printf '}\n'
    } >"$work/ddosd-config.json"
    echo "starting ddosd on $capture ..." >&2
    t0=$(date +%s.%N)
    secret=bench-secret-key-0123456789abcdef
    spawn ddosd env SECRET_KEY=$secret "$ddosd" \
        -c "$work/ddosd-config.json" -r "$capture" --serve --redis none \
        --api "127.0.0.1:$ddosd_port"
    ddosd_pid=$last_pid
    wait_http "http://127.0.0.1:$ddosd_port/health" 60 "$ddosd_pid" ddosd
    # The reports: each wrk thread walks its own residue class of the N addresses (wrapping
    # around: a repeated report merges into the same verdict), until /health counts N decisions.
    cat >"$work/wrk_report.lua" <<EOF
local base, count, key = 0xC6120000, $verdicts, "$secret"
local nthreads, id, k = 0, 0, 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
function init(args) id = tonumber(tid) or 0; k = id end
local headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
function request()
    local v = base + (k % count)
    k = k + $wthreads
    local ip = string.format("%d.%d.%d.%d", math.floor(v / 16777216) % 256,
        math.floor(v / 65536) % 256, math.floor(v / 256) % 256, v % 256)
    return wrk.format("POST", "/api/report-attack", headers,
        '{"ip":"' .. ip .. '","threat_level":"high","attack_type":"syn_flood","source":"bench"}')
end
EOF
    have=0
    decisions() {
        curl -s --max-time 2 "http://127.0.0.1:$ddosd_port/health" | "$PY" -c 'import json, sys
try: print(int(json.load(sys.stdin).get("decisions", 0)))
except Exception: print(0)'
    }
    for ((i = 0; i < 30; i++)); do
        have=$(decisions)
        ((have >= verdicts)) && break
        kill -0 "$ddosd_pid" 2>/dev/null || {
            echo "bench_api.sh: ddosd exited; its log:" >&2
            tail -n 20 "$work/ddosd.log" >&2
            exit 1
        }
        wrk -t "$wthreads" -c 32 -d 3s -s "$work/wrk_report.lua" \
            "http://127.0.0.1:$ddosd_port" >"$work/wrk-report-$i.txt" 2>&1 || true
        if grep -q "Non-2xx" "$work/wrk-report-$i.txt"; then
            echo "bench_api.sh: reports were refused:" >&2
            cat "$work/wrk-report-$i.txt" >&2
            exit 1
        fi
    done
    load_s=$("$PY" -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
    if ((have < verdicts)); then
        echo "bench_api.sh: ddosd holds $have decisions after loading, expected $verdicts" >&2
        tail -n 20 "$work/ddosd.log" >&2
        exit 1
    fi
    echo "ddosd holds $have decisions ($load_s s from start, reports included)" >&2
    known=$(curl -s "http://127.0.0.1:$ddosd_port/api/threat-analysis?ip=198.18.0.7")
    unknown=$(curl -s "http://127.0.0.1:$ddosd_port/api/threat-analysis?ip=100.64.0.7")
    [[ $known == *'"high"'* || $known == *'"critical"'* ]] || {
        echo "bench_api.sh: ddosd does not flag a loaded address: $known" >&2
        exit 1
    }
    [[ $unknown == *'"low"'* ]] || {
        echo "bench_api.sh: ddosd flags an unknown address: $unknown" >&2
        exit 1
    }
    targets+=(ddosd)
    url[ddosd]=http://127.0.0.1:$ddosd_port
fi

# ---- measurement -----------------------------------------------------------------------------
export WRK_LOADED_BASE=198.18.0.0 WRK_LOADED_COUNT=$verdicts WRK_MISS_BASE=100.64.0.0
export WRK_MISS_EVERY=4
for ((r = 1; r <= rounds; r++)); do
    for t in "${targets[@]}"; do
        echo "round $r/$rounds: $t (${duration} s, $connections connections)" >&2
        wrk -t "$wthreads" -c "$connections" -d 2s -s "$here/wrk_threat.lua" "${url[$t]}" \
            >/dev/null 2>&1 || true
        if ! wrk -t "$wthreads" -c "$connections" -d "${duration}s" --latency \
            -s "$here/wrk_threat.lua" "${url[$t]}" >"$work/wrk-$t-$r.txt" 2>&1; then
            echo "bench_api.sh: wrk failed against $t:" >&2
            cat "$work/wrk-$t-$r.txt" >&2
            exit 1
        fi
        cp "$work/wrk-$t-$r.txt" "$outdir/bench_api-wrk-$t-$r.txt"
    done
done

"$PY" - "$work" "$rounds" "$outdir/bench_api.json" "$duration" "$connections" "$wthreads" \
    "$verdicts" "${load_s:-}" "${targets[@]}" <<'PY'
import json, os, platform, re, statistics, sys, time

work, rounds, out_path, duration, conns, wthreads, verdicts, load_s = sys.argv[1:9]
targets = sys.argv[9:]
rounds = int(rounds)
RATIO_GOAL, P99_GOAL_MS = 0.7, 2.0
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse(path):
    text = open(path).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))\s*$", text, re.M))
    if not m or "50" not in lat or "99" not in lat:
        sys.exit(f"bench_api.sh: cannot parse wrk output {path}:\n{text}")
    def ms(v):
        n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
        return float(n) * UNIT[u]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    reqs = re.search(r"(\d+) requests in", text)
    return {"rps": float(m.group(1)), "p50_ms": ms(lat["50"]), "p99_ms": ms(lat["99"]),
            "requests": int(reqs.group(1)) if reqs else None,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(map(int, sock.groups())) if sock else 0}


res = {}
for t in targets:
    runs = [parse(os.path.join(work, f"wrk-{t}-{r}.txt")) for r in range(1, rounds + 1)]
    res[t] = {"rps": statistics.median(r["rps"] for r in runs),
              "p50_ms": statistics.median(r["p50_ms"] for r in runs),
              "p99_ms": statistics.median(r["p99_ms"] for r in runs),
              "non2xx": sum(r["non2xx"] for r in runs),
              "socket_errors": sum(r["socket_errors"] for r in runs), "runs": runs}

result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                   "kernel": platform.release()},
          "wrk": {"threads": int(wthreads), "connections": int(conns),
                  "duration_s": int(duration), "rounds": rounds,
                  "script": "bench/wrk_threat.lua", "unknown_share": 0.25},
          "verdicts": int(verdicts), "ddosd_load_s": float(load_s) if load_s else None,
          "targets": res, "goals": {"ratio_vs_nginx": RATIO_GOAL, "p99_ms": P99_GOAL_MS}}
if "ddosd" in res:
    d = res["ddosd"]
    result["ratio_vs_nginx"] = round(d["rps"] / res["nginx"]["rps"], 4)
    result["ratio_vs_fastapi"] = round(d["rps"] / res["fastapi"]["rps"], 4)
    result["ratio_met"] = result["ratio_vs_nginx"] >= RATIO_GOAL
    result["p99_met"] = d["p99_ms"] <= P99_GOAL_MS
with open(out_path + ".tmp", "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)

names = {"nginx": "nginx return 200 (ceiling)", "fastapi": "seed FastAPI (uvicorn, 2 workers)",
         "ddosd": "ddosd"}
print(f"GET /api/threat-analysis?ip=, {int(verdicts):,} verdicts loaded, 25 % unknown addresses")
print(f"  wrk {wthreads} threads, {conns} connections, {duration} s per target, "
      f"{rounds} round(s), medians")
print(f"  {'':36}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
for t in targets:
    r = res[t]
    print(f"  {names[t]:36}{r['rps']:>12,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
          f"{r['non2xx'] + r['socket_errors']:>8}")
if "ddosd" in res:
    ok = lambda b: "met" if b else "MISSED"
    print(f"  ratio ddosd / nginx   {result['ratio_vs_nginx']:6.3f}   goal >= {RATIO_GOAL}  "
          f"{ok(result['ratio_met'])}")
    print(f"  ratio ddosd / fastapi {result['ratio_vs_fastapi']:6.2f}")
    print(f"  ddosd p99             {res['ddosd']['p99_ms']:6.2f} ms  goal <= {P99_GOAL_MS} ms "
          f"at {conns} connections  {ok(result['p99_met'])}")
    if result["ddosd_load_s"] is not None:
        print(f"  ddosd start to {int(verdicts):,} verdicts: {result['ddosd_load_s']:.1f} s")
else:
    print("  ddosd: not built")
print(f"  written: {out_path}")
PY

if ((!have_ddosd)); then
    exit 3
fi
exit 0
