/* shard.c - the capture side of ddosd: the offline reader and the shard threads.
 *
 * Owns: every shard thread, their flow tables and rate rules, and (offline) the burst rings from
 * the reader to the shards; it starts the reader (app/reader.c) on them. See app/daemon.h for
 * the whole pipeline.
 *
 * DESIGN: a shard runs to completion: packets in, flow table and rate rules updated, flow ends
 * and snapshots out as feature records, without a hand-off per packet. The workers send back a
 * note of each snapshot they scored benign (struct score_note); a flow that then ends with no
 * packet since goes out with that score instead of its vector (nothing to score again).
 *   - Live: each shard opens its own libpcap handle on every interface; with several shards the
 *     handles join one AF_PACKET fanout group per interface, so the kernel spreads flows over
 *     shards by a symmetric hash. The shard decodes what it reads.
 *   - Offline: one reader thread reads the captures in order and decodes them, and sends each
 *     packet to the shard its flow hashes to (the same canonical key the table uses, so both
 *     directions meet). One shard is still fed by the reader: reading and decoding overlap with
 *     the flow table (that split made ddos-flows 1.5x faster, docs/performance.md).
 * Rate rules are per shard. With N shards each sees about 1/N of an address's traffic, so each
 * shard's thresholds are the configured ones divided by N (ratios are not divided).
 *
 * Time: packet time drives the tables (a replay is deterministic). A live shard with a quiet
 * link also advances them with the wall clock so flows still expire and alerts still end. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/daemon.h"
#include "app/reader.h"
#include "common/log.h"
#include "features/flow.h"

enum {
    EXPIRE_BUDGET = 65536,  /* slots per housekeeping (every 100 ms of packet time) */
    RULES_TICK_US = 100000, /* rate rules are evaluated every 100 ms of packet time */
    RULES_BUDGET = 8192,
    ALERTS_MAX = 256,
};

#define RELAXED       memory_order_relaxed
#define PUB(field, v) atomic_store_explicit(&(field), (v), RELAXED)
#define ADD(field, v) atomic_fetch_add_explicit(&(field), (v), RELAXED)

static bool stopping(const struct daemon *d)
{
    return atomic_load_explicit(&d->stop_capture, memory_order_acquire);
}

/* ---- records out ------------------------------------------------------------------------ */

/* Pushes the gathered records to the next worker. Offline it waits for room (nothing is lost);
 * live it drops what does not fit and counts it. */
static void shard_flush_batch(struct shard *s)
{
    if (s->nbatch == 0)
        return;
    struct daemon *d = s->d;
    struct ring_spsc *ring = s->to_worker[s->next_worker];
    s->next_worker = (s->next_worker + 1) % d->nworkers;
    size_t done = 0;
    unsigned spins = 0;
    while (done < s->nbatch) {
        done += ring_spsc_push_burst(ring, s->batch + done, s->nbatch - done);
        if (done == s->nbatch)
            break;
        if (d->live && !stopping(d)) { /* the shutdown flush waits: nothing arrives any more */
            ADD(s->records_dropped, s->nbatch - done);
            break;
        }
        ring_spsc_backoff(&spins);
    }
    ADD(s->records_out, done);
    s->nbatch = 0;
}

