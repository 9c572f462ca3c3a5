/* config_redis_url.c - redis://[[user]:password@]host[:port][/db] for redis.url and --redis.
 *
 * Owns the URL parser and its application to struct config_redis. The password is %-decoded,
 * held only in malloc'd memory that is wiped when freed, and never copied into a message; a URL
 * written literally in config.json must not hold one (it names ${REDIS_PASSWORD} instead).
 * Calls libc and config_keys.c's messages; start-up only. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config_internal.h"

struct cfg_redis_url {
    bool none;
    char host[256];
    int port, db;
    char *password; /* malloc'd, "" when the URL has none */
    char user[129]; /* ACL user; "" when none (or "default", the same thing) */
};

static bool cfg_digits(const char *p, size_t n, long max, long *out)
{
    if (n == 0 || n > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static int cfg_hex(char ch)
{
    return isdigit((unsigned char)ch)    ? ch - '0'
           : isxdigit((unsigned char)ch) ? tolower((unsigned char)ch) - 'a' + 10
                                         : -1;
}

/* Never puts the URL or the password into *why. */
static bool cfg_redis_url_parse(const char *url, struct cfg_redis_url *u, const char **why)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (strcmp(url, "none") == 0) {
        u->none = true;
        return true;
    }
    if (strncasecmp(url, "rediss://", 9) == 0) {
        *why = "TLS (rediss://) is not supported";
        return false;
    }
    if (strncasecmp(url, "redis://", 8) != 0) {
        *why = "it must start with redis://";
        return false;
    }
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at != NULL) { /* the last @: host, port and db never hold one, a password may */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL) {
            *why = "the part before @ must be :PASSWORD";
            return false;
        }
        size_t ulen = (size_t)(colon - p);
        if (ulen >= sizeof(u->user)) {
            *why = "the user name is longer than 128 bytes";
            return false;
        }
        for (size_t i = 0; i < ulen; i++)
            if (!isalnum((unsigned char)p[i]) && strchr("._-", p[i]) == NULL) {
                *why = "the user name may hold letters, digits, '.', '_' and '-' only";
                return false;
            }
        if (!(ulen == 7 && strncmp(p, "default", 7) == 0)) { /* "default": AUTH <password> */
            memcpy(u->user, p, ulen);
            u->user[ulen] = '\0';
        }
        u->password = malloc((size_t)(at - colon));
        if (u->password == NULL) {
            *why = "out of memory";
            return false;
        }
        size_t n = 0;
        for (const char *q = colon + 1; q < at; q++) {
            if (*q == '%') {
                int hi = q + 2 < at ? cfg_hex(q[1]) : -1, lo = hi >= 0 ? cfg_hex(q[2]) : -1;
                if (lo < 0 || (hi == 0 && lo == 0)) {
                    *why = "the password has a bad %-escape (write %XX, e.g. %40 for @)";
                    goto fail;
                }
                u->password[n++] = (char)(hi * 16 + lo);
                q += 2;
            } else {
                u->password[n++] = *q;
            }
        }
        u->password[n] = '\0';
        p = at + 1;
    }
    const char *host = p, *host_end;
    bool bracketed = *p == '[';
    if (bracketed) {
        host = p + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL) {
            *why = "an IPv6 host is written [ADDR]";
            goto fail;
        }
        p = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/");
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(u->host)) {
        *why = "the host is missing";
        goto fail;
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    unsigned char addr[16];
    if (bracketed ? inet_pton(AF_INET6, u->host, addr) != 1 : !cfg_host_valid(u->host)) {
        *why = "the host is not a valid address or host name";
        goto fail;
    }
    long v;
    if (*p == ':') {
        size_t nd = strcspn(p + 1, "/");
        if (!cfg_digits(p + 1, nd, 65535, &v) || v == 0) {
            *why = "the port must be 1 to 65535";
            goto fail;
        }
        u->port = (int)v;
        p += 1 + nd;
    }
    if (*p == '/') {
        p++;
        size_t nd = strlen(p);
        if (nd > 0 && !cfg_digits(p, nd, INT_MAX, &v)) {
            *why = "the database must be a number (e.g. /0); query options are not supported";
            goto fail;
        }
        u->db = nd > 0 ? (int)v : 0;
        p += nd;
    }
    if (*p != '\0') {
        *why = "unexpected text after the host";
        goto fail;
    }
    if (u->password == NULL && (u->password = strdup("")) == NULL) {
        *why = "out of memory";
        return false;
    }
    return true;
fail:
    free(u->password);
    u->password = NULL;
    return false;
}

void cfg_secret_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static int cfg_redis_apply(struct cfg_ctx *c, const char *what, struct config_redis *r,
                           const char *url, bool from_file_literal)
{
    struct cfg_redis_url u;
    const char *why;
    if (!cfg_redis_url_parse(url, &u, &why))
        return cfg_fail(c, "%s must be redis://[[user]:password@]host[:port][/db] or \"none\": %s",
                        what, why);
    if (u.none) {
        r->enabled = false;
        return 0;
    }
    if (from_file_literal && u.password[0] != '\0') {
        cfg_secret_free(u.password);
        return cfg_fail(c,
                        "%s must not hold the password itself: write "
                        "redis://:${REDIS_PASSWORD}@host:port/db (or use redis.password) and "
                        "set REDIS_PASSWORD in the environment or in .env",
                        what);
    }
    char *host = strdup(u.host), *user = strdup(u.user);
    if (host == NULL || user == NULL) {
        free(host);
        free(user);
        cfg_secret_free(u.password);
        return cfg_fail(c, "out of memory");
    }
    free(r->host);
    free(r->username);
    r->username = user;
    cfg_secret_free(r->password);
    r->host = host;
    r->password = u.password;
    r->port = u.port;
    r->db = u.db;
    r->enabled = true;
    return 0;
}

int cfg_set_redis_url(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                      struct config_redis *r)
{
    char *s;
    int rc = cfg_read_string(c, k, dpath, v, &s);
    if (rc != 0)
        return rc;
    if (s[0] != '\0') /* "" (e.g. from ${REDIS_URL:-}) leaves host/port/db as they are */
        rc = cfg_redis_apply(c, dpath, r, s,
                             !c->literal && strstr(json_string_value(v), "${") == NULL);
    cfg_secret_free(s);
    return rc;
}

int config_apply_redis_url(struct ddosd_config *c, const char *url, char *err, size_t err_len)
{
    struct cfg_ctx ctx = {"--redis", err, err_len, c, ".env", true};
    return cfg_redis_apply(&ctx, "the Redis URL", &c->redis, url, false);
}
