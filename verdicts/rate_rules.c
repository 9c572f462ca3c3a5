/* rate_rules.c - per-IP rate rules: the table of per-IP counters, its 1 s windows and EWMAs, the
 * threshold evaluation against config.json's `rules`, and the alert list (rate_rules.h).
 *
 * Owns: one table of struct rr_entry (one per IP, both roles in it), a parallel array of 32-bit
 * tags, the list of alerting IP/roles and an 8 KiB bitmap of reflector source ports. All allocated
 * in rate_rules_create(); nothing is allocated afterwards.
 *
 * Threads: none of its own. One capture shard calls rate_rules_packet() per packet and
 * rate_rules_tick() a few times per second; no locks, no atomics, no logging per packet.
 *
 * DESIGN: the table is open addressing with a bounded probe window: an IP lives in one of the
 * RATE_RULES_PROBES slots starting at hash & mask. A lookup compares tags (64 bytes) and
 * only then keys; a miss takes the first free slot of the window, or evicts the slot with the
 * smallest recent packet rate (an attacker spraying spoofed sources then only recycles the
 * quietest entries, never the victim it is flooding). Because lookups always scan the whole
 * window, a slot can be freed without tombstones, which lets the tick expire idle entries.
 * The hash is keyed with a random seed chosen at start-up so that sources cannot be picked to
 * collide into one window.
 *
 * Windows are whole seconds of the caller's clock. An entry rolls lazily: when a packet or the
 * tick finds its window over, the window's counts feed the EWMAs (empty windows in between
 * decay them), and both roles are evaluated once per rolled window. Evaluation first compares
 * against a "floor" (per metric, the lowest threshold of the global rules and every host group),
 * which is cheap; only an entry over the floor pays for the longest-prefix host group lookup and
 * the whitelist scan, whose result is then cached in the entry. That keeps a flood of spoofed
 * new sources from costing a CIDR scan per packet.
 *
 * Distinct sources per destination are estimated with a 64-register HyperLogLog (64 bytes per
 * entry, ~13% standard error, linear counting for small counts), reset every window; a 256-bit
 * linear counting bitmap would saturate near 1400, under the default threshold of 2000.
 *
 * SYN vs SYN-ACK: config.h defines syn_ack_ratio as "SYNs per SYN-ACK". A victim's SYN rule
 * fires when SYNs without ACK to it exceed syn_per_s AND it answered fewer than one SYN-ACK per
 * syn_ack_ratio SYNs (half-open connections pile up), so a busy server that answers is not a
 * flood; 0 for the ratio makes the SYN rate alone decide. For an attacker the same test uses the
 * SYN-ACKs it received. Both counts come from the same packets: a SYN-ACK is counted on its
 * source's victim side and its destination's attacker side.
 *
 * Known limit: non-first fragments carry no ports, so a fragmented amplification answer counts
 * once (its first fragment) in reflector_pps, though fully in pps and bps.
 *
 * Calls: common/config (CIDR matching), common/log (at create only). */
#include "verdicts/rate_rules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "verdicts/verdict.h"

enum rr_metric {
    RR_PPS,
    RR_BPS,
    RR_SYN,
    RR_SYNACK, /* victim: SYN-ACKs it sent; attacker: SYN-ACKs it received */
    RR_FLOWS,
    RR_SOURCES, /* victim only, from the HyperLogLog */
    RR_REFL,
    RR_METRIC_COUNT
};

enum { RR_HLL_REGS = 64, RR_IDLE_S = 60, RR_ROLES = 2, RR_MAX_IPS = 1u << 25 };

/* UDP source ports of services abused for reflection/amplification. The only list: the bitmap
 * is built from it. */
static const uint16_t reflector_ports[] = {
    17,    /* QOTD */
    19,    /* chargen */
    53,    /* DNS */
    69,    /* TFTP */
    111,   /* portmap */
    123,   /* NTP */
    137,   /* NetBIOS name */
    161,   /* SNMP */
    389,   /* CLDAP */
    500,   /* IKE */
    520,   /* RIP */
    1434,  /* MS SQL browser */
    1900,  /* SSDP */
    3283,  /* Apple Remote Desktop */
    3702,  /* WS-Discovery */
    4500,  /* IKE NAT-T */
    5351,  /* NAT-PMP */
    5683,  /* CoAP */
    10001, /* Ubiquiti discovery */
    11211, /* memcached */
    27015, /* Steam/Source game queries */
    37810, /* DVR DHCPDiscover */
};

