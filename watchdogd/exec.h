/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* Child processes on the event loop: never a shell, stdin from /dev/null
 * (or given input, exec_argv_input()),
 * stdout captured (at most EXEC_OUTPUT_MAX bytes, the rest discarded),
 * stderr inherited, all other fds closed, own process group. A deadline
 * kills the whole process group with SIGKILL. Reaped with
 * sd_event_add_child(), so SIGCHLD must be blocked in the caller. */

#define EXEC_OUTPUT_MAX (64 * 1024)

typedef struct ExecRun ExecRun;

/* STATUS: the exit code (0..255) when the child exited; 128+N when it was
 * killed by signal N; -ETIMEDOUT when the deadline killed it; another
 * negative errno when it could not run (the execve() error: -ENOENT,
 * -EACCES, -ENOEXEC; a file that is not an executable is never handed to
 * /bin/sh). OUTPUT is NUL-terminated. The run is freed after the callback
 * returns: do not exec_cancel() it from there. TIMEOUT_USEC may be
 * USEC_INFINITY for no deadline of its own. */
typedef void (*exec_done_fn)(ExecRun *run, int status, const char *output, size_t size, void *userdata);

/* Runs ARGV[0] (an absolute path, or found in PATH) with ARGV.
 * Returns 0, -EINVAL (empty argv), or a negative errno from fork/pipe. */
int exec_argv(sd_event *e, char *const argv[], uint64_t timeout_usec,
              exec_done_fn cb, void *userdata, ExecRun **ret);

/* Like exec_argv(), but the child's stdin reads INPUT (SIZE bytes, from a
 * sealed memfd(2) written before the fork: never argv, which every local
 * user can read in /proc/PID/cmdline, so INPUT may hold secrets), and the
 * child gets SIGKILL when the calling process dies (PR_SET_PDEATHSIG,
 * prctl(2); kept across execve() for a program that is not set-id).
 * ARGV[0] must be an absolute path. Returns 0, -EINVAL, or a negative errno
 * from memfd_create/fork/pipe. */
int exec_argv_input(sd_event *e, char *const argv[], const void *input, size_t size, uint64_t timeout_usec,
                    exec_done_fn cb, void *userdata, ExecRun **ret);

/* Runs FN(out_fd, ARG) in a forked child; its return value (0..255) is the
 * exit code. Used to keep blocking work (directory scans) off the loop. */
int exec_fn(sd_event *e, int (*fn)(int out_fd, void *arg), void *arg, uint64_t timeout_usec,
            exec_done_fn cb, void *userdata, ExecRun **ret);

/* Like exec_fn(), and FDS[0..N_FDS) stay open in the child as file
 * descriptors 4, 5, ... (an inotify instance shared with the parent, a
 * memfd for output longer than EXEC_OUTPUT_MAX). N_FDS is at most
 * EXEC_KEEP_FDS_MAX; -EINVAL otherwise. */
#define EXEC_KEEP_FDS_MAX 4
int exec_fn_fds(sd_event *e, int (*fn)(int out_fd, void *arg), void *arg, const int *fds, size_t n_fds,
                uint64_t timeout_usec, exec_done_fn cb, void *userdata, ExecRun **ret);

/* Runs ARGV[0] (an absolute path, no PATH search) with ARGV, stdin and
 * stderr on /dev/null, stdout captured into BUF (SIZE bytes, always
 * NUL-terminated, the rest discarded), for at most TIMEOUT_USEC; blocks
 * the caller. Only for configuration load (probes/exim.c runs `exim4 -bP`,
 * watchdogd/detect.c `postconf -h`): the event loop runs programs through
 * exec_argv(). Returns the exit status (0..255; 128+N when killed by
 * signal N; 127 when it could not be run), or a negative errno
 * (-ETIMEDOUT: the process group was killed at the deadline). */
int exec_capture_sync(char *const argv[], uint64_t timeout_usec, char *buf, size_t size);

/* Kills the process group of a run still going, reaps it later without a
 * callback, and frees the run. Accepts NULL; returns NULL. */
ExecRun *exec_cancel(ExecRun *run);
