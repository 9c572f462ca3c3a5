/* verdict_store.c - the API's concurrent map from IP address to the latest published verdict
 * (verdict_store.h).
 *
 * Owns: one pool of entry slots (capacity, mapped once so that untouched pages cost nothing
 * until used), the slots' expiry timers (parallel to them) and one pool of cold records for the
 * slots' report fields (see struct vs_slot), the sensor views parallel to the cold records
 * (allocated at the first verdict_store_put_views: only a follower's store has them),
 * VS_STRIPES stripes of bucket heads and expiry-wheel lists each with its own rwlock, and a
 * ring of tombstones with its own mutex. Nothing else is allocated after create except the
 * arrays verdict_store_list and verdict_store_changes return.
 *
 * Threads: none of its own. The verdict stage thread writes (put, release, expire), the API's
 * threads read (get, is_decision, list, changes) and the API's report handler merges. Every
 * function takes the locks it needs; none is held across a call out of this file.
 *
 * DESIGN: an address hashes (keyed with a random seed chosen at create, so nobody can aim many
 * addresses at one stripe or bucket) to a stripe and to a bucket inside it; buckets are singly
 * linked chains of slot indices. A reader takes the stripe's read lock, walks one chain and
 * copies one entry; a writer takes the stripe's write lock for one entry's update, so a reader
 * never waits for more than one short update. The rwlocks prefer writers (glibc's
 * PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) so that 100k reads/s cannot starve the stage.
 * Free slots are shared by all stripes through a free list under pool_lock, taken only when a
 * new address is inserted; the lock order is stripe lock, then pool_lock, then tomb_lock. A
 * full store may evict in another stripe, but only through pthread_rwlock_trywrlock, which never
 * waits and so cannot deadlock two writers.
 *
 * Sequence numbers: every change to an entry (store, replace, merge, removal) takes the next
 * value of `seq` with an atomic increment made while the entry's stripe is write-locked, and a
 * tombstone is pushed before that stripe is unlocked. verdict_store_changes reads `seq` first
 * (c0), then visits every stripe under its read lock, then reads the tombstone ring: any change
 * numbered <= c0 was made by a writer that held its stripe's lock when c0 was read, so the visit
 * of that stripe waited for it and the ring already holds its tombstone. Changes report exactly
 * the changes numbered in (since, c0] and return c0 as next_since, so each change is reported
 * once and none falls between two polls.
 *
 * Reports: an entry remembers the operator reports merged into it (level, role, attack type,
 * score, expiry). The pipeline's verdicts arrive as puts that replace the entry, and the
 * pipeline is free to judge an address low a second after an operator called it critical (it
 * sees only packets); a put therefore re-applies a live report on top of what it writes (and
 * keeps what it wrote as the entry's base), a release leaves the report standing until its own
 * expiry, and the expire pass that finds a report ended puts the base back. Without this, a
 * report answered "recorded" could vanish from /api/check at the next verdict for its address;
 * without the base, every verdict written while a report held would extend the report.
 *
 * Tombstones may reach the ring out of sequence order (two writers in different stripes), so
 * the ring remembers the highest sequence number it has overwritten: a reader whose `since` is
 * below it missed a deletion.
 *
 * Expiry wheel: verdict_store_expire must not scan the store (100,000 entries every second
 * under write locks took 4 % of a core and stalled the API's readers), so each stripe files its
 * entries by their next event, the earlier of expires_ms and a live report's report_until_ms,
 * in a hashed timing wheel of VS_WHEEL lists of 2^VS_TICK_SHIFT ms ticks (the links live in a
 * parallel array, struct vs_timer, 12 bytes an entry, under the stripe lock like the slot). An
 * entry is filed at a tick no later than its event; a write that moves the event later leaves
 * it where it is (no relink on the common path: a verdict republished with a later expiry),
 * one that moves it earlier refiles it. A pass visits the lists of the ticks from the stripe's
 * cursor to now's: a due entry is expired (or its report ended) exactly as a full scan would,
 * one not yet due is refiled at its event, and one filed for a later turn of the wheel is passed
 * over. A pass therefore costs what expires plus about entries / VS_WHEEL per tick, and holds
 * each stripe's write lock only for that stripe's share. Entries are filed at no tick before the
 * stripe's cursor, which never goes back, so after a clock step back whatever is due sits in
 * the cursor's list, which every pass visits.
 *
 * Memory: the slots, cold records, timers and bucket heads are mmap'd with MADV_HUGEPAGE
 * (vs_big_alloc): a lookup touches a random bucket head and a random slot, and with 4 KiB pages
 * each was a TLB miss as well as a cache miss. Pages are still touched only as used.
 *
 * Calls: common/log (at create only). */
#include "verdicts/verdict_store.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/hash.h"
#include "common/log.h"

enum {
    VS_STRIPES = 64, /* power of two */
    VS_STRIPE_BITS = 6,
    VS_SAMPLE = 8, /* entries of the stripe looked at for eviction when full */
    VS_TOMBSTONES_DEFAULT = 65536,
    VS_MAX_CAPACITY = 1u << 28,
    VS_WHEEL = 512,     /* timer lists per stripe (power of two): 512 ticks, about 8.7 min */
    VS_TICK_SHIFT = 10, /* a tick is 1024 ms: the stage expires once a second */
};
#define VS_NONE UINT32_MAX

/* A slot holds the hot prefix of struct verdict_store_entry (the verdict, its expiry and the
 * decision bookkeeping: every entry has them), laid out as there, so one memcpy of VS_HOT bytes
 * moves it either way. The rest (the report and the pipeline's verdict under it: zero unless
 * an operator report was ever merged) lives in a cold record taken at the first non-zero
 * write and given back when it is all zero again or the slot is freed. */
struct vs_slot {
    struct verdict v;
    uint64_t expires_ms, seq;
    uint64_t decision_seq, decision_prev, decision_since, decision_until_ms;
    uint32_t next; /* chain of the bucket, or the free list */
    /* 1 + index of its cold record (0: none: the cold fields are all zero), and VS_VIEWS_BIT
     * when the entry carries sensor views, which live in views[that index] (so a slot with
     * views always has a cold record; see verdict_store_put_views). */
    uint32_t cold;
};
#define VS_VIEWS_BIT 0x80000000u /* capacity <= 2^28: the index never reaches it */
#define VS_HOT       offsetof(struct verdict_store_entry, report_until_ms)
#define VS_COLD      (sizeof(struct verdict_store_entry) - VS_HOT)
_Static_assert(offsetof(struct vs_slot, next) == VS_HOT &&
                   offsetof(struct vs_slot, expires_ms) ==
                       offsetof(struct verdict_store_entry, expires_ms) &&
                   offsetof(struct vs_slot, decision_until_ms) ==
                       offsetof(struct verdict_store_entry, decision_until_ms),
               "vs_slot's hot part must be laid out as verdict_store_entry's prefix");

_Static_assert(sizeof(struct vs_slot) == 328, "the hot slot is the store's per-entry cost: "
                                              "docs/performance.md");
_Static_assert(VS_MAX_CAPACITY < VS_VIEWS_BIT, "a cold index must leave VS_VIEWS_BIT free");
_Static_assert(sizeof(struct verdict_views) == 776, "verdict_store.h states the views' size");

struct vs_cold {
    _Alignas(8) unsigned char b[VS_COLD];
};
static const struct vs_cold vs_cold_zero;

/* Slot i's place in its stripe's expiry wheel (see DESIGN), guarded like the slot. */
struct vs_timer {
    uint32_t prev, next; /* the tick's list (VS_NONE: none) */
    uint32_t at;         /* 1 + the tick it is filed at (saturated), 0: not filed */
};

