/* redis_conn.h - how every ddosd Redis client opens its connection: the verdict stage's sink
 * (verdicts/redis_sink.c), the API's report stream (api/report_log.c) and the API-only node's
 * follower (verdicts/redis_follow.c).
 *
 * Contract: a connection goes to a Unix socket when the host starts with '/', else over TCP; it
 * gets a connect timeout and a command timeout (hiredis blocks at most that long in any call);
 * it logs in with AUTH [user] password when a password is given and SELECTs the db when it is
 * not 0. The caller owns the returned context (redisFree) and uses it from one thread at a time.
 *
 * Sentinel: with sentinels set (or a host written "sentinel:NAME@h1:p1,h2:p2", the form a client
 * that only passes a host string carries them in), every open first asks the Sentinels in turn
 * for the current primary of master_name (SENTINEL get-master-addr-by-name) and connects there;
 * with prefer_replica, for a healthy replica instead (SENTINEL replicas), falling back to the
 * primary. Because the question is asked again on every open, a client that reconnects after an
 * I/O error or a READONLY reply (the sink does both) follows a failover without subscribing to
 * +switch-master. A change of the answer is logged once per process.
 *
 * Writing to a socket whose peer died raises SIGPIPE, whose default action kills the process. A
 * library must not change process-wide signal handling, so every client blocks SIGPIPE in its
 * own thread around its I/O with redis_sigpipe_block / redis_sigpipe_restore (the write then
 * fails with EPIPE, an ordinary I/O error). */
#ifndef DD_VERDICTS_REDIS_CONN_H
#define DD_VERDICTS_REDIS_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisContext; /* hiredis: only the clients that use it include <hiredis/hiredis.h> */

struct redis_conn_params {
    const char *host;            /* name or address, or a Unix socket path ('/' first) */
    unsigned port;               /* TCP only */
    const char *username;        /* ACL user; NULL: AUTH <password> alone (requirepass) */
    const char *password;        /* NULL or "": no AUTH */
    unsigned db;                 /* 0: no SELECT */
    uint32_t connect_timeout_ms; /* > 0 */
    uint32_t command_timeout_ms; /* > 0 */
    bool keepalive;              /* TCP keepalive, best effort: notices a silently dead peer */
    const char *sentinels;       /* NULL: host/port is the server; else "h1:p1,h2:p2,[v6]:p" */
    const char *master_name;     /* with sentinels: the name Sentinel monitors */
    bool prefer_replica;         /* with sentinels: a replica (readers), else the primary */
};

enum {
    REDIS_CONN_SENTINELS_MAX = 16, /* sentinels asked per open */
    REDIS_CONN_HOST_MAX = 256,
};

/* Builds the host string "sentinel:NAME@h1:p1,h2:p2" that carries a Sentinel set through a
 * client that only passes a host (the sink) from n "host:port" strings. Returns 0, or
 * -ENAMETOOLONG when it does not fit in len. */
int redis_conn_sentinel_host(char *buf, size_t len, const char *master_name,
                             const char *const *sentinels, size_t n);

/* Asks the Sentinels (p->sentinels, or a "sentinel:" host) where p's server is: host (up to
 * REDIS_CONN_HOST_MAX) and port. Returns 0, or -1 with a one-line reason in err naming every
 * Sentinel tried. Without sentinels, copies p->host/p->port. */
int redis_conn_resolve(const struct redis_conn_params *p, char *host, unsigned *port, char *err,
                       size_t err_len);

/* Connects (through Sentinel when p names sentinels: redis_conn_resolve first) and sets the
 * command timeout (no command is sent to the server). Returns the context, or NULL with a
 * one-line reason in err ("connect: ...", "sentinel: ..." or "setting the command timeout: ...").
 */
struct redisContext *redis_conn_open(const struct redis_conn_params *p, char *err, size_t err_len);

/* Appends (does not send) the log-in commands p asks for: AUTH, then SELECT. Returns how many
 * were appended (0 to 2): their replies come first, in that order, before those of anything
 * appended after. -1 when hiredis could not append (c->errstr says why). */
int redis_conn_append_login(struct redisContext *c, const struct redis_conn_params *p);

/* redis_conn_open, then the log-in in one round trip, every reply read and checked. Returns the
 * ready context, or NULL with a one-line reason in err. Call with SIGPIPE blocked. */
struct redisContext *redis_conn_connect(const struct redis_conn_params *p, char *err,
                                        size_t err_len);

/* redisFree, for callers that do not include hiredis. Accepts NULL. */
void redis_conn_close(struct redisContext *c);

/* Blocks SIGPIPE in the calling thread, remembering whether one was already pending. */
struct redis_sigpipe_guard {
    sigset_t old;
    bool was_pending;
};
void redis_sigpipe_block(struct redis_sigpipe_guard *g);

/* Consumes a SIGPIPE our I/O raised in the meantime (never one that was pending before) and
 * restores the thread's signal mask. */
void redis_sigpipe_restore(struct redis_sigpipe_guard *g);

#endif
