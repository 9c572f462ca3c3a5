/* tg_benign.c - the benign world: protected servers, client population and their applications.
 *
 * Owns the servers in 10.20.0.0/16 (fd00:20::/32), the clients in 100.64.0.0/12
 * (2001:db8:100::/48), the client actors that start sessions, the benign TCP application
 * scripts (tg_app_next) and the UDP/ICMP applications (DNS, NTP, QUIC, video, VoIP, ping).
 * Runs inside the event loop; uses tg_tcp.c for TCP and tg_packet.c for bytes.
 *
 * DESIGN
 * Variety comes from drawing per client, then per session, then per packet: a client gets an
 * OS personality (TTL, SYN options, windows, MSS), an access RTT and bandwidth, a session rate
 * and its own mix of applications (some never stream, some never use ssh); each session then
 * draws its sizes, think times and lifetime from wide, mostly heavy-tailed distributions. A
 * share of clients is already in the middle of a long session when the capture starts, so the
 * first seconds are not all handshakes. Benign traffic only ever uses the client and server
 * ranges above, which is what lets the manifest label attacks by their own ranges alone. */
#include <errno.h>
#include <stdlib.h>

#include "trafgen/tg_internal.h"

const char *const tg_app_names[TG_APP_COUNT] = {
    "web",  "tls",       "bulk",       "ssh",       "scp",       "idle",      "dns_tcp", "dns",
    "ntp",  "quic",      "video",      "voip",      "ping",      "smb",       "nfs_tcp", "modbus",
    "mqtt", "peer_wire", "http_flood", "slowloris", "slow_post", "slow_read",
};

/* Base per-mille weights of the apps a client starts; each client rescales them. */
static const uint32_t tg_app_weight[TG_APP_BENIGN_COUNT] = {
    [TG_APP_WEB] = 140, [TG_APP_TLS] = 300,  [TG_APP_BULK] = 12,   [TG_APP_SSH] = 12,
    [TG_APP_SCP] = 4,   [TG_APP_IDLE] = 30,  [TG_APP_DNS_TCP] = 8, [TG_APP_DNS] = 240,
    [TG_APP_NTP] = 30,  [TG_APP_QUIC] = 120, [TG_APP_VIDEO] = 14,  [TG_APP_VOIP] = 14,
    [TG_APP_PING] = 25,
};

static const uint8_t tg_app_role[TG_APP_BENIGN_COUNT] = {
    [TG_APP_WEB] = TG_ROLE_WEB,     [TG_APP_TLS] = TG_ROLE_WEB,     [TG_APP_BULK] = TG_ROLE_WEB,
    [TG_APP_SSH] = TG_ROLE_SSH,     [TG_APP_SCP] = TG_ROLE_SSH,     [TG_APP_IDLE] = TG_ROLE_APP,
    [TG_APP_DNS_TCP] = TG_ROLE_DNS, [TG_APP_DNS] = TG_ROLE_DNS,     [TG_APP_NTP] = TG_ROLE_NTP,
    [TG_APP_QUIC] = TG_ROLE_WEB,    [TG_APP_VIDEO] = TG_ROLE_MEDIA, [TG_APP_VOIP] = TG_ROLE_VOIP,
    [TG_APP_PING] = TG_ROLE_COUNT, /* any server */
};

/* ---- stacks --------------------------------------------------------------------------------- */

static void tg_stack_draw(struct tg_rng *r, struct tg_stack *st, uint8_t os, uint32_t hops)
{
    static const uint16_t mss[] = {1460, 1460, 1460, 1460, 1460, 1452, 1440, 1400, 1380, 1360};
    st->os = os;
    st->mss = mss[tg_rng_below(r, 10)];
    switch (os) {
    case TG_OS_WINDOWS:
        st->ttl = 128;
        st->synopt = TG_SYNOPT_WINDOWS;
        st->wscale = 8;
        st->win = tg_rng_chance(r, 0.8) ? 64240 : (tg_rng_chance(r, 0.5) ? 65535 : 8192);
        st->ts = false;
        st->ipid_rand = false;
        break;
    case TG_OS_MACOS:
    case TG_OS_IOS:
        st->ttl = 64;
        st->synopt = TG_SYNOPT_MACOS;
        st->wscale = (uint8_t)tg_rng_range(r, 5, 8);
        st->win = 65535;
        st->ts = true;
        st->ipid_rand = true;
        break;
    case TG_OS_ANDROID:
        st->ttl = 64;
        st->synopt = TG_SYNOPT_LINUX;
        st->wscale = (uint8_t)tg_rng_range(r, 8, 10);
        st->win = 65535;
        st->ts = true;
        st->ipid_rand = false;
        break;
    default:
        st->ttl = 64;
        st->synopt = TG_SYNOPT_LINUX;
        st->wscale = (uint8_t)tg_rng_range(r, 7, 9);
        st->win = tg_rng_chance(r, 0.85) ? 64240 : 29200;
        st->ts = tg_rng_chance(r, 0.9);
        st->ipid_rand = false;
        break;
    }
    st->ttl = (uint8_t)(st->ttl - hops);
}

uint32_t tg_stack_ephemeral(struct tg_rng *r, const struct tg_stack *st, uint16_t *counter)
{
    uint32_t p;
    if (st->os == TG_OS_WINDOWS) { /* sequential in 49152..65535 */
        if (*counter < 49152)
            *counter = (uint16_t)tg_rng_range(r, 49152, 65000);
        p = (*counter)++;
    } else if (st->os == TG_OS_MACOS || st->os == TG_OS_IOS) {
        p = tg_rng_range(r, 49152, 65535);
    } else {
        p = tg_rng_range(r, 32768, 60999);
    }
    return tg_port_clean((uint16_t)p);
}

/* ---- world set-up --------------------------------------------------------------------------- */

static void tg_server_add(struct tg *g, uint8_t role, uint8_t sub, uint8_t host, double v6)
{
    static const uint16_t ports[TG_ROLE_COUNT][3] = {
        [TG_ROLE_WEB] = {80, 443, 0},      [TG_ROLE_DNS] = {53, 0, 0},
        [TG_ROLE_NTP] = {0, 0, 0},         [TG_ROLE_SSH] = {22, 0, 0},
        [TG_ROLE_MEDIA] = {443, 80, 1935}, [TG_ROLE_VOIP] = {5060, 5061, 0},
        [TG_ROLE_APP] = {443, 8883, 5223},
    };
    if (g->nservers >= TG_SERVERS_MAX || g->n_role[role] >= 48)
        return;
    struct tg_server *s = &g->servers[g->nservers];
    memset(s, 0, sizeof *s);
    s->role = role;
    s->ip4[0] = 10;
    s->ip4[1] = 20;
    s->ip4[2] = sub;
    s->ip4[3] = host;
    s->has_v6 = tg_rng_chance(&g->rng, v6);
    s->ip6[0] = 0xfd;
    s->ip6[1] = 0x00;
    s->ip6[2] = 0x00;
    s->ip6[3] = 0x20;
    s->ip6[7] = sub;
    s->ip6[15] = host;
    uint8_t os = tg_rng_chance(&g->rng, 0.8) ? TG_OS_LINUX : TG_OS_WINDOWS;
    tg_stack_draw(&g->rng, &s->stack, os, tg_rng_below(&g->rng, 2));
    s->stack.mss = 1460;
    for (int i = 0; i < 3; i++)
        if (ports[role][i] != 0)
            s->open_ports[s->n_open++] = ports[role][i];
    if (tg_rng_chance(&g->rng, 0.5))
        s->open_ports[s->n_open++] = 22;
    g->by_role[role][g->n_role[role]++] = (uint16_t)g->nservers;
    g->nservers++;
}

