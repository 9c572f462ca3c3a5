#!/bin/bash
# bench_inference.sh - the C inference engine against scikit-learn predict_proba, in one run.
#
# Trains a RandomForest and an ExtraTrees of production size on synthetic flows (fixed seeds),
# exports them, and times scikit-learn (batch and one row) and the C engine (model_score and
# model_score_batch) on the same 10,000 rows; prints a table and the speed-up ratios. See
# bench/bench_inference.py for the details.
#
# usage: bench/bench_inference.sh [BUILD_DIR] [--update-doc]
#   BUILD_DIR     where ddos-bench-infer was built (default: build); the bench-inference
#                 target builds it and runs this script
#   --update-doc  also write the table into docs/performance.md (its own section only)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
bin="$build/bench/ddos-bench-infer"
if [ ! -x "$bin" ]; then
    echo "bench_inference.sh: $bin not found; build it first:" >&2
    echo "  cmake --build $build --target ddos-bench-infer" >&2
    exit 1
fi
exec /usr/bin/python3 "$here/bench_inference.py" --bench "$bin" "$@"
