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
# target after an untimed 2 s warm-up, targets in the order nginx, FastAPI, ddosd (and the
# --before ddosd), R rounds; figures are medians over the rounds. p50/p99 come from wrk's
# --latency table. A missed goal is reported, not failed: the exit status says whether
# everything ran.
#
# Pinned (the default on 2 or more CPUs; issue 11's "fair load"): wrk runs on CPU 0 and every
# server on CPU 1 (taskset), so the load generator and the server never take each other's time
# slices; nginx then runs one worker (one core), and ddosd api.threads 1 unless --api-threads
# says otherwise. Goals: ddosd >= 0.9 of nginx's requests/s, p99 <= 2 ms, at 64 connections.
# Each ddosd is loaded on both CPUs (its pipeline must keep up with the reports) and pinned,
# every thread, once loaded.
#
# CPU per request: the server's user + system time during the measured run (every thread of
# every process of its session, from /proc) over the requests answered; for ddosd also its
# libmicrohttpd threads alone. On a machine shared with other work, requests/s move with what
# else runs; CPU time per request much less, and it says what the pinned ratio would be with the
# server's core to itself ("CPU-bound ratio": nginx's CPU per request over ddosd's). The
# 1-minute load average after each run is kept too (bench_api.json, each run's loadavg_1m, and
# its range in the table's footer): above about 2 on 2 CPUs, other work took the server's CPU.
#
# Usage: bench/bench_api.sh [BUILD_DIR] [--duration S] [--connections C] [--threads T]
#                           [--verdicts N] [--rounds R] [--api-threads K] [--before DDOSD]
#                           [--no-pin] [--no-fastapi]
#   BUILD_DIR      CMake build directory (default: build)
#   --duration S   seconds of wrk per target and round (default 10)
#   --connections C  wrk connections (default 64)
#   --threads T    wrk threads (default 1 pinned, 2 unpinned)
#   --verdicts N   verdicts loaded (default 100000)
#   --rounds R     measurement rounds (default 1)
#   --api-threads K  ddosd api.threads (default 1 pinned; unpinned: ddosd's own default)
#   --before DDOSD another ddosd binary measured in the same run, the same way (e.g. the build
#                  before a change: /work/base/build/bin/ddosd); reported as "ddosd before"
#   --no-pin       share every CPU between wrk and the servers (the figures before issue 11)
#   --no-fastapi   skip the seed FastAPI baseline (and Redis)
# Output: a table on stdout and BUILD_DIR/bench/bench_api.json.
# Exit: 0 measured; 1 a server or wrk failed; 2 usage or missing tools; 3 ddosd is not built
# (the baselines were still measured and reported).
set -euo pipefail

PY=/usr/bin/python3
build=build
duration=10
connections=64
wthreads=
verdicts=100000
rounds=1
api_threads=
before=
pin=auto
fastapi=1
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
    --duration | --connections | --threads | --verdicts | --rounds | --api-threads | --before)
        (($# >= 2)) || die_usage "$1 needs a value"
        case $1 in
        --duration) duration=$2 ;;
        --connections) connections=$2 ;;
        --threads) wthreads=$2 ;;
        --verdicts) verdicts=$2 ;;
        --rounds) rounds=$2 ;;
        --api-threads) api_threads=$2 ;;
        --before) before=$2 ;;
        esac
        shift 2
        ;;
    --no-pin)
        pin=0
        shift
        ;;
    --no-fastapi)
        fastapi=0
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
ncpu=$(nproc 2>/dev/null || echo 1)
if [[ $pin == auto ]]; then
    pin=0
    ((ncpu >= 2)) && command -v taskset >/dev/null 2>&1 && pin=1
fi
if ((pin)); then
    command -v taskset >/dev/null 2>&1 || die_usage "pinning needs taskset (util-linux); or --no-pin"
    ((ncpu >= 2)) || die_usage "pinning needs 2 CPUs; use --no-pin"
    wthreads=${wthreads:-1}
    api_threads=${api_threads:-1}
    client_cpu=0
    server_cpu=1
    on_client=(taskset -c "$client_cpu")
    on_server=(taskset -c "$server_cpu")
else
    wthreads=${wthreads:-2}
    on_client=()
    on_server=()
