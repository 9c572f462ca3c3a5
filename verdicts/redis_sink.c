/* redis_sink.c - the Redis writer: a severity-ordered coalescing backlog, the record of what was
 * written (to write only changes), the event queue, one hiredis connection, the scripts.
 *
 * Owns: the backlog (a pool of waiting verdicts, one per IP, on four FIFO lists by level, with an
 * open-addressing index), the known table (per IP: the level, role and attack type last written
 * and whether its evidence was renewed since), the event FIFO, the hiredis context, the reconnect
 * and error-log state. One thread owns the sink and makes every call (in ddosd the Redis I/O
 * thread of redis_thread.c); there are no locks or atomics here. May call: hiredis,
 * verdicts/redis_conn, common/log. Key layout and write rules: docs/redis.md.
 *
 * DESIGN: put and event only touch memory. flush is where I/O happens, at most once per
 * interval, in one pipeline: the waiting verdicts (up to batch_max, critical first), the events
 * (XADD each), the due TTL refreshes and, every few seconds, the top-set prune. An entry leaves
 * the backlog only when its replies came back: an I/O error mid-way keeps everything not yet
 * acknowledged; every write is idempotent, so resending one whose reply was lost is harmless
 * (events are at-least-once: a lost reply may duplicate one).
 *
 * Why only changes: a verdict is republished whenever its rates move, but what a gateway or an
 * operator acts on is the level, the role and the attack type. An address whose verdict changes
 * none of them costs no write: the known table marks it renewed, and once per refresh interval
 * one script call per batch of such addresses extends their TTLs and rewrites only this sensor's
 * "sensor:<id>" field (level, score, time, pps, last_seen). Redis commands then follow what
 * changed, not how busy the link is.
 *
 * Why two write forms: a plain HSET of every field (plus PEXPIRE and ZADD) is the cheapest write
 * Redis has, and it is exact while this sensor is the only one writing. Several sensors sharing
 * one Redis must not lower each other's level, which needs a read-compare-write that only a
 * script makes atomic. Every sensor heartbeats in "<prefix>sensors" (a sorted set by time) once
 * per check interval; while another sensor is live there, writes use the merge script (the max
 * over the live sensors' fields, as before), else HSET. A sensor that finds another one appear
 * asks its owner for a resync, so a plain write that raced with the newcomer's first merge is
 * rewritten through the script at once.
 *
 * Why severity order and budgets: after an outage, or with Redis at maxmemory, what a gateway
 * needs first is the critical victim, not ten thousand low addresses queued before it. Writes
 * of new addresses are capped per second and skipped for low and medium levels while Redis uses
 * more than the memory budget (read from INFO memory every check), so a flood of judged
 * addresses cannot fill Redis; high and critical ones always go.
 *
 * Why a separate expiry index: hashes expire on their own, but members of the top set do not.
 * The first write of an IP records its expiry time in "<prefix>top:expiry" (a sorted set by
 * time); every prune_interval the prune script takes the due IPs from it, checks whether the
 * hash still exists (a refresh or another sensor may have extended it; then it re-files it) and
 * removes the dead ones from both sets: exact, O(log n) per IP, and bounded per call. Both sets
 * also carry the TTL themselves, so when every sensor goes quiet they vanish with the last hash.
 *
 * Why the indexes are keyed with a random seed: the IPs are chosen by the attacker (spoofed
 * sources), who must not be able to aim them at one probe run. */
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

#define NIL                    UINT32_MAX
#define PRUNE_LIMIT            1000 /* due IPs examined per prune call */
#define ARGV_MAX               48
#define ARGV_BUF               2048
#define RUN_ID_LEN             40
#define LEVELS                 4
#define LEVEL_UNKNOWN          0xff /* known entry: the key may be gone, rewrite on the next put */
#define SCAN_FACTOR            4 /* backlog entries examined per pipeline slot (deferred ones skip) */
#define PURGE_STEP             1024 /* known entries examined for expiry per flush */
#define CHECK_FULL_EVERY       10   /* checks per full one (clean-up, TTL, INFO memory) */
#define OTHERS_MAX             64   /* other sensors' ids listed in the log */
#define REFRESH_BATCH_MAX      1000 /* keys per refresh call: bounds the script's run (~1 ms) */
#define REFRESH_ARG_BYTES      256  /* a key and its field value, formatted */
#define ZADD_ARG_BYTES         72   /* a score (or expiry time) and an address, formatted */
#define REFRESH_DEFAULT_MAX_MS 30000u

/* KEYS: verdict hash, top set, top expiry index.
 * ARGV: 1 ip, 2 role, 3 level (0-3), 4 score, 5 attack_type, 6 reasons, 7 flows_total,
 *       8 flows_attack, 9 pps, 10 bps, 11 first_seen, 12 last_seen, 13 sensor, 14 model_version,
 *       15 now (unix ms), 16 ttl (s), 17 spoofed_sources, 18 spoofed_examples (addresses,
 *       comma-separated).
 * Numbers are compared with tonumber but written back as the strings they came in: a Lua number
 * passed to redis.call would be reformatted (1.7e+15). The top-set score is the merged level
 * plus the score (below 1), so a critical address always ranks above a high one. */
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
    "      local lv, sc, seen = string.match(v, '^(%a+) (%S+) (%d+)')\n"
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
    "ARGV[15] .. ' ' .. ARGV[9] .. ' ' .. ARGV[12],\n"
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
    "redis.call('ZADD', top, string.format('%.4f', merged + math.min(tonumber(score), 0.9999)),\n"
    "  ARGV[1])\n"
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

/* KEYS: the verdict hashes of renewed addresses. ARGV: 1 ttl (ms), 2 this sensor's field name,
 * 3.. the field's new value per key. Extends each hash that still exists and rewrites only this
 * sensor's field in it (a hash that expired is not re-created with one field). Returns the
 * 1-based positions of the keys that were gone. */
static const char refresh_script[] = "local gone = {}\n"
                                     "for i, k in ipairs(KEYS) do\n"
                                     "  if redis.call('PEXPIRE', k, ARGV[1]) == 1 then\n"
                                     "    redis.call('HSET', k, ARGV[2], ARGV[i + 2])\n"
                                     "  else\n"
                                     "    gone[#gone + 1] = i\n"
                                     "  end\n"
                                     "end\n"
                                     "return gone\n";

enum { SCRIPT_MERGE, SCRIPT_PRUNE, SCRIPT_REFRESH, SCRIPTS };
static const char *const scripts[SCRIPTS] = {merge_script, prune_script, refresh_script};

/* What became of one pipelined write (an entry's commands, worst reply first). */
enum sink_result {
    RES_UNSENT = 0, /* no reply (I/O error before it): keep */
    RES_OK,
    RES_NOSCRIPT,  /* resend with EVAL */
    RES_TRANSIENT, /* the server cannot take writes right now: keep, reconnect later */
    RES_OOM,       /* Redis at maxmemory: keep, retry next interval without reconnecting */
    RES_REJECTED,  /* a permanent error for this command: drop and count */
};

/* Error kinds counted between two error log lines. */
enum err_kind { ERR_CONNECT, ERR_IO, ERR_OOM, ERR_TRANSIENT, ERR_REJECTED, ERR_KINDS };
static const char *const err_names[ERR_KINDS] = {"connect failures", "I/O errors", "OOM replies",
                                                 "transient error replies", "rejected commands"};

/* A waiting verdict: pool slot, on its level's list (or the free list through next). */
struct sink_entry {
    struct verdict v;
    uint32_t prev, next;
    uint32_t hash_lo;
    bool deferred; /* counted once in keys_deferred */
};

/* What this sensor last wrote for an address (dense array; swap-remove). */
struct known {
    uint8_t ip[16];
    uint8_t ver, level, role;
    bool renewed; /* a put without a change since the last write or refresh */
    uint32_t type_hash;
    uint32_t hash_lo;
    float score, pps;
    uint64_t last_seen_us;
    uint64_t expires_ms; /* monotonic: when Redis drops the hash unless it is refreshed */
};

