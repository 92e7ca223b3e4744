/* SPDX-License-Identifier: MIT */
/* Classification of real log lines (MESSAGE as journald stores it) with
 * the built-in Postfix and Exim patterns, and pattern validation. Postfix
 * line shapes follow smtp(8)/qmgr(8)/smtpd(8) logging; Exim lines are from
 * its own test suite's main logs (test/log/4118, 0211) and spec chapter
 * "Log files". Addresses are documentation ranges (RFC 5737). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "activity.h"
#include "exim-log.h"
#include "mta.h"
#include "sendmail-log.h"
#include "postfix.h"
#include "macros.h"

typedef struct Case {
        const char *message;
        ActivityKind kind;
} Case;

static const char *const relay_probed[] = { "192.0.2.2", NULL };
static const char *const relay_by_name[] = { "RELAY.example.NET.", NULL };
static const char *const relay_bracketed[] = { "[192.0.2.2]", NULL };
static const char *const nothing_probed[] = { NULL };

static void check_table(const ActivityRules *mta, const char *const *probed, const Case *cases, size_t n) {
        ActivityPatterns p;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, mta, NULL, NULL, probed, err, sizeof(err)), 0);
        assert_string_equal(err, "");
        for (size_t i = 0; i < n; i++) {
                ActivityKind k = activity_classify(&p, cases[i].message);
                if (k != cases[i].kind)
                        fail_msg("line %zu \"%s\": got %d, want %d", i, cases[i].message, (int) k,
                                 (int) cases[i].kind);
        }
        activity_patterns_done(&p);
        activity_patterns_done(&p);  /* twice is harmless */
}