static void shard_emit(struct shard *s, const struct flow *f, uint8_t end)
{
    struct flow_record *r = &s->batch[s->nbatch];
    struct flow_evidence *e = &r->ev;
    memset(e, 0, sizeof(*e));
    memcpy(e->src, flow_src_addr(f), 16);
    memcpy(e->dst, flow_dst_addr(f), 16);
    e->ip_version = f->key.ip_version;
    e->proto = f->key.proto;
    e->final = end != FLOW_RECORD_SNAPSHOT;
    e->sport = flow_src_port(f);
    e->dport = flow_dst_port(f);
    uint64_t pkts = flow_packets(f);
    e->packets = pkts;
    /* IP lengths: payload and L4 headers as counted, plus the minimal IP header. */
    int64_t hdr = f->dir[0].hdr_sum + f->dir[1].hdr_sum;
    e->bytes = f->dir[0].bytes + f->dir[1].bytes + (uint64_t)(hdr > 0 ? hdr : 0) +
               pkts * (f->key.ip_version == 6 ? 40u : 20u);
    uint64_t fresh = pkts > f->pkts_at_report ? pkts - f->pkts_at_report : 0;
    e->new_packets = fresh;
    e->new_bytes = pkts ? (uint64_t)((double)e->bytes * (double)fresh / (double)pkts) : 0;
    e->first_us = f->first_ts;
    e->emit_us = flow_table_now(s->table);
    e->first_report = f->pkts_at_report == 0;
    e->last_us = f->last_ts;
    e->fwd_packets = f->dir[0].pkts;
    e->bwd_packets = f->dir[1].pkts;
    if (f->key.proto == 6) {
        e->first_flags = f->first_flags;
        for (unsigned k = 0; k < 8; k++)
            if (f->flag_cnt[k])
                e->flags_seen |= (uint8_t)(1u << k);
    }
    e->icmp_type = f->icmp_type;
    e->icmp_code = f->icmp_code;
    e->fwd_payload = f->dir[0].bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)f->dir[0].bytes;
    e->bwd_payload = f->dir[1].bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)f->dir[1].bytes;
    r->end = end;
    r->shard = (uint8_t)s->id;
    r->slot = flow_table_slot_of(s->table, f);
    /* An end with no packet since a report the model scored benign (the note came back): its
     * vector is that report's, so is its score. Most short flows end so, an idle timeout after
     * their young report. --flows-out writes every record's vector: then everything is scored. */
    r->prescored =
        end != FLOW_RECORD_SNAPSHOT && fresh == 0 && f->user_tag != 0 && !s->d->opt->flows_out &&
        f->user_tag == SCORE_TAG(atomic_load_explicit(&s->d->model_gen, memory_order_acquire));
    if (r->prescored) {
        e->p_attack = f->user_score;
        e->is_attack = 0;
        ADD(s->prescored, 1);
    } else {
        flow_features_compute(f, r->feat);
    }
    if (++s->nbatch == DD_RECORD_BATCH)
        shard_flush_batch(s);
}

/* Takes the workers' notes of snapshots they scored benign (struct score_note): a note is kept
 * in its flow while the flow is the same one and that snapshot is still its latest report. */
static void shard_take_notes(struct shard *s)
{
    struct score_note notes[256];
    for (unsigned w = 0; w < s->d->nworkers; w++) {
        size_t n;
        do {
            n = ring_spsc_pop_burst(s->from_worker[w], notes, DD_ARRAY_LEN(notes));
            /* Each note's flow is a cache miss (its snapshot left the shard long ago): ask for
             * them all before looking at the first. */
            for (size_t i = 0; i < n; i++)
                flow_table_prefetch_slot(s->table, notes[i].slot);
            for (size_t i = 0; i < n; i++) {
                struct flow *f = flow_table_slot_flow(s->table, notes[i].slot);
                if (f && f->first_ts == notes[i].first_us &&
                    f->pkts_at_report == notes[i].packets) {
                    f->user_tag = notes[i].tag;
                    f->user_score = notes[i].p_attack;
                }
            }
        } while (n == DD_ARRAY_LEN(notes));
    }
}

static void shard_on_end(void *user, const struct flow *f, enum flow_end why)
{
    shard_emit(user, f, (uint8_t)why);
}

static void shard_on_report(void *user, const struct flow *f)
{
    struct shard *s = user;
    ADD(s->snapshots, 1);
    shard_emit(s, f, FLOW_RECORD_SNAPSHOT);
}

/* ---- rate rules ----------------------------------------------------------------------- */

/* Alerts join the record stream (see FLOW_RECORD_ALERT); a live drop of the batch counts them
 * as records. */
