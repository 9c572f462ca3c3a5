/* report_log.c - the audit trail of /api/report-attack: one entry per report in the Redis stream
 * ddos:reports (XADD MAXLEN ~ 10000), through a small hiredis connection the API owns.
 *
 * Threads: any API thread may append; one mutex guards the one connection (reports are rare:
 * operators and gateways, not traffic). The verdict stage's Redis sink is a different
 * connection on a different thread; this module never touches it.
 *
 * DESIGN: connect lazily on the first report, with short connect and command timeouts, so a
 * dead Redis costs a report at most ~2 x REPORT_TIMEOUT_MS. After a failure the connection is
 * dropped and Redis is skipped for REPORT_BACKOFF_MS: reports are still applied (the caller
 * stores them in memory and says "stored": "memory"), they just leave no stream entry. Arguments
 * go through redisCommandArgv, so report text is never interpreted as a command. */
#include "api/api_internal.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "verdicts/redis_conn.h"

#define REPORT_STREAM     "ddos:reports"
#define REPORT_STREAM_MAX "10000"
enum { REPORT_TIMEOUT_MS = 300, REPORT_BACKOFF_MS = 5000, REPORT_FIELDS_MAX = 16 };

struct report_log {
    pthread_mutex_t lock;
    bool enabled;
    char *host;
    int port;
    int db;
    char *password;
    char *username;       /* NULL: AUTH <password> alone */
    redisContext *ctx;    /* lock; NULL when not connected */
    uint64_t retry_at_ms; /* lock; no connection attempt before this (monotonic ms) */
};

struct report_log *report_log_create(const struct config_redis *cfg)
{
    struct report_log *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        free(l);
        return NULL;
    }
    l->enabled = cfg->enabled;
    char sentinel_host[4096]; /* Sentinel rides in the host string (verdicts/redis_conn.h) */
    bool sentinel =
        cfg->sentinels.n &&
        redis_conn_sentinel_host(sentinel_host, sizeof(sentinel_host), cfg->master_name,
                                 (const char *const *)cfg->sentinels.items, cfg->sentinels.n) == 0;
    l->host = strdup(sentinel ? sentinel_host : cfg->host ? cfg->host : "127.0.0.1");
    l->username = cfg->username && cfg->username[0] ? strdup(cfg->username) : NULL;
    l->password = strdup(cfg->password ? cfg->password : "");
    l->port = cfg->port;
    l->db = cfg->db;
    if (l->host == NULL || l->password == NULL) {
        report_log_destroy(l);
        return NULL;
    }
    return l;
}

void report_log_destroy(struct report_log *l)
{
    if (l == NULL)
        return;
    if (l->ctx)
        redisFree(l->ctx);
    pthread_mutex_destroy(&l->lock);
    free(l->host);
    free(l->username);
    if (l->password) {
        explicit_bzero(l->password, strlen(l->password));
        free(l->password);
    }
    free(l);
}

/* Runs one command; true when the reply is not an error. *reply_out (when not NULL) receives
 * the reply to free. */
static bool command(redisContext *ctx, int argc, const char **argv, const size_t *lens,
                    redisReply **reply_out)
{
    redisReply *r = redisCommandArgv(ctx, argc, argv, lens);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r && r->type == REDIS_REPLY_ERROR)
        DD_WARN("api: redis: %s", r->str);
    if (reply_out && ok)
        *reply_out = r;
    else if (r)
        freeReplyObject(r);
    return ok;
}

/* Connects, authenticates and selects the db. Called with the lock held. */
static bool connect_locked(struct report_log *l)
{
    const struct redis_conn_params params = {
        .host = l->host,
        .username = l->username,
        .port = (unsigned)l->port,
        .password = l->password,
        .db = (unsigned)l->db,
        .connect_timeout_ms = REPORT_TIMEOUT_MS,
        .command_timeout_ms = REPORT_TIMEOUT_MS,
    };
    char why[256];
    l->ctx = redis_conn_connect(&params, why, sizeof(why));
    if (l->ctx == NULL)
        DD_WARN("api: redis at %s:%d for the report stream: %s; reports are kept in memory only "
                "until it is back",
                l->host, l->port, why);
    return l->ctx != NULL;
}

bool report_log_append(struct report_log *l, const char *const *names, const char *const *values,
                       size_t n, char *id, size_t id_len)
{
    if (!l->enabled || n > REPORT_FIELDS_MAX)
        return false;
    const char *argv[6 + 2 * REPORT_FIELDS_MAX];
    size_t lens[6 + 2 * REPORT_FIELDS_MAX];
    int argc = 0;
    const char *head[] = {"XADD", REPORT_STREAM, "MAXLEN", "~", REPORT_STREAM_MAX, "*"};
    for (size_t i = 0; i < DD_ARRAY_LEN(head); i++) {
        argv[argc] = head[i];
        lens[argc++] = strlen(head[i]);
    }
    for (size_t i = 0; i < n; i++) {
        argv[argc] = names[i];
        lens[argc++] = strlen(names[i]);
        argv[argc] = values[i] ? values[i] : "";
        lens[argc] = strlen(argv[argc]);
        argc++;
    }

    bool ok = false;
    /* A dead peer raises SIGPIPE on write: blocked in this thread around the I/O, and one we
     * caused is consumed, so the process needs no handler (verdicts/redis_conn.h). */
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    pthread_mutex_lock(&l->lock);
    if (l->ctx == NULL) {
        if (dd_mono_ms() < l->retry_at_ms || !connect_locked(l)) {
            if (l->ctx == NULL && dd_mono_ms() >= l->retry_at_ms)
                l->retry_at_ms = dd_mono_ms() + REPORT_BACKOFF_MS;
            goto out;
        }
    }
    redisReply *r = NULL;
    if (command(l->ctx, argc, argv, lens, &r) && r->type == REDIS_REPLY_STRING) {
        snprintf(id, id_len, "%s", r->str);
        ok = true;
    } else {
        DD_WARN("api: redis XADD %s failed: %s; the report is kept in memory only", REPORT_STREAM,
                l->ctx->err ? l->ctx->errstr : "unexpected reply");
        redisFree(l->ctx);
        l->ctx = NULL;
        l->retry_at_ms = dd_mono_ms() + REPORT_BACKOFF_MS;
    }
    if (r)
        freeReplyObject(r);
out:
    pthread_mutex_unlock(&l->lock);
    redis_sigpipe_restore(&g);
    return ok;
}
