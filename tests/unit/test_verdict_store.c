/* test_verdict_store.c - unit tests of verdicts/verdict_store.c: put/get/replace, address
 * families, expiry, a full store, report merges, listings, the change stream with tombstones,
 * decisions, sensor views (kept beside the cold record, through puts, reports and reuse), the
 * expiry wheel (its cost, and the same result as a full scan), and readers racing a writer (run it
 * under -fsanitize=thread too). Expiry times are explicit arguments, so only merge (which judges
 * liveness on the wall clock) needs real time, and then with margins of an hour. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"
#include "verdicts/verdict_store.h"

#define HOUR_MS 3600000ull

static uint64_t now_ms;

static int setup(void **state)
{
    (void)state;
    log_configure(stderr, LOG_LEVEL_WARN);
    now_ms = verdict_store_now_ms();
    return 0;
}

static struct verdict mkv(const char *ip, enum threat_level level, double score)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse(ip, &v), 0);
    v.level = (uint8_t)level;
    v.score = score;
    v.role = VERDICT_ROLE_ATTACKER;
    v.last_seen_us = 1000;
    snprintf(v.sensor, sizeof(v.sensor), "test");
    return v;
}

static void put_ok(struct verdict_store *s, const struct verdict *v, uint64_t expires)
{
    assert_int_equal(verdict_store_put(s, v, expires), 0);
}

static bool get(struct verdict_store *s, const char *ip, uint64_t at,
                struct verdict_store_entry *out)
{
    struct verdict k = mkv(ip, THREAT_LOW, 0);
    return verdict_store_get(s, k.ip, k.ip_version, at, out);
}

static bool is_dec(struct verdict_store *s, const char *ip, uint64_t at)
{
    struct verdict k = mkv(ip, THREAT_LOW, 0);
    return verdict_store_is_decision(s, k.ip, k.ip_version, at);
}

/* Would a verdict of this level and role be a decision in s? */
static bool dec_of(const struct verdict_store *s, enum threat_level level, enum verdict_role role)
{
    struct verdict v = mkv("192.0.2.1", level, 0);
    v.role = (uint8_t)role;
    return verdict_store_verdict_is_decision(s, &v);
}

static bool lvl_dec(const struct verdict_store *s, enum threat_level level)
{
    return dec_of(s, level, VERDICT_ROLE_ATTACKER);
}

static void test_verdict_store_put_get_replace(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(128, 0, NULL);
    assert_non_null(s);
    struct verdict v = mkv("192.0.2.7", THREAT_HIGH, 0.9);
    v.pps = 1234;
    snprintf(v.attack_type, sizeof(v.attack_type), "syn_flood");
    put_ok(s, &v, 5000);

    struct verdict_store_entry e;
    assert_true(get(s, "192.0.2.7", 100, &e));
    assert_memory_equal(&e.v, &v, sizeof(v));
    assert_int_equal(e.expires_ms, 5000);
    assert_int_equal(e.seq, 1);
    assert_false(get(s, "192.0.2.8", 100, &e));

    v.level = THREAT_MEDIUM;
    v.pps = 99;
    put_ok(s, &v, 6000);
    assert_true(get(s, "192.0.2.7", 100, &e));
    assert_int_equal(e.v.level, THREAT_MEDIUM);
    assert_true(e.v.pps == 99);
    assert_int_equal(e.expires_ms, 6000);
    assert_int_equal(e.seq, 2);

    struct verdict bad = v;
    bad.ip_version = 5;
    assert_int_equal(verdict_store_put(s, &bad, 6000), -EINVAL);

    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.capacity, 128);
    assert_int_equal(st.puts, 2);
    assert_int_equal(st.seq, 2);
    assert_int_equal(st.decisions, 0);
    assert_true(verdict_store_remove(s, v.ip, v.ip_version));
    assert_false(verdict_store_remove(s, v.ip, v.ip_version));
    assert_false(get(s, "192.0.2.7", 100, &e));
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.removed, 1);
    verdict_store_destroy(s);
    verdict_store_destroy(NULL);
}

static void test_verdict_store_ipv4_ipv6_distinct(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    /* Same 16 bytes (1.2.3.4 and 102:304::), different families. */
    struct verdict a = mkv("1.2.3.4", THREAT_HIGH, 0.5);
    struct verdict b = mkv("102:304::", THREAT_LOW, 0.1);
    assert_memory_equal(a.ip, b.ip, 16);
    put_ok(s, &a, 5000);
    put_ok(s, &b, 5000);
    struct verdict_store_entry e;
    assert_true(get(s, "1.2.3.4", 0, &e));
    assert_int_equal(e.v.level, THREAT_HIGH);
    assert_int_equal(e.v.ip_version, 4);
    assert_true(get(s, "102:304::", 0, &e));
    assert_int_equal(e.v.level, THREAT_LOW);
    assert_int_equal(e.v.ip_version, 6);
    assert_true(is_dec(s, "1.2.3.4", 0));
    assert_false(is_dec(s, "102:304::", 0));
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 2);
    verdict_store_destroy(s);
}

/* What one verdict_store_changes call gave back. */
struct changes {
    struct verdict_store_entry *added;
    size_t na;
    struct verdict_store_tombstone *deleted;
    size_t nd;
    uint64_t next;
    bool complete;
};

/* verdict_store_changes(s, since, at) into *ch; fails the test on an error. */
static void changes(struct verdict_store *s, uint64_t since, uint64_t at, struct changes *ch)
{
    assert_int_equal(verdict_store_changes(s, since, at, &ch->added, &ch->na, &ch->deleted, &ch->nd,
                                           &ch->next, &ch->complete),
                     0);
}

static void test_verdict_store_expiry_invisible_then_removed(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    struct verdict v = mkv("198.51.100.1", THREAT_CRITICAL, 1.0);
    struct verdict w = mkv("198.51.100.2", THREAT_LOW, 0);
    put_ok(s, &v, 1000);
    put_ok(s, &w, 9000);
    struct verdict_store_entry e;
    assert_true(get(s, "198.51.100.1", 999, &e));
    assert_true(is_dec(s, "198.51.100.1", 999));
    assert_false(get(s, "198.51.100.1", 1000, &e));
    assert_false(is_dec(s, "198.51.100.1", 1000));
    struct verdict_store_entry *list = NULL;
    assert_int_equal(verdict_store_list(s, THREAT_LOW, 0, 1000, &list), 1);
    assert_int_equal(list[0].v.ip[3], 2);
    free(list);

    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 2); /* invisible, not yet removed */
    assert_int_equal(verdict_store_expire(s, 1000, 0), 1);
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.decisions, 0);
    assert_int_equal(verdict_store_expire(s, 1000, 0), 0);
    assert_true(get(s, "198.51.100.2", 1000, &e));

    /* The expired decision left a tombstone. */
    struct changes ch;
    changes(s, 1, 1000, &ch);
    assert_int_equal(ch.na, 0);
    assert_null(ch.added);
    assert_int_equal(ch.nd, 1);
    assert_int_equal(ch.deleted[0].ip[3], 1);
    assert_int_equal(ch.deleted[0].ip_version, 4);
    assert_true(ch.complete);
    free(ch.deleted);
    verdict_store_destroy(s);
}

static void test_verdict_store_expire_budget_round_robin(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(4096, 0, NULL);
    assert_non_null(s);
    char ip[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        struct verdict v = mkv(ip, THREAT_LOW, 0);
        put_ok(s, &v, 10);
    }
    size_t total = 0;
    int calls = 0;
    while (total < 1000 && calls < 10000) {
        size_t n = verdict_store_expire(s, 10, 16);
        assert_true(n <= 64); /* a budget of 16 plus at most the rest of a short chain */
        total += n;
        calls++;
    }
    assert_int_equal(total, 1000);
    assert_true(calls > 1000 / 64);
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 0);
    verdict_store_destroy(s);
}

/* Expiry costs what expires, not the store's size (an expiry wheel; a full scan of 20,000
 * entries every second took 4 % of the API's core and stalled its readers). */
