/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec.h"
#include "macros.h"
#include "tests.h"

typedef struct Result {
        bool done;
        int calls;
        int status;
        char *output;
        size_t size;
} Result;

static void on_done(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Result *res = userdata;

        res->done = true;
        res->calls++;
        res->status = status;
        res->size = size;
        assert_int_equal(output[size], 0);
        res->output = malloc(size + 1);
        assert_non_null(res->output);
        memcpy(res->output, output, size + 1);
}

static Result run_argv(char *const argv[], uint64_t timeout_usec) {
        sd_event *e = NULL;
        Result res = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(exec_argv(e, argv, timeout_usec, on_done, &res, NULL), 0);
        run_until(e, &res.done, 10 * USEC_PER_SEC);
        assert_int_equal(res.calls, 1);
        sd_event_unref(e);
        return res;
}

/* Live (not zombie) processes in process group PGID, from /proc. */
static unsigned live_in_pgrp(pid_t pgid) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                char path[300], buf[512], state;
                const char *p;
                int pgrp;
                FILE *f;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                (void) snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (!fgets(buf, sizeof(buf), f)) {
                        fclose(f);
                        continue;
                }
                fclose(f);
                p = strrchr(buf, ')');
                if (!p || sscanf(p + 1, " %c %*d %d", &state, &pgrp) != 2)
                        continue;
                if (pgrp == pgid && state != 'Z' && state != 'X')
                        n++;
        }
        closedir(d);
        return n;
}

/* True when we have no child left, neither running nor zombie. */
static bool no_children(void) {
        siginfo_t si = {};
        int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
        return r < 0 && errno == ECHILD;
}

static void test_exit_code(void **state) {
        char *argv[] = { "/bin/sh", "-c", "exit 7", NULL };
        Result res = run_argv(argv, 5 * USEC_PER_SEC);

        assert_int_equal(res.status, 7);
        assert_int_equal(res.size, 0);
        assert_string_equal(res.output, "");
        free(res.output);
        assert_true(no_children());
}

static void test_output_exact(void **state) {
        char *argv[] = { "printf", "hello\\nworld", NULL };  /* found in PATH */
        Result res = run_argv(argv, 5 * USEC_PER_SEC);

        assert_int_equal(res.status, 0);
        assert_int_equal(res.size, 11);
        assert_memory_equal(res.output, "hello\nworld", 12);
        free(res.output);
}

static void test_output_capped(void **state) {
        char *argv[] = { "/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x", NULL };
        Result res = run_argv(argv, 10 * USEC_PER_SEC);

        /* The child must not block on a full pipe: it exits 0, we keep
         * exactly the first EXEC_OUTPUT_MAX bytes. */
        assert_int_equal(res.status, 0);
        assert_int_equal(res.size, EXEC_OUTPUT_MAX);
        for (size_t i = 0; i < res.size; i++)
                if (res.output[i] != 'x')
                        fail_msg("byte %zu is 0x%02x", i, (unsigned char) res.output[i]);
        free(res.output);
}

