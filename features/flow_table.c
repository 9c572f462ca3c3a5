/* flow_table.c - flow lookup, lifecycle (timeouts, TCP teardown, eviction) and expiry.
 *
 * Owns the slot array (struct flow[capacity]) and the bucket array (uint32 heads of chains
 * linked through flow.chain_next). Slots are handed out by a bump index and recycled through a
 * free stack, so slots above the high-water mark are never touched (their pages stay unbacked).
 *
 * DESIGN: no per-flow timer structures. A linked LRU would cost two extra cache misses per
 * packet (the neighbours); instead timeouts are checked lazily when a flow's next packet
 * arrives, and a cursor sweeps the slots in order, a bounded number per call, so that every
 * slot is visited once per sweep_period of packet time. Expiry is therefore late by at most one
 * sweep period, which only delays when a flow is reported, never what it contains: a packet
 * that arrives after a flow's deadline always starts a new flow. Slot order (not hash order) is
 * also the emission order, so output does not depend on the random hash seed.
 *
 * The hash is keyed with a seed drawn at start-up, so an attacker cannot aim packets at one
 * bucket chain without knowing it. */
#include "features/flow_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/config.h"
#include "common/hash.h"
#include "common/log.h"

/* Where config.json's limit meets the table's: every flow timeout the loader accepts
 * (flows.*_timeout <= CONFIG_TIMEOUT_MAX_S) fits the table. */
_Static_assert((unsigned long long)CONFIG_TIMEOUT_MAX_S * 1000000ull <= FLOW_MAX_ACTIVE_TIMEOUT_US,
               "config.json's flow timeouts must fit FLOW_MAX_ACTIVE_TIMEOUT_US");

#define SLOT_NONE UINT32_MAX
/* Slots the expiry sweep and the young-flow FIFO prefetch ahead of the one they look at. */
#define SWEEP_AHEAD 8

struct flow_table {
    struct flow_table_config cfg;
    flow_end_fn on_end;
    void *user;
    flow_report_fn on_report;
    void *report_user;
    struct flow *slots; /* capacity entries, mmap'd */
    size_t slots_bytes;
    uint32_t *buckets; /* nbuckets chain heads */
    uint32_t bucket_mask;
    uint32_t high_water; /* slots [0, high_water) have been used */
    uint32_t free_head;  /* free stack through chain_next */
    uint32_t sweep_cursor;
    double sweep_credit; /* slots owed to the sweep */
    uint64_t sweep_last; /* packet time of the last expire call */
    uint64_t now;        /* newest packet time */
    uint64_t rng;        /* eviction sampling */
    /* Young-flow FIFO (report_young_us): flows in creation order, so due ones are at the head.
     * An entry names its slot and the low 32 bits of the flow's first_ts (8 bytes, not 16: the
     * FIFO is touched by every new flow); a slot that holds another flow by now does not match
     * and is dropped, whose due time does not matter then. */
    struct young_entry {
        uint32_t idx;
        uint32_t first_lo;
    } * young;
    uint32_t young_mask, young_head, young_tail;
    struct flow_table_stats stats;
};

static const char *const end_names[FLOW_END_COUNT] = {
    [FLOW_END_IDLE] = "idle", [FLOW_END_ACTIVE] = "active",   [FLOW_END_FIN] = "fin",
    [FLOW_END_RST] = "rst",   [FLOW_END_EVICTED] = "evicted", [FLOW_END_FLUSH] = "flush",
};

const char *flow_end_name(enum flow_end why)
{
    return (unsigned)why < FLOW_END_COUNT ? end_names[why] : "unknown";
}