/* Open-addressing index from an address hash to a position; backward-shift deletion (no
 * tombstones, so probe runs never degrade). Each slot keeps the hash's low bits: deletion and
 * relocation need an entry's home slot without reading the entry. */
struct ipmap_slot {
    uint32_t pos1; /* the position + 1; 0: empty (so a calloc'ed index is empty, untouched) */
    uint32_t h;
};
struct ipmap {
    struct ipmap_slot *slot;
    uint32_t mask;
};

struct sink_event {
    struct verdict v;
    uint8_t kind; /* enum redis_sink_event_kind */
    uint8_t npeers;
    struct redis_sink_peer peers[REDIS_SINK_PEERS_MAX];
};

/* One backlog entry in the pipeline being built. */
struct batch_item {
    uint32_t pos;
    uint8_t ncmd; /* replies to read for it */
    uint8_t res;  /* enum sink_result: the worst of its replies */
    bool is_new;  /* its first write (a key Redis does not have from us) */
    bool merged;  /* sent as the merge script */
};

struct redis_sink {
    struct redis_sink_config cfg; /* defaults applied; strings point at the copies below */
    char *host, *username, *password;
    char prefix[REDIS_SINK_PREFIX_MAX + 1];
    char sensor[VERDICT_SENSOR_MAX];
    uint64_t seed;
    uint64_t rng; /* backoff jitter */

    /* Backlog: a pool, four FIFO lists by level, an index. */
    struct sink_entry *entries;
    uint32_t free_head, n;
    uint32_t pool_used; /* entries ever handed out: those above it were never touched */
    uint32_t head[LEVELS], tail[LEVELS], count[LEVELS];
    struct ipmap bidx;

    /* Known: what was written. */
    struct known *known;
    uint32_t nknown;
    struct ipmap kidx;
    uint32_t purge_cursor;
    uint32_t refresh_cursor; /* NIL: no refresh round running */
    uint64_t next_refresh_ms;
    uint64_t known_full; /* puts that found no room to be remembered */

    struct sink_event *events; /* FIFO ring of cfg.events_capacity */
    uint32_t ev_head, ev_count;

    struct batch_item *batch; /* batch_max */
    uint32_t *refresh_pos;    /* batch_max: known positions in the refresh call */
    uint8_t *eres;            /* batch_max: per-event results */
    const char **zadd_argv;   /* the batch ZADDs' arguments (2 per address + 2) */
    size_t *zadd_len;
    char *zadd_text;           /* their text: ZADD_ARG_BYTES per address */
    uint32_t refresh_max;      /* keys per refresh call */
    const char **refresh_argv; /* the refresh call's arguments (2 per key + 5) */
    size_t *refresh_len;
    char *refresh_text; /* their text: REFRESH_ARG_BYTES per key */

    redisContext *ctx; /* NULL when disconnected */
    char sha[SCRIPTS][41];
    char run_id[RUN_ID_LEN + 1]; /* "" until a server told us */
    bool resync;
    bool ever_connected;
    bool outage_logged; /* one warning per outage, not one per attempt */
    bool shared;        /* another live sensor in the registry: merge script mode */
    bool checked;       /* the registry was read since this connection was made */
    uint64_t checks;    /* checks made: every CHECK_FULL_EVERY-th is a full one */
    uint64_t next_attempt_ms, next_write_ms, next_prune_ms, next_check_ms;
    uint32_t backoff_ms; /* the delay the next failure will draw from */
    bool prune_more;
    uint64_t outage_start_ms;
    uint64_t now_ms; /* the clock of the last flush (put compares known expiries with it) */

    /* New keys per second: a token bucket refilled continuously. */
    double tokens;
    uint64_t tokens_ms;
    uint64_t maxmemory; /* the server's, from INFO memory (0: none) */

    /* Errors since the last error log line. */
    uint64_t err_count[ERR_KINDS];
    uint64_t next_errlog_ms;
    char err_last[REDIS_SINK_ERROR_MAX];

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

/* ---- the address index ------------------------------------------------------------------ */

static int ipmap_init(struct ipmap *m, uint32_t capacity)
{
    /* At most half full, so probe runs stay short. */
    uint32_t slots = 16;
    while (slots < 2 * capacity)
        slots <<= 1;
    m->mask = slots - 1;
    /* calloc: zero pages come from the kernel on first touch, so an index sized for a million
     * addresses costs memory only where addresses landed. */
    m->slot = calloc(slots, sizeof(*m->slot));
    return m->slot ? 0 : -ENOMEM;
}

static void ipmap_clear(struct ipmap *m)
{
    memset(m->slot, 0, ((size_t)m->mask + 1) * sizeof(*m->slot));
}

/* The slot holding pos (which must be indexed under hash h). */
static uint32_t ipmap_slot_of(const struct ipmap *m, uint32_t h, uint32_t pos)
{
    uint32_t i = h & m->mask;
    while (m->slot[i].pos1 != pos + 1)
        i = (i + 1) & m->mask;
    return i;
}

static void ipmap_insert(struct ipmap *m, uint32_t h, uint32_t pos)
{
    uint32_t i = h & m->mask;
    while (m->slot[i].pos1 != 0)
        i = (i + 1) & m->mask;
    m->slot[i].pos1 = pos + 1;
    m->slot[i].h = h;
}

static void ipmap_remove(struct ipmap *m, uint32_t h, uint32_t pos)
{
    uint32_t mask = m->mask;
    uint32_t hole = ipmap_slot_of(m, h, pos);
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slot[j].pos1 == 0)
            break;
        uint32_t home = m->slot[j].h & mask;
        /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        m->slot[hole] = m->slot[j];
        hole = j;
    }
    m->slot[hole].pos1 = 0;
}

/* ---- the backlog ------------------------------------------------------------------------ */

static uint32_t addr_hash(const struct redis_sink *s, const uint8_t ip[16], uint8_t ver)
{
    return (uint32_t)dd_hash_addr(s->seed, ip, ver);
}

static uint32_t backlog_find(const struct redis_sink *s, const struct verdict *v, uint32_t h)
{
    for (uint32_t i = h & s->bidx.mask;; i = (i + 1) & s->bidx.mask) {
        uint32_t pos = s->bidx.slot[i].pos1 - 1;
        if (pos == NIL)
            return NIL; /* pos1 0: an empty slot */
        const struct verdict *e = &s->entries[pos].v;
        if (s->bidx.slot[i].h == h && e->ip_version == v->ip_version &&
            memcmp(e->ip, v->ip, sizeof(e->ip)) == 0)
            return pos;
    }
}

static unsigned level_of(const struct verdict *v)
{
    return v->level <= THREAT_CRITICAL ? v->level : THREAT_LOW; /* as threat_level_name does */
}

static void list_link(struct redis_sink *s, uint32_t pos)
{
    unsigned l = level_of(&s->entries[pos].v);
    s->entries[pos].prev = s->tail[l];
    s->entries[pos].next = NIL;
    if (s->tail[l] != NIL)
        s->entries[s->tail[l]].next = pos;
    else
        s->head[l] = pos;
    s->tail[l] = pos;
    s->count[l]++;
}

static void list_unlink(struct redis_sink *s, uint32_t pos)
{
    struct sink_entry *e = &s->entries[pos];
    unsigned l = level_of(&e->v);
    if (e->prev != NIL)
        s->entries[e->prev].next = e->next;
    else
        s->head[l] = e->next;
    if (e->next != NIL)
        s->entries[e->next].prev = e->prev;
    else
        s->tail[l] = e->prev;
    s->count[l]--;
}

static void backlog_insert(struct redis_sink *s, const struct verdict *v, uint32_t h)
{
    /* Freed entries first; else the next never-used one (the pool is touched as it grows). */
    uint32_t pos = s->free_head;
    if (pos != NIL)
        s->free_head = s->entries[pos].next;
    else
        pos = s->pool_used++;
    s->entries[pos].v = *v;
    s->entries[pos].hash_lo = h;
    s->entries[pos].deferred = false;
    list_link(s, pos);
    ipmap_insert(&s->bidx, h, pos);
    s->n++;
}

