/* config.h - the daemon's settings: defaults, config.json, ${VAR} placeholders, command-line
 * overrides, validation and the --dump-config view.
 *
 * Precedence: command-line flags > config.json > defaults. The caller fills a struct with
 * config_defaults(), overlays the file with config_load_file(), then applies flags with
 * config_set() / config_set_list() / config_apply_redis_url() and checks the result once more
 * with config_validate(). Every key, its type, default and meaning: docs/configuration.md.
 *
 * Placeholders: every string value in config.json may contain ${VAR} or ${VAR:-default} ($$ is a
 * literal $). VAR comes from the process environment first, then from the .env file (next to
 * config.json, or the one given with config_set_env_file()). A string that is exactly one
 * placeholder may feed a number or boolean key ("port": "${REDIS_PORT}"). Secrets (the Redis
 * password, bouncer keys, SECRET_KEY) live only in the environment or .env: config.json names
 * them, it never holds them.
 *
 * Errors: every function that can fail writes one actionable line to err, prefixed with where the
 * value came from and the full dotted key, e.g.
 *   config.json: rules.victim.pps must be a positive number, got "abc"
 *
 * Ownership: a struct ddosd_config owns every string and array it points to (all malloc'd); free
 * them with config_free(). After config_defaults() no string pointer is NULL ("" means unset).
 * Not thread-safe: build it at start-up, then treat it as read-only (any thread may read). */
#ifndef DD_COMMON_CONFIG_H
#define DD_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cidr.h"
#include "common/compiler.h"
#include "common/log.h"

struct env_file;

/* Limits (the loader rejects anything beyond them with a message naming the limit). */
#define CONFIG_STRING_MAX      4096 /* bytes of any string after ${} expansion */
#define CONFIG_SENSOR_ID_MAX   63   /* fits a verdict's sensor field (asserted in verdict.c) */
#define CONFIG_IFNAME_MAX      15   /* IFNAMSIZ - 1 */
#define CONFIG_INTERFACES_MAX  64
#define CONFIG_FILES_MAX       4096
#define CONFIG_HOSTGROUPS_MAX  256
#define CONFIG_CIDRS_MAX       4096 /* per list */
#define CONFIG_BOUNCERS_MAX    64
#define CONFIG_BOUNCER_KEY_MIN 16   /* characters a bouncer key needs */
#define CONFIG_SECRET_KEY_MIN  16   /* characters SECRET_KEY needs (when set) */
#define CONFIG_TIMEOUT_MAX_S   4000 /* flow timeouts; fits the flow table (flow_table.c) */

enum config_flows_mode { CONFIG_FLOWS_FIXED = 0, CONFIG_FLOWS_CIC = 1 };

/* decisions.levels bits: bit i stands for threat level i of verdicts/verdict.h
 * (low, medium, high, critical; verdicts/verdict.c asserts it). */
enum config_level_bits {
    CONFIG_LEVEL_LOW = 1u << 0,
    CONFIG_LEVEL_MEDIUM = 1u << 1,
    CONFIG_LEVEL_HIGH = 1u << 2,
    CONFIG_LEVEL_CRITICAL = 1u << 3,
};

/* decisions.roles bits: bit i stands for enum verdict_role i of verdicts/verdict.h
 * (attacker, victim; verdicts/verdict.c asserts it). */
enum config_role_bits {
    CONFIG_ROLE_ATTACKER = 1u << 0,
    CONFIG_ROLE_VICTIM = 1u << 1,
};

struct config_strlist {
    char **items;
    size_t n;
};

/* Per-IP rate thresholds; 0 disables one (written null in config.json). */
struct config_thresholds {
    double pps;               /* packets/s */
    double bps;               /* bits/s */
    double syn_per_s;         /* TCP SYNs/s */
    double new_flows_per_s;   /* new flows/s */
    double distinct_sources;  /* distinct peers within a scoring window */
    double syn_ack_ratio;     /* SYNs per completed handshake (half-open imbalance) */
    double reflector_pps;     /* UDP packets/s from reflector ports (DNS, NTP, memcached, ...) */
    double icmp_errors_per_s; /* ICMP errors/s (unreachable, time exceeded, ...; BlackNurse) */
    double fragments_per_s;   /* IPv4/IPv6 fragments/s */
};

struct config_hostgroup {
    char *name;
    struct cidr_list cidrs; /* host bits clear (CIDR_STRICT) */
    /* The global thresholds with this group's overrides applied (fully resolved). */
    struct config_thresholds victim, attacker;
};

struct config_hostgroups {
    struct config_hostgroup *items;
    size_t n;
};

struct config_bouncer_key {
    char *name; /* the environment variable that holds the key */
    char *key;  /* its value, resolved at load time: a secret, never logged or dumped */
};

struct config_bouncer_keys {
    struct config_bouncer_key *items;
    size_t n;
};

struct config_sensor {
    char *id; /* default: the host name */
};