/* Per role alert state. */
struct rr_role_state {
    int32_t active_pos; /* index in rate_rules.active, -1 when not alerting */
    uint32_t reasons;   /* of the last evaluation */
    uint8_t level;
    uint8_t quiet; /* consecutive windows under every threshold while alerting */
    bool emitted;  /* at least once since it started alerting */
    uint64_t last_emit_s;
    double score;
};

struct rr_entry {
    uint8_t addr[16];
    uint8_t version;
    bool resolved; /* group and whitelist below are valid */
    bool whitelisted[RR_ROLES];
    int16_t group;     /* hostgroup index for the longest matching CIDR, -1 for global */
    uint64_t window_s; /* the second the counts below belong to */
    uint64_t last_pkt_s;
    uint64_t count[RR_ROLES][RR_METRIC_COUNT]; /* RR_BPS counts bytes; RR_SOURCES unused */
    float rate[RR_ROLES][RR_METRIC_COUNT];     /* smoothed per-second values */
    uint8_t hll[RR_HLL_REGS];                  /* sources of packets to this IP */
    struct rr_role_state role[RR_ROLES];
};

struct rate_rules {
    const struct config_rules *rules;
    struct config_thresholds floor[RR_ROLES]; /* lowest enabled threshold per metric */
    uint64_t seed, seed_hll;
    uint32_t mask;
    uint32_t *tags; /* 0: free slot */
    struct rr_entry *entries;
    uint32_t *active; /* slot << 1 | role of alerting IP/roles; capacity 2 * slots */
    uint32_t n_active;
    uint32_t active_cursor;
    uint32_t scan_cursor;
    struct rate_rules_stats st;
    uint64_t reflector[65536 / 64]; /* bit per UDP source port, from reflector_ports */
};

bool rate_rules_reflector_port(uint16_t port)
{
    for (size_t i = 0; i < DD_ARRAY_LEN(reflector_ports); i++)
        if (reflector_ports[i] == port)
            return true;
    return false;
}

static inline bool rr_reflector_hit(const struct rate_rules *r, uint16_t port)
{
    return (r->reflector[port / 64] >> (port % 64)) & 1u;
}

static inline uint64_t rr_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Keyed hash of an address: two 64-bit lanes folded through the murmur3 finaliser with a
 * random seed. Not a MAC, but the bucket of an address cannot be predicted without the seed. */
static inline uint64_t rr_hash(uint64_t seed, const uint8_t addr[16], uint8_t version)
{
    uint64_t a, b;
    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    uint64_t h = rr_mix(seed ^ a ^ ((uint64_t)version << 56));
    return rr_mix(h ^ b ^ (seed >> 7));
}

/* The floor walks thresholds as an array: every field must stay a double. */
_Static_assert(sizeof(struct config_thresholds) == 7 * sizeof(double),
               "struct config_thresholds is no longer 7 doubles");

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
    r->entries = aligned_alloc(DD_CACHELINE, (size_t)cap * sizeof(*r->entries));
    r->active = calloc((size_t)cap * 2, sizeof(*r->active));
    if (!r->tags || !r->entries || !r->active)
        goto fail;
    memset(r->entries, 0, (size_t)cap * sizeof(*r->entries));
    if (getrandom(&r->seed, sizeof(r->seed), 0) != sizeof(r->seed))
        r->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uintptr_t)r;
    r->seed_hll = rr_mix(r->seed ^ 0x5bd1e995u);
    rr_floor_build(&r->floor[VERDICT_ROLE_VICTIM], &cfg->rules.victim, &cfg->rules.hostgroups,
                   offsetof(struct config_hostgroup, victim));
    rr_floor_build(&r->floor[VERDICT_ROLE_ATTACKER], &cfg->rules.attacker, &cfg->rules.hostgroups,
                   offsetof(struct config_hostgroup, attacker));
    for (size_t i = 0; i < DD_ARRAY_LEN(reflector_ports); i++)
        r->reflector[reflector_ports[i] / 64] |= 1ull << (reflector_ports[i] % 64);
    r->st.capacity = cap;
    DD_INFO("rate rules: %u IP slots, %zu KiB", (unsigned)cap,
            ((size_t)cap * (sizeof(struct rr_entry) + sizeof(uint32_t) * 3)) / 1024);
    return r;
