/* verdict_table.h - the verdict stage's judgement: per-IP verdicts built from the model's scored
 * flows and the rate rules' alerts, attack episodes with their start and end events.
 *
 * Threads: one struct verdict_table belongs to ONE thread (the verdict stage). Nothing is locked.
 * Every entry is allocated once at create; no call allocates.
 *
 * Time: `now_us` everywhere is the stage clock: packet time (the newest time seen in the evidence
 * offline; packet or wall time live). Windows, attack end and expiry all run on it, so an
 * offline replay is deterministic and a finished replay keeps its verdicts.
 *
 * Model evidence (verdict_table_flow): a scored flow, a snapshot of a running flow or the vector
 * of an ended one. Its forward source is judged in the attacker role, its forward destination in
 * the victim role, after reading its protocol evidence (docs/verdicts.md, "What one flow says"):
 *   - ICMP/ICMPv6 errors are replies: never an attack flow for either role (the rate rules'
 *     icmp_errors carry error floods to the victim), and they never create the source's entry;
 *   - reflections (TCP opened by a SYN-ACK; UDP from a port_is_reflector() port to one that is
 *     not) are attack evidence for the destination only: the source's attacker role never
 *     counts them and no entry is created for it;
 *   - a TCP flow whose source completed the handshake (SYN first, fwd >= 2, bwd >= 1, PSH or no
 *     RST) proves its source real.
 * Per IP and role the table keeps a sliding window of VERDICT_WINDOW_US: reports, attack reports,
 * flows and attack flows (first reports), the highest p_attack, heavy flows; for the victim also
 * attack flows of unblamed sources, of reflectors, and reports of half-open/slow attack
 * connections. The model's level for the role ("share": attack flows >= model_min_fraction of
 * the role's flows):
 *     low      otherwise (one attack flow is never more)
 *     medium   >= model_medium_flows (3) attack flows and the share
 *     high     >= model_high_flows (10) attack flows and the share; or one attack report of a
 *              flow with >= VERDICT_HEAVY_PACKETS packets and p_attack >= VERDICT_HEAVY_P; or
 *              (victim) >= half_open_reports (20) reports of half-open connections (TCP opened by
 *              a SYN, not completed) or slow ones (family slow_http) that the model calls
 *              attacks, or (victim) >= model_critical_flows attack flows at a share of at least
 *              model_volume_fraction (0.25)
 *     critical >= model_critical_flows (100) attack flows and the share
 * Flows are counted at their first report (flow_evidence.first_report), so one flow's snapshots
 * and end never add up to "several attack flows". A victim also counts flows at their end
 * (final reports); when the ends hold more attack flows than the first reports (connections the
 * model judged benign while young), the ends' counts stand for its levels.
 * Blame (attacker role): a source rises only on evidence of its own: its own attack flows (as
 * above: concentrated senders reach high at 10, a heavy flow at once) or its own attacker-role
 * rate alert. An attack flow counts against its source ("blame") when it is a handshake or a
 * heavy flow, its destination is whitelisted, or the source's attack flows to this destination
 * (a count-min sketch of pairs, two generations of one window) are at least source_min_share of
 * the destination's (victim role) and at least (high_flows + 1) / 2; the attacker's thresholds
 * count blamed flows (its share stays its attack flows over its flows). Its model level reaches
 * high or critical only when (high_flows + 1) / 2 of its attack flows in the window (1 with a
 * heavy flow) "hit": arrived while their destination's victim role was at high or above (or the
 * destination is whitelisted). Each flow hits once, at its first report; a heavy flow's snapshot
 * hits when the window has no hit yet.
 *
 * Sources without an entry: an attack flow of a source without an entry that is not proven by
 * that flow (no handshake, not heavy) creates no entry: a count-min sketch (VT_SKETCH_ROWS x
 * VT_SKETCH, cleared every window) counts it, and the source's VERDICT_UNJUDGED_ENTRY-th attack
 * flow of the window creates the entry, seeded with the earlier ones (stats.unjudged_sources
 * counts flows without a source entry). A source is "proven" (listed as an episode peer, never
 * tallied) when it completed a handshake, is concentrated (high_flows blamed attack flows
 * with the share, or a heavy flow) or has its own alert.
 *
 * Group destinations (IPv4 224/3, IPv6 ff00::/8): flows to them are never attacks, and
 * victim-role alerts for them are ignored (stats.whitelisted).
 *
 * Spoofed sources (victim role): attack flows from reflectors, and attack flows of <= 3 packets
 * that blame nobody (no source entry yet, or a sliver of the victim's attack), go into the
 * victim's tally: a 256-register HyperLogLog and a bottom-4 sample (smallest fixed-key hash:
 * uniform and deterministic) from a pool of max_spoofed_victims records
 * (stats.spoofed_untracked when empty). The verdict carries spoofed_sources and the examples
 * (address order), minus any example whose attacker role has reached medium since. Reasons:
 * spoofed when unblamed non-reflector sources make >= half of the attack flows, reflection when
 * reflectors do, half_open when half-open/slow connections give the level or make >= half of the
 * attack reports. Unproven sources are never episode peers. The tally is released when the
 * victim is low, its window holds no attack or spoofed flow and no episode is open.
 *
 * Flow counts: flows_total and flows_attack count flows once, at their final report (snapshots
 * add evidence, not counts), from the role's entry on.
 * Whitelists: a source in whitelist.sources is never judged as an attacker, a destination in
 * whitelist.destinations never as a victim (the rate rules apply the same lists themselves).
 *
 * Rate evidence (verdict_table_alert): the rate rules' alert carries a level; it holds until an
 * alert with ended = true for that IP and role (or VERDICT_ALERT_HOLD_US without a re-emission).
 * Its rates (pps, bps) become the verdict's rates; its reasons join the verdict's. An alert whose
 * ts_us is more than a window behind the stage clock is taken as now. Without a live alert, pps
 * and bps are estimated from the scored flows' new packets in the window.
 *
 * A role's level is the highest of its model level, its rate level and any report (report levels
 * hold for the report's ttl). The IP's published verdict is its role of the higher level (ties:
 * victim), with that role's fields; reasons are that role's. score is the highest of the max
 * p_attack (when the model's level is at least medium) and the rate alert's score.
 * attack_type ("" at level low): each attack flow's family follows its protocol (TCP opened by a
 * SYN and not completed: syn_flood; opened by a SYN-ACK: tcp_reflection; completed to a web port
 * with the model's http_flood/slow_http: the model's label while younger than 2 s, then by its
 * rate (< 10 packets/s: slow_http, else http_flood); model portscan: kept; other TCP: tcp_flood;
 * UDP reflection: udp_amplification; other UDP: udp_flood; ICMP: icmp_flood; other protocols: the
 * model's label). An alert names one family (rate_syn: syn_flood; reflection: udp_amplification;
 * icmp_errors: icmp_flood; fragments: by fragment_proto; else by the dominant of tcp/udp/icmp
 * pps, with syn_ack_unrequested_pps / syn_rate / reflector_pps deciding tcp_reflection /
 * syn_flood / udp_amplification). The role's type is the family with the most votes since its
 * attack began (a flow votes at its first report and at its end; an HTTP connection again at
 * each later report once 2 s old), a live alert weighing model_high_flows votes; else the
 * report's attack_type.
 *
 * Episodes: an IP/role whose level reaches high or critical starts an attack episode (event
 * ATTACK_START, with the episode's start = the first attack evidence in the window). While it
 * lasts the table tracks peak pps and bps and the top peers (the attackers of a victim, the
 * victims of an attacker; by attack flows, space-saving top-K of REDIS_SINK_PEERS_MAX). It ends
 * when the level has stayed below high for attack_end_us (event ATTACK_END, with peaks and peers,
 * the episode's highest level and score and every reason it had at high or above).
 * Between the two, each move of the role's level is a level_change call (coalesced per tick);
 * verdict_table_episode_get reads an open episode's peaks and peers at any time.
 * Episodes use a separate pool of `max_episodes` records; when it is empty a new episode is
 * still judged and published but its start/end events are not emitted (counted).
 *
 * Output: through the callbacks of struct verdict_table_sink, only from verdict_table_tick():
 * a changed verdict is published at most once per tick (coalesced), then events, then expiries.
 * New IPs are published at level low too. An unchanged verdict that keeps receiving evidence is
 * republished at most every ttl/4, so a store or cache with a ttl keeps it.
 *
 * Details the rules above leave open (docs/verdicts.md says the same for operators):
 *   - Window: 10 buckets of one second of the stage clock; evidence counts in the second of the
 *     stage clock when it arrives (not the flow's own time). A heavy flow counts while its
 *     report is in the window. Families are counted (4 per role, space-saving) from a role's
 *     first attack report until its window holds no attack report.
 *   - Role choice: a role that never received evidence never speaks for the IP (an IP only seen
 *     as a source is an attacker even at low); otherwise the rule above (ties: victim).
 *   - Reports: level and ttl as above; their score is not used (score follows the rule above);
 *     the report's attack_type is the last resort after the flows' and the alert's families.
 *   - Rates: pps/bps are the latest alert's (ended ones included) for VERDICT_ALERT_HOLD_US after
 *     it, else 0. An ended alert for an IP the table does not know creates nothing.
 *   - Whitelists apply to every kind of evidence, reports and alerts included (counted).
 *   - Episode start: the first attack evidence since the role was last low (a flow's first_us,
 *     no older than one window; an alert's ts_us; a report's now_us). An episode starts in the
 *     evidence call that raised the role to high (its event comes at the next tick), so peers are
 *     counted from that flow on: a final attack report adds one flow to its peer, a snapshot of
 *     a peer not listed yet lists it with one flow. Events carry the role's verdict at that
 *     moment, except that an ATTACK_END names the episode (the role has fallen back by then):
 *     its peak level, peak rates, highest score and every reason it had at high or above.
 *   - Expiry: an IP idle for ttl is forgotten only when no report or alert holds it and no
 *     episode is open. An IP evicted while its episode was announced gets its ATTACK_END at the
 *     next tick; one whose episode was never announced gets no events. Expired callbacks of
 *     evicted IPs wait in a ring of max_ips/8 (64..16384) verdicts until the next tick; when
 *     more are evicted between two ticks, the oldest notices are lost. Only IPs that were
 *     published get an expired callback.
 *   - Memory: 80 bytes per IP, plus for each role it received evidence in: 68 bytes (80 as a
 *     victim) while that evidence is benign flows only and its counts fit a light record's
 *     narrow fields (else, and from its first attack evidence, alert or report on, 400; 504 as a
 *     victim), plus 64 bytes for an IP that has had a timer or published more than a low
 *     verdict (~148 bytes for an IP seen in one role with benign flows; pools of max_ips records
 *     each, calloc'd at create and touched as used, so none can run out), ~850 bytes per
 *     episode record, ~360 bytes per spoofed-source tally, 960 KiB for the two sketches. The
 *     compact records are a representation only: the verdicts are those of whole records. */
