/* SPDX-License-Identifier: MIT */
/* Delivery activity of the MTA, read from a plain log file (probe type
 * "logfile", PROBE_KIND_ACTIVITY): Exim's main log, which Debian's Exim
 * writes to /var/log/exim4/mainlog and never to the journal.
 *
 * The probe follows the file in the background on the event loop and
 * hands every new line to the activity feed (probes/activity-feed.h), as
 * the journal source does (probes/journal.c): counters, samples, and the
 * lookup of a bare peer name the MTA cannot resolve or reach (Exim's
 * "host lookup for NAME did not complete"); a run reports the counters so
 * far.
 *
 * Waking up: one inotify watch on the file's directory (inotify(7): a
 * directory's watch reports IN_MODIFY of the files in it, and IN_CREATE,
 * IN_MOVED_FROM, IN_MOVED_TO, IN_DELETE of names), no polling. Any event
 * leads to one read step; what an event names does not matter, the step
 * looks at the file itself.
 *
 * Reading never hogs the loop: at most chunk_bytes (64 KiB) per step, the
 * rest from a defer source of idle priority on the next iterations, so a
 * backlog of any size is read between the daemon's other work. The reads
 * are plain read(2) calls on the loop: a log file lives on a local file
 * system, and a read of 64 KiB that the page cache does not hold costs one
 * disk read; a file system that hangs outright would hang this read (the
 * journal source has the same exposure through sd-journal).
 *
 * Rotation (logrotate(8); Debian's /etc/logrotate.d/exim4-base: daily,
 * compress, delaycompress, nocreate): the name is renamed to NAME.1 and
 * nothing is created; Exim stat()s its log's name before each write and
 * opens a new file when the name is gone or another file (Exim's
 * src/log.c). The probe keeps reading the open file to its end; at the
 * end it compares the name with what it reads: the same file (device and
 * inode) → wait for more; a smaller size than read so far → truncated
 * (copytruncate), read again from 0; the name gone → the old file is done
 * and closed, and the new one is read from its start when it appears,
 * however much later; another file under the name → the same at once. An
 * incomplete last line waits for its newline (a rotated file's is counted
 * when that file is done).
 *
 * Position: STATE_DIR/logfile.position holds "DEVICE INODE OFFSET" of the
 * start of the first line not yet counted, written (temporary file,
 * fsync, rename) at most once per run and when the probe ends. A probe
 * started again resumes there: in the file under the name when it is that
 * inode, else in NAME.1 when that is (rotated while the daemon was down:
 * its rest first, then the new file from its start), else the file under
 * the name from its start (the saved one is compressed or gone). An offset
 * beyond the file's size means it was truncated: from 0. Without a saved
 * position only lines written from now on count.
 *
 * --once (since_usec): the file under the name from its start, counting
 * the lines whose time stamp (the MTA's local time, "YYYY-MM-DD HH:MM:SS"
 * at the start of the line, as Exim writes it) is at least since_usec, and
 * every line after the first such one; a run reports at the end of the
 * file. Lines in NAME.1 are not looked at: after a rotation --once sees
 * less than stall_after. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "activity-feed.h"
#include "fileio.h"
#include "log.h"
#include "logfile.h"
#include "macros.h"
#include "probe.h"

/* A line longer than this counts as nothing (Exim's lines are a few
 * hundred bytes; its log buffer, LOG_BUFFER_SIZE, is 8 KiB). */
#define LOGFILE_LINE_MAX (64U * 1024U)
#define LOGFILE_POSITION_MAX 128

typedef struct LogfileState {
        char *path;                 /* the file's name */
        char *rotated;              /* PATH.1 */
        char *dir;                  /* its directory */
        char *state_dir;            /* NULL: the position is not kept */
        uint64_t since_usec;        /* --once: count from this time stamp on; 0: not */
        bool since_reached;
        size_t chunk;
        ActivityFeed feed;          /* counts, samples, peer-name lookups */

        int inotify_fd;             /* -1 until the first run */
        sd_event_source *inotify_source, *defer;
        int fd;                     /* the file being read, -1: none (the name is missing) */
        dev_t dev;
        ino_t ino;
        uint64_t offset;            /* bytes of fd read so far */
        bool started;               /* the first file was opened (or found missing) */
        bool skip_fragment;         /* started in the middle of a line: drop up to its newline */
        bool overlong;              /* the line being read passed LOGFILE_LINE_MAX */
        char *buf;                  /* chunk bytes */
        char *partial;              /* the incomplete last line read so far */
        size_t partial_len, partial_size;
        bool missing_logged;

        bool position_unsaved, save_warned;
        dev_t saved_dev;            /* position last written (or 0/0/0) */
        ino_t saved_ino;
        uint64_t saved_offset;

        int error;                  /* a read error since the last run, reported by it */
        int warned;                 /* the error last logged at warning level (0: none) */
        bool waiting;               /* a --once run waits for the end of the file */
} LogfileState;

