/* SPDX-License-Identifier: MIT */
/* Incremental queue tracking (probes/spool-index.c, postfix_follow_*() in
 * probes/postfix.c) against the full scan (postfix_scan_queue()): random
 * sequences of spool mutations on a temporary spool; after each step the
 * incremental view equals a fresh full scan, field by field. Seeded and
 * bounded: each seed runs STEPS steps, and a failure names seed and step. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "macros.h"
#include "postfix.h"
#include "spool-index.h"
#include "tests.h"

#define STEPS 400
#define FILES_MAX 256
#define HOUR (3600 * USEC_PER_SEC)

static const char *const queues[] = { "incoming", "active", "deferred", "maildrop", "hold" };

typedef struct World {
        char dir[64];
        int ifd, mfd;
        SpoolFollow f;
        uint64_t now, slack;
        uint64_t rng;
        unsigned seed, step;
        char files[FILES_MAX][128];   /* relative paths of the files made */
        size_t n_files;
        char dirs[64][64];            /* relative paths of the queue (sub)directories */
        size_t n_dirs;
        unsigned full_walks, reads, overflows, real_overflows;
} World;

/* splitmix64: the same sequence for a seed on every machine. */
static uint64_t rnd(World *w) {
        uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static unsigned pick(World *w, unsigned n) {
        return (unsigned) (rnd(w) % n);
}

static void path_of(const World *w, const char *rel, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/%s", w->dir, rel);
}

static void add_dir(World *w, const char *rel) {
        char p[256];

        path_of(w, rel, p, sizeof(p));
        assert_int_equal(mkdir(p, 0700), 0);
        assert_true(w->n_dirs < ELEMENTSOF(w->dirs));
        (void) snprintf(w->dirs[w->n_dirs++], sizeof(w->dirs[0]), "%s", rel);
}

/* Sets both times of REL to now + OFFSET seconds. */
static void set_times(World *w, const char *rel, long offset) {
        char p[256];
        struct timespec ts[2] = {
                { .tv_sec = (time_t) (w->now / USEC_PER_SEC) + offset, .tv_nsec = (long) pick(w, 1000000) * 1000 },
        };

        ts[1] = ts[0];
        path_of(w, rel, p, sizeof(p));
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* A new file in a random directory; incoming/maildrop files are sometimes
 * still "being written" (mode 0600: not counted). Names are Postfix-like
 * (hex), sometimes long ids, sometimes equal times to exercise ties. */
static void op_create(World *w) {
        char name[40], rel[128], p[256];
        const char *dir;
        int fd;

        if (w->n_files >= FILES_MAX)
                return;
        dir = w->dirs[pick(w, (unsigned) w->n_dirs)];
        if (pick(w, 4) == 0)
                (void) snprintf(name, sizeof(name), "4Q%08llxz%08llx", (unsigned long long) (rnd(w) & 0xffffffff),
                                (unsigned long long) (rnd(w) & 0xffffffff));
        else
                (void) snprintf(name, sizeof(name), "%05llX%05llX", (unsigned long long) (rnd(w) & 0xfffff),
                                (unsigned long long) (rnd(w) & 0xfffff));
        (void) snprintf(rel, sizeof(rel), "%s/%s", dir, name);
        path_of(w, rel, p, sizeof(p));
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, pick(w, 3) == 0 ? 0600 : 0700);
        if (fd < 0 && errno == EEXIST)
                return;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "C", 1), 1);
        close(fd);
        set_times(w, rel, pick(w, 2) ? -(long) pick(w, 4 * 3600) : (long) pick(w, 4 * 3600));
        (void) snprintf(w->files[w->n_files++], sizeof(w->files[0]), "%s", rel);
}

static int pick_file(World *w) {
        return w->n_files ? (int) pick(w, (unsigned) w->n_files) : -1;
}

static void op_rename(World *w) {
        int i = pick_file(w);
        char rel[128], a[256], b[256];
        const char *name;

        if (i < 0)
                return;
        name = strrchr(w->files[i], '/') + 1;
        (void) snprintf(rel, sizeof(rel), "%s/%s", w->dirs[pick(w, (unsigned) w->n_dirs)], name);
        path_of(w, w->files[i], a, sizeof(a));
        path_of(w, rel, b, sizeof(b));
        if (access(b, F_OK) == 0)
                return;
        assert_int_equal(rename(a, b), 0);
        (void) snprintf(w->files[i], sizeof(w->files[0]), "%s", rel);
}

