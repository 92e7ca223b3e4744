/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "macros.h"
#include "mta.h"
#include "postfix.h"
#include "queue-scan.h"
#include "probe-harness.h"
#include "probe.h"
#include "tests.h"

#define HOUR (3600 * USEC_PER_SEC)
#define MIN (60 * USEC_PER_SEC)

static char spool[] = "/tmp/test-postfix-XXXXXX";
static uint64_t t0;  /* CLOCK_REALTIME, whole seconds, when the fixture was made */

static void mkdir_in(const char *rel) {
        char path[512];
        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
        assert_int_equal(mkdir(path, 0700), 0);
}

/* Creates a queue file whose mtime is AGE_SEC before t0 (negative: after). */
static void file_in(const char *rel, long age_sec) {
        char path[512];
        struct timespec ts[2];
        int fd;

        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "C", 1), 1);
        close(fd);
        ts[0].tv_sec = ts[1].tv_sec = (time_t) (t0 / USEC_PER_SEC) - age_sec;
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int setup_spool(void **state) {
        t0 = (uint64_t) time(NULL) * USEC_PER_SEC;
        if (!mkdtemp(spool))
                return -1;
        mkdir_in("incoming");
        mkdir_in("active");
        mkdir_in("deferred");
        mkdir_in("deferred/A");
        mkdir_in("deferred/C");
        mkdir_in("deferred/C/D");
        mkdir_in("deferred/F");
        mkdir_in("maildrop");
        mkdir_in("hold");
        mkdir_in("corrupt");

        file_in("incoming/4A1B2C3D", 3600);
        file_in("active/5B2C3D4E", 2 * 3600);
        file_in("deferred/A/ABCDEF123", 3 * 3600);      /* the oldest */
        file_in("deferred/C/D/CDE45", -3600);           /* next retry in an hour */
        file_in("deferred/F/F00D1", 1800);
        file_in("maildrop/9C8D7E", 60);
        file_in("hold/0HOLD1", 10 * 24 * 3600);         /* older, but held: not backlog */
        file_in("corrupt/0CORR1", 20 * 24 * 3600);
        return 0;
}

static int teardown_spool(void **state) {
        return rm_rf(spool);
}


static void test_scan_fixture(void **state) {
        QueueStats q;
        char reason[PROBE_REASON_MAX];

        assert_int_equal(postfix_scan_queue(spool, t0, 0, &q, reason, sizeof(reason)), 0);
        assert_string_equal(reason, "");
        assert_int_equal(q.incoming, 1);
        assert_int_equal(q.active, 1);
        assert_int_equal(q.deferred, 3);
        assert_int_equal(q.maildrop, 1);
        assert_int_equal(q.backlog, 6);
        assert_string_equal(q.oldest_id, "ABCDEF123");
        assert_int_equal(q.oldest_age_usec, 3 * HOUR);
        assert_true(q.schedule_known);
        assert_int_equal(q.overdue, 2);                /* A and F, slack 0 */
        assert_int_equal(q.most_overdue_usec, 3 * HOUR);

        /* Later: everything is older by the same amount. */
        assert_int_equal(postfix_scan_queue(spool, t0 + 90 * USEC_PER_SEC, 0, &q, NULL, 0), 0);
        assert_int_equal(q.oldest_age_usec, 3 * HOUR + 90 * USEC_PER_SEC);

        /* A clock behind the files clamps at 0, never wraps. */
        assert_int_equal(postfix_scan_queue(spool, t0 - 4 * HOUR, 0, &q, NULL, 0), 0);
        assert_int_equal(q.oldest_age_usec, 0);
        assert_string_equal(q.oldest_id, "ABCDEF123");
}

/* A file in incoming or maildrop without the owner-execute bits is still
 * being written (MAIL_QUEUE_STAT_READY): not backlog. Elsewhere the mode
 * does not matter. */
static void test_scan_unfinished_files(void **state) {
        char path[512];
        QueueStats q;

        file_in("incoming/7UNFIN1", 10);
        file_in("maildrop/7UNFIN2", 10);
        file_in("deferred/F/7ODDMODE", 10);
        (void) snprintf(path, sizeof(path), "%s/incoming/7UNFIN1", spool);
        assert_int_equal(chmod(path, 0600), 0);
        (void) snprintf(path, sizeof(path), "%s/maildrop/7UNFIN2", spool);
        assert_int_equal(chmod(path, 0644), 0);
        (void) snprintf(path, sizeof(path), "%s/deferred/F/7ODDMODE", spool);
        assert_int_equal(chmod(path, 0600), 0);

        assert_int_equal(postfix_scan_queue(spool, t0, 0, &q, NULL, 0), 0);
        assert_int_equal(q.incoming, 1);
        assert_int_equal(q.maildrop, 1);
        assert_int_equal(q.deferred, 4);
        assert_int_equal(q.backlog, 7);

        /* The fixture is shared by the tests after this one. */
        for (const char *const *f = (const char *const[]) { "incoming/7UNFIN1", "maildrop/7UNFIN2",
                                                             "deferred/F/7ODDMODE", NULL }; *f; f++) {
                (void) snprintf(path, sizeof(path), "%s/%s", spool, *f);
                assert_int_equal(unlink(path), 0);
        }
}