/* What went wrong, for logs and the run's reason: -EBADFD is
 * logfile_open_at()'s name for a directory, FIFO or device. */
static const char *logfile_strerror(int r) {
        return r == -EBADFD ? "not a regular file" : strerror(-r);
}

static int safe_close(int fd) {
        if (fd >= 0)
                (void) close(fd);
        return -1;
}

/* The CLOCK_REALTIME time of the stamp at the start of LINE
 * ("YYYY-MM-DD HH:MM:SS", local time), or 0 when it has none. */
static uint64_t line_stamp_usec(const char *line) {
        struct tm tm = { .tm_isdst = -1 };
        const char *end = strptime(line, "%Y-%m-%d %H:%M:%S", &tm);
        time_t t;

        if (!end || end - line != 19)
                return 0;
        t = mktime(&tm);
        return t < 0 ? 0 : (uint64_t) t * USEC_PER_SEC;
}

/* Classifies and counts one complete line (NUL-terminated, no newline). */
static void logfile_line(Probe *p, char *line) {
        LogfileState *st = p->state;

        if (st->since_usec > 0 && !st->since_reached) {
                uint64_t t = line_stamp_usec(line);

                if (t == 0 || t < st->since_usec)
                        return;
                st->since_reached = true;
        }
        activity_feed_note_line(&st->feed, NULL, line, false);
}

/* Ends the line being assembled (a newline, or the end of a rotated file). */
static void logfile_end_line(Probe *p) {
        LogfileState *st = p->state;

        if (st->skip_fragment || st->overlong)
                st->skip_fragment = st->overlong = false;
        else if (st->partial_len > 0) {
                st->partial[st->partial_len] = '\0';
                logfile_line(p, st->partial);
        }
        st->partial_len = 0;
}

/* Appends N bytes of S to the line being assembled. Returns 0 or -ENOMEM. */
static int logfile_append(LogfileState *st, const char *s, size_t n) {
        if (st->skip_fragment || st->overlong)
                return 0;
        if (st->partial_len + n > LOGFILE_LINE_MAX) {
                st->overlong = true;
                st->partial_len = 0;
                return 0;
        }
        if (st->partial_len + n + 1 > st->partial_size) {
                size_t size = MAX_OF(st->partial_size * 2, st->partial_len + n + 1);
                char *b = realloc(st->partial, MAX_OF(size, (size_t) 256));

                if (!b)
                        return -ENOMEM;
                st->partial = b;
                st->partial_size = MAX_OF(size, (size_t) 256);
        }
        memcpy(st->partial + st->partial_len, s, n);
        st->partial_len += n;
        return 0;
}

/* Splits N bytes read into lines. Returns 0 or -ENOMEM. */
static int logfile_feed(Probe *p, const char *buf, size_t n) {
        LogfileState *st = p->state;

        while (n > 0) {
                const char *nl = memchr(buf, '\n', n);
                size_t k = nl ? (size_t) (nl - buf) : n;
                int r = logfile_append(st, buf, k);

                if (r < 0)
                        return r;
                if (!nl)
                        break;
                logfile_end_line(p);
                buf += k + 1;
                n -= k + 1;
        }
        return 0;
}

/* Where the first line not yet counted starts in the open file. */
static uint64_t logfile_position(const LogfileState *st) {
        uint64_t pending = st->skip_fragment || st->overlong ? 0 : st->partial_len;

        return st->offset >= pending ? st->offset - pending : 0;
}

static void logfile_close_file(LogfileState *st) {
        st->fd = safe_close(st->fd);
        st->partial_len = 0;
        st->skip_fragment = st->overlong = false;
}

/* Opens PATH and positions at OFFSET (UINT64_MAX: its end). A file
 * shorter than OFFSET was truncated: from 0. Returns 0, -ENOENT, or
 * another negative errno. */
