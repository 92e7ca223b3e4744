/* SPDX-License-Identifier: MIT */
/* caps.h: what the shipped unit's ambient CAP_DAC_READ_SEARCH becomes. The
 * test sets up the same credentials in a child (needs root to do so; skipped
 * otherwise): user nobody with the capability permitted, inheritable, ambient
 * and effective, as systemd gives it, then checks the exact sets. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "macros.h"
#include "tests.h"

#define NOBODY 65534
#define BIT (1ULL << CAP_DAC_READ_SEARCH)

/* The CapXxx: line of /proc/self/status as a number, or ~0 if missing. */
static unsigned long long cap_line(const char *name) {
        char line[256];
        unsigned long long v = ~0ULL;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return v;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':')
                        v = strtoull(line + strlen(name) + 1, NULL, 16);
        fclose(f);
        return v;
}

static bool can_list(const char *dir) {
        DIR *d = opendir(dir);

        if (!d)
                return false;
        closedir(d);
        return true;
}

/* In the child: become nobody with CAP_DAC_READ_SEARCH as systemd's
 * AmbientCapabilities= leaves it. Exits 100 + step on a setup failure. */
static void become_unit_user(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                child_exit(101);
        if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setgroups(0, NULL) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                child_exit(102);
        d[0].permitted = d[0].effective = d[0].inheritable = (uint32_t) BIT;
        if (syscall(SYS_capset, &h, d) < 0)
                child_exit(103);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0) < 0)
                child_exit(104);
}

static int child_checks(const char *dir) {
        become_unit_user();
        /* as systemd starts the daemon: the capability ambient and effective */
        if (cap_line("CapAmb") != BIT || cap_line("CapEff") != BIT || !can_list(dir))
                return 10;
        if (caps_confine() != 0)
                return 11;
        /* confined: nothing ambient, nothing effective, still permitted */
        if (cap_line("CapAmb") != 0 || cap_line("CapEff") != 0 || cap_line("CapPrm") != BIT)
                return 12;
        if (can_list(dir))
                return 13;  /* a 0700 root directory must be closed now */
        if (caps_confine() != 0)
                return 14;  /* idempotent */
        /* the scan child raises it again, and only it */
        if (caps_raise_read_search() != 1 || cap_line("CapEff") != BIT || cap_line("CapAmb") != 0)
                return 15;
        if (!can_list(dir))
                return 16;
        if (caps_raise_read_search() != 1)
                return 17;
        return 0;
}

static void test_confine_and_raise(void **state) {
        char dir[] = "/tmp/test-caps-XXXXXX";
        pid_t pid;
        int status;

        if (geteuid() != 0)
                skip();
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0700), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                child_exit(child_checks(dir));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* Without the capability permitted: nothing to raise, and confining is harmless. */
static void test_not_permitted(void **state) {
        pid_t pid;
        int status;

        if (geteuid() != 0)
                skip();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setgroups(0, NULL) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        child_exit(100);
                if (caps_confine() != 0 || cap_line("CapPrm") != 0)
                        child_exit(1);
                child_exit(caps_raise_read_search() == 0 && cap_line("CapEff") == 0 ? 0 : 2);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* caps_kill() and caps_kill_pidfd() (and caps_can_kill() telling which): as nobody, a root process (the test's
 * own sleeper) can be signalled only with CAP_KILL permitted, and the
 * capability is effective for that call alone. */
static int kill_child(pid_t victim, bool with_cap) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        int pidfd;

        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return 101;
        if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setgroups(0, NULL) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                return 102;
        d[0].permitted = with_cap ? 1U << CAP_KILL : 0;
        if (syscall(SYS_capset, &h, d) < 0)
                return 103;
        pidfd = (int) syscall(SYS_pidfd_open, victim, 0);   /* needs no privilege */
        if (pidfd < 0)
                return 104;
        if (caps_can_kill() != (with_cap ? 1 : 0))
                return 15;
        if (!with_cap)
                return caps_kill(victim, SIGTERM) == -EPERM && caps_kill_pidfd(pidfd, SIGTERM) == -EPERM ? 0 : 10;
        if (caps_kill(victim, 0) != 0 || caps_kill_pidfd(pidfd, 0) != 0 || cap_line("CapEff") != 0)
                return 11;
        if (kill(victim, 0) == 0 || errno != EPERM)
                return 12;  /* not effective outside caps_kill() */
        if (caps_kill_pidfd(-1, SIGTERM) != -EBADF)
                return 14;
        return caps_kill_pidfd(pidfd, SIGTERM) == 0 && cap_line("CapEff") == 0 ? 0 : 13;
}

static void test_kill(void **state) {
        for (int with_cap = 0; with_cap <= 1; with_cap++) {
                pid_t victim, pid;
                int status;

                if (geteuid() != 0)
                        skip();
                victim = fork();
                assert_true(victim >= 0);
                if (victim == 0) {
                        (void) sleep(30);      /* bounded: ended below either way */
                        child_exit(0);
                }
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0)
                        child_exit(kill_child(victim, with_cap));
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
                if (!with_cap)
                        assert_int_equal(kill(victim, SIGTERM), 0);
                assert_int_equal(waitpid(victim, &status, 0), victim);
                assert_true(WIFSIGNALED(status));
                assert_int_equal(WTERMSIG(status), SIGTERM);
        }
}

/* As root (euid 0) nothing changes. */
static void test_root_untouched(void **state) {
        unsigned long long eff = cap_line("CapEff");

        if (geteuid() != 0)
                skip();
        assert_int_equal(caps_confine(), 0);
        assert_int_equal(caps_raise_read_search(), 1);
        assert_true(cap_line("CapEff") == eff);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_confine_and_raise),
                cmocka_unit_test(test_not_permitted),
                cmocka_unit_test(test_root_untouched),
                cmocka_unit_test(test_kill),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
