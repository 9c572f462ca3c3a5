/* test_service.c - unit tests of common/service.c: the sd_notify datagrams read back from a
 * NOTIFY_SOCKET the test binds, the watchdog interval from WATCHDOG_USEC/WATCHDOG_PID, the signal
 * flags set with raise(), and the privilege drop (in a forked child, when run as root). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/service.h"

struct notify_fixture {
    char dir[64];
    char path[96];
    int fd;
};

static int notify_setup(void **state)
{
    struct notify_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_service.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/notify.sock", f->dir);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = 2};
    assert_int_equal(setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
    *state = f;
    return 0;
}

static int notify_teardown(void **state)
{
    struct notify_fixture *f = *state;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Receives one datagram (NUL-terminated) or fails the test after the 2 s receive timeout. */
static void recv_datagram(int fd, char *buf, size_t len)
{
    ssize_t r = recv(fd, buf, len - 1, 0);
    assert_true(r > 0);
    buf[r] = '\0';
}

static void test_service_notify_sends_ready_watchdog_stopping(void **state)
{
    struct notify_fixture *f = *state;
    char buf[512];

    assert_int_equal(service_notify_ready(NULL), 0);
    recv_datagram(f->fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");

    assert_int_equal(service_notify_watchdog(), 0);
    recv_datagram(f->fd, buf, sizeof(buf));
    assert_string_equal(buf, "WATCHDOG=1");

    assert_int_equal(service_notify_stopping(), 0);
    recv_datagram(f->fd, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
}

static void test_service_notify_status_is_one_line(void **state)
{
    struct notify_fixture *f = *state;
    char buf[512];

    assert_int_equal(service_notify_ready("capture up\napi up"), 0);
    recv_datagram(f->fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1\nSTATUS=capture up api up");

    assert_int_equal(service_notify_status("%d flows\n%s", 42, "ok"), 0);
    recv_datagram(f->fd, buf, sizeof(buf));
    assert_string_equal(buf, "STATUS=42 flows ok");

    assert_int_equal(service_notify_reloading(), 0);
    recv_datagram(f->fd, buf, sizeof(buf));
    assert_non_null(strstr(buf, "RELOADING=1\nMONOTONIC_USEC="));
}

static void test_service_notify_without_socket_is_noop(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(service_notify_ready("x"), 0);
    assert_int_equal(service_notify_watchdog(), 0);
    assert_int_equal(service_notify_stopping(), 0);
    assert_int_equal(service_notify_status("y"), 0);
}

static void test_service_watchdog_interval_is_half(void **state)
{
    (void)state;
    char pid[32];

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(service_watchdog_interval_us(), 0);

    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    assert_int_equal(setenv("WATCHDOG_USEC", "3000000", 1), 0);
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(service_watchdog_interval_us(), 1500000);

    /* Meant for another process (e.g. the parent that exec'd us): not ours. */
    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(service_watchdog_interval_us(), 0);

    assert_int_equal(setenv("WATCHDOG_USEC", "not-a-number", 1), 0);
    unsetenv("WATCHDOG_PID");
    assert_int_equal(service_watchdog_interval_us(), 0);
}

static void test_service_signals_set_flags(void **state)
{
    (void)state;
    assert_int_equal(service_signals_install(), 0);

    assert_false(service_reload_take());
    assert_int_equal(raise(SIGHUP), 0);
    raise(SIGHUP);
    assert_true(service_reload_take());
    assert_false(service_reload_take()); /* two SIGHUPs before a take are one reload */

    assert_false(service_reopen_take());
    assert_int_equal(raise(SIGUSR1), 0);
    assert_true(service_reopen_take());
    assert_false(service_reopen_take());

    assert_int_equal(raise(SIGPIPE), 0); /* ignored: we are still here */

    assert_false(service_stop_requested());
    assert_int_equal(raise(SIGTERM), 0);
    assert_true(service_stop_requested());
    assert_true(service_stop_requested()); /* sticky */
    assert_int_equal(raise(SIGINT), 0);
    assert_true(service_stop_requested());
}

static void test_service_drop_privileges_unknown_user_refused(void **state)
{
    (void)state;
    char err[256] = "";

    if (geteuid() != 0) {
        /* Not root: the call is a no-op whatever the user. */
        assert_int_equal(service_drop_privileges("no-such-user-ddosd", err, sizeof(err)), 0);
        return;
    }
    assert_int_equal(service_drop_privileges("no-such-user-ddosd", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "no-such-user-ddosd"));
    assert_non_null(strstr(err, "does not exist"));
    assert_int_equal(geteuid(), 0); /* nothing changed */
    assert_int_equal(service_drop_privileges("root", err, sizeof(err)), -EPERM);
    assert_int_equal(geteuid(), 0);
}

static void test_service_drop_privileges_to_nobody(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* No cmocka asserts in the child: each failure is its own exit code. */
        char err[256] = "";
        if (service_drop_privileges("nobody", err, sizeof(err)) != 0) {
            fprintf(stderr, "drop failed: %s\n", err);
            _exit(10);
        }
        if (getuid() != 65534 || geteuid() != 65534)
            _exit(11);
        if (getgid() != 65534 || getegid() != 65534)
            _exit(12);
        if (setuid(0) == 0 || seteuid(0) == 0)
            _exit(13);
        if (setgroups(0, NULL) == 0)
            _exit(14);
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
            _exit(15); /* a setuid helper run by the notify hook could regain root */
        for (unsigned long cap = 0; cap < 64; cap++)
            if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
                _exit(16); /* the bounding set still holds this capability */
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_notify_sends_ready_watchdog_stopping,
                                        notify_setup, notify_teardown),
        cmocka_unit_test_setup_teardown(test_service_notify_status_is_one_line, notify_setup,
                                        notify_teardown),
        cmocka_unit_test_setup_teardown(test_service_notify_without_socket_is_noop, notify_setup,
                                        notify_teardown),
        cmocka_unit_test_setup_teardown(test_service_watchdog_interval_is_half, notify_setup,
                                        notify_teardown),
        cmocka_unit_test(test_service_signals_set_flags),
        cmocka_unit_test(test_service_drop_privileges_unknown_user_refused),
        cmocka_unit_test(test_service_drop_privileges_to_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
