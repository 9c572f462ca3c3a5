#!/usr/bin/env bash
# install.sh - install ddosd as a backend instance on a fresh Debian 12 host (the seed's user-data
# script). Idempotent: run it again to upgrade or to change --interface / --gateway-cidr; an
# existing .env is never overwritten and edits to config.json are kept.
#
# What it does, in order (each step says what it changed):
#   packages   scripts/deps.sh build, plus redis-server nginx curl python3 logrotate (apt only for
#              what is missing)
#   user       the system user ddos (no login shell, home /home/ddos)
#   build      cmake Release in build-release/ (skip with --skip-build --bin-dir DIR)
#   binaries   ddosd ddos-flows ddos-model ddos-trafgen -> /usr/local/bin, the no-systemd control
#              script (scripts/start_backend.sh) -> /usr/local/sbin/ddos-backend
#   layout     /home/ddos/{app,models,logs,data,config}, the model, config.json, .env
#   services   redis-server, the unit ddos-backend.service, the nginx site on port 9000, logrotate
#   check      curl http://127.0.0.1:9000/health
#
# Run scripts/install.sh --help for the options. Docs: docs/deployment.md, docs/operations.md.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
svc_user=ddos
programs=(ddosd ddos-flows ddos-model ddos-trafgen)
runtime_pkgs=(redis-server nginx curl python3 logrotate)
python=/usr/bin/python3

usage() {
    cat <<EOF
usage: scripts/install.sh [options]          (as root, on Debian 12)

Installs ddosd as the systemd service ddos-backend behind an nginx site on port 9000, with
Redis for verdicts. Safe to run again: it upgrades binaries and the model, keeps .env, keeps
your edits to config.json, and restarts ddosd only when something it runs changed.

options:
  --interface IFACE     capture on IFACE (repeatable; the mirror/tap port, or the host's own NIC
                        for local capture). Default: keep what config.json says; on a first
                        install, the interface of the default route.
  --gateway-cidr CIDR   the gateway subnet allowed to reach port 9000 (nginx "allow"), e.g.
                        10.0.1.0/24. Default: keep the installed site's; first install: loopback
                        only (127.0.0.1/32), with a warning.
  --api-only            an API node (docs/scale-out.md): no capture, no model; ddosd serves the
                        merged verdicts of the sensors from Redis (config.json api_only: true).
                        Give the sensors' Redis with --redis or --sentinels
  --redis HOST:PORT     the Redis the sensors write to (redis.host, redis.port); the local
                        redis-server is then not started
  --sentinels LIST      Sentinels instead, "h1:p1,h2:p2,h3:p3" (redis.sentinels), with
  --master-name NAME    the name they monitor (redis.master_name, default mymaster)
  --home DIR            the service's home (default /home/ddos)
  --prefix DIR          install everything under DIR instead of / (DIR/home/ddos,
                        DIR/usr/local/bin, DIR/etc/...; files refer to each other inside DIR).
                        No apt, no systemctl, nothing started: for tests and for inspecting what
                        an install writes. The user ddos is still created when running as root;
                        not root, ownership is left alone.
  --no-systemd          do not touch systemd (containers, hosts booted without it): the unit is
                        still written, and the backend is started with ddos-backend start
                        (scripts/start_backend.sh) unless --prefix is given
  --skip-build          do not build; take the programs from --bin-dir
  --bin-dir DIR         where the built programs are: a build tree or its app/ folder (the others
                        are found in the sibling inference/ and trafgen/ folders), or a plain
                        folder holding all four
  --build-dir DIR       build tree for the Release build (default: <repo>/build-release)
  --allow-missing       install the programs that exist and warn about the others (packaging
                        tests before every program is built); a real install needs all four
  --uninstall           stop the backend and remove the unit, the nginx site, logrotate rules,
                        binaries and docs; keeps the home (models, config, .env, data, logs)
  --purge               with --uninstall: also delete the home and the user ddos
  -h, --help            this text

examples:
  scripts/install.sh --interface ens5 --gateway-cidr 10.0.1.0/24     # a seed instance
  scripts/install.sh                                                  # upgrade in place
  scripts/install.sh --no-systemd --interface eth1 --gateway-cidr 10.0.1.0/24
  scripts/install.sh --prefix /tmp/root --no-systemd --skip-build --bin-dir build/app
  scripts/install.sh --uninstall            # scripts/install.sh --uninstall --purge: everything
  scripts/install.sh --api-only --sentinels 10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379 \
      --gateway-cidr 10.0.1.0/24                                      # an API-only node

After installing: curl http://127.0.0.1:9000/health, then edit /home/ddos/config/config.json
(thresholds, whitelist) and /home/ddos/config/.env (REDIS_PASSWORD, bouncer keys) and run
systemctl reload ddos-backend (no systemd: ddos-backend restart).
EOF
}

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() {
    printf 'install: error: %s\n' "$*" >&2
    exit 1
}

