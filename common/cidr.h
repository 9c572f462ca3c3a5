/* cidr.h - IPv4 and IPv6 prefixes: the one parser and matcher of the project.
 *
 * config.json's host groups and whitelists (common/config.c), their use by the rate rules and
 * the verdict table (verdicts/), and the ground-truth manifests' "ip" rules (app/manifest.c) all
 * parse and match addresses here. Pure functions over caller memory: callable from any thread,
 * nothing allocated. Addresses are 4 (IPv4) or 16 (IPv6) bytes in network order, the layout of
 * a decoded packet's and a verdict's addresses. */
#ifndef DD_COMMON_CIDR_H
#define DD_COMMON_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* A prefix in binary: addr holds the network address in network byte order (IPv4 in the first
 * 4 bytes, the rest zero) with every host bit clear. */
struct cidr {
    uint8_t version;    /* 4 or 6 */
    uint8_t prefix_len; /* 0..32 or 0..128 */
    uint8_t addr[16];
};

/* A list of prefixes (config.json's lists own items, malloc'd). */
struct cidr_list {
    struct cidr *items;
    size_t n;
};

enum cidr_parse_flags {
    CIDR_STRICT = 0,             /* host bits must be clear (the message suggests the network) */
    CIDR_HOST_BITS_OK = 1u << 0, /* host bits are cleared: "10.1.2.3/8" is 10.0.0.0/8 */
};

/* Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128); the prefix length is
 * 1 to 3 digits. Returns 0, or -EINVAL with a one-line message that quotes text (control
 * characters escaped) in err, e.g. "10.0.0.0/33": the prefix length must be 0 to 32. */
DD_NODISCARD int cidr_parse(const char *text, unsigned flags, struct cidr *out, char *err,
                            size_t err_len);

/* Writes "addr/len" into buf (at least 50 bytes for any prefix). Returns buf. */
char *cidr_format(const struct cidr *cidr, char *buf, size_t len);

/* True when addr (of the given version) lies inside cidr. */
bool cidr_contains(const struct cidr *cidr, uint8_t version, const uint8_t *addr);

/* True when addr lies inside any prefix of l. O(n). */
bool cidr_list_contains(const struct cidr_list *l, uint8_t version, const uint8_t *addr);

/* The length of the longest prefix of l that holds addr, -1 when none does. O(n). */
int cidr_list_longest(const struct cidr_list *l, uint8_t version, const uint8_t *addr);

#endif
