/* tg_benign_apps.c - the wider benign world: site applications drawn per seed.
 *
 * Owns the benign traffic that is not one client browsing: BitTorrent hosts (DHT queries to
 * and from many peers, uTP transfers, peer wire connections), calls (SIP signalling, RTP/RTCP
 * audio and Teams/Zoom-like video both ways, STUN checks), file servers (SMB2 on 445, NFS over
 * TCP and over UDP with fragmented replies), IoT and industrial polling (Modbus/TCP, MQTT,
 * CoAP, BACnet), multicast streams (IPTV-like MPEG-TS, small feeds), LAN chatter (SSDP, mDNS,
 * LLMNR, NetBIOS name service to group and broadcast addresses), VPNs and tunnels (WireGuard,
 * OpenVPN, IKEv2 with ESP in UDP, plain ESP, GRE), games, and reflector-port services that are
 * busy but answered (a DNS server and an NTP server answering crowds of clients, a recursive
 * resolver whose large answers come back from port 53). Runs inside the event loop; emits
 * through tg_streams.c (streams) and tg_tcp.c (TCP sessions).
 *
 * DESIGN
 * A site application is drawn once per capture: whether it is there at all, on which protected
 * host, and its rates, peers, sizes and durations, so two seeds give different benign mixes. Its
 * actor (TG_ACT_SITE) starts streams and sessions at its drawn rate; each stream is an actor
 * (TG_ACT_STREAM) with two sides and one pending packet time per side, which covers the three
 * shapes the protocols have: periodic both ways (media, games, tunnels), request/response
 * (DNS, NTP, CoAP, BACnet, DHT, STUN, NFS; the answer after a round trip when the server is
 * outside, after a short processing time when it is inside), and one-way (multicast, chatter).
 * Peers that are not clients of the population come from a deterministic pool of addresses in
 * the benign client range, each with its own TTL and RTT, so a peer keeps its path. Every
 * payload carries the header its port's dissector expects (RTP, STUN, SIP text, WireGuard and
 * OpenVPN opcodes, ISAKMP, bencoded DHT, uTP, MQTT, Modbus, CoAP, BACnet, RPC/NFS, DNS, NTP,
 * MPEG-TS sync bytes); the rest is zeros. Captures without benign clients have no site
 * applications either (--benign-clients 0 means attack traffic only). */
#include <errno.h>
#include <stdlib.h>

#include "trafgen/tg_internal.h"

enum tg_site_kind {
    TG_SITE_P2P,
    TG_SITE_CALLS,
    TG_SITE_FILES,
    TG_SITE_IOT,
    TG_SITE_MCAST,
    TG_SITE_CHATTER,
    TG_SITE_VPN,
    TG_SITE_GAMES,
    TG_SITE_DNS_CROWD,
    TG_SITE_NTP_CROWD,
    TG_SITE_RESOLVER,
    TG_SITE_TRACE,
    TG_SITE_COUNT
};

static const char *const tg_site_names[TG_SITE_COUNT] = {
    "p2p", "calls", "file_sharing",     "iot_polling",      "multicast",    "lan_chatter",
    "vpn", "games", "dns_server_crowd", "ntp_server_crowd", "dns_resolver", "traceroute",
};

/* Probability that a capture has the site application at all. */
static const double tg_site_p[TG_SITE_COUNT] = {0.35, 0.5, 0.35, 0.35, 0.3,  0.6,
                                                0.4,  0.3, 0.3,  0.25, 0.35, 0.35};

enum { TG_SITES_MAX = 24 };

/* ---- TCP sessions ---------------------------------------------------------------------------- */

/* Opens a TCP connection from client c (outside) to the site's host on port. */
static void tg_site_tcp_open(struct tg *g, const struct tg_site *site, uint8_t app, uint16_t port,
                             uint64_t at)
{
    struct tg_rng *r = &g->rng;
    if (g->nclients == 0)
        return;
    const struct tg_client *c = &g->clients[tg_rng_below(r, g->nclients)];
    struct tg_actor *a = tg_actor_spawn(g, TG_ACT_TCP, 0, at);
    if (a == NULL)
        return;
    g->app_sessions[app]++;
    struct tg_tcp *t = &a->u.tcp;
    memset(t, 0, sizeof *t);
    const struct tg_server *s = &site->srv;
    bool v6 = c->has_v6 && s->has_v6 && tg_rng_chance(r, c->v6_share);
    t->app = app;
    t->v6 = v6;
    memcpy(t->ip[0], v6 ? c->ip6 : c->ip4, v6 ? 16 : 4);
    memcpy(t->ip[1], v6 ? s->ip6 : s->ip4, v6 ? 16 : 4);
    uint16_t ctr = 0;
    t->port[0] = (uint16_t)tg_stack_ephemeral(r, &c->stack, &ctr);
    t->port[1] = port;
    t->rtt_ns = (uint64_t)(c->rtt_us * tg_rng_lognormal(r, 1.0, 0.15)) * TG_NS_US;
    t->ipid_rand[0] = c->stack.ipid_rand;
    tg_tcp_stacks(r, t, &c->stack, s, 6e6);
    t->gap_ns = (uint32_t)((t->mss + 60) * 8e6 / c->bw_kbps);
    t->cwnd = 10;
    t->cwnd_max = (uint16_t)((app == TG_APP_SMB || app == TG_APP_NFS || app == TG_APP_PEERWIRE)
                                 ? tg_rng_logu(r, 30, 1000)
                                 : tg_rng_logu(r, 10, 60));
    t->flow_label = tg_rng_u32(r) & 0xfffff;
    t->proc_us = 500;
    t->deadline_ns = UINT64_MAX;
    t->state = TG_TS_SYN;
}

static uint64_t tg_think_ms(struct tg *g, double median, double sigma, double lo, double hi)
{
    return (uint64_t)(tg_clamp(tg_rng_lognormal(&g->rng, median, sigma), lo, hi) * 1e6);
}

