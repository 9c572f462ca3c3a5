/* redis_sink.c - the Redis writer of the verdict stage: coalescing backlog, event queue, one
 * hiredis connection, the merge and prune scripts.
 *
 * Owns: the backlog (a dense array of waiting verdicts, one per IP, with an open-addressing
 * index over it), the event FIFO, the hiredis context and the reconnect state. One thread (the
 * verdict stage) owns the sink and makes every call; there are no locks, atomics or threads
 * here. May call: hiredis, common/log. Key layout and merge rules: docs/redis.md.
 *
 * DESIGN: put and event only touch memory, so the verdict stage never waits for the network
 * there. flush is where I/O happens, at most once per interval: every waiting verdict becomes one
 * EVALSHA of the merge script and every event one XADD, all in one pipeline (up to batch_max
 * each, so draining a big backlog after an outage costs several short flushes instead of one long
 * stall). An entry leaves the backlog only when its own reply came back: an I/O error mid-way
 * keeps everything not yet acknowledged, and the merge is idempotent, so resending a verdict whose
 * reply was lost is harmless (events are at-least-once: a lost reply may duplicate one).
 *
 * Why a script: several sensors share one Redis and a merge must never lower another sensor's
 * level. Read-compare-write from the client would race with the other sensors; a Lua script runs
 * atomically on the server. Each sensor keeps its own "sensor:<id>" field (level, score, time);
 * threat_level and score are the maxima over the sensors still alive (written within ttl), so a
 * sensor can lower its own verdict (the attack ended) but never another's. The descriptive fields
 * (attack_type, reasons, rates, spoofed_sources, ...) come from the sensor whose level is
 * highest, so they explain threat_level instead of contradicting it. Because the result only
 * depends on each sensor's latest verdict, rewriting the latest verdicts after data loss
 * reproduces the same hash: that is what redis_sink_resync_take asks the owner to do after Redis
 * restarted.
 *
 * Why a separate expiry index: hashes expire on their own, but members of the top set do not.
 * The merge script records each IP's expiry time in "<prefix>top:expiry" (a sorted set by time);
 * every prune_interval the prune script takes the due IPs from it, checks whether the hash still
 * exists (another write may have extended it) and removes the dead ones from both sets: exact,
 * O(log n) per IP, and bounded per call. Both sets also carry the TTL themselves, so when every
 * sensor goes quiet they vanish with the last hash.
 *
 * Why the coalescing index is keyed with a random seed: the IPs are chosen by the attacker
 * (spoofed sources), who must not be able to aim them at one probe run. */
#include "verdicts/redis_sink.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common/hash.h"
#include "common/log.h"
#include "verdicts/redis_conn.h"

#define SLOT_EMPTY    UINT32_MAX
#define EVICT_SAMPLES 8    /* backlog entries looked at before dropping a new verdict */
#define PRUNE_LIMIT   1000 /* due IPs examined per prune call */
#define ARGV_MAX      48
#define ARGV_BUF      2048
#define RUN_ID_LEN    40

/* KEYS: verdict hash, top set, top expiry index.
 * ARGV: 1 ip, 2 role, 3 level (0-3), 4 score, 5 attack_type, 6 reasons, 7 flows_total,
 *       8 flows_attack, 9 pps, 10 bps, 11 first_seen, 12 last_seen, 13 sensor, 14 model_version,
 *       15 now (unix ms), 16 ttl (s), 17 spoofed_sources, 18 spoofed_examples (addresses,
 *       comma-separated).
 * Numbers are compared with tonumber but written back as the strings they came in: a Lua number
 * passed to redis.call would be reformatted (1.7e+15). */
static const char merge_script[] =
    "local key, top, exp = KEYS[1], KEYS[2], KEYS[3]\n"
    "local names = {'low', 'medium', 'high', 'critical'}\n"
    "local rank = {low = 0, medium = 1, high = 2, critical = 3}\n"
    "local me, now, ttl = ARGV[13], tonumber(ARGV[15]), tonumber(ARGV[16])\n"
    "local level, score = tonumber(ARGV[3]), ARGV[4]\n"
    "local first, last = ARGV[11], ARGV[12]\n"
    "local other, sensors = -1, {me}\n"
    "local h = redis.call('HGETALL', key)\n"
    "for i = 1, #h, 2 do\n"
    "  local f, v = h[i], h[i + 1]\n"
    "  if string.sub(f, 1, 7) == 'sensor:' then\n"
    "    local id = string.sub(f, 8)\n"
    "    if id ~= me then\n"
    "      local lv, sc, seen = string.match(v, '^(%a+) (%S+) (%d+)$')\n"
    "      if lv and rank[lv] and tonumber(sc) and tonumber(seen) + ttl * 1000 > now then\n"
    "        sensors[#sensors + 1] = id\n"
    "        if rank[lv] > other then other = rank[lv] end\n"
    "        if tonumber(sc) > tonumber(score) then score = sc end\n"
    "      else\n"
    "        redis.call('HDEL', key, f)\n"
    "      end\n"
    "    end\n"
    "  elseif f == 'first_seen' then\n"
    "    if tonumber(v) and tonumber(v) < tonumber(first) then first = v end\n"
    "  elseif f == 'last_seen' then\n"
    "    if tonumber(v) and tonumber(v) > tonumber(last) then last = v end\n"
    "  end\n"
    "end\n"
    "table.sort(sensors)\n"
    "local merged = math.max(level, other)\n"
    "redis.call('HSET', key, 'sensor:' .. me, names[level + 1] .. ' ' .. ARGV[4] .. ' ' .. "
    "ARGV[15],\n"
    "  'threat_level', names[merged + 1], 'score', score, 'sensors', table.concat(sensors, ','),\n"
    "  'first_seen', first, 'last_seen', last, 'updated', ARGV[15])\n"
    "if level >= other then\n"
    "  redis.call('HSET', key, 'ip', ARGV[1], 'role', ARGV[2], 'attack_type', ARGV[5],\n"
    "    'reasons', ARGV[6], 'flows_total', ARGV[7], 'flows_attack', ARGV[8], 'pps', ARGV[9],\n"
    "    'bps', ARGV[10], 'sensor', me, 'model_version', ARGV[14],\n"
    "    'spoofed_sources', ARGV[17], 'spoofed_examples', ARGV[18])\n"
    "end\n"
    "if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end\n"
    "local expires = string.format('%.0f', now + redis.call('PTTL', key))\n"
    "redis.call('ZADD', top, score, ARGV[1])\n"
    "redis.call('ZADD', exp, expires, ARGV[1])\n"
    "for _, k in ipairs({top, exp}) do\n"
    "  if redis.call('PTTL', k) < ttl * 1000 then redis.call('PEXPIRE', k, ttl * 1000) end\n"
    "end\n"
    "return merged\n";

