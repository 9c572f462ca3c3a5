/* tg_flood.c - the stateless flood actor of an attack instance, and the victim's answers.
 *
 * Owns the one actor per flood instance that sends syn/tcp/udp/icmp floods, amplification,
 * reflection and port scans (and, through tg_icmp_frag.c, ICMP error and fragment floods), the
 * per-packet choices of source, victim, ports, TTL and IP ID the plan's modes describe, the
 * answers a victim (or a scanner) owes in two-way mode, and the start of every instance's
 * actors (floods here, bots in tg_bots.c). Runs inside the event loop; emits through
 * tg_packet.c.
 *
 * DESIGN
 * One flood actor per instance produces its packets in time order: its next send time comes
 * from the instance's timing model (constant, Poisson, on/off, ramp, pulse), and answers the
 * victim (or a scanner) owes wait in a small per-instance min-heap of pending replies, merged
 * into the same actor's schedule. That keeps the event heap at one entry per instance whatever
 * the rate, and gives victims a natural overload behaviour: when the reply heap is full, the
 * answer is dropped and counted. Every instance sends only from its own address block, so the
 * manifest labels all its flows - both directions, any port - with one CIDR rule. */
#include <errno.h>
#include <stdlib.h>

#include "trafgen/tg_internal.h"

static const uint16_t tg_amp_port[TG_AMP_COUNT] = {53,   123, 1900,  11211, 389,  161,  19, 3702,
                                                   5683, 17,  10001, 37810, 3283, 5353, 137};

/* ---- victims' answers ----------------------------------------------------------------------- */

static void tg_reply_push(struct tg_inst *in, const struct tg_reply *rp)
{
    if (in->nreplies >= TG_REPLY_MAX) {
        in->replies_dropped++;
        return;
    }
    struct tg_reply *h = in->replies;
    uint32_t i = in->nreplies++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h[p].t_ns <= rp->t_ns)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = *rp;
}

static void tg_reply_pop(struct tg_inst *in)
{
    struct tg_reply *h = in->replies;
    struct tg_reply last = h[--in->nreplies];
    uint32_t n = in->nreplies, i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].t_ns < h[c].t_ns)
            c++;
        if (h[c].t_ns >= last.t_ns)
            break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0)
        h[i] = last;
}

/* Kernel rate limits on RSTs and ICMP errors: at most answer_limit_pps per second. */
static bool tg_answer_allowed(struct tg *g, struct tg_inst *in)
{
    uint32_t lim = in->a.answer_limit_pps;
    if (lim == 0)
        return true;
    if (g->now_ns - in->answer_window_ns >= TG_NS_S) {
        in->answer_window_ns = g->now_ns;
        in->answer_window_count = 0;
    }
    if (in->answer_window_count >= lim) {
        in->answers_limited++;
        return false;
    }
    in->answer_window_count++;
    return true;
}

static uint64_t tg_reply_delay(struct tg *g, const struct tg_inst *in)
{
    return (uint64_t)(tg_rng_lognormal(&g->rng, in->a.reply_delay_us, 0.5) * 1e3) + 1000;
}