/* Deferred mail is due at its mtime (qmgr(8)); overdue means more than
 * the slack past that. The fixture's incoming, active and maildrop files
 * were created at t0 or a moment later (their ctime), so with a "now" of t0
 * they are not overdue, and two hours later they are. */
static void test_scan_schedule_deferred(void **state) {
        QueueStats q;

        /* A is 3h past due, F 30m, CDE45 is due in an hour. */
        assert_int_equal(postfix_scan_queue(spool, t0, 3600 * USEC_PER_SEC, &q, NULL, 0), 0);
        assert_true(q.schedule_known);
        assert_int_equal(q.overdue, 1);
        assert_int_equal(q.most_overdue_usec, 3 * HOUR);

        assert_int_equal(postfix_scan_queue(spool, t0, 1799 * USEC_PER_SEC, &q, NULL, 0), 0);
        assert_int_equal(q.overdue, 2);
        assert_int_equal(q.most_overdue_usec, 3 * HOUR);

        /* Exactly the slack past due is not overdue yet. */
        assert_int_equal(postfix_scan_queue(spool, t0, 1800 * USEC_PER_SEC, &q, NULL, 0), 0);
        assert_int_equal(q.overdue, 1);
        assert_int_equal(postfix_scan_queue(spool, t0, 3 * HOUR, &q, NULL, 0), 0);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);
        assert_int_equal(postfix_scan_queue(spool, t0, USEC_INFINITY, &q, NULL, 0), 0);
        assert_true(q.schedule_known);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);
        assert_int_equal(q.backlog, 6);

        /* Two hours on: CDE45 is exactly 1h past due (not overdue), A and F
         * are, and so are the incoming, active and maildrop files, which
         * have sat there for almost 2h. hold and corrupt never count. */
        assert_int_equal(postfix_scan_queue(spool, t0 + 2 * HOUR, 3600 * USEC_PER_SEC, &q, NULL, 0), 0);
        assert_int_equal(q.overdue, 5);
        assert_int_equal(q.most_overdue_usec, 5 * HOUR);
        assert_int_equal(q.backlog, 6);

        /* A clock behind every file: nothing is past due. */
        assert_int_equal(postfix_scan_queue(spool, t0 - 4 * HOUR, 0, &q, NULL, 0), 0);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);
}

static uint64_t ctime_usec(const char *path) {
        struct statx stx;

        assert_int_equal(statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_CTIME, &stx), 0);
        return (uint64_t) stx.stx_ctime.tv_sec * USEC_PER_SEC + stx.stx_ctime.tv_nsec / 1000;
}

/* The ctime as the scan takes it: whole seconds (queue_file_facts()). */
static uint64_t ctime_whole_usec(const char *path) {
        return ctime_usec(path) / USEC_PER_SEC * USEC_PER_SEC;
}

/* What the ctime rule rests on: rename(2), as between Postfix queues, and
 * utime(2), as qmgr's deferral, both set the ctime to the present. */
static void test_rename_updates_ctime(void **state) {
        char dir[] = "/tmp/test-postfix-rename-XXXXXX", a[256], b[256];
        struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
        struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
        uint64_t c0, c1, c2;
        int fd;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(a, sizeof(a), "%s/incoming", dir);
        (void) snprintf(b, sizeof(b), "%s/active", dir);
        fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
        assert_true(fd >= 0);
        close(fd);

        c0 = ctime_usec(a);
        assert_int_equal(nanosleep(&pause, NULL), 0);
        assert_int_equal(rename(a, b), 0);
        c1 = ctime_usec(b);
        assert_true(c1 > c0);
        assert_int_equal(nanosleep(&pause, NULL), 0);
        assert_int_equal(utimensat(AT_FDCWD, b, old, 0), 0);
        c2 = ctime_usec(b);
        assert_true(c2 > c1);

        assert_int_equal(rm_rf(dir), 0);
}

/* incoming, active and maildrop: the time spent in the directory (ctime)
 * counts, whatever the mtime says. ctime cannot be set, so "now" is chosen
 * relative to the files' ctimes (whole seconds, as the scan takes them),
 * far in the future of their mtimes. */
