#!/usr/bin/python3
"""ipmodel_experiment.py - a trained per-IP classifier beside the hand-set per-IP judge: which
one measures better on the same captures, cross-validated by capture.

Inputs are the by-products of scripts/evaluate.py runs (--out, --flows-dir, --verdicts-dir):
each capture's scored flows (ddos-flows --model, from a flow model that never saw the capture
when the run used --folds) and the verdicts of ddosd's judge on the same capture.

Per-IP aggregate features are built in Python from the scored flows, per address, role and
1-second window (flows placed by their first packet): flows, attack flows (the flow model's
verdict) and their share, the mean and max attack score, packets and bytes toward and from the
address, log pps, distinct peers and the share of peers with at most 2 packets, the share of
one-way flows, of SYN-without-ACK flows, of TCP/UDP/ICMP flows, and of flows from a reflector
port. Roles: as a destination (victim) and as a source (attacker).

Labels come from the per-IP truth evaluate.py applies (scripts/evalkit.py): a victim's windows
with attack flows and a listed attacker's are positive; every window of a benign address and of
a spoofed source or reflector is negative; other addresses (bots, skipped attacks) are left out.

A classifier (random forest, balanced classes) is trained and scored with grouped folds: the
captures' folds from the evaluate.py report where it has them, others dealt round-robin. An
address is `high` when one of its windows scores >= HIGH (and `medium` >= MEDIUM). The same
per-IP figures as evaluate.py's are computed for the classifier and for the judge's verdicts
(peak levels) on exactly the same addresses.

usage: /usr/bin/python3 scripts/ipmodel_experiment.py --run REPORT.json FLOWS_DIR VERDICTS_DIR
           [--run ...] [--folds K] [--out result.json]
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evalkit  # noqa: E402

REFLECTOR_PORTS = {17, 19, 53, 69, 111, 123, 137, 161, 389, 500, 520, 1434, 1900, 3283, 3702,
                   4500, 5351, 5683, 10001, 11211, 27015, 37810}  # features/port_class.c
FEATURES = ["flows", "attack_flows", "attack_share", "score_mean", "score_max", "log_pkts_in",
            "log_pkts_out", "log_bytes_in", "log_bytes_out", "in_out_ratio", "peers",
            "small_peer_share", "one_way_share", "syn_only_share", "tcp_share", "udp_share",
            "icmp_share", "reflector_port_share", "role_victim"]
HIGH, MEDIUM = 0.9, 0.5


def ip_windows(path):
    """{(ip, role): {window: feature dict}} from one capture's scored flows CSV."""
    import pandas as pd
    df = pd.read_csv(path, low_memory=False, dtype={"Source IP": str, "Destination IP": str})
    if df.empty:
        return {}
    ts = pd.to_datetime(df["Timestamp"], format="%Y-%m-%d %H:%M:%S.%f")
    win = ((ts - ts.min()).dt.total_seconds()).astype(int).to_numpy()
    src, dst = df["Source IP"].to_numpy(), df["Destination IP"].to_numpy()
    fwd, bwd = df["Total Fwd Packets"].to_numpy(float), df["Total Backward Packets"].to_numpy(float)
    fb = df["Total Length of Fwd Packets"].to_numpy(float)
    bb = df["Total Length of Bwd Packets"].to_numpy(float)
    attack = (df["Predicted Label"] != "benign").to_numpy()
    score = df["Attack Score"].to_numpy(float)
    proto = df["Protocol"].to_numpy(int)
    syn = df["SYN Flag Count"].to_numpy(float) > 0
    ack = df["ACK Flag Count"].to_numpy(float) > 0
    sport = df["Source Port"].to_numpy(int)
    groups = defaultdict(list)
    for i in range(len(df)):
        groups[(dst[i], "victim", win[i])].append(i)
        groups[(src[i], "attacker", win[i])].append(i)
    out = defaultdict(dict)
    for (ip, role, w), idx in groups.items():
        idx = np.array(idx)
        victim = role == "victim"
        p_in = (fwd[idx] if victim else bwd[idx]).sum()
        p_out = (bwd[idx] if victim else fwd[idx]).sum()
        b_in = (fb[idx] if victim else bb[idx]).sum()
        b_out = (bb[idx] if victim else fb[idx]).sum()
        peers = defaultdict(float)
        for i in idx:
            peers[src[i] if victim else dst[i]] += fwd[i] + bwd[i]
        n = len(idx)
        out[(ip, role)][w] = {
            "flows": n, "attack_flows": int(attack[idx].sum()),
            "attack_share": attack[idx].mean(), "score_mean": score[idx].mean(),
            "score_max": score[idx].max(), "log_pkts_in": math.log1p(p_in),
            "log_pkts_out": math.log1p(p_out), "log_bytes_in": math.log1p(b_in),
            "log_bytes_out": math.log1p(b_out), "in_out_ratio": (p_in + 1) / (p_out + 1),
            "peers": len(peers), "small_peer_share": sum(1 for v in peers.values() if v <= 2)
            / len(peers), "one_way_share": float((bwd[idx] == 0).mean()),
            "syn_only_share": float((syn[idx] & ~ack[idx]).mean()),
            "tcp_share": float((proto[idx] == 6).mean()),
            "udp_share": float((proto[idx] == 17).mean()),
            "icmp_share": float(((proto[idx] == 1) | (proto[idx] == 58)).mean()),
            "reflector_port_share": float(np.isin(sport[idx] if victim else
                                                  df["Destination Port"].to_numpy(int)[idx],
                                                  list(REFLECTOR_PORTS)).mean()),
            "role_victim": 1.0 if victim else 0.0}
    return out


