/* flow_table.h - the bidirectional flow table: lookup, lifecycle and bounded expiry.
 *
 * One thread owns a table (shard by flow hash to use more cores; never lock it). Capacity is
 * fixed at creation and every slot is allocated once; pages of slots never used are never
 * touched, so a large capacity costs address space, not memory, until traffic fills it.
 *
 * Lifecycle (docs/architecture.md has the full table):
 *   fixed mode: a flow ends on its idle timeout, its active timeout (from the first packet),
 *     or a TCP teardown: after FIN in both directions and the last ACK, or a RST, the flow waits
 *     close_linger for stragglers (so the teardown stays in the flow), then ends; a new SYN on
 *     a closed flow ends it at once and starts the next one. Every flow is emitted (>= 1 packet).
 *   cic mode: CICFlowMeter's legacy rules: the first FIN in either direction ends the flow (the
 *     FIN packet included), RST means nothing, the active timeout (120 s) counts from the first
 *     packet and there is no idle timeout; flows of fewer than 2 packets are not emitted.
 * Table full: the least recently seen of FLOW_TABLE_EVICT_SAMPLES randomly sampled flows is
 *   ended early (FLOW_END_EVICTED, emitted like any other flow) and counted.
 *
 * Expiry is incremental and bounded: flow_table_expire() examines at most `budget` slots per
 * call, sweeping the whole table once per sweep_period of packet time. Offline runs pass packet
 * time, so a replay is deterministic; live callers also pass wall-clock time when idle. */
#ifndef DD_FEATURES_FLOW_TABLE_H
#define DD_FEATURES_FLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "common/compiler.h"
#include "features/feature_set.h"
#include "features/flow.h"

/* Flow-internal times are 32-bit microsecond offsets, so a flow may last at most this long. */
#define FLOW_MAX_ACTIVE_TIMEOUT_US (4000ull * 1000000ull)
#define FLOW_TABLE_EVICT_SAMPLES   8

struct flow_table_config {
    uint32_t capacity; /* max concurrent flows */
    enum feat_mode mode;
    uint64_t idle_timeout_us;     /* fixed mode; 0 disables */
    uint64_t active_timeout_us;   /* from the first packet; 1 .. FLOW_MAX_ACTIVE_TIMEOUT_US */
    uint64_t activity_timeout_us; /* active/idle threshold of the Active/Idle features */
    uint64_t close_linger_us;     /* fixed mode: wait after a TCP close for stragglers */
    uint64_t sweep_period_us;     /* the expiry scan covers the table once per this */
    uint64_t seed;                /* hash and eviction seed; 0 picks a random one */
    uint32_t emit_min_packets;    /* flows with fewer packets are ended silently */
    /* Reports of running flows (snapshots), for scoring a flood while it lasts: a flow is
     * reported when it reaches report_first_packets packets, and again whenever a packet comes
     * report_interval_us or more after its previous report. 0 disables either. */
    uint32_t report_first_packets;
    uint64_t report_interval_us;
    /* A flow that has not been reported by the time it is this old (packet time) is reported
     * once then: a flow too short to reach report_first_packets (a spoofed SYN, a stalled
     * handshake) is scored while an attack lasts, not at its idle timeout. Flows are queued at
     * creation in a FIFO of capacity/4 entries; when it is full the flow is not queued
     * (stats.young_unqueued). 0 disables. */
    uint64_t report_young_us;
};

/* Fills c with the defaults of a mode: fixed: idle 60 s, active 120 s, linger 2 s, emit >= 1;
 * cic: no idle, active 120 s, emit >= 2. Both: activity 5 s, 1M flows, sweep 5 s, random seed. */
void flow_table_config_defaults(struct flow_table_config *c, enum feat_mode mode);

/* Checks a config. Returns 0, or -EINVAL with a one-line reason in why. */
DD_NODISCARD int flow_table_config_check(const struct flow_table_config *c, char *why,
                                         size_t why_len);

enum flow_end {
    FLOW_END_IDLE = 0,
    FLOW_END_ACTIVE, /* active timeout */
    FLOW_END_FIN,    /* TCP FIN (cic: first FIN; fixed: both FINs) */
    FLOW_END_RST,
    FLOW_END_EVICTED, /* table full */
    FLOW_END_FLUSH,   /* end of input or shutdown */
    FLOW_END_COUNT
};

const char *flow_end_name(enum flow_end why);

/* Called for every flow that ends and has at least emit_min_packets packets. f is valid only
 * during the call. The callback must not call back into the table. */
typedef void (*flow_end_fn)(void *user, const struct flow *f, enum flow_end why);

/* Called with a running flow that is due a report (see report_first_packets). f stays in the
 * table; the callback may read it (flow_features_compute) but must not call into the table. */
