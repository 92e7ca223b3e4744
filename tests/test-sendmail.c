/* SPDX-License-Identifier: MIT */
/* The Sendmail queue probe (probes/sendmail.c) and its log rules
 * (probes/sendmail-log.c): sendmail time values, sendmail.cf options,
 * sendmail.conf and PID file queue intervals, qf files (T/K/N, cut short,
 * garbled), the overdue rule at its edges, host status files and the wait
 * they make, a whole scan over queue trees the tests write (queue groups,
 * qf/ subdirectories, tf/df/xf/Qf/hf files, the client queue), the scan
 * child's extra line, one probe run through probes/queue-scan.c, and the
 * classifier on sendmail's lines. */

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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "activity.h"
#include "macros.h"
#include "mta.h"
#include "probe-harness.h"
#include "probe.h"
#include "queue-scan.h"
#include "sendmail.h"
#include "tests.h"

#define SEC  USEC_PER_SEC
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)

/* A fixed "now": 2026-12-01 00:00:00 UTC. */
#define NOW_SEC 1796083200ULL
#define NOW (NOW_SEC * SEC)

static char tmp[] = "/tmp/test-sendmail-XXXXXX";
static char root[256];

static void write_rel(const char *rel, const char *content) {
        char path[512];
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/%s", root, rel);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

static void mkdir_rel(const char *rel) {
        char path[512];

        (void) snprintf(path, sizeof(path), "%s/%s", root, rel);
        assert_int_equal(mkdir(path, 0750), 0);
}

static void path_rel(char *buf, size_t size, const char *rel) {
        (void) snprintf(buf, size, "%s/%s", root, rel);
}

/* A qf file as queueup() writes it: V8, T, K, N, P, then the rest. */
static void write_qf(const char *rel, uint64_t t, uint64_t k, uint64_t n) {
        char body[1024];

        (void) snprintf(body, sizeof(body),
                        "V8\nT%llu\nK%llu\nN%llu\nP120345\nI8/1/123456\nMDeferred: Connection refused by relay.example.\n"
                        "Fbs\n$_root@localhost\n${daemon_flags}\nSroot\nrRFC822; user@example.org\n"
                        "RPFD:user@example.org\nH?P?Return-Path: <root@host.test>\n.\n",
                        (unsigned long long) t, (unsigned long long) k, (unsigned long long) n);
        write_rel(rel, body);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmp));
        return 0;
}

static int teardown(void **state) {
        (void) nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
}

static void new_root(const char *name) {
        (void) snprintf(root, sizeof(root), "%s/%s", tmp, name);
        assert_int_equal(mkdir(root, 0750), 0);
}

static void test_time(void **state) {
        uint64_t v;

        assert_int_equal(sendmail_parse_time("10m", 3, 'm', &v), 0);
        assert_int_equal(v, 10 * MIN);
        assert_int_equal(sendmail_parse_time("90", 2, 'm', &v), 0);
        assert_int_equal(v, 90 * MIN);
        assert_int_equal(sendmail_parse_time("90", 2, 's', &v), 0);
        assert_int_equal(v, 90 * SEC);
        assert_int_equal(sendmail_parse_time("1h30m", 5, 'm', &v), 0);
        assert_int_equal(v, 90 * MIN);
        assert_int_equal(sendmail_parse_time("2d", 2, 'm', &v), 0);
        assert_int_equal(v, 48 * HOUR);
        assert_int_equal(sendmail_parse_time("1w", 2, 'm', &v), 0);
        assert_int_equal(v, 7 * 24 * HOUR);
        assert_int_equal(sendmail_parse_time("", 0, 'm', &v), -EBADMSG);
        assert_int_equal(sendmail_parse_time("5x", 2, 'm', &v), -EBADMSG);
        assert_int_equal(sendmail_parse_time("m", 1, 'm', &v), -EBADMSG);
        assert_int_equal(sendmail_parse_time("99999999999999999999", 20, 'm', &v), -ERANGE);
}

static void test_cf(void **state) {
        SendmailCf cf;
        char err[160] = "";

        /* as proto.m4 writes them: set options, and "#O" for those left unset */
        assert_int_equal(sendmail_parse_cf("# comment\n"
                                           "O QueueDirectory=/var/spool/mqueue/q*\n"
                                           "O HostStatusDirectory=/var/lib/sendmail/host_status\n"
                                           "#O MinQueueAge=30m\n"
                                           "O MaxQueueAge = 2h\n"
                                           "O Timeout.hoststatus=5m\r\n"
                                           "Omqueue\n", &cf, err, sizeof(err)), 0);
        assert_string_equal(cf.queue_directory, "/var/spool/mqueue/q*");
        assert_string_equal(cf.host_status_directory, "/var/lib/sendmail/host_status");
        assert_true(cf.min_queue_age_usec == USEC_INFINITY);
        assert_int_equal(cf.max_queue_age_usec, 2 * HOUR);
        assert_int_equal(cf.host_status_timeout_usec, 5 * MIN);
        sendmail_cf_done(&cf);
        assert_null(cf.queue_directory);

        /* a bare number is minutes (convtime(val, 'm')) */
        assert_int_equal(sendmail_parse_cf("O MinQueueAge=15\n", &cf, err, sizeof(err)), 0);
        assert_int_equal(cf.min_queue_age_usec, 15 * MIN);
        assert_null(cf.queue_directory);
        assert_true(cf.host_status_timeout_usec == USEC_INFINITY);
        sendmail_cf_done(&cf);

        assert_int_equal(sendmail_parse_cf("O Timeout.hoststatus=soon\n", &cf, err, sizeof(err)), -EBADMSG);
        assert_string_equal(err, "option Timeout.hoststatus: \"soon\" is not a time");
}

