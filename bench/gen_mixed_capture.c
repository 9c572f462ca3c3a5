/* gen_mixed_capture.c - ddos-bench-gen: writes a deterministic pcap of mixed, realistic traffic.
 *
 * Owns its state: pools of client and server addresses, C flow slots, a time-ordered heap of the
 * slots' next packet times, and two 8 MB output blocks; the seeded PRNG, its distributions, the
 * big-endian stores, the Internet checksum and the pcap headers are trafgen's (trafgen/tg_wire.h).
 * No libpcap: pcap record headers and
 * frames are built in place in one block while a writer thread hands the other to fwrite, so the
 * generating thread's per-packet work is a heap step and a few stores, and the kernel's
 * page-cache copy runs on the second core. Nothing is allocated after start-up.
 *
 * DESIGN: the capture point is an edge router uplink between many clients and the Internet. Each
 * of the C slots always holds one open flow; a flow is a small state machine that writes its
 * next packet and returns the delay until the one after. The main loop pops the slot with the
 * earliest next packet, so flows interleave in time and timestamps never go backwards. When a
 * flow ends, the slot starts a new one after a short idle gap, which keeps C flows open.
 *
 * Flow kinds (weights per mille of started flows): TCP sessions (handshake, request/response
 * exchanges with Pareto sizes both ways, delayed ACKs, think times, FIN or RST teardown, a few
 * refused connections), bulk TCP downloads, DNS-like UDP query/response, RTP-like UDP streams,
 * ICMP echo, and one-packet SYNs from random spoofed sources (flood style). About 10% of TCP and
 * UDP flows run over IPv6. Payload bytes are zero except where a dissector needs a valid message
 * (DNS, RTP header, ping pattern), so checksums are exact and cost only the header bytes.
 *
 * Determinism: every random choice comes from one xoshiro256** stream seeded through splitmix64,
 * and the event order depends only on that stream, so a seed always yields the same file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trafgen/tg_wire.h"

#define GEN_NS_PER_US 1000ULL
#define GEN_NS_PER_MS 1000000ULL
#define GEN_NS_PER_S  1000000000ULL
#define GEN_DONE      UINT64_MAX

/* The capture starts at 2024-01-01T00:00:00Z so every run of a seed is byte-identical. */
#define GEN_EPOCH_S 1704067200ULL
/* Packet time simulated before the capture starts, long enough for keep-alive idles to settle. */
#define GEN_WARMUP_S 60ULL

#define GEN_FRAME_MAX    1514u
#define GEN_FRAME_MIN    60u
#define GEN_OUT_CAPACITY (8u << 20)
/* Room for one record header and the largest frame, with slack for builders that write headers
 * before knowing the capture length. */
#define GEN_OUT_RESERVE 2048u

#define GEN_CLIENTS    20000u
#define GEN_SERVERS_V4 4096u
#define GEN_SERVERS_V6 1024u
#define GEN_VICTIMS    4u

#define GEN_TCP_FIN 0x01
#define GEN_TCP_SYN 0x02
#define GEN_TCP_RST 0x04
#define GEN_TCP_PSH 0x08
#define GEN_TCP_ACK 0x10

#define GEN_PROTO_ICMP 1
#define GEN_PROTO_TCP  6
#define GEN_PROTO_UDP  17

enum gen_kind {
    GEN_KIND_TCP_SESSION,
    GEN_KIND_TCP_BULK,
    GEN_KIND_UDP_DNS,
    GEN_KIND_UDP_STREAM,
    GEN_KIND_ICMP_ECHO,
    GEN_KIND_SPOOF_SYN,
    GEN_KIND_COUNT
};

static const char *const gen_kind_names[GEN_KIND_COUNT] = {
    "tcp_session", "tcp_bulk", "udp_dns", "udp_stream", "icmp_echo", "spoof_syn",
};

/* Per mille of started flows. Sessions and spoofed SYNs dominate the flow count; bulk and
 * streams are rare but long, so they carry a realistic share of packets and bytes. */
static const uint32_t gen_kind_weights[GEN_KIND_COUNT] = {420, 2, 270, 1, 37, 270};

enum gen_state {
    GEN_ST_SYN,
    GEN_ST_SYNACK,
    GEN_ST_HS_ACK,
    GEN_ST_REJECT,
    GEN_ST_DATA,
    GEN_ST_DATA_ACK,
    GEN_ST_FIN1,
    GEN_ST_FIN_REPLY,
    GEN_ST_FIN2,
    GEN_ST_LAST_ACK,
    GEN_ST_RST,
    GEN_ST_DNS_QUERY,
    GEN_ST_DNS_RESP,
    GEN_ST_STREAM,
    GEN_ST_ECHO_REQ,
    GEN_ST_ECHO_REP,
    GEN_ST_SPOOF,
};

/* One open flow. Side 0 is the client (inside the uplink), side 1 the server. Fields not used
 * by a kind stay zero. */
struct gen_flow {
    uint64_t rtt_ns;
    uint64_t xfer_left;    /* TCP: bytes the current sender still has to send */
    uint64_t resp_pending; /* TCP: size of the response that follows the request */
    uint32_t seq[2];       /* TCP: next sequence number each side sends */
    uint32_t seg_gap_ns;   /* spacing of back-to-back segments (bottleneck rate) */
    uint32_t period_ns;    /* stream packet period */
    uint32_t phase_ns;     /* stream: offset of the reverse direction within a period */
    uint32_t pkts_left;    /* streams, pings, DNS queries */
    uint32_t ex_left;      /* TCP: request/response exchanges still to run */
    uint32_t name_seed;    /* DNS: regenerates the same query name for the response */
    uint32_t rtp_ts[2];
    uint32_t ssrc[2];
    uint16_t port[2];
    uint16_t ipid[2];
    uint16_t win[2];
    uint16_t rtp_seq[2];
    uint16_t mss;
    uint16_t cwnd, cwnd_max, win_left, unacked;
    uint16_t id; /* DNS transaction id, ICMP identifier */
    uint16_t icmp_seq;
    uint16_t payload_len; /* stream and ping payload size */
    uint8_t ip[2][16];    /* IPv4 uses the first 4 bytes */
    uint32_t flow_label;
    uint8_t ttl[2];
    uint8_t kind, state, ipv6, emitted;
    uint8_t sender;     /* TCP: side sending data now; streams: side of the next packet */
    uint8_t closer;     /* TCP: side that tears down */
    uint8_t flags;      /* GEN_FLOW_* */
    uint8_t qtype_aaaa; /* DNS: current query asks for AAAA */
    uint8_t rtp_pt;
};

