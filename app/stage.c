/* stage.c - the verdict stage: one thread that turns scored flows, rate alerts and reports into
 * per-IP verdicts and sends them where operators and the gateway read them.
 *
 * Owns: the verdict table, the Redis sink, the notify hook, the --flows-out and --verdicts-out
 * files, and the peak-level memory behind --verdicts-out. Writes the verdict store (the API
 * reads it).
 *
 * DESIGN: the loop drains every worker's ring and every shard's alert ring, then the report
 * queue, advances the verdict table's clock (ticks coalesce publications), flushes the Redis
 * sink (which owns all network I/O and never blocks for long) and polls the notify hook. The
 * stage clock is packet time while captures play; after an offline replay it keeps moving with
 * the wall clock from the last packet's time, so verdicts then age and expire as they would live.
 *
 * Counters for the others are copied under stats_lock a few times a second. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/daemon.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/log_limit.h"
#include "features/flow_csv.h"
#include "verdicts/redis_conn.h"
#include "verdicts/redis_thread.h"
#include "verdicts/verdict_json.h"

enum {
    STAGE_BATCH = 64,
    TICK_EVERY_MS = 10,      /* wall-clock ticks (live, and after a replay) */
    TICK_PACKET_US = 100000, /* evidence-time ticks (stage_advance) */
    STATS_EVERY_MS = 100,
    EXPIRE_EVERY_MS = 1000,
    EVENT_JSON_MAX = 8192,
    SAMPLE_EVERY_US = 1000000, /* incident samples for the dashboard: one per second */
    STAGE_REPORTED_MAX = 256,  /* reported addresses whose next verdict is written in full */
};
/* Attack-event log lines: a burst of 20, then 2 a second; the rest are counted and said in one
 * "suppressed" line (every event stays in the trail: /api/events, and in ddos:events). */
#define EVENT_LOG_PER_S 2.0
#define EVENT_LOG_BURST 20.0
/* How long the end of a run waits for Redis to take what is queued: a replay as long as it takes
 * (within reason) so nothing it judged is lost; a stop by signal within the 5 s a service
 * manager allows for the whole stop. */
#define STAGE_REPLAY_DRAIN_MS     60000u
#define STAGE_SIGNAL_DRAIN_MS     2000u
#define STAGE_SIGNAL_DRAIN_MIN_MS 200u

/* --verdicts-out keeps, per IP, the highest level it ever reached and when it first reached each
 * level (packet time): the evaluation asks how soon a victim was flagged, not only how it ended. */
struct peak_entry {
    uint8_t ip[16];
    uint8_t version; /* 0: free */
    uint8_t peak;
    uint64_t first_at[4]; /* first time at level i (0: never); [0] unused */
};

struct stage {
    struct daemon *d;
    struct verdict_table *table;
    struct redis_thread *redis;          /* the Redis I/O thread: the stage only hands over */
    struct redis_sink_stats redis_final; /* its last counters, once it has stopped */
    bool redis_stopped;
    uint64_t stop_seen_ms; /* when the stage first saw a stop signal (0: none yet) */
    bool redis_checked;    /* stage_redis_first_check has spoken (or found Redis up) */
    struct notify *notify;
    FILE *flows_out;
    struct peak_entry *peaks;
    uint32_t peaks_mask;
    uint64_t peaks_full;
    uint64_t flows_in, alerts_in, reports_in, flows_out_rows, flows_out_errors;
    /* Addresses reported since their verdict was last published (a few; see on_verdict). */
    struct reported_addr {
        uint8_t ip[16];
        uint8_t version;
    } reported[STAGE_REPORTED_MAX];
    uint32_t nreported, reported_next;
    uint64_t cfg_gen, model_gen;
    uint64_t ttl_us;
    uint64_t next_tick_us;      /* the next evidence-time tick */
    uint64_t end_clock_us;      /* offline: the stage clock when the last record arrived */
    uint64_t next_sample_us;    /* the next incident sample (stage clock) */
    struct log_limit event_log; /* attack-event lines in app.log */
    double end_wall;
    enum feat_mode mode;
};

/* ---- peaks for --verdicts-out ---------------------------------------------------------- */

static struct peak_entry *peak_find(struct stage *st, const struct verdict *v)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ v->ip[i]) * 1099511628211ull;
    for (uint32_t probe = 0; probe <= st->peaks_mask; probe++) {
        struct peak_entry *p = &st->peaks[(h + probe) & st->peaks_mask];
        if (p->version == 0) {
            memcpy(p->ip, v->ip, 16);
            p->version = v->ip_version;
            return p;
        }
        if (p->version == v->ip_version && memcmp(p->ip, v->ip, 16) == 0)
            return p;
        if (probe > 64)
            break;
    }
    return NULL;
}

static void peak_note(struct stage *st, const struct verdict *v)
{
    if (!st->peaks || v->level == THREAT_LOW)
        return;
    struct peak_entry *p = peak_find(st, v);
    if (!p) {
        st->peaks_full++;
        return;
    }
    if (v->level > p->peak)
        p->peak = v->level;
    uint64_t at = v->last_seen_us ? v->last_seen_us : verdict_table_now(st->table);
    for (int l = 1; l <= v->level && l < 4; l++)
        if (p->first_at[l] == 0)
            p->first_at[l] = at;
}