struct config_capture {
    struct config_strlist interfaces; /* live interfaces */
    struct config_strlist files;      /* capture files or directories */
    char *filter;                     /* BPF expression; "" for every packet */
    int snaplen;
    bool promiscuous;
    int buffer_mb; /* kernel buffer per interface; 0: libpcap's default */
    int threads;   /* capture/flow shards */
};

struct config_flows {
    enum config_flows_mode mode;
    int max_flows;         /* flow table capacity (all shards) */
    double idle_timeout;   /* seconds; 0 disables (always 0 in cic mode) */
    double active_timeout; /* seconds, from a flow's first packet */
};

struct config_scoring {
    int first_packets; /* score a running flow when it reaches this many packets; 0 disables */
    double interval;   /* then again at most this often, seconds; 0 disables */
};

/* ml_model.path's default: relative to the working directory (or config.json's; ddosd also looks
 * in the places the build compiled in when it is missing). */
#define CONFIG_MODEL_PATH_DEFAULT "models/ddosd-model.msgpack"

struct config_ml_model {
    char *path;       /* "" runs the rate rules only */
    double threshold; /* 0..1 overrides the model's stage-1 threshold; < 0: the model's own */
    /* The per-IP judge counts a flow as attack evidence from this p_attack on, even under the
     * threshold above: a single flow's label must be sure (it is reported), but a verdict needs
     * many such flows with their share (verdicts/verdict_table.h). < 0: the judge's default. */
    double evidence_threshold;
};

/* redis.read_from: where readers (the API-only node's follower) read verdicts. */
enum config_read_from { CONFIG_READ_PRIMARY = 0, CONFIG_READ_REPLICA = 1 };

struct config_redis {
    bool enabled; /* false: verdicts live in memory only */
    char *host;
    int port;
    int db;
    char *password;                  /* "" when the server needs none; secret */
    char *username;                  /* ACL user ("" : AUTH <password> alone) */
    struct config_strlist sentinels; /* "host:port" of Sentinels; empty: host/port directly */
    char *master_name;               /* the name Sentinel monitors (default "mymaster") */
    enum config_read_from read_from; /* readers: the primary or a replica (with sentinels) */
    bool required;                   /* true: exit 1 at start when Redis (or every Sentinel)
                                        cannot be reached; false: start and retry */
    bool follow;                     /* a sensor's API also answers from the other sensors'
                                        verdicts in Redis (verdicts/redis_follow.h) */
    int max_memory_mb;       /* the sink's Redis memory budget (0: 90 % of maxmemory, if set) */
    int max_keys_per_second; /* new verdict keys the sink writes per second (0: no cap) */
};

struct config_cache {
    bool enabled;
    int ttl; /* seconds a verdict stays cached */
};

struct config_whitelist {
    struct cidr_list sources;      /* never flagged as attackers */
    struct cidr_list destinations; /* never flagged as victims */
};

struct config_rules {
    struct config_thresholds victim;     /* rates towards one destination IP */
    struct config_thresholds attacker;   /* rates from one source IP */
    struct config_hostgroups hostgroups; /* a group's CIDRs use its thresholds */
    struct config_whitelist whitelist;
};

struct config_listen {
    bool enabled; /* false for "none" */
    char *host;   /* IP literal or host name, without brackets */
    int port;
};

struct config_api {
    struct config_listen listen;
    int threads;
    int max_connections;
    double timeout; /* seconds a connection may take for one request, from being ready (accepted,
                       or the previous response sent) to its response sent: a deadline */
    int body_limit; /* bytes */
    struct cidr_list reserved_cidrs; /* gateway addresses with their own connection budget
                                        (127.0.0.1 and ::1 always have it) */
    int reserved_connections;        /* slots of max_connections only reserved peers may take */
    int per_address_connections;     /* at most this many per other (non-reserved) address */
    bool dashboard_auth; /* the dashboard's data (/api/incidents, /api/events, /api/timeseries)
                            needs SECRET_KEY; false: read-only for anyone who reaches the API */
};

/* A verdict is a decision (a ban) when its level is in levels AND its role in roles. */
struct config_decisions {
    unsigned levels; /* enum config_level_bits */
    unsigned roles;  /* enum config_role_bits */
};

struct config_log {
    char *dir; /* app.log and error.log go here; "" logs to stderr */
    enum log_level level;
};

struct config_notify {
    char *script;   /* run on a new decision; "" for none */
    double timeout; /* seconds before the script is killed */
};

struct ddosd_config {
    struct config_sensor sensor;
    struct config_capture capture;
    struct config_flows flows;
    struct config_scoring scoring;
    struct config_ml_model ml_model;
    struct config_redis redis;
    struct config_cache cache;
    struct config_rules rules;
    struct config_api api;
    struct config_decisions decisions;
    struct config_bouncer_keys bouncer_keys;
    struct config_log log;
    struct config_notify notify;
    char *user;    /* drop privileges to this user after start-up; "" keeps them */
    bool api_only; /* as --api-only: serve the verdicts in Redis, no capture or model */