static void test_intervals(void **state) {
        uint64_t v = 0;

        /* /etc/mail/sendmail.conf: the init script's defaults, then its assignments */
        assert_int_equal(sendmail_conf_interval("", &v), 1);
        assert_int_equal(v, 10 * MIN);
        assert_int_equal(sendmail_conf_interval("DAEMON_MODE=\"Daemon\";\nQUEUE_INTERVAL='5m';\n", &v), 1);
        assert_int_equal(v, 5 * MIN);
        assert_int_equal(sendmail_conf_interval("QUEUE_INTERVAL=\"p15m\";\n", &v), 1);
        assert_int_equal(v, 15 * MIN);
        v = 0;
        assert_int_equal(sendmail_conf_interval("QUEUE_INTERVAL=\"p\";\n", &v), 1);
        assert_int_equal(v, 1 * SEC);
        assert_int_equal(sendmail_conf_interval("QUEUE_MODE=\"Cron\";\n", &v), 0);
        assert_int_equal(sendmail_conf_interval("QUEUE_MODE='none';\n", &v), 0);
        assert_int_equal(sendmail_conf_interval("QUEUE_INTERVAL='';\n", &v), 0);
        assert_int_equal(sendmail_conf_interval("QUEUE_INTERVAL='often';\n", &v), -EBADMSG);

        /* the PID file: line 2 the command */
        assert_int_equal(sendmail_pidfile_interval("4242\n/usr/sbin/sendmail-mta -Am -L sm-mta -bd -q10m\n", &v), 1);
        assert_int_equal(v, 10 * MIN);
        assert_int_equal(sendmail_pidfile_interval("4243\n/usr/sbin/sendmail-mta -Am -L sm-que -qp30s\n", &v), 1);
        assert_int_equal(v, 30 * SEC);
        /* persistent runners without a time run again after 1 s */
        v = 0;
        assert_int_equal(sendmail_pidfile_interval("4244\n/usr/sbin/sendmail-mta -Am -L sm-que -qp\n", &v), 1);
        assert_int_equal(v, 1 * SEC);
        v = 0;
        assert_int_equal(sendmail_pidfile_interval("4244\n/usr/sbin/sendmail-mta -bd -qp0\n", &v), 1);
        assert_int_equal(v, 1 * SEC);
        assert_int_equal(sendmail_pidfile_interval("4242\n/usr/sbin/sendmail-mta -Am -L sm-mta -bd\n", &v), 0);
        assert_int_equal(sendmail_pidfile_interval("4242\n/usr/sbin/sendmail-mta -q -qR@\n", &v), 0);
        assert_int_equal(sendmail_pidfile_interval("4242\n", &v), 0);
        assert_int_equal(sendmail_pidfile_interval("4242", &v), 0);
}

static void test_qf(void **state) {
        const char *full = "V8\nT1796080000\nK1796082000\nN3\nP210345\nI8/1/123\nMDeferred\n";
        SendmailQf qf;

        assert_int_equal(sendmail_parse_qf(full, strlen(full), &qf), 0);
        assert_true(qf.have_t && qf.have_k && qf.have_n);
        assert_int_equal(qf.t, 1796080000);
        assert_int_equal(qf.k, 1796082000);
        assert_int_equal(qf.n, 3);

        /* never attempted: K0 N0 */
        assert_int_equal(sendmail_parse_qf("V8\nT1796080000\nK0\nN0\n", 21, &qf), 0);
        assert_int_equal(qf.n, 0);
        /* N0 needs no K */
        assert_int_equal(sendmail_parse_qf("V8\nT1796080000\nN0\n", 18, &qf), 0);

        /* cut short: the K line is not complete */
        assert_int_equal(sendmail_parse_qf(full, 17, &qf), -EBADMSG);
        assert_true(qf.have_t);
        assert_false(qf.have_k);
        assert_int_equal(qf.t, 1796080000);
        /* N > 0 without K */
        assert_int_equal(sendmail_parse_qf("V8\nT1796080000\nN2\n", 18, &qf), -EBADMSG);
        /* not a qf file */
        assert_int_equal(sendmail_parse_qf("hello\nT1\nK1\nN1\n", 16, &qf), -EBADMSG);
        assert_int_equal(sendmail_parse_qf("", 0, &qf), -EBADMSG);
        assert_int_equal(sendmail_parse_qf("V8\nTsoon\nK1\nN1\n", 16, &qf), -EBADMSG);
        assert_false(qf.have_t);
}

static void test_overdue_rule(void **state) {
        SendmailSpacing none = {}, min = { .min_queue_age_usec = 30 * MIN }, max = { .max_queue_age_usec = HOUR };
        SendmailQf qf = { .have_t = true, .have_k = true, .have_n = true, .t = 1000, .k = 5000, .n = 2 };
        uint64_t late;

        assert_int_equal(sendmail_job_due(&qf, &none), 5000);
        assert_int_equal(sendmail_job_due(&qf, &min), 5000 + 1800);
        /* MaxQueueAge: min(K - T, MaxQueueAge); MinQueueAge no longer counts */
        assert_int_equal(sendmail_job_due(&qf, &max), 5000 + 3600);
        qf.k = 1000 + 1200;
        assert_int_equal(sendmail_job_due(&qf, &max), 2200 + 1200);
        qf.k = 900;  /* K before T: no spacing */
        assert_int_equal(sendmail_job_due(&qf, &max), 900);
        /* never attempted: due at its creation */
        qf = (SendmailQf) { .have_t = true, .have_n = true, .t = 1000, .n = 0 };
        assert_int_equal(sendmail_job_due(&qf, &min), 1000);

        /* exactly the slack past due is not overdue; a microsecond more is */
        assert_false(sendmail_overdue(5000, 5000 * SEC + 11 * MIN, 11 * MIN, &late));
        assert_int_equal(late, 0);
        assert_true(sendmail_overdue(5000, 5000 * SEC + 11 * MIN + 1, 11 * MIN, &late));
        assert_int_equal(late, 11 * MIN + 1);
        assert_false(sendmail_overdue(5000, 4000 * SEC, 11 * MIN, &late));
        assert_false(sendmail_overdue(5000, 5000 * SEC + 100 * HOUR, USEC_INFINITY, &late));
        assert_false(sendmail_overdue(-1, 5000 * SEC, 0, &late));
}