/* ---- verdict table output --------------------------------------------------------------- */

/* ---- addresses the store may hold -------------------------------------------------------- */

/* Nearly every verdict the table publishes is a low one (a new address, or a benign address
 * whose counts moved: ~700,000 per 4 M packets of mixed traffic), and each asked the store
 * whether it holds the address (worth_writing), a lookup under a lock in a table of a million
 * slots: 3 % of ddosd's CPU. The store holds an address only after a put: the stage's own (the
 * bits are set just before), an API report's merge (stage_report sets them before the API
 * merges), or the Redis follower's (with a follower every lookup is made). So an address whose
 * bits are clear is not in the store and the lookup is skipped: the same answer, exactly. Bits
 * are never cleared (a store entry's expiry only makes a lookup say no); false positives
 * (~5 % at 100,000 addresses) only cost the lookup. */
enum { STORE_MAYBE_BITS = 1u << 20 }; /* 128 KiB */

static uint64_t store_maybe_hash(const uint8_t ip[16], uint8_t version)
{
    return dd_hash_addr(0x9b05688c2b3e6c1full, ip, version);
}

/* Both of an address's bits live in one 64-bit word (a blocked Bloom filter): one cache miss
 * per question, not two. */
static uint64_t store_maybe_mask(uint64_t h)
{
    return (1ull << ((h >> 32) & 63)) | (1ull << ((h >> 40) & 63));
}

static void store_maybe_add(_Atomic uint64_t *bits, const uint8_t ip[16], uint8_t version)
{
    uint64_t h = store_maybe_hash(ip, version);
    atomic_fetch_or_explicit(&bits[h & (STORE_MAYBE_BITS / 64 - 1)], store_maybe_mask(h),
                             memory_order_relaxed);
}

static bool store_maybe_has(const struct stage *st, const uint8_t ip[16], uint8_t version)
{
    const struct daemon *d = st->d;
    if (d->follow)
        return true;
    uint64_t h = store_maybe_hash(ip, version), m = store_maybe_mask(h);
    return (atomic_load_explicit(&d->store_maybe[h & (STORE_MAYBE_BITS / 64 - 1)],
                                 memory_order_relaxed) &
            m) == m;
}

/* An address that was never more than low is not worth a Redis hash or an API entry (an
 * unknown IP reads as low anyway); one that falls back to low is written, so the lower level
 * replaces the old one. */
static bool worth_writing(struct stage *st, const struct verdict *v)
{
    struct verdict_store_entry old;
    return v->level != THREAT_LOW ||
           (store_maybe_has(st, v->ip, v->ip_version) &&
            verdict_store_get(st->d->store, v->ip, v->ip_version, verdict_store_now_ms(), &old));
}

/* Notes a reported address. When the ring is full a rotating slot is overwritten: a report whose
 * verdict is never published (a whitelisted address) must not hold a slot for good, and an
 * address that loses its slot in a burst is still written when its verdict changes. */
static void reported_note(struct stage *st, const struct verdict *v)
{
    struct reported_addr *a = st->nreported < STAGE_REPORTED_MAX
                                  ? &st->reported[st->nreported++]
                                  : &st->reported[st->reported_next++ % STAGE_REPORTED_MAX];
    memcpy(a->ip, v->ip, sizeof(a->ip));
    a->version = v->ip_version;
}

/* True (and forgets it) when v's address was reported since its last publication. */
static bool reported_take(struct stage *st, const struct verdict *v)
{
    for (uint32_t i = 0; i < st->nreported; i++) {
        struct reported_addr *a = &st->reported[i];
        if (a->version == v->ip_version && memcmp(a->ip, v->ip, v->ip_version == 4 ? 4 : 16) == 0) {
            *a = st->reported[--st->nreported];
            return true;
        }
    }
    return false;
}

static void on_verdict(void *user, const struct verdict *v)
{
    struct stage *st = user;
    peak_note(st, v);
    if (!worth_writing(st, v))
        return;
    if (st->redis) {
        /* The verdict that follows a report is written even when Redis is believed to hold the
         * same level, role and type already: an operator who deleted the key (or flushed Redis)
         * and reports again expects the report in Redis now, not at the next TTL refresh. */
        if (reported_take(st, v))
            (void)redis_thread_put_sync(st->redis, v, 0);
        else
            (void)redis_thread_put(st->redis, v);
    }
    /* The store may hold the merged view of several sensors (the follower put it there): a
     * local verdict of a lower level does not replace it; Redis has this one too. */
    struct verdict_store_entry cur;
    if (st->d->follow &&
        verdict_store_get(st->d->store, v->ip, v->ip_version, verdict_store_now_ms(), &cur) &&
        redis_follow_is_remote(&cur.v, st->d->cfg->sensor.id) && cur.v.level > v->level)
        return;
    uint64_t ttl_ms = st->ttl_us / 1000u;
    store_maybe_add(st->d->store_maybe, v->ip, v->ip_version);
    int rc = verdict_store_put(st->d->store, v, verdict_store_now_ms() + ttl_ms);
    (void)rc; /* a full store counts its own drops */
}

