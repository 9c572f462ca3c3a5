/* tg_icmp_frag.c - ICMP error floods (BlackNurse) and IPv4/IPv6 fragment floods.
 *
 * Owns the planning and the packets of two stateless attacks that the flood actor of
 * tg_attack.c sends: icmp_error_flood (labelled icmp_flood) and fragment_flood (labelled
 * udp_flood or icmp_flood by the protocol its fragments carry). Runs inside the event loop;
 * emits through tg_packet.c.
 *
 * DESIGN
 * An ICMP error flood is what BlackNurse tools send: destination unreachable (port
 * unreachable above all) or other error types at 20k-200k pkt/s, each quoting a made-up
 * datagram as if the victim had sent it, with a valid inner IPv4 header checksum so the quote
 * dissects. A third of the instances are one short burst (0.05-0.5 s, the burst a 1 s window
 * averages away), a quarter repeat such bursts, the rest are sustained. ICMP errors are never
 * answered, so these floods are one-way in every mode.
 *
 * A fragment flood sends fragments that never make a datagram (non-first fragments at random
 * offsets, or first fragments only, which claim a large datagram) or whole oversized datagrams
 * split into every fragment. Fragment identifications are random per datagram (32 bits on
 * IPv6), and a non-first fragment never repeats an offset with different bytes: every payload
 * is zeros, so the rare identification collision overlaps with identical data, which a
 * reassembler accepts. Transport checksums of first fragments cover the whole (zero-filled)
 * datagram, so a reassembled oversized datagram validates. */
#include "trafgen/tg_internal.h"

/* ---- icmp_error_flood ------------------------------------------------------------------------ */

/* An instance that draws IPv6 aims at servers that have an IPv6 address. */
static void tg_victims_v6(struct tg *g, struct tg_attack *a)
{
    uint16_t v6[TG_SERVERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->nservers; i++)
        if (g->servers[i].has_v6)
            v6[n++] = (uint16_t)i;
    for (uint32_t k = 0; k < a->nvictims && n > 0 && !a->carpet; k++)
        if (!g->servers[a->victim[k]].has_v6)
            a->victim[k] = v6[tg_rng_below(&g->rng, n)];
}

void tg_plan_icmp_error(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    tg_plan_timing(g, in, 20000, 200000);
    double u = tg_rng_unit(r);
    if (u < 0.4) {
        tg_plan_sources(g, a, 1.0, 1);
    } else {
        a->nsrc = u < 0.75 ? 1 : tg_rng_range(r, 2, 8);
        a->srcmode = tg_rng_chance(r, 0.5) ? TG_SRC_RANDOM : TG_SRC_ROUND_ROBIN;
    }
    tg_plan_header(g, a);
    tg_plan_victims(g, a, -1, 0.05);
    u = tg_rng_unit(r);
    a->v6_share = u < 0.6 ? 0 : (u < 0.85 ? 1.0 : tg_rng_uniform(r, 0.2, 0.8));
    if (a->v6_share > 0)
        tg_victims_v6(g, a);
    u = tg_rng_unit(r);
    a->err_mix = u < 0.5    ? TG_ERR_PORT_UNREACH
                 : u < 0.65 ? TG_ERR_UNREACH
                 : u < 0.77 ? TG_ERR_TIME_EXCEEDED
                 : u < 0.87 ? TG_ERR_TOO_BIG
                            : TG_ERR_MIXED;
    a->quote_extra_hi = tg_rng_chance(r, 0.7) ? 0 : tg_rng_range(r, 12, 512);
    u = tg_rng_unit(r);
    if (u < 0.35) { /* one short burst */
        a->burst_mode = TG_BURST_SINGLE;
        a->timing = tg_rng_chance(r, 0.5) ? TG_TIMING_CBR : TG_TIMING_POISSON;
        uint64_t burst = (uint64_t)(tg_rng_logu(r, 0.05, 0.5) * 1e9);
        if (in->start_ns + burst < in->end_ns)
            in->end_ns = in->start_ns + burst;
    } else if (u < 0.6) { /* repeated short bursts */
        a->burst_mode = TG_BURST_REPEATED;
        a->timing = TG_TIMING_PULSE;
        a->on_ns = (uint64_t)(tg_rng_logu(r, 0.05, 0.5) * 1e9);
        a->off_ns = (uint64_t)(tg_rng_logu(r, 0.5, 5) * 1e9);
    } else {
        a->burst_mode = TG_BURST_SUSTAINED;
        if (a->timing == TG_TIMING_ONOFF || a->timing == TG_TIMING_PULSE)
            a->timing = TG_TIMING_CBR;
    }
}

