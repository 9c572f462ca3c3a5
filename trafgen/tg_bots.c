/* tg_bots.c - http_flood and slow_http: what they draw, their bots and their connections.
 *
 * Owns the planning of the two connection-level attacks (bots, request rates, connection
 * reuse, URLs, bodies, TLS, slow kinds and intervals, the packet budget of an HTTP flood), the
 * bot actors that open connections at a drawn rate, and the attack side of those TCP
 * connections (tg_attack_app_next: request scripts, slowloris header lines, slow POST chunks,
 * slow reads). The TCP engine (tg_tcp.c) runs the connections; tg_attack.c starts the bots.
 *
 * DESIGN
 * Bots are real hosts: every connection completes its handshake, and a bot keeps one stack
 * (TTL, options, MSS, window scale) and one path (RTT, bandwidth) for all its connections,
 * drawn from its number so a bot looks the same whenever it connects. An HTTP flood is drawn as
 * a per-bot request rate (1-100/s) and a connection habit (keep-alive with many requests per
 * connection, one request per connection, or a mix); the connection rate and the think time
 * between requests follow from them. Budget scaling keeps a big botnet big (fewer bots only by
 * the square root of the cut) and takes the rest from each bot's request rate. */
#include <stdlib.h>

#include "trafgen/tg_internal.h"

/* ---- planning -------------------------------------------------------------------------------- */

/* Connection rate and think time of an HTTP flood from its request rate and connection habit. */
static void tg_http_rates(struct tg_attack *a)
{
    double reqs = 1 + a->keepalive_share * (a->req_per_conn_hi - 1) / 2.0; /* per connection */
    a->conn_rate = a->req_rate / reqs;
    a->think_hi_ms = (uint32_t)tg_clamp(2000.0 / a->req_rate, 1, 2000);
}

void tg_plan_http(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    tg_plan_header(g, a);
    a->bots = a->bots_drawn = (uint32_t)tg_rng_logu(r, 10, 3000);
    a->nsrc = a->bots;
    a->req_rate = a->req_rate_drawn = tg_rng_logu(r, 1, 100);
    a->url_style = tg_rng_chance(r, 0.4) ? TG_URL_RANDOM : TG_URL_FEW;
    double u = tg_rng_unit(r);
    a->conn_mode = u < 0.4 ? TG_CONN_KEEPALIVE : (u < 0.75 ? TG_CONN_ONE : TG_CONN_MIXED);
    a->keepalive_share = a->conn_mode == TG_CONN_KEEPALIVE
                             ? 1.0
                             : (a->conn_mode == TG_CONN_ONE ? 0.0 : tg_rng_uniform(r, 0.2, 0.8));
    a->req_per_conn_hi = a->conn_mode == TG_CONN_ONE ? 1 : (uint32_t)tg_rng_logu(r, 5, 1000);
    u = tg_rng_unit(r);
    a->post_share = u < 0.25  ? tg_rng_uniform(r, 0.8, 1.0) /* POST flood */
                    : u < 0.4 ? tg_rng_uniform(r, 0.1, 0.5)
                              : 0;
    a->tls = tg_rng_chance(r, 0.4);
    u = tg_rng_unit(r);
    if (u < 0.3) {
        a->resp_lo = 150;
        a->resp_hi = 2000;
    } else if (u < 0.8) {
        a->resp_lo = 2000;
        a->resp_hi = 100000;
    } else {
        a->resp_lo = 50000;
        a->resp_hi = 2000000;
    }
    a->proc_ms = (uint32_t)tg_rng_logu(r, 1, 300);
    a->bots_uniform = tg_rng_chance(r, 0.3);
    a->close_fin = tg_rng_uniform(r, 0, 1);
    a->close_rst = tg_rng_uniform(r, 0, 1 - a->close_fin);
    a->close_server = tg_rng_uniform(r, 0, 1 - a->close_fin - a->close_rst);
    a->join_share = tg_rng_uniform(r, 0, 0.4);
    a->v6_share = tg_rng_chance(r, 0.1) ? tg_rng_uniform(r, 0.1, 0.5) : 0;
    tg_plan_victims(g, a, TG_ROLE_WEB, 0);
    tg_http_rates(a);
    a->rate_pps = a->bots * a->req_rate; /* requests per second overall, what the budget scales */
    a->reply_delay_us = 0;
}

void tg_http_budget(struct tg *g, struct tg_inst *in, double f, double per, double dur_s)
{
    struct tg_attack *a = &in->a;
    double reqs = (double)g->cfg->max_attack_packets / per; /* requests the budget allows */
    double bots = tg_clamp(a->bots * sqrt(f), a->bots < 10 ? a->bots : 10, a->bots);
    if (bots > reqs) /* every bot sends at least its first request */
        bots = reqs < 1 ? 1 : reqs;
    a->bots = a->nsrc = (uint32_t)bots;
    double active = dur_s * (1.0 - a->join_share / 2.0);
    a->req_rate = reqs / (a->bots * (active > 0.01 ? active : 0.01));
    tg_http_rates(a);
    a->rate_pps = a->bots * a->req_rate;
}

