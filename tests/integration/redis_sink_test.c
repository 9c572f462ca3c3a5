/* redis_sink_test.c - the Redis sink (verdicts/redis_sink.c) against a real redis-server.
 *
 * Starts its own redis-server on a free loopback port (bind 127.0.0.1, no persistence, a
 * temporary directory) and stops it; exits 77 (skipped) when redis-server is not installed.
 * Reads everything back with hiredis:
 *   basic       hashes (every field), TTL, the top set, the expiry index, stream entries;
 *               coalescing (one EVALSHA per IP per interval, counted by the server itself)
 *   noscript    SCRIPT FLUSH between flushes: the EVAL fallback keeps writes going
 *   errors      WRONGTYPE drops one merge (counted); OOM keeps everything until memory is back
 *   sensors     two sensors on one IP: a lower level never lowers another sensor's level
 *   prune       expired IPs leave the top set
 *   hung        SIGSTOP'ed server: a flush returns within the command timeout; SIGCONT recovers
 *   restart     kill -9 mid-run, keep putting, restart on the same port, drain: the final state
 *               equals an uninterrupted run of the same sequence on a fresh server
 *   changes     only level, role and type changes are written; renewed addresses get a bulk
 *               TTL refresh of their own sensor field; a vanished hash is rewritten whole
 *   budgets     above redis.max_memory_mb new low/medium addresses are skipped, a critical one
 *               is not; new keys per second are capped, the critical one first
 *   shared      a second live sensor switches plain writes to the merge script (and a resync)
 *   severity    Redis absent, a critical verdict then 200,000 weaker ones: the first flush after
 *               Redis appears writes the critical one and the high ones before any other
 * Prints "N passed, M failed"; exit status 1 when anything failed. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common/compiler.h"
#include "common/log.h"
#include "verdicts/redis_sink.h"
#include "verdicts/verdict.h"

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want, what)                                                                 \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        CHECK(g_ &&strcmp(g_, w_) == 0, "%s: got \"%s\", want \"%s\"", (what), g_ ? g_ : "(nil)",  \
              w_);                                                                                 \
    } while (0)

/* ---- the server ------------------------------------------------------------------------- */

static char redis_bin[512];
static char tmpdir[] = "/tmp/ddosd-redis-test-XXXXXX";

struct server {
    pid_t pid;
    uint16_t port;
    int generation;
};

/* File-scope so that the atexit cleanup can still kill them after main returned. */
static struct server main_srv, restart_a, restart_b;

static bool find_redis_server(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s:/usr/sbin:/usr/bin", path ? path : "");
    for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(redis_bin, sizeof(redis_bin), "%s/redis-server", dir);
        if (access(redis_bin, X_OK) == 0)
            return true;
    }
    return false;
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *client(uint16_t port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
        return c;
    redisFree(c);
    return NULL;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        fprintf(stderr, "redis client: %s\n", c->errstr);
        exit(1);
    }
    return r;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool server_ready(uint16_t port)
{
    redisContext *c = client(port);
    if (!c)
        return false;
    redisReply *r = redisCommand(c, "PING");
    bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* Starts redis-server on srv->port (a free one when 0) and waits until it answers PING. */
static bool server_start(struct server *srv)
{
    bool pick = srv->port == 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (pick)
            srv->port = free_port();
        char port[8], log[600];
        snprintf(port, sizeof(port), "%u", srv->port);
        snprintf(log, sizeof(log), "%s/redis-%u-%d.log", tmpdir, srv->port, srv->generation++);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return false;
        }
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            execl(redis_bin, redis_bin, "--port", port, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", tmpdir, "--logfile", log, "--daemonize", "no",
                  (char *)NULL);
            _exit(127);
        }
        srv->pid = pid;
        for (int i = 0; i < 500; i++) {
            if (server_ready(srv->port))
                return true;
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid)
                break; /* died (the port was taken meanwhile?) */
            sleep_ms(10);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        srv->pid = 0;
        if (!pick)
            break;
    }
    fprintf(stderr, "redis-server did not start (logs in %s)\n", tmpdir);
    return false;
}

static void server_kill(struct server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGCONT);
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, NULL, 0);
    }
    srv->pid = 0;
}

static void cleanup(void)
{
    server_kill(&main_srv);
    server_kill(&restart_a);
    server_kill(&restart_b);
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char p[600];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static struct verdict make_verdict(const char *ip, enum threat_level level, double score)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    if (verdict_ip_parse(ip, &v) != 0) {
        fprintf(stderr, "bad test ip %s\n", ip);
        exit(1);
    }
    v.level = (uint8_t)level;
    v.score = score;
    v.role = VERDICT_ROLE_ATTACKER;
    v.reasons = VERDICT_REASON_MODEL;
    snprintf(v.attack_type, sizeof(v.attack_type), "syn_flood");
    snprintf(v.model_version, sizeof(v.model_version), "3f9a0c1d2e4b5a67");
    v.first_seen_us = 1700000000000000ull;
    v.last_seen_us = 1700000001000000ull;
    return v;
}

static struct redis_sink *sink_new(uint16_t port, const char *sensor, const char *prefix,
                                   uint32_t ttl_s)
{
    struct redis_sink_config cfg = {
        .port = port,
        .sensor_id = sensor,
        .key_prefix = prefix,
        .ttl_s = ttl_s,
        .flush_interval_ms = 1000,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    if (!s)
        exit(1);
    return s;
}

static struct redis_sink_stats stats_of(const struct redis_sink *s)
{
    struct redis_sink_stats st;
    redis_sink_stats_get(s, &st);
    return st;
}

static const char *field(const redisReply *h, const char *name)
{
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        if (strcmp(h->element[i]->str, name) == 0)
            return h->element[i + 1]->str;
    }
    return NULL;
}

static long long commandstat_calls(redisContext *c, const char *name)
{
    redisReply *r = cmd(c, "INFO commandstats");
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", name);
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    long long n = p ? atoll(p + strlen(key)) : 0;
    freeReplyObject(r);
    return n;
}

/* ---- basic: every field, TTL, top set, stream, coalescing --------------------------------- */

struct basic_case {
    const char *ip, *key_ip; /* as given, as written (RFC 5952) */
    enum threat_level level;
    double score;
};

static const struct basic_case basic_cases[] = {
    {"203.0.113.9", "203.0.113.9", THREAT_HIGH, 0.9731},
    {"198.51.100.7", "198.51.100.7", THREAT_MEDIUM, 0.55},
    {"192.0.2.200", "192.0.2.200", THREAT_LOW, 0.125},
    {"2001:db8::1", "2001:db8::1", THREAT_CRITICAL, 0.999},
    {"2001:0db8:0:0:1:0:0:5", "2001:db8::1:0:0:5", THREAT_HIGH, 0.8},
    {"fe80::abcd", "fe80::abcd", THREAT_MEDIUM, 0.6},
};
#define NBASIC (sizeof(basic_cases) / sizeof(basic_cases[0]))