#define GEN_FLOW_REJECTED   0x01 /* SYN answered by RST/ACK */
#define GEN_FLOW_RST_CLOSE  0x02 /* teardown by RST instead of FIN */
#define GEN_FLOW_FIN_MERGED 0x04 /* the passive side answers FIN with FIN/ACK at once */
#define GEN_FLOW_BIDIR      0x08 /* stream runs both ways */
#define GEN_FLOW_LOSSY      0x10 /* DNS: query unanswered or NXDOMAIN */
#define GEN_FLOW_WINPING    0x20 /* Windows-style ping payload */

struct gen_writer;

struct gen_event {
    uint64_t t_ns;
    uint32_t slot;
    uint32_t pad;
};
_Static_assert(sizeof(struct gen_event) == 16, "four heap children per cache line");

struct gen {
    struct tg_rng rng;
    uint64_t now_ns;
    uint64_t first_ns; /* time of the first written packet */
    bool dry;          /* warm-up: flows advance, no frames are written */
    struct gen_writer *writer;
    uint8_t *out;   /* block being filled */
    uint8_t *spare; /* the other block: the writer's until it is idle again */
    size_t out_len;
    uint32_t snaplen;
    uint32_t clients; /* client pool size (--clients) */
    uint64_t packets, flows, wire_bytes, file_bytes;
    uint64_t kind_packets[GEN_KIND_COUNT];
    uint64_t kind_flows[GEN_KIND_COUNT];
    uint64_t kind_bytes[GEN_KIND_COUNT];
    uint8_t srv4[GEN_SERVERS_V4][4];
    uint8_t srv6[GEN_SERVERS_V6][16];
};

/* ---- checksums (trafgen's Internet checksum, host-order sums) ----------------------------- */

/* Stores the folded checksum of sum at p (RFC 1071: a host-order sum stored as is is right). */
static inline void gen_csum_store(uint8_t *p, uint64_t sum)
{
    uint16_t c = tg_csum_fold(sum);
    memcpy(p, &c, 2);
}

/* As gen_csum_store for UDP, where a computed 0 is sent as 0xffff (0 means "none"). */
static inline void gen_csum_store_udp(uint8_t *p, uint64_t sum)
{
    uint16_t c = tg_csum_fold(sum);
    if (c == 0)
        c = 0xffff;
    memcpy(p, &c, 2);
}

/* ---- output buffer ------------------------------------------------------------------------- */

/* Where the next frame goes; the 16-byte record header in front of it is written on commit. */
static inline uint8_t *gen_out_frame(struct gen *g)
{
    return g->out + g->out_len + 16;
}

/* Finishes the frame of raw_len bytes at gen_out_frame(): pads it to the Ethernet minimum with
 * zeros and writes its record header with the current packet time. */
static void gen_out_commit(struct gen *g, const struct gen_flow *f, uint32_t raw_len)
{
    uint8_t *rec = g->out + g->out_len;
    uint32_t wire = raw_len;
    if (wire < GEN_FRAME_MIN) {
        memset(rec + 16 + raw_len, 0, GEN_FRAME_MIN - raw_len);
        wire = GEN_FRAME_MIN;
    }
    uint32_t caplen = wire < g->snaplen ? wire : g->snaplen;
    tg_pcap_record_header(rec, g->now_ns, caplen, wire);
    g->out_len += 16 + caplen;
    g->packets++;
    g->wire_bytes += wire;
    g->kind_packets[f->kind]++;
    g->kind_bytes[f->kind] += wire;
}

/* ---- writer thread ------------------------------------------------------------------------- */

/* Double buffering: the generator fills one block while this thread writes the other, so the
 * kernel's page-cache copy runs on the second core instead of stalling generation. The handoff
 * happens once per GEN_OUT_CAPACITY block, so a mutex and a condition variable cost nothing
 * measurable. Every shared field below is read and written under `lock`. */
struct gen_writer {
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* signalled when a block is handed over, written, or stop is set */
    FILE *fp;             /* used by the writer thread only */
    const uint8_t *block; /* generator sets it, writer clears it once written; NULL = idle */
    size_t block_len;
    int error; /* first write error as a negative errno: writer sets, generator reads */
    bool stop; /* generator sets it after the last block */
};

static void *gen_writer_main(void *arg)
{
    struct gen_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->block == NULL && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->block == NULL)
            break;
        const uint8_t *block = w->block;
        size_t len = w->block_len;
        pthread_mutex_unlock(&w->lock);
        int err = 0;
        if (w->error == 0 && fwrite(block, 1, len, w->fp) != len)
            err = errno ? -errno : -EIO;
        pthread_mutex_lock(&w->lock);
        if (err != 0 && w->error == 0)
            w->error = err;
        w->block = NULL;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Waits until the writer has finished its block, then hands it buf[0, len) unless len is 0.
 * Returns 0 or the first write error. */
static int gen_writer_submit(struct gen_writer *w, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&w->lock);
    while (w->block != NULL)
        pthread_cond_wait(&w->cond, &w->lock);
    int err = w->error;
    if (err == 0 && len > 0) {
        w->block = buf;
        w->block_len = len;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return err;
}

static void gen_writer_stop(struct gen_writer *w, pthread_t thread)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(thread, NULL);
}

/* Hands the filled block to the writer and continues in the spare one. */
static int gen_out_flush(struct gen *g)
{
    if (g->out_len == 0)
        return 0;
    int rc = gen_writer_submit(g->writer, g->out, g->out_len);
    g->file_bytes += g->out_len;
    uint8_t *filled = g->out;
    g->out = g->spare;
    g->spare = filled;
    g->out_len = 0;
    return rc;
}

/* ---- frame builders ------------------------------------------------------------------------ */

/* Router MACs on the two ends of the tapped uplink. */
static const uint8_t gen_mac_inside[6] = {0x00, 0x1b, 0x21, 0x3a, 0x10, 0x01};
static const uint8_t gen_mac_outside[6] = {0x00, 0x1b, 0x21, 0x3a, 0x20, 0x02};

/* Writes the Ethernet and IP headers of a packet of flow f sent by side `from` with an L4
 * segment of l4_len bytes. Returns the L4 header and stores the pseudo-header checksum sum. */
static uint8_t *gen_hdr_ip(uint8_t *px, struct gen_flow *f, int from, uint8_t proto,
                           uint32_t l4_len, uint64_t *pseudo)
{
    const uint8_t *src = f->ip[from];
    const uint8_t *dst = f->ip[from ^ 1];
    const uint8_t ph[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len}; /* pseudo-header */
    memcpy(px, from == 0 ? gen_mac_outside : gen_mac_inside, 6);
    memcpy(px + 6, from == 0 ? gen_mac_inside : gen_mac_outside, 6);
    if (!f->ipv6) {
        uint8_t *ip = px + 14;
        tg_put16(px + 12, 0x0800);
        ip[0] = 0x45;
        ip[1] = 0;
        tg_put16(ip + 2, 20 + l4_len);
        tg_put16(ip + 4, f->ipid[from]++);
        tg_put16(ip + 6, proto == GEN_PROTO_ICMP ? 0 : 0x4000); /* DF */
        ip[8] = f->ttl[from];
        ip[9] = proto;
        tg_put16(ip + 10, 0);
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        gen_csum_store(ip + 10, tg_csum_add(0, ip, 20));
        *pseudo = tg_csum_add(tg_csum_add(tg_csum_add(0, ph, 4), src, 4), dst, 4);
        return ip + 20;
    }
    uint8_t *ip = px + 14;
    tg_put16(px + 12, 0x86dd);
    tg_put32(ip, 0x60000000u | ((f->flow_label ^ (uint32_t)from * 0x5bd1e) & 0xfffffu));
    tg_put16(ip + 4, l4_len);
    ip[6] = proto;
    ip[7] = f->ttl[from];
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    *pseudo = tg_csum_add(tg_csum_add(tg_csum_add(0, ph, 4), src, 16), dst, 16);
    return ip + 40;
}

