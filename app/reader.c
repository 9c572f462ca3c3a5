/* reader.c - the capture reader thread and its burst rings (app/reader.h has the contract).
 *
 * Owns: the reader thread, the libpcap sources it opens (one file at a time), the decode of
 * every packet and the bursts being filled. Used by ddosd's offline replay (one consumer per
 * shard, app/shard.c) and by ddos-flows (one consumer, its main thread).
 *
 * DESIGN: reading a capture (kernel copies) and decoding is about a third of the per-packet work,
 * so it runs on its own thread and overlaps with the flow table instead of adding to it. Per
 * packet there is no allocation, no system call and no lock: with one consumer a packet is
 * decoded straight into the burst being filled; with several it is decoded on the stack, its
 * flow key hashed (the canonical key, so both directions of a flow meet) and copied into that
 * consumer's burst. A burst crosses to its consumer as an index on an SPSC ring, and comes back
 * the same way; when none is free the reader waits (lossless, back-pressure).
 *
 * Time: packet time only, except with realtime_speed > 0, where the reader sleeps until each
 * packet is due (monotonic clock) and first hands over what it holds, so consumers see what came
 * before a pause. May call: capture/, features/ (flow keys), common/. */
#include "app/reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "features/flow_table.h"

#define RELAXED       memory_order_relaxed
#define PUB(field, v) atomic_store_explicit(&(field), (v), RELAXED)

/* ---- burst rings ------------------------------------------------------------------------ */

int burst_ring_init(struct burst_ring *br, uint32_t count)
{
    memset(br, 0, sizeof(*br));
    br->bursts = calloc(count, sizeof(*br->bursts));
    br->full = ring_spsc_create(count, sizeof(uint32_t));
    br->free = ring_spsc_create(count, sizeof(uint32_t));
    if (!br->bursts || !br->full || !br->free)
        return -ENOMEM;
    br->count = count;
    for (uint32_t k = 0; k < count; k++)
        if (ring_spsc_push_burst(br->free, &k, 1) != 1) /* an empty ring of count: fits */
            return -ENOMEM;
    return 0;
}

void burst_ring_destroy(struct burst_ring *br)
{
    ring_spsc_destroy(br->full);
    ring_spsc_destroy(br->free);
    free(br->bursts);
    memset(br, 0, sizeof(*br));
}

struct pkt_burst *burst_ring_next(struct burst_ring *br)
{
    uint32_t idx;
    if (ring_spsc_pop_burst(br->full, &idx, 1) == 0)
        return NULL;
    return &br->bursts[idx];
}

void burst_ring_release(struct burst_ring *br, struct pkt_burst *b)
{
    uint32_t idx = (uint32_t)(b - br->bursts);
    size_t back = ring_spsc_push_burst(br->free, &idx, 1); /* room for every index */
    (void)back;
}

/* ---- the reader thread -------------------------------------------------------------------- */

static bool reader_stopping(const struct reader *r)
{
    return r->cfg.stop && atomic_load_explicit(r->cfg.stop, memory_order_acquire);
}

/* Takes a free burst of consumer `out`, waiting for one if needed. */
static struct pkt_burst *reader_take(struct reader *r, unsigned out)
{
    struct burst_ring *br = r->cfg.outs[out];
    uint32_t idx;
    unsigned spins = 0;
    while (ring_spsc_pop_burst(br->free, &idx, 1) == 0)
        ring_spsc_backoff(&spins);
    struct pkt_burst *b = &br->bursts[idx];
    b->kind = BURST_PACKETS;
    b->damaged = 0;
    b->n = 0;
    b->input = r->cur_input;
    return b;
}

/* Hands consumer out's current burst over (never fails: its full ring holds every index). */
static void reader_give(struct reader *r, unsigned out)
{
    struct burst_ring *br = r->cfg.outs[out];
    struct pkt_burst *b = r->cur[out];
    b->packets_read = r->packets;
    uint32_t idx = (uint32_t)(b - br->bursts);
    unsigned spins = 0;
    while (ring_spsc_push_burst(br->full, &idx, 1) == 0)
        ring_spsc_backoff(&spins);
    r->cur[out] = NULL;
}