/* KEYS: top set, top expiry index. ARGV: 1 now (unix ms), 2 limit, 3 verdict key prefix.
 * Returns {removed, examined}: examined == limit means more may be due. */
static const char prune_script[] =
    "local now = tonumber(ARGV[1])\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "local removed = 0\n"
    "for _, ip in ipairs(due) do\n"
    "  local p = redis.call('PTTL', ARGV[3] .. ip)\n"
    "  if p == -2 then\n"
    "    redis.call('ZREM', KEYS[1], ip)\n"
    "    redis.call('ZREM', KEYS[2], ip)\n"
    "    removed = removed + 1\n"
    "  elseif p == -1 then\n"
    "    redis.call('ZREM', KEYS[2], ip)\n"
    "  else\n"
    "    redis.call('ZADD', KEYS[2], string.format('%.0f', now + p), ip)\n"
    "  end\n"
    "end\n"
    "return {removed, #due}\n";

/* What became of one pipelined command. */
enum sink_result {
    RES_UNSENT = 0, /* no reply (I/O error before it): keep */
    RES_OK,
    RES_NOSCRIPT,  /* resend with EVAL */
    RES_TRANSIENT, /* the server cannot take writes right now: keep, reconnect later */
    RES_REJECTED,  /* a permanent error for this command: drop and count */
};

struct sink_entry {
    struct verdict v;
    uint64_t hash;
};

struct sink_event {
    struct verdict v;
    uint8_t kind; /* enum redis_sink_event_kind */
    uint8_t npeers;
    struct redis_sink_peer peers[REDIS_SINK_PEERS_MAX];
};

struct redis_sink {
    struct redis_sink_config cfg; /* defaults applied; strings point at the copies below */
    char *host, *username, *password;
    char prefix[REDIS_SINK_PREFIX_MAX + 1];
    char sensor[VERDICT_SENSOR_MAX];

    /* Backlog: entries[0..n) dense; index maps hash -> entry position (SLOT_EMPTY = free). */
    struct sink_entry *entries;
    uint32_t n;
    uint32_t *index;
    uint32_t index_mask;
    uint64_t seed;
    uint64_t rng; /* eviction sampling and backoff jitter */

    struct sink_event *events; /* FIFO ring of cfg.events_capacity */
    uint32_t ev_head, ev_count;

    uint8_t *vres, *eres; /* per-command results of one pipeline (batch_max each) */

    redisContext *ctx; /* NULL when disconnected */
    char merge_sha[41], prune_sha[41];
    char run_id[RUN_ID_LEN + 1]; /* "" until a server told us */
    bool resync;
    bool ever_connected;
    bool outage_logged; /* one warning per outage, not one per attempt */
    uint64_t next_attempt_ms, next_write_ms, next_prune_ms;
    uint32_t backoff_ms; /* the delay the next failure will draw from */
    bool prune_more;
    uint64_t outage_start_ms;

    struct redis_sink_stats stats;
};

/* Builds one command's argv. hiredis copies the arguments when the command is appended, so one
 * builder is reused for every command. */
struct argv_builder {
    const char *argv[ARGV_MAX];
    size_t len[ARGV_MAX];
    int argc;
    size_t used;
    char buf[ARGV_BUF];
};

static uint64_t rng_next(uint64_t *state)
{
    *state += DD_HASH_GOLDEN; /* splitmix64's sequence, murmur3's finaliser */
    return dd_hash_mix64(*state);
}

static void set_error(struct redis_sink *s, const char *fmt, ...) DD_PRINTF(2, 3);
static void set_error(struct redis_sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->stats.last_error, sizeof(s->stats.last_error), fmt, ap);
    va_end(ap);
}

/* ---- configuration ---------------------------------------------------------------------- */

static uint32_t or_default(uint32_t v, uint32_t def)
{
    return v ? v : def;
}

static bool sensor_id_valid(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len >= VERDICT_SENSOR_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        /* The id is a hash field suffix, an item of a comma list and a space-separated value. */
        if (isspace((unsigned char)id[i]) || id[i] == ',' || !isprint((unsigned char)id[i]))
            return false;
    }
    return true;
}

static char *strdup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

/* ---- backlog ---------------------------------------------------------------------------- */

