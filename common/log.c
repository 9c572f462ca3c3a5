/* log.c - the leveled logger behind common/log.h.
 *
 * Owns the output stream and threshold (set once at start-up). Each line is
 * "YYYY-mm-ddTHH:MM:SSZ LEVEL message" in UTC; debug lines also carry file:line. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

enum log_level log_threshold = LOG_LEVEL_INFO;
static FILE *log_out;

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
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    int w = snprintf(buf + n, sizeof(buf) - n, "%s ", level_names[level]);
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
    fwrite(buf, 1, n, log_out ? log_out : stderr);
}
