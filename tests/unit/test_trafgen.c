/* test_trafgen.c - unit tests for trafgen/ (the ddos-trafgen generator library).
 *
 * Each test generates small captures (a few seconds of packet time, few clients, a low packet
 * budget per attack) into a private temporary directory and reads them back with a minimal
 * classic-pcap reader: every frame must decode with capture/decode.c, timestamps must not go
 * backwards, the manifest must be valid JSON whose rules cover every attack packet, its per-IP
 * truth must name addresses that really were attacked (or attacked others), and benign traffic
 * must stay inside the benign address plan. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "capture/decode.h"
#include "trafgen/trafgen.h"

struct file_buf {
    uint8_t *p;
    size_t n;
};

static char tmpdir[200];

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_trafgen.XXXXXX", base ? base : "/tmp");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
    assert_true(strlen(tmpdir) + 1 + strlen(name) < n);
    memcpy(out, tmpdir, strlen(tmpdir));
    out[strlen(tmpdir)] = '/';
    strcpy(out + strlen(tmpdir) + 1, name);
}

static struct file_buf file_read(const char *path)
{
    struct file_buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len >= 0);
    rewind(f);
    b.n = (size_t)len;
    b.p = malloc(b.n ? b.n : 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, b.n, f), b.n);
    fclose(f);
    return b;
}

/* A small, fast configuration writing NAME.pcap / NAME.json into the temporary directory. */
static void config_small(struct trafgen_config *cfg, const char *name, char *pcap, char *json)
{
    char file[64];
    trafgen_config_defaults(cfg);
    snprintf(file, sizeof file, "%s.pcap", name);
    path_in_tmp(pcap, 300, file);
    snprintf(file, sizeof file, "%s.json", name);
    path_in_tmp(json, 300, file);
    cfg->pcap_path = pcap;
    cfg->manifest_path = json;
    cfg->duration_s = 4;
    cfg->benign_clients = 40;
    cfg->max_attack_packets = 20000;
    cfg->mix = false;
}

static void run_ok(const struct trafgen_config *cfg)
{
    struct trafgen_stats st;
    assert_int_equal(trafgen_run(cfg, &st), 0);
    assert_true(st.packets > 0);
}

/* ---- a classic pcap walker ------------------------------------------------------------------ */

struct pcap_walk {
    const uint8_t *p;
    size_t n, off;
};

static void pcap_walk_init(struct pcap_walk *w, const struct file_buf *b)
{
    assert_true(b->n >= 24);
    uint32_t magic, link;
    memcpy(&magic, b->p, 4);
    memcpy(&link, b->p + 20, 4);
    assert_int_equal(magic, 0xa1b2c3d4u); /* microsecond resolution, host order */
    assert_int_equal(link, 1);            /* DLT_EN10MB */
    w->p = b->p;
    w->n = b->n;
    w->off = 24;
}

/* Next record: returns false at the end; the file must not end inside a record. */
static bool pcap_walk_next(struct pcap_walk *w, uint64_t *ts_us, const uint8_t **frame,
                           uint32_t *caplen, uint32_t *len)
{
    if (w->off == w->n)
        return false;
    assert_true(w->off + 16 <= w->n);
    uint32_t h[4];
    memcpy(h, w->p + w->off, 16);
    assert_true(h[1] < 1000000);
    assert_true(w->off + 16 + h[2] <= w->n);
    *ts_us = (uint64_t)h[0] * 1000000 + h[1];
    *frame = w->p + w->off + 16;
    *caplen = h[2];
    *len = h[3];
    w->off += 16 + h[2];
    return true;
}

/* ---- address plan --------------------------------------------------------------------------- */

struct cidr {
    uint8_t net[16];
    uint8_t prefix;
    uint8_t v6;
};

static bool cidr_parse(const char *s, struct cidr *c)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= sizeof buf)
        return false;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    memset(c, 0, sizeof *c);
    c->prefix = (uint8_t)atoi(slash + 1);
    if (strchr(buf, ':') != NULL) {
        c->v6 = 1;
        return inet_pton(AF_INET6, buf, c->net) == 1;
    }
    return inet_pton(AF_INET, buf, c->net) == 1;
}