struct vs_stripe {
    pthread_rwlock_t lock;
    uint32_t *heads;    /* nbuckets chain heads (VS_NONE: empty); guarded by lock */
    uint32_t *wheel;    /* VS_WHEEL timer lists (VS_NONE: empty); guarded by lock */
    uint32_t wheel_cur; /* ticks before it were expired; nothing is filed before it; lock */
    uint32_t wheel_end; /* the last tick the latest pass went to; lock */
} DD_ALIGNED_CL;

struct verdict_store {
    struct vs_stripe *stripes; /* VS_STRIPES */
    uint32_t *heads;           /* VS_STRIPES * nbuckets, the stripes' heads */
    uint32_t bmask;            /* nbuckets - 1 */
    struct vs_slot *slots;     /* a slot belongs to the stripe whose chain holds it */
    struct vs_timer *timers;   /* capacity, parallel to slots */
    uint32_t *wheels;          /* VS_STRIPES * VS_WHEEL, the stripes' timer lists */
    size_t heads_bytes, slots_bytes, timers_bytes, colds_bytes; /* vs_big_alloc'd */
    uint32_t capacity;
    uint64_t seed;
    unsigned decision_levels; /* enum config_level_bits */
    unsigned decision_roles;  /* bit per enum verdict_role */

    /* Free slots: the list, then the never-used tail [high, capacity). Guarded by pool_lock,
     * as are the cold records' free stack and tail (a cold record's bytes are guarded by the
     * stripe lock of the slot that holds it). */
    pthread_mutex_t pool_lock;
    uint32_t free_head, high;
    struct vs_cold *colds; /* capacity records: a slot holds at most one */
    uint32_t *cold_free, cold_nfree, cold_high;
    /* Sensor views, parallel to colds (a slot's views sit at its cold record's index):
     * allocated at the first put_views (a sensor without a follower never has any), then
     * touched as used. Written once under pool_lock; read only through a slot whose
     * VS_VIEWS_BIT was set after it, under the same stripe lock. */
    struct verdict_views *_Atomic views;

    /* Tombstone ring: entry i of the stream lives at tombs[i % tomb_cap]. Guarded by tomb_lock. */
    pthread_mutex_t tomb_lock;
    struct verdict_store_tombstone *tombs;
    uint32_t tomb_cap;
    uint64_t tomb_head;     /* tombstones written so far */
    uint64_t tomb_lost_max; /* the highest seq of an overwritten tombstone */

    /* Counters: written under a stripe lock (or the tomb lock), read by stats_get without
     * locks, so relaxed atomics. seq is the exception: see DESIGN. */
    atomic_uint_fast64_t seq;
    atomic_uint_fast64_t entries, puts, full_drops, expired, removed, decisions, tomb_lost;
    atomic_uint_fast64_t expire_visited;
    atomic_uint_fast64_t wheel_rebases; /* vs_wheel_rebase_locked calls, all stripes */
    atomic_uint_fast32_t expire_cursor; /* the stripe the next expire pass starts at */
    pthread_mutex_t expire_lock;        /* one expire at a time (the cursor) */
};

/* ---- hashing and lookup ------------------------------------------------------------------ */

struct vs_pos {
    struct vs_stripe *st;
    uint32_t bucket;
};

static inline struct vs_pos vs_locate(const struct verdict_store *s, const uint8_t ip[16],
                                      uint8_t ver)
{
    uint64_t h = dd_hash_addr(s->seed, ip, ver); /* keyed: see common/hash.h */
    struct vs_pos p = {&s->stripes[h & (VS_STRIPES - 1)],
                       (uint32_t)(h >> VS_STRIPE_BITS) & s->bmask};
    return p;
}

static inline bool vs_key_eq(const struct verdict *v, const uint8_t ip[16], uint8_t ver)
{
    return v->ip_version == ver && memcmp(v->ip, ip, 16) == 0;
}

/* The slot of an address in its chain, VS_NONE when absent; *prev gets its predecessor. Caller
 * holds the stripe's lock (either mode). */
static uint32_t vs_find_locked(const struct verdict_store *s, struct vs_pos p, const uint8_t ip[16],
                               uint8_t ver, uint32_t *prev)
{
    uint32_t pr = VS_NONE;
    for (uint32_t i = p.st->heads[p.bucket]; i != VS_NONE; i = s->slots[i].next) {
        if (vs_key_eq(&s->slots[i].v, ip, ver)) {
            if (prev)
                *prev = pr;
            return i;
        }
        pr = i;
    }
    return VS_NONE;
}

/* vs_find_locked for a reader that copies the entry out: each slot of the chain is prefetched
 * whole as soon as its index is known, so its cache misses overlap with the key compare's
 * instead of following it one by one. */
static inline uint32_t vs_find_copy_locked(const struct verdict_store *s, struct vs_pos p,
                                           const uint8_t ip[16], uint8_t ver)
{
    for (uint32_t i = p.st->heads[p.bucket]; i != VS_NONE; i = s->slots[i].next) {
        const char *a = (const char *)&s->slots[i];
        for (size_t o = 0; o < sizeof(struct vs_slot); o += DD_CACHELINE)
            __builtin_prefetch(a + o);
        __builtin_prefetch(a + sizeof(struct vs_slot) - 1);
        if (vs_key_eq(&s->slots[i].v, ip, ver))
            return i;
    }
    return VS_NONE;
}

bool verdict_store_verdict_is_decision(const struct verdict_store *s, const struct verdict *v)
{
    return v->level < 4 && v->role < 2 && ((s->decision_levels >> v->level) & 1u) &&
           ((s->decision_roles >> v->role) & 1u);
}

static inline bool vs_is_dec(const struct verdict_store *s, const struct verdict_store_entry *e)
{
    return verdict_store_verdict_is_decision(s, &e->v);
}

/* ---- big arrays ---------------------------------------------------------------------------- */

#define VS_HUGE ((size_t)2 << 20)

/* size bytes of zeroed memory, touched only as used; at least VS_HUGE of it is 2 MiB-aligned and
 * asks for transparent huge pages (see DESIGN: Memory). NULL when mmap fails. */
