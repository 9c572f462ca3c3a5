/* tg_packet.c - frame builders and payload templates of the traffic generator.
 *
 * Owns the byte layout of every packet ddos-trafgen writes: Ethernet II, IPv4 (with fragments)
 * or IPv6, TCP with the option layouts real stacks and flood tools use, UDP, ICMP and ICMPv6,
 * and the few application payloads whose first bytes a dissector needs (DNS, HTTP/1.1 heads,
 * TLS record headers, NTP, SSDP, memcached, CoAP, chargen, RTP/RTCP and QUIC in tg_benign.c).
 * Called only from the event loop's thread; writes into the output buffer of struct tg and nowhere
 * else.
 *
 * DESIGN
 * A packet is built in place in the output buffer, right after the 16-byte pcap record header
 * it will get: begin() writes the headers and zeroes the payload, the caller writes whatever
 * payload bytes matter, finish() computes the transport checksum (over the pseudo-header), pads
 * runts to 60 bytes and writes the record header. Nothing is copied twice and nothing is
 * allocated; the buffer is handed to fwrite() in 16 MB blocks. Every transport checksum is
 * exact (tshark and IDSes that validate them accept the capture); the checksum loop sums 8
 * bytes per step, cheap next to the memset of the payload. --one-way is applied in begin():
 * an outbound packet is never built, but the caller's state machine still advances. */
#include <errno.h>
#include <stdlib.h>

#include "trafgen/tg_internal.h"

/* The capture point is the protected network's uplink: one router MAC outside, a MAC per host
 * inside derived from its address. */
static const uint8_t tg_mac_router[6] = {0x00, 0x1b, 0x21, 0xaa, 0x00, 0x01};

static void tg_mac_host(uint8_t *mac, const uint8_t *addr, bool v6)
{
    const uint8_t *tail = addr + (v6 ? 12 : 0);
    if (v6 && addr[0] == 0xff) { /* IPv6 multicast: 33:33 and the group's last 32 bits */
        mac[0] = mac[1] = 0x33;
        memcpy(mac + 2, tail, 4);
        return;
    }
    if (!v6 && (addr[0] & 0xf0) == 0xe0) { /* IPv4 multicast: 01:00:5e and 23 bits */
        mac[0] = 0x01;
        mac[1] = 0x00;
        mac[2] = 0x5e;
        mac[3] = addr[1] & 0x7f;
        mac[4] = addr[2];
        mac[5] = addr[3];
        return;
    }
    if (!v6 && addr[3] == 255) { /* the /24 broadcasts of the plan */
        memset(mac, 0xff, 6);
        return;
    }
    mac[0] = 0x02;
    mac[1] = 0x20;
    memcpy(mac + 2, tail, 4);
}

/* ---- output buffer -------------------------------------------------------------------------- */

/* Hands the buffer to the file; a failure is remembered in write_err (the loop checks it). */
static void tg_out_drain(struct tg *g)
{
    if (g->out_len == 0)
        return;
    if (g->write_err == 0 && fwrite(g->out, 1, g->out_len, g->fp) != g->out_len)
        g->write_err = errno ? -errno : -EIO;
    g->file_bytes += g->out_len;
    g->out_len = 0;
}

int tg_out_flush(struct tg *g)
{
    tg_out_drain(g);
    return g->write_err;
}

/* Writes Ethernet and the IP header for an L4 segment of l4_len bytes and returns where L4
 * goes, or NULL when --one-way drops the packet. Sets g->pk for finish(). */
