#!/usr/bin/python3
"""bench_inference.py - the C inference engine against scikit-learn, before and after, in one run.

Three models, each timed on 10,000 rows in the same run:

  committed      models/ddosd-model.msgpack (two stages: 40-tree attack forest, 40-tree family
                 forest) on flows from a generated capture: ddos-bench-gen (300,000 packets,
                 seed 1) through ddos-flows --snapshots, i.e. the records the daemon scores.
                 scikit-learn's side is the same forests rebuilt from the file (sklearn Tree
                 objects with the file's nodes and values), stage 2 run on the rows stage 1 calls
                 attacks, as a Python detector would.
  RandomForest   100 trees, depth 14, and
  ExtraTrees     100 trees, depth 16, trained (fixed seeds) on 20,000 synthetic flows that use
                 every feature name of features/feature_set.h and four classes.

  sklearn batch   predict_proba on all rows at once (per-row figure)
  sklearn 1 row   predict_proba on one row, median of 100 calls (what per-flow use costs)
  C single        model_score one flow at a time (ddos-bench-infer)
  C batch         model_score_batch over the rows in one call (what the daemon's workers do)

Each is the best of --rounds (3) rounds that alternate scikit-learn, the C engine after and
before (each round: sklearn best of 3 calls, C best of 5 runs), so that a busy moment on a
shared machine does not fall on one side only.

"before" is the same ddos-bench-infer source linked against another build's inference library
(--before BUILD_DIR, e.g. a build of the session's base commit), so both sides run the same
timing code. Everything runs on one thread and is timed with the thread's CPU clock (C:
CLOCK_THREAD_CPUTIME_ID, Python: time.thread_time), so time the machine spends on other
processes does not count on either side. The C scores are checked against scikit-learn's
p_attack (max |diff| printed) so the figures come from correct results. With --update-doc the
table replaces the "Inference (C engine vs scikit-learn)" section of docs/performance.md.

usage: bench/bench_inference.sh [BUILD_DIR] [--before BUILD_DIR] [--update-doc]
"""
import argparse
import csv
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import export_sklearn  # noqa: E402
import modelkit  # noqa: E402

import sklearn  # noqa: E402
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402
from sklearn.tree._tree import Tree  # noqa: E402

SECTION = "## Inference (C engine vs scikit-learn)"
CLASSES = np.array(["benign", "syn_flood", "udp_flood", "http_flood"])
COMMITTED = os.path.join(REPO, "models", "ddosd-model.msgpack")


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


def _timed(fn):
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def time_sklearn(predict, X):
    """predict(X) on all rows (best of 3) and on one row (median of 100), microseconds per row."""
    batch = min(_timed(lambda: predict(X)) for _ in range(3)) / len(X)
    singles = [_timed(lambda: predict(X[i:i + 1])) for i in range(100)]
    return batch * 1e6, statistics.median(singles) * 1e6


