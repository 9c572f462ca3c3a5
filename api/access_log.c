/* access_log.c - the API's access log: one combined-log-format line per request plus the
 * request time, e.g.
 *   127.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /health HTTP/1.1" 200 187 "-" "curl/7.88"
 * 0.000123
 *
 * Threads: every API thread writes; api_reopen_log may run on any thread. No lock: each line
 * goes out with one write(2) on an O_APPEND descriptor, which the kernel appends whole. Reopen
 * opens the path anew and dup2()s it onto the same descriptor number, an atomic swap: a writer
 * racing with it writes either to the old file or to the new one, never to a closed fd.
 *
 * DESIGN: the transport formats the line when it queues the response (the headers are at hand
 * then) and writes it when the request completes, adding the time taken. Fields a client
 * controls are escaped like nginx does ("\xHH" for '"', '\\' and bytes outside 0x20..0x7e), so
 * a line cannot be split or forged. The local-time stamp is cached per thread per second. */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

struct access_log {
    char *path; /* NULL for stderr */
    int fd;     /* fixed for the log's life; reopen swaps the file under it */
};

struct access_log *access_log_open(const char *path, char *err, size_t err_len)
{
    struct access_log *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        l->fd = dup(STDERR_FILENO);
    } else {
        l->path = strdup(path);
        l->fd = l->path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) : -1;
    }
    if (l->fd < 0) {
        snprintf(err, err_len,
                 "cannot open the access log %s: %s; check that its directory exists "
                 "and is writable by the daemon's user",
                 path, strerror(errno));
        free(l->path);
        free(l);
        return NULL;
    }
    return l;
}

int access_log_reopen(struct access_log *l)
{
    if (l == NULL || l->path == NULL)
        return 0;
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (dup3(fd, l->fd, O_CLOEXEC) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

void access_log_close(struct access_log *l)
{
    if (l == NULL)
        return;
    close(l->fd);
    free(l->path);
    free(l);
}

/* Appends s escaped, at most max source bytes (then "..."). Returns the new length. */
static size_t put_escaped(char *buf, size_t len, size_t cap, const char *s, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL || *s == '\0') {
        if (len + 1 < cap)
            buf[len++] = '-';
        return len;
    }
    size_t i = 0;
    for (; s[i] && i < max && len + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
            buf[len++] = '\\';
            buf[len++] = 'x';
            buf[len++] = hex[ch >> 4];
            buf[len++] = hex[ch & 15];
        } else {
            buf[len++] = (char)ch;
        }
    }
    if (s[i] && len + 3 < cap) {
        memcpy(buf + len, "...", 3);
        len += 3;
    }
    return len;
}

static size_t put_raw(char *buf, size_t len, size_t cap, const char *s)
{
    if (len + 1 >= cap)
        return len;
    size_t room = cap - len - 1;
    size_t n = strnlen(s, room);
    memcpy(buf + len, s, n);
    return len + n;
}

/* "[01/May/2024:12:00:00 +0000]" for when_s, cached per thread for the current second. */
static const char *time_local(int64_t when_s)
{
    static _Thread_local int64_t cached_s = -1;
    static _Thread_local char cached[40];
    if (when_s != cached_s) {
        time_t t = (time_t)when_s;
        struct tm tm;
        if (localtime_r(&t, &tm) == NULL ||
            strftime(cached, sizeof(cached), "[%d/%b/%Y:%H:%M:%S %z]", &tm) == 0)
            snprintf(cached, sizeof(cached), "[-]");
        cached_s = when_s;
    }
    return cached;
}

size_t access_log_format(char *buf, const char *peer, const char *method, const char *uri,
                         const char *version, int status, size_t bytes, const char *referer,
                         const char *user_agent, int64_t when_s)
{
    /* Keep room for the request time and newline that access_log_write appends. */
    const size_t cap = ACCESS_LOG_LINE_MAX - 32;
    size_t len = put_escaped(buf, 0, cap, peer, 64);
    len = put_raw(buf, len, cap, " - - ");
    len = put_raw(buf, len, cap, time_local(when_s));
    len = put_raw(buf, len, cap, " \"");
    len = put_escaped(buf, len, cap, method, 16);
    len = put_raw(buf, len, cap, " ");
    len = put_escaped(buf, len, cap, uri, 1024);
    len = put_raw(buf, len, cap, " ");
    len = put_escaped(buf, len, cap, version, 16);
    char num[48];
    snprintf(num, sizeof(num), "\" %d %zu \"", status, bytes);
    len = put_raw(buf, len, cap, num);
    len = put_escaped(buf, len, cap, referer, 256);
    len = put_raw(buf, len, cap, "\" \"");
    len = put_escaped(buf, len, cap, user_agent, 256);
    len = put_raw(buf, len, cap, "\"");
    buf[len] = '\0';
    return len;
}

void access_log_write(struct access_log *l, char *line, size_t len, uint64_t duration_ns)
{
    if (l == NULL)
        return;
    uint64_t us = duration_ns / 1000u;
    int n = snprintf(line + len, ACCESS_LOG_LINE_MAX - len, " %llu.%06llu\n",
                     (unsigned long long)(us / 1000000u), (unsigned long long)(us % 1000000u));
    if (n < 0 || (size_t)n >= ACCESS_LOG_LINE_MAX - len)
        return;
    /* One write: a short write would split the line, and we do not retry into another
     * thread's line. A full disk loses lines, not the server. */
    ssize_t w = write(l->fd, line, len + (size_t)n);
    (void)w;
}
