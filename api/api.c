/* api.c - the API's transport: libmicrohttpd's daemon, per-connection state, request bodies,
 * prebuilt responses, and what happens when a request completes (metrics, access log).
 *
 * Threads: libmicrohttpd runs api.threads threads, each with its own epoll set and its own
 * connections; every callback for one connection runs on that connection's thread, so the
 * per-connection state (struct api_conn) needs no lock. The request core (handler.c) is shared
 * and thread-safe. api_start/api_stop run on the daemon's main thread; api_reopen_log anywhere.
 *
 * DESIGN:
 * - We bind the listening socket ourselves (MHD_OPTION_LISTEN_SOCKET) so a failure comes back as
 *   one precise line ("address in use"), and hand it to libmicrohttpd, which closes it on stop.
 * - State lives per connection, not per request: MHD_OPTION_NOTIFY_CONNECTION allocates a
 *   struct api_conn when a client connects and frees it when it goes; the URI log callback (the
 *   first thing libmicrohttpd reports of a request, with the raw request target) resets it and
 *   starts the clock. A keep-alive client's requests therefore allocate nothing here, and the
 *   core sees the raw query string (it parses it itself, the same way under the fuzzer).
 * - Every request is answered once libmicrohttpd has all of it (the access handler's call with
 *   no upload data after the first): libmicrohttpd 0.9.75 closes the connection after a
 *   response queued on the first call, which would cost keep-alive. Only a POST is answered on
 *   the first call when it is refused outright: it is pre-checked (route, method, key,
 *   Content-Length, Content-Type) before any byte of its body is read; its body is
 *   buffered up to api.body_limit; beyond it the upload is answered 413 at once when
 *   libmicrohttpd allows, else the rest is drained (up to 4 x the limit, then the connection is
 *   dropped) and answered 413.
 * - /api/check's 204 and 403 are responses built once and queued by reference.
 * - Request heads: libmicrohttpd 0.9.75 reads a request's line and headers into half of the
 *   connection's memory pool, and zeroes the whole pool after every keep-alive request
 *   (MHD_pool_reset; no option turns it off). Its default 32 KiB pool made that memset about a
 *   tenth of the CPU time of a /api/threat-analysis request; API_CONN_MEMORY 16 KiB halves it
 *   and still holds one header line up to about 7.5 KiB, a head of several lines up to about
 *   15 KiB (measured; beyond, 431 Request Header Fields Too Large, or for a line just under
 *   8 KiB the connection closed unanswered). Our clients send a few hundred bytes: the
 *   gateway's lookups, bouncers' keys, and nginx's auth_request, which forwards only X-Real-IP
 *   in the configuration docs/api.md gives (proxy_pass_request_headers off: with the client's
 *   headers forwarded, no pool size would do, nginx accepts 32 KiB of them by default); the
 *   shipped nginx site caps what it passes (large_client_header_buffers).
 *   tests/integration/api_nginx_auth_request.py sends both a 7 KiB head directly and 21 KiB of
 *   client headers through nginx.
 *
 * Hostile clients (the "guard": admission, deadlines, a quiet error log):
 * - Deadline, not idle time. libmicrohttpd 0.9.75's MHD_OPTION_CONNECTION_TIMEOUT restarts on
 *   every byte, so a slowloris that sends one header line every 2 s is never timed out. We give
 *   every connection a deadline instead: api.timeout after it becomes ready for a request
 *   (accepted, or its previous response sent), re-armed only when a response has been sent. A
 *   reaper thread wakes every API_REAP_MS, and shutdown(2)s the socket of each connection past
 *   its deadline; the socket then reads end-of-file in libmicrohttpd's epoll loop, which closes
 *   the connection on its own thread as if the client had gone (shutdown, not close: the fd
 *   stays libmicrohttpd's, so no thread ever sees it change under it). Why this is safe: the
 *   reaper only touches a socket while holding guard.lock with the connection registered, and
 *   libmicrohttpd calls MHD_CONNECTION_NOTIFY_CLOSED (which unregisters under the same lock)
 *   before it close(2)s the fd, so the fd cannot have been closed and reused by another
 *   connection when the reaper shuts it down. The deadline is an atomic in the connection's
 *   slot: its own thread stores it (relaxed; nothing else is published with it), the reaper
 *   loads it; one store per request, no lock on the request path.
 * - Budgets. api.max_connections is split in two pools: api.reserved_connections slots that only
 *   reserved peers (127.0.0.1, ::1 and api.reserved_cidrs: the gateway) may take, and the rest,
 *   shared by everyone, where a non-reserved address holds at most api.per_address_connections.
 *   A reserved peer whose pool is full spills into the shared pool. So any number of attacking
 *   addresses can fill the shared pool, never the gateway's or the health check's. The counts
 *   live under guard.lock (taken per connection, not per request). The accept policy callback
 *   refuses early without allocating; the authoritative check-and-count happens in
 *   MHD_CONNECTION_NOTIFY_STARTED (which libmicrohttpd pairs with exactly one CLOSED), where a
 *   connection over budget is shut down at once. libmicrohttpd's own limit is set above ours,
 *   so it never refuses first.
 * - libmicrohttpd's messages (one per malformed request, per refused connection) pass a fixed
 *   window (API_LOG_LINES per API_LOG_WINDOW_S); the rest are counted, and the reaper writes one
 *   "suppressed N" line when the window ends (api_stop at once).
 * - MHD_OPTION_STRICT_FOR_CLIENT 1: requests with spaces before a header's colon, without a
 *   Host header (HTTP/1.1) and similar are refused by libmicrohttpd with 400; a request line or
 *   header holding a NUL, and a request with two different Content-Length values, are refused
 *   here (api_precheck / conn_request_bad). */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "common/cidr.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
