/* SPDX-License-Identifier: MIT */
/* The Exim queue probe (probes/exim.c) on spool trees and retry hints
 * databases the tests write: ids and their base-62 times, -H files, the
 * retry records (written with libdb as Exim writes them), the overdue rule
 * at its edges, a delivery holding a -D lock, the queue runner interval,
 * and the Debian defaults. */

#include <db.h>
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

#include "exim.h"
#include "macros.h"
#include "mta.h"
#include "probe.h"
#include "tests.h"

#define SEC  USEC_PER_SEC
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)

static char tmp[] = "/tmp/test-exim-XXXXXX";
static char spool[256];

static const char b62chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* An id of arrival time T: 16 characters with TAIL "pppppp-ff", or 23. */
static void make_id(char *buf, uint64_t t, const char *tail) {
        for (int i = 5; i >= 0; i--) {
                buf[i] = b62chars[t % 62];
                t /= 62;
        }
        buf[6] = 0;
        strcat(buf, tail);
}

static void write_file(const char *rel, const char *content, int64_t mtime) {
        char path[512];
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
        if (mtime > 0) {
                struct timespec ts[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
                assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
        }
}

static void mkdir_rel(const char *rel) {
        char path[512];

        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
        assert_int_equal(mkdir(path, 0750), 0);
}

/* A -H file as Exim's spool_out.c writes it. */
static void write_header(const char *dir, const char *id, uint64_t t, const char *options) {
        char rel[256], body[2048];

        (void) snprintf(rel, sizeof(rel), "%s/%s-H", dir, id);
        (void) snprintf(body, sizeof(body),
                        "%s-H\nDebian-exim 101 101\n<root@host.test>\n%llu 0\n"
                        "-received_time_usec .123456\n-body_linecount 1\n%s"
                        "XX\n1\nuser@example.org\n\n025P Received: from root by host.test\n",
                        id, (unsigned long long) t, options);
        write_file(rel, body, 0);
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

/* A fresh spool with input/, msglog/ and db/ for each test. */
static void new_spool(const char *name) {
        (void) snprintf(spool, sizeof(spool), "%s/%s", tmp, name);
        assert_int_equal(mkdir(spool, 0750), 0);
        mkdir_rel("input");
        mkdir_rel("msglog");
        mkdir_rel("db");
}

static void test_ids(void **state) {
        char id[QUEUE_ID_MAX];
        uint64_t t;

        assert_true(exim_id_valid("1s2AbC-000Xyz-Ab", 16));
        assert_true(exim_id_valid("1s2AbC-0000000000A-0000", 23));
        assert_false(exim_id_valid("1s2AbC-000Xyz-Ab", 15));
        assert_false(exim_id_valid("1s2AbC_000Xyz-Ab", 16));
        assert_false(exim_id_valid("1s2AbC-000Xy!-Ab", 16));
        assert_false(exim_id_valid("1s2AbC-0000000000A0000", 22));
        assert_false(exim_id_valid("1s2AbC-000000000-A-0000", 23));

        assert_int_equal(exim_spool_name("1s2AbC-000Xyz-Ab-H", id), 16);
        assert_string_equal(id, "1s2AbC-000Xyz-Ab");
        assert_int_equal(exim_spool_name("1s2AbC-0000000000A-0000-H", id), 23);
        assert_string_equal(id, "1s2AbC-0000000000A-0000");
        /* temp files, data files, message logs, junk */
        assert_int_equal(exim_spool_name("hdr.1s2AbC-000Xyz-Ab", id), -EINVAL);
        assert_int_equal(exim_spool_name("1s2AbC-000Xyz-Ab-D", id), -EINVAL);
        assert_int_equal(exim_spool_name("1s2AbC-000Xyz-Ab-J", id), -EINVAL);
        assert_int_equal(exim_spool_name("1s2AbC-000Xyz-Ab", id), -EINVAL);
        assert_int_equal(exim_spool_name("-H", id), -EINVAL);
        assert_int_equal(exim_spool_name("", id), -EINVAL);

        /* base 62, most significant first, alphabet 0-9A-Za-z (Exim specification 3.4) */
        assert_int_equal(exim_id_time("1s2AbC", &t), 0);
        assert_int_equal(t, 1714572378);
        assert_int_equal(exim_id_time("000000", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(exim_id_time("000010", &t), 0);
        assert_int_equal(t, 62);
        assert_int_equal(exim_id_time("zzzzzz", &t), 0);
        assert_int_equal(t, 56800235583ULL);
        assert_int_equal(exim_id_time("1r31eq", &t), 0);
        assert_int_equal(t, 1700000000);
        assert_int_equal(exim_id_time("1r3-eq", &t), -EINVAL);
}

static void test_header(void **state) {
        const char *id = "1s2AbC-000Xyz-Ab";
        EximHeader h;
        char buf[1024];

#define HEAD "1s2AbC-000Xyz-Ab-H\nDebian-exim 101 101\n<a@b.test>\n1714572378 0\n"
        (void) snprintf(buf, sizeof(buf), HEAD "-received_time_usec .1\n-frozen 1714572999\n-deliver_firsttime\n"
                        "XX\n1\nu@x.test\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), 0);
        assert_int_equal(h.received_sec, 1714572378);
        assert_true(h.frozen);
        assert_int_equal(h.frozen_sec, 1714572999);
        assert_true(h.firsttime);

        /* neither; the empty sender <> */
        (void) snprintf(buf, sizeof(buf), "1s2AbC-000Xyz-Ab-H\nroot 0 0\n<>\n1714572378 1\n-local\nXX\n0\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), 0);
        assert_false(h.frozen);
        assert_false(h.firsttime);

        /* an ACL variable's value is skipped whole, even when it reads like options;
         * tainted ("--") and quoted ("-(quoter)") options */
        (void) snprintf(buf, sizeof(buf), HEAD "-aclm_x 23\n-frozen 1\n-deliver_firsttime\n"
                        "--(pgsql)host_name mx.test\n--helo_name x\nXX\n1\nu@x.test\n");
        buf[strlen(HEAD) + 4] = 'm';
        (void) snprintf(buf, sizeof(buf), HEAD "-aclm x 29\n-frozen 1\n-deliver_firsttime\n\n"
                        "--(pgsql)host_name mx.test\n--helo_name x\nXX\n1\nu@x.test\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), 0);
        assert_false(h.frozen);
        assert_false(h.firsttime);
        (void) snprintf(buf, sizeof(buf), HEAD "-acl 12 5\n-froz\n-frozen 7\nXX\n0\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), 0);
        assert_true(h.frozen);
        assert_int_equal(h.frozen_sec, 7);

        /* cut inside the option block: not known; another id or no -H: refused */
        (void) snprintf(buf, sizeof(buf), HEAD "-received_time_usec .1\n-froz");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), -ENODATA);
        (void) snprintf(buf, sizeof(buf), HEAD "-aclc x 100\nshort\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), -ENODATA);
        assert_int_equal(exim_parse_header(buf, strlen(buf), "1s2AbC-000Xyz-Ac", &h), -EBADMSG);
        (void) snprintf(buf, sizeof(buf), "1s2AbC-000Xyz-Ab-H\nroot 0 0\nno angle brackets\n1 0\nXX\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), -EBADMSG);
        (void) snprintf(buf, sizeof(buf), "1s2AbC-000Xyz-Ab-H\nroot 0 0\n<>\nsoon 0\nXX\n");
        assert_int_equal(exim_parse_header(buf, strlen(buf), id, &h), -EBADMSG);
        assert_int_equal(exim_parse_header("", 0, id, &h), -ENODATA);
#undef HEAD
}

/* A dbdata_retry record in Exim 4.96's layout on amd64. */
static size_t make_record(uint8_t *buf, int64_t stamp, int64_t first, int64_t last, int64_t next, uint32_t expired,
                          int32_t basic, int32_t more, const char *text) {
        memcpy(buf + 0, &stamp, 8);
        memcpy(buf + 8, &first, 8);
        memcpy(buf + 16, &last, 8);
        memcpy(buf + 24, &next, 8);
        memcpy(buf + 32, &expired, 4);
        memcpy(buf + 36, &basic, 4);
        memcpy(buf + 40, &more, 4);
        strcpy((char *) buf + 44, text);
        return 44 + strlen(text) + 1;
}

/* Writes SPOOL/db/retry as Exim does (hash, keys with their NUL) and the lockfile. */
static void write_retry_db(const char *const *keys, const int64_t (*rec)[4], size_t n, int64_t stamp) {
        char path[512];
        DB *db;

        (void) snprintf(path, sizeof(path), "%s/db/retry", spool);
        assert_int_equal(db_create(&db, NULL, 0), 0);
        assert_int_equal(db->open(db, NULL, path, NULL, DB_HASH, DB_CREATE, 0640), 0);
        for (size_t i = 0; i < n; i++) {
                uint8_t buf[256];
                DBT k = { .data = (void *) keys[i], .size = (uint32_t) strlen(keys[i]) + 1 };
                DBT d = { .data = buf };

                d.size = (uint32_t) make_record(buf, rec[i][3] ? rec[i][3] : stamp, rec[i][0], rec[i][1], rec[i][2],
                                                0, 111, 0, "Connection refused");
                assert_int_equal(db->put(db, NULL, &k, &d, 0), 0);
        }
        assert_int_equal(db->close(db, 0), 0);
        write_file("db/retry.lockfile", "", 0);
}

static void test_retry_records(void **state) {
        uint8_t buf[256];
        EximRetryRecord r;
        char id[QUEUE_ID_MAX];
        size_t n;

        n = make_record(buf, 1000, 900, 950, 1950, 1, -46, 52, "SMTP error from remote mail server: 451 later");
        assert_int_equal(exim_retry_decode(buf, n, &r), 0);
        assert_int_equal(r.time_stamp, 1000);
        assert_int_equal(r.first_failed, 900);
        assert_int_equal(r.last_try, 950);
        assert_int_equal(r.next_try, 1950);
        assert_true(r.expired);
        assert_int_equal(r.basic_errno, -46);
        assert_int_equal(r.more_errno, 52);
        assert_string_equal(r.text, "SMTP error from remote mail server: 451 later");
        /* without the text's NUL; too short */
        assert_int_equal(exim_retry_decode(buf, 50, &r), 0);
        assert_string_equal(r.text, "SMTP e");
        assert_int_equal(exim_retry_decode(buf, 43, &r), -EBADMSG);

        /* keys: from the end, since IPv6 addresses hold colons */
        assert_int_equal(exim_retry_key("T:relay.test:192.0.2.2", 23, id), EXIM_RETRY_KEY_HOST);
        assert_int_equal(exim_retry_key("T:relay.test:192.0.2.2:587", 26, id), EXIM_RETRY_KEY_HOST);
        assert_int_equal(exim_retry_key("T:relay.test:2001:db8::2", 24, id), EXIM_RETRY_KEY_HOST);
        assert_int_equal(exim_retry_key("T:relay.test", 12, id), EXIM_RETRY_KEY_HOST);
        assert_int_equal(exim_retry_key("T:relay.test:2001:db8::2:1s2AbC-000Xyz-Ab", 41, id), EXIM_RETRY_KEY_MESSAGE);
        assert_string_equal(id, "1s2AbC-000Xyz-Ab");
        assert_int_equal(exim_retry_key("T:mx.test:192.0.2.7:587:1s2AbC-0000000000A-0000", 48, id),
                         EXIM_RETRY_KEY_MESSAGE);
        assert_string_equal(id, "1s2AbC-0000000000A-0000");
        assert_int_equal(exim_retry_key("R:example.org", 14, id), EXIM_RETRY_KEY_ROUTING);
        assert_int_equal(exim_retry_key("R:user@example.org", 18, id), EXIM_RETRY_KEY_ROUTING);
        assert_int_equal(exim_retry_key("X:example.org", 13, id), EXIM_RETRY_KEY_OTHER);
        assert_int_equal(exim_retry_key("T:", 2, id), EXIM_RETRY_KEY_OTHER);
        assert_int_equal(exim_retry_key("T:a\0b", 5, id), EXIM_RETRY_KEY_OTHER);
}

/* A database the test writes with libdb, read back through the lock. */
static void test_retry_db(void **state) {
        int64_t now = (int64_t) time(NULL);
        static const char *const keys[] = {
                "T:relay.test:192.0.2.2",                       /* the smarthost */
                "T:relay.test:192.0.2.2:1s2AbC-000Xyz-Ab",      /* one message on it */
                "T:relay.test:192.0.2.2:1s2AbC-000Xyz-Ab",      /* (the same key again: replaced) */
                "R:example.org",                                /* a routing deferral */
                "T:old.test:192.0.2.9",                         /* not written for 8 days: ignored */
                "misc",                                         /* not a retry key */
        };
        const int64_t rec[][4] = {
                { now - 3600, now - 600, now + 900, 0 },
                { now - 3600, now - 600, now + 60, 0 },
                { now - 3600, now - 600, now + 120, 0 },
                { now - 7200, now - 300, now + 1500, 0 },
                { now - 9 * 86400, now - 8 * 86400, now + 86400, now - 8 * 86400 },
                { 0, 0, now + 99999, 0 },
        };
        EximSchedule s = {};
        char reason[256] = "";

        new_spool("db");
        /* no database, no lockfile: no records */
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), 0);

        write_retry_db(keys, rec, ELEMENTSOF(keys), now);
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), 1);
        assert_int_equal(s.records, 5);
        assert_true(s.have_host);
        assert_int_equal(s.host_next_try, now + 1500);
        assert_int_equal(s.n_messages, 1);
        assert_int_equal(exim_schedule_message(&s, "1s2AbC-000Xyz-Ab"), now + 120);
        assert_int_equal(exim_schedule_message(&s, "1s2AbC-000Xyz-Ac"), -1);
        exim_schedule_done(&s);

        /* the database without its lockfile: not read, never created */
        char lock[512];
        (void) snprintf(lock, sizeof(lock), "%s/db/retry.lockfile", spool);
        assert_int_equal(unlink(lock), 0);
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), -ENOENT);
        assert_int_equal(access(lock, F_OK), -1);
        write_file("db/retry.lockfile", "", 0);

        /* a writer holds the lock (another process: fcntl locks are per process) */
        int ready[2], release[2];
        char c;
        pid_t pid;

        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(release), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                int fd = open(lock, O_RDWR);

                (void) close(release[1]);  /* so that the parent's close ends the read */

                if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
                        child_exit(1);
                (void) write(ready[1], "x", 1);
                (void) read(release[0], &c, 1);  /* until the parent closes it */
                child_exit(0);
        }
        (void) close(ready[1]);
        (void) close(release[0]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), -EAGAIN);
        assert_non_null(strstr(reason, "is locked by Exim"));
        (void) close(release[1]);
        (void) close(ready[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* and once it is gone */
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), 1);
        exim_schedule_done(&s);

        /* not a database: unknown, never a guess, and the reason names the file */
        write_file("db/retry", "this is not Berkeley DB\n", 0);
        reason[0] = 0;
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), -EINVAL);
        assert_non_null(strstr(reason, "/db/retry: Invalid argument"));
        assert_int_equal(s.records, 0);
        exim_schedule_done(&s);

        /* 0 bytes (a creation cut short): no records, as for Exim */
        write_file("db/retry", "", 0);
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), 0);
        assert_int_equal(s.records, 0);
        exim_schedule_done(&s);

        /* another Berkeley DB access method (btree, not Exim's hash): its records are read */
        char path[512];
        DB *db;
        (void) snprintf(path, sizeof(path), "%s/db/retry", spool);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(db_create(&db, NULL, 0), 0);
        assert_int_equal(db->open(db, NULL, path, NULL, DB_BTREE, DB_CREATE, 0640), 0);
        {
                uint8_t buf[256];
                DBT k = { .data = (void *) keys[0], .size = (uint32_t) strlen(keys[0]) + 1 };
                DBT d = { .data = buf };

                d.size = (uint32_t) make_record(buf, now, now - 60, now - 30, now + 700, 0, 111, 0, "Connection refused");
                assert_int_equal(db->put(db, NULL, &k, &d, 0), 0);
        }
        assert_int_equal(db->close(db, 0), 0);
        assert_int_equal(exim_read_retry_db(spool, (uint64_t) now, &s, reason, sizeof(reason)), 1);
        assert_int_equal(s.records, 1);
        assert_int_equal(s.host_next_try, now + 700);
        exim_schedule_done(&s);
}

