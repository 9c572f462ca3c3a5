/* trail.c - the operator's trail: recent events and incidents (contract and DESIGN: trail.h).
 *
 * Owns: the event ring and the incident slots, behind one mutex. Lookups scan the
 * TRAIL_INCIDENTS slots: the stage samples each open incident once per second and the API reads
 * a few times per second, so a scan of 256 small keys costs nothing next to the copy that
 * follows; a hash index would be a second structure to keep right for no measurable gain. */
#include "verdicts/trail.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

struct trail_slot {
    bool used;
    struct trail_incident inc;
    uint32_t head; /* next point written */
    struct trail_point pts[TRAIL_POINTS];
};

struct trail_meter {
    uint64_t ms, packets, flows;
};

struct trail {
    pthread_mutex_t lock;
    struct trail_meter prev, cur; /* trail_rates: two samples at least a second apart */
    struct trail_event *ev;       /* ring of TRAIL_EVENTS */
    uint64_t next_id;             /* id of the next event (ids start at 1) */
    struct trail_slot *slots;
    struct trail_stats st;
};

struct trail *trail_create(void)
{
    struct trail *t = calloc(1, sizeof(*t));
    if (!t)
        goto nomem;
    t->ev = calloc(TRAIL_EVENTS, sizeof(*t->ev));
    t->slots = calloc(TRAIL_INCIDENTS, sizeof(*t->slots));
    if (!t->ev || !t->slots || pthread_mutex_init(&t->lock, NULL) != 0)
        goto nomem;
    t->next_id = 1;
    DD_INFO("trail: %d events (%zu KiB), %d incidents of %d points (%zu KiB), touched as used",
            TRAIL_EVENTS, (TRAIL_EVENTS * sizeof(*t->ev)) >> 10, TRAIL_INCIDENTS, TRAIL_POINTS,
            (TRAIL_INCIDENTS * sizeof(*t->slots)) >> 10);
    return t;
nomem:
    DD_ERROR("trail: out of memory for %d events and %d incidents", TRAIL_EVENTS, TRAIL_INCIDENTS);
    if (t) {
        free(t->ev);
        free(t->slots);
        free(t);
    }
    return NULL;
}

void trail_destroy(struct trail *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->ev);
    free(t->slots);
    free(t);
}

const char *trail_event_kind_name(enum trail_event_kind kind)
{
    switch (kind) {
    case TRAIL_EVENT_START:
        return "start";
    case TRAIL_EVENT_LEVEL:
        return "level";
    case TRAIL_EVENT_END:
        return "end";
    case TRAIL_EVENT_REPORT:
        return "report";
    }
    return "?";
}

static bool same_ip(const uint8_t a[16], uint8_t av, const uint8_t b[16], uint8_t bv)
{
    return av == bv && memcmp(a, b, 16) == 0;
}

/* The slot of (ip, role): the open one if any, else (open_only false) the latest ended. */
static struct trail_slot *slot_find(struct trail *t, const uint8_t ip[16], uint8_t ver, int role,
                                    bool open_only)
{
    struct trail_slot *best = NULL;
    for (size_t i = 0; i < TRAIL_INCIDENTS; i++) {
        struct trail_slot *s = &t->slots[i];
        if (!s->used || !same_ip(s->inc.v.ip, s->inc.v.ip_version, ip, ver))
            continue;
        if (role >= 0 && s->inc.v.role != role)
            continue;
        if (s->inc.ended_ms == 0)
            return s;
        if (!open_only && (!best || s->inc.ended_ms > best->inc.ended_ms))
            best = s;
    }
    return best;
}

/* A slot for a new incident: a free one, else the one that ended first, else NULL. */
static struct trail_slot *slot_take(struct trail *t)
{
    struct trail_slot *oldest = NULL;
    for (size_t i = 0; i < TRAIL_INCIDENTS; i++) {
        struct trail_slot *s = &t->slots[i];
        if (!s->used)
            return s;
        if (s->inc.ended_ms && (!oldest || s->inc.ended_ms < oldest->inc.ended_ms))
            oldest = s;
    }
    return oldest;
}

/* An incident's verdict follows the role's, but keeps the attack type it had once the role
 * falls below the level that names one (the episode is still that attack until it ends). */
static void incident_verdict(struct trail_incident *inc, const struct verdict *v)
{
    char type[VERDICT_ATTACK_TYPE_MAX];
    memcpy(type, inc->v.attack_type, sizeof(type));
    inc->v = *v;
    if (!v->attack_type[0])
        memcpy(inc->v.attack_type, type, sizeof(type));
}

