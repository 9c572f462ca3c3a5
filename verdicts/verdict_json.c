/* verdict_json.c - the verdict's JSON documents and the JSON writer (verdicts/verdict_json.h).
 *
 * Owns nothing: pure functions over caller buffers, callable from any thread.
 *
 * DESIGN: each document is a list of field ids (the tables below) written by one function per
 * field, plus the few members only that document has (the API's known/decision/expires, the
 * file's peaks, the event's kind and peers), written around the lists by the document's own
 * function. A field therefore reads the same in every output, and an output's layout is data
 * a reader can compare with the docs at a glance. The layouts keep the member order each
 * output had when it was written with jansson, so their bytes did not change. The writer
 * reproduces jansson's json_dumps output byte for byte (tests/unit/test_verdict_json.c checks
 * it against jansson) without its allocations: the API writes one of these per request. */
#include "verdicts/verdict_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"

/* ---- the JSON writer ---------------------------------------------------------------------- */

void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define LIT(b, s) jbuf_raw((b), s, sizeof(s) - 1)

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. The same rules as
 * jansson's utf8_check_full: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1fu, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0; /* a continuation byte, 0xc0/0xc1 (overlong) or 0xf5.. */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool jbuf_str(struct jbuf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t mark = b->len;
    bool overflow = b->overflow;
    jbuf_raw(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (k == 0) {
                b->len = mark; /* not UTF-8: write nothing */
                b->overflow = overflow;
                return false;
            }
            i += k;
            continue;
        }
        jbuf_raw(b, str + run, i - run);
        /* The escapes jansson writes, so documents match its byte for byte: one letter for
         * these seven, \u00XX for the other control characters. */
        static const char plain[] = "\"\\\b\f\n\r\t", letter[] = "\"\\bfnrt";
        const char *one = memchr(plain, (int)c, sizeof(plain) - 1);
        char esc[6] = {'\\', one ? letter[one - plain] : 'u', '0', '0', hex[c >> 4], hex[c & 15u]};
        size_t en = one ? 2 : 6;
        jbuf_raw(b, esc, en);
        run = ++i;
    }
    jbuf_raw(b, str + run, n - run);
    jbuf_raw(b, "\"", 1);
    return true;
}

void jbuf_str_or_null(struct jbuf *b, const char *s, size_t n)
{
    if (s == NULL || !jbuf_str(b, s, n))
        LIT(b, "null");
}

void jbuf_int(struct jbuf *b, long long v)
{
    char tmp[24], *e = tmp + sizeof(tmp), *p = e;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (v < 0)
        *--p = '-';
    jbuf_raw(b, p, (size_t)(e - p));
}

void jbuf_real(struct jbuf *b, double v, unsigned digits)
{
    if (!isfinite(v)) { /* JSON has no NaN or infinity (jansson refuses them too) */
        LIT(b, "null");
        return;
    }
    if (v == 0.0 && !signbit(v)) {
        LIT(b, "0.0");
        return;
    }
    /* jansson's jsonp_dtostr: "%.<digits>g", ".0" appended when there is neither '.' nor 'e',
     * and the exponent without '+' or leading zeros ("1e20", "1e-5"). */
    char tmp[48];
    int n = snprintf(tmp, sizeof(tmp) - 2, "%.*g", digits ? (int)digits : 17, v);
    if (n <= 0 || (size_t)n >= sizeof(tmp) - 2) {
        LIT(b, "null");
        return;
    }
    size_t len = (size_t)n;
    char *e = memchr(tmp, 'e', len);
    if (e == NULL && memchr(tmp, '.', len) == NULL) {
        memcpy(tmp + len, ".0", 2);
        len += 2;
    }
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '-')
            to = ++from;
        else if (*from == '+')
            from++;
        while (*from == '0' && from + 1 < tmp + len)
            from++;
        memmove(to, from, (size_t)(tmp + len - from));
        len -= (size_t)(from - to);
    }
    jbuf_raw(b, tmp, len);
}

void jbuf_key(struct jbuf *b, const char *name)
{
    if (b->len > 0 && b->p[b->len - 1] != '{')
        LIT(b, ",");
    jbuf_raw(b, "\"", 1);
    jbuf_raw(b, name, strlen(name));
    LIT(b, "\":");
}

/* ---- verdict fields --------------------------------------------------------------------- */

