#!/usr/bin/env bash
# packaging_nginx.sh - the shipped nginx site (config/nginx/ddos-backend.conf) in front of a real
# ddosd: a running `ddosd --api 127.0.0.1:PORT --redis none -r CAPTURE --serve` behind a real nginx
# that uses the site with only its listen port, upstream port and log paths rewritten, and the
# gateway CIDR set to 127.0.0.2/32 (this test plays the gateway from 127.0.0.2).
#
# Checks: /health and /api/threat-analysis answer through nginx; /api/check judges the client
# named by the X-Real-IP the site sets: 204 for the gateway, then, once the gateway's address is
# reported (POST /api/report-attack through nginx), a 403 that ddosd's access.log records; a client
# forging X-Real-IP is judged as itself (the site overwrites the header); a client outside the
# allowed addresses (127.0.0.3) gets 403 from nginx and never reaches ddosd; ddosd's access.log
# holds every request that went through (its peer there is nginx, 127.0.0.1); SIGTERM exits 0.
#
# usage: packaging_nginx.sh REPO DDOSD DDOS_TRAFGEN
# Needs ddosd built: fails (does not skip) when it is missing.
set -euo pipefail

repo=$1
ddosd=$2
trafgen=$3

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
pass() { echo "ok: $*"; }

[ -x "$ddosd" ] || fail "ddosd is not built: $ddosd (cmake --build BUILD --target ddosd)"
[ -x "$trafgen" ] || fail "ddos-trafgen is not built: $trafgen"
command -v nginx >/dev/null || fail "nginx is not installed (scripts/deps.sh test)"
command -v curl >/dev/null || fail "curl is not installed (scripts/deps.sh test)"

tmp=$(mktemp -d /tmp/ddosd-pkg-nginx.XXXXXX)
chmod 755 "$tmp" # nginx workers (nobody when run as root) use temp paths below it
ddosd_pid=""
nginx_pid=""
stop_pid() {
    local pid=$1 sig=$2
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$nginx_pid" QUIT
    stop_pid "$ddosd_pid" TERM
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
api_port=$(free_port)
ngx_port=$(free_port)
while [ "$ngx_port" = "$api_port" ]; do ngx_port=$(free_port); done

# A small labelled capture: a SYN flood over benign background, 3 s of packet time.
"$trafgen" -q -o "$tmp/small.pcap" --seed 7 --duration 3 --benign-clients 10 \
    --scenario syn_flood --max-attack-packets 2000 || fail "ddos-trafgen"
pass "capture $(stat -c %s "$tmp/small.pcap") bytes"

# --- ddosd ---------------------------------------------------------------------------------------
mkdir -p "$tmp/logs"
secret=packaging-test-secret-0123456789abcdef
(
    cd "$tmp"
    export SECRET_KEY=$secret
    exec "$ddosd" --api "127.0.0.1:$api_port" --redis none -r "$tmp/small.pcap" --serve \
        --model "$repo/models/ddosd-model.msgpack" --log-dir "$tmp/logs" \
        >"$tmp/ddosd.out" 2>&1
) &
ddosd_pid=$!

wait_http() {
    local url=$1 secs=$2 pid=$3 what=$4
    for _ in $(seq 1 $((secs * 10))); do
        if curl -fsS --max-time 1 -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$tmp/ddosd.out" "$tmp/logs/error.log" "$tmp/nginx/error.log" 2>/dev/null || true
            fail "$what exited before answering $url"
        fi
        sleep 0.1
    done
    cat "$tmp/ddosd.out" "$tmp/logs/error.log" "$tmp/nginx/error.log" 2>/dev/null || true
    fail "$what: no answer from $url within ${secs}s"
}
wait_http "http://127.0.0.1:$api_port/health" 30 "$ddosd_pid" ddosd
pass "ddosd answers on 127.0.0.1:$api_port"

# --- nginx with the shipped site -----------------------------------------------------------------
mkdir -p "$tmp/nginx"
sed -e "s/^\([[:space:]]*\)listen 9000;/\1listen 127.0.0.1:$ngx_port;/" \
    -e "s/server 127\.0\.0\.1:8000;/server 127.0.0.1:$api_port;/" \
    -e "s|^\([[:space:]]*\)allow [^;]*;\(.*GATEWAY_CIDR.*\)|\1allow 127.0.0.2/32;\2|" \
    -e "s|/var/log/nginx/|$tmp/nginx/|g" \
    "$repo/config/nginx/ddos-backend.conf" >"$tmp/site.conf"
grep -q "listen 127.0.0.1:$ngx_port;" "$tmp/site.conf" || fail "could not rewrite the listen port"
grep -q "server 127.0.0.1:$api_port;" "$tmp/site.conf" || fail "could not rewrite the upstream"
grep -q "allow 127.0.0.2/32;" "$tmp/site.conf" || fail "could not set the gateway CIDR"
grep -q "allow 127.0.0.1;" "$tmp/site.conf" || fail "the site does not allow 127.0.0.1"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    include $tmp/site.conf;
}
EOF
nginx -t -q -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" ||
    fail "nginx -t rejects the site"
nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
wait_http "http://127.0.0.1:$ngx_port/health" 10 "$nginx_pid" nginx
pass "nginx with the site on 127.0.0.1:$ngx_port"

