/* verdict.c - names, parsing and formatting for the verdict value type (verdicts/verdict.h).
 *
 * Owns nothing: pure functions over caller buffers, callable from any thread. The names here are
 * an external interface (they are what operators read in Redis and the API), so they are
 * spelled once, in the tables below, and parsing accepts exactly what formatting writes.
 *
 * DESIGN: addresses go through inet_ntop/inet_pton. glibc's inet_ntop already writes RFC 5952
 * text (lower case, the longest run of zero groups as "::", never "::" for a single group), so
 * one IP always has one spelling and can be used as a Redis key. */
#include "verdicts/verdict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/config.h"

/* Where config.json's settings meet the verdict type: decisions.levels and decisions.roles are
 * bit sets indexed by enum threat_level and enum verdict_role, and a sensor.id the loader
 * accepts fits a verdict's sensor field with its NUL. */
_Static_assert(CONFIG_LEVEL_LOW == 1u << THREAT_LOW && CONFIG_LEVEL_MEDIUM == 1u << THREAT_MEDIUM &&
                   CONFIG_LEVEL_HIGH == 1u << THREAT_HIGH &&
                   CONFIG_LEVEL_CRITICAL == 1u << THREAT_CRITICAL,
               "decisions.levels bit i is threat level i");
_Static_assert(CONFIG_ROLE_ATTACKER == 1u << VERDICT_ROLE_ATTACKER &&
                   CONFIG_ROLE_VICTIM == 1u << VERDICT_ROLE_VICTIM,
               "decisions.roles bit i is verdict role i");
_Static_assert(CONFIG_SENSOR_ID_MAX < VERDICT_SENSOR_MAX, "sensor.id must fit a verdict");

static const char *const level_names[] = {"low", "medium", "high", "critical"};
static const char *const role_names[] = {"attacker", "victim"};
/* Index i names bit (1u << i) of enum verdict_reason. */
static const char *const reason_names[] = {
    "model",      "rate_pps", "rate_bps",    "rate_syn",  "rate_flows", "rate_sources",
    "reflection", "report",   "icmp_errors", "fragments", "spoofed",    "half_open",
};

const char *threat_level_name(enum threat_level level)
{
    if ((unsigned)level >= DD_ARRAY_LEN(level_names))
        return level_names[THREAT_LOW];
    return level_names[level];
}

int threat_level_parse(const char *s, enum threat_level *out)
{
    for (size_t i = 0; s && i < DD_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum threat_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *verdict_role_name(enum verdict_role role)
{
    if ((unsigned)role >= DD_ARRAY_LEN(role_names))
        return role_names[VERDICT_ROLE_ATTACKER];
    return role_names[role];
}

int verdict_role_parse(const char *s, enum verdict_role *out)
{
    for (size_t i = 0; s && i < DD_ARRAY_LEN(role_names); i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum verdict_role)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *verdict_reason_name(unsigned i)
{
    return i < DD_ARRAY_LEN(reason_names) ? reason_names[i] : NULL;
}

char *verdict_reasons_format(uint32_t reasons, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < DD_ARRAY_LEN(reason_names); i++) {
        if (!(reasons & (1u << i)))
            continue;
        size_t n = strlen(reason_names[i]);
        size_t sep = used ? 1 : 0;
        if (used + sep + n + 1 > len)
            break; /* whole names only: a cut name would read as a different reason */
        if (sep)
            buf[used++] = ',';
        memcpy(buf + used, reason_names[i], n + 1);
        used += n;
    }
    return buf;
}

int verdict_reasons_parse(const char *s, uint32_t *out)
{
    if (!s)
        return -EINVAL;
    uint32_t bits = 0;
    if (*s == '\0') {
        *out = 0;
        return 0;
    }
    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        size_t i = 0;
        while (i < DD_ARRAY_LEN(reason_names) &&
               !(strlen(reason_names[i]) == n && memcmp(s, reason_names[i], n) == 0))
            i++;
        if (i == DD_ARRAY_LEN(reason_names))
            return -EINVAL; /* unknown or empty name ("a,,b", trailing comma) */
        bits |= 1u << i;
        if (!end)
            break;
        s = end + 1;
    }
    *out = bits;
    return 0;
}

char *verdict_ip_format(const struct verdict *v, char buf[VERDICT_IP_TEXT_MAX])
{
    int af = v->ip_version == 4 ? AF_INET : v->ip_version == 6 ? AF_INET6 : AF_UNSPEC;
    if (af == AF_UNSPEC || !inet_ntop(af, v->ip, buf, VERDICT_IP_TEXT_MAX))
        strcpy(buf, "?");
    return buf;
}

const char *verdict_spoofed_example_format(const struct verdict *v, unsigned i,
                                           char buf[VERDICT_IP_TEXT_MAX])
{
    if (i >= VERDICT_SPOOFED_EXAMPLES)
        return NULL;
    int af = v->spoofed_example_ver[i] == 4   ? AF_INET
             : v->spoofed_example_ver[i] == 6 ? AF_INET6
                                              : AF_UNSPEC;
    if (af == AF_UNSPEC || !inet_ntop(af, v->spoofed_example[i], buf, VERDICT_IP_TEXT_MAX))
        return NULL;
    return buf;
}

int verdict_ip_parse(const char *text, struct verdict *v)
{
    uint8_t ip[16] = {0};
    if (!text)
        return -EINVAL;
    if (inet_pton(AF_INET, text, ip) == 1) {
        memcpy(v->ip, ip, sizeof(ip));
        v->ip_version = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, text, ip) == 1) {
        memcpy(v->ip, ip, sizeof(ip));
        v->ip_version = 6;
        return 0;
    }
    return -EINVAL;
}