static void test_verdict_store_expire_cost_follows_what_expires(void **state)
{
    (void)state;
    enum { LONG = 20000, SHORT = 100 };
    struct verdict_store *s = verdict_store_create(32768, 0, NULL);
    assert_non_null(s);
    uint64_t t0 = now_ms;
    char ip[32];
    for (int i = 0; i < LONG; i++) { /* expiring over the next two hours, one tick in 80 */
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
        struct verdict v = mkv(ip, THREAT_HIGH, 0.5);
        put_ok(s, &v, t0 + HOUR_MS + (uint64_t)i * 180);
    }
    for (int i = 0; i < SHORT; i++) {
        snprintf(ip, sizeof(ip), "10.2.0.%d", i);
        struct verdict v = mkv(ip, THREAT_HIGH, 0.5);
        put_ok(s, &v, t0 + 3000);
    }
    assert_int_equal(verdict_store_expire(s, t0, 0), 0); /* the first pass may look at all */
    struct verdict_store_stats a, b;
    verdict_store_stats_get(s, &a);
    uint64_t t = t0;
    size_t removed = 0;
    for (int sec = 1; sec <= 10; sec++) { /* the stage's rhythm: once a second */
        t = t0 + (uint64_t)sec * 1000;
        removed += verdict_store_expire(s, t, 0);
    }
    verdict_store_stats_get(s, &b);
    assert_int_equal(removed, SHORT);
    assert_int_equal(b.entries, LONG);
    /* A full scan would have looked at LONG + SHORT entries ten times: 201,000. The wheel looks
     * at the SHORT due ones and at the long ones filed in the ten ticks' lists (about LONG / 512
     * per tick, each only to pass it over). */
    fprintf(stderr, "expire: %llu entries looked at over 10 passes of a %d-entry store\n",
            (unsigned long long)(b.expire_visited - a.expire_visited), LONG + SHORT);
    assert_true(b.expire_visited - a.expire_visited <= SHORT + 2000);
    /* And every long entry is still there, each expires at its own time. */
    assert_int_equal(verdict_store_expire(s, t0 + HOUR_MS + 180 * 999, 0), 1000);
    assert_int_equal(verdict_store_expire(s, UINT64_MAX, 0), LONG - 1000);
    verdict_store_destroy(s);
}

/* The wall clock ran a day ahead for one pass, then came back: the entries put afterwards are
 * still looked at only when due (the wheel comes back to now), not on every pass until real time
 * catches up, and each still expires at its own time. */
static void test_verdict_store_expire_after_clock_came_back(void **state)
{
    (void)state;
    enum { N = 18000 }; /* 300 per second of expiry */
    struct verdict_store *s = verdict_store_create(32768, 0, NULL);
    assert_non_null(s);
    uint64_t t0 = now_ms;
    assert_int_equal(verdict_store_expire(s, t0 + 24 * HOUR_MS, 0), 0); /* the clock ahead */
    char ip[32];
    for (int i = 0; i < N; i++) {
        snprintf(ip, sizeof(ip), "10.3.%d.%d", i / 256, i % 256);
        struct verdict v = mkv(ip, THREAT_HIGH, 0.5);
        put_ok(s, &v, t0 + 300000 + (uint64_t)(i % 60) * 1000); /* 5 to 6 minutes from t0 */
    }
    struct verdict_store_stats a, b;
    verdict_store_stats_get(s, &a);
    size_t removed = 0;
    for (int sec = 1; sec <= 10; sec++) /* back at t0: a pass a second */
        removed += verdict_store_expire(s, t0 + (uint64_t)sec * 1000, 0);
    verdict_store_stats_get(s, &b);
    assert_int_equal(removed, 0);
    assert_true(b.wheel_rebases >= 1);
    fprintf(stderr, "expire after the clock came back: %llu entries looked at over 10 passes\n",
            (unsigned long long)(b.expire_visited - a.expire_visited));
    /* Stuck at the day-ahead cursor, every pass would look at all N: 200,000. */
    assert_true(b.expire_visited - a.expire_visited <= N);
    assert_int_equal(verdict_store_expire(s, t0 + 300000 + 29 * 1000, 0), N / 2);
    assert_int_equal(verdict_store_expire(s, t0 + 360000, 0), N / 2);
    verdict_store_destroy(s);
}

/* What a full scan at now would leave of entry *e (the store's contract, verdict_store.h):
 * false when it goes; else *e as it would be afterwards. */
static bool scan_oracle(struct verdict_store_entry *e, uint64_t now)
{
    if (e->expires_ms <= now)
        return false;
    if (e->report_until_ms && e->report_until_ms <= now) {
        if (e->base_expires_ms <= now)
            return false;
        e->v.level = e->base_level;
        e->v.role = e->base_role;
        e->v.score = e->base_score;
        e->v.reasons = e->base_reasons;
        e->expires_ms = e->base_expires_ms;
        e->report_until_ms = 0;
    }
    return true;
}

static int cmp_entry_addr(const void *pa, const void *pb)
{
    const struct verdict_store_entry *a = pa, *b = pb;
    return memcmp(a->v.ip, b->v.ip, 16);
}

/* Every entry in the store (whatever its expiry), sorted by address. */
static long all_entries(struct verdict_store *s, struct verdict_store_entry **out)
{
    long n = verdict_store_list(s, THREAT_LOW, 0, 0, out);
    assert_true(n >= 0);
    if (n > 1)
        qsort(*out, (size_t)n, sizeof(**out), cmp_entry_addr);
    return n;
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

/* The wheel expires exactly what a full scan would (entries, reports that end, the pipeline's
 * verdict coming back), through puts that move expiries both ways, reports, removals, releases,
 * passes seconds or hours apart, a clock that steps back, and budgeted passes. */
static void test_verdict_store_expire_matches_full_scan(void **state)
{
    (void)state;
    enum { IPS = 1500, ROUNDS = 40 };
    struct verdict_store *s = verdict_store_create(4096, 0, NULL);
    assert_non_null(s);
    uint64_t x = 12345, now = now_ms, wall = now_ms;
    char ip[32];
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < 300; k++) {
            unsigned a = (unsigned)(lcg(&x) % IPS);
            snprintf(ip, sizeof(ip), "10.3.%u.%u", a / 256, a % 256);
            struct verdict v =
                mkv(ip, (enum threat_level)(lcg(&x) % 4), (double)(lcg(&x) % 100) / 100);
            /* Expiries from the past to two hours ahead of the pass clock (and of the wall
             * clock, which merge judges liveness on). */
            uint64_t exp = now - 20000 + lcg(&x) % (2 * HOUR_MS);
            unsigned op = (unsigned)(lcg(&x) % 10);
            if (op < 6) {
                put_ok(s, &v, exp);
            } else if (op < 8) {
                v.reasons = VERDICT_REASON_REPORT;
                assert_int_equal(verdict_store_merge(s, &v, wall + lcg(&x) % HOUR_MS, NULL), 0);
            } else if (op == 8) {
                (void)verdict_store_release(s, v.ip, v.ip_version);
            } else {
                (void)verdict_store_remove(s, v.ip, v.ip_version);
            }
        }
        /* The pass clock: mostly a second or two on, sometimes minutes or an hour, once back. */
        unsigned step = (unsigned)(lcg(&x) % 10);
        if (r == ROUNDS / 2)
            now -= 5 * 60000;
        else
            now += step < 7 ? 1000 + lcg(&x) % 1500 : step < 9 ? lcg(&x) % 600000 : HOUR_MS;
        struct verdict_store_entry *before = NULL, *after = NULL;
        long nb = all_entries(s, &before);
        long kept = 0;
        for (long i = 0; i < nb; i++)
            if (scan_oracle(&before[i], now))
                before[kept++] = before[i];
        if (r % 3 == 2) { /* budgeted passes until everything due is done */
            for (int c = 0; c < 4000; c++)
                (void)verdict_store_expire(s, now, 7);
        } else {
            (void)verdict_store_expire(s, now, 0);
        }
        long na = all_entries(s, &after);
        assert_int_equal(na, kept);
        for (long i = 0; i < na; i++) {
            assert_memory_equal(after[i].v.ip, before[i].v.ip, 16);
            assert_int_equal(after[i].v.level, before[i].v.level);
            assert_int_equal(after[i].v.reasons, before[i].v.reasons);
            assert_int_equal(after[i].expires_ms, before[i].expires_ms);
            assert_int_equal(after[i].report_until_ms, before[i].report_until_ms);
        }
        free(before);
        free(after);
    }
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_true(st.expired > 0);
    assert_int_equal(verdict_store_expire(s, UINT64_MAX, 0), st.entries);
    verdict_store_destroy(s);
}