static void shard_push_alerts(struct shard *s, const struct rate_alert *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct flow_record *r = &s->batch[s->nbatch];
        r->end = FLOW_RECORD_ALERT;
        r->shard = (uint8_t)s->id;
        r->alert = a[i];
        if (++s->nbatch == DD_RECORD_BATCH)
            shard_flush_batch(s);
    }
    ADD(s->alerts_out, n);
}

static void shard_rules_tick(struct shard *s, uint64_t now_us)
{
    struct rate_alert alerts[ALERTS_MAX];
    size_t n;
    do {
        n = rate_rules_tick(s->rules, now_us, alerts, ALERTS_MAX, RULES_BUDGET);
        shard_push_alerts(s, alerts, n);
    } while (n == ALERTS_MAX);
    struct rate_rules_stats st;
    rate_rules_stats_get(s->rules, &st);
    PUB(s->rate_ips, st.tracked_ips);
    PUB(s->rate_evictions, st.evictions);
    PUB(s->rate_alerting, st.alerting);
    PUB(s->rate_full_ips, st.full_ips);
    PUB(s->rate_promotions, st.promotions);
    PUB(s->rate_promote_failed, st.promote_failed);
    PUB(s->rate_demotions, st.demotions);
    PUB(s->rate_clock_resets, st.clock_resets);
}

/* Builds this shard's rules from cfg: thresholds that measure a share of the traffic (rates,
 * distinct sources) are divided by the number of shards. A shallow copy: everything but the
 * threshold values and the host group array is borrowed from cfg. */
static struct ddosd_config *shard_rules_config(const struct ddosd_config *cfg, unsigned nshards)
{
    struct ddosd_config *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    *c = *cfg;
    if (nshards <= 1)
        return c;
    size_t ng = cfg->rules.hostgroups.n;
    c->rules.hostgroups.items = NULL;
    if (ng) {
        c->rules.hostgroups.items = malloc(ng * sizeof(*c->rules.hostgroups.items));
        if (!c->rules.hostgroups.items) {
            free(c);
            return NULL;
        }
        memcpy(c->rules.hostgroups.items, cfg->rules.hostgroups.items,
               ng * sizeof(*c->rules.hostgroups.items));
    }
    double k = 1.0 / nshards;
    struct config_thresholds *all[2 + 2 * CONFIG_HOSTGROUPS_MAX];
    size_t na = 0;
    all[na++] = &c->rules.victim;
    all[na++] = &c->rules.attacker;
    for (size_t g = 0; g < ng; g++) {
        all[na++] = &c->rules.hostgroups.items[g].victim;
        all[na++] = &c->rules.hostgroups.items[g].attacker;
    }
    for (size_t i = 0; i < na; i++) {
        all[i]->pps *= k;
        all[i]->bps *= k;
        all[i]->syn_per_s *= k;
        all[i]->new_flows_per_s *= k;
        all[i]->distinct_sources *= k;
        all[i]->reflector_pps *= k;
        all[i]->icmp_errors_per_s *= k;
        all[i]->fragments_per_s *= k;
    }
    return c;
}

static void shard_rules_config_free(struct ddosd_config *c, unsigned nshards)
{
    if (!c)
        return;
    if (nshards > 1)
        free(c->rules.hostgroups.items);
    free(c);
}

/* A reload published a new configuration: switch this shard's rules to it. The old copy is
 * freed here, by the only thread that used it. */
static void shard_follow_config(struct shard *s)
{
    struct daemon *d = s->d;
    uint64_t gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
    if (gen == s->rules_gen)
        return;
    struct ddosd_config *cfg = atomic_load_explicit(&d->cfg_published, memory_order_acquire);
    struct ddosd_config *mine = shard_rules_config(cfg, d->nshards);
    if (!mine) {
        DD_ERROR("shard %u: out of memory applying the new rules; keeping the old ones", s->id);
        s->rules_gen = gen;
        return;
    }
    rate_rules_set_config(s->rules, mine);
    shard_rules_config_free(s->rules_cfg, d->nshards);
    s->rules_cfg = mine;
    s->rules_gen = gen;
}

/* ---- the shard loop --------------------------------------------------------------------- */