/* " (spoofed sources: N; top attackers: a (f flows), b, ...)": what an event line says about
 * the other side of the attack, into buf. */
static void event_peers_text(const struct verdict *v, const struct redis_sink_peer *peers,
                             size_t npeers, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    if (v->spoofed_sources)
        o += (size_t)snprintf(buf + o, len - o, "; spoofed sources %u", v->spoofed_sources);
    for (size_t i = 0; i < npeers && i < 3 && o < len; i++) {
        struct verdict p = {.ip_version = peers[i].ip_version};
        memcpy(p.ip, peers[i].ip, 16);
        char ip[VERDICT_IP_TEXT_MAX];
        o += (size_t)snprintf(
            buf + o, len - o, "%s%s (%" PRIu64 " flows)",
            i == 0 ? (v->role == VERDICT_ROLE_VICTIM ? "; top attackers " : "; victims ") : ", ",
            verdict_ip_format(&p, ip), peers[i].flows);
    }
    if (npeers > 3 && o < len)
        snprintf(buf + o, len - o, ", %zu more", npeers - 3);
}

/* One app.log line per event, within the rate limit (see EVENT_LOG_PER_S). */
static void event_log_line(struct stage *st, const char *what, const struct verdict *v,
                           const char *level_text, const struct redis_sink_peer *peers,
                           size_t npeers)
{
    if (!log_limit_take(&st->event_log, dd_mono_ms()))
        return;
    char ip[VERDICT_IP_TEXT_MAX], more[512];
    event_peers_text(v, peers, npeers, more, sizeof(more));
    DD_INFO("attack %s: %s %s, %s, level %s, %.0f pps %.0f bps%s", what, verdict_role_name(v->role),
            verdict_ip_format(v, ip), v->attack_type[0] ? v->attack_type : "unknown type",
            level_text, v->pps, v->bps, more);
}

/* The "suppressed N" line, once a second at most, when lines were held back. */
static void event_log_flush(struct stage *st)
{
    uint64_t span;
    uint64_t n = log_limit_flush(&st->event_log, dd_mono_ms(), &span);
    if (n)
        DD_INFO("attack events: %" PRIu64 " log lines suppressed in the last %.1f s (at most %.0f "
                "a second after a burst of %.0f; every event is in /api/events and ddos:events)",
                n, (double)span / 1000.0, EVENT_LOG_PER_S, EVENT_LOG_BURST);
}

static void on_event(void *user, enum verdict_event_kind kind, const struct verdict *v,
                     const struct redis_sink_peer *peers, size_t npeers)
{
    struct stage *st = user;
    bool start = kind == VERDICT_EVENT_ATTACK_START;
    event_log_line(st, start ? "start" : "end", v, threat_level_name((enum threat_level)v->level),
                   peers, npeers);
    if (st->d->trail) {
        (void)trail_event_add(st->d->trail, start ? TRAIL_EVENT_START : TRAIL_EVENT_END, v,
                              v->level, peers, npeers);
        /* A new incident's chart starts at its onset, not at the next whole second. */
        if (start)
            st->next_sample_us = 0;
    }
    if (st->redis)
        (void)redis_thread_event(
            st->redis, start ? REDIS_SINK_EVENT_ATTACK_START : REDIS_SINK_EVENT_ATTACK_END, v,
            peers, npeers);
    if (st->notify) {
        struct verdict pv[REDIS_SINK_PEERS_MAX];
        size_t n = npeers < REDIS_SINK_PEERS_MAX ? npeers : REDIS_SINK_PEERS_MAX;
        for (size_t i = 0; i < n; i++) {
            memset(&pv[i], 0, sizeof(pv[i]));
            memcpy(pv[i].ip, peers[i].ip, 16);
            pv[i].ip_version = peers[i].ip_version;
            pv[i].role =
                v->role == VERDICT_ROLE_VICTIM ? VERDICT_ROLE_ATTACKER : VERDICT_ROLE_VICTIM;
            pv[i].flows_attack = peers[i].flows;
        }
        static char buf[EVENT_JSON_MAX];
        if (notify_event_json(buf, sizeof(buf), start ? "attack_start" : "attack_end", v, pv, n) >
            0)
            (void)notify_post(st->notify, buf);
    }
}

static void on_level_change(void *user, const struct verdict *v, uint8_t prev_level,
                            const struct redis_sink_peer *peers, size_t npeers)
{
    struct stage *st = user;
    char text[40];
    snprintf(text, sizeof(text), "%s -> %s", threat_level_name((enum threat_level)prev_level),
             threat_level_name((enum threat_level)v->level));
    event_log_line(st, "level", v, text, peers, npeers);
    if (st->d->trail)
        (void)trail_event_add(st->d->trail, TRAIL_EVENT_LEVEL, v, prev_level, peers, npeers);
    if (st->redis)
        (void)redis_thread_event(st->redis, REDIS_SINK_EVENT_LEVEL_CHANGE, v, peers, npeers);
}