static bool cidr_has(const struct cidr *c, const uint8_t *addr, uint8_t ip_version)
{
    if ((ip_version == 6) != (c->v6 != 0))
        return false;
    uint32_t bits = c->prefix;
    for (uint32_t i = 0; bits > 0; i++) {
        uint32_t take = bits < 8 ? bits : 8;
        uint8_t mask = (uint8_t)(0xff00u >> take);
        if ((addr[i] & mask) != (c->net[i] & mask))
            return false;
        bits -= take;
    }
    return true;
}

static bool addr_protected(const struct pkt_info *pi, const uint8_t *a)
{
    static const uint8_t v6[4] = {0xfd, 0x00, 0x00, 0x20};
    return pi->ip_version == 4 ? (a[0] == 10 && a[1] == 20) : memcmp(a, v6, 4) == 0;
}

static bool addr_benign_client(const struct pkt_info *pi, const uint8_t *a)
{
    static const uint8_t v6[6] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00};
    return pi->ip_version == 4 ? (a[0] == 100 && (a[1] & 0xf0) == 64) : memcmp(a, v6, 6) == 0;
}

/* Multicast groups and the plan's /24 broadcasts: LAN chatter and multicast streams. */
static bool addr_group(const struct pkt_info *pi, const uint8_t *a)
{
    if (pi->ip_version == 6)
        return a[0] == 0xff;
    return (a[0] & 0xf0) == 0xe0 || (a[0] == 10 && a[1] == 20 && a[3] == 255);
}

struct scan_result {
    uint64_t packets;
    uint64_t per_rule[64];
    uint64_t unlabelled;
    uint64_t from_protected;
    uint64_t to_group; /* benign packets to a multicast group or a broadcast address */
};

/* Walks a capture: every frame decodes, times never go backwards, frames are at least 60 bytes,
 * and each packet either touches a rule's CIDR or is benign (protected <-> benign client). */
static void capture_check(const char *pcap, const struct cidr *rules, uint32_t nrules,
                          struct scan_result *res)
{
    struct file_buf b = file_read(pcap);
    struct pcap_walk w;
    pcap_walk_init(&w, &b);
    memset(res, 0, sizeof *res);
    uint64_t last = 0, ts;
    const uint8_t *frame;
    uint32_t caplen, len;
    while (pcap_walk_next(&w, &ts, &frame, &caplen, &len)) {
        struct pkt_info pi;
        enum decode_status st = decode_packet(DECODE_LINK_ETHERNET, frame, caplen, len, &pi);
        if (st != DECODE_OK)
            fail_msg("packet %llu: %s", (unsigned long long)res->packets + 1,
                     decode_status_name(st));
        assert_int_equal(caplen, len);
        assert_true(len >= 60 && len <= 1514);
        assert_true(ts >= last);
        last = ts;
        res->packets++;
        if (addr_protected(&pi, pi.src))
            res->from_protected++;
        bool matched = false;
        for (uint32_t r = 0; r < nrules && !matched; r++)
            if (cidr_has(&rules[r], pi.src, pi.ip_version) ||
                cidr_has(&rules[r], pi.dst, pi.ip_version)) {
                res->per_rule[r]++;
                matched = true;
            }
        if (!matched) {
            res->unlabelled++;
            bool in = addr_protected(&pi, pi.src) && addr_benign_client(&pi, pi.dst);
            bool out = addr_benign_client(&pi, pi.src) && addr_protected(&pi, pi.dst);
            bool group = (addr_protected(&pi, pi.src) || addr_benign_client(&pi, pi.src)) &&
                         addr_group(&pi, pi.dst);
            if (group)
                res->to_group++;
            if (!in && !out && !group)
                fail_msg("packet %llu: not benign and outside every rule",
                         (unsigned long long)res->packets);
        }
    }
    free(b.p);
}

