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
        unsigned names, walks_now, collision_walks;
        uint64_t key_mask;            /* the table's (UINT64_MAX, or narrow: collisions) */
        bool counted_only;            /* every file made is a counted message */
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
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, pick(w, 3) == 0 && !w->counted_only ? 0600 : 0700);
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

/* The oldest message is delivered (as the full scan names it): the next
 * oldest's name must be found again. */
static void op_delete_oldest(World *w) {
        QueueStats ref;
        char reason[256];

        assert_int_equal(postfix_scan_queue(w->dir, w->now, w->slack, &ref, reason, sizeof(reason)), 0);
        for (size_t i = 0; i < w->n_files && ref.oldest_id[0]; i++) {
                const char *name = strrchr(w->files[i], '/') + 1;

                if (strcmp(name, ref.oldest_id) == 0 && strncmp(w->files[i], "hold/", 5) != 0) {
                        char p[256];

                        path_of(w, w->files[i], p, sizeof(p));
                        assert_int_equal(unlink(p), 0);
                        memcpy(w->files[i], w->files[--w->n_files], sizeof(w->files[0]));
                        return;
                }
        }
}

/* A queue run delivers half of the mail at once: the arrays shrink. */
static void op_delete_many(World *w) {
        for (size_t n = w->n_files / 2; n > 0; n--)
                op_delete(w);
}