static const Case postfix_relay_probed[] = {
        { "4F9D8E1A2B: to=<alice@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.52, "
          "delays=0.1/0.01/0.2/0.21, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7C1D2E3F4A)", ACTIVITY_SENT },
        { "4F9D8E1A2B: to=<bob@example.com>, relay=mx.example.com[203.0.113.5]:25, delay=3.1, "
          "delays=0.02/0/2.9/0.2, dsn=4.7.1, status=deferred (host mx.example.com[203.0.113.5] said: "
          "450 4.7.1 <bob@example.com>: Recipient address rejected: Greylisted, see "
          "https://postgrey.schweikert.ch/help/example.com.html (in reply to RCPT TO command))", ACTIVITY_DEFERRED },
        { "4F9D8E1A2B: to=<alice@example.org>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, "
          "status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection timed out)", ACTIVITY_CONN_ERROR_PROBED },
        { "connect to 192.0.2.2[192.0.2.2]:25: Connection refused", ACTIVITY_CONN_ERROR_PROBED },
        { "connect to mx.dead.example[203.0.113.9]:25: Connection refused", ACTIVITY_CONN_ERROR },
        { "4F9D8E1A2B: to=<carol@dead.example>, relay=none, delay=1205, delays=1175/0.01/30/0, dsn=4.4.1, "
          "status=deferred (connect to mx.dead.example[203.0.113.9]:25: Connection refused)", ACTIVITY_CONN_ERROR },
        { "5A6B7C8D9E: to=<dave@example.org>, relay=none, delay=400, delays=400/0.01/0/0, dsn=4.4.1, "
          "status=deferred (delivery temporarily suspended: connect to 192.0.2.2[192.0.2.2]:25: "
          "No route to host)", ACTIVITY_CONN_ERROR_PROBED },
        { "connect to mx2.example.com[2001:db8::25]:25: Network is unreachable", ACTIVITY_CONN_ERROR },
        /* TCP connected, then the remote vanished or stalled: an attempt. */
        { "4F9D8E1A2B: to=<erin@example.com>, relay=mx.example.com[203.0.113.5]:25, delay=301, "
          "delays=0.01/0/0.05/301, dsn=4.4.2, status=deferred (lost connection with "
          "mx.example.com[203.0.113.5] while receiving the initial server greeting)", ACTIVITY_DEFERRED },
        { "4F9D8E1A2B: to=<erin@example.com>, relay=mx.example.com[203.0.113.5]:25, delay=300, "
          "delays=0.01/0/0.05/300, dsn=4.4.2, status=deferred (conversation with "
          "mx.example.com[203.0.113.5] timed out while receiving the initial server greeting)", ACTIVITY_DEFERRED },
        { "4F9D8E1A2B: to=<erin@example.com>, relay=mx.example.com[203.0.113.5]:25, delay=0.4, "
          "delays=0.01/0/0.3/0.1, dsn=4.7.0, status=deferred (host mx.example.com[203.0.113.5] refused "
          "to talk to me: 421 4.7.0 Try again later)", ACTIVITY_DEFERRED },
        /* On its own line smtp only moves on to the next MX. */
        { "conversation with mx.example.com[203.0.113.5] timed out while receiving the initial server greeting",
          ACTIVITY_NONE },
        { "4F9D8E1A2B: to=<frank@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=1.2, "
          "delays=0.1/0/0.6/0.5, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.7] said: "
          "550 5.1.1 <frank@example.net>: Recipient address rejected: User unknown in virtual mailbox "
          "table (in reply to RCPT TO command))", ACTIVITY_BOUNCED },
        { "4F9D8E1A2B: from=<alice@example.org>, status=expired, returned to sender", ACTIVITY_BOUNCED },
        { "4F9D8E1A2B: to=<root@localhost>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, "
          "status=sent (delivered to mailbox)", ACTIVITY_SENT },
        /* Not delivery: smtpd, qmgr, cleanup, internal IPC, postscreen. */
        { "connect from localhost[127.0.0.1]", ACTIVITY_NONE },
        { "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", ACTIVITY_NONE },
        { "lost connection after CONNECT from unknown[198.51.100.20]", ACTIVITY_NONE },
        { "4F9D8E1A2B: removed", ACTIVITY_NONE },
        { "4F9D8E1A2B: from=<alice@example.org>, size=1234, nrcpt=1 (queue active)", ACTIVITY_NONE },
        { "4F9D8E1A2B: message-id=<20261130000000.4F9D8E1A2B@mx1.example.org>", ACTIVITY_NONE },
        { "warning: connect to private/tlsmgr: Connection refused", ACTIVITY_NONE },
        { "CONNECT from [198.51.100.20]:40412 to [192.0.2.10]:25", ACTIVITY_NONE },
        { "", ACTIVITY_NONE },
        /* Text an outside client chose, quoted by smtpd: anchored patterns do not see it. */
        { "NOQUEUE: reject: RCPT from unknown[198.51.100.20]: 554 5.7.1 <x@y.example>: Relay access denied; "
          "from=<\"x, status=sent y\"@b.example> to=<x@y.example> proto=ESMTP helo=<a>", ACTIVITY_NONE },
        { "NOQUEUE: reject: RCPT from unknown[198.51.100.20]: 554 5.7.1 <x@y.example>: Relay access denied; "
          "from=<\"connect to 192.0.2.2[192.0.2.2]: x\"@b.example> to=<x@y.example> proto=ESMTP helo=<a>",
          ACTIVITY_NONE },
        /* A deferral that attempted nothing (qmgr's dead-destination cache). */
        { "6A7B8C9D0E: to=<gina@example.org>, relay=none, delay=12, delays=12/0/0/0, dsn=4.4.2, "
          "status=deferred (delivery temporarily suspended: lost connection with 192.0.2.2[192.0.2.2] "
          "while receiving the initial server greeting)", ACTIVITY_NONE },
        /* The delivery agent is missing or crashing: a deferral of class mta-internal. */
        { "6A7B8C9D0E: to=<gina@example.org>, relay=none, delay=1, delays=1/0/0/0, dsn=4.3.0, "
          "status=deferred (mail transport unavailable)", ACTIVITY_DEFERRED },
        /* The relay's name does not resolve (a stale resolv.conf in the chroot): the name is the peer. */
        { "6A7B8C9D0E: to=<gina@example.org>, relay=none, delay=2, delays=0/0/2/0, dsn=4.4.3, "
          "status=deferred (Host or domain name not found. Name service error for name=relay.example.net "
          "type=A: Host not found, try again)", ACTIVITY_CONN_ERROR },
};

static void test_postfix_relay_probed(void **state) {
        check_table(&postfix_activity_rules, relay_probed, postfix_relay_probed, ELEMENTSOF(postfix_relay_probed));
}

/* The same relay is not probed: its connect errors are ordinary ones. */
static void test_postfix_nothing_probed(void **state) {
        static const Case cases[] = {
                { "4F9D8E1A2B: to=<alice@example.org>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, "
                  "status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection timed out)", ACTIVITY_CONN_ERROR },
                { "connect to relay.example.net[192.0.2.2]:587: Connection refused", ACTIVITY_CONN_ERROR },
                { "4F9D8E1A2B: to=<alice@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.52, "
                  "delays=0.1/0.01/0.2/0.21, dsn=2.0.0, status=sent (250 2.0.0 Ok)", ACTIVITY_SENT },
        };

        check_table(&postfix_activity_rules, nothing_probed, cases, ELEMENTSOF(cases));
        check_table(&postfix_activity_rules, NULL, cases, ELEMENTSOF(cases));
}

