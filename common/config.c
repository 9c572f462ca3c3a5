/* config.c - loads, checks, overrides and frees struct ddosd_config.
 *
 * Owns the walk of config.json against the key table (config_keys.c): unknown keys, type and
 * range checks, ${VAR} placeholders, lists, host groups; then the defaults, config_validate(),
 * loading a file or buffer with its .env, command-line overrides (config_set()) and config_free().
 * redis:// URLs are config_redis_url.c's, --dump-config config_dump.c's; lists of CIDRs are
 * parsed by common/cidr.c.
 *
 * Placeholders are expanded when a string value is read, with the variable table of the .env
 * file that the loader opened (environment first).
 *
 * Calls jansson, libc and common/env.c; used at start-up only (not thread-safe). */
#include "common/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/config_internal.h"
#include "common/env.h"

_Static_assert(sizeof(enum config_flows_mode) == sizeof(int), "K_CHOICE writes an int");
_Static_assert(sizeof(enum log_level) == sizeof(int), "K_CHOICE writes an int");

static char *cfg_default_sensor_id(void);

/* ---- placeholders -------------------------------------------------------------------------- */

/* True for well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF): config.json
 * is JSON, so every value must stay representable in it (config_dump) after expansion. */
static bool cfg_utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s != '\0') {
        unsigned ch = *s++, need, min;
        if (ch < 0x80)
            continue;
        if (ch >= 0xc2 && ch <= 0xdf)
            need = 1, min = 0x80, ch &= 0x1f;
        else if (ch >= 0xe0 && ch <= 0xef)
            need = 2, min = 0x800, ch &= 0x0f;
        else if (ch >= 0xf0 && ch <= 0xf4)
            need = 3, min = 0x10000, ch &= 0x07;
        else
            return false;
        for (unsigned i = 0; i < need; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return false;
            ch = ch << 6 | (*s & 0x3fu);
        }
        if (ch < min || ch > 0x10ffff || (ch >= 0xd800 && ch <= 0xdfff))
            return false;
    }
    return true;
}

struct cfg_buf {
    char *p;
    size_t n, cap;
};

static bool cfg_buf_add(struct cfg_buf *b, const char *s, size_t n)
{
    if (b->n + n > CONFIG_STRING_MAX)
        return false;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

/* Expands ${VAR} and ${VAR:-default} (and $$) in raw into a malloc'd *out. *whole is true when
 * raw is exactly one placeholder, which lets a number or boolean key convert the result. On the
 * command line (c->literal) the text is taken as is and may always convert. */
static int cfg_expand(struct cfg_ctx *c, const char *dpath, const char *raw, char **out,
                      bool *whole)
{
    struct cfg_buf b = {0};
    *out = NULL;
    *whole = c->literal;
    if (c->literal) {
        if (strlen(raw) > CONFIG_STRING_MAX)
            goto too_long;
        if ((*out = strdup(raw)) == NULL)
            return cfg_fail(c, "out of memory");
        return 0;
    }
    const char *p = raw;
    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL) {
            if (!cfg_buf_add(&b, p, strlen(p)))
                goto too_long;
            break;
        }
        if (dollar > p) {
            if (!cfg_buf_add(&b, p, (size_t)(dollar - p)))
                goto too_long;
        }
        p = dollar;
        if (p[1] != '{') { /* "$$" is one "$"; a lone "$" is itself */
            if (!cfg_buf_add(&b, "$", 1))
                goto too_long;
            p += p[1] == '$' ? 2 : 1;
            continue;
        }
        const char *close = strchr(p + 2, '}');
        if (close == NULL) {
            free(b.p);
            return cfg_fail(c,
                            "%s: unterminated ${ (a placeholder is ${NAME} or "
                            "${NAME:-default}; write $$ for a literal $)",
                            dpath);
        }
        const char *name = p + 2, *sep = strstr(name, ":-");
        if (sep != NULL && sep > close)
            sep = NULL;
        size_t name_len = (size_t)((sep ? sep : close) - name);
        if (!env_name_valid(name, name_len)) {
            char inner[80], q[96];
            snprintf(inner, sizeof(inner), "%.*s", (int)(close - p + 1 < 70 ? close - p + 1 : 70),
                     p);
            free(b.p);
            return cfg_fail(c,
                            "%s: bad placeholder %s: write ${NAME} or ${NAME:-default} with a "
                            "NAME of letters, digits and _",
                            dpath, config_quote(inner, q, sizeof(q)));
        }
        char var[256];
        snprintf(var, sizeof(var), "%.*s", (int)name_len, name);
        const char *value = env_file_lookup(c->cfg->env, var);
        if (sep != NULL && (value == NULL || value[0] == '\0')) {
            if (!cfg_buf_add(&b, sep + 2, (size_t)(close - sep - 2)))
                goto too_long;
        } else if (value == NULL) {
            free(b.p);
            return cfg_fail(c,
                            "%s: ${%s} is not set; set %s in the environment or in %s, or give a "
                            "default: ${%s:-value}",
                            dpath, var, var, c->env_hint, var);
        } else if (!cfg_buf_add(&b, value, strlen(value))) {
            goto too_long;
        }
        if (p == raw && close[1] == '\0')
            *whole = true;
        p = close + 1;
    }
    if (b.p == NULL && (b.p = strdup("")) == NULL)
        goto too_long;
    if (!cfg_utf8_valid(b.p)) {
        free(b.p);
        return cfg_fail(
            c, "%s is not valid UTF-8 after ${} expansion (check the variables it uses)", dpath);
    }
    *out = b.p;
    return 0;