/* Once a second of the stage clock: each open incident's rates, peaks and peers for the
 * dashboard's charts (a handful of incidents: a lookup each). */
static void stage_sample(struct stage *st)
{
    if (!st->d->trail)
        return;
    uint64_t now = verdict_table_now(st->table);
    if (now < st->next_sample_us)
        return;
    st->next_sample_us = (now / SAMPLE_EVERY_US + 1) * SAMPLE_EVERY_US;
    struct trail_key keys[64];
    size_t n = trail_open_keys(st->d->trail, keys, DD_ARRAY_LEN(keys));
    for (size_t i = 0; i < n; i++) {
        struct verdict_episode_info ep;
        if (!verdict_table_episode_get(st->table, keys[i].ip, keys[i].ip_version, keys[i].role,
                                       &ep))
            continue;
        trail_sample(st->d->trail, &ep.v, now, ep.peak_pps, ep.peak_bps, ep.peak_level, ep.peers,
                     ep.npeers);
    }
    event_log_flush(st);
}

static void on_expired(void *user, const struct verdict *v)
{
    struct stage *st = user;
    /* release, not remove: a live operator report outlives the table's verdict */
    (void)verdict_store_release(st->d->store, v->ip, v->ip_version);
}

/* After Redis restarted (the sink forgot what it wrote), and at the end of a run (the final
 * sync: every hash then holds its address's latest verdict in every field, not the one of its
 * last level change). Waits for room in the hand-off (a few ms at most per verdict: the I/O
 * thread empties it between network calls) rather than dropping: both are rare and the stage
 * has little else to do then. */
static void resync_one(void *user, const struct verdict *v)
{
    struct stage *st = user;
    /* A stop signal: the drain's budget is short, and waiting for room here would spend it. */
    if (atomic_load_explicit(&st->d->stop_capture, memory_order_relaxed))
        return;
    if (worth_writing(st, v))
        (void)redis_thread_put_sync(st->redis, v, 50);
}

/* ---- --flows-out ------------------------------------------------------------------------- */

static void flows_out_header(struct stage *st)
{
    fputs("timestamp,src_ip,src_port,dst_ip,dst_port,protocol,record,p_attack,is_attack,"
          "attack_type",
          st->flows_out);
    for (int i = 0; i < FEAT_COUNT; i++)
        fprintf(st->flows_out, ",%s", feat_name((enum feat_id)i));
    fputc('\n', st->flows_out);
}

static void flows_out_row(struct stage *st, const struct flow_record *r)
{
    char buf[FEAT_COUNT * 40 + 512];
    char *p = buf;
    const struct flow_evidence *e = &r->ev;
    p = flow_csv_format_timestamp(p, e->first_us);
    *p++ = ',';
    p = flow_csv_format_addr(p, e->src, e->ip_version);
    p += sprintf(p, ",%u,", e->sport);
    p = flow_csv_format_addr(p, e->dst, e->ip_version);
    p += sprintf(p, ",%u,%u,%s,%.6f,%d,%s", e->dport, e->proto,
                 r->end == FLOW_RECORD_SNAPSHOT ? "snapshot" : flow_end_name(r->end),
                 (double)e->p_attack, e->is_attack, e->attack_type);
    for (int i = 0; i < FEAT_COUNT; i++) {
        *p++ = ',';
        p = flow_csv_format_number(p, r->feat[i]);
    }
    *p++ = '\n';
    if (fwrite(buf, 1, (size_t)(p - buf), st->flows_out) != (size_t)(p - buf))
        st->flows_out_errors++;
    else
        st->flows_out_rows++;
}

/* ---- --verdicts-out ---------------------------------------------------------------------- */

struct dump_ctx {
    struct stage *st;
    FILE *out;
    uint64_t lines, errors;
};

/* One line in the verdict wire format (verdicts/verdict_json.h), with the run's peaks. */
static void dump_one(void *user, const struct verdict *v)
{
    struct dump_ctx *c = user;
    struct peak_entry *p = c->st->peaks ? peak_find(c->st, v) : NULL;
    unsigned peak = p && p->peak > v->level ? p->peak : v->level;
    char line[VERDICT_JSON_MAX + 1];
    struct jbuf b = {.p = line, .cap = sizeof(line) - 1};
    if (!verdict_json_line(&b, v, peak, p ? p->first_at : NULL)) {
        c->errors++;
        return;
    }
    line[b.len++] = '\n';
    if (fwrite(line, 1, b.len, c->out) != b.len)
        c->errors++;
    else
        c->lines++;
}

