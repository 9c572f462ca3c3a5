#!/usr/bin/python3
"""export_sklearn.py - converts scikit-learn models into a ddosd model file.

The file format is docs/model-format.md; the C engine (inference/) reproduces predict_proba of
what this script exports to within 1e-9 (tests/integration/model_parity.py checks every kind).

Supported estimators, each as one stage:
  DecisionTreeClassifier, RandomForestClassifier, ExtraTreesClassifier  -> kind "forest"
      leaf class counts are normalized to probabilities here, exactly as predict_proba does
  GradientBoostingClassifier (binary or multiclass, loss log_loss/deviance/exponential)
                                                                      -> kind "boosting"
      init is sklearn's own raw init prediction (_raw_predict_init); leaves are multiplied by
      learning_rate here; the exponential loss is exported as log-loss with init and leaves
      doubled (expit(2 r) == expit(r') with r' = 2 r, exact in binary floating point)
  optional StandardScaler or MinMaxScaler; optional LabelEncoder (class names); a Pipeline
  [scaler,] classifier is unwrapped.

Command line (one stage, e.g. the seed's hybrid stage-2 model, see docs/model-format.md):
  /usr/bin/python3 scripts/export_sklearn.py --model M.pkl [--scaler S.pkl]
      [--label-encoder L.pkl] [--features F.txt] [--feature-mode fixed|cic] [--threshold T]
      [--positive CLASS] [--nonfinite NAN,POSINF,NEGINF] -o OUT.msgpack

From Python (the training script):
  from export_sklearn import export_two_stage
  data = export_two_stage(stage1, stage2, classes, features, scaler=sc, provenance={...},
                          out="models/ddosd.msgpack")

Then check it: ddos-model check OUT.msgpack (names are matched to the extractor's feature set
there; an unknown name is an error).
"""
import argparse
import datetime
import hashlib
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelkit  # noqa: E402


class ExportError(Exception):
    pass


def _sklearn_version():
    try:
        import sklearn

        return sklearn.__version__
    except ImportError:
        return "unknown"


def _kind_of(est):
    name = type(est).__name__
    if name in ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier",
                "ExtraTreeClassifier"):
        return "forest"
    if name == "GradientBoostingClassifier":
        return "boosting"
    raise ExportError(f"unsupported estimator {name}: export DecisionTree, RandomForest, "
                      "ExtraTrees or GradientBoosting classifiers")


def _tree_common(t):
    """feature, threshold, left, right, missing_left of a sklearn Tree object."""
    missing = getattr(t, "missing_go_to_left", None)  # scikit-learn >= 1.3
    return (t.feature, t.threshold, t.children_left, t.children_right,
            None if missing is None else np.asarray(missing, dtype=np.uint8))


def forest_tree(t):
    """A classification tree: leaf counts (or fractions) -> probabilities, as predict_proba."""
    if t.n_outputs != 1:
        raise ExportError("multi-output trees are not supported")
    value = np.array(t.value[:, 0, :], dtype=np.float64)
    normalizer = value.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    value /= normalizer
    feature, threshold, left, right, missing = _tree_common(t)
    return modelkit.tree(feature, threshold, left, right, value, missing)


def boosting_tree(t, scale):
    """A regression tree of gradient boosting, leaf values multiplied by scale."""
    value = scale * np.array(t.value[:, 0, 0], dtype=np.float64)
    feature, threshold, left, right, missing = _tree_common(t)
    return modelkit.tree(feature, threshold, left, right, value, missing)


def _est_trees(est):
    kind = _kind_of(est)
    if kind == "forest":
        if hasattr(est, "estimators_"):
            return [forest_tree(e.tree_) for e in est.estimators_]
        return [forest_tree(est.tree_)]
    return None


def _boosting(est):
    """(init raw scores, trees in round-major order) of a GradientBoostingClassifier."""
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and type(init).__name__ != "DummyClassifier":
        raise ExportError("gradient boosting with a custom init estimator cannot be exported: "
                          "its raw init depends on X")
    loss = getattr(est, "loss", "log_loss")
    factor = 2.0 if loss == "exponential" else 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "X does not have valid feature names"
        raw_init = est._raw_predict_init(np.zeros((1, est.n_features_in_)))[0]
    init_vals = factor * np.asarray(raw_init, dtype=np.float64)
    n_rounds, k = est.estimators_.shape
    lr = float(est.learning_rate)
    trees = []
    for r in range(n_rounds):
        for j in range(k):
            # learning_rate * value, the product _gb predict_stages computes per leaf; doubling
            # for the exponential loss is exact, so the link stays expit.
            t = est.estimators_[r, j].tree_
            value = lr * np.array(t.value[:, 0, 0], dtype=np.float64)
            feature, threshold, left, right, missing = _tree_common(t)
            trees.append(modelkit.tree(feature, threshold, left, right, factor * value, missing))
    return init_vals, trees