/* Finished by postdrop/cleanup: the owner-execute bits (ready). */
static void op_chmod(World *w) {
        int i = pick_file(w);
        char p[256];

        if (i < 0 || w->counted_only)
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

        if (w->n_dirs >= ELEMENTSOF(w->dirs) - 1 || w->counted_only)
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

static void assert_stats_equal(const QueueStats *a, const QueueStats *b) {
        assert_int_equal(a->backlog, b->backlog);
        assert_int_equal(a->incoming, b->incoming);
        assert_int_equal(a->active, b->active);
        assert_int_equal(a->deferred, b->deferred);
        assert_int_equal(a->maildrop, b->maildrop);
        assert_string_equal(a->oldest_id, b->oldest_id);
        assert_int_equal(a->oldest_age_usec, b->oldest_age_usec);
        assert_int_equal(a->schedule_known, b->schedule_known);
        assert_int_equal(a->overdue, b->overdue);
        assert_int_equal(a->most_overdue_usec, b->most_overdue_usec);
        assert_int_equal(a->slack_usec, b->slack_usec);
}

/* A walk of the whole spool as the probe does it: its own figures answer
 * the round; the table it loads must give the same, unless it found a
 * collision (then the table is not used). */
static void walk(World *w, QueueStats *ret) {
        char reason[256];
        QueueStats t;

        spool_follow_begin_full(&w->f);
        assert_int_equal(postfix_follow_scan(w->dir, w->ifd, w->mfd, w->now, w->slack, ret, reason,
                                             sizeof(reason)), 0);
        records_apply(w);
        w->full_walks++;
        if (w->f.need_full) {
                assert_true(w->f.idx.collisions > 0);
                w->collision_walks++;
                return;
        }
        assert_int_equal(spool_index_stats(&w->f.idx, w->now, w->slack, &t), 0);
        assert_stats_equal(&t, ret);
}

/* One round as the probe does it (postfix_start_follow(),
 * postfix_follow_answer()), in process. */
static void round_incremental(World *w, QueueStats *ret) {
        char buf[8192], reason[256];
        ssize_t n;

        while ((n = read(w->ifd, buf, sizeof(buf))) > 0)
                assert_int_equal(spool_follow_events(&w->f, buf, (size_t) n), 0);
        assert_true(n < 0 && errno == EAGAIN);
        if (spool_follow_check(&w->f)) {
                walk(w, ret);
                return;
        }
        if (w->f.dirty.n > 0) {
                SpoolDirtyList l = w->f.dirty;

                w->f.dirty = (SpoolDirtyList) {};
                spool_dirty_unique(&l);
                assert_int_equal(postfix_follow_read(w->dir, &w->f, &l, w->ifd, w->mfd, reason, sizeof(reason)), 0);
                spool_dirty_free(&l);
                records_apply(w);
                w->reads++;
        }
        if (w->f.need_full) {
                /* two new names with one key: walked at once */
                w->walks_now++;
                walk(w, ret);
                return;
        }
        if (spool_index_stats(&w->f.idx, w->now, w->slack, ret) == 0)
                return;
        /* The oldest message went: its successor's name, by one listing. */
        assert_int_equal(postfix_follow_names(w->dir, &w->f, w->mfd, reason, sizeof(reason)), 0);
        records_apply(w);
        w->names++;
        if (spool_index_stats(&w->f.idx, w->now, w->slack, ret) == 0)
                return;
        assert_true(w->key_mask != UINT64_MAX);   /* only a narrowed key can fail it */
        spool_follow_invalidate(&w->f, "the oldest message's name was not found");
        w->walks_now++;
        walk(w, ret);
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
        assert_stats_equal(&inc, &ref);
}

/* KEY_MASK: the table's keys (UINT64_MAX; narrow ones force collisions,
 * then every file is a counted message: see README "Incremental queue
 * tracking" on collisions with files that are not). */
static unsigned run_seed(unsigned seed, uint64_t key_mask) {
        static const struct {
                const char *name;
                void (*fn)(World *w);
                unsigned weight;
        } ops[] = {
                { "create",   op_create,       30 },
                { "rename",   op_rename,       15 },
                { "touch",    op_touch,        15 },
                { "delete",   op_delete,       12 },
                { "delete-oldest", op_delete_oldest, 4 },
                { "delete-many", op_delete_many, 1 },
                { "chmod",    op_chmod,         8 },
                { "write",    op_write,         8 },
                { "hash-dir", op_new_hash_dir,  4 },
                { "overflow", op_overflow,      1 },
        };
        unsigned total = 0, collisions;
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
        w->key_mask = w->f.idx.key_mask = key_mask;
        w->counted_only = key_mask != UINT64_MAX;
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
        print_message("seed %u mask %#" PRIx64 ": %u rounds read changed names, %u resolved the oldest name, "
                      "%u full walks (%u found a collision, %u in the round), %u overflows (%u real), %zu files, "
                      "table %zu bytes\n",
                      seed, key_mask, w->reads, w->names, w->full_walks, w->collision_walks, w->walks_now,
                      w->overflows, w->real_overflows, w->n_files, spool_index_memory(&w->f.idx));
        if (key_mask == UINT64_MAX) {
                /* The table was mostly kept up to date by reads, not walks. */
                assert_true(w->reads > STEPS / 2);
                /* Every overflow, real or simulated, made the next round walk the whole spool. */
                assert_int_equal(w->full_walks, 1 + w->overflows);
                assert_int_equal(w->collision_walks, 0);
                assert_int_equal(w->walks_now, 0);
                /* Oldest messages went, and their successors were named by a listing. */
                assert_true(w->names > 0);
        }
        collisions = w->collision_walks + w->walks_now;

        spool_follow_done(&w->f);
        close(w->ifd);
        close(w->mfd);
        assert_int_equal(rm_rf(w->dir), 0);
        free(w);
        return collisions;
}

static void test_random_mutations(void **state) {
        for (unsigned seed = 1; seed <= 6; seed++)
                run_seed(seed, UINT64_MAX);
}

/* Keys of 4, 6 and 10 bits: names collide often; every round still
 * equals the full scan (walks, named by the walk itself). */
static void test_random_mutations_collisions(void **state) {
        unsigned n = 0;

        n += run_seed(7, 0xf);
        n += run_seed(8, 0x3f);
        n += run_seed(9, 0x3ff);
        n += run_seed(10, 0x3ff);
        /* Collisions were found (by walks and by new names), and each made the round or the next walk. */
        assert_true(n > 0);
}

/* Records as a child writes them (spool-index.h), for the tests of the
 * table on its own. */
typedef struct Batch {
        char buf[1 << 20];
        size_t n;
} Batch;

static void batch_add(Batch *b, uint8_t type, int wd, const char *name, uint32_t arrival_s, uint32_t due_s) {
        SpoolRecord rec = { .type = type, .wd = wd, .name_len = (uint8_t) strlen(name), .arrival_s = arrival_s,
                            .due_s = due_s, .queue = SPOOL_DEFERRED };

        assert_true(b->n + sizeof(rec) + rec.name_len <= sizeof(b->buf));
        memcpy(b->buf + b->n, &rec, sizeof(rec));
        memcpy(b->buf + b->n + sizeof(rec), name, rec.name_len);
        b->n += sizeof(rec) + rec.name_len;
}

static void batch_apply(SpoolFollow *f, Batch *b) {
        assert_int_equal(spool_follow_apply(f, b->buf, b->n), 0);
        b->n = 0;
}

static const char *index_name(unsigned i) {
        static char name[64];

        (void) snprintf(name, sizeof(name), i % 10 == 0 ? "LONGNAME%030u" : "%05X", i);
        return name;
}

/* The table on its own: a bulk load, removals, updates, the oldest name
 * kept, lost and resolved; ties in arrival go to the smaller name. */
static void test_index(void **state) {
        static Batch b;
        SpoolFollow f;
        QueueStats q;
        uint64_t keys[4];
        bool want[1];

        spool_follow_init(&f);
        spool_follow_begin_full(&f);
        batch_add(&b, SPOOL_RECORD_DIR, 7, "deferred", 0, 0);
        for (unsigned i = 0; i < 1000; i++)
                batch_add(&b, SPOOL_RECORD_MSG, 7, index_name(i), 1000 + i % 500, 5000);
        batch_apply(&f, &b);
        assert_false(f.need_full);
        assert_int_equal(spool_index_find_dir(&f.idx, 7), 0);
        assert_int_equal(f.idx.n_msgs, 1000);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, 500 * USEC_PER_SEC, &q), 0);
        /* i = 0 and 500 arrived at 1000: the smaller name */
        assert_string_equal(q.oldest_id, "LONGNAME000000000000000000000000000000");
        assert_int_equal(q.oldest_age_usec, 5000 * USEC_PER_SEC);

        for (unsigned i = 0; i < 1000; i += 2)
                batch_add(&b, SPOOL_RECORD_GONE, 7, index_name(i), 0, 0);
        batch_apply(&f, &b);
        assert_int_equal(f.idx.n_msgs, 500);
        /* The oldest went; 00001 and 001F5 arrived at 1001, names unknown. */
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, 500 * USEC_PER_SEC, &q), -ENOKEY);
        assert_int_equal(q.backlog, 500);
        assert_int_equal(q.oldest_age_usec, 4999 * USEC_PER_SEC);
        assert_string_equal(q.oldest_id, "");
        assert_int_equal(spool_index_names_wanted(&f.idx, want), 1);
        assert_true(want[0]);
        assert_int_equal(spool_index_oldest_keys(&f.idx, 0, keys, ELEMENTSOF(keys)), 2);
        assert_true(keys[0] < keys[1]);
        /* A listing that matched one name only: something changed, still unknown. */
        batch_add(&b, SPOOL_RECORD_NAME, 7, "001F5", 1, 0);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, 500 * USEC_PER_SEC, &q), -ENOKEY);
        batch_add(&b, SPOOL_RECORD_NAME, 7, "00001", 2, 0);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, 500 * USEC_PER_SEC, &q), 0);
        assert_string_equal(q.oldest_id, "00001");
        assert_int_equal(q.deferred, 500);
        assert_int_equal(q.overdue, 500);
        assert_int_equal(q.most_overdue_usec, 1000 * USEC_PER_SEC);

        /* Updated in place to an earlier second: still known. */
        batch_add(&b, SPOOL_RECORD_MSG, 7, "00001", 999, 5000);
        batch_apply(&f, &b);
        assert_int_equal(f.idx.n_msgs, 500);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, USEC_INFINITY, &q), 0);
        assert_string_equal(q.oldest_id, "00001");
        assert_int_equal(q.oldest_age_usec, 5001 * USEC_PER_SEC);
        assert_int_equal(q.overdue, 0);
        /* A new message of an earlier second: its name is at hand. */
        batch_add(&b, SPOOL_RECORD_MSG, 7, "ZZZ", 998, 5000);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, USEC_INFINITY, &q), 0);
        assert_string_equal(q.oldest_id, "ZZZ");
        /* ... of the same second as the oldest, with a smaller name: too. */
        batch_add(&b, SPOOL_RECORD_MSG, 7, "AAA", 998, 5000);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, USEC_INFINITY, &q), 0);
        assert_string_equal(q.oldest_id, "AAA");
        assert_int_equal(f.idx.n_msgs, 502);
        batch_add(&b, SPOOL_RECORD_GONE, 7, "AAA", 0, 0);
        batch_add(&b, SPOOL_RECORD_GONE, 7, "ZZZ", 0, 0);
        /* the oldest moves to a later second: 00001 ties with 001F5 at 1001 */
        batch_add(&b, SPOOL_RECORD_MSG, 7, "00001", 1001, 5000);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, USEC_INFINITY, &q), -ENOKEY);
        batch_add(&b, SPOOL_RECORD_NAME, 7, "00001", 2, 0);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, USEC_INFINITY, &q), 0);
        assert_string_equal(q.oldest_id, "00001");
        assert_int_equal(f.idx.n_msgs, 500);
        /* Everything goes: empty, and its array freed. */
        for (unsigned i = 1; i < 1000; i += 2)
                batch_add(&b, SPOOL_RECORD_GONE, 7, index_name(i), 0, 0);
        batch_apply(&f, &b);
        assert_int_equal(spool_index_stats(&f.idx, 6000 * USEC_PER_SEC, USEC_INFINITY, &q), 0);
        assert_int_equal(q.backlog, 0);
        assert_string_equal(q.oldest_id, "");
        assert_int_equal(q.oldest_age_usec, 0);
        assert_int_equal(spool_index_memory(&f.idx), sizeof(SpoolDir) + sizeof("deferred"));
        spool_follow_done(&f);
}

