/* http_json.c - the small pure helpers every route uses: JSON bodies and JSON errors, query
 * strings, ISO 8601 / RFC 3339 times, Go duration strings, address normalisation and key
 * comparison.
 *
 * Owns nothing; every function works on caller memory and may be called from any thread.
 *
 * DESIGN: reply bodies are compact JSON dumped by jansson (JSON_REAL_PRECISION(10): rates
 * keep their digits without printing 0.80000000000000004), except /api/threat-analysis, which
 * writes the same bytes with the api_jbuf helpers (no allocation, escapes and numbers exactly as
 * jansson writes them). The time formats use integer arithmetic for years 0-9999 and fall back
 * to gmtime_r + strftime beyond. A reply that cannot be built (out of
 * memory) degrades to a static 500 body, so a route never has to handle its own error path. */
#include "api/api_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char oom_body[] =
    /* never written: body_static */ "{\"error\":\"internal\",\"detail\":\"out of memory\"}";

static void reply_oom(struct api_reply *out)
{
    out->status = 500;
    out->content_type = "application/json";
    out->body = oom_body;
    out->body_len = sizeof(oom_body) - 1;
    out->body_static = true;
}

void api_reply_json(struct api_reply *out, int status, json_t *obj)
{
    char *text =
        obj ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(obj);
    if (text == NULL) {
        reply_oom(out);
        return;
    }
    out->status = status;
    out->content_type = "application/json";
    out->body = text;
    out->body_len = strlen(text);
    out->body_static = false;
}

void api_reply_error(struct api_reply *out, int status, const char *error, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    /* detail may quote client input: jansson escapes it, and invalid UTF-8 is replaced. */
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "error", json_string(error));
        json_t *d = json_string(detail);
        json_object_set_new(o, "detail", d ? d : json_string("(detail not UTF-8)"));
    }
    api_reply_json(out, status, o);
}

void api_reply_free(struct api_reply *r)
{
    if (r && !r->body_static)
        free(r->body);
    if (r) {
        r->body = NULL;
        r->body_len = 0;
    }
}

/* ---------------------------------------------------------------- JSON without jansson */

void api_jbuf_raw(struct api_jbuf *b, const char *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

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

bool api_jbuf_str(struct api_jbuf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t mark = b->len;
    bool overflow = b->overflow;
    api_jbuf_raw(b, "\"", 1);
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
        api_jbuf_raw(b, str + run, i - run);
        char esc[6] = {'\\', 0};
        size_t en = 2;
        switch (c) { /* the escapes jansson writes, so bodies match its byte for byte */
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15u];
            en = 6;
        }
        api_jbuf_raw(b, esc, en);
        run = ++i;
    }
    api_jbuf_raw(b, str + run, n - run);
    api_jbuf_raw(b, "\"", 1);
    return true;
}

void api_jbuf_str_or_null(struct api_jbuf *b, const char *s, size_t n)
{
    if (s == NULL || !api_jbuf_str(b, s, n))
        api_jbuf_raw(b, "null", 4);
}

void api_jbuf_int(struct api_jbuf *b, long long v)
{
    char tmp[24], *e = tmp + sizeof(tmp), *p = e;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (v < 0)
        *--p = '-';
    api_jbuf_raw(b, p, (size_t)(e - p));
}

void api_jbuf_real(struct api_jbuf *b, double v)
{
    if (!isfinite(v)) { /* JSON has no NaN or infinity (jansson refuses them too) */
        api_jbuf_raw(b, "null", 4);
        return;
    }
    if (v == 0.0 && !signbit(v)) {
        api_jbuf_raw(b, "0.0", 3);
        return;
    }
    /* jansson's jsonp_dtostr at JSON_REAL_PRECISION(10): "%.10g", ".0" appended when there is
     * neither '.' nor 'e', and the exponent without '+' or leading zeros ("1e20", "1e-5"). */
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp) - 2, "%.10g", v);
    if (n <= 0 || (size_t)n >= sizeof(tmp) - 2) {
        api_jbuf_raw(b, "null", 4);
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
    api_jbuf_raw(b, tmp, len);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int api_query_parse(const char *qs, struct api_query *q)
{
    q->n = 0;
    if (qs == NULL || *qs == '\0')
        return 0;
    size_t len = strlen(qs);
    if (len >= sizeof(q->text))
        return -E2BIG;
    /* Decoding only shrinks text, so decode in place into q->text. */
    char *w = q->text;
    const char *p = qs;
    while (*p) {
        const char *end = p + strcspn(p, "&");
        if (end == p) { /* "a=1&&b=2": skip empty parameters */
            p++;
            continue;
        }
        if (q->n == API_QUERY_MAX)
            return -E2BIG;
        q->key[q->n] = w;
        q->value[q->n] = NULL;
        for (; p < end; p++) {
            int ch = (unsigned char)*p;
            if (ch == '=' && q->value[q->n] == NULL) {
                *w++ = '\0';
                q->value[q->n] = w;
                continue;
            }
            if (ch == '+') {
                ch = ' ';
            } else if (ch == '%') {
                int hi = p + 1 < end ? hexval(p[1]) : -1;
                int lo = p + 2 < end ? hexval(p[2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                    return -EINVAL;
                ch = hi * 16 + lo;
                p += 2;
            }
            *w++ = (char)ch;
        }
        *w++ = '\0';
        if (q->value[q->n] == NULL)
            q->value[q->n] = w - 1; /* "flag" alone: empty value */
        q->n++;
        if (*p == '&')
            p++;
    }
    return 0;
}

const char *api_query_get(const struct api_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->key[i], key) == 0)
            return q->value[i];
    }
    return NULL;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days), for
 * t >= 0. */
