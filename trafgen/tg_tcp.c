/* tg_tcp.c - the TCP connection engine: handshake, request/response transfers, keep-alive
 * probes and teardown, as seen at the protected network's uplink.
 *
 * Owns the state machine of one struct tg_tcp; the application on top (benign scripts in
 * tg_benign.c, attack scripts in tg_attack.c) only decides what the next exchange is, through
 * tg_app_next() / tg_attack_app_next(). Called from the event loop; emits through tg_packet.c.
 *
 * DESIGN
 * The capture point sits next to the servers, so a server's answer follows the packet it
 * answers after a few tens of microseconds, and the client's after one round trip. Data moves
 * in flights: the sender emits up to cwnd segments spaced by the client's bottleneck (one
 * segment's wire time), then the receiver's cumulative ACKs (one per two segments) follow,
 * after an RTT when the client receives, right away when the server does; cwnd doubles per
 * flight up to the connection's cap, so a connection's rate is min(bandwidth, cwnd*MSS/RTT).
 * Sequence numbers, ACK numbers and TCP timestamps progress as on the wire; a request that fits
 * in two segments gets its ACK piggy-backed on the response, as delayed ACK does. The receiver's
 * window caps the segment size, which is what makes a slow-read connection crawl. */
#include "trafgen/tg_internal.h"

/* Builds one segment of t from side `from`; returns its payload or NULL (--one-way). */
static uint8_t *tg_tcp_seg(struct tg *g, struct tg_actor *a, uint8_t from, uint8_t flags,
                           uint32_t len, uint32_t seq, uint32_t ack)
{
    struct tg_tcp *t = &a->u.tcp;
    uint8_t to = from ^ 1;
    uint16_t ipid = t->ipid_rand[from] ? (uint16_t)tg_rng_u32(&g->rng) : t->ipid[from]++;
    struct tg_l3 l3 = {
        .src = t->ip[from],
        .dst = t->ip[to],
        .flow_label = t->flow_label + from,
        .ipid = ipid,
        .frag = TG_IP_DF,
        .ttl = t->ttl[from],
        .tos = (uint8_t)(t->tos | (t->ecn && len > 0 ? 2 : 0)), /* ECT(0) on data */
        .label = a->label,
        .v6 = t->v6,
        .inbound = from == 0,
    };
    uint32_t ms = (uint32_t)(g->now_ns / TG_NS_MS);
    uint32_t half_rtt_ms = (uint32_t)(t->rtt_ns / TG_NS_MS / 2);
    bool syn = flags & TG_TCP_SYN;
    struct tg_tcpseg s = {
        .sport = t->port[from],
        .dport = t->port[to],
        .seq = seq,
        .ack = ack,
        .win = syn ? t->syn_win[from] : t->win[from],
        .flags = flags,
        .synopt = t->synopt[from],
        .mss = t->mss_adv[from],
        .wscale = t->wscale[from],
        .ts = t->ts_on,
        .tsval = t->ts[from] + ms,
        .tsecr = (syn && !(flags & TG_TCP_ACK)) ? 0 : t->ts[to] + ms - half_rtt_ms,
        .payload_len = len,
    };
    return tg_tcp_begin(g, &l3, &s);
}

static void tg_tcp_seg_emit(struct tg *g, struct tg_actor *a, uint8_t from, uint8_t flags,
                            uint32_t seq, uint32_t ack)
{
    if (tg_tcp_seg(g, a, from, flags, 0, seq, ack) != NULL)
        tg_pkt_finish(g);
}

/* The server's kernel answering a packet it just got. */
static uint64_t tg_tcp_server_delay(struct tg *g)
{
    return (uint64_t)tg_clamp(tg_rng_lognormal(&g->rng, 60e3, 0.7), 8e3, 2e6);
}

/* Spacing of back-to-back segments of seg bytes at the client's bottleneck, with jitter. */
static uint64_t tg_tcp_gap(struct tg *g, const struct tg_tcp *t, uint32_t seg)
{
    double base = (double)t->gap_ns * (double)(seg + 60) / (double)(t->mss + 60);
    return 1000 + (uint64_t)(base * tg_rng_uniform(&g->rng, 0.7, 1.4));
}

static uint64_t tg_tcp_end(struct tg *g, struct tg_actor *a)
{
    if (a->label != 0)
        tg_attack_conn_closed(g, a);
    return TG_DONE;
}

