#!/usr/bin/env bash
# start_backend.sh - run the ddosd backend (redis-server, ddosd, nginx) on a host without systemd:
# containers, or machines booted with another init. scripts/install.sh installs it as
# /usr/local/sbin/ddos-backend with the install's paths as defaults; under systemd use
# systemctl {start,stop,reload} ddos-backend instead (config/systemd/ddos-backend.service).
#
# It mirrors the unit: ddosd runs as the user ddos with only CAP_NET_RAW and CAP_NET_ADMIN
# (setpriv), or, when setpriv is missing, starts as root and drops to config.json's "user" once
# its capture is open. Pid files go to the run directory; stop only stops what start started
# (a redis-server or nginx that was already running is left alone, nginx just reloads).
set -euo pipefail

# Defaults; install.sh rewrites these paths when --home or --prefix moves the install.
home=/home/ddos
bin_dir=/usr/local/bin
run_dir=/run/ddos-backend
nginx_conf=/etc/nginx/nginx.conf
svc_user=ddos

usage() {
    cat <<EOF
usage: ddos-backend start|stop|restart|status|reload [options]
       (scripts/start_backend.sh in the repository)

  start     start redis-server (when Redis is local and not running), ddosd in the background,
            nginx with the ddos-backend site (or reload it), then wait for /health
  stop      SIGTERM ddosd (it flushes and exits within 5 s; SIGKILL after 10 s), then stop the
            nginx and redis-server this script started
  restart   stop ddosd, then start (nginx reloads; Redis keeps running)
  reload    SIGHUP ddosd: reload the model and thresholds
  status    what runs, with pids, and the /health answer; exit 0 when ddosd is up and healthy,
            3 when it is not running, 1 when it runs but /health does not answer

options:
  --home DIR         the install's home (default $home): config/config.json, logs/
  --bin-dir DIR      where ddosd is (default $bin_dir)
  --run-dir DIR      pid files (default $run_dir; not root: DIR/data/run under --home)
  --nginx-conf FILE  nginx main config that includes the site (default $nginx_conf)
  --no-nginx         do not start or reload nginx; health is checked on ddosd's own port
  --no-redis         do not start redis-server
  --health-url URL   what start waits for (default http://127.0.0.1:9000/health, or
                     http://127.0.0.1:8000/health with --no-nginx)
  --timeout S        how long start waits for health (default 30)
  --quiet            status: print nothing, only the exit status
  -h, --help         this text

files: ddosd's console output (messages before its logs open) goes to HOME/logs/console.log;
       its logs to HOME/logs/{app,error,access}.log; pid files RUN_DIR/{ddosd,nginx,redis-server}.pid
EOF
}

say() { printf 'ddos-backend: %s\n' "$*"; }
die() {
    printf 'ddos-backend: error: %s\n' "$*" >&2
    exit 1
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case "$cmd" in
start | stop | restart | status | reload) ;;
-h | --help) usage; exit 0 ;;
"") usage >&2; exit 2 ;;
*) die "unknown command '$cmd' (start, stop, restart, status, reload; --help)" ;;
esac

use_nginx=1
use_redis=1
health_url=""
timeout=30
quiet=0
run_dir_set=0
need_arg() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then
        die "$1 needs a value (see --help)"
    fi
}
while [ $# -gt 0 ]; do
    case "$1" in
    --home) need_arg "$@"; home=$2; shift 2 ;;
    --bin-dir) need_arg "$@"; bin_dir=$2; shift 2 ;;
    --run-dir) need_arg "$@"; run_dir=$2; run_dir_set=1; shift 2 ;;
    --nginx-conf) need_arg "$@"; nginx_conf=$2; shift 2 ;;
    --no-nginx) use_nginx=0; shift ;;
    --no-redis) use_redis=0; shift ;;
    --health-url) need_arg "$@"; health_url=$2; shift 2 ;;
    --timeout) need_arg "$@"; timeout=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout takes whole seconds, got '$timeout'"

is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1
if [ $is_root -eq 0 ] && [ $run_dir_set -eq 0 ]; then
    run_dir=$home/data/run
fi
config=$home/config/config.json
envf=$home/config/.env
ddosd=$bin_dir/ddosd
if [ -z "$health_url" ]; then
    if [ $use_nginx -eq 1 ]; then
        health_url=http://127.0.0.1:9000/health
    else
        health_url=http://127.0.0.1:8000/health
    fi
fi

# The pid in a pid file when that process is alive and is the program named (a stale file, or a
# recycled pid now used by something else, reads as not running).
pid_of() {
    local file=$run_dir/$1.pid comm=$2 pid
    [ -s "$file" ] || return 1
    pid=$(head -c 20 "$file" | tr -dc 0-9)
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm")" = "$comm" ] || return 1
    printf '%s\n' "$pid"
}