static void test_verdict_store_full_evicts_lower_or_refuses(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(4, 0, NULL);
    assert_non_null(s);
    uint64_t far = now_ms + HOUR_MS;
    const char *ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
    for (int i = 0; i < 4; i++) {
        struct verdict v = mkv(ips[i], i == 0 ? THREAT_LOW : THREAT_HIGH, 0);
        put_ok(s, &v, far);
    }
    /* Same level as everything but the low one: the low one goes. */
    struct verdict n1 = mkv("10.0.0.5", THREAT_MEDIUM, 0);
    put_ok(s, &n1, far);
    struct verdict_store_entry e;
    assert_false(get(s, "10.0.0.1", now_ms, &e));
    assert_true(get(s, "10.0.0.5", now_ms, &e));
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.full_drops, 1);

    /* Nothing strictly lower than medium is left for another medium: refused. */
    struct verdict n2 = mkv("10.0.0.6", THREAT_LOW, 0);
    assert_int_equal(verdict_store_put(s, &n2, far), -ENOSPC);
    assert_false(get(s, "10.0.0.6", now_ms, &e));
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.full_drops, 2);

    /* An existing address is always replaced in place. */
    struct verdict up = mkv("10.0.0.5", THREAT_CRITICAL, 0);
    put_ok(s, &up, far);

    /* A critical one evicts a high one (a decision: tombstoned). */
    struct verdict n3 = mkv("10.0.0.7", THREAT_CRITICAL, 0);
    uint64_t before = st.seq;
    put_ok(s, &n3, far);
    assert_true(get(s, "10.0.0.7", now_ms, &e));
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.full_drops, 3);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.decisions, 4);
    struct changes ch;
    changes(s, before + 1, now_ms, &ch);
    assert_int_equal(ch.nd, 1);
    assert_int_equal(ch.na, 1);
    assert_int_equal(ch.added[0].v.ip[3], 7);
    free(ch.added);
    free(ch.deleted);

    /* An expired entry makes room for anything, even a low one. */
    struct verdict_store *s2 = verdict_store_create(2, 0, NULL);
    assert_non_null(s2);
    struct verdict a = mkv("10.1.0.1", THREAT_CRITICAL, 0), b = mkv("10.1.0.2", THREAT_HIGH, 0);
    put_ok(s2, &a, 1); /* long expired */
    put_ok(s2, &b, far);
    struct verdict c = mkv("10.1.0.3", THREAT_LOW, 0);
    put_ok(s2, &c, far);
    assert_true(get(s2, "10.1.0.2", now_ms, &e));
    assert_true(get(s2, "10.1.0.3", now_ms, &e));
    verdict_store_stats_get(s2, &st);
    assert_int_equal(st.full_drops, 0);
    assert_int_equal(st.expired, 1);
    verdict_store_destroy(s2);
    verdict_store_destroy(s);
}

static void test_verdict_store_merge_semantics(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    uint64_t t1 = now_ms + HOUR_MS, t2 = now_ms + 2 * HOUR_MS;
    struct verdict v = mkv("203.0.113.9", THREAT_MEDIUM, 0.4);
    v.role = VERDICT_ROLE_VICTIM;
    v.spoofed_sources = 5000;
    v.spoofed_example_ver[0] = 4;
    v.spoofed_example[0][0] = 198, v.spoofed_example[0][1] = 51, v.spoofed_example[0][3] = 7;
    v.pps = 100;
    v.flows_total = 7;
    v.reasons = VERDICT_REASON_RATE_SYN;
    v.last_seen_us = 5000;
    v.first_seen_us = 10;
    snprintf(v.attack_type, sizeof(v.attack_type), "syn_flood");
    snprintf(v.model_version, sizeof(v.model_version), "abc");
    put_ok(s, &v, t2);

    struct verdict r = mkv("203.0.113.9", THREAT_HIGH, 0.2);
    r.role = VERDICT_ROLE_ATTACKER;
    r.reasons = VERDICT_REASON_REPORT;
    r.last_seen_us = 9000;
    r.first_seen_us = 9000;
    snprintf(r.attack_type, sizeof(r.attack_type), "botnet");
    snprintf(r.sensor, sizeof(r.sensor), "api");
    struct verdict_store_entry out;
    assert_int_equal(verdict_store_merge(s, &r, t1, &out), 0);
    assert_int_equal(out.v.level, THREAT_HIGH);
    assert_true(out.v.score == 0.4);
    assert_int_equal(out.v.reasons, VERDICT_REASON_RATE_SYN | VERDICT_REASON_REPORT);
    assert_string_equal(out.v.attack_type, "botnet");
    assert_int_equal(out.v.last_seen_us, 9000);
    assert_int_equal(out.expires_ms, t2);                /* the later one */
    assert_int_equal(out.v.role, VERDICT_ROLE_ATTACKER); /* the role of the higher level */
    /* kept from the existing entry (a report carries no spoofed sources) */
    assert_int_equal(out.v.spoofed_sources, 5000);
    assert_int_equal(out.v.spoofed_example_ver[0], 4);
    assert_int_equal(out.v.spoofed_example[0][3], 7);
    assert_int_equal(out.v.spoofed_example_ver[1], 0);
    assert_true(out.v.pps == 100);
    assert_int_equal(out.v.flows_total, 7);
    assert_int_equal(out.v.first_seen_us, 10);
    assert_string_equal(out.v.sensor, "test");
    assert_string_equal(out.v.model_version, "abc");

    /* A lower report keeps level and attack type, still raises score and expiry. */
    struct verdict low = mkv("203.0.113.9", THREAT_LOW, 0.95);
    low.last_seen_us = 1;
    snprintf(low.attack_type, sizeof(low.attack_type), "other");
    uint64_t t3 = now_ms + 3 * HOUR_MS;
    assert_int_equal(verdict_store_merge(s, &low, t3, &out), 0);
    assert_int_equal(out.v.level, THREAT_HIGH);
    assert_string_equal(out.v.attack_type, "botnet");
    assert_true(out.v.score == 0.95);
    assert_int_equal(out.v.last_seen_us, 9000);
    assert_int_equal(out.expires_ms, t3);
    assert_int_equal(out.v.role, VERDICT_ROLE_ATTACKER); /* a lower level keeps the role */

    /* More spoofed sources replace count and examples together; fewer never lower them. */
    struct verdict sp = mkv("203.0.113.9", THREAT_LOW, 0);
    sp.role = VERDICT_ROLE_VICTIM;
    sp.spoofed_sources = 9000;
    sp.spoofed_example_ver[0] = sp.spoofed_example_ver[1] = 6;
    sp.spoofed_example[1][15] = 1;
    assert_int_equal(verdict_store_merge(s, &sp, t1, &out), 0);
    assert_int_equal(out.v.spoofed_sources, 9000);
    assert_memory_equal(out.v.spoofed_example_ver, sp.spoofed_example_ver,
                        sizeof(sp.spoofed_example_ver));
    assert_memory_equal(out.v.spoofed_example, sp.spoofed_example, sizeof(sp.spoofed_example));
    assert_int_equal(out.v.role, VERDICT_ROLE_ATTACKER);
    sp.spoofed_sources = 3;
    sp.spoofed_example_ver[0] = 4;
    assert_int_equal(verdict_store_merge(s, &sp, t1, &out), 0);
    assert_int_equal(out.v.spoofed_sources, 9000);
    assert_int_equal(out.v.spoofed_example_ver[0], 6);

    /* An entry without an attack type takes the report's even at a lower level. */
    struct verdict u = mkv("203.0.113.10", THREAT_HIGH, 0);
    put_ok(s, &u, t1);
    struct verdict ur = mkv("203.0.113.10", THREAT_MEDIUM, 0);
    snprintf(ur.attack_type, sizeof(ur.attack_type), "scan");
    assert_int_equal(verdict_store_merge(s, &ur, t1, &out), 0);
    assert_string_equal(out.v.attack_type, "scan");
    assert_int_equal(out.v.level, THREAT_HIGH);

    /* No entry, or only an expired one: inserted as put would. */
    struct verdict fresh = mkv("203.0.113.11", THREAT_MEDIUM, 0.3);
    assert_int_equal(verdict_store_merge(s, &fresh, t1, &out), 0);
    assert_memory_equal(&out.v, &fresh, sizeof(fresh));
    struct verdict old = mkv("203.0.113.12", THREAT_CRITICAL, 0.9);
    put_ok(s, &old, 5); /* expired long ago */
    struct verdict again = mkv("203.0.113.12", THREAT_MEDIUM, 0.1);
    assert_int_equal(verdict_store_merge(s, &again, t1, NULL), 0);
    assert_true(get(s, "203.0.113.12", now_ms, &out));
    assert_int_equal(out.v.level, THREAT_MEDIUM);
    assert_true(out.v.score == 0.1);
    verdict_store_destroy(s);
}