static struct verdict basic_verdict(size_t i, int round)
{
    struct verdict v = make_verdict(basic_cases[i].ip, basic_cases[i].level, basic_cases[i].score);
    v.role = i % 2 ? VERDICT_ROLE_VICTIM : VERDICT_ROLE_ATTACKER;
    v.reasons = VERDICT_REASON_MODEL | VERDICT_REASON_RATE_SYN;
    v.flows_total = 100u * (uint64_t)(round + 1) + i;
    v.flows_attack = 90u * (uint64_t)(round + 1);
    v.pps = 15234.5 + round;
    v.bps = 81234567.0 + round;
    v.first_seen_us = 1700000000123456ull + i;
    v.last_seen_us = 1700000005000000ull + (uint64_t)round * 1000000u;
    if (i % 2) { /* victims: spoofed sources; examples in slots 0 and 2 (case 3), 0 (case 1) */
        v.spoofed_sources = 1000u * (uint32_t)i + (uint32_t)round;
        if (i != 5) {
            v.spoofed_example_ver[0] = 4;
            memcpy(v.spoofed_example[0], (const uint8_t[]){198, 18, 0, (uint8_t)i}, 4);
        }
        if (i == 3) {
            v.spoofed_example_ver[2] = 6;
            memcpy(v.spoofed_example[2], (const uint8_t[]){0x20, 0x01, 0x0d, 0xb8, [15] = 0x53},
                   16);
        }
    }
    return v;
}

static void check_basic_hash(redisContext *c, size_t i, int round, uint64_t t0, uint64_t t1)
{
    struct verdict v = basic_verdict(i, round);
    char key[128], want[64], what[160];
    snprintf(key, sizeof(key), "ddos:verdict:%s", basic_cases[i].key_ip);
    redisReply *h = cmd(c, "HGETALL %s", key);
    CHECK(h->type == REDIS_REPLY_ARRAY && h->elements == 2 * 19, "%s has %zu fields", key,
          h->elements / 2);
#define WANT(name, ...)                                                                            \
    do {                                                                                           \
        snprintf(want, sizeof(want), __VA_ARGS__);                                                 \
        snprintf(what, sizeof(what), "%s %s", key, name);                                          \
        CHECK_STR(field(h, name), want, what);                                                     \
    } while (0)
    WANT("ip", "%s", basic_cases[i].key_ip);
    WANT("role", "%s", i % 2 ? "victim" : "attacker");
    WANT("threat_level", "%s", threat_level_name(basic_cases[i].level));
    WANT("score", "%.4f", basic_cases[i].score);
    WANT("attack_type", "syn_flood");
    WANT("reasons", "model,rate_syn");
    WANT("flows_total", "%" PRIu64, v.flows_total);
    WANT("flows_attack", "%" PRIu64, v.flows_attack);
    WANT("pps", "%.1f", v.pps);
    WANT("bps", "%.0f", v.bps);
    WANT("first_seen", "%" PRIu64, v.first_seen_us);
    WANT("last_seen", "%" PRIu64, v.last_seen_us);
    WANT("sensor", "sensor-a");
    WANT("sensors", "sensor-a");
    WANT("model_version", "3f9a0c1d2e4b5a67");
    WANT("spoofed_sources", "%" PRIu32, v.spoofed_sources);
    WANT("spoofed_examples", "%s", i == 1 ? "198.18.0.1" : i == 3 ? "198.18.0.3,2001:db8::53" : "");
#undef WANT
    const char *updated = field(h, "updated");
    uint64_t u = updated ? strtoull(updated, NULL, 10) : 0;
    CHECK(u >= t0 && u <= t1, "%s updated %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", key, u,
          t0, t1);
    snprintf(want, sizeof(want), "%s %.4f %s %.1f %" PRIu64,
             threat_level_name(basic_cases[i].level), basic_cases[i].score, updated ? updated : "?",
             v.pps, v.last_seen_us);
    CHECK_STR(field(h, "sensor:sensor-a"), want, key);
    freeReplyObject(h);

    redisReply *ttl = cmd(c, "TTL %s", key);
    CHECK(ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0 && ttl->integer <= 600,
          "%s TTL %lld", key, ttl->integer);
    freeReplyObject(ttl);
}