static uint64_t ip_hash(const struct redis_sink *s, const struct verdict *v)
{
    return dd_hash_addr(s->seed, v->ip, v->ip_version);
}

static bool ip_equal(const struct verdict *a, const struct verdict *b)
{
    return a->ip_version == b->ip_version && memcmp(a->ip, b->ip, sizeof(a->ip)) == 0;
}

/* Returns the index slot holding entry pos (which must be indexed). */
static uint32_t backlog_slot_of(const struct redis_sink *s, uint32_t pos)
{
    uint32_t slot = (uint32_t)s->entries[pos].hash & s->index_mask;
    while (s->index[slot] != pos)
        slot = (slot + 1) & s->index_mask;
    return slot;
}

static uint32_t backlog_find(const struct redis_sink *s, const struct verdict *v, uint64_t h)
{
    uint32_t slot = (uint32_t)h & s->index_mask;
    for (;;) {
        uint32_t pos = s->index[slot];
        if (pos == SLOT_EMPTY)
            return SLOT_EMPTY;
        if (s->entries[pos].hash == h && ip_equal(&s->entries[pos].v, v))
            return pos;
        slot = (slot + 1) & s->index_mask;
    }
}

static void backlog_insert(struct redis_sink *s, const struct verdict *v, uint64_t h)
{
    uint32_t pos = s->n++;
    s->entries[pos].v = *v;
    s->entries[pos].hash = h;
    uint32_t slot = (uint32_t)h & s->index_mask;
    while (s->index[slot] != SLOT_EMPTY)
        slot = (slot + 1) & s->index_mask;
    s->index[slot] = pos;
}

/* Removes entry pos: backward-shift deletion in the index (no tombstones, so probe runs never
 * degrade), then the last entry moves into pos to keep the array dense. Entries above pos keep
 * their positions except the last one, so removing in decreasing position order is safe. */
static void backlog_remove(struct redis_sink *s, uint32_t pos)
{
    uint32_t mask = s->index_mask;
    uint32_t hole = backlog_slot_of(s, pos);
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t e = s->index[j];
        if (e == SLOT_EMPTY)
            break;
        uint32_t home = (uint32_t)s->entries[e].hash & mask;
        /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        s->index[hole] = e;
        hole = j;
    }
    s->index[hole] = SLOT_EMPTY;

    uint32_t last = s->n - 1;
    if (pos != last) {
        s->index[backlog_slot_of(s, last)] = pos;
        s->entries[pos] = s->entries[last];
    }
    s->n--;
}

/* The backlog is full and v is new: v replaces the weakest of a few sampled waiting verdicts if
 * that one has a strictly lower level. Sampling keeps this O(1) under a flood of new IPs while
 * still favouring what an operator needs most after an outage: the severe verdicts. */
static bool backlog_evict_for(struct redis_sink *s, const struct verdict *v)
{
    uint32_t victim = SLOT_EMPTY;
    for (int i = 0; i < EVICT_SAMPLES; i++) {
        uint32_t pos = (uint32_t)(rng_next(&s->rng) % s->n);
        const struct verdict *c = &s->entries[pos].v;
        if (victim == SLOT_EMPTY || c->level < s->entries[victim].v.level ||
            (c->level == s->entries[victim].v.level && c->score < s->entries[victim].v.score))
            victim = pos;
    }
    if (s->entries[victim].v.level >= v->level)
        return false;
    backlog_remove(s, victim);
    return true;
}

bool redis_sink_put(struct redis_sink *s, const struct verdict *v)
{
    s->stats.verdicts_put++;
    if (v->ip_version != 4 && v->ip_version != 6) {
        s->stats.verdicts_invalid++;
        return false;
    }
    struct verdict copy = *v;
    if (copy.ip_version == 4)
        memset(copy.ip + 4, 0, sizeof(copy.ip) - 4); /* one key per address, whatever the tail */
    uint64_t h = ip_hash(s, &copy);
    uint32_t pos = backlog_find(s, &copy, h);
    if (pos != SLOT_EMPTY) {
        s->entries[pos].v = copy;
        s->stats.verdicts_coalesced++;
        return true;
    }
    if (s->n == s->cfg.backlog_capacity) {
        s->stats.backlog_dropped++; /* the evicted verdict, or v itself */
        if (!backlog_evict_for(s, &copy))
            return false;
    }
    backlog_insert(s, &copy, h);
    return true;
}

bool redis_sink_event(struct redis_sink *s, enum redis_sink_event_kind kind,
                      const struct verdict *v, const struct redis_sink_peer *peers, size_t npeers)
{
    s->stats.events_put++;
    if (s->ev_count == s->cfg.events_capacity) {
        /* Keep the older events: the queue stays a contiguous piece of history. */
        s->stats.events_dropped++;
        return false;
    }
    struct sink_event *e = &s->events[(s->ev_head + s->ev_count) % s->cfg.events_capacity];
    memset(e, 0, sizeof(*e));
    e->v = *v;
    e->kind = kind == REDIS_SINK_EVENT_ATTACK_END ? REDIS_SINK_EVENT_ATTACK_END
                                                  : REDIS_SINK_EVENT_ATTACK_START;
    for (size_t i = 0; i < npeers && e->npeers < REDIS_SINK_PEERS_MAX; i++) {
        if (peers[i].ip_version == 4 || peers[i].ip_version == 6)
            e->peers[e->npeers++] = peers[i];
    }
    s->ev_count++;
    return true;
}

/* ---- command building ------------------------------------------------------------------- */

