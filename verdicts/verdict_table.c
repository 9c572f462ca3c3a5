/* verdict_table.c - the verdict stage's per-IP judgement (verdict_table.h): model evidence, rate
 * alerts and reports merged into one verdict per IP, attack episodes and their events.
 *
 * Owns: an entry pool of max_ips entries with a chained hash index over it, four pools of role
 * records (light and whole, attacker and victim) that entries take at a role's first
 * evidence, a pool of entry extension records (timer links, published state), a list of dirty
 * entries, a 64-slot timer wheel, an episode pool of max_episodes
 * records, a pool of max_spoofed_victims spoofed-source tallies, a count-min sketch of attack
 * flows per source without an entry, a ring of verdicts of evicted IPs waiting for their
 * expired callback, and a table of interned attack family names. All allocated in
 * verdict_table_create (calloc, so pages of entries never used cost nothing); nothing is
 * allocated afterwards.
 *
 * Threads: none. The verdict stage thread calls everything; no locks, no atomics.
 *
 * DESIGN: evidence functions (flow, alert, report) only update an entry's state, start an
 * episode when a role reaches high, and put the entry on the dirty list once. verdict_table_tick
 * does all output, in the order the header promises: (1) entries whose timer is due join the
 * dirty list; (2) each dirty entry is re-evaluated once and its verdict published when it
 * changed (coalescing); (3) pending episode events; (4) expired callbacks: first for entries
 * evicted since the last tick (queued, they cannot be announced from an evidence call), then for
 * idle entries found by a bounded round-robin scan.
 * A flow is first read by vt_classify (protocol shape, who may be blamed, the family its
 * protocol allows); verdict_table_flow then decides whether its source gets an entry (the
 * sketch keeps one-flow spoofed sources out of the table), whether the source is proven, and
 * what the victim tallies. The rules live in vt_role_view (levels, reasons, type) and
 * vt_source_proven; docs/verdicts.md states them for operators.
 *
 * Window: per role, VT_BUCKETS buckets of one second of the stage clock (10 s =
 * VERDICT_WINDOW_US). Evidence counts in the bucket of its flow's last packet (never later than
 * the stage clock). A bucket holds whether it had reports (a bit: only the timers ask, for the
 * oldest), attack reports, flows and attack flows, the highest
 * p_attack among attacks and whether a heavy attack flow was seen; the victim role also holds
 * flows of unblamed sources and reflectors and half-open/slow reports (struct vt_victim). The
 * window is their sum (max). Attack families are counted per role in VT_FAMILIES space-saving
 * slots over interned names, from the role's first attack report until its window holds no
 * attack report again.
 *
 * Determinism: everything that decides a level or a published field is keyed by packet time
 * and fixed hash keys (the spoofed-source HyperLogLog, its sample, the sketch); only the hash
 * index and eviction sampling use the seed (verdict_table_config.seed: random by default), and
 * they decide nothing a replay shows unless the table is full. Then the sampling decides which
 * addresses are evicted (a flood of a million spoofed sources keeps a different quarter of
 * them on every run), so offline replays pass a fixed seed.
 *
 * Timers: an entry whose level could change without new evidence (attack reports still in its
 * window, a held alert, a report with a ttl, an episode waiting to end) sits in the wheel at the
 * whole second when that can first happen; a benign-only entry costs no timer. Far timers go
 * round the wheel and are re-filed.
 *
 * Memory: an entry is 80 bytes (address, index links, the low verdict it published last) plus
 * a record per role that received evidence. A role that only ever saw benign flows is light:
 * 68 bytes (80 as a victim: its windows of packets, bytes and flows in 16- and 8-bit counters,
 * its seen times as 32-bit distances from its window's second, its flow count); attack
 * evidence, an alert, a report, or a count that outgrows a light field makes it whole: 400
 * bytes as an attacker, 504 as a victim. An entry that needs a timer, or published more than
 * a low verdict, takes a 64-byte extension record (timer links, the rest of what it
 * published). Most addresses are one light role (~148 bytes), where both whole roles inline
 * took ~1100. Role and extension records come from pools of max_ips records (calloc'd,
 * touched as used, freed with their entry: they never run out); see "role records" below.
 * Every compact form is exact: what it cannot hold moves to the whole form, so verdicts are
 * the same as with whole records. Peers live only in episode records (VT_PEERS of them,
 * space-saving), ~850 bytes each; a spoofed tally is ~360 bytes; the source sketch 192 KiB,
 * the pair sketch 768 KiB.
 *
 * Calls: common/cidr (CIDR matching), common/hash (keyed hashes), common/log (at create only),
 * features/port_class (reflector and web ports). */
#include "verdicts/verdict_table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/log.h"
#include "features/port_class.h"

enum {
    VT_BUCKETS = 10,
    VT_FAMILIES = 4,
    VT_FAMILY_TABLE = 64, /* distinct family names; id 0 means none */
    VT_SAMPLE = 8,        /* entries sampled for eviction */
    VT_WHEEL = 64,        /* timer wheel slots of one second */
    VT_ROLES = 2,
    VT_PEERS = REDIS_SINK_PEERS_MAX,
    VT_MAX_IPS = 1u << 26,
    VT_MAX_EPISODES = 1u << 22,
    VT_HLL_BITS = 8,
    VT_HLL = 1u << VT_HLL_BITS, /* HyperLogLog registers per spoofed-source tally (~6.5 % error) */
    VT_SKETCH = 1u << 16,       /* counters per row of the unjudged-source sketch */
    VT_SKETCH_ROWS = 3,         /* 3 x 64 Ki: ~10k spoofed sources per window make ~0.1 % false
                                   "second flows" */
    VT_SPOOF_PKTS = 3,          /* a spoofed address sends this few packets in its flow */
    VT_SLOW_PPS = 10,           /* a slow HTTP connection's packets/s stay below this */
    VT_STALLED_PKTS = 5,        /* a stalled request: at least this many packets from the client */
    VT_STALLED_SEG = 512,       /* ... in pieces of at most this many payload bytes on average */
    VT_EXAMPLES = VERDICT_SPOOFED_EXAMPLES,
};
#define VT_NONE           UINT32_MAX
#define VT_SEC            1000000ull
#define VT_BUCKET_US      (VERDICT_WINDOW_US / VT_BUCKETS)
#define VT_SLOW_MIN_US    2000000ull /* an HTTP connection's timing is conclusive from this age */
#define VT_STALLED_MIN_US 5000000ull /* a request trickled this long is stalled */
/* Fixed keys for the spoofed-source hashes: the count and the examples of a replay must not
 * depend on the run (the table's own seed is random). */
#define VT_SPOOF_KEY  0x6a09e667f3bcc909ull
#define VT_SKETCH_KEY 0xbb67ae8584caa73bull
#define VT_PAIR_KEY   0x3c6ef372fe94f82bull
_Static_assert(VT_BUCKETS <= 16, "heavy is a 16-bit mask");

enum { VT_EP_NONE = 0, VT_EP_TRACKED = 1, VT_EP_UNTRACKED = 2 };

/* Role record pools: pool = role + 2 * whole. */
enum { VT_POOL_LA = 0, VT_POOL_LV = 1, VT_POOL_RA = 2, VT_POOL_RV = 3, VT_POOLS = 4 };
#define VT_FULL 0x80000000u /* in vt_entry.ri: the index is of a whole role */

/* TCP flag bits of flow_evidence.first_flags / flags_seen. */
enum { VT_FIN = 1, VT_SYN = 2, VT_RST = 4, VT_PSH = 8, VT_ACK = 16 };

struct vt_role {
    uint16_t reported;            /* bit b: bucket b received a report (only "any" is ever asked) */
    uint32_t attacks[VT_BUCKETS]; /* attack reports that count for this role */
    float maxp[VT_BUCKETS];       /* the highest p_attack of the bucket's attack reports */
    uint32_t pkts[VT_BUCKETS];    /* packets of the bucket's reports (new since each flow's
                                     previous report), for the model-side pps estimate */
    uint32_t bytes16[VT_BUCKETS]; /* their bytes, in units of 16 (no overflow below 68 GB/s) */
    uint16_t flows[VT_BUCKETS];   /* flows (first reports) of the bucket, saturating */
    uint16_t flows_att[VT_BUCKETS]; /* of those, attacks that count for this role */
    uint16_t blame[VT_BUCKETS];     /* attacker: of those, flows that are evidence about this
                                       source (vt_weigh.blame) */
    uint16_t hits[VT_BUCKETS];      /* attacker: of those, flows whose destination was at high
                                       or above as a victim (corroboration) */
    uint16_t heavy;                 /* bit b: bucket b saw a heavy attack flow */
    uint8_t fam[VT_FAMILIES];
    uint32_t fam_n[VT_FAMILIES];
    uint64_t win_sec; /* the second (stage clock / VT_BUCKET_US) of the newest bucket */
    uint64_t flows_total, flows_attack;
    uint64_t first_seen_us, last_seen_us; /* evidence times; 0: no evidence in this role yet */
    uint64_t attack_since_us;             /* first attack evidence since the level was low */
    /* The last rate alert (ended ones included). */
    uint64_t alert_us;
    double pps, bps, rate_score;
    uint32_t rate_reasons;
    uint8_t rate_level; /* 0 once an ended alert came */
    uint8_t rate_fam;   /* the attack family the alert's evidence names */
    /* The strongest active report. */
    uint8_t report_level;
    uint8_t report_fam;
    uint64_t report_until_us;
    /* Episode. */
    uint8_t ep_state;
    uint8_t has_model; /* the role received model evidence (model_version is then set) */
    uint8_t level;     /* at the last evaluation */
    uint8_t last_peer_ver;
    uint32_t ep; /* episode record when tracked */
    uint64_t below_since_us;
    uint8_t last_peer[16]; /* the peer of the latest attack flow (seeds a new episode) */
};

/* Victim-only window: attack flows whose sources are not blamed, and half-open or slow
 * connections (uint16 per bucket, saturating). */
struct vt_victim {
    uint16_t spoofed[VT_BUCKETS];   /* attack flows from unproven sources (first reports) */
    uint16_t reflected[VT_BUCKETS]; /* of those, reflector answers nobody asked for */
    uint16_t halfopen[VT_BUCKETS];  /* reports of half-open or slow attack connections */
    uint16_t ends[VT_BUCKETS];      /* flows counted at their end (final reports) ... */
    uint16_t ends_att[VT_BUCKETS];  /* ... and of those, attacks: a flow the model judged benign
                                       while young and an attack once it showed itself */
    uint32_t spoof;                 /* its spoofed-source tally (pool record) or VT_NONE */
};

/* The victim role's record: its window and the victim-only counters. */
struct vt_vrole {
    struct vt_role r;
    struct vt_victim vic;
};

/* A light role: what a role that never received attack evidence, an alert or a report holds
 * (everything else of its struct vt_role is zero, has_model 1, its level low), in the narrowest
 * fields its values usually fit: 68 bytes (80 as a victim). It is only a compact form of the
 * whole role: vt_expand gives the whole role back exactly, and a light role whose values no
 * longer fit (a bucket over 65,535 packets or 65,535 x 16 bytes or 255 flows, more than 2^32
 * flows, seen times more than 71 minutes apart, a clock past 2106) is made whole instead of
 * stored (vt_rcommit; counted in light_promoted). Most roles stay light. */
struct vt_lrole {
    uint16_t pkts[VT_BUCKETS];
    uint16_t bytes16[VT_BUCKETS];
    uint8_t flows[VT_BUCKETS];
    uint16_t reported;
    uint32_t win_sec;
    uint32_t last_back;  /* (win_sec + 1) s - 1 us - last_seen_us */
    uint32_t first_back; /* last_seen_us - first_seen_us */
    uint32_t flows_total;
};

/* ... and a light victim role, with the only victim-only counter benign flows touch. */
struct vt_lvrole {
    struct vt_lrole r;
    uint8_t ends[VT_BUCKETS];
};

/* A victim's tally of unblamed sources: a HyperLogLog of distinct addresses and a bottom-k
 * sample of them (the VT_EXAMPLES addresses of smallest hash: uniform, deterministic). */
struct vt_spoof {
    uint32_t entry; /* owner entry; VT_NONE when free */
    uint8_t reg[VT_HLL];
    uint8_t ex_ver[VT_EXAMPLES];
    uint8_t ex[VT_EXAMPLES][16];
    uint64_t ex_h[VT_EXAMPLES];
};

/* An IP: 80 bytes. What was published last is kept here in the form most verdicts fit (a low
 * verdict: no reasons, score, attack type, attack flows or spoofed sources); the rest of it, and
 * the timer links an entry needs only while its level can move without evidence, are in its
 * extension record (struct vt_ext), taken from a pool of max_ips records the first time either
 * is needed and kept until the entry is freed. */
struct vt_entry {
    uint8_t ip[16];
    uint8_t ver;
    uint8_t used;
    uint8_t dirty;     /* on the dirty list (stays set while a freed slot is still listed) */
    uint8_t published; /* the sink has heard of it */
    uint8_t pub_level, pub_role;
    uint32_t hnext; /* hash chain */
    /* Its roles' records (VT_NONE: the role never received evidence), taken from the role
     * pools at the role's first evidence: most addresses are only ever seen in one role. A
     * record index with VT_FULL is a whole role, else a light one (see vt_r). */
    uint32_t ri[VT_ROLES];
    uint32_t x; /* its extension record, or VT_NONE */
    /* What was published last (a change republishes), with pub_pps, pub_bps and pub_last_seen
     * below; without an extension record the rest of it is zero and: */
    uint32_t pub_flows_total;
    int32_t pub_age;     /* pub_us - pub_last_seen */
    uint64_t touched_us; /* stage clock at the last evidence */
    double pub_pps, pub_bps;
    uint64_t pub_last_seen;
};

/* An entry's extension: its place in the timer wheel and what it published last in full. */
struct vt_ext {
    uint32_t wprev, wnext;
    uint64_t due_sec; /* in the wheel at this second; 0: not in the wheel */
    uint32_t pub_reasons;
    uint32_t pub_spoofed;
    double pub_score;
    uint64_t pub_flows_total, pub_flows_attack, pub_us;
    uint8_t pub_attack; /* interned family id, 0 for "" */
};

/* What an entry published last, unpacked (vt_pub_load, vt_pub_store). */
struct vt_pub {
    uint8_t attack;
    uint32_t reasons, spoofed;
    double score, pps, bps;
    uint64_t flows_total, flows_attack, last_seen, us;
};
/* The sizes the header and docs/verdicts.md state (bytes per judged IP, issue 11). */
_Static_assert(sizeof(struct vt_entry) == 80 && sizeof(struct vt_ext) == 64, "entry size");
_Static_assert(sizeof(struct vt_lrole) == 68 && sizeof(struct vt_lvrole) == 80, "light sizes");
_Static_assert(sizeof(struct vt_role) == 400 && sizeof(struct vt_vrole) == 504, "whole sizes");

