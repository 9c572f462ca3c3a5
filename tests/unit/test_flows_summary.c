/* test_flows_summary.c - unit tests for app/flows_summary.c, the HTML page of ddos-flows
 * --summary-html: class counts (and the "other" row past FLOWS_SUMMARY_CLASSES names), the
 * timeline (merging buckets on long captures, independent of the order rows arrive in), the
 * Space-Saving top addresses (exact while few, a heavy hitter found among many), the escaping of
 * every string that comes from a capture or a model, and the page's structure (no script).
 *
 * Pages are written into memory (open_memstream) and read back through their data-* attributes,
 * the same way tests/integration/flows_summary_html.py reads a real run's page. Flows are zeroed
 * struct flow values with only what the summary reads set: start time, addresses, direction. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/flows_summary.h"
#include "features/flow.h"

#define SEC 1000000ull
#define T0  1767225600000000ull /* 2026-01-01 00:00:00 UTC */

static struct flow make_flow(uint64_t ts_us, const char *src, const char *dst)
{
    struct flow f;
    memset(&f, 0, sizeof(f));
    f.first_ts = f.last_ts = ts_us;
    f.key.ip_version = 4;
    f.fwd_ep = 1; /* the source is endpoint 1: the summary must follow fwd_ep */
    assert_int_equal(inet_pton(AF_INET, src, f.key.addr[1]), 1);
    assert_int_equal(inet_pton(AF_INET, dst, f.key.addr[0]), 1);
    /* IPv4 addresses sit in the first 4 bytes, the rest zero (capture/decode.h). */
    return f;
}

/* The page of s, NUL-terminated; free() it. */
static char *render(const struct flows_summary *s, const char *model)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    const char *inputs[] = {"capture.pcap"};
    struct flows_summary_fact facts[] = {{"packets", "packets read", 123, false},
                                         {"decode-problems", "decode problems", 4, true}};
    struct flows_summary_info info = {.program = "ddos-flows test",
                                      .inputs = inputs,
                                      .ninputs = 1,
                                      .csv = "flows.csv",
                                      .mode = "fixed",
                                      .model = model,
                                      .model_about = "provenance",
                                      .facts = facts,
                                      .nfacts = 2};
    assert_int_equal(flows_summary_write_html(s, &info, out), 0);
    assert_int_equal(fclose(out), 0);
    return buf;
}

/* The number in attr="N" after the first occurrence of anchor (from *from); advances *from. */
static uint64_t attr_after(const char **from, const char *anchor, const char *attr)
{
    const char *p = strstr(*from, anchor);
    assert_non_null(p);
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=\"", attr);
    const char *q = strstr(p, pat);
    assert_non_null(q);
    *from = p + strlen(anchor);
    return strtoull(q + strlen(pat), NULL, 10);
}

/* Sum of attr over every timeline bar; *bars gets their count. */
static uint64_t timeline_sum(const char *page, const char *attr, size_t *bars)
{
    uint64_t sum = 0;
    size_t n = 0;
    const char *p = page;
    while (strstr(p, "<g class=\"b\"")) {
        sum += attr_after(&p, "<g class=\"b\"", attr);
        n++;
    }
    if (bars)
        *bars = n;
    return sum;
}