too_long:
    free(b.p);
    return cfg_fail(c, "%s is longer than %d bytes (after ${} expansion)", dpath,
                    CONFIG_STRING_MAX);
}

/* ---- scalar readers ----------------------------------------------------------------------- */

/* A strict decimal number: [+-]digits[.digits][e[+-]digits], finite. */
static bool cfg_parse_number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t digits = 0;
    while (isdigit((unsigned char)*p))
        p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, digits++;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p != '\0')
        return false;
    double d = strtod(s, NULL);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; i < DD_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static void cfg_expect(const struct cfg_key *k, char *buf, size_t len)
{
    if (k->kind == K_INT)
        snprintf(buf, len, "an integer between %.0f and %.0f", k->min, k->max);
    else if ((k->flags & F_MIN_EXCL) && k->min == 0 && isinf(k->max))
        snprintf(buf, len, "a positive number");
    else if (k->flags & F_MIN_EXCL)
        snprintf(buf, len, "a number greater than %g and at most %g", k->min, k->max);
    else if (isinf(k->max))
        snprintf(buf, len, "a number >= %g", k->min);
    else
        snprintf(buf, len, "a number between %g and %g", k->min, k->max);
}

/* Reads a number key: a JSON number, or a string that is one placeholder (or a command-line
 * value) holding one. A nullable key also takes null (and "" from a placeholder). */
static int cfg_read_number(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                           double *out, bool *is_null)
{
    char got[200], expect[96];
    const char *hint = "";
    bool ok = true;
    double d = 0;
    *is_null = false;
    cfg_expect(k, expect, sizeof(expect));
    if (json_is_null(v) && (k->flags & F_NULLABLE)) {
        *is_null = true;
        return 0;
    }
    if (json_is_integer(v) || json_is_real(v)) {
        d = json_number_value(v);
        cfg_describe(v, false, got, sizeof(got));
    } else if (json_is_string(v)) {
        char *s;
        bool whole;
        int rc = cfg_expand(c, dpath, json_string_value(v), &s, &whole);
        if (rc != 0)
            return rc;
        if (whole && (k->flags & F_NULLABLE) && (s[0] == '\0' || strcmp(s, "null") == 0)) {
            free(s);
            *is_null = true;
            return 0;
        }
        ok = cfg_parse_number(s, &d);
        if (ok && !whole)
            hint = " (write numbers without quotes)";
        ok = ok && whole;
        cfg_describe_expanded(json_string_value(v), s, got, sizeof(got));
        free(s);
    } else {
        ok = false;
        cfg_describe(v, false, got, sizeof(got));
    }
    if (ok && (d < k->min || d > k->max || ((k->flags & F_MIN_EXCL) && d <= k->min)))
        ok = false;
    if (ok && k->kind == K_INT && d != (double)(long long)d) /* in range, so the cast is safe */
        ok = false;
    if (!ok)
        return cfg_fail(c, "%s must be %s, got %s%s", dpath, expect, got, hint);
    *out = d;
    return 0;
}

static int cfg_read_bool(struct cfg_ctx *c, const char *dpath, json_t *v, bool *out)
{
    char got[200];
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (!json_is_string(v))
        return cfg_fail(c, "%s must be true or false, got %s", dpath,
                        cfg_describe(v, false, got, sizeof(got)));
    char *s;
    bool whole, b;
    int rc = cfg_expand(c, dpath, json_string_value(v), &s, &whole);
    if (rc != 0)
        return rc;
    bool ok = cfg_parse_bool(s, &b);
    cfg_describe_expanded(json_string_value(v), s, got, sizeof(got));
    free(s);
    if (ok && whole) {
        *out = b;
        return 0;
    }
    return cfg_fail(c, "%s must be true or false, got %s%s", dpath, got,
                    ok ? " (write true or false without quotes)" : "");
}

/* Reads a string key into a malloc'd *out (expanded). */
int cfg_read_string(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                    char **out)
{
    char got[200];
    *out = NULL;
    bool secret = k && (k->flags & F_SECRET);
    if (!json_is_string(v))
        return cfg_fail(c, "%s must be a string, got %s", dpath,
                        cfg_describe(v, secret, got, sizeof(got)));
    const char *raw = json_string_value(v);
    /* A secret written into config.json leaks through backups, repositories and dumps. */
    if (secret && !c->literal && k->kind == K_STR && raw[0] != '\0' && strstr(raw, "${") == NULL)
        return cfg_fail(c,
                        "%s must not hold the secret itself: write a placeholder such as "
                        "\"${REDIS_PASSWORD}\" and set the value in the environment or in .env",
                        dpath);
    bool whole;
    int rc = cfg_expand(c, dpath, raw, out, &whole);
    if (rc != 0)
        return rc;
    if (k && (k->flags & F_NONEMPTY) && (*out)[0] == '\0')
        rc = cfg_fail(c, "%s must not be empty", dpath);
    else if (k && k->check != NULL)
        rc = k->check(c, dpath, *out);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int cfg_read_choice(struct cfg_ctx *c, const char *dpath, json_t *v,
                           const char *const *choices, int *out)
{
    char got[200], list[160];
    size_t n = 0;
    for (size_t i = 0; choices[i] != NULL && n + 20 < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"", i ? ", " : "", choices[i]);
    if (!json_is_string(v))
        return cfg_fail(c, "%s must be one of %s, got %s", dpath, list,
                        cfg_describe(v, false, got, sizeof(got)));
    char *s;
    bool whole;
    int rc = cfg_expand(c, dpath, json_string_value(v), &s, &whole);
    if (rc != 0)
        return rc;
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcmp(s, choices[i]) == 0) {
            free(s);
            *out = i;
            return 0;
        }
    }
    const char *near = cfg_suggest(s, choices);
    cfg_describe_expanded(json_string_value(v), s, got, sizeof(got));
    free(s);
    if (near != NULL)
        return cfg_fail(c, "%s must be one of %s, got %s; did you mean \"%s\"?", dpath, list, got,
                        near);
    return cfg_fail(c, "%s must be one of %s, got %s", dpath, list, got);
}

