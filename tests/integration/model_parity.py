#!/usr/bin/python3
"""model_parity.py - the C inference engine against scikit-learn's predict_proba.

Trains tiny models of every kind the exporter supports (DecisionTree, RandomForest, ExtraTrees,
GradientBoosting binary, binary with the exponential loss, and multiclass with 4 classes), each
without a scaler, with a StandardScaler and with a MinMaxScaler, plus a two-stage model, all
with fixed seeds on synthetic flows that use real feature names from features/feature_set.h.
Each is exported with scripts/export_sklearn.py and scored by `ddos-model predict` on 1,000
rows: ordinary rows, rows sitting exactly on (and one float32 step around) the trees'
thresholds, zeros, negatives, huge values, and NaN/+inf/-inf, which both sides replace through
the model's nonfinite map. Every probability must be within 1e-6 of scikit-learn's (the maximum
difference is reported; it is normally 0 for forests and ~1e-16 for boosting). The verdict
(--verdict) and the ddos-flows CSV path (--features-csv) are checked against the same
probabilities.

usage: /usr/bin/python3 tests/integration/model_parity.py --bin build/inference/ddos-model
       [--rows 1000] [--keep DIR]
Ends with "N passed, M failed"; exit status 1 when anything failed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import export_sklearn  # noqa: E402
import modelkit  # noqa: E402

from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier,  # noqa: E402
                              RandomForestClassifier)
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

TOL = 1e-6
# Model input order deliberately differs from the extractor's, to exercise the mapping.
FEATURES = ["Flow Bytes/s", "Flow Duration", "Total Fwd Packets", "Total Backward Packets",
            "SYN Flag Count", "Fwd Packet Length Mean", "Flow Packets/s", "ACK Flag Count",
            "Init_Win_bytes_forward", "Protocol", "Flow IAT Mean", "Packet Length Std"]
CLASSES = ["benign", "syn_flood", "udp_flood", "http_flood"]
NONFINITE = (0.0, 1e9, -1.0)  # nan, +inf, -inf replacements, as "training" used


def synth(n, rng):
    """Synthetic flows: class-dependent distributions, integer counts (so thresholds fall on
    x.5 midpoints that rows can hit exactly), rates spanning several orders of magnitude."""
    y = rng.integers(0, 4, n)
    attack = y > 0
    dur = np.round(rng.exponential(np.where(attack, 2e4, 8e5)) + 1)
    fwd = rng.poisson(np.choose(y, [12, 1.5, 3, 8])) + 1
    bwd = rng.poisson(np.choose(y, [10, 0.3, 0.1, 5]))
    fwd_len = np.round(np.abs(rng.normal(np.choose(y, [300, 0, 700, 200]), 80)), 1)
    syn = np.where(y == 1, 1, rng.integers(0, 2, n))
    ack = np.where(y == 2, 0, rng.integers(0, 3, n))
    win = np.where(y == 1, rng.choice([512, 1024, 64240], n), rng.integers(0, 65536, n))
    proto = np.where(y == 2, 17, np.where(rng.random(n) < 0.2, 17, 6))
    iat = np.round(dur / np.maximum(fwd + bwd - 1, 1), 3)
    pkt_std = np.round(np.abs(rng.normal(np.choose(y, [200, 5, 20, 90]), 30)), 2)
    total = fwd * fwd_len + bwd * 400.0
    X = np.column_stack([total / dur * 1e6, dur, fwd, bwd, syn, fwd_len, (fwd + bwd) / dur * 1e6,
                         ack, win, proto, iat, pkt_std]).astype(np.float64)
    # label noise so trees are not trivially shallow
    flip = rng.random(n) < 0.05
    y = np.where(flip, rng.integers(0, 4, n), y)
    return X, y


def replace_nonfinite(X):
    X = X.copy()
    X[np.isnan(X)] = NONFINITE[0]
    X[np.isposinf(X)] = NONFINITE[1]
    X[np.isneginf(X)] = NONFINITE[2]
    return X


def tree_splits(model_bytes):
    """(stage, feature, threshold) of every internal node in an exported file."""
    out = []
    m = modelkit.unpack(model_bytes)
    for s, st in enumerate(m["stages"]):
        for t in st["trees"]:
            f = np.frombuffer(t["feature"], dtype="<i4")
            thr = np.frombuffer(t["threshold"], dtype="<f8")
            left = np.frombuffer(t["left"], dtype="<i4")
            for i in np.nonzero(left != -1)[0]:
                out.append((s, int(f[i]), float(thr[i])))
    return out


def to_raw(scaler, j, v):
    """Raw input that the scaler maps (approximately) to v for column j."""
    if scaler is None:
        return v
    if isinstance(scaler, StandardScaler):
        return v * scaler.scale_[j] + scaler.mean_[j]
    return (v - scaler.min_[j]) / scaler.scale_[j]


def eval_rows(n, rng, scaler, splits):
    """n rows: 60% ordinary, 15% on thresholds, 10% edge values, 15% with NaN/inf."""
    n_thr, n_edge, n_nf = int(n * 0.15), int(n * 0.10), int(n * 0.15)
    n_plain = n - n_thr - n_edge - n_nf
    X, _ = synth(n_plain + n_thr + n_nf, rng)
    rows = [X[:n_plain]]
    thr_rows = X[n_plain:n_plain + n_thr].copy()
    for r in range(n_thr):
        for _ in range(3):  # put a few columns on thresholds of random nodes
            _, j, t = splits[rng.integers(len(splits))]
            f32 = np.float32(t)
            cand = [t, float(f32), float(np.nextafter(f32, np.float32(np.inf))),
                    float(np.nextafter(f32, np.float32(-np.inf)))]
            thr_rows[r, j] = to_raw(scaler, j, cand[rng.integers(len(cand))])
    rows.append(thr_rows)
    edge_vals = np.array([0.0, -0.0, -1.0, -1e6, 1e15, -1e15, 1e30, -1e30, 0.5, 65535.0])
    edge = edge_vals[rng.integers(len(edge_vals), size=(n_edge, len(FEATURES)))]
    edge[0] = 0.0
    edge[1] = -1.0
    edge[2] = 1e30
    rows.append(edge)
    nf = X[n_plain + n_thr:].copy()
    specials = np.array([np.nan, np.inf, -np.inf])
    for r in range(n_nf):
        cols = rng.choice(len(FEATURES), size=rng.integers(1, 4), replace=False)
        nf[r, cols] = specials[rng.integers(3, size=len(cols))]
    rows.append(nf)
    return np.vstack(rows)


def run_c(binary, model_path, X, *args):
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n"
    p = subprocess.run([binary, "predict", model_path, *args], input=text, capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError(f"ddos-model predict failed: {p.stderr.strip()}")
    return [ln.split(",") for ln in p.stdout.splitlines()]


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name:34s} {detail}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def sk_proba(est, scaler, X):
    Xs = replace_nonfinite(X)
    if scaler is not None:
        Xs = scaler.transform(Xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.predict_proba(Xs)


def compare(res, name, c_rows, ref):
    """Checks every probability; returns the largest difference (inf on a shape mismatch)."""
    c = np.array([[float(v) for v in r] for r in c_rows])
    if c.shape != ref.shape:
        res.check(name, False, f"shape {c.shape} != sklearn {ref.shape}")
        return float("inf")
    diff = np.abs(c - ref)
    worst = float(diff.max())
    res.check(name, worst <= TOL, f"max|C - sklearn| = {worst:.3e} over {ref.size} "
                                  f"probabilities ({int((diff == 0).sum())} exact)")
    return worst


def single_verdict(est, scaler, X, class_names):
    """The documented single-stage verdict (docs/model-format.md "Scoring")."""
    p = sk_proba(est, scaler, X)
    names = [class_names[int(c)] if not isinstance(c, str) else c for c in est.classes_]
    b = [n.lower() for n in names].index("benign")
    pa = 1.0 - p[:, b]
    other = p.copy()
    other[:, b] = -1
    fam = other.argmax(axis=1)
    labels = [names[fam[i]] if pa[i] >= 0.5 else names[b] for i in range(len(X))]
    return labels, pa


def check_verdict(res, name, c_rows, labels, pa):
    bad = [i for i, r in enumerate(c_rows) if r[0] != labels[i] or abs(float(r[1]) - pa[i]) > TOL]
    res.check(name, not bad and len(c_rows) == len(labels),
              f"{len(labels)} verdicts" + (f", first mismatch row {bad[0]}: C {c_rows[bad[0]]}"
                                           f" vs {labels[bad[0]]},{pa[bad[0]]!r}" if bad else ""))


def make_kinds():
    return {
        "tree": lambda: DecisionTreeClassifier(max_depth=10, random_state=1),
        "forest": lambda: RandomForestClassifier(n_estimators=15, max_depth=9, random_state=2),
        "extra": lambda: ExtraTreesClassifier(n_estimators=15, max_depth=9, random_state=3),
        "gb-binary": lambda: GradientBoostingClassifier(n_estimators=25, max_depth=3,
                                                        random_state=4),
        "gb-binary-exp": lambda: GradientBoostingClassifier(n_estimators=25, max_depth=3,
                                                            loss="exponential", random_state=5),
        "gb-multi4": lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3,
                                                        learning_rate=0.2, random_state=6),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="path of the ddos-model binary")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--keep", help="write the model files here instead of a temporary dir")
    args = ap.parse_args()

    rng = np.random.default_rng(20240501)
    X_train, y_train = synth(3000, rng)
    y_names = np.array(CLASSES)[y_train]
    y_binary = np.where(y_train == 0, "benign", "attack")
    scalers = {"none": lambda: None, "standard": StandardScaler, "minmax": MinMaxScaler}
    res = Results()
    tmp = tempfile.TemporaryDirectory()
    out_dir = args.keep or tmp.name
    os.makedirs(out_dir, exist_ok=True)
    worst = {}

    for kind, make in make_kinds().items():
        for sname, make_scaler in scalers.items():
            name = f"{kind}/{sname}"
            scaler = make_scaler()
            Xs = X_train if scaler is None else scaler.fit_transform(X_train)
            est = make()
            binary = kind.startswith("gb-binary")
            le = None
            if binary:
                est.fit(Xs, y_binary)
            elif kind == "extra":  # integer targets + LabelEncoder, like the seed's pipeline
                le = LabelEncoder().fit(CLASSES)
                est.fit(Xs, le.transform(y_names))
            else:
                est.fit(Xs, y_names)
            path = os.path.join(out_dir, name.replace("/", "-") + ".msgpack")
            data = export_sklearn.export_single(est, features=FEATURES, scaler=scaler,
                                                label_encoder=le, nonfinite=NONFINITE,
                                                provenance={"created": "test", "seed": 7},
                                                out=path)
            X = eval_rows(args.rows, np.random.default_rng(zlib.crc32(name.encode())), scaler,
                          tree_splits(data))
            try:
                ref = sk_proba(est, scaler, X)
                w = compare(res, name, run_c(args.bin, path, X), ref)
                worst[kind] = max(worst.get(kind, 0.0), w)
                names = list(le.classes_) if le is not None else None
                labels, pa = single_verdict(est, scaler, X, names)
                check_verdict(res, name + " verdict", run_c(args.bin, path, X, "--verdict"),
                              labels, pa)
            except RuntimeError as e:
                res.check(name, False, str(e))

    # Two stages: RandomForest benign/attack, then GradientBoosting over the three families.
    scaler = StandardScaler().fit(X_train)
    Xs = scaler.transform(X_train)
    s1 = RandomForestClassifier(n_estimators=20, max_depth=10, random_state=8).fit(Xs, y_binary)
    mask = y_train > 0
    s2 = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=9).fit(
        Xs[mask], y_names[mask])
    all_classes = ["benign", "attack"] + CLASSES[1:]
    path = os.path.join(out_dir, "two-stage.msgpack")
    data = export_sklearn.export_two_stage(s1, s2, all_classes, FEATURES, scaler=scaler,
                                           nonfinite=NONFINITE, stage1_threshold=0.5,
                                           stage2_threshold=0.6, provenance={"seed": 8}, out=path)
    X = eval_rows(args.rows, np.random.default_rng(99), scaler, tree_splits(data))
    p1, p2 = sk_proba(s1, scaler, X), sk_proba(s2, scaler, X)
    worst["two-stage"] = max(
        compare(res, "two-stage/stage0 (forest)", run_c(args.bin, path, X, "--stage", "0"), p1),
        compare(res, "two-stage/stage1 (boosting)", run_c(args.bin, path, X, "--stage", "1"), p2))
    pos = list(s1.classes_).index("attack")
    pa = p1[:, pos]
    fam = p2.argmax(axis=1)
    labels = [("benign" if pa[i] < 0.5 else
               s2.classes_[fam[i]] if p2[i, fam[i]] >= 0.6 else "unknown") for i in range(len(X))]
    check_verdict(res, "two-stage verdict", run_c(args.bin, path, X, "--verdict"), labels, pa)

    # The same rows as a ddos-flows CSV: identifier columns, features in another order under
    # other spellings, an unused feature, Java-style Infinity/NaN, and a Label column.
    spell = {"Flow Duration": "flow_duration", "Total Fwd Packets": "Tot Fwd Pkts",
             "SYN Flag Count": " SYN Flag Count", "Flow Bytes/s": "Flow Byts/s"}
    cols = ["Flow ID", "Src IP", "Src Port", "Dst IP", "Dst Port", "Timestamp", "Idle Max"]
    order = list(rng.permutation(len(FEATURES)))
    header = cols + [spell.get(FEATURES[j], FEATURES[j]) for j in order] + ["Label"]

    def java(v):
        return "NaN" if np.isnan(v) else "Infinity" if v == np.inf else \
            "-Infinity" if v == -np.inf else repr(float(v))

    csv_path = os.path.join(out_dir, "flows.csv")
    with open(csv_path, "w") as f:
        f.write(",".join(header) + "\n")
        for i, row in enumerate(X):
            ids = [f"flow{i}", "192.0.2.1", "1234", "198.51.100.7", "80",
                   "2024-01-01 00:00:00.000000", "0"]
            f.write(",".join(ids + [java(row[j]) for j in order] + [f"truth{i % 3}"]) + "\n")
    p = subprocess.run([args.bin, "predict", path, "--features-csv", csv_path],
                       capture_output=True, text=True)
    lines = p.stdout.splitlines()
    ok = p.returncode == 0 and lines and lines[0] == "label,p_attack,truth"
    rows = [ln.split(",") for ln in lines[1:]]
    bad = [i for i, r in enumerate(rows)
           if r[0] != labels[i] or abs(float(r[1]) - pa[i]) > TOL or r[2] != f"truth{i % 3}"]
    res.check("two-stage --features-csv", bool(ok) and not bad and len(rows) == len(X),
              p.stderr.strip() or f"{len(rows)} flows" + (f", first mismatch {bad[0]}" if bad
                                                          else ""))

    print("max |C - sklearn| per kind: " +
          ", ".join(f"{k} {v:.3e}" for k, v in worst.items()))
    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
