/* tg_manifest.c - the ground-truth manifest of a generated capture.
 *
 * Owns the JSON written next to the pcap: the "captures" entry app/manifest.c reads (one
 * capture, label "benign", one rule per attack address block) and the "generator" object that
 * records provenance: seed, arguments, the addressing plan, every parameter each attack
 * instance drew, and packet/byte counts per label. Called once, after the capture is closed.
 *
 * DESIGN
 * Labels come from addresses only: benign traffic never uses an attack block, and every packet
 * of an attack instance - its own, the victim's answers, a scanner's follow-ups - has the
 * instance's block on one side, so a CIDR rule (which matches either endpoint) labels all its
 * flows and nothing else. The manifest is deterministic like the capture: no wall-clock values. */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>

#include "trafgen/tg_internal.h"

/* The pcap's path relative to the manifest's directory (both resolved), or a copy of the pcap
 * path as given when either cannot be resolved. Caller frees. */
static char *tg_relpath(const char *pcap, const char *manifest)
{
    char *rp = realpath(pcap, NULL);
    char *mcopy = strdup(manifest);
    char *rm = mcopy ? realpath(dirname(mcopy), NULL) : NULL;
    char *out = NULL;
    if (rp == NULL || rm == NULL) {
        out = strdup(pcap);
        goto done;
    }
    size_t i = 0, last = 0;
    while (rp[i] != '\0' && rm[i] != '\0' && rp[i] == rm[i]) {
        if (rp[i] == '/')
            last = i;
        i++;
    }
    if (rm[i] == '\0' && rp[i] == '/')
        last = i;
    uint32_t up = 0;
    for (const char *q = rm + last; *q != '\0'; q++)
        if (*q == '/' && q[1] != '\0' && q[1] != '/')
            up++;
    out = malloc(3 * up + strlen(rp + last) + 1);
    if (out != NULL) {
        out[0] = '\0';
        for (uint32_t k = 0; k < up; k++)
            strcat(out, "../");
        strcat(out, rp + last + 1);
    }
done:
    free(rp);
    free(rm);
    free(mcopy);
    return out;
}

static void tg_cidr4(char *buf, size_t n, const uint8_t *net, uint8_t prefix)
{
    snprintf(buf, n, "%u.%u.%u.%u/%u", net[0], net[1], net[2], net[3], prefix);
}

static void tg_cidr6(char *buf, size_t n, const uint8_t *net, uint8_t prefix)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, net, a, sizeof a);
    snprintf(buf, n, "%s/%u", a, prefix);
}

static const char *tg_label(const struct tg *g, uint32_t label)
{
    return label == 0 ? "benign" : tg_inst_label(&g->inst[label - 1]);
}