static inline uint32_t gen_l3_len(const struct gen_flow *f)
{
    return f->ipv6 ? 40 : 20;
}

/* One TCP segment with payload_len zero bytes; SYNs carry MSS, window scale and SACK-permitted
 * options (data offset 8). Sequence numbers are the caller's to advance. */
static void gen_pkt_tcp(struct gen *g, struct gen_flow *f, int from, uint8_t flags,
                        uint32_t payload_len)
{
    if (g->dry)
        return;
    uint8_t *px = gen_out_frame(g);
    /* flood tools send bare 20-byte SYNs; real stacks add options */
    bool opts = (flags & GEN_TCP_SYN) && f->kind != GEN_KIND_SPOOF_SYN;
    uint32_t hdr_len = opts ? 32 : 20;
    uint32_t l4_len = hdr_len + payload_len;
    uint64_t sum;
    uint8_t *th = gen_hdr_ip(px, f, from, GEN_PROTO_TCP, l4_len, &sum);
    uint32_t ack = (flags & GEN_TCP_ACK) ? f->seq[from ^ 1] : 0;
    uint32_t seq = f->seq[from];
    if ((flags & GEN_TCP_RST) && (f->flags & GEN_FLOW_REJECTED))
        seq = 0;
    tg_put16(th, f->port[from]);
    tg_put16(th + 2, f->port[from ^ 1]);
    tg_put32(th + 4, seq);
    tg_put32(th + 8, ack);
    th[12] = (uint8_t)(hdr_len / 4) << 4;
    th[13] = flags;
    tg_put16(th + 14, opts ? 64240 : f->win[from]);
    tg_put32(th + 16, 0); /* checksum, urgent pointer */
    if (opts) {
        static const uint8_t syn_opts[12] = {2, 4, 0, 0, 1, 3, 3, 7, 1, 1, 4, 2};
        memcpy(th + 20, syn_opts, sizeof syn_opts);
        tg_put16(th + 22, f->mss);
    }
    if (flags & GEN_TCP_RST)
        tg_put16(th + 14, 0);
    /* The payload is zeros, so the header alone gives the exact checksum. */
    gen_csum_store(th + 16, tg_csum_add(sum, th, hdr_len));
    memset(th + hdr_len, 0, payload_len);
    gen_out_commit(g, f, (uint32_t)(th + l4_len - px));
}

/* Writes a DNS name for name_seed ("www.<word>.com" style) and returns its length. */
static uint32_t gen_dns_name_write(uint8_t *p, uint32_t name_seed)
{
    static const char *const first[] = {"www", "api", "cdn", "mail", "static", "img", "m", "app"};
    static const char *const tld[] = {"com", "net", "org", "io", "de", "co", "info", "app"};
    uint64_t x = name_seed;
    uint64_t h = dd_splitmix64(&x);
    uint32_t n = 0;
    const char *label = first[h & 7];
    size_t len = strlen(label);
    p[n++] = (uint8_t)len;
    memcpy(p + n, label, len);
    n += (uint32_t)len;
    uint32_t wlen = 4 + (uint32_t)((h >> 3) % 9);
    p[n++] = (uint8_t)wlen;
    for (uint32_t i = 0; i < wlen; i++) {
        if (i % 8 == 0)
            h = dd_splitmix64(&x);
        p[n++] = (uint8_t)('a' + (h >> (8 * (i % 8))) % 26);
    }
    label = tld[(h >> 61) & 7];
    len = strlen(label);
    p[n++] = (uint8_t)len;
    memcpy(p + n, label, len);
    n += (uint32_t)len;
    p[n++] = 0;
    return n;
}

/* A DNS query (from the client) or response (from the server) in one UDP datagram. */
static void gen_pkt_dns(struct gen *g, struct gen_flow *f, int from)
{
    if (g->dry)
        return;
    uint8_t *px = gen_out_frame(g);
    uint8_t *uh = px + 14 + gen_l3_len(f);
    uint8_t *dns = uh + 8;
    uint32_t qtype = f->qtype_aaaa ? 28 : 1;
    tg_put16(dns, f->id);
    tg_put16(dns + 2, from == 0 ? 0x0100 : 0x8180);
    tg_put16(dns + 4, 1);
    tg_put32(dns + 6, 0);
    tg_put16(dns + 10, 0);
    uint32_t n = 12 + gen_dns_name_write(dns + 12, f->name_seed);
    tg_put16(dns + n, qtype);
    tg_put16(dns + n + 2, 1);
    n += 4;
    if (from == 1) {
        uint32_t x = f->name_seed ^ f->id;
        uint32_t answers = (f->flags & GEN_FLOW_LOSSY) ? 0 : 1 + (x >> 7) % 4;
        uint32_t rdlen = qtype == 28 ? 16 : 4;
        if (answers == 0)
            tg_put16(dns + 2, 0x8183); /* NXDOMAIN */
        tg_put16(dns + 6, answers);
        for (uint32_t i = 0; i < answers; i++) {
            uint8_t *rr = dns + n;
            tg_put16(rr, 0xc00c); /* pointer to the question name */
            tg_put16(rr + 2, qtype);
            tg_put16(rr + 4, 1);
            tg_put32(rr + 6, 60 + (x >> 3) % 3540);
            tg_put16(rr + 10, rdlen);
            for (uint32_t b = 0; b < rdlen; b += 4)
                tg_put32(rr + 12 + b, tg_rng_u32(&g->rng));
            n += 12 + rdlen;
        }
    }
    uint32_t l4_len = 8 + n;
    uint64_t sum;
    gen_hdr_ip(px, f, from, GEN_PROTO_UDP, l4_len, &sum);
    tg_put16(uh, f->port[from]);
    tg_put16(uh + 2, f->port[from ^ 1]);
    tg_put16(uh + 4, l4_len);
    tg_put16(uh + 6, 0);
    gen_csum_store_udp(uh + 6, tg_csum_add(sum, uh, l4_len));
    gen_out_commit(g, f, (uint32_t)(uh + l4_len - px));
}