/* Type, code and the 4 type-specific bytes of one error. */
static void tg_error_pick(struct tg *g, const struct tg_attack *a, bool v6, uint8_t *type,
                          uint8_t *code, uint32_t *rest)
{
    struct tg_rng *r = &g->rng;
    static const uint8_t un4[] = {0, 1, 2, 3, 3, 3, 9, 10, 13};
    static const uint8_t un6[] = {0, 1, 3, 4, 4, 4, 5, 6};
    static const uint16_t mtu4[] = {576, 1280, 1400, 1450, 1480, 1492};
    uint8_t mix = a->err_mix;
    if (mix == TG_ERR_MIXED)
        mix = (uint8_t)tg_rng_below(r, TG_ERR_MIXED + 1); /* TG_ERR_MIXED: parameter problem */
    *rest = 0;
    switch (mix) {
    case TG_ERR_PORT_UNREACH:
        *type = v6 ? 1 : 3;
        *code = v6 ? 4 : 3;
        return;
    case TG_ERR_UNREACH:
        *type = v6 ? 1 : 3;
        *code = v6 ? un6[tg_rng_below(r, 8)] : un4[tg_rng_below(r, 9)];
        return;
    case TG_ERR_TIME_EXCEEDED:
        *type = v6 ? 3 : 11;
        *code = tg_rng_chance(r, 0.9) ? 0 : 1;
        return;
    case TG_ERR_TOO_BIG:
        *type = v6 ? 2 : 3;
        *code = v6 ? 0 : 4;
        *rest = v6 ? tg_rng_range(r, 1280, 1500) : mtu4[tg_rng_below(r, 6)];
        return;
    default: /* parameter problem, pointing into the quoted header */
        *type = v6 ? 4 : 12;
        *code = 0;
        *rest = v6 ? tg_rng_below(r, 40) : tg_rng_below(r, 20) << 24;
        return;
    }
}

void tg_send_icmp_error(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    struct tg_l3 l3;
    tg_flood_l3(g, in, &p, label, true, &l3);
    uint8_t type, code;
    uint32_t rest;
    tg_error_pick(g, a, p.v6, &type, &code, &rest);
    /* The quoted datagram: as if the victim had sent UDP (or TCP) to the error's source. */
    bool tcp = tg_rng_chance(r, 0.15);
    uint32_t extra = a->quote_extra_hi ? tg_rng_below(r, a->quote_extra_hi + 1) : 0;
    if (tcp && extra > 0 && extra < 12)
        extra = 12; /* a quoted TCP header is whole or cut at 8 bytes */
    uint32_t orig = extra + tg_rng_below(r, 1400 - extra); /* the original's payload */
    uint32_t l4 = tcp ? 20 : 8;
    uint32_t iph = p.v6 ? 40 : 20;
    uint32_t qlen = iph + 8 + extra;
    uint8_t *d = tg_icmp_begin(g, &l3, type, code, rest, qlen);
    if (d == NULL)
        return;
    uint8_t idst[16];
    memcpy(idst, p.src, 16);
    if (tg_rng_chance(r, 0.4)) { /* some other host of the block */
        if (p.v6)
            tg_inst_addr6(in, tg_rng_below(r, 4094), idst);
        else
            tg_inst_addr4(in, tg_rng_below(r, 4094), idst);
    }
    if (!p.v6) {
        d[0] = 0x45;
        tg_put16(d + 2, iph + l4 + orig);
        tg_put16(d + 4, tg_rng_u32(r));
        tg_put16(d + 6, tg_rng_chance(r, 0.5) ? TG_IP_DF : 0);
        d[8] = (uint8_t)tg_rng_range(r, 1, 64);
        d[9] = tcp ? TG_PROTO_TCP : TG_PROTO_UDP;
        memcpy(d + 12, p.dst, 4);
        memcpy(d + 16, idst, 4);
        uint16_t c = tg_ip4_csum(d);
        memcpy(d + 10, &c, 2);
    } else {
        tg_put32(d, 0x60000000u | (tg_rng_u32(r) & 0xfffffu));
        tg_put16(d + 4, l4 + orig);
        d[6] = tcp ? TG_PROTO_TCP : TG_PROTO_UDP;
        d[7] = (uint8_t)tg_rng_range(r, 1, 64);
        memcpy(d + 8, p.dst, 16);
        memcpy(d + 24, idst, 16);
    }
    uint8_t *q = d + iph;
    tg_put16(q, tg_port_clean((uint16_t)tg_rng_range(r, 1024, 65535)));
    tg_put16(q + 2, tg_port_clean((uint16_t)tg_rng_range(r, 1024, 65535)));
    if (tcp) {
        tg_put32(q + 4, tg_rng_u32(r));
        if (extra >= 12) {
            tg_put32(q + 8, tg_rng_u32(r));
            q[12] = 0x50;
            q[13] = TG_TCP_ACK | TG_TCP_PSH;
            tg_put16(q + 14, (uint16_t)tg_rng_range(r, 512, 65535));
            tg_put16(q + 16, (uint16_t)(tg_rng_u32(r) | 1));
        }
    } else {
        tg_put16(q + 4, 8 + orig);
        tg_put16(q + 6, (uint16_t)(tg_rng_u32(r) | 1));
    }
    tg_pkt_finish(g);
}

