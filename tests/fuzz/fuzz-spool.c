/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what the Postfix queue probe reads (probes/postfix.c).
 *
 * The input is used three ways:
 *  1. as the scan child's line, queue_scan_parse_line(): a line that
 *     parses must format back to the same bytes;
 *  2. as postconf's output, postfix_parse_time();
 *  3. as a manifest of a spool tree, one entry a line:
 *       f PATH MODE MTIME   regular file, octal mode, mtime in seconds
 *                           relative to now (e.g. -3600, +600)
 *       d PATH              directory
 *       l PATH              symbolic link (to "x")
 *       p PATH              FIFO
 *       slack SECONDS       overdue slack (default 300; "inf": none)
 *     PATH is relative to queue_directory ("deferred/A/ABCDEF123"); parent
 *     directories are made as needed; lines that do not fit are skipped.
 *     The tree is made in a fresh directory under a private mkdtemp()
 *     directory in $TMPDIR (or /tmp), postfix_scan_queue() runs on it, and
 *     the tree is removed. A scan that succeeds must give counts that add
 *     up and a line that queue_scan_parse_line() accepts.
 * Nothing else is written, and nothing outlives an input but the empty
 * private directory, which is removed at exit. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "macros.h"
#include "postfix.h"
#include "queue-scan.h"
#include "probe.h"

#define ENTRIES_MAX 64
#define DEPTH_MAX 6          /* one more than the scan walks */
#define PATH_MAX_FUZZ 512

static char base[PATH_MAX_FUZZ];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (flag == FTW_D || flag == FTW_DP || flag == FTW_DNR)
                (void) chmod(path, 0700);
        return remove(path);
}

