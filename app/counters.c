/* counters.c - ddosd's counters, gathered from every stage for the minute log line, the final
 * summary, /api/stats, /metrics and /health.
 *
 * DESIGN: each stage owns its counters and publishes them (relaxed atomics, or a copy under
 * stats_lock for the verdict stage); this file only reads and sums. Any thread may call these
 * functions; the figures of different stages are not one atomic snapshot (counters, not
 * invariants). */
#include <inttypes.h>
#include <string.h>

#include "app/daemon.h"
#include "common/log.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

struct totals {
    uint64_t packets, bytes, decode[DECODE_STATUS_COUNT], kernel_received, kernel_dropped,
        if_dropped;
    uint64_t flows_created, flows_emitted, flows_suppressed, evictions, flows_active, snapshots;
    uint64_t flows_ended[FLOW_END_COUNT];
    uint64_t records_out, records_dropped, alerts_out;
    uint64_t rate_ips, rate_evictions, rate_alerting;
    uint64_t rate_full_ips, rate_promotions, rate_promote_failed, rate_demotions;
    uint64_t rate_clock_resets;
    uint64_t scored, attacks, scored_dropped, icmp_errors;
    uint64_t reports_dropped;
    struct stage_snapshot snap;
    struct verdict_store_stats store;
};

static void add_capture(struct totals *t, const struct capture_counters *c)
{
    t->packets += LOAD(c->packets);
    t->bytes += LOAD(c->bytes);
    for (int k = 0; k < DECODE_STATUS_COUNT; k++)
        t->decode[k] += LOAD(c->decode[k]);
    t->kernel_received += LOAD(c->kernel_received);
    t->kernel_dropped += LOAD(c->kernel_dropped);
    t->if_dropped += LOAD(c->if_dropped);
}

static void gather(struct daemon *d, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    add_capture(t, &d->reader.cap);
    for (unsigned i = 0; d->shards && i < d->nshards; i++) {
        struct shard *s = &d->shards[i];
        add_capture(t, &s->cap);
        t->flows_created += LOAD(s->flows_created);
        t->flows_emitted += LOAD(s->flows_emitted);
        t->flows_suppressed += LOAD(s->flows_suppressed);
        t->evictions += LOAD(s->evictions);
        t->flows_active += LOAD(s->flows_active);
        t->snapshots += LOAD(s->snapshots);
        for (int k = 0; k < FLOW_END_COUNT; k++)
            t->flows_ended[k] += LOAD(s->flows_ended[k]);
        t->records_out += LOAD(s->records_out);
        t->records_dropped += LOAD(s->records_dropped);
        t->alerts_out += LOAD(s->alerts_out);
        t->rate_ips += LOAD(s->rate_ips);
        t->rate_evictions += LOAD(s->rate_evictions);
        t->rate_alerting += LOAD(s->rate_alerting);
        t->rate_full_ips += LOAD(s->rate_full_ips);
        t->rate_promotions += LOAD(s->rate_promotions);
        t->rate_promote_failed += LOAD(s->rate_promote_failed);
        t->rate_demotions += LOAD(s->rate_demotions);
        t->rate_clock_resets += LOAD(s->rate_clock_resets);
    }
    for (unsigned i = 0; d->workers && i < d->nworkers; i++) {
        t->scored += LOAD(d->workers[i].scored);
        t->attacks += LOAD(d->workers[i].attacks);
        t->scored_dropped += LOAD(d->workers[i].dropped);
        t->icmp_errors += LOAD(d->workers[i].icmp_errors);
    }
    t->reports_dropped = LOAD(d->reports_dropped);
    pthread_mutex_lock(&d->stats_lock);
    t->snap = d->snap;
    pthread_mutex_unlock(&d->stats_lock);
    if (d->store)
        verdict_store_stats_get(d->store, &t->store);
}