static void op_touch(World *w) {
        int i = pick_file(w);

        if (i >= 0)
                set_times(w, w->files[i], pick(w, 2) ? (long) pick(w, 3 * 3600) : -(long) pick(w, 3 * 3600));
}

static void op_delete(World *w) {
        int i = pick_file(w);
        char p[256];

        if (i < 0)
                return;
        path_of(w, w->files[i], p, sizeof(p));
        assert_int_equal(unlink(p), 0);
        memcpy(w->files[i], w->files[--w->n_files], sizeof(w->files[0]));
}

/* Finished by postdrop/cleanup: the owner-execute bits (ready). */
static void op_chmod(World *w) {
        int i = pick_file(w);
        char p[256];

        if (i < 0)
                return;
        path_of(w, w->files[i], p, sizeof(p));
        assert_int_equal(chmod(p, pick(w, 4) ? 0700 : 0600), 0);
}

/* A recipient marked done in place: a write, which moves ctime/mtime. */
static void op_write(World *w) {
        int i = pick_file(w);
        char p[256];
        int fd;

        if (i < 0)
                return;
        path_of(w, w->files[i], p, sizeof(p));
        fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "R", 1), 1);
        close(fd);
}

/* A new hashed subdirectory, with a file in it at once (before the next
 * round can have followed it). */
static void op_new_hash_dir(World *w) {
        char rel[64];
        const char *q = queues[pick(w, 4)];

        if (w->n_dirs >= ELEMENTSOF(w->dirs) - 1)
                return;
        (void) snprintf(rel, sizeof(rel), "%s/%X", q, pick(w, 16));
        if (pick(w, 3) == 0)
                (void) snprintf(rel, sizeof(rel), "%s/%X/%X", q, pick(w, 16), pick(w, 16));
        {
                char p[256];
                struct stat sb;
                char parent[64];

                (void) snprintf(parent, sizeof(parent), "%s", rel);
                *strrchr(parent, '/') = 0;
                path_of(w, parent, p, sizeof(p));
                if (stat(p, &sb) < 0)
                        return;
                path_of(w, rel, p, sizeof(p));
                if (stat(p, &sb) == 0)
                        return;
        }
        add_dir(w, rel);
        {
                size_t keep = w->n_dirs;
                char save[64];

                /* the file goes into the new directory */
                memcpy(save, w->dirs[0], sizeof(save));
                memcpy(w->dirs[0], w->dirs[keep - 1], sizeof(save));
                w->n_dirs = 1;
                op_create(w);
                w->n_dirs = keep;
                memcpy(w->dirs[0], save, sizeof(save));
        }
}

/* An overflow of the inotify queue: real where the limit is small enough
 * to reach (alternating names, so that the kernel cannot merge them),
 * else simulated with an IN_Q_OVERFLOW record, after changes whose events
 * are thrown away (lost as an overflow loses them). */
static void op_overflow(World *w) {
        long max = 0;
        FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "re");

        if (f) {
                if (fscanf(f, "%ld", &max) != 1)
                        max = 0;
                fclose(f);
        }
        w->overflows++;
        if (max > 0 && max <= 65536) {
                int a = -1, b = -1;

                /* two files in followed directories (not hold) */
                for (size_t i = 0; i < w->n_files && b < 0; i++)
                        if (strncmp(w->files[i], "hold/", 5) != 0) {
                                if (a < 0)
                                        a = (int) i;
                                else
                                        b = (int) i;
                        }
                if (b >= 0) {
                        char pa[256], pb[256];

                        path_of(w, w->files[a], pa, sizeof(pa));
                        path_of(w, w->files[b], pb, sizeof(pb));
                        for (long i = 0; i < max / 2 + 8; i++) {
                                assert_int_equal(utimensat(AT_FDCWD, pa, NULL, 0), 0);
                                assert_int_equal(utimensat(AT_FDCWD, pb, NULL, 0), 0);
                        }
                        op_delete(w);
                        w->real_overflows++;
                        return;
                }
        }
        {
                char buf[4096];
                struct inotify_event ev = { .wd = -1, .mask = IN_Q_OVERFLOW };

                op_delete(w);
                op_create(w);
                while (read(w->ifd, buf, sizeof(buf)) > 0)
                        ;
                assert_int_equal(spool_follow_events(&w->f, &ev, sizeof(ev)), 0);
        }
}

