/* verdict.h - the per-IP verdict: what ddosd concluded about one address.
 *
 * A value type: verdicts are copied between the verdict stage, the Redis sink and the API, never
 * shared by pointer across threads. The verdict stage (one thread) owns the live table of
 * verdicts; everything else receives copies.
 *
 * Threat levels are ordered (a merge keeps the highest); reasons are a bit set because a verdict
 * usually has several (the model flagged flows AND a rate rule fired). */
#ifndef DD_VERDICTS_VERDICT_H
#define DD_VERDICTS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

enum verdict_role { VERDICT_ROLE_ATTACKER = 0, VERDICT_ROLE_VICTIM = 1 };

enum threat_level {
    THREAT_LOW = 0,
    THREAT_MEDIUM = 1,
    THREAT_HIGH = 2,
    THREAT_CRITICAL = 3,
};

/* Why a verdict says what it says (verdict.reasons bits). */
enum verdict_reason {
    VERDICT_REASON_MODEL = 1u << 0,        /* the model scored this IP's flows as attacks */
    VERDICT_REASON_RATE_PPS = 1u << 1,     /* packets/s over its threshold */
    VERDICT_REASON_RATE_BPS = 1u << 2,     /* bits/s over its threshold */
    VERDICT_REASON_RATE_SYN = 1u << 3,     /* SYN/s over threshold, or SYN vs SYN-ACK imbalance */
    VERDICT_REASON_RATE_FLOWS = 1u << 4,   /* new flows/s over threshold */
    VERDICT_REASON_RATE_SOURCES = 1u << 5, /* distinct sources over threshold (victim) */
    VERDICT_REASON_REFLECTION = 1u << 6,   /* UDP from reflector ports over threshold */
    VERDICT_REASON_REPORT = 1u << 7,       /* an operator or gateway reported it (API) */
    VERDICT_REASON_ICMP_ERRORS = 1u << 8,  /* ICMP/ICMPv6 errors received over threshold (victim):
                                              BlackNurse-style destination-unreachable floods */
    VERDICT_REASON_FRAGMENTS = 1u << 9,    /* IP fragments received over threshold (victim) */
    VERDICT_REASON_SPOOFED = 1u << 10,     /* attack traffic from many one-way sources, each with
                                              too little of its own to judge (victim): they are
                                              counted in spoofed_sources, never blamed */
    VERDICT_REASON_HALF_OPEN = 1u << 11,   /* many concurrent half-open or slow connections
                                              (victim): SYN floods, slowloris */
};

enum {
    VERDICT_ATTACK_TYPE_MAX = 32, /* "syn_flood", "udp_amplification", ... */
    VERDICT_SENSOR_MAX = 64,
    VERDICT_MODEL_VERSION_MAX = 24, /* the first 16 hex digits of the model's SHA-256 */
    VERDICT_IP_TEXT_MAX = 46,       /* INET6_ADDRSTRLEN */
    VERDICT_REASONS_TEXT_MAX = 160, /* every reason name, comma-separated, fits */
    VERDICT_SPOOFED_EXAMPLES = 4,   /* sampled spoofed sources carried in a victim's verdict */
};

struct verdict {
    uint8_t ip[16];     /* IPv4 in the first 4 bytes, rest zero */
    uint8_t ip_version; /* 4 or 6 */
    uint8_t role;       /* enum verdict_role */
    uint8_t level;      /* enum threat_level */
    uint8_t pad;
    uint32_t reasons; /* enum verdict_reason bits */
    double score;     /* 0..1: the strongest evidence (model probability or rule excess) */
    char attack_type[VERDICT_ATTACK_TYPE_MAX]; /* "" when unknown */
    uint64_t flows_total;                      /* flows of this IP seen while the verdict lived */
    uint64_t flows_attack;                     /* of those, flows the model called attacks */
    double pps;                                /* smoothed packets/s at the last update */
    double bps;                                /* smoothed bits/s at the last update */
    uint64_t first_seen_us;                    /* packet time, microseconds since the epoch */
    uint64_t last_seen_us;
    char sensor[VERDICT_SENSOR_MAX];               /* the sensor that wrote it */
    char model_version[VERDICT_MODEL_VERSION_MAX]; /* "" when no model was involved */
    /* Victim role: distinct one-way sources of attack traffic towards this IP that were never
     * judged on their own (too little traffic each to tell a real sender from a spoofed
     * address), and up to VERDICT_SPOOFED_EXAMPLES of them (example_ver 0: unused slot).
     * 0 and no examples for an attacker. */
    uint32_t spoofed_sources;
    uint8_t spoofed_example_ver[VERDICT_SPOOFED_EXAMPLES];
    uint8_t spoofed_example[VERDICT_SPOOFED_EXAMPLES][16];
};
/* Verdicts are copied through rings and the Redis sink's backlog: a size change is a decision. */
_Static_assert(sizeof(struct verdict) == 272, "struct verdict changed size");