/* Loads the manifest and its rules (at most 64). Returns the JSON root (caller decrefs). */
static json_t *manifest_rules(const char *json, struct cidr *rules, const char **labels,
                              uint32_t *nrules)
{
    json_error_t err;
    json_t *root = json_load_file(json, 0, &err);
    if (root == NULL)
        fail_msg("manifest: %s at line %d", err.text, err.line);
    json_t *caps = json_object_get(root, "captures");
    assert_true(json_is_array(caps));
    assert_int_equal(json_array_size(caps), 1);
    json_t *cap = json_array_get(caps, 0);
    assert_string_equal(json_string_value(json_object_get(cap, "label")), "benign");
    assert_non_null(json_string_value(json_object_get(cap, "path")));
    json_t *jr = json_object_get(cap, "rules");
    assert_true(json_is_array(jr));
    *nrules = (uint32_t)json_array_size(jr);
    assert_true(*nrules <= 64);
    for (uint32_t i = 0; i < *nrules; i++) {
        json_t *r = json_array_get(jr, i);
        const char *ip = json_string_value(json_object_get(r, "ip"));
        labels[i] = json_string_value(json_object_get(r, "label"));
        assert_non_null(ip);
        assert_non_null(labels[i]);
        assert_true(cidr_parse(ip, &rules[i]));
    }
    return root;
}

/* ---- per-IP truth ---------------------------------------------------------------------------- */

static const char *const vocabulary[] = {
    "benign",         "syn_flood",  "tcp_flood", "udp_flood", "icmp_flood", "udp_amplification",
    "tcp_reflection", "http_flood", "slow_http", "portscan"};

static bool in_vocabulary(const char *label)
{
    for (size_t i = 0; i < sizeof vocabulary / sizeof vocabulary[0]; i++)
        if (label != NULL && strcmp(label, vocabulary[i]) == 0)
            return true;
    return false;
}

/* The label a scenario's instance must carry (fragment_flood: either carried protocol). */
static bool label_fits(enum trafgen_scenario s, const char *label)
{
    if (s == TG_SC_ICMP_ERROR_FLOOD)
        return strcmp(label, "icmp_flood") == 0;
    if (s == TG_SC_FRAGMENT_FLOOD)
        return strcmp(label, "udp_flood") == 0 || strcmp(label, "icmp_flood") == 0;
    return strcmp(label, trafgen_scenario_name(s)) == 0;
}

struct addr {
    uint8_t a[16];
    uint8_t v6;
    uint64_t hits;
};

static uint32_t addrs_parse(json_t *arr, struct addr *out, uint32_t n, uint32_t max)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        assert_non_null(s);
        assert_true(n < max);
        memset(&out[n], 0, sizeof out[n]);
        out[n].v6 = strchr(s, ':') != NULL;
        assert_int_equal(inet_pton(out[n].v6 ? AF_INET6 : AF_INET, s, out[n].a), 1);
        n++;
    }
    return n;
}

static bool addr_eq(const struct addr *x, const uint8_t *a, uint8_t ip_version)
{
    return (x->v6 != 0) == (ip_version == 6) && memcmp(x->a, a, x->v6 ? 16 : 4) == 0;
}

/* A run's capture checked against its manifest: the labelled blocks (rules, labels, n), the
 * manifest (root, to json_decref) and the packet tally of capture_check. */
struct checked_run {
    struct cidr rules[64];
    const char *labels[64];
    uint32_t n;
    json_t *root;
    struct scan_result res;
};

/* Runs cfg, reads the rules of its manifest json and checks every packet of its capture pcap. */
static void run_checked(const struct trafgen_config *cfg, const char *pcap, const char *json,
                        struct checked_run *run)
{
    run_ok(cfg);
    run->root = manifest_rules(json, run->rules, run->labels, &run->n);
    capture_check(pcap, run->rules, run->n, &run->res);
}

/* What the attack packets of a capture held, for the scenario-specific checks. */
struct truth_counts {
    uint64_t attack_packets;
    uint64_t fragments;   /* attack packets that are IP fragments */
    uint64_t icmp_errors; /* attack ICMP/ICMPv6 error messages */
};