/* ---- messages ---------------------------------------------------------------------------- */

static bool cfg_errf(char *err, size_t err_len, const char *fmt, ...) DD_PRINTF(3, 4);
static bool cfg_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* ---- composite values ---------------------------------------------------------------------- */

static void cfg_strlist_free(struct config_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int cfg_check_array(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                           const char *what)
{
    char got[200];
    if (!json_is_array(v))
        return cfg_fail(c, "%s must be an array of %s, got %s", dpath, what,
                        cfg_describe(v, (k->flags & F_SECRET) != 0, got, sizeof(got)));
    if (json_array_size(v) > (size_t)k->max)
        return cfg_fail(c, "%s has %zu items; at most %.0f are allowed", dpath, json_array_size(v),
                        k->max);
    if ((k->flags & F_NONEMPTY) && json_array_size(v) == 0)
        return cfg_fail(c, "%s must list at least one %s", dpath, what);
    return 0;
}

static int cfg_set_strlist(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                           struct config_strlist *field)
{
    int rc = cfg_check_array(c, k, dpath, v, "strings");
    if (rc != 0)
        return rc;
    struct config_strlist l = {calloc(json_array_size(v) + 1, sizeof(char *)), 0};
    if (l.items == NULL)
        return cfg_fail(c, "out of memory");
    char ip[512];
    struct cfg_key item = *k;
    item.flags |= F_NONEMPTY;
    for (size_t i = 0; i < json_array_size(v); i++) {
        snprintf(ip, sizeof(ip), "%s[%zu]", dpath, i);
        rc = cfg_read_string(c, &item, ip, json_array_get(v, i), &l.items[i]);
        if (rc != 0) {
            cfg_strlist_free(&l);
            return rc;
        }
        l.n++;
    }
    cfg_strlist_free(field);
    *field = l;
    return 0;
}

static int cfg_set_cidrlist(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath,
                            json_t *v, struct cidr_list *field)
{
    int rc = cfg_check_array(c, k, dpath, v, "CIDRs");
    if (rc != 0)
        return rc;
    struct cidr_list l = {calloc(json_array_size(v) + 1, sizeof(struct cidr)), 0};
    if (l.items == NULL)
        return cfg_fail(c, "out of memory");
    char ip[512], why[200];
    for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
        snprintf(ip, sizeof(ip), "%s[%zu]", dpath, i);
        char *s;
        rc = cfg_read_string(c, NULL, ip, json_array_get(v, i), &s);
        if (rc != 0)
            break;
        if (cidr_parse(s, CIDR_STRICT, &l.items[i], why, sizeof(why)) != 0)
            rc = cfg_fail(c, "%s: %s", ip, why);
        else
            l.n++;
        free(s);
    }
    if (rc != 0) {
        free(l.items);
        return rc;
    }
    free(field->items);
    *field = l;
    return 0;
}

/* Parses "HOST:PORT", "[V6]:PORT" or "none" into *out (host malloc'd). */
static bool cfg_listen_parse(const char *s, struct config_listen *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(s, "none") == 0) {
        out->host = strdup("");
        *why = "out of memory";
        return out->host != NULL;
    }
    const char *host = s, *host_end, *colon;
    unsigned char addr[16];
    char hbuf[256];
    if (s[0] == '[') {
        host = s + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL || host_end[1] != ':') {
            *why = "an IPv6 address is written [ADDR]:PORT";
            return false;
        }
        colon = host_end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            *why = "the port is missing";
            return false;
        }
        host_end = colon;
        if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
            *why = "write an IPv6 address in brackets, e.g. [::1]:8000";
            return false;
        }
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(hbuf)) {
        *why = "the host is missing (use 0.0.0.0 or [::] for every address)";
        return false;
    }
    memcpy(hbuf, host, hlen);
    hbuf[hlen] = '\0';
    if (s[0] == '[' ? inet_pton(AF_INET6, hbuf, addr) != 1 : !cfg_host_valid(hbuf)) {
        *why = "the host is not a valid address or host name";
        return false;
    }
    const char *port = colon + 1;
    size_t nd = strspn(port, "0123456789");
    long pv = nd > 0 && nd <= 5 && port[nd] == '\0' ? atol(port) : 0;
    if (pv < 1 || pv > 65535) {
        *why = "the port must be 1 to 65535";
        return false;
    }
    out->enabled = true;
    out->port = (int)pv;
    out->host = strdup(hbuf);
    *why = "out of memory";
    return out->host != NULL;
}

static int cfg_set_listen(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                          struct config_listen *field)
{
    char *s;
    int rc = cfg_read_string(c, k, dpath, v, &s);
    if (rc != 0)
        return rc;
    struct config_listen l;
    const char *why;
    char got[80];
    if (!cfg_listen_parse(s, &l, &why)) {
        config_quote(s, got, sizeof(got));
        free(s);
        free(l.host);
        return cfg_fail(c,
                        "%s must be HOST:PORT (e.g. \"127.0.0.1:8000\", \"[::1]:8000\") or "
                        "\"none\", got %s: %s",
                        dpath, got, why);
    }
    free(s);
    free(field->host);
    *field = l;
    return 0;
}

