/* daemon.h - the parts of `ddosd` that its threads share: the pipeline's value types, the
 * per-stage state and counters, and the entry points of each stage (app/ is the only place that
 * knows every module; nothing outside app/ includes this).
 *
 * DESIGN: data flows one way through lock-free SPSC rings of values.
 *
 *   reader (offline only)          decodes captures, hashes each packet's flow to a shard
 *     --ring of burst indices-->   (app/reader.c; lossless: waits when a shard is behind)
 *   shard threads (1..N)           live: own libpcap handles in one AF_PACKET fanout group;
 *                                  decode (live), flow table, rate rules; flow ends and
 *                                  snapshots become struct flow_record with features
 *     --ring per (shard, worker)--> inference workers (1..W): model_score_batch (rate alerts
 *                                   ride the same rings, unscored, to keep their order)
 *     --ring per worker (scored)------> verdict stage (1 thread): verdict table, Redis sink,
 *                                       notify hook, verdict store (API), --verdicts-out,
 *                                       --flows-out
 *
 * Every mutable structure has one writing thread. Counters other threads read are C11 atomics,
 * stored relaxed by their owner once per burst (statistics, not synchronisation). Hand-overs
 * that order data (a stage is done) use release/acquire flags.
 *
 * Loss policy: offline (captures) nothing is lost: a full ring makes the producer wait. Live, a
 * full ring drops the record or alert and counts it: capture never blocks. */
#ifndef DD_APP_DAEMON_H
#define DD_APP_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api/api.h"
#include "app/reader.h"
#include "capture/decode.h"
#include "capture/source.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ring.h"
#include "features/feature_set.h"
#include "features/flow_table.h"
#include "inference/model.h"
#include "verdicts/notify.h"
#include "verdicts/rate_rules.h"
#include "verdicts/redis_conn.h"
#include "verdicts/redis_follow.h"
#include "verdicts/redis_sink.h"
#include "verdicts/verdict_store.h"
#include "verdicts/trail.h"
#include "verdicts/verdict_table.h"

enum {
    DD_BURST = READER_BURST, /* packets per burst */
    DD_NBURSTS = 64,         /* bursts per shard between reader and shard */
    DD_LIVE_TIMEOUT_MS = 10, /* live: longest a packet waits in a libpcap block (TPACKET_V3) */
    DD_RECORD_RING = 8192,   /* flow records per (shard, worker) ring and per worker ring */
    DD_RECORD_BATCH = 32,    /* records gathered before a ring push */
    DD_MAX_SHARDS = 64,
    DD_MAX_WORKERS = 64,
    DD_MAX_LIVE_SOURCES = 64, /* interfaces per shard */
};

/* The hash seed of the rate rules and the verdict table in offline replays (-r), where live
 * capture draws a random one at start-up. With a full table (a flood of spoofed sources) the
 * seed decides which addresses are evicted, and so what a replay reports: a random seed gave
 * each run of a million-source capture a different set of low verdicts. A replay must give the
 * same verdicts every time (evaluations, tests and comparisons of builds rest on it).
 * The trade-off: the seed is public, so traffic crafted in advance for a replay, or a crafted
 * capture file, can aim its sources at one probe window of the rate rules or one chain of the
 * verdict table's index. That costs lookups (CPU of the replay) and can evict the quietest
 * entries of a window, never a busy one, in a run with no live decisions hanging on it; live
 * traffic, which an attacker shapes while it is judged, keeps the random seed. */
#define DD_REPLAY_SEED 0x5851f42d4c957f2dull

/* flow_record.end for a snapshot of a running flow (flow_end values mean the flow ended). */
#define FLOW_RECORD_SNAPSHOT 0xff
/* flow_record.end for a rate alert riding the record stream (flow_record.alert is valid): alerts
 * and flow records of a shard then reach the verdict stage in the order the shard made them,
 * so a replay through one shard and one worker is judged the same way every time. */
#define FLOW_RECORD_ALERT 0xfe

/* One flow's features and, once scored, the model's view of it. Shard -> worker -> stage. */
struct flow_record {
    struct flow_evidence ev; /* the worker fills p_attack, is_attack, attack_type */
    uint8_t end;             /* enum flow_end, or FLOW_RECORD_SNAPSHOT */
    uint8_t shard;
    uint8_t prescored; /* 1: an end with nothing new since a report the model scored benign: ev
                          holds that score (p_attack, is_attack 0), feat is not filled and the
                          worker passes it on unscored (see struct score_note) */
    uint8_t pad;
    uint32_t slot; /* the flow's slot in its shard's table (flow_table_slot_of) */
    union {
        double feat[FEAT_COUNT]; /* end != FLOW_RECORD_ALERT */
        struct rate_alert alert; /* end == FLOW_RECORD_ALERT */
    };
};