void verdict_json_reasons(struct jbuf *b, uint32_t reasons)
{
    LIT(b, "[");
    bool first = true;
    for (unsigned i = 0; i < 32; i++) {
        const char *name = (reasons >> i) & 1u ? verdict_reason_name(i) : NULL;
        if (name == NULL)
            continue;
        if (!first)
            LIT(b, ",");
        jbuf_str(b, name, strlen(name));
        first = false;
    }
    LIT(b, "]");
}

void verdict_json_examples(struct jbuf *b, const struct verdict *v)
{
    LIT(b, "[");
    bool first = true;
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
        char addr[VERDICT_IP_TEXT_MAX];
        if (!verdict_spoofed_example_format(v, i, addr))
            continue;
        if (!first)
            LIT(b, ",");
        jbuf_str(b, addr, strlen(addr));
        first = false;
    }
    LIT(b, "]");
}

void verdict_json_time(struct jbuf *b, uint64_t us, unsigned digits, bool zero_empty)
{
    char t[DD_TIME_ISO8601_MAX];
    if (us == 0 && zero_empty)
        t[0] = '\0';
    else
        dd_time_iso8601_us(t, sizeof(t), us, digits);
    jbuf_str(b, t, strlen(t));
}

/* How a document writes the fields that differ between outputs. */
struct vj_style {
    unsigned real_digits; /* JSON_REAL_PRECISION of the reals (0: jansson's default 17) */
    unsigned time_digits; /* fraction digits of first_seen, last_seen, start */
    bool time_zero_empty; /* a time of 0 is "" */
    bool empty_null;      /* an empty attack_type, sensor or model_version is null, not "" */
};

enum vj_field {
    F_END = 0, /* ends a layout */
    F_IP,
    F_ROLE,
    F_THREAT_LEVEL,
    F_SCORE,
    F_ATTACK_TYPE,
    F_REASONS,
    F_FLOWS_TOTAL,
    F_FLOWS_ATTACK,
    F_PPS,
    F_BPS,
    F_PEAK_PPS, /* pps under the event's name */
    F_PEAK_BPS,
    F_SPOOFED_SOURCES,
    F_SPOOFED_EXAMPLES,
    F_FIRST_SEEN,
    F_LAST_SEEN,
    F_START, /* first_seen under the event's name */
    F_FIRST_SEEN_US,
    F_LAST_SEEN_US,
    F_SENSOR,
    F_MODEL_VERSION,
};

static const char *const field_names[] = {
    [F_IP] = "ip",
    [F_ROLE] = "role",
    [F_THREAT_LEVEL] = "threat_level",
    [F_SCORE] = "score",
    [F_ATTACK_TYPE] = "attack_type",
    [F_REASONS] = "reasons",
    [F_FLOWS_TOTAL] = "flows_total",
    [F_FLOWS_ATTACK] = "flows_attack",
    [F_PPS] = "pps",
    [F_BPS] = "bps",
    [F_PEAK_PPS] = "peak_pps",
    [F_PEAK_BPS] = "peak_bps",
    [F_SPOOFED_SOURCES] = "spoofed_sources",
    [F_SPOOFED_EXAMPLES] = "spoofed_examples",
    [F_FIRST_SEEN] = "first_seen",
    [F_LAST_SEEN] = "last_seen",
    [F_START] = "start",
    [F_FIRST_SEEN_US] = "first_seen_us",
    [F_LAST_SEEN_US] = "last_seen_us",
    [F_SENSOR] = "sensor",
    [F_MODEL_VERSION] = "model_version",
};

/* A fixed-size string field: up to its first NUL, never past size - 1 bytes. */
static void put_text(struct jbuf *b, const char *f, size_t size, const struct vj_style *s)
{
    size_t n = strnlen(f, size - 1);
    if (n == 0 && s->empty_null)
        LIT(b, "null");
    else
        jbuf_str_or_null(b, f, n);
}

static void put_name(struct jbuf *b, const char *name)
{
    jbuf_raw(b, "\"", 1);
    jbuf_raw(b, name, strlen(name));
    jbuf_raw(b, "\"", 1);
}