/* One RTP packet: 12-byte RTP header, then zeros. */
static void gen_pkt_rtp(struct gen *g, struct gen_flow *f, int from)
{
    if (g->dry)
        return;
    uint8_t *px = gen_out_frame(g);
    uint32_t l4_len = 8 + f->payload_len;
    uint64_t sum;
    uint8_t *uh = gen_hdr_ip(px, f, from, GEN_PROTO_UDP, l4_len, &sum);
    uint8_t *rtp = uh + 8;
    tg_put16(uh, f->port[from]);
    tg_put16(uh + 2, f->port[from ^ 1]);
    tg_put16(uh + 4, l4_len);
    tg_put16(uh + 6, 0);
    rtp[0] = 0x80;
    rtp[1] = f->rtp_pt;
    tg_put16(rtp + 2, f->rtp_seq[from]++);
    tg_put32(rtp + 4, f->rtp_ts[from]);
    tg_put32(rtp + 8, f->ssrc[from]);
    f->rtp_ts[from] += f->rtp_pt == 0 ? 160 : 3000;
    gen_csum_store_udp(uh + 6, tg_csum_add(sum, uh, 8 + 12));
    memset(rtp + 12, 0, f->payload_len - 12u);
    gen_out_commit(g, f, (uint32_t)(uh + l4_len - px));
}

/* ICMP echo request (client) or reply (server) with a Linux or Windows ping payload. */
static void gen_pkt_icmp_echo(struct gen *g, struct gen_flow *f, int from)
{
    if (g->dry)
        return;
    uint8_t *px = gen_out_frame(g);
    uint32_t l4_len = 8 + f->payload_len;
    uint64_t unused;
    uint8_t *ih = gen_hdr_ip(px, f, from, GEN_PROTO_ICMP, l4_len, &unused);
    ih[0] = from == 0 ? 8 : 0;
    ih[1] = 0;
    tg_put16(ih + 2, 0);
    tg_put16(ih + 4, f->id);
    tg_put16(ih + 6, f->icmp_seq);
    uint8_t *pl = ih + 8;
    for (uint32_t i = 0; i < f->payload_len; i++) {
        if (f->flags & GEN_FLOW_WINPING)
            pl[i] = (uint8_t)('a' + i % 23);
        else
            pl[i] = (uint8_t)(i < 8 ? (f->name_seed >> (8 * (i % 4))) : i);
    }
    gen_csum_store(ih + 2, tg_csum_add(0, ih, l4_len));
    gen_out_commit(g, f, (uint32_t)(ih + l4_len - px));
}

/* ---- flows --------------------------------------------------------------------------------- */

static void gen_addr_client(struct gen *g, struct gen_flow *f)
{
    uint32_t c = 1 + tg_rng_below(&g->rng, g->clients);
    if (!f->ipv6) {
        uint8_t v4[4] = {10, (uint8_t)(c >> 12), (uint8_t)(c >> 6 & 63), (uint8_t)(1 + (c & 63))};
        memcpy(f->ip[0], v4, 4);
        return;
    }
    static const uint8_t prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0x00, 0x00};
    uint64_t x = c;
    uint64_t iid = dd_splitmix64(&x);
    memcpy(f->ip[0], prefix, 8);
    for (int i = 0; i < 8; i++)
        f->ip[0][8 + i] = (uint8_t)(iid >> (8 * i));
}

/* Server popularity is skewed: u^3 puts half the picks on the first eighth of the pool. */
static uint32_t gen_pick_popular(struct tg_rng *r, uint32_t n)
{
    double u = tg_rng_unit(r);
    return (uint32_t)(u * u * u * n);
}

static void gen_addr_server(struct gen *g, struct gen_flow *f)
{
    if (f->ipv6)
        memcpy(f->ip[1], g->srv6[gen_pick_popular(&g->rng, GEN_SERVERS_V6)], 16);
    else
        memcpy(f->ip[1], g->srv4[gen_pick_popular(&g->rng, GEN_SERVERS_V4)], 4);
}

static bool gen_ipv4_is_public(const uint8_t *a)
{
    return a[0] != 0 && a[0] != 10 && a[0] != 127 && a[0] < 224 &&
           !(a[0] == 172 && a[1] >= 16 && a[1] < 32) && !(a[0] == 192 && a[1] == 168) &&
           !(a[0] == 100 && a[1] >= 64 && a[1] < 128) && !(a[0] == 169 && a[1] == 254);
}

static void gen_addr_random_public(struct tg_rng *r, uint8_t *a)
{
    do {
        uint32_t x = tg_rng_u32(r);
        tg_put32(a, x);
    } while (!gen_ipv4_is_public(a));
}

static void gen_servers_init(struct gen *g)
{
    for (uint32_t i = 0; i < GEN_SERVERS_V4; i++)
        gen_addr_random_public(&g->rng, g->srv4[i]);
    for (uint32_t i = 0; i < GEN_SERVERS_V6; i++) {
        /* 2600::/12-ish global unicast, random below */
        uint64_t hi = tg_rng_next(&g->rng), lo = tg_rng_next(&g->rng);
        for (int b = 0; b < 8; b++) {
            g->srv6[i][b] = (uint8_t)(hi >> (56 - 8 * b));
            g->srv6[i][8 + b] = (uint8_t)(lo >> (56 - 8 * b));
        }
        g->srv6[i][0] = 0x26;
        g->srv6[i][1] = (uint8_t)(g->srv6[i][1] & 0x0f);
    }
}

static uint16_t gen_port_ephemeral(struct tg_rng *r)
{
    return (uint16_t)(32768 + tg_rng_below(r, 60999 - 32768 + 1));
}

static uint64_t gen_small_delay(struct tg_rng *r, double mean_us)
{
    return (uint64_t)(tg_rng_exp(r, mean_us) * GEN_NS_PER_US) + 5 * GEN_NS_PER_US;
}