/* The bytes of a record the verdict stage reads: everything but the feature vector (the alert
 * shares its place and is shorter). Workers push only these to the stage unless --flows-out
 * wants the vectors (struct worker.out_elem), so the stage's ring holds 352-byte elements, not
 * 816-byte ones. */
#define DD_RECORD_HEAD (offsetof(struct flow_record, alert) + sizeof(struct rate_alert))
_Static_assert(offsetof(struct flow_record, alert) == offsetof(struct flow_record, feat),
               "the alert and the vector share their place");
_Static_assert(DD_RECORD_HEAD % 8 == 0, "record heads stay 8-byte aligned back to back");

/* What a worker tells a shard about a snapshot it scored benign (worker -> shard, one ring per
 * pair): the shard notes it in the flow (user_tag, user_score) when the flow is still the same
 * and that snapshot is still its latest report, and the flow's end, if nothing new comes before
 * it, then carries that score instead of being scored again: same features, same model, same
 * result (a flow's vector depends only on its packets). A note that arrives late or not at all
 * only costs the rescoring; verdicts are the same either way. */
struct score_note {
    uint64_t first_us; /* the flow's first packet: a reused slot is another flow */
    uint32_t slot;
    uint32_t packets; /* the flow's packets at that snapshot (== pkts_at_report while latest) */
    float p_attack;
    uint8_t tag; /* SCORE_TAG(model generation) of the model that scored it */
};
/* A note is valid for the model generation it was scored with (a reload rescores). Never 0. */
#define SCORE_TAG(model_gen) ((uint8_t)(0x80u | ((model_gen)&0x7fu)))

struct daemon;

struct shard {
    struct daemon *d;
    unsigned id;
    pthread_t thread;
    bool started;
    struct flow_table *table;
    struct rate_rules *rules;
    struct ddosd_config *rules_cfg; /* this shard's copy of the rules (thresholds / shards) */
    uint64_t rules_gen;             /* the configuration generation rules_cfg follows */
    /* live */
    struct capture_source *sources[DD_MAX_LIVE_SOURCES];
    unsigned nsources;
    struct capture_counters cap; /* live: this shard's packets */
    /* offline: bursts from the reader (this shard is their consumer) */
    struct burst_ring in;
    /* out */
    struct ring_spsc **to_worker;   /* [nworkers]: flow records and rate alerts */
    struct ring_spsc **from_worker; /* [nworkers]: score notes (worker -> this shard) */
    unsigned next_worker;
    struct flow_record batch[DD_RECORD_BATCH];
    unsigned nbatch;
    /* shard-owned counters, published for the others */
    _Atomic uint64_t records_out, records_dropped, snapshots, alerts_out;
    _Atomic uint64_t prescored; /* flow ends sent with their last report's score */
    _Atomic uint64_t flows_created, flows_emitted, evictions, flows_active, flows_suppressed;
    _Atomic uint64_t flows_ended[FLOW_END_COUNT];
    _Atomic uint64_t rate_ips, rate_evictions, rate_alerting;
    _Atomic uint64_t rate_full_ips, rate_promotions, rate_promote_failed, rate_demotions;
    _Atomic uint64_t rate_clock_resets;
    _Atomic uint64_t clock_us; /* newest packet time seen */
    _Atomic bool done;         /* release: every record and alert of this shard is pushed */
    _Atomic bool failed;       /* a live source failed */
};

struct worker {
    struct daemon *d;
    unsigned id;
    pthread_t thread;
    bool started;
    struct ring_spsc *out; /* -> verdict stage */
    size_t out_elem;       /* bytes per record on out: DD_RECORD_HEAD, or the whole record when
                              --flows-out writes the vectors */
    _Atomic uint64_t scored, attacks, dropped;
    _Atomic uint64_t icmp_errors;   /* attack scores overruled: ICMP error flows (worker.c) */
    _Atomic uint64_t notes_dropped; /* score notes a full ring refused (a rescoring later) */
    _Atomic bool done;              /* release: everything popped was pushed on */
};

/* What the verdict stage publishes for the API and the minute log (under stats_lock). */
struct stage_snapshot {
    struct redis_sink_stats redis;
    struct verdict_table_stats table;
    struct notify_stats notify;
    uint64_t flows_in, alerts_in, reports_in, flows_out_rows, flows_out_errors;
    bool redis_enabled;
};

