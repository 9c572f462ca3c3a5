"""evalkit.py - the per-capture work of scripts/evaluate.py: manifests, per-IP truth, one run
of ddos-flows and ddosd on a capture, and the per-IP judgement of the verdicts.

DESIGN: evaluate.py fans captures out to worker processes; each worker calls run_capture(),
which returns a plain dict (picklable, JSON-ready) holding everything both views need: the
flow-level (true, predicted) counts from one `ddos-flows --manifest --model` pass, the traffic
facts the per-IP view needs from that same pass (each address's first packet time, the peers
of each victim over attack flows), and the per-IP judgement of `ddosd -r --verdicts-out`. A
capture that cannot be read gives {"error": ...} instead, never an exception, so one bad file
never ends a run. Manifest problems raise ManifestError with a one-line message.

Per-IP truth (see ../shared/data/README.md, "Per-IP truth in manifest.json"): a capture entry
may carry `victims`, `attackers`, `sources` ("spoofed" or "reflectors"), `onset`, or a list of
`attacks`, each with those keys and its own `label`; `per_ip: "skip: why"` excludes it. A
capture without victims (and not skipped) is judged benign per IP."""
import csv
import io
import ipaddress
import json
import os
import re
import subprocess
import tempfile
from collections import Counter
from datetime import datetime, timezone

LEVELS = ["low", "medium", "high", "critical"]
NOT_DDOS = frozenset({"benign", "portscan"})
SOURCE_KINDS = ("spoofed", "reflectors")
TIMEOUT_S = 1800  # one program on one capture; beyond this the capture counts as unreadable
MAX_LISTED = 20  # IPs listed per capture and category in the report (counts are complete)


class ManifestError(Exception):
    """A manifest that cannot be used; the message is one line, ready to print."""


# ---- manifests and truth -----------------------------------------------------------------------

def _ip_list(value, where, key):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ManifestError(f"{where}: '{key}' must be a list of addresses")
    return list(value)


def _onset(d, where):
    """Onset of an attack from an entry: `onset_us` (epoch µs), `onset` (epoch seconds or an
    ISO-8601 UTC time) or `onset_s` (seconds after the capture's first packet). Returns
    ("abs", µs) or ("rel", seconds) or None."""
    if d.get("onset_us") is not None:
        v = d["onset_us"]
        if not isinstance(v, (int, float)):
            raise ManifestError(f"{where}: 'onset_us' must be a number")
        return ("abs", int(v))
    if d.get("onset") is not None:
        v = d["onset"]
        if isinstance(v, (int, float)):
            return ("abs", int(round(v * 1e6)))
        if isinstance(v, str):
            try:
                t = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ManifestError(f"{where}: 'onset' {v!r} is not an ISO-8601 time") from None
            if t.tzinfo is None:
                t = t.replace(tzinfo=timezone.utc)
            return ("abs", int(round(t.timestamp() * 1e6)))
        raise ManifestError(f"{where}: 'onset' must be epoch seconds or an ISO-8601 time")
    if d.get("onset_s") is not None:
        v = d["onset_s"]
        if not isinstance(v, (int, float)):
            raise ManifestError(f"{where}: 'onset_s' must be a number")
        return ("rel", float(v))
    return None


def _nets(value, where, key):
    out = []
    for text in _ip_list(value, where, key):
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ManifestError(f"{where}: '{key}': {text!r} is not an address block") from None
    return out