/* Checks the per-IP truth of a manifest against its capture: "attacks" has one entry per
 * generator instance with a vocabulary label and an onset inside the capture; every listed
 * victim received packets from an attack block and every listed attacker sent some; each
 * attack says who its sources are (attackers, or spoofed/reflectors/bots); the flat victims
 * and attackers are the union of the per-attack ones (port scans aside). */
static void truth_check(const char *pcap, json_t *root, const struct cidr *rules, uint32_t nrules,
                        struct truth_counts *tc)
{
    json_t *cap = json_array_get(json_object_get(root, "captures"), 0);
    json_t *gen = json_object_get(root, "generator");
    json_t *attacks = json_object_get(cap, "attacks");
    json_t *insts = json_object_get(gen, "instances");
    assert_true(json_is_array(attacks));
    assert_int_equal(json_array_size(attacks), json_array_size(insts));
    double t0 = (double)json_integer_value(json_object_get(gen, "start_epoch_s"));
    double dur = json_real_value(json_object_get(gen, "duration_s"));
    struct addr victims[256], attackers[256];
    uint32_t nv = 0, na = 0;
    size_t i;
    json_t *at;
    json_array_foreach(attacks, i, at)
    {
        json_t *inst = json_array_get(insts, i);
        const char *label = json_string_value(json_object_get(at, "label"));
        assert_true(in_vocabulary(label));
        assert_string_equal(label, json_string_value(json_object_get(inst, "label")));
        double onset = json_real_value(json_object_get(at, "onset"));
        assert_true(onset >= t0 && onset < t0 + dur);
        assert_true(json_real_value(json_object_get(at, "end")) > onset);
        json_t *v = json_object_get(at, "victims");
        assert_true(json_is_array(v));
        if (json_array_size(v) == 0)
            assert_non_null(json_string_value(json_object_get(at, "victim_net")));
        nv = addrs_parse(v, victims, nv, 256);
        json_t *a = json_object_get(at, "attackers");
        const char *src = json_string_value(json_object_get(at, "sources"));
        if (a != NULL) {
            assert_null(src);
            assert_true(json_array_size(a) >= 1 && json_array_size(a) <= 32);
            na = addrs_parse(a, attackers, na, 256);
        } else {
            assert_non_null(src);
            assert_true(strcmp(src, "spoofed") == 0 || strcmp(src, "reflectors") == 0 ||
                        strcmp(src, "bots") == 0);
        }
    }
    assert_true(json_is_array(json_object_get(cap, "victims")));
    assert_true(json_is_array(json_object_get(cap, "attackers")));

    struct file_buf b = file_read(pcap);
    struct pcap_walk w;
    pcap_walk_init(&w, &b);
    memset(tc, 0, sizeof *tc);
    uint64_t ts;
    const uint8_t *frame;
    uint32_t caplen, len;
    while (pcap_walk_next(&w, &ts, &frame, &caplen, &len)) {
        struct pkt_info pi;
        assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, frame, caplen, len, &pi), DECODE_OK);
        bool from_block = false;
        for (uint32_t r = 0; r < nrules; r++)
            from_block |= cidr_has(&rules[r], pi.src, pi.ip_version);
        if (!from_block)
            continue;
        tc->attack_packets++;
        if (pi.flags & PKT_F_FRAGMENT)
            tc->fragments++;
        if ((pi.proto == 1 && (pi.icmp_type == 3 || pi.icmp_type == 11 || pi.icmp_type == 12)) ||
            (pi.proto == 58 && pi.icmp_type >= 1 && pi.icmp_type <= 4))
            tc->icmp_errors++;
        for (uint32_t k = 0; k < nv; k++)
            if (addr_eq(&victims[k], pi.dst, pi.ip_version))
                victims[k].hits++;
        for (uint32_t k = 0; k < na; k++)
            if (addr_eq(&attackers[k], pi.src, pi.ip_version))
                attackers[k].hits++;
    }
    free(b.p);
    for (uint32_t k = 0; k < nv; k++)
        if (victims[k].hits == 0)
            fail_msg("victim %u of the manifest received no attack packet", k);
    for (uint32_t k = 0; k < na; k++)
        if (attackers[k].hits == 0)
            fail_msg("attacker %u of the manifest sent no packet", k);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_trafgen_same_seed_same_bytes(void **state)
{
    (void)state;
    struct trafgen_config a, b;
    char pa[300], ja[300], pb[300], jb[300], pc[300], jc[300];
    config_small(&a, "det_a", pa, ja);
    config_small(&b, "det_b", pb, jb);
    a.mix = b.mix = true;
    a.seed = b.seed = 42;
    run_ok(&a);
    run_ok(&b);
    struct file_buf fa = file_read(pa), fb = file_read(pb);
    assert_int_equal(fa.n, fb.n);
    assert_memory_equal(fa.p, fb.p, fa.n);
    free(fb.p);
    /* the manifests differ only in the capture path they name */
    struct file_buf ma = file_read(ja), mb = file_read(jb);
    assert_int_equal(ma.n, mb.n);
    free(ma.p);
    free(mb.p);

    struct trafgen_config c;
    config_small(&c, "det_c", pc, jc);
    c.mix = true;
    c.seed = 43;
    run_ok(&c);
    struct file_buf fc = file_read(pc);
    assert_true(fc.n != fa.n || memcmp(fa.p, fc.p, fa.n) != 0);
    free(fa.p);
    free(fc.p);
}

