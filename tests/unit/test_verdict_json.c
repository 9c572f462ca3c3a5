/* test_verdict_json.c - unit tests of the verdict wire format (verdicts/verdict_json.c) and the
 * one ISO 8601 formatter (common/timefmt.c).
 *
 * The oracles are jansson and glibc: every string, integer and real the writer prints is
 * compared with json_dumps of the same value, every time with gmtime_r + strftime, and each of
 * the three documents with the jansson code that wrote it before the format was unified
 * (reproduced here), for a few thousand generated verdicts: IPv4 and IPv6, every reason bit,
 * empty, full and awkward strings, spoofed examples, rates from 0 to 1e300. The cases where
 * the unified format deliberately differs from that old code (invalid UTF-8, unterminated
 * fields, NaN) are tested on their own, and through the API in test_api. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/compiler.h"
#include "common/timefmt.h"
#include "verdicts/verdict.h"
#include "verdicts/verdict_json.h"
#include "verdict_gen.h"

static char *jansson_text(json_t *v, size_t flags)
{
    assert_non_null(v);
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | flags);
    json_decref(v);
    assert_non_null(t);
    return t;
}

static void assert_buf_is(const struct jbuf *b, const char *want)
{
    if (b->overflow || b->len != strlen(want) || memcmp(b->p, want, b->len) != 0)
        fail_msg("wrote%s '%.*s'\nwant '%s'", b->overflow ? " (overflow)" : "", (int)b->len, b->p,
                 want);
}

/* ---- the writer --------------------------------------------------------------------------- */

static void test_jbuf_strings_match_jansson(void **state)
{
    (void)state;
    char buf[256];
    struct jbuf b;
    /* Every byte that needs an escape, and ones that do not, one at a time. */
    for (unsigned ch = 1; ch < 0x80; ch++) {
        char s[3] = {'a', (char)ch, 0};
        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        assert_true(jbuf_str(&b, s, 2));
        char *want = jansson_text(json_string(s), 0);
        assert_buf_is(&b, want);
        free(want);
    }
    const char *utf8[] = {"caf\xc3\xa9",
                          "\xe2\x82\xac 5",
                          "\xf0\x9f\x98\x80!",
                          "\xef\xbf\xbf",
                          "\xf4\x8f\xbf\xbf",
                          "q\"b\\c/\x7f",
                          "",
                          "\xc2\x80\xdf\xbf",
                          "\xe0\xa0\x80\xed\x9f\xbf",
                          "\xee\x80\x80\xf0\x90\x80\x80"};
    for (size_t i = 0; i < DD_ARRAY_LEN(utf8); i++) {
        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        assert_true(jbuf_str(&b, utf8[i], strlen(utf8[i])));
        char *want = jansson_text(json_string(utf8[i]), 0);
        assert_buf_is(&b, want);
        free(want);
    }
    /* Not UTF-8: a lone continuation, overlong forms, a surrogate, above U+10FFFF, cut short. */
    const char *bad[] = {
        "\x80",       "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",     "\xf4\x90\x80\x80",
        "ab\xe2\x82", "\xff",     "\xc3\x28",     "\xf0\x8f\xbf\xbf", "\xed\xbf\xbf"};
    for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
        assert_null(json_string(bad[i])); /* jansson refuses the same strings */
        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        jbuf_raw(&b, "[", 1);
        assert_false(jbuf_str(&b, bad[i], strlen(bad[i])));
        assert_int_equal(b.len, 1); /* nothing written */
        jbuf_str_or_null(&b, bad[i], strlen(bad[i]));
        assert_buf_is(&b, "[null");
    }
    b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
    jbuf_str_or_null(&b, NULL, 0);
    assert_buf_is(&b, "null");
    /* An embedded NUL is a character like any other (\u0000), as json_stringn writes it. */
    b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
    assert_true(jbuf_str(&b, "a\0b", 3));
    char *want = jansson_text(json_stringn("a\0b", 3), 0);
    assert_buf_is(&b, want);
    free(want);
}