struct vt_episode {
    uint32_t entry; /* VT_NONE once detached (its entry was evicted) */
    uint8_t role;
    uint8_t used;
    uint8_t start_pending, start_emitted, end_pending;
    uint8_t level;         /* the role's level at its last evaluation */
    uint8_t level_pending; /* a level change waits for the next tick: from level_prev to levelv */
    uint8_t level_prev;
    uint32_t reasons; /* every reason the role had at high or above during the episode */
    double peak_score;
    uint32_t npeers;
    uint64_t start_us;
    double peak_pps, peak_bps;
    uint8_t peak_level;
    struct redis_sink_peer peers[VT_PEERS];
    struct verdict startv; /* the ATTACK_START verdict, built when the episode began */
    struct verdict endv;   /* the ATTACK_END verdict, built when the episode ended */
    struct verdict levelv; /* the role's verdict at its latest level change */
};

/* What one flow report says, read from its protocol evidence (vt_classify). */
struct vt_class {
    bool attack;        /* the model's attack, ICMP errors excepted */
    bool reflected;     /* its source answers a request it never got from its destination: UDP
                           from a reflector service port, TCP opening with a SYN-ACK */
    bool icmp_error;    /* an ICMP/ICMPv6 error or link housekeeping: a reply, never blamed */
    bool handshake;     /* TCP: the source completed the handshake (a real address) */
    bool halfopen;      /* TCP: opened with a SYN, never completed */
    bool stalled;       /* TCP to a web port: a request trickled for seconds, never answered */
    bool heavy;         /* an attack flow of >= VERDICT_HEAVY_PACKETS at p >= VERDICT_HEAVY_P */
    const char *family; /* protocol-consistent attack family ("" when not an attack) */
};

/* A role's judgement at the stage clock. */
struct vt_view {
    uint8_t level;
    uint32_t reasons;
    double score;
    const char *attack;
    uint8_t attack_id; /* attack's interned family id (0: "") */
    double pps, bps;
    uint32_t attacks;   /* attack reports in the window */
    uint32_t spoofed;   /* unblamed sources in the window (victim) */
    bool live_evidence; /* anything that can still move the level: attack or spoofed reports */
};

struct verdict_table {
    struct verdict_table_sink sink;
    const struct config_whitelist *wl;
    char sensor[VERDICT_SENSOR_MAX];
    char model_version[VERDICT_MODEL_VERSION_MAX];
    uint64_t ttl_us, attack_end_us;
    uint32_t medium_flows, high_flows, critical_flows, half_open_reports;
    double min_fraction, source_min_share, volume_fraction, evidence_p;
    uint64_t seed, rng;
    uint64_t now;

    uint32_t cap, hmask, high, free_head;
    uint32_t *heads;
    struct vt_entry *e;
    /* Role records, four pools (light and whole, per role: enum vt_pool) of cap records each
     * (an entry holds at most one per role), taken from the bottom (phigh) or the free stack,
     * so memory follows the roles in use. */
    struct vt_role *ra;   /* whole attacker roles */
    struct vt_vrole *rv;  /* whole victim roles */
    struct vt_lrole *la;  /* light attacker roles */
    struct vt_lvrole *lv; /* light victim roles */
    uint32_t *pfree[VT_POOLS], pnfree[VT_POOLS], phigh[VT_POOLS];
    struct vt_vrole *scr; /* [VT_ROLES]: an absent or light role as a whole one (see vt_r) */
    struct vt_ext *xs;    /* extension records: a pool of cap (an entry holds at most one) */
    uint32_t *xfree, xnfree, xhigh;
    uint32_t *dirty, ndirty;
    uint32_t wheel[VT_WHEEL];
    uint64_t wheel_sec; /* the last second whose slot was processed */
    uint32_t scan;      /* expiry cursor */

    struct vt_episode *eps;
    uint32_t *ep_free, ep_nfree, max_episodes;
    bool events_due;

    struct verdict *gone; /* ring of verdicts of evicted IPs */
    uint32_t gone_cap, gone_head, gone_n;

    char fam[VT_FAMILY_TABLE][VERDICT_ATTACK_TYPE_MAX];
    uint32_t nfam;

    struct vt_spoof *spoofs; /* pool of max_spoofed victims' tallies */
    uint32_t *spoof_free, spoof_nfree, max_spoofed;

    /* Attack flows per unproven source without an entry: a count-min sketch of two rows,
     * cleared every window. */
    uint8_t sketch[VT_SKETCH_ROWS][VT_SKETCH];
    uint64_t sketch_epoch;
    /* Attack flows per (source, destination) pair: count-min, two generations of one window
     * each (the estimate covers the last 10 to 20 s). */
    uint16_t pair[2][VT_SKETCH_ROWS][VT_SKETCH];
    uint64_t pair_epoch;
    unsigned pair_cur;

    struct verdict_table_stats st;
};

/* ---- small helpers -------------------------------------------------------------------------- */

/* Keyed hash (common/hash.h): sources cannot be chosen to collide without the seed. */
static inline uint32_t vt_bucket(const struct verdict_table *t, const uint8_t ip[16], uint8_t ver)
{
    return (uint32_t)dd_hash_addr(t->seed, ip, ver) & t->hmask;
}

static inline uint64_t vt_rand(struct verdict_table *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return t->rng;
}

static inline void vt_clock(struct verdict_table *t, uint64_t ts)
{
    if (ts > t->now)
        t->now = ts;
}

/* ---- role records ---------------------------------------------------------------------------
 * A role is absent (no record: it never received evidence), light (struct vt_lrole: only
 * benign flows so far) or whole. An absent or light role is a whole role whose other fields
 * are zero (ep and spoof VT_NONE): its level is low (no attack evidence, alert or report), so
 * what an evaluation would write into it (a rolled window, level low, no families, no episode)
 * can always be derived again. Judgements therefore read such a role as it is, never expanding
 * or writing it: vt_light_view (its view: low, rates from its window as slid to now),
 * vt_seen_of, vt_last_seen, vt_level; whatever asks for an alert, a report, an episode or
 * attack counts skips it (vt_next_due, vt_idle, vt_source_proven). Evidence takes vt_rneed: an
 * attack flow, an alert or a report makes the role whole (promoting a light one); a benign
 * flow writes into a scratch expansion of a light role (t->scr[role], vt_r) and vt_rcommit
 * stores it back. A fresh or promoted record equals the inline role it replaces: buckets
 * nobody wrote are zero either way. */

static const struct vt_vrole vt_zero_role = {.r = {.ep = VT_NONE}, .vic = {.spoof = VT_NONE}};

/* Expands a light role (lr; lv: its victim part or NULL) into the whole role *out. */
static void vt_expand(const struct vt_lrole *lr, const struct vt_lvrole *lv, struct vt_vrole *out)
{
    if (lv)
        *out = vt_zero_role;
    else
        out->r = vt_zero_role.r; /* an attacker's scratch: its victim part is never read */
    out->r.reported = lr->reported;
    for (unsigned b = 0; b < VT_BUCKETS; b++) {
        out->r.pkts[b] = lr->pkts[b];
        out->r.bytes16[b] = lr->bytes16[b];
        out->r.flows[b] = lr->flows[b];
    }
    out->r.has_model = 1;
    out->r.win_sec = lr->win_sec;
    out->r.flows_total = lr->flows_total;
    out->r.last_seen_us = ((uint64_t)lr->win_sec + 1) * VT_BUCKET_US - 1 - lr->last_back;
    out->r.first_seen_us = out->r.last_seen_us - lr->first_back;
    if (lv)
        for (unsigned b = 0; b < VT_BUCKETS; b++)
            out->vic.ends[b] = lv->ends[b];
}

/* Stores the whole role *in as the light role *lr (lv: its victim part or NULL). False, with
 * nothing written, when one of its values does not fit a light role's fields. Only the fields
 * a benign flow writes are looked at: the others are zero (see vt_rneed). */
static bool vt_shrink(const struct vt_vrole *in, struct vt_lrole *lr, struct vt_lvrole *lv)
{
    const struct vt_role *r = &in->r;
    uint32_t big = 0; /* bits above each light field's width */
    for (unsigned b = 0; b < VT_BUCKETS; b++) {
        big |= (r->pkts[b] | r->bytes16[b]) >> 16;
        big |= (uint32_t)r->flows[b] >> 8;
        if (lv)
            big |= (uint32_t)in->vic.ends[b] >> 8;
    }
    uint64_t base = (r->win_sec + 1) * VT_BUCKET_US - 1; /* the newest bucket's last us */
    if (big || !r->has_model || r->win_sec > UINT32_MAX || r->flows_total > UINT32_MAX ||
        r->last_seen_us > base || base - r->last_seen_us > UINT32_MAX ||
        r->first_seen_us > r->last_seen_us || r->last_seen_us - r->first_seen_us > UINT32_MAX)
        return false;
    lr->reported = r->reported;
    for (unsigned b = 0; b < VT_BUCKETS; b++) {
        lr->pkts[b] = (uint16_t)r->pkts[b];
        lr->bytes16[b] = (uint16_t)r->bytes16[b];
        lr->flows[b] = (uint8_t)r->flows[b];
    }
    lr->win_sec = (uint32_t)r->win_sec;
    lr->flows_total = (uint32_t)r->flows_total;
    lr->last_back = (uint32_t)(base - r->last_seen_us);
    lr->first_back = (uint32_t)(r->last_seen_us - r->first_seen_us);
    if (lv)
        for (unsigned b = 0; b < VT_BUCKETS; b++)
            lv->ends[b] = (uint8_t)in->vic.ends[b];
    return true;
}

/* The absent or light role expanded into t->scr[role]. */
static struct vt_vrole *vt_scratch(struct verdict_table *t, const struct vt_entry *e, int role)
{
    struct vt_vrole *sc = &t->scr[role];
    uint32_t k = e->ri[role];
    if (k == VT_NONE)
        *sc = vt_zero_role;
    else if (role == VERDICT_ROLE_VICTIM)
        vt_expand(&t->lv[k].r, &t->lv[k], sc);
    else
        vt_expand(&t->la[k], NULL, sc);
    return sc;
}

static inline bool vt_whole(const struct vt_entry *e, int role)
{
    return e->ri[role] != VT_NONE && (e->ri[role] & VT_FULL);
}

/* The role as a whole one: its record when whole, else t->scr[role] (writes are lost). */
static inline struct vt_role *vt_r(struct verdict_table *t, const struct vt_entry *e, int role)
{
    if (vt_whole(e, role)) {
        uint32_t k = e->ri[role] & ~VT_FULL;
        return role == VERDICT_ROLE_VICTIM ? &t->rv[k].r : &t->ra[k];
    }
    return &vt_scratch(t, e, role)->r;
}

/* A whole role's record (vt_whole(e, role) must hold). Readers that also take absent and light
 * roles use the helpers below, which read light records as they are. */
static inline const struct vt_role *vt_rw(const struct verdict_table *t, const struct vt_entry *e,
                                          int role)
{
    uint32_t k = e->ri[role] & ~VT_FULL;
    return role == VERDICT_ROLE_VICTIM ? &t->rv[k].r : &t->ra[k];
}

/* The light record of a light role (neither absent nor whole). */
static inline const struct vt_lrole *vt_rl(const struct verdict_table *t, const struct vt_entry *e,
                                           int role)
{
    uint32_t k = e->ri[role];
    return role == VERDICT_ROLE_VICTIM ? &t->lv[k].r : &t->la[k];
}

/* What any role (absent, light or whole) says of its own evidence, as its whole form holds it:
 * an absent role's is zero, a light role has model evidence and no attack flow. */
struct vt_seen_of {
    uint64_t first_seen_us, last_seen_us, flows_total, flows_attack;
    uint8_t has_model;
};

static inline uint64_t vt_light_last(const struct vt_lrole *lr)
{
    return ((uint64_t)lr->win_sec + 1) * VT_BUCKET_US - 1 - lr->last_back;
}

static struct vt_seen_of vt_seen_of(const struct verdict_table *t, const struct vt_entry *e,
                                    int role)
{
    struct vt_seen_of s = {0};
    if (e->ri[role] == VT_NONE)
        return s;
    if (vt_whole(e, role)) {
        const struct vt_role *r = vt_rw(t, e, role);
        s.first_seen_us = r->first_seen_us;
        s.last_seen_us = r->last_seen_us;
        s.flows_total = r->flows_total;
        s.flows_attack = r->flows_attack;
        s.has_model = r->has_model;
        return s;
    }
    const struct vt_lrole *lr = vt_rl(t, e, role);
    s.last_seen_us = vt_light_last(lr);
    s.first_seen_us = s.last_seen_us - lr->first_back;
    s.flows_total = lr->flows_total;
    s.has_model = 1;
    return s;
}

static inline uint64_t vt_last_seen(const struct verdict_table *t, const struct vt_entry *e,
                                    int role)
{
    if (e->ri[role] == VT_NONE)
        return 0;
    return vt_whole(e, role) ? vt_rw(t, e, role)->last_seen_us : vt_light_last(vt_rl(t, e, role));
}

/* The role's level at its last evaluation: an absent or light role's is always low. */
static inline uint8_t vt_level(const struct verdict_table *t, const struct vt_entry *e, int role)
{
    return vt_whole(e, role) ? vt_rw(t, e, role)->level : THREAT_LOW;
}

/* The victim-only counters: the whole victim record's, else those of the role vt_r or vt_rneed
 * just gave for the victim. */
static inline struct vt_victim *vt_vic(struct verdict_table *t, const struct vt_entry *e)
{
    if (vt_whole(e, VERDICT_ROLE_VICTIM))
        return &t->rv[e->ri[VERDICT_ROLE_VICTIM] & ~VT_FULL].vic;
    return &t->scr[VERDICT_ROLE_VICTIM].vic;
}

/* The spoofed-source tally of the victim role (only a whole one has one): VT_NONE or a record. */
static inline uint32_t vt_spoof_of(const struct verdict_table *t, const struct vt_entry *e)
{
    if (vt_whole(e, VERDICT_ROLE_VICTIM))
        return t->rv[e->ri[VERDICT_ROLE_VICTIM] & ~VT_FULL].vic.spoof;
    return VT_NONE;
}

