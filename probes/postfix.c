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
 * or sandboxed views of the spool, so a missing maildrop counts as 0.
 *
 * Schedule: a message is overdue when it is more than the slack past the
 * time it was due:
 *  - deferred: due at the file's mtime. qmgr(8) defers a message by
 *    setting the queue file's time stamps to now + backoff (utime()) and
 *    renaming it into deferred; its queue scans skip files whose mtime is
 *    still in the future (qmgr_active.c: qmgr_active_defer(),
 *    qmgr_active_feed(); postsuper(1)). A due message is moved to active at
 *    the next scan, queue_run_delay later at most.
 *  - incoming, active, maildrop: due as soon as it arrived there, which is
 *    the file's ctime. Moving between queues is rename(2), which updates
 *    the ctime on Linux filesystems (ext4, xfs, btrfs, tmpfs); postdrop(1)
 *    and cleanup(8) fchmod() the finished file (mail_stream.c), and a
 *    recipient whose delivery status is established has its record marked
 *    done in place in the active file (recipient_list.h), each of which
 *    updates the ctime too: a message that progresses looks young. mtime
 *    cannot serve: incoming files may carry future mtimes
 *    (mail_stream.c, qmgr_active_feed()). Anything
 *    else that touches the inode (chmod by "postfix set-permissions") only
 *    makes a message look younger, never older.
 *  - hold and corrupt: never (not scanned).
 * Overdue is necessary for a stall, not sufficient: mail waiting its turn
 * in a big active queue or on a slow destination is overdue as well, and
 * activity tells those apart.
 * The slack comes from settings, or for "auto" from `postconf -h -x
 * queue_run_delay` (postconf(1), postconf(5) "time" values) plus a minute;
 * -x expands a $parameter reference. When postconf cannot tell, Postfix's
 * default queue_run_delay (300s) is assumed and the reason says so.
 *
 * Incremental tracking (full_scan_interval > 0, the default; README
 * "Incremental queue tracking"): the walk above also adds an inotify(7)
 * watch on each queue directory before listing it (postfix_follow_scan()),
 * and writes a record per directory and counted message to a memfd; the
 * daemon keeps them in a table (probes/spool-index.c) and reads the
 * inotify queue on the loop, recording only the names that changed. The
 * next round forks a child that statx()es those names (and walks a hashed
 * directory that appeared: postfix_follow_read()), or none when nothing
 * changed, and computes QueueStats from the table with the rules above
 * (queue_file_facts(), spool_index_stats()). The table keeps no names: 16
 * bytes a message, a 64-bit hash of its name and its times in whole
 * seconds (spool-index.h). The detector compares the oldest message's
 * name every round, so each directory keeps the name of its own oldest;
 * when that message goes and its successor's name is not known, a child
 * lists that directory once and hashes the names (postfix_follow_names(),
 * no statx), in the same round; if even that fails, the round walks the
 * whole spool. Two names of a directory with one hash are counted by
 * name: a walk that finds them answers the round from its own count, and
 * the next walks again with another hash key; a new name whose hash the
 * table holds already makes the reading child list its directory
 * (follow_check_collisions()) and, if another name has it, the round
 * walks the whole spool. Every file system access is
 * in a child under the probe's deadline: a hung file system stalls a
 * child, never the loop, which only reads the inotify queue and the memfd
 * (memory). The whole spool is walked again at start, after IN_Q_OVERFLOW,
 * after a watch could not be added, when a directory moved away, after a
 * round that did not finish, after a hash collision, and every
 * full_scan_interval.
 *
 * The log: the profile's rules (postfix_activity_rules, probes/activity.h).
 * Postfix (smtp(8), lmtp(8), qmgr(8) logging; MESSAGE as journald stores
 * it, without the "postfix/smtp[PID]: " syslog prefix):
 *   "QUEUEID: to=<a@b>, relay=HOST[ADDR]:25, ..., status=sent (250 ...)"
 *   "QUEUEID: to=<a@b>, relay=none, ..., status=deferred (connect to HOST[ADDR]:25: Connection timed out)"
 *   "connect to HOST[ADDR]:25: Connection refused"   (smtp, before it tries the next MX)
 *   "QUEUEID: to=<a@b>, ..., status=deferred (delivery temporarily suspended: connect to ...)"
 *                                                    (qmgr's dead-destination cache: no attempt)
 *   "QUEUEID: from=<a@b>, status=expired, returned to sender"
 * Every "connect to HOST[ADDR]:PORT: REASON" is a connection error, also
 * inside a status=deferred line, because error_pattern is tried first.
 * "host HOST[ADDR] said: 450 ...", "host HOST[ADDR] refused to talk to me",
 * "lost connection with HOST[ADDR] while ..." and "conversation with
 * HOST[ADDR] timed out while ..." inside status=deferred are deferred
 * attempts: the TCP connection was made, so the network and the MTA both
 * worked and the remote side answered (or vanished after answering); that
 * is progress. The same "lost connection"/"conversation" texts on their own
 * line (smtp moving on to the next MX) are not counted: the status= line
 * that follows counts the attempt once per recipient.
 * "connect from HOST[ADDR]" and "lost connection after CMD from HOST[ADDR]"
 * are smtpd(8) (incoming) and match neither pattern.
 *
 */

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
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "config.h"
#include "conf-parser.h"
#include "exec.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "caps.h"
#include "mta.h"
#include "postfix.h"
#include "queue-scan.h"
#include "probe.h"
#include "spool-index.h"
#include "text.h"

/* Levels of subdirectories below each queue. hash_queue_depth is one or
 * two in practice; deeper trees are not Postfix's and are not walked. */
#define POSTFIX_SCAN_DEPTH_MAX 4

/* For overdue_slack = auto: queue_run_delay plus this. */
#define POSTFIX_SLACK_MARGIN_USEC (60 * USEC_PER_SEC)
/* queue_run_delay when postconf cannot tell: Postfix's default (postconf(5)). */
#define POSTFIX_DEFAULT_QUEUE_RUN_DELAY_USEC (300 * USEC_PER_SEC)
#define POSTFIX_DEFAULT_POSTCONF "/usr/sbin/postconf"

/* What a walk that follows the spool does besides counting (the
 * incremental tracking's children): DIR is called for each directory
 * before it is listed and returns its watch descriptor in *RET_WD (-1:
 * none); FILE for each counted message. Both return 0 or a negative errno
 * that ends the walk. */
typedef struct PostfixScanHooks {
        int (*dir)(void *userdata, const char *path, unsigned queue, unsigned depth, int *ret_wd);
        int (*file)(void *userdata, int wd, const char *name, uint32_t arrival_s, uint32_t due_s);
        void *userdata;
} PostfixScanHooks;

typedef struct PostfixScan {
        QueueStats *stats;
        uint64_t now_usec;
        uint64_t slack_usec;
        unsigned queue;          /* SpoolQueue being scanned */
        bool have_oldest;
        uint32_t oldest_s;       /* CLOCK_REALTIME of the oldest message, whole seconds */
        char oldest_name[NAME_MAX + 1]; /* its file name, for ties */
        const PostfixScanHooks *hooks;
        char *reason;
        size_t reason_size;
} PostfixScan;

/* Whole seconds, clamped to what the table keeps (spool-index.h). */
static uint32_t timestamp_s(const struct statx_timestamp *t) {
        if (t->tv_sec < 0)
                return 0;
        return (uint64_t) t->tv_sec > SPOOL_TIME_MAX ? SPOOL_TIME_MAX : (uint32_t) t->tv_sec;
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
static uint32_t queue_file_arrival_s(const struct statx *stx) {
        uint32_t t = timestamp_s(&stx->stx_mtime);
        uint32_t c = timestamp_s(&stx->stx_ctime);

        if (c < t)
                t = c;
        if (stx->stx_mask & STATX_BTIME) {
                uint32_t b = timestamp_s(&stx->stx_btime);
                if (b > 0 && b < t)
                        t = b;
        }
        return t;
}

/* Whether a regular file in QUEUE counts as a message, and when it
 * arrived and is due (see the top of this file). A file still being
 * written (by cleanup(8) or postdrop(1)) to incoming or maildrop lacks the
 * owner-execute bits that mark it finished; the queue manager and showq(8)
 * skip it (MAIL_QUEUE_STAT_READY, 0700), and so do we: it may vanish
 * without a delivery. Shared by the full scan and the incremental tracking.
 *
 * Times are whole seconds (the sub-second part dropped): qmgr(8) sets a
 * deferred file's times with utime(), whole seconds, and ages are compared
 * with thresholds of seconds to minutes, so nothing is lost, and the table
 * of the incremental tracking keeps 32-bit seconds (spool-index.h). The
 * full scan uses the same values, so that both agree field by field. */
static bool queue_file_facts(const struct statx *stx, unsigned queue, uint32_t *ret_arrival, uint32_t *ret_due) {
        if ((queue == SPOOL_INCOMING || queue == SPOOL_MAILDROP) && (stx->stx_mode & 0700) != 0700)
                return false;
        *ret_arrival = queue_file_arrival_s(stx);
        *ret_due = timestamp_s(queue == SPOOL_DEFERRED ? &stx->stx_mtime : &stx->stx_ctime);
        return true;
}

/* Counts the message as overdue when it is more than the slack past
 * DUE_S (seconds; as spool_index_stats() does). */
static void scan_schedule(PostfixScan *sc, uint32_t due_s) {
        uint64_t late, due = (uint64_t) due_s * USEC_PER_SEC;

        if (sc->now_usec <= due)
                return;
        late = sc->now_usec - due;
        if (late <= sc->slack_usec)
                return;
        sc->stats->overdue++;
        if (late > sc->stats->most_overdue_usec)
                sc->stats->most_overdue_usec = late;
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
        int wd = -1, r = 0;

        /* Followed before it is listed: what changes after the listing is reported. */
        if (sc->hooks && sc->hooks->dir) {
                r = sc->hooks->dir(sc->hooks->userdata, path, sc->queue, depth, &wd);
                if (r < 0) {
                        (void) close(dir_fd);
                        scan_fail(sc, path, -r);
                        return r;
                }
        }
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
                uint32_t t, due;

                if (!S_ISREG(stx.stx_mode) || !queue_file_facts(&stx, sc->queue, &t, &due))
                        continue;

                (*count)++;
                scan_schedule(sc, due);
                if (!sc->have_oldest || spool_older(t, de->d_name, strlen(de->d_name), sc->oldest_s, sc->oldest_name,
                                                    strlen(sc->oldest_name))) {
                        sc->have_oldest = true;
                        sc->oldest_s = t;
                        (void) snprintf(sc->oldest_name, sizeof(sc->oldest_name), "%s", de->d_name);
                        scan_set_oldest_id(sc->stats, de->d_name);
                }
                if (sc->hooks && sc->hooks->file && wd >= 0) {
                        r = sc->hooks->file(sc->hooks->userdata, wd, de->d_name, t, due);
                        if (r < 0) {
                                scan_fail(sc, path, -r);
                                break;
                        }
                }
        }

        (void) closedir(d);
        return r;
}

static int scan_queues(const char *queue_directory, uint64_t now_realtime_usec, uint64_t slack_usec,
                       const PostfixScanHooks *hooks, QueueStats *ret, char *reason, size_t reason_size) {
        static const struct {
                const char *name;
                size_t offset;
                bool optional;
                unsigned queue;
        } queues[] = {
                { "incoming", offsetof(QueueStats, incoming), false, SPOOL_INCOMING },
                { "active",   offsetof(QueueStats, active),   false, SPOOL_ACTIVE   },
                { "deferred", offsetof(QueueStats, deferred), false, SPOOL_DEFERRED },
                { "maildrop", offsetof(QueueStats, maildrop), true,  SPOOL_MAILDROP },
        };
        QueueStats stats = { .schedule_known = true, .schedule_source = "file-times", .slack_usec = slack_usec };
        PostfixScan sc = {
                .stats = &stats,
                .now_usec = now_realtime_usec,
                .slack_usec = slack_usec,
                .hooks = hooks,
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
                sc.queue = queues[i].queue;
                r = scan_dir(fd, path, 0, count, &sc);
                if (r < 0)
                        return r;
        }

        stats.backlog = stats.incoming + stats.active + stats.deferred + stats.maildrop;
        if (sc.have_oldest && (uint64_t) sc.oldest_s * USEC_PER_SEC < now_realtime_usec)
                stats.oldest_age_usec = now_realtime_usec - (uint64_t) sc.oldest_s * USEC_PER_SEC;
        *ret = stats;
        return 0;
}

int postfix_scan_queue(const char *queue_directory, uint64_t now_realtime_usec, uint64_t slack_usec,
                       QueueStats *ret, char *reason, size_t reason_size) {
        return scan_queues(queue_directory, now_realtime_usec, slack_usec, NULL, ret, reason, reason_size);
}

/* readdir(3) for the reading child: the next entry, or NULL at the end
 * (*RET untouched) or on an error (*RET = -errno, REASON says which PATH). */
static struct dirent *follow_readdir(DIR *d, const char *path, char *reason, size_t reason_size, int *ret) {
        struct dirent *de;

        errno = 0;
        de = readdir(d);
        if (!de && errno != 0) {
                *ret = negative_errno();
                if (reason && reason_size > 0)
                        (void) snprintf(reason, reason_size, "scan %s: %s", path, strerror(-*ret));
        }
        return de;
}

/* Incremental tracking, the reading side (runs in a child; see
 * "Incremental tracking" at the top of this file). */

/* What a queue directory is watched for: every change of a name or of an
 * inode's times and mode (inotify(7)). */
#define POSTFIX_WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_MODIFY | \
                            IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
/* queue_directory itself: queues that appear, vanish or move. */
#define POSTFIX_WATCH_TOP_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
                                IN_MOVE_SELF | IN_ONLYDIR)

