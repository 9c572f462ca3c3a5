/* verdict_store.h - the verdicts the API serves: a concurrent map from IP address to the latest
 * published verdict, with a wall-clock expiry and a change sequence for decision streams.
 *
 * Threads: the verdict stage writes (verdict_store_put, _release, _remove, _expire); the API's
 * threads read (verdict_store_get, _top, _changes) and the API's report handler merges
 * (verdict_store_merge). Every function is thread-safe. The map is split into stripes, each with
 * its own pthread_rwlock, so readers of different addresses never contend and a reader never waits
 * for more than one writer's single-entry update. Nothing here is on the packet path: a put costs
 * a lock and a copy of 400 bytes.
 *
 * Time: expires_ms and now_ms are CLOCK_REALTIME milliseconds (verdict_store_now_ms): the API
 * answers in wall time (CrowdSec's `until`, Redis TTLs), while verdicts carry packet time.
 * An entry whose expires_ms <= now_ms is invisible to readers and is removed by the next
 * verdict_store_expire.
 *
 * Decisions: an entry is a *decision* (a ban a bouncer enforces, a 403 from /api/check) when
 * its level is one of the decision levels (default high and critical) AND its role one of the
 * decision roles (default attacker only: a victim is reported, never banned, unless the operator
 * lists "victim"). Every change
 * to an entry takes the next sequence number (1, 2, ...). When an entry stops being a decision
 * (it expired, was removed, or was replaced by a lower level) a tombstone records its address
 * and the sequence number of that change; tombstones are kept in a ring of bounded size, so a
 * reader that falls too far behind learns it (verdict_store_changes sets *complete = false) and
 * should start over from a full listing.
 *
 * Memory: the entry pool (capacity * 328 bytes) and its expiry timers (capacity * 12 bytes)
 * are reserved at create (on transparent huge pages where the kernel allows: RSS then grows in
 * 2 MiB steps) and touched only as entries are first used; an entry that ever had an operator
 * report merged into it also takes a 112-byte record of its report_* and base_* fields (from a pool
 * of capacity records, touched as used, given back when those fields are all zero again or the
 * entry goes). The tombstone ring is 32 bytes per tombstone. An entry that came from Redis (a
 * follower's put, verdict_store_put_views) also carries its sensors' views (struct verdict_views,
 * 776 bytes), kept beside its cold record: the array of capacity views is allocated at the first
 * such put (never on a sensor without a follower) and touched as used; the hot slot does not grow.
 */
#ifndef DD_VERDICTS_VERDICT_STORE_H
#define DD_VERDICTS_VERDICT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "verdicts/verdict.h"

struct verdict_store;

/* An expiry that moves by more than this is a new version of a decision (see decision_seq): a
 * firewall bouncer's timeout then trails ddosd's decision by at most this much. */
#define VERDICT_STORE_EXTEND_SLACK_MS 1000u

/* One published verdict as readers receive it (a copy). */
struct verdict_store_entry {
    struct verdict v;
    uint64_t expires_ms; /* CLOCK_REALTIME ms after which the entry is gone */
    uint64_t seq;        /* the change that wrote this version of the entry */
    /* The decision as bouncers see it (all 0 while the entry is not a decision). A bouncer holds
     * a ban (address, scenario from attack_type, expiry); only a change to those is news to it:
     * becoming a decision, another attack type, or an expiry that moved by more than
     * VERDICT_STORE_EXTEND_SLACK_MS from the one last announced (decision_until_ms). Each such
     * change gives the decision a new version, decision_seq (the change's seq), and
     * verdict_store_changes lists an entry by decision_seq, so a verdict republished every
     * 100 ms with a new score is not a new decision each time. decision_prev is the version it
     * replaced (0: none); decision_since the change at which the entry became a decision: a
     * reader whose cursor is at or past it already holds an earlier version, which the new one
     * *replaces* (decisions.c then sends both, the old one as deleted). */
    uint64_t decision_seq;
    uint64_t decision_prev;
    uint64_t decision_since;
    uint64_t decision_until_ms;
    /* The operator reports merged into the entry (verdict_store_merge): their highest level,
     * its role and attack type, and the latest report's expiry. Until report_until_ms a put
     * cannot lower the entry below them (0: no report). */
    uint64_t report_until_ms;
    double report_score;
    uint8_t report_level;
    uint8_t report_role;
    char report_attack_type[VERDICT_ATTACK_TYPE_MAX];
    /* The pipeline's own verdict under a live report (what the last put wrote before the report
     * was applied to it), restored when the report ends; base_expires_ms 0: none (the entry
     * ends with the report). */
    uint64_t base_expires_ms;
    double base_score;
    uint32_t base_reasons;
    uint8_t base_level;
    uint8_t base_role;
    char base_attack_type[VERDICT_ATTACK_TYPE_MAX];
};