/* Writes the members of layout (F_END-terminated) for v. */
static void put_fields(struct jbuf *b, const struct verdict *v, const uint8_t *layout,
                       const struct vj_style *s)
{
    for (; *layout != F_END; layout++) {
        enum vj_field f = (enum vj_field) * layout;
        jbuf_key(b, field_names[f]);
        switch (f) {
        case F_IP: {
            char ip[VERDICT_IP_TEXT_MAX];
            put_name(b, verdict_ip_format(v, ip));
            break;
        }
        case F_ROLE:
            put_name(b, verdict_role_name((enum verdict_role)v->role));
            break;
        case F_THREAT_LEVEL:
            put_name(b, threat_level_name((enum threat_level)v->level));
            break;
        case F_SCORE:
            jbuf_real(b, v->score, s->real_digits);
            break;
        case F_ATTACK_TYPE:
            put_text(b, v->attack_type, sizeof(v->attack_type), s);
            break;
        case F_REASONS:
            verdict_json_reasons(b, v->reasons);
            break;
        case F_FLOWS_TOTAL: /* as a json_int_t, like every other integer jansson wrote */
            jbuf_int(b, (long long)v->flows_total);
            break;
        case F_FLOWS_ATTACK:
            jbuf_int(b, (long long)v->flows_attack);
            break;
        case F_PPS:
        case F_PEAK_PPS:
            jbuf_real(b, v->pps, s->real_digits);
            break;
        case F_BPS:
        case F_PEAK_BPS:
            jbuf_real(b, v->bps, s->real_digits);
            break;
        case F_SPOOFED_SOURCES:
            jbuf_int(b, (long long)v->spoofed_sources);
            break;
        case F_SPOOFED_EXAMPLES:
            verdict_json_examples(b, v);
            break;
        case F_FIRST_SEEN:
        case F_START:
            verdict_json_time(b, v->first_seen_us, s->time_digits, s->time_zero_empty);
            break;
        case F_LAST_SEEN:
            verdict_json_time(b, v->last_seen_us, s->time_digits, s->time_zero_empty);
            break;
        case F_FIRST_SEEN_US:
            jbuf_int(b, (long long)v->first_seen_us);
            break;
        case F_LAST_SEEN_US:
            jbuf_int(b, (long long)v->last_seen_us);
            break;
        case F_SENSOR:
            put_text(b, v->sensor, sizeof(v->sensor), s);
            break;
        case F_MODEL_VERSION:
            put_text(b, v->model_version, sizeof(v->model_version), s);
            break;
        case F_END:
            break;
        }
    }
}

/* ---- the documents ------------------------------------------------------------------------ */

static const struct vj_style api_style = {
    .real_digits = 10, .time_digits = 3, .time_zero_empty = false, .empty_null = true};
static const uint8_t api_head[] = {F_THREAT_LEVEL, F_END}; /* then "known" */
/* clang-format off */
static const uint8_t api_body[] = {
    F_SCORE, F_ROLE, F_ATTACK_TYPE, F_REASONS, F_FIRST_SEEN, F_LAST_SEEN,
    F_FLOWS_TOTAL, F_FLOWS_ATTACK, F_PPS, F_BPS, F_SPOOFED_SOURCES, F_SPOOFED_EXAMPLES,
    F_SENSOR, F_END}; /* then "sensor_views" when there are views */
static const uint8_t api_tail[] = {F_MODEL_VERSION, F_END};
/* clang-format on */

/* "sensor_views":[{"sensor","threat_level","score","pps","last_seen"}...] in the API's style. */
static void put_views(struct jbuf *b, const struct verdict_views *views)
{
    size_t n = views->n < VERDICT_VIEWS_MAX ? views->n : VERDICT_VIEWS_MAX;
    LIT(b, ",\"sensor_views\":[");
    for (size_t i = 0; i < n; i++) {
        const struct verdict_sensor_view *w = &views->v[i];
        if (i)
            LIT(b, ",");
        LIT(b, "{\"sensor\":");
        put_text(b, w->sensor, sizeof(w->sensor), &api_style);
        LIT(b, ",\"threat_level\":");
        put_name(b, threat_level_name((enum threat_level)w->level));
        LIT(b, ",\"score\":");
        jbuf_real(b, w->score, api_style.real_digits);
        LIT(b, ",\"pps\":");
        jbuf_real(b, w->pps, api_style.real_digits);
        LIT(b, ",\"last_seen\":");
        if (w->last_seen_us)
            verdict_json_time(b, w->last_seen_us, api_style.time_digits, false);
        else
            LIT(b, "null"); /* a sensor older than the field: it wrote level, score and time only */
        LIT(b, "}");
    }
    LIT(b, "]");
}

bool verdict_json_api(struct jbuf *b, const char *ip, const struct verdict *v, bool decision,
                      uint64_t expires_ms, const char *unknown_sensor)
{
    return verdict_json_api_views(b, ip, v, decision, expires_ms, unknown_sensor, NULL);
}