static void tg_reply_emit(struct tg *g, struct tg_inst *in, uint8_t label)
{
    struct tg_reply rp = in->replies[0];
    tg_reply_pop(in);
    bool host = rp.kind < TG_RP_PEER_RST;
    struct tg_l3 l3 = {
        .src = host ? rp.host : rp.peer,
        .dst = host ? rp.peer : rp.host,
        .flow_label = rp.seq & 0xfffff,
        .ipid = (uint16_t)tg_rng_u32(&g->rng),
        .frag = TG_IP_DF,
        .ttl = host ? rp.host_ttl : rp.peer_ttl,
        .label = label,
        .v6 = rp.v6,
        .inbound = !host,
    };
    struct tg_tcpseg s = {
        .sport = host ? rp.host_port : rp.peer_port,
        .dport = host ? rp.peer_port : rp.host_port,
        .seq = rp.seq,
        .ack = rp.ack,
    };
    switch (rp.kind) {
    case TG_RP_SYNACK:
        s.flags = TG_TCP_SYN | TG_TCP_ACK;
        s.win = 65160;
        s.synopt = TG_SYNOPT_LINUX;
        s.mss = rp.v6 ? 1440 : 1460;
        s.wscale = 7;
        s.ts = true;
        s.tsval = tg_rng_u32(&g->rng);
        s.tsecr = rp.aux2;
        tg_tcp_emit(g, &l3, &s);
        return;
    case TG_RP_RSTACK:
    case TG_RP_PEER_RSTACK:
        s.flags = TG_TCP_RST | TG_TCP_ACK;
        tg_tcp_emit(g, &l3, &s);
        return;
    case TG_RP_RST:
    case TG_RP_PEER_RST:
        s.flags = TG_TCP_RST;
        s.ack = 0;
        tg_tcp_emit(g, &l3, &s);
        return;
    case TG_RP_PEER_ACK:
        s.flags = TG_TCP_ACK;
        s.win = 502;
        tg_tcp_emit(g, &l3, &s);
        return;
    case TG_RP_ECHO_REPLY: {
        l3.frag = 0;
        uint8_t *p =
            tg_icmp_begin(g, &l3, rp.v6 ? 129 : 0, 0, (uint32_t)rp.aux << 16 | rp.aux2, rp.seq);
        if (p != NULL)
            tg_pkt_finish(g);
        return;
    }
    case TG_RP_UNREACH: {
        /* quotes the probe's IP header and first 8 bytes, as RFC 792 / 4443 ask */
        l3.frag = 0;
        l3.tos = 0xc0;
        uint32_t inner = rp.v6 ? 48 : 28;
        uint8_t *p = tg_icmp_begin(g, &l3, rp.v6 ? 1 : 3, rp.v6 ? 4 : 3, 0, inner);
        if (p == NULL)
            return;
        uint32_t dlen = 8 + rp.seq;
        if (!rp.v6) {
            p[0] = 0x45;
            tg_put16(p + 2, 20 + dlen);
            tg_put16(p + 4, rp.aux);
            p[8] = rp.peer_ttl;
            p[9] = TG_PROTO_UDP;
            memcpy(p + 12, rp.peer, 4);
            memcpy(p + 16, rp.host, 4);
        } else {
            p[0] = 0x60;
            tg_put16(p + 4, dlen);
            p[6] = TG_PROTO_UDP;
            p[7] = rp.peer_ttl;
            memcpy(p + 8, rp.peer, 16);
            memcpy(p + 24, rp.host, 16);
        }
        uint8_t *u = p + (rp.v6 ? 40 : 20);
        tg_put16(u, rp.peer_port);
        tg_put16(u + 2, rp.host_port);
        tg_put16(u + 4, dlen);
        tg_pkt_finish(g);
        return;
    }
    }
}

/* ---- flood sources -------------------------------------------------------------------------- */

static uint32_t tg_src_pick(struct tg *g, const struct tg_attack *a, struct tg_floodact *f)
{
    switch (a->srcmode) {
    case TG_SRC_ROUND_ROBIN:
        return f->cursor++ % a->nsrc;
    case TG_SRC_STICKY:
        if (f->burst_left == 0) {
            f->src_idx = tg_rng_below(&g->rng, a->nsrc);
            f->burst_left = a->sticky;
        }
        f->burst_left--;
        return f->src_idx;
    case TG_SRC_ZIPF: /* a few sources carry most of the traffic */
        return (uint32_t)((double)a->nsrc * pow(tg_rng_unit(&g->rng), a->zipf_skew));
    default:
        return tg_rng_below(&g->rng, a->nsrc);
    }
}

uint8_t tg_src_ttl(struct tg *g, const struct tg_attack *a, uint32_t idx)
{
    uint32_t span = (uint32_t)(a->ttl_hi - a->ttl_lo) + 1;
    switch (a->ttlmode) {
    case TG_TTL_RANDOM:
        return (uint8_t)(a->ttl_lo + tg_rng_below(&g->rng, span));
    case TG_TTL_FIXED:
        return a->ttl_hi;
    default: {
        if (a->ttl_lo == 30 && a->ttl_hi == 250) { /* reflectors: real hosts, varied OSes */
            static const uint8_t init[] = {64, 64, 128, 255};
            uint32_t h = tg_hash32(idx * 2654435761u + 17);
            return (uint8_t)(init[h & 3] - 4 - (h >> 8) % 24);
        }
        return (uint8_t)(a->ttl_lo + tg_hash32(idx + 0x51ed) % span);
    }
    }
}

uint16_t tg_ipid(struct tg *g, struct tg_inst *in)
{
    switch (in->a.ipidmode) {
    case TG_IPID_INCREMENT:
        return in->ipid_ctr++;
    case TG_IPID_ZERO:
        return 0;
    case TG_IPID_FIXED:
        return in->a.ipid_fixed;
    default:
        return (uint16_t)tg_rng_u32(&g->rng);
    }
}

static uint16_t tg_port(struct tg *g, uint8_t mode, uint16_t fixed, uint16_t *ctr,
                        const uint16_t *set, uint8_t nset, uint16_t lo)
{
    switch (mode) {
    case TG_PORT_FIXED:
        return fixed;
    case TG_PORT_INCREMENT: {
        if (*ctr < lo) /* first use, or wrapped */
            *ctr = fixed >= lo ? fixed : lo;
        return (*ctr)++;
    }
    case TG_PORT_SET:
        return set[tg_rng_below(&g->rng, nset)];
    default:
        return (uint16_t)tg_rng_range(&g->rng, lo, 65535);
    }
}

