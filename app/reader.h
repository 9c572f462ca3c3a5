/* reader.h - the capture reader that ddosd (offline) and ddos-flows share: one thread that reads
 * captures in order (or one live source), decodes every packet and hands bursts of decoded
 * packets to one or more consumers over burst rings.
 *
 * A burst ring is a fixed set of preallocated bursts and two SPSC rings of burst indices: "full"
 * (reader -> consumer) and "free" (consumer -> reader). Bursts never move and are never
 * allocated after start-up; only indices cross threads. The reader is the only producer of every
 * full ring and the only consumer of every free ring; each consumer owns the other ends of its
 * own pair.
 *
 * Loss policy: none. When a consumer has no free burst left the reader waits for one
 * (back-pressure): a replay is read completely and in order whatever the machine's speed.
 *
 * Thread contract: reader_start and reader_join are called by the owner; reader_break from any
 * thread or a signal handler; the published fields (cap, input, damaged, finished) may be read
 * by anyone. */
#ifndef DD_APP_READER_H
#define DD_APP_READER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "capture/source.h"
#include "common/ring.h"
#include "features/feature_set.h"

enum {
    READER_BURST = 256,   /* packets per burst (and per capture_source_dispatch) */
    READER_MAX_OUTS = 64, /* consumers of one reader */
};

enum burst_kind {
    BURST_PACKETS = 0,   /* n decoded packets (n may be 0: a live tick, see reader_config.tick) */
    BURST_INPUT_END = 1, /* input `input` ended (reader_config.mark_inputs); damaged says how */
    BURST_ALL_END = 2,   /* nothing follows: every input was read, or the reader was stopped */
};

/* One unit of work from the reader to a consumer. */
struct pkt_burst {
    uint8_t kind;          /* enum burst_kind */
    uint8_t damaged;       /* BURST_INPUT_END: the input could not be opened or was cut short */
    uint32_t n;            /* BURST_PACKETS: packets in pkts and ts */
    uint32_t input;        /* index of the input these packets (or this end) belong to */
    uint64_t packets_read; /* the reader's packet count when it handed the burst over */
    double file_progress;  /* reader_config.tick: fraction of the file read; < 0 live */
    struct pkt_info pkts[READER_BURST];
    uint64_t ts[READER_BURST]; /* packet time, microseconds */
};

struct burst_ring {
    struct pkt_burst *bursts;
    uint32_t count;
    struct ring_spsc *full; /* reader -> consumer: indices of filled bursts */
    struct ring_spsc *free; /* consumer -> reader: indices of bursts to refill */
};

/* Allocates count bursts (a power of two) and their rings, every burst free. 0 or -ENOMEM (then
 * burst_ring_destroy cleans up). */
int burst_ring_init(struct burst_ring *br, uint32_t count);

/* Frees what burst_ring_init allocated; accepts a zeroed or half-built ring. */
void burst_ring_destroy(struct burst_ring *br);

/* Consumer: the next filled burst, or NULL when none is waiting. */
struct pkt_burst *burst_ring_next(struct burst_ring *br);

/* Consumer: hands a burst from burst_ring_next back for refilling. Never fails: the free ring
 * has room for every burst. */
void burst_ring_release(struct burst_ring *br, struct pkt_burst *b);

/* Counters of one packet source (the reader, or a live ddosd shard). The owner stores them
 * relaxed once per dispatch; anyone loads them (statistics, not synchronisation). */
struct capture_counters {
    _Atomic uint64_t packets;
    _Atomic uint64_t bytes;
    _Atomic uint64_t decode[DECODE_STATUS_COUNT];
    _Atomic uint64_t kernel_received;
    _Atomic uint64_t kernel_dropped;
    _Atomic uint64_t if_dropped;
};

struct reader_config {
    char **files; /* read in this order (borrowed until reader_join) */
    size_t nfiles;
    struct capture_source *live;    /* read instead of files until stopped (borrowed), or NULL */
    struct capture_options capture; /* how the files are opened (borrowed strings) */
    struct burst_ring *outs[READER_MAX_OUTS]; /* one per consumer (borrowed) */
    unsigned nouts;                           /* 1..READER_MAX_OUTS */
    /* nouts > 1: a packet goes to out flow_key_hash(its flow key in this mode, a seed) % nouts,
     * so both directions of a flow reach the same consumer. */
    enum feat_mode mode;
    double realtime_speed; /* > 0: packets are handed over at this multiple of capture time */
    /* Hand the burst over after every dispatch, even empty, with file_progress: the consumer
     * sees progress and, live, a tick when the link is quiet. Otherwise bursts go when full (or
     * before a realtime pause, or at the end). Either way no packet waits past the end. One
     * consumer only (nouts == 1). */
    bool tick;
    bool mark_inputs;         /* a BURST_INPUT_END after each input, to every consumer */
    const _Atomic bool *stop; /* the owner's stop flag: checked before every dispatch */
    /* An input could not be opened (cut_short false) or ended early (cut_short true): a one-line
     * message for the owner to log. Called on the reader thread. */
    void (*on_damage)(void *user, const char *msg, bool cut_short);
    void *user;
};

struct reader {
    struct reader_config cfg;
    pthread_t thread;
    bool started;
    /* published by the reader thread, relaxed unless noted */
    struct capture_counters cap;
    _Atomic uint32_t input;                  /* index of the input being read */
    _Atomic bool damaged;                    /* an input could not be opened or was cut short */
    _Atomic bool finished;                   /* release: every consumer was sent BURST_ALL_END */
    _Atomic(struct capture_source *) active; /* the source being read (reader_break) */
    /* reader thread only */
    int linktype;
    uint64_t dispatch_seed;
    uint32_t cur_input;
    struct pkt_burst *cur[READER_MAX_OUTS]; /* the burst being filled per consumer, or NULL */
    uint64_t packets, bytes;
    uint64_t decode[DECODE_STATUS_COUNT];
    uint64_t first_pkt_us; /* realtime: packet time first_pkt_us is monotonic time first_mono */
    double first_mono;
};

/* Starts the reader thread on a zeroed struct reader. 0, or -EAGAIN when no thread could be
 * started (nothing to join then). */
int reader_start(struct reader *r, const struct reader_config *cfg);

/* Waits for the reader thread to finish (it ends by itself after the last input, or soon after
 * *cfg.stop is set). No-op when it was not started. */
void reader_join(struct reader *r);

/* Makes the dispatch in progress return now (the source counts as ended, not damaged).
 * Async-signal-safe; the caller also sets its stop flag when it means to stop. */
void reader_break(struct reader *r);

#endif
