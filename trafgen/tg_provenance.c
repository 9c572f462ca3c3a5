/* tg_provenance.c - what an attack instance drew, and who is who in it, as JSON.
 *
 * Owns two JSON objects per attack instance: its drawn parameters (tg_plan_json, kept in
 * in->params for the manifest's "generator" provenance) and its per-IP truth (tg_truth_json:
 * label, victims, real attackers or the kind of innocent sources, onset), which tg_manifest.c
 * puts in the capture entry. Called at planning time and once after the capture is written.
 *
 * DESIGN
 * Per-IP truth lists only addresses that really sent or received: the flood source, the bots
 * and the victim picker record the first 16 source numbers and every victim per address
 * family as they are used (in->src_seen, in->victim_seen), so a victim whose IPv6 address was
 * never hit is not listed as one. Sources are real attackers when they are few (<= 16) and not
 * spoofed; many spoofed sources, reflectors (innocent servers answering spoofed requests) and
 * large botnets are described by kind instead of by address. */
#include <arpa/inet.h>

#include "trafgen/tg_internal.h"

static const char *const tg_timing_names[TG_TIMING_COUNT] = {"cbr", "poisson", "on_off", "ramp",
                                                             "pulse"};
static const char *const tg_srcmode_names[] = {"random", "round_robin", "sticky", "zipf"};
static const char *const tg_portmode_names[] = {"fixed", "random", "increment", "set"};
static const char *const tg_ttlmode_names[] = {"per_source", "random", "fixed"};
static const char *const tg_ipid_names[] = {"random", "increment", "zero", "fixed"};
static const char *const tg_synopt_names[TG_SYNOPT_COUNT] = {"none", "mss", "linux", "windows",
                                                             "macos"};
static const char *const tg_scan_names[TG_SCAN_COUNT] = {"syn", "connect", "udp", "fin_xmas_null"};
static const char *const tg_slow_names[] = {"slowloris", "slow_post", "slow_read", "mixed"};
static const char *const tg_errmix_names[TG_ERR_COUNT] = {"port_unreachable", "unreachable",
                                                          "time_exceeded", "too_big", "mixed"};
static const char *const tg_burst_names[TG_BURST_COUNT] = {"sustained", "single", "repeated"};
static const char *const tg_fragkind_names[TG_FRAG_COUNT] = {"random_offsets", "first_only",
                                                             "oversized"};
static const char *const tg_url_names[TG_URL_COUNT] = {"few", "random"};
static const char *const tg_connmode_names[TG_CONN_COUNT] = {"keepalive", "one_per_connection",
                                                             "mixed"};

static void tg_json_num(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(round(v * 1000.0) / 1000.0));
}

static void tg_json_int(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void tg_json_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v));
}

static void tg_flags_name(char *buf, size_t n, uint8_t f)
{
    static const char *const names[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8; i++)
        if (f & (1u << i))
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "|" : "", names[i]);
    if (len == 0)
        snprintf(buf, n, "NULL");
}