/* Probed by name (any case, trailing dot) or by a bracketed literal. */
static void test_postfix_probed_forms(void **state) {
        static const Case by_name[] = {
                { "connect to relay.example.net[192.0.2.2]:587: Connection refused", ACTIVITY_CONN_ERROR_PROBED },
                { "connect to 192.0.2.2[192.0.2.2]:25: Connection refused", ACTIVITY_CONN_ERROR },
                { "connect to relay.example.network[192.0.2.3]:25: Connection refused", ACTIVITY_CONN_ERROR },
        };
        static const Case by_literal[] = {
                { "connect to relay.example.net[192.0.2.2]:587: Connection refused", ACTIVITY_CONN_ERROR_PROBED },
                { "connect to relay.example.net[192.0.2.22]:587: Connection refused", ACTIVITY_CONN_ERROR },
        };
        static const char *const v6[] = { "2001:DB8:0::25", NULL };
        static const Case by_v6[] = {
                { "connect to mx2.example.com[2001:db8::25]:25: Network is unreachable", ACTIVITY_CONN_ERROR_PROBED },
        };

        check_table(&postfix_activity_rules, relay_by_name, by_name, ELEMENTSOF(by_name));
        check_table(&postfix_activity_rules, relay_bracketed, by_literal, ELEMENTSOF(by_literal));
        check_table(&postfix_activity_rules, v6, by_v6, ELEMENTSOF(by_v6));
}

static void test_exim(void **state) {
        static const char *const probed[] = { "127.0.0.1", NULL };
        static const Case cases[] = {
                /* old and 4.97 message ids, with and without the syslog timestamp */
                { "2026-11-30 00:01:02 1qABCd-0001Xy-Ab => alice@example.org R=dnslookup T=remote_smtp "
                  "H=mx.example.org [203.0.113.5] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes "
                  "C=\"250 2.0.0 Ok: queued as 7C1D2E3F4A\"", ACTIVITY_SENT },
                { "10HmbA-000000005vi-0000 => CALLER <CALLER@test.ex> R=localuser T=local_delivery", ACTIVITY_SENT },
                { "1qABCd-0001Xy-Ab -> bob@example.org R=dnslookup T=remote_smtp H=mx.example.org [203.0.113.5] "
                  "C=\"250 2.0.0 Ok: queued as 7C1D2E3F4A\"", ACTIVITY_SENT },
                { "1999-03-02 09:44:33 10HmbM-000000005vi-0000 == rrrr@remote.defer R=remote_quota T=smtp "
                  "defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT "
                  "TO:<rrrr@remote.defer>: 451 Over-quota", ACTIVITY_DEFERRED },
                { "1999-03-02 09:44:33 10HmaX-0005vi-00 == userx@domain1 R=others T=smtp defer (-18) "
                  "H=localhost4.test.ex [127.0.0.1]: Remote host closed connection in response to EHLO "
                  "the.local.host.name", ACTIVITY_DEFERRED },
                { "1qABCd-0001Xy-Ab ** frank@example.net R=dnslookup T=remote_smtp H=mx.example.net "
                  "[198.51.100.7]: SMTP error from remote mail server after RCPT TO:<frank@example.net>: "
                  "550 5.1.1 User unknown", ACTIVITY_BOUNCED },
                { "1qABCd-0001Xy-Ab ** nobody@nowhere.invalid: Unrouteable address", ACTIVITY_BOUNCED },
                /* connection failures: the per-host line counts, the summary does not */
                { "1999-03-02 09:44:33 10HmbD-000000005vi-0000 H=127.0.0.1 [127.0.0.1] Connection refused",
                  ACTIVITY_CONN_ERROR_PROBED },
                { "2026-11-30 00:01:02 1qABCd-0001Xy-Ab H=mx.dead.example [203.0.113.9] Connection timed out",
                  ACTIVITY_CONN_ERROR },
                { "1qABCd-0001Xy-Ab H=mx.dead.example [203.0.113.9]:25 Connection refused", ACTIVITY_CONN_ERROR },
                { "1999-03-02 09:44:33 10HmbD-000000005vi-0000 == yyyy@connection.refused R=refused "
                  "T=smtp_connect_refused defer (111): Connection refused", ACTIVITY_NONE },
                /* waiting out retry rules, router deferrals: no attempt */
                { "1999-03-02 09:44:33 10HmbB-000000005vi-0000 == xxxx@some.domain R=all T=smtp defer (-54): "
                  "retry time not reached for any host for 'some.domain'", ACTIVITY_NONE },
                { "1999-03-02 09:44:33 10HmaX-000000005vi-0000 == defer@test.ex routing defer (-52): "
                  "retry time not reached", ACTIVITY_NONE },
                { "1999-03-02 09:44:33 10HmaX-000000005vi-0000 == defer@test.ex R=alias defer (-1): "
                  "This address has been forced to defer.", ACTIVITY_NONE },
                /* arrivals, completion, incoming SMTP */
                { "1999-03-02 09:44:33 10HmaX-000000005vi-0000 <= CALLER@test.ex U=CALLER P=local S=sss",
                  ACTIVITY_NONE },
                { "1999-03-02 09:44:33 10HmbC-000000005vi-0000 Completed", ACTIVITY_COMPLETED },
                { "1999-03-02 09:44:33 Start queue run: pid=p1237", ACTIVITY_QUEUE_RUN },
                { "1999-03-02 09:44:33 H=localhost (the.local.host.name) [127.0.0.1] F=<CALLER@test.ex> "
                  "temporarily rejected RCPT <rrrr@remote.defer>: Over-quota", ACTIVITY_NONE },
        };

        check_table(&exim_activity_rules, probed, cases, ELEMENTSOF(cases));
}

