/* SPDX-License-Identifier: MIT */
/* The contract every registered probe type keeps (probes/probe.h), run for
 * each entry of probe_ops_table[], and what every MTA profile must hold
 * (probes/mta.h): registry, bad settings refused, one deadline per run
 * with its outcome, a run overlapped by the next one, a probe freed while
 * it runs. A new type is covered as soon as it is registered, given a
 * fixture below that makes a run hang (or says it completes at once). */

#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "activity.h"
#include "dns.h"
#include "exim.h"
#include "sendmail.h"
#include "generic.h"
#include "journal.h"
#include "mta.h"
#include "postfix.h"
#include "probe-harness.h"
#include "probe.h"
#include "smtp.h"
#include "tcp.h"
#include "unit.h"

/* Short, so that a hanging run meets its deadline quickly. */
#define DEADLINE_USEC (300 * USEC_PER_MSEC)

/* Settings under which a run of the type does not end by itself. */
typedef struct Fixture {
        sd_event *event;
        int silent_fd;                   /* unit: the far end of a bus that never answers */
        sd_bus *silent_bus;
        int listen_fd;                   /* smtp: accepts, never greets */
        char dir[64];                    /* postfix: a postconf that sleeps; journal: no journal files */
        char postconf[96];
        SmtpSettings smtp;
        int silent_dns_fd;               /* dns, tcp: a name server that never answers */
        char resolv_conf[96];
        DnsSettings dns;
        TcpSettings tcp;
        PostfixSettings postfix;
        char fifo[96];                   /* exim: /etc/default/exim4 as a FIFO nobody writes */
        EximSettings exim;
        SendmailSettings sendmail;
        GenericSettings generic;         /* generic: dir, empty (a scan ends at once) */
        char *generic_dirs[2];
        UnitSettings unit;
        JournalSettings journal;
} Fixture;

