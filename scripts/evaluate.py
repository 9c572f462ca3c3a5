#!/usr/bin/python3
"""evaluate.py - how well a ddosd model detects the attacks of a labelled manifest.

Runs the extractor with the model (ddos-flows --model, fixed or cic as the model says) over
every capture of a manifest and prints, per capture and overall:
  - flow-level DDoS precision, recall and F1: a flow is DDoS when its label is neither `benign`
    nor `portscan` (malicious, but not a DDoS); predicted DDoS likewise from the model's label;
  - the benign false-positive rate: benign flows the model calls an attack (any attack);
  - a per-class table (precision, recall, F1, support) and a confusion matrix.
Only flow ends count (not in-flow snapshots). Labels the model does not know (e.g. a manifest's
`dhcp_flood`) still count in the DDoS / not-DDoS figures.

The per-IP view (--view ip or both) runs the daemon itself, `ddosd -r CAPTURE --verdicts-out`,
on each capture (model and rate rules: the hybrid verdict an operator sees) and reports:
  - attack captures: whether the victim reached `high` (or worse), and how long after the
    attack's first packet (packet time); the same for the attackers when they are not spoofed
    (at most MAX_REAL_ATTACKERS sources sent to the victim);
  - benign and not-DDoS captures: the highest level any IP reached (high or critical is a false
    alarm an operator would see).
The victim is the manifest entry's "victim" when it has one, else the address that received
the most packets; the attack's first packet is the capture's first packet.

usage: /usr/bin/python3 scripts/evaluate.py --manifest M.json [--model F] [--out report.json]
                                            [--bin DIR] [--compat fixed|cic] [--view flows|ip|both]
Programs are found in --bin DIR, in build/, or on PATH.
"""
import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddtools  # noqa: E402
ROOT = os.path.dirname(HERE)
NOT_DDOS = ddtools.NOT_DDOS


def model_mode(ddos_model, model):
    """The feature mode a model file was trained on (ddos-model info prints it)."""
    out = subprocess.run([ddos_model, "info", model], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"evaluate: {model}: {out.stderr.strip() or out.stdout.strip()}")
    for line in out.stdout.splitlines():
        low = line.lower()
        if "mode" in low and ("cic" in low or "fixed" in low):
            return "cic" if "cic" in low.split("mode", 1)[1] else "fixed"
    return "fixed"


def figures(rows):
    """rows: list of (true label, predicted label)."""
    t_ddos = [t not in NOT_DDOS for t, _ in rows]
    p_ddos = [p not in NOT_DDOS for _, p in rows]
    out = ddtools.binary_scores(t_ddos, p_ddos)
    benign = [p for t, p in rows if t == "benign"]
    out["benign_fpr"] = round(sum(1 for p in benign if p != "benign") / len(benign), 5) \
        if benign else None
    out["flows"] = len(rows)
    return out