enum {
    API_LISTEN_BACKLOG = 1024,
    API_BODY_KEEP = 4096,
    API_REAP_MS = 100,         /* deadline granularity */
    API_LOG_LINES = 10,        /* libmicrohttpd lines written per window ... */
    API_LOG_WINDOW_S = 60,     /* ... of this many seconds; then one "suppressed N" line */
    API_MHD_LIMIT_MARGIN = 16, /* per thread: connections in flight to a refusal */
    /* Each connection's libmicrohttpd memory pool: see DESIGN, "Request heads". */
    API_CONN_MEMORY = 16384,
};

enum api_pool { API_POOL_NONE = 0, API_POOL_RESERVED, API_POOL_SHARED };

/* One connection's registration: stable for the connection's life (slots never move). */
struct api_slot {
    _Atomic uint64_t deadline_ns; /* dd_mono_ns; written by the connection's thread, read by the
                                     reaper (relaxed both: it publishes nothing else) */
    int fd;                       /* -1: free; guard.lock */
    bool reaped;                  /* guard.lock: shut down once */
};

/* Open connections per non-reserved address (linear probing, backward-shift deletion). */
struct api_addr_count {
    uint8_t addr[16];
    uint8_t version; /* 0: empty */
    uint32_t n;
};

/* Admission and deadlines (see DESIGN). Everything but the deadlines is under lock. */
struct api_guard {
    pthread_mutex_t lock;
    struct api_slot *slots;
    uint32_t *free_slots;       /* a stack of free slot indexes */
    size_t nslots, nfree, high; /* high: slots [0, high) were ever used (the reaper's scan) */
    struct api_addr_count *addrs;
    size_t addr_mask;
    uint64_t seed;
    unsigned reserved_cap, shared_cap, per_address;
    unsigned used[3];                 /* by enum api_pool */
    const struct cidr_list *reserved; /* api.reserved_cidrs (borrowed from cfg) */
    uint64_t timeout_ns;
    /* The reaper. */
    pthread_t thread;
    bool thread_ok;
    pthread_cond_t wake;
    bool stop; /* lock */ /* libmicrohttpd's log lines: a fixed window (log_lock). */
    pthread_mutex_t log_lock;
    uint64_t log_window_ms; /* dd_mono_ms when the window began (0: none yet) */
    unsigned log_lines;     /* written in this window */
    uint64_t log_dropped;   /* suppressed in this window */
};

struct api_server {
    struct api_core *core;
    struct MHD_Daemon *daemon;
    struct access_log *alog; /* NULL: no access log */
    struct MHD_Response *statics[API_STATIC_COUNT];
    uint16_t port;
    struct api_guard guard;
    bool guard_ok; /* its locks exist */
};

/* One client connection; touched only by the thread serving it. */
struct api_conn {
    struct api_server *srv;
    char peer[VERDICT_IP_TEXT_MAX];
    bool peer_loopback;
    uint8_t pool; /* enum api_pool: where it is counted (NONE: refused, not counted) */
    uint8_t version;
    uint8_t addr[16];
    uint32_t slot;
    /* The current request. */
    char *uri;
    size_t uri_cap;
    const char *uri_raw; /* libmicrohttpd's request-line buffer at the URI: compared, never read */
    size_t uri_len;
    char *body;
    size_t body_len, body_cap, drained;
    bool started;   /* the access handler saw the headers */
    bool too_large; /* the body went over the limit */
    bool replied;   /* a response is queued */
    uint8_t endpoint;
    int status;
    uint64_t t0_ns;
    size_t line_len;
    char line[ACCESS_LOG_LINE_MAX];
};