static void *vs_big_alloc(size_t size)
{
    if (size < VS_HUGE) {
        void *p =
            mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    size_t len = (size + VS_HUGE - 1) & ~(VS_HUGE - 1);
    unsigned char *p =
        mmap(NULL, len + VS_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    size_t head = (VS_HUGE - ((uintptr_t)p & (VS_HUGE - 1))) & (VS_HUGE - 1);
    if (head)
        munmap(p, head);
    if (VS_HUGE - head)
        munmap(p + head + len, VS_HUGE - head);
#ifdef MADV_HUGEPAGE
    (void)madvise(p + head, len, MADV_HUGEPAGE); /* a hint: without THP it stays 4 KiB pages */
#endif
    return p + head;
}

static void vs_big_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    munmap(p, size < VS_HUGE ? (size ? size : 1) : (size + VS_HUGE - 1) & ~(VS_HUGE - 1));
}

/* ---- hot slots and cold records ------------------------------------------------------------ */

/* Copies slot sl's entry, cold fields included, into *out. Caller holds its stripe's lock. */
/* 1 + the index of sl's cold record, 0 when it has none. */
static inline uint32_t vs_cold_of(const struct vs_slot *sl)
{
    return sl->cold & ~VS_VIEWS_BIT;
}

static void vs_load(const struct verdict_store *s, const struct vs_slot *sl,
                    struct verdict_store_entry *out)
{
    uint32_t c = vs_cold_of(sl);
    memcpy(out, sl, VS_HOT);
    memcpy((unsigned char *)out + VS_HOT, c ? &s->colds[c - 1] : &vs_cold_zero, VS_COLD);
}

/* Gives back sl's cold record, and with it its views. */
static void vs_cold_release(struct verdict_store *s, struct vs_slot *sl)
{
    uint32_t c = vs_cold_of(sl);
    sl->cold = 0;
    if (!c)
        return;
    pthread_mutex_lock(&s->pool_lock);
    s->cold_free[s->cold_nfree++] = c - 1;
    pthread_mutex_unlock(&s->pool_lock);
}

/* Takes a cold record for sl when it has none (its bytes zeroed). Never fails: there are as
 * many cold records as slots. */
static void vs_cold_take(struct verdict_store *s, struct vs_slot *sl)
{
    if (vs_cold_of(sl))
        return;
    pthread_mutex_lock(&s->pool_lock);
    uint32_t k = s->cold_nfree ? s->cold_free[--s->cold_nfree] : s->cold_high++;
    pthread_mutex_unlock(&s->pool_lock);
    memset(&s->colds[k], 0, sizeof(s->colds[k]));
    sl->cold = (sl->cold & VS_VIEWS_BIT) | (k + 1);
}

/* Writes *e into slot sl: the hot part in place, the cold part into its cold record (taken when
 * it becomes non-zero, released when it is zero again). Never fails: there are as many cold
 * records as slots. Caller holds the slot's stripe write lock. */
static void vs_save_locked(struct verdict_store *s, struct vs_slot *sl,
                           const struct verdict_store_entry *e)
{
    memcpy(sl, e, VS_HOT);
    const unsigned char *tail = (const unsigned char *)e + VS_HOT;
    if (memcmp(tail, &vs_cold_zero, VS_COLD) == 0) {
        if (sl->cold & VS_VIEWS_BIT)
            memset(&s->colds[vs_cold_of(sl) - 1], 0, VS_COLD); /* kept for the views */
        else
            vs_cold_release(s, sl);
        return;
    }
    vs_cold_take(s, sl);
    memcpy(&s->colds[vs_cold_of(sl) - 1], tail, VS_COLD);
}

/* Sets (views with n > 0) or clears sl's sensor views. Returns 0, or -ENOMEM when the views
 * array could not be allocated (sl then has none). Caller holds the slot's stripe write lock. */
static int vs_views_set_locked(struct verdict_store *s, struct vs_slot *sl,
                               const struct verdict_views *views)
{
    if (!views || views->n == 0) {
        if (!(sl->cold & VS_VIEWS_BIT))
            return 0;
        sl->cold &= ~VS_VIEWS_BIT;
        if (memcmp(&s->colds[vs_cold_of(sl) - 1], &vs_cold_zero, VS_COLD) == 0)
            vs_cold_release(s, sl);
        return 0;
    }
    struct verdict_views *arr = atomic_load_explicit(&s->views, memory_order_acquire);
    if (!arr) {
        /* Once per store, at the follower's first verdict: calloc'd, so only the records
         * used are ever touched. */
        pthread_mutex_lock(&s->pool_lock);
        arr = atomic_load_explicit(&s->views, memory_order_relaxed);
        if (!arr) {
            arr = calloc(s->capacity, sizeof(*arr));
            atomic_store_explicit(&s->views, arr, memory_order_release);
        }
        pthread_mutex_unlock(&s->pool_lock);
        if (!arr) {
            (void)vs_views_set_locked(s, sl, NULL);
            return -ENOMEM;
        }
    }
    vs_cold_take(s, sl);
    struct verdict_views *w = &arr[vs_cold_of(sl) - 1];
    memcpy(w, views, sizeof(*w)); /* padding too: readers compare views with memcmp */
    if (w->n > VERDICT_VIEWS_MAX) {
        w->omitted += w->n - VERDICT_VIEWS_MAX;
        w->n = VERDICT_VIEWS_MAX;
    }
    sl->cold |= VS_VIEWS_BIT;
    return 0;
}

/* ---- the expiry wheel (see DESIGN) --------------------------------------------------------- */

#define VS_TICK_MAX (UINT32_MAX - 1u)

/* The tick of a CLOCK_REALTIME millisecond, saturated (2109 and later share the last one). */
static inline uint32_t vs_tick(uint64_t ms)
{
    uint64_t t = ms >> VS_TICK_SHIFT;
    return t > VS_TICK_MAX ? VS_TICK_MAX : (uint32_t)t;
}

/* An entry's next event: its expiry, or its live report's end when that comes first. */
static inline uint64_t vs_event_ms(const struct verdict_store_entry *e)
{
    return e->report_until_ms && e->report_until_ms < e->expires_ms ? e->report_until_ms
                                                                    : e->expires_ms;
}

/* vs_event_ms of a slot, reading only its report_until_ms from the cold record. */
static uint64_t vs_slot_event(const struct verdict_store *s, const struct vs_slot *sl)
{
    uint64_t ev = sl->expires_ms, until;
    uint32_t c = vs_cold_of(sl);
    if (c) {
        memcpy(&until,
               s->colds[c - 1].b + offsetof(struct verdict_store_entry, report_until_ms) - VS_HOT,
               sizeof(until));
        if (until && until < ev)
            ev = until;
    }
    return ev;
}

static void vs_timer_unlink_locked(struct verdict_store *s, struct vs_stripe *st, uint32_t i)
{
    struct vs_timer *t = &s->timers[i];
    if (t->at == 0)
        return;
    if (t->prev == VS_NONE)
        st->wheel[(t->at - 1) & (VS_WHEEL - 1)] = t->next;
    else
        s->timers[t->prev].next = t->next;
    if (t->next != VS_NONE)
        s->timers[t->next].prev = t->prev;
    t->at = 0;
}

/* Files slot i (in stripe st) for an event at event_ms: at its tick, never before the stripe's
 * cursor. One already filed no later stays where it is (it is visited in time, then refiled).
 * Caller holds st's write lock. */
static void vs_timer_file_locked(struct verdict_store *s, struct vs_stripe *st, uint32_t i,
                                 uint64_t event_ms)
{
    uint32_t tick = vs_tick(event_ms);
    if (tick < st->wheel_cur)
        tick = (uint32_t)st->wheel_cur;
    struct vs_timer *t = &s->timers[i];
    if (t->at != 0 && t->at - 1 <= tick)
        return;
    vs_timer_unlink_locked(s, st, i);
    uint32_t *list = &st->wheel[tick & (VS_WHEEL - 1)];
    t->at = tick + 1;
    t->prev = VS_NONE;
    t->next = *list;
    if (*list != VS_NONE)
        s->timers[*list].prev = i;
    *list = i;
}

/* ---- create / destroy ---------------------------------------------------------------------- */

struct verdict_store *verdict_store_create(uint32_t capacity, uint32_t tombstones,
                                           const struct verdict_store_decisions *dec)
{
    if (capacity == 0 || capacity > VS_MAX_CAPACITY) {
        DD_ERROR("verdict store: capacity must be 1..%u, got %u", (unsigned)VS_MAX_CAPACITY,
                 (unsigned)capacity);
        return NULL;
    }
    uint32_t nb = 4; /* buckets per stripe: about one entry per bucket when full */
    while ((uint64_t)nb * VS_STRIPES < capacity)
        nb <<= 1;
    uint32_t ntomb = tombstones ? tombstones : VS_TOMBSTONES_DEFAULT;
    size_t stripes_init = 0;
    bool pool_init = false, tomb_init = false, expire_init = false;

    struct verdict_store *s = calloc(1, sizeof(*s));
    if (!s)
        goto fail;
    s->capacity = capacity;
    s->bmask = nb - 1;
    s->decision_levels = dec ? dec->levels & 0xfu : (1u << THREAT_HIGH) | (1u << THREAT_CRITICAL);
    s->decision_roles = dec ? dec->roles & 0x3u : 1u << VERDICT_ROLE_ATTACKER;
    s->tomb_cap = ntomb;
    s->free_head = VS_NONE;
    s->stripes = aligned_alloc(DD_CACHELINE, VS_STRIPES * sizeof(*s->stripes));
    s->heads_bytes = (size_t)VS_STRIPES * nb * sizeof(*s->heads);
    s->slots_bytes = (size_t)capacity * sizeof(*s->slots);
    s->timers_bytes = (size_t)capacity * sizeof(*s->timers);
    s->colds_bytes = (size_t)capacity * sizeof(*s->colds);
    s->heads = vs_big_alloc(s->heads_bytes);
    s->slots = vs_big_alloc(s->slots_bytes);
    s->timers = vs_big_alloc(s->timers_bytes);
    s->colds = vs_big_alloc(s->colds_bytes);
    s->wheels = malloc((size_t)VS_STRIPES * VS_WHEEL * sizeof(*s->wheels));
    s->cold_free = malloc((size_t)capacity * sizeof(*s->cold_free));
    s->tombs = calloc(ntomb, sizeof(*s->tombs));
    if (!s->stripes || !s->heads || !s->slots || !s->timers || !s->colds || !s->wheels ||
        !s->cold_free || !s->tombs)
        goto fail;
    memset(s->heads, 0xff, s->heads_bytes);
    memset(s->wheels, 0xff, (size_t)VS_STRIPES * VS_WHEEL * sizeof(*s->wheels));

    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0)
        goto fail;
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    for (; stripes_init < VS_STRIPES; stripes_init++) {
        struct vs_stripe *st = &s->stripes[stripes_init];
        st->heads = s->heads + stripes_init * nb;
        st->wheel = s->wheels + stripes_init * VS_WHEEL;
        st->wheel_cur = st->wheel_end = 0;
        if (pthread_rwlock_init(&st->lock, &attr) != 0)
            break;
    }
    pthread_rwlockattr_destroy(&attr);
    if (stripes_init < VS_STRIPES)
        goto fail;
    pool_init = pthread_mutex_init(&s->pool_lock, NULL) == 0;
    tomb_init = pthread_mutex_init(&s->tomb_lock, NULL) == 0;
    expire_init = pthread_mutex_init(&s->expire_lock, NULL) == 0;
    if (!pool_init || !tomb_init || !expire_init)
        goto fail;
    s->seed = dd_hash_seed(s);

    char levels[48] = "", roles[24] = "";
    for (unsigned l = 0; l < 4; l++)
        if ((s->decision_levels >> l) & 1u)
            snprintf(levels + strlen(levels), sizeof(levels) - strlen(levels), "%s%s",
                     levels[0] ? "," : "", threat_level_name((enum threat_level)l));
    for (unsigned r = 0; r < 2; r++)
        if ((s->decision_roles >> r) & 1u)
            snprintf(roles + strlen(roles), sizeof(roles) - strlen(roles), "%s%s",
                     roles[0] ? "," : "", verdict_role_name((enum verdict_role)r));
    DD_INFO("verdict store: %u entries (%zu MiB reserved, touched as used), %u tombstones, "
            "%u stripes; decisions: levels [%s], roles [%s]",
            (unsigned)capacity, ((size_t)capacity * sizeof(struct vs_slot)) >> 20, (unsigned)ntomb,
            (unsigned)VS_STRIPES, levels, roles);
    return s;
fail:
    DD_ERROR("verdict store: cannot allocate %u entries and %u tombstones", (unsigned)capacity,
             (unsigned)ntomb);
    if (s) {
        for (size_t i = 0; i < stripes_init; i++)
            pthread_rwlock_destroy(&s->stripes[i].lock);
        if (pool_init)
            pthread_mutex_destroy(&s->pool_lock);
        if (tomb_init)
            pthread_mutex_destroy(&s->tomb_lock);
        if (expire_init)
            pthread_mutex_destroy(&s->expire_lock);
        free(s->stripes);
        vs_big_free(s->heads, s->heads_bytes);
        vs_big_free(s->slots, s->slots_bytes);
        vs_big_free(s->timers, s->timers_bytes);
        vs_big_free(s->colds, s->colds_bytes);
        free(s->wheels);
        free(s->cold_free);
        free(s->tombs);
        free(s);
    }
    return NULL;
}