/* SipHash-2-4's published test vectors (the paper's appendix, the
 * reference implementation's vectors.h): key 00 01 .. 0f. */
static void test_siphash(void **state) {
        SpoolFollow f;
        char in[15];

        spool_follow_init(&f);
        f.idx.key[0] = 0x0706050403020100ULL;
        f.idx.key[1] = 0x0f0e0d0c0b0a0908ULL;
        for (unsigned i = 0; i < sizeof(in); i++)
                in[i] = (char) i;
        assert_true(spool_name_key(&f.idx, in, 0) == 0x726fdb47dd0e0e31ULL);
        assert_true(spool_name_key(&f.idx, in, 15) == 0xa129ca6149be45e5ULL);
        spool_follow_done(&f);
}

/* The bytes held: 10 000 messages in 16 directories after a walk, then
 * after 90 % went. */
static void test_memory(void **state) {
        static Batch b;
        const size_t page = (size_t) sysconf(_SC_PAGESIZE);
        char path[32], name[32];
        size_t strings = 0, expect;
        SpoolFollow f;
        QueueStats q;

        spool_follow_init(&f);
        spool_follow_begin_full(&f);
        for (unsigned d = 0; d < 16; d++) {
                (void) snprintf(path, sizeof(path), "deferred/%X", d);
                batch_add(&b, SPOOL_RECORD_DIR, 100 + (int) d, path, 0, 0);
                strings += strlen(path) + 1;
        }
        for (unsigned i = 0; i < 10000; i++) {
                (void) snprintf(name, sizeof(name), "%X%09X", i % 16, i / 16);   /* 10 bytes */
                batch_add(&b, SPOOL_RECORD_MSG, 100 + (int) (i % 16), name, 1000000 + i, 2000000);
        }
        batch_apply(&f, &b);
        assert_int_equal(f.idx.n_msgs, 10000);
        assert_int_equal(spool_index_stats(&f.idx, 3000000 * USEC_PER_SEC, 0, &q), 0);
        assert_string_equal(q.oldest_id, "0000000000");
        /* 625 entries of 16 bytes a directory: 10 000 bytes, a mapping of
         * whole pages; each directory's oldest name is kept (11 bytes). */
        for (unsigned d = 0; d < 16; d++) {
                assert_true(f.idx.dirs[d].mapped);
                assert_int_equal((size_t) f.idx.dirs[d].alloc * 16, (10000 + page - 1) / page * page);
        }
        expect = 16 * sizeof(SpoolDir) + strings + 16 * 11 + 16 * ((10000 + page - 1) / page * page);
        assert_int_equal(spool_index_memory(&f.idx), expect);
        print_message("10000 messages in 16 directories: %zu bytes (%zu a message)\n", expect, expect / 10000);

        /* 90 % go, the oldest stay: 63 entries in directories 0-7, 62 in
         * 8-15; each array shrinks to n + n/8 entries, malloc()ed (below
         * SPOOL_MAP_MIN): 70 and 69 entries. */
        for (unsigned i = 0; i < 10000; i++) {
                unsigned d = i % 16, j = i / 16;

                if (j < (d < 8 ? 63u : 62u))
                        continue;
                (void) snprintf(name, sizeof(name), "%X%09X", d, j);
                batch_add(&b, SPOOL_RECORD_GONE, 100 + (int) d, name, 0, 0);
        }
        batch_apply(&f, &b);
        assert_int_equal(f.idx.n_msgs, 1000);
        for (unsigned d = 0; d < 16; d++) {
                assert_false(f.idx.dirs[d].mapped);
                assert_int_equal(f.idx.dirs[d].alloc, d < 8 ? 70 : 69);
        }
        expect = 16 * sizeof(SpoolDir) + strings + 16 * 11 + 8 * 70 * 16 + 8 * 69 * 16;
        assert_int_equal(spool_index_memory(&f.idx), expect);
        assert_int_equal(spool_index_stats(&f.idx, 3000000 * USEC_PER_SEC, 0, &q), 0);
        assert_int_equal(q.backlog, 1000);
        assert_string_equal(q.oldest_id, "0000000000");
        spool_follow_done(&f);
}

