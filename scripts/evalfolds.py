"""evalfolds.py - grouped cross-validation folds for scripts/evaluate.py: which capture is held
out in which fold, and the model trained without it.

DESIGN: folds are groups of whole captures (a capture is never both trained on and judged).
Assignment is deterministic for a seed and stratified: attack captures are dealt round-robin
over the folds first (grouped by label, so captures of one attack kind land in different folds),
then benign captures continue the deal, so every fold holds attack and benign captures when
there are at least K of each. `loo` makes one fold per capture.

Each fold's model comes from `scripts/train_model.py --exclude-captures FOLD.json --out DIR
--work TRAIN_WORK [--fast] --seed N` (TRAIN_WORK: evaluate.py --train-work, by default the
trainer's own build/train, whose cached captures and rows are keyed by what made them): FOLD.json lists the fold's captures (absolute real paths),
which the trainer uses neither for training nor for calibration. Models are cached under
WORK/fold-<hash>/, the hash covering the fold's capture paths, the model seed and --fast, so a
rerun with the same folds reuses them; fold.json there records the trainer script's and the
ddos-flows binary's hashes, and a cached model made by another trainer or extractor is reported
STALE (--retrain trains it again)."""
import hashlib
import json
import os
import random
import subprocess
import sys
import time

from evalkit import NOT_DDOS, is_attack_capture

PY = "/usr/bin/python3"


def assign_folds(entries, k, seed):
    """{abs_path: fold index} for entries; k an int >= 2 or the string "loo"."""
    paths = sorted({e["abs_path"] for e in entries})
    if k == "loo":
        return {p: i for i, p in enumerate(paths)}
    by_path = {e["abs_path"]: e for e in entries}
    rng = random.Random(seed)
    attack = [p for p in paths if is_attack_capture(by_path[p])]
    benign = [p for p in paths if not is_attack_capture(by_path[p])]
    groups = {}
    for p in attack:
        groups.setdefault(by_path[p]["label"], []).append(p)
    order = []
    for lab in sorted(groups):
        g = groups[lab]
        rng.shuffle(g)
        order += g
    rng.shuffle(benign)
    order += benign
    start = rng.randrange(k)
    return {p: (start + i) % k for i, p in enumerate(order)}


def fold_key(paths, model_seed, fast):
    """Hash of a fold model's identity: the held-out captures, the seed and --fast."""
    h = hashlib.sha256()
    h.update(json.dumps(sorted(paths)).encode())
    h.update(f"|seed={model_seed}|fast={bool(fast)}|".encode())
    return h.hexdigest()[:16]


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def trainer_supports_exclude(trainer):
    p = subprocess.run([PY, trainer, "--help"], capture_output=True, text=True)
    return "--exclude-captures" in p.stdout


def train_fold(trainer, work, fold, paths, model_seed, fast, bin_dir, flows_bin, retrain, log,
               train_work):
    """Path of the model trained without `paths` (cached). Exits with the trainer's last
    lines when training fails. The trainer's own scratch directory (generated captures and
    extracted rows, which do not depend on the fold) is shared by every fold: train_work."""
    key = fold_key(paths, model_seed, fast)
    d = os.path.join(work, f"fold-{key}")
    model = os.path.join(d, "ddosd-model.msgpack")
    made_by = {"trainer_sha256": _sha(trainer), "ddos_flows_sha256": _sha(flows_bin)}
    info = os.path.join(d, "fold.json")
    if os.path.isfile(model) and not retrain:
        old = json.load(open(info)) if os.path.isfile(info) else {}
        stale = [k for k, v in made_by.items() if old.get(k) != v]
        log(f"fold {fold}: cached model {model} ({len(paths)} captures held out)" +
            (f"; STALE: {', '.join(stale)} changed since it was trained (--retrain)"
             if stale else ""))
        return model, key
    os.makedirs(d, exist_ok=True)
    excl = os.path.join(d, "exclude-captures.json")
    with open(excl, "w") as f:
        json.dump(sorted(paths), f, indent=1)
    cmd = [PY, trainer, "--exclude-captures", excl, "--out", d, "--work", train_work,
           "--seed", str(model_seed)]
    if fast:
        cmd.append("--fast")
    if bin_dir:
        cmd += ["--bin", bin_dir]
    log(f"fold {fold}: training without {len(paths)} captures -> {d} ({' '.join(cmd[1:])})")
    t0 = time.time()
    with open(os.path.join(d, "train.log"), "w") as lf:
        proc = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not os.path.isfile(model):
        tail = open(os.path.join(d, "train.log"), errors="replace").read().splitlines()[-5:]
        sys.exit(f"evaluate: training fold {fold} failed (exit {proc.returncode}; log "
                 f"{os.path.join(d, 'train.log')}):\n  " + "\n  ".join(tail))
    with open(info, "w") as f:
        json.dump(dict(made_by, captures=len(paths), seed=model_seed, fast=bool(fast),
                       trained_s=round(time.time() - t0)), f, indent=1)
    log(f"fold {fold}: trained in {time.time() - t0:.0f} s")
    return model, key


def describe(assign, entries):
    """Per fold: captures, attack captures, benign captures."""
    by_path = {e["abs_path"]: e for e in entries}
    out = {}
    for p, f in assign.items():
        d = out.setdefault(f, {"captures": 0, "attack": 0, "benign": 0})
        d["captures"] += 1
        if is_attack_capture(by_path[p]):
            d["attack"] += 1
        else:
            d["benign"] += 1
    return out


__all__ = ["assign_folds", "train_fold", "trainer_supports_exclude", "describe", "NOT_DDOS"]