static void ab_reset(struct argv_builder *ab)
{
    ab->argc = 0;
    ab->used = 0;
}

static void ab_mem(struct argv_builder *ab, const char *p, size_t n)
{
    if (ab->argc == ARGV_MAX)
        return; /* cannot happen: commands have at most ~40 arguments */
    ab->argv[ab->argc] = p;
    ab->len[ab->argc] = n;
    ab->argc++;
}

static void ab_str(struct argv_builder *ab, const char *p)
{
    ab_mem(ab, p, strlen(p));
}

static void ab_fmt(struct argv_builder *ab, const char *fmt, ...) DD_PRINTF(2, 3);
static void ab_fmt(struct argv_builder *ab, const char *fmt, ...)
{
    size_t room = sizeof(ab->buf) - ab->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ab->buf + ab->used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || room == 0) {
        ab_mem(ab, "", 0); /* cannot happen: a command's text is far below ARGV_BUF */
        return;
    }
    if ((size_t)n >= room)
        n = (int)room - 1;
    ab_mem(ab, ab->buf + ab->used, (size_t)n);
    ab->used += (size_t)n + 1;
}

/* A fixed-size text field of the verdict, which may lack its NUL when full. */
static void ab_field(struct argv_builder *ab, const char *p, size_t cap)
{
    ab_mem(ab, p, strnlen(p, cap));
}

static double finite_or_zero(double x)
{
    return isfinite(x) ? x : 0.0;
}

static unsigned level_of(const struct verdict *v)
{
    return v->level <= THREAT_CRITICAL ? v->level : THREAT_LOW; /* as threat_level_name does */
}

/* Appends the verdict's values shared by the merge and the stream entry; with names, as
 * field/value pairs (XADD), else values only in merge-script ARGV order 1..12. */
static void ab_verdict(struct argv_builder *ab, const struct verdict *v, bool names)
{
    char ip[VERDICT_IP_TEXT_MAX];
    char reasons[VERDICT_REASONS_TEXT_MAX];
    verdict_ip_format(v, ip);
    verdict_reasons_format(v->reasons, reasons, sizeof(reasons));
#define NAME(n)                                                                                    \
    do {                                                                                           \
        if (names)                                                                                 \
            ab_str(ab, n);                                                                         \
    } while (0)
    NAME("ip");
    ab_fmt(ab, "%s", ip);
    NAME("role");
    ab_str(ab, verdict_role_name((enum verdict_role)v->role));
    NAME("threat_level");
    if (names)
        ab_str(ab, threat_level_name((enum threat_level)level_of(v)));
    else
        ab_fmt(ab, "%u", level_of(v));
    NAME("score");
    ab_fmt(ab, "%.4f", finite_or_zero(v->score));
    NAME("attack_type");
    ab_field(ab, v->attack_type, sizeof(v->attack_type));
    NAME("reasons");
    ab_fmt(ab, "%s", reasons);
    NAME("flows_total");
    ab_fmt(ab, "%" PRIu64, v->flows_total);
    NAME("flows_attack");
    ab_fmt(ab, "%" PRIu64, v->flows_attack);
    NAME("pps");
    ab_fmt(ab, "%.1f", finite_or_zero(v->pps));
    NAME("bps");
    ab_fmt(ab, "%.0f", finite_or_zero(v->bps));
    NAME("first_seen");
    ab_fmt(ab, "%" PRIu64, v->first_seen_us);
    NAME("last_seen");
    ab_fmt(ab, "%" PRIu64, v->last_seen_us);
#undef NAME
}

/* Appends spoofed_sources and spoofed_examples (the used slots' addresses, comma-separated);
 * with names, as field/value pairs. */
static void ab_spoofed(struct argv_builder *ab, const struct verdict *v, bool names)
{
    char list[VERDICT_SPOOFED_EXAMPLES * VERDICT_IP_TEXT_MAX];
    size_t used = 0;
    list[0] = '\0';
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
        char addr[VERDICT_IP_TEXT_MAX];
        if (!verdict_spoofed_example_format(v, i, addr))
            continue;
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", used ? "," : "", addr);
        if (n < 0 || (size_t)n >= sizeof(list) - used)
            break; /* cannot happen: 4 addresses and 3 commas fit */
        used += (size_t)n;
    }
    if (names)
        ab_str(ab, "spoofed_sources");
    ab_fmt(ab, "%" PRIu32, v->spoofed_sources);
    if (names)
        ab_str(ab, "spoofed_examples");
    ab_fmt(ab, "%s", list);
}

static int append_merge(struct redis_sink *s, struct argv_builder *ab, const struct verdict *v,
                        bool eval, uint64_t now_wall)
{
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(v, ip);
    ab_reset(ab);
    ab_str(ab, eval ? "EVAL" : "EVALSHA");
    ab_str(ab, eval ? merge_script : s->merge_sha);
    ab_str(ab, "3");
    ab_fmt(ab, "%sverdict:%s", s->prefix, ip);
    ab_fmt(ab, "%stop", s->prefix);
    ab_fmt(ab, "%stop:expiry", s->prefix);
    ab_verdict(ab, v, false);
    ab_str(ab, s->sensor);
    ab_field(ab, v->model_version, sizeof(v->model_version));
    ab_fmt(ab, "%" PRIu64, now_wall);
    ab_fmt(ab, "%" PRIu32, s->cfg.ttl_s);
    ab_spoofed(ab, v, false);
    return redisAppendCommandArgv(s->ctx, ab->argc, ab->argv, ab->len);
}