/* An entry that stopped being a decision at change `seq`. */
struct verdict_store_tombstone {
    uint8_t ip[16];
    uint8_t ip_version;
    uint64_t seq;
};

struct verdict_store_stats {
    uint64_t entries;         /* live entries now (expired ones not yet removed included) */
    uint64_t capacity;        /* the most entries it will hold */
    uint64_t puts;            /* verdict_store_put and _merge calls that stored something */
    uint64_t full_drops;      /* puts refused because the store was full (see _put) */
    uint64_t expired;         /* entries removed by verdict_store_expire */
    uint64_t removed;         /* entries removed by verdict_store_remove */
    uint64_t decisions;       /* entries that are decisions now */
    uint64_t seq;             /* the last sequence number given */
    uint64_t tombstones_lost; /* tombstones overwritten in the ring (slow readers miss them) */
    uint64_t expire_visited;  /* entries verdict_store_expire looked at (its cost) */
    uint64_t wheel_rebases;   /* expiry wheels brought back to now: the wall clock came back
                                 more than a turn (512 s) after running ahead */
};

/* Which verdicts are decisions (config.json's `decisions`): both bits must be set. */
struct verdict_store_decisions {
    unsigned levels; /* bit i: threat level i (config.h's enum config_level_bits) */
    unsigned roles;  /* bit i: enum verdict_role i (config.h's enum config_role_bits) */
};

/* Creates a store for up to `capacity` entries (allocated once) with a ring of `tombstones`
 * entries (0 means 65536). dec is copied and taken as it is (levels or roles 0: no decisions at
 * all); NULL means the defaults, levels high|critical and role attacker. Returns NULL after
 * logging why. */
DD_NODISCARD struct verdict_store *verdict_store_create(uint32_t capacity, uint32_t tombstones,
                                                        const struct verdict_store_decisions *dec);

/* Frees the store. Accepts NULL. No thread may be using it. */
void verdict_store_destroy(struct verdict_store *s);

/* Inserts or replaces the entry of v's address with a copy of v (the pipeline's verdict), except
 * that a live operator report (see verdict_store_merge) holds: while report_until_ms is ahead,
 * the entry keeps the report's level (and role and attack type) when v's is lower, the higher
 * score, VERDICT_REASON_REPORT among its reasons, and an expiry no earlier than the report's.
 * A model that later calls a reported address low therefore cannot lower it before the report's
 * TTL ends; when it ends, verdict_store_expire puts v's own level, role, attack type, reasons,
 * score and expiry back (the base_* fields; within one expire pass, at most a second late). When
 * the store is full and the address is new, the entry replaces an expired entry (counted in
 * `expired`) or one of a strictly lower level than v (counted in full_drops as the loss of the old
 * one) among a few sampled, in its stripe first, then in other stripes not locked at that moment;
 * else it is refused (counted in full_drops). "Expired" here is judged on verdict_store_now_ms().
 * Returns 0, -EINVAL (ip_version neither 4 nor 6) or -ENOSPC. */
DD_NODISCARD int verdict_store_put(struct verdict_store *s, const struct verdict *v,
                                   uint64_t expires_ms);

/* verdict_store_put, and the entry's sensor views become *views (NULL or n 0: none; more than
 * VERDICT_VIEWS_MAX are cut and counted in omitted). The follower's put: a plain put keeps the
 * views an entry has (a sensor's own verdict beside the other sensors' views) unless the entry
 * had expired, a release that leaves a report standing drops them, and they go with the entry.
 * Views are not a change of the entry (no sequence number). Returns as put, or -ENOMEM when the
 * views could not be stored (the verdict is). */
DD_NODISCARD int verdict_store_put_views(struct verdict_store *s, const struct verdict *v,
                                         uint64_t expires_ms, const struct verdict_views *views);

/* Replaces only the sensor views of the address's entry (NULL: none), whatever its verdict (a
 * sensor's own verdict that it leads in Redis too). Returns 0, -ENOENT (no entry) or -ENOMEM. */
int verdict_store_set_views(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                            const struct verdict_views *views);

