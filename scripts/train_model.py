#!/usr/bin/python3
"""train_model.py - train ddosd's two-stage flow classifier on generated AND real traffic, and
calibrate it on real benign captures.

One command rebuilds the committed model (same seed, same inputs -> byte-identical file):
    cmake --build build -j2
    /usr/bin/python3 scripts/train_model.py            # ~/models, reads ../shared/data

Pipeline (every step deterministic for a given --seed):
  1. Generated captures (ddos-trafgen): ROUNDS rounds; each round has one capture per attack
     scenario the generator lists (`ddos-trafgen --list`: the nine of the vocabulary plus any
     newer ones, e.g. icmp_error_flood, fragment_flood, labelled with vocabulary names by the
     generator), mixed into benign background, sometimes one-way or with a second attack, plus
     BENIGN_PER_ROUND benign-only captures. Each capture has its own seed and parameter draw.
  2. Real captures from ../shared/data: manifest.json (attacks and benign, per-flow labels from
     the manifest) and real-benign.json (483 benign captures of real applications).
     --exclude-captures FILE removes captures from training and calibration entirely.
  3. Features: ddos-flows itself (fixed mode, --snapshots: flow ends and in-flow snapshots, what
     the daemon scores), labelled by each capture's manifest. At most ROWS_PER_LABEL rows per
     (capture, label) train (a flood of 1-packet flows would otherwise outweigh the rest).
  4. Splits, always BY CAPTURE (no capture has rows on two sides):
       generated: rounds 0..ROUNDS-3 train, the last two rounds are the generated test set;
       real: K grouped folds (--cv-real K, default 5; attack and benign captures dealt
       separately so that each fold has both). Fold k's model trains on every generated
       training round plus the real captures of the other folds and scores fold k: every real
       capture is scored by a model that never saw it (out-of-fold, "OOF").
  5. Weights: real rows are few (about 6,000 real benign flows against hundreds of thousands of
     generated rows), so each real benign row weighs REAL_WEIGHT x (generated benign weight) /
     (real benign rows) and likewise for real attack rows: real traffic counts for about
     REAL_WEIGHT times as much as the generated traffic of its class, however many rows it has.
  6. Stage 1 (attack vs benign) threshold: the lowest value (>= 0.5) whose OOF false-positive
     rate over real benign flow ends is <= --max-fpr (default 0.004, under the 0.5 % goal).
     Without real benign captures (--no-shared), the last generated training round is held out
     as validation and the threshold keeps its benign FPR <= --max-fpr.
  7. The final model trains on every generated training round and every real capture (minus
     the excluded ones) with that threshold. Reports: the real figures are the OOF ones (benign
     FPR, DDoS recall, per class, per capture); the generated figures are the final model on
     the generated test rounds. Flow ends only, as scripts/evaluate.py counts.
  8. Writes ddosd-model.msgpack, model-metrics.json (keys other tools added to an existing file
     are kept) and model-report.png in --out.

Caching (--work DIR): generated captures are cached under a name that includes a hash of their
generator arguments and of the generator's scenario list; extracted rows are cached under a
hash of the ddos-flows binary, so repeated runs (e.g. one per cross-validation fold of
scripts/evaluate.py) generate and extract nothing twice. --fast trains fewer, smaller trees
with 3 internal folds for such fold runs.

Identifier columns (Flow ID, addresses, ports, Timestamp) are never model inputs: the inputs are
the extractor's feature vector (features/feature_set.h), read from the CSV by name; ports enter
only through their class (Service Port Class / Side, docs/features.md).

usage: /usr/bin/python3 scripts/train_model.py [--bin DIR] [--work DIR] [--out DIR] [--seed N]
          [--quick] [--fast] [--no-shared] [--shared DIR] [--exclude-captures FILE]
          [--cv-real K] [--max-fpr F] [--real-weight W] [--jobs N]
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import ddtools  # noqa: E402
import export_sklearn  # noqa: E402
import modelkit  # noqa: E402

ATTACKS = ["syn_flood", "tcp_flood", "udp_flood", "icmp_flood", "udp_amplification",
           "tcp_reflection", "http_flood", "slow_http", "portscan"]
LABELS = ["benign"] + ATTACKS
NOT_DDOS = ddtools.NOT_DDOS
ROUNDS = 8
BENIGN_PER_ROUND = 3
ROWS_PER_LABEL = 2000
REAL_WEIGHT = 4.0
GENERATOR_META = {"benign", "mix", "all-attacks"}


def log(msg):
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def short_hash(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:10]


# ---- generated captures ---------------------------------------------------------------------

def generator_scenarios(trafgen):
    """(attack scenario names in plan order, the raw --list text). The vocabulary's nine first,
    then any other scenario the generator offers, sorted, so new scenarios join the plan by
    themselves."""
    out = subprocess.run([trafgen, "--list"], capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        m = re.match(r"^([a-z0-9_]+)\s", line)
        if m and m.group(1) not in GENERATOR_META:
            names.append(m.group(1))
    extra = sorted(n for n in names if n not in ATTACKS)
    return [a for a in ATTACKS if a in names] + extra, out


def capture_plan(seed, quick, scenarios):
    """(name, round, trafgen args) for every generated capture."""
    rng = np.random.default_rng(seed)
    plan = []
    for r in range(ROUNDS):
        for i, sc in enumerate(scenarios):
            s = int(rng.integers(1, 2**31))
            extra = []
            if rng.random() < 0.3:  # sometimes two attacks at once
                extra = [scenarios[int(rng.integers(len(scenarios)))]]
            scen = ",".join(dict.fromkeys([sc] + extra))
            one_way = (r + i) % 3 == 2
            args = ["--seed", str(s), "--scenario", scen,
                    "--duration", str(int(rng.integers(15, 40)) if not quick else 8),
                    "--benign-clients", str(int(rng.integers(40, 400)) if not quick else 40),
                    "--max-attack-packets", str(int(rng.integers(20000, 80000)) if not quick
                                                else 4000)]
            if one_way:
                args.append("--one-way")
            plan.append((f"r{r}-{sc}{'-1way' if one_way else ''}", r, args))
        for b in range(BENIGN_PER_ROUND):
            s = int(rng.integers(1, 2**31))
            args = ["--seed", str(s), "--scenario", "benign",
                    "--duration", str(int(rng.integers(20, 60)) if not quick else 8),
                    "--benign-clients", str(int(rng.integers(30, 800)) if not quick else 60)]
            if b == 1 and r % 2 == 1:
                args.append("--one-way")
            plan.append((f"r{r}-benign{b}", r, args))
    return plan


def extract(flows_bin, manifest, out_csv, unreadable_ok=False):
    """ddos-flows over the captures of a manifest (fixed mode, snapshots, labels). Exit status
    2 (a damaged capture: rows read before the damage are written) is accepted; with
    unreadable_ok, so is 1 (e.g. a link type the decoder does not know): returns False then."""
    cmd = [flows_bin, "--manifest", manifest, "--snapshots", "-o", out_csv + ".tmp",
           "--no-progress", "-q", "--max-flows", "262144"]
    p = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if p.returncode == 1 and unreadable_ok:
        log(f"skipped (ddos-flows cannot read it): {p.stderr.strip()}")
        return False
    if p.returncode not in (0, 2):
        raise RuntimeError(f"ddos-flows failed ({p.returncode}) on {manifest}: {p.stderr}")
    os.replace(out_csv + ".tmp", out_csv)
    return True


def keep_columns(df, features):
    cols = ["capture", "Label", "Emit"] + features
    missing = [c for c in cols if c not in df.columns]
    if missing:
        sys.exit(f"train_model: ddos-flows CSV lacks columns {missing}")
    return df[cols]


def load_generated(plan, trafgen, flows, work, fkey, list_text, features, seed, jobs):
    """Generates (cached) and extracts (cached) every planned capture; returns all rows (a
    capture's rows over the cap are sampled at training time) and the provenance list."""
    gen_dir = work

    def one(item):
        name, rnd, targs = item
        base = os.path.join(gen_dir, f"{name}-{short_hash(*targs, list_text)}")
        pcap, man = base + ".pcap", base + ".json"
        if not (os.path.exists(pcap) and os.path.exists(man)):
            subprocess.run([trafgen, "-o", pcap + ".tmp", "-m", man + ".tmp", "--snaplen", "128",
                            "-q"] + targs, check=True, stdout=subprocess.DEVNULL)
            m = json.load(open(man + ".tmp"))
            for c in m["captures"]:  # the manifest names the temporary file
                c["path"] = pcap
            with open(man + ".tmp", "w") as f:
                json.dump(m, f)
            os.replace(pcap + ".tmp", pcap)
            os.replace(man + ".tmp", man)
        pkl = f"{base}.{fkey}.{ROWS_PER_LABEL}.pkl"
        if not os.path.exists(pkl):
            csv = f"{base}.{fkey}.csv"
            extract(flows, man, csv)
            df = pd.read_csv(csv, usecols=["Label", "Emit"] + features, low_memory=False)
            os.remove(csv)
            df["capture"] = name
            n_ends = int((df["Emit"] == "end").sum())
            with open(base + ".ends.json", "w") as f:
                json.dump({"flow_ends": n_ends}, f)
            # Floods make millions of rows: keep ROWS_PER_LABEL per label (a fixed sample,
            # seeded by the capture's name, so the cache does not depend on --seed).
            df = keep_columns(df, features)
            idx = sample_index(df, int(short_hash(name), 16) % 2**31, ROWS_PER_LABEL)
            df = df.iloc[idx].reset_index(drop=True)
            df.to_pickle(pkl)
        df = pd.read_pickle(pkl)
        df["round"] = rnd
        src = {"path": os.path.basename(pcap), "generator_args": targs, "round": rnd,
               "sha256": ddtools.sha256_file(pcap),
               "flows": json.load(open(base + ".ends.json"))["flow_ends"]}
        return df, src

    frames, sources = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for i, (df, src) in enumerate(ex.map(one, plan)):
            frames.append(df)
            sources.append(src)
            if (i + 1) % 20 == 0 or i + 1 == len(plan):
                log(f"generated captures: {i + 1}/{len(plan)}")
    data = pd.concat(frames, ignore_index=True)
    data["source"] = "generated"
    return data, sources


# ---- real captures --------------------------------------------------------------------------

def real_capture_list(shared):
    """[(relative path, manifest entry)] of manifest.json and real-benign.json."""
    caps = []
    for mf in ("manifest.json", "real-benign.json"):
        p = os.path.join(shared, mf)
        if not os.path.exists(p):
            continue
        for c in json.load(open(p))["captures"]:
            caps.append((c["path"], c))
    return caps


def load_exclusions(path, shared):
    """Real paths (absolute) of a JSON list of capture paths, absolute or relative to shared."""
    if not path:
        return set()
    lst = json.load(open(path))
    if not isinstance(lst, list):
        sys.exit(f"train_model: {path}: expected a JSON list of capture paths")
    return {os.path.realpath(p if os.path.isabs(p) else os.path.join(shared, p)) for p in lst}


def load_real(caps, shared, flows, work, fkey, features, jobs):
    real_dir = os.path.join(work, "real")
    os.makedirs(real_dir, exist_ok=True)

    def one(item):
        rel, entry = item
        path = os.path.realpath(os.path.join(shared, rel))
        base = os.path.join(real_dir, rel.replace("/", "__"))
        pkl = f"{base}.{fkey}.pkl"
        if not os.path.exists(pkl):
            man = base + ".json"
            with open(man, "w") as f:
                json.dump({"captures": [dict(entry, path=path)]}, f)
            csv = f"{base}.{fkey}.csv"
            if extract(flows, man, csv, unreadable_ok=True):
                df = pd.read_csv(csv, usecols=["Label", "Emit"] + features, low_memory=False)
                os.remove(csv)
            else:
                df = pd.DataFrame({c: pd.Series(dtype="float64") for c in features})
                df["Label"] = pd.Series(dtype="object")
                df["Emit"] = pd.Series(dtype="object")
            df["capture"] = rel
            df = keep_columns(df, features)
            df.to_pickle(pkl)
        return pd.read_pickle(pkl)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        frames = list(ex.map(one, caps))
    data = pd.concat(frames, ignore_index=True)
    data["source"] = "real"
    data["round"] = -1
    return data


def real_folds(caps, k, seed):
    """capture -> fold. Attack and benign captures are shuffled separately and dealt round
    robin, so every fold holds real attacks and real benign traffic."""
    rng = np.random.default_rng(seed + 7)
    attack = sorted(rel for rel, e in caps if e.get("label", "benign") != "benign")
    benign = sorted(rel for rel, e in caps if e.get("label", "benign") == "benign")
    fold = {}
    start = 0
    for group in (attack, benign):
        order = [group[i] for i in rng.permutation(len(group))]
        for j, rel in enumerate(order):
            fold[rel] = (start + j) % k
        start = (start + len(order)) % k
    return fold


# ---- models ---------------------------------------------------------------------------------

def make_model(kind, stage, seed, n_trees):
    from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier,
                                  RandomForestClassifier)
    # Shallow enough that a flow visits ~n_trees x 16 nodes and the file stays a few MB, with
    # leaves of several rows so trees do not memorise individual generated flows. Stage 2 (the
    # family) needs finer leaves than the attack/benign decision.
    leaf, depth = (5, 16) if stage == "stage1" else (3, 18)
    if kind == "random_forest":
        return RandomForestClassifier(n_estimators=n_trees, max_depth=depth, min_samples_leaf=leaf,
                                      max_features="sqrt", class_weight="balanced_subsample",
                                      n_jobs=2, random_state=seed)
    if kind == "extra_trees":
        return ExtraTreesClassifier(n_estimators=n_trees, max_depth=depth, min_samples_leaf=leaf,
                                    class_weight="balanced", n_jobs=2, random_state=seed)
    if kind == "gradient_boosting":
        return GradientBoostingClassifier(n_estimators=n_trees, max_depth=4, learning_rate=0.2,
                                          subsample=0.8, random_state=seed)
    raise ValueError(kind)