void tg_servers_setup(struct tg *g)
{
    struct tg_rng *r = &g->rng;
    uint32_t n;
    tg_server_add(g, TG_ROLE_DNS, 0, 53, 1.0);
    tg_server_add(g, TG_ROLE_DNS, 0, 54, 0.5);
    tg_server_add(g, TG_ROLE_NTP, 0, 123, 1.0);
    tg_server_add(g, TG_ROLE_NTP, 0, 124, 0.3);
    n = tg_rng_range(r, 8, 40);
    for (uint32_t i = 0; i < n; i++)
        tg_server_add(g, TG_ROLE_WEB, 1, (uint8_t)(10 + i * 3), 0.6);
    n = tg_rng_range(r, 2, 6);
    for (uint32_t i = 0; i < n; i++)
        tg_server_add(g, TG_ROLE_SSH, 2, (uint8_t)(10 + i), 0.5);
    n = tg_rng_range(r, 2, 8);
    for (uint32_t i = 0; i < n; i++)
        tg_server_add(g, TG_ROLE_MEDIA, 3, (uint8_t)(20 + i), 0.5);
    n = tg_rng_range(r, 1, 3);
    for (uint32_t i = 0; i < n; i++)
        tg_server_add(g, TG_ROLE_VOIP, 4, (uint8_t)(5 + i), 0.3);
    n = tg_rng_range(r, 2, 10);
    for (uint32_t i = 0; i < n; i++)
        tg_server_add(g, TG_ROLE_APP, 5, (uint8_t)(30 + i), 0.5);
}

static void tg_client_draw(struct tg *g, struct tg_client *c, uint32_t i)
{
    struct tg_rng *r = &g->rng;
    /* An odd multiplier permutes the 2^20 host numbers of 100.64.0.0/12. */
    uint32_t h = (i * 0x9e3779b1u + 0x2545fu) & 0xfffffu;
    if ((h & 0xff) == 0 || (h & 0xff) == 255)
        h ^= 1;
    c->ip4[0] = 100;
    c->ip4[1] = (uint8_t)(64 + (h >> 16));
    c->ip4[2] = (uint8_t)(h >> 8);
    c->ip4[3] = (uint8_t)h;
    c->has_v6 = tg_rng_chance(r, 0.3);
    static const uint8_t p6[6] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00};
    memcpy(c->ip6, p6, 6);
    tg_put16(c->ip6 + 6, tg_rng_u32(r));
    for (int k = 8; k < 16; k += 4)
        tg_put32(c->ip6 + k, tg_rng_u32(r));
    c->v6_share = c->has_v6 ? (float)tg_rng_uniform(r, 0.2, 0.9) : 0.0f;

    static const double os_cdf[TG_OS_COUNT] = {0.25, 0.60, 0.72, 0.90, 1.0};
    double u = tg_rng_unit(r);
    uint8_t os = 0;
    while (os < TG_OS_COUNT - 1 && u > os_cdf[os])
        os++;
    tg_stack_draw(r, &c->stack, os, tg_rng_range(r, 4, 28));
    c->rtt_us = (uint32_t)tg_clamp(tg_rng_lognormal(r, 40000, 0.8), 3000, 600000);
    c->bw_kbps = (uint32_t)tg_clamp(tg_rng_lognormal(r, 50000, 1.2), 1000, 1000000);
    c->gap_ms = (uint32_t)tg_rng_logu(r, 300, 20000);
    c->gap_sigma = (float)tg_rng_uniform(r, 0.6, 1.6);
    c->ipid = (uint16_t)tg_rng_u32(r);
    c->next_port = 0;
    for (int k = 0; k < 3; k++)
        c->fav_web[k] = (uint8_t)tg_rng_below(r, g->n_role[TG_ROLE_WEB]);

    uint32_t sum = 0;
    for (int a = 0; a < TG_APP_BENIGN_COUNT; a++) {
        double w = tg_app_weight[a] * tg_rng_lognormal(r, 1.0, 0.9);
        bool optional = a == TG_APP_BULK || a == TG_APP_SSH || a == TG_APP_SCP ||
                        a == TG_APP_VIDEO || a == TG_APP_VOIP || a == TG_APP_IDLE ||
                        a == TG_APP_DNS_TCP;
        if (optional && tg_rng_chance(r, 0.55))
            w = 0;
        sum += (uint32_t)w;
        c->app_cdf[a] = sum;
    }
    if (sum == 0)
        for (int a = 0; a < TG_APP_BENIGN_COUNT; a++)
            c->app_cdf[a] = 1; /* web */
}

/* ---- sessions ------------------------------------------------------------------------------- */

static const struct tg_server *tg_server_pick(struct tg *g, const struct tg_client *c, uint8_t app)
{
    uint8_t role = tg_app_role[app];
    if (role == TG_ROLE_COUNT)
        return &g->servers[tg_rng_below(&g->rng, g->nservers)];
    uint32_t n = g->n_role[role];
    uint32_t k = tg_rng_below(&g->rng, n);
    if (role == TG_ROLE_WEB && tg_rng_chance(&g->rng, 0.7))
        k = c->fav_web[tg_rng_below(&g->rng, 3)] % n;
    return &g->servers[g->by_role[role][k]];
}

void tg_tcp_stacks(struct tg_rng *r, struct tg_tcp *t, const struct tg_stack *cs,
                   const struct tg_server *s, double buf_hi)
{
    t->ttl[0] = cs->ttl;
    t->synopt[0] = cs->synopt;
    t->wscale[0] = cs->wscale;
    t->syn_win[0] = cs->win;
    t->mss_adv[0] = (uint16_t)(cs->mss - (t->v6 ? 20 : 0));
    t->ttl[1] = s->stack.ttl;
    t->synopt[1] = s->stack.synopt;
    t->wscale[1] = s->stack.wscale;
    t->syn_win[1] = s->stack.win;
    t->mss_adv[1] = (uint16_t)(s->stack.mss - (t->v6 ? 20 : 0));
    t->ipid_rand[1] = s->stack.ipid_rand;
    t->ts_on = cs->ts && s->stack.ts;
    uint16_t mss = t->mss_adv[0] < t->mss_adv[1] ? t->mss_adv[0] : t->mss_adv[1];
    t->mss = (uint16_t)(mss - (t->ts_on ? 12 : 0));
    for (int k = 0; k < 2; k++) {
        double raw = tg_rng_logu(r, 65536, buf_hi) / (double)(1u << t->wscale[k]);
        t->win[k] = (uint16_t)tg_clamp(raw, 16, 65535);
        t->seq[k] = tg_rng_u32(r);
        t->ts[k] = tg_rng_u32(r);
        t->ipid[k] = (uint16_t)tg_rng_u32(r);
    }
}

