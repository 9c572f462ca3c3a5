/* redis_follow.c - the follower: one thread that reads the merged verdicts from Redis into a
 * verdict store (the contract is in redis_follow.h; the layout in docs/redis.md).
 *
 * Owns: its thread, its hiredis connection, the last stream id it read, and the snapshot of the
 * top set from its last poll (sorted addresses with their scores). Writes only to the borrowed
 * verdict store (thread-safe). May call: redis_conn, verdict_store, verdict, common/log, hiredis.
 *
 * DESIGN: two sources, because neither is enough alone. The events stream is fast (XREAD BLOCK
 * returns as soon as a sensor's attack_start is written) but says nothing about changes between
 * an attack's start and end, nor about verdicts that never reach high. The top set holds every
 * live verdict with its merged score: diffing it against the last poll finds new, re-scored and
 * vanished addresses in one ZRANGE, and a rotating slice of re-reads catches what moves no score
 * (a second sensor joining at a lower level, a role change). Every hash is read with PTTL in the
 * same pipeline, so the store entry expires when the hash does even if Redis goes away.
 *
 * Why a whole-struct comparison before each put: every put takes a new change sequence in the
 * store, and decision streams (/v1/decisions/stream) report entries by sequence. Re-putting an
 * unchanged verdict at every poll would make it look new to every bouncer again.
 *
 * Outages: an I/O error drops the connection; nothing is removed from the store for want of an
 * answer (the API keeps answering from the last state and /health says "degraded"); the thread
 * retries with backoff (100 ms doubling to 2 s) and, once back, polls the whole top set. */
#include "verdicts/redis_follow.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/log.h"

#define FETCH_BATCH   500 /* addresses per HGETALL/PTTL pipeline */
#define EVENTS_BATCH  256 /* stream entries per XREAD */
#define BACKOFF_MIN   100
#define BACKOFF_MAX   2000
#define STREAM_ID_MAX 48
#define PREFIX_MAX    64 /* key_prefix, as the sink's (docs/redis.md) */

struct top_item {
    char ip[VERDICT_IP_TEXT_MAX];
    double score;
};

struct redis_follow {
    struct redis_follow_config cfg; /* strings point at the copies below */
    char *host, *username, *password, *sentinels, *master_name;
    char prefix[PREFIX_MAX + 1];
    char sensor[VERDICT_SENSOR_MAX];
    pthread_t thread;
    atomic_bool stop;

    redisContext *ctx; /* follower thread only */
    char last_id[STREAM_ID_MAX];
    struct top_item *top; /* the last poll, sorted by ip */
    size_t ntop;
    size_t refresh_cursor;
    uint64_t next_poll_ms;
    uint64_t next_resolve_ms; /* read_from replica: when to ask Sentinel again (see loop) */
    char server[REDIS_CONN_HOST_MAX + 8]; /* "host:port" connected to (follower thread) */
    uint32_t backoff_ms;
    bool ever_connected;
    bool outage_logged;

    pthread_mutex_t stats_lock;
    struct redis_follow_stats stats;

    pthread_mutex_t lookup_lock; /* lookup_ctx, lookup_retry_ms (trylock: one lookup at a time) */
    redisContext *lookup_ctx;
    uint64_t lookup_retry_ms;
};

static void set_error(struct redis_follow *f, const char *what, const char *why)
{
    pthread_mutex_lock(&f->stats_lock);
    snprintf(f->stats.last_error, sizeof(f->stats.last_error), "%.16s: %.200s", what, why);
    f->stats.errors++;
    f->stats.connected = false;
    pthread_mutex_unlock(&f->stats_lock);
}

static void count(struct redis_follow *f, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&f->stats_lock);
    *field += n;
    pthread_mutex_unlock(&f->stats_lock);
}

static void mark_ok(struct redis_follow *f)
{
    pthread_mutex_lock(&f->stats_lock);
    f->stats.last_ok_ms = dd_realtime_ms();
    pthread_mutex_unlock(&f->stats_lock);
}

/* ---- parsing ------------------------------------------------------------------------------ */

static bool field_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

/* Copies at most cap-1 bytes of a length-delimited value. */
static void copy_str(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* Reason names one by one: a name this build does not know (a newer sensor) is skipped. */
static uint32_t parse_reasons(const char *s, size_t len)
{
    uint32_t out = 0;
    char name[64];
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        copy_str(name, sizeof(name), s + i, j - i);
        uint32_t bit;
        if (name[0] && verdict_reasons_parse(name, &bit) == 0)
            out |= bit;
        i = j + 1;
    }
    return out;
}