static int cfg_set_levels(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                          unsigned *field)
{
    struct cfg_key lim = *k;
    lim.max = 64;
    int rc = cfg_check_array(c, &lim, dpath, v,
                             k->choices == cfg_role_names ? "roles" : "threat levels");
    if (rc != 0)
        return rc;
    unsigned bits = 0;
    char ip[512];
    for (size_t i = 0; i < json_array_size(v); i++) {
        int level;
        snprintf(ip, sizeof(ip), "%s[%zu]", dpath, i);
        rc = cfg_read_choice(c, ip, json_array_get(v, i), k->choices, &level);
        if (rc != 0)
            return rc;
        bits |= 1u << level;
    }
    *field = bits;
    return 0;
}

static void cfg_bouncers_free(struct config_bouncer_key *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].name);
        if (items[i].key != NULL) {
            explicit_bzero(items[i].key, strlen(items[i].key));
            free(items[i].key);
        }
    }
    free(items);
}

/* ---- keys ------------------------------------------------------------------------------------ */

/* Placeholders people leave in a .env, normalised (lower case, letters and digits only). The
 * first group is refused also as the start of a longer key ("change-me-later-0123456789"). */
static const char *const key_placeholder_prefixes[] = {
    "changeme", "replaceme", "yoursecret", "yourapikey", "yourkey", "pastethe",
    "putyour",  "insert",    "todo",       "fixme",      "xxxx",
};
static const char *const key_placeholders[] = {
    "secret",      "secretkey",   "apikey",      "password",         "passwd",
    "example",     "examplekey",  "test",        "testkey",          "default",
    "defaultkey",  "admin",       "letmein",     "qwerty",           "12345678",
    "123456789",   "1234567890",  "0123456789",  "secretsecret",     "passwordpassword",
    "mysecretkey", "mysecret",    "supersecret", "supersecretkey",   "bouncerkey",
    "ddosd",       "ddosdsecret", "crowdsec",    "abcdefghijklmnop", "abcdefghijklmnopqrstuvwxyz",
};

const char *config_key_weakness(const char *key, size_t min)
{
    size_t len = strlen(key);
    char norm[128];
    size_t n = 0;
    bool same = true;
    for (size_t i = 0; i < len; i++) {
        same &= key[i] == key[0];
        if (isalnum((unsigned char)key[i]) && n + 1 < sizeof(norm))
            norm[n++] = (char)tolower((unsigned char)key[i]);
    }
    norm[n] = '\0';
    for (size_t i = 0; i < DD_ARRAY_LEN(key_placeholder_prefixes); i++)
        if (strncmp(norm, key_placeholder_prefixes[i], strlen(key_placeholder_prefixes[i])) == 0)
            return "is a placeholder";
    for (size_t i = 0; i < DD_ARRAY_LEN(key_placeholders); i++)
        if (strcmp(norm, key_placeholders[i]) == 0)
            return "is a placeholder";
    if (len < min)
        return "is too short";
    if (same)
        return "repeats one character";
    return NULL;
}

/* bouncer_keys: names of variables, each resolved now so a missing key stops start-up. */
static int cfg_set_bouncers(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath,
                            json_t *v, void *field)
{
    struct config_bouncer_keys *dst = field, l = {NULL, 0};
    int rc = cfg_check_array(c, k, dpath, v, "variable names");
    if (rc != 0)
        return rc;
    l.items = calloc(json_array_size(v) + 1, sizeof(*l.items));
    if (l.items == NULL)
        return cfg_fail(c, "out of memory");
    char ip[512];
    for (size_t i = 0; i < json_array_size(v); i++) {
        snprintf(ip, sizeof(ip), "%s[%zu]", dpath, i);
        char *name;
        rc = cfg_read_string(c, NULL, ip, json_array_get(v, i), &name);
        if (rc != 0)
            goto fail;
        l.items[l.n++].name = name;
        /* Never echo the text: if it is not a name it may well be a key pasted by mistake. */
        if (!env_name_valid(name, strlen(name))) {
            rc = cfg_fail(c,
                          "%s must name the environment variable that holds a bouncer's key "
                          "(e.g. \"BOUNCER_KEY_FIREWALL\"), not the key itself",
                          ip);
            goto fail;
        }
        for (size_t j = 0; j + 1 < l.n; j++)
            if (strcmp(l.items[j].name, name) == 0) {
                rc = cfg_fail(c, "%s: %s is listed twice", ip, name);
                goto fail;
            }
        const char *key = env_file_lookup(c->cfg->env, name);
        if (key == NULL) {
            rc = cfg_fail(c, "%s: %s is not set; set it in the environment or in %s", ip, name,
                          c->env_hint);
            goto fail;
        }
        if (strlen(key) < CONFIG_BOUNCER_KEY_MIN) {
            rc = cfg_fail(c,
                          "%s: %s holds %zu characters; a bouncer key needs at least %d "
                          "(generate one: openssl rand -hex 32)",
                          ip, name, strlen(key), CONFIG_BOUNCER_KEY_MIN);
            goto fail;
        }
        const char *weak = config_key_weakness(key, CONFIG_BOUNCER_KEY_MIN);
        if (weak) {
            rc = cfg_fail(c,
                          "%s: %s %s; a bouncer key must be random (generate one: openssl rand "
                          "-hex 32)",
                          ip, name, weak);
            goto fail;
        }
        if ((l.items[l.n - 1].key = strdup(key)) == NULL) {
            rc = cfg_fail(c, "out of memory");
            goto fail;
        }
    }
    cfg_bouncers_free(dst->items, dst->n);
    dst->items = l.items;
    dst->n = l.n;
    return 0;
fail:
    cfg_bouncers_free(l.items, l.n);
    return rc;
}

