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
 * - Slow clients: every connection is non-blocking in an epoll set, so a client trickling bytes
 *   holds only its own slot until api.timeout; a per-IP limit of 7/8 of api.max_connections
 *   keeps one address from taking every slot, so /health still gets in. */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "common/clock.h"
#include "common/log.h"

enum { API_LISTEN_BACKLOG = 1024, API_BODY_KEEP = 4096 };

struct api_server {
    struct api_core *core;
    struct MHD_Daemon *daemon;
    struct access_log *alog; /* NULL: no access log */
    struct MHD_Response *statics[API_STATIC_COUNT];
    uint16_t port;
};

/* One client connection; touched only by the thread serving it. */
struct api_conn {
    struct api_server *srv;
    char peer[VERDICT_IP_TEXT_MAX];
    bool peer_loopback;
    /* The current request. */
    char *uri;
    size_t uri_cap;
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

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct api_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct api_conn *c = calloc(1, sizeof(*c));
        if (c) {
            c->srv = srv;
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            peer_text(ci ? ci->client_addr : NULL, c->peer, &c->peer_loopback);
        }
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct api_conn *c = *socket_context;
        if (c) {
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
    if (c == NULL)
        return MHD_NO; /* no memory for the connection state */
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
    if (c == NULL || !c->replied)
        return;
    uint64_t dt = dd_mono_ns() - c->t0_ns;
    api_metrics_record(&srv->core->metrics, c->endpoint, c->status, dt);
    if (srv->alog && c->line_len)
        access_log_write(srv->alog, c->line, c->line_len, dt);
    c->replied = false;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) DD_PRINTF(2, 0);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
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
    fd = listen_open(a->listen.host, a->listen.port, &family, err, err_len);
    if (fd < 0)
        goto fail;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned threads = a->threads > 0 ? (unsigned)a->threads : 1;
    unsigned max_conn = a->max_connections > 0 ? (unsigned)a->max_connections : 1024;
    unsigned per_ip = max_conn - max_conn / 8;
    unsigned timeout = a->timeout >= 1 ? (unsigned)(a->timeout + 0.999) : 1;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        per_ip ? per_ip : 1, MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(err, err_len,
                 "cannot start the HTTP server on %s:%d (libmicrohttpd refused; see the log "
                 "above)",
                 a->listen.host, a->listen.port);
        close(fd);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    if (srv->port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
    }
    DD_INFO("api: listening on %s port %u (%u threads, %u connections, %u s timeout, body limit "
            "%zu bytes)%s",
            a->listen.host, srv->port, threads, max_conn, timeout, srv->core->body_limit,
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
    if (s->daemon)
        MHD_stop_daemon(s->daemon); /* joins its threads, closes the listening socket */
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