#ifndef DD_VERDICTS_VERDICT_TABLE_H
#define DD_VERDICTS_VERDICT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/config.h"
#include "verdicts/rate_rules.h"
#include "verdicts/redis_sink.h"
#include "verdicts/verdict.h"

#define VERDICT_WINDOW_US     (10ull * 1000000ull) /* model evidence window */
#define VERDICT_HEAVY_PACKETS 1000 /* one attack flow this big (and this sure) is a flood alone */
#define VERDICT_HEAVY_P       0.95
#define VERDICT_ALERT_HOLD_US (10ull * 1000000ull)
/* Defaults of struct verdict_table_config (a 0 there picks these):
 *   MEDIUM/HIGH/CRITICAL_FLOWS  attack flows in the window for each level (a browser opens 6
 *                               connections at once: high takes 10);
 *   MIN_FRACTION                attack flows' share of the role's flows;
 *   HALF_OPEN_REPORTS           half-open or slow attack connections for victim high;
 *   VOLUME_FRACTION             a victim's share at CRITICAL_FLOWS attack flows for high;
 *   SOURCE_MIN_SHARE            a source's share of its destination's attack flows for its
 *                               flows without a handshake to count against it;
 *   UNJUDGED_ENTRY              attack flows of an unproven source before it gets an entry
 *                               (a spoofed address sends one). */