const struct tg_server *tg_victim(struct tg *g, struct tg_inst *in, bool *v6, uint8_t out[16],
                                  uint32_t pick)
{
    const struct tg_attack *a = &in->a;
    if (a->carpet) {
        memcpy(out, a->carpet_net, 3);
        out[3] = (uint8_t)(1 + pick % 254);
        *v6 = false;
        return NULL;
    }
    uint32_t k = pick % a->nvictims;
    const struct tg_server *s = &g->servers[a->victim[k]];
    if (*v6 && !s->has_v6)
        *v6 = false;
    memcpy(out, *v6 ? s->ip6 : s->ip4, *v6 ? 16 : 4);
    in->victim_seen[*v6] |= (uint16_t)(1u << k);
    return s;
}

static bool tg_port_open(const struct tg_server *s, uint16_t port)
{
    if (s == NULL)
        return false;
    for (uint32_t i = 0; i < s->n_open; i++)
        if (s->open_ports[i] == port)
            return true;
    return false;
}

void tg_flood_addr(struct tg *g, struct tg_inst *in, struct tg_floodact *f, struct tg_flood_pkt *p)
{
    const struct tg_attack *a = &in->a;
    p->src_idx = tg_src_pick(g, a, f);
    p->v6 = a->v6_share > 0 && tg_rng_chance(&g->rng, a->v6_share);
    p->srv = tg_victim(g, in, &p->v6, p->dst, tg_rng_u32(&g->rng));
    tg_truth_src(in, p->src_idx, p->v6);
    if (p->v6)
        tg_inst_addr6(in, p->src_idx, p->src);
    else
        tg_inst_addr4(in, p->src_idx, p->src);
}

void tg_flood_l3(struct tg *g, struct tg_inst *in, const struct tg_flood_pkt *p, uint8_t label,
                 bool ipid, struct tg_l3 *l3)
{
    const struct tg_attack *a = &in->a;
    *l3 = (struct tg_l3){
        .src = p->src, .dst = p->dst, .tos = a->tos, .label = label, .v6 = p->v6, .inbound = true};
    l3->flow_label = tg_rng_u32(&g->rng) & 0xfffff;
    if (ipid)
        l3->ipid = tg_ipid(g, in);
    l3->ttl = tg_src_ttl(g, a, p->src_idx);
}

static void tg_reply_base(struct tg *g, struct tg_inst *in, const struct tg_flood_pkt *p,
                          struct tg_reply *rp, uint8_t kind)
{
    memset(rp, 0, sizeof *rp);
    rp->t_ns = g->now_ns + tg_reply_delay(g, in);
    memcpy(rp->peer, p->src, 16);
    memcpy(rp->host, p->dst, 16);
    rp->v6 = p->v6;
    rp->kind = kind;
    rp->host_ttl = p->srv ? p->srv->stack.ttl : 64;
}

static void tg_send_syn(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    static const uint16_t wins[] = {512, 1024, 5840, 8192, 14600, 29200, 64240, 65535};
    static const uint16_t msss[] = {1460, 1440, 1400, 1380, 536, 1360, 8960, 1220};
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    uint8_t ttl = tg_src_ttl(g, a, p.src_idx);
    struct tg_l3 l3 = {.src = p.src,
                       .dst = p.dst,
                       .ipid = tg_ipid(g, in),
                       .ttl = ttl,
                       .tos = a->tos,
                       .label = label,
                       .v6 = p.v6,
                       .inbound = true,
                       .frag = a->ipidmode == TG_IPID_RANDOM ? 0 : TG_IP_DF,
                       .flow_label = tg_rng_u32(r) & 0xfffff};
    uint32_t plen = a->psize_hi ? tg_rng_range(r, a->psize_lo, a->psize_hi) : 0;
    struct tg_tcpseg s = {
        .sport = tg_port(g, a->sportmode, a->sport, &in->sport_ctr, NULL, 0, 1024),
        .dport = tg_port(g, a->dportmode, a->dport, &in->dport_ctr, a->dports, a->ndports, 1),
        .seq = tg_rng_u32(r),
        .flags = TG_TCP_SYN | (a->ecn ? TG_TCP_ECE | TG_TCP_CWR : 0),
        .win = a->win ? a->win : wins[tg_rng_below(r, 8)],
        .synopt = a->opt_mixed ? (uint8_t)tg_rng_below(r, TG_SYNOPT_COUNT) : a->synopt,
        .mss = a->mss ? a->mss : msss[tg_rng_below(r, 8)],
        .wscale = a->wscale,
        .ts = true,
        .tsval = tg_rng_u32(r),
        .payload_len = plen,
    };
    s.sport = tg_port_sturdy(TG_PROTO_TCP, s.sport, plen);
    s.dport = tg_port_sturdy(TG_PROTO_TCP, s.dport, plen);
    tg_tcp_emit(g, &l3, &s);
    if (a->answer_share > 0 && tg_rng_chance(r, a->answer_share)) {
        struct tg_reply rp;
        bool open = tg_port_open(p.srv, s.dport);
        tg_reply_base(g, in, &p, &rp, open ? TG_RP_SYNACK : TG_RP_RSTACK);
        rp.peer_port = s.sport;
        rp.host_port = s.dport;
        rp.seq = open ? tg_rng_u32(r) : 0;
        rp.ack = s.seq + 1 + plen;
        rp.aux2 = (uint16_t)s.tsval;
        tg_reply_push(in, &rp);
    }
}