static void peer_text(const struct sockaddr *sa, char out[VERDICT_IP_TEXT_MAX], bool *loopback)
{
    *loopback = false;
    snprintf(out, VERDICT_IP_TEXT_MAX, "-");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, VERDICT_IP_TEXT_MAX);
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, a + 12, out, VERDICT_IP_TEXT_MAX);
            *loopback = a[12] == 127;
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, out, VERDICT_IP_TEXT_MAX);
            *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        }
    }
}

/* ---------------------------------------------------------------- the guard */

/* The peer's address as struct verdict holds one (IPv4 in the first 4 bytes, an IPv4-mapped
 * IPv6 address as IPv4). Returns the version, 0 for another family. */
static uint8_t addr_of(const struct sockaddr *sa, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(addr, a6->s6_addr + 12, 4);
            return 4;
        }
        memcpy(addr, a6->s6_addr, 16);
        return 6;
    }
    return 0;
}

/* 127.0.0.1 and ::1 (the local nginx and health checks), and api.reserved_cidrs. Not all of
 * 127/8: a test, or a local tool, may stand for other addresses there. */
static bool addr_reserved(const struct api_guard *g, uint8_t version, const uint8_t addr[16])
{
    static const uint8_t lo4[4] = {127, 0, 0, 1};
    static const uint8_t lo6[16] = {[15] = 1};
    if (version == 4 && memcmp(addr, lo4, 4) == 0)
        return true;
    if (version == 6 && memcmp(addr, lo6, 16) == 0)
        return true;
    return version && cidr_list_contains(g->reserved, version, addr);
}

static size_t addr_find_locked(const struct api_guard *g, uint8_t version, const uint8_t addr[16])
{
    size_t i = dd_hash_addr(g->seed, addr, version) & g->addr_mask;
    while (g->addrs[i].version &&
           !(g->addrs[i].version == version && memcmp(g->addrs[i].addr, addr, 16) == 0))
        i = (i + 1) & g->addr_mask;
    return i; /* the entry, or the empty slot where it would go */
}