/* What the daemon's table costs at 100 000 messages in 16 directories
 * (Postfix's deferred with hash_queue_depth = 1): the bytes it reports,
 * and the growth of this process's Private_Dirty (proc(5),
 * /proc/self/smaps_rollup) around the walk's batch, for the log. */
static long private_dirty_kb(void) {
        char line[256];
        long kb = -1;
        FILE *f = fopen("/proc/self/smaps_rollup", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Private_Dirty: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

static void test_memory_100k(void **state) {
        const size_t page = (size_t) sysconf(_SC_PAGESIZE);
        size_t size = 0, alloc = 128 * 100000 + 4096, m;
        char *buf = mmap(NULL, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char path[32], name[32];
        long before, after;
        SpoolFollow f;

        assert_true(buf != MAP_FAILED);
        for (unsigned d = 0; d < 16; d++) {
                SpoolRecord rec = { .type = SPOOL_RECORD_DIR, .wd = 100 + (int) d, .queue = SPOOL_DEFERRED };

                (void) snprintf(path, sizeof(path), "deferred/%X", d);
                rec.name_len = (uint8_t) strlen(path);
                memcpy(buf + size, &rec, sizeof(rec));
                memcpy(buf + size + sizeof(rec), path, rec.name_len);
                size += sizeof(rec) + rec.name_len;
        }
        for (unsigned i = 0; i < 100000; i++) {
                SpoolRecord rec = { .type = SPOOL_RECORD_MSG, .wd = 100 + (int) (i % 16), .arrival_s = 1000000 + i,
                                    .due_s = 2000000 };

                (void) snprintf(name, sizeof(name), "4Q%X%010X", i % 16, i * 2654435761u);   /* 13 bytes */
                rec.name_len = (uint8_t) strlen(name);
                memcpy(buf + size, &rec, sizeof(rec));
                memcpy(buf + size + sizeof(rec), name, rec.name_len);
                size += sizeof(rec) + rec.name_len;
        }
        spool_follow_init(&f);
        spool_follow_begin_full(&f);
        before = private_dirty_kb();
        assert_int_equal(spool_follow_apply(&f, buf, size), 0);
        after = private_dirty_kb();
        assert_false(f.need_full);
        assert_int_equal(f.idx.n_msgs, 100000);
        m = spool_index_memory(&f.idx);
        /* 6250 entries of 16 bytes a directory: 100 000 bytes in 25 pages. */
        assert_int_equal(m, 16 * sizeof(SpoolDir) + 16 * (strlen("deferred/0") + 1) + 16 * (13 + 1) +
                                    16 * ((100000 + page - 1) / page * page));
        print_message("100000 messages in 16 directories: table %zu bytes (%.2f a message), records %zu bytes; "
                      "Private_Dirty %ld kB before the batch, %ld kB after (+%ld kB)\n",
                      m, (double) m / 100000, size, before, after, after - before);
        spool_follow_done(&f);
        assert_int_equal(munmap(buf, alloc), 0);
}

/* Events: overflow and an unknown watch invalidate; IN_IGNORED drops the
 * directory and its messages; moved-out directories invalidate. */
static void test_events(void **state) {
        SpoolFollow f;
        char buf[sizeof(SpoolRecord) * 2 + 16];
        SpoolRecord d = { .type = SPOOL_RECORD_DIR, .wd = 3, .queue = SPOOL_ACTIVE, .depth = 1, .name_len = 8 };
        SpoolRecord m = { .type = SPOOL_RECORD_MSG, .wd = 3, .name_len = 5, .arrival_s = 1, .due_s = 2 };
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
        assert_int_equal(spool_index_stats(&f.idx, 10 * USEC_PER_SEC, 0, &q), 0);
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
                cmocka_unit_test(test_siphash),
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_memory_100k),
                cmocka_unit_test(test_events),
                cmocka_unit_test(test_random_mutations),
                cmocka_unit_test(test_random_mutations_collisions),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