uint64_t tg_site_tcp_next(struct tg *g, struct tg_actor *a)
{
    struct tg_tcp *t = &a->u.tcp;
    struct tg_rng *r = &g->rng;
    uint64_t soon = 20000 + tg_rng_below(r, 1500000);
    t->proc_us = (uint32_t)tg_rng_logu(r, 100, 5000);
    switch (t->app) {
    case TG_APP_SMB: {
        /* negotiate, two session setups, tree connect; then file operations */
        static const uint16_t setup[4][4] = {
            {100, 250, 200, 350}, {200, 700, 250, 400}, {300, 600, 80, 150}, {100, 180, 80, 100}};
        if (t->stage < 4) {
            const uint16_t *k = setup[t->stage++];
            tg_tcp_exchange(t, tg_rng_range(r, k[0], k[1]), tg_rng_range(r, k[2], k[3]),
                            TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
            if (t->stage == 4)
                t->exchanges = (uint16_t)tg_rng_logu(r, 3, 300);
            return soon;
        }
        if (t->exchanges-- == 0) {
            tg_tcp_close(g, t, 0, false);
            return tg_think_ms(g, 500, 1.5, 1, 30000);
        }
        double u = tg_rng_unit(r);
        uint32_t req = tg_rng_range(r, 100, 400), resp = tg_rng_range(r, 100, 700);
        if (u < 0.2) {
            req = tg_rng_range(r, 100, 120);
            resp = (uint32_t)tg_rng_logu(r, 4096, 4e6);
        } else if (u < 0.3) {
            req = (uint32_t)tg_rng_logu(r, 4096, 2e6);
            resp = tg_rng_range(r, 80, 90);
        }
        tg_tcp_exchange(t, req, resp, TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
        return tg_think_ms(g, 30, 1.5, 0.1, 20000);
    }
    case TG_APP_NFS: {
        if (t->stage == 0) {
            t->stage = 1;
            t->exchanges = (uint16_t)tg_rng_logu(r, 5, 500);
        }
        if (t->exchanges-- == 0) {
            tg_tcp_close(g, t, 0, false);
            return tg_think_ms(g, 500, 1.5, 1, 30000);
        }
        double u = tg_rng_unit(r);
        uint32_t data = 4096u << tg_rng_below(r, 5); /* 4-64 KB */
        t->aux = u < 0.5 ? 6 : (u < 0.7 ? 7 : 1);    /* READ, WRITE, GETATTR */
        t->body = data;
        uint32_t req = t->aux == 6 ? 92 : (t->aux == 7 ? 100 + data : 80);
        uint32_t resp = t->aux == 6 ? 48 + data : (t->aux == 7 ? 56 : 116);
        tg_tcp_exchange(t, req, resp, TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
        return tg_think_ms(g, 5, 1.5, 0.05, 5000);
    }
    case TG_APP_MODBUS: {
        if (t->stage == 0) {
            t->stage = 1;
            t->aux = (uint32_t)tg_rng_logu(r, 100, 5000); /* poll period, ms */
            t->body = tg_rng_range(r, 1, 60);             /* registers */
        }
        tg_tcp_exchange(t, 12, 9 + 2 * t->body, TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
        t->proc_us = (uint32_t)tg_rng_logu(r, 200, 20000);
        return (uint64_t)(t->aux * tg_rng_uniform(r, 0.97, 1.03)) * TG_NS_MS;
    }
    case TG_APP_MQTT: {
        bool tls = t->port[1] == 8883;
        uint8_t kind = tls ? TG_XFER_TLS : TG_XFER_APP;
        if (t->stage == 0) { /* CONNECT / CONNACK */
            t->stage = 1;
            t->aux = (uint32_t)tg_rng_logu(r, 1000, 60000); /* publish period, ms */
            t->body = tg_rng_range(r, 30, 120);             /* keep-alive, s */
            t->deadline_ns = g->now_ns + t->body * TG_NS_S;
            tg_tcp_exchange(t, tls ? 60 : 30, tls ? 26 : 4, kind, kind, tg_rng_u32(r));
            return soon;
        }
        uint64_t period = (uint64_t)(t->aux * tg_rng_uniform(r, 0.9, 1.1)) * TG_NS_MS;
        if (g->now_ns + period >= t->deadline_ns) { /* nothing sent for a while: PINGREQ */
            t->stage = 2;
            t->deadline_ns = g->now_ns + t->body * TG_NS_S;
            tg_tcp_exchange(t, tls ? 24 : 2, tls ? 24 : 2, kind, kind, 0);
            return t->deadline_ns - g->now_ns - TG_NS_S;
        }
        bool down = tg_rng_chance(r, 0.3); /* the broker forwards a subscription */
        uint32_t n = tg_rng_range(r, 20, 500);
        if (n == 130) /* no remaining-length encoding gives 130 bytes */
            n = 131;
        t->stage = down ? 4 : 3;
        if (!down)
            t->deadline_ns = g->now_ns + t->body * TG_NS_S;
        tg_tcp_exchange(t, down ? 0 : n, down ? n : 0, kind, kind, tg_rng_u32(r));
        return period;
    }
    case TG_APP_PEERWIRE: {
        if (t->stage == 0) { /* handshakes */
            t->stage = 1;
            tg_tcp_exchange(t, 68, 68, TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
            return soon;
        }
        if (t->stage == 1) { /* interested / bitfield + unchoke */
            t->stage = 2;
            t->body = tg_rng_range(r, 16, 400); /* bitfield bytes */
            t->exchanges = (uint16_t)tg_rng_logu(r, 1, 2000);
            tg_tcp_exchange(t, 5, 10 + t->body, TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
            return soon;
        }
        if (t->exchanges-- == 0) {
            tg_tcp_close(g, t, tg_rng_chance(r, 0.5) ? 0 : 1, tg_rng_chance(r, 0.3));
            return soon;
        }
        t->stage = 3; /* request / piece */
        tg_tcp_exchange(t, 17, 13 + 16384, TG_XFER_APP, TG_XFER_APP, tg_rng_u32(r));
        t->proc_us = (uint32_t)tg_rng_logu(r, 100, 3000);
        return 1000 + tg_rng_below(r, 20000000);
    }
    default:
        return TG_DONE;
    }
}

/* MQTT fixed header with the remaining length for a message of total bytes. */
static uint32_t tg_mqtt_hdr(uint8_t *p, uint8_t type, uint32_t total)
{
    uint32_t rem = total - 2;
    if (rem >= 128)
        rem = total - 3;
    p[0] = type;
    if (rem < 128) {
        p[1] = (uint8_t)rem;
        return 2;
    }
    p[1] = (uint8_t)(0x80 | (rem & 0x7f));
    p[2] = (uint8_t)(rem >> 7);
    return 3;
}

uint32_t tg_site_tcp_content(const struct tg_tcp *t, uint8_t *p, uint32_t cap)
{
    bool resp = t->sender == 1;
    uint32_t len = t->xfer_len, seed = t->xfer_seed;
    if (cap < 256)
        return 0;
    memset(p, 0, 256);
    switch (t->app) {
    case TG_APP_SMB: /* one NetBIOS session message */
        p[0] = 0;
        p[1] = (uint8_t)((len - 4) >> 16);
        tg_put16(p + 2, (len - 4) & 0xffff);
        return 4;
    case TG_APP_NFS: { /* record mark, then the RPC call or reply */
        tg_put32(p, 0x80000000u | (len - 4));
        uint8_t *q = p + 4;
        tg_put32(q, seed);
        if (!resp) {
            static const uint32_t hdr[] = {0, 2, 100003, 3, 0, 0, 0, 0, 0, 32};
            for (uint32_t i = 0; i < 10; i++)
                tg_put32(q + 4 + 4 * i, hdr[i]);
            tg_put32(q + 20, t->aux);
            for (uint32_t i = 0; i < 32; i++)
                q[44 + i] = (uint8_t)tg_hash32(t->flow_label ^ i);
            if (t->aux == 1)
                return 4 + 76;
            tg_put32(q + 80, (seed & 0xff) * 65536); /* offset */
            tg_put32(q + 84, t->body);               /* count */
            if (t->aux == 6)
                return 4 + 88;
            tg_put32(q + 88, 2);       /* FILE_SYNC */
            tg_put32(q + 92, t->body); /* opaque data */
            return 4 + 96;
        }
        tg_put32(q + 4, 1); /* reply, accepted, AUTH_NULL, success: zeros */
        if (t->aux == 6) {
            tg_put32(q + 32, t->body);
            tg_put32(q + 40, t->body);
            return 4 + 44;
        }
        if (t->aux == 7) { /* status, wcc (no attributes), count, committed, verifier */
            tg_put32(q + 36, t->body);
            tg_put32(q + 40, 2);
            return 4 + 52;
        }
        tg_put32(q + 28, 1);       /* NF3REG */
        tg_put32(q + 32, 0644);    /* mode */
        tg_put32(q + 36, 1);       /* nlink */
        tg_put32(q + 52, t->body); /* size */
        return 4 + 112;
    }
    case TG_APP_MODBUS:
        tg_put16(p, (uint16_t)seed);
        tg_put16(p + 4, len - 6);
        p[6] = 1;
        p[7] = 3; /* read holding registers */
        if (!resp) {
            tg_put16(p + 8, seed >> 16 & 0x3ff);
            tg_put16(p + 10, t->body);
            return 12;
        }
        p[8] = (uint8_t)(2 * t->body);
        return 9;
    case TG_APP_MQTT: {
        if (t->stage == 1 && !resp) { /* CONNECT, client id "dev" + digits */
            uint32_t o = tg_mqtt_hdr(p, 0x10, len);
            static const uint8_t v[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 2};
            memcpy(p + o, v, 8);
            tg_put16(p + o + 8, t->body);
            uint32_t id = len - o - 12;
            tg_put16(p + o + 10, id);
            for (uint32_t i = 0; i < id; i++)
                p[o + 12 + i] = (uint8_t)('0' + (seed + i) % 10);
            return len;
        }
        if (t->stage == 1) { /* CONNACK */
            p[0] = 0x20;
            p[1] = 2;
            return 4;
        }
        if (t->stage == 2) { /* PINGREQ / PINGRESP */
            p[0] = resp ? 0xd0 : 0xc0;
            return 2;
        }
        uint32_t o = tg_mqtt_hdr(p, 0x30, len); /* PUBLISH, QoS 0 */
        uint32_t tl = len - o - 2 < 24 ? len - o - 2 : 24;
        tg_put16(p + o, tl);
        static const char topic[] = "site/sensors/temperature";
        memcpy(p + o + 2, topic, tl);
        return o + 2 + tl;
    }
    case TG_APP_PEERWIRE:
        if (t->stage == 1) { /* handshake */
            static const char proto[] = "\x13"
                                        "BitTorrent protocol";
            memcpy(p, proto, 20);
            for (uint32_t i = 0; i < 20; i++) {
                p[28 + i] = (uint8_t)tg_hash32(t->flow_label + i);
                p[48 + i] = (uint8_t)tg_hash32(seed + i);
            }
            return 68;
        }
        if (t->stage == 2) {
            if (!resp) { /* interested */
                tg_put32(p, 1);
                p[4] = 2;
                return 5;
            }
            tg_put32(p, 1 + t->body); /* bitfield, then unchoke */
            p[4] = 5;
            memset(p + 5, 0xff, t->body < cap - 16 ? t->body : 0);
            tg_put32(p + 5 + t->body, 1);
            p[9 + t->body] = 1;
            return 10 + t->body;
        }
        if (!resp) { /* request a 16 KB block */
            tg_put32(p, 13);
            p[4] = 6;
            tg_put32(p + 5, seed % 4000);
            tg_put32(p + 9, (seed >> 12 & 15) * 16384);
            tg_put32(p + 13, 16384);
            return 17;
        }
        tg_put32(p, 9 + 16384); /* piece */
        p[4] = 7;
        tg_put32(p + 5, seed % 4000);
        tg_put32(p + 9, (seed >> 12 & 15) * 16384);
        return 13;
    default:
        return 0;
    }
}

/* ---- site applications ----------------------------------------------------------------------- */

/* A protected host that is not one of the servers (a workstation, a PLC, a set-top box...). */
static void tg_site_workstation(struct tg *g, struct tg_server *h)
{
    struct tg_rng *r = &g->rng;
    memset(h, 0, sizeof *h);
    uint8_t sub = (uint8_t)(6 + tg_rng_below(r, 2)), host = (uint8_t)tg_rng_range(r, 10, 250);
    h->ip4[0] = 10;
    h->ip4[1] = 20;
    h->ip4[2] = sub;
    h->ip4[3] = host;
    h->has_v6 = tg_rng_chance(r, 0.4);
    h->ip6[0] = 0xfd;
    h->ip6[3] = 0x20;
    h->ip6[7] = sub;
    h->ip6[14] = 0x01;
    h->ip6[15] = host;
    bool win = tg_rng_chance(r, 0.45);
    h->stack.os = win ? TG_OS_WINDOWS : TG_OS_LINUX;
    h->stack.ttl = (uint8_t)((win ? 128 : 64) - tg_rng_below(r, 2));
    h->stack.synopt = win ? TG_SYNOPT_WINDOWS : TG_SYNOPT_LINUX;
    h->stack.wscale = win ? 8 : 7;
    h->stack.win = 64240;
    h->stack.mss = 1460;
    h->stack.ts = !win;
}

static void tg_site_server(struct tg *g, struct tg_server *h, int role)
{
    if (role >= 0 && g->n_role[role] > 0)
        *h = g->servers[g->by_role[role][tg_rng_below(&g->rng, g->n_role[role])]];
    else if (g->nservers > 0)
        *h = g->servers[tg_rng_below(&g->rng, g->nservers)];
    else
        tg_site_workstation(g, h);
}

static uint16_t tg_even_port(struct tg *g, uint32_t lo, uint32_t hi)
{
    return tg_port_clean((uint16_t)(tg_rng_range(&g->rng, lo, hi) & ~1u));
}

static void tg_site_json(struct tg *g, const struct tg_site *s)
{
    json_t *o = json_object();
    char buf[48];
    json_object_set_new(o, "app", json_string(tg_site_names[s->kind]));
    snprintf(buf, sizeof buf, "%u.%u.%u.%u", s->srv.ip4[0], s->srv.ip4[1], s->srv.ip4[2],
             s->srv.ip4[3]);
    json_object_set_new(o, "host", json_string(buf));
    json_object_set_new(o, "start_s",
                        json_real(round((double)(s->start_ns - g->start_ns) / 1e6) / 1e3));
    json_object_set_new(o, "end_s",
                        json_real(round((double)(s->end_ns - g->start_ns) / 1e6) / 1e3));
    json_object_set_new(o, "rate_per_s", json_real(round(s->rate * 1000) / 1000));
    if (s->pool)
        json_object_set_new(o, "peer_pool", json_integer(s->pool));
    if (s->port)
        json_object_set_new(o, "port", json_integer(s->port));
    json_object_set_new(o, "a", json_integer(s->a));
    json_object_set_new(o, "share", json_real(round(s->share * 1000) / 1000));
    json_array_append_new(g->sites_json, o);
}

int tg_sites_plan(struct tg *g)
{
    struct tg_rng *r = &g->rng;
    g->sites_json = json_array();
    if (g->sites_json == NULL)
        return -ENOMEM;
    if (g->nclients == 0)
        return 0;
    g->sites = calloc(TG_SITES_MAX, sizeof *g->sites);
    if (g->sites == NULL)
        return -ENOMEM;
    double scale = tg_clamp(g->nclients / 200.0, 0.1, 3.0);
    uint64_t dur = g->end_ns - g->start_ns;
    for (uint8_t kind = 0; kind < TG_SITE_COUNT; kind++) {
        /* a small network (a few clients) runs fewer of them */
        if (!tg_rng_chance(r, tg_site_p[kind] * tg_clamp(g->nclients / 50.0, 0.02, 1.0)))
            continue;
        uint32_t n = (kind == TG_SITE_P2P || kind == TG_SITE_VPN || kind == TG_SITE_GAMES)
                         ? tg_rng_range(r, 1, 2)
                         : 1;
        for (uint32_t i = 0; i < n && g->nsites < TG_SITES_MAX; i++) {
            struct tg_site *s = &g->sites[g->nsites++];
            s->kind = kind;
            s->start_ns =
                g->start_ns +
                (tg_rng_chance(r, 0.6) ? 0 : (uint64_t)(tg_rng_uniform(r, 0, 0.5) * (double)dur));
            s->end_ns = tg_rng_chance(r, 0.7)
                            ? g->end_ns
                            : s->start_ns + (uint64_t)(tg_rng_uniform(r, 0.3, 1.0) *
                                                       (double)(g->end_ns - s->start_ns));
            s->pool_seed = tg_rng_u32(r);
            s->share = tg_rng_unit(r);
            switch (kind) {
            case TG_SITE_P2P:
                tg_site_workstation(g, &s->srv);
                s->port = tg_rng_chance(r, 0.3)
                              ? (uint16_t)tg_rng_range(r, 6881, 6889)
                              : tg_port_clean((uint16_t)tg_rng_range(r, 10000, 65000));
                s->rate = tg_rng_logu(r, 2, 40);
                s->pool = (uint32_t)tg_rng_logu(r, 2000, 200000);
                break;
            case TG_SITE_CALLS:
                tg_site_server(g, &s->srv, TG_ROLE_VOIP);
                s->rate = tg_rng_logu(r, 0.02, 0.4) * scale; /* calls per second */
                s->pool = (uint32_t)tg_rng_logu(r, 20, 2000);
                s->a = tg_rng_below(r, 3); /* 0 SIP phones, 1 Teams-like, 2 Zoom-like */
                break;
            case TG_SITE_FILES:
                tg_site_server(g, &s->srv, TG_ROLE_APP);
                s->rate = tg_rng_logu(r, 0.03, 0.8) * scale;
                break;
            case TG_SITE_IOT:
                tg_site_workstation(g, &s->srv);
                s->a = tg_rng_range(r, 1, 15);    /* mask: Modbus, MQTT, CoAP, BACnet */
                s->rate = tg_rng_range(r, 2, 30); /* devices */
                s->pool = 64;
                break;
            case TG_SITE_MCAST:
                tg_site_workstation(g, &s->srv);
                s->rate = tg_rng_range(r, 1, 4); /* streams */
                s->pool = 16;
                break;
            case TG_SITE_CHATTER:
                s->rate = tg_rng_logu(r, 0.3, 8);
                break;
            case TG_SITE_VPN:
                if (tg_rng_chance(r, 0.5))
                    tg_site_workstation(g, &s->srv);
                else
                    tg_site_server(g, &s->srv, TG_ROLE_APP);
                s->a = tg_rng_below(r, 100);     /* WG, OpenVPN, IKE, ESP, GRE */
                s->rate = tg_rng_range(r, 1, 4); /* tunnels */
                s->pool = 256;
                break;
            case TG_SITE_GAMES:
                if (tg_rng_chance(r, 0.6))
                    tg_site_workstation(g, &s->srv); /* players inside */
                else
                    tg_site_server(g, &s->srv, TG_ROLE_APP); /* a game server inside */
                s->rate = tg_rng_range(r, 1, 6);             /* sessions */
                s->pool = 512;
                break;
            case TG_SITE_DNS_CROWD:
                tg_site_server(g, &s->srv, TG_ROLE_DNS);
                s->rate = tg_rng_logu(r, 30, 1500) * scale;
                s->pool = (uint32_t)tg_rng_logu(r, 200, 30000);
                break;
            case TG_SITE_NTP_CROWD:
                tg_site_server(g, &s->srv, TG_ROLE_NTP);
                s->rate = tg_rng_logu(r, 10, 800) * scale;
                s->pool = (uint32_t)tg_rng_logu(r, 200, 30000);
                break;
            case TG_SITE_TRACE:
                s->rate = tg_rng_logu(r, 0.02, 0.3) * scale; /* traceroutes per second */
                s->pool = 5000;
                break;
            default: /* TG_SITE_RESOLVER */
                tg_site_server(g, &s->srv, TG_ROLE_DNS);
                s->rate = tg_rng_logu(r, 10, 600) * scale;
                s->pool = (uint32_t)tg_rng_logu(r, 50, 3000);
                break;
            }
            tg_site_json(g, s);
        }
    }
    return 0;
}

uint32_t tg_sites_pool_need(const struct tg *g)
{
    double n = 0;
    for (uint32_t i = 0; i < g->nsites; i++) /* request/response streams live up to ~16 s */
        n += 64 + g->sites[i].rate * 16;
    return (uint32_t)tg_clamp(n, 0, 1u << 20);
}

int tg_sites_start(struct tg *g)
{
    for (uint32_t i = 0; i < g->nsites; i++) {
        struct tg_actor *a = tg_actor_spawn(g, TG_ACT_SITE, 0, g->sites[i].start_ns);
        if (a == NULL)
            return -ENOMEM;
        a->u.client.client = i;
    }
    return 0;
}

/* A call: SIP signalling (PBX calls), STUN checks, then audio (and video) both ways. */
static void tg_site_call(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    struct tg_peer peer;
    if (!tg_peer_client(g, tg_rng_chance(r, 0.3), &peer))
        tg_peer_pick(g, site, 1.5, false, &peer);
    uint32_t secs = (uint32_t)tg_rng_logu(r, 10, 900);
    uint64_t now = g->now_ns;
    uint16_t media_port = site->a == 1   ? (uint16_t)tg_rng_range(r, 3478, 3481)
                          : site->a == 2 ? 8801
                                         : tg_even_port(g, 10000, 60000);
    uint64_t media_at = now;
    if (site->a == 0) { /* SIP over UDP 5060 */
        struct tg_stream *sip = tg_stream_new(g, site, TG_SK_SIP, &peer, true, now);
        if (sip != NULL) {
            sip->port[0] = sip->port[1] = 5060;
            sip->aux = (uint16_t)secs;
            sip->next_ns[0] = now;
        }
        media_at = now + (uint64_t)tg_rng_logu(r, 1.2e9, 8e9);
    } else { /* ICE: STUN binding checks */
        struct tg_stream *st = tg_stream_new(g, site, TG_SK_STUN, &peer, false, now);
        if (st != NULL) {
            st->port[0] = tg_even_port(g, 50000, 60000);
            st->port[1] = media_port;
            st->answer_pm = 990;
            st->left = tg_rng_range(r, 2, 10);
            st->period_ns[0] = (uint32_t)tg_rng_logu(r, 2e7, 5e8);
            st->next_ns[0] = now;
        }
    }
    bool video = site->a != 0 && tg_rng_chance(r, 0.6);
    for (int m = 0; m < (video ? 2 : 1); m++) {
        struct tg_stream *s = tg_stream_new(g, site, TG_SK_RTP, &peer, true, media_at);
        if (s == NULL)
            return;
        static const uint8_t pts[] = {0, 8, 9, 111};
        s->sub = (uint8_t)m;
        s->state = pts[tg_rng_below(r, 4)];
        s->port[0] = site->a == 0 ? tg_even_port(g, 10000, 60000) : media_port;
        s->port[1] = tg_even_port(g, 10000, 60000);
        s->end_ns = media_at + (uint64_t)secs * TG_NS_S;
        s->jitter_ns = (uint32_t)tg_rng_logu(r, 1e5, 8e6);
        s->tos = tg_rng_chance(r, 0.6) ? (m ? 0x88 : 0xb8) : 0;
        for (int d = 0; d < 2; d++) {
            s->ssrc[d] = tg_rng_u32(r);
            s->seq[d] = tg_rng_below(r, 60000);
            s->base_ns[d] = s->next_ns[d] = media_at + tg_rng_below(r, 20000) * TG_NS_US;
            if (m == 0) {
                s->period_ns[d] =
                    s->state == 111 && tg_rng_chance(r, 0.3) ? 60 * TG_NS_MS : 20 * TG_NS_MS;
                s->size_lo[d] = (uint16_t)tg_rng_range(r, 60, 140);
                s->size_hi[d] = (uint16_t)(s->size_lo[d] + tg_rng_range(r, 0, 80));
            } else { /* video: 15-30 fps, 0.2-2.5 Mbit/s, packets up to 1200 B */
                s->period_ns[d] = (uint32_t)(TG_NS_S / tg_rng_range(r, 15, 30));
                s->size_lo[d] = 200;
                s->size_hi[d] = (uint16_t)tg_rng_range(r, 1000, 1200);
            }
        }
        if (m == 1) {
            double kbps = tg_rng_logu(r, 200, 2500);
            s->frame_bytes = (uint32_t)(kbps * 125.0 * s->period_ns[0] / 1e9);
            s->burst[0] = s->burst[1] = s->frame_bytes;
            if (tg_rng_chance(r, 0.3)) { /* one side keeps its camera off */
                uint32_t off = tg_rng_below(r, 2);
                s->period_ns[off] = 0;
                s->next_ns[off] = UINT64_MAX;
            }
        }
    }
}

static void tg_site_p2p(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    struct tg_peer peer;
    tg_peer_pick(g, site, 1.2, site->srv.has_v6 && tg_rng_chance(r, 0.3), &peer);
    uint16_t peer_port = tg_port_clean((uint16_t)tg_rng_range(r, 1025, 65535));
    double u = tg_rng_unit(r);
    if (u < 0.85) { /* DHT: our query to a peer (70%), or a peer's query to us */
        bool out = u < 0.7;
        struct tg_stream *s = tg_stream_new(g, site, TG_SK_DHT, &peer, !out, g->now_ns);
        if (s == NULL)
            return;
        uint8_t hs = out ? 0 : 1;
        s->port[hs] = site->port;
        s->port[hs ^ 1] = peer_port;
        s->left = 1;
        s->answer_pm = (uint16_t)(out ? tg_rng_range(r, 450, 850) : 990);
        s->next_ns[0] = g->now_ns;
        return;
    }
    if (u < 0.95) { /* a uTP transfer: our host (side 0) opens it */
        struct tg_stream *s = tg_stream_new(g, site, TG_SK_UTP, &peer, false, g->now_ns);
        if (s == NULL)
            return;
        s->port[0] = site->port;
        s->port[1] = peer_port;
        s->sub = (uint8_t)tg_rng_below(r, 2); /* who sends the data */
        s->period_ns[s->sub] = (uint32_t)tg_rng_logu(r, 1e6, 1e8);
        s->period_ns[s->sub ^ 1] = s->period_ns[s->sub] * 2;
        s->size_lo[s->sub] = 900;
        s->size_hi[s->sub] = 1400;
        s->end_ns = g->now_ns + (uint64_t)(tg_rng_logu(r, 3, 300) * 1e9);
        s->seq[0] = tg_rng_below(r, 65536);
        s->seq[1] = tg_rng_below(r, 65536);
        s->next_ns[0] = g->now_ns;
        return;
    }
    tg_site_tcp_open(g, site, TG_APP_PEERWIRE, site->port, g->now_ns);
}

static struct tg_stream *tg_site_reqresp(struct tg *g, struct tg_site *site, uint8_t kind,
                                         bool peer_first, uint16_t host_port, uint16_t peer_port,
                                         uint32_t left, uint16_t answer_pm)
{
    struct tg_rng *r = &g->rng;
    struct tg_peer peer;
    tg_peer_pick(g, site, 2.0, site->srv.has_v6 && tg_rng_chance(r, 0.25), &peer);
    struct tg_stream *s = tg_stream_new(g, site, kind, &peer, peer_first, g->now_ns);
    if (s == NULL)
        return NULL;
    uint8_t hs = peer_first ? 1 : 0;
    s->port[hs] = host_port;
    s->port[hs ^ 1] = peer_port;
    s->left = left;
    s->answer_pm = answer_pm;
    s->period_ns[0] = (uint32_t)tg_rng_logu(r, 2e6, 2e9);
    s->next_ns[0] = g->now_ns;
    return s;
}

/* IoT devices: persistent Modbus/MQTT connections, or CoAP/BACnet polling streams. */
static void tg_site_iot(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    for (uint32_t i = 0; i < (uint32_t)site->rate; i++) {
        uint64_t at = g->now_ns + tg_rng_below(r, 2000000) * TG_NS_US;
        uint32_t proto = tg_rng_below(r, 4);
        while (!(site->a & (1u << proto)))
            proto = (proto + 1) % 4;
        if (proto == 0) {
            tg_site_tcp_open(g, site, TG_APP_MODBUS, 502, at);
        } else if (proto == 1) {
            tg_site_tcp_open(g, site, TG_APP_MQTT, tg_rng_chance(r, 0.3) ? 8883 : 1883, at);
        } else {
            struct tg_peer peer;
            tg_peer_pick(g, site, 1.0, false, &peer);
            bool coap = proto == 2;
            /* the gateway inside polls its devices (CoAP) or a building controller outside
             * polls the one inside (BACnet) */
            struct tg_stream *s =
                tg_stream_new(g, site, coap ? TG_SK_COAP : TG_SK_BACNET, &peer, !coap, at);
            if (s == NULL)
                return;
            s->port[0] = coap ? tg_port_clean((uint16_t)tg_rng_range(r, 32768, 60999)) : 47808;
            s->port[1] = coap ? 5683 : 47808;
            s->left = 1000000;
            s->answer_pm = 995;
            s->period_ns[0] = (uint32_t)tg_rng_logu(r, 2e8, 4e9);
            s->next_ns[0] = at;
        }
    }
}

static void tg_site_mcast(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    for (uint32_t i = 0; i < (uint32_t)site->rate; i++) {
        struct tg_peer src;
        bool outside = tg_rng_chance(r, 0.6);
        bool v6 = site->srv.has_v6 && tg_rng_chance(r, 0.2);
        tg_peer_pick(g, site, 1.0, v6, &src);
        struct tg_stream *s = tg_stream_new(g, site, TG_SK_MCAST, &src, outside, g->now_ns);
        if (s == NULL)
            return;
        uint8_t grp[16] = {0};
        if (s->v6) {
            grp[0] = 0xff;
            grp[1] = tg_rng_chance(r, 0.5) ? 0x3e : 0x15;
            tg_put32(grp + 12, 0x1000 + tg_rng_below(r, 4096));
        } else {
            grp[0] = 239;
            grp[1] = (uint8_t)tg_rng_range(r, 1, 255);
            grp[2] = (uint8_t)tg_rng_below(r, 256);
            grp[3] = (uint8_t)tg_rng_range(r, 1, 254);
        }
        memcpy(s->ip[1], grp, 16); /* the source is side 0, ours or outside */
        s->inside[1] = false;
        s->sub = (uint8_t)(tg_rng_chance(r, 0.7) ? 0 : 1); /* IPTV or a small feed */
        s->state = (uint8_t)tg_rng_chance(r, 0.5);         /* TS behind RTP */
        s->port[0] = s->sub ? tg_port_clean((uint16_t)tg_rng_range(r, 10000, 60000))
                            : tg_port_clean((uint16_t)tg_rng_range(r, 1024, 60000));
        s->port[1] = s->sub ? tg_port_clean((uint16_t)tg_rng_range(r, 10000, 60000)) : 1234;
        s->ssrc[0] = tg_rng_u32(r);
        s->ttl[0] = (uint8_t)(outside ? s->ttl[0] : tg_rng_range(r, 1, 32));
        double pps = s->sub ? tg_rng_logu(r, 10, 300)
                            : tg_rng_logu(r, 1.5e6, 12e6) / 8.0 / 1316.0; /* 1.5-12 Mbit/s */
        s->period_ns[0] = (uint32_t)(1e9 / pps);
        s->size_lo[0] = (uint16_t)tg_rng_range(r, 60, 300);
        s->size_hi[0] = (uint16_t)(s->size_lo[0] + tg_rng_range(r, 0, 300));
        s->jitter_ns = s->period_ns[0] / 4;
        s->end_ns = site->end_ns;
        s->base_ns[0] = s->next_ns[0] = g->now_ns + tg_rng_below(r, 50000) * TG_NS_US;
    }
}

/* A traceroute from some host inside to a target outside (IPv4). */
static void tg_site_trace(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    struct tg_site tmp = *site;
    if (tg_rng_chance(r, 0.6))
        tg_site_workstation(g, &tmp.srv);
    else
        tg_site_server(g, &tmp.srv, -1);
    tmp.srv.has_v6 = false;
    struct tg_peer target;
    tg_peer_pick(g, site, 1.5, false, &target);
    struct tg_stream *s = tg_stream_new(g, &tmp, TG_SK_TRACE, &target, false, g->now_ns);
    if (s == NULL)
        return;
    s->sub = (uint8_t)(tmp.srv.stack.os == TG_OS_WINDOWS);
    s->port[0] = tg_port_clean((uint16_t)tg_rng_range(r, 32768, 60999));
    s->state = 1;
    s->left = 3;
    s->aux = (uint16_t)tg_rng_range(r, 6, 20);
    s->next_ns[0] = g->now_ns;
}

static void tg_site_chatter(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    struct tg_site tmp = *site; /* a different LAN host each time */
    if (tg_rng_chance(r, 0.7))
        tg_site_workstation(g, &tmp.srv);
    else
        tg_site_server(g, &tmp.srv, -1);
    struct tg_peer none = {0};
    none.ttl = 1;
    uint32_t u = tg_rng_below(r, 100);
    uint8_t sub = u < 25 ? 0 : (u < 45 ? 1 : (u < 75 ? 2 : (u < 85 ? 3 : 4)));
    bool v6 = tmp.srv.has_v6 && sub != 4 && sub != 1 && tg_rng_chance(r, 0.4);
    none.v6 = v6;
    struct tg_stream *s = tg_stream_new(g, &tmp, TG_SK_CHATTER, &none, false, g->now_ns);
    if (s == NULL)
        return;
    uint8_t *grp = s->ip[1];
    memset(grp, 0, 16);
    static const uint8_t v4g[4][4] = {
        {239, 255, 255, 250}, {239, 255, 255, 250}, {224, 0, 0, 251}, {224, 0, 0, 252}};
    static const uint16_t port[] = {1900, 1900, 5353, 5355, 137};
    if (sub == 4) {
        memcpy(grp, s->ip[0], 3);
        grp[3] = 255;
    } else if (s->v6) {
        grp[0] = 0xff;
        grp[1] = 0x02;
        grp[15] = sub <= 1 ? 0x0c : (sub == 2 ? 0xfb : 0x03);
        if (sub == 3)
            grp[13] = 0x01;
    } else {
        memcpy(grp, v4g[sub], 4);
    }
    s->inside[1] = false;
    s->sub = sub;
    if (sub <= 3) /* SSDP 4 (link-local hop limit 1 on IPv6), mDNS 255, LLMNR 1 */
        s->ttl[0] = sub == 2 ? 255 : (sub == 3 || s->v6 ? 1 : 4);
    s->port[1] = port[sub];
    s->port[0] =
        (sub == 0 || sub == 3) ? tg_port_clean((uint16_t)tg_rng_range(r, 49152, 65000)) : port[sub];
    s->left = tg_rng_range(r, 1, 3);
    s->next_ns[0] = g->now_ns;
}

static void tg_site_vpn(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    for (uint32_t i = 0; i < (uint32_t)site->rate; i++) {
        struct tg_peer peer;
        if (!tg_peer_client(g, false, &peer))
            tg_peer_pick(g, site, 1.0, false, &peer);
        uint32_t k = (site->a + i * 37) % 100;
        uint8_t kind = k < 35   ? TG_SK_WG
                       : k < 60 ? TG_SK_OVPN
                       : k < 80 ? TG_SK_IKE
                       : k < 90 ? TG_SK_ESP
                                : TG_SK_GRE;
        bool peer_first = tg_rng_chance(r, 0.7); /* a remote worker dials in */
        uint64_t at = g->now_ns + tg_rng_below(r, 3000000) * TG_NS_US;
        struct tg_stream *s = tg_stream_new(g, site, kind, &peer, peer_first, at);
        if (s == NULL)
            return;
        uint8_t hs = peer_first ? 1 : 0;
        uint16_t eph = tg_port_clean((uint16_t)tg_rng_range(r, 32768, 60999));
        switch (kind) {
        case TG_SK_WG:
            s->port[hs] = tg_rng_chance(r, 0.7)
                              ? 51820
                              : tg_port_clean((uint16_t)tg_rng_range(r, 20000, 60000));
            s->port[hs ^ 1] = eph;
            break;
        case TG_SK_OVPN:
            s->port[hs] = 1194;
            s->port[hs ^ 1] = eph;
            break;
        case TG_SK_IKE:
            s->port[0] = s->port[1] = 4500;
            break;
        default:
            break;
        }
        if (kind == TG_SK_ESP || kind == TG_SK_GRE) {
            s->state = 0;
            s->next_ns[0] = s->next_ns[1] = at;
            s->port[0] = tg_port_clean((uint16_t)tg_rng_range(r, 1024, 60000));
            s->port[1] = tg_port_clean((uint16_t)tg_rng_range(r, 1024, 60000));
        } else {
            s->next_ns[0] = at;
        }
        s->ssrc[0] = tg_rng_u32(r);
        s->ssrc[1] = tg_rng_u32(r);
        /* a busy direction and a quiet one, or both interactive */
        uint8_t busy = (uint8_t)tg_rng_below(r, 2);
        s->period_ns[busy] = (uint32_t)(1e9 / tg_rng_logu(r, 2, 1500));
        s->period_ns[busy ^ 1] = (uint32_t)(1e9 / tg_rng_logu(r, 1, 300));
        s->size_lo[busy] = (uint16_t)tg_rng_range(r, 100, 1000);
        s->size_hi[busy] = (uint16_t)tg_rng_range(r, s->size_lo[busy], 1400);
        s->size_lo[busy ^ 1] = (uint16_t)tg_rng_range(r, 60, 120);
        s->size_hi[busy ^ 1] = (uint16_t)tg_rng_range(r, s->size_lo[busy ^ 1], 400);
        s->end_ns = site->end_ns;
    }
}

static void tg_site_games(struct tg *g, struct tg_site *site)
{
    struct tg_rng *r = &g->rng;
    static const uint16_t ports[] = {27015, 27016, 3074, 7777, 19132,
                                     9000,  28960, 3659, 6672, 27960};
    bool inside_server = site->srv.ip4[2] < 6;
    for (uint32_t i = 0; i < (uint32_t)site->rate; i++) {
        struct tg_peer peer;
        tg_peer_pick(g, site, 1.0, false, &peer);
        uint64_t at =
            g->now_ns + (uint64_t)(tg_rng_uniform(r, 0, 0.3) * (double)(site->end_ns - g->now_ns));
        /* side 0 is the player */
        struct tg_stream *s = tg_stream_new(g, site, TG_SK_GAME, &peer, inside_server, at);
        if (s == NULL)
            return;
        uint16_t sp = ports[tg_rng_below(r, 10)];
        if (sp == 9000)
            sp = (uint16_t)tg_rng_range(r, 9000, 9100);
        static const uint8_t ticks[] = {20, 30, 60, 64};
        uint32_t tick = ticks[tg_rng_below(r, 4)];
        s->size_lo[0] = (uint16_t)tg_rng_range(r, 30, 80);
        s->size_hi[0] = (uint16_t)tg_rng_range(r, s->size_lo[0], 160);
        s->size_lo[1] = (uint16_t)tg_rng_range(r, 50, 200);
        s->size_hi[1] = (uint16_t)tg_rng_range(r, s->size_lo[1], 1000);
        s->port[1] = tg_port_sturdy(TG_PROTO_UDP, sp, s->size_hi[1]);
        s->port[1] = tg_port_sturdy(TG_PROTO_UDP, s->port[1], s->size_lo[0]);
        s->port[0] = tg_port_clean((uint16_t)tg_rng_range(r, 32768, 60999));
        s->period_ns[0] = (uint32_t)(TG_NS_S / tg_rng_range(r, 20, 64));
        s->period_ns[1] = (uint32_t)(TG_NS_S / tick);
        s->jitter_ns = (uint32_t)tg_rng_logu(r, 2e5, 1e7);
        s->end_ns = at + (uint64_t)(tg_rng_logu(r, 30, 1800) * 1e9);
        for (int d = 0; d < 2; d++)
            s->base_ns[d] = s->next_ns[d] = at + tg_rng_below(r, 30000) * TG_NS_US;
    }
}

uint64_t tg_site_step(struct tg *g, struct tg_actor *a)
{
    struct tg_site *site = &g->sites[a->u.client.client];
    struct tg_rng *r = &g->rng;
    if (g->now_ns >= site->end_ns)
        return TG_DONE;
    site->c++;
    switch (site->kind) {
    case TG_SITE_IOT:
        tg_site_iot(g, site);
        return TG_DONE;
    case TG_SITE_MCAST:
        tg_site_mcast(g, site);
        return TG_DONE;
    case TG_SITE_VPN:
        tg_site_vpn(g, site);
        return TG_DONE;
    case TG_SITE_GAMES:
        tg_site_games(g, site);
        return TG_DONE;
    case TG_SITE_P2P:
        tg_site_p2p(g, site);
        break;
    case TG_SITE_CALLS:
        tg_site_call(g, site);
        break;
    case TG_SITE_FILES: {
        double u = tg_rng_unit(r);
        if (u < 0.55) {
            tg_site_tcp_open(g, site, TG_APP_SMB, 445, g->now_ns);
        } else if (u < 0.8) {
            tg_site_tcp_open(g, site, TG_APP_NFS, 2049, g->now_ns);
        } else { /* NFS over UDP: READs of 8-32 KB, fragmented */
            struct tg_peer peer;
            if (!tg_peer_client(g, false, &peer))
                tg_peer_pick(g, site, 1.0, false, &peer);
            struct tg_stream *s = tg_stream_new(g, site, TG_SK_NFS, &peer, true, g->now_ns);
            if (s == NULL)
                break;
            s->v6 = false;
            s->port[0] = (uint16_t)tg_rng_range(r, 600, 1023); /* a reserved port */
            s->port[1] = 2049;
            s->aux = (uint16_t)(8192u << tg_rng_below(r, 3));
            s->left = (uint32_t)tg_rng_logu(r, 2, 200);
            s->answer_pm = 999;
            s->period_ns[0] = (uint32_t)tg_rng_logu(r, 2e5, 5e7);
            s->next_ns[0] = g->now_ns;
        }
        break;
    }
    case TG_SITE_CHATTER:
        tg_site_chatter(g, site);
        break;
    case TG_SITE_TRACE:
        tg_site_trace(g, site);
        break;
    case TG_SITE_DNS_CROWD: {
        struct tg_stream *s = tg_site_reqresp(
            g, site, TG_SK_DNS, true, 53, tg_port_clean((uint16_t)tg_rng_range(r, 1024, 65535)),
            tg_rng_chance(r, 0.6) ? 1 : tg_rng_range(r, 2, 4), 997);
        if (s != NULL)
            s->sub = tg_rng_chance(r, 0.05); /* a large answer: DNSSEC, TXT */
        break;
    }
    case TG_SITE_NTP_CROWD: {
        bool iburst = tg_rng_chance(r, 0.3);
        tg_site_reqresp(
            g, site, TG_SK_NTP, true, 123,
            tg_rng_chance(r, 0.4) ? 123 : tg_port_clean((uint16_t)tg_rng_range(r, 1024, 65535)),
            iburst ? tg_rng_range(r, 4, 8) : 1, 998);
        break;
    }
    default: { /* the resolver inside asks servers outside; some answers are large */
        struct tg_stream *s =
            tg_site_reqresp(g, site, TG_SK_DNS, false,
                            tg_port_clean((uint16_t)tg_rng_range(r, 1024, 65535)), 53, 1, 970);
        if (s != NULL)
            s->sub = tg_rng_chance(r, 0.15);
        break;
    }
    }
    return (uint64_t)tg_rng_exp(r, 1e9 / site->rate) + 1000;
}