static void backlog_remove(struct redis_sink *s, uint32_t pos)
{
    list_unlink(s, pos);
    ipmap_remove(&s->bidx, s->entries[pos].hash_lo, pos);
    s->entries[pos].next = s->free_head;
    s->free_head = pos;
    s->n--;
}

/* ---- the known table -------------------------------------------------------------------- */

static uint32_t known_find(const struct redis_sink *s, const struct verdict *v, uint32_t h)
{
    for (uint32_t i = h & s->kidx.mask;; i = (i + 1) & s->kidx.mask) {
        uint32_t pos = s->kidx.slot[i].pos1 - 1;
        if (pos == NIL)
            return NIL; /* pos1 0: an empty slot */
        const struct known *k = &s->known[pos];
        if (s->kidx.slot[i].h == h && k->ver == v->ip_version &&
            memcmp(k->ip, v->ip, sizeof(k->ip)) == 0)
            return pos;
    }
}

/* Swap-remove: the last entry moves into pos (its index slot follows it). */
static void known_remove(struct redis_sink *s, uint32_t pos)
{
    ipmap_remove(&s->kidx, s->known[pos].hash_lo, pos);
    uint32_t last = --s->nknown;
    if (pos != last) {
        s->known[pos] = s->known[last];
        s->kidx.slot[ipmap_slot_of(&s->kidx, s->known[pos].hash_lo, last)].pos1 = pos + 1;
    }
}

static void known_clear(struct redis_sink *s)
{
    s->nknown = 0;
    s->purge_cursor = 0;
    s->refresh_cursor = NIL;
    ipmap_clear(&s->kidx);
}

static uint32_t type_hash(const struct verdict *v)
{
    uint32_t h = 2166136261u; /* FNV-1a over the text, which is all that is written of it */
    for (size_t i = 0; i < sizeof(v->attack_type) && v->attack_type[i]; i++)
        h = (h ^ (uint8_t)v->attack_type[i]) * 16777619u;
    return h;
}

static void known_fill(struct known *k, const struct verdict *v)
{
    k->level = (uint8_t)level_of(v);
    k->role = v->role;
    k->type_hash = type_hash(v);
    k->score = (float)v->score;
    k->pps = (float)v->pps;
    k->last_seen_us = v->last_seen_us;
}

/* Records that v was written now. When the table is full the address is not remembered (its
 * next put is written again, as a first sight) and known_full counts it. */
static void known_note_written(struct redis_sink *s, const struct verdict *v, uint64_t now_ms)
{
    uint32_t h = addr_hash(s, v->ip, v->ip_version);
    uint32_t pos = known_find(s, v, h);
    if (pos == NIL) {
        if (s->nknown == s->cfg.known_capacity) {
            s->known_full++;
            return;
        }
        pos = s->nknown++;
        memset(&s->known[pos], 0, sizeof(s->known[pos]));
        memcpy(s->known[pos].ip, v->ip, 16);
        s->known[pos].ver = v->ip_version;
        s->known[pos].hash_lo = h;
        ipmap_insert(&s->kidx, h, pos);
    }
    known_fill(&s->known[pos], v);
    s->known[pos].renewed = false;
    s->known[pos].expires_ms = now_ms + (uint64_t)s->cfg.ttl_s * 1000u;
}

/* Forgets up to PURGE_STEP entries' worth of expired ones (their hashes are gone from Redis). */
static void known_purge(struct redis_sink *s, uint64_t now_ms)
{
    for (uint32_t step = 0; step < PURGE_STEP && s->nknown; step++) {
        if (s->purge_cursor >= s->nknown)
            s->purge_cursor = 0;
        uint32_t pos = s->purge_cursor;
        /* A running refresh round holds positions: leave removal to the gap between rounds. */
        if (s->known[pos].expires_ms <= now_ms && s->refresh_cursor == NIL)
            known_remove(s, pos); /* the last entry moved into pos: look at it next */
        else
            s->purge_cursor++;
    }
}

/* ---- put and event ---------------------------------------------------------------------- */

/* A report carries the level the reporter gave, often without a score: the level sets a floor,
 * so a reported critical address does not rank at the bottom of its level. */
static double report_floor(const struct verdict *v)
{
    static const double floor_of[LEVELS] = {0.0, 0.5, 0.75, 0.9};
    return (v->reasons & VERDICT_REASON_REPORT) ? floor_of[level_of(v)] : 0.0;
}

static bool sink_put(struct redis_sink *s, const struct verdict *v, bool force)
{
    s->stats.verdicts_put++;
    if (v->ip_version != 4 && v->ip_version != 6) {
        s->stats.verdicts_invalid++;
        return false;
    }
    struct verdict copy = *v;
    if (copy.ip_version == 4)
        memset(copy.ip + 4, 0, sizeof(copy.ip) - 4); /* one key per address, whatever the tail */
    if (!(copy.score >= report_floor(&copy)))
        copy.score = report_floor(&copy);
    uint32_t h = addr_hash(s, copy.ip, copy.ip_version);
    uint32_t pos = backlog_find(s, &copy, h);
    if (pos != NIL) {
        list_unlink(s, pos); /* its level may change: back of its (new) level's list */
        s->entries[pos].v = copy;
        list_link(s, pos);
        s->stats.verdicts_coalesced++;
        return true;
    }
    uint32_t k = known_find(s, &copy, h);
    if (!force && k != NIL && s->known[k].expires_ms > s->now_ms &&
        s->known[k].level == level_of(&copy) && s->known[k].role == copy.role &&
        s->known[k].type_hash == type_hash(&copy)) {
        known_fill(&s->known[k], &copy);
        s->known[k].renewed = true;
        s->stats.verdicts_unchanged++;
        return true;
    }
    if (s->n == s->cfg.backlog_capacity) {
        s->stats.backlog_dropped++; /* the evicted verdict, or v itself */
        unsigned low = 0;
        while (low < LEVELS && s->count[low] == 0)
            low++;
        if (low >= level_of(&copy))
            return false;
        backlog_remove(s, s->head[low]); /* the oldest of the weakest level */
    }
    backlog_insert(s, &copy, h);
    return true;
}

bool redis_sink_put(struct redis_sink *s, const struct verdict *v)
{
    return sink_put(s, v, false);
}

