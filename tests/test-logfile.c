/* SPDX-License-Identifier: MIT */
/* The log file follower (probes/logfile.c) on real files in a scratch
 * directory, rotated the ways logrotate(8) does: rename with nocreate and
 * delaycompress (the old file written to a little longer, the new one
 * appearing later), copytruncate, a partial last line, the daemon's
 * restart (the position in the state directory, also across a rotation
 * while it was down), a backlog read in several chunks, --once's look
 * back, and the lookup of a peer name Exim cannot resolve. Every count is
 * exact: no line lost, none counted twice. The lines are Exim's
 * (probes/exim-log.c). */
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "exim-log.h"
#include "logfile.h"
#include "macros.h"
#include "probe-harness.h"
#include "probe.h"
#include "tests.h"

#define SENT "2026-11-30 15:27:34 1qAbCd-000123-Ab => a@example.com R=smarthost T=remote_smtp_smarthost " \
             "H=relay.example.net [192.0.2.10] C=\"250 OK\"\n"
#define REFUSED "2026-11-30 15:27:35 1qAbCd-000124-Ab H=relay.example.net [192.0.2.10] Connection refused\n"

static const char *const probed[] = { "192.0.2.10", NULL };
static char base[] = "/tmp/test-logfile-XXXXXX";
static char log_dir[128], log_path[300], rotated[300], state_dir[128];

static int rm_entry(const char *path, const struct stat *s, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(base));
        (void) snprintf(log_dir, sizeof(log_dir), "%s/log", base);
        (void) snprintf(log_path, sizeof(log_path), "%s/mainlog", log_dir);
        (void) snprintf(rotated, sizeof(rotated), "%s/mainlog.1", log_dir);
        (void) snprintf(state_dir, sizeof(state_dir), "%s/state", base);
        assert_int_equal(mkdir(log_dir, 0755), 0);
        assert_int_equal(mkdir(state_dir, 0700), 0);
        return 0;
}

static int teardown(void **state) {
        (void) nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        memcpy(base + strlen(base) - 6, "XXXXXX", 6);
        return 0;
}

/* Appends TEXT to PATH (created if missing) in one write, as Exim does. */
static void append(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(close(fd), 0);
}

static void append_n(const char *path, const char *line, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                append(path, line);
}

/* Runs the loop until nothing is left to dispatch; returns the iterations. */
static unsigned run_idle(sd_event *e) {
        for (unsigned i = 0; i < 100000; i++)
                if (sd_event_run(e, 0) == 0)
                        return i;
        fail_msg("event loop never went idle");
        return 0;
}