static void test_host_status(void **state) {
        const char *refused = "V0\nE111\nH0\nS75\nD4.0.0\nU1796082000\n.\n";
        SendmailHostStatus hs;
        char host[64], why[128];

        assert_int_equal(sendmail_parse_host_status(refused, strlen(refused), &hs), 0);
        assert_int_equal(hs.err, 111);
        assert_int_equal(hs.herr, 0);
        assert_int_equal(hs.exitstat, 75);
        assert_string_equal(hs.dsn, "4.0.0");
        assert_string_equal(hs.reply, "");
        assert_int_equal(hs.lastuse, 1796082000);

        /* half written (no "." yet), something after ".", an unknown line, a bad number */
        assert_int_equal(sendmail_parse_host_status(refused, strlen(refused) - 2, &hs), -EBADMSG);
        assert_int_equal(sendmail_parse_host_status("V0\nS75\n.\nU1\n", 12, &hs), -EBADMSG);
        assert_int_equal(sendmail_parse_host_status("V0\nX1\n.\n", 8, &hs), -EBADMSG);
        assert_int_equal(sendmail_parse_host_status("V0\nSbad\n.\n", 10, &hs), -EBADMSG);
        assert_int_equal(sendmail_parse_host_status("S75\n.\n", 6, &hs), -EBADMSG);
        assert_int_equal(sendmail_parse_host_status("V1\nS75\n.\n", 9, &hs), -EBADMSG);

        assert_int_equal(sendmail_host_from_path("com./example./relay", host, sizeof(host)), 0);
        assert_string_equal(host, "relay.example.com");
        assert_int_equal(sendmail_host_from_path("localhost", host, sizeof(host)), 0);
        assert_string_equal(host, "localhost");
        assert_int_equal(sendmail_host_from_path("", host, sizeof(host)), -EINVAL);
        assert_int_equal(sendmail_host_from_path("com./example./relay", host, 8), -ENOBUFS);

        /* trusted until U + Timeout.hoststatus (mci_get(): stale at <=) */
        assert_int_equal(sendmail_parse_host_status(refused, strlen(refused), &hs), 0);
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC + 29 * MIN, 30 * MIN), 1 * MIN);
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC + 30 * MIN, 30 * MIN), 0);
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC + 30 * MIN - 1, 30 * MIN), 1);
        hs.exitstat = 0;  /* the last attempt worked */
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC, 30 * MIN), 0);
        hs.exitstat = 75;
        /* U ahead of the clock (set back since): trusted as sendmail does
         * while it lies at most the timeout ahead, so that the wait ends
         * within twice the timeout; further ahead it is no wait at all */
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC - 30 * MIN, 30 * MIN), 60 * MIN);
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC - 30 * MIN - 1, 30 * MIN), 0);
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC - 24 * 60 * MIN, 30 * MIN), 0);
        hs.lastuse = 9999999999999ULL;  /* the year 318857 */
        assert_int_equal(sendmail_host_status_wait(&hs, 1796082000ULL * SEC, 30 * MIN), 0);
        hs.lastuse = 1796082000ULL;

        sendmail_wait_reason(why, sizeof(why), "relay.example", &hs, 30 * MIN);
        assert_string_equal(why, "host status of relay.example: Deferred: Connection refused by relay.example, "
                                 "trusted until 00:10:00Z (Timeout.hoststatus 30m)");
        (void) snprintf(hs.reply, sizeof(hs.reply), "421 4.3.2 Service not available");
        sendmail_wait_reason(why, sizeof(why), "relay.example", &hs, 5 * MIN);
        assert_string_equal(why, "host status of relay.example: 421 4.3.2 Service not available, "
                                 "trusted until 23:45:00Z (Timeout.hoststatus 5m)");
}

/* The tree of test_scan(): an MTA queue with two queue groups (q1 plain,
 * q2 with qf/ df/ xf/ subdirectories), a client queue, host status. */
static void scan_tree(void) {
        mkdir_rel("mqueue");
        mkdir_rel("mqueue/q1");
        mkdir_rel("mqueue/q2");
        mkdir_rel("mqueue/q2/qf");
        mkdir_rel("mqueue/q2/df");
        mkdir_rel("mqueue/other");  /* not a queue group: does not start with "q" */
        mkdir_rel("mqueue-client");
        mkdir_rel("host_status");
        mkdir_rel("host_status/example.");
        mkdir_rel("host_status/example./net.");

        /* q1: tried 40 minutes ago (overdue with a 10m interval), tried just now,
         * a tf being written, a df, an xf, a lost Qf, a quarantined hf */
        write_qf("mqueue/q1/qf4B1HM5Xo000001", NOW_SEC - 3 * 3600, NOW_SEC - 40 * 60, 4);
        write_qf("mqueue/q1/qf4B1HM5Xo000002", NOW_SEC - 3600, NOW_SEC - 60, 2);
        write_rel("mqueue/q1/tf4B1HM5Xo000002", "V8\nT1\n");
        write_rel("mqueue/q1/df4B1HM5Xo000001", "body\n");
        write_rel("mqueue/q1/xf4B1HM5Xo000001", "transcript\n");
        write_rel("mqueue/q1/Qf4B1HM5Xo000009", "V8\nT1\nK1\nN99\n");
        write_rel("mqueue/q1/hf4B1HM5Xo000010", "V8\nT1\nK1\nN1\n");
        /* q2/qf: never attempted, 5 minutes old (not overdue), and a garbled one */
        write_qf("mqueue/q2/qf/qf4B1HM5Xo000003", NOW_SEC - 5 * 60, 0, 0);
        write_rel("mqueue/q2/qf/qf4B1HM5Xo000004", "V8\nT17960");
        write_rel("mqueue/q2/df/df4B1HM5Xo000003", "body\n");
        write_qf("mqueue/other/qf4B1HM5Xo000005", NOW_SEC - 3 * 3600, NOW_SEC - 3 * 3600, 1);
        /* the client queue: never attempted for 20 minutes (never overdue: sendmail-msp's) */
        write_qf("mqueue-client/qf4B1HM5Xo000006", NOW_SEC - 20 * 60, 0, 0);

        /* host status: relay.example failed 10 minutes ago, relay2.example.net 25
         * minutes ago (5 left), ok.example.net worked, half.example.net half written */
        write_rel("host_status/example./relay", "V0\nE111\nH0\nS75\nD4.0.0\nU1796082600\n.\n");
        write_rel("host_status/example./net./relay2", "V0\nE110\nH0\nS75\nU1796081700\n.\n");
        write_rel("host_status/example./net./ok", "V0\nE0\nH0\nS0\nU1796083100\n.\n");
        write_rel("host_status/example./net./half", "V0\nE111\nH0\nS75\nU17960");
}

static void test_scan(void **state) {
        char mq[300], client[300], hsd[300], reason[256] = "";
        SendmailScanParams p = {
                .queue_directory = mq,
                .client_queue_directory = client,
                .host_status_directory = hsd,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q;
        SendmailScanExtra e;

        new_root("scan");
        scan_tree();
        path_rel(mq, sizeof(mq), "mqueue/q*");
        path_rel(client, sizeof(client), "mqueue-client");
        path_rel(hsd, sizeof(hsd), "host_status");

        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 5);
        assert_int_equal(q.active, 1);      /* N0 in the MTA queue */
        assert_int_equal(q.deferred, 3);    /* tried before, and the garbled one */
        assert_int_equal(q.maildrop, 1);    /* the client queue */
        assert_int_equal(q.incoming, 0);
        assert_int_equal(q.frozen, 2);
        assert_int_equal(e.lost, 1);
        assert_int_equal(e.quarantined, 1);
        assert_int_equal(e.unreadable, 1);
        assert_int_equal(e.host_files, 3);
        assert_true(q.schedule_known);
        assert_string_equal(q.schedule_source, "qf");
        assert_int_equal(q.slack_usec, 11 * MIN);
        assert_int_equal(q.overdue, 1);
        assert_int_equal(q.most_overdue_usec, 40 * MIN);
        assert_string_equal(q.oldest_id, "4B1HM5Xo000001");
        assert_int_equal(q.oldest_age_usec, 3 * HOUR);
        assert_int_equal(q.wait_left_usec, 20 * MIN);
        assert_string_equal(q.wait_reason, "host status of relay.example: Deferred: Connection refused by "
                                           "relay.example, trusted until 00:20:00Z (Timeout.hoststatus 30m)");

        /* no queue runner: nothing is overdue; MinQueueAge 30m: 40 - 30 < 11 */
        p.slack_usec = USEC_INFINITY;
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.backlog, 5);
        p.slack_usec = 11 * MIN;
        p.spacing.min_queue_age_usec = 30 * MIN;
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);
        p.spacing.min_queue_age_usec = 29 * MIN;
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 0);     /* 11 past due: the slack exactly */
        p.spacing.min_queue_age_usec = 29 * MIN - SEC;
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 1);
        assert_int_equal(q.most_overdue_usec, 11 * MIN + SEC);
        p.spacing.min_queue_age_usec = 0;

        /* one queue group directory, no client queue (missing: empty), no host status */
        path_rel(mq, sizeof(mq), "mqueue/q2");
        path_rel(client, sizeof(client), "no-such-client-queue");
        hsd[0] = 0;
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 2);
        assert_int_equal(q.active, 1);
        assert_int_equal(q.deferred, 1);
        assert_int_equal(q.maildrop, 0);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.wait_left_usec, 0);
        assert_string_equal(q.wait_reason, "");
        assert_string_equal(q.oldest_id, "4B1HM5Xo000003");

        /* the MTA queue missing is an error, named */
        path_rel(mq, sizeof(mq), "no-such-queue");
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), -ENOENT);
        assert_non_null(strstr(reason, "no-such-queue: No such file or directory"));
        path_rel(mq, sizeof(mq), "mqueue/z*");
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), -ENOENT);
        assert_non_null(strstr(reason, "mqueue/z*: no queue directory matches"));
}