static void test_killed_by_signal(void **state) {
        char *argv[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
        Result res = run_argv(argv, 5 * USEC_PER_SEC);

        assert_int_equal(res.status, 128 + SIGTERM);
        free(res.output);
}

static void test_stdin_null_and_fds_closed(void **state) {
        /* An fd without O_CLOEXEC that the child must not see. */
        int leak = fcntl(STDERR_FILENO, F_DUPFD, 20);
        char *argv[] = { "/bin/sh", "-c", "cat; ls /proc/self/fd", NULL };
        Result res;

        assert_true(leak >= 20);
        res = run_argv(argv, 5 * USEC_PER_SEC);
        close(leak);

        /* cat read EOF from /dev/null at once; ls sees 0, 1, 2 and the fd
         * of its own directory listing (3), nothing else. */
        assert_int_equal(res.status, 0);
        assert_string_equal(res.output, "0\n1\n2\n3\n");
        free(res.output);
}

static void test_nonexistent_binary(void **state) {
        char *argv1[] = { "/nonexistent/mta-watchdog-test", NULL };
        char *argv2[] = { "mta-watchdog-no-such-command", NULL };
        Result res;

        /* Documented: a binary that cannot be executed yields -errno of the
         * failed execve() (never 127, which a real program may return). */
        res = run_argv(argv1, 5 * USEC_PER_SEC);
        assert_int_equal(res.status, -ENOENT);
        free(res.output);

        res = run_argv(argv2, 5 * USEC_PER_SEC);
        assert_int_equal(res.status, -ENOENT);
        free(res.output);

        assert_true(no_children());
}

/* A text file without "#!" is ENOEXEC: execvp() would hand it to /bin/sh,
 * we never run a shell. Found through PATH, too. */
static void test_no_shell_fallback(void **state) {
        char dir[] = "/tmp/test-exec-XXXXXX", file[64], *path = NULL;
        const char *old_path = getenv("PATH");
        char *saved = old_path ? strdup(old_path) : NULL;
        char *argv1[] = { file, NULL };
        char *argv2[] = { "script-without-shebang", NULL };
        Result res;
        int fd;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(file, sizeof(file), "%s/script-without-shebang", dir);
        fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "echo ran\n", 9), 9);
        close(fd);

        res = run_argv(argv1, 5 * USEC_PER_SEC);
        assert_int_equal(res.status, -ENOEXEC);
        assert_string_equal(res.output, "");
        free(res.output);

        assert_true(asprintf(&path, "/nonexistent:%s", dir) > 0);
        assert_int_equal(setenv("PATH", path, 1), 0);
        res = run_argv(argv2, 5 * USEC_PER_SEC);
        if (saved)
                (void) setenv("PATH", saved, 1);
        assert_int_equal(res.status, -ENOEXEC);
        free(res.output);

        free(saved);
        free(path);
        (void) unlink(file);
        (void) rmdir(dir);
}

static void test_timeout_kills_group(void **state) {
        char *argv[] = { "/bin/sh", "-c", "echo $$; sleep 30 & sleep 30", NULL };
        uint64_t start = now_usec();
        Result res = run_argv(argv, 200 * USEC_PER_MSEC);
        uint64_t elapsed = now_usec() - start;
        long pgid;

        assert_int_equal(res.status, -ETIMEDOUT);
        assert_true(elapsed >= 200 * USEC_PER_MSEC);
        assert_true(elapsed < 3 * USEC_PER_SEC);

        /* The shell printed its pid, which is its process group. */
        pgid = strtol(res.output, NULL, 10);
        assert_true(pgid > 1);
        free(res.output);

        /* Both sleeps (the background one is a grandchild) are gone. */
        start = now_usec();
        while (live_in_pgrp((pid_t) pgid) > 0) {
                assert_true(now_usec() - start < 2 * USEC_PER_SEC);
                usleep(10000);
        }
        assert_true(no_children());
}

/* exec_capture_sync() (configuration load: postconf, exim4 -bP) keeps its
 * deadline when the program closes its output but does not exit, even
 * with SIGTERM ignored: it is killed, and the caller gets -ETIMEDOUT. */
