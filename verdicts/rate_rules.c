/* rate_rules.c - per-IP rate rules: the table of per-IP counters, its 100 ms sub-windows, 1 s
 * windows and EWMAs, the threshold evaluation against config.json's `rules`, and the alert list
 * (rate_rules.h).
 *
 * Owns: an open-addressing index of slots (a 32-bit tag and an entry number each), a dense
 * pool of light entries (struct rr_light, 64 bytes: every tracked IP starts there) and one of
 * full entries (struct rr_full, 396 bytes, at most max_ips / 4 of them: IPs promoted because
 * their traffic came near a threshold), each with its free stack, a pool of burst snapshots
 * (struct rr_snap, 68 bytes, only for full entries that ever burst over a threshold), a pool
 * of role states (struct rr_roles, 96 bytes, only for full entries whose alert state left the
 * defaults: a role over a threshold, a fragment) and the list of alerting IP/roles. All
 * allocated in rate_rules_create(); nothing is allocated afterwards (the two entry pools are
 * anonymous mappings filled from the bottom, so memory follows the addresses tracked, not the
 * capacity; the other pools are calloc'd, touched as used). The reflector service ports are
 * features/port_class's list (the model and the judge use the same one).
 *
 * Threads: none of its own. One capture shard calls rate_rules_packet() per packet and
 * rate_rules_tick() on 100 ms boundaries; no locks, no atomics, no logging per packet.
 *
 * DESIGN: the table is open addressing with a bounded probe window: an IP lives in one of the
 * RATE_RULES_PROBES slots starting at hash & mask. A lookup compares tags (64 bytes) and
 * only then keys (in the slot's pool entry); a miss takes the first free slot of the window, or
 * evicts the slot with the smallest recent packet rate (an attacker spraying spoofed sources then
 * only recycles the quietest entries, never the victim it is flooding). Because lookups always scan
 * the whole window, a slot can be freed without tombstones, which lets the tick expire idle
 * entries. The hash is keyed with a random seed chosen at start-up so that sources cannot be picked
 * to collide into one window (offline replays fix it instead, rate_rules_set_seed: with a full
 * window the seed decides which entry is evicted).
 *
 * Counting is by direction: an entry's role VICTIM counts packets towards the IP and its role
 * ATTACKER packets from it, with the same metrics (rr_metric). Judging one role also reads the
 * other direction: the answers a victim sends, the SYN-ACKs it sends, the reflector requests it
 * made. Packets count into a 100 ms sub-window (full entries: 16-bit saturating counters, bytes
 * 32-bit); a sub-window that ends is added into its 1 s window, and a 1 s window that ends feeds
 * the EWMAs (empty windows in between decay them). Rolls are lazy: a packet or the tick that finds
 * an entry's sub-window or window over rolls it.
 *
 * Two evaluations per role. Sustained: at every 1 s roll, on the EWMAs. Burst: a packet that
 * takes a sub-window count over the "floor" / 10 (per metric, the lowest threshold of the
 * global rules and every host group) makes its role "hot" for that sub-window; a hot role is
 * evaluated at once (counts so far x 10, which can only grow) and again when the sub-window ends,
 * so a 100 ms burst at flood rate alerts at the tick that closes it. Only entries over a floor
 * pay for the longest-prefix host group lookup and the whitelist scan, whose result is then
 * cached in the entry: a flood of spoofed new sources never costs a CIDR scan per packet. A
 * role's published state is the worse of its last sustained evaluation and the bursts of the
 * current second.
 *
 * Two tiers. Most addresses only ever carry light traffic (clients, spoofed sources), and no
 * metric of such an address can reach a floor: every packet-count metric of a role (SYNs, new
 * flows, reflector answers, ICMP errors, fragments, distinct sources: one per packet at most)
 * is bounded by the role's packets, bps by its bytes. So an entry starts LIGHT: key, clocks
 * (32-bit, relative to an epoch set by the first packet, re-based by a packet time they cannot
 * hold: rr_clock_reset), the current sub-window of both roles
 * exactly for every metric (3-bit counts, 25-bit bytes), and for the second's closed
 * sub-windows and the EWMAs only packets and bytes per role: 64 bytes, one cache line. A
 * packet that would take a role's sub-window over 1/RR_PROMOTE_DIV (1/8) of its lowest
 * packet-count floor / 10 (with the defaults: syn_per_s 500, so 6 packets; never more than
 * the 7 a 3-bit count holds) or of its byte floor, or that is a fragment (its protocol vote
 * needs a role state), PROMOTES the entry first: it takes a full record, the current
 * sub-window and the packets, bytes and their EWMAs are carried over exactly, and the packet
 * counts as in a full entry. Where 1/8 of a floor / 10 is under one packet (floors under
 * 80/s, in any host group: the floor is the lowest of all) the limit is instead the largest
 * count whose ten-fold stays under the floor (a floor of 50/s: 4), so that one-packet
 * addresses stay light; only floors of 10/s or less promote at the first packet
 * (rr_promote_limit). Under the promotion limits a sub-window x 10, a second and the EWMAs stay
 * under every floor (under 1/8 of it but for those low floors), so a light entry is never judged
 * (its burst test and sustained evaluation could not pass a floor: nothing is lost by not running
 * them), never resolved against host groups and whitelists, never alerts, and its tick roll only
 * decays two EWMAs per role. What promotion cannot carry: the other metrics of the second's earlier
 * sub-windows and of the EWMAs (SYNs, flows, protocol mix, answers, ...) and the sources'
 * HyperLogLog start at zero. Each is bounded by the packets that were light, under 1/8 of the
 * lowest floor per second (under the floor itself for floors under 80/s): an under-count of at most
 * that much, once, decaying by half every second (a gate read from the other direction, answers or
 * SYN-ACKs, under-counted by as much can make the gated value look larger by that much times its
 * factor for those seconds). A flood onto a quiet address promotes it within its first sub-window,
 * which is exact: its alerts, burst and sustained, are the same as with full entries throughout
 * (tests/unit/test_rate_rules.c compares twins).
 *
 * The full records are max_ips / 4 (mmap'd, touched as used). While fewer than 1/8 of them
 * are free the pool is "tight": the tick's scan DEMOTES the full entries it visits that are
 * quiet (neither role alerting or hot, their current sub-window, second so far and EWMAs within
 * what a light entry holds: the invariant above holds again), keeping what a promotion carries
 * and dropping the rest (the other metrics, the fragment votes), bounded the same way; and a
 * fragment alone no longer promotes (one spoofed fragment per source would otherwise fill the
 * pool). Outside that state nothing is ever demoted, so the tiers change no verdict. When all
 * records are taken anyway (by busy addresses), a promotion is refused (promote_failed counts
 * each refusal): the entry stays light, its light counts saturate, it cannot alert, and it is
 * promoted at its next packet over the limits once a record is free again (demoted, expired
 * after RR_IDLE_S idle, or evicted). Eviction compares both tiers on one scale (recent
 * packets per second), so spoofed one-packet sources recycle light entries only.
 *
 * Gates (what makes a rate evidence of a flood, not of use):
 *   - pps counts only traffic the IP does not answer: unanswered = pps - RR_ANSWER_FACTOR x
 *     answers, where an answer is a packet of the other direction that is not a RST, an ICMP
 *     error, an echo reply or a SYN-ACK (those reflexes answer spoofed floods too). A client
 *     downloading at 100k pps sends ACKs and is not a victim. bps, distinct sources and
 *     fragments are scaled by the same unanswered share (a DNS server's clients are answered);
 *   - the SYN rule fires while SYNs exceed syn_ack_ratio x completed handshakes, estimated as
 *     min(SYN-ACKs of the other direction, pure ACKs of this one): a spoofed SYN flood the
 *     victim answers with SYN-ACKs never completes a handshake, a busy server's clients do;
 *   - reflector answers count beyond RR_REQUEST_FACTOR per reflector request the IP sent: a
 *     resolver's DNS answers are requested, an amplification victim asked for nothing;
 *   - ICMP errors count beyond the packets the IP sent (each error answers one packet).
 *
 * Distinct sources per destination are estimated with a 64-register HyperLogLog (64 bytes per
 * full entry, ~13% standard error, linear counting for small counts), reset every window; a burst
 * evaluation reads the second's estimate so far (a lower bound of the window's).
 *
 * Known limits: non-first fragments carry no ports, so a fragmented amplification answer counts
 * once (its first fragment) in reflector_pps, though fully in pps, bps and fragments. The
 * handshake estimate counts pure ACKs from any established connection, so a victim with much
 * legitimate traffic hides a SYN flood smaller than syn_ack_ratio x its clients' pure ACKs.
 *
 * Calls: common/cidr (CIDR matching), common/log (at create only), features/port_class. */
#include "verdicts/rate_rules.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/cidr.h"
#include "common/hash.h"
#include "common/log.h"
#include "features/port_class.h"
#include "verdicts/verdict.h"

/* Counted per direction. The first RR_NPKT are packet counts; RR_BYTES is bytes; RR_SOURCES is
 * a rate only (the HyperLogLog of the victim direction). */
enum rr_metric {
    RR_PPS,
    RR_SYN,      /* SYN without ACK */
    RR_FLOWS,    /* packets that created a flow */
    RR_REFL,     /* UDP from a reflector service port */
    RR_ICMP_ERR, /* ICMPv4 3,4,5,11,12; ICMPv6 1-4 */
    RR_FRAG,     /* IPv4 MF or offset, IPv6 fragment header */
    RR_SYNACK,
    RR_TCP,
    RR_UDP,
    RR_ICMP,     /* ICMP or ICMPv6, any type */
    RR_ANSWER,   /* could answer the other direction: not RST, ICMP error, echo reply, SYN-ACK */
    RR_PURE_ACK, /* ACK alone (no SYN/FIN/RST), no payload: completes handshakes */
    RR_REFL_REQ, /* UDP to a reflector service port */
    RR_NPKT,
    RR_BYTES = RR_NPKT,
    RR_SOURCES,
    RR_METRIC_COUNT
};