/* A bouncer sees a new version of a decision only when its ban changes: an expiry moved by more
 * than the slack, or another attack type; the version it replaces is named. */
static void test_verdict_store_decision_versions(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    struct verdict a = mkv("10.8.0.1", THREAT_HIGH, 0.5);
    put_ok(s, &a, 50000);
    struct changes ch;
    changes(s, 0, 10, &ch);
    assert_int_equal(ch.na, 1);
    uint64_t v1 = ch.added[0].decision_seq, since = ch.next;
    assert_int_equal(v1, ch.added[0].seq);
    assert_int_equal(ch.added[0].decision_since, v1);
    assert_int_equal(ch.added[0].decision_prev, 0);
    free(ch.added);

    /* Republished: new score, level, expiry within the slack: nothing for bouncers. */
    a.score = 0.9;
    a.level = THREAT_CRITICAL;
    put_ok(s, &a, 50000 + VERDICT_STORE_EXTEND_SLACK_MS);
    changes(s, since, 10, &ch);
    assert_int_equal(ch.na + ch.nd, 0);
    since = ch.next;

    /* Extended past the slack: a new version that names the one it replaces. */
    put_ok(s, &a, 60000);
    changes(s, since, 10, &ch);
    assert_int_equal(ch.na, 1);
    assert_int_equal(ch.nd, 0);
    assert_int_equal(ch.added[0].decision_prev, v1);
    assert_int_equal(ch.added[0].decision_since, v1); /* held since before the cursor */
    assert_true(ch.added[0].decision_seq > since);
    assert_int_equal(ch.added[0].decision_until_ms, 60000);
    uint64_t v2 = ch.added[0].decision_seq;
    free(ch.added);
    since = ch.next;

    /* Another attack type is another ban too. */
    snprintf(a.attack_type, sizeof(a.attack_type), "udp_flood");
    put_ok(s, &a, 60000);
    changes(s, since, 10, &ch);
    assert_int_equal(ch.na, 1);
    assert_int_equal(ch.added[0].decision_prev, v2);
    free(ch.added);
    since = ch.next;

    /* Dropping below the decision levels and back: a fresh decision, nothing replaced. */
    a.level = THREAT_MEDIUM;
    put_ok(s, &a, 60000);
    a.level = THREAT_HIGH;
    put_ok(s, &a, 60000);
    changes(s, since, 10, &ch);
    assert_int_equal(ch.na, 1);
    assert_int_equal(ch.added[0].decision_prev, 0);
    assert_true(ch.added[0].decision_since > since);
    free(ch.added);
    free(ch.deleted);
    verdict_store_destroy(s);
}

/* When a report ends, the pipeline's verdict under it comes back (level, reasons, expiry): a
 * report holds for its TTL, not for the TTL of every verdict written while it held. */
static void test_verdict_store_report_end_restores_pipeline(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    uint64_t t_report = now_ms + HOUR_MS, t_model = now_ms + 2 * HOUR_MS;
    struct verdict r = mkv("198.51.100.30", THREAT_CRITICAL, 1.0);
    r.reasons = VERDICT_REASON_REPORT;
    assert_int_equal(verdict_store_merge(s, &r, t_report, NULL), 0);
    struct verdict m = mkv("198.51.100.30", THREAT_LOW, 0.2);
    m.reasons = VERDICT_REASON_MODEL;
    put_ok(s, &m, t_model); /* written while the report held: shown critical until t_model */
    struct verdict_store_entry out;
    assert_true(get(s, "198.51.100.30", now_ms, &out));
    assert_int_equal(out.v.level, THREAT_CRITICAL);
    assert_int_equal(out.expires_ms, t_model);
    struct changes ch;
    changes(s, 0, now_ms, &ch);
    uint64_t since = ch.next;
    free(ch.added);
    free(ch.deleted);

    /* A report that only raised the entry: the pipeline's low verdict is back, until its own
     * expiry; the decision ended (a tombstone for the stream). */
    assert_int_equal(verdict_store_expire(s, t_report, 0), 0);
    assert_true(get(s, "198.51.100.30", t_report, &out));
    assert_int_equal(out.v.level, THREAT_LOW);
    assert_int_equal(out.v.reasons, VERDICT_REASON_MODEL);
    assert_true(out.v.score == 0.2);
    assert_int_equal(out.expires_ms, t_model);
    assert_int_equal(out.report_until_ms, 0);
    assert_false(is_dec(s, "198.51.100.30", t_report));
    changes(s, since, t_report, &ch);
    assert_int_equal(ch.na, 0);
    assert_int_equal(ch.nd, 1);
    free(ch.deleted);

    /* A report alone ends with its TTL; so does a report over a verdict that already expired. */
    struct verdict alone = mkv("198.51.100.31", THREAT_HIGH, 0.75);
    assert_int_equal(verdict_store_merge(s, &alone, t_report, NULL), 0);
    struct verdict m2 = mkv("198.51.100.32", THREAT_MEDIUM, 0.5);
    put_ok(s, &m2, now_ms + HOUR_MS / 2);
    struct verdict r2 = mkv("198.51.100.32", THREAT_CRITICAL, 1.0);
    assert_int_equal(verdict_store_merge(s, &r2, t_report, NULL), 0);
    assert_int_equal(verdict_store_expire(s, t_report, 0), 2);
    assert_false(get(s, "198.51.100.31", t_report, &out));
    assert_false(get(s, "198.51.100.32", t_report, &out));
    verdict_store_destroy(s);
}

/* A live report holds against the pipeline: a later put (the model calling the address low) or
 * remove (the verdict table forgetting it) cannot lower it before the report's expiry. */