/* Due and overdue at their exact edges. */
static void test_overdue_rule(void **state) {
        uint64_t late;
        const uint64_t slack = 31 * MIN;

        /* never attempted: due at arrival, whatever the records say */
        assert_int_equal(exim_message_due(1000, true, 5000, 9000, 9999), 1000);
        /* attempted: the latest of arrival, last attempt, its own and the hosts' next_try */
        assert_int_equal(exim_message_due(1000, false, 5000, -1, -1), 5000);
        assert_int_equal(exim_message_due(1000, false, 5000, 9000, -1), 9000);
        assert_int_equal(exim_message_due(1000, false, 5000, 9000, 9999), 9999);
        assert_int_equal(exim_message_due(1000, false, 5000, -1, 3000), 5000);
        assert_int_equal(exim_message_due(1000, false, -1, -1, -1), 1000);

        /* exactly the slack past due: not overdue; one microsecond more: overdue */
        assert_false(exim_overdue(1000, 1000 * SEC + slack, slack, &late));
        assert_int_equal(late, 0);
        assert_true(exim_overdue(1000, 1000 * SEC + slack + 1, slack, &late));
        assert_int_equal(late, slack + 1);
        /* before due, at due */
        assert_false(exim_overdue(1000, 999 * SEC, slack, &late));
        assert_false(exim_overdue(1000, 1000 * SEC, slack, &late));
        /* no queue runner: never */
        assert_false(exim_overdue(1000, 1000000 * SEC, USEC_INFINITY, &late));
        assert_int_equal(late, 0);
        /* slack 0: any time past due */
        assert_true(exim_overdue(1000, 1000 * SEC + 1, 0, &late));
        assert_int_equal(late, 1);
}