/* A qf file whose name holds a blank and a newline (garbled, or put there
 * by hand) and is the oldest: its id in the stats line is one field of
 * one line, so the round is read, not UNKNOWN for a malformed line. */
static void test_scan_odd_name(void **state) {
        char mq[300], reason[256] = "", line[QUEUE_SCAN_LINE_MAX];
        SendmailScanParams p = {
                .queue_directory = mq,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q, back;
        SendmailScanExtra e;
        int n;

        new_root("odd-name");
        mkdir_rel("mqueue");
        write_qf("mqueue/qf4B1HM5Xo000001", NOW_SEC - 3600, NOW_SEC - 3600, 1);
        write_qf("mqueue/qfodd id\nx", NOW_SEC - 2 * 3600, NOW_SEC - 2 * 3600, 1);
        path_rel(mq, sizeof(mq), "mqueue");

        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 2);
        assert_int_equal(q.overdue, 2);
        assert_string_equal(q.oldest_id, "odd_id_x");
        assert_int_equal(q.oldest_age_usec, 2 * HOUR);
        n = queue_scan_format_line(line, sizeof(line), &q);
        assert_true(n > 0);
        assert_int_equal(queue_scan_parse_line(line, (size_t) n, &back), 0);
        assert_string_equal(back.oldest_id, "odd_id_x");
        assert_int_equal(back.backlog, 2);
}

/* Queue group directories and qf/ subdirectories that are symbolic links
 * to directories count, as sendmail's chkqdir() (src/queue.c) follows
 * them (a queue on another disk); a dangling link is no queue directory,
 * as for sendmail. */
static void test_scan_links(void **state) {
        char mq[300], link[300], reason[256] = "";
        SendmailScanParams p = {
                .queue_directory = mq,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q;
        SendmailScanExtra e;

        new_root("links");
        mkdir_rel("mqueue");
        mkdir_rel("mqueue/q1");
        mkdir_rel("disk2");
        mkdir_rel("disk2/q1qf");
        mkdir_rel("disk2/q2");
        write_qf("disk2/q1qf/qf4B1HM5Xo000001", NOW_SEC - 2 * 3600, NOW_SEC - 2 * 3600, 1);
        write_qf("disk2/q2/qf4B1HM5Xo000002", NOW_SEC - 3600, NOW_SEC - 3600, 1);
        path_rel(link, sizeof(link), "mqueue/q1/qf");
        assert_int_equal(symlink("../../disk2/q1qf", link), 0);
        path_rel(link, sizeof(link), "mqueue/q2");
        assert_int_equal(symlink("../disk2/q2", link), 0);
        path_rel(link, sizeof(link), "mqueue/q3");
        assert_int_equal(symlink("../nowhere", link), 0);
        path_rel(mq, sizeof(mq), "mqueue/q*");

        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 2);
        assert_int_equal(q.deferred, 2);
        assert_int_equal(q.overdue, 2);
        assert_string_equal(q.oldest_id, "4B1HM5Xo000001");
        assert_int_equal(q.oldest_age_usec, 2 * HOUR);

        /* the link's target alone */
        path_rel(mq, sizeof(mq), "mqueue/q2");
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 1);
        assert_string_equal(q.oldest_id, "4B1HM5Xo000002");
}

/* A qf/ subdirectory the scan may not list (sendmail, as root, can) is an
 * error, the round UNKNOWN: never the queue directory itself read instead,
 * which would count its qf files as none. The scan runs as nobody, in a
 * child, when the test runs as root. */
static void test_scan_unreadable_qf_dir(void **state) {
        char mq[300], qfdir[300], expected[400], reason[256] = "";
        SendmailScanParams p = {
                .queue_directory = mq,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q;
        SendmailScanExtra e;
        int status;
        pid_t pid;

        new_root("perm");
        mkdir_rel("mqueue");
        mkdir_rel("mqueue/qf");
        write_qf("mqueue/qf/qf4B1HM5Xo000001", NOW_SEC - 2 * 3600, NOW_SEC - 2 * 3600, 1);
        path_rel(mq, sizeof(mq), "mqueue");
        path_rel(qfdir, sizeof(qfdir), "mqueue/qf");
        assert_int_equal(chmod(tmp, 0755), 0);
        assert_int_equal(chmod(root, 0755), 0);
        assert_int_equal(chmod(mq, 0755), 0);
        assert_int_equal(chmod(qfdir, 0700), 0);

        /* whoever may read it finds the message */
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, geteuid() == 0 ? 1 : 0);
        if (geteuid() != 0)
                return;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int code = 0;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(10);
                if (sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)) != -EACCES)
                        code |= 1;
                (void) snprintf(expected, sizeof(expected), "scan %s: Permission denied", qfdir);
                if (strcmp(reason, expected) != 0)
                        code |= 2;
                child_exit(code);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* A host status subdirectory the scan may not open is an error too: the
 * failure it holds would be a wait of sendmail's own, and a stall verdict
 * must not overrule it unseen. The scan runs as nobody, in a child, when
 * the test runs as root. */
