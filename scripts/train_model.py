#!/usr/bin/python3
"""train_model.py - train ddosd's two-stage flow classifier and write the model file.

Pipeline (every step deterministic for a given --seed):
  1. Generate labelled captures with ddos-trafgen: for each round, one capture per attack
     scenario (mixed into benign background, sometimes one-way) plus benign-only captures, each
     with its own seed, so rates, sizes, counts and timing vary from capture to capture.
  2. Extract features with ddos-flows itself (fixed mode, --snapshots: flow ends and in-flow
     snapshots, the emission policy the daemon scores), labelled by each capture's manifest.
     Real captures from ../shared/data are added when present: a fixed subset is used for
     training and the rest is held out whole for testing.
  3. Split BY CAPTURE: rounds 0-4 train, round 5 validation, rounds 6-7 test (each round has
     one capture per attack scenario, each with its own parameter draw). No capture, hence no
     attack burst, has flows on two sides of a split.
  4. Stage 1 (attack vs benign) and stage 2 (attack family): candidate ensembles (random forest,
     extra trees, gradient boosting) are compared on validation; the winners are refitted on
     train + validation. Stage 1's threshold keeps the validation benign false-positive rate
     under --max-fpr.
  5. Report on the test captures (flow ends only, as evaluate.py does) and on the held-out real
     captures: per-class precision/recall/F1, benign FPR, confusion matrix, ROC AUC.
  6. Write models/ddosd-model.msgpack, models/model-metrics.json, models/model-report.png.

Identifier columns (Flow ID, addresses, ports, Timestamp) are never model inputs: the inputs are
the extractor's feature vector (features/feature_set.h), read from the CSV by name.

usage: /usr/bin/python3 scripts/train_model.py [--bin DIR] [--work DIR] [--out DIR] [--seed N]
                                              [--quick] [--no-shared]
"""
import argparse
import json
import os
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
NOT_DDOS = ddtools.NOT_DDOS
# Real captures used for training; every other capture of ../shared/data is held out whole.
# Chosen so that each kind of real traffic we have (streaming, calls, QUIC, IPv6 browsing, a
# SYN flood, a reflection flood) is seen once, and the held-out set still covers each kind.
SHARED_TRAIN = {"benign-netflix.pcap", "benign-teams.pcap", "benign-quic.pcap",
                "benign-reddit.pcap", "syn2020-chunk.pcap", "isakmp-amplification.pcap"}
ROWS_PER_LABEL_PER_CAPTURE = 2000


def log(msg):
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def capture_plan(seed, quick):
    """(name, round, trafgen args) for every generated capture."""
    rng = np.random.default_rng(seed)
    rounds = 8
    plan = []
    for r in range(rounds):
        for i, sc in enumerate(ATTACKS):
            s = int(rng.integers(1, 2**31))
            extra = []
            if rng.random() < 0.3:  # sometimes two attacks at once
                extra = [ATTACKS[int(rng.integers(len(ATTACKS)))]]
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
        for b in range(2):
            s = int(rng.integers(1, 2**31))
            args = ["--seed", str(s), "--scenario", "benign",
                    "--duration", str(int(rng.integers(20, 60)) if not quick else 8),
                    "--benign-clients", str(int(rng.integers(100, 800)) if not quick else 60)]
            if b == 1 and r % 2 == 1:
                args.append("--one-way")
            plan.append((f"r{r}-benign{b}", r, args))
    return plan


def extract(flows_bin, manifest, out_csv):
    """Runs ddos-flows on every capture of a manifest (fixed mode, snapshots, labels)."""
    cmd = [flows_bin, "--manifest", manifest, "--snapshots", "-o", out_csv, "--no-progress",
           "-q"]
    subprocess.run(cmd, check=True)
    return pd.read_csv(out_csv, low_memory=False)


