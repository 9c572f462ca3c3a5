/* tg_attack.c - attack instances: what each one draws.
 *
 * Owns the planning of attack instances: the mix drawn from the seed, address blocks,
 * start/end, every parameter drawn from wide ranges (timing model, sources, victims, ports,
 * header personality, victim answers) for the stateless floods, amplification, reflection and
 * scans, and the packet budget that scales a drawn rate to --max-attack-packets. The other
 * scenarios plan in their own files (tg_icmp_frag.c, tg_bots.c) with the helpers here; the
 * packets are sent by the flood actor (tg_flood.c) and the bots (tg_bots.c); tg_provenance.c
 * writes what was drawn. Runs once, before the actor pool is sized.
 *
 * DESIGN
 * Every parameter is drawn once per instance, log-uniformly for rates and counts, so ten seeds
 * give ten different versions of each attack, and only from the one PRNG stream, in a fixed
 * order, so a seed always gives the same plan. The budget scales rates, never durations: an
 * attack keeps its shape (timing, sources, victims) at any budget.
 *
 * Addressing: direct attackers (spoofed or bots) use 198.18.0.0/16 split into sixteen /20s,
 * reflectors 198.19.0.0/16 split the same way, scanners 198.51.100.0/24 split into /28s, and
 * IPv6 attackers 2001:db8:f0XX::/48 with XX the instance number. */
#include <errno.h>
#include <stdlib.h>

#include "trafgen/tg_internal.h"

const char *const tg_amp_names[TG_AMP_COUNT] = {
    "dns",  "ntp",  "ssdp",     "memcached",  "cldap", "snmp", "chargen", "ws_discovery",
    "coap", "qotd", "ubiquiti", "dhdiscover", "arms",  "mdns", "netbios",
};

const uint16_t tg_top_ports[TG_TOP_PORTS] = {
    80,    23,    443,   21,   22,   25,   3389, 110,  445,   139,  143,  53,   135,   3306, 8080,
    1723,  111,   995,   993,  5900, 1025, 587,  8888, 199,   1720, 465,  548,  113,   81,   6001,
    10000, 514,   5060,  179,  1026, 2000, 8443, 8000, 32768, 554,  26,   1433, 49152, 2001, 515,
    8008,  49154, 1027,  5666, 646,  5000, 5631, 631,  49153, 8081, 2049, 88,   79,    5800, 106,
    2121,  1110,  49155, 6000, 513,  990,  5357, 427,  49156, 543,  544,  5101, 144,   7,    389,
};

/* ---- helpers -------------------------------------------------------------------------------- */

void tg_inst_addr4(const struct tg_inst *in, uint32_t idx, uint8_t out[16])
{
    uint32_t size = 1u << (32 - in->v4prefix);
    uint32_t host = 1 + idx % (size - 2); /* skip the network and broadcast addresses */
    uint32_t base = (uint32_t)in->v4net[0] << 24 | (uint32_t)in->v4net[1] << 16 |
                    (uint32_t)in->v4net[2] << 8 | in->v4net[3];
    tg_put32(out, base + host);
}

void tg_inst_addr6(const struct tg_inst *in, uint32_t idx, uint8_t out[16])
{
    memcpy(out, in->v6net, 16);
    uint64_t x = idx * 0x9e3779b97f4a7c15ULL + in->index;
    tg_put32(out + 8, (uint32_t)(x >> 32));
    tg_put32(out + 12, (uint32_t)x ^ idx);
}

/* ---- planning ------------------------------------------------------------------------------- */

void tg_plan_timing(struct tg *g, struct tg_inst *in, double lo, double hi)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const double cdf[TG_TIMING_COUNT] = {0.30, 0.55, 0.75, 0.90, 1.0};
    double u = tg_rng_unit(r);
    a->timing = 0;
    while (a->timing < TG_TIMING_COUNT - 1 && u > cdf[a->timing])
        a->timing++;
    a->rate_pps = tg_rng_logu(r, lo, hi);
    a->jitter = tg_rng_uniform(r, 0, 0.9);
    uint64_t dur = in->end_ns - in->start_ns;
    if (a->timing == TG_TIMING_ONOFF) {
        a->on_ns = (uint64_t)(tg_rng_logu(r, 0.2, 8) * 1e9);
        a->off_ns = (uint64_t)(tg_rng_logu(r, 0.1, 5) * 1e9);
    } else if (a->timing == TG_TIMING_PULSE) {
        a->on_ns = (uint64_t)(tg_rng_logu(r, 0.02, 0.5) * 1e9);
        a->off_ns = (uint64_t)(tg_rng_logu(r, 0.5, 6) * 1e9);
    } else if (a->timing == TG_TIMING_RAMP) {
        a->ramp_ns = (uint64_t)(tg_rng_uniform(r, 0.1, 0.6) * (double)dur);
    }
}