/* A spool with every kind of message; first without a database (msglog),
 * then with one. */
static void test_scan(void **state) {
        uint64_t now = (uint64_t) time(NULL);
        char a[32], b[32], c[32], d[32], e[32], f[32], rel[128], reason[256];
        QueueStats q;
        EximScanParams p = {
                .now_usec = now * SEC,
                .slack_usec = 31 * MIN,
                .header_age_usec = 31 * MIN,
        };

        new_spool("scan");
        p.spool = spool;
        make_id(a, now - 2 * 3600 - 60, "-000Aaa-0A");   /* never attempted, 2 h: overdue */
        make_id(b, now - 2 * 3600, "-000Bbb-0B");        /* tried 10 min ago: not overdue */
        make_id(c, now - 3 * 3600, "-000Ccc-0C");        /* frozen: apart */
        make_id(d, now - 5 * 60, "-000Ddd-0D");          /* frozen but young: -H not read yet */
        make_id(e, now - 2 * 3600, "-000Eee-0E");        /* split spool, tried 1 h ago: overdue */
        make_id(f, now - 3600, "-0000000000F-000F");     /* 4.97 id, never attempted: overdue */

        write_header("input", a, now - 2 * 3600 - 60, "-deliver_firsttime\n");
        write_header("input", b, now - 2 * 3600, "");
        (void) snprintf(rel, sizeof(rel), "msglog/%s", b);
        write_file(rel, "2026-01-01 00:00:00 defer\n", (int64_t) now - 600);
        write_header("input", c, now - 3 * 3600, "-frozen 1\n");
        write_header("input", d, now - 5 * 60, "-frozen 1\n");
        (void) snprintf(rel, sizeof(rel), "input/%c", e[5]);
        mkdir_rel(rel);
        write_header(rel, e, now - 2 * 3600, "");
        (void) snprintf(rel, sizeof(rel), "msglog/%c", e[5]);
        mkdir_rel(rel);
        (void) snprintf(rel, sizeof(rel), "msglog/%c/%s", e[5], e);
        write_file(rel, "2026-01-01 00:00:00 defer\n", (int64_t) now - 3600);
        write_header("input", f, now - 3600, "-deliver_firsttime\n");
        /* not messages: Exim's temporary header, data files, junk */
        (void) snprintf(rel, sizeof(rel), "input/hdr.%s", a);
        write_file(rel, "partial", 0);
        (void) snprintf(rel, sizeof(rel), "input/%s-D", a);
        write_file(rel, "a-D\n", 0);
        write_file("input/README-H", "x", 0);

        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 5);
        assert_int_equal(q.deferred, 5);
        assert_int_equal(q.incoming + q.active + q.maildrop, 0);
        assert_int_equal(q.frozen, 1);
        assert_true(q.schedule_known);
        assert_string_equal(q.schedule_source, "msglog");
        assert_int_equal(q.overdue, 3);
        assert_int_equal(q.most_overdue_usec, (2 * 3600 + 60) * SEC);
        assert_string_equal(q.oldest_id, a);
        assert_int_equal(q.oldest_age_usec, (2 * 3600 + 60) * SEC);
        assert_int_equal(q.slack_usec, 31 * MIN);
        assert_int_equal(q.hung, 0);

        /* The smarthost waits until 15 min from now: only never-attempted mail is overdue. */
        static const char *const keys[] = { "T:relay.test:192.0.2.2" };
        const int64_t rec[][4] = { { (int64_t) now - 7200, (int64_t) now - 60, (int64_t) now + 900, 0 } };
        write_retry_db(keys, rec, 1, (int64_t) now);
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_string_equal(q.schedule_source, "retry-db");
        assert_int_equal(q.backlog, 5);
        assert_int_equal(q.overdue, 2);
        /* Its next_try passed 40 min ago and no attempt since: E (tried 1 h ago) and
         * B (tried 10 min ago? no: 10 min is after next_try) */
        const int64_t rec2[][4] = { { (int64_t) now - 7200, (int64_t) now - 3000, (int64_t) now - 2400, 0 } };
        write_retry_db(keys, rec2, 1, (int64_t) now);
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 3);

        /* No queue runner: nothing is overdue, frozen still counted apart. */
        p.slack_usec = USEC_INFINITY;
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 0);
        assert_int_equal(q.most_overdue_usec, 0);
        assert_int_equal(q.frozen, 1);
        assert_int_equal(q.backlog, 5);

        /* No input/: UNKNOWN with the path */
        p.spool = tmp;
        assert_true(exim_scan_queue(&p, &q, reason, sizeof(reason)) < 0);
        assert_non_null(strstr(reason, "input"));
}