static json_t *tg_generator_json(struct tg *g)
{
    const struct trafgen_config *cfg = g->cfg;
    json_t *gen = json_object();
    json_object_set_new(gen, "name", json_string("ddos-trafgen"));
    json_object_set_new(gen, "version", json_string(DDOSD_VERSION));
    json_object_set_new(gen, "seed", json_integer((json_int_t)cfg->seed));
    json_t *args = json_array();
    for (int i = 0; i < cfg->argc; i++)
        json_array_append_new(args, json_string(cfg->argv[i]));
    json_object_set_new(gen, "args", args);
    json_object_set_new(gen, "duration_s", json_real(cfg->duration_s));
    json_object_set_new(gen, "start_epoch_s", json_integer((json_int_t)cfg->start_epoch_s));
    json_object_set_new(gen, "benign_clients", json_integer(cfg->benign_clients));
    json_object_set_new(gen, "one_way", json_boolean(cfg->one_way));
    json_object_set_new(gen, "max_attack_packets",
                        json_integer((json_int_t)cfg->max_attack_packets));
    json_object_set_new(gen, "link", json_string("classic pcap, DLT_EN10MB, microseconds"));
    json_object_set_new(gen, "snaplen", json_integer(g->snaplen));

    json_t *plan = json_object();
    json_object_set_new(plan, "protected", json_pack("[ss]", "10.20.0.0/16", "fd00:20::/32"));
    json_object_set_new(plan, "benign_clients",
                        json_pack("[ss]", "100.64.0.0/12", "2001:db8:100::/48"));
    json_object_set_new(plan, "attackers", json_string("198.18.0.0/16, a /20 per instance"));
    json_object_set_new(plan, "reflectors", json_string("198.19.0.0/16, a /20 per instance"));
    json_object_set_new(plan, "scanners", json_string("198.51.100.0/24, a /28 per instance"));
    json_object_set_new(plan, "attackers_ipv6",
                        json_string("2001:db8:f0XX::/48, XX = instance number"));
    json_object_set_new(gen, "addressing", plan);

    json_object_set_new(gen, "packets", json_integer((json_int_t)g->packets));
    json_object_set_new(gen, "wire_bytes", json_integer((json_int_t)g->wire_bytes));
    json_object_set_new(gen, "outbound_suppressed", json_integer((json_int_t)g->suppressed));
    json_t *ppl = json_object(), *bpl = json_object();
    for (uint32_t l = 0; l <= g->ninst; l++) {
        const char *name = tg_label(g, l);
        json_t *p = json_object_get(ppl, name);
        uint64_t have = p ? (uint64_t)json_integer_value(p) : 0;
        json_t *b = json_object_get(bpl, name);
        uint64_t haveb = b ? (uint64_t)json_integer_value(b) : 0;
        json_object_set_new(ppl, name, json_integer((json_int_t)(have + g->label_packets[l])));
        json_object_set_new(bpl, name, json_integer((json_int_t)(haveb + g->label_bytes[l])));
    }
    json_object_set_new(gen, "packets_per_label", ppl);
    json_object_set_new(gen, "bytes_per_label", bpl);

    json_t *benign = json_object();
    uint32_t v6 = 0;
    for (uint32_t i = 0; i < g->nclients; i++)
        v6 += g->clients[i].has_v6;
    json_object_set_new(benign, "clients", json_integer(g->nclients));
    json_object_set_new(benign, "clients_with_ipv6", json_integer(v6));
    json_object_set_new(benign, "servers", json_integer(g->nservers));
    json_t *apps = json_object();
    for (int a = 0; a < TG_APP_COUNT; a++)
        if (g->app_sessions[a] > 0)
            json_object_set_new(apps, tg_app_names[a],
                                json_integer((json_int_t)g->app_sessions[a]));
    json_object_set_new(benign, "sessions_started", apps);
    json_t *streams = json_object();
    for (int k = 0; k < TG_SK_COUNT; k++)
        if (g->stream_count[k] > 0)
            json_object_set_new(streams, tg_skind_names[k],
                                json_integer((json_int_t)g->stream_count[k]));
    json_object_set_new(benign, "streams_started", streams);
    if (g->sites_json != NULL)
        json_object_set_new(benign, "sites", json_incref(g->sites_json));
    json_object_set_new(benign, "sessions_dropped_pool_full",
                        json_integer((json_int_t)g->sessions_dropped));
    json_object_set_new(gen, "benign", benign);

    json_t *insts = json_array();
    char buf[80];
    for (uint32_t i = 0; i < g->ninst; i++) {
        struct tg_inst *in = &g->inst[i];
        json_t *o = json_object();
        json_object_set_new(o, "scenario", json_string(trafgen_scenario_name(in->scenario)));
        json_object_set_new(o, "label", json_string(tg_inst_label(in)));
        json_t *cidr = json_array();
        tg_cidr4(buf, sizeof buf, in->v4net, in->v4prefix);
        json_array_append_new(cidr, json_string(buf));
        if (in->v6prefix) {
            tg_cidr6(buf, sizeof buf, in->v6net, in->v6prefix);
            json_array_append_new(cidr, json_string(buf));
        }
        json_object_set_new(o, "cidr", cidr);
        json_object_set_new(o, "start_s",
                            json_real(round((double)(in->start_ns - g->start_ns) / 1e6) / 1e3));
        json_object_set_new(o, "end_s",
                            json_real(round((double)(in->end_ns - g->start_ns) / 1e6) / 1e3));
        json_object_set_new(o, "params", json_incref(in->params));
        json_object_set_new(o, "packets", json_integer((json_int_t)g->label_packets[i + 1]));
        json_object_set_new(o, "wire_bytes", json_integer((json_int_t)g->label_bytes[i + 1]));
        if (in->replies_dropped)
            json_object_set_new(o, "victim_answers_dropped",
                                json_integer((json_int_t)in->replies_dropped));
        if (in->answers_limited)
            json_object_set_new(o, "victim_answers_rate_limited",
                                json_integer((json_int_t)in->answers_limited));
        if (in->conns_opened)
            json_object_set_new(o, "connections_opened",
                                json_integer((json_int_t)in->conns_opened));
        json_array_append_new(insts, o);
    }
    json_object_set_new(gen, "instances", insts);
    return gen;
}