static int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        FILE *script;

        assert_non_null(f);
        /* Child processes (the postfix probe's) are reaped by sd-event. */
        sigset_t mask;
        assert_int_equal(sigemptyset(&mask), 0);
        assert_int_equal(sigaddset(&mask, SIGCHLD), 0);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        assert_int_equal(sd_event_new(&f->event), 0);

        /* A bus connection whose peer never reads: every call waits. */
        int pair[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), 0);
        f->silent_fd = pair[1];
        assert_int_equal(sd_bus_new(&f->silent_bus), 0);
        assert_int_equal(sd_bus_set_fd(f->silent_bus, pair[0], pair[0]), 0);
        assert_int_equal(sd_bus_start(f->silent_bus), 0);
        assert_int_equal(sd_bus_attach_event(f->silent_bus, f->event, 0), 0);

        f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->listen_fd >= 0);
        assert_int_equal(bind(f->listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->listen_fd, 8), 0);
        assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *) &sa, &len), 0);
        f->smtp = (SmtpSettings) { .host = (char *) "127.0.0.1", .port = ntohs(sa.sin_port) };

        strcpy(f->dir, "/tmp/test-probe-contract-XXXXXX");
        assert_non_null(mkdtemp(f->dir));

        /* dns, tcp: queries go to a UDP socket nobody reads */
        sa = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        len = sizeof(sa);
        f->silent_dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(f->silent_dns_fd >= 0);
        assert_int_equal(bind(f->silent_dns_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(f->silent_dns_fd, (struct sockaddr *) &sa, &len), 0);
        (void) snprintf(f->resolv_conf, sizeof(f->resolv_conf), "%s/resolv.conf", f->dir);
        script = fopen(f->resolv_conf, "we");
        assert_non_null(script);
        fputs("nameserver 127.0.0.1\n", script);
        assert_int_equal(fclose(script), 0);
        f->dns = (DnsSettings) {
                .name = (char *) "canary.test",
                .record = (char *) "mx",
                .resolver = { .path = f->resolv_conf, .port = ntohs(sa.sin_port) },
        };
        f->tcp = (TcpSettings) {
                .mx_of = { .value = (char *) "canary.test" },
                .port = 25,
                .resolver = { .path = f->resolv_conf, .port = ntohs(sa.sin_port) },
        };
        (void) snprintf(f->postconf, sizeof(f->postconf), "%s/postconf", f->dir);
        script = fopen(f->postconf, "we");
        assert_non_null(script);
        fputs("#!/bin/sh\nexec sleep 30\n", script);
        assert_int_equal(fclose(script), 0);
        assert_int_equal(chmod(f->postconf, 0755), 0);
        f->postfix = (PostfixSettings) {
                .queue_directory = f->dir,
                .postconf_path = f->postconf,
                .overdue_slack_usec = USEC_INFINITY,
        };

        /* exim: no daemon's PID file in dir, so the child reads the
         * defaults file, which blocks like a hung file system. */
        (void) snprintf(f->fifo, sizeof(f->fifo), "%s/exim4", f->dir);
        assert_int_equal(mkfifo(f->fifo, 0600), 0);
        f->exim = (EximSettings) {
                .spool_directory = f->dir,
                .queue_interval_usec = USEC_INFINITY,
                .overdue_slack_usec = USEC_INFINITY,
                .defaults_file = f->fifo,
                .run_directory = f->dir,
        };
        /* sendmail: no PID file in dir, so the child reads sendmail.conf, the FIFO */
        f->sendmail = (SendmailSettings) {
                .queue_directory = f->dir,
                .queue_interval_usec = USEC_INFINITY,
                .overdue_slack_usec = USEC_INFINITY,
                .min_queue_age_usec = 0,
                .max_queue_age_usec = 0,
                .host_status_timeout_usec = USEC_INFINITY,
                .conf_file = f->fifo,
                .run_directory = f->dir,
        };

        f->generic_dirs[0] = f->dir;
        f->generic = (GenericSettings) { .queue_directories = f->generic_dirs };

        f->unit = (UnitSettings) { .unit = "postfix@-.service", .bus = f->silent_bus };
        f->journal = (JournalSettings) {
                .unit = "postfix@-.service",
                .rules = &postfix_activity_rules,
                .journal_directory = f->dir,
        };
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *f = *state;

        (void) close(f->listen_fd);
        (void) close(f->silent_dns_fd);
        (void) unlink(f->resolv_conf);
        sd_bus_close_unref(f->silent_bus);
        (void) close(f->silent_fd);
        (void) unlink(f->postconf);
        (void) unlink(f->fifo);
        (void) rmdir(f->dir);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

/* The settings of OPS's type that keep a run going; *HANGS false for a
 * type whose runs complete at once (the journal reports its counters). */
static const void *settings_of(Fixture *f, const struct probe_ops *ops, bool *hangs) {
        *hangs = true;
        if (ops == &probe_smtp_ops)
                return &f->smtp;
        if (ops == &probe_dns_ops)
                return &f->dns;
        if (ops == &probe_tcp_ops)
                return &f->tcp;
        if (ops == &probe_postfix_ops)
                return &f->postfix;
        if (ops == &probe_exim_ops)
                return &f->exim;
        if (ops == &probe_sendmail_ops)
                return &f->sendmail;
        if (ops == &probe_generic_ops) {
                *hangs = false;
                return &f->generic;
        }
        if (ops == &probe_unit_ops)
                return &f->unit;
        if (ops == &probe_journal_ops) {
                *hangs = false;
                return &f->journal;
        }
        fail_msg("probe type %s has no fixture in tests/test-probe-contract.c", ops->type);
        return NULL;
}

static size_t n_types(void) {
        size_t n = 0;

        while (probe_ops_table[n])
                n++;
        return n;
}

static void test_registry(void **state) {
        assert_int_equal(n_types(), 9);
        for (size_t i = 0; probe_ops_table[i]; i++) {
                const struct probe_ops *ops = probe_ops_table[i];

                assert_ptr_equal(probe_ops_find(ops->type), ops);
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(probe_ops_table[j]->type, ops->type);
                assert_true(ops->kind <= PROBE_KIND_UNIT);
                assert_non_null(ops->init);
                assert_non_null(ops->start);
                /* Types an admin configures in [probe:NAME] bring their keys. */
                if (ops->kind == PROBE_KIND_REACHABILITY) {
                        assert_non_null(ops->config_items);
                        assert_true(ops->settings_size > 0);
                        assert_non_null(ops->settings_init);
                        assert_non_null(ops->settings_host);
                } else
                        assert_null(ops->config_items);
        }
        assert_ptr_equal(probe_ops_find("smtp"), &probe_smtp_ops);
        assert_ptr_equal(probe_ops_find("dns"), &probe_dns_ops);
        assert_ptr_equal(probe_ops_find("tcp"), &probe_tcp_ops);
        assert_ptr_equal(probe_ops_find("postfix"), &probe_postfix_ops);
        assert_ptr_equal(probe_ops_find("exim"), &probe_exim_ops);
        assert_ptr_equal(probe_ops_find("sendmail"), &probe_sendmail_ops);
        assert_ptr_equal(probe_ops_find("generic"), &probe_generic_ops);
        assert_null(probe_ops_find("qmail"));
        assert_null(probe_ops_find(NULL));
        assert_string_equal(probe_status_to_string(PROBE_OK), "ok");
        assert_string_equal(probe_status_to_string(PROBE_FAIL), "fail");
        assert_string_equal(probe_status_to_string(PROBE_UNKNOWN), "unknown");
        assert_null(probe_status_to_string(_PROBE_STATUS_MAX));
}

static void test_outcomes(void **state) {
        static const char *const names[_PROBE_OUTCOME_MAX] = {
                "ok", "timeout", "refused", "unreachable", "greeting-rejected", "protocol-error",
                "dns-failure", "permission", "parse-error", "local-error", "overlapped",
        };

        for (int o = 0; o < _PROBE_OUTCOME_MAX; o++)
                assert_string_equal(probe_outcome_to_string((ProbeOutcome) o), names[o]);
        assert_null(probe_outcome_to_string(_PROBE_OUTCOME_MAX));
        assert_int_equal(probe_outcome_from_errno(0), PROBE_OUTCOME_OK);
        assert_int_equal(probe_outcome_from_errno(-ECONNREFUSED), PROBE_OUTCOME_REFUSED);
        assert_int_equal(probe_outcome_from_errno(ECONNRESET), PROBE_OUTCOME_REFUSED);
        assert_int_equal(probe_outcome_from_errno(-ETIMEDOUT), PROBE_OUTCOME_TIMEOUT);
        assert_int_equal(probe_outcome_from_errno(-ENETUNREACH), PROBE_OUTCOME_UNREACHABLE);
        assert_int_equal(probe_outcome_from_errno(-EHOSTUNREACH), PROBE_OUTCOME_UNREACHABLE);
        assert_int_equal(probe_outcome_from_errno(-EACCES), PROBE_OUTCOME_PERMISSION);
        assert_int_equal(probe_outcome_from_errno(-EPERM), PROBE_OUTCOME_PERMISSION);
        assert_int_equal(probe_outcome_from_errno(-EBADMSG), PROBE_OUTCOME_PARSE_ERROR);
        assert_int_equal(probe_outcome_from_errno(-ENOMEM), PROBE_OUTCOME_LOCAL_ERROR);
}

/* No settings, or no deadline: refused, nothing allocated. */
static void test_bad_settings(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; probe_ops_table[i]; i++) {
                const struct probe_ops *ops = probe_ops_table[i];
                Probe *p = NULL;
                bool hangs;

                assert_int_equal(probe_new_on(f->event, ops, "x", DEADLINE_USEC, NULL, &p), -EINVAL);
                assert_null(p);
                assert_int_equal(probe_new_on(f->event, ops, "x", 0, settings_of(f, ops, &hangs), &p), -EINVAL);
                assert_null(p);
                assert_int_equal(probe_new_on(f->event, ops, "x", USEC_INFINITY, settings_of(f, ops, &hangs), &p),
                                 -EINVAL);
                assert_null(p);
        }
}