static void test_scan_schedule_ctime(void **state) {
        char dir[] = "/tmp/test-postfix-ctime-XXXXXX", path[256];
        const char *subdirs[] = { "incoming", "active", "deferred", "maildrop", "hold" };
        const char *files[] = { "incoming/1A", "active/2B", "maildrop/3C", "hold/4D" };
        struct timespec future[2] = { { .tv_sec = 4000000000 }, { .tv_sec = 4000000000 } };
        uint64_t c[ELEMENTSOF(files)], cmin = UINT64_MAX, cmax = 0;
        const uint64_t slack = 10 * 60 * USEC_PER_SEC;
        QueueStats q;

        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                (void) snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
                assert_int_equal(mkdir(path, 0700), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int fd;

                (void) snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
                assert_true(fd >= 0);
                close(fd);
                /* An mtime in 2096 must not make it look due later. */
                assert_int_equal(utimensat(AT_FDCWD, path, future, 0), 0);
                c[i] = ctime_whole_usec(path);
                if (i < 3) {  /* not hold */
                        cmin = c[i] < cmin ? c[i] : cmin;
                        cmax = c[i] > cmax ? c[i] : cmax;
                }
        }

        /* Each has sat there exactly the slack at most: none overdue. */
        assert_int_equal(postfix_scan_queue(dir, cmin + slack, slack, &q, NULL, 0), 0);
        assert_int_equal(q.backlog, 3);
        assert_true(q.schedule_known);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);

        /* A microsecond past the slack for the youngest: all three. */
        assert_int_equal(postfix_scan_queue(dir, cmax + slack + 1, slack, &q, NULL, 0), 0);
        assert_int_equal(q.incoming, 1);
        assert_int_equal(q.active, 1);
        assert_int_equal(q.maildrop, 1);
        assert_int_equal(q.overdue, 3);
        assert_int_equal(q.most_overdue_usec, cmax + slack + 1 - cmin);

        /* Far in the future, with no slack. */
        assert_int_equal(postfix_scan_queue(dir, cmax + 30 * 24 * HOUR, 0, &q, NULL, 0), 0);
        assert_int_equal(q.overdue, 3);
        assert_int_equal(q.most_overdue_usec, cmax + 30 * 24 * HOUR - cmin);

        assert_int_equal(rm_rf(dir), 0);
}