static void gen_flow_tcp_init(struct gen *g, struct gen_flow *f, bool bulk)
{
    struct tg_rng *r = &g->rng;
    static const uint16_t ports[] = {443, 443, 443, 443, 443, 443, 443, 443, 443,  443,
                                     443, 443, 443, 443, 443, 80,  80,  80,  8080, 993};
    static const uint16_t mss4[] = {1460, 1460, 1460, 1460, 1400, 1380, 1360, 1452};
    static const uint16_t wins[] = {501, 502, 2048, 4096, 8192, 16384, 64240, 65535};
    f->port[0] = gen_port_ephemeral(r);
    f->port[1] = bulk ? (tg_rng_chance(r, 0.8) ? 443 : 80) : ports[tg_rng_below(r, 20)];
    f->seq[0] = tg_rng_u32(r);
    f->seq[1] = tg_rng_u32(r);
    f->mss = (uint16_t)(mss4[tg_rng_below(r, 8)] - (f->ipv6 ? 20 : 0));
    f->win[0] = wins[tg_rng_below(r, 8)];
    f->win[1] = wins[tg_rng_below(r, 8)];
    double rate_mbps = bulk ? tg_clamp(tg_rng_lognormal(r, 60, 1.0), 4, 2000)
                            : tg_clamp(tg_rng_lognormal(r, 20, 1.0), 1, 1000);
    f->seg_gap_ns = (uint32_t)(GEN_FRAME_MAX * 8 * 1000.0 / rate_mbps);
    f->cwnd_max = (uint16_t)(bulk ? 256 : 32 + tg_rng_below(r, 97));
    f->closer = tg_rng_chance(r, 0.4);
    if (!bulk && tg_rng_chance(r, 0.03))
        f->flags |= GEN_FLOW_REJECTED;
    if (tg_rng_chance(r, 0.08))
        f->flags |= GEN_FLOW_RST_CLOSE;
    if (tg_rng_chance(r, 0.5))
        f->flags |= GEN_FLOW_FIN_MERGED;
    if (bulk) {
        f->ex_left = 1;
    } else {
        f->ex_left = 1;
        while (f->ex_left < 50 && tg_rng_chance(r, 0.6))
            f->ex_left++;
    }
    f->state = GEN_ST_SYN;
}

/* Starts the next request/response exchange: the client sends first. */
static void gen_tcp_exchange_begin(struct gen *g, struct gen_flow *f)
{
    struct tg_rng *r = &g->rng;
    f->sender = 0;
    f->xfer_left = (uint64_t)tg_rng_pareto(r, 200, 1.2, 4e6);
    if (f->kind == GEN_KIND_TCP_BULK)
        f->resp_pending = (uint64_t)tg_rng_pareto(r, 256e3, 1.1, 64e6);
    else
        f->resp_pending = (uint64_t)tg_rng_pareto(r, 400, 1.05, 16e6);
    f->cwnd = 10;
    f->win_left = f->cwnd;
    f->unacked = 0;
    f->state = GEN_ST_DATA;
}

/* The sender has used its window: it waits for ACKs, so the next burst starts about one RTT
 * after the previous one began, or right away when the rate, not the window, is the limit. */
static uint64_t gen_tcp_window_wait(struct gen_flow *f)
{
    uint64_t burst = (uint64_t)f->cwnd * f->seg_gap_ns;
    f->cwnd = (uint16_t)(f->cwnd * 2 < f->cwnd_max ? f->cwnd * 2 : f->cwnd_max);
    f->win_left = f->cwnd;
    return f->rtt_ns > burst ? f->rtt_ns - burst : f->seg_gap_ns;
}

static uint64_t gen_tcp_exchange_end(struct gen *g, struct gen_flow *f)
{
    struct tg_rng *r = &g->rng;
    if (--f->ex_left > 0) {
        gen_tcp_exchange_begin(g, f);
        /* user think time between requests on a persistent connection */
        return (uint64_t)(tg_rng_pareto(r, 0.5, 1.2, 120.0) * GEN_NS_PER_S);
    }
    f->state = (f->flags & GEN_FLOW_RST_CLOSE) ? GEN_ST_RST : GEN_ST_FIN1;
    /* Most persistent connections sit idle until a keep-alive timeout closes them. */
    if (f->kind != GEN_KIND_TCP_BULK && tg_rng_chance(r, 0.6))
        return (uint64_t)((10.0 + tg_rng_unit(r) * 50.0) * GEN_NS_PER_S);
    return gen_small_delay(r, 2000);
}

/* Delay from a packet sent by side `from` to the other side's answer as seen at the tap near the
 * clients: a full RTT when the client asked, almost nothing when the client answers. */
static uint64_t gen_answer_delay(struct gen *g, const struct gen_flow *f, int from)
{
    return from == 0 ? f->rtt_ns : gen_small_delay(&g->rng, 60);
}

static void gen_flow_start(struct gen *g, struct gen_flow *f)
{
    struct tg_rng *r = &g->rng;
    memset(f, 0, sizeof *f);
    uint32_t w = tg_rng_below(r, 1000);
    uint8_t kind = 0;
    while (w >= gen_kind_weights[kind]) {
        w -= gen_kind_weights[kind];
        kind++;
    }
    f->kind = kind;
    f->ipv6 = kind != GEN_KIND_ICMP_ECHO && kind != GEN_KIND_SPOOF_SYN && tg_rng_chance(r, 0.10);
    f->rtt_ns = (uint64_t)(tg_clamp(tg_rng_lognormal(r, 30, 0.9), 0.3, 800) * GEN_NS_PER_MS);
    f->ttl[0] = tg_rng_chance(r, 0.7) ? 63 : 127;
    static const uint8_t init_ttl[] = {64, 64, 128, 255};
    f->ttl[1] = (uint8_t)(init_ttl[tg_rng_below(r, 4)] - 4 - tg_rng_below(r, 22));
    f->ipid[0] = (uint16_t)tg_rng_u32(r);
    f->ipid[1] = (uint16_t)tg_rng_u32(r);
    f->flow_label = tg_rng_u32(r);
    gen_addr_client(g, f);
    gen_addr_server(g, f);

    switch (kind) {
    case GEN_KIND_TCP_SESSION:
        gen_flow_tcp_init(g, f, false);
        break;
    case GEN_KIND_TCP_BULK:
        gen_flow_tcp_init(g, f, true);
        break;
    case GEN_KIND_UDP_DNS:
        f->port[0] = gen_port_ephemeral(r);
        f->port[1] = 53;
        f->id = (uint16_t)tg_rng_u32(r);
        f->name_seed = tg_rng_u32(r);
        f->pkts_left = tg_rng_chance(r, 0.3) ? 2 : 1; /* A, then AAAA on the same socket */
        if (tg_rng_chance(r, 0.03))
            f->flags |= GEN_FLOW_LOSSY;
        f->rtt_ns = (uint64_t)(tg_clamp(tg_rng_lognormal(r, 8, 1.2), 0.2, 500) * GEN_NS_PER_MS);
        f->state = GEN_ST_DNS_QUERY;
        break;
    case GEN_KIND_UDP_STREAM: {
        bool video = tg_rng_chance(r, 0.25);
        f->port[0] = (uint16_t)(16384 + 2 * tg_rng_below(r, 8192));
        f->port[1] = (uint16_t)(10000 + 2 * tg_rng_below(r, 5000));
        f->period_ns = (uint32_t)((video ? 33 : 20) * GEN_NS_PER_MS);
        f->payload_len = (uint16_t)(video ? 800 + tg_rng_below(r, 400) : 172);
        f->rtp_pt = video ? 96 : 0;
        f->ssrc[0] = tg_rng_u32(r);
        f->ssrc[1] = tg_rng_u32(r);
        f->rtp_seq[0] = (uint16_t)tg_rng_u32(r);
        f->rtp_seq[1] = (uint16_t)tg_rng_u32(r);
        f->rtp_ts[0] = tg_rng_u32(r);
        f->rtp_ts[1] = tg_rng_u32(r);
        double secs = tg_clamp(tg_rng_lognormal(r, 15, 1.0), 1, 300);
        bool bidir = tg_rng_chance(r, 0.7);
        f->flags |= bidir ? GEN_FLOW_BIDIR : 0;
        f->phase_ns = tg_rng_below(r, f->period_ns);
        f->pkts_left = (uint32_t)(secs * GEN_NS_PER_S / f->period_ns) * (bidir ? 2 : 1);
        f->sender = bidir ? 0 : (uint8_t)tg_rng_below(r, 2);
        f->state = GEN_ST_STREAM;
        break;
    }
    case GEN_KIND_ICMP_ECHO:
        f->id = (uint16_t)tg_rng_u32(r);
        f->icmp_seq = 1;
        f->name_seed = tg_rng_u32(r);
        f->pkts_left = 1;
        while (f->pkts_left < 20 && tg_rng_chance(r, 0.75))
            f->pkts_left++;
        if (tg_rng_chance(r, 0.3)) {
            f->flags |= GEN_FLOW_WINPING;
            f->payload_len = 32;
        } else {
            f->payload_len = 56;
        }
        f->state = GEN_ST_ECHO_REQ;
        break;
    default: /* GEN_KIND_SPOOF_SYN: victims are the most popular servers */
        gen_addr_random_public(r, f->ip[0]);
        memcpy(f->ip[1], g->srv4[tg_rng_below(r, GEN_VICTIMS)], 4);
        f->port[0] = (uint16_t)(1024 + tg_rng_below(r, 64512));
        f->port[1] = tg_rng_chance(r, 0.7) ? 80 : 443;
        f->seq[0] = tg_rng_u32(r);
        f->win[0] = (uint16_t)(tg_rng_chance(r, 0.5) ? 1024 : tg_rng_u32(r));
        f->ttl[0] = (uint8_t)(32 + tg_rng_below(r, 224));
        f->state = GEN_ST_SPOOF;
        break;
    }
}

