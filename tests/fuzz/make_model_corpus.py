#!/usr/bin/python3
"""make_model_corpus.py - writes the seed corpus for tests/fuzz/fuzz_model.c.

Each seed is a small valid ddosd model file (docs/model-format.md) covering one shape the loader
accepts: forest and boosting stages, binary and multiclass, one and two stages, each scaler,
missing_left, one-node trees, 34 trees (past the AVX2 walk's 32), legacy (cic) feature
spellings. Trees are built by hand from a
seeded random.Random in scikit-learn's own layout (depth-first, left child first), so this needs
numpy and msgpack but not scikit-learn, and the output is deterministic: same script, same bytes,
so the committed corpus only changes when this does. Files stay small (a few hundred bytes to
2 KB) so the fuzzer's mutations reach every field.

Usage: /usr/bin/python3 tests/fuzz/make_model_corpus.py [out_dir]
       (default: tests/fuzz/corpus/model next to this script)
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import modelkit  # noqa: E402

PROVENANCE = {"created": "2024-01-01T00:00:00Z", "sklearn_version": "1.2.1", "seed": 1}


def random_tree(rng, n_features, n_values, depth, boosting=False, missing=False):
    """A tree in scikit-learn's layout: nodes numbered depth-first, left subtree first."""
    feature, threshold, left, right, value, miss = [], [], [], [], [], []

    def leaf_value():
        if boosting:
            return [round(rng.uniform(-1, 1), 3)]
        counts = [rng.randint(0, 9) for _ in range(n_values)]
        total = sum(counts) or 1
        return [c / total for c in counts]

    def grow(d):
        i = len(feature)
        feature.append(-2)
        threshold.append(-2.0)
        left.append(-1)
        right.append(-1)
        value.append(leaf_value())
        miss.append(0)
        if d < depth and rng.random() < 0.8:
            feature[i] = rng.randrange(n_features)
            threshold[i] = rng.choice([0.5, 1.5, 2.5, 100.5, 0.1, -3.25, 1e6 + 0.5])
            miss[i] = rng.randint(0, 1)
            left[i] = grow(d + 1)
            right[i] = grow(d + 1)
        return i

    grow(0)
    return modelkit.tree(feature, threshold, left, right, value, miss if missing else None)


def forest_stage(rng, name, classes, n_features, n_trees, depth, **kw):
    trees = [random_tree(rng, n_features, len(classes), depth, missing=kw.pop("missing", False))
             for _ in range(n_trees)]
    return modelkit.stage(name, "forest", classes, trees, **kw)


def boosting_stage(rng, name, classes, n_features, n_rounds, depth, **kw):
    k = 1 if len(classes) == 2 else len(classes)
    trees = [random_tree(rng, n_features, 1, depth, boosting=True)
             for _ in range(n_rounds * k)]
    init = [round(rng.uniform(-1, 1), 3) for _ in range(k)]
    return modelkit.stage(name, "boosting", classes, trees, init=init, **kw)


def seeds():
    rng = random.Random(20240101)
    f2 = ["Flow Duration", "SYN Flag Count"]
    f4 = ["Flow Bytes/s", "Total Fwd Packets", "Protocol", "Init_Win_bytes_forward"]
    out = {}
    out["forest-binary-positive"] = modelkit.model(
        f2, ["benign", "attack"],
        [forest_stage(rng, "attack", [0, 1], 2, 2, 2, positive=1, threshold=0.5)],
        provenance=PROVENANCE)
    out["forest-multiclass-standard"] = modelkit.model(
        f4, ["benign", "syn", "udp"],
        [forest_stage(rng, "attack", [0, 1, 2], 4, 3, 2)],
        scaler_map=modelkit.scaler("standard", [1e5, 3.0, 10.0, 2e4], [5e4, 2.0, 5.0, 1e4]),
        provenance=PROVENANCE)
    out["forest-missing-left"] = modelkit.model(
        f2, ["benign", "attack"],
        [forest_stage(rng, "attack", [0, 1], 2, 2, 3, positive=1, missing=True)],
        nonfinite=(0.0, 1e9, -1.0), provenance=PROVENANCE)
    out["boosting-binary-minmax"] = modelkit.model(
        f2, ["benign", "attack"],
        [boosting_stage(rng, "attack", [0, 1], 2, 3, 2, positive=1)],
        scaler_map=modelkit.scaler("minmax", [0.0, -1.0], [1e-6, 0.5]), provenance=PROVENANCE)
    out["boosting-multiclass"] = modelkit.model(
        f4, ["benign", "syn", "udp"],
        [boosting_stage(rng, "attack", [0, 1, 2], 4, 2, 2, threshold=0.3)],
        provenance=PROVENANCE)
    out["two-stage"] = modelkit.model(
        f4, ["benign", "attack", "syn_flood", "udp_flood", "http_flood"],
        [forest_stage(rng, "attack", [0, 1], 4, 2, 2, positive=1),
         boosting_stage(rng, "family", [2, 3, 4], 4, 1, 2, threshold=0.6)],
        provenance=PROVENANCE)
    out["single-leaf-trees"] = modelkit.model(
        f2, ["benign", "attack"],
        [modelkit.stage("attack", "forest", [0, 1],
                        [modelkit.tree([-2], [-2.0], [-1], [-1], [[0.25, 0.75]])], positive=1)],
        provenance=PROVENANCE)
    # 34 stumps: past the 32 trees model_score walks at once with AVX2.
    out["forest-34-stumps"] = modelkit.model(
        f2, ["benign", "attack"],
        [forest_stage(rng, "attack", [0, 1], 2, 34, 1, positive=1)], provenance=PROVENANCE)
    out["cic-legacy-names"] = modelkit.model(
        [" Flow Duration", " Total Fwd Packets", "Flow Byts/s", " CWE Flag Count"],
        ["BENIGN", "DrDoS_DNS", "Syn"],
        [forest_stage(rng, "attack", [0, 1, 2], 4, 2, 2)], feature_mode="cic",
        provenance={"created": "2024-01-01T00:00:00Z", "sklearn_version": "1.2.1",
                    "sources": [{"path": "a.csv", "sha256": "00" * 32, "label": "train"}],
                    "metrics": {"f1": 0.99}})
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "model")
    os.makedirs(out_dir, exist_ok=True)
    for name, m in seeds().items():
        data = modelkit.pack(m)
        with open(os.path.join(out_dir, name + ".msgpack"), "wb") as f:
            f.write(data)
        print(f"{name}.msgpack {len(data)} bytes")


if __name__ == "__main__":
    main()