static void test_trafgen_all_attacks_decode_and_label(void **state)
{
    (void)state;
    struct trafgen_config cfg;
    char pcap[300], json[300];
    config_small(&cfg, "all", pcap, json);
    assert_int_equal(trafgen_scenarios_parse("all-attacks", &cfg, NULL, 0), 0);
    cfg.seed = 7;
    struct checked_run run;
    run_checked(&cfg, pcap, json, &run);

    json_t *cap = json_array_get(json_object_get(run.root, "captures"), 0);
    assert_string_equal(json_string_value(json_object_get(cap, "path")), "all.pcap");
    assert_true(run.res.unlabelled > 0); /* benign background is there */

    /* every attack instance's block carried packets, under a label of the vocabulary that fits
     * its scenario */
    json_t *gen = json_object_get(run.root, "generator");
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(gen, "instances"), i, inst)
    {
        const char *cidr = json_string_value(json_array_get(json_object_get(inst, "cidr"), 0));
        const char *label = json_string_value(json_object_get(inst, "label"));
        assert_true(label_fits((enum trafgen_scenario)(i + 1), label));
        uint64_t seen = 0;
        struct cidr c;
        assert_true(cidr_parse(cidr, &c));
        for (uint32_t r = 0; r < run.n; r++)
            if (memcmp(&run.rules[r], &c, sizeof c) == 0) {
                assert_string_equal(run.labels[r], label);
                seen += run.res.per_rule[r];
            }
        if (seen == 0)
            fail_msg("no packets from the block of instance %zu", i);
    }
    struct truth_counts tc;
    truth_check(pcap, run.root, run.rules, run.n, &tc);

    /* provenance: per-label counts add up to the packets written */
    assert_int_equal(json_integer_value(json_object_get(gen, "seed")), 7);
    assert_int_equal(json_array_size(json_object_get(gen, "instances")), TG_SC_COUNT - 1);
    json_t *ppl = json_object_get(gen, "packets_per_label");
    const char *k;
    json_t *v;
    uint64_t sum = 0;
    json_object_foreach(ppl, k, v)
    {
        sum += (uint64_t)json_integer_value(v);
    }
    assert_int_equal(sum, run.res.packets);
    assert_int_equal(json_integer_value(json_object_get(gen, "packets")), run.res.packets);
    json_decref(run.root);
}