/* A run that does not end meets its one deadline: FAIL for reachability
 * (no answer in time is unreachable), UNKNOWN for the rest, "timeout". */
static void test_deadline(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; probe_ops_table[i]; i++) {
                const struct probe_ops *ops = probe_ops_table[i];
                const void *s;
                Probe *p = NULL;
                ProbeRun run;
                bool hangs;

                s = settings_of(f, ops, &hangs);
                assert_int_equal(probe_new_on(f->event, ops, ops->type, DEADLINE_USEC, s, &p), 0);
                probe_run(f->event, p, &run);
                if (hangs) {
                        assert_int_equal(run.r.status, ops->kind == PROBE_KIND_REACHABILITY ? PROBE_FAIL : PROBE_UNKNOWN);
                        assert_int_equal(run.r.outcome, PROBE_OUTCOME_TIMEOUT);
                        assert_string_equal(run.r.reason, "timed out after 300ms");
                } else
                        assert_true(run.r.status != PROBE_OK || run.r.outcome == PROBE_OUTCOME_OK);
                /* Every failure names a cause. */
                assert_true((run.r.status == PROBE_OK) == (run.r.outcome == PROBE_OUTCOME_OK));
                probe_free(p);
        }
}

/* A second start while a run is going: the first ends as "overlapped"
 * (UNKNOWN), exactly once, and the second runs on to its own end. */