void tg_plan_slow(struct tg *g, struct tg_inst *in)
{
    struct tg_rng *r = &g->rng;
    struct tg_attack *a = &in->a;
    tg_plan_header(g, a);
    a->slow_kind = (uint8_t)tg_rng_below(r, 4);
    a->nsrc = tg_rng_chance(r, 0.5) ? 1 : tg_rng_range(r, 2, 20);
    a->bots = a->nsrc;
    a->conns_target = (uint32_t)tg_rng_logu(r, 50, 2000);
    a->conn_rate = tg_rng_logu(r, 10, 300) / a->bots;
    a->slow_interval_lo_ms = (uint32_t)tg_rng_logu(r, 5000, 30000);
    a->slow_interval_hi_ms =
        (uint32_t)tg_clamp(a->slow_interval_lo_ms + tg_rng_logu(r, 100, 40000), 5000, 60000);
    a->server_timeout_s = tg_rng_chance(r, 0.4) ? 0 : (uint32_t)tg_rng_logu(r, 10, 300);
    a->tls = tg_rng_chance(r, 0.2);
    a->slow_win_lo = tg_rng_range(r, 16, 256);
    a->slow_win_hi = a->slow_win_lo + tg_rng_range(r, 0, 256);
    a->resp_lo = 100000;
    a->resp_hi = 50000000;
    a->bots_uniform = tg_rng_chance(r, 0.6);
    a->proc_ms = (uint32_t)tg_rng_logu(r, 1, 50);
    a->join_share = tg_rng_uniform(r, 0, 0.2);
    tg_plan_victims(g, a, TG_ROLE_WEB, 0);
    a->rate_pps = a->conns_target * 2.0 / ((a->slow_interval_lo_ms + a->slow_interval_hi_ms) / 2e3);
}

/* ---- bots ----------------------------------------------------------------------------------- */

/* A bot's own stack and path, the same for all its connections (drawn from its number). */
static void tg_bot_profile(const struct tg_inst *in, uint32_t host, struct tg_stack *st,
                           uint32_t *rtt_us, uint32_t *bw_kbps)
{
    struct tg_rng br;
    tg_rng_seed(&br, (uint64_t)in->index << 32 ^ (in->a.bots_uniform ? 0 : host) ^ 0xb07);
    static const uint8_t oses[] = {TG_OS_LINUX, TG_OS_LINUX, TG_OS_WINDOWS, TG_OS_WINDOWS,
                                   TG_OS_ANDROID};
    uint8_t os = oses[tg_rng_below(&br, 5)];
    static const uint16_t mss[] = {1460, 1460, 1460, 1452, 1400, 1380};
    st->os = os;
    st->mss = mss[tg_rng_below(&br, 6)];
    st->ttl = (uint8_t)((os == TG_OS_WINDOWS ? 128 : 64) - tg_rng_range(&br, 5, 25));
    st->synopt = os == TG_OS_WINDOWS ? TG_SYNOPT_WINDOWS : TG_SYNOPT_LINUX;
    st->wscale = os == TG_OS_WINDOWS ? 8 : (uint8_t)tg_rng_range(&br, 6, 9);
    st->win = os == TG_OS_WINDOWS ? 64240 : (tg_rng_chance(&br, 0.7) ? 64240 : 29200);
    st->ts = os != TG_OS_WINDOWS && tg_rng_chance(&br, 0.8);
    st->ipid_rand = false;
    if (in->a.bots_uniform) { /* one tool, many hosts: only the path differs */
        tg_rng_seed(&br, (uint64_t)in->index << 32 ^ host ^ 0x7a7);
        st->ttl = (uint8_t)((os == TG_OS_WINDOWS ? 128 : 64) - tg_rng_range(&br, 5, 25));
    }
    *rtt_us = (uint32_t)tg_clamp(tg_rng_lognormal(&br, 60000, 0.8), 5000, 500000);
    *bw_kbps = (uint32_t)tg_rng_logu(&br, 1000, 200000);
}