/* ---- the walk ------------------------------------------------------------------------------ */

static int cfg_walk(struct cfg_ctx *c, const char *spath, const char *dpath, json_t *obj,
                    void *base);
static void cfg_free_obj(const char *spath, void *base);

static int cfg_set_groups(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                          struct config_rules *rules)
{
    int rc = cfg_check_array(c, k, dpath, v, "host groups");
    if (rc != 0)
        return rc;
    size_t n = json_array_size(v);
    struct config_hostgroup *items = calloc(n + 1, sizeof(*items));
    if (items == NULL)
        return cfg_fail(c, "out of memory");
    char ip[512];
    for (size_t i = 0; i < n; i++) {
        struct config_hostgroup *g = &items[i];
        snprintf(ip, sizeof(ip), "%s[%zu]", dpath, i);
        g->victim = rules->victim; /* a group overrides only the thresholds it names */
        g->attacker = rules->attacker;
        rc = cfg_walk(c, GROUP_ELEM, ip, json_array_get(v, i), g);
        if (rc != 0)
            goto fail;
        if (g->name == NULL) {
            rc = cfg_fail(c, "%s.name is required", ip);
            goto fail;
        }
        if (g->cidrs.n == 0) {
            rc = cfg_fail(c,
                          "%s.cidrs is required: the addresses of the group, e.g. "
                          "[\"192.0.2.0/24\"]",
                          ip);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(items[j].name, g->name) == 0) {
                rc =
                    cfg_fail(c, "%s.name \"%s\" is already used by %s[%zu]", ip, g->name, dpath, j);
                goto fail;
            }
    }
    for (size_t i = 0; i < rules->hostgroups.n; i++)
        cfg_free_obj(GROUP_ELEM, &rules->hostgroups.items[i]);
    free(rules->hostgroups.items);
    rules->hostgroups.items = items;
    rules->hostgroups.n = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        cfg_free_obj(GROUP_ELEM, &items[i]);
    free(items);
    return rc;
}

/* Applies one value v of key k to the struct at base (the key's parent). */
static int cfg_set_value(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                         void *base)
{
    void *field = (char *)base + k->off;
    int rc;
    switch (k->kind) {
    case K_OBJ: {
        /* A redis section in the file means Redis is configured: on unless it says otherwise. */
        if (strcmp(k->path, "redis") == 0 && json_is_object(v))
            ((struct config_redis *)field)->enabled = true;
        rc = cfg_walk(c, k->path, dpath, v, field);
        /* cic mode has no idle timeout: its default follows the mode chosen in the file. */
        if (rc == 0 && strcmp(k->path, "flows") == 0 &&
            json_object_get(v, "idle_timeout") == NULL &&
            ((struct config_flows *)field)->mode == CONFIG_FLOWS_CIC)
            ((struct config_flows *)field)->idle_timeout = 0;
        return rc;
    }
    case K_STR: {
        char *s;
        rc = cfg_read_string(c, k, dpath, v, &s);
        if (rc == 0 && s[0] == '\0' && k->check == cfg_check_sensor_id) {
            free(s); /* "" (e.g. from ${DDOSD_SENSOR_ID:-}) means the default: the host name */
            if ((s = cfg_default_sensor_id()) == NULL)
                rc = cfg_fail(c, "out of memory");
        }
        if (rc == 0) {
            char **slot = field;
            if (k->flags & F_SECRET)
                cfg_secret_free(*slot);
            else
                free(*slot);
            *slot = s;
        }
        return rc;
    }
    case K_BOOL:
        return cfg_read_bool(c, dpath, v, field);
    case K_INT:
    case K_NUM: {
        double d = 0;
        bool is_null = false;
        rc = cfg_read_number(c, k, dpath, v, &d, &is_null);
        if (rc == 0 && is_null)
            d = k->null_value;
        if (rc == 0 && k->kind == K_INT)
            *(int *)field = (int)d;
        else if (rc == 0)
            *(double *)field = d;
        return rc;
    }
    case K_CHOICE: {
        int i;
        rc = cfg_read_choice(c, dpath, v, k->choices, &i);
        if (rc == 0)
            memcpy(field, &i, sizeof(i));
        return rc;
    }
    case K_STRLIST:
        return cfg_set_strlist(c, k, dpath, v, field);
    case K_CIDRLIST:
        return cfg_set_cidrlist(c, k, dpath, v, field);
    case K_LISTEN:
        return cfg_set_listen(c, k, dpath, v, field);
    case K_LEVELS:
        return cfg_set_levels(c, k, dpath, v, field);
    case K_BOUNCERS:
        return cfg_set_bouncers(c, k, dpath, v, field);
    case K_REDIS_URL:
        return cfg_set_redis_url(c, k, dpath, v, base);
    case K_GROUPS:
        return cfg_set_groups(c, k, dpath, v, base);
    }
    return -EINVAL;
}