void flow_table_config_defaults(struct flow_table_config *c, enum feat_mode mode)
{
    memset(c, 0, sizeof(*c));
    c->capacity = 1u << 20;
    c->mode = mode;
    c->active_timeout_us = 120ull * 1000000;
    c->activity_timeout_us = 5ull * 1000000;
    /* Expiry lateness only delays when a flow is reported, never what it holds (see DESIGN),
     * so a sweep every 5 s of packet time is plenty for 60 s / 120 s timeouts and cheap. */
    c->sweep_period_us = 5000000;
    if (mode == FEAT_MODE_CIC) {
        c->idle_timeout_us = 0;
        c->close_linger_us = 0;
        c->emit_min_packets = 2;
    } else {
        c->idle_timeout_us = 60ull * 1000000;
        c->close_linger_us = 2ull * 1000000;
        c->emit_min_packets = 1;
    }
}

int flow_table_config_check(const struct flow_table_config *c, char *why, size_t why_len)
{
    if (c->capacity < 16 || c->capacity > (1u << 30)) {
        snprintf(why, why_len, "flow table capacity %" PRIu32 " is outside 16..2^30", c->capacity);
        return -EINVAL;
    }
    if (c->active_timeout_us == 0 || c->active_timeout_us > FLOW_MAX_ACTIVE_TIMEOUT_US) {
        snprintf(why, why_len, "active timeout must be between 1 us and %llu s",
                 FLOW_MAX_ACTIVE_TIMEOUT_US / 1000000);
        return -EINVAL;
    }
    if (c->idle_timeout_us > c->active_timeout_us) {
        snprintf(why, why_len, "idle timeout (%.6f s) is longer than the active timeout (%.6f s)",
                 c->idle_timeout_us / 1e6, c->active_timeout_us / 1e6);
        return -EINVAL;
    }
    if (c->close_linger_us > c->active_timeout_us) {
        snprintf(why, why_len,
                 "TCP close linger (%.6f s) is longer than the active timeout (%.6f s)",
                 c->close_linger_us / 1e6, c->active_timeout_us / 1e6);
        return -EINVAL;
    }
    if (c->activity_timeout_us == 0 || c->sweep_period_us == 0) {
        snprintf(why, why_len, "the activity threshold and the sweep period must be positive");
        return -EINVAL;
    }
    return 0;
}

uint32_t flow_key_hash(const struct flow_key *key, uint64_t seed)
{
    uint64_t w[5];
    memcpy(w, key, sizeof(w));
    uint64_t h = seed;
    for (int i = 0; i < 5; i++)
        h = dd_hash_mix64(h ^ w[i]) + DD_HASH_GOLDEN;
    return (uint32_t)(h ^ (h >> 32));
}

bool flow_key_from_packet(enum feat_mode mode, const struct pkt_info *p, uint64_t ts,
                          struct flow_key *key, struct flow_pkt *fp)
{
    const bool has_l4 = (p->flags & PKT_F_L4) != 0;
    const bool is_tcp = has_l4 && p->proto == IPPROTO_NUM_TCP;
    const bool is_udp = has_l4 && p->proto == IPPROTO_NUM_UDP;
    uint16_t sport = 0, dport = 0;

    memset(key, 0, sizeof(*key));
    memset(fp, 0, sizeof(*fp));
    fp->ts = ts;
    fp->window = -1;

    if (mode == FEAT_MODE_CIC) {
        /* cic: IPv6 is ignored; everything but TCP/UDP (ICMP, other protocols, non-first
         * fragments) is one protocol-0 flow per IP pair without lengths or flags (§4.5). */
        if (p->ip_version != 4)
            return false;
        if (is_tcp || is_udp) {
            key->proto = p->proto;
            sport = p->sport;
            dport = p->dport;
            fp->payload = p->payload_captured;
            fp->header = p->l4_header_len;
            if (is_tcp) {
                fp->tcp_flags = p->tcp_flags;
                fp->window = p->tcp_window;
            }
        }
    } else {
        key->proto = p->proto;
        fp->payload = p->payload_len;
        fp->header = p->l4_header_len;
        if (is_tcp || is_udp) {
            sport = p->sport;
            dport = p->dport;
            if (is_tcp) {
                fp->tcp_flags = p->tcp_flags;
                fp->window = p->tcp_window;
            }
        } else if (has_l4 && (p->proto == IPPROTO_NUM_ICMP || p->proto == IPPROTO_NUM_ICMPV6)) {
            /* Echo request and reply share the identifier: it keeps pings apart. */
            sport = dport = p->icmp_id;
            fp->icmp_type = p->icmp_type;
            fp->icmp_code = p->icmp_code;
        }
    }
    key->ip_version = p->ip_version;

