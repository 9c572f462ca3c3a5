#!/usr/bin/python3
"""evaluate.py - how well a ddosd model detects the attacks of a labelled manifest.

Runs the extractor with the model (ddos-flows --model, fixed or cic as the model says) over
every capture of a manifest and prints, per capture and overall:
  - flow-level DDoS precision, recall and F1: a flow is DDoS when its label is neither `benign`
    nor `portscan` (malicious, but not a DDoS); predicted DDoS likewise from the model's label;
  - the benign false-positive rate: benign flows the model calls an attack (any attack);
  - a per-class table (precision, recall, F1, support) and a confusion matrix.
Only flow ends count (not in-flow snapshots). Labels the model does not know (e.g. a manifest's
`dhcp_flood`) still count in the DDoS / not-DDoS figures.

usage: /usr/bin/python3 scripts/evaluate.py --manifest M.json [--model F] [--out report.json]
                                            [--bin DIR] [--compat fixed|cic]
Programs are found in --bin DIR, in build/, or on PATH.
"""
import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddtools  # noqa: E402
ROOT = os.path.dirname(HERE)
NOT_DDOS = ddtools.NOT_DDOS


def model_mode(ddos_model, model):
    """The feature mode a model file was trained on (ddos-model info prints it)."""
    out = subprocess.run([ddos_model, "info", model], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"evaluate: {model}: {out.stderr.strip() or out.stdout.strip()}")
    for line in out.stdout.splitlines():
        low = line.lower()
        if "mode" in low and ("cic" in low or "fixed" in low):
            return "cic" if "cic" in low.split("mode", 1)[1] else "fixed"
    return "fixed"


def figures(rows):
    """rows: list of (true label, predicted label)."""
    t_ddos = [t not in NOT_DDOS for t, _ in rows]
    p_ddos = [p not in NOT_DDOS for _, p in rows]
    out = ddtools.binary_scores(t_ddos, p_ddos)
    benign = [p for t, p in rows if t == "benign"]
    out["benign_fpr"] = round(sum(1 for p in benign if p != "benign") / len(benign), 5) \
        if benign else None
    out["flows"] = len(rows)
    return out


def per_class(rows):
    labels = sorted({t for t, _ in rows} | {p for _, p in rows})
    table = {}
    for c in labels:
        tp = sum(1 for t, p in rows if t == c and p == c)
        fp = sum(1 for t, p in rows if t != c and p == c)
        fn = sum(1 for t, p in rows if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        table[c] = {"precision": round(prec, 4), "recall": round(rec, 4),
                    "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
                    "support": tp + fn}
    cm = Counter(rows)
    matrix = [[cm[(t, p)] for p in labels] for t in labels]
    return table, {"labels": labels, "matrix": matrix}


def run_capture(flows_bin, cap, base, model, compat):
    """Returns [(true, predicted)] for the flow ends of one capture."""
    entry = dict(cap, path=os.path.abspath(os.path.join(base, cap["path"])))
    with tempfile.TemporaryDirectory() as tmp:
        man = os.path.join(tmp, "one.json")
        with open(man, "w") as f:
            json.dump({"captures": [entry]}, f)
        proc = subprocess.run([flows_bin, "--manifest", man, "--model", model, "--compat",
                               compat, "--no-progress", "-q"], capture_output=True, text=True)
    if proc.returncode not in (0, 2):
        sys.exit(f"evaluate: ddos-flows failed on {cap['path']}: {proc.stderr.strip()}")
    reader = csv.DictReader(io.StringIO(proc.stdout))
    label_col = "Label" if "Label" in reader.fieldnames else " Label"
    return [(r[label_col], r["Predicted Label"]) for r in reader]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "ddosd-model.msgpack"))
    ap.add_argument("--out", help="write the report as JSON here")
    ap.add_argument("--bin", help="directory holding ddos-flows and ddos-model")
    ap.add_argument("--compat", choices=["fixed", "cic"],
                    help="extractor mode (default: the one the model was trained on)")
    args = ap.parse_args()

    flows_bin = ddtools.find_bin("ddos-flows", args.bin, "evaluate")
    compat = args.compat or model_mode(ddtools.find_bin("ddos-model", args.bin, "evaluate"),
                                       args.model)
    manifest = json.load(open(args.manifest))
    base = os.path.dirname(os.path.abspath(args.manifest))

    all_rows, per_capture = [], {}
    print(f"{'capture':<40} {'label':<18} {'flows':>7} {'prec':>6} {'recall':>6} {'F1':>6} "
          f"{'bFPR':>7}  predicted")
    for cap in manifest["captures"]:
        rows = run_capture(flows_bin, cap, base, args.model, compat)
        all_rows += rows
        fig = figures(rows)
        top = Counter(p for _, p in rows).most_common(3)
        fig["predicted"] = dict(top)
        fig["label"] = cap["label"]
        per_capture[cap["path"]] = fig
        bfpr = "-" if fig["benign_fpr"] is None else f"{fig['benign_fpr']:.4f}"
        print(f"{os.path.basename(cap['path']):<40} {cap['label']:<18} {fig['flows']:>7} "
              f"{fig['precision']:>6.3f} {fig['recall']:>6.3f} {fig['f1']:>6.3f} {bfpr:>7}  "
              + ", ".join(f"{k} {v}" for k, v in top))

    overall = figures(all_rows)
    table, cm = per_class(all_rows)
    print(f"\noverall ({overall['flows']} flows): DDoS precision {overall['precision']:.4f}, "
          f"recall {overall['recall']:.4f}, F1 {overall['f1']:.4f}, benign FPR "
          f"{overall['benign_fpr'] if overall['benign_fpr'] is not None else '-'}")
    print(f"\n{'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for c, v in table.items():
        print(f"{c:<20} {v['precision']:>9.4f} {v['recall']:>7.4f} {v['f1']:>6.4f} "
              f"{v['support']:>8}")
    print("\nconfusion matrix (rows true, columns predicted):")
    w = max(8, max(len(x) for x in cm["labels"]) + 1)
    print(" " * w + "".join(f"{x[:w - 1]:>{w}}" for x in cm["labels"]))
    for lab, row in zip(cm["labels"], cm["matrix"]):
        print(f"{lab:<{w}}" + "".join(f"{v:>{w}}" for v in row))

    if args.out:
        report = {"manifest": os.path.abspath(args.manifest), "model": os.path.abspath(args.model),
                  "compat": compat, "overall": overall, "per_class": table,
                  "confusion_matrix": cm, "per_capture": per_capture}
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