static int cfg_walk(struct cfg_ctx *c, const char *spath, const char *dpath, json_t *obj,
                    void *base)
{
    char got[200], child[512];
    if (!json_is_object(obj)) {
        if (dpath[0] == '\0')
            return cfg_fail(c, "the top level must be a JSON object ({ ... }), got %s",
                            cfg_describe(obj, false, got, sizeof(got)));
        return cfg_fail(c, "%s must be an object, got %s", dpath,
                        cfg_describe(obj, false, got, sizeof(got)));
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strchr(key, '.') != NULL || strchr(key, '[') != NULL || cfg_child(spath, key) == NULL)
            return cfg_unknown(c, spath, dpath, key);
    }
    for (size_t i = 0; i < cfg_keys_n; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (!cfg_is_child(spath, k->path) || (v = json_object_get(obj, cfg_leaf(k->path))) == NULL)
            continue;
        cfg_join(child, sizeof(child), dpath, cfg_leaf(k->path));
        int rc = cfg_set_value(c, k, child, v, base);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- free, defaults, validate ---------------------------------------------------------------- */

static void cfg_free_obj(const char *spath, void *base)
{
    for (size_t i = 0; i < cfg_keys_n; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (!cfg_is_child(spath, k->path))
            continue;
        void *field = (char *)base + k->off;
        switch (k->kind) {
        case K_OBJ:
            cfg_free_obj(k->path, field);
            break;
        case K_STR:
            if (k->flags & F_SECRET)
                cfg_secret_free(*(char **)field);
            else
                free(*(char **)field);
            *(char **)field = NULL;
            break;
        case K_STRLIST:
            cfg_strlist_free(field);
            break;
        case K_CIDRLIST: {
            struct cidr_list *l = field;
            free(l->items);
            l->items = NULL;
            l->n = 0;
            break;
        }
        case K_LISTEN: {
            struct config_listen *l = field;
            free(l->host);
            l->host = NULL;
            break;
        }
        case K_BOUNCERS: {
            struct config_bouncer_keys *l = field;
            cfg_bouncers_free(l->items, l->n);
            l->items = NULL;
            l->n = 0;
            break;
        }
        case K_GROUPS: {
            struct config_hostgroups *l = field;
            for (size_t j = 0; j < l->n; j++)
                cfg_free_obj(GROUP_ELEM, &l->items[j]);
            free(l->items);
            l->items = NULL;
            l->n = 0;
            break;
        }
        default:
            break;
        }
    }
}

void config_free(struct ddosd_config *c)
{
    if (c == NULL)
        return;
    cfg_free_obj("", c);
    free(c->env_path);
    env_file_free(c->env);
    memset(c, 0, sizeof(*c));
}

static char *cfg_default_sensor_id(void)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "ddosd");
    host[CONFIG_SENSOR_ID_MAX] = '\0';
    for (char *p = host; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("._:-", *p) == NULL)
            *p = '-';
    return strdup(host);
}

int config_defaults(struct ddosd_config *c)
{
    memset(c, 0, sizeof(*c));
    c->sensor.id = cfg_default_sensor_id();

    c->capture.filter = strdup("");
    c->capture.snaplen = 262144;
    c->capture.promiscuous = true;
    c->capture.buffer_mb = 64;
    c->capture.threads = 1;

    c->flows.mode = CONFIG_FLOWS_FIXED;
    c->flows.max_flows = 1 << 20;
    c->flows.idle_timeout = 60;
    c->flows.active_timeout = 120;

    c->scoring.first_packets = 5;
    c->scoring.interval = 1;

    c->ml_model.path = strdup(CONFIG_MODEL_PATH_DEFAULT);
    c->ml_model.threshold = -1;
    c->ml_model.evidence_threshold = -1;

    c->redis.enabled = false; /* "none configured": verdicts live in memory only */
    c->redis.host = strdup("127.0.0.1");
    c->redis.port = 6379;
    c->redis.db = 0;
    c->redis.password = strdup("");
    c->redis.username = strdup("");
    c->redis.master_name = strdup("mymaster"); /* Sentinel's own example name */
    c->redis.follow = true;
    c->redis.max_memory_mb = 0;           /* 90 % of the server's maxmemory, when it has one */
    c->redis.max_keys_per_second = 10000; /* ten times what real attacks made us write */

    c->cache.enabled = true;
    c->cache.ttl = 300;

    /* Chosen over the real captures (scripts/rate-peaks.py): every threshold is far above the
     * peak of any real benign IP and below real floods; docs/configuration.md gives the
     * margins. Per second, over 1 s (smoothed) and 100 ms windows. */
    c->rules.victim = (struct config_thresholds){
        .pps = 20000,
        .bps = 2e8,
        .syn_per_s = 500,
        .new_flows_per_s = 5000,
        .distinct_sources = 1000,
        .syn_ack_ratio = 3,
        .reflector_pps = 2000,
        .icmp_errors_per_s = 1000,
        .fragments_per_s = 2000,
    };
    c->rules.attacker = (struct config_thresholds){
        .pps = 20000,
        .bps = 2e8,
        .syn_per_s = 1000,
        .new_flows_per_s = 5000,
        .distinct_sources = 0,
        .syn_ack_ratio = 10,
        .reflector_pps = 0,
        .icmp_errors_per_s = 2000,
        .fragments_per_s = 2000,
    };

    c->api.listen.enabled = true;
    c->api.listen.host = strdup("127.0.0.1");
    c->api.listen.port = 8000;
    c->api.threads = 4;
    c->api.max_connections = 1024;
    c->api.timeout = 10;
    c->api.body_limit = 65536;
    c->api.reserved_connections = 64;
    c->api.per_address_connections = 64;

    c->decisions.levels = CONFIG_LEVEL_HIGH | CONFIG_LEVEL_CRITICAL;
    c->decisions.roles = CONFIG_ROLE_ATTACKER; /* victims are reported, not banned */

    c->log.dir = strdup("");
    c->log.level = LOG_LEVEL_INFO;

    c->notify.script = strdup("");
    c->notify.timeout = 5;

    c->user = strdup("");

    if (c->sensor.id == NULL || c->capture.filter == NULL || c->ml_model.path == NULL ||
        c->redis.host == NULL || c->redis.password == NULL || c->redis.username == NULL ||
        c->redis.master_name == NULL || c->api.listen.host == NULL || c->log.dir == NULL ||
        c->notify.script == NULL || c->user == NULL) {
        config_free(c);
        return -ENOMEM;
    }
    return 0;
}

