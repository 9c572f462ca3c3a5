/* notify.h - the notify hook: a configured script runs on attack start and end with the event as
 * JSON on its stdin, without ever blocking the pipeline.
 *
 * One owning thread (the verdict stage) makes every call on a struct notify: notify_post() from
 * wherever it decides an attack started or ended, notify_poll() once per loop iteration (a few
 * times a second is enough; a job's latency is one poll interval). There are no locks or threads.
 *
 * The script is run directly (posix_spawn, no shell) with no arguments, in its own process group,
 * with the default signal dispositions and an empty signal mask, stdin the event JSON followed by
 * EOF, stdout and stderr /dev/null, and the daemon's environment. Exit status 0 counts as
 * succeeded; any other exit, a death by signal or a failure to start counts as failed; a job still
 * running timeout_ms after it started is killed with SIGKILL (its whole process group) and counts
 * as timed_out. Do not set SIGCHLD to SIG_IGN in the daemon: children would then be reaped by the
 * kernel and count as failed.
 *
 * The process need not ignore SIGPIPE: a script that exits without reading its stdin costs an
 * EPIPE here, never a signal. */
#ifndef DD_VERDICTS_NOTIFY_H
#define DD_VERDICTS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "verdicts/verdict.h"

/* The largest event notify_post() accepts (bytes, without the NUL); larger ones are dropped. */
#define NOTIFY_EVENT_MAX (64u * 1024u)

struct notify;

/* Counters since notify_create; queued and running are the current depths. */
struct notify_stats {
    uint64_t posted;    /* accepted by notify_post */
    uint64_t dropped;   /* refused by notify_post (queue full, too big, out of memory) or
                           discarded unstarted by notify_destroy */
    uint64_t started;   /* spawned */
    uint64_t succeeded; /* exited 0 */
    uint64_t failed;    /* could not be spawned, exited non-zero or died by a signal */
    uint64_t timed_out; /* killed after timeout_ms */
    uint32_t queued;
    uint32_t running;
};

/* Creates a hook running `script` (an executable path, copied). timeout_ms bounds each run (0
 * means 10000), max_running the scripts alive at once (0 means 4), queue_len the events waiting
 * for a free slot (0 means 64). A script that is missing or not executable is logged as a warning
 * but accepted: each event then counts as failed (it may be installed later). Returns NULL after
 * logging why (script NULL or empty, out of memory). */
DD_NODISCARD struct notify *notify_create(const char *script, unsigned timeout_ms,
                                          unsigned max_running, unsigned queue_len);

/* Queues a copy of event_json (NUL-terminated) for the script. Never blocks and never spawns:
 * the event starts at the next notify_poll(). Returns false and counts a drop when the queue is
 * full, the event is empty or longer than NOTIFY_EVENT_MAX, or memory ran out. */
bool notify_post(struct notify *n, const char *event_json);

/* Does the waiting work without blocking: reaps finished scripts (waitpid WNOHANG), kills those
 * past their timeout, feeds stdin to running scripts (non-blocking pipes), and starts queued
 * events while fewer than max_running scripts run. Costs a few syscalls per running job. */
void notify_poll(struct notify *n);

/* Copies the counters into *out. */
void notify_stats_get(const struct notify *n, struct notify_stats *out);

/* Keeps polling (starting queued events too) for up to wait_ms or until nothing is queued or
 * running, then kills and reaps whatever still runs (counted as timed_out) and discards what
 * is still queued (counted as dropped), and frees n. Blocks up to wait_ms plus the reaping of
 * killed children. Accepts NULL. */
void notify_destroy(struct notify *n, unsigned wait_ms);

/* Formats the event for verdict v as one JSON object into buf (NUL-terminated), in the verdict
 * wire format of verdicts/verdict_json.h (verdict_json_event):
 *   {"event": kind, "ip", "role", "threat_level", "score", "attack_type", "reasons": [names],
 *    "pps", "bps", "spoofed_sources": N, "spoofed_examples": [addresses of the used slots],
 *    "start": ISO 8601 UTC of first_seen_us (microseconds), "peak_pps", "peak_bps",
 *    "top_peers": [{"ip", "role", "threat_level", "score", "pps", "bps"}...], "sensor"}
 * kind is "attack_start" or "attack_end" (any string is passed through). A verdict carries only
 * its latest smoothed rates, so peak_pps/peak_bps are v's pps/bps: a caller that tracks peaks
 * passes a copy of v with pps/bps set to the peak at attack_end. peers (the attackers of a
 * victim, the victims of an attacker) may be NULL when npeers is 0. A string that is not valid
 * UTF-8 and a rate that is not finite are null. Returns the JSON length (without the NUL), or 0
 * when it does not fit in len; buf then holds "". */
size_t notify_event_json(char *buf, size_t len, const char *kind, const struct verdict *v,
                         const struct verdict *peers, size_t npeers);

#endif
