/* test_notify.c - unit tests of verdicts/notify.c: real scripts in a temp directory (cat to a
 * file, sleep past the timeout, exit non-zero, missing), the bounded queue, the never-blocking
 * post, and the event JSON parsed back with jansson. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/clock.h"
#include "verdicts/notify.h"
#include "verdicts/verdict.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_notify.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Writes an executable shell script dir/name with body; returns its path in out. */
static void write_script(const struct fixture *f, const char *name, const char *body, char *out,
                         size_t len)
{
    snprintf(out, len, "%s/%s", f->dir, name);
    FILE *fp = fopen(out, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(out, 0755), 0);
}

/* Polls until nothing is queued or running, or timeout_ms passed; returns the final stats. */
static struct notify_stats poll_until_idle(struct notify *n, unsigned timeout_ms)
{
    struct notify_stats st;
    uint64_t deadline = dd_mono_ms() + timeout_ms;
    for (;;) {
        notify_poll(n);
        notify_stats_get(n, &st);
        if ((st.queued == 0 && st.running == 0) || dd_mono_ms() >= deadline)
            return st;
        sleep_ms(10);
    }
}

static void test_notify_script_gets_json_on_stdin(void **state)
{
    struct fixture *f = *state;
    char script[128], out[128], body[512];
    const char *json = "{\"event\":\"attack_start\",\"ip\":\"192.0.2.1\"}";

    snprintf(out, sizeof(out), "%s/out.json", f->dir);
    snprintf(body, sizeof(body), "cat > '%s.tmp' && mv '%s.tmp' '%s'", out, out, out);
    write_script(f, "hook.sh", body, script, sizeof(script));

    struct notify *n = notify_create(script, 5000, 2, 8);
    assert_non_null(n);
    assert_true(notify_post(n, json));
    struct notify_stats st = poll_until_idle(n, 5000);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.succeeded, 1);
    assert_int_equal(st.failed + st.timed_out + st.dropped, 0);

    char got[256] = "";
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    size_t r = fread(got, 1, sizeof(got) - 1, fp);
    fclose(fp);
    got[r] = '\0';
    assert_string_equal(got, json);
    notify_destroy(n, 0);
}

static void test_notify_slow_script_is_killed(void **state)
{
    struct fixture *f = *state;
    char script[128];

    /* The sleep is a child of the shell: the whole process group must die. */
    write_script(f, "slow.sh", "sleep 30", script, sizeof(script));
    struct notify *n = notify_create(script, 200, 1, 4);
    assert_non_null(n);
    assert_true(notify_post(n, "{}"));
    uint64_t t0 = dd_mono_ms();
    struct notify_stats st = poll_until_idle(n, 5000);
    uint64_t took = dd_mono_ms() - t0;
    assert_int_equal(st.started, 1);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.succeeded + st.failed, 0);
    assert_int_equal(st.running, 0);
    assert_true(took >= 200 && took < 3000);
    notify_destroy(n, 0);
}

static void test_notify_destroy_kills_running(void **state)
{
    struct fixture *f = *state;
    char script[128];

    write_script(f, "slow.sh", "sleep 30", script, sizeof(script));
    struct notify *n = notify_create(script, 60000, 1, 4);
    assert_non_null(n);
    assert_true(notify_post(n, "{}"));
    assert_true(notify_post(n, "{}"));
    notify_poll(n);
    uint64_t t0 = dd_mono_ms();
    notify_destroy(n, 100);
    assert_true(dd_mono_ms() - t0 < 3000);
    notify_destroy(NULL, 0);
}