fail:
    DD_ERROR("rate rules: out of memory for %u IPs", (unsigned)max_ips);
    rate_rules_destroy(r);
    return NULL;
}

void rate_rules_set_config(struct rate_rules *r, const struct ddosd_config *cfg)
{
    r->rules = &cfg->rules;
    rr_floor_build(&r->floor[VERDICT_ROLE_VICTIM], &cfg->rules.victim, &cfg->rules.hostgroups,
                   offsetof(struct config_hostgroup, victim));
    rr_floor_build(&r->floor[VERDICT_ROLE_ATTACKER], &cfg->rules.attacker, &cfg->rules.hostgroups,
                   offsetof(struct config_hostgroup, attacker));
    /* Host groups and whitelists may have changed: every entry resolves again on its next
     * evaluation. */
    for (uint32_t i = 0; i <= r->mask; i++)
        r->entries[i].resolved = false;
}

void rate_rules_destroy(struct rate_rules *r)
{
    if (!r)
        return;
    free(r->tags);
    free(r->entries);
    free(r->active);
    free(r);
}

void rate_rules_stats_get(const struct rate_rules *r, struct rate_rules_stats *out)
{
    *out = r->st;
}

/* ---- alerting list ---------------------------------------------------------------------- */

static void rr_active_add(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_role_state *rs = &r->entries[slot].role[role];
    rs->active_pos = (int32_t)r->n_active;
    rs->emitted = false;
    rs->quiet = 0;
    r->active[r->n_active++] = slot << 1 | (uint32_t)role;
    r->st.alerting++;
}

static void rr_active_remove(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_role_state *rs = &r->entries[slot].role[role];
    uint32_t pos = (uint32_t)rs->active_pos;
    uint32_t last = r->active[--r->n_active];
    r->active[pos] = last;
    r->entries[last >> 1].role[last & 1].active_pos = (int32_t)pos;
    rs->active_pos = -1;
    r->st.alerting--;
}

/* ---- evaluation ------------------------------------------------------------------------- */

static void rr_entry_resolve(const struct rate_rules *r, struct rr_entry *e)
{
    const struct config_rules *rules = r->rules;
    int best = -1, best_len = -1;
    for (size_t g = 0; g < rules->hostgroups.n; g++) {
        const struct config_cidr_list *l = &rules->hostgroups.items[g].cidrs;
        for (size_t i = 0; i < l->n; i++)
            if (l->items[i].prefix_len > best_len &&
                config_cidr_contains(&l->items[i], e->version, e->addr)) {
                best = (int)g;
                best_len = l->items[i].prefix_len;
            }
    }
    e->group = (int16_t)best;
    const struct config_cidr_list *wl[RR_ROLES];
    wl[VERDICT_ROLE_ATTACKER] = &rules->whitelist.sources;
    wl[VERDICT_ROLE_VICTIM] = &rules->whitelist.destinations;
    for (int role = 0; role < RR_ROLES; role++) {
        e->whitelisted[role] = false;
        for (size_t i = 0; i < wl[role]->n && !e->whitelisted[role]; i++)
            e->whitelisted[role] = config_cidr_contains(&wl[role]->items[i], e->version, e->addr);
    }
    e->resolved = true;
}

static const struct config_thresholds *rr_thresholds(const struct rate_rules *r,
                                                     const struct rr_entry *e, int role)
{
    if (e->group < 0)
        return role == VERDICT_ROLE_VICTIM ? &r->rules->victim : &r->rules->attacker;
    const struct config_hostgroup *g = &r->rules->hostgroups.items[e->group];
    return role == VERDICT_ROLE_VICTIM ? &g->victim : &g->attacker;
}