enum {
    RR_HLL_REGS = 64,
    RR_IDLE_S = 60,
    RR_ROLES = 2,
    RR_MAX_IPS = 1u << 25,
    RR_SUB_US = 100000, /* sub-window length */
    RR_SUBS = 10,       /* sub-windows per 1 s window */
    RR_PROMOTE_DIV = 8, /* a light entry is promoted at 1/8 of a floor (see DESIGN) */
    RR_FULL_DIV = 4,    /* full records: max_ips / 4 */
    RR_EPOCH_BACK_S = 86400,
};

#define RR_HLL_KEY        0xa54ff53a5f1d36f1ull /* the sources' HyperLogLog hash key */
#define RR_ANSWER_FACTOR  20.0 /* packets one answer explains (a download's data per ACK) */
#define RR_REQUEST_FACTOR 10.0 /* reflector answers one request explains */

/* Per role alert state. */
struct rr_role_state {
    int32_t active_pos;   /* index in rate_rules.active, -1 when not alerting */
    uint32_t reasons;     /* published: of the last evaluation over a threshold */
    uint32_t sus_reasons; /* of the last sustained (1 s) evaluation */
    uint32_t win_reasons; /* of the bursts of the current second */
    float sus_excess;     /* worst value/threshold of those, 0 when none */
    float win_excess;
    float score;
    uint8_t level;
    uint8_t emitted_level;
    uint8_t quiet;      /* consecutive windows under every threshold while alerting */
    bool emitted;       /* at least once since it started alerting */
    bool burst;         /* published level came from a sub-window (snap) */
    uint8_t frag_proto; /* majority vote of the fragments' protocol */
    uint8_t frag_votes;
    uint64_t last_emit_s;
};

/* The alert state of both roles of an entry. Only entries whose state ever left the defaults
 * (a role over a threshold, a fragment seen) have one (rate_rules.states, kept until the
 * entry is freed); the others read rr_roles_default: not alerting, nothing counted. */
struct rr_roles {
    struct rr_role_state role[RR_ROLES];
};
static const struct rr_roles rr_roles_default = {{{.active_pos = -1}, {.active_pos = -1}}};

/* One 100 ms sub-window of both directions. */
struct rr_sub {
    uint16_t n[RR_ROLES][RR_NPKT];
    uint32_t bytes[RR_ROLES];
};

/* The sub-window of an entry's latest worst burst, for the alert's values: one for both roles
 * (an IP bursting as victim and attacker at once shows the later one's sub-window). Only
 * entries that ever burst over a threshold have one (rate_rules.snaps), kept until the entry
 * is freed. */
struct rr_snap {
    struct rr_sub sub;
    float sources; /* the HyperLogLog estimate when sub was taken */
    uint32_t pkts; /* victim packets of the second until sub was taken */
};
static const struct rr_snap rr_snap_zero;

/* What every tracked address has: its key, its sub-window clock and the second of its latest
 * packet, both relative to rate_rules.epoch_sub (sub_id in 100 ms sub-windows, whose 1 s window
 * is sub_id / RR_SUBS: the epoch is a whole second; last_pkt_s modulo 2^16, see rr_idle_s). The
 * first member of both tiers' records: a slot's pidx says which one it is (RR_PIDX_FULL), and
 * RR_FL_FULL in flags says it to code holding only the header. */
struct rr_entry {
    uint8_t addr[16];
    uint32_t sub_id;
    uint16_t last_pkt_s;
    uint8_t version;
    uint8_t flags; /* RR_FL_HOT(role): over a floor in the current sub-window (full only) */
};
enum { RR_FL_FULL = 0x80, RR_PIDX_FULL = 1u << 31 };
#define RR_FL_HOT(role) (1u << (role))

/* A light entry: one cache line. The current sub-window of both roles is exact for every
 * metric: 3-bit counts (a light sub-window holds at most RR_LIGHT_MAX packets per role, a
 * packet over it promotes the entry) and 25 bits of bytes in one word per role. The second's
 * closed sub-windows and the EWMAs keep packets and bytes only: what bounds the rest. */
struct rr_light {
    struct rr_entry h;
    uint64_t sub[RR_ROLES]; /* metric m: bits 3m..3m+2; bytes: bits 39..63 */
    uint32_t sec[RR_ROLES]; /* packets << 25 | bytes, of the second's closed sub-windows */
    float ewma_n[RR_ROLES];
    float ewma_bytes[RR_ROLES];
};
_Static_assert(sizeof(struct rr_light) == 64, "struct rr_light is one cache line");
#define RR_SUB_BYTES_SHIFT 39
#define RR_SEC_N_SHIFT     25
#define RR_BYTES_MAX       ((1u << 25) - 1) /* what 25 bits of bytes hold */
enum {
    RR_LIGHT_MAX = 7,                       /* what 3 bits of a count hold */
    RR_LIGHT_BYTES = RR_BYTES_MAX / RR_SUBS /* a sub-window's bytes, 10 of which fit 25 bits */
};

/* A full (promoted) entry: every metric of both roles, the sources' HyperLogLog, its host
 * group and whitelist resolution, and the indices of its role states and burst snapshot. */
struct rr_full {
    struct rr_entry h;
    bool resolved; /* group and whitelist below are valid */
    bool whitelisted[RR_ROLES];
    int16_t group; /* hostgroup index for the longest matching CIDR, -1 for global */
    uint32_t snap; /* 1 + its struct rr_snap in rate_rules.snaps; 0: none */
    uint32_t rsi;  /* 1 + its struct rr_roles in rate_rules.states; 0: both at the defaults */
    struct rr_sub sub;
    uint32_t count[RR_ROLES][RR_NPKT + 1]; /* the second so far, RR_BYTES included */
    float rate[RR_ROLES][RR_METRIC_COUNT]; /* smoothed per-second values */
    uint8_t hll[RR_HLL_REGS];              /* sources of packets to this IP */
};
_Static_assert(sizeof(struct rr_full) == 396, "struct rr_full changed size: update the DESIGN");

struct rate_rules {
    const struct config_rules *rules;
    struct config_thresholds floor[RR_ROLES]; /* lowest enabled threshold per metric */
    /* Per role, the floor as counts per sub-window (INFINITY: disabled): the per-packet test. */
    float burst_lim[RR_ROLES][RR_NPKT + 1];
    uint64_t seed, seed_hll;
    uint32_t mask;
    uint32_t *tags; /* 0: free slot */
    uint32_t *pidx; /* per slot in use: its light entry in pool, or RR_PIDX_FULL | its full one */
    /* The entries, dense: taken from the bottom (pool_high) or the free stack, so memory grows
     * with the addresses tracked, one entry each. Slots are spread over the table by the hash;
     * entries living in the slots themselves touched a page per address until every page was
     * (a table of 524,288 slots cost its 297 MB after ~70k addresses). mmap'd: pages never
     * reached cost nothing. */
    struct rr_light *pool;
    size_t pool_bytes;
    uint32_t pool_high;
    uint32_t *pool_free; /* stack of freed entries */
    uint32_t pool_nfree;
    /* Per role, the promotion limits of a light entry's sub-window: 1/RR_PROMOTE_DIV of the
     * lowest packet-count floor and of the byte floor, per sub-window (for low floors the
     * largest count x 10 under them, rr_promote_limit), capped by what the light counters hold. A
     * count over one promotes the entry before the packet is counted. */
    uint32_t promote_n[RR_ROLES], promote_bytes[RR_ROLES];
    /* The full records, full_cap of them, taken like the entries (mmap'd, touched as used). */
    struct rr_full *fulls;
    size_t fulls_bytes;
    uint32_t full_cap, full_high;
    uint32_t *full_free, full_nfree;
    /* Time origin of the entries' 32-bit clocks (in sub-windows, a whole second), set by the
     * first packet: RR_EPOCH_BACK_S before it, so that slightly older times still count; set
     * again (the table emptied) by a packet time outside the clocks (rr_clock_reset). */
    uint64_t epoch_sub;
    bool have_epoch;
    /* Burst snapshots, one per full entry that ever burst (calloc'd, touched as used), taken
     * like them. */
    struct rr_snap *snaps;
    uint32_t *snap_free, snap_nfree, snap_high;
    /* Role states, one per full entry whose state left the defaults, taken the same way. */
    struct rr_roles *states;
    uint32_t *state_free, state_nfree, state_high;
    uint32_t *active; /* slot << 1 | role of alerting IP/roles (full entries); 2 * full_cap */
    uint32_t n_active;
    uint32_t active_cursor;
    uint32_t scan_cursor;
    struct rate_rules_stats st;
};

/* What one role looks like over one window (1 s EWMA or a sub-window x 10): the alert's values
 * and the gated values the thresholds are compared with. Per second unless said. */
struct rr_view {
    double pps, bps, syn, synack, flows, sources, refl, icmp_err, frag, tcp, udp, icmp;
    double handshakes, answered_ratio, refl_req, pkts_per_source, syn_ack_unrequested;
    double pps_unanswered, bps_unanswered, sources_unanswered, frag_unanswered;
    double refl_unrequested, icmp_err_unsolicited;
};

/* The entry (header) of a slot in use, of either tier. */
static inline struct rr_entry *rr_e(const struct rate_rules *r, uint32_t slot)
{
    uint32_t k = r->pidx[slot];
    return k & RR_PIDX_FULL ? &r->fulls[k & ~RR_PIDX_FULL].h : &r->pool[k].h;
}

static inline bool rr_is_full(const struct rr_entry *e)
{
    return e->flags & RR_FL_FULL;
}

/* The records an entry header is the first member of. */
static inline struct rr_full *rr_f(const struct rr_entry *e)
{
    return (struct rr_full *)(uintptr_t)e;
}