static void addr_release_locked(struct api_guard *g, uint8_t version, const uint8_t addr[16])
{
    size_t i = addr_find_locked(g, version, addr);
    if (g->addrs[i].version == 0 || --g->addrs[i].n > 0)
        return;
    /* Backward-shift deletion: move later entries of the probe run into the hole, so lookups
     * never need tombstones. */
    size_t hole = i;
    for (size_t j = (i + 1) & g->addr_mask; g->addrs[j].version; j = (j + 1) & g->addr_mask) {
        size_t home = dd_hash_addr(g->seed, g->addrs[j].addr, g->addrs[j].version) & g->addr_mask;
        /* j may move to hole when its home is not cyclically in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            g->addrs[hole] = g->addrs[j];
            hole = j;
        }
    }
    g->addrs[hole].version = 0;
    g->addrs[hole].n = 0;
}

/* Decides where a new connection from (version, addr) is counted, without counting it. */
static enum api_pool guard_pool_locked(const struct api_guard *g, uint8_t version,
                                       const uint8_t addr[16], bool reserved, enum api_refusal *why)
{
    if (reserved) {
        if (g->used[API_POOL_RESERVED] < g->reserved_cap)
            return API_POOL_RESERVED;
        if (g->used[API_POOL_SHARED] < g->shared_cap)
            return API_POOL_SHARED;
        *why = API_REFUSED_RESERVED_FULL;
        return API_POOL_NONE;
    }
    size_t i = addr_find_locked(g, version, addr);
    if (g->addrs[i].version && g->addrs[i].n >= g->per_address) {
        *why = API_REFUSED_PER_ADDRESS;
        return API_POOL_NONE;
    }
    if (g->used[API_POOL_SHARED] >= g->shared_cap) {
        *why = API_REFUSED_SHARED_FULL;
        return API_POOL_NONE;
    }
    return API_POOL_SHARED;
}

static void count_refusal(struct api_server *srv, enum api_refusal why)
{
    atomic_fetch_add_explicit(&srv->core->metrics.conn_refused[why], 1, memory_order_relaxed);
}

static void publish_open_locked(struct api_server *srv)
{
    struct api_metrics *m = &srv->core->metrics;
    atomic_store_explicit(&m->conn_open[0], srv->guard.used[API_POOL_RESERVED],
                          memory_order_relaxed);
    atomic_store_explicit(&m->conn_open[1], srv->guard.used[API_POOL_SHARED], memory_order_relaxed);
}

/* libmicrohttpd's accept policy: a read-only early refusal, before it allocates anything. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t salen)
{
    struct api_server *srv = cls;
    struct api_guard *g = &srv->guard;
    uint8_t addr[16];
    uint8_t version = addr_of(salen ? sa : NULL, addr);
    bool reserved = addr_reserved(g, version, addr);
    enum api_refusal why = API_REFUSED_SHARED_FULL;
    pthread_mutex_lock(&g->lock);
    enum api_pool pool = guard_pool_locked(g, version, addr, reserved, &why);
    pthread_mutex_unlock(&g->lock);
    if (pool == API_POOL_NONE) {
        count_refusal(srv, why);
        return MHD_NO;
    }
    return MHD_YES;
}

/* Counts and registers c (NOTIFY_STARTED). False when it is over budget (counted as refused):
 * the caller shuts it down. */
static bool guard_admit(struct api_server *srv, struct api_conn *c, int fd)
{
    struct api_guard *g = &srv->guard;
    bool reserved = addr_reserved(g, c->version, c->addr);
    enum api_refusal why = API_REFUSED_SHARED_FULL;
    bool ok = false;
    pthread_mutex_lock(&g->lock);
    enum api_pool pool = guard_pool_locked(g, c->version, c->addr, reserved, &why);
    if (pool != API_POOL_NONE && g->nfree > 0) {
        if (pool == API_POOL_SHARED && !reserved) {
            size_t i = addr_find_locked(g, c->version, c->addr);
            if (g->addrs[i].version == 0) {
                memcpy(g->addrs[i].addr, c->addr, 16);
                g->addrs[i].version = c->version;
                g->addrs[i].n = 0;
            }
            g->addrs[i].n++;
        }
        g->used[pool]++;
        c->pool = (uint8_t)pool;
        c->slot = g->free_slots[--g->nfree];
        struct api_slot *s = &g->slots[c->slot];
        s->fd = fd;
        s->reaped = false;
        atomic_store_explicit(&s->deadline_ns, dd_mono_ns() + g->timeout_ns, memory_order_relaxed);
        if (c->slot >= g->high)
            g->high = c->slot + 1;
        publish_open_locked(srv);
        ok = true;
    }
    pthread_mutex_unlock(&g->lock);
    if (!ok)
        count_refusal(srv, why);
    return ok;
}

/* Uncounts and unregisters c (NOTIFY_CLOSED: libmicrohttpd closes the fd after this returns). */
static void guard_release(struct api_server *srv, struct api_conn *c)
{
    struct api_guard *g = &srv->guard;
    if (c->pool == API_POOL_NONE)
        return;
    bool reserved = addr_reserved(g, c->version, c->addr);
    pthread_mutex_lock(&g->lock);
    if (c->pool == API_POOL_SHARED && !reserved)
        addr_release_locked(g, c->version, c->addr);
    g->used[c->pool]--;
    g->slots[c->slot].fd = -1;
    atomic_store_explicit(&g->slots[c->slot].deadline_ns, 0, memory_order_relaxed);
    g->free_slots[g->nfree++] = c->slot;
    publish_open_locked(srv);
    pthread_mutex_unlock(&g->lock);
    c->pool = API_POOL_NONE;
}

/* The connection's next request (and the response to it) must be done within api.timeout. */
static void guard_rearm(struct api_server *srv, const struct api_conn *c, uint64_t now_ns)
{
    if (c->pool != API_POOL_NONE)
        atomic_store_explicit(&srv->guard.slots[c->slot].deadline_ns,
                              now_ns + srv->guard.timeout_ns, memory_order_relaxed);
}

/* True when a libmicrohttpd line may be written now; false counts it as suppressed. */
static bool log_take(struct api_guard *g, uint64_t now_ms)
{
    pthread_mutex_lock(&g->log_lock);
    if ((g->log_window_ms == 0 || now_ms - g->log_window_ms >= API_LOG_WINDOW_S * 1000u) &&
        g->log_dropped == 0) { /* with drops, the reaper reports and opens the next window */
        g->log_window_ms = now_ms;
        g->log_lines = 0;
    }
    bool take = g->log_lines < API_LOG_LINES;
    if (take)
        g->log_lines++;
    else
        g->log_dropped++;
    pthread_mutex_unlock(&g->log_lock);
    return take;
}

/* Writes the "suppressed N" line of a finished window (of the current one, with force). */
static void log_report_suppressed(struct api_guard *g, uint64_t now_ms, bool force)
{
    uint64_t n = 0, span = 0;
    pthread_mutex_lock(&g->log_lock);
    if (g->log_dropped && (force || now_ms - g->log_window_ms >= API_LOG_WINDOW_S * 1000u)) {
        n = g->log_dropped;
        span = now_ms - g->log_window_ms;
        g->log_dropped = 0;
        g->log_window_ms = now_ms;
        g->log_lines = 0;
    }
    pthread_mutex_unlock(&g->log_lock);
    if (n)
        DD_WARN("api: libmicrohttpd: suppressed %llu more messages in the last %.0f s (malformed "
                "requests or refused connections; see ddosd_api_log_lines_suppressed_total and "
                "ddosd_api_connections_refused_total)",
                (unsigned long long)n, (double)span / 1000.0);
}

/* The reaper: every API_REAP_MS, shuts down the sockets of connections past their deadline,
 * and reports suppressed log lines. */
static void *guard_main(void *arg)
{
    struct api_server *srv = arg;
    struct api_guard *g = &srv->guard;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += API_REAP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (g->stop)
            break;
        uint64_t now = dd_mono_ns();
        uint64_t reaped = 0;
        for (size_t i = 0; i < g->high; i++) {
            struct api_slot *s = &g->slots[i];
            uint64_t d = atomic_load_explicit(&s->deadline_ns, memory_order_relaxed);
            if (s->fd < 0 || s->reaped || d == 0 || now < d)
                continue;
            /* Registered, so libmicrohttpd has not closed s->fd (see DESIGN). */
            shutdown(s->fd, SHUT_RDWR);
            s->reaped = true;
            reaped++;
        }
        if (reaped)
            atomic_fetch_add_explicit(&srv->core->metrics.conn_deadline_closed, reaped,
                                      memory_order_relaxed);
        pthread_mutex_unlock(&g->lock);
        log_report_suppressed(g, now / 1000000u, false);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Sizes the guard for cfg; the reaper starts in guard_start. Returns 0 or an error in err. */
static int guard_init(struct api_server *srv, const struct config_api *a, unsigned mhd_limit,
                      char *err, size_t err_len)
{
    struct api_guard *g = &srv->guard;
    unsigned max_conn = a->max_connections > 0 ? (unsigned)a->max_connections : 1024;
    if (a->reserved_connections < 0 || (unsigned)a->reserved_connections >= max_conn) {
        snprintf(err, err_len,
                 "api.reserved_connections (%d) must be below api.max_connections (%u); the "
                 "rest of max_connections is what every other address shares",
                 a->reserved_connections, max_conn);
        return -EINVAL;
    }
    g->reserved_cap = (unsigned)a->reserved_connections;
    g->shared_cap = max_conn - g->reserved_cap;
    g->per_address = a->per_address_connections > 0 ? (unsigned)a->per_address_connections : 1;
    g->reserved = &a->reserved_cidrs;
    g->timeout_ns = (uint64_t)((a->timeout > 0 ? a->timeout : 10) * 1e9);
    g->seed = dd_hash_seed(g);
    g->nslots = mhd_limit;
    size_t acap = 16;
    while (acap < 2 * (size_t)g->shared_cap)
        acap *= 2;
    g->addr_mask = acap - 1;
    g->slots = calloc(g->nslots, sizeof(*g->slots));
    g->free_slots = calloc(g->nslots, sizeof(*g->free_slots));
    g->addrs = calloc(acap, sizeof(*g->addrs));
    if (g->slots == NULL || g->free_slots == NULL || g->addrs == NULL) {
        snprintf(err, err_len, "api: out of memory for %zu connection slots", g->nslots);
        return -ENOMEM;
    }
    for (size_t i = 0; i < g->nslots; i++) {
        g->slots[i].fd = -1;
        g->free_slots[i] = (uint32_t)(g->nslots - 1 - i); /* pop 0 first: a short scan */
    }
    g->nfree = g->nslots;
    if (pthread_mutex_init(&g->lock, NULL) != 0 || pthread_mutex_init(&g->log_lock, NULL) != 0) {
        snprintf(err, err_len, "api: cannot create a lock");
        return -ENOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot create a condition variable");
        return -rc;
    }
    srv->guard_ok = true;
    return 0;
}

static int guard_start(struct api_server *srv, char *err, size_t err_len)
{
    int rc = pthread_create(&srv->guard.thread, NULL, guard_main, srv);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot start the connection reaper thread: %s", strerror(rc));
        return -rc;
    }
    srv->guard.thread_ok = true;
    return 0;
}

static void guard_stop(struct api_server *srv)
{
    struct api_guard *g = &srv->guard;
    if (g->thread_ok) {
        pthread_mutex_lock(&g->lock);
        g->stop = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
        g->thread_ok = false;
    }
}

static void guard_destroy(struct api_server *srv)
{
    struct api_guard *g = &srv->guard;
    if (srv->guard_ok) {
        log_report_suppressed(g, dd_mono_ms(), true);
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->log_lock);
        pthread_mutex_destroy(&g->lock);
    }
    free(g->slots);
    free(g->free_slots);
    free(g->addrs);
}

/* Raises RLIMIT_NOFILE's soft limit to what need connections take (up to the hard limit). */
static void fd_limit_check(unsigned need)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)need + 256; /* logs, captures, Redis, the listening socket */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    rlim_t cur = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want)
        return;
    DD_WARN("api: api.max_connections needs about %llu open files, the limit is %llu: raise it "
            "(LimitNOFILE= in the systemd unit, ulimit -n) or lower api.max_connections; beyond "
            "it connections fail to be accepted, the reserved ones too",
            (unsigned long long)want, (unsigned long long)(rl.rlim_cur > cur ? rl.rlim_cur : cur));
}