/* The share of the attack's time it is sending at full rate. */
static double tg_timing_duty(const struct tg_inst *in)
{
    const struct tg_attack *a = &in->a;
    double dur = (double)(in->end_ns - in->start_ns);
    switch (a->timing) {
    case TG_TIMING_ONOFF:
    case TG_TIMING_PULSE:
        return (double)a->on_ns / (double)(a->on_ns + a->off_ns);
    case TG_TIMING_RAMP:
        return 1.0 - (double)a->ramp_ns / dur / 2.0;
    default:
        return 1.0;
    }
}

void tg_plan_sources(struct tg *g, struct tg_attack *a, double spoof_p, uint32_t few_hi)
{
    struct tg_rng *r = &g->rng;
    if (tg_rng_chance(r, spoof_p)) {
        a->spoofed = true;
        a->nsrc = (uint32_t)tg_rng_logu(r, 256, 4094);
        static const uint8_t modes[] = {TG_SRC_RANDOM, TG_SRC_RANDOM, TG_SRC_STICKY,
                                        TG_SRC_ROUND_ROBIN, TG_SRC_ZIPF};
        a->srcmode = modes[tg_rng_below(r, 5)];
    } else {
        a->nsrc = tg_rng_range(r, 1, few_hi);
        a->srcmode = tg_rng_chance(r, 0.5) ? TG_SRC_RANDOM : TG_SRC_ROUND_ROBIN;
    }
    a->sticky = tg_rng_range(r, 2, 8);
    a->zipf_skew = tg_rng_uniform(r, 1.0, 3.0);
}

void tg_plan_header(struct tg *g, struct tg_attack *a)
{
    struct tg_rng *r = &g->rng;
    static const uint8_t init[] = {64, 128, 255};
    double u = tg_rng_unit(r);
    uint8_t base = init[tg_rng_below(r, 3)];
    a->ttlmode = u < 0.5 ? TG_TTL_PER_SOURCE : (u < 0.8 ? TG_TTL_RANDOM : TG_TTL_FIXED);
    if (a->ttlmode == TG_TTL_RANDOM && tg_rng_chance(r, 0.5)) {
        a->ttl_lo = 1;
        a->ttl_hi = 255;
    } else {
        a->ttl_hi = (uint8_t)(base - tg_rng_range(r, 2, 12));
        a->ttl_lo = (uint8_t)(a->ttl_hi - tg_rng_range(r, 0, 20));
    }
    u = tg_rng_unit(r);
    a->ipidmode = u < 0.55
                      ? TG_IPID_RANDOM
                      : (u < 0.8 ? TG_IPID_INCREMENT : (u < 0.9 ? TG_IPID_ZERO : TG_IPID_FIXED));
    a->ipid_fixed = (uint16_t)(tg_rng_chance(r, 0.5) ? 54321 : tg_rng_u32(r));
    u = tg_rng_unit(r);
    a->sportmode = u < 0.6 ? TG_PORT_RANDOM : (u < 0.8 ? TG_PORT_FIXED : TG_PORT_INCREMENT);
    a->sport = (uint16_t)tg_rng_range(r, 1024, 65535);
    a->tos = tg_rng_chance(r, 0.85) ? 0 : (uint8_t)(tg_rng_below(r, 64) << 2);
}