/* Hands over every burst that holds packets. */
static void reader_flush_all(struct reader *r)
{
    for (unsigned i = 0; i < r->cfg.nouts; i++)
        if (r->cur[i] && r->cur[i]->n)
            reader_give(r, i);
}

/* Sends a marker (BURST_INPUT_END, BURST_ALL_END) to every consumer, after what they hold. */
static void reader_mark(struct reader *r, enum burst_kind kind, uint32_t input, bool damaged)
{
    reader_flush_all(r);
    for (unsigned i = 0; i < r->cfg.nouts; i++) {
        if (!r->cur[i])
            r->cur[i] = reader_take(r, i);
        r->cur[i]->kind = (uint8_t)kind;
        r->cur[i]->input = input;
        r->cur[i]->damaged = damaged;
        reader_give(r, i);
    }
}

static void reader_publish(struct reader *r)
{
    PUB(r->cap.packets, r->packets);
    PUB(r->cap.bytes, r->bytes);
    for (int k = 0; k < DECODE_STATUS_COUNT; k++)
        PUB(r->cap.decode[k], r->decode[k]);
}

/* realtime_speed > 0: sleeps until this packet's time has come (relative to the first packet of
 * the capture). */
static void reader_pace(struct reader *r, uint64_t ts_us)
{
    if (r->first_mono == 0) {
        r->first_mono = dd_mono_s();
        r->first_pkt_us = ts_us;
        return;
    }
    if (ts_us <= r->first_pkt_us)
        return;
    double due = r->first_mono + (double)(ts_us - r->first_pkt_us) / 1e6 / r->cfg.realtime_speed;
    double now = dd_mono_s();
    if (due - now > 0.0005) {
        reader_flush_all(r); /* the consumers see what came before the pause */
        struct timespec t = {(time_t)(due - now),
                             (long)(((due - now) - (time_t)(due - now)) * 1e9)};
        nanosleep(&t, NULL);
    }
}

/* Per packet: decode into the burst of the consumer its flow belongs to. Packet bytes are
 * borrowed from libpcap; only the decoded copy stays. */
static void reader_on_packet(void *user, const struct capture_packet *pkt)
{
    struct reader *r = user;
    r->packets++;
    r->bytes += pkt->wire_len;
    if (r->cfg.realtime_speed > 0)
        reader_pace(r, pkt->ts_us);
    if (r->cfg.nouts == 1) {
        if (!r->cur[0])
            r->cur[0] = reader_take(r, 0);
        struct pkt_burst *b = r->cur[0];
        enum decode_status st =
            decode_packet(r->linktype, pkt->data, pkt->caplen, pkt->wire_len, &b->pkts[b->n]);
        r->decode[st]++;
        if (st != DECODE_OK)
            return;
        b->ts[b->n++] = pkt->ts_us;
        /* With tick the burst goes after the dispatch, which delivers at most READER_BURST
         * packets: one burst per dispatch, never an extra empty one. */
        if (b->n == READER_BURST && !r->cfg.tick)
            reader_give(r, 0);
        return;
    }
    struct pkt_info info;
    enum decode_status st =
        decode_packet(r->linktype, pkt->data, pkt->caplen, pkt->wire_len, &info);
    r->decode[st]++;
    if (st != DECODE_OK)
        return;
    unsigned out = 0;
    struct flow_key key;
    struct flow_pkt fp;
    if (flow_key_from_packet(r->cfg.mode, &info, pkt->ts_us, &key, &fp))
        out = flow_key_hash(&key, r->dispatch_seed) % r->cfg.nouts;
    if (!r->cur[out])
        r->cur[out] = reader_take(r, out);
    struct pkt_burst *b = r->cur[out];
    b->pkts[b->n] = info;
    b->ts[b->n++] = pkt->ts_us;
    if (b->n == READER_BURST)
        reader_give(r, out);
}

