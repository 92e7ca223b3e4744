/* SPDX-License-Identifier: MIT */
/* [mta] type = generic (probes/generic.c): the queue scan on scratch
 * directories, the probe's answer, the log words per outcome with the open
 * start (through the log file follower, probes/logfile.c), and the keys,
 * the shipped example profiles and --check-config's advice. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "activity.h"
#include "config.h"
#include "generic.h"
#include "logfile.h"
#include "macros.h"
#include "mta.h"
#include "opensmtpd-envelope.h"
#include "probe-harness.h"
#include "probe.h"
#include "tests.h"

#define SEC  (1000000ULL)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define GENERIC(c) ((const GenericSettings *) (c)->mta_settings)

static char base[] = "/tmp/test-generic-XXXXXX";

static int rm_entry(const char *path, const struct stat *s, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(base));
        return 0;
}

static int teardown(void **state) {
        (void) nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        memcpy(base + strlen(base) - 6, "XXXXXX", 6);
        return 0;
}

/* BASE/REL, into a static buffer of its own per call site's use. */
static char *at(char *buf, size_t size, const char *rel) {
        (void) snprintf(buf, size, "%s/%s", base, rel);
        return buf;
}

static void make_dir(const char *rel) {
        char p[256];

        assert_int_equal(mkdir(at(p, sizeof(p), rel), 0755), 0);
}

/* A file REL with mtime MTIME_SEC (0: now). */
static void make_file(const char *rel, long mtime_sec) {
        char p[256];
        int fd = open(at(p, sizeof(p), rel), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        if (mtime_sec > 0) {
                struct timespec ts[2] = { { .tv_sec = mtime_sec }, { .tv_sec = mtime_sec } };

                assert_int_equal(futimens(fd, ts), 0);
        }
        assert_int_equal(close(fd), 0);
}

static void append(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(close(fd), 0);
}

/* The arrival in a file name: leading decimal seconds up to '.' or the end. */
static void test_name_arrival(void **state) {
        static const struct {
                const char *name;
                int r;
                uint64_t sec;
        } cases[] = {
                { "1796089714.279", 1, 1796089714 },
                { "1796089714",     1, 1796089714 },
                { "0.1",            1, 0 },
                { "999999999999.1", 1, 999999999999ULL },
                { "1000000000000.1", 0, 0 },      /* 13 digits */
                { "1796089714-279", 0, 0 },
                { ".1796089714",    0, 0 },
                { "abc",            0, 0 },
                { "",               0, 0 },
                { "17x.1",          0, 0 },
        };
        uint64_t sec;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                sec = 4242;
                assert_int_equal(generic_name_arrival(GENERIC_ARRIVAL_EPOCH_PREFIX, cases[i].name, &sec), cases[i].r);
                assert_int_equal(sec, cases[i].r ? cases[i].sec : 4242);
        }
        sec = 4242;
        assert_int_equal(generic_name_arrival(GENERIC_ARRIVAL_MTIME, "1796089714.279", &sec), 0);
        assert_int_equal(generic_name_arrival(GENERIC_ARRIVAL_EPOCH_PREFIX, NULL, &sec), 0);
        assert_int_equal(sec, 4242);
}

/* A nullmailer-like queue: files named <epoch>.<pid>, temporary and
 * hidden files that do not count, a subdirectory below the depth. */
static void test_scan(void **state) {
        char q[256], sub[256], reason[PROBE_REASON_MAX];
        char *dirs[] = { q, NULL };
        GenericSettings s = {
                .queue_directories = dirs,
                .queue_glob = (char *) "[0-9]*",
                .arrival = GENERIC_ARRIVAL_EPOCH_PREFIX,
        };
        QueueStats st;

        (void) at(q, sizeof(q), "queue");
        make_dir("queue");
        make_dir("queue/sub");
        make_dir("queue/sub/deeper");
        make_file("queue/1796000000.10", 1796000500);   /* the name counts, not the mtime */
        make_file("queue/1796000100.11", 1796000100);
        make_file("queue/.1700000000.1", 1700000000);   /* hidden */
        make_file("queue/tmp-1700000000", 1700000000);  /* does not match the glob */
        make_file("queue/sub/1795000000.12", 1795000000);
        make_file("queue/sub/deeper/1794000000.13", 1794000000);
        assert_int_equal(symlink("1796000100.11", at(sub, sizeof(sub), "queue/1600000000.1")), 0);

        /* depth 0: the directory itself; a symbolic link is no message */
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_string_equal(reason, "");
        assert_int_equal(st.backlog, 2);
        assert_int_equal(st.deferred, 2);
        assert_int_equal(st.incoming + st.active + st.maildrop, 0);
        assert_string_equal(st.oldest_id, "1796000000.10");
        assert_int_equal(st.oldest_age_usec, 3600 * SEC);
        assert_false(st.schedule_known);
        assert_int_equal(st.overdue, 0);
        assert_string_equal(st.schedule_source, "");

        /* depth 1 and 2 */
        s.queue_depth = 1;
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 3);
        assert_string_equal(st.oldest_id, "1795000000.12");
        assert_int_equal(st.oldest_age_usec, 1003600 * SEC);
        s.queue_depth = 2;
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 4);
        assert_string_equal(st.oldest_id, "1794000000.13");

        /* mtime instead of the name */
        s.queue_depth = 0;
        s.arrival = GENERIC_ARRIVAL_MTIME;
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 2);
        assert_string_equal(st.oldest_id, "1796000100.11");
        assert_int_equal(st.oldest_age_usec, 3500 * SEC);

        /* a name without the time falls back to the mtime; "*" takes every name */
        s.arrival = GENERIC_ARRIVAL_EPOCH_PREFIX;
        s.queue_glob = (char *) "*";
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 3);
        assert_string_equal(st.oldest_id, "tmp-1700000000");

        /* a name as the id of the line: other bytes as '_' */
        make_file("queue/0 odd:name", 1700000000);
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 4);
        assert_string_equal(st.oldest_id, "0_odd_name");
        char p0[256];
        assert_int_equal(unlink(at(p0, sizeof(p0), "queue/0 odd:name")), 0);

        /* a message from the future is of age 0 */
        assert_int_equal(generic_scan_queue(&s, 1600000000ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.oldest_age_usec, 0);

        /* two directories, each counted */
        char q2[256];
        char *two[] = { q, at(q2, sizeof(q2), "queue/sub"), NULL };
        s.queue_directories = two;
        s.queue_glob = (char *) "[0-9]*";
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 3);
        assert_string_equal(st.oldest_id, "1795000000.12");

        /* an empty queue */
        make_dir("empty");
        char e[256];
        char *empty[] = { at(e, sizeof(e), "empty"), NULL };
        s.queue_directories = empty;
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 0);
        assert_int_equal(st.oldest_age_usec, 0);
        assert_string_equal(st.oldest_id, "");
}

/* An mtime far in the future (tmpfs keeps 64-bit seconds: 18446744073710
 * s times 10^6 is past 2^64 microseconds) is the youngest message, not
 * one wrapped around to 448 s after the epoch and taken for the oldest.
 * On a file system that clamps such a time, there is nothing to check. */