void verdict_store_destroy(struct verdict_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < VS_STRIPES; i++)
        pthread_rwlock_destroy(&s->stripes[i].lock);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->tomb_lock);
    pthread_mutex_destroy(&s->expire_lock);
    free(s->stripes);
    vs_big_free(s->heads, s->heads_bytes);
    vs_big_free(s->slots, s->slots_bytes);
    vs_big_free(s->timers, s->timers_bytes);
    vs_big_free(s->colds, s->colds_bytes);
    free(s->wheels);
    free(s->cold_free);
    free(atomic_load(&s->views));
    free(s->tombs);
    free(s);
}

/* ---- writers' helpers (stripe write-locked) ---------------------------------------------- */

static inline uint64_t vs_next_seq(struct verdict_store *s)
{
    /* Pairs with the acquire load in verdict_store_changes: the writer holds the stripe lock. */
    return atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel) + 1;
}

static void vs_tomb_push(struct verdict_store *s, const struct verdict *v, uint64_t seq)
{
    pthread_mutex_lock(&s->tomb_lock);
    struct verdict_store_tombstone *t = &s->tombs[s->tomb_head % s->tomb_cap];
    if (s->tomb_head >= s->tomb_cap) {
        if (t->seq > s->tomb_lost_max)
            s->tomb_lost_max = t->seq;
        atomic_fetch_add_explicit(&s->tomb_lost, 1, memory_order_relaxed);
    }
    memcpy(t->ip, v->ip, 16);
    t->ip_version = v->ip_version;
    t->seq = seq;
    s->tomb_head++;
    pthread_mutex_unlock(&s->tomb_lock);
}

static uint32_t vs_slot_alloc(struct verdict_store *s)
{
    uint32_t i = VS_NONE;
    pthread_mutex_lock(&s->pool_lock);
    if (s->free_head != VS_NONE) {
        i = s->free_head;
        s->free_head = s->slots[i].next;
    } else if (s->high < s->capacity) {
        i = s->high++;
    }
    pthread_mutex_unlock(&s->pool_lock);
    return i;
}

static void vs_slot_free(struct verdict_store *s, uint32_t i)
{
    vs_cold_release(s, &s->slots[i]);
    pthread_mutex_lock(&s->pool_lock);
    s->slots[i].next = s->free_head;
    s->free_head = i;
    pthread_mutex_unlock(&s->pool_lock);
}

/* Takes slot i (prev its predecessor in bucket b) out of its chain and its timer list and
 * records the removal: a sequence number, and a tombstone when the entry was a decision. Does
 * not free the slot. */
static void vs_unlink_locked(struct verdict_store *s, struct vs_stripe *st, uint32_t b, uint32_t i,
                             uint32_t prev)
{
    struct vs_slot *sl = &s->slots[i];
    if (prev == VS_NONE)
        st->heads[b] = sl->next;
    else
        s->slots[prev].next = sl->next;
    vs_timer_unlink_locked(s, st, i);
    uint64_t seq = vs_next_seq(s);
    if (verdict_store_verdict_is_decision(s, &sl->v)) {
        vs_tomb_push(s, &sl->v, seq);
        atomic_fetch_sub_explicit(&s->decisions, 1, memory_order_relaxed);
    }
    atomic_fetch_sub_explicit(&s->entries, 1, memory_order_relaxed);
}

/* Samples up to *budget entries of a write-locked stripe from bucket `from` on and frees the
 * first expired one, else the lowest level strictly below `level` (ties: the one expiring
 * first). Returns the freed slot or VS_NONE. */
