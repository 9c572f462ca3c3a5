#!/usr/bin/env bash
# daemon_notify.sh - the notify hook and --flows-out, end to end (no Redis, no API, no root).
#
# A SYN flood from four real sources (ddos-trafgen seed 53) is replayed through ddosd with
# notify.script set to a script that appends its stdin (the event JSON) to a file:
#   - the script ran for attack_start of the victim, with the documented fields
#     (event, ip, role, threat_level high or worse, attack_type, start, peak_pps, top_peers);
#   - every event it received is valid JSON, and the daemon counted no failed runs;
#   - --flows-out has the header (timestamp ... attack_type + every feature) and one row per
#     scored record, some of them attacks towards the victim.
#
# usage: daemon_notify.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_notify.sh BUILD_DIR}"
w=$DD_WORK

dd_trafgen "$w/flood.pcap" --seed 53 --scenario syn_flood --duration 30 --benign-clients 20 \
    --max-attack-packets 100000 --snaplen 128

mkdir "$w/events"
cat >"$w/hook.sh" <<HOOK
#!/bin/sh
# runs may overlap (notify runs several at once): one file per event
cat >"\$(mktemp "$w/events/event.XXXXXX")"
HOOK
chmod 755 "$w/hook.sh"
cat >"$w/config.json" <<CONF
{"notify": {"script": "$w/hook.sh", "timeout": 5}, "redis": {"enabled": false},
 "api": {"listen": "none"}, "ml_model": {"path": "$DD_MODEL"}, "log": {"dir": "$w"}}
CONF

"$DD_DDOSD" -c "$w/config.json" -r "$w/flood.pcap" --verdicts-out "$w/verdicts.jsonl" \
    --flows-out "$w/flows.csv" >"$w/stdout" 2>"$w/stderr"
rc=$?
dd_ok "ddosd exits 0 (got $rc)" "$rc"

"$DD_PY" - "$w" <<'PY' >"$w/check.out"
import csv, json, sys
w = sys.argv[1]
ok = bad = 0
def check(name, cond):
    global ok, bad
    print(("PASS " if cond else "FAIL ") + name)
    ok, bad = ok + bool(cond), bad + (not cond)
verdicts = [json.loads(l) for l in open(f"{w}/verdicts.jsonl")]
victims = [v for v in verdicts if v["role"] == "victim" and v["peak_level"] in ("high", "critical")]
check("the flood's victim reached high", len(victims) >= 1)
victim = victims[0]["ip"] if victims else None
import os
events, broken = [], 0
for name in sorted(os.listdir(f"{w}/events")):
    try:
        events.append(json.load(open(f"{w}/events/{name}")))
    except ValueError:
        broken += 1
check(f"every event the hook received is JSON ({len(events)} events, {broken} broken)",
      events and broken == 0)
starts = [e for e in events if e.get("event") == "attack_start" and e.get("ip") == victim]
check(f"the hook ran for the victim's attack_start ({victim})", len(starts) == 1)
if starts:
    e = starts[0]
    for key in ("role", "threat_level", "attack_type", "start", "peak_pps", "top_peers", "sensor"):
        check(f"attack_start has {key}", key in e)
    check("attack_start is high or critical", e.get("threat_level") in ("high", "critical"))
    check("attack_start names the victim role", e.get("role") == "victim")
rows = list(csv.reader(open(f"{w}/flows.csv")))
head = rows[0] if rows else []
check("--flows-out header: identifiers, score, then features",
      head[:10] == ["timestamp", "src_ip", "src_port", "dst_ip", "dst_port", "protocol",
                    "record", "p_attack", "is_attack", "attack_type"] and len(head) > 80)
check("--flows-out rows have as many columns as the header",
      all(len(r) == len(head) for r in rows[1:]))
attacks = [r for r in rows[1:] if r[8] == "1" and r[3] == victim]
check(f"--flows-out has attack rows towards the victim ({len(attacks)})", len(attacks) > 0)
print(f"{ok} passed, {bad} failed")
PY
cat "$w/check.out"
dd_absorb "$w/check.out"
dd_check "app.log counts no failed notify runs" \
    bash -c "! grep -Eq 'notify.*(failed|timed out)' '$w/app.log'"
dd_finish