static void test_jbuf_numbers_match_jansson(void **state)
{
    (void)state;
    char buf[256];
    struct jbuf b;
    const double reals[] = {0.0,
                            -0.0,
                            0.75,
                            0.93,
                            1.0,
                            1234.5,
                            9876543.0,
                            1e20,
                            1e-05,
                            -2.5,
                            1e100,
                            1.5e-300,
                            0.1,
                            2.0 / 3.0,
                            123456789012.0,
                            12345678901234567890.0,
                            4.9e-324,
                            1.7976931348623157e308,
                            -1.2345678901234567e-308,
                            1e16,
                            1e17,
                            99999999999.5,
                            0.0001,
                            0.00001234};
    const unsigned digits[] = {10, 17, 0, 1, 6};
    for (size_t d = 0; d < DD_ARRAY_LEN(digits); d++) {
        for (size_t i = 0; i < DD_ARRAY_LEN(reals); i++) {
            b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
            jbuf_real(&b, reals[i], digits[d]);
            char *want = jansson_text(json_real(reals[i]), JSON_REAL_PRECISION(digits[d]));
            if (b.len != strlen(want) || memcmp(buf, want, b.len) != 0)
                fail_msg("real %.17g at %u digits: '%.*s', jansson '%s'", reals[i], digits[d],
                         (int)b.len, buf, want);
            free(want);
        }
    }
    const double nonfinite[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < DD_ARRAY_LEN(nonfinite); i++) {
        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        jbuf_real(&b, nonfinite[i], 10);
        assert_buf_is(&b, "null");
    }
    const long long ints[] = {0, 7, -1, 1234567890123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < DD_ARRAY_LEN(ints); i++) {
        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        jbuf_int(&b, ints[i]);
        char *want = jansson_text(json_integer(ints[i]), 0);
        assert_buf_is(&b, want);
        free(want);
    }
}

static void test_jbuf_overflow_is_sticky_and_bounded(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, '#', sizeof(buf));
    struct jbuf b = {.p = buf, .cap = 4};
    assert_true(jbuf_str(&b, "ab", 2));
    assert_true(jbuf_str(&b, "cd", 2) && b.overflow);
    assert_int_equal(b.len, 4);
    jbuf_raw(&b, "x", 1); /* nothing after an overflow, even what would fit */
    assert_int_equal(b.len, 4);
    assert_memory_equal(buf + 4, "####", 4);
    /* A key: a comma unless the text so far ends with '{'. */
    char k[64];
    b = (struct jbuf){.p = k, .cap = sizeof(k)};
    jbuf_raw(&b, "{", 1);
    jbuf_key(&b, "a");
    jbuf_int(&b, 1);
    jbuf_key(&b, "b");
    jbuf_raw(&b, "[{", 2);
    jbuf_key(&b, "c");
    jbuf_raw(&b, "null}]}", 7);
    assert_buf_is(&b, "{\"a\":1,\"b\":[{\"c\":null}]}");
}

/* ---- time ----------------------------------------------------------------------------------- */

static void want_time(char *out, size_t len, uint64_t secs, uint32_t us, unsigned digits)
{
    char day[64];
    time_t t = (time_t)secs;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    assert_true(strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) > 0);
    char frac[8];
    snprintf(frac, sizeof(frac), "%06u", us);
    frac[digits] = '\0';
    int n = snprintf(out, len, "%s%s%sZ", day, digits ? "." : "", frac);
    assert_true(n > 0 && (size_t)n < len);
}