/* Only Postfix's delivery agents and qmgr tell of deliveries. */
static void test_identifiers(void **state) {
        ActivityPatterns p;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, NULL, relay_probed, err, sizeof(err)), 0);
        assert_true(activity_identifier_relevant(&p, "postfix/smtp"));
        assert_true(activity_identifier_relevant(&p, "postfix-out/lmtp"));
        assert_true(activity_identifier_relevant(&p, "postfix/qmgr"));
        assert_true(activity_identifier_relevant(&p, "postfix/local"));
        assert_false(activity_identifier_relevant(&p, "postfix/smtpd"));
        assert_false(activity_identifier_relevant(&p, "postfix/cleanup"));
        assert_false(activity_identifier_relevant(&p, "postfix/postdrop"));
        assert_false(activity_identifier_relevant(&p, "postfix/sendmail"));
        assert_false(activity_identifier_relevant(&p, NULL));
        /* By name, the relay that does not resolve is the probed one. */
        activity_patterns_done(&p);
        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, NULL, relay_by_name, err, sizeof(err)), 0);
        assert_int_equal(activity_classify(&p, "6A7B8C9D0E: to=<g@example.org>, relay=none, delay=2, "
                                           "status=deferred (Host or domain name not found. Name service error "
                                           "for name=relay.example.net type=A: Host not found, try again)"),
                         ACTIVITY_CONN_ERROR_PROBED);
        activity_patterns_done(&p);

        assert_int_equal(activity_patterns_init(&p, &exim_activity_rules, NULL, NULL, relay_probed, err, sizeof(err)), 0);
        assert_true(activity_identifier_relevant(&p, "exim"));
        assert_false(activity_identifier_relevant(&p, "postfix/smtp"));
        activity_patterns_done(&p);
}

typedef struct CauseCase {
        const char *message;
        ActivityKind kind;
        FailureCause cause;
        bool fixable;
        const char *peer;
        bool mta_log;
} CauseCase;

/* Cause classes, peers and what a restart may fix, with the relay
 * 192.0.2.2 probed and relay.example.net known to resolve to it. */
