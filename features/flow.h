/* flow.h - one bidirectional flow: its key, its O(1) running statistics, its feature vector.
 *
 * A flow is a fixed-size record (no pointers, no per-packet allocation) updated once per packet
 * by flow_add_packet() and read at any moment by flow_features_compute(), which is const: a
 * snapshot of a running flow and the vector of an ended flow are computed by the same code.
 *
 * Times inside a flow are 32-bit microsecond offsets from the flow's first packet, which is why
 * the active timeout is capped at FLOW_MAX_ACTIVE_TIMEOUT_US (see flow_table.h). Per-flow time
 * never runs backwards: a packet stamped earlier than the flow's last packet is taken at the last
 * packet's time (and counted by the table), so IATs are never negative.
 *
 * The struct is owned by the flow table; other modules get const pointers that are valid until
 * the next call into the table. */
#ifndef DD_FEATURES_FLOW_H
#define DD_FEATURES_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/decode.h"
#include "features/feature_set.h"

/* Canonical, direction-free key: endpoint 0 is the smaller (address, port) pair. */
struct flow_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t proto;      /* IP protocol; 0 for CICFlowMeter's "other" group in cic mode */
    uint8_t ip_version; /* 4 or 6 */
    uint8_t pad[2];     /* always zero, so keys compare and hash as bytes */
};
_Static_assert(sizeof(struct flow_key) == 40, "flow_key must stay 40 bytes");

/* Per-direction accumulators (index 0 = forward, the first packet's direction). */
struct flow_dir {
    uint64_t bytes;          /* sum of payload lengths */
    double len_mean, len_m2; /* Welford running moments of payload lengths */
    double iat_mean, iat_m2; /* same, of gaps between packets of this direction */
    int64_t hdr_sum;         /* sum of L4 header lengths */
    uint64_t bulk_bytes;
    uint32_t pkts;
    uint32_t len_min, len_max;
    uint32_t first_off, last_off; /* time of first/last packet in this direction */
    uint32_t iat_min, iat_max;
    uint32_t psh, urg;              /* packets with PSH / URG */
    uint32_t act_data;              /* packets with payload >= 1 (cic: first packet excluded) */
    int32_t hdr_min;                /* smallest L4 header; INT32_MAX until a packet is seen */
    int32_t win_first, win_last;    /* TCP window of the first/last packet; -1 when none */
    uint32_t bulk_start, bulk_last; /* candidate bulk: first/last packet time */
    uint32_t bulk_cand_pkts, bulk_cand_bytes;
    uint32_t bulks, bulk_pkts, bulk_dur;
};

/* Per-flow TCP teardown state (flow.tcp_state bits). */
enum {
    FLOW_TCP_FIN_FWD = 1u << 0,
    FLOW_TCP_FIN_BWD = 1u << 1,
    FLOW_TCP_RST = 1u << 2,
    FLOW_TCP_CLOSED = 1u << 3, /* both FINs and the last ACK, or a RST: waiting for stragglers */
};

/* Field order matters: the first 72 bytes hold everything a hash-chain walk and an expiry check
 * read (hash, chain link, state, times, key), so those touch at most two cache lines. */
struct flow {
    /* Bookkeeping owned by flow_table; flow_start() leaves hash, chain_next, in_use alone. */
    uint32_t hash;
    uint32_t chain_next;
    uint8_t in_use;
    uint8_t tcp_state;          /* FLOW_TCP_* */
    uint8_t mode;               /* enum feat_mode the flow was built with */
    uint8_t fwd_ep;             /* key endpoint (0/1) that is the forward source */
    uint32_t close_off;         /* when FLOW_TCP_CLOSED was set */
    uint64_t first_ts, last_ts; /* microseconds since the epoch */
    struct flow_key key;
    /* Statistics: flow_start() zeroes everything from here on. */
    struct flow_dir dir[2];
    double iat_mean, iat_m2; /* all packets, arrival order */
    double active_mean, active_m2, idle_mean, idle_m2;
    uint32_t iat_min, iat_max;
    uint32_t active_n, active_min, active_max;
    uint32_t idle_n, idle_min, idle_max;
    uint32_t active_start, active_end; /* current activity period (offsets) */
    uint32_t flag_cnt[8];              /* packets with each TCP flag, bit order FIN..CWR */
    uint32_t first_payload;            /* payload of the first packet (cic double count) */
    uint32_t subflow_gaps;             /* gaps > 1 s between consecutive packets */
    uint32_t pkts_at_report;           /* packets at the last report of the running flow (0
                                          before the first); during the report callback still
                                          the previous report's, so packets since then are
                                          flow_packets(f) - pkts_at_report */
    uint32_t report_off;               /* time of that report (flow_table report hook) */
    uint8_t first_flags;               /* TCP flags of the first packet */
    uint8_t icmp_type, icmp_code;
    /* A note the table's user keeps about the flow's latest report (the daemon: "that report
     * was scored benign, p_attack user_score", so an end with nothing new is not scored again).
     * flow_start zeroes both, and the table zeroes user_tag after every report, which
     * supersedes whatever was noted about the one before; the table reads neither. They fill
     * what was padding: the struct keeps its size. */
    uint8_t user_tag;
    float user_score;
};
_Static_assert(sizeof(struct flow) == 488, "struct flow grew: the bytes per flow goal is 512");

/* Packet as seen by a flow: what flow_add_packet() needs, already mode-adjusted by the table. */
struct flow_pkt {
    uint64_t ts;      /* microseconds */
    uint32_t payload; /* mode's payload length */
    int32_t header;   /* mode's L4 header length */
    int32_t window;   /* TCP window, or -1 */
    uint8_t tcp_flags;
    uint8_t from_ep; /* key endpoint (0/1) that sent it */
    uint8_t icmp_type, icmp_code;
};

/* Starts f with its first packet. key must already be canonical; fwd_ep is the sender.
 * Zeroes every statistic; does not touch the table bookkeeping fields. */
void flow_start(struct flow *f, const struct flow_key *key, enum feat_mode mode,
                const struct flow_pkt *p);

/* Adds a later packet. Returns true when the packet is forward. activity_us is the active/idle
 * threshold (CICFlowMeter: 5 s). */
bool flow_add_packet(struct flow *f, const struct flow_pkt *p, uint64_t activity_us);

/* Total packets so far. */
static inline uint32_t flow_packets(const struct flow *f)
{
    return f->dir[0].pkts + f->dir[1].pkts;
}

/* Computes the feature vector (FEAT_COUNT doubles, order of enum feat_id) of f as it stands now.
 * Pure: f is not changed, so it may be called on a running flow (a snapshot). */
void flow_features_compute(const struct flow *f, double out[FEAT_COUNT]);

/* Forward source/destination address and port of f (from the key and fwd_ep). */
const uint8_t *flow_src_addr(const struct flow *f);
const uint8_t *flow_dst_addr(const struct flow *f);
uint16_t flow_src_port(const struct flow *f);
uint16_t flow_dst_port(const struct flow *f);

#endif