static char shm_dir[] = "/dev/shm/test-generic-XXXXXX";

static int shm_setup(void **state) {
        if (!mkdtemp(shm_dir))
                shm_dir[0] = 0;
        return 0;
}

static int shm_teardown(void **state) {
        if (shm_dir[0])
                (void) nftw(shm_dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS);
        return 0;
}

static void test_scan_far_mtime(void **state) {
        char path[64], reason[PROBE_REASON_MAX];
        char *dirs[] = { shm_dir, NULL };
        GenericSettings s = { .queue_directories = dirs, .queue_glob = (char *) "*" };
        struct timespec far[2] = { { .tv_sec = 18446744073710LL }, { .tv_sec = 18446744073710LL } };
        struct timespec old[2] = { { .tv_sec = 1796000000 }, { .tv_sec = 1796000000 } };
        struct stat sb;
        QueueStats st;
        int fd;

        if (!shm_dir[0])
                skip();
        (void) snprintf(path, sizeof(path), "%s/far", shm_dir);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(futimens(fd, far), 0);
        assert_int_equal(fstat(fd, &sb), 0);
        assert_int_equal(close(fd), 0);
        if (sb.st_mtim.tv_sec != far[1].tv_sec)
                skip();
        (void) snprintf(path, sizeof(path), "%s/old", shm_dir);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(futimens(fd, old), 0);
        assert_int_equal(close(fd), 0);

        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 2);
        assert_string_equal(st.oldest_id, "old");
        assert_int_equal(st.oldest_age_usec, 3600 * SEC);
        /* the same where files are read as OpenSMTPD envelopes and these
         * (empty) are none: their arrival is the mtime */
        s.schedule = GENERIC_SCHEDULE_OPENSMTPD;
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 2);
        assert_false(st.schedule_known);
        assert_string_equal(st.oldest_id, "old");
        assert_int_equal(st.oldest_age_usec, 3600 * SEC);
        s.schedule = GENERIC_SCHEDULE_NONE;

        /* alone, it is a message of age 0 */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 1);
        assert_string_equal(st.oldest_id, "far");
        assert_int_equal(st.oldest_age_usec, 0);
}

/* What cannot be read is an error (the round is unknown), never "empty". */
static void test_scan_errors(void **state) {
        char missing[256], file[256], reason[PROBE_REASON_MAX], expected[600];
        char *dirs[] = { at(missing, sizeof(missing), "missing"), NULL };
        GenericSettings s = { .queue_directories = dirs };
        QueueStats st;

        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), -ENOENT);
        (void) snprintf(expected, sizeof(expected), "scan %s: No such file or directory", missing);
        assert_string_equal(reason, expected);
        assert_int_equal(st.backlog, 0);

        make_file("plain", 0);
        dirs[0] = at(file, sizeof(file), "plain");
        assert_int_equal(generic_scan_queue(&s, 1796003600ULL * SEC, &st, reason, sizeof(reason)), -ENOTDIR);
        (void) snprintf(expected, sizeof(expected), "scan %s: Not a directory", file);
        assert_string_equal(reason, expected);

        s.queue_directories = NULL;
        assert_int_equal(generic_scan_queue(&s, 0, &st, reason, sizeof(reason)), -EINVAL);
        assert_string_equal(reason, "no queue directory");

        /* A directory the reader may not list (nullmailer's queue is 0750
         * mail): -EACCES, also for a subdirectory. The scan runs as nobody,
         * in a child, when the test runs as root. */
        char locked[256], outer[256];
        make_dir("outer");
        make_dir("outer/locked");
        make_file("outer/locked/1.1", 0);
        assert_int_equal(chmod(at(locked, sizeof(locked), "outer/locked"), 0700), 0);
        assert_int_equal(chmod(base, 0755), 0);
        if (geteuid() != 0)
                return;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *sub[] = { locked, NULL }, *top[] = { at(outer, sizeof(outer), "outer"), NULL };
                GenericSettings u = { .queue_directories = sub };
                int code = 0;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(10);
                if (generic_scan_queue(&u, 0, &st, reason, sizeof(reason)) != -EACCES)
                        code |= 1;
                (void) snprintf(expected, sizeof(expected), "scan %s: Permission denied", locked);
                if (strcmp(reason, expected) != 0)
                        code |= 2;
                u.queue_directories = top;
                u.queue_depth = 1;
                if (generic_scan_queue(&u, 0, &st, reason, sizeof(reason)) != -EACCES || st.backlog != 0)
                        code |= 4;
                if (strcmp(reason, expected) != 0)
                        code |= 8;
                child_exit(code);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* The probe: a scan in a child, OK with the stats, UNKNOWN when it fails. */
static void test_probe(void **state) {
        char q[256], missing[256], expected[600];
        char *dirs[] = { at(q, sizeof(q), "pq"), NULL };
        GenericSettings s = { .queue_directories = dirs, .arrival = GENERIC_ARRIVAL_EPOCH_PREFIX };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun run;

        /* The scan child is reaped by sd-event. */
        sigset_t mask;
        assert_int_equal(sigemptyset(&mask), 0);
        assert_int_equal(sigaddset(&mask, SIGCHLD), 0);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

        make_dir("pq");
        make_file("pq/1000000000.1", 0);
        make_file("pq/1000000060.2", 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_generic_ops, "queue", 5 * SEC, &s, &p), 0);
        probe_run(e, p, &run);
        if (run.r.status != PROBE_OK)
                fail_msg("%s", run.r.reason);
        assert_int_equal(run.r.queue.backlog, 2);
        assert_string_equal(run.r.queue.oldest_id, "1000000000.1");
        assert_true(run.r.queue.oldest_age_usec > 20ULL * 365 * DAY);
        assert_false(run.r.queue.schedule_known);
        assert_non_null(strstr(run.r.reason, "backlog 2, oldest 1000000000.1 "));
        p = probe_free(p);

        dirs[0] = at(missing, sizeof(missing), "missing");
        assert_int_equal(probe_new_on(e, &probe_generic_ops, "queue", 5 * SEC, &s, &p), 0);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_UNKNOWN);
        (void) snprintf(expected, sizeof(expected), "scan %s: No such file or directory", missing);
        assert_non_null(strstr(run.r.reason, expected));
        p = probe_free(p);

        /* no directory at all: refused at set-up */
        s.queue_directories = NULL;
        assert_int_equal(probe_new_on(e, &probe_generic_ops, "queue", 5 * SEC, &s, &p), -EINVAL);
        run_until_no_children(e);
        sd_event_unref(e);
}

/* OpenSMTPD 6.8.0p2's envelopes (Debian 12's opensmtpd, queue/33/33125c8d/
 * of a message to two recipients, relay 192.0.2.2 unreachable): as queued,
 * and after the first failed attempt (the file rewritten 11 s after ctime;
 * `smtpctl show queue` then said "pending|388" at 1796090907: the next
 * attempt at 1796091295 = ctime + 400 s). */
#define EVP_HEAD "version: 3\ndispatcher: relay\ntype: mta\nsmtpname: mta-e2e.test\nhelo: localhost\n" \
                 "hostname: mta-e2e.test\n"