static void test_scan_empty_and_missing(void **state) {
        char dir[] = "/tmp/test-postfix-empty-XXXXXX", sub[256], reason[PROBE_REASON_MAX], expect[300];
        QueueStats q;

        assert_non_null(mkdtemp(dir));
        const char *names[] = { "incoming", "active", "deferred" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
                assert_int_equal(mkdir(sub, 0700), 0);
        }

        /* maildrop missing counts as 0; an empty queue has no oldest. */
        assert_int_equal(postfix_scan_queue(dir, t0, 0, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 0);
        assert_int_equal(q.maildrop, 0);
        assert_int_equal(q.oldest_age_usec, 0);
        assert_string_equal(q.oldest_id, "");
        assert_true(q.schedule_known);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);

        /* deferred missing: the wrong directory, not an empty queue. */
        (void) snprintf(sub, sizeof(sub), "%s/deferred", dir);
        assert_int_equal(rmdir(sub), 0);
        assert_int_equal(postfix_scan_queue(dir, t0, 0, &q, reason, sizeof(reason)), -ENOENT);
        (void) snprintf(expect, sizeof(expect), "scan %s/deferred: No such file or directory", dir);
        assert_string_equal(reason, expect);

        /* queue_directory missing altogether */
        (void) snprintf(sub, sizeof(sub), "%s/nonexistent", dir);
        assert_int_equal(postfix_scan_queue(sub, t0, 0, &q, reason, sizeof(reason)), -ENOENT);
        (void) snprintf(expect, sizeof(expect), "scan %s/nonexistent: No such file or directory", dir);
        assert_string_equal(reason, expect);

        /* a file where a queue should be */
        (void) snprintf(sub, sizeof(sub), "%s/deferred", dir);
        int fd = open(sub, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(postfix_scan_queue(dir, t0, 0, &q, reason, sizeof(reason)), -ENOTDIR);
        (void) snprintf(expect, sizeof(expect), "scan %s/deferred: Not a directory", dir);
        assert_string_equal(reason, expect);

        assert_int_equal(rm_rf(dir), 0);
}

/* As root a mode 000 directory is still readable, so the scan runs in a
 * child that dropped to nobody, over a spool that nobody owns. */
static void test_scan_permission_denied(void **state) {
        char dir[] = "/tmp/test-postfix-perm-XXXXXX", sub[256], reason[PROBE_REASON_MAX] = "", expect[300];
        const char *names[] = { "incoming", "active", "deferred" };
        int pipefd[2], status;
        pid_t pid;

        if (geteuid() != 0)
                skip();
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chown(dir, 65534, 65534), 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
                assert_int_equal(mkdir(sub, i == 1 ? 0 : 0700), 0);
                assert_int_equal(chown(sub, 65534, 65534), 0);
        }

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                QueueStats q;
                char r[PROBE_REASON_MAX] = "";
                int k;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                k = postfix_scan_queue(dir, t0, 0, &q, r, sizeof(r));
                (void) !write(pipefd[1], r, strlen(r));
                _exit(k == -EACCES ? 0 : 1);
        }
        close(pipefd[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        (void) !read(pipefd[0], reason, sizeof(reason) - 1);
        close(pipefd[0]);

        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        (void) snprintf(expect, sizeof(expect), "scan %s/active: Permission denied", dir);
        assert_string_equal(reason, expect);
        assert_int_equal(rm_rf(dir), 0);
}

/* For the probe cases: a loop, and a directory for a stand-in postconf. */
typedef struct Fixture {
        sd_event *event;
        char dir[sizeof("/tmp/test-postfix-postconf-XXXXXX")];
        char postconf[sizeof("/tmp/test-postfix-postconf-XXXXXX/postconf")];
} Fixture;

static int setup_probe(void **state) {
        _cleanup_free_ Fixture *f = calloc(1, sizeof(Fixture));

        if (!f)
                return -1;
        strcpy(f->dir, "/tmp/test-postfix-postconf-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        if (sd_event_new(&f->event) < 0) {
                (void) rm_rf(f->dir);
                return -1;
        }
        (void) snprintf(f->postconf, sizeof(f->postconf), "%s/postconf", f->dir);
        *state = TAKE_PTR(f);
        return 0;
}

static int teardown_probe(void **state) {
        Fixture *f = *state;
        int r;

        sd_event_unref(f->event);
        r = rm_rf(f->dir);
        free(f);
        return r;
}

/* Slack 20m: A (3h) and F (30m) are overdue, the files that arrived at
 * t0 are not, however slowly the test runs. */
#define FIXTURE_SLACK (20 * 60 * USEC_PER_SEC)

static Probe *new_probe_with(sd_event *e, const char *dir, uint64_t timeout_usec, uint64_t slack_usec,
                             const char *postconf) {
        PostfixSettings s = {
                .queue_directory = (char *) dir,
                .overdue_slack_usec = slack_usec,
                .postconf_path = (char *) postconf,
        };
        Probe *p = NULL;

        assert_int_equal(probe_new_on(e, &probe_postfix_ops, "postfix-test", timeout_usec, &s, &p), 0);
        assert_non_null(p);
        return p;
}

static Probe *new_probe(sd_event *e, const char *dir, uint64_t timeout_usec) {
        return new_probe_with(e, dir, timeout_usec, FIXTURE_SLACK, NULL);
}

static void test_probe_fixture(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        Probe *p;
        ProbeRun res;
        uint64_t now;

        p = new_probe(e, spool, 10 * USEC_PER_SEC);
        probe_run(e, p, &res);

        assert_int_equal(res.r.status, PROBE_OK);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 20m)");
        assert_int_equal(res.r.queue.backlog, 6);
        assert_int_equal(res.r.queue.incoming, 1);
        assert_int_equal(res.r.queue.active, 1);
        assert_int_equal(res.r.queue.deferred, 3);
        assert_int_equal(res.r.queue.maildrop, 1);
        assert_string_equal(res.r.queue.oldest_id, "ABCDEF123");
        /* The probe measures from its own start time, a little after t0. */
        now = (uint64_t) time(NULL) * USEC_PER_SEC;
        assert_true(res.r.queue.oldest_age_usec >= 3 * HOUR);
        assert_true(res.r.queue.oldest_age_usec <= 3 * HOUR + (now - t0) + USEC_PER_SEC);
        assert_true(res.r.queue.schedule_known);
        assert_int_equal(res.r.queue.overdue, 2);
        assert_true(res.r.queue.most_overdue_usec >= 3 * HOUR);
        assert_true(res.r.queue.most_overdue_usec <= 3 * HOUR + (now - t0) + USEC_PER_SEC);
        assert_int_equal(res.r.queue.slack_usec, FIXTURE_SLACK);   /* for the detector */

        run_until_no_children(e);
        probe_free(p);
}

/* full_scan_interval > 0 (the daemon's default): the first round walks
 * the spool, later rounds read only what changed (a round without changes
 * starts no child), and give what a full scan gives. */