static Probe *new_probe(sd_event *e, const char *sdir, uint64_t since, size_t chunk) {
        LogfileSettings s = {
                .path = log_path,
                .rules = &exim_activity_rules,
                .probed_hosts = probed,
                .state_dir = sdir,
                .since_usec = since,
                .chunk_bytes = chunk,
        };
        Probe *p = NULL;

        assert_int_equal(probe_new_on(e, &probe_logfile_ops, "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        return p;
}

/* Lets the probe read what is there, then runs it once: exactly these counts. */
static void assert_counts(sd_event *e, Probe *p, uint64_t sent, uint64_t probed_errors) {
        ProbeRun run;

        (void) run_idle(e);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        if (run.r.activity.sent != sent || run.r.activity.conn_errors_probed != probed_errors)
                fail_msg("got sent %llu, probed errors %llu; want %llu, %llu (%s)",
                         (unsigned long long) run.r.activity.sent,
                         (unsigned long long) run.r.activity.conn_errors_probed, (unsigned long long) sent,
                         (unsigned long long) probed_errors, run.r.reason);
        assert_int_equal(run.r.activity.fixable[CAUSE_CONNECT_FAILURE], probed_errors);
}

/* A probe after its first run (which reads one chunk at most, and sets
 * up the watch that follows the rest). */
static Probe *new_started_probe(sd_event *e) {
        Probe *p = new_probe(e, state_dir, 0, 0);
        ProbeRun run;

        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        return p;
}

/* Without a saved position only new lines count; a partial last line waits. */
static void test_new_lines_and_partial(void **state) {
        sd_event *e = NULL;
        Probe *p;

        append_n(log_path, SENT, 3);
        append(log_path, "2026-11-30 15:27:30 1qAbCd-000100-Ab => half a line wr");  /* before we began */
        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, NULL, 0, 0);
        assert_counts(e, p, 0, 0);
        append(log_path, "itten\n");          /* the rest of a line begun before: not counted */
        append_n(log_path, SENT, 2);
        assert_counts(e, p, 2, 0);
        append(log_path, "2026-11-30 15:27:35 1qAbCd-000124-Ab H=relay.example.net [192.0.2.10] Conn");
        assert_counts(e, p, 2, 0);           /* no newline yet */
        append(log_path, "ection refused\n");
        assert_counts(e, p, 2, 1);
        assert_counts(e, p, 2, 1);
        probe_free(p);
        sd_event_unref(e);
}

/* logrotate with nocreate + delaycompress: mainlog → mainlog.1, the MTA
 * finishes its last write to the old file, and creates mainlog with its
 * next line, a while later. */
static void test_rotate_nocreate(void **state) {
        sd_event *e = NULL;
        Probe *p;

        append(log_path, SENT);
        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, state_dir, 0, 0);
        assert_counts(e, p, 0, 0);
        append_n(log_path, SENT, 2);
        assert_counts(e, p, 2, 0);

        append(log_path, SENT);
        assert_int_equal(rename(log_path, rotated), 0);
        append(rotated, REFUSED);            /* written through the old file */
        assert_counts(e, p, 3, 1);
        assert_counts(e, p, 3, 1);           /* nothing new while the name is missing */

        append_n(log_path, REFUSED, 2);       /* the new file */
        append(log_path, SENT);
        assert_counts(e, p, 4, 3);

        /* the next rotation: mainlog.1 would be compressed, mainlog renamed */
        assert_int_equal(unlink(rotated), 0);
        assert_int_equal(rename(log_path, rotated), 0);
        append(log_path, SENT);               /* this time the new file is there at once */
        assert_counts(e, p, 5, 3);
        probe_free(p);
        sd_event_unref(e);
}

/* copytruncate: the file is emptied in place and written again. */
static void test_truncate(void **state) {
        sd_event *e = NULL;
        Probe *p;

        append(log_path, "");
        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, state_dir, 0, 0);
        assert_counts(e, p, 0, 0);
        append_n(log_path, SENT, 4);
        assert_counts(e, p, 4, 0);
        assert_int_equal(truncate(log_path, 0), 0);
        (void) run_idle(e);
        append(log_path, REFUSED);
        assert_counts(e, p, 4, 1);
        probe_free(p);
        sd_event_unref(e);
}

/* The daemon restarts: the next probe resumes where the last one stopped,
 * also when the file was rotated meanwhile (the rest of mainlog.1 first). */
static void test_restart_resume(void **state) {
        sd_event *e = NULL;
        Probe *p;

        append(log_path, SENT);
        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, state_dir, 0, 0);
        assert_counts(e, p, 0, 0);
        append_n(log_path, SENT, 2);
        append(log_path, "2026-11-30 15:27:35 1qAbCd-000124-Ab H=relay.example.net [192.0.2.10] Conn");
        assert_counts(e, p, 2, 0);
        probe_free(p);                       /* saves the position: the partial line's start */

        append(log_path, "ection refused\n");  /* while the daemon is down */
        append(log_path, SENT);
        p = new_started_probe(e);
        assert_counts(e, p, 1, 1);
        append(log_path, SENT);
        assert_counts(e, p, 2, 1);
        probe_free(p);

        /* down across a rotation */
        append(log_path, REFUSED);
        assert_int_equal(rename(log_path, rotated), 0);
        append(rotated, SENT);
        append_n(log_path, SENT, 3);
        p = new_started_probe(e);
        assert_counts(e, p, 4, 1);
        probe_free(p);

        /* down across two rotations: the saved file is gone, the new one is read whole */
        append(log_path, SENT);
        assert_int_equal(unlink(rotated), 0);
        assert_int_equal(rename(log_path, rotated), 0);
        assert_int_equal(unlink(rotated), 0);
        append_n(log_path, REFUSED, 2);
        p = new_started_probe(e);
        assert_counts(e, p, 0, 2);
        probe_free(p);

        /* a position beyond the end: the file was truncated meanwhile */
        assert_int_equal(truncate(log_path, 0), 0);
        append(log_path, SENT);
        p = new_started_probe(e);
        assert_counts(e, p, 1, 0);
        probe_free(p);
        sd_event_unref(e);
}