static void tg_tcp_new(struct tg *g, struct tg_actor *a, struct tg_client *c,
                       const struct tg_server *s, uint8_t app, bool v6, bool pre)
{
    struct tg_rng *r = &g->rng;
    struct tg_tcp *t = &a->u.tcp;
    static const uint16_t idle_ports[] = {443, 443, 8883, 5223, 5228};
    memset(t, 0, sizeof *t);
    t->app = app;
    t->v6 = v6;
    memcpy(t->ip[0], v6 ? c->ip6 : c->ip4, v6 ? 16 : 4);
    memcpy(t->ip[1], v6 ? s->ip6 : s->ip4, v6 ? 16 : 4);
    t->port[0] = (uint16_t)tg_stack_ephemeral(r, &c->stack, &c->next_port);
    switch (app) {
    case TG_APP_WEB:
        t->port[1] = 80;
        break;
    case TG_APP_BULK:
        t->port[1] = tg_rng_chance(r, 0.3) ? 80 : 443;
        break;
    case TG_APP_SSH:
    case TG_APP_SCP:
        t->port[1] = 22;
        break;
    case TG_APP_IDLE:
        t->port[1] = idle_ports[tg_rng_below(r, 5)];
        break;
    case TG_APP_DNS_TCP:
        t->port[1] = 53;
        break;
    default:
        t->port[1] = 443;
        break;
    }
    t->rtt_ns = (uint64_t)(c->rtt_us * tg_rng_lognormal(r, 1.0, 0.15)) * TG_NS_US;
    t->ipid_rand[0] = c->stack.ipid_rand;
    tg_tcp_stacks(r, t, &c->stack, s, 6e6);
    t->gap_ns = (uint32_t)((t->mss + 60) * 8e6 / c->bw_kbps);
    t->cwnd = 10;
    switch (app) {
    case TG_APP_BULK:
    case TG_APP_SCP:
        t->cwnd_max = (uint16_t)tg_rng_logu(r, 30, 1000);
        break;
    case TG_APP_WEB:
    case TG_APP_TLS:
        t->cwnd_max = (uint16_t)tg_rng_logu(r, 16, 300);
        break;
    default:
        t->cwnd_max = (uint16_t)tg_rng_logu(r, 10, 60);
        break;
    }
    t->ecn = c->stack.os != TG_OS_WINDOWS && tg_rng_chance(r, 0.08);
    t->flow_label = tg_rng_u32(r) & 0xfffff;
    t->proc_us = 1500;
    t->refused = tg_rng_chance(r, 0.01);
    t->silent = !t->refused && tg_rng_chance(r, 0.004);
    t->state = TG_TS_SYN;
    if (pre) { /* already established when the capture starts */
        t->state = TG_TS_NEXT;
        t->stage = (app == TG_APP_SSH || app == TG_APP_SCP) ? 4 : 2;
        t->exchanges = (uint16_t)tg_rng_logu(r, 20, 3000);
        t->refused = t->silent = false;
    }
}