static void tg_bot_connect(struct tg *g, struct tg_inst *in, uint32_t host, uint8_t label)
{
    struct tg_rng *r = &g->rng;
    const struct tg_attack *a = &in->a;
    struct tg_actor *act = tg_actor_spawn(g, TG_ACT_TCP, label, g->now_ns);
    if (act == NULL)
        return;
    struct tg_tcp *t = &act->u.tcp;
    memset(t, 0, sizeof *t);
    struct tg_stack st;
    uint32_t rtt_us, bw;
    tg_bot_profile(in, host, &st, &rtt_us, &bw);
    bool v6 = a->v6_share > 0 && tg_rng_chance(r, a->v6_share);
    uint8_t dst[16];
    const struct tg_server *s = tg_victim(g, in, &v6, dst, tg_rng_u32(r));
    tg_truth_src(in, host, v6);
    t->v6 = v6;
    if (v6)
        tg_inst_addr6(in, host, t->ip[0]);
    else
        tg_inst_addr4(in, host, t->ip[0]);
    memcpy(t->ip[1], dst, 16);
    if (in->scenario == TG_SC_HTTP_FLOOD) {
        t->app = TG_APP_HTTP_FLOOD;
    } else {
        static const uint8_t kinds[] = {TG_APP_SLOWLORIS, TG_APP_SLOW_POST, TG_APP_SLOW_READ};
        t->app = a->slow_kind == TG_SLOW_MIXED ? kinds[tg_rng_below(r, 3)] : kinds[a->slow_kind];
        in->open_conns++;
    }
    in->conns_opened++;
    g->app_sessions[t->app]++;
    uint16_t ctr = 0;
    t->port[0] = (uint16_t)tg_stack_ephemeral(r, &st, &ctr);
    t->port[1] = a->tls ? 443 : 80;
    t->rtt_ns = (uint64_t)(rtt_us * tg_rng_lognormal(r, 1.0, 0.1)) * TG_NS_US;
    tg_tcp_stacks(r, t, &st, s, 3e6);
    if (t->app == TG_APP_SLOW_READ) { /* a tiny receive window, no scaling */
        t->wscale[0] = 0;
        t->win[0] = (uint16_t)tg_rng_range(r, a->slow_win_lo, a->slow_win_hi);
        t->syn_win[0] = t->win[0];
        t->aux = tg_rng_range(r, a->slow_interval_lo_ms, a->slow_interval_hi_ms);
    }
    t->gap_ns = (uint32_t)((t->mss + 60) * 8e6 / bw);
    t->cwnd = 10;
    t->cwnd_max = (uint16_t)tg_rng_logu(r, 10, 100);
    if (t->app == TG_APP_SLOW_READ)
        t->cwnd = t->cwnd_max = 1; /* one window's worth per read */
    t->flow_label = tg_rng_u32(r) & 0xfffff;
    t->proc_us = a->proc_ms * 1000;
    t->owner = in->index;
    t->url_style = a->url_style;
    t->deadline_ns = a->server_timeout_s ? g->now_ns + a->server_timeout_s * TG_NS_S : UINT64_MAX;
    t->state = TG_TS_SYN;
}

uint64_t tg_bot_step(struct tg *g, struct tg_actor *a)
{
    struct tg_bot *b = &a->u.bot;
    struct tg_inst *in = &g->inst[b->inst];
    const struct tg_attack *p = &in->a;
    if (g->now_ns >= in->end_ns)
        return TG_DONE;
    if (in->scenario == TG_SC_SLOW_HTTP && in->open_conns >= p->conns_target)
        return (uint64_t)(tg_rng_uniform(&g->rng, 0.2, 2.0) * 1e9); /* enough held: wait */
    tg_bot_connect(g, in, b->host, a->label);
    b->opened++;
    if (p->conn_rate <= 0)
        return TG_DONE;
    return (uint64_t)tg_rng_exp(&g->rng, 1e9 / p->conn_rate) + 1000;
}

void tg_attack_conn_closed(struct tg *g, struct tg_actor *a)
{
    struct tg_inst *in = &g->inst[a->label - 1];
    uint8_t app = a->u.tcp.app;
    if ((app == TG_APP_SLOWLORIS || app == TG_APP_SLOW_POST || app == TG_APP_SLOW_READ) &&
        in->open_conns > 0)
        in->open_conns--;
}