typedef struct FollowWriter {
        int inotify_fd;
        int fd;                  /* where records go */
        size_t skip;             /* strlen(queue_directory) + 1: makes paths relative */
        size_t n;
        char buf[16384];
} FollowWriter;

static int writer_flush(FollowWriter *w) {
        size_t off = 0;

        while (off < w->n) {
                ssize_t k = write(w->fd, w->buf + off, w->n - off);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                off += (size_t) k;
        }
        w->n = 0;
        return 0;
}

static int writer_record(FollowWriter *w, const SpoolRecord *rec, const char *name) {
        int r;

        if (w->n + sizeof(*rec) + rec->name_len > sizeof(w->buf)) {
                r = writer_flush(w);
                if (r < 0)
                        return r;
        }
        memcpy(w->buf + w->n, rec, sizeof(*rec));
        memcpy(w->buf + w->n + sizeof(*rec), name, rec->name_len);
        w->n += sizeof(*rec) + rec->name_len;
        return 0;
}

static int follow_hook_dir(void *userdata, const char *path, unsigned queue, unsigned depth, int *ret_wd) {
        FollowWriter *w = userdata;
        const char *rel = strlen(path) > w->skip ? path + w->skip : "";
        size_t len = strlen(rel);
        SpoolRecord rec = { .type = SPOOL_RECORD_DIR, .queue = (uint8_t) queue, .depth = (uint8_t) depth };
        int wd;

        *ret_wd = -1;
        /* A subdirectory that is a symlink is not walked (scan_dir()), nor followed. */
        wd = inotify_add_watch(w->inotify_fd, path, POSTFIX_WATCH_MASK | (depth > 0 ? IN_DONT_FOLLOW : 0));
        if (wd < 0 || len == 0 || len > 255) {
                rec = (SpoolRecord) { .type = SPOOL_RECORD_FAILED, .arrival_s = wd < 0 ? (uint32_t) errno : E2BIG };
                return writer_record(w, &rec, "");
        }
        rec.wd = wd;
        rec.name_len = (uint8_t) len;
        *ret_wd = wd;
        return writer_record(w, &rec, rel);
}

