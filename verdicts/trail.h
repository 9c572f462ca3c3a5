/* trail.h - the operator's trail: the recent attack events (episode start, level change, episode
 * end, report) and the open incidents with their traffic over time, kept in memory for the
 * dashboard and for /api/events, /api/incidents and /api/timeseries (docs/api.md).
 *
 * Threads: the verdict stage writes events and samples (trail_event_add, trail_sample_*); API
 * threads write reports (trail_event_add) and read everything. One mutex guards the whole trail;
 * every call holds it for a bounded copy (one event, one incident, or what a reader asked for),
 * never across I/O, so neither side waits long for the other. The stage calls it a few times per
 * second per incident, never per packet or per flow.
 *
 * DESIGN: events sit in a ring of TRAIL_EVENTS; each gets an id from 1 up that never repeats, so
 * a reader asks "since id N" and learns from the oldest id still held whether it missed some
 * (trail_events returns it). An incident is an open attack episode of one IP in one role: it
 * opens at the episode's start event, follows its level changes, and ends at its end event; its
 * slot (TRAIL_INCIDENTS of them) keeps a ring of TRAIL_POINTS samples of pps/bps, one per second
 * of the stage clock, and the episode's live peaks and top peers, copied from the verdict table.
 * An ended incident stays readable (with ended_ms set) until its slot is needed; a new incident
 * takes a free slot, else the one that ended first, else none (counted in incidents_dropped:
 * the events are still recorded). Everything is allocated once at create (about 4.1 MiB of
 * address space: 2.2 MiB of events, 1.9 MiB of incidents with their series; calloc'd, so pages
 * are touched as events and incidents come) and logged. */
#ifndef DD_VERDICTS_TRAIL_H
#define DD_VERDICTS_TRAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "verdicts/redis_sink.h"
#include "verdicts/verdict.h"

enum {
    TRAIL_EVENTS = 4096,   /* events kept */
    TRAIL_INCIDENTS = 256, /* incidents kept, open or recently ended */
    TRAIL_POINTS = 300,    /* samples per incident: 5 minutes at one per second */
    TRAIL_PEERS = REDIS_SINK_PEERS_MAX,
};

enum trail_event_kind {
    TRAIL_EVENT_START = 0, /* an episode began (level high or critical) */
    TRAIL_EVENT_LEVEL = 1, /* an open episode's level changed */
    TRAIL_EVENT_END = 2,   /* an episode ended */
    TRAIL_EVENT_REPORT = 3 /* an operator or gateway reported the IP */
};

/* One event; a value copied out to readers. */
struct trail_event {
    uint64_t id;        /* 1, 2, ... in the order recorded */
    uint64_t at_ms;     /* CLOCK_REALTIME when recorded */
    uint8_t kind;       /* enum trail_event_kind */
    uint8_t prev_level; /* TRAIL_EVENT_LEVEL: the level before; else the event's level */
    uint8_t peak_level; /* the episode's highest level so far (the report's level) */
    uint8_t npeers;
    /* The role's verdict at that moment: for START and END, pps/bps are the episode's peaks and
     * first_seen_us its start (verdict_table_sink.event). spoofed_sources counts a victim's
     * unblamed sources; peers are the top attackers of a victim, the victims of an attacker. */
    struct verdict v;
    struct redis_sink_peer peers[TRAIL_PEERS];
};

struct trail_point {
    uint64_t t_us; /* stage clock (packet time offline) */
    float pps, bps;
    uint8_t level;
};

/* One incident as a reader sees it (its series is read with trail_series). */
struct trail_incident {
    struct verdict v;     /* the role's latest verdict */
    uint64_t start_us;    /* the episode's start (stage clock) */
    uint64_t opened_ms;   /* CLOCK_REALTIME of its start event */
    uint64_t ended_ms;    /* CLOCK_REALTIME of its end event; 0 while open */
    uint64_t start_event; /* id of its start event */
    double peak_pps, peak_bps;
    uint8_t peak_level;
    uint8_t npeers;
    struct redis_sink_peer peers[TRAIL_PEERS]; /* most flows first */
    uint32_t npoints;
};

struct trail_stats {
    uint64_t events; /* recorded since create (the last id) */
    uint64_t incidents_open;
    uint64_t incidents_dropped; /* episodes without an incident slot (all were open) */
    uint64_t samples;           /* points recorded */
};

struct trail;

/* Allocates a trail (everything, once). NULL after logging why. */
DD_NODISCARD struct trail *trail_create(void);
/* Frees it. Accepts NULL. No thread may be using it. */
void trail_destroy(struct trail *t);

/* Records an event (copied). START opens the incident of (v's ip, v->role), LEVEL and END update
 * and end it; REPORT only records. peers (most flows first) may be NULL with npeers 0; more than
 * TRAIL_PEERS are ignored. Returns the event's id. Any thread. */
uint64_t trail_event_add(struct trail *t, enum trail_event_kind kind, const struct verdict *v,
                         uint8_t prev_level, const struct redis_sink_peer *peers, size_t npeers);

/* The open incidents' keys, for the stage's sampling: up to max (ip, version, role) triples
 * into out; returns how many. */
struct trail_key {
    uint8_t ip[16];
    uint8_t ip_version;
    uint8_t role;
};
size_t trail_open_keys(struct trail *t, struct trail_key *out, size_t max);

/* Adds one sample to the open incident of (v's ip, v->role) and refreshes its verdict, peaks and
 * peers (sorted, most flows first). Does nothing when it is not open. Any thread (the stage). */
void trail_sample(struct trail *t, const struct verdict *v, uint64_t t_us, double peak_pps,
                  double peak_bps, uint8_t peak_level, const struct redis_sink_peer *peers,
                  size_t npeers);

/* Copies up to max events with id > since, oldest first, whose IP is ip (ip_version 0: any; a
 * peer's address matches too) into out. *oldest gets the oldest id still held (0 when none):
 * a reader with since + 1 < *oldest missed events. Returns how many were copied. */
size_t trail_events(struct trail *t, uint64_t since, const uint8_t ip[16], uint8_t ip_version,
                    struct trail_event *out, size_t max, uint64_t *oldest);

/* Copies up to max incidents into out: the open ones first (highest level first, then the
 * highest pps), then those ended at or after ended_after_ms (most recent first). Returns how
 * many. */
size_t trail_incidents(struct trail *t, uint64_t ended_after_ms, struct trail_incident *out,
                       size_t max);

/* Copies the incident of (ip, role; role < 0: either, the open one or the latest) into *inc and
 * up to max of its points, oldest first, into pts (may be NULL with max 0). Returns the number
 * of points copied, or -ENOENT when the trail holds no incident for the IP. */
long trail_series(struct trail *t, const uint8_t ip[16], uint8_t ip_version, int role,
                  struct trail_incident *inc, struct trail_point *pts, size_t max);

/* The daemon's packet and flow rates for the dashboard's "now": given the totals at mono_ms, sets
 * *pps and *fps over the last second or more (0 until two samples a second apart exist). A
 * meter kept here because the trail is the dashboard's one shared state; any thread. */
void trail_rates(struct trail *t, uint64_t mono_ms, uint64_t packets, uint64_t flows, double *pps,
                 double *fps);

/* "start", "level", "end", "report". */
const char *trail_event_kind_name(enum trail_event_kind kind);

void trail_stats_get(struct trail *t, struct trail_stats *out);

#endif