# --- options ---------------------------------------------------------------------------------
prefix=""
home_opt=/home/ddos
interfaces=()
gateway_cidr=""
api_only=0
redis_addr=""
sentinels=""
master_name=""
use_systemd=1
skip_build=0
bin_dir=""
build_dir="$repo/build-release"
allow_missing=0
uninstall=0
purge=0

need_arg() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then
        die "$1 needs a value (see --help)"
    fi
}
while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) need_arg "$@"; prefix=$2; shift 2 ;;
    --home) need_arg "$@"; home_opt=$2; shift 2 ;;
    --interface) need_arg "$@"; interfaces+=("$2"); shift 2 ;;
    --gateway-cidr) need_arg "$@"; gateway_cidr=$2; shift 2 ;;
    --api-only) api_only=1; shift ;;
    --redis) need_arg "$@"; redis_addr=$2; shift 2 ;;
    --sentinels) need_arg "$@"; sentinels=$2; shift 2 ;;
    --master-name) need_arg "$@"; master_name=$2; shift 2 ;;
    --no-systemd) use_systemd=0; shift ;;
    --skip-build) skip_build=1; shift ;;
    --bin-dir) need_arg "$@"; bin_dir=$2; shift 2 ;;
    --build-dir) need_arg "$@"; build_dir=$2; shift 2 ;;
    --allow-missing) allow_missing=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done