static void test_verdict_store_put_keeps_live_report(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    uint64_t t1 = now_ms + HOUR_MS;
    struct verdict r = mkv("198.51.100.20", THREAT_CRITICAL, 1.0);
    r.reasons = VERDICT_REASON_REPORT;
    snprintf(r.attack_type, sizeof(r.attack_type), "http_flood");
    struct verdict_store_entry out;
    assert_int_equal(verdict_store_merge(s, &r, t1, &out), 0);
    assert_int_equal(out.report_level, THREAT_CRITICAL);
    assert_int_equal(out.report_until_ms, t1);
    uint64_t since = out.seq;
    assert_int_equal(out.decision_since, out.seq);
    assert_int_equal(out.decision_seq, out.seq);

    /* The model says low, for a shorter time: the report's level, reasons and expiry stay. */
    struct verdict m = mkv("198.51.100.20", THREAT_LOW, 0.1);
    m.role = VERDICT_ROLE_VICTIM;
    m.reasons = VERDICT_REASON_MODEL;
    m.pps = 42;
    put_ok(s, &m, now_ms + 1000);
    assert_true(get(s, "198.51.100.20", now_ms, &out));
    assert_int_equal(out.v.level, THREAT_CRITICAL);
    assert_int_equal(out.v.role, VERDICT_ROLE_ATTACKER);
    assert_string_equal(out.v.attack_type, "http_flood");
    assert_int_equal(out.v.reasons, VERDICT_REASON_MODEL | VERDICT_REASON_REPORT);
    assert_true(out.v.score == 1.0);
    assert_true(out.v.pps == 42); /* the model's evidence is still shown */
    assert_int_equal(out.expires_ms, t1);
    assert_true(is_dec(s, "198.51.100.20", now_ms));
    /* Still the same decision since the report, same attack type, same expiry: no new
     * version of it for bouncers. */
    assert_int_equal(out.decision_since, since);
    assert_int_equal(out.decision_seq, since);
    assert_int_equal(out.decision_prev, 0);

    /* A higher verdict from the model shows; the report still backs it. */
    struct verdict hi = mkv("198.51.100.20", THREAT_CRITICAL, 0.7);
    snprintf(hi.attack_type, sizeof(hi.attack_type), "syn_flood");
    put_ok(s, &hi, now_ms + 1000);
    assert_true(get(s, "198.51.100.20", now_ms, &out));
    assert_string_equal(out.v.attack_type, "syn_flood");
    assert_true(out.v.score == 1.0);

    /* The verdict table forgets the address: the report stands alone until its expiry. */
    assert_true(verdict_store_release(s, r.ip, r.ip_version));
    assert_true(get(s, "198.51.100.20", now_ms, &out));
    assert_int_equal(out.v.level, THREAT_CRITICAL);
    assert_int_equal(out.v.reasons, VERDICT_REASON_REPORT);
    assert_string_equal(out.v.attack_type, "http_flood");
    assert_int_equal(out.expires_ms, t1);
    assert_true(is_dec(s, "198.51.100.20", now_ms));
    assert_false(get(s, "198.51.100.20", t1, &out));

    /* A lower report does not lower the remembered one; an expired report no longer holds. */
    struct verdict lo = mkv("198.51.100.20", THREAT_MEDIUM, 0.5);
    assert_int_equal(verdict_store_merge(s, &lo, t1 + 5, &out), 0);
    assert_int_equal(out.report_level, THREAT_CRITICAL);
    assert_int_equal(out.report_until_ms, t1 + 5);
    struct verdict gone = mkv("198.51.100.21", THREAT_CRITICAL, 1.0);
    assert_int_equal(verdict_store_merge(s, &gone, 5, NULL), 0); /* expired long ago */
    struct verdict later = mkv("198.51.100.21", THREAT_LOW, 0.1);
    put_ok(s, &later, t1);
    assert_true(get(s, "198.51.100.21", now_ms, &out));
    assert_int_equal(out.v.level, THREAT_LOW);
    assert_int_equal(out.report_until_ms, 0);
    assert_true(verdict_store_release(s, later.ip, later.ip_version));
    assert_false(get(s, "198.51.100.21", now_ms, &out));
    /* remove is removal, report or not */
    assert_true(verdict_store_remove(s, r.ip, r.ip_version));
    assert_false(get(s, "198.51.100.20", now_ms, &out));
    verdict_store_destroy(s);
}

static struct verdict_views mkviews(unsigned n)
{
    struct verdict_views w;
    memset(&w, 0, sizeof(w));
    for (unsigned i = 0; i < n && i < VERDICT_VIEWS_MAX; i++) {
        snprintf(w.v[i].sensor, sizeof(w.v[i].sensor), "edge-%c", 'a' + (int)i);
        w.v[i].level = (uint8_t)(i == 0 ? THREAT_HIGH : THREAT_LOW);
        w.v[i].score = 0.5 + 0.01 * i;
        w.v[i].pps = 1000.0 * (i + 1);
        w.v[i].last_seen_us = 1732431421904113ull + i;
    }
    w.n = n;
    return w;
}

static bool get_views(struct verdict_store *s, const char *ip, struct verdict_store_entry *e,
                      struct verdict_views *w)
{
    struct verdict k = mkv(ip, THREAT_LOW, 0);
    return verdict_store_get_views(s, k.ip, k.ip_version, now_ms, e, w);
}

/* Views come with the follower's put, stay through a local put and a report, go with a
 * release that leaves the report standing, with the entry, with an expired version, and never
 * pass to the next tenant of a slot. */
static void test_verdict_store_views(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(4, 0, NULL);
    assert_non_null(s);
    uint64_t t1 = now_ms + HOUR_MS;
    struct verdict v = mkv("203.0.113.9", THREAT_HIGH, 0.97);
    snprintf(v.sensor, sizeof(v.sensor), "edge-a,edge-b");
    struct verdict_views two = mkviews(2), got;
    struct verdict_store_entry e;
    assert_int_equal(verdict_store_put_views(s, &v, t1, &two), 0);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_memory_equal(&got, &two, sizeof(two));
    assert_memory_equal(&e.v, &v, sizeof(v));
    assert_int_equal(e.seq, 1);
    assert_int_equal(e.report_until_ms, 0);

    /* A plain put (this sensor's stage) keeps them; plain get is unchanged. */
    struct verdict local = mkv("203.0.113.9", THREAT_CRITICAL, 0.99);
    put_ok(s, &local, t1);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(e.v.level, THREAT_CRITICAL);
    assert_memory_equal(&got, &two, sizeof(two));
    assert_true(get(s, "203.0.113.9", now_ms, &e));

    /* set_views replaces them without a new sequence number; NULL clears. */
    uint64_t seq = e.seq;
    struct verdict_views three = mkviews(3);
    assert_int_equal(verdict_store_set_views(s, v.ip, v.ip_version, &three), 0);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(got.n, 3);
    assert_string_equal(got.v[2].sensor, "edge-c");
    assert_int_equal(e.seq, seq);
    struct verdict other = mkv("192.0.2.99", THREAT_HIGH, 0.9);
    assert_int_equal(verdict_store_set_views(s, other.ip, other.ip_version, &three), -ENOENT);

    /* A report merged into an entry with views: both kept, in one cold record. */
    struct verdict r = mkv("203.0.113.9", THREAT_CRITICAL, 1.0);
    r.reasons = VERDICT_REASON_REPORT;
    assert_int_equal(verdict_store_merge(s, &r, t1, &e), 0);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(e.report_until_ms, t1);
    assert_int_equal(got.n, 3);
    /* Clearing the views keeps the report. */
    assert_int_equal(verdict_store_set_views(s, v.ip, v.ip_version, NULL), 0);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(got.n, 0);
    assert_int_equal(e.report_until_ms, t1);
    /* Views again, then the hash is gone (release): the report stands alone, without views. */
    assert_int_equal(verdict_store_set_views(s, v.ip, v.ip_version, &two), 0);
    assert_true(verdict_store_release(s, v.ip, v.ip_version));
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(e.v.reasons, VERDICT_REASON_REPORT);
    assert_int_equal(got.n, 0);
    assert_true(verdict_store_remove(s, v.ip, v.ip_version));

    /* More than VERDICT_VIEWS_MAX are cut and counted. */
    struct verdict_views many = mkviews(VERDICT_VIEWS_MAX);
    many.n = VERDICT_VIEWS_MAX + 2;
    assert_int_equal(verdict_store_put_views(s, &v, t1, &many), 0);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(got.n, VERDICT_VIEWS_MAX);
    assert_int_equal(got.omitted, 2);

    /* An expired version's views do not come back with a plain put. */
    assert_int_equal(verdict_store_put_views(s, &v, now_ms - 1, &two), 0);
    put_ok(s, &local, t1);
    assert_true(get_views(s, "203.0.113.9", &e, &got));
    assert_int_equal(got.n, 0);

    assert_true(verdict_store_remove(s, v.ip, v.ip_version));
    /* Slots and cold records cycle (a leak would run past the 4 records): every tenant starts
     * without views, and views never show on an address that had none. */
    for (unsigned round = 0; round < 50; round++) {
        char ip[32];
        struct verdict a[4];
        for (unsigned i = 0; i < 4; i++) {
            snprintf(ip, sizeof(ip), "198.51.100.%u", (round * 4 + i) % 250 + 1);
            a[i] = mkv(ip, THREAT_HIGH, 0.9);
            if ((round + i) % 2)
                assert_int_equal(verdict_store_put_views(s, &a[i], t1, &two), 0);
            else
                put_ok(s, &a[i], t1);
            if ((round + i) % 3 == 0) { /* a report on some: cold fields beside the views */
                struct verdict ri = a[i];
                ri.reasons = VERDICT_REASON_REPORT;
                assert_int_equal(verdict_store_merge(s, &ri, t1, NULL), 0);
            }
        }
        for (unsigned i = 0; i < 4; i++) {
            char t[VERDICT_IP_TEXT_MAX];
            assert_true(get_views(s, verdict_ip_format(&a[i], t), &e, &got));
            assert_int_equal(got.n, (round + i) % 2 ? 2u : 0u);
            if (i % 2)
                assert_int_equal(verdict_store_set_views(s, a[i].ip, a[i].ip_version, NULL), 0);
            assert_true(verdict_store_remove(s, a[i].ip, a[i].ip_version));
        }
    }
    verdict_store_destroy(s);
}

