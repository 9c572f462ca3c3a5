/* redis_thread.c - the Redis I/O thread: a hand-off from the verdict stage and the loop that
 * feeds the sink and flushes it (contract in redis_thread.h).
 *
 * Owns: the thread, the sink (only the thread touches it after start), two hand-off buffers and
 * the mutex that guards the producer's buffer, the published counters and the stop request.
 * May call: verdicts/redis_sink, common/log, pthreads.
 *
 * DESIGN: the stage appends to the "in" buffer under the mutex (a struct copy); the I/O thread
 * swaps "in" with its private "out" buffer under the same mutex and then replays "out" into the
 * sink without it. The mutex is therefore held for one copy or one pointer swap, never across a
 * network call, and the producer never waits for Redis. Why a mutex and not a lock-free ring: a
 * verdict is 272 bytes and bursts come in thousands per tick; a swap moves a whole burst at
 * once, and contention is two threads touching the lock a few hundred times a second.
 *
 * Why levels get different shares of the hand-off: it only overflows when the stage produces
 * more than the I/O thread can take during one blocked network call (a few hundred ms at most).
 * What matters then is that the severe verdicts still get through. */
#include "verdicts/redis_thread.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

enum {
    HANDOFF_DEFAULT = 65536,
    LOOP_SLEEP_MS = 2, /* idle wait between loops: well inside any flush interval */
    STOP_POLL_MS = 10, /* how often stop() looks at *hurry */
};

struct ho_event {
    struct verdict v;
    uint8_t kind;
    uint8_t npeers;
    struct redis_sink_peer peers[REDIS_SINK_PEERS_MAX];
};

struct handoff {
    struct verdict *v;
    bool *sync; /* per verdict: redis_sink_put_sync */
    struct ho_event *e;
    uint32_t nv, ne;
};

struct redis_thread {
    struct redis_sink *sink; /* I/O thread only, once started */
    pthread_t thread;
    uint32_t vcap, ecap;
    uint32_t attempt_ms; /* what one reconnect attempt may block: connect + command timeout */
    struct handoff out;  /* I/O thread only */