static void test_scan_unreadable_host_status(void **state) {
        char mq[300], hsd[300], sub[300], expected[400], reason[256] = "";
        SendmailScanParams p = {
                .queue_directory = mq,
                .host_status_directory = hsd,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q;
        SendmailScanExtra e;
        int status;
        pid_t pid;

        new_root("perm-hs");
        mkdir_rel("mqueue");
        mkdir_rel("host_status");
        mkdir_rel("host_status/example.");
        write_qf("mqueue/qf4B1HM5Xo000001", NOW_SEC - 2 * 3600, NOW_SEC - 2 * 3600, 1);
        write_rel("host_status/example./relay", "V0\nE111\nH0\nS75\nD4.0.0\nU1796082600\n.\n");
        path_rel(mq, sizeof(mq), "mqueue");
        path_rel(hsd, sizeof(hsd), "host_status");
        path_rel(sub, sizeof(sub), "host_status/example.");
        assert_int_equal(chmod(tmp, 0755), 0);
        assert_int_equal(chmod(root, 0755), 0);
        assert_int_equal(chmod(mq, 0755), 0);
        assert_int_equal(chmod(hsd, 0755), 0);
        assert_int_equal(chmod(sub, 0700), 0);

        /* whoever may read it sees relay.example's wait */
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        if (geteuid() != 0)
                return;
        assert_int_equal(q.wait_left_usec, 20 * MIN);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int code = 0;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(10);
                if (sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)) != -EACCES)
                        code |= 1;
                (void) snprintf(expected, sizeof(expected), "scan %s: Permission denied", sub);
                if (strcmp(reason, expected) != 0)
                        code |= 2;
                child_exit(code);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* A qf file the scan may not open is an error, never a message gone: the
 * scan runs as nobody, in a child, when the test runs as root. */
static void test_scan_unreadable_qf(void **state) {
        char mq[300], file[300], expected[400], reason[256] = "";
        SendmailScanParams p = {
                .queue_directory = mq,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q;
        SendmailScanExtra e;
        int status;
        pid_t pid;

        new_root("perm-file");
        mkdir_rel("mqueue");
        write_qf("mqueue/qf4B1HM5Xo000001", NOW_SEC - 2 * 3600, NOW_SEC - 2 * 3600, 1);
        path_rel(mq, sizeof(mq), "mqueue");
        path_rel(file, sizeof(file), "mqueue/qf4B1HM5Xo000001");
        assert_int_equal(chmod(tmp, 0755), 0);
        assert_int_equal(chmod(root, 0755), 0);
        assert_int_equal(chmod(mq, 0755), 0);
        assert_int_equal(chmod(file, 0600), 0);
        if (geteuid() != 0)
                return;
        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 1);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int code = 0;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(10);
                if (sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)) != -EACCES)
                        code |= 1;
                (void) snprintf(expected, sizeof(expected), "scan %s: Permission denied", file);
                if (strcmp(reason, expected) != 0)
                        code |= 2;
                child_exit(code);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* FIFOs, sockets, directories and links named qf* are never opened (an
 * open could block, or have a device's side effects) and are no
 * messages, also where the scan could not open them. The scan runs as
 * nobody, in a child, when the test runs as root. */
static void test_scan_special_files(void **state) {
        char mq[300], path[300], reason[256] = "";
        SendmailScanParams p = {
                .queue_directory = mq,
                .now_usec = NOW,
                .slack_usec = 11 * MIN,
                .host_status_timeout_usec = 30 * MIN,
        };
        QueueStats q;
        SendmailScanExtra e;
        int status;
        pid_t pid;

        new_root("special");
        mkdir_rel("mqueue");
        mkdir_rel("mqueue/qfDIR000000001");
        write_qf("mqueue/qf4B1HM5Xo000001", NOW_SEC - 2 * 3600, NOW_SEC - 2 * 3600, 1);
        path_rel(mq, sizeof(mq), "mqueue");
        path_rel(path, sizeof(path), "mqueue/qfFIFO00000001");
        assert_int_equal(mkfifo(path, 0600), 0);
        path_rel(path, sizeof(path), "mqueue/qfLINK00000001");
        assert_int_equal(symlink("qf4B1HM5Xo000001", path), 0);
        assert_int_equal(chmod(tmp, 0755), 0);
        assert_int_equal(chmod(root, 0755), 0);
        assert_int_equal(chmod(mq, 0755), 0);
        path_rel(path, sizeof(path), "mqueue/qf4B1HM5Xo000001");
        assert_int_equal(chmod(path, 0644), 0);

        assert_int_equal(sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 1);
        assert_string_equal(q.oldest_id, "4B1HM5Xo000001");
        if (geteuid() != 0)
                return;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int code = 0;

                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(10);
                if (sendmail_scan_queue(&p, &q, &e, reason, sizeof(reason)) != 0)
                        code |= 1;
                if (q.backlog != 1)
                        code |= 2;
                child_exit(code);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_extra_line(void **state) {
        SendmailScanExtra e = { .lost = 1, .quarantined = 2, .unreadable = 3 }, e2;
        QueueStats q = { .wait_left_usec = 20 * MIN }, q2 = {};
        char line[SENDMAIL_EXTRA_LINE_MAX];
        int n;

        (void) snprintf(q.wait_reason, sizeof(q.wait_reason), "host status of relay.example: Deferred\n(x)");
        n = sendmail_format_extra_line(line, sizeof(line), &e, &q);
        assert_true(n > 0);
        assert_string_equal(line, "sendmail lost=1 quarantined=2 unreadable=3 wait_left_usec=1200000000 "
                                  "wait=host status of relay.example: Deferred?(x)\n");
        assert_int_equal(sendmail_parse_extra_line(line, (size_t) n, &e2, &q2), 0);
        assert_int_equal(e2.lost, 1);
        assert_int_equal(e2.quarantined, 2);
        assert_int_equal(e2.unreadable, 3);
        assert_int_equal(q2.wait_left_usec, 20 * MIN);
        assert_string_equal(q2.wait_reason, "host status of relay.example: Deferred?(x)");

        q = (QueueStats) {};
        n = sendmail_format_extra_line(line, sizeof(line), &e, &q);
        assert_string_equal(line, "sendmail lost=1 quarantined=2 unreadable=3 wait_left_usec=0 wait=\n");
        assert_int_equal(sendmail_parse_extra_line(line, (size_t) n, &e2, &q2), 0);
        assert_int_equal(q2.wait_left_usec, 0);
        assert_string_equal(q2.wait_reason, "");

        /* no newline, a wait without a reason, a reason without a wait, a field missing */
        assert_int_equal(sendmail_parse_extra_line(line, (size_t) n - 1, &e2, &q2), -EBADMSG);
        assert_int_equal(sendmail_parse_extra_line("sendmail lost=0 quarantined=0 unreadable=0 wait_left_usec=5 "
                                                   "wait=\n", 64, &e2, &q2), -EBADMSG);
        assert_int_equal(sendmail_parse_extra_line("sendmail lost=0 quarantined=0 unreadable=0 wait_left_usec=0 "
                                                   "wait=x\n", 65, &e2, &q2), -EBADMSG);
        assert_int_equal(sendmail_parse_extra_line("sendmail lost=0 unreadable=0 wait_left_usec=0 wait=\n", 50,
                                                   &e2, &q2), -EBADMSG);
        assert_int_equal(sendmail_parse_extra_line("backlog=1\n", 10, &e2, &q2), -EBADMSG);
}

static void test_settings_finish(void **state) {
        const MtaProfile *m = mta_profile_find("sendmail");
        SendmailSettings s;
        char cf[300], err[256] = "";

        assert_non_null(m);
        assert_ptr_equal(m->queue_ops, &probe_sendmail_ops);
        assert_string_equal(m->default_unit, "sendmail.service");
        assert_string_equal(m->pid_file, "/run/sendmail/mta/sendmail.pid");
        assert_string_equal(m->daemon_exe, "/usr/libexec/sendmail/sendmail");
        assert_int_equal(m->activity_source, ACTIVITY_SOURCE_JOURNAL_IDENTIFIER);
        assert_string_equal(m->default_flush_command, "systemctl start --no-block mta-watchdog-sendmail-flush.service");

        new_root("finish");
        write_rel("sendmail.cf", "O QueueDirectory=/srv/mqueue/q*\n#O HostStatusDirectory=.hoststat\n"
                                 "O MinQueueAge=20m\nO Timeout.hoststatus=2m\n");
        path_rel(cf, sizeof(cf), "sendmail.cf");

        /* the file's options where the keys are auto; HostStatusDirectory unset: none */
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.queue_directory, "/srv/mqueue/q*");
        assert_string_equal(s.client_queue_directory, "/var/spool/mqueue-client");
        assert_string_equal(s.host_status_directory, "");
        assert_int_equal(s.min_queue_age_usec, 20 * MIN);
        assert_int_equal(s.max_queue_age_usec, 0);
        assert_int_equal(s.host_status_timeout_usec, 2 * MIN);
        assert_true(s.queue_interval_usec == USEC_INFINITY);
        m->settings_done(&s);

        /* keys set in the ini win */
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        s.queue_directory = strdup("/var/spool/mqueue");
        s.host_status_timeout_usec = 45 * MIN;
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.queue_directory, "/var/spool/mqueue");
        assert_int_equal(s.host_status_timeout_usec, 45 * MIN);
        m->settings_done(&s);

        /* no sendmail.cf: Debian's defaults */
        m->settings_init(&s);
        path_rel(cf, sizeof(cf), "missing.cf");
        s.cf_file = strdup(cf);
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.queue_directory, "/var/spool/mqueue");
        assert_string_equal(s.host_status_directory, "/var/lib/sendmail/host_status");
        assert_int_equal(s.min_queue_age_usec, 0);
        assert_int_equal(s.host_status_timeout_usec, 30 * MIN);
        m->settings_done(&s);

        /* an option that is not a time */
        write_rel("bad.cf", "O MaxQueueAge=later\n");
        path_rel(cf, sizeof(cf), "bad.cf");
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "bad.cf: option MaxQueueAge: \"later\" is not a time; set the [mta] key"));
        m->settings_done(&s);

        /* a relative HostStatusDirectory (the op guide's ".hoststat") is
         * below the queue directory, as for sendmail */
        write_rel("rel.cf", "O QueueDirectory=/var/spool/mqueue\nO HostStatusDirectory=.hoststat\n");
        path_rel(cf, sizeof(cf), "rel.cf");
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.queue_directory, "/var/spool/mqueue");
        assert_string_equal(s.host_status_directory, "/var/spool/mqueue/.hoststat");
        m->settings_done(&s);
        /* ... of the ini's queue_directory when that is set */
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        s.queue_directory = strdup("/srv/mqueue/");
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.host_status_directory, "/srv/mqueue/.hoststat");
        m->settings_done(&s);
        /* below a wildcard of queue groups it is no one directory: the key names it */
        write_rel("relq.cf", "O QueueDirectory=/var/spool/mqueue/q*\nO HostStatusDirectory=.hoststat\n");
        path_rel(cf, sizeof(cf), "relq.cf");
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "relq.cf: HostStatusDirectory \".hoststat\" is relative to queue directories "
                                    "with a wildcard (/var/spool/mqueue/q*); set host_status_directory"));
        m->settings_done(&s);
        /* a relative QueueDirectory cannot be placed */
        write_rel("relqd.cf", "O QueueDirectory=mqueue\n");
        path_rel(cf, sizeof(cf), "relqd.cf");
        m->settings_init(&s);
        s.cf_file = strdup(cf);
        assert_int_equal(m->settings_finish(&s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "relqd.cf: QueueDirectory must be an absolute path; set queue_directory"));
        m->settings_done(&s);
}