#define EVP_QUEUED EVP_HEAD "sockaddr: local\nsender: root@mta-e2e.test\nrcpt: a@example.org\n" \
                   "dest: a@example.org\nctime: 1796090895\nlast-try: 0\nlast-bounce: 0\nttl: 0\nretry: 0\n" \
                   "flags: authenticated\ndsn-notify: 0\ndsn-ret: 0\ndsn-envid: \ndsn-orcpt: \nesc-class: 0\n" \
                   "esc-code: 0\n"
#define EVP_RETRY1 EVP_HEAD "errorline: Network error on destination MXs\nsockaddr: local\n" \
                   "sender: root@mta-e2e.test\nrcpt: b@example.net\ndest: b@example.net\nctime: 1796090895\n" \
                   "last-try: 0\nlast-bounce: 0\nttl: 0\nretry: 1\nflags: authenticated\ndsn-notify: 0\n" \
                   "esc-class: 4\nesc-code: 0\n"
#define EVP_CTIME 1796090895ULL

static void test_envelope_parse(void **state) {
        static const struct {
                const char *text;
                int r;
                OpensmtpdDelivery type;
                uint64_t ctime;
                uint32_t retry;
        } cases[] = {
                { EVP_QUEUED, 0, OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 0 },
                { EVP_RETRY1, 0, OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 1 },
                { "version: 3\ntype: mda\nctime: 1\nretry: 4294967295\n", 0, OPENSMTPD_DELIVERY_MDA, 1, UINT32_MAX },
                { "version:3\ntype :bounce\nctime:\t1099511627776\nretry: 7\n", 0, OPENSMTPD_DELIVERY_BOUNCE,
                  1099511627776ULL, 7 },
                /* what is not such an envelope */
                { "version: 2\ntype: mta\nctime: 1\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "type: mta\nctime: 1\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: lmtp\nctime: 1\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime: 1\nretry: 1", -EBADMSG, 0, 0, 0 },            /* cut: no '\n' */
                { "version: 3\ntype: mta\nctime: 1\nretry: 1\nretry: 2\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime: 1099511627777\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime: 1\nretry: 4294967296\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime: -1\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime: 1x\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "version: 3\ntype: mta\nctime 1\nretry: 1\n", -EBADMSG, 0, 0, 0 },
                { "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\n", -EBADMSG, 0, 0, 0 },          /* queue compression */
                { "", -EBADMSG, 0, 0, 0 },
        };
        OpensmtpdEnvelope e;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                e = (OpensmtpdEnvelope) { .ctime_sec = 4242 };
                assert_int_equal(opensmtpd_envelope_parse(cases[i].text, strlen(cases[i].text), &e), cases[i].r);
                if (cases[i].r < 0) {
                        assert_int_equal(e.ctime_sec, 4242);
                        continue;
                }
                assert_int_equal(e.type, cases[i].type);
                assert_int_equal(e.ctime_sec, cases[i].ctime);
                assert_int_equal(e.retry, cases[i].retry);
        }
        /* only SIZE bytes are read: "retry: 1" cut to "retry: " is no value */
        const char *t = "version: 3\ntype: mta\nctime: 1\nretry: 1\n";
        assert_int_equal(opensmtpd_envelope_parse(t, strlen(t) - 2, &e), -EBADMSG);
        assert_int_equal(opensmtpd_envelope_parse(NULL, 0, &e), -EBADMSG);
}

/* scheduler_ramqueue.c's rule, on the observed envelope and around it. */
static void test_envelope_next_try(void **state) {
        static const struct {
                OpensmtpdDelivery type;
                uint64_t ctime;
                uint32_t retry;
                uint64_t written;
                uint64_t next;
        } cases[] = {
                /* never tried: due at once, at ctime */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 0, EVP_CTIME, EVP_CTIME },
                /* the observed first failure: ctime + 400 * 1^2 */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 1, EVP_CTIME + 11, EVP_CTIME + 400 },
                /* an attempt that hung 5 minutes in a connect: still the retry's step */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 2, EVP_CTIME + 700, EVP_CTIME + 1600 },
                /* a step that passed before the failure was written: the next after it */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 1, EVP_CTIME + 2000, EVP_CTIME + 3600 },
                /* within the margin after the mtime: the next step (never earlier) */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 1, EVP_CTIME + 339, EVP_CTIME + 400 },
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 1, EVP_CTIME + 340, EVP_CTIME + 1600 },
                /* days later: k = 30 (ctime + 360000 s), the 29th step passed */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 20, EVP_CTIME + 336400, EVP_CTIME + 360000 },
                /* local deliveries and bounces step by 10 s */
                { OPENSMTPD_DELIVERY_MDA, 1000, 3, 1095, 1160 },
                { OPENSMTPD_DELIVERY_BOUNCE, 1000, 1, 1001, 1090 },
                /* an mtime before ctime: the retry's step */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, 3, 1000, EVP_CTIME + 3600 },
                /* a retry count too large to compute: never due */
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, (UINT32_C(1) << 26) + 1, EVP_CTIME, UINT64_MAX },
                { OPENSMTPD_DELIVERY_MTA, EVP_CTIME, UINT32_MAX, UINT64_MAX, UINT64_MAX },
                /* the largest values it computes */
                { OPENSMTPD_DELIVERY_MTA, 1ULL << 40, UINT32_C(1) << 26, UINT64_MAX,
                  (1ULL << 40) + 400ULL * (1ULL << 52) },
                { OPENSMTPD_DELIVERY_MDA, 0, 1, UINT64_MAX, 10ULL * 331589ULL * 331589ULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                OpensmtpdEnvelope e = { .type = cases[i].type, .ctime_sec = cases[i].ctime, .retry = cases[i].retry };

                assert_int_equal(opensmtpd_envelope_next_try(&e, cases[i].written), cases[i].next);
        }
}

