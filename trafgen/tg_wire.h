/* tg_wire.h - the generator's primitives that other programs reuse (bench/'s ddos-bench-gen):
 * the seeded PRNG and its distributions, big-endian stores, the Internet checksum and the pcap
 * file and record headers. Header-only (static inline), no state, callable from any thread on
 * its own struct tg_rng. trafgen's output depends on every line here: a change is a change of
 * every generated capture. */
#ifndef DD_TRAFGEN_TG_WIRE_H
#define DD_TRAFGEN_TG_WIRE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/hash.h"

/* ---- PRNG: xoshiro256** seeded through splitmix64 (common/hash.h) --------------------------- */

struct tg_rng {
    uint64_t s[4];
};

static inline void tg_rng_seed(struct tg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = dd_splitmix64(&seed);
}

static inline uint64_t tg_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t tg_rng_next(struct tg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = tg_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = tg_rotl(s[3], 45);
    return result;
}

static inline uint32_t tg_rng_u32(struct tg_rng *r)
{
    return (uint32_t)(tg_rng_next(r) >> 32);
}

/* Uniform in [0, n); the multiply-shift bias (< n / 2^32) does not matter here. */
static inline uint32_t tg_rng_below(struct tg_rng *r, uint32_t n)
{
    return (uint32_t)(((uint64_t)tg_rng_u32(r) * n) >> 32);
}

/* Uniform integer in [lo, hi]. */
static inline uint32_t tg_rng_range(struct tg_rng *r, uint32_t lo, uint32_t hi)
{
    return lo + tg_rng_below(r, hi - lo + 1);
}

/* Uniform in [0, 1). */
static inline double tg_rng_unit(struct tg_rng *r)
{
    return (double)(tg_rng_next(r) >> 11) * 0x1.0p-53;
}

static inline bool tg_rng_chance(struct tg_rng *r, double p)
{
    return tg_rng_unit(r) < p;
}

static inline double tg_rng_uniform(struct tg_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * tg_rng_unit(r);
}

/* Log-uniform in [lo, hi]: the way every "wide range" parameter is drawn, so that 1k and 100k
 * pps are equally likely orders of magnitude. */
static inline double tg_rng_logu(struct tg_rng *r, double lo, double hi)
{
    return lo * exp(log(hi / lo) * tg_rng_unit(r));
}

static inline double tg_rng_exp(struct tg_rng *r, double mean)
{
    return -mean * log1p(-tg_rng_unit(r));
}

static inline double tg_rng_normal(struct tg_rng *r)
{
    double u1 = 1.0 - tg_rng_unit(r);
    double u2 = tg_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static inline double tg_rng_lognormal(struct tg_rng *r, double median, double sigma)
{
    return median * exp(sigma * tg_rng_normal(r));
}

/* Pareto with scale xmin and shape alpha, truncated at cap: heavy-tailed sizes and gaps. */
static inline double tg_rng_pareto(struct tg_rng *r, double xmin, double alpha, double cap)
{
    double x = xmin / pow(1.0 - tg_rng_unit(r), 1.0 / alpha);
    return x < cap ? x : cap;
}

static inline double tg_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- byte helpers ------------------------------------------------------------------------- */

static inline void tg_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void tg_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- checksums ------------------------------------------------------------------------------ */

/* Ones' complement sum of n bytes (n even except for the last call) in host order; RFC 1071's
 * byte-order independence lets the folded result be stored with memcpy. */
static inline uint64_t tg_csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        sum += (w & 0xffffffffu) + (w >> 32);
        p += 8;
        n -= 8;
    }
    while (n >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        sum += w;
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t last[2] = {p[0], 0};
        uint16_t w;
        memcpy(&w, last, 2);
        sum += w;
    }
    return sum;
}

static inline uint16_t tg_csum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ---- pcap (microsecond timestamps, Ethernet) ------------------------------------------------ */

/* Writes the 24-byte pcap file header (host byte order, as libpcap writes it). Returns 24. */
static inline size_t tg_pcap_file_header(uint8_t *out, uint32_t snaplen)
{
    uint32_t hdr[6] = {0xa1b2c3d4u, 2u | 4u << 16, 0, 0, snaplen, 1 /* DLT_EN10MB */};
    memcpy(out, hdr, sizeof hdr);
    return sizeof hdr;
}

/* Writes the 16-byte record header of a frame sent at t_ns (ns since the epoch, written in us)
 * with caplen bytes stored of wire. */
static inline void tg_pcap_record_header(uint8_t *rec, uint64_t t_ns, uint32_t caplen,
                                         uint32_t wire)
{
    uint32_t hdr[4] = {
        (uint32_t)(t_ns / 1000000000ULL),
        (uint32_t)(t_ns % 1000000000ULL / 1000ULL),
        caplen,
        wire,
    };
    memcpy(rec, hdr, sizeof hdr); /* host order, like the file header's magic */
}

#endif