static void test_classes_and_totals(void **state)
{
    (void)state;
    struct flows_summary *s = flows_summary_create();
    assert_non_null(s);
    for (int i = 0; i < 30; i++) {
        struct flow f = make_flow(T0 + (uint64_t)i * SEC, "198.18.0.1", "10.0.0.1");
        /* a heap copy of the name: the summary must copy, not keep the pointer */
        char *name = strdup(i < 20 ? "syn_flood" : "benign");
        flows_summary_add(s, &f, name, i < 20, i < 25 ? "syn_flood" : "benign");
        free(name);
    }
    assert_int_equal(flows_summary_rows(s), 30);
    assert_int_equal(flows_summary_flagged(s), 20);
    char *page = render(s, "m.msgpack");
    const char *p = page;
    assert_int_equal(attr_after(&p, "id=\"fact-packets\"", "data-value"), 123);
    p = page;
    assert_int_equal(attr_after(&p, "id=\"rows\"", "data-value"), 30);
    p = page;
    assert_int_equal(attr_after(&p, "id=\"flagged\"", "data-value"), 20);
    /* a non-zero problem counter is marked */
    assert_non_null(strstr(page, "class=\"n bad\" id=\"fact-decode-problems\""));
    /* predicted: largest class first */
    p = strstr(page, "id=\"predicted\"");
    assert_non_null(p);
    assert_int_equal(attr_after(&p, "data-name=\"syn_flood\"", "data-rows"), 20);
    p = strstr(page, "id=\"predicted\"");
    assert_int_equal(attr_after(&p, "data-name=\"syn_flood\"", "data-flagged"), 20);
    assert_int_equal(attr_after(&p, "data-name=\"benign\"", "data-rows"), 10);
    /* truth: 25 syn_flood of which the model flagged 20 */
    p = strstr(page, "id=\"truth\"");
    assert_non_null(p);
    assert_int_equal(attr_after(&p, "data-name=\"syn_flood\"", "data-rows"), 25);
    p = strstr(page, "id=\"truth\"");
    assert_int_equal(attr_after(&p, "data-name=\"syn_flood\"", "data-flagged"), 20);
    /* every row on the timeline, 1 s bars */
    size_t bars;
    assert_int_equal(timeline_sum(page, "data-rows", &bars), 30);
    assert_int_equal(bars, 30);
    assert_int_equal(timeline_sum(page, "data-flagged", NULL), 20);
    /* top: the source is endpoint fwd_ep, not endpoint 0 */
    p = strstr(page, "id=\"top-src\"");
    assert_non_null(p);
    assert_int_equal(attr_after(&p, "data-addr=\"198.18.0.1\"", "data-flows"), 20);
    p = strstr(page, "id=\"top-dst\"");
    assert_int_equal(attr_after(&p, "data-addr=\"10.0.0.1\"", "data-flows"), 20);
    /* a page people open from anywhere: no script, a CSP that forbids it */
    assert_null(strstr(page, "<script"));
    assert_non_null(strstr(page, "default-src 'none'"));
    free(page);
    flows_summary_destroy(s);
}

/* Without a model nothing is flagged (even if the caller says so) and the model's sections are
 * absent; the truth labels and the timeline remain. */
static void test_without_model(void **state)
{
    (void)state;
    struct flows_summary *s = flows_summary_create();
    struct flow f = make_flow(T0, "10.0.0.2", "10.0.0.1");
    flows_summary_add(s, &f, NULL, true, "benign");
    assert_int_equal(flows_summary_flagged(s), 0);
    char *page = render(s, NULL);
    assert_null(strstr(page, "id=\"predicted\""));
    assert_null(strstr(page, "id=\"top-src\""));
    assert_non_null(strstr(page, "id=\"truth\""));
    assert_int_equal(timeline_sum(page, "data-rows", NULL), 1);
    free(page);
    flows_summary_destroy(s);
}

static void test_class_overflow(void **state)
{
    (void)state;
    struct flows_summary *s = flows_summary_create();
    struct flow f = make_flow(T0, "10.0.0.2", "10.0.0.1");
    char name[32];
    for (int i = 0; i < FLOWS_SUMMARY_CLASSES + 6; i++) {
        snprintf(name, sizeof(name), "class%03d", i);
        flows_summary_add(s, &f, name, true, NULL);
        flows_summary_add(s, &f, name, true, NULL);
    }
    char *page = render(s, "m");
    const char *p = strstr(page, "id=\"predicted\"");
    assert_int_equal(attr_after(&p, "data-name=\"class000\"", "data-rows"), 2);
    p = strstr(page, "id=\"predicted\"");
    /* the 6 names past the limit: 12 rows in the "other" row (its data-name is empty) */
    assert_int_equal(attr_after(&p, "data-name=\"\"", "data-rows"), 12);
    assert_null(strstr(page, "class064"));
    free(page);
    flows_summary_destroy(s);
}

/* 1000 s of rows merge into bars of 16 s (1000 / 8 = 125 would not fit 120 bars); the result
 * does not depend on the order rows arrive in (ddos-flows writes flows when they end). */
static void test_timeline_merge_any_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    char *pages[3];
    for (int order = 0; order < 3; order++) {
        struct flows_summary *s = flows_summary_create();
        for (int i = 0; i < N; i++) {
            /* ascending, descending, and a fixed permutation (7919 is prime to 1000) */
            int k = order == 0 ? i : order == 1 ? N - 1 - i : (i * 7919) % N;
            struct flow f = make_flow(T0 + 3 * SEC + (uint64_t)k * SEC, "10.0.0.2", "10.0.0.1");
            flows_summary_add(s, &f, "benign", false, NULL);
        }
        assert_int_equal(flows_summary_bucket_seconds(s), 16);
        pages[order] = render(s, NULL);
        size_t bars;
        assert_int_equal(timeline_sum(pages[order], "data-rows", &bars), N);
        assert_true(bars <= FLOWS_SUMMARY_BUCKETS);
        assert_int_equal(bars, (T0 / SEC + 3 + N - 1) / 16 - (T0 / SEC + 3) / 16 + 1);
        flows_summary_destroy(s);
    }
    const char *t0 = strstr(pages[0], "<svg id=\"timeline\"");
    for (int order = 1; order < 3; order++) {
        const char *t = strstr(pages[order], "<svg id=\"timeline\"");
        assert_string_equal(t0, t);
        free(pages[order]);
    }
    free(pages[0]);
}