static void test_overlap(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; probe_ops_table[i]; i++) {
                const struct probe_ops *ops = probe_ops_table[i];
                Probe *p = NULL;
                ProbeRun first, second;
                bool hangs;
                const void *s = settings_of(f, ops, &hangs);

                if (!hangs)
                        continue;
                assert_int_equal(probe_new_on(f->event, ops, ops->type, DEADLINE_USEC, s, &p), 0);
                probe_run_start(p, &first);
                assert_true(p->running);
                second = (ProbeRun) {};
                assert_int_equal(probe_start(p, probe_run_done, &second), 0);
                assert_int_equal(first.calls, 1);
                assert_int_equal(first.r.status, PROBE_UNKNOWN);
                assert_int_equal(first.r.outcome, PROBE_OUTCOME_OVERLAPPED);
                assert_string_equal(first.r.reason, "overlapped by the next run");
                probe_run_wait(f->event, &second, PROBE_RUN_MAX_USEC);
                assert_int_equal(first.calls, 1);
                assert_int_equal(second.calls, 1);
                assert_int_equal(second.r.outcome, PROBE_OUTCOME_TIMEOUT);
                probe_free(p);
        }
}

/* Freed while it runs: no callback, ever. */
static void test_free_while_running(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; probe_ops_table[i]; i++) {
                const struct probe_ops *ops = probe_ops_table[i];
                Probe *p = NULL;
                ProbeRun run;
                bool hangs;
                const void *s = settings_of(f, ops, &hangs);
                uint64_t start;

                assert_int_equal(probe_new_on(f->event, ops, ops->type, DEADLINE_USEC, s, &p), 0);
                probe_run_start(p, &run);
                probe_free(p);
                /* Past where the deadline would have been. */
                start = now_usec();
                while (now_usec() - start < 2 * DEADLINE_USEC)
                        assert_true(sd_event_run(f->event, 50 * USEC_PER_MSEC) >= 0);
                assert_int_equal(run.calls, 0);
        }
}

/* Every MTA profile: a registered queue probe, its keys with their struct,
 * built-in log rules that compile. */
static void test_profiles(void **state) {
        size_t n = 0;

        for (; mta_profiles[n]; n++) {
                const MtaProfile *prof = mta_profiles[n];
                ActivityPatterns pat;
                char err[256];
                bool registered = false;

                assert_ptr_equal(mta_profile_find(prof->type), prof);
                for (size_t j = 0; j < n; j++)
                        assert_string_not_equal(mta_profiles[j]->type, prof->type);
                assert_non_null(prof->queue_ops);
                assert_int_equal(prof->queue_ops->kind, PROBE_KIND_QUEUE);
                for (size_t j = 0; probe_ops_table[j]; j++)
                        registered = registered || probe_ops_table[j] == prof->queue_ops;
                assert_true(registered);
                if (prof->config_items) {
                        assert_true(prof->settings_size > 0);
                        assert_non_null(prof->settings_init);
                        assert_non_null(prof->settings_done);
                }
                /* A type whose rules come from its keys (generic) has
                 * hooks for them, no flush command of its own, and its
                 * ladder begins with a flush that the admin names. */
                if (prof->activity_rules_of) {
                        assert_non_null(prof->activity_source_of);
                        assert_non_null(prof->syslog_identifiers_of);
                        assert_non_null(prof->log_file);
                        assert_null(prof->activity_rules);
                        assert_null(prof->default_flush_command);
                        assert_non_null(prof->settings_finish);
                        continue;
                }
                assert_non_null(prof->default_flush_command);
                assert_true(prof->activity_source != ACTIVITY_SOURCE_JOURNAL_IDENTIFIER ||
                            (prof->syslog_identifiers && prof->syslog_identifiers[0]));
                /* A log file, or (the MTA logs to syslog) the journal by identifier. */
                assert_true(prof->activity_source != ACTIVITY_SOURCE_LOGFILE ||
                            (prof->log_file && prof->syslog_identifiers && prof->syslog_identifiers[0]));
                assert_true(!prof->daemon_exe || (prof->daemon_exe[0] == '/' && prof->pid_file));
                assert_true(!prof->pid_file || prof->pid_file[0] == '/');
                assert_non_null(prof->activity_rules);
                assert_int_equal(activity_patterns_init(&pat, prof->activity_rules, NULL, NULL, NULL, err, sizeof(err)), 0);
                activity_patterns_done(&pat);
        }
        assert_int_equal(n, 4);
        assert_ptr_equal(mta_profile_find("postfix"), &mta_profile_postfix);
        assert_ptr_equal(mta_profile_find("exim"), &mta_profile_exim);
        assert_ptr_equal(mta_profile_find("sendmail"), &mta_profile_sendmail);
        assert_ptr_equal(mta_profile_find("generic"), &mta_profile_generic);
        assert_null(mta_profile_find("qmail"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_registry),
                cmocka_unit_test(test_outcomes),
                cmocka_unit_test(test_bad_settings),
                cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_overlap),
                cmocka_unit_test(test_free_while_running),
                cmocka_unit_test(test_profiles),
        };

        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