/* One run of the probe: the scan in a child, the extra line and the stats
 * line read back (probes/queue-scan.c), against the real clock. */
static void test_probe_run(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(probe_freep) Probe *p = NULL;
        char mq[300], client[300], hsd[300], conf[300], run[300], body[128];
        SendmailSettings s = {
                .queue_directory = mq,
                .client_queue_directory = client,
                .host_status_directory = hsd,
                .conf_file = conf,
                .run_directory = run,
                .queue_interval_usec = USEC_INFINITY,
                .overdue_slack_usec = USEC_INFINITY,
                .min_queue_age_usec = 0,
                .max_queue_age_usec = 0,
                .host_status_timeout_usec = 30 * MIN,
        };
        uint64_t now = (uint64_t) time(NULL);
        ProbeRun r;

        new_root("probe");
        mkdir_rel("mqueue");
        mkdir_rel("run");
        mkdir_rel("hs");
        write_qf("mqueue/qf4B1HM5Xo000007", now - 3 * 3600, now - 2 * 3600, 3);
        write_rel("sendmail.conf", "QUEUE_INTERVAL='15m';\n");
        (void) snprintf(body, sizeof(body), "V0\nE111\nH0\nS75\nD4.0.0\nU%llu\n.\n", (unsigned long long) now - 60);
        write_rel("hs/relay", body);
        path_rel(mq, sizeof(mq), "mqueue");
        path_rel(client, sizeof(client), "mqueue-client");
        path_rel(hsd, sizeof(hsd), "hs");
        path_rel(conf, sizeof(conf), "sendmail.conf");
        path_rel(run, sizeof(run), "run");

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_sendmail_ops, "queue", 10 * SEC, &s, &p), 0);
        probe_run(e, p, &r);
        assert_int_equal(r.r.status, PROBE_OK);
        assert_int_equal(r.r.queue.backlog, 1);
        assert_int_equal(r.r.queue.deferred, 1);
        assert_int_equal(r.r.queue.overdue, 1);
        assert_int_equal(r.r.queue.slack_usec, 16 * MIN);   /* sendmail.conf's 15m + 1m */
        assert_string_equal(r.r.queue.schedule_source, "qf");
        assert_true(r.r.queue.wait_left_usec > 28 * MIN && r.r.queue.wait_left_usec <= 29 * MIN);
        assert_non_null(strstr(r.r.queue.wait_reason, "host status of relay: Deferred: Connection refused by relay, "
                                                      "trusted until "));
        assert_non_null(strstr(r.r.reason, "backlog 1 (mqueue 1, client 0), lost 0, quarantined 0, "
                                           "oldest 4B1HM5Xo000007, overdue 1 (qf, slack 16m); waits 2"));

        /* the daemon's -q in its PID file wins over sendmail.conf */
        write_rel("run/sendmail.pid", "4242\n/usr/sbin/sendmail-mta -Am -L sm-mta -bd -q5m\n");
        probe_run(e, p, &r);
        assert_int_equal(r.r.status, PROBE_OK);
        assert_int_equal(r.r.queue.slack_usec, 6 * MIN);
        /* a daemon without -q: no queue runner, nothing overdue */
        write_rel("run/sendmail.pid", "4242\n/usr/sbin/sendmail-mta -Am -L sm-mta -bd\n");
        probe_run(e, p, &r);
        assert_int_equal(r.r.status, PROBE_OK);
        assert_int_equal(r.r.queue.overdue, 0);
        assert_true(r.r.queue.slack_usec == USEC_INFINITY);
        assert_non_null(strstr(r.r.reason, "slack no queue runner"));

        /* a queue that cannot be read: UNKNOWN, with the reason */
        path_rel(mq, sizeof(mq), "gone");
        p = probe_free(p);
        assert_int_equal(probe_new_on(e, &probe_sendmail_ops, "queue", 10 * SEC, &s, &p), 0);
        probe_run(e, p, &r);
        assert_int_equal(r.r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(r.r.reason, "gone: No such file or directory"));
        run_until_no_children(e);
}