[ $purge -eq 0 ] || [ $uninstall -eq 1 ] || die "--purge goes with --uninstall"
[ $skip_build -eq 0 ] || [ -n "$bin_dir" ] || die "--skip-build needs --bin-dir DIR (the built programs)"
case "$home_opt" in
/*) ;;
*) die "--home must be an absolute path, got '$home_opt'" ;;
esac
if [ -n "$prefix" ]; then
    mkdir -p "$prefix"
    prefix=$(cd "$prefix" && pwd)
    [ "$prefix" != / ] || prefix=""
fi
if [ -n "$redis_addr" ]; then
    [[ "$redis_addr" =~ ^[A-Za-z0-9_.:-]+:[0-9]{1,5}$ ]] ||
        die "--redis '$redis_addr' is not HOST:PORT (e.g. 10.0.0.5:6379)"
fi
if [ -n "$sentinels" ]; then
    [[ "$sentinels" =~ ^[A-Za-z0-9_.:-]+:[0-9]{1,5}(,[A-Za-z0-9_.:-]+:[0-9]{1,5})*$ ]] ||
        die "--sentinels '$sentinels' is not h1:p1,h2:p2,... (e.g. 10.0.0.5:26379,10.0.0.6:26379)"
fi
[ -z "$master_name" ] || [[ "$master_name" =~ ^[A-Za-z0-9_.:-]{1,128}$ ]] ||
    die "--master-name '$master_name' may hold letters, digits, '.', '_', '-' and ':' only"
if [ $api_only -eq 1 ] && [ ${#interfaces[@]} -gt 0 ]; then
    die "--api-only captures nothing: leave out --interface"
fi
local_redis=1
[ -z "$redis_addr" ] && [ -z "$sentinels" ] || local_redis=0
for i in "${interfaces[@]}"; do
    [[ "$i" =~ ^[A-Za-z0-9_.:@-]{1,15}$ ]] || die "--interface '$i' is not an interface name"
done
if [ -n "$gateway_cidr" ]; then
    [[ "$gateway_cidr" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$ ||
        "$gateway_cidr" =~ ^[0-9A-Fa-f:]+(/[0-9]{1,3})?$ ]] ||
        die "--gateway-cidr '$gateway_cidr' is not an IPv4 or IPv6 CIDR (e.g. 10.0.1.0/24)"
fi

is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1
if [ $is_root -eq 0 ] && [ -z "$prefix" ]; then
    die "run as root (sudo $0 ...), or give --prefix DIR to install into a directory"
fi
# A prefix install never touches the host's services.
if [ -n "$prefix" ]; then
    use_systemd=0
fi
systemd_running=0
[ -d /run/systemd/system ] && systemd_running=1
if [ $use_systemd -eq 1 ] && [ $systemd_running -eq 0 ]; then
    warn "systemd is not running here (no /run/systemd/system): writing the unit but starting" \
        "with ddos-backend (scripts/start_backend.sh); pass --no-systemd to say so"
    use_systemd=0
fi

# --- paths (everything under the prefix; files name each other by these paths) ---------------
home="$prefix$home_opt"
bindir="$prefix/usr/local/bin"
sbindir="$prefix/usr/local/sbin"
docdir="$prefix/usr/local/share/doc/ddosd"
unitdir="$prefix/etc/systemd/system"
unit="$unitdir/ddos-backend.service"
site_avail="$prefix/etc/nginx/sites-available/ddos-backend.conf"
site_link="$prefix/etc/nginx/sites-enabled/ddos-backend.conf"
logrotate_file="$prefix/etc/logrotate.d/ddos-backend"
nginx_logdir="$prefix/var/log/nginx"
run_dir="$prefix/run/ddos-backend"
ctl="$sbindir/ddos-backend"
model_name=ddosd-model.msgpack

# chown only where it means something: as root (a non-root prefix install keeps the caller's).
own() {
    if [ $is_root -eq 1 ]; then
        chown "$@"
    fi
}

changed_runtime=0 # set when a file ddosd runs with changed: restart it

# Copies src to dst with mode and owner when dst differs; atomic (rename over the old file), so a
# running program is never rewritten in place. Prints what it did.
put_file() {
    local src=$1 dst=$2 mode=$3 owner=$4 what=$5
    if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
        chmod "$mode" "$dst"
        own "$owner" "$dst"
        return 1
    fi
    local tmp
    tmp=$(mktemp "$dst.XXXXXX")
    cat "$src" >"$tmp"
    chmod "$mode" "$tmp"
    own "$owner" "$tmp"
    mv -f "$tmp" "$dst"
    say "$what: $dst"
    return 0
}

# Escapes a string for the replacement side of sed s|...|...|.
sed_repl() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# The shipped templates name the default paths; rewrite them for --home and --prefix.
render() {
    local src=$1 dst=$2
    sed -e "s|/home/ddos|$(sed_repl "$home")|g" \
        -e "s|/usr/local/bin|$(sed_repl "$bindir")|g" \
        -e "s|/usr/local/share/doc/ddosd|$(sed_repl "$docdir")|g" \
        -e "s|/run/ddos-backend|$(sed_repl "$run_dir")|g" \
        -e "s|/var/log/nginx/|$(sed_repl "$nginx_logdir")/|g" \
        "$src" >"$dst"
}

# --- uninstall ---------------------------------------------------------------------------------
if [ $uninstall -eq 1 ]; then
    if [ $use_systemd -eq 1 ] && [ -f "$unit" ]; then
        systemctl disable --now ddos-backend.service || warn "could not stop ddos-backend.service"
    fi
    if [ -x "$ctl" ] && [ -f "$run_dir/ddosd.pid" ]; then
        "$ctl" stop --home "$home" --run-dir "$run_dir" || warn "ddos-backend stop failed"
    fi
    for f in "$unit" "$site_link" "$site_avail" "$logrotate_file" "$ctl" \
        "${programs[@]/#/$bindir/}"; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            rm -f "$f"
            say "removed $f"
        fi
    done
    if [ -d "$docdir" ]; then
        rm -rf "$docdir"
        say "removed $docdir"
    fi
    if [ $use_systemd -eq 1 ]; then
        systemctl daemon-reload
        if systemctl is-active --quiet nginx; then
            systemctl reload nginx
        fi
    elif [ -z "$prefix" ] && [ -s /run/nginx.pid ] && nginx -t -q 2>/dev/null; then
        nginx -s reload || true
    fi
    if [ $purge -eq 1 ]; then
        # Only a directory that looks like ours: never rm -rf a mistyped --home.
        if [ -d "$home" ] && [ -d "$home/config" ] && [ -d "$home/models" ]; then
            rm -rf "$home"
            say "purged $home"
        elif [ -e "$home" ]; then
            warn "$home does not look like a ddosd home (no config/ and models/): left alone"
        fi
        if [ -z "$prefix" ] && [ $is_root -eq 1 ] && getent passwd "$svc_user" >/dev/null; then
            userdel "$svc_user"
            say "removed user $svc_user"
        fi
    else
        say "kept $home (models, config, .env, data, logs); --uninstall --purge deletes it"
    fi
    say "uninstalled"
    exit 0
fi

# --- packages ----------------------------------------------------------------------------------
missing_pkgs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            printf '%s\n' "$p"
    done
}
if [ $skip_build -eq 0 ]; then
    "$repo/scripts/deps.sh" build
fi
mapfile -t missing < <(missing_pkgs "${runtime_pkgs[@]}")
if [ ${#missing[@]} -gt 0 ]; then
    if [ -n "$prefix" ]; then
        warn "not installed (a prefix install does not run apt): ${missing[*]}"
    else
        say "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    say "packages: present (${runtime_pkgs[*]})"
fi
[ -x "$python" ] || die "$python is needed to write config.json: apt-get install python3"

# --- user --------------------------------------------------------------------------------------
if [ $is_root -eq 1 ]; then
    if getent passwd "$svc_user" >/dev/null; then
        say "user $svc_user: exists"
    else
        useradd --system --user-group --home-dir "$home_opt" --no-create-home \
            --shell /usr/sbin/nologin --comment "ddosd DDoS detector" "$svc_user"
        say "user $svc_user: created"
    fi
else
    warn "not root: files keep your ownership instead of $svc_user (prefix install)"
fi

# --- build -------------------------------------------------------------------------------------
if [ $skip_build -eq 0 ]; then
    say "building (Release) in $build_dir"
    cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DDDOSD_TESTS=OFF >/dev/null
    cmake --build "$build_dir" -j "$(nproc)" --target "${programs[@]}"
    bin_dir=$build_dir
fi
[ -d "$bin_dir" ] || die "--bin-dir $bin_dir: no such directory"
bin_dir=$(cd "$bin_dir" && pwd)

# Finds a built program: DIR itself, a build tree's folders, or the siblings of its app/ folder.
find_program() {
    local name=$1 d
    for d in "$bin_dir" "$bin_dir/app" "$bin_dir/inference" "$bin_dir/trafgen" \
        "$bin_dir/../app" "$bin_dir/../inference" "$bin_dir/../trafgen"; do
        if [ -f "$d/$name" ] && [ -x "$d/$name" ]; then
            printf '%s\n' "$d/$name"
            return 0
        fi
    done
    return 1
}

# --- binaries and scripts ------------------------------------------------------------------------
mkdir -p "$bindir" "$sbindir" "$docdir"
for name in "${programs[@]}"; do
    if src=$(find_program "$name"); then
        if put_file "$src" "$bindir/$name" 755 root:root "installed"; then
            [ "$name" != ddosd ] || changed_runtime=1
        fi
    elif [ $allow_missing -eq 1 ]; then
        warn "$name not found under $bin_dir: not installed (--allow-missing)"
    else
        die "$name not found under $bin_dir (build it: cmake --build BUILD --target $name)"
    fi
done

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT

# The control script for hosts without systemd, with this install's paths as its defaults.
render "$repo/scripts/start_backend.sh" "$tmpdir/ddos-backend"
put_file "$tmpdir/ddos-backend" "$ctl" 755 root:root "installed" || true
for doc in deployment.md operations.md configuration.md redis.md; do
    if [ -f "$repo/docs/$doc" ]; then
        put_file "$repo/docs/$doc" "$docdir/$doc" 644 root:root "doc" || true
    fi
done

# --- layout ------------------------------------------------------------------------------------
# Owned by ddos: what it writes (logs, data) and its private config dir. models/ is root's, so
# the service cannot change the model it runs (it only reads it; SIGHUP reloads it).
mkdir -p "$home" "$home/app" "$home/logs" "$home/data" "$home/config" "$home/models"
chmod 755 "$home" "$home/app" "$home/logs" "$home/models"
chmod 750 "$home/data" "$home/config"
own "$svc_user:$svc_user" "$home" "$home/app" "$home/logs" "$home/data" "$home/config"
own root:root "$home/models"
say "layout: $home/{app,models,logs,data,config}"

if put_file "$repo/models/$model_name" "$home/models/$model_name" 644 root:root "model"; then
    changed_runtime=1
fi
if [ -f "$repo/models/model-metrics.json" ]; then
    put_file "$repo/models/model-metrics.json" "$home/models/model-metrics.json" 644 root:root \
        "model metrics" || true
fi

# config.json: written from the example on the first install; afterwards only the keys this script
# manages are updated, and only where they still hold the example's value (or a flag asks).
if [ $api_only -eq 0 ] && [ ${#interfaces[@]} -eq 0 ] && [ ! -f "$home/config/config.json" ]; then
    default_if=$(ip -o route show default 2>/dev/null | awk '{print $5; exit}' || true)
    if [ -n "$default_if" ]; then
        interfaces=("$default_if")
        say "capture interface: $default_if (the default route's; --interface IFACE to choose)"
    else
        warn "no --interface and no default route: capture.interfaces left empty"
    fi
fi
ifaces_json=keep
if [ ${#interfaces[@]} -gt 0 ]; then
    ifaces_json=$(printf '%s\n' "${interfaces[@]}" | "$python" -c \
        'import json, sys; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))')
fi
cfg_status=$("$python" - "$repo/config/config.example.json" "$home/config/config.json" \
    "$home/logs" "$home/models/$model_name" "$ifaces_json" "$svc_user" "$tmpdir/config.json" \
    "$api_only" "$redis_addr" "$sentinels" "$master_name" <<'PY'
import json, os, sys

example_path, target, log_dir, model, ifaces, user, out = sys.argv[1:8]
api_only, redis_addr, sentinels, master_name = sys.argv[8:12]
with open(example_path) as f:
    example = json.load(f)
fresh = not os.path.exists(target)
if fresh:
    cfg = json.loads(json.dumps(example))
else:
    try:
        with open(target) as f:
            cfg = json.load(f)
    except ValueError as e:
        sys.exit(f"{target}: not valid JSON ({e}); fix it or move it away and run again")
before = json.loads(json.dumps(cfg))


def lookup(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def put(path, value, force):
    d = cfg
    for k in path[:-1]:
        d = d.setdefault(k, {})
    if force or fresh or path[-1] not in d or d[path[-1]] == lookup(example, path):
        d[path[-1]] = value


put(("log", "dir"), log_dir, False)
put(("ml_model", "path"), model, False)
put(("user",), user, False)
if ifaces != "keep":
    put(("capture", "interfaces"), json.loads(ifaces), True)
if api_only == "1":  # an API node: no capture (docs/scale-out.md)
    put(("api_only",), True, True)
    put(("capture", "interfaces"), [], True)
if redis_addr:
    host, port = redis_addr.rsplit(":", 1)
    put(("redis", "host"), host, True)
    put(("redis", "port"), int(port), True)
    put(("redis", "enabled"), True, True)
if sentinels:
    put(("redis", "sentinels"), sentinels.split(","), True)
    put(("redis", "enabled"), True, True)
if master_name:
    put(("redis", "master_name"), master_name, True)
if not fresh and cfg == before:
    print("unchanged")  # the operator's formatting is kept too
    sys.exit(0)
with open(out, "w") as f:
    f.write(json.dumps(cfg, indent=2) + "\n")
print("new" if fresh else "updated")
PY
)
case "$cfg_status" in
unchanged)
    chmod 640 "$home/config/config.json"
    own "root:$svc_user" "$home/config/config.json"
    say "config: $home/config/config.json unchanged"
    ;;
*)
    put_file "$tmpdir/config.json" "$home/config/config.json" 640 "root:$svc_user" \
        "config ($cfg_status)" || true
    changed_runtime=1
    ;;
esac

# .env: created once with a random SECRET_KEY, never overwritten; only its mode and owner are
# enforced (ddosd refuses to start when others may read it).
envf="$home/config/.env"
if [ -e "$envf" ]; then
    say "secrets: kept existing $envf"
    if grep -qE '^[[:space:]]*(export[[:space:]]+)?SECRET_KEY[[:space:]]*=[[:space:]]*change-me' \
        "$envf"; then
        warn "$envf still has SECRET_KEY=change-me, which ddosd refuses: set one (openssl rand -hex 32)"
    fi
else
    secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    (
        umask 077
        sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$secret|" "$repo/config/env.example" >"$envf.tmp"
    )
    mv -f "$envf.tmp" "$envf"
    say "secrets: created $envf with a random SECRET_KEY"
    changed_runtime=1
fi
chmod 600 "$envf"
own "$svc_user:$svc_user" "$envf"

# --- service files -------------------------------------------------------------------------------
mkdir -p "$unitdir" "$(dirname "$site_avail")" "$(dirname "$site_link")" \
    "$(dirname "$logrotate_file")"
render "$repo/config/systemd/ddos-backend.service" "$tmpdir/unit"
if put_file "$tmpdir/unit" "$unit" 644 root:root "unit"; then
    changed_runtime=1
fi
render "$repo/config/logrotate/ddos-backend" "$tmpdir/logrotate"
put_file "$tmpdir/logrotate" "$logrotate_file" 644 root:root "logrotate" || true

# The nginx site: the gateway CIDR from the flag, else the one already installed, else loopback.
if [ -z "$gateway_cidr" ] && [ -f "$site_avail" ]; then
    gateway_cidr=$(sed -n 's/^[[:space:]]*allow[[:space:]]\{1,\}\([^;]*\);.*GATEWAY_CIDR.*/\1/p' \
        "$site_avail" | head -1)