void tg_plan_victims(struct tg *g, struct tg_attack *a, int role, double carpet_p)
{
    struct tg_rng *r = &g->rng;
    if (tg_rng_chance(r, carpet_p)) {
        static const uint8_t nets[] = {1, 3, 5, 10, 40, 77, 128, 200};
        a->carpet = true;
        a->carpet_net[0] = 10;
        a->carpet_net[1] = 20;
        a->carpet_net[2] = nets[tg_rng_below(r, 8)];
        return;
    }
    a->nvictims = tg_rng_chance(r, 0.75) ? 1 : tg_rng_range(r, 2, 4);
    for (uint32_t i = 0; i < a->nvictims; i++) {
        if (role >= 0 && g->n_role[role] > 0)
            a->victim[i] = g->by_role[role][tg_rng_below(r, g->n_role[role])];
        else
            a->victim[i] = (uint16_t)tg_rng_below(r, g->nservers);
    }
}

static void tg_plan_dport(struct tg *g, struct tg_attack *a, const uint16_t *fixed, uint32_t n,
                          double random_p)
{
    struct tg_rng *r = &g->rng;
    double u = tg_rng_unit(r);
    if (u < random_p) {
        a->dportmode = TG_PORT_RANDOM;
    } else if (u < random_p + 0.12) {
        a->dportmode = TG_PORT_SET;
        a->ndports = (uint8_t)tg_rng_range(r, 2, 8);
        for (uint32_t i = 0; i < a->ndports; i++)
            a->dports[i] = tg_rng_chance(r, 0.5) ? fixed[tg_rng_below(r, n)]
                                                 : (uint16_t)tg_rng_range(r, 1, 65535);
    } else if (u < random_p + 0.2) {
        a->dportmode = TG_PORT_INCREMENT;
    } else {
        a->dportmode = TG_PORT_FIXED;
    }
    a->dport =
        tg_rng_chance(r, 0.8) ? fixed[tg_rng_below(r, n)] : (uint16_t)tg_rng_range(r, 1, 65535);
}

static void tg_plan_answers(struct tg *g, struct tg_attack *a, double p, double lo, double hi,
                            uint32_t limit_lo, uint32_t limit_hi)
{
    struct tg_rng *r = &g->rng;
    /* drawn (and scheduled) in --one-way runs too, where begin() drops them: the draws stay
     * the same, so one-way is exactly the inbound half of the two-way capture */
    if (!tg_rng_chance(r, p))
        return;
    a->answer_share = tg_rng_uniform(r, lo, hi);
    a->reply_delay_us = (uint32_t)tg_rng_logu(r, 15, 3000);
    a->answer_limit_pps = limit_hi ? (uint32_t)tg_rng_logu(r, limit_lo, limit_hi) : 0;
}

static void tg_plan_syn(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const uint16_t ports[] = {80, 443, 80, 443, 22, 25, 53, 3389, 8080, 8443, 3306, 5060};
    static const uint16_t wins[] = {512, 1024, 2048, 5840, 8192, 14600, 29200, 64240, 65535};
    tg_plan_timing(g, in, 1000, 200000);
    tg_plan_sources(g, a, 0.6, 20);
    tg_plan_header(g, a);
    tg_plan_victims(g, a, TG_ROLE_WEB, 0.1);
    tg_plan_dport(g, a, ports, 12, 0.1);
    double u = tg_rng_unit(r);
    a->synopt = u < 0.35   ? TG_SYNOPT_NONE
                : u < 0.55 ? TG_SYNOPT_MSS
                : u < 0.75 ? TG_SYNOPT_LINUX
                : u < 0.9  ? TG_SYNOPT_WINDOWS
                           : TG_SYNOPT_MACOS;
    a->opt_mixed = tg_rng_chance(r, 0.12);
    a->ecn = tg_rng_chance(r, 0.2);
    a->win = tg_rng_chance(r, 0.7) ? wins[tg_rng_below(r, 9)] : 0;
    a->mss = tg_rng_chance(r, 0.7) ? 1460 : 0;
    a->wscale = (uint8_t)tg_rng_range(r, 0, 14);
    if (tg_rng_chance(r, 0.12)) { /* SYNs carrying data */
        a->psize_lo = tg_rng_range(r, 1, 500);
        a->psize_hi = a->psize_lo + tg_rng_range(r, 0, 500);
    }
    a->v6_share = tg_rng_chance(r, 0.1) ? tg_rng_uniform(r, 0.2, 1.0) : 0;
    tg_plan_answers(g, a, 0.85, 0.05, 1.0, 0, 0);
    if (tg_rng_chance(r, 0.15)) { /* the plain tool: one fixed source, random ports, bare SYNs */
        a->plain = true;
        a->spoofed = false;
        a->nsrc = 1;
        a->srcmode = TG_SRC_RANDOM;
        a->sportmode = TG_PORT_RANDOM;
        a->ttlmode = TG_TTL_FIXED;
        a->synopt = TG_SYNOPT_NONE;
        a->opt_mixed = a->ecn = false;
        a->psize_lo = a->psize_hi = 0;
        a->win = wins[tg_rng_below(r, 9)];
        a->v6_share = 0;
        a->carpet = false;
        if (a->nvictims == 0) {
            a->nvictims = 1;
            a->victim[0] = g->n_role[TG_ROLE_WEB] > 0 ? g->by_role[TG_ROLE_WEB][0] : 0;
        }
    }
}

