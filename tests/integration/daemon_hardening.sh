#!/usr/bin/env bash
# daemon_hardening.sh - the small defects of issue 15 (defect 8) that are not the API's:
#   link type    `ddosd -r` on a capture whose link type the decoder does not read (DLT 147,
#                USER0, a pcap header written here) exits 1 with one line naming the file and the
#                link type, as ddos-flows does (it used to judge nothing and exit 0)
#   final line   a replay into a real redis-server: the final counters line says what is left
#                unwritten after the final flush (0: Redis has every verdict), not the backlog
#                from before that flush ("pending 262144")
#   privileges   (root only) a running ddosd that dropped to nobody has NoNewPrivs 1 and an
#                empty capability bounding set (CapBnd 0) in /proc/PID/status, no capabilities,
#                uid 65534; one started as nobody already (setpriv) has NoNewPrivs 1 too
#   log files    (root only) app.log, error.log and access.log are 0640 and owned by the service
#                user from the start (an error.log left 0644 root:root by an older version
#                included), and still after logrotate moved them and SIGUSR1 reopened them
# Needs redis-server for the second part (skipped alone when missing).
#
# usage: daemon_hardening.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_hardening.sh BUILD_DIR}"
w=$DD_WORK

# ---- link type --------------------------------------------------------------------------------
# A classic pcap header (link type 147, LINKTYPE_USER0) and three 60-byte records.
"$DD_PY" - "$w/user0.pcap" <<'EOF'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147))
    for i in range(3):
        f.write(struct.pack("<IIII", 1767225600 + i, 0, 60, 60) + bytes(range(60)))
EOF
"$DD_DDOSD" -r "$w/user0.pcap" --redis none --api none --model "$DD_MODEL" \
    >"$w/user0.out" 2>"$w/user0.err"
rc=$?
dd_ok "ddosd -r on a DLT 147 capture exits 1 (got $rc)" $((rc != 1))
dd_check "its message names the file and link type 147" \
    grep -q "user0.pcap: link type 147 is not supported" "$w/user0.err"
[ "$rc" -eq 1 ] || head -n 5 "$w/user0.err"

# ---- the final counters line ------------------------------------------------------------------
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    dd_redis_start main
    port=$DD_REDIS_PORT_main
    dd_trafgen "$w/mix.pcap" --seed 4 --duration 20 --benign-clients 400
    mkdir -p "$w/log-final"
    "$DD_DDOSD" -r "$w/mix.pcap" --redis "redis://127.0.0.1:$port" --api none \
        --model "$DD_MODEL" --log-dir "$w/log-final" 2>"$w/final.err"
    rc=$?
    dd_ok "the replay into Redis exits 0 (got $rc)" $((rc != 0))
    keys=$(redis-cli -p "$port" --scan --pattern 'ddos:verdict:*' | wc -l)
    line=$(grep -A1 'final counters' "$w/log-final/app.log" | grep 'redis:' | tail -n 1)
    echo "  $line"
    echo "  ddos:verdict keys in Redis: $keys"
    dd_ok "Redis holds verdicts ($keys keys)" $((keys == 0))
    dd_check "the final redis line says what is unwritten after the final flush: 0" \
        grep -Eq 'unwritten after the final flush 0,' <<<"$line"
    dd_check "the final redis line shows no pending backlog" \
        bash -c '! grep -Eq "pending [1-9]" <<<"$1"' _ "$line"
else
    echo "SKIP final counters line: redis-server/redis-cli not installed"
fi

# ---- privileges and log files (root) ----------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP privileges and log files: not root"
    dd_finish
