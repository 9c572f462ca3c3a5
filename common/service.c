/* service.c - signal flags, sd_notify wrappers and the privilege drop (see service.h).
 *
 * Owns three process-wide flags (stop, reload, reopen). Nothing else is stateful here.
 * May call: libc, libsystemd (sd_notify, sd_watchdog_enabled), common/log.
 *
 * DESIGN: a signal handler may only touch lock-free atomics or volatile sig_atomic_t; we use
 * C11 atomic_int (checked lock-free at compile time) because the flags are also read by other
 * threads, which sig_atomic_t does not promise to make visible. The handlers store; the main
 * loop loads (stop) or exchanges with 0 (reload, reopen), so a signal arriving between a load
 * and a clear is never lost. */
#include "common/service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include <systemd/sd-daemon.h>

#include "common/clock.h"
#include "common/log.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal flags need lock-free atomic_int");

static atomic_int service_stop_flag;
static atomic_int service_reload_flag;
static atomic_int service_reopen_flag;

static void service_signal_handler(int sig)
{
    /* Only atomic stores: async-signal-safe, and errno is not touched. */
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        atomic_store(&service_stop_flag, 1);
        break;
    case SIGHUP:
        atomic_store(&service_reload_flag, 1);
        break;
    case SIGUSR1:
        atomic_store(&service_reopen_flag, 1);
        break;
    default:
        break;
    }
}

int service_signals_install(void)
{
    static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = service_signal_handler;
    sigemptyset(&sa.sa_mask);
    /* Block the other handled signals while one runs; cheap, and keeps handlers trivially
     * non-reentrant. */
    for (size_t i = 0; i < DD_ARRAY_LEN(handled); i++)
        sigaddset(&sa.sa_mask, handled[i]);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < DD_ARRAY_LEN(handled); i++) {
        if (sigaction(handled[i], &sa, NULL) != 0) {
            int e = errno;
            DD_ERROR("sigaction(%s): %s", strsignal(handled[i]), strerror(e));
            return -e;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0) {
        int e = errno;
        DD_ERROR("sigaction(SIGPIPE): %s", strerror(e));
        return -e;
    }
    return 0;
}

bool service_stop_requested(void)
{
    return atomic_load(&service_stop_flag) != 0;
}

bool service_reload_take(void)
{
    return atomic_exchange(&service_reload_flag, 0) != 0;
}

bool service_reopen_take(void)
{
    return atomic_exchange(&service_reopen_flag, 0) != 0;
}

/* sd_notify returns >0 sent, 0 no NOTIFY_SOCKET, <0 -errno; we fold "sent" into 0. */
static int service_notify_send(const char *msg)
{
    int r = sd_notify(0, msg);
    return r < 0 ? r : 0;
}

/* STATUS is one line of the notify protocol: a newline would start a new assignment. */
static void service_status_sanitize(char *s)
{
    for (; *s != '\0'; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

int service_notify_ready(const char *status)
{
    if (status == NULL)
        return service_notify_send("READY=1");
    char msg[300];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%.256s", status);
    service_status_sanitize(msg + strlen("READY=1\n"));
    return service_notify_send(msg);
}

int service_notify_watchdog(void)
{
    return service_notify_send("WATCHDOG=1");
}

int service_notify_stopping(void)
{
    return service_notify_send("STOPPING=1");
}

int service_notify_reloading(void)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)dd_mono_us());
    return service_notify_send(msg);
}

int service_notify_status(const char *fmt, ...)
{
    char msg[7 + 256 + 1] = "STATUS=";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
    va_end(ap);
    service_status_sanitize(msg + 7);
    return service_notify_send(msg);
}

uint64_t service_watchdog_interval_us(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return usec / 2;
}

/* Writes the failure message for the caller; the caller returns the errno. */
DD_PRINTF(3, 4) static void service_fail(char *err, size_t len, const char *fmt, ...)
{
    if (err != NULL && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
}

/* The highest capability number the running kernel knows (it may know more than our headers). */
static int service_cap_last(void)
{
    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f != NULL) {
        int v;
        if (fscanf(f, "%d", &v) == 1 && v >= 0 && v < 64)
            last = v;
        fclose(f);
    }
    /* Probe past it too: PR_CAPBSET_READ fails with EINVAL beyond the kernel's last cap. */
    while (last < 63 && prctl(PR_CAPBSET_READ, (unsigned long)last + 1, 0, 0, 0) >= 0)
        last++;
    return last;
}

/* Empties the capability bounding set, CAP_SETPCAP last. 0 or -errno with a message. */
static int service_bounding_set_clear(char *err, size_t len)
{
    int last = service_cap_last();
    for (int pass = 0; pass < 2; pass++) {
        for (int cap = 0; cap <= last; cap++) {
            if ((cap == CAP_SETPCAP) != (pass == 1))
                continue;
            if (prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) == 0)
                continue; /* already out */
            if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) != 0) {
                int e = errno;
                service_fail(err, len,
                             "cannot drop capability %d from the bounding set: %s (a container "
                             "without CAP_SETPCAP? grant it, or run as the service user "
                             "directly with only CAP_NET_RAW)",
                             cap, strerror(e));
                return -e;
            }
        }
    }
    return 0;
}

