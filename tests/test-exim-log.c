/* SPDX-License-Identifier: MIT */
/* Exim's main log classifier (probes/exim-log.c) on Exim 4.96's lines:
 * built from its sources at tag exim-4.96 (src/deliver.c delivery_log(),
 * deferral_log(), failure_log(); src/transports/smtp.c write_logs(),
 * check_response(); src/routers/rf_lookup_hostlist.c; src/queue.c;
 * src/dbfn.c; src/log.c write_syslog()) and its test suite's main logs
 * (test/log/0106, 0211, 0217), with the fields Debian's smarthost
 * configuration logs (MAIN_LOG_SELECTOR = +tls_peerdn ...). The relay is
 * smtp.example.net [192.0.2.10]; addresses are documentation ranges
 * (RFC 5737). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "activity.h"
#include "exim-log.h"
#include "macros.h"

#define TS "2026-11-30 15:27:34 "
#define ID "1qAbCd-000123-Ab"
#define RELAY "smtp.example.net [192.0.2.10]"
#define SMARTHOST "R=smarthost T=remote_smtp_smarthost"

static const char *const probed[] = { "192.0.2.10", NULL };

typedef struct Case {
        const char *line;
        ActivityKind kind;
        FailureCause cause;
        bool fixable;
        const char *peer;
        bool mta_log, mta_error;
} Case;

static const Case cases[] = {
        /* deliveries */
        { TS ID " => alice@example.com " SMARTHOST " H=" RELAY " X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__"
          "AES_256_GCM:256 CV=yes DN=\"CN=smtp.example.net\" C=\"250 2.0.0 Ok: queued as 4F9D8E1A2B\"",
          ACTIVITY_SENT, CAUSE_NONE, false, "", false, false },
        { TS ID " -> bob@example.com " SMARTHOST " H=" RELAY " C=\"250 2.0.0 Ok: queued as 4F9D8E1A2B\"",
          ACTIVITY_SENT, CAUSE_NONE, false, "", false, false },
        { TS ID " => root <root@host.example.org> R=local_user T=mail_spool", ACTIVITY_SENT, CAUSE_NONE, false, "",
          false, false },
        { TS ID " ** carol@example.com " SMARTHOST " H=" RELAY ": SMTP error from remote mail server after RCPT "
          "TO:<carol@example.com>: 550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown",
          ACTIVITY_BOUNCED, CAUSE_DEFERRED_REMOTE, false, RELAY, false, false },
        { TS ID " Completed", ACTIVITY_COMPLETED, CAUSE_NONE, false, "", false, false },
        { TS ID " Completed QT=2h3m", ACTIVITY_COMPLETED, CAUSE_NONE, false, "", false, false },
        /* one host's failure: the stuck signature when it is the relay */
        { TS ID " H=" RELAY " Connection refused", ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, RELAY,
          false, false },
        { TS ID " H=" RELAY " Connection timed out", ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true,
          RELAY, false, false },
        { TS ID " H=" RELAY ":587 No route to host", ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true,
          RELAY, false, false },
        { TS ID " H=mx.dead.example [203.0.113.9] Connection refused", ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE,
          false, "mx.dead.example [203.0.113.9]", false, false },
        /* the relay answered, then went silent or refused: not fixable */
        { TS ID " H=" RELAY ": SMTP timeout after initial connection: Connection timed out",
          ACTIVITY_CONN_ERROR_PROBED, CAUSE_PROTOCOL_TIMEOUT, false, RELAY, false, false },
        { TS ID " H=" RELAY ": SMTP error from remote mail server after pipelined MAIL FROM:<a@example.org>: "
          "451 Temp error", ACTIVITY_CONN_ERROR_PROBED, CAUSE_DEFERRED_REMOTE, false, RELAY, false, false },
        { TS ID " H=" RELAY ": Remote host closed connection in response to EHLO host.example.org",
          ACTIVITY_CONN_ERROR_PROBED, CAUSE_DEFERRED_REMOTE, false, RELAY, false, false },
        /* the address's summary of a failed connect repeats the host line: nothing */
        { TS ID " == alice@example.com " SMARTHOST " defer (111): Connection refused", ACTIVITY_NONE, CAUSE_NONE,
          false, "", false, false },
        { TS ID " == alice@example.com " SMARTHOST " defer (110): Connection timed out", ACTIVITY_NONE,
          CAUSE_NONE, false, "", false, false },
        /* deferrals that attempted something */
        { TS ID " == alice@example.com " SMARTHOST " defer (110): Connection timed out H=" RELAY
          ": SMTP timeout after initial connection", ACTIVITY_DEFERRED, CAUSE_PROTOCOL_TIMEOUT, false, RELAY,
          false, false },
        { TS ID " == dave@example.org " SMARTHOST " defer (-44) H=" RELAY ": SMTP error from remote mail server "
          "after RCPT TO:<dave@example.org>: 451 4.7.1 Greylisted", ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE,
          false, RELAY, false, false },
        { TS ID " == erin@example.org " SMARTHOST " defer (-37) H=" RELAY ": TLS session: (gnutls_handshake): "
          "A TLS fatal alert has been received.", ACTIVITY_DEFERRED, CAUSE_TLS_FAILURE, false, RELAY, false, false },
        { TS ID " == root@host.example.org R=local_user T=mail_spool defer (28): No space left on device",
          ACTIVITY_DEFERRED, CAUSE_LOCAL_RESOURCE, false, "", false, false },
        { TS ID " == alice@example.com " SMARTHOST " defer (-27): failed to expand \"${lookup}\"",
          ACTIVITY_DEFERRED, CAUSE_MTA_INTERNAL, true, "", false, false },
        /* routing: the smarthost's name does not resolve (fixable only for a probed name) */
        { TS ID " == frank@example.org R=smarthost defer (-36): host lookup for smtp.example.net did not "
          "complete (DNS timeout?)", ACTIVITY_DEFERRED, CAUSE_DNS_FAILURE, false, "smtp.example.net", false, false },
        { TS ID " == g@dead.example R=dnslookup defer (-1): host lookup did not complete", ACTIVITY_DEFERRED,
          CAUSE_DNS_FAILURE, false, "", false, false },
        { TS ID " == defer@example.org R=alias defer (-1): This address has been forced to defer.",
          ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { TS ID " == xxx@example.org R=lookuphost T=smtp defer (-1): first-pass only routing due to -odqs, "
          "queue_smtp_domains or control=queue", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        /* Exim waiting out its retry rules: neither progress nor stall */
        { TS ID " == alice@example.com " SMARTHOST " defer (-54): retry time not reached for any host for "
          "'example.com'", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { TS ID " == alice@example.com routing defer (-52): retry time not reached", ACTIVITY_NONE, CAUSE_NONE,
          false, "", false, false },
        { TS ID " == root@host.example.org R=local_user T=mail_spool defer (-53): retry time not reached",
          ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        /* the queue runner */
        { TS "Start queue run: pid=4242", ACTIVITY_QUEUE_RUN, CAUSE_NONE, false, "", false, false },
        { TS "End queue run: pid=4242", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { TS "exim 4.96 daemon started: pid=4200, -q30m, listening for SMTP on [127.0.0.1]:25 [::1]:25",
          ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        /* arrivals, incoming SMTP, frozen and locked messages: nothing */
        { TS ID " <= sender@example.org H=client.example.org [198.51.100.23] P=esmtps "
          "X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234 id=x@example.org", ACTIVITY_NONE, CAUSE_NONE, false,
          "", false, false },
        { TS "H=(helo.example) [198.51.100.23] F=<a@example.org> rejected RCPT <b@example.com>: relay not "
          "permitted", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { TS ID " Message is frozen", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { TS ID " Spool file for " ID " is locked (another process is handling this message)", ACTIVITY_NONE,
          CAUSE_NONE, false, "", false, false },
        /* Exim's own trouble */
        { TS "Failed to get write lock for /var/spool/exim4/db/retry.lockfile: timed out", ACTIVITY_NONE,
          CAUSE_NONE, false, "", true, false },
        { TS ID " lowest numbered MX record points to local host: example.org", ACTIVITY_NONE, CAUSE_NONE, false,
          "", true, false },
        { TS ID " == a@example.org R=dnslookup defer (-1): lowest numbered MX record points to local host",
          ACTIVITY_NONE, CAUSE_NONE, false, "", true, false },
        { TS ID " appendfile transport process returned non-zero status 0x000b: terminated by signal 11",
          ACTIVITY_NONE, CAUSE_MTA_INTERNAL, true, "", true, true },
        { TS "Exim configuration error in line 812 of /var/lib/exim4/config.autogenerated:", ACTIVITY_NONE,
          CAUSE_MTA_INTERNAL, true, "", true, true },
        /* syslog (log_file_path = syslog): the "[n/m] " pieces of a long line,
         * with and without the time stamp (syslog_timestamp) */
        { "[1/2] " TS ID " => alice@example.com " SMARTHOST " H=" RELAY " C=\"250 OK\"", ACTIVITY_SENT,
          CAUSE_NONE, false, "", false, false },
        { "[2\\2] H=" RELAY " Connection refused", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { ID " H=" RELAY " Connection refused", ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, RELAY,
          false, false },
        /* +pid, +millisec, log_timezone */
        { "2026-11-30 15:27:34.123 +0100 [4242] " ID " H=" RELAY " Connection refused", ACTIVITY_CONN_ERROR_PROBED,
          CAUSE_CONNECT_FAILURE, true, RELAY, false, false },
        /* a continuation line */
        { "  H=" RELAY " Connection refused", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        /* what senders and remote servers write never decides */
        { TS ID " => \"x H=smtp.example.net [192.0.2.10] Connection refused\"@example.com " SMARTHOST " H=" RELAY
          " C=\"250 OK\"", ACTIVITY_SENT, CAUSE_NONE, false, "", false, false },
        { TS ID " == \"y defer (111): Connection refused\"@example.org " SMARTHOST " defer (-44) H=" RELAY
          ": SMTP error from remote mail server after RCPT TO:<z@example.org>: 451 Connection refused",
          ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, RELAY, false, false },
        { TS ID " == a@example.org " SMARTHOST " defer (-45) H=" RELAY ": SMTP error from remote mail server "
          "after MAIL FROM:<>: 451 host lookup for smtp.example.net did not complete",
          ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, RELAY, false, false },
        { TS ID " <= \"Exim configuration error\"@example.org H=(x) [198.51.100.23] P=esmtp S=1",
          ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
        { TS ID " == a@example.org F=<Failed to get write lock for x> " SMARTHOST " defer (-54): retry time not "
          "reached", ACTIVITY_NONE, CAUSE_NONE, false, "", false, false },
};

static void test_lines(void **state) {
        ActivityPatterns p;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, &exim_activity_rules, NULL, NULL, probed, err, sizeof(err)), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                ActivityLine l;

                activity_classify_line(&p, c->line, &l);
                if (l.kind != c->kind || l.cause != c->cause || l.fixable != c->fixable ||
                    strcmp(l.peer, c->peer) != 0 || l.mta_log != c->mta_log || l.mta_error != c->mta_error)
                        fail_msg("case %zu \"%s\": got kind %d cause %s fixable %d peer \"%s\" mta_log %d/%d, "
                                 "want kind %d cause %s fixable %d peer \"%s\" mta_log %d/%d",
                                 i, c->line, (int) l.kind, failure_cause_to_string(l.cause), l.fixable, l.peer,
                                 l.mta_log, l.mta_error, (int) c->kind, failure_cause_to_string(c->cause),
                                 c->fixable, c->peer, c->mta_log, c->mta_error);
        }
        activity_patterns_done(&p);
}

/* The relay's name that does not resolve for Exim counts as the stuck
 * signature once it is a probed name (as for Postfix: the activity feed
 * looks it up, probes/activity-feed.c; here the probe is configured by
 * name). */
static void test_dns_probed_name(void **state) {
        static const char *const by_name[] = { "smtp.example.net", NULL };
        ActivityPatterns p;
        ActivityLine l;

        assert_int_equal(activity_patterns_init(&p, &exim_activity_rules, NULL, NULL, by_name, NULL, 0), 0);
        activity_classify_line(&p, TS ID " == frank@example.org R=smarthost defer (-36): host lookup for "
                               "smtp.example.net did not complete (DNS timeout?)", &l);
        assert_int_equal(l.kind, ACTIVITY_DEFERRED);
        assert_int_equal(l.cause, CAUSE_DNS_FAILURE);
        assert_true(l.fixable);
        assert_string_equal(l.peer, "smtp.example.net");
        assert_true(l.peer_is_name);
        activity_patterns_done(&p);
}

/* Counting: exactly one counter per line, and the new ones. */
static void test_counts(void **state) {
        ActivityPatterns p;
        ActivityCounts c = {};

        assert_int_equal(activity_patterns_init(&p, &exim_activity_rules, NULL, NULL, probed, NULL, 0), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ActivityLine l;

                activity_classify_line(&p, cases[i].line, &l);
                activity_count_line(&c, &l);
        }
        assert_int_equal(c.sent, 5);
        assert_int_equal(c.bounced, 1);
        assert_int_equal(c.deferred, 9);
        assert_int_equal(c.conn_errors, 1);
        assert_int_equal(c.conn_errors_probed, 8);
        assert_int_equal(c.completed, 2);
        assert_int_equal(c.queue_runs, 1);
        assert_int_equal(c.mta_log, 5);
        assert_int_equal(c.mta_errors, 2);
        assert_int_equal(c.fixable[CAUSE_CONNECT_FAILURE], 5);
        assert_int_equal(c.fixable[CAUSE_MTA_INTERNAL], 1);
        activity_patterns_done(&p);
}

/* exim_log_own_text() on its own: what is kept. */
static void test_own_text(void **state) {
        static const struct {
                const char *in, *out;
        } cases_[] = {
                { TS ID " => \"a b\"@example.com <c@example.com> " SMARTHOST " C=\"250 OK\"",
                  ID " => xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx " SMARTHOST " C=" },
                { "[1/3] " TS "[12] " ID " Completed", ID " Completed" },
                { "[3/3] whatever", "" },
                { TS ID " <= a@example.org", "" },
                { TS ID " H=" RELAY ": SMTP error from remote mail server after RCPT TO:<a@b>: 451 x",
                  ID " H=" RELAY ": SMTP error from remote mail server" },
                { "not exim at all", "not exim at all" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases_); i++) {
                char *s = strdup(cases_[i].in);

                assert_non_null(s);
                exim_log_own_text(s);
                assert_string_equal(s, cases_[i].out);
                free(s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_dns_probed_name),
                cmocka_unit_test(test_counts),
                cmocka_unit_test(test_own_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