static uint32_t vs_evict_in_locked(struct verdict_store *s, struct vs_stripe *st, uint32_t from,
                                   uint8_t level, uint64_t now_ms, uint32_t *budget)
{
    uint32_t best = VS_NONE, best_prev = VS_NONE, best_b = 0;
    bool best_expired = false;
    for (uint32_t k = 0; k <= s->bmask && *budget && !best_expired; k++) {
        uint32_t b = (from + k) & s->bmask, prev = VS_NONE;
        for (uint32_t i = st->heads[b]; i != VS_NONE && *budget; prev = i, i = s->slots[i].next) {
            const struct vs_slot *e = &s->slots[i];
            --*budget;
            if (e->expires_ms <= now_ms) {
                best = i, best_prev = prev, best_b = b, best_expired = true;
                break;
            }
            if (e->v.level >= level)
                continue;
            if (best == VS_NONE || e->v.level < s->slots[best].v.level ||
                (e->v.level == s->slots[best].v.level && e->expires_ms < s->slots[best].expires_ms))
                best = i, best_prev = prev, best_b = b;
        }
    }
    if (best == VS_NONE)
        return VS_NONE;
    vs_unlink_locked(s, st, best_b, best, best_prev);
    atomic_fetch_add_explicit(best_expired ? &s->expired : &s->full_drops, 1, memory_order_relaxed);
    return best;
}

/* Full store: frees one entry for a new address of level `level` among VS_SAMPLE sampled: in
 * the caller's (write-locked) stripe first, then in the following stripes whose lock is free
 * at once (trylock: no lock order to break, no waiting). Returns the freed slot or VS_NONE. */
static uint32_t vs_evict_locked(struct verdict_store *s, struct vs_stripe *own, uint32_t from,
                                uint8_t level, uint64_t now_ms)
{
    uint32_t budget = VS_SAMPLE;
    uint32_t i = vs_evict_in_locked(s, own, from, level, now_ms, &budget);
    size_t k0 = (size_t)(own - s->stripes);
    for (size_t k = 1; k < VS_STRIPES && i == VS_NONE && budget; k++) {
        struct vs_stripe *st = &s->stripes[(k0 + k) % VS_STRIPES];
        if (pthread_rwlock_trywrlock(&st->lock) != 0)
            continue;
        i = vs_evict_in_locked(s, st, from, level, now_ms, &budget);
        pthread_rwlock_unlock(&st->lock);
    }
    return i;
}

/* Merges v into e (an operator report raising a live entry); see verdict_store_merge. */
static void vs_merge_into(struct verdict_store_entry *e, const struct verdict *v,
                          uint64_t expires_ms)
{
    struct verdict *m = &e->v;
    bool higher = v->level > m->level;
    if ((higher || m->attack_type[0] == '\0') && v->attack_type[0] != '\0')
        memcpy(m->attack_type, v->attack_type, sizeof(m->attack_type));
    if (higher) {
        m->level = v->level;
        m->role = v->role; /* the role whose level the entry now has, as the verdict table does */
    }
    if (v->spoofed_sources > m->spoofed_sources) {
        m->spoofed_sources = v->spoofed_sources;
        memcpy(m->spoofed_example_ver, v->spoofed_example_ver, sizeof(m->spoofed_example_ver));
        memcpy(m->spoofed_example, v->spoofed_example, sizeof(m->spoofed_example));
    }
    if (v->score > m->score)
        m->score = v->score;
    m->reasons |= v->reasons;
    if (v->last_seen_us > m->last_seen_us)
        m->last_seen_us = v->last_seen_us;
    if (expires_ms > e->expires_ms)
        e->expires_ms = expires_ms;
}

/* Remembers e's current verdict as the pipeline's own (see base_* in verdict_store.h). */
static void vs_note_base(struct verdict_store_entry *e)
{
    e->base_expires_ms = e->expires_ms;
    e->base_score = e->v.score;
    e->base_reasons = e->v.reasons;
    e->base_level = e->v.level;
    e->base_role = e->v.role;
    memcpy(e->base_attack_type, e->v.attack_type, sizeof(e->base_attack_type));
}

/* Raises e by its live report (see verdict_store_put): the report's level, role and attack type
 * when they are higher, its score, VERDICT_REASON_REPORT, and an expiry no earlier than its. */
static void vs_apply_report(struct verdict_store_entry *e)
{
    struct verdict *m = &e->v;
    bool higher = e->report_level > m->level;
    if ((higher || m->attack_type[0] == '\0') && e->report_attack_type[0] != '\0')
        memcpy(m->attack_type, e->report_attack_type, sizeof(m->attack_type));
    if (higher) {
        m->level = e->report_level;
        m->role = e->report_role;
    }
    if (e->report_score > m->score)
        m->score = e->report_score;
    m->reasons |= VERDICT_REASON_REPORT;
    if (e->report_until_ms > e->expires_ms)
        e->expires_ms = e->report_until_ms;
}

/* Remembers report v (valid until expires_ms) in e; a live earlier report keeps the higher
 * level (with its role and attack type) and the later expiry. */
static void vs_note_report(struct verdict_store_entry *e, const struct verdict *v,
                           uint64_t expires_ms, bool live)
{
    if (!live || v->level > e->report_level) {
        e->report_level = v->level;
        e->report_role = v->role;
        memcpy(e->report_attack_type, v->attack_type, sizeof(e->report_attack_type));
    } else if (e->report_attack_type[0] == '\0') {
        memcpy(e->report_attack_type, v->attack_type, sizeof(e->report_attack_type));
    }
    if (!live || v->score > e->report_score)
        e->report_score = v->score;
    if (!live || expires_ms > e->report_until_ms)
        e->report_until_ms = expires_ms;
}

/* Gives e its next sequence number and keeps the decision bookkeeping (the decision_* fields,
 * the count, a tombstone when it stops being one). old_type: e's attack type before the
 * change. Caller holds e's stripe write lock. */
static void vs_changed_locked(struct verdict_store *s, struct verdict_store_entry *e, bool was_dec,
                              const char *old_type)
{
    e->seq = vs_next_seq(s);
    bool is_dec = vs_is_dec(s, e);
    if (was_dec && !is_dec)
        vs_tomb_push(s, &e->v, e->seq);
    if (!is_dec) {
        e->decision_seq = e->decision_prev = e->decision_since = e->decision_until_ms = 0;
    } else if (!was_dec || e->decision_seq == 0) {
        e->decision_seq = e->decision_since = e->seq;
        e->decision_prev = 0;
        e->decision_until_ms = e->expires_ms;
    } else if (strncmp(old_type, e->v.attack_type, VERDICT_ATTACK_TYPE_MAX) != 0 ||
               e->expires_ms > e->decision_until_ms + VERDICT_STORE_EXTEND_SLACK_MS ||
               e->expires_ms < e->decision_until_ms) {
        e->decision_prev = e->decision_seq; /* a new version of the same ban */
        e->decision_seq = e->seq;
        e->decision_until_ms = e->expires_ms;
    }
    if (was_dec != is_dec)
        atomic_fetch_add_explicit(&s->decisions, is_dec ? 1 : (uint64_t)-1, memory_order_relaxed);
}

/* put (report false) and merge (report true): see verdict_store.h. set_views: put_views (the
 * entry's views become *views, or none when views is NULL); otherwise they are kept. */