    pthread_mutex_t lock; /* guards everything below */
    struct handoff in;
    uint64_t handoff_dropped, events_dropped;
    struct redis_sink_stats stats; /* published by the I/O thread */
    bool resync;
    bool stop;
    uint64_t deadline_ms;
    bool all_written;
    bool done;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The share of the hand-off a verdict of this level may fill. */
static uint32_t level_room(const struct redis_thread *t, uint8_t level)
{
    switch (level) {
    case THREAT_CRITICAL:
        return t->vcap;
    case THREAT_HIGH:
        return t->vcap / 8 * 7;
    default:
        return t->vcap / 2;
    }
}

static bool handoff_put(struct redis_thread *t, const struct verdict *v, bool sync, bool count_drop)
{
    pthread_mutex_lock(&t->lock);
    bool ok = t->in.nv < level_room(t, v->level);
    if (ok) {
        t->in.sync[t->in.nv] = sync;
        t->in.v[t->in.nv++] = *v;
    } else if (count_drop) {
        t->handoff_dropped++;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

bool redis_thread_put(struct redis_thread *t, const struct verdict *v)
{
    return handoff_put(t, v, false, true);
}

bool redis_thread_put_sync(struct redis_thread *t, const struct verdict *v, uint32_t wait_ms)
{
    for (uint32_t waited = 0;; waited++) {
        if (handoff_put(t, v, true, waited >= wait_ms))
            return true;
        if (waited >= wait_ms)
            return false;
        sleep_ms(1);
    }
}

bool redis_thread_event(struct redis_thread *t, enum redis_sink_event_kind kind,
                        const struct verdict *v, const struct redis_sink_peer *peers, size_t npeers)
{
    pthread_mutex_lock(&t->lock);
    bool ok = t->in.ne < t->ecap;
    if (ok) {
        struct ho_event *e = &t->in.e[t->in.ne++];
        e->v = *v;
        e->kind = (uint8_t)kind;
        e->npeers = (uint8_t)(npeers < REDIS_SINK_PEERS_MAX ? npeers : REDIS_SINK_PEERS_MAX);
        if (e->npeers)
            memcpy(e->peers, peers, e->npeers * sizeof(*peers));
    } else {
        t->events_dropped++;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

bool redis_thread_resync_take(struct redis_thread *t)
{
    pthread_mutex_lock(&t->lock);
    bool r = t->resync;
    t->resync = false;
    pthread_mutex_unlock(&t->lock);
    return r;
}

void redis_thread_stats(struct redis_thread *t, struct redis_sink_stats *out)
{
    pthread_mutex_lock(&t->lock);
    *out = t->stats;
    out->handoff_dropped = t->handoff_dropped;
    out->events_dropped += t->events_dropped;
    out->pending += t->in.nv;
    out->events_pending += t->in.ne;
    pthread_mutex_unlock(&t->lock);
}

static void *io_main(void *arg)
{
    struct redis_thread *t = arg;
    pthread_setname_np(pthread_self(), "dd-redis");
    for (;;) {
        pthread_mutex_lock(&t->lock);
        struct handoff tmp = t->in;
        t->in = t->out;
        t->out = tmp;
        bool stop = t->stop;
        uint64_t deadline = t->deadline_ms;
        pthread_mutex_unlock(&t->lock);

        for (uint32_t i = 0; i < t->out.nv; i++)
            (void)(t->out.sync[i] ? redis_sink_put_sync(t->sink, &t->out.v[i])
                                  : redis_sink_put(t->sink, &t->out.v[i]));
        for (uint32_t i = 0; i < t->out.ne; i++) {
            const struct ho_event *e = &t->out.e[i];
            (void)redis_sink_event(t->sink, (enum redis_sink_event_kind)e->kind, &e->v, e->peers,
                                   e->npeers);
        }
        t->out.nv = t->out.ne = 0;

        uint64_t now = dd_mono_ms();
        /* After stop the producer adds nothing: an idle sink means everything is written. A
         * reconnect attempt that could not end before the deadline is not started. */
        bool connected = t->stats.connected; /* this thread wrote it */
        bool finished = stop && (redis_sink_idle(t->sink) || now >= deadline ||
                                 (!connected && now + t->attempt_ms > deadline));
        if (!finished)
            (void)(stop ? redis_sink_flush_now(t->sink, now) : redis_sink_flush(t->sink, now));
        bool resync = redis_sink_resync_take(t->sink);

        pthread_mutex_lock(&t->lock);
        redis_sink_stats_get(t->sink, &t->stats);
        t->resync |= resync;
        if (finished) {
            t->all_written = redis_sink_idle(t->sink);
            t->done = true;
        }
        pthread_mutex_unlock(&t->lock);
        if (finished)
            break;
        /* Disconnected and backing off during a drain: the flush returned at once, so wait
         * (a short sleep either way: the stage's hand-offs come in every few ms). */
        sleep_ms(LOOP_SLEEP_MS);
    }
    return NULL;
}

static void handoff_free(struct handoff *h)
{
    free(h->v);
    free(h->sync);
    free(h->e);
}

static int handoff_alloc(struct handoff *h, uint32_t vcap, uint32_t ecap)
{
    /* malloc, not calloc: the pages are touched only when a burst needs them. */
    h->v = malloc((size_t)vcap * sizeof(*h->v));
    h->sync = malloc((size_t)vcap * sizeof(*h->sync));
    h->e = malloc((size_t)ecap * sizeof(*h->e));
    h->nv = h->ne = 0;
    return h->v && h->sync && h->e ? 0 : -ENOMEM;
}

struct redis_thread *redis_thread_start(const struct redis_sink_config *cfg,
                                        uint32_t handoff_capacity)
{
    struct redis_thread *t = calloc(1, sizeof(*t));
    if (!t) {
        DD_ERROR("redis: out of memory");
        return NULL;
    }
    t->vcap = handoff_capacity ? handoff_capacity : HANDOFF_DEFAULT;
    t->ecap = t->vcap / 4 ? t->vcap / 4 : 1;
    if (handoff_alloc(&t->in, t->vcap, t->ecap) != 0 ||
        handoff_alloc(&t->out, t->vcap, t->ecap) != 0) {
        DD_ERROR("redis: out of memory for the hand-off (%" PRIu32 " verdicts)", t->vcap);
        goto fail;
    }
    t->attempt_ms = (cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 200) +
                    (cfg->command_timeout_ms ? cfg->command_timeout_ms : 200);
    t->sink = redis_sink_create(cfg);
    if (!t->sink)
        goto fail;
    redis_sink_stats_get(t->sink, &t->stats);
    pthread_mutex_init(&t->lock, NULL);
    if (pthread_create(&t->thread, NULL, io_main, t) != 0) {
        DD_ERROR("redis: cannot start the I/O thread");
        pthread_mutex_destroy(&t->lock);
        redis_sink_destroy(t->sink, 0);
        goto fail;
    }
    return t;
fail:
    handoff_free(&t->in);
    handoff_free(&t->out);
    free(t);
    return NULL;
}

bool redis_thread_stop(struct redis_thread *t, uint32_t drain_ms, const _Atomic bool *hurry,
                       uint32_t hurry_ms, struct redis_sink_stats *final)
{
    if (!t)
        return true;
    uint64_t start = dd_mono_ms();
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    t->deadline_ms = start + drain_ms;
    struct redis_sink_stats st = t->stats;
    uint32_t queued = t->in.nv, queued_ev = t->in.ne;
    pthread_mutex_unlock(&t->lock);

    bool waiting = st.pending + queued || st.events_pending + queued_ev;
    bool was_connected = st.connected;
    if (waiting && !st.connected)
        DD_WARN("redis: unreachable (%s): waiting up to %g s for it to take %" PRIu64
                " verdicts and %" PRIu64 " events%s",
                st.last_error[0] ? st.last_error : "not connected yet", drain_ms / 1000.0,
                st.pending + queued, st.events_pending + queued_ev,
                drain_ms > hurry_ms ? " (SIGTERM or Ctrl-C cuts the wait short)" : "");
    bool hurried = false;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        bool done = t->done;
        bool hurry_now =
            !done && !hurried && hurry && atomic_load_explicit(hurry, memory_order_acquire);
        uint64_t now = dd_mono_ms();
        if (hurry_now && t->deadline_ms > now + hurry_ms)
            t->deadline_ms = now + hurry_ms;
        st = t->stats;
        pthread_mutex_unlock(&t->lock);
        if (done)
            break;
        if (hurry_now) {
            hurried = true;
            DD_WARN("redis: stop requested; waiting at most %" PRIu32 " ms more for %" PRIu64
                    " verdicts and %" PRIu64 " events",
                    hurry_ms, st.pending, st.events_pending);
        }
        sleep_ms(STOP_POLL_MS);
    }
    pthread_join(t->thread, NULL);
    bool all = t->all_written;
    if (final)
        redis_thread_stats(t, final);
    redis_sink_destroy(t->sink, 0); /* says what is left unwritten, by level */
    if (all && waiting && (!was_connected || dd_mono_ms() - start >= 1000))
        DD_INFO("redis: every verdict written after %.1f s",
                (double)(dd_mono_ms() - start) / 1000.0);
    pthread_mutex_destroy(&t->lock);
    handoff_free(&t->in);
    handoff_free(&t->out);
    free(t);
    return all;
}