/* ---- fragment_flood -------------------------------------------------------------------------- */

static double tg_logu_mean(double lo, double hi)
{
    return hi > lo ? (hi - lo) / log(hi / lo) : lo;
}

void tg_plan_fragment(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    tg_plan_timing(g, in, 5000, 100000);
    tg_plan_sources(g, a, 0.5, 16);
    tg_plan_header(g, a);
    tg_plan_victims(g, a, -1, 0.1);
    a->frag_proto = tg_rng_chance(r, 0.65) ? TG_PROTO_UDP : TG_PROTO_ICMP;
    double u = tg_rng_unit(r);
    a->frag_kind = u < 0.4 ? TG_FRAG_RANDOM : (u < 0.65 ? TG_FRAG_FIRST : TG_FRAG_OVERSIZED);
    u = tg_rng_unit(r);
    a->v6_share = u < 0.6 ? 0 : (u < 0.8 ? 1.0 : tg_rng_uniform(r, 0.2, 0.8));
    if (a->v6_share > 0)
        tg_victims_v6(g, a);
    /* fragment payload sizes (multiples of 8 where more fragments follow) */
    if (tg_rng_chance(r, 0.4)) {
        a->psize_lo = a->psize_hi = 1448; /* full-size fragments (fits IPv4 and IPv6) */
    } else if (tg_rng_chance(r, 0.5)) {
        a->psize_lo = a->psize_hi = tg_rng_range(r, 1, 181) * 8;
    } else {
        a->psize_lo = tg_rng_range(r, 1, 60) * 8;
        a->psize_hi = a->psize_lo + tg_rng_range(r, 0, 181 - a->psize_lo / 8) * 8;
    }
    if (a->frag_kind == TG_FRAG_OVERSIZED) {
        a->dgram_lo = (uint32_t)tg_rng_logu(r, 1600, 20000);
        a->dgram_hi = tg_rng_chance(r, 0.2) ? 65000 : a->dgram_lo + tg_rng_range(r, 0, 8000);
    } else if (a->frag_kind == TG_FRAG_FIRST) {
        a->dgram_lo = (uint32_t)tg_rng_logu(r, 1600, 65000);
        a->dgram_hi = tg_rng_chance(r, 0.5) ? a->dgram_lo : 65000;
        if (a->dgram_hi < a->dgram_lo)
            a->dgram_hi = a->dgram_lo;
    }
    a->dport = (uint16_t)tg_rng_range(r, 1, 65535);
    a->dportmode = tg_rng_chance(r, 0.5) ? TG_PORT_FIXED : TG_PORT_RANDOM;
}