static void write_verdicts_out(struct stage *st)
{
    const char *path = st->d->opt->verdicts_out;
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        DD_ERROR("cannot write verdicts to %s: %s", path, strerror(errno));
        return;
    }
    struct dump_ctx c = {.st = st, .out = f};
    verdict_table_foreach(st->table, dump_one, &c);
    if (f != stdout ? fclose(f) != 0 : fflush(f) != 0)
        c.errors++;
    if (c.errors)
        DD_ERROR("verdicts: %" PRIu64 " of %" PRIu64 " lines could not be written to %s", c.errors,
                 c.lines + c.errors, path);
    else
        DD_INFO("verdicts: %" PRIu64 " written to %s", c.lines, path);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static bool inputs_done(struct daemon *d)
{
    for (unsigned i = 0; i < d->nworkers; i++)
        if (!atomic_load_explicit(&d->workers[i].done, memory_order_acquire))
            return false;
    for (unsigned i = 0; i < d->nshards; i++)
        if (!atomic_load_explicit(&d->shards[i].done, memory_order_acquire))
            return false;
    return true;
}

/* The clock for wall-driven ticks and reports. Live: packet time, or the wall clock when the
 * link is quiet. Replaying: the evidence clock (what the table has seen). After a replay: the
 * last evidence time plus the wall time since the replay ended. */
static uint64_t stage_clock(struct stage *st, bool finished)
{
    struct daemon *d = st->d;
    uint64_t t = verdict_table_now(st->table);
    if (d->live) {
        uint64_t w = dd_realtime_us();
        return w > t ? w : t;
    }
    if (!finished)
        return t;
    if (st->end_wall == 0) {
        st->end_wall = dd_mono_s();
        st->end_clock_us = t;
    }
    return st->end_clock_us + (uint64_t)((dd_mono_s() - st->end_wall) * 1e6);
}

static void stage_follow(struct stage *st)
{
    struct daemon *d = st->d;
    uint64_t gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
    if (gen != st->cfg_gen) {
        struct ddosd_config *cfg = atomic_load_explicit(&d->cfg_published, memory_order_acquire);
        verdict_table_set_whitelist(st->table, &cfg->rules.whitelist);
        st->cfg_gen = gen;
    }
    uint64_t mg = atomic_load_explicit(&d->model_gen, memory_order_acquire);
    if (mg != st->model_gen) {
        char version[VERDICT_MODEL_VERSION_MAX];
        pthread_mutex_lock(&d->model_lock);
        memcpy(version, d->model_version, sizeof(version));
        pthread_mutex_unlock(&d->model_lock);
        verdict_table_set_model_version(st->table, version);
        st->model_gen = mg;
    }
}

static void stage_publish_stats(struct stage *st)
{
    struct daemon *d = st->d;
    struct stage_snapshot s;
    memset(&s, 0, sizeof(s));
    if (st->redis)
        redis_thread_stats(st->redis, &s.redis);
    else if (st->redis_stopped)
        s.redis = st->redis_final;
    s.redis_enabled = st->redis != NULL || st->redis_stopped;
    verdict_table_stats_get(st->table, &s.table);
    if (st->notify)
        notify_stats_get(st->notify, &s.notify);
    s.flows_in = st->flows_in;
    s.alerts_in = st->alerts_in;
    s.reports_in = st->reports_in;
    s.flows_out_rows = st->flows_out_rows;
    s.flows_out_errors = st->flows_out_errors;
    pthread_mutex_lock(&d->stats_lock);
    d->snap = s;
    pthread_mutex_unlock(&d->stats_lock);
}

/* Evidence time drives the table: before evidence of time ts is applied, the table is ticked at
 * every TICK_PACKET_US boundary it passes. Ticks thus fall at the same packet times, with the
 * same evidence applied, whatever the machine's speed: a replay through one shard and one
 * worker gives the same verdicts and events every time. */
static void stage_advance(struct stage *st, uint64_t ts)
{
    if (ts == 0)
        return;
    if (st->next_tick_us == 0 || ts >= st->next_tick_us + 100 * TICK_PACKET_US)
        st->next_tick_us = ts / TICK_PACKET_US * TICK_PACKET_US; /* start, or a jump in time */
    while (ts >= st->next_tick_us) {
        verdict_table_tick(st->table, st->next_tick_us, 4096);
        st->next_tick_us += TICK_PACKET_US;
    }
}

static bool stage_drain(struct stage *st, struct flow_record *recs)
{
    struct daemon *d = st->d;
    bool got = false;
    for (unsigned w = 0; w < d->nworkers; w++) {
        size_t n = ring_spsc_pop_burst(d->workers[w].out, recs, STAGE_BATCH);
        /* Elements are record heads back to back (DD_RECORD_HEAD bytes: no vector) unless
         * --flows-out asked the workers for whole records. */
        size_t elem = d->workers[w].out_elem;
        for (size_t i = 0; i < n; i++) {
            const struct flow_record *r =
                (const struct flow_record *)(const void *)((const char *)recs + i * elem);
            if (r->end == FLOW_RECORD_ALERT) {
                stage_advance(st, r->alert.ts_us);
                verdict_table_alert(st->table, &r->alert);
                st->alerts_in++;
                continue;
            }
            stage_advance(st, r->ev.emit_us);
            verdict_table_flow(st->table, &r->ev);
            st->flows_in++;
            if (st->flows_out)
                flows_out_row(st, r);
        }
        got |= n > 0;
    }
    return got;
}