/* A backlog bigger than one chunk is read over several loop iterations,
 * and a run in between reports what was read so far. */
static void test_backlog_chunks(void **state) {
        const unsigned n = 3000;
        sd_event *e = NULL;
        ProbeRun run;
        unsigned iterations;
        Probe *p;
        FILE *f;

        append(log_path, "");
        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, state_dir, 0, 4096);
        assert_counts(e, p, 0, 0);
        f = fopen(log_path, "ae");
        assert_non_null(f);
        for (unsigned i = 0; i < n; i++)
                fputs(i % 3 == 2 ? REFUSED : SENT, f);
        assert_int_equal(fclose(f), 0);

        probe_run(e, p, &run);               /* one chunk: some, not all */
        assert_int_equal(run.r.status, PROBE_OK);
        assert_true(run.r.activity.sent > 0);
        assert_true(run.r.activity.sent + run.r.activity.conn_errors_probed < n);
        iterations = run_idle(e);
        assert_true(iterations > 10);        /* about 300 KB in 4 KB chunks */
        assert_counts(e, p, n / 3 * 2, n / 3);
        probe_free(p);
        sd_event_unref(e);
}

static void stamp(char *buf, size_t size, time_t t, const char *rest) {
        struct tm tm;

        assert_non_null(localtime_r(&t, &tm));
        assert_true(strftime(buf, size, "%Y-%m-%d %H:%M:%S ", &tm) > 0);
        strncat(buf, rest, size - strlen(buf) - 1);
}

/* --once: the lines stamped within the look-back, from the file's start,
 * the run reports at its end; nothing is saved. */
static void test_since(void **state) {
        time_t now = time(NULL);
        char line[512];
        sd_event *e = NULL;
        ProbeRun run;
        Probe *p;

        stamp(line, sizeof(line), now - 3600, "1qAbCd-000123-Ab H=relay.example.net [192.0.2.10] Connection refused\n");
        append_n(log_path, line, 2000);
        append(log_path, "  a continuation line without a stamp\n");
        stamp(line, sizeof(line), now - 60, "1qAbCd-000123-Ab => a@example.com R=smarthost T=t H=x [192.0.2.10]\n");
        append_n(log_path, line, 2);
        stamp(line, sizeof(line), now - 30, "1qAbCd-000124-Ab H=relay.example.net [192.0.2.10] Connection refused\n");
        append(log_path, line);

        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, NULL, (uint64_t) (now - 600) * USEC_PER_SEC, 4096);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_int_equal(run.r.activity.sent, 2);
        assert_int_equal(run.r.activity.conn_errors_probed, 1);
        probe_free(p);
        assert_int_equal(access(state_dir, F_OK), 0);
        {
                char pos[300];

                (void) snprintf(pos, sizeof(pos), "%s/%s", state_dir, LOGFILE_POSITION_FILE);
                assert_int_equal(access(pos, F_OK), -1);
        }
        sd_event_unref(e);
}

/* Appends N bytes of BYTE to PATH, in one write. */
static void append_fill(const char *path, char byte, size_t n) {
        char *b = malloc(n);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

        assert_non_null(b);
        assert_true(fd >= 0);
        memset(b, byte, n);
        assert_int_equal(write(fd, b, n), (ssize_t) n);
        assert_int_equal(close(fd), 0);
        free(b);
}

/* What a hostile or unlucky host writes: a 1 MiB line without a newline
 * (dropped whole, also when the daemon restarted in its middle: its tail
 * is not a line of its own), binary garbage with NUL bytes, a subject and
 * a recipient that quote the stuck signature. Exactly the real lines count. */