/* A forked child that holds a write lock on the first bytes of PATH, as
 * Exim's spool_open_datafile() does on -D; *RELEASE ends it. */
static pid_t lock_in_child(const char *path, int *release) {
        int ready[2], rel[2];
        pid_t pid;
        char c;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(rel, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 19 };
                int dfd = open(path, O_RDWR);

                (void) close(rel[1]);
                if (dfd < 0 || fcntl(dfd, F_SETLK, &fl) < 0)
                        child_exit(1);
                (void) write(ready[1], "x", 1);
                (void) read(rel[0], &c, 1);   /* EOF when the parent closes its end */
                child_exit(0);
        }
        (void) close(ready[1]);
        (void) close(rel[0]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        (void) close(ready[0]);
        *release = rel[1];
        return pid;
}

static void release_child(pid_t pid, int release) {
        int status;

        (void) close(release);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A delivery (a forked child) holds the -D lock of an old message: the
 * scan names it as a holder (it does not judge how long: exim_hung_track()
 * does), and the message is not overdue while it is held. */
static void test_hung_delivery(void **state) {
        uint64_t now = (uint64_t) time(NULL), age = 0;
        char id[32], rel[128], path[512], reason[256];
        struct timespec ts;
        EximHeldList held;
        QueueStats q;
        pid_t pid, holder;
        int fd, release;

        new_spool("hung");
        make_id(id, now - 7200, "-000Hhh-0H");
        /* never attempted: due at its arrival, overdue after the slack */
        write_header("input", id, now - 7200, "-deliver_firsttime\n");
        (void) snprintf(rel, sizeof(rel), "input/%s-D", id);
        write_file(rel, "1s2AbC-000Xyz-Ab-D\nbody\n", 0);
        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);

        /* nobody holds it */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(exim_lock_holder(fd, &holder), 0);
        assert_int_equal(holder, 0);

        pid = lock_in_child(path, &release);
        assert_int_equal(exim_lock_holder(fd, &holder), 0);
        assert_int_equal(holder, pid);
        (void) close(fd);

        /* Its run time comes from /proc/PID/stat (ours: visible); wait
         * (bounded) until it is measurable. */
        for (int i = 0; i < 200; i++) {
                assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
                assert_int_equal(exim_process_age(pid, (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000,
                                                  &age), 0);
                if (age > 0)
                        break;
                (void) usleep(10000);
        }
        assert_true(age > 0);

        EximScanParams p = {
                .spool = spool,
                .now_usec = now * SEC,
                .boottime_usec = (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000,
                .slack_usec = 31 * MIN,
                .header_age_usec = 31 * MIN,
                .hung_after_usec = HOUR,
                .held = &held,
        };
        held = (EximHeldList) {};
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, 1);
        assert_int_equal(q.overdue, 0);          /* held: a delivery works on it */
        assert_int_equal(q.most_overdue_usec, 0);
        assert_int_equal(q.hung, 0);             /* judged by exim_hung_track() */
        assert_int_equal(held.n, 1);
        assert_int_equal(held.total, 1);
        assert_int_equal(held.v[0].pid, (uint32_t) pid);
        assert_string_equal(held.v[0].id, id);
        assert_int_equal(held.v[0].run_usec, age);

        /* Younger than the threshold, or 0 (not looked for): no holder
         * named, and still not overdue while held. */
        p.hung_after_usec = 3 * HOUR;
        held = (EximHeldList) {};
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(held.n, 0);
        assert_int_equal(held.total, 0);
        assert_int_equal(q.overdue, 0);
        p.hung_after_usec = 0;
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(held.n, 0);
        assert_int_equal(q.overdue, 0);
        p.hung_after_usec = HOUR;
        p.held = NULL;
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.overdue, 0);

        /* Released: overdue by its age minus the slack, nobody holds it. */
        release_child(pid, release);
        assert_int_equal(exim_process_age(pid, 0, &age), -ENOENT);
        p.held = &held;
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(held.n, 0);
        assert_int_equal(q.overdue, 1);
        assert_int_equal(q.most_overdue_usec, 7200 * SEC);   /* past its due time */
}

