/* tg_internal.h - shared internals of the traffic generator (for the trafgen/ sources only).
 *
 * Holds the generator state (struct tg), the actor pool types and the packet builder interface
 * (the PRNG, byte stores, checksums and pcap headers are tg_wire.h's). Nothing here is part of the
 * public API (trafgen.h); the split into files is: tg_engine.c   output buffer, event heap, actor
 * pool, world set-up, main loop, trafgen_run() tg_packet.c   Ethernet/IP/TCP/UDP/ICMP frame
 * builders, checksums, payload templates tg_tcp.c      the TCP connection engine shared by benign
 * apps, http_flood and slow_http tg_benign.c   benign clients and their UDP/ICMP apps, TCP app
 * scripts tg_benign_apps.c site applications drawn per seed (P2P, calls, file sharing, IoT,
 *                 multicast, LAN chatter, VPNs, games, busy resolvers and time servers)
 *   tg_streams.c  their UDP/ESP/GRE streams and peer pools
 *   tg_scenario.c scenario names, descriptions, labels, --scenario parsing
 *   tg_attack.c   attack planning (parameters drawn per instance, the packet budget)
 *   tg_flood.c    the stateless flood actor and the victims' answers
 *   tg_icmp_frag.c ICMP error floods (BlackNurse) and IPv4/IPv6 fragment floods
 *   tg_bots.c     http_flood and slow_http: planning, bots and their TCP connections
 *   tg_provenance.c the drawn parameters and the per-IP truth of each instance, as JSON
 *   tg_manifest.c the manifest JSON
 * Single-threaded: every function takes the one struct tg and may touch all of it. */
#ifndef DD_TRAFGEN_TG_INTERNAL_H
#define DD_TRAFGEN_TG_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/compiler.h"
#include "trafgen/tg_wire.h"
#include "trafgen/trafgen.h"

#define TG_NS_US 1000ULL
#define TG_NS_MS 1000000ULL
#define TG_NS_S  1000000000ULL
#define TG_DONE  UINT64_MAX /* an actor step's return: the actor is finished */

#define TG_FRAME_MIN   60u
#define TG_MTU         1500u
#define TG_OUT_CAP     (16u << 20)
#define TG_OUT_RESERVE 4096u /* one record header and the largest frame, with slack */
#define TG_SCRATCH_CAP 65536u
#define TG_REPLY_MAX   1024u /* pending victim/scanner answers per attack instance */
#define TG_LABEL_COUNT (TRAFGEN_MAX_INSTANCES + 1) /* label index 0 is benign */

#define TG_TCP_FIN 0x01
#define TG_TCP_SYN 0x02
#define TG_TCP_RST 0x04
#define TG_TCP_PSH 0x08
#define TG_TCP_ACK 0x10
#define TG_TCP_URG 0x20
#define TG_TCP_ECE 0x40
#define TG_TCP_CWR 0x80

#define TG_PROTO_ICMP   1
#define TG_PROTO_TCP    6
#define TG_PROTO_UDP    17
#define TG_PROTO_ICMPV6 58

#define TG_IP_DF 0x4000
#define TG_IP_MF 0x2000

/* ---- hosts -------------------------------------------------------------------------------- */

/* TCP/IP personalities: initial TTL, SYN option layout, windows. */
enum tg_os { TG_OS_LINUX, TG_OS_WINDOWS, TG_OS_MACOS, TG_OS_ANDROID, TG_OS_IOS, TG_OS_COUNT };

/* Option layouts a SYN (or SYN-ACK) may carry; established segments carry only timestamps. */
enum tg_synopt {
    TG_SYNOPT_NONE,    /* bare 20-byte header (flood tools) */
    TG_SYNOPT_MSS,     /* MSS only */
    TG_SYNOPT_LINUX,   /* MSS, SACK-permitted, TS, NOP, WS */
    TG_SYNOPT_WINDOWS, /* MSS, NOP, WS, NOP, NOP, SACK-permitted */
    TG_SYNOPT_MACOS,   /* MSS, NOP, WS, NOP, NOP, TS, SACK-permitted, EOL, EOL */
    TG_SYNOPT_COUNT
};

/* One endpoint's stack as seen at the capture point. */
struct tg_stack {
    uint16_t mss;
    uint16_t win;   /* window in SYN and (unscaled) later segments */
    uint8_t ttl;    /* as observed here: initial TTL minus hops */
    uint8_t synopt; /* enum tg_synopt */
    uint8_t wscale;
    uint8_t ts;        /* uses TCP timestamps */
    uint8_t ipid_rand; /* IPv4 IDs random per packet rather than counting */
    uint8_t os;
};

enum tg_role {
    TG_ROLE_WEB,
    TG_ROLE_DNS,
    TG_ROLE_NTP,
    TG_ROLE_SSH,
    TG_ROLE_MEDIA,
    TG_ROLE_VOIP,
    TG_ROLE_APP,
    TG_ROLE_COUNT
};

/* A protected server (or any victim host) in 10.20.0.0/16 and fd00:20::/32. */
struct tg_server {
    uint8_t ip4[4];
    uint8_t ip6[16];
    struct tg_stack stack;
    uint16_t open_ports[8]; /* answered with SYN-ACK; everything else with RST */
    uint8_t n_open;
    uint8_t role;
    bool has_v6;
};

enum { TG_SERVERS_MAX = 160 };