static void records_apply(World *w) {
        struct stat sb;
        void *m;

        assert_int_equal(fstat(w->mfd, &sb), 0);
        if (sb.st_size > 0) {
                m = mmap(NULL, (size_t) sb.st_size, PROT_READ, MAP_PRIVATE, w->mfd, 0);
                assert_true(m != MAP_FAILED);
                assert_int_equal(spool_follow_apply(&w->f, m, (size_t) sb.st_size), 0);
                munmap(m, (size_t) sb.st_size);
        }
        assert_int_equal(ftruncate(w->mfd, 0), 0);
        assert_int_equal(lseek(w->mfd, 0, SEEK_SET), 0);
}

/* One round as the probe does it (postfix_start_follow()), in process. */
static void round_incremental(World *w, QueueStats *ret) {
        char buf[8192], reason[256];
        ssize_t n;

        while ((n = read(w->ifd, buf, sizeof(buf))) > 0)
                assert_int_equal(spool_follow_events(&w->f, buf, (size_t) n), 0);
        assert_true(n < 0 && errno == EAGAIN);
        if (spool_follow_check(&w->f)) {
                QueueStats ref;

                spool_follow_begin_full(&w->f);
                assert_int_equal(postfix_follow_scan(w->dir, w->ifd, w->mfd, w->now, w->slack, &ref, reason,
                                                     sizeof(reason)), 0);
                records_apply(w);
                w->full_walks++;
        } else if (w->f.dirty.n > 0) {
                SpoolDirtyList l = w->f.dirty;

                w->f.dirty = (SpoolDirtyList) {};
                spool_dirty_unique(&l);
                assert_int_equal(postfix_follow_read(w->dir, &w->f, &l, w->ifd, w->mfd, reason, sizeof(reason)), 0);
                spool_dirty_free(&l);
                records_apply(w);
                w->reads++;
        }
        spool_index_stats(&w->f.idx, w->now, w->slack, ret);
}

static void compare(World *w, const char *op) {
        QueueStats inc, ref;
        char reason[256];

        round_incremental(w, &inc);
        assert_int_equal(postfix_scan_queue(w->dir, w->now, w->slack, &ref, reason, sizeof(reason)), 0);
        if (inc.backlog != ref.backlog || inc.incoming != ref.incoming || inc.deferred != ref.deferred ||
            strcmp(inc.oldest_id, ref.oldest_id) != 0 || inc.oldest_age_usec != ref.oldest_age_usec ||
            inc.overdue != ref.overdue || inc.most_overdue_usec != ref.most_overdue_usec)
                print_error("seed %u step %u (%s): incremental backlog %u (%u/%u/%u/%u) oldest %s %" PRIu64
                            " overdue %u %" PRIu64 "; full scan backlog %u (%u/%u/%u/%u) oldest %s %" PRIu64
                            " overdue %u %" PRIu64 "\n",
                            w->seed, w->step, op, inc.backlog, inc.incoming, inc.active, inc.deferred, inc.maildrop,
                            inc.oldest_id, inc.oldest_age_usec, inc.overdue, inc.most_overdue_usec, ref.backlog,
                            ref.incoming, ref.active, ref.deferred, ref.maildrop, ref.oldest_id, ref.oldest_age_usec,
                            ref.overdue, ref.most_overdue_usec);
        assert_int_equal(inc.backlog, ref.backlog);
        assert_int_equal(inc.incoming, ref.incoming);
        assert_int_equal(inc.active, ref.active);
        assert_int_equal(inc.deferred, ref.deferred);
        assert_int_equal(inc.maildrop, ref.maildrop);
        assert_string_equal(inc.oldest_id, ref.oldest_id);
        assert_int_equal(inc.oldest_age_usec, ref.oldest_age_usec);
        assert_int_equal(inc.schedule_known, ref.schedule_known);
        assert_int_equal(inc.overdue, ref.overdue);
        assert_int_equal(inc.most_overdue_usec, ref.most_overdue_usec);
        assert_int_equal(inc.slack_usec, ref.slack_usec);
}