static void test_probe_follow(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        PostfixSettings s = {
                .queue_directory = spool,
                .overdue_slack_usec = FIXTURE_SLACK,
                .full_scan_interval_usec = 600 * USEC_PER_SEC,
        };
        char path[512];
        Probe *p = NULL;
        ProbeRun res;
        int fd;

        assert_int_equal(probe_new_on(e, &probe_postfix_ops, "postfix-follow", 10 * USEC_PER_SEC, &s, &p), 0);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_OK);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 20m)");
        run_until_no_children(e);

        /* nothing changed: answered from memory */
        probe_run(e, p, &res);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 20m)");

        /* the oldest leaves, a message arrives in a new hashed directory */
        (void) snprintf(path, sizeof(path), "%s/deferred/A/ABCDEF123", spool);
        {
                char to[512];

                (void) snprintf(to, sizeof(to), "%s/hold/ABCDEF123", spool);
                assert_int_equal(rename(path, to), 0);
        }
        mkdir_in("active/E");
        (void) snprintf(path, sizeof(path), "%s/active/E/E0001", spool);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
        assert_true(fd >= 0);
        close(fd);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_OK);
        assert_string_equal(res.r.reason, "backlog 6, oldest 5B2C3D4E, overdue 1 (slack 20m)");
        assert_int_equal(res.r.queue.active, 2);
        assert_int_equal(res.r.queue.deferred, 2);
        run_until_no_children(e);

        /* put back as the fixture was */
        assert_int_equal(unlink(path), 0);
        (void) snprintf(path, sizeof(path), "%s/active/E", spool);
        assert_int_equal(rmdir(path), 0);
        {
                char from[512], to[512];

                (void) snprintf(from, sizeof(from), "%s/hold/ABCDEF123", spool);
                (void) snprintf(to, sizeof(to), "%s/deferred/A/ABCDEF123", spool);
                assert_int_equal(rename(from, to), 0);
        }
        probe_run(e, p, &res);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 20m)");
        run_until_no_children(e);
        probe_free(p);
}

static void test_probe_missing_dir(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        Probe *p;
        ProbeRun res;
        char dir[512], expect[600];

        (void) snprintf(dir, sizeof(dir), "%s/nonexistent", spool);
        (void) snprintf(expect, sizeof(expect), "scan %s: No such file or directory", dir);

        p = new_probe(e, dir, 10 * USEC_PER_SEC);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, expect);
        assert_int_equal(res.r.queue.backlog, 0);

        run_until_no_children(e);
        probe_free(p);
}

static void test_probe_timeout(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        Probe *p;
        ProbeRun res;

        /* 1 µs: the deadline always fires before a forked scan can report. */
        p = new_probe(e, spool, 1);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "timed out after 1us");

        /* The killed scan is reaped by the loop, no second callback. */
        run_until_no_children(e);
        assert_int_equal(res.calls, 1);
        probe_free(p);
}

static void test_probe_overlap_and_free(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        Probe *p;
        ProbeRun first, second, third;

        p = new_probe(e, spool, 10 * USEC_PER_SEC);

        probe_run_start(p, &first);
        /* The next tick comes while the scan still runs. */
        probe_run_start(p, &second);
        assert_int_equal(first.calls, 1);
        assert_int_equal(first.r.status, PROBE_UNKNOWN);
        assert_string_equal(first.r.reason, "overlapped by the next run");

        probe_run_wait(e, &second, PROBE_RUN_MAX_USEC);
        assert_int_equal(second.r.status, PROBE_OK);
        assert_int_equal(second.r.queue.backlog, 6);
        assert_int_equal(first.calls, 1);

        /* Freed while running: no callback, the child is still reaped. */
        probe_run_start(p, &third);
        probe_free(p);
        run_until_no_children(e);
        assert_int_equal(third.calls, 0);
}

/* A stand-in for postconf(1): a shell script that checks its arguments
 * and prints BODY's output. Replaced by rename(), as a running script
 * cannot be rewritten in place. */
static void write_postconf(const char *path, const char *body) {
        char tmp[600];
        FILE *f;

        (void) snprintf(tmp, sizeof(tmp), "%s.new", path);
        f = fopen(tmp, "we");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n[ \"$*\" = \"-h -x queue_run_delay\" ] || exit 9\n%s\n", body);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(tmp, 0755), 0);
        assert_int_equal(rename(tmp, path), 0);
}

/* A new auto-slack probe (postconf answering as SCRIPT, or left as it is when
 * NULL), run once and freed; its result in RES. */
static void run_fresh(sd_event *e, const char *postconf, const char *script, ProbeRun *res) {
        Probe *p;

        if (script)
                write_postconf(postconf, script);
        p = new_probe_with(e, spool, 10 * USEC_PER_SEC, USEC_INFINITY, postconf);
        probe_run(e, p, res);
        run_until_no_children(e);
        probe_free(p);
}