static void tg_send_tcpflag(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    uint8_t flags =
        a->random_flags ? (uint8_t)tg_rng_u32(r) : a->tcp_flags[tg_rng_below(r, a->n_tcp_flags)];
    uint32_t plen = a->psize_hi ? tg_rng_range(r, a->psize_lo, a->psize_hi) : 0;
    struct tg_l3 l3;
    tg_flood_l3(g, in, &p, label, true, &l3);
    l3.frag = TG_IP_DF;
    struct tg_tcpseg s = {
        .sport = tg_port(g, a->sportmode, a->sport, &in->sport_ctr, NULL, 0, 1024),
        .dport = tg_port(g, a->dportmode, a->dport, &in->dport_ctr, a->dports, a->ndports, 1),
        .seq = tg_rng_u32(r),
        .ack = (flags & TG_TCP_ACK) ? tg_rng_u32(r) : 0,
        .flags = flags,
        .win = a->win ? a->win : (uint16_t)tg_rng_u32(r),
        .synopt = TG_SYNOPT_NONE,
        .mss = 1460,
        .payload_len = plen,
    };
    s.sport = tg_port_sturdy(TG_PROTO_TCP, s.sport, plen);
    s.dport = tg_port_sturdy(TG_PROTO_TCP, s.dport, plen);
    tg_tcp_emit(g, &l3, &s);
    /* RFC 793: an unexpected segment without RST draws a RST */
    if (a->answer_share > 0 && !(flags & TG_TCP_RST) && tg_rng_chance(r, a->answer_share) &&
        tg_answer_allowed(g, in)) {
        struct tg_reply rp;
        bool ack = flags & TG_TCP_ACK;
        tg_reply_base(g, in, &p, &rp, ack ? TG_RP_RST : TG_RP_RSTACK);
        rp.peer_port = s.sport;
        rp.host_port = s.dport;
        rp.seq = ack ? s.ack : 0;
        rp.ack = s.seq + plen + ((flags & TG_TCP_SYN) ? 1 : 0) + ((flags & TG_TCP_FIN) ? 1 : 0);
        tg_reply_push(in, &rp);
    }
}

static void tg_send_udp(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    uint32_t plen = tg_rng_range(r, a->psize_lo, a->psize_hi);
    uint16_t ipid = tg_ipid(g, in);
    struct tg_l3 l3;
    tg_flood_l3(g, in, &p, label, false, &l3);
    l3.ipid = ipid;
    uint16_t sport = tg_port(g, a->sportmode, a->sport, &in->sport_ctr, NULL, 0, 1024);
    uint16_t dport = tg_port(g, a->dportmode, a->dport, &in->dport_ctr, a->dports, a->ndports, 1);
    sport = tg_port_sturdy(TG_PROTO_UDP, sport, plen);
    dport = tg_port_sturdy(TG_PROTO_UDP, dport, plen);
    if (tg_udp_begin(g, &l3, sport, dport, plen) != NULL)
        tg_pkt_finish(g);
    if (a->answer_share > 0 && !tg_port_open(p.srv, dport) && tg_rng_chance(r, a->answer_share) &&
        tg_answer_allowed(g, in)) {
        struct tg_reply rp;
        tg_reply_base(g, in, &p, &rp, TG_RP_UNREACH);
        rp.peer_port = sport;
        rp.host_port = dport;
        rp.seq = plen;
        rp.aux = ipid;
        rp.peer_ttl = l3.ttl;
        tg_reply_push(in, &rp);
    }
}