/* One sensor's view of a merged verdict (a `sensor:<id>` field of the Redis hash, docs/redis.md):
 * what that sensor holds for the address, beside the merged level the highest of them sets. */
struct verdict_sensor_view {
    char sensor[VERDICT_SENSOR_MAX]; /* its id: 1..63 of [A-Za-z0-9._:-], NUL-padded */
    double score;                    /* 0..1 */
    double pps;                      /* its latest smoothed packets/s (>= 0) */
    uint64_t last_seen_us;           /* its latest evidence, packet time; 0: not written */
    uint8_t level;                   /* enum threat_level */
};

enum { VERDICT_VIEWS_MAX = 8 }; /* views carried per address; the rest are only counted */

/* The live sensors' views of one address, at most VERDICT_VIEWS_MAX: the leading sensor first,
 * then the others by level, score (both descending) and id. omitted counts the live sensors
 * left out. A value type, compared with memcmp: fill it from a zeroed struct. */
struct verdict_views {
    uint32_t n;
    uint32_t omitted;
    struct verdict_sensor_view v[VERDICT_VIEWS_MAX];
};

/* "low", "medium", "high", "critical". Never NULL ("low" for out-of-range values). */
const char *threat_level_name(enum threat_level level);
/* Parses the names above. Returns 0 or -EINVAL. */
DD_NODISCARD int threat_level_parse(const char *s, enum threat_level *out);

/* "attacker" or "victim". Never NULL ("attacker" for out-of-range values). */
const char *verdict_role_name(enum verdict_role role);
/* Parses the names above. Returns 0 or -EINVAL. */
DD_NODISCARD int verdict_role_parse(const char *s, enum verdict_role *out);

/* The name of reason bit (1u << i) ("model" for i 0), or NULL when bit i has no name. */
const char *verdict_reason_name(unsigned i);
/* Writes the reason names ("model,rate_pps,report") into buf (NUL-terminated, truncated to
 * len). Returns buf. Names come in bit order; unknown bits are skipped; truncation drops whole
 * names, never half of one ("" when no reason or len is too small). VERDICT_REASONS_TEXT_MAX
 * always fits. */
char *verdict_reasons_format(uint32_t reasons, char *buf, size_t len);
/* Parses a comma-separated list of the names above ("" is no reason). Returns 0 or -EINVAL
 * (unknown or empty name; *out is then unchanged). */
DD_NODISCARD int verdict_reasons_parse(const char *s, uint32_t *out);

/* Formats the verdict's address (dotted quad or RFC 5952) into buf of VERDICT_IP_TEXT_MAX.
 * Returns buf; "?" when ip_version is neither 4 nor 6. */
char *verdict_ip_format(const struct verdict *v, char buf[VERDICT_IP_TEXT_MAX]);

/* Formats spoofed example i (0..VERDICT_SPOOFED_EXAMPLES-1) like verdict_ip_format into buf.
 * Returns buf, or NULL when i is out of range or the slot is unused (its version is neither 4
 * nor 6): every output lists only the used slots, in slot order. */
const char *verdict_spoofed_example_format(const struct verdict *v, unsigned i,
                                           char buf[VERDICT_IP_TEXT_MAX]);

/* Parses an IPv4 or IPv6 address into v->ip / v->ip_version (other fields untouched). Returns 0
 * or -EINVAL (v unchanged). */
DD_NODISCARD int verdict_ip_parse(const char *text, struct verdict *v);

#endif