static void shard_publish(struct shard *s)
{
    const struct flow_table_stats *ts = flow_table_stats(s->table);
    PUB(s->flows_created, ts->flows_created);
    PUB(s->flows_emitted, ts->flows_emitted);
    PUB(s->flows_suppressed, ts->flows_suppressed);
    PUB(s->evictions, ts->evictions);
    PUB(s->flows_active, ts->active);
    for (int i = 0; i < FLOW_END_COUNT; i++)
        PUB(s->flows_ended[i], ts->flows_ended[i]);
    PUB(s->clock_us, flow_table_now(s->table));
}

/* Expiry, young-flow reports and rate-rule evaluation, at packet time `now`. */
static void shard_housekeeping(struct shard *s, uint64_t now)
{
    (void)flow_table_expire(s->table, now, EXPIRE_BUDGET);
    shard_rules_tick(s, now);
}

/* Accounts n decoded packets: flow table, then rate rules (both in prefetching groups).
 * Housekeeping runs at every RULES_TICK_US boundary of packet time, between the packets before
 * and after it, never at burst ends: bursts are cut where the reader happened to be (pacing,
 * pauses), and what a snapshot or an alert contains must not depend on that. */
static void shard_packets(struct shard *s, const struct pkt_info *pkts, const uint64_t *ts,
                          size_t n, uint64_t *next_tick)
{
    uint8_t created[DD_BURST];
    while (n > 0) {
        if (*next_tick == 0)
            *next_tick = (ts[0] / RULES_TICK_US + 1) * RULES_TICK_US;
        size_t m = 0;
        while (m < n && m < DD_BURST && ts[m] < *next_tick)
            m++;
        if (m) {
            flow_table_add_burst(s->table, pkts, ts, m, created);
            rate_rules_packet_burst(s->rules, pkts, ts, created, m);
            pkts += m;
            ts += m;
            n -= m;
        }
        if (n > 0 && ts[0] >= *next_tick) {
            uint64_t at = *next_tick;
            if (ts[0] - at > 100 * RULES_TICK_US) /* a gap in packet time: skip to it */
                at = ts[0] / RULES_TICK_US * RULES_TICK_US;
            shard_housekeeping(s, at);
            *next_tick = at + RULES_TICK_US;
        }
    }
}

/* Live: decode straight into the shard's local burst. */
struct live_burst {
    struct shard *s;
    int linktype;
    uint32_t n;
    uint64_t packets, bytes;
    uint64_t decode[DECODE_STATUS_COUNT];
    struct pkt_info pkts[DD_BURST];
    uint64_t ts[DD_BURST];
};

static void live_on_packet(void *user, const struct capture_packet *pkt)
{
    struct live_burst *b = user;
    b->packets++;
    b->bytes += pkt->wire_len;
    enum decode_status st =
        decode_packet(b->linktype, pkt->data, pkt->caplen, pkt->wire_len, &b->pkts[b->n]);
    b->decode[st]++;
    if (st == DECODE_OK)
        b->ts[b->n++] = pkt->ts_us;
}

static void shard_kernel_stats(struct shard *s)
{
    uint64_t rx = 0, drop = 0, ifdrop = 0;
    for (unsigned i = 0; i < s->nsources; i++) {
        struct capture_kernel_stats ks;
        if (capture_source_kernel_stats(s->sources[i], &ks) == 0) {
            rx += ks.received;
            drop += ks.dropped;
            ifdrop += ks.if_dropped;
        }
    }
    PUB(s->cap.kernel_received, rx);
    PUB(s->cap.kernel_dropped, drop);
    PUB(s->cap.if_dropped, ifdrop);
}

