/* test_manifest.c - unit tests for app/manifest.c: loading ground-truth manifests, resolving
 * their capture paths, labelling flows by rule, and rejecting malformed input with a message.
 *
 * Every test works in its own directory made with mkdtemp under /tmp: capture files (empty,
 * they only need to exist for realpath), manifests written with mkstemp, a symlink. Flows to
 * label are built from struct pkt_info values with flow_key_from_packet + flow_start, the way
 * the flow table builds them. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/manifest.h"
#include "features/flow.h"
#include "features/flow_table.h"

#include "flow_test_util.h"

/* ---- scratch directory ------------------------------------------------------------------ */

struct scratch {
    char dir[64];
    char files[128][256]; /* everything to remove, in creation order */
    size_t nfiles;
};

static void scratch_track(struct scratch *s, const char *path)
{
    assert_true(s->nfiles < 128 && strlen(path) < 256);
    snprintf(s->files[s->nfiles++], sizeof(s->files[0]), "%s", path);
}

/* Creates dir/rel (an empty file). */
static void scratch_touch(struct scratch *s, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    scratch_track(s, path);
}

static int scratch_setup(void **state)
{
    struct scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    snprintf(s->dir, sizeof(s->dir), "/tmp/ddosd-manifest-XXXXXX");
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    char sub[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/sub", s->dir);
    if (mkdir(sub, 0700) != 0) {
        rmdir(s->dir);
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int scratch_teardown(void **state)
{
    struct scratch *s = *state;
    for (size_t i = s->nfiles; i-- > 0;)
        unlink(s->files[i]);
    char sub[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/sub", s->dir);
    rmdir(sub);
    rmdir(s->dir);
    free(s);
    return 0;
}

/* Writes json to a new mkstemp file in the scratch directory; returns its path (static). */
static const char *scratch_manifest(struct scratch *s, const char *json)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/manifest-XXXXXX", s->dir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(json);
    assert_int_equal(write(fd, json, len), (ssize_t)len);
    close(fd);
    scratch_track(s, path);
    return path;
}

/* ---- flows ------------------------------------------------------------------------------ */

static struct flow flow_of(int ipv, const char *src, uint16_t sport, const char *dst,
                           uint16_t dport, uint8_t proto, uint16_t icmp_id)
{
    const bool ports = proto == IPPROTO_NUM_TCP || proto == IPPROTO_NUM_UDP;
    struct pkt_info p = pkt_base(ipv, src, ports ? sport : 0, dst, ports ? dport : 0, proto);
    if (ports) {
        p.l4_header_len = proto == IPPROTO_NUM_TCP ? 20 : 8;
    } else {
        p.icmp_type = ipv == 6 ? 128 : 8;
        p.icmp_id = icmp_id;
        p.l4_header_len = 8;
    }
    const uint64_t ts = 1;
    struct flow f;
    flow_build(&f, FEAT_MODE_FIXED, &p, &ts, 1);
    return f;
}

#define TCP4(s, sp, d, dp) flow_of(4, s, sp, d, dp, IPPROTO_NUM_TCP, 0)
#define UDP4(s, sp, d, dp) flow_of(4, s, sp, d, dp, IPPROTO_NUM_UDP, 0)
#define TCP6(s, sp, d, dp) flow_of(6, s, sp, d, dp, IPPROTO_NUM_TCP, 0)

static void assert_label(const struct manifest_capture *c, struct flow f, const char *want)
{
    assert_string_equal(manifest_label_flow(c, &f), want);
}

/* ---- tests ------------------------------------------------------------------------------ */

static const char rules_json[] =
    "{\"captures\": [\n"
    " {\"path\": \"a.pcap\", \"label\": \"syn_flood\", \"rules\": [\n"
    "   {\"ip\": \"10.0.0.0/8\", \"proto\": \"udp\", \"port\": 53, \"label\": \"benign_dns\"},\n"
    "   {\"ip\": \"10.0.0.0/8\", \"label\": \"benign_ten\"},\n"
    "   {\"ip\": \"2001:db8::/32\", \"label\": \"v6_net\"},\n"
    "   {\"ip\": \"192.0.2.77\", \"label\": \"host77\"},\n"
    "   {\"ip\": \"172.16.0.0/12\", \"label\": \"rfc1918_172\"},\n"
    "   {\"ip\": \"2001:db9::1/128\", \"proto\": 6, \"label\": \"v6_host\"},\n"
    "   {\"proto\": \"icmp\", \"label\": \"pings\"},\n"
    "   {\"proto\": \"ICMPv6\", \"label\": \"pings6\"},\n"
    "   {\"port\": 443, \"label\": \"https\"},\n"
    "   {\"proto\": \"tcp\", \"port\": 0, \"label\": \"port_zero\"}\n"
    " ]},\n"
    " {\"path\": \"sub/b.pcap\", \"label\": \"benign\"},\n"
    " {\"path\": \"/nonexistent/ddosd/c.pcap\", \"label\": \"gone\"}\n"
    "]}\n";

/* Capture labels, and rules by address/CIDR (v4 and v6), protocol name or number and port;
 * all given fields must match and the first matching rule wins. */
static void test_manifest_labels_and_rules(void **state)
{
    struct scratch *s = *state;
    scratch_touch(s, "a.pcap");
    scratch_touch(s, "sub/b.pcap");
    char err[512] = "";
    struct manifest *m = manifest_load(scratch_manifest(s, rules_json), err, sizeof(err));
    if (!m)
        print_error("%s\n", err);
    assert_non_null(m);
    assert_int_equal(m->ncaptures, 3);
    const struct manifest_capture *a = &m->captures[0], *b = &m->captures[1];
    assert_string_equal(a->label, "syn_flood");
    assert_string_equal(b->label, "benign");
    assert_string_equal(m->captures[2].label, "gone");
    assert_int_equal(a->nrules, 10);
    assert_int_equal(b->nrules, 0);

    assert_label(a, UDP4("10.1.2.3", 5353, "8.8.8.8", 53), "benign_dns");
    assert_label(a, UDP4("8.8.8.8", 53, "10.1.2.3", 5353), "benign_dns"); /* either endpoint */
    assert_label(a, TCP4("10.1.2.3", 1000, "8.8.8.8", 53), "benign_ten"); /* not udp */
    assert_label(a, UDP4("10.255.255.255", 9, "8.8.8.8", 54), "benign_ten");
    assert_label(a, UDP4("11.0.0.0", 9, "8.8.8.8", 54), "syn_flood");
    assert_label(a, TCP4("192.0.2.77", 1000, "198.51.100.1", 80), "host77");
    assert_label(a, TCP4("192.0.2.78", 1000, "198.51.100.1", 80), "syn_flood");
    assert_label(a, TCP4("198.51.100.1", 1000, "172.31.255.255", 80), "rfc1918_172");
    assert_label(a, TCP4("198.51.100.1", 1000, "172.32.0.0", 80), "syn_flood");
    assert_label(a, TCP6("2001:db8:1::5", 1000, "2001:dead::1", 443), "v6_net"); /* before 443 */
    assert_label(a, TCP6("2001:db9::1", 1000, "2001:dead::1", 80), "v6_host");
    assert_label(a, UDP4("2.2.2.2", 1000, "3.3.3.3", 80), "syn_flood");
    assert_label(a, TCP6("2001:db9::2", 1000, "2001:dead::1", 80), "syn_flood");
    assert_label(a, TCP6("2001:db9::2", 1000, "2001:dead::1", 443), "https");
    /* A v4 rule never matches a v6 flow, even when the bytes would. */
    assert_label(a, TCP6("a00::1", 1000, "2001:dead::1", 80), "syn_flood");
    assert_label(a, flow_of(4, "198.51.100.1", 0, "203.0.113.1", 0, IPPROTO_NUM_ICMP, 7), "pings");
    assert_label(a, flow_of(6, "2001:dead::5", 0, "2001:dead::6", 0, IPPROTO_NUM_ICMPV6, 7),
                 "pings6");
    assert_label(a, TCP4("198.51.100.1", 0, "203.0.113.1", 80), "port_zero");
    assert_label(b, TCP4("10.1.2.3", 1000, "8.8.8.8", 53), "benign");
    manifest_free(m);
}

/* A port rule is about TCP/UDP ports: an ICMP echo flow (keyed by its identifier in the port
 * fields) whose identifier equals the port must not match it. */
static void test_manifest_port_rule_ignores_icmp(void **state)
{
    struct scratch *s = *state;
    char err[512] = "";
    struct manifest *m = manifest_load(
        scratch_manifest(s, "{\"captures\": [{\"path\": \"x.pcap\", \"label\": \"attack\", "
                            "\"rules\": [{\"port\": 53, \"label\": \"dns\"}]}]}"),
        err, sizeof(err));
    assert_non_null(m);
    const struct manifest_capture *c = &m->captures[0];
    assert_label(c, UDP4("10.0.0.1", 5353, "10.0.0.2", 53), "dns");
    assert_label(c, flow_of(4, "10.0.0.1", 0, "10.0.0.2", 0, IPPROTO_NUM_ICMP, 53), "attack");
    assert_label(c, flow_of(6, "2001:db8::1", 0, "2001:db8::2", 0, IPPROTO_NUM_ICMPV6, 53),
                 "attack");
    manifest_free(m);
}

/* Protocol names and numbers. */
static void test_manifest_proto_names(void **state)
{
    static const struct {
        const char *json;
        int proto;
    } ok[] = {
        {"\"tcp\"", 6},        {"\"TCP\"", 6}, {"\"udp\"", 17}, {"\"icmp\"", 1}, {"\"icmpv6\"", 58},
        {"\"ipv6-icmp\"", 58}, {"0", 0},       {"255", 255},    {"132", 132},
    };
    struct scratch *s = *state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char json[256], err[512] = "";
        snprintf(json, sizeof(json),
                 "{\"captures\": [{\"path\": \"x.pcap\", \"label\": \"l\", "
                 "\"rules\": [{\"proto\": %s, \"label\": \"r\"}]}]}",
                 ok[i].json);
        struct manifest *m = manifest_load(scratch_manifest(s, json), err, sizeof(err));
        if (!m)
            print_error("proto %s: %s\n", ok[i].json, err);
        assert_non_null(m);
        assert_int_equal(m->captures[0].rules[0].proto, ok[i].proto);
        assert_int_equal(m->captures[0].rules[0].port, -1);
        assert_false(m->captures[0].rules[0].has_ip);
        manifest_free(m);
    }
}

/* Paths are resolved against the manifest's directory (absolute ones are kept), and realpath'd
 * when the file exists; manifest_find compares real paths. */
static void test_manifest_paths_and_find(void **state)
{
    struct scratch *s = *state;
    scratch_touch(s, "a.pcap");
    scratch_touch(s, "sub/b.pcap");
    scratch_touch(s, "other.pcap");
    char link[PATH_MAX], want[PATH_MAX + 16], real_dir[PATH_MAX];
    snprintf(link, sizeof(link), "%s/link.pcap", s->dir);
    assert_int_equal(symlink("sub/b.pcap", link), 0);
    scratch_track(s, link);
    assert_non_null(realpath(s->dir, real_dir));

    char err[512] = "";
    const char *mpath = scratch_manifest(s, rules_json);
    struct manifest *m = manifest_load(mpath, err, sizeof(err));
    assert_non_null(m);
    snprintf(want, sizeof(want), "%s/a.pcap", s->dir);
    assert_string_equal(m->captures[0].path, want);
    snprintf(want, sizeof(want), "%s/sub/b.pcap", s->dir);
    assert_string_equal(m->captures[1].path, want);
    assert_string_equal(m->captures[2].path, "/nonexistent/ddosd/c.pcap");
    snprintf(want, sizeof(want), "%s/a.pcap", real_dir);
    assert_string_equal(m->captures[0].real_path, want);
    assert_null(m->captures[2].real_path);

    char q[PATH_MAX];
    snprintf(q, sizeof(q), "%s/sub/../a.pcap", s->dir);
    assert_ptr_equal(manifest_find(m, q), &m->captures[0]);
    snprintf(q, sizeof(q), "%s/./sub//b.pcap", s->dir);
    assert_ptr_equal(manifest_find(m, q), &m->captures[1]);
    assert_ptr_equal(manifest_find(m, link), &m->captures[1]); /* through a symlink */
    snprintf(q, sizeof(q), "%s/other.pcap", s->dir);
    assert_null(manifest_find(m, q));                           /* exists, not listed */
    assert_null(manifest_find(m, "/nonexistent/ddosd/c.pcap")); /* listed, does not exist */
    snprintf(q, sizeof(q), "%s/missing.pcap", s->dir);
    assert_null(manifest_find(m, q));
    manifest_free(m);

    /* A manifest given by a relative path ("manifest-XXXXXX", directory ".") still resolves
     * its captures against its own directory: load it from inside the scratch directory. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(s->dir), 0);
    m = manifest_load(strrchr(mpath, '/') + 1, err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(m);
    snprintf(want, sizeof(want), "%s/a.pcap", real_dir);
    assert_non_null(m->captures[0].real_path);
    assert_string_equal(m->captures[0].real_path, want);
    snprintf(q, sizeof(q), "%s/a.pcap", s->dir);
    assert_ptr_equal(manifest_find(m, q), &m->captures[0]);
    manifest_free(m);
}

/* Valid edge cases: no captures, no rules, a 63-character label, an address rule as a bare
 * address (implied /32, /128) and /0. */
static void test_manifest_edge_cases_accepted(void **state)
{
    struct scratch *s = *state;
    char err[512] = "";
    struct manifest *m = manifest_load(scratch_manifest(s, "{\"captures\": []}"), err, 512);
    assert_non_null(m);
    assert_int_equal(m->ncaptures, 0);
    assert_null(manifest_find(m, "/etc/passwd"));
    manifest_free(m);

    char label63[64];
    memset(label63, 'x', 63);
    label63[63] = '\0';
    char json[512];
    snprintf(json, sizeof(json),
             "{\"captures\": [{\"path\": \"x.pcap\", \"label\": \"%s\", \"rules\": ["
             "{\"ip\": \"10.0.0.1\", \"label\": \"a\"}, {\"ip\": \"::1\", \"label\": \"b\"},"
             "{\"ip\": \"0.0.0.0/0\", \"label\": \"c\"}]}]}",
             label63);
    m = manifest_load(scratch_manifest(s, json), err, sizeof(err));
    if (!m)
        print_error("%s\n", err);
    assert_non_null(m);
    const struct manifest_capture *c = &m->captures[0];
    assert_string_equal(c->label, label63);
    assert_int_equal(c->rules[0].ip.prefix_len, 32);
    assert_int_equal(c->rules[0].ip.version, 4);
    assert_int_equal(c->rules[1].ip.prefix_len, 128);
    assert_int_equal(c->rules[1].ip.version, 6);
    assert_int_equal(c->rules[2].ip.prefix_len, 0);
    assert_label(c, UDP4("10.0.0.1", 1, "10.0.0.2", 2), "a");
    assert_label(c, UDP4("10.0.0.3", 1, "10.0.0.2", 2), "c"); /* /0: any IPv4 flow */
    assert_label(c, TCP6("::1", 1, "::2", 2), "b");
    assert_label(c, TCP6("::3", 1, "::2", 2), label63);
    manifest_free(m);
}

/* Each malformed manifest gives NULL and a one-line message naming the file and the problem. */
static void test_manifest_malformed_rejected(void **state)
{
    static const struct {
        const char *json;
        const char *needle; /* must appear in the message */
    } bad[] = {
        {"{\"captures\": [", "line"},
        {"", "cannot read"},
        {"{\"captures\": [], \"captures\": []}", "cannot read"}, /* duplicate key */
        {"{\"captures\": {}}", "\"captures\" must be an array"},
        {"{\"nocaptures\": []}", "\"captures\" must be an array"},
        {"[]", "\"captures\" must be an array"},
        {"{\"captures\": [{\"label\": \"x\"}]}", "\"path\""},
        {"{\"captures\": [{\"path\": 5, \"label\": \"x\"}]}", "\"path\""},
        {"{\"captures\": [\"a.pcap\"]}", "\"path\""},
        {"{\"captures\": [{\"path\": \"a\"}]}", "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"a,b\"}]}", "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"a\\\"b\"}]}", "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"a\\nb\"}]}", "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"\"}]}", "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": 7}]}", "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": "
         "\"0123456789012345678901234567890123456789012345678901234567890123\"}]}",
         "\"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"x\", \"rules\": {}}]}", "\"rules\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"x\", \"rules\": [5]}]}", "rule"},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"x\", \"rules\": [{\"port\": 53}]}]}",
         "rule \"label\""},
        {"{\"captures\": [{\"path\": \"a\", \"label\": \"x\", \"rules\": [{\"port\": 53, "
         "\"label\": \"d,ns\"}]}]}",
         "rule \"label\""},
    };
    static const char *const bad_ip[] = {
        "\"10.0.0.0/33\"",  "\"10.0.0.300\"",   "\"::1/129\"",
        "\"10.0.0.0/\"",    "\"10.0.0.0/abc\"", "\"10.0.0.0/-1\"",
        "\"10.0.0.0/+8\"",  "\"10.0.0.0/ 8\"",  "\"\"",
        "\"10.0.0.0/8/8\"", "\"example.com\"",  "42",
    };
    static const char *const bad_port[] = {"65536", "-1", "\"53\"", "1.5", "true"};
    static const char *const bad_proto[] = {"\"sctp\"", "256", "-1", "true", "\"\""};

    struct scratch *s = *state;
    char json[512], err[512];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 3 * 16; i++) {
        const char *needle;
        if (i < sizeof(bad) / sizeof(bad[0])) {
            snprintf(json, sizeof(json), "%s", bad[i].json);
            needle = bad[i].needle;
        } else {
            size_t k = (i - sizeof(bad) / sizeof(bad[0])) % 16;
            size_t group = (i - sizeof(bad) / sizeof(bad[0])) / 16;
            const char *const *vals = group == 0 ? bad_ip : group == 1 ? bad_port : bad_proto;
            size_t nvals = group == 0   ? sizeof(bad_ip) / sizeof(bad_ip[0])
                           : group == 1 ? sizeof(bad_port) / sizeof(bad_port[0])
                                        : sizeof(bad_proto) / sizeof(bad_proto[0]);
            if (k >= nvals)
                continue;
            const char *field = group == 0 ? "ip" : group == 1 ? "port" : "proto";
            /* The second capture is the bad one: the message must say #2. */
            snprintf(json, sizeof(json),
                     "{\"captures\": [{\"path\": \"ok\", \"label\": \"fine\"}, "
                     "{\"path\": \"a\", \"label\": \"x\", \"rules\": [{\"%s\": %s, "
                     "\"label\": \"r\"}]}]}",
                     field, vals[k]);
            needle = group == 0 ? "rule \"ip\"" : group == 1 ? "rule \"port\"" : "rule \"proto\"";
        }
        const char *path = scratch_manifest(s, json);
        memset(err, 0, sizeof(err));
        struct manifest *m = manifest_load(path, err, sizeof(err));
        if (m || !strstr(err, needle) || !strstr(err, path) || strchr(err, '\n')) {
            print_error("manifest %s\n  gave %s, message \"%s\" (expected to contain \"%s\")\n",
                        json, m ? "a manifest" : "NULL", err, needle);
            manifest_free(m);
            fail();
        }
        if (i >= sizeof(bad) / sizeof(bad[0]) && !strstr(err, "capture #2")) {
            print_error("message \"%s\" does not name capture #2\n", err);
            fail();
        }
    }

    /* A manifest that does not exist. */
    memset(err, 0, sizeof(err));
    assert_null(manifest_load("/nonexistent/ddosd/manifest.json", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/ddosd/manifest.json"));
    manifest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manifest_labels_and_rules, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_port_rule_ignores_icmp, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_proto_names, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_paths_and_find, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_edge_cases_accepted, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_malformed_rejected, scratch_setup,
                                        scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