def _attack(d, label, where):
    """One attack: label, victims, attackers, sources (spoofed, reflectors, bots or None),
    bot blocks (`attacker_cidrs`), a carpet-bombed block (`victim_net`), onset, and `skip`
    when the attack itself is not judged per IP (a port scan in a generated capture)."""
    src = d.get("sources")
    if src is not None and src not in SOURCE_KINDS + ("bots",):
        raise ManifestError(f"{where}: 'sources' must be one of "
                            f"{', '.join(SOURCE_KINDS + ('bots',))}")
    lab = d.get("label", d.get("attack_type", label))
    if not isinstance(lab, str):
        raise ManifestError(f"{where}: 'label' must be a string")
    skip = d.get("per_ip")
    return {"label": lab, "victims": _ip_list(d.get("victims"), where, "victims"),
            "attackers": _ip_list(d.get("attackers"), where, "attackers"),
            "sources": src, "onset": _onset(d, where),
            "bots": _nets(d.get("attacker_cidrs"), where, "attacker_cidrs"),
            "victim_net": _nets(d.get("victim_net"), where, "victim_net"),
            "skip": skip if isinstance(skip, str) and skip.startswith("skip") else None}


def capture_truth(entry, where):
    """{"skip": reason or None, "attacks": [...], "others": [...]} for one manifest entry.
    `attacks` are the judged attacks (with victims); `others` the rest (skipped, carpet
    bombing, no victim), whose addresses are not judged as benign. A capture is judged as an
    attack capture when some attack names victims, else benign per IP."""
    per_ip = entry.get("per_ip")
    if per_ip is not None:
        if not isinstance(per_ip, str):
            raise ManifestError(f"{where}: 'per_ip' must be a string ('skip: why')")
        if per_ip.startswith("skip"):
            return {"skip": per_ip.split(":", 1)[1].strip() if ":" in per_ip else per_ip,
                    "attacks": [], "others": []}
    attacks = []
    if entry.get("attacks") is not None:
        if not isinstance(entry["attacks"], list):
            raise ManifestError(f"{where}: 'attacks' must be a list")
        for i, a in enumerate(entry["attacks"]):
            if not isinstance(a, dict):
                raise ManifestError(f"{where}: attacks[{i}] must be an object")
            attacks.append(_attack(a, entry.get("label", "benign"), f"{where}: attacks[{i}]"))
    elif entry.get("victims") is not None:
        attacks.append(_attack(entry, entry.get("label", "benign"), where))
    judged = [a for a in attacks if a["victims"] and not a["skip"]]
    return {"skip": None, "attacks": judged, "others": [a for a in attacks if a not in judged]}


def load_manifest(path):
    """[capture entry with an absolute `abs_path`, the manifest's path and its truth]."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ManifestError(f"manifest {path}: no such file") from None
    except OSError as e:
        raise ManifestError(f"manifest {path}: {e.strerror}") from None
    except ValueError as e:
        raise ManifestError(f"manifest {path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("captures"), list):
        raise ManifestError(f"manifest {path}: no 'captures' list")
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for i, c in enumerate(doc["captures"]):
        where = f"manifest {path}: captures[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("path"), str) or not c["path"]:
            raise ManifestError(f"{where}: needs a 'path'")
        if not isinstance(c.get("label", "benign"), str):
            raise ManifestError(f"{where}: 'label' must be a string")
        entry = dict(c)
        entry.setdefault("label", "benign")
        entry["abs_path"] = os.path.realpath(os.path.join(base, c["path"]))
        entry["manifest"] = os.path.abspath(path)
        entry["truth"] = capture_truth(c, f"{where} ({c['path']})")
        out.append(entry)
    return out


def is_attack_capture(entry):
    """Attack captures (for stratified folds and the flow figures "on attack captures"): a
    label other than benign, a labelling rule to a non-benign label, or victims."""
    return entry["label"] != "benign" or bool(entry["truth"]["attacks"]) or any(
        r.get("label", "benign") != "benign" for r in entry.get("rules", [])
        if isinstance(r, dict))


# ---- one capture ---------------------------------------------------------------------------------

def parse_ts_us(text):
    """ddos-flows' "yyyy-mm-dd HH:MM:SS.ffffff" (UTC) to µs since the epoch."""
    d = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond


def capture_tag(entry):
    """A file name for per-capture outputs: the capture's name plus a short hash of its full
    path (names repeat across manifests)."""
    import hashlib
    tag = hashlib.sha256(entry["abs_path"].encode()).hexdigest()[:8]
    return f"{os.path.basename(entry['abs_path'])}.{tag}"


def _flows_pass(flows_bin, entry, model, compat, keep_rows, flows_dir=None):
    """One `ddos-flows --manifest --model` pass: (rows, error). rows are dicts of the columns
    both views use (and the whole row when keep_rows)."""
    man = {k: v for k, v in entry.items() if k not in ("abs_path", "manifest", "truth")}
    man["path"] = entry["abs_path"]
    with tempfile.TemporaryDirectory(prefix="ddosd-eval-") as tmp:
        mpath = os.path.join(tmp, "one.json")
        with open(mpath, "w") as f:
            json.dump({"captures": [man]}, f)
        cmd = [flows_bin, "--manifest", mpath, "--no-progress", "-q"]
        if model:
            cmd += ["--model", model, "--compat", compat]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, f"ddos-flows ran for more than {TIMEOUT_S} s"
    if proc.returncode not in (0, 2):
        return None, f"ddos-flows exit {proc.returncode}: " + \
            (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
    if flows_dir:
        with open(os.path.join(flows_dir, capture_tag(entry) + ".flows.csv"), "w") as f:
            f.write(proc.stdout)
    reader = csv.DictReader(io.StringIO(proc.stdout))
    if not reader.fieldnames:
        return [], ("damaged capture (ddos-flows exit 2)" if proc.returncode == 2 else None)
    label_col = "Label" if "Label" in reader.fieldnames else " Label"
    rows = []
    for r in reader:
        row = {"src": r["Source IP"], "dst": r["Destination IP"], "ts": r["Timestamp"],
               "label": r.get(label_col, "benign"), "pred": r.get("Predicted Label"),
               "fwd": int(float(r["Total Fwd Packets"])),
               "bwd": int(float(r["Total Backward Packets"]))}
        if keep_rows:
            row["raw"] = r
        rows.append(row)
    return rows, ("damaged capture (flows read before the damage were used)"
                  if proc.returncode == 2 else None)


ATTACK_START = re.compile(r" attack start: (\w+) ([^,\s]+), ([^,]*), level (\w+)")


def _ddosd_pass(ddosd_bin, path, model, ddosd_args):
    """({ip: verdict}, {ip: attack type at its first attack start}, None) from `ddosd -r path
    --verdicts-out` and its log, or (None, None, error). The log's attack-start lines name the
    type an address had when it reached high; the final verdict has none when its level fell
    back to low before the replay ended."""
    with tempfile.TemporaryDirectory(prefix="ddosd-eval-") as tmp:
        out = os.path.join(tmp, "verdicts.jsonl")
        cmd = [ddosd_bin, "-r", path, "--redis", "none", "--api", "none",
               "--model", model or "", "--verdicts-out", out, "--set", "log.level=info",
               *ddosd_args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp,
                                  timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, None, f"ddosd ran for more than {TIMEOUT_S} s"
        lines = proc.stderr.strip().splitlines()
        if proc.returncode not in (0, 2) or not os.path.exists(out):
            errs = [x for x in lines if " ERROR " in x or " FATAL " in x] or lines or \
                ["(no message)"]
            return None, None, f"ddosd exit {proc.returncode}: {errs[-1]}"
        verdicts, starts = {}, {}
        with open(out) as f:
            for line in f:
                line = line.strip()
                if line:
                    v = json.loads(line)
                    verdicts[v["ip"]] = v
        for line in lines:
            m = ATTACK_START.search(line)
            if m and m.group(2) not in starts:
                starts[m.group(2)] = m.group(3).strip()
    return verdicts, starts, None


def peak_level(v):
    """The highest level an IP reached during the replay (0 low .. 3 critical)."""
    if not v:
        return 0
    return max(LEVELS.index(v.get("peak_level", v["threat_level"])),
               LEVELS.index(v["threat_level"]))


def high_at_us(v):
    """Packet time the IP first reached high or critical, or None."""
    if not v:
        return None
    at = [v[k] for k in ("first_high_us", "first_critical_us") if v.get(k)]
    return min(at) if at else None


def verdict_attack_type(v, at_start=None):
    """The attack type of a verdict: the final verdict's (or the one at its peak when ddosd
    reports `peak_attack_type`); when the final verdict has none (its level fell back to low
    before the replay ended), the type of its first attack start."""
    if not v:
        return at_start or ""
    return v.get("peak_attack_type") or v.get("attack_type") or at_start or ""


def _in_nets(ip, nets):
    if not nets:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == n.version and addr in n for n in nets)


def _attack_peers(a, flows):
    """The other ends of the attack flows (true label not benign) of an attack's victims
    (listed, or inside its carpet-bombed block)."""
    vset = set(a["victims"])
    peers = set()
    for f in flows:
        if f["label"] == "benign":
            continue
        if f["dst"] in vset or _in_nets(f["dst"], a["victim_net"]):
            peers.add(f["src"])
        elif f["src"] in vset or _in_nets(f["src"], a["victim_net"]):
            peers.add(f["dst"])
    return peers


def _source_sets(truth, flows):
    """(listed, spoofed, bots, unjudged, {id(attack): peers}) of a capture: listed are the
    victims and attackers named by any attack; the others are attack-flow peers of victims."""
    everything = truth["attacks"] + truth.get("others", [])
    listed = set()
    for a in everything:
        listed.update(a["victims"])
        listed.update(a["attackers"])
    spoofed, bots, unjudged, peers_of = set(), set(), set(), {}
    for a in everything:
        peers = peers_of[id(a)] = _attack_peers(a, flows) - listed
        if not any(a is j for j in truth["attacks"]):
            if a["sources"] in SOURCE_KINDS and not a["skip"]:
                spoofed |= peers  # carpet bombing by spoofed sources: they must stay low too
            else:
                unjudged |= peers
        elif a["sources"] in SOURCE_KINDS:
            spoofed |= peers
        elif a["sources"] == "bots":
            bots |= peers
        elif not a["attackers"]:
            unjudged |= peers  # sources not described: not judged
        # else the real attackers are listed: other attack-flow peers are judged as benign IPs
    return listed, spoofed, bots, unjudged, peers_of


def _place_in_blocks(everything, ips, listed, spoofed, bots, unjudged):
    """Addresses inside a botnet's or a carpet-bombed block join bots / unjudged (in place)."""
    bot_nets = [n for a in everything for n in a["bots"]]
    carpet = [n for a in everything for n in a["victim_net"]]
    for ip in ips:
        if ip not in listed and ip not in spoofed:
            if _in_nets(ip, bot_nets):
                bots.add(ip)
            elif _in_nets(ip, carpet):
                unjudged.add(ip)
    bots -= spoofed
    unjudged -= spoofed | bots


def categorize(entry, flows, ips):
    """{ip: category} for ips, the categories judge_ip uses: victim, attacker (listed by a
    judged attack), spoofed (spoofed sources and reflectors), bot, unjudged, benign."""
    truth = entry["truth"]
    everything = truth["attacks"] + truth.get("others", [])
    listed, spoofed, bots, unjudged, _ = _source_sets(truth, flows)
    _place_in_blocks(everything, ips, listed, spoofed, bots, unjudged)
    victims = {ip for a in truth["attacks"] for ip in a["victims"]}
    attackers = {ip for a in truth["attacks"] for ip in a["attackers"]}
    out = {}
    for ip in ips:
        if ip in victims:
            out[ip] = "victim"
        elif ip in attackers:
            out[ip] = "attacker"
        elif ip in listed:
            out[ip] = "unjudged"  # named by an attack that is not judged per IP
        elif ip in spoofed:
            out[ip] = "spoofed"
        elif ip in bots:
            out[ip] = "bot"
        elif ip in unjudged:
            out[ip] = "unjudged"
        else:
            out[ip] = "benign"
    return out


def judge_ip(entry, flows, verdicts, starts=None):
    """The per-IP judgement of one capture from its flows and ddosd's verdicts.

    Every address with a verdict falls in one category: a victim or a listed attacker of a
    judged attack; a spoofed source or reflector (an attack-flow peer of a victim whose attack
    says so: must stay low); a bot (a peer of a botnet attack, or inside its attacker_cidrs:
    reported, not judged); an address of an attack that is not judged per IP (a skipped attack,
    carpet bombing; or the peers of an attack whose sources are not described); or benign
    (everything else: must not reach high)."""
    truth = entry["truth"]
    starts = starts or {}
    first_seen = {}  # ip -> first packet time (µs) of any flow it is in
    for f in flows:
        t = f.get("ts_us")
        if t is None:
            t = f["ts_us"] = parse_ts_us(f["ts"])
        for ip in (f["src"], f["dst"]):
            if ip not in first_seen or t < first_seen[ip]:
                first_seen[ip] = t
    cap_first = min(first_seen.values()) if first_seen else None
    out = {"kind": "attack" if truth["attacks"] else "benign", "ips_with_verdict": len(verdicts),
           "levels": dict(Counter(LEVELS[peak_level(v)] for v in verdicts.values()))}

    def level_name(ip):
        return LEVELS[peak_level(verdicts.get(ip))]

    everything = truth["attacks"] + truth.get("others", [])
    listed, spoofed, bots, unjudged, peers_of = _source_sets(truth, flows)
    attacks = []
    for a in truth["attacks"]:
        vt = []
        for ip in a["victims"]:
            v = verdicts.get(ip)
            if a["onset"] and a["onset"][0] == "abs":
                onset = a["onset"][1]
            elif a["onset"] and cap_first is not None:
                onset = cap_first + int(a["onset"][1] * 1e6)
            else:
                onset = first_seen.get(ip)
            hat = high_at_us(v)
            after = round((hat - onset) / 1e6, 3) if hat is not None and onset is not None \
                else None
            at = verdict_attack_type(v, starts.get(ip))
            vt.append({"ip": ip, "level": level_name(ip), "reached_high": peak_level(v) >= 2,
                       "seconds_to_high": after, "role": v.get("role") if v else None,
                       "attack_type": at, "type_right": at == a["label"],
                       "attack_type_final": (v or {}).get("attack_type") or "",
                       "attack_type_at_start": starts.get(ip, ""),
                       "spoofed_sources": (v or {}).get("spoofed_sources"),
                       "spoofed_examples": (v or {}).get("spoofed_examples"),
                       "reasons": (v or {}).get("reasons", []), "seen": ip in first_seen})
        at_ = [{"ip": ip, "level": level_name(ip),
                "reached_high": peak_level(verdicts.get(ip)) >= 2,
                "role": (verdicts.get(ip) or {}).get("role"),
                "attack_type": verdict_attack_type(verdicts.get(ip), starts.get(ip))}
               for ip in a["attackers"]]
        attacks.append({"label": a["label"], "sources": a["sources"], "victims": vt,
                        "attackers": at_, "attack_flow_peers": len(peers_of[id(a)])})
    out["attacks"] = attacks
    _place_in_blocks(everything, verdicts, listed, spoofed, bots, unjudged)
    # Spoofed sources and reflectors must stay at low, one by one.
    above = sorted((ip for ip in spoofed if peak_level(verdicts.get(ip)) > 0),
                   key=lambda ip: (-peak_level(verdicts.get(ip)), ip))
    out["sources_judged"] = len(spoofed)
    out["sources_above_low"] = len(above)
    out["sources_above_low_examples"] = [f"{ip} {level_name(ip)}" for ip in above[:MAX_LISTED]]
    out["bots"] = len(bots)
    out["bots_high"] = sum(1 for ip in bots if peak_level(verdicts.get(ip)) >= 2)
    # Every other address is benign here: it must not reach high.
    benign_ips = [ip for ip in verdicts if ip not in listed and ip not in spoofed
                  and ip not in bots and ip not in unjudged]
    hi = sorted((ip for ip in benign_ips if peak_level(verdicts[ip]) >= 2),
                key=lambda ip: (-peak_level(verdicts[ip]), ip))
    out["benign_ips"] = len(benign_ips)
    out["benign_ips_high"] = len(hi)
    out["benign_ips_high_list"] = [
        f"{ip} {level_name(ip)} {verdicts[ip].get('role')} "
        f"{verdict_attack_type(verdicts[ip], starts.get(ip))}"
        for ip in hi[:MAX_LISTED]]
    out["benign_ips_medium"] = sum(1 for ip in benign_ips if peak_level(verdicts[ip]) == 1)
    out["unjudged"] = len(unjudged)
    return out


def write_verdicts(directory, entry, verdicts):
    """Writes ddosd's verdicts of a capture as JSON lines; returns the file's path. The name
    is the capture's file name plus a short hash of its full path (names repeat across
    manifests)."""
    path = os.path.join(directory, capture_tag(entry) + ".verdicts.jsonl")
    with open(path, "w") as f:
        for v in verdicts.values():
            f.write(json.dumps(v, sort_keys=True) + "\n")
    return path


def run_capture(job):
    """Worker entry point. job: {"entry", "flows_bin", "ddosd_bin", "model", "compat",
    "views": {"flows","ip"}, "ddosd_args", "keep_rows", "verdicts_dir"}. Returns a JSON-ready
    dict."""
    entry = job["entry"]
    res = {"path": entry["abs_path"], "label": entry["label"], "manifest": entry["manifest"],
           "model": job["model"], "fold": job.get("fold"),
           "attack_capture": is_attack_capture(entry)}
    if not os.path.isfile(entry["abs_path"]):
        res["error"] = "no such file"
        return res
    flows, err = _flows_pass(job["flows_bin"], entry, job["model"], job["compat"],
                             job.get("keep_rows", False), job.get("flows_dir"))
    if flows is None:
        res["error"] = err
        return res
    if err:
        res["warning"] = err
    if "flows" in job["views"]:
        res["flow_pairs"] = [[t, p, n] for (t, p), n in
                             Counter((f["label"], f["pred"]) for f in flows).items()]
    if "ip" in job["views"]:
        truth = entry["truth"]
        if truth["skip"]:
            res["per_ip"] = {"kind": "skip", "reason": truth["skip"]}
        else:
            verdicts, starts, derr = _ddosd_pass(job["ddosd_bin"], entry["abs_path"], job["model"],
                                         job.get("ddosd_args", []))
            if verdicts is None:
                res["error"] = derr
                return res
            res["per_ip"] = judge_ip(entry, flows, verdicts, starts)
            if job.get("verdicts_dir"):
                res["verdicts_file"] = write_verdicts(job["verdicts_dir"], entry, verdicts)
    if job.get("keep_rows"):
        res["rows"] = [f["raw"] for f in flows]
    return res


# ---- figures ------------------------------------------------------------------------------------

def binary_scores(truth, predicted, weights):
    tp = fp = fn = 0
    for a, b, n in zip(truth, predicted, weights):
        if a and b:
            tp += n
        elif b:
            fp += n
        elif a:
            fn += n
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}


