/* rate_rules.h - per-IP rate rules beside the model: smoothed 1 s rates per destination (victim
 * role) and per source (attacker role), compared with the global thresholds of config.json's
 * `rules`, a host group's overrides for the IP's longest matching CIDR, and the whitelists.
 *
 * Ownership and threads: one struct rate_rules belongs to ONE thread (a capture shard); every
 * function here must be called from that thread only. rate_rules_create() allocates everything
 * once (the entries as dense pools in anonymous mappings: memory follows the addresses
 * tracked, not the capacity: 64 bytes per address with light traffic, 396 instead per address
 * promoted near a threshold, 164 more once it alerted); rate_rules_packet() and rate_rules_tick()
 * never allocate. The config passed to create is borrowed: it must outlive the rate_rules (it is
 * read-only after start-up, see config.h).
 *
 * Time is whatever the caller passes (packet time offline, packet or wall time live), in
 * microseconds; it should not go backwards (a packet older than its entry's window counts in
 * the current window).
 *
 * Semantics (details in docs/configuration.md, "Rate rules"):
 *   - rates are EWMAs over 1 s windows, alpha RATE_RULES_ALPHA: smoothed = a*window + (1-a)*old;
 *   - level: medium when the worst metric is over its threshold, high at 2x, critical at 10x;
 *     score = 1 - threshold/value of the worst metric (0..1);
 *   - an alerting IP/role is re-emitted at most once per second of tick time; after
 *     RATE_RULES_END_WINDOWS consecutive windows under every threshold one alert with
 *     ended = true is emitted and the IP/role stops alerting. */
#ifndef DD_VERDICTS_RATE_RULES_H
#define DD_VERDICTS_RATE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "common/compiler.h"
#include "common/config.h"

#define RATE_RULES_ALPHA       0.5 /* EWMA weight of the window that just ended */
#define RATE_RULES_END_WINDOWS 3   /* quiet windows before an alert ends */
#define RATE_RULES_PROBES      16  /* slots probed per lookup; eviction picks among them */

struct rate_rules;

/* One alert (or alert end) for one IP in one role. A value type. Rates are per second, for the
 * role's direction: for a victim, traffic towards the IP; for an attacker, traffic from it. When
 * burst is 0 they are the smoothed 1 s values at emission time; when burst is 1 the level came
 * from a 100 ms sub-window and every rate is that sub-window's count x 10 (the worst sub-window
 * of the second). "The other direction" below means traffic from a victim / to an attacker. */
struct rate_alert {
    uint8_t ip[16];   /* IPv4 in the first 4 bytes, rest zero */
    uint8_t version;  /* 4 or 6 */
    uint8_t role;     /* enum verdict_role */
    uint8_t level;    /* enum threat_level: MEDIUM, HIGH or CRITICAL */
    bool ended;       /* true: the IP fell back under every threshold; reasons/level: the last */
    uint32_t reasons; /* enum verdict_reason bits (RATE_*, REFLECTION, ICMP_ERRORS, FRAGMENTS) */
    double score;     /* 0..1: 1 - threshold/value for the worst metric */
    double pps;
    double bps;
    double syn_rate;         /* SYNs (without ACK) received (victim) or sent (attacker) per s */
    double syn_ack_rate;     /* SYN-ACKs sent by a victim / received by an attacker per s */
    double new_flows_rate;   /* new flows per s */
    double distinct_sources; /* estimated distinct sources per 1 s window (victim; 0 for
                                attacker) */
    double reflector_pps;    /* UDP packets/s from reflector service ports (answers) */
    uint64_t ts_us;          /* the now_us of the tick that emitted it */
    /* Evidence for the judge (verdict_table.c). */
    double icmp_error_pps; /* ICMPv4 3,4,5,11,12 / ICMPv6 1-4 packets/s */
    double fragment_pps;   /* IPv4 fragments (MF or offset) and IPv6 fragment-header packets/s */
    double tcp_pps;        /* protocol mix: TCP, UDP and ICMP/ICMPv6 packets/s (fragments */
    double udp_pps;        /*   count under the protocol their IP header names) */
    double icmp_pps;
    double handshake_rate; /* completed-handshake estimate per s: min(SYN-ACKs, pure ACKs of the
                              SYN side); a spoofed SYN flood the victim answers stays near 0 */
    double answered_ratio; /* packets of the other direction that can be answers (not RST, not
                              ICMP errors) per packet of this role: ~0 for a one-way flood,
                              ~0.1..1 for a download or a conversation */
    double reflector_requests_pps; /* UDP to reflector service ports in the other direction: a
                                      victim's own requests; 0 for an amplification victim */
    double pkts_per_source; /* victim: packets per distinct source over the window (~1..2 for a
                               spoofed flood, many for a few real sources); 0 for an attacker */
    double syn_ack_unrequested_pps; /* SYN-ACKs in this role's direction beyond the SYNs of the
                                       other: a victim's TCP reflection (it sent no SYNs) */
    uint8_t burst;                  /* 1: the level came from a 100 ms sub-window */
    uint8_t fragment_proto; /* IP protocol most fragments carry (17 UDP, 1 ICMP, ...); 0 none */
};
/* Alerts are copied into caller buffers and onward to the verdict stage: pin the size. */
_Static_assert(sizeof(struct rate_alert) == 184, "struct rate_alert changed size");

