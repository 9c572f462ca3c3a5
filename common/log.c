/* log.c - the leveled logger behind common/log.h.
 *
 * Owns the output stream and threshold (set once at start-up). Each line is
 * "YYYY-mm-ddTHH:MM:SSZ LEVEL message" in UTC; debug lines also carry file:line.
 *
 * DESIGN: with a log directory, lines go to app.log (all) and error.log (WARN and ERROR) through
 * O_APPEND file descriptors, one write() per line, so lines from threads and processes never
 * interleave and no lock is needed. Reopening (log rotation) opens the new file and dup2()s it
 * onto the old descriptor number: dup2 replaces it atomically, so a thread writing at that
 * moment writes to the old or the new file, never to a closed descriptor. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/timefmt.h"

enum log_level log_threshold = LOG_LEVEL_INFO;
static FILE *log_out;
static int app_fd = -1, error_fd = -1; /* written at start-up; dup2'd onto by log_reopen */
static bool echo_stderr;
static char app_path[PATH_MAX], error_path[PATH_MAX];

/* Log lines name attackers, gateways and operators' reports: readable by the service user and
 * its group (adm-style log readers), not by everyone. */
enum { LOG_FILE_MODE = 0640 };

/* Opens (creating) one log file, mode LOG_FILE_MODE whatever the umask and whatever an older
 * version created it with. The chmod of a file we do not own fails; that file keeps its mode
 * (its owner chose it, e.g. logrotate's "create" line). Returns the descriptor or -1 (errno). */
static int log_open_one(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, LOG_FILE_MODE);
    if (fd >= 0)
        (void)fchmod(fd, LOG_FILE_MODE);
    return fd;
}

int log_open_dir(const char *dir, bool echo, char *err, size_t err_len)
{
    int n1 = snprintf(app_path, sizeof(app_path), "%s/app.log", dir);
    int n2 = snprintf(error_path, sizeof(error_path), "%s/error.log", dir);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(app_path) || (size_t)n2 >= sizeof(error_path)) {
        snprintf(err, err_len, "log directory path too long: %s", dir);
        return -ENAMETOOLONG;
    }
    int a = log_open_one(app_path);
    if (a < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot open %s: %s (create the directory or pass --log-dir)",
                 app_path, strerror(e));
        return -e;
    }
    int b = log_open_one(error_path);
    if (b < 0) {
        int e = errno;
        close(a);
        snprintf(err, err_len, "cannot open %s: %s", error_path, strerror(e));
        return -e;
    }
    app_fd = a;
    error_fd = b;
    echo_stderr = echo;
    return 0;
}

int log_chown(uid_t uid, gid_t gid)
{
    if (app_fd < 0)
        return 0;
    if (fchown(app_fd, uid, gid) != 0 || fchown(error_fd, uid, gid) != 0)
        return -errno;
    return 0;
}

static int log_reopen_one(int fd, const char *path)
{
    int n = log_open_one(path);
    if (n < 0)
        return -errno;
    int rc = dup2(n, fd) < 0 ? -errno : 0;
    close(n);
    return rc;
}

int log_reopen(void)
{
    if (app_fd < 0)
        return 0;
    int rc = log_reopen_one(app_fd, app_path);
    int rc2 = log_reopen_one(error_fd, error_path);
    return rc ? rc : rc2;
}

void log_close(void)
{
    if (app_fd >= 0)
        close(app_fd);
    if (error_fd >= 0)
        close(error_fd);
    app_fd = error_fd = -1;
}

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report it */
        buf += w;
        n -= (size_t)w;
    }
}

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_configure(FILE *out, enum log_level threshold)
{
    log_out = out;
    log_threshold = threshold;
}

int log_level_parse(const char *name, enum log_level *out)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < DD_ARRAY_LEN(lower); i++) {
        if (strcmp(name, lower[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    char buf[2048];
    dd_time_iso8601(buf, sizeof(buf), dd_realtime_s(), 0, 0);
    size_t n = strlen(buf);
    int w = snprintf(buf + n, sizeof(buf) - n, " %s ", level_names[level]);
    if (w > 0)
        n += (size_t)w;
    if (level == LOG_LEVEL_DEBUG && n < sizeof(buf)) {
        w = snprintf(buf + n, sizeof(buf) - n, "%s:%d ", file, line);
        if (w > 0)
            n += (size_t)w;
    }
    if (n < sizeof(buf)) {
        va_list ap;
        va_start(ap, fmt);
        w = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
        va_end(ap);
        if (w > 0)
            n += (size_t)w;
    }
    if (n >= sizeof(buf) - 1)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    if (app_fd >= 0) {
        write_all(app_fd, buf, n);
        if (level <= LOG_LEVEL_WARN) {
            write_all(error_fd, buf, n);
            if (echo_stderr)
                write_all(STDERR_FILENO, buf, n);
        }
        return;
    }
    fwrite(buf, 1, n, log_out ? log_out : stderr);
}