static int logfile_open_at(Probe *p, const char *path, uint64_t offset) {
        LogfileState *st = p->state;
        struct stat s;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode)) {
                int r = S_ISREG(s.st_mode) ? -errno : -EBADFD;

                (void) close(fd);
                return r;
        }
        logfile_close_file(st);
        st->fd = fd;
        st->dev = s.st_dev;
        st->ino = s.st_ino;
        if (offset == UINT64_MAX)
                offset = (uint64_t) s.st_size;
        else if (offset > (uint64_t) s.st_size) {
                log_info("probe %s: %s is shorter than the saved position (truncated): reading it from its start",
                         p->name, path);
                offset = 0;
        }
        /* In the middle of a line: written before we began, or the rest of
         * a line longer than LOGFILE_LINE_MAX whose position was saved
         * (neither is a line of its own). */
        if (offset > 0) {
                char c;

                if (pread(fd, &c, 1, (off_t) offset - 1) == 1 && c != '\n')
                        st->skip_fragment = true;
        }
        if (lseek(fd, (off_t) offset, SEEK_SET) < 0) {
                int r = -errno;

                logfile_close_file(st);
                return r;
        }
        st->offset = offset;
        st->position_unsaved = true;
        return 0;
}

/* Reads "DEVICE INODE OFFSET" from the state directory. Returns 1 with
 * the values, 0 when there is none, or a negative errno. */
static int logfile_position_load(const LogfileState *st, dev_t *dev, ino_t *ino, uint64_t *offset) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        unsigned long long d, i, o;
        int r;

        if (!st->state_dir)
                return 0;
        if (asprintf(&path, "%s/%s", st->state_dir, LOGFILE_POSITION_FILE) < 0)
                return -ENOMEM;
        r = read_file_bounded(path, LOGFILE_POSITION_MAX, &buf, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (sscanf(buf, "%llu %llu %llu", &d, &i, &o) != 3)
                return -EBADMSG;
        *dev = (dev_t) d;
        *ino = (ino_t) i;
        *offset = o;
        return 1;
}

/* Writes the position of the first line not yet counted, when it moved. */
static void logfile_position_save(Probe *p, bool quiet) {
        LogfileState *st = p->state;
        char line[LOGFILE_POSITION_MAX];
        uint64_t pos;
        int r;

        if (!st->state_dir || st->fd < 0 || !st->position_unsaved)
                return;
        pos = logfile_position(st);
        if (st->dev == st->saved_dev && st->ino == st->saved_ino && pos == st->saved_offset) {
                st->position_unsaved = false;
                return;
        }
        (void) snprintf(line, sizeof(line), "%llu %llu %" PRIu64 "\n", (unsigned long long) st->dev,
                        (unsigned long long) st->ino, pos);
        r = write_file_atomic(st->state_dir, LOGFILE_POSITION_FILE, line, strlen(line), 0600);
        if (r < 0) {
                if (!st->save_warned && !quiet)
                        log_warning_errno(r, "probe %s: cannot save the log position in %s, ignoring: %m",
                                          p->name, st->state_dir);
                st->save_warned = true;
                return;
        }
        st->saved_dev = st->dev;
        st->saved_ino = st->ino;
        st->saved_offset = pos;
        st->position_unsaved = st->save_warned = false;
}

/* The first file to read, and where. Returns 0 (also when the file is
 * missing: it is read from its start once it appears) or a negative errno. */
static int logfile_begin(Probe *p) {
        LogfileState *st = p->state;
        dev_t dev = 0;
        ino_t ino = 0;
        uint64_t offset = 0;
        struct stat s;
        int r;

        st->started = true;
        if (st->since_usec > 0)
                r = logfile_open_at(p, st->path, 0);
        else {
                r = logfile_position_load(st, &dev, &ino, &offset);
                if (r < 0) {
                        log_warning_errno(r, "probe %s: cannot read %s/%s, starting at the end, ignoring: %m",
                                          p->name, st->state_dir, LOGFILE_POSITION_FILE);
                        r = 0;
                }
                if (r == 0)
                        r = logfile_open_at(p, st->path, UINT64_MAX);
                else if (stat(st->path, &s) >= 0 && s.st_dev == dev && s.st_ino == ino)
                        r = logfile_open_at(p, st->path, offset);
                else if (stat(st->rotated, &s) >= 0 && s.st_dev == dev && s.st_ino == ino) {
                        log_info("probe %s: %s was rotated since the saved position: reading the rest of %s first",
                                 p->name, st->path, st->rotated);
                        r = logfile_open_at(p, st->rotated, offset);
                } else {
                        log_info("probe %s: the file of the saved position is gone: reading %s from its start",
                                 p->name, st->path);
                        r = logfile_open_at(p, st->path, 0);
                }
        }
        if (r == -ENOENT) {
                if (!st->missing_logged)
                        log_info("probe %s: %s does not exist (yet): waiting for it", p->name, st->path);
                st->missing_logged = true;
                return 0;
        }
        return r;
}