static int cfg_validate(struct cfg_ctx *c)
{
    const struct ddosd_config *g = c->cfg;
    if (g->flows.mode == CONFIG_FLOWS_CIC && g->flows.idle_timeout > 0)
        return cfg_fail(c, "flows.idle_timeout applies to mode \"fixed\" only; set it to 0 (or "
                           "leave it out) with flows.mode \"cic\"");
    if (g->flows.idle_timeout > g->flows.active_timeout)
        return cfg_fail(c, "flows.idle_timeout (%g s) is longer than flows.active_timeout (%g s)",
                        g->flows.idle_timeout, g->flows.active_timeout);
    if (g->redis.enabled && (g->redis.host == NULL || g->redis.host[0] == '\0'))
        return cfg_fail(c, "redis.host must be set when Redis is enabled (or use --redis none)");
    return 0;
}

/* SECRET_KEY guards reports and the decision stream: a guessable one is refused at start, with
 * how to make a good one. Checked here, on the final configuration, and not while config.json
 * loads: --api none (no API, no key needed) may come later on the command line. */
static int cfg_check_secret(struct cfg_ctx *c)
{
    const struct ddosd_config *g = c->cfg;
    const char *key = config_env_lookup(g, "SECRET_KEY");
    const char *where = g->env ? env_file_path(g->env) : ".env";
    if (!g->api.listen.enabled || key == NULL || key[0] == '\0')
        return 0;
    const char *weak = config_key_weakness(key, CONFIG_SECRET_KEY_MIN);
    if (weak == NULL)
        return 0;
    if (strcmp(weak, "is too short") == 0)
        return cfg_fail(c,
                        "SECRET_KEY is too short (%zu character%s; it needs at least %d): make "
                        "one with `openssl rand -hex 32` and set it in the environment or in %s",
                        strlen(key), strlen(key) == 1 ? "" : "s", CONFIG_SECRET_KEY_MIN, where);
    return cfg_fail(c,
                    "SECRET_KEY %s: anyone could guess it; make a random one with `openssl "
                    "rand -hex 32` and set it in the environment or in %s",
                    weak, where);
}