static void test_verdict_store_list_order_limit_min_level(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(1024, 0, NULL);
    assert_non_null(s);
    struct {
        const char *ip;
        enum threat_level level;
        double score;
        uint64_t last_seen;
    } in[] = {
        {"10.0.0.9", THREAT_LOW, 0.9, 5},     {"10.0.0.3", THREAT_HIGH, 0.5, 5},
        {"10.0.0.2", THREAT_HIGH, 0.5, 5},    {"10.0.0.4", THREAT_HIGH, 0.5, 7},
        {"10.0.0.5", THREAT_HIGH, 0.8, 1},    {"10.0.0.6", THREAT_CRITICAL, 0.1, 1},
        {"2001:db8::1", THREAT_HIGH, 0.5, 5}, {"10.0.0.7", THREAT_MEDIUM, 0.99, 9},
    };
    for (size_t i = 0; i < DD_ARRAY_LEN(in); i++) {
        struct verdict v = mkv(in[i].ip, in[i].level, in[i].score);
        v.last_seen_us = in[i].last_seen;
        put_ok(s, &v, 5000);
    }
    struct verdict expired = mkv("10.0.0.1", THREAT_CRITICAL, 1.0);
    put_ok(s, &expired, 50);
    const char *want[] = {"10.0.0.6", "10.0.0.5",    "10.0.0.4", "10.0.0.2",
                          "10.0.0.3", "2001:db8::1", "10.0.0.7", "10.0.0.9"};
    struct verdict_store_entry *list = NULL;
    long n = verdict_store_list(s, THREAT_LOW, 0, 100, &list);
    assert_int_equal(n, 8);
    char buf[VERDICT_IP_TEXT_MAX];
    for (long i = 0; i < n; i++)
        assert_string_equal(verdict_ip_format(&list[i].v, buf), want[i]);
    free(list);

    n = verdict_store_list(s, THREAT_LOW, 3, 100, &list);
    assert_int_equal(n, 3);
    for (long i = 0; i < n; i++)
        assert_string_equal(verdict_ip_format(&list[i].v, buf), want[i]);
    free(list);

    n = verdict_store_list(s, THREAT_HIGH, 0, 100, &list);
    assert_int_equal(n, 6);
    assert_string_equal(verdict_ip_format(&list[5].v, buf), "2001:db8::1");
    free(list);

    n = verdict_store_list(s, THREAT_CRITICAL, 0, 6000, &list);
    assert_int_equal(n, 0);
    assert_null(list);
    verdict_store_destroy(s);
}

/* A limited listing keeps exactly the worst `limit` of many (the heap path). */
static void test_verdict_store_list_limit_matches_full_sort(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(4096, 0, NULL);
    assert_non_null(s);
    srand(7);
    char ip[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i % 3, i / 256, i % 256);
        struct verdict v = mkv(ip, (enum threat_level)(rand() % 4), (rand() % 10) / 10.0);
        v.last_seen_us = (uint64_t)(rand() % 5);
        put_ok(s, &v, 5000);
    }
    struct verdict_store_entry *all = NULL, *top = NULL;
    long n = verdict_store_list(s, THREAT_MEDIUM, 0, 0, &all);
    assert_true(n > 1000);
    for (long i = 1; i < n; i++) {
        const struct verdict *a = &all[i - 1].v, *b = &all[i].v;
        assert_true(a->level >= b->level);
        if (a->level == b->level) {
            assert_true(a->score >= b->score);
            if (a->score == b->score) {
                assert_true(a->last_seen_us >= b->last_seen_us);
                if (a->last_seen_us == b->last_seen_us)
                    assert_true(memcmp(a->ip, b->ip, 16) < 0);
            }
        }
    }
    assert_int_equal(verdict_store_list(s, THREAT_MEDIUM, 37, 0, &top), 37);
    for (int i = 0; i < 37; i++)
        assert_memory_equal(&top[i].v, &all[i].v, sizeof(struct verdict));
    free(all);
    free(top);
    verdict_store_destroy(s);
}

static void test_verdict_store_changes_and_tombstones(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(256, 0, NULL);
    assert_non_null(s);
    struct verdict a = mkv("10.9.0.1", THREAT_HIGH, 0), b = mkv("10.9.0.2", THREAT_CRITICAL, 0),
                   c = mkv("10.9.0.3", THREAT_MEDIUM, 0);
    put_ok(s, &a, 5000);
    put_ok(s, &b, 5000);
    put_ok(s, &c, 5000);
    struct changes ch;
    changes(s, 0, 10, &ch);
    assert_int_equal(ch.na, 2);
    assert_int_equal(ch.added[0].v.ip[3], 1);
    assert_int_equal(ch.added[1].v.ip[3], 2);
    assert_true(ch.added[0].seq < ch.added[1].seq);
    assert_int_equal(ch.nd, 0);
    assert_null(ch.deleted);
    assert_int_equal(ch.next, 3);
    assert_true(ch.complete);
    free(ch.added);

    /* Nothing new: empty, same cursor. */
    changes(s, ch.next, 10, &ch);
    assert_int_equal(ch.na + ch.nd, 0);
    assert_int_equal(ch.next, 3);

    /* a drops to low (tombstone), b is removed (tombstone), c becomes high (added). */
    a.level = THREAT_LOW;
    put_ok(s, &a, 5000);
    assert_true(verdict_store_remove(s, b.ip, b.ip_version));
    c.level = THREAT_HIGH;
    put_ok(s, &c, 5000);
    uint64_t since = ch.next;
    changes(s, since, 10, &ch);
    assert_int_equal(ch.na, 1);
    assert_int_equal(ch.added[0].v.ip[3], 3);
    assert_int_equal(ch.nd, 2);
    assert_int_equal(ch.deleted[0].ip[3], 1);
    assert_int_equal(ch.deleted[1].ip[3], 2);
    assert_true(ch.deleted[0].seq < ch.deleted[1].seq);
    assert_int_equal(ch.next, 6);
    assert_true(ch.complete);
    free(ch.added);
    free(ch.deleted);

    /* a is a decision again: its old tombstone no longer shows; twice removed shows once. */
    a.level = THREAT_CRITICAL;
    put_ok(s, &a, 5000);
    b.level = THREAT_HIGH;
    put_ok(s, &b, 5000);
    assert_true(verdict_store_remove(s, b.ip, b.ip_version));
    put_ok(s, &b, 5000);
    assert_true(verdict_store_remove(s, b.ip, b.ip_version));
    changes(s, since, 10, &ch);
    assert_int_equal(ch.na, 2); /* c (seq 6) and a (seq 7) */
    assert_int_equal(ch.added[0].v.ip[3], 3);
    assert_int_equal(ch.added[1].v.ip[3], 1);
    assert_int_equal(ch.nd, 1);
    assert_int_equal(ch.deleted[0].ip[3], 2);
    assert_int_equal(ch.deleted[0].seq, 11);
    free(ch.added);
    free(ch.deleted);
    verdict_store_destroy(s);
}