static void test_time_iso8601_matches_strftime(void **state)
{
    (void)state;
    uint64_t secs[400] = {0,
                          951782400,
                          951868799,
                          1709164800,
                          1714564800,
                          4107542399,
                          4102444800,
                          253402300799ull,
                          253402300800ull,
                          18446744073709ull /* the last second of uint64 microseconds */};
    uint64_t x = 88172645463325252ull;
    for (size_t i = 10; i < DD_ARRAY_LEN(secs); i++) { /* xorshift: days all over the range */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        secs[i] = i < 200 ? x % 4102444800u : x % 18446744073709ull;
    }
    const unsigned digits[] = {0, 3, 6, 1};
    for (size_t i = 0; i < DD_ARRAY_LEN(secs); i++) {
        for (size_t d = 0; d < DD_ARRAY_LEN(digits); d++) {
            uint32_t us = (uint32_t)((secs[i] * 7919u) % 1000000u);
            if (secs[i] == 18446744073709ull)
                us %= 551616u; /* UINT64_MAX microseconds end at .551615 */
            char want[64], got[DD_TIME_ISO8601_MAX];
            want_time(want, sizeof(want), secs[i], us, digits[d]);
            assert_string_equal(dd_time_iso8601(got, sizeof(got), secs[i], us, digits[d]), want);
            assert_string_equal(
                dd_time_iso8601_us(got, sizeof(got), secs[i] * 1000000u + us, digits[d]), want);
        }
    }
    /* Seconds far beyond microseconds' range (the API's expires, in ms): every digit. */
    char got[DD_TIME_ISO8601_MAX], want[64];
    want_time(want, sizeof(want), UINT64_MAX / 1000u, 0, 0);
    assert_string_equal(dd_time_iso8601(got, sizeof(got), UINT64_MAX / 1000u, 0, 0), want);
    assert_string_equal(dd_time_iso8601_us(got, sizeof(got), 253402300800ull * 1000000u, 3),
                        "10000-01-01T00:00:00.000Z");
    assert_string_equal(dd_time_iso8601_us(got, sizeof(got), 0, 6), "1970-01-01T00:00:00.000000Z");
    /* Cut as snprintf cuts, never past len. */
    for (size_t len = 0; len <= 25; len++) {
        char small[32];
        memset(small, '#', sizeof(small));
        snprintf(want, len ? len : 1, "%s", "2024-05-01T12:00:00.123Z");
        dd_time_iso8601_us(small, len, 1714564800123456ull, 3);
        if (len)
            assert_string_equal(small, want);
        for (size_t i = len; i < sizeof(small); i++)
            assert_int_equal(small[i], '#');
    }
}

/* ---- generated verdicts ---------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    return verdict_gen_next(&rng);
}

static json_t *old_reasons(uint32_t bits)
{
    json_t *reasons = json_array();
    char names[VERDICT_REASONS_TEXT_MAX];
    verdict_reasons_format(bits, names, sizeof(names));
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        json_array_append_new(reasons, json_string(tok));
    return reasons;
}

static json_t *old_examples(const struct verdict *v)
{
    json_t *examples = json_array();
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
        char addr[INET6_ADDRSTRLEN];
        if (v->spoofed_example_ver[i] != 4 && v->spoofed_example_ver[i] != 6)
            continue;
        assert_non_null(inet_ntop(v->spoofed_example_ver[i] == 4 ? AF_INET : AF_INET6,
                                  v->spoofed_example[i], addr, sizeof(addr)));
        json_array_append_new(examples, json_string(addr));
    }
    return examples;
}

/* The --verdicts-out line as app/stage.c wrote it with jansson (strftime times, "" at 0). */
static char *old_line(const struct verdict *v, unsigned peak, const uint64_t first_at[4])
{
    char ip[VERDICT_IP_TEXT_MAX], first[64] = "", last[64] = "";
    verdict_ip_format(v, ip);
    if (v->first_seen_us)
        want_time(first, sizeof(first), v->first_seen_us / 1000000u,
                  (uint32_t)(v->first_seen_us % 1000000u), 6);
    if (v->last_seen_us)
        want_time(last, sizeof(last), v->last_seen_us / 1000000u,
                  (uint32_t)(v->last_seen_us % 1000000u), 6);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:f, s:s, s:o, s:I, s:I, s:f, s:f, s:I, s:o, s:s, s:s, s:I, s:I, "
        "s:s, s:s}",
        "ip", ip, "role", verdict_role_name(v->role), "threat_level", threat_level_name(v->level),
        "score", v->score, "attack_type", v->attack_type, "reasons", old_reasons(v->reasons),
        "flows_total", (json_int_t)v->flows_total, "flows_attack", (json_int_t)v->flows_attack,
        "pps", v->pps, "bps", v->bps, "spoofed_sources", (json_int_t)v->spoofed_sources,
        "spoofed_examples", old_examples(v), "first_seen", first, "last_seen", last,
        "first_seen_us", (json_int_t)v->first_seen_us, "last_seen_us", (json_int_t)v->last_seen_us,
        "sensor", v->sensor, "model_version", v->model_version);
    assert_non_null(o);
    json_object_set_new(o, "peak_level", json_string(threat_level_name(peak)));
    static const char *const at_names[4] = {NULL, "first_medium_us", "first_high_us",
                                            "first_critical_us"};
    for (int l = 1; l < 4; l++)
        if (first_at && first_at[l])
            json_object_set_new(o, at_names[l], json_integer((json_int_t)first_at[l]));
    return jansson_text(o, 0);
}