static void test_basic(uint16_t port)
{
    redisContext *c = client(port);
    struct redis_sink *s = sink_new(port, "sensor-a", NULL, 600);
    uint64_t t = redis_sink_now_ms();
    long long evalsha0 = commandstat_calls(c, "evalsha"), hset0 = commandstat_calls(c, "hset");

    /* Five updates per IP before the first flush: one write per IP. */
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < NBASIC; i++) {
            struct verdict v = basic_verdict(i, round);
            CHECK(redis_sink_put(s, &v), "put");
        }
    }
    uint64_t t0 = dd_realtime_ms();
    CHECK(redis_sink_flush(s, t) == 0, "first flush");
    uint64_t t1 = dd_realtime_ms();
    struct redis_sink_stats st = stats_of(s);
    CHECK(st.connected, "connected");
    CHECK(st.verdicts_put == 5 * NBASIC, "verdicts_put %" PRIu64, st.verdicts_put);
    CHECK(st.verdicts_coalesced == 4 * NBASIC, "coalesced %" PRIu64, st.verdicts_coalesced);
    CHECK(st.verdicts_written == NBASIC, "written %" PRIu64, st.verdicts_written);
    CHECK(st.pending == 0, "pending %" PRIu64, st.pending);
    CHECK(st.pipelines == 1, "pipelines %" PRIu64, st.pipelines);
    CHECK(st.redis_errors == 0 && st.reconnects == 0, "errors %" PRIu64, st.redis_errors);
    /* Alone in this Redis: one plain HSET per IP, no merge script; the only script call is the
     * top-set prune that the first flush also runs. */
    CHECK(commandstat_calls(c, "hset") - hset0 == (long long)NBASIC,
          "server saw %lld HSET for %zu IPs", commandstat_calls(c, "hset") - hset0, NBASIC);
    CHECK(commandstat_calls(c, "evalsha") - evalsha0 == 1, "server saw %lld EVALSHA (1 prune)",
          commandstat_calls(c, "evalsha") - evalsha0);
    CHECK(st.commands > NBASIC, "commands counted: %" PRIu64, st.commands);
    for (size_t i = 0; i < NBASIC; i++)
        check_basic_hash(c, i, 4, t0, t1);

    /* The documented literal format of one hash. */
    redisReply *h = cmd(c, "HGETALL ddos:verdict:203.0.113.9");
    CHECK_STR(field(h, "score"), "0.9731", "literal score");
    CHECK_STR(field(h, "pps"), "15238.5", "literal pps");
    CHECK_STR(field(h, "bps"), "81234571", "literal bps");
    CHECK_STR(field(h, "first_seen"), "1700000000123456", "literal first_seen");
    CHECK_STR(field(h, "threat_level"), "high", "literal level");
    freeReplyObject(h);

    /* Top set: every IP, by level first, then score (level + score). */
    redisReply *top = cmd(c, "ZREVRANGE ddos:top 0 -1 WITHSCORES");
    CHECK(top->type == REDIS_REPLY_ARRAY && top->elements == 2 * NBASIC, "top has %zu",
          top->elements / 2);
    static const size_t by_score[] = {3, 0, 4, 5, 1, 2};
    for (size_t k = 0; k < NBASIC && 2 * k + 1 < top->elements; k++) {
        char want[32];
        CHECK_STR(top->element[2 * k]->str, basic_cases[by_score[k]].key_ip, "top member");
        snprintf(want, sizeof(want), "%.4f",
                 basic_cases[by_score[k]].level + basic_cases[by_score[k]].score);
        CHECK(strtod(top->element[2 * k + 1]->str, NULL) == strtod(want, NULL),
              "top score %s want %s", top->element[2 * k + 1]->str, want);
    }
    freeReplyObject(top);
    redisReply *exp = cmd(c, "ZRANGE ddos:top:expiry 0 -1 WITHSCORES");
    CHECK(exp->elements == 2 * NBASIC, "expiry index has %zu", exp->elements / 2);
    for (size_t k = 1; k < exp->elements; k += 2) {
        uint64_t e = strtoull(exp->element[k]->str, NULL, 10);
        CHECK(e >= t0 + 599000 && e <= t1 + 600000, "expiry %" PRIu64, e);
    }
    freeReplyObject(exp);
    redisReply *pttl = cmd(c, "PTTL ddos:top");
    CHECK(pttl->integer > 0 && pttl->integer <= 600000, "top PTTL %lld", pttl->integer);
    freeReplyObject(pttl);

    /* The same level, role and type with new rates: not a change, nothing is queued. */
    struct verdict v = basic_verdict(0, 5);
    long long hset1 = commandstat_calls(c, "hset");
    CHECK(redis_sink_put(s, &v), "put");
    st = stats_of(s);
    CHECK(st.pending == 0 && st.verdicts_unchanged == 1, "unchanged: pending %" PRIu64, st.pending);
    check_basic_hash(c, 0, 4, t0, t1);
    /* A change of level: within the interval nothing is written; after it, it goes out, once. */
    v.level = THREAT_CRITICAL;
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t + 500) == 0, "flush inside interval");
    CHECK(stats_of(s).pending == 1, "still pending inside the interval");
    CHECK(redis_sink_flush(s, t + 1000) == 0, "flush after interval");
    st = stats_of(s);
    CHECK(st.pending == 0 && st.verdicts_written == NBASIC + 1, "written %" PRIu64,
          st.verdicts_written);
    CHECK(commandstat_calls(c, "hset") == hset1 + 1, "HSETs after the first flush: %lld, want 1",
          commandstat_calls(c, "hset") - hset1);
    h = cmd(c, "HGETALL ddos:verdict:203.0.113.9");
    CHECK_STR(field(h, "threat_level"), "critical", "level change written");
    CHECK_STR(field(h, "flows_total"), "600", "the changed verdict's fields");
    freeReplyObject(h);

    /* Events: stream entries with peers. */
    struct redis_sink_peer peers[2] = {
        {.ip = {198, 51, 100, 1}, .ip_version = 4, .flows = 120},
        {.ip = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x77}, .ip_version = 6, .flows = 3},
    };
    struct verdict e1 = basic_verdict(0, 5), e2 = basic_verdict(3, 5);
    CHECK(redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_START, &e1, peers, 2), "event");
    CHECK(redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_END, &e2, NULL, 0), "event");
    CHECK(redis_sink_flush(s, t + 3000) == 0, "flush events");
    st = stats_of(s);
    CHECK(st.events_written == 2 && st.events_pending == 0, "events written %" PRIu64,
          st.events_written);
    redisReply *xr = cmd(c, "XRANGE ddos:events - +");
    CHECK(xr->type == REDIS_REPLY_ARRAY && xr->elements == 2, "stream has %zu", xr->elements);
    if (xr->type == REDIS_REPLY_ARRAY && xr->elements == 2) {
        const redisReply *f1 = xr->element[0]->element[1], *f2 = xr->element[1]->element[1];
        CHECK(f1->elements == 2 * 18, "entry has %zu fields", f1->elements / 2);
        CHECK(f2->elements == 2 * 18, "entry has %zu fields", f2->elements / 2);
        CHECK_STR(field(f1, "spoofed_sources"), "0", "event 1 spoofed_sources");
        CHECK_STR(field(f1, "spoofed_examples"), "", "event 1 spoofed_examples");
        CHECK_STR(field(f2, "spoofed_sources"), "3005", "event 2 spoofed_sources");
        CHECK_STR(field(f2, "spoofed_examples"), "198.18.0.3,2001:db8::53",
                  "event 2 spoofed_examples");
        CHECK_STR(field(f1, "event"), "attack_start", "event 1");
        CHECK_STR(field(f1, "ip"), "203.0.113.9", "event 1 ip");
        CHECK_STR(field(f1, "threat_level"), "high", "event 1 level");
        CHECK_STR(field(f1, "score"), "0.9731", "event 1 score");
        CHECK_STR(field(f1, "reasons"), "model,rate_syn", "event 1 reasons");
        CHECK_STR(field(f1, "sensor"), "sensor-a", "event 1 sensor");
        CHECK_STR(field(f1, "peers"), "198.51.100.1=120,2001:db8::77=3", "event 1 peers");
        CHECK_STR(field(f2, "event"), "attack_end", "event 2");
        CHECK_STR(field(f2, "ip"), "2001:db8::1", "event 2 ip");
        CHECK_STR(field(f2, "threat_level"), "critical", "event 2 level");
        CHECK_STR(field(f2, "peers"), "", "event 2 peers");
    }
    freeReplyObject(xr);

    redis_sink_destroy(s, 1000);
    redisFree(c);
}

/* ---- noscript: SCRIPT FLUSH between flushes ------------------------------------------------ */

static void test_noscript(uint16_t port)
{
    redisContext *c = client(port);
    /* Another live sensor in the registry: writes go through the merge script. */
    freeReplyObject(cmd(c, "ZADD ns:sensors %" PRIu64 " sensor-z", dd_realtime_ms()));
    struct redis_sink *s = sink_new(port, "sensor-a", "ns:", 600);
    uint64_t t = redis_sink_now_ms();
    struct verdict v = make_verdict("203.0.113.50", THREAT_HIGH, 0.7);
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t) == 0, "flush");
    CHECK(stats_of(s).shared, "merge mode with another live sensor");
    freeReplyObject(cmd(c, "SCRIPT FLUSH"));
    v.flows_total = 4242;
    v.level = THREAT_CRITICAL;
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t + 1000) == 0, "flush after SCRIPT FLUSH");
    struct redis_sink_stats st = stats_of(s);
    CHECK(st.noscript_fallbacks == 1, "fallbacks %" PRIu64, st.noscript_fallbacks);
    CHECK(st.verdicts_written == 2 && st.pending == 0 && st.connected, "written %" PRIu64,
          st.verdicts_written);
    redisReply *r = cmd(c, "HGET ns:verdict:203.0.113.50 flows_total");
    CHECK_STR(r->str, "4242", "hash updated through EVAL");
    freeReplyObject(r);
    redis_sink_destroy(s, 1000);
    redisFree(c);
}

/* ---- error replies: permanent ones drop one command, transient ones keep everything --------- */