static void write_file(const char *rel, const char *text, long mtime_sec) {
        char p[256];

        append(at(p, sizeof(p), rel), text);
        struct timespec ts[2] = { { .tv_sec = mtime_sec }, { .tv_sec = mtime_sec } };
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* OpenSMTPD's queue layout with schedule_from = opensmtpd-envelope. */
static void test_scan_envelopes(void **state) {
        char q[256], reason[PROBE_REASON_MAX];
        char *dirs[] = { at(q, sizeof(q), "queue"), NULL };
        GenericSettings s = {
                .queue_directories = dirs,
                .queue_glob = (char *) "[0-9a-f]*",
                .queue_depth = 2,
                .schedule = GENERIC_SCHEDULE_OPENSMTPD,
                .overdue_slack_usec = USEC_INFINITY,
        };
        QueueStats st;

        make_dir("queue");
        make_dir("queue/33");
        make_dir("queue/33/33125c8d");
        write_file("queue/33/33125c8d/33125c8da57c7172", EVP_QUEUED, EVP_CTIME);
        write_file("queue/33/33125c8d/33125c8d8fafc462", EVP_RETRY1, EVP_CTIME + 11);
        write_file("queue/33/33125c8d/message", "Subject: two\n\nbody\n", EVP_CTIME);

        /* just queued: the new one is due now, within the slack (10m) */
        assert_int_equal(generic_overdue_slack(&s), 10 * MIN);
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 12) * SEC, &st, reason, sizeof(reason)), 0);
        assert_string_equal(reason, "");
        assert_int_equal(st.backlog, 2);
        assert_true(st.schedule_known);
        assert_string_equal(st.schedule_source, "envelope");
        assert_int_equal(st.slack_usec, 10 * MIN);
        assert_int_equal(st.overdue, 0);
        assert_int_equal(st.most_overdue_usec, 0);
        /* the arrival is ctime for both; a tie: the smaller id */
        assert_string_equal(st.oldest_id, "33125c8d8fafc462");
        assert_int_equal(st.oldest_age_usec, 12 * SEC);

        /* 10m1s after ctime: the never tried one is overdue, the other due at +400 s is not */
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 601) * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.overdue, 1);
        assert_int_equal(st.most_overdue_usec, 601 * SEC);
        /* exactly the slack past due is not overdue */
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 1000) * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.overdue, 1);
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 1001) * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.overdue, 2);
        assert_int_equal(st.most_overdue_usec, 1001 * SEC);
        assert_int_equal(st.oldest_age_usec, 1001 * SEC);

        /* overdue_slack = 0: past due at once */
        s.overdue_slack_usec = 0;
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 401) * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.overdue, 2);
        assert_int_equal(st.slack_usec, 0);
        assert_int_equal(st.most_overdue_usec, 401 * SEC);
        s.overdue_slack_usec = USEC_INFINITY;

        /* a file that is no envelope (a compressed queue): no schedule this scan, its mtime the arrival */
        make_dir("queue/2b");
        make_dir("queue/2b/2b01b8ff");
        write_file("queue/2b/2b01b8ff/2b01b8ff0eb170c2", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", EVP_CTIME - 60);
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 1001) * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 3);
        assert_false(st.schedule_known);
        assert_string_equal(st.schedule_source, "");
        assert_int_equal(st.overdue, 0);
        assert_int_equal(st.most_overdue_usec, 0);
        assert_int_equal(st.slack_usec, 0);
        assert_string_equal(st.oldest_id, "2b01b8ff0eb170c2");
        assert_int_equal(st.oldest_age_usec, 1061 * SEC);

        /* without schedule_from no file is read: the arrival is the mtime */
        char p[256];
        assert_int_equal(unlink(at(p, sizeof(p), "queue/2b/2b01b8ff/2b01b8ff0eb170c2")), 0);
        s.schedule = GENERIC_SCHEDULE_NONE;
        assert_int_equal(generic_overdue_slack(&s), USEC_INFINITY);
        assert_int_equal(generic_scan_queue(&s, (EVP_CTIME + 1001) * SEC, &st, reason, sizeof(reason)), 0);
        assert_int_equal(st.backlog, 2);
        assert_false(st.schedule_known);
        assert_string_equal(st.oldest_id, "33125c8da57c7172");
        assert_int_equal(st.oldest_age_usec, 1001 * SEC);

        /* an envelope the reader may not open: the round is unknown */
        if (geteuid() != 0)
                return;
        s.schedule = GENERIC_SCHEDULE_OPENSMTPD;
        assert_int_equal(chmod(at(p, sizeof(p), "queue/33/33125c8d/33125c8da57c7172"), 0600), 0);
        assert_int_equal(chmod(base, 0755), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char expected[600];
                int code = 0;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(10);
                if (generic_scan_queue(&s, (EVP_CTIME + 1001) * SEC, &st, reason, sizeof(reason)) != -EACCES)
                        code |= 1;
                (void) snprintf(expected, sizeof(expected), "scan %s/33/33125c8d/33125c8da57c7172: Permission denied",
                                q);
                if (strcmp(reason, expected) != 0)
                        code |= 2;
                if (st.backlog != 0)
                        code |= 4;
                child_exit(code);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* The probe's answer and reason with the schedule. */
static void test_probe_envelopes(void **state) {
        char q[256];
        char *dirs[] = { at(q, sizeof(q), "pq"), NULL };
        GenericSettings s = {
                .queue_directories = dirs,
                .queue_glob = (char *) "[0-9a-f]*",
                .queue_depth = 2,
                .schedule = GENERIC_SCHEDULE_OPENSMTPD,
                .overdue_slack_usec = 5 * MIN,
        };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun run;
        sigset_t mask;

        assert_int_equal(sigemptyset(&mask), 0);
        assert_int_equal(sigaddset(&mask, SIGCHLD), 0);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        make_dir("pq");
        make_dir("pq/33");
        make_dir("pq/33/33125c8d");
        /* queued in 2001, never tried: overdue now */
        write_file("pq/33/33125c8d/33125c8da57c7172",
                   "version: 3\ndispatcher: relay\ntype: mta\nctime: 1000000000\nretry: 0\n", 1000000000);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_generic_ops, "queue", 5 * SEC, &s, &p), 0);
        probe_run(e, p, &run);
        if (run.r.status != PROBE_OK)
                fail_msg("%s", run.r.reason);
        assert_int_equal(run.r.queue.backlog, 1);
        assert_true(run.r.queue.schedule_known);
        assert_string_equal(run.r.queue.schedule_source, "envelope");
        assert_int_equal(run.r.queue.overdue, 1);
        assert_int_equal(run.r.queue.slack_usec, 5 * MIN);
        assert_non_null(strstr(run.r.reason, "backlog 1, oldest 33125c8da57c7172 "));
        assert_non_null(strstr(run.r.reason, ", overdue 1 (envelope, slack 5m)"));
        p = probe_free(p);

        /* a file that is no envelope: said so */
        write_file("pq/33/33125c8d/33125c8d8fafc462", "not an envelope\n", EVP_CTIME);
        assert_int_equal(probe_new_on(e, &probe_generic_ops, "queue", 5 * SEC, &s, &p), 0);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_false(run.r.queue.schedule_known);
        assert_int_equal(run.r.queue.overdue, 0);
        assert_non_null(strstr(run.r.reason, " (no schedule read: a queue file is not an OpenSMTPD envelope)"));
        p = probe_free(p);
        run_until_no_children(e);
        sd_event_unref(e);
}

/* nullmailer's words (etc/mta-watchdog-nullmailer.ini). */
#define NM_STARTED "^Starting delivery: host: ([^ ]+) protocol: [^ ]+ file: "
#define NM_DELIVERED "^Sent file\\.$"
#define NM_FAILED "^(Sending failed: |Sending timed out, killing protocol|Sending process crashed or was killed)"
#define NM_ERROR "^Sending failed: ()(Connection refused|Connection timed out|Host or network unreachable|" \
                 "Connection failed|Socket failed)$"

static const ActivityRules nm_rules = {
        .delivered = NM_DELIVERED,
        .failed = NM_FAILED,
        .started = NM_STARTED,
        .failed_cause = CAUSE_DEFERRED_REMOTE,
        .error_cause = CAUSE_CONNECT_FAILURE,
};

