/* log.h - leveled logging for start-up, shutdown and once-a-second summaries.
 *
 * Never call these per packet: the data path counts events and a summary is logged later.
 * The macros test the level before evaluating their arguments, so a disabled DD_DEBUG costs one
 * branch; in release builds (NDEBUG) DD_DEBUG compiles out entirely.
 *
 * Thread safety: each call formats into a local buffer and writes it with one fwrite, which
 * stdio serialises, so lines from different threads never interleave. */
#ifndef DD_COMMON_LOG_H
#define DD_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/compiler.h"

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* The current threshold; messages above it are skipped. Written at start-up only. */
extern enum log_level log_threshold;

/* Sets where lines go (NULL means stderr) and the threshold. Call before threads start. */
void log_configure(FILE *out, enum log_level threshold);

/* Sends lines to DIR/app.log (every level) and DIR/error.log (WARN and ERROR), appended to, mode
 * 0640 (set on existing files we own too, whatever the umask); echo also copies WARN and ERROR
 * lines to stderr (for a terminal). Call before threads start. Returns 0, or a negative errno with
 * an actionable line in err. */
DD_NODISCARD int log_open_dir(const char *dir, bool echo, char *err, size_t err_len);
/* Gives the open app.log and error.log to uid:gid (the service user, before root is dropped), so
 * that they are the user's from the start, as the files a reopen creates after the drop are.
 * 0 (also when no log directory is open) or a negative errno. */
DD_NODISCARD int log_chown(uid_t uid, gid_t gid);
/* Reopens app.log and error.log by path (after logrotate moved them), created 0640 and owned by
 * whoever the process is then (the service user after the drop). Any thread; safe while other
 * threads log. Returns 0 or a negative errno (the old files stay in use). */
int log_reopen(void);
/* Closes the files of log_open_dir (lines then go to stderr again). At exit, no threads left. */
void log_close(void);
/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL for anything else. */
DD_NODISCARD int log_level_parse(const char *name, enum log_level *out);

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    DD_PRINTF(4, 5);

#define DD_LOG_AT(lvl, ...)                                                                        \
    do {                                                                                           \
        if ((lvl) <= log_threshold)                                                                \
            log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                                     \
    } while (0)

#define DD_ERROR(...) DD_LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define DD_WARN(...)  DD_LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define DD_INFO(...)  DD_LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#ifdef NDEBUG
#define DD_DEBUG(...)                                                                              \
    do {                                                                                           \
    } while (0)
#else
#define DD_DEBUG(...) DD_LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#endif

#endif