fi
if [ -z "$gateway_cidr" ]; then
    gateway_cidr=127.0.0.1/32
    warn "no --gateway-cidr: port 9000 admits loopback only; rerun with --gateway-cidr CIDR"
fi
render "$repo/config/nginx/ddos-backend.conf" "$tmpdir/site"
sed -i -e "s|^\([[:space:]]*\)allow [^;]*;\(.*GATEWAY_CIDR.*\)|\1allow $(sed_repl "$gateway_cidr");\2|" \
    "$tmpdir/site"
grep -q "allow $gateway_cidr;" "$tmpdir/site" || die "could not set the gateway CIDR in the site"
site_changed=0
put_file "$tmpdir/site" "$site_avail" 644 root:root "nginx site (allow $gateway_cidr)" &&
    site_changed=1
if [ "$(readlink "$site_link" 2>/dev/null || true)" != "$site_avail" ]; then
    ln -sfn "$site_avail" "$site_link"
    say "nginx site enabled: $site_link"
    site_changed=1
fi
if [ -n "$prefix" ]; then
    mkdir -p "$nginx_logdir" "$run_dir"
fi

# --- start and check ---------------------------------------------------------------------------
health_url=http://127.0.0.1:9000/health
check_health() {
    local i
    for i in $(seq 1 "$1"); do
        if curl -fsS --max-time 2 "$health_url" >"$tmpdir/health" 2>/dev/null; then
            say "health: $(cat "$tmpdir/health")"
            return 0
        fi
        [ "$i" -eq "$1" ] || sleep 1
    done
    return 1
}