static int set(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v);
}

static void old_common(json_t *o, const struct verdict *v)
{
    char ip[VERDICT_IP_TEXT_MAX];
    assert_int_equal(set(o, "ip", json_string(verdict_ip_format(v, ip))), 0);
    assert_int_equal(set(o, "role", json_string(verdict_role_name(v->role))), 0);
    assert_int_equal(set(o, "threat_level", json_string(threat_level_name(v->level))), 0);
    assert_int_equal(set(o, "score", json_real(v->score)), 0);
}

/* The notify event as verdicts/notify.c wrote it with jansson. */
static char *old_event(const char *kind, const struct verdict *v, const struct verdict *peers,
                       size_t npeers)
{
    json_t *o = json_object();
    assert_int_equal(set(o, "event", json_string(kind)), 0);
    old_common(o, v);
    assert_int_equal(
        set(o, "attack_type",
            json_stringn(v->attack_type, strnlen(v->attack_type, sizeof(v->attack_type)))),
        0);
    assert_int_equal(set(o, "reasons", old_reasons(v->reasons)), 0);
    assert_int_equal(set(o, "pps", json_real(v->pps)), 0);
    assert_int_equal(set(o, "bps", json_real(v->bps)), 0);
    assert_int_equal(set(o, "spoofed_sources", json_integer((json_int_t)v->spoofed_sources)), 0);
    assert_int_equal(set(o, "spoofed_examples", old_examples(v)), 0);
    char start[64];
    want_time(start, sizeof(start), v->first_seen_us / 1000000u,
              (uint32_t)(v->first_seen_us % 1000000u), 6);
    assert_int_equal(set(o, "start", json_string(start)), 0);
    assert_int_equal(set(o, "peak_pps", json_real(v->pps)), 0);
    assert_int_equal(set(o, "peak_bps", json_real(v->bps)), 0);
    json_t *top = json_array();
    for (size_t i = 0; i < npeers; i++) {
        json_t *p = json_object();
        old_common(p, &peers[i]);
        assert_int_equal(set(p, "pps", json_real(peers[i].pps)), 0);
        assert_int_equal(set(p, "bps", json_real(peers[i].bps)), 0);
        json_array_append_new(top, p);
    }
    assert_int_equal(set(o, "top_peers", top), 0);
    assert_int_equal(
        set(o, "sensor", json_stringn(v->sensor, strnlen(v->sensor, sizeof(v->sensor)))), 0);
    return jansson_text(o, JSON_REAL_PRECISION(10));
}

/* A fixed-size field under the unified rules: up to size - 1 bytes, invalid UTF-8 null, and
 * (API) empty null. */
static json_t *api_text(const char *f, size_t size)
{
    size_t n = strnlen(f, size - 1);
    json_t *s = n ? json_stringn(f, n) : NULL;
    return s ? s : json_null();
}

static json_t *real_or_null(double x)
{
    json_t *r = json_real(x);
    return r ? r : json_null();
}

/* The API's document as api/routes.c built it with jansson (verdict_json), with the unified
 * rules for the cases jansson cannot hold (null for NaN and invalid UTF-8). */