void counters_log(struct daemon *d, bool final)
{
    struct totals t;
    gather(d, &t);
    uint64_t decode_errors = 0;
    for (int k = DECODE_UNSUPPORTED_LINK; k < DECODE_STATUS_COUNT; k++)
        decode_errors += t.decode[k];
    const struct stage_snapshot *s = &t.snap;
    DD_INFO("%s: packets %" PRIu64 " (%" PRIu64 " bytes), decode errors %" PRIu64
            ", kernel drops %" PRIu64 "+%" PRIu64 ", flows created %" PRIu64 " active %" PRIu64
            " evicted %" PRIu64 ", records %" PRIu64 " (ring drops %" PRIu64 "), scored %" PRIu64
            " (attacks %" PRIu64 ", drops %" PRIu64 "), alerts %" PRIu64 ", verdicts %" PRIu64
            " IPs (high %" PRIu64 ", critical %" PRIu64 ")",
            final ? "final counters" : "counters", t.packets, t.bytes, decode_errors,
            t.kernel_dropped, t.if_dropped, t.flows_created, t.flows_active, t.evictions,
            t.records_out, t.records_dropped, t.scored, t.attacks, t.scored_dropped, t.alerts_out,
            s->table.ips, s->table.by_level[THREAT_HIGH], s->table.by_level[THREAT_CRITICAL]);
    if (decode_errors) {
        char buf[512];
        size_t n = 0;
        for (int k = DECODE_UNSUPPORTED_LINK; k < DECODE_STATUS_COUNT && n < sizeof(buf); k++)
            if (t.decode[k])
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%" PRIu64,
                                      decode_status_name((enum decode_status)k), t.decode[k]);
        DD_INFO("decode errors by kind:%s", buf);
    }
    /* The final line is logged after the verdict stage published the sink's figures of after
     * its last flush (app/stage.c): "unwritten" is what Redis never got, not a backlog that the
     * flush was about to send. */
    if (s->redis_enabled)
        DD_INFO("redis: %s, verdicts written %" PRIu64 " (coalesced %" PRIu64 ", %s %" PRIu64
                ", backlog drops %" PRIu64 "), events %" PRIu64 " (%s %" PRIu64 "), errors %" PRIu64
                ", reconnects %" PRIu64 "%s%s",
                s->redis.connected ? "connected" : "DISCONNECTED", s->redis.verdicts_written,
                s->redis.verdicts_coalesced, final ? "unwritten after the final flush" : "pending",
                s->redis.pending, s->redis.backlog_dropped, s->redis.events_written,
                final ? "unwritten" : "pending", s->redis.events_pending, s->redis.redis_errors,
                s->redis.reconnects, s->redis.last_error[0] ? ", last error: " : "",
                s->redis.last_error);
    if (s->redis_enabled)
        DD_INFO("redis: %" PRIu64 " commands, %" PRIu64 " unchanged updates (%" PRIu64
                " TTLs refreshed), %" PRIu64 " new keys (%" PRIu64 " deferred, %" PRIu64
                " over budget), used_memory %.1f MB%s, %" PRIu64 " OOM replies",
                s->redis.commands, s->redis.verdicts_unchanged, s->redis.refreshed,
                s->redis.keys_new, s->redis.keys_deferred, s->redis.budget_skipped,
                (double)s->redis.redis_used_memory / 1048576.0,
                s->redis.over_budget ? " (OVER BUDGET)" : "", s->redis.oom_errors);
}

/* Appends one counter; names and help texts are static strings. */
#define C(nm, hp, v)                                                                               \
    do {                                                                                           \
        if (n < max)                                                                               \
            out[n++] = (struct api_counter){                                                       \
                .name = (nm), .help = (hp), .value = (v), .kind = API_COUNTER};                    \
    } while (0)
#define G(nm, hp, v)                                                                               \
    do {                                                                                           \
        if (n < max)                                                                               \
            out[n++] =                                                                             \
                (struct api_counter){.name = (nm), .help = (hp), .value = (v), .kind = API_GAUGE}; \
    } while (0)
#define CL(nm, hp, lk, lv, v)                                                                      \
    do {                                                                                           \
        if (n < max)                                                                               \
            out[n++] = (struct api_counter){.name = (nm),                                          \
                                            .help = (hp),                                          \
                                            .label = (lk),                                         \
                                            .label_value = (lv),                                   \
                                            .value = (v),                                          \
                                            .kind = API_COUNTER};                                  \
    } while (0)