static void test_hostile_lines(void **state) {
        static const char garbage[] = "\x01\xff\xfe\x00\x80 H=relay.example.net [192.0.2.10] Connection refused";
        sd_event *e = NULL;
        Probe *p;
        int fd;

        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, state_dir, 0, 0);
        assert_counts(e, p, 0, 0);

        append(log_path, "2026-11-30 15:27:36 1qAbCd-000125-Ab ");
        append_fill(log_path, 'x', 1024 * 1024);
        assert_counts(e, p, 0, 0);
        probe_free(p);                       /* saves a position inside the long line */

        append(log_path, "1qAbCd-000125-Ab H=relay.example.net [192.0.2.10] Connection refused\n");
        append(log_path, SENT);
        p = new_started_probe(e);
        assert_counts(e, p, 1, 0);

        fd = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, garbage, sizeof(garbage) - 1), (ssize_t) sizeof(garbage) - 1);
        assert_int_equal(write(fd, "\n", 1), 1);
        assert_int_equal(close(fd), 0);
        append(log_path, "2026-11-30 15:27:37 1qAbCd-000126-Ab <= \"H=relay.example.net [192.0.2.10] Connection "
                         "refused\"@evil.example H=evil.example [198.51.100.7] P=esmtp S=300 "
                         "T=\"H=relay.example.net [192.0.2.10] Connection refused\"\n");
        append(log_path, "2026-11-30 15:27:38 1qAbCd-000126-Ab == \"x H=relay.example.net [192.0.2.10] Connection "
                         "refused\"@remote.test R=smarthost T=remote_smtp_smarthost defer (-54): retry time not "
                         "reached for any host for 'remote.test'\n");
        append(log_path, SENT);
        assert_counts(e, p, 2, 0);
        probe_free(p);
        sd_event_unref(e);
}

/* The log file's name is a directory, a FIFO or a device: the round is
 * unknown and says why (logged once); a symbolic link to a regular file
 * is followed. */
static void test_not_a_file(void **state) {
        char want[400], other[320];
        sd_event *e = NULL;
        ProbeRun run;
        Probe *p;

        (void) snprintf(want, sizeof(want), "logfile: cannot read %s: not a regular file", log_path);
        (void) snprintf(other, sizeof(other), "%s/other.log", log_dir);
        assert_int_equal(sd_event_new(&e), 0);

        assert_int_equal(mkdir(log_path, 0755), 0);
        p = new_probe(e, state_dir, 0, 0);
        for (int i = 0; i < 3; i++) {        /* the same each round, logged once */
                probe_run(e, p, &run);
                assert_int_equal(run.r.status, PROBE_UNKNOWN);
                assert_string_equal(run.r.reason, want);
        }
        probe_free(p);
        assert_int_equal(rmdir(log_path), 0);

        assert_int_equal(mkfifo(log_path, 0644), 0);
        p = new_probe(e, state_dir, 0, 0);
        probe_run(e, p, &run);               /* never blocks on the FIFO */
        assert_int_equal(run.r.status, PROBE_UNKNOWN);
        assert_string_equal(run.r.reason, want);
        probe_free(p);
        assert_int_equal(unlink(log_path), 0);

        assert_int_equal(symlink("/dev/zero", log_path), 0);
        p = new_probe(e, state_dir, 0, 0);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_UNKNOWN);
        assert_string_equal(run.r.reason, want);

        /* the name becomes a link to a regular file: after an error the
         * follower begins again, at the end (as at start without a
         * saved position), and follows the link's target */
        append(other, SENT);
        assert_int_equal(unlink(log_path), 0);
        assert_int_equal(symlink(other, log_path), 0);
        assert_counts(e, p, 0, 0);
        append(other, SENT);
        assert_counts(e, p, 1, 0);
        append(other, REFUSED);
        assert_counts(e, p, 1, 1);
        probe_free(p);
        sd_event_unref(e);
}

/* A damaged position file: reported, and only lines written from now on count. */
static void test_bad_position(void **state) {
        static const char *const bad[] = { "garbage\n", "1 2\n", "", "\xff\xfe\n" };
        char pos[300];
        sd_event *e = NULL;
        Probe *p;

        (void) snprintf(pos, sizeof(pos), "%s/%s", state_dir, LOGFILE_POSITION_FILE);
        assert_int_equal(sd_event_new(&e), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                FILE *f = fopen(pos, "we");

                assert_non_null(f);
                assert_int_equal(fputs(bad[i], f) >= 0 || bad[i][0] == 0, true);
                assert_int_equal(fclose(f), 0);
                append_n(log_path, REFUSED, 2);      /* before the start: not counted */
                p = new_started_probe(e);
                append(log_path, SENT);
                assert_counts(e, p, 1, 0);
                probe_free(p);
        }
        sd_event_unref(e);
}

/* The file is missing at first (nocreate, nothing logged yet): OK with
 * nothing, and read from its start once it appears. A missing directory
 * is unknown; settings without an absolute path are refused. */
