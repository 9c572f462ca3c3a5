"""ddtools.py - small helpers shared by ddosd's Python scripts (training, evaluation, export).

Finding the programs a build produced, and hashing data files for provenance."""
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_bin(name, bin_dir=None, who="ddosd"):
    """Path of program `name`: in --bin DIR (a build tree, or the folder of the program or a
    sibling of it), then in build/, then on PATH. Exits with an actionable message if absent."""
    roots = ([bin_dir, os.path.dirname(os.path.abspath(bin_dir))] if bin_dir else []) + \
        [os.path.join(ROOT, "build")]
    for r in roots:
        for sub in ("", "app", "inference", "trafgen"):
            c = os.path.join(r, sub, name)
            if os.access(c, os.X_OK) and not os.path.isdir(c):
                return c
    for d in os.environ.get("PATH", "").split(os.pathsep):
        c = os.path.join(d, name)
        if os.access(c, os.X_OK):
            return c
    sys.exit(f"{who}: cannot find {name}: build it (cmake --build build), or pass --bin DIR")


def sha256_file(path):
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Labels that are not a DDoS: portscan is malicious, but not a denial of service.
NOT_DDOS = frozenset({"benign", "portscan"})


def binary_scores(truth, predicted):
    """Precision, recall and F1 (rounded to 4 places) and the tp/fp/fn counts of a yes/no
    decision, from two equally long sequences of booleans."""
    tp = sum(1 for a, b in zip(truth, predicted) if a and b)
    fp = sum(1 for a, b in zip(truth, predicted) if not a and b)
    fn = sum(1 for a, b in zip(truth, predicted) if a and not b)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}