def unwrap_pipeline(est):
    """(scaler or None, classifier) from a Pipeline, or (None, est)."""
    if type(est).__name__ != "Pipeline":
        return None, est
    steps = [s for _, s in est.steps if s is not None and s != "passthrough"]
    scaler = None
    if len(steps) == 2 and type(steps[0]).__name__ in ("StandardScaler", "MinMaxScaler"):
        scaler = steps[0]
    elif len(steps) != 1:
        raise ExportError("only Pipeline([scaler,] classifier) can be exported")
    return scaler, steps[-1]


def scaler_map(sc, n_features):
    if sc is None:
        return None
    name = type(sc).__name__
    if name == "StandardScaler":
        mean = sc.mean_ if sc.mean_ is not None and sc.with_mean else np.zeros(n_features)
        scale = sc.scale_ if sc.scale_ is not None and sc.with_std else np.ones(n_features)
        out = modelkit.scaler("standard", mean, scale)
        size = len(mean)
    elif name == "MinMaxScaler":
        if getattr(sc, "clip", False):
            raise ExportError("MinMaxScaler(clip=True) is not supported")
        out = modelkit.scaler("minmax", sc.min_, sc.scale_)
        size = len(sc.min_)
    else:
        raise ExportError(f"unsupported scaler {name}: use StandardScaler or MinMaxScaler")
    if size != n_features:
        raise ExportError(f"the scaler has {size} features, the model {n_features}")
    return out


def _class_indices(est_classes, classes):
    """Maps an estimator's classes_ to indices into the model's class names: strings by name,
    integers as indices (label-encoded targets)."""
    out = []
    for c in est_classes:
        if isinstance(c, (str, np.str_)):
            if str(c) not in classes:
                raise ExportError(f"estimator class {c!r} is not in classes {classes}")
            out.append(classes.index(str(c)))
        else:
            i = int(c)
            if i != c or not 0 <= i < len(classes):
                raise ExportError(f"estimator class {c!r} is not an index into {len(classes)} "
                                  "class names")
            out.append(i)
    return out


def stage_map(est, name, class_idx, threshold=None, positive=None):
    kind = _kind_of(est)
    if kind == "forest":
        return modelkit.stage(name, "forest", class_idx, _est_trees(est), threshold, positive)
    init, trees = _boosting(est)
    return modelkit.stage(name, "boosting", class_idx, trees, threshold, positive, init)


def resolve_features(est, scaler=None, features=None):
    n = int(est.n_features_in_)
    if features is None:
        for src in (est, scaler):
            names = getattr(src, "feature_names_in_", None) if src is not None else None
            if names is not None:
                features = [str(x) for x in names]
                break
    if features is None:
        raise ExportError("no feature names: the model was fitted without feature_names_in_; "
                          "pass --features F.txt (one name per line, in training column order)")
    features = [str(f) for f in features]
    if len(features) != n:
        raise ExportError(f"{len(features)} feature names for a model with {n} inputs")
    return features


def _positive_index(stage_classes, classes, positive):
    """Output column of the attack class in a stage, from a name, an index into classes, or
    (None) the column that is not 'benign' in a binary stage."""
    names = [classes[i] for i in stage_classes]
    if positive is None:
        benign = [j for j, n in enumerate(names) if n.lower() == "benign"]
        if len(names) == 2 and len(benign) == 1:
            return 1 - benign[0]
        raise ExportError(f"cannot tell which of {names} is the attack class: pass positive")
    if isinstance(positive, str):
        if positive not in names:
            raise ExportError(f"positive class {positive!r} is not one of {names}")
        return names.index(positive)
    if int(positive) not in stage_classes:
        raise ExportError(f"positive class index {positive} is not one of the stage's classes")
    return stage_classes.index(int(positive))


def default_provenance(extra=None):
    p = {
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sklearn_version": _sklearn_version(),
        "exporter": "scripts/export_sklearn.py",
    }
    if extra:
        p.update(extra)
    return p


def _write(data, out):
    if out:
        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, out)  # a daemon watching the path never sees half a file
    return data


def export_single(model, features=None, scaler=None, label_encoder=None, feature_mode="fixed",
                  threshold=None, positive=None, nonfinite=(0.0, 0.0, 0.0), provenance=None,
                  out=None):
    """One-stage model file (bytes; also written to out when given).

    The verdict: with `positive` (a class name or index), p_attack = P(positive); without it,
    a class named 'benign' (any case) must exist and p_attack = 1 - P(benign), the family being
    the most likely other class."""
    pipe_scaler, est = unwrap_pipeline(model)
    scaler = scaler if scaler is not None else pipe_scaler
    features = resolve_features(est, scaler, features)
    if label_encoder is not None:
        classes = [str(c) for c in label_encoder.classes_]
    else:
        classes = [str(c) for c in est.classes_]
    class_idx = _class_indices(est.classes_, classes) if label_encoder is not None else \
        list(range(len(classes)))
    pos = None
    names = [classes[i] for i in class_idx]
    if positive is not None or not any(n.lower() == "benign" for n in names):
        pos = _positive_index(class_idx, classes, positive)
    m = modelkit.model(features, classes,
                       [stage_map(est, "attack", class_idx, threshold, pos)],
                       feature_mode=feature_mode, nonfinite=nonfinite,
                       scaler_map=scaler_map(scaler, len(features)),
                       provenance=provenance or default_provenance())
    return _write(modelkit.pack(m), out)