static inline struct rr_light *rr_l(const struct rr_entry *e)
{
    return (struct rr_light *)(uintptr_t)e;
}

/* A time as a sub-window relative to the epoch (0 before it, saturating after 13 years: only
 * tick times can be out there, a packet's re-bases the epoch first, rr_clock_reset). */
static inline uint32_t rr_rel_sub(const struct rate_rules *r, uint64_t ts_us)
{
    uint64_t sub = ts_us / RR_SUB_US;
    if (sub < r->epoch_sub)
        return 0;
    sub -= r->epoch_sub;
    return sub > UINT32_MAX ? UINT32_MAX : (uint32_t)sub;
}

bool rate_rules_reflector_port(uint16_t port)
{
    return port_is_reflector(port);
}

/* The floor walks thresholds as an array: every field must stay a double. */
_Static_assert(sizeof(struct config_thresholds) == 9 * sizeof(double),
               "struct config_thresholds is no longer 9 doubles");

static void rr_floor_build(struct config_thresholds *floor, const struct config_thresholds *global,
                           const struct config_hostgroups *groups, size_t role_off)
{
    *floor = *global;
    double *f = (double *)floor;
    for (size_t g = 0; g < groups->n; g++) {
        const struct config_thresholds *t =
            (const struct config_thresholds *)((const char *)&groups->items[g] + role_off);
        const double *v = (const double *)t;
        for (size_t i = 0; i < sizeof(*floor) / sizeof(double); i++)
            if (v[i] > 0 && (f[i] == 0 || v[i] < f[i]))
                f[i] = v[i];
    }
}

/* The promotion limit of a light sub-window for a floor of per_s per second (a packet count, or
 * bytes; INFINITY: none): 1/RR_PROMOTE_DIV of the floor per sub-window where that is at least
 * 1, else (floors under 80/s) the largest count whose ten-fold stays under the floor, so that
 * neither a sub-window x 10 nor a second (ten sub-windows) nor the EWMAs of those can reach it.
 * At least 1 once the floor per sub-window is over 1: truncating the fraction to 0 promoted every
 * address at its first packet (a 50 SYN/s host group anywhere filled the full pool with one-packet
 * sources). 0 only for floors of 10/s or less, where one packet x 10 already reaches them. Capped
 * at cap, what the light counters hold. */
static uint32_t rr_promote_limit(double per_s, uint32_t cap)
{
    double per_sub = per_s / RR_SUBS;
    double lim = per_sub / RR_PROMOTE_DIV;
    if (lim < 1)
        lim = ceil(per_sub) - 1;
    return lim < cap ? (uint32_t)lim : cap;
}

/* A per-second threshold as a count per sub-window (INFINITY when disabled). */
static float rr_sub_limit(double per_s)
{
    return per_s > 0 ? (float)(per_s / RR_SUBS) : INFINITY;
}

static void rr_floors_set(struct rate_rules *r, const struct config_rules *rules)
{
    rr_floor_build(&r->floor[VERDICT_ROLE_VICTIM], &rules->victim, &rules->hostgroups,
                   offsetof(struct config_hostgroup, victim));
    rr_floor_build(&r->floor[VERDICT_ROLE_ATTACKER], &rules->attacker, &rules->hostgroups,
                   offsetof(struct config_hostgroup, attacker));
    for (int role = 0; role < RR_ROLES; role++) {
        const struct config_thresholds *f = &r->floor[role];
        float *lim = r->burst_lim[role];
        for (int m = 0; m <= RR_NPKT; m++)
            lim[m] = INFINITY;
        lim[RR_PPS] = rr_sub_limit(f->pps);
        lim[RR_BYTES] = rr_sub_limit(f->bps / 8.0);
        lim[RR_SYN] = rr_sub_limit(f->syn_per_s);
        lim[RR_FLOWS] = rr_sub_limit(f->new_flows_per_s);
        lim[RR_REFL] = rr_sub_limit(f->reflector_pps);
        lim[RR_ICMP_ERR] = rr_sub_limit(f->icmp_errors_per_s);
        lim[RR_FRAG] = rr_sub_limit(f->fragments_per_s);
        /* Every packet-count metric of a role (sources too: at most one per packet, the
         * estimate's error aside) is bounded by its packets, bps by its bytes: a light
         * sub-window within the promotion limit of the lowest of them (rr_promote_limit)
         * cannot be judged over a floor, and neither can the EWMAs it feeds. */
        double n = INFINITY;
        const double per_pkt[] = {
            f->pps,           f->syn_per_s,         f->new_flows_per_s, f->distinct_sources,
            f->reflector_pps, f->icmp_errors_per_s, f->fragments_per_s};
        for (size_t i = 0; i < sizeof(per_pkt) / sizeof(per_pkt[0]); i++)
            if (per_pkt[i] > 0 && per_pkt[i] < n)
                n = per_pkt[i];
        r->promote_n[role] = rr_promote_limit(n, RR_LIGHT_MAX);
        r->promote_bytes[role] =
            rr_promote_limit(f->bps > 0 ? f->bps / 8.0 : INFINITY, RR_LIGHT_BYTES);
    }
}

struct rate_rules *rate_rules_create(const struct ddosd_config *cfg, uint32_t max_ips)
{
    if (!cfg || max_ips == 0 || max_ips > RR_MAX_IPS) {
        DD_ERROR("rate rules: max_ips must be 1..%u, got %u", (unsigned)RR_MAX_IPS,
                 (unsigned)max_ips);
        return NULL;
    }
    /* Half empty at most: a probe window then almost never fills before the table does. */
    uint32_t cap = RATE_RULES_PROBES;
    while (cap < 2 * max_ips)
        cap <<= 1;

    struct rate_rules *r = calloc(1, sizeof(*r));
    if (!r)
        goto fail;
    r->rules = &cfg->rules;
    r->mask = cap - 1;
    r->tags = calloc(cap, sizeof(*r->tags));
    r->pidx = calloc(cap, sizeof(*r->pidx));
    r->pool_free = calloc(cap, sizeof(*r->pool_free));
    /* Anonymous mmap (page aligned, so cache-line aligned): zero pages on first touch, so the
     * capacity costs address space, not memory, until addresses arrive (an entry is fully
     * written when it is taken). A memset here used to make every ddosd pay the whole table
     * at start-up. */
    r->pool_bytes = (size_t)cap * sizeof(*r->pool);
    r->pool = mmap(NULL, r->pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->pool == MAP_FAILED)
        r->pool = NULL;
    /* Full records for a quarter of max_ips at once: an address is full only while (or after)
     * it carried 1/RR_PROMOTE_DIV of a floor, and expires a minute after its last packet. */
    r->full_cap =
        max_ips / RR_FULL_DIV < RATE_RULES_PROBES ? RATE_RULES_PROBES : max_ips / RR_FULL_DIV;
    r->fulls_bytes = (size_t)r->full_cap * sizeof(*r->fulls);
    r->fulls =
        mmap(NULL, r->fulls_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->fulls == MAP_FAILED)
        r->fulls = NULL;
    r->full_free = malloc((size_t)r->full_cap * sizeof(*r->full_free));
    r->active = calloc((size_t)r->full_cap * 2, sizeof(*r->active));
    r->snaps = calloc(r->full_cap, sizeof(*r->snaps));
    r->snap_free = malloc((size_t)r->full_cap * sizeof(*r->snap_free));
    r->states = calloc(r->full_cap, sizeof(*r->states));
    r->state_free = malloc((size_t)r->full_cap * sizeof(*r->state_free));
    if (!r->tags || !r->pidx || !r->pool_free || !r->pool || !r->fulls || !r->full_free ||
        !r->active || !r->snaps || !r->snap_free || !r->states || !r->state_free)
        goto fail;
    r->seed = dd_hash_seed(r);
    /* A fixed key, not the table's random seed: the distinct-source estimate decides levels
     * (rate_sources) and is written into alerts, so it must be the same on every replay of a
     * capture (the verdict table keys its own spoofed-source HyperLogLog the same way). The
     * table slots stay keyed by the random seed: only they can be aimed at. */
    r->seed_hll = RR_HLL_KEY;
    rr_floors_set(r, &cfg->rules);
    r->st.capacity = cap;
    r->st.full_capacity = r->full_cap;
    DD_INFO("rate rules: %u IP slots (%zu bytes per address tracked, %zu instead for each of at "
            "most %u promoted ones, touched as used), %zu KiB of index",
            (unsigned)cap, sizeof(struct rr_light), sizeof(struct rr_full), (unsigned)r->full_cap,
            ((size_t)cap * sizeof(uint32_t) * 3) / 1024);
    return r;
fail:
    DD_ERROR("rate rules: out of memory for %u IPs", (unsigned)max_ips);
    rate_rules_destroy(r);
    return NULL;
}

int rate_rules_set_seed(struct rate_rules *r, uint64_t seed)
{
    if (r->st.tracked_ips) /* their slots and tags were placed with the old seed */
        return -EBUSY;
    if (seed)
        r->seed = seed;
    return 0;
}

void rate_rules_set_config(struct rate_rules *r, const struct ddosd_config *cfg)
{
    r->rules = &cfg->rules;
    rr_floors_set(r, &cfg->rules);
    /* Host groups and whitelists may have changed: every entry resolves again on its next
     * evaluation. */
    for (uint32_t i = 0; i < r->full_high; i++) /* free ones are reset when taken */
        r->fulls[i].resolved = false;
}

void rate_rules_destroy(struct rate_rules *r)
{
    if (!r)
        return;
    free(r->tags);
    free(r->pidx);
    free(r->pool_free);
    if (r->pool)
        munmap(r->pool, r->pool_bytes);
    if (r->fulls)
        munmap(r->fulls, r->fulls_bytes);
    free(r->full_free);
    free(r->active);
    free(r->snaps);
    free(r->snap_free);
    free(r->states);
    free(r->state_free);
    free(r);
}

