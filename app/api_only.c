/* api_only.c - `ddosd --api-only`: an API node without capture or model that serves every
 * endpoint from the merged verdicts in Redis (docs/scale-out.md).
 *
 * Owns: the node's verdict store, its follower (verdicts/redis_follow.h, MIRROR mode: the store
 * mirrors Redis, kept current by the ddos:events stream and top-set polls), a Redis sink for the
 * reports it accepts (so that every sensor and API node sees them), the report queue between the
 * API threads and the main thread, and the API server. May call: api, verdicts, common.
 * The sink stays unconnected until the first report (see ao_drain).
 *
 * DESIGN: the node holds no evidence of its own, so it has nothing to lose: several can run
 * behind one nginx, each a full copy of the merged view, and any of them can be restarted. When
 * Redis is gone the store keeps its last state and goes on answering; entries expire when their
 * hashes would have, and /health says "degraded" with the reason. The main thread, which owns
 * the sink (a sink has one owner thread), drains the report queue and flushes every 100 ms; it
 * also handles the signals as the capturing daemon does (SIGTERM stop, SIGUSR1 reopen logs;
 * SIGHUP has no model or rules to reload here and says so). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/daemon.h"
#include "common/log.h"
#include "common/service.h"
#include "verdicts/redis_follow.h"

#define REPORTS_MAX 1024

struct api_only {
    const struct ddosd_config *cfg;
    struct verdict_store *store;
    struct redis_follow *follow;
    struct redis_sink *sink; /* main thread only */
    bool sink_used;          /* main thread: a report went to the sink (it connects from then on) */
    struct api_server *api;
    double start_s;

    pthread_mutex_t lock; /* reports[], nreports, reports_dropped */
    struct verdict reports[REPORTS_MAX];
    unsigned nreports;
    uint64_t reports_dropped;
    struct redis_sink_stats sink_stats; /* copied by the main thread under lock */
};

int daemon_redis_params(const struct ddosd_config *cfg, struct redis_conn_params *p, char *host_buf,
                        size_t host_len)
{
    memset(p, 0, sizeof(*p));
    if (cfg->redis.sentinels.n) {
        if (redis_conn_sentinel_host(host_buf, host_len, cfg->redis.master_name,
                                     (const char *const *)cfg->redis.sentinels.items,
                                     cfg->redis.sentinels.n) != 0)
            return -ENAMETOOLONG;
        p->host = host_buf;
    } else {
        p->host = cfg->redis.host;
    }
    p->port = (unsigned)cfg->redis.port;
    p->username = cfg->redis.username[0] ? cfg->redis.username : NULL;
    p->password = cfg->redis.password;
    p->db = (unsigned)cfg->redis.db;
    p->connect_timeout_ms = 200;
    p->command_timeout_ms = 200;
    p->keepalive = true;
    p->prefer_replica = cfg->redis.read_from == CONFIG_READ_REPLICA;
    return 0;
}

int daemon_redis_probe(const struct ddosd_config *cfg, char *err, size_t err_len)
{
    struct redis_conn_params p;
    char host[4096], why[512];
    if (daemon_redis_params(cfg, &p, host, sizeof(host)) != 0) {
        snprintf(err, err_len, "redis.sentinels: the list is too long");
        return -EINVAL;
    }
    p.prefer_replica = false; /* the writers' server: the one that must be there */
    p.connect_timeout_ms = 1000;
    p.command_timeout_ms = 1000;
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    struct redisContext *c = redis_conn_connect(&p, why, sizeof(why));
    redis_sigpipe_restore(&g);
    if (!c) {
        snprintf(err, err_len,
                 "redis.required is true and Redis cannot be reached: %s; start Redis (or "
                 "Sentinel), fix redis.* in config.json, or set redis.required false to start "
                 "anyway and retry in the background",
                 why);
        return -ECONNREFUSED;
    }
    redis_conn_close(c);
    return 0;
}

/* ---- API hooks (API threads) ---------------------------------------------------------------- */

static void ao_health(void *user, struct api_health *out)
{
    struct api_only *a = user;
    memset(out, 0, sizeof(*out));
    out->capture_ok = true;
    snprintf(out->capture_detail, sizeof(out->capture_detail), "api-only node (no capture)");
    out->model_ok = true;
    snprintf(out->model_detail, sizeof(out->model_detail), "api-only node (no model)");
    struct redis_follow_stats fs;
    redis_follow_stats_get(a->follow, &fs);
    struct verdict_store_stats ss;
    verdict_store_stats_get(a->store, &ss);
    out->redis_enabled = true;
    out->redis_connected = fs.connected;
    if (fs.connected)
        snprintf(out->redis_detail, sizeof(out->redis_detail), "following %.140s", fs.server);
    else
        snprintf(out->redis_detail, sizeof(out->redis_detail),
                 "disconnected (%.100s); answering from the last state",
                 fs.last_error[0] ? fs.last_error : "not connected yet");
    snprintf(out->sensor, sizeof(out->sensor), "%s", a->cfg->sensor.id);
    out->uptime_s = dd_mono_s() - a->start_s;
    out->verdicts = ss.entries;
}