/* Reports the queue holds between two stage loops: a pipelined burst of thousands is taken whole
 * (2 x 2.6 MB of address space, touched only as far as bursts reach). */
enum { STAGE_REPORT_QUEUE = 8192 };

/* Applies the queued reports; returns how many. The two buffers swap under the lock (no copy),
 * so API threads queue into one while the stage reads the other. */
static unsigned stage_reports(struct stage *st, uint64_t now_us)
{
    struct daemon *d = st->d;
    pthread_mutex_lock(&d->report_lock);
    unsigned n = d->nreports;
    struct verdict *batch = d->reports;
    if (n) {
        d->reports = d->reports_spare;
        d->reports_spare = batch;
        d->nreports = 0;
    }
    pthread_mutex_unlock(&d->report_lock);
    for (unsigned i = 0; i < n; i++) {
        verdict_table_report(st->table, &batch[i], now_us, st->ttl_us);
        if (st->redis)
            reported_note(st, &batch[i]);
    }
    st->reports_in += n;
    return n;
}

/* The queue is bounded (STAGE_REPORT_QUEUE; the stage empties it every loop, and keeps looping
 * without sleeping while reports come): a report that finds it full is refused here and the API
 * answers 503 with Retry-After, never "recorded" for a report the pipeline will not see. */
int stage_report(struct daemon *d, const struct verdict *v)
{
    int rc = 0;
    pthread_mutex_lock(&d->report_lock);
    if (d->reports && d->nreports < STAGE_REPORT_QUEUE) {
        d->reports[d->nreports++] = *v;
        store_maybe_add(d->store_maybe, v->ip, v->ip_version); /* the API merges it next */
    } else {
        atomic_fetch_add_explicit(&d->reports_dropped, 1, memory_order_relaxed);
        rc = -EAGAIN;
    }
    pthread_mutex_unlock(&d->report_lock);
    return rc;
}

/* A replay must not learn at its very end that Redis was never there: after the sink's first
 * connection attempt, an unreachable Redis is said once, with what that costs at the end. */
static void stage_redis_first_check(struct stage *st)
{
    if (st->redis_checked)
        return;
    struct redis_sink_stats rs;
    redis_thread_stats(st->redis, &rs);
    if (rs.connected) {
        st->redis_checked = true;
        return;
    }
    if (rs.redis_errors == 0)
        return; /* no attempt yet */
    st->redis_checked = true;
    const struct ddosd_config *cfg = st->d->cfg;
    if (!st->d->live)
        DD_WARN("redis %s:%d is unreachable (%s): verdicts wait in memory and ddosd keeps "
                "retrying; at the end of the replay it waits up to %u s for Redis to take them "
                "(SIGTERM or Ctrl-C ends the wait; --redis none runs without Redis)",
                cfg->redis.host, cfg->redis.port, rs.last_error, STAGE_REPLAY_DRAIN_MS / 1000);
}

/* The end of a run: up to STAGE_REPLAY_DRAIN_MS for Redis to take every verdict, so that
 * nothing a replay judged is lost, but a stop signal before or during the wait ends it within
 * STAGE_SIGNAL_DRAIN_MS (the service manager's patience). The I/O thread does the writing; this
 * thread only waits, so the budget holds whatever state Redis is in. Says what was not written. */
static void stage_redis_drain(struct stage *st, bool signalled)
{
    struct daemon *d = st->d;
    uint32_t budget = STAGE_REPLAY_DRAIN_MS;
    if (signalled) {
        /* The budget runs from the signal: scoring the open flows before this point already
         * spent part of it. A last attempt always gets STAGE_SIGNAL_DRAIN_MIN_MS. */
        uint64_t since = st->stop_seen_ms ? dd_mono_ms() - st->stop_seen_ms : 0;
        budget = since + STAGE_SIGNAL_DRAIN_MIN_MS < STAGE_SIGNAL_DRAIN_MS
                     ? STAGE_SIGNAL_DRAIN_MS - (uint32_t)since
                     : STAGE_SIGNAL_DRAIN_MIN_MS;
    }
    (void)redis_thread_stop(st->redis, budget, &d->stop_capture, STAGE_SIGNAL_DRAIN_MS,
                            &st->redis_final);
    st->redis = NULL;
    st->redis_stopped = true;
}

