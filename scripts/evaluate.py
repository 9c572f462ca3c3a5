#!/usr/bin/python3
"""evaluate.py - how well ddosd detects the attacks of labelled manifests, per flow and per IP.

For every capture of one or more manifests (--manifest, repeatable), one `ddos-flows --manifest
--model` pass gives the flow view and the traffic facts of the per-IP view, and one
`ddosd -r CAPTURE --verdicts-out` run gives the verdicts an operator would see (model, rate
rules and the per-IP judge). Captures run in parallel (--jobs, default 2).

Flow view (flow ends only, not in-flow snapshots): DDoS precision, recall and F1 (a flow is DDoS
when its label is neither `benign` nor `portscan`), the benign-flow false-positive rate (benign
flows called any attack), a per-class table and a confusion matrix.

Per-IP view, judged with the manifest's per-IP truth (../shared/data/README.md): `victims` must
reach high (time to high counted from the attack's `onset`, else from the victim's first
packet); `attackers` are real sources that should reach high; `"sources": "spoofed"` or
`"reflectors"`: every other address that sent attack flows to a victim must stay at low (one by
one); every other address is benign and must not reach high; `"per_ip": "skip: why"` excludes a
capture; a capture without victims is judged benign per IP. Levels are the highest each IP
reached during the replay (peak_level); the attack type is the verdict's vs the attack's label.

--folds K (or loo) cross-validates by capture: the captures of all given manifests are dealt
into K folds (seeded, stratified), a model is trained without each fold
(scripts/train_model.py --exclude-captures) and judges that fold only, so no capture is judged
by a model that saw it. Fold models are cached (scripts/evalfolds.py).

usage: /usr/bin/python3 scripts/evaluate.py --manifest M.json [--manifest M2.json ...]
           [--model F | --folds K|loo [--fold-seed N] [--model-seed N] [--fast] [--retrain]
                                      [--train-work DIR]]
           [--view flows|ip|both] [--jobs N] [--bin DIR] [--compat fixed|cic] [--work DIR]
           [-c config.json] [--set KEY=VALUE ...] [--out report.json] [--png report.png]
           [--verdicts-dir DIR] [--flows-dir DIR]
           [--metrics-into models/model-metrics.json] [--list all|problems]
Programs are found in --bin DIR, in build/, or on PATH. Exit status: 0 done (even with
unreadable captures, which are reported and counted), 1 bad arguments, manifest or missing
program.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddtools  # noqa: E402
import evalfolds  # noqa: E402
import evalkit  # noqa: E402
from evalkit import LEVELS  # noqa: E402

ROOT = os.path.dirname(HERE)


def fail(msg):
    print(f"evaluate: {msg}", file=sys.stderr)
    sys.exit(1)


def find_bin(name, bin_dir):
    try:
        return os.path.abspath(ddtools.find_bin(name, bin_dir, "evaluate"))
    except SystemExit:
        fail(f"cannot find {name}: build it (cmake -S . -B build && cmake --build build -j2), "
             "or pass --bin BUILD_DIR")


def model_mode(ddos_model, model):
    """The feature mode a model file was trained on (ddos-model info prints it)."""
    out = subprocess.run([ddos_model, "info", model], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"model {model}: {(out.stderr.strip() or out.stdout.strip()).splitlines()[-1]}")
    for line in out.stdout.splitlines():
        low = line.lower()
        if "mode" in low and ("cic" in low or "fixed" in low):
            return "cic" if "cic" in low.split("mode", 1)[1] else "fixed"
    return "fixed"


def log(msg):
    print(f"[evaluate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Progress:
    def __init__(self, total):
        self.total, self.done, self.errors, self.t0 = total, 0, 0, time.time()
        self.tty = sys.stderr.isatty()

    def step(self, res):
        self.done += 1
        self.errors += "error" in res
        line = (f"[evaluate] {self.done}/{self.total} captures, {self.errors} unreadable, "
                f"{time.time() - self.t0:.0f} s")
        if self.tty:
            print("\r" + line, end="" if self.done < self.total else "\n", file=sys.stderr,
                  flush=True)
        elif self.done % 50 == 0 or self.done == self.total:
            print(line, file=sys.stderr, flush=True)


def failed_job(job, e):
    """The result of a capture whose processing raised: that capture's error, not the run's."""
    return {"path": job["entry"]["abs_path"], "label": job["entry"]["label"],
            "error": f"{type(e).__name__}: {e}", "model": job["model"], "fold": job.get("fold"),
            "attack_capture": evalkit.is_attack_capture(job["entry"])}


def run_all(jobs, workers):
    prog = Progress(len(jobs))
    results = [None] * len(jobs)
    if workers <= 1:
        for i, j in enumerate(jobs):
            try:
                results[i] = evalkit.run_capture(j)
            except Exception as e:
                results[i] = failed_job(j, e)
            prog.step(results[i])
        return results
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futs = {ex.submit(evalkit.run_capture, j): i for i, j in enumerate(jobs)}
        for fu in as_completed(futs):
            i = futs[fu]
            try:
                results[i] = fu.result()
            except Exception as e:
                results[i] = failed_job(jobs[i], e)
            prog.step(results[i])
    return results


# ---- printing -----------------------------------------------------------------------------------

def short(path, width=38):
    b = os.path.basename(path)
    return b if len(b) <= width else b[:width - 2] + ".."


def ip_problem(r):
    p = r.get("per_ip")
    if not p or p["kind"] == "skip":
        return False
    if p["benign_ips_high"] or p.get("sources_above_low"):
        return True
    return any(not v["reached_high"] or not v["type_right"] or v["seconds_to_high"] is None
               or v["seconds_to_high"] > 1.0 for a in p.get("attacks", []) for v in a["victims"])


def print_ip_view(results, listing):
    print("\nper-IP view (ddosd -r CAPTURE --verdicts-out; levels are each IP's peak)")
    print(f"{'capture':<38} {'label':<17} {'victim':<22} {'peak':<8} {'to high':>8} "
          f"{'type (verdict)':<18} {'spoofed':>7}  other")
    for r in results:
        p = r.get("per_ip")
        if not p:
            continue
        if p["kind"] == "skip":
            if listing == "all":
                print(f"{short(r['path']):<38} {r['label']:<17} skipped: {p['reason']}")
            continue
        if listing != "all" and not ip_problem(r) and p["kind"] == "benign":
            continue
        if p["kind"] == "benign":
            hi = p["benign_ips_high"]
            print(f"{short(r['path']):<38} {r['label']:<17} {'(benign per IP)':<22} "
                  f"{max(p['levels'], key=LEVELS.index, default='low'):<8} {'-':>8} "
                  f"{'-':<18} {'-':>7}  "
                  + (f"{hi} benign IP(s) at high+: " + "; ".join(p["benign_ips_high_list"][:4])
                     if hi else f"{p['benign_ips_medium']} at medium"))
            continue
        for a in p["attacks"]:
            for v in a["victims"]:
                t = "-" if v["seconds_to_high"] is None else f"{v['seconds_to_high']:.3f}"
                typ = (v["attack_type"] or "-") + ("" if v["type_right"] else " X")
                sp = "-" if v["spoofed_sources"] is None else str(v["spoofed_sources"])
                other = []
                if a["attackers"]:
                    hi = sum(x["reached_high"] for x in a["attackers"])
                    other.append(f"attackers high {hi}/{len(a['attackers'])}")
                if a["sources"]:
                    other.append(f"{a['sources']} above low {p['sources_above_low']}/"
                                 f"{p['sources_judged']}")
                if p["benign_ips_high"]:
                    other.append(f"benign IPs high {p['benign_ips_high']}")
                print(f"{short(r['path']):<38} {a['label']:<17} {v['ip']:<22} "
                      f"{v['level'] + ('' if v['reached_high'] else ' X'):<8} {t:>8} "
                      f"{typ:<18} {sp:>7}  " + ", ".join(other))


def print_ip_summary(s, problems):
    def frac(a, b):
        return f"{a}/{b}"
    print(f"\nper-IP summary ({s['captures_judged']} captures judged, "
          f"{s['captures_skipped']} skipped)")
    print(f"  victims at high or above:               {frac(s['victims_high'], s['victims'])}"
          f" (within 1 s of onset {s['victims_high_within_1s']}; median "
          f"{s['median_seconds_to_high']} s, max {s['max_seconds_to_high']} s)")
    print(f"  attack captures, every victim high <=1s: "
          f"{frac(s['attack_captures_all_victims_high_within_1s'], s['attack_captures'])}")
    print(f"  attack type right per victim:           "
          f"{frac(s['victims_type_right'], s['victims'])} (of those at high: "
          f"{frac(s['victims_high_type_right'], s['victims_high'])}); published as role "
          f"victim {s['victims_role_victim']}")
    print(f"  real attackers at high or above:        {frac(s['attackers_high'], s['attackers'])}")
    print(f"  spoofed/reflector sources above low:    {s['spoofed_or_reflector_above_low']} of "
          f"{s['spoofed_or_reflector_sources']}; counted in victims' verdicts "
          f"(spoofed_sources): {s['spoofed_sources_counted']} at {s['victims_with_spoofed_count']}"
          " victim(s)")
    print(f"  benign captures with an IP at high+:    "
          f"{frac(s['benign_captures_with_high_ip'], s['benign_captures'])}")
    print(f"  benign IPs at high+ (all captures):     {s['benign_ips_high']} "
          f"({s['benign_ips_high_in_attack_captures']} in attack captures); at medium "
          f"{s['benign_ips_medium']}")
    for line in problems:
        print("    " + line)


def ip_problem_lines(results):
    lines = []
    for r in results:
        p = r.get("per_ip")
        if not p or p["kind"] == "skip":
            continue
        if p["benign_ips_high"]:
            lines.append(f"{short(r['path'], 60)}: benign at high+: "
                         + "; ".join(p["benign_ips_high_list"][:6]))
        if p.get("sources_above_low"):
            lines.append(f"{short(r['path'], 60)}: {p['sources_above_low']} spoofed/reflector "
                         "sources above low, e.g. " + "; ".join(p["sources_above_low_examples"][:4]))
    return lines


def print_flow_view(results, listing, most=15):
    print("\nflow view (ddos-flows --model; flow ends)")
    print(f"{'capture':<38} {'label':<17} {'flows':>7} {'prec':>6} {'recall':>6} {'F1':>6} "
          f"{'bFPR':>7}  predicted")
    rows = [r for r in results if "flow_pairs" in r]
    hidden = 0
    if listing != "all":
        # Attack captures, then the benign captures with the most false positives.
        attack = [r for r in rows if r["attack_capture"]]
        fps = sorted((r for r in rows if not r["attack_capture"] and r["flow_figures"]["fp"]),
                     key=lambda r: -r["flow_figures"]["fp"])
        hidden = max(0, len(fps) - most)
        rows = attack + fps[:most]
    for r in rows:
        fig = r["flow_figures"]
        top = Counter()
        for _, p, n in r["flow_pairs"]:
            top[p] += n
        bfpr = "-" if fig["benign_fpr"] is None else f"{fig['benign_fpr']:.4f}"
        has_ddos = fig["tp"] + fig["fn"] > 0
        rec = f"{fig['recall']:>6.3f}" if has_ddos else f"{'-':>6}"
        f1 = f"{fig['f1']:>6.3f}" if has_ddos else f"{'-':>6}"
        prec = f"{fig['precision']:>6.3f}" if fig["tp"] + fig["fp"] else f"{'-':>6}"
        print(f"{short(r['path']):<38} {r['label']:<17} {fig['flows']:>7} {prec} {rec} {f1} "
              f"{bfpr:>7}  " + ", ".join(f"{k} {v}" for k, v in top.most_common(3)))
    if hidden:
        print(f"... and {hidden} more benign captures with false-positive flows (--list all, "
              "or the --out report)")


def print_flow_summary(overall, table, cm, attack_only, benign_only):
    print(f"\nflow summary ({overall['flows']} flows): DDoS precision {overall['precision']:.4f}"
          f", recall {overall['recall']:.4f}, F1 {overall['f1']:.4f}; benign-flow FPR "
          f"{overall['benign_fpr'] if overall['benign_fpr'] is not None else '-'} "
          f"({overall['benign_flows']} benign flows)")
    if attack_only["flows"]:
        print(f"  on attack captures: DDoS-flow recall {attack_only['recall']:.4f} "
              f"({attack_only['tp']} of {attack_only['tp'] + attack_only['fn']})")
    if benign_only["flows"]:
        print(f"  on benign captures: benign-flow FPR {benign_only['benign_fpr']} "
              f"({benign_only['benign_flagged']} of {benign_only['benign_flows']} benign flows "
              "given an attack label)")
    print(f"\n{'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for c, v in table.items():
        print(f"{c:<20} {v['precision']:>9.4f} {v['recall']:>7.4f} {v['f1']:>6.4f} "
              f"{v['support']:>8}")
    print("\nconfusion matrix (rows true, columns predicted):")
    w = max(8, max((len(x) for x in cm["labels"]), default=6) + 1)
    print(" " * w + "".join(f"{x[:w - 1]:>{w}}" for x in cm["labels"]))
    for lab, row in zip(cm["labels"], cm["matrix"]):
        print(f"{lab:<{w}}" + "".join(f"{v:>{w}}" for v in row))


# ---- main ---------------------------------------------------------------------------------------

def parse_folds(text):
    if text is None or text == "loo":
        return text
    try:
        k = int(text)
    except ValueError:
        fail(f"--folds {text!r}: a number of folds (2 or more) or loo")
    if k < 2:
        fail("--folds: at least 2 folds")
    return k


def merge_metrics(path, block):
    try:
        with open(path) as f:
            doc = json.load(f)
        if not isinstance(doc, dict):
            fail(f"--metrics-into {path}: not a JSON object")
    except FileNotFoundError:
        doc = {}
    except ValueError as e:
        fail(f"--metrics-into {path}: not valid JSON ({e})")
    doc["evaluation"] = block
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", action="append", required=True,
                    help="a labelled manifest (repeatable)")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "ddosd-model.msgpack"))
    ap.add_argument("--out", help="write the whole report as JSON here")
    ap.add_argument("--png", help="write a picture of the report here (per-class bars, per-IP "
                    "outcomes, a timeline of victims flagged; default with --out: beside it)")
    ap.add_argument("--bin", help="build directory holding ddos-flows, ddosd and ddos-model")
    ap.add_argument("--compat", choices=["fixed", "cic"],
                    help="extractor mode (default: the one the model was trained on)")
    ap.add_argument("--view", choices=["flows", "ip", "both"], default="both")
    ap.add_argument("--jobs", type=int, default=2, help="captures run in parallel (default 2)")
    ap.add_argument("-c", "--config", help="config.json for ddosd (default: its defaults)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to ddosd --set (repeatable)")
    ap.add_argument("--folds", help="cross-validate by capture: K folds, or loo")
    ap.add_argument("--fold-seed", type=int, default=1, help="fold assignment seed")
    ap.add_argument("--model-seed", type=int, default=20261124, help="train_model.py --seed")
    ap.add_argument("--fast", action="store_true", help="train fold models with --fast")
    ap.add_argument("--retrain", action="store_true", help="ignore cached fold models")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "evaluate"),
                    help="fold models and training data (default build/evaluate)")
    ap.add_argument("--train-work", default=os.path.join(ROOT, "build", "train"),
                    help="the trainer's scratch directory for fold trainings (default "
                    "build/train, train_model.py's own: its generated captures and extracted "
                    "rows, tens of GB, are reused)")
    ap.add_argument("--metrics-into", help="merge the figures into this metrics JSON under "
                    "the key 'evaluation' (other keys are kept)")
    ap.add_argument("--verdicts-dir", help="also write each capture's ddosd verdicts (JSON "
                    "lines) in this directory")
    ap.add_argument("--flows-dir", help="also write each capture's scored flows (ddos-flows "
                    "CSV with Label and Predicted Label) in this directory")
    ap.add_argument("--list", choices=["all", "problems"],
                    help="per-capture rows: all, or only captures with a problem (default: all "
                    "up to 40 captures)")
    args = ap.parse_args()
    folds = parse_folds(args.folds)
    t_start = time.time()

    entries, seen = [], set()
    for m in args.manifest:
        try:
            for e in evalkit.load_manifest(m):
                if e["abs_path"] in seen:
                    continue
                seen.add(e["abs_path"])
                entries.append(e)
        except evalkit.ManifestError as e:
            fail(str(e))
    if not entries:
        fail("the manifests list no captures")
    views = {"flows", "ip"} if args.view == "both" else {args.view}
    flows_bin = find_bin("ddos-flows", args.bin)
    ddosd_bin = find_bin("ddosd", args.bin) if "ip" in views else None
    ddos_model = find_bin("ddos-model", args.bin)
    ddosd_args = []
    if args.config:
        if not os.path.isfile(args.config):
            fail(f"--config {args.config}: no such file")
        ddosd_args += ["-c", os.path.abspath(args.config)]
    for kv in args.set:
        ddosd_args += ["--set", kv]
    if args.verdicts_dir:
        os.makedirs(args.verdicts_dir, exist_ok=True)
        args.verdicts_dir = os.path.abspath(args.verdicts_dir)
    if args.flows_dir:
        os.makedirs(args.flows_dir, exist_ok=True)
        args.flows_dir = os.path.abspath(args.flows_dir)
    listing = args.list or ("all" if len(entries) <= 40 else "problems")

    # Which model judges which capture.
    model_of, fold_of, fold_info = {}, {}, {}
    if folds is not None:
        trainer = os.path.join(HERE, "train_model.py")
        if not evalfolds.trainer_supports_exclude(trainer):
            fail("scripts/train_model.py has no --exclude-captures option yet: --folds needs it")
        assign = evalfolds.assign_folds(entries, folds, args.fold_seed)
        desc = evalfolds.describe(assign, entries)
        nf = len(desc)
        log(f"{nf} folds over {len(assign)} captures (seed {args.fold_seed}): " + ", ".join(
            f"{f}: {d['attack']} attack + {d['benign']} benign" for f, d in sorted(desc.items())
        ) if nf <= 12 else f"{nf} folds (leave one capture out)")
        os.makedirs(args.work, exist_ok=True)
        bin_dir = os.path.abspath(args.bin) if args.bin else None
        for f in sorted(desc):
            paths = sorted(p for p, g in assign.items() if g == f)
            model, key = evalfolds.train_fold(trainer, os.path.abspath(args.work), f, paths,
                                              args.model_seed, args.fast, bin_dir, flows_bin,
                                              args.retrain, log,
                                              os.path.abspath(args.train_work))
            fold_info[f] = {"model": model, "key": key, **desc[f], "paths": paths}
            for p in paths:
                model_of[p], fold_of[p] = model, f
    else:
        if not os.path.isfile(args.model):
            fail(f"model {args.model}: no such file (train one: scripts/train_model.py)")
        for e in entries:
            model_of[e["abs_path"]] = os.path.abspath(args.model)
    modes = {}
    for m in set(model_of.values()):
        modes[m] = args.compat or model_mode(ddos_model, m)

    jobs = [{"entry": e, "flows_bin": flows_bin, "ddosd_bin": ddosd_bin,
             "model": model_of[e["abs_path"]], "compat": modes[model_of[e["abs_path"]]],
             "views": views, "ddosd_args": ddosd_args, "fold": fold_of.get(e["abs_path"]),
             "verdicts_dir": args.verdicts_dir, "flows_dir": args.flows_dir}
            for e in entries]
    log(f"{len(jobs)} captures from {len(args.manifest)} manifest(s), {args.jobs} workers, "
        f"view {args.view}")
    results = run_all(jobs, max(1, args.jobs))
    elapsed = round(time.time() - t_start, 1)

    errors = [r for r in results if "error" in r]
    ok = [r for r in results if "error" not in r]
    for r in ok:
        if "flow_pairs" in r:
            r["flow_figures"] = evalkit.flow_figures([tuple(x) for x in r["flow_pairs"]])

    report = {"manifests": [os.path.abspath(m) for m in args.manifest],
              "command": " ".join(sys.argv), "elapsed_s": elapsed,
              "captures": len(results), "unreadable": len(errors),
              "unreadable_list": [{"path": r["path"], "error": r["error"]} for r in errors]}
    if folds is None:
        report["model"] = os.path.abspath(args.model)
    else:
        report["folds"] = {"k": folds, "seed": args.fold_seed, "model_seed": args.model_seed,
                           "fast": args.fast,
                           "per_fold": {str(f): {k: v for k, v in d.items() if k != "paths"}
                                        for f, d in fold_info.items()}}
        print("\nfolds (every capture judged by a model trained without it):")
        for f, d in sorted(fold_info.items()):
            print(f"  fold {f}: {d['captures']} captures ({d['attack']} attack, "
                  f"{d['benign']} benign) judged by {d['model']}")
            if listing == "all":
                for p in d["paths"]:
                    print(f"      {short(p, 70)}")

    if "ip" in views:
        print_ip_view(ok, listing)
        s = evalkit.ip_summary(ok)
        problems = ip_problem_lines(ok)
        print_ip_summary(s, problems)
        report["per_ip"] = {"summary": s}
    if "flows" in views:
        pairs, attack_pairs, benign_pairs = Counter(), Counter(), Counter()
        for r in ok:
            for t, p, n in r.get("flow_pairs", []):
                pairs[(t, p)] += n
                (attack_pairs if r["attack_capture"] else benign_pairs)[(t, p)] += n
        flat = [(t, p, n) for (t, p), n in pairs.items()]
        overall = evalkit.flow_figures(flat)
        table, cm = evalkit.per_class(flat)
        a_fig = evalkit.flow_figures([(t, p, n) for (t, p), n in attack_pairs.items()])
        b_fig = evalkit.flow_figures([(t, p, n) for (t, p), n in benign_pairs.items()])
        print_flow_view(ok, listing)
        print_flow_summary(overall, table, cm, a_fig, b_fig)
        report["flows"] = {"overall": overall, "on_attack_captures": a_fig,
                           "on_benign_captures": b_fig, "per_class": table,
                           "confusion_matrix": cm}
    if errors:
        print(f"\n{len(errors)} capture(s) could not be read and were skipped:")
        for r in errors:
            print(f"  {r['path']}: {r['error']}")
    print(f"\n{len(results)} captures ({len(errors)} unreadable) in {elapsed} s")

    report["per_capture"] = {r["path"]: {k: v for k, v in r.items() if k != "path"}
                             for r in results}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.out}")
    png = args.png or (os.path.splitext(args.out)[0] + ".png" if args.out else None)
    if png:
        import evalplot  # matplotlib only when a picture is wanted
        print(f"wrote {evalplot.write_png(report, ok, png)}")
    if args.metrics_into:
        block = {k: report[k] for k in ("manifests", "command", "captures", "unreadable")}
        block["generated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        block["judged_by"] = "cross-validated by capture" if folds is not None else \
            os.path.relpath(os.path.abspath(args.model), ROOT)
        if folds is not None:
            block["folds"] = json.loads(json.dumps(report["folds"]))
            for d in block["folds"]["per_fold"].values():
                if d["model"].startswith(ROOT + os.sep):
                    d["model"] = os.path.relpath(d["model"], ROOT)
        if "per_ip" in report:
            block["per_ip"] = report["per_ip"]["summary"]
        if "flows" in report:
            block["flows"] = {k: report["flows"][k] for k in
                              ("overall", "on_attack_captures", "on_benign_captures", "per_class")}
        merge_metrics(args.metrics_into, block)
        print(f"merged the figures into {args.metrics_into} (key 'evaluation')")


if __name__ == "__main__":
    main()
