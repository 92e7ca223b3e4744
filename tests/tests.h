/* SPDX-License-Identifier: MIT */
/* Small helpers for the unit tests: the monotonic clock, bounded runs of
 * an event loop, forked children. Include after <cmocka.h>. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "macros.h"

/* Leaves a forked child without the sanitizers' exit-time leak check (the
 * parent's allocations are the child's too). */
#define child_exit(code) ((void) syscall(SYS_exit_group, (code)))

/* CLOCK_MONOTONIC in microseconds. */
static inline uint64_t now_usec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Runs the loop for USEC, whatever happens. */
static inline void run_for(sd_event *e, uint64_t usec) {
        uint64_t until = now_usec() + usec;

        while (now_usec() < until)
                assert_true(sd_event_run(e, 20 * USEC_PER_MSEC) >= 0);
}

/* Runs the loop until *DONE, failing after MAX_USEC. */
static inline void run_until(sd_event *e, const bool *done, uint64_t max_usec) {
        uint64_t start = now_usec();

        while (!*done) {
                assert_true(now_usec() - start < max_usec);
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
        }
}

/* Runs the loop until every child of ours is reaped (no zombie left),
 * failing after 5s. */
static inline void run_until_no_children(sd_event *e) {
        uint64_t start = now_usec();

        for (;;) {
                siginfo_t si = {};

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
                        return;
                assert_true(now_usec() - start < 5 * USEC_PER_SEC);
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
        }
}

/* SIGCHLD blocked in main() before any thread starts, so that all of them
 * inherit it and an sd-event child source gets it. */
static inline void block_sigchld(void) {
        sigset_t ss;

        assert_int_equal(sigemptyset(&ss), 0);
        assert_int_equal(sigaddset(&ss, SIGCHLD), 0);
        assert_int_equal(sigprocmask(SIG_BLOCK, &ss, NULL), 0);
}

/* Removes DIR and everything below it. */
static inline int rm_rf(const char *dir) {
        _cleanup_free_ char *cmd = NULL;

        if (asprintf(&cmd, "rm -rf -- '%s'", dir) < 0)
                return -ENOMEM;
        return system(cmd) == 0 ? 0 : -EIO;
}

/* Sends stderr to PATH (created or truncated, mode 0600) until
 * stderr_restore(). Returns the saved stderr descriptor. */
static inline int stderr_redirect(const char *path) {
        int saved, fd;

        fflush(stderr);
        saved = dup(STDERR_FILENO);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(saved >= 0 && fd >= 0);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);
        return saved;
}

/* Puts back the stderr SAVED by stderr_redirect() and returns what was
 * written to PATH meanwhile (malloc'd, NUL-terminated). */
static inline char *stderr_restore(int saved, const char *path) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f, *m;

        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        f = fopen(path, "re");
        m = open_memstream(&buf, &size);
        assert_true(f && m);
        for (int ch; (ch = fgetc(f)) != EOF;)
                fputc(ch, m);
        assert_int_equal(fclose(m), 0);
        fclose(f);
        return buf;
}