/* Benign applications and the attack connection kinds that reuse their engines. */
enum tg_app {
    TG_APP_WEB,     /* HTTP/1.1 on port 80, keep-alive */
    TG_APP_TLS,     /* HTTPS on 443 */
    TG_APP_BULK,    /* large download over HTTP or HTTPS */
    TG_APP_SSH,     /* interactive ssh */
    TG_APP_SCP,     /* scp-like bulk copy over ssh */
    TG_APP_IDLE,    /* long-lived TLS connection with heartbeats and TCP keep-alives */
    TG_APP_DNS_TCP, /* DNS over TCP */
    TG_APP_DNS,     /* DNS over UDP */
    TG_APP_NTP,     /* NTP client polls */
    TG_APP_QUIC,    /* QUIC-like HTTP/3 session on UDP 443 */
    TG_APP_VIDEO,   /* RTP-like or QUIC-like video stream */
    TG_APP_VOIP,    /* RTP both ways every 20 ms */
    TG_APP_PING,    /* ICMP / ICMPv6 echo */
    /* TCP apps of tg_benign_apps.c, started by site applications, never by a client's mix */
    TG_APP_SMB,      /* SMB2 on 445 */
    TG_APP_NFS,      /* NFS over TCP 2049 */
    TG_APP_MODBUS,   /* Modbus/TCP polling on 502 */
    TG_APP_MQTT,     /* MQTT on 1883 (or over TLS on 8883) */
    TG_APP_PEERWIRE, /* BitTorrent peer wire */
    TG_APP_BENIGN_COUNT,
    TG_APP_HTTP_FLOOD = TG_APP_BENIGN_COUNT, /* bot sessions */
    TG_APP_SLOWLORIS,
    TG_APP_SLOW_POST,
    TG_APP_SLOW_READ,
    TG_APP_COUNT
};

struct tg_client {
    uint8_t ip4[4];
    uint8_t ip6[16];
    struct tg_stack stack;
    uint32_t rtt_us;  /* to the capture point and back */
    uint32_t bw_kbps; /* access bottleneck */
    uint32_t gap_ms;  /* median gap between the sessions it starts */
    float gap_sigma;
    float v6_share; /* share of its sessions over IPv6 (0 without an IPv6 address) */
    uint32_t app_cdf[TG_APP_BENIGN_COUNT]; /* cumulative per-mille weights */
    uint16_t ipid;                         /* global IP ID counter (Windows-like stacks) */
    uint16_t next_port;                    /* sequential ephemeral ports (Windows-like stacks) */
    uint8_t fav_web[3];                    /* web servers it mostly visits */
    bool has_v6;
};

/* ---- actors -------------------------------------------------------------------------------- */

enum tg_actor_kind {
    TG_ACT_CLIENT, /* a benign client: starts sessions */
    TG_ACT_TCP,    /* one TCP connection */
    TG_ACT_UDP,    /* one UDP conversation */
    TG_ACT_PING,   /* an ICMP echo series */
    TG_ACT_FLOOD,  /* the stateless packet source of an attack instance */
    TG_ACT_BOT,    /* an attack host that opens TCP connections (http_flood, slow_http) */
    TG_ACT_SITE,   /* a benign site application: starts its streams and sessions */
    TG_ACT_STREAM, /* one benign UDP (or ESP/GRE) stream of a site application */
};

/* TCP connection: side 0 is the client (outside), side 1 the server (protected network). */
struct tg_tcp {
    uint8_t ip[2][16];
    uint64_t rtt_ns;
    uint64_t deadline_ns; /* idle/slow connections: when the server (or client) gives up */
    uint32_t gap_ns;      /* wire time of one full segment at the bottleneck */
    uint32_t seq[2];      /* next sequence number each side sends */
    uint32_t ts[2];       /* TCP timestamp clocks */
    uint32_t flight_seq;  /* sender's sequence at the start of the current flight */
    uint32_t left;        /* bytes of the current transfer still to send */
    uint32_t xfer_len;    /* size of the current transfer */
    uint32_t resp_len;    /* response that follows the current request (0: none) */
    uint32_t xfer_seed;   /* content of the current transfer */
    uint32_t aux;         /* app-specific (heartbeat period ms, slow interval ms, ...) */
    uint32_t body;        /* HTTP POST: Content-Length */
    uint32_t proc_us;     /* server think time before a response */
    uint32_t flow_label;
    uint16_t hdr_len; /* HTTP request: header bytes (without the POST body) */
    uint16_t port[2];
    uint16_t ipid[2];
    uint16_t win[2];     /* advertised raw windows after the handshake */
    uint16_t syn_win[2]; /* windows in SYN / SYN-ACK */
    uint16_t mss_adv[2]; /* MSS each side advertises */
    uint16_t mss;        /* segment payload size in use */
    uint16_t cwnd, cwnd_max, flight, acks_left;
    uint16_t exchanges; /* exchanges still to run */
    uint16_t owner;     /* client index, or attack instance */
    uint8_t ttl[2];
    uint8_t synopt[2];
    uint8_t wscale[2];
    uint8_t app, state, sender, closer, tries, stage, xfer_kind, resp_kind, tos;
    uint8_t url_style; /* enum tg_url, for HTTP requests */
    bool v6, ts_on, ecn, rst_close, refused, silent, ipid_rand[2];
};