static void tg_send_icmp(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    uint32_t plen = tg_rng_range(r, a->psize_lo, a->psize_hi);
    struct tg_l3 l3;
    tg_flood_l3(g, in, &p, label, true, &l3);
    uint16_t id = (uint16_t)(a->srcmode == TG_SRC_RANDOM && a->nsrc > 255 ? tg_rng_u32(r)
                                                                          : tg_hash32(p.src_idx));
    uint16_t seq = (uint16_t)f->sent;
    uint8_t type = p.v6 ? 128 : 8, code = 0;
    uint32_t rest = (uint32_t)id << 16 | seq;
    bool quote = false;
    if (a->icmp_other && tg_rng_chance(r, a->other_share)) {
        static const uint8_t t4[] = {0, 3, 4, 5, 11, 13, 17, 3, 11};
        static const uint8_t t6[] = {129, 1, 2, 3, 1};
        type = p.v6 ? t6[tg_rng_below(r, 5)] : t4[tg_rng_below(r, 9)];
        if (type == 3 || type == 1)
            code = (uint8_t)tg_rng_below(r, p.v6 ? 7 : 16);
        else if (type == 5 || type == 11 || type == 3)
            code = (uint8_t)tg_rng_below(r, 2);
        quote = type == 3 || type == 4 || type == 5 || type == 11 || (p.v6 && type <= 3);
        if (quote) {
            rest = type == 5 ? tg_rng_u32(r) : (type == 2 ? 1280u : 0u);
            plen = p.v6 ? 48 : 28;
        } else if (type == 13) {
            plen = 12;
        } else if (type == 17) {
            plen = 4;
        }
    }
    uint8_t *d = tg_icmp_begin(g, &l3, type, code, rest, plen);
    if (d != NULL) {
        if (quote && !p.v6) { /* a made-up datagram the error pretends to be about */
            d[0] = 0x45;
            tg_put16(d + 2, 60 + tg_rng_below(r, 1400));
            d[8] = (uint8_t)tg_rng_range(r, 1, 64);
            d[9] = TG_PROTO_UDP;
            memcpy(d + 12, p.dst, 4);
            d[16] = 192;
            d[17] = 0;
            d[18] = 2;
            d[19] = (uint8_t)tg_rng_u32(r);
            tg_put16(d + 20, tg_rng_range(r, 1024, 65535));
            tg_put16(d + 22, 53);
            tg_put16(d + 24, 40);
        } else if (quote) {
            d[0] = 0x60;
            tg_put16(d + 4, 8);
            d[6] = TG_PROTO_UDP;
            d[7] = 64;
            memcpy(d + 8, p.dst, 16);
            d[24] = 0x20;
            d[25] = 0x01;
            d[26] = 0x0d;
            d[27] = 0xb8;
            tg_put16(d + 40, tg_rng_range(r, 1024, 65535));
            tg_put16(d + 42, 53);
            tg_put16(d + 44, 8);
        } else {
            for (uint32_t i = 0; i < plen; i++)
                d[i] = (uint8_t)(i + 0x10);
        }
        tg_pkt_finish(g);
    }
    if (a->answer_share > 0 && (type == 8 || type == 128) && tg_rng_chance(r, a->answer_share)) {
        struct tg_reply rp;
        tg_reply_base(g, in, &p, &rp, TG_RP_ECHO_REPLY);
        rp.aux = id;
        rp.aux2 = seq;
        rp.seq = plen;
        tg_reply_push(in, &rp);
    }
}

/* The size of one answer datagram of an amplification vector. */
static uint32_t tg_amp_size(struct tg *g, uint8_t vec)
{
    struct tg_rng *r = &g->rng;
    switch (vec) {
    case TG_AMP_DNS:
        return (uint32_t)tg_rng_logu(r, 512, 4096);
    case TG_AMP_NTP:
        return 440;
    case TG_AMP_SSDP:
        return 320;
    case TG_AMP_MEMCACHED:
        return tg_rng_chance(r, 0.8) ? 1400 : tg_rng_range(r, 1400, 8000);
    case TG_AMP_CLDAP:
        return tg_rng_range(r, 1500, 3200);
    case TG_AMP_SNMP:
        return tg_rng_range(r, 400, 2800);
    case TG_AMP_CHARGEN:
        return tg_rng_range(r, 74, 1024);
    case TG_AMP_WSD:
        return tg_rng_range(r, 500, 1500);
    case TG_AMP_COAP:
        return tg_rng_range(r, 100, 1000);
    case TG_AMP_QOTD:
        return tg_rng_range(r, 50, 512);
    case TG_AMP_UBNT:
        return tg_rng_range(r, 150, 300);
    case TG_AMP_DHDISCOVER:
        return tg_rng_range(r, 500, 1400);
    case TG_AMP_ARMS:
        return tg_rng_range(r, 1000, 1100);
    case TG_AMP_MDNS:
        return tg_rng_range(r, 100, 500);
    default:
        return tg_rng_range(r, 200, 400);
    }
}

/* Datagrams a reflector sends for one spoofed request. */
static uint32_t tg_amp_burst(struct tg *g, uint8_t vec)
{
    struct tg_rng *r = &g->rng;
    switch (vec) {
    case TG_AMP_NTP:
        return tg_rng_range(r, 1, 100);
    case TG_AMP_MEMCACHED:
        return tg_rng_range(r, 2, 60);
    case TG_AMP_SSDP:
        return tg_rng_range(r, 1, 8);
    case TG_AMP_SNMP:
    case TG_AMP_COAP:
        return tg_rng_range(r, 1, 3);
    default:
        return 1;
    }
}

