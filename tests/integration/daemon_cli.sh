#!/usr/bin/env bash
# daemon_cli.sh - ddosd's command line and start-up errors (no Redis, no API, no root needed).
#
#   --help              exit 0, every long option of app/ddosd.c's option table is mentioned
#   bad flags           exit 1 with one error line (plus at most the "Try 'ddosd --help'." hint)
#                       naming the flag, nothing on stdout
#   -r missing file     exit 1; the message names the file and the reason
#   --dump-config       --redis redis://:PASSWORD@host:port/db: exit 0, host/port/db shown, the
#                       password never printed (masked as ***)
#   --model corrupt     exit 1; the message names the file and says how to check it
#   .env mode 0644      refused, beside config.json and with --env-file: exit 1, "chmod 600 PATH"
#   truncated capture   exit 2, and --verdicts-out is still written
#   other start-up      no input, -r with -i, --realtime live, positional argument: exit 1
#
# usage: daemon_cli.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_cli.sh BUILD_DIR}"
src=$DD_LIBDIR/../../app/ddosd.c
w=$DD_WORK
bin=$DD_DDOSD
common=(--redis none --api none)

# run NAME ARGS... : runs ddosd with a time limit; sets rc, and out/err files $w/NAME.{out,err}
run() {
    local name=$1
    shift
    timeout 60 "$bin" "$@" >"$w/$name.out" 2>"$w/$name.err"
    rc=$?
}
lines() { grep -c '' "$1"; }
show() { sed 's/^/    | /' "$1" | head -n 6; }

# --help
run help --help
dd_ok "--help exits 0 (got $rc)" "$rc"
mapfile -t flags < <(grep -Eo '^\s*\{"[a-z-]+", (no|required|optional)_argument' "$src" |
    sed -E 's/^\s*\{"([a-z-]+)".*/\1/')