/* Puts the instance's drawn parameters in its JSON object. */
void tg_plan_json(struct tg *g, struct tg_inst *in)
{
    const struct tg_attack *a = &in->a;
    json_t *o = json_object();
    char buf[64];
    in->params = o;
    uint8_t sc = in->scenario;
    bool flood = sc != TG_SC_HTTP_FLOOD && sc != TG_SC_SLOW_HTTP;
    if (flood) {
        tg_json_num(o, "rate_pps", a->rate_pps);
        if (a->drawn_rate != a->rate_pps)
            tg_json_num(o, "rate_pps_drawn", a->drawn_rate);
        tg_json_str(o, "timing", tg_timing_names[a->timing]);
        if (a->timing == TG_TIMING_ONOFF || a->timing == TG_TIMING_PULSE) {
            tg_json_num(o, "on_s", (double)a->on_ns / 1e9);
            tg_json_num(o, "off_s", (double)a->off_ns / 1e9);
        }
        if (a->timing == TG_TIMING_RAMP)
            tg_json_num(o, "ramp_s", (double)a->ramp_ns / 1e9);
        if (a->timing == TG_TIMING_CBR)
            tg_json_num(o, "jitter", a->jitter);
    }
    tg_json_int(o, "sources", a->nsrc);
    if (flood && sc != TG_SC_PORTSCAN)
        tg_json_str(o, "source_pick", tg_srcmode_names[a->srcmode]);
    if (a->carpet) {
        snprintf(buf, sizeof buf, "%u.%u.%u.0/24", a->carpet_net[0], a->carpet_net[1],
                 a->carpet_net[2]);
        tg_json_str(o, "carpet_bombing", buf);
    } else {
        json_t *v = json_array();
        for (uint32_t i = 0; i < a->nvictims; i++) {
            const uint8_t *ip = g->servers[a->victim[i]].ip4;
            snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
            json_array_append_new(v, json_string(buf));
        }
        json_object_set_new(o, "victims", v);
    }
    if (a->v6_share > 0)
        tg_json_num(o, "ipv6_share", a->v6_share);
    bool icmpish =
        sc == TG_SC_ICMP_FLOOD || sc == TG_SC_ICMP_ERROR_FLOOD || sc == TG_SC_FRAGMENT_FLOOD;
    if (sc == TG_SC_SYN_FLOOD || sc == TG_SC_TCP_FLOOD || sc == TG_SC_UDP_FLOOD || icmpish) {
        json_object_set_new(o, "spoofed", json_boolean(a->spoofed));
        tg_json_str(o, "ttl", tg_ttlmode_names[a->ttlmode]);
        tg_json_int(o, "ttl_lo", a->ttl_lo);
        tg_json_int(o, "ttl_hi", a->ttl_hi);
        tg_json_str(o, "ip_id", tg_ipid_names[a->ipidmode]);
        if (!icmpish) {
            tg_json_str(o, "sport", tg_portmode_names[a->sportmode]);
            tg_json_str(o, "dport", tg_portmode_names[a->dportmode]);
            if (a->dportmode == TG_PORT_FIXED || a->dportmode == TG_PORT_INCREMENT)
                tg_json_int(o, "dport_value", a->dport);
        }
        tg_json_int(o, "payload_lo", a->psize_lo);
        tg_json_int(o, "payload_hi", a->psize_hi);
    }
    switch (sc) {
    case TG_SC_SYN_FLOOD:
        if (a->plain)
            tg_json_str(o, "variant", "plain_single_source");
        tg_json_str(o, "tcp_options", a->opt_mixed ? "mixed" : tg_synopt_names[a->synopt]);
        json_object_set_new(o, "ecn", json_boolean(a->ecn));
        tg_json_int(o, "window", a->win);
        break;
    case TG_SC_TCP_FLOOD: {
        json_t *v = json_array();
        if (a->random_flags)
            json_array_append_new(v, json_string("random"));
        else
            for (uint32_t i = 0; i < a->n_tcp_flags; i++) {
                tg_flags_name(buf, sizeof buf, a->tcp_flags[i]);
                json_array_append_new(v, json_string(buf));
            }
        json_object_set_new(o, "flags", v);
        break;
    }
    case TG_SC_ICMP_FLOOD:
        tg_json_num(o, "other_types_share", a->other_share);
        break;
    case TG_SC_UDP_AMPLIFICATION: {
        json_t *v = json_array();
        for (uint32_t i = 0; i < a->n_amp; i++)
            json_array_append_new(v, json_string(tg_amp_names[a->amp[i]]));
        json_object_set_new(o, "vectors", v);
        tg_json_str(o, "dport", tg_portmode_names[a->dportmode]);
        tg_json_num(o, "reflector_skew", a->zipf_skew);
        break;
    }
    case TG_SC_TCP_REFLECTION: {
        json_t *v = json_array();
        for (uint32_t i = 0; i < a->n_refl_ports; i++)
            json_array_append_new(v, json_integer(a->refl_ports[i]));
        json_object_set_new(o, "reflector_ports", v);
        tg_json_num(o, "rst_share", a->rst_share);
        tg_json_num(o, "reflector_skew", a->zipf_skew);
        break;
    }
    case TG_SC_HTTP_FLOOD:
        tg_json_num(o, "requests_per_s", a->rate_pps);
        if (a->drawn_rate != a->rate_pps)
            tg_json_num(o, "requests_per_s_drawn", a->drawn_rate);
        if (a->bots_drawn != a->bots)
            tg_json_int(o, "sources_drawn", a->bots_drawn);
        tg_json_num(o, "requests_per_s_per_bot", a->req_rate);
        if (a->req_rate_drawn != a->req_rate)
            tg_json_num(o, "requests_per_s_per_bot_drawn", a->req_rate_drawn);
        tg_json_num(o, "conns_per_s_per_bot", a->conn_rate);
        tg_json_str(o, "connections", tg_connmode_names[a->conn_mode]);
        tg_json_str(o, "urls", tg_url_names[a->url_style]);
        tg_json_num(o, "keepalive_share", a->keepalive_share);
        tg_json_int(o, "requests_per_conn_max", a->req_per_conn_hi);
        tg_json_int(o, "think_max_ms", a->think_hi_ms);
        tg_json_num(o, "post_share", a->post_share);
        json_object_set_new(o, "tls", json_boolean(a->tls));
        tg_json_int(o, "response_lo", a->resp_lo);
        tg_json_int(o, "response_hi", a->resp_hi);
        tg_json_int(o, "server_think_ms", a->proc_ms);
        break;
    case TG_SC_SLOW_HTTP:
        tg_json_str(o, "kind", tg_slow_names[a->slow_kind]);
        tg_json_int(o, "connections_target", a->conns_target);
        tg_json_num(o, "conns_per_s_per_host", a->conn_rate);
        tg_json_int(o, "interval_lo_ms", a->slow_interval_lo_ms);
        tg_json_int(o, "interval_hi_ms", a->slow_interval_hi_ms);
        tg_json_int(o, "server_timeout_s", a->server_timeout_s);
        tg_json_int(o, "read_window_lo", a->slow_win_lo);
        tg_json_int(o, "read_window_hi", a->slow_win_hi);
        json_object_set_new(o, "tls", json_boolean(a->tls));
        break;
    case TG_SC_ICMP_ERROR_FLOOD:
        tg_json_str(o, "errors", tg_errmix_names[a->err_mix]);
        tg_json_str(o, "bursts", tg_burst_names[a->burst_mode]);
        tg_json_int(o, "quote_extra_max", a->quote_extra_hi);
        break;
    case TG_SC_FRAGMENT_FLOOD:
        tg_json_str(o, "fragments", tg_fragkind_names[a->frag_kind]);
        tg_json_str(o, "carried", a->frag_proto == TG_PROTO_UDP ? "udp" : "icmp");
        if (a->frag_kind != TG_FRAG_RANDOM) {
            tg_json_int(o, "datagram_lo", a->dgram_lo);
            tg_json_int(o, "datagram_hi", a->dgram_hi);
        }
        break;
    case TG_SC_PORTSCAN:
        tg_json_str(o, "kind", tg_scan_names[a->scan_kind]);
        if (a->scan_kind == TG_SCAN_FIN) {
            tg_flags_name(buf, sizeof buf, a->tcp_flags[0]);
            tg_json_str(o, "flags", buf);
        }
        tg_json_str(o, "ports", a->top_ports ? "top" : "range");
        tg_json_int(o, "port_lo", a->top_ports ? 0 : a->port_lo);
        tg_json_int(o, "port_hi", a->top_ports ? 0 : a->port_hi);
        tg_json_int(o, "port_count", a->port_count);
        json_object_set_new(o, "random_order", json_boolean(a->perm_a != 1));
        break;
    default:
        break;
    }
    if (a->answer_share > 0) {
        tg_json_num(o, "victim_answer_share", a->answer_share);
        tg_json_int(o, "victim_answer_delay_us", a->reply_delay_us);
        if (a->answer_limit_pps)
            tg_json_int(o, "victim_answer_limit_pps", a->answer_limit_pps);
    }
}