static void tg_send_amp(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    if (f->burst_left == 0) { /* a new spoofed request reaches some reflector */
        f->src_idx = (uint32_t)((double)a->nsrc * pow(tg_rng_unit(r), a->zipf_skew));
        f->cur_vec = a->amp[tg_rng_below(r, a->n_amp)];
        f->burst_left = tg_amp_burst(g, f->cur_vec);
        f->burst_seq = 0;
        f->cur_victim = tg_rng_u32(r);
        /* The spoofed request's source port. Wireshark dissects a datagram by its lower port
         * first, so ports below the vector's (other than web ports) would show the answer as a
         * malformed packet of some other protocol: keep them above it. */
        uint16_t vp = tg_amp_port[f->cur_vec];
        uint16_t lo = vp < 1024 ? 1024 : (uint16_t)(vp + 1);
        uint16_t d = tg_port(g, a->dportmode, a->dport, &in->dport_ctr, a->dports, a->ndports, lo);
        if (d < lo && d != 80 && d != 443)
            d = (uint16_t)tg_rng_range(r, lo, 65535);
        f->cur_dport = d;
    }
    f->burst_left--;
    uint8_t src[16], dst[16];
    bool v6 = false;
    (void)tg_victim(g, in, &v6, dst, f->cur_victim);
    tg_inst_addr4(in, f->src_idx, src);
    uint32_t len = tg_amp_payload(g, f->cur_vec, g->scratch, TG_SCRATCH_CAP,
                                  tg_amp_size(g, f->cur_vec), f->burst_seq++);
    struct tg_l3 l3 = {.src = src,
                       .dst = dst,
                       .ipid = (uint16_t)tg_rng_u32(r),
                       .ttl = tg_src_ttl(g, a, f->src_idx),
                       .label = label,
                       .inbound = true};
    f->cur_dport = tg_port_sturdy(TG_PROTO_UDP, f->cur_dport, len);
    tg_udp_send(g, &l3, tg_amp_port[f->cur_vec], f->cur_dport, g->scratch, len);
    if (a->answer_share > 0 && tg_rng_chance(r, a->answer_share) && tg_answer_allowed(g, in)) {
        struct tg_flood_pkt p = {.srv = NULL, .v6 = false};
        memcpy(p.src, src, 16);
        memcpy(p.dst, dst, 16);
        struct tg_reply rp;
        tg_reply_base(g, in, &p, &rp, TG_RP_UNREACH);
        rp.peer_port = tg_amp_port[f->cur_vec];
        rp.host_port = f->cur_dport;
        rp.seq = len;
        rp.aux = l3.ipid;
        rp.peer_ttl = l3.ttl;
        tg_reply_push(in, &rp);
    }
}

static void tg_send_refl(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    static const uint8_t styles[] = {TG_SYNOPT_LINUX, TG_SYNOPT_LINUX, TG_SYNOPT_WINDOWS,
                                     TG_SYNOPT_MSS,   TG_SYNOPT_MACOS, TG_SYNOPT_NONE};
    static const uint16_t wins[] = {65160, 64240, 28960, 14480, 65535, 8192, 5792, 29200};
    static const uint16_t msss[] = {1460, 1460, 1452, 1400, 1380, 1440, 536, 1360};
    struct tg_flood_pkt p;
    tg_flood_addr(g, in, f, &p);
    uint32_t h = tg_hash32(p.src_idx * 7919u + in->index);
    bool rst = a->rst_share > 0 && tg_rng_chance(r, a->rst_share);
    struct tg_l3 l3 = {.src = p.src,
                       .dst = p.dst,
                       .ipid = (h & 1) ? 0 : (uint16_t)tg_rng_u32(r),
                       .ttl = tg_src_ttl(g, a, p.src_idx),
                       .label = label,
                       .v6 = p.v6,
                       .inbound = true,
                       .frag = TG_IP_DF};
    struct tg_tcpseg s = {
        .sport = a->refl_ports[tg_rng_below(r, a->n_refl_ports)],
        .dport = tg_port(g, a->dportmode, a->dport, &in->dport_ctr, a->dports, a->ndports, 1024),
        .seq = rst ? 0 : tg_rng_u32(r),
        .ack = tg_rng_u32(r),
        .flags = rst ? TG_TCP_RST | TG_TCP_ACK : TG_TCP_SYN | TG_TCP_ACK,
        .win = rst ? 0 : wins[(h >> 4) % 8],
        .synopt = styles[(h >> 8) % 6],
        .mss = msss[(h >> 12) % 8],
        .wscale = (uint8_t)((h >> 16) % 10),
        .ts = true,
        .tsval = tg_rng_u32(r),
        .tsecr = tg_rng_u32(r),
    };
    tg_tcp_emit(g, &l3, &s);
    if (!rst && a->answer_share > 0 && tg_rng_chance(r, a->answer_share) &&
        tg_answer_allowed(g, in)) {
        struct tg_reply rp;
        tg_reply_base(g, in, &p, &rp, TG_RP_RST);
        rp.peer_port = s.sport;
        rp.host_port = s.dport;
        rp.seq = s.ack;
        tg_reply_push(in, &rp);
    }
}

