/* worker.c - inference workers: score the shards' flow records with the model.
 *
 * Owns: the worker threads and their output rings (to the verdict stage).
 *
 * DESIGN: a worker pops a batch of records from each shard's ring in turn, copies their feature
 * vectors into one contiguous block and scores it with model_score_batch (each tree stays in
 * cache for the whole batch). It takes one model reference per batch, so a reload (SIGHUP) swaps
 * the model between batches and the old model is freed by whichever thread drops its last
 * reference. Without a model (rate rules only) records pass through unscored, so flow counts
 * still reach the verdicts. A snapshot scored benign is noted back to its shard (struct
 * score_note), whose flow then ends without a second scoring of the same vector. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/daemon.h"
#include "common/log.h"

enum { WORKER_BATCH = 64 };

#define RELAXED memory_order_relaxed

struct model *daemon_model_acquire(struct daemon *d, double *threshold)
{
    pthread_mutex_lock(&d->model_lock);
    struct model *m = d->model ? model_ref(d->model) : NULL;
    *threshold = d->threshold;
    pthread_mutex_unlock(&d->model_lock);
    return m;
}

/* ICMP error messages (unreachable, time exceeded, ...) are a host's answers to traffic it
 * received (and IPv6 neighbour discovery and MLD are the link's housekeeping): under a UDP flood to
 * closed ports the victim sends one per packet. The flows that caused them are judged on their own,
 * so an error flow is never attack evidence (it would make the flood's sources look like victims of
 * an ICMP flood). */
static bool icmp_error_flow(const struct flow_record *r)
{
    int type = (int)r->feat[FEAT_ICMP_TYPE];
    if (r->ev.proto == 1)
        return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    if (r->ev.proto == 58) /* errors, and the link's own chatter: MLD, router and neighbour
                              discovery (130-137, 143), which every IPv6 host sends */
        return (type >= 1 && type <= 4) || (type >= 130 && type <= 137) || type == 143;
    return false;
}

/* Tells the shard of a snapshot scored benign, so that the flow's end, if nothing new comes, is
 * not scored again (struct score_note). A full ring drops the note: it only saves work. */
static void worker_note(struct worker *w, const struct flow_record *r, uint8_t tag)
{
    struct score_note note = {
        .first_us = r->ev.first_us,
        .slot = r->slot,
        .packets = (uint32_t)r->ev.packets,
        .p_attack = r->ev.p_attack,
        .tag = tag,
    };
    if (ring_spsc_push_burst(w->d->shards[r->shard].from_worker[w->id], &note, 1) != 1)
        atomic_fetch_add_explicit(&w->notes_dropped, 1, RELAXED);
}

static void worker_score(struct worker *w, struct flow_record *recs, size_t n)
{
    /* Per-thread scratch: 64 x 79 doubles and scores, allocated once by the thread. */
    static _Thread_local double feats[WORKER_BATCH * FEAT_COUNT];
    static _Thread_local struct model_score scores[WORKER_BATCH];
    double threshold;
    /* The generation first, then the model: a reload in between tags a newer model's score with
     * the older generation, which the shard then ignores (never the other way round). */
    uint8_t tag = SCORE_TAG(atomic_load_explicit(&w->d->model_gen, memory_order_acquire));
    struct model *m = daemon_model_acquire(w->d, &threshold);
    /* Rate alerts ride along unscored, and so do ends that carry their last report's score
     * (prescored): score the other flow records, in order. */
    size_t flows[WORKER_BATCH], nf = 0;
    for (size_t i = 0; i < n; i++)
        if (recs[i].end != FLOW_RECORD_ALERT && !recs[i].prescored)
            flows[nf++] = i;
    if (m && nf) {
        for (size_t k = 0; k < nf; k++)
            memcpy(&feats[k * FEAT_COUNT], recs[flows[k]].feat, sizeof(recs[flows[k]].feat));
        model_score_batch(m, feats, nf, scores);
        uint64_t attacks = 0;
        for (size_t k = 0; k < nf; k++) {
            size_t i = flows[k];
            struct flow_evidence *e = &recs[i].ev;
            e->p_attack = (float)scores[k].p_attack;
            e->is_attack = threshold >= 0 ? scores[k].p_attack >= threshold : scores[k].is_attack;
            if (e->is_attack && icmp_error_flow(&recs[i])) {
                e->is_attack = 0;
                atomic_fetch_add_explicit(&w->icmp_errors, 1, RELAXED);
            }
            if (e->is_attack) {
                attacks++;
                /* snprintf's bytes without its format parser (135,000 calls per 4 M
                 * packets of mixed traffic): the label, cut to fit, and its NUL. */
                size_t len = strnlen(scores[k].label, sizeof(e->attack_type) - 1);
                memcpy(e->attack_type, scores[k].label, len);
                e->attack_type[len] = '\0';
            } else if (recs[i].end == FLOW_RECORD_SNAPSHOT && !w->d->opt->flows_out) {
                worker_note(w, &recs[i], tag);
            }
        }
        atomic_fetch_add_explicit(&w->attacks, attacks, RELAXED);
    }
    model_unref(m);
    atomic_fetch_add_explicit(&w->scored, nf, RELAXED);
}