/* ---------------------------------------------------------------- connections */

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct api_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct api_conn *c = calloc(1, sizeof(*c));
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = fi ? fi->connect_fd : -1;
        if (c) {
            c->srv = srv;
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            const struct sockaddr *sa = ci ? ci->client_addr : NULL;
            peer_text(sa, c->peer, &c->peer_loopback);
            c->version = addr_of(sa, c->addr);
            if (fd < 0 || !guard_admit(srv, c, fd)) {
                /* Over budget: end it now (it reads end-of-file in libmicrohttpd's loop). */
                if (fd >= 0)
                    shutdown(fd, SHUT_RDWR);
            }
        } else if (fd >= 0) {
            shutdown(fd, SHUT_RDWR); /* without state it would escape the deadline */
        }
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct api_conn *c = *socket_context;
        if (c) {
            guard_release(srv, c);
            free(c->uri);
            free(c->body);
            free(c);
        }
        *socket_context = NULL;
    }
}

/* The first callback of every request: reset the connection's request state, keep the raw
 * target. Its return value becomes the request's *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct api_conn *c = ci ? ci->socket_context : NULL;
    if (c == NULL)
        return NULL;
    size_t n = strlen(uri) + 1;
    if (n > c->uri_cap) {
        char *p = realloc(c->uri, n);
        if (p == NULL)
            return NULL;
        c->uri = p;
        c->uri_cap = n;
    }
    memcpy(c->uri, uri, n);
    c->uri_raw = uri;
    c->uri_len = n - 1;
    c->body_len = 0;
    c->drained = 0;
    c->started = c->too_large = c->replied = false;
    c->endpoint = API_EP_OTHER;
    c->status = 0;
    c->line_len = 0;
    c->t0_ns = dd_mono_ns();
    return c;
}

static const char *conn_header(void *cls, const char *name)
{
    return MHD_lookup_connection_value(cls, MHD_HEADER_KIND, name);
}

struct framing {
    const char *length; /* the first Content-Length */
    bool length_differs;
    bool chunked_too; /* Transfer-Encoding next to Content-Length */
    bool te;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (key && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->length && strcmp(f->length, value ? value : "") != 0)
            f->length_differs = true;
        if (f->length == NULL)
            f->length = value ? value : "";
    } else if (key && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te = true;
    }
    return MHD_YES;
}

