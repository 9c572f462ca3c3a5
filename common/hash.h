/* hash.h - the hashing and seeding primitives every ddosd table shares.
 *
 * Owns: the 64-bit finaliser (murmur3's fmix64), the keyed hash of an IP address the per-IP
 * tables use (rate rules, verdict table, verdict store, Redis backlog), the splitmix64 generator
 * and the random seeding of keyed hashes. The flow key hash (features/flow_table.c) is built on
 * dd_hash_mix64 too.
 *
 * DESIGN: addresses are chosen by whoever sends the packets, so every table keyed by them hashes
 * with a seed drawn at start-up (dd_hash_seed): without it the bucket of an address cannot be
 * predicted and a flood cannot be aimed at one chain. This is not a MAC; it only has to cost an
 * attacker more than it costs us. Replays stay deterministic because nothing that is written out
 * depends on where an entry sits in its table, only on what it holds.
 *
 * Header only: these run once or twice per packet, so they are static inline. Pure functions,
 * any thread; dd_hash_seed makes one system call. */
#ifndef DD_COMMON_HASH_H
#define DD_COMMON_HASH_H

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"

/* 2^64 / golden ratio: the increment of splitmix64 and a common odd constant. */
#define DD_HASH_GOLDEN 0x9e3779b97f4a7c15ull

/* murmur3's 64-bit finaliser: every input bit flips each output bit with probability ~1/2. A
 * bijection, so distinct inputs never collide. */
static inline uint64_t dd_hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Keyed hash of an address (16 bytes, IPv4 in the first 4 and the rest zero, as struct verdict
 * and struct pkt_info hold them) and its version: the two 64-bit lanes folded through the
 * finaliser with the seed. */
static inline uint64_t dd_hash_addr(uint64_t seed, const uint8_t addr[16], uint8_t version)
{
    uint64_t a, b;
    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    uint64_t h = dd_hash_mix64(seed ^ a ^ ((uint64_t)version << 56));
    return dd_hash_mix64(h ^ b ^ (seed >> 7));
}

/* splitmix64 (Steele, Lea, Flood): advances *state and returns the next of a 2^64-periodic
 * sequence. For sampling that must be reproducible from a fixed state. */
static inline uint64_t dd_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += DD_HASH_GOLDEN);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random 64-bit seed for a keyed hash: getrandom(2), or, when the kernel cannot give one (a
 * kernel without the call, a seccomp filter, a signal), the finalised clock and the address of the
 * object it seeds (salt), which differ between processes and tables. */
static inline uint64_t dd_hash_seed(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
        return seed;
    return dd_hash_mix64(dd_realtime_us() * DD_HASH_GOLDEN ^ (uint64_t)(uintptr_t)salt);
}

#endif