typedef struct LogCase {
        const char *line;
        ActivityKind kind;
        FailureCause cause;
        bool fixable;
        const char *peer;
} LogCase;

#define ID "4B1HM5Xo012345: "
/* The lines as Debian 12's sendmail 8.17.1.9 wrote them in the e2e
 * sandbox (relay [192.0.2.2], the link taken down), then forms of
 * src/err.c sm_errstring() and src/deliver.c giveresponse(). */
static const LogCase log_cases[] = {
        { "6B11majo000751: to=<user@remote.test>, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30279, "
          "relay=[192.0.2.2] [192.0.2.2], dsn=2.0.0, stat=Sent (2.0.0 Ok: queued as 014837.454.3)",
          ACTIVITY_SENT, CAUSE_NONE, false, "" },
        /* a real attempt: the network down, relay= with the address connected to */
        { "6B11mded000777: to=<user@remote.test>, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30279, "
          "relay=[192.0.2.2] [192.0.2.2], dsn=4.4.1, stat=Deferred: [192.0.2.2]: Network is unreachable",
          ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, "[192.0.2.2] [192.0.2.2]" },
        /* the same from the connection cache or the host status: no attempt */
        { "6B11md1T000782: to=<user@remote.test>, delay=00:00:05, xdelay=00:00:00, mailer=relay, pri=120279, "
          "relay=[192.0.2.2], dsn=4.4.1, stat=Deferred: [192.0.2.2]: Network is unreachable",
          ACTIVITY_NONE, CAUSE_NONE, false, "" },
        { ID "to=<user@example.org>, delay=00:10:00, xdelay=00:00:00, mailer=relay, pri=210345, "
          "relay=relay.example., dsn=4.0.0, stat=Deferred: Connection refused by relay.example.",
          ACTIVITY_NONE, CAUSE_NONE, false, "" },
        { ID "to=<user@example.org>, delay=00:10:00, xdelay=00:00:01, mailer=relay, pri=210345, "
          "relay=relay.example. [192.0.2.2], dsn=4.0.0, stat=Deferred: Connection refused by relay.example.",
          ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, "relay.example. [192.0.2.2]" },
        { ID "to=<user@example.org>, delay=00:10:00, xdelay=00:00:00, mailer=esmtp, pri=210345, "
          "relay=mx.other.test. [198.51.100.7], dsn=4.0.0, stat=Deferred: Connection timed out with mx.other.test.",
          ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE, false, "mx.other.test. [198.51.100.7]" },
        /* the peer answered: a 4xx, its text cut off */
        { ID "to=<user@example.org>, delay=00:00:02, xdelay=00:00:02, mailer=relay, pri=120345, "
          "relay=relay.example. [192.0.2.2], dsn=4.3.0, stat=Deferred: 451 4.3.0 Connection refused by relay.example",
          ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "relay.example. [192.0.2.2]" },
        { ID "to=<user@example.org>, delay=00:00:02, xdelay=00:00:02, mailer=relay, pri=120345, "
          "relay=relay.example. [192.0.2.2], dsn=4.0.0, stat=Deferred: Connection reset by relay.example.",
          ACTIVITY_CONN_ERROR_PROBED, CAUSE_DEFERRED_REMOTE, false, "relay.example. [192.0.2.2]" },
        { ID "to=<user@example.org>, delay=00:00:02, xdelay=00:00:02, mailer=relay, pri=120345, "
          "relay=relay.example., dsn=4.4.3, stat=Deferred: Name server: relay.example.: host name lookup failure",
          ACTIVITY_DEFERRED, CAUSE_DNS_FAILURE, true, "relay.example." },
        { ID "to=<nobody@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=relay, pri=120345, "
          "relay=[192.0.2.2] [192.0.2.2], dsn=5.1.1, stat=User unknown",
          ACTIVITY_BOUNCED, CAUSE_NONE, false, "[192.0.2.2] [192.0.2.2]" },
        /* a sender cannot fake a status with its address, nor a server with its reply */
        { ID "to=<\"stat=Sent (x), dsn=2.0.0\"@example.org>, delay=00:00:01, mailer=relay, pri=1, relay=relay.example., "
          "dsn=4.0.0, stat=Deferred: 421 4.4.2 dsn=2.0.0, stat=Sent (forged)",
          ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "relay.example." },
        { ID "from=<\"stat=Deferred: Connection refused by relay.example.\"@evil.test>, size=1, class=0, nrcpts=1",
          ACTIVITY_NONE, CAUSE_NONE, false, "" },
        { "6B11mded000777: from=<e2e@mta-e2e.test>, size=279, class=0, nrcpts=1, msgid=<x@mta-e2e.test>, "
          "proto=ESMTP, daemon=MTA-v4, relay=localhost [127.0.0.1]",
          ACTIVITY_NONE, CAUSE_NONE, false, "" },
        { "starting daemon (8.17.1.9): SMTP+queueing@00:10:00", ACTIVITY_NONE, CAUSE_NONE, false, "" },
        { "runqueue: Skipping queue run -- load average too high", ACTIVITY_NONE, CAUSE_NONE, false, "" },
        { "STARTTLS=client, relay=relay.example., version=TLSv1.3, verify=FAIL", ACTIVITY_NONE, CAUSE_NONE, false, "" },
        {},
};