def categories(entry, flows_csv, verdicts):
    """{ip: category} with evaluate.py's rules (evalkit.categorize)."""
    import pandas as pd
    df = pd.read_csv(flows_csv, low_memory=False, usecols=["Source IP", "Destination IP",
                                                          "Timestamp", "Label"],
                     dtype={"Source IP": str, "Destination IP": str})
    flows = [{"src": s, "dst": d, "ts": t, "label": lab} for s, d, t, lab in
             zip(df["Source IP"], df["Destination IP"], df["Timestamp"], df["Label"])]
    ips = set(df["Source IP"]) | set(df["Destination IP"]) | set(verdicts)
    return evalkit.categorize(entry, flows, ips)


def load_run(report_path, flows_dir, verdicts_dir):
    rep = json.load(open(report_path))
    entries = {}
    for m in rep["manifests"]:
        for e in evalkit.load_manifest(m):
            entries[e["abs_path"]] = e
    caps = []
    for path, r in rep["per_capture"].items():
        if "error" in r or path not in entries:
            continue
        e = entries[path]
        if e["truth"]["skip"]:
            continue
        tag = evalkit.capture_tag(e)
        fcsv = os.path.join(flows_dir, tag + ".flows.csv")
        vfile = os.path.join(verdicts_dir, tag + ".verdicts.jsonl")
        if not os.path.exists(fcsv) or not os.path.exists(vfile):
            continue
        verdicts = {}
        for line in open(vfile):
            v = json.loads(line)
            verdicts[v["ip"]] = v
        caps.append({"path": path, "entry": e, "fold": r.get("fold"), "flows": fcsv,
                     "verdicts": verdicts, "real": "/shared/data/" in path})
    return caps