static char *old_api(const char *ip, const struct verdict *v, bool decision, uint64_t expires_ms)
{
    char first[64], last[64], expires[64];
    want_time(first, sizeof(first), v->first_seen_us / 1000000u,
              (uint32_t)(v->first_seen_us % 1000000u), 3);
    want_time(last, sizeof(last), v->last_seen_us / 1000000u,
              (uint32_t)(v->last_seen_us % 1000000u), 3);
    want_time(expires, sizeof(expires), expires_ms / 1000u, 0, 0);
    json_t *o = json_pack(
        "{s:s, s:s, s:b, s:o, s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:o, s:o, s:I, s:o, s:o, s:o, "
        "s:b, s:s}",
        "ip", ip, "threat_level", threat_level_name((enum threat_level)v->level), "known", 1,
        "score", real_or_null(v->score), "role", verdict_role_name((enum verdict_role)v->role),
        "attack_type", api_text(v->attack_type, sizeof(v->attack_type)), "reasons",
        old_reasons(v->reasons), "first_seen", first, "last_seen", last, "flows_total",
        (json_int_t)v->flows_total, "flows_attack", (json_int_t)v->flows_attack, "pps",
        real_or_null(v->pps), "bps", real_or_null(v->bps), "spoofed_sources",
        (json_int_t)v->spoofed_sources, "spoofed_examples", old_examples(v), "sensor",
        api_text(v->sensor, sizeof(v->sensor)), "model_version",
        api_text(v->model_version, sizeof(v->model_version)), "decision", (int)decision, "expires",
        expires);
    return jansson_text(o, JSON_REAL_PRECISION(10));
}

static void test_documents_match_the_old_jansson_output(void **state)
{
    (void)state;
    static char buf[VERDICT_JSON_MAX + 8 * VERDICT_JSON_PEER_MAX];
    for (int n = 0; n < 3000; n++) {
        struct verdict v, peers[8];
        verdict_gen(&v, &rng, false);
        size_t npeers = next() % 9;
        for (size_t i = 0; i < npeers; i++)
            verdict_gen(&peers[i], &rng, false);
        uint64_t first_at[4] = {0};
        for (int l = 1; l < 4; l++)
            first_at[l] = next() % 2 ? v.first_seen_us + next() % 1000000u : 0;
        unsigned peak = (unsigned)(next() % 4);

        struct jbuf b = {.p = buf, .cap = VERDICT_JSON_MAX};
        assert_true(verdict_json_line(&b, &v, peak, n % 7 ? first_at : NULL));
        char *want = old_line(&v, peak, n % 7 ? first_at : NULL);
        assert_buf_is(&b, want);
        free(want);

        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        const char *kind = n % 2 ? "attack_start" : "attack_end";
        assert_true(verdict_json_event(&b, kind, &v, peers, npeers));
        want = old_event(kind, &v, peers, npeers);
        assert_buf_is(&b, want);
        free(want);

        char ip[VERDICT_IP_TEXT_MAX];
        verdict_ip_format(&v, ip);
        uint64_t expires_ms = 1700000000000ull + next() % 1000000000000ull;
        bool decision = next() % 2;
        b = (struct jbuf){.p = buf, .cap = VERDICT_JSON_MAX};
        assert_true(verdict_json_api(&b, ip, &v, decision, expires_ms, NULL));
        want = old_api(ip, &v, decision, expires_ms);
        assert_buf_is(&b, want);
        free(want);
    }
}

static void test_reasons_every_bit_in_order(void **state)
{
    (void)state;
    char buf[512];
    for (unsigned i = 0; i < 32; i++) {
        struct jbuf b = {.p = buf, .cap = sizeof(buf)};
        verdict_json_reasons(&b, 1u << i);
        const char *name = verdict_reason_name(i);
        char want[64];
        snprintf(want, sizeof(want), name ? "[\"%s\"]" : "[]", name ? name : "");
        assert_buf_is(&b, want);
    }
    struct jbuf b = {.p = buf, .cap = sizeof(buf)};
    verdict_json_reasons(&b, 0xffffffffu); /* unknown bits skipped */
    assert_buf_is(&b, "[\"model\",\"rate_pps\",\"rate_bps\",\"rate_syn\",\"rate_flows\","
                      "\"rate_sources\",\"reflection\",\"report\",\"icmp_errors\",\"fragments\","
                      "\"spoofed\",\"half_open\"]");
    b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
    verdict_json_reasons(&b, 0);
    assert_buf_is(&b, "[]");
}

