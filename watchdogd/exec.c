/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "macros.h"

struct ExecRun {
        sd_event *event;
        pid_t pid;

        int out_fd;             /* read end of the child's stdout, -EBADF after EOF */
        int err_fd;             /* read end of the exec error pipe (child writes errno) */
        sd_event_source *child_source, *io_source, *timer_source;

        char *output;
        size_t size, allocated;

        bool exited, eof, timed_out;
        bool cancelled;         /* the child source only reaps, see exec_cancel() */
        int status;             /* from the child's siginfo, see exec_done_fn */

        exec_done_fn cb;
        void *userdata;
};

static void exec_run_free(ExecRun *run) {
        if (!run)
                return;
        sd_event_source_disable_unref(run->io_source);
        sd_event_source_disable_unref(run->timer_source);
        sd_event_source_disable_unref(run->child_source);
        closep(&run->out_fd);
        closep(&run->err_fd);
        free(run->output);
        sd_event_unref(run->event);
        free(run);
}

/* Kills the whole process group. The parent also called setpgid(), so the
 * group exists as soon as fork() returned. Once the child itself is reaped,
 * its pid stays reserved as long as a grandchild still uses it as its
 * process group id, so this cannot hit an unrelated process group. */
static void exec_kill(ExecRun *run) {
        if (run->pid <= 0)
                return;
        if (kill(-run->pid, SIGKILL) < 0 && errno != ESRCH)
                log_debug_errno(errno, "exec: kill process group %d: %m", (int) run->pid);
        if (!run->exited)
                (void) kill(run->pid, SIGKILL);
}

/* Reads what is in the pipe without blocking. Keeps at most
 * EXEC_OUTPUT_MAX bytes and discards the rest, so that a chatty child
 * never blocks on a full pipe. Sets eof on EOF or a read error. */
static void exec_drain(ExecRun *run) {
        while (run->out_fd >= 0) {
                char discard[4096];
                char *buf;
                size_t want;

                if (run->size < EXEC_OUTPUT_MAX) {
                        if (run->allocated - run->size < 4096 && run->allocated < EXEC_OUTPUT_MAX + 1) {
                                size_t n = run->allocated == 0 ? 4096 : run->allocated * 2;
                                char *p;

                                if (n > EXEC_OUTPUT_MAX + 1)
                                        n = EXEC_OUTPUT_MAX + 1;
                                p = realloc(run->output, n);
                                if (!p) {
                                        log_error("exec: out of memory, discarding output");
                                        buf = discard, want = sizeof(discard);
                                        goto do_read;
                                }
                                run->output = p;
                                run->allocated = n;
                        }
                        buf = run->output + run->size;
                        want = run->allocated - 1 - run->size;
                        if (want > EXEC_OUTPUT_MAX - run->size)
                                want = EXEC_OUTPUT_MAX - run->size;
                } else {
                        buf = discard;
                        want = sizeof(discard);
                }

        do_read:;
                ssize_t n = read(run->out_fd, buf, want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        log_debug_errno(errno, "exec: read from child %d: %m", (int) run->pid);
                        n = 0;
                }
                if (n == 0) {
                        run->eof = true;
                        run->io_source = sd_event_source_disable_unref(run->io_source);
                        closep(&run->out_fd);
                        run->out_fd = -EBADF;
                        return;
                }
                if (buf != discard)
                        run->size += (size_t) n;
        }
}

/* Ends the run once the child exited and either its output ended or the
 * deadline fired (a grandchild that escaped the process group may hold the
 * pipe open forever). */
static void exec_maybe_finish(ExecRun *run) {
        static char empty[1];
        char *out;

        if (!run->exited || !(run->eof || run->timed_out))
                return;

        exec_drain(run);
        if (run->output) {
                run->output[run->size] = 0;
                out = run->output;
        } else
                out = empty;

        run->cb(run, run->timed_out ? -ETIMEDOUT : run->status, out, run->size, run->userdata);
        exec_run_free(run);
}

static int exec_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ExecRun *run = userdata;

        exec_drain(run);
        exec_maybe_finish(run);
        return 0;
}

static int exec_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecRun *run = userdata;

        log_debug("exec: child %d hit its deadline, killing its process group", (int) run->pid);
        run->timed_out = true;
        exec_kill(run);
        exec_maybe_finish(run);
        return 0;
}