static void test_error_replies(uint16_t port)
{
    redisContext *c = client(port);
    struct redis_sink *s = sink_new(port, "sensor-a", "err:", 600);
    uint64_t t = redis_sink_now_ms();

    /* Someone wrote a string where a verdict hash belongs: that merge fails forever (WRONGTYPE
     * inside the script), so it is dropped and counted; the rest of the pipeline goes through. */
    freeReplyObject(cmd(c, "SET err:verdict:192.0.2.66 not-a-hash"));
    struct verdict bad = make_verdict("192.0.2.66", THREAT_HIGH, 0.9);
    struct verdict good = make_verdict("192.0.2.67", THREAT_HIGH, 0.9);
    CHECK(redis_sink_put(s, &bad) && redis_sink_put(s, &good), "put");
    CHECK(redis_sink_flush(s, t) == 0, "flush with one bad key");
    struct redis_sink_stats st = stats_of(s);
    CHECK(st.verdicts_rejected == 1 && st.verdicts_written == 1 && st.pending == 0,
          "rejected %" PRIu64 " written %" PRIu64, st.verdicts_rejected, st.verdicts_written);
    CHECK(st.connected && st.redis_errors == 1, "still connected, errors %" PRIu64,
          st.redis_errors);
    CHECK(strstr(st.last_error, "WRONGTYPE") != NULL, "last_error \"%s\"", st.last_error);

    /* Out of memory is the server's state, not the command's: keep, back off, retry. */
    freeReplyObject(cmd(c, "CONFIG SET maxmemory 1"));
    good.flows_total = 31337;
    good.level = THREAT_CRITICAL;
    CHECK(redis_sink_put(s, &good), "put");
    CHECK(redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_START, &good, NULL, 0), "event");
    CHECK(redis_sink_flush(s, t += 1000) != 0, "flush into a full server fails");
    st = stats_of(s);
    CHECK(st.pending == 1 && st.events_pending == 1 && st.verdicts_rejected == 1 &&
              st.events_rejected == 0,
          "kept: pending %" PRIu64 " events %" PRIu64, st.pending, st.events_pending);
    CHECK(strstr(st.last_error, "OOM") != NULL, "last_error \"%s\"", st.last_error);
    CHECK(st.connected && st.oom_errors >= 1, "OOM keeps the connection: connected %d oom %" PRIu64,
          st.connected, st.oom_errors);
    freeReplyObject(cmd(c, "CONFIG SET maxmemory 0"));
    for (int i = 0; i < 100 && (stats_of(s).pending || stats_of(s).events_pending); i++)
        (void)redis_sink_flush(s, t += 200);
    st = stats_of(s);
    CHECK(st.pending == 0 && st.events_pending == 0 && st.connected && st.events_written == 1,
          "after OOM: pending %" PRIu64 " events %" PRIu64, st.pending, st.events_pending);
    redisReply *r = cmd(c, "HGET err:verdict:192.0.2.67 flows_total");
    CHECK_STR(r->str, "31337", "written once memory was back");
    freeReplyObject(r);
    redis_sink_destroy(s, 1000);
    redisFree(c);
}

/* ---- two sensors on one IP ------------------------------------------------------------------ */

static void put_flush(struct redis_sink *s, const struct verdict *v, uint64_t *t)
{
    CHECK(redis_sink_put(s, v), "put");
    *t += 1000;
    CHECK(redis_sink_flush(s, *t) == 0, "flush");
}

static void test_sensors(uint16_t port)
{
    redisContext *c = client(port);
    struct redis_sink *a = sink_new(port, "sensor-a", "multi:", 600);
    struct redis_sink *b = sink_new(port, "sensor-b", "multi:", 600);
    uint64_t t = redis_sink_now_ms();

    /* X: A high first, then B low. Y: the other order. Both must end the same. */
    const char *ips[2] = {"203.0.113.77", "2001:db8::77"};
    for (int order = 0; order < 2; order++) {
        struct verdict va = make_verdict(ips[order], THREAT_HIGH, 0.91);
        va.reasons = VERDICT_REASON_MODEL | VERDICT_REASON_RATE_SYN;
        va.first_seen_us = 1700000000500000ull;
        va.last_seen_us = 1700000009000000ull;
        va.spoofed_sources = 7;
        va.spoofed_example_ver[1] = 4;
        memcpy(va.spoofed_example[1], (const uint8_t[]){198, 51, 100, 70}, 4);
        struct verdict vb = make_verdict(ips[order], THREAT_LOW, 0.20);
        vb.reasons = VERDICT_REASON_RATE_PPS;
        vb.spoofed_sources = 99; /* more, but from the weaker sensor: not the hash's */
        vb.spoofed_example_ver[0] = 4;
        vb.attack_type[0] = '\0';
        vb.first_seen_us = 1700000000100000ull; /* B saw it first */
        vb.last_seen_us = 1700000002000000ull;
        if (order == 0) {
            put_flush(a, &va, &t);
            put_flush(b, &vb, &t);
        } else {
            put_flush(b, &vb, &t);
            put_flush(a, &va, &t);
        }
        char key[96];
        snprintf(key, sizeof(key), "multi:verdict:%s", ips[order]);
        redisReply *h = cmd(c, "HGETALL %s", key);
        CHECK_STR(field(h, "threat_level"), "high", key);
        CHECK_STR(field(h, "score"), "0.9100", key);
        CHECK_STR(field(h, "sensors"), "sensor-a,sensor-b", key);
        CHECK_STR(field(h, "sensor"), "sensor-a", key);
        CHECK_STR(field(h, "attack_type"), "syn_flood", key);
        CHECK_STR(field(h, "reasons"), "model,rate_syn", key);
        CHECK_STR(field(h, "first_seen"), "1700000000100000", key);
        CHECK_STR(field(h, "last_seen"), "1700000009000000", key);
        CHECK_STR(field(h, "spoofed_sources"), "7", key);
        CHECK_STR(field(h, "spoofed_examples"), "198.51.100.70", key);
        const char *fa = field(h, "sensor:sensor-a"), *fb = field(h, "sensor:sensor-b");
        CHECK(fa && strncmp(fa, "high 0.9100 ", 12) == 0, "%s sensor:sensor-a \"%s\"", key,
              fa ? fa : "(nil)");
        CHECK(fb && strncmp(fb, "low 0.2000 ", 11) == 0, "%s sensor:sensor-b \"%s\"", key,
              fb ? fb : "(nil)");
        freeReplyObject(h);
        redisReply *z = cmd(c, "ZSCORE multi:top %s", ips[order]);
        CHECK(z->str && strtod(z->str, NULL) == 2.91, "%s top score %s", key,
              z->str ? z->str : "(nil)");
        freeReplyObject(z);
    }

    /* A may lower its own level (its attack ended) but not B's: A low, B medium -> medium. */
    struct verdict a_low = make_verdict(ips[0], THREAT_LOW, 0.10);
    struct verdict b_med = make_verdict(ips[0], THREAT_MEDIUM, 0.40);
    snprintf(b_med.attack_type, sizeof(b_med.attack_type), "udp_flood");
    put_flush(a, &a_low, &t);
    put_flush(b, &b_med, &t);
    redisReply *h = cmd(c, "HGETALL multi:verdict:%s", ips[0]);
    CHECK_STR(field(h, "threat_level"), "medium", "after A lowered itself");
    CHECK_STR(field(h, "score"), "0.4000", "after A lowered itself");
    CHECK_STR(field(h, "sensor"), "sensor-b", "the leading sensor");
    CHECK_STR(field(h, "attack_type"), "udp_flood", "the leading sensor's attack type");
    CHECK_STR(field(h, "spoofed_sources"), "0", "the leading sensor's spoofed_sources");
    CHECK_STR(field(h, "spoofed_examples"), "", "the leading sensor's spoofed_examples");
    freeReplyObject(h);
    redisReply *z = cmd(c, "ZSCORE multi:top %s", ips[0]);
    CHECK(z->str && strtod(z->str, NULL) == 1.4, "top score follows the merge: %s",
          z->str ? z->str : "(nil)");
    freeReplyObject(z);

    redis_sink_destroy(a, 1000);
    redis_sink_destroy(b, 1000);
    redisFree(c);
}