static void worker_push(struct worker *w, const struct flow_record *recs, size_t n)
{
    /* The stage reads only the records' heads (DD_RECORD_HEAD): pack them back to back. */
    static _Thread_local unsigned char heads[WORKER_BATCH * DD_RECORD_HEAD];
    const void *out = recs;
    if (w->out_elem != sizeof(*recs)) {
        for (size_t i = 0; i < n; i++)
            memcpy(heads + i * DD_RECORD_HEAD, &recs[i], DD_RECORD_HEAD);
        out = heads;
    }
    size_t done = 0;
    unsigned spins = 0;
    while (done < n) {
        done +=
            ring_spsc_push_burst(w->out, (const unsigned char *)out + done * w->out_elem, n - done);
        if (done == n)
            break;
        /* Live drops rather than stall the capture; the shutdown flush waits (the verdict
         * stage drains until every worker is done). */
        if (w->d->live && !atomic_load_explicit(&w->d->stop_capture, memory_order_acquire)) {
            atomic_fetch_add_explicit(&w->dropped, n - done, RELAXED);
            return;
        }
        ring_spsc_backoff(&spins);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct daemon *d = w->d;
    char name[16];
    snprintf(name, sizeof(name), "dd-infer%u", w->id);
    pthread_setname_np(pthread_self(), name);
    struct flow_record *recs = malloc(WORKER_BATCH * sizeof(*recs));
    if (!recs) {
        DD_ERROR("inference worker %u: out of memory; scoring stops", w->id);
        atomic_store_explicit(&w->done, true, memory_order_release);
        return NULL;
    }
    unsigned spins = 0;
    for (;;) {
        /* Read "every shard is done" before the last look at the rings, so nothing pushed
         * before a shard's release store can be missed. */
        bool shards_done = true;
        for (unsigned s = 0; s < d->nshards; s++)
            shards_done &= atomic_load_explicit(&d->shards[s].done, memory_order_acquire);
        bool got = false;
        for (unsigned s = 0; s < d->nshards; s++) {
            size_t n = ring_spsc_pop_burst(d->shards[s].to_worker[w->id], recs, WORKER_BATCH);
            if (n == 0)
                continue;
            got = true;
            worker_score(w, recs, n);
            worker_push(w, recs, n);
        }
        if (got) {
            spins = 0;
            continue;
        }
        if (shards_done)
            break;
        ring_spsc_backoff(&spins);
    }
    free(recs);
    atomic_store_explicit(&w->done, true, memory_order_release);
    return NULL;
}

int workers_create(struct daemon *d)
{
    d->workers = calloc(d->nworkers, sizeof(*d->workers));
    if (!d->workers)
        return -ENOMEM;
    for (unsigned i = 0; i < d->nworkers; i++) {
        d->workers[i].d = d;
        d->workers[i].id = i;
        d->workers[i].out_elem =
            d->opt->flows_out ? sizeof(struct flow_record) : (size_t)DD_RECORD_HEAD;
        d->workers[i].out = ring_spsc_create(DD_RECORD_RING, d->workers[i].out_elem);
        if (!d->workers[i].out)
            return -ENOMEM;
    }
    return 0;
}

int workers_start(struct daemon *d)
{
    for (unsigned i = 0; i < d->nworkers; i++) {
        if (pthread_create(&d->workers[i].thread, NULL, worker_main, &d->workers[i]) != 0)
            return -EAGAIN;
        d->workers[i].started = true;
    }
    return 0;
}

void workers_join(struct daemon *d)
{
    for (unsigned i = 0; d->workers && i < d->nworkers; i++)
        if (d->workers[i].started) {
            pthread_join(d->workers[i].thread, NULL);
            d->workers[i].started = false;
        }
}

void workers_destroy(struct daemon *d)
{
    for (unsigned i = 0; d->workers && i < d->nworkers; i++)
        ring_spsc_destroy(d->workers[i].out);
    free(d->workers);
    d->workers = NULL;
}
