/* test_config.c - unit tests of common/config.c and common/env.c: defaults, every key,
 * placeholders, messages (checked word for word: they are the user interface of a bad config),
 * CIDRs, .env syntax and permissions, dumps and Redis URLs.
 *
 * Tests that need files create them in a private mkdtemp() directory and remove it. Variables
 * the tests set in the environment use a DDT_ prefix (or REDIS_* for the example config) and
 * are unset again, so the order of tests does not matter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cidr.h"
#include "common/config.h"
#include "common/env.h"

static char errbuf[512];

/* ---- helpers ---------------------------------------------------------------------------- */

static char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/ddosd-test-config-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static char *test_write(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_rmdir(char *dir, char **files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (files[i] != NULL)
            unlink(files[i]);
        free(files[i]);
    }
    rmdir(dir);
    free(dir);
}

/* Loads json over the defaults with an optional .env text. Returns the loader's result. */
static int test_load(const char *json, const char *env_text, struct ddosd_config *c)
{
    assert_int_equal(config_defaults(c), 0);
    if (env_text != NULL) {
        struct env_file *env;
        assert_int_equal(
            env_file_parse(env_text, strlen(env_text), "test.env", &env, errbuf, sizeof(errbuf)),
            0);
        config_set_env(c, env);
    }
    errbuf[0] = '\0';
    return config_load_buffer(json, strlen(json), "config.json", c, errbuf, sizeof(errbuf));
}

static void test_load_ok(const char *json, const char *env_text, struct ddosd_config *c)
{
    int rc = test_load(json, env_text, c);
    if (rc != 0)
        fail_msg("unexpected error: %s", errbuf);
}

/* The load fails with exactly msg. */
static void test_load_err(const char *json, const char *env_text, const char *msg)
{
    struct ddosd_config c;
    int rc = test_load(json, env_text, &c);
    assert_int_not_equal(rc, 0);
    assert_string_equal(errbuf, msg);
    config_free(&c);
}