static void test_missing(void **state) {
        LogfileSettings s = { .path = "mainlog", .rules = &exim_activity_rules, .probed_hosts = probed };
        sd_event *e = NULL;
        ProbeRun run;
        Probe *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        p = new_probe(e, state_dir, 0, 0);
        assert_counts(e, p, 0, 0);
        append_n(log_path, SENT, 2);
        assert_counts(e, p, 2, 0);
        probe_free(p);

        assert_int_equal(probe_new_on(e, &probe_logfile_ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);
        s.path = "/var/log/exim4/";
        assert_int_equal(probe_new_on(e, &probe_logfile_ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);
        s.path = log_path;
        s.activity_pattern = "(unbalanced";
        assert_int_equal(probe_new_on(e, &probe_logfile_ops, "activity", USEC_PER_SEC, &s, &p), -EINVAL);

        (void) snprintf(log_path, sizeof(log_path), "%s/nowhere/mainlog", base);
        p = new_probe(e, NULL, 0, 0);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_UNKNOWN);
        assert_int_equal(run.r.outcome, PROBE_OUTCOME_LOCAL_ERROR);
        assert_non_null(strstr(run.r.reason, "cannot watch"));
        probe_free(p);
        (void) snprintf(log_path, sizeof(log_path), "%s/mainlog", log_dir);
        sd_event_unref(e);
}

/* A relay probed by its address that Exim names by a name it cannot
 * resolve ("host lookup for NAME did not complete"): the bare name is
 * looked up (in a child; "localhost" resolves to 127.0.0.1 without DNS
 * traffic), and once it is known to be a probed host its failures are
 * fixable, as with the journal source (tests/test-journal.c). */
static void test_name_lookup(void **state) {
        static const char *const probed_lo[] = { "127.0.0.1", NULL };
        static const char dns1[] = "2026-11-30 15:27:36 1qAbCd-000125-Ab == frank@example.org R=smarthost "
                                   "defer (-36): host lookup for localhost did not complete (DNS timeout?)";
        static const char dns2[] = "2026-11-30 15:28:36 1qAbCd-000126-Ab == grace@example.org R=smarthost "
                                   "defer (-36): host lookup for localhost did not complete (DNS timeout?)";
        LogfileSettings s = { .path = log_path, .rules = &exim_activity_rules, .probed_hosts = probed_lo };
        const CauseSample *c;
        sd_event *e = NULL;
        ProbeRun run;
        Probe *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_logfile_ops, "activity", 5 * USEC_PER_SEC, &s, &p), 0);
        probe_run(e, p, &run);                   /* the file is missing: read from its start */
        assert_int_equal(run.r.status, PROBE_OK);

        append(log_path, dns1);
        append(log_path, "\n");
        (void) run_idle(e);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_int_equal(run.r.activity.deferred, 1);
        assert_int_equal(run.r.activity.failures[CAUSE_DNS_FAILURE], 1);
        assert_int_equal(run.r.activity.fixable[CAUSE_DNS_FAILURE], 0);    /* not known yet */
        c = &run.r.samples.causes[CAUSE_DNS_FAILURE];
        assert_string_equal(c->peer, "localhost");
        assert_false(c->probed);

        run_until_no_children(e);                /* the lookup of "localhost" */
        (void) run_idle(e);                      /* and its output read */
        append(log_path, dns2);
        append(log_path, "\n");
        (void) run_idle(e);
        probe_run(e, p, &run);
        assert_int_equal(run.r.status, PROBE_OK);
        assert_int_equal(run.r.activity.deferred, 2);
        assert_int_equal(run.r.activity.failures[CAUSE_DNS_FAILURE], 2);
        assert_int_equal(run.r.activity.fixable[CAUSE_DNS_FAILURE], 1);
        assert_int_equal(run.r.activity.conn_errors_probed, 0);
        c = &run.r.samples.causes[CAUSE_DNS_FAILURE];
        assert_string_equal(c->peer, "localhost");
        assert_true(c->probed);
        assert_string_equal(c->first, dns1);
        assert_string_equal(c->last, dns2);
        probe_free(p);
        sd_event_unref(e);
}

int main(void) {
        block_sigchld();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_new_lines_and_partial, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rotate_nocreate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_resume, setup, teardown),
                cmocka_unit_test_setup_teardown(test_backlog_chunks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_since, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_name_lookup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_a_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_position, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