static uint32_t vt_pool_take(struct verdict_table *t, unsigned pool)
{
    return t->pnfree[pool] ? t->pfree[pool][--t->pnfree[pool]] : t->phigh[pool]++;
}

static void vt_pool_give(struct verdict_table *t, unsigned pool, uint32_t k)
{
    t->pfree[pool][t->pnfree[pool]++] = k;
}

/* Makes the entry's role whole with the values of *from (its light or absent role expanded, or
 * the scratch copy of one written since), giving a light record back. */
static struct vt_role *vt_promote(struct verdict_table *t, struct vt_entry *e, int role,
                                  const struct vt_vrole *from)
{
    bool vic = role == VERDICT_ROLE_VICTIM;
    uint32_t k = vt_pool_take(t, vic ? VT_POOL_RV : VT_POOL_RA);
    if (vic)
        t->rv[k] = *from;
    else
        t->ra[k] = from->r;
    if (e->ri[role] != VT_NONE)
        vt_pool_give(t, vic ? VT_POOL_LV : VT_POOL_LA, e->ri[role]);
    e->ri[role] = k | VT_FULL;
    return vic ? &t->rv[k].r : &t->ra[k];
}

/* The role for new evidence: `whole` (attack evidence, an alert, a report) gives it a whole
 * record (taken, or promoted from its light one); else an absent role gets a light record.
 * A light role comes back as t->scr[role] (a new one as the zero role: its record is written
 * only by vt_rcommit): the caller stores it with vt_rcommit, not calling vt_r or vt_rneed
 * for the same role in between, and writes only what a benign flow writes. Never fails: every
 * pool has a record for every entry. */
static struct vt_role *vt_rneed(struct verdict_table *t, struct vt_entry *e, int role, bool whole)
{
    bool vic = role == VERDICT_ROLE_VICTIM;
    if (whole && !vt_whole(e, role))
        return vt_promote(t, e, role, vt_scratch(t, e, role)); /* zero when absent */
    if (e->ri[role] == VT_NONE) {
        e->ri[role] = vt_pool_take(t, vic ? VT_POOL_LV : VT_POOL_LA);
        t->scr[role] = vt_zero_role;
        return &t->scr[role].r;
    }
    return vt_r(t, e, role);
}

/* Stores a light role written through vt_rneed's scratch copy back into its record, or makes it
 * whole when its values outgrew the light record (the whole role holds them as they are). */
static void vt_rcommit(struct verdict_table *t, struct vt_entry *e, int role)
{
    if (e->ri[role] == VT_NONE || vt_whole(e, role))
        return;
    const struct vt_vrole *sc = &t->scr[role];
    uint32_t k = e->ri[role];
    bool ok = role == VERDICT_ROLE_VICTIM ? vt_shrink(sc, &t->lv[k].r, &t->lv[k])
                                          : vt_shrink(sc, &t->la[k], NULL);
    if (!ok) {
        vt_promote(t, e, role, sc);
        t->st.light_promoted++;
    }
}

/* Gives the entry's role records back. */
static void vt_roles_free(struct verdict_table *t, struct vt_entry *e)
{
    for (int role = 0; role < VT_ROLES; role++) {
        if (e->ri[role] == VT_NONE)
            continue;
        if (vt_whole(e, role))
            vt_pool_give(t, role == VERDICT_ROLE_VICTIM ? VT_POOL_RV : VT_POOL_RA,
                         e->ri[role] & ~VT_FULL);
        else
            vt_pool_give(t, role == VERDICT_ROLE_VICTIM ? VT_POOL_LV : VT_POOL_LA, e->ri[role]);
        e->ri[role] = VT_NONE;
    }
}

/* True when the whitelist says the IP is never judged in this role. */
static bool vt_whitelisted(const struct verdict_table *t, int role, uint8_t ver, const uint8_t *ip)
{
    if (!t->wl)
        return false;
    return cidr_list_contains(
        role == VERDICT_ROLE_ATTACKER ? &t->wl->sources : &t->wl->destinations, ver, ip);
}

/* The id of an attack family name (interned on first sight); 0 for "" or a full table. */
static uint8_t vt_family(struct verdict_table *t, const char *name)
{
    size_t len = 0; /* names may be static strings shorter than the bound: no strnlen */
    while (len < VERDICT_ATTACK_TYPE_MAX - 1 && name[len])
        len++;
    if (len == 0)
        return 0;
    for (uint32_t i = 1; i < t->nfam; i++)
        if (strncmp(t->fam[i], name, len) == 0 && t->fam[i][len] == '\0')
            return (uint8_t)i;
    if (t->nfam >= VT_FAMILY_TABLE)
        return 0;
    memcpy(t->fam[t->nfam], name, len);
    t->fam[t->nfam][len] = '\0';
    return (uint8_t)t->nfam++;
}

/* The attack family a rate alert's evidence names: a SYN rate is a SYN flood, reflected UDP an
 * amplification, ICMP errors an ICMP flood, fragments by the protocol they carry; plain
 * volume (pps, bps, flows, sources) by its dominant protocol (TCP: unrequested SYN-ACKs are a
 * reflection, SYNs a SYN flood). "" when it names nothing. */
static const char *vt_rate_family(const struct rate_alert *a)
{
    if (a->reasons & VERDICT_REASON_RATE_SYN)
        return "syn_flood";
    if (a->reasons & VERDICT_REASON_REFLECTION)
        return "udp_amplification";
    if (a->reasons & VERDICT_REASON_ICMP_ERRORS)
        return "icmp_flood";
    if (a->reasons & VERDICT_REASON_FRAGMENTS) {
        if (a->fragment_proto == 1 || a->fragment_proto == 58)
            return "icmp_flood";
        if (a->fragment_proto == 6)
            return "tcp_flood";
        if (a->fragment_proto == 17 || a->fragment_proto == 0)
            return "udp_flood";
    }
    double tcp = a->tcp_pps, udp = a->udp_pps, icmp = a->icmp_pps;
    if (tcp <= 0 && udp <= 0 && icmp <= 0)
        return "";
    if (tcp >= udp && tcp >= icmp) {
        if (a->syn_ack_unrequested_pps >= 0.5 * tcp)
            return "tcp_reflection"; /* SYN-ACKs it never asked for */
        return a->syn_rate >= 0.5 * tcp ? "syn_flood" : "tcp_flood";
    }
    if (udp >= icmp)
        return a->reflector_pps >= 0.5 * udp ? "udp_amplification" : "udp_flood";
    return "icmp_flood";
}

static bool vt_is_icmp_error(uint8_t proto, uint8_t type)
{
    if (proto == 1)
        return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    if (proto == 58) /* errors, and the link's housekeeping (MLD, router/neighbour discovery) */
        return (type >= 1 && type <= 4) || (type >= 130 && type <= 137) || type == 143;
    return false;
}

/* Which of the model's two HTTP families a web connection's timing allows, once it is
 * conclusive (the connection is at least VT_SLOW_MIN_US old): a slow connection (slowloris, slow
 * POST, slow read) trickles, below VT_SLOW_PPS packets/s over its life; a flood connection
 * makes requests as fast as it can. Younger connections keep the model's label: handshake and
 * first request come at once in both. */
static const char *vt_http_family(const struct flow_evidence *fe, bool model_slow)
{
    uint64_t dur = fe->last_us > fe->first_us ? fe->last_us - fe->first_us : 0;
    if (dur < VT_SLOW_MIN_US)
        return model_slow ? "slow_http" : "http_flood";
    return (double)fe->packets * 1e6 / (double)dur < VT_SLOW_PPS ? "slow_http" : "http_flood";
}

/* A request that never completes (slowloris headers, a slow POST body): a real client (handshake
 * done) keeps sending small pieces of it to a web port for at least VT_STALLED_MIN_US, slowly, and
 * the server never answers with a byte of data, because the request is not complete yet. A
 * benign idle keep-alive connection sends nothing after its answered request; an upload is fast
 * and made of full segments; a one-way capture never shows a handshake. The model cannot see this
 * in one flow's statistics (such a connection looks like a quiet client), so the judge reads it
 * as attack evidence itself. */
static bool vt_stalled_request(const struct flow_evidence *fe, bool handshake)
{
    uint64_t dur = fe->last_us > fe->first_us ? fe->last_us - fe->first_us : 0;
    if (!handshake || port_class(fe->dport) != PORT_CLASS_WEB || fe->bwd_payload != 0 ||
        fe->fwd_payload == 0 || fe->fwd_packets < VT_STALLED_PKTS || dur < VT_STALLED_MIN_US)
        return false;
    if ((double)fe->packets * 1e6 / (double)dur >= VT_SLOW_PPS)
        return false;
    /* Handshake ACK and SYN carry nothing: the rest carry the request's pieces. */
    return fe->fwd_payload / (fe->fwd_packets - 2) <= VT_STALLED_SEG;
}

/* True when the model's family label (at most VERDICT_ATTACK_TYPE_MAX - 1 characters of it, as
 * a bounded copy would keep) is `name`. */
static bool vt_label_is(const struct flow_evidence *fe, const char *name)
{
    size_t n = strlen(name);
    return n < VERDICT_ATTACK_TYPE_MAX && memcmp(fe->attack_type, name, n) == 0 &&
           (n == VERDICT_ATTACK_TYPE_MAX - 1 || fe->attack_type[n] == '\0');
}

/* Copies a family name (NUL-terminated within VERDICT_ATTACK_TYPE_MAX: "" or an interned name)
 * into a zeroed attack_type field, as snprintf("%s") would leave it. */
static inline void vt_type_copy(char dst[VERDICT_ATTACK_TYPE_MAX], const char *name)
{
    memcpy(dst, name, strnlen(name, VERDICT_ATTACK_TYPE_MAX - 1));
}

/* Reads one flow report: whether the model's attack holds, who may be blamed for it, and the
 * attack family its protocol evidence allows (docs/verdicts.md, "Attack types"). */
static struct vt_class vt_classify(const struct verdict_table *t, const struct flow_evidence *fe)
{
    struct vt_class c = {.attack = fe->is_attack != 0 || fe->p_attack >= t->evidence_p,
                         .family = ""};
    if (fe->proto == 6) {
        uint8_t ff = fe->first_flags;
        bool syn_first = (ff & VT_SYN) && !(ff & VT_ACK);
        /* The source sent more than its SYN after an answer, and the flow shows data or no
         * reset: a real handshake. A spoofed address's real owner answers the victim's SYN-ACK
         * with one RST (fwd 2, bwd 1, RST seen): not a handshake. */
        c.handshake = syn_first && fe->fwd_packets >= 2 && fe->bwd_packets >= 1 &&
                      ((fe->flags_seen & VT_PSH) || !(fe->flags_seen & VT_RST));
        c.halfopen = syn_first && !c.handshake;
        c.reflected = (ff & (VT_SYN | VT_ACK)) == (VT_SYN | VT_ACK);
        c.stalled = vt_stalled_request(fe, c.handshake);
        if (c.stalled) {
            c.attack = true;
            c.family = "slow_http";
        } else if (c.reflected)
            c.family = "tcp_reflection";
        else if (c.halfopen)
            c.family = "syn_flood";
        else if ((vt_label_is(fe, "http_flood") || vt_label_is(fe, "slow_http")) && c.handshake &&
                 port_class(fe->dport) == PORT_CLASS_WEB)
            c.family = vt_http_family(fe, vt_label_is(fe, "slow_http"));
        else if (vt_label_is(fe, "portscan"))
            c.family = "portscan";
        else
            c.family = "tcp_flood";
    } else if (fe->proto == 17) {
        c.reflected = port_is_reflector(fe->sport) && !port_is_reflector(fe->dport);
        c.family = c.reflected ? "udp_amplification" : "udp_flood";
    } else if (fe->proto == 1 || fe->proto == 58) {
        c.icmp_error = vt_is_icmp_error(fe->proto, fe->icmp_type);
        c.family = "icmp_flood";
        if (c.icmp_error)
            c.attack = false; /* replies: evidence only through the rate rules' ICMP errors */
    } else {
        c.family = NULL; /* another protocol: the model's family, whatever it is */
    }
    if (!c.attack)
        c.family = "";
    c.heavy = c.attack && fe->packets >= VERDICT_HEAVY_PACKETS && fe->p_attack >= VERDICT_HEAVY_P;
    return c;
}

/* A multicast, broadcast or reserved destination (IPv4 224/3, IPv6 ff00::/8): a group, not a
 * host anyone can flood off the network or ban. */
static bool vt_group_addr(const uint8_t ip[16], uint8_t ver)
{
    return ver == 4 ? ip[0] >= 224 : ip[0] == 0xff;
}

/* ---- spoofed-source tallies ------------------------------------------------------------------ */

static uint64_t vt_addr_hash(const uint8_t ip[16], uint8_t ver, uint64_t key)
{
    uint64_t a, b;
    memcpy(&a, ip, 8);
    memcpy(&b, ip + 8, 8);
    return dd_hash_mix64(dd_hash_mix64(key ^ a ^ ((uint64_t)ver << 56)) ^ b);
}

static void vt_spoof_add(struct vt_spoof *sp, const uint8_t ip[16], uint8_t ver)
{
    uint64_t h = vt_addr_hash(ip, ver, VT_SPOOF_KEY);
    unsigned reg = (unsigned)(h & (VT_HLL - 1));
    uint64_t rest = h >> VT_HLL_BITS;
    uint8_t rank = 1;
    while (rank < 64 - VT_HLL_BITS && !(rest & 1)) {
        rank++;
        rest >>= 1;
    }
    if (rank > sp->reg[reg])
        sp->reg[reg] = rank;
    /* Bottom-k sample: keep the VT_EXAMPLES addresses of smallest hash (ties are the same
     * address: the full hash decides). */
    unsigned worst = 0;
    for (unsigned k = 0; k < VT_EXAMPLES; k++) {
        if (sp->ex_ver[k] == ver && sp->ex_h[k] == h && memcmp(sp->ex[k], ip, 16) == 0)
            return;
        if (!sp->ex_ver[k]) {
            worst = k;
            break;
        }
        if (sp->ex_h[k] > sp->ex_h[worst])
            worst = k;
    }
    if (sp->ex_ver[worst] && sp->ex_h[worst] <= h)
        return;
    sp->ex_ver[worst] = ver;
    sp->ex_h[worst] = h;
    memcpy(sp->ex[worst], ip, 16);
}