/* UDP conversation (client outside, server inside). */
struct tg_udp {
    uint8_t ip[2][16];
    uint64_t rtt_ns;
    uint64_t end_ns;       /* streams: when they stop */
    uint64_t next_ns[2];   /* streams: next packet time per direction (UINT64_MAX: none) */
    uint64_t base_ns[2];   /* streams: nominal (jitter-free) time of the next packet or frame */
    uint64_t spurt_end[2]; /* VoIP with silence suppression: end of the talk spurt / silence */
    uint32_t period_ns;    /* frame or packet period */
    uint32_t jitter_ns;
    uint32_t rtp_ts[2];
    uint32_t ssrc[2];
    uint32_t left;        /* bytes (responses, frames) or packets still to send */
    uint32_t frame_bytes; /* video: mean frame size */
    uint32_t frames;      /* video: frames sent (I-frame cadence) */
    uint32_t exchanges;   /* DNS/NTP/QUIC: exchanges still to run */
    uint32_t seed;
    uint32_t flow_label;
    uint32_t think_ms; /* QUIC: median think time */
    uint16_t port[2];
    uint16_t ipid[2];
    uint16_t rtp_seq[2];
    uint16_t psize[2]; /* payload size per direction (VoIP) or max datagram (QUIC/video) */
    uint16_t cwnd, flight, acks_left, ack_every, since_ack, gop;
    uint16_t owner;
    uint8_t ttl[2];
    uint8_t app, state, pt, tos;
    bool v6, ipid_rand, quic, vad, talking[2];
};

struct tg_ping {
    uint8_t ip[2][16];
    uint64_t rtt_ns;
    uint32_t interval_ns;
    uint32_t flow_label;
    uint16_t left, id, seq, psize;
    uint16_t ipid[2];
    uint16_t owner;
    uint8_t ttl[2];
    uint8_t state, style;
    bool v6;
};

struct tg_clientact {
    uint32_t client; /* also: the site application's index (TG_ACT_SITE) */
};

/* Benign stream kinds (tg_benign_apps.c). */
enum tg_skind {
    TG_SK_RTP,   /* call media: RTP both ways with RTCP (audio, or video bursts) */
    TG_SK_SIP,   /* SIP call signalling over UDP */
    TG_SK_STUN,  /* STUN binding checks */
    TG_SK_GAME,  /* game traffic both ways */
    TG_SK_WG,    /* WireGuard */
    TG_SK_OVPN,  /* OpenVPN over UDP */
    TG_SK_IKE,   /* IKEv2 on 500, then ESP in UDP 4500 */
    TG_SK_ESP,   /* IPsec ESP (IP protocol 50) */
    TG_SK_GRE,   /* GRE (IP protocol 47) carrying IPv4 */
    TG_SK_MCAST, /* one-way multicast stream */
    TG_SK_DNS,   /* request/response kinds: */
    TG_SK_NTP,
    TG_SK_COAP,
    TG_SK_BACNET,
    TG_SK_DHT,
    TG_SK_NFS,     /* NFS over UDP: small calls, fragmented large replies */
    TG_SK_UTP,     /* BitTorrent uTP transfer */
    TG_SK_CHATTER, /* SSDP, mDNS, LLMNR, NetBIOS to a group or broadcast address */
    TG_SK_TRACE,   /* traceroute: UDP or ICMP probes, time exceeded / unreachable answers */
    TG_SK_COUNT
};

/* One benign stream: side 0 starts it. Either side may be a protected host (inside[]). */
struct tg_stream {
    uint8_t ip[2][16];
    uint64_t end_ns;
    uint64_t next_ns[2]; /* next packet per side (UINT64_MAX: none) */
    uint64_t base_ns[2]; /* nominal time of the next periodic packet */
    uint64_t rtt_ns;     /* between side 0 and side 1 through the capture point */
    uint32_t period_ns[2];
    uint32_t jitter_ns;
    uint32_t seq[2];
    uint32_t ts[2];
    uint32_t ssrc[2];
    uint32_t seed;
    uint32_t left;     /* exchanges or packets still to send */
    uint32_t burst[2]; /* bytes of the current video frame / bulk burst still to send */
    uint32_t frame_bytes;
    uint16_t port[2];
    uint16_t size_lo[2], size_hi[2];
    uint16_t ipid[2];
    uint16_t aux;
    uint16_t answer_pm; /* request/response: answers per mille */
    uint8_t ttl[2];
    uint8_t kind, sub, state, tos;
    bool v6, inside[2];
};

struct tg_floodact {
    uint64_t next_send_ns; /* UINT64_MAX once the instance has stopped sending */
    uint32_t sent;
    uint32_t cursor;     /* round-robin source / scan probe number */
    uint32_t burst_left; /* packets left from the current source (sticky, amplification) */
    uint32_t src_idx;
    uint32_t cur_victim; /* amplification: victim of the current answer */
    uint16_t cur_dport;
    uint16_t burst_seq;
    uint8_t cur_vec;
};

struct tg_bot {
    uint32_t host;   /* index of the bot's address in its instance block */
    uint32_t opened; /* connections opened */
    uint16_t inst;
};

struct tg_actor {
    uint8_t kind;  /* enum tg_actor_kind */
    uint8_t label; /* 0 benign, i + 1 attack instance i */
    union {
        struct tg_clientact client;
        struct tg_tcp tcp;
        struct tg_udp udp;
        struct tg_ping ping;
        struct tg_floodact flood;
        struct tg_bot bot;
        struct tg_stream st;
    } u;
};

struct tg_event {
    uint64_t t_ns;
    uint32_t slot;
};

/* ---- attack instances ---------------------------------------------------------------------- */

/* What a pending answer is (victim answers in two-way mode, scanner follow-ups). */
enum tg_reply_kind {
    TG_RP_SYNACK,      /* victim -> peer */
    TG_RP_RSTACK,      /* victim -> peer */
    TG_RP_RST,         /* victim -> peer, bare RST to an unexpected segment */
    TG_RP_ECHO_REPLY,  /* victim -> peer */
    TG_RP_UNREACH,     /* victim -> peer: ICMP port unreachable quoting the probe */
    TG_RP_PEER_RST,    /* peer -> victim: scanner tears down after SYN-ACK */
    TG_RP_PEER_ACK,    /* peer -> victim: connect scan completes the handshake */
    TG_RP_PEER_RSTACK, /* peer -> victim: connect scan closes */
};

