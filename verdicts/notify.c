/* notify.c - the notify hook: a bounded FIFO of event JSON and a few running scripts.
 *
 * Owns: the FIFO (queue_len malloc'd copies of event JSON, a ring of pointers), the job slots
 * (max_running: pid, the write end of the script's stdin pipe, how much JSON it has taken, the
 * start time) and the counters. One thread (the verdict stage) makes every call; there are no
 * locks, atomics or threads. May call: libc (posix_spawn, waitpid, kill), common/log,
 * verdicts/verdict and verdicts/verdict_json (the event's JSON).
 *
 * DESIGN: nothing here may stall the verdict stage, whatever the script does. notify_post only
 * copies into the FIFO. notify_poll does bounded, non-blocking work: waitpid(pid, WNOHANG) per
 * job (by pid, so other children of the daemon are never reaped here), write() on an O_NONBLOCK
 * pipe (a script that does not read its stdin just fills the pipe), and posix_spawn, which in
 * glibc returns once the child has exec'd or failed (so a missing script is an immediate error,
 * not a child that exits 127). A stuck script is killed at its deadline, with its process group
 * so that whatever it started dies too; the kill is reaped by a later poll, never waited for.
 *
 * Why SIGPIPE is blocked around the write instead of relying on SIG_IGN: this module must be
 * safe in a process that did not ignore SIGPIPE (a test, a tool), and a library must not change
 * process-wide dispositions. A SIGPIPE raised by our write is consumed with sigtimedwait before
 * the mask is restored, unless one was already pending for someone else. */
#include "verdicts/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "common/clock.h"
#include "common/log.h"
#include "verdicts/verdict_json.h"

extern char **environ;

struct notify_job {
    pid_t pid;           /* 0: free slot */
    int stdin_fd;        /* write end, -1 once all JSON was written (and closed) */
    char *json;          /* owned; freed when the job ends */
    size_t json_len;     /* bytes of json */
    size_t json_off;     /* bytes already written */
    uint64_t started_ms; /* monotonic */
    bool killed;         /* SIGKILL sent; waiting to reap */
};

struct notify {
    char *script;
    unsigned timeout_ms;
    unsigned max_running;
    unsigned queue_len;
    char **queue; /* ring of queue_len owned strings */
    unsigned q_head, q_count;
    struct notify_job *jobs;
    struct notify_stats stats;
};