static void civil_from_days(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    uint64_t z = days + 719468u;
    uint64_t era = z / 146097u;
    unsigned doe = (unsigned)(z - era * 146097u);
    unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    unsigned mp = (5u * doy + 2u) / 153u;
    *d = doy - (153u * mp + 2u) / 5u + 1u;
    *m = mp < 10u ? mp + 3u : mp - 9u;
    *y = (unsigned)(yoe + era * 400u) + (*m <= 2u);
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10u % 10u);
    p[1] = (char)('0' + v % 10u);
    return p + 2;
}

/* "YYYY-MM-DDTHH:MM:SS" for s seconds since the epoch, when the year has four digits (what
 * strftime("%Y-%m-%dT%H:%M:%S") prints); returns the end, or NULL for later years. */
static char *format_utc(uint64_t s, char *p)
{
    if (s >= 253402300800u) /* 10000-01-01: leave five-digit years to strftime */
        return NULL;
    unsigned y, mo, d, sod = (unsigned)(s % 86400u);
    civil_from_days(s / 86400u, &y, &mo, &d);
    p = put2(p, y / 100u);
    p = put2(p, y % 100u);
    *p++ = '-';
    p = put2(p, mo);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, sod / 3600u);
    *p++ = ':';
    p = put2(p, sod / 60u % 60u);
    *p++ = ':';
    return put2(p, sod % 60u);
}

/* Copies n bytes of src into buf of len as a string (truncated as snprintf would). */
static char *copy_out(char *buf, size_t len, const char *src, size_t n)
{
    if (len == 0)
        return buf;
    if (n >= len)
        n = len - 1;
    memcpy(buf, src, n);
    buf[n] = '\0';
    return buf;
}

char *api_time_iso_us(uint64_t us, char *buf, size_t len)
{
    char tmp[32];
    char *e = format_utc(us / 1000000u, tmp);
    if (e) { /* the hot path (every verdict): no gmtime_r, strftime or printf */
        unsigned ms = (unsigned)(us / 1000u % 1000u);
        *e++ = '.';
        *e++ = (char)('0' + ms / 100u);
        e = put2(e, ms % 100u);
        *e++ = 'Z';
        return copy_out(buf, len, tmp, (size_t)(e - tmp));
    }
    time_t t = (time_t)(us / 1000000u);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "1970-01-01T00:00:00.000Z");
        return buf;
    }
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", day, (unsigned)(us / 1000u % 1000u));
    return buf;
}

char *api_time_rfc3339_ms(uint64_t ms, char *buf, size_t len)
{
    char tmp[32];
    char *e = format_utc(ms / 1000u, tmp);
    if (e) {
        *e++ = 'Z';
        return copy_out(buf, len, tmp, (size_t)(e - tmp));
    }
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "1970-01-01T00:00:00Z");
    return buf;
}

char *api_go_duration(uint64_t ms, char *buf, size_t len)
{
    uint64_t s = ms / 1000u;
    uint64_t h = s / 3600u, m = s / 60u % 60u, sec = s % 60u;
    /* Go's time.Duration.String(): "1h0m5s", "4m59s", "59s", "0s". */
    if (h)
        snprintf(buf, len, "%lluh%llum%llus", (unsigned long long)h, (unsigned long long)m,
                 (unsigned long long)sec);
    else if (m)
        snprintf(buf, len, "%llum%llus", (unsigned long long)m, (unsigned long long)sec);
    else
        snprintf(buf, len, "%llus", (unsigned long long)sec);
    return buf;
}

int api_ip_parse(const char *s, struct verdict *v, char text[VERDICT_IP_TEXT_MAX])
{
    if (s == NULL || *s == '\0' || strlen(s) >= VERDICT_IP_TEXT_MAX)
        return -EINVAL;
    struct verdict tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (verdict_ip_parse(s, &tmp) != 0)
        return -EINVAL;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (tmp.ip_version == 6 && memcmp(tmp.ip, mapped, sizeof(mapped)) == 0) {
        /* ::ffff:a.b.c.d is the IPv4 address a dual-stack socket reports: key it as IPv4. */
        memmove(tmp.ip, tmp.ip + 12, 4);
        memset(tmp.ip + 4, 0, 12);
        tmp.ip_version = 4;
    }
    memcpy(v->ip, tmp.ip, sizeof(v->ip));
    v->ip_version = tmp.ip_version;
    if (v->ip_version == 4) { /* the common case, without inet_ntop's sprintf */
        char *p = text;
        for (int i = 0; i < 4; i++) {
            unsigned b = v->ip[i];
            if (b >= 100)
                *p++ = (char)('0' + b / 100u);
            if (b >= 10)
                *p++ = (char)('0' + b / 10u % 10u);
            *p++ = (char)('0' + b % 10u);
            *p++ = i < 3 ? '.' : '\0';
        }
        return 0;
    }
    verdict_ip_format(v, text);
    return 0;
}

bool api_text_ok(const char *s, size_t max)
{
    size_t i = 0;
    for (; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i >= max || ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

bool api_key_equal(const char *given, size_t given_len, const char *secret, size_t secret_len)
{
    if (secret_len == 0)
        return false;
    /* Visit every byte of the presented key whatever matches; the secret's length leaks only
     * through the length check folded into diff, not through an early exit. */
    volatile unsigned char diff = (unsigned char)(given_len != secret_len);
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)secret[i % secret_len];
    return diff == 0;
}