uint64_t tg_attack_app_next(struct tg *g, struct tg_actor *act)
{
    struct tg_tcp *t = &act->u.tcp;
    struct tg_inst *in = &g->inst[act->label - 1];
    const struct tg_attack *a = &in->a;
    struct tg_rng *r = &g->rng;
    uint64_t soon = 20000 + tg_rng_below(r, 2000000);
    bool tls = t->port[1] == 443;
    if (t->stage == 0 && tls) { /* TLS handshake, then the attack proper */
        t->stage = 2;
        t->proc_us = (uint32_t)tg_rng_logu(r, 200, 5000);
        tg_tcp_exchange(t, tg_rng_range(r, 250, 600), tg_rng_range(r, 1500, 6000), TG_XFER_TLS_HS,
                        TG_XFER_TLS_HS, 0);
        return soon;
    }
    bool over = g->now_ns >= in->end_ns;
    switch (t->app) {
    case TG_APP_HTTP_FLOOD: {
        bool first = t->stage < 3;
        if (first) {
            t->stage = 3;
            t->exchanges = (uint16_t)(tg_rng_chance(r, a->keepalive_share)
                                          ? tg_rng_range(r, 1, a->req_per_conn_hi)
                                          : 1);
        } else if (--t->exchanges == 0 || over) {
            double u = tg_rng_unit(r);
            if (u < a->close_fin) {
                tg_tcp_close(g, t, 0, false);
            } else if (u < a->close_fin + a->close_rst) {
                t->rst_close = tg_rng_chance(r, 0.5);
                tg_tcp_close(g, t, 0, true);
            } else if (u < a->close_fin + a->close_rst + a->close_server) {
                tg_tcp_close(g, t, 1, false);
            } else {
                return TG_DONE; /* the bot just forgets the connection */
            }
            return tg_rng_below(r, 5000) * TG_NS_US;
        }
        bool post = a->post_share > 0 && tg_rng_chance(r, a->post_share);
        uint32_t body = post ? (uint32_t)tg_rng_logu(r, 64, 20000) : 0;
        uint32_t resp = (uint32_t)tg_rng_logu(r, a->resp_lo, a->resp_hi);
        t->proc_us = (uint32_t)tg_clamp(tg_rng_lognormal(r, a->proc_ms * 1000.0, 0.8), 100, 5e6);
        tg_tcp_http_exchange(t, tg_rng_u32(r), tg_rng_range(r, 120, 900), post, body, resp, tls);
        if (first)
            return soon;
        return tg_rng_below(r, a->think_hi_ms * 1000 + 1) * TG_NS_US + 20000;
    }
    case TG_APP_SLOWLORIS:
    case TG_APP_SLOW_POST: {
        if (over) { /* the attacker lets go */
            if (tg_rng_chance(r, 0.5))
                return TG_DONE;
            tg_tcp_close(g, t, 0, tg_rng_chance(r, 0.3));
            return soon;
        }
        if (t->stage < 3) {
            t->stage = 3;
            char buf[4200];
            bool post = t->app == TG_APP_SLOW_POST;
            uint32_t body = post ? (uint32_t)tg_rng_logu(r, 1000, 1e8) : 0;
            uint32_t seed = tg_rng_u32(r);
            uint32_t hdr = tg_http_request(buf, sizeof buf, seed, tg_rng_range(r, 150, 500), post,
                                           body, !post, t->url_style);
            t->hdr_len = (uint16_t)hdr;
            t->body = body;
            t->proc_us = 100;
            if (tls) /* the same bytes, inside TLS records */
                tg_tcp_exchange(t, hdr + 22, 0, TG_XFER_TLS, 0, seed);
            else
                tg_tcp_exchange(t, hdr, 0, post ? TG_XFER_HTTP_POST : TG_XFER_HTTP_PARTIAL, 0,
                                seed);
            return soon;
        }
        uint64_t d =
            (uint64_t)tg_rng_range(r, a->slow_interval_lo_ms, a->slow_interval_hi_ms) * TG_NS_MS;
        if (g->now_ns + d > t->deadline_ns) { /* the server's timeout hits first */
            tg_tcp_close(g, t, 1, tg_rng_chance(r, 0.3));
            return t->deadline_ns > g->now_ns ? t->deadline_ns - g->now_ns : 0;
        }
        uint32_t n = t->app == TG_APP_SLOWLORIS ? tg_rng_range(r, 5, 50) : tg_rng_range(r, 1, 20);
        if (tls)
            tg_tcp_exchange(t, n + 22, 0, TG_XFER_TLS, 0, 0);
        else
            tg_tcp_exchange(t, n, 0,
                            t->app == TG_APP_SLOWLORIS ? TG_XFER_HTTP_HDRLINE : TG_XFER_ZERO, 0,
                            tg_rng_u32(r));
        return d;
    }
    case TG_APP_SLOW_READ: {
        if (t->stage < 3 && !over) {
            t->stage = 3;
            t->proc_us = a->proc_ms * 1000;
            tg_tcp_http_exchange(t, tg_rng_u32(r), tg_rng_range(r, 150, 600), false, 0,
                                 (uint32_t)tg_rng_logu(r, a->resp_lo, a->resp_hi), tls);
            return soon;
        }
        if (over || tg_rng_chance(r, 0.5))
            tg_tcp_close(g, t, over ? 0 : 1, false);
        else
            tg_tcp_http_exchange(t, tg_rng_u32(r), tg_rng_range(r, 150, 600), false, 0,
                                 (uint32_t)tg_rng_logu(r, a->resp_lo, a->resp_hi), tls);
        return soon;
    }
    default:
        return TG_DONE;
    }
}