static void test_postfix_causes(void **state) {
        static const CauseCase cases[] = {
                { "4F9D8E1A2B: to=<a@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.5, dsn=2.0.0, "
                  "status=sent (250 2.0.0 Ok: queued as 7C1D2E3F4A)", ACTIVITY_SENT, CAUSE_NONE, false, "", false },
                { "4F9D8E1A2B: to=<a@example.org>, relay=none, delay=30, dsn=4.4.1, "
                  "status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection timed out)",
                  ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, "192.0.2.2[192.0.2.2]", false },
                { "connect to relay.example.net[2001:db8::2]:25: No route to host",
                  ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE, false, "relay.example.net[2001:db8::2]", false },
                /* the chrooted smtp(8) cannot resolve the relay that our probe reaches */
                { "6A7B8C9D0E: to=<g@example.org>, relay=none, delay=2, dsn=4.4.3, status=deferred "
                  "(Host or domain name not found. Name service error for name=relay.example.net type=A: "
                  "Host not found, try again)",
                  ACTIVITY_CONN_ERROR_PROBED, CAUSE_DNS_FAILURE, true, "relay.example.net", false },
                { "6A7B8C9D0E: to=<g@example.org>, relay=none, delay=2, dsn=4.4.3, status=deferred "
                  "(relay.example.net: Temporary failure in name resolution)",
                  ACTIVITY_DEFERRED, CAUSE_DNS_FAILURE, true, "relay.example.net", false },
                /* a name nobody probes does not resolve: bounced, not fixable */
                { "6A7B8C9D0E: to=<u@nxdomain.example>, relay=none, delay=0.1, dsn=5.4.4, status=bounced "
                  "(Host or domain name not found. Name service error for name=nxdomain.example type=MX: "
                  "Host not found)",
                  ACTIVITY_BOUNCED, CAUSE_DNS_FAILURE, false, "nxdomain.example", false },
                { "4F9D8E1A2B: to=<u@remote.example>, relay=127.0.0.1[127.0.0.1]:10025, delay=60, dsn=4.4.2, "
                  "status=deferred (conversation with 127.0.0.1[127.0.0.1] timed out while performing the "
                  "EHLO handshake)",
                  ACTIVITY_DEFERRED, CAUSE_PROTOCOL_TIMEOUT, false, "127.0.0.1[127.0.0.1]:10025", false },
                { "4F9D8E1A2B: to=<u@remote.example>, relay=192.0.2.2[192.0.2.2]:25, delay=0.4, dsn=4.3.2, "
                  "status=deferred (host 192.0.2.2[192.0.2.2] refused to talk to me: 421 4.3.2 Service not "
                  "available)",
                  ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "192.0.2.2[192.0.2.2]:25", false },
                { "4F9D8E1A2B: to=<u@remote.example>, relay=mx.example.com[203.0.113.5]:25, delay=1, dsn=4.7.5, "
                  "status=deferred (Server certificate not trusted)",
                  ACTIVITY_DEFERRED, CAUSE_TLS_FAILURE, false, "mx.example.com[203.0.113.5]:25", false },
                { "4F9D8E1A2B: to=<u@remote.example>, relay=none, delay=1, dsn=4.7.4, status=deferred "
                  "(TLS is required, but was not offered by host mx.example.com[203.0.113.5])",
                  ACTIVITY_DEFERRED, CAUSE_TLS_FAILURE, false, "mx.example.com[203.0.113.5]", false },
                { "4F9D8E1A2B: to=<u@remote.example>, relay=none, delay=1, dsn=4.3.0, status=deferred "
                  "(unknown mail transport error)",
                  ACTIVITY_DEFERRED, CAUSE_MTA_INTERNAL, true, "", false },
                { "4F9D8E1A2B: to=<u@local.example>, relay=local, delay=1, dsn=4.3.0, status=deferred "
                  "(cannot update mailbox /var/mail/u for user u. cannot open file: No space left on device)",
                  ACTIVITY_DEFERRED, CAUSE_LOCAL_RESOURCE, false, "local", false },
                { "fatal: bad numerical configuration: smtp_mx_address_limit = 5x",
                  ACTIVITY_NONE, CAUSE_MTA_INTERNAL, true, "", true },
                { "warning: process /usr/lib/postfix/sbin/smtp pid 4242 exit status 1",
                  ACTIVITY_NONE, CAUSE_MTA_INTERNAL, true, "", true },
                { "warning: /usr/lib/postfix/sbin/smtp: bad command startup -- throttling",
                  ACTIVITY_NONE, CAUSE_NONE, false, "", true },
                { "6A7B8C9D0E: to=<g@example.org>, relay=none, delay=6.1, delays=0/0.01/6.1/0, dsn=4.4.4, "
                  "status=deferred (unable to look up host relay.example.net: Temporary failure in name resolution)",
                  ACTIVITY_DEFERRED, CAUSE_DNS_FAILURE, true, "relay.example.net", false },
        };
        ActivityPatterns p;
        ActivityCounts c = {};
        char err[256];

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, NULL, relay_probed, err, sizeof(err)), 0);
        assert_int_equal(activity_patterns_add_probed_name(&p, "relay.example.net"), 0);
        assert_int_equal(activity_patterns_add_probed_name(&p, "RELAY.example.net"), 0); /* once */
        assert_true(activity_address_probed(&p, "192.0.2.2"));
        assert_true(activity_address_probed(&p, "[192.0.2.2]"));
        assert_false(activity_address_probed(&p, "192.0.2.3"));
        assert_false(activity_address_probed(&p, "relay.example.net"));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ActivityLine l;

                activity_classify_line(&p, cases[i].message, &l);
                if (l.kind != cases[i].kind || l.cause != cases[i].cause || l.fixable != cases[i].fixable ||
                    l.mta_error != (cases[i].mta_log && cases[i].cause == CAUSE_MTA_INTERNAL) ||
                    strcmp(l.peer, cases[i].peer) != 0 || l.mta_log != cases[i].mta_log)
                        fail_msg("line %zu: got kind %d cause %s fixable %d peer \"%s\" mta_log %d", i,
                                 (int) l.kind, failure_cause_to_string(l.cause), l.fixable, l.peer, l.mta_log);
                activity_count_line(&c, &l);
        }
        assert_int_equal(c.sent, 1);
        assert_int_equal(c.conn_errors_probed, 2);
        assert_int_equal(c.conn_errors, 1);
        assert_int_equal(c.bounced, 1);
        assert_int_equal(c.deferred, 8);
        assert_int_equal(c.failures[CAUSE_DNS_FAILURE], 4);
        assert_int_equal(c.fixable[CAUSE_DNS_FAILURE], 3);
        assert_int_equal(c.fixable[CAUSE_CONNECT_FAILURE], 1);
        assert_int_equal(c.fixable[CAUSE_MTA_INTERNAL], 1);
        assert_int_equal(c.failures[CAUSE_PROTOCOL_TIMEOUT], 1);
        assert_int_equal(c.failures[CAUSE_TLS_FAILURE], 2);
        assert_int_equal(c.failures[CAUSE_LOCAL_RESOURCE], 1);
        assert_int_equal(c.failures[CAUSE_DEFERRED_REMOTE], 1);
        assert_int_equal(c.bounced_by_cause[CAUSE_DNS_FAILURE], 1);
        assert_int_equal(c.mta_log, 3);
        assert_int_equal(c.mta_errors, 2);
        assert_true(activity_identifier_mta_log(&p, "postfix/master"));
        assert_true(activity_identifier_mta_log(&p, "postfix/smtp"));
        assert_false(activity_identifier_mta_log(&p, "postfix/smtpd"));
        activity_patterns_done(&p);
        assert_string_equal(failure_cause_to_string(CAUSE_PROTOCOL_TIMEOUT), "protocol-timeout");
        assert_null(failure_cause_to_string(_CAUSE_MAX));
}