/* The HyperLogLog estimate, linear counting while registers are empty. */
static uint32_t vt_spoof_count(const struct vt_spoof *sp)
{
    double sum = 0;
    unsigned zeros = 0;
    for (unsigned k = 0; k < VT_HLL; k++) {
        sum += 1.0 / (double)(1ull << sp->reg[k]);
        zeros += sp->reg[k] == 0;
    }
    double m = VT_HLL, est = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
    if (est <= 2.5 * m && zeros)
        est = m * log(m / (double)zeros);
    /* Never fewer than the distinct examples held. */
    unsigned held = 0;
    for (unsigned k = 0; k < VT_EXAMPLES; k++)
        held += sp->ex_ver[k] != 0;
    if (est < held)
        est = held;
    return est > 4e9 ? UINT32_MAX : (uint32_t)(est + 0.5);
}

/* ---- windows and levels ------------------------------------------------------------------ */

/* Slides a role's window (and the victim-only counters with the victim role) to now_us. */
static void vt_roll(struct vt_role *r, struct vt_victim *vic, uint64_t now_us)
{
    uint64_t now_sec = now_us / VT_BUCKET_US;
    if (now_sec <= r->win_sec)
        return;
    if (now_sec - r->win_sec >= VT_BUCKETS) {
        r->reported = 0;
        memset(r->attacks, 0, sizeof(r->attacks));
        memset(r->maxp, 0, sizeof(r->maxp));
        memset(r->pkts, 0, sizeof(r->pkts));
        memset(r->bytes16, 0, sizeof(r->bytes16));
        memset(r->flows, 0, sizeof(r->flows));
        memset(r->flows_att, 0, sizeof(r->flows_att));
        memset(r->hits, 0, sizeof(r->hits));
        memset(r->blame, 0, sizeof(r->blame));
        r->heavy = 0;
        if (vic) {
            memset(vic->spoofed, 0, sizeof(vic->spoofed));
            memset(vic->reflected, 0, sizeof(vic->reflected));
            memset(vic->halfopen, 0, sizeof(vic->halfopen));
            memset(vic->ends, 0, sizeof(vic->ends));
            memset(vic->ends_att, 0, sizeof(vic->ends_att));
        }
    } else {
        for (uint64_t s = r->win_sec + 1; s <= now_sec; s++) {
            unsigned b = (unsigned)(s % VT_BUCKETS);
            r->reported &= (uint16_t) ~(1u << b);
            r->attacks[b] = 0;
            r->pkts[b] = r->bytes16[b] = 0;
            r->flows[b] = r->flows_att[b] = r->hits[b] = r->blame[b] = 0;
            r->maxp[b] = 0;
            r->heavy &= (uint16_t) ~(1u << b);
            if (vic)
                vic->spoofed[b] = vic->reflected[b] = vic->halfopen[b] = 0;
            if (vic)
                vic->ends[b] = vic->ends_att[b] = 0;
        }
    }
    r->win_sec = now_sec;
}

static inline bool vt_rate_active(const struct verdict_table *t, const struct vt_role *r)
{
    return r->rate_level > THREAT_LOW && t->now < r->alert_us + VERDICT_ALERT_HOLD_US;
}

static inline bool vt_report_active(const struct verdict_table *t, const struct vt_role *r)
{
    return r->report_level > THREAT_LOW && t->now < r->report_until_us;
}

/* The verdict's rates estimated from the scored flows' packets (pkts) and 16-byte units
 * (bytes16) in the window, over the window or over the time since the role's first evidence
 * when that is shorter (at least 1 s). */
static inline void vt_rate_estimate(const struct verdict_table *t, uint64_t first_seen_us,
                                    uint64_t pkts, uint64_t bytes16, struct vt_view *v)
{
    double span =
        first_seen_us && t->now > first_seen_us ? (double)(t->now - first_seen_us) / 1e6 : 1.0;
    double window = (double)VT_BUCKETS * (double)VT_BUCKET_US / 1e6;
    span = span < 1.0 ? 1.0 : span > window ? window : span;
    v->pps = (double)pkts / span;
    v->bps = (double)bytes16 * 16.0 * 8.0 / span;
}

/* The judgement of an absent or light role now: what vt_whole_view gives for its whole form
 * (low: no attack evidence, alert or report; rates estimated from its window as slid to now),
 * read from the light record without expanding it or writing anything. */
static struct vt_view vt_light_view(const struct verdict_table *t, const struct vt_entry *e,
                                    int role)
{
    struct vt_view v = {.attack = ""};
    if (e->ri[role] == VT_NONE)
        return v;
    const struct vt_lrole *lr = vt_rl(t, e, role);
    uint64_t now_sec = t->now / VT_BUCKET_US, win = lr->win_sec;
    /* The buckets vt_roll would clear to reach now_sec: all, or those of win + 1 .. now_sec. */
    unsigned cleared = 0;
    if (now_sec > win) {
        if (now_sec - win >= VT_BUCKETS)
            return v;
        for (uint64_t s = win + 1; s <= now_sec; s++)
            cleared |= 1u << (s % VT_BUCKETS);
    }
    uint64_t pkts = 0, bytes16 = 0;
    for (unsigned b = 0; b < VT_BUCKETS; b++) {
        if (cleared & (1u << b))
            continue;
        pkts += lr->pkts[b];
        bytes16 += lr->bytes16[b];
    }
    if (pkts) {
        uint64_t last = vt_light_last(lr);
        vt_rate_estimate(t, last - lr->first_back, pkts, bytes16, &v);
    }
    return v;
}

/* A whole role's judgement now (rolls its window). The rules are docs/verdicts.md's "Levels". */
static struct vt_view vt_whole_view(struct verdict_table *t, struct vt_entry *e, int role)
{
    struct vt_view v = {0};
    struct vt_role *r = vt_r(t, e, role);
    struct vt_victim *vic = role == VERDICT_ROLE_VICTIM ? vt_vic(t, e) : NULL;
    vt_roll(r, vic, t->now);
    uint64_t attacks = 0, pkts = 0, bytes16 = 0, flows = 0, flows_att = 0;
    uint64_t spoofed = 0, reflected = 0, halfopen = 0, hits = 0, blame = 0, ends = 0, ends_att = 0;
    float maxp = 0;
    for (unsigned b = 0; b < VT_BUCKETS; b++) {
        attacks += r->attacks[b];
        flows += r->flows[b];
        flows_att += r->flows_att[b];
        hits += r->hits[b];
        blame += r->blame[b];
        pkts += r->pkts[b];
        bytes16 += r->bytes16[b];
        if (r->maxp[b] > maxp)
            maxp = r->maxp[b];
        if (vic) {
            spoofed += vic->spoofed[b];
            reflected += vic->reflected[b];
            halfopen += vic->halfopen[b];
            ends += vic->ends[b];
            ends_att += vic->ends_att[b];
        }
    }
    /* A victim's flows are counted at their first report and again at their end; where the
     * ends show more attack flows (the model judged connections benign while young: an HTTP
     * flood's requests look like any other), the ends' count and share stand. */
    if (vic && ends_att > flows_att) {
        flows_att = ends_att;
        flows = ends;
    }
    v.attacks = attacks > UINT32_MAX ? UINT32_MAX : (uint32_t)attacks;
    v.live_evidence = attacks > 0 || spoofed > 0;
    if (vic && vic->spoof != VT_NONE)
        v.spoofed = vt_spoof_count(&t->spoofs[vic->spoof]);
    /* Model evidence: attack flows (never one alone) and their share of the role's flows; one
     * heavy flow is a flood by itself; a victim's many half-open or slow connections. */
    bool share = (double)flows_att >= t->min_fraction * (double)flows;
    /* An attacker is blamed at high only when its attack flows hit a victim that is itself at
     * high: half of high's flows (one for a heavy flow) arrived while their destination was.
     * A client whose flows to many servers the model misjudges (a P2P node, a resolver client,
     * a browser) hits no victim and stays medium. */
    bool hit = !vic ? hits >= (r->heavy ? 1u : (t->high_flows + 1) / 2) : true;
    /* An attacker's flows count only when they are evidence about it (vt_weigh.blame). */
    uint64_t counted = vic ? flows_att : blame;
    uint8_t model = THREAT_LOW;
    if (counted >= t->medium_flows && share)
        model = THREAT_MEDIUM;
    if (((counted >= t->high_flows && share) || r->heavy) && hit)
        model = THREAT_HIGH;
    /* A victim of a flood among much benign traffic (an HTTP flood on a busy web server): as
     * many attack flows as critical takes, at a lower share. */
    if (vic && flows_att >= t->critical_flows &&
        (double)flows_att >= t->volume_fraction * (double)flows && model < THREAT_HIGH)
        model = THREAT_HIGH;
    if (counted >= t->critical_flows && share && hit)
        model = THREAT_CRITICAL;
    bool halfopen_high = vic && halfopen >= t->half_open_reports;
    if (halfopen_high && model < THREAT_HIGH)
        model = THREAT_HIGH;
    if (model > THREAT_LOW) {
        v.reasons |= VERDICT_REASON_MODEL;
        v.score = maxp;
        if (vic) {
            /* What drives it: sources nobody blames, reflectors, half-open connections. */
            if (2 * (spoofed - reflected) >= flows_att && spoofed > reflected)
                v.reasons |= VERDICT_REASON_SPOOFED;
            if (reflected && 2 * reflected >= flows_att)
                v.reasons |= VERDICT_REASON_REFLECTION;
            if (halfopen_high || (halfopen && 2 * halfopen >= attacks))
                v.reasons |= VERDICT_REASON_HALF_OPEN;
        }
    }
    v.level = model;
    bool rate = vt_rate_active(t, r);
    if (rate) {
        if (r->rate_level > v.level)
            v.level = r->rate_level;
        v.reasons |= r->rate_reasons;
        if (r->rate_score > v.score)
            v.score = r->rate_score;
    }
    if (r->alert_us && t->now < r->alert_us + VERDICT_ALERT_HOLD_US) {
        v.pps = r->pps;
        v.bps = r->bps;
    } else if (pkts) {
        /* No rate alert: estimated from the scored flows. */
        vt_rate_estimate(t, r->first_seen_us, pkts, bytes16, &v);
    }
    if (vt_report_active(t, r)) {
        if (r->report_level > v.level)
            v.level = r->report_level;
        v.reasons |= VERDICT_REASON_REPORT;
    }
    v.attack = "";
    if (v.level > THREAT_LOW) {
        /* The most frequent family of the role's attack evidence: its attack flows since the
         * attack began, a live alert weighing as many as high takes. */
        uint64_t wrate = rate && r->rate_fam ? t->high_flows : 0, best_n = 0;
        uint8_t best = 0;
        for (unsigned i = 0; i < VT_FAMILIES && attacks > 0; i++) {
            if (!r->fam[i])
                continue;
            uint64_t n = r->fam_n[i] + (r->fam[i] == r->rate_fam ? wrate : 0);
            if (n > best_n) {
                best_n = n;
                best = r->fam[i];
            }
        }
        if (wrate > best_n)
            best = r->rate_fam;
        if (!best)
            best = r->report_fam;
        if (best) {
            v.attack = t->fam[best];
            v.attack_id = best;
        }
    }
    return v;
}

/* Any role's judgement now: a whole role's rolls its window (an evaluation's writes to a light
 * role's expansion were always thrown away, so a light role is read as it is). */
static inline struct vt_view vt_role_view(struct verdict_table *t, struct vt_entry *e, int role)
{
    return vt_whole(e, role) ? vt_whole_view(t, e, role) : vt_light_view(t, e, role);
}

static uint32_t vt_find(const struct verdict_table *t, const uint8_t ip[16], uint8_t ver);

/* The verdict of one role of an entry, from its view. */
static void vt_build(const struct verdict_table *t, const struct vt_entry *e, int role,
                     const struct vt_view *w, struct verdict *v)
{
    struct vt_seen_of r = vt_seen_of(t, e, role);
    memset(v, 0, sizeof(*v));
    memcpy(v->ip, e->ip, 16);
    v->ip_version = e->ver;
    v->role = (uint8_t)role;
    v->level = w->level;
    v->reasons = w->reasons;
    v->score = w->score;
    vt_type_copy(v->attack_type, w->attack); /* v is zeroed */
    v->flows_total = r.flows_total;
    v->flows_attack = r.flows_attack;
    v->pps = w->pps;
    v->bps = w->bps;
    v->first_seen_us = r.first_seen_us;
    v->last_seen_us = r.last_seen_us;
    memcpy(v->sensor, t->sensor, sizeof(v->sensor));
    if (r.has_model)
        memcpy(v->model_version, t->model_version, sizeof(v->model_version));
    if (role == VERDICT_ROLE_VICTIM && vt_spoof_of(t, e) != VT_NONE) {
        const struct vt_spoof *sp = &t->spoofs[vt_spoof_of(t, e)];
        uint32_t count = w->spoofed;
        /* Examples in address order, so that a verdict does not change with hash order. A
         * sample that proved to be a real sender since (its first flow was counted before it
         * had an entry) is neither an example nor counted. */
        unsigned n = 0;
        for (unsigned k = 0; k < VT_EXAMPLES; k++) {
            if (!sp->ex_ver[k])
                continue;
            uint32_t x = vt_find(t, sp->ex[k], sp->ex_ver[k]);
            if (x != VT_NONE && vt_level(t, &t->e[x], VERDICT_ROLE_ATTACKER) >= THREAT_MEDIUM) {
                count = count ? count - 1 : 0;
                continue;
            }
            unsigned at = n++;
            while (at > 0 && (v->spoofed_example_ver[at - 1] > sp->ex_ver[k] ||
                              (v->spoofed_example_ver[at - 1] == sp->ex_ver[k] &&
                               memcmp(v->spoofed_example[at - 1], sp->ex[k], 16) > 0))) {
                v->spoofed_example_ver[at] = v->spoofed_example_ver[at - 1];
                memcpy(v->spoofed_example[at], v->spoofed_example[at - 1], 16);
                at--;
            }
            v->spoofed_example_ver[at] = sp->ex_ver[k];
            memcpy(v->spoofed_example[at], sp->ex[k], 16);
        }
        v->spoofed_sources = count;
    }
}

static uint64_t vt_entry_last_seen(const struct verdict_table *t, const struct vt_entry *e)
{
    uint64_t a = vt_last_seen(t, e, 0), b = vt_last_seen(t, e, 1);
    return a > b ? a : b;
}

/* The IP's verdict as published: its role's verdict, seen from the first evidence in either
 * role to the last. */
static void vt_build_published(const struct verdict_table *t, const struct vt_entry *e, int role,
                               const struct vt_view *w, struct verdict *v)
{
    vt_build(t, e, role, w, v);
    struct vt_seen_of o = vt_seen_of(t, e, role ^ 1);
    if (o.first_seen_us && (!v->first_seen_us || o.first_seen_us < v->first_seen_us))
        v->first_seen_us = o.first_seen_us;
    if (o.last_seen_us > v->last_seen_us)
        v->last_seen_us = o.last_seen_us;
}

