/* config_keys.c - the key table of config.json and what is said about keys.
 *
 * Owns cfg_keys: one row per config.json key with its type, range, flags and the offset of its
 * field. Every operation of the loader (config.c), the dump (config_dump.c) and config_free()
 * walks this one table, so a key added here is parsed, overridable, dumped and freed with nothing
 * else to remember; docs/configuration.md must be updated by hand.
 *
 * DESIGN: an object row (K_OBJ) re-bases its children: their offsets are relative to the
 * object's own struct (struct config_capture, struct config_thresholds, ...), so one row set
 * such as the rate thresholds serves the global roles and every host group alike. Rows under
 * "rules.hostgroups[]" describe one element of that array. Children are applied in table order,
 * not file order, so a value that depends on another (host groups inherit the global thresholds,
 * redis.url overrides host/port/db) sees its dependency first.
 *
 * Also here: the per-value checks the rows name, and the messages (quoting user text with control
 * characters escaped, never quoting a secret; "did you mean" suggestions), so every error stays
 * one line and safe to log. Calls libc only. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/config_internal.h"

static const char *const cfg_modes[] = {"fixed", "cic", NULL};
static const char *const cfg_log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const cfg_read_from[] = {"primary", "replica", NULL};
static const char *const cfg_level_names[] = {"low", "medium", "high", "critical", NULL};
const char *const cfg_role_names[] = {"attacker", "victim", NULL}; /* enum verdict_role */

static int cfg_check_ifname(struct cfg_ctx *c, const char *dpath, const char *v);
static int cfg_check_host(struct cfg_ctx *c, const char *dpath, const char *v);
static int cfg_check_group_name(struct cfg_ctx *c, const char *dpath, const char *v);
static int cfg_check_user(struct cfg_ctx *c, const char *dpath, const char *v);
static int cfg_check_hostport(struct cfg_ctx *c, const char *dpath, const char *v);
static int cfg_check_redis_name(struct cfg_ctx *c, const char *dpath, const char *v);

#define OFF(type, member) offsetof(struct type, member)
/* clang-format off */
#define THRESHOLD(prefix, name)                                                                    \
    {.path = prefix "." #name, .kind = K_NUM, .off = OFF(config_thresholds, name), .min = 0,       \
     .max = INFINITY, .flags = F_NULLABLE | F_MIN_EXCL}
#define THRESHOLDS(prefix)                                                                         \
    THRESHOLD(prefix, pps), THRESHOLD(prefix, bps), THRESHOLD(prefix, syn_per_s),                  \
    THRESHOLD(prefix, new_flows_per_s), THRESHOLD(prefix, distinct_sources),                       \
    THRESHOLD(prefix, syn_ack_ratio), THRESHOLD(prefix, reflector_pps),                            \
    THRESHOLD(prefix, icmp_errors_per_s), THRESHOLD(prefix, fragments_per_s)
/* clang-format on */