static size_t ao_counters(void *user, struct api_counter *out, size_t max)
{
    struct api_only *a = user;
    struct redis_follow_stats fs;
    redis_follow_stats_get(a->follow, &fs);
    struct verdict_store_stats ss;
    verdict_store_stats_get(a->store, &ss);
    pthread_mutex_lock(&a->lock);
    uint64_t dropped = a->reports_dropped;
    struct redis_sink_stats ks = a->sink_stats;
    pthread_mutex_unlock(&a->lock);
    const struct api_counter all[] = {
        {"follower_events_total", "Stream entries the follower read", NULL, NULL, fs.events,
         API_COUNTER},
        {"follower_fetched_total", "Verdict hashes the follower read", NULL, NULL, fs.fetched,
         API_COUNTER},
        {"follower_applied_total", "Store updates from Redis", NULL, NULL, fs.applied, API_COUNTER},
        {"follower_removed_total", "Addresses dropped: their hash expired", NULL, NULL, fs.removed,
         API_COUNTER},
        {"follower_polls_total", "Top-set polls", NULL, NULL, fs.polls, API_COUNTER},
        {"follower_errors_total", "Follower connect and I/O errors", NULL, NULL, fs.errors,
         API_COUNTER},
        {"follower_reconnects_total", "Follower reconnects", NULL, NULL, fs.reconnects,
         API_COUNTER},
        {"follower_lookups_total", "Read-throughs to Redis for an address not in the store", NULL,
         NULL, fs.lookups, API_COUNTER},
        {"follower_lookup_hits_total", "Read-throughs that found a verdict", NULL, NULL,
         fs.lookup_hits, API_COUNTER},
        {"follower_bad_views_total", "sensor:<id> hash fields refused (bad id or value)", NULL,
         NULL, fs.bad_views, API_COUNTER},
        {"redis_connected", "1 when the follower is connected", NULL, NULL, fs.connected,
         API_GAUGE},
        {"verdict_store_entries", "Addresses in the verdict store", NULL, NULL, ss.entries,
         API_GAUGE},
        {"verdict_store_full_drops_total", "Verdicts the full store refused or evicted", NULL, NULL,
         ss.full_drops, API_COUNTER},
        {"reports_dropped_total", "Reports not queued for Redis: the queue was full", NULL, NULL,
         dropped, API_COUNTER},
        {"redis_verdicts_written_total", "Report verdicts Redis acknowledged", NULL, NULL,
         ks.verdicts_written, API_COUNTER},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && n < max; i++)
        out[n++] = all[i];
    return n;
}

static bool ao_lookup(void *user, const struct verdict *key, struct verdict_store_entry *out)
{
    struct api_only *a = user;
    return redis_follow_lookup(a->follow, key, out);
}

/* The API has merged the report into the store already; it goes to Redis from the main thread
 * (the sink's owner), so that the sensors and other API nodes see it. */