#define VERDICT_MEDIUM_FLOWS      3
#define VERDICT_HIGH_FLOWS        10
#define VERDICT_CRITICAL_FLOWS    100
#define VERDICT_MIN_FRACTION      0.5
#define VERDICT_HALF_OPEN_REPORTS 20
#define VERDICT_VOLUME_FRACTION   0.25
#define VERDICT_SOURCE_MIN_SHARE  0.05
/* The model's stage-1 threshold is chosen so that a single flow's label is almost never wrong on
 * real benign traffic (0.4 % of flows), which costs it most floods whose flows look like lone
 * benign datagrams. The judge never acts on one flow: it needs model_medium_flows /
 * model_high_flows of them with their share of the role's flows, so it takes a flow as evidence
 * from this lower bar (measured: docs/detection.md). */
#define VERDICT_EVIDENCE_P     0.5
#define VERDICT_UNJUDGED_ENTRY 2

/* One scored flow, from an inference worker. A value type (copied through a ring). */
struct flow_evidence {
    uint8_t src[16]; /* forward source (the flow's initiator); IPv4 in the first 4 bytes */
    uint8_t dst[16];
    uint8_t ip_version; /* 4 or 6 */
    uint8_t proto;
    uint8_t final;        /* 1: the flow ended (this is its last report); 0: a running snapshot */
    uint8_t is_attack;    /* the model's decision (the threshold in force applied) */
    uint8_t first_report; /* 1: the flow's first report (a snapshot or its end): flows, not
                             reports, are counted for high and critical */
    uint16_t sport;
    uint16_t dport;
    float p_attack;
    char attack_type[VERDICT_ATTACK_TYPE_MAX]; /* the model's family label, "" when benign */
    uint64_t packets;                          /* both directions, so far */
    uint64_t bytes;                            /* both directions, IP lengths */
    uint64_t new_packets; /* packets since this flow's previous report (all of them at the first):
                             summed per IP over the window, they give the verdict's pps */
    uint64_t new_bytes;   /* bytes of those packets (estimated from the flow's average size) */
    uint64_t first_us;    /* packet time of the flow's first packet */
    uint64_t emit_us;     /* the shard's clock when it emitted the report (>= last_us): drives
                             the table's clock; 0: last_us does */
    uint64_t last_us;     /* ... and of its latest */
    /* What the judge needs to tell a real sender from a spoofed address and to name the attack
     * from protocol evidence (the model's family label alone can contradict the protocol). */
    uint32_t fwd_packets; /* packets from src (the initiator) so far */
    uint32_t bwd_packets; /* packets from dst back to src so far: 0 = one-way */
    uint8_t first_flags;  /* TCP flags of the flow's first packet (0 for other protocols) */
    uint8_t flags_seen;   /* TCP flags seen in either direction, bit order FIN..CWR */
    uint8_t icmp_type;    /* ICMP/ICMPv6 type and code of the first packet (ICMP flows) */
    uint8_t icmp_code;
    uint32_t fwd_payload; /* payload bytes from src so far (saturating) */
    uint32_t bwd_payload; /* payload bytes from dst so far: 0 = it never answered with data */
};