void rate_rules_stats_get(const struct rate_rules *r, struct rate_rules_stats *out)
{
    *out = r->st;
}

/* ---- role states ------------------------------------------------------------------------ */

/* A role's state for reading: its record's, or the defaults. */
static inline const struct rr_role_state *rr_rs(const struct rate_rules *r,
                                                const struct rr_entry *e, int role)
{
    if (rr_is_full(e) && rr_f(e)->rsi)
        return &r->states[rr_f(e)->rsi - 1].role[role];
    return &rr_roles_default.role[role];
}

/* A role's state for writing, of a full entry: it takes its record (at the defaults) first.
 * Never fails: there is a record per full record. */
static struct rr_role_state *rr_rs_need(struct rate_rules *r, struct rr_entry *e, int role)
{
    struct rr_full *f = rr_f(e);
    if (!f->rsi) {
        uint32_t k = r->state_nfree ? r->state_free[--r->state_nfree] : r->state_high++;
        r->states[k] = rr_roles_default;
        f->rsi = k + 1;
    }
    return &r->states[f->rsi - 1].role[role];
}

/* ---- alerting list ---------------------------------------------------------------------- */

static void rr_active_add(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_role_state *rs = rr_rs_need(r, rr_e(r, slot), role);
    rs->active_pos = (int32_t)r->n_active;
    rs->emitted = false;
    rs->emitted_level = 0;
    rs->quiet = 0;
    r->active[r->n_active++] = slot << 1 | (uint32_t)role;
    r->st.alerting++;
}

static void rr_active_remove(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_role_state *rs = rr_rs_need(r, rr_e(r, slot), role); /* alerting: it has one */
    uint32_t pos = (uint32_t)rs->active_pos;
    uint32_t last = r->active[--r->n_active];
    r->active[pos] = last;
    rr_rs_need(r, rr_e(r, last >> 1), (int)(last & 1))->active_pos = (int32_t)pos;
    rs->active_pos = -1;
    r->st.alerting--;
}

/* ---- evaluation ------------------------------------------------------------------------- */

static void rr_entry_resolve(const struct rate_rules *r, const struct rr_entry *e,
                             struct rr_full *f)
{
    const struct config_rules *rules = r->rules;
    /* The group of the longest matching prefix; the first group on a tie. */
    int best = -1, best_len = -1;
    for (size_t g = 0; g < rules->hostgroups.n; g++) {
        int len = cidr_list_longest(&rules->hostgroups.items[g].cidrs, e->version, e->addr);
        if (len > best_len) {
            best = (int)g;
            best_len = len;
        }
    }
    f->group = (int16_t)best;
    f->whitelisted[VERDICT_ROLE_ATTACKER] =
        cidr_list_contains(&rules->whitelist.sources, e->version, e->addr);
    f->whitelisted[VERDICT_ROLE_VICTIM] =
        cidr_list_contains(&rules->whitelist.destinations, e->version, e->addr);
    f->resolved = true;
}

static const struct config_thresholds *rr_thresholds(const struct rate_rules *r,
                                                     const struct rr_full *f, int role)
{
    if (f->group < 0)
        return role == VERDICT_ROLE_VICTIM ? &r->rules->victim : &r->rules->attacker;
    const struct config_hostgroup *g = &r->rules->hostgroups.items[f->group];
    return role == VERDICT_ROLE_VICTIM ? &g->victim : &g->attacker;
}

/* Builds the view of one role from per-second values of its direction (in) and of the other
 * direction (out), both indexed by rr_metric (RR_BYTES in bytes/s). sources: distinct sources
 * of the window (victim; 0 otherwise); pkts: the victim packets those sources sent (for
 * pkts_per_source). */
static void rr_view_build(struct rr_view *v, const float *in, const float *out, double sources,
                          double pkts)
{
    v->pps = in[RR_PPS];
    v->bps = (double)in[RR_BYTES] * 8.0;
    v->syn = in[RR_SYN];
    v->synack = out[RR_SYNACK];
    v->flows = in[RR_FLOWS];
    v->sources = sources;
    v->refl = in[RR_REFL];
    v->icmp_err = in[RR_ICMP_ERR];
    v->frag = in[RR_FRAG];
    v->tcp = in[RR_TCP];
    v->udp = in[RR_UDP];
    v->icmp = in[RR_ICMP];
    v->handshakes = fmin(out[RR_SYNACK], in[RR_PURE_ACK]);
    double answers = out[RR_ANSWER];
    v->answered_ratio = v->pps > 0 ? answers / v->pps : 0;
    v->refl_req = out[RR_REFL_REQ];
    v->syn_ack_unrequested = fmax(0, (double)in[RR_SYNACK] - out[RR_SYN]);
    v->pkts_per_source = sources > 0 ? pkts / sources : 0;
    v->pps_unanswered = fmax(0, v->pps - RR_ANSWER_FACTOR * answers);
    double share = v->pps > 0 ? v->pps_unanswered / v->pps : 0;
    v->bps_unanswered = v->bps * share;
    v->sources_unanswered = sources * share;
    v->frag_unanswered = v->frag * share;
    v->refl_unrequested = fmax(0, v->refl - RR_REQUEST_FACTOR * v->refl_req);
    v->icmp_err_unsolicited = fmax(0, v->icmp_err - out[RR_PPS]);
}

/* The view of one role on its sustained rates (the EWMAs of f). */
static void rr_view_sustained(struct rr_view *v, const struct rr_full *f, int role)
{
    const float *in = f->rate[role];
    rr_view_build(v, in, f->rate[!role], role == VERDICT_ROLE_VICTIM ? in[RR_SOURCES] : 0,
                  in[RR_PPS]);
}

/* Reasons the view of one role raises against t; *excess gets the worst value/threshold. */
static uint32_t rr_reasons(const struct rr_view *v, const struct config_thresholds *t, int role,
                           double *excess)
{
    uint32_t reasons = 0;
    double worst = 0;
#define RR_CHECK(value, thr, bit)                                                                  \
    do {                                                                                           \
        if ((thr) > 0 && (value) > (thr)) {                                                        \
            reasons |= (bit);                                                                      \
            if ((value) / (thr) > worst)                                                           \
                worst = (value) / (thr);                                                           \
        }                                                                                          \
    } while (0)
    RR_CHECK(v->pps_unanswered, t->pps, VERDICT_REASON_RATE_PPS);
    RR_CHECK(v->bps_unanswered, t->bps, VERDICT_REASON_RATE_BPS);
    /* SYNs only count while handshakes do not complete: a busy server's clients finish theirs,
     * spoofed sources never do. More than syn_ack_ratio SYNs per handshake (0: SYNs alone). */
    if (t->syn_ack_ratio <= 0 || v->syn > t->syn_ack_ratio * v->handshakes)
        RR_CHECK(v->syn, t->syn_per_s, VERDICT_REASON_RATE_SYN);
    RR_CHECK(v->flows, t->new_flows_per_s, VERDICT_REASON_RATE_FLOWS);
    if (role == VERDICT_ROLE_VICTIM)
        RR_CHECK(v->sources_unanswered, t->distinct_sources, VERDICT_REASON_RATE_SOURCES);
    RR_CHECK(v->refl_unrequested, t->reflector_pps, VERDICT_REASON_REFLECTION);
    RR_CHECK(v->icmp_err_unsolicited, t->icmp_errors_per_s, VERDICT_REASON_ICMP_ERRORS);
    RR_CHECK(v->frag_unanswered, t->fragments_per_s, VERDICT_REASON_FRAGMENTS);
#undef RR_CHECK
    *excess = worst;
    return reasons;
}

/* Reasons of one role's view against its floor, then (only when over it) against the entry's
 * own thresholds; 0 for a whitelisted role. */
static uint32_t rr_judge(const struct rate_rules *r, const struct rr_entry *e, int role,
                         const struct rr_view *v, double *excess)
{
    *excess = 0;
    if (!rr_reasons(v, &r->floor[role], role, excess))
        return 0;
    struct rr_full *f = rr_f(e);
    if (!f->resolved)
        rr_entry_resolve(r, e, f);
    if (f->whitelisted[role]) {
        *excess = 0;
        return 0;
    }
    return rr_reasons(v, rr_thresholds(r, f, role), role, excess);
}

/* Publishes a role's state: the worse of its last sustained evaluation and the current
 * second's bursts. Puts the role on the alerting list when it starts. */
static void rr_publish(struct rate_rules *r, uint32_t slot, int role)
{
    const struct rr_role_state *rc = rr_rs(r, rr_e(r, slot), role);
    uint32_t reasons = rc->sus_reasons | rc->win_reasons;
    if (!reasons)
        return;
    struct rr_role_state *rs = rr_rs_need(r, rr_e(r, slot), role);
    float excess = rs->sus_excess > rs->win_excess ? rs->sus_excess : rs->win_excess;
    rs->reasons = reasons;
    rs->burst = rs->win_excess > rs->sus_excess;
    rs->level = excess >= 10 ? THREAT_CRITICAL : excess >= 2 ? THREAT_HIGH : THREAT_MEDIUM;
    rs->score = 1.0f - 1.0f / excess;
    if (rs->active_pos < 0)
        rr_active_add(r, slot, role);
    rs->quiet = 0;
}