static int append_prune(struct redis_sink *s, struct argv_builder *ab, bool eval, uint64_t now_wall)
{
    ab_reset(ab);
    ab_str(ab, eval ? "EVAL" : "EVALSHA");
    ab_str(ab, eval ? prune_script : s->prune_sha);
    ab_str(ab, "2");
    ab_fmt(ab, "%stop", s->prefix);
    ab_fmt(ab, "%stop:expiry", s->prefix);
    ab_fmt(ab, "%" PRIu64, now_wall);
    ab_fmt(ab, "%d", PRUNE_LIMIT);
    ab_fmt(ab, "%sverdict:", s->prefix);
    return redisAppendCommandArgv(s->ctx, ab->argc, ab->argv, ab->len);
}

static int append_event(struct redis_sink *s, struct argv_builder *ab, const struct sink_event *e)
{
    char peers[REDIS_SINK_PEERS_MAX * (VERDICT_IP_TEXT_MAX + 22)];
    size_t used = 0;
    peers[0] = '\0';
    for (unsigned i = 0; i < e->npeers; i++) {
        struct verdict pv = {.ip_version = e->peers[i].ip_version};
        char ip[VERDICT_IP_TEXT_MAX];
        memcpy(pv.ip, e->peers[i].ip, sizeof(pv.ip));
        int n = snprintf(peers + used, sizeof(peers) - used, "%s%s=%" PRIu64, used ? "," : "",
                         verdict_ip_format(&pv, ip), e->peers[i].flows);
        if (n < 0 || (size_t)n >= sizeof(peers) - used)
            break;
        used += (size_t)n;
    }
    ab_reset(ab);
    ab_str(ab, "XADD");
    ab_fmt(ab, "%sevents", s->prefix);
    ab_str(ab, "MAXLEN");
    ab_str(ab, "~");
    ab_fmt(ab, "%" PRIu32, s->cfg.events_maxlen);
    ab_str(ab, "*");
    ab_str(ab, "event");
    ab_str(ab, e->kind == REDIS_SINK_EVENT_ATTACK_END ? "attack_end" : "attack_start");
    ab_verdict(ab, &e->v, true);
    ab_str(ab, "sensor");
    ab_str(ab, s->sensor);
    ab_str(ab, "model_version");
    ab_field(ab, e->v.model_version, sizeof(e->v.model_version));
    ab_spoofed(ab, &e->v, true);
    ab_str(ab, "peers");
    ab_str(ab, peers);
    return redisAppendCommandArgv(s->ctx, ab->argc, ab->argv, ab->len);
}

/* ---- connection ------------------------------------------------------------------------- */

/* Disconnects (when connected) after a failure and schedules the next attempt: "equal jitter"
 * backoff, a delay drawn from [b/2, b] with b doubling from backoff_min to backoff_max, so a
 * fleet of sensors that lost the same Redis does not reconnect in lockstep. */
static void sink_fail(struct redis_sink *s, uint64_t now_ms)
{
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    if (s->stats.connected || !s->outage_logged) {
        DD_WARN("redis %s:%u: %s; %" PRIu64 " verdicts and %" PRIu32
                " events wait in the backlog, retrying with backoff",
                s->host, s->cfg.port, s->stats.last_error, (uint64_t)s->n, s->ev_count);
        s->outage_logged = true;
        s->outage_start_ms = now_ms;
    }
    s->stats.connected = false;
    s->stats.redis_errors++;
    uint32_t b = s->backoff_ms;
    uint32_t delay = b / 2 + (uint32_t)(rng_next(&s->rng) % (b - b / 2 + 1));
    s->stats.backoff_ms = delay;
    s->next_attempt_ms = now_ms + delay;
    s->backoff_ms = b > s->cfg.backoff_max_ms / 2 ? s->cfg.backoff_max_ms : b * 2;
}

static bool reply_is_error(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR;
}

/* Connects and, in one pipelined round trip, authenticates, selects the db, loads both
 * scripts and reads the server's run_id. Returns 0, or -1 after sink_fail. */