/* A capture whose clock jumps by decades still fits: the bars widen, nothing is lost. */
static void test_timeline_far_apart(void **state)
{
    (void)state;
    struct flows_summary *s = flows_summary_create();
    struct flow a = make_flow(T0, "10.0.0.2", "10.0.0.1");
    struct flow b = make_flow(5 * SEC, "10.0.0.2", "10.0.0.1"); /* 1970 */
    struct flow c = make_flow(T0 + 2 * SEC, "10.0.0.2", "10.0.0.1");
    flows_summary_add(s, &a, "x", true, NULL);
    flows_summary_add(s, &b, "x", true, NULL);
    flows_summary_add(s, &c, "x", false, NULL);
    char *page = render(s, "m");
    size_t bars;
    assert_int_equal(timeline_sum(page, "data-rows", &bars), 3);
    assert_int_equal(timeline_sum(page, "data-flagged", NULL), 2);
    assert_true(bars <= FLOWS_SUMMARY_BUCKETS);
    assert_true(flows_summary_bucket_seconds(s) >= T0 / SEC / FLOWS_SUMMARY_BUCKETS);
    free(page);
    flows_summary_destroy(s);
}

/* One attacker with 1000 flagged flows hidden among 20,000 one-flow spoofed sources: it is listed
 * first, and its shown bounds hold its true count. */
static void test_top_heavy_hitter(void **state)
{
    (void)state;
    struct flows_summary *s = flows_summary_create();
    char src[32];
    int heavy = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(src, sizeof(src), "100.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        struct flow f = make_flow(T0, src, "10.0.0.1");
        flows_summary_add(s, &f, "syn_flood", true, NULL);
        if (i % 20 == 0) {
            struct flow h = make_flow(T0, "203.0.113.9", "10.0.0.1");
            flows_summary_add(s, &h, "syn_flood", true, NULL);
            heavy++;
        }
    }
    assert_int_equal(heavy, 1000);
    char *page = render(s, "m");
    const char *p = strstr(page, "id=\"top-src\"");
    const char *first = strstr(p, "<tr class=\"addr\"");
    assert_non_null(first);
    assert_int_equal(strncmp(first, "<tr class=\"addr\" data-addr=\"203.0.113.9\"", 39), 0);
    uint64_t count = attr_after(&first, "data-addr=\"203.0.113.9\"", "data-flows");
    first = strstr(p, "data-addr=\"203.0.113.9\"");
    uint64_t err = attr_after(&first, "data-addr=\"203.0.113.9\"", "data-err");
    assert_true(count >= 1000 && count - err <= 1000);
    assert_non_null(strstr(page, "Space-Saving sketch"));
    /* the only destination: exact */
    p = strstr(page, "id=\"top-dst\"");
    assert_int_equal(attr_after(&p, "data-addr=\"10.0.0.1\"", "data-flows"), 21000);
    p = strstr(page, "id=\"top-dst\"");
    assert_int_equal(attr_after(&p, "data-addr=\"10.0.0.1\"", "data-err"), 0);
    free(page);
    flows_summary_destroy(s);
}

/* 200 heavy sources (about 150 flagged flows each) interleaved with 30,000 one-flow sources:
 * the sketch evicts on almost every other row, so its index removes and re-probes entries all
 * the time while heavy entries sit displaced in probe runs. Every listed count is a range that
 * holds the true count, every listed address is a heavy one, none is listed twice, and the
 * true largest is listed first. */