/* HyperLogLog estimate with the small-range (linear counting) correction. */
static double rr_hll_estimate(const uint8_t *reg)
{
    double sum = 0;
    unsigned zeros = 0;
    /* 2^-k for every register value a 64-bit hash can give (k <= 64): a table, because this
     * runs for every address at every window roll and ldexp showed in profiles. */
    static const double inv_pow2[65] = {
        1.0,     0x1p-1,  0x1p-2,  0x1p-3,  0x1p-4,  0x1p-5,  0x1p-6,  0x1p-7,  0x1p-8,  0x1p-9,
        0x1p-10, 0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15, 0x1p-16, 0x1p-17, 0x1p-18, 0x1p-19,
        0x1p-20, 0x1p-21, 0x1p-22, 0x1p-23, 0x1p-24, 0x1p-25, 0x1p-26, 0x1p-27, 0x1p-28, 0x1p-29,
        0x1p-30, 0x1p-31, 0x1p-32, 0x1p-33, 0x1p-34, 0x1p-35, 0x1p-36, 0x1p-37, 0x1p-38, 0x1p-39,
        0x1p-40, 0x1p-41, 0x1p-42, 0x1p-43, 0x1p-44, 0x1p-45, 0x1p-46, 0x1p-47, 0x1p-48, 0x1p-49,
        0x1p-50, 0x1p-51, 0x1p-52, 0x1p-53, 0x1p-54, 0x1p-55, 0x1p-56, 0x1p-57, 0x1p-58, 0x1p-59,
        0x1p-60, 0x1p-61, 0x1p-62, 0x1p-63, 0x1p-64};
    for (int i = 0; i < RR_HLL_REGS; i++) {
        sum += inv_pow2[reg[i] <= 64 ? reg[i] : 64];
        zeros += reg[i] == 0;
    }
    if (zeros == RR_HLL_REGS)
        return 0;
    double m = RR_HLL_REGS;
    double est = 0.709 * m * m / sum;
    if (est <= 2.5 * m && zeros)
        est = m * log(m / zeros);
    return est;
}

/* A sub-window's counts of one direction as per-second values. */
static void rr_sub_rates(const struct rr_sub *s, int dir, float *out)
{
    for (int m = 0; m < RR_NPKT; m++)
        out[m] = (float)s->n[dir][m] * RR_SUBS;
    out[RR_BYTES] = (float)s->bytes[dir] * RR_SUBS;
    out[RR_SOURCES] = 0;
}

/* The view of one role on the counts of sub-window s; sources and pkts as rr_view_build's. */
static void rr_view_sub(struct rr_view *v, const struct rr_sub *s, int role, double sources,
                        double pkts)
{
    float in[RR_METRIC_COUNT], out[RR_METRIC_COUNT];
    rr_sub_rates(s, role, in);
    rr_sub_rates(s, !role, out);
    rr_view_build(v, in, out, sources, pkts);
}

/* Burst evaluation of one role on the current sub-window (complete or not: its counts only
 * grow). Over a threshold, it joins the second's bursts and the role's state is published. */
static void rr_burst_evaluate(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_entry *e = rr_e(r, slot);
    struct rr_full *f = rr_f(e);
    double sources = 0;
    double pkts = (double)f->count[role][RR_PPS] + f->sub.n[role][RR_PPS];
    if (role == VERDICT_ROLE_VICTIM)
        sources = rr_hll_estimate(f->hll); /* the second so far: a lower bound */
    struct rr_view v;
    rr_view_sub(&v, &f->sub, role, sources, pkts);
    double excess;
    uint32_t reasons = rr_judge(r, e, role, &v, &excess);
    if (!reasons)
        return;
    struct rr_role_state *rs = rr_rs_need(r, e, role);
    rs->win_reasons |= reasons;
    if ((float)excess > rs->win_excess) {
        rs->win_excess = (float)excess;
        if (!f->snap) /* never empty: one snapshot per full record */
            f->snap = 1 + (r->snap_nfree ? r->snap_free[--r->snap_nfree] : r->snap_high++);
        struct rr_snap *sn = &r->snaps[f->snap - 1];
        sn->sub = f->sub;
        sn->sources = (float)sources;
        sn->pkts = (uint32_t)(pkts < UINT32_MAX ? pkts : UINT32_MAX);
    }
    rr_publish(r, slot, role);
}

/* Sustained evaluation of one role on its EWMAs, after a 1 s window rolled: with the bursts of
 * the second that ended, it sets the role's state, or counts a quiet window. */
static void rr_entry_evaluate(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_entry *e = rr_e(r, slot);
    struct rr_view v;
    rr_view_sustained(&v, rr_f(e), role);
    double excess;
    uint32_t sus = rr_judge(r, e, role, &v, &excess);
    if (!sus && !rr_f(e)->rsi)
        return; /* under every threshold at the defaults: what follows writes the defaults */
    struct rr_role_state *rs = rr_rs_need(r, e, role);
    rs->sus_reasons = sus;
    rs->sus_excess = rs->sus_reasons ? (float)excess : 0;
    if (!(rs->sus_reasons | rs->win_reasons)) {
        if (rs->active_pos >= 0 && rs->quiet < 255)
            rs->quiet++;
    } else {
        rr_publish(r, slot, role);
    }
    rs->win_reasons = 0;
    rs->win_excess = 0;
}

/* True while a role of e alerts and has not yet seen RATE_RULES_END_WINDOWS quiet windows. */
static bool rr_entry_ending(const struct rate_rules *r, const struct rr_entry *e)
{
    for (int role = 0; role < RR_ROLES; role++)
        if (rr_rs(r, e, role)->active_pos >= 0 && rr_rs(r, e, role)->quiet < RATE_RULES_END_WINDOWS)
            return true;
    return false;
}

static inline uint32_t rr_sat_add32(uint32_t a, uint32_t b)
{
    uint32_t s = a + b;
    return s < a ? UINT32_MAX : s;
}

/* Closes the sub-window of a full entry: hot roles are judged on its final counts, then it
 * joins its second. */
static void rr_sub_close(struct rate_rules *r, uint32_t slot)
{
    struct rr_entry *e = rr_e(r, slot);
    struct rr_full *f = rr_f(e);
    for (int role = 0; role < RR_ROLES; role++)
        if (e->flags & RR_FL_HOT(role))
            rr_burst_evaluate(r, slot, role);
    for (int role = 0; role < RR_ROLES; role++) {
        for (int m = 0; m < RR_NPKT; m++)
            f->count[role][m] += f->sub.n[role][m]; /* <= 10 x 65535 per second */
        f->count[role][RR_BYTES] = rr_sat_add32(f->count[role][RR_BYTES], f->sub.bytes[role]);
    }
    memset(&f->sub, 0, sizeof(f->sub));
    e->flags = RR_FL_FULL;
}

/* Rolls a light entry from second old_s to s: the same arithmetic as a full one's on its
 * packets and bytes (the other metrics of the closed sub-window are dropped), nothing to judge
 * (under every floor, see DESIGN). */
static void rr_light_roll(struct rr_light *l, uint32_t old_s, uint32_t s)
{
    const float a = (float)RATE_RULES_ALPHA;
    for (int role = 0; role < RR_ROLES; role++) {
        uint64_t sub = l->sub[role];
        /* <= 10 x RR_LIGHT_MAX packets and 10 x rr_promote_bytes bytes: the fields hold them */
        l->sec[role] +=
            (uint32_t)(sub & 7) << RR_SEC_N_SHIFT | (uint32_t)(sub >> RR_SUB_BYTES_SHIFT);
        l->sub[role] = 0;
    }
    if (s <= old_s)
        return;
    for (int role = 0; role < RR_ROLES; role++) {
        uint32_t n = l->sec[role] >> RR_SEC_N_SHIFT, bytes = l->sec[role] & RR_BYTES_MAX;
        l->ewma_n[role] = a * (float)n + (1 - a) * l->ewma_n[role];
        l->ewma_bytes[role] = a * (float)bytes + (1 - a) * l->ewma_bytes[role];
        l->sec[role] = 0;
    }
    uint32_t empty = s - old_s - 1;
    if (empty) {
        float decay = powf(1 - a, (float)(empty > 64 ? 64 : empty));
        for (int role = 0; role < RR_ROLES; role++) {
            l->ewma_n[role] *= decay;
            l->ewma_bytes[role] *= decay;
        }
    }
}

/* Rolls e to now_us: closes its sub-window if it ended, then every 1 s window before now's
 * second, the first with its counts, the others empty. */
static void rr_entry_roll(struct rate_rules *r, uint32_t slot, uint64_t now_us)
{
    struct rr_entry *e = rr_e(r, slot);
    uint32_t sub_id = rr_rel_sub(r, now_us);
    if (sub_id <= e->sub_id)
        return; /* same sub-window (or time went back: counted in the current one) */
    uint32_t old_s = e->sub_id / RR_SUBS, s = sub_id / RR_SUBS;
    if (!rr_is_full(e)) {
        e->sub_id = sub_id;
        rr_light_roll(rr_l(e), old_s, s);
        return;
    }
    rr_sub_close(r, slot);
    e->sub_id = sub_id;
    if (s <= old_s)
        return;
    struct rr_full *f = rr_f(e);
    uint32_t gap = s - old_s;
    const float a = (float)RATE_RULES_ALPHA;
    double sources = rr_hll_estimate(f->hll);
    for (int role = 0; role < RR_ROLES; role++)
        for (int m = 0; m < RR_METRIC_COUNT; m++) {
            double w = m == RR_SOURCES ? (role == VERDICT_ROLE_VICTIM ? sources : 0)
                                       : (double)f->count[role][m];
            f->rate[role][m] = a * (float)w + (1 - a) * f->rate[role][m];
        }
    memset(f->count, 0, sizeof(f->count));
    memset(f->hll, 0, sizeof(f->hll));
    for (int role = 0; role < RR_ROLES; role++)
        rr_entry_evaluate(r, slot, role);
    /* Empty windows: evaluated one by one while an alert is ending (64 halvings take any rate
     * under any threshold), then decayed at once. */
    uint32_t empty = gap - 1, step = 0;
    for (; step < empty && step < 64 && rr_entry_ending(r, e); step++) {
        for (int role = 0; role < RR_ROLES; role++) {
            for (int m = 0; m < RR_METRIC_COUNT; m++)
                f->rate[role][m] *= 1 - a;
            rr_entry_evaluate(r, slot, role);
        }
    }
    if (empty > step) {
        float decay = powf(1 - a, (float)(empty - step > 64 ? 64 : empty - step));
        for (int role = 0; role < RR_ROLES; role++)
            for (int m = 0; m < RR_METRIC_COUNT; m++)
                f->rate[role][m] *= decay;
    }
}