static void stage_run(struct stage *st)
{
    struct daemon *d = st->d;
    static struct flow_record recs[STAGE_BATCH];
    uint64_t last_tick = 0, last_stats = 0, last_expire = 0;
    unsigned idle = 0;
    for (;;) {
        /* "inputs done" is read before the rings are drained: an empty drain after it means
         * nothing is left in flight. */
        bool finished = inputs_done(d);
        bool got = stage_drain(st, recs);
        uint64_t ms = redis_sink_now_ms();
        uint64_t clock = stage_clock(st, finished && !got);
        /* A report burst keeps the loop awake (no 2 ms naps) so the queue drains as it fills. */
        bool reported = stage_reports(st, clock) > 0;
        bool serving = finished && !got && d->opt->serve;
        if ((d->live || serving) && ms - last_tick >= TICK_EVERY_MS) {
            stage_follow(st);
            verdict_table_tick(st->table, clock, 4096);
            last_tick = ms;
        } else if (ms - last_tick >= TICK_EVERY_MS) {
            stage_follow(st);
            last_tick = ms;
        }
        if (st->redis) {
            if (!st->stop_seen_ms && atomic_load_explicit(&d->stop_capture, memory_order_acquire))
                st->stop_seen_ms = dd_mono_ms();
            stage_redis_first_check(st);
            if (redis_thread_resync_take(st->redis)) {
                DD_WARN("redis: the server restarted or failed over; rewriting every verdict");
                verdict_table_foreach(st->table, resync_one, st);
            }
        }
        if (st->notify)
            notify_poll(st->notify);
        stage_sample(st);
        if (ms - last_expire >= EXPIRE_EVERY_MS) {
            (void)verdict_store_expire(d->store, verdict_store_now_ms(), 0);
            last_expire = ms;
        }
        if (ms - last_stats >= STATS_EVERY_MS) {
            stage_publish_stats(st);
            last_stats = ms;
        }
        if (got || reported) {
            idle = 0;
            continue;
        }
        if (finished) {
            bool serve = d->opt->serve && !d->live;
            if (!serve || atomic_load_explicit(&d->stop_pipeline, memory_order_acquire))
                break;
        }
        if (++idle > 16) {
            struct timespec ts = {0, 2000000}; /* 2 ms: well inside the 10 ms tick */
            nanosleep(&ts, NULL);
        } else {
            sched_yield();
        }
    }
}

static void *stage_main(void *arg)
{
    struct stage *st = arg;
    struct daemon *d = st->d;
    pthread_setname_np(pthread_self(), "dd-verdicts");
    stage_run(st);
    /* Shutdown: publish what changed last (at the evidence clock for a replay, so the result
     * does not depend on how long the shutdown took), write the files, flush Redis. */
    verdict_table_tick(
        st->table, d->live || d->opt->serve ? stage_clock(st, true) : verdict_table_now(st->table),
        0);
    verdict_table_publish_seen(st->table);
    event_log_flush(st);
    if (d->opt->verdicts_out)
        write_verdicts_out(st);
    if (st->flows_out && st->flows_out != stdout) {
        if (fclose(st->flows_out) != 0)
            st->flows_out_errors++;
        st->flows_out = NULL;
    }
    stage_publish_stats(st);
    if (st->redis) {
        /* A stop by signal must end within the service manager's patience (SIGTERM: 5 s in
         * all); the end of a replay may take its time so that nothing it judged is lost. */
        bool signalled = atomic_load_explicit(&d->stop_capture, memory_order_acquire);
        if (!signalled)
            verdict_table_foreach(st->table, resync_one, st);
        stage_redis_drain(st, signalled); /* joins the I/O thread */
        stage_publish_stats(st); /* the final counters line: what the drain left, not before */
    }
    if (st->notify) {
        notify_destroy(st->notify, 1000);
        st->notify = NULL;
    }
    verdict_table_destroy(st->table);
    free(st->peaks);
    if (st->peaks_full)
        DD_WARN("verdicts-out: %" PRIu64 " IPs had no room for their peak level", st->peaks_full);
    atomic_store_explicit(&d->stage_done, true, memory_order_release);
    free(st);
    return NULL;
}