static uint64_t tg_tcp_app(struct tg *g, struct tg_actor *a)
{
    uint64_t d = a->label == 0 ? tg_app_next(g, a) : tg_attack_app_next(g, a);
    return d == TG_DONE ? tg_tcp_end(g, a) : d;
}

void tg_tcp_exchange(struct tg_tcp *t, uint32_t req, uint32_t resp, uint8_t kind, uint8_t resp_kind,
                     uint32_t seed)
{
    t->xfer_seed = seed;
    t->flight = 0;
    t->state = TG_TS_DATA;
    if (t->cwnd > 10) /* restart after idle (RFC 5681 4.1) */
        t->cwnd = t->cwnd_max < 10 ? t->cwnd_max : 10;
    if (req > 0) {
        t->sender = 0;
        t->left = t->xfer_len = req;
        t->xfer_kind = kind;
        t->resp_len = resp;
        t->resp_kind = resp_kind;
    } else {
        t->sender = 1;
        t->left = t->xfer_len = resp > 0 ? resp : 1;
        t->xfer_kind = resp_kind;
        t->resp_len = 0;
    }
}

void tg_tcp_http_exchange(struct tg_tcp *t, uint32_t seed, uint32_t req_target, bool post,
                          uint32_t body, uint32_t resp_target, bool tls)
{
    if (tls) {
        /* TLS records: 5-byte header and a 17-byte AEAD tag per 16 KB */
        uint32_t req = req_target + (post ? body : 0);
        tg_tcp_exchange(t, req + 22 + req / 16384 * 22, resp_target + 22 + resp_target / 16384 * 22,
                        TG_XFER_TLS, TG_XFER_TLS, seed);
        return;
    }
    char buf[4200];
    uint32_t hdr =
        tg_http_request(buf, sizeof buf, seed, req_target, post, body, false, t->url_style);
    uint32_t h;
    uint32_t resp = resp_target == 0
                        ? 0
                        : tg_http_response(buf, sizeof buf, seed * 2654435761u, resp_target, &h);
    t->hdr_len = (uint16_t)hdr;
    t->body = body;
    tg_tcp_exchange(t, hdr + (post ? body : 0), resp, post ? TG_XFER_HTTP_POST : TG_XFER_HTTP_REQ,
                    TG_XFER_HTTP_RESP, seed);
}

uint64_t tg_tcp_close(struct tg *g, struct tg_tcp *t, uint8_t closer, bool rst)
{
    (void)g;
    t->closer = closer;
    t->state = rst ? TG_TS_RST : TG_TS_FIN1;
    return 0;
}

void tg_tcp_fill(struct tg_tcp *t, uint8_t *p, uint32_t off, uint32_t len)
{
    char buf[4200];
    uint32_t n = 0;
    switch (t->xfer_kind) {
    case TG_XFER_ZERO:
        return;
    case TG_XFER_TLS:
        tg_tls_fill(p, off, len, t->xfer_len, 0x17);
        return;
    case TG_XFER_TLS_HS:
        tg_tls_fill(p, off, len, t->xfer_len, 0x16);
        return;
    case TG_XFER_HTTP_REQ:
    case TG_XFER_HTTP_POST:
    case TG_XFER_HTTP_PARTIAL:
        if (off >= t->hdr_len)
            return;
        n = tg_http_request(buf, sizeof buf, t->xfer_seed, t->hdr_len,
                            t->xfer_kind == TG_XFER_HTTP_POST, t->body,
                            t->xfer_kind == TG_XFER_HTTP_PARTIAL, t->url_style);
        break;
    case TG_XFER_HTTP_RESP: {
        if (off >= 1024)
            return;
        uint32_t h;
        (void)tg_http_response(buf, sizeof buf, t->xfer_seed * 2654435761u, t->xfer_len, &h);
        n = h;
        break;
    }
    case TG_XFER_HTTP_HDRLINE: {
        /* one more header line of exactly xfer_len bytes: "X-<k>: <v>\r\n" */
        n = t->xfer_len < sizeof buf ? t->xfer_len : (uint32_t)sizeof buf;
        for (uint32_t i = 0; i < n; i++)
            buf[i] = (char)('a' + (t->xfer_seed + i) % 26);
        if (n >= 7) {
            buf[0] = 'X';
            buf[1] = '-';
            buf[3] = ':';
            buf[4] = ' ';
        }
        if (n >= 2) {
            buf[n - 2] = '\r';
            buf[n - 1] = '\n';
        }
        break;
    }
    case TG_XFER_APP:
        n = tg_site_tcp_content(t, (uint8_t *)buf, sizeof buf);
        break;
    case TG_XFER_DNS_Q:
    case TG_XFER_DNS_R: {
        uint32_t m = tg_dns_build((uint8_t *)buf + 2, sizeof buf - 2, t->xfer_seed,
                                  t->xfer_kind == TG_XFER_DNS_R, t->xfer_len - 2, false);
        tg_put16((uint8_t *)buf, m);
        n = m + 2;
        break;
    }
    }
    if (off < n)
        memcpy(p, buf + off, (n - off) < len ? n - off : len);
}