const struct cfg_key cfg_keys[] = {
    {.path = "sensor", .kind = K_OBJ, .off = OFF(ddosd_config, sensor)},
    {.path = "sensor.id",
     .kind = K_STR,
     .off = OFF(config_sensor, id),
     .check = cfg_check_sensor_id},

    {.path = "capture", .kind = K_OBJ, .off = OFF(ddosd_config, capture)},
    {.path = "capture.interfaces",
     .kind = K_STRLIST,
     .off = OFF(config_capture, interfaces),
     .max = CONFIG_INTERFACES_MAX,
     .check = cfg_check_ifname},
    {.path = "capture.files",
     .kind = K_STRLIST,
     .off = OFF(config_capture, files),
     .max = CONFIG_FILES_MAX},
    {.path = "capture.filter", .kind = K_STR, .off = OFF(config_capture, filter)},
    {.path = "capture.snaplen",
     .kind = K_INT,
     .off = OFF(config_capture, snaplen),
     .min = 64,
     .max = 262144},
    {.path = "capture.promiscuous", .kind = K_BOOL, .off = OFF(config_capture, promiscuous)},
    {.path = "capture.buffer_mb",
     .kind = K_INT,
     .off = OFF(config_capture, buffer_mb),
     .max = 4096},
    {.path = "capture.threads",
     .kind = K_INT,
     .off = OFF(config_capture, threads),
     .min = 1,
     .max = 64},

    {.path = "flows", .kind = K_OBJ, .off = OFF(ddosd_config, flows)},
    {.path = "flows.mode", .kind = K_CHOICE, .off = OFF(config_flows, mode), .choices = cfg_modes},
    {.path = "flows.max_flows",
     .kind = K_INT,
     .off = OFF(config_flows, max_flows),
     .min = 16,
     .max = 1 << 30},
    {.path = "flows.idle_timeout",
     .kind = K_NUM,
     .off = OFF(config_flows, idle_timeout),
     .max = CONFIG_TIMEOUT_MAX_S},
    {.path = "flows.active_timeout",
     .kind = K_NUM,
     .off = OFF(config_flows, active_timeout),
     .max = CONFIG_TIMEOUT_MAX_S,
     .flags = F_MIN_EXCL},

    {.path = "scoring", .kind = K_OBJ, .off = OFF(ddosd_config, scoring)},
    {.path = "scoring.first_packets",
     .kind = K_INT,
     .off = OFF(config_scoring, first_packets),
     .max = 1000000},
    {.path = "scoring.interval", .kind = K_NUM, .off = OFF(config_scoring, interval), .max = 3600},

    {.path = "ml_model", .kind = K_OBJ, .off = OFF(ddosd_config, ml_model)},
    {.path = "ml_model.path", .kind = K_STR, .off = OFF(config_ml_model, path)},
    {.path = "ml_model.threshold",
     .kind = K_NUM,
     .off = OFF(config_ml_model, threshold),
     .max = 1,
     .flags = F_NULLABLE,
     .null_value = -1},
    {.path = "ml_model.evidence_threshold",
     .kind = K_NUM,
     .off = OFF(config_ml_model, evidence_threshold),
     .max = 1,
     .flags = F_NULLABLE,
     .null_value = -1},

    {.path = "redis", .kind = K_OBJ, .off = OFF(ddosd_config, redis)},
    {.path = "redis.enabled", .kind = K_BOOL, .off = OFF(config_redis, enabled)},
    {.path = "redis.host",
     .kind = K_STR,
     .off = OFF(config_redis, host),
     .flags = F_NONEMPTY,
     .check = cfg_check_host},
    {.path = "redis.port", .kind = K_INT, .off = OFF(config_redis, port), .min = 1, .max = 65535},
    {.path = "redis.db", .kind = K_INT, .off = OFF(config_redis, db), .max = INT_MAX},
    {.path = "redis.password",
     .kind = K_STR,
     .off = OFF(config_redis, password),
     .flags = F_SECRET},
    {.path = "redis.username",
     .kind = K_STR,
     .off = OFF(config_redis, username),
     .check = cfg_check_redis_name},
    {.path = "redis.sentinels",
     .kind = K_STRLIST,
     .off = OFF(config_redis, sentinels),
     .max = 16,
     .check = cfg_check_hostport},
    {.path = "redis.master_name",
     .kind = K_STR,
     .off = OFF(config_redis, master_name),
     .flags = F_NONEMPTY,
     .check = cfg_check_redis_name},
    {.path = "redis.read_from",
     .kind = K_CHOICE,
     .off = OFF(config_redis, read_from),
     .choices = cfg_read_from},
    {.path = "redis.required", .kind = K_BOOL, .off = OFF(config_redis, required)},
    {.path = "redis.follow", .kind = K_BOOL, .off = OFF(config_redis, follow)},
    {.path = "redis.max_memory_mb",
     .kind = K_INT,
     .off = OFF(config_redis, max_memory_mb),
     .max = 1 << 20},
    {.path = "redis.max_keys_per_second",
     .kind = K_INT,
     .off = OFF(config_redis, max_keys_per_second),
     .max = 10000000},
    /* Last in its section: a URL overrides host, port, db and password. */
    {.path = "redis.url", .kind = K_REDIS_URL, .off = 0, .flags = F_SECRET | F_NODUMP},

    {.path = "cache", .kind = K_OBJ, .off = OFF(ddosd_config, cache)},
    {.path = "cache.enabled", .kind = K_BOOL, .off = OFF(config_cache, enabled)},
    {.path = "cache.ttl",
     .kind = K_INT,
     .off = OFF(config_cache, ttl),
     .min = 1,
     .max = 30 * 86400},

    {.path = "rules", .kind = K_OBJ, .off = OFF(ddosd_config, rules)},
    {.path = "rules.victim", .kind = K_OBJ, .off = OFF(config_rules, victim)},
    THRESHOLDS("rules.victim"),
    {.path = "rules.attacker", .kind = K_OBJ, .off = OFF(config_rules, attacker)},
    THRESHOLDS("rules.attacker"),
    /* After victim and attacker: groups start from the global thresholds. */
    {.path = "rules.hostgroups",
     .kind = K_GROUPS,
     .off = OFF(config_rules, hostgroups),
     .max = CONFIG_HOSTGROUPS_MAX},
    {.path = "rules.hostgroups[].name",
     .kind = K_STR,
     .off = OFF(config_hostgroup, name),
     .flags = F_NONEMPTY,
     .check = cfg_check_group_name},
    {.path = "rules.hostgroups[].cidrs",
     .kind = K_CIDRLIST,
     .off = OFF(config_hostgroup, cidrs),
     .max = CONFIG_CIDRS_MAX,
     .flags = F_NONEMPTY},
    {.path = "rules.hostgroups[].victim", .kind = K_OBJ, .off = OFF(config_hostgroup, victim)},
    THRESHOLDS("rules.hostgroups[].victim"),
    {.path = "rules.hostgroups[].attacker", .kind = K_OBJ, .off = OFF(config_hostgroup, attacker)},
    THRESHOLDS("rules.hostgroups[].attacker"),
    {.path = "rules.whitelist", .kind = K_OBJ, .off = OFF(config_rules, whitelist)},
    {.path = "rules.whitelist.sources",
     .kind = K_CIDRLIST,
     .off = OFF(config_whitelist, sources),
     .max = CONFIG_CIDRS_MAX},
    {.path = "rules.whitelist.destinations",
     .kind = K_CIDRLIST,
     .off = OFF(config_whitelist, destinations),
     .max = CONFIG_CIDRS_MAX},

    {.path = "api", .kind = K_OBJ, .off = OFF(ddosd_config, api)},
    {.path = "api.listen", .kind = K_LISTEN, .off = OFF(config_api, listen)},
    {.path = "api.threads", .kind = K_INT, .off = OFF(config_api, threads), .min = 1, .max = 256},
    {.path = "api.max_connections",
     .kind = K_INT,
     .off = OFF(config_api, max_connections),
     .min = 1,
     .max = 1000000},
    {.path = "api.timeout",
     .kind = K_NUM,
     .off = OFF(config_api, timeout),
     .max = 3600,
     .flags = F_MIN_EXCL},
    {.path = "api.body_limit",
     .kind = K_INT,
     .off = OFF(config_api, body_limit),
     .min = 1,
     .max = 64 << 20},
    {.path = "api.dashboard_auth", .kind = K_BOOL, .off = OFF(config_api, dashboard_auth)},
    {.path = "api.reserved_cidrs",
     .kind = K_CIDRLIST,
     .off = OFF(config_api, reserved_cidrs),
     .max = CONFIG_CIDRS_MAX},
    {.path = "api.reserved_connections",
     .kind = K_INT,
     .off = OFF(config_api, reserved_connections),
     .min = 0,
     .max = 1000000},
    {.path = "api.per_address_connections",
     .kind = K_INT,
     .off = OFF(config_api, per_address_connections),
     .min = 1,
     .max = 1000000},

    {.path = "decisions", .kind = K_OBJ, .off = OFF(ddosd_config, decisions)},
    {.path = "decisions.levels",
     .kind = K_LEVELS,
     .off = OFF(config_decisions, levels),
     .choices = cfg_level_names},
    {.path = "decisions.roles",
     .kind = K_LEVELS,
     .off = OFF(config_decisions, roles),
     .choices = cfg_role_names},

    {.path = "bouncer_keys",
     .kind = K_BOUNCERS,
     .off = OFF(ddosd_config, bouncer_keys),
     .max = CONFIG_BOUNCERS_MAX},

    {.path = "log", .kind = K_OBJ, .off = OFF(ddosd_config, log)},
    {.path = "log.dir", .kind = K_STR, .off = OFF(config_log, dir)},
    {.path = "log.level",
     .kind = K_CHOICE,
     .off = OFF(config_log, level),
     .choices = cfg_log_levels},

    {.path = "notify", .kind = K_OBJ, .off = OFF(ddosd_config, notify)},
    {.path = "notify.script", .kind = K_STR, .off = OFF(config_notify, script)},
    {.path = "notify.timeout",
     .kind = K_NUM,
     .off = OFF(config_notify, timeout),
     .max = 3600,
     .flags = F_MIN_EXCL},

    {.path = "user", .kind = K_STR, .off = OFF(ddosd_config, user), .check = cfg_check_user},
    {.path = "api_only", .kind = K_BOOL, .off = OFF(ddosd_config, api_only)},
};
const size_t cfg_keys_n = DD_ARRAY_LEN(cfg_keys);