static int sink_connect(struct redis_sink *s, uint64_t now_ms)
{
    const struct redis_conn_params params = {
        .host = s->host,
        .port = s->cfg.port,
        .username = s->username,
        .password = s->password,
        .db = s->cfg.db,
        .connect_timeout_ms = s->cfg.connect_timeout_ms,
        .command_timeout_ms = s->cfg.command_timeout_ms,
        .keepalive = true,
    };
    char why[sizeof(s->stats.last_error)];
    redisContext *c = redis_conn_open(&params, why, sizeof(why));
    if (!c) {
        set_error(s, "%s", why);
        sink_fail(s, now_ms);
        return -1;
    }
    s->ctx = c;

    int nlogin = redis_conn_append_login(c, &params); /* AUTH, SELECT: their replies come first */
    int ok = nlogin < 0 ? REDIS_ERR : REDIS_OK;
    int ncmd = nlogin < 0 ? 0 : nlogin;
    ok |= redisAppendCommand(c, "SCRIPT LOAD %s", merge_script);
    ok |= redisAppendCommand(c, "SCRIPT LOAD %s", prune_script);
    ok |= redisAppendCommand(c, "INFO server");
    ncmd += 3;
    if (ok != REDIS_OK) {
        set_error(s, "handshake: %s", c->errstr[0] ? c->errstr : "out of memory");
        sink_fail(s, now_ms);
        return -1;
    }

    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    char run_id[RUN_ID_LEN + 1] = "";
    int failed = 0;
    for (int i = 0; i < ncmd; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            set_error(s, "handshake: %s", c->errstr);
            failed = 1;
            break;
        }
        int which = i - (ncmd - 3); /* 0: merge sha, 1: prune sha, 2: INFO; < 0: AUTH/SELECT */
        if (which == 2 && (reply_is_error(r) || r->type != REDIS_REPLY_STRING)) {
            /* INFO may be renamed away on hardened servers: restarts then go unnoticed. */
            DD_WARN("redis: INFO failed (%s): a Redis restart cannot be detected",
                    reply_is_error(r) ? r->str : "unexpected reply");
        } else if (which == 2) {
            const char *p = strstr(r->str, "run_id:");
            if (p && strlen(p + 7) >= RUN_ID_LEN) {
                memcpy(run_id, p + 7, RUN_ID_LEN);
                run_id[RUN_ID_LEN] = '\0';
            }
        } else if (reply_is_error(r)) {
            if (!failed)
                set_error(s, "handshake: %s", r->str);
            failed = 1; /* keep reading: the replies must be consumed in order */
        } else if (which >= 0 && r->type == REDIS_REPLY_STRING && r->len == 40) {
            memcpy(which == 0 ? s->merge_sha : s->prune_sha, r->str, 40);
        } else if (which >= 0) {
            set_error(s, "handshake: unexpected SCRIPT LOAD reply");
            failed = 1;
        }
        freeReplyObject(r);
    }
    redis_sigpipe_restore(&g);
    if (failed) {
        sink_fail(s, now_ms);
        return -1;
    }

    if (s->ever_connected)
        s->stats.reconnects++;
    if (s->outage_logged)
        DD_INFO("redis %s:%u: connected after %" PRIu64 " ms; %" PRIu64 " verdicts and %" PRIu32
                " events to write",
                s->host, s->cfg.port, now_ms - s->outage_start_ms, (uint64_t)s->n, s->ev_count);
    else if (!s->ever_connected)
        DD_INFO("redis %s:%u: connected (db %u, sensor %s)", s->host, s->cfg.port, s->cfg.db,
                s->sensor);
    if (run_id[0]) {
        if (s->run_id[0] && strcmp(run_id, s->run_id) != 0) {
            s->resync = true;
            s->stats.resyncs++;
            DD_WARN("redis %s:%u: a different server (run_id %.8s, was %.8s): it may have lost "
                    "recent writes, asking for a resync",
                    s->host, s->cfg.port, run_id, s->run_id);
        }
        memcpy(s->run_id, run_id, sizeof(s->run_id));
    }
    s->ever_connected = true;
    s->outage_logged = false;
    s->stats.connected = true;
    s->stats.backoff_ms = 0;
    s->backoff_ms = s->cfg.backoff_min_ms;
    s->next_write_ms = now_ms; /* what waited during the outage goes out now */
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Transient errors say "not now" about the server, not about the command: keep the data and
 * come back later. Anything else (WRONGTYPE on a key someone overwrote, a script error) would
 * fail again forever, so that command is dropped and counted. */
static enum sink_result classify(struct redis_sink *s, const redisReply *r)
{
    static const char *const transient[] = {
        "LOADING",    "BUSY",        "OOM",     "READONLY", "MASTERDOWN", "TRYAGAIN",
        "NOREPLICAS", "CLUSTERDOWN", "MISCONF", "NOAUTH",   "NOPERM",
    };
    if (!reply_is_error(r))
        return RES_OK;
    if (strncmp(r->str, "NOSCRIPT", 8) == 0)
        return RES_NOSCRIPT;
    set_error(s, "%s", r->str);
    for (size_t i = 0; i < DD_ARRAY_LEN(transient); i++) {
        size_t n = strlen(transient[i]);
        if (strncmp(r->str, transient[i], n) == 0 && (r->str[n] == ' ' || r->str[n] == '\0'))
            return RES_TRANSIENT;
    }
    s->stats.redis_errors++;
    return RES_REJECTED;
}

/* Records the prune reply {removed, examined}; a failed prune is simply retried later. */
static void prune_reply(struct redis_sink *s, const redisReply *r, enum sink_result cls)
{
    if (cls == RES_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        s->stats.top_pruned += (uint64_t)r->element[0]->integer;
        s->prune_more = r->element[1]->integer >= PRUNE_LIMIT;
    }
}

/* Reads `count` replies into res[], then the prune reply when prune_res is not NULL. Returns
 * false on an I/O error (what was not read stays RES_UNSENT). */
static bool read_replies(struct redis_sink *s, uint8_t *res, uint32_t count, uint8_t *prune_res,
                         bool *transient)
{
    uint32_t total = count + (prune_res ? 1 : 0);
    for (uint32_t i = 0; i < total; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            set_error(s, "write: %s", s->ctx->errstr);
            return false;
        }
        enum sink_result cls = classify(s, r);
        if (cls == RES_TRANSIENT)
            *transient = true;
        if (i < count) {
            res[i] = (uint8_t)cls;
        } else {
            *prune_res = (uint8_t)cls;
            prune_reply(s, r, cls);
        }
        freeReplyObject(r);
    }
    return true;
}

/* One write round: verdicts from the tail of the backlog (removal from the tail moves nothing),
 * events from the head of the queue, then the prune call when due. */