static void tg_plan_tcp(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const uint8_t combos[] = {
        TG_TCP_ACK,
        TG_TCP_RST,
        TG_TCP_RST | TG_TCP_ACK,
        TG_TCP_FIN,
        TG_TCP_FIN | TG_TCP_ACK,
        TG_TCP_PSH | TG_TCP_ACK,
        TG_TCP_FIN | TG_TCP_PSH | TG_TCP_URG, /* XMAS */
        0,                                    /* NULL */
        TG_TCP_SYN | TG_TCP_FIN,
        TG_TCP_URG | TG_TCP_ACK | TG_TCP_PSH,
        0xff,
        TG_TCP_SYN | TG_TCP_RST,
    };
    static const uint16_t ports[] = {80, 443, 22, 8000, 8080, 3389, 25, 8443};
    tg_plan_timing(g, in, 1000, 200000);
    tg_plan_sources(g, a, 0.5, 50);
    tg_plan_header(g, a);
    tg_plan_victims(g, a, -1, 0.1);
    tg_plan_dport(g, a, ports, 8, 0.3);
    a->random_flags = tg_rng_chance(r, 0.08);
    a->n_tcp_flags = (uint8_t)(tg_rng_chance(r, 0.7) ? 1 : tg_rng_range(r, 2, 4));
    for (uint32_t i = 0; i < a->n_tcp_flags; i++)
        a->tcp_flags[i] = combos[tg_rng_below(r, 12)];
    bool push = false;
    for (uint32_t i = 0; i < a->n_tcp_flags; i++)
        push |= (a->tcp_flags[i] & TG_TCP_PSH) != 0;
    if (push || tg_rng_chance(r, 0.2)) {
        a->psize_lo = tg_rng_range(r, 1, 1400);
        a->psize_hi = tg_rng_chance(r, 0.5) ? a->psize_lo : tg_rng_range(r, a->psize_lo, 1400);
    }
    a->win = tg_rng_chance(r, 0.6) ? (uint16_t)tg_rng_range(r, 0, 65535) : 0;
    a->v6_share = tg_rng_chance(r, 0.1) ? tg_rng_uniform(r, 0.2, 1.0) : 0;
    tg_plan_answers(g, a, 0.7, 0.05, 1.0, 10, 100000);
}

static void tg_plan_udp(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const uint16_t ports[] = {53,   80,   123,   443,  1900, 27015, 3074, 19132,
                                     9987, 7777, 25565, 5060, 4500, 0,     161,  389};
    tg_plan_timing(g, in, 1000, 200000);
    tg_plan_sources(g, a, 0.5, 200);
    tg_plan_header(g, a);
    tg_plan_victims(g, a, -1, 0.2);
    tg_plan_dport(g, a, ports, 16, 0.35);
    if (tg_rng_chance(r, 0.5)) {
        a->psize_lo = a->psize_hi = tg_rng_range(r, 0, 1400);
    } else {
        a->psize_lo = tg_rng_range(r, 0, 1000);
        a->psize_hi = tg_rng_range(r, a->psize_lo, 1400);
    }
    a->v6_share = tg_rng_chance(r, 0.15) ? tg_rng_uniform(r, 0.2, 1.0) : 0;
    tg_plan_answers(g, a, 0.6, 0.05, 1.0, 1, 2000);
}