    int c = memcmp(p->src, p->dst, 16);
    int src_ep = (c < 0 || (c == 0 && sport <= dport)) ? 0 : 1;
    memcpy(key->addr[src_ep], p->src, 16);
    memcpy(key->addr[src_ep ^ 1], p->dst, 16);
    key->port[src_ep] = sport;
    key->port[src_ep ^ 1] = dport;
    fp->from_ep = (uint8_t)src_ep;
    return true;
}

struct flow_table *flow_table_create(const struct flow_table_config *config, flow_end_fn on_end,
                                     void *user)
{
    char why[160];
    if (flow_table_config_check(config, why, sizeof(why)) != 0) {
        DD_ERROR("flow table: %s", why);
        return NULL;
    }
    struct flow_table *t = calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    t->cfg = *config;
    t->on_end = on_end;
    t->user = user;
    if (t->cfg.seed == 0)
        t->cfg.seed = dd_hash_seed(t);
    /* Eviction sampling must not depend on the (random) hash seed: output stays reproducible. */
    t->rng = 0xa5a5a5a5a5a5a5a5ull;

    uint32_t nbuckets = 16;
    while (nbuckets < config->capacity)
        nbuckets <<= 1;
    t->bucket_mask = nbuckets - 1;
    /* Anonymous mmap: zero pages on first touch, so slots never used cost no memory. (Huge
     * pages were measured slower here: first-touch zeroing dominates either way.) */
    t->slots_bytes = (size_t)config->capacity * sizeof(struct flow);
    t->slots =
        mmap(NULL, t->slots_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t->slots == MAP_FAILED) {
        t->slots = NULL;
        goto fail;
    }
    t->buckets = malloc((size_t)nbuckets * sizeof(uint32_t));
    if (!t->buckets)
        goto fail;
    memset(t->buckets, 0xff, (size_t)nbuckets * sizeof(uint32_t));
    if (config->report_young_us) {
        uint32_t n = 4096;
        while (n < config->capacity / 4)
            n <<= 1;
        t->young = malloc((size_t)n * sizeof(*t->young)); /* pages touched as flows come */
        if (!t->young)
            goto fail;
        t->young_mask = n - 1;
    }
    t->free_head = SLOT_NONE;
    return t;

fail:
    DD_ERROR("flow table: cannot allocate %" PRIu32 " flows (%zu bytes each): out of memory",
             config->capacity, sizeof(struct flow));
    flow_table_destroy(t);
    return NULL;
}

void flow_table_destroy(struct flow_table *t)
{
    if (!t)
        return;
    if (t->slots)
        munmap(t->slots, t->slots_bytes);
    free(t->buckets);
    free(t->young);
    free(t);
}

static void chain_unlink(struct flow_table *t, uint32_t idx)
{
    struct flow *f = &t->slots[idx];
    uint32_t *link = &t->buckets[f->hash & t->bucket_mask];
    while (*link != idx)
        link = &t->slots[*link].chain_next;
    *link = f->chain_next;
}

/* Ends the flow in slot idx: reports it, unlinks it and returns the slot to the free stack. */
static void flow_end_slot(struct flow_table *t, uint32_t idx, enum flow_end why)
{
    struct flow *f = &t->slots[idx];
    t->stats.flows_ended[why]++;
    if (flow_packets(f) >= t->cfg.emit_min_packets) {
        t->stats.flows_emitted++;
        if (t->on_end)
            t->on_end(t->user, f, why);
    } else {
        t->stats.flows_suppressed++;
    }
    chain_unlink(t, idx);
    f->in_use = 0;
    f->chain_next = t->free_head;
    t->free_head = idx;
    t->stats.active--;
}

