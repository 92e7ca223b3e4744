/* SPDX-License-Identifier: MIT */
/* The journal probe on real journal files. Each batch of entries is
 * written in the Journal Export Format (systemd.io/JOURNAL_EXPORT_FORMAT)
 * and turned into a journal file by systemd-journal-remote(8)
 * ("--output=DIR/NAME.journal FILE"), in the directory the probe reads
 * through JournalSettings.journal_directory. All entries share one boot id
 * with growing monotonic timestamps, so sd-journal orders them across
 * files as journald's own would be. */
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
#include <unistd.h>
#include <cmocka.h>

#include "macros.h"
#include "probe-harness.h"
#include "exim-log.h"
#include "journal.h"
#include "postfix.h"
#include "probe.h"
#include "tests.h"

#define JOURNAL_REMOTE "/lib/systemd/systemd-journal-remote"
#define UNIT "postfix@-.service"

static char base[] = "/tmp/test-journal-XXXXXX";
static char journal_dir[256], state_dir[256];
static unsigned n_files;
static uint64_t clock_usec = 1000000;  /* monotonic timestamp of the next entry */

static const char *const probed[] = { "192.0.2.2", NULL };

typedef struct Entry {
        const char *unit;
        const char *identifier;
        const char *message;
} Entry;

/* Writes ENTRIES as a new journal file in journal_dir. */
static void write_journal(const Entry *entries, size_t n) {
        char export[300], output[300];
        FILE *f;
        pid_t pid;
        int status;

        (void) snprintf(export, sizeof(export), "%s/batch-%u.export", base, n_files);
        (void) snprintf(output, sizeof(output), "--output=%s/remote-%u.journal", journal_dir, n_files);
        n_files++;

        f = fopen(export, "we");
        assert_non_null(f);
        for (size_t i = 0; i < n; i++) {
                clock_usec += 1000;
                fprintf(f,
                        "__REALTIME_TIMESTAMP=%llu\n"
                        "__MONOTONIC_TIMESTAMP=%llu\n"
                        "_BOOT_ID=0123456789abcdef0123456789abcdef\n"
                        "_SYSTEMD_UNIT=%s\n"
                        "SYSLOG_IDENTIFIER=%s\n"
                        "MESSAGE=%s\n"
                        "\n",
                        (unsigned long long) (1764460800000000ULL + clock_usec),
                        (unsigned long long) clock_usec, entries[i].unit, entries[i].identifier,
                        entries[i].message);
        }
        assert_int_equal(fclose(f), 0);

        if (access(JOURNAL_REMOTE, X_OK) < 0)
                fail_msg(JOURNAL_REMOTE " is missing: install systemd-journal-remote (scripts/deps.sh)");
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDERR_FILENO);
                execl(JOURNAL_REMOTE, JOURNAL_REMOTE, output, export, (char *) NULL);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* Runs the loop until nothing is left to dispatch. */
static void run_idle(sd_event *e) {
        for (int i = 0; i < 1000; i++)
                if (sd_event_run(e, 0) == 0)
                        return;
        fail_msg("event loop never went idle");
}