double tg_fragment_per_datagram(const struct tg_attack *a)
{
    if (a->frag_kind != TG_FRAG_OVERSIZED)
        return 1.0;
    return ceil(tg_logu_mean(a->dgram_lo, a->dgram_hi) / 1448.0);
}

/* The first 8 bytes of the carried datagram (UDP header or ICMP echo header), with the
 * checksum over total bytes (the rest zeros). */
static void tg_frag_l4hdr(struct tg *g, const struct tg_inst *in, const struct tg_l3 *l3,
                          uint8_t proto, uint32_t total, uint8_t hdr[8])
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    memset(hdr, 0, 8);
    if (proto == TG_PROTO_UDP) {
        uint16_t dport =
            a->dportmode == TG_PORT_FIXED ? a->dport : (uint16_t)tg_rng_range(r, 1, 65535);
        /* a reassembled datagram is dissected by its port: keep zeros off fragile ones */
        dport = tg_port_sturdy(TG_PROTO_UDP, dport, total - 8);
        uint16_t sport =
            tg_port_sturdy(TG_PROTO_UDP, (uint16_t)tg_rng_range(r, 1024, 65535), total - 8);
        tg_put16(hdr, sport);
        tg_put16(hdr + 2, dport);
        tg_put16(hdr + 4, total);
    } else {
        hdr[0] = l3->v6 ? 128 : 8;
        tg_put32(hdr + 4, tg_rng_u32(r));
    }
    uint16_t c = tg_l4_csum(l3, proto, total, hdr, 8);
    memcpy(hdr + (proto == TG_PROTO_UDP ? 6 : 2), &c, 2);
}

void tg_send_fragment(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    struct tg_l3 l3; /* the fragment id is drawn below, tg_frag_begin writes it */
    tg_flood_l3(g, in, &p, label, false, &l3);
    uint8_t proto =
        a->frag_proto == TG_PROTO_UDP ? TG_PROTO_UDP : (p.v6 ? TG_PROTO_ICMPV6 : TG_PROTO_ICMP);
    uint32_t id = p.v6 ? tg_rng_u32(r) : (tg_rng_u32(r) & 0xffff);
    uint32_t plen = tg_rng_range(r, a->psize_lo / 8, a->psize_hi / 8) * 8;
    uint8_t hdr[8];
    switch (a->frag_kind) {
    case TG_FRAG_RANDOM: {
        bool more = tg_rng_chance(r, 0.85);
        uint32_t max_off = (65535 - 48 - plen) / 8;
        uint32_t off = tg_rng_range(r, 1, max_off) * 8;
        if (tg_rng_u32(r) & 1) /* a fragment of any length may end a datagram */
            plen = more ? plen : plen - tg_rng_below(r, 8);
        if (tg_frag_begin(g, &l3, proto, off, more, id, plen) != NULL)
            tg_pkt_finish(g);
        return;
    }
    case TG_FRAG_FIRST: {
        uint32_t total = tg_rng_range(r, a->dgram_lo, a->dgram_hi);
        if (plen >= total)
            plen = (total - 1) & ~7u;
        if (plen < 8)
            plen = 8;
        tg_frag_l4hdr(g, in, &l3, proto, total, hdr);
        uint8_t *d = tg_frag_begin(g, &l3, proto, 0, true, id, plen);
        if (d != NULL) {
            memcpy(d, hdr, 8);
            tg_pkt_finish(g);
        }
        return;
    }
    default: { /* every fragment of an oversized datagram, back to back */
        uint32_t total = tg_rng_range(r, a->dgram_lo, a->dgram_hi);
        uint32_t chunk = (TG_MTU - (p.v6 ? 48 : 20)) & ~7u;
        tg_frag_l4hdr(g, in, &l3, proto, total, hdr);
        for (uint32_t off = 0; off < total; off += chunk) {
            uint32_t n = total - off < chunk ? total - off : chunk;
            uint8_t *d = tg_frag_begin(g, &l3, proto, off, off + n < total, id, n);
            if (d == NULL)
                return;
            if (off == 0)
                memcpy(d, hdr, 8);
            tg_pkt_finish(g);
        }
        return;
    }
    }
}