static void test_classify(void **state) {
        static const char *const probed[] = { "192.0.2.2", NULL };
        static const struct {
                const char *line;
                ActivityKind kind;
                FailureCause cause;
                const char *peer;
        } cases[] = {
                { "Starting delivery: host: 192.0.2.2 protocol: smtp file: 1796089708.263", ACTIVITY_STARTED,
                  CAUSE_NONE, "192.0.2.2" },
                { "Sent file.", ACTIVITY_SENT, CAUSE_NONE, "" },
                { "Sent file. and more", ACTIVITY_NONE, CAUSE_NONE, "" },
                { "Sending failed: Host or network unreachable", ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE, "" },
                { "Sending failed: Connection refused", ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE, "" },
                { "Sending failed: Server refused the message", ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, "" },
                { "Sending timed out, killing protocol", ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, "" },
                { "Sending process crashed or was killed.", ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, "" },
                { "smtp: Failed: Connect failed", ACTIVITY_NONE, CAUSE_NONE, "" },
                { "smtp: Succeeded: 250 2.0.0 Ok: queued as 014828.213.1", ACTIVITY_NONE, CAUSE_NONE, "" },
                { "Starting delivery, 1 message(s) in queue.", ACTIVITY_NONE, CAUSE_NONE, "" },
                { "Trigger pulled.", ACTIVITY_NONE, CAUSE_NONE, "" },
                { "Rescanning queue.", ACTIVITY_NONE, CAUSE_NONE, "" },
                { "Delivery complete, 0 message(s) remain.", ACTIVITY_NONE, CAUSE_NONE, "" },
        };
        ActivityPatterns pat;
        ActivityLine l;
        char err[256];

        assert_int_equal(activity_patterns_init(&pat, &nm_rules, NULL, NM_ERROR, probed, err, sizeof(err)), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                activity_classify_line(&pat, cases[i].line, &l);
                if (l.kind != cases[i].kind || l.cause != cases[i].cause || strcmp(l.peer, cases[i].peer) != 0)
                        fail_msg("\"%s\": kind %d cause %d peer \"%s\"", cases[i].line, l.kind, l.cause, l.peer);
                assert_false(l.fixable);
        }

        /* the start's peer given to a failure that names none */
        activity_classify_line(&pat, "Sending failed: Connection refused", &l);
        activity_line_set_peer(&pat, &l, "192.0.2.2");
        assert_int_equal(l.kind, ACTIVITY_CONN_ERROR_PROBED);
        assert_string_equal(l.peer, "192.0.2.2");
        assert_true(l.fixable);
        activity_classify_line(&pat, "Sending failed: Connection refused", &l);
        activity_line_set_peer(&pat, &l, "198.51.100.7");
        assert_int_equal(l.kind, ACTIVITY_CONN_ERROR);
        assert_false(l.fixable);
        /* a remote refusal stays unfixable; a delivery gets no peer */
        activity_classify_line(&pat, "Sending failed: Server refused the message", &l);
        activity_line_set_peer(&pat, &l, "192.0.2.2");
        assert_int_equal(l.kind, ACTIVITY_DEFERRED);
        assert_string_equal(l.peer, "192.0.2.2");
        assert_false(l.fixable);
        activity_classify_line(&pat, "Sent file.", &l);
        activity_line_set_peer(&pat, &l, "192.0.2.2");
        assert_string_equal(l.peer, "");

        ActivityCounts c = {};
        activity_classify_line(&pat, cases[0].line, &l);
        activity_count_line(&c, &l);
        assert_int_equal(c.started, 1);
        assert_int_equal(c.sent + c.deferred + c.bounced + c.conn_errors + c.conn_errors_probed, 0);
        activity_patterns_done(&pat);

        /* without delivered words an activity pattern is still required */
        ActivityRules none = { .failed = NM_FAILED };
        assert_int_equal(activity_patterns_init(&pat, &none, NULL, NULL, probed, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "activity pattern: none given and no built-in one");
        /* with them, neither activity nor error pattern is */
        assert_int_equal(activity_patterns_init(&pat, &nm_rules, NULL, NULL, probed, err, sizeof(err)), 0);
        activity_classify_line(&pat, "Sending failed: Connection refused", &l);
        assert_int_equal(l.kind, ACTIVITY_DEFERRED);
        activity_patterns_done(&pat);
}

/* The open start through the log file follower: opened by a started line,
 * kept across lines that tell nothing, closed by an outcome, whose missing
 * peer is the start's. */
static void test_open_start(void **state) {
        static const char *const probed[] = { "192.0.2.2", NULL };
        char log[256];
        LogfileSettings ls = {
                .path = at(log, sizeof(log), "nullmailer.log"),
                .rules = &nm_rules,
                .error_pattern = NM_ERROR,
                .probed_hosts = probed,
        };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun run;

        append(log, "Rescanning queue.\n");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_logfile_ops, "activity", 5 * SEC, &ls, &p), 0);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_int_equal(run.r.samples.open_start_usec, 0);

        append(log, "Starting delivery, 1 message(s) in queue.\n"
                    "Starting delivery: host: 192.0.2.2 protocol: smtp file: 1796089777.323\n"
                    "From: <e2e@mta-e2e.test> to: <user@remote.test>\n"
                    "Message-Id: <1796089777.826060.322.nullmailer@mta-e2e.test>\n");
        run_for(e, 200 * USEC_PER_MSEC);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_int_equal(run.r.activity.started, 1);
        assert_true(run.r.samples.open_start_usec > 0);
        assert_string_equal(run.r.samples.open_start_line,
                            "Starting delivery: host: 192.0.2.2 protocol: smtp file: 1796089777.323");
        assert_string_equal(run.r.samples.open_start_peer, "192.0.2.2");
        uint64_t opened = run.r.samples.open_start_usec;

        /* the connection fails: a failure to the probed relay, the start closed */
        append(log, "smtp: Failed: Connect failed\nSending failed: Connection refused\n");
        run_for(e, 200 * USEC_PER_MSEC);
        probe_run(e, p, &run);
        assert_int_equal(run.r.activity.conn_errors_probed, 1);
        assert_int_equal(run.r.activity.fixable[CAUSE_CONNECT_FAILURE], 1);
        assert_int_equal(run.r.samples.open_start_usec, 0);
        assert_string_equal(run.r.samples.open_start_line, "");
        assert_string_equal(run.r.samples.causes[CAUSE_CONNECT_FAILURE].peer, "192.0.2.2");

        /* a second start, then its delivery */
        append(log, "Starting delivery: host: 192.0.2.2 protocol: smtp file: 1796089778.324\n");
        run_for(e, 200 * USEC_PER_MSEC);
        probe_run(e, p, &run);
        assert_true(run.r.samples.open_start_usec > opened);
        append(log, "smtp: Succeeded: 250 2.0.0 Ok\nSent file.\nDelivery complete, 0 message(s) remain.\n");
        run_for(e, 200 * USEC_PER_MSEC);
        probe_run(e, p, &run);
        assert_int_equal(run.r.activity.sent, 1);
        assert_int_equal(run.r.activity.started, 2);
        assert_int_equal(run.r.samples.open_start_usec, 0);

        p = probe_free(p);
        sd_event_unref(e);
}

