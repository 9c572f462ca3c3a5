/* tg_engine.c - the generator's event loop, actor pool and output file; trafgen_run().
 *
 * Owns struct tg for the length of a run: the output buffer and FILE, the fixed pool of actors
 * (benign clients, TCP connections, UDP conversations, pings, attack sources, bots), the binary
 * min-heap of their next event times, and the order of start-up (servers, attack plan, pool,
 * clients, attack actors). Single-threaded; calls every other trafgen file.
 *
 * DESIGN
 * Every live actor has exactly one pending event in the heap. The loop pops the earliest, sets
 * the packet clock to it, lets the actor emit the packets due then and return the delay to its
 * next step (or TG_DONE, which frees the slot). Packet time therefore never goes backwards, and
 * the output depends only on the seed: the PRNG is the only source of choices, and equal times
 * are ordered by the heap's deterministic operations. An actor may spawn others at or after the
 * current time; since the heap's sift-up moves an entry only above a strictly later one, a
 * spawn never displaces the running actor from the root, which the loop relies on.
 *
 * Memory is allocated once, before the first packet: the pool is sized from the number of
 * clients and what the attack plan needs (bots, held connections), with headroom; a full pool
 * makes new sessions fail softly (counted in the manifest as sessions_dropped), it never grows.
 * The output goes through one 16 MB buffer handed to fwrite() unbuffered. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "trafgen/tg_internal.h"

void trafgen_config_defaults(struct trafgen_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->duration_s = 30;
    cfg->benign_clients = 200;
    cfg->start_epoch_s = TRAFGEN_DEFAULT_START;
    cfg->max_attack_packets = 2000000;
    cfg->mix = true;
}

/* ---- event heap and pool -------------------------------------------------------------------- */

static void tg_heap_sift_down(struct tg *g, uint32_t i)
{
    struct tg_event *h = g->heap;
    uint32_t n = g->heap_len;
    struct tg_event e = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].t_ns < h[c].t_ns)
            c++;
        if (h[c].t_ns >= e.t_ns)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static void tg_heap_push(struct tg *g, uint64_t t, uint32_t slot)
{
    struct tg_event *h = g->heap;
    uint32_t i = g->heap_len++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h[p].t_ns <= t) /* strict: never move above an equal time (see DESIGN) */
            break;
        h[i] = h[p];
        i = p;
    }
    h[i].t_ns = t;
    h[i].slot = slot;
}

struct tg_actor *tg_actor_spawn(struct tg *g, uint8_t kind, uint8_t label, uint64_t at)
{
    if (g->nfree == 0) {
        g->sessions_dropped++;
        return NULL;
    }
    uint32_t slot = g->free_stack[--g->nfree];
    struct tg_actor *a = &g->actors[slot];
    a->kind = kind;
    a->label = label;
    tg_heap_push(g, at < g->now_ns ? g->now_ns : at, slot);
    return a;
}

static uint64_t tg_actor_step(struct tg *g, struct tg_actor *a)
{
    switch (a->kind) {
    case TG_ACT_CLIENT:
        return tg_client_step(g, a);
    case TG_ACT_TCP:
        return tg_tcp_step(g, a);
    case TG_ACT_UDP:
        return tg_udp_step(g, a);
    case TG_ACT_PING:
        return tg_ping_step(g, a);
    case TG_ACT_FLOOD:
        return tg_flood_step(g, a);
    case TG_ACT_BOT:
        return tg_bot_step(g, a);
    case TG_ACT_SITE:
        return tg_site_step(g, a);
    case TG_ACT_STREAM:
        return tg_stream_step(g, a);
    default:
        return TG_DONE;
    }
}

static int tg_loop(struct tg *g)
{
    while (g->heap_len > 0 && g->heap[0].t_ns < g->end_ns) {
        g->now_ns = g->heap[0].t_ns;
        uint32_t slot = g->heap[0].slot;
        uint64_t d = tg_actor_step(g, &g->actors[slot]);
        if (d == TG_DONE) {
            g->heap[0] = g->heap[--g->heap_len];
            if (g->heap_len > 0)
                tg_heap_sift_down(g, 0);
            g->free_stack[g->nfree++] = slot;
        } else {
            g->heap[0].t_ns = g->now_ns + d;
            tg_heap_sift_down(g, 0);
        }
        if (DD_UNLIKELY(g->write_err != 0))
            return g->write_err;
    }
    return tg_out_flush(g);
}

/* Slots for everything that can be alive at once, with headroom. */
static uint32_t tg_pool_size(const struct tg *g)
{
    uint64_t n = 4096 + (uint64_t)g->nclients * 24 + tg_sites_pool_need(g);
    for (uint32_t i = 0; i < g->ninst; i++) {
        const struct tg_attack *a = &g->inst[i].a;
        if (g->inst[i].scenario == TG_SC_HTTP_FLOOD)
            n += a->bots + (uint64_t)(a->bots * a->conn_rate * 30) + 1024;
        else if (g->inst[i].scenario == TG_SC_SLOW_HTTP)
            n += a->bots + a->conns_target * 2 + 256;
        else
            n += 1;
    }
    return n > (1u << 22) ? 1u << 22 : (uint32_t)n;
}