/* The load fails with a message that contains part. */
static void test_load_err_has(const char *json, const char *env_text, const char *part)
{
    struct ddosd_config c;
    int rc = test_load(json, env_text, &c);
    assert_int_not_equal(rc, 0);
    if (strstr(errbuf, part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", errbuf, part);
    assert_null(strchr(errbuf, '\n'));
    config_free(&c);
}

static char *test_dump(const struct ddosd_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(config_dump(c, f), 0);
    fclose(f);
    return buf;
}

static const char *test_source_root(void)
{
    static char root[4096];
    /* __FILE__ is the absolute path of this file in CMake builds: <root>/tests/unit/... */
    snprintf(root, sizeof(root), "%s", __FILE__);
    char *cut = strstr(root, "/tests/unit/test_config.c");
    if (cut == NULL)
        return ".";
    *cut = '\0';
    return root;
}

/* ---- defaults --------------------------------------------------------------------------- */

static void test_config_defaults_filled(void **state)
{
    (void)state;
    struct ddosd_config c;
    assert_int_equal(config_defaults(&c), 0);
    assert_true(strlen(c.sensor.id) > 0);
    assert_int_equal(c.capture.interfaces.n, 0);
    assert_int_equal(c.capture.files.n, 0);
    assert_string_equal(c.capture.filter, "");
    assert_int_equal(c.capture.snaplen, 262144);
    assert_true(c.capture.promiscuous);
    assert_int_equal(c.capture.buffer_mb, 64);
    assert_int_equal(c.capture.threads, 1);
    assert_int_equal(c.flows.mode, CONFIG_FLOWS_FIXED);
    assert_int_equal(c.flows.max_flows, 1 << 20);
    assert_true(c.flows.idle_timeout == 60 && c.flows.active_timeout == 120);
    assert_int_equal(c.scoring.first_packets, 5);
    assert_true(c.scoring.interval == 1);
    assert_string_equal(c.ml_model.path, "models/ddosd-model.msgpack");
    assert_true(c.ml_model.threshold < 0);
    assert_true(c.ml_model.evidence_threshold < 0); /* the judge's default */
    assert_false(c.redis.enabled);
    assert_string_equal(c.redis.host, "127.0.0.1");
    assert_int_equal(c.redis.port, 6379);
    assert_int_equal(c.redis.db, 0);
    assert_string_equal(c.redis.password, "");
    assert_true(c.cache.enabled);
    assert_int_equal(c.cache.ttl, 300);
    assert_true(c.rules.victim.pps == 20000 && c.rules.attacker.pps == 20000);
    assert_true(c.rules.victim.icmp_errors_per_s == 1000 && c.rules.victim.fragments_per_s == 2000);
    assert_true(c.rules.attacker.distinct_sources == 0);
    assert_int_equal(c.rules.hostgroups.n, 0);
    assert_int_equal(c.rules.whitelist.sources.n, 0);
    assert_true(c.api.listen.enabled);
    assert_string_equal(c.api.listen.host, "127.0.0.1");
    assert_int_equal(c.api.listen.port, 8000);
    assert_int_equal(c.api.threads, 4);
    assert_int_equal(c.api.max_connections, 1024);
    assert_true(c.api.timeout == 10);
    assert_int_equal(c.api.body_limit, 65536);
    assert_int_equal(c.decisions.levels, CONFIG_LEVEL_HIGH | CONFIG_LEVEL_CRITICAL);
    assert_int_equal(c.decisions.roles, CONFIG_ROLE_ATTACKER);
    assert_int_equal(c.bouncer_keys.n, 0);
    assert_string_equal(c.log.dir, "");
    assert_int_equal(c.log.level, LOG_LEVEL_INFO);
    assert_string_equal(c.notify.script, "");
    assert_true(c.notify.timeout == 5);
    assert_string_equal(c.user, "");
    assert_int_equal(config_validate(&c, errbuf, sizeof(errbuf)), 0);
    config_free(&c);
    config_free(&c); /* zeroed: a second free is harmless */
    config_free(NULL);
}

static void test_config_empty_object_keeps_defaults(void **state)
{
    (void)state;
    struct ddosd_config c, d;
    test_load_ok("{}", NULL, &c);
    assert_int_equal(config_defaults(&d), 0);
    char *a = test_dump(&c), *b = test_dump(&d);
    assert_string_equal(a, b);
    free(a);
    free(b);
    config_free(&c);
    config_free(&d);
}

/* ---- every key ---------------------------------------------------------------------------- */

static const char *full_json =
    "{\"sensor\": {\"id\": \"edge-1\"},"
    " \"capture\": {\"interfaces\": [\"eth0\", \"eth1\"], \"files\": [],"
    "   \"filter\": \"not port 22\", \"snaplen\": 1518, \"promiscuous\": false,"
    "   \"buffer_mb\": 256, \"threads\": 4},"
    " \"flows\": {\"mode\": \"fixed\", \"max_flows\": 4096, \"idle_timeout\": 30.5,"
    "   \"active_timeout\": 300},"
    " \"scoring\": {\"first_packets\": 10, \"interval\": 0.5},"
    " \"ml_model\": {\"path\": \"/opt/m.msgpack\", \"threshold\": 0.8, \"evidence_threshold\": "
    "0.6},"
    " \"redis\": {\"enabled\": true, \"host\": \"redis.local\", \"port\": 6380, \"db\": 3,"
    "   \"password\": \"${DDT_REDIS_PW}\"},"
    " \"cache\": {\"enabled\": false, \"ttl\": 60},"
    " \"rules\": {"
    "   \"victim\": {\"pps\": 1000, \"bps\": 2e6, \"syn_per_s\": 300, \"new_flows_per_s\": 400,"
    "     \"distinct_sources\": 500, \"syn_ack_ratio\": 2.5, \"reflector_pps\": null},"
    "   \"attacker\": {\"pps\": 10, \"bps\": 20, \"syn_per_s\": 30, \"new_flows_per_s\": 40,"
    "     \"distinct_sources\": 50, \"syn_ack_ratio\": 6, \"reflector_pps\": 70},"
    "   \"hostgroups\": [{\"name\": \"web\", \"cidrs\": [\"192.0.2.0/24\", \"2001:db8::/32\"],"
    "       \"victim\": {\"pps\": 900000}},"
    "     {\"name\": \"dns\", \"cidrs\": [\"198.51.100.53\"], \"attacker\": {\"bps\": null}}],"
    "   \"whitelist\": {\"sources\": [\"10.0.0.0/8\"], \"destinations\": [\"::1\"]}},"
    " \"api\": {\"listen\": \"[::1]:9000\", \"threads\": 2, \"max_connections\": 50,"
    "   \"timeout\": 2.5, \"body_limit\": 1024},"
    " \"decisions\": {\"levels\": [\"medium\", \"critical\"], \"roles\": [\"victim\", "
    "\"attacker\"]},"
    " \"bouncer_keys\": [\"DDT_BOUNCER_FW\"],"
    " \"log\": {\"dir\": \"/var/log/ddosd\", \"level\": \"debug\"},"
    " \"notify\": {\"script\": \"/usr/local/bin/notify\", \"timeout\": 3},"
    " \"user\": \"ddosd\"}";

static const char *full_env = "DDT_REDIS_PW=s3cr3t-pw\n"
                              "DDT_BOUNCER_FW=0123456789abcdef0123\n";

static void test_config_every_key_parsed(void **state)
{
    (void)state;
    struct ddosd_config c;
    test_load_ok(full_json, full_env, &c);
    assert_string_equal(c.sensor.id, "edge-1");
    assert_int_equal(c.capture.interfaces.n, 2);
    assert_string_equal(c.capture.interfaces.items[1], "eth1");
    assert_string_equal(c.capture.filter, "not port 22");
    assert_int_equal(c.capture.snaplen, 1518);
    assert_false(c.capture.promiscuous);
    assert_int_equal(c.capture.buffer_mb, 256);
    assert_int_equal(c.capture.threads, 4);
    assert_int_equal(c.flows.max_flows, 4096);
    assert_true(c.flows.idle_timeout == 30.5 && c.flows.active_timeout == 300);
    assert_int_equal(c.scoring.first_packets, 10);
    assert_true(c.scoring.interval == 0.5);
    assert_string_equal(c.ml_model.path, "/opt/m.msgpack");
    assert_true(c.ml_model.threshold == 0.8);
    assert_true(c.ml_model.evidence_threshold == 0.6);
    assert_true(c.redis.enabled);
    assert_string_equal(c.redis.host, "redis.local");
    assert_int_equal(c.redis.port, 6380);
    assert_int_equal(c.redis.db, 3);
    assert_string_equal(c.redis.password, "s3cr3t-pw");
    assert_false(c.cache.enabled);
    assert_int_equal(c.cache.ttl, 60);
    assert_true(c.rules.victim.bps == 2e6 && c.rules.victim.syn_ack_ratio == 2.5);
    assert_true(c.rules.victim.reflector_pps == 0); /* null disables */
    assert_true(c.rules.attacker.reflector_pps == 70 && c.rules.attacker.distinct_sources == 50);
    assert_int_equal(c.rules.hostgroups.n, 2);
    const struct config_hostgroup *web = &c.rules.hostgroups.items[0];
    assert_string_equal(web->name, "web");
    assert_int_equal(web->cidrs.n, 2);
    assert_int_equal(web->cidrs.items[1].version, 6);
    assert_int_equal(web->cidrs.items[1].prefix_len, 32);
    assert_true(web->victim.pps == 900000); /* overridden */
    assert_true(web->victim.bps == 2e6);    /* inherited from rules.victim */
    assert_true(web->attacker.syn_per_s == 30);
    const struct config_hostgroup *dns = &c.rules.hostgroups.items[1];
    assert_int_equal(dns->cidrs.items[0].prefix_len, 32);
    assert_true(dns->attacker.bps == 0 && dns->attacker.pps == 10);
    assert_int_equal(c.rules.whitelist.sources.n, 1);
    assert_int_equal(c.rules.whitelist.sources.items[0].prefix_len, 8);
    assert_int_equal(c.rules.whitelist.destinations.items[0].prefix_len, 128);
    assert_true(c.api.listen.enabled);
    assert_string_equal(c.api.listen.host, "::1");
    assert_int_equal(c.api.listen.port, 9000);
    assert_int_equal(c.api.threads, 2);
    assert_int_equal(c.api.max_connections, 50);
    assert_true(c.api.timeout == 2.5);
    assert_int_equal(c.api.body_limit, 1024);
    assert_int_equal(c.decisions.levels, CONFIG_LEVEL_MEDIUM | CONFIG_LEVEL_CRITICAL);
    assert_int_equal(c.decisions.roles, CONFIG_ROLE_ATTACKER | CONFIG_ROLE_VICTIM);
    assert_int_equal(c.bouncer_keys.n, 1);
    assert_string_equal(c.bouncer_keys.items[0].name, "DDT_BOUNCER_FW");
    assert_string_equal(c.bouncer_keys.items[0].key, "0123456789abcdef0123");
    assert_string_equal(c.log.dir, "/var/log/ddosd");
    assert_int_equal(c.log.level, LOG_LEVEL_DEBUG);
    assert_string_equal(c.notify.script, "/usr/local/bin/notify");
    assert_true(c.notify.timeout == 3);
    assert_string_equal(c.user, "ddosd");
    config_free(&c);
}

static void test_config_example_loads(void **state)
{
    (void)state;
    char path[4200], envx[4200];
    snprintf(path, sizeof(path), "%s/config/config.example.json", test_source_root());
    snprintf(envx, sizeof(envx), "%s/config/env.example", test_source_root());
    unsetenv("REDIS_HOST");
    unsetenv("REDIS_PORT");
    unsetenv("REDIS_DB");
    unsetenv("REDIS_PASSWORD");
    unsetenv("REDIS_URL");
    unsetenv("DDOSD_SENSOR_ID");
    /* The example's .env, made private as the docs say, next to a copy of nothing: given. */
    FILE *in = fopen(envx, "r");
    assert_non_null(in);
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *dir = test_tmpdir();
    char *env = test_write(dir, ".env", text, 0600);

    struct ddosd_config c, d;
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(config_set_env_file(&c, env), 0);
    int rc = config_load_file(path, &c, errbuf, sizeof(errbuf));
    if (rc != 0)
        fail_msg("%s", errbuf);
    assert_true(c.redis.enabled);
    assert_string_equal(c.redis.password, "");
    assert_string_equal(config_env_lookup(&c, "SECRET_KEY"), "change-me");
    /* Every key holds its default: the dumps agree once Redis is switched on in both. */
    assert_int_equal(config_defaults(&d), 0);
    d.redis.enabled = true;
    char *a = test_dump(&c), *b = test_dump(&d);
    assert_string_equal(a, b);
    free(a);
    free(b);
    config_free(&c);
    config_free(&d);

    /* Without REDIS_PASSWORD anywhere the example must say where to set it. */
    assert_int_equal(config_defaults(&c), 0);
    char *empty = test_write(dir, "empty.env", "# nothing\n", 0600);
    assert_int_equal(config_set_env_file(&c, empty), 0);
    assert_int_not_equal(config_load_file(path, &c, errbuf, sizeof(errbuf)), 0);
    char want[8192];
    snprintf(want, sizeof(want),
             "%s: redis.password: ${REDIS_PASSWORD} is not set; set REDIS_PASSWORD in the "
             "environment or in %s, or give a default: ${REDIS_PASSWORD:-value}",
             path, empty);
    assert_string_equal(errbuf, want);
    config_free(&c);
    char *files[] = {env, empty};
    test_rmdir(dir, files, 2);
}

/* ---- placeholders ------------------------------------------------------------------------ */

static void test_config_placeholder_sources(void **state)
{
    (void)state;
    struct ddosd_config c;
    setenv("DDT_HOST", "from-env", 1);
    unsetenv("DDT_UNSET");
    unsetenv("DDT_EMPTY");
    /* environment wins over .env; .env fills the rest; defaults apply when unset or empty */
    test_load_ok("{\"redis\": {\"host\": \"${DDT_HOST}\"},"
                 " \"log\": {\"dir\": \"/var/${DDT_FILEONLY}/x\"},"
                 " \"notify\": {\"script\": \"${DDT_UNSET:-/bin/true}\"},"
                 " \"user\": \"${DDT_EMPTY:-nobody}\","
                 " \"capture\": {\"filter\": \"port $$5 and ${DDT_UNSET:-}$\"}}",
                 "DDT_HOST=from-file\nDDT_FILEONLY=log\nDDT_EMPTY=\n", &c);
    assert_string_equal(c.redis.host, "from-env");
    assert_string_equal(c.log.dir, "/var/log/x");
    assert_string_equal(c.notify.script, "/bin/true");
    assert_string_equal(c.user, "nobody");
    assert_string_equal(c.capture.filter, "port $5 and $");
    config_free(&c);
    unsetenv("DDT_HOST");
}

static void test_config_placeholder_errors(void **state)
{
    (void)state;
    unsetenv("DDT_MISSING");
    test_load_err("{\"log\": {\"dir\": \"${DDT_MISSING}\"}}", NULL,
                  "config.json: log.dir: ${DDT_MISSING} is not set; set DDT_MISSING in the "
                  "environment or in a .env file, or give a default: ${DDT_MISSING:-value}");
    test_load_err("{\"log\": {\"dir\": \"${DDT_MISSING}\"}}", "A=1\n",
                  "config.json: log.dir: ${DDT_MISSING} is not set; set DDT_MISSING in the "
                  "environment or in test.env, or give a default: ${DDT_MISSING:-value}");
    test_load_err("{\"log\": {\"dir\": \"x${DDT_MISSING\"}}", NULL,
                  "config.json: log.dir: unterminated ${ (a placeholder is ${NAME} or "
                  "${NAME:-default}; write $$ for a literal $)");
    test_load_err("{\"log\": {\"dir\": \"${1BAD}\"}}", NULL,
                  "config.json: log.dir: bad placeholder \"${1BAD}\": write ${NAME} or "
                  "${NAME:-default} with a NAME of letters, digits and _");
    test_load_err_has("{\"log\": {\"dir\": \"${A-b}\"}}", NULL, "bad placeholder");
    test_load_err("{\"log\": {\"dir\": \"${DDT_BIN}\"}}", "DDT_BIN=\xff\xfe\n",
                  "config.json: log.dir is not valid UTF-8 after ${} expansion (check the "
                  "variables it uses)");
    /* inside arrays, the index is part of the path */
    test_load_err_has("{\"capture\": {\"files\": [\"a\", \"${DDT_MISSING}\"]}}", NULL,
                      "config.json: capture.files[1]: ${DDT_MISSING} is not set");
}

static void test_config_placeholder_typed(void **state)
{
    (void)state;
    struct ddosd_config c;
    setenv("DDT_PORT", "6390", 1);
    test_load_ok("{\"redis\": {\"port\": \"${DDT_PORT}\", \"db\": \"${DDT_DB:-2}\","
                 " \"enabled\": \"${DDT_ON}\"},"
                 " \"ml_model\": {\"threshold\": \"${DDT_T}\"},"
                 " \"rules\": {\"victim\": {\"pps\": \"${DDT_NOPPS:-}\"}},"
                 " \"flows\": {\"idle_timeout\": \"${DDT_IDLE}\"}}",
                 "DDT_ON=false\nDDT_T=0.75\nDDT_IDLE=2.5e1\n", &c);
    assert_int_equal(c.redis.port, 6390);
    assert_int_equal(c.redis.db, 2);
    assert_false(c.redis.enabled);
    assert_true(c.ml_model.threshold == 0.75);
    assert_true(c.rules.victim.pps == 0); /* "" from a placeholder is null for a nullable key */
    assert_true(c.flows.idle_timeout == 25);
    config_free(&c);

    unsetenv("DDT_PORT");
    test_load_err("{\"redis\": {\"port\": \"${DDT_PORT}\"}}", "DDT_PORT=abc\n",
                  "config.json: redis.port must be an integer between 1 and 65535, got \"abc\" "
                  "(from \"${DDT_PORT}\")");
    test_load_err("{\"redis\": {\"port\": \"${DDT_PORT}0\"}}", "DDT_PORT=1\n",
                  "config.json: redis.port must be an integer between 1 and 65535, got \"10\" "
                  "(from \"${DDT_PORT}0\") (write numbers without quotes)");
    test_load_err("{\"redis\": {\"port\": \"6379\"}}", NULL,
                  "config.json: redis.port must be an integer between 1 and 65535, got \"6379\" "
                  "(write numbers without quotes)");
    test_load_err("{\"cache\": {\"enabled\": \"${DDT_B}\"}}", "DDT_B=maybe\n",
                  "config.json: cache.enabled must be true or false, got \"maybe\" (from "
                  "\"${DDT_B}\")");
    test_load_err("{\"redis\": {\"port\": \"${DDT_P}\"}}", "DDT_P=0x10\n",
                  "config.json: redis.port must be an integer between 1 and 65535, got \"0x10\" "
                  "(from \"${DDT_P}\")");
}

/* ---- unknown keys ------------------------------------------------------------------------ */

static void test_config_unknown_key_suggestion(void **state)
{
    (void)state;
    test_load_err("{\"rules\": {\"victim\": {\"ppps\": 5}}}", NULL,
                  "config.json: unknown key \"rules.victim.ppps\"; did you mean "
                  "\"rules.victim.pps\"?");
    test_load_err("{\"rdis\": {}}", NULL,
                  "config.json: unknown key \"rdis\"; did you mean "
                  "\"redis\"?");
    test_load_err("{\"flows\": {\"idle_timout\": 5}}", NULL,
                  "config.json: unknown key \"flows.idle_timout\"; did you mean "
                  "\"flows.idle_timeout\"?");
    test_load_err("{\"redis\": {\"prot\": 5}}", NULL,
                  "config.json: unknown key \"redis.prot\"; did you mean \"redis.port\"?");
    test_load_err("{\"redis\": {\"ttl\": 5}}", NULL,
                  "config.json: unknown key \"redis.ttl\"; did you mean \"cache.ttl\"?");
    test_load_err("{\"rules\": {\"hostgroups\": [{\"name\": \"a\", \"cidr\": []}]}}", NULL,
                  "config.json: unknown key \"rules.hostgroups[0].cidr\"; did you mean "
                  "\"rules.hostgroups[0].cidrs\"?");
    test_load_err("{\"cache\": {\"zzzzzz\": 1}}", NULL,
                  "config.json: unknown key \"cache.zzzzzz\" (valid keys here: enabled, ttl)");
    test_load_err("{\"api\": {\"secret_key\": \"x\"}}", NULL,
                  "config.json: \"api.secret_key\" does not belong in config.json: secrets live "
                  "only in the environment or in .env (e.g. SECRET_KEY=...)");
    test_load_err_has("{\"redis.port\": 1}", NULL, "write nested objects, not dotted names");
}

/* ---- type and range errors ------------------------------------------------------------- */

struct msg_case {
    const char *json;
    const char *msg;
};

/* Weak keys (issue 15, defect 7): placeholders, short keys, one repeated character; SECRET_KEY
 * is refused by config_validate when the API is on, a bouncer key while loading. */
static void test_config_weak_keys(void **state)
{
    (void)state;
    const char *weak[][2] = {
        {"change-me", "is a placeholder"},
        {"CHANGEME", "is a placeholder"},
        {"change_me_0123456789abcdef", "is a placeholder"},
        {"Your-Secret-Key", "is a placeholder"},
        {"your_secret_key_here_please", "is a placeholder"},
        {"secret", "is a placeholder"},
        {"S.E.C.R.E.T", "is a placeholder"},
        {"password", "is a placeholder"},
        {"example", "is a placeholder"},
        {"x", "is too short"},
        {"0123456789abcde", "is too short"},
        {"zzzzzzzzzzzzzzzzzzzz", "repeats one character"},
    };
    for (size_t i = 0; i < DD_ARRAY_LEN(weak); i++) {
        const char *why = config_key_weakness(weak[i][0], CONFIG_SECRET_KEY_MIN);
        if (why == NULL || strcmp(why, weak[i][1]) != 0)
            fail_msg("key %s: got %s, want %s", weak[i][0], why ? why : "(accepted)", weak[i][1]);
    }
    assert_null(config_key_weakness("9f86d081884c7d659a2feaa0c55ad015", CONFIG_SECRET_KEY_MIN));
    assert_null(config_key_weakness("itest-secret-key-0123456789abcdef", CONFIG_SECRET_KEY_MIN));
    assert_null(config_key_weakness("0123456789abcdef", CONFIG_SECRET_KEY_MIN));

    /* SECRET_KEY: refused with how to make one; unset, empty or without an API it is fine. */
    struct ddosd_config c;
    test_load_ok("{}", "SECRET_KEY=change-me\n", &c);
    assert_int_not_equal(config_validate(&c, errbuf, sizeof(errbuf)), 0);
    assert_string_equal(errbuf, "configuration: SECRET_KEY is a placeholder: anyone could guess "
                                "it; make a random one with `openssl rand -hex 32` and set it in "
                                "the environment or in test.env");
    config_free(&c);
    test_load_ok("{}", "SECRET_KEY=x\n", &c);
    assert_int_not_equal(config_validate(&c, errbuf, sizeof(errbuf)), 0);
    assert_string_equal(errbuf, "configuration: SECRET_KEY is too short (1 character; it needs "
                                "at least 16): make one with `openssl rand -hex 32` and set it "
                                "in the environment or in test.env");
    assert_null(strstr(errbuf, "'x'"));
    c.api.listen.enabled = false; /* --api none: no API, no key */
    assert_int_equal(config_validate(&c, errbuf, sizeof(errbuf)), 0);
    config_free(&c);
    test_load_ok("{}", "SECRET_KEY=\n", &c);
    assert_int_equal(config_validate(&c, errbuf, sizeof(errbuf)), 0);
    config_free(&c);
    test_load_ok("{}", "SECRET_KEY=9f86d081884c7d659a2feaa0c55ad015\n", &c);
    assert_int_equal(config_validate(&c, errbuf, sizeof(errbuf)), 0);
    config_free(&c);

    /* A bouncer key long enough but a placeholder. */
    test_load_err("{\"bouncer_keys\": [\"DDT_PH\"]}", "DDT_PH=changeme-changeme-changeme\n",
                  "config.json: bouncer_keys[0]: DDT_PH is a placeholder; a bouncer key must be "
                  "random (generate one: openssl rand -hex 32)");
}

static void test_config_type_and_range_errors(void **state)
{
    (void)state;
    static const struct msg_case cases[] = {
        {"{\"rules\": {\"victim\": {\"pps\": \"abc\"}}}",
         "config.json: rules.victim.pps must be a positive number, got \"abc\""},
        {"{\"rules\": {\"attacker\": {\"bps\": 0}}}",
         "config.json: rules.attacker.bps must be a positive number, got 0"},
        {"{\"rules\": {\"hostgroups\": [{\"name\": \"a\", \"cidrs\": [\"10.0.0.0/8\"],"
         " \"victim\": {\"syn_ack_ratio\": -1}}]}}",
         "config.json: rules.hostgroups[0].victim.syn_ack_ratio must be a positive number, got "
         "-1"},
        {"{\"redis\": {\"port\": 70000}}",
         "config.json: redis.port must be an integer between 1 and 65535, got 70000"},
        {"{\"redis\": {\"port\": 6379.5}}",
         "config.json: redis.port must be an integer between 1 and 65535, got 6379.5"},
        {"{\"redis\": {\"port\": null}}",
         "config.json: redis.port must be an integer between 1 and 65535, got null"},
        {"{\"redis\": {\"host\": \"\"}}", "config.json: redis.host must not be empty"},
        {"{\"redis\": {\"host\": \"a b\"}}",
         "config.json: redis.host must be a host name or an IP address, got \"a b\""},
        {"{\"redis\": {\"password\": \"hunter2\"}}",
         "config.json: redis.password must not hold the secret itself: write a placeholder "
         "such as \"${REDIS_PASSWORD}\" and set the value in the environment or in .env"},
        {"{\"redis\": {\"password\": 12345}}",
         "config.json: redis.password must be a string, got a number"},
        {"{\"redis\": {\"url\": \"redis://:hunter2@h:1/2\"}}",
         "config.json: redis.url must not hold the password itself: write "
         "redis://:${REDIS_PASSWORD}@host:port/db (or use redis.password) and set "
         "REDIS_PASSWORD in the environment or in .env"},
        {"{\"redis\": {\"url\": \"http://h\"}}",
         "config.json: redis.url must be redis://[[user]:password@]host[:port][/db] or \"none\": "
         "it must start with redis://"},
        {"{\"capture\": {\"promiscuous\": \"yes\"}}",
         "config.json: capture.promiscuous must be true or false, got \"yes\" (write true or "
         "false without quotes)"},
        {"{\"capture\": {\"promiscuous\": 1}}",
         "config.json: capture.promiscuous must be true or false, got 1"},
        {"{\"capture\": {\"snaplen\": 10}}",
         "config.json: capture.snaplen must be an integer between 64 and 262144, got 10"},
        {"{\"capture\": {\"threads\": 0}}",
         "config.json: capture.threads must be an integer between 1 and 64, got 0"},
        {"{\"capture\": {\"interfaces\": \"eth0\"}}",
         "config.json: capture.interfaces must be an array of strings, got \"eth0\""},
        {"{\"capture\": {\"interfaces\": [\"eth0\", 7]}}",
         "config.json: capture.interfaces[1] must be a string, got 7"},
        {"{\"capture\": {\"interfaces\": [\"\"]}}",
         "config.json: capture.interfaces[0] must not be empty"},
        {"{\"capture\": {\"interfaces\": [\"averyveryverylongname\"]}}",
         "config.json: capture.interfaces[0] must be an interface name (at most 15 characters, "
         "e.g. \"eth0\"), got \"averyveryverylongname\""},
        {"{\"flows\": {\"mode\": \"fixd\"}}",
         "config.json: flows.mode must be one of \"fixed\", \"cic\", got \"fixd\"; did you mean "
         "\"fixed\"?"},
        {"{\"flows\": {\"active_timeout\": 0}}",
         "config.json: flows.active_timeout must be a number greater than 0 and at most 4000, "
         "got 0"},
        {"{\"flows\": {\"idle_timeout\": -1}}",
         "config.json: flows.idle_timeout must be a number between 0 and 4000, got -1"},
        {"{\"flows\": {\"max_flows\": 1}}",
         "config.json: flows.max_flows must be an integer between 16 and 1073741824, got 1"},
        {"{\"flows\": {\"idle_timeout\": 200}}",
         "config.json: flows.idle_timeout (200 s) is longer than flows.active_timeout (120 s)"},
        {"{\"flows\": {\"mode\": \"cic\", \"idle_timeout\": 5}}",
         "config.json: flows.idle_timeout applies to mode \"fixed\" only; set it to 0 (or leave "
         "it out) with flows.mode \"cic\""},
        {"{\"ml_model\": {\"threshold\": 1.5}}",
         "config.json: ml_model.threshold must be a number between 0 and 1, got 1.5"},
        {"{\"ml_model\": {\"path\": 5}}", "config.json: ml_model.path must be a string, got 5"},
        {"{\"scoring\": {\"interval\": -0.5}}",
         "config.json: scoring.interval must be a number between 0 and 3600, got -0.5"},
        {"{\"cache\": {\"ttl\": 0}}",
         "config.json: cache.ttl must be an integer between 1 and 2592000, got 0"},
        {"{\"api\": {\"listen\": \"8000\"}}",
         "config.json: api.listen must be HOST:PORT (e.g. \"127.0.0.1:8000\", \"[::1]:8000\") "
         "or \"none\", got \"8000\": the port is missing"},
        {"{\"api\": {\"listen\": \"::1:8000\"}}",
         "config.json: api.listen must be HOST:PORT (e.g. \"127.0.0.1:8000\", \"[::1]:8000\") "
         "or \"none\", got \"::1:8000\": write an IPv6 address in brackets, e.g. [::1]:8000"},
        {"{\"api\": {\"listen\": \"127.0.0.1:0\"}}",
         "config.json: api.listen must be HOST:PORT (e.g. \"127.0.0.1:8000\", \"[::1]:8000\") "
         "or \"none\", got \"127.0.0.1:0\": the port must be 1 to 65535"},
        {"{\"api\": {\"timeout\": 0}}",
         "config.json: api.timeout must be a number greater than 0 and at most 3600, got 0"},
        {"{\"decisions\": {\"levels\": [\"hgih\"]}}",
         "config.json: decisions.levels[0] must be one of \"low\", \"medium\", \"high\", "
         "\"critical\", got \"hgih\"; did you mean \"high\"?"},
        {"{\"decisions\": {\"levels\": \"high\"}}",
         "config.json: decisions.levels must be an array of threat levels, got \"high\""},
        {"{\"decisions\": {\"roles\": [\"attacker\", \"victm\"]}}",
         "config.json: decisions.roles[1] must be one of \"attacker\", \"victim\", got \"victm\"; "
         "did you mean \"victim\"?"},
        {"{\"decisions\": {\"roles\": [\"bystander\"]}}",
         "config.json: decisions.roles[0] must be one of \"attacker\", \"victim\", got "
         "\"bystander\""},
        {"{\"decisions\": {\"roles\": \"victim\"}}",
         "config.json: decisions.roles must be an array of roles, got \"victim\""},
        {"{\"decisions\": {\"roles\": [3]}}",
         "config.json: decisions.roles[0] must be one of \"attacker\", \"victim\", got 3"},
        {"{\"log\": {\"level\": \"verbose\"}}",
         "config.json: log.level must be one of \"error\", \"warn\", \"info\", \"debug\", got "
         "\"verbose\""},
        {"{\"sensor\": []}", "config.json: sensor must be an object, got an array"},
        {"[]", "config.json: the top level must be a JSON object ({ ... }), got an array"},
        {"{\"sensor\": {\"id\": \"a b\"}}",
         "config.json: sensor.id must be up to 63 letters, digits, '.', '_', ':' or '-' (\"\" "
         "for the host name), got \"a b\""},
        {"{\"user\": \"-x\"}",
         "config.json: user must be a user name (e.g. \"ddosd\") or \"\", got \"-x\""},
        {"{\"notify\": {\"timeout\": \"5\"}}",
         "config.json: notify.timeout must be a number greater than 0 and at most 3600, got "
         "\"5\" (write numbers without quotes)"},
        {"{\"rules\": {\"hostgroups\": [{\"cidrs\": [\"10.0.0.0/8\"]}]}}",
         "config.json: rules.hostgroups[0].name is required"},
        {"{\"rules\": {\"hostgroups\": [{\"name\": \"a\"}]}}",
         "config.json: rules.hostgroups[0].cidrs is required: the addresses of the group, e.g. "
         "[\"192.0.2.0/24\"]"},
        {"{\"rules\": {\"hostgroups\": [{\"name\": \"a\", \"cidrs\": []}]}}",
         "config.json: rules.hostgroups[0].cidrs must list at least one CIDRs"},
        {"{\"rules\": {\"hostgroups\": [{\"name\": \"a\", \"cidrs\": [\"10.0.0.0/8\"]},"
         " {\"name\": \"a\", \"cidrs\": [\"10.0.0.0/8\"]}]}}",
         "config.json: rules.hostgroups[1].name \"a\" is already used by rules.hostgroups[0]"},
        {"{\"rules\": {\"hostgroups\": [5]}}",
         "config.json: rules.hostgroups[0] must be an object, got 5"},
        {"{\"rules\": {\"whitelist\": {\"sources\": [\"10.0.0.1/24\"]}}}",
         "config.json: rules.whitelist.sources[0]: \"10.0.0.1/24\" has host bits set; did you "
         "mean \"10.0.0.0/24\"?"},
        {"{\"rules\": {\"whitelist\": {\"destinations\": [\"10.0.0.0/33\"]}}}",
         "config.json: rules.whitelist.destinations[0]: \"10.0.0.0/33\": the prefix length must "
         "be 0 to 32"},
        {"{\"bouncer_keys\": [\"0123456789abcdef-literal\"]}",
         "config.json: bouncer_keys[0] must name the environment variable that holds a "
         "bouncer's key (e.g. \"BOUNCER_KEY_FIREWALL\"), not the key itself"},
        {"{\"bouncer_keys\": [\"DDT_NO_SUCH_KEY\"]}",
         "config.json: bouncer_keys[0]: DDT_NO_SUCH_KEY is not set; set it in the environment "
         "or in a .env file"},
        {"{\"capture\": {\"snaplen\": 1,}}",
         "config.json:1:27: invalid JSON: string or '}' expected near '}'"},
        {"{\"redis\": {\"port\": 1, \"port\": 2}}",
         "config.json:1:28: invalid JSON: duplicate object key near '\"port\"'"},
    };
    unsetenv("DDT_NO_SUCH_KEY");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ddosd_config c;
        int rc = test_load(cases[i].json, NULL, &c);
        if (rc == 0 || strcmp(errbuf, cases[i].msg) != 0)
            fail_msg("case %zu: %s\n  got:  %s\n  want: %s", i, cases[i].json, errbuf,
                     cases[i].msg);
        config_free(&c);
    }
    /* Secrets are never echoed, even when they fail a check. */
    test_load_err("{\"bouncer_keys\": [\"DDT_SHORT\"]}", "DDT_SHORT=tooshort\n",
                  "config.json: bouncer_keys[0]: DDT_SHORT holds 8 characters; a bouncer key "
                  "needs at least 16 (generate one: openssl rand -hex 32)");
    test_load_err("{\"bouncer_keys\": [\"DDT_K\", \"DDT_K\"]}", "DDT_K=0123456789abcdef\n",
                  "config.json: bouncer_keys[1]: DDT_K is listed twice");
    test_load_err_has("{\"redis\": {\"url\": \"${DDT_U}\"}}", "DDT_U=redis://:pw%zz@h\n",
                      "bad %-escape");
    /* Limits: a string longer than CONFIG_STRING_MAX after expansion. */
    char *big = malloc(CONFIG_STRING_MAX + 64);
    assert_non_null(big);
    int n = sprintf(big, "{\"log\": {\"dir\": \"");
    memset(big + n, 'x', CONFIG_STRING_MAX + 1);
    strcpy(big + n + CONFIG_STRING_MAX + 1, "\"}}");
    test_load_err(big, NULL,
                  "config.json: log.dir is longer than 4096 bytes (after ${} "
                  "expansion)");
    free(big);
}

static void test_config_cic_mode_idle_default(void **state)
{
    (void)state;
    struct ddosd_config c;
    test_load_ok("{\"flows\": {\"mode\": \"cic\"}}", NULL, &c);
    assert_int_equal(c.flows.mode, CONFIG_FLOWS_CIC);
    assert_true(c.flows.idle_timeout == 0);
    config_free(&c);
    /* a redis section switches Redis on unless it says otherwise */
    test_load_ok("{\"redis\": {}}", NULL, &c);
    assert_true(c.redis.enabled);
    config_free(&c);
    test_load_ok("{\"redis\": {\"enabled\": false}}", NULL, &c);
    assert_false(c.redis.enabled);
    config_free(&c);
}

/* ---- CIDRs --------------------------------------------------------------------------------- */

static void test_config_cidr_parse_v4_v6(void **state)
{
    (void)state;
    struct cidr c;
    char buf[64];
    assert_int_equal(cidr_parse("10.0.0.0/8", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.version, 4);
    assert_int_equal(c.prefix_len, 8);
    assert_int_equal(c.addr[0], 10);
    assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8");
    assert_int_equal(cidr_parse("192.0.2.7", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.prefix_len, 32);
    assert_int_equal(cidr_parse("0.0.0.0/0", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.prefix_len, 0);
    assert_int_equal(cidr_parse("2001:DB8::/32", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.version, 6);
    assert_int_equal(c.prefix_len, 32);
    assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "2001:db8::/32");
    assert_int_equal(cidr_parse("::/0", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(cidr_parse("fe80::1", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.prefix_len, 128);
    assert_int_equal(cidr_parse("2001:db8::/127", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
}

static void test_config_cidr_parse_rejects_bad(void **state)
{
    (void)state;
    static const struct msg_case cases[] = {
        {"10.0.0.1/24", "\"10.0.0.1/24\" has host bits set; did you mean \"10.0.0.0/24\"?"},
        {"2001:db8::1/64", "\"2001:db8::1/64\" has host bits set; did you mean \"2001:db8::/64\"?"},
        {"10.0.0.0/33", "\"10.0.0.0/33\": the prefix length must be 0 to 32"},
        {"::/129", "\"::/129\": the prefix length must be 0 to 128"},
        {"10.0.0.0/", "\"10.0.0.0/\": the prefix length must be 0 to 32"},
        {"10.0.0.0/-1", "\"10.0.0.0/-1\": the prefix length must be 0 to 32"},
        {"10.0.0.0/8/8", "\"10.0.0.0/8/8\": the prefix length must be 0 to 32"},
        {"10.0.0.0/ 8", "\"10.0.0.0/ 8\": the prefix length must be 0 to 32"},
        {"10.0.0/8", "\"10.0.0/8\" is not an IPv4 or IPv6 address or CIDR (e.g. \"10.0.0.0/8\", "
                     "\"2001:db8::/32\")"},
        {"256.0.0.0/8", "\"256.0.0.0/8\" is not an IPv4 or IPv6 address or CIDR (e.g. "
                        "\"10.0.0.0/8\", \"2001:db8::/32\")"},
        {"", "\"\" is not an IPv4 or IPv6 address or CIDR"},
        {"/8", "\"/8\" is not an IPv4 or IPv6 address or CIDR"},
        {"example.com/8", "\"example.com/8\" is not an IPv4 or IPv6 address or CIDR (e.g. "
                          "\"10.0.0.0/8\", \"2001:db8::/32\")"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cidr c;
        if (cidr_parse(cases[i].json, CIDR_STRICT, &c, errbuf, sizeof(errbuf)) == 0 ||
            strcmp(errbuf, cases[i].msg) != 0)
            fail_msg("case %s: got %s", cases[i].json, errbuf);
    }
}

static void test_config_cidr_contains(void **state)
{
    (void)state;
    struct cidr c;
    uint8_t in4[16] = {192, 0, 2, 200}, out4[16] = {192, 0, 3, 1};
    assert_int_equal(cidr_parse("192.0.2.128/25", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_true(cidr_contains(&c, 4, in4));
    in4[3] = 127;
    assert_false(cidr_contains(&c, 4, in4));
    assert_false(cidr_contains(&c, 4, out4));
    assert_false(cidr_contains(&c, 6, in4));
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff};
    assert_int_equal(cidr_parse("2001:db8::/32", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_true(cidr_contains(&c, 6, v6));
    v6[3] = 0xb9;
    assert_false(cidr_contains(&c, 6, v6));
    assert_int_equal(cidr_parse("0.0.0.0/0", CIDR_STRICT, &c, errbuf, sizeof(errbuf)), 0);
    assert_true(cidr_contains(&c, 4, out4));
}

/* The manifests' leniency: host bits are cleared, not refused; the prefix is still checked. */
static void test_cidr_parse_host_bits_ok(void **state)
{
    (void)state;
    struct cidr c;
    char buf[64];
    assert_int_equal(cidr_parse("10.1.2.3/8", CIDR_HOST_BITS_OK, &c, errbuf, sizeof(errbuf)), 0);
    assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8");
    assert_int_equal(cidr_parse("2001:db8::1/64", CIDR_HOST_BITS_OK, &c, NULL, 0), 0);
    assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "2001:db8::/64");
    assert_int_equal(cidr_parse("10.1.2.3/33", CIDR_HOST_BITS_OK, &c, NULL, 0), -EINVAL);
    assert_int_equal(cidr_parse("10.1.2.3/8", CIDR_STRICT, &c, NULL, 0), -EINVAL);
}

/* Lists: any match, and the longest matching prefix (what picks a host group). */
static void test_cidr_lists(void **state)
{
    (void)state;
    struct cidr items[4];
    const char *texts[] = {"10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "10.1.2.0/24"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(cidr_parse(texts[i], CIDR_STRICT, &items[i], errbuf, sizeof(errbuf)), 0);
    struct cidr_list l = {items, 4}, empty = {NULL, 0};
    uint8_t a[16] = {10, 1, 2, 3}, b[16] = {10, 9, 9, 9}, c[16] = {11, 0, 0, 1};
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(cidr_list_longest(&l, 4, a), 24);
    assert_int_equal(cidr_list_longest(&l, 4, b), 8);
    assert_int_equal(cidr_list_longest(&l, 4, c), -1);
    assert_int_equal(cidr_list_longest(&l, 6, v6), 32);
    assert_int_equal(cidr_list_longest(&l, 6, a), -1);
    assert_true(cidr_list_contains(&l, 4, b));
    assert_false(cidr_list_contains(&l, 4, c));
    assert_false(cidr_list_contains(&empty, 4, a));
    assert_int_equal(cidr_list_longest(&empty, 4, a), -1);
}

/* ---- .env files ---------------------------------------------------------------------------- */

static struct env_file *test_env(const char *text)
{
    struct env_file *f = NULL;
    int rc = env_file_parse(text, strlen(text), "t.env", &f, errbuf, sizeof(errbuf));
    if (rc != 0)
        fail_msg("unexpected error: %s", errbuf);
    return f;
}

static void test_env_file_syntax(void **state)
{
    (void)state;
    struct env_file *f = test_env("# comment\n"
                                  "\n"
                                  "   # indented comment\n"
                                  "PLAIN=value\n"
                                  "export EXPORTED=yes\n"
                                  "  SPACED  =   padded value   \n"
                                  "SQ='literal $HOME \\n # not a comment'\n"
                                  "DQ=\"a\\nb\\t\\\"q\\\" \\\\ \\$ \\x\"  # trailing comment\n"
                                  "HASH=a#b\n"
                                  "COMMENTED=value # a comment\n"
                                  "EMPTY=\n"
                                  "EMPTYQ=\"\"\n"
                                  "CRLF=dos\r\n"
                                  "DUP=first\n"
                                  "DUP=second\n"
                                  "URL=redis://:p=w@h:1/0\n"
                                  "export=notaprefix\n"
                                  "LAST=no-newline");
    assert_string_equal(env_file_get(f, "PLAIN"), "value");
    assert_string_equal(env_file_get(f, "EXPORTED"), "yes");
    assert_string_equal(env_file_get(f, "SPACED"), "padded value");
    assert_string_equal(env_file_get(f, "SQ"), "literal $HOME \\n # not a comment");
    assert_string_equal(env_file_get(f, "DQ"), "a\nb\t\"q\" \\ $ \\x");
    assert_string_equal(env_file_get(f, "HASH"), "a#b");
    assert_string_equal(env_file_get(f, "COMMENTED"), "value");
    assert_string_equal(env_file_get(f, "EMPTY"), "");
    assert_string_equal(env_file_get(f, "EMPTYQ"), "");
    assert_string_equal(env_file_get(f, "CRLF"), "dos");
    assert_string_equal(env_file_get(f, "DUP"), "second");
    assert_string_equal(env_file_get(f, "URL"), "redis://:p=w@h:1/0");
    assert_string_equal(env_file_get(f, "export"), "notaprefix");
    assert_string_equal(env_file_get(f, "LAST"), "no-newline");
    assert_null(env_file_get(f, "MISSING"));
    assert_int_equal(env_file_count(f), 14);
    assert_string_equal(env_file_name(f, 0), "PLAIN");
    assert_string_equal(env_file_value(f, 0), "value");
    assert_null(env_file_name(f, 99));
    assert_string_equal(env_file_path(f), "t.env");
    env_file_free(f);
    env_file_free(NULL);

    f = test_env("");
    assert_int_equal(env_file_count(f), 0);
    env_file_free(f);
}

static void test_env_file_environment_wins(void **state)
{
    (void)state;
    setenv("DDT_BOTH", "from-env", 1);
    struct env_file *f = test_env("DDT_BOTH=from-file\nDDT_FILE=only\n");
    assert_string_equal(env_file_lookup(f, "DDT_BOTH"), "from-env");
    assert_string_equal(env_file_get(f, "DDT_BOTH"), "from-file");
    assert_string_equal(env_file_lookup(f, "DDT_FILE"), "only");
    assert_null(getenv("DDT_FILE")); /* the library never calls setenv */
    assert_null(env_file_lookup(NULL, "DDT_FILE"));
    env_file_free(f);
    unsetenv("DDT_BOTH");
}

static void test_env_file_syntax_errors(void **state)
{
    (void)state;
    static const struct msg_case cases[] = {
        {"A=1\nJUSTTEXT\n", "t.env:2: expected KEY=VALUE"},
        {"1BAD=x\n", "t.env:1: invalid variable name (use letters, digits and _, not starting "
                     "with a digit)"},
        {"BAD-NAME=x\n", "t.env:1: invalid variable name (use letters, digits and _, not "
                         "starting with a digit)"},
        {"=x\n", "t.env:1: invalid variable name (use letters, digits and _, not starting with a "
                 "digit)"},
        {"A B=x\n", "t.env:1: expected KEY=VALUE"},
        {"export A\n", "t.env:1: expected KEY=VALUE"},
        {"A='open\nB=2\n", "t.env:1: unterminated single quote (a quoted value must close on its "
                           "line)"},
        {"A=\"open\\\"\n", "t.env:1: unterminated double quote (a quoted value must close on its "
                           "line; write \\n for a newline)"},
        {"A='x' y\n", "t.env:1: unexpected text after the closing quote (quote the whole value)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct env_file *f = NULL;
        int rc = env_file_parse(cases[i].json, strlen(cases[i].json), "t.env", &f, errbuf,
                                sizeof(errbuf));
        if (rc != -EINVAL || f != NULL || strcmp(errbuf, cases[i].msg) != 0)
            fail_msg("case %zu: got %d %s", i, rc, errbuf);
    }
    struct env_file *f = NULL;
    assert_int_equal(env_file_parse("A=1\0B=2", 7, "t.env", &f, errbuf, sizeof(errbuf)), -EINVAL);
    assert_string_equal(errbuf, "t.env contains a NUL byte; a .env file is text");
    /* a buffer that is not NUL-terminated is read only up to len */
    char raw[3] = {'A', '=', '1'};
    assert_int_equal(env_file_parse(raw, 3, NULL, &f, errbuf, sizeof(errbuf)), 0);
    assert_string_equal(env_file_get(f, "A"), "1");
    assert_string_equal(env_file_path(f), ".env");
    env_file_free(f);
}

static void test_env_file_permissions(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char *env = test_write(dir, ".env", "DDT_SECRET=abc\n", 0644);
    char want[1024];
    snprintf(want, sizeof(want),
             "%s holds secrets but group or others may access it (mode 0644); run: chmod 600 %s",
             env, env);
    assert_int_equal(env_file_check_permissions(env, errbuf, sizeof(errbuf)), -EPERM);
    assert_string_equal(errbuf, want);
    struct env_file *f = NULL;
    assert_int_equal(env_file_load(env, ENV_FILE_PRIVATE, &f, errbuf, sizeof(errbuf)), -EPERM);
    assert_null(f);
    assert_int_equal(env_file_load(env, 0, &f, errbuf, sizeof(errbuf)), 0); /* not asked */
    env_file_free(f);
    assert_int_equal(chmod(env, 0620), 0); /* group-writable is as bad */
    assert_int_equal(env_file_check_permissions(env, errbuf, sizeof(errbuf)), -EPERM);

    assert_int_equal(chmod(env, 0600), 0);
    assert_int_equal(env_file_check_permissions(env, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(env_file_load(env, ENV_FILE_PRIVATE, &f, errbuf, sizeof(errbuf)), 0);
    assert_string_equal(env_file_get(f, "DDT_SECRET"), "abc");
    env_file_free(f);
    assert_int_equal(env_file_check_permissions(dir, errbuf, sizeof(errbuf)), -EINVAL);

    /* The loader reads the .env next to config.json and refuses it when it is not private. */
    char *json = test_write(dir, "config.json", "{\"log\": {\"dir\": \"${DDT_SECRET}\"}}\n", 0644);
    unsetenv("DDT_SECRET");
    struct ddosd_config c;
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(config_load_file(json, &c, errbuf, sizeof(errbuf)), 0);
    assert_string_equal(c.log.dir, "abc");
    config_free(&c);
    assert_int_equal(chmod(env, 0644), 0);
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(config_load_file(json, &c, errbuf, sizeof(errbuf)), -EPERM);
    assert_string_equal(errbuf, want);
    config_free(&c);

    /* No .env next to config.json is fine; a named one must exist. */
    unlink(env);
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(config_load_file(json, &c, errbuf, sizeof(errbuf)), -EINVAL);
    assert_non_null(strstr(errbuf, "${DDT_SECRET} is not set"));
    config_free(&c);
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(config_set_env_file(&c, env), 0);
    assert_int_equal(config_load_file(json, &c, errbuf, sizeof(errbuf)), -ENOENT);
    snprintf(want, sizeof(want), "cannot open %s: No such file or directory", env);
    assert_string_equal(errbuf, want);
    config_free(&c);
    assert_int_equal(env_file_check_permissions(env, errbuf, sizeof(errbuf)), -ENOENT);

    /* A missing config.json says so. */
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(config_load_file("/nonexistent/ddosd.json", &c, errbuf, sizeof(errbuf)),
                     -ENOENT);
    assert_string_equal(errbuf, "cannot open /nonexistent/ddosd.json: No such file or directory "
                                "(give another one with -c)");
    config_free(&c);
    char *files[] = {env, json};
    test_rmdir(dir, files, 2);
}

/* ---- dump ---------------------------------------------------------------------------------- */

static void test_config_dump_masks_secrets(void **state)
{
    (void)state;
    struct ddosd_config c;
    test_load_ok(full_json, full_env, &c);
    char *out = test_dump(&c);
    assert_null(strstr(out, "s3cr3t-pw"));
    assert_null(strstr(out, "0123456789abcdef0123"));
    assert_non_null(strstr(out, "\"password\": \"***\""));
    assert_non_null(strstr(out, "\"DDT_BOUNCER_FW\""));
    assert_non_null(strstr(out, "\"listen\": \"[::1]:9000\""));
    assert_non_null(strstr(out, "\"2001:db8::/32\""));
    assert_non_null(strstr(out, "\"reflector_pps\": null"));
    assert_non_null(strstr(out, "\"levels\": [\n      \"medium\",\n      \"critical\"\n"));
    free(out);
    config_free(&c);
}

static void test_config_dump_round_trips(void **state)
{
    (void)state;
    struct ddosd_config c, d;
    /* Without a password (which dumps as ***), a dump loads back to the same configuration. */
    const char *json_no_pw = "{\"rules\": {\"hostgroups\": [{\"name\": \"g\", \"cidrs\": "
                             "[\"10.1.0.0/16\"], \"victim\": {\"pps\": 5}}]},"
                             " \"ml_model\": {\"threshold\": 0.3}, \"flows\": {\"idle_timeout\": "
                             "0.1}, \"bouncer_keys\": [\"DDT_BOUNCER_FW\"]}";
    test_load_ok(json_no_pw, full_env, &c);
    char *a = test_dump(&c);
    test_load_ok(a, full_env, &d);
    char *b = test_dump(&d);
    assert_string_equal(a, b);
    free(a);
    free(b);
    config_free(&c);
    config_free(&d);
}

/* ---- Redis URL ----------------------------------------------------------------------------- */

static void test_config_redis_url(void **state)
{
    (void)state;
    struct ddosd_config c;
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(
        config_apply_redis_url(&c, "redis://:p%40ss:w@cache.local:6380/4", errbuf, sizeof(errbuf)),
        0);
    assert_true(c.redis.enabled);
    assert_string_equal(c.redis.host, "cache.local");
    assert_int_equal(c.redis.port, 6380);
    assert_int_equal(c.redis.db, 4);
    assert_string_equal(c.redis.password, "p@ss:w");

    assert_int_equal(config_apply_redis_url(&c, "redis://[::1]", errbuf, sizeof(errbuf)), 0);
    assert_string_equal(c.redis.host, "::1");
    assert_int_equal(c.redis.port, 6379);
    assert_int_equal(c.redis.db, 0);
    assert_string_equal(c.redis.password, ""); /* a URL says everything: no password here */

    assert_int_equal(
        config_apply_redis_url(&c, "REDIS://default:pw@10.0.0.5:1/", errbuf, sizeof(errbuf)), 0);
    assert_string_equal(c.redis.password, "pw");
    assert_string_equal(c.redis.host, "10.0.0.5");
    assert_string_equal(c.redis.username, ""); /* "default" is AUTH <password> alone */

    /* An ACL user: AUTH user password. */
    assert_int_equal(
        config_apply_redis_url(&c, "redis://ddosd.w-1:pw@10.0.0.5:1/", errbuf, sizeof(errbuf)), 0);
    assert_string_equal(c.redis.username, "ddosd.w-1");
    assert_string_equal(c.redis.password, "pw");

    assert_int_equal(config_apply_redis_url(&c, "none", errbuf, sizeof(errbuf)), 0);
    assert_false(c.redis.enabled);
    assert_string_equal(c.redis.host, "10.0.0.5"); /* kept for --dump-config */

    static const struct msg_case bad[] = {
        {"rediss://h", "TLS (rediss://) is not supported"},
        {"h:6379", "it must start with redis://"},
        {"redis://", "the host is missing"},
        {"redis://:secretpw@", "the host is missing"},
        {"redis://b b:secretpw@h", "the user name may hold letters, digits, '.', '_' and '-' only"},
        {"redis://secretpw@h", "the part before @ must be :PASSWORD"},
        {"redis://h:0", "the port must be 1 to 65535"},
        {"redis://h:65536", "the port must be 1 to 65535"},
        {"redis://h:x", "the port must be 1 to 65535"},
        {"redis://h/abc", "the database must be a number (e.g. /0); query options are not "
                          "supported"},
        {"redis://h/0?timeout=1", "the database must be a number (e.g. /0); query options are "
                                  "not supported"},
        {"redis://[::1", "an IPv6 host is written [ADDR]"},
        {"redis://[nothex]:1", "the host is not a valid address or host name"},
        {"redis://[::1]x", "unexpected text after the host"},
        {"redis://:secretpw%4@h", "the password has a bad %-escape (write %XX, e.g. %40 for @)"},
        {"redis://:secret%00pw@h", "the password has a bad %-escape (write %XX, e.g. %40 for @)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[512];
        snprintf(want, sizeof(want),
                 "--redis: the Redis URL must be redis://[[user]:password@]host[:port][/db] or "
                 "\"none\": %s",
                 bad[i].msg);
        if (config_apply_redis_url(&c, bad[i].json, errbuf, sizeof(errbuf)) != -EINVAL ||
            strcmp(errbuf, want) != 0)
            fail_msg("case %s: got %s", bad[i].json, errbuf);
        assert_null(strstr(errbuf, "secret"));
        assert_false(c.redis.enabled); /* unchanged by a failure */
        assert_string_equal(c.redis.host, "10.0.0.5");
    }
    config_free(&c);

    /* In config.json the URL may carry its password only through a placeholder. */
    test_load_ok("{\"redis\": {\"host\": \"ignored\", \"url\": "
                 "\"redis://:${DDT_PW}@r.example:7000/2\"}}",
                 "DDT_PW=pw\n", &c);
    assert_true(c.redis.enabled);
    assert_string_equal(c.redis.host, "r.example");
    assert_int_equal(c.redis.port, 7000);
    assert_string_equal(c.redis.password, "pw");
    config_free(&c);
    test_load_ok("{\"redis\": {\"url\": \"none\"}}", NULL, &c);
    assert_false(c.redis.enabled);
    config_free(&c);
}

/* ---- command-line overrides ------------------------------------------------------------------ */

/* redis.username, redis.sentinels, redis.master_name, redis.read_from, redis.required. */
static void test_config_redis_sentinel_keys(void **state)
{
    (void)state;
    struct ddosd_config c;
    test_load_ok("{}", NULL, &c);
    assert_string_equal(c.redis.username, "");
    assert_int_equal(c.redis.sentinels.n, 0);
    assert_string_equal(c.redis.master_name, "mymaster");
    assert_int_equal(c.redis.read_from, CONFIG_READ_PRIMARY);
    assert_false(c.redis.required);
    config_free(&c);

    test_load_ok("{\"redis\": {\"username\": \"ddosd\", \"sentinels\": [\"10.0.0.5:26379\", "
                 "\"[::1]:26380\", \"sentinel-b.local:26381\"], \"master_name\": \"verdicts\", "
                 "\"read_from\": \"replica\", \"required\": true}}",
                 NULL, &c);
    assert_string_equal(c.redis.username, "ddosd");
    assert_int_equal(c.redis.sentinels.n, 3);
    assert_string_equal(c.redis.sentinels.items[1], "[::1]:26380");
    assert_string_equal(c.redis.master_name, "verdicts");
    assert_int_equal(c.redis.read_from, CONFIG_READ_REPLICA);
    assert_true(c.redis.required);
    config_free(&c);

    test_load_err("{\"redis\": {\"sentinels\": [\"10.0.0.5\"]}}", NULL,
                  "config.json: redis.sentinels[0] must be host:port (e.g. \"10.0.0.5:26379\"), "
                  "got \"10.0.0.5\"");
    test_load_err_has("{\"redis\": {\"sentinels\": [\"h:0\"]}}", NULL, "must be host:port");
    test_load_err_has("{\"redis\": {\"sentinels\": [\"h:1x\"]}}", NULL, "must be host:port");
    test_load_err_has("{\"redis\": {\"master_name\": \"\"}}", NULL, "redis.master_name");
    test_load_err_has("{\"redis\": {\"master_name\": \"a b\"}}", NULL, "redis.master_name");
    test_load_err_has("{\"redis\": {\"username\": \"x@y\"}}", NULL, "redis.username");
    test_load_err_has("{\"redis\": {\"read_from\": \"replicas\"}}", NULL, "redis.read_from");
}

static void test_config_set_overrides(void **state)
{
    (void)state;
    struct ddosd_config c;
    test_load_ok("{\"capture\": {\"interfaces\": [\"eth0\"], \"threads\": 2}}", NULL, &c);
    assert_int_equal(config_set(&c, "--threads", "capture.threads", "8", errbuf, sizeof(errbuf)),
                     0);
    assert_int_equal(c.capture.threads, 8);
    assert_int_equal(
        config_set(&c, "--model", "ml_model.path", "m.msgpack", errbuf, sizeof(errbuf)), 0);
    assert_string_equal(c.ml_model.path, "m.msgpack");
    assert_int_equal(config_set(&c, "--api", "api.listen", "none", errbuf, sizeof(errbuf)), 0);
    assert_false(c.api.listen.enabled);
    assert_int_equal(config_set(&c, "--api", "api.listen", "0.0.0.0:8080", errbuf, sizeof(errbuf)),
                     0);
    assert_true(c.api.listen.enabled);
    assert_int_equal(c.api.listen.port, 8080);
    assert_int_equal(
        config_set(&c, "--log-dir", "log.dir", "${NOT_EXPANDED}", errbuf, sizeof(errbuf)), 0);
    assert_string_equal(c.log.dir, "${NOT_EXPANDED}");
    assert_int_equal(config_set(&c, "-x", "cache.enabled", "false", errbuf, sizeof(errbuf)), 0);
    assert_false(c.cache.enabled);
    assert_int_equal(config_set(&c, "-x", "ml_model.threshold", "null", errbuf, sizeof(errbuf)), 0);
    assert_true(c.ml_model.threshold < 0);
    assert_int_equal(config_set(&c, "-x", "rules.victim.pps", "42", errbuf, sizeof(errbuf)), 0);
    assert_true(c.rules.victim.pps == 42);
    assert_int_equal(config_set(&c, "-i", "capture.interfaces", "eth9", errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.capture.interfaces.n, 1);
    assert_string_equal(c.capture.interfaces.items[0], "eth9");
    const char *files[] = {"a.pcap", "dir/"};
    assert_int_equal(config_set_list(&c, "-r", "capture.files", files, 2, errbuf, sizeof(errbuf)),
                     0);
    assert_int_equal(c.capture.files.n, 2);
    assert_string_equal(c.capture.files.items[1], "dir/");
    assert_int_equal(
        config_set_list(&c, "-r", "capture.interfaces", NULL, 0, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.capture.interfaces.n, 0);

    assert_int_equal(config_set(&c, "--threads", "capture.threads", "many", errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_string_equal(errbuf, "--threads: capture.threads must be an integer between 1 and 64, "
                                "got \"many\"");
    assert_int_equal(c.capture.threads, 8);
    assert_int_equal(config_set(&c, "--threads", "capture.thread", "2", errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_string_equal(errbuf, "--threads: unknown key \"capture.thread\"; did you mean "
                                "\"capture.threads\"?");
    assert_int_equal(config_set(&c, "-x", "capture", "2", errbuf, sizeof(errbuf)), -EINVAL);
    assert_int_equal(config_set(&c, "-x", "nope.deeper.key", "2", errbuf, sizeof(errbuf)), -EINVAL);
    assert_string_equal(errbuf, "-x: unknown key \"nope.deeper.key\"");
    assert_int_equal(config_set_list(&c, "-x", "capture.threads", files, 2, errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_string_equal(errbuf, "-x: capture.threads takes one value, not a list");
    assert_int_equal(config_set(&c, "-x", "log.dir", "\xc0\xaf", errbuf, sizeof(errbuf)), -EINVAL);
    assert_string_equal(errbuf, "-x: the value of log.dir is not valid UTF-8");
    /* --set decisions.roles=attacker,victim: a comma-separated list of names. */
    assert_int_equal(
        config_set(&c, "--set", "decisions.roles", "attacker,victim", errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.decisions.roles, CONFIG_ROLE_ATTACKER | CONFIG_ROLE_VICTIM);
    assert_int_equal(config_set(&c, "--set", "decisions.roles", "victim", errbuf, sizeof(errbuf)),
                     0);
    assert_int_equal(c.decisions.roles, CONFIG_ROLE_VICTIM);
    char *dumped = test_dump(&c);
    assert_non_null(strstr(dumped, "\"roles\": [\n      \"victim\"\n    ]"));
    free(dumped);
    assert_int_equal(config_set(&c, "--set", "decisions.roles", "", errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.decisions.roles, 0);
    assert_int_equal(
        config_set(&c, "--set", "decisions.levels", "medium,high", errbuf, sizeof(errbuf)), 0);
    assert_int_equal(c.decisions.levels, CONFIG_LEVEL_MEDIUM | CONFIG_LEVEL_HIGH);
    assert_int_equal(
        config_set(&c, "--set", "decisions.roles", "attacker,bystander", errbuf, sizeof(errbuf)),
        -EINVAL);
    assert_string_equal(errbuf, "--set: decisions.roles[1] must be one of \"attacker\", "
                                "\"victim\", got \"bystander\"");
    assert_int_equal(
        config_set(&c, "--set", "decisions.roles", "attacker,", errbuf, sizeof(errbuf)), -EINVAL);
    assert_string_equal(errbuf, "--set: decisions.roles[1] must be one of \"attacker\", "
                                "\"victim\", got \"\"");
    assert_int_equal(c.decisions.roles, 0); /* a failed override changes nothing */
    assert_int_equal(config_set(&c, "-x", "flows.idle_timeout", "500", errbuf, sizeof(errbuf)), 0);
    assert_int_equal(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    assert_string_equal(errbuf, "configuration: flows.idle_timeout (500 s) is longer than "
                                "flows.active_timeout (120 s)");
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_filled),
        cmocka_unit_test(test_config_empty_object_keeps_defaults),
        cmocka_unit_test(test_config_every_key_parsed),
        cmocka_unit_test(test_config_example_loads),
        cmocka_unit_test(test_config_placeholder_sources),
        cmocka_unit_test(test_config_placeholder_errors),
        cmocka_unit_test(test_config_placeholder_typed),
        cmocka_unit_test(test_config_unknown_key_suggestion),
        cmocka_unit_test(test_config_weak_keys),
        cmocka_unit_test(test_config_type_and_range_errors),
        cmocka_unit_test(test_config_cic_mode_idle_default),
        cmocka_unit_test(test_config_redis_sentinel_keys),
        cmocka_unit_test(test_config_cidr_parse_v4_v6),
        cmocka_unit_test(test_config_cidr_parse_rejects_bad),
        cmocka_unit_test(test_config_cidr_contains),
        cmocka_unit_test(test_cidr_parse_host_bits_ok),
        cmocka_unit_test(test_cidr_lists),
        cmocka_unit_test(test_env_file_syntax),
        cmocka_unit_test(test_env_file_environment_wins),
        cmocka_unit_test(test_env_file_syntax_errors),
        cmocka_unit_test(test_env_file_permissions),
        cmocka_unit_test(test_config_dump_masks_secrets),
        cmocka_unit_test(test_config_dump_round_trips),
        cmocka_unit_test(test_config_redis_url),
        cmocka_unit_test(test_config_set_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