fi
user=nobody
getent passwd "$user" >/dev/null || dd_die "no user $user"
chmod 755 "$w" # the service user must reach its log directory below the scratch directory
mkdir -p "$w/log"
chown "$user" "$w/log"
# What an older ddosd left behind: root-owned, world-readable.
touch "$w/log/error.log"
chmod 644 "$w/log/error.log"
[ -f "$w/mix.pcap" ] || dd_trafgen "$w/mix.pcap" --seed 4 --duration 20 --benign-clients 400
api_port=$(dd_free_port)
SECRET_KEY=itest-secret-key-0123456789abcdef dd_start_bg "$DD_DDOSD" -r "$w/mix.pcap" --serve \
    --redis none --api "127.0.0.1:$api_port" --model "$DD_MODEL" --log-dir "$w/log" \
    --user "$user" 2>"$w/serve.err"
pid=$DD_LAST_PID
if ! dd_wait_file_re "$w/log/app.log" 'replay finished|API listening' 30; then
    tail -n 20 "$w/log/app.log" "$w/serve.err" 2>/dev/null
    dd_die "ddosd did not start"
fi
dd_wait_file_re "$w/log/app.log" 'ready: ' 10
status_field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
dd_ok "the running ddosd is uid 65534 ($(status_field Uid))" $([ "$(status_field Uid)" = 65534 ] && echo 0 || echo 1)
nnp=$(status_field NoNewPrivs)
dd_ok "NoNewPrivs is 1 after the drop (got ${nnp:-?})" $([ "$nnp" = 1 ] && echo 0 || echo 1)
bnd=$(status_field CapBnd)
dd_ok "the capability bounding set is empty (CapBnd ${bnd:-?})" \
    $([ "$bnd" = 0000000000000000 ] && echo 0 || echo 1)
eff=$(status_field CapEff)
prm=$(status_field CapPrm)
dd_ok "no capabilities are left (CapEff $eff, CapPrm $prm)" \
    $([ "$eff" = 0000000000000000 ] && [ "$prm" = 0000000000000000 ] && echo 0 || echo 1)

# access.log appears with the first request.
curl -s -o /dev/null "http://127.0.0.1:$api_port/health"
dd_wait_file_re "$w/log/access.log" 'health' 5
check_logs() { # check_logs WHEN
    local f got
    for f in app.log error.log access.log; do
        got=$(stat -c '%a %U' "$w/log/$f" 2>/dev/null || echo missing)
        dd_ok "$1: $f is 640 and owned by $user (got $got)" \
            $([ "$got" = "640 $user" ] && echo 0 || echo 1)
    done
}
check_logs "at start"

# logrotate without "create": move the files, SIGUSR1, the daemon creates new ones.
for f in app.log error.log access.log; do mv "$w/log/$f" "$w/log/$f.1"; done
kill -USR1 "$pid"
dd_check "SIGUSR1 reopens the logs" dd_wait_file_re "$w/log/app.log" 'log files reopened' 5
curl -s -o /dev/null "http://127.0.0.1:$api_port/health"
dd_wait_file_re "$w/log/access.log" 'health' 5
check_logs "after a reopen"

kill -TERM "$pid"
dd_wait_pid "$pid" 10
dd_ok "ddosd exits 0 on SIGTERM (got $DD_STATUS)" $((DD_STATUS != 0))

# Started as the service user already (the unit; start_backend.sh's setpriv): no_new_privs too.
if command -v setpriv >/dev/null; then
    setpriv --reuid "$user" --regid "$(id -g "$user")" --clear-groups -- "$DD_DDOSD" \
        -r "$w/mix.pcap" --serve --redis none --api none --model "$DD_MODEL" \
        >"$w/setpriv.out" 2>&1 &
    pid=$!
    DD_PIDS+=("$pid")
    dd_wait_file_re "$w/setpriv.out" 'ready: ' 30
    nnp=$(status_field NoNewPrivs)
    dd_ok "started as $user: NoNewPrivs is 1 (got ${nnp:-?})" $([ "$nnp" = 1 ] && echo 0 || echo 1)
    kill -TERM "$pid"
    dd_wait_pid "$pid" 10
else
    echo "SKIP started as the service user: no setpriv"
fi
dd_finish