/* The server starts answering the request that just arrived. */
static uint64_t tg_tcp_respond(struct tg *g, struct tg_tcp *t)
{
    t->sender = 1;
    t->left = t->xfer_len = t->resp_len;
    t->xfer_kind = t->resp_kind;
    t->resp_len = 0;
    t->flight = 0;
    t->state = TG_TS_DATA;
    double proc = tg_rng_lognormal(&g->rng, (double)t->proc_us * 1e3, 0.6);
    return (uint64_t)tg_clamp(proc, 20e3, 5e9);
}

uint64_t tg_tcp_step(struct tg *g, struct tg_actor *a)
{
    struct tg_tcp *t = &a->u.tcp;
    switch (t->state) {
    case TG_TS_SYN: {
        uint8_t fl = TG_TCP_SYN | (t->ecn ? TG_TCP_ECE | TG_TCP_CWR : 0);
        tg_tcp_seg_emit(g, a, 0, fl, t->seq[0], 0);
        t->tries++;
        if (t->silent) { /* nobody answers: retransmit with exponential backoff, give up */
            if (t->tries >= 3)
                return tg_tcp_end(g, a);
            return (TG_NS_S << (t->tries - 1)) + tg_rng_below(&g->rng, 20000) * TG_NS_US;
        }
        t->state = t->refused ? TG_TS_REFUSED : TG_TS_SYNACK;
        return tg_tcp_server_delay(g);
    }
    case TG_TS_REFUSED:
        tg_tcp_seg_emit(g, a, 1, TG_TCP_RST | TG_TCP_ACK, 0, t->seq[0] + 1);
        return tg_tcp_end(g, a);
    case TG_TS_SYNACK:
        t->seq[0]++;
        tg_tcp_seg_emit(g, a, 1, TG_TCP_SYN | TG_TCP_ACK | (t->ecn ? TG_TCP_ECE : 0), t->seq[1],
                        t->seq[0]);
        t->seq[1]++;
        t->state = TG_TS_HS_ACK;
        return t->rtt_ns;
    case TG_TS_HS_ACK:
        tg_tcp_seg_emit(g, a, 0, TG_TCP_ACK, t->seq[0], t->seq[1]);
        t->state = TG_TS_NEXT;
        return tg_tcp_app(g, a);
    case TG_TS_NEXT:
        return tg_tcp_app(g, a);
    case TG_TS_DATA: {
        uint8_t s = t->sender;
        uint32_t seg = t->mss;
        uint32_t rwnd = (uint32_t)t->win[s ^ 1] << t->wscale[s ^ 1];
        if (rwnd < seg)
            seg = rwnd ? rwnd : 1;
        if (seg > t->left)
            seg = t->left;
        if (t->flight == 0)
            t->flight_seq = t->seq[s];
        uint8_t fl = TG_TCP_ACK | (seg == t->left ? TG_TCP_PSH : 0);
        uint8_t *p = tg_tcp_seg(g, a, s, fl, seg, t->seq[s], t->seq[s ^ 1]);
        if (p != NULL) {
            tg_tcp_fill(t, p, t->xfer_len - t->left, seg);
            tg_pkt_finish(g);
        }
        t->seq[s] += seg;
        t->left -= seg;
        t->flight++;
        if (t->left > 0 && t->flight < t->cwnd)
            return tg_tcp_gap(g, t, seg);
        if (s == 0 && t->left == 0 && t->resp_len > 0 && t->flight <= 2 && t->proc_us < 40000)
            return tg_tcp_respond(g, t); /* the response carries the ACK */
        t->acks_left = (uint16_t)((t->flight + 1) / 2);
        t->state = TG_TS_ACK;
        if (s == 0)
            return tg_tcp_server_delay(g);
        if (t->app == TG_APP_SLOW_READ) /* the reader drains its tiny buffer slowly */
            return (uint64_t)t->aux * TG_NS_MS / 2 + tg_rng_below(&g->rng, t->aux + 1) * TG_NS_MS;
        return t->rtt_ns;
    }
    case TG_TS_ACK: {
        uint8_t s = t->sender, r = s ^ 1;
        uint32_t k = (uint32_t)(t->flight + 1) / 2 - t->acks_left + 1;
        uint32_t ack = t->flight_seq + 2 * k * t->mss;
        if ((int32_t)(ack - t->seq[s]) > 0 || t->acks_left == 1)
            ack = t->seq[s];
        tg_tcp_seg_emit(g, a, r, TG_TCP_ACK, t->seq[r], ack);
        if (--t->acks_left > 0)
            return 2 * tg_tcp_gap(g, t, t->mss);
        t->flight = 0;
        if (t->left > 0) {
            if (t->cwnd < t->cwnd_max)
                t->cwnd = t->cwnd * 2 < t->cwnd_max ? t->cwnd * 2 : t->cwnd_max;
            t->state = TG_TS_DATA;
            return s == 1 ? 5000 + tg_rng_below(&g->rng, 30000) : t->rtt_ns;
        }
        if (s == 0 && t->resp_len > 0)
            return tg_tcp_respond(g, t);
        t->state = TG_TS_NEXT;
        return tg_tcp_app(g, a);
    }
    case TG_TS_KA_PROBE: {
        uint8_t s = t->sender;
        /* Linux-style empty probe one byte behind. (Windows repeats the last byte instead;
         * tshark's TCP reassembly reports that as an overlap error inside TLS streams.) */
        tg_tcp_seg_emit(g, a, s, TG_TCP_ACK, t->seq[s] - 1, t->seq[s ^ 1]);
        t->state = TG_TS_KA_ACK;
        return s == 0 ? tg_tcp_server_delay(g) : t->rtt_ns;
    }
    case TG_TS_KA_ACK: {
        uint8_t r = t->sender ^ 1;
        tg_tcp_seg_emit(g, a, r, TG_TCP_ACK, t->seq[r], t->seq[r ^ 1]);
        t->state = TG_TS_NEXT;
        return tg_tcp_app(g, a);
    }
    case TG_TS_FIN1: {
        uint8_t c = t->closer;
        tg_tcp_seg_emit(g, a, c, TG_TCP_FIN | TG_TCP_ACK, t->seq[c], t->seq[c ^ 1]);
        t->seq[c]++;
        t->state = TG_TS_FIN2;
        return c == 0 ? tg_tcp_server_delay(g) : t->rtt_ns;
    }
    case TG_TS_FIN2: {
        uint8_t o = t->closer ^ 1;
        if (tg_rng_chance(&g->rng, 0.6)) { /* FIN merged into the ACK */
            tg_tcp_seg_emit(g, a, o, TG_TCP_FIN | TG_TCP_ACK, t->seq[o], t->seq[o ^ 1]);
            t->seq[o]++;
            t->state = TG_TS_LAST_ACK;
            return o == 1 ? t->rtt_ns : tg_tcp_server_delay(g);
        }
        tg_tcp_seg_emit(g, a, o, TG_TCP_ACK, t->seq[o], t->seq[o ^ 1]);
        t->state = TG_TS_FIN3;
        return o == 1 ? 100000 + tg_rng_below(&g->rng, 5000000)
                      : 1000000 + tg_rng_below(&g->rng, 200000000);
    }
    case TG_TS_FIN3: {
        uint8_t o = t->closer ^ 1;
        tg_tcp_seg_emit(g, a, o, TG_TCP_FIN | TG_TCP_ACK, t->seq[o], t->seq[o ^ 1]);
        t->seq[o]++;
        t->state = TG_TS_LAST_ACK;
        return o == 1 ? t->rtt_ns : tg_tcp_server_delay(g);
    }
    case TG_TS_LAST_ACK: {
        uint8_t c = t->closer;
        tg_tcp_seg_emit(g, a, c, TG_TCP_ACK, t->seq[c], t->seq[c ^ 1]);
        return tg_tcp_end(g, a);
    }
    case TG_TS_RST: {
        uint8_t c = t->closer;
        bool with_ack = t->rst_close || c == 1;
        tg_tcp_seg_emit(g, a, c, with_ack ? TG_TCP_RST | TG_TCP_ACK : TG_TCP_RST, t->seq[c],
                        with_ack ? t->seq[c ^ 1] : 0);
        return tg_tcp_end(g, a);
    }
    }
    return tg_tcp_end(g, a);
}