struct verdict_table_config {
    uint32_t max_ips;              /* table entries (one per IP); 0: 65536 */
    uint32_t max_episodes;         /* attack episodes at once; 0: 4096 */
    uint64_t ttl_us;               /* an IP without evidence this long is forgotten; 0: 300 s */
    uint64_t attack_end_us;        /* below high this long ends an episode; 0: 10 s */
    uint32_t model_medium_flows;   /* attack flows in the window for medium; 0:
                                      VERDICT_MEDIUM_FLOWS (never more than high's) */
    uint32_t model_high_flows;     /* attack flows in the window for high; 0: 10 (a browser
                                      opens 6 connections at once: 3 was a false alarm) */
    uint32_t model_critical_flows; /* 0: 100 */
    double model_min_fraction;     /* 0: 0.5 */
    double model_volume_fraction;  /* a victim with model_critical_flows attack flows is high
                                      from this share on; 0: VERDICT_VOLUME_FRACTION */
    uint32_t half_open_reports;    /* a victim's half-open/slow attack connections in the
                                      window for high; 0: VERDICT_HALF_OPEN_REPORTS */
    uint32_t max_spoofed_victims;  /* victims counting spoofed sources at once; 0: 4096 */
    double source_min_share;       /* an attack flow without a handshake (and not heavy)
                                      counts against its source only while the source's
                                      attack flows are at least this share of its
                                      destination's; 0: VERDICT_SOURCE_MIN_SHARE */
    double evidence_p;             /* a flow is attack evidence when the model decided so (its
                                      threshold) or its p_attack is at least this; < 0 or 0:
                                      VERDICT_EVIDENCE_P; above 1: the model's decision only */
    const char *sensor_id;         /* copied into every verdict (copied at create) */
    const struct config_whitelist *whitelist; /* borrowed; may be NULL */
    uint64_t seed; /* keys the index hash and the eviction sampling; 0: a random one (live
                      traffic: an attacker cannot aim at either). A full table evicts by this
                      sampling, so with the same seed and the same calls the same addresses
                      are evicted: offline replays pass a fixed one (app/daemon.h) */
};