/* ---- prune: expired IPs leave the top set --------------------------------------------------- */

static void test_prune(uint16_t port)
{
    redisContext *c = client(port);
    struct redis_sink_config cfg = {
        .port = port,
        .sensor_id = "sensor-a",
        .key_prefix = "prune:",
        .ttl_s = 1,
        .flush_interval_ms = 100,
        .prune_interval_ms = 100,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    uint64_t t = redis_sink_now_ms();
    struct verdict p = make_verdict("192.0.2.1", THREAT_HIGH, 0.9);
    struct verdict q = make_verdict("192.0.2.2", THREAT_HIGH, 0.8);
    CHECK(redis_sink_put(s, &p), "put");
    CHECK(redis_sink_flush(s, t) == 0, "flush p");
    sleep_ms(700);
    CHECK(redis_sink_put(s, &q), "put"); /* keeps the top set itself alive */
    CHECK(redis_sink_flush(s, t += 700) == 0, "flush q");
    redisReply *n = cmd(c, "ZCARD prune:top");
    CHECK(n->integer == 2, "top has %lld before expiry", n->integer);
    freeReplyObject(n);
    sleep_ms(500); /* p's hash expired, q's has not */
    CHECK(redis_sink_flush(s, t += 500) == 0, "flush with prune");
    redisReply *top = cmd(c, "ZRANGE prune:top 0 -1");
    CHECK(top->elements == 1 && strcmp(top->element[0]->str, "192.0.2.2") == 0,
          "top after prune has %zu members", top->elements);
    freeReplyObject(top);
    redisReply *idx = cmd(c, "ZCARD prune:top:expiry");
    CHECK(idx->integer == 1, "expiry index has %lld", idx->integer);
    freeReplyObject(idx);
    CHECK(stats_of(s).top_pruned == 1, "top_pruned %" PRIu64, stats_of(s).top_pruned);
    redis_sink_destroy(s, 0);
    redisFree(c);
}

/* ---- hung server: SIGSTOP ------------------------------------------------------------------- */

static void test_hung(struct server *srv)
{
    redisContext *c = client(srv->port);
    struct redis_sink *s = sink_new(srv->port, "sensor-a", "hung:", 600);
    uint64_t t = redis_sink_now_ms();
    struct verdict v = make_verdict("198.51.100.99", THREAT_CRITICAL, 0.95);
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t) == 0, "flush while healthy");

    kill(srv->pid, SIGSTOP);
    v.flows_total = 777;
    snprintf(v.attack_type, sizeof(v.attack_type), "udp_flood"); /* a change: written */
    CHECK(redis_sink_put(s, &v), "put");
    uint64_t w0 = redis_sink_now_ms();
    CHECK(redis_sink_flush(s, t += 1000) != 0, "flush to a hung server fails");
    uint64_t took = redis_sink_now_ms() - w0;
    CHECK(took < 1000, "a hung server stalled the flush for %" PRIu64 " ms", took);
    struct redis_sink_stats st = stats_of(s);
    CHECK(!st.connected && st.pending == 1 && st.redis_errors == 1, "pending %" PRIu64, st.pending);
    /* A reconnect attempt while it is still hung is bounded too. */
    w0 = redis_sink_now_ms();
    CHECK(redis_sink_flush(s, t += 200) == -ENOTCONN, "reconnect to a hung server fails");
    took = redis_sink_now_ms() - w0;
    CHECK(took < 1000, "a reconnect attempt took %" PRIu64 " ms", took);

    kill(srv->pid, SIGCONT);
    for (int i = 0; i < 100 && stats_of(s).pending; i++) {
        (void)redis_sink_flush(s, t += 200);
        sleep_ms(5);
    }
    st = stats_of(s);
    CHECK(st.connected && st.pending == 0 && st.reconnects == 1 && st.resyncs == 0,
          "after SIGCONT: connected %d pending %" PRIu64 " reconnects %" PRIu64, st.connected,
          st.pending, st.reconnects);
    redisReply *r = cmd(c, "HGET hung:verdict:198.51.100.99 flows_total");
    CHECK_STR(r->str, "777", "written after the hang");
    freeReplyObject(r);
    redis_sink_destroy(s, 1000);
    redisFree(c);
}

/* ---- changes: only level, role and type changes are written; the rest is a bulk refresh ---- */

static void test_changes(uint16_t port)
{
    redisContext *c = client(port);
    struct redis_sink_config cfg = {
        .port = port,
        .sensor_id = "sensor-a",
        .key_prefix = "chg:",
        .ttl_s = 600,
        .flush_interval_ms = 1000,
        .refresh_interval_ms = 2000,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    uint64_t t = redis_sink_now_ms();
    struct verdict v = make_verdict("192.0.2.40", THREAT_HIGH, 0.8);
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t) == 0, "first write");
    long long hset0 = commandstat_calls(c, "hset"), evalsha0 = commandstat_calls(c, "evalsha");

    /* Rates move, nothing that matters changes: no write, a refresh at the next round. */
    freeReplyObject(cmd(c, "PEXPIRE chg:verdict:192.0.2.40 100000"));
    v.pps = 4321.5;
    v.last_seen_us += 7000000;
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush (no refresh due yet)");
    CHECK(commandstat_calls(c, "hset") == hset0, "the unchanged verdict was written");
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush with the refresh round");
    struct redis_sink_stats st = stats_of(s);
    CHECK(st.refreshed == 1 && st.verdicts_unchanged == 1 && st.verdicts_written == 1,
          "refreshed %" PRIu64 " unchanged %" PRIu64 " written %" PRIu64, st.refreshed,
          st.verdicts_unchanged, st.verdicts_written);
    CHECK(commandstat_calls(c, "evalsha") == evalsha0 + 1, "one script call refreshed it: %lld",
          commandstat_calls(c, "evalsha") - evalsha0);
    redisReply *r = cmd(c, "PTTL chg:verdict:192.0.2.40");
    CHECK(r->integer > 500000, "the refresh extended the TTL: %lld ms", r->integer);
    freeReplyObject(r);
    r = cmd(c, "HGETALL chg:verdict:192.0.2.40");
    const char *f = field(r, "sensor:sensor-a");
    char want[64];
    snprintf(want, sizeof(want), " 4321.5 %" PRIu64, v.last_seen_us);
    CHECK(f && strncmp(f, "high 0.8000 ", 12) == 0 && strstr(f, want),
          "sensor field after the refresh: \"%s\"", f ? f : "(nil)");
    CHECK_STR(field(r, "pps"), "0.0", "the descriptive fields stay those of the last change");
    freeReplyObject(r);

    /* A role change and an attack-type change are each written. */
    v.role = VERDICT_ROLE_VICTIM;
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush role change");
    snprintf(v.attack_type, sizeof(v.attack_type), "udp_flood");
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush type change");
    CHECK(commandstat_calls(c, "hset") >= hset0 + 2, "role and type changes written");
    r = cmd(c, "HGETALL chg:verdict:192.0.2.40");
    CHECK_STR(field(r, "role"), "victim", "role change");
    CHECK_STR(field(r, "attack_type"), "udp_flood", "type change");
    CHECK_STR(field(r, "pps"), "4321.5", "the changed verdict's rates");
    freeReplyObject(r);

    /* The hash vanished behind our back (FLUSHDB, eviction): the refresh does not re-create a
     * one-field hash; the next put writes it whole. */
    freeReplyObject(cmd(c, "DEL chg:verdict:192.0.2.40"));
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t += 2000) == 0, "flush with the refresh round");
    st = stats_of(s);
    CHECK(st.refresh_gone == 1, "refresh_gone %" PRIu64, st.refresh_gone);
    r = cmd(c, "EXISTS chg:verdict:192.0.2.40");
    CHECK(r->integer == 0, "a refresh re-created the hash");
    freeReplyObject(r);
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush the rewrite");
    r = cmd(c, "HLEN chg:verdict:192.0.2.40");
    CHECK(r->integer == 19, "rewritten whole: %lld fields", r->integer);
    freeReplyObject(r);
    redis_sink_destroy(s, 1000);
    redisFree(c);
}