static Probe *new_probe(sd_event *e, const char *dir, const char *sdir) {
        JournalSettings s = {
                .unit = UNIT,
                .rules = &postfix_activity_rules,
                .probed_hosts = probed,
                .state_dir = sdir,
                .journal_directory = dir,
        };
        Probe *p = NULL;

        assert_int_equal(probe_new_on(e, probe_ops_find("journal"), "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        return p;
}

/* Runs P once; it counts exactly these. */
static void assert_run_counts(sd_event *e, Probe *p, uint64_t sent, uint64_t deferred, uint64_t bounced,
                              uint64_t conn_errors, uint64_t conn_errors_probed) {
        char want[PROBE_REASON_MAX];
        ProbeRun run;
        const ProbeResult *r = &run.r;

        probe_run(e, p, &run);
        assert_int_equal(r->status, PROBE_OK);
        assert_int_equal(r->activity.sent, sent);
        assert_int_equal(r->activity.deferred, deferred);
        assert_int_equal(r->activity.bounced, bounced);
        assert_int_equal(r->activity.conn_errors, conn_errors);
        assert_int_equal(r->activity.conn_errors_probed, conn_errors_probed);
        (void) snprintf(want, sizeof(want), "sent %llu, deferred %llu, bounced %llu, conn errors %llu "
                        "(+%llu to probed hosts)", (unsigned long long) sent, (unsigned long long) deferred,
                        (unsigned long long) bounced, (unsigned long long) conn_errors,
                        (unsigned long long) conn_errors_probed);
        assert_string_equal(r->reason, want);
}

static const Entry before[] = {
        { UNIT, "postfix/smtp", "1A2B3C4D5E: to=<a@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.5, "
          "delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9F8E7D6C5B)" },
        { UNIT, "postfix/smtp", "connect to 192.0.2.2[192.0.2.2]:25: Connection refused" },
};

/* Three sent, one deferred, two bounced, one connect error each way. */
static const Entry first[] = {
        { UNIT, "postfix/smtpd", "connect from localhost[127.0.0.1]" },
        { UNIT, "postfix/smtp", "2A2B3C4D5E: to=<b@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.5, "
          "delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1F8E7D6C5B)" },
        { UNIT, "postfix/smtp", "2A2B3C4D5E: to=<c@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.5, "
          "delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1F8E7D6C5B)" },
        { UNIT, "postfix/local", "2B2B3C4D5E: to=<root@mx1.example.org>, relay=local, delay=0.02, "
          "delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)" },
        { UNIT, "postfix/smtp", "2C2B3C4D5E: to=<d@example.com>, relay=mx.example.com[203.0.113.5]:25, "
          "delay=3.1, delays=0.02/0/2.9/0.2, dsn=4.7.1, status=deferred (host mx.example.com[203.0.113.5] "
          "said: 450 4.7.1 <d@example.com>: Recipient address rejected: Greylisted (in reply to RCPT TO command))" },
        { UNIT, "postfix/smtp", "2D2B3C4D5E: to=<e@example.net>, relay=mx.example.net[198.51.100.7]:25, "
          "delay=1.2, delays=0.1/0/0.6/0.5, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.7] "
          "said: 550 5.1.1 User unknown (in reply to RCPT TO command))" },
        { UNIT, "postfix/qmgr", "2E2B3C4D5E: from=<f@example.org>, status=expired, returned to sender" },
        { UNIT, "postfix/smtp", "2F2B3C4D5E: to=<g@example.org>, relay=none, delay=30, delays=0.01/0/30/0, "
          "dsn=4.4.1, status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection timed out)" },
        { UNIT, "postfix/smtp", "connect to mx.dead.example[203.0.113.9]:25: Connection refused" },
        { UNIT, "postfix/qmgr", "2A2B3C4D5E: removed" },
        /* another unit: never counted, whatever it says */
        { "other.service", "other", "3A2B3C4D5E: to=<h@example.org>, relay=192.0.2.2[192.0.2.2]:25, "
          "delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)" },
        { "postfix.service", "postfix", "connect to 192.0.2.2[192.0.2.2]:25: Connection refused" },
};

static const Entry second[] = {
        { UNIT, "postfix/smtp", "4A2B3C4D5E: to=<i@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.5, "
          "delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2F8E7D6C5B)" },
        { "other.service", "other", "status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection refused)" },
        { UNIT, "postfix/smtp", "4B2B3C4D5E: to=<j@example.org>, relay=none, delay=60, delays=0.01/0/60/0, "
          "dsn=4.4.1, status=deferred (connect to 192.0.2.2[192.0.2.2]:25: Connection timed out)" },
};

static const Entry third[] = {
        { UNIT, "postfix/smtp", "5A2B3C4D5E: to=<k@example.com>, relay=mx.example.com[203.0.113.5]:25, "
          "delay=300, delays=0.01/0/0.05/300, dsn=4.4.2, status=deferred (conversation with "
          "mx.example.com[203.0.113.5] timed out while receiving the initial server greeting)" },
};

/* A probe on journal_dir and state_dir that started at the tail, then
 * counted the entries of "first". */
static Probe *new_probe_counted_first(sd_event *e) {
        Probe *p = new_probe(e, journal_dir, state_dir);

        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        write_journal(first, ELEMENTSOF(first));
        assert_run_counts(e, p, 3, 1, 2, 1, 1);
        return p;
}

/* Fresh directories and an event loop (in STATE) for each test. */
static int setup(void **state) {
        sd_event *e = NULL;

        strcpy(base, "/tmp/test-journal-XXXXXX");
        if (!mkdtemp(base))
                return -1;
        (void) snprintf(journal_dir, sizeof(journal_dir), "%s/journal", base);
        (void) snprintf(state_dir, sizeof(state_dir), "%s/state", base);
        if (mkdir(journal_dir, 0700) < 0 || mkdir(state_dir, 0700) < 0)
                return -1;
        n_files = 0;
        if (sd_event_new(&e) < 0)
                return -1;
        *state = e;
        return 0;
}

static int teardown(void **state) {
        sd_event_unref(*state);
        return rm_rf(base);
}

/* From the tail: what was there before does not count; then exactly the
 * new entries of the unit, and a later file adds only its own. */
static void test_counts_grow(void **state) {
        sd_event *e = *state;
        Probe *p;

        write_journal(before, ELEMENTSOF(before));
        p = new_probe(e, journal_dir, state_dir);

        assert_run_counts(e, p, 0, 0, 0, 0, 0);

        write_journal(first, ELEMENTSOF(first));
        assert_run_counts(e, p, 3, 1, 2, 1, 1);

        assert_run_counts(e, p, 3, 1, 2, 1, 1);  /* nothing new */

        write_journal(second, ELEMENTSOF(second));
        run_idle(e);          /* picked up by the io source this time */
        assert_run_counts(e, p, 4, 1, 2, 1, 2);

        probe_free(p);
}

/* A look back (mta-watchdogd --once): without a cursor, entries from
 * journal_since_usec on are counted, older ones are not. */
static void test_since(void **state) {
        sd_event *e = *state;
        Probe *p = NULL;
        uint64_t since;

        write_journal(before, ELEMENTSOF(before));
        since = 1764460800000000ULL + clock_usec + 500;
        write_journal(first, ELEMENTSOF(first));

        JournalSettings s = {
                .unit = UNIT,
                .rules = &postfix_activity_rules,
                .probed_hosts = probed,
                .journal_directory = journal_dir,
                .since_usec = since,
        };
        assert_int_equal(probe_new_on(e, probe_ops_find("journal"), "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        assert_run_counts(e, p, 3, 1, 2, 1, 1);

        probe_free(p);
}

/* An MTA whose profile finds its lines by SYSLOG_IDENTIFIER, not by unit:
 * exactly the entries of those identifiers count (here not postfix/local's
 * delivery, nor "postfix" from another unit). */
static void test_syslog_identifiers(void **state) {
        static const char *const identifiers[] = { "postfix/smtp", "postfix/qmgr", NULL };
        sd_event *e = *state;
        Probe *p = NULL;
        JournalSettings s = {
                .unit = UNIT,
                .syslog_identifiers = identifiers,
                .rules = &postfix_activity_rules,
                .probed_hosts = probed,
                .journal_directory = journal_dir,
        };

        assert_int_equal(probe_new_on(e, probe_ops_find("journal"), "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        write_journal(first, ELEMENTSOF(first));
        assert_run_counts(e, p, 2, 1, 2, 1, 1);
        probe_free(p);
}

/* A second probe with the same state_dir resumes after the saved cursor:
 * nothing counted twice, nothing missed. */
static void test_cursor_resume(void **state) {
        sd_event *e = *state;
        Probe *p;
        char path[300], cursor[512] = "";
        FILE *f;

        probe_free(new_probe_counted_first(e));

        (void) snprintf(path, sizeof(path), "%s/journal.cursor", state_dir);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(cursor, sizeof(cursor), f));
        fclose(f);
        assert_int_equal(strncmp(cursor, "s=", 2), 0);
        assert_non_null(strchr(cursor, '\n'));

        /* logged while no probe ran */
        write_journal(second, ELEMENTSOF(second));

        p = new_probe(e, journal_dir, state_dir);
        assert_run_counts(e, p, 1, 0, 0, 0, 1);
        write_journal(third, ELEMENTSOF(third));
        assert_run_counts(e, p, 1, 1, 0, 0, 1);
        p = probe_free(p);

        /* and once more, with nothing new at all */
        p = new_probe(e, journal_dir, state_dir);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        probe_free(p);
}

/* Entries read in the background after the last run are not counted
 * again by the next instance: freeing the probe saves the cursor. */
static void test_cursor_saved_on_free(void **state) {
        sd_event *e = *state;
        Probe *p;

        p = new_probe_counted_first(e);  /* saves the cursor after "first" */
        write_journal(second, ELEMENTSOF(second));
        run_idle(e);          /* read by the io source, no run */
        p = probe_free(p);

        p = new_probe(e, journal_dir, state_dir);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        write_journal(third, ELEMENTSOF(third));
        assert_run_counts(e, p, 0, 1, 0, 0, 0);
        probe_free(p);
}

/* The file holding the cursor's entry is gone (rotated, vacuumed): resume
 * at the first entry after where it was. */
static void test_cursor_entry_gone(void **state) {
        sd_event *e = *state;
        Probe *p;
        char path[300];

        probe_free(new_probe_counted_first(e));  /* "first" is remote-0 */

        write_journal(second, ELEMENTSOF(second));  /* remote-1 */
        (void) snprintf(path, sizeof(path), "%s/remote-0.journal", journal_dir);
        assert_int_equal(unlink(path), 0);

        p = new_probe(e, journal_dir, state_dir);
        assert_run_counts(e, p, 1, 0, 0, 0, 1);
        probe_free(p);
}

/* Garbage in the cursor file: warned about, started at the tail. */
static void test_cursor_invalid(void **state) {
        sd_event *e = *state;
        Probe *p;
        char path[300];
        FILE *f;

        write_journal(first, ELEMENTSOF(first));
        (void) snprintf(path, sizeof(path), "%s/journal.cursor", state_dir);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("this is not a cursor\n", f);
        fclose(f);

        p = new_probe(e, journal_dir, state_dir);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        write_journal(second, ELEMENTSOF(second));
        assert_run_counts(e, p, 1, 0, 0, 0, 1);
        probe_free(p);
}

/* No state_dir: counts all the same, nothing written. */
static void test_no_state_dir(void **state) {
        sd_event *e = *state;
        Probe *p;
        char path[300];

        p = new_probe(e, journal_dir, NULL);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        write_journal(second, ELEMENTSOF(second));
        assert_run_counts(e, p, 1, 0, 0, 0, 1);
        probe_free(p);

        (void) snprintf(path, sizeof(path), "%s/journal.cursor", state_dir);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(errno, ENOENT);
}

/* A journal that cannot be opened is UNKNOWN, and opening is retried on
 * the next run. */
static void test_cannot_open(void **state) {
        sd_event *e = *state;
        Probe *p;
        ProbeRun run;
        char missing[300];

        (void) snprintf(missing, sizeof(missing), "%s/later", base);
        p = new_probe(e, missing, state_dir);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_UNKNOWN);
        assert_string_equal(run.r.reason, "journal: cannot open: No such file or directory");
        assert_int_equal(run.r.activity.sent, 0);

        assert_int_equal(mkdir(missing, 0700), 0);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);
        probe_free(p);
}

/* 2500 entries: one batch of 1000 per loop iteration, the rest at idle
 * priority after the run has completed. */
static void test_batches(void **state) {
        static const char sent[] = "6A2B3C4D5E: to=<l@example.org>, relay=192.0.2.2[192.0.2.2]:25, delay=0.5, "
                                   "delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
        Entry *many = calloc(2500, sizeof(Entry));
        sd_event *e = *state;
        Probe *p;

        assert_non_null(many);
        for (size_t i = 0; i < 2500; i++)
                many[i] = (Entry) { UNIT, "postfix/smtp", sent };

        p = new_probe(e, journal_dir, state_dir);
        assert_run_counts(e, p, 0, 0, 0, 0, 0);

        write_journal(many, 2500);
        assert_run_counts(e, p, 1000, 0, 0, 0, 0);
        run_idle(e);
        assert_run_counts(e, p, 2500, 0, 0, 0, 0);

        probe_free(p);
        free(many);
}

static void test_bad_settings(void **state) {
        sd_event *e = NULL;
        Probe *p = NULL;
        JournalSettings s = {
                .unit = UNIT,
                .rules = &postfix_activity_rules,
                .activity_pattern = "status=(sent",
        };
        const struct probe_ops *ops = probe_ops_find("journal");

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);
        s.activity_pattern = NULL;
        s.unit = NULL;
        assert_int_equal(probe_new_on(e, ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);
        s.unit = UNIT;
        s.rules = NULL;  /* no built-in rules (an MTA without a profile) and no pattern */
        assert_int_equal(probe_new_on(e, ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);
        s.syslog_identifiers = (const char *const[]) { NULL };
        s.rules = &exim_activity_rules;
        assert_int_equal(probe_new_on(e, ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);
        s.syslog_identifiers = NULL;
        assert_int_equal(probe_new_on(e, ops, "activity", USEC_PER_SEC, &s, &p), 0);
        assert_int_equal(probe_ops_find("journal")->kind, PROBE_KIND_ACTIVITY);
        probe_free(p);
        sd_event_unref(e);
}

/* Cause classes and sample lines; a bare name that the MTA cannot resolve
 * is looked up, and once it resolves to a probed host ("localhost" to
 * 127.0.0.1, from /etc/hosts) its failures are fixable. The MTA's own
 * warnings count from master too, never from smtpd. */
static void test_causes_and_samples(void **state) {
        static const char *const probed_lo[] = { "127.0.0.1", NULL };
        static const Entry dns[] = {
                { UNIT, "postfix/smtp", "7A2B3C4D5E: to=<a@example.org>, relay=none, delay=2, dsn=4.4.3, "
                  "status=deferred (localhost: Temporary failure in name resolution)" },
                { UNIT, "postfix/smtpd", "warning: hostname x.example does not resolve to address 192.0.2.9" },
                { UNIT, "postfix/master", "warning: process /usr/lib/postfix/sbin/smtp pid 42 exit status 1" },
                { UNIT, "postfix/smtp", "7B2B3C4D5E: to=<b@example.org>, relay=127.0.0.9[127.0.0.9]:10025, "
                  "delay=60, dsn=4.4.2, status=deferred (conversation with 127.0.0.9[127.0.0.9] timed out "
                  "while performing the EHLO handshake)" },
        };
        static const Entry again[] = {
                { UNIT, "postfix/smtp", "7C2B3C4D5E: to=<c@example.org>, relay=none, delay=2, dsn=4.4.3, "
                  "status=deferred (localhost: Temporary failure in name resolution)" },
        };
        sd_event *e = *state;
        JournalSettings s = {
                .unit = UNIT,
                .rules = &postfix_activity_rules,
                .probed_hosts = probed_lo,
                .journal_directory = journal_dir,
        };
        const CauseSample *c;
        Probe *p = NULL;
        ProbeRun run;

        assert_int_equal(probe_new_on(e, probe_ops_find("journal"), "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        probe_run(e, p, &run);
        write_journal(dns, ELEMENTSOF(dns));
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_int_equal(run.r.activity.deferred, 2);
        assert_int_equal(run.r.activity.failures[CAUSE_DNS_FAILURE], 1);
        assert_int_equal(run.r.activity.fixable[CAUSE_DNS_FAILURE], 0);     /* not known yet */
        assert_int_equal(run.r.activity.failures[CAUSE_PROTOCOL_TIMEOUT], 1);
        assert_int_equal(run.r.activity.mta_log, 1);
        c = &run.r.samples.causes[CAUSE_PROTOCOL_TIMEOUT];
        assert_string_equal(c->peer, "127.0.0.9[127.0.0.9]:10025");
        assert_false(c->probed);
        assert_string_equal(c->first, dns[3].message);
        assert_string_equal(c->last, dns[3].message);
        assert_true(c->first_usec > 0);
        assert_int_equal(run.r.samples.mta_log[0].seq, 1);
        assert_string_equal(run.r.samples.mta_log[0].line,
                            "postfix/master: warning: process /usr/lib/postfix/sbin/smtp pid 42 exit status 1");
        assert_int_equal(run.r.samples.mta_log[1].seq, 0);

        run_until_no_children(e);                /* the lookup of "localhost" */
        run_idle(e);                             /* and its output read */
        write_journal(again, ELEMENTSOF(again));
        probe_run(e, p, &run);
        assert_int_equal(run.r.activity.failures[CAUSE_DNS_FAILURE], 2);
        assert_int_equal(run.r.activity.fixable[CAUSE_DNS_FAILURE], 1);
        c = &run.r.samples.causes[CAUSE_DNS_FAILURE];
        assert_string_equal(c->peer, "localhost");
        assert_true(c->probed);
        assert_string_equal(c->first, dns[0].message);
        assert_string_equal(c->last, again[0].message);
        probe_free(p);
}

/* The table of looked-up names is bounded: when it is full, the name seen
 * longest ago makes room, so a relay name logged after many destinations
 * that do not resolve is still found to be probed. (Address literals and
 * "localhost" resolve without any DNS traffic.) */
static void test_name_table_full(void **state) {
        static const char *const probed_lo[] = { "127.0.0.1", NULL };
        sd_event *e = *state;
        JournalSettings s = {
                .unit = UNIT,
                .rules = &postfix_activity_rules,
                .probed_hosts = probed_lo,
                .journal_directory = journal_dir,
        };
        char msgs[18][200];
        Entry entries[18];
        Probe *p = NULL;
        ProbeRun run;

        for (size_t i = 0; i < 18; i++) {
                if (i < 17)
                        (void) snprintf(msgs[i], sizeof(msgs[i]), "8A2B3C4D%02zu: to=<a@example.org>, relay=none, "
                                        "delay=2, dsn=4.4.3, status=deferred (192.0.2.%zu: Temporary failure in "
                                        "name resolution)", i, i + 10);
                else
                        (void) snprintf(msgs[i], sizeof(msgs[i]), "8A2B3C4D99: to=<a@example.org>, relay=none, "
                                        "delay=2, dsn=4.4.3, status=deferred (localhost: Temporary failure in "
                                        "name resolution)");
                entries[i] = (Entry) { UNIT, "postfix/smtp", msgs[i] };
        }
        assert_int_equal(probe_new_on(e, probe_ops_find("journal"), "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        probe_run(e, p, &run);
        write_journal(entries, 17);             /* 17 names: one more than the table */
        probe_run(e, p, &run);
        for (int i = 0; i < 20; i++) {
                run_until_no_children(e);
                run_idle(e);
        }
        write_journal(entries + 17, 1);          /* then the relay's name */
        probe_run(e, p, &run);
        assert_int_equal(run.r.activity.failures[CAUSE_DNS_FAILURE], 18);
        assert_int_equal(run.r.activity.fixable[CAUSE_DNS_FAILURE], 0);
        for (int i = 0; i < 20; i++) {          /* the lookups run one after the other */
                run_until_no_children(e);
                run_idle(e);
        }
        write_journal(entries + 17, 1);
        probe_run(e, p, &run);
        assert_int_equal(run.r.activity.fixable[CAUSE_DNS_FAILURE], 1);
        probe_free(p);
}

int main(void) {
        block_sigchld();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_causes_and_samples, setup, teardown),
                cmocka_unit_test_setup_teardown(test_name_table_full, setup, teardown),
                cmocka_unit_test_setup_teardown(test_since, setup, teardown),
                cmocka_unit_test_setup_teardown(test_syslog_identifiers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_counts_grow, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_resume, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_saved_on_free, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_entry_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_state_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
                cmocka_unit_test(test_bad_settings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