/* Picks the least recently seen of a few random in-use slots (approximated LRU, as Redis does
 * for maxmemory): O(1), no list maintenance on the hot path. */
static uint32_t evict_candidate(struct flow_table *t)
{
    uint32_t best = SLOT_NONE;
    for (int i = 0; i < FLOW_TABLE_EVICT_SAMPLES; i++) {
        uint32_t idx = (uint32_t)(dd_splitmix64(&t->rng) % t->high_water);
        const struct flow *f = &t->slots[idx];
        if (f->in_use && (best == SLOT_NONE || f->last_ts < t->slots[best].last_ts))
            best = idx;
    }
    if (best == SLOT_NONE) { /* unlucky sampling of a full table is impossible; be safe */
        for (uint32_t i = 0; i < t->high_water; i++)
            if (t->slots[i].in_use)
                return i;
    }
    return best;
}

static uint32_t slot_alloc(struct flow_table *t)
{
    if (t->free_head != SLOT_NONE) {
        uint32_t idx = t->free_head;
        t->free_head = t->slots[idx].chain_next;
        return idx;
    }
    if (t->high_water < t->cfg.capacity)
        return t->high_water++;
    t->stats.evictions++;
    flow_end_slot(t, evict_candidate(t), FLOW_END_EVICTED);
    uint32_t idx = t->free_head;
    t->free_head = t->slots[idx].chain_next;
    return idx;
}

static struct flow *flow_create(struct flow_table *t, const struct flow_key *key, uint32_t hash,
                                const struct flow_pkt *fp)
{
    uint32_t idx = slot_alloc(t);
    struct flow *f = &t->slots[idx];
    flow_start(f, key, t->cfg.mode, fp);
    f->in_use = 1;
    f->hash = hash;
    uint32_t *head = &t->buckets[hash & t->bucket_mask];
    f->chain_next = *head;
    *head = idx;
    t->stats.flows_created++;
    if (t->young && t->on_report) {
        if (t->young_tail - t->young_head <= t->young_mask)
            t->young[t->young_tail++ & t->young_mask] =
                (struct young_entry){.idx = idx, .first_lo = (uint32_t)f->first_ts};
        else
            t->stats.young_unqueued++;
    }
    if (++t->stats.active > t->stats.peak_active)
        t->stats.peak_active = t->stats.active;
    return f;
}

static inline bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* Why a flow's time is up at `now`, or FLOW_END_COUNT if it is not. */
static enum flow_end flow_deadline_passed(const struct flow_table *t, const struct flow *f,
                                          uint64_t now)
{
    if (now > f->first_ts && now - f->first_ts > t->cfg.active_timeout_us)
        return FLOW_END_ACTIVE;
    /* cic has no idle timeout by default, but honours one when asked (--idle-timeout). */
    if (t->cfg.idle_timeout_us && now > f->last_ts && now - f->last_ts > t->cfg.idle_timeout_us)
        return FLOW_END_IDLE;
    if (t->cfg.mode == FEAT_MODE_CIC)
        return FLOW_END_COUNT;
    if ((f->tcp_state & FLOW_TCP_CLOSED) ||
        (f->tcp_state & (FLOW_TCP_FIN_FWD | FLOW_TCP_FIN_BWD)) ==
            (FLOW_TCP_FIN_FWD | FLOW_TCP_FIN_BWD)) {
        uint64_t closed_at = f->first_ts + f->close_off;
        if (now > closed_at && now - closed_at >= t->cfg.close_linger_us)
            return (f->tcp_state & FLOW_TCP_RST) ? FLOW_END_RST : FLOW_END_FIN;
    }
    return FLOW_END_COUNT;
}

