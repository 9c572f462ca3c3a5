/* http_json.c - the small pure helpers every route uses: JSON bodies and JSON errors, query
 * strings, Go duration strings, address normalisation and key comparison.
 *
 * Owns nothing; every function works on caller memory and may be called from any thread.
 *
 * DESIGN: reply bodies are compact JSON dumped by jansson (JSON_REAL_PRECISION(10): rates
 * keep their digits without printing 0.80000000000000004), except verdicts, which
 * verdicts/verdict_json.h writes in the same bytes without allocating; times are
 * common/timefmt.h's. A reply that cannot be built (out of memory) degrades to a static 500
 * body, so a route never has to handle its own error path. */
#include "api/api_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