/* More holders than EXIM_HELD_MAX: the smallest ids are kept. */
static void test_held_list(void **state) {
        uint64_t now = (uint64_t) time(NULL);
        char ids[EXIM_HELD_MAX + 2][32], rel[128], path[512], reason[256];
        pid_t pids[EXIM_HELD_MAX + 2];
        int release[EXIM_HELD_MAX + 2];
        EximHeldList held = {};
        QueueStats q;
        const size_t n = EXIM_HELD_MAX + 2;

        new_spool("held");
        for (size_t i = 0; i < n; i++) {
                /* written youngest first, so that readdir() order is no help */
                make_id(ids[i], now - 7200 + (n - i), "-000Hhh-0H");
                write_header("input", ids[i], now - 7200 + (n - i), "");
                (void) snprintf(rel, sizeof(rel), "input/%s-D", ids[i]);
                write_file(rel, "1s2AbC-000Xyz-Ab-D\nbody\n", 0);
                (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
                pids[i] = lock_in_child(path, &release[i]);
        }
        EximScanParams p = {
                .spool = spool,
                .now_usec = now * SEC,
                .slack_usec = 31 * MIN,
                .header_age_usec = 31 * MIN,
                .hung_after_usec = HOUR,
                .held = &held,
        };
        assert_int_equal(exim_scan_queue(&p, &q, reason, sizeof(reason)), 0);
        assert_int_equal(q.backlog, n);
        assert_int_equal(held.total, n);
        assert_int_equal(held.n, EXIM_HELD_MAX);
        for (size_t k = 0; k < EXIM_HELD_MAX; k++) {
                /* the oldest is ids[n - 1] */
                assert_string_equal(held.v[k].id, ids[n - 1 - k]);
                assert_int_equal(held.v[k].pid, (uint32_t) pids[n - 1 - k]);
        }
        /* the last first: each child holds copies of the release ends made before it */
        for (size_t i = n; i > 0; i--)
                release_child(pids[i - 1], release[i - 1]);
}

static EximHeldList held_of(size_t n, const EximHeld *v) {
        EximHeldList l = { .n = n, .total = (unsigned) n };

        for (size_t i = 0; i < n; i++)
                l.v[i] = v[i];
        return l;
}

/* How long a holder has held its message: the daemon's own clock, or the
 * process's run time when /proc shows it and it is longer. */
static void test_hung_track(void **state) {
        EximHungTracker t = {};
        const EximHeld a = { .pid = 100, .id = "1xYAAV-0000Cj-1v", .run_usec = EXIM_RUN_UNKNOWN };
        const EximHeld a2 = { .pid = 101, .id = "1xYAAV-0000Cj-1v", .run_usec = EXIM_RUN_UNKNOWN };
        const EximHeld b = { .pid = 200, .id = "1xYAAW-0000Cm-1w", .run_usec = 50 * SEC };
        const EximHeld c = { .pid = 300, .id = "1xYAAU-0000Cr-1y", .run_usec = EXIM_RUN_UNKNOWN };
        EximHeldList l;
        QueueStats q;

        /* first seen: age 0 */
        memset(&q, 0xff, sizeof(q));
        l = held_of(1, &a);
        exim_hung_track(&t, &l, 1000 * SEC, 20 * SEC, &q);
        assert_int_equal(q.hung, 0);
        assert_int_equal(q.hung_pid, 0);
        assert_string_equal(q.hung_id, "");
        assert_int_equal(q.hung_age_usec, 0);
        assert_int_equal(t.n, 1);
        assert_int_equal(t.v[0].pid, 100);
        assert_int_equal(t.v[0].first_seen_usec, 1000 * SEC);

        /* exactly the threshold: not yet; one microsecond more: hung */
        exim_hung_track(&t, &l, 1020 * SEC, 20 * SEC, &q);
        assert_int_equal(q.hung, 0);
        exim_hung_track(&t, &l, 1020 * SEC + 1, 20 * SEC, &q);
        assert_int_equal(q.hung, 1);
        assert_int_equal(q.hung_pid, 100);
        assert_string_equal(q.hung_id, "1xYAAV-0000Cj-1v");
        assert_int_equal(q.hung_age_usec, 20 * SEC + 1);
        assert_int_equal(t.v[0].first_seen_usec, 1000 * SEC);

        /* a visible process that has run longer than the daemon has seen it */
        const EximHeld ab[] = { a, b };
        l = held_of(2, ab);
        exim_hung_track(&t, &l, 1021 * SEC, 20 * SEC, &q);
        assert_int_equal(q.hung, 2);
        assert_int_equal(q.hung_pid, 200);
        assert_string_equal(q.hung_id, "1xYAAW-0000Cm-1w");
        assert_int_equal(q.hung_age_usec, 50 * SEC);
        assert_int_equal(t.n, 2);
        assert_int_equal(t.v[1].first_seen_usec, 1021 * SEC);

        /* another process on the same message: its clock starts again;
         * b gone: forgotten */
        l = held_of(1, &a2);
        exim_hung_track(&t, &l, 1022 * SEC, 20 * SEC, &q);
        assert_int_equal(q.hung, 0);
        assert_int_equal(t.n, 1);
        assert_int_equal(t.v[0].pid, 101);
        assert_int_equal(t.v[0].first_seen_usec, 1022 * SEC);

        /* equal ages: the smaller id */
        const EximHeld a2c[] = { a2, c };
        l = held_of(2, a2c);
        exim_hung_track(&t, &l, 1023 * SEC, 20 * SEC, &q);   /* c first seen */
        exim_hung_track(&t, &l, 1022 * SEC + 30 * SEC, 5 * SEC, &q);
        assert_int_equal(q.hung, 2);
        assert_int_equal(q.hung_age_usec, 30 * SEC);
        l = held_of(2, a2c);
        exim_hung_track(&t, &l, 1053 * SEC, 5 * SEC, &q);
        assert_int_equal(q.hung, 2);
        assert_int_equal(q.hung_pid, 101);
        assert_int_equal(q.hung_age_usec, 31 * SEC);
        t = (EximHungTracker) {};
        exim_hung_track(&t, &l, 1000 * SEC, 5 * SEC, &q);
        exim_hung_track(&t, &l, 1010 * SEC, 5 * SEC, &q);
        assert_int_equal(q.hung, 2);
        assert_int_equal(q.hung_pid, 300);                 /* 1xYAAU < 1xYAAV */
        assert_string_equal(q.hung_id, "1xYAAU-0000Cr-1y");
        assert_int_equal(q.hung_age_usec, 10 * SEC);

        /* 0: nothing is hung (the pairs are still followed) */
        exim_hung_track(&t, &l, 2000 * SEC, 0, &q);
        assert_int_equal(q.hung, 0);
        assert_int_equal(t.n, 2);

        /* nobody holds anything: all forgotten */
        exim_hung_track(&t, NULL, 2001 * SEC, 5 * SEC, &q);
        assert_int_equal(q.hung, 0);
        assert_int_equal(t.n, 0);
}

/* The scan child's "held" lines. */
static void test_held_line(void **state) {
        char buf[EXIM_HELD_LINE_MAX];
        EximHeld h = { .pid = 1124, .id = "1xYAAV-0000Cj-1v", .run_usec = EXIM_RUN_UNKNOWN }, r;

        assert_int_equal(exim_format_held_line(buf, sizeof(buf), &h), 29);
        assert_string_equal(buf, "held 1124 - 1xYAAV-0000Cj-1v\n");
        assert_int_equal(exim_parse_held_line(buf, strlen(buf), &r), 0);
        assert_int_equal(r.pid, 1124);
        assert_int_equal(r.run_usec, EXIM_RUN_UNKNOWN);
        assert_string_equal(r.id, "1xYAAV-0000Cj-1v");

        h.run_usec = 42000001;
        assert_int_equal(exim_format_held_line(buf, sizeof(buf), &h), 36);
        assert_string_equal(buf, "held 1124 42000001 1xYAAV-0000Cj-1v\n");
        assert_int_equal(exim_parse_held_line(buf, strlen(buf), &r), 0);
        assert_int_equal(r.run_usec, 42000001);

        /* no pid, a bad id: not written */
        h.pid = 0;
        assert_int_equal(exim_format_held_line(buf, sizeof(buf), &h), -EINVAL);
        h.pid = 1124;
        (void) snprintf(h.id, sizeof(h.id), "../etc");
        assert_int_equal(exim_format_held_line(buf, sizeof(buf), &h), -EINVAL);

        static const char *const bad[] = {
                "held 1124 - 1xYAAV-0000Cj-1v",           /* no newline */
                "held 0 - 1xYAAV-0000Cj-1v\n",
                "held 2147483648 - 1xYAAV-0000Cj-1v\n",
                "held -1 - 1xYAAV-0000Cj-1v\n",
                "held 1124 x 1xYAAV-0000Cj-1v\n",
                "held 1124  1xYAAV-0000Cj-1v\n",
                "held 1124 - 1xYAAV-0000Cj-1\n",
                "held 1124 - 1xYAAV-0000Cj-1v \n",
                "held 1124 - 1xYAAV-0000Cj-1v\nheld\n",
                "hold 1124 - 1xYAAV-0000Cj-1v\n",
                "held 1124 12345678901234567890 1xYAAV-0000Cj-1v\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(exim_parse_held_line(bad[i], strlen(bad[i]), &r), -EBADMSG);
}

/* MtaProfile.lock_holder: who holds message ID now, flat and split spool. */
static void test_profile_lock_holder(void **state) {
        const MtaProfile *prof = mta_profile_find("exim");
        uint64_t now = (uint64_t) time(NULL);
        char id[32], id2[32], rel[128], path[512];
        EximSettings s = {};
        uint32_t holder = 0;
        pid_t pid;
        int release;

        assert_non_null(prof);
        assert_non_null(prof->lock_holder);
        new_spool("lock-holder");
        s.spool_directory = spool;
        make_id(id, now - 600, "-000Hhh-0H");
        make_id(id2, now - 500, "-000Jjj-0J");

        /* malformed ids: refused, nothing opened */
        assert_int_equal(prof->lock_holder(&s, "../../etc/passwd", &holder), -EINVAL);
        assert_int_equal(prof->lock_holder(&s, "", &holder), -EINVAL);
        assert_int_equal(prof->lock_holder(&s, NULL, &holder), -EINVAL);
        /* no such message */
        assert_int_equal(prof->lock_holder(&s, id, &holder), 0);

        /* flat spool: unlocked, then held by a delivery */
        (void) snprintf(rel, sizeof(rel), "input/%s-D", id);
        write_file(rel, "1s2AbC-000Xyz-Ab-D\nbody\n", 0);
        assert_int_equal(prof->lock_holder(&s, id, &holder), 0);
        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
        pid = lock_in_child(path, &release);
        holder = 0;
        assert_int_equal(prof->lock_holder(&s, id, &holder), 1);
        assert_int_equal(holder, (uint32_t) pid);
        release_child(pid, release);
        holder = 7;
        assert_int_equal(prof->lock_holder(&s, id, &holder), 0);
        assert_int_equal(holder, 7);   /* untouched */

        /* split_spool_directory: input/<6th character>/<id>-D */
        (void) snprintf(rel, sizeof(rel), "input/%c", id2[5]);
        mkdir_rel(rel);
        (void) snprintf(rel, sizeof(rel), "input/%c/%s-D", id2[5], id2);
        write_file(rel, "1s2AbC-000Xyz-Ab-D\nbody\n", 0);
        assert_int_equal(prof->lock_holder(&s, id2, &holder), 0);
        (void) snprintf(path, sizeof(path), "%s/%s", spool, rel);
        pid = lock_in_child(path, &release);
        holder = 0;
        assert_int_equal(prof->lock_holder(&s, id2, &holder), 1);
        assert_int_equal(holder, (uint32_t) pid);
        /* the other message is not held by it */
        assert_int_equal(prof->lock_holder(&s, id, &holder), 0);
        release_child(pid, release);
        assert_int_equal(prof->lock_holder(&s, id2, &holder), 0);
}

static void test_times_and_intervals(void **state) {
        uint64_t v;

        assert_int_equal(exim_parse_time("30m", 3, &v), 0);
        assert_int_equal(v, 30 * MIN);
        assert_int_equal(exim_parse_time("1h30m", 5, &v), 0);
        assert_int_equal(v, 90 * MIN);
        assert_int_equal(exim_parse_time("90", 2, &v), 0);
        assert_int_equal(v, 90 * SEC);
        assert_int_equal(exim_parse_time("1w2d", 4, &v), 0);
        assert_int_equal(v, 9 * 24 * HOUR);
        assert_int_equal(exim_parse_time("", 0, &v), -EBADMSG);
        assert_int_equal(exim_parse_time("1h30", 4, &v), -EBADMSG);
        assert_int_equal(exim_parse_time("m", 1, &v), -EBADMSG);
        assert_int_equal(exim_parse_time("5x", 2, &v), -EBADMSG);
        assert_int_equal(exim_parse_time("99999999999h", 12, &v), -ERANGE);

        /* /etc/default/exim4 (as update-exim4defaults writes it) */
        assert_int_equal(exim_defaults_interval("# comment\nQUEUERUNNER='combined'\nQUEUEINTERVAL='30m'\n", &v), 1);
        assert_int_equal(v, 30 * MIN);
        assert_int_equal(exim_defaults_interval("QUEUEINTERVAL=\"5m\"\nQUEUERUNNER=separate\n", &v), 1);
        assert_int_equal(v, 5 * MIN);
        assert_int_equal(exim_defaults_interval("", &v), 1);   /* the init script's defaults */
        assert_int_equal(v, 30 * MIN);
        assert_int_equal(exim_defaults_interval("QUEUERUNNER='no'\n", &v), 0);
        assert_int_equal(exim_defaults_interval("QUEUERUNNER='ppp'\n", &v), 0);
        assert_int_equal(exim_defaults_interval("QUEUERUNNER='queueonly'\nQUEUERUNNER='nodaemon'\n", &v), 0);
        assert_int_equal(exim_defaults_interval("QUEUEINTERVAL='soon'\n", &v), -EBADMSG);

        /* the daemon's -q option: /etc/init.d/exim4 runs "-bd -q${QFLAGS}${QUEUEINTERVAL}" */
        static const char argv1[] = "/usr/sbin/exim4\0-bd\0-q30m\0";
        static const char argv2[] = "/usr/sbin/exim4\0-oP\0/run/exim4/eximqr.pid\0-qq1h\0-oY\0";
        static const char argv3[] = "/usr/sbin/exim4\0-bd\0-oX\0" "25:587\0";
        static const char argv4[] = "/usr/sbin/exim4\0-qGslow/5m\0-q\0";
        assert_int_equal(exim_cmdline_interval(argv1, sizeof(argv1) - 1, &v), 1);
        assert_int_equal(v, 30 * MIN);
        assert_int_equal(exim_cmdline_interval(argv2, sizeof(argv2) - 1, &v), 1);
        assert_int_equal(v, HOUR);
        assert_int_equal(exim_cmdline_interval(argv3, sizeof(argv3) - 1, &v), 0);
        assert_int_equal(exim_cmdline_interval(argv4, sizeof(argv4) - 1, &v), 0);
}

/* The running daemon wins over the defaults file; none running: the file. */
static void test_queue_interval(void **state) {
        char run[512], defaults[512], path[600], source[64];
        uint64_t v;
        FILE *fp;

        (void) snprintf(run, sizeof(run), "%s/run", tmp);
        (void) snprintf(defaults, sizeof(defaults), "%s/default-exim4", tmp);
        assert_int_equal(mkdir(run, 0755), 0);
        fp = fopen(defaults, "we");
        assert_non_null(fp);
        fputs("QUEUERUNNER='combined'\nQUEUEINTERVAL='15m'\n", fp);
        assert_int_equal(fclose(fp), 0);

        assert_int_equal(exim_queue_interval(run, "/usr/sbin/exim4", defaults, &v, source, sizeof(source)), 1);
        assert_int_equal(v, 15 * MIN);
        assert_string_equal(source, defaults);

        /* This test process "is" the daemon: its command line has no -q. */
        (void) snprintf(path, sizeof(path), "%s/exim.pid", run);
        fp = fopen(path, "we");
        assert_non_null(fp);
        fprintf(fp, "%d\n", (int) getpid());
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(exim_queue_interval(run, NULL, defaults, &v, source, sizeof(source)), 0);
        assert_string_equal(source, "daemon without -q");
        /* ... unless it must be exim4: then it is not the daemon, and the file counts */
        assert_int_equal(exim_queue_interval(run, "/usr/sbin/exim4", defaults, &v, source, sizeof(source)), 1);
        assert_int_equal(v, 15 * MIN);

        /* no file either: the init script's 30m */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(defaults), 0);
        assert_int_equal(exim_queue_interval(run, NULL, defaults, &v, source, sizeof(source)), 1);
        assert_int_equal(v, 30 * MIN);
        assert_string_equal(source, "built-in default");
}

static void test_log_path(void **state) {
        char *spool_dir = NULL, *log_path = NULL, *f = NULL;

        assert_int_equal(exim_parse_bp("spool_directory = /var/spool/exim4\nlog_file_path = /var/log/exim4/%slog\n",
                                       &spool_dir, &log_path), 0);
        assert_string_equal(spool_dir, "/var/spool/exim4");
        assert_string_equal(log_path, "/var/log/exim4/%slog");
        free(spool_dir);
        free(log_path);
        assert_int_equal(exim_parse_bp("spool_directory = spool\nlog_file_path =\n", &spool_dir, &log_path), 0);
        assert_null(spool_dir);
        assert_string_equal(log_path, "");
        free(log_path);

        assert_int_equal(exim_log_file_from_path("/var/log/exim4/%slog", "/var/spool/exim4", &f), 0);
        assert_string_equal(f, "/var/log/exim4/mainlog");
        free(f);
        assert_int_equal(exim_log_file_from_path("syslog : /var/log/exim/%s.log", "/s", &f), 0);
        assert_string_equal(f, "/var/log/exim/main.log");
        free(f);
        assert_int_equal(exim_log_file_from_path("syslog", "/s", &f), 0);
        assert_string_equal(f, "syslog");
        free(f);
        assert_int_equal(exim_log_file_from_path("", "/var/spool/exim4", &f), 0);
        assert_string_equal(f, "/var/spool/exim4/log/mainlog");
        free(f);
        assert_int_equal(exim_log_file_from_path("log/%slog", "/s", &f), -EINVAL);
}

/* Debian defaults: from the binary's -bP when there is one (a script
 * here), else built in; keys set in the ini file are kept. */
static void test_settings_finish(void **state) {
        const MtaProfile *prof = mta_profile_find("exim");
        char script[512], err[256] = "";
        EximSettings s;
        FILE *fp;

        assert_non_null(prof);
        (void) snprintf(script, sizeof(script), "%s/exim4", tmp);

        /* no binary */
        prof->settings_init(&s);
        s.exim_path = strdup("/nonexistent/exim4");
        assert_int_equal(prof->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.spool_directory, "/var/spool/exim4");
        assert_string_equal(s.log_file, "/var/log/exim4/mainlog");
        assert_string_equal(prof->log_file(&s), "/var/log/exim4/mainlog");
        assert_int_equal(s.queue_interval_usec, USEC_INFINITY);
        assert_int_equal(s.hung_delivery_after_usec, 30 * MIN);
        prof->settings_done(&s);

        /* exim4 -bP: a spool elsewhere, logging to syslog */
        fp = fopen(script, "we");
        assert_non_null(fp);
        fputs("#!/bin/sh\n[ \"$1 $2 $3\" = \"-bP spool_directory log_file_path\" ] || exit 1\n"
              "echo 'spool_directory = /srv/exim'\necho 'log_file_path = syslog'\n", fp);
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(chmod(script, 0755), 0);
        prof->settings_init(&s);
        s.exim_path = strdup(script);
        assert_int_equal(prof->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.spool_directory, "/srv/exim");
        assert_string_equal(s.log_file, "syslog");
        assert_null(prof->log_file(&s));
        prof->settings_done(&s);

        /* the ini file's keys win */
        prof->settings_init(&s);
        s.exim_path = strdup(script);
        s.spool_directory = strdup("/var/spool/mine");
        assert_int_equal(prof->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.spool_directory, "/var/spool/mine");
        assert_string_equal(s.log_file, "syslog");
        prof->settings_done(&s);

        /* a relative log path from the binary: refused, naming the key */
        fp = fopen(script, "we");
        assert_non_null(fp);
        fputs("#!/bin/sh\necho 'spool_directory = /srv/exim'\necho 'log_file_path = log/%slog'\n", fp);
        assert_int_equal(fclose(fp), 0);
        prof->settings_init(&s);
        s.exim_path = strdup(script);
        assert_int_equal(prof->settings_finish(&s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "log_file: "));
        prof->settings_done(&s);

        /* a binary that hangs: given up after EXIM_DISCOVER_TIMEOUT_USEC, defaults */
        fp = fopen(script, "we");
        assert_non_null(fp);
        fputs("#!/bin/sh\nexec sleep 30\n", fp);
        assert_int_equal(fclose(fp), 0);
        prof->settings_init(&s);
        s.exim_path = strdup(script);
        assert_int_equal(prof->settings_finish(&s, err, sizeof(err)), 0);
        assert_string_equal(s.spool_directory, "/var/spool/exim4");
        assert_string_equal(s.log_file, "/var/log/exim4/mainlog");
        prof->settings_done(&s);
        assert_int_equal(unlink(script), 0);

        /* the profile */
        assert_string_equal(prof->default_unit, "exim4.service");
        assert_string_equal(prof->default_flush_command, "systemctl start --no-block mta-watchdog-exim-flush.service");
        assert_string_equal(prof->pid_file, "/run/exim4/exim.pid");
        assert_string_equal(prof->daemon_exe, "/usr/sbin/exim4");
        assert_int_equal(prof->activity_source, ACTIVITY_SOURCE_LOGFILE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ids),
                cmocka_unit_test(test_header),
                cmocka_unit_test(test_retry_records),
                cmocka_unit_test(test_retry_db),
                cmocka_unit_test(test_overdue_rule),
                cmocka_unit_test(test_scan),
                cmocka_unit_test(test_hung_delivery),
                cmocka_unit_test(test_held_list),
                cmocka_unit_test(test_hung_track),
                cmocka_unit_test(test_held_line),
                cmocka_unit_test(test_profile_lock_holder),
                cmocka_unit_test(test_times_and_intervals),
                cmocka_unit_test(test_queue_interval),
                cmocka_unit_test(test_log_path),
                cmocka_unit_test(test_settings_finish),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