def export_two_stage(stage1, stage2, classes, features, scaler=None, feature_mode="fixed",
                     nonfinite=(0.0, 0.0, 0.0), stage1_threshold=0.5, stage2_threshold=0.0,
                     positive=None, provenance=None, out=None):
    """Two-stage model file (bytes; also written to out when given).

    stage1: classifier benign vs attack; stage2: classifier over attack families. classes: every
    class name the two use; an estimator's classes_ are either names from this list or integer
    indices into it. positive: stage 1's attack class (name or index into classes); None picks
    the class that is not 'benign'. features: names in training column order. scaler: a fitted
    StandardScaler/MinMaxScaler applied before both stages. provenance: a dict merged over the
    defaults (created, sklearn_version), e.g. seed, sources [{path, sha256, label}], metrics."""
    classes = [str(c) for c in classes]
    for est in (stage1, stage2):
        if int(est.n_features_in_) != len(features):
            raise ExportError(f"{type(est).__name__} has {est.n_features_in_} inputs, "
                              f"features has {len(features)} names")
    c1 = _class_indices(stage1.classes_, classes)
    c2 = _class_indices(stage2.classes_, classes)
    pos = _positive_index(c1, classes, positive)
    m = modelkit.model(features, classes,
                       [stage_map(stage1, "attack", c1, stage1_threshold, pos),
                        stage_map(stage2, "family", c2, stage2_threshold)],
                       feature_mode=feature_mode, nonfinite=nonfinite,
                       scaler_map=scaler_map(scaler, len(features)),
                       provenance=default_provenance(provenance))
    return _write(modelkit.pack(m), out)


def _load_pickle(path):
    try:
        import joblib

        return joblib.load(path)
    except ImportError:
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_features(path):
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\r\n") for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Convert a scikit-learn classifier (+ optional scaler and label encoder) "
                    "into a one-stage ddosd model file (docs/model-format.md).",
        epilog="example (the seed's hybrid stage-2 model):\n"
               "  /usr/bin/python3 scripts/export_sklearn.py \\\n"
               "    --model hybrid_stage2_model_v3_real_benign.pkl \\\n"
               "    --scaler hybrid_stage2_scaler_v3_real_benign.pkl \\\n"
               "    --label-encoder hybrid_stage2_label_encoder.pkl \\\n"
               "    --feature-mode cic -o models/seed-stage2.msgpack\n"
               "  build/inference/ddos-model check models/seed-stage2.msgpack",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="pickled classifier or Pipeline (joblib/pickle)")
    ap.add_argument("--scaler", help="pickled StandardScaler or MinMaxScaler")
    ap.add_argument("--label-encoder", help="pickled LabelEncoder: class names")
    ap.add_argument("--features", help="text file, one feature name per line, in training "
                                       "column order (default: the model's feature_names_in_)")
    ap.add_argument("--feature-mode", choices=("fixed", "cic"), default="fixed",
                    help="extractor mode the training data came from (default fixed)")
    ap.add_argument("--threshold", type=float, help="minimum P(attack) for an attack "
                                                    "(default 0.5)")
    ap.add_argument("--positive", help="name of the attack class of a binary model without a "
                                       "'benign' class")
    ap.add_argument("--nonfinite", default="0,0,0", metavar="NAN,POSINF,NEGINF",
                    help="replacements for NaN, +inf, -inf, as training did (default 0,0,0)")
    ap.add_argument("--seed", type=int, help="training seed, recorded in provenance")
    ap.add_argument("-o", "--output", required=True, help="model file to write")
    args = ap.parse_args(argv)

    try:
        nonfinite = tuple(float(v) for v in args.nonfinite.split(","))
        if len(nonfinite) != 3 or not all(np.isfinite(nonfinite)):
            raise ValueError
    except ValueError:
        ap.error("--nonfinite takes three finite numbers: NAN,POSINF,NEGINF")
    sources = [{"path": os.path.basename(args.model), "sha256": _sha256(args.model),
                "label": "model"}]
    scaler = le = None
    if args.scaler:
        scaler = _load_pickle(args.scaler)
        sources.append({"path": os.path.basename(args.scaler), "sha256": _sha256(args.scaler),
                        "label": "scaler"})
    if args.label_encoder:
        le = _load_pickle(args.label_encoder)
        sources.append({"path": os.path.basename(args.label_encoder),
                        "sha256": _sha256(args.label_encoder), "label": "label_encoder"})
    extra = {"sources": sources}
    if args.seed is not None:
        extra["seed"] = args.seed
    try:
        data = export_single(_load_pickle(args.model),
                             features=_read_features(args.features) if args.features else None,
                             scaler=scaler, label_encoder=le, feature_mode=args.feature_mode,
                             threshold=args.threshold, positive=args.positive,
                             nonfinite=nonfinite, provenance=default_provenance(extra),
                             out=args.output)
    except ExportError as e:
        print(f"export_sklearn.py: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
