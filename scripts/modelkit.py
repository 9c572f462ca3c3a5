"""modelkit.py - shared helpers for writing ddosd model files (docs/model-format.md).

Used by scripts/export_sklearn.py (scikit-learn -> model file), tests/fuzz/make_model_corpus.py
(hand-built seed files), tests/integration/model_parity.py and bench/bench_inference.sh. Needs
only numpy and msgpack, so scripts that build trees by hand do not import scikit-learn.

Everything binary is written little-endian with explicit dtypes ('<i4', '<f8'), whatever the
machine, because the C loader reads bytes, not native arrays.
"""
import os
import re

import msgpack
import numpy as np

FORMAT = "ddosd-model"
VERSION = 1

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURE_SET_H = os.path.join(REPO, "features", "feature_set.h")


def feature_names(header=FEATURE_SET_H):
    """Clean names of the extractor's feature vector, in enum feat_id order."""
    with open(header, encoding="utf-8") as f:
        text = f.read()
    names = re.findall(r'X\(FEAT_\w+,\s*"[^"]*",\s*"([^"]*)"\)', text)
    if not names:
        raise RuntimeError(f"no FEAT_LIST entries found in {header}")
    return names


def i32(a):
    return np.ascontiguousarray(a, dtype="<i4").tobytes()


def f64(a):
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def u8(a):
    return np.ascontiguousarray(a, dtype="u1").tobytes()


def tree(feature, threshold, left, right, value, missing_left=None):
    """One tree map. value is (n_nodes,) or (n_nodes, n_outputs); it is flattened row-major."""
    feature = np.asarray(feature)
    n = int(feature.shape[0])
    t = {
        "n_nodes": n,
        "feature": i32(feature),
        "threshold": f64(threshold),
        "left": i32(left),
        "right": i32(right),
        "value": f64(np.asarray(value, dtype=np.float64).reshape(-1)),
    }
    if missing_left is not None:
        t["missing_left"] = u8(missing_left)
    return t


def stage(name, kind, classes, trees, threshold=None, positive=None, init=None):
    """One stage map. classes: indices into the model's class names, one per output column."""
    s = {"name": name, "kind": kind, "classes": [int(c) for c in classes], "trees": list(trees)}
    if threshold is not None:
        s["threshold"] = float(threshold)
    if positive is not None:
        s["positive"] = int(positive)
    if init is not None:
        s["init"] = f64(init)
    return s


def scaler(kind, offset, scale):
    """kind 'standard' (offset = mean_) or 'minmax' (offset = min_)."""
    key = {"standard": "mean", "minmax": "min"}[kind]
    return {"kind": kind, key: f64(offset), "scale": f64(scale)}


def model(features, classes, stages, feature_mode="fixed", nonfinite=(0.0, 0.0, 0.0),
          scaler_map=None, provenance=None):
    """The top-level map, ready for pack()."""
    nan, posinf, neginf = (float(v) for v in nonfinite)
    return {
        "format": FORMAT,
        "version": VERSION,
        "features": [str(f) for f in features],
        "feature_mode": feature_mode,
        "nonfinite": {"nan": nan, "posinf": posinf, "neginf": neginf},
        "scaler": scaler_map,
        "classes": [str(c) for c in classes],
        "stages": list(stages),
        "provenance": provenance or {},
    }


def pack(m):
    return msgpack.packb(m, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False)