static int follow_hook_file(void *userdata, int wd, const char *name, uint32_t arrival_s, uint32_t due_s) {
        FollowWriter *w = userdata;
        size_t len = strlen(name);
        SpoolRecord rec = {
                .type = SPOOL_RECORD_MSG,
                .wd = wd,
                .name_len = (uint8_t) len,
                .arrival_s = arrival_s,
                .due_s = due_s,
        };

        if (len == 0 || len > 255)
                return -ENAMETOOLONG;
        return writer_record(w, &rec, name);
}

int postfix_follow_scan(const char *queue_directory, int inotify_fd, int records_fd, uint64_t now_realtime_usec,
                        uint64_t slack_usec, QueueStats *ret, char *reason, size_t reason_size) {
        _cleanup_free_ FollowWriter *w = NULL;
        PostfixScanHooks hooks = { .dir = follow_hook_dir, .file = follow_hook_file };
        SpoolRecord top = { .type = SPOOL_RECORD_TOP };
        int r;

        if (!queue_directory || !ret)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (FollowWriter) { .inotify_fd = inotify_fd, .fd = records_fd, .skip = strlen(queue_directory) + 1 };
        hooks.userdata = w;

        top.wd = inotify_add_watch(inotify_fd, queue_directory, POSTFIX_WATCH_TOP_MASK);
        if (top.wd < 0)
                top = (SpoolRecord) { .type = SPOOL_RECORD_FAILED, .arrival_s = (uint32_t) errno };
        r = writer_record(w, &top, "");
        if (r >= 0)
                r = scan_queues(queue_directory, now_realtime_usec, slack_usec, &hooks, ret, reason, reason_size);
        if (r >= 0) {
                r = writer_flush(w);
                if (r < 0 && reason && reason_size > 0)
                        (void) snprintf(reason, reason_size, "cannot write the spool records: %s", strerror(-r));
        }
        return r;
}

typedef struct FollowCheck {
        unsigned dir;
        uint64_t key;
} FollowCheck;

static int follow_check_cmp(const void *a, const void *b) {
        const FollowCheck *x = a, *y = b;

        if (x->dir != y->dir)
                return x->dir < y->dir ? -1 : 1;
        return x->key < y->key ? -1 : x->key > y->key;
}

/* A name that appeared (created or moved in) whose key the table holds
 * already is the same file back again, or another name with that key: one
 * listing of its directory tells, and two names with one key become a
 * SPOOL_RECORD_COLLISION. C (N, sorted) are those names' directories and keys. */
static int follow_check_collisions(const char *queue_directory, const SpoolFollow *f, FollowCheck *c, size_t n,
                                   FollowWriter *w, char *reason, size_t reason_size) {
        for (size_t i = 0; i < n;) {
                const SpoolDir *sd = &f->idx.dirs[c[i].dir];
                _cleanup_free_ char *path = NULL;
                _cleanup_free_ uint32_t *count = NULL;
                size_t j = i;
                bool collision = false;
                struct dirent *de;
                DIR *d;
                int r = 0;

                while (j < n && c[j].dir == c[i].dir)
                        j++;
                count = calloc(j - i, sizeof(*count));
                if (!count || asprintf(&path, "%s/%s", queue_directory, sd->path) < 0)
                        return -ENOMEM;
                d = opendir(path);
                if (!d) {
                        r = negative_errno();
                        if (r == -ENOENT || r == -ENOTDIR) {
                                i = j;  /* gone: its removal is reported */
                                continue;
                        }
                        if (reason && reason_size > 0)
                                (void) snprintf(reason, reason_size, "scan %s: %s", path, strerror(-r));
                        return r;
                }
                while (!collision) {
                        FollowCheck k = { .dir = c[i].dir };
                        FollowCheck *m;

                        de = follow_readdir(d, path, reason, reason_size, &r);
                        if (!de)
                                break;
                        if (de->d_name[0] == '.')
                                continue;
                        k.key = spool_name_key(&f->idx, de->d_name, strlen(de->d_name));
                        m = bsearch(&k, c + i, j - i, sizeof(*c), follow_check_cmp);
                        if (m && ++count[m - (c + i)] > 1)
                                collision = true;
                }
                (void) closedir(d);
                if (r < 0)
                        return r;
                if (collision) {
                        SpoolRecord rec = { .type = SPOOL_RECORD_COLLISION, .wd = sd->wd };

                        r = writer_record(w, &rec, "");
                        if (r < 0)
                                return r;
                }
                i = j;
        }
        return 0;
}

int postfix_follow_read(const char *queue_directory, const SpoolFollow *f, const SpoolDirtyList *names,
                        int inotify_fd, int records_fd, char *reason, size_t reason_size) {
        _cleanup_free_ FollowWriter *w = NULL;
        _cleanup_free_ FollowCheck *checks = NULL;
        PostfixScanHooks hooks = { .dir = follow_hook_dir, .file = follow_hook_file };
        size_t n_checks = 0;
        int r = 0;

        if (reason && reason_size > 0)
                reason[0] = 0;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (FollowWriter) { .inotify_fd = inotify_fd, .fd = records_fd, .skip = strlen(queue_directory) + 1 };
        hooks.userdata = w;

        for (size_t i = 0; i < names->n && r >= 0; i++) {
                const SpoolDirty *e = &names->v[i];
                const char *name = spool_dirty_name(names, e);
                int d = spool_index_find_dir(&f->idx, e->wd);
                _cleanup_free_ char *path = NULL;
                SpoolRecord rec = { .type = SPOOL_RECORD_GONE, .wd = e->wd, .name_len = e->name_len };
                struct statx stx;
                uint32_t t, due;

                if (d < 0)
                        return -ESTALE;  /* the parent checks before: not reached */
                if (asprintf(&path, "%s/%s/%s", queue_directory, f->idx.dirs[d].path, name) < 0)
                        return -ENOMEM;
                if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
                          STATX_TYPE | STATX_MODE | STATX_MTIME | STATX_CTIME | STATX_BTIME, &stx) < 0) {
                        r = negative_errno();
                        if (r != -ENOENT && r != -ENOTDIR) {
                                if (reason && reason_size > 0)
                                        (void) snprintf(reason, reason_size, "scan %s: %s", path, strerror(-r));
                                return r;
                        }
                        r = writer_record(w, &rec, name);
                        continue;
                }
                if (S_ISDIR(stx.stx_mode)) {
                        /* A new hashed subdirectory: followed and walked as a full scan would. */
                        QueueStats dummy = {};
                        PostfixScan sc = {
                                .stats = &dummy,
                                .queue = f->idx.dirs[d].queue,
                                .slack_usec = USEC_INFINITY,
                                .hooks = &hooks,
                                .reason = reason,
                                .reason_size = reason_size,
                        };
                        unsigned count = 0;
                        int fd;

                        r = writer_record(w, &rec, name);
                        if (r < 0 || f->idx.dirs[d].depth >= POSTFIX_SCAN_DEPTH_MAX)
                                continue;
                        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0) {
                                r = negative_errno();
                                if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP) {
                                        r = 0;
                                        continue;
                                }
                                scan_fail(&sc, path, -r);
                                return r;
                        }
                        r = scan_dir(fd, path, f->idx.dirs[d].depth + 1u, &count, &sc);
                        continue;
                }
                if (S_ISREG(stx.stx_mode) && queue_file_facts(&stx, f->idx.dirs[d].queue, &t, &due)) {
                        uint64_t key = spool_name_key(&f->idx, name, e->name_len);

                        rec.type = SPOOL_RECORD_MSG;
                        rec.arrival_s = t;
                        rec.due_s = due;
                        if (e->appeared && spool_index_has_key(&f->idx, (unsigned) d, key)) {
                                if (!checks) {
                                        checks = calloc(names->n, sizeof(*checks));
                                        if (!checks)
                                                return -ENOMEM;
                                }
                                checks[n_checks++] = (FollowCheck) { .dir = (unsigned) d, .key = key };
                        }
                }
                r = writer_record(w, &rec, name);
        }
        if (r >= 0 && n_checks > 0) {
                qsort(checks, n_checks, sizeof(*checks), follow_check_cmp);
                r = follow_check_collisions(queue_directory, f, checks, n_checks, w, reason, reason_size);
        }
        if (r >= 0)
                r = writer_flush(w);
        if (r < 0 && reason && reason_size > 0 && !reason[0])
                (void) snprintf(reason, reason_size, "cannot write the spool records: %s", strerror(-r));
        return r;
}