/* `sensor` = the leader, then the other live sensors of `sensors`, cut at a whole id. */
static void sensors_format(struct verdict *v, const char *leader, const char *list)
{
    char out[VERDICT_SENSOR_MAX];
    snprintf(out, sizeof(out), "%s", leader);
    size_t off = strlen(out);
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        bool is_leader = n == strlen(leader) && strncmp(p, leader, n) == 0;
        if (n && !is_leader) {
            if (off == 0 && n < sizeof(out)) {
                memcpy(out, p, n);
                off = n;
                out[off] = '\0';
            } else if (off + 1 + n < sizeof(out)) {
                out[off++] = ',';
                memcpy(out + off, p, n);
                off += n;
                out[off] = '\0';
            }
        }
        p = e ? e + 1 : NULL;
    }
    memcpy(v->sensor, out, sizeof(out));
}

int redis_follow_parse(const char *const *kv, const size_t *lens, size_t n, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    bool have_ip = false, have_level = false;
    char leader[VERDICT_SENSOR_MAX] = "", sensors[512] = "", buf[512];
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *k = kv[i], *val = kv[i + 1];
        size_t kl = lens[i], vl = lens[i + 1];
        copy_str(buf, sizeof(buf), val, vl);
        if (field_is(k, kl, "ip")) {
            have_ip = verdict_ip_parse(buf, v) == 0;
        } else if (field_is(k, kl, "threat_level")) {
            enum threat_level l;
            if (threat_level_parse(buf, &l) == 0) {
                v->level = (uint8_t)l;
                have_level = true;
            }
        } else if (field_is(k, kl, "role")) {
            enum verdict_role r;
            if (verdict_role_parse(buf, &r) == 0)
                v->role = (uint8_t)r;
        } else if (field_is(k, kl, "score")) {
            v->score = strtod(buf, NULL);
        } else if (field_is(k, kl, "attack_type")) {
            copy_str(v->attack_type, sizeof(v->attack_type), val, vl);
        } else if (field_is(k, kl, "reasons")) {
            v->reasons = parse_reasons(val, vl);
        } else if (field_is(k, kl, "flows_total")) {
            v->flows_total = strtoull(buf, NULL, 10);
        } else if (field_is(k, kl, "flows_attack")) {
            v->flows_attack = strtoull(buf, NULL, 10);
        } else if (field_is(k, kl, "pps")) {
            v->pps = strtod(buf, NULL);
        } else if (field_is(k, kl, "bps")) {
            v->bps = strtod(buf, NULL);
        } else if (field_is(k, kl, "first_seen")) {
            v->first_seen_us = strtoull(buf, NULL, 10);
        } else if (field_is(k, kl, "last_seen")) {
            v->last_seen_us = strtoull(buf, NULL, 10);
        } else if (field_is(k, kl, "sensor")) {
            copy_str(leader, sizeof(leader), val, vl);
        } else if (field_is(k, kl, "sensors")) {
            copy_str(sensors, sizeof(sensors), val, vl);
        } else if (field_is(k, kl, "model_version")) {
            copy_str(v->model_version, sizeof(v->model_version), val, vl);
        } else if (field_is(k, kl, "spoofed_sources")) {
            v->spoofed_sources = (uint32_t)strtoul(buf, NULL, 10);
        } else if (field_is(k, kl, "spoofed_examples")) {
            unsigned slot = 0;
            for (char *save = NULL, *t = strtok_r(buf, ",", &save);
                 t && slot < VERDICT_SPOOFED_EXAMPLES; t = strtok_r(NULL, ",", &save)) {
                struct verdict tmp;
                if (verdict_ip_parse(t, &tmp) == 0) {
                    memcpy(v->spoofed_example[slot], tmp.ip, 16);
                    v->spoofed_example_ver[slot++] = tmp.ip_version;
                }
            }
        }
    }
    if (!have_ip || !have_level)
        return -EINVAL;
    if (v->score < 0 || !(v->score <= 1))
        v->score = v->score > 1 ? 1 : 0;
    sensors_format(v, leader, sensors);
    return 0;
}

/* ---- sensor views ----------------------------------------------------------------------- */

/* A sensor id as config.json's sensor.id allows it: 1..63 of [A-Za-z0-9._:-]. What a hostile
 * writer puts in a field name never reaches the JSON otherwise. */
static bool view_id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= VERDICT_SENSOR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* The next space-separated token of s (len bytes) from *pos: true and [*tok, *tok + *tn). */
static bool next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *tn)
{
    if (*pos >= len)
        return false;
    size_t e = *pos;
    while (e < len && s[e] != ' ')
        e++;
    *tok = s + *pos;
    *tn = e - *pos;
    *pos = e + 1;
    return *tn > 0;
}

/* A decimal real as a sensor writes it (%.4f, %.1f): digits, sign, point, exponent; strtod's
 * hex, inf and nan forms are not. */