static void test_probe_auto_slack(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        const char *postconf = f->postconf;
        char expect[600];
        Probe *p;
        ProbeRun res;

        /* 10s + 60s: A and F are overdue, the rest arrived at t0. */
        write_postconf(postconf, "echo 10s");
        p = new_probe_with(e, spool, 10 * USEC_PER_SEC, USEC_INFINITY, postconf);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_OK);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 1m10s)");
        assert_int_equal(res.r.queue.overdue, 2);
        assert_int_equal(res.r.queue.slack_usec, 70 * USEC_PER_SEC);

        /* Read once: a postconf that now fails is not asked again. */
        write_postconf(postconf, "exit 1");
        probe_run(e, p, &res);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 1m10s)");
        run_until_no_children(e);
        p = probe_free(p);

        /* Minutes; no unit means seconds. */
        run_fresh(e, postconf, "echo 2m", &res);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 3m)");
        run_fresh(e, postconf, "echo 1000", &res);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 17m40s)");

        /* A failing postconf: Postfix's default 300s, said in the reason,
         * and asked again next run. */
        write_postconf(postconf, "exit 1");
        p = new_probe_with(e, spool, 10 * USEC_PER_SEC, USEC_INFINITY, postconf);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_OK);
        (void) snprintf(expect, sizeof(expect),
                        "backlog 6, oldest ABCDEF123, overdue 2 (slack 6m; queue_run_delay unknown, "
                        "300s assumed: %s exited with status 1)", postconf);
        assert_string_equal(res.r.reason, expect);
        assert_int_equal(res.r.queue.overdue, 2);
        assert_true(res.r.queue.most_overdue_usec >= 3 * HOUR);

        write_postconf(postconf, "echo 1h");
        probe_run(e, p, &res);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 1 (slack 1h1m)");
        assert_int_equal(res.r.queue.overdue, 1);
        run_until_no_children(e);
        p = probe_free(p);

        /* Output that is not a Postfix time. */
        const char *bad[] = { "echo soon", "echo 5x", "echo", "echo ' 5s'", "echo 5s5", "printf '5s\\n\\n'",
                              "echo 99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                run_fresh(e, postconf, bad[i], &res);
                (void) snprintf(expect, sizeof(expect),
                                "backlog 6, oldest ABCDEF123, overdue 2 (slack 6m; queue_run_delay unknown, "
                                "300s assumed: %s printed no valid time for queue_run_delay)", postconf);
                assert_string_equal(res.r.reason, expect);
        }

        /* No postconf at all. */
        assert_int_equal(unlink(postconf), 0);
        run_fresh(e, postconf, NULL, &res);
        (void) snprintf(expect, sizeof(expect),
                        "backlog 6, oldest ABCDEF123, overdue 2 (slack 6m; queue_run_delay unknown, "
                        "300s assumed: %s: No such file or directory)", postconf);
        assert_string_equal(res.r.reason, expect);
}

/* Counts the lines with NEEDLE that the probe logs (to stderr) while it
 * runs RUNS times. */
static unsigned count_logged(sd_event *e, Probe *p, unsigned runs, const char *needle) {
        char path[] = "/tmp/test-postfix-log-XXXXXX", line[1024];
        unsigned n = 0;
        ProbeRun res;
        FILE *f;
        int fd, saved;

        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(fflush(stderr), 0);
        saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        for (unsigned i = 0; i < runs; i++)
                probe_run(e, p, &res);
        assert_int_equal(fflush(stderr), 0);
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(fd);

        f = fopen(path, "re");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, needle))
                        n++;
        fclose(f);
        assert_int_equal(unlink(path), 0);
        return n;
}

/* A postconf that keeps failing is logged at warning once, not every run. */
static void test_probe_postconf_warns_once(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        const char *postconf = f->postconf;
        Probe *p;

        write_postconf(postconf, "exit 2");
        p = new_probe_with(e, spool, 10 * USEC_PER_SEC, USEC_INFINITY, postconf);
        assert_int_equal(count_logged(e, p, 3, "cannot read queue_run_delay"), 1);
        write_postconf(postconf, "echo 5m");
        assert_int_equal(count_logged(e, p, 2, "queue_run_delay read after all, overdue slack 360s"), 1);
        run_until_no_children(e);
        probe_free(p);
}

/* A postconf that hangs is cut off by the probe's deadline: UNKNOWN, and
 * the next run asks again. */
static void test_probe_postconf_hangs(void **state) {
        Fixture *f = *state;
        sd_event *e = f->event;
        const char *postconf = f->postconf;
        Probe *p;
        ProbeRun res;

        write_postconf(postconf, "exec sleep 30");
        p = new_probe_with(e, spool, 300 * USEC_PER_MSEC, USEC_INFINITY, postconf);
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "timed out after 300ms");
        run_until_no_children(e);

        write_postconf(postconf, "echo 10s");
        probe_run(e, p, &res);
        assert_int_equal(res.r.status, PROBE_OK);
        assert_string_equal(res.r.reason, "backlog 6, oldest ABCDEF123, overdue 2 (slack 1m10s)");
        run_until_no_children(e);
        probe_free(p);
}

/* The scan child's line and the parser agree, and the parser refuses
 * anything that is not exactly one such line. */