static int exec_on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ExecRun *run = userdata;
        int child_errno = 0;

        if (run->cancelled) {
                /* Drop the event loop's reference: the source is freed after
                 * this callback (sd-event reaps the zombie first), and its
                 * destroy callback frees the run. */
                (void) sd_event_source_set_floating(s, false);
                return 0;
        }

        run->exited = true;
        if (si->si_code == CLD_EXITED)
                run->status = si->si_status & 0xff;
        else
                run->status = 128 + si->si_status;

        /* The child has exited, so whatever it wrote to the error pipe is
         * there now: this read cannot block. A full errno means the exec
         * (or the set-up before it) failed. */
        if (run->err_fd >= 0) {
                ssize_t n = read(run->err_fd, &child_errno, sizeof(child_errno));
                if (n == (ssize_t) sizeof(child_errno) && child_errno > 0)
                        run->status = -child_errno;
                closep(&run->err_fd);
                run->err_fd = -EBADF;
        }

        /* The source is done; sd-event reaps the zombie after we return. */
        run->child_source = sd_event_source_disable_unref(run->child_source);
        exec_maybe_finish(run);
        return 0;
}

static void exec_run_destroy(void *userdata) {
        ExecRun *run = userdata;

        run->child_source = NULL;  /* being freed by sd-event */
        exec_run_free(run);
}

ExecRun *exec_cancel(ExecRun *run) {
        int r;

        if (!run)
                return NULL;

        exec_kill(run);
        run->io_source = sd_event_source_disable_unref(run->io_source);
        run->timer_source = sd_event_source_disable_unref(run->timer_source);
        closep(&run->out_fd);
        run->out_fd = -EBADF;
        run->output = (free(run->output), NULL);
        run->cancelled = true;

        if (run->exited) {
                exec_run_free(run);
                return NULL;
        }
        if (!run->child_source) {
                /* Only when spawning failed half-way: nobody else would reap
                 * it, and a child just SIGKILLed does not keep us long. */
                (void) waitpid(run->pid, NULL, 0);
                exec_run_free(run);
                return NULL;
        }

        /* Hand the child source to the event loop: it stays until the zombie
         * is reaped (or the loop is freed), and its destroy callback then
         * frees the run. The caller never hears of it again. */
        (void) sd_event_source_set_description(run->child_source, "exec-reap");
        r = sd_event_source_set_destroy_callback(run->child_source, exec_run_destroy);
        if (r >= 0)
                r = sd_event_source_set_floating(run->child_source, true);
        if (r < 0) {
                log_warning_errno(r, "exec: cannot leave child %d to the event loop, reaping synchronously: %m",
                                  (int) run->pid);
                (void) sd_event_source_set_destroy_callback(run->child_source, NULL);
                run->child_source = sd_event_source_disable_unref(run->child_source);
                (void) waitpid(run->pid, NULL, 0);
                exec_run_free(run);
                return NULL;
        }
        run->child_source = sd_event_source_unref(run->child_source);
        /* The loop owns the run now; a reference back would keep it alive. */
        run->event = sd_event_unref(run->event);
        return NULL;
}

/* Moves FD to a number >= 3, so that the dup2() calls onto 0..2 and 3
 * cannot clobber it. Async-signal-safe. */
static int fd_move_above_stdio(int fd) {
        int copy;

        if (fd >= 3)
                return fd;
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return copy < 0 ? -1 : copy;
}

/* execvp() without its fallback of running a file that is not an
 * executable through /bin/sh: we never want a shell. Returns with errno
 * set as execvp() would (EACCES if any candidate was not executable). */
static void exec_search(char *const argv[]) {
        const char *path, *p;
        bool eacces = false;

        if (strchr(argv[0], '/')) {
                execv(argv[0], argv);
                return;
        }

        path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (p = path; ; ) {
                const char *colon = strchrnul(p, ':');
                size_t dlen = (size_t) (colon - p), nlen = strlen(argv[0]);
                char buf[4096];

                if (dlen + 1 + nlen + 1 <= sizeof(buf)) {
                        if (dlen == 0)
                                buf[dlen++] = '.';   /* empty PATH element: current directory */
                        else
                                memcpy(buf, p, dlen);
                        buf[dlen] = '/';
                        memcpy(buf + dlen + 1, argv[0], nlen + 1);
                        execv(buf, argv);
                        if (errno == EACCES)
                                eacces = true;
                        else if (errno != ENOENT && errno != ENOTDIR)
                                return;  /* found, but it would not run */
                }
                if (!*colon)
                        break;
                p = colon + 1;
        }
        errno = eacces ? EACCES : ENOENT;
}

/* In the child, after fork(): only async-signal-safe calls. Reports a
 * failure by writing errno to ERR_FD and exiting with 127. */