# Sends sig to pid and waits up to secs seconds for it to exit; true when it did.
signal_wait() {
    local pid=$1 sig=$2 secs=$3 i
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for i in $(seq 1 $((secs * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

health() { curl -fsS --max-time 2 "$health_url" 2>/dev/null; }

# A value from .env (KEY=VALUE, optional export, optional quotes): enough for REDIS_HOST/PORT.
env_value() {
    local v=""
    if [ -r "$envf" ]; then
        v=$(sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=[[:space:]]*//p" "$envf" |
            tail -1 | sed -E "s/[[:space:]]+#.*$//; s/^['\"]//; s/['\"][[:space:]]*$//")
    fi
    printf '%s\n' "${!1:-$v}"
}

# --- redis ---------------------------------------------------------------------------------------
redis_start() {
    local host port
    host=$(env_value REDIS_HOST)
    port=$(env_value REDIS_PORT)
    host=${host:-127.0.0.1}
    port=${port:-6379}
    if ! command -v redis-server >/dev/null; then
        say "redis: redis-server not installed; ddosd keeps verdicts in memory until it is"
        return 0
    fi
    local ping=(redis-cli -h "$host" -p "$port" ping)
    if [ "$("${ping[@]}" 2>/dev/null || true)" = PONG ] ||
        "${ping[@]}" 2>/dev/null | grep -q NOAUTH; then
        say "redis: already running on $host:$port"
        return 0
    fi
    case "$host" in
    127.0.0.1 | localhost | ::1) ;;
    *)
        say "redis: $host:$port does not answer and is not local: not started"
        return 0
        ;;
    esac
    if [ $is_root -eq 1 ] && [ -r /etc/redis/redis.conf ] && id redis >/dev/null 2>&1; then
        # Debian's server, as its own user, with its own config (persistence in /var/lib/redis).
        install -d -o redis -g redis -m 2775 /run/redis
        runuser -u redis -- redis-server /etc/redis/redis.conf --port "$port" \
            --daemonize yes --supervised no --pidfile /run/redis/redis-server.pid
    else
        mkdir -p "$home/data/redis"
        redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$home/data/redis" \
            --pidfile "$run_dir/redis-server.pid.tmp" --logfile "$home/logs/redis-server.log"
    fi
    local i
    for i in $(seq 1 50); do
        [ "$("${ping[@]}" 2>/dev/null || true)" != PONG ] || break
        [ "$i" -lt 50 ] || die "redis-server did not answer on $host:$port"
        sleep 0.1
    done
    local pid
    pid=$(redis-cli -h "$host" -p "$port" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
    printf '%s\n' "$pid" >"$run_dir/redis-server.pid"
    rm -f "$run_dir/redis-server.pid.tmp"
    say "redis: started on $host:$port (pid $pid)"
}

redis_stop() {
    local pid
    if pid=$(pid_of redis-server redis-server); then
        signal_wait "$pid" TERM 10 || signal_wait "$pid" KILL 2 || true
        say "redis: stopped (pid $pid)"
    fi
    rm -f "$run_dir/redis-server.pid"
}

# --- ddosd ---------------------------------------------------------------------------------------
ddosd_start() {
    local pid
    if pid=$(pid_of ddosd ddosd); then
        say "ddosd: already running (pid $pid)"
        return 0
    fi
    [ -x "$ddosd" ] || die "$ddosd not found (--bin-dir DIR, or run scripts/install.sh)"
    [ -r "$config" ] || die "$config not found (--home DIR, or run scripts/install.sh)"
    local argv=("$ddosd" -c "$config")
    if [ $is_root -eq 1 ] && command -v setpriv >/dev/null && id "$svc_user" >/dev/null 2>&1; then
        # As the unit runs it: the service user with packet-capture capabilities only.
        argv=(setpriv --reuid "$svc_user" --regid "$svc_user" --init-groups
            --inh-caps "+net_raw,+net_admin" --ambient-caps "+net_raw,+net_admin"
            --bounding-set "-all,+net_raw,+net_admin" -- "${argv[@]}")
    fi
    # The console log: ddosd's own logs go to HOME/logs/*.log once it has read its config.
    touch "$home/logs/console.log"
    if [ $is_root -eq 1 ] && id "$svc_user" >/dev/null 2>&1; then
        chown "$svc_user:$svc_user" "$home/logs/console.log"
    fi
    (cd "$home/app" 2>/dev/null || cd "$home"
        exec setsid "${argv[@]}" </dev/null >>"$home/logs/console.log" 2>&1) &
    pid=$!
    printf '%s\n' "$pid" >"$run_dir/ddosd.pid"
    sleep 0.5
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$run_dir/ddosd.pid"
        tail -n 20 "$home/logs/console.log" >&2 || true
        die "ddosd exited at once (above: the end of $home/logs/console.log)"
    fi
    say "ddosd: started (pid $pid)"
}

ddosd_stop() {
    local pid
    if pid=$(pid_of ddosd ddosd); then
        if signal_wait "$pid" TERM 10; then
            say "ddosd: stopped (pid $pid)"
        else
            signal_wait "$pid" KILL 2 || true
            say "ddosd: did not stop within 10 s of SIGTERM: killed (pid $pid)"
        fi
    else
        say "ddosd: not running"
    fi
    rm -f "$run_dir/ddosd.pid"
}

# --- nginx ---------------------------------------------------------------------------------------
# The pid file the main config names (nginx's own, not ours).
nginx_pidfile() {
    local f
    f=$(sed -n -E 's/^[[:space:]]*pid[[:space:]]+([^;]+);.*/\1/p' "$nginx_conf" | head -1)
    printf '%s\n' "${f:-/run/nginx.pid}"
}

nginx_start() {
    command -v nginx >/dev/null || die "nginx not installed (apt-get install nginx, or --no-nginx)"
    nginx -t -q -c "$nginx_conf" || die "nginx -t -c $nginx_conf failed (messages above)"
    local pf pid=""
    pf=$(nginx_pidfile)
    [ -s "$pf" ] && pid=$(tr -dc 0-9 <"$pf")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = nginx ]; then
        nginx -s reload -c "$nginx_conf"
        say "nginx: reloaded (pid $pid)"
        return 0
    fi
    nginx -c "$nginx_conf"
    local i
    for i in $(seq 1 50); do
        [ -s "$pf" ] && break
        sleep 0.1
    done
    [ -s "$pf" ] || die "nginx started but wrote no pid file $pf"
    tr -dc 0-9 <"$pf" >"$run_dir/nginx.pid"
    say "nginx: started (pid $(cat "$run_dir/nginx.pid"))"
}

nginx_stop() {
    local pid
    if pid=$(pid_of nginx nginx); then
        signal_wait "$pid" QUIT 10 || signal_wait "$pid" TERM 2 || true
        say "nginx: stopped (pid $pid)"
    fi
    rm -f "$run_dir/nginx.pid"
}

# --- commands ------------------------------------------------------------------------------------
start() {
    mkdir -p "$run_dir"
    [ $use_redis -eq 0 ] || redis_start
    ddosd_start
    [ $use_nginx -eq 0 ] || nginx_start
    local i answer=""
    for i in $(seq 1 "$timeout"); do
        if answer=$(health); then
            say "health: $answer"
            return 0
        fi
        pid_of ddosd ddosd >/dev/null || {
            tail -n 20 "$home/logs/console.log" >&2 || true
            die "ddosd exited during start-up (see $home/logs/error.log and console.log)"
        }
        [ "$i" -eq "$timeout" ] || sleep 1
    done
    die "no answer from $health_url within ${timeout}s (see $home/logs/error.log)"
}

stop() {
    ddosd_stop
    [ $use_nginx -eq 0 ] || nginx_stop
    [ $use_redis -eq 0 ] || redis_stop
}

status() {
    local pid rc=0 answer
    if pid=$(pid_of ddosd ddosd); then
        [ $quiet -eq 1 ] || say "ddosd: running (pid $pid)"
        if answer=$(health); then
            [ $quiet -eq 1 ] || say "health: $answer"
        else
            [ $quiet -eq 1 ] || say "health: no answer from $health_url"
            rc=1
        fi
    else
        [ $quiet -eq 1 ] || say "ddosd: not running"
        rc=3
    fi
    if [ $quiet -eq 0 ]; then
        if pid=$(pid_of nginx nginx); then say "nginx: running (pid $pid, started here)"; fi
        if pid=$(pid_of redis-server redis-server); then
            say "redis: running (pid $pid, started here)"
        fi
    fi
    return $rc
}

case "$cmd" in
start) start ;;
stop) stop ;;
restart)
    # Only ddosd restarts; a running nginx is reloaded and Redis is left as it is.
    ddosd_stop
    start
    ;;
reload)
    pid=$(pid_of ddosd ddosd) || die "ddosd is not running"
    kill -HUP "$pid"
    say "ddosd: reload requested (SIGHUP to pid $pid)"
    ;;
status)
    rc=0
    status || rc=$?
    exit $rc
    ;;
esac