/* One directory for postfix_follow_names(): the smallest name among
 * those whose key is one of KEYS (sorted, N), and how many matched. */
static int follow_name_in(const char *path, const SpoolIndex *idx, const uint64_t *keys, size_t n,
                          char *best, size_t *ret_len, uint32_t *ret_matched, char *reason, size_t reason_size) {
        DIR *d = opendir(path);
        struct dirent *de;
        uint32_t matched = 0;
        size_t best_len = 0;
        int r = 0;

        if (!d) {
                r = negative_errno();
                if (r == -ENOENT || r == -ENOTDIR)
                        r = 0;   /* gone: the name stays unknown, the probe walks the spool */
                else if (reason && reason_size > 0)
                        (void) snprintf(reason, reason_size, "scan %s: %s", path, strerror(-r));
                *ret_len = 0;
                return r;
        }
        for (;;) {
                size_t len, lo = 0, hi = n;
                uint64_t k;

                de = follow_readdir(d, path, reason, reason_size, &r);
                if (!de)
                        break;
                len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len > 255)
                        continue;
                k = spool_name_key(idx, de->d_name, len);
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;

                        if (keys[mid] < k)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                if (lo >= n || keys[lo] != k)
                        continue;
                matched++;
                if (best_len == 0 || spool_older(0, de->d_name, len, 0, best, best_len)) {
                        memcpy(best, de->d_name, len);
                        best_len = len;
                }
        }
        (void) closedir(d);
        *ret_len = best_len;
        *ret_matched = matched;
        return r;
}

int postfix_follow_names(const char *queue_directory, const SpoolFollow *f, int records_fd, char *reason,
                         size_t reason_size) {
        _cleanup_free_ FollowWriter *w = NULL;
        _cleanup_free_ bool *want = NULL;
        int r = 0;

        if (reason && reason_size > 0)
                reason[0] = 0;
        if (f->idx.n_dirs == 0)
                return 0;
        w = calloc(1, sizeof(*w));
        want = calloc(f->idx.n_dirs, sizeof(*want));
        if (!w || !want)
                return -ENOMEM;
        *w = (FollowWriter) { .inotify_fd = -EBADF, .fd = records_fd, .skip = strlen(queue_directory) + 1 };
        (void) spool_index_names_wanted(&f->idx, want);
        for (size_t i = 0; i < f->idx.n_dirs && r >= 0; i++) {
                const SpoolDir *d = &f->idx.dirs[i];
                _cleanup_free_ uint64_t *keys = NULL;
                _cleanup_free_ char *path = NULL;
                char best[256];
                size_t n, len = 0;
                uint32_t matched = 0;

                if (!want[i])
                        continue;
                n = spool_index_oldest_keys(&f->idx, (unsigned) i, NULL, 0);
                keys = malloc(MAX_OF(n, (size_t) 1) * sizeof(*keys));
                if (!keys || asprintf(&path, "%s/%s", queue_directory, d->path) < 0)
                        return -ENOMEM;
                (void) spool_index_oldest_keys(&f->idx, (unsigned) i, keys, n);
                r = follow_name_in(path, &f->idx, keys, n, best, &len, &matched, reason, reason_size);
                if (r >= 0 && len > 0) {
                        SpoolRecord rec = { .type = SPOOL_RECORD_NAME, .wd = d->wd, .name_len = (uint8_t) len,
                                            .arrival_s = matched };

                        r = writer_record(w, &rec, best);
                }
        }
        if (r >= 0)
                r = writer_flush(w);
        if (r < 0 && reason && reason_size > 0 && !reason[0])
                (void) snprintf(reason, reason_size, "cannot write the spool records: %s", strerror(-r));
        return r;
}

typedef struct PostfixState {
        char *queue_directory;
        char *postconf_path;
        bool slack_auto;         /* overdue_slack = auto: derive it from queue_run_delay */
        bool slack_known;        /* slack_usec holds the configured or derived value */
        bool postconf_warned;    /* the failure to read queue_run_delay was logged at warning */
        char postconf_error[96]; /* why the last attempt failed, "" if it did not */
        uint64_t slack_usec;     /* the slack of the scan in progress */
        uint64_t now_usec;       /* CLOCK_REALTIME at the start of the scan */
        ExecRun *run;            /* postconf or the scan */
        /* Incremental tracking (full_scan_interval > 0): */
        uint64_t full_scan_interval_usec;
        int inotify_fd;          /* -EBADF: not set up (yet) */
        int records_fd;          /* memfd the reading child writes SpoolRecords to */
        sd_event_source *inotify_source;
        SpoolFollow follow;
        SpoolDirtyList reading;  /* the names the running child reads */
        enum { RUN_SCAN, RUN_FOLLOW_SCAN, RUN_FOLLOW_READ, RUN_FOLLOW_NAMES } run_kind;
        uint64_t last_full_usec; /* CLOCK_MONOTONIC at the start of the last full walk */
        unsigned full_scans;     /* full walks so far (for the log) */
        bool follow_warned;      /* a reason to walk that is worth a warning was logged */
        bool collision_warned;   /* a hash collision in the table was logged at warning */
} PostfixState;