struct notify *notify_create(const char *script, unsigned timeout_ms, unsigned max_running,
                             unsigned queue_len)
{
    struct notify *n = NULL;

    if (script == NULL || script[0] == '\0') {
        DD_ERROR("notify: no script configured");
        return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        goto fail;
    n->timeout_ms = timeout_ms ? timeout_ms : 10000;
    n->max_running = max_running ? max_running : 4;
    n->queue_len = queue_len ? queue_len : 64;
    n->script = strdup(script);
    n->queue = calloc(n->queue_len, sizeof(*n->queue));
    n->jobs = calloc(n->max_running, sizeof(*n->jobs));
    if (n->script == NULL || n->queue == NULL || n->jobs == NULL)
        goto fail;
    for (unsigned i = 0; i < n->max_running; i++)
        n->jobs[i].stdin_fd = -1;
    if (access(script, X_OK) != 0)
        DD_WARN("notify: script %s is not executable (%s): events will count as failed", script,
                strerror(errno));
    DD_INFO("notify: script %s, timeout %u ms, %u running, queue %u", script, n->timeout_ms,
            n->max_running, n->queue_len);
    return n;
fail:
    DD_ERROR("notify: out of memory");
    if (n != NULL) {
        free(n->script);
        free(n->queue);
        free(n->jobs);
        free(n);
    }
    return NULL;
}

bool notify_post(struct notify *n, const char *event_json)
{
    size_t len = event_json ? strnlen(event_json, NOTIFY_EVENT_MAX + 1) : 0;
    if (len == 0 || len > NOTIFY_EVENT_MAX || n->q_count == n->queue_len) {
        n->stats.dropped++;
        return false;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        n->stats.dropped++;
        return false;
    }
    memcpy(copy, event_json, len + 1);
    n->queue[(n->q_head + n->q_count) % n->queue_len] = copy;
    n->q_count++;
    n->stats.posted++;
    return true;
}

static void notify_job_close_stdin(struct notify_job *j)
{
    if (j->stdin_fd >= 0) {
        close(j->stdin_fd);
        j->stdin_fd = -1;
    }
}

static void notify_job_release(struct notify_job *j)
{
    notify_job_close_stdin(j);
    free(j->json);
    memset(j, 0, sizeof(*j));
    j->stdin_fd = -1;
}

/* Writes what the pipe takes now; closes stdin when done or when the script stopped reading. */
static void notify_job_feed(struct notify_job *j)
{
    sigset_t pipe_set, old, pending;
    bool was_pending;

    if (j->stdin_fd < 0)
        return;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    while (j->json_off < j->json_len) {
        ssize_t w = write(j->stdin_fd, j->json + j->json_off, j->json_len - j->json_off);
        if (w > 0) {
            j->json_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break; /* the pipe is full: the rest goes at a later poll */
        if (w < 0 && errno == EPIPE && !was_pending) {
            /* Our own SIGPIPE is pending on this thread: take it before unblocking. */
            struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
        /* EPIPE (the script exited or closed stdin) or another error: the script's exit
         * status decides success, the rest of its input is moot. */
        j->json_off = j->json_len;
        break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (j->json_off >= j->json_len)
        notify_job_close_stdin(j);
}

/* Spawns the script for json (ownership moves to the job on success and on failure). */
static void notify_job_start(struct notify *n, struct notify_job *j, char *json)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_ok = false, attr_ok = false;
    int fds[2] = {-1, -1};
    int rc;
    pid_t pid;
    char *argv[] = {n->script, NULL};

    /* CLOEXEC on both ends: the child gets the read end only through dup2 to fd 0, and other
     * children (and other jobs) never inherit a write end, which would hide EOF. */
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = errno;
        goto fail;
    }
    /* The read end must block in the child: scripts expect an ordinary stdin. */
    if (fcntl(fds[0], F_SETFL, 0) != 0) {
        rc = errno;
        goto fail;
    }
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        goto fail;
    fa_ok = true;
    if ((rc = posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO)) != 0 ||
        (rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)) !=
            0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO)) != 0)
        goto fail;
    if ((rc = posix_spawnattr_init(&attr)) != 0)
        goto fail;
    attr_ok = true;
    /* The daemon blocks or ignores signals (SIGPIPE ignored, stage threads block the rest); a
     * script must start with the defaults. Its own process group lets a timeout kill all of it. */
    sigset_t none, defaults;
    sigemptyset(&none);
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    if ((rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(&attr, &defaults)) != 0 ||
        (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
        (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                  POSIX_SPAWN_SETPGROUP)) != 0)
        goto fail;
    rc = posix_spawn(&pid, n->script, &fa, &attr, argv, environ);
    if (rc != 0)
        goto fail;

    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[0]);
    j->pid = pid;
    j->stdin_fd = fds[1];
    j->json = json;
    j->json_len = strlen(json);
    j->json_off = 0;
    j->started_ms = dd_mono_ms();
    j->killed = false;
    n->stats.started++;
    notify_job_feed(j);
    return;
fail:
    /* Events are rare (attack start and end), so a line per failure is affordable. */
    DD_WARN("notify: cannot run %s: %s", n->script, strerror(rc));
    n->stats.failed++;
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    free(json);
}