static void test_capture_sync_deadline(void **state) {
        char *closes[] = { "/bin/sh", "-c", "trap '' TERM; echo $$; exec >&-; sleep 30", NULL };
        char *hangs[] = { "/bin/sh", "-c", "trap '' TERM; echo $$; sleep 30", NULL };
        char *fine[] = { "/bin/sh", "-c", "echo one; echo two", NULL };
        char *const *argvs[] = { closes, hangs };
        char buf[64];

        (void) alarm(20);  /* a hang fails the test instead of stopping the suite */
        for (size_t i = 0; i < ELEMENTSOF(argvs); i++) {
                uint64_t start = now_usec();
                long pgid;

                assert_int_equal(exec_capture_sync(argvs[i], 300 * USEC_PER_MSEC, buf, sizeof(buf)), -ETIMEDOUT);
                assert_true(now_usec() - start < 5 * USEC_PER_SEC);
                pgid = strtol(buf, NULL, 10);
                assert_true(pgid > 1);
                start = now_usec();
                while (live_in_pgrp((pid_t) pgid) > 0) {
                        assert_true(now_usec() - start < 2 * USEC_PER_SEC);
                        usleep(10000);
                }
        }
        assert_int_equal(exec_capture_sync(fine, 5 * USEC_PER_SEC, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "one\ntwo\n");
        assert_true(no_children());
        (void) alarm(0);
}

static int fn_child(int out_fd, void *arg) {
        const char *msg = arg;
        (void) !write(out_fd, msg, strlen(msg));
        return 5;
}

static void test_exec_fn(void **state) {
        sd_event *e = NULL;
        Result res = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(exec_fn(e, fn_child, (void *) "scan ok\n", 5 * USEC_PER_SEC, on_done, &res, NULL), 0);
        run_until(e, &res.done, 10 * USEC_PER_SEC);
        assert_int_equal(res.status, 5);
        assert_string_equal(res.output, "scan ok\n");
        free(res.output);
        sd_event_unref(e);
}

static void test_invalid(void **state) {
        sd_event *e = NULL;
        Result res = {};
        char *empty[] = { NULL };

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(exec_argv(e, empty, USEC_PER_SEC, on_done, &res, NULL), -EINVAL);
        assert_int_equal(exec_fn(e, NULL, NULL, USEC_PER_SEC, on_done, &res, NULL), -EINVAL);
        assert_null(exec_cancel(NULL));
        sd_event_unref(e);
}

static void test_cancel_no_zombie(void **state) {
        char *argv[] = { "/bin/sh", "-c", "sleep 30", NULL };
        sd_event *e = NULL;
        ExecRun *run = NULL;
        Result res = {};
        uint64_t start;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(exec_argv(e, argv, 30 * USEC_PER_SEC, on_done, &res, &run), 0);
        assert_non_null(run);
        assert_false(no_children());

        /* Let it get going, then cancel. */
        (void) sd_event_run(e, 50 * USEC_PER_MSEC);
        assert_null(exec_cancel(run));

        start = now_usec();
        while (!no_children()) {
                assert_true(now_usec() - start < 3 * USEC_PER_SEC);
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        }
        assert_int_equal(res.calls, 0);

        /* Cancel right after start, then free the loop before the child is
         * reaped: no leak (ASan) and no crash. */
        assert_int_equal(exec_argv(e, argv, 30 * USEC_PER_SEC, on_done, &res, &run), 0);
        assert_null(exec_cancel(run));
        sd_event_unref(e);
        assert_int_equal(res.calls, 0);

        /* That one is ours to reap now (the loop that would have is gone). */
        start = now_usec();
        while (!no_children()) {
                assert_true(now_usec() - start < 3 * USEC_PER_SEC);
                (void) waitpid(-1, NULL, WNOHANG);
                usleep(10000);
        }
}

/* exec_argv_input(): the child reads exactly the input on stdin (NUL bytes
 * and all), and the input is in no argv. */
static void test_input_on_stdin(void **state) {
        static const char input[] = "Authorization: Bearer s3cret\n\0binary\xff";
        char *const argv[] = { (char *) "/bin/sh", (char *) "-c",
                               (char *) "tr -d '\\n' </proc/self/cmdline | grep -c s3cret; cat", NULL };
        sd_event *e = NULL;
        Result res = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(exec_argv_input(e, argv, input, sizeof(input) - 1, 10 * USEC_PER_SEC, on_done, &res, NULL), 0);
        run_until(e, &res.done, 10 * USEC_PER_SEC);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.status, 0);
        assert_int_equal(res.size, 2 + sizeof(input) - 1);
        assert_memory_equal(res.output, "0\n", 2);
        assert_memory_equal(res.output + 2, input, sizeof(input) - 1);
        free(res.output);

        /* Empty input: stdin is at EOF at once. */
        char *const wc[] = { (char *) "/usr/bin/wc", (char *) "-c", NULL };
        res = (Result) {};
        assert_int_equal(exec_argv_input(e, wc, NULL, 0, 10 * USEC_PER_SEC, on_done, &res, NULL), 0);
        run_until(e, &res.done, 10 * USEC_PER_SEC);
        assert_int_equal(res.status, 0);
        assert_string_equal(res.output, "0\n");
        free(res.output);

        /* A relative path is refused (no PATH search for such a program). */
        char *const rel[] = { (char *) "cat", NULL };
        assert_int_equal(exec_argv_input(e, rel, "x", 1, USEC_PER_SEC, on_done, &res, NULL), -EINVAL);
        sd_event_unref(e);
}