def run_c(bench, model, rows_path, expect_path):
    p = subprocess.run([bench, model, rows_path, "--repeat", "5", "--expect", expect_path],
                       capture_output=True, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        k, v = line.split(" ", 1)
        out[k] = v
    return out


def link_before(before, tmp):
    """ddos-bench-infer from this tree's infer_bench.c and BEFORE's inference library, so the
    before and after figures come from the same timing code. Falls back to BEFORE's own binary
    (which may time with another clock) when linking fails."""
    src = os.path.join(HERE, "infer_bench.c")
    out = os.path.join(tmp, "ddos-bench-infer-before")
    inc = [f"-I{before}/include/{d}" for d in ("inference", "features", "capture", "common")]
    libs = [f"{before}/inference/libddosd_inference.a", f"{before}/features/libddosd_features.a",
            f"{before}/capture/libddosd_decode.a", f"{before}/common/libddosd_common.a"]
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc and all(os.path.exists(x) for x in libs):
        cmd = [cc, "-O2", "-std=gnu11", "-D_GNU_SOURCE", *inc, src, "-o", out, *libs,
               "-lmsgpackc", "-lcrypto", "-ljansson", "-lsystemd", "-lm", "-lpthread"]
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            return out, "same ddos-bench-infer source, linked against " + before
    own = os.path.join(before, "bench", "ddos-bench-infer")
    if os.access(own, os.X_OK):
        return own, before + "/bench/ddos-bench-infer (its own timing code)"
    sys.exit(f"bench_inference: cannot link or find ddos-bench-infer for --before {before}")


# ---- the committed model, rebuilt in scikit-learn ---------------------------------------------

def sk_forest(stage, n_features):
    """A RandomForestClassifier whose trees are the stage's trees, node for node (leaf values are
    already probabilities; predict_proba renormalises them, which leaves them as they are up to
    the last bit)."""
    ndtype = DecisionTreeClassifier(max_depth=1).fit([[0.0], [1.0]], [0, 1]).tree_.__getstate__()[
        "nodes"].dtype
    n_out = len(stage["classes"])
    estimators = []
    for tr in stage["trees"]:
        n = tr["n_nodes"]
        left = np.frombuffer(tr["left"], "<i4")
        right = np.frombuffer(tr["right"], "<i4")
        nodes = np.zeros(n, dtype=ndtype)
        nodes["left_child"] = left
        nodes["right_child"] = right
        nodes["feature"] = np.frombuffer(tr["feature"], "<i4")
        nodes["threshold"] = np.frombuffer(tr["threshold"], "<f8")
        nodes["n_node_samples"] = 1
        nodes["weighted_n_node_samples"] = 1.0
        if "missing_go_to_left" in ndtype.names and tr.get("missing_left") is not None:
            nodes["missing_go_to_left"] = np.frombuffer(tr["missing_left"], "u1")
        depth = np.zeros(n, dtype=int)
        for i in range(n):  # sklearn stores parents before children
            if left[i] >= 0:
                depth[left[i]] = depth[right[i]] = depth[i] + 1
        t = Tree(n_features, np.array([n_out], dtype=np.intp), 1)
        t.__setstate__({"max_depth": int(depth.max()), "node_count": n, "nodes": nodes,
                        "values": np.frombuffer(tr["value"], "<f8").reshape(n, 1, n_out).copy()})
        e = DecisionTreeClassifier()
        e.tree_, e.n_outputs_, e.n_classes_ = t, 1, n_out
        e.classes_, e.n_features_in_ = np.arange(n_out), n_features
        estimators.append(e)
    f = RandomForestClassifier(n_estimators=len(estimators))
    f.estimators_, f.n_outputs_, f.n_classes_ = estimators, 1, n_out
    f.classes_, f.n_features_in_ = np.arange(n_out), n_features
    return f


def committed_rows(build, n, tmp):
    """n flow records (model feature order) from ddos-bench-gen + ddos-flows --snapshots."""
    gen = os.path.join(build, "bench", "ddos-bench-gen")
    flows = os.path.join(build, "app", "ddos-flows")
    for b in (gen, flows):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench_inference: {b} is not built: cmake --build {build} --target "
                     "ddos-bench-gen ddos-flows")
    pcap, csv_path = os.path.join(tmp, "gen.pcap"), os.path.join(tmp, "flows.csv")
    subprocess.run([gen, "-o", pcap, "--packets", "300000", "--seed", "1"], check=True,
                   capture_output=True)
    subprocess.run([flows, "-r", pcap, "-o", csv_path, "-q", "--snapshots", "--seed", "1"],
                   check=True, capture_output=True)
    with open(csv_path) as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def committed_case(build, n, tmp):
    m = msgpack.unpackb(open(COMMITTED, "rb").read(), raw=False)
    feats = m["features"]
    header, rows = committed_rows(build, n, tmp)
    cols = [header.index(f) for f in feats]
    pick = np.random.default_rng(1).choice(len(rows), size=min(n, len(rows)), replace=False)
    X = np.array([[float(rows[i][c]) for c in cols] for i in pick])
    nan, pinf, ninf = (m["nonfinite"][k] for k in ("nan", "posinf", "neginf"))
    Xs = np.nan_to_num(X, nan=nan, posinf=pinf, neginf=ninf)  # the file's nonfinite map
    s0, s1 = m["stages"]
    f0, f1 = sk_forest(s0, len(feats)), sk_forest(s1, len(feats))
    pos, thr = s0["positive"], s0.get("threshold", 0.5)

    def predict(X):
        p = f0.predict_proba(X)
        attack = p[:, pos] >= thr
        if attack.any():
            f1.predict_proba(X[attack])
        return p

    nodes = sum(t["n_nodes"] for s in (s0, s1) for t in s["trees"])
    return {"name": "committed model", "desc": "2 stages x 40 trees, depth <= 18",
            "X": X, "predict": predict, "p_attack": predict(Xs)[:, pos], "path": COMMITTED,
            "nodes": nodes, "bytes": os.path.getsize(COMMITTED), "Xs": Xs}