/* One step: reads at most one chunk, and at the end of the file looks
 * whether it was truncated or rotated. Returns 1 when more may be
 * waiting, 0 when it waits for the next change, or a negative errno. */
static int logfile_step(Probe *p) {
        LogfileState *st = p->state;
        struct stat name, now;
        ssize_t n;
        int r;

        if (!st->started) {
                r = logfile_begin(p);
                if (r < 0)
                        return r;
        }
        if (st->fd < 0) {
                /* the name was missing: a new file is read from its start */
                r = logfile_open_at(p, st->path, 0);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                st->missing_logged = false;
        }

        n = read(st->fd, st->buf, st->chunk);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        if (n > 0) {
                st->offset += (uint64_t) n;
                st->position_unsaved = true;
                r = logfile_feed(p, st->buf, (size_t) n);
                return r < 0 ? r : 1;
        }

        /* At the end: is the name still this file? */
        r = stat(st->path, &name) < 0 ? -errno : 0;
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && name.st_dev == st->dev && name.st_ino == st->ino) {
                if (fstat(st->fd, &now) < 0)
                        return -errno;
                if ((uint64_t) now.st_size < st->offset) {
                        log_info("probe %s: %s was truncated: reading it from its start", p->name, st->path);
                        if (lseek(st->fd, 0, SEEK_SET) < 0)
                                return -errno;
                        st->offset = 0;
                        st->partial_len = 0;
                        st->skip_fragment = st->overlong = false;
                        st->position_unsaved = true;
                        return 1;
                }
                return 0;
        }

        /* Rotated away and read to its end: its last line is complete
         * (the MTA writes the next one to the new file). */
        logfile_end_line(p);
        logfile_close_file(st);
        if (r == -ENOENT) {
                if (!st->missing_logged)
                        log_debug("probe %s: %s was rotated, waiting for the new file", p->name, st->path);
                st->missing_logged = true;
                return 0;
        }
        r = logfile_open_at(p, st->path, 0);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

static void logfile_report(Probe *p);

/* Steps, and comes back on the next iteration while more is waiting. A
 * failure closes the file; the next run reports it and begins again. */
static void logfile_pump(Probe *p) {
        LogfileState *st = p->state;
        int r = logfile_step(p);

        if (r < 0) {
                /* The same error again (each round, each event in the
                 * directory) at debug level: once at warning is enough. */
                log_full(r == st->warned ? LOG_DEBUG : LOG_WARNING, "probe %s: cannot read %s: %s", p->name,
                         st->path, logfile_strerror(r));
                st->warned = r;
                st->error = r;
                logfile_close_file(st);
                st->started = false;
        } else
                st->warned = 0;
        (void) sd_event_source_set_enabled(st->defer, r > 0 ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        if (r <= 0 && st->waiting) {
                st->waiting = false;
                logfile_report(p);
        }
}

static int logfile_on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Probe *p = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;

        /* What changed is read from the file itself; the events only wake us. */
        do
                n = read(fd, buf, sizeof(buf));
        while (n > 0);
        logfile_pump(p);
        return 0;
}

static int logfile_on_defer(sd_event_source *s, void *userdata) {
        logfile_pump(userdata);
        return 0;
}