/* ---- table ------------------------------------------------------------------------------ */

/* Boyer-Moore majority vote of the protocol fragments carry (O(1), two bytes). */
static void rr_frag_vote(struct rr_role_state *rs, uint8_t proto)
{
    if (rs->frag_votes == 0) {
        rs->frag_proto = proto;
        rs->frag_votes = 1;
    } else if (rs->frag_proto == proto) {
        rs->frag_votes += rs->frag_votes < UINT8_MAX;
    } else {
        rs->frag_votes--;
    }
}

static void rr_slot_free(struct rate_rules *r, uint32_t slot)
{
    for (int role = 0; role < RR_ROLES; role++)
        if (rr_rs(r, rr_e(r, slot), role)->active_pos >= 0)
            rr_active_remove(r, slot, role);
    r->tags[slot] = 0;
    uint32_t k = r->pidx[slot];
    if (k & RR_PIDX_FULL) {
        struct rr_full *f = &r->fulls[k & ~RR_PIDX_FULL];
        if (f->rsi)
            r->state_free[r->state_nfree++] = f->rsi - 1;
        if (f->snap)
            r->snap_free[r->snap_nfree++] = f->snap - 1;
        r->full_free[r->full_nfree++] = k & ~RR_PIDX_FULL;
        r->st.full_ips--;
    } else {
        r->pool_free[r->pool_nfree++] = k;
    }
    r->st.tracked_ips--;
}

/* The recent packet rate eviction compares: smoothed plus what the current window has seen,
 * both roles; alerting entries are kept unless every candidate alerts. */
static float rr_recent_rate(const struct rate_rules *r, const struct rr_entry *e)
{
    if (!rr_is_full(e)) {
        const struct rr_light *l = rr_l(e);
        return l->ewma_n[0] + l->ewma_n[1] +
               (float)((l->sec[0] >> RR_SEC_N_SHIFT) + (l->sec[1] >> RR_SEC_N_SHIFT)) +
               (float)((l->sub[0] & 7) + (l->sub[1] & 7));
    }
    const struct rr_full *f = rr_f(e);
    float rate = f->rate[0][RR_PPS] + f->rate[1][RR_PPS] +
                 (float)(f->count[0][RR_PPS] + f->count[1][RR_PPS]) +
                 (float)(f->sub.n[0][RR_PPS] + f->sub.n[1][RR_PPS]);
    if (rr_rs(r, e, 0)->active_pos >= 0 || rr_rs(r, e, 1)->active_pos >= 0)
        rate += 1e30f;
    return rate;
}

/* Finds or inserts the entry of addr (h: its dd_hash_addr with r->seed) and rolls it to ts_us.
 * Returns its slot. A new entry is light. */
static uint32_t rr_entry_get(struct rate_rules *r, const uint8_t addr[16], uint8_t version,
                             uint64_t ts_us, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32) | 1u; /* never 0: 0 marks a free slot */
    uint32_t base = (uint32_t)h;
    uint32_t free_slot = UINT32_MAX, victim = UINT32_MAX;
    float victim_rate = 0;
    for (uint32_t i = 0; i < RATE_RULES_PROBES; i++) {
        uint32_t slot = (base + i) & r->mask;
        uint32_t t = r->tags[slot];
        if (t == tag) {
            struct rr_entry *e = rr_e(r, slot);
            if (e->version == version && memcmp(e->addr, addr, 16) == 0) {
                rr_entry_roll(r, slot, ts_us);
                return slot;
            }
        }
        if (t == 0) {
            if (free_slot == UINT32_MAX)
                free_slot = slot;
            continue;
        }
        if (free_slot != UINT32_MAX)
            continue;
        float rate = rr_recent_rate(r, rr_e(r, slot));
        if (victim == UINT32_MAX || rate < victim_rate) {
            victim = slot;
            victim_rate = rate;
        }
    }
    uint32_t slot = free_slot;
    if (slot == UINT32_MAX) {
        slot = victim;
        struct rr_entry *old = rr_e(r, slot);
        if (rr_rs(r, old, 0)->active_pos >= 0 || rr_rs(r, old, 1)->active_pos >= 0)
            r->st.evicted_alerting++;
        rr_slot_free(r, slot);
        r->st.evictions++;
    }
    /* Every slot in use has at most one light entry, and the pool has one per slot: never
     * empty here. */
    r->pidx[slot] = r->pool_nfree ? r->pool_free[--r->pool_nfree] : r->pool_high++;
    struct rr_light *l = &r->pool[r->pidx[slot]];
    memset(l, 0, sizeof(*l));
    memcpy(l->h.addr, addr, 16);
    l->h.version = version;
    l->h.sub_id = rr_rel_sub(r, ts_us);
    l->h.last_pkt_s = (uint16_t)(l->h.sub_id / RR_SUBS);
    r->tags[slot] = tag;
    r->st.tracked_ips++;
    return slot;
}

/* Promotes the light entry of slot: takes a full record, moves the header into it and carries
 * the counts over: the current sub-window exactly (every metric), the second's closed
 * sub-windows and the EWMAs as packets and bytes; every other metric of those starts at zero,
 * and so does the HyperLogLog. Returns false, counted, when every full record is taken: the
 * entry stays light. */
static bool rr_promote(struct rate_rules *r, uint32_t slot)
{
    uint32_t k;
    if (r->full_nfree)
        k = r->full_free[--r->full_nfree];
    else if (r->full_high < r->full_cap)
        k = r->full_high++;
    else {
        r->st.promote_failed++;
        return false;
    }
    uint32_t li = r->pidx[slot];
    const struct rr_light *l = &r->pool[li];
    struct rr_full *f = &r->fulls[k];
    memset(f, 0, sizeof(*f));
    f->h = l->h;
    f->h.flags = RR_FL_FULL;
    f->group = -1;
    for (int role = 0; role < RR_ROLES; role++) {
        for (int m = 0; m < RR_NPKT; m++)
            f->sub.n[role][m] = (uint16_t)(l->sub[role] >> (3 * m) & 7);
        f->sub.bytes[role] = (uint32_t)(l->sub[role] >> RR_SUB_BYTES_SHIFT);
        f->count[role][RR_PPS] = l->sec[role] >> RR_SEC_N_SHIFT;
        f->count[role][RR_BYTES] = l->sec[role] & RR_BYTES_MAX;
        f->rate[role][RR_PPS] = l->ewma_n[role];
        f->rate[role][RR_BYTES] = l->ewma_bytes[role];
    }
    r->pool_free[r->pool_nfree++] = li;
    r->pidx[slot] = k | RR_PIDX_FULL;
    r->st.promotions++;
    r->st.full_ips++;
    return true;
}

/* True while fewer than 1/8 of the full records are free: the tick then demotes quiet full
 * entries, and a fragment alone no longer promotes (see DESIGN). */
static inline bool rr_pool_tight(const struct rate_rules *r)
{
    return r->full_nfree + (r->full_cap - r->full_high) < r->full_cap / 8;
}

/* Counts one packet into a light entry's sub-window of one role, unless it takes it over a
 * promotion limit or is a fragment (whose protocol vote needs a role state; not while the
 * full pool is tight): then returns false and the caller promotes. With no full record free the
 * entry stays light and the packet is counted as far as the light counts go (past RR_LIGHT_MAX
 * packets or RR_LIGHT_BYTES bytes a sub-window drops the rest, counted in promote_failed). */
static bool rr_light_count(const struct rate_rules *r, struct rr_light *l, int role, uint32_t mask,
                           uint32_t bytes, bool must_fit)
{
    uint64_t sub = l->sub[role];
    uint32_t n1 = (uint32_t)(sub & 7) + 1;
    uint64_t b1 = (sub >> RR_SUB_BYTES_SHIFT) + bytes;
    if (!must_fit && (n1 > r->promote_n[role] || b1 > r->promote_bytes[role] ||
                      ((mask & (1u << RR_FRAG)) && !rr_pool_tight(r))))
        return false;
    if (n1 > RR_LIGHT_MAX || b1 > RR_LIGHT_BYTES)
        return true; /* no full record free: the light counts are full */
    for (uint32_t m = mask; m; m &= m - 1)
        sub += 1ull << (3 * __builtin_ctz(m)); /* every count <= the packets' <= 7 */
    l->sub[role] = sub + ((uint64_t)bytes << RR_SUB_BYTES_SHIFT);
    return true;
}

/* Counts one packet into one role (direction) of the entry of slot, at second s (relative):
 * its metrics (bits of mask) into the sub-window, its source into the HyperLogLog (victim,
 * hll_hash), a fragment's protocol into the vote; a count over the role's floor makes the role
 * hot and judges the sub-window at once. A light entry is promoted first when this packet
 * takes it over a promotion limit (rr_light_count). */