/* fixed mode: track the TCP teardown of f after packet fp was added. */
static void flow_tcp_track(struct flow *f, const struct flow_pkt *fp, bool fwd)
{
    const uint8_t both = FLOW_TCP_FIN_FWD | FLOW_TCP_FIN_BWD;
    uint8_t before = f->tcp_state;
    uint32_t off = (uint32_t)(f->last_ts - f->first_ts);
    if (fp->tcp_flags & TCP_RST) {
        f->tcp_state |= FLOW_TCP_RST | FLOW_TCP_CLOSED;
    } else if (fp->tcp_flags & TCP_FIN) {
        f->tcp_state |= fwd ? FLOW_TCP_FIN_FWD : FLOW_TCP_FIN_BWD;
    } else if ((before & both) == both && (fp->tcp_flags & TCP_ACK)) {
        f->tcp_state |= FLOW_TCP_CLOSED; /* the last ACK of the teardown */
    }
    if (f->tcp_state != before)
        f->close_off = off;
}

void flow_table_set_report(struct flow_table *t, flow_report_fn on_report, void *user)
{
    t->on_report = on_report;
    t->report_user = user;
}

/* Reports a running flow when it is due (after its first packets, then at intervals). */
static void flow_maybe_report(struct flow_table *t, struct flow *f)
{
    uint32_t n = flow_packets(f);
    uint32_t off = (uint32_t)(f->last_ts - f->first_ts);
    bool due = (t->cfg.report_first_packets && n == t->cfg.report_first_packets) ||
               (t->cfg.report_interval_us && off - f->report_off >= t->cfg.report_interval_us);
    if (!due)
        return;
    f->report_off = off;
    t->stats.reports++;
    t->on_report(t->report_user, f); /* sees the previous report's pkts_at_report */
    f->pkts_at_report = n;
    f->user_tag = 0;
}