/* ---- severity: a critical verdict behind a huge backlog goes out in the first flush --------- */

static void test_severity(void)
{
    struct server srv = {.port = free_port()};
    struct redis_sink_config cfg = {
        .port = srv.port,
        .sensor_id = "sensor-a",
        .key_prefix = "sev:",
        .ttl_s = 600,
        .flush_interval_ms = 1000,
        .backlog_capacity = 300000,
        .batch_max = 1000,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    uint64_t t = redis_sink_now_ms();
    /* Redis absent: the victim's critical verdict first, then 200,000 weaker ones. */
    struct verdict victim = make_verdict("10.20.1.25", THREAT_CRITICAL, 0.98);
    victim.role = VERDICT_ROLE_VICTIM;
    CHECK(redis_sink_put(s, &victim), "put");
    CHECK(redis_sink_flush(s, t) == -ENOTCONN, "no server yet");
    for (uint32_t i = 0; i < 200000; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "100.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        struct verdict w = make_verdict(ip,
                                        i % 50 == 0 ? THREAT_HIGH
                                        : i % 2     ? THREAT_MEDIUM
                                                    : THREAT_LOW,
                                        0.5);
        CHECK(redis_sink_put(s, &w) || false, "put %u", i);
        if (i % 20000 == 0)
            (void)redis_sink_flush(s, t += 400);
    }
    CHECK(stats_of(s).pending == 200001, "pending %" PRIu64, stats_of(s).pending);
    /* Redis appears: one flush (connect, check, first pipeline) writes the most severe first. */
    CHECK(server_start(&srv), "start redis on %u", srv.port);
    t += 10000; /* past any backoff */
    CHECK(redis_sink_flush(s, t) == 0, "first flush after Redis came");
    redisContext *c = client(srv.port);
    redisReply *r = cmd(c, "HGET sev:verdict:10.20.1.25 threat_level");
    CHECK_STR(r->str, "critical", "the critical verdict in the first flush");
    freeReplyObject(r);
    r = cmd(c, "ZCOUNT sev:top 2 2.9999");
    CHECK(r->integer == 999, "the first pipeline held the critical and 999 high verdicts: %lld",
          r->integer);
    freeReplyObject(r);
    r = cmd(c, "ZCOUNT sev:top 0 1.9999");
    CHECK(r->integer == 0, "no low or medium verdict before every high one: %lld", r->integer);
    freeReplyObject(r);
    redis_sink_destroy(s, 0);
    redisFree(c);
    server_kill(&srv);
}

/* ---- budgets: memory and new keys per second ------------------------------------------------ */

static void test_budgets(uint16_t port)
{
    redisContext *c = client(port);
    freeReplyObject(cmd(c, "FLUSHALL"));
    struct redis_sink_config cfg = {
        .port = port,
        .sensor_id = "sensor-a",
        .key_prefix = "bud:",
        .ttl_s = 600,
        .flush_interval_ms = 100,
        .backlog_capacity = 200000,
        .batch_max = 1000,
        .check_interval_ms = 100,
        .max_memory_mb = 8,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    uint64_t t = redis_sink_now_ms();
    for (uint32_t i = 0; i < 60000; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "100.64.%u.%u", i >> 8, i & 255);
        struct verdict w = make_verdict(ip, i % 2 ? THREAT_MEDIUM : THREAT_LOW, 0.3);
        (void)redis_sink_put(s, &w);
    }
    for (int i = 0; i < 200 && stats_of(s).pending; i++)
        (void)redis_sink_flush(s, t += 100);
    struct redis_sink_stats st = stats_of(s);
    CHECK(st.over_budget && st.budget_skipped > 0 && st.pending == 0,
          "over budget %d, skipped %" PRIu64 ", pending %" PRIu64, st.over_budget,
          st.budget_skipped, st.pending);
    redisReply *r = cmd(c, "INFO memory");
    const char *um = strstr(r->str, "\nused_memory:");
    uint64_t used = um ? strtoull(um + 13, NULL, 10) : 0;
    freeReplyObject(r);
    CHECK(used <= 12u << 20, "used_memory %.1f MB with a budget of 8 MB (+ one check's writes)",
          used / 1048576.0);
    /* Over budget, a new critical address still goes out. */
    struct verdict crit = make_verdict("203.0.113.200", THREAT_CRITICAL, 0.99);
    CHECK(redis_sink_put(s, &crit), "put");
    CHECK(redis_sink_flush(s, t += 100) == 0, "flush");
    r = cmd(c, "HGET bud:verdict:203.0.113.200 threat_level");
    CHECK_STR(r->str, "critical", "a critical address over budget");
    freeReplyObject(r);
    redis_sink_destroy(s, 0);

    /* New keys per second: 5000 new addresses at 500/s, the critical one (put last) first. */
    freeReplyObject(cmd(c, "FLUSHALL"));
    cfg.max_memory_mb = 0;
    cfg.max_keys_per_second = 500;
    cfg.key_prefix = "kps:";
    s = redis_sink_create(&cfg);
    for (uint32_t i = 0; i < 5000; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "100.65.%u.%u", i >> 8, i & 255);
        struct verdict w = make_verdict(ip, THREAT_LOW, 0.2);
        (void)redis_sink_put(s, &w);
    }
    CHECK(redis_sink_put(s, &crit), "put");
    CHECK(redis_sink_flush(s, t) == 0, "flush");
    r = cmd(c, "ZCARD kps:top");
    CHECK(r->integer == 500, "one second's worth of new keys: %lld", r->integer);
    freeReplyObject(r);
    r = cmd(c, "HGET kps:verdict:203.0.113.200 threat_level");
    CHECK_STR(r->str, "critical", "the critical address first within the cap");
    freeReplyObject(r);
    st = stats_of(s);
    CHECK(st.keys_deferred >= 3000 && st.keys_deferred <= 5001 - 500, "deferred %" PRIu64,
          st.keys_deferred);
    for (int i = 0; i < 20; i++)
        (void)redis_sink_flush(s, t += 500);
    r = cmd(c, "ZCARD kps:top");
    CHECK(r->integer == 5001, "all written in about ten seconds: %lld", r->integer);
    freeReplyObject(r);
    redis_sink_destroy(s, 0);
    redisFree(c);
}