static void tg_udp_new(struct tg *g, struct tg_actor *a, struct tg_client *c,
                       const struct tg_server *s, uint8_t app, bool v6, bool pre, uint64_t now)
{
    struct tg_rng *r = &g->rng;
    struct tg_udp *u = &a->u.udp;
    memset(u, 0, sizeof *u);
    u->app = app;
    u->v6 = v6;
    memcpy(u->ip[0], v6 ? c->ip6 : c->ip4, v6 ? 16 : 4);
    memcpy(u->ip[1], v6 ? s->ip6 : s->ip4, v6 ? 16 : 4);
    u->ttl[0] = c->stack.ttl;
    u->ttl[1] = s->stack.ttl;
    u->rtt_ns = (uint64_t)(c->rtt_us * tg_rng_lognormal(r, 1.0, 0.15)) * TG_NS_US;
    u->ipid_rand = c->stack.ipid_rand;
    u->ipid[0] = (uint16_t)tg_rng_u32(r);
    u->ipid[1] = (uint16_t)tg_rng_u32(r);
    u->seed = tg_rng_u32(r);
    u->flow_label = tg_rng_u32(r) & 0xfffff;
    u->port[0] = (uint16_t)tg_stack_ephemeral(r, &c->stack, &c->next_port);
    u->next_ns[0] = u->next_ns[1] = UINT64_MAX;
    switch (app) {
    case TG_APP_DNS:
        u->port[1] = 53;
        u->exchanges = tg_rng_chance(r, 0.5) ? 2 : tg_rng_range(r, 1, 4);
        break;
    case TG_APP_NTP:
        u->port[1] = 123;
        if (tg_rng_chance(r, 0.5))
            u->port[0] = 123; /* ntpd binds its own port */
        u->exchanges = tg_rng_chance(r, 0.6) ? 1 : tg_rng_range(r, 4, 8);
        break;
    case TG_APP_QUIC: {
        static const uint16_t sz[] = {1200, 1232, 1250, 1252, 1280, 1350, 1357};
        u->port[1] = 443;
        u->psize[0] = sz[tg_rng_below(r, 7)];
        u->psize[1] = sz[tg_rng_below(r, 7)];
        u->exchanges = 1 + (uint32_t)tg_rng_exp(r, 4.0);
        u->think_ms = (uint32_t)tg_rng_logu(r, 100, 4000);
        u->cwnd = 10;
        u->ack_every = 2;
        break;
    }
    case TG_APP_VIDEO: {
        static const uint8_t fps[] = {24, 25, 30, 30, 50, 60};
        u->quic = tg_rng_chance(r, 0.5);
        u->port[1] = u->quic ? 443 : tg_port_clean((uint16_t)(tg_rng_range(r, 5000, 32000) & ~1u));
        if (!u->quic)
            u->port[0] = tg_port_clean((uint16_t)(tg_rng_range(r, 10000, 60000) & ~1u));
        u->psize[1] = (uint16_t)tg_rng_range(r, 1200, 1350 - (v6 ? 20 : 0));
        u->period_ns = (uint32_t)(TG_NS_S / fps[tg_rng_below(r, 6)]);
        double kbps = tg_rng_logu(r, 400, 9000);
        u->frame_bytes = (uint32_t)(kbps * 1000.0 / 8.0 * (double)u->period_ns / 1e9);
        u->gop = (uint16_t)tg_rng_range(r, 24, 240);
        u->ack_every = (uint16_t)tg_rng_range(r, 2, 12);
        u->pt = (uint8_t)tg_rng_range(r, 96, 127);
        u->ssrc[1] = tg_rng_u32(r);
        u->ssrc[0] = tg_rng_u32(r);
        u->end_ns = now + (uint64_t)(tg_rng_logu(r, 10, 1200) * 1e9);
        u->next_ns[1] = now;
        u->next_ns[0] = now + (uint64_t)(tg_rng_uniform(r, 0.3, 2.0) * 1e9);
        u->tos = tg_rng_chance(r, 0.3) ? 0x88 : 0;
        u->jitter_ns = (uint32_t)tg_rng_logu(r, 5e3, 200e3); /* packet pacing in a frame */
        break;
    }
    case TG_APP_VOIP: {
        static const uint8_t pts[] = {0, 8, 9, 18, 111};
        u->port[0] = tg_port_clean((uint16_t)(tg_rng_range(r, 10000, 60000) & ~1u));
        u->port[1] = tg_port_clean((uint16_t)(tg_rng_range(r, 10000, 30000) & ~1u));
        u->pt = pts[tg_rng_below(r, 5)];
        uint16_t ps = (uint16_t)tg_rng_range(r, 60, 220);
        u->psize[0] = ps;
        u->psize[1] = tg_rng_chance(r, 0.7) ? ps : (uint16_t)tg_rng_range(r, 60, 220);
        u->period_ns = tg_rng_chance(r, 0.9) ? 20 * TG_NS_MS : 30 * TG_NS_MS;
        u->jitter_ns = (uint32_t)tg_rng_logu(r, 100e3, 6e6);
        u->ssrc[0] = tg_rng_u32(r);
        u->ssrc[1] = tg_rng_u32(r);
        u->rtp_seq[0] = (uint16_t)tg_rng_u32(r);
        u->rtp_seq[1] = (uint16_t)tg_rng_u32(r);
        u->vad = tg_rng_chance(r, 0.35);
        u->talking[0] = u->talking[1] = true;
        for (int k = 0; k < 2; k++)
            u->spurt_end[k] =
                u->vad ? now + (uint64_t)(tg_rng_lognormal(r, 1.5, 0.6) * 1e9) : UINT64_MAX;
        u->end_ns = now + (uint64_t)(tg_rng_logu(r, 10, 900) * 1e9);
        u->base_ns[0] = u->next_ns[0] = now + tg_rng_below(r, 20000) * TG_NS_US;
        u->base_ns[1] = u->next_ns[1] = now + tg_rng_below(r, 20000) * TG_NS_US;
        if (u->jitter_ns >= u->period_ns)
            u->jitter_ns = u->period_ns / 2;
        u->tos = tg_rng_chance(r, 0.6) ? 0xb8 : 0;
        break;
    }
    default:
        break;
    }
    if (pre && (app == TG_APP_VIDEO || app == TG_APP_VOIP)) {
        u->rtp_seq[0] += (uint16_t)tg_rng_u32(r);
        u->frames = tg_rng_below(r, 1000);
    }
}

/* Starts a session of app for client ci at time `at`. */
static void tg_session_spawn(struct tg *g, uint32_t ci, uint8_t app, uint64_t at, bool pre)
{
    struct tg_client *c = &g->clients[ci];
    const struct tg_server *s = tg_server_pick(g, c, app);
    bool v6 = c->has_v6 && s->has_v6 && tg_rng_chance(&g->rng, c->v6_share);
    uint8_t kind =
        app <= TG_APP_DNS_TCP ? TG_ACT_TCP : (app == TG_APP_PING ? TG_ACT_PING : TG_ACT_UDP);
    struct tg_actor *a = tg_actor_spawn(g, kind, 0, at);
    if (a == NULL)
        return;
    g->app_sessions[app]++;
    if (kind == TG_ACT_TCP) {
        tg_tcp_new(g, a, c, s, app, v6, pre);
        a->u.tcp.owner = (uint16_t)ci;
        return;
    }
    if (kind == TG_ACT_UDP) {
        tg_udp_new(g, a, c, s, app, v6, pre, at);
        a->u.udp.owner = (uint16_t)ci;
        return;
    }
    struct tg_ping *p = &a->u.ping;
    memset(p, 0, sizeof *p);
    p->v6 = v6;
    memcpy(p->ip[0], v6 ? c->ip6 : c->ip4, v6 ? 16 : 4);
    memcpy(p->ip[1], v6 ? s->ip6 : s->ip4, v6 ? 16 : 4);
    p->ttl[0] = c->stack.ttl;
    p->ttl[1] = s->stack.ttl;
    p->rtt_ns = (uint64_t)c->rtt_us * TG_NS_US;
    p->left = (uint16_t)tg_rng_range(&g->rng, 2, 20);
    p->interval_ns =
        (uint32_t)(tg_rng_chance(&g->rng, 0.7) ? TG_NS_S : tg_rng_logu(&g->rng, 2e8, 1e9));
    p->id = (uint16_t)tg_rng_u32(&g->rng);
    p->seq = (uint16_t)(c->stack.os == TG_OS_WINDOWS ? tg_rng_below(&g->rng, 500) : 1);
    p->style = (uint8_t)(c->stack.os == TG_OS_WINDOWS ? 1 : (tg_rng_chance(&g->rng, 0.9) ? 0 : 2));
    p->psize = p->style == 1 ? 32 : (p->style == 0 ? 56 : (uint16_t)tg_rng_range(&g->rng, 8, 1400));
    p->ipid[0] = (uint16_t)tg_rng_u32(&g->rng);
    p->ipid[1] = (uint16_t)tg_rng_u32(&g->rng);
    p->flow_label = tg_rng_u32(&g->rng) & 0xfffff;
}

static uint8_t tg_client_pick_app(struct tg *g, const struct tg_client *c)
{
    uint32_t total = c->app_cdf[TG_APP_BENIGN_COUNT - 1];
    uint32_t x = tg_rng_below(&g->rng, total);
    uint8_t app = 0;
    while (app < TG_APP_BENIGN_COUNT - 1 && x >= c->app_cdf[app])
        app++;
    return app;
}