static void run_seed(unsigned seed) {
        static const struct {
                const char *name;
                void (*fn)(World *w);
                unsigned weight;
        } ops[] = {
                { "create",   op_create,       30 },
                { "rename",   op_rename,       15 },
                { "touch",    op_touch,        15 },
                { "delete",   op_delete,       12 },
                { "chmod",    op_chmod,         8 },
                { "write",    op_write,         8 },
                { "hash-dir", op_new_hash_dir,  4 },
                { "overflow", op_overflow,      1 },
        };
        unsigned total = 0;
        World *w = calloc(1, sizeof(World));

        assert_non_null(w);
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                total += ops[i].weight;
        w->seed = seed;
        w->rng = seed;
        w->now = (uint64_t) time(NULL) * USEC_PER_SEC + 123456;
        w->slack = seed % 3 == 0 ? USEC_INFINITY : (seed % 3 == 1 ? 0 : HOUR);
        (void) snprintf(w->dir, sizeof(w->dir), "/tmp/test-spool-follow-XXXXXX");
        assert_non_null(mkdtemp(w->dir));
        for (size_t i = 0; i < ELEMENTSOF(queues); i++)
                add_dir(w, queues[i]);
        add_dir(w, "deferred/A");
        add_dir(w, "active/B");
        w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(w->ifd >= 0);
        w->mfd = memfd_create("test-spool", MFD_CLOEXEC);
        assert_true(w->mfd >= 0);
        spool_follow_init(&w->f);
        for (unsigned i = 0; i < 20; i++)
                op_create(w);

        compare(w, "start");
        assert_int_equal(w->full_walks, 1);
        for (w->step = 1; w->step <= STEPS; w->step++) {
                unsigned k = pick(w, total), i = 0;

                while (k >= ops[i].weight)
                        k -= ops[i++].weight;
                /* several mutations between two rounds, sometimes */
                ops[i].fn(w);
                if (pick(w, 3) == 0)
                        op_create(w);
                compare(w, ops[i].name);
        }
        print_message("seed %u: %u rounds read changed names, %u full walks, %u overflows (%u real), %zu files\n",
                      seed, w->reads, w->full_walks, w->overflows, w->real_overflows, w->n_files);
        /* The table was mostly kept up to date by reads, not walks. */
        assert_true(w->reads > STEPS / 2);
        assert_true(w->full_walks <= 1 + w->overflows);
        /* Every overflow, real or simulated, made the next round walk the whole spool. */
        assert_int_equal(w->full_walks, 1 + w->overflows);

        spool_follow_done(&w->f);
        close(w->ifd);
        close(w->mfd);
        assert_int_equal(rm_rf(w->dir), 0);
        free(w);
}

static void test_random_mutations(void **state) {
        for (unsigned seed = 1; seed <= 6; seed++)
                run_seed(seed);
}

/* The table on its own: put, update, remove, swap-with-last keeps the hash
 * chains right; ties in arrival go to the smaller name; long names. */
static void test_index(void **state) {
        SpoolFollow f;
        QueueStats q;
        char name[64];
        const SpoolRecord dir = { .type = SPOOL_RECORD_DIR, .wd = 7, .queue = SPOOL_DEFERRED, .name_len = 8 };
        char buf[sizeof(SpoolRecord) + 8];

        spool_follow_init(&f);
        memcpy(buf, &dir, sizeof(dir));
        memcpy(buf + sizeof(dir), "deferred", 8);
        assert_int_equal(spool_follow_apply(&f, buf, sizeof(buf)), 0);
        assert_int_equal(spool_index_find_dir(&f.idx, 7), 0);
        for (unsigned i = 0; i < 1000; i++) {
                (void) snprintf(name, sizeof(name), i % 10 == 0 ? "LONGNAME%030u" : "%05X", i);
                assert_int_equal(spool_index_put(&f.idx, 0, name, strlen(name), 1000 + i % 500, 5000), 0);
        }
        assert_int_equal(f.idx.n_msgs, 1000);
        for (unsigned i = 0; i < 1000; i += 2) {
                (void) snprintf(name, sizeof(name), i % 10 == 0 ? "LONGNAME%030u" : "%05X", i);
                spool_index_remove(&f.idx, 0, name, strlen(name));
        }
        assert_int_equal(f.idx.n_msgs, 500);
        /* update in place */
        assert_int_equal(spool_index_put(&f.idx, 0, "00001", 5, 999, 5000), 0);
        spool_index_stats(&f.idx, 6000, 500, &q);
        assert_int_equal(q.deferred, 500);
        assert_int_equal(q.backlog, 500);
        assert_string_equal(q.oldest_id, "00001");
        assert_int_equal(q.oldest_age_usec, 5001);
        assert_int_equal(q.overdue, 500);
        assert_int_equal(q.most_overdue_usec, 1000);
        /* a tie: 1001 (i = 1) arrives at 1001 as i = 501 ("001F5") does */
        assert_int_equal(spool_index_put(&f.idx, 0, "00001", 5, 1001, 5000), 0);
        spool_index_stats(&f.idx, 6000, USEC_INFINITY, &q);
        assert_string_equal(q.oldest_id, "00001");
        assert_int_equal(q.overdue, 0);
        spool_follow_done(&f);
}

