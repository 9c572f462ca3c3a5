#!/usr/bin/env bash
# daemon_prescore.sh - a flow that ends with nothing new since a report the model scored benign
# is not scored again (struct score_note, app/daemon.h), and the verdicts do not change for it.
#
# A spoofed SYN flood and a UDP flood over benign traffic (ddos-trafgen seed 240) is replayed
# through ddosd with a 5 s idle timeout, so most short flows get their young report (scored) and
# end seconds later with no packet since. Two runs:
#   - plain: such ends carry the noted score (fewer records scored than records sent);
#   - with --flows-out (which writes every record's vector, so every record is scored).
# Both must give byte-identical --verdicts-out files and the same number of records; the plain
# run must score fewer of them (before the notes existed, both scored every flow record).
#
# usage: daemon_prescore.sh BUILD_DIR
. "$(dirname "$0")/daemon_lib.sh"
dd_bins "${1:?usage: daemon_prescore.sh BUILD_DIR}"
w=$DD_WORK

dd_trafgen "$w/mix.pcap" --seed 240 --scenario syn_flood,udp_flood --duration 20 \
    --benign-clients 40 --max-attack-packets 20000 --snaplen 128

run() { # run NAME EXTRA_ARGS...: replays mix.pcap; counters in $w/NAME.log
    local name=$1
    shift
    "$DD_DDOSD" -r "$w/mix.pcap" --redis none --api none --model "$DD_MODEL" \
        --set flows.idle_timeout=5 --verdicts-out "$w/$name.jsonl" "$@" >"$w/$name.log" 2>&1
}
run plain
dd_ok "plain run exits 0" $?
run all --flows-out "$w/flows.csv"
dd_ok "--flows-out run exits 0" $?

counter() { # counter NAME FIELD: a number from the final counters line
    grep -o "final counters:.*" "$w/$1.log" | grep -o "$2 [0-9]*" | head -n1 | awk '{print $2}'
}
rec_plain=$(counter plain records)
rec_all=$(counter all records)
sc_plain=$(counter plain scored)
sc_all=$(counter all scored)
echo "records $rec_plain / $rec_all, scored $sc_plain / $sc_all (plain / --flows-out)"
dd_check "both runs send the same records" test -n "$rec_plain" -a "$rec_plain" = "$rec_all"
dd_check "--flows-out scores every flow record" test -n "$sc_all" -a "$sc_all" -gt 0
dd_check "the plain run scores fewer (ends that carry their last report's score)" \
    test -n "$sc_plain" -a "$sc_plain" -lt "$sc_all"
dd_check "verdicts identical with and without the noted scores" \
    cmp "$w/plain.jsonl" "$w/all.jsonl"
dd_check "the verdicts are not empty" test -s "$w/plain.jsonl"
dd_finish