static void test_trafgen_each_scenario_uses_its_block(void **state)
{
    (void)state;
    for (int s = TG_SC_BENIGN; s < TG_SC_COUNT; s++) {
        struct trafgen_config cfg;
        char pcap[300], json[300], err[128];
        config_small(&cfg, trafgen_scenario_name((enum trafgen_scenario)s), pcap, json);
        assert_int_equal(trafgen_scenarios_parse(trafgen_scenario_name((enum trafgen_scenario)s),
                                                 &cfg, err, sizeof err),
                         0);
        cfg.seed = 100 + (uint64_t)s;
        cfg.duration_s = 3;
        cfg.benign_clients = 20;
        struct checked_run run;
        run_checked(&cfg, pcap, json, &run);
        if (s == TG_SC_BENIGN) {
            assert_int_equal(run.n, 0);
        } else {
            uint64_t seen = 0;
            assert_true(run.n >= 1);
            for (uint32_t r = 0; r < run.n; r++) {
                assert_true(in_vocabulary(run.labels[r]));
                assert_true(label_fits((enum trafgen_scenario)s, run.labels[r]));
                seen += run.res.per_rule[r];
            }
            if (seen == 0)
                fail_msg("%s: no packets from its block", run.labels[0]);
            struct truth_counts tc;
            truth_check(pcap, run.root, run.rules, run.n, &tc);
            json_t *at = json_array_get(
                json_object_get(json_array_get(json_object_get(run.root, "captures"), 0),
                                "attacks"),
                0);
            assert_string_equal(json_string_value(json_object_get(at, "scenario")),
                                trafgen_scenario_name((enum trafgen_scenario)s));
        }
        json_decref(run.root);
        unlink(pcap);
    }
}

/* The BlackNurse-like flood is ICMP errors, the fragment flood is fragments, over several seeds
 * (IPv4 and IPv6, bursts and sustained, every fragment kind), and both carry per-IP truth. */
static void test_trafgen_icmp_errors_and_fragments(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        for (int s = TG_SC_ICMP_ERROR_FLOOD; s <= TG_SC_FRAGMENT_FLOOD; s++) {
            struct trafgen_config cfg;
            char pcap[300], json[300];
            config_small(&cfg, "icmpfrag", pcap, json);
            cfg.instances[0] = (uint8_t)s;
            cfg.n_instances = 1;
            cfg.seed = seed;
            cfg.duration_s = 2;
            cfg.benign_clients = 5;
            cfg.max_attack_packets = 3000;
            struct checked_run run;
            run_checked(&cfg, pcap, json, &run);
            struct truth_counts tc;
            truth_check(pcap, run.root, run.rules, run.n, &tc);
            assert_true(tc.attack_packets > 0);
            if (s == TG_SC_ICMP_ERROR_FLOOD)
                assert_int_equal(tc.icmp_errors, tc.attack_packets); /* never answered */
            else
                assert_int_equal(tc.fragments, tc.attack_packets);
            json_decref(run.root);
        }
    }
}

static void test_trafgen_one_way_has_no_outbound(void **state)
{
    (void)state;
    struct trafgen_config cfg;
    char pcap[300], json[300];
    config_small(&cfg, "oneway", pcap, json);
    assert_int_equal(trafgen_scenarios_parse("all-attacks", &cfg, NULL, 0), 0);
    cfg.one_way = true;
    cfg.seed = 9;
    struct checked_run run;
    run_checked(&cfg, pcap, json, &run);
    assert_true(run.res.packets > 0);
    assert_int_equal(run.res.from_protected, 0);
    json_t *gen = json_object_get(run.root, "generator");
    assert_true(json_integer_value(json_object_get(gen, "outbound_suppressed")) > 0);
    json_decref(run.root);
}