/* Watches the directory. Returns 0 or a negative errno. */
static int logfile_watch(Probe *p) {
        LogfileState *st = p->state;
        int r;

        st->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (st->inotify_fd < 0)
                return -errno;
        if (inotify_add_watch(st->inotify_fd, st->dir,
                              IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_ATTRIB |
                              IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
                r = -errno;
                st->inotify_fd = safe_close(st->inotify_fd);
                return r;
        }
        r = sd_event_add_io(p->event, &st->inotify_source, st->inotify_fd, EPOLLIN, logfile_on_inotify, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(st->inotify_source, "probe-logfile-inotify");
        r = activity_feed_add_defer(p, &st->defer, logfile_on_defer, "probe-logfile-chunk");
        if (r < 0)
                goto fail;
        return 0;

fail:
        st->inotify_source = sd_event_source_disable_unref(st->inotify_source);
        st->inotify_fd = safe_close(st->inotify_fd);
        return r;
}

static void logfile_unwatch(LogfileState *st) {
        st->inotify_source = sd_event_source_disable_unref(st->inotify_source);
        st->defer = sd_event_source_disable_unref(st->defer);
        st->inotify_fd = safe_close(st->inotify_fd);
}

/* Completes the run with the counters, or the error since the last run. */
static void logfile_report(Probe *p) {
        LogfileState *st = p->state;
        ProbeResult res = { .status = PROBE_OK };
        int r = st->error;
        size_t n;

        if (r < 0) {
                st->error = 0;
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "logfile: cannot read %s: %s%s",
                               st->path, logfile_strerror(r),
                               r == -EACCES ? " (the daemon's user needs the file's group, adm for /var/log)" : "");
                return;
        }
        logfile_position_save(p, false);
        n = activity_feed_result(&st->feed, &res);
        (void) snprintf(res.reason + n, sizeof(res.reason) - n, ", completed %" PRIu64 ", queue runs %" PRIu64 "%s",
                        res.activity.completed, res.activity.queue_runs,
                        st->fd < 0 ? " (waiting for the log file)" : "");
        probe_complete_result(p, &res);
}

static int logfile_start(Probe *p) {
        LogfileState *st = p->state;
        int r;

        if (st->error == 0 && st->inotify_fd < 0) {
                r = logfile_watch(p);
                if (r < 0) {
                        ProbeResult res = { .status = PROBE_UNKNOWN, .outcome = probe_outcome_from_errno(r) };

                        (void) snprintf(res.reason, sizeof(res.reason), "logfile: cannot watch %s: %s", st->dir,
                                        strerror(-r));
                        probe_complete_result(p, &res);
                        return 0;
                }
        }
        if (st->error == 0) {
                /* Count what was written up to now (one chunk at most). */
                logfile_pump(p);
                if (st->since_usec > 0 && st->error == 0 &&
                    sd_event_source_get_enabled(st->defer, NULL) > 0) {
                        st->waiting = true;  /* reports at the end of the file */
                        return 0;
                }
        }
        logfile_report(p);
        return 0;
}

static void logfile_cancel(Probe *p) {
        LogfileState *st = p->state;

        st->waiting = false;
}

static void logfile_done(Probe *p) {
        LogfileState *st = p->state;

        /* What was counted is not counted again by the next instance (the
         * daemon's restart). */
        logfile_position_save(p, true);
        logfile_unwatch(st);
        logfile_close_file(st);
        activity_feed_done(&st->feed);
        free(st->path);
        free(st->rotated);
        free(st->dir);
        free(st->state_dir);
        free(st->buf);
        free(st->partial);
}

static int logfile_init(Probe *p, const void *settings) {
        const LogfileSettings *s = settings;
        LogfileState *st = p->state;
        _cleanup_free_ char *copy = NULL;
        int r;

        st->fd = st->inotify_fd = -1;
        if (!s || !s->path || s->path[0] != '/' || s->path[strlen(s->path) - 1] == '/') {
                log_error("probe %s: logfile needs the absolute path of the MTA's log file", p->name);
                return -EINVAL;
        }
        r = activity_feed_init(&st->feed, p, s->rules, s->activity_pattern, s->error_pattern, s->probed_hosts);
        if (r < 0)
                return r;

        copy = strdup(s->path);
        st->path = strdup(s->path);
        if (!copy || !st->path || asprintf(&st->rotated, "%s.1", s->path) < 0)
                return -ENOMEM;
        st->dir = strdup(dirname(copy));
        if (!st->dir)
                return -ENOMEM;
        if (s->state_dir) {
                st->state_dir = strdup(s->state_dir);
                if (!st->state_dir)
                        return -ENOMEM;
        }
        st->since_usec = s->since_usec;
        st->chunk = s->chunk_bytes > 0 ? s->chunk_bytes : LOGFILE_CHUNK;
        st->buf = malloc(st->chunk);
        if (!st->buf)
                return -ENOMEM;
        return 0;
}

const struct probe_ops probe_logfile_ops = {
        .type = "logfile",
        .kind = PROBE_KIND_ACTIVITY,
        .state_size = sizeof(LogfileState),
        .init = logfile_init,
        .start = logfile_start,
        .cancel = logfile_cancel,
        .done = logfile_done,
};