static double tg_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void tg_free(struct tg *g)
{
    if (g == NULL)
        return;
    if (g->fp != NULL)
        fclose(g->fp);
    if (g->mfp != NULL)
        fclose(g->mfp);
    for (uint32_t i = 0; i < TRAFGEN_MAX_INSTANCES; i++) {
        free(g->inst[i].replies);
        json_decref(g->inst[i].params);
    }
    free(g->out);
    free(g->scratch);
    free(g->actors);
    free(g->free_stack);
    free(g->heap);
    free(g->clients);
    free(g->sites);
    json_decref(g->sites_json);
    free(g);
}

int trafgen_run(const struct trafgen_config *cfg, struct trafgen_stats *stats)
{
    if (cfg->pcap_path == NULL || cfg->manifest_path == NULL || !(cfg->duration_s > 0) ||
        cfg->duration_s > 86400 || cfg->benign_clients > TRAFGEN_MAX_CLIENTS ||
        cfg->n_instances > TRAFGEN_MAX_INSTANCES || (cfg->snaplen && cfg->snaplen < 128) ||
        cfg->snaplen > 65535) {
        fprintf(stderr, "ddos-trafgen: invalid configuration\n");
        return -EINVAL;
    }
    int rc = -ENOMEM;
    double t0 = tg_clock_s();
    struct tg *g = calloc(1, sizeof *g);
    if (g == NULL)
        goto fail;
    g->cfg = cfg;
    g->one_way = cfg->one_way;
    g->snaplen = cfg->snaplen ? cfg->snaplen : 65535;
    g->start_ns = cfg->start_epoch_s * TG_NS_S;
    g->end_ns = g->start_ns + (uint64_t)(cfg->duration_s * 1e9);
    g->now_ns = g->start_ns;
    tg_rng_seed(&g->rng, cfg->seed);
    g->nclients = cfg->benign_clients;
    g->out = malloc(TG_OUT_CAP);
    g->scratch = malloc(TG_SCRATCH_CAP);
    g->clients = calloc(g->nclients ? g->nclients : 1, sizeof *g->clients);
    if (g->out == NULL || g->scratch == NULL || g->clients == NULL)
        goto fail;

    tg_servers_setup(g);
    rc = tg_attack_plan(g);
    if (rc < 0)
        goto fail;
    rc = tg_sites_plan(g);
    if (rc < 0)
        goto fail;
    rc = -ENOMEM;
    g->cap = tg_pool_size(g);
    g->actors = calloc(g->cap, sizeof *g->actors);
    g->free_stack = malloc(g->cap * sizeof *g->free_stack);
    g->heap = malloc(g->cap * sizeof *g->heap);
    if (g->actors == NULL || g->free_stack == NULL || g->heap == NULL)
        goto fail;
    for (uint32_t i = 0; i < g->cap; i++) /* slot 0 is handed out first */
        g->free_stack[i] = g->cap - 1 - i;
    g->nfree = g->cap;
    if (tg_clients_setup(g) < 0 || tg_sites_start(g) < 0 || tg_attack_start(g) < 0) {
        fprintf(stderr, "ddos-trafgen: actor pool of %u slots too small at start-up\n", g->cap);
        goto fail;
    }

    g->fp = fopen(cfg->pcap_path, "wb");
    if (g->fp == NULL) {
        rc = -errno;
        fprintf(stderr, "ddos-trafgen: cannot create %s: %s\n", cfg->pcap_path, strerror(errno));
        goto fail;
    }
    setvbuf(g->fp, NULL, _IONBF, 0); /* writes are already 16 MB blocks */
    g->mfp = fopen(cfg->manifest_path, "w");
    if (g->mfp == NULL) {
        rc = -errno;
        fprintf(stderr, "ddos-trafgen: cannot create %s: %s\n", cfg->manifest_path,
                strerror(errno));
        goto fail;
    }
    g->out_len = tg_pcap_file_header(g->out, g->snaplen);

    rc = tg_loop(g);
    if (rc == 0 && fclose(g->fp) != 0)
        rc = -errno;
    g->fp = NULL;
    if (rc < 0) {
        fprintf(stderr, "ddos-trafgen: writing %s failed: %s\n", cfg->pcap_path, strerror(-rc));
        goto fail;
    }
    rc = tg_manifest_write(g);
    if (rc < 0)
        goto fail;
    if (stats != NULL) {
        stats->packets = g->packets;
        stats->wire_bytes = g->wire_bytes;
        stats->file_bytes = g->file_bytes;
        stats->suppressed = g->suppressed;
        stats->n_instances = g->ninst;
        stats->elapsed_s = tg_clock_s() - t0;
    }
    tg_free(g);
    return 0;
fail:
    if (rc == -ENOMEM)
        fprintf(stderr, "ddos-trafgen: out of memory\n");
    tg_free(g);
    return rc;
}