uint64_t tg_client_step(struct tg *g, struct tg_actor *a)
{
    uint32_t ci = a->u.client.client;
    struct tg_client *c = &g->clients[ci];
    uint8_t app = tg_client_pick_app(g, c);
    tg_session_spawn(g, ci, app, g->now_ns, false);
    /* browsers open several connections to the same site at once */
    if ((app == TG_APP_WEB || app == TG_APP_TLS) && tg_rng_chance(&g->rng, 0.3)) {
        uint32_t n = tg_rng_range(&g->rng, 1, 5);
        for (uint32_t i = 0; i < n; i++)
            tg_session_spawn(g, ci, app, g->now_ns + tg_rng_below(&g->rng, 300000) * TG_NS_US,
                             false);
    }
    double gap = tg_rng_lognormal(&g->rng, c->gap_ms, c->gap_sigma);
    return (uint64_t)(tg_clamp(gap, 5, 600000) * 1e6);
}

int tg_clients_setup(struct tg *g)
{
    for (uint32_t i = 0; i < g->nclients; i++) {
        struct tg_client *c = &g->clients[i];
        tg_client_draw(g, c, i);
        struct tg_actor *a = tg_actor_spawn(
            g, TG_ACT_CLIENT, 0, g->start_ns + (uint64_t)(tg_rng_unit(&g->rng) * c->gap_ms * 2e6));
        if (a == NULL)
            return -ENOMEM;
        a->u.client.client = i;
        /* some clients are in the middle of something long when the capture starts */
        if (tg_rng_chance(&g->rng, 0.2)) {
            static const uint8_t longs[] = {TG_APP_VIDEO, TG_APP_IDLE, TG_APP_SSH,
                                            TG_APP_BULK,  TG_APP_VOIP, TG_APP_TLS};
            uint8_t app = longs[tg_rng_below(&g->rng, 6)];
            tg_session_spawn(g, i, app, g->start_ns + tg_rng_below(&g->rng, 500000) * TG_NS_US,
                             true);
        }
    }
    return 0;
}

/* ---- benign TCP scripts --------------------------------------------------------------------- */

/* SSH packets are never split so that a TCP segment carries less than 16 bytes of one (the
 * smallest SSH packet); a tail that short also trips tshark's SSH dissector. */
static uint32_t tg_ssh_len(const struct tg_tcp *t, uint32_t n)
{
    uint32_t tail = n % t->mss;
    return tail > 0 && tail < 16 ? n + 16 : n;
}

static uint64_t tg_think(struct tg *g, double median_ms, double sigma, double lo_ms, double hi_ms)
{
    return (uint64_t)(tg_clamp(tg_rng_lognormal(&g->rng, median_ms, sigma), lo_ms, hi_ms) * 1e6);
}

static void tg_web_exchange(struct tg *g, struct tg_tcp *t, bool tls)
{
    struct tg_rng *r = &g->rng;
    bool post = tg_rng_chance(r, 0.06);
    uint32_t body = post ? (uint32_t)tg_rng_logu(r, 100, 20000) : 0;
    double alpha = 1.05 + (double)(t->aux % 50) / 100.0; /* per connection tail weight */
    uint32_t resp = (uint32_t)tg_rng_pareto(r, 500, alpha, 2e6);
    t->proc_us = (uint32_t)tg_clamp(tg_rng_lognormal(r, 3000, 1.0), 100, 2e6);
    tg_tcp_http_exchange(t, tg_rng_u32(r), tg_rng_range(r, 200, 2000), post, body, resp, tls);
}

static uint64_t tg_close_browser(struct tg *g, struct tg_tcp *t)
{
    double u = tg_rng_unit(&g->rng);
    if (u < 0.55) {
        tg_tcp_close(g, t, 0, false);
        return tg_think(g, 300, 1.5, 1, 5000);
    }
    if (u < 0.82) { /* server's keep-alive timeout */
        tg_tcp_close(g, t, 1, false);
        return (uint64_t)(tg_rng_uniform(&g->rng, 1, 15) * 1e9);
    }
    t->rst_close = tg_rng_chance(&g->rng, 0.7);
    tg_tcp_close(g, t, 0, true);
    return tg_think(g, 500, 1.5, 1, 8000);
}

/* TLS handshake as two exchanges of handshake records (stage 0 -> 1 -> 2). Returns true while
 * it is still running. */
static bool tg_tls_handshake(struct tg *g, struct tg_tcp *t)
{
    struct tg_rng *r = &g->rng;
    if (t->stage == 0) {
        t->proc_us = (uint32_t)tg_rng_logu(r, 200, 5000);
        tg_tcp_exchange(t, tg_rng_range(r, 250, 650), tg_rng_range(r, 1500, 7000), TG_XFER_TLS_HS,
                        TG_XFER_TLS_HS, 0);
        t->stage = 1;
        return true;
    }
    if (t->stage == 1) {
        t->stage = 2;
        if (tg_rng_chance(r, 0.35)) { /* TLS 1.2: one more round trip */
            tg_tcp_exchange(t, tg_rng_range(r, 60, 160), tg_rng_range(r, 50, 300), TG_XFER_TLS_HS,
                            TG_XFER_TLS_HS, 0);
            return true;
        }
    }
    return false;
}