/* Records an operator report v, valid until expires_ms, and raises the entry of v's address
 * with it: the report is remembered in the entry (report_* fields; several reports keep the
 * highest level and the latest expiry) so later puts cannot lower it, and level and score become
 * the higher of the two, reasons the union, role v's when v's level is higher, attack_type v's when
 * v's level is higher or the entry has none (and v has one), spoofed_sources and its examples
 * v's when v counts more of them, last_seen the later one, expires_ms the later one; every other
 * field is kept from the existing entry. With no live entry (judged on verdict_store_now_ms()) it
 * inserts v as put would. Returns as put; on success
 * the merged entry is copied to *out when out is not NULL. */
DD_NODISCARD int verdict_store_merge(struct verdict_store *s, const struct verdict *v,
                                     uint64_t expires_ms, struct verdict_store_entry *out);

/* Removes the address's entry (tombstoned when it was a decision). Returns true when there was
 * one. */
bool verdict_store_remove(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version);

/* The pipeline no longer holds a verdict for the address (its verdict table let it expire):
 * removes the entry as verdict_store_remove does, except that an entry with a live operator
 * report falls back to the report alone (the report's level, role, attack type and score,
 * reasons VERDICT_REASON_REPORT, the report's expiry), so the pipeline forgetting an address
 * does not end a report's TTL. Returns true when there was an entry. */
bool verdict_store_release(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version);

/* Copies the live (not expired at now_ms) entry of an address into *out. Returns false when
 * there is none. */
DD_NODISCARD bool verdict_store_get(struct verdict_store *s, const uint8_t ip[16],
                                    uint8_t ip_version, uint64_t now_ms,
                                    struct verdict_store_entry *out);

/* verdict_store_get, and the entry's sensor views into *views (n 0 when it has none). */
DD_NODISCARD bool verdict_store_get_views(struct verdict_store *s, const uint8_t ip[16],
                                          uint8_t ip_version, uint64_t now_ms,
                                          struct verdict_store_entry *out,
                                          struct verdict_views *views);

/* True when the address has a live entry that is a decision (the `/api/check` fast path: no
 * copy). */
bool verdict_store_is_decision(struct verdict_store *s, const uint8_t ip[16], uint8_t ip_version,
                               uint64_t now_ms);

/* Removes entries expired at now_ms, visiting at most `budget` entries (0: no limit; the next
 * call goes on where a limited one stopped). An entry whose operator report ended at now_ms
 * falls back to the pipeline's verdict under it (see verdict_store_put), or is removed when
 * there is none or it expired too. Cost: the entries whose expiry or report end is due, plus
 * about one in 512 of the others per second elapsed since the last call (an expiry wheel of
 * 1.024 s ticks; nothing scans the store). Returns how many it removed. */
size_t verdict_store_expire(struct verdict_store *s, uint64_t now_ms, size_t budget);

/* Lists live entries of level >= min_level, worst first (level, then score, then last_seen, all
 * descending; then address ascending), at most `limit` (0: no limit). *out is malloc'd (free it
 * with free(); NULL when none). Returns the number listed, or -ENOMEM. */
DD_NODISCARD long verdict_store_list(struct verdict_store *s, enum threat_level min_level,
                                     size_t limit, uint64_t now_ms,
                                     struct verdict_store_entry **out);

/* What changed after sequence `since` (0: everything): *added gets the live decisions whose
 * decision_seq is > since (sorted by it: a new decision or a new version of one), *deleted the
 * tombstones whose seq is > since and whose address is not a live decision now (sorted by seq; one
 * per address, its latest). Both are malloc'd (free() them; NULL when empty). *next_since is the
 * sequence to pass next time: changes made while the call runs come in the next call, so every
 * change is reported exactly once. *complete is false when tombstones after `since` were already
 * overwritten (the reader missed deletions) or `since` is beyond the last sequence given (a cursor
 * from another store); since 0 is a full listing and always complete. Returns 0 or -ENOMEM.
 * O(entries): for polls, not for every request. */
DD_NODISCARD int verdict_store_changes(struct verdict_store *s, uint64_t since, uint64_t now_ms,
                                       struct verdict_store_entry **added, size_t *nadded,
                                       struct verdict_store_tombstone **deleted, size_t *ndeleted,
                                       uint64_t *next_since, bool *complete);

/* True when v (its level and role) would be a decision in this store: the predicate every
 * decision reader uses (/api/check, the CrowdSec endpoints, "decision" in verdict JSON). */
bool verdict_store_verdict_is_decision(const struct verdict_store *s, const struct verdict *v);

/* Copies the counters. */
void verdict_store_stats_get(struct verdict_store *s, struct verdict_store_stats *out);

/* CLOCK_REALTIME in milliseconds: the clock of expires_ms and of the readers' now_ms. */
static inline uint64_t verdict_store_now_ms(void)
{
    return dd_realtime_ms();
}

#endif