typedef void (*flow_report_fn)(void *user, const struct flow *f);

struct flow_table_stats {
    uint64_t packets;         /* offered to flow_table_add */
    uint64_t packets_skipped; /* not part of this mode's flows (cic: IPv6) */
    uint64_t ts_backwards;    /* packets stamped earlier than the newest seen */
    uint64_t clock_jumps;     /* of those, jumps back by more than the active timeout: the
                                 table's clock follows them (a new era of packet time) */
    uint64_t flows_created;
    uint64_t flows_ended[FLOW_END_COUNT];
    uint64_t flows_emitted;
    uint64_t flows_suppressed; /* ended below emit_min_packets (cic: 1-packet flows) */
    uint64_t evictions;        /* == flows_ended[FLOW_END_EVICTED] */
    uint64_t reports;          /* snapshots of running flows handed to the report callback */
    uint64_t young_reports;    /* of those, reports of young flows (report_young_us) */
    uint64_t young_unqueued;   /* flows not queued for a young report: the FIFO was full */
    uint32_t active;
    uint32_t peak_active;
};

struct flow_table;

/* Allocates a table (slots, buckets) once. Returns NULL after logging why (bad config, no
 * memory). on_end may be NULL. */
struct flow_table *flow_table_create(const struct flow_table_config *config, flow_end_fn on_end,
                                     void *user);

/* Sets the callback for reports of running flows (NULL disables them). */
void flow_table_set_report(struct flow_table *t, flow_report_fn on_report, void *user);

/* Frees the table without emitting anything (call flow_table_flush first). Accepts NULL. */
void flow_table_destroy(struct flow_table *t);

/* Accounts one decoded packet at time ts (microseconds). Returns the flow it now belongs to,
 * valid until the next call into the table, or NULL when the packet ended its flow (cic FIN)
 * or is not part of this mode's flows. Never allocates. */
struct flow *flow_table_add(struct flow_table *t, const struct pkt_info *p, uint64_t ts);

/* Accounts n packets in order, exactly as n calls of flow_table_add would, but in groups of
 * FLOW_TABLE_BURST: hashes first, then prefetches of buckets and flows, then the updates, so
 * the cache misses of a group overlap instead of following one another. created (may be NULL)
 * receives n flags: 1 where the packet started a new flow (the rate rules count new flows/s). */
enum { FLOW_TABLE_BURST = 64 };
void flow_table_add_burst(struct flow_table *t, const struct pkt_info *pkts, const uint64_t *ts,
                          size_t n, uint8_t *created);

/* Ends flows whose time is up as of now (microseconds), examining at most budget slots.
 * Returns how many flows ended. */
size_t flow_table_expire(struct flow_table *t, uint64_t now, size_t budget);

/* Ends every flow (FLOW_END_FLUSH), in slot order, and resets the table's clock: what comes
 * next is a new stream (the next input). */
void flow_table_flush(struct flow_table *t);

/* Calls fn on every active flow (for snapshots). fn must not call into the table. */
void flow_table_foreach(struct flow_table *t, void (*fn)(void *user, struct flow *f), void *user);

/* The slot of a flow of t (a pointer the table handed out), and back: the flow in a slot, or NULL
 * when the slot holds none now. A slot is reused once its flow ends: check the flow (first_ts)
 * before trusting it. For notes that come back later about a flow (the daemon's scores); only
 * the user fields of a flow (user_tag, user_score) may be written through the pointer. */
uint32_t flow_table_slot_of(const struct flow_table *t, const struct flow *f);
struct flow *flow_table_slot_flow(struct flow_table *t, uint32_t slot);
/* Starts loading the head of slot's flow (the fields flow_table_slot_flow's callers check), for
 * callers about to look at many slots; any slot number is harmless. */
void flow_table_prefetch_slot(const struct flow_table *t, uint32_t slot);

const struct flow_table_stats *flow_table_stats(const struct flow_table *t);
const struct flow_table_config *flow_table_config(const struct flow_table *t);

/* Bytes allocated for slots and buckets (the fixed cost of capacity). */
size_t flow_table_memory(const struct flow_table *t);

/* The table's clock: the newest packet time seen since the last flush, microseconds (0 before
 * the first packet); it follows a jump back to an earlier era (see clock_jumps). */
uint64_t flow_table_now(const struct flow_table *t);

/* Builds the canonical key and per-mode packet view of p. Returns false when the packet does
 * not belong to this mode's flows (cic: IPv6). Exposed for tests and for shard dispatch. */
bool flow_key_from_packet(enum feat_mode mode, const struct pkt_info *p, uint64_t ts,
                          struct flow_key *key, struct flow_pkt *fp);

/* Seeded hash of a canonical key (both directions hash alike). */
uint32_t flow_key_hash(const struct flow_key *key, uint64_t seed);

#endif