static int sink_write(struct redis_sink *s, uint64_t now_ms, bool write, bool prune)
{
    struct argv_builder ab;
    /* The scripts compare times written by several sensors: that needs the wall clock. */
    const uint64_t now_wall = dd_realtime_ms();
    const uint32_t n0 = s->n;
    const uint32_t nv = write ? (n0 < s->cfg.batch_max ? n0 : s->cfg.batch_max) : 0;
    const uint32_t ne =
        write ? (s->ev_count < s->cfg.batch_max ? s->ev_count : s->cfg.batch_max) : 0;
    int ok = REDIS_OK;

    memset(s->vres, RES_UNSENT, nv);
    memset(s->eres, RES_UNSENT, ne);
    for (uint32_t j = 0; j < nv; j++)
        ok |= append_merge(s, &ab, &s->entries[n0 - 1 - j].v, false, now_wall);
    for (uint32_t j = 0; j < ne; j++)
        ok |= append_event(s, &ab, &s->events[(s->ev_head + j) % s->cfg.events_capacity]);
    if (prune)
        ok |= append_prune(s, &ab, false, now_wall);
    if (ok != REDIS_OK) {
        set_error(s, "building the pipeline: %s", s->ctx->errstr[0] ? s->ctx->errstr : "oom");
        sink_fail(s, now_ms);
        return -EIO;
    }
    s->stats.pipelines++;
    if (prune)
        s->next_prune_ms = now_ms + s->cfg.prune_interval_ms;

    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    bool transient = false;
    uint8_t pres = RES_UNSENT;
    bool io_ok = read_replies(s, s->vres, nv, NULL, &transient);
    if (io_ok)
        io_ok = read_replies(s, s->eres, ne, prune ? &pres : NULL, &transient);

    /* NOSCRIPT: the server forgot the scripts (SCRIPT FLUSH, or a restart we did not see).
     * Resend those calls with EVAL, which also caches the script again. */
    uint32_t retry = 0;
    for (uint32_t j = 0; io_ok && j < nv; j++) {
        if (s->vres[j] == RES_NOSCRIPT) {
            ok |= append_merge(s, &ab, &s->entries[n0 - 1 - j].v, true, now_wall);
            retry++;
        }
    }
    if (io_ok && pres == RES_NOSCRIPT)
        ok |= append_prune(s, &ab, true, now_wall);
    if (ok != REDIS_OK) {
        set_error(s, "building the pipeline: %s", s->ctx->errstr[0] ? s->ctx->errstr : "oom");
        io_ok = false;
    }
    if (io_ok && (retry || pres == RES_NOSCRIPT)) {
        s->stats.noscript_fallbacks++;
        for (uint32_t j = 0; io_ok && j < nv; j++) {
            if (s->vres[j] != RES_NOSCRIPT)
                continue;
            uint8_t r2 = RES_UNSENT;
            io_ok = read_replies(s, &r2, 1, NULL, &transient);
            s->vres[j] = r2 == RES_NOSCRIPT ? RES_TRANSIENT : r2;
        }
        if (io_ok && pres == RES_NOSCRIPT)
            io_ok = read_replies(s, NULL, 0, &pres, &transient);
    }
    redis_sigpipe_restore(&g);

    /* Apply: positions n0-1-j decrease as j grows, so removals never move an unvisited entry. */
    for (uint32_t j = 0; j < nv; j++) {
        if (s->vres[j] == RES_OK)
            s->stats.verdicts_written++;
        else if (s->vres[j] == RES_REJECTED)
            s->stats.verdicts_rejected++;
        else
            continue;
        backlog_remove(s, n0 - 1 - j);
    }
    for (uint32_t j = 0; j < ne; j++) {
        if (s->eres[j] == RES_OK)
            s->stats.events_written++;
        else if (s->eres[j] == RES_REJECTED)
            s->stats.events_rejected++;
        else
            break; /* FIFO: later ones are resent with it (at-least-once) */
        s->ev_head = (s->ev_head + 1) % s->cfg.events_capacity;
        s->ev_count--;
    }

    if (!io_ok || transient) {
        sink_fail(s, now_ms);
        return -EIO;
    }
    /* A remainder beyond batch_max goes out on the next call, not after another interval. */
    if (write)
        s->next_write_ms = (s->n || s->ev_count) ? now_ms : now_ms + s->cfg.flush_interval_ms;
    return 0;
}

static int sink_flush(struct redis_sink *s, uint64_t now_ms, bool force)
{
    if (!s->ctx) {
        if (now_ms < s->next_attempt_ms)
            return -ENOTCONN;
        if (sink_connect(s, now_ms) != 0)
            return -ENOTCONN;
    }
    bool write = (s->n || s->ev_count) && (force || now_ms >= s->next_write_ms);
    bool prune = s->prune_more || now_ms >= s->next_prune_ms;
    if (!write && !prune)
        return 0;
    return sink_write(s, now_ms, write, prune);
}

int redis_sink_flush(struct redis_sink *s, uint64_t now_ms)
{
    return sink_flush(s, now_ms, false);
}

bool redis_sink_resync_take(struct redis_sink *s)
{
    bool r = s->resync;
    s->resync = false;
    return r;
}

void redis_sink_stats_get(const struct redis_sink *s, struct redis_sink_stats *out)
{
    *out = s->stats;
    out->pending = s->n;
    out->events_pending = s->ev_count;
}

/* ---- life cycle ------------------------------------------------------------------------- */