/* Seconds when no unit is given; see postfix.h. */
int postfix_parse_time(const char *s, size_t size, uint64_t *ret) {
        static const struct {
                char unit;
                uint64_t usec;
        } units[] = {
                { 's', USEC_PER_SEC },
                { 'm', 60 * USEC_PER_SEC },
                { 'h', 3600 * USEC_PER_SEC },
                { 'd', 86400 * USEC_PER_SEC },
                { 'w', 7 * 86400 * USEC_PER_SEC },
        };
        uint64_t v = 0, mult = USEC_PER_SEC;
        size_t i = 0;

        if (size > 0 && s[size - 1] == '\n')
                size--;
        if (size == 0 || !isdigit((unsigned char) s[0]))
                return -EBADMSG;
        for (; i < size && isdigit((unsigned char) s[i]); i++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (i < size) {
                size_t u;

                for (u = 0; u < ELEMENTSOF(units); u++)
                        if (s[i] == units[u].unit)
                                break;
                if (u >= ELEMENTSOF(units) || i + 1 != size)
                        return -EBADMSG;
                mult = units[u].usec;
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

/* In the child: one line, exit 0; or the reason, exit QUEUE_SCAN_EXIT_*. */
static int postfix_scan_child(int out_fd, void *arg) {
        PostfixState *st = arg;
        QueueStats q;
        char reason[PROBE_REASON_MAX];
        int r;

        /* The queue directories are 0700 postfix: the one place the daemon's capability
         * is used (caps.h). Without it the scan says which directory it cannot read. */
        (void) caps_raise_read_search();
        r = postfix_scan_queue(st->queue_directory, st->now_usec, st->slack_usec, &q, reason, sizeof(reason));
        return queue_scan_child_answer(out_fd, r, &q, reason);
}

/* In the child: the full walk that also follows; the records go to fd 5. */
static int postfix_follow_scan_child(int out_fd, void *arg) {
        PostfixState *st = arg;
        QueueStats q;
        char reason[PROBE_REASON_MAX];
        int r;

        (void) caps_raise_read_search();
        r = postfix_follow_scan(st->queue_directory, 4, 5, st->now_usec, st->slack_usec, &q, reason, sizeof(reason));
        return queue_scan_child_answer(out_fd, r, &q, reason);
}

/* In the child: reads the changed names; "ok" or the reason. */
static int postfix_follow_read_child(int out_fd, void *arg) {
        PostfixState *st = arg;
        char reason[PROBE_REASON_MAX] = "";
        int r;

        (void) caps_raise_read_search();
        r = postfix_follow_read(st->queue_directory, &st->follow, &st->reading, 4, 5, reason, sizeof(reason));
        if (r < 0) {
                (void) dprintf(out_fd, "%s\n", reason[0] ? reason : strerror(-r));
                return r == -EACCES || r == -EPERM ? QUEUE_SCAN_EXIT_PERMISSION : QUEUE_SCAN_EXIT_ERROR;
        }
        (void) dprintf(out_fd, "ok\n");
        return 0;
}

/* In the child: resolves the oldest message's name; "ok" or the reason. */
static int postfix_follow_names_child(int out_fd, void *arg) {
        PostfixState *st = arg;
        char reason[PROBE_REASON_MAX] = "";
        int r;

        (void) caps_raise_read_search();
        r = postfix_follow_names(st->queue_directory, &st->follow, 5, reason, sizeof(reason));
        if (r < 0) {
                (void) dprintf(out_fd, "%s\n", reason[0] ? reason : strerror(-r));
                return r == -EACCES || r == -EPERM ? QUEUE_SCAN_EXIT_PERMISSION : QUEUE_SCAN_EXIT_ERROR;
        }
        (void) dprintf(out_fd, "ok\n");
        return 0;
}

/* Reads what the child wrote to the memfd into the table, and empties the
 * memfd. Memory only: never blocks on the spool. The records of a full
 * walk (some 28 bytes a message: 2.8 MB at 100 000) are read through a
 * read-only mapping of the memfd that is unmapped at once, and the memfd
 * is then truncated (postfix_records_reset()): nothing of that size stays. */
static int postfix_apply_records(PostfixState *st) {
        struct stat sb;
        void *m;
        int r;

        if (fstat(st->records_fd, &sb) < 0)
                return negative_errno();
        if (sb.st_size > 0) {
                m = mmap(NULL, (size_t) sb.st_size, PROT_READ, MAP_PRIVATE, st->records_fd, 0);
                if (m == MAP_FAILED)
                        return negative_errno();
                r = spool_follow_apply(&st->follow, m, (size_t) sb.st_size);
                (void) munmap(m, (size_t) sb.st_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int postfix_records_reset(PostfixState *st) {
        if (ftruncate(st->records_fd, 0) < 0 || lseek(st->records_fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return 0;
}

static void postfix_complete_ok(Probe *p, QueueStats *q) {
        PostfixState *st = p->state;
        char slack[32], note[160] = "";

        q->slack_usec = st->slack_usec;
        (void) format_duration(slack, sizeof(slack), st->slack_usec);
        if (st->slack_auto && !st->slack_known)
                (void) snprintf(note, sizeof(note), "; queue_run_delay unknown, 300s assumed: %s",
                                st->postconf_error);
        probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, q, "backlog %u, oldest %s, overdue %u (slack %s%s)", q->backlog,
                       q->oldest_id[0] ? q->oldest_id : "none", q->overdue, slack, note);
}

/* After a follow child: the table takes its records (a failure means a
 * full walk next round), and the names it read are done. */
static void postfix_follow_done(Probe *p, int status) {
        PostfixState *st = p->state;
        int r;

        if (status == 0) {
                r = postfix_apply_records(st);
                if (r < 0)
                        spool_follow_invalidate(&st->follow, "cannot read the records of the reading child");
                if (st->follow.idx.collisions > 0) {
                        log_full(st->collision_warned ? LOG_DEBUG : LOG_WARNING,
                                 "probe %s: two queue files in %s share a hash key: this round counts them by "
                                 "name (a walk of the whole spool), the next walks it again with another key",
                                 p->name, st->follow.idx.collision_dir);
                        st->collision_warned = true;
                }
                if (st->run_kind == RUN_FOLLOW_SCAN)
                        log_debug("probe %s: queue table: %zu messages, %zu bytes", p->name, st->follow.idx.n_msgs,
                                  spool_index_memory(&st->follow.idx));
        } else
                spool_follow_invalidate(&st->follow, "the reading child failed");
        (void) postfix_records_reset(st);
        spool_dirty_clear(&st->reading);
        if (st->follow.need_full && strstr(st->follow.why, "watch") && !st->follow_warned) {
                log_warning("probe %s: %s (fs.inotify.max_user_watches?): the whole spool is walked every round "
                            "until it can be", p->name, st->follow.why);
                st->follow_warned = true;
        }
}

static void postfix_on_scanned(ExecRun *run, int status, const char *output, size_t size, void *userdata);

/* A walk of the whole spool that follows it, in a child; its line is the
 * round's answer. Returns 0 or a negative errno. */
static int postfix_follow_walk(Probe *p) {
        PostfixState *st = p->state;
        int fds[2] = { st->inotify_fd, st->records_fd };
        uint64_t mono;
        int r;

        r = sd_event_now(p->event, CLOCK_MONOTONIC, &mono);
        if (r < 0)
                return r;
        r = postfix_records_reset(st);
        if (r < 0)
                return r;
        log_debug("probe %s: walking the whole spool: %s", p->name, st->follow.why);
        spool_follow_begin_full(&st->follow);
        st->last_full_usec = mono;
        st->full_scans++;
        st->run_kind = RUN_FOLLOW_SCAN;
        r = exec_fn_fds(p->event, postfix_follow_scan_child, st, fds, 2, USEC_INFINITY, postfix_on_scanned, p,
                        &st->run);
        if (r < 0)
                spool_follow_invalidate(&st->follow, "cannot start the walk");
        return r;
}

/* The round's answer from the table. When the oldest message's name is
 * not known, a child resolves it first (one listing of its directory, no
 * statx); when it still is not (AFTER_NAMES), or the table cannot be
 * trusted, the whole spool is walked, all in this round, under its
 * deadline. */
static void postfix_follow_answer(Probe *p, bool after_names) {
        PostfixState *st = p->state;
        int fds[2] = { st->inotify_fd, st->records_fd };
        QueueStats q;
        int r;

        if (!st->follow.need_full) {
                r = spool_index_stats(&st->follow.idx, st->now_usec, st->slack_usec, &q);
                if (r >= 0) {
                        postfix_complete_ok(p, &q);
                        return;
                }
                if (after_names)
                        spool_follow_invalidate(&st->follow, "the oldest message's name was not found");
                else {
                        r = postfix_records_reset(st);
                        if (r >= 0) {
                                st->run_kind = RUN_FOLLOW_NAMES;
                                r = exec_fn_fds(p->event, postfix_follow_names_child, st, fds, 2, USEC_INFINITY,
                                                postfix_on_scanned, p, &st->run);
                        }
                        if (r >= 0)
                                return;
                        spool_follow_invalidate(&st->follow, "cannot start the reading child");
                }
        }
        r = postfix_follow_walk(p);
        if (r < 0)
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "cannot start queue scan: %s",
                               strerror(-r));
}

static void postfix_on_scanned(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Probe *p = userdata;
        PostfixState *st = p->state;
        QueueStats q;

        st->run = NULL;  /* freed by exec after we return */

        if (st->run_kind != RUN_SCAN)
                postfix_follow_done(p, status);

        if (status == 0 && (st->run_kind == RUN_FOLLOW_READ || st->run_kind == RUN_FOLLOW_NAMES)) {
                if (size != 3 || strcmp(output, "ok\n") != 0) {
                        spool_follow_invalidate(&st->follow, "the reading child printed a malformed line");
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_PARSE_ERROR, NULL,
                                       "queue read of %s printed a malformed line", st->queue_directory);
                        return;
                }
                postfix_follow_answer(p, st->run_kind == RUN_FOLLOW_NAMES);
                return;
        }

        if (status == 0) {
                if (queue_scan_parse_line(output, size, &q) < 0) {
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_PARSE_ERROR, NULL,
                                       "queue scan of %s printed a malformed line",
                                       st->queue_directory);
                        return;
                }
                postfix_complete_ok(p, &q);
                return;
        }
        queue_scan_fail(p, st->queue_directory, status, output, size);
}

/* Reads what inotify has queued (never blocks: IN_NONBLOCK). */
static void postfix_inotify_drain(Probe *p) {
        PostfixState *st = p->state;
        union {
                struct inotify_event ev;
                char buf[8192];
        } u;

        for (unsigned i = 0; i < 4096; i++) {
                ssize_t n = read(st->inotify_fd, u.buf, sizeof(u.buf));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                spool_follow_invalidate(&st->follow, "cannot read the inotify queue");
                        return;
                }
                if (n == 0)
                        return;
                (void) spool_follow_events(&st->follow, u.buf, (size_t) n);
        }
}

static int postfix_on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        postfix_inotify_drain(userdata);
        return 0;
}

/* Sets up the inotify instance and the records memfd once. */
static int postfix_follow_setup(Probe *p) {
        PostfixState *st = p->state;
        int r;

        if (st->inotify_fd >= 0)
                return 0;
        st->records_fd = memfd_create("mta-watchdog-spool", MFD_CLOEXEC);
        if (st->records_fd < 0)
                return negative_errno();
        st->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (st->inotify_fd < 0)
                return negative_errno();
        r = sd_event_add_io(p->event, &st->inotify_source, st->inotify_fd, EPOLLIN, postfix_on_inotify, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(st->inotify_source, "postfix-inotify");
        return 0;
}

static void postfix_follow_teardown(PostfixState *st) {
        st->inotify_source = sd_event_source_disable_unref(st->inotify_source);
        closep(&st->inotify_fd);
        closep(&st->records_fd);
        st->inotify_fd = st->records_fd = -EBADF;
        spool_follow_done(&st->follow);
        spool_dirty_free(&st->reading);
}

/* One round of incremental tracking: a full walk when the table cannot be
 * trusted or is due for one, a child that reads the changed names, or
 * (nothing changed) the answer from memory at once. Returns 0, 1 (not
 * following: scan as usual) or a negative errno. */
static int postfix_start_follow(Probe *p) {
        PostfixState *st = p->state;
        int fds[2];
        uint64_t mono;
        int r;

        if (st->full_scan_interval_usec == 0)
                return 1;
        r = postfix_follow_setup(p);
        if (r < 0) {
                log_warning_errno(r, "probe %s: cannot follow the spool with inotify (%m): the whole spool is "
                                  "walked every round", p->name);
                postfix_follow_teardown(st);
                st->full_scan_interval_usec = 0;
                return 1;
        }
        r = sd_event_now(p->event, CLOCK_MONOTONIC, &mono);
        if (r < 0)
                return r;
        postfix_inotify_drain(p);
        if (st->full_scans > 0 && mono - st->last_full_usec >= st->full_scan_interval_usec)
                spool_follow_invalidate(&st->follow, "periodic full scan");
        fds[0] = st->inotify_fd;
        fds[1] = st->records_fd;
        r = postfix_records_reset(st);
        if (r < 0)
                return r;
        if (spool_follow_check(&st->follow))
                return postfix_follow_walk(p);
        if (st->follow.dirty.n == 0) {
                postfix_follow_answer(p, false);
                return 0;
        }
        spool_dirty_unique(&st->follow.dirty);
        {
                SpoolDirtyList t = st->reading;

                st->reading = st->follow.dirty;
                st->follow.dirty = t;
                spool_dirty_clear(&st->follow.dirty);
        }
        st->run_kind = RUN_FOLLOW_READ;
        r = exec_fn_fds(p->event, postfix_follow_read_child, st, fds, 2, USEC_INFINITY, postfix_on_scanned, p,
                        &st->run);
        if (r < 0)
                spool_follow_invalidate(&st->follow, "cannot start the reading child");
        return r;
}

/* Starts the scan with the slack in st->slack_usec. Returns 0 or a negative errno. */
static int postfix_start_scan(Probe *p) {
        PostfixState *st = p->state;
        int r;

        r = sd_event_now(p->event, CLOCK_REALTIME, &st->now_usec);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot read the clock: %m", p->name);

        r = postfix_start_follow(p);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot start queue scan: %m", p->name);
        if (r == 0)
                return 0;
        st->run_kind = RUN_SCAN;

        /* No deadline of its own: the probe's deadline cancels it. The child
         * gets a copy of st, so later changes here do not matter to it. */
        r = exec_fn(p->event, postfix_scan_child, st, USEC_INFINITY, postfix_on_scanned, p, &st->run);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot start queue scan: %m", p->name);
        return 0;
}

/* postconf answered (or could not run): derive the slack, or fall back to
 * the default for this run and ask again next run. The scan follows. */
static void postfix_on_postconf(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Probe *p = userdata;
        PostfixState *st = p->state;
        uint64_t delay;
        int r = 0;

        st->run = NULL;  /* freed by exec after we return */

        if (status < 0)
                (void) snprintf(st->postconf_error, sizeof(st->postconf_error), "%s: %s",
                                st->postconf_path, strerror(-status));
        else if (status > 0)
                (void) snprintf(st->postconf_error, sizeof(st->postconf_error), "%s exited with status %d",
                                st->postconf_path, status);
        else if ((r = postfix_parse_time(output, size, &delay)) < 0 ||
                 delay > UINT64_MAX - POSTFIX_SLACK_MARGIN_USEC)
                (void) snprintf(st->postconf_error, sizeof(st->postconf_error),
                                "%s printed no valid time for queue_run_delay", st->postconf_path);
        else {
                st->slack_known = true;
                st->slack_usec = delay + POSTFIX_SLACK_MARGIN_USEC;
                st->postconf_error[0] = 0;
                if (st->postconf_warned)
                        log_info("probe %s: queue_run_delay read after all, overdue slack %" PRIu64 "s",
                                 p->name, st->slack_usec / USEC_PER_SEC);
                else
                        log_debug("probe %s: overdue slack %" PRIu64 "s (queue_run_delay + 60s)",
                                  p->name, st->slack_usec / USEC_PER_SEC);
                st->postconf_warned = false;
        }

        if (!st->slack_known) {
                st->slack_usec = POSTFIX_DEFAULT_QUEUE_RUN_DELAY_USEC + POSTFIX_SLACK_MARGIN_USEC;
                log_full(st->postconf_warned ? LOG_DEBUG : LOG_WARNING,
                         "probe %s: cannot read queue_run_delay (%s), assuming 300s, ignoring",
                         p->name, st->postconf_error);
                st->postconf_warned = true;
        }

        r = postfix_start_scan(p);
        if (r < 0)
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL,
                               "cannot start queue scan: %s", strerror(-r));
}

static void postfix_cancel(Probe *p) {
        PostfixState *st = p->state;

        if (st->run && st->run_kind != RUN_SCAN) {
                /* What the child did (watches it added) is unknown. */
                spool_follow_invalidate(&st->follow, "the previous round was cancelled");
                spool_dirty_clear(&st->reading);
        }
        st->run = exec_cancel(st->run);
}

static void postfix_done(Probe *p) {
        PostfixState *st = p->state;

        postfix_cancel(p);
        postfix_follow_teardown(st);
        free(st->queue_directory);
        free(st->postconf_path);
}

static int postfix_start(Probe *p) {
        PostfixState *st = p->state;
        int r;

        postfix_cancel(p);

        if (st->slack_known)
                return postfix_start_scan(p);

        char *argv[] = { st->postconf_path, (char *) "-h", (char *) "-x", (char *) "queue_run_delay", NULL };
        /* Bounded by the probe's deadline, like the scan. */
        r = exec_argv(p->event, argv, USEC_INFINITY, postfix_on_postconf, p, &st->run);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot run %s: %m", p->name, st->postconf_path);
        return 0;
}

static int postfix_init(Probe *p, const void *settings) {
        const PostfixSettings *s = settings;
        PostfixState *st = p->state;

        st->inotify_fd = st->records_fd = -EBADF;
        spool_follow_init(&st->follow);
        if (!s || !s->queue_directory || s->queue_directory[0] != '/') {
                log_error("probe %s: postfix needs an absolute queue_directory", p->name);
                return -EINVAL;
        }
        if (s->postconf_path && s->postconf_path[0] != '/') {
                log_error("probe %s: postconf_path must be absolute", p->name);
                return -EINVAL;
        }
        st->queue_directory = strdup(s->queue_directory);
        if (!st->queue_directory)
                return -ENOMEM;
        st->postconf_path = strdup(s->postconf_path ? s->postconf_path : POSTFIX_DEFAULT_POSTCONF);
        if (!st->postconf_path)
                return -ENOMEM;
        st->full_scan_interval_usec = s->full_scan_interval_usec;
        st->slack_auto = s->overdue_slack_usec == USEC_INFINITY;
        st->slack_known = !st->slack_auto;
        if (!st->slack_auto)
                st->slack_usec = s->overdue_slack_usec;
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

/* The profile: [mta] type = postfix */

/* Delivery lines start with the queue id: "ID: to=<...>, relay=..., ...,
 * status=sent (...)"; qmgr's expiry is "ID: from=<...>, status=expired". */
#define POSTFIX_ACTIVITY "^[0-9A-Za-z]+: to=<.*, status=(sent|deferred|bounced|expired)([ ,]|$)|" \
                         "^[0-9A-Za-z]+: from=<.*, status=(expired)([ ,]|$)"
/* "connect to HOST[ADDR]:PORT: reason" on its own line or as the reason of
 * a deferral (also from qmgr's dead-destination cache: "delivery
 * temporarily suspended: connect to ..."), and a name that does not
 * resolve: "Name service error for name=HOST type=A". Anchored to the
 * start of delivery lines, so that most text quoted from elsewhere cannot
 * match; short enough for one ini line (--check-config prints it). */
#define POSTFIX_PEER     "([^][ ]+\\[[^]]+\\]):"
#define POSTFIX_ERROR    "^connect to " POSTFIX_PEER "|"                                      \
                         "^[0-9A-Za-z]+: to=<.*, status=deferred \\([^(]*connect to " POSTFIX_PEER "|" \
                         "^[0-9A-Za-z]+: to=<.*Name service error for name=([^ ]+) type="
/* Deferrals that attempted nothing: the dead-destination cache of qmgr(8). */
#define POSTFIX_SKIP     "status=deferred \\(delivery temporarily suspended: "

static const char *const postfix_identifiers[] = {
        "smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard", "qmgr", NULL
};

/* master(8) reports its children's deaths ("warning: process
 * /usr/lib/postfix/sbin/smtp pid 123 exit status 1", "... bad command
 * startup -- throttling"). */
static const char *const postfix_mta_log_identifiers[] = { "master", NULL };

/* Cause classes of failed delivery lines, tried in order; the texts are
 * Postfix's (smtp(8), qmgr(8); the sources smtp_addr.c, smtp_connect.c,
 * smtp_proto.c, qmgr_deliver.c). The peer comes from "relay=HOST[ADDR]:PORT"
 * when the line has one (POSTFIX_PEER_FIELD), else from the rule's group. */
static const CauseRule postfix_cause_rules[] = {
        /* DNS lookups: "Host or domain name not found. Name service error
         * for name=relay.example type=A: Host not found, try again";
         * native lookups (smtp_host_lookup = native, getaddrinfo(3)):
         * "relay.example: Temporary failure in name resolution" */
        { CAUSE_DNS_FAILURE,      "Name service error for name=([^ ]+) type=" },
        { CAUSE_DNS_FAILURE,      "[ (]([^ (]+): (Temporary failure in name resolution|Name or service not known|"
                                  "No address associated with hostname)" },
        { CAUSE_DNS_FAILURE,      "unable to look up host ([^ :]+)" },
        { CAUSE_DNS_FAILURE,      "Host or domain name not found" },
        { CAUSE_DNS_FAILURE,      "Host found but no data record" },
        /* "TLS is required, but was not offered by host HOST[ADDR]",
         * "Cannot start TLS: handshake failure", "Server certificate not
         * trusted" / "not verified" */
        { CAUSE_TLS_FAILURE,      "TLS is required, but was not offered by host ([^ ]+\\[[^]]*\\])" },
        { CAUSE_TLS_FAILURE,      "TLS is required|Cannot start TLS|Server certificate not|TLS handshake" },
        /* "conversation with HOST[ADDR] timed out while receiving the
         * initial server greeting" / "while performing the EHLO handshake" */
        { CAUSE_PROTOCOL_TIMEOUT, "conversation with ([^ ]+) timed out while" },
        /* the peer answered: "host HOST[ADDR] said: 450 ...", "host
         * HOST[ADDR] refused to talk to me: 421 ...", "lost connection with
         * HOST[ADDR] while ..." */
        { CAUSE_DEFERRED_REMOTE,  "host ([^ ]+) (said|refused to talk to me)" },
        { CAUSE_DEFERRED_REMOTE,  "lost connection with ([^ ]+) while" },
        { CAUSE_LOCAL_RESOURCE,   "No space left on device|insufficient system storage|Permission denied|"
                                  "queue file write error|Out of memory" },
        /* the delivery agent crashed or refuses to start: qmgr(8) defers
         * with "unknown mail transport error" / "mail transport unavailable" */
        { CAUSE_MTA_INTERNAL,     "unknown mail transport error|mail transport unavailable|"
                                  "mail system configuration error" },
        { CAUSE_CONNECT_FAILURE,  "connect to ([^ ]+):" },
        {},
};

#define POSTFIX_PEER_FIELD "relay=([^ ,]+)"
#define POSTFIX_MTA_LOG    "^(fatal|panic|warning): "
/* A program that dies (its own fatal:/panic:, master(8) on its exit) */
#define POSTFIX_MTA_ERROR  "^(fatal|panic): |^warning: process [^ ]+ pid [0-9]+ (exit status|killed by signal)"

/* Keeps only Postfix's own words of a delivery line "ID: to=<RCPT>,
 * [orig_to=<ADDR>,] relay=..., status=WORD (REASON)" (qmgr: "ID: from=<ADDR>,
 * ..."). The addresses are the sender's choice: in the external form that
 * Postfix logs (postconf(5) info_log_address_format) a quoted local part
 * may hold spaces, commas, parentheses and '>' (RFC 5321 section 4.1.2),
 * so each is overwritten up to its closing '>' outside quotes (all of the
 * rest when there is none). In REASON, what follows "said: " and
 * "refused to talk to me: " is the remote server's reply (smtp(8),
 * smtp_proto.c, smtp_connect.c), and what follows "Command output: " a
 * pipe(8) command's; it is cut off. */
static void postfix_own_text(char *m) {
        static const char *const address_fields[] = { "to=<", "orig_to=<", "from=<" };
        static const char *const quoting[] = { " said: ", " refused to talk to me: ", "Command output: " };
        char *s = m, *reason, *cut = NULL;
        bool any = false;

        s += strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
        if (s == m || strncmp(s, ": ", 2) != 0)
                return;
        s += 2;
        for (;;) {
                size_t i;
                bool quoted = false;

                for (i = 0; i < ELEMENTSOF(address_fields); i++)
                        if (strncmp(s, address_fields[i], strlen(address_fields[i])) == 0)
                                break;
                if (i == ELEMENTSOF(address_fields))
                        break;
                any = true;
                for (s += strlen(address_fields[i]); *s; s++) {
                        if (quoted && *s == '\\' && s[1]) {
                                *s++ = 'x';
                        } else if (*s == '"')
                                quoted = !quoted;
                        else if (!quoted && *s == '>')
                                break;
                        *s = 'x';
                }
                if (!*s)
                        return;
                s++;
                if (strncmp(s, ", ", 2) != 0)
                        break;
                s += 2;
        }
        if (!any)
                return;
        reason = strstr(s, "status=");
        reason = reason ? strstr(reason, " (") : NULL;
        if (!reason)
                return;
        for (size_t i = 0; i < ELEMENTSOF(quoting); i++) {
                char *q = strstr(reason, quoting[i]);

                if (q && (!cut || q < cut))
                        cut = q + strlen(quoting[i]);
        }
        if (cut)
                *cut = '\0';
}

const ActivityRules postfix_activity_rules = {
        .activity = POSTFIX_ACTIVITY,
        .error = POSTFIX_ERROR,
        .skip = POSTFIX_SKIP,
        .identifiers = postfix_identifiers,
        .peer = POSTFIX_PEER_FIELD,
        .causes = postfix_cause_rules,
        .error_cause = CAUSE_CONNECT_FAILURE,
        .mta_log = POSTFIX_MTA_LOG,
        .mta_error = POSTFIX_MTA_ERROR,
        .mta_log_identifiers = postfix_mta_log_identifiers,
        .own_text = postfix_own_text,
};

static void postfix_settings_init(void *settings) {
        *(PostfixSettings *) settings = (PostfixSettings) {
                .overdue_slack_usec = USEC_INFINITY,
                .full_scan_interval_usec = POSTFIX_DEFAULT_FULL_SCAN_INTERVAL_USEC,
        };
        /* strdup() failing leaves it NULL; config_load() then reports "Out of memory". */
        ((PostfixSettings *) settings)->queue_directory = strdup(POSTFIX_DEFAULT_QUEUE_DIRECTORY);
}

static void postfix_settings_done(void *settings) {
        PostfixSettings *s = settings;

        free(s->queue_directory);
        free(s->postconf_path);
        free(s->master_cf_path);
        *s = (PostfixSettings) {};
}

/* The [mta] keys of type postfix (etc/mta-watchdog.ini). */
static const ConfigItem postfix_mta_items[] = {
        CONFIG_ITEM("queue_directory", path,          string,        PostfixSettings, queue_directory,    0),
        CONFIG_ITEM("overdue_slack",   duration_auto, duration_auto, PostfixSettings, overdue_slack_usec, 0),
        CONFIG_ITEM("full_scan_interval", duration,   duration,      PostfixSettings, full_scan_interval_usec, 0),
        {},
};

/* "nameserver 192.0.2.53 nameserver ..." of a resolv.conf(5), at most SIZE bytes. */
static void resolv_nameservers(const char *text, char *buf, size_t size) {
        const char *line = text;
        size_t n = 0;

        buf[0] = 0;
        while (line && *line) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);

                if (len > 11 && strncmp(line, "nameserver", 10) == 0 && (line[10] == ' ' || line[10] == '\t')) {
                        int k = snprintf(buf + n, size - n, "%s%.*s", n ? ", " : "", (int) len, line);

                        if (k < 0 || (size_t) k >= size - n)
                                break;
                        n += (size_t) k;
                }
                line = end ? end + 1 : NULL;
        }
        if (!buf[0])
                (void) snprintf(buf, size, "no nameserver line");
}

/* The chroot's copies that smtp(8) and other chrooted programs read
 * (master.cf chroot column; Debian's postfix start copies them, see
 * /usr/lib/postfix/configure-instance.sh). */
static int postfix_resolver_view(const void *settings, char *buf, size_t size) {
        static const char *const files[] = { "etc/resolv.conf", "etc/hosts" };
        static const char *const system_files[] = { "/etc/resolv.conf", "/etc/hosts" };
        const PostfixSettings *s = settings;
        size_t n = 0;

        buf[0] = 0;
        if (!s || !s->queue_directory)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *sys = NULL, *mine = NULL, *path = NULL;
                size_t a = 0, b = 0;
                int r, k;

                if (asprintf(&path, "%s/%s", s->queue_directory, files[i]) < 0)
                        return -ENOMEM;
                r = read_file_bounded(path, 64 * 1024, &mine, &b);
                if (r == -ENOENT)
                        continue; /* not chrooted: the system's files are used */
                if (r < 0)
                        return r;
                r = read_file_bounded(system_files[i], 64 * 1024, &sys, &a);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0 && a == b && memcmp(sys, mine, a) == 0)
                        continue;
                if (i == 0) {
                        char x[160], y[160];

                        resolv_nameservers(sys ?: "", x, sizeof(x));
                        resolv_nameservers(mine, y, sizeof(y));
                        k = snprintf(buf + n, size - n, "%s/etc/resolv.conf (%s) differs from /etc/resolv.conf (%s)",
                                     s->queue_directory, y, x);
                } else
                        k = snprintf(buf + n, size - n, "%s%s/etc/hosts differs from /etc/hosts",
                                     n ? "; " : "", s->queue_directory);
                if (k < 0 || (size_t) k >= size - n)
                        return 1;
                n += (size_t) k;
        }
        return n > 0;
}