size_t counters_fill(struct daemon *d, struct api_counter *out, size_t max)
{
    struct totals t;
    gather(d, &t);
    size_t n = 0;
    C("packets_received_total", "Packets read from captures or interfaces", t.packets);
    C("bytes_received_total", "Bytes on the wire of those packets", t.bytes);
    C("packets_not_ip_total", "Valid frames that carry no IP (ARP, LLDP, ...)",
      t.decode[DECODE_NOT_IP]);
    for (int k = DECODE_UNSUPPORTED_LINK; k < DECODE_STATUS_COUNT; k++)
        CL("decode_errors_total", "Packets that could not be decoded, by kind", "kind",
           decode_status_name((enum decode_status)k), t.decode[k]);
    C("kernel_received_total", "Packets the kernel saw (live capture, pcap_stats)",
      t.kernel_received);
    C("kernel_dropped_total", "Packets the kernel dropped: its capture buffer was full",
      t.kernel_dropped);
    C("interface_dropped_total", "Packets the interface or driver dropped", t.if_dropped);
    C("flows_created_total", "Flows created in the flow tables", t.flows_created);
    for (int k = 0; k < FLOW_END_COUNT; k++)
        CL("flows_ended_total", "Flows ended, by reason", "reason", flow_end_name((enum flow_end)k),
           t.flows_ended[k]);
    C("flows_evicted_total", "Flows ended early because a flow table was full", t.evictions);
    G("flows_active", "Flows open now", t.flows_active);
    C("flow_snapshots_total", "Running flows scored before they ended", t.snapshots);
    C("flow_records_total", "Records (feature vectors, rate alerts) handed to inference",
      t.records_out);
    C("flow_records_dropped_total", "Records dropped (live): an inference ring was full",
      t.records_dropped);
    C("vectors_scored_total", "Feature vectors scored by the model", t.scored);
    C("vectors_attack_total", "Vectors the model called attacks", t.attacks);
    C("vectors_icmp_error_total", "Attack scores overruled: ICMP error flows are replies",
      t.icmp_errors);
    C("vectors_dropped_total", "Scored vectors dropped: the verdict ring was full",
      t.scored_dropped);
    C("rate_alerts_total", "Rate-rule alerts sent to the verdict stage", t.alerts_out);
    G("rate_tracked_ips", "Addresses tracked by the rate rules", t.rate_ips);
    C("rate_evictions_total", "Rate-rule entries replaced: the table was full", t.rate_evictions);
    G("rate_alerting", "Address/role pairs over a rate threshold now", t.rate_alerting);
    G("rate_full_ips", "Of rate_tracked_ips, addresses promoted to full entries now",
      t.rate_full_ips);
    C("rate_promotions_total", "Light rate-rule entries promoted: traffic near a threshold",
      t.rate_promotions);
    C("rate_promote_failed_total",
      "Promotions refused: every full rate-rule entry was taken (the address cannot alert)",
      t.rate_promote_failed);
    C("rate_demotions_total",
      "Quiet full rate-rule entries made light again: fewer than 1/8 of them were free",
      t.rate_demotions);
    C("rate_clock_resets_total",
      "Rate-rule tables emptied and re-based: a packet time outside what their clocks hold",
      t.rate_clock_resets);
    const struct stage_snapshot *s = &t.snap;
    G("verdict_ips", "Addresses with a verdict", s->table.ips);
    static const char *const lv[4] = {"low", "medium", "high", "critical"};
    for (int l = 0; l < 4; l++)
        if (n < max)
            out[n++] = (struct api_counter){.name = "verdicts",
                                            .help = "Addresses with a verdict, by threat level",
                                            .label = "level",
                                            .label_value = lv[l],
                                            .value = s->table.by_level[l],
                                            .kind = API_GAUGE};
    C("verdicts_published_total", "Verdict changes published", s->table.published);
    C("verdict_evictions_total", "Verdicts forgotten early: the verdict table was full",
      s->table.evictions);
    C("verdict_light_promoted_total",
      "Benign-only roles made whole because a count outgrew their compact record (memory only)",
      s->table.light_promoted);
    C("unjudged_sources_total",
      "Attack flows whose source proved nothing about itself (spoofed, reflector): counted in "
      "the victim's spoofed_sources, never blamed",
      s->table.unjudged_sources);
    C("spoofed_untracked_total",
      "Spoofed-source tallies lost: every victim's tally slot was in use",
      s->table.spoofed_untracked);
    C("attacks_started_total", "Attack episodes started", s->table.episodes_started);
    C("attacks_ended_total", "Attack episodes ended", s->table.episodes_ended);
    G("attacks_active", "Attack episodes in progress", s->table.episodes_active);
    C("reports_total", "Reports received through the API", s->reports_in);
    C("reports_dropped_total", "Reports refused with 503 (Retry-After): the report queue was full",
      t.reports_dropped);
    G("redis_connected", "1 when the Redis sink is connected", s->redis.connected);
    C("redis_verdicts_written_total", "Verdicts Redis acknowledged", s->redis.verdicts_written);
    C("redis_verdicts_coalesced_total", "Verdict writes merged into a later one (same IP)",
      s->redis.verdicts_coalesced);
    G("redis_pending", "Verdicts waiting to be written", s->redis.pending);
    C("redis_backlog_dropped_total", "Verdicts lost: the backlog was full during an outage",
      s->redis.backlog_dropped);
    C("redis_events_written_total", "Attack events Redis acknowledged", s->redis.events_written);
    C("redis_events_dropped_total", "Attack events lost: the event queue was full",
      s->redis.events_dropped);
    C("redis_errors_total", "Redis connect, I/O and reply errors", s->redis.redis_errors);
    C("redis_reconnects_total", "Redis reconnections", s->redis.reconnects);
    C("redis_commands_total", "Redis commands sent by the verdict writer", s->redis.commands);
    C("redis_verdicts_unchanged_total",
      "Verdict updates with the written level, role and type (TTL refresh only)",
      s->redis.verdicts_unchanged);
    C("redis_refreshed_total", "Verdict hashes whose TTL a bulk refresh renewed",
      s->redis.refreshed);
    C("redis_keys_new_total", "Addresses written to Redis for the first time", s->redis.keys_new);
    C("redis_keys_deferred_total", "New addresses that waited for redis.max_keys_per_second",
      s->redis.keys_deferred);
    C("redis_budget_skipped_total",
      "New low/medium addresses not written: Redis above redis.max_memory_mb",
      s->redis.budget_skipped);
    C("redis_oom_errors_total", "OOM replies from Redis (at maxmemory)", s->redis.oom_errors);
    C("redis_handoff_dropped_total", "Verdicts lost: the hand-off to the Redis thread was full",
      s->redis.handoff_dropped);
    G("redis_used_memory_bytes", "Redis used_memory at the last check", s->redis.redis_used_memory);
    G("redis_over_budget", "1 while new low/medium addresses are not written",
      s->redis.over_budget);
    C("notify_started_total", "Notify hook runs started", s->notify.started);
    C("notify_failed_total", "Notify hook runs that failed", s->notify.failed);
    C("notify_timed_out_total", "Notify hook runs killed after their timeout", s->notify.timed_out);
    C("notify_dropped_total", "Notify events dropped: the queue was full", s->notify.dropped);
    G("store_entries", "Verdicts the API serves", t.store.entries);
    C("store_full_drops_total", "Verdicts the API store refused or evicted: it was full",
      t.store.full_drops);
    C("flows_out_rows_total", "Rows written to --flows-out", s->flows_out_rows);
    C("flows_out_errors_total", "Rows that could not be written to --flows-out",
      s->flows_out_errors);
    return n;
}