static void test_notify_queue_overflow_drops_and_counts(void **state)
{
    struct fixture *f = *state;
    char script[128];

    write_script(f, "ok.sh", "cat >/dev/null", script, sizeof(script));
    struct notify *n = notify_create(script, 5000, 1, 3);
    assert_non_null(n);
    for (int i = 0; i < 3; i++)
        assert_true(notify_post(n, "{\"i\":1}"));
    assert_false(notify_post(n, "{\"i\":4}"));
    assert_false(notify_post(n, "{\"i\":5}"));
    assert_false(notify_post(n, ""));
    struct notify_stats st;
    notify_stats_get(n, &st);
    assert_int_equal(st.posted, 3);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.queued, 3);

    st = poll_until_idle(n, 10000);
    assert_int_equal(st.started, 3);
    assert_int_equal(st.succeeded, 3);
    notify_destroy(n, 0);
}

static void test_notify_missing_script_counts_failed(void **state)
{
    struct fixture *f = *state;
    char script[128], bad[128];

    snprintf(script, sizeof(script), "%s/does-not-exist.sh", f->dir);
    struct notify *n = notify_create(script, 1000, 2, 4);
    assert_non_null(n);
    assert_true(notify_post(n, "{}"));
    assert_true(notify_post(n, "{}"));
    uint64_t t0 = dd_mono_ms();
    notify_poll(n);
    assert_true(dd_mono_ms() - t0 < 1000);
    struct notify_stats st = poll_until_idle(n, 2000);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.succeeded + st.timed_out, 0);
    notify_destroy(n, 0);

    /* A script that does not read stdin and exits 3: failed, and no SIGPIPE kills us. */
    write_script(f, "bad.sh", "exit 3", bad, sizeof(bad));
    n = notify_create(bad, 2000, 1, 4);
    assert_non_null(n);
    static char big[NOTIFY_EVENT_MAX + 1];
    memset(big, 'x', NOTIFY_EVENT_MAX);
    assert_true(notify_post(n, big));
    st = poll_until_idle(n, 5000);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.timed_out, 0);
    notify_destroy(n, 0);
}

static void test_notify_post_never_blocks(void **state)
{
    struct fixture *f = *state;
    char script[128];

    write_script(f, "slow.sh", "sleep 30", script, sizeof(script));
    struct notify *n = notify_create(script, 60000, 2, 64);
    assert_non_null(n);
    notify_poll(n);
    unsigned accepted = 0;
    uint64_t t0 = dd_mono_ms();
    for (int i = 0; i < 1000; i++) {
        char ev[64];
        snprintf(ev, sizeof(ev), "{\"event\":\"attack_start\",\"i\":%d}", i);
        accepted += notify_post(n, ev);
        if (i % 100 == 0)
            notify_poll(n); /* the owner's loop keeps running while the scripts hang */
    }
    uint64_t took = dd_mono_ms() - t0;
    assert_true(took < 1000);
    struct notify_stats st;
    notify_stats_get(n, &st);
    assert_int_equal(st.posted, accepted);
    assert_int_equal(st.posted + st.dropped, 1000);
    assert_true(st.dropped > 0);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.started, 2);
    notify_destroy(n, 0);
}