/* Reaps j if it ended; returns true when the slot became free. */
static bool notify_job_reap(struct notify *n, struct notify_job *j)
{
    int status;
    pid_t r;

    do
        r = waitpid(j->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r < 0) {
        /* ECHILD: someone else reaped it (SIGCHLD ignored?). We cannot know how it went. */
        DD_WARN("notify: waitpid(%d): %s", (int)j->pid, strerror(errno));
        if (!j->killed)
            n->stats.failed++;
    } else if (j->killed) {
        /* Counted as timed_out when killed. */
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        n->stats.succeeded++;
    } else {
        n->stats.failed++;
        if (WIFEXITED(status))
            DD_WARN("notify: %s exited with status %d", n->script, WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            DD_WARN("notify: %s killed by signal %d", n->script, WTERMSIG(status));
    }
    notify_job_release(j);
    return true;
}

static void notify_job_kill(struct notify *n, struct notify_job *j)
{
    /* The group first (the script's children), then the pid in case it left the group. */
    kill(-j->pid, SIGKILL);
    kill(j->pid, SIGKILL);
    j->killed = true;
    notify_job_close_stdin(j);
    n->stats.timed_out++;
}

void notify_poll(struct notify *n)
{
    uint64_t now = dd_mono_ms();

    for (unsigned i = 0; i < n->max_running; i++) {
        struct notify_job *j = &n->jobs[i];
        if (j->pid == 0)
            continue;
        notify_job_feed(j);
        if (notify_job_reap(n, j))
            continue;
        if (!j->killed && now - j->started_ms >= n->timeout_ms) {
            DD_WARN("notify: %s ran over %u ms: killed", n->script, n->timeout_ms);
            notify_job_kill(n, j);
            notify_job_reap(n, j);
        }
    }
    for (unsigned i = 0; i < n->max_running && n->q_count > 0; i++) {
        if (n->jobs[i].pid != 0)
            continue;
        char *json = n->queue[n->q_head];
        n->queue[n->q_head] = NULL;
        n->q_head = (n->q_head + 1) % n->queue_len;
        n->q_count--;
        notify_job_start(n, &n->jobs[i], json);
    }
}

void notify_stats_get(const struct notify *n, struct notify_stats *out)
{
    *out = n->stats;
    out->queued = n->q_count;
    out->running = 0;
    for (unsigned i = 0; i < n->max_running; i++)
        if (n->jobs[i].pid != 0)
            out->running++;
}

void notify_destroy(struct notify *n, unsigned wait_ms)
{
    if (n == NULL)
        return;
    if (n->jobs != NULL && n->queue != NULL) {
        uint64_t deadline = dd_mono_ms() + wait_ms;
        for (;;) {
            notify_poll(n);
            struct notify_stats st;
            notify_stats_get(n, &st);
            if ((st.running == 0 && st.queued == 0) || dd_mono_ms() >= deadline)
                break;
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        for (unsigned i = 0; i < n->max_running; i++) {
            struct notify_job *j = &n->jobs[i];
            if (j->pid == 0)
                continue;
            if (!j->killed)
                notify_job_kill(n, j);
            /* SIGKILL cannot be ignored: this wait is short. */
            while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            notify_job_release(j);
        }
        while (n->q_count > 0) {
            free(n->queue[n->q_head]);
            n->q_head = (n->q_head + 1) % n->queue_len;
            n->q_count--;
            n->stats.dropped++;
        }
    }
    free(n->jobs);
    free(n->queue);
    free(n->script);
    free(n);
}

/* ---- event JSON ------------------------------------------------------------------------- */

size_t notify_event_json(char *buf, size_t len, const char *kind, const struct verdict *v,
                         const struct verdict *peers, size_t npeers)
{
    if (buf == NULL || len == 0)
        return 0;
    struct jbuf b = {.p = buf, .cap = len - 1}; /* keep room for the NUL */
    if (!verdict_json_event(&b, kind, v, peers, npeers)) {
        buf[0] = '\0';
        return 0;
    }
    buf[b.len] = '\0';
    return b.len;
}