uint64_t tg_app_next(struct tg *g, struct tg_actor *a)
{
    struct tg_tcp *t = &a->u.tcp;
    struct tg_rng *r = &g->rng;
    uint64_t soon = 20000 + tg_rng_below(r, 1500000); /* client reacts to the last packet */
    switch (t->app) {
    case TG_APP_WEB:
    case TG_APP_TLS: {
        bool tls = t->app == TG_APP_TLS;
        if (t->stage < 2 && tls && tg_tls_handshake(g, t))
            return soon;
        if (t->stage < 3) {
            t->stage = 3;
            t->exchanges = (uint16_t)(1 + tg_clamp(tg_rng_exp(r, 3.0), 0, 60));
            t->aux = tg_rng_u32(r);
            tg_web_exchange(g, t, tls);
            return soon;
        }
        if (--t->exchanges > 0) {
            tg_web_exchange(g, t, tls);
            double median = 200.0 + (double)(t->aux % 3000);
            return tg_think(g, median, 1.0, 50, 10000);
        }
        return tg_close_browser(g, t);
    }
    case TG_APP_BULK: {
        bool tls = t->port[1] == 443;
        if (t->stage < 2 && tls && tg_tls_handshake(g, t))
            return soon;
        if (t->stage < 3) {
            t->stage = 3;
            t->proc_us = (uint32_t)tg_rng_logu(r, 500, 50000);
            tg_tcp_http_exchange(t, tg_rng_u32(r), tg_rng_range(r, 250, 700), false, 0,
                                 (uint32_t)tg_rng_logu(r, 200e3, 100e6), tls);
            return soon;
        }
        tg_tcp_close(g, t, tg_rng_chance(r, 0.6) ? 0 : 1, false);
        return tg_think(g, 50, 1, 1, 2000);
    }
    case TG_APP_SSH:
    case TG_APP_SCP: {
        static const uint16_t kex[4][4] = {
            {21, 50, 21, 50}, {900, 1600, 700, 1200}, {48, 1100, 400, 1100}, {16, 200, 16, 100}};
        if (t->stage < 4) {
            const uint16_t *k = kex[t->stage];
            t->proc_us = (uint32_t)tg_rng_logu(r, 100, 20000);
            tg_tcp_exchange(t, tg_ssh_len(t, tg_rng_range(r, k[0], k[1])),
                            tg_ssh_len(t, tg_rng_range(r, k[2], k[3])), TG_XFER_ZERO, TG_XFER_ZERO,
                            0);
            t->stage++;
            if (t->stage == 4)
                t->exchanges = t->app == TG_APP_SCP ? 1 : (uint16_t)tg_rng_logu(r, 20, 3000);
            return soon;
        }
        if (t->exchanges == 0) {
            tg_tcp_close(g, t, 0, false);
            return tg_think(g, 300, 1.5, 5, 10000);
        }
        t->exchanges--;
        t->proc_us = (uint32_t)tg_rng_logu(r, 50, 3000);
        if (t->app == TG_APP_SCP) {
            uint32_t big = tg_ssh_len(t, (uint32_t)tg_rng_logu(r, 100e3, 50e6));
            uint32_t small = tg_rng_range(r, 36, 120);
            bool up = tg_rng_chance(r, 0.5);
            tg_tcp_exchange(t, up ? big : small, up ? small : big, TG_XFER_ZERO, TG_XFER_ZERO, 0);
            return soon;
        }
        double u = tg_rng_unit(r);
        uint32_t resp = u < 0.06 ? tg_ssh_len(t, (uint32_t)tg_rng_logu(r, 500, 80000))
                                 : tg_rng_range(r, 36, 100);
        tg_tcp_exchange(t, tg_rng_range(r, 36, 100), resp, TG_XFER_ZERO, TG_XFER_ZERO, 0);
        if (u > 0.97) /* the human stops to read or think */
            return (uint64_t)(tg_rng_logu(r, 5, 120) * 1e9);
        return tg_think(g, 180, 0.8, 40, 3000);
    }
    case TG_APP_IDLE: {
        if (t->stage < 2 && tg_tls_handshake(g, t))
            return soon;
        if (t->stage < 3) {
            t->stage = 3;
            t->aux = (uint32_t)tg_rng_logu(r, 8000, 120000); /* heartbeat period, ms */
            t->body = tg_rng_chance(r, 0.5);                 /* 1: TCP keep-alive probes */
            t->deadline_ns = g->now_ns + (uint64_t)(tg_rng_logu(r, 30, 3600) * 1e9);
            tg_tcp_exchange(t, tg_rng_range(r, 100, 2000), tg_rng_range(r, 100, 5000), TG_XFER_TLS,
                            TG_XFER_TLS, 0);
            return soon;
        }
        uint64_t period = (uint64_t)(t->aux * tg_rng_uniform(r, 0.9, 1.1)) * TG_NS_MS;
        if (g->now_ns + period > t->deadline_ns) {
            t->rst_close = true;
            tg_tcp_close(g, t, tg_rng_chance(r, 0.5) ? 0 : 1, tg_rng_chance(r, 0.2));
            return period / 4;
        }
        if (t->body) {
            t->sender = tg_rng_chance(r, 0.7) ? 0 : 1;
            t->state = TG_TS_KA_PROBE;
        } else {
            t->proc_us = 200;
            tg_tcp_exchange(t, tg_rng_range(r, 30, 150), tg_rng_range(r, 30, 150), TG_XFER_TLS,
                            TG_XFER_TLS, 0);
        }
        return period;
    }
    case TG_APP_DNS_TCP: {
        if (t->stage == 0) {
            t->stage = 1;
            t->exchanges = (uint16_t)tg_rng_range(r, 1, 3);
        }
        if (t->exchanges == 0) {
            tg_tcp_close(g, t, tg_rng_chance(r, 0.6) ? 1 : 0, false);
            return tg_think(g, 5, 1, 0.05, 2000);
        }
        t->exchanges--;
        uint32_t seed = tg_rng_u32(r);
        uint32_t q = tg_dns_build(g->scratch, TG_SCRATCH_CAP, seed, false, 0, false);
        uint32_t rs = tg_dns_build(g->scratch, TG_SCRATCH_CAP, seed, true,
                                   (uint32_t)tg_rng_logu(r, 80, 3000), false);
        t->proc_us = (uint32_t)tg_rng_logu(r, 100, 30000);
        tg_tcp_exchange(t, q + 2, rs + 2, TG_XFER_DNS_Q, TG_XFER_DNS_R, seed);
        return soon;
    }
    default:
        return tg_site_tcp_next(g, a);
    }
}

/* ---- UDP apps ------------------------------------------------------------------------------- */

static uint8_t *tg_udp_pkt(struct tg *g, struct tg_actor *a, uint8_t from, uint32_t len)
{
    struct tg_udp *u = &a->u.udp;
    struct tg_l3 l3 = {
        .src = u->ip[from],
        .dst = u->ip[from ^ 1],
        .flow_label = u->flow_label + from,
        .ipid = (u->ipid_rand && from == 0) ? (uint16_t)tg_rng_u32(&g->rng) : u->ipid[from]++,
        .frag = TG_IP_DF,
        .ttl = u->ttl[from],
        .tos = u->tos,
        .label = a->label,
        .v6 = u->v6,
        .inbound = from == 0,
    };
    return tg_udp_begin(g, &l3, u->port[from], u->port[from ^ 1], len);
}

static void tg_udp_send_buf(struct tg *g, struct tg_actor *a, uint8_t from, const uint8_t *buf,
                            uint32_t len)
{
    uint8_t *p = tg_udp_pkt(g, a, from, len);
    if (p == NULL)
        return;
    memcpy(p, buf, len);
    tg_pkt_finish(g);
}

/* QUIC-like packet: long header during the handshake, short header after. */
static void tg_quic_pkt(struct tg *g, struct tg_actor *a, uint8_t from, uint32_t len, int type)
{
    struct tg_udp *u = &a->u.udp;
    uint8_t *p = tg_udp_pkt(g, a, from, len);
    if (p == NULL)
        return;
    uint32_t cid_to = u->seed ^ (from ? 0x5a5a5a5au : 0);
    uint32_t cid_from = u->seed ^ (from ? 0 : 0x5a5a5a5au);
    if (type >= 0 && len >= 40) { /* 0 Initial, 2 Handshake */
        p[0] = (uint8_t)(0xc0 | type << 4 | 0x01);
        tg_put32(p + 1, 1);
        p[5] = 8;
        tg_put32(p + 6, cid_to);
        tg_put32(p + 10, ~cid_to);
        p[14] = 8;
        tg_put32(p + 15, cid_from);
        tg_put32(p + 19, ~cid_from);
        uint32_t o = 23;
        if (type == 0)
            p[o++] = 0; /* token length */
        uint32_t rest = len - o - 2;
        p[o] = (uint8_t)(0x40 | (rest >> 8));
        p[o + 1] = (uint8_t)rest;
        p[o + 2] = (uint8_t)u->rtp_seq[from]++;
    } else if (len >= 10) {
        p[0] = (uint8_t)(0x40 | (u->seed & 0x3c) | 0x01);
        tg_put32(p + 1, cid_to);
        tg_put32(p + 5, ~cid_to);
        p[9] = (uint8_t)u->rtp_seq[from]++;
    }
    tg_pkt_finish(g);
}

