#!/usr/bin/env bash
# train_quick.sh - the training pipeline end to end, small: scripts/train_model.py --quick runs
# twice with the same seed into separate directories (captures generated afresh each time), and
# the two model files must be byte-identical; the model must pass `ddos-model check`, score a
# generated capture through `ddos-flows --model`, and model-metrics.json must hold the fields the
# seed's backend reads plus ddosd's. Uses only generated traffic (--no-shared).
#
# usage: train_quick.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: train_quick.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
check() {
    if [ "$2" = 0 ]; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}
for i in 1 2; do
    DDOSD_MODEL_CREATED=2026-01-01T00:00:00Z /usr/bin/python3 "$root/scripts/train_model.py" \
        --bin "$build" --quick --no-shared --seed 11 --work "$work/w$i" --out "$work/o$i" \
        >"$work/log$i" 2>&1
    check "training run $i exits 0" $?
done
cmp -s "$work/o1/ddosd-model.msgpack" "$work/o2/ddosd-model.msgpack"
check "same seed gives a byte-identical model" $?
"$build/inference/ddos-model" check "$work/o1/ddosd-model.msgpack" >/dev/null
check "ddos-model check accepts the model" $?
/usr/bin/python3 - "$work/o1/model-metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
need = ["accuracy", "precision", "recall", "f1_score", "roc_auc", "training_samples",
        "testing_samples", "per_class", "benign_fpr", "confusion_matrix", "features",
        "data_sources", "seed"]
missing = [k for k in need if k not in m]
sys.exit(1 if missing or m["seed"] != 11 or not m["data_sources"] else 0)
PY
check "model-metrics.json has the seed's and ddosd's fields" $?
[ -s "$work/o1/model-report.png" ]
check "model-report.png written" $?
pcap=$(ls "$work"/w1/r3-syn_flood*.pcap | head -1)
"$build/app/ddos-flows" -r "$pcap" --model "$work/o1/ddosd-model.msgpack" -q -o "$work/scored.csv"
check "ddos-flows --model scores a capture" $?
grep -q "Predicted Label,Attack Score" "$work/scored.csv"
check "scored CSV has the prediction columns" $?
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