_Noreturn static void exec_child(int out_fd, int err_fd, char *const argv[],
                                 int (*fn)(int out_fd, void *arg), void *arg,
                                 const int *keep_fds, size_t n_keep, int in_fd, pid_t parent) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        int keep[EXEC_KEEP_FDS_MAX];
        sigset_t ss;
        int null_fd, r;

        (void) setpgid(0, 0);

        /* PARENT > 0: die with it. Set before the check, so that a parent
         * gone in between is seen by getppid() (prctl(2)). */
        if (parent > 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        goto fail;
                if (getppid() != parent)
                        _exit(127);
        }

        /* Handlers and ignores set by the daemon make no sense here, and
         * a blocked SIGCHLD/SIGTERM would break the child's own children. */
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &sa, NULL);
        sigemptyset(&ss);
        (void) sigprocmask(SIG_SETMASK, &ss, NULL);

        /* Out of the way of 0..4+n_keep first; placed at 4, 5, ... below. */
        for (size_t i = 0; i < n_keep; i++) {
                keep[i] = fcntl(keep_fds[i], F_DUPFD, 4 + EXEC_KEEP_FDS_MAX);
                if (keep[i] < 0)
                        goto fail_nofd;
        }
        out_fd = fd_move_above_stdio(out_fd);
        err_fd = fd_move_above_stdio(err_fd);
        if (out_fd < 0 || err_fd < 0)
                goto fail_nofd;
        if (in_fd >= 0 && (in_fd = fd_move_above_stdio(in_fd)) < 0)
                goto fail;

        null_fd = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                goto fail;
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0)
                goto fail;
        if (err_fd != 3) {
                if (dup3(err_fd, 3, O_CLOEXEC) < 0)
                        goto fail;
                err_fd = 3;
        }
        for (size_t i = 0; i < n_keep; i++)
                if (dup2(keep[i], 4 + (int) i) < 0)
                        goto fail;
        if (close_range(4 + (unsigned) n_keep, ~0U, 0) < 0)
                for (int fd = 4 + (int) n_keep; fd < 65536; fd++)
                        (void) close(fd);

        if (fn) {
                (void) close(err_fd);
                r = fn(STDOUT_FILENO, arg);
                _exit(r & 0xff);
        }

        exec_search(argv);
fail:
        r = errno;
        (void) !write(err_fd, &r, sizeof(r));
fail_nofd:
        _exit(127);
}

static int exec_spawn(sd_event *e, char *const argv[],
                      int (*fn)(int out_fd, void *arg), void *arg,
                      const int *keep_fds, size_t n_keep, int in_fd, bool die_with_parent,
                      uint64_t timeout_usec, exec_done_fn cb, void *userdata, ExecRun **ret) {
        int out_pipe[2] = { -EBADF, -EBADF }, err_pipe[2] = { -EBADF, -EBADF };
        ExecRun *run = NULL;
        pid_t parent;
        sigset_t ss;
        int r;

        if (!e || !cb || n_keep > EXEC_KEEP_FDS_MAX)
                return -EINVAL;

        /* sd_event_add_child() refuses otherwise; find out before forking. */
        if (sigprocmask(SIG_SETMASK, NULL, &ss) < 0)
                return negative_errno();
        if (!sigismember(&ss, SIGCHLD))
                return -EBUSY;

        run = calloc(1, sizeof(*run));
        if (!run)
                return -ENOMEM;
        run->event = sd_event_ref(e);
        run->out_fd = run->err_fd = -EBADF;
        run->cb = cb;
        run->userdata = userdata;

        if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto fail;
        }

        parent = die_with_parent ? getpid() : 0;
        run->pid = fork();
        if (run->pid < 0) {
                r = negative_errno();
                run->pid = 0;
                goto fail;
        }
        if (run->pid == 0)
                exec_child(out_pipe[1], err_pipe[1], argv, fn, arg, keep_fds, n_keep, in_fd, parent);

        /* Also here, so that a kill of the group right away cannot miss. */
        (void) setpgid(run->pid, run->pid);

        run->out_fd = TAKE_FD(out_pipe[0]);
        run->err_fd = TAKE_FD(err_pipe[0]);
        closep(&out_pipe[1]);
        closep(&err_pipe[1]);
        if (fcntl(run->out_fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(run->err_fd, F_SETFL, O_NONBLOCK) < 0) {
                r = negative_errno();
                goto fail_child;
        }

        r = sd_event_add_child(e, &run->child_source, run->pid, WEXITED, exec_on_child, run);
        if (r < 0)
                goto fail_child;
        (void) sd_event_source_set_description(run->child_source, "exec-child");

        r = sd_event_add_io(e, &run->io_source, run->out_fd, EPOLLIN, exec_on_io, run);
        if (r < 0)
                goto fail_child;
        (void) sd_event_source_set_description(run->io_source, "exec-stdout");

        if (timeout_usec != USEC_INFINITY) {
                r = sd_event_add_time_relative(e, &run->timer_source, CLOCK_MONOTONIC, timeout_usec,
                                               USEC_PER_MSEC, exec_on_timer, run);
                if (r < 0)
                        goto fail_child;
                (void) sd_event_source_set_description(run->timer_source, "exec-deadline");
        }

        if (ret)
                *ret = run;
        return 0;

fail_child:
        (void) exec_cancel(run);
        return r;
fail:
        closep(&out_pipe[0]);
        closep(&out_pipe[1]);
        closep(&err_pipe[0]);
        closep(&err_pipe[1]);
        exec_run_free(run);
        return r;
}