static void rr_count(struct rate_rules *r, uint32_t slot, int role, uint32_t mask, uint32_t bytes,
                     uint32_t s, uint64_t hll_hash, uint8_t frag_proto)
{
    struct rr_entry *e = rr_e(r, slot);
    /* The latest packet's second never goes back: the entry's clock (rolled to this packet,
     * so never before s) does not, and rr_idle_s measures from it, so an older packet's second
     * here (a capture stepping back over a minute) made a live entry look idle. own_s - s is
     * exact, own_s - last_pkt_s too (rr_idle_s). */
    uint32_t own_s = e->sub_id / RR_SUBS;
    if (DD_LIKELY(s == own_s) || own_s - s < (uint16_t)(own_s - e->last_pkt_s))
        e->last_pkt_s = (uint16_t)s;
    if (!rr_is_full(e)) {
        if (rr_light_count(r, rr_l(e), role, mask, bytes, false))
            return;
        if (!rr_promote(r, slot)) {
            (void)rr_light_count(r, rr_l(e), role, mask, bytes, true);
            return;
        }
        e = rr_e(r, slot);
    }
    /* The HyperLogLog before the counts, so that a burst judged on this packet sees its
     * source. */
    struct rr_full *f = rr_f(e);
    if (role == VERDICT_ROLE_VICTIM) {
        uint8_t rho = (uint8_t)(__builtin_clzll((hll_hash << 6) | (1ull << 5)) + 1);
        uint8_t *reg = &f->hll[hll_hash >> 58];
        if (rho > *reg)
            *reg = rho;
    }
    if (mask & (1u << RR_FRAG))
        rr_frag_vote(rr_rs_need(r, e, role), frag_proto);
    uint16_t *n = f->sub.n[role];
    for (uint32_t m = mask; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        n[i] += n[i] != UINT16_MAX;
    }
    f->sub.bytes[role] = rr_sat_add32(f->sub.bytes[role], bytes);
    const float *lim = r->burst_lim[role];
    if (!(e->flags & RR_FL_HOT(role)) &&
        ((float)n[RR_PPS] > lim[RR_PPS] || (float)f->sub.bytes[role] > lim[RR_BYTES] ||
         (float)n[RR_SYN] > lim[RR_SYN] || (float)n[RR_FLOWS] > lim[RR_FLOWS] ||
         (float)n[RR_REFL] > lim[RR_REFL] || (float)n[RR_ICMP_ERR] > lim[RR_ICMP_ERR] ||
         (float)n[RR_FRAG] > lim[RR_FRAG])) {
        e->flags |= (uint8_t)RR_FL_HOT(role);
        rr_burst_evaluate(r, slot, role);
    }
    if (f->resolved && f->whitelisted[role])
        r->st.whitelisted_pkts++;
}

