/* cidr.c - parsing, formatting and matching IPv4/IPv6 prefixes (see cidr.h).
 *
 * Owns nothing. Parsing goes through inet_pton, so an address is written exactly as libc reads
 * it; messages quote the user's text through config_quote() so they stay one safe line. */
#include "common/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

DD_PRINTF(3, 4) static void cidr_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
}

int cidr_parse(const char *text, unsigned flags, struct cidr *out, char *err, size_t err_len)
{
    char addr_text[INET6_ADDRSTRLEN + 1], q[80];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    struct cidr r = {0};
    config_quote(text, q, sizeof(q));
    if (alen == 0 || alen >= sizeof(addr_text)) {
        cidr_errf(err, err_len, "%s is not an IPv4 or IPv6 address or CIDR", q);
        return -EINVAL;
    }
    memcpy(addr_text, text, alen);
    addr_text[alen] = '\0';
    if (inet_pton(AF_INET, addr_text, r.addr) == 1) {
        r.version = 4;
    } else if (inet_pton(AF_INET6, addr_text, r.addr) == 1) {
        r.version = 6;
    } else {
        cidr_errf(err, err_len,
                  "%s is not an IPv4 or IPv6 address or CIDR (e.g. \"10.0.0.0/8\", "
                  "\"2001:db8::/32\")",
                  q);
        return -EINVAL;
    }
    unsigned maxbits = r.version == 4 ? 32 : 128, len = maxbits;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t nd = strspn(p, "0123456789");
        if (nd == 0 || nd > 3 || p[nd] != '\0' || (len = (unsigned)atoi(p)) > maxbits) {
            cidr_errf(err, err_len, "%s: the prefix length must be 0 to %u", q, maxbits);
            return -EINVAL;
        }
    }
    r.prefix_len = (uint8_t)len;
    struct cidr net = r;
    for (unsigned bit = len; bit < maxbits; bit++)
        net.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    if (!(flags & CIDR_HOST_BITS_OK) && memcmp(net.addr, r.addr, sizeof(r.addr)) != 0) {
        char fixed[64], qf[80];
        cidr_format(&net, fixed, sizeof(fixed));
        cidr_errf(err, err_len, "%s has host bits set; did you mean %s?", q,
                  config_quote(fixed, qf, sizeof(qf)));
        return -EINVAL;
    }
    *out = net;
    return 0;
}

char *cidr_format(const struct cidr *cidr, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(cidr->version == 4 ? AF_INET : AF_INET6, cidr->addr, a, sizeof(a)) == NULL)
        snprintf(a, sizeof(a), "?");
    snprintf(buf, len, "%s/%u", a, (unsigned)cidr->prefix_len);
    return buf;
}

bool cidr_contains(const struct cidr *cidr, uint8_t version, const uint8_t *addr)
{
    if (version != cidr->version)
        return false;
    unsigned full = cidr->prefix_len / 8u, rest = cidr->prefix_len % 8u;
    if (memcmp(cidr->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (cidr->addr[full] & mask) == (addr[full] & mask);
}

bool cidr_list_contains(const struct cidr_list *l, uint8_t version, const uint8_t *addr)
{
    for (size_t i = 0; i < l->n; i++)
        if (cidr_contains(&l->items[i], version, addr))
            return true;
    return false;
}

int cidr_list_longest(const struct cidr_list *l, uint8_t version, const uint8_t *addr)
{
    int best = -1;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].prefix_len > best && cidr_contains(&l->items[i], version, addr))
            best = l->items[i].prefix_len;
    return best;
}
