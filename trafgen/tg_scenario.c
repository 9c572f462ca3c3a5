/* tg_scenario.c - the scenario table: names, descriptions, labels and --scenario parsing.
 *
 * Owns the stable scenario names the CLI and the manifest use, the one-line descriptions of
 * --list, and the mapping from an attack instance to the manifest label it carries (a scenario
 * name outside the model's vocabulary is labelled by the family it belongs to). Pure functions,
 * no state.
 *
 * DESIGN
 * Scenario names and labels are separate on purpose: a scenario is a way of generating traffic
 * (icmp_error_flood, fragment_flood), a label is what a detector should call it (icmp_flood,
 * udp_flood). The label vocabulary is fixed: benign, syn_flood, tcp_flood, udp_flood,
 * icmp_flood, udp_amplification, tcp_reflection, http_flood, slow_http, portscan. */
#include <errno.h>

#include "trafgen/tg_internal.h"

static const char *const tg_sc_names[TG_SC_COUNT] = {
    "benign",     "syn_flood",         "tcp_flood",        "udp_flood",
    "icmp_flood", "udp_amplification", "tcp_reflection",   "http_flood",
    "slow_http",  "portscan",          "icmp_error_flood", "fragment_flood",
};

static const char *const tg_sc_desc[TG_SC_COUNT] = {
    "background only: web/TLS, bulk, video, VoIP, DNS, NTP, QUIC, SSH, ping; per seed: P2P, "
    "calls, SMB/NFS, IoT polling, multicast, LAN chatter, VPNs, games, busy DNS/NTP servers",
    "spoofed many-source, few-source or plain single-source SYNs, optional TCP options/ECN; "
    "victim SYN-ACK/RST",
    "ACK/RST/FIN/PSH-ACK/XMAS/NULL/other flag floods, spoofed or not",
    "UDP to random or fixed ports, 0-1400 B payloads, spoofed or not",
    "ICMP/ICMPv6 echo floods 8-1400 B, sometimes other ICMP types",
    "reflector answers (DNS, NTP, SSDP, memcached, CLDAP, SNMP, chargen, ...) to the victim",
    "SYN-ACK (and RST) floods from many TCP reflectors to the victim",
    "10-3000 non-spoofed bots, 1-100 requests/s each: GET (random URLs) or POST floods, "
    "keep-alive or one request per connection, HTTP or HTTPS",
    "slowloris, slow POST and slow read: 50-2000 connections held open to one server",
    "SYN, connect, UDP and FIN/XMAS/NULL scans of one or a few hosts",
    "BlackNurse-like ICMP/ICMPv6 error floods (unreachable, time exceeded, too big); label "
    "icmp_flood",
    "IPv4 (MF/random offsets, first fragments only, oversized datagrams) and IPv6 "
    "fragment-header floods; label udp_flood or icmp_flood by the protocol carried",
};

const char *trafgen_scenario_name(enum trafgen_scenario sc)
{
    return (unsigned)sc < TG_SC_COUNT ? tg_sc_names[sc] : "?";
}

const char *trafgen_scenario_describe(enum trafgen_scenario sc)
{
    return (unsigned)sc < TG_SC_COUNT ? tg_sc_desc[sc] : "?";
}

int trafgen_scenarios_parse(const char *list, struct trafgen_config *cfg, char *err,
                            uint32_t err_len)
{
    cfg->n_instances = 0;
    cfg->mix = false;
    if (strcmp(list, "mix") == 0) {
        cfg->mix = true;
        return 0;
    }
    if (strcmp(list, "all-attacks") == 0) {
        for (int s = TG_SC_SYN_FLOOD; s < TG_SC_COUNT; s++)
            cfg->instances[cfg->n_instances++] = (uint8_t)s;
        return 0;
    }
    const char *p = list;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int s = 0; s < TG_SC_COUNT; s++)
            if (strlen(tg_sc_names[s]) == n && strncmp(p, tg_sc_names[s], n) == 0)
                found = s;
        if (found < 0) {
            snprintf(err, err_len, "unknown scenario '%.*s' (see --list)", (int)n, p);
            return -EINVAL;
        }
        if (found != TG_SC_BENIGN) {
            if (cfg->n_instances >= TRAFGEN_MAX_INSTANCES) {
                snprintf(err, err_len, "at most %d attack instances", TRAFGEN_MAX_INSTANCES);
                return -EINVAL;
            }
            cfg->instances[cfg->n_instances++] = (uint8_t)found;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

const char *tg_inst_label(const struct tg_inst *in)
{
    switch (in->scenario) {
    case TG_SC_ICMP_ERROR_FLOOD:
        return "icmp_flood";
    case TG_SC_FRAGMENT_FLOOD:
        return in->a.frag_proto == TG_PROTO_UDP ? "udp_flood" : "icmp_flood";
    default:
        return trafgen_scenario_name(in->scenario);
    }
}