static void reader_damage(struct reader *r, const char *msg, bool cut_short)
{
    atomic_store_explicit(&r->damaged, true, RELAXED);
    if (r->cfg.on_damage)
        r->cfg.on_damage(r->cfg.user, msg, cut_short);
}

/* Reads one source to its end (or until stopped). Returns true when it was cut short. */
static bool reader_run_source(struct reader *r, struct capture_source *src)
{
    bool damaged = false;
    r->linktype = capture_source_linktype(src);
    r->first_mono = 0; /* each capture is paced from its own first packet */
    atomic_store_explicit(&r->active, src, memory_order_release);
    while (!reader_stopping(r)) {
        int n = capture_source_dispatch(src, READER_BURST, reader_on_packet, r);
        reader_publish(r);
        if (r->cfg.tick) { /* even when empty: a live tick for wall-clock expiry */
            if (!r->cur[0])
                r->cur[0] = reader_take(r, 0);
            r->cur[0]->file_progress = capture_source_progress(src);
            reader_give(r, 0);
        }
        if (n == CAPTURE_END || n == CAPTURE_BROKEN)
            break;
        if (n == CAPTURE_FAILED) {
            char msg[CAPTURE_ERRBUF_SIZE + 64];
            snprintf(msg, sizeof(msg), "%s; keeping the %" PRIu64 " packets read so far",
                     capture_source_error(src), r->packets);
            reader_damage(r, msg, true);
            damaged = true;
            break;
        }
    }
    atomic_store_explicit(&r->active, NULL, memory_order_release);
    return damaged;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    pthread_setname_np(pthread_self(), "dd-reader"); /* `top -H` shows which stage is busy */
    if (r->cfg.live) {
        bool damaged = reader_run_source(r, r->cfg.live);
        if (r->cfg.mark_inputs)
            reader_mark(r, BURST_INPUT_END, 0, damaged);
    }
    for (size_t i = 0; !r->cfg.live && i < r->cfg.nfiles && !reader_stopping(r); i++) {
        r->cur_input = (uint32_t)i;
        atomic_store_explicit(&r->input, (uint32_t)i, RELAXED);
        char err[CAPTURE_ERRBUF_SIZE];
        struct capture_source *src =
            capture_source_open_file(r->cfg.files[i], &r->cfg.capture, err);
        if (!src) { /* it opened when the owner checked it: it changed under us */
            reader_damage(r, err, false);
            if (r->cfg.mark_inputs)
                reader_mark(r, BURST_INPUT_END, (uint32_t)i, true);
            continue;
        }
        if (!decode_linktype_supported(capture_source_linktype(src))) {
            /* The owners refuse these at start-up; one that changed since is not read (every
             * packet would be a decode error) and makes the run "cut short" (exit 2). */
            snprintf(err, sizeof(err), "%s: link type %d is not supported; not read",
                     r->cfg.files[i], capture_source_linktype(src));
            capture_source_close(src);
            reader_damage(r, err, true);
            if (r->cfg.mark_inputs)
                reader_mark(r, BURST_INPUT_END, (uint32_t)i, true);
            continue;
        }
        DD_INFO("reading %s (%zu/%zu)", r->cfg.files[i], i + 1, r->cfg.nfiles);
        bool damaged = reader_run_source(r, src);
        capture_source_close(src);
        if (r->cfg.mark_inputs)
            reader_mark(r, BURST_INPUT_END, (uint32_t)i, damaged);
    }
    reader_publish(r);
    reader_mark(r, BURST_ALL_END, r->cur_input, false);
    atomic_store_explicit(&r->finished, true, memory_order_release);
    return NULL;
}

int reader_start(struct reader *r, const struct reader_config *cfg)
{
    r->cfg = *cfg;
    r->dispatch_seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0)
        return -EAGAIN;
    r->started = true;
    return 0;
}

void reader_join(struct reader *r)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    r->started = false;
}

void reader_break(struct reader *r)
{
    struct capture_source *src = atomic_load_explicit(&r->active, memory_order_acquire);
    if (src)
        capture_source_break(src);
}