static void shard_run_live(struct shard *s)
{
    static _Thread_local struct live_burst b; /* 17 KB: off the stack, once per thread */
    b.s = s;
    uint64_t next_tick = 0;
    double next_stats = 0;
    while (!stopping(s->d) && !atomic_load_explicit(&s->failed, RELAXED)) {
        shard_follow_config(s);
        shard_take_notes(s);
        bool any = false;
        for (unsigned i = 0; i < s->nsources; i++) {
            b.n = 0;
            b.linktype = capture_source_linktype(s->sources[i]);
            int rc = capture_source_dispatch(s->sources[i], DD_BURST, live_on_packet, &b);
            if (rc == CAPTURE_FAILED) {
                DD_ERROR("shard %u: %s; capture on this shard stopped", s->id,
                         capture_source_error(s->sources[i]));
                atomic_store_explicit(&s->failed, true, RELAXED);
                break;
            }
            if (b.n) {
                any = true;
                shard_packets(s, b.pkts, b.ts, b.n, &next_tick);
            }
        }
        PUB(s->cap.packets, b.packets);
        PUB(s->cap.bytes, b.bytes);
        for (int k = 0; k < DECODE_STATUS_COUNT; k++)
            PUB(s->cap.decode[k], b.decode[k]);
        if (!any) {
            /* A quiet link: let the wall clock expire flows and end alerts. */
            uint64_t now = dd_realtime_us();
            if (now > flow_table_now(s->table) && now >= next_tick) {
                shard_housekeeping(s, now);
                next_tick = now + RULES_TICK_US;
            }
        }
        shard_flush_batch(s);
        shard_publish(s);
        double w = dd_mono_s();
        if (w >= next_stats) {
            shard_kernel_stats(s);
            next_stats = w + 1.0;
        }
    }
    shard_kernel_stats(s);
}

static void shard_run_offline(struct shard *s)
{
    uint64_t next_tick = 0;
    unsigned spins = 0;
    for (;;) {
        struct pkt_burst *b = burst_ring_next(&s->in);
        if (!b) {
            shard_flush_batch(s); /* nothing more is coming soon: hand over what we have */
            ring_spsc_backoff(&spins);
            continue;
        }
        spins = 0;
        uint8_t kind = b->kind;
        if (kind == BURST_PACKETS) {
            shard_follow_config(s);
            shard_take_notes(s);
            shard_packets(s, b->pkts, b->ts, b->n, &next_tick);
            shard_publish(s);
        }
        burst_ring_release(&s->in, b);
        if (kind == BURST_ALL_END)
            break;
    }
}

static void *shard_main(void *arg)
{
    struct shard *s = arg;
    char name[16];
    snprintf(name, sizeof(name), "dd-shard%u", s->id);
    pthread_setname_np(pthread_self(), name); /* `top -H` shows which stage is busy */
    if (s->d->live)
        shard_run_live(s);
    else
        shard_run_offline(s);
    /* Stop or end of input: every open flow is scored, the last alerts go out. */
    shard_take_notes(s);
    flow_table_flush(s->table);
    /* A shard that never saw a packet has no clock (and no rate entries): a tick at time 0 + one
     * interval would stamp its (empty) final round with a time from 1970. */
    if (flow_table_now(s->table) != 0)
        shard_rules_tick(s, flow_table_now(s->table) + RULES_TICK_US);
    shard_flush_batch(s);
    shard_publish(s);
    atomic_store_explicit(&s->done, true, memory_order_release);
    return NULL;
}

/* ---- the offline reader (app/reader.c) ------------------------------------------------ */

static void reader_on_damage(void *user, const char *msg, bool cut_short)
{
    (void)user;
    if (cut_short)
        DD_WARN("%s", msg);
    else
        DD_ERROR("%s", msg);
}

static int shards_start_reader(struct daemon *d)
{
    struct reader_config rc = {
        .files = d->files,
        .nfiles = d->nfiles,
        .capture = {.filter = d->cfg->capture.filter[0] ? d->cfg->capture.filter : NULL},
        .nouts = d->nshards,
        .mode = d->cfg->flows.mode == CONFIG_FLOWS_CIC ? FEAT_MODE_CIC : FEAT_MODE_FIXED,
        .realtime_speed = d->realtime_speed,
        .stop = &d->stop_capture,
        .on_damage = reader_on_damage,
    };
    for (unsigned i = 0; i < d->nshards; i++)
        rc.outs[i] = &d->shards[i].in;
    return reader_start(&d->reader, &rc);
}