static void test_verdict_store_changes_incomplete_after_ring_overflow(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(256, 4, NULL);
    assert_non_null(s);
    char ip[32];
    for (int i = 0; i < 6; i++) {
        snprintf(ip, sizeof(ip), "10.8.0.%d", i + 1);
        struct verdict v = mkv(ip, THREAT_HIGH, 0);
        put_ok(s, &v, 5000);
    }
    uint64_t since = 6;
    for (int i = 0; i < 6; i++) {
        snprintf(ip, sizeof(ip), "10.8.0.%d", i + 1);
        struct verdict v = mkv(ip, THREAT_HIGH, 0);
        assert_true(verdict_store_remove(s, v.ip, v.ip_version));
    }
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.tombstones_lost, 2);
    struct changes ch;
    changes(s, since, 10, &ch);
    assert_false(ch.complete);
    assert_int_equal(ch.nd, 4); /* the ones still in the ring */
    assert_int_equal(ch.deleted[0].ip[3], 3);
    free(ch.deleted);
    /* A reader already past the overwritten ones is complete. */
    changes(s, 8, 10, &ch);
    assert_true(ch.complete);
    assert_int_equal(ch.nd, 4);
    free(ch.deleted);
    /* A full listing (since 0) is always complete. */
    changes(s, 0, 10, &ch);
    assert_true(ch.complete);
    free(ch.deleted);
    /* A cursor from the future is not. */
    changes(s, 1000, 10, &ch);
    assert_false(ch.complete);
    assert_int_equal(ch.next, 12);
    verdict_store_destroy(s);
}

static void test_verdict_store_is_decision_and_levels(void **state)
{
    (void)state;
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    assert_false(lvl_dec(s, THREAT_LOW));
    assert_false(lvl_dec(s, THREAT_MEDIUM));
    assert_true(lvl_dec(s, THREAT_HIGH));
    assert_true(lvl_dec(s, THREAT_CRITICAL));
    assert_false(lvl_dec(s, (enum threat_level)9));
    struct verdict h = mkv("10.7.0.1", THREAT_HIGH, 0), m = mkv("10.7.0.2", THREAT_MEDIUM, 0);
    put_ok(s, &h, 500);
    put_ok(s, &m, 500);
    assert_true(is_dec(s, "10.7.0.1", 10));
    assert_false(is_dec(s, "10.7.0.2", 10));
    assert_false(is_dec(s, "10.7.0.3", 10));
    assert_false(is_dec(s, "10.7.0.1", 500));
    verdict_store_destroy(s);

    struct verdict_store_decisions mc = {CONFIG_LEVEL_MEDIUM | CONFIG_LEVEL_CRITICAL,
                                         CONFIG_ROLE_ATTACKER};
    s = verdict_store_create(64, 0, &mc);
    assert_non_null(s);
    assert_false(lvl_dec(s, THREAT_LOW));
    assert_true(lvl_dec(s, THREAT_MEDIUM));
    assert_false(lvl_dec(s, THREAT_HIGH));
    assert_true(lvl_dec(s, THREAT_CRITICAL));
    put_ok(s, &h, 500);
    put_ok(s, &m, 500);
    assert_false(is_dec(s, "10.7.0.1", 10));
    assert_true(is_dec(s, "10.7.0.2", 10));
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.decisions, 1);
    /* medium -> high stops being a decision here: tombstone */
    m.level = THREAT_HIGH;
    put_ok(s, &m, 500);
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.decisions, 0);
    struct changes ch;
    changes(s, 2, 10, &ch);
    assert_int_equal(ch.nd, 1);
    assert_int_equal(ch.deleted[0].ip[3], 2);
    free(ch.deleted);
    verdict_store_destroy(s);

    struct verdict_store_decisions lc = {CONFIG_LEVEL_LOW, CONFIG_ROLE_ATTACKER};
    s = verdict_store_create(64, 0, &lc);
    assert_non_null(s);
    assert_true(lvl_dec(s, THREAT_LOW));
    assert_false(lvl_dec(s, THREAT_CRITICAL));
    verdict_store_destroy(s);
    assert_null(verdict_store_create(0, 0, NULL));
}

/* decisions.roles: a verdict is a decision only when its role is listed too. */
static void test_verdict_store_decision_roles(void **state)
{
    (void)state;
    /* Defaults: attackers at high or critical; a victim never. */
    struct verdict_store *s = verdict_store_create(64, 0, NULL);
    assert_non_null(s);
    assert_true(dec_of(s, THREAT_HIGH, VERDICT_ROLE_ATTACKER));
    assert_false(dec_of(s, THREAT_HIGH, VERDICT_ROLE_VICTIM));
    assert_false(dec_of(s, THREAT_CRITICAL, VERDICT_ROLE_VICTIM));
    assert_false(dec_of(s, THREAT_CRITICAL, (enum verdict_role)2));
    struct verdict a = mkv("10.8.0.1", THREAT_HIGH, 0), vi = mkv("10.8.0.2", THREAT_CRITICAL, 0);
    vi.role = VERDICT_ROLE_VICTIM;
    put_ok(s, &a, 500);
    put_ok(s, &vi, 500);
    assert_true(is_dec(s, "10.8.0.1", 10));
    assert_false(is_dec(s, "10.8.0.2", 10));
    struct verdict_store_stats st;
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.decisions, 1);
    struct changes ch;
    changes(s, 0, 10, &ch);
    assert_int_equal(ch.na, 1);
    assert_int_equal(ch.added[0].v.ip[3], 1);
    free(ch.added);
    assert_null(ch.deleted);
    /* The attacker turns victim at the same level: no longer a decision, a tombstone. */
    a.role = VERDICT_ROLE_VICTIM;
    put_ok(s, &a, 500);
    assert_false(is_dec(s, "10.8.0.1", 10));
    verdict_store_stats_get(s, &st);
    assert_int_equal(st.decisions, 0);
    changes(s, ch.next, 10, &ch);
    assert_int_equal(ch.na, 0);
    assert_int_equal(ch.nd, 1);
    assert_int_equal(ch.deleted[0].ip[3], 1);
    free(ch.deleted);
    verdict_store_destroy(s);

    /* ["attacker", "victim"]: both. */
    struct verdict_store_decisions both = {CONFIG_LEVEL_HIGH | CONFIG_LEVEL_CRITICAL,
                                           CONFIG_ROLE_ATTACKER | CONFIG_ROLE_VICTIM};
    s = verdict_store_create(64, 0, &both);
    assert_true(dec_of(s, THREAT_HIGH, VERDICT_ROLE_VICTIM));
    assert_true(dec_of(s, THREAT_HIGH, VERDICT_ROLE_ATTACKER));
    assert_false(dec_of(s, THREAT_MEDIUM, VERDICT_ROLE_VICTIM));
    put_ok(s, &vi, 500);
    assert_true(is_dec(s, "10.8.0.2", 10));
    verdict_store_destroy(s);

    /* ["victim"] only, and empty lists: taken as they are (no default fills them in). */
    struct verdict_store_decisions victims = {CONFIG_LEVEL_HIGH, CONFIG_ROLE_VICTIM};
    s = verdict_store_create(64, 0, &victims);
    assert_true(dec_of(s, THREAT_HIGH, VERDICT_ROLE_VICTIM));
    assert_false(dec_of(s, THREAT_HIGH, VERDICT_ROLE_ATTACKER));
    verdict_store_destroy(s);
    struct verdict_store_decisions none_roles = {CONFIG_LEVEL_HIGH, 0}, none_levels = {0, 3};
    s = verdict_store_create(64, 0, &none_roles);
    assert_false(dec_of(s, THREAT_HIGH, VERDICT_ROLE_ATTACKER));
    assert_false(dec_of(s, THREAT_HIGH, VERDICT_ROLE_VICTIM));
    verdict_store_destroy(s);
    s = verdict_store_create(64, 0, &none_levels);
    assert_false(dec_of(s, THREAT_CRITICAL, VERDICT_ROLE_ATTACKER));
    verdict_store_destroy(s);
}

/* ---- concurrency
 * ----------------------------------------------------------------------------- */

enum { MT_IPS = 200, MT_READERS = 3, MT_WRITES = 40000 };

struct mt {
    struct verdict_store *s;
    atomic_bool stop;
    atomic_ulong reads, hits, bad;
    atomic_ulong live_reads; /* so the writer keeps going until the readers really ran */
};