static void peers_copy(struct trail_incident *inc, const struct redis_sink_peer *peers, size_t n)
{
    if (n > TRAIL_PEERS)
        n = TRAIL_PEERS;
    if (n)
        memcpy(inc->peers, peers, n * sizeof(peers[0]));
    inc->npeers = (uint8_t)n;
}

uint64_t trail_event_add(struct trail *t, enum trail_event_kind kind, const struct verdict *v,
                         uint8_t prev_level, const struct redis_sink_peer *peers, size_t npeers)
{
    uint64_t now_ms = dd_realtime_ms();
    if (npeers > TRAIL_PEERS)
        npeers = TRAIL_PEERS;
    pthread_mutex_lock(&t->lock);
    uint64_t id = t->next_id++;
    struct trail_event *e = &t->ev[(id - 1) % TRAIL_EVENTS];
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->at_ms = now_ms;
    e->kind = (uint8_t)kind;
    e->v = *v;
    e->prev_level = kind == TRAIL_EVENT_LEVEL ? prev_level : v->level;
    e->peak_level = v->level;
    e->npeers = (uint8_t)npeers;
    if (npeers)
        memcpy(e->peers, peers, npeers * sizeof(peers[0]));
    t->st.events = id;

    struct trail_slot *s = NULL;
    if (kind != TRAIL_EVENT_REPORT)
        s = slot_find(t, v->ip, v->ip_version, v->role, true);
    if (kind == TRAIL_EVENT_START && !s) {
        s = slot_take(t);
        if (!s) {
            t->st.incidents_dropped++;
        } else {
            memset(s, 0, sizeof(*s));
            s->used = true;
            s->inc.start_us = v->first_seen_us;
            s->inc.opened_ms = now_ms;
            s->inc.start_event = id;
            t->st.incidents_open++;
        }
    }
    if (s && kind != TRAIL_EVENT_REPORT) {
        struct trail_incident *inc = &s->inc;
        if (!e->v.attack_type[0]) /* a level change below high: still the episode's attack */
            memcpy(e->v.attack_type, inc->v.attack_type, sizeof(e->v.attack_type));
        incident_verdict(inc, v);
        if (v->level > inc->peak_level)
            inc->peak_level = v->level;
        if (v->pps > inc->peak_pps)
            inc->peak_pps = v->pps;
        if (v->bps > inc->peak_bps)
            inc->peak_bps = v->bps;
        if (npeers)
            peers_copy(inc, peers, npeers);
        e->peak_level = inc->peak_level;
        if (kind == TRAIL_EVENT_END) {
            inc->ended_ms = now_ms;
            t->st.incidents_open--;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return id;
}

size_t trail_open_keys(struct trail *t, struct trail_key *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < TRAIL_INCIDENTS && n < max; i++) {
        const struct trail_slot *s = &t->slots[i];
        if (!s->used || s->inc.ended_ms)
            continue;
        memcpy(out[n].ip, s->inc.v.ip, 16);
        out[n].ip_version = s->inc.v.ip_version;
        out[n].role = s->inc.v.role;
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

void trail_sample(struct trail *t, const struct verdict *v, uint64_t t_us, double peak_pps,
                  double peak_bps, uint8_t peak_level, const struct redis_sink_peer *peers,
                  size_t npeers)
{
    pthread_mutex_lock(&t->lock);
    struct trail_slot *s = slot_find(t, v->ip, v->ip_version, v->role, true);
    if (s) {
        struct trail_incident *inc = &s->inc;
        incident_verdict(inc, v);
        if (peak_pps > inc->peak_pps)
            inc->peak_pps = peak_pps;
        if (peak_bps > inc->peak_bps)
            inc->peak_bps = peak_bps;
        if (peak_level > inc->peak_level)
            inc->peak_level = peak_level;
        if (npeers)
            peers_copy(inc, peers, npeers);
        struct trail_point *p = &s->pts[s->head];
        p->t_us = t_us;
        p->pps = (float)v->pps;
        p->bps = (float)v->bps;
        p->level = v->level;
        s->head = (s->head + 1) % TRAIL_POINTS;
        if (inc->npoints < TRAIL_POINTS)
            inc->npoints++;
        t->st.samples++;
    }
    pthread_mutex_unlock(&t->lock);
}

static bool event_matches(const struct trail_event *e, const uint8_t ip[16], uint8_t ver)
{
    if (ver == 0 || same_ip(e->v.ip, e->v.ip_version, ip, ver))
        return true;
    for (unsigned i = 0; i < e->npeers; i++)
        if (same_ip(e->peers[i].ip, e->peers[i].ip_version, ip, ver))
            return true;
    return false;
}

size_t trail_events(struct trail *t, uint64_t since, const uint8_t ip[16], uint8_t ip_version,
                    struct trail_event *out, size_t max, uint64_t *oldest)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    uint64_t last = t->next_id - 1;
    uint64_t first = last > TRAIL_EVENTS ? last - TRAIL_EVENTS + 1 : 1;
    *oldest = last ? first : 0;
    for (uint64_t id = since + 1 > first ? since + 1 : first; id <= last && n < max; id++) {
        const struct trail_event *e = &t->ev[(id - 1) % TRAIL_EVENTS];
        if (event_matches(e, ip, ip_version))
            out[n++] = *e;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* Open ones first, highest level then pps; then ended ones, the latest first. */
static int incident_cmp(const void *pa, const void *pb)
{
    const struct trail_incident *a = pa, *b = pb;
    bool ao = a->ended_ms == 0, bo = b->ended_ms == 0;
    if (ao != bo)
        return ao ? -1 : 1;
    if (!ao)
        return a->ended_ms > b->ended_ms ? -1 : a->ended_ms < b->ended_ms ? 1 : 0;
    if (a->v.level != b->v.level)
        return a->v.level > b->v.level ? -1 : 1;
    if (a->v.pps != b->v.pps)
        return a->v.pps > b->v.pps ? -1 : 1;
    return a->start_event < b->start_event ? -1 : 1;
}

size_t trail_incidents(struct trail *t, uint64_t ended_after_ms, struct trail_incident *out,
                       size_t max)
{
    /* Sorted after the copy, outside the lock. Copy every candidate first (at most
     * TRAIL_INCIDENTS), so that `max` keeps the most important ones. */
    struct trail_incident *all = malloc(TRAIL_INCIDENTS * sizeof(*all));
    if (!all)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < TRAIL_INCIDENTS; i++) {
        const struct trail_slot *s = &t->slots[i];
        if (s->used && (s->inc.ended_ms == 0 || s->inc.ended_ms >= ended_after_ms))
            all[n++] = s->inc;
    }
    pthread_mutex_unlock(&t->lock);
    qsort(all, n, sizeof(*all), incident_cmp);
    if (n > max)
        n = max;
    if (n)
        memcpy(out, all, n * sizeof(*all));
    free(all);
    return n;
}

long trail_series(struct trail *t, const uint8_t ip[16], uint8_t ip_version, int role,
                  struct trail_incident *inc, struct trail_point *pts, size_t max)
{
    long n = -ENOENT;
    pthread_mutex_lock(&t->lock);
    const struct trail_slot *s = slot_find(t, ip, ip_version, role, false);
    if (s) {
        *inc = s->inc;
        size_t have = s->inc.npoints, take = have < max ? have : max;
        /* The newest `take` points, oldest first. */
        size_t start = (s->head + TRAIL_POINTS - take) % TRAIL_POINTS;
        for (size_t k = 0; k < take; k++)
            pts[k] = s->pts[(start + k) % TRAIL_POINTS];
        n = (long)take;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

void trail_rates(struct trail *t, uint64_t mono_ms, uint64_t packets, uint64_t flows, double *pps,
                 double *fps)
{
    pthread_mutex_lock(&t->lock);
    if (t->cur.ms == 0 || mono_ms >= t->cur.ms + 1000) {
        t->prev = t->cur;
        t->cur = (struct trail_meter){mono_ms, packets, flows};
    }
    *pps = *fps = 0;
    if (t->prev.ms && t->cur.ms > t->prev.ms) {
        double dt = (double)(t->cur.ms - t->prev.ms) / 1000.0;
        *pps =
            t->cur.packets >= t->prev.packets ? (double)(t->cur.packets - t->prev.packets) / dt : 0;
        *fps = t->cur.flows >= t->prev.flows ? (double)(t->cur.flows - t->prev.flows) / dt : 0;
    }
    pthread_mutex_unlock(&t->lock);
}

void trail_stats_get(struct trail *t, struct trail_stats *out)
{
    pthread_mutex_lock(&t->lock);
    *out = t->st;
    pthread_mutex_unlock(&t->lock);
}