struct tg_reply {
    uint64_t t_ns;
    uint8_t peer[16]; /* outside address (spoofed source, scanner, reflector) */
    uint8_t host[16]; /* protected address */
    uint32_t seq, ack;
    uint16_t peer_port, host_port;
    uint16_t aux;  /* echo id / probe length */
    uint16_t aux2; /* echo seq */
    uint8_t kind, host_ttl, peer_ttl;
    bool v6;
};

enum tg_timing {
    TG_TIMING_CBR,     /* constant rate with jitter */
    TG_TIMING_POISSON, /* exponential gaps */
    TG_TIMING_ONOFF,   /* bursts separated by silences */
    TG_TIMING_RAMP,    /* rate climbs linearly, then holds */
    TG_TIMING_PULSE,   /* short very dense pulses ("pulse wave") */
    TG_TIMING_COUNT
};

enum tg_srcmode { TG_SRC_RANDOM, TG_SRC_ROUND_ROBIN, TG_SRC_STICKY, TG_SRC_ZIPF };
enum tg_portmode { TG_PORT_FIXED, TG_PORT_RANDOM, TG_PORT_INCREMENT, TG_PORT_SET };
enum tg_ttlmode { TG_TTL_PER_SOURCE, TG_TTL_RANDOM, TG_TTL_FIXED };
enum tg_ipidmode { TG_IPID_RANDOM, TG_IPID_INCREMENT, TG_IPID_ZERO, TG_IPID_FIXED };

/* Amplification vectors: reflector source port and answer sizes. */
enum tg_amp {
    TG_AMP_DNS,
    TG_AMP_NTP,
    TG_AMP_SSDP,
    TG_AMP_MEMCACHED,
    TG_AMP_CLDAP,
    TG_AMP_SNMP,
    TG_AMP_CHARGEN,
    TG_AMP_WSD,
    TG_AMP_COAP,
    TG_AMP_QOTD,
    TG_AMP_UBNT,
    TG_AMP_DHDISCOVER,
    TG_AMP_ARMS,
    TG_AMP_MDNS,
    TG_AMP_NETBIOS,
    TG_AMP_COUNT
};

enum tg_scan { TG_SCAN_SYN, TG_SCAN_CONNECT, TG_SCAN_UDP, TG_SCAN_FIN, TG_SCAN_COUNT };
/* icmp_error_flood: which errors. */
enum tg_errmix {
    TG_ERR_PORT_UNREACH, /* BlackNurse: type 3 code 3 (ICMPv6 1/4) only */
    TG_ERR_UNREACH,      /* destination unreachable, codes varied */
    TG_ERR_TIME_EXCEEDED,
    TG_ERR_TOO_BIG, /* IPv4 3/4 fragmentation needed, ICMPv6 2 packet too big */
    TG_ERR_MIXED,
    TG_ERR_COUNT
};
enum tg_burst { TG_BURST_SUSTAINED, TG_BURST_SINGLE, TG_BURST_REPEATED, TG_BURST_COUNT };
/* fragment_flood: what the fragments are. */
enum tg_fragkind {
    TG_FRAG_RANDOM,    /* non-first fragments at random offsets, MF mostly set, never whole */
    TG_FRAG_FIRST,     /* first fragments only (offset 0, MF, the transport header) */
    TG_FRAG_OVERSIZED, /* whole oversized datagrams, every fragment sent */
    TG_FRAG_COUNT
};
enum tg_url { TG_URL_FEW, TG_URL_RANDOM, TG_URL_COUNT };
enum tg_connmode { TG_CONN_KEEPALIVE, TG_CONN_ONE, TG_CONN_MIXED, TG_CONN_COUNT };
enum tg_slow { TG_SLOW_LORIS, TG_SLOW_POST, TG_SLOW_READ, TG_SLOW_MIXED };