/* The metrics one packet counts in (bits of enum rr_metric, RR_PPS always). */
static uint32_t rr_packet_mask(const struct pkt_info *p, bool new_flow)
{
    uint32_t mask = 1u << RR_PPS;
    bool l4 = p->flags & PKT_F_L4;
    bool answer = true;
    if (new_flow)
        mask |= 1u << RR_FLOWS;
    if (p->flags & PKT_F_FRAGMENT)
        mask |= 1u << RR_FRAG;
    uint8_t icmp_proto = p->ip_version == 6 ? IPPROTO_NUM_ICMPV6 : IPPROTO_NUM_ICMP;
    if (p->proto == IPPROTO_NUM_TCP) {
        mask |= 1u << RR_TCP;
        if (l4) {
            uint8_t f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
            if ((p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
                mask |= 1u << RR_SYN;
            if ((p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
                mask |= 1u << RR_SYNACK;
                answer = false;
            }
            if (f == TCP_ACK && p->payload_len == 0)
                mask |= 1u << RR_PURE_ACK;
            if (p->tcp_flags & TCP_RST)
                answer = false;
        }
    } else if (p->proto == IPPROTO_NUM_UDP) {
        mask |= 1u << RR_UDP;
        if (l4 && port_is_reflector(p->sport))
            mask |= 1u << RR_REFL;
        if (l4 && port_is_reflector(p->dport))
            mask |= 1u << RR_REFL_REQ;
    } else if (p->proto == icmp_proto) {
        mask |= 1u << RR_ICMP;
        if (l4) {
            uint8_t t = p->icmp_type;
            bool err = p->ip_version == 6 ? (t >= 1 && t <= 4)
                                          : (t == 3 || t == 4 || t == 5 || t == 11 || t == 12);
            bool echo_reply = p->ip_version == 6 ? t == 129 : t == 0;
            if (err)
                mask |= 1u << RR_ICMP_ERR;
            if (err || echo_reply)
                answer = false;
        }
    }
    if (answer)
        mask |= 1u << RR_ANSWER;
    return mask;
}

/* The three keyed hashes one packet needs: its destination's and source's table slots and its
 * source's HyperLogLog register. Pure, so a burst computes them all before touching the table. */
struct rr_hashes {
    uint64_t dst, src, hll;
};

static inline void rr_packet_hashes(const struct rate_rules *r, const struct pkt_info *p,
                                    struct rr_hashes *h)
{
    h->dst = dd_hash_addr(r->seed, p->dst, p->ip_version);
    h->src = dd_hash_addr(r->seed, p->src, p->ip_version);
    h->hll = dd_hash_addr(r->seed_hll, p->src, p->ip_version);
}

/* Starts loading what an address's lookup reads first: its probe window of tags and the entry
 * index of its home slot. */
static inline void rr_prefetch_slot(const struct rate_rules *r, uint64_t h)
{
    uint32_t slot = (uint32_t)h & r->mask;
    __builtin_prefetch(&r->tags[slot]);
    __builtin_prefetch(&r->pidx[slot]);
}

/* Then, once those have had time to arrive, the line of the home slot's entry (key, clocks and
 * a light entry's counts: one line). */
static inline void rr_prefetch_entry(const struct rate_rules *r, uint64_t h)
{
    uint32_t slot = (uint32_t)h & r->mask;
    if (r->tags[slot])
        __builtin_prefetch(rr_e(r, slot), 1);
}

/* Last, a full entry's record: the lines a hit touches (sub-window counts, the HyperLogLog
 * register). */
static inline void rr_prefetch_full(const struct rate_rules *r, uint64_t h, uint64_t hll)
{
    uint32_t slot = (uint32_t)h & r->mask;
    if (!r->tags[slot])
        return;
    const struct rr_entry *e = rr_e(r, slot);
    if (!rr_is_full(e))
        return;
    const struct rr_full *f = rr_f(e);
    __builtin_prefetch(&f->sub, 1);
    if (hll)
        __builtin_prefetch(&f->hll[hll >> 58], 1);
}

/* True when ts_us is a sub-window the entries' 32-bit clocks can hold: not before the epoch,
 * and under 2^32 sub-windows (13 years) after it. */
static inline bool rr_time_fits(const struct rate_rules *r, uint64_t ts_us)
{
    uint64_t sub = ts_us / RR_SUB_US;
    return sub >= r->epoch_sub && sub - r->epoch_sub <= UINT32_MAX;
}

/* Sets the epoch from ts_us (RR_EPOCH_BACK_S before it), at the first packet and again when a
 * packet time falls outside what the clocks can hold (a first packet stamped 1970 or 2043, or
 * files replayed out of order). Those times used to be clamped to the epoch or to the last
 * sub-window: every later packet then counted in one sub-window, no window closed, alerts never
 * repeated or ended and nothing expired. A re-base frees every entry (their clocks would be
 * meaningless against the new epoch; alerts in progress are dropped without an end, the
 * counters kept) and is counted in clock_resets: a stray timestamp costs a reset (two amid sane
 * times: to it and back), and counting starts afresh at the new time. O(capacity), never on a
 * capture with sane times. */
static void rr_clock_reset(struct rate_rules *r, uint64_t ts_us)
{
    if (r->have_epoch) {
        for (uint32_t slot = 0; slot <= r->mask; slot++)
            if (r->tags[slot])
                rr_slot_free(r, slot);
        r->st.clock_resets++;
    }
    uint64_t s0 = ts_us / 1000000u;
    r->epoch_sub = (s0 > RR_EPOCH_BACK_S ? s0 - RR_EPOCH_BACK_S : 0) * RR_SUBS;
    r->have_epoch = true;
}

/* rate_rules_packet with the hashes already computed. */
static void rr_packet_hashed(struct rate_rules *r, const struct pkt_info *p, uint64_t ts_us,
                             bool new_flow, const struct rr_hashes *h)
{
    if (DD_UNLIKELY(!r->have_epoch || !rr_time_fits(r, ts_us)))
        rr_clock_reset(r, ts_us);
    uint32_t s = rr_rel_sub(r, ts_us) / RR_SUBS;
    uint32_t mask = rr_packet_mask(p, new_flow);

    /* Destination first, then source: the source's insert may evict, so the destination's
     * entry is never touched after it. */
    uint32_t slot = rr_entry_get(r, p->dst, p->ip_version, ts_us, h->dst);
    rr_count(r, slot, VERDICT_ROLE_VICTIM, mask, p->wire_len, s, h->hll, p->proto);
    slot = rr_entry_get(r, p->src, p->ip_version, ts_us, h->src);
    rr_count(r, slot, VERDICT_ROLE_ATTACKER, mask, p->wire_len, s, 0, p->proto);
}

void rate_rules_packet(struct rate_rules *r, const struct pkt_info *p, uint64_t ts_us,
                       bool new_flow)
{
    if (DD_UNLIKELY(p->ip_version != 4 && p->ip_version != 6))
        return;
    struct rr_hashes h;
    rr_packet_hashes(r, p, &h);
    rr_packet_hashed(r, p, ts_us, new_flow, &h);
}

void rate_rules_packet_burst(struct rate_rules *r, const struct pkt_info *pkts,
                             const uint64_t *ts_us, const uint8_t *new_flow, size_t n)
{
    struct rr_hashes h[RATE_RULES_BURST];
    while (n > 0) {
        size_t m = n < RATE_RULES_BURST ? n : RATE_RULES_BURST;
        /* Pass 1: every hash of the group, and the loads of the home slots they name, so the
         * misses of the group overlap; pass 2: the entries those slots point to; pass 3 the full
         * records of those that have one. Only hints: pass 4 may insert or evict in between. */
        for (size_t i = 0; i < m; i++) {
            if (DD_UNLIKELY(pkts[i].ip_version != 4 && pkts[i].ip_version != 6))
                continue;
            rr_packet_hashes(r, &pkts[i], &h[i]);
            rr_prefetch_slot(r, h[i].dst);
            rr_prefetch_slot(r, h[i].src);
        }
        for (size_t i = 0; i < m; i++) {
            if (DD_LIKELY(pkts[i].ip_version == 4 || pkts[i].ip_version == 6)) {
                rr_prefetch_entry(r, h[i].dst);
                rr_prefetch_entry(r, h[i].src);
            }
        }
        for (size_t i = 0; i < m; i++) {
            if (DD_LIKELY(pkts[i].ip_version == 4 || pkts[i].ip_version == 6)) {
                rr_prefetch_full(r, h[i].dst, h[i].hll);
                rr_prefetch_full(r, h[i].src, 0);
            }
        }
        /* Pass 4: the packets in order, exactly as rate_rules_packet would take them. */
        for (size_t i = 0; i < m; i++)
            if (DD_LIKELY(pkts[i].ip_version == 4 || pkts[i].ip_version == 6))
                rr_packet_hashed(r, &pkts[i], ts_us[i], new_flow && new_flow[i], &h[i]);
        pkts += m;
        ts_us += m;
        n -= m;
        if (new_flow)
            new_flow += m;
    }
}

/* ---- tick ------------------------------------------------------------------------------- */

static void rr_alert_fill(const struct rate_rules *r, uint32_t slot, int role, uint64_t now_us,
                          bool ended, struct rate_alert *a)
{
    const struct rr_entry *e = rr_e(r, slot); /* alerting: full */
    const struct rr_full *f = rr_f(e);
    const struct rr_role_state *rs = rr_rs(r, e, role);
    struct rr_view v;
    if (rs->burst) {
        const struct rr_snap *sn = f->snap ? &r->snaps[f->snap - 1] : &rr_snap_zero;
        rr_view_sub(&v, &sn->sub, role, role == VERDICT_ROLE_VICTIM ? sn->sources : 0, sn->pkts);
    } else
        rr_view_sustained(&v, f, role);
    memset(a, 0, sizeof(*a));
    memcpy(a->ip, e->addr, 16);
    a->version = e->version;
    a->role = (uint8_t)role;
    a->level = rs->level;
    a->ended = ended;
    a->reasons = rs->reasons;
    a->score = rs->score;
    a->pps = v.pps;
    a->bps = v.bps;
    a->syn_rate = v.syn;
    a->syn_ack_rate = v.synack;
    a->new_flows_rate = v.flows;
    a->distinct_sources = v.sources;
    a->reflector_pps = v.refl;
    a->ts_us = now_us;
    a->icmp_error_pps = v.icmp_err;
    a->fragment_pps = v.frag;
    a->tcp_pps = v.tcp;
    a->udp_pps = v.udp;
    a->icmp_pps = v.icmp;
    a->handshake_rate = v.handshakes;
    a->answered_ratio = v.answered_ratio;
    a->reflector_requests_pps = v.refl_req;
    a->pkts_per_source = v.pkts_per_source;
    a->syn_ack_unrequested_pps = v.syn_ack_unrequested;
    a->burst = rs->burst;
    a->fragment_proto = rs->frag_votes ? rs->frag_proto : 0;
}

/* Demotes the full entry of slot, rolled to now, back to a light one if it is quiet: neither
 * role alerting or hot, and its current sub-window, second so far and EWMAs within the
 * promotion limits (what a light entry could hold without being promoted). It keeps the same
 * as a promotion carries: the sub-window exactly, the second's packets and bytes, their EWMAs;
 * the role states (fragment votes), the snapshot and the other metrics' EWMAs are dropped,
 * bounded as at promotion. Returns true when it did. */
static bool rr_demote(struct rate_rules *r, uint32_t slot)
{
    struct rr_entry *e = rr_e(r, slot);
    struct rr_full *f = rr_f(e);
    if (e->flags & (RR_FL_HOT(0) | RR_FL_HOT(1)) || rr_rs(r, e, 0)->active_pos >= 0 ||
        rr_rs(r, e, 1)->active_pos >= 0)
        return false;
    /* What a light entry could hold: at most the limits in each sub-window, so in the second's
     * closed ones (sub_id % RR_SUBS of them) and in the EWMAs at most RR_SUBS times that. */
    uint32_t closed = e->sub_id % RR_SUBS;
    for (int role = 0; role < RR_ROLES; role++) {
        uint32_t n = r->promote_n[role], b = r->promote_bytes[role];
        if (f->sub.n[role][RR_PPS] > n || f->sub.bytes[role] > b ||
            f->count[role][RR_PPS] > n * closed || f->count[role][RR_BYTES] > b * closed ||
            f->rate[role][RR_PPS] > (float)(n * RR_SUBS) ||
            f->rate[role][RR_BYTES] > (float)b * RR_SUBS)
            return false;
    }
    uint32_t k = r->pidx[slot] & ~RR_PIDX_FULL;
    uint32_t li = r->pool_nfree ? r->pool_free[--r->pool_nfree] : r->pool_high++;
    struct rr_light *l = &r->pool[li];
    memset(l, 0, sizeof(*l));
    l->h = f->h;
    l->h.flags = 0;
    for (int role = 0; role < RR_ROLES; role++) {
        uint64_t sub = (uint64_t)f->sub.bytes[role] << RR_SUB_BYTES_SHIFT;
        for (int m = 0; m < RR_NPKT; m++) /* each <= the packets' <= RR_LIGHT_MAX */
            sub |= (uint64_t)f->sub.n[role][m] << (3 * m);
        l->sub[role] = sub;
        l->sec[role] = f->count[role][RR_PPS] << RR_SEC_N_SHIFT | f->count[role][RR_BYTES];
        l->ewma_n[role] = f->rate[role][RR_PPS];
        l->ewma_bytes[role] = f->rate[role][RR_BYTES];
    }
    if (f->rsi)
        r->state_free[r->state_nfree++] = f->rsi - 1;
    if (f->snap)
        r->snap_free[r->snap_nfree++] = f->snap - 1;
    r->full_free[r->full_nfree++] = k;
    r->pidx[slot] = li;
    r->st.full_ips--;
    r->st.demotions++;
    return true;
}

/* Seconds from e's latest packet to now_s, exactly, read BEFORE the entry is rolled to now:
 * the latest packet is never after the entry's own clock (sub_id) nor moved back by an older
 * packet (rr_count), and never 2^16 s before it
 * either (the tick frees an entry idle for more than RR_IDLE_S at every visit, and only an
 * alerting one, which ends within seconds once rolled, is kept), so the 16-bit difference
 * between them is exact, and the rest is the clock's distance to now (0 if now is older: a
 * packet time ahead of the tick's, live). Exact across any gap in packet time. */
static inline uint32_t rr_idle_s(const struct rr_entry *e, uint32_t now_s)
{
    uint32_t own_s = e->sub_id / RR_SUBS;
    return (uint16_t)(own_s - e->last_pkt_s) + (now_s > own_s ? now_s - own_s : 0);
}

size_t rate_rules_tick(struct rate_rules *r, uint64_t now_us, struct rate_alert *out, size_t max,
                       size_t budget)
{
    uint32_t now_s = rr_rel_sub(r, now_us) / RR_SUBS;
    size_t n = 0, work = 0;

    /* A slice of the table first: roll what went quiet (which may start alerts), free what has
     * been idle for long. At least half of the budget stays for the alerting list. */
    uint32_t cap = r->mask + 1;
    size_t reserve = r->n_active < budget / 2 ? r->n_active : budget / 2;
    size_t scan = 0;
    while (work + reserve < budget && scan < cap) {
        uint32_t slot = r->scan_cursor;
        r->scan_cursor = (slot + 1) & r->mask;
        work++;
        scan++;
        if (r->tags[slot] == 0)
            continue;
        struct rr_entry *e = rr_e(r, slot);
        uint32_t idle_s = rr_idle_s(e, now_s);
        rr_entry_roll(r, slot, now_us);
        if (idle_s > RR_IDLE_S && rr_rs(r, e, 0)->active_pos < 0 &&
            rr_rs(r, e, 1)->active_pos < 0) {
            rr_slot_free(r, slot);
            r->st.expired++;
        } else if (rr_is_full(e) && rr_pool_tight(r)) {
            (void)rr_demote(r, slot);
        }
    }

    /* Then the alerting IP/roles, round robin from active_cursor; a removal swaps the last one
     * into the current position, which is then visited without advancing. */
    uint32_t visits = r->n_active;
    uint32_t i = r->active_cursor;
    while (visits > 0 && work < budget && n < max && r->n_active > 0) {
        if (i >= r->n_active)
            i = 0;
        uint32_t slot = r->active[i] >> 1;
        int role = (int)(r->active[i] & 1);
        struct rr_role_state *rs = rr_rs_need(r, rr_e(r, slot), role); /* alerting: has one */
        visits--;
        work++;
        rr_entry_roll(r, slot, now_us); /* a roll may add to the list, never removes */
        if (rs->quiet >= RATE_RULES_END_WINDOWS) {
            if (rs->emitted) {
                rr_alert_fill(r, slot, role, now_us, true, &out[n++]);
                r->st.alerts_emitted++;
                r->st.alerts_ended++;
            }
            rr_active_remove(r, slot, role);
            continue;
        }
        /* While quiet windows are counted the alert is neither repeated nor ended yet; a level
         * that rose is sent at once (a burst turning into a flood). */
        if (rs->quiet == 0 &&
            (!rs->emitted || rs->last_emit_s < now_s || rs->level > rs->emitted_level)) {
            rr_alert_fill(r, slot, role, now_us, false, &out[n++]);
            rs->emitted = true;
            rs->emitted_level = rs->level;
            rs->last_emit_s = now_s;
            r->st.alerts_emitted++;
        }
        i++;
    }
    r->active_cursor = i;

    r->st.tick_visits += work;
    return n;
}