fi
if [[ -n $before ]]; then
    [[ -x $before ]] || die_usage "--before: '$before' is not an executable"
    before=$(cd "$(dirname "$before")" && pwd)/$(basename "$before")
fi
for v in duration connections wthreads verdicts rounds; do
    is_count "${!v}" || die_usage "--${v/wthreads/threads}: '${!v}' is not a positive integer"
done
[[ -z $api_threads ]] || is_count "$api_threads" || die_usage "--api-threads: '$api_threads'"
((verdicts <= 1000000)) || die_usage "--verdicts: at most 1000000"

missing=()
tools=(wrk nginx curl)
((fastapi)) && tools+=(redis-server redis-cli)
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
[[ -x $PY ]] || missing+=("$PY")
if ((${#missing[@]})); then
    echo "bench_api.sh: missing: ${missing[*]}" >&2
    echo "  apt-get install wrk nginx-light redis-server curl python3" >&2
    exit 2
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if ((fastapi)) && ! "$PY" -c 'import fastapi, uvicorn, uvloop, httptools, redis' 2>/dev/null; then
    echo "bench_api.sh: the FastAPI baseline needs Debian's python3-fastapi python3-uvicorn" \
        "python3-uvloop python3-httptools python3-redis (or --no-fastapi)" >&2
    exit 2
fi
[[ -d $build ]] || die_usage "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
ddosd=$build/app/ddosd
[[ -x $ddosd ]] || ddosd=$build/bin/ddosd
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

# spawn NAME CMD... : starts CMD in its own session (on the server CPU when pinned), logs to
# $work/NAME.log, records its pid. SPAWN_UNPINNED=1: on every CPU (pin it later with pin_server).
spawn() {
    local name=$1
    shift
    if [[ ${SPAWN_UNPINNED:-0} == 1 ]]; then
        setsid "$@" >"$work/$name.log" 2>&1 </dev/null &
    else
        setsid "${on_server[@]}" "$@" >"$work/$name.log" 2>&1 </dev/null &
    fi
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
if ((fastapi)); then
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

    fastapi_port=$(free_port)
    echo '{"cache": {"enabled": true, "ttl": 86400}}' >"$work/fastapi-config.json"
    spawn fastapi env REDIS_HOST=127.0.0.1 REDIS_PORT="$redis_port" \
        DDOSD_CONFIG="$work/fastapi-config.json" "$PY" -m uvicorn --app-dir "$here/seed_backend" \
        app:app --host 127.0.0.1 --port "$fastapi_port" --workers 2 --loop uvloop --http httptools \
        --no-access-log --log-level warning
    wait_http "http://127.0.0.1:$fastapi_port/health" 30 "$last_pid" fastapi
    fastapi_sid=$last_pid
    fa_known=$(curl -s "http://127.0.0.1:$fastapi_port/api/threat-analysis?ip=198.18.0.7")
    [[ $fa_known == *'"high"'* ]] || {
        echo "bench_api.sh: FastAPI does not see the loaded verdicts: $fa_known" >&2
        exit 1
    }

fi

nginx_workers=auto
((pin)) && nginx_workers=1 # one core: one worker, as ddosd gets one thread
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $nginx_workers;
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
declare -A sid # each target's session (spawn's setsid): whose CPU time a request costs
sid[nginx]=$last_pid

targets=(nginx)
declare -A url
url[nginx]=http://127.0.0.1:$nginx_port
if ((fastapi)); then
    targets+=(fastapi)
    url[fastapi]=http://127.0.0.1:$fastapi_port
    sid[fastapi]=$fastapi_sid
fi
load_s=
secret=bench-secret-key-0123456789abcdef

# start_ddosd NAME BINARY: starts BINARY -r pings.pcap --serve on a free port, loads the N
# verdicts through its API (reports) and adds NAME to the targets.
start_ddosd() {
    local name=$1 bin=$2 port t0 have=0 i known unknown dpid sent=0 n
    port=$(free_port)
    {
        printf '{"sensor": {"id": "bench"}, "ml_model": {"path": ""}, "cache": {"ttl": 86400}'
        [[ -z $api_threads ]] || printf ', "api": {"threads": %d}' "$api_threads"
        printf '}\n'
    } >"$work/$name-config.json"
    echo "starting $name ($bin) on $capture ..." >&2
    t0=$(date +%s.%N)
    # Loading runs on both CPUs (the pipeline that takes the reports must keep up with them);
    # the measurement afterwards runs pinned (pin_server).
    SPAWN_UNPINNED=1 spawn "$name" env SECRET_KEY=$secret "$bin" \
        -c "$work/$name-config.json" -r "$capture" --serve --redis none \
        --api "127.0.0.1:$port"
    dpid=$last_pid
    wait_http "http://127.0.0.1:$port/health" 60 "$dpid" "$name"
    # The reports: each wrk thread walks its own residue class of the N addresses (wrapping
    # around: a repeated report merges into the same verdict), until /health counts N decisions.
    # Each round starts where the previous one stopped (a slow server must not be sent the same
    # first addresses every round); a report refused with 503 + Retry-After (the pipeline's
    # queue full) comes again when the walk wraps around.
    cat >"$work/wrk_report.lua" <<EOF
local base, count, key = 0xC6120000, $verdicts, "$secret"
local nthreads, id, k = 0, 0, 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
function init(args) id = tonumber(tid) or 0; k = id + (tonumber(os.getenv("WRK_START")) or 0) end
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
    for ((i = 0; i < 60; i++)); do
        have=$(curl -s --max-time 2 "http://127.0.0.1:$port/health" | "$PY" -c 'import json, sys
try: print(int(json.load(sys.stdin).get("decisions", 0)))
except Exception: print(0)')
        ((have >= verdicts)) && break
        kill -0 "$dpid" 2>/dev/null || {
            echo "bench_api.sh: $name exited; its log:" >&2
            tail -n 20 "$work/$name.log" >&2
            exit 1
        }
        WRK_START=$sent wrk -t "$wthreads" -c 32 -d 3s -s "$work/wrk_report.lua" \
            "http://127.0.0.1:$port" >"$work/wrk-report-$name-$i.txt" 2>&1 || true
        n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$work/wrk-report-$name-$i.txt")
        sent=$((sent + ${n:-0}))
    done
    load_s=$("$PY" -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
    if ((have < verdicts)); then
        echo "bench_api.sh: $name holds $have decisions after loading, expected $verdicts" >&2
        tail -n 20 "$work/$name.log" >&2
        cat "$work/wrk-report-$name-$((i - 1)).txt" >&2
        exit 1
    fi
    echo "$name holds $have decisions ($load_s s from start, reports included)" >&2
    known=$(curl -s "http://127.0.0.1:$port/api/threat-analysis?ip=198.18.0.7")
    unknown=$(curl -s "http://127.0.0.1:$port/api/threat-analysis?ip=100.64.0.7")
    [[ $known == *'"high"'* || $known == *'"critical"'* ]] || {
        echo "bench_api.sh: $name does not flag a loaded address: $known" >&2
        exit 1
    }
    [[ $unknown == *'"low"'* ]] || {
        echo "bench_api.sh: $name flags an unknown address: $unknown" >&2
        exit 1
    }
    if ((pin)); then # every thread of the process, from now on, on the server CPU
        taskset -a -p -c "$server_cpu" "$dpid" >/dev/null ||
            { echo "bench_api.sh: cannot pin $name (pid $dpid)" >&2; exit 1; }
    fi
    targets+=("$name")
    url[$name]=http://127.0.0.1:$port
    sid[$name]=$dpid
}

if ((have_ddosd)); then
    start_ddosd ddosd "$ddosd"
fi
if [[ -n $before ]]; then
    start_ddosd ddosd_before "$before"
fi

# ---- measurement -----------------------------------------------------------------------------
# cpu_ticks SID: user + system clock ticks (1/100 s) of every thread of every process in the
# session: the server's CPU time, whatever else the machine runs (a noisy machine moves the
# requests per second, much less the CPU time one request costs).
# cpu_ticks SID MHD: the same for libmicrohttpd's threads only (named MHD-*: ddosd's HTTP
# threads, without its pipeline's).
cpu_ticks() {
    local p total=0 t task
    for p in $(ps -o pid= -s "$1" 2>/dev/null); do
        for task in /proc/"$p"/task/*; do
            [[ -z ${2:-} ]] || grep -q '^MHD' "$task/comm" 2>/dev/null || continue
            t=$(awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0)
            total=$((total + ${t:-0}))
        done
    done
    echo "$total"
}
export WRK_LOADED_BASE=198.18.0.0 WRK_LOADED_COUNT=$verdicts WRK_MISS_BASE=100.64.0.0
export WRK_MISS_EVERY=4
for ((r = 1; r <= rounds; r++)); do
    for t in "${targets[@]}"; do
        echo "round $r/$rounds: $t (${duration} s, $connections connections)" >&2
        "${on_client[@]}" wrk -t "$wthreads" -c "$connections" -d 2s -s "$here/wrk_threat.lua" \
            "${url[$t]}" >/dev/null 2>&1 || true
        c0=$(cpu_ticks "${sid[$t]}")
        m0=$(cpu_ticks "${sid[$t]}" MHD)
        if ! "${on_client[@]}" wrk -t "$wthreads" -c "$connections" -d "${duration}s" --latency \
            -s "$here/wrk_threat.lua" "${url[$t]}" >"$work/wrk-$t-$r.txt" 2>&1; then
            echo "bench_api.sh: wrk failed against $t:" >&2
            cat "$work/wrk-$t-$r.txt" >&2
            exit 1
        fi
        c1=$(cpu_ticks "${sid[$t]}")
        m1=$(cpu_ticks "${sid[$t]}" MHD)
        echo "SERVER_CPU_TICKS $((c1 - c0)) HTTP_THREADS $((m1 - m0))" >>"$work/wrk-$t-$r.txt"
        echo "LOADAVG $(cut -d' ' -f1 /proc/loadavg)" >>"$work/wrk-$t-$r.txt"
        cp "$work/wrk-$t-$r.txt" "$outdir/bench_api-wrk-$t-$r.txt"
    done
done

"$PY" - "$work" "$rounds" "$outdir/bench_api.json" "$duration" "$connections" "$wthreads" \
    "$verdicts" "${load_s:-}" "$pin" "${api_threads:-default}" "${targets[@]}" <<'PY'
import json, os, platform, re, statistics, sys, time

work, rounds, out_path, duration, conns, wthreads, verdicts, load_s, pin, api_threads = \
    sys.argv[1:11]
targets = sys.argv[11:]
rounds = int(rounds)
pin = pin == "1"
RATIO_GOAL, P99_GOAL_MS = 0.9, 2.0
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
    ticks = re.search(r"SERVER_CPU_TICKS (\d+) HTTP_THREADS (\d+)", text)
    load = re.search(r"LOADAVG ([\d.]+)", text)
    return {"rps": float(m.group(1)), "p50_ms": ms(lat["50"]), "p99_ms": ms(lat["99"]),
            "requests": int(reqs.group(1)) if reqs else None,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "cpu_us_per_request": (int(ticks.group(1)) * 1e4 / int(reqs.group(1))
                                   if ticks and reqs and int(reqs.group(1)) else None),
            "mhd_cpu_us_per_request": (int(ticks.group(2)) * 1e4 / int(reqs.group(1))
                                       if ticks and reqs and int(reqs.group(1)) else None),
            "socket_errors": sum(map(int, sock.groups())) if sock else 0,
            "loadavg_1m": float(load.group(1)) if load else None}


res = {}
for t in targets:
    runs = [parse(os.path.join(work, f"wrk-{t}-{r}.txt")) for r in range(1, rounds + 1)]
    res[t] = {"rps": statistics.median(r["rps"] for r in runs),
              "p50_ms": statistics.median(r["p50_ms"] for r in runs),
              "p99_ms": statistics.median(r["p99_ms"] for r in runs),
              "cpu_us_per_request": statistics.median(
                  r["cpu_us_per_request"] or 0.0 for r in runs),
              "mhd_cpu_us_per_request": statistics.median(
                  r["mhd_cpu_us_per_request"] or 0.0 for r in runs),
              "non2xx": sum(r["non2xx"] for r in runs),
              "socket_errors": sum(r["socket_errors"] for r in runs), "runs": runs}

result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                   "kernel": platform.release()},
          "pinned": pin, "api_threads": api_threads,
          "wrk": {"threads": int(wthreads), "connections": int(conns),
                  "duration_s": int(duration), "rounds": rounds,
                  "script": "bench/wrk_threat.lua", "unknown_share": 0.25},
          "verdicts": int(verdicts), "ddosd_load_s": float(load_s) if load_s else None,
          "targets": res, "goals": {"ratio_vs_nginx": RATIO_GOAL, "p99_ms": P99_GOAL_MS}}
for name in ("ddosd", "ddosd_before"):
    if name not in res:
        continue
    d = res[name]
    key = "" if name == "ddosd" else "_before"
    result["ratio_vs_nginx" + key] = round(d["rps"] / res["nginx"]["rps"], 4)
    if "fastapi" in res:
        result["ratio_vs_fastapi" + key] = round(d["rps"] / res["fastapi"]["rps"], 4)
    result["ratio_met" + key] = result["ratio_vs_nginx" + key] >= RATIO_GOAL
    result["p99_met" + key] = d["p99_ms"] <= P99_GOAL_MS
if "ddosd" in res and "ddosd_before" in res:
    result["speedup_vs_before"] = round(res["ddosd"]["rps"] / res["ddosd_before"]["rps"], 4)
names = {"nginx": "nginx return 200 (ceiling)", "fastapi": "seed FastAPI (uvicorn, 2 workers)",
         "ddosd": "ddosd", "ddosd_before": "ddosd before (--before)"}
print(f"GET /api/threat-analysis?ip=, {int(verdicts):,} verdicts loaded, 25 % unknown addresses")
print(f"  wrk {wthreads} threads, {conns} connections, {duration} s per target, "
      f"{rounds} round(s), medians; "
      + (f"pinned: wrk on CPU 0, servers on CPU 1, ddosd api.threads {api_threads}, nginx 1 worker"
         if pin else f"unpinned, ddosd api.threads {api_threads}"))
print(f"  {'':36}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/req':>12}"
      f"{'(HTTP threads)':>16}")
for t in targets:
    r = res[t]
    mhd = f"{r['mhd_cpu_us_per_request']:.2f}" if r["mhd_cpu_us_per_request"] else "-"
    print(f"  {names[t]:36}{r['rps']:>12,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
          f"{r['non2xx'] + r['socket_errors']:>8}{r['cpu_us_per_request']:>12.2f}{mhd:>16}")
loads = [r["loadavg_1m"] for t in targets for r in res[t]["runs"] if r["loadavg_1m"] is not None]
if loads:
    result["loadavg_1m"] = {"min": min(loads), "max": max(loads)}
    print(f"  load average (1 min) after each run: {min(loads):.1f} to {max(loads):.1f} on "
          f"{os.cpu_count()} CPUs (above about 2, other work shared the server's CPU: "
          f"requests/s and p99 move with it, CPU us/req much less)")
ok = lambda b: "met" if b else "MISSED"
for name, key in (("ddosd", ""), ("ddosd_before", "_before")):
    if name not in res:
        continue
    label = name.replace("_", " ")
    print(f"  ratio {label} / nginx   {result['ratio_vs_nginx' + key]:6.3f}   goal >= "
          f"{RATIO_GOAL}  {ok(result['ratio_met' + key])}")
    if "fastapi" in res:
        print(f"  ratio {label} / fastapi {result['ratio_vs_fastapi' + key]:6.2f}")
    print(f"  {label} p99             {res[name]['p99_ms']:6.2f} ms  goal <= {P99_GOAL_MS} ms "
          f"at {conns} connections  {ok(result['p99_met' + key])}")
for name, key in (("ddosd", ""), ("ddosd_before", "_before")):
    if name in res and res["nginx"]["cpu_us_per_request"] and res[name]["cpu_us_per_request"]:
        result["cpu_ratio_vs_nginx" + key] = round(res["nginx"]["cpu_us_per_request"]
                                                   / res[name]["cpu_us_per_request"], 4)
        print(f"  CPU-bound ratio {name.replace('_', ' ')} / nginx (nginx's CPU per request / "
              f"ddosd's) {result['cpu_ratio_vs_nginx' + key]:6.3f}")
if "speedup_vs_before" in result:
    print(f"  ddosd / ddosd before  {result['speedup_vs_before']:6.3f}")
if "ddosd" in res:
    if result["ddosd_load_s"] is not None:
        print(f"  ddosd start to {int(verdicts):,} verdicts: {result['ddosd_load_s']:.1f} s")
else:
    print("  ddosd: not built")
with open(out_path + ".tmp", "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)
print(f"  written: {out_path}")
PY

if ((!have_ddosd)); then
    exit 3
fi
exit 0