/* What libmicrohttpd 0.9.75 lets through even in its strict mode, refused here with a reason
 * (NULL: the request is well formed):
 * - a NUL in the request line ("GET /health\0/x HTTP/1.1"): it hands on the target cut at the
 *   NUL. It parses the line in place, so the version string starts right after the target and
 *   its separating space: when it starts later, the target held a NUL.
 * - two Content-Length headers that disagree, or one next to Transfer-Encoding: it uses the
 *   first, a proxy in front may have used the other (request smuggling, RFC 9112 6.3). */
static const char *conn_request_bad(const struct api_conn *c, struct MHD_Connection *mc,
                                    const char *version)
{
    uintptr_t raw = (uintptr_t)c->uri_raw, ver = (uintptr_t)version;
    if (c->uri_raw && version && ver > raw + c->uri_len + 1 && ver - raw < 65536)
        return "the request line holds a NUL byte";
    struct framing f = {0};
    MHD_get_connection_values(mc, MHD_HEADER_KIND, framing_header, &f);
    if (f.length_differs)
        return "two different Content-Length headers";
    if (f.length && f.te)
        return "Content-Length and Transfer-Encoding together";
    return NULL;
}

static void request_init(struct api_conn *c, struct MHD_Connection *mc, const char *method,
                         struct api_request *req)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->uri = c->uri;
    req->header = conn_header;
    req->header_cls = mc;
    req->body = c->body_len ? c->body : NULL;
    req->body_len = c->body_len;
    req->body_too_large = c->too_large;
    req->peer = c->peer;
    req->peer_loopback = c->peer_loopback;
    req->now_ms = verdict_store_now_ms();
}

static struct MHD_Response *response_make(struct api_server *srv, struct api_reply *r)
{
    if (r->static_reply != API_STATIC_NONE && r->static_reply < API_STATIC_COUNT) {
        api_reply_free(r);
        return srv->statics[r->static_reply]; /* borrowed: queued by reference */
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->body_len, r->body, r->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        api_reply_free(r);
        return NULL;
    }
    r->body = NULL; /* libmicrohttpd frees it with the response */
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->csp)
        MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
    if (r->retry_after_s) {
        char ra[8];
        snprintf(ra, sizeof(ra), "%u", (unsigned)r->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (r->status == 401) /* RFC 9110: a 401 names the scheme it wants */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ddosd\"");
    return resp;
}