static void test_log_rules(void **state) {
        static const char *const probed[] = { "relay.example", "192.0.2.2", NULL };
        ActivityPatterns p;
        char err[256] = "";

        assert_int_equal(activity_patterns_init(&p, &sendmail_activity_rules, NULL, NULL, probed, err, sizeof(err)), 0);
        for (const LogCase *c = log_cases; c->line; c++) {
                ActivityLine l;

                activity_classify_line(&p, c->line, &l);
                if (l.kind != c->kind || l.cause != c->cause || l.fixable != c->fixable || strcmp(l.peer, c->peer) != 0)
                        fail_msg("%s: kind %d cause %d fixable %d peer \"%s\"", c->line, l.kind, l.cause, l.fixable,
                                 l.peer);
        }
        assert_true(activity_identifier_relevant(&p, "sm-mta"));
        assert_true(activity_identifier_relevant(&p, "sm-msp-queue"));
        assert_true(activity_identifier_relevant(&p, "sm-mta-runq"));
        assert_false(activity_identifier_relevant(&p, "sendmail"));   /* submissions */
        assert_false(activity_identifier_relevant(&p, "postfix/smtp"));

        /* sendmail's own lines */
        {
                ActivityLine l;

                activity_classify_line(&p, "SYSERR(root): collect: Cannot write ./df6B11mded000777: No space left on device", &l);
                assert_true(l.mta_log);
                assert_false(l.mta_error);
                activity_classify_line(&p, "ERROR: persistent queue runner=0 restarted too many times, "
                                           "queue runner lost", &l);
                assert_true(l.mta_log);
                assert_true(l.mta_error);
                activity_classify_line(&p, "runqueue: Skipping queue run -- too many children", &l);
                assert_true(l.mta_log);
                assert_false(l.mta_error);
        }
        activity_patterns_done(&p);
}

/* An IPv6 relay: sendmail logs a peer's address with the "IPv6:" tag of
 * an RFC 5321 address literal (its anynet_ntop(); uncompressed unless
 * UseCompressedIPv6Addresses), and a failed connect to the probed relay is
 * the stuck signature as for IPv4. The probed host may be written either
 * way. */
static void test_log_ipv6(void **state) {
        static const char *const probed[] = { "2001:db8::2", "[IPv6:2001:db8::3]", NULL };
        static const LogCase cases[] = {
                { ID "to=<user@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=relay, pri=120321, "
                  "relay=[IPv6:2001:db8::2] [IPv6:2001:db8::2], dsn=4.0.0, "
                  "stat=Deferred: Connection refused by [IPv6:2001:db8::2]",
                  ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, "[IPv6:2001:db8::2] [IPv6:2001:db8::2]" },
                { ID "to=<user@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=relay, pri=120321, "
                  "relay=relay6.example. [IPv6:2001:db8:0:0:0:0:0:2], dsn=4.0.0, "
                  "stat=Deferred: Connection refused by relay6.example.",
                  ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true,
                  "relay6.example. [IPv6:2001:db8:0:0:0:0:0:2]" },
                { ID "to=<user@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=relay, pri=120321, "
                  "relay=mx.example. [IPv6:2001:DB8::3], dsn=4.0.0, stat=Deferred: Connection timed out with mx.example.",
                  ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, "mx.example. [IPv6:2001:DB8::3]" },
                { ID "to=<user@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=relay, pri=120321, "
                  "relay=[IPv6:2001:db8::9] [IPv6:2001:db8::9], dsn=4.0.0, "
                  "stat=Deferred: Connection refused by [IPv6:2001:db8::9]",
                  ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE, false, "[IPv6:2001:db8::9] [IPv6:2001:db8::9]" },
                {},
        };
        ActivityPatterns p;
        char err[256] = "";

        assert_int_equal(activity_patterns_init(&p, &sendmail_activity_rules, NULL, NULL, probed, err, sizeof(err)), 0);
        for (const LogCase *c = cases; c->line; c++) {
                ActivityLine l;

                activity_classify_line(&p, c->line, &l);
                if (l.kind != c->kind || l.cause != c->cause || l.fixable != c->fixable || strcmp(l.peer, c->peer) != 0)
                        fail_msg("%s: kind %d cause %d fixable %d peer \"%s\"", c->line, l.kind, l.cause, l.fixable,
                                 l.peer);
        }
        assert_true(activity_address_probed(&p, "2001:db8::3"));
        assert_false(activity_address_probed(&p, "2001:db8::9"));
        activity_patterns_done(&p);
}

static void test_own_text(void **state) {
        char line[512];

        (void) snprintf(line, sizeof(line), ID "to=<a@b.test>,<c@d.test>, ctladdr=<root@h> (0/0), delay=00:00:01, "
                        "mailer=relay, relay=r. [192.0.2.1], dsn=4.0.0, stat=Deferred: 451 4.3.0 try later");
        sendmail_log_own_text(line);
        assert_string_equal(line, ID "to=xxxxxxxxxxxxxxxxxxxxx, ctladdr=xxxxxxxxxxxxxx, delay=00:00:01, "
                                  "mailer=relay, relay=r. [192.0.2.1], dsn=4.0.0, stat=Deferred: 451 ");
        (void) snprintf(line, sizeof(line), ID "to=<a@b.test>, relay=r., dsn=2.0.0, stat=Sent (250 ok: stat=Deferred)");
        sendmail_log_own_text(line);
        assert_string_equal(line, ID "to=xxxxxxxxxx, relay=r., dsn=2.0.0, stat=Sent (");
        (void) snprintf(line, sizeof(line), ID "from=<a@b.test>, size=10");
        sendmail_log_own_text(line);
        assert_string_equal(line, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_time),
                cmocka_unit_test(test_cf),
                cmocka_unit_test(test_intervals),
                cmocka_unit_test(test_qf),
                cmocka_unit_test(test_overdue_rule),
                cmocka_unit_test(test_host_status),
                cmocka_unit_test(test_scan),
                cmocka_unit_test(test_scan_odd_name),
                cmocka_unit_test(test_scan_links),
                cmocka_unit_test(test_scan_unreadable_qf_dir),
                cmocka_unit_test(test_scan_unreadable_host_status),
                cmocka_unit_test(test_scan_unreadable_qf),
                cmocka_unit_test(test_scan_special_files),
                cmocka_unit_test(test_extra_line),
                cmocka_unit_test(test_settings_finish),
                cmocka_unit_test(test_probe_run),
                cmocka_unit_test(test_log_rules),
                cmocka_unit_test(test_log_ipv6),
                cmocka_unit_test(test_own_text),
        };

        block_sigchld();
        return cmocka_run_group_tests(tests, setup, teardown);
}