static void tg_rtp_pkt(struct tg *g, struct tg_actor *a, uint8_t from, uint32_t len, bool marker)
{
    struct tg_udp *u = &a->u.udp;
    uint8_t *p = tg_udp_pkt(g, a, from, len);
    uint16_t seq = u->rtp_seq[from]++; /* counted in --one-way runs too: RTCP reports it */
    if (p == NULL)
        return;
    p[0] = 0x80;
    p[1] = (uint8_t)(u->pt | (marker ? 0x80 : 0));
    tg_put16(p + 2, seq);
    tg_put32(p + 4, u->rtp_ts[from]);
    tg_put32(p + 8, u->ssrc[from]);
    tg_pkt_finish(g);
}

static uint64_t tg_udp_next(const struct tg *g, const struct tg_udp *u)
{
    uint64_t t = u->next_ns[0] < u->next_ns[1] ? u->next_ns[0] : u->next_ns[1];
    if (t == UINT64_MAX)
        return TG_DONE;
    return t > g->now_ns ? t - g->now_ns : 0;
}

static uint64_t tg_video_step(struct tg *g, struct tg_actor *a)
{
    struct tg_udp *u = &a->u.udp;
    struct tg_rng *r = &g->rng;
    if (g->now_ns >= u->end_ns) {
        if (u->quic)
            tg_quic_pkt(g, a, 0, tg_rng_range(r, 40, 60), -1);
        return TG_DONE;
    }
    if (u->next_ns[0] <= u->next_ns[1]) { /* client feedback */
        if (u->quic) {
            tg_quic_pkt(g, a, 0, tg_rng_range(r, 40, 70), -1);
            u->since_ack = 0;
            u->next_ns[0] = UINT64_MAX;
        } else {
            /* RTCP receiver report + SDES CNAME on the RTP port (rtcp-mux) */
            uint32_t len = tg_rng_range(r, 80, 120) & ~3u;
            uint32_t jitter = tg_rng_below(r, 3000);
            uint8_t *p = tg_udp_pkt(g, a, 0, len);
            if (p != NULL) {
                p[0] = 0x81; /* RR, one report block: 32 bytes */
                p[1] = 201;
                tg_put16(p + 2, 7);
                tg_put32(p + 4, u->ssrc[0]);
                tg_put32(p + 8, u->ssrc[1]);
                tg_put32(p + 16, (uint32_t)u->rtp_seq[1]);
                tg_put32(p + 20, jitter);
                uint8_t *sd = p + 32;
                uint32_t sl = len - 32, n = sl - 11;
                sd[0] = 0x81; /* SDES, one chunk */
                sd[1] = 202;
                tg_put16(sd + 2, sl / 4 - 1);
                tg_put32(sd + 4, u->ssrc[0]);
                sd[8] = 1; /* CNAME */
                sd[9] = (uint8_t)n;
                for (uint32_t i = 0; i < n; i++)
                    sd[10 + i] = (uint8_t)('a' + (u->seed + i) % 26);
                tg_pkt_finish(g);
            }
            u->next_ns[0] = g->now_ns + (uint64_t)(tg_rng_uniform(r, 0.5, 2.0) * 1e9);
        }
        return tg_udp_next(g, u);
    }
    if (u->left == 0) { /* a new frame: I-frames are several times larger */
        double f =
            (u->frames % u->gop == 0) ? tg_rng_uniform(r, 4, 10) : tg_rng_lognormal(r, 1, 0.35);
        u->left = (uint32_t)tg_clamp(u->frame_bytes * f, 200, 400000);
        u->frames++;
        u->rtp_ts[1] += (uint32_t)(90000ULL * u->period_ns / TG_NS_S);
        u->base_ns[1] = g->now_ns; /* frame start */
    }
    uint32_t len = u->left < u->psize[1] ? u->left : u->psize[1];
    if (len < 100)
        len = 100;
    u->left = u->left > len ? u->left - len : 0;
    if (u->quic)
        tg_quic_pkt(g, a, 1, len, -1);
    else
        tg_rtp_pkt(g, a, 1, len, u->left == 0);
    if (u->quic && ++u->since_ack >= u->ack_every && u->next_ns[0] == UINT64_MAX)
        u->next_ns[0] = g->now_ns + u->rtt_ns;
    if (u->left > 0)
        u->next_ns[1] = g->now_ns + u->jitter_ns / 2 + tg_rng_below(r, u->jitter_ns + 1);
    else {
        uint64_t next = u->base_ns[1] + u->period_ns;
        u->next_ns[1] = next > g->now_ns ? next : g->now_ns + 1000;
    }
    return tg_udp_next(g, u);
}

static uint64_t tg_voip_step(struct tg *g, struct tg_actor *a)
{
    struct tg_udp *u = &a->u.udp;
    struct tg_rng *r = &g->rng;
    if (g->now_ns >= u->end_ns)
        return TG_DONE;
    uint8_t d = u->next_ns[0] <= u->next_ns[1] ? 0 : 1;
    if (u->vad && g->now_ns >= u->spurt_end[d]) { /* talk spurts and silences */
        u->talking[d] = !u->talking[d];
        double len_s =
            u->talking[d] ? tg_rng_lognormal(r, 1.5, 0.6) : tg_rng_lognormal(r, 1.0, 0.6);
        u->spurt_end[d] = g->now_ns + (uint64_t)(len_s * 1e9);
    }
    if (u->talking[d]) {
        uint32_t len = u->psize[d];
        if (u->pt == 111) /* Opus is variable bit rate */
            len = (uint32_t)tg_clamp(len * tg_rng_lognormal(r, 1, 0.15), 60, 220);
        tg_rtp_pkt(g, a, d, len, false);
    }
    u->rtp_ts[d] += u->pt == 111 ? 960 : 160;
    /* inbound packets crossed the Internet (jitter < period keeps them in order); outbound
     * ones leave the media server on time */
    u->base_ns[d] += u->period_ns;
    u->next_ns[d] = u->base_ns[d] + (d == 0 ? tg_rng_below(r, u->jitter_ns + 1) : 0);
    return tg_udp_next(g, u);
}

