#!/usr/bin/env bash
# packaging_install.sh - scripts/install.sh into a temporary root (--prefix), then checks what it
# wrote: the tree, owners and modes, config.json, .env (private, random SECRET_KEY, kept on a
# second run), the nginx site under nginx -t, and --uninstall / --uninstall --purge.
#
# usage: packaging_install.sh REPO BUILD_DIR
# Root only (owners are the point); exit 77 otherwise. Creates the system user ddos when it does
# not exist and deletes it again at the end.
set -euo pipefail

repo=$1
build=$2
install_sh=$repo/scripts/install.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: packaging_install checks owners (ddos:ddos, root:root): run as root"
    exit 77
fi

tmp=$(mktemp -d /tmp/ddosd-pkg-install.XXXXXX)
chmod 755 "$tmp" # the user ddos must reach its home below it
user_existed=0
getent passwd ddos >/dev/null && user_existed=1
cleanup() {
    rm -rf "$tmp"
    if [ $user_existed -eq 0 ] && getent passwd ddos >/dev/null; then
        userdel ddos 2>/dev/null || true
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
pass() { echo "ok: $*"; }

root=$tmp/root
home=$root/home/ddos
args=(--prefix "$root" --no-systemd --skip-build --bin-dir "$build/app" --interface lo
    --gateway-cidr 10.1.2.0/24)
# ddosd may not be built yet (it has its own tests); every program that exists must be installed.
args+=(--allow-missing)

echo "== install.sh ${args[*]}"
start=$(date +%s)
bash "$install_sh" "${args[@]}" 2>&1 | tee "$tmp/run1.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "install.sh failed"
pass "first install in $(($(date +%s) - start)) s"

# expect PATH OWNER:GROUP MODE
expect() {
    local got
    got=$(stat -c '%U:%G %a' "$1" 2>/dev/null) || fail "$1 is missing"
    [ "$got" = "$2 $3" ] || fail "$1: $got, want $2 $3"
}

expect "$home" ddos:ddos 755
expect "$home/app" ddos:ddos 755
expect "$home/logs" ddos:ddos 755
expect "$home/data" ddos:ddos 750
expect "$home/config" ddos:ddos 750
expect "$home/config/.env" ddos:ddos 600
expect "$home/config/config.json" root:ddos 640
expect "$home/models" root:root 755
expect "$home/models/ddosd-model.msgpack" root:root 644
cmp -s "$repo/models/ddosd-model.msgpack" "$home/models/ddosd-model.msgpack" ||
    fail "the installed model differs from models/ddosd-model.msgpack"
# The service may read the model but not change it: neither the file nor its directory is its.
if runuser -u ddos -- test -w "$home/models"; then fail "ddos can write $home/models"; fi
if runuser -u ddos -- test -w "$home/models/ddosd-model.msgpack"; then fail "ddos can write the model"; fi
runuser -u ddos -- test -r "$home/models/ddosd-model.msgpack" || fail "ddos cannot read the model"
runuser -u ddos -- test -r "$home/config/config.json" || fail "ddos cannot read config.json"
runuser -u ddos -- test -w "$home/logs" || fail "ddos cannot write its logs"
pass "layout, owners and modes"

for p in ddosd ddos-flows ddos-model ddos-trafgen; do
    built=""
    for d in app inference trafgen; do
        [ -x "$build/$d/$p" ] && built=$build/$d/$p
    done
    if [ -n "$built" ]; then
        expect "$root/usr/local/bin/$p" root:root 755
        cmp -s "$built" "$root/usr/local/bin/$p" || fail "$p: installed copy differs from $built"
    else
        echo "note: $p is not built in $build: not checked"
    fi
done
expect "$root/usr/local/sbin/ddos-backend" root:root 755
expect "$root/etc/systemd/system/ddos-backend.service" root:root 644
expect "$root/etc/logrotate.d/ddos-backend" root:root 644
expect "$root/etc/nginx/sites-available/ddos-backend.conf" root:root 644
[ "$(readlink "$root/etc/nginx/sites-enabled/ddos-backend.conf")" = \
    "$root/etc/nginx/sites-available/ddos-backend.conf" ] || fail "the site is not enabled"
pass "binaries, control script, unit, logrotate, nginx site"

# .env: the example's variables, a fresh 64-hex-digit SECRET_KEY.
env=$home/config/.env
grep -q '^REDIS_PASSWORD=' "$env" || fail ".env lacks REDIS_PASSWORD"
secret=$(sed -n 's/^SECRET_KEY=//p' "$env")
[[ "$secret" =~ ^[0-9a-f]{64}$ ]] || fail "SECRET_KEY is not 64 random hex digits: '$secret'"
pass ".env private with a random SECRET_KEY"

# config.json: valid JSON, the same keys as the example, the install's values.
/usr/bin/python3 - "$repo/config/config.example.json" "$home/config/config.json" "$home" <<'PY' ||
import json, sys
example, cfg, home = (sys.argv[1], sys.argv[2], sys.argv[3])
ex = json.load(open(example))
c = json.load(open(cfg))
def shape(d, p=""):
    if isinstance(d, dict):
        return {k2 for k, v in d.items() for k2 in {p + k} | shape(v, p + k + ".")}
    return set()
if shape(ex) != shape(c):
    sys.exit(f"keys differ from the example: {sorted(shape(ex) ^ shape(c))}")
want = {
    ("log", "dir"): home + "/logs",
    ("ml_model", "path"): home + "/models/ddosd-model.msgpack",
    ("capture", "interfaces"): ["lo"],
    ("user",): "ddos",
    ("api", "listen"): "127.0.0.1:8000",
    ("redis", "password"): "${REDIS_PASSWORD}",
}
for path, value in want.items():
    d = c
    for k in path:
        d = d[k]
    if d != value:
        sys.exit(f"config.json {'.'.join(path)} = {d!r}, want {value!r}")
PY
    fail "config.json"
pass "config.json valid, example's shape, install paths"

if [ -x "$root/usr/local/bin/ddosd" ]; then
    timeout 20 "$root/usr/local/bin/ddosd" -c "$home/config/config.json" --dump-config \
        >"$tmp/dump.json" || fail "ddosd --dump-config rejects the installed config.json"
    pass "ddosd --dump-config accepts the installed config.json"
fi

# The rendered files point into the prefix, and nowhere else under /home/ddos.
unit=$root/etc/systemd/system/ddos-backend.service
grep -q "^ExecStart=$root/usr/local/bin/ddosd -c $home/config/config.json\$" "$unit" ||
    fail "unit ExecStart not rewritten for the prefix"
grep -q "^ReadWritePaths=$home/logs $home/data\$" "$unit" || fail "unit ReadWritePaths"
grep -q "^EnvironmentFile=-$home/config/.env\$" "$unit" || fail "unit EnvironmentFile"
grep -q "$home/logs/app.log" "$root/etc/logrotate.d/ddos-backend" || fail "logrotate paths"
if grep -rq ' /home/ddos' "$root/etc"; then fail "a file under etc/ still names /home/ddos"; fi
pass "unit, logrotate paths rewritten"

# The site: the gateway CIDR, loopback, deny all; nginx -t with a main config of our own.
site=$root/etc/nginx/sites-available/ddos-backend.conf
grep -q 'allow 10.1.2.0/24;' "$site" || fail "site lacks allow 10.1.2.0/24"
grep -q 'allow 127.0.0.1;' "$site" || fail "site lacks allow 127.0.0.1"
grep -q 'deny all;' "$site" || fail "site lacks deny all"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s/listen 9000;/listen 127.0.0.1:$port;/" "$site" >"$tmp/site.conf"
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
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
    fail "nginx -t rejects the installed site"
pass "nginx -t accepts the site"

# Second run: nothing changes, .env kept byte for byte (and its mtime), config.json too.
env_sum=$(sha256sum "$env")
env_mtime=$(stat -c %Y "$env")
cfg_sum=$(sha256sum "$home/config/config.json")
# An operator's edit to a key the script does not manage must survive a rerun.
/usr/bin/python3 - "$home/config/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["rules"]["victim"]["pps"] = 250000
json.dump(c, open(p, "w"), indent=2)
PY
cfg_sum=$(sha256sum "$home/config/config.json")
sleep 1
echo "== install.sh again (idempotence)"
bash "$install_sh" "${args[@]}" >"$tmp/run2.log" 2>&1 || {
    cat "$tmp/run2.log"
    fail "second install.sh failed"
}
cat "$tmp/run2.log"
[ "$(sha256sum "$env")" = "$env_sum" ] || fail ".env was rewritten by the second run"
[ "$(stat -c %Y "$env")" = "$env_mtime" ] || fail ".env was touched by the second run"
grep -q "kept existing" "$tmp/run2.log" || fail "second run did not say it kept .env"
[ "$(sha256sum "$home/config/config.json")" = "$cfg_sum" ] ||
    fail "second run changed config.json (the operator's edit or formatting)"
if grep -qE '^install: (installed|model|unit|logrotate|nginx site|config \()' "$tmp/run2.log"; then
    fail "second run rewrote files that had not changed"
fi
expect "$env" ddos:ddos 600
pass "second run: nothing rewritten, .env and config.json edits kept"

# A .env made readable by others is made private again (ddosd would refuse it), not rewritten.
chmod 644 "$env"
bash "$install_sh" "${args[@]}" >"$tmp/run3.log" 2>&1 || fail "third install.sh failed"
expect "$env" ddos:ddos 600
[ "$(sha256sum "$env")" = "$env_sum" ] || fail ".env was rewritten by the third run"
pass ".env permissions repaired without rewriting it"

# Uninstall: services' files and binaries go, the home stays; --purge removes the home.
echo "== install.sh --uninstall"
bash "$install_sh" --uninstall --prefix "$root" --no-systemd
for f in usr/local/bin/ddos-flows usr/local/sbin/ddos-backend etc/systemd/system/ddos-backend.service \
    etc/nginx/sites-available/ddos-backend.conf etc/nginx/sites-enabled/ddos-backend.conf \
    etc/logrotate.d/ddos-backend; do
    if [ -e "$root/$f" ] || [ -L "$root/$f" ]; then fail "--uninstall left $f"; fi
done
if ! [ -f "$env" ] || ! [ -f "$home/models/ddosd-model.msgpack" ] || ! [ -d "$home/logs" ]; then
    fail "--uninstall removed the home's data"
fi
[ "$(sha256sum "$env")" = "$env_sum" ] || fail "--uninstall touched .env"
pass "--uninstall removed the install, kept models, config, .env, logs"

bash "$install_sh" --uninstall --purge --prefix "$root" --no-systemd
[ ! -e "$home" ] || fail "--uninstall --purge left $home"
pass "--uninstall --purge removed $home"
# An API-only node (docs/scale-out.md): no capture, the sensors' Redis through Sentinel.
root2=$tmp/root-api
home2=$root2/home/ddos
echo "== install.sh --api-only"
bash "$install_sh" --prefix "$root2" --no-systemd --skip-build --bin-dir "$build/app" \
    --allow-missing --gateway-cidr 10.1.2.0/24 --api-only \
    --sentinels 10.0.0.5:26379,10.0.0.6:26380 --master-name verdicts >"$tmp/api.log" 2>&1 ||
    { cat "$tmp/api.log"; fail "install.sh --api-only failed"; }
/usr/bin/python3 - "$home2/config/config.json" <<'PY' || fail "--api-only config.json"
import json, sys
c = json.load(open(sys.argv[1]))
want = {("api_only",): True, ("capture", "interfaces"): [],
        ("redis", "sentinels"): ["10.0.0.5:26379", "10.0.0.6:26380"],
        ("redis", "master_name"): "verdicts", ("redis", "enabled"): True}
for path, value in want.items():
    d = c
    for k in path:
        d = d.get(k) if isinstance(d, dict) else None
    if d != value:
        sys.exit(f"config.json {'.'.join(path)} = {d!r}, want {value!r}")
PY
if [ -x "$root2/usr/local/bin/ddosd" ]; then
    timeout 20 "$root2/usr/local/bin/ddosd" -c "$home2/config/config.json" --dump-config \
        >"$tmp/dump2.json" || fail "ddosd --dump-config rejects the --api-only config.json"
fi
bash "$install_sh" --prefix "$root2" --no-systemd --skip-build --bin-dir "$build/app" \
    --allow-missing --api-only --interface lo >"$tmp/api2.log" 2>&1 &&
    fail "install.sh --api-only --interface lo was accepted"
grep -q "api-only captures nothing" "$tmp/api2.log" || fail "--api-only --interface: no reason given"
bash "$install_sh" --uninstall --purge --prefix "$root2" --no-systemd >/dev/null
pass "--api-only: api_only true, no capture, Sentinel settings; --interface refused"
echo "PASS packaging_install"