/* Writes flow f's next packet at g->now_ns and returns the delay until the one after, or
 * GEN_DONE when f has ended. */
static uint64_t gen_flow_step(struct gen *g, struct gen_flow *f)
{
    struct tg_rng *r = &g->rng;
    if (!f->emitted) {
        f->emitted = 1;
        g->flows++;
        g->kind_flows[f->kind]++;
    }
    switch ((enum gen_state)f->state) {
    case GEN_ST_SYN:
        gen_pkt_tcp(g, f, 0, GEN_TCP_SYN, 0);
        f->seq[0]++;
        f->state = (f->flags & GEN_FLOW_REJECTED) ? GEN_ST_REJECT : GEN_ST_SYNACK;
        return f->rtt_ns;
    case GEN_ST_REJECT:
        gen_pkt_tcp(g, f, 1, GEN_TCP_RST | GEN_TCP_ACK, 0);
        return GEN_DONE;
    case GEN_ST_SYNACK:
        gen_pkt_tcp(g, f, 1, GEN_TCP_SYN | GEN_TCP_ACK, 0);
        f->seq[1]++;
        f->state = GEN_ST_HS_ACK;
        return gen_small_delay(r, 80);
    case GEN_ST_HS_ACK:
        gen_pkt_tcp(g, f, 0, GEN_TCP_ACK, 0);
        gen_tcp_exchange_begin(g, f);
        return gen_small_delay(r, 300);
    case GEN_ST_DATA: {
        int from = f->sender;
        uint32_t len = f->xfer_left < f->mss ? (uint32_t)f->xfer_left : f->mss;
        f->xfer_left -= len;
        gen_pkt_tcp(g, f, from, GEN_TCP_ACK | (f->xfer_left == 0 ? GEN_TCP_PSH : 0), len);
        f->seq[from] += len;
        f->unacked++;
        f->win_left--;
        if (f->xfer_left == 0 && from == 0) {
            /* request complete: the response carries the ACK, after RTT and server time */
            f->sender = 1;
            f->xfer_left = f->resp_pending > 0 ? f->resp_pending : 1;
            f->cwnd = 10;
            f->win_left = f->cwnd;
            f->unacked = 0;
            return f->rtt_ns + gen_small_delay(r, 3000);
        }
        if (f->xfer_left == 0 || f->unacked >= 2) {
            f->state = GEN_ST_DATA_ACK; /* delayed ACK: every second segment, and the last */
            return gen_small_delay(r, 40);
        }
        if (f->win_left == 0)
            return gen_tcp_window_wait(f);
        return f->seg_gap_ns + tg_rng_below(r, f->seg_gap_ns / 8 + 1);
    }
    case GEN_ST_DATA_ACK:
        gen_pkt_tcp(g, f, f->sender ^ 1, GEN_TCP_ACK, 0);
        f->unacked = 0;
        if (f->xfer_left > 0) {
            f->state = GEN_ST_DATA;
            if (f->win_left == 0)
                return gen_tcp_window_wait(f);
            return f->seg_gap_ns;
        }
        return gen_tcp_exchange_end(g, f);
    case GEN_ST_FIN1:
        gen_pkt_tcp(g, f, f->closer, GEN_TCP_FIN | GEN_TCP_ACK, 0);
        f->seq[f->closer]++;
        f->state = GEN_ST_FIN_REPLY;
        return gen_answer_delay(g, f, f->closer);
    case GEN_ST_FIN_REPLY: {
        int other = f->closer ^ 1;
        if (f->flags & GEN_FLOW_FIN_MERGED) {
            gen_pkt_tcp(g, f, other, GEN_TCP_FIN | GEN_TCP_ACK, 0);
            f->seq[other]++;
            f->state = GEN_ST_LAST_ACK;
            return gen_answer_delay(g, f, other);
        }
        gen_pkt_tcp(g, f, other, GEN_TCP_ACK, 0);
        f->state = GEN_ST_FIN2;
        return gen_small_delay(r, 500);
    }
    case GEN_ST_FIN2: {
        int other = f->closer ^ 1;
        gen_pkt_tcp(g, f, other, GEN_TCP_FIN | GEN_TCP_ACK, 0);
        f->seq[other]++;
        f->state = GEN_ST_LAST_ACK;
        return gen_answer_delay(g, f, other);
    }
    case GEN_ST_LAST_ACK:
        gen_pkt_tcp(g, f, f->closer, GEN_TCP_ACK, 0);
        return GEN_DONE;
    case GEN_ST_RST:
        gen_pkt_tcp(g, f, f->closer, GEN_TCP_RST | GEN_TCP_ACK, 0);
        return GEN_DONE;
    case GEN_ST_DNS_QUERY:
        gen_pkt_dns(g, f, 0);
        if ((f->flags & GEN_FLOW_LOSSY) && f->pkts_left == 1 && tg_rng_chance(r, 0.5))
            return GEN_DONE; /* unanswered: the resolver retries from another port */
        f->state = GEN_ST_DNS_RESP;
        return f->rtt_ns;
    case GEN_ST_DNS_RESP:
        gen_pkt_dns(g, f, 1);
        if (--f->pkts_left == 0)
            return GEN_DONE;
        f->qtype_aaaa = 1;
        f->id++;
        f->state = GEN_ST_DNS_QUERY;
        return gen_small_delay(r, 150);
    case GEN_ST_STREAM: {
        int from = f->sender;
        gen_pkt_rtp(g, f, from);
        if (--f->pkts_left == 0)
            return GEN_DONE;
        uint64_t jitter = tg_rng_below(r, 2 * GEN_NS_PER_MS);
        if (!(f->flags & GEN_FLOW_BIDIR))
            return f->period_ns - GEN_NS_PER_MS + jitter;
        f->sender ^= 1;
        /* the two directions are offset by phase_ns within each period */
        uint64_t base = from == 0 ? f->phase_ns : f->period_ns - f->phase_ns;
        return base + jitter / 4 + 1;
    }
    case GEN_ST_ECHO_REQ:
        gen_pkt_icmp_echo(g, f, 0);
        f->pkts_left--;
        if (tg_rng_chance(r, 0.04)) { /* lost reply */
            f->icmp_seq++;
            return f->pkts_left ? GEN_NS_PER_S : GEN_DONE;
        }
        f->state = GEN_ST_ECHO_REP;
        return f->rtt_ns;
    case GEN_ST_ECHO_REP:
        gen_pkt_icmp_echo(g, f, 1);
        f->icmp_seq++;
        if (f->pkts_left == 0)
            return GEN_DONE;
        f->state = GEN_ST_ECHO_REQ;
        return f->rtt_ns < GEN_NS_PER_S ? GEN_NS_PER_S - f->rtt_ns : GEN_NS_PER_MS;
    case GEN_ST_SPOOF:
        gen_pkt_tcp(g, f, 0, GEN_TCP_SYN, 0);
        return GEN_DONE;
    }
    return GEN_DONE;
}