void counters_health(struct daemon *d, struct api_health *out)
{
    struct totals t;
    gather(d, &t);
    memset(out, 0, sizeof(*out));
    bool failed = false;
    for (unsigned i = 0; d->shards && i < d->nshards; i++)
        failed |= atomic_load_explicit(&d->shards[i].failed, memory_order_relaxed);
    out->capture_ok = !failed;
    if (failed)
        snprintf(out->capture_detail, sizeof(out->capture_detail),
                 "capture failed on a live interface (see error.log)");
    else if (d->live)
        snprintf(out->capture_detail, sizeof(out->capture_detail),
                 "live on %zu interface(s), %u shard(s)", d->cfg->capture.interfaces.n, d->nshards);
    else if (atomic_load_explicit(&d->reader.finished, memory_order_acquire))
        snprintf(out->capture_detail, sizeof(out->capture_detail), "replay finished (%zu file(s))",
                 d->nfiles);
    else
        snprintf(out->capture_detail, sizeof(out->capture_detail), "replaying file %u of %zu",
                 atomic_load_explicit(&d->reader.input, memory_order_relaxed) + 1, d->nfiles);
    pthread_mutex_lock(&d->model_lock);
    out->model_ok = d->model != NULL || d->cfg->ml_model.path[0] == '\0';
    snprintf(out->model_detail, sizeof(out->model_detail), "%s", d->model_detail);
    memcpy(out->model_version, d->model_version, sizeof(out->model_version));
    pthread_mutex_unlock(&d->model_lock);
    out->redis_enabled = t.snap.redis_enabled;
    out->redis_connected = t.snap.redis.connected;
    if (!out->redis_enabled)
        snprintf(out->redis_detail, sizeof(out->redis_detail), "disabled (verdicts in memory)");
    else if (t.snap.redis.connected)
        snprintf(out->redis_detail, sizeof(out->redis_detail), "connected");
    else
        snprintf(out->redis_detail, sizeof(out->redis_detail), "disconnected: %s",
                 t.snap.redis.last_error[0] ? t.snap.redis.last_error : "not connected yet");
    snprintf(out->sensor, sizeof(out->sensor), "%s", d->cfg->sensor.id);
    out->uptime_s = dd_mono_s() - d->start_wall;
    out->packets = t.packets;
    out->flows = t.scored;
    out->verdicts = t.snap.table.ips;
}