static void tg_plan_icmp(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const uint16_t sizes[] = {8, 32, 56, 64, 100, 512, 1000, 1200, 1400};
    tg_plan_timing(g, in, 1000, 200000);
    tg_plan_sources(g, a, 0.5, 30);
    tg_plan_header(g, a);
    tg_plan_victims(g, a, -1, 0.1);
    if (tg_rng_chance(r, 0.5)) {
        a->psize_lo = a->psize_hi = sizes[tg_rng_below(r, 9)];
    } else {
        a->psize_lo = tg_rng_range(r, 8, 1000);
        a->psize_hi = tg_rng_range(r, a->psize_lo, 1400);
    }
    a->icmp_other = tg_rng_chance(r, 0.25);
    a->other_share = a->icmp_other ? tg_rng_uniform(r, 0.1, 0.6) : 0;
    a->v6_share = tg_rng_chance(r, 0.3) ? tg_rng_uniform(r, 0.2, 1.0) : 0;
    tg_plan_answers(g, a, 0.8, 0.2, 1.0, 0, 0);
}

static void tg_plan_amp(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const uint16_t ports[] = {80, 443, 53, 123, 3074, 27015};
    tg_plan_timing(g, in, 1000, 150000);
    tg_plan_header(g, a);
    a->nsrc = (uint32_t)tg_rng_logu(r, 100, 4000);
    a->srcmode = TG_SRC_ZIPF;
    a->zipf_skew = tg_rng_uniform(r, 1.0, 3.0);
    a->ttlmode = TG_TTL_PER_SOURCE;
    a->ttl_lo = 30;
    a->ttl_hi = 250;
    a->ipidmode = TG_IPID_RANDOM;
    tg_plan_victims(g, a, -1, 0.15);
    tg_plan_dport(g, a, ports, 6, 0.5);
    a->n_amp = (uint8_t)(tg_rng_chance(r, 0.7) ? 1 : tg_rng_range(r, 2, 3));
    for (uint32_t i = 0; i < a->n_amp; i++) {
        /* the big classic vectors are the common ones */
        a->amp[i] =
            (uint8_t)(tg_rng_chance(r, 0.6) ? tg_rng_below(r, 7) : tg_rng_below(r, TG_AMP_COUNT));
    }
    if (tg_rng_chance(r, 0.2)) { /* DNS alone: ANY/TXT answers, large ones fragmented */
        a->n_amp = 1;
        a->amp[0] = TG_AMP_DNS;
    }
    tg_plan_answers(g, a, 0.3, 0.01, 0.3, 1, 1000);
}

static void tg_plan_refl(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    static const uint16_t rports[] = {80,  443, 22,  21,   25,   53,   110, 143,
                                      179, 993, 995, 3389, 8080, 3306, 23,  5060};
    static const uint16_t ports[] = {80, 443, 22, 8080, 3389};
    tg_plan_timing(g, in, 1000, 100000);
    a->nsrc = (uint32_t)tg_rng_logu(r, 100, 4000);
    a->srcmode = TG_SRC_ZIPF;
    a->zipf_skew = tg_rng_uniform(r, 1.0, 3.0);
    a->ttlmode = TG_TTL_PER_SOURCE;
    a->ttl_lo = 30;
    a->ttl_hi = 250;
    a->ipidmode = TG_IPID_RANDOM;
    tg_plan_victims(g, a, -1, 0.1);
    tg_plan_dport(g, a, ports, 5, 0.6);
    a->n_refl_ports = (uint8_t)tg_rng_range(r, 1, 3);
    for (uint32_t i = 0; i < a->n_refl_ports; i++)
        a->refl_ports[i] = rports[tg_rng_below(r, 16)];
    a->rst_share = tg_rng_chance(r, 0.5) ? tg_rng_uniform(r, 0, 0.3) : 0;
    tg_plan_answers(g, a, 0.7, 0.05, 1.0, 10, 100000);
}