    /* Where ${VAR} and bouncer keys are looked up after the environment (owned; may be NULL). */
    char *env_path;       /* set by config_set_env_file(); NULL: .env next to config.json */
    struct env_file *env; /* the table in use; set by the loader or config_set_env() */
};

/* Fills c with every default (see docs/configuration.md). c need not be initialised; it must not
 * hold allocations (they would leak). Returns 0 or -ENOMEM (c is then safe for config_free). */
DD_NODISCARD int config_defaults(struct ddosd_config *c);

/* Frees everything c owns and zeroes it. Accepts NULL and a zeroed or half-built struct. */
void config_free(struct ddosd_config *c);

/* Uses the .env file at path instead of the one next to config.json; the loader then requires
 * it to exist. Returns 0 or -ENOMEM. */
DD_NODISCARD int config_set_env_file(struct ddosd_config *c, const char *path);

/* Hands c a parsed variable table (ownership moves to c; env may be NULL to clear). The loader
 * then reads no .env file. For tests and for the fuzz harness. */
void config_set_env(struct ddosd_config *c, struct env_file *env);

/* Reads config.json at path and overlays it on c, which config_defaults() filled (and
 * config_set_env_file() may have adjusted). The .env file, when present, must be private (mode
 * 600): see env_file_load(ENV_FILE_PRIVATE). Checks every key, then the whole (config_validate).
 * Returns 0, or a negative errno with one line in err; on failure c stays valid for
 * config_free() but its contents are unspecified. */
DD_NODISCARD int config_load_file(const char *path, struct ddosd_config *c, char *err,
                                  size_t err_len);

/* As config_load_file on len bytes of JSON; name (e.g. "config.json") prefixes messages. Reads
 * the .env file only when config_set_env_file() named one. */
DD_NODISCARD int config_load_buffer(const char *buf, size_t len, const char *name,
                                    struct ddosd_config *c, char *err, size_t err_len);

/* Overrides one key from the command line: key is a dotted path ("ml_model.path",
 * "capture.threads", "api.listen"), value its text, checked exactly like the file's value
 * ("4" is a number, "true"/"false" a boolean, no ${} expansion). For a list key the value
 * replaces the list with one item. origin (e.g. "--threads") prefixes messages. Returns 0 or
 * -EINVAL. Call config_validate() after the last override. */
DD_NODISCARD int config_set(struct ddosd_config *c, const char *origin, const char *key,
                            const char *value, char *err, size_t err_len);

/* Replaces a list key ("capture.interfaces", "capture.files", "decisions.levels",
 * "decisions.roles", "bouncer_keys", "rules.whitelist.sources", ...) with n items, each checked. */
DD_NODISCARD int config_set_list(struct ddosd_config *c, const char *origin, const char *key,
                                 const char *const *values, size_t n, char *err, size_t err_len);

/* Applies --redis: "none" disables Redis; redis://[:password@]host[:port][/db] (password
 * %-encoded, IPv6 host in brackets, port 6379 and db 0 by default) enables it and sets host, port,
 * db and password. Nothing changes on error. Returns 0 or -EINVAL. */
DD_NODISCARD int config_apply_redis_url(struct ddosd_config *c, const char *url, char *err,
                                        size_t err_len);

/* Checks what single keys cannot: idle vs active timeout, mode-specific keys, Redis host, and
 * SECRET_KEY (from the environment or .env) when the API is on: unset or empty is allowed (the
 * authenticated endpoints then answer 503), anything else must pass config_key_weakness.
 * Returns 0 or -EINVAL with "configuration: ..." in err. */
DD_NODISCARD int config_validate(const struct ddosd_config *c, char *err, size_t err_len);

/* Writes the effective configuration to out as JSON in config.json's shape, secrets (Redis
 * password, bouncer keys) as "***". Returns 0, -ENOMEM or -EIO. */
DD_NODISCARD int config_dump(const struct ddosd_config *c, FILE *out);

/* Why an API or bouncer key must be refused, or NULL when it will do: "is a placeholder"
 * (change-me, changeme, secret, password, your-secret-key,
 * example, ... compared without case and punctuation, also as the start of a longer key such as
 * "change-me-please-1234"), "is too short" (under min characters), "repeats one character".
 * Never quotes the key. */
const char *config_key_weakness(const char *key, size_t min);

/* Looks up a variable as placeholders do: environment first, then c's .env table. */
const char *config_env_lookup(const struct ddosd_config *c, const char *name);

/* Writes s double-quoted into buf with control characters, quotes and backslashes escaped, cut
 * after 60 bytes (buf: 80 bytes hold any result), so a message quoting user text stays one
 * readable line. Returns buf. */
char *config_quote(const char *s, char *buf, size_t len);

/* "low", "medium", "high", "critical" for bits 0..3 of decisions.levels; NULL beyond. */
const char *config_level_name(unsigned bit);

#endif