/* ---- entries ------------------------------------------------------------------------------- */

static void vt_mark_dirty(struct verdict_table *t, uint32_t i)
{
    if (!t->e[i].dirty) {
        t->e[i].dirty = 1;
        t->dirty[t->ndirty++] = i;
    }
}

/* What the entry published last (zero when nothing). */
static void vt_pub_load(const struct verdict_table *t, const struct vt_entry *e, struct vt_pub *p)
{
    p->pps = e->pub_pps;
    p->bps = e->pub_bps;
    p->last_seen = e->pub_last_seen;
    if (e->x != VT_NONE) {
        const struct vt_ext *x = &t->xs[e->x];
        p->attack = x->pub_attack;
        p->reasons = x->pub_reasons;
        p->spoofed = x->pub_spoofed;
        p->score = x->pub_score;
        p->flows_total = x->pub_flows_total;
        p->flows_attack = x->pub_flows_attack;
        p->us = x->pub_us;
    } else {
        p->attack = 0;
        p->reasons = p->spoofed = 0;
        p->score = 0;
        p->flows_total = e->pub_flows_total;
        p->flows_attack = 0;
        p->us = e->pub_last_seen + (uint64_t)(int64_t)e->pub_age;
    }
}

/* The entry's extension record, taken from its pool when it has none (never fails: the pool
 * has a record for every entry); what the entry published moves into it. */
static struct vt_ext *vt_ext_need(struct verdict_table *t, struct vt_entry *e)
{
    if (e->x == VT_NONE) {
        struct vt_pub p;
        vt_pub_load(t, e, &p);
        e->x = t->xnfree ? t->xfree[--t->xnfree] : t->xhigh++;
        struct vt_ext *x = &t->xs[e->x];
        memset(x, 0, sizeof(*x));
        x->wprev = x->wnext = VT_NONE;
        x->pub_flows_total = p.flows_total;
        x->pub_us = p.us;
    }
    return &t->xs[e->x];
}

static void vt_ext_free(struct verdict_table *t, struct vt_entry *e)
{
    if (e->x != VT_NONE)
        t->xfree[t->xnfree++] = e->x;
    e->x = VT_NONE;
}

/* Records what the entry published, in the entry alone when it fits (vt_pub_load gives back
 * exactly *p either way), else in its extension record. */
static void vt_pub_store(struct verdict_table *t, struct vt_entry *e, const struct vt_pub *p)
{
    int64_t age = (int64_t)(p->us - p->last_seen);
    bool fits = p->attack == 0 && p->reasons == 0 && p->spoofed == 0 && p->score == 0 &&
                p->flows_attack == 0 && p->flows_total <= UINT32_MAX && age >= INT32_MIN &&
                age <= INT32_MAX;
    e->pub_pps = p->pps;
    e->pub_bps = p->bps;
    e->pub_last_seen = p->last_seen;
    if (fits && e->x == VT_NONE) {
        e->pub_flows_total = (uint32_t)p->flows_total;
        e->pub_age = (int32_t)age;
        return;
    }
    struct vt_ext *x = vt_ext_need(t, e);
    x->pub_attack = p->attack;
    x->pub_reasons = p->reasons;
    x->pub_spoofed = p->spoofed;
    x->pub_score = p->score;
    x->pub_flows_total = p->flows_total;
    x->pub_flows_attack = p->flows_attack;
    x->pub_us = p->us;
}

static void vt_wheel_remove(struct verdict_table *t, uint32_t i)
{
    struct vt_entry *e = &t->e[i];
    if (e->x == VT_NONE)
        return;
    struct vt_ext *x = &t->xs[e->x];
    if (!x->due_sec)
        return;
    if (x->wprev != VT_NONE)
        t->xs[t->e[x->wprev].x].wnext = x->wnext;
    else
        t->wheel[x->due_sec % VT_WHEEL] = x->wnext;
    if (x->wnext != VT_NONE)
        t->xs[t->e[x->wnext].x].wprev = x->wprev;
    x->due_sec = 0;
}

static void vt_wheel_insert(struct verdict_table *t, uint32_t i, uint64_t due_us)
{
    uint64_t sec = (due_us + VT_SEC - 1) / VT_SEC;
    if (sec <= t->wheel_sec)
        sec = t->wheel_sec + 1;
    struct vt_ext *x = vt_ext_need(t, &t->e[i]);
    uint32_t *slot = &t->wheel[sec % VT_WHEEL];
    x->due_sec = sec;
    x->wprev = VT_NONE;
    x->wnext = *slot;
    if (*slot != VT_NONE)
        t->xs[t->e[*slot].x].wprev = i;
    *slot = i;
}

static uint32_t vt_find(const struct verdict_table *t, const uint8_t ip[16], uint8_t ver)
{
    for (uint32_t i = t->heads[vt_bucket(t, ip, ver)]; i != VT_NONE; i = t->e[i].hnext)
        if (t->e[i].ver == ver && memcmp(t->e[i].ip, ip, 16) == 0)
            return i;
    return VT_NONE;
}

static void vt_peer_note(struct vt_episode *ep, const uint8_t ip[16], uint8_t ver, bool count);

/* Builds the ATTACK_END verdict of a role's episode into its record. */
static void vt_episode_close(struct verdict_table *t, struct vt_entry *e, int role,
                             const struct vt_view *w)
{
    struct vt_role *r = vt_r(t, e, role);
    if (r->ep_state == VT_EP_TRACKED) {
        struct vt_episode *ep = &t->eps[r->ep];
        vt_build(t, e, role, w, &ep->endv);
        ep->endv.pps = ep->peak_pps;
        ep->endv.bps = ep->peak_bps;
        ep->endv.first_seen_us = ep->start_us;
        /* The end event names what ended: the episode's peak level and its attack type (the
         * role itself has fallen back to low or medium by now). */
        if (ep->peak_level > ep->endv.level)
            ep->endv.level = ep->peak_level;
        /* ... and why: the reasons and the strongest score it had while at high or above (the
         * role's own have faded with its evidence by now: score 0, no reasons). */
        ep->endv.reasons |= ep->reasons;
        if (ep->peak_score > ep->endv.score)
            ep->endv.score = ep->peak_score;
        if (!ep->endv.attack_type[0])
            memcpy(ep->endv.attack_type, ep->startv.attack_type, sizeof(ep->endv.attack_type));
        ep->end_pending = 1;
        ep->entry = VT_NONE;
        t->events_due = true;
    }
    r->ep_state = VT_EP_NONE;
    r->ep = VT_NONE;
    r->below_since_us = 0;
    t->st.episodes_active--;
}

static void vt_episode_free(struct verdict_table *t, uint32_t k)
{
    t->eps[k].used = 0;
    t->ep_free[t->ep_nfree++] = k;
}

/* The victim's spoofed-source tally, taken from the pool on first use; NULL (counted) when the
 * pool is empty. */
static struct vt_spoof *vt_spoof_get(struct verdict_table *t, uint32_t i)
{
    struct vt_entry *e = &t->e[i];
    vt_rneed(t, e, VERDICT_ROLE_VICTIM, true); /* an attack flow's victim: a whole role */
    struct vt_victim *vic = vt_vic(t, e);
    if (vic->spoof != VT_NONE)
        return &t->spoofs[vic->spoof];
    if (t->spoof_nfree == 0) {
        t->st.spoofed_untracked++;
        return NULL;
    }
    uint32_t k = t->spoof_free[--t->spoof_nfree];
    struct vt_spoof *sp = &t->spoofs[k];
    memset(sp, 0, sizeof(*sp));
    sp->entry = i;
    vic->spoof = k;
    return sp;
}

static void vt_spoof_release(struct verdict_table *t, struct vt_entry *e)
{
    if (!vt_whole(e, VERDICT_ROLE_VICTIM))
        return;
    struct vt_victim *vic = vt_vic(t, e);
    if (vic->spoof == VT_NONE)
        return;
    t->spoofs[vic->spoof].entry = VT_NONE;
    t->spoof_free[t->spoof_nfree++] = vic->spoof;
    vic->spoof = VT_NONE;
}

/* Forgets entry i: ends or cancels its episodes, hands its last verdict to `gone` (NULL: the
 * caller announces it) and frees the slot. */
static void vt_forget(struct verdict_table *t, uint32_t i, struct verdict *gone)
{
    struct vt_entry *e = &t->e[i];
    struct vt_view w[VT_ROLES];
    for (int role = 0; role < VT_ROLES; role++) {
        w[role] = vt_role_view(t, e, role);
        if (!vt_whole(e, role))
            continue; /* no episode */
        struct vt_role *r = vt_r(t, e, role);
        if (r->ep_state == VT_EP_TRACKED && !t->eps[r->ep].start_emitted) {
            /* Never announced: drop it silently. */
            vt_episode_free(t, r->ep);
            r->ep_state = VT_EP_NONE;
            t->st.episodes_active--;
        } else if (r->ep_state != VT_EP_NONE) {
            vt_episode_close(t, e, role, &w[role]);
        }
    }
    if (e->published) {
        if (gone)
            vt_build(t, e, e->pub_role, &w[e->pub_role], gone);
        t->st.by_level[e->pub_level]--;
    }
    vt_spoof_release(t, e);
    vt_roles_free(t, e);
    vt_wheel_remove(t, i);
    vt_ext_free(t, e);
    uint32_t *p = &t->heads[vt_bucket(t, e->ip, e->ver)];
    while (*p != i)
        p = &t->e[*p].hnext;
    *p = e->hnext;
    e->used = 0;
    e->published = 0;
    e->hnext = t->free_head;
    t->free_head = i;
    t->st.ips--;
}

/* Full table: evicts the lowest-level, least recently touched of VT_SAMPLE consecutive entries
 * from a random slot (never `pin`) and queues its expired callback. */
static void vt_evict(struct verdict_table *t, uint32_t pin)
{
    uint32_t best = VT_NONE, start = (uint32_t)(vt_rand(t) % t->cap);
    for (uint32_t k = 0; k < t->cap && (k < VT_SAMPLE || best == VT_NONE); k++) {
        uint32_t i = (start + k) % t->cap;
        struct vt_entry *e = &t->e[i];
        if (i == pin || !e->used)
            continue;
        uint8_t l0 = vt_level(t, e, 0), l1 = vt_level(t, e, 1);
        uint8_t lvl = l0 > l1 ? l0 : l1;
        const struct vt_entry *b = best == VT_NONE ? NULL : &t->e[best];
        uint8_t blvl = 0;
        if (b) {
            uint8_t b0 = vt_level(t, b, 0), b1 = vt_level(t, b, 1);
            blvl = b0 > b1 ? b0 : b1;
        }
        if (!b || lvl < blvl || (lvl == blvl && e->touched_us < b->touched_us))
            best = i;
    }
    struct verdict v;
    bool announce = t->e[best].published;
    vt_forget(t, best, &v);
    t->st.evictions++;
    if (announce && t->gone_cap) {
        if (t->gone_n == t->gone_cap) { /* overwrite the oldest notice: a later one matters more */
            t->gone_head = (t->gone_head + 1) % t->gone_cap;
            t->gone_n--;
        }
        t->gone[(t->gone_head + t->gone_n) % t->gone_cap] = v;
        t->gone_n++;
    }
}

/* The entry of an address, created (evicting when full, never `pin`) when absent. */
static uint32_t vt_get(struct verdict_table *t, const uint8_t ip[16], uint8_t ver, uint32_t pin)
{
    uint32_t i = vt_find(t, ip, ver);
    if (i != VT_NONE)
        return i;
    if (t->free_head == VT_NONE && t->high == t->cap) {
        if (t->cap < 2 && pin != VT_NONE)
            return VT_NONE;
        vt_evict(t, pin);
    }
    if (t->free_head != VT_NONE) {
        i = t->free_head;
        t->free_head = t->e[i].hnext;
    } else {
        i = t->high++;
    }
    struct vt_entry *e = &t->e[i];
    uint8_t dirty = e->dirty;
    memset(e, 0, sizeof(*e));
    e->dirty = dirty;
    memcpy(e->ip, ip, 16);
    e->ver = ver;
    e->used = 1;
    e->x = VT_NONE;
    e->ri[0] = e->ri[1] = VT_NONE;
    uint32_t b = vt_bucket(t, ip, ver);
    e->hnext = t->heads[b];
    t->heads[b] = i;
    t->st.ips++;
    return i;
}

/* ---- episodes ------------------------------------------------------------------------------ */

static void vt_peer_note(struct vt_episode *ep, const uint8_t ip[16], uint8_t ver, bool count)
{
    for (uint32_t i = 0; i < ep->npeers; i++) {
        if (ep->peers[i].ip_version == ver && memcmp(ep->peers[i].ip, ip, 16) == 0) {
            if (count)
                ep->peers[i].flows++;
            return;
        }
    }
    struct redis_sink_peer *p;
    uint64_t flows = 1;
    if (ep->npeers < VT_PEERS) {
        p = &ep->peers[ep->npeers++];
    } else { /* space-saving: the newcomer inherits the smallest count, plus one */
        p = &ep->peers[0];
        for (uint32_t i = 1; i < VT_PEERS; i++)
            if (ep->peers[i].flows < p->flows)
                p = &ep->peers[i];
        flows = p->flows + 1;
    }
    memset(p, 0, sizeof(*p));
    memcpy(p->ip, ip, 16);
    p->ip_version = ver;
    p->flows = flows;
}

static void vt_peaks(struct vt_episode *ep, double pps, double bps)
{
    if (pps > ep->peak_pps)
        ep->peak_pps = pps;
    if (bps > ep->peak_bps)
        ep->peak_bps = bps;
}

/* A tracked episode's level moved: remember the verdict for a LEVEL_CHANGE event at the next
 * tick (several moves before it are one event from the first level to the last). */
static void vt_level_note(struct verdict_table *t, const struct vt_entry *e, int role,
                          const struct vt_view *w, struct vt_episode *ep)
{
    if (!ep->level_pending) {
        ep->level_prev = ep->level;
        ep->level_pending = 1;
    }
    ep->level = w->level;
    vt_build(t, e, role, w, &ep->levelv);
    t->events_due = true;
}

/* Starts or keeps the role's episode at `level`; ends it when it stayed below high for
 * attack_end_us (`may_end`: evaluation only). */