int stage_start(struct daemon *d, char *err, size_t err_len)
{
    const struct ddosd_config *cfg = d->cfg;
    struct stage *st = calloc(1, sizeof(*st));
    if (!st)
        goto nomem;
    st->d = d;
    st->ttl_us = (uint64_t)cfg->cache.ttl * 1000000u;
    log_limit_init(&st->event_log, EVENT_LOG_PER_S, EVENT_LOG_BURST);
    if (!d->reports) {
        struct verdict *q = calloc(STAGE_REPORT_QUEUE, sizeof(*q));
        struct verdict *spare = calloc(STAGE_REPORT_QUEUE, sizeof(*spare));
        _Atomic uint64_t *maybe = calloc(STORE_MAYBE_BITS / 64, sizeof(*maybe));
        if (!q || !spare || !maybe) {
            free(q);
            free(spare);
            free(maybe);
            free(st);
            snprintf(err, err_len, "out of memory for the report queue");
            return -ENOMEM;
        }
        pthread_mutex_lock(&d->report_lock);
        d->reports = q;
        d->reports_spare = spare;
        d->store_maybe = maybe;
        pthread_mutex_unlock(&d->report_lock);
    }
    st->mode = cfg->flows.mode == CONFIG_FLOWS_CIC ? FEAT_MODE_CIC : FEAT_MODE_FIXED;
    struct verdict_table_config vc = {
        .max_ips = 262144,
        .ttl_us = st->ttl_us,
        .sensor_id = cfg->sensor.id,
        .whitelist = &cfg->rules.whitelist,
        .evidence_p = cfg->ml_model.evidence_threshold,
        .seed = d->live ? 0 : DD_REPLAY_SEED, /* a replay evicts alike every run (daemon.h) */
    };
    struct verdict_table_sink sink = {.user = st,
                                      .verdict = on_verdict,
                                      .event = on_event,
                                      .expired = on_expired,
                                      .level_change = on_level_change};
    st->table = verdict_table_create(&vc, &sink);
    if (!st->table) {
        snprintf(err, err_len, "cannot create the verdict table");
        free(st);
        return -ENOMEM;
    }
    verdict_table_set_model_version(st->table, d->model_version);
    st->model_gen = atomic_load(&d->model_gen);
    st->cfg_gen = atomic_load(&d->cfg_gen);
    if (cfg->redis.enabled && cfg->cache.enabled) {
        /* Sentinel rides in the host string (verdicts/redis_conn.h): asked on every connect. */
        char sentinel_host[4096];
        if (cfg->redis.sentinels.n &&
            redis_conn_sentinel_host(sentinel_host, sizeof(sentinel_host), cfg->redis.master_name,
                                     (const char *const *)cfg->redis.sentinels.items,
                                     cfg->redis.sentinels.n) != 0) {
            snprintf(err, err_len, "redis.sentinels: the list is too long");
            goto fail;
        }
        struct redis_sink_config rc = {
            .host = cfg->redis.sentinels.n ? sentinel_host : cfg->redis.host,
            .username = cfg->redis.username[0] ? cfg->redis.username : NULL,
            .port = (uint16_t)cfg->redis.port,
            .db = (uint32_t)cfg->redis.db,
            .password = cfg->redis.password[0] ? cfg->redis.password : NULL,
            .sensor_id = cfg->sensor.id,
            .ttl_s = (uint32_t)cfg->cache.ttl,
            /* Live and real-time replays: verdicts reach Redis within 200 ms of a change
             * (detection latency), still one write per IP per interval. A full-speed replay
             * runs packet time many times faster than the clock, so an address changes many
             * times per interval: 2 s halves its rewrites (each is a Lua merge, ~30 us of Redis
             * CPU). A replay may hold far more changed IPs than live traffic, hence the large
             * backlog and batches. */
            .flush_interval_ms = d->live || d->realtime_speed > 0 ? 200 : 2000,
            .backlog_capacity = 1u << 20,
            .batch_max = 5000,
            /* Every IP the verdict table can hold: each is written once per change. */
            .known_capacity = 262144,
            /* Retries cost the I/O thread, not the stage: a Redis that comes back is written
             * within a flush and half a second (docs/redis.md, outages). */
            .backoff_max_ms = 500,
            .max_memory_mb = (uint32_t)cfg->redis.max_memory_mb,
            .max_keys_per_second = (uint32_t)cfg->redis.max_keys_per_second,
        };
        st->redis = redis_thread_start(&rc, 0);
        if (!st->redis) {
            snprintf(err, err_len, "redis: bad settings (see the log line above)");
            goto fail;
        }
    }
    if (cfg->notify.script[0]) {
        st->notify =
            notify_create(cfg->notify.script, (unsigned)(cfg->notify.timeout * 1000), 0, 0);
        if (!st->notify) {
            snprintf(err, err_len, "notify: cannot set up %s", cfg->notify.script);
            goto fail;
        }
    }
    if (d->opt->flows_out) {
        const char *p = d->opt->flows_out;
        st->flows_out = strcmp(p, "-") == 0 ? stdout : fopen(p, "w");
        if (!st->flows_out) {
            snprintf(err, err_len, "cannot write scored flows to %s: %s", p, strerror(errno));
            goto fail;
        }
        setvbuf(st->flows_out, NULL, _IOFBF, 1 << 20);
        flows_out_header(st);
    }
    if (d->opt->verdicts_out) {
        uint32_t cap = 1u << 20;
        st->peaks = calloc(cap, sizeof(*st->peaks));
        if (!st->peaks)
            goto nomem;
        st->peaks_mask = cap - 1;
    }
    stage_publish_stats(st);
    if (pthread_create(&d->stage_thread, NULL, stage_main, st) != 0) {
        snprintf(err, err_len, "cannot start the verdict stage thread");
        goto fail;
    }
    d->stage_started = true;
    return 0;
nomem:
    snprintf(err, err_len, "out of memory setting up the verdict stage");
fail:
    if (st) {
        verdict_table_destroy(st->table);
        redis_thread_stop(st->redis, 0, NULL, 0, NULL);
        notify_destroy(st->notify, 0);
        if (st->flows_out && st->flows_out != stdout)
            fclose(st->flows_out);
        free(st->peaks);
        free(st);
    }
    return -ENOMEM;
}

void stage_join(struct daemon *d)
{
    if (d->stage_started)
        pthread_join(d->stage_thread, NULL);
    d->stage_started = false;
    /* Reports arriving from now on are refused (503): nobody would apply them. */
    pthread_mutex_lock(&d->report_lock);
    free(d->reports);
    free(d->reports_spare);
    free(d->store_maybe);
    d->reports = d->reports_spare = NULL;
    d->store_maybe = NULL;
    d->nreports = 0;
    pthread_mutex_unlock(&d->report_lock);
}
