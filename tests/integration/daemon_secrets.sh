#!/usr/bin/env bash
# daemon_secrets.sh - weak keys are refused at start (issue 15, defect 7).
#
#   SECRET_KEY=change-me, =x, =Your-Secret-Key-Here-1234, 20 x "a", in the environment or in
#   a .env beside config.json: exit 1, one line naming SECRET_KEY and saying how to make a key
#   (`openssl rand -hex 32`), the key itself never printed (for the short ones)
#   a bouncer key "changeme-changeme-changeme" (long enough, but a placeholder): exit 1
#   SECRET_KEY unset, or empty: ddosd starts (the authenticated endpoints answer 503 then)
#   --api none: SECRET_KEY is not used, a weak one does not stop the run
#   a random 64-hex-digit key: ddosd starts, judges the capture and exits 0
#
# usage: daemon_secrets.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_secrets.sh BUILD_DIR}"
w=$DD_WORK
bin=$DD_DDOSD
dd_trafgen "$w/small.pcap" --scenario benign --seed 3 --duration 2 --benign-clients 5
port=$(dd_free_port)
common=(-r "$w/small.pcap" --redis none --api "127.0.0.1:$port" --model "$DD_MODEL")
good=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

# run NAME ENV... -- ARGS... : ddosd under env -i with the given variables; sets rc
run() {
    local name=$1
    shift
    local envs=()
    while [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    (cd "$w" && timeout 60 env -i PATH="$PATH" "${envs[@]}" "$bin" "$@") \
        >"$w/$name.out" 2>"$w/$name.err"
    rc=$?
}

# refused NAME KEY_TEXT_SHOWN_OK : exit 1, SECRET_KEY named, how to make one said
refused() {
    local name=$1
    dd_ok "$name: exit status 1 (got $rc)" "$([ "$rc" -eq 1 ] && echo 0 || echo 1)"
    dd_check "$name: the message names SECRET_KEY" grep -q 'SECRET_KEY' "$w/$name.err"
    dd_check "$name: the message says how to make a key" grep -q 'openssl rand -hex 32' \
        "$w/$name.err"
    sed 's/^/    | /' "$w/$name.err" | head -n 3
}

run change_me SECRET_KEY=change-me -- "${common[@]}"
refused change_me
run one_char SECRET_KEY=x -- "${common[@]}"
refused one_char
dd_check "one_char: the key is not echoed" bash -c "! grep -q \"'x'\\|\\\"x\\\"\" '$w/one_char.err'"
run placeholder_long SECRET_KEY=Your-Secret-Key-Here-1234 -- "${common[@]}"
refused placeholder_long
run repeated SECRET_KEY=aaaaaaaaaaaaaaaaaaaa -- "${common[@]}"
refused repeated

# In a .env beside config.json, as the service reads it.
mkdir -p "$w/svc"
echo '{"sensor": {"id": "secrets-test"}}' >"$w/svc/config.json"
printf 'SECRET_KEY=change-me\n' >"$w/svc/.env"
chmod 600 "$w/svc/.env"
run env_file -- -c "$w/svc/config.json" "${common[@]}"
refused env_file
dd_check "env_file: the message names the .env" grep -q "$w/svc/.env" "$w/env_file.err"

# A bouncer key that is long enough but a placeholder.
echo '{"bouncer_keys": ["BOUNCER_KEY_FW"]}' >"$w/svc/bouncers.json"
printf 'SECRET_KEY=%s\n' "$good" >"$w/svc/.env"
run bouncer_placeholder BOUNCER_KEY_FW=changeme-changeme-changeme -- \
    -c "$w/svc/bouncers.json" "${common[@]}"
dd_ok "bouncer key placeholder: exit status 1 (got $rc)" "$([ "$rc" -eq 1 ] && echo 0 || echo 1)"
dd_check "bouncer key placeholder: names the variable and says how to make one" \
    grep -q 'BOUNCER_KEY_FW.*openssl rand -hex 32' "$w/bouncer_placeholder.err"

# What still starts.
run unset -- "${common[@]}"
dd_ok "SECRET_KEY unset: starts and exits 0 (got $rc)" "$rc"
run empty SECRET_KEY= -- "${common[@]}"
dd_ok "SECRET_KEY empty: starts and exits 0 (got $rc)" "$rc"
run api_none SECRET_KEY=x -- -r "$w/small.pcap" --redis none --api none --model "$DD_MODEL"
dd_ok "--api none: a weak SECRET_KEY does not matter (got $rc)" "$rc"
run good "SECRET_KEY=$good" -- "${common[@]}"
dd_ok "a random 64-hex-digit key: starts and exits 0 (got $rc)" "$rc"
dd_check "the good key is never printed" bash -c "! grep -q '$good' '$w/good.err' '$w/good.out'"
dd_finish