static void vt_episode_check(struct verdict_table *t, uint32_t i, int role, const struct vt_view *w,
                             bool may_end)
{
    struct vt_entry *e = &t->e[i];
    struct vt_role *r = vt_r(t, e, role);
    if (r->ep_state == VT_EP_TRACKED && t->eps[r->ep].level != w->level)
        vt_level_note(t, e, role, w, &t->eps[r->ep]);
    if (w->level >= THREAT_HIGH) {
        r->below_since_us = 0;
        if (r->ep_state != VT_EP_NONE) {
            if (r->ep_state == VT_EP_TRACKED) {
                struct vt_episode *ep = &t->eps[r->ep];
                vt_peaks(ep, w->pps, w->bps);
                if (w->level > ep->peak_level)
                    ep->peak_level = w->level;
                ep->reasons |= w->reasons;
                if (w->score > ep->peak_score)
                    ep->peak_score = w->score;
                if (!ep->startv.attack_type[0] && w->attack[0])
                    snprintf(ep->startv.attack_type, sizeof(ep->startv.attack_type), "%s",
                             w->attack);
            }
            return;
        }
        t->st.episodes_active++;
        if (t->ep_nfree == 0) {
            r->ep_state = VT_EP_UNTRACKED;
            t->st.episodes_untracked++;
            return;
        }
        uint32_t k = t->ep_free[--t->ep_nfree];
        struct vt_episode *ep = &t->eps[k];
        memset(ep, 0, sizeof(*ep));
        ep->used = 1;
        ep->entry = i;
        ep->role = (uint8_t)role;
        ep->start_us = r->attack_since_us ? r->attack_since_us : t->now;
        ep->start_pending = 1;
        ep->peak_level = w->level;
        ep->reasons = w->reasons;
        ep->peak_score = w->score;
        ep->level = w->level;
        /* The start event describes the role as it was when the episode began. */
        vt_build(t, e, role, w, &ep->startv);
        vt_peaks(ep, w->pps, w->bps);
        if (r->last_peer_ver)
            vt_peer_note(ep, r->last_peer, r->last_peer_ver, true);
        r->ep_state = VT_EP_TRACKED;
        r->ep = k;
        t->events_due = true;
        return;
    }
    if (r->ep_state == VT_EP_NONE || !may_end)
        return;
    if (!r->below_since_us)
        r->below_since_us = t->now;
    if (t->now - r->below_since_us >= t->attack_end_us)
        vt_episode_close(t, e, role, w);
}

/* ---- evidence -------------------------------------------------------------------------------- */

static void vt_seen(struct vt_role *r, uint64_t first_us, uint64_t last_us)
{
    if (first_us && (!r->first_seen_us || first_us < r->first_seen_us))
        r->first_seen_us = first_us;
    if (!r->first_seen_us)
        r->first_seen_us = last_us;
    if (last_us > r->last_seen_us)
        r->last_seen_us = last_us;
}

/* How one flow report weighs for one role (vt_flow_role). */
struct vt_weigh {
    bool attack;    /* an attack flow of this role */
    bool neutral;   /* not a flow of this role's (an ICMP error towards a victim) */
    bool spoofed;   /* victim: its source is not blamed */
    bool reflected; /* victim: ... because it is a reflector */
    bool halfopen;  /* victim: a half-open or slow attack connection, still open */
    bool peer;      /* list the peer in the role's episode */
    bool blame;     /* attacker: evidence about this very source (a handshake, a heavy flow, or
                       a fair share of its victim's attack: not one address among thousands) */
    uint16_t seed;  /* attacker: earlier attack flows the sketch saw before the entry existed */
};

static void vt_flow_role(struct verdict_table *t, uint32_t i, int role,
                         const struct flow_evidence *fe, const struct vt_class *c,
                         const struct vt_weigh *wg, const uint8_t *peer)
{
    struct vt_entry *e = &t->e[i];
    /* Attack evidence of any kind needs the whole role; a benign flow does with a light one. */
    bool whole = wg->attack || wg->spoofed || wg->reflected || wg->halfopen || wg->seed;
    struct vt_role *r = vt_rneed(t, e, role, whole);
    struct vt_victim *vic = role == VERDICT_ROLE_VICTIM ? vt_vic(t, e) : NULL;
    vt_roll(r, vic, t->now);
    r->has_model = 1;
    vt_seen(r, fe->first_us, fe->last_us ? fe->last_us : t->now);
    if (fe->final) {
        r->flows_total++;
        if (wg->attack)
            r->flows_attack++;
    }
    /* Evidence weighs in the second its packets were seen, not the second it arrived: a flow
     * that ended on its idle timeout (or was flushed at shutdown) long after its last packet is
     * counted, but no longer raises the level. */
    uint64_t ev_sec = (fe->last_us ? fe->last_us : t->now) / VT_BUCKET_US;
    if (ev_sec > r->win_sec)
        ev_sec = r->win_sec;
    if (ev_sec + VT_BUCKETS <= r->win_sec) {
        t->st.stale++;
        vt_rcommit(t, e, role);
        e->touched_us = t->now;
        vt_mark_dirty(t, i);
        return;
    }
    unsigned b = (unsigned)(ev_sec % VT_BUCKETS);
    r->reported |= (uint16_t)(1u << b);
    if (fe->first_report && !wg->neutral) {
        uint32_t nf = r->flows[b] + 1u + wg->seed, na = r->flows_att[b] + (wg->attack ? 1u : 0u);
        if (wg->attack)
            na += wg->seed;
        r->flows[b] = nf > UINT16_MAX ? UINT16_MAX : (uint16_t)nf;
        r->flows_att[b] = na > UINT16_MAX ? UINT16_MAX : (uint16_t)na;
        if (wg->attack && wg->blame) {
            uint32_t nl = r->blame[b] + 1u + wg->seed;
            r->blame[b] = nl > UINT16_MAX ? UINT16_MAX : (uint16_t)nl;
        }
        if (vic && wg->spoofed && vic->spoofed[b] < UINT16_MAX)
            vic->spoofed[b]++;
        if (vic && wg->reflected && vic->reflected[b] < UINT16_MAX)
            vic->reflected[b]++;
    }
    if (vic && wg->halfopen && vic->halfopen[b] < UINT16_MAX)
        vic->halfopen[b]++;
    if (vic && fe->final && !wg->neutral) {
        if (vic->ends[b] < UINT16_MAX)
            vic->ends[b]++;
        if (wg->attack && vic->ends_att[b] < UINT16_MAX)
            vic->ends_att[b]++;
    }
    uint64_t np = r->pkts[b] + fe->new_packets, nb = r->bytes16[b] + fe->new_bytes / 16u;
    r->pkts[b] = np > UINT32_MAX ? UINT32_MAX : (uint32_t)np;
    r->bytes16[b] = nb > UINT32_MAX ? UINT32_MAX : (uint32_t)nb;
    if (wg->attack) {
        if (r->attacks[b] < UINT32_MAX)
            r->attacks[b]++;
        if (fe->p_attack > r->maxp[b])
            r->maxp[b] = fe->p_attack;
        if (c->heavy)
            r->heavy |= (uint16_t)(1u << b);
        uint8_t f = vt_family(t, c->family ? c->family : fe->attack_type);
        /* A flow votes for its family at its first report and at its end (a flow judged
         * benign while young votes when it ends as an attack); an HTTP connection votes again
         * whenever its timing is conclusive (when young, a slow one looks like any request). */
        bool late_http =
            !fe->first_report && c->family &&
            (strcmp(c->family, "slow_http") == 0 || strcmp(c->family, "http_flood") == 0) &&
            fe->last_us >= fe->first_us + VT_SLOW_MIN_US;
        if (f && (fe->first_report || late_http || fe->final)) {
            unsigned slot = VT_FAMILIES, min = 0;
            for (unsigned k = 0; k < VT_FAMILIES && slot == VT_FAMILIES; k++)
                if (r->fam[k] == f || r->fam[k] == 0)
                    slot = k;
            if (slot == VT_FAMILIES) { /* space-saving over the few slots */
                for (unsigned k = 1; k < VT_FAMILIES; k++)
                    if (r->fam_n[k] < r->fam_n[min])
                        min = k;
                slot = min;
            }
            if (r->fam[slot] != f) {
                r->fam[slot] = f;
                /* r->fam_n[slot] keeps the evicted count (space-saving); 0 for a free slot */
            }
            r->fam_n[slot] += 1u + wg->seed;
        }
        if (!r->attack_since_us) {
            uint64_t since = fe->first_us;
            uint64_t floor = t->now > VERDICT_WINDOW_US ? t->now - VERDICT_WINDOW_US : 0;
            if (!since || since < floor)
                since = floor;
            r->attack_since_us = since > t->now ? t->now : since;
        }
        if (wg->peer) {
            if (r->ep_state == VT_EP_TRACKED)
                vt_peer_note(&t->eps[r->ep], peer, fe->ip_version, fe->final);
            memcpy(r->last_peer, peer, 16);
            r->last_peer_ver = fe->ip_version;
        }
        struct vt_view w = vt_role_view(t, e, role);
        r->level = w.level;
        vt_episode_check(t, i, role, &w, false);
    }
    vt_rcommit(t, e, role);
    e->touched_us = t->now;
    vt_mark_dirty(t, i);
}

/* Attack flows of sources without an entry, per source (count-min over VT_SKETCH_ROWS rows, cleared
 * every window). Adds one when `add`; returns the estimate (an upper bound). */
static unsigned vt_sketch(struct verdict_table *t, const uint8_t ip[16], uint8_t ver, bool add)
{
    uint64_t epoch = t->now / VERDICT_WINDOW_US;
    if (epoch != t->sketch_epoch) {
        memset(t->sketch, 0, sizeof(t->sketch));
        t->sketch_epoch = epoch;
    }
    uint64_t h = vt_addr_hash(ip, ver, VT_SKETCH_KEY);
    unsigned est = UINT8_MAX;
    for (unsigned k = 0; k < VT_SKETCH_ROWS; k++) {
        uint8_t *c = &t->sketch[k][(h >> (16 * k)) % VT_SKETCH];
        if (add && *c < UINT8_MAX)
            (*c)++;
        if (*c < est)
            est = *c;
    }
    return est;
}

/* Counts an attacker's attack flow as corroborated (its destination is at high as a victim) and
 * re-judges the attacker. */
static void vt_attacker_hit(struct verdict_table *t, uint32_t a, const struct flow_evidence *fe)
{
    struct vt_entry *e = &t->e[a];
    struct vt_role *r = vt_rneed(t, e, VERDICT_ROLE_ATTACKER, true); /* whole: it sent the flow */
    /* Flows are counted once, at their first report; a heavy flow's snapshot counts too when
     * the window has no hit yet (its first report came before it was heavy). */
    bool any = false;
    for (unsigned k = 0; k < VT_BUCKETS && !any; k++)
        any = r->hits[k] != 0;
    if (!fe->first_report && !(fe->packets >= VERDICT_HEAVY_PACKETS && !any))
        return;
    uint64_t ev_sec = (fe->last_us ? fe->last_us : t->now) / VT_BUCKET_US;
    if (ev_sec > r->win_sec)
        ev_sec = r->win_sec;
    if (ev_sec + VT_BUCKETS <= r->win_sec)
        return;
    unsigned b = (unsigned)(ev_sec % VT_BUCKETS);
    if (r->hits[b] < UINT16_MAX)
        r->hits[b]++;
    struct vt_view w = vt_role_view(t, e, VERDICT_ROLE_ATTACKER);
    r->level = w.level;
    vt_episode_check(t, a, VERDICT_ROLE_ATTACKER, &w, false);
}

/* Attack flows from src to dst in the last one to two windows (count-min upper bound); adds one
 * when `add`. */
static unsigned vt_pair(struct verdict_table *t, const struct flow_evidence *fe, bool add)
{
    uint64_t epoch = t->now / VERDICT_WINDOW_US;
    if (epoch != t->pair_epoch) {
        if (epoch == t->pair_epoch + 1) {
            t->pair_cur ^= 1u;
            memset(t->pair[t->pair_cur], 0, sizeof(t->pair[0]));
        } else {
            memset(t->pair, 0, sizeof(t->pair));
        }
        t->pair_epoch = epoch;
    }
    uint64_t h = dd_hash_mix64(vt_addr_hash(fe->src, fe->ip_version, VT_PAIR_KEY) ^
                               vt_addr_hash(fe->dst, fe->ip_version, VT_PAIR_KEY ^ 1));
    unsigned est = UINT32_MAX;
    for (unsigned k = 0; k < VT_SKETCH_ROWS; k++) {
        size_t at = (h >> (16 * k)) % VT_SKETCH;
        uint16_t *c = &t->pair[t->pair_cur][k][at];
        if (add && *c < UINT16_MAX)
            (*c)++;
        unsigned n = (unsigned)*c + t->pair[t->pair_cur ^ 1u][k][at];
        if (n < est)
            est = n;
    }
    return est;
}

/* True when the attacker role of entry i has evidence about this very source: a concentrated
 * sender (high_flows attack flows with their share, a heavy flow) or its own rate alert. */
static bool vt_source_proven(const struct verdict_table *t, const struct vt_entry *e)
{
    /* An absent or light role has no attack flow, no alert: never proven. */
    if (!vt_whole(e, VERDICT_ROLE_ATTACKER))
        return false;
    const struct vt_role *r = vt_rw(t, e, VERDICT_ROLE_ATTACKER);
    if (r->heavy || vt_rate_active(t, r))
        return true;
    uint64_t flows = 0, att = 0, blame = 0;
    for (unsigned b = 0; b < VT_BUCKETS; b++) {
        flows += r->flows[b];
        att += r->flows_att[b];
        blame += r->blame[b];
    }
    return blame >= t->high_flows && (double)att >= t->min_fraction * (double)flows;
}

/* Attack flows of a role in its window. */
static uint64_t vt_att_flows(const struct vt_role *r)
{
    uint64_t n = 0;
    for (unsigned b = 0; b < VT_BUCKETS; b++)
        n += r->flows_att[b];
    return n;
}