def per_class(rows):
    labels = sorted({t for t, _ in rows} | {p for _, p in rows})
    table = {}
    for c in labels:
        tp = sum(1 for t, p in rows if t == c and p == c)
        fp = sum(1 for t, p in rows if t != c and p == c)
        fn = sum(1 for t, p in rows if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        table[c] = {"precision": round(prec, 4), "recall": round(rec, 4),
                    "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
                    "support": tp + fn}
    cm = Counter(rows)
    matrix = [[cm[(t, p)] for p in labels] for t in labels]
    return table, {"labels": labels, "matrix": matrix}


def run_capture(flows_bin, cap, base, model, compat):
    """Returns [(true, predicted)] for the flow ends of one capture."""
    entry = dict(cap, path=os.path.abspath(os.path.join(base, cap["path"])))
    with tempfile.TemporaryDirectory() as tmp:
        man = os.path.join(tmp, "one.json")
        with open(man, "w") as f:
            json.dump({"captures": [entry]}, f)
        proc = subprocess.run([flows_bin, "--manifest", man, "--model", model, "--compat",
                               compat, "--no-progress", "-q"], capture_output=True, text=True)
    if proc.returncode not in (0, 2):
        sys.exit(f"evaluate: ddos-flows failed on {cap['path']}: {proc.stderr.strip()}")
    reader = csv.DictReader(io.StringIO(proc.stdout))
    label_col = "Label" if "Label" in reader.fieldnames else " Label"
    return [(r[label_col], r["Predicted Label"]) for r in reader]


MAX_REAL_ATTACKERS = 4
LEVELS = ["low", "medium", "high", "critical"]


def capture_traffic(flows_bin, path):
    """(first packet time in µs, {dst: packets}, {dst: {src: packets}}) from ddos-flows."""
    proc = subprocess.run([flows_bin, "-r", path, "--no-progress", "-q"], capture_output=True,
                          text=True)
    if proc.returncode not in (0, 2):
        sys.exit(f"evaluate: ddos-flows failed on {path}: {proc.stderr.strip()}")
    to_dst, pairs, first = Counter(), defaultdict(Counter), None
    for r in csv.DictReader(io.StringIO(proc.stdout)):
        n = int(float(r["Total Fwd Packets"])) + int(float(r["Total Backward Packets"]))
        to_dst[r["Destination IP"]] += int(float(r["Total Fwd Packets"]))
        to_dst[r["Source IP"]] += int(float(r["Total Backward Packets"]))
        pairs[r["Destination IP"]][r["Source IP"]] += n
        ts = r["Timestamp"]
        first = ts if first is None or ts < first else first
    return first, to_dst, pairs


def parse_ts_us(text):
    """ddos-flows' "yyyy-mm-dd HH:MM:SS.ffffff" (UTC) to µs since the epoch."""
    from datetime import datetime, timezone
    d = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond


def run_ddosd(ddosd_bin, path, model):
    """{ip: verdict dict} from `ddosd -r path --verdicts-out`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "verdicts.jsonl")
        cmd = [ddosd_bin, "-r", path, "--redis", "none", "--api", "none", "--model", model,
               "--verdicts-out", out, "--set", "log.level=warn"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode not in (0, 2):
            sys.exit(f"evaluate: ddosd failed on {path}: {proc.stderr.strip()}")
        verdicts = {}
        with open(out) as f:
            for line in f:
                v = json.loads(line)
                verdicts[v["ip"]] = v
        return verdicts


def level_of(v):
    return LEVELS.index(v.get("peak_level", v["threat_level"])) if v else 0


def reached_high(v, first_us):
    """(reached, seconds after the first packet or None)."""
    if not v or level_of(v) < 2:
        return False, None
    at = v.get("first_high_us") or v.get("first_critical_us")
    return True, (round((at - first_us) / 1e6, 3) if at and first_us else None)


def per_ip_view(manifest, base, ddosd_bin, flows_bin, model):
    print(f"\nper-IP view (ddosd --verdicts-out; model {os.path.basename(model)} + rate rules)")
    print(f"{'capture':<40} {'label':<18} {'victim':<26} {'reached':>8} {'after s':>8}  "
          "attackers / highest level")
    results = {}
    for cap in manifest["captures"]:
        path = os.path.abspath(os.path.join(base, cap["path"]))
        verdicts = run_ddosd(ddosd_bin, path, model)
        label = cap["label"]
        row = {"label": label}
        if label in NOT_DDOS:
            worst = max(verdicts.values(), key=level_of, default=None)
            row["highest_level"] = LEVELS[level_of(worst)]
            row["highest_ip"] = worst["ip"] if worst else None
            row["false_alarm"] = level_of(worst) >= 2
            print(f"{os.path.basename(cap['path']):<40} {label:<18} {'-':<26} {'-':>8} {'-':>8}  "
                  f"highest {row['highest_level']}" + (f" ({row['highest_ip']})" if worst else ""))
        else:
            first, to_dst, pairs = capture_traffic(flows_bin, path)
            first_us = parse_ts_us(first) if first else None
            victim = cap.get("victim") or (to_dst.most_common(1)[0][0] if to_dst else None)
            ok, after = reached_high(verdicts.get(victim), first_us)
            srcs = [s for s in pairs.get(victim, {}) if s != victim]
            attackers = {}
            if 0 < len(srcs) <= MAX_REAL_ATTACKERS:
                for a in srcs:
                    a_ok, a_after = reached_high(verdicts.get(a), first_us)
                    attackers[a] = {"reached_high": a_ok, "after_s": a_after,
                                    "level": LEVELS[level_of(verdicts.get(a))]}
            row.update({"victim": victim, "reached_high": ok, "after_s": after,
                        "victim_level": LEVELS[level_of(verdicts.get(victim))],
                        "spoofed_or_many_sources": len(srcs) > MAX_REAL_ATTACKERS,
                        "sources": len(srcs), "attackers": attackers})
            att = ", ".join(f"{a} {x['level']}" for a, x in attackers.items()) or \
                f"{len(srcs)} sources (not judged)"
            print(f"{os.path.basename(cap['path']):<40} {label:<18} {str(victim):<26} "
                  f"{('yes' if ok else 'NO'):>8} {str(after if after is not None else '-'):>8}  "
                  + att)
        results[cap["path"]] = row
    attacks = [r for r in results.values() if "victim" in r]
    benign = [r for r in results.values() if "highest_level" in r]
    summary = {
        "attack_captures": len(attacks),
        "victims_reached_high": sum(r["reached_high"] for r in attacks),
        "median_seconds_to_high": sorted(r["after_s"] for r in attacks if r["after_s"] is not None)[
            len([r for r in attacks if r["after_s"] is not None]) // 2]
        if any(r["after_s"] is not None for r in attacks) else None,
        "benign_captures": len(benign),
        "benign_false_alarms": sum(r["false_alarm"] for r in benign),
    }
    print(f"\nvictims flagged high: {summary['victims_reached_high']}/{summary['attack_captures']}"
          f"; median time to high {summary['median_seconds_to_high']} s; benign captures with a "
          f"high/critical IP: {summary['benign_false_alarms']}/{summary['benign_captures']}")
    return {"summary": summary, "captures": results}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "ddosd-model.msgpack"))
    ap.add_argument("--out", help="write the report as JSON here")
    ap.add_argument("--bin", help="directory holding ddos-flows and ddos-model")
    ap.add_argument("--compat", choices=["fixed", "cic"],
                    help="extractor mode (default: the one the model was trained on)")
    ap.add_argument("--view", choices=["flows", "ip", "both"], default="both",
                    help="flow-level figures (ddos-flows), per-IP verdicts (ddosd), or both")
    args = ap.parse_args()

    flows_bin = ddtools.find_bin("ddos-flows", args.bin, "evaluate")
    compat = args.compat or model_mode(ddtools.find_bin("ddos-model", args.bin, "evaluate"),
                                       args.model)
    manifest = json.load(open(args.manifest))
    base = os.path.dirname(os.path.abspath(args.manifest))

    report = {"manifest": os.path.abspath(args.manifest), "model": os.path.abspath(args.model),
              "compat": compat}
    if args.view in ("ip", "both"):
        report["per_ip"] = per_ip_view(manifest, base, ddtools.find_bin("ddosd", args.bin,
                                                                        "evaluate"),
                                       flows_bin, args.model)
    if args.view == "ip":
        if args.out:
            with open(args.out, "w") as f:
                json.dump(report, f, indent=2)
            print(f"\nwrote {args.out}")
        return

    all_rows, per_capture = [], {}
    print(f"{'capture':<40} {'label':<18} {'flows':>7} {'prec':>6} {'recall':>6} {'F1':>6} "
          f"{'bFPR':>7}  predicted")
    for cap in manifest["captures"]:
        rows = run_capture(flows_bin, cap, base, args.model, compat)
        all_rows += rows
        fig = figures(rows)
        top = Counter(p for _, p in rows).most_common(3)
        fig["predicted"] = dict(top)
        fig["label"] = cap["label"]
        per_capture[cap["path"]] = fig
        bfpr = "-" if fig["benign_fpr"] is None else f"{fig['benign_fpr']:.4f}"
        print(f"{os.path.basename(cap['path']):<40} {cap['label']:<18} {fig['flows']:>7} "
              f"{fig['precision']:>6.3f} {fig['recall']:>6.3f} {fig['f1']:>6.3f} {bfpr:>7}  "
              + ", ".join(f"{k} {v}" for k, v in top))

    overall = figures(all_rows)
    table, cm = per_class(all_rows)
    print(f"\noverall ({overall['flows']} flows): DDoS precision {overall['precision']:.4f}, "
          f"recall {overall['recall']:.4f}, F1 {overall['f1']:.4f}, benign FPR "
          f"{overall['benign_fpr'] if overall['benign_fpr'] is not None else '-'}")
    print(f"\n{'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for c, v in table.items():
        print(f"{c:<20} {v['precision']:>9.4f} {v['recall']:>7.4f} {v['f1']:>6.4f} "
              f"{v['support']:>8}")
    print("\nconfusion matrix (rows true, columns predicted):")
    w = max(8, max(len(x) for x in cm["labels"]) + 1)
    print(" " * w + "".join(f"{x[:w - 1]:>{w}}" for x in cm["labels"]))
    for lab, row in zip(cm["labels"], cm["matrix"]):
        print(f"{lab:<{w}}" + "".join(f"{v:>{w}}" for v in row))

    if args.out:
        report.update({"overall": overall, "per_class": table, "confusion_matrix": cm,
                       "per_capture": per_capture})
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
