/* service.h - the daemon's contract with its service manager: signals, sd_notify, privileges.
 *
 * Signals: service_signals_install() makes SIGTERM and SIGINT request a stop, SIGHUP a reload of
 * the model and thresholds, SIGUSR1 a reopening of log files, and ignores SIGPIPE (a peer that
 * hangs up becomes EPIPE, never a dead daemon). The handlers only set flags; the main loop polls
 * them. Handlers are installed with SA_RESTART, so a blocking call elsewhere is not cut short:
 * the loop must wake on its own cadence (its sleeps and poll timeouts). Any thread may receive a
 * signal and any thread may read the flags (C11 atomics, sequentially consistent: these are
 * rare events, not a hot path).
 *
 * sd_notify: every service_notify_* call is a no-op returning 0 when NOTIFY_SOCKET is unset
 * (started by hand or by a test), so the daemon calls them unconditionally. They are
 * thread-safe (each sends one datagram) and return 0 or a negative errno; a failure to notify is
 * worth a log line, never an exit.
 *
 * Privileges: service_drop_privileges() is called once at start-up, after the capture handle is
 * open and before any thread starts (setuid applies to every thread, but a thread mid-work would
 * see its rights change under it). */
#ifndef DD_COMMON_SERVICE_H
#define DD_COMMON_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* Installs the handlers above. Call once, from the main thread, before starting threads.
 * Returns 0 or a negative errno (sigaction failed). */
DD_NODISCARD int service_signals_install(void);

/* True once SIGTERM or SIGINT arrived; stays true (a stop is never cancelled). */
bool service_stop_requested(void);
/* True when SIGHUP arrived since the last call; clears the flag (several SIGHUPs before the call
 * mean one reload). */
bool service_reload_take(void);
/* True when SIGUSR1 arrived since the last call; clears the flag. */
bool service_reopen_take(void);

/* "READY=1" (plus "STATUS=<status>" when status is not NULL): capture and API are up. */
int service_notify_ready(const char *status);
/* "WATCHDOG=1": the main loop is alive. Send every service_watchdog_interval_us(). */
int service_notify_watchdog(void);
/* "STOPPING=1": shutdown began (flushing flows and verdicts). */
int service_notify_stopping(void);
/* "RELOADING=1" with MONOTONIC_USEC: a SIGHUP reload began; send service_notify_ready() when it
 * is done (systemd Type=notify-reload expects exactly this pair). */
int service_notify_reloading(void);
/* "STATUS=<formatted text>": one line for `systemctl status`; newlines become spaces and the text
 * is truncated to 256 bytes. */
int service_notify_status(const char *fmt, ...) DD_PRINTF(1, 2);

/* How often to send WATCHDOG=1, in microseconds: half of WATCHDOG_USEC (so one late loop does not
 * get the daemon killed), or 0 when the manager did not ask for a watchdog (unset, invalid, or
 * meant for another process via WATCHDOG_PID). */
uint64_t service_watchdog_interval_us(void);

/* When running as root (effective uid 0), becomes `user` for good: the open log files (common/log)
 * are given to the user, supplementary groups come from the group database (initgroups), then
 * real, effective and saved gid; the capability bounding set is emptied (CAP_SETPCAP last), then
 * real, effective and saved uid, so the capabilities go with the uid change (no
 * PR_SET_KEEPCAPS); then PR_SET_NO_NEW_PRIVS, so no later execve (the notify hook) can gain
 * anything from a setuid bit or file capabilities. Then verifies that root cannot be regained
 * (setuid(0) must fail), that no_new_privs is set and CAP_NET_RAW is out of the bounding set.
 * The bounding set and no_new_privs are per thread and inherited: call before any thread
 * starts. Not root: sets no_new_privs, logs why nothing else is done, and returns 0 (the
 * capability-only setup, e.g. CAP_NET_RAW granted by the unit). user NULL or "" as root: logs a
 * warning, returns 0.
 * Returns 0, or a negative errno with an actionable message in err (NUL-terminated, len bytes):
 * -ENOENT the user does not exist, -EPERM the user is root itself, other values from the
 * failing call. After a failure in the middle the process is in an unknown state: exit. */
DD_NODISCARD int service_drop_privileges(const char *user, char *err, size_t len);

#endif