struct redis_sink *redis_sink_create(const struct redis_sink_config *cfg)
{
    const char *prefix = cfg->key_prefix ? cfg->key_prefix : "ddos:";
    if (!sensor_id_valid(cfg->sensor_id)) {
        DD_ERROR("redis: sensor id \"%s\" must be 1 to %d printable bytes without spaces or "
                 "commas",
                 cfg->sensor_id ? cfg->sensor_id : "(null)", VERDICT_SENSOR_MAX - 1);
        return NULL;
    }
    if (strlen(prefix) > REDIS_SINK_PREFIX_MAX) {
        DD_ERROR("redis: key prefix longer than %d bytes", REDIS_SINK_PREFIX_MAX);
        return NULL;
    }
    if (cfg->backlog_capacity > (1u << 30) || cfg->events_capacity > (1u << 24)) {
        DD_ERROR("redis: backlog (%" PRIu32 ") or event queue (%" PRIu32 ") too large",
                 cfg->backlog_capacity, cfg->events_capacity);
        return NULL;
    }

    struct redis_sink *s = calloc(1, sizeof(*s));
    if (!s)
        goto fail;
    s->cfg = *cfg;
    s->cfg.port = cfg->port ? cfg->port : 6379;
    s->cfg.ttl_s = or_default(cfg->ttl_s, 3600);
    s->cfg.flush_interval_ms = or_default(cfg->flush_interval_ms, 1000);
    s->cfg.backlog_capacity = or_default(cfg->backlog_capacity, 100000);
    s->cfg.events_capacity = or_default(cfg->events_capacity, 10000);
    s->cfg.events_maxlen = or_default(cfg->events_maxlen, 10000);
    s->cfg.batch_max = or_default(cfg->batch_max, 1000);
    s->cfg.connect_timeout_ms = or_default(cfg->connect_timeout_ms, 200);
    s->cfg.command_timeout_ms = or_default(cfg->command_timeout_ms, 200);
    s->cfg.backoff_min_ms = or_default(cfg->backoff_min_ms, 100);
    s->cfg.backoff_max_ms = or_default(cfg->backoff_max_ms, 5000);
    if (s->cfg.backoff_max_ms < s->cfg.backoff_min_ms)
        s->cfg.backoff_max_ms = s->cfg.backoff_min_ms;
    s->cfg.prune_interval_ms = or_default(cfg->prune_interval_ms, 10000);

    bool oom = false;
    s->host = strdup_or_null(cfg->host ? cfg->host : "127.0.0.1", &oom);
    s->username = strdup_or_null(cfg->username, &oom);
    s->password = strdup_or_null(cfg->password, &oom);
    if (oom)
        goto fail;
    s->cfg.host = s->host;
    s->cfg.username = s->username;
    s->cfg.password = s->password;
    strcpy(s->prefix, prefix);
    s->cfg.key_prefix = s->prefix;
    strcpy(s->sensor, cfg->sensor_id);
    s->cfg.sensor_id = s->sensor;

    /* Index at most half full, so probe runs stay short. */
    uint32_t slots = 16;
    while (slots < 2 * s->cfg.backlog_capacity)
        slots <<= 1;
    s->index_mask = slots - 1;
    s->entries = malloc((size_t)s->cfg.backlog_capacity * sizeof(*s->entries));
    s->index = malloc((size_t)slots * sizeof(*s->index));
    s->events = malloc((size_t)s->cfg.events_capacity * sizeof(*s->events));
    s->vres = malloc(s->cfg.batch_max);
    s->eres = malloc(s->cfg.batch_max);
    if (!s->entries || !s->index || !s->events || !s->vres || !s->eres)
        goto fail;
    memset(s->index, 0xff, (size_t)slots * sizeof(*s->index)); /* SLOT_EMPTY */

    s->seed = dd_hash_seed(s);
    s->rng = dd_hash_mix64(s->seed ^ 0x5eed);
    s->backoff_ms = s->cfg.backoff_min_ms;

    DD_INFO("redis sink: %s:%u db %u prefix \"%s\" sensor %s ttl %" PRIu32 " s; backlog %" PRIu32
            " verdicts (%.1f MB), %" PRIu32 " events (%.1f MB)",
            s->host, s->cfg.port, s->cfg.db, s->prefix, s->sensor, s->cfg.ttl_s,
            s->cfg.backlog_capacity,
            ((double)s->cfg.backlog_capacity * sizeof(*s->entries) + (double)slots * 4) / 1e6,
            s->cfg.events_capacity, (double)s->cfg.events_capacity * sizeof(*s->events) / 1e6);
    return s;

fail:
    DD_ERROR("redis sink: out of memory");
    redis_sink_destroy(s, 0);
    return NULL;
}

void redis_sink_destroy(struct redis_sink *s, uint32_t flush_timeout_ms)
{
    if (!s)
        return;
    if (s->entries && s->events && (s->n || s->ev_count) && flush_timeout_ms) {
        const uint64_t deadline = redis_sink_now_ms() + flush_timeout_ms;
        for (uint64_t now = redis_sink_now_ms(); (s->n || s->ev_count) && now < deadline;
             now = redis_sink_now_ms()) {
            if (!s->ctx && s->next_attempt_ms > now) {
                uint64_t wait =
                    s->next_attempt_ms < deadline ? s->next_attempt_ms - now : deadline - now;
                struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000};
                nanosleep(&ts, NULL);
                continue;
            }
            (void)sink_flush(s, now, true);
        }
    }
    if (s->n || s->ev_count)
        DD_WARN("redis: shutting down with %" PRIu32 " verdicts and %" PRIu32 " events not written",
                s->n, s->ev_count);
    redisFree(s->ctx);
    free(s->entries);
    free(s->index);
    free(s->events);
    free(s->vres);
    free(s->eres);
    free(s->host);
    free(s->username);
    free(s->password);
    free(s);
}