def sample_rows(df, seed):
    """At most ROWS_PER_LABEL_PER_CAPTURE rows per (capture, label): a flood of 1-packet flows
    would otherwise outweigh everything else."""
    parts = []
    for (_, _), g in df.groupby(["capture", "Label"], sort=True):
        if len(g) > ROWS_PER_LABEL_PER_CAPTURE:
            g = g.sample(ROWS_PER_LABEL_PER_CAPTURE, random_state=seed)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def make_candidates(kind, seed, quick):
    from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier,
                                  RandomForestClassifier)
    # Sized to score fast and keep the committed file small (a few MB): shallow enough that a
    # flow visits ~40 x 14 nodes, with leaves of at least 5 rows so trees do not memorise
    # individual generated flows.
    # Stage 2 (the family) needs finer leaves than the attack/benign decision: measured, leaves of
    # 5 rows cost it 10 points of accuracy on the test captures, while stage 1 lost nothing.
    n = 20 if quick else 40
    leaf, depth = (5, 14) if kind == "stage1" else (3, 16)
    c = {
        "random_forest": RandomForestClassifier(n_estimators=n, max_depth=depth,
                                                min_samples_leaf=leaf,
                                                class_weight="balanced_subsample", n_jobs=2,
                                                random_state=seed),
        "extra_trees": ExtraTreesClassifier(n_estimators=n, max_depth=depth, min_samples_leaf=leaf,
                                            class_weight="balanced", n_jobs=2,
                                            random_state=seed),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=30 if quick else 60,
                                                        max_depth=3, learning_rate=0.2,
                                                        subsample=0.8, random_state=seed),
    }
    return c


def fit_capped(est, X, y, seed, cap):
    """Gradient boosting is sequential and slow on two cores: train it on a stratified
    subsample of at most `cap` rows. Forests use every row."""
    y = np.asarray(y)
    if len(X) > cap and type(est).__name__.startswith("Gradient"):
        rng = np.random.default_rng(seed)
        keep = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            k = max(1, int(round(cap * len(idx) / len(y))))
            keep.append(rng.choice(idx, min(k, len(idx)), replace=False))
        idx = np.sort(np.concatenate(keep))
        est.fit(X[idx], y[idx])
    else:
        est.fit(X, y)
    # Forests sum per-tree probabilities from several threads in whatever order they finish,
    # which changes the last bits of predict_proba from run to run (and so the stage-1
    # threshold): fit in parallel, predict in one thread, so the same seed gives the same model.
    if hasattr(est, "n_jobs"):
        est.n_jobs = 1
    return est


def choose(stage, cands, Xtr, ytr, Xva, yva, seed, quick):
    from sklearn.metrics import f1_score
    best, best_score, scores = None, -1.0, {}
    for name, est in cands.items():
        t0 = time.time()
        fit_capped(est, Xtr, ytr, seed, 30000 if not quick else 8000)
        pred = est.predict(Xva)
        score = f1_score(yva, pred, average="macro")
        scores[name] = {"val_macro_f1": round(float(score), 4),
                        "fit_s": round(time.time() - t0, 1)}
        log(f"{stage}: {name} validation macro-F1 {score:.4f} ({time.time() - t0:.1f} s)")
        if score > best_score + 1e-9:
            best, best_score = name, score
    return best, scores


def pick_threshold(p_attack, is_attack, max_fpr):
    """Lowest threshold whose benign false-positive rate is <= max_fpr (at least 0.5)."""
    benign = np.sort(p_attack[~is_attack])
    if len(benign) == 0:
        return 0.5
    k = int(np.floor(max_fpr * len(benign)))
    t = benign[len(benign) - 1 - k] + 1e-9 if k < len(benign) else 0.0
    return float(min(max(0.5, t), 0.99))


def final_labels(p1, t1, fam_pred):
    return np.where(p1 >= t1, fam_pred, "benign")


def report(y_true, y_pred, p_attack, labels):
    """Per-class table, DDoS-vs-not and attack-vs-benign figures, confusion matrix."""
    from sklearn.metrics import (accuracy_score, confusion_matrix, precision_recall_fscore_support,
                                 roc_auc_score)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    present = [c for c in labels if c in set(y_true) | set(y_pred)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)
    per_class = {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                     "f1": round(float(f[i]), 4), "support": int(s[i])}
                 for i, c in enumerate(present)}
    att_true = y_true != "benign"
    att_pred = y_pred != "benign"
    ddos_true = ~np.isin(y_true, list(NOT_DDOS))
    ddos_pred = ~np.isin(y_pred, list(NOT_DDOS))

    benign = y_true == "benign"
    fpr = float(np.mean(att_pred[benign])) if benign.any() else 0.0
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
        "benign_fpr": round(fpr, 5),
        "ddos": {k: ddos[k] for k in ("precision", "recall", "f1")},
        "per_class": per_class,
        "confusion_matrix": {"labels": present, "matrix": cm.tolist()},
    }