/* ---- set-up and tear-down --------------------------------------------------------------- */

int shards_create(struct daemon *d, char *err, size_t err_len)
{
    const struct ddosd_config *cfg = d->cfg;
    d->shards = calloc(d->nshards, sizeof(*d->shards));
    if (!d->shards)
        goto nomem;
    struct flow_table_config tc;
    enum feat_mode mode = cfg->flows.mode == CONFIG_FLOWS_CIC ? FEAT_MODE_CIC : FEAT_MODE_FIXED;
    flow_table_config_defaults(&tc, mode);
    tc.capacity = (uint32_t)(cfg->flows.max_flows / d->nshards);
    if (tc.capacity < 1024)
        tc.capacity = 1024;
    tc.idle_timeout_us = (uint64_t)(cfg->flows.idle_timeout * 1e6);
    tc.active_timeout_us = (uint64_t)(cfg->flows.active_timeout * 1e6);
    /* A flow closed by FIN/FIN/ACK or RST is scored after 0.5 s instead of the extractor's 2 s
     * wait for stragglers: a SYN flood answered by RSTs is a stream of such flows, and their
     * scores are the model's first evidence (stragglers that late start a new flow). */
    tc.close_linger_us = 500000;
    tc.report_first_packets = (uint32_t)cfg->scoring.first_packets;
    tc.report_interval_us = (uint64_t)(cfg->scoring.interval * 1e6);
    /* Flows too short for first_packets (spoofed SYNs) are scored after one interval too. */
    tc.report_young_us = tc.report_interval_us;
    char why[256];
    if (flow_table_config_check(&tc, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "flows: %s", why);
        return -EINVAL;
    }
    /* Rate rules track up to a quarter of the flow capacity in addresses per shard. */
    uint32_t rule_ips = tc.capacity / 4 < 4096 ? 4096 : tc.capacity / 4;
    struct capture_options copts = {
        .filter = cfg->capture.filter[0] ? cfg->capture.filter : NULL,
        .snaplen = cfg->capture.snaplen,
        .promiscuous = cfg->capture.promiscuous,
        /* Not immediate: libpcap then uses TPACKET_V3, whose blocks hold packets at their own
         * size (V2's frames are snaplen-sized: 256 of them in 64 MiB on a link with offloads)
         * and are handed over whole, a wake-up per block instead of per packet. A block waits
         * at most timeout_ms on a quiet link, well inside the verdict latency budget. */
        .immediate = false,
        .buffer_mb = cfg->capture.buffer_mb,
        .timeout_ms = DD_LIVE_TIMEOUT_MS,
    };
    for (unsigned i = 0; i < d->nshards; i++) {
        struct shard *s = &d->shards[i];
        s->d = d;
        s->id = i;
        s->table = flow_table_create(&tc, shard_on_end, s);
        if (!s->table) {
            snprintf(err, err_len, "shard %u: cannot create the flow table (%" PRIu32 " flows)", i,
                     tc.capacity);
            return -ENOMEM;
        }
        flow_table_set_report(s->table, shard_on_report, s);
        s->rules_cfg = shard_rules_config(cfg, d->nshards);
        if (!s->rules_cfg)
            goto nomem;
        s->rules_gen = atomic_load(&d->cfg_gen);
        s->rules = rate_rules_create(s->rules_cfg, rule_ips);
        if (!s->rules) {
            snprintf(err, err_len, "shard %u: cannot create the rate rules", i);
            return -ENOMEM;
        }
        /* A replay's rules are keyed alike every run (DD_REPLAY_SEED); still empty here. */
        if (!d->live && rate_rules_set_seed(s->rules, DD_REPLAY_SEED) != 0) {
            snprintf(err, err_len, "shard %u: cannot seed the rate rules", i);
            return -EBUSY;
        }
        s->to_worker = calloc(d->nworkers, sizeof(*s->to_worker));
        s->from_worker = calloc(d->nworkers, sizeof(*s->from_worker));
        if (!s->to_worker || !s->from_worker)
            goto nomem;
        /* DD_RECORD_RING records per worker in all, shared by the shards (at least 1024 each).
         * A power of two, because the ring rounds up: 8192 + 512 used to become 16384 slots
         * of 816 bytes, 6.5 MB more than meant, touched by every long replay or flood. */
        uint32_t ring_cap = DD_RECORD_RING / d->nshards < 1024 ? 1024 : DD_RECORD_RING / d->nshards;
        while (ring_cap & (ring_cap - 1))
            ring_cap &= ring_cap - 1; /* down to a power of two */
        for (unsigned w = 0; w < d->nworkers; w++) {
            if (!(s->to_worker[w] = ring_spsc_create(ring_cap, sizeof(struct flow_record))))
                goto nomem;
            if (!(s->from_worker[w] = ring_spsc_create(DD_RECORD_RING, sizeof(struct score_note))))
                goto nomem;
        }
        if (d->live) {
            for (size_t k = 0; k < d->cfg->capture.interfaces.n; k++) {
                const char *ifname = d->cfg->capture.interfaces.items[k];
                /* Fanout group ids are per interface and per process. */
                copts.fanout_group = d->nshards > 1 ? (int)((getpid() + k * 131) & 0xffff) + 1 : 0;
                char cerr[CAPTURE_ERRBUF_SIZE];
                s->sources[s->nsources] = capture_source_open_live(ifname, &copts, cerr);
                if (!s->sources[s->nsources]) {
                    snprintf(err, err_len, "%s", cerr);
                    return -EIO;
                }
                s->nsources++;
            }
        } else {
            if (burst_ring_init(&s->in, DD_NBURSTS) != 0)
                goto nomem;
        }
    }
    DD_INFO("%u capture shard(s): %" PRIu32 " flows each (%zu MiB address space), %s", d->nshards,
            tc.capacity, flow_table_memory(d->shards[0].table) >> 20, d->live ? "live" : "offline");
    return 0;
nomem:
    snprintf(err, err_len, "out of memory setting up %u capture shards", d->nshards);
    return -ENOMEM;
}

