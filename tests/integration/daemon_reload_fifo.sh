#!/usr/bin/env bash
# daemon_reload_fifo.sh - SIGHUP with a FIFO at the model path (issue 15, defect 6).
#
# A FIFO's open() for reading blocks until a writer appears; a ddosd that opened the model path
# before checking its type sat in open() on the main thread (wait_for_partner) from the SIGHUP
# on, and a SIGTERM then never took effect. One ddosd serves its API after a short replay
# (--serve, --redis none) with its model at a path the test owns; the test replaces the model by
# a FIFO (mkfifo), sends SIGHUP, and checks:
#   - error.log says the reload was refused and why ("not a regular file (a FIFO)") and that the
#     running model is kept;
#   - /health answers within 1 s, five times over 1 s, and still reports the old model loaded
#     (same version as before the SIGHUP);
#   - a second SIGHUP is refused the same way (the first did not leave the main thread stuck);
#   - SIGTERM: ddosd exits 0 within 5 s.
# Nobody ever opens the FIFO for writing, so a ddosd that blocks on it stays blocked (against a
# build of bdf1929 the refusal never appears and SIGTERM is ignored: the checks fail; the EXIT
# trap kills it).
#
# usage: daemon_reload_fifo.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_reload_fifo.sh BUILD_DIR}"
command -v curl >/dev/null || dd_skip "curl is not installed"
command -v mkfifo >/dev/null || dd_skip "mkfifo is not installed"

w=$DD_WORK
dd_trafgen "$w/cap.pcap" --seed 4 --duration 5 --benign-clients 20 --snaplen 128
model=$w/model.msgpack
cp "$DD_MODEL" "$model"
mkdir -p "$w/log"
api_port=$(dd_free_port)
SECRET_KEY=itest-secret-key-0123456789abcdef dd_start_bg "$DD_DDOSD" -r "$w/cap.pcap" --serve \
    --redis none --api "127.0.0.1:$api_port" --model "$model" --set sensor.id=itest-fifo \
    --log-dir "$w/log" 2>"$w/serve.err"
pid=$DD_LAST_PID
if ! dd_wait_file_re "$w/log/app.log" 'replay finished' 30; then
    tail -n 20 "$w/log/app.log" "$w/serve.err" 2>/dev/null
    dd_die "ddosd did not finish its replay"
fi

health() { # health OUT: GET /health with a 1 s limit; 0 when it answered 200
    [ "$(curl -s -m 1 -o "$1" -w '%{http_code}' "http://127.0.0.1:$api_port/health")" = 200 ]
}
model_version() { # the model's version in a /health answer, "" when the model is not ok
    "$DD_PY" -c 'import json, sys
h = json.load(open(sys.argv[1]))["model"]
print(h.get("version", "") if h.get("ok") else "")' "$1" 2>/dev/null
}
health "$w/h0.json" || dd_die "/health does not answer before the SIGHUP"
v0=$(model_version "$w/h0.json")
[ -n "$v0" ] || dd_die "the model is not loaded before the SIGHUP: $(cat "$w/h0.json")"

rm -f "$model"
mkfifo "$model"
kill -HUP "$pid"
dd_check "SIGHUP with a FIFO at the model path: error.log says the reload was refused and why" \
    dd_wait_file_re "$w/log/error.log" \
    "reload: .*$model.*not a regular file \\(a FIFO\\).*keeping the running configuration and model" 5
grep "reload:" "$w/log/error.log" | tail -n 1

ok=0
for i in 1 2 3 4 5; do
    health "$w/h$i.json" || ok=1
    [ "$(model_version "$w/h$i.json")" = "$v0" ] || ok=1
    sleep 0.2
done
dd_ok "/health answers within 1 s after the SIGHUP (5 requests) and reports the old model $v0" $ok

refusals() { grep -c "reload: .*not a regular file (a FIFO)" "$w/log/error.log"; }
wait_refusals() { # wait_refusals N SECONDS
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [ "$(refusals)" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}
kill -HUP "$pid"
dd_check "a second SIGHUP is refused the same way (the main thread is not stuck)" \
    wait_refusals 2 5

kill -TERM "$pid"
dd_wait_pid "$pid" 5
dd_ok "SIGTERM: ddosd exits 0 within 5 s (status $DD_STATUS)" \
    $([ "$DD_STATUS" -eq 0 ] && echo 0 || echo 1)
dd_finish
