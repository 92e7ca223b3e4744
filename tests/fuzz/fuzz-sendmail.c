/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what the Sendmail queue probe reads from files that
 * sendmail and message senders shape (probes/sendmail.c), none touching
 * the file system:
 *  1. as the start of a qf file, sendmail_parse_qf(): a parse that
 *     succeeds has T and N (and K when N > 0), and the job's due time is
 *     computed under both spacing rules without overflow;
 *  2. as a host status file, sendmail_parse_host_status(): what it
 *     accepts gives a wait no longer than the timeout, and a reason that
 *     fits QueueStats.wait_reason;
 *  3. as a sendmail.cf, sendmail_parse_cf(), and as sendmail.conf and a
 *     PID file (their queue intervals);
 *  4. as a host status path, sendmail_host_from_path();
 *  5. as the scan child's extra line, sendmail_parse_extra_line(): what
 *     it accepts is written back by sendmail_format_extra_line() and read
 *     again to the same values. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "macros.h"
#include "sendmail.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(-1);
        return 0;
}

static void fuzz_qf(const char *s, size_t n) {
        SendmailSpacing min = { .min_queue_age_usec = 30 * 60 * USEC_PER_SEC };
        SendmailSpacing max = { .max_queue_age_usec = 3600 * USEC_PER_SEC };
        SendmailQf qf;
        uint64_t late;
        int r;

        r = sendmail_parse_qf(s, n, &qf);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0)
                return;
        FUZZ_CHECK(qf.have_t && qf.have_n && (qf.n == 0 || qf.have_k));
        int64_t a = sendmail_job_due(&qf, &min), b = sendmail_job_due(&qf, &max);
        FUZZ_CHECK(a >= 0 && b >= 0);
        if (qf.n > 0)
                FUZZ_CHECK((uint64_t) b >= MIN_OF(qf.k, (uint64_t) INT64_MAX));
        (void) sendmail_overdue(a, UINT64_MAX - 1, 0, &late);
        (void) sendmail_overdue(b, 0, 0, &late);
        FUZZ_CHECK(late == 0);
}

static void fuzz_host_status(const char *s, size_t n) {
        SendmailHostStatus hs;
        char why[128];
        int r;

        r = sendmail_parse_host_status(s, n, &hs);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0)
                return;
        FUZZ_CHECK(strlen(hs.dsn) < sizeof(hs.dsn) && strlen(hs.reply) < sizeof(hs.reply));
        FUZZ_CHECK(sendmail_host_status_wait(&hs, 0, 1800 * USEC_PER_SEC) <= UINT64_MAX);
        if (hs.lastuse < UINT64_MAX / USEC_PER_SEC - 1800)
                FUZZ_CHECK(sendmail_host_status_wait(&hs, hs.lastuse * USEC_PER_SEC, 1800 * USEC_PER_SEC) ==
                           (hs.exitstat != 0 ? 1800 * USEC_PER_SEC : 0));
        sendmail_wait_reason(why, sizeof(why), "relay.example", &hs, 1800 * USEC_PER_SEC);
        FUZZ_CHECK(strlen(why) < sizeof(why));
}

static void fuzz_texts(const char *s) {
        SendmailCf cf;
        char err[160];
        uint64_t v;
        int r;

        r = sendmail_parse_cf(s, &cf, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0)
                sendmail_cf_done(&cf);
        r = sendmail_conf_interval(s, &v);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || (r == 1 && v > 0));
        r = sendmail_pidfile_interval(s, &v);
        FUZZ_CHECK(r == 0 || (r == 1 && v > 0));
}

static void fuzz_path(const char *s) {
        char host[64];
        int r = sendmail_host_from_path(s, host, sizeof(host));

        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOBUFS);
        if (r == 0)
                FUZZ_CHECK(host[0] && strlen(host) < sizeof(host) && !strchr(host, '/'));
}

static void fuzz_extra_line(const char *s, size_t n) {
        SendmailScanExtra e = {}, e2 = {};
        QueueStats q = {}, q2 = {};
        char line[SENDMAIL_EXTRA_LINE_MAX];
        int k;

        if (sendmail_parse_extra_line(s, n, &e, &q) < 0)
                return;
        k = sendmail_format_extra_line(line, sizeof(line), &e, &q);
        FUZZ_CHECK(k > 0);
        FUZZ_CHECK(sendmail_parse_extra_line(line, (size_t) k, &e2, &q2) == 0);
        FUZZ_CHECK(e.lost == e2.lost && e.quarantined == e2.quarantined && e.unreadable == e2.unreadable);
        FUZZ_CHECK(q.wait_left_usec == q2.wait_left_usec && strcmp(q.wait_reason, q2.wait_reason) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        fuzz_qf(s, size);
        fuzz_host_status(s, size);
        fuzz_texts(s);
        fuzz_path(s);
        fuzz_extra_line(s, size);
        free(s);
        return 0;
}