def fit(est, X, y, w):
    est.fit(X, y, sample_weight=w)
    # Forests sum per-tree probabilities from several threads in whatever order they finish,
    # which changes the last bits of predict_proba from run to run (and so the stage-1
    # threshold): fit in parallel, predict in one thread, so the same seed gives the same model.
    if hasattr(est, "n_jobs"):
        est.n_jobs = 1
    return est


def row_weights(rows, real_weight):
    """Generated rows weigh 1. Real rows of each side (benign / attack) share REAL_WEIGHT times
    the total weight of the generated rows of that side."""
    w = np.ones(len(rows))
    real = (rows["source"] == "real").to_numpy()
    benign = (rows["Label"] == "benign").to_numpy()
    for side in (benign, ~benign):
        n_real = int((real & side).sum())
        n_gen = int((~real & side).sum())
        if n_real:
            w[real & side] = max(1.0, real_weight * n_gen / n_real)
    return w


class TwoStage:
    def __init__(self, s1, s2):
        self.s1, self.s2 = s1, s2
        self.pos = list(s1.classes_).index("attack")

    def p_attack(self, X):
        return self.s1.predict_proba(X)[:, self.pos]

    def family(self, X):
        return self.s2.predict(X)


def train_two_stage(rows, X, cfg, seed):
    """Stage 1 on every row, stage 2 on attack rows; sampled to the per-capture cap first."""
    idx = sample_index(rows, seed, cfg["rows_per_label"])
    sub = rows.iloc[idx]
    Xs = X[idx]
    y = sub["Label"].astype(str).to_numpy()
    w = row_weights(sub, cfg["real_weight"])
    y1 = np.where(y == "benign", "benign", "attack")
    s1 = fit(make_model(cfg["stage1"], "stage1", seed, cfg["trees"]), Xs, y1, w)
    att = y != "benign"
    s2 = fit(make_model(cfg["stage2"], "stage2", seed, cfg["trees"]), Xs[att], y[att], w[att])
    return TwoStage(s1, s2), int(len(idx))


