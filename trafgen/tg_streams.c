/* tg_streams.c - the benign streams of site applications, and the peers they talk to.
 *
 * Owns one actor kind, TG_ACT_STREAM: a UDP (or ESP/GRE) stream between a protected host and a
 * peer, or from either to a multicast group or broadcast address, with the payload headers of
 * its protocol (RTP/RTCP, SIP, STUN, game packets, WireGuard, OpenVPN, IKEv2 and ESP in UDP,
 * ESP, GRE, MPEG-TS multicast, DNS, NTP, CoAP, BACnet, BitTorrent DHT and uTP, NFS over UDP,
 * SSDP/mDNS/LLMNR/NetBIOS chatter). Also owns the peer pools the site applications draw from.
 * tg_benign_apps.c decides which streams exist and sets them up; this file runs them inside
 * the event loop and emits through tg_packet.c.
 *
 * DESIGN
 * A stream has two sides and one pending packet time per side, which covers the three shapes
 * the protocols have: periodic both ways (media with jitter on the side that crossed the
 * Internet, games at their tick rate, tunnels as Poisson traffic after their handshake),
 * request/response (the answer after a round trip when the server is outside, after a short
 * processing time when it is inside; a drawn share of requests is never answered), and one-way
 * (multicast, chatter). Peers that are not clients of the population come from a deterministic
 * pool of addresses in the benign client range, each with its own TTL and RTT, so a peer keeps
 * its path. Random draws never depend on whether --one-way keeps a packet, so a one-way capture
 * stays the inbound half of the two-way one. */
#include <stdlib.h>

#include "trafgen/tg_internal.h"

const char *const tg_skind_names[TG_SK_COUNT] = {
    "rtp", "sip",     "stun",      "game",    "wireguard",  "openvpn", "ike",
    "esp", "gre",     "multicast", "dns",     "ntp",        "coap",    "bacnet",
    "dht", "nfs_udp", "utp",       "chatter", "traceroute",
};

/* ---- peers ----------------------------------------------------------------------------------- */

/* Peer k of a pool: an address of the benign client range with its own TTL and RTT. */
void tg_peer_get(uint32_t seed, uint32_t k, bool v6, struct tg_peer *p)
{
    uint32_t h = tg_hash32(seed * 0x9e3779b1u + k * 0x85ebca6bu + 0x51);
    uint32_t h2 = tg_hash32(h ^ 0x27d4eb2fu);
    memset(p, 0, sizeof *p);
    p->v6 = v6;
    if (v6) {
        static const uint8_t p6[6] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00};
        memcpy(p->ip, p6, 6);
        tg_put16(p->ip + 6, h >> 16);
        tg_put32(p->ip + 8, h2);
        tg_put32(p->ip + 12, h | 1);
    } else {
        uint32_t host = h & 0xfffffu;
        if ((host & 0xff) == 0 || (host & 0xff) == 255)
            host ^= 1;
        p->ip[0] = 100;
        p->ip[1] = (uint8_t)(64 + (host >> 16));
        p->ip[2] = (uint8_t)(host >> 8);
        p->ip[3] = (uint8_t)host;
    }
    p->ttl = (uint8_t)(((h2 & 3) == 0 ? 128 : 64) - 5 - (h2 >> 8) % 22);
    p->rtt_ns = (uint32_t)(8e6 + (double)(h2 >> 12 & 0xfffff) / 1048576.0 * 250e6);
}

/* A peer drawn from the site's pool (Zipf-skewed: a few peers are busy, most are seen once). */
void tg_peer_pick(struct tg *g, const struct tg_site *s, double skew, bool v6, struct tg_peer *p)
{
    uint32_t k = (uint32_t)((double)s->pool * pow(tg_rng_unit(&g->rng), skew));
    tg_peer_get(s->pool_seed, k, v6, p);
}

/* A client of the population as a peer (its address, TTL and RTT). */
bool tg_peer_client(struct tg *g, bool v6, struct tg_peer *p)
{
    if (g->nclients == 0)
        return false;
    const struct tg_client *c = &g->clients[tg_rng_below(&g->rng, g->nclients)];
    memset(p, 0, sizeof *p);
    p->v6 = v6 && c->has_v6;
    memcpy(p->ip, p->v6 ? c->ip6 : c->ip4, p->v6 ? 16 : 4);
    p->ttl = c->stack.ttl;
    p->rtt_ns = c->rtt_us * (uint32_t)TG_NS_US;
    return true;
}

/* ---- streams --------------------------------------------------------------------------------- */

/* A new stream between peer (side 0 when peer_first, else side 1) and the site's host. */
struct tg_stream *tg_stream_new(struct tg *g, const struct tg_site *site, uint8_t kind,
                                const struct tg_peer *peer, bool peer_first, uint64_t at)
{
    struct tg_actor *a = tg_actor_spawn(g, TG_ACT_STREAM, 0, at);
    if (a == NULL)
        return NULL;
    struct tg_stream *s = &a->u.st;
    memset(s, 0, sizeof *s);
    struct tg_rng *r = &g->rng;
    uint8_t ps = peer_first ? 0 : 1, hs = ps ^ 1;
    s->kind = kind;
    s->v6 = peer->v6 && site->srv.has_v6;
    if (peer->v6 && !s->v6) { /* the host has no IPv6: the peer talks IPv4 */
        struct tg_peer p4 = *peer;
        memset(p4.ip, 0, 16);
        tg_peer_get(tg_hash32(peer->ip[15] | (uint32_t)peer->ip[14] << 8), peer->ip[13], false,
                    &p4);
        memcpy(s->ip[ps], p4.ip, 4);
    } else {
        memcpy(s->ip[ps], peer->ip, s->v6 ? 16 : 4);
    }
    memcpy(s->ip[hs], s->v6 ? site->srv.ip6 : site->srv.ip4, s->v6 ? 16 : 4);
    s->inside[hs] = true;
    s->ttl[ps] = peer->ttl;
    s->ttl[hs] = site->srv.stack.ttl;
    s->rtt_ns = (uint64_t)(peer->rtt_ns * tg_rng_lognormal(r, 1.0, 0.1));
    s->ipid[0] = (uint16_t)tg_rng_u32(r);
    s->ipid[1] = (uint16_t)tg_rng_u32(r);
    s->seed = tg_rng_u32(r);
    s->next_ns[0] = s->next_ns[1] = UINT64_MAX;
    s->end_ns = UINT64_MAX;
    g->stream_count[kind]++;
    return s;
}