enum verdict_event_kind { VERDICT_EVENT_ATTACK_START = 0, VERDICT_EVENT_ATTACK_END = 1 };

/* Where the table's output goes. Any callback may be NULL. Pointers are valid during the call. */
struct verdict_table_sink {
    void *user;
    /* An IP's published verdict changed (new, level, reasons, score, counts or rates). */
    void (*verdict)(void *user, const struct verdict *v);
    /* An episode started or ended. v is the IP's verdict for the episode's role, with pps/bps set
     * to the episode's peaks and first_seen_us to the episode's start; peers are its top peers. */
    void (*event)(void *user, enum verdict_event_kind kind, const struct verdict *v,
                  const struct redis_sink_peer *peers, size_t npeers);
    /* An IP was forgotten (ttl without evidence, or evicted). v is its last verdict. */
    void (*expired)(void *user, const struct verdict *v);
    /* An open episode's level moved (high to critical, critical to high, below high while it
     * waits to end, back up). Changes between two ticks are coalesced into one call, with the
     * level before the first (prev_level) and the role's verdict now (v->level); none when the
     * level came back to where it was. Called after the episode's start event and before its
     * end event. peers as for event. */
    void (*level_change)(void *user, const struct verdict *v, uint8_t prev_level,
                         const struct redis_sink_peer *peers, size_t npeers);
};

