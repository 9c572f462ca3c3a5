/* redis_conn.c - opening, logging in and SIGPIPE handling for ddosd's Redis connections.
 *
 * Owns nothing past a call: every function works on the caller's context and stack. Used by the
 * verdict stage's sink (its thread) and the API's report stream (under its lock). May call:
 * hiredis, libc.
 *
 * DESIGN: the sink pipelines its log-in with its own start-up commands (script loads, INFO) in one
 * round trip, so opening and logging in are separate steps (redis_conn_open,
 * redis_conn_append_login); a client with nothing else to send takes both with
 * redis_conn_connect. Arguments go through redisAppendCommandArgv: a password is never
 * interpreted as command text. */
#include "verdicts/redis_conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

static struct timeval ms_to_tv(uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

redisContext *redis_conn_open(const struct redis_conn_params *p, char *err, size_t err_len)
{
    struct timeval ctv = ms_to_tv(p->connect_timeout_ms);
    bool unix_socket = p->host[0] == '/';
    redisContext *c = unix_socket ? redisConnectUnixWithTimeout(p->host, ctv)
                                  : redisConnectWithTimeout(p->host, (int)p->port, ctv);
    if (!c || c->err) {
        snprintf(err, err_len, "connect: %s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, ms_to_tv(p->command_timeout_ms)) != REDIS_OK) {
        snprintf(err, err_len, "setting the command timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (p->keepalive && !unix_socket)
        (void)redisEnableKeepAlive(c); /* best effort */
    return c;
}

int redis_conn_append_login(redisContext *c, const struct redis_conn_params *p)
{
    int n = 0;
    if (p->password && p->password[0]) {
        const char *argv[3];
        size_t lens[3];
        int argc = 0;
        argv[argc] = "AUTH";
        lens[argc++] = 4;
        if (p->username) {
            argv[argc] = p->username;
            lens[argc++] = strlen(p->username);
        }
        argv[argc] = p->password;
        lens[argc++] = strlen(p->password);
        if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK)
            return -1;
        n++;
    }
    if (p->db) {
        if (redisAppendCommand(c, "SELECT %u", p->db) != REDIS_OK)
            return -1;
        n++;
    }
    return n;
}

redisContext *redis_conn_connect(const struct redis_conn_params *p, char *err, size_t err_len)
{
    redisContext *c = redis_conn_open(p, err, err_len);
    if (!c)
        return NULL;
    int n = redis_conn_append_login(c, p);
    if (n < 0) {
        snprintf(err, err_len, "log-in: %s", c->errstr[0] ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    bool failed = false;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, err_len, "log-in: %s", c->errstr);
            redisFree(c);
            return NULL;
        }
        if (r->type == REDIS_REPLY_ERROR && !failed) {
            snprintf(err, err_len, "log-in: %s", r->str);
            failed = true; /* keep reading: the replies must be consumed in order */
        }
        freeReplyObject(r);
    }
    if (failed) {
        redisFree(c);
        return NULL;
    }
    return c;
}

void redis_sigpipe_block(struct redis_sigpipe_guard *g)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

void redis_sigpipe_restore(struct redis_sigpipe_guard *g)
{
    if (!g->was_pending) {
        sigset_t set, pending;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        sigemptyset(&pending);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE) == 1) {
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&set, NULL, &zero) == -1 && errno == EINTR)
                ;
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}