/* Text that others choose: a sender picks the addresses (to=<...>,
 * orig_to=<...>, from=<...>, quoted local parts may hold spaces, commas and
 * parentheses), the remote server picks what follows "said: ". Neither may
 * make a line a delivery, a failure a restart can fix, or name the peer:
 * only Postfix's own words count (probes/postfix.c, postfix_own_text()). */
static void test_postfix_foreign_text(void **state) {
        static const CauseCase cases[] = {
                /* the remote's reply quotes a connect error to our relay */
                { "4F9D8E1A2B: to=<a@example.org>, relay=mx.evil.example[203.0.113.66]:25, delay=1, "
                  "delays=0/0/0.5/0.5, dsn=4.0.0, status=deferred (host mx.evil.example[203.0.113.66] said: "
                  "451 connect to 192.0.2.2[192.0.2.2]:25: Connection timed out (in reply to RCPT TO command))",
                  ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "mx.evil.example[203.0.113.66]:25", false },
                /* ... or a name service error for the relay's name */
                { "4F9D8E1A2B: to=<a@example.org>, relay=mx.evil.example[203.0.113.66]:25, delay=1, "
                  "delays=0/0/0.5/0.5, dsn=4.0.0, status=deferred (host mx.evil.example[203.0.113.66] said: "
                  "450 Name service error for name=relay.example.net type=A (in reply to RCPT TO command))",
                  ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "mx.evil.example[203.0.113.66]:25", false },
                /* ... or a status of its own: still a deferral, never a delivery */
                { "4F9D8E1A2B: to=<a@example.org>, relay=mx.evil.example[203.0.113.66]:25, delay=1, "
                  "delays=0/0/0.5/0.5, dsn=4.0.0, status=deferred (host mx.evil.example[203.0.113.66] said: "
                  "450 x, status=sent y (in reply to RCPT TO command))",
                  ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "mx.evil.example[203.0.113.66]:25", false },
                { "4F9D8E1A2B: to=<a@example.org>, relay=mx.evil.example[203.0.113.66]:25, delay=1, "
                  "delays=0/0/0.5/0.5, dsn=4.0.0, status=deferred (host mx.evil.example[203.0.113.66] refused "
                  "to talk to me: 421 connect to 192.0.2.2[192.0.2.2]:25: Connection refused)",
                  ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "mx.evil.example[203.0.113.66]:25", false },
                /* a recipient that spells out a fixable cause */
                { "4F9D8E1A2B: to=<\"unknown mail transport error\"@evil.example>, relay=none, delay=1, "
                  "delays=0/0/0.5/0.5, dsn=4.4.1, status=deferred (connect to mx.evil.example[203.0.113.66]:25: "
                  "Connection refused)",
                  ACTIVITY_CONN_ERROR, CAUSE_CONNECT_FAILURE, false, "mx.evil.example[203.0.113.66]", false },
                /* ... or a whole connect error to the relay, and a relay= field */
                { "4F9D8E1A2B: to=<\"x, relay=192.0.2.2[192.0.2.2]:25, status=deferred (connect to "
                  "192.0.2.2[192.0.2.2]:25: y\"@evil.example>, relay=mx.evil.example[203.0.113.66]:25, delay=1, "
                  "delays=0/0/0.5/0.5, dsn=4.0.0, status=deferred (host mx.evil.example[203.0.113.66] said: "
                  "450 greylisted (in reply to RCPT TO command))",
                  ACTIVITY_DEFERRED, CAUSE_DEFERRED_REMOTE, false, "mx.evil.example[203.0.113.66]:25", false },
                /* quotes with an escaped quote and a '>' inside */
                { "4F9D8E1A2B: to=<\"a\\\"> , status=sent (\"@evil.example>, orig_to=<\"connect to "
                  "192.0.2.2[192.0.2.2]:25: \"@example.org>, relay=local, delay=1, delays=0/0/0.5/0.5, "
                  "dsn=4.3.0, status=deferred (temporary failure)",
                  ACTIVITY_DEFERRED, CAUSE_NONE, false, "local", false },
                /* a sender that spells out an expiry on qmgr's "queue active" line */
                { "4F9D8E1A2B: from=<\"x, status=expired \"@evil.example>, size=100, nrcpt=1 (queue active)",
                  ACTIVITY_NONE, CAUSE_NONE, false, "", false },
                /* a pipe's command output is not Postfix's either */
                { "4F9D8E1A2B: to=<a@example.org>, relay=filter, delay=1, delays=0/0/0/1, dsn=4.3.0, "
                  "status=deferred (temporary failure. Command output: unknown mail transport error )",
                  ACTIVITY_DEFERRED, CAUSE_NONE, false, "filter", false },
                /* an unterminated address: nothing after it is Postfix's */
                { "4F9D8E1A2B: to=<\"x, status=deferred (connect to 192.0.2.2[192.0.2.2]:25: y",
                  ACTIVITY_NONE, CAUSE_NONE, false, "", false },
                /* what Postfix itself says still counts */
                { "4F9D8E1A2B: to=<\"a b\"@example.org>, orig_to=<c@example.org>, relay=none, delay=30, "
                  "delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to 192.0.2.2[192.0.2.2]:25: "
                  "Connection timed out)",
                  ACTIVITY_CONN_ERROR_PROBED, CAUSE_CONNECT_FAILURE, true, "192.0.2.2[192.0.2.2]", false },
                { "4F9D8E1A2B: to=<a@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, "
                  "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7C1D2E3F4A)",
                  ACTIVITY_SENT, CAUSE_NONE, false, "", false },
                { "4F9D8E1A2B: from=<a@example.org>, status=expired, returned to sender",
                  ACTIVITY_BOUNCED, CAUSE_NONE, false, "", false },
                /* a bounce is final, whatever its class */
                { "4F9D8E1A2B: to=<a@example.org>, relay=none, delay=1, delays=1/0/0/0, dsn=5.3.0, "
                  "status=bounced (mail transport unavailable)",
                  ACTIVITY_BOUNCED, CAUSE_MTA_INTERNAL, false, "", false },
                /* not a queue id: not a delivery line */
                { "4F9D8E1A(B: to=<a@example.org>, relay=none, delay=1, delays=0/0/0.5/0.5, dsn=4.4.1, "
                  "status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection timed out)",
                  ACTIVITY_NONE, CAUSE_NONE, false, "", false },
        };
        ActivityPatterns p;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, NULL, relay_probed, err, sizeof(err)), 0);
        assert_int_equal(activity_patterns_add_probed_name(&p, "relay.example.net"), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ActivityLine l;

                activity_classify_line(&p, cases[i].message, &l);
                if (l.kind != cases[i].kind || l.cause != cases[i].cause || l.fixable != cases[i].fixable ||
                    strcmp(l.peer, cases[i].peer) != 0 || l.mta_log != cases[i].mta_log)
                        fail_msg("line %zu: got kind %d cause %s fixable %d peer \"%s\" mta_log %d", i,
                                 (int) l.kind, failure_cause_to_string(l.cause), l.fixable, l.peer, l.mta_log);
        }
        activity_patterns_done(&p);
}