/* Every parameter an attack instance draws; what a scenario does not use stays zero. */
struct tg_attack {
    /* timing */
    double rate_pps;   /* mean packets (or requests/connections) per second when on */
    double drawn_rate; /* before budget scaling */
    uint8_t timing;    /* enum tg_timing */
    double jitter;     /* 0..1, CBR gap spread */
    uint64_t on_ns, off_ns, ramp_ns;
    /* sources */
    uint32_t nsrc;   /* addresses used in the block */
    uint8_t srcmode; /* enum tg_srcmode */
    uint32_t sticky; /* packets per source in a row (TG_SRC_STICKY) */
    double zipf_skew;
    /* victims */
    uint32_t nvictims;
    uint16_t victim[16]; /* server indexes; carpet bombing uses victim_net instead */
    bool carpet;
    uint8_t carpet_net[4]; /* a /24 inside 10.20.0.0/16 */
    double v6_share;       /* packets over IPv6 */
    /* ports */
    uint8_t sportmode, dportmode;
    uint16_t sport, dport;
    uint16_t dports[8];
    uint8_t ndports;
    /* header personality */
    uint8_t ttlmode, ttl_lo, ttl_hi, ipidmode;
    uint16_t ipid_fixed;
    uint8_t synopt; /* enum tg_synopt */
    bool opt_mixed; /* option layout varies per packet */
    bool ecn;       /* ECE|CWR on SYNs */
    uint16_t win;   /* 0: random per packet */
    uint8_t tos;
    /* payload */
    uint32_t psize_lo, psize_hi;
    /* tcp_flood */
    uint8_t tcp_flags[4];
    uint8_t n_tcp_flags;
    bool random_flags;
    /* icmp_flood */
    bool icmp_other; /* other types mixed into the echo flood */
    /* amplification */
    uint8_t amp[4];
    uint8_t n_amp;
    uint32_t amp_burst_lo, amp_burst_hi; /* datagrams per triggered answer */
    /* reflection */
    uint16_t refl_ports[6];
    uint8_t n_refl_ports;
    /* victim behaviour in two-way mode */
    double answer_share; /* packets the victim answers */
    double open_share;   /* of those, port open (SYN-ACK) rather than RST */
    uint32_t reply_delay_us;
    uint32_t answer_limit_pps; /* kernel rate limit on ICMP/RST answers; 0 none */
    /* http_flood / slow_http */
    uint32_t bots;
    uint32_t bots_drawn;   /* before budget scaling */
    uint32_t conns_target; /* slow_http: connections held open */
    double conn_rate;      /* new connections per second per bot */
    uint8_t slow_kind;     /* enum tg_slow */
    uint32_t slow_interval_lo_ms, slow_interval_hi_ms;
    uint32_t server_timeout_s;
    bool tls;
    double post_share, keepalive_share;
    uint32_t req_per_conn_hi;
    uint32_t resp_lo, resp_hi;
    uint32_t think_hi_ms;
    uint16_t mss; /* 0: drawn per packet */
    uint8_t wscale;
    double rst_share;                          /* tcp_reflection: RST-ACK instead of SYN-ACK */
    double other_share;                        /* icmp_flood: share of non-echo types */
    double close_fin, close_rst, close_server; /* http_flood endings; the rest are abandoned */
    bool bots_uniform;                         /* one tool stack for every bot */
    uint32_t proc_ms;                          /* server think time under attack (median) */
    uint32_t slow_win_lo, slow_win_hi;
    double join_share; /* bots join over this share of the attack */
    /* icmp_error_flood */
    uint8_t err_mix;         /* enum tg_errmix */
    uint8_t burst_mode;      /* enum tg_burst */
    uint32_t quote_extra_hi; /* bytes quoted past the inner IP + 8 (0: the RFC 792 minimum) */
    /* fragment_flood */
    uint8_t frag_kind;           /* enum tg_fragkind */
    uint8_t frag_proto;          /* TG_PROTO_UDP or TG_PROTO_ICMP (ICMPv6 over IPv6): the label */
    uint32_t dgram_lo, dgram_hi; /* oversized / first-only: datagram sizes claimed or sent */
    /* sources: spoofed addresses (many, picked per packet), not real hosts */
    bool spoofed;
    bool plain; /* syn_flood: one real source, random source ports, bare SYNs */
    /* http_flood */
    uint8_t url_style; /* enum tg_url */
    uint8_t conn_mode; /* enum tg_connmode */
    double req_rate;   /* requests per second per bot */
    double req_rate_drawn;
    /* portscan */
    uint8_t scan_kind; /* enum tg_scan */
    uint32_t port_lo, port_hi, port_count;
    uint32_t perm_a, perm_b; /* port permutation i -> (a*i + b) mod count */
    bool top_ports;
};

struct tg_inst {
    uint8_t scenario; /* enum trafgen_scenario */
    uint8_t index;    /* 0..15: picks the address blocks */
    uint8_t v4net[4];
    uint8_t v4prefix;
    uint8_t v6net[16];
    uint8_t v6prefix; /* 0: no IPv6 block */
    uint64_t start_ns, end_ns;
    struct tg_attack a;
    json_t *params; /* what was drawn, for the manifest */
    uint64_t replies_dropped;
    uint64_t answers_limited;
    uint64_t conns_opened;
    uint16_t ipid_ctr, sport_ctr, dport_ctr;
    uint32_t open_conns; /* slow_http: connections currently held */
    uint64_t answer_window_ns;
    uint32_t answer_window_count;
    struct tg_reply *replies; /* min-heap by t_ns, TG_REPLY_MAX entries */
    uint32_t nreplies;
    /* per-IP truth: which of the first 16 source addresses and which victims (index in
     * a.victim) actually sent or received, per family */
    uint16_t src_seen[2];
    uint16_t victim_seen[2];
};

/* ---- the generator ------------------------------------------------------------------------- */

struct tg_pkt_state {
    uint8_t *rec; /* record header of the packet under construction */
    uint8_t *l4;
    uint32_t l4_len;
    uint32_t pseudo; /* pseudo-header partial sum */
    uint8_t proto;
    uint8_t label;
    uint8_t csum_off; /* checksum offset in L4, 0xff: none */
};

struct tg {
    struct tg_rng rng;
    const struct trafgen_config *cfg;
    uint64_t now_ns, start_ns, end_ns;
    bool one_way;

    FILE *fp;
    FILE *mfp; /* the manifest, opened before generating so a bad path fails early */
    uint8_t *out;
    size_t out_len;
    uint64_t file_bytes;
    int write_err; /* sticky: first fwrite failure, reported at the end */
    uint32_t snaplen;
    struct tg_pkt_state pk;
    uint8_t *scratch; /* TG_SCRATCH_CAP bytes for datagrams built before fragmenting */

    struct tg_actor *actors;
    uint32_t cap;
    uint32_t *free_stack;
    uint32_t nfree;
    struct tg_event *heap;
    uint32_t heap_len;

    struct tg_server servers[TG_SERVERS_MAX];
    uint32_t nservers;
    uint16_t by_role[TG_ROLE_COUNT][48];
    uint32_t n_role[TG_ROLE_COUNT];
    struct tg_client *clients;
    uint32_t nclients;

    struct tg_inst inst[TRAFGEN_MAX_INSTANCES];
    uint32_t ninst;