/* ---- shared: a second sensor appears; plain writes switch to the merge script --------------- */

static void test_shared_switch(uint16_t port)
{
    redisContext *c = client(port);
    struct redis_sink_config cfg = {
        .port = port,
        .sensor_id = "sensor-a",
        .key_prefix = "sw:",
        .ttl_s = 600,
        .flush_interval_ms = 1000,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    uint64_t t = redis_sink_now_ms();
    struct verdict v = make_verdict("198.51.100.20", THREAT_HIGH, 0.8);
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t) == 0, "flush alone");
    CHECK(!stats_of(s).shared, "alone: plain writes");
    CHECK(!redis_sink_resync_take(s), "no resync yet");
    /* Sensor B writes a critical level for the same address through the script. */
    freeReplyObject(cmd(c, "ZADD sw:sensors %" PRIu64 " sensor-b", dd_realtime_ms()));
    char bval[64];
    snprintf(bval, sizeof(bval), "critical 0.9900 %" PRIu64, dd_realtime_ms());
    freeReplyObject(
        cmd(c, "HSET sw:verdict:198.51.100.20 sensor:sensor-b %s threat_level critical", bval));
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush with the check");
    CHECK(stats_of(s).shared, "another sensor: merge mode");
    CHECK(redis_sink_resync_take(s), "resync asked after the switch");
    v.level = THREAT_MEDIUM;
    CHECK(redis_sink_put(s, &v), "put");
    CHECK(redis_sink_flush(s, t += 1000) == 0, "flush merged");
    redisReply *r = cmd(c, "HGET sw:verdict:198.51.100.20 threat_level");
    CHECK_STR(r->str, "critical", "A's medium does not lower B's critical");
    freeReplyObject(r);
    redis_sink_destroy(s, 0);
    redisFree(c);
}

/* ---- restart: kill -9 mid-run vs an uninterrupted run ------------------------------------- */

/* Round 0 puts every IP; from KILL_ROUND on only the first SEQ_IPS_LATE change, so most hashes
 * are written only before the kill and must come back through the resync. */
enum {
    SEQ_IPS = 300,
    SEQ_IPS_LATE = 120,
    SEQ_ROUNDS = 40,
    SEQ_PER_ROUND = 60,
    KILL_ROUND = 15,
    RESTART_ROUND = 25,
};

struct snapshot {
    char **lines;
    size_t n, cap;
};

DD_PRINTF(2, 3) static void snap_add(struct snapshot *sn, const char *fmt, ...)
{
    if (sn->n == sn->cap) {
        sn->cap = sn->cap ? 2 * sn->cap : 1024;
        sn->lines = realloc(sn->lines, sn->cap * sizeof(*sn->lines));
        if (!sn->lines)
            exit(1);
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&sn->lines[sn->n], fmt, ap) < 0)
        exit(1);
    va_end(ap);
    sn->n++;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snap_free(struct snapshot *sn)
{
    for (size_t i = 0; i < sn->n; i++)
        free(sn->lines[i]);
    free(sn->lines);
}

/* Every verdict hash (minus "updated" and the time in "sensor:<id>"), the top set with scores
 * and the expiry index's members, as sorted lines. */