static int ao_report(void *user, const struct verdict *v)
{
    struct api_only *a = user;
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    if (a->nreports < REPORTS_MAX) {
        a->reports[a->nreports++] = *v;
    } else {
        a->reports_dropped++;
        rc = -EAGAIN;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

/* ---- main thread ------------------------------------------------------------------------------
 */

static void ao_drain(struct api_only *a)
{
    struct verdict batch[64];
    for (;;) {
        unsigned n = 0;
        pthread_mutex_lock(&a->lock);
        while (n < 64 && a->nreports > 0)
            batch[n++] = a->reports[--a->nreports];
        pthread_mutex_unlock(&a->lock);
        for (unsigned i = 0; i < n; i++)
            (void)redis_sink_put(a->sink, &batch[i]);
        a->sink_used |= n > 0;
        if (n < 64)
            break;
    }
    /* Not before the first report: a connected sink announces itself as a writing sensor
     * (docs/redis.md), and a node that writes nothing must not make the real sensors merge. */
    if (!a->sink_used)
        return;
    (void)redis_sink_flush(a->sink, redis_sink_now_ms());
    pthread_mutex_lock(&a->lock);
    redis_sink_stats_get(a->sink, &a->sink_stats);
    pthread_mutex_unlock(&a->lock);
}

static int ao_start(struct api_only *a, char *err, size_t len)
{
    const struct ddosd_config *cfg = a->cfg;
    char perr[256];
    if (service_drop_privileges(cfg->user, perr, sizeof(perr)) != 0) {
        snprintf(err, len, "%s", perr);
        return -EPERM;
    }
    if (!cfg->redis.enabled) {
        snprintf(err, len,
                 "--api-only serves the verdicts in Redis: give --redis URL (or redis.host / "
                 "redis.sentinels in config.json)");
        return -EINVAL;
    }
    if (cfg->redis.required && daemon_redis_probe(cfg, err, len) != 0)
        return -ECONNREFUSED;
    if (!cfg->api.listen.enabled) {
        snprintf(err, len, "--api-only with --api none would serve nothing: give --api HOST:PORT");
        return -EINVAL;
    }
    struct verdict_store_decisions dec = {.levels = cfg->decisions.levels,
                                          .roles = cfg->decisions.roles};
    a->store = verdict_store_create(1u << 20, 0, &dec);
    if (!a->store) {
        snprintf(err, len, "out of memory for the verdict store");
        return -ENOMEM;
    }
    static char host[4096]; /* the sink and the follower copy it */
    struct redis_follow_config fc = {
        .store = a->store, .mode = REDIS_FOLLOW_MIRROR, .sensor_id = cfg->sensor.id};
    if (daemon_redis_params(cfg, &fc.conn, host, sizeof(host)) != 0) {
        snprintf(err, len, "redis.sentinels: the list is too long");
        return -EINVAL;
    }
    struct redis_sink_config rc = {
        .host = fc.conn.host,
        .port = (uint16_t)cfg->redis.port,
        .db = (uint32_t)cfg->redis.db,
        .username = fc.conn.username,
        .password = cfg->redis.password[0] ? cfg->redis.password : NULL,
        .sensor_id = cfg->sensor.id,
        .ttl_s = (uint32_t)cfg->cache.ttl,
        .flush_interval_ms = 100,
    };
    a->sink = redis_sink_create(&rc);
    if (!a->sink) {
        snprintf(err, len, "redis: bad settings (see the log line above)");
        return -EINVAL;
    }
    a->follow = redis_follow_start(&fc);
    if (!a->follow) {
        snprintf(err, len, "cannot start the Redis follower (see the log line above)");
        return -ENOMEM;
    }
    char access_log[4096] = "";
    if (cfg->log.dir[0])
        snprintf(access_log, sizeof(access_log), "%s/access.log", cfg->log.dir);
    struct api_options ao = {
        .cfg = cfg,
        .secret_key = config_env_lookup(cfg, "SECRET_KEY"),
        .access_log_path = access_log[0] ? access_log : NULL,
        .store = a->store,
        .hooks = {.user = a,
                  .health = ao_health,
                  .counters = ao_counters,
                  .report = ao_report,
                  .lookup = ao_lookup},
    };
    a->api = api_start(&ao, err, len);
    if (!a->api)
        return -EADDRINUSE;
    DD_INFO("API-only node listening on %s:%u, verdicts from redis %s%s%s", cfg->api.listen.host,
            api_port(a->api), fc.conn.host,
            cfg->redis.read_from == CONFIG_READ_REPLICA ? " (a replica when Sentinel names one)"
                                                        : "",
            "");
    return 0;
}

static void ao_loop(struct api_only *a)
{
    uint64_t watchdog_us = service_watchdog_interval_us();
    double next_watchdog = 0, next_minute = dd_mono_s() + 60;
    while (!service_stop_requested()) {
        double now = dd_mono_s();
        if (watchdog_us && now >= next_watchdog) {
            (void)service_notify_watchdog();
            next_watchdog = now + (double)watchdog_us / 1e6;
        }
        if (service_reload_take()) {
            DD_INFO("reload: an API-only node has no model or rules to reload");
            (void)service_notify_ready("api-only");
        }
        if (service_reopen_take()) {
            int rc = log_reopen();
            if (rc == 0)
                rc = api_reopen_log(a->api);
            if (rc != 0)
                DD_ERROR("cannot reopen the log files: %s", strerror(-rc));
            else
                DD_INFO("log files reopened");
        }
        ao_drain(a);
        (void)verdict_store_expire(a->store, verdict_store_now_ms(), 4096);
        if (now >= next_minute) {
            struct redis_follow_stats fs;
            redis_follow_stats_get(a->follow, &fs);
            struct verdict_store_stats ss;
            verdict_store_stats_get(a->store, &ss);
            DD_INFO("api-only: %" PRIu64 " verdicts, follower %s, %" PRIu64 " events, %" PRIu64
                    " hashes read, %" PRIu64 " errors",
                    ss.entries, fs.connected ? "connected" : "disconnected", fs.events, fs.fetched,
                    fs.errors);
            next_minute = now + 60;
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

int api_only_main(const struct ddosd_config *cfg)
{
    static struct api_only a;
    a.cfg = cfg;
    a.start_s = dd_mono_s();
    pthread_mutex_init(&a.lock, NULL);
    char err[1024];
    int status = 0;
    if (ao_start(&a, err, sizeof(err)) != 0) {
        DD_ERROR("%s", err);
        if (cfg->log.dir[0])
            fprintf(stderr, "ddosd: %s\n", err);
        status = 1;
    } else {
        (void)service_notify_ready("api-only");
        DD_INFO("ready: API-only node (no capture, no model)");
        ao_loop(&a);
        (void)service_notify_stopping();
        DD_INFO("stopping");
    }
    api_stop(a.api);
    redis_follow_stop(a.follow);
    if (a.sink) {
        ao_drain(&a);
        redis_sink_destroy(a.sink, 1000);
    }
    verdict_store_destroy(a.store);
    pthread_mutex_destroy(&a.lock);
    return status;
}