bool verdict_json_api_views(struct jbuf *b, const char *ip, const struct verdict *v, bool decision,
                            uint64_t expires_ms, const char *unknown_sensor,
                            const struct verdict_views *views)
{
    LIT(b, "{\"ip\":");
    jbuf_str_or_null(b, ip, strlen(ip));
    if (v == NULL) {
        LIT(b, ",\"threat_level\":\"low\",\"known\":false,\"score\":0.0,\"role\":null,"
               "\"attack_type\":null,\"reasons\":[],\"first_seen\":null,\"last_seen\":null,"
               "\"flows_total\":0,\"flows_attack\":0,\"pps\":0.0,\"bps\":0.0,"
               "\"spoofed_sources\":0,\"spoofed_examples\":[],\"sensor\":");
        jbuf_str_or_null(b, unknown_sensor, unknown_sensor ? strlen(unknown_sensor) : 0);
        LIT(b, ",\"model_version\":null,\"decision\":false,\"expires\":null}");
        return !b->overflow;
    }
    put_fields(b, v, api_head, &api_style);
    LIT(b, ",\"known\":true");
    put_fields(b, v, api_body, &api_style);
    if (views && views->n)
        put_views(b, views);
    put_fields(b, v, api_tail, &api_style);
    if (decision)
        LIT(b, ",\"decision\":true,\"expires\":");
    else
        LIT(b, ",\"decision\":false,\"expires\":");
    char t[DD_TIME_ISO8601_MAX];
    dd_time_iso8601(t, sizeof(t), expires_ms / 1000u, 0, 0);
    jbuf_str(b, t, strlen(t));
    LIT(b, "}");
    return !b->overflow;
}

static const struct vj_style line_style = {
    .real_digits = 17, .time_digits = 6, .time_zero_empty = true, .empty_null = false};
/* clang-format off */
static const uint8_t line_layout[] = {
    F_IP, F_ROLE, F_THREAT_LEVEL, F_SCORE, F_ATTACK_TYPE, F_REASONS,
    F_FLOWS_TOTAL, F_FLOWS_ATTACK, F_PPS, F_BPS, F_SPOOFED_SOURCES, F_SPOOFED_EXAMPLES,
    F_FIRST_SEEN, F_LAST_SEEN, F_FIRST_SEEN_US, F_LAST_SEEN_US, F_SENSOR, F_MODEL_VERSION, F_END};
/* clang-format on */

bool verdict_json_line(struct jbuf *b, const struct verdict *v, unsigned peak_level,
                       const uint64_t first_at[4])
{
    static const char *const at_names[4] = {NULL, "first_medium_us", "first_high_us",
                                            "first_critical_us"};
    LIT(b, "{");
    put_fields(b, v, line_layout, &line_style);
    jbuf_key(b, "peak_level");
    put_name(b, threat_level_name((enum threat_level)peak_level));
    for (int l = 1; l < 4 && first_at; l++) {
        if (first_at[l]) {
            jbuf_key(b, at_names[l]);
            jbuf_int(b, (long long)first_at[l]);
        }
    }
    LIT(b, "}");
    return !b->overflow;
}

static const struct vj_style event_style = {
    .real_digits = 10, .time_digits = 6, .time_zero_empty = false, .empty_null = false};
/* clang-format off */
static const uint8_t event_layout[] = {
    F_IP, F_ROLE, F_THREAT_LEVEL, F_SCORE, F_ATTACK_TYPE, F_REASONS,
    F_PPS, F_BPS, F_SPOOFED_SOURCES, F_SPOOFED_EXAMPLES, F_START, F_PEAK_PPS, F_PEAK_BPS, F_END};
/* clang-format on */
static const uint8_t event_peer[] = {F_IP, F_ROLE, F_THREAT_LEVEL, F_SCORE, F_PPS, F_BPS, F_END};
static const uint8_t event_tail[] = {F_SENSOR, F_END};

bool verdict_json_event(struct jbuf *b, const char *kind, const struct verdict *v,
                        const struct verdict *peers, size_t npeers)
{
    LIT(b, "{\"event\":");
    jbuf_str_or_null(b, kind ? kind : "", kind ? strlen(kind) : 0);
    put_fields(b, v, event_layout, &event_style);
    LIT(b, ",\"top_peers\":[");
    for (size_t i = 0; i < npeers && peers; i++) {
        if (i)
            LIT(b, ",");
        LIT(b, "{");
        put_fields(b, &peers[i], event_peer, &event_style);
        LIT(b, "}");
    }
    LIT(b, "]");
    put_fields(b, v, event_tail, &event_style);
    LIT(b, "}");
    return !b->overflow;
}
