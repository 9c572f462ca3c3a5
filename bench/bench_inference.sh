#!/bin/bash
# bench_inference.sh - the C inference engine against scikit-learn predict_proba, before and
# after, in one run.
#
# Times the committed model (models/ddosd-model.msgpack, on flow records from a generated
# capture) and a RandomForest and an ExtraTrees of production size trained on synthetic flows
# (fixed seeds): scikit-learn (batch and one row) and the C engine (model_score and
# model_score_batch) on the same 10,000 rows per model; prints a table and the ratios. With
# --before, the same figures for another build's engine (e.g. the session's base build). See
# bench/bench_inference.py for the details.
#
# usage: bench/bench_inference.sh [BUILD_DIR] [--before BUILD_DIR] [--update-doc]
#   BUILD_DIR     where ddos-bench-infer, ddos-bench-gen and ddos-flows were built (default:
#                 build); the bench-inference target builds them and runs this script
#   --before DIR  also time DIR's inference library (linked into this tree's ddos-bench-infer)
#   --update-doc  also write the table into docs/performance.md (its own section only)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
build=$(cd "$build" && pwd)
bin="$build/bench/ddos-bench-infer"
for b in "$bin" "$build/bench/ddos-bench-gen" "$build/app/ddos-flows"; do
    if [ ! -x "$b" ]; then
        echo "bench_inference.sh: $b not found; build it first:" >&2
        echo "  cmake --build $build --target ddos-bench-infer ddos-bench-gen ddos-flows" >&2
        exit 1
    fi
done
exec /usr/bin/python3 "$here/bench_inference.py" --bench "$bin" --build "$build" "$@"