int exec_argv(sd_event *e, char *const argv[], uint64_t timeout_usec,
              exec_done_fn cb, void *userdata, ExecRun **ret) {
        if (!argv || !argv[0] || !argv[0][0])
                return -EINVAL;
        return exec_spawn(e, argv, NULL, NULL, NULL, 0, -EBADF, false, timeout_usec, cb, userdata, ret);
}

int exec_fn(sd_event *e, int (*fn)(int out_fd, void *arg), void *arg, uint64_t timeout_usec,
            exec_done_fn cb, void *userdata, ExecRun **ret) {
        if (!fn)
                return -EINVAL;
        return exec_spawn(e, NULL, fn, arg, NULL, 0, -EBADF, false, timeout_usec, cb, userdata, ret);
}

int exec_fn_fds(sd_event *e, int (*fn)(int out_fd, void *arg), void *arg, const int *fds, size_t n_fds,
                uint64_t timeout_usec, exec_done_fn cb, void *userdata, ExecRun **ret) {
        if (!fn || (n_fds > 0 && !fds))
                return -EINVAL;
        return exec_spawn(e, NULL, fn, arg, fds, n_fds, -EBADF, false, timeout_usec, cb, userdata, ret);
}

/* The input travels in a memfd rather than a pipe: written whole before
 * fork(), nothing to feed from the loop, and a child that never reads it
 * blocks nobody. Sealed, so the child reads exactly what was written. */
static int input_memfd(const void *input, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        const char *p = input;

        fd = memfd_create("exec-input", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return negative_errno();
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                p += n;
                size -= (size_t) n;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
            lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int exec_argv_input(sd_event *e, char *const argv[], const void *input, size_t size, uint64_t timeout_usec,
                    exec_done_fn cb, void *userdata, ExecRun **ret) {
        _cleanup_close_ int fd = -EBADF;

        if (!argv || !argv[0] || argv[0][0] != '/' || (size > 0 && !input))
                return -EINVAL;
        fd = input_memfd(input, size);
        if (fd < 0)
                return fd;
        /* The child has its own copy of the fd; ours closes on return. */
        return exec_spawn(e, argv, NULL, NULL, NULL, 0, fd, true, timeout_usec, cb, userdata, ret);
}

/* Blocking, for configuration load only (exec.h). */
int exec_capture_sync(char *const argv[], uint64_t timeout_usec, char *buf, size_t size) {
        int fds[2], status = 0, r = 0;
        size_t n = 0;
        struct timespec start, now;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                (void) close(fds[0]);
                (void) close(fds[1]);
                return r;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                (void) setpgid(0, 0);
                if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(null, 2) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        (void) setpgid(pid, pid);
        (void) close(fds[1]);
        (void) clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
                uint64_t spent;
                ssize_t k;

                (void) clock_gettime(CLOCK_MONOTONIC, &now);
                spent = (uint64_t) (now.tv_sec - start.tv_sec) * USEC_PER_SEC +
                        (uint64_t) ((now.tv_nsec - start.tv_nsec) / 1000);
                if (spent >= timeout_usec) {
                        r = -ETIMEDOUT;
                        break;
                }
                k = poll(&pfd, 1, (int) ((timeout_usec - spent) / 1000) + 1);
                if (k < 0 && errno != EINTR) {
                        r = negative_errno();
                        break;
                }
                if (k <= 0)
                        continue;
                k = read(fds[0], buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n >= size - 1)
                        break;
        }
        buf[n] = 0;
        (void) close(fds[0]);
        if (r == 0) {
                /* Output done or full: nothing more is read. The deadline
                 * also holds for a program that closed its output but does
                 * not exit (SIGTERM ignored): killed when it passes. */
                (void) kill(-pid, SIGTERM);
                for (;;) {
                        pid_t k = waitpid(pid, &status, WNOHANG);
                        uint64_t spent;

                        if (k == pid || (k < 0 && errno != EINTR))
                                break;
                        (void) clock_gettime(CLOCK_MONOTONIC, &now);
                        spent = (uint64_t) (now.tv_sec - start.tv_sec) * USEC_PER_SEC +
                                (uint64_t) ((now.tv_nsec - start.tv_nsec) / 1000);
                        if (spent >= timeout_usec) {
                                r = -ETIMEDOUT;
                                break;
                        }
                        (void) usleep(5000);
                }
        }
        if (r < 0) {
                (void) kill(-pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        if (r < 0)
                return r;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}