int service_drop_privileges(const char *user, char *err, size_t len)
{
    if (err != NULL && len > 0)
        err[0] = '\0';
    if (geteuid() != 0) {
        /* Started as the service user (the unit, setpriv): nothing to drop, but nothing started
         * later (the notify hook) gains privileges either, as after a drop from root. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
            int e = errno;
            service_fail(err, len, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(e));
            return -e;
        }
        DD_INFO("not running as root (uid %u): keeping uid, no_new_privs set", (unsigned)getuid());
        return 0;
    }
    if (user == NULL || user[0] == '\0') {
        DD_WARN("running as root and no user configured: privileges are not dropped");
        return 0;
    }

    long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t bufsz = sz > 0 ? (size_t)sz : 16384;
    char *buf = NULL;
    struct passwd pw, *found = NULL;
    int rc;

    /* getpwnam_r reports a too-small buffer with ERANGE; entries from LDAP can be large. */
    for (;;) {
        char *nbuf = realloc(buf, bufsz);
        if (nbuf == NULL) {
            rc = -ENOMEM;
            service_fail(err, len, "out of memory looking up user \"%s\"", user);
            goto out;
        }
        buf = nbuf;
        int e = getpwnam_r(user, &pw, buf, bufsz, &found);
        if (e == ERANGE && bufsz < (1u << 20)) {
            bufsz *= 2;
            continue;
        }
        if (e != 0) {
            rc = -e;
            service_fail(err, len, "cannot look up user \"%s\": %s", user, strerror(e));
            goto out;
        }
        break;
    }
    if (found == NULL) {
        rc = -ENOENT;
        service_fail(err, len,
                     "user \"%s\" does not exist: create it (useradd --system %s) or configure "
                     "an existing one",
                     user, user);
        goto out;
    }
    if (pw.pw_uid == 0) {
        rc = -EPERM;
        service_fail(err, len, "user \"%s\" has uid 0: configure an unprivileged user", user);
        goto out;
    }

    /* The log files were opened as root: they become the user's now, as the ones a reopen
     * (logrotate) creates after the drop will be. */
    if ((rc = log_chown(pw.pw_uid, pw.pw_gid)) != 0) {
        service_fail(err, len,
                     "cannot give the log files to \"%s\": %s (check --log-dir's filesystem)", user,
                     strerror(-rc));
        goto out;
    }
    /* Groups before the uid: once the uid is not 0 we may no longer change them. */
    if (initgroups(pw.pw_name, pw.pw_gid) != 0) {
        rc = -errno;
        service_fail(err, len, "initgroups(%s): %s", user, strerror(-rc));
        goto out;
    }
    if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0) {
        rc = -errno;
        service_fail(err, len, "setresgid(%u): %s", (unsigned)pw.pw_gid, strerror(-rc));
        goto out;
    }
    /* The bounding set caps what any later execve (the notify hook, a shell it runs) could
     * gain from file capabilities. Only root (CAP_SETPCAP) may shrink it, so it goes before the
     * uid; CAP_SETPCAP itself goes last, since each drop needs it. */
    if ((rc = service_bounding_set_clear(err, len)) != 0)
        goto out;
    if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) {
        rc = -errno;
        service_fail(err, len, "setresuid(%u): %s", (unsigned)pw.pw_uid, strerror(-rc));
        goto out;
    }

    /* Trust but verify: a saved uid of 0 or a kept capability would let us back. */
    if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != pw.pw_uid || geteuid() != pw.pw_uid ||
        getgid() != pw.pw_gid || getegid() != pw.pw_gid) {
        rc = -EPERM;
        service_fail(err, len, "dropped to \"%s\" but root can be regained: refusing to run", user);
        goto out;
    }
    /* No setuid binary or file capability can raise us again, through any execve: the notify
     * hook and whatever it runs keep the service user's rights. Inherited by every thread
     * started after this (all of them: see service.h). */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        rc = -errno;
        service_fail(err, len, "prctl(PR_SET_NO_NEW_PRIVS): %s: refusing to run", strerror(-rc));
        goto out;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ||
        prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) != 0) {
        rc = -EPERM;
        service_fail(
            err, len,
            "dropped to \"%s\" but no_new_privs or the bounding set did not hold: refusing to run",
            user);
        goto out;
    }
    DD_INFO("dropped privileges to %s (uid %u, gid %u; no capabilities, bounding set empty, "
            "no_new_privs)",
            pw.pw_name, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
    rc = 0;
out:
    free(buf);
    return rc;
}