    uint64_t packets, wire_bytes, suppressed;
    uint64_t label_packets[TG_LABEL_COUNT], label_bytes[TG_LABEL_COUNT];
    uint64_t app_sessions[TG_APP_COUNT];
    uint64_t sessions_dropped;

    /* benign site applications (tg_benign_apps.c) */
    struct tg_site *sites;
    uint32_t nsites;
    json_t *sites_json; /* what each drew, for the manifest */
    uint64_t stream_count[TG_SK_COUNT];
};

/* tg_engine.c */
/* Takes a free actor slot and schedules its first step at `at` (>= now). NULL when the pool is
 * full (counted in sessions_dropped): callers skip the session. */
struct tg_actor *tg_actor_spawn(struct tg *g, uint8_t kind, uint8_t label, uint64_t at);
/* The IPv4/IPv6 address of host `idx` inside an instance's block. */
void tg_inst_addr4(const struct tg_inst *in, uint32_t idx, uint8_t out[16]);
void tg_inst_addr6(const struct tg_inst *in, uint32_t idx, uint8_t out[16]);

/* tg_packet.c: building one packet. begin() returns the payload (zeroed) or NULL when the
 * packet is dropped by --one-way; after writing the payload, the caller calls tg_pkt_finish().
 * The *_emit() helpers do both for packets whose payload stays zero. */
struct tg_l3 {
    const uint8_t *src;
    const uint8_t *dst;
    uint32_t flow_label;
    uint16_t ipid;
    uint16_t frag; /* IPv4 flags and fragment offset */
    uint8_t ttl;
    uint8_t tos;
    uint8_t label;
    bool v6;
    bool inbound; /* toward the protected network */
};

struct tg_tcpseg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win;
    uint8_t flags;
    uint8_t synopt; /* for SYN / SYN-ACK: enum tg_synopt */
    uint16_t mss;
    uint8_t wscale;
    bool ts; /* timestamps option (NOP NOP TS on non-SYN segments) */
    uint32_t tsval, tsecr;
    uint32_t payload_len;
};

uint8_t *tg_tcp_begin(struct tg *g, const struct tg_l3 *l3, const struct tg_tcpseg *s);
void tg_tcp_emit(struct tg *g, const struct tg_l3 *l3, const struct tg_tcpseg *s);
uint8_t *tg_udp_begin(struct tg *g, const struct tg_l3 *l3, uint16_t sport, uint16_t dport,
                      uint32_t payload_len);
/* A UDP datagram of any size up to 65507 from buf (NULL: zeros); IPv4 datagrams larger than the
 * MTU go out as fragments (first with the UDP header, then the rest), back to back. */
void tg_udp_send(struct tg *g, const struct tg_l3 *l3, uint16_t sport, uint16_t dport,
                 const uint8_t *buf, uint32_t len);
/* ICMP (IPv4) or ICMPv6 (l3->v6) with its 4 type-specific bytes in rest. */
uint8_t *tg_icmp_begin(struct tg *g, const struct tg_l3 *l3, uint8_t type, uint8_t code,
                       uint32_t rest, uint32_t payload_len);
/* A fragment: an IPv4 packet with MF/offset set, or an IPv6 packet with a Fragment header,
 * carrying len bytes (zeroed) at byte offset off (a multiple of 8) of a datagram of protocol
 * proto with identification id. No transport checksum is computed (a first fragment's caller
 * writes it, see tg_l4_csum). NULL when --one-way drops it. */
uint8_t *tg_frag_begin(struct tg *g, const struct tg_l3 *l3, uint8_t proto, uint32_t off, bool more,
                       uint32_t id, uint32_t len);
/* The transport checksum of a datagram of total bytes whose first hdr_len bytes are hdr (its
 * checksum field zero) and the rest zeros: pseudo-header for UDP and ICMPv6, none for ICMP.
 * Stored with memcpy, like every checksum here. */
uint16_t tg_l4_csum(const struct tg_l3 *l3, uint8_t proto, uint32_t total, const uint8_t *hdr,
                    uint32_t hdr_len);
/* A packet of IP protocol proto (ESP, GRE, ...) with len payload bytes (zeroed), no transport
 * checksum. NULL when --one-way drops it. */
uint8_t *tg_raw_begin(struct tg *g, const struct tg_l3 *l3, uint8_t proto, uint32_t len);
/* The IPv4 header checksum of the 20 bytes at h (its checksum field zero). */
uint16_t tg_ip4_csum(const uint8_t *h);
void tg_pkt_finish(struct tg *g);
/* Flushes the output buffer; 0 or -errno. */
DD_NODISCARD int tg_out_flush(struct tg *g);

/* Payload templates (tg_packet.c). Each writes exactly the bytes it returns, at most cap. */
uint32_t tg_dns_build(uint8_t *p, uint32_t cap, uint32_t seed, bool response, uint32_t target,
                      bool amp);
/* style: enum tg_url (TG_URL_RANDOM: random paths and cache-busting query strings). */
uint32_t tg_http_request(char *p, uint32_t cap, uint32_t seed, uint32_t target, bool post,
                         uint32_t body_len, bool partial, uint8_t style);
uint32_t tg_http_response(char *p, uint32_t cap, uint32_t seed, uint32_t total, uint32_t *hdr);
/* Writes the bytes of a TLS record stream of total length `total` that fall in [off, off+len)
 * into p (which holds zeros there): record headers every 16 KB, contents zero. */
void tg_tls_fill(uint8_t *p, uint32_t off, uint32_t len, uint32_t total, uint8_t type);
uint32_t tg_amp_payload(struct tg *g, uint8_t vec, uint8_t *p, uint32_t cap, uint32_t target,
                        uint32_t seq);