static void tg_plan_scan(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    tg_plan_timing(g, in, 50, 20000);
    if (a->timing >= TG_TIMING_ONOFF && tg_rng_chance(r, 0.5))
        a->timing = TG_TIMING_CBR;
    double u = tg_rng_unit(r);
    a->scan_kind = u < 0.5 ? TG_SCAN_SYN
                           : (u < 0.75 ? TG_SCAN_CONNECT : (u < 0.9 ? TG_SCAN_UDP : TG_SCAN_FIN));
    a->nsrc = tg_rng_chance(r, 0.6) ? 1 : tg_rng_range(r, 2, 4);
    a->srcmode = TG_SRC_ROUND_ROBIN;
    a->ttlmode = TG_TTL_PER_SOURCE;
    a->ttl_hi = (uint8_t)(tg_rng_chance(r, 0.7) ? 64 - tg_rng_range(r, 3, 20)
                                                : 128 - tg_rng_range(r, 3, 20));
    a->ttl_lo = a->ttl_hi;
    if (tg_rng_chance(r, 0.4)) { /* nmap randomises TTLs a little */
        a->ttl_lo = (uint8_t)tg_rng_range(r, 37, 50);
        a->ttl_hi = (uint8_t)tg_rng_range(r, 51, 64);
        a->ttlmode = TG_TTL_RANDOM;
    }
    a->ipidmode = TG_IPID_RANDOM;
    a->sportmode = a->scan_kind == TG_SCAN_CONNECT
                       ? TG_PORT_RANDOM
                       : (tg_rng_chance(r, 0.6) ? TG_PORT_FIXED : TG_PORT_RANDOM);
    a->sport = (uint16_t)tg_rng_range(r, 1024, 65535);
    static const uint16_t wins[] = {1024, 2048, 3072, 4096, 65535, 29200};
    a->win = wins[tg_rng_below(r, 6)];
    a->nvictims = tg_rng_chance(r, 0.6) ? 1 : tg_rng_range(r, 2, 8);
    for (uint32_t i = 0; i < a->nvictims; i++)
        a->victim[i] = (uint16_t)tg_rng_below(r, g->nservers);
    u = tg_rng_unit(r);
    if (u < 0.3) {
        a->top_ports = true;
        a->port_lo = 0;
        a->port_count = TG_TOP_PORTS;
    } else if (u < 0.6) {
        a->port_lo = 1;
        a->port_count = 1024;
    } else if (u < 0.85) {
        a->port_lo = 1;
        a->port_count = 65535;
    } else {
        a->port_lo = tg_rng_range(r, 1, 60000);
        a->port_count = tg_rng_range(r, 100, 65536 - a->port_lo);
    }
    a->port_hi = a->port_lo + a->port_count - 1;
    a->perm_a = 1;
    if (tg_rng_chance(r, 0.7)) { /* random order: i -> (a*i + b) mod n with gcd(a, n) = 1 */
        for (;;) {
            uint32_t c = tg_rng_range(r, 1, a->port_count), x = c, y = a->port_count;
            while (y) {
                uint32_t t = x % y;
                x = y;
                y = t;
            }
            if (x == 1) {
                a->perm_a = c;
                break;
            }
        }
        a->perm_b = tg_rng_below(r, a->port_count);
    }
    a->tcp_flags[0] =
        a->scan_kind == TG_SCAN_FIN
            ? (uint8_t[]){TG_TCP_FIN, TG_TCP_FIN | TG_TCP_PSH | TG_TCP_URG, 0}[tg_rng_below(r, 3)]
            : TG_TCP_SYN;
    tg_plan_answers(g, a, 0.9, 0.95, 1.0, 0, 0);
    a->answer_limit_pps = a->scan_kind == TG_SCAN_UDP ? (uint32_t)tg_rng_logu(r, 1, 1000) : 0;
}

