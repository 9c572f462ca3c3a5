#!/usr/bin/env bash
# daemon_signals.sh - ddosd's signals during a long real-time replay (--realtime=3).
#
# The capture: 20 s of benign traffic, then 40 s of benign traffic with a UDP flood (ddos-trafgen
# seed 5: 285 sources to 10.20.1.37, from 23.8 s of packet time to 57 s), i.e. 20 s of wall time.
# One ddosd run with --log-dir, --redis none, --api none and its model at a path the test owns:
#   SIGHUP, good model   the model file is replaced (rename) by a fresh copy of
#                        models/ddosd-model.msgpack; app.log gets "reload: model <path> (...)"
#   SIGHUP, bad model    the file is replaced by a truncated copy; error.log says "reload:", names
#                        the file and keeps the running model; ddosd keeps running
#   SIGUSR1              after app.log is moved away, a new app.log appears ("log files reopened")
#   SIGTERM              about 4 s (12 s of packet time) into the flood, with its flows open (UDP
#                        flows end only on a 60 s idle / 120 s active timeout): exit 0 within 5 s,
#                        and --verdicts-out shows the victim high or critical, flagged by the
#                        model (it still scores after the bad reload), first high after the
#                        reloads, with flows_total > 0 (the open flows were scored at shutdown)
#
# usage: daemon_signals.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_signals.sh BUILD_DIR}"

w=$DD_WORK
speed=3
dd_trafgen "$w/benign.pcap" --seed 7 --scenario benign --duration 20 --benign-clients 20 \
    --snaplen 128
dd_trafgen "$w/attack.pcap" --seed 5 --scenario udp_flood --duration 40 --start 1767225620 \
    --benign-clients 20 --max-attack-packets 150000 --snaplen 128
dd_concat "$w/cap.pcap" "$w/benign.pcap" "$w/attack.pcap"
attack_start_us=1767225620000000

model=$w/model.msgpack
cp "$DD_MODEL" "$model"
mkdir -p "$w/log"
dd_start_bg "$DD_DDOSD" -r "$w/cap.pcap" --realtime=$speed --redis none --api none \
    --model "$model" --set sensor.id=itest-signals --log-dir "$w/log" --verdicts-out "$w/v.jsonl"
pid=$DD_LAST_PID
t_start=$(date +%s.%N)
dd_wait_file_re "$w/log/app.log" 'ready: replay' 20 || {
    tail -n 20 "$w/log/app.log" 2>/dev/null
    dd_die "ddosd did not get ready"
}

# SIGHUP with a good model, swapped in by rename.
sleep 0.5
cp "$DD_MODEL" "$w/model.new" && mv "$w/model.new" "$model"
kill -HUP "$pid"
dd_check "SIGHUP with a good model: app.log shows \"reload: model $model\"" \
    dd_wait_file_re "$w/log/app.log" "reload: model $model \\(" 5
grep "reload:" "$w/log/app.log" | tail -n 1

# SIGHUP with a truncated model.
size=$(stat -c %s "$DD_MODEL")
head -c $((size / 3)) "$DD_MODEL" >"$w/model.bad" && mv "$w/model.bad" "$model"
kill -HUP "$pid"
dd_check "SIGHUP with a truncated model: error.log says why and keeps the running model" \
    dd_wait_file_re "$w/log/error.log" "reload: .*$model.*keeping the running configuration and model" 5
grep "reload:" "$w/log/error.log" | tail -n 1
sleep 0.3
dd_check "ddosd keeps running after the bad reload" kill -0 "$pid"

# SIGUSR1 after the log was moved away (logrotate's create mode).
mv "$w/log/app.log" "$w/log/app.log.1"
kill -USR1 "$pid"
dd_check "SIGUSR1: a new app.log is created and says \"log files reopened\"" \
    dd_wait_file_re "$w/log/app.log" "log files reopened" 5
dd_check "the moved app.log.1 kept the lines before the reopen" \
    grep -q "reload: model" "$w/log/app.log.1"

# SIGTERM 12 s of packet time into the flood (23.8 s + 12 s = 36 s of packet time).
now=$(date +%s.%N)
wait_s=$("$DD_PY" -c 'import sys; print(max(0.0, 36.0 / float(sys.argv[3]) - (float(sys.argv[1]) - float(sys.argv[2]))))' "$now" "$t_start" "$speed")
sleep "$wait_s"
dd_check "ddosd is still replaying when SIGTERM comes" kill -0 "$pid"
t0=$(date +%s.%N)
kill -TERM "$pid"
dd_wait_pid "$pid" 5
rc=$DD_STATUS
took=$("$DD_PY" -c 'import sys,time; print(f"{time.time() - float(sys.argv[1]):.2f}")' "$t0")
dd_ok "SIGTERM mid-replay: ddosd exits 0 within 5 s (got $rc after ${took} s)" $((rc != 0))
grep -E "stopping|stopped in|verdicts:" "$w/log/app.log" | tail -n 3
dd_check "app.log records the stop" grep -q "stopped in" "$w/log/app.log"

"$DD_PY" "$DD_LIBDIR/daemon_check.py" verdicts --manifest "$w/benign.json" \
    --manifest "$w/attack.json" --verdicts "$w/v.jsonl" --sensor itest-signals --open-flows \
    --model-reason --late-after-us "$attack_start_us" >"$w/check.out" 2>&1
cat "$w/check.out"
dd_absorb "$w/check.out"
dd_finish