def synth_cases(args, features, tmp):
    rng = np.random.default_rng(2024)
    X_train, y_train = synth(args.train, len(features), rng)
    X_test, _ = synth(args.rows, len(features), rng)
    models = {
        "RandomForest": RandomForestClassifier(n_estimators=100, max_depth=14, random_state=0,
                                               n_jobs=2),
        "ExtraTrees": ExtraTreesClassifier(n_estimators=100, max_depth=16, random_state=0,
                                           n_jobs=2),
    }
    for name, est in models.items():
        est.fit(X_train, y_train)
        est.set_params(n_jobs=None)  # prediction timed on one thread, like the C engine
        path = os.path.join(tmp, name + ".msgpack")
        data = export_sklearn.export_single(est, features=features,
                                            provenance={"created": "bench", "seed": 0}, out=path)
        benign = list(est.classes_).index("benign")
        yield {"name": name, "desc": f"{len(est.estimators_)} trees, depth {est.max_depth}",
               "X": X_test, "Xs": X_test, "predict": est.predict_proba,
               "p_attack": 1.0 - est.predict_proba(X_test)[:, benign], "path": path,
               "nodes": sum(e.tree_.node_count for e in est.estimators_), "bytes": len(data)}


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
    ap.add_argument("--bench", required=True, help="path of ddos-bench-infer (after)")
    ap.add_argument("--build", required=True, help="its build directory")
    ap.add_argument("--before", help="build directory of the 'before' engine")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args()

    features = modelkit.feature_names()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        before, before_how = link_before(args.before, tmp) if args.before else (None, None)
        cases = [committed_case(args.build, args.rows, tmp)]
        cases += list(synth_cases(args, features, tmp))
        for c in cases:
            rows_path = os.path.join(tmp, "rows.csv")
            with open(rows_path, "w") as f:
                for row in c["X"]:
                    f.write(",".join(repr(float(v)) for v in row) + "\n")
            expect_path = os.path.join(tmp, "expect.txt")
            np.savetxt(expect_path, c["p_attack"], fmt="%.17g")
            # Rounds of sklearn, after and before in turn, the best of each kept: a machine
            # shared with other work slows whichever runs at a busy moment, and alternating
            # gives each side the same chances.
            r = {"name": c["name"], "desc": c["desc"], "nodes": c["nodes"],
                 "sk_batch": float("inf"), "sk_one": float("inf"), "c_single": float("inf"),
                 "c_batch": float("inf"), "b_single": float("inf"), "b_batch": float("inf")}
            for _ in range(args.rounds):
                sk_batch, sk_one = time_sklearn(c["predict"], c["Xs"])
                r["sk_batch"] = min(r["sk_batch"], sk_batch)
                r["sk_one"] = min(r["sk_one"], sk_one)
                after = run_c(args.bench, c["path"], rows_path, expect_path)
                r["c_single"] = min(r["c_single"], float(after["c_single_us_per_row"]))
                r["c_batch"] = min(r["c_batch"], float(after["c_batch_us_per_row"]))
                r["diff"] = after["max_abs_diff"].split(" ")[0]
                if before:
                    b = run_c(before, c["path"], rows_path, expect_path)
                    r["b_single"] = min(r["b_single"], float(b["c_single_us_per_row"]))
                    r["b_batch"] = min(r["b_batch"], float(b["c_batch_us_per_row"]))
            results.append(r)
            sk = r["sk_batch"]  # the best of the rounds, as in the table
            print(f"{r['name']} ({r['desc']}, {r['nodes']:,} nodes): sklearn batch "
                  f"{sk:.2f} us/row; C batch {r['c_batch']:.3f} "
                  f"({sk / r['c_batch']:.1f}x), C single {r['c_single']:.3f} "
                  f"({sk / r['c_single']:.1f}x)" +
                  (f"; before: batch {r['b_batch']:.3f} ({sk / r['b_batch']:.1f}x), "
                   f"single {r['b_single']:.3f}" if before else "") +
                  f"; C vs sklearn p_attack max|diff| {r['diff']}", flush=True)

    load = os.getloadavg()[0]
    lines = [SECTION, "",
             f"`bench/bench_inference.sh` ({args.rows:,} rows per model, one thread, thread CPU "
             f"time; {cpu_name()}, {os.cpu_count()} CPUs, load average {load:.1f} at the end "
             f"of the run; scikit-learn {sklearn.__version__}, numpy {np.__version__}). "
             "Per-row figures in microseconds; *x* = scikit-learn's batch time per row divided "
             "by the C engine's. On a busy machine the ratios move by 10-20% from one run to "
             "the next even on CPU time (shared caches and cores); compare within one run.", ""]
    if before:
        lines += [f"Before: {before_how}.", "",
                  "| model | nodes | sklearn batch | sklearn 1 row | before: C batch | "
                  "C batch | C single | before: batch / C batch | batch / C batch | "
                  "batch / C single | C batch speed-up |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            lines.append(
                f"| {r['name']} ({r['desc']}) | {r['nodes']:,} | {r['sk_batch']:.2f} | "
                f"{r['sk_one']:.0f} | {r['b_batch']:.3f} | {r['c_batch']:.3f} | "
                f"{r['c_single']:.3f} | {r['sk_batch'] / r['b_batch']:.1f}x | "
                f"**{r['sk_batch'] / r['c_batch']:.1f}x** | "
                f"{r['sk_batch'] / r['c_single']:.1f}x | "
                f"{r['b_batch'] / r['c_batch']:.2f}x |")
    else:
        lines += ["| model | nodes | sklearn batch | sklearn 1 row | C batch | C single | "
                  "batch / C batch | batch / C single |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            lines.append(
                f"| {r['name']} ({r['desc']}) | {r['nodes']:,} | {r['sk_batch']:.2f} | "
                f"{r['sk_one']:.0f} | {r['c_batch']:.3f} | {r['c_single']:.3f} | "
                f"**{r['sk_batch'] / r['c_batch']:.1f}x** | "
                f"{r['sk_batch'] / r['c_single']:.1f}x |")
    met = all(r["sk_batch"] / r["c_batch"] >= 10 for r in results)
    lines += ["",
              "- *sklearn batch*: `predict_proba` on all rows at once, divided by the row count "
              "(its best case; for the committed model stage 2 runs on the rows stage 1 calls "
              "attacks); *sklearn 1 row*: one call per flow, median of 100. Every figure is "
              f"the best of {args.rounds} rounds that alternate scikit-learn, after and before.",
              "- *C batch*: `model_score_batch` over all rows (what the workers call, 64 flows "
              "per block); *C single*: `model_score` per flow. Both include preprocessing, the "
              "mapping from the extractor vector and the verdict.",
              "- The C scores equal scikit-learn's (max |diff| of p_attack: " +
              ", ".join(f"{r['name']} {r['diff']}" for r in results) + ").",
              "- Goal: the C engine >= 10x faster per row than scikit-learn's batch "
              "(batch / C batch): " + ("met for every model" if met else "NOT met for every "
                                       "model") + ".",
              "- What the engine does (docs/model-format.md, \"How the C engine lays a model "
              "out\"): 8-byte breadth-first nodes, so a step is `left child + (x > t)`; rows "
              "in the extractor's order, prepared eight features at a time; with AVX-512 the "
              "batch walks 16 rows per vector, 3 trees x 4 vectors at once (12 independent "
              "chains of gathers: the walk is bound by gather latency, and 1 -> 2 -> 3 trees "
              "per walk took 1, 0.8 and 0.65 of the time), the first five levels of each tree "
              "from a register table instead of gathers, nodes gathered as one qword each.",
              "- Where the time goes (perf, batch, committed model): the walk about 65%, "
              "adding leaf vectors 15%, preparing rows 15%. A walk runs each tree's full depth "
              "(16) while the average path is 11.8 levels, and a block of 64 rows nearly always "
              "has one row that goes the whole way, so about a quarter of the gathers are "
              "spent on finished walks; refilling finished lanes (stream compaction) was "
              "estimated to cost more per step than it saves. Tried and dropped: separate "
              "word and threshold gathers (slower than one qword gather and two permutes), "
              "4 trees x 4 vectors (register spills, slower), 8 trees for a lone vector, "
              "vectorised leaf adds (no gain within noise).", ""]
    text = "\n".join(lines)
    print()
    print(text)
    if args.update_doc:
        update_doc(text)


if __name__ == "__main__":
    main()