int config_validate(const struct ddosd_config *c, char *err, size_t err_len)
{
    struct cfg_ctx ctx = {"configuration", err, err_len, c, ".env", true};
    int rc = cfg_validate(&ctx);
    if (rc == 0)
        rc = cfg_check_secret(&ctx);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------------- */

static int cfg_env_open(struct ddosd_config *c, const char *path, bool required, char *err,
                        size_t err_len)
{
    if (c->env != NULL)
        return 0;
    struct env_file *env;
    int rc = env_file_load(path, ENV_FILE_PRIVATE, &env, err, err_len);
    if (rc == -ENOENT && !required)
        return 0;
    if (rc != 0)
        return rc;
    c->env = env;
    return 0;
}

static int cfg_apply_json(struct ddosd_config *c, json_t *root, const char *name,
                          const char *env_hint, char *err, size_t err_len)
{
    struct cfg_ctx ctx = {name, err, err_len, c, env_hint, false};
    int rc = cfg_walk(&ctx, "", "", root, c);
    if (rc == 0)
        rc = cfg_validate(&ctx);
    return rc;
}

static int cfg_json_error(const char *name, const json_error_t *je, char *err, size_t err_len)
{
    char q[JSON_ERROR_TEXT_LENGTH];
    /* jansson quotes the offending token itself; only keep control bytes off the line. */
    size_t n = 0;
    for (; je->text[n] != '\0' && n + 1 < sizeof(q); n++)
        q[n] = (unsigned char)je->text[n] < 0x20 ? '?' : je->text[n];
    q[n] = '\0';
    if (je->line > 0)
        cfg_errf(err, err_len, "%s:%d:%d: invalid JSON: %s", name, je->line, je->column, q);
    else
        cfg_errf(err, err_len, "%s: invalid JSON: %s", name, q);
    return -EINVAL;
}

int config_load_buffer(const char *buf, size_t len, const char *name, struct ddosd_config *c,
                       char *err, size_t err_len)
{
    if (name == NULL)
        name = "config.json";
    const char *hint = c->env_path ? c->env_path : "a .env file";
    if (c->env_path != NULL) {
        int rc = cfg_env_open(c, c->env_path, true, err, err_len);
        if (rc != 0)
            return rc;
    }
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return cfg_json_error(name, &je, err, err_len);
    int rc = cfg_apply_json(c, root, name, c->env ? env_file_path(c->env) : hint, err, err_len);
    json_decref(root);
    return rc;
}

int config_load_file(const char *path, struct ddosd_config *c, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        cfg_errf(err, err_len, "cannot open %s: %s (give another one with -c)", path, strerror(e));
        return -e;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (root == NULL)
        return cfg_json_error(path, &je, err, err_len);
    char env_path[4096];
    const char *slash = strrchr(path, '/');
    if (c->env_path != NULL)
        snprintf(env_path, sizeof(env_path), "%s", c->env_path);
    else if (slash != NULL)
        snprintf(env_path, sizeof(env_path), "%.*s/.env", (int)(slash - path), path);
    else
        snprintf(env_path, sizeof(env_path), ".env");
    int rc = cfg_env_open(c, env_path, c->env_path != NULL, err, err_len);
    if (rc == 0)
        rc = cfg_apply_json(c, root, path, c->env ? env_file_path(c->env) : env_path, err, err_len);
    json_decref(root);
    return rc;
}

int config_set_env_file(struct ddosd_config *c, const char *path)
{
    char *p = strdup(path);
    if (p == NULL)
        return -ENOMEM;
    free(c->env_path);
    c->env_path = p;
    return 0;
}

void config_set_env(struct ddosd_config *c, struct env_file *env)
{
    if (c->env != env)
        env_file_free(c->env);
    c->env = env;
}

const char *config_env_lookup(const struct ddosd_config *c, const char *name)
{
    return env_file_lookup(c->env, name);
}

/* ---- command-line overrides ---------------------------------------------------------------- */

/* The struct a key's offset is relative to: walk the object rows of its ancestors. */
static void *cfg_key_base(struct ddosd_config *c, const char *path)
{
    char prefix[256];
    void *base = c;
    for (const char *dot = strchr(path, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
        snprintf(prefix, sizeof(prefix), "%.*s", (int)(dot - path), path);
        const struct cfg_key *k = cfg_key_find(prefix);
        if (k == NULL || k->kind != K_OBJ)
            return NULL;
        base = (char *)base + k->off;
    }
    return base;
}

static bool cfg_is_list(enum cfg_kind kind)
{
    return kind == K_STRLIST || kind == K_CIDRLIST || kind == K_LEVELS || kind == K_BOUNCERS;
}

static int cfg_override(struct ddosd_config *c, const char *origin, const char *key, json_t *v,
                        char *err, size_t err_len)
{
    struct cfg_ctx ctx = {origin ? origin : "command line",        err, err_len, c,
                          c->env ? env_file_path(c->env) : ".env", true};
    if (v == NULL)
        return cfg_fail(&ctx, "out of memory");
    const struct cfg_key *k = strstr(key, "[]") ? NULL : cfg_key_find(key);
    void *base = k ? cfg_key_base(c, key) : NULL;
    if (k == NULL || base == NULL || k->kind == K_OBJ || k->kind == K_GROUPS) {
        char parent[256];
        const char *dot = strrchr(key, '.');
        snprintf(parent, sizeof(parent), "%.*s", dot ? (int)(dot - key) : 0, key);
        const struct cfg_key *pk = cfg_key_find(parent);
        if (parent[0] == '\0' || (pk != NULL && pk->kind == K_OBJ))
            return cfg_unknown(&ctx, parent, parent, cfg_leaf(key));
        char q[80];
        return cfg_fail(&ctx, "unknown key %s", config_quote(key, q, sizeof(q)));
    }
    if (json_is_array(v) && !cfg_is_list(k->kind))
        return cfg_fail(&ctx, "%s takes one value, not a list", key);
    if (k->kind == K_LEVELS && json_is_string(v)) {
        /* --set decisions.roles=attacker,victim: no name holds a comma, so commas separate
         * items ("" is the empty list). */
        const char *p = json_string_value(v);
        json_t *items = json_array();
        bool ok = items != NULL;
        while (ok && *p) {
            size_t n = strcspn(p, ",");
            ok = json_array_append_new(items, json_stringn(p, n)) == 0;
            if (p[n] == '\0')
                break;
            p += n + 1;
            if (*p == '\0') /* "high," ends with an empty name: reported as one */
                ok = ok && json_array_append_new(items, json_string("")) == 0;
        }
        if (!ok) {
            json_decref(items);
            return cfg_fail(&ctx, "out of memory");
        }
        int rc = cfg_set_value(&ctx, k, key, items, base);
        json_decref(items);
        return rc;
    }
    if (cfg_is_list(k->kind) && !json_is_array(v)) {
        json_t *one = json_array();
        if (one == NULL || json_array_append(one, v) != 0) {
            json_decref(one);
            return cfg_fail(&ctx, "out of memory");
        }
        int rc = cfg_set_value(&ctx, k, key, one, base);
        json_decref(one);
        return rc;
    }
    return cfg_set_value(&ctx, k, key, v, base);
}

static bool cfg_utf8_all(const char *const *values, size_t n, const char *origin, const char *key,
                         char *err, size_t err_len)
{
    for (size_t i = 0; i < n; i++)
        if (!cfg_utf8_valid(values[i])) {
            cfg_errf(err, err_len, "%s: the value of %s is not valid UTF-8",
                     origin ? origin : "command line", key);
            return false;
        }
    return true;
}

int config_set(struct ddosd_config *c, const char *origin, const char *key, const char *value,
               char *err, size_t err_len)
{
    if (!cfg_utf8_all(&value, 1, origin, key, err, err_len))
        return -EINVAL;
    json_t *v = json_string(value);
    int rc = cfg_override(c, origin, key, v, err, err_len);
    json_decref(v);
    return rc;
}

int config_set_list(struct ddosd_config *c, const char *origin, const char *key,
                    const char *const *values, size_t n, char *err, size_t err_len)
{
    if (!cfg_utf8_all(values, n, origin, key, err, err_len))
        return -EINVAL;
    json_t *v = json_array();
    for (size_t i = 0; v != NULL && i < n; i++)
        if (json_array_append_new(v, json_string(values[i])) != 0) {
            json_decref(v);
            v = NULL;
        }
    int rc = cfg_override(c, origin, key, v, err, err_len);
    json_decref(v);
    return rc;
}
