#!/usr/bin/env bash
# test.sh - install what is missing, build, and run every test.
#
#   1. Release build with -Werror; ctest runs unit and integration tests.
#   2. ASan+UBSan build; ctest runs the unit and integration tests again (the integration tests
#      push every capture in ../shared/data through the sanitized extractor when it is present).
#   3. ThreadSanitizer build of the stress tests (rings pushed from two threads; the whole daemon
#      with two shards and two workers).
#   4. clang build with -Werror (clang warns where gcc does not), then the libFuzzer build; each
#      fuzz harness runs briefly over its committed corpus.
#   5. clang-format check of every C file.
# Skipped tests (exit 77: no ../shared/data, not root, a tool missing) are counted as skipped, not
# passed, in every summary line.
#
# usage: scripts/test.sh [--quick] [--shared DIR]
#          --quick       step 1 only
#          --shared DIR  the third-party data folder (default ../shared/data beside the checkout);
#                        tests that need it are skipped when it is absent
# env:   JOBS (default: nproc), DDOSD_FUZZ_SECONDS (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --shared)
        [ $# -ge 2 ] || { echo "test.sh: --shared needs a directory" >&2; exit 1; }
        [ -d "$2" ] || { echo "test.sh: --shared $2: no such directory" >&2; exit 1; }
        DDOSD_SHARED_DATA=$(cd "$2" && pwd)
        export DDOSD_SHARED_DATA
        shift
        ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option $1 (try --help)" >&2; exit 1 ;;
    esac
    shift
done

step() { printf '\n==== %s\n' "$*"; }

# Runs ctest, and adds its "N tests failed out of M" to the totals printed at the end. ctest counts
# a skipped test (SKIP_RETURN_CODE) as passed; it is subtracted and counted apart.
total_pass=0
total_fail=0
total_skip=0
summary() {
    echo "$total_pass passed, $total_skip skipped, $1 failed"
}
run_ctest() {
    local log
    log=$(mktemp)
    set +e
    ctest "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local line skipped
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
    # "The following tests did not run" repeats each skipped test: count the progress lines only.
    skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log" || true)
    rm -f "$log"
    if [ -n "$line" ]; then
        local failed all
        failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        all=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
        total_pass=$((total_pass + all - failed - skipped))
        total_fail=$((total_fail + failed))
        total_skip=$((total_skip + skipped))
    fi
    if [ "$rc" -ne 0 ]; then
        summary $((total_fail > 0 ? total_fail : 1))
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
    summary "$total_fail"
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

step "clang build (-Werror)"
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DDDOSD_WERROR=ON >/dev/null
cmake --build build-clang -j "$jobs"

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
summary "$total_fail"