/* ---- messages ---------------------------------------------------------------------------- */

DD_PRINTF(2, 3) int cfg_fail(struct cfg_ctx *c, const char *fmt, ...)
{
    if (c->err != NULL && c->err_len > 0) {
        int n = snprintf(c->err, c->err_len, "%s: ", c->origin);
        if (n >= 0 && (size_t)n < c->err_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* Writes s as a double-quoted string with control characters, quotes and backslashes escaped,
 * cut after 60 bytes, so a message stays one readable line whatever the input. */
char *config_quote(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    if (len < 8) {
        if (len > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[n++] = '"';
    size_t i = 0;
    for (; s[i] != '\0' && i < 60 && n + 9 <= len;
         i++) { /* room for an escape, "...", the quote and NUL */
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", ch);
        } else {
            buf[n++] = (char)ch;
        }
    }
    if (s[i] != '\0') {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* Describes a JSON value for "got ..." (a secret's value is never shown, only its type). */
char *cfg_describe(const json_t *v, bool secret, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (secret)
            snprintf(buf, len, "a string");
        else
            config_quote(json_string_value(v), buf, len);
        break;
    case JSON_INTEGER:
        if (secret)
            snprintf(buf, len, "a number");
        else
            snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        if (secret)
            snprintf(buf, len, "a number");
        else
            snprintf(buf, len, "%.15g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, len, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, len, "false");
        break;
    case JSON_NULL:
        snprintf(buf, len, "null");
        break;
    case JSON_ARRAY:
        snprintf(buf, len, "an array");
        break;
    case JSON_OBJECT:
    default:
        snprintf(buf, len, "an object");
        break;
    }
    return buf;
}

/* Describes a string after expansion: "abc" (from "${PORT}") when a placeholder produced it. */
char *cfg_describe_expanded(const char *raw, const char *value, char *buf, size_t len)
{
    char q1[80], q2[80];
    config_quote(value, q1, sizeof(q1));
    if (strcmp(raw, value) == 0)
        snprintf(buf, len, "%s", q1);
    else
        snprintf(buf, len, "%s (from %s)", q1, config_quote(raw, q2, sizeof(q2)));
    return buf;
}

/* Optimal string alignment distance (edits and adjacent swaps), case-insensitive; SIZE_MAX for
 * strings too long to be a misspelt key. */
static size_t cfg_distance(const char *a, const char *b)
{
    enum { MAXLEN = 48 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN)
        return SIZE_MAX;
    unsigned char d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            unsigned best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

/* True when candidate is close enough to typed to be offered as "did you mean". */
static bool cfg_close(const char *typed, const char *candidate, size_t *dist)
{
    size_t d = cfg_distance(typed, candidate);
    size_t longest = strlen(typed) > strlen(candidate) ? strlen(typed) : strlen(candidate);
    size_t limit = longest <= 4 ? 1 : longest <= 8 ? 2 : 3;
    *dist = d;
    return d <= limit && d < longest;
}

/* The closest of a NULL-terminated list, or NULL. */
const char *cfg_suggest(const char *typed, const char *const *choices)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, d;
    for (size_t i = 0; choices[i] != NULL; i++)
        if (cfg_close(typed, choices[i], &d) && d < best_d) {
            best = choices[i];
            best_d = d;
        }
    return best;
}

/* ---- the key table ----------------------------------------------------------------------- */

const char *cfg_leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

bool cfg_is_child(const char *parent, const char *path)
{
    if (parent[0] == '\0')
        return strchr(path, '.') == NULL;
    size_t n = strlen(parent);
    return strncmp(path, parent, n) == 0 && path[n] == '.' && strchr(path + n + 1, '.') == NULL;
}

const struct cfg_key *cfg_child(const char *parent, const char *name)
{
    for (size_t i = 0; i < DD_ARRAY_LEN(cfg_keys); i++)
        if (cfg_is_child(parent, cfg_keys[i].path) && strcmp(cfg_leaf(cfg_keys[i].path), name) == 0)
            return &cfg_keys[i];
    return NULL;
}

const struct cfg_key *cfg_key_find(const char *path)
{
    for (size_t i = 0; i < DD_ARRAY_LEN(cfg_keys); i++)
        if (strcmp(cfg_keys[i].path, path) == 0)
            return &cfg_keys[i];
    return NULL;
}

void cfg_join(char *buf, size_t len, const char *parent, const char *name)
{
    if (parent[0] == '\0')
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%s.%s", parent, name);
}

/* An unknown key: suggest the nearest sibling, else the same name elsewhere, else list the
 * siblings. Secrets get their own message: they never belong in config.json. */
int cfg_unknown(struct cfg_ctx *c, const char *spath, const char *dpath, const char *key)
{
    char q[80], full[512], where[512];
    cfg_join(full, sizeof(full), dpath, key);
    config_quote(full, q, sizeof(q));
    if (strcasestr(key, "secret") != NULL)
        return cfg_fail(c,
                        "%s does not belong in config.json: secrets live only in the "
                        "environment or in .env (e.g. SECRET_KEY=...)",
                        q);
    if (strchr(key, '.') != NULL || strchr(key, '[') != NULL)
        return cfg_fail(c,
                        "unknown key %s: write nested objects, not dotted names "
                        "(e.g. {\"redis\": {\"port\": 6379}})",
                        q);
    const struct cfg_key *best = NULL;
    size_t best_d = SIZE_MAX, d;
    for (size_t i = 0; i < DD_ARRAY_LEN(cfg_keys); i++)
        if (cfg_is_child(spath, cfg_keys[i].path) &&
            cfg_close(key, cfg_leaf(cfg_keys[i].path), &d) && d < best_d) {
            best = &cfg_keys[i];
            best_d = d;
        }
    if (best != NULL) {
        cfg_join(where, sizeof(where), dpath, cfg_leaf(best->path));
        return cfg_fail(c, "unknown key %s; did you mean \"%s\"?", q, where);
    }
    for (size_t i = 0; i < DD_ARRAY_LEN(cfg_keys); i++)
        if (strcasecmp(cfg_leaf(cfg_keys[i].path), key) == 0)
            return cfg_fail(c, "unknown key %s; did you mean \"%s\"?", q, cfg_keys[i].path);
    size_t n = 0;
    where[0] = '\0';
    for (size_t i = 0; i < DD_ARRAY_LEN(cfg_keys) && n + 40 < sizeof(where); i++)
        if (cfg_is_child(spath, cfg_keys[i].path))
            n += (size_t)snprintf(where + n, sizeof(where) - n, "%s%s", n ? ", " : "",
                                  cfg_leaf(cfg_keys[i].path));
    return cfg_fail(c, "unknown key %s (valid keys here: %s)", q, where);
}

/* ---- value checks -------------------------------------------------------------------------- */

static bool cfg_chars_ok(const char *s, const char *extra)
{
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
            return false;
    return true;
}

int cfg_check_sensor_id(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80];
    if (strlen(v) > CONFIG_SENSOR_ID_MAX || !cfg_chars_ok(v, "._:-")) /* "": the host name */
        return cfg_fail(c,
                        "%s must be up to %d letters, digits, '.', '_', ':' or '-' (\"\" for the "
                        "host name), got %s",
                        dpath, CONFIG_SENSOR_ID_MAX, config_quote(v, q, sizeof(q)));
    return 0;
}

static int cfg_check_ifname(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80];
    if (strlen(v) > CONFIG_IFNAME_MAX || strchr(v, '/') != NULL || !cfg_chars_ok(v, "._:@-"))
        return cfg_fail(c,
                        "%s must be an interface name (at most %d characters, e.g. \"eth0\"), "
                        "got %s",
                        dpath, CONFIG_IFNAME_MAX, config_quote(v, q, sizeof(q)));
    return 0;
}

bool cfg_host_valid(const char *v)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, v, addr) == 1 || inet_pton(AF_INET6, v, addr) == 1)
        return true;
    size_t n = strlen(v);
    return n > 0 && n <= 253 && v[0] != '-' && v[0] != '.' && cfg_chars_ok(v, ".-_");
}

static int cfg_check_host(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80];
    if (!cfg_host_valid(v))
        return cfg_fail(c, "%s must be a host name or an IP address, got %s", dpath,
                        config_quote(v, q, sizeof(q)));
    return 0;
}

/* A Sentinel: "host:port" or "[v6]:port", the host an IP address or a name. */
static int cfg_check_hostport(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80], host[256];
    const char *colon = strrchr(v, ':');
    size_t hl = colon ? (size_t)(colon - v) : 0;
    const char *h = v;
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    bool ok = colon && hl > 0 && hl < sizeof(host) && end && end != colon + 1 && *end == '\0' &&
              port >= 1 && port <= 65535;
    if (ok) {
        memcpy(host, h, hl);
        host[hl] = '\0';
        ok = cfg_host_valid(host);
    }
    if (!ok)
        return cfg_fail(c, "%s must be host:port (e.g. \"10.0.0.5:26379\"), got %s", dpath,
                        config_quote(v, q, sizeof(q)));
    return 0;
}

/* An ACL user or a Sentinel master name: printable, no spaces, at most 128 bytes. */
static int cfg_check_redis_name(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80];
    if (strlen(v) > 128 || !cfg_chars_ok(v, "._-:"))
        return cfg_fail(c, "%s must be at most 128 letters, digits, '.', '_', '-' or ':', got %s",
                        dpath, config_quote(v, q, sizeof(q)));
    return 0;
}

static int cfg_check_group_name(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80];
    if (strlen(v) > 63 || !cfg_chars_ok(v, "._-"))
        return cfg_fail(c, "%s must be 1 to 63 letters, digits, '.', '_' or '-', got %s", dpath,
                        config_quote(v, q, sizeof(q)));
    return 0;
}

static int cfg_check_user(struct cfg_ctx *c, const char *dpath, const char *v)
{
    char q[80];
    if (strlen(v) > 32 || v[0] == '-' || !cfg_chars_ok(v, "._-"))
        return cfg_fail(c, "%s must be a user name (e.g. \"ddosd\") or \"\", got %s", dpath,
                        config_quote(v, q, sizeof(q)));
    return 0;
}

const char *config_level_name(unsigned bit)
{
    return bit < 4 ? cfg_level_names[bit] : NULL;
}
