/* verdict_gen.h - generated verdicts for the tests of the verdict wire format (test_verdict_json,
 * test_api): compiled into each test that uses it.
 *
 * Deterministic (a xorshift state the caller owns), covering what a format must survive: IPv4
 * and IPv6 addresses (never IPv4-mapped, which the API reads as IPv4), both roles, every level,
 * reason sets from none to every bit, empty, plain, full and escape-heavy strings with
 * multi-byte UTF-8, rates from 0 to 1e300, times from 0 to far in the future, spoofed example
 * slots used, unused and garbage. */
#ifndef DD_TESTS_VERDICT_GEN_H
#define DD_TESTS_VERDICT_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "verdicts/verdict.h"

/* The next pseudo-random number of *state (never 0). */
uint64_t verdict_gen_next(uint64_t *state);

/* Fills *v. With awkward, also what no old jansson writer could hold: string fields that are
 * unterminated or not UTF-8, and rates or scores that are NaN or infinite. */
void verdict_gen(struct verdict *v, uint64_t *state, bool awkward);

#endif
