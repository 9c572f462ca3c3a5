#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages ddosd needs to build, test and run. Idempotent: when
# every package is already installed it does nothing (no apt-get update, no network).
#
# usage: scripts/deps.sh [build|test|train|run|all]   (default: test)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libpcap-dev libjansson-dev libcmocka-dev libmsgpack-dev
    libssl-dev libhiredis-dev libsystemd-dev libmicrohttpd-dev)
test_pkgs=(clang libclang-rt-14-dev clang-format python3 python3-numpy python3-sklearn python3-msgpack
    python3-pandas python3-matplotlib tshark valgrind iproute2 redis-server tcpreplay tcpdump curl nginx
    wrk crowdsec-custom-bouncer systemd python3-fastapi python3-uvicorn python3-uvloop
    python3-httptools python3-redis chromium chromium-driver python3-selenium libjs-chart.js jq redis-sentinel
    nftables crowdsec-firewall-bouncer)
# Training and evaluation (scripts/train_model.py, scripts/evaluate.py).
train_pkgs=(python3-numpy python3-pandas python3-sklearn python3-msgpack python3-matplotlib)
# Running the demo (scripts/run.sh): a local Redis, curl, and tcpreplay for --live.
run_pkgs=(redis-server curl tcpreplay iproute2)

case "${1:-test}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
train) want=("${build_pkgs[@]}" "${train_pkgs[@]}") ;;
run) want=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${train_pkgs[@]}" "${run_pkgs[@]}") ;;
*) echo "usage: $0 [build|test|train|run|all]" >&2; exit 1 ;;
esac

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