static void snapshot_take(uint16_t port, struct snapshot *sn)
{
    redisContext *c = client(port);
    char cursor[32] = "0";
    do {
        redisReply *r = cmd(c, "SCAN %s MATCH seq:verdict:* COUNT 1000", cursor);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            redisReply *h = cmd(c, "HGETALL %s", key);
            for (size_t j = 0; j + 1 < h->elements; j += 2) {
                const char *f = h->element[j]->str, *v = h->element[j + 1]->str;
                if (strcmp(f, "updated") == 0)
                    continue;
                if (strncmp(f, "sensor:", 7) == 0) {
                    /* "<level> <score> <time> <pps> <last_seen>": all but the time */
                    const char *t1 = strchr(v, ' '), *t2 = t1 ? strchr(t1 + 1, ' ') : NULL;
                    const char *t3 = t2 ? strchr(t2 + 1, ' ') : NULL;
                    snap_add(sn, "%s %s %.*s%s", key, f, (int)(t2 ? t2 - v : 0), v, t3 ? t3 : "");
                } else {
                    snap_add(sn, "%s %s %s", key, f, v);
                }
            }
            freeReplyObject(h);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisReply *top = cmd(c, "ZRANGE seq:top 0 -1 WITHSCORES");
    for (size_t i = 0; i + 1 < top->elements; i += 2)
        snap_add(sn, "top %s %s", top->element[i]->str, top->element[i + 1]->str);
    freeReplyObject(top);
    redisReply *idx = cmd(c, "ZRANGE seq:top:expiry 0 -1");
    for (size_t i = 0; i < idx->elements; i++)
        snap_add(sn, "top:expiry %s", idx->element[i]->str);
    freeReplyObject(idx);
    redisFree(c);
    qsort(sn->lines, sn->n, sizeof(*sn->lines), cmp_line);
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static struct verdict seq_verdict(unsigned ip, unsigned round, uint64_t *rng)
{
    char text[48];
    if (ip % 2)
        snprintf(text, sizeof(text), "2001:db8:1::%x", ip);
    else
        snprintf(text, sizeof(text), "10.1.%u.%u", ip / 256, ip % 256);
    struct verdict v =
        make_verdict(text, (enum threat_level)(lcg(rng) % 4), (double)(lcg(rng) % 10000) / 10000.0);
    v.role = (uint8_t)(lcg(rng) % 2);
    v.reasons = (uint32_t)(lcg(rng) % 256);
    v.flows_total = 1000u * round + lcg(rng) % 1000;
    v.flows_attack = v.flows_total / 2;
    v.pps = (double)(lcg(rng) % 1000000) / 10.0;
    v.bps = v.pps * 8 * 600;
    v.first_seen_us = 1700000000000000ull + ip * 1000u;             /* fixed per IP */
    v.last_seen_us = 1700000000000000ull + round * 1000000ull + ip; /* grows */
    return v;
}

/* Plays the verdict stage: a live table (latest verdict per IP), puts, events, a flush per
 * round, and a resync (re-put of the live table) whenever the sink asks for one. With kill,
 * the server dies in the middle of KILL_ROUND's puts and comes back at RESTART_ROUND. */
static void run_sequence(struct server *srv, bool kill_mid, struct snapshot *sn,
                         struct redis_sink_stats *out, uint64_t *events_after_kill)
{
    static struct verdict live[SEQ_IPS];
    static bool have[SEQ_IPS];
    memset(have, 0, sizeof(have));
    struct redis_sink_config cfg = {
        .port = srv->port,
        .sensor_id = "sensor-a",
        .key_prefix = "seq:",
        .ttl_s = 600,
        .flush_interval_ms = 100,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    uint64_t rng = 42, t = redis_sink_now_ms();
    *events_after_kill = 0;
    bool killed = false;
    unsigned refused = 0; /* puts and events the sink did not take: must stay 0 */

    for (unsigned round = 0; round < SEQ_ROUNDS; round++) {
        if (kill_mid && round == RESTART_ROUND) {
            CHECK(server_start(srv), "restart on port %u", srv->port);
        }
        const unsigned count = round == 0 ? SEQ_IPS : SEQ_PER_ROUND;
        for (unsigned k = 0; k < count; k++) {
            if (kill_mid && round == KILL_ROUND && k == count / 2) {
                server_kill(srv);
                killed = true;
            }
            unsigned ip =
                round == 0 ? k
                           : (unsigned)(lcg(&rng) % (round >= KILL_ROUND ? SEQ_IPS_LATE : SEQ_IPS));
            live[ip] = seq_verdict(ip, round, &rng);
            have[ip] = true;
            refused += !redis_sink_put(s, &live[ip]);
            if (live[ip].level == THREAT_CRITICAL && k % 7 == 0) {
                refused += !redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_START, &live[ip], NULL, 0);
                /* Events queued after the last flush before the kill reach the new server. */
                if (round >= KILL_ROUND)
                    (*events_after_kill)++;
            }
        }
        (void)redis_sink_flush(s, t += 100);
        if (redis_sink_resync_take(s)) {
            for (unsigned ip = 0; ip < SEQ_IPS; ip++) {
                if (have[ip])
                    refused += !redis_sink_put(s, &live[ip]);
            }
        }
    }
    /* The end of a run: the final sync (as ddosd's verdict stage does), then drain: flush until
     * nothing waits (the clock is ours: backoff passes quickly). */
    for (unsigned ip = 0; ip < SEQ_IPS; ip++) {
        if (have[ip])
            refused += !redis_sink_put_sync(s, &live[ip]);
    }
    for (int i = 0; i < 1000; i++) {
        struct redis_sink_stats st = stats_of(s);
        if (st.connected && !st.pending && !st.events_pending)
            break;
        (void)redis_sink_flush(s, t += 100);
        if (redis_sink_resync_take(s)) {
            for (unsigned ip = 0; ip < SEQ_IPS; ip++) {
                if (have[ip])
                    refused += !redis_sink_put(s, &live[ip]);
            }
        }
        sleep_ms(1);
    }
    CHECK(!kill_mid || killed, "the server was killed");
    CHECK(refused == 0, "the sink refused %u puts or events", refused);
    redis_sink_stats_get(s, out);
    snapshot_take(srv->port, sn);
    redis_sink_destroy(s, 0);
}

static void test_restart(struct server *a, struct server *b)
{
    struct snapshot interrupted = {0}, clean = {0};
    struct redis_sink_stats si, sc;
    uint64_t ev_after_kill = 0, ev_total = 0;

    run_sequence(a, true, &interrupted, &si, &ev_after_kill);
    redisContext *c = client(a->port);
    redisReply *xl = c ? cmd(c, "XLEN seq:events") : NULL;
    CHECK(xl && (uint64_t)xl->integer == ev_after_kill,
          "events queued from the kill on: %lld in the stream, want %" PRIu64,
          xl ? xl->integer : -1, ev_after_kill);
    freeReplyObject(xl);
    redisFree(c);
    server_kill(a);

    run_sequence(b, false, &clean, &sc, &ev_total);
    c = client(b->port);
    xl = cmd(c, "XLEN seq:events");
    CHECK((uint64_t)xl->integer == sc.events_written, "uninterrupted stream %lld", xl->integer);
    freeReplyObject(xl);
    redisFree(c);

    CHECK(si.redis_errors > 0, "redis_errors %" PRIu64, si.redis_errors);
    CHECK(si.reconnects >= 1, "reconnects %" PRIu64, si.reconnects);
    CHECK(si.resyncs == 1, "resyncs %" PRIu64, si.resyncs);
    CHECK(si.backlog_dropped == 0 && si.events_dropped == 0, "dropped %" PRIu64,
          si.backlog_dropped);
    CHECK(si.verdicts_rejected == 0 && si.events_rejected == 0, "rejected %" PRIu64,
          si.verdicts_rejected);
    CHECK(si.pending == 0 && si.events_pending == 0 && si.connected, "drained: pending %" PRIu64,
          si.pending);
    CHECK(sc.redis_errors == 0 && sc.reconnects == 0 && sc.resyncs == 0,
          "clean run errors %" PRIu64, sc.redis_errors);
    CHECK(clean.n > 1000, "clean snapshot has %zu lines", clean.n);

    size_t diffs = 0;
    for (size_t i = 0, j = 0; i < interrupted.n || j < clean.n;) {
        int d = i == interrupted.n ? 1
                : j == clean.n     ? -1
                                   : strcmp(interrupted.lines[i], clean.lines[j]);
        if (d == 0) {
            i++, j++;
            continue;
        }
        if (diffs++ < 10)
            fprintf(stderr, "  %s %s\n", d < 0 ? "only after restart:" : "only uninterrupted:",
                    d < 0 ? interrupted.lines[i] : clean.lines[j]);
        if (d < 0)
            i++;
        else
            j++;
    }
    CHECK(diffs == 0, "restarted state differs from the uninterrupted one in %zu lines (of %zu)",
          diffs, clean.n);
    printf("restart: %zu lines compared; interrupted run: %" PRIu64 " errors, %" PRIu64
           " reconnects, %" PRIu64 " resyncs\n",
           clean.n, si.redis_errors, si.reconnects, si.resyncs);
    snap_free(&interrupted);
    snap_free(&clean);
}

int main(void)
{
    if (!find_redis_server()) {
        printf("SKIP: redis-server is not installed (apt-get install redis-server)\n");
        return 77;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    log_configure(NULL, LOG_LEVEL_WARN);

    if (!server_start(&main_srv))
        return 1;
    printf("redis-server %s on 127.0.0.1:%u\n", redis_bin, main_srv.port);

    test_basic(main_srv.port);
    test_noscript(main_srv.port);
    test_error_replies(main_srv.port);
    test_sensors(main_srv.port);
    test_prune(main_srv.port);
    test_hung(&main_srv);
    test_changes(main_srv.port);
    test_budgets(main_srv.port);
    test_shared_switch(main_srv.port);
    server_kill(&main_srv);
    test_severity();

    if (server_start(&restart_a) && server_start(&restart_b))
        test_restart(&restart_a, &restart_b);
    else
        CHECK(false, "could not start the restart servers");

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