int shards_start(struct daemon *d)
{
    for (unsigned i = 0; i < d->nshards; i++) {
        if (pthread_create(&d->shards[i].thread, NULL, shard_main, &d->shards[i]) != 0)
            return -EAGAIN;
        d->shards[i].started = true;
    }
    if (!d->live && shards_start_reader(d) != 0)
        return -EAGAIN;
    return 0;
}

void shards_break(struct daemon *d)
{
    atomic_store_explicit(&d->stop_capture, true, memory_order_release);
    for (unsigned i = 0; d->shards && d->live && i < d->nshards; i++)
        for (unsigned k = 0; k < d->shards[i].nsources; k++)
            capture_source_break(d->shards[i].sources[k]);
}

void shards_join(struct daemon *d)
{
    reader_join(&d->reader);
    for (unsigned i = 0; d->shards && i < d->nshards; i++)
        if (d->shards[i].started) {
            pthread_join(d->shards[i].thread, NULL);
            d->shards[i].started = false;
        }
}

void shards_destroy(struct daemon *d)
{
    if (!d->shards)
        return;
    for (unsigned i = 0; i < d->nshards; i++) {
        struct shard *s = &d->shards[i];
        flow_table_destroy(s->table);
        rate_rules_destroy(s->rules);
        shard_rules_config_free(s->rules_cfg, d->nshards);
        for (unsigned w = 0; s->to_worker && w < d->nworkers; w++)
            ring_spsc_destroy(s->to_worker[w]);
        for (unsigned w = 0; s->from_worker && w < d->nworkers; w++)
            ring_spsc_destroy(s->from_worker[w]);
        free(s->to_worker);
        free(s->from_worker);
        for (unsigned k = 0; k < s->nsources; k++)
            capture_source_close(s->sources[k]);
        burst_ring_destroy(&s->in);
    }
    free(d->shards);
    d->shards = NULL;
}