/* exec_argv_input(): the child dies with the process that started it
 * (PR_SET_PDEATHSIG), here a forked process that exits at once. */
static void test_input_child_dies_with_parent(void **state) {
        int fds[2];
        pid_t middle, child = 0;
        uint64_t start;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        middle = fork();
        assert_true(middle >= 0);
        if (middle == 0) {
                char *const argv[] = { (char *) "/bin/sleep", (char *) "60", NULL };
                sd_event *e = NULL;
                ExecRun *run = NULL;
                int pid;

                if (sd_event_new(&e) < 0 ||
                    exec_argv_input(e, argv, "", 0, 60 * USEC_PER_SEC, on_done, NULL, &run) < 0)
                        child_exit(1);
                /* The pid of the group leader is its pgid: read it from /proc. */
                pid = 0;
                for (int i = 0; i < 100 && pid == 0; i++) {
                        DIR *d = opendir("/proc");
                        struct dirent *de;

                        while (d && (de = readdir(d))) {
                                char path[300], buf[512];
                                int ppid;
                                const char *p;
                                FILE *f;

                                (void) snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                                f = de->d_name[0] >= '1' && de->d_name[0] <= '9' ? fopen(path, "re") : NULL;
                                if (!f)
                                        continue;
                                p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
                                fclose(f);
                                if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == (int) getpid())
                                        pid = atoi(de->d_name);
                        }
                        if (d)
                                closedir(d);
                        if (pid == 0)
                                usleep(10000);
                }
                (void) !write(fds[1], &pid, sizeof(pid));
                child_exit(0);  /* without reaping or killing the child */
        }
        (void) close(fds[1]);
        assert_int_equal(read(fds[0], &child, sizeof(child)), (ssize_t) sizeof(child));
        (void) close(fds[0]);
        assert_true(child > 0);
        assert_int_equal(waitpid(middle, NULL, 0), middle);

        /* Gone (or a zombie of init's) soon after: not a sleep of 60s. */
        start = now_usec();
        for (;;) {
                char path[64], buf[512];
                const char *p;
                char st = 'Z';
                FILE *f;

                (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) child);
                f = fopen(path, "re");
                if (!f)
                        break;
                p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
                fclose(f);
                if (p && sscanf(p + 1, " %c", &st) == 1 && st == 'Z')
                        break;
                assert_true(now_usec() - start < 5 * USEC_PER_SEC);
                usleep(10000);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_code),
                cmocka_unit_test(test_output_exact),
                cmocka_unit_test(test_output_capped),
                cmocka_unit_test(test_killed_by_signal),
                cmocka_unit_test(test_stdin_null_and_fds_closed),
                cmocka_unit_test(test_nonexistent_binary),
                cmocka_unit_test(test_no_shell_fallback),
                cmocka_unit_test(test_timeout_kills_group),
                cmocka_unit_test(test_capture_sync_deadline),
                cmocka_unit_test(test_exec_fn),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_cancel_no_zombie),
                cmocka_unit_test(test_input_on_stdin),
                cmocka_unit_test(test_input_child_dies_with_parent),
        };

        /* sd_event_add_child() requires SIGCHLD blocked. */
        block_sigchld();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