/* Reasons the rates of one role raise against t; *excess gets the worst value/threshold. */
static uint32_t rr_reasons(const float *rate, const struct config_thresholds *t, int role,
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
    RR_CHECK((double)rate[RR_PPS], t->pps, VERDICT_REASON_RATE_PPS);
    RR_CHECK((double)rate[RR_BPS] * 8.0, t->bps, VERDICT_REASON_RATE_BPS);
    /* SYNs only count when they go unanswered: a busy server answering its SYNs is not a
     * flood. Imbalance: more than syn_ack_ratio SYNs per SYN-ACK (0 disables the check). */
    if (t->syn_ack_ratio <= 0 || (double)rate[RR_SYN] > t->syn_ack_ratio * rate[RR_SYNACK])
        RR_CHECK((double)rate[RR_SYN], t->syn_per_s, VERDICT_REASON_RATE_SYN);
    RR_CHECK((double)rate[RR_FLOWS], t->new_flows_per_s, VERDICT_REASON_RATE_FLOWS);
    if (role == VERDICT_ROLE_VICTIM)
        RR_CHECK((double)rate[RR_SOURCES], t->distinct_sources, VERDICT_REASON_RATE_SOURCES);
    RR_CHECK((double)rate[RR_REFL], t->reflector_pps, VERDICT_REASON_REFLECTION);
#undef RR_CHECK
    *excess = worst;
    return reasons;
}

/* Evaluates one role of the entry in slot after a window rolled: updates its alert state and
 * puts it on the alerting list when it starts. */