/* Returns false when the scan has probed every port of every target. */
static bool tg_send_scan(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    uint64_t total = (uint64_t)a->port_count * a->nvictims;
    if (f->cursor >= total)
        return false;
    uint32_t i = f->cursor++;
    uint32_t k =
        (uint32_t)(((uint64_t)a->perm_a * (i % a->port_count) + a->perm_b) % a->port_count);
    uint16_t port = a->top_ports ? tg_top_ports[k] : (uint16_t)(a->port_lo + k);
    struct tg_flood_pkt p;
    p.src_idx = i % a->nsrc;
    p.v6 = false;
    p.srv = tg_victim(g, in, &p.v6, p.dst, i / a->port_count);
    tg_truth_src(in, p.src_idx, false);
    tg_inst_addr4(in, p.src_idx, p.src);
    uint8_t ttl = tg_src_ttl(g, a, p.src_idx);
    uint16_t sport = a->sportmode == TG_PORT_FIXED ? (uint16_t)(a->sport + p.src_idx)
                                                   : (uint16_t)tg_rng_range(r, 32768, 60999);
    struct tg_l3 l3 = {.src = p.src,
                       .dst = p.dst,
                       .ipid = (uint16_t)tg_rng_u32(r),
                       .ttl = ttl,
                       .label = label,
                       .inbound = true};
    bool open = tg_port_open(p.srv, port);
    uint64_t scanner_rtt = (uint64_t)(1 + tg_hash32(in->index) % 80) * TG_NS_MS;
    if (a->scan_kind == TG_SCAN_UDP) {
        uint32_t plen = 0;
        uint8_t *d = tg_udp_begin(g, &l3, sport, port, plen);
        if (d != NULL)
            tg_pkt_finish(g);
        if (!open && a->answer_share > 0 && tg_answer_allowed(g, in)) {
            struct tg_reply rp;
            tg_reply_base(g, in, &p, &rp, TG_RP_UNREACH);
            rp.peer_port = sport;
            rp.host_port = port;
            rp.seq = plen;
            rp.aux = l3.ipid;
            rp.peer_ttl = ttl;
            tg_reply_push(in, &rp);
        }
        return true;
    }
    bool connect = a->scan_kind == TG_SCAN_CONNECT;
    l3.frag = connect ? TG_IP_DF : 0;
    struct tg_tcpseg s = {
        .sport = sport,
        .dport = port,
        .seq = tg_rng_u32(r),
        .flags = a->tcp_flags[0],
        .win = connect ? 64240 : a->win,
        .synopt = connect ? TG_SYNOPT_LINUX : TG_SYNOPT_MSS,
        .mss = 1460,
        .wscale = 7,
        .ts = connect,
        .tsval = tg_rng_u32(r),
    };
    tg_tcp_emit(g, &l3, &s);
    bool syn = s.flags & TG_TCP_SYN;
    struct tg_reply rp;
    if (syn && open) {
        /* SYN-ACK; then the scanner resets (SYN scan) or completes and closes (connect) */
        uint32_t isn = tg_rng_u32(r);
        tg_reply_base(g, in, &p, &rp, TG_RP_SYNACK);
        rp.peer_port = sport;
        rp.host_port = port;
        rp.seq = isn;
        rp.ack = s.seq + 1;
        rp.peer_ttl = ttl;
        uint64_t t0 = rp.t_ns;
        if (a->answer_share > 0)
            tg_reply_push(in, &rp);
        if (a->answer_share <= 0)
            return true; /* filtered: no SYN-ACK, so no follow-up */
        rp.t_ns = t0 + scanner_rtt;
        rp.seq = s.seq + 1;
        rp.ack = isn + 1;
        rp.kind = connect ? TG_RP_PEER_ACK : TG_RP_PEER_RST;
        tg_reply_push(in, &rp);
        if (connect) {
            rp.t_ns += 20000 + tg_rng_below(r, 500000);
            rp.kind = TG_RP_PEER_RSTACK;
            tg_reply_push(in, &rp);
        }
    } else if (!open && a->answer_share > 0) {
        tg_reply_base(g, in, &p, &rp, TG_RP_RSTACK);
        rp.peer_port = sport;
        rp.host_port = port;
        rp.seq = 0;
        rp.ack = s.seq + (syn ? 1 : 0) + ((s.flags & TG_TCP_FIN) ? 1 : 0);
        tg_reply_push(in, &rp);
    }
    return true;
}