def figures(per_ip):
    """per_ip: [(capture, ip, category, level 0..3)] -> evaluate.py-style counts."""
    by_cat = defaultdict(list)
    for cap, ip, cat, lvl in per_ip:
        by_cat[cat].append((cap, ip, lvl))
    benign_caps = defaultdict(bool)
    for cap, ip, cat, lvl in per_ip:
        if cat == "benign":
            benign_caps[cap] |= lvl >= 2
    return {
        "victims": len(by_cat["victim"]),
        "victims_high": sum(1 for _, _, lv in by_cat["victim"] if lv >= 2),
        "attackers": len(by_cat["attacker"]),
        "attackers_high": sum(1 for _, _, lv in by_cat["attacker"] if lv >= 2),
        "spoofed_or_reflector": len(by_cat["spoofed"]),
        "spoofed_or_reflector_above_low": sum(1 for _, _, lv in by_cat["spoofed"] if lv >= 1),
        "benign_ips": len(by_cat["benign"]),
        "benign_ips_high": sum(1 for _, _, lv in by_cat["benign"] if lv >= 2),
        "captures_with_benign_ip_high": sum(benign_caps.values()),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", nargs=3, action="append", required=True,
                    metavar=("REPORT", "FLOWS_DIR", "VERDICTS_DIR"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args()
    from sklearn.ensemble import RandomForestClassifier

    caps = []
    for rep, fd, vd in args.run:
        caps += load_run(rep, fd, vd)
    # Folds: the report's where the captures were judged by fold models, else round-robin.
    rr = 0
    for c in caps:
        if c["fold"] is None:
            c["fold"] = rr % args.folds
            rr += 1
        else:
            c["fold"] = int(c["fold"]) % args.folds
    print(f"{len(caps)} captures ({sum(c['real'] for c in caps)} real), {args.folds} folds",
          file=sys.stderr)

    rows, meta = [], []  # meta: (capture index, ip, category, label)
    for ci, c in enumerate(caps):
        cats = categories(c["entry"], c["flows"], c["verdicts"])
        for (ip, role), wins in ip_windows(c["flows"]).items():
            cat = cats.get(ip, "benign")
            if cat in ("unjudged", "bot"):
                continue
            for w, f in wins.items():
                if cat in ("benign", "spoofed"):
                    y = 0
                elif cat == "victim" and role == "victim" and f["attack_flows"] > 0:
                    y = 1
                elif cat == "attacker" and role == "attacker" and f["attack_flows"] > 0:
                    y = 1
                else:
                    y = -1  # a victim's quiet windows, an attacker as destination: not trained
                rows.append([f[k] for k in FEATURES])
                meta.append((ci, ip, cat, y))
        c["cats"] = cats
    X = np.array(rows, dtype=float)
    y = np.array([m[3] for m in meta])
    fold = np.array([caps[m[0]]["fold"] for m in meta])
    prob = np.zeros(len(meta))
    print(f"{len(meta)} (IP, role, window) rows, {int((y == 1).sum())} positive, "
          f"{int((y == 0).sum())} negative", file=sys.stderr)
    for k in range(args.folds):
        tr = (fold != k) & (y >= 0)
        te = fold == k
        if not te.any():
            continue
        clf = RandomForestClassifier(n_estimators=100, min_samples_leaf=2,
                                     class_weight="balanced", n_jobs=2,
                                     random_state=args.seed)
        clf.fit(X[tr], y[tr])
        prob[te] = clf.predict_proba(X[te])[:, 1]

    # Per-IP levels: the classifier's (max over windows and roles) and the judge's peak.
    best = defaultdict(float)
    for (ci, ip, cat, _), p in zip(meta, prob):
        best[(ci, ip)] = max(best[(ci, ip)], p)
    result = {}
    for scope in ("real", "generated", "all"):
        model_ips, judge_ips = [], []
        for ci, c in enumerate(caps):
            if (scope == "real" and not c["real"]) or (scope == "generated" and c["real"]):
                continue
            for ip, cat in c["cats"].items():
                if cat in ("unjudged", "bot"):
                    continue
                p = best.get((ci, ip), 0.0)
                model_ips.append((ci, ip, cat, 2 if p >= HIGH else 1 if p >= MEDIUM else 0))
                judge_ips.append((ci, ip, cat, evalkit.peak_level(c["verdicts"].get(ip))))
        result[scope] = {"classifier": figures(model_ips), "judge": figures(judge_ips)}
    print(f"\nper-IP figures, same captures and addresses (classifier: high at p >= {HIGH}, "
          f"medium at p >= {MEDIUM}; judge: ddosd's peak level)")
    keys = list(result["all"]["judge"].keys())
    print(f"{'':<34}" + "".join(f"{s + ' ' + w:>22}" for s in result
                                for w in ("judge", "classifier")))
    for k in keys:
        print(f"{k:<34}" + "".join(f"{result[s][w][k]:>22}" for s in result
                                   for w in ("judge", "classifier")))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"captures": len(caps), "rows": len(meta), "features": FEATURES,
                       "high": HIGH, "medium": MEDIUM, "result": result}, f, indent=2)


if __name__ == "__main__":
    main()