static uint8_t *tg_ip_begin(struct tg *g, const struct tg_l3 *l3, uint8_t proto, uint32_t l4_len)
{
    if (g->one_way && !l3->inbound) {
        g->suppressed++;
        return NULL;
    }
    if (DD_UNLIKELY(g->out_len > TG_OUT_CAP - TG_OUT_RESERVE))
        tg_out_drain(g);
    uint8_t *rec = g->out + g->out_len;
    uint8_t *px = rec + 16;
    if (l3->inbound) {
        tg_mac_host(px, l3->dst, l3->v6);
        memcpy(px + 6, tg_mac_router, 6);
    } else {
        memcpy(px, tg_mac_router, 6);
        tg_mac_host(px + 6, l3->src, l3->v6);
    }
    uint8_t *ip = px + 14;
    uint8_t *l4;
    uint64_t pseudo = 0;
    if (!l3->v6) {
        tg_put16(px + 12, 0x0800);
        ip[0] = 0x45;
        ip[1] = l3->tos;
        tg_put16(ip + 2, 20 + l4_len);
        tg_put16(ip + 4, l3->ipid);
        tg_put16(ip + 6, l3->frag);
        ip[8] = l3->ttl;
        ip[9] = proto;
        ip[10] = ip[11] = 0;
        memcpy(ip + 12, l3->src, 4);
        memcpy(ip + 16, l3->dst, 4);
        uint16_t c = tg_csum_fold(tg_csum_add(0, ip, 20));
        memcpy(ip + 10, &c, 2);
        if (proto != TG_PROTO_ICMP)
            pseudo = tg_csum_add(0, ip + 12, 8);
        l4 = ip + 20;
    } else {
        tg_put16(px + 12, 0x86dd);
        tg_put32(ip, 0x60000000u | (uint32_t)l3->tos << 20 | (l3->flow_label & 0xfffffu));
        tg_put16(ip + 4, l4_len);
        ip[6] = proto;
        ip[7] = l3->ttl;
        memcpy(ip + 8, l3->src, 16);
        memcpy(ip + 24, l3->dst, 16);
        pseudo = tg_csum_add(0, ip + 8, 32);
        l4 = ip + 40;
    }
    uint8_t ph[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
    pseudo = tg_csum_add(pseudo, ph, 4);
    g->pk.rec = rec;
    g->pk.l4 = l4;
    g->pk.l4_len = l4_len;
    g->pk.pseudo = (uint32_t)((pseudo & 0xffffffffu) + (pseudo >> 32));
    g->pk.proto = proto;
    g->pk.label = l3->label;
    g->pk.csum_off = 0xff;
    return l4;
}

void tg_pkt_finish(struct tg *g)
{
    struct tg_pkt_state *pk = &g->pk;
    if (pk->csum_off != 0xff) {
        uint64_t sum = pk->pseudo;
        if (pk->proto == TG_PROTO_ICMP)
            sum = 0;
        uint16_t c = tg_csum_fold(tg_csum_add(sum, pk->l4, pk->l4_len));
        if (c == 0 && pk->proto == TG_PROTO_UDP)
            c = 0xffff; /* 0 means "no checksum" in UDP */
        memcpy(pk->l4 + pk->csum_off, &c, 2);
    }
    uint8_t *px = pk->rec + 16;
    uint32_t len = (uint32_t)(pk->l4 + pk->l4_len - px);
    if (len < TG_FRAME_MIN) {
        memset(px + len, 0, TG_FRAME_MIN - len);
        len = TG_FRAME_MIN;
    }
    uint32_t caplen = len < g->snaplen ? len : g->snaplen; /* the bytes past it stay unused */
    tg_pcap_record_header(pk->rec, g->now_ns, caplen, len);
    g->out_len += 16 + caplen;
    g->packets++;
    g->wire_bytes += len;
    g->label_packets[pk->label]++;
    g->label_bytes[pk->label] += len;
}

/* ---- TCP ------------------------------------------------------------------------------------ */

/* Writes the options of segment s at o; returns their length (a multiple of 4). */
static uint32_t tg_tcp_options(uint8_t *o, const struct tg_tcpseg *s)
{
    uint32_t n = 0;
    if (!(s->flags & TG_TCP_SYN)) {
        if (!s->ts)
            return 0;
        o[0] = 1;
        o[1] = 1;
        o[2] = 8;
        o[3] = 10;
        tg_put32(o + 4, s->tsval);
        tg_put32(o + 8, s->tsecr);
        return 12;
    }
    switch (s->synopt) {
    case TG_SYNOPT_NONE:
        return 0;
    case TG_SYNOPT_MSS:
        o[0] = 2;
        o[1] = 4;
        tg_put16(o + 2, s->mss);
        return 4;
    case TG_SYNOPT_LINUX:
        o[0] = 2;
        o[1] = 4;
        tg_put16(o + 2, s->mss);
        if (s->ts) {
            o[4] = 4;
            o[5] = 2;
            o[6] = 8;
            o[7] = 10;
            tg_put32(o + 8, s->tsval);
            tg_put32(o + 12, s->tsecr);
            o[16] = 1;
            n = 17;
        } else {
            o[4] = 1;
            o[5] = 1;
            o[6] = 4;
            o[7] = 2;
            o[8] = 1;
            n = 9;
        }
        o[n] = 3;
        o[n + 1] = 3;
        o[n + 2] = s->wscale;
        return n + 3;
    case TG_SYNOPT_WINDOWS:
        o[0] = 2;
        o[1] = 4;
        tg_put16(o + 2, s->mss);
        o[4] = 1;
        o[5] = 3;
        o[6] = 3;
        o[7] = s->wscale;
        o[8] = 1;
        o[9] = 1;
        o[10] = 4;
        o[11] = 2;
        return 12;
    case TG_SYNOPT_MACOS:
    default:
        o[0] = 2;
        o[1] = 4;
        tg_put16(o + 2, s->mss);
        o[4] = 1;
        o[5] = 3;
        o[6] = 3;
        o[7] = s->wscale;
        o[8] = 1;
        o[9] = 1;
        o[10] = 8;
        o[11] = 10;
        tg_put32(o + 12, s->tsval);
        tg_put32(o + 16, s->tsecr);
        o[20] = 4;
        o[21] = 2;
        o[22] = 0;
        o[23] = 0;
        return 24;
    }
}

uint8_t *tg_tcp_begin(struct tg *g, const struct tg_l3 *l3, const struct tg_tcpseg *s)
{
    uint8_t opts[40];
    uint32_t olen = tg_tcp_options(opts, s);
    uint32_t hlen = 20 + olen;
    uint32_t max = TG_MTU - (l3->v6 ? 40 : 20) - hlen;
    uint32_t plen = s->payload_len < max ? s->payload_len : max;
    uint8_t *th = tg_ip_begin(g, l3, TG_PROTO_TCP, hlen + plen);
    if (th == NULL)
        return NULL;
    tg_put16(th, s->sport);
    tg_put16(th + 2, s->dport);
    tg_put32(th + 4, s->seq);
    tg_put32(th + 8, s->ack);
    th[12] = (uint8_t)(hlen / 4) << 4;
    th[13] = s->flags;
    tg_put16(th + 14, s->win);
    tg_put32(th + 16, (s->flags & TG_TCP_URG) ? 1u : 0u); /* checksum 0 for now, urgent */
    memcpy(th + 20, opts, olen);
    memset(th + hlen, 0, plen);
    g->pk.csum_off = 16;
    return th + hlen;
}

void tg_tcp_emit(struct tg *g, const struct tg_l3 *l3, const struct tg_tcpseg *s)
{
    if (tg_tcp_begin(g, l3, s) != NULL)
        tg_pkt_finish(g);
}

/* ---- UDP ------------------------------------------------------------------------------------ */

uint8_t *tg_udp_begin(struct tg *g, const struct tg_l3 *l3, uint16_t sport, uint16_t dport,
                      uint32_t payload_len)
{
    uint32_t max = TG_MTU - (l3->v6 ? 40 : 20) - 8;
    if (payload_len > max)
        payload_len = max;
    uint8_t *uh = tg_ip_begin(g, l3, TG_PROTO_UDP, 8 + payload_len);
    if (uh == NULL)
        return NULL;
    tg_put16(uh, sport);
    tg_put16(uh + 2, dport);
    tg_put16(uh + 4, 8 + payload_len);
    tg_put16(uh + 6, 0);
    memset(uh + 8, 0, payload_len);
    g->pk.csum_off = 6;
    return uh + 8;
}

void tg_udp_send(struct tg *g, const struct tg_l3 *l3, uint16_t sport, uint16_t dport,
                 const uint8_t *buf, uint32_t len)
{
    uint32_t room = TG_MTU - (l3->v6 ? 40 : 20) - 8;
    if (len <= room || l3->v6) {
        uint8_t *p = tg_udp_begin(g, l3, sport, dport, len);
        if (p == NULL)
            return;
        if (buf != NULL)
            memcpy(p, buf, len < room ? len : room);
        tg_pkt_finish(g);
        return;
    }
    if (g->one_way && !l3->inbound) {
        g->suppressed++;
        return;
    }
    /* IPv4 fragments of at most 1480 bytes of datagram each; the UDP checksum covers the
     * whole datagram, so it is computed here and the fragments carry no L4 checksum work. */
    uint32_t total = 8 + len;
    uint8_t uh[8];
    tg_put16(uh, sport);
    tg_put16(uh + 2, dport);
    tg_put16(uh + 4, total);
    tg_put16(uh + 6, 0);
    uint8_t ph[12];
    memcpy(ph, l3->src, 4);
    memcpy(ph + 4, l3->dst, 4);
    ph[8] = 0;
    ph[9] = TG_PROTO_UDP;
    tg_put16(ph + 10, total);
    uint64_t sum = tg_csum_add(tg_csum_add(0, ph, 12), uh, 8);
    if (buf != NULL)
        sum = tg_csum_add(sum, buf, len);
    uint16_t c = tg_csum_fold(sum);
    if (c == 0)
        c = 0xffff;
    memcpy(uh + 6, &c, 2);

    struct tg_l3 f = *l3;
    uint32_t off = 0; /* offset in the datagram, UDP header included */
    while (off < total) {
        uint32_t chunk = total - off;
        bool more = chunk > TG_MTU - 20;
        if (more)
            chunk = (TG_MTU - 20) & ~7u;
        f.frag = (uint16_t)((more ? TG_IP_MF : 0) | (off / 8));
        uint8_t *p = tg_ip_begin(g, &f, TG_PROTO_UDP, chunk);
        uint32_t o = 0;
        if (off == 0) {
            memcpy(p, uh, 8);
            o = 8;
        }
        uint32_t from = off + o - 8; /* offset in buf */
        if (buf != NULL)
            memcpy(p + o, buf + from, chunk - o);
        else
            memset(p + o, 0, chunk - o);
        tg_pkt_finish(g);
        off += chunk;
    }
}

/* ---- fragments and checksums ------------------------------------------------------------------
 */

uint8_t *tg_frag_begin(struct tg *g, const struct tg_l3 *l3, uint8_t proto, uint32_t off, bool more,
                       uint32_t id, uint32_t len)
{
    uint32_t max = TG_MTU - (l3->v6 ? 48 : 20);
    if (len > max)
        len = max;
    if (!l3->v6) {
        struct tg_l3 f = *l3;
        f.ipid = (uint16_t)id;
        f.frag = (uint16_t)((more ? TG_IP_MF : 0) | ((off / 8) & 0x1fff));
        uint8_t *p = tg_ip_begin(g, &f, proto, len);
        if (p != NULL)
            memset(p, 0, len);
        return p;
    }
    uint8_t *p = tg_ip_begin(g, l3, 44, 8 + len);
    if (p == NULL)
        return NULL;
    p[0] = proto;
    p[1] = 0;
    tg_put16(p + 2, (off & 0xfff8u) | (more ? 1u : 0u));
    tg_put32(p + 4, id);
    memset(p + 8, 0, len);
    return p + 8;
}

uint16_t tg_l4_csum(const struct tg_l3 *l3, uint8_t proto, uint32_t total, const uint8_t *hdr,
                    uint32_t hdr_len)
{
    uint64_t sum = 0;
    if (proto != TG_PROTO_ICMP) {
        sum = tg_csum_add(0, l3->src, l3->v6 ? 16 : 4);
        sum = tg_csum_add(sum, l3->dst, l3->v6 ? 16 : 4);
        uint8_t ph[8] = {0, 0, 0, 0, 0, 0, 0, proto};
        tg_put32(ph, total);
        sum = tg_csum_add(sum, ph, 8);
    }
    uint16_t c = tg_csum_fold(tg_csum_add(sum, hdr, hdr_len));
    return (c == 0 && proto == TG_PROTO_UDP) ? 0xffff : c;
}

uint8_t *tg_raw_begin(struct tg *g, const struct tg_l3 *l3, uint8_t proto, uint32_t len)
{
    uint32_t max = TG_MTU - (l3->v6 ? 40 : 20);
    if (len > max)
        len = max;
    uint8_t *p = tg_ip_begin(g, l3, proto, len);
    if (p != NULL)
        memset(p, 0, len);
    return p;
}

uint16_t tg_ip4_csum(const uint8_t *h)
{
    return tg_csum_fold(tg_csum_add(0, h, 20));
}

/* ---- ICMP ----------------------------------------------------------------------------------- */

uint8_t *tg_icmp_begin(struct tg *g, const struct tg_l3 *l3, uint8_t type, uint8_t code,
                       uint32_t rest, uint32_t payload_len)
{
    uint32_t max = TG_MTU - (l3->v6 ? 40 : 20) - 8;
    if (payload_len > max)
        payload_len = max;
    uint8_t *ih = tg_ip_begin(g, l3, l3->v6 ? TG_PROTO_ICMPV6 : TG_PROTO_ICMP, 8 + payload_len);
    if (ih == NULL)
        return NULL;
    ih[0] = type;
    ih[1] = code;
    ih[2] = ih[3] = 0;
    tg_put32(ih + 4, rest);
    memset(ih + 8, 0, payload_len);
    g->pk.csum_off = 2;
    return ih + 8;
}

/* ---- payload templates ---------------------------------------------------------------------- */

/* A tiny local generator so a template can be rebuilt from its seed alone (TCP segments of one
 * HTTP head are written separately, and must agree). */
static uint32_t tg_tpl_next(uint64_t *x)
{
    return (uint32_t)(dd_splitmix64(x) >> 32);
}

static uint32_t tg_dns_name(uint8_t *p, uint64_t *x, uint32_t len)
{
    /* len counts the label length bytes and the root; at least 3 */
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint32_t r = len - 1, n = 0;
    while (r > 0) {
        uint32_t l = 2 + tg_tpl_next(x) % 14;
        if (l + 1 > r)
            l = r - 1;
        if (r - (l + 1) == 1) /* would leave a 1-byte gap: a label needs 2 */
            l = l < 63 ? l + 1 : l - 1;
        if (l > 63)
            l = 63;
        p[n++] = (uint8_t)l;
        for (uint32_t i = 0; i < l; i++)
            p[n++] = (uint8_t)alpha[tg_tpl_next(x) % 36];
        r -= l + 1;
    }
    p[n++] = 0;
    return n;
}

/* TXT record of exactly size bytes (>= 13) with a compression pointer to the question. */
static uint32_t tg_dns_txt(uint8_t *p, uint32_t size)
{
    uint32_t rd = size - 12;
    p[0] = 0xc0;
    p[1] = 0x0c;
    tg_put16(p + 2, 16);
    tg_put16(p + 4, 1);
    tg_put32(p + 6, 300);
    tg_put16(p + 10, rd);
    uint8_t *s = p + 12;
    while (rd > 0) {
        uint32_t l = rd - 1 < 255 ? rd - 1 : 255;
        s[0] = (uint8_t)l;
        memset(s + 1, 'v', l);
        s += l + 1;
        rd -= l + 1;
    }
    return size;
}

uint32_t tg_dns_build(uint8_t *p, uint32_t cap, uint32_t seed, bool response, uint32_t target,
                      bool amp)
{
    static const uint16_t qtypes[] = {1, 1, 1, 1, 28, 28, 28, 65, 15, 16, 12, 33};
    uint64_t x = seed;
    uint32_t h = tg_tpl_next(&x);
    bool edns = amp || (h & 1);
    uint32_t qlen = amp ? 8 + (h >> 8) % 14 : 24 + (h >> 8) % 70;
    uint16_t qtype = amp ? ((h >> 20) & 1 ? 255 : 16) : qtypes[(h >> 20) % 12];
    bool nx = !amp && (h >> 28) == 0;
    tg_put16(p, (uint16_t)(h >> 12));
    tg_put16(p + 2, response ? (nx ? 0x8183 : 0x8180) : 0x0100);
    tg_put16(p + 4, 1);
    tg_put16(p + 6, 0);
    tg_put16(p + 8, 0);
    tg_put16(p + 10, edns ? 1 : 0);
    uint32_t n = 12 + tg_dns_name(p + 12, &x, qlen);
    tg_put16(p + n, qtype);
    tg_put16(p + n + 2, 1);
    n += 4;
    uint32_t base = n + (edns ? 11 : 0);
    if (response && !nx && target > base) {
        if (target > cap)
            target = cap;
        uint32_t r = target - base, an = 0;
        if (!amp) {
            uint32_t rdlen = qtype == 28 ? 16 : 4;
            uint32_t rec = 12 + rdlen;
            while (r == rec || r >= rec + 13) {
                p[n] = 0xc0;
                p[n + 1] = 0x0c;
                tg_put16(p + n + 2, qtype == 28 ? 28 : 1);
                tg_put16(p + n + 4, 1);
                tg_put32(p + n + 6, 60 + tg_tpl_next(&x) % 3600);
                tg_put16(p + n + 10, rdlen);
                for (uint32_t i = 0; i < rdlen; i++)
                    p[n + 12 + i] = (uint8_t)tg_tpl_next(&x);
                n += rec;
                r -= rec;
                an++;
            }
        }
        while (r >= 13) {
            uint32_t t = r < 12 + 256 ? r : 12 + 256;
            if (r - t > 0 && r - t < 13)
                t = r - 13;
            n += tg_dns_txt(p + n, t);
            r -= t;
            an++;
        }
        tg_put16(p + 6, an);
    }
    if (edns) {
        p[n] = 0;
        tg_put16(p + n + 1, 41);
        tg_put16(p + n + 3, amp ? 4096 : 1232);
        tg_put32(p + n + 5, 0);
        tg_put16(p + n + 9, 0);
        n += 11;
    }
    return n;
}

static const char *const tg_http_hosts[] = {"www.example.com",    "shop.example.net",
                                            "api.example.org",    "cdn.example.com",
                                            "portal.example.net", "m.example.com"};
static const char *const tg_http_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
};