def plot_report(path, test, y_true, p_attack, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
    cm = np.array(test["confusion_matrix"]["matrix"], dtype=float)
    labels = test["confusion_matrix"]["labels"]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax = axes[0]
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
    ax.set_title(f"confusion matrix ({title}, rows normalised)")
    ax = axes[1]
    att = np.asarray(y_true) != "benign"
    if att.any() and (~att).any():
        pr, rc, _ = precision_recall_curve(att, p_attack)
        ax.plot(rc, pr, label="attack vs benign")
    ddos = ~np.isin(np.asarray(y_true), list(NOT_DDOS))
    if ddos.any() and (~ddos).any():
        pr, rc, _ = precision_recall_curve(ddos, p_attack)
        ax.plot(rc, pr, label="DDoS vs not (score = P(attack))")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title("precision-recall, stage 1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="directory with ddos-trafgen and ddos-flows (default: build/)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "train"),
                    help="scratch directory for captures and CSVs (default build/train)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models"), help="output directory")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--max-fpr", type=float, default=0.01,
                    help="stage 1 threshold: highest benign false-positive rate on validation")
    ap.add_argument("--quick", action="store_true", help="small captures and models (tests)")
    ap.add_argument("--no-shared", action="store_true", help="ignore ../shared/data")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    args = ap.parse_args()

    trafgen = ddtools.find_bin("ddos-trafgen", args.bin, "train_model")
    flows = ddtools.find_bin("ddos-flows", args.bin, "train_model")
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    # 1-2. Captures and flows.
    frames, sources = [], []
    plan = capture_plan(args.seed, args.quick)
    for i, (name, rnd, targs) in enumerate(plan):
        pcap = os.path.join(args.work, name + ".pcap")
        man = os.path.join(args.work, name + ".json")
        csv_path = os.path.join(args.work, name + ".csv")
        if not (os.path.exists(pcap) and os.path.exists(man)):
            subprocess.run([trafgen, "-o", pcap, "-m", man] + targs, check=True,
                           stdout=subprocess.DEVNULL)
        df = extract(flows, man, csv_path)
        df["capture"] = name
        df["round"] = rnd
        df["source"] = "generated"
        frames.append(sample_rows(df, args.seed))
        sources.append({"path": name + ".pcap", "generator_args": targs, "round": rnd,
                        "sha256": ddtools.sha256_file(pcap),
                        "flows": int((df["Emit"] == "end").sum())})
        log(f"[{i + 1}/{len(plan)}] {name}: {len(df)} rows "
            f"({', '.join(f'{k} {v}' for k, v in df['Label'].value_counts().items())})")

    shared_manifest = os.path.join(args.shared, "manifest.json")
    use_shared = not args.no_shared and os.path.exists(shared_manifest)
    if use_shared:
        sm = json.load(open(shared_manifest))
        for cap in sm["captures"]:
            base = os.path.basename(cap["path"])
            one = {"captures": [dict(cap, path=os.path.abspath(
                os.path.join(args.shared, cap["path"])))]}
            man = os.path.join(args.work, "shared-" + base + ".json")
            with open(man, "w") as f:
                json.dump(one, f)
            df = extract(flows, man, os.path.join(args.work, "shared-" + base + ".csv"))
            df["capture"] = "shared/" + base
            df["round"] = 0 if base in SHARED_TRAIN else 9
            df["source"] = "shared"
            frames.append(sample_rows(df, args.seed))
            sources.append({"path": "../shared/data/" + cap["path"], "label": cap["label"],
                            "sha256": ddtools.sha256_file(os.path.join(args.shared,
                                                                       cap["path"])),
                            "used_for": "train" if base in SHARED_TRAIN else "held-out test"})
        log(f"../shared/data: {len(sm['captures'])} real captures "
            f"({len(SHARED_TRAIN)} used for training, the rest held out)")
    else:
        log("../shared/data not present (or --no-shared): training on generated traffic only")

    data = pd.concat(frames, ignore_index=True)
    features = modelkit.feature_names()
    missing = [f for f in features if f not in data.columns]
    if missing:
        sys.exit(f"train_model: ddos-flows CSV lacks features {missing}")
    X_all = data[features].to_numpy(dtype=np.float64)
    X_all[~np.isfinite(X_all)] = 0.0
    y_all = data["Label"].astype(str).to_numpy()
    rnd = data["round"].to_numpy()
    is_end = (data["Emit"] == "end").to_numpy()

    train, val, test, real_test = rnd <= 4, rnd == 5, (rnd == 6) | (rnd == 7), rnd == 9
    log(f"rows: train {train.sum()}, validation {val.sum()}, test {test.sum()}, "
        f"real held-out {real_test.sum()}")

    # 4. Stage 1: attack vs benign; stage 2: family, on attack rows.
    y1 = np.where(y_all == "benign", "benign", "attack")
    c1 = make_candidates("stage1", args.seed, args.quick)
    best1, scores1 = choose("stage 1", c1, X_all[train], y1[train], X_all[val], y1[val],
                            args.seed, args.quick)
    att = y_all != "benign"
    c2 = make_candidates("stage2", args.seed, args.quick)
    best2, scores2 = choose("stage 2", c2, X_all[train & att], y_all[train & att],
                            X_all[val & att], y_all[val & att], args.seed, args.quick)

    s1 = c1[best1]
    p_val = s1.predict_proba(X_all[val])[:, list(s1.classes_).index("attack")]
    threshold = pick_threshold(p_val, y1[val] == "attack", args.max_fpr)
    log(f"stage 1 threshold {threshold:.4f} (validation benign FPR <= {args.max_fpr})")

    # Refit the winners on train + validation.
    fit = train | val
    s1 = make_candidates("stage1", args.seed, args.quick)[best1]
    fit_capped(s1, X_all[fit], y1[fit], args.seed, 40000 if not args.quick else 8000)
    s2 = make_candidates("stage2", args.seed, args.quick)[best2]
    fit_capped(s2, X_all[fit & att], y_all[fit & att], args.seed,
               40000 if not args.quick else 8000)

    # 5. Reports (flow ends only).
    labels = ["benign"] + ATTACKS

    def evaluate(mask):
        Xm = X_all[mask & is_end]
        p1 = s1.predict_proba(Xm)[:, list(s1.classes_).index("attack")]
        fam = s2.predict(Xm)
        return report(y_all[mask & is_end], final_labels(p1, threshold, fam), p1, labels), p1

    test_report, p_test = evaluate(test)
    log(f"test: attack F1 {test_report['f1_score']}, DDoS F1 {test_report['ddos']['f1']}, "
        f"benign FPR {test_report['benign_fpr']}")
    real_report = None
    if real_test.any():
        real_report, _ = evaluate(real_test)
        log(f"real held-out: attack F1 {real_report['f1_score']}, "
            f"benign FPR {real_report['benign_fpr']}")

    # 6. Files.
    model_path = os.path.join(args.out, "ddosd-model.msgpack")
    classes = ["benign", "attack"] + ATTACKS
    provenance = {
        "created": os.environ.get("DDOSD_MODEL_CREATED",
                                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        "seed": args.seed,
        "trainer": "scripts/train_model.py",
        "stage1": best1, "stage2": best2,
        "sources": [{"path": s["path"], "sha256": s["sha256"]} for s in sources],
        "metrics": {"test_f1": test_report["f1_score"],
                    "test_benign_fpr": test_report["benign_fpr"]},
    }
    export_sklearn.export_two_stage(s1, s2, classes, features, feature_mode="fixed",
                                    stage1_threshold=threshold, stage2_threshold=0.0,
                                    positive="attack", provenance=provenance, out=model_path)
    n_train = int((fit & is_end).sum())
    metrics = {
        "model": "models/ddosd-model.msgpack",
        "model_sha256": ddtools.sha256_file(model_path),
        "accuracy": test_report["accuracy"],
        "precision": test_report["precision"],
        "recall": test_report["recall"],
        "f1_score": test_report["f1_score"],
        "roc_auc": test_report["roc_auc"],
        "training_samples": int(fit.sum()),
        "training_flow_ends": n_train,
        "testing_samples": int(test_report["flows"]),
        "benign_fpr": test_report["benign_fpr"],
        "ddos": test_report["ddos"],
        "per_class": test_report["per_class"],
        "confusion_matrix": test_report["confusion_matrix"],
        "real_held_out": real_report,
        "stage1": {"model": best1, "threshold": threshold, "candidates": scores1},
        "stage2": {"model": best2, "candidates": scores2},
        "features": features,
        "feature_mode": "fixed",
        "split": "by capture: rounds 0-4 train, 5 validation, 6-7 test; real captures in "
                 "SHARED_TRAIN train, the others held out",
        "data_sources": sources,
        "seed": args.seed,
        "elapsed_s": round(time.time() - t_start, 1),
        "notes": "metrics are flow-level over flow ends (snapshots are training rows only); "
                 "precision/recall/f1_score/roc_auc: attack (any non-benign label) vs benign; "
                 "ddos: portscan and benign count as not DDoS",
    }
    with open(os.path.join(args.out, "model-metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    plot_report(os.path.join(args.out, "model-report.png"), test_report,
                y_all[test & is_end], p_test, "generated test captures")
    log(f"wrote {model_path} ({os.path.getsize(model_path)} bytes), model-metrics.json, "
        f"model-report.png in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