static bool parse_real(const char *t, size_t n, double *out)
{
    char b[48];
    if (n >= sizeof(b) || strspn(t, "0123456789+-.eE") < n)
        return false;
    memcpy(b, t, n);
    b[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(b, &end);
    if (end == b || *end || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* Up to 20 decimal digits, at most max. */
static bool parse_uint(const char *t, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return false;
        unsigned d = (unsigned)(t[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* The end of year 9999 in microseconds: a later last_seen is not a time any sensor wrote. */
#define LAST_SEEN_US_MAX 253402300799999999ull

/* "<level> <score> <unix ms> [<pps> <last_seen>]" (docs/redis.md; a sensor older than pps and
 * last_seen writes the first three) into w. Score is clamped to 0..1 and a negative pps to 0;
 * anything else malformed (an unknown level, a token that is not a finite number, an unsigned
 * out of range, a fourth token without a fifth, a sixth) refuses the view. */
static bool view_value_parse(const char *s, size_t len, struct verdict_sensor_view *w)
{
    const char *t[6];
    size_t tn[6], pos = 0, k = 0;
    while (k < 6 && next_token(s, len, &pos, &t[k], &tn[k]))
        k++;
    if ((k != 3 && k != 5) || pos < len + 1)
        return false; /* a count other than 3 or 5, or an empty token (two spaces, a trailing one)
                       */
    char lv[16];
    enum threat_level l;
    uint64_t ms;
    if (tn[0] >= sizeof(lv))
        return false;
    memcpy(lv, t[0], tn[0]);
    lv[tn[0]] = '\0';
    if (threat_level_parse(lv, &l) != 0 || !parse_real(t[1], tn[1], &w->score) ||
        !parse_uint(t[2], tn[2], UINT64_MAX, &ms))
        return false;
    w->level = (uint8_t)l;
    w->score = w->score < 0 ? 0 : w->score > 1 ? 1 : w->score;
    if (k == 5) {
        if (!parse_real(t[3], tn[3], &w->pps) ||
            !parse_uint(t[4], tn[4], LAST_SEEN_US_MAX, &w->last_seen_us))
            return false;
        if (w->pps < 0)
            w->pps = 0;
    }
    return true;
}

/* Whether id (n bytes) is one of the comma-separated ids of list. */
static bool in_list(const char *list, const char *id, size_t n)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t m = e ? (size_t)(e - p) : strlen(p);
        if (m == n && memcmp(p, id, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* The views' order: the leader first, then level and score descending, then id. */
static int view_cmp(const struct verdict_sensor_view *a, const struct verdict_sensor_view *b,
                    const char *leader)
{
    bool la = strcmp(a->sensor, leader) == 0, lb = strcmp(b->sensor, leader) == 0;
    if (la != lb)
        return la ? -1 : 1;
    if (a->level != b->level)
        return a->level > b->level ? -1 : 1;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return strcmp(a->sensor, b->sensor);
}

/* Inserts w into out in order; past VERDICT_VIEWS_MAX the last one is counted in omitted. */
static void views_insert(struct verdict_views *out, const struct verdict_sensor_view *w,
                         const char *leader)
{
    size_t i = out->n;
    while (i > 0 && view_cmp(w, &out->v[i - 1], leader) < 0)
        i--;
    if (i == VERDICT_VIEWS_MAX) {
        out->omitted++;
        return;
    }
    if (out->n == VERDICT_VIEWS_MAX) {
        out->omitted++;
        out->n--;
    }
    memmove(&out->v[i + 1], &out->v[i], (out->n - i) * sizeof(out->v[0]));
    memcpy(&out->v[i], w, sizeof(*w));
    out->n++;
}

int redis_follow_parse_views(const char *const *kv, const size_t *lens, size_t n,
                             struct verdict_views *out)
{
    memset(out, 0, sizeof(*out));
    char leader[VERDICT_SENSOR_MAX] = "", sensors[512] = "";
    bool have_sensors = false;
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (field_is(kv[i], lens[i], "sensor")) {
            copy_str(leader, sizeof(leader), kv[i + 1], lens[i + 1]);
        } else if (field_is(kv[i], lens[i], "sensors")) {
            copy_str(sensors, sizeof(sensors), kv[i + 1], lens[i + 1]);
            have_sensors = lens[i + 1] < sizeof(sensors); /* a cut list cannot say who is live */
        }
    }
    int refused = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *k = kv[i];
        size_t kl = lens[i];
        if (kl < 7 || memcmp(k, "sensor:", 7) != 0)
            continue;
        const char *id = k + 7;
        size_t idn = kl - 7;
        struct verdict_sensor_view w;
        memset(&w, 0, sizeof(w)); /* views are compared with memcmp: no stray bytes */
        if (!view_id_ok(id, idn) || !view_value_parse(kv[i + 1], lens[i + 1], &w)) {
            refused++;
            continue;
        }
        memcpy(w.sensor, id, idn);
        if (have_sensors && !in_list(sensors, id, idn))
            continue; /* older than ttl at the last merge: no longer holds the level up */
        bool dup = false;
        for (size_t j = 0; j < out->n && !dup; j++)
            dup = strcmp(out->v[j].sensor, w.sensor) == 0;
        if (dup) { /* a hash cannot have it; a list of pairs from elsewhere can */
            refused++;
            continue;
        }
        views_insert(out, &w, leader);
    }
    return refused;
}

/* The event's own view (its sensor, level, score, pps, last_seen) replaces that sensor's in
 * views, as the leader: an event is applied when it is ahead of the hash. */
static void views_note_event(struct verdict_views *views, const struct verdict *ev)
{
    struct verdict_sensor_view w;
    memset(&w, 0, sizeof(w));
    size_t n = strcspn(ev->sensor, ",");
    if (!view_id_ok(ev->sensor, n))
        return;
    memcpy(w.sensor, ev->sensor, n);
    w.level = ev->level;
    w.score = ev->score;
    w.pps = isfinite(ev->pps) && ev->pps > 0 ? ev->pps : 0;
    w.last_seen_us = ev->last_seen_us <= LAST_SEEN_US_MAX ? ev->last_seen_us : 0;
    for (size_t j = 0; j < views->n; j++)
        if (strcmp(views->v[j].sensor, w.sensor) == 0) {
            memmove(&views->v[j], &views->v[j + 1], (views->n - j - 1) * sizeof(views->v[0]));
            views->n--;
            memset(&views->v[views->n], 0, sizeof(views->v[0]));
            break;
        }
    views_insert(views, &w, w.sensor);
}

bool redis_follow_is_remote(const struct verdict *e, const char *sensor_id)
{
    return strcmp(e->sensor, sensor_id) != 0;
}

/* ---- applying ------------------------------------------------------------------------------ */

/* Sets the views of the entry the store holds for v's address, when they changed (a local
 * verdict that stays: the other sensors' levels still explain the address). */
static void apply_views(struct redis_follow *f, const struct verdict *v,
                        const struct verdict_views *views, bool have,
                        const struct verdict_views *cur)
{
    if (!have || memcmp(cur, views, sizeof(*views)) == 0)
        return;
    if (verdict_store_set_views(f->cfg.store, v->ip, v->ip_version, views) == 0)
        count(f, &f->stats.applied, 1);
}

/* Puts v with its views unless the store already holds exactly them (see DESIGN) or, in RAISE
 * mode, a local verdict of a higher level (or this sensor's own: then only the views). */
static void apply(struct redis_follow *f, const struct verdict *v,
                  const struct verdict_views *views, long long pttl_ms)
{
    /* On a sensor, views explain what the other sensors hold: an address only this sensor
     * saw keeps the sensor's own document (its single view would repeat the verdict). */
    static const struct verdict_views none;
    if (f->cfg.mode == REDIS_FOLLOW_RAISE && views->n + views->omitted == 1 &&
        strcmp(views->v[0].sensor, f->sensor) == 0)
        views = &none;
    uint64_t now = verdict_store_now_ms();
    uint64_t expires = now + (pttl_ms > 0 ? (uint64_t)pttl_ms : 300000u);
    struct verdict_store_entry e;
    struct verdict_views cur;
    bool have = verdict_store_get_views(f->cfg.store, v->ip, v->ip_version, now, &e, &cur);
    if (!have)
        memset(&cur, 0, sizeof(cur));
    /* A sensor's own verdicts come back from Redis too: its stage knows them better. */
    if (f->cfg.mode == REDIS_FOLLOW_RAISE && !redis_follow_is_remote(v, f->sensor)) {
        apply_views(f, v, views, have, &cur);
        return;
    }
    if (have && f->cfg.mode == REDIS_FOLLOW_RAISE && !redis_follow_is_remote(&e.v, f->sensor) &&
        e.v.level > v->level) {
        apply_views(f, v, views, have, &cur);
        return;
    }
    /* Unchanged: only a later expiry would be news, and the hash's expiry moves on every write. */
    if (have && memcmp(&e.v, v, sizeof(*v)) == 0 && e.expires_ms + 5000 > expires &&
        memcmp(&cur, views, sizeof(cur)) == 0)
        return;
    int rc = verdict_store_put_views(f->cfg.store, v, expires, views);
    if (rc == 0 || rc == -ENOMEM) /* -ENOMEM: the verdict is in, without its views */
        count(f, &f->stats.applied, 1);
}

/* The address's hash is gone (every sensor's evidence expired): drop what the store holds from
 * Redis (in RAISE mode a local verdict stays: the stage owns it). Released, not removed: a live
 * operator report sent to this node holds for its own TTL whatever the sensors' evidence does. */
static void drop(struct redis_follow *f, const char *ip_text)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    if (verdict_ip_parse(ip_text, &v) != 0)
        return;
    struct verdict_store_entry e;
    if (!verdict_store_get(f->cfg.store, v.ip, v.ip_version, verdict_store_now_ms(), &e))
        return;
    if (f->cfg.mode == REDIS_FOLLOW_RAISE && !redis_follow_is_remote(&e.v, f->sensor)) {
        (void)verdict_store_set_views(f->cfg.store, v.ip, v.ip_version, NULL); /* Redis has none */
        return;
    }
    if (verdict_store_release(f->cfg.store, v.ip, v.ip_version))
        count(f, &f->stats.removed, 1);
}

/* ---- I/O ------------------------------------------------------------------------------------- */

static void disconnect(struct redis_follow *f)
{
    if (f->ctx)
        redisFree(f->ctx);
    f->ctx = NULL;
}

/* HGETALL + PTTL on c (main_conn: the thread's own, whose failure is the follower's) for each
 * address (an event may pass its own view in ev[i], used when it is
 * higher than the hash: the sink may write the event before the merge). Returns false on an I/O
 * error (the caller disconnects). */
static bool fetch(struct redis_follow *f, redisContext *c, bool main_conn, const char *const *ips,
                  const struct verdict *ev, size_t n)
{
    char key[PREFIX_MAX + 8 + VERDICT_IP_TEXT_MAX];
    for (size_t base = 0; base < n; base += FETCH_BATCH) {
        size_t m = n - base < FETCH_BATCH ? n - base : FETCH_BATCH;
        for (size_t i = 0; i < m; i++) {
            snprintf(key, sizeof(key), "%sverdict:%s", f->prefix, ips[base + i]);
            if (redisAppendCommand(c, "HGETALL %s", key) != REDIS_OK ||
                redisAppendCommand(c, "PTTL %s", key) != REDIS_OK)
                return false;
        }
        for (size_t i = 0; i < m; i++) {
            redisReply *h = NULL, *t = NULL;
            if (redisGetReply(c, (void **)&h) != REDIS_OK ||
                redisGetReply(c, (void **)&t) != REDIS_OK) {
                freeReplyObject(h);
                if (main_conn) /* the lookup connection's failures are its own */
                    set_error(f, "read", c->errstr);
                return false;
            }
            count(f, &f->stats.fetched, 1);
            long long pttl = t->type == REDIS_REPLY_INTEGER ? t->integer : -2;
            struct verdict v;
            struct verdict_views views;
            bool parsed = false;
            memset(&views, 0, sizeof(views));
            if (h->type == REDIS_REPLY_ARRAY && h->elements > 0 && h->elements <= 256) {
                const char *kv[256];
                size_t lens[256];
                bool strings = true;
                for (size_t k = 0; k < h->elements; k++) {
                    strings &= h->element[k]->type == REDIS_REPLY_STRING;
                    kv[k] = h->element[k]->str;
                    lens[k] = h->element[k]->len;
                }
                parsed = strings && redis_follow_parse(kv, lens, h->elements, &v) == 0;
                if (parsed) {
                    int bad = redis_follow_parse_views(kv, lens, h->elements, &views);
                    if (bad > 0)
                        count(f, &f->stats.bad_views, (uint64_t)bad);
                }
            }
            const struct verdict *e = ev ? &ev[base + i] : NULL;
            if (e && e->ip_version && (!parsed || e->level > v.level)) {
                views_note_event(&views, e);
                apply(f, e, &views, pttl);
            } else if (parsed) {
                apply(f, &v, &views, pttl);
            } else if (h->type == REDIS_REPLY_ARRAY && h->elements == 0 && pttl == -2) {
                drop(f, ips[base + i]);
            }
            freeReplyObject(h);
            freeReplyObject(t);
        }
    }
    mark_ok(f);
    return true;
}

static int top_cmp(const void *a, const void *b)
{
    return strcmp(((const struct top_item *)a)->ip, ((const struct top_item *)b)->ip);
}

/* ZRANGE top WITHSCORES, diffed against the last poll: fetch the new, the re-scored, the
 * vanished and a rotating slice of the rest. full: fetch everything (after a connect). */
static bool poll_top(struct redis_follow *f, bool full)
{
    char key[PREFIX_MAX + 8];
    snprintf(key, sizeof(key), "%stop", f->prefix);
    redisReply *r = redisCommand(f->ctx, "ZRANGE %s 0 -1 WITHSCORES", key);
    if (!r) {
        set_error(f, "ZRANGE", f->ctx->errstr);
        return false;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        set_error(f, "ZRANGE", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return false;
    }
    /* RESP2: member, score, member, score, ... */
    size_t n = r->elements / 2;
    struct top_item *now = n ? calloc(n, sizeof(*now)) : NULL;
    if (n && !now) {
        freeReplyObject(r);
        return true; /* out of memory: try again next poll */
    }
    size_t m = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *ip = r->element[i], *sc = r->element[i + 1];
        if (ip->type != REDIS_REPLY_STRING || ip->len >= VERDICT_IP_TEXT_MAX)
            continue;
        memcpy(now[m].ip, ip->str, ip->len + 1);
        now[m].score = sc->type == REDIS_REPLY_STRING ? strtod(sc->str, NULL) : 0;
        m++;
    }
    freeReplyObject(r);
    if (m)
        qsort(now, m, sizeof(*now), top_cmp);

    const char **want = malloc((m + f->ntop + 1) * sizeof(*want));
    if (!want) {
        free(now);
        return true;
    }
    size_t nw = 0;
    size_t refresh = f->cfg.refresh_per_poll, cursor = f->refresh_cursor;
    for (size_t i = 0; i < m; i++) {
        struct top_item *old =
            full || f->ntop == 0 /* bsearch of an empty (NULL) array is undefined */
                ? NULL
                : bsearch(&now[i], f->top, f->ntop, sizeof(*f->top), top_cmp);
        bool rotate = m > 0 && refresh > 0 && ((i + m - cursor % m) % m) < refresh;
        if (!old || fabs(old->score - now[i].score) > 1e-9 || rotate)
            want[nw++] = now[i].ip;
    }
    f->refresh_cursor = m ? (cursor + refresh) % m : 0;
    /* Vanished since the last poll: read them (the hash may live on; usually it is gone). */
    for (size_t i = 0; i < f->ntop; i++)
        if (m == 0 || !bsearch(&f->top[i], now, m, sizeof(*now), top_cmp))
            want[nw++] = f->top[i].ip;
    bool ok = fetch(f, f->ctx, true, want, NULL, nw);
    free(want);
    free(f->top);
    f->top = now;
    f->ntop = m;
    count(f, &f->stats.polls, 1);
    return ok;
}

/* One XREAD BLOCK; fetches the addresses the entries name. */
static bool read_events(struct redis_follow *f)
{
    char key[PREFIX_MAX + 8], block[16], cnt[16];
    snprintf(key, sizeof(key), "%sevents", f->prefix);
    snprintf(block, sizeof(block), "%u", f->cfg.block_ms);
    snprintf(cnt, sizeof(cnt), "%d", EVENTS_BATCH);
    const char *argv[] = {"XREAD", "COUNT", cnt, "BLOCK", block, "STREAMS", key, f->last_id};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(f->ctx, 8, argv, lens);
    if (!r) {
        set_error(f, "XREAD", f->ctx->errstr);
        return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        set_error(f, "XREAD", r->str);
        freeReplyObject(r);
        return false;
    }
    mark_ok(f);
    /* [[key, [[id, [f, v, ...]], ...]]] (RESP2); nil on timeout. */
    static __thread char ipbuf[EVENTS_BATCH][VERDICT_IP_TEXT_MAX]; /* 12 KB: off the stack */
    const char *ips[EVENTS_BATCH];
    struct verdict ev[EVENTS_BATCH];
    size_t n = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
            const redisReply *en = entries->element[i];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
                en->element[0]->type != REDIS_REPLY_STRING)
                continue;
            copy_str(f->last_id, sizeof(f->last_id), en->element[0]->str, en->element[0]->len);
            const redisReply *fv = en->element[1];
            if (fv->type != REDIS_REPLY_ARRAY || fv->elements > 256 || n >= EVENTS_BATCH)
                continue;
            const char *kv[256];
            size_t kl[256];
            bool start = false, strings = true;
            for (size_t k = 0; k < fv->elements; k++) {
                strings &= fv->element[k]->type == REDIS_REPLY_STRING;
                kv[k] = fv->element[k]->str;
                kl[k] = fv->element[k]->len;
            }
            if (!strings)
                continue;
            for (size_t k = 0; k + 1 < fv->elements; k += 2)
                if (field_is(kv[k], kl[k], "event"))
                    start = field_is(kv[k + 1], kl[k + 1], "attack_start");
            if (redis_follow_parse(kv, kl, fv->elements, &ev[n]) != 0)
                continue;
            ips[n] = verdict_ip_format(&ev[n], ipbuf[n]); /* the hash key, as the sink writes it */
            if (!start)
                ev[n].ip_version = 0; /* attack_end: its level is the peak; read the hash only */
            n++;
        }
        count(f, &f->stats.events, entries->type == REDIS_REPLY_ARRAY ? entries->elements : 0);
    }
    freeReplyObject(r);
    return fetch(f, f->ctx, true, ips, ev, n);
}

/* Connects and positions the stream cursor at the newest entry (then a full poll follows, so
 * nothing between is missed). */
static bool follow_connect(struct redis_follow *f)
{
    char why[256];
    char server[REDIS_CONN_HOST_MAX];
    unsigned port = 0;
    if (redis_conn_resolve(&f->cfg.conn, server, &port, why, sizeof(why)) != 0) {
        set_error(f, "connect", why);
        return false;
    }
    struct redis_conn_params p = f->cfg.conn;
    p.host = server; /* resolved once: the answer we connect to is the one we report */
    p.port = port;
    p.sentinels = NULL;
    f->ctx = redis_conn_connect(&p, why, sizeof(why));
    if (!f->ctx) {
        set_error(f, "connect", why);
        return false;
    }
    if (!f->last_id[0]) {
        char key[PREFIX_MAX + 8];
        snprintf(key, sizeof(key), "%sevents", f->prefix);
        redisReply *r = redisCommand(f->ctx, "XREVRANGE %s + - COUNT 1", key);
        if (!r) {
            set_error(f, "XREVRANGE", f->ctx->errstr);
            disconnect(f);
            return false;
        }
        snprintf(f->last_id, sizeof(f->last_id), "0-0");
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1 &&
            r->element[0]->element[0]->type == REDIS_REPLY_STRING)
            copy_str(f->last_id, sizeof(f->last_id), r->element[0]->element[0]->str,
                     r->element[0]->element[0]->len);
        freeReplyObject(r);
    }
    snprintf(f->server, sizeof(f->server), "%s:%u", server, port);
    pthread_mutex_lock(&f->stats_lock);
    if (f->ever_connected)
        f->stats.reconnects++;
    f->stats.connected = true;
    memcpy(f->stats.server, f->server, sizeof(f->server));
    pthread_mutex_unlock(&f->stats_lock);
    if (f->outage_logged || !f->ever_connected)
        DD_INFO("follower: reading verdicts from redis %s:%u%s", server, port,
                f->outage_logged ? " again" : "");
    f->ever_connected = true;
    f->outage_logged = false;
    f->backoff_ms = BACKOFF_MIN;
    return true;
}

static void sleep_ms(struct redis_follow *f, uint32_t ms)
{
    while (ms > 0 && !atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        uint32_t step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void *follow_main(void *arg)
{
    struct redis_follow *f = arg;
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g); /* this thread's own I/O only; restored at exit */
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        if (!f->ctx) {
            if (!follow_connect(f) || !poll_top(f, true)) {
                disconnect(f);
                if (!f->outage_logged) {
                    struct redis_follow_stats s;
                    redis_follow_stats_get(f, &s);
                    DD_WARN("follower: redis unreachable (%s); answering from the last state, "
                            "retrying",
                            s.last_error);
                    f->outage_logged = true;
                }
                sleep_ms(f, f->backoff_ms);
                f->backoff_ms = f->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : f->backoff_ms * 2;
                continue;
            }
            f->next_poll_ms = dd_mono_ms() + f->cfg.poll_interval_ms;
            f->next_resolve_ms = dd_mono_ms() + 5000;
        }
        /* Reading from a replica: Sentinel may have had none healthy when we connected (it
         * learns a replica's link state from INFO every 10 s), or a better one now. Ask again
         * every few seconds and move when the answer changed. */
        if (f->cfg.conn.prefer_replica && dd_mono_ms() >= f->next_resolve_ms) {
            char host[REDIS_CONN_HOST_MAX], now[sizeof(f->server)], why[256];
            unsigned port;
            f->next_resolve_ms = dd_mono_ms() + 5000;
            if (redis_conn_resolve(&f->cfg.conn, host, &port, why, sizeof(why)) == 0) {
                snprintf(now, sizeof(now), "%s:%u", host, port);
                if (strcmp(now, f->server) != 0) {
                    DD_INFO("follower: moving from %s to %s (read_from replica)", f->server, now);
                    disconnect(f);
                    continue;
                }
            }
        }
        bool ok = read_events(f);
        if (ok && dd_mono_ms() >= f->next_poll_ms) {
            ok = poll_top(f, false);
            f->next_poll_ms = dd_mono_ms() + f->cfg.poll_interval_ms;
        }
        if (!ok)
            disconnect(f);
    }
    disconnect(f);
    redis_sigpipe_restore(&g);
    return NULL;
}

bool redis_follow_lookup(struct redis_follow *f, const struct verdict *key,
                         struct verdict_store_entry *out)
{
    bool connected;
    pthread_mutex_lock(&f->stats_lock);
    connected = f->stats.connected;
    pthread_mutex_unlock(&f->stats_lock);
    if (!connected || pthread_mutex_trylock(&f->lookup_lock) != 0)
        return false;
    bool found = false;
    uint64_t now = dd_mono_ms();
    if (now < f->lookup_retry_ms)
        goto out;
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    char why[256];
    if (!f->lookup_ctx) {
        struct redis_conn_params p = f->cfg.conn;
        p.command_timeout_ms = 200; /* not the XREAD one: a request waits for this */
        f->lookup_ctx = redis_conn_connect(&p, why, sizeof(why));
    }
    if (f->lookup_ctx) {
        char ip[VERDICT_IP_TEXT_MAX];
        const char *ips[1] = {verdict_ip_format(key, ip)};
        count(f, &f->stats.lookups, 1);
        if (fetch(f, f->lookup_ctx, false, ips, NULL, 1)) {
            found = verdict_store_get(f->cfg.store, key->ip, key->ip_version,
                                      verdict_store_now_ms(), out);
            if (found)
                count(f, &f->stats.lookup_hits, 1);
        } else {
            redisFree(f->lookup_ctx);
            f->lookup_ctx = NULL;
            f->lookup_retry_ms = now + 1000;
        }
    } else {
        f->lookup_retry_ms = now + 1000;
    }
    redis_sigpipe_restore(&g);
out:
    pthread_mutex_unlock(&f->lookup_lock);
    return found;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

struct redis_follow *redis_follow_start(const struct redis_follow_config *cfg)
{
    if (!cfg->store || !cfg->conn.host) {
        DD_ERROR("follower: no store or no Redis host");
        return NULL;
    }
    const char *prefix = cfg->key_prefix ? cfg->key_prefix : "ddos:";
    if (strlen(prefix) > PREFIX_MAX) {
        DD_ERROR("follower: key prefix longer than %d bytes", PREFIX_MAX);
        return NULL;
    }
    struct redis_follow *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    bool oom = false;
    f->cfg = *cfg;
    f->host = dup_or_null(cfg->conn.host, &oom);
    f->username = dup_or_null(cfg->conn.username, &oom);
    f->password = dup_or_null(cfg->conn.password, &oom);
    f->sentinels = dup_or_null(cfg->conn.sentinels, &oom);
    f->master_name = dup_or_null(cfg->conn.master_name, &oom);
    f->cfg.conn.host = f->host;
    f->cfg.conn.username = f->username;
    f->cfg.conn.password = f->password;
    f->cfg.conn.sentinels = f->sentinels;
    f->cfg.conn.master_name = f->master_name;
    snprintf(f->prefix, sizeof(f->prefix), "%s", prefix);
    snprintf(f->sensor, sizeof(f->sensor), "%s", cfg->sensor_id ? cfg->sensor_id : "");
    if (!f->cfg.poll_interval_ms)
        f->cfg.poll_interval_ms = 1000;
    if (!f->cfg.refresh_per_poll)
        f->cfg.refresh_per_poll = 500;
    if (!f->cfg.block_ms)
        f->cfg.block_ms = 100;
    if (!f->cfg.conn.connect_timeout_ms)
        f->cfg.conn.connect_timeout_ms = 200;
    /* XREAD BLOCK holds the socket for block_ms: the read timeout must outlast it. */
    if (f->cfg.conn.command_timeout_ms < f->cfg.block_ms + 500)
        f->cfg.conn.command_timeout_ms = f->cfg.block_ms + 500;
    f->backoff_ms = BACKOFF_MIN;
    pthread_mutex_init(&f->stats_lock, NULL);
    pthread_mutex_init(&f->lookup_lock, NULL);
    if (oom || pthread_create(&f->thread, NULL, follow_main, f) != 0) {
        DD_ERROR("follower: %s", oom ? "out of memory" : "cannot start its thread");
        pthread_mutex_destroy(&f->stats_lock);
        pthread_mutex_destroy(&f->lookup_lock);
        free(f->host);
        free(f->username);
        free(f->password);
        free(f->sentinels);
        free(f->master_name);
        free(f);
        return NULL;
    }
    return f;
}

void redis_follow_stop(struct redis_follow *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    if (f->lookup_ctx)
        redisFree(f->lookup_ctx);
    pthread_mutex_destroy(&f->stats_lock);
    pthread_mutex_destroy(&f->lookup_lock);
    free(f->top);
    free(f->host);
    free(f->username);
    if (f->password) {
        explicit_bzero(f->password, strlen(f->password));
        free(f->password);
    }
    free(f->sentinels);
    free(f->master_name);
    free(f);
}

void redis_follow_stats_get(struct redis_follow *f, struct redis_follow_stats *out)
{
    pthread_mutex_lock(&f->stats_lock);
    *out = f->stats;
    pthread_mutex_unlock(&f->stats_lock);
}