static void test_notify_event_json_fields(void **state)
{
    (void)state;
    struct verdict v, peers[2];
    char buf[4096];

    memset(&v, 0, sizeof(v));
    memset(peers, 0, sizeof(peers));
    assert_int_equal(verdict_ip_parse("198.51.100.7", &v), 0);
    v.role = VERDICT_ROLE_VICTIM;
    v.level = THREAT_HIGH;
    v.reasons = VERDICT_REASON_MODEL | VERDICT_REASON_RATE_SYN;
    v.score = 0.875;
    snprintf(v.attack_type, sizeof(v.attack_type), "syn_flood");
    v.pps = 120000;
    v.bps = 6.4e7;
    v.first_seen_us = 1700000000123456ull; /* 2023-11-14T22:13:20.123456Z */
    snprintf(v.sensor, sizeof(v.sensor), "edge-1");
    /* 4000 spoofed sources; used example slots 1 (IPv6) and 3 (IPv4), 0 and 2 unused. */
    v.spoofed_sources = 4000;
    v.spoofed_example_ver[1] = 6;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", v.spoofed_example[1]), 1);
    v.spoofed_example_ver[3] = 4;
    assert_int_equal(inet_pton(AF_INET, "198.51.100.200", v.spoofed_example[3]), 1);
    assert_int_equal(verdict_ip_parse("203.0.113.9", &peers[0]), 0);
    assert_int_equal(verdict_ip_parse("2001:db8::1", &peers[1]), 0);
    peers[0].pps = 60000;
    peers[1].level = THREAT_CRITICAL;

    size_t len = notify_event_json(buf, sizeof(buf), "attack_start", &v, peers, 2);
    assert_true(len > 0);
    assert_int_equal(strlen(buf), len);

    json_error_t jerr;
    json_t *o = json_loads(buf, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "event")), "attack_start");
    assert_string_equal(json_string_value(json_object_get(o, "ip")), "198.51.100.7");
    assert_string_equal(json_string_value(json_object_get(o, "role")), "victim");
    assert_string_equal(json_string_value(json_object_get(o, "threat_level")), "high");
    assert_true(json_real_value(json_object_get(o, "score")) == 0.875);
    assert_string_equal(json_string_value(json_object_get(o, "attack_type")), "syn_flood");
    json_t *reasons = json_object_get(o, "reasons");
    assert_int_equal(json_array_size(reasons), 2);
    assert_string_equal(json_string_value(json_array_get(reasons, 0)), "model");
    assert_string_equal(json_string_value(json_array_get(reasons, 1)), "rate_syn");
    assert_true(json_number_value(json_object_get(o, "pps")) == 120000);
    assert_true(json_number_value(json_object_get(o, "bps")) == 6.4e7);
    assert_true(json_is_integer(json_object_get(o, "spoofed_sources")));
    assert_int_equal(json_integer_value(json_object_get(o, "spoofed_sources")), 4000);
    json_t *ex = json_object_get(o, "spoofed_examples");
    assert_int_equal(json_array_size(ex), 2);
    assert_string_equal(json_string_value(json_array_get(ex, 0)), "2001:db8::7");
    assert_string_equal(json_string_value(json_array_get(ex, 1)), "198.51.100.200");
    assert_null(json_object_get(json_array_get(json_object_get(o, "top_peers"), 0),
                                "spoofed_sources")); /* peers carry no verdict of their own */
    assert_string_equal(json_string_value(json_object_get(o, "start")),
                        "2023-11-14T22:13:20.123456Z");
    assert_true(json_number_value(json_object_get(o, "peak_pps")) == 120000);
    assert_true(json_number_value(json_object_get(o, "peak_bps")) == 6.4e7);
    json_t *top = json_object_get(o, "top_peers");
    assert_int_equal(json_array_size(top), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "ip")),
                        "203.0.113.9");
    assert_true(json_number_value(json_object_get(json_array_get(top, 0), "pps")) == 60000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "ip")),
                        "2001:db8::1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "threat_level")),
                        "critical");
    assert_string_equal(json_string_value(json_object_get(o, "sensor")), "edge-1");
    json_decref(o);

    /* No peers, and a buffer too small: 0 and "". */
    assert_true(notify_event_json(buf, sizeof(buf), "attack_end", &v, NULL, 0) > 0);
    assert_non_null(strstr(buf, "\"top_peers\":[]"));
    memset(v.spoofed_example_ver, 0, sizeof(v.spoofed_example_ver));
    v.spoofed_sources = 0;
    assert_true(notify_event_json(buf, sizeof(buf), "attack_end", &v, NULL, 0) > 0);
    assert_non_null(strstr(buf, "\"spoofed_sources\":0,\"spoofed_examples\":[]"));
    assert_int_equal(notify_event_json(buf, 16, "attack_end", &v, NULL, 0), 0);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify_script_gets_json_on_stdin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_slow_script_is_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_destroy_kills_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_queue_overflow_drops_and_counts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_notify_missing_script_counts_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_post_never_blocks, setup, teardown),
        cmocka_unit_test(test_notify_event_json_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
