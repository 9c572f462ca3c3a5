#!/usr/bin/env bash
# test.sh - install what is missing, build, and run every test.
#
#   1. Release build with -Werror; ctest runs unit and integration tests.
#   2. ASan+UBSan build; ctest runs the unit and integration tests again (the integration tests
#      push every capture in ../shared/data through the sanitized extractor when it is present).
#   3. ThreadSanitizer build of the stress tests (rings pushed from two threads; the whole daemon
#      with two shards and two workers).
#   4. clang libFuzzer build; each fuzz harness runs briefly over its committed corpus.
#   5. clang-format check of every C file.
#
# usage: scripts/test.sh [--quick]    (--quick: step 1 only)
# env:   JOBS (default: nproc), DDOSD_FUZZ_SECONDS (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
quick=0
[ "${1:-}" = "--quick" ] && quick=1

step() { printf '\n==== %s\n' "$*"; }

# Runs ctest, and adds its "N tests failed out of M" to the totals printed at the end.
total_pass=0
total_fail=0
run_ctest() {
    local log
    log=$(mktemp)
    set +e
    ctest "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local line
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
    rm -f "$log"
    if [ -n "$line" ]; then
        local failed all
        failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        all=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
        total_pass=$((total_pass + all - failed))
        total_fail=$((total_fail + failed))
    fi
    if [ "$rc" -ne 0 ]; then
        echo "$total_pass passed, $((total_fail > 0 ? total_fail : 1)) failed"
        exit "$rc"
    fi
}

step "dependencies"
scripts/deps.sh test

step "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDDOSD_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
step "release tests"
run_ctest --test-dir build --output-on-failure -j "$jobs"
if [ $quick -eq 1 ]; then
    echo "$total_pass passed, $total_fail failed"
    exit 0
fi

step "sanitizer build (address,undefined)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDDOSD_SANITIZE=address,undefined \
    -DDDOSD_WERROR=ON >/dev/null
cmake --build build-asan -j "$jobs"
step "sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest --test-dir build-asan --output-on-failure -j "$jobs" -L 'unit|integration'

step "thread sanitizer build (stress tests)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DDDOSD_SANITIZE=thread -DDDOSD_WERROR=ON >/dev/null
cmake --build build-tsan -j "$jobs" --target stress_ring ddosd ddos-trafgen
TSAN_OPTIONS=halt_on_error=1 run_ctest --test-dir build-tsan --output-on-failure -L stress

step "fuzz build (clang, libFuzzer)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DDDOSD_FUZZ=ON \
    -DDDOSD_FUZZ_SECONDS="${DDOSD_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-fuzz -j "$jobs"
step "fuzz runs"
run_ctest --test-dir build-fuzz --output-on-failure -L fuzz

step "format check"
mapfile -t cfiles < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
clang-format --dry-run --Werror "${cfiles[@]}"
echo "format: ${#cfiles[@]} files clean"

step "summary"
echo "$total_pass passed, $total_fail failed"
