/* verdict_gen.c - generated verdicts for the format tests (tests/unit/verdict_gen.h). */
#include "verdict_gen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"

uint64_t verdict_gen_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *state = x;
}

static void gen_text(char *f, size_t size, uint64_t *st, bool awkward)
{
    static const char *const pieces[] = {"syn_flood",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\x01",
                                         "\x1f",
                                         "/",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         " ",
                                         "edge-1",
                                         "\t"};
    memset(f, 0, size);
    switch (verdict_gen_next(st) % (awkward ? 6 : 4)) {
    case 0:
        return; /* empty */
    case 1:
        snprintf(f, size, "%s",
                 verdict_gen_next(st) % 2 ? "udp_amplification" : "3f2a9c0d1e4b5a67");
        return;
    case 2:
        memset(f, 'x', size - 1); /* full */
        return;
    case 3:
        for (size_t n = 0;;) {
            const char *p = pieces[verdict_gen_next(st) % DD_ARRAY_LEN(pieces)];
            if (n + strlen(p) > size - 1)
                return;
            memcpy(f + n, p, strlen(p));
            n += strlen(p);
        }
    case 4:
        memset(f, 'u', size); /* unterminated: the first size - 1 bytes count */
        return;
    default:
        snprintf(f, size, "ab\xe2\x82"); /* cut short: not UTF-8 */
    }
}

static double gen_real(uint64_t *st, bool awkward)
{
    static const double fixed[] = {0.0,   1.0,   0.75, 2.0 / 3.0, 91220.0, 1e20,
                                   1e-05, 1e300, -0.0, NAN,       INFINITY};
    if (verdict_gen_next(st) % 2)
        return fixed[verdict_gen_next(st) % (DD_ARRAY_LEN(fixed) - (awkward ? 0 : 2))];
    return (double)(verdict_gen_next(st) % 100000000u) /
           (double)(1u + verdict_gen_next(st) % 1000u);
}

void verdict_gen(struct verdict *v, uint64_t *st, bool awkward)
{
    memset(v, 0, sizeof(*v));
    v->ip_version = verdict_gen_next(st) % 2 ? 4 : 6;
    uint64_t a = verdict_gen_next(st), b = verdict_gen_next(st);
    memcpy(v->ip, &a, 8);
    memcpy(v->ip + 8, &b, 8);
    if (v->ip_version == 4)
        memset(v->ip + 4, 0, 12);
    else
        v->ip[0] = 0x20; /* never ::ffff:a.b.c.d */
    v->role = (uint8_t)(verdict_gen_next(st) % 2);
    v->level = (uint8_t)(verdict_gen_next(st) % 4);
    switch (verdict_gen_next(st) % 4) {
    case 0:
        v->reasons = 0;
        break;
    case 1:
        v->reasons = 0xffffffffu; /* every bit, unknown ones too */
        break;
    default:
        v->reasons = (uint32_t)verdict_gen_next(st) & 0xfffu;
    }
    v->score = verdict_gen_next(st) % 2 ? (double)(verdict_gen_next(st) % 1001u) / 1000.0
                                        : gen_real(st, awkward);
    gen_text(v->attack_type, sizeof(v->attack_type), st, awkward);
    v->flows_total = verdict_gen_next(st) >> (1 + verdict_gen_next(st) % 63);
    v->flows_attack = v->flows_total / 2;
    v->pps = gen_real(st, awkward);
    v->bps = gen_real(st, awkward);
    if (verdict_gen_next(st) % 6) {
        v->first_seen_us = 1700000000000000ull + verdict_gen_next(st) % 100000000000000ull;
        v->last_seen_us = v->first_seen_us + verdict_gen_next(st) % 10000000u;
    }
    gen_text(v->sensor, sizeof(v->sensor), st, awkward);
    gen_text(v->model_version, sizeof(v->model_version), st, awkward);
    if (v->role == VERDICT_ROLE_VICTIM) {
        v->spoofed_sources = (uint32_t)verdict_gen_next(st);
        for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
            static const uint8_t vers[] = {0, 4, 6, 5};
            v->spoofed_example_ver[i] = vers[verdict_gen_next(st) % 4];
            uint64_t e1 = verdict_gen_next(st), e2 = verdict_gen_next(st);
            memcpy(v->spoofed_example[i], &e1, 8);
            memcpy(v->spoofed_example[i] + 8, &e2, 8);
        }
    }
}
