/* SPDX-License-Identifier: MIT */
/* The Postfix queue: backlog and oldest message, read from the spool.
 *
 * The backlog is the regular files in incoming, active, deferred and
 * maildrop under queue_directory, hashed subdirectories included
 * (hash_queue_depth puts files in e.g. deferred/A/ABCDEF123). hold (kept
 * on purpose by an administrator) and corrupt are not mail the MTA is
 * trying to deliver, so they do not count.
 *
 * The scan runs in a child (exec_fn()): a hung filesystem then stalls a
 * process that the probe deadline kills, never the event loop. The child
 * prints one line that the parent parses strictly.
 *
 * Missing directories: queue_directory, incoming, active and deferred must
 * exist. Postfix creates all of them ("postfix check"), so one missing
 * means queue_directory points at the wrong place, and reporting an empty
 * queue there would hide every stall: UNKNOWN instead. maildrop only
 * receives local sendmail(1) submissions and may be absent in trimmed-down
 * or sandboxed views of the spool, so a missing maildrop counts as 0. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exec.h"
#include "log.h"
#include "macros.h"
#include "probe.h"

/* Levels of subdirectories below each queue. hash_queue_depth is one or
 * two in practice; deeper trees are not Postfix's and are not walked. */
#define POSTFIX_SCAN_DEPTH_MAX 4

typedef struct PostfixScan {
        QueueStats *stats;
        uint64_t now_usec;
        bool have_oldest;
        uint64_t oldest_usec;    /* CLOCK_REALTIME of the oldest message */
        char *reason;
        size_t reason_size;
} PostfixScan;

static uint64_t timestamp_usec(const struct statx_timestamp *t) {
        if (t->tv_sec < 0)
                return 0;
        return (uint64_t) t->tv_sec * USEC_PER_SEC + t->tv_nsec / 1000;
}

/* When a queue file arrived, as well as the inode tells without reading
 * the file. Postfix sets the mtime of a deferred queue file to the time of
 * its next delivery attempt (in the future, or the due time once it is
 * overdue), and each deferral or move between queues updates the ctime, so
 * neither is the arrival time. The birth time is: cleanup(8) creates the
 * file when the message arrives, and moves between queues are renames that
 * keep the inode. So the arrival estimate is the earliest of btime (where
 * the filesystem reports it), mtime and ctime; mtime still wins for files
 * whose mtime was preserved by a copy (a restored spool). Without btime this degrades to the time of the last
 * deferral for deferred mail, which under-states the age but never
 * over-states it. */
static uint64_t queue_file_arrival_usec(const struct statx *stx) {
        uint64_t t = timestamp_usec(&stx->stx_mtime);
        uint64_t c = timestamp_usec(&stx->stx_ctime);

        if (c < t)
                t = c;
        if (stx->stx_mask & STATX_BTIME) {
                uint64_t b = timestamp_usec(&stx->stx_btime);
                if (b > 0 && b < t)
                        t = b;
        }
        return t;
}

static void scan_fail(PostfixScan *sc, const char *path, int error) {
        if (sc->reason && sc->reason_size > 0)
                (void) snprintf(sc->reason, sc->reason_size, "scan %s: %s", path, strerror(error));
}

/* Queue ids are [0-9A-Za-z]; anything else is replaced so that the line
 * the child prints stays one line of known shape. */
static void scan_set_oldest_id(QueueStats *stats, const char *name) {
        size_t i;

        for (i = 0; i < QUEUE_ID_MAX - 1 && name[i]; i++)
                stats->oldest_id[i] = isalnum((unsigned char) name[i]) ? name[i] : '_';
        stats->oldest_id[i] = 0;
}

/* Counts regular files under DIR_FD (named PATH in messages) into COUNT,
 * down to POSTFIX_SCAN_DEPTH_MAX levels. Takes ownership of DIR_FD.
 * Entries that vanish while we look are delivered mail, not errors. */