/* Whether the smtp(8) delivery agent (master.cf service "smtp", type
 * "unix") runs chrooted: its chroot column (master(5)): "y", "n", or "-",
 * the default, which is "n" since Postfix 3.0 (Debian 12's master.cf says
 * "y"). Returns 1, 0, or -ENOENT (no such service), -errno (unreadable). */
static int postfix_smtp_chrooted(const char *master_cf) {
        _cleanup_free_ char *text = NULL;
        size_t size, pos = 0, len;
        const char *line;
        int r;

        r = read_file_bounded(master_cf, 1024 * 1024, &text, &size);
        if (r < 0)
                return r;
        while (text_next_line(text, size, &pos, &line, &len)) {
                char buf[512], *f[8], *save = NULL;
                size_t n = 0;

                /* an entry starts in column 1; blanks first continue the previous one */
                if (len == 0 || line[0] == '#' || line[0] == ' ' || line[0] == '\t' || len >= sizeof(buf))
                        continue;
                memcpy(buf, line, len);
                buf[len] = 0;
                for (char *w = strtok_r(buf, " \t", &save); w && n < ELEMENTSOF(f); w = strtok_r(NULL, " \t", &save))
                        f[n++] = w;
                if (n < 5 || strcmp(f[0], "smtp") != 0 || strcmp(f[1], "unix") != 0)
                        continue;
                return strcmp(f[4], "y") == 0;
        }
        return -ENOENT;
}