static void test_scan_line(void **state) {
        QueueStats q = {
                .backlog = 6, .incoming = 1, .active = 2, .deferred = 3, .maildrop = 0,
                .oldest_age_usec = 3 * HOUR, .oldest_id = "ABCDEF123",
                .schedule_known = true, .overdue = 2, .most_overdue_usec = HOUR,
                .slack_usec = 6 * MIN, .schedule_source = "file-times",
        }, r;
        char line[QUEUE_SCAN_LINE_MAX], small[16];
        int n;

        n = queue_scan_format_line(line, sizeof(line), &q);
        assert_true(n > 0);
        assert_string_equal(line, "backlog=6 incoming=1 active=2 deferred=3 maildrop=0 oldest_age_usec=10800000000"
                                  " overdue=2 most_overdue_usec=3600000000 slack_usec=360000000 frozen=0 hung=0"
                                  " hung_pid=0 hung_age_usec=0 schedule=file-times hung_id= oldest_id=ABCDEF123\n");
        assert_int_equal(queue_scan_parse_line(line, (size_t) n, &r), 0);
        assert_int_equal(r.backlog, 6);
        assert_int_equal(r.incoming, 1);
        assert_int_equal(r.active, 2);
        assert_int_equal(r.deferred, 3);
        assert_int_equal(r.maildrop, 0);
        assert_int_equal(r.oldest_age_usec, 3 * HOUR);
        assert_string_equal(r.oldest_id, "ABCDEF123");
        assert_true(r.schedule_known);
        assert_string_equal(r.schedule_source, "file-times");
        assert_int_equal(r.overdue, 2);
        assert_int_equal(r.most_overdue_usec, HOUR);
        assert_int_equal(r.slack_usec, 6 * MIN);
        assert_int_equal(r.frozen, 0);
        assert_int_equal(r.hung, 0);
        assert_int_equal(queue_scan_format_line(small, sizeof(small), &q), -ENOBUFS);

        /* Exim's fields: frozen, a hung delivery, ids with '-', another schedule. */
        q = (QueueStats) {
                .backlog = 2, .deferred = 2, .oldest_age_usec = HOUR, .oldest_id = "1s2AbC-000Xyz-Ab",
                .schedule_known = true, .schedule_source = "retry-db", .slack_usec = 31 * MIN,
                .frozen = 4, .hung = 1, .hung_pid = 4242, .hung_id = "1s2AbD-0000000000A-0000",
                .hung_age_usec = 2 * HOUR,
        };
        n = queue_scan_format_line(line, sizeof(line), &q);
        assert_string_equal(line, "backlog=2 incoming=0 active=0 deferred=2 maildrop=0 oldest_age_usec=3600000000"
                                  " overdue=0 most_overdue_usec=0 slack_usec=1860000000 frozen=4 hung=1"
                                  " hung_pid=4242 hung_age_usec=7200000000 schedule=retry-db"
                                  " hung_id=1s2AbD-0000000000A-0000 oldest_id=1s2AbC-000Xyz-Ab\n");
        assert_int_equal(queue_scan_parse_line(line, (size_t) n, &r), 0);
        assert_int_equal(r.frozen, 4);
        assert_int_equal(r.hung, 1);
        assert_int_equal(r.hung_pid, 4242);
        assert_int_equal(r.hung_age_usec, 2 * HOUR);
        assert_string_equal(r.hung_id, "1s2AbD-0000000000A-0000");
        assert_string_equal(r.oldest_id, "1s2AbC-000Xyz-Ab");
        assert_string_equal(r.schedule_source, "retry-db");
        /* No schedule: "none", and no overdue with it; an unknown source is refused. */
        q.schedule_known = false;
        n = queue_scan_format_line(line, sizeof(line), &q);
        assert_true(strstr(line, " schedule=none ") != NULL);
        assert_int_equal(queue_scan_parse_line(line, (size_t) n, &r), 0);
        assert_false(r.schedule_known);
        assert_string_equal(r.schedule_source, "");
        q.schedule_known = true;
        strcpy(q.schedule_source, "guess");
        assert_int_equal(queue_scan_format_line(line, sizeof(line), &q), -EINVAL);

#define TAIL0 " slack_usec=0 frozen=0 hung=0 hung_pid=0 hung_age_usec=0 schedule=file-times hung_id="
        static const char *const bad[] = {
                "",
                "\n",
                /* no newline, two lines */
                "backlog=0 incoming=0 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=",
                "backlog=0 incoming=0 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=\n\n",
                /* counts that do not add up, an id without backlog, overdue without lateness */
                "backlog=2 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=A\n",
                "backlog=0 incoming=0 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=A\n",
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=1 most_overdue_usec=0" TAIL0 " oldest_id=A\n",
                /* out of range, signed, bad id */
                "backlog=4294967296 incoming=4294967296 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=A\n",
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=-1 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=A\n",
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0" TAIL0 " oldest_id=A/B\n",
                /* the old line without the new fields */
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0 oldest_id=A\n",
                /* a hung delivery without its pid or id, overdue without a schedule, an unknown source */
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0"
                " slack_usec=0 frozen=0 hung=1 hung_pid=0 hung_age_usec=0 schedule=retry-db hung_id=X oldest_id=A\n",
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0"
                " slack_usec=0 frozen=0 hung=1 hung_pid=7 hung_age_usec=0 schedule=retry-db hung_id= oldest_id=A\n",
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=1 most_overdue_usec=5"
                " slack_usec=0 frozen=0 hung=0 hung_pid=0 hung_age_usec=0 schedule=none hung_id= oldest_id=A\n",
                "backlog=1 incoming=1 active=0 deferred=0 maildrop=0 oldest_age_usec=0 overdue=0 most_overdue_usec=0"
                " slack_usec=0 frozen=0 hung=0 hung_pid=0 hung_age_usec=0 schedule=guess hung_id= oldest_id=A\n",
        };
#undef TAIL0
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(queue_scan_parse_line(bad[i], strlen(bad[i]), &r), -EBADMSG);
}