static void one_way_mirror_check(const char *scenario, uint64_t seed, uint32_t clients)
{
    struct trafgen_config one, two;
    char p1[300], j1[300], p2[300], j2[300];
    config_small(&one, "half1", p1, j1);
    config_small(&two, "half2", p2, j2);
    assert_int_equal(trafgen_scenarios_parse(scenario, &one, NULL, 0), 0);
    assert_int_equal(trafgen_scenarios_parse(scenario, &two, NULL, 0), 0);
    one.seed = two.seed = seed;
    one.benign_clients = two.benign_clients = clients;
    one.one_way = true;
    run_ok(&one);
    run_ok(&two);
    struct file_buf f1 = file_read(p1), f2 = file_read(p2);
    struct pcap_walk w1, w2;
    pcap_walk_init(&w1, &f1);
    pcap_walk_init(&w2, &f2);
    uint64_t t1, t2, n = 0;
    const uint8_t *fr1, *fr2;
    uint32_t c1, c2, l1, l2;
    while (pcap_walk_next(&w2, &t2, &fr2, &c2, &l2)) {
        struct pkt_info pi;
        assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, fr2, c2, l2, &pi), DECODE_OK);
        if (addr_protected(&pi, pi.src))
            continue;
        assert_true(pcap_walk_next(&w1, &t1, &fr1, &c1, &l1));
        assert_int_equal(t1, t2);
        assert_int_equal(c1, c2);
        assert_memory_equal(fr1, fr2, c1);
        n++;
    }
    assert_false(pcap_walk_next(&w1, &t1, &fr1, &c1, &l1));
    assert_true(n > 1000);
    free(f1.p);
    free(f2.p);
}

/* --one-way is a mirror of inbound traffic: exactly the two-way capture's packets that do not
 * come from the protected network, byte for byte, with the same timestamps (attacks, and
 * benign backgrounds with their site applications). */
static void test_trafgen_one_way_is_inbound_half(void **state)
{
    (void)state;
    one_way_mirror_check("all-attacks", 11, 40);
    for (uint64_t seed = 1; seed <= 6; seed++)
        one_way_mirror_check("benign", seed, 80);
}

static void test_trafgen_benign_only_stays_in_plan(void **state)
{
    (void)state;
    struct trafgen_config cfg;
    char pcap[300], json[300];
    config_small(&cfg, "twoway", pcap, json);
    cfg.seed = 9;
    cfg.mix = false;
    run_ok(&cfg);
    struct cidr none[1] = {{{0}, 0, 0}};
    struct scan_result res;
    capture_check(pcap, none, 0, &res);
    assert_true(res.from_protected > 0);
}

/* The benign background differs per seed: over a set of seeds every site application (P2P,
 * calls, file sharing, IoT, multicast, LAN chatter, VPNs, games, busy DNS/NTP servers, a
 * resolver) and every stream kind shows up, each capture decodes and stays in the plan, and the
 * captures carry multicast/broadcast chatter, IPv4 fragments, ESP and GRE. */
