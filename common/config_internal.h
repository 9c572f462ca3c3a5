/* config_internal.h - what the files of the configuration loader share (not a public API).
 *
 * common/config.c reads values and walks JSON objects against the key table, applies defaults,
 * overrides and validation; config_keys.c holds the key table, the per-value checks and the
 * messages about keys; config_redis_url.c parses and applies redis:// URLs; config_dump.c writes
 * --dump-config. Every function here follows config.h's error convention: on failure it writes one
 * line to the context's err (through cfg_fail) and returns -EINVAL. Start-up only, not thread-safe.
 */
#ifndef DD_COMMON_CONFIG_INTERNAL_H
#define DD_COMMON_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"
#include "common/config.h"

enum cfg_kind {
    K_OBJ,       /* nested object; children re-based at off */
    K_STR,       /* char * */
    K_BOOL,      /* bool */
    K_INT,       /* int */
    K_NUM,       /* double */
    K_CHOICE,    /* int (an enum) indexing choices */
    K_STRLIST,   /* struct config_strlist */
    K_CIDRLIST,  /* struct cidr_list */
    K_LISTEN,    /* struct config_listen */
    K_LEVELS,    /* unsigned bit set: bit i for choices[i] (threat levels, roles) */
    K_BOUNCERS,  /* the bouncer_keys array */
    K_REDIS_URL, /* applied to the enclosing struct config_redis; not stored */
    K_GROUPS,    /* rules.hostgroups; elements described by "rules.hostgroups[]" rows */
};

enum cfg_flags {
    F_NONEMPTY = 1u << 0, /* strings: not ""; lists: at least one item */
    F_SECRET = 1u << 1,   /* never echoed; dumped as "***"; must be a ${VAR} in config.json */
    F_NULLABLE = 1u << 2, /* null stores null_value (0: rule disabled; -1: unset) */
    F_MIN_EXCL = 1u << 3, /* the minimum itself is out of range */
    F_NODUMP = 1u << 4,
};

struct cfg_ctx;

struct cfg_key {
    const char *path; /* dotted, "[]" marks an array element */
    enum cfg_kind kind;
    size_t off;
    double min, max; /* numbers: range; lists: max is the item limit */
    unsigned flags;
    double null_value;
    const char *const *choices;
    /* Extra check of a string (or of each list item). Returns 0 or fails through cfg_fail. */
    int (*check)(struct cfg_ctx *c, const char *dpath, const char *value);
};

struct cfg_ctx {
    const char *origin; /* "config.json" or "--threads": the prefix of every message */
    char *err;
    size_t err_len;
    const struct ddosd_config *cfg; /* read for its variable table */
    const char *env_hint;           /* the .env file named in "is not set" messages */
    bool literal;                   /* command line: no ${} expansion, strings may hold numbers */
};

/* Rows under "rules.hostgroups[]" describe one element of that array. */
#define GROUP_ELEM "rules.hostgroups[]"

/* The key table (config_keys.c): one row per config.json key, parents before children. */
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_keys_n;
/* The choices of decisions.roles (enum verdict_role order), NULL-terminated. */
extern const char *const cfg_role_names[];

/* ---- messages (config_keys.c) ---- */

/* Writes "<origin>: <message>" into c->err. Returns -EINVAL. */
DD_PRINTF(2, 3) int cfg_fail(struct cfg_ctx *c, const char *fmt, ...);
/* A JSON value for "got ..." (a secret's value is never shown, only its type). */
char *cfg_describe(const json_t *v, bool secret, char *buf, size_t len);
/* A string after expansion: "abc" (from "${PORT}") when a placeholder produced it. */
char *cfg_describe_expanded(const char *raw, const char *value, char *buf, size_t len);
/* The closest of a NULL-terminated list (a misspelling of it), or NULL. */
const char *cfg_suggest(const char *typed, const char *const *choices);
/* An unknown key under spath (dpath as the user wrote it): fails with the nearest suggestion. */
int cfg_unknown(struct cfg_ctx *c, const char *spath, const char *dpath, const char *key);

/* ---- the key table (config_keys.c) ---- */

/* The last dotted component of path. */
const char *cfg_leaf(const char *path);
/* True when path is a direct child of parent ("" is the root). */
bool cfg_is_child(const char *parent, const char *path);
/* The row of parent's child name, or NULL. */
const struct cfg_key *cfg_child(const char *parent, const char *name);
/* The row of a full dotted path, or NULL. */
const struct cfg_key *cfg_key_find(const char *path);
/* "parent.name" (or "name" under the root) into buf. */
void cfg_join(char *buf, size_t len, const char *parent, const char *name);
/* The check of sensor.id (compared by the reader: "" there means the host name). */
int cfg_check_sensor_id(struct cfg_ctx *c, const char *dpath, const char *v);
/* True for an IPv4/IPv6 literal or a plausible host name. */
bool cfg_host_valid(const char *v);

/* ---- values (config.c, config_redis_url.c) ---- */

/* Reads a string value (placeholders expanded, checked per k; k may be NULL) into a malloc'd
 * *out. */
int cfg_read_string(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                    char **out);
/* Wipes and frees a secret; accepts NULL. */
void cfg_secret_free(char *s);
/* Applies a redis.url value to the enclosing struct config_redis. */
int cfg_set_redis_url(struct cfg_ctx *c, const struct cfg_key *k, const char *dpath, json_t *v,
                      struct config_redis *r);

#endif