/* Config */

static char *write_config(const char *name, const char *text) {
        char *path = NULL;

        assert_true(asprintf(&path, "%s/%s", base, name) > 0);
        unlink(path);
        append(path, text);
        return path;
}

/* config_load() with stderr captured; returns what was logged. Detection
 * reads under a root that does not exist: no result depends on the host's
 * MTA (a Postfix there would derive probes from its relayhost). */
static int load_captured(const char *path, Config **ret, char **ret_log) {
        static const ConfigLoadOptions options = { .root = "/nonexistent-test-root" };
        char log_path[300];
        int saved, r;

        (void) snprintf(log_path, sizeof(log_path), "%s/stderr", base);
        saved = stderr_redirect(log_path);
        r = config_load_full(path, &options, ret);
        *ret_log = stderr_restore(saved, log_path);
        return r;
}

static void check_error(const char *text, const char *message) {
        _cleanup_free_ char *path = write_config("bad.ini", text), *log = NULL, *expected = NULL;
        Config *c = NULL;

        assert_int_equal(load_captured(path, &c, &log), -EINVAL);
        assert_null(c);
        assert_true(asprintf(&expected, "%s%s\n", path, message) > 0);
        assert_string_equal(log, expected);
}

static const char *example(char *buf, size_t size, const char *name) {
        const char *src = getenv("TEST_SRCDIR");

        assert_non_null(src);
        (void) snprintf(buf, size, "%s/../etc/%s", src, name);
        return buf;
}

/* The shipped nullmailer profile loads with exactly these settings, and
 * --check-config's advice about its pause. */
static void test_config_nullmailer(void **state) {
        char path[512], advice[2048], expected[2048];
        _cleanup_free_ char *log = NULL;
        Config *c = NULL;

        assert_int_equal(load_captured(example(path, sizeof(path), "mta-watchdog-nullmailer.ini"), &c, &log), 0);
        assert_string_equal(log, "");
        assert_ptr_equal(c->profile, &mta_profile_generic);
        assert_string_equal(c->mta_name, "nullmailer");
        assert_string_equal(c->unit, "nullmailer.service");
        assert_null(c->pid_file);
        assert_int_equal(c->n_actions, 2);
        assert_int_equal(c->actions[0], ACTION_FLUSH);
        assert_int_equal(c->actions[1], ACTION_RESTART);
        assert_string_equal(c->flush_command[0], "/usr/bin/dd");
        assert_string_equal(c->flush_command[2], "of=/var/spool/nullmailer/trigger");
        assert_string_equal(c->flush_command[5], "oflag=nonblock");
        assert_int_equal(c->stall_after_usec, HOUR);
        const GenericSettings *g = GENERIC(c);
        assert_string_equal(g->queue_directories[0], "/var/spool/nullmailer/queue");
        assert_null(g->queue_directories[1]);
        assert_string_equal(g->queue_glob, "[0-9]*");
        assert_int_equal(g->queue_depth, 0);
        assert_int_equal(g->arrival, GENERIC_ARRIVAL_EPOCH_PREFIX);
        assert_int_equal(g->log_source, GENERIC_LOG_UNIT);
        assert_int_equal(g->hung_delivery_after_usec, 65 * MIN);
        assert_int_equal(g->max_retry_gap_usec, DAY);
        assert_string_equal(g->rules.delivered, NM_DELIVERED);
        assert_string_equal(g->rules.failed, NM_FAILED);
        /* inih drops the trailing blank */
        assert_string_equal(g->rules.started, "^Starting delivery: host: ([^ ]+) protocol: [^ ]+ file:");
        assert_string_equal(c->error_pattern, NM_ERROR);
        assert_null(c->activity_pattern);
        assert_int_equal(mta_activity_source(c->profile, c->mta_settings), ACTIVITY_SOURCE_JOURNAL_UNIT);
        assert_ptr_equal(mta_activity_rules(c->profile, c->mta_settings), &g->rules);
        assert_true(c->profile->conservative);
        assert_int_equal(c->profile->hung_start_after(c->mta_settings), 65 * MIN);

        /* the example's relay is a placeholder, to be replaced by the host of remotes */
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 2);
        (void) snprintf(expected, sizeof(expected),
                        "%1$s:57: [probe:relay] host: relay.example.org is in a domain reserved for documentation "
                        "(RFC 2606), a placeholder: probe a host the MTA really depends on (its relay), or remove "
                        "the section\n"
                        "%1$s: [mta] stall_after: 1h is not longer than max_retry_gap (1d): a pause of the MTA "
                        "between its retries counts as a stall; it costs one flush (flush_command must make the "
                        "MTA try at once, as nullmailer's trigger does), a restart only when the flush brings "
                        "no attempt\n", path);
        assert_string_equal(advice, expected);

        /* its effective settings load again, to the same */
        _cleanup_free_ char *dump = NULL, *dump_path = NULL, *log2 = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&dump, &size);
        config_dump(c, m);
        fclose(m);
        dump_path = write_config("dump.ini", dump);
        Config *d = NULL;
        assert_int_equal(load_captured(dump_path, &d, &log2), 0);
        assert_string_equal(GENERIC(d)->rules.started, g->rules.started);
        assert_int_equal(GENERIC(d)->arrival, GENERIC_ARRIVAL_EPOCH_PREFIX);
        assert_int_equal(d->n_actions, 2);
        config_free(d);
        config_free(c);
}