# --- through nginx -------------------------------------------------------------------------------
# get FROM PATH [curl args...]: the status code; the body in $tmp/body.
get() {
    local from=$1 path=$2
    shift 2
    curl -sS --max-time 20 --interface "$from" -o "$tmp/body" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$ngx_port$path"
}
# json_field FIELD: a top-level field of $tmp/body, printed as JSON.
json_field() {
    /usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])).get(sys.argv[2])))' \
        "$tmp/body" "$1"
}
log=$tmp/logs/access.log
# Lines of ddosd's access.log holding a string (0 when the log does not exist yet).
log_count() { if [ -f "$log" ]; then grep -cF "$1" "$log" || true; else echo 0; fi; }

code=$(get 127.0.0.2 /health)
[ "$code" = 200 ] || fail "/health through nginx: HTTP $code: $(cat "$tmp/body")"
[ "$(json_field status)" = '"ok"' ] || fail "/health status: $(cat "$tmp/body")"
[ "$(json_field service)" = '"backend"' ] || fail "/health service: $(cat "$tmp/body")"
pass "/health through nginx: $(head -c 200 "$tmp/body")"

code=$(get 127.0.0.2 "/api/threat-analysis?ip=198.18.0.1")
[ "$code" = 200 ] || fail "/api/threat-analysis through nginx: HTTP $code: $(cat "$tmp/body")"
[ "$(json_field ip)" = '"198.18.0.1"' ] || fail "/api/threat-analysis: $(cat "$tmp/body")"
pass "/api/threat-analysis?ip=198.18.0.1 through nginx: $(head -c 200 "$tmp/body")"

# /api/check judges the address in X-Real-IP, which the site sets to the client's ($remote_addr).
# The gateway (127.0.0.2) has no verdict yet: allowed.
code=$(get 127.0.0.2 /api/check)
[ "$code" = 204 ] || fail "/api/check for 127.0.0.2 before any report: HTTP $code, want 204"
# Report the gateway's own address as a critical attacker (through nginx, operator key)...
code=$(get 127.0.0.2 /api/report-attack -X POST -H "Authorization: Bearer $secret" \
    -H 'Content-Type: application/json' \
    -d '{"ip":"127.0.0.2","threat_level":"critical","attack_type":"http_flood","source":"packaging-test"}')
[ "$code" = 200 ] || fail "/api/report-attack through nginx: HTTP $code: $(cat "$tmp/body")"
pass "/api/report-attack through nginx: $(head -c 200 "$tmp/body")"
# ...now the same request from 127.0.0.2 is denied by ddosd (a 403 from ddosd, in its log)...
denied_before=$(log_count '"GET /api/check HTTP/1.1" 403')
code=$(get 127.0.0.2 /api/check)
[ "$code" = 403 ] || fail "/api/check for reported 127.0.0.2: HTTP $code, want 403"
for _ in $(seq 1 50); do
    [ "$(log_count '"GET /api/check HTTP/1.1" 403')" -gt "$denied_before" ] && break
    sleep 0.1
done
[ "$(log_count '"GET /api/check HTTP/1.1" 403')" -gt "$denied_before" ] ||
    fail "the 403 for /api/check did not come from ddosd (no such line in $log)"
pass "/api/check through nginx judges the client from X-Real-IP: 127.0.0.2 denied by ddosd"
# ...while a client at 127.0.0.1 forging X-Real-IP: 127.0.0.2 is judged as itself: the site
# overwrites the header, so a client cannot borrow (or escape) another address's verdict.
code=$(get 127.0.0.1 /api/check -H 'X-Real-IP: 127.0.0.2')
[ "$code" = 204 ] || fail "forged X-Real-IP reached ddosd: /api/check from 127.0.0.1 got $code, want 204"
pass "a forged X-Real-IP is overwritten by the site (127.0.0.1 allowed)"

code=$(get 127.0.0.2 "/api/threat-analysis?ip=127.0.0.2")
if [ "$code" != 200 ] || [ "$(json_field decision)" != true ]; then
    fail "threat-analysis of the reported 127.0.0.2: HTTP $code $(cat "$tmp/body")"
fi

# Outside the allowed addresses: nginx answers 403 itself and ddosd never sees the request.
lines_before=$(log_count 'HTTP/1.1"')
code=$(get 127.0.0.3 /health)
[ "$code" = 403 ] || fail "a client at 127.0.0.3 got HTTP $code, want 403 (deny all)"
sleep 0.5
[ "$(log_count 'HTTP/1.1"')" = "$lines_before" ] || fail "a request from 127.0.0.3 reached ddosd"
pass "127.0.0.3 refused by the site (403), never reached ddosd"

# ddosd's access.log has every request that went through nginx (its peer is nginx, 127.0.0.1).
for want in '"GET /health HTTP/1.1" 200' '"GET /api/threat-analysis?ip=198.18.0.1 HTTP/1.1" 200' \
    '"GET /api/check HTTP/1.1" 204' '"POST /api/report-attack HTTP/1.1" 200'; do
    [ "$(log_count "$want")" -gt 0 ] || {
        cat "$log" 2>/dev/null
        fail "ddosd's access.log lacks $want"
    }
done
pass "access.log of ddosd:"
tail -n 5 "$log"

# SIGTERM: ddosd stops cleanly.
kill -TERM "$ddosd_pid"
rc=0
for _ in $(seq 1 100); do
    kill -0 "$ddosd_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$ddosd_pid" 2>/dev/null; then fail "ddosd still running 10 s after SIGTERM"; fi
wait "$ddosd_pid" || rc=$?
ddosd_pid=""
[ "$rc" -eq 0 ] || fail "ddosd exited with status $rc after SIGTERM"
pass "ddosd exited 0 on SIGTERM"
echo "PASS packaging_nginx"