static int scan_dir(int dir_fd, const char *path, unsigned depth, unsigned *count, PostfixScan *sc) {
        DIR *d;
        struct dirent *de;
        int r = 0;

        d = fdopendir(dir_fd);
        if (!d) {
                r = negative_errno();
                (void) close(dir_fd);
                scan_fail(sc, path, -r);
                return r;
        }

        for (;;) {
                struct statx stx;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                r = negative_errno();
                                scan_fail(sc, path, -r);
                        }
                        break;
                }
                if (de->d_name[0] == '.')
                        continue;

                if (statx(dirfd(d), de->d_name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
                          STATX_TYPE | STATX_MTIME | STATX_CTIME | STATX_BTIME, &stx) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = negative_errno();
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s/%s", path, de->d_name) < 0)
                                p = NULL;
                        scan_fail(sc, p ? p : path, -r);
                        break;
                }

                if (S_ISDIR(stx.stx_mode)) {
                        _cleanup_free_ char *sub = NULL;
                        int fd;

                        if (depth >= POSTFIX_SCAN_DEPTH_MAX)
                                continue;
                        if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
                                r = -ENOMEM;
                                scan_fail(sc, path, ENOMEM);
                                break;
                        }
                        fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0) {
                                if (errno == ENOENT)
                                        continue;
                                r = negative_errno();
                                scan_fail(sc, sub, -r);
                                break;
                        }
                        r = scan_dir(fd, sub, depth + 1, count, sc);
                        if (r < 0)
                                break;
                        continue;
                }
                if (!S_ISREG(stx.stx_mode))
                        continue;

                (*count)++;
                uint64_t t = queue_file_arrival_usec(&stx);
                if (!sc->have_oldest || t < sc->oldest_usec ||
                    (t == sc->oldest_usec && strcmp(de->d_name, sc->stats->oldest_id) < 0)) {
                        sc->have_oldest = true;
                        sc->oldest_usec = t;
                        scan_set_oldest_id(sc->stats, de->d_name);
                }
        }

        (void) closedir(d);
        return r;
}

int postfix_scan_queue(const char *queue_directory, uint64_t now_realtime_usec, QueueStats *ret,
                       char *reason, size_t reason_size) {
        static const struct {
                const char *name;
                size_t offset;
                bool optional;
        } queues[] = {
                { "incoming", offsetof(QueueStats, incoming), false },
                { "active",   offsetof(QueueStats, active),   false },
                { "deferred", offsetof(QueueStats, deferred), false },
                { "maildrop", offsetof(QueueStats, maildrop), true  },
        };
        QueueStats stats = {};
        PostfixScan sc = {
                .stats = &stats,
                .now_usec = now_realtime_usec,
                .reason = reason,
                .reason_size = reason_size,
        };
        _cleanup_close_ int top = -EBADF;
        int r;

        if (!queue_directory || !ret)
                return -EINVAL;
        if (reason && reason_size > 0)
                reason[0] = 0;

        top = open(queue_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0) {
                r = negative_errno();
                scan_fail(&sc, queue_directory, -r);
                return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(queues); i++) {
                _cleanup_free_ char *path = NULL;
                unsigned *count = (unsigned *) ((char *) &stats + queues[i].offset);
                int fd;

                if (asprintf(&path, "%s/%s", queue_directory, queues[i].name) < 0)
                        return -ENOMEM;
                fd = openat(top, queues[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        r = negative_errno();
                        if (r == -ENOENT && queues[i].optional)
                                continue;
                        scan_fail(&sc, path, -r);
                        return r;
                }
                r = scan_dir(fd, path, 0, count, &sc);
                if (r < 0)
                        return r;
        }

        stats.backlog = stats.incoming + stats.active + stats.deferred + stats.maildrop;
        if (sc.have_oldest && sc.oldest_usec < now_realtime_usec)
                stats.oldest_age_usec = now_realtime_usec - sc.oldest_usec;
        *ret = stats;
        return 0;
}

typedef struct PostfixState {
        char *queue_directory;
        uint64_t now_usec;       /* CLOCK_REALTIME at the start of the run */
        ExecRun *run;
} PostfixState;

/* In the child: one line, exit 0; or the reason, exit 1. */
static int postfix_scan_child(int out_fd, void *arg) {
        PostfixState *st = arg;
        QueueStats q;
        char reason[PROBE_REASON_MAX];
        int r;

        r = postfix_scan_queue(st->queue_directory, st->now_usec, &q, reason, sizeof(reason));
        if (r < 0) {
                (void) dprintf(out_fd, "%s\n", reason[0] ? reason : strerror(-r));
                return 1;
        }
        (void) dprintf(out_fd,
                       "backlog=%u incoming=%u active=%u deferred=%u maildrop=%u oldest_age_usec=%" PRIu64 " oldest_id=%s\n",
                       q.backlog, q.incoming, q.active, q.deferred, q.maildrop, q.oldest_age_usec, q.oldest_id);
        return 0;
}

/* Reads "KEY=DIGITS " at *P. */
static int parse_field(const char **p, const char *key, uint64_t max, uint64_t *ret) {
        size_t k = strlen(key);
        const char *s = *p;
        char *end;
        uint64_t v;

        if (strncmp(s, key, k) != 0 || s[k] != '=' || !isdigit((unsigned char) s[k + 1]))
                return -EBADMSG;
        errno = 0;
        v = strtoull(s + k + 1, &end, 10);
        if (errno != 0 || v > max || *end != ' ')
                return -EBADMSG;
        *ret = v;
        *p = end + 1;
        return 0;
}

/* Parses the child's line; every field, in order, nothing else. */
static int postfix_parse_line(const char *s, size_t size, QueueStats *ret) {
        QueueStats q = {};
        uint64_t v[6];
        static const char *const keys[6] = {
                "backlog", "incoming", "active", "deferred", "maildrop", "oldest_age_usec",
        };
        const char *p = s, *id, *nl;
        size_t n;

        if (size == 0 || s[size - 1] != '\n' || memchr(s, '\n', size) != s + size - 1)
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (parse_field(&p, keys[i], i < 5 ? UINT_MAX : UINT64_MAX, &v[i]) < 0)
                        return -EBADMSG;
        if (strncmp(p, "oldest_id=", 10) != 0)
                return -EBADMSG;
        id = p + 10;
        nl = s + size - 1;
        n = (size_t) (nl - id);
        if (n >= QUEUE_ID_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) id[i]) && id[i] != '_')
                        return -EBADMSG;

        q.backlog = (unsigned) v[0];
        q.incoming = (unsigned) v[1];
        q.active = (unsigned) v[2];
        q.deferred = (unsigned) v[3];
        q.maildrop = (unsigned) v[4];
        q.oldest_age_usec = v[5];
        memcpy(q.oldest_id, id, n);
        q.oldest_id[n] = 0;

        if ((uint64_t) q.incoming + q.active + q.deferred + q.maildrop != q.backlog)
                return -EBADMSG;
        if ((q.backlog == 0) != (n == 0))
                return -EBADMSG;
        *ret = q;
        return 0;
}