/* An error_pattern match to a probed peer that a cause rule puts in a
 * class a restart cannot fix (the peer answered) is not fixable. */
static void test_error_pattern_other_class(void **state) {
        ActivityPatterns p;
        ActivityLine l;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, "([0-9.]+\\[[0-9.]+\\])",
                                                relay_probed, err, sizeof(err)), 0);
        activity_classify_line(&p, "4F9D8E1A2B: to=<a@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=1, "
                               "delays=0/0/0.5/0.5, dsn=4.4.2, status=deferred (lost connection with "
                               "192.0.2.2[192.0.2.2] while receiving the initial server greeting)", &l);
        assert_int_equal(l.kind, ACTIVITY_CONN_ERROR_PROBED);
        assert_int_equal(l.cause, CAUSE_DEFERRED_REMOTE);
        assert_false(l.fixable);
        activity_classify_line(&p, "connect to 192.0.2.2[192.0.2.2]:25: Connection refused", &l);
        assert_int_equal(l.kind, ACTIVITY_CONN_ERROR_PROBED);
        assert_int_equal(l.cause, CAUSE_CONNECT_FAILURE);
        assert_true(l.fixable);
        activity_patterns_done(&p);
}

static void test_count(void **state) {
        ActivityCounts c = {};
        static const ActivityKind kinds[] = {
                ACTIVITY_SENT, ACTIVITY_SENT, ACTIVITY_DEFERRED, ACTIVITY_BOUNCED, ACTIVITY_BOUNCED,
                ACTIVITY_BOUNCED, ACTIVITY_CONN_ERROR, ACTIVITY_CONN_ERROR_PROBED, ACTIVITY_CONN_ERROR_PROBED,
                ACTIVITY_NONE, _ACTIVITY_KIND_MAX,
        };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                activity_count(&c, kinds[i]);
        assert_int_equal(c.sent, 2);
        assert_int_equal(c.deferred, 1);
        assert_int_equal(c.bounced, 3);
        assert_int_equal(c.conn_errors, 1);
        assert_int_equal(c.conn_errors_probed, 2);
}