/* Counters, monotonic except tracked_ips, full_ips and alerting. */
struct rate_rules_stats {
    uint64_t tracked_ips;      /* entries in use now */
    uint64_t capacity;         /* table slots */
    uint64_t evictions;        /* entries replaced because their probe window was full */
    uint64_t evicted_alerting; /* of those, entries that were alerting (their alert is lost) */
    uint64_t expired;          /* idle entries freed by rate_rules_tick */
    uint64_t alerts_emitted;   /* alerts written to a tick's buffer, ended ones included */
    uint64_t alerts_ended;     /* of those, ended = true */
    uint64_t alerting;         /* IP/role pairs alerting now */
    uint64_t whitelisted_pkts; /* packets of whitelisted IP/roles (counted, never flagged), from
                                  the IP's first evaluation over a threshold on */
    uint64_t tick_visits;      /* entries visited by rate_rules_tick (work done) */
    uint64_t full_ips;         /* of tracked_ips, promoted (full) entries now */
    uint64_t full_capacity;    /* full records: max_ips / 4, at least RATE_RULES_PROBES */
    uint64_t promotions;       /* light entries promoted to full */
    uint64_t promote_failed;   /* promotions refused because every full record was taken (the
                                  entry stayed light: it cannot alert until one is free) */
    uint64_t demotions;        /* quiet full entries made light again while the full records
                                  were tight (fewer than 1/8 free) */
    uint64_t clock_resets;     /* packet times outside what the entries' 32-bit clocks hold
                                  (13 years from an epoch a day before the first packet): the
                                  table was emptied and its epoch set from that time */
};

/* Builds the rules for max_ips addresses (table capacity: the next power of two >= 2 * max_ips, at
 * least RATE_RULES_PROBES), of which max_ips / 4 (at least RATE_RULES_PROBES) can be promoted
 * to full entries at once (see rate_rules.c's DESIGN: an address is promoted when its traffic
 * comes within 1/8 of a threshold; while fewer than 1/8 of the full records are free the tick
 * demotes quiet ones; with every full record taken, promotions are refused and counted in
 * promote_failed). cfg->rules is borrowed for the object's lifetime. Returns NULL after
 * logging why (max_ips 0 or too large, out of memory). */
DD_NODISCARD struct rate_rules *rate_rules_create(const struct ddosd_config *cfg, uint32_t max_ips);

/* Keys the table's hash with seed instead of the random one rate_rules_create chose (seed 0:
 * keep it). Slot positions decide which entry a full probe window evicts and where the tick's
 * bounded scan meets each entry (idle expiry, demotion), so two runs over the same packets with
 * the same seed track, evict and alert exactly alike: offline replays pass a fixed seed
 * (app/daemon.h says what that trades). Only while no address is tracked: -EBUSY otherwise. */
DD_NODISCARD int rate_rules_set_seed(struct rate_rules *r, uint64_t seed);

/* Switches to the rules of cfg (a configuration reload; cfg is borrowed from now on and the old
 * one may be freed after this returns). Rates and alerts in progress are kept; host groups and
 * whitelists are resolved again; the promotion limits follow the new floors (a light entry
 * over them is promoted by its next packet). O(full entries). Owner thread only. */
void rate_rules_set_config(struct rate_rules *r, const struct ddosd_config *cfg);

/* Frees r. Accepts NULL. */
void rate_rules_destroy(struct rate_rules *r);

/* Accounts one decoded packet at ts_us; new_flow is true when the flow table created a flow for
 * it. O(1): two table lookups (destination, source), at most one window roll each. Never
 * allocates; a full probe window evicts the entry with the smallest recent packet rate. */
void rate_rules_packet(struct rate_rules *r, const struct pkt_info *p, uint64_t ts_us,
                       bool new_flow);

/* Accounts n packets in order, exactly as n calls of rate_rules_packet would (new_flow: n flags,
 * or NULL for none), but in groups of RATE_RULES_BURST: every address hash of a group first, with
 * prefetches of the table slots they name, then the updates, so the cache misses of a group
 * overlap instead of following one another (a table of 100k+ addresses does not fit the cache).
 * Never allocates. */
enum { RATE_RULES_BURST = 64 };
void rate_rules_packet_burst(struct rate_rules *r, const struct pkt_info *pkts,
                             const uint64_t *ts_us, const uint8_t *new_flow, size_t n);

/* Rolls and evaluates entries whose window ended before now_us and writes at most max alerts to
 * out. Visits at most budget entries: a round-robin slice of the table (which also frees entries
 * idle for more than a minute), then the alerting ones, with at least half of the budget kept
 * for them. Returns the number of alerts written. Call it a few times per second. */
DD_NODISCARD size_t rate_rules_tick(struct rate_rules *r, uint64_t now_us, struct rate_alert *out,
                                    size_t max, size_t budget);

/* Copies the counters. */
void rate_rules_stats_get(const struct rate_rules *r, struct rate_rules_stats *out);

/* True when UDP traffic from this source port is counted as reflected (DNS, NTP, SSDP, ...). */
bool rate_rules_reflector_port(uint16_t port);

#endif