static void postfix_on_scanned(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Probe *p = userdata;
        PostfixState *st = p->state;
        QueueStats q;

        st->run = NULL;  /* freed by exec after we return */

        if (status == 0) {
                if (postfix_parse_line(output, size, &q) < 0) {
                        probe_complete(p, PROBE_UNKNOWN, NULL, "queue scan of %s printed a malformed line",
                                       st->queue_directory);
                        return;
                }
                probe_complete(p, PROBE_OK, &q, "backlog %u, oldest %s", q.backlog,
                               q.oldest_id[0] ? q.oldest_id : "none");
                return;
        }
        if (status == 1 && size > 1 && output[size - 1] == '\n') {
                probe_complete(p, PROBE_UNKNOWN, NULL, "%.*s", (int) (size - 1), output);
                return;
        }
        probe_complete(p, PROBE_UNKNOWN, NULL, "queue scan of %s ended with status %d",
                       st->queue_directory, status);
}

static void postfix_cancel(Probe *p) {
        PostfixState *st = p->state;

        st->run = exec_cancel(st->run);
}

static void postfix_done(Probe *p) {
        PostfixState *st = p->state;

        postfix_cancel(p);
        free(st->queue_directory);
}

static int postfix_start(Probe *p) {
        PostfixState *st = p->state;
        int r;

        postfix_cancel(p);
        r = sd_event_now(p->event, CLOCK_REALTIME, &st->now_usec);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot read the clock: %m", p->name);

        /* No deadline of its own: the probe's deadline cancels it. The child
         * gets a copy of st, so later changes here do not matter to it. */
        r = exec_fn(p->event, postfix_scan_child, st, USEC_INFINITY, postfix_on_scanned, p, &st->run);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot start queue scan: %m", p->name);
        return 0;
}

static int postfix_init(Probe *p, const ProbeSettings *s) {
        PostfixState *st = p->state;

        if (!s->queue_directory || s->queue_directory[0] != '/') {
                log_error("probe %s: postfix needs an absolute queue_directory", p->name);
                return -EINVAL;
        }
        st->queue_directory = strdup(s->queue_directory);
        if (!st->queue_directory)
                return -ENOMEM;
        return 0;
}

const struct probe_ops probe_postfix_ops = {
        .type = "postfix",
        .kind = PROBE_KIND_QUEUE,
        .state_size = sizeof(PostfixState),
        .init = postfix_init,
        .start = postfix_start,
        .cancel = postfix_cancel,
        .done = postfix_done,
};