static void test_top_bounds_hold(void **state)
{
    (void)state;
    enum { HEAVY = 200, ROWS = 60000 };
    static uint32_t truth[HEAVY + ROWS];
    memset(truth, 0, sizeof(truth));
    struct flows_summary *s = flows_summary_create();
    uint64_t x = 88172645463325252ull;
    char src[32];
    for (uint32_t i = 0; i < ROWS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t k = (x & 1) ? (uint32_t)((x >> 1) % HEAVY) : HEAVY + i;
        truth[k]++;
        snprintf(src, sizeof(src), "172.%u.%u.%u", 16 + (k >> 16), (k >> 8) & 255, k & 255);
        struct flow f = make_flow(T0, src, "10.0.0.1");
        flows_summary_add(s, &f, "x", true, NULL);
    }
    uint32_t best = 0;
    for (uint32_t k = 1; k < HEAVY; k++)
        if (truth[k] > truth[best])
            best = k;
    char *page = render(s, "m");
    const char *p = strstr(page, "id=\"top-src\"");
    const char *end = strstr(p, "</table>");
    uint32_t seen[FLOWS_SUMMARY_TOP_SHOWN];
    int listed = 0;
    for (const char *q = strstr(p, "<tr class=\"addr\""); q && q < end;
         q = strstr(q + 1, "<tr class=\"addr\"")) {
        unsigned a, b, c;
        assert_int_equal(sscanf(q, "<tr class=\"addr\" data-addr=\"172.%u.%u.%u\"", &a, &b, &c), 3);
        uint32_t k = (a - 16) << 16 | b << 8 | c;
        const char *r = q;
        uint64_t count = attr_after(&r, "<tr class=\"addr\"", "data-flows");
        r = q;
        uint64_t err = attr_after(&r, "<tr class=\"addr\"", "data-err");
        assert_true(k < HEAVY);
        assert_true(count - err <= truth[k] && truth[k] <= count);
        for (int j = 0; j < listed; j++)
            assert_int_not_equal(seen[j], k);
        if (listed == 0)
            assert_int_equal(k, best);
        seen[listed++] = k;
    }
    assert_int_equal(listed, FLOWS_SUMMARY_TOP_SHOWN);
    /* the true top: every address counting more than the 10th largest count is listed (an
     * address the index lost track of would reappear as a new entry with part of its count) */
    uint32_t sorted[HEAVY];
    memcpy(sorted, truth, sizeof(sorted));
    for (int i = 0; i < FLOWS_SUMMARY_TOP_SHOWN; i++) /* partial selection sort, descending */
        for (int j = i + 1; j < HEAVY; j++)
            if (sorted[j] > sorted[i]) {
                uint32_t t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (uint32_t k = 0; k < HEAVY; k++) {
        bool found = false;
        for (int j = 0; j < listed; j++)
            found |= seen[j] == k;
        assert_true(found || truth[k] <= sorted[FLOWS_SUMMARY_TOP_SHOWN - 1]);
    }
    free(page);
    flows_summary_destroy(s);
}

static char *escaped(const char *in)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_true(flows_summary_put_escaped(out, in) >= 0);
    fclose(out);
    return buf;
}

static void test_escaping(void **state)
{
    (void)state;
    char *e = escaped("<script>alert('x')</script>&\"\x01");
    assert_string_equal(e, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;&#xfffd;");
    free(e);
    /* hostile names everywhere a capture or model string appears */
    struct flows_summary *s = flows_summary_create();
    struct flow f = make_flow(T0, "10.0.0.2", "10.0.0.1");
    flows_summary_add(s, &f, "<img src=x onerror=alert(1)>", true, "\"><script>x</script>");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    const char *inputs[] = {"<b>evil.pcap"};
    struct flows_summary_fact facts[] = {{"k", "<i>label", 1, false}};
    struct flows_summary_info info = {.program = "p<",
                                      .inputs = inputs,
                                      .ninputs = 1,
                                      .csv = "a&b.csv",
                                      .mode = "fixed",
                                      .model = "<m>",
                                      .model_about = "<about>",
                                      .facts = facts,
                                      .nfacts = 1};
    assert_int_equal(flows_summary_write_html(s, &info, out), 0);
    fclose(out);
    assert_null(strstr(buf, "<script"));
    assert_null(strstr(buf, "<img"));
    assert_null(strstr(buf, "<b>evil"));
    assert_null(strstr(buf, "<i>label"));
    assert_null(strstr(buf, "<m>"));
    assert_null(strstr(buf, "<about>"));
    assert_null(strstr(buf, "a&b"));
    assert_non_null(strstr(buf, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(buf, "data-name=\"&quot;&gt;&lt;script&gt;"));
    free(buf);
    flows_summary_destroy(s);
}

/* A stream that fails: the writer reports -EIO. */
static void test_write_error(void **state)
{
    (void)state;
    struct flows_summary *s = flows_summary_create();
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        skip();
    setvbuf(full, NULL, _IONBF, 0);
    struct flows_summary_info info = {.program = "p"};
    assert_int_equal(flows_summary_write_html(s, &info, full), -EIO);
    fclose(full);
    flows_summary_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_and_totals), cmocka_unit_test(test_without_model),
        cmocka_unit_test(test_class_overflow),     cmocka_unit_test(test_timeline_merge_any_order),
        cmocka_unit_test(test_timeline_far_apart), cmocka_unit_test(test_top_heavy_hitter),
        cmocka_unit_test(test_top_bounds_hold),    cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
