#!/usr/bin/env bash
# packaging_unit.sh - the systemd unit config/systemd/ddos-backend.service: static checks of the
# directives the deployment relies on, then `systemd-analyze verify` (exit 77 when systemd-analyze
# is not installed, after the static checks passed). Also checks the logrotate rules statically
# (and with logrotate -d when logrotate is installed).
#
# usage: packaging_unit.sh REPO
set -euo pipefail

repo=$1
unit=$repo/config/systemd/ddos-backend.service
rotate=$repo/config/logrotate/ddos-backend

tmp=$(mktemp -d /tmp/ddosd-pkg-unit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# The value of a directive (last assignment wins, as in systemd); empty when absent.
directive() { sed -n -E "s/^$1=(.*)$/\1/p" "$unit" | tail -1; }

# want KEY VALUE: the directive is set to exactly this value.
want() {
    local got
    got=$(directive "$1")
    [ "$got" = "$2" ] || fail "$1=$got, want $1=$2"
}

want Type notify
want User ddos
want Group ddos
want NoNewPrivileges yes
want ProtectSystem strict
want ProtectHome read-only
want ReadWritePaths "/home/ddos/logs /home/ddos/data"
want EnvironmentFile "-/home/ddos/config/.env"
want Restart always
want RestartSec 5
want WatchdogSec 30
want TimeoutStopSec 10
# shellcheck disable=SC2016 # $MAINPID is systemd's, literally in the unit
want ExecReload '/bin/kill -HUP $MAINPID'
want ExecStart "/usr/local/bin/ddosd -c /home/ddos/config/config.json"
want WantedBy multi-user.target

# Capabilities: exactly CAP_NET_RAW and CAP_NET_ADMIN, the bounding set matching the ambient set.
caps() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ' '; }
amb=$(caps "$(directive AmbientCapabilities)")
bnd=$(caps "$(directive CapabilityBoundingSet)")
[ "$amb" = "CAP_NET_ADMIN CAP_NET_RAW " ] || fail "AmbientCapabilities: $amb"
[ "$amb" = "$bnd" ] || fail "CapabilityBoundingSet ($bnd) does not match AmbientCapabilities ($amb)"

# Nothing may run as root or regain it: no User=root, no '+' or '!' privileged Exec prefixes.
if grep -qE '^Exec[A-Za-z]*=[-@:]*[+!]' "$unit"; then fail "an Exec line runs with full privileges"; fi
if grep -qE '^(PermissionsStartOnly|RootDirectory|DynamicUser)=' "$unit"; then
    fail "unexpected privilege-related directive"
fi
# The only writable paths are logs and data (the config and models stay read-only).
rw=$(grep -cE '^ReadWritePaths=' "$unit")
[ "$rw" -eq 1 ] || fail "ReadWritePaths is set $rw times (want once)"
echo "ok: unit directives"

# logrotate: the three logs, SIGUSR1 in postrotate, sharedscripts so it is sent once.
for f in app.log error.log access.log; do
    grep -q "/home/ddos/logs/$f" "$rotate" || fail "logrotate does not rotate $f"
done
grep -q 'kill -USR1' "$rotate" || fail "logrotate postrotate does not send SIGUSR1"
grep -q 'sharedscripts' "$rotate" || fail "logrotate lacks sharedscripts"
if command -v logrotate >/dev/null; then
    # logrotate resolves the su user: stand in for ddos when this host has no such user.
    me="$(id -un) $(id -gn)"
    if getent passwd ddos >/dev/null; then me="ddos ddos"; fi
    sed -e "s/su ddos ddos/su $me/" "$rotate" >"$tmp/logrotate.conf"
    logrotate -d -s "$tmp/logrotate.state" "$tmp/logrotate.conf" >"$tmp/logrotate.out" 2>&1 || {
        cat "$tmp/logrotate.out"
        fail "logrotate -d rejects $rotate"
    }
    echo "ok: logrotate -d"
fi
echo "ok: logrotate rules"

if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: systemd-analyze not installed (apt-get install systemd); static checks passed"
    exit 77
fi
# verify wants ExecStart's program to exist: point it at a stand-in, nothing else changes.
install -m 755 /bin/true "$tmp/ddosd"
sed -e "s|^ExecStart=/usr/local/bin/ddosd|ExecStart=$tmp/ddosd|" "$unit" >"$tmp/ddos-backend.service"
if ! systemd-analyze verify --man=no "$tmp/ddos-backend.service" >"$tmp/verify.out" 2>&1; then
    cat "$tmp/verify.out"
    fail "systemd-analyze verify"
fi
# verify also prints warnings it does not fail on (unknown directives, bad values): none allowed.
if grep -v -e 'redis-server.service' -e 'network-online.target' "$tmp/verify.out" |
    grep -q "ddos-backend.service"; then
    cat "$tmp/verify.out"
    fail "systemd-analyze verify warned about the unit"
fi
cat "$tmp/verify.out"
echo "ok: systemd-analyze verify"
echo "PASS packaging_unit"