bool redis_sink_put_sync(struct redis_sink *s, const struct verdict *v)
{
    return sink_put(s, v, true);
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
    if (!(e->v.score >= report_floor(&e->v)))
        e->v.score = report_floor(&e->v);
    e->kind = kind == REDIS_SINK_EVENT_ATTACK_END || kind == REDIS_SINK_EVENT_LEVEL_CHANGE
                  ? (uint8_t)kind
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

/* Appends one built command, counted in stats.commands. */
static int append_argv(struct redis_sink *s, struct argv_builder *ab)
{
    s->stats.commands++;
    return redisAppendCommandArgv(s->ctx, ab->argc, ab->argv, ab->len);
}

/* The top-set score: level first, then the score (kept below 1 so levels never overlap). */
static double top_score(const struct verdict *v)
{
    double sc = finite_or_zero(v->score);
    return level_of(v) + (sc < 0 ? 0 : sc > 0.9999 ? 0.9999 : sc);
}

/* "<level> <score> <unix ms> <pps> <last_seen us>": this sensor's own field of a hash. */
static void ab_sensor_value(struct argv_builder *ab, unsigned level, double score,
                            uint64_t now_wall, double pps, uint64_t last_seen_us)
{
    ab_fmt(ab, "%s %.4f %" PRIu64 " %.1f %" PRIu64, threat_level_name((enum threat_level)level),
           finite_or_zero(score), now_wall, finite_or_zero(pps), last_seen_us);
}

static int append_merge(struct redis_sink *s, struct argv_builder *ab, const struct verdict *v,
                        bool eval, uint64_t now_wall)
{
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(v, ip);
    ab_reset(ab);
    ab_str(ab, eval ? "EVAL" : "EVALSHA");
    ab_str(ab, eval ? merge_script : s->sha[SCRIPT_MERGE]);
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
    return append_argv(s, ab);
}

/* The single-sensor write of one address: HSET of every field and PEXPIRE (its top-set score and
 * a new key's expiry go into the batch's two ZADDs, append_zadds). 2 commands. */
static int append_plain(struct redis_sink *s, struct argv_builder *ab, const struct verdict *v,
                        uint64_t now_wall)
{
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(v, ip);
    int ok = REDIS_OK;
    ab_reset(ab);
    ab_str(ab, "HSET");
    ab_fmt(ab, "%sverdict:%s", s->prefix, ip);
    ab_verdict(ab, v, true);
    ab_fmt(ab, "sensor:%s", s->sensor);
    ab_sensor_value(ab, level_of(v), v->score, now_wall, v->pps, v->last_seen_us);
    ab_str(ab, "sensors");
    ab_str(ab, s->sensor);
    ab_str(ab, "updated");
    ab_fmt(ab, "%" PRIu64, now_wall);
    ab_str(ab, "sensor");
    ab_str(ab, s->sensor);
    ab_str(ab, "model_version");
    ab_field(ab, v->model_version, sizeof(v->model_version));
    ab_spoofed(ab, v, true);
    ok |= append_argv(s, ab);

    ab_reset(ab);
    ab_str(ab, "PEXPIRE");
    ab_fmt(ab, "%sverdict:%s", s->prefix, ip);
    ab_fmt(ab, "%" PRIu64, (uint64_t)s->cfg.ttl_s * 1000u);
    return ok | append_argv(s, ab);
}

/* The plain batch's top-set scores in one ZADD, and the expiry of its new keys in a second one
 * when there are any: 2 commands per pipeline instead of 2 per address. *ncmd gets how many
 * were appended. */
static int append_zadds(struct redis_sink *s, uint32_t nb, uint64_t now_wall, int *ncmd)
{
    int ok = REDIS_OK;
    *ncmd = 0;
    for (int which = 0; which < 2; which++) {
        size_t used = 0, argc = 0;
        const size_t cap = (size_t)s->cfg.batch_max * ZADD_ARG_BYTES + 128;
#define ZARG(...)                                                                                  \
    do {                                                                                           \
        int n_ = snprintf(s->zadd_text + used, cap - used, __VA_ARGS__);                           \
        if (n_ < 0 || (size_t)n_ >= cap - used)                                                    \
            n_ = 0; /* cannot happen: ZADD_ARG_BYTES covers a score and an address */              \
        s->zadd_argv[argc] = s->zadd_text + used;                                                  \
        s->zadd_len[argc++] = (size_t)n_;                                                          \
        used += (size_t)n_ + 1;                                                                    \
    } while (0)
        ZARG("ZADD");
        ZARG("%s%s", s->prefix, which ? "top:expiry" : "top");
        for (uint32_t j = 0; j < nb; j++) {
            const struct verdict *v = &s->entries[s->batch[j].pos].v;
            char ip[VERDICT_IP_TEXT_MAX];
            if (which && !s->batch[j].is_new)
                continue;
            if (which)
                ZARG("%" PRIu64, now_wall + (uint64_t)s->cfg.ttl_s * 1000u);
            else
                ZARG("%.4f", top_score(v));
            ZARG("%s", verdict_ip_format(v, ip));
        }
#undef ZARG
        if (argc == 2)
            continue; /* no new key in the batch */
        s->stats.commands++;
        (*ncmd)++;
        ok |= redisAppendCommandArgv(s->ctx, (int)argc, s->zadd_argv, s->zadd_len);
    }
    return ok;
}

/* PEXPIRE of the top set and its index (the merge script does it itself): 2 commands. */
static int append_sets_ttl(struct redis_sink *s, struct argv_builder *ab)
{
    int ok = REDIS_OK;
    for (int i = 0; i < 2; i++) {
        ab_reset(ab);
        ab_str(ab, "PEXPIRE");
        ab_fmt(ab, "%s%s", s->prefix, i ? "top:expiry" : "top");
        ab_fmt(ab, "%" PRIu64, (uint64_t)s->cfg.ttl_s * 1000u);
        ok |= append_argv(s, ab);
    }
    return ok;
}

static int append_prune(struct redis_sink *s, struct argv_builder *ab, bool eval, uint64_t now_wall)
{
    ab_reset(ab);
    ab_str(ab, eval ? "EVAL" : "EVALSHA");
    ab_str(ab, eval ? prune_script : s->sha[SCRIPT_PRUNE]);
    ab_str(ab, "2");
    ab_fmt(ab, "%stop", s->prefix);
    ab_fmt(ab, "%stop:expiry", s->prefix);
    ab_fmt(ab, "%" PRIu64, now_wall);
    ab_fmt(ab, "%d", PRUNE_LIMIT);
    ab_fmt(ab, "%sverdict:", s->prefix);
    return append_argv(s, ab);
}

/* One refresh call for the nr known entries in refresh_pos: EVAL(SHA) refresh_script with their
 * keys and this sensor's field values. The argument vector lives in refresh_* (sized at create:
 * too long for an argv_builder). */
static int append_refresh(struct redis_sink *s, uint32_t nr, bool eval, uint64_t now_wall)
{
    size_t used = 0, argc = 0;
    const size_t cap = (size_t)s->refresh_max * REFRESH_ARG_BYTES;
#define RARG(...)                                                                                  \
    do {                                                                                           \
        int n_ = snprintf(s->refresh_text + used, cap - used, __VA_ARGS__);                        \
        if (n_ < 0 || (size_t)n_ >= cap - used)                                                    \
            n_ = 0; /* cannot happen: REFRESH_ARG_BYTES covers a key and a value */                \
        s->refresh_argv[argc] = s->refresh_text + used;                                            \
        s->refresh_len[argc++] = (size_t)n_;                                                       \
        used += (size_t)n_ + 1;                                                                    \
    } while (0)
    s->refresh_argv[argc] = eval ? "EVAL" : "EVALSHA";
    s->refresh_len[argc] = strlen(s->refresh_argv[argc]);
    argc++;
    s->refresh_argv[argc] = eval ? refresh_script : s->sha[SCRIPT_REFRESH];
    s->refresh_len[argc] = strlen(s->refresh_argv[argc]);
    argc++;
    RARG("%" PRIu32, nr);
    for (uint32_t i = 0; i < nr; i++) {
        const struct known *k = &s->known[s->refresh_pos[i]];
        struct verdict tmp = {.ip_version = k->ver};
        char ip[VERDICT_IP_TEXT_MAX];
        memcpy(tmp.ip, k->ip, 16);
        RARG("%sverdict:%s", s->prefix, verdict_ip_format(&tmp, ip));
    }
    RARG("%" PRIu64, (uint64_t)s->cfg.ttl_s * 1000u);
    RARG("sensor:%s", s->sensor);
    for (uint32_t i = 0; i < nr; i++) {
        const struct known *k = &s->known[s->refresh_pos[i]];
        RARG("%s %.4f %" PRIu64 " %.1f %" PRIu64, threat_level_name((enum threat_level)k->level),
             finite_or_zero(k->score), now_wall, finite_or_zero(k->pps), k->last_seen_us);
    }
#undef RARG
    s->stats.commands++;
    return redisAppendCommandArgv(s->ctx, (int)argc, s->refresh_argv, s->refresh_len);
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
    ab_str(ab, e->kind == REDIS_SINK_EVENT_ATTACK_END     ? "attack_end"
               : e->kind == REDIS_SINK_EVENT_LEVEL_CHANGE ? "level_change"
                                                          : "attack_start");
    ab_verdict(ab, &e->v, true);
    ab_str(ab, "sensor");
    ab_str(ab, s->sensor);
    ab_str(ab, "model_version");
    ab_field(ab, e->v.model_version, sizeof(e->v.model_version));
    ab_spoofed(ab, &e->v, true);
    ab_str(ab, "peers");
    ab_str(ab, peers);
    return append_argv(s, ab);
}

/* ---- errors and the log ------------------------------------------------------------------ */

/* Counts an error of kind k (last_error already says what it was). */
static void note_error(struct redis_sink *s, enum err_kind k)
{
    s->err_count[k]++;
    s->stats.redis_errors++;
    if (k == ERR_OOM)
        s->stats.oom_errors++;
    memcpy(s->err_last, s->stats.last_error, sizeof(s->err_last));
}

/* One warning for every error since the last one, with counts, at most once per
 * error_log_interval_ms (force: now, e.g. at shutdown). An OOM storm or a flapping server is a
 * few lines an interval, not one per attempt. */
static void log_errors(struct redis_sink *s, uint64_t now_ms, bool force)
{
    uint64_t total = 0;
    for (int k = 0; k < ERR_KINDS; k++)
        total += s->err_count[k];
    if (total == 0 || (!force && now_ms < s->next_errlog_ms))
        return;
    char what[256];
    size_t o = 0;
    what[0] = '\0';
    for (int k = 0; k < ERR_KINDS && o < sizeof(what); k++) {
        if (s->err_count[k])
            o += (size_t)snprintf(what + o, sizeof(what) - o, "%s%" PRIu64 " %s", o ? ", " : "",
                                  s->err_count[k], err_names[k]);
    }
    DD_WARN("redis %s:%u: %s since the last report (last: %s); %" PRIu32 " verdicts (%" PRIu32
            " critical, %" PRIu32 " high) and %" PRIu32 " events wait%s",
            s->host, s->cfg.port, what, s->err_last, s->n, s->count[THREAT_CRITICAL],
            s->count[THREAT_HIGH], s->ev_count,
            s->ctx ? "" : "; disconnected, retrying with backoff");
    memset(s->err_count, 0, sizeof(s->err_count));
    s->next_errlog_ms = now_ms + s->cfg.error_log_interval_ms;
}

/* ---- connection ------------------------------------------------------------------------- */

/* Disconnects (when connected) after a failure of kind k and schedules the next attempt: "equal
 * jitter" backoff, a delay drawn from [b/2, b] with b doubling from backoff_min to backoff_max,
 * so a fleet of sensors that lost the same Redis does not reconnect in lockstep. */
static void sink_fail(struct redis_sink *s, uint64_t now_ms, enum err_kind k)
{
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    if (s->stats.connected || !s->outage_logged) {
        s->outage_logged = true;
        s->outage_start_ms = now_ms;
    }
    s->stats.connected = false;
    note_error(s, k);
    log_errors(s, now_ms, false);
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

/* Connects and, in one pipelined round trip, authenticates, selects the db, loads the scripts
 * and reads the server's run_id. Returns 0, or -1 after sink_fail. */
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
        sink_fail(s, now_ms, ERR_CONNECT);
        return -1;
    }
    s->ctx = c;

    int nlogin = redis_conn_append_login(c, &params); /* AUTH, SELECT: their replies come first */
    int ok = nlogin < 0 ? REDIS_ERR : REDIS_OK;
    int ncmd = nlogin < 0 ? 0 : nlogin;
    for (int i = 0; i < SCRIPTS; i++)
        ok |= redisAppendCommand(c, "SCRIPT LOAD %s", scripts[i]);
    ok |= redisAppendCommand(c, "INFO server");
    ncmd += SCRIPTS + 1;
    s->stats.commands += (uint64_t)ncmd;
    if (ok != REDIS_OK) {
        set_error(s, "handshake: %s", c->errstr[0] ? c->errstr : "out of memory");
        sink_fail(s, now_ms, ERR_IO);
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
        int which = i - (ncmd - SCRIPTS - 1); /* 0..SCRIPTS-1: a sha, SCRIPTS: INFO; < 0: login */
        if (which == SCRIPTS && (reply_is_error(r) || r->type != REDIS_REPLY_STRING)) {
            /* INFO may be renamed away on hardened servers: restarts then go unnoticed. */
            DD_WARN("redis: INFO failed (%s): a Redis restart cannot be detected",
                    reply_is_error(r) ? r->str : "unexpected reply");
        } else if (which == SCRIPTS) {
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
            memcpy(s->sha[which], r->str, 40);
        } else if (which >= 0) {
            set_error(s, "handshake: unexpected SCRIPT LOAD reply");
            failed = 1;
        }
        freeReplyObject(r);
    }
    redis_sigpipe_restore(&g);
    if (failed) {
        sink_fail(s, now_ms, ERR_CONNECT);
        return -1;
    }

    if (s->ever_connected)
        s->stats.reconnects++;
    if (s->outage_logged)
        DD_INFO("redis %s:%u: connected after %" PRIu64 " ms; %" PRIu32 " verdicts (%" PRIu32
                " critical, %" PRIu32 " high) and %" PRIu32 " events to write",
                s->host, s->cfg.port, now_ms - s->outage_start_ms, s->n, s->count[THREAT_CRITICAL],
                s->count[THREAT_HIGH], s->ev_count);
    else if (!s->ever_connected)
        DD_INFO("redis %s:%u: connected (db %u, sensor %s)", s->host, s->cfg.port, s->cfg.db,
                s->sensor);
    if (run_id[0]) {
        if (s->run_id[0] && strcmp(run_id, s->run_id) != 0) {
            s->resync = true;
            s->stats.resyncs++;
            known_clear(s); /* the new server has none of it */
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
    s->next_check_ms = now_ms; /* before the first write: are we alone? */
    s->checked = false;
    return 0;
}

/* ---- the periodic check ----------------------------------------------------------------- */

static uint64_t info_field(const char *info, const char *name)
{
    const char *p = strstr(info, name);
    return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

/* One round trip every check interval: heartbeat in the sensor registry, drop members silent
 * for a TTL, list the live ones (alone: plain writes; else the merge script), and INFO memory
 * for the budget. Returns 0, or -1 after sink_fail. */
static int sink_check(struct redis_sink *s, uint64_t now_ms)
{
    const uint64_t now_wall = dd_realtime_ms(), ttl_ms = (uint64_t)s->cfg.ttl_s * 1000u;
    char key[REDIS_SINK_PREFIX_MAX + 16];
    snprintf(key, sizeof(key), "%ssensors", s->prefix);
    redisContext *c = s->ctx;
    int ok = REDIS_OK;
    /* Every check: the heartbeat and the live members (2 commands). Every tenth, or every one
     * while a memory budget can apply: also the clean-up of dead members, the registry's TTL
     * and INFO memory. */
    bool full = s->checks++ % CHECK_FULL_EVERY == 0 || s->cfg.max_memory_mb || s->maxmemory;
    ok |= redisAppendCommand(c, "ZADD %s %" PRIu64 " %s", key, now_wall, s->sensor);
    ok |= redisAppendCommand(c, "ZRANGEBYSCORE %s (%" PRIu64 " +inf", key, now_wall - ttl_ms);
    if (full) {
        ok |= redisAppendCommand(c, "ZREMRANGEBYSCORE %s -inf %" PRIu64, key, now_wall - ttl_ms);
        ok |= redisAppendCommand(c, "PEXPIRE %s %" PRIu64, key, ttl_ms);
        ok |= redisAppendCommand(c, "INFO memory");
    }
    const int ncmd = full ? 5 : 2;
    s->stats.commands += (uint64_t)ncmd;
    s->next_check_ms = now_ms + s->cfg.check_interval_ms;
    if (ok != REDIS_OK) {
        set_error(s, "check: %s", c->errstr[0] ? c->errstr : "out of memory");
        sink_fail(s, now_ms, ERR_IO);
        return -1;
    }
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    int others = -1;
    char names[OTHERS_MAX * 2] = "";
    bool io_ok = true;
    for (int i = 0; i < ncmd; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            set_error(s, "check: %s", c->errstr);
            io_ok = false;
            break;
        }
        if (reply_is_error(r)) {
            /* OOM refuses the heartbeat too: the rest of the check still tells the truth. */
            set_error(s, "check: %s", r->str);
            note_error(s, strncmp(r->str, "OOM", 3) == 0 ? ERR_OOM : ERR_REJECTED);
        } else if (i == 1 && r->type == REDIS_REPLY_ARRAY) {
            others = 0;
            size_t o = 0;
            for (size_t j = 0; j < r->elements; j++) {
                const redisReply *m = r->element[j];
                if (m->type != REDIS_REPLY_STRING || strcmp(m->str, s->sensor) == 0)
                    continue;
                others++;
                if (o < sizeof(names) - 1)
                    o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", o ? "," : "",
                                          m->str);
            }
        } else if (i == 4 && r->type == REDIS_REPLY_STRING) {
            s->stats.redis_used_memory = info_field(r->str, "\nused_memory:");
            s->maxmemory = info_field(r->str, "\nmaxmemory:");
        }
        freeReplyObject(r);
    }
    redis_sigpipe_restore(&g);
    if (!io_ok) {
        sink_fail(s, now_ms, ERR_IO);
        return -1;
    }

    if (others > 0 && !s->shared) {
        s->shared = true;
        DD_INFO("redis: other sensors write here too (%s): merging every write with the script",
                names);
        if (s->checked) {
            /* Plain writes since our last check may have raced with their first merges. */
            s->resync = true;
            known_clear(s);
        }
    } else if (others == 0 && s->shared) {
        s->shared = false;
        DD_INFO("redis: the only live sensor again: plain writes");
    }
    s->checked = true;
    if (!full)
        return 0; /* no new memory reading: the budget state stands */

    uint64_t budget =
        s->cfg.max_memory_mb ? (uint64_t)s->cfg.max_memory_mb << 20 : s->maxmemory / 10 * 9;
    bool over = budget && s->stats.redis_used_memory >= budget;
    if (over && !s->stats.over_budget)
        DD_WARN("redis: used_memory %.1f MB is above the budget of %.1f MB: new low and medium "
                "addresses are not written (budget_skipped counts them); high and critical ones "
                "still are",
                (double)s->stats.redis_used_memory / 1048576.0, (double)budget / 1048576.0);
    else if (!over && s->stats.over_budget)
        DD_INFO("redis: used_memory %.1f MB is back under the budget of %.1f MB",
                (double)s->stats.redis_used_memory / 1048576.0, (double)budget / 1048576.0);
    s->stats.redis_budget = budget;
    s->stats.over_budget = over;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Transient errors say "not now" about the server, not about the command: keep the data and
 * come back later. Anything else (WRONGTYPE on a key someone overwrote, a script error) would
 * fail again forever, so that command is dropped and counted. */
static enum sink_result classify(struct redis_sink *s, const redisReply *r)
{
    static const char *const transient[] = {
        "LOADING",    "BUSY",        "READONLY", "MASTERDOWN", "TRYAGAIN",
        "NOREPLICAS", "CLUSTERDOWN", "MISCONF",  "NOAUTH",     "NOPERM",
    };
    if (!reply_is_error(r))
        return RES_OK;
    if (strncmp(r->str, "NOSCRIPT", 8) == 0)
        return RES_NOSCRIPT;
    set_error(s, "%s", r->str);
    if (strncmp(r->str, "OOM", 3) == 0 && (r->str[3] == ' ' || r->str[3] == '\0')) {
        note_error(s, ERR_OOM);
        return RES_OOM;
    }
    for (size_t i = 0; i < DD_ARRAY_LEN(transient); i++) {
        size_t n = strlen(transient[i]);
        if (strncmp(r->str, transient[i], n) == 0 && (r->str[n] == ' ' || r->str[n] == '\0')) {
            note_error(s, ERR_TRANSIENT);
            return RES_TRANSIENT;
        }
    }
    note_error(s, ERR_REJECTED);
    return RES_REJECTED;
}

/* The worse of two results: what a command group's replies add up to. */
static uint8_t worse(uint8_t a, uint8_t b)
{
    return a > b ? a : b;
}

/* Reads one reply; NULL on an I/O error (last_error set). The caller frees it. */
static redisReply *read_reply(struct redis_sink *s)
{
    redisReply *r = NULL;
    if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
        set_error(s, "write: %s", s->ctx->errstr);
        return NULL;
    }
    return r;
}

/* Reads n replies, returning the worst result (RES_UNSENT on an I/O error). */
static uint8_t read_group(struct redis_sink *s, unsigned n)
{
    uint8_t res = RES_OK;
    for (unsigned i = 0; i < n; i++) {
        redisReply *r = read_reply(s);
        if (!r)
            return RES_UNSENT;
        res = worse(res, (uint8_t)classify(s, r));
        freeReplyObject(r);
    }
    return res;
}

/* The refresh reply: positions of the keys that were gone. */
static uint8_t refresh_reply(struct redis_sink *s, uint32_t nr, uint64_t now_ms)
{
    redisReply *r = read_reply(s);
    if (!r)
        return RES_UNSENT;
    uint8_t res = (uint8_t)classify(s, r);
    if (res == RES_OK && r->type == REDIS_REPLY_ARRAY) {
        for (uint32_t i = 0; i < nr; i++) {
            struct known *k = &s->known[s->refresh_pos[i]];
            k->renewed = false;
            k->expires_ms = now_ms + (uint64_t)s->cfg.ttl_s * 1000u;
        }
        for (size_t j = 0; j < r->elements; j++) {
            long long p = r->element[j]->type == REDIS_REPLY_INTEGER ? r->element[j]->integer : 0;
            if (p < 1 || p > (long long)nr)
                continue;
            /* Gone (evicted, flushed, expired early): the next put writes it whole. */
            struct known *k = &s->known[s->refresh_pos[p - 1]];
            k->level = LEVEL_UNKNOWN;
            k->expires_ms = 0;
            s->stats.refresh_gone++;
        }
        s->stats.refreshed += nr - (r->elements <= nr ? (uint32_t)r->elements : nr);
    }
    freeReplyObject(r);
    return res;
}

/* Records the prune reply {removed, examined}; a failed prune is simply retried later. */
static uint8_t prune_reply(struct redis_sink *s)
{
    redisReply *r = read_reply(s);
    if (!r)
        return RES_UNSENT;
    uint8_t res = (uint8_t)classify(s, r);
    if (res == RES_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        s->stats.top_pruned += (uint64_t)r->element[0]->integer;
        s->prune_more = r->element[1]->integer >= PRUNE_LIMIT;
    }
    freeReplyObject(r);
    return res;
}

/* True when v's address has no live hash from us in Redis (never written, expired, or gone). */
static bool is_new_key(const struct redis_sink *s, const struct verdict *v, uint32_t h,
                       uint64_t now_ms)
{
    uint32_t k = known_find(s, v, h);
    return k == NIL || s->known[k].expires_ms <= now_ms || s->known[k].level == LEVEL_UNKNOWN;
}

/* Picks up to batch_max waiting verdicts, most severe level first and oldest first within one.
 * A new address needs a token of the keys-per-second cap (else it waits, counted once in
 * keys_deferred); a new low or medium one is dropped while Redis is over its memory budget
 * (budget_skipped). Returns how many were picked into s->batch. */
static uint32_t pick_batch(struct redis_sink *s, uint64_t now_ms)
{
    uint32_t nb = 0, scanned = 0;
    const uint32_t scan_max = SCAN_FACTOR * s->cfg.batch_max;
    for (int l = LEVELS - 1; l >= 0; l--) {
        uint32_t pos = s->head[l];
        while (pos != NIL && nb < s->cfg.batch_max && scanned < scan_max) {
            struct sink_entry *e = &s->entries[pos];
            uint32_t next = e->next;
            scanned++;
            bool is_new = is_new_key(s, &e->v, e->hash_lo, now_ms);
            if (is_new && l <= THREAT_MEDIUM && s->stats.over_budget) {
                s->stats.budget_skipped++;
                backlog_remove(s, pos);
                pos = next;
                continue;
            }
            if (is_new && s->cfg.max_keys_per_second) {
                if (s->tokens < 1.0) {
                    if (!e->deferred) {
                        e->deferred = true;
                        s->stats.keys_deferred++;
                    }
                    pos = next;
                    continue;
                }
                s->tokens -= 1.0;
            }
            s->batch[nb++] = (struct batch_item){.pos = pos, .is_new = is_new};
            pos = next;
        }
    }
    return nb;
}

/* Picks the next renewed known entries of the running refresh round into refresh_pos; ends the
 * round when the table has been walked. Returns how many. */
static uint32_t pick_refresh(struct redis_sink *s, uint64_t now_ms)
{
    uint32_t nr = 0;
    while (s->refresh_cursor != NIL && nr < s->refresh_max) {
        if (s->refresh_cursor >= s->nknown) {
            s->refresh_cursor = NIL;
            break;
        }
        struct known *k = &s->known[s->refresh_cursor];
        if (k->renewed && k->expires_ms > now_ms && k->level != LEVEL_UNKNOWN)
            s->refresh_pos[nr++] = s->refresh_cursor;
        s->refresh_cursor++;
    }
    return nr;
}

/* One write round: the picked verdicts, events from the head of the queue, a refresh call when a
 * round is running, then the prune call when due. */
static int sink_write(struct redis_sink *s, uint64_t now_ms, bool write, bool prune)
{
    struct argv_builder ab;
    /* The scripts compare times written by several sensors: that needs the wall clock. */
    const uint64_t now_wall = dd_realtime_ms();
    const bool shared = s->shared;
    const uint32_t nb = write ? pick_batch(s, now_ms) : 0;
    const uint32_t ne =
        write ? (s->ev_count < s->cfg.batch_max ? s->ev_count : s->cfg.batch_max) : 0;
    const uint32_t nr = write ? pick_refresh(s, now_ms) : 0;
    const bool sets_ttl = (nb && !shared) || nr;
    int ok = REDIS_OK, nzadd = 0;

    if (!nb && !ne && !nr && !prune) {
        if (write)
            s->next_write_ms = now_ms + s->cfg.flush_interval_ms;
        return 0;
    }
    for (uint32_t j = 0; j < nb; j++) {
        struct batch_item *b = &s->batch[j];
        const struct verdict *v = &s->entries[b->pos].v;
        b->merged = shared;
        if (shared) {
            b->ncmd = 1;
            ok |= append_merge(s, &ab, v, false, now_wall);
        } else {
            b->ncmd = 2;
            ok |= append_plain(s, &ab, v, now_wall);
        }
    }
    if (nb && !shared)
        ok |= append_zadds(s, nb, now_wall, &nzadd);
    if (sets_ttl)
        ok |= append_sets_ttl(s, &ab);
    for (uint32_t j = 0; j < ne; j++)
        ok |= append_event(s, &ab, &s->events[(s->ev_head + j) % s->cfg.events_capacity]);
    if (nr)
        ok |= append_refresh(s, nr, false, now_wall);
    if (prune)
        ok |= append_prune(s, &ab, false, now_wall);
    if (ok != REDIS_OK) {
        set_error(s, "building the pipeline: %s", s->ctx->errstr[0] ? s->ctx->errstr : "oom");
        sink_fail(s, now_ms, ERR_IO);
        return -EIO;
    }
    s->stats.pipelines++;
    if (prune)
        s->next_prune_ms = now_ms + s->cfg.prune_interval_ms;

    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    bool io_ok = true;
    uint8_t all = RES_OK; /* the worst result of the round */
    for (uint32_t j = 0; j < nb; j++) {
        s->batch[j].res = io_ok ? read_group(s, s->batch[j].ncmd) : RES_UNSENT;
        io_ok = s->batch[j].res != RES_UNSENT;
        if (s->batch[j].res != RES_NOSCRIPT)
            all = worse(all, s->batch[j].res);
    }
    if (nzadd && io_ok) {
        /* The batch's top-set ZADDs: a server that refused them ("not now") refused the batch;
         * a permanent error (someone's key of another type) is counted, the hashes stand. */
        uint8_t r = read_group(s, (unsigned)nzadd);
        io_ok = r != RES_UNSENT;
        if (r != RES_REJECTED) {
            for (uint32_t j = 0; j < nb; j++)
                s->batch[j].res = worse(s->batch[j].res, r);
            all = worse(all, r);
        }
    }
    if (sets_ttl && io_ok) {
        uint8_t r = read_group(s, 2);
        io_ok = r != RES_UNSENT;
        all = worse(all, r);
    }
    for (uint32_t j = 0; j < ne; j++) {
        s->eres[j] = io_ok ? read_group(s, 1) : RES_UNSENT;
        io_ok = s->eres[j] != RES_UNSENT;
        all = worse(all, s->eres[j]);
    }
    uint8_t rres = RES_OK, pres = RES_OK;
    if (nr && io_ok) {
        rres = refresh_reply(s, nr, now_ms);
        io_ok = rres != RES_UNSENT;
    }
    if (prune && io_ok) {
        pres = prune_reply(s);
        io_ok = pres != RES_UNSENT;
    }

    /* NOSCRIPT: the server forgot the scripts (SCRIPT FLUSH, or a restart we did not see).
     * Resend those calls with EVAL, which also caches the script again. */
    uint32_t retry = 0;
    for (uint32_t j = 0; io_ok && j < nb; j++) {
        if (s->batch[j].res == RES_NOSCRIPT) {
            ok |= append_merge(s, &ab, &s->entries[s->batch[j].pos].v, true, now_wall);
            retry++;
        }
    }
    if (io_ok && rres == RES_NOSCRIPT)
        ok |= append_refresh(s, nr, true, now_wall);
    if (io_ok && pres == RES_NOSCRIPT)
        ok |= append_prune(s, &ab, true, now_wall);
    if (ok != REDIS_OK) {
        set_error(s, "building the pipeline: %s", s->ctx->errstr[0] ? s->ctx->errstr : "oom");
        io_ok = false;
    }
    if (io_ok && (retry || rres == RES_NOSCRIPT || pres == RES_NOSCRIPT)) {
        s->stats.noscript_fallbacks++;
        for (uint32_t j = 0; io_ok && j < nb; j++) {
            if (s->batch[j].res != RES_NOSCRIPT)
                continue;
            uint8_t r2 = read_group(s, 1);
            s->batch[j].res = r2 == RES_NOSCRIPT ? RES_TRANSIENT : r2;
            io_ok = r2 != RES_UNSENT;
            all = worse(all, s->batch[j].res);
        }
        if (io_ok && rres == RES_NOSCRIPT)
            io_ok = refresh_reply(s, nr, now_ms) != RES_UNSENT;
        if (io_ok && pres == RES_NOSCRIPT)
            io_ok = prune_reply(s) != RES_UNSENT;
    }
    redis_sigpipe_restore(&g);

    /* Apply. Removing a backlog entry never moves another one (a pool), and noting a write only
     * appends to the known table, so every recorded position stays valid. */
    for (uint32_t j = 0; j < nb; j++) {
        const struct batch_item *b = &s->batch[j];
        if (b->res == RES_OK) {
            s->stats.verdicts_written++;
            if (b->is_new)
                s->stats.keys_new++;
            known_note_written(s, &s->entries[b->pos].v, now_ms);
        } else if (b->res == RES_REJECTED) {
            s->stats.verdicts_rejected++;
        } else {
            continue;
        }
        backlog_remove(s, b->pos);
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

    if (!io_ok) {
        sink_fail(s, now_ms, ERR_IO);
        return -EIO;
    }
    if (all == RES_TRANSIENT || all == RES_UNSENT) {
        sink_fail(s, now_ms, ERR_TRANSIENT);
        return -EIO;
    }
    if (all == RES_OOM) {
        /* Redis is full, not gone: keep the connection, keep the data, stop adding new low and
         * medium addresses until the next check says memory is back, and retry next interval. */
        s->stats.over_budget = true;
        s->next_write_ms = now_ms + s->cfg.flush_interval_ms;
        log_errors(s, now_ms, false);
        return -EIO;
    }
    /* A remainder beyond batch_max goes out on the next call, not after another interval. */
    if (write) {
        bool more = nb == s->cfg.batch_max || ne == s->cfg.batch_max || s->refresh_cursor != NIL;
        s->next_write_ms = more ? now_ms : now_ms + s->cfg.flush_interval_ms;
    }
    log_errors(s, now_ms, false);
    return 0;
}

static void tokens_refill(struct redis_sink *s, uint64_t now_ms)
{
    if (!s->cfg.max_keys_per_second)
        return;
    double rate = s->cfg.max_keys_per_second;
    if (now_ms > s->tokens_ms)
        s->tokens += (double)(now_ms - s->tokens_ms) * rate / 1000.0;
    if (s->tokens > rate)
        s->tokens = rate; /* a second's worth of burst */
    s->tokens_ms = now_ms;
}

static int sink_flush(struct redis_sink *s, uint64_t now_ms, bool force)
{
    s->now_ms = now_ms;
    known_purge(s, now_ms);
    tokens_refill(s, now_ms);
    if (!s->ctx) {
        if (now_ms < s->next_attempt_ms) {
            log_errors(s, now_ms, false);
            return -ENOTCONN;
        }
        if (sink_connect(s, now_ms) != 0)
            return -ENOTCONN;
    }
    if (now_ms >= s->next_check_ms && sink_check(s, now_ms) != 0)
        return -ENOTCONN;
    if (s->refresh_cursor == NIL && now_ms >= s->next_refresh_ms) {
        s->refresh_cursor = 0; /* a new round over the known table */
        s->next_refresh_ms = now_ms + s->cfg.refresh_interval_ms;
    }
    bool waiting = s->n || s->ev_count || s->refresh_cursor != NIL;
    bool write = waiting && (force || now_ms >= s->next_write_ms);
    bool prune = s->prune_more || now_ms >= s->next_prune_ms;
    if (!write && !prune)
        return 0;
    return sink_write(s, now_ms, write, prune);
}

int redis_sink_flush(struct redis_sink *s, uint64_t now_ms)
{
    return sink_flush(s, now_ms, false);
}

int redis_sink_flush_now(struct redis_sink *s, uint64_t now_ms)
{
    return sink_flush(s, now_ms, true);
}

bool redis_sink_idle(const struct redis_sink *s)
{
    return s->n == 0 && s->ev_count == 0;
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
    out->shared = s->shared;
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
    if (cfg->backlog_capacity > (1u << 30) || cfg->events_capacity > (1u << 24) ||
        cfg->known_capacity > (1u << 30)) {
        DD_ERROR("redis: backlog (%" PRIu32 "), known addresses (%" PRIu32
                 ") or event queue (%" PRIu32 ") too large",
                 cfg->backlog_capacity, cfg->known_capacity, cfg->events_capacity);
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
    s->cfg.known_capacity = or_default(cfg->known_capacity, 262144);
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
    uint32_t quarter = s->cfg.ttl_s * 250u; /* a refresh round well inside the TTL */
    s->cfg.refresh_interval_ms =
        or_default(cfg->refresh_interval_ms,
                   quarter < REFRESH_DEFAULT_MAX_MS ? quarter : REFRESH_DEFAULT_MAX_MS);
    s->cfg.check_interval_ms = or_default(cfg->check_interval_ms, 1000);
    s->cfg.error_log_interval_ms = or_default(cfg->error_log_interval_ms, 10000);

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

    /* Pool, known table and events are malloc'ed and never cleared: their pages are touched only
     * as they are used (the pool hands out never-used entries in order, after freed ones). */
    s->entries = malloc((size_t)s->cfg.backlog_capacity * sizeof(*s->entries));
    s->known = malloc((size_t)s->cfg.known_capacity * sizeof(*s->known));
    s->events = malloc((size_t)s->cfg.events_capacity * sizeof(*s->events));
    s->refresh_max = s->cfg.batch_max < REFRESH_BATCH_MAX ? s->cfg.batch_max : REFRESH_BATCH_MAX;
    s->batch = malloc((size_t)s->cfg.batch_max * sizeof(*s->batch));
    s->refresh_pos = malloc((size_t)s->refresh_max * sizeof(*s->refresh_pos));
    s->refresh_argv = malloc(((size_t)s->refresh_max * 2 + 5) * sizeof(*s->refresh_argv));
    s->refresh_len = malloc(((size_t)s->refresh_max * 2 + 5) * sizeof(*s->refresh_len));
    s->refresh_text = malloc((size_t)(s->refresh_max + 1) * REFRESH_ARG_BYTES);
    s->eres = malloc(s->cfg.batch_max);
    s->zadd_argv = malloc(((size_t)s->cfg.batch_max * 2 + 2) * sizeof(*s->zadd_argv));
    s->zadd_len = malloc(((size_t)s->cfg.batch_max * 2 + 2) * sizeof(*s->zadd_len));
    s->zadd_text = malloc((size_t)s->cfg.batch_max * ZADD_ARG_BYTES + 128);
    if (!s->zadd_argv || !s->zadd_len || !s->zadd_text || !s->entries || !s->known || !s->events ||
        !s->batch || !s->refresh_pos || !s->refresh_argv || !s->refresh_len || !s->refresh_text ||
        !s->eres || ipmap_init(&s->bidx, s->cfg.backlog_capacity) != 0 ||
        ipmap_init(&s->kidx, s->cfg.known_capacity) != 0)
        goto fail;
    s->free_head = NIL;
    for (int l = 0; l < LEVELS; l++)
        s->head[l] = s->tail[l] = NIL;
    s->refresh_cursor = NIL;

    s->seed = dd_hash_seed(s);
    s->rng = dd_hash_mix64(s->seed ^ 0x5eed);
    s->backoff_ms = s->cfg.backoff_min_ms;
    s->tokens = s->cfg.max_keys_per_second;
    s->next_refresh_ms = 0;

    DD_INFO("redis sink: %s:%u db %u prefix \"%s\" sensor %s ttl %" PRIu32 " s; backlog %" PRIu32
            " verdicts (%.1f MB), %" PRIu32 " known addresses (%.1f MB), %" PRIu32
            " events (%.1f MB); at most %" PRIu32 " new keys/s (0: no cap), memory budget %s",
            s->host, s->cfg.port, s->cfg.db, s->prefix, s->sensor, s->cfg.ttl_s,
            s->cfg.backlog_capacity,
            ((double)s->cfg.backlog_capacity * sizeof(*s->entries) +
             (double)(s->bidx.mask + 1) * sizeof(struct ipmap_slot)) /
                1e6,
            s->cfg.known_capacity,
            ((double)s->cfg.known_capacity * sizeof(*s->known) +
             (double)(s->kidx.mask + 1) * sizeof(struct ipmap_slot)) /
                1e6,
            s->cfg.events_capacity, (double)s->cfg.events_capacity * sizeof(*s->events) / 1e6,
            s->cfg.max_keys_per_second,
            s->cfg.max_memory_mb ? "redis.max_memory_mb" : "90 % of the server's maxmemory");
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
    if (s->entries && s->events && s->batch && (s->n || s->ev_count) && flush_timeout_ms) {
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
    if (s->entries)
        log_errors(s, redis_sink_now_ms(), true);
    if (s->n || s->ev_count)
        DD_WARN("redis: shutting down with %" PRIu32 " verdicts (%" PRIu32 " critical, %" PRIu32
                " high, %" PRIu32 " medium, %" PRIu32 " low) and %" PRIu32 " events not written",
                s->n, s->count[THREAT_CRITICAL], s->count[THREAT_HIGH], s->count[THREAT_MEDIUM],
                s->count[THREAT_LOW], s->ev_count);
    redisFree(s->ctx);
    free(s->entries);
    free(s->known);
    free(s->events);
    free(s->batch);
    free(s->refresh_pos);
    free(s->refresh_argv);
    free(s->refresh_len);
    free(s->refresh_text);
    free(s->eres);
    free(s->zadd_argv);
    free(s->zadd_len);
    free(s->zadd_text);
    free(s->bidx.slot);
    free(s->kidx.slot);
    free(s->host);
    free(s->username);
    free(s->password);
    free(s);
}