static void tg_addr_str(char *buf, size_t n, const uint8_t *a, bool v6)
{
    if (v6)
        inet_ntop(AF_INET6, a, buf, (socklen_t)n);
    else
        snprintf(buf, n, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

json_t *tg_truth_json(const struct tg *g, const struct tg_inst *in)
{
    const struct tg_attack *a = &in->a;
    json_t *o = json_object();
    char buf[80];
    uint8_t ip[16];
    tg_json_str(o, "label", tg_inst_label(in));
    tg_json_str(o, "scenario", trafgen_scenario_name(in->scenario));
    json_object_set_new(o, "onset", json_real(round((double)in->start_ns / 1e3) / 1e6));
    json_object_set_new(o, "end", json_real(round((double)in->end_ns / 1e3) / 1e6));
    json_t *v = json_array();
    for (int fam = 0; fam < 2; fam++)
        for (uint32_t k = 0; k < a->nvictims && !a->carpet; k++)
            if (in->victim_seen[fam] & (1u << k)) {
                const struct tg_server *s = &g->servers[a->victim[k]];
                tg_addr_str(buf, sizeof buf, fam ? s->ip6 : s->ip4, fam != 0);
                json_array_append_new(v, json_string(buf));
            }
    json_object_set_new(o, "victims", v);
    if (a->carpet) {
        snprintf(buf, sizeof buf, "%u.%u.%u.0/24", a->carpet_net[0], a->carpet_net[1],
                 a->carpet_net[2]);
        tg_json_str(o, "victim_net", buf);
    }
    if (in->scenario == TG_SC_UDP_AMPLIFICATION || in->scenario == TG_SC_TCP_REFLECTION) {
        tg_json_str(o, "sources", "reflectors");
    } else if (a->spoofed) {
        tg_json_str(o, "sources", "spoofed");
    } else if (a->nsrc <= 16) {
        json_t *at = json_array();
        for (int fam = 0; fam < 2; fam++)
            for (uint32_t k = 0; k < a->nsrc; k++)
                if (in->src_seen[fam] & (1u << k)) {
                    if (fam)
                        tg_inst_addr6(in, k, ip);
                    else
                        tg_inst_addr4(in, k, ip);
                    tg_addr_str(buf, sizeof buf, ip, fam != 0);
                    json_array_append_new(at, json_string(buf));
                }
        json_object_set_new(o, "attackers", at);
    } else { /* a botnet or many real sources: named by block, not one by one */
        tg_json_str(o, "sources", "bots");
        tg_json_int(o, "attacker_count", a->nsrc);
        json_t *c = json_array();
        snprintf(buf, sizeof buf, "%u.%u.%u.%u/%u", in->v4net[0], in->v4net[1], in->v4net[2],
                 in->v4net[3], in->v4prefix);
        json_array_append_new(c, json_string(buf));
        if (in->v6prefix) {
            char a6[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, in->v6net, a6, sizeof a6);
            snprintf(buf, sizeof buf, "%s/%u", a6, in->v6prefix);
            json_array_append_new(c, json_string(buf));
        }
        json_object_set_new(o, "attacker_cidrs", c);
    }
    if (in->scenario == TG_SC_PORTSCAN)
        tg_json_str(o, "per_ip", "skip: port scan, not a DDoS");
    return o;
}