struct options {
    const char *config_path;
    const char *env_file;
    const char *verdicts_out;
    const char *flows_out;
    bool realtime;
    double realtime_speed; /* --realtime=SPEED; 1 by default */
    bool serve;
    bool dump_config;
    bool api_only; /* --api-only: serve the verdicts in Redis, no capture or model (api_only.c) */
    int workers;   /* 0: automatic */
    /* command-line overrides, applied over the file in order (kept for reloads) */
    struct override {
        const char *origin;
        const char *key; /* NULL: redis URL */
        const char **values;
        size_t n;
        bool list;
    } * overrides;
    size_t noverrides;
    const char **ifaces;
    size_t nifaces;
    const char **files;
    size_t nfiles;
};

struct daemon {
    struct options *opt;
    struct ddosd_config *cfg; /* current; main thread swaps on reload (old ones kept) */
    struct ddosd_config **retired;
    size_t nretired;
    _Atomic uint64_t cfg_gen; /* bumped (release) after cfg changes; stages re-read cfg */
    _Atomic(struct ddosd_config *) cfg_published;

    bool live;
    unsigned nshards, nworkers;
    struct shard *shards;
    struct worker *workers;
    char **files;
    size_t nfiles;
    struct reader reader; /* offline: reads files[], feeds every shard's burst ring */
    double realtime_speed;

    /* model: swapped on reload under model_lock; workers take a reference per batch */
    pthread_mutex_t model_lock;
    struct model *model;
    double threshold; /* < 0: the model's own */
    char model_version[VERDICT_MODEL_VERSION_MAX];
    char model_detail[API_DETAIL_MAX];
    _Atomic uint64_t model_gen;

    /* verdict stage */
    pthread_t stage_thread;
    bool stage_started;
    struct verdict_store *store;
    pthread_mutex_t report_lock;
    /* The report queue (stage.c): STAGE_REPORT_QUEUE entries each, double-buffered (the stage
     * swaps the two under report_lock and applies its half unlocked); NULL until stage_start. */
    struct verdict *reports, *reports_spare;
    unsigned nreports;
    _Atomic uint64_t reports_dropped;
    /* Addresses the verdict store may hold, a Bloom filter of STORE_MAYBE_BITS bits (stage.c,
     * store_maybe_*): set by the stage before each put and by stage_report (an API report is
     * merged into the store after its queueing); NULL until stage_start, freed by stage_join
     * under report_lock. */
    _Atomic uint64_t *store_maybe;
    pthread_mutex_t stats_lock;
    struct stage_snapshot snap;
    _Atomic bool stage_done;
    struct trail *trail; /* events and incidents for the dashboard (verdicts/trail.h) */

    /* lifecycle */
    _Atomic bool stop_capture;  /* main -> reader/shards: stop reading now */
    _Atomic bool stop_pipeline; /* main -> stage: finish when the workers are done */
    double start_wall;
    struct api_server *api;
    struct redis_follow *follow; /* the other sensors' verdicts into store (NULL: none) */
};

/* shard.c */
int shards_create(struct daemon *d, char *err, size_t err_len);
int shards_start(struct daemon *d);
void shards_join(struct daemon *d);
void shards_destroy(struct daemon *d);
void shards_break(struct daemon *d);

/* worker.c */
int workers_create(struct daemon *d);
int workers_start(struct daemon *d);
void workers_join(struct daemon *d);
void workers_destroy(struct daemon *d);
/* Takes a reference to the current model (NULL when none) and its threshold. */
struct model *daemon_model_acquire(struct daemon *d, double *threshold);

/* stage.c */
int stage_start(struct daemon *d, char *err, size_t err_len);
void stage_join(struct daemon *d);
/* Called from API threads: queue a report for the verdict stage. Returns 0, or -EAGAIN when
 * the queue is full (counted in reports_dropped; the API answers 503 with Retry-After). */
int stage_report(struct daemon *d, const struct verdict *v);

/* api_only.c */
/* `ddosd --api-only` after the configuration and logs are set up; returns the exit status. */
int api_only_main(const struct ddosd_config *cfg);
/* Connection parameters from redis.* (Sentinel carried in host_buf as "sentinel:NAME@..."). */
int daemon_redis_params(const struct ddosd_config *cfg, struct redis_conn_params *p, char *host_buf,
                        size_t host_len);
/* redis.required: one connect (through Sentinel when configured). 0, or < 0 with err set. */
int daemon_redis_probe(const struct ddosd_config *cfg, char *err, size_t err_len);

/* counters.c */
void counters_log(struct daemon *d, bool final);
size_t counters_fill(struct daemon *d, struct api_counter *out, size_t max);
void counters_health(struct daemon *d, struct api_health *out);

#endif