static void test_defaults(void **state) {
        /* Built-in rules come with the MTA's profile (probes/mta.h). */
        assert_ptr_equal(mta_profile_find("postfix")->activity_rules, &postfix_activity_rules);
        assert_non_null(postfix_activity_rules.activity);
        assert_non_null(postfix_activity_rules.error);
        assert_non_null(exim_activity_rules.activity);
        assert_non_null(exim_activity_rules.error);
        assert_ptr_equal(mta_profile_find("sendmail")->activity_rules, &sendmail_activity_rules);
        assert_null(mta_profile_find("qmail"));
        assert_null(mta_profile_find(NULL));
}

/* Own patterns: the first group that took part names the outcome/peer. */
static void test_custom_patterns(void **state) {
        static const char *const probed[] = { "relay.example.net", NULL };
        ActivityPatterns p;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, NULL, "stat=(Delivered)|(Queued)",
                                                "Connection refused by ([^ ]+)", probed, err, sizeof(err)), 0);
        /* "Delivered" is not an outcome word: counts as nothing */
        assert_int_equal(activity_classify(&p, "xAB12: to=<a@b>, stat=Delivered (ok)"), ACTIVITY_NONE);
        assert_int_equal(activity_classify(&p, "xAB12: to=<a@b>, stat=Queued"), ACTIVITY_NONE);
        assert_int_equal(activity_classify(&p, "xAB12: Connection refused by relay.example.net"),
                         ACTIVITY_CONN_ERROR_PROBED);
        assert_int_equal(activity_classify(&p, "xAB12: Connection refused by other.example.net"),
                         ACTIVITY_CONN_ERROR);
        activity_patterns_done(&p);

        assert_int_equal(activity_patterns_init(&p, NULL, "status: (sent|deferred)|(bounced)", "refused by ([^ ]+)",
                                                NULL, err, sizeof(err)), 0);
        assert_int_equal(activity_classify(&p, "status: deferred"), ACTIVITY_DEFERRED);
        assert_int_equal(activity_classify(&p, "status: bounced"), ACTIVITY_BOUNCED);
        assert_int_equal(activity_classify(&p, "status: sent"), ACTIVITY_SENT);
        assert_int_equal(activity_classify(&p, NULL), ACTIVITY_NONE);
        activity_patterns_done(&p);
}

static void test_bad_patterns(void **state) {
        ActivityPatterns p;
        char err[256];

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, "status=(sent", NULL, NULL, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "activity pattern \"status=(sent\": "));
        assert_true(strlen(err) > strlen("activity pattern \"status=(sent\": "));

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, "connect to [", NULL, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "error pattern \"connect to [\": "));

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, "status=sent", NULL, NULL, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "activity pattern \"status=sent\": needs a capture group");

        assert_int_equal(activity_patterns_init(&p, &postfix_activity_rules, NULL, "connect to [^ ]+", NULL, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "error pattern \"connect to [^ ]+\": needs a capture group");

        assert_int_equal(activity_patterns_init(&p, NULL, NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "activity pattern: none given and no built-in one");

        /* a failed init leaves nothing to free, and done accepts it */
        activity_patterns_done(&p);
        assert_null(p.probed_hosts);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_postfix_relay_probed),
                cmocka_unit_test(test_postfix_causes),
                cmocka_unit_test(test_postfix_foreign_text),
                cmocka_unit_test(test_error_pattern_other_class),
                cmocka_unit_test(test_postfix_nothing_probed),
                cmocka_unit_test(test_postfix_probed_forms),
                cmocka_unit_test(test_exim),
                cmocka_unit_test(test_identifiers),
                cmocka_unit_test(test_count),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_custom_patterns),
                cmocka_unit_test(test_bad_patterns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