/* tg_tcp.c */
uint64_t tg_tcp_step(struct tg *g, struct tg_actor *a);
/* App scripts (tg_benign.c for benign apps, tg_attack.c for attack kinds): called when the
 * connection is established and after each exchange; they set up the next exchange, a
 * keep-alive probe or the close (state and fields of the tg_tcp) and return the delay until its
 * first packet, or TG_DONE to drop the connection silently. */
uint64_t tg_app_next(struct tg *g, struct tg_actor *a);
uint64_t tg_attack_app_next(struct tg *g, struct tg_actor *a);
/* The connection ended (any way): lets slow_http count held connections. */
void tg_attack_conn_closed(struct tg *g, struct tg_actor *a);
/* Next exchange: the client sends req bytes of content kind, then the server answers resp bytes
 * of resp_kind (0: nothing); req 0 makes the server speak first. */
void tg_tcp_exchange(struct tg_tcp *t, uint32_t req, uint32_t resp, uint8_t kind, uint8_t resp_kind,
                     uint32_t seed);
/* An HTTP/1.1 request (sized to about req_target, POST with a body) and its response, in clear
 * text or as TLS records. */
void tg_tcp_http_exchange(struct tg_tcp *t, uint32_t seed, uint32_t req_target, bool post,
                          uint32_t body, uint32_t resp_target, bool tls);
/* Switches to teardown by FIN (or RST) from side closer; returns 0. */
uint64_t tg_tcp_close(struct tg *g, struct tg_tcp *t, uint8_t closer, bool rst);
/* Writes the content bytes [off, off+len) of the current transfer into p (zeros there). */
void tg_tcp_fill(struct tg_tcp *t, uint8_t *p, uint32_t off, uint32_t len);

enum tg_xfer {
    TG_XFER_ZERO,
    TG_XFER_HTTP_REQ,
    TG_XFER_HTTP_POST,
    TG_XFER_HTTP_PARTIAL, /* slowloris: headers that never end */
    TG_XFER_HTTP_HDRLINE, /* slowloris: one more header line */
    TG_XFER_HTTP_RESP,
    TG_XFER_TLS,
    TG_XFER_TLS_HS,
    TG_XFER_DNS_Q,
    TG_XFER_DNS_R,
    TG_XFER_APP, /* a site application's message (tg_site_tcp_content) */
};

enum tg_tcp_state {
    TG_TS_SYN,
    TG_TS_SYNACK,
    TG_TS_HS_ACK,
    TG_TS_DATA,
    TG_TS_ACK,
    TG_TS_NEXT, /* ask the app what follows */
    TG_TS_KA_PROBE,
    TG_TS_KA_ACK,
    TG_TS_FIN1,
    TG_TS_FIN2,
    TG_TS_FIN3,
    TG_TS_LAST_ACK,
    TG_TS_RST,
    TG_TS_REFUSED,
};

/* tg_benign.c: servers first (attacks pick victims among them), then the clients. */
void tg_servers_setup(struct tg *g);
/* Draws every client and spawns its actor; -ENOMEM when the pool is too small. */
int tg_clients_setup(struct tg *g);
uint64_t tg_client_step(struct tg *g, struct tg_actor *a);
uint64_t tg_udp_step(struct tg *g, struct tg_actor *a);
uint64_t tg_ping_step(struct tg *g, struct tg_actor *a);
/* The stack-dependent fields of TCP connection t (t->v6 set) between a client with stack cs and
 * server s: TTLs, SYN options, window scales and SYN windows, advertised and negotiated MSS,
 * timestamps, the server's IP ID mode (the client's is the caller's); then per direction a window
 * from a receive buffer log-uniform in [64 KiB, buf_hi] over its scale, an ISN, a timestamp base
 * and an IP ID base, drawn from r in that order. */
void tg_tcp_stacks(struct tg_rng *r, struct tg_tcp *t, const struct tg_stack *cs,
                   const struct tg_server *s, double buf_hi);
uint32_t tg_stack_ephemeral(struct tg_rng *r, const struct tg_stack *st, uint16_t *counter);

/* tg_scenario.c: the manifest label of an instance (a name of the label vocabulary). */
const char *tg_inst_label(const struct tg_inst *in);

/* tg_attack.c: planning */
int tg_attack_plan(struct tg *g);
enum { TG_TOP_PORTS = 75 };
extern const uint16_t tg_top_ports[TG_TOP_PORTS]; /* nmap's most common TCP ports */

/* tg_flood.c: the flood actor; tg_attack_start() spawns every instance's actors */
int tg_attack_start(struct tg *g);
uint64_t tg_flood_step(struct tg *g, struct tg_actor *a);

/* Planning helpers (tg_attack.c) and sending helpers (tg_flood.c) shared by the attack files. */
void tg_plan_timing(struct tg *g, struct tg_inst *in, double lo, double hi);
/* Spoofed (probability spoof_p: 256-4094 addresses, a->spoofed) or 1..few_hi real sources. */
void tg_plan_sources(struct tg *g, struct tg_attack *a, double spoof_p, uint32_t few_hi);
void tg_plan_header(struct tg *g, struct tg_attack *a);
/* Victims among servers of role (-1: any), or carpet bombing of a /24 with probability. */
void tg_plan_victims(struct tg *g, struct tg_attack *a, int role, double carpet_p);
uint8_t tg_src_ttl(struct tg *g, const struct tg_attack *a, uint32_t idx);
uint16_t tg_ipid(struct tg *g, struct tg_inst *in);
/* The victim address for pick (carpet bombing: a host of the /24) and its server (NULL for a
 * carpet host); clears *v6 when the server has no IPv6 address. Records the victim as seen. */
const struct tg_server *tg_victim(struct tg *g, struct tg_inst *in, bool *v6, uint8_t out[16],
                                  uint32_t pick);