/* Queues the reply and formats the access log line. Returns the access handler's result. */
static enum MHD_Result reply_send(struct api_conn *c, struct MHD_Connection *mc, const char *method,
                                  const char *version, struct api_reply *r)
{
    struct api_server *srv = c->srv;
    size_t bytes = strcmp(method, "HEAD") == 0 ? 0 : r->body_len;
    int status = r->status;
    uint8_t ep = r->endpoint;
    struct MHD_Response *resp = response_make(srv, r);
    if (resp == NULL)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(mc, (unsigned)status, resp);
    if (r->static_reply == API_STATIC_NONE)
        MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return ok;
    c->replied = true;
    c->status = status;
    c->endpoint = ep;
    if (srv->alog)
        c->line_len = access_log_format(
            c->line, c->peer, method, c->uri, version, status, bytes,
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_REFERER),
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT),
            (int64_t)time(NULL));
    return MHD_YES;
}

static bool body_append(struct api_conn *c, const char *data, size_t n, size_t limit)
{
    if (c->body_len + n > limit)
        return false;
    if (c->body_len + n > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        while (cap < c->body_len + n)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        char *p = realloc(c->body, cap);
        if (p == NULL)
            return false;
        c->body = p;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct api_conn *c = *con_cls;
    if (c == NULL || c->pool == API_POOL_NONE)
        return MHD_NO; /* no memory for the connection state, or refused (being shut down) */
    struct api_core *core = c->srv->core;
    struct api_request req;
    struct api_reply reply;

    if (c->replied) { /* answered early: drop whatever body still arrives */
        c->drained += *upload_data_size;
        *upload_data_size = 0;
        return c->drained > 4 * core->body_limit ? MHD_NO : MHD_YES;
    }
    if (!c->started) {
        c->started = true;
        const char *bad = conn_request_bad(c, mc, version);
        if (bad) {
            /* Answered now, so libmicrohttpd closes the connection after it: whatever follows
             * cannot be read as another request. */
            atomic_fetch_add_explicit(&core->metrics.requests_malformed, 1, memory_order_relaxed);
            memset(&reply, 0, sizeof(reply));
            reply.endpoint = API_EP_OTHER;
            api_reply_error(&reply, 400, "bad_request", "%s", bad);
            return reply_send(c, mc, method, version, &reply);
        }
        /* Answer GET/HEAD on the next call, once libmicrohttpd has the whole request: a response
         * queued now would make it close the connection (no keep-alive). */
        if (strcmp(method, "POST") != 0)
            return MHD_YES;
        request_init(c, mc, method, &req);
        if (api_precheck(core, &req, &reply))
            return reply_send(c, mc, method, version, &reply);
        return MHD_YES; /* read the body */
    }
    if (*upload_data_size > 0) {
        if (!c->too_large && !body_append(c, upload_data, *upload_data_size, core->body_limit)) {
            c->too_large = true;
            request_init(c, mc, method, &req);
            api_handle(core, &req, &reply); /* 413 */
            /* When libmicrohttpd refuses a response mid-upload, the rest is drained and the
             * final call answers 413 (too_large stays set). */
            (void)reply_send(c, mc, method, version, &reply);
        }
        if (c->too_large) {
            c->drained += *upload_data_size;
            if (c->drained > 4 * core->body_limit)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The whole body is here. */
    request_init(c, mc, method, &req);
    api_handle(core, &req, &reply);
    enum MHD_Result rc = reply_send(c, mc, method, version, &reply);
    if (c->body_cap > API_BODY_KEEP) { /* do not keep a big buffer for a keep-alive client */
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct api_server *srv = cls;
    struct api_conn *c = *con_cls;
    (void)toe;
    if (c == NULL)
        return;
    uint64_t now = dd_mono_ns();
    guard_rearm(srv, c, now); /* the response is out: the next request's deadline starts */
    if (!c->replied)
        return;
    uint64_t dt = now - c->t0_ns;
    api_metrics_record(&srv->core->metrics, c->endpoint, c->status, dt);
    if (srv->alog && c->line_len)
        access_log_write(srv->alog, c->line, c->line_len, dt);
    c->replied = false;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) DD_PRINTF(2, 0);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct api_server *srv = cls;
    struct api_guard *g = &srv->guard;
    /* One line per malformed request or refused connection would let anyone fill error.log. */
    if (!log_take(g, dd_mono_ms())) {
        atomic_fetch_add_explicit(&srv->core->metrics.log_suppressed, 1, memory_order_relaxed);
        return;
    }
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    DD_WARN("api: libmicrohttpd: %s", buf);
}

/* Binds and listens on host:port. Returns the socket or -1 with err filled. */
static int listen_open(const char *host, int port, int *family, char *err, size_t err_len)
{
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host && *host ? host : NULL, ports, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_len,
                 "cannot listen on %s:%d: %s; set api.listen to an IP address and "
                 "port such as 127.0.0.1:8000",
                 host, port, gai_strerror(gai));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, API_LISTEN_BACKLOG) == 0) {
            *family = ai->ai_family;
            break;
        }
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, err_len, "cannot listen on %s:%d: %s%s", host, port, strerror(e),
                 e == EADDRINUSE ? "; another process holds the port (ss -ltnp), or choose "
                                   "another with api.listen"
                 : e == EACCES   ? "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
                                 : "");
    return fd;
}