static uint64_t tg_quic_step(struct tg *g, struct tg_actor *a)
{
    struct tg_udp *u = &a->u.udp;
    struct tg_rng *r = &g->rng;
    uint64_t srv = 30000 + tg_rng_below(r, 300000);
    switch (u->state) {
    case 0: /* client Initial, padded */
        tg_quic_pkt(g, a, 0, u->psize[0], 0);
        u->state = 1;
        u->flight = (uint16_t)tg_rng_range(r, 2, 5);
        return srv;
    case 1: /* server Initial + Handshake flight */
        tg_quic_pkt(g, a, 1, u->psize[1], u->flight > 1 ? 2 : 0);
        if (--u->flight > 0)
            return 5000 + tg_rng_below(r, 40000);
        u->state = 2;
        return u->rtt_ns;
    case 2: /* client Handshake (Finished) */
        tg_quic_pkt(g, a, 0, tg_rng_range(r, 80, 300), 2);
        u->state = 3;
        return srv;
    case 3: /* server HANDSHAKE_DONE, tokens */
        tg_quic_pkt(g, a, 1, tg_rng_range(r, 60, 300), -1);
        u->state = 4;
        return 10000 + tg_rng_below(r, 1000000);
    case 4: /* client request */
        tg_quic_pkt(g, a, 0, tg_rng_range(r, 60, 1200), -1);
        u->left = (uint32_t)tg_rng_pareto(r, 600, 1.2, 5e6);
        u->flight = 0;
        u->state = 5;
        return (uint64_t)tg_clamp(tg_rng_lognormal(r, 3e6, 1), 5e4, 2e9);
    case 5: { /* server response flight */
        uint32_t len = u->left < u->psize[1] ? u->left : u->psize[1];
        if (len < 60)
            len = 60;
        tg_quic_pkt(g, a, 1, len, -1);
        u->left = u->left > len ? u->left - len : 0;
        u->flight++;
        if (u->left > 0 && u->flight < u->cwnd)
            return 10000 + tg_rng_below(r, 60000);
        u->acks_left = (uint16_t)((u->flight + u->ack_every - 1) / u->ack_every);
        u->state = 6;
        return u->rtt_ns;
    }
    case 6: /* client ACKs */
        tg_quic_pkt(g, a, 0, tg_rng_range(r, 40, 70), -1);
        if (--u->acks_left > 0)
            return 20000 + tg_rng_below(r, 100000);
        u->flight = 0;
        if (u->left > 0) {
            if (u->cwnd < 400)
                u->cwnd *= 2;
            u->state = 5;
            return 20000;
        }
        if (--u->exchanges > 0) {
            u->cwnd = 10;
            u->state = 4;
            return (uint64_t)(tg_clamp(tg_rng_lognormal(r, u->think_ms, 1.0), 20, 15000) * 1e6);
        }
        u->state = 7;
        return (uint64_t)(tg_rng_logu(r, 0.01, 5) * 1e9);
    default:
        if (tg_rng_chance(r, 0.6)) /* CONNECTION_CLOSE; else the idle timeout ends it */
            tg_quic_pkt(g, a, tg_rng_chance(r, 0.7) ? 0 : 1, tg_rng_range(r, 40, 60), -1);
        return TG_DONE;
    }
}

uint64_t tg_udp_step(struct tg *g, struct tg_actor *a)
{
    struct tg_udp *u = &a->u.udp;
    struct tg_rng *r = &g->rng;
    switch (u->app) {
    case TG_APP_DNS: {
        bool resp = u->state == 1;
        uint32_t n = tg_dns_build(g->scratch, TG_SCRATCH_CAP, u->seed, resp,
                                  resp ? (uint32_t)tg_rng_logu(r, 80, 500) : 0, false);
        tg_udp_send_buf(g, a, resp ? 1 : 0, g->scratch, n);
        if (!resp) {
            if (tg_rng_chance(r, 0.01)) { /* lost: the stub asks again later */
                u->state = 0;
                return (uint64_t)tg_rng_uniform(r, 1, 5) * TG_NS_S;
            }
            u->state = 1;
            return tg_rng_chance(r, 0.7) ? (uint64_t)tg_rng_logu(r, 50e3, 600e3)
                                         : (uint64_t)tg_rng_logu(r, 2e6, 300e6);
        }
        if (--u->exchanges == 0)
            return TG_DONE;
        u->state = 0;
        u->seed = tg_rng_u32(r);
        return tg_rng_below(r, 30000) * TG_NS_US;
    }
    case TG_APP_NTP: {
        /* random draws happen whether or not --one-way keeps the packet, so a one-way capture
         * is exactly the inbound half of the two-way capture of the same seed */
        uint32_t frac = tg_rng_u32(r);
        uint8_t *p = tg_udp_pkt(g, a, u->state, 48);
        if (p != NULL) {
            p[0] = u->state ? 0x24 : 0x23;
            p[1] = u->state ? 2 : 0;
            p[2] = 6;
            p[3] = 0xe9;
            tg_put32(p + 40, (uint32_t)(g->now_ns / TG_NS_S + 2208988800ULL));
            tg_put32(p + 44, frac);
            tg_pkt_finish(g);
        }
        if (u->state == 0) {
            u->state = 1;
            return (uint64_t)tg_rng_logu(r, 30e3, 1e6);
        }
        if (--u->exchanges == 0)
            return TG_DONE;
        u->state = 0;
        return 2 * TG_NS_S + tg_rng_below(r, 50000) * TG_NS_US;
    }
    case TG_APP_QUIC:
        return tg_quic_step(g, a);
    case TG_APP_VIDEO:
        return tg_video_step(g, a);
    case TG_APP_VOIP:
        return tg_voip_step(g, a);
    default:
        return TG_DONE;
    }
}

uint64_t tg_ping_step(struct tg *g, struct tg_actor *a)
{
    struct tg_ping *p = &a->u.ping;
    uint8_t from = p->state;
    struct tg_l3 l3 = {
        .src = p->ip[from],
        .dst = p->ip[from ^ 1],
        .flow_label = p->flow_label,
        .ipid = p->ipid[from]++,
        .frag = from == 0 && p->style == 0 ? TG_IP_DF : 0,
        .ttl = p->ttl[from],
        .label = a->label,
        .v6 = p->v6,
        .inbound = from == 0,
    };
    uint8_t type = p->v6 ? (from ? 129 : 128) : (from ? 0 : 8);
    uint8_t *d = tg_icmp_begin(g, &l3, type, 0, (uint32_t)p->id << 16 | p->seq, p->psize);
    if (d != NULL) {
        for (uint32_t i = 0; i < p->psize; i++)
            d[i] = p->style == 1 ? (uint8_t)('a' + i % 23) : (uint8_t)(i < 8 ? i * 37 : i);
        tg_pkt_finish(g);
    }
    if (from == 0) {
        p->state = 1;
        return 20000 + tg_rng_below(&g->rng, 200000);
    }
    p->state = 0;
    p->seq++;
    if (--p->left == 0)
        return TG_DONE;
    return p->interval_ns - (p->interval_ns > 300000 ? 250000 : 0);
}