/* ---- event heap ---------------------------------------------------------------------------- */

/* A 4-ary min-heap on next packet time: half the levels of a binary heap, and with the array
 * placed so that h[1] starts a cache line (see main), the four children of a node share one line,
 * so each level costs one miss. */
static void gen_heap_sift_down(struct gen_event *h, uint32_t n, uint32_t i)
{
    struct gen_event e = h[i];
    for (;;) {
        uint32_t c = 4 * i + 1;
        if (c >= n)
            break;
        uint32_t end = c + 4 < n ? c + 4 : n;
        uint32_t m = c;
        for (uint32_t j = c + 1; j < end; j++)
            if (h[j].t_ns < h[m].t_ns)
                m = j;
        if (h[m].t_ns >= e.t_ns)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = e;
}

/* ---- command line and main ----------------------------------------------------------------- */

struct gen_args {
    const char *out_path;
    uint64_t packets;
    uint64_t seed;
    uint32_t concurrency;
    uint32_t clients;
    uint32_t snaplen;
    bool verbose;
};

static void gen_usage_print(FILE *to)
{
    fputs("usage: ddos-bench-gen -o FILE [--packets N] [--seed S] [--concurrency C]\n"
          "                      [--clients K] [--snaplen L] [--verbose]\n"
          "Writes a classic pcap (Ethernet, microsecond timestamps) of N packets of mixed\n"
          "traffic: TCP sessions and bulk downloads, DNS-like and RTP-like UDP, ICMP echo,\n"
          "~10% IPv6 and one-packet spoofed SYNs. The same seed always gives the same file.\n"
          "  -o, --output FILE     output file ('-' for stdout)\n"
          "  -n, --packets N       packets to write (default 4000000)\n"
          "  -s, --seed S          PRNG seed (default 1)\n"
          "  -c, --concurrency C   flows kept open at once (default 50000)\n"
          "      --clients K       client addresses drawn from, 1..1048575 (default 20000); the\n"
          "                        same seed gives the same flows with other client addresses\n"
          "      --snaplen L       bytes captured per packet, 60..65535 (default 65535)\n"
          "  -v, --verbose         also print the per-kind mix to stderr\n"
          "  -h, --help            this text\n",
          to);
}

static int gen_arg_u64(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr,
                "ddos-bench-gen: %s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]\n", name,
                s, lo, hi);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Returns 0 to run, 1 after --help, -EINVAL on a bad command line (message printed). */
static int gen_args_parse(int argc, char **argv, struct gen_args *a)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"packets", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'c'},
        {"snaplen", required_argument, NULL, 'L'},
        {"verbose", no_argument, NULL, 'v'},
        {"clients", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (struct gen_args){.packets = 4000000,
                           .seed = 1,
                           .concurrency = 50000,
                           .clients = GEN_CLIENTS,
                           .snaplen = 65535};
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:n:s:c:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a->out_path = optarg;
            break;
        case 'n':
            if (gen_arg_u64("--packets", optarg, 1, UINT64_MAX / 2, &a->packets))
                return -EINVAL;
            break;
        case 's':
            if (gen_arg_u64("--seed", optarg, 0, UINT64_MAX, &a->seed))
                return -EINVAL;
            break;
        case 'c':
            if (gen_arg_u64("--concurrency", optarg, 1, 1u << 24, &v))
                return -EINVAL;
            a->concurrency = (uint32_t)v;
            break;
        case 'K': /* IPv4 clients are 10.0.0.0/12-style: c >> 12 must fit one byte */
            if (gen_arg_u64("--clients", optarg, 1, (1u << 20) - 1, &v))
                return -EINVAL;
            a->clients = (uint32_t)v;
            break;
        case 'L':
            if (gen_arg_u64("--snaplen", optarg, GEN_FRAME_MIN, 65535, &v))
                return -EINVAL;
            a->snaplen = (uint32_t)v;
            break;
        case 'v':
            a->verbose = true;
            break;
        case 'h':
            gen_usage_print(stdout);
            return 1;
        case ':':
            fprintf(stderr, "ddos-bench-gen: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "ddos-bench-gen: unknown option '%s'\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ddos-bench-gen: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (a->out_path == NULL) {
        fprintf(stderr, "ddos-bench-gen: -o FILE is required\n");
        return -EINVAL;
    }
    return 0;
}

static double gen_clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void gen_file_header_write(struct gen *g)
{
    g->out_len = tg_pcap_file_header(g->out, g->snaplen);
}

/* Writes the packet of the slot due first and schedules that slot's next one. */
static inline void gen_step(struct gen *g, struct gen_flow *flows, struct gen_event *heap,
                            uint32_t n)
{
    struct gen_flow *f = &flows[heap[0].slot];
    g->now_ns = heap[0].t_ns;
    uint64_t delay = gen_flow_step(g, f);
    if (delay == GEN_DONE) {
        gen_flow_start(g, f);
        delay = gen_small_delay(&g->rng, 20000); /* the slot's next connection */
    }
    heap[0].t_ns = g->now_ns + delay;
    gen_heap_sift_down(heap, n, 0);
}

/* Runs the event loop until a.packets packets are in the file.
 *
 * A fresh start would be unrealistic: every slot would begin with a handshake and the mix would
 * drift for a whole flow lifetime while slots settle into long keep-alive idles. So the flows
 * run GEN_WARMUP_S of packet time in dry mode first (no frames built), and the capture opens on
 * traffic in steady state, with flows already in progress, as a real tap would see it. */
static int gen_run(struct gen *g, const struct gen_args *a, struct gen_flow *flows,
                   struct gen_event *heap)
{
    uint32_t n = a->concurrency;
    uint64_t capture_start_ns = GEN_EPOCH_S * GEN_NS_PER_S;
    g->now_ns = capture_start_ns - GEN_WARMUP_S * GEN_NS_PER_S;
    for (uint32_t i = 0; i < n; i++) {
        gen_flow_start(g, &flows[i]);
        heap[i].t_ns = g->now_ns + tg_rng_below(&g->rng, 8000) * GEN_NS_PER_MS +
                       tg_rng_below(&g->rng, 1000000);
        heap[i].slot = i;
    }
    for (uint32_t i = n / 4 + 1; i-- > 0;)
        gen_heap_sift_down(heap, n, i);

    g->dry = true;
    while (heap[0].t_ns < capture_start_ns)
        gen_step(g, flows, heap, n);
    g->dry = false;
    g->flows = 0;
    memset(g->kind_flows, 0, sizeof g->kind_flows);
    for (uint32_t i = 0; i < n; i++)
        flows[i].emitted = 0;
    g->first_ns = heap[0].t_ns;

    while (g->packets < a->packets) {
        if (g->out_len > GEN_OUT_CAPACITY - GEN_OUT_RESERVE) {
            int rc = gen_out_flush(g);
            if (rc < 0)
                return rc;
        }
        gen_step(g, flows, heap, n);
    }
    int rc = gen_out_flush(g);
    return rc < 0 ? rc : gen_writer_submit(g->writer, NULL, 0);
}

int main(int argc, char **argv)
{
    struct gen_args a;
    int rc = gen_args_parse(argc, argv, &a);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "Try 'ddos-bench-gen --help'.\n");
        return rc < 0 ? 2 : 0;
    }

    int status = 1;
    struct gen *g = calloc(1, sizeof *g);
    struct gen_flow *flows = calloc(a.concurrency, sizeof *flows);
    /* 64-byte aligned storage; the heap starts one entry early so h[1..4] fill one line */
    size_t heap_bytes = ((size_t)a.concurrency + 4) * sizeof(struct gen_event);
    void *heap_mem = aligned_alloc(64, (heap_bytes + 63) / 64 * 64);
    struct gen_event *heap = heap_mem ? (struct gen_event *)heap_mem + 3 : NULL;
    uint8_t *out = malloc(GEN_OUT_CAPACITY);
    uint8_t *spare = malloc(GEN_OUT_CAPACITY);
    struct gen_writer writer = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                .cond = PTHREAD_COND_INITIALIZER};
    pthread_t writer_thread;
    bool writer_running = false;
    if (g == NULL || flows == NULL || heap == NULL || out == NULL || spare == NULL) {
        fprintf(stderr, "ddos-bench-gen: out of memory for %u flows\n", a.concurrency);
        goto fail;
    }
    g->out = out;
    g->spare = spare;
    g->writer = &writer;
    g->snaplen = a.snaplen;
    g->clients = a.clients;
    tg_rng_seed(&g->rng, a.seed);
    gen_servers_init(g);

    bool to_stdout = strcmp(a.out_path, "-") == 0;
    writer.fp = to_stdout ? stdout : fopen(a.out_path, "wb");
    if (writer.fp == NULL) {
        fprintf(stderr, "ddos-bench-gen: cannot open %s: %s\n", a.out_path, strerror(errno));
        goto fail;
    }
    /* Writes go out in GEN_OUT_CAPACITY blocks already; stdio's own buffer would be a copy. */
    setvbuf(writer.fp, NULL, _IONBF, 0);
    rc = pthread_create(&writer_thread, NULL, gen_writer_main, &writer);
    if (rc != 0) {
        fprintf(stderr, "ddos-bench-gen: cannot start the writer thread: %s\n", strerror(rc));
        goto fail;
    }
    writer_running = true;

    double t0 = gen_clock_seconds();
    gen_file_header_write(g);
    rc = gen_run(g, &a, flows, heap);
    gen_writer_stop(&writer, writer_thread);
    writer_running = false;
    if (rc == 0 && !to_stdout && fclose(writer.fp) != 0)
        rc = -errno;
    writer.fp = NULL;
    if (rc < 0) {
        fprintf(stderr, "ddos-bench-gen: writing %s failed: %s\n", a.out_path, strerror(-rc));
        goto fail;
    }
    double elapsed = gen_clock_seconds() - t0;
    double span = (double)(g->now_ns - g->first_ns) / 1e9;
    fprintf(stderr,
            "ddos-bench-gen: %" PRIu64 " packets, %" PRIu64 " flows, %" PRIu64
            " bytes on the wire (%" PRIu64 " in file), span %.1f s of packet time, seed %" PRIu64
            ", elapsed %.2f s (%.2f Mpps) -> %s\n",
            g->packets, g->flows, g->wire_bytes, g->file_bytes, span, a.seed, elapsed,
            (double)g->packets / elapsed / 1e6, a.out_path);
    if (a.verbose) {
        for (int k = 0; k < GEN_KIND_COUNT; k++)
            fprintf(stderr,
                    "  %-12s flows %9" PRIu64 " (%5.1f%%)  packets %10" PRIu64
                    " (%5.1f%%)  bytes %12" PRIu64 " (%5.1f%%)\n",
                    gen_kind_names[k], g->kind_flows[k],
                    100.0 * (double)g->kind_flows[k] / (double)g->flows, g->kind_packets[k],
                    100.0 * (double)g->kind_packets[k] / (double)g->packets, g->kind_bytes[k],
                    100.0 * (double)g->kind_bytes[k] / (double)g->wire_bytes);
    }
    status = 0;
fail:
    if (writer_running)
        gen_writer_stop(&writer, writer_thread);
    if (writer.fp != NULL && writer.fp != stdout)
        fclose(writer.fp);
    free(spare);
    free(out);
    free(heap_mem);
    free(flows);
    free(g);
    return status;
}