struct api_server *api_start(const struct api_options *o, char *err, size_t err_len)
{
    if (o == NULL || o->cfg == NULL || o->store == NULL || o->hooks.health == NULL ||
        o->hooks.counters == NULL) {
        snprintf(err, err_len, "api: cfg, store, hooks.health and hooks.counters are required");
        return NULL;
    }
    const struct config_api *a = &o->cfg->api;
    struct api_server *srv = calloc(1, sizeof(*srv));
    int fd = -1, family = AF_INET;
    if (srv == NULL) {
        snprintf(err, err_len, "api: out of memory");
        return NULL;
    }
    srv->core = api_core_create(o);
    if (srv->core == NULL) {
        snprintf(err, err_len, "api: out of memory");
        goto fail;
    }
    if (o->access_log_path && o->access_log_path[0]) {
        srv->alog = access_log_open(o->access_log_path, err, err_len);
        if (srv->alog == NULL)
            goto fail;
    }
    for (int i = API_STATIC_CHECK_ALLOW; i < API_STATIC_COUNT; i++) {
        srv->statics[i] = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (srv->statics[i] == NULL) {
            snprintf(err, err_len, "api: out of memory");
            goto fail;
        }
        MHD_add_response_header(srv->statics[i], MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(srv->statics[i], MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    }
    unsigned threads = a->threads > 0 ? (unsigned)a->threads : 1;
    unsigned max_conn = a->max_connections > 0 ? (unsigned)a->max_connections : 1024;
    /* Above ours, so libmicrohttpd never refuses first: connections refused in
     * NOTIFY_STARTED count in its total until they are closed. */
    unsigned mhd_limit = max_conn + API_MHD_LIMIT_MARGIN * threads;
    if (guard_init(srv, a, mhd_limit, err, err_len) != 0)
        goto fail;
    fd_limit_check(mhd_limit);
    fd = listen_open(a->listen.host, a->listen.port, &family, err, err_len);
    if (fd < 0)
        goto fail;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* libmicrohttpd's idle timeout stays as a backstop; the deadline (the guard) ends a
     * connection first. */
    unsigned timeout = a->timeout >= 1 ? (unsigned)(a->timeout + 0.999) : 1;
    srv->daemon = MHD_start_daemon(
        flags, 0, on_accept, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY, MHD_OPTION_STRICT_FOR_CLIENT,
        (int)1, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(err, err_len,
                 "cannot start the HTTP server on %s:%d (libmicrohttpd refused; see the log "
                 "above)",
                 a->listen.host, a->listen.port);
        close(fd);
        goto fail;
    }
    if (guard_start(srv, err, err_len) != 0)
        goto fail;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    if (srv->port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
    }
    DD_INFO("api: listening on %s port %u (%u threads, %u connections: %u reserved for "
            "loopback and %zu reserved CIDR(s), at most %u per other address; %g s deadline per "
            "request, body limit %zu bytes)%s",
            a->listen.host, srv->port, threads, max_conn, srv->guard.reserved_cap,
            a->reserved_cidrs.n, srv->guard.per_address, a->timeout > 0 ? a->timeout : 10,
            srv->core->body_limit,
            srv->core->secret_len ? "" : "; SECRET_KEY is not set: reports are refused");
    return srv;
fail:
    api_stop(srv);
    return NULL;
}

void api_stop(struct api_server *s)
{
    if (s == NULL)
        return;
    guard_stop(s);
    if (s->daemon)
        MHD_stop_daemon(s->daemon); /* joins its threads, closes the listening socket */
    guard_destroy(s);               /* after: libmicrohttpd logs and unregisters until it stops */
    for (int i = 0; i < API_STATIC_COUNT; i++) {
        if (s->statics[i])
            MHD_destroy_response(s->statics[i]);
    }
    access_log_close(s->alog);
    api_core_destroy(s->core);
    free(s);
}

int api_reopen_log(struct api_server *s)
{
    return s ? access_log_reopen(s->alog) : 0;
}

uint16_t api_port(const struct api_server *s)
{
    return s ? s->port : 0;
}