def flow_figures(pairs):
    """pairs: [(true, predicted, count)] -> DDoS precision/recall/F1, benign FPR, flows."""
    out = binary_scores([t not in NOT_DDOS for t, _, _ in pairs],
                        [p not in NOT_DDOS for _, p, _ in pairs], [n for _, _, n in pairs])
    benign = sum(n for t, _, n in pairs if t == "benign")
    fp = sum(n for t, p, n in pairs if t == "benign" and p != "benign")
    out["benign_flows"] = benign
    out["benign_flagged"] = fp
    out["benign_fpr"] = round(fp / benign, 5) if benign else None
    out["flows"] = sum(n for _, _, n in pairs)
    return out


def per_class(pairs):
    cm = Counter()
    for t, p, n in pairs:
        cm[(t, p)] += n
    labels = sorted({t for t, _ in cm} | {p for _, p in cm})
    table = {}
    for c in labels:
        tp = cm[(c, c)]
        fp = sum(n for (t, p), n in cm.items() if t != c and p == c)
        fn = sum(n for (t, p), n in cm.items() if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        table[c] = {"precision": round(prec, 4), "recall": round(rec, 4),
                    "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
                    "support": tp + fn}
    return table, {"labels": labels, "matrix": [[cm[(t, p)] for p in labels] for t in labels]}


def ip_summary(results):
    """Overall per-IP figures from run_capture results."""
    judged = [r for r in results if "per_ip" in r and r["per_ip"]["kind"] != "skip"]
    attack = [r for r in judged if r["per_ip"]["kind"] == "attack"]
    benign = [r for r in judged if r["per_ip"]["kind"] == "benign"]
    victims = [v for r in attack for a in r["per_ip"]["attacks"] for v in a["victims"]]
    attackers = [x for r in attack for a in r["per_ip"]["attacks"] for x in a["attackers"]]
    times = sorted(v["seconds_to_high"] for v in victims if v["seconds_to_high"] is not None)
    fast = [v for v in victims if v["seconds_to_high"] is not None and v["seconds_to_high"] <= 1.0]

    def all_fast(r):
        return all(v["seconds_to_high"] is not None and v["seconds_to_high"] <= 1.0
                   for a in r["per_ip"]["attacks"] for v in a["victims"])
    return {
        "captures_judged": len(judged),
        "captures_skipped": sum(1 for r in results if r.get("per_ip", {}).get("kind") == "skip"),
        "attack_captures": len(attack),
        "attack_captures_all_victims_high_within_1s": sum(1 for r in attack if all_fast(r)),
        "victims": len(victims),
        "victims_high": sum(v["reached_high"] for v in victims),
        "victims_high_within_1s": len(fast),
        "median_seconds_to_high": times[len(times) // 2] if times else None,
        "max_seconds_to_high": times[-1] if times else None,
        "victims_type_right": sum(v["type_right"] for v in victims),
        "victims_high_type_right": sum(v["type_right"] for v in victims if v["reached_high"]),
        "victims_role_victim": sum(1 for v in victims if v["role"] == "victim"),
        "victims_with_spoofed_count": sum(1 for v in victims if v["spoofed_sources"]),
        "spoofed_sources_counted": sum(v["spoofed_sources"] or 0 for v in victims),
        "attackers": len(attackers),
        "attackers_high": sum(x["reached_high"] for x in attackers),
        "spoofed_or_reflector_sources": sum(r["per_ip"]["sources_judged"] for r in attack),
        "spoofed_or_reflector_above_low": sum(r["per_ip"]["sources_above_low"] for r in attack),
        "bots": sum(r["per_ip"]["bots"] for r in attack),
        "bots_high": sum(r["per_ip"]["bots_high"] for r in attack),
        "benign_captures": len(benign),
        "benign_captures_with_high_ip": sum(1 for r in benign if r["per_ip"]["benign_ips_high"]),
        "benign_ips_high": sum(r["per_ip"]["benign_ips_high"] for r in judged),
        "benign_ips_high_in_attack_captures": sum(r["per_ip"]["benign_ips_high"] for r in attack),
        "benign_ips_medium": sum(r["per_ip"]["benign_ips_medium"] for r in judged),
    }