static void mt_ip(struct verdict *v, unsigned i)
{
    char ip[32];
    if (i % 2)
        snprintf(ip, sizeof(ip), "2001:db8::%x", i);
    else
        snprintf(ip, sizeof(ip), "10.6.%u.%u", i / 256, i % 256);
    assert_int_equal(verdict_ip_parse(ip, v), 0);
}

/* Every field a function of n: a reader that sees a mix of two writes notices. */
static void mt_fill(struct verdict *v, unsigned i, uint64_t n)
{
    memset(v, 0, sizeof(*v));
    mt_ip(v, i);
    v->level = (uint8_t)(n % 4);
    v->pps = (double)n;
    v->bps = (double)n * 8;
    v->score = (double)(n % 1000) / 1000.0;
    v->flows_total = n;
    v->flows_attack = n / 2;
    v->first_seen_us = n;
    v->last_seen_us = n + 1;
    snprintf(v->attack_type, sizeof(v->attack_type), "t%llu", (unsigned long long)n);
    snprintf(v->sensor, sizeof(v->sensor), "s%llu", (unsigned long long)(n * 3));
}

static bool mt_consistent(const struct verdict *v)
{
    if (v->ip_version == 4 && v->ip[0] == 10 && v->ip[1] == 5)
        return true; /* the merger's */
    uint64_t n = v->flows_total;
    struct verdict want;
    mt_fill(&want, 0, n);
    memcpy(want.ip, v->ip, 16);
    want.ip_version = v->ip_version;
    return memcmp(&want, v, sizeof(want)) == 0;
}

static void *mt_reader(void *arg)
{
    struct mt *m = arg;
    unsigned i = 0;
    unsigned long reads = 0, hits = 0, bad = 0;
    while (!atomic_load(&m->stop)) {
        struct verdict k;
        memset(&k, 0, sizeof(k));
        mt_ip(&k, i++ % MT_IPS);
        struct verdict_store_entry e;
        if (verdict_store_get(m->s, k.ip, k.ip_version, 100, &e)) {
            hits++;
            if (!mt_consistent(&e.v))
                bad++;
        }
        (void)verdict_store_is_decision(m->s, k.ip, k.ip_version, 100);
        reads++;
        atomic_fetch_add_explicit(&m->live_reads, 1, memory_order_relaxed);
        if (i % 512 == 0) {
            struct verdict_store_entry *list = NULL;
            long n = verdict_store_list(m->s, THREAT_MEDIUM, 16, 100, &list);
            for (long j = 0; j < n; j++)
                if (!mt_consistent(&list[j].v))
                    bad++;
            free(list);
            struct verdict_store_entry *added;
            struct verdict_store_tombstone *deleted;
            size_t na, nd;
            uint64_t next;
            bool complete;
            if (verdict_store_changes(m->s, 0, 100, &added, &na, &deleted, &nd, &next, &complete) ==
                0) {
                for (size_t j = 0; j < na; j++)
                    if (!mt_consistent(&added[j].v) || added[j].decision_seq > next)
                        bad++;
                free(added);
                free(deleted);
            }
        }
    }
    atomic_fetch_add(&m->reads, reads);
    atomic_fetch_add(&m->hits, hits);
    atomic_fetch_add(&m->bad, bad);
    return NULL;
}

/* The API's report handler: merges into its own addresses while the stage writes. */
static void *mt_merger(void *arg)
{
    struct mt *m = arg;
    uint64_t far = verdict_store_now_ms() + HOUR_MS;
    for (unsigned n = 0; !atomic_load(&m->stop); n++) {
        struct verdict v;
        memset(&v, 0, sizeof(v));
        char ip[32];
        snprintf(ip, sizeof(ip), "10.5.0.%u", n % 50);
        if (verdict_ip_parse(ip, &v) != 0)
            atomic_fetch_add(&m->bad, 1);
        v.level = (uint8_t)(n % 4);
        int rc = verdict_store_merge(m->s, &v, far, NULL);
        if (rc != 0 && rc != -ENOSPC)
            atomic_fetch_add(&m->bad, 1);
    }
    return NULL;
}

static void test_verdict_store_readers_see_whole_verdicts(void **state)
{
    (void)state;
    struct mt m;
    memset(&m, 0, sizeof(m));
    /* Smaller than the addresses written: evictions happen too. */
    m.s = verdict_store_create(MT_IPS, 64, NULL);
    assert_non_null(m.s);
    pthread_t r[MT_READERS], mg;
    for (int i = 0; i < MT_READERS; i++)
        assert_int_equal(pthread_create(&r[i], NULL, mt_reader, &m), 0);
    assert_int_equal(pthread_create(&mg, NULL, mt_merger, &m), 0);
    /* At least MT_WRITES writes, and on until the readers made MT_WRITES reads (bounded). */
    for (uint64_t n = 1;
         n <= MT_WRITES || (atomic_load(&m.live_reads) < MT_WRITES && n < 1000ull * MT_WRITES);
         n++) {
        struct verdict v;
        unsigned i = (unsigned)(n * 7919 % MT_IPS);
        mt_fill(&v, i, n);
        int rc = verdict_store_put(m.s, &v, n % 97 == 0 ? 50 : 1000);
        assert_true(rc == 0 || rc == -ENOSPC);
        if (n % 101 == 0)
            (void)verdict_store_remove(m.s, v.ip, v.ip_version);
        if (n % 1000 == 0)
            (void)verdict_store_expire(m.s, 100, 64);
    }
    atomic_store(&m.stop, true);
    for (int i = 0; i < MT_READERS; i++)
        pthread_join(r[i], NULL);
    pthread_join(mg, NULL);
    assert_int_equal(atomic_load(&m.bad), 0);
    assert_true(atomic_load(&m.reads) >= MT_WRITES);
    assert_true(atomic_load(&m.hits) > 0);

    /* Every counter adds up after the storm. */
    struct verdict_store_stats st;
    verdict_store_stats_get(m.s, &st);
    assert_true(st.entries <= st.capacity);
    struct verdict_store_entry *list = NULL;
    long n = verdict_store_list(m.s, THREAT_LOW, 0, 100, &list);
    assert_true(n >= 0 && (uint64_t)n <= st.entries);
    uint64_t dec = 0;
    for (long i = 0; i < n; i++)
        dec += verdict_store_verdict_is_decision(m.s, &list[i].v);
    free(list);
    /* Entries expired at 100 are not listed but still count until removed. */
    (void)verdict_store_expire(m.s, 100, 0);
    verdict_store_stats_get(m.s, &st);
    assert_int_equal(st.decisions, dec);
    (void)verdict_store_expire(m.s, UINT64_MAX, 0);
    verdict_store_stats_get(m.s, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.decisions, 0);
    verdict_store_destroy(m.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_store_put_get_replace),
        cmocka_unit_test(test_verdict_store_ipv4_ipv6_distinct),
        cmocka_unit_test(test_verdict_store_expiry_invisible_then_removed),
        cmocka_unit_test(test_verdict_store_expire_budget_round_robin),
        cmocka_unit_test(test_verdict_store_expire_cost_follows_what_expires),
        cmocka_unit_test(test_verdict_store_expire_matches_full_scan),
        cmocka_unit_test(test_verdict_store_expire_after_clock_came_back),
        cmocka_unit_test(test_verdict_store_full_evicts_lower_or_refuses),
        cmocka_unit_test(test_verdict_store_merge_semantics),
        cmocka_unit_test(test_verdict_store_put_keeps_live_report),
        cmocka_unit_test(test_verdict_store_decision_versions),
        cmocka_unit_test(test_verdict_store_report_end_restores_pipeline),
        cmocka_unit_test(test_verdict_store_views),
        cmocka_unit_test(test_verdict_store_list_order_limit_min_level),
        cmocka_unit_test(test_verdict_store_list_limit_matches_full_sort),
        cmocka_unit_test(test_verdict_store_changes_and_tombstones),
        cmocka_unit_test(test_verdict_store_changes_incomplete_after_ring_overflow),
        cmocka_unit_test(test_verdict_store_is_decision_and_levels),
        cmocka_unit_test(test_verdict_store_decision_roles),
        cmocka_unit_test(test_verdict_store_readers_see_whole_verdicts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