static void rr_entry_evaluate(struct rate_rules *r, uint32_t slot, int role)
{
    struct rr_entry *e = &r->entries[slot];
    struct rr_role_state *rs = &e->role[role];
    double excess = 0;
    uint32_t reasons = rr_reasons(e->rate[role], &r->floor[role], role, &excess);
    if (reasons) {
        if (!e->resolved)
            rr_entry_resolve(r, e);
        reasons = e->whitelisted[role]
                      ? 0
                      : rr_reasons(e->rate[role], rr_thresholds(r, e, role), role, &excess);
    }
    if (!reasons) {
        if (rs->active_pos >= 0 && rs->quiet < 255)
            rs->quiet++;
        return;
    }
    rs->reasons = reasons;
    rs->level = excess >= 10 ? THREAT_CRITICAL : excess >= 2 ? THREAT_HIGH : THREAT_MEDIUM;
    rs->score = 1.0 - 1.0 / excess;
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

/* True while a role of e alerts and has not yet seen RATE_RULES_END_WINDOWS quiet windows. */
static bool rr_entry_ending(const struct rr_entry *e)
{
    for (int role = 0; role < RR_ROLES; role++)
        if (e->role[role].active_pos >= 0 && e->role[role].quiet < RATE_RULES_END_WINDOWS)
            return true;
    return false;
}

/* Closes every window of e before second s: the first with its counts, the others empty. */
static void rr_entry_roll(struct rate_rules *r, uint32_t slot, uint64_t s)
{
    struct rr_entry *e = &r->entries[slot];
    if (s <= e->window_s)
        return;
    uint64_t gap = s - e->window_s;
    const float a = (float)RATE_RULES_ALPHA;
    double sources = rr_hll_estimate(e->hll);
    for (int role = 0; role < RR_ROLES; role++)
        for (int m = 0; m < RR_METRIC_COUNT; m++) {
            double w = m == RR_SOURCES ? (role == VERDICT_ROLE_VICTIM ? sources : 0)
                                       : (double)e->count[role][m];
            e->rate[role][m] = a * (float)w + (1 - a) * e->rate[role][m];
        }
    memset(e->count, 0, sizeof(e->count));
    memset(e->hll, 0, sizeof(e->hll));
    for (int role = 0; role < RR_ROLES; role++)
        rr_entry_evaluate(r, slot, role);
    /* Empty windows: evaluated one by one while an alert is ending (64 halvings take any rate
     * under any threshold), then decayed at once. */
    uint64_t empty = gap - 1, step = 0;
    for (; step < empty && step < 64 && rr_entry_ending(e); step++) {
        for (int role = 0; role < RR_ROLES; role++) {
            for (int m = 0; m < RR_METRIC_COUNT; m++)
                e->rate[role][m] *= 1 - a;
            rr_entry_evaluate(r, slot, role);
        }
    }
    if (empty > step) {
        float decay = powf(1 - a, (float)(empty - step > 64 ? 64 : empty - step));
        for (int role = 0; role < RR_ROLES; role++)
            for (int m = 0; m < RR_METRIC_COUNT; m++)
                e->rate[role][m] *= decay;
    }
    e->window_s = s;
}

/* ---- table ------------------------------------------------------------------------------ */

static void rr_slot_free(struct rate_rules *r, uint32_t slot)
{
    for (int role = 0; role < RR_ROLES; role++)
        if (r->entries[slot].role[role].active_pos >= 0)
            rr_active_remove(r, slot, role);
    r->tags[slot] = 0;
    r->st.tracked_ips--;
}

/* Finds or inserts the entry of addr and rolls it to second s. Returns its slot. */
static uint32_t rr_entry_get(struct rate_rules *r, const uint8_t addr[16], uint8_t version,
                             uint64_t s)
{
    uint64_t h = rr_hash(r->seed, addr, version);
    uint32_t tag = (uint32_t)(h >> 32) | 1u; /* never 0: 0 marks a free slot */
    uint32_t base = (uint32_t)h;
    uint32_t free_slot = UINT32_MAX, victim = UINT32_MAX;
    float victim_rate = 0;
    for (uint32_t i = 0; i < RATE_RULES_PROBES; i++) {
        uint32_t slot = (base + i) & r->mask;
        uint32_t t = r->tags[slot];
        if (t == tag) {
            struct rr_entry *e = &r->entries[slot];
            if (e->version == version && memcmp(e->addr, addr, 16) == 0) {
                rr_entry_roll(r, slot, s);
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
        /* Recent rate: smoothed plus what the current window has seen; alerting entries are
         * kept unless every candidate alerts. */
        const struct rr_entry *e = &r->entries[slot];
        float rate = e->rate[0][RR_PPS] + e->rate[1][RR_PPS] +
                     (float)(e->count[0][RR_PPS] + e->count[1][RR_PPS]);
        if (e->role[0].active_pos >= 0 || e->role[1].active_pos >= 0)
            rate += 1e30f;
        if (victim == UINT32_MAX || rate < victim_rate) {
            victim = slot;
            victim_rate = rate;
        }
    }
    uint32_t slot = free_slot;
    if (slot == UINT32_MAX) {
        slot = victim;
        struct rr_entry *old = &r->entries[slot];
        if (old->role[0].active_pos >= 0 || old->role[1].active_pos >= 0)
            r->st.evicted_alerting++;
        rr_slot_free(r, slot);
        r->st.evictions++;
    }
    struct rr_entry *e = &r->entries[slot];
    memset(e, 0, sizeof(*e));
    memcpy(e->addr, addr, 16);
    e->version = version;
    e->group = -1;
    e->window_s = s;
    e->last_pkt_s = s;
    e->role[0].active_pos = -1;
    e->role[1].active_pos = -1;
    r->tags[slot] = tag;
    r->st.tracked_ips++;
    return slot;
}

void rate_rules_packet(struct rate_rules *r, const struct pkt_info *p, uint64_t ts_us,
                       bool new_flow)
{
    if (DD_UNLIKELY(p->ip_version != 4 && p->ip_version != 6))
        return;
    uint64_t s = ts_us / 1000000u;
    bool tcp = p->proto == IPPROTO_NUM_TCP && (p->flags & PKT_F_L4);
    bool syn = tcp && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    bool synack = tcp && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
    bool refl =
        p->proto == IPPROTO_NUM_UDP && (p->flags & PKT_F_L4) && rr_reflector_hit(r, p->sport);

    /* Destination first, then source: the source's insert may evict, so the destination's
     * entry is never touched after it. */
    uint32_t slot = rr_entry_get(r, p->dst, p->ip_version, s);
    struct rr_entry *e = &r->entries[slot];
    uint64_t *c = e->count[VERDICT_ROLE_VICTIM];
    c[RR_PPS]++;
    c[RR_BPS] += p->wire_len;
    c[RR_SYN] += syn;
    c[RR_FLOWS] += new_flow;
    c[RR_REFL] += refl;
    e->count[VERDICT_ROLE_ATTACKER][RR_SYNACK] += synack; /* answers to its own SYNs */
    e->last_pkt_s = s;
    uint64_t h = rr_hash(r->seed_hll, p->src, p->ip_version);
    uint8_t rho = (uint8_t)(__builtin_clzll((h << 6) | (1ull << 5)) + 1);
    uint8_t *reg = &e->hll[h >> 58];
    if (rho > *reg)
        *reg = rho;
    if (e->resolved && e->whitelisted[VERDICT_ROLE_VICTIM])
        r->st.whitelisted_pkts++;

    slot = rr_entry_get(r, p->src, p->ip_version, s);
    e = &r->entries[slot];
    c = e->count[VERDICT_ROLE_ATTACKER];
    c[RR_PPS]++;
    c[RR_BPS] += p->wire_len;
    c[RR_SYN] += syn;
    c[RR_FLOWS] += new_flow;
    c[RR_REFL] += refl;
    e->count[VERDICT_ROLE_VICTIM][RR_SYNACK] += synack; /* it answers SYNs sent to it */
    e->last_pkt_s = s;
    if (e->resolved && e->whitelisted[VERDICT_ROLE_ATTACKER])
        r->st.whitelisted_pkts++;
}

/* ---- tick ------------------------------------------------------------------------------- */

static void rr_alert_fill(const struct rate_rules *r, uint32_t slot, int role, uint64_t now_us,
                          bool ended, struct rate_alert *a)
{
    const struct rr_entry *e = &r->entries[slot];
    const struct rr_role_state *rs = &e->role[role];
    const float *v = e->rate[role];
    memset(a, 0, sizeof(*a));
    memcpy(a->ip, e->addr, 16);
    a->version = e->version;
    a->role = (uint8_t)role;
    a->level = rs->level;
    a->ended = ended;
    a->reasons = rs->reasons;
    a->score = rs->score;
    a->pps = v[RR_PPS];
    a->bps = (double)v[RR_BPS] * 8.0;
    a->syn_rate = v[RR_SYN];
    a->syn_ack_rate = v[RR_SYNACK];
    a->new_flows_rate = v[RR_FLOWS];
    a->distinct_sources = v[RR_SOURCES];
    a->reflector_pps = v[RR_REFL];
    a->ts_us = now_us;
}

size_t rate_rules_tick(struct rate_rules *r, uint64_t now_us, struct rate_alert *out, size_t max,
                       size_t budget)
{
    uint64_t now_s = now_us / 1000000u;
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
        struct rr_entry *e = &r->entries[slot];
        rr_entry_roll(r, slot, now_s);
        if (now_s > e->last_pkt_s + RR_IDLE_S && e->role[0].active_pos < 0 &&
            e->role[1].active_pos < 0) {
            rr_slot_free(r, slot);
            r->st.expired++;
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
        struct rr_role_state *rs = &r->entries[slot].role[role];
        visits--;
        work++;
        rr_entry_roll(r, slot, now_s); /* a roll may add to the list, never removes */
        if (rs->quiet >= RATE_RULES_END_WINDOWS) {
            if (rs->emitted) {
                rr_alert_fill(r, slot, role, now_us, true, &out[n++]);
                r->st.alerts_emitted++;
                r->st.alerts_ended++;
            }
            rr_active_remove(r, slot, role);
            continue;
        }
        /* While quiet windows are counted the alert is neither repeated nor ended yet. */
        if (rs->quiet == 0 && (!rs->emitted || rs->last_emit_s < now_s)) {
            rr_alert_fill(r, slot, role, now_us, false, &out[n++]);
            rs->emitted = true;
            rs->last_emit_s = now_s;
            r->st.alerts_emitted++;
        }
        i++;
    }
    r->active_cursor = i;

    r->st.tick_visits += work;
    return n;
}