void verdict_table_flow(struct verdict_table *t, const struct flow_evidence *fe)
{
    t->st.flows_in++;
    if (fe->ip_version != 4 && fe->ip_version != 6)
        return;
    vt_clock(t, fe->emit_us ? fe->emit_us : fe->last_us);
    struct vt_class c = vt_classify(t, fe);
    if (vt_group_addr(fe->dst, fe->ip_version)) {
        /* Flows to a group (multicast streams, discovery chatter) blame nobody. */
        c.attack = c.heavy = false;
        c.family = "";
    }
    uint32_t a = VT_NONE, v = VT_NONE;
    uint16_t seed = 0;
    /* The source: an entry unless this flow is attack evidence that cannot be pinned on it (a
     * reply, a reflector's answer, or an unproven source's first flow). */
    bool src_wl = vt_whitelisted(t, VERDICT_ROLE_ATTACKER, fe->ip_version, fe->src);
    if (src_wl) {
        t->st.whitelisted++;
    } else if (c.icmp_error || (c.attack && c.reflected)) {
        a = vt_find(t, fe->src, fe->ip_version);
    } else if (c.attack && !c.handshake && !c.heavy) {
        a = vt_find(t, fe->src, fe->ip_version);
        if (a == VT_NONE) {
            unsigned n = vt_sketch(t, fe->src, fe->ip_version, fe->first_report);
            if (n >= VERDICT_UNJUDGED_ENTRY && fe->first_report) {
                a = vt_get(t, fe->src, fe->ip_version, VT_NONE);
                seed = VERDICT_UNJUDGED_ENTRY - 1;
            }
        }
    } else {
        a = vt_get(t, fe->src, fe->ip_version, VT_NONE);
    }
    if (c.attack && a == VT_NONE && !src_wl)
        t->st.unjudged_sources++;
    /* How many attack flows this source sent to this destination lately. */
    unsigned pair = c.attack && !c.reflected ? vt_pair(t, fe, fe->first_report) : 0;
    bool vt_whitelisted_dst = vt_whitelisted(t, VERDICT_ROLE_VICTIM, fe->ip_version, fe->dst);
    if (vt_whitelisted_dst)
        t->st.whitelisted++;
    else
        v = vt_get(t, fe->dst, fe->ip_version, a);
    bool proven = false, blamed = false;
    if (a != VT_NONE) {
        /* Blame: a handshake or a heavy flow is about this source; otherwise its attack flows
         * to this destination must be a fair share (source_min_share) of the destination's: a
         * few real senders are, one address among thousands drawn from a pool is not (nor is
         * one that sprays a whole network, a carpet bombing's spoofed source). */
        bool blame = c.handshake || c.heavy || v == VT_NONE;
        if (!blame) {
            /* (an absent or light victim role has no attack flow) */
            double theirs = 1;
            if (vt_whole(&t->e[v], VERDICT_ROLE_VICTIM)) {
                struct vt_role *rv = vt_r(t, &t->e[v], VERDICT_ROLE_VICTIM);
                vt_roll(rv, vt_vic(t, &t->e[v]), t->now);
                theirs += (double)vt_att_flows(rv);
            }
            /* ... and never before it sent half of high's flows to it: at an attack's onset
             * every source is a large share of the little seen so far. */
            double need = t->source_min_share * theirs, least = (t->high_flows + 1) / 2;
            blame = (double)pair >= (need > least ? need : least);
        }
        struct vt_weigh wa = {
            .attack = c.attack && !c.reflected, .seed = seed, .peer = true, .blame = blame};
        vt_flow_role(t, a, VERDICT_ROLE_ATTACKER, fe, &c, &wa, fe->dst);
        blamed = blame;
        proven = c.handshake || vt_source_proven(t, &t->e[a]);
    }
    if (v == VT_NONE) {
        /* A whitelisted destination is never judged: its sources are blamed on their own
         * concentration alone. */
        if (a != VT_NONE && c.attack && !c.reflected && vt_whitelisted_dst)
            vt_attacker_hit(t, a, fe);
        return;
    }
    /* Not blamed: a reflector, or an unproven source. Counted among the victim's spoofed
     * sources when it looks like one: a reflector, or a handful of packets from a source that
     * this flow does not blame (no entry yet, or a sliver of the victim's attack). */
    bool unjudged = c.attack && (c.reflected || !proven);
    bool tally = c.attack && !src_wl &&
                 (c.reflected || (!blamed && !c.handshake && fe->fwd_packets <= VT_SPOOF_PKTS));
    struct vt_weigh wv = {
        .attack = c.attack,
        .neutral = c.icmp_error,
        .spoofed = tally,
        .reflected = c.attack && c.reflected,
        .halfopen = c.attack && (fe->first_report || !fe->final) &&
                    (c.halfopen || (c.family && strcmp(c.family, "slow_http") == 0)),
        .peer = !unjudged,
    };
    if (tally) {
        struct vt_spoof *sp = vt_spoof_get(t, v);
        if (sp)
            vt_spoof_add(sp, fe->src, fe->ip_version);
    }
    vt_flow_role(t, v, VERDICT_ROLE_VICTIM, fe, &c, &wv, fe->src);
    if (a != VT_NONE && c.attack && !c.reflected &&
        vt_level(t, &t->e[v], VERDICT_ROLE_VICTIM) >= THREAT_HIGH)
        vt_attacker_hit(t, a, fe);
}

void verdict_table_alert(struct verdict_table *t, const struct rate_alert *a)
{
    t->st.alerts_in++;
    if ((a->version != 4 && a->version != 6) || a->role >= VT_ROLES)
        return;
    vt_clock(t, a->ts_us);
    if (vt_whitelisted(t, a->role, a->version, a->ip) ||
        (a->role == VERDICT_ROLE_VICTIM && vt_group_addr(a->ip, a->version))) {
        t->st.whitelisted++;
        return;
    }
    uint32_t i = a->ended ? vt_find(t, a->ip, a->version) : vt_get(t, a->ip, a->version, VT_NONE);
    if (i == VT_NONE)
        return;
    struct vt_entry *e = &t->e[i];
    struct vt_role *r = vt_rneed(t, e, a->role, true);
    /* An alert stamped long before the stage clock (a shard that saw no packet ticks from
     * time 0) is taken as now. */
    uint64_t ts = a->ts_us && a->ts_us + VERDICT_WINDOW_US >= t->now ? a->ts_us : t->now;
    r->alert_us = ts;
    r->pps = a->pps;
    r->bps = a->bps;
    vt_seen(r, ts, ts);
    if (a->ended) {
        r->rate_level = THREAT_LOW;
        r->rate_reasons = 0;
        r->rate_score = 0;
    } else {
        r->rate_level = a->level > THREAT_CRITICAL ? THREAT_CRITICAL : a->level;
        r->rate_reasons = a->reasons;
        r->rate_score = a->score;
        r->rate_fam = vt_family(t, vt_rate_family(a));
        if (!r->attack_since_us && r->rate_level > THREAT_LOW)
            r->attack_since_us = ts;
        struct vt_view w = vt_role_view(t, e, a->role);
        r->level = w.level;
        vt_episode_check(t, i, a->role, &w, false);
    }
    e->touched_us = t->now;
    vt_mark_dirty(t, i);
}

void verdict_table_report(struct verdict_table *t, const struct verdict *v, uint64_t now_us,
                          uint64_t ttl_us)
{
    t->st.reports_in++;
    if ((v->ip_version != 4 && v->ip_version != 6) || v->role >= VT_ROLES)
        return;
    vt_clock(t, now_us);
    if (vt_whitelisted(t, v->role, v->ip_version, v->ip)) {
        t->st.whitelisted++;
        return;
    }
    uint32_t i = vt_get(t, v->ip, v->ip_version, VT_NONE);
    if (i == VT_NONE)
        return;
    struct vt_entry *e = &t->e[i];
    struct vt_role *r = vt_rneed(t, e, v->role, true);
    uint8_t level = v->level > THREAT_CRITICAL ? THREAT_CRITICAL : v->level;
    uint64_t until = now_us + (ttl_us ? ttl_us : t->ttl_us);
    if (vt_report_active(t, r)) {
        if (level > r->report_level)
            r->report_level = level;
        if (until > r->report_until_us)
            r->report_until_us = until;
    } else {
        r->report_level = level;
        r->report_until_us = until;
    }
    uint8_t f = vt_family(t, v->attack_type);
    if (f)
        r->report_fam = f;
    vt_seen(r, now_us, now_us);
    if (!r->attack_since_us && level > THREAT_LOW)
        r->attack_since_us = now_us;
    struct vt_view w = vt_role_view(t, e, v->role);
    r->level = w.level;
    vt_episode_check(t, i, v->role, &w, false);
    e->touched_us = t->now;
    vt_mark_dirty(t, i);
}

/* ---- evaluation and output ------------------------------------------------------------------ */

/* When the entry's level could next change without evidence; 0 for never. */
static uint64_t vt_next_due(const struct verdict_table *t, const struct vt_entry *e)
{
    uint64_t due = 0;
#define VT_DUE(x)                                                                                  \
    do {                                                                                           \
        uint64_t x_ = (x);                                                                         \
        if (x_ > t->now && (!due || x_ < due))                                                     \
            due = x_;                                                                              \
    } while (0)
    for (int role = 0; role < VT_ROLES; role++) {
        /* An absent or light role has no attack report, alert, report or episode. */
        if (!vt_whole(e, role))
            continue;
        const struct vt_role *r = vt_rw(t, e, role);
        uint32_t attacks = 0;
        uint64_t oldest = 0;
        for (uint64_t s = r->win_sec >= VT_BUCKETS - 1 ? r->win_sec - (VT_BUCKETS - 1) : 0;
             s <= r->win_sec; s++) {
            unsigned b = (unsigned)(s % VT_BUCKETS);
            attacks += r->attacks[b];
            if ((r->reported & (1u << b)) && !oldest)
                oldest = s;
        }
        /* Attack reports in the window: the level may move as any bucket leaves it. */
        if (attacks && oldest)
            VT_DUE((oldest + VT_BUCKETS) * VT_BUCKET_US);
        if (vt_rate_active(t, r))
            VT_DUE(r->alert_us + VERDICT_ALERT_HOLD_US);
        if (vt_report_active(t, r))
            VT_DUE(r->report_until_us);
        if (r->ep_state != VT_EP_NONE && r->below_since_us)
            VT_DUE(r->below_since_us + t->attack_end_us);
    }
#undef VT_DUE
    return due;
}

static void vt_evaluate(struct verdict_table *t, uint32_t i)
{
    struct vt_entry *e = &t->e[i];
    struct vt_view w[VT_ROLES];
    for (int role = 0; role < VT_ROLES; role++) {
        if (!vt_whole(e, role)) {
            /* Low, no episode: what follows would only write a throw-away expansion. */
            w[role] = vt_light_view(t, e, role);
            continue;
        }
        w[role] = vt_whole_view(t, e, role);
        struct vt_role *r = vt_r(t, e, role);
        r->level = w[role].level;
        if (w[role].attacks == 0) {
            memset(r->fam_n, 0, sizeof(r->fam_n));
            memset(r->fam, 0, sizeof(r->fam));
        }
        if (w[role].level == THREAT_LOW)
            r->attack_since_us = 0;
        vt_episode_check(t, i, role, &w[role], true);
    }
    /* A victim's spoofed-source tally lives while such sources are in its window or its
     * episode lasts (the end event reports it). */
    if (vt_spoof_of(t, e) != VT_NONE && !w[VERDICT_ROLE_VICTIM].live_evidence &&
        vt_rw(t, e, VERDICT_ROLE_VICTIM)->ep_state == VT_EP_NONE &&
        w[VERDICT_ROLE_VICTIM].level == THREAT_LOW) {
        vt_spoof_release(t, e);
        w[VERDICT_ROLE_VICTIM].spoofed = 0;
    }
    /* The role of the higher level, ties to the victim; a role without any evidence never
     * speaks for the IP. */
    uint64_t seen_a = vt_last_seen(t, e, VERDICT_ROLE_ATTACKER);
    uint64_t seen_v = vt_last_seen(t, e, VERDICT_ROLE_VICTIM);
    int role;
    if (!seen_v)
        role = VERDICT_ROLE_ATTACKER;
    else if (!seen_a)
        role = VERDICT_ROLE_VICTIM;
    else
        role = w[VERDICT_ROLE_VICTIM].level >= w[VERDICT_ROLE_ATTACKER].level
                   ? VERDICT_ROLE_VICTIM
                   : VERDICT_ROLE_ATTACKER;
    const struct vt_view *pw = &w[role];
    struct vt_seen_of r = vt_seen_of(t, e, role);
    uint64_t last_seen = seen_a > seen_v ? seen_a : seen_v; /* vt_entry_last_seen */

    struct vt_pub p;
    vt_pub_load(t, e, &p);
    bool changed = !e->published || e->pub_role != role || e->pub_level != pw->level ||
                   p.reasons != pw->reasons || p.score != pw->score || p.attack != pw->attack_id ||
                   p.pps != pw->pps || p.bps != pw->bps || p.flows_total != r.flows_total ||
                   p.flows_attack != r.flows_attack || p.spoofed != pw->spoofed;
    /* Unchanged but still seen: refreshed now and then so that stores with a ttl keep it. */
    bool refresh = e->published && p.last_seen != last_seen && t->now - p.us >= t->ttl_us / 4;
    if (changed || refresh) {
        struct verdict v;
        vt_build_published(t, e, role, pw, &v);
        if (e->published)
            t->st.by_level[e->pub_level]--;
        t->st.by_level[pw->level]++;
        e->published = 1;
        e->pub_role = (uint8_t)role;
        e->pub_level = pw->level;
        p = (struct vt_pub){.attack = pw->attack_id,
                            .reasons = pw->reasons,
                            .spoofed = pw->spoofed,
                            .score = pw->score,
                            .pps = pw->pps,
                            .bps = pw->bps,
                            .flows_total = r.flows_total,
                            .flows_attack = r.flows_attack,
                            .last_seen = last_seen,
                            .us = t->now};
        vt_pub_store(t, e, &p);
        t->st.published++;
        if (t->sink.verdict)
            t->sink.verdict(t->sink.user, &v);
    }
    vt_wheel_remove(t, i);
    uint64_t due = vt_next_due(t, e);
    if (due)
        vt_wheel_insert(t, i, due);
}

static int vt_peer_cmp(const struct redis_sink_peer *a, const struct redis_sink_peer *b)
{
    if (a->flows != b->flows)
        return a->flows > b->flows ? -1 : 1;
    if (a->ip_version != b->ip_version)
        return a->ip_version < b->ip_version ? -1 : 1;
    return memcmp(a->ip, b->ip, 16);
}

/* The episode's peers into out, most flows first. Returns how many. */
static uint32_t vt_peers_sorted(const struct vt_episode *ep, struct redis_sink_peer *out)
{
    uint32_t n = ep->npeers;
    memcpy(out, ep->peers, n * sizeof(out[0]));
    for (uint32_t a = 1; a < n; a++) /* insertion sort: most flows first */
        for (uint32_t b = a; b > 0 && vt_peer_cmp(&out[b], &out[b - 1]) < 0; b--) {
            struct redis_sink_peer x = out[b];
            out[b] = out[b - 1];
            out[b - 1] = x;
        }
    return n;
}