/* Appends s to array a unless it is there already. */
static void tg_union_add(json_t *a, json_t *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_equal(v, s))
            return;
    }
    json_array_append(a, s);
}

/* The per-IP truth of the capture entry: "attacks" (one object per instance, see
 * tg_truth_json) and the flat union that one-attack readers use: "victims", "attackers",
 * "sources" (when one kind describes every unlisted source) and "per_ip" (skip) when the
 * capture has no victim to judge. Port scans are not DDoS: they stay out of the union. */
static void tg_truth_add(struct tg *g, json_t *cap)
{
    if (g->ninst == 0)
        return;
    json_t *attacks = json_array(), *victims = json_array(), *attackers = json_array();
    bool spoofed = false, reflectors = false, bots = false, carpet = false;
    uint32_t ddos = 0;
    for (uint32_t i = 0; i < g->ninst; i++) {
        json_t *t = tg_truth_json(g, &g->inst[i]);
        json_array_append_new(attacks, t);
        if (g->inst[i].scenario == TG_SC_PORTSCAN)
            continue;
        ddos++;
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(t, "victims"), k, v) tg_union_add(victims, v);
        json_array_foreach(json_object_get(t, "attackers"), k, v) tg_union_add(attackers, v);
        const char *src = json_string_value(json_object_get(t, "sources"));
        spoofed |= src != NULL && strcmp(src, "spoofed") == 0;
        reflectors |= src != NULL && strcmp(src, "reflectors") == 0;
        bots |= src != NULL && strcmp(src, "bots") == 0;
        carpet |= json_object_get(t, "victim_net") != NULL;
    }
    json_object_set_new(cap, "victims", victims);
    json_object_set_new(cap, "attackers", attackers);
    if (!bots && (spoofed || reflectors))
        json_object_set_new(cap, "sources", json_string(spoofed ? "spoofed" : "reflectors"));
    if (ddos == 0)
        json_object_set_new(cap, "per_ip", json_string("skip: port scans only, not a DDoS"));
    else if (json_array_size(victims) == 0 && carpet)
        json_object_set_new(cap, "per_ip",
                            json_string("skip: carpet bombing only, no single victim"));
    json_object_set_new(cap, "attacks", attacks);
}

int tg_manifest_write(struct tg *g)
{
    const struct trafgen_config *cfg = g->cfg;
    char *rel = tg_relpath(cfg->pcap_path, cfg->manifest_path);
    json_t *root = json_object();
    if (rel == NULL || root == NULL) {
        free(rel);
        json_decref(root);
        return -ENOMEM;
    }
    json_object_set_new(
        root, "description",
        json_string("Generated by ddos-trafgen. Paths are relative to this file. Flows are benign "
                    "unless a rule matches: each attack instance is labelled by its own source "
                    "block (ip matches either endpoint); the first matching rule wins."));
    json_t *cap = json_object();
    json_object_set_new(cap, "path", json_string(rel));
    json_object_set_new(cap, "label", json_string("benign"));
    json_t *rules = json_array();
    char buf[80];
    for (uint32_t i = 0; i < g->ninst; i++) {
        const struct tg_inst *in = &g->inst[i];
        const char *label = tg_inst_label(in);
        tg_cidr4(buf, sizeof buf, in->v4net, in->v4prefix);
        json_array_append_new(rules, json_pack("{s:s,s:s}", "ip", buf, "label", label));
        if (in->v6prefix) {
            tg_cidr6(buf, sizeof buf, in->v6net, in->v6prefix);
            json_array_append_new(rules, json_pack("{s:s,s:s}", "ip", buf, "label", label));
        }
    }
    json_object_set_new(cap, "rules", rules);
    tg_truth_add(g, cap);
    json_object_set_new(root, "captures", json_pack("[o]", cap));
    json_object_set_new(root, "generator", tg_generator_json(g));
    free(rel);
    /* 15 digits: epoch onsets to 10 us; values rounded to 3 decimals print as they are */
    int rc = json_dumpf(root, g->mfp, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (rc == 0 && fputc('\n', g->mfp) == EOF)
        rc = -1;
    if (fclose(g->mfp) != 0)
        rc = -1;
    g->mfp = NULL;
    if (rc != 0) {
        fprintf(stderr, "ddos-trafgen: cannot write %s\n", cfg->manifest_path);
        return -EIO;
    }
    return 0;
}