/* smtp(8) chrooted: the copy under the queue directory that Debian's
 * postfix start keeps in step (/usr/lib/postfix/configure-instance.sh).
 * Without a readable master.cf, the copy counts where it exists. */
static int postfix_resolv_conf(const void *settings, char *buf, size_t size) {
        const PostfixSettings *s = settings;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!s || !s->queue_directory)
                return 0;
        if (asprintf(&path, "%s/etc/resolv.conf", s->queue_directory) < 0)
                return -ENOMEM;
        r = postfix_smtp_chrooted(s->master_cf_path ?: "/etc/postfix/master.cf");
        if (r < 0) {
                if (access(path, F_OK) < 0)
                        return 0;
        } else if (r == 0)
                return 0;
        if (strlen(path) >= size)
                return -ENAMETOOLONG;
        strcpy(buf, path);
        return 1;
}

const MtaProfile mta_profile_postfix = {
        .type = "postfix",
        .queue_ops = &probe_postfix_ops,
        .config_items = postfix_mta_items,
        .settings_size = sizeof(PostfixSettings),
        .settings_init = postfix_settings_init,
        .settings_done = postfix_settings_done,
        /* Debian's postfix@-.service runs master(8) and its children in one
         * cgroup: their lines carry the unit (probes/journal.c). */
        .activity_source = ACTIVITY_SOURCE_JOURNAL_UNIT,
        .activity_rules = &postfix_activity_rules,
        .resolver_view = postfix_resolver_view,
        .resolv_conf = postfix_resolv_conf,
        /* Debian 12: postfix.service is a oneshot wrapper that runs
         * nothing itself; the master of the default instance lives in
         * postfix@-.service. */
        .default_unit = "postfix@-.service",
        .default_flush_command = "/usr/sbin/postqueue -f",
};