static uint64_t tg_stream_wait(const struct tg *g, const struct tg_stream *s)
{
    uint64_t t = s->next_ns[0] < s->next_ns[1] ? s->next_ns[0] : s->next_ns[1];
    if (t == UINT64_MAX)
        return TG_DONE;
    return t > g->now_ns ? t - g->now_ns : 0;
}

static struct tg_l3 tg_stream_l3(struct tg *g, struct tg_stream *s, uint8_t from)
{
    struct tg_l3 l3 = {
        .src = s->ip[from],
        .dst = s->ip[from ^ 1],
        .flow_label = (s->seed + from) & 0xfffff,
        .ipid = s->ipid[from]++,
        .frag = TG_IP_DF,
        .ttl = s->ttl[from],
        .tos = s->tos,
        .label = 0,
        .v6 = s->v6,
        .inbound = !s->inside[from],
    };
    (void)g;
    return l3;
}

/* A UDP datagram of len bytes from side `from`; returns its payload (zeros) or NULL. */
static uint8_t *tg_stream_udp(struct tg *g, struct tg_stream *s, uint8_t from, uint32_t len)
{
    struct tg_l3 l3 = tg_stream_l3(g, s, from);
    return tg_udp_begin(g, &l3, s->port[from], s->port[from ^ 1], len);
}

/* A datagram of any size from g->scratch (IPv4 fragments above the MTU). */
static void tg_stream_udp_big(struct tg *g, struct tg_stream *s, uint8_t from, uint32_t len)
{
    struct tg_l3 l3 = tg_stream_l3(g, s, from);
    tg_udp_send(g, &l3, s->port[from], s->port[from ^ 1], g->scratch, len);
}

static uint32_t tg_stream_size(struct tg *g, const struct tg_stream *s, uint8_t d)
{
    return tg_rng_range(&g->rng, s->size_lo[d], s->size_hi[d]);
}

/* ---- payloads -------------------------------------------------------------------------------- */