/* The body of flow_table_add once the key and hash are known. */
static struct flow *flow_table_add_keyed(struct flow_table *t, const struct flow_key *key,
                                         const struct flow_pkt *fp, uint32_t hash)
{
    const bool cic = t->cfg.mode == FEAT_MODE_CIC;
    uint32_t idx = t->buckets[hash & t->bucket_mask];
    while (idx != SLOT_NONE) {
        const struct flow *c = &t->slots[idx];
        if (c->hash == hash && key_equal(&c->key, key))
            break;
        idx = c->chain_next;
    }

    struct flow *f;
    if (idx == SLOT_NONE) {
        f = flow_create(t, key, hash, fp); /* its first packet defines forward */
    } else {
        f = &t->slots[idx];
        enum flow_end due = flow_deadline_passed(t, f, fp->ts);
        bool new_syn = !cic && (fp->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
                       (f->tcp_state & (FLOW_TCP_CLOSED | FLOW_TCP_FIN_FWD | FLOW_TCP_FIN_BWD));
        if (due == FLOW_END_COUNT && new_syn)
            due = (f->tcp_state & FLOW_TCP_RST) ? FLOW_END_RST : FLOW_END_FIN;
        if (due != FLOW_END_COUNT) {
            /* cic: the continuation flow inherits the old flow's orientation and books its
             * first packet as forward whatever its direction (§4.2). */
            uint8_t inherited_fwd = f->fwd_ep;
            flow_end_slot(t, idx, due);
            f = flow_create(t, key, hash, fp);
            if (cic && due == FLOW_END_ACTIVE)
                f->fwd_ep = inherited_fwd;
        } else {
            bool fwd = flow_add_packet(f, fp, t->cfg.activity_timeout_us);
            if (cic) {
                /* cic: the first FIN in either direction ends the flow, FIN included (§4.3). */
                if (fp->tcp_flags & TCP_FIN) {
                    flow_end_slot(t, idx, FLOW_END_FIN);
                    return NULL;
                }
            } else if (key->proto == IPPROTO_NUM_TCP) {
                flow_tcp_track(f, fp, fwd);
            }
        }
    }
    if (t->on_report)
        flow_maybe_report(t, f);
    return f;
}

/* Counts the packet and builds its key; false when the packet is not part of this mode. */
static bool flow_table_admit(struct flow_table *t, const struct pkt_info *p, uint64_t ts,
                             struct flow_key *key, struct flow_pkt *fp)
{
    t->stats.packets++;
    if (ts >= t->now) {
        t->now = ts;
    } else {
        t->stats.ts_backwards++;
        /* A jump back by more than the active timeout is a new era (captures merged across
         * years, or inputs read one after another): follow it, or the sweep would judge this
         * era's flows by the other era's clock and end them at once. */
        if (t->now - ts > t->cfg.active_timeout_us) {
            t->now = ts;
            t->sweep_last = ts;
            t->stats.clock_jumps++;
        }
    }
    if (!flow_key_from_packet(t->cfg.mode, p, ts, key, fp)) {
        t->stats.packets_skipped++;
        return false;
    }
    return true;
}

struct flow *flow_table_add(struct flow_table *t, const struct pkt_info *p, uint64_t ts)
{
    struct flow_key key;
    struct flow_pkt fp;
    if (!flow_table_admit(t, p, ts, &key, &fp))
        return NULL;
    return flow_table_add_keyed(t, &key, &fp, flow_key_hash(&key, t->cfg.seed));
}

void flow_table_add_burst(struct flow_table *t, const struct pkt_info *pkts, const uint64_t *ts,
                          size_t n, uint8_t *created)
{
    struct flow_key keys[FLOW_TABLE_BURST];
    struct flow_pkt fps[FLOW_TABLE_BURST];
    uint32_t hashes[FLOW_TABLE_BURST];
    uint8_t admitted[FLOW_TABLE_BURST];

    while (n > 0) {
        size_t m = n < FLOW_TABLE_BURST ? n : FLOW_TABLE_BURST;
        /* Pass 1: keys and hashes; start loading the bucket heads. */
        for (size_t i = 0; i < m; i++) {
            admitted[i] = flow_table_admit(t, &pkts[i], ts[i], &keys[i], &fps[i]);
            if (admitted[i]) {
                hashes[i] = flow_key_hash(&keys[i], t->cfg.seed);
                __builtin_prefetch(&t->buckets[hashes[i] & t->bucket_mask]);
            }
        }
        /* Pass 2: start loading the first flow of each chain while the other heads arrive:
         * all of it, not only the head lines with the hash, key and times, because the update
         * touches its statistics all over (measured: ddos-flows' flow-table time -10 %). */
        for (size_t i = 0; i < m; i++) {
            if (!admitted[i])
                continue;
            uint32_t idx = t->buckets[hashes[i] & t->bucket_mask];
            if (idx != SLOT_NONE) {
                const char *f = (const char *)&t->slots[idx];
                for (size_t l = 0; l < sizeof(struct flow); l += 64)
                    __builtin_prefetch(f + l, 1);
                __builtin_prefetch(f + sizeof(struct flow) - 1, 1);
            }
        }
        /* Pass 3: the real work, in packet order (prefetches are only hints). */
        for (size_t i = 0; i < m; i++) {
            uint64_t before = t->stats.flows_created;
            if (admitted[i])
                (void)flow_table_add_keyed(t, &keys[i], &fps[i], hashes[i]);
            if (created)
                created[i] = t->stats.flows_created != before;
        }
        pkts += m;
        ts += m;
        n -= m;
        if (created)
            created += m;
    }
}

/* Reports the queued flows that reached report_young_us without a report. */
static void young_reports(struct flow_table *t, uint64_t now)
{
    while (t->young_head != t->young_tail) {
        if (t->young_tail - t->young_head > SWEEP_AHEAD) /* the slot of an entry ahead */
            __builtin_prefetch(
                &t->slots[t->young[(t->young_head + SWEEP_AHEAD) & t->young_mask].idx]);
        const struct young_entry *y = &t->young[t->young_head & t->young_mask];
        struct flow *f = &t->slots[y->idx];
        /* A flow with these low bits that started 2^32 us (71 min) apart cannot still be
         * queued: entries leave the FIFO report_young_us after their flow started. */
        bool same = f->in_use && (uint32_t)f->first_ts == y->first_lo;
        if (same && f->first_ts + t->cfg.report_young_us > now)
            break;
        t->young_head++;
        if (!same || f->pkts_at_report != 0)
            continue; /* ended, replaced, or reported already */
        f->report_off = (uint32_t)(f->last_ts - f->first_ts);
        t->stats.reports++;
        t->stats.young_reports++;
        t->on_report(t->report_user, f);
        f->pkts_at_report = flow_packets(f);
        f->user_tag = 0;
    }
}

size_t flow_table_expire(struct flow_table *t, uint64_t now, size_t budget)
{
    if (t->young && t->on_report)
        young_reports(t, now);
    if (t->sweep_last == 0 || now < t->sweep_last)
        t->sweep_last = now;
    /* Owe the sweep a share of the used slots proportional to the packet time that passed. */
    t->sweep_credit +=
        (double)t->high_water * (double)(now - t->sweep_last) / (double)t->cfg.sweep_period_us;
    t->sweep_last = now;
    if (t->sweep_credit > t->high_water)
        t->sweep_credit = t->high_water;
    size_t scan = (size_t)t->sweep_credit;
    if (scan > budget)
        scan = budget;
    if (scan == 0 || t->high_water == 0)
        return 0;
    t->sweep_credit -= (double)scan;

    size_t ended = 0;
    for (size_t i = 0; i < scan; i++) {
        if (t->sweep_cursor >= t->high_water)
            t->sweep_cursor = 0;
        uint32_t idx = t->sweep_cursor++;
        /* Slots are 488 bytes apart, each a miss of its own: ask for the ones ahead. */
        if (idx + SWEEP_AHEAD < t->high_water)
            __builtin_prefetch(&t->slots[idx + SWEEP_AHEAD]);
        struct flow *f = &t->slots[idx];
        if (!f->in_use)
            continue;
        enum flow_end due = flow_deadline_passed(t, f, now);
        if (due != FLOW_END_COUNT) {
            flow_end_slot(t, idx, due);
            ended++;
        }
    }
    return ended;
}

void flow_table_flush(struct flow_table *t)
{
    for (uint32_t i = 0; i < t->high_water; i++) {
        if (i + SWEEP_AHEAD < t->high_water)
            __builtin_prefetch(&t->slots[i + SWEEP_AHEAD]);
        if (t->slots[i].in_use)
            flow_end_slot(t, i, FLOW_END_FLUSH);
    }
    t->young_head = t->young_tail; /* every queued flow ended */
    /* An empty table starts a new stream: the next input's clock is its own. */
    t->now = 0;
    t->sweep_last = 0;
    t->sweep_credit = 0;
}

void flow_table_foreach(struct flow_table *t, void (*fn)(void *user, struct flow *f), void *user)
{
    for (uint32_t i = 0; i < t->high_water; i++)
        if (t->slots[i].in_use)
            fn(user, &t->slots[i]);
}

uint32_t flow_table_slot_of(const struct flow_table *t, const struct flow *f)
{
    return (uint32_t)(f - t->slots);
}

struct flow *flow_table_slot_flow(struct flow_table *t, uint32_t slot)
{
    if (slot >= t->high_water || !t->slots[slot].in_use)
        return NULL;
    return &t->slots[slot];
}

void flow_table_prefetch_slot(const struct flow_table *t, uint32_t slot)
{
    if (slot < t->high_water)
        __builtin_prefetch(&t->slots[slot]);
}

const struct flow_table_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->stats;
}

const struct flow_table_config *flow_table_config(const struct flow_table *t)
{
    return &t->cfg;
}

size_t flow_table_memory(const struct flow_table *t)
{
    return (size_t)t->cfg.capacity * sizeof(struct flow) +
           ((size_t)t->bucket_mask + 1) * sizeof(uint32_t);
}

uint64_t flow_table_now(const struct flow_table *t)
{
    return t->now;
}