/* ---- what the unified format decided -------------------------------------------------------- */

static void test_unterminated_invalid_and_nonfinite(void **state)
{
    (void)state;
    struct verdict v;
    char buf[VERDICT_JSON_MAX + VERDICT_JSON_PEER_MAX];
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse("192.0.2.7", &v), 0);
    /* Unterminated fixed-size fields: read up to size - 1 bytes, never into the next field. */
    memset(v.attack_type, 'a', sizeof(v.attack_type));
    memset(v.sensor, 's', sizeof(v.sensor));
    memset(v.model_version, 'm', sizeof(v.model_version));
    v.flows_total = 0x4141414141414141ull; /* what an overrun of attack_type would read */
    v.first_seen_us = 1714564800000000ull;
    char a[VERDICT_ATTACK_TYPE_MAX], s[VERDICT_SENSOR_MAX], m[VERDICT_MODEL_VERSION_MAX];
    snprintf(a, sizeof(a), "%.*s", (int)sizeof(a) - 1, v.attack_type);
    snprintf(s, sizeof(s), "%.*s", (int)sizeof(s) - 1, v.sensor);
    snprintf(m, sizeof(m), "%.*s", (int)sizeof(m) - 1, v.model_version);
    struct jbuf b = {.p = buf, .cap = sizeof(buf)};
    assert_true(verdict_json_line(&b, &v, 0, NULL));
    buf[b.len] = '\0';
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "attack_type")), a);
    assert_string_equal(json_string_value(json_object_get(j, "sensor")), s);
    assert_string_equal(json_string_value(json_object_get(j, "model_version")), m);
    json_decref(j);
    b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
    assert_true(verdict_json_event(&b, "attack_start", &v, NULL, 0));
    buf[b.len] = '\0';
    j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "attack_type")), a);
    assert_string_equal(json_string_value(json_object_get(j, "sensor")), s);
    json_decref(j);
    b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
    assert_true(verdict_json_api(&b, "192.0.2.7", &v, false, 0, NULL));
    buf[b.len] = '\0';
    j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model_version")), m);
    json_decref(j);

    /* Not UTF-8 and not finite: null in every document, which stays valid JSON. */
    snprintf(v.attack_type, sizeof(v.attack_type), "syn\xc3\x28");
    snprintf(v.sensor, sizeof(v.sensor), "\xed\xa0\x80surrogate");
    snprintf(v.model_version, sizeof(v.model_version), "ok");
    v.score = NAN;
    v.pps = INFINITY;
    v.bps = -INFINITY;
    for (int doc = 0; doc < 3; doc++) {
        b = (struct jbuf){.p = buf, .cap = sizeof(buf)};
        bool ok = doc == 0   ? verdict_json_line(&b, &v, 3, NULL)
                  : doc == 1 ? verdict_json_event(&b, "attack_\xff", &v, &v, 1)
                             : verdict_json_api(&b, "192.0.2.7", &v, true, 0, NULL);
        assert_true(ok);
        buf[b.len] = '\0';
        j = json_loads(buf, 0, NULL);
        if (j == NULL)
            fail_msg("document %d is not JSON: %s", doc, buf);
        assert_true(json_is_null(json_object_get(j, "attack_type")));
        assert_true(json_is_null(json_object_get(j, "score")));
        assert_true(json_is_null(json_object_get(j, "pps")));
        assert_true(json_is_null(json_object_get(j, "bps")));
        assert_true(json_is_null(json_object_get(j, "sensor")));
        if (doc == 1)
            assert_true(json_is_null(json_object_get(j, "event")));
        if (doc != 1)
            assert_string_equal(json_string_value(json_object_get(j, "model_version")), "ok");
        json_decref(j);
    }
}