static void test_config_opensmtpd(void **state) {
        char path[512], advice[2048], expected[2048];
        _cleanup_free_ char *log = NULL;
        Config *c = NULL;

        assert_int_equal(load_captured(example(path, sizeof(path), "mta-watchdog-opensmtpd.ini"), &c, &log), 0);
        assert_string_equal(log, "");
        const GenericSettings *g = GENERIC(c);
        assert_string_equal(c->unit, "opensmtpd.service");
        assert_string_equal(g->queue_directories[0], "/var/spool/smtpd/queue");
        assert_int_equal(g->queue_depth, 2);
        assert_string_equal(g->queue_glob, "[0-9a-f]*");
        assert_int_equal(g->arrival, GENERIC_ARRIVAL_MTIME);
        assert_int_equal(g->schedule, GENERIC_SCHEDULE_OPENSMTPD);
        assert_int_equal(g->overdue_slack_usec, USEC_INFINITY);
        assert_int_equal(generic_overdue_slack(g), 10 * MIN);
        assert_true(c->profile->reads_schedule(c->mta_settings));
        assert_int_equal(c->stall_after_usec, HOUR);
        /* no flush: smtpctl answers root alone */
        assert_int_equal(c->n_actions, 1);
        assert_int_equal(c->actions[0], ACTION_RESTART);
        assert_null(c->flush_command);
        assert_int_equal(g->log_source, GENERIC_LOG_SYSLOG);
        assert_string_equal(g->syslog_identifiers[0], "smtpd");
        assert_null(g->syslog_identifiers[1]);
        assert_int_equal(mta_activity_source(c->profile, c->mta_settings), ACTIVITY_SOURCE_JOURNAL_IDENTIFIER);
        assert_string_equal(mta_syslog_identifiers(c->profile, c->mta_settings)[0], "smtpd");
        assert_null(g->started_pattern);
        assert_int_equal(c->profile->hung_start_after(c->mta_settings), 0);
        /* the words of smtpd 6.8.0p2's lines, as Debian 12's package logged them */
        assert_string_equal(g->rules.delivered, "mta delivery evpid=[0-9a-f]+ .* result=\"(Ok|PermFail)\"");
        assert_string_equal(g->rules.failed, "mta delivery evpid=[0-9a-f]+ .* result=\"TempFail\"");
        assert_string_equal(c->error_pattern, "mta error reason=()(Connection failed: (Connection refused|"
                            "Connection timed out|Network is unreachable|No route to host)|Connection timeout)");
        /* the schedule tells a pause from a stall: no advice about max_retry_gap; only the
         * example's placeholder relay */
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 1);
        (void) snprintf(expected, sizeof(expected),
                        "%s:54: [probe:relay] host: relay.example.org is in a domain reserved for documentation "
                        "(RFC 2606), a placeholder: probe a host the MTA really depends on (its relay), or remove "
                        "the section\n", path);
        assert_string_equal(advice, expected);

        /* smtpd's lines (journal of Debian 12's opensmtpd: relay 192.0.2.2 unreachable, a black
         * hole, then an SMTP sink) */
        static const struct {
                const char *line;
                ActivityKind kind;
                FailureCause cause;
        } cases[] = {
                { "ac1e9e5fb0365a15 mta error reason=Connection failed: Network is unreachable", ACTIVITY_CONN_ERROR,
                  CAUSE_CONNECT_FAILURE },
                { "0000000000000000 mta delivery evpid=2d18b1d574967cef from=<root@mta-e2e.test> "
                  "to=<user1@example.org> rcpt=<-> source=\"-\" relay=\"192.0.2.2\" delay=11s result=\"TempFail\" "
                  "stat=\"Network error on destination MXs\"", ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE },
                { "ac1e9e661d9cfd2d mta error reason=Connection timeout", ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE },
                { "82be8e1d74ae377d mta delivery evpid=bfe6584a258ef5c8 from=<root@mta-e2e.test> "
                  "to=<frozen@example.org> rcpt=<-> source=\"192.0.2.1\" relay=\"192.0.2.2 (192.0.2.2)\" delay=2m5s "
                  "result=\"Ok\" stat=\"250 OK\"", ACTIVITY_SENT, CAUSE_NONE },
                { "82be8e1d74ae377d mta connected", ACTIVITY_NONE, CAUSE_NONE },
                { "ac1e9e5fb0365a15 mta connecting address=smtp://192.0.2.2:25 host=192.0.2.2", ACTIVITY_NONE,
                  CAUSE_NONE },
                { "smtp-out: Disabling route [] <-> 192.0.2.2 (192.0.2.2) for 15s", ACTIVITY_NONE, CAUSE_NONE },
                { "smtp-out: No valid route for [connector:[]->[relay:192.0.2.2,port=25,smtp,mx],0x0]",
                  ACTIVITY_NONE, CAUSE_NONE },
                { "ac1e9e623c26e5dd smtp envelope evpid=33125c8d8fafc462 from=<root@mta-e2e.test> "
                  "to=<b@example.net>", ACTIVITY_NONE, CAUSE_NONE },
        };
        static const char *const probed[] = { "192.0.2.2", NULL };
        ActivityPatterns pat;
        ActivityLine l;
        char err[256];

        assert_int_equal(activity_patterns_init(&pat, &g->rules, NULL, c->error_pattern, probed, err, sizeof(err)),
                         0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                activity_classify_line(&pat, cases[i].line, &l);
                if (l.kind != cases[i].kind || l.cause != cases[i].cause)
                        fail_msg("\"%s\": kind %d cause %d", cases[i].line, l.kind, l.cause);
        }
        activity_patterns_done(&pat);
        config_free(c);
}

#define GEN "[mta]\ntype = generic\nunit = relay.service\n"
/* relay = none: the canary probes, so that no advice says the network always
 * counts as up (config_advice()). */
#define GEN_MIN GEN "queue_directories = /var/spool/relay\ndelivered_pattern = ^sent$\nflush_command = /bin/true\n" \
        "relay = none\n"
/* The other required keys, after a key in error: the only error is that key's. */
#define GEN_REST "delivered_pattern = ^sent$\nflush_command = /bin/true\n"
#define GEN_REST_Q "queue_directories = /var/spool/relay\n" GEN_REST