uint32_t tg_http_request(char *p, uint32_t cap, uint32_t seed, uint32_t target, bool post,
                         uint32_t body_len, bool partial, uint8_t style)
{
    static const char *const paths[] = {
        "/",          "/index.html", "/api/v1/items?id=", "/static/app.", "/images/",
        "/search?q=", "/login",      "/cart/add?sku="};
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t x = seed;
    uint32_t h = tg_tpl_next(&x);
    uint32_t v = tg_tpl_next(&x);
    char path[160];
    if (style == TG_URL_RANDOM) { /* cache busting: a random path and query string each time */
        uint32_t k = 0, seg = 1 + tg_tpl_next(&x) % 3;
        for (uint32_t i = 0; i < seg; i++) {
            path[k++] = '/';
            for (uint32_t j = 0, l = 3 + tg_tpl_next(&x) % 10; j < l; j++)
                path[k++] = alpha[tg_tpl_next(&x) % 36];
        }
        k += (uint32_t)snprintf(path + k, sizeof path - k, "?%c=%08x%08x&_=%u",
                                alpha[tg_tpl_next(&x) % 26], tg_tpl_next(&x), tg_tpl_next(&x),
                                1767225600u + tg_tpl_next(&x) % 86400u);
        path[k] = '\0';
    } else {
        snprintf(path, sizeof path, "%s%x", paths[h % 8], v);
    }
    int n = snprintf(p, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                     "Accept: */*\r\nAccept-Language: en-US,en;q=0.9\r\n"
                     "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n",
                     post ? "POST" : "GET", path, tg_http_hosts[(h >> 8) % 6],
                     tg_http_agents[(h >> 16) % 7]);
    if (post)
        n += snprintf(p + n, cap - (uint32_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: %u\r\n",
                      body_len);
    uint32_t end = partial ? 0 : 2;
    if (target > cap - 1)
        target = cap - 1;
    /* pad to the target with a cookie: "Cookie: s=" + k letters + CRLF */
    if (target >= (uint32_t)n + end + 12) {
        uint32_t k = target - (uint32_t)n - end - 12;
        memcpy(p + n, "Cookie: s=", 10);
        for (uint32_t i = 0; i < k; i++)
            p[n + 10 + i] = (char)('a' + (i * 7 + h) % 26);
        p[n + 10 + k] = '\r';
        p[n + 11 + k] = '\n';
        n += 12 + (int)k;
    }
    if (!partial) {
        p[n++] = '\r';
        p[n++] = '\n';
    }
    return (uint32_t)n;
}

uint32_t tg_http_response(char *p, uint32_t cap, uint32_t seed, uint32_t total, uint32_t *hdr)
{
    /* Types whose dissectors accept a body of zeros (image/jpeg, video/mp4 would not). */
    static const char *const types[] = {
        "text/html; charset=utf-8", "text/plain", "application/octet-stream",
        "application/javascript",   "text/css",   "application/x-binary",
        "application/octet-stream"};
    uint64_t x = seed;
    uint32_t h = tg_tpl_next(&x);
    uint32_t code = (h % 20) == 0 ? 404 : ((h % 20) == 1 ? 302 : 200);
    const char *reason = code == 200 ? "OK" : (code == 404 ? "Not Found" : "Found");
    uint32_t cl = 0;
    int n = 0;
    for (int i = 0; i < 3; i++) { /* the header's length depends on the digits of its body */
        n = snprintf(p, cap,
                     "HTTP/1.1 %u %s\r\nServer: nginx/1.24.0\r\n"
                     "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: %s\r\n"
                     "Content-Length: %u\r\nConnection: keep-alive\r\n\r\n",
                     code, reason, types[(h >> 8) % 7], cl);
        cl = total > (uint32_t)n ? total - (uint32_t)n : 0;
    }
    *hdr = (uint32_t)n;
    return (uint32_t)n + cl;
}

void tg_tls_fill(uint8_t *p, uint32_t off, uint32_t len, uint32_t total, uint8_t type)
{
    /* Records of R bytes (5-byte header); a short tail is merged into the record before it. */
    const uint32_t R = 16406;
    uint32_t nrec = (total + R - 1) / R;
    if (nrec > 1 && total - (nrec - 1) * R < 6)
        nrec--;
    for (uint32_t k = off / R; k < nrec && k * R < off + len; k++) {
        uint32_t start = k * R;
        uint32_t rlen = (k + 1 == nrec) ? total - start : R;
        uint8_t h[5] = {type, 3, 3, (uint8_t)((rlen - 5) >> 8), (uint8_t)(rlen - 5)};
        for (uint32_t i = 0; i < 5; i++) {
            uint32_t at = start + i;
            if (at >= off && at < off + len)
                p[at - off] = h[i];
        }
    }
}

uint32_t tg_amp_payload(struct tg *g, uint8_t vec, uint8_t *p, uint32_t cap, uint32_t target,
                        uint32_t seq)
{
    if (target > cap)
        target = cap;
    uint32_t seed = tg_rng_u32(&g->rng);
    switch (vec) {
    case TG_AMP_DNS:
        return tg_dns_build(p, cap, seed, true, target, true);
    case TG_AMP_NTP:
        /* mode 7 MON_GETLIST_1 answer: 6 items of 72 bytes (440 bytes, 468 with IP+UDP) */
        memset(p, 0, 440);
        p[0] = (uint8_t)(seq ? 0xd7 : 0x97);
        p[1] = (uint8_t)(seq & 0x7f);
        p[2] = 3;
        p[3] = 42;
        tg_put16(p + 4, 6);
        tg_put16(p + 6, 72);
        for (uint32_t i = 0; i < 6; i++)
            tg_put32(p + 8 + i * 72 + 16, tg_rng_u32(&g->rng));
        return 440;
    case TG_AMP_SSDP: {
        int n =
            snprintf((char *)p, cap,
                     "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=%u\r\nDATE: Thu, 01 Jan 2026 "
                     "00:00:00 GMT\r\nEXT:\r\nLOCATION: http://192.168.%u.%u:%u/rootDesc.xml\r\n"
                     "SERVER: Linux/3.14 UPnP/1.0 miniupnpd/2.%u\r\nST: %s\r\n"
                     "USN: uuid:%08x-%04x-4a5b-9c3d-%012x::upnp:rootdevice\r\n\r\n",
                     60 + seed % 3600, seed % 255, (seed >> 8) % 254 + 1,
                     1024 + (seed >> 4) % 50000, seed % 3,
                     (seed >> 9) & 1 ? "upnp:rootdevice"
                                     : "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
                     seed, seed >> 16, seed * 2654435761u);
        return (uint32_t)n;
    }
    case TG_AMP_MEMCACHED: {
        /* UDP frame header: request id, sequence, datagrams in the answer, reserved */
        memset(p, 0, target);
        tg_put16(p, (uint16_t)(seed >> 18)); /* < 0x4000: a first byte >= 0x80 reads as binary */
        tg_put16(p + 2, (uint16_t)seq);
        tg_put16(p + 4, 100);
        if (seq == 0) {
            int n = snprintf((char *)p + 8, cap - 8, "VALUE k%u 0 %u\r\n", seed % 1000,
                             1000000 + seed % 1000000);
            if ((uint32_t)n + 8 > target)
                target = (uint32_t)n + 8;
        }
        return target;
    }
    case TG_AMP_CHARGEN:
        for (uint32_t i = 0; i < target; i++) {
            uint32_t line = i / 74, col = i % 74;
            p[i] = col >= 72 ? (col == 72 ? '\r' : '\n') : (uint8_t)(' ' + 1 + (line + col) % 94);
        }
        return target;
    case TG_AMP_COAP:
        memset(p, 0, target);
        p[0] = 0x60; /* version 1, acknowledgement, no token */
        p[1] = 0x45; /* 2.05 Content */
        tg_put16(p + 2, (uint16_t)seed);
        p[4] = 0xff; /* payload marker */
        memset(p + 5, '<', target > 5 ? target - 5 : 0);
        return target < 6 ? 6 : target;
    case TG_AMP_MDNS:
        return tg_dns_build(p, cap, seed, true, target, true);
    default:
        /* Vectors Wireshark has no dissector for (QOTD, WS-Discovery, Ubiquiti, DHDiscover,
         * ARMS) are shown by the other port's dissector, so they carry zeros, which the port
         * table of tg_fragile.c is measured for. */
        memset(p, 0, target);
        return target;
    }
}