/* The worst case of every field fits VERDICT_JSON_MAX, and a short buffer is never overrun. */
static void test_worst_case_fits_and_short_buffers_fail_cleanly(void **state)
{
    (void)state;
    struct verdict v;
    memset(&v, 0, sizeof(v));
    v.ip_version = 6;
    memset(v.ip, 0xff, sizeof(v.ip));
    v.ip[0] = 0x20; /* no "::" anywhere: the longest text */
    v.role = VERDICT_ROLE_VICTIM;
    v.level = THREAT_CRITICAL;
    v.reasons = 0xffffffffu;
    v.score = v.pps = v.bps = -1.2345678901234567e-308;
    memset(v.attack_type, '\x01', sizeof(v.attack_type) - 1); /* \u0001: 6 bytes per byte */
    memset(v.sensor, '\x01', sizeof(v.sensor) - 1);
    memset(v.model_version, '\x01', sizeof(v.model_version) - 1);
    v.flows_total = v.flows_attack = (uint64_t)INT64_MIN;
    v.first_seen_us = v.last_seen_us = UINT64_MAX;
    v.spoofed_sources = UINT32_MAX;
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
        v.spoofed_example_ver[i] = 6;
        memset(v.spoofed_example[i], 0xff, 16);
        v.spoofed_example[i][0] = 0x20;
    }
    const uint64_t first_at[4] = {0, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    char sensor64[65];
    memset(sensor64, '\x01', 64);
    sensor64[64] = '\0';
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(&v, ip);
    static char big[4 * VERDICT_JSON_MAX + VERDICT_JSON_VIEWS_MAX],
        out[4 * VERDICT_JSON_MAX + VERDICT_JSON_VIEWS_MAX];
    struct verdict peers[8];
    for (int i = 0; i < 8; i++)
        peers[i] = v;
    struct verdict_views views;
    memset(&views, 0, sizeof(views));
    views.n = VERDICT_VIEWS_MAX;
    for (unsigned i = 0; i < VERDICT_VIEWS_MAX; i++) {
        memset(views.v[i].sensor, '\x01', sizeof(views.v[i].sensor)); /* unterminated too */
        views.v[i].level = THREAT_CRITICAL;
        views.v[i].score = views.v[i].pps = -1.2345678901234567e-308;
        views.v[i].last_seen_us = UINT64_MAX;
    }
    for (int doc = 0; doc < 5; doc++) {
        struct jbuf b = {.p = big, .cap = sizeof(big)};
        size_t cap = VERDICT_JSON_MAX;
        switch (doc) {
        case 0:
            verdict_json_line(&b, &v, 3, first_at);
            break;
        case 1:
            verdict_json_api(&b, ip, &v, true, UINT64_MAX, NULL);
            break;
        case 2:
            verdict_json_api(&b, ip, NULL, false, 0, sensor64);
            break;
        case 3:
            verdict_json_event(&b, "attack_start", &v, peers, 8);
            cap += 8 * VERDICT_JSON_PEER_MAX;
            break;
        default:
            verdict_json_api_views(&b, ip, &v, true, UINT64_MAX, NULL, &views);
            cap += VERDICT_JSON_VIEWS_MAX;
        }
        assert_false(b.overflow);
        if (b.len > cap)
            fail_msg("document %d: %zu bytes > %zu", doc, b.len, cap);
        /* Every shorter buffer: false, nothing past cap. */
        for (size_t c = 0; c < b.len; c++) {
            memset(out, '#', sizeof(out));
            struct jbuf s = {.p = out, .cap = c};
            bool ok = doc == 0   ? verdict_json_line(&s, &v, 3, first_at)
                      : doc == 1 ? verdict_json_api(&s, ip, &v, true, UINT64_MAX, NULL)
                      : doc == 2 ? verdict_json_api(&s, ip, NULL, false, 0, sensor64)
                      : doc == 3
                          ? verdict_json_event(&s, "attack_start", &v, peers, 8)
                          : verdict_json_api_views(&s, ip, &v, true, UINT64_MAX, NULL, &views);
            assert_false(ok);
            assert_true(s.len <= c);
            assert_int_equal(out[c], '#');
            assert_memory_equal(out, big, s.len); /* what was written is the document's start */
        }
    }
}