/* Records source idx (family v6) of the instance as having sent. */
static inline void tg_truth_src(struct tg_inst *in, uint32_t idx, bool v6)
{
    if (idx < 16)
        in->src_seen[v6] |= (uint16_t)(1u << idx);
}

struct tg_flood_pkt {
    uint8_t src[16];
    uint8_t dst[16];
    const struct tg_server *srv;
    uint32_t src_idx;
    bool v6;
};
/* Picks the source (by the instance's source mode), the family and the victim of a packet. */
void tg_flood_addr(struct tg *g, struct tg_inst *in, struct tg_floodact *f, struct tg_flood_pkt *p);
/* The network header of a flood packet p: its addresses and family, the attack's TOS, inbound, frag
 * 0, and drawn in this order (the order every capture was made with): a random IPv6 flow label,
 * the instance's IP ID if ipid (else 0), the source's TTL (tg_src_ttl). */
void tg_flood_l3(struct tg *g, struct tg_inst *in, const struct tg_flood_pkt *p, uint8_t label,
                 bool ipid, struct tg_l3 *l3);

static inline uint32_t tg_hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* tg_icmp_frag.c */
void tg_plan_icmp_error(struct tg *g, struct tg_inst *in);
void tg_plan_fragment(struct tg *g, struct tg_inst *in);
/* Packets per unit of rate (fragments per datagram), for the budget. */
double tg_fragment_per_datagram(const struct tg_attack *a);
void tg_send_icmp_error(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label);
void tg_send_fragment(struct tg *g, struct tg_inst *in, struct tg_floodact *f, uint8_t label);

/* tg_bots.c */
void tg_plan_http(struct tg *g, struct tg_inst *in);
void tg_plan_slow(struct tg *g, struct tg_inst *in);
/* Fits an http_flood to the packet budget (f = budget / expected packets < 1). */
void tg_http_budget(struct tg *g, struct tg_inst *in, double f, double per, double dur_s);
uint64_t tg_bot_step(struct tg *g, struct tg_actor *a);

/* tg_provenance.c: the instance's drawn parameters (in->params) and its per-IP truth. */
void tg_plan_json(struct tg *g, struct tg_inst *in);
/* {"label", "scenario", "victims", "attackers" | "sources", "onset", ...}; caller owns it. */
json_t *tg_truth_json(const struct tg *g, const struct tg_inst *in);

/* A site application (tg_benign_apps.c): what runs on one protected host. */
struct tg_site {
    struct tg_server srv; /* the protected host it runs on */
    uint64_t start_ns, end_ns;
    double rate; /* streams or sessions started per second */
    double share;
    uint32_t pool; /* peers or clients it draws from */
    uint32_t pool_seed;
    uint32_t a, b, c; /* kind-specific */
    uint16_t port;
    uint8_t kind;
};

/* A peer of a site application: its address, TTL and RTT. */
struct tg_peer {
    uint8_t ip[16];
    uint32_t rtt_ns;
    uint8_t ttl;
    bool v6;
};

/* tg_streams.c: peers and streams. Peer k of a pool is always the same address and path. */
void tg_peer_get(uint32_t seed, uint32_t k, bool v6, struct tg_peer *p);
/* A peer drawn from the site's pool, Zipf-skewed by skew (1: uniform). */
void tg_peer_pick(struct tg *g, const struct tg_site *s, double skew, bool v6, struct tg_peer *p);
/* A client of the population as a peer; false when there are no clients. */
bool tg_peer_client(struct tg *g, bool v6, struct tg_peer *p);
/* A new stream of kind between peer (side 0 when peer_first) and the site's host, scheduled at
 * `at` but sending nothing until the caller sets next_ns; NULL when the pool is full. */
struct tg_stream *tg_stream_new(struct tg *g, const struct tg_site *site, uint8_t kind,
                                const struct tg_peer *peer, bool peer_first, uint64_t at);

/* tg_benign_apps.c: site applications drawn per seed (P2P hosts, calls, file servers, IoT,
 * multicast, LAN chatter, VPNs, games, busy resolvers and time servers). plan() draws them
 * before the actor pool is sized (pool_need() says how many slots they may hold at once);
 * start() spawns their actors. */
int tg_sites_plan(struct tg *g);
uint32_t tg_sites_pool_need(const struct tg *g);
int tg_sites_start(struct tg *g);
uint64_t tg_site_step(struct tg *g, struct tg_actor *a);
uint64_t tg_stream_step(struct tg *g, struct tg_actor *a);
/* TCP scripts and content of the TCP apps above (tg_app_next and tg_tcp_fill delegate). */
uint64_t tg_site_tcp_next(struct tg *g, struct tg_actor *a);
uint32_t tg_site_tcp_content(const struct tg_tcp *t, uint8_t *buf, uint32_t cap);
extern const char *const tg_skind_names[TG_SK_COUNT];

/* tg_fragile.c: ports whose Wireshark dissector reports zero payloads up to some length as
 * malformed; floods step over them (see the file's comment). */
bool tg_port_fragile(uint8_t proto, uint16_t port, uint32_t payload_len);
/* port, or the next port that is not fragile for this payload length. */
uint16_t tg_port_sturdy(uint8_t proto, uint16_t port, uint32_t payload_len);
/* port, or the next one that is fragile for no payload of either protocol (ephemeral ports). */
uint16_t tg_port_clean(uint16_t port);

/* tg_manifest.c */
DD_NODISCARD int tg_manifest_write(struct tg *g);

extern const char *const tg_app_names[TG_APP_COUNT];
extern const char *const tg_amp_names[TG_AMP_COUNT];

#endif