/* Time until the instance's next packet under its timing model; UINT64_MAX past its end. */
static uint64_t tg_flood_next(struct tg *g, struct tg_inst *in, struct tg_floodact *f)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    double mean = 1e9 / a->rate_pps;
    uint64_t now = g->now_ns;
    uint64_t el = now - in->start_ns;
    double gap;
    if (in->scenario == TG_SC_UDP_AMPLIFICATION && f->burst_left > 0) {
        gap = tg_rng_uniform(r, 5e3, 80e3); /* a reflector's answer datagrams back to back */
        if (gap > mean * f->burst_left)
            gap = mean;
    } else {
        switch (a->timing) {
        case TG_TIMING_CBR:
            gap = mean * (1.0 + a->jitter * (tg_rng_unit(r) - 0.5) * 2.0);
            break;
        case TG_TIMING_RAMP: {
            double frac = a->ramp_ns ? (double)el / (double)a->ramp_ns : 1.0;
            gap = tg_rng_exp(r, mean / tg_clamp(frac, 0.02, 1.0));
            break;
        }
        case TG_TIMING_ONOFF:
        case TG_TIMING_PULSE: {
            uint64_t cycle = a->on_ns + a->off_ns;
            gap = tg_rng_exp(r, mean);
            uint64_t pos = (el + (uint64_t)gap) % cycle;
            if (pos >= a->on_ns) /* lands in a silence: wait for the next burst */
                gap += (double)(cycle - pos);
            break;
        }
        default:
            gap = tg_rng_exp(r, mean);
            break;
        }
    }
    uint64_t t = now + (uint64_t)gap + 1;
    return t >= in->end_ns ? UINT64_MAX : t;
}

uint64_t tg_flood_step(struct tg *g, struct tg_actor *a)
{
    struct tg_inst *in = &g->inst[a->label - 1];
    struct tg_floodact *f = &a->u.flood;
    if (in->nreplies > 0 && in->replies[0].t_ns <= g->now_ns &&
        in->replies[0].t_ns <= f->next_send_ns) {
        tg_reply_emit(g, in, a->label);
    } else if (f->next_send_ns <= g->now_ns) {
        bool more = true;
        switch (in->scenario) {
        case TG_SC_SYN_FLOOD:
            tg_send_syn(g, in, f, a->label);
            break;
        case TG_SC_TCP_FLOOD:
            tg_send_tcpflag(g, in, f, a->label);
            break;
        case TG_SC_UDP_FLOOD:
            tg_send_udp(g, in, f, a->label);
            break;
        case TG_SC_ICMP_FLOOD:
            tg_send_icmp(g, in, f, a->label);
            break;
        case TG_SC_UDP_AMPLIFICATION:
            tg_send_amp(g, in, f, a->label);
            break;
        case TG_SC_TCP_REFLECTION:
            tg_send_refl(g, in, f, a->label);
            break;
        case TG_SC_ICMP_ERROR_FLOOD:
            tg_send_icmp_error(g, in, f, a->label);
            break;
        case TG_SC_FRAGMENT_FLOOD:
            tg_send_fragment(g, in, f, a->label);
            break;
        default:
            more = tg_send_scan(g, in, f, a->label);
            break;
        }
        f->sent++;
        f->next_send_ns = more ? tg_flood_next(g, in, f) : UINT64_MAX;
    }
    uint64_t next = f->next_send_ns;
    if (in->nreplies > 0 && in->replies[0].t_ns < next)
        next = in->replies[0].t_ns;
    if (next == UINT64_MAX)
        return TG_DONE;
    return next > g->now_ns ? next - g->now_ns : 0;
}

int tg_attack_start(struct tg *g)
{
    for (uint32_t i = 0; i < g->ninst; i++) {
        struct tg_inst *in = &g->inst[i];
        uint8_t label = (uint8_t)(i + 1);
        if (in->scenario == TG_SC_HTTP_FLOOD || in->scenario == TG_SC_SLOW_HTTP) {
            uint64_t join = (uint64_t)(in->a.join_share * (double)(in->end_ns - in->start_ns));
            for (uint32_t b = 0; b < in->a.bots; b++) {
                uint64_t at = in->start_ns + (uint64_t)(tg_rng_unit(&g->rng) * (double)join) +
                              tg_rng_below(&g->rng, 1000) * TG_NS_US;
                struct tg_actor *a = tg_actor_spawn(g, TG_ACT_BOT, label, at);
                if (a == NULL)
                    return -ENOMEM;
                a->u.bot.host = b;
                a->u.bot.inst = (uint16_t)i;
                a->u.bot.opened = 0;
            }
            continue;
        }
        struct tg_actor *a = tg_actor_spawn(g, TG_ACT_FLOOD, label, in->start_ns);
        if (a == NULL)
            return -ENOMEM;
        memset(&a->u.flood, 0, sizeof a->u.flood);
        a->u.flood.next_send_ns = in->start_ns;
    }
    return 0;
}