static void test_trafgen_benign_sites(void **state)
{
    (void)state;
    static const char *const sites[] = {
        "p2p", "calls", "file_sharing",     "iot_polling",      "multicast",    "lan_chatter",
        "vpn", "games", "dns_server_crowd", "ntp_server_crowd", "dns_resolver", "traceroute"};
    static const char *const streams[] = {"rtp",     "sip", "stun",    "game",      "wireguard",
                                          "openvpn", "ike", "esp",     "gre",       "multicast",
                                          "dns",     "ntp", "coap",    "bacnet",    "dht",
                                          "nfs_udp", "utp", "chatter", "traceroute"};
    static const char *const tcp_apps[] = {"smb", "nfs_tcp", "modbus", "mqtt", "peer_wire"};
    bool seen_site[12] = {false}, seen_stream[19] = {false}, seen_tcp[5] = {false};
    uint64_t groups = 0, frags = 0, esp = 0, gre = 0;
    char first_mix[512] = "", mix[512];
    bool differ = false;
    for (uint64_t seed = 1; seed <= 32; seed++) {
        struct trafgen_config cfg;
        char pcap[300], json[300];
        config_small(&cfg, "sites", pcap, json);
        cfg.seed = seed;
        cfg.duration_s = 4;
        cfg.benign_clients = 60;
        run_ok(&cfg);
        struct cidr none[1] = {{{0}, 0, 0}};
        struct scan_result res;
        capture_check(pcap, none, 0, &res);
        groups += res.to_group;
        json_error_t err;
        json_t *root = json_load_file(json, 0, &err);
        assert_non_null(root);
        json_t *b = json_object_get(json_object_get(root, "generator"), "benign");
        size_t i;
        json_t *v;
        mix[0] = '\0';
        json_array_foreach(json_object_get(b, "sites"), i, v)
        {
            const char *app = json_string_value(json_object_get(v, "app"));
            assert_non_null(app);
            strncat(mix, app, sizeof mix - strlen(mix) - 1);
            for (size_t k = 0; k < 12; k++)
                seen_site[k] |= strcmp(app, sites[k]) == 0;
        }
        if (seed == 1)
            snprintf(first_mix, sizeof first_mix, "%s", mix);
        else
            differ |= strcmp(first_mix, mix) != 0;
        for (size_t k = 0; k < 19; k++)
            seen_stream[k] |=
                json_object_get(json_object_get(b, "streams_started"), streams[k]) != NULL;
        for (size_t k = 0; k < 5; k++)
            seen_tcp[k] |=
                json_object_get(json_object_get(b, "sessions_started"), tcp_apps[k]) != NULL;
        json_decref(root);
        struct file_buf fb = file_read(pcap);
        struct pcap_walk w;
        pcap_walk_init(&w, &fb);
        uint64_t ts;
        const uint8_t *frame;
        uint32_t caplen, len;
        while (pcap_walk_next(&w, &ts, &frame, &caplen, &len)) {
            struct pkt_info pi;
            assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, frame, caplen, len, &pi),
                             DECODE_OK);
            frags += (pi.flags & PKT_F_FRAGMENT) != 0;
            esp += pi.proto == 50;
            gre += pi.proto == 47;
        }
        free(fb.p);
        unlink(pcap);
    }
    for (size_t k = 0; k < 12; k++)
        if (!seen_site[k])
            fail_msg("site application %s never drawn", sites[k]);
    for (size_t k = 0; k < 19; k++)
        if (!seen_stream[k])
            fail_msg("stream kind %s never started", streams[k]);
    for (size_t k = 0; k < 5; k++)
        if (!seen_tcp[k])
            fail_msg("TCP app %s never started", tcp_apps[k]);
    assert_true(differ);
    assert_true(groups > 0);
    assert_true(frags > 0);
    assert_true(esp > 0);
    assert_true(gre > 0);
}

static void test_trafgen_scenarios_parse(void **state)
{
    (void)state;
    struct trafgen_config cfg;
    char err[128];
    trafgen_config_defaults(&cfg);
    assert_int_equal(trafgen_scenarios_parse("syn_flood,portscan,syn_flood", &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.n_instances, 3);
    assert_int_equal(cfg.instances[0], TG_SC_SYN_FLOOD);
    assert_int_equal(cfg.instances[1], TG_SC_PORTSCAN);
    assert_false(cfg.mix);
    assert_int_equal(trafgen_scenarios_parse("benign", &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.n_instances, 0);
    assert_false(cfg.mix);
    assert_int_equal(trafgen_scenarios_parse("mix", &cfg, err, sizeof err), 0);
    assert_true(cfg.mix);
    assert_int_equal(trafgen_scenarios_parse("all-attacks", &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.n_instances, TG_SC_COUNT - 1);
    assert_int_equal(trafgen_scenarios_parse("syn_flood,nope", &cfg, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "nope"));
    for (int s = 0; s < TG_SC_COUNT; s++)
        assert_true(strlen(trafgen_scenario_describe((enum trafgen_scenario)s)) > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trafgen_scenarios_parse),
        cmocka_unit_test(test_trafgen_same_seed_same_bytes),
        cmocka_unit_test(test_trafgen_all_attacks_decode_and_label),
        cmocka_unit_test(test_trafgen_each_scenario_uses_its_block),
        cmocka_unit_test(test_trafgen_icmp_errors_and_fragments),
        cmocka_unit_test(test_trafgen_one_way_has_no_outbound),
        cmocka_unit_test(test_trafgen_one_way_is_inbound_half),
        cmocka_unit_test(test_trafgen_benign_only_stays_in_plan),
        cmocka_unit_test(test_trafgen_benign_sites),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