int tg_attack_plan(struct tg *g)
{
    const struct trafgen_config *cfg = g->cfg;
    struct tg_rng *r = &g->rng;
    uint8_t list[TRAFGEN_MAX_INSTANCES];
    uint32_t n = cfg->n_instances;
    if (cfg->mix) {
        n = tg_rng_range(r, 1, 4);
        for (uint32_t i = 0; i < n; i++)
            list[i] = (uint8_t)tg_rng_range(r, TG_SC_SYN_FLOOD, TG_SC_COUNT - 1);
    } else {
        memcpy(list, cfg->instances, n);
    }
    uint32_t direct = 0, refl = 0, scan = 0;
    double dur_ns = (double)(g->end_ns - g->start_ns);
    for (uint32_t i = 0; i < n; i++) {
        struct tg_inst *in = &g->inst[i];
        memset(in, 0, sizeof *in);
        in->scenario = list[i];
        in->index = (uint8_t)i;
        if (in->scenario == TG_SC_UDP_AMPLIFICATION || in->scenario == TG_SC_TCP_REFLECTION) {
            uint8_t net[4] = {198, 19, (uint8_t)(refl++ * 16), 0};
            memcpy(in->v4net, net, 4);
            in->v4prefix = 20;
        } else if (in->scenario == TG_SC_PORTSCAN) {
            uint8_t net[4] = {198, 51, 100, (uint8_t)(scan++ * 16)};
            memcpy(in->v4net, net, 4);
            in->v4prefix = 28;
        } else {
            uint8_t net[4] = {198, 18, (uint8_t)(direct++ * 16), 0};
            memcpy(in->v4net, net, 4);
            in->v4prefix = 20;
        }
        static const uint8_t v6[6] = {0x20, 0x01, 0x0d, 0xb8, 0xf0, 0};
        memcpy(in->v6net, v6, 6);
        in->v6net[5] = (uint8_t)i;
        double share = tg_rng_uniform(r, 0.2, 0.9);
        double dur = share * dur_ns;
        double start = tg_rng_uniform(r, 0, dur_ns - dur);
        in->start_ns = g->start_ns + (uint64_t)start;
        in->end_ns = in->start_ns + (uint64_t)dur;
        switch (in->scenario) {
        case TG_SC_SYN_FLOOD:
            tg_plan_syn(g, in);
            break;
        case TG_SC_TCP_FLOOD:
            tg_plan_tcp(g, in);
            break;
        case TG_SC_UDP_FLOOD:
            tg_plan_udp(g, in);
            break;
        case TG_SC_ICMP_FLOOD:
            tg_plan_icmp(g, in);
            break;
        case TG_SC_UDP_AMPLIFICATION:
            tg_plan_amp(g, in);
            break;
        case TG_SC_TCP_REFLECTION:
            tg_plan_refl(g, in);
            break;
        case TG_SC_HTTP_FLOOD:
            tg_plan_http(g, in);
            break;
        case TG_SC_SLOW_HTTP:
            tg_plan_slow(g, in);
            break;
        case TG_SC_ICMP_ERROR_FLOOD:
            tg_plan_icmp_error(g, in);
            break;
        case TG_SC_FRAGMENT_FLOOD:
            tg_plan_fragment(g, in);
            break;
        default:
            tg_plan_scan(g, in);
            break;
        }
        struct tg_attack *a = &in->a;
        if (a->v6_share > 0)
            in->v6prefix = 48;
        dur = (double)(in->end_ns - in->start_ns); /* a single burst shortens the instance */
        /* The packet budget: scale the rate so the instance fits. Packets per unit of rate:
         * answers double a flood, amplified answers fragment, sessions cost ~12 packets per
         * request. */
        a->drawn_rate = a->rate_pps;
        double per = 1.0 + a->answer_share;
        if (in->scenario == TG_SC_HTTP_FLOOD) { /* handshake, request, response and ACKs */
            double mean = (a->resp_hi - a->resp_lo) / log((double)a->resp_hi / a->resp_lo);
            per = 8 + mean / 1400 * 1.5;
        }
        if (in->scenario == TG_SC_UDP_AMPLIFICATION)
            per = 1.6;
        if (in->scenario == TG_SC_FRAGMENT_FLOOD)
            per = tg_fragment_per_datagram(a);
        double expect = a->rate_pps * per * tg_timing_duty(in) * (dur / 1e9);
        if (in->scenario == TG_SC_PORTSCAN) {
            double probes = (double)a->port_count * a->nvictims * per;
            if (expect > probes)
                expect = probes;
        }
        if (cfg->max_attack_packets > 0 && expect > (double)cfg->max_attack_packets) {
            double f = (double)cfg->max_attack_packets / expect;
            a->rate_pps *= f;
            if (in->scenario == TG_SC_HTTP_FLOOD)
                tg_http_budget(g, in, f, per, dur / 1e9);
        }
        in->replies = calloc(TG_REPLY_MAX, sizeof *in->replies);
        if (in->replies == NULL)
            return -ENOMEM;
        tg_plan_json(g, in);
    }
    g->ninst = n;
    return 0;
}