def sample_index(rows, seed, cap):
    """Row positions kept under the cap of `cap` rows per (capture, label), deterministic."""
    keep = []
    codes = rows.groupby(["capture", "Label"], sort=True).ngroup().to_numpy()
    rng = np.random.default_rng(seed)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for grp in np.split(order, bounds):
        if len(grp) > cap:
            grp = np.sort(rng.choice(grp, cap, replace=False))
        keep.append(grp)
    return np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)


def pick_threshold(p_benign, max_fpr):
    """Lowest threshold (>= 0.5) whose false-positive rate over these benign scores is <=
    max_fpr: a flow is an attack when p >= threshold."""
    b = np.sort(np.asarray(p_benign))
    if len(b) == 0:
        return 0.5
    k = int(np.floor(max_fpr * len(b)))  # benign flows allowed at or above the threshold
    t = b[len(b) - 1 - k] + 1e-9 if k < len(b) else 0.0
    return float(min(max(0.5, t), 0.999))


def final_labels(p1, t1, fam_pred):
    return np.where(p1 >= t1, fam_pred, "benign")


# ---- reports --------------------------------------------------------------------------------

def report(y_true, y_pred, p_attack):
    """Per-class table, DDoS-vs-not and attack-vs-benign figures, confusion matrix."""
    from sklearn.metrics import (accuracy_score, confusion_matrix, precision_recall_fscore_support,
                                 roc_auc_score)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    present = [c for c in LABELS if c in set(y_true) | set(y_pred)]
    present += sorted((set(y_true) | set(y_pred)) - set(present))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)
    per_class = {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                     "f1": round(float(f[i]), 4), "support": int(s[i])}
                 for i, c in enumerate(present)}
    att_true = y_true != "benign"
    att_pred = y_pred != "benign"
    ddos_true = ~np.isin(y_true, list(NOT_DDOS))
    ddos_pred = ~np.isin(y_pred, list(NOT_DDOS))
    benign = y_true == "benign"
    fpr = float(np.mean(att_pred[benign])) if benign.any() else None
    att = ddtools.binary_scores(att_true, att_pred)
    ddos = ddtools.binary_scores(ddos_true, ddos_pred)
    try:
        auc = float(roc_auc_score(att_true, p_attack)) if len(set(att_true)) == 2 else None
    except ValueError:
        auc = None
    cm = confusion_matrix(y_true, y_pred, labels=present)
    return {
        "flows": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "precision": att["precision"], "recall": att["recall"], "f1_score": att["f1"],
        "roc_auc": None if auc is None else round(auc, 4),
        "benign_fpr": None if fpr is None else round(fpr, 5),
        "benign_flows": int(benign.sum()),
        "ddos": {k: ddos[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")},
        "per_class": per_class,
        "confusion_matrix": {"labels": present, "matrix": cm.tolist()},
    }


def per_capture(caps, y_true, y_pred):
    """One line per real capture: flows, benign flows called attacks, DDoS flows missed."""
    out = {}
    df = pd.DataFrame({"c": caps, "t": y_true, "p": y_pred})
    for c, g in df.groupby("c", sort=True):
        benign = g["t"] == "benign"
        ddos = ~g["t"].isin(list(NOT_DDOS))
        out[c] = {"flows": int(len(g)),
                  "benign_fp": int((benign & (g["p"] != "benign")).sum()),
                  "ddos": int(ddos.sum()),
                  "ddos_detected": int((ddos & ~g["p"].isin(list(NOT_DDOS))).sum()),
                  "predicted": {k: int(v) for k, v in g["p"].value_counts().items()}}
    return out


def plot_report(path, gen, real, thr, oof):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("generated test captures (final model)", gen)]
    if real is not None:
        panels.append(("real captures, out-of-fold (grouped by capture)", real))
    fig, axes = plt.subplots(1, len(panels) + (1 if oof is not None else 0),
                             figsize=(7.5 * (len(panels) + (1 if oof is not None else 0)), 7))
    axes = np.atleast_1d(axes)
    for ax, (title, rep) in zip(axes, panels):
        cm = np.array(rep["confusion_matrix"]["matrix"], dtype=float)
        labels = rep["confusion_matrix"]["labels"]
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels)
        for i in range(len(labels)):
            for j in range(len(labels)):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        fpr = rep["benign_fpr"]
        ax.set_title(f"{title}\nbenign FPR {fpr if fpr is not None else '-'}, "
                     f"DDoS recall {rep['ddos']['recall']}, DDoS precision "
                     f"{rep['ddos']['precision']}", fontsize=10)
    if oof is not None:
        ax = axes[-1]
        p, y = oof
        bins = np.linspace(0, 1, 41)
        benign = y == "benign"
        ddos = ~np.isin(y, list(NOT_DDOS))
        ax.hist(p[benign], bins=bins, alpha=0.6, label=f"real benign flows ({benign.sum()})",
                color="tab:green", log=True)
        ax.hist(p[ddos], bins=bins, alpha=0.6, label=f"real DDoS flows ({ddos.sum()})",
                color="tab:red", log=True)
        ax.axvline(thr, color="black", linestyle="--", label=f"stage-1 threshold {thr:.3f}")
        ax.set_xlabel("P(attack), out-of-fold")
        ax.set_ylabel("flows (log)")
        ax.legend(loc="upper center")
        ax.set_title("stage 1 on real captures, each scored by a model that never saw it",
                     fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- main -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="directory with ddos-trafgen and ddos-flows (default: build/)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "train"),
                    help="scratch directory for captures and extracted rows (default build/train)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models"), help="output directory")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--max-fpr", type=float, default=0.004,
                    help="stage 1 threshold: highest benign false-positive rate on held-out "
                         "real benign flows (default 0.004)")
    ap.add_argument("--cv-real", type=int, default=None, metavar="K",
                    help="grouped folds over the real captures (default 5, --fast 3)")
    ap.add_argument("--real-weight", type=float, default=REAL_WEIGHT,
                    help="real rows of a side weigh this times the generated rows of that side")
    ap.add_argument("--exclude-captures", metavar="FILE",
                    help="JSON list of real capture paths (absolute or relative to --shared) "
                         "never used for training or calibration")
    ap.add_argument("--stage1", default="random_forest",
                    choices=["random_forest", "extra_trees", "gradient_boosting"])
    ap.add_argument("--stage2", default="extra_trees",
                    choices=["random_forest", "extra_trees", "gradient_boosting"])
    ap.add_argument("--trees", type=int, help="trees per stage (default 40, --fast 20)")
    ap.add_argument("--quick", action="store_true", help="small captures and models (tests)")
    ap.add_argument("--fast", action="store_true",
                    help="fewer, smaller trees and 3 internal folds (cross-validation runs)")
    ap.add_argument("--no-shared", action="store_true", help="ignore ../shared/data")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--jobs", type=int, default=2, help="parallel generator/extractor runs")
    args = ap.parse_args()

    trafgen = ddtools.find_bin("ddos-trafgen", args.bin, "train_model")
    flows = ddtools.find_bin("ddos-flows", args.bin, "train_model")
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    features = modelkit.feature_names()
    fkey = short_hash(ddtools.sha256_file(flows), *features)
    small = args.quick or args.fast
    cfg = {"stage1": args.stage1, "stage2": args.stage2,
           "trees": args.trees or (20 if small else 40),
           "rows_per_label": 1000 if small else ROWS_PER_LABEL,
           "real_weight": args.real_weight}
    k_folds = args.cv_real or (3 if small else 5)

    # 1. Generated captures.
    scenarios, list_text = generator_scenarios(trafgen)
    plan = capture_plan(args.seed, args.quick, scenarios)
    log(f"{len(plan)} generated captures ({len(scenarios)} attack scenarios: "
        f"{', '.join(scenarios)})")
    gen, gen_sources = load_generated(plan, trafgen, flows, args.work, fkey, list_text, features,
                                      args.seed, args.jobs)

    # 2. Real captures.
    shared = os.path.abspath(args.shared)
    caps = [] if args.no_shared else real_capture_list(shared)
    excluded = load_exclusions(args.exclude_captures, shared)
    if excluded:
        before = len(caps)
        caps = [(rel, e) for rel, e in caps
                if os.path.realpath(os.path.join(shared, rel)) not in excluded]
        log(f"--exclude-captures: {before - len(caps)} of {before} real captures left out")
    real = load_real(caps, shared, flows, args.work, fkey, features, args.jobs) if caps else None
    if caps:
        log(f"real captures: {len(caps)} ({real['capture'].nunique()} with flows), "
            f"{int((real['Emit'] == 'end').sum())} flow ends")
    else:
        log("no real captures (--no-shared or ../shared/data absent): generated traffic only")

    rows = pd.concat([gen] + ([real] if real is not None else []), ignore_index=True)
    X = rows[features].to_numpy(dtype=np.float64)
    X[~np.isfinite(X)] = 0.0
    y = rows["Label"].astype(str).to_numpy()
    is_end = (rows["Emit"] == "end").to_numpy()
    is_real = (rows["source"] == "real").to_numpy()
    rnd = rows["round"].to_numpy()
    gen_train = ~is_real & (rnd < ROUNDS - 2)
    gen_test = ~is_real & (rnd >= ROUNDS - 2)

    # 3. Threshold: out-of-fold on real benign captures, or a generated validation round.
    real_benign_caps = {rel for rel, e in caps if e.get("label", "benign") == "benign"}
    has_real_benign = real is not None and bool(real_benign_caps)
    oof_p = oof_fam = None
    fold_of = {}
    if has_real_benign:
        k_folds = max(2, min(k_folds, len(caps)))
        fold_of = real_folds(caps, k_folds, args.seed)
        fold = np.array([fold_of.get(c, -1) if r else -1
                         for c, r in zip(rows["capture"].to_numpy(), is_real)])
        oof_p = np.full(len(rows), np.nan)
        oof_fam = np.full(len(rows), "", dtype=object)
        for k in range(k_folds):
            t0 = time.time()
            tr = gen_train | (is_real & (fold != k))
            te = is_real & (fold == k)
            idx_tr = np.flatnonzero(tr)
            m, n_fit = train_two_stage(rows.iloc[idx_tr], X[idx_tr], cfg, args.seed + k)
            oof_p[te] = m.p_attack(X[te])
            oof_fam[te] = m.family(X[te])
            log(f"fold {k + 1}/{k_folds}: trained on {n_fit} rows, scored "
                f"{int(te.sum())} real rows ({time.time() - t0:.0f} s)")
        rb_end = is_real & is_end & (y == "benign")
        threshold = pick_threshold(oof_p[rb_end], args.max_fpr)
        how = (f"lowest value >= 0.5 whose out-of-fold FPR over {int(rb_end.sum())} real "
               f"benign flow ends ({len(real_benign_caps)} captures, {k_folds} folds grouped by "
               f"capture) is <= {args.max_fpr}")
    else:
        val = ~is_real & (rnd == ROUNDS - 3)
        tr = ~is_real & (rnd < ROUNDS - 3)
        idx_tr = np.flatnonzero(tr)
        m, _ = train_two_stage(rows.iloc[idx_tr], X[idx_tr], cfg, args.seed)
        threshold = pick_threshold(m.p_attack(X[val & (y == "benign")]), args.max_fpr)
        how = (f"lowest value >= 0.5 whose benign FPR on generated round {ROUNDS - 3} "
               f"(held out) is <= {args.max_fpr}")
    log(f"stage 1 threshold {threshold:.4f}: {how}")

    # 4. Final model: every generated training round and every (non-excluded) real capture.
    t0 = time.time()
    fit_mask = gen_train | is_real
    idx_fit = np.flatnonzero(fit_mask)
    final, n_fit = train_two_stage(rows.iloc[idx_fit], X[idx_fit], cfg, args.seed)
    log(f"final model: {n_fit} training rows ({time.time() - t0:.0f} s)")

    # 5. Reports (flow ends only).
    te = gen_test & is_end
    p_gen = final.p_attack(X[te])
    gen_report = report(y[te], final_labels(p_gen, threshold, final.family(X[te])), p_gen)
    log(f"generated test: benign FPR {gen_report['benign_fpr']}, DDoS recall "
        f"{gen_report['ddos']['recall']}, attack F1 {gen_report['f1_score']}")
    real_report = real_caps_report = None
    oof_plot = None
    if has_real_benign:
        re_ = is_real & is_end
        pred = final_labels(oof_p[re_], threshold, oof_fam[re_].astype(str))
        real_report = report(y[re_], pred, oof_p[re_])
        real_caps_report = per_capture(rows["capture"].to_numpy()[re_], y[re_], pred)
        rb = y[re_] == "benign"
        rb_caps = [c for c, v in real_caps_report.items() if c in real_benign_caps]
        real_report["benign_captures"] = len(rb_caps)
        real_report["benign_captures_with_fp"] = sum(
            1 for c in rb_caps if real_caps_report[c]["benign_fp"])
        snap = is_real & ~is_end & (y == "benign")
        real_report["benign_fpr_snapshots"] = round(float(np.mean(
            oof_p[snap] >= threshold)), 5) if snap.any() else None
        real_report["benign_fpr_at_0.5"] = round(float(np.mean(oof_p[re_][rb] >= 0.5)), 5)
        oof_plot = (oof_p[re_], y[re_])
        log(f"real, out-of-fold: benign FPR {real_report['benign_fpr']} "
            f"({real_report['benign_flows']} flows, {real_report['benign_captures_with_fp']} "
            f"of {len(rb_caps)} benign captures with a false positive), DDoS recall "
            f"{real_report['ddos']['recall']} ({real_report['ddos']['tp']} of "
            f"{real_report['ddos']['tp'] + real_report['ddos']['fn']} flows)")
        for c, v in real_caps_report.items():
            if c not in real_benign_caps:
                log(f"  {c}: {v['ddos_detected']}/{v['ddos']} DDoS flows detected, "
                    f"predicted {v['predicted']}")

    # 6. Files.
    real_sources = []
    for rel, e in caps:
        real_sources.append({"path": "../shared/data/" + rel, "label": e.get("label", "benign"),
                             "sha256": ddtools.sha256_file(os.path.join(shared, rel)),
                             "fold": fold_of.get(rel)})
    model_path = os.path.join(args.out, "ddosd-model.msgpack")
    classes = ["benign", "attack"] + ATTACKS
    summary = {"generated_test_benign_fpr": gen_report["benign_fpr"],
               "generated_test_f1": gen_report["f1_score"]}
    if real_report:
        summary.update({"real_cv_benign_fpr": real_report["benign_fpr"],
                        "real_cv_ddos_recall": real_report["ddos"]["recall"]})
    provenance = {
        "created": os.environ.get("DDOSD_MODEL_CREATED",
                                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        "seed": args.seed,
        "trainer": "scripts/train_model.py",
        "stage1": cfg["stage1"], "stage2": cfg["stage2"],
        "sources": [{"path": s["path"], "sha256": s["sha256"]} for s in gen_sources]
        + [{"path": s["path"], "sha256": s["sha256"], "label": s["label"]}
           for s in real_sources],
        "metrics": summary,
    }
    export_sklearn.export_two_stage(final.s1, final.s2, classes, features, feature_mode="fixed",
                                    stage1_threshold=threshold, stage2_threshold=0.0,
                                    positive="attack", provenance=provenance, out=model_path)
    metrics_path = os.path.join(args.out, "model-metrics.json")
    metrics = {}
    if os.path.exists(metrics_path):  # keep what other tools (evaluate.py) added
        try:
            metrics = json.load(open(metrics_path))
        except (OSError, ValueError):
            metrics = {}
    for k in ("real_held_out", "split", "stage1", "stage2"):
        metrics.pop(k, None)
    metrics.update({
        "model": "models/ddosd-model.msgpack",
        "model_sha256": ddtools.sha256_file(model_path),
        # Generated test captures (final model, flow ends): the seed backend's fields.
        "accuracy": gen_report["accuracy"],
        "precision": gen_report["precision"],
        "recall": gen_report["recall"],
        "f1_score": gen_report["f1_score"],
        "roc_auc": gen_report["roc_auc"],
        "training_samples": int(n_fit),
        "testing_samples": int(gen_report["flows"]),
        "benign_fpr": gen_report["benign_fpr"],
        "ddos": gen_report["ddos"],
        "per_class": gen_report["per_class"],
        "confusion_matrix": gen_report["confusion_matrix"],
        "generated_test": gen_report,
        "real_cv": None if real_report is None else dict(
            real_report, folds=k_folds, per_capture=real_caps_report,
            excluded_captures=len(excluded)),
        "stage1": {"model": cfg["stage1"], "threshold": threshold, "threshold_rule": how,
                   "max_fpr": args.max_fpr, "trees": cfg["trees"]},
        "stage2": {"model": cfg["stage2"], "trees": cfg["trees"]},
        "real_weight": cfg["real_weight"],
        "rows_per_label_per_capture": cfg["rows_per_label"],
        "features": features,
        "feature_mode": "fixed",
        "split": (f"by capture: generated rounds 0-{ROUNDS - 3} train, rounds {ROUNDS - 2}-"
                  f"{ROUNDS - 1} test; real captures in {k_folds} grouped folds (out-of-fold "
                  "figures), then all of them train the final model"
                  if has_real_benign else
                  f"by capture: generated rounds 0-{ROUNDS - 4} train, {ROUNDS - 3} validation "
                  f"(threshold), {ROUNDS - 2}-{ROUNDS - 1} test"),
        "data_sources": gen_sources + real_sources,
        "seed": args.seed,
        "fast": bool(args.fast), "quick": bool(args.quick),
        "elapsed_s": round(time.time() - t_start, 1),
        "notes": "flow-level figures over flow ends (snapshots are training rows only); "
                 "precision/recall/f1_score/roc_auc/benign_fpr at top level: generated test "
                 "captures, attack (any non-benign label) vs benign; real_cv: every real "
                 "capture scored by a fold model that never saw it, at the final threshold; "
                 "ddos: portscan and benign count as not DDoS",
    })
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=2)
    plot_report(os.path.join(args.out, "model-report.png"), gen_report, real_report, threshold,
                oof_plot)
    log(f"wrote {model_path} ({os.path.getsize(model_path)} bytes), model-metrics.json, "
        f"model-report.png in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