/* Events: overflow and an unknown watch invalidate; IN_IGNORED drops the
 * directory and its messages; moved-out directories invalidate. */
static void test_events(void **state) {
        SpoolFollow f;
        char buf[sizeof(SpoolRecord) * 2 + 16];
        SpoolRecord d = { .type = SPOOL_RECORD_DIR, .wd = 3, .queue = SPOOL_ACTIVE, .depth = 1, .name_len = 8 };
        SpoolRecord m = { .type = SPOOL_RECORD_MSG, .wd = 3, .name_len = 5, .arrival_usec = 1, .due_usec = 2 };
        struct {
                struct inotify_event ev;
                char name[16];
        } e = { .ev = { .wd = 3, .mask = IN_CREATE, .len = 16 }, .name = "ABCDE" };
        struct inotify_event ign = { .wd = 3, .mask = IN_IGNORED };
        QueueStats q;

        spool_follow_init(&f);
        assert_true(f.need_full);
        spool_follow_begin_full(&f);
        assert_false(f.need_full);
        memcpy(buf, &d, sizeof(d));
        memcpy(buf + sizeof(d), "active/B", 8);
        memcpy(buf + sizeof(d) + 8, &m, sizeof(m));
        memcpy(buf + 2 * sizeof(d) + 8, "ABCDE", 5);
        assert_int_equal(spool_follow_apply(&f, buf, 2 * sizeof(d) + 13), 0);
        spool_index_stats(&f.idx, 10, 0, &q);
        assert_int_equal(q.active, 1);

        assert_int_equal(spool_follow_events(&f, &e, sizeof(e)), 0);
        assert_int_equal(f.dirty.n, 1);
        assert_string_equal(spool_dirty_name(&f.dirty, &f.dirty.v[0]), "ABCDE");
        assert_false(spool_follow_check(&f));
        e.ev.wd = 99;
        assert_int_equal(spool_follow_events(&f, &e, sizeof(e)), 0);
        assert_true(spool_follow_check(&f));
        assert_string_equal(f.why, "a change in a directory not followed yet");

        spool_follow_begin_full(&f);
        assert_int_equal(spool_follow_events(&f, &ign, sizeof(ign)), 0);
        assert_false(f.need_full);                 /* a hashed subdirectory went away */
        assert_int_equal(spool_index_find_dir(&f.idx, 3), -ENOENT);

        e.ev.wd = 99;
        e.ev.mask = IN_MOVED_FROM | IN_ISDIR;
        assert_int_equal(spool_follow_events(&f, &e, sizeof(e)), 0);
        assert_true(f.need_full);
        assert_string_equal(f.why, "a directory was moved out");
        spool_follow_begin_full(&f);
        ign.mask = IN_Q_OVERFLOW;
        ign.wd = -1;
        assert_int_equal(spool_follow_events(&f, &ign, sizeof(ign)), 0);
        assert_string_equal(f.why, "inotify queue overflow");
        /* truncated */
        spool_follow_begin_full(&f);
        assert_int_equal(spool_follow_events(&f, &e, sizeof(e) - 1), -EBADMSG);
        assert_true(f.need_full);
        spool_follow_begin_full(&f);
        assert_int_equal(spool_follow_apply(&f, buf, sizeof(SpoolRecord) + 3), -EBADMSG);
        assert_true(f.need_full);
        spool_follow_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_index),
                cmocka_unit_test(test_events),
                cmocka_unit_test(test_random_mutations),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