struct verdict_table_stats {
    uint64_t flows_in;    /* verdict_table_flow calls */
    uint64_t alerts_in;   /* verdict_table_alert calls */
    uint64_t reports_in;  /* verdict_table_report calls */
    uint64_t whitelisted; /* evidence ignored for a whitelisted IP/role (and victim alerts
                             for group addresses) */
    uint64_t stale;       /* role reports older than the window: counted, no weight */
    uint64_t ips;         /* entries in use */
    uint64_t capacity;
    uint64_t evictions;        /* entries replaced while the table was full */
    uint64_t published;        /* verdict callbacks */
    uint64_t episodes_started; /* ATTACK_START events */
    uint64_t episodes_ended;   /* ATTACK_END events */
    uint64_t level_changes;    /* level_change calls */
    uint64_t episodes_active;
    uint64_t episodes_untracked; /* episodes without a record (pool empty): no events */
    uint64_t expired;
    uint64_t by_level[4];       /* published IPs per level now */
    uint64_t unjudged_sources;  /* attack flows whose unproven source got no entry (spoofed or
                                   reflector: counted for the victim instead) */
    uint64_t spoofed_untracked; /* spoofed-source tallies lost: the victims' pool was empty */
    uint64_t light_promoted;    /* light roles made whole because a value outgrew the light
                                   record's fields (memory only: the verdicts are the same) */
};

/* Builds a table (everything allocated here, sizes logged). Returns NULL after logging why. */
DD_NODISCARD struct verdict_table *verdict_table_create(const struct verdict_table_config *cfg,
                                                        const struct verdict_table_sink *sink);
void verdict_table_destroy(struct verdict_table *t);

/* Sets the model_version written into verdicts from now on ("" for none; copied). */
void verdict_table_set_model_version(struct verdict_table *t, const char *version);
/* Replaces the borrowed whitelist (a configuration reload). */
void verdict_table_set_whitelist(struct verdict_table *t, const struct config_whitelist *wl);

/* Adds evidence. Never publishes (verdict_table_tick does), never allocates. O(1). */
void verdict_table_flow(struct verdict_table *t, const struct flow_evidence *e);
void verdict_table_alert(struct verdict_table *t, const struct rate_alert *a);
/* An operator/gateway report: raises v's IP (role v->role) to at least v->level with reason
 * report for ttl_us from now_us. v's attack_type is used when the IP has none. */
void verdict_table_report(struct verdict_table *t, const struct verdict *v, uint64_t now_us,
                          uint64_t ttl_us);

/* Advances the stage clock to now_us (never backwards), re-evaluates changed and due entries
 * (episode ends, window slides, expiry), and calls the sink. Visits at most `budget` idle entries
 * for expiry per call (0: all); changed entries are always handled. */
void verdict_table_tick(struct verdict_table *t, uint64_t now_us, size_t budget);

/* Publishes again every IP whose last_seen moved since its last publication with nothing else
 * changing (ticks leave those alone until the ttl/4 refresh, to spare Redis). Call once at
 * shutdown, after the last tick, so stores end with the true last_seen. */
void verdict_table_publish_seen(struct verdict_table *t);

/* Calls fn for every IP's current published verdict (levels low included), in table order. */
void verdict_table_foreach(struct verdict_table *t, void (*fn)(void *user, const struct verdict *v),
                           void *user);

/* An open episode as it stands now, for a live view (the dashboard): the role's current
 * verdict, the episode's start, peaks so far, highest level, and top peers (most flows first). */
struct verdict_episode_info {
    struct verdict v;
    uint64_t start_us;
    double peak_pps, peak_bps;
    uint8_t peak_level;
    uint32_t npeers;
    struct redis_sink_peer peers[REDIS_SINK_PEERS_MAX];
};
/* Fills *out for the open, tracked episode of (ip, role). Returns false when there is none. */
bool verdict_table_episode_get(struct verdict_table *t, const uint8_t ip[16], uint8_t ip_version,
                               int role, struct verdict_episode_info *out);

/* The stage clock (the newest now_us or evidence time seen). */
uint64_t verdict_table_now(const struct verdict_table *t);

void verdict_table_stats_get(const struct verdict_table *t, struct verdict_table_stats *out);

#endif