static void rm_tree(const char *path) {
        (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void base_remove(void) {
        if (base[0])
                rm_tree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *tmp = getenv("TMPDIR");

        log_set_max_level(-1);
        (void) snprintf(base, sizeof(base), "%s/fuzz-spool-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        if (!mkdtemp(base))
                abort();
        (void) atexit(base_remove);
        return 0;
}

static bool equal_stats(const QueueStats *a, const QueueStats *b) {
        return a->backlog == b->backlog && a->incoming == b->incoming && a->active == b->active &&
               a->deferred == b->deferred && a->maildrop == b->maildrop &&
               a->oldest_age_usec == b->oldest_age_usec && strcmp(a->oldest_id, b->oldest_id) == 0 &&
               a->schedule_known == b->schedule_known && a->overdue == b->overdue &&
               a->most_overdue_usec == b->most_overdue_usec && a->slack_usec == b->slack_usec &&
               strcmp(a->schedule_source, b->schedule_source) == 0 && a->frozen == b->frozen &&
               a->hung == b->hung && a->hung_pid == b->hung_pid && a->hung_age_usec == b->hung_age_usec &&
               strcmp(a->hung_id, b->hung_id) == 0;
}

/* 1 and 2: the input as a line from a child. The parsers, like exec's
 * callers, get a buffer NUL-terminated at SIZE. */
static void fuzz_lines(const uint8_t *data, size_t size) {
        char line[QUEUE_SCAN_LINE_MAX];
        QueueStats q, q2;
        uint64_t usec;
        char *s;
        int n;

        s = malloc(size + 1);
        if (!s)
                return;
        memcpy(s, data, size);
        s[size] = 0;

        if (queue_scan_parse_line(s, size, &q) == 0) {
                FUZZ_CHECK(q.incoming + q.active + q.deferred + q.maildrop == q.backlog);
                n = queue_scan_format_line(line, sizeof(line), &q);
                FUZZ_CHECK(n > 0);
                FUZZ_CHECK(queue_scan_parse_line(line, (size_t) n, &q2) == 0);
                FUZZ_CHECK(equal_stats(&q, &q2));
        }
        (void) postfix_parse_time(s, size, &usec);
        free(s);
}

/* A relative path of at most DEPTH_MAX plain components, or false. */
static bool path_ok(const char *p) {
        unsigned depth = 0;

        if (p[0] == 0 || p[0] == '/' || strlen(p) > 200)
                return false;
        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");

                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (++depth > DEPTH_MAX)
                        return false;
                c += n;
                if (*c == '/')
                        c++;
        }
        return p[strlen(p) - 1] != '/';
}

/* mkdir -p of the directories above REL in TOP. */
static void make_parents(int top, const char *rel) {
        char buf[PATH_MAX_FUZZ];

        (void) snprintf(buf, sizeof(buf), "%s", rel);
        for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = 0;
                (void) mkdirat(top, buf, 0700);
                *slash = '/';
        }
}

static void make_entry(int top, const char *line, uint64_t now_sec, uint64_t *slack_usec) {
        char type[8], path[PATH_MAX_FUZZ];
        unsigned mode;
        long long delta;
        int fd;

        if (sscanf(line, "slack %lld", &delta) == 1) {
                if (delta >= 0 && delta < 100LL * 365 * 86400)
                        *slack_usec = (uint64_t) delta * USEC_PER_SEC;
                return;
        }
        if (strncmp(line, "slack inf", 9) == 0) {
                *slack_usec = USEC_INFINITY;
                return;
        }
        if (sscanf(line, "%7s %500s", type, path) != 2 || strlen(type) != 1 || !path_ok(path))
                return;
        make_parents(top, path);

        switch (type[0]) {
        case 'd':
                (void) mkdirat(top, path, 0700);
                break;
        case 'l':
                (void) symlinkat("x", top, path);
                break;
        case 'p':
                (void) mkfifoat(top, path, 0600);
                break;
        case 'f': {
                struct timespec ts[2] = {};

                if (sscanf(line, "%*s %*s %o %lld", &mode, &delta) != 2)
                        return;
                fd = openat(top, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return;
                (void) fchmod(fd, mode & 07777);
                (void) close(fd);
                if (delta < -(long long) now_sec)
                        delta = -(long long) now_sec;
                if (delta > 100LL * 365 * 86400)
                        delta = 100LL * 365 * 86400;
                ts[0].tv_sec = ts[1].tv_sec = (time_t) ((long long) now_sec + delta);
                (void) utimensat(top, path, ts, AT_SYMLINK_NOFOLLOW);
                break;
        }
        default:
                break;
        }
}

/* 3: the input as a spool tree. */
static void fuzz_tree(const uint8_t *data, size_t size) {
        static unsigned serial;
        char dir[PATH_MAX_FUZZ], reason[PROBE_REASON_MAX], line[QUEUE_SCAN_LINE_MAX];
        uint64_t now_sec = (uint64_t) time(NULL), slack_usec = 300 * USEC_PER_SEC;
        unsigned entries = 0;
        QueueStats q, q2;
        const char *p = (const char *) data, *end = p + size;
        int top, r, n;

        (void) snprintf(dir, sizeof(dir), "%s/q%u", base, serial++);
        if (mkdir(dir, 0700) < 0)
                return;
        top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0) {
                rm_tree(dir);
                return;
        }

        while (p < end && entries < ENTRIES_MAX) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char buf[PATH_MAX_FUZZ];

                if (len < sizeof(buf) && !memchr(p, 0, len)) {
                        memcpy(buf, p, len);
                        buf[len] = 0;
                        make_entry(top, buf, now_sec, &slack_usec);
                        entries++;
                }
                p += len + 1;
        }
        (void) close(top);

        r = postfix_scan_queue(dir, now_sec * USEC_PER_SEC, slack_usec, &q, reason, sizeof(reason));
        if (r == 0) {
                FUZZ_CHECK(q.schedule_known);
                FUZZ_CHECK(q.incoming + q.active + q.deferred + q.maildrop == q.backlog);
                FUZZ_CHECK(q.overdue <= q.backlog);
                FUZZ_CHECK((q.backlog == 0) == (q.oldest_id[0] == 0));
                n = queue_scan_format_line(line, sizeof(line), &q);
                FUZZ_CHECK(n > 0);
                /* What the probe would make of the child's line. */
                if (queue_scan_parse_line(line, (size_t) n, &q2) != 0) {
                        fprintf(stderr, "scan line refused: %s", line);
                        abort();
                }
                FUZZ_CHECK(equal_stats(&q, &q2));
        } else
                FUZZ_CHECK(r == -ENOMEM || strncmp(reason, "scan ", 5) == 0);

        rm_tree(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_lines(data, size);
        fuzz_tree(data, size);
        return 0;
}