if [ -n "$prefix" ]; then
    say "prefix install in $prefix: nothing started (run $ctl start to try it)"
    say "done"
    exit 0
fi

if [ $use_systemd -eq 1 ]; then
    systemctl daemon-reload
    if [ $local_redis -eq 1 ]; then
        systemctl enable --now redis-server.service
    fi
    nginx -t -q || die "nginx -t failed: see the messages above ($site_avail)"
    systemctl enable --quiet nginx.service
    if [ $site_changed -eq 1 ] || ! systemctl is-active --quiet nginx.service; then
        systemctl reload-or-restart nginx.service
    fi
    systemctl enable --quiet ddos-backend.service
    if systemctl is-active --quiet ddos-backend.service; then
        if [ $changed_runtime -eq 1 ]; then
            say "restarting ddos-backend (binary, model, unit or config changed)"
            systemctl restart ddos-backend.service
        fi
    else
        systemctl start ddos-backend.service
    fi
    if ! check_health 30; then
        systemctl --no-pager status ddos-backend.service >&2 || true
        die "no answer from $health_url: journalctl -u ddos-backend, $home/logs/error.log"
    fi
else
    ctl_rc=0
    "$ctl" status --quiet --home "$home" >/dev/null 2>&1 || ctl_rc=$?
    if [ $changed_runtime -eq 1 ] && [ $ctl_rc -ne 3 ]; then
        say "restarting ddosd (binary, model or config changed)"
        "$ctl" restart --home "$home"
    else
        "$ctl" start --home "$home"
    fi
    check_health 10 || die "no answer from $health_url: $home/logs/error.log, $home/logs/console.log"
fi
say "done: ddosd answers on $health_url"