static int vs_store(struct verdict_store *s, const struct verdict *v, uint64_t expires_ms,
                    bool report, struct verdict_store_entry *out, bool set_views,
                    const struct verdict_views *views)
{
    if (!v || (v->ip_version != 4 && v->ip_version != 6))
        return -EINVAL;
    uint64_t now_ms = verdict_store_now_ms();
    struct vs_pos p = vs_locate(s, v->ip, v->ip_version);
    pthread_rwlock_wrlock(&p.st->lock);
    uint32_t i = vs_find_locked(s, p, v->ip, v->ip_version, NULL);
    bool was_dec = false, live = false, live_report = false;
    struct verdict_store_entry ent; /* the entry's working copy, saved back at the end */
    if (i == VS_NONE) {
        i = vs_slot_alloc(s);
        if (i == VS_NONE)
            i = vs_evict_locked(s, p.st, p.bucket, v->level, now_ms);
        if (i == VS_NONE) {
            atomic_fetch_add_explicit(&s->full_drops, 1, memory_order_relaxed);
            pthread_rwlock_unlock(&p.st->lock);
            return -ENOSPC;
        }
        s->slots[i].next = p.st->heads[p.bucket];
        p.st->heads[p.bucket] = i;
        atomic_fetch_add_explicit(&s->entries, 1, memory_order_relaxed);
        /* A reused slot (an evicted one) keeps its last tenant's cold record: start clean. */
        vs_cold_release(s, &s->slots[i]);
        memset(&ent, 0, sizeof(ent));
    } else {
        vs_load(s, &s->slots[i], &ent);
        const struct verdict_store_entry *old = &ent;
        was_dec = vs_is_dec(s, old);
        live = old->expires_ms > now_ms; /* not live: the new version stands alone */
        live_report = live && old->report_until_ms > now_ms;
    }
    struct verdict_store_entry *e = &ent;
    char old_type[VERDICT_ATTACK_TYPE_MAX];
    memcpy(old_type, e->v.attack_type, sizeof(old_type));
    if (report && live) {
        if (!live_report)
            vs_note_base(e); /* the entry is the pipeline's alone: what comes back after */
        vs_merge_into(e, v, expires_ms);
    } else {
        e->v = *v;
        e->expires_ms = expires_ms;
    }
    if (report) {
        if (!live)
            e->base_expires_ms = 0; /* a report alone: nothing of the pipeline's under it */
        vs_note_report(e, v, expires_ms, live_report);
    } else if (live_report) {
        vs_note_base(e);
        vs_apply_report(e); /* the pipeline's verdict cannot lower a live report */
    } else {
        e->report_until_ms = 0;
    }
    vs_changed_locked(s, e, was_dec, old_type);
    vs_save_locked(s, &s->slots[i], e);
    vs_timer_file_locked(s, p.st, i, vs_event_ms(e));
    /* A plain put keeps the views (the follower's, beside a local verdict) unless the entry
     * had expired: they explained a version that is gone. */
    int rc = set_views || !live ? vs_views_set_locked(s, &s->slots[i], views) : 0;
    atomic_fetch_add_explicit(&s->puts, 1, memory_order_relaxed);
    if (out)
        *out = *e;
    pthread_rwlock_unlock(&p.st->lock);
    return rc;
}

int verdict_store_put(struct verdict_store *s, const struct verdict *v, uint64_t expires_ms)
{
    return vs_store(s, v, expires_ms, false, NULL, false, NULL);
}

int verdict_store_put_views(struct verdict_store *s, const struct verdict *v, uint64_t expires_ms,
                            const struct verdict_views *views)
{
    return vs_store(s, v, expires_ms, false, NULL, true, views);
}

int verdict_store_set_views(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                            const struct verdict_views *views)
{
    struct vs_pos p = vs_locate(s, ip, ip_version);
    pthread_rwlock_wrlock(&p.st->lock);
    uint32_t i = vs_find_locked(s, p, ip, ip_version, NULL);
    int rc = i == VS_NONE ? -ENOENT : vs_views_set_locked(s, &s->slots[i], views);
    pthread_rwlock_unlock(&p.st->lock);
    return rc;
}

int verdict_store_merge(struct verdict_store *s, const struct verdict *v, uint64_t expires_ms,
                        struct verdict_store_entry *out)
{
    return vs_store(s, v, expires_ms, true, out, false, NULL);
}

