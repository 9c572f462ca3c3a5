#!/usr/bin/python3
"""bench_inference.py - the C inference engine against scikit-learn, in one run.

Trains (fixed seeds) a RandomForest and an ExtraTrees of production size (100 trees, depth 14
and 16) on 20,000 synthetic flows that use every feature name of features/feature_set.h and
four classes (benign + three attacks, the seed model's single-stage multiclass shape), exports
each with scripts/export_sklearn.py, and times on the same 10,000 fresh rows:

  sklearn batch   predict_proba on all 10,000 rows at once (per-row figure), best of 3
  sklearn 1 row   predict_proba on one row, median of 300 calls (what per-flow use costs)
  C single        model_score one flow at a time (ddos-bench-infer), best of 5
  C batch         model_score_batch over the 10,000 rows, best of 5

Everything runs on one thread (scikit-learn with n_jobs=None). The C scores are checked against
scikit-learn's (p_attack = 1 - P(benign)) so the figures come from correct results. With
--update-doc the table replaces the "Inference (C engine vs scikit-learn)" section of
docs/performance.md (appended if absent; the rest of the file is left alone).

usage: bench/bench_inference.sh [BUILD_DIR] [--update-doc]
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import export_sklearn  # noqa: E402
import modelkit  # noqa: E402

import sklearn  # noqa: E402
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier  # noqa: E402

SECTION = "## Inference (C engine vs scikit-learn)"
CLASSES = np.array(["benign", "syn_flood", "udp_flood", "http_flood"])


def synth(n, n_features, rng):
    """Flows with class-dependent signal on a third of the columns, heavy-tailed noise, many
    integer-valued columns and 8% label noise, so depth-14 trees fill out (thousands of nodes
    each), as on real CIC data."""
    y = rng.integers(0, len(CLASSES), n)
    signal = rng.choice(n_features, size=n_features // 3, replace=False)
    centers = np.random.default_rng(7).normal(0, 1.5, size=(len(CLASSES), n_features))
    X = rng.standard_t(3, size=(n, n_features))
    X[:, signal] += centers[y][:, signal]
    scale = np.logspace(0, 6, n_features)
    X = X * scale
    ints = np.arange(n_features) % 3 == 0
    X[:, ints] = np.round(np.abs(X[:, ints]))
    flip = rng.random(n) < 0.08
    y = np.where(flip, rng.integers(0, len(CLASSES), n), y)
    return X, CLASSES[y]


def time_sklearn(est, X):
    batch = min(_timed(lambda: est.predict_proba(X)) for _ in range(3)) / len(X)
    singles = []
    for i in range(300):
        row = X[i:i + 1]
        singles.append(_timed(lambda: est.predict_proba(row)))
    return batch * 1e6, statistics.median(singles) * 1e6


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_c(bench, model, rows_path, expect_path):
    p = subprocess.run([bench, model, rows_path, "--repeat", "5", "--expect", expect_path],
                       capture_output=True, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        k, v = line.split(" ", 1)
        out[k] = v
    return out


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def update_doc(text):
    path = os.path.join(REPO, "docs", "performance.md")
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old, count=1).rstrip("\n") + "\n"
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "# Performance\n\n") + text
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
    print(f"updated {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, help="path of ddos-bench-infer")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args()

    features = modelkit.feature_names()
    rng = np.random.default_rng(2024)
    X_train, y_train = synth(args.train, len(features), rng)
    X_test, _ = synth(args.rows, len(features), rng)
    models = {
        "RandomForest": RandomForestClassifier(n_estimators=100, max_depth=14, random_state=0,
                                               n_jobs=2),
        "ExtraTrees": ExtraTreesClassifier(n_estimators=100, max_depth=16, random_state=0,
                                           n_jobs=2),
    }
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = os.path.join(tmp, "rows.csv")
        with open(rows_path, "w") as f:
            for row in X_test:
                f.write(",".join(repr(float(v)) for v in row) + "\n")
        for name, est in models.items():
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            fit_s = time.perf_counter() - t0
            est.set_params(n_jobs=None)  # prediction timed on one thread, like the C engine
            path = os.path.join(tmp, name + ".msgpack")
            data = export_sklearn.export_single(est, features=features,
                                                provenance={"created": "bench", "seed": 0},
                                                out=path)
            proba = est.predict_proba(X_test)
            benign = list(est.classes_).index("benign")
            expect_path = os.path.join(tmp, name + ".expect")
            np.savetxt(expect_path, 1.0 - proba[:, benign], fmt="%.17g")
            sk_batch, sk_one = time_sklearn(est, X_test)
            c = run_c(args.bench, path, rows_path, expect_path)
            nodes = sum(e.tree_.node_count for e in est.estimators_)
            r = {
                "name": name, "trees": len(est.estimators_), "depth": est.max_depth,
                "nodes": nodes, "bytes": len(data), "fit_s": fit_s,
                "sk_batch": sk_batch, "sk_one": sk_one,
                "c_single": float(c["c_single_us_per_row"]),
                "c_batch": float(c["c_batch_us_per_row"]),
                "diff": c["max_abs_diff"],
            }
            results.append(r)
            print(f"{name}: {r['trees']} trees, max_depth {r['depth']}, {nodes} nodes "
                  f"({nodes / r['trees']:.0f} per tree), file {len(data) / 1e6:.1f} MB, "
                  f"fit {fit_s:.1f} s; C vs sklearn p_attack max|diff| {r['diff']}", flush=True)

    lines = [SECTION, "",
             f"`bench/bench_inference.sh` ({args.rows:,} rows, {len(features)} features, "
             f"4 classes; one thread; {cpu_name()}; scikit-learn {sklearn.__version__}, "
             f"numpy {np.__version__}). Per-row figures in microseconds.", "",
             "| model | nodes | sklearn batch | sklearn 1 row | C single | C batch | "
             "batch / C single | batch / C batch | 1 row / C single |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['name']} {r['trees']}x depth {r['depth']} | {r['nodes']:,} | "
            f"{r['sk_batch']:.2f} | {r['sk_one']:.0f} | {r['c_single']:.3f} | "
            f"{r['c_batch']:.3f} | {r['sk_batch'] / r['c_single']:.1f}x | "
            f"{r['sk_batch'] / r['c_batch']:.1f}x | {r['sk_one'] / r['c_single']:.0f}x |")
    lines += ["",
              "- *sklearn batch*: `predict_proba` on all rows at once, divided by the row count "
              "(its best case); *sklearn 1 row*: one call per flow, median of 300.",
              "- *C single*: `model_score` per flow (preprocessing, mapping from the extractor "
              "vector, verdict); *C batch*: `model_score_batch`, which walks each tree for a "
              "block of 32 flows, 8 in lock step.",
              "- The C scores equal scikit-learn's (max |diff| of p_attack: " +
              ", ".join(f"{r['name']} {r['diff'].split(' ')[0]}" for r in results) + ").",
              "- Goal: C per flow >= 10x faster than scikit-learn's batch per row: " +
              ("met" if all(r["sk_batch"] / r["c_single"] >= 10 for r in results) else
               "NOT met") + f"; against scikit-learn called once per flow (what a daemon would "
              f"do) the engine is {min(r['sk_one'] / r['c_single'] for r in results):.0f}x "
              "faster or more.",
              "- Where the time goes (perf, software clock): the tree walks. A row visits "
              "100 trees x 12-14 levels; scikit-learn's batch spends about 7 ns per node visit "
              "(branchy loop over 64-byte nodes), the engine about 1.8 ns: 8-byte pre-order "
              "nodes, a branch-free select (a jump here mispredicted half the time and cost 3x), "
              "leaf vectors stored once per stage (123k leaves share ~5k vectors: 6 MB -> 2 MB, "
              "which cut single-flow time by a third), and with AVX2 32 trees walked at once. "
              "10x would need ~0.7 ns (about 2 cycles) per visit, below the load -> compare -> "
              "select chain each visit is. Tried and dropped: an AVX2 walk over batch rows (no "
              "faster than the scalar 8-row lock step on this Zen 4 VM) and larger batch blocks "
              "(tens of KB more stack per worker for under 30%).", ""]
    text = "\n".join(lines)
    print()
    print(text)
    if args.update_doc:
        update_doc(text)


if __name__ == "__main__":
    main()