((${#flags[@]} >= 15)) || dd_die "found only ${#flags[@]} options in $src"
missing=()
for f in "${flags[@]}"; do
    grep -q -- "--$f" "$w/help.out" || missing+=("--$f")
done
dd_ok "--help mentions all ${#flags[@]} long options${missing:+ (missing: ${missing[*]})}" \
    ${#missing[@]}
run version --version
dd_ok "--version exits 0 and prints the version (got $rc: $(head -c 40 "$w/version.out"))" \
    $((rc != 0 || $(lines "$w/version.out") != 1))

# Bad flags: one error line, optionally followed by the hint.
bad_flag() { # bad_flag NAME WORD ARGS...
    local name=$1 word=$2
    shift 2
    run "$name" "$@"
    local n
    n=$(lines "$w/$name.err")
    local ok=0
    [ "$rc" -eq 1 ] || ok=1
    [ -s "$w/$name.out" ] && ok=1
    head -n 1 "$w/$name.err" | grep -q -- "$word" || ok=1
    if [ "$n" -eq 2 ]; then
        sed -n 2p "$w/$name.err" | grep -q "^Try 'ddosd --help'.$" || ok=1
    elif [ "$n" -ne 1 ]; then
        ok=1
    fi
    dd_ok "ddosd $* exits 1 with one line naming \"$word\" (rc $rc, $n line(s))" "$ok"
    [ "$ok" -eq 0 ] || show "$w/$name.err"
}
bad_flag bogus bogus --bogus
bad_flag short_bogus "invalid option" -Z
bad_flag workers0 "--workers" --workers 0 -r /dev/null
bad_flag realtime0 "--realtime" --realtime=0 -r /dev/null
bad_flag set_noeq "--set" --set cache.ttl -r /dev/null
bad_flag missing_arg "requires an argument" -r
bad_flag positional "unexpected argument" "${common[@]}" extra.pcap

# A capture that does not exist.
run nofile "${common[@]}" -r "$w/no-such.pcap"
dd_ok "-r missing file exits 1 (got $rc)" $((rc != 1))
dd_check "-r missing file: the message names the file and the reason" \
    grep -q "$w/no-such.pcap.*No such file" "$w/nofile.err"
show "$w/nofile.err"

# Run from a directory without models/: ddosd finds the model the build knows about (the source
# tree's models/), and says where it looked when told to use the default path explicitly.
(cd "$w" && "$bin" --redis none --api none --dump-config >"$w/anywhere.out" 2>"$w/anywhere.err")
dd_check "run from elsewhere: the default model is found in the source tree" \
    grep -q "\"path\": \"/.*/models/ddosd-model.msgpack\"" "$w/anywhere.out"

# A replay whose Redis is unreachable says so at once, with how long its end will wait, and a
# SIGTERM during that wait ends it within the 2 s stop budget. The replay must leave a verdict
# worth writing (above low): a spoofed SYN flood's victim (one misjudged flow of a benign session
# is no longer medium).
"$bin" -r "$DD_LIBDIR/../data/spoofed-syn.pcap" --redis redis://127.0.0.1:9 --api none \
    --model "$DD_MODEL" >"$w/noredis.out" 2>"$w/noredis.err" &
nr_pid=$!
for _ in $(seq 50); do grep -q "waiting up to" "$w/noredis.err" && break; sleep 0.1; done
dd_check "unreachable Redis: said at start with the end-of-replay wait" \
    grep -q "redis 127.0.0.1:9 is unreachable.*waits up to 60 s" "$w/noredis.err"
dd_check "unreachable Redis: the end of the replay says how long it waits" \
    grep -q "waiting up to [0-9]* s for it to take" "$w/noredis.err"
t0=$(date +%s%N)
kill -TERM "$nr_pid"
wait "$nr_pid"
ms=$((($(date +%s%N) - t0) / 1000000))
dd_ok "unreachable Redis: SIGTERM ends the wait within 3 s (took $ms ms)" $((ms > 3000))
show "$w/noredis.err"

# A capture filter that does not compile: a start-up error, not a replay cut short.
run badfilter "${common[@]}" -r "$DD_LIBDIR/../data/session-eth.pcap" --set 'capture.filter=tcp and and'
dd_ok "-r with a bad capture.filter exits 1 (got $rc)" $((rc != 1))
dd_check "bad capture.filter: the message quotes the filter" grep -q 'bad filter "tcp and and"' "$w/badfilter.err"
show "$w/badfilter.err"

# Start-up errors that need no file.
run noinput "${common[@]}"
dd_ok "no -r and no -i exits 1 saying what to give (rc $rc)" \
    $((rc != 1 || $(grep -c 'give -i IFACE' "$w/noinput.err") == 0))
run both "${common[@]}" -r "$w/x.pcap" -i lo
dd_ok "-r with -i exits 1 saying to pick one (rc $rc)" \
    $((rc != 1 || $(grep -c 'not both' "$w/both.err") == 0))

# --dump-config masks the password of --redis.
secret='s3cr3t-Pw'
run dump --redis "redis://:$secret@127.0.0.1:6390/2" --api none --dump-config
dd_ok "--dump-config exits 0 (got $rc)" "$rc"
dd_check "--dump-config never prints the password" bash -c "! grep -q '$secret' '$w/dump.out' '$w/dump.err'"
dd_check "--dump-config masks the password as ***" grep -q '"\*\*\*"' "$w/dump.out"
dd_check "--dump-config shows the URL's port and db" \
    "$DD_PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["redis"]; sys.exit(not (c["port"] == 6390 and c["db"] == 2 and c["enabled"] in (True, "true")))' "$w/dump.out"

# A corrupt model.
head -c 1000 "$DD_MODEL" >"$w/corrupt.msgpack"
run badmodel "${common[@]}" -r "$DD_LIBDIR/../data/session-eth.pcap" --model "$w/corrupt.msgpack"
dd_ok "--model with a corrupt file exits 1 (got $rc)" $((rc != 1))
dd_check "--model corrupt: the message names the file and how to check it" \
    grep -q "model $w/corrupt.msgpack: .*ddos-model check" "$w/badmodel.err"
show "$w/badmodel.err"
printf 'not a model at all' >"$w/text.msgpack"
run textmodel "${common[@]}" -r "$DD_LIBDIR/../data/session-eth.pcap" --model "$w/text.msgpack"
dd_ok "--model with a text file exits 1 (got $rc)" $((rc != 1))

# .env readable by others.
mkdir -p "$w/conf"
printf '{ "sensor": { "id": "${DDOSD_SENSOR_ID:-cli}" } }\n' >"$w/conf/config.json"
printf 'DDOSD_SENSOR_ID=from-env\n' >"$w/conf/.env"
chmod 644 "$w/conf/.env"
run env644 -c "$w/conf/config.json" "${common[@]}" --dump-config
dd_ok ".env with mode 0644 beside config.json is refused (rc $rc)" \
    $((rc != 1 || $(grep -c "chmod 600 $w/conf/.env" "$w/env644.err") == 0))
show "$w/env644.err"
cp "$w/conf/.env" "$w/other.env"
chmod 604 "$w/other.env"
run envfile644 -c "$w/conf/config.json" --env-file "$w/other.env" "${common[@]}" --dump-config
dd_ok "--env-file readable by others is refused (rc $rc)" \
    $((rc != 1 || $(grep -c "chmod 600 $w/other.env" "$w/envfile644.err") == 0))
chmod 600 "$w/conf/.env"
run env600 -c "$w/conf/config.json" "${common[@]}" --dump-config
dd_ok ".env with mode 0600 is read (rc $rc, sensor from .env)" \
    $((rc != 0 || $(grep -c '"from-env"' "$w/env600.out") == 0))

# A truncated capture: exit 2, verdicts still written.
dd_trafgen "$w/full.pcap" --seed 3 --scenario syn_flood --duration 10 --benign-clients 5 \
    --max-attack-packets 60000 --snaplen 128
size=$(stat -c %s "$w/full.pcap")
head -c $((size * 7 / 10 + 5)) "$w/full.pcap" >"$w/cut.pcap"
run cut "${common[@]}" --model "$DD_MODEL" -r "$w/cut.pcap" --verdicts-out "$w/cut.jsonl"
dd_ok "a truncated capture exits 2 (got $rc)" $((rc != 2))
n=$( [ -f "$w/cut.jsonl" ] && lines "$w/cut.jsonl" || echo 0)
dd_ok "a truncated capture still writes --verdicts-out ($n lines)" $((n == 0))
dd_check "a truncated capture: the log says it was cut short" \
    grep -Eqi "truncated|cut short|damaged|keeping the [0-9]+ packets" "$w/cut.err"
grep -Ei "truncated|cut short|keeping" "$w/cut.err" | head -n 2 | sed 's/^/    | /'
dd_finish