static bool vs_remove(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                      bool keep_report)
{
    struct vs_pos p = vs_locate(s, ip, ip_version);
    uint64_t now_ms = verdict_store_now_ms();
    pthread_rwlock_wrlock(&p.st->lock);
    uint32_t prev = VS_NONE;
    uint32_t i = vs_find_locked(s, p, ip, ip_version, &prev);
    struct verdict_store_entry ent, *e = NULL;
    if (i != VS_NONE) {
        vs_load(s, &s->slots[i], &ent);
        e = &ent;
    }
    if (keep_report && e && e->report_until_ms > now_ms && e->expires_ms > now_ms) {
        /* The pipeline forgot the address; the report has not expired: it stands alone. */
        bool was_dec = vs_is_dec(s, e);
        char old_type[VERDICT_ATTACK_TYPE_MAX];
        memcpy(old_type, e->v.attack_type, sizeof(old_type));
        e->v.level = e->report_level;
        e->v.role = e->report_role;
        memcpy(e->v.attack_type, e->report_attack_type, sizeof(e->v.attack_type));
        e->v.score = e->report_score;
        e->v.reasons = VERDICT_REASON_REPORT;
        e->expires_ms = e->report_until_ms;
        e->base_expires_ms = 0;
        vs_changed_locked(s, e, was_dec, old_type);
        (void)vs_views_set_locked(s, &s->slots[i], NULL); /* what they explained is gone */
        vs_save_locked(s, &s->slots[i], e);
        vs_timer_file_locked(s, p.st, i, vs_event_ms(e));
    } else if (i != VS_NONE) {
        vs_unlink_locked(s, p.st, p.bucket, i, prev);
        vs_slot_free(s, i);
        atomic_fetch_add_explicit(&s->removed, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&p.st->lock);
    return i != VS_NONE;
}

bool verdict_store_remove(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version)
{
    return vs_remove(s, ip, ip_version, false);
}

bool verdict_store_release(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version)
{
    return vs_remove(s, ip, ip_version, true);
}

/* ---- readers ------------------------------------------------------------------------------- */

bool verdict_store_get(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                       uint64_t now_ms, struct verdict_store_entry *out)
{
    struct vs_pos p = vs_locate(s, ip, ip_version);
    __builtin_prefetch(&p.st->heads[p.bucket]); /* its miss overlaps with taking the lock */
    pthread_rwlock_rdlock(&p.st->lock);
    uint32_t i = vs_find_copy_locked(s, p, ip, ip_version);
    bool ok = i != VS_NONE && s->slots[i].expires_ms > now_ms;
    if (ok)
        vs_load(s, &s->slots[i], out);
    pthread_rwlock_unlock(&p.st->lock);
    return ok;
}

bool verdict_store_get_views(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                             uint64_t now_ms, struct verdict_store_entry *out,
                             struct verdict_views *views)
{
    struct vs_pos p = vs_locate(s, ip, ip_version);
    __builtin_prefetch(&p.st->heads[p.bucket]); /* its miss overlaps with taking the lock */
    pthread_rwlock_rdlock(&p.st->lock);
    uint32_t i = vs_find_copy_locked(s, p, ip, ip_version);
    bool ok = i != VS_NONE && s->slots[i].expires_ms > now_ms;
    if (ok) {
        const struct vs_slot *sl = &s->slots[i];
        vs_load(s, sl, out);
        if (sl->cold & VS_VIEWS_BIT) /* the array exists: the bit was set after it */
            memcpy(views,
                   &atomic_load_explicit(&s->views, memory_order_relaxed)[vs_cold_of(sl) - 1],
                   sizeof(*views));
        else
            views->n = views->omitted = 0;
    }
    pthread_rwlock_unlock(&p.st->lock);
    return ok;
}

bool verdict_store_is_decision(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                               uint64_t now_ms)
{
    struct vs_pos p = vs_locate(s, ip, ip_version);
    __builtin_prefetch(&p.st->heads[p.bucket]);
    pthread_rwlock_rdlock(&p.st->lock);
    uint32_t i = vs_find_locked(s, p, ip, ip_version, NULL);
    bool dec = i != VS_NONE && s->slots[i].expires_ms > now_ms &&
               verdict_store_verdict_is_decision(s, &s->slots[i].v);
    pthread_rwlock_unlock(&p.st->lock);
    return dec;
}

/* e's report ended: the pipeline's verdict under it comes back, or the entry ends now (expires_ms
 * = now_ms; the caller then removes it) when there is none left. Stripe write-locked. */
static void vs_report_ended_locked(struct verdict_store *s, struct verdict_store_entry *e,
                                   uint64_t now_ms)
{
    e->report_until_ms = 0;
    if (e->base_expires_ms <= now_ms) {
        e->expires_ms = now_ms;
        return;
    }
    bool was_dec = vs_is_dec(s, e);
    char old_type[VERDICT_ATTACK_TYPE_MAX];
    memcpy(old_type, e->v.attack_type, sizeof(old_type));
    e->v.level = e->base_level;
    e->v.role = e->base_role;
    e->v.score = e->base_score;
    e->v.reasons = e->base_reasons;
    memcpy(e->v.attack_type, e->base_attack_type, sizeof(e->v.attack_type));
    e->expires_ms = e->base_expires_ms;
    vs_changed_locked(s, e, was_dec, old_type);
}

/* Slot i of stripe st, filed at a tick up to now's: ends its report when that is due, removes it
 * when it expired (returns 1), else refiles it at its next event. Stripe write-locked. */
static size_t vs_expire_one_locked(struct verdict_store *s, struct vs_stripe *st, uint32_t i,
                                   uint64_t now_ms)
{
    struct vs_slot *sl = &s->slots[i];
    if (sl->cold && sl->expires_ms > now_ms) { /* only a cold record has a report */
        struct verdict_store_entry e;
        vs_load(s, sl, &e);
        if (e.report_until_ms && e.report_until_ms <= now_ms) {
            vs_report_ended_locked(s, &e, now_ms);
            vs_save_locked(s, sl, &e);
        }
    }
    if (sl->expires_ms <= now_ms) {
        struct vs_pos p = vs_locate(s, sl->v.ip, sl->v.ip_version);
        uint32_t prev = VS_NONE;
        if (vs_find_locked(s, p, sl->v.ip, sl->v.ip_version, &prev) == i) {
            vs_unlink_locked(s, st, p.bucket, i, prev);
            vs_slot_free(s, i);
            return 1;
        }
    }
    vs_timer_unlink_locked(s, st, i);
    vs_timer_file_locked(s, st, i, vs_slot_event(s, sl));
    return 0;
}

/* One stripe's share of verdict_store_expire: the timer lists of the ticks from its cursor to
 * now's (all VS_WHEEL of them after a longer gap). *visited counts the timers looked at; with
 * a budget it stops before passing it, the cursor at the tick it stopped in (*done false), and
 * the next pass goes on to the same end. Returns how many it removed. Stripe write-locked.
 *
 * The cursor never goes back: an entry is filed no earlier than the cursor, so when the clock
 * steps back whatever is due sits in the cursor's own list, which every pass visits. */
/* The wheel's cursor is more than a turn ahead of now's tick: the wall clock jumped forward and
 * came back (a bad clock at boot corrected by NTP, a manual step). Everything put since would be
 * filed at the cursor, in the one list every pass visits, until real time caught up: a full scan
 * per pass, for as long as the clock was ahead. Instead the cursor comes back to now and every
 * timer is refiled at its own tick (once, O(entries)). Stripe write-locked. */
static void vs_wheel_rebase_locked(struct verdict_store *s, struct vs_stripe *st, uint32_t now_tick)
{
    st->wheel_cur = st->wheel_end = now_tick;
    for (uint32_t w = 0; w < VS_WHEEL; w++) {
        uint32_t i = st->wheel[w];
        st->wheel[w] = VS_NONE; /* the list is detached: refiling links into fresh lists */
        while (i != VS_NONE) {
            uint32_t next = s->timers[i].next;
            s->timers[i].at = 0; /* not linked any more: filing must not unlink it */
            vs_timer_file_locked(s, st, i, vs_slot_event(s, &s->slots[i]));
            i = next;
        }
    }
    atomic_fetch_add_explicit(&s->wheel_rebases, 1, memory_order_relaxed);
}

static size_t vs_expire_stripe_locked(struct verdict_store *s, struct vs_stripe *st,
                                      uint64_t now_ms, size_t budget, size_t *visited, bool *done)
{
    if ((uint64_t)vs_tick(now_ms) + VS_WHEEL < st->wheel_end)
        vs_wheel_rebase_locked(s, st, vs_tick(now_ms));
    uint32_t lo = st->wheel_cur, hi = vs_tick(now_ms);
    if (hi < st->wheel_end)
        hi = st->wheel_end;
    if (hi < lo)
        hi = lo;
    if (hi - lo >= VS_WHEEL)
        lo = hi - (VS_WHEEL - 1);
    st->wheel_end = hi;
    st->wheel_cur = hi; /* what is refiled now goes at or after hi: not revisited in this pass */
    size_t removed = 0;
    for (uint32_t t = lo;; t++) {
        for (uint32_t i = st->wheel[t & (VS_WHEEL - 1)]; i != VS_NONE;) {
            if (budget && *visited >= budget) {
                st->wheel_cur = t;
                *done = false;
                return removed;
            }
            uint32_t next = s->timers[i].next; /* i may be refiled at this list's head */
            ++*visited;
            if (s->timers[i].at - 1 <= hi) /* else filed for a later turn of the wheel */
                removed += vs_expire_one_locked(s, st, i, now_ms);
            i = next;
        }
        if (t == hi)
            break;
    }
    *done = true;
    return removed;
}

size_t verdict_store_expire(struct verdict_store *s, uint64_t now_ms, size_t budget)
{
    size_t removed = 0, visited = 0;
    pthread_mutex_lock(&s->expire_lock);
    uint32_t k0 = (uint32_t)atomic_load_explicit(&s->expire_cursor, memory_order_relaxed);
    uint32_t k = k0 % VS_STRIPES;
    for (uint32_t n = 0; n < VS_STRIPES; n++, k = (k + 1) % VS_STRIPES) {
        struct vs_stripe *st = &s->stripes[k];
        bool done;
        pthread_rwlock_wrlock(&st->lock);
        removed += vs_expire_stripe_locked(s, st, now_ms, budget, &visited, &done);
        pthread_rwlock_unlock(&st->lock);
        if (!done)
            break; /* the budget is spent: the next call goes on in this stripe */
    }
    atomic_store_explicit(&s->expire_cursor, k, memory_order_relaxed);
    pthread_mutex_unlock(&s->expire_lock);
    atomic_fetch_add_explicit(&s->expired, removed, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->expire_visited, visited, memory_order_relaxed);
    return removed;
}

/* ---- listings ------------------------------------------------------------------------------ */

/* Worst first: level, score, last_seen descending, then address ascending. */
static int vs_cmp_worst(const void *pa, const void *pb)
{
    const struct verdict *a = &((const struct verdict_store_entry *)pa)->v;
    const struct verdict *b = &((const struct verdict_store_entry *)pb)->v;
    if (a->level != b->level)
        return a->level > b->level ? -1 : 1;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->last_seen_us != b->last_seen_us)
        return a->last_seen_us > b->last_seen_us ? -1 : 1;
    if (a->ip_version != b->ip_version)
        return a->ip_version < b->ip_version ? -1 : 1;
    return memcmp(a->ip, b->ip, 16);
}