static void tg_rtp_hdr(uint8_t *p, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                       uint32_t ssrc)
{
    p[0] = 0x80;
    p[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    tg_put16(p + 2, seq);
    tg_put32(p + 4, ts);
    tg_put32(p + 8, ssrc);
}

/* RTCP receiver report + SDES CNAME, len a multiple of 4 in 64..120. */
static void tg_rtcp(uint8_t *p, uint32_t len, uint32_t ssrc, uint32_t peer_ssrc, uint32_t seq,
                    uint32_t seed)
{
    p[0] = 0x81;
    p[1] = 201;
    tg_put16(p + 2, 7);
    tg_put32(p + 4, ssrc);
    tg_put32(p + 8, peer_ssrc);
    tg_put32(p + 16, seq);
    tg_put32(p + 20, seed % 3000);
    uint8_t *sd = p + 32;
    uint32_t sl = len - 32, n = sl - 11;
    sd[0] = 0x81;
    sd[1] = 202;
    tg_put16(sd + 2, sl / 4 - 1);
    tg_put32(sd + 4, ssrc);
    sd[8] = 1;
    sd[9] = (uint8_t)n;
    for (uint32_t i = 0; i < n; i++)
        sd[10 + i] = (uint8_t)('a' + (seed + i) % 26);
}

/* STUN binding request (with SOFTWARE) or success response (XOR-MAPPED-ADDRESS). */
static uint32_t tg_stun(uint8_t *p, bool resp, uint32_t tid, const uint8_t *addr, bool v6,
                        uint16_t port)
{
    tg_put16(p, resp ? 0x0101 : 0x0001);
    tg_put32(p + 4, 0x2112a442u);
    tg_put32(p + 8, tid);
    tg_put32(p + 12, tid * 2654435761u);
    tg_put32(p + 16, ~tid);
    uint32_t n = 20;
    if (resp) {
        tg_put16(p + n, 0x0020);
        tg_put16(p + n + 2, v6 ? 20 : 8);
        p[n + 5] = v6 ? 2 : 1;
        tg_put16(p + n + 6, port ^ 0x2112);
        for (uint32_t i = 0; i < (v6 ? 16u : 4u); i++)
            p[n + 8 + i] = addr[i] ^ p[4 + i];
        n += v6 ? 24 : 12;
    } else {
        static const char sw[] = "libjuice 1.3"; /* 12 bytes: no padding */
        tg_put16(p + n, 0x8022);
        tg_put16(p + n + 2, 12);
        memcpy(p + n + 4, sw, 12);
        n += 16;
    }
    tg_put16(p + 2, n - 20);
    return n;
}

static uint32_t tg_sip(char *p, uint32_t cap, uint8_t msg, uint32_t seed, const uint8_t *from,
                       bool v6)
{
    static const char *const first[] = {
        "INVITE sip:", "SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK",
        "ACK sip:",    "BYE sip:",           "SIP/2.0 200 OK",
    };
    static const char *const method[] = {"INVITE", "INVITE", "INVITE", "INVITE",
                                         "ACK",    "BYE",    "BYE"};
    char line[80], host[48];
    if (msg == 0 || msg == 4 || msg == 5) /* a request line */
        snprintf(line, sizeof line, "%s%u@voip.example.net SIP/2.0", first[msg],
                 1000 + seed % 9000);
    else
        snprintf(line, sizeof line, "%s", first[msg]);
    if (v6)
        snprintf(host, sizeof host, "[fd00:20::%x]", from[15]);
    else
        snprintf(host, sizeof host, "%u.%u.%u.%u", from[0], from[1], from[2], from[3]);
    int n =
        snprintf(p, cap,
                 "%s\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK%08x\r\nMax-Forwards: 70\r\n"
                 "From: <sip:%u@voip.example.net>;tag=%06x\r\nTo: <sip:%u@voip.example.net>\r\n"
                 "Call-ID: %08x@voip.example.net\r\nCSeq: %u %s\r\n"
                 "Contact: <sip:%u@%s:5060>\r\nUser-Agent: Softphone/7.2\r\n"
                 "Content-Length: 0\r\n\r\n",
                 line, host, seed ^ msg, 2000 + seed % 7000, seed & 0xffffff, 1000 + seed % 9000,
                 seed, msg >= 5 ? 2 : 1, method[msg], 2000 + seed % 7000, host);
    return (uint32_t)n;
}

static const char tg_hexd[] = "0123456789abcdef";

/* A bencoded DHT message: ping/find_node/get_peers query or its answer (with nodes). */
static uint32_t tg_dht(uint8_t *p, bool resp, uint32_t seed, uint32_t nodes)
{
    uint32_t n = 0;
    uint8_t id[20];
    for (int i = 0; i < 20; i++)
        id[i] = (uint8_t)tg_hash32(seed + (uint32_t)i);
#define TG_PUTS(s)                                                                                 \
    do {                                                                                           \
        memcpy(p + n, s, sizeof(s) - 1);                                                           \
        n += (uint32_t)(sizeof(s) - 1);                                                            \
    } while (0)
    if (!resp) {
        static const char *const q[] = {"4:ping", "9:find_node", "9:get_peers"};
        uint32_t k = seed % 3;
        TG_PUTS("d1:ad2:id20:");
        memcpy(p + n, id, 20);
        n += 20;
        if (k == 1) {
            TG_PUTS("6:target20:");
            memcpy(p + n, id, 20);
            p[n] ^= 0x5a;
            n += 20;
        } else if (k == 2) {
            TG_PUTS("9:info_hash20:");
            memcpy(p + n, id, 20);
            p[n + 1] ^= 0xa5;
            n += 20;
        }
        TG_PUTS("e1:q");
        n += (uint32_t)sprintf((char *)p + n, "%s", q[k]);
    } else {
        TG_PUTS("d1:rd2:id20:");
        memcpy(p + n, id, 20);
        p[n + 19] ^= 0x33;
        n += 20;
        if (nodes > 0) {
            n += (uint32_t)sprintf((char *)p + n, "5:nodes%u:", nodes * 26);
            for (uint32_t i = 0; i < nodes * 26; i++)
                p[n + i] = (uint8_t)tg_hash32(seed * 31 + i);
            n += nodes * 26;
            TG_PUTS("5:token8:");
            for (int i = 0; i < 8; i++)
                p[n++] = (uint8_t)tg_hexd[(seed >> (i * 4)) & 15];
        }
        TG_PUTS("e");
    }
    TG_PUTS("1:t2:");
    p[n++] = (uint8_t)('a' + seed % 26);
    p[n++] = (uint8_t)('a' + (seed >> 5) % 26);
    TG_PUTS("1:y1:");
    p[n++] = resp ? 'r' : 'q';
    p[n++] = 'e';
#undef TG_PUTS
    return n;
}

static uint32_t tg_coap(uint8_t *p, bool resp, uint16_t mid, uint32_t seed)
{
    if (!resp) {
        static const char *const paths[] = {"temp", "hum", "state", "power"};
        const char *path = paths[seed % 4];
        uint32_t l = (uint32_t)strlen(path);
        p[0] = 0x40; /* CON, no token */
        p[1] = 0x01; /* GET */
        tg_put16(p + 2, mid);
        p[4] = (uint8_t)(0xb0 | l); /* Uri-Path (11) */
        memcpy(p + 5, path, l);
        return 5 + l;
    }
    p[0] = 0x60; /* ACK */
    p[1] = 0x45; /* 2.05 Content */
    tg_put16(p + 2, mid);
    p[4] = 0xff;
    return 5 + (uint32_t)sprintf((char *)p + 5, "%u.%u", 15 + seed % 15, seed % 10);
}

static uint32_t tg_bacnet(uint8_t *p, bool resp, uint8_t invoke, uint32_t seed)
{
    uint32_t inst = seed % 64;
    p[0] = 0x81;
    p[1] = 0x0a; /* Original-Unicast-NPDU */
    p[4] = 0x01; /* NPDU version */
    uint32_t n;
    if (!resp) {
        p[5] = 0x04; /* expecting reply */
        p[6] = 0x00; /* confirmed request */
        p[7] = 0x05;
        p[8] = invoke;
        p[9] = 0x0c; /* ReadProperty */
        p[10] = 0x0c;
        tg_put32(p + 11, 0x00000000u | inst); /* analog-input, instance */
        p[15] = 0x19;
        p[16] = 0x55; /* present-value */
        n = 17;
    } else {
        p[5] = 0x00;
        p[6] = 0x30; /* complex ACK */
        p[7] = invoke;
        p[8] = 0x0c;
        p[9] = 0x0c;
        tg_put32(p + 10, inst);
        p[14] = 0x19;
        p[15] = 0x55;
        p[16] = 0x3e;
        p[17] = 0x44; /* REAL */
        tg_put32(p + 18, 0x41a00000u + (seed & 0xfffff));
        p[22] = 0x3f;
        n = 23;
    }
    tg_put16(p + 2, n);
    return n;
}

/* RPC/NFSv3 READ call or reply (data bytes of zeros). */
static uint32_t tg_nfs_read(uint8_t *p, bool reply, uint32_t xid, uint32_t data)
{
    tg_put32(p, xid);
    if (!reply) {
        static const uint32_t hdr[] = {0, 2, 100003, 3, 6, 0, 0, 0, 0, 32};
        for (uint32_t i = 0; i < 10; i++)
            tg_put32(p + 4 + 4 * i, hdr[i]);
        for (uint32_t i = 0; i < 32; i++) /* file handle */
            p[44 + i] = (uint8_t)tg_hash32(xid >> 8 ^ i);
        tg_put32(p + 76, 0);
        tg_put32(p + 80, (xid & 0xff) * 32768); /* offset */
        tg_put32(p + 84, data);                 /* count */
        return 88;
    }
    static const uint32_t hdr[] = {1, 0, 0, 0, 0, 0, 0};
    for (uint32_t i = 0; i < 7; i++)
        tg_put32(p + 4 + 4 * i, hdr[i]);
    tg_put32(p + 32, data); /* count */
    tg_put32(p + 36, 0);    /* eof */
    tg_put32(p + 40, data); /* opaque length */
    memset(p + 44, 0, data);
    return 44 + data;
}

/* ---- request/response streams ---------------------------------------------------------------- */

/* The request (from side 0) or answer (side 1) of a request/response stream, into g->scratch. */
static uint32_t tg_reqresp_payload(struct tg *g, struct tg_stream *s, uint8_t d)
{
    uint8_t *p = g->scratch;
    bool resp = d == 1;
    uint32_t seed = s->seed + s->left;
    memset(p, 0, 2048);
    switch (s->kind) {
    case TG_SK_DNS: {
        uint32_t target = 0;
        if (resp) /* DNSSEC, TXT; IPv6 answers stay within the MTU (no IPv6 fragments here) */
            target = s->sub ? (uint32_t)tg_rng_logu(&g->rng, 300, s->v6 ? 1400 : 4000)
                            : (uint32_t)tg_rng_logu(&g->rng, 60, 500);
        return tg_dns_build(p, TG_SCRATCH_CAP, seed, resp, target, false);
    }
    case TG_SK_NTP:
        p[0] = resp ? 0x24 : 0x23;
        p[1] = resp ? 2 : 0;
        p[2] = 6;
        p[3] = 0xe9;
        tg_put32(p + 40, (uint32_t)(g->now_ns / TG_NS_S + 2208988800ULL));
        tg_put32(p + 44, tg_rng_u32(&g->rng));
        return 48;
    case TG_SK_COAP:
        return tg_coap(p, resp, (uint16_t)seed, seed);
    case TG_SK_BACNET:
        return tg_bacnet(p, resp, (uint8_t)seed, s->seed);
    case TG_SK_DHT:
        return tg_dht(p, resp, seed, resp && (seed & 3) ? 8 : 0);
    case TG_SK_STUN:
        return tg_stun(p, resp, seed, s->ip[0], s->v6, s->port[0]);
    default: /* TG_SK_NFS */
        return tg_nfs_read(p, resp, seed, s->aux);
    }
}

static uint64_t tg_reqresp_step(struct tg *g, struct tg_stream *s, uint8_t d)
{
    struct tg_rng *r = &g->rng;
    uint32_t len = tg_reqresp_payload(g, s, d);
    tg_stream_udp_big(g, s, d, len);
    if (d == 0) {
        s->next_ns[0] = UINT64_MAX;
        if (tg_rng_below(r, 1000) < s->answer_pm) {
            uint64_t proc = (uint64_t)tg_rng_logu(r, 30e3, s->sub ? 30e6 : 2e6);
            s->next_ns[1] = g->now_ns + (s->inside[1] ? 0 : s->rtt_ns) + proc;
            return tg_stream_wait(g, s);
        }
    } else {
        s->next_ns[1] = UINT64_MAX;
    }
    if (s->left <= 1)
        return TG_DONE;
    s->left--;
    s->next_ns[0] = g->now_ns + (uint64_t)(s->period_ns[0] * tg_rng_uniform(r, 0.7, 1.3)) + 1000;
    return tg_stream_wait(g, s);
}

/* ---- periodic streams ------------------------------------------------------------------------ */

static void tg_media_pkt(struct tg *g, struct tg_stream *s, uint8_t d)
{
    struct tg_rng *r = &g->rng;
    if (s->seq[d] % 250 == 249) { /* RTCP every ~5 s (rtcp-mux) */
        uint32_t len = tg_rng_range(r, 64, 120) & ~3u;
        uint8_t *p = tg_stream_udp(g, s, d, len);
        if (p != NULL) {
            tg_rtcp(p, len, s->ssrc[d], s->ssrc[d ^ 1], s->seq[d ^ 1], s->seed);
            tg_pkt_finish(g);
        }
        s->seq[d]++;
        return;
    }
    uint32_t len = tg_stream_size(g, s, d);
    bool marker = false;
    if (s->sub && s->burst[d] > 0) { /* video: the rest of the frame */
        len = s->burst[d] < s->size_hi[d] ? s->burst[d] : s->size_hi[d];
        if (len < 100)
            len = 100;
        s->burst[d] = s->burst[d] > len ? s->burst[d] - len : 0;
        marker = s->burst[d] == 0;
    }
    uint8_t *p = tg_stream_udp(g, s, d, len);
    if (p != NULL) {
        tg_rtp_hdr(p, s->sub ? 96 : s->state, marker, (uint16_t)s->seq[d], s->ts[d], s->ssrc[d]);
        tg_pkt_finish(g);
    }
    s->seq[d]++;
}

static void tg_game_pkt(struct tg *g, struct tg_stream *s, uint8_t d)
{
    uint32_t len = tg_stream_size(g, s, d);
    uint8_t *p = tg_stream_udp(g, s, d, len);
    s->seq[d]++; /* counted in --one-way runs too: the other side echoes it */
    if (p == NULL)
        return;
    tg_put32(p, s->seq[d] - 1);
    if (len >= 8)
        tg_put32(p + 4, s->seq[d ^ 1]); /* last seen from the other side */
    if (len >= 10)
        tg_put16(p + 8, (uint16_t)s->seed);
    tg_pkt_finish(g);
}

static void tg_tunnel_pkt(struct tg *g, struct tg_stream *s, uint8_t d)
{
    struct tg_rng *r = &g->rng;
    uint32_t len = tg_stream_size(g, s, d);
    struct tg_l3 l3 = tg_stream_l3(g, s, d);
    uint8_t *p;
    switch (s->kind) {
    case TG_SK_WG: /* transport data: 16-byte header, 16-byte blocks, 16-byte tag */
        len = 32 + (len > 32 ? (len - 32) & ~15u : 0);
        p = tg_stream_udp(g, s, d, len);
        if (p == NULL)
            return;
        p[0] = 4;
        tg_put32(p + 4, s->ssrc[d ^ 1]);
        for (int i = 0; i < 4; i++) /* little-endian counter */
            p[8 + i] = (uint8_t)(s->seq[d] >> (8 * i));
        break;
    case TG_SK_OVPN: /* P_DATA_V2, peer id */
        p = tg_stream_udp(g, s, d, len);
        if (p == NULL)
            return;
        p[0] = 0x48;
        p[3] = (uint8_t)s->seed;
        tg_put32(p + 4, s->seq[d]);
        break;
    case TG_SK_IKE: /* ESP in UDP 4500 */
        p = tg_stream_udp(g, s, d, len);
        if (p == NULL)
            return;
        tg_put32(p, s->ssrc[d] | 0x100);
        tg_put32(p + 4, s->seq[d] + 1);
        break;
    case TG_SK_ESP:
        p = tg_raw_begin(g, &l3, 50, len);
        if (p == NULL)
            return;
        tg_put32(p, s->ssrc[d] | 0x100);
        tg_put32(p + 4, s->seq[d] + 1);
        break;
    default: { /* GRE carrying IPv4: ICMP echo or UDP between private addresses */
        if (len < 60)
            len = 60;
        p = tg_raw_begin(g, &l3, 47, len);
        if (p == NULL)
            return;
        tg_put16(p + 2, 0x0800);
        uint8_t *ip = p + 4;
        uint32_t il = len - 4;
        bool udp = (s->seed & 1) != 0;
        ip[0] = 0x45;
        tg_put16(ip + 2, il);
        tg_put16(ip + 4, s->seq[d]);
        ip[8] = 63;
        ip[9] = udp ? TG_PROTO_UDP : TG_PROTO_ICMP;
        ip[12] = 192;
        ip[13] = 168;
        ip[14] = (uint8_t)(d ? 20 : 10);
        ip[15] = (uint8_t)(1 + s->seed % 250);
        ip[16] = 192;
        ip[17] = 168;
        ip[18] = (uint8_t)(d ? 10 : 20);
        ip[19] = (uint8_t)(1 + (s->seed >> 8) % 250);
        uint16_t c = tg_ip4_csum(ip);
        memcpy(ip + 10, &c, 2);
        uint8_t *l4 = ip + 20;
        if (udp) {
            tg_put16(l4, s->port[d]);
            tg_put16(l4 + 2, s->port[d ^ 1]);
            tg_put16(l4 + 4, il - 20);
        } else {
            l4[0] = d ? 0 : 8;
            tg_put16(l4 + 4, (uint16_t)s->seed);
            tg_put16(l4 + 6, (uint16_t)s->seq[d]);
            struct tg_l3 none = {0};
            uint16_t ic = tg_l4_csum(&none, TG_PROTO_ICMP, il - 20, l4, 8);
            memcpy(l4 + 2, &ic, 2);
        }
        break;
    }
    }
    (void)r;
    tg_pkt_finish(g);
    s->seq[d]++;
}

static void tg_mcast_pkt(struct tg *g, struct tg_stream *s)
{
    uint32_t len = s->sub ? tg_stream_size(g, s, 0) : (s->state ? 1328 : 1316);
    uint8_t *p = tg_stream_udp(g, s, 0, len);
    if (p == NULL)
        return;
    if (s->sub == 0) { /* MPEG-TS, 7 packets, behind an RTP header when state is set */
        uint32_t o = 0;
        if (s->state) {
            tg_rtp_hdr(p, 33, false, (uint16_t)s->seq[0], s->ts[0], s->ssrc[0]);
            o = 12;
        }
        for (uint32_t k = 0; k < 7; k++) {
            uint8_t *ts = p + o + 188 * k;
            ts[0] = 0x47;
            ts[1] = 0x1f; /* PID 0x1fff: null packets */
            ts[2] = 0xff;
            ts[3] = (uint8_t)(0x10 | ((s->seq[0] * 7 + k) & 15));
        }
        s->ts[0] += 3000;
    } else {
        tg_put32(p, s->seq[0]);
        tg_put32(p + 4, s->seed);
    }
    s->seq[0]++;
    tg_pkt_finish(g);
}

/* One-shot LAN chatter to a group or broadcast address. */
static void tg_chatter_pkt(struct tg *g, struct tg_stream *s)
{
    uint8_t *p = g->scratch;
    uint32_t n = 0;
    uint32_t seed = s->seed;
    memset(p, 0, 1024);
    switch (s->sub) {
    case 0: /* SSDP M-SEARCH */
        n = (uint32_t)snprintf((char *)p, 512,
                               "M-SEARCH * HTTP/1.1\r\nHOST: %s:1900\r\nMAN: \"ssdp:discover\"\r\n"
                               "MX: %u\r\nST: %s\r\nUSER-AGENT: Chromium/120.0 Windows\r\n\r\n",
                               s->v6 ? "[FF02::C]" : "239.255.255.250", 1 + seed % 3,
                               (seed >> 4) & 1 ? "ssdp:all"
                                               : "urn:dial-multiscreen-org:service:dial:1");
        break;
    case 1: { /* SSDP NOTIFY */
        const uint8_t *a = s->ip[0];
        n = (uint32_t)snprintf((char *)p, 600,
                               "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
                               "CACHE-CONTROL: max-age=1800\r\nLOCATION: "
                               "http://%u.%u.%u.%u:%u/description.xml\r\nNT: upnp:rootdevice\r\n"
                               "NTS: ssdp:alive\r\nSERVER: Linux/5.10 UPnP/1.0 IpBridge/1.60\r\n"
                               "USN: uuid:2f402f80-da50-11e1-9b23-%012x::upnp:rootdevice\r\n\r\n",
                               a[0], a[1], a[2], a[3], 49152 + seed % 1000, seed);
        break;
    }
    case 2: /* mDNS query or announcement */
    case 3: /* LLMNR query */
        n = tg_dns_build(p, 1024, seed, s->sub == 2 && (seed & 1),
                         s->sub == 2 ? (uint32_t)tg_rng_logu(&g->rng, 60, 400) : 0, false);
        if (s->sub == 2)
            tg_put16(p, 0); /* mDNS: ID 0 */
        break;
    default: { /* NetBIOS name query (broadcast) */
        tg_put16(p, (uint16_t)seed);
        tg_put16(p + 2, 0x0110);
        tg_put16(p + 4, 1);
        p[12] = 32;
        char name[16];
        snprintf(name, sizeof name, "WORKSTATION%-4u", seed % 1000);
        for (int i = 0; i < 16; i++) {
            uint8_t c = i < 15 ? (uint8_t)name[i] : 0;
            p[13 + 2 * i] = (uint8_t)('A' + (c >> 4));
            p[14 + 2 * i] = (uint8_t)('A' + (c & 15));
        }
        p[45] = 0;
        tg_put16(p + 46, 0x20);
        tg_put16(p + 48, 1);
        n = 50;
        break;
    }
    }
    uint8_t *d = tg_stream_udp(g, s, 0, n);
    if (d != NULL) {
        memcpy(d, p, n);
        tg_pkt_finish(g);
    }
}

/* Traceroute from the host (side 0) to a target (side 1): state is the hop being probed, left
 * the probes left at it, aux the target's distance, sub the style (0: UDP to 33434 and up,
 * Linux; 1: ICMP echo, Windows). Routers on the way answer with time exceeded from their own
 * addresses (a pool of the benign range), the target with port unreachable or an echo reply;
 * a few hops never answer. burst[0] keeps the last probe's IP ID, burst[1] its port or
 * sequence, for the quote. */
static uint64_t tg_trace_step(struct tg *g, struct tg_stream *s, uint8_t d)
{
    struct tg_rng *r = &g->rng;
    uint32_t hop = s->state;
    bool last = hop >= s->aux;
    uint32_t plen = s->sub ? 64 : 32;
    if (d == 0) { /* the probe */
        struct tg_l3 l3 = tg_stream_l3(g, s, 0);
        l3.ttl = (uint8_t)hop;
        l3.frag = s->sub ? 0 : TG_IP_DF;
        s->burst[0] = l3.ipid;
        s->burst[1] = s->sub ? s->seq[0] : 33434 + s->seq[0];
        uint8_t *p = s->sub
                         ? tg_icmp_begin(g, &l3, 8, 0, (s->seed & 0xffff) << 16 | s->burst[1], plen)
                         : tg_udp_begin(g, &l3, s->port[0], (uint16_t)s->burst[1], plen);
        if (p != NULL) {
            for (uint32_t i = 0; i < plen; i++)
                p[i] = (uint8_t)(s->sub ? 'a' + i % 23 : 0x40 + i);
            tg_pkt_finish(g);
        }
        s->seq[0]++;
        s->next_ns[0] = UINT64_MAX;
        if (tg_rng_chance(r, last ? 0.97 : 0.88))
            s->next_ns[1] = g->now_ns + s->rtt_ns * hop / s->aux + tg_rng_below(r, 3000000);
        else /* * : nobody answers; the next probe after the timeout */
            s->next_ns[0] = g->now_ns + (uint64_t)tg_rng_logu(r, 1e9, 5e9);
    } else { /* the answer */
        struct tg_peer router;
        tg_peer_get(s->seed, 100000 + hop, false, &router);
        bool echo = last && s->sub;
        uint8_t type = last ? (s->sub ? 0 : 3) : 11, code = last && !s->sub ? 3 : 0;
        struct tg_l3 l3 = {.src = last ? s->ip[1] : router.ip,
                           .dst = s->ip[0],
                           .ipid = (uint16_t)tg_rng_u32(r),
                           .ttl = last ? s->ttl[1] : (uint8_t)(router.ttl > hop ? 255 - hop : 64),
                           .label = 0,
                           .inbound = true};
        uint32_t qlen = echo ? plen : 28;
        uint32_t rest = echo ? (s->seed & 0xffff) << 16 | s->burst[1] : 0;
        uint8_t *p = tg_icmp_begin(g, &l3, type, code, rest, qlen);
        if (p != NULL) {
            if (echo) {
                for (uint32_t i = 0; i < plen; i++)
                    p[i] = (uint8_t)('a' + i % 23);
            } else { /* the probe's IP header as the router saw it (TTL 1), and 8 bytes */
                p[0] = 0x45;
                tg_put16(p + 2, 28 + plen);
                tg_put16(p + 4, s->burst[0]);
                tg_put16(p + 6, s->sub ? 0 : TG_IP_DF);
                p[8] = 1;
                p[9] = s->sub ? TG_PROTO_ICMP : TG_PROTO_UDP;
                memcpy(p + 12, s->ip[0], 4);
                memcpy(p + 16, s->ip[1], 4);
                uint16_t c = tg_ip4_csum(p);
                memcpy(p + 10, &c, 2);
                uint8_t *q = p + 20;
                if (s->sub) {
                    q[0] = 8;
                    tg_put16(q + 4, (uint16_t)s->seed);
                    tg_put16(q + 6, (uint16_t)s->burst[1]);
                    uint8_t full[8 + 64];
                    memcpy(full, q, 8);
                    for (uint32_t i = 0; i < plen; i++)
                        full[8 + i] = (uint8_t)('a' + i % 23);
                    struct tg_l3 none = {0};
                    uint16_t ic = tg_l4_csum(&none, TG_PROTO_ICMP, 8 + plen, full, 8 + plen);
                    memcpy(q + 2, &ic, 2);
                } else {
                    tg_put16(q, s->port[0]);
                    tg_put16(q + 2, (uint16_t)s->burst[1]);
                    tg_put16(q + 4, 8 + plen);
                }
            }
            tg_pkt_finish(g);
        }
        s->next_ns[1] = UINT64_MAX;
        s->next_ns[0] = g->now_ns + tg_rng_below(r, 50000000) + 1000;
    }
    if (s->next_ns[0] != UINT64_MAX && --s->left == 0) { /* three probes per hop */
        if (last)
            return TG_DONE;
        s->state++;
        s->left = 3;
    }
    return tg_stream_wait(g, s);
}

/* The handshake packets that open a tunnel stream (state counts them). Returns false when the
 * handshake is over. */
static bool tg_tunnel_handshake(struct tg *g, struct tg_stream *s, uint8_t d)
{
    uint8_t *p;
    if (s->kind == TG_SK_WG && s->state < 2) { /* initiation 148 B, response 92 B */
        p = tg_stream_udp(g, s, d, d ? 92 : 148);
        if (p != NULL) {
            p[0] = (uint8_t)(d ? 2 : 1);
            tg_put32(p + 4, s->ssrc[d]);
            if (d)
                tg_put32(p + 8, s->ssrc[0]);
            tg_pkt_finish(g);
        }
        return true;
    }
    if (s->kind == TG_SK_OVPN && s->state < 2) { /* hard reset v2, client then server */
        p = tg_stream_udp(g, s, d, d ? 26 : 14);
        if (p != NULL) {
            p[0] = (uint8_t)(d ? 0x40 : 0x38);
            tg_put32(p + 1, s->ssrc[d]);
            tg_put32(p + 5, s->seed);
            if (d) {
                p[9] = 1; /* one ACK */
                tg_put32(p + 10, 0);
                tg_put32(p + 14, s->ssrc[0]);
                tg_put32(p + 18, s->seed);
            }
            tg_pkt_finish(g);
        }
        return true;
    }
    if (s->kind == TG_SK_IKE && s->state < 4) { /* IKE_SA_INIT, IKE_AUTH on 500 */
        bool init = s->state < 2;
        uint32_t len = init ? tg_rng_range(&g->rng, 260, 520) : tg_rng_range(&g->rng, 220, 1200);
        uint16_t save0 = s->port[0], save1 = s->port[1];
        s->port[0] = s->port[1] = 500;
        p = tg_stream_udp(g, s, d, len);
        s->port[0] = save0;
        s->port[1] = save1;
        if (p != NULL) {
            tg_put32(p, s->seed);
            tg_put32(p + 4, s->ssrc[0]);
            if (s->state > 0) {
                tg_put32(p + 8, s->seed ^ 0x5a5a5a5au);
                tg_put32(p + 12, s->ssrc[1]);
            }
            p[16] = init ? 40 : 46; /* Nonce, or Encrypted and Authenticated */
            p[17] = 0x20;           /* IKEv2 */
            p[18] = init ? 34 : 35;
            p[19] = d ? 0x20 : 0x08; /* response / initiator */
            tg_put32(p + 20, init ? 0 : 1);
            tg_put32(p + 24, len);
            p[28] = 0;
            tg_put16(p + 30, len - 28);
            tg_pkt_finish(g);
        }
        return true;
    }
    return false;
}

static bool tg_tunnel_handshake_pending(const struct tg_stream *s)
{
    return (s->kind == TG_SK_WG && s->state < 2) || (s->kind == TG_SK_OVPN && s->state < 2) ||
           (s->kind == TG_SK_IKE && s->state < 4);
}

static uint64_t tg_periodic_next(struct tg *g, struct tg_stream *s, uint8_t d)
{
    struct tg_rng *r = &g->rng;
    if (s->period_ns[d] == 0) {
        s->next_ns[d] = UINT64_MAX;
    } else if (s->kind == TG_SK_RTP || s->kind == TG_SK_GAME || s->kind == TG_SK_MCAST) {
        if (s->kind == TG_SK_RTP && s->sub && s->burst[d] > 0) {
            s->next_ns[d] = g->now_ns + 40000 + tg_rng_below(r, 400000);
            return tg_stream_wait(g, s);
        }
        s->base_ns[d] += s->period_ns[d];
        if (s->kind == TG_SK_RTP) {
            s->ts[d] += s->sub ? 3000 : (s->state == 111 ? 960 : 160);
            if (s->sub) /* the next video frame, I-frames every 2-4 s larger */
                s->burst[d] = (uint32_t)(s->frame_bytes * ((s->seq[d] % 90) < 2
                                                               ? tg_rng_uniform(r, 3, 6)
                                                               : tg_rng_lognormal(r, 1, 0.3)));
        }
        /* packets that crossed the Internet jitter; the local host's leave on time */
        uint64_t j = s->inside[d] ? 0 : tg_rng_below(r, s->jitter_ns + 1);
        s->next_ns[d] = s->base_ns[d] + j;
        if (s->next_ns[d] <= g->now_ns)
            s->next_ns[d] = g->now_ns + 1000;
    } else { /* tunnels: Poisson, with idle spells carried by keep-alives */
        double gap = tg_rng_exp(r, s->period_ns[d]);
        s->next_ns[d] = g->now_ns + (uint64_t)gap + 1000;
    }
    return tg_stream_wait(g, s);
}

uint64_t tg_stream_step(struct tg *g, struct tg_actor *a)
{
    struct tg_stream *s = &a->u.st;
    if (g->now_ns >= s->end_ns) {
        if (s->kind == TG_SK_UTP) { /* ST_FIN */
            uint8_t *p = tg_stream_udp(g, s, 0, 20);
            if (p != NULL) {
                p[0] = 0x11;
                tg_put16(p + 2, (uint16_t)s->seed);
                tg_pkt_finish(g);
            }
        }
        return TG_DONE;
    }
    uint8_t d = s->next_ns[0] <= s->next_ns[1] ? 0 : 1;
    if (s->next_ns[d] == UINT64_MAX)
        return TG_DONE;
    if (s->next_ns[d] > g->now_ns)
        return s->next_ns[d] - g->now_ns;
    switch (s->kind) {
    case TG_SK_DNS:
    case TG_SK_NTP:
    case TG_SK_COAP:
    case TG_SK_BACNET:
    case TG_SK_DHT:
    case TG_SK_STUN:
    case TG_SK_NFS:
        return tg_reqresp_step(g, s, d);
    case TG_SK_SIP: {
        /* state: next message; side 0 phone outside, side 1 the PBX */
        static const uint8_t from[] = {0, 1, 1, 1, 0, 0, 1};
        uint8_t msg = s->state;
        uint32_t n = tg_sip((char *)g->scratch, 1024, msg, s->seed, s->ip[from[msg]], s->v6);
        uint8_t *p = tg_stream_udp(g, s, from[msg], n);
        if (p != NULL) {
            memcpy(p, g->scratch, n);
            tg_pkt_finish(g);
        }
        s->next_ns[0] = s->next_ns[1] = UINT64_MAX;
        if (++s->state > 6)
            return TG_DONE;
        uint8_t nf = from[s->state];
        uint64_t delay = s->state == 3   ? (uint64_t)tg_rng_logu(&g->rng, 1e9, 8e9) /* ringing */
                         : s->state == 5 ? (uint64_t)s->aux * TG_NS_S               /* the call */
                         : nf == 1       ? (uint64_t)tg_rng_logu(&g->rng, 2e5, 2e7)
                                         : s->rtt_ns + tg_rng_below(&g->rng, 20000000);
        s->next_ns[nf] = g->now_ns + delay;
        return tg_stream_wait(g, s);
    }
    case TG_SK_RTP:
        tg_media_pkt(g, s, d);
        return tg_periodic_next(g, s, d);
    case TG_SK_GAME:
        tg_game_pkt(g, s, d);
        return tg_periodic_next(g, s, d);
    case TG_SK_MCAST:
        tg_mcast_pkt(g, s);
        return tg_periodic_next(g, s, 0);
    case TG_SK_TRACE:
        return tg_trace_step(g, s, d);
    case TG_SK_CHATTER:
        tg_chatter_pkt(g, s);
        if (s->left <= 1)
            return TG_DONE;
        s->left--;
        s->next_ns[0] = g->now_ns + (uint64_t)tg_rng_logu(&g->rng, 2e8, 3e9);
        return tg_stream_wait(g, s);
    case TG_SK_UTP: {
        /* side 0 the protected host; the sender of data is `sub`, the other side acks */
        uint8_t *p;
        if (s->state < 2) { /* ST_SYN, then ST_STATE */
            p = tg_stream_udp(g, s, d, 20);
            if (p != NULL) {
                p[0] = (uint8_t)(s->state == 0 ? 0x41 : 0x21);
                tg_put16(p + 2, (uint16_t)(s->seed + (d ^ 1)));
                tg_put32(p + 4, (uint32_t)(g->now_ns / 1000));
                tg_put32(p + 12, 1048576);
                tg_put16(p + 16, (uint16_t)s->seq[d]);
                tg_pkt_finish(g);
            }
            s->state++;
            if (s->state == 1) {
                s->next_ns[0] = UINT64_MAX;
                s->next_ns[1] = g->now_ns + (s->inside[1] ? 50000 : s->rtt_ns);
            } else {
                s->next_ns[1] = UINT64_MAX;
                s->next_ns[s->sub] = g->now_ns + s->rtt_ns / 2 + 1000;
                s->next_ns[s->sub ^ 1] = g->now_ns + s->rtt_ns + 2000;
                s->base_ns[0] = s->base_ns[1] = g->now_ns;
            }
            return tg_stream_wait(g, s);
        }
        bool data = d == s->sub;
        uint32_t len = data ? tg_stream_size(g, s, d) : 20;
        uint32_t delay_us = tg_rng_below(&g->rng, 100000); /* drawn in --one-way runs too */
        p = tg_stream_udp(g, s, d, len);
        if (p != NULL) {
            p[0] = (uint8_t)(data ? 0x01 : 0x21);
            tg_put16(p + 2, (uint16_t)(s->seed + (d ^ 1)));
            tg_put32(p + 4, (uint32_t)(g->now_ns / 1000));
            tg_put32(p + 8, delay_us);
            tg_put32(p + 12, 1048576);
            tg_put16(p + 16, (uint16_t)s->seq[d]);
            tg_put16(p + 18, (uint16_t)s->seq[d ^ 1]);
            tg_pkt_finish(g);
        }
        s->seq[d]++;
        double gap = tg_rng_exp(&g->rng, s->period_ns[d]);
        s->next_ns[d] = g->now_ns + (uint64_t)gap + 1000;
        return tg_stream_wait(g, s);
    }
    default: /* tunnels */
        if (tg_tunnel_handshake(g, s, d)) {
            s->state++;
            s->next_ns[d] = UINT64_MAX;
            uint8_t nd = d ^ 1; /* handshakes alternate: 0, 1, 0, 1 */
            if (tg_tunnel_handshake_pending(s))
                s->next_ns[nd] =
                    g->now_ns + (s->inside[nd] ? tg_rng_range(&g->rng, 50000, 3000000)
                                               : s->rtt_ns + tg_rng_range(&g->rng, 50000, 3000000));
            else
                s->next_ns[0] = s->next_ns[1] = g->now_ns + s->rtt_ns + 1000;
            return tg_stream_wait(g, s);
        }
        tg_tunnel_pkt(g, s, d);
        return tg_periodic_next(g, s, d);
    }
}