static void test_parse_time(void **state) {
        uint64_t v;

        assert_int_equal(postfix_parse_time("300s\n", 5, &v), 0);
        assert_int_equal(v, 300 * USEC_PER_SEC);
        assert_int_equal(postfix_parse_time("5m", 2, &v), 0);
        assert_int_equal(v, 300 * USEC_PER_SEC);
        assert_int_equal(postfix_parse_time("1000", 4, &v), 0);
        assert_int_equal(v, 1000 * USEC_PER_SEC);
        assert_int_equal(postfix_parse_time("2w\n", 3, &v), 0);
        assert_int_equal(v, 14 * 86400 * USEC_PER_SEC);
        assert_int_equal(postfix_parse_time("", 0, &v), -EBADMSG);
        assert_int_equal(postfix_parse_time("\n", 1, &v), -EBADMSG);
        assert_int_equal(postfix_parse_time("5x", 2, &v), -EBADMSG);
        assert_int_equal(postfix_parse_time("5ms", 3, &v), -EBADMSG);
        assert_int_equal(postfix_parse_time("$queue_run_delay", 16, &v), -EBADMSG);
        assert_int_equal(postfix_parse_time("99999999999999999999", 20, &v), -ERANGE);
        assert_int_equal(postfix_parse_time("99999999999999w", 15, &v), -ERANGE);
}

static void test_probe_bad_settings(void **state) {
        sd_event *e = NULL;
        Probe *p = NULL;
        PostfixSettings relative = { .queue_directory = (char *) "var/spool/postfix" };
        PostfixSettings no_timeout = { .queue_directory = (char *) "/var/spool/postfix" };
        PostfixSettings relative_postconf = {
                .queue_directory = (char *) "/var/spool/postfix",
                .postconf_path = (char *) "postconf",
        };

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_postfix_ops, "x", USEC_PER_SEC, &relative, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(probe_new_on(e, &probe_postfix_ops, "x", 0, &no_timeout, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(probe_new_on(e, &probe_postfix_ops, "x", USEC_PER_SEC, &relative_postconf, &p), -EINVAL);
        assert_null(p);
        sd_event_unref(e);
}

/* The chroot's resolver files against the system's (MtaProfile.resolver_view). */
static void test_resolver_view(void **state) {
        char dir[] = "/tmp/test-postfix-resolv-XXXXXX", path[256], buf[512];
        PostfixSettings s = {};
        FILE *f;

        assert_non_null(mkdtemp(dir));
        s.queue_directory = dir;
        /* not chrooted (no etc/ copies): no view of its own */
        assert_int_equal(mta_profile_postfix.resolver_view(&s, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");

        (void) snprintf(path, sizeof(path), "%s/etc", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        (void) snprintf(path, sizeof(path), "%s/etc/resolv.conf", dir);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("# stale copy\nsearch example.org\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(mta_profile_postfix.resolver_view(&s, buf, sizeof(buf)), 1);
        (void) snprintf(path, sizeof(path), "%s/etc/resolv.conf (nameserver 192.0.2.53, nameserver 192.0.2.54) "
                        "differs from /etc/resolv.conf (", dir);
        assert_memory_equal(buf, path, strlen(path));

        assert_int_equal(rm_rf(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolver_view),
                cmocka_unit_test(test_scan_fixture),
                cmocka_unit_test(test_scan_unfinished_files),
                cmocka_unit_test(test_scan_schedule_deferred),
                cmocka_unit_test(test_rename_updates_ctime),
                cmocka_unit_test(test_scan_schedule_ctime),
                cmocka_unit_test(test_scan_empty_and_missing),
                cmocka_unit_test(test_scan_permission_denied),
                cmocka_unit_test_setup_teardown(test_probe_fixture, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_follow, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_missing_dir, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_timeout, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_overlap_and_free, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_auto_slack, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_postconf_hangs, setup_probe, teardown_probe),
                cmocka_unit_test_setup_teardown(test_probe_postconf_warns_once, setup_probe, teardown_probe),
                cmocka_unit_test(test_probe_bad_settings),
                cmocka_unit_test(test_scan_line),
                cmocka_unit_test(test_parse_time),
        };

        block_sigchld();
        return cmocka_run_group_tests(tests, setup_spool, teardown_spool);
}