static int vs_cmp_seq(const void *pa, const void *pb)
{
    uint64_t a = ((const struct verdict_store_entry *)pa)->decision_seq;
    uint64_t b = ((const struct verdict_store_entry *)pb)->decision_seq;
    return a < b ? -1 : a > b;
}

/* A growable array that turns into a max-heap on vs_cmp_worst (root: the least bad kept) once
 * it holds `limit` entries, so a limited listing keeps only the worst `limit`. */
struct vs_collect {
    struct verdict_store_entry *a;
    size_t n, cap, limit; /* limit 0: unlimited, no heap */
    bool heap;
    bool oom;
};

static void vs_heap_down(struct vs_collect *c, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->n && vs_cmp_worst(&c->a[l], &c->a[m]) > 0)
            m = l;
        if (r < c->n && vs_cmp_worst(&c->a[r], &c->a[m]) > 0)
            m = r;
        if (m == i)
            return;
        struct verdict_store_entry t = c->a[i];
        c->a[i] = c->a[m];
        c->a[m] = t;
        i = m;
    }
}

static void vs_collect_add(struct vs_collect *c, const struct verdict_store_entry *e)
{
    if (c->oom)
        return;
    if (c->heap) {
        if (vs_cmp_worst(e, &c->a[0]) < 0) {
            c->a[0] = *e;
            vs_heap_down(c, 0);
        }
        return;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        if (c->limit && ncap > c->limit)
            ncap = c->limit;
        struct verdict_store_entry *na = realloc(c->a, ncap * sizeof(*na));
        if (!na) {
            c->oom = true;
            return;
        }
        c->a = na;
        c->cap = ncap;
    }
    c->a[c->n++] = *e;
    if (c->limit && c->n == c->limit) {
        c->heap = true;
        for (size_t i = c->n / 2; i-- > 0;)
            vs_heap_down(c, i);
    }
}

long verdict_store_list(struct verdict_store *s, enum threat_level min_level, size_t limit,
                        uint64_t now_ms, struct verdict_store_entry **out)
{
    struct vs_collect c = {.limit = limit};
    *out = NULL;
    for (size_t k = 0; k < VS_STRIPES && !c.oom; k++) {
        struct vs_stripe *st = &s->stripes[k];
        pthread_rwlock_rdlock(&st->lock);
        for (uint32_t b = 0; b <= s->bmask; b++)
            for (uint32_t i = st->heads[b]; i != VS_NONE; i = s->slots[i].next) {
                const struct vs_slot *e = &s->slots[i];
                if (e->expires_ms > now_ms && e->v.level >= (unsigned)min_level) {
                    struct verdict_store_entry full;
                    vs_load(s, e, &full);
                    vs_collect_add(&c, &full);
                }
            }
        pthread_rwlock_unlock(&st->lock);
    }
    if (c.oom) {
        free(c.a);
        return -ENOMEM;
    }
    if (c.n == 0) {
        free(c.a);
        return 0;
    }
    qsort(c.a, c.n, sizeof(*c.a), vs_cmp_worst);
    *out = c.a;
    return (long)c.n;
}

static int vs_cmp_tomb_addr_seq(const void *pa, const void *pb)
{
    const struct verdict_store_tombstone *a = pa, *b = pb;
    if (a->ip_version != b->ip_version)
        return a->ip_version < b->ip_version ? -1 : 1;
    int r = memcmp(a->ip, b->ip, 16);
    if (r)
        return r;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int vs_cmp_tomb_seq(const void *pa, const void *pb)
{
    const struct verdict_store_tombstone *a = pa, *b = pb;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int verdict_store_changes(struct verdict_store *s, uint64_t since, uint64_t now_ms,
                          struct verdict_store_entry **added, size_t *nadded,
                          struct verdict_store_tombstone **deleted, size_t *ndeleted,
                          uint64_t *next_since, bool *complete)
{
    *added = NULL;
    *deleted = NULL;
    *nadded = *ndeleted = 0;
    /* Pairs with the writers' fetch_add (see DESIGN): every change <= c0 is visible below. */
    uint64_t c0 = atomic_load_explicit(&s->seq, memory_order_acquire);
    struct vs_collect c = {0};
    for (size_t k = 0; k < VS_STRIPES && !c.oom; k++) {
        struct vs_stripe *st = &s->stripes[k];
        pthread_rwlock_rdlock(&st->lock);
        for (uint32_t b = 0; b <= s->bmask; b++)
            for (uint32_t i = st->heads[b]; i != VS_NONE; i = s->slots[i].next) {
                const struct vs_slot *e = &s->slots[i];
                if (e->decision_seq > since && e->decision_seq <= c0 && e->expires_ms > now_ms &&
                    verdict_store_verdict_is_decision(s, &e->v)) {
                    struct verdict_store_entry full;
                    vs_load(s, e, &full);
                    vs_collect_add(&c, &full);
                }
            }
        pthread_rwlock_unlock(&st->lock);
    }
    if (c.oom)
        goto nomem;

    struct verdict_store_tombstone *t = NULL;
    size_t nt = 0;
    pthread_mutex_lock(&s->tomb_lock);
    bool lost = since != 0 && s->tomb_lost_max > since;
    uint64_t have = s->tomb_head < s->tomb_cap ? s->tomb_head : s->tomb_cap;
    if (have) {
        t = malloc(have * sizeof(*t));
        if (!t) {
            pthread_mutex_unlock(&s->tomb_lock);
            goto nomem;
        }
        for (uint64_t j = s->tomb_head - have; j < s->tomb_head; j++) {
            const struct verdict_store_tombstone *x = &s->tombs[j % s->tomb_cap];
            if (x->seq > since && x->seq <= c0)
                t[nt++] = *x;
        }
    }
    pthread_mutex_unlock(&s->tomb_lock);

    /* One tombstone per address (its latest), and none for an address that is a decision now. */
    if (nt > 1)
        qsort(t, nt, sizeof(*t), vs_cmp_tomb_addr_seq);
    size_t w = 0;
    for (size_t j = 0; j < nt; j++) {
        if (j + 1 < nt && t[j + 1].ip_version == t[j].ip_version &&
            memcmp(t[j + 1].ip, t[j].ip, 16) == 0)
            continue;
        if (verdict_store_is_decision(s, t[j].ip, t[j].ip_version, now_ms))
            continue;
        t[w++] = t[j];
    }
    if (w == 0) {
        free(t);
        t = NULL;
    } else {
        qsort(t, w, sizeof(*t), vs_cmp_tomb_seq);
    }
    if (c.n)
        qsort(c.a, c.n, sizeof(*c.a), vs_cmp_seq);
    else {
        free(c.a);
        c.a = NULL;
    }
    *added = c.a;
    *nadded = c.n;
    *deleted = t;
    *ndeleted = w;
    *next_since = c0;
    *complete = !lost && since <= c0; /* a cursor from the future is not from this store */
    return 0;
nomem:
    free(c.a);
    return -ENOMEM;
}

void verdict_store_stats_get(struct verdict_store *s, struct verdict_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->entries = atomic_load_explicit(&s->entries, memory_order_relaxed);
    out->capacity = s->capacity;
    out->puts = atomic_load_explicit(&s->puts, memory_order_relaxed);
    out->full_drops = atomic_load_explicit(&s->full_drops, memory_order_relaxed);
    out->expired = atomic_load_explicit(&s->expired, memory_order_relaxed);
    out->removed = atomic_load_explicit(&s->removed, memory_order_relaxed);
    out->decisions = atomic_load_explicit(&s->decisions, memory_order_relaxed);
    out->seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    out->tombstones_lost = atomic_load_explicit(&s->tomb_lost, memory_order_relaxed);
    out->expire_visited = atomic_load_explicit(&s->expire_visited, memory_order_relaxed);
    out->wheel_rebases = atomic_load_explicit(&s->wheel_rebases, memory_order_relaxed);
}