static void vt_emit(struct verdict_table *t, enum verdict_event_kind kind, const struct verdict *v,
                    const struct vt_episode *ep)
{
    struct redis_sink_peer peers[VT_PEERS];
    uint32_t n = vt_peers_sorted(ep, peers);
    if (kind == VERDICT_EVENT_ATTACK_START)
        t->st.episodes_started++;
    else
        t->st.episodes_ended++;
    if (t->sink.event)
        t->sink.event(t->sink.user, kind, v, peers, n);
}

static void vt_emit_level(struct verdict_table *t, const struct vt_episode *ep)
{
    struct redis_sink_peer peers[VT_PEERS];
    uint32_t n = vt_peers_sorted(ep, peers);
    t->st.level_changes++;
    if (t->sink.level_change)
        t->sink.level_change(t->sink.user, &ep->levelv, ep->level_prev, peers, n);
}

static void vt_events(struct verdict_table *t)
{
    if (!t->events_due)
        return;
    t->events_due = false;
    for (uint32_t k = 0; k < t->max_episodes; k++) {
        struct vt_episode *ep = &t->eps[k];
        if (!ep->used)
            continue;
        if (ep->start_pending) {
            struct verdict v = ep->startv;
            vt_peaks(ep, v.pps, v.bps);
            v.pps = ep->peak_pps;
            v.bps = ep->peak_bps;
            v.first_seen_us = ep->start_us;
            ep->start_pending = 0;
            ep->start_emitted = 1;
            vt_emit(t, VERDICT_EVENT_ATTACK_START, &v, ep);
        }
        if (ep->level_pending) {
            ep->level_pending = 0;
            /* Back where it was, or never announced (a start still to come says it): no event. */
            if (ep->levelv.level != ep->level_prev && ep->start_emitted)
                vt_emit_level(t, ep);
        }
        if (ep->end_pending) {
            ep->end_pending = 0;
            vt_emit(t, VERDICT_EVENT_ATTACK_END, &ep->endv, ep);
            vt_episode_free(t, k);
        }
    }
}

static bool vt_idle(const struct verdict_table *t, const struct vt_entry *e)
{
    if (t->now - e->touched_us < t->ttl_us)
        return false;
    for (int role = 0; role < VT_ROLES; role++) {
        if (!vt_whole(e, role))
            continue; /* nothing holds an absent or light role */
        const struct vt_role *r = vt_rw(t, e, role);
        if (r->ep_state != VT_EP_NONE || vt_report_active(t, r) || vt_rate_active(t, r))
            return false;
    }
    return true;
}

void verdict_table_tick(struct verdict_table *t, uint64_t now_us, size_t budget)
{
    vt_clock(t, now_us);
    /* (1) due timers join the dirty list */
    uint64_t now_sec = t->now / VT_SEC;
    if (now_sec > t->wheel_sec) {
        uint64_t from = t->wheel_sec + 1;
        if (now_sec - t->wheel_sec > VT_WHEEL)
            from = now_sec - VT_WHEEL + 1;
        for (uint64_t s = from; s <= now_sec; s++) {
            for (uint32_t i = t->wheel[s % VT_WHEEL]; i != VT_NONE;) {
                const struct vt_ext *x = &t->xs[t->e[i].x];
                uint32_t next = x->wnext;
                if (x->due_sec <= now_sec) {
                    vt_wheel_remove(t, i);
                    vt_mark_dirty(t, i);
                }
                i = next;
            }
        }
        t->wheel_sec = now_sec;
    }
    /* (2) coalesced publication */
    for (uint32_t k = 0; k < t->ndirty; k++) {
        uint32_t i = t->dirty[k];
        t->e[i].dirty = 0;
        if (t->e[i].used)
            vt_evaluate(t, i);
    }
    t->ndirty = 0;
    /* (3) episode events */
    vt_events(t);
    /* (4) expiries: evicted IPs first, then idle ones */
    for (; t->gone_n; t->gone_n--) {
        struct verdict v = t->gone[t->gone_head];
        t->gone_head = (t->gone_head + 1) % t->gone_cap;
        if (t->sink.expired)
            t->sink.expired(t->sink.user, &v);
    }
    uint32_t visits = budget == 0 || budget > t->high ? t->high : (uint32_t)budget;
    for (uint32_t k = 0; k < visits && t->high; k++) {
        uint32_t i = t->scan++;
        if (t->scan >= t->high)
            t->scan = 0;
        struct vt_entry *e = &t->e[i];
        if (!e->used || !vt_idle(t, e))
            continue;
        struct verdict v;
        bool announce = e->published;
        vt_forget(t, i, &v);
        t->st.expired++;
        if (announce && t->sink.expired)
            t->sink.expired(t->sink.user, &v);
    }
}

/* ---- create, accessors ----------------------------------------------------------------------- */

struct verdict_table *verdict_table_create(const struct verdict_table_config *cfg,
                                           const struct verdict_table_sink *sink)
{
    uint32_t max_ips = cfg && cfg->max_ips ? cfg->max_ips : 65536;
    uint32_t max_eps = cfg && cfg->max_episodes ? cfg->max_episodes : 4096;
    if (!cfg || max_ips > VT_MAX_IPS || max_eps > VT_MAX_EPISODES ||
        cfg->max_spoofed_victims > VT_MAX_EPISODES) {
        DD_ERROR("verdict table: max_ips must be 1..%u, max_episodes and max_spoofed_victims "
                 "1..%u",
                 (unsigned)VT_MAX_IPS, (unsigned)VT_MAX_EPISODES);
        return NULL;
    }
    if (cfg->model_min_fraction < 0 || cfg->model_min_fraction > 1 || cfg->source_min_share < 0 ||
        cfg->source_min_share > 1) {
        DD_ERROR("verdict table: model_min_fraction must be 0..1, got %g", cfg->model_min_fraction);
        return NULL;
    }
    uint32_t nb = 16;
    while (nb < max_ips)
        nb <<= 1;
    struct verdict_table *t = calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    if (sink)
        t->sink = *sink;
    t->wl = cfg->whitelist;
    snprintf(t->sensor, sizeof(t->sensor), "%s", cfg->sensor_id ? cfg->sensor_id : "");
    t->ttl_us = cfg->ttl_us ? cfg->ttl_us : 300 * VT_SEC;
    t->attack_end_us = cfg->attack_end_us ? cfg->attack_end_us : 10 * VT_SEC;
    t->high_flows = cfg->model_high_flows ? cfg->model_high_flows : VERDICT_HIGH_FLOWS;
    t->critical_flows =
        cfg->model_critical_flows ? cfg->model_critical_flows : VERDICT_CRITICAL_FLOWS;
    t->medium_flows = cfg->model_medium_flows ? cfg->model_medium_flows : VERDICT_MEDIUM_FLOWS;
    if (t->medium_flows > t->high_flows)
        t->medium_flows = t->high_flows;
    t->half_open_reports =
        cfg->half_open_reports ? cfg->half_open_reports : VERDICT_HALF_OPEN_REPORTS;
    t->min_fraction = cfg->model_min_fraction > 0 ? cfg->model_min_fraction : VERDICT_MIN_FRACTION;
    t->max_spoofed = cfg->max_spoofed_victims ? cfg->max_spoofed_victims : 4096;
    t->volume_fraction =
        cfg->model_volume_fraction > 0 ? cfg->model_volume_fraction : VERDICT_VOLUME_FRACTION;
    t->source_min_share =
        cfg->source_min_share > 0 ? cfg->source_min_share : VERDICT_SOURCE_MIN_SHARE;
    t->evidence_p = cfg->evidence_p > 0 ? cfg->evidence_p : VERDICT_EVIDENCE_P;
    t->cap = max_ips;
    t->hmask = nb - 1;
    t->free_head = VT_NONE;
    t->max_episodes = max_eps;
    t->gone_cap = max_ips / 8 < 64 ? 64 : (max_ips / 8 > 16384 ? 16384 : max_ips / 8);
    t->nfam = 1; /* id 0: none */
    t->heads = malloc((size_t)nb * sizeof(*t->heads));
    t->e = calloc(max_ips, sizeof(*t->e));
    t->dirty = malloc((size_t)max_ips * sizeof(*t->dirty));
    t->eps = calloc(max_eps, sizeof(*t->eps));
    t->ep_free = malloc((size_t)max_eps * sizeof(*t->ep_free));
    t->gone = malloc((size_t)t->gone_cap * sizeof(*t->gone));
    t->spoofs = calloc(t->max_spoofed, sizeof(*t->spoofs));
    t->spoof_free = malloc((size_t)t->max_spoofed * sizeof(*t->spoof_free));
    t->ra = calloc(max_ips, sizeof(*t->ra));
    t->rv = calloc(max_ips, sizeof(*t->rv));
    t->la = calloc(max_ips, sizeof(*t->la));
    t->lv = calloc(max_ips, sizeof(*t->lv));
    t->scr = calloc(VT_ROLES, sizeof(*t->scr));
    t->xs = calloc(max_ips, sizeof(*t->xs));
    t->xfree = malloc((size_t)max_ips * sizeof(*t->xfree));
    bool pools = true;
    for (unsigned p = 0; p < VT_POOLS; p++)
        pools = (t->pfree[p] = malloc((size_t)max_ips * sizeof(*t->pfree[p]))) && pools;
    if (!t->heads || !t->e || !t->dirty || !t->eps || !t->ep_free || !t->gone || !t->spoofs ||
        !t->spoof_free || !t->ra || !t->rv || !t->la || !t->lv || !t->scr || !t->xs || !t->xfree ||
        !pools)
        goto fail;
    for (uint32_t k = 0; k < t->max_spoofed; k++) {
        t->spoof_free[k] = t->max_spoofed - 1 - k;
        t->spoofs[k].entry = VT_NONE;
    }
    t->spoof_nfree = t->max_spoofed;
    memset(t->heads, 0xff, (size_t)nb * sizeof(*t->heads));
    for (uint32_t s = 0; s < VT_WHEEL; s++)
        t->wheel[s] = VT_NONE;
    for (uint32_t k = 0; k < max_eps; k++)
        t->ep_free[k] = max_eps - 1 - k;
    t->ep_nfree = max_eps;
    t->seed = cfg->seed ? cfg->seed : dd_hash_seed(t);
    t->rng = dd_hash_mix64(t->seed ^ 0x2545f4914f6cdd1dull) | 1;
    t->st.capacity = max_ips;
    DD_INFO("verdict table: %u IPs (%zu MiB reserved, touched as used), %u episodes (%zu KiB), "
            "%u spoofed-source tallies (%zu KiB)",
            (unsigned)max_ips,
            ((size_t)max_ips *
             (sizeof(struct vt_entry) + sizeof(struct vt_role) + sizeof(struct vt_vrole) +
              sizeof(struct vt_lrole) + sizeof(struct vt_lvrole) + sizeof(struct vt_ext) +
              7 * sizeof(uint32_t))) >>
                20,
            (unsigned)max_eps, ((size_t)max_eps * sizeof(struct vt_episode)) >> 10,
            (unsigned)t->max_spoofed, ((size_t)t->max_spoofed * sizeof(struct vt_spoof)) >> 10);
    return t;
fail:
    DD_ERROR("verdict table: out of memory for %u IPs and %u episodes", (unsigned)max_ips,
             (unsigned)max_eps);
    verdict_table_destroy(t);
    return NULL;
}

void verdict_table_destroy(struct verdict_table *t)
{
    if (!t)
        return;
    free(t->heads);
    free(t->e);
    free(t->dirty);
    free(t->eps);
    free(t->ep_free);
    free(t->gone);
    free(t->spoofs);
    free(t->spoof_free);
    free(t->ra);
    free(t->rv);
    free(t->la);
    free(t->lv);
    free(t->scr);
    free(t->xs);
    free(t->xfree);
    for (unsigned p = 0; p < VT_POOLS; p++)
        free(t->pfree[p]);
    free(t);
}

void verdict_table_set_model_version(struct verdict_table *t, const char *version)
{
    snprintf(t->model_version, sizeof(t->model_version), "%s", version ? version : "");
}

void verdict_table_set_whitelist(struct verdict_table *t, const struct config_whitelist *wl)
{
    t->wl = wl;
}

void verdict_table_publish_seen(struct verdict_table *t)
{
    for (uint32_t i = 0; i < t->high; i++) {
        struct vt_entry *e = &t->e[i];
        if (!e->used || !e->published || e->pub_last_seen == vt_entry_last_seen(t, e))
            continue;
        struct vt_view w = vt_role_view(t, e, e->pub_role);
        struct verdict v;
        vt_build_published(t, e, e->pub_role, &w, &v);
        struct vt_pub p;
        vt_pub_load(t, e, &p);
        p.last_seen = vt_entry_last_seen(t, e);
        vt_pub_store(t, e, &p);
        t->st.published++;
        if (t->sink.verdict)
            t->sink.verdict(t->sink.user, &v);
    }
}

void verdict_table_foreach(struct verdict_table *t, void (*fn)(void *user, const struct verdict *v),
                           void *user)
{
    for (uint32_t i = 0; i < t->high; i++) {
        struct vt_entry *e = &t->e[i];
        if (!e->used || !e->published)
            continue;
        struct vt_view w = vt_role_view(t, e, e->pub_role);
        struct verdict v;
        vt_build_published(t, e, e->pub_role, &w, &v);
        fn(user, &v);
    }
}

bool verdict_table_episode_get(struct verdict_table *t, const uint8_t ip[16], uint8_t ip_version,
                               int role, struct verdict_episode_info *out)
{
    if (role < 0 || role >= VT_ROLES)
        return false;
    uint32_t i = vt_find(t, ip, ip_version);
    if (i == VT_NONE || !vt_whole(&t->e[i], role) ||
        vt_rw(t, &t->e[i], role)->ep_state != VT_EP_TRACKED)
        return false;
    struct vt_entry *e = &t->e[i];
    const struct vt_episode *ep = &t->eps[vt_rw(t, e, role)->ep];
    struct vt_view w = vt_role_view(t, e, role);
    vt_build(t, e, role, &w, &out->v);
    out->start_us = ep->start_us;
    out->peak_pps = ep->peak_pps > w.pps ? ep->peak_pps : w.pps;
    out->peak_bps = ep->peak_bps > w.bps ? ep->peak_bps : w.bps;
    out->peak_level = ep->peak_level > w.level ? ep->peak_level : w.level;
    out->npeers = vt_peers_sorted(ep, out->peers);
    return true;
}

uint64_t verdict_table_now(const struct verdict_table *t)
{
    return t->now;
}

void verdict_table_stats_get(const struct verdict_table *t, struct verdict_table_stats *out)
{
    *out = t->st;
}