/* sensor_views: after "sensor", one object per view in order, times as the document's other
 * times; no views is exactly verdict_json_api's document. */
static void test_api_sensor_views(void **state)
{
    (void)state;
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse("203.0.113.9", &v), 0);
    v.level = THREAT_HIGH;
    v.score = 0.9731;
    v.last_seen_us = 1732431421904113ull;
    snprintf(v.sensor, sizeof(v.sensor), "edge-fra-1,edge-ams-2");
    struct verdict_views views;
    memset(&views, 0, sizeof(views));
    views.n = 2;
    snprintf(views.v[0].sensor, sizeof(views.v[0].sensor), "edge-fra-1");
    views.v[0].level = THREAT_HIGH;
    views.v[0].score = 0.9731;
    views.v[0].pps = 48211.7;
    views.v[0].last_seen_us = 1732431421904113ull;
    snprintf(views.v[1].sensor, sizeof(views.v[1].sensor), "edge-ams-2");
    views.v[1].level = THREAT_LOW;
    views.v[1].score = 0.31;
    views.v[1].pps = 12;
    views.v[1].last_seen_us = 0; /* a sensor that wrote no last_seen */
    char a[VERDICT_JSON_MAX + VERDICT_JSON_VIEWS_MAX], b[VERDICT_JSON_MAX];
    struct jbuf ja = {.p = a, .cap = sizeof(a)}, jb = {.p = b, .cap = sizeof(b)};
    assert_true(
        verdict_json_api_views(&ja, "203.0.113.9", &v, true, 1795501045000ull, NULL, &views));
    a[ja.len] = '\0';
    const char *want =
        "\"sensor\":\"edge-fra-1,edge-ams-2\",\"sensor_views\":["
        "{\"sensor\":\"edge-fra-1\",\"threat_level\":\"high\",\"score\":0.9731,"
        "\"pps\":48211.7,\"last_seen\":\"2024-11-24T06:57:01.904Z\"},"
        "{\"sensor\":\"edge-ams-2\",\"threat_level\":\"low\",\"score\":0.31,\"pps\":12.0,"
        "\"last_seen\":null}],\"model_version\":null,";
    if (!strstr(a, want))
        fail_msg("got %s", a);
    json_error_t err;
    json_t *j = json_loads(a, 0, &err);
    assert_non_null(j);
    json_t *sv = json_object_get(j, "sensor_views");
    assert_int_equal(json_array_size(sv), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sv, 1), "sensor")),
                        "edge-ams-2");
    json_decref(j);

    /* No views (NULL or n 0): the document verdict_json_api writes, byte for byte. */
    assert_true(verdict_json_api(&jb, "203.0.113.9", &v, true, 1795501045000ull, NULL));
    views.n = 0;
    for (int k = 0; k < 2; k++) {
        ja = (struct jbuf){.p = a, .cap = sizeof(a)};
        assert_true(verdict_json_api_views(&ja, "203.0.113.9", &v, true, 1795501045000ull, NULL,
                                           k ? &views : NULL));
        assert_int_equal(ja.len, jb.len);
        assert_memory_equal(a, b, jb.len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jbuf_strings_match_jansson),
        cmocka_unit_test(test_jbuf_numbers_match_jansson),
        cmocka_unit_test(test_jbuf_overflow_is_sticky_and_bounded),
        cmocka_unit_test(test_time_iso8601_matches_strftime),
        cmocka_unit_test(test_reasons_every_bit_in_order),
        cmocka_unit_test(test_documents_match_the_old_jansson_output),
        cmocka_unit_test(test_unterminated_invalid_and_nonfinite),
        cmocka_unit_test(test_worst_case_fits_and_short_buffers_fail_cleanly),
        cmocka_unit_test(test_api_sensor_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