static void test_config_rules(void **state) {
        _cleanup_free_ char *path = NULL, *log = NULL;
        char advice[1024], expected[1024];
        Config *c = NULL;

        /* the least: defaults of the type */
        path = write_config("min.ini", GEN_MIN);
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_string_equal(log, "");
        const GenericSettings *g = GENERIC(c);
        assert_string_equal(g->queue_glob, "*");
        assert_int_equal(g->queue_depth, 0);
        assert_int_equal(g->arrival, GENERIC_ARRIVAL_MTIME);
        assert_int_equal(g->log_source, GENERIC_LOG_UNIT);
        assert_int_equal(g->hung_delivery_after_usec, 0);
        assert_int_equal(g->max_retry_gap_usec, 0);
        assert_null(c->error_pattern);
        assert_int_equal(c->n_actions, 2);
        assert_false(c->actions_set);
        config_free(c);
        free(path);
        free(log);

        /* actions = restart, stall_after not longer than the gap: a restart for a pause */
        path = write_config("restart.ini", GEN_MIN "actions = restart\nmax_retry_gap = 10m\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(c->n_actions, 1);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 1);
        (void) snprintf(expected, sizeof(expected),
                        "%s: [mta] stall_after: 10m is not longer than max_retry_gap (10m): a pause of the MTA "
                        "between its retries counts as a stall, and with no flush first in actions it is met "
                        "with a restart; make stall_after longer than 10m, or put flush first in actions\n", path);
        assert_string_equal(advice, expected);
        config_free(c);
        free(path);
        free(log);

        /* longer: no advice */
        path = write_config("longer.ini", GEN_MIN "max_retry_gap = 9m\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 0);
        assert_string_equal(advice, "");
        config_free(c);
        free(path);
        free(log);

        /* a schedule read: no advice about the gap, the slack auto or set */
        path = write_config("schedule.ini", GEN_MIN "schedule_from = opensmtpd-envelope\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_string_equal(log, "");
        assert_int_equal(GENERIC(c)->schedule, GENERIC_SCHEDULE_OPENSMTPD);
        assert_int_equal(generic_overdue_slack(GENERIC(c)), 10 * MIN);
        assert_true(c->profile->reads_schedule(c->mta_settings));
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 0);
        config_free(c);
        free(path);
        free(log);
        path = write_config("slack.ini", GEN_MIN "schedule_from = opensmtpd-envelope\noverdue_slack = 0\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(GENERIC(c)->overdue_slack_usec, 0);
        assert_int_equal(generic_overdue_slack(GENERIC(c)), 0);
        /* its effective settings load again, to the same */
        _cleanup_free_ char *dump = NULL, *dump_path = NULL, *log2 = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&dump, &size);
        config_dump(c, m);
        fclose(m);
        assert_non_null(strstr(dump, "\nschedule_from = opensmtpd-envelope\n"));
        assert_non_null(strstr(dump, "\noverdue_slack = 0\n"));
        dump_path = write_config("dump.ini", dump);
        Config *d = NULL;
        assert_int_equal(load_captured(dump_path, &d, &log2), 0);
        assert_int_equal(GENERIC(d)->schedule, GENERIC_SCHEDULE_OPENSMTPD);
        assert_int_equal(GENERIC(d)->overdue_slack_usec, 0);
        config_free(d);
        config_free(c);
        free(path);
        free(log);
        /* none: the default, read by nobody */
        path = write_config("none.ini", GEN_MIN "schedule_from = none\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(GENERIC(c)->schedule, GENERIC_SCHEDULE_NONE);
        assert_false(c->profile->reads_schedule(c->mta_settings));
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 1);
        config_free(c);
        free(path);
        free(log);

        /* a log file */
        path = write_config("file.ini", GEN_MIN "log_source = file\nlog_file = /var/log/relay.log\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(mta_activity_source(c->profile, c->mta_settings), ACTIVITY_SOURCE_LOGFILE);
        assert_string_equal(c->profile->log_file(c->mta_settings), "/var/log/relay.log");
        config_free(c);

        /* Postfix keeps its ladder and gets no advice */
        free(path);
        free(log);
        path = write_config("postfix.ini", "[mta]\ntype = postfix\nunit = postfix@-.service\nrelay = none\n");
        c = NULL;
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(c->n_actions, 1);
        assert_int_equal(c->actions[0], ACTION_RESTART);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 0);
        config_free(c);
}

static void test_config_errors(void **state) {
        check_error(GEN "delivered_pattern = x\nflush_command = /bin/true\n",
                    ":1: [mta] queue_directories: missing required key");
        check_error(GEN "queue_directories = /q\nflush_command = /bin/true\n",
                    ":1: [mta] delivered_pattern: missing required key");
        check_error(GEN "queue_directories = /q\ndelivered_pattern = x\n",
                    ":1: [mta] flush_command: missing: actions include flush (MTA type generic has no default); "
                    "or set actions = restart");
        check_error(GEN "queue_directories = /q\ndelivered_pattern = x\nactions = flush\n",
                    ":1: [mta] flush_command: missing: actions include flush (MTA type generic has no default)");
        check_error(GEN "queue_directories = q\n" GEN_REST, ":4: [mta] queue_directories: \"q\" is not an absolute path");
        check_error(GEN "queue_directories = /1 /2 /3 /4 /5 /6 /7 /8 /9\n" GEN_REST,
                    ":4: [mta] queue_directories: more than 8 directories");
        /* a directory twice would count its messages twice */
        check_error(GEN "queue_directories = /q /r /q/\n" GEN_REST, ":4: [mta] queue_directories: \"/q\" is listed twice");
        check_error(GEN "queue_glob = a/b\n" GEN_REST_Q,
                    ":4: [mta] queue_glob: \"a/b\" holds a '/': it matches file names only");
        check_error(GEN "queue_depth = 5\n" GEN_REST_Q, ":4: [mta] queue_depth: 5 is out of range (0..4)");
        check_error(GEN "arrival_from_name = name\n" GEN_REST_Q,
                    ":4: [mta] arrival_from_name: unknown value \"name\" (mtime, epoch-prefix)");
        check_error(GEN "log_source = journal\n" GEN_REST_Q,
                    ":4: [mta] log_source: unknown value \"journal\" (unit, syslog, file)");
        check_error(GEN "started_pattern = (a\n" GEN_REST_Q, ":4: [mta] started_pattern: bad regular expression: "
                    "Unmatched ( or \\(");
        check_error(GEN_MIN "log_source = syslog\n",
                    ":1: [mta]: syslog_identifiers: missing (log_source = syslog reads the journal by them)");
        check_error(GEN_MIN "log_source = file\n", ":1: [mta]: log_file: missing (log_source = file follows it)");
        check_error(GEN_MIN "syslog_identifiers = relay\n",
                    ":1: [mta]: syslog_identifiers: read only with log_source = syslog");
        check_error(GEN "schedule_from = smtpctl\n" GEN_REST_Q,
                    ":4: [mta] schedule_from: unknown value \"smtpctl\" (none, opensmtpd-envelope)");
        check_error(GEN "schedule_from = opensmtpd-envelope\noverdue_slack = soon\n" GEN_REST_Q,
                    ":5: [mta] overdue_slack: \"soon\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)");
        check_error(GEN_MIN "overdue_slack = 5m\n",
                    ":1: [mta]: overdue_slack: read only with a schedule (schedule_from)");
        check_error(GEN_MIN "hung_delivery_after = 1h\n",
                    ":1: [mta]: started_pattern: missing (hung_delivery_after needs the line that opens a delivery)");
        /* a delivery still going at the next round is no wedged sender */
        check_error(GEN_MIN "started_pattern = ^start\nhung_delivery_after = 10s\n",
                    ":1: [mta] hung_delivery_after: 10s is not longer than [watchdog] interval (10s): a delivery "
                    "still going at the next round would count as a wedged sender");
        check_error("[watchdog]\ninterval = 2m\n" GEN_MIN "started_pattern = ^start\nhung_delivery_after = 1m\n",
                    ":3: [mta] hung_delivery_after: 1m is not longer than [watchdog] interval (2m): a delivery "
                    "still going at the next round would count as a wedged sender");
        /* the type's keys belong to it alone */
        check_error("[mta]\ntype = postfix\nunit = postfix@-.service\nqueue_glob = *\n", ":4: [mta] queue_glob: not a key of MTA type "
                    "postfix ([mta] type)");
}

/* kill_hung_deliveries where the type has no lock check: advice, not an error. */
static void test_config_kill_advice(void **state) {
        _cleanup_free_ char *path = write_config("kill.ini", GEN_MIN "kill_hung_deliveries = yes\nmax_retry_gap = 1m\n"),
                            *log = NULL, *expected = NULL;
        char advice[1024];
        Config *c = NULL;

        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 1);
        assert_true(asprintf(&expected, "%s: [mta] kill_hung_deliveries: MTA type generic has no check of who "
                             "holds a message: hung deliveries are reported, never killed\n", path) > 0);
        assert_string_equal(advice, expected);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_arrival),
                cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scan_far_mtime, shm_setup, shm_teardown),
                cmocka_unit_test_setup_teardown(test_scan_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
                cmocka_unit_test(test_envelope_parse),
                cmocka_unit_test(test_envelope_next_try),
                cmocka_unit_test_setup_teardown(test_scan_envelopes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_envelopes, setup, teardown),
                cmocka_unit_test(test_classify),
                cmocka_unit_test_setup_teardown(test_open_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_nullmailer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_opensmtpd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_kill_advice, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
