/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/wait.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "exim.h"
#include "mta.h"
#include "postfix.h"
#include "smtp.h"

/* The settings of the MTA type and of a probe type (their own structs). */
#define POSTFIX(c) ((const PostfixSettings *) (c)->mta_settings)
#define SMTP(p) ((const SmtpSettings *) (p)->settings)
#include "macros.h"
#include "tests.h"
#include "fixture-root.h"

#define SEC  (1000000ULL)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

static char tmpdir[] = "/tmp/test-config-XXXXXX";
static unsigned file_counter;
/* The host the files are loaded on (watchdogd/detect.h): Postfix
 * installed, its configuration not readable (no postconf), so that no
 * relay is known and no probe derived unless a test says otherwise. Readable
 * by the user "nobody" of test_unreadable_files. */
static char rootdir[] = "/tmp/test-config-root-XXXXXX";
static const ConfigLoadOptions load_options = { .root = rootdir };

static char *read_all(const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        char *buf = NULL;
        size_t size = 0;

        f = fopen(path, "re");
        assert_non_null(f);
        FILE *m = open_memstream(&buf, &size);
        assert_non_null(m);
        for (int ch; (ch = fgetc(f)) != EOF;)
                fputc(ch, m);
        assert_int_equal(fclose(m), 0);
        return buf;
}

static char *write_config(const char *text) {
        char *path = NULL;
        FILE *f;

        assert_true(asprintf(&path, "%s/config-%u.ini", tmpdir, ++file_counter) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return path;
}

/* Runs config_load(PATH) with stderr going to a file; returns what was logged. */
static int load_captured(const char *path, Config **ret, char **ret_log) {
        _cleanup_free_ char *log_path = NULL;
        int saved, r;

        assert_true(asprintf(&log_path, "%s/stderr", tmpdir) > 0);
        saved = stderr_redirect(log_path);
        r = config_load_full(path, &load_options, ret);
        *ret_log = stderr_restore(saved, log_path);
        return r;
}

/* Loads TEXT, expects success and exactly LOG on stderr. */
static Config *load_ok_logged(const char *text, const char *expected_log) {
        _cleanup_free_ char *path = write_config(text), *log = NULL;
        Config *c = NULL;

        int r = load_captured(path, &c, &log);
        if (r < 0)
                fprintf(stderr, "unexpected failure: %s", log);
        assert_int_equal(r, 0);
        assert_string_equal(log, expected_log);
        assert_non_null(c);
        assert_string_equal(c->path, path);
        return c;
}

static Config *load_ok(const char *text) {
        return load_ok_logged(text, "");
}

/* Loads TEXT, expects -EINVAL and exactly "PATH" MESSAGE "\n" on stderr;
 * MESSAGE may hold several errors, one a line, each then prefixed with PATH. */
static void check_error(const char *text, const char *message) {
        _cleanup_free_ char *path = write_config(text), *log = NULL, *expected = NULL;
        Config *sentinel = (Config *) &file_counter, *c = sentinel;
        size_t size = 0;
        FILE *m;

        assert_int_equal(load_captured(path, &c, &log), -EINVAL);
        assert_ptr_equal(c, sentinel);
        m = open_memstream(&expected, &size);
        assert_non_null(m);
        for (const char *p = message;;) {
                size_t n = strcspn(p, "\n");

                fprintf(m, "%s%.*s\n", path, (int) n, p);
                if (!p[n])
                        break;
                p += n + 1;
        }
        assert_int_equal(fclose(m), 0);
        assert_string_equal(log, expected);
}

#define MTA "[mta]\nunit = postfix@-.service\n"

/* Every setting but the probes and alerts at its default, the unit postfix@-.service. */
static void assert_defaults(const Config *c) {
        char host[HOST_NAME_MAX + 1] = "";

        assert_int_equal(gethostname(host, sizeof host - 1), 0);

        assert_int_equal(c->interval_usec, 10 * SEC);
        assert_string_equal(c->state_dir, "/var/lib/mta-watchdog");
        assert_string_equal(c->hostname, host);
        assert_false(c->dry_run);
        assert_int_equal(c->log_level, LOG_INFO);

        assert_string_equal(c->mta_name, "postfix");
        assert_string_equal(c->mta_type, "postfix");
        assert_string_equal(c->unit, "postfix@-.service");
        assert_string_equal(POSTFIX(c)->queue_directory, "/var/spool/postfix");
        assert_string_equal(c->flush_command[0], "/usr/sbin/postqueue");
        assert_string_equal(c->flush_command[1], "-f");
        assert_null(c->flush_command[2]);
        assert_int_equal(c->flush_timeout_usec, 30 * SEC);
        assert_int_equal(c->fail_threshold, 3);
        assert_int_equal(c->ok_threshold, 2);
        assert_int_equal(c->restore_grace_usec, 5 * MIN);
        assert_int_equal(c->stall_after_usec, 10 * MIN);
        assert_int_equal(c->min_backlog, 1);
        assert_int_equal(c->n_actions, 1);
        assert_int_equal(c->actions[0], ACTION_RESTART);
        assert_true(c->flush_after_restart);
        assert_int_equal(c->verify_after_usec, 2 * MIN);
        assert_true(c->restart_timeout_usec == USEC_INFINITY);   /* auto: from the unit */
        assert_int_equal(c->max_restarts, 3);
        assert_int_equal(c->restart_window_usec, HOUR);
        assert_null(c->pid_file);               /* Postfix's profile names none */
        assert_false(c->flush_on_restore);
        assert_false(c->kill_hung_deliveries);
}

/* pid_file: an absolute path, or "none" (the profile's is not used). */
static void test_pid_file(void **state) {
        Config *c = load_ok(MTA "pid_file = /run/exim4/exim.pid\n");

        assert_string_equal(c->pid_file, "/run/exim4/exim.pid");
        assert_false(c->pid_file_none);
        config_free(c);
        c = load_ok(MTA "pid_file = none\n");
        assert_null(c->pid_file);
        assert_true(c->pid_file_none);
        config_free(c);
}

static void test_defaults(void **state) {
        Config *c = load_ok(MTA);

        assert_defaults(c);

        assert_int_equal(c->n_probes, 0);
        assert_null(c->probes);
        assert_int_equal(c->n_alerts, 0);
        assert_null(c->alerts);

        config_free(c);
}

static const char full_config[] =
        "[watchdog]\n"
        "interval = 30s\n"
        "state_dir = /srv/state\n"
        "hostname = mx1.example.org\n"
        "dry_run = yes\n"
        "log_level = debug\n"
        "\n"
        "[mta]\n"
        "name = outbound\n"
        "type = postfix\n"
        "unit = postfix@out.service\n"
        "queue_directory = /var/spool/postfix-out\n"
        "flush_command =  postqueue   -c /etc/postfix-out  -f \n"
        "flush_timeout = 1m\n"
        "fail_threshold = 5\n"
        "ok_threshold = 1\n"
        "restore_grace = 0\n"
        "stall_after = 1h 30m\n"
        "min_backlog = 20\n"
        "actions = flush restart\n"
        "flush_after_restart = off\n"
        "verify_after = 45s\n"
        "restart_timeout = 2m\n"
        "max_restarts = 0\n"
        "restart_window = 1d\n"
        "overdue_slack = 2m\n"
        "activity_pattern = delivered: (ok|later|failed)\n"
        "error_pattern = cannot reach (.+)\n"
        "unknown_alert_after = 30m\n"
        "outage_alert_after = 0\n"
        "\n"
        "[probe:relay]\n"
        "type = smtp\n"
        "host = relay.example.net\n"
        "port = 587\n"
        "timeout = 5s\n"
        "\n"
        "[alert:ops]\n"
        "url = https://hooks.example.org/mta?team=ops\n"
        "format = json\n"
        "timeout = 3s\n"
        "\n"
        "[probe:backup]\n"
        "type = smtp\n"
        "host = 192.0.2.25\n"
        "\n"
        "[alert:pager]\n"
        "url = http://[2001:db8::1]:8080/hook\n";

static void test_all_keys(void **state) {
        Config *c = load_ok(full_config);

        assert_int_equal(c->interval_usec, 30 * SEC);
        assert_string_equal(c->state_dir, "/srv/state");
        assert_string_equal(c->hostname, "mx1.example.org");
        assert_true(c->dry_run);
        assert_int_equal(c->log_level, LOG_DEBUG);

        assert_string_equal(c->mta_name, "outbound");
        assert_string_equal(c->mta_type, "postfix");
        assert_string_equal(c->unit, "postfix@out.service");
        assert_string_equal(POSTFIX(c)->queue_directory, "/var/spool/postfix-out");
        assert_string_equal(c->flush_command[0], "postqueue");
        assert_string_equal(c->flush_command[1], "-c");
        assert_string_equal(c->flush_command[2], "/etc/postfix-out");
        assert_string_equal(c->flush_command[3], "-f");
        assert_null(c->flush_command[4]);
        assert_int_equal(c->flush_timeout_usec, MIN);
        assert_int_equal(c->fail_threshold, 5);
        assert_int_equal(c->ok_threshold, 1);
        assert_int_equal(c->restore_grace_usec, 0);
        assert_int_equal(c->stall_after_usec, HOUR + 30 * MIN);
        assert_int_equal(c->min_backlog, 20);
        assert_int_equal(c->n_actions, 2);
        assert_int_equal(c->actions[0], ACTION_FLUSH);
        assert_int_equal(c->actions[1], ACTION_RESTART);
        assert_false(c->flush_after_restart);
        assert_int_equal(c->verify_after_usec, 45 * SEC);
        assert_int_equal(c->restart_timeout_usec, 2 * MIN);
        assert_int_equal(c->max_restarts, 0);
        assert_int_equal(c->restart_window_usec, DAY);
        assert_int_equal(POSTFIX(c)->overdue_slack_usec, 2 * MIN);
        assert_string_equal(c->activity_pattern, "delivered: (ok|later|failed)");
        assert_string_equal(c->error_pattern, "cannot reach (.+)");
        assert_int_equal(c->unknown_alert_after_usec, 30 * MIN);
        assert_int_equal(c->outage_alert_after_usec, 0);

        assert_int_equal(c->n_probes, 2);
        assert_string_equal(c->probes[0].name, "relay");
        assert_string_equal(c->probes[0].type, "smtp");
        assert_string_equal(SMTP(&c->probes[0])->host, "relay.example.net");
        assert_int_equal(SMTP(&c->probes[0])->port, 587);
        assert_int_equal(c->probes[0].timeout_usec, 5 * SEC);
        assert_int_equal(c->probes[0].line, 32);
        assert_string_equal(c->probes[1].name, "backup");
        assert_string_equal(c->probes[1].type, "smtp");
        assert_string_equal(SMTP(&c->probes[1])->host, "192.0.2.25");
        assert_int_equal(SMTP(&c->probes[1])->port, 25);
        assert_int_equal(c->probes[1].timeout_usec, 5 * SEC);
        assert_int_equal(c->probes[1].line, 43);

        assert_int_equal(c->n_alerts, 2);
        assert_string_equal(c->alerts[0].name, "ops");
        assert_string_equal(c->alerts[0].url, "https://hooks.example.org/mta?team=ops");
        assert_string_equal(c->alerts[0].format, "json");
        assert_int_equal(c->alerts[0].timeout_usec, 3 * SEC);
        assert_int_equal(c->alerts[0].line, 38);
        assert_string_equal(c->alerts[1].name, "pager");
        assert_string_equal(c->alerts[1].url, "http://[2001:db8::1]:8080/hook");
        assert_string_equal(c->alerts[1].format, "json");
        assert_int_equal(c->alerts[1].timeout_usec, 10 * SEC);
        assert_int_equal(c->alerts[1].line, 47);

        config_free(c);
}

static void test_syntax_variants(void **state) {
        Config *c = load_ok(
                "\xEF\xBB\xBF; comment\r\n"
                "# another comment\r\n"
                "  [watchdog]   ; trailing comment\r\n"
                "\tinterval: 1m30s\r\n"
                "dry_run = TRUE\r\n"
                "\r\n"
                "    hostname = host;not-a-comment\r\n"
                "[mta]\r\n"
                "    unit = exim4.service ; indented, with a comment\r\n"
                "\r\n"
                "        name = after-blank-line\r\n");

        assert_int_equal(c->interval_usec, 90 * SEC);
        assert_true(c->dry_run);
        assert_string_equal(c->hostname, "host;not-a-comment");
        assert_string_equal(c->unit, "exim4.service");
        assert_string_equal(c->mta_name, "after-blank-line");
        config_free(c);
}

static void test_booleans_and_levels(void **state) {
        static const struct {
                const char *value;
                bool expected;
        } bools[] = {
                { "yes", true }, { "true", true }, { "on", true }, { "1", true }, { "Yes", true },
                { "no", false }, { "false", false }, { "off", false }, { "0", false }, { "OFF", false },
        };
        static const struct {
                const char *value;
                int expected;
        } levels[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "error", LOG_ERR },
        };

        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                _cleanup_free_ char *text = NULL;
                assert_true(asprintf(&text, MTA "flush_after_restart = %s\nflush_on_restore = %s\n"
                                     "kill_hung_deliveries = %s\n[watchdog]\ndry_run = %s\n",
                                     bools[i].value, bools[i].value, bools[i].value, bools[i].value) > 0);
                Config *c = load_ok(text);
                assert_int_equal(c->flush_after_restart, bools[i].expected);
                assert_int_equal(c->flush_on_restore, bools[i].expected);
                assert_int_equal(c->kill_hung_deliveries, bools[i].expected);
                assert_int_equal(c->dry_run, bools[i].expected);
                config_free(c);
        }

        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_free_ char *text = NULL;
                assert_true(asprintf(&text, MTA "[watchdog]\nlog_level = %s\n", levels[i].value) > 0);
                Config *c = load_ok(text);
                assert_int_equal(c->log_level, levels[i].expected);
                config_free(c);
        }
}

/* restart_timeout: "auto" (the unit's own timeouts) or a duration that wins. */
static void test_restart_timeout(void **state) {
        Config *c = load_ok(MTA "restart_timeout = auto\n");
        assert_true(c->restart_timeout_usec == USEC_INFINITY);
        config_free(c);

        c = load_ok(MTA "restart_timeout = 75s\n");
        assert_int_equal(c->restart_timeout_usec, 75 * SEC);
        config_free(c);
}

/* Keys of a type may come before "type =" in their section: they are
 * parsed once the type is known, against that type's own table. */
static void test_type_keys_before_type(void **state) {
        Config *c = load_ok("[mta]\nqueue_directory = /srv/spool\noverdue_slack = 90s\ntype = postfix\n"
                            "unit = postfix@-.service\n"
                            "[probe:relay]\nport = 2525\nhost = relay.test\ntype = smtp\ntimeout = 2s\n");

        assert_ptr_equal(c->profile, &mta_profile_postfix);
        assert_string_equal(POSTFIX(c)->queue_directory, "/srv/spool");
        assert_int_equal(POSTFIX(c)->overdue_slack_usec, 90 * SEC);
        assert_string_equal(c->mta_name, "postfix");
        assert_ptr_equal(c->probes[0].ops, &probe_smtp_ops);
        assert_string_equal(SMTP(&c->probes[0])->host, "relay.test");
        assert_int_equal(SMTP(&c->probes[0])->port, 2525);
        assert_int_equal(c->probes[0].timeout_usec, 2 * SEC);
        config_free(c);

        /* Errors in them still name their own line, the first one wins. */
        check_error("[mta]\nqueue_directory = spool\nunit = postfix@-.service\n",
                    ":2: [mta] queue_directory: \"spool\" is not an absolute path");
        check_error(MTA "[probe:relay]\nport = 0\nhost = relay.test\ntype = smtp\n",
                    ":4: [probe:relay] port: 0 is out of range (1..65535)");
        check_error(MTA "[probe:relay]\nport = 25\ntype = smtp\n",
                    ":3: [probe:relay] host: missing required key");
        check_error(MTA "[probe:relay]\nhost = a\nhost = b\ntype = smtp\n",
                    ":5: [probe:relay] host: duplicate key (first set on line 4)");
        /* A type key's error comes before the errors of later sections. */
        check_error(MTA "queue_directory = relative\n[bogus]\n",
                    ":3: [mta] queue_directory: \"relative\" is not an absolute path\n"
                    ":4: [bogus]: unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])");
        check_error(MTA "[probe:a]\ntype = smtp\nhost = r\nport = 99999\n[alert:b]\nurl = ftp://x\n",
                    ":6: [probe:a] port: 99999 is out of range (1..65535)\n"
                    ":8: [alert:b] url: \"ftp://x\" is not an http:// or https:// URL");
        /* A key no type has is unknown at once, before later errors. */
        check_error(MTA "[probe:relay]\nhots = a\n[nope]\n",
                    ":4: [probe:relay] hots: unknown key\n"
                    ":3: [probe:relay] type: missing required key\n"
                    ":5: [nope]: unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])");
}

/* Loads TEXT, expects failure, and returns the number of errors counted. */
static unsigned count_errors(const char *text) {
        _cleanup_free_ char *path = write_config(text), *log_path = NULL;
        Config *c = NULL;
        unsigned n = 99;
        ConfigLoadOptions o = { .root = rootdir, .n_errors = &n };
        int saved;

        assert_true(asprintf(&log_path, "%s/stderr", tmpdir) > 0);
        saved = stderr_redirect(log_path);
        assert_int_equal(config_load_full(path, &o, &c), -EINVAL);
        free(stderr_restore(saved, log_path));
        assert_null(c);
        return n;
}

/* One run names every error of the file: the reader goes on after a bad
 * line, key or section, the checks across keys run too, and an error that
 * only follows from an earlier one is not reported. */
static void test_every_error(void **state) {
        static const char text[] =
                "[watchdog]\n"                           /* 1 */
                "interval = 10x\n"                       /* 2: bad */
                "junk\n"                                 /* 3: bad */
                "[mta]\n"                                /* 4 */
                "unit = postfix@-.service\n"
                "stall_after = 0s\n"                     /* 6: bad */
                "fail_threshold = 0\n"                   /* 7: bad */
                "[probe:a]\n"                            /* 8 */
                "type = smtp\n"
                "timeout = 1h\n"                         /* 10: not checked against the bad interval */
                "port = 0\n"                             /* 11: bad; host missing: 8 */
                "[bogus]\n"                              /* 12: bad, its keys are skipped */
                "anything = at all\n"
                "[alert:b]\n"                            /* 14 */
                "url = ftp://x\n"                        /* 15: bad, not "missing" again */
                "retry_initial = 2m\n"                   /* 16: larger than retry_max */
                "[alert:c]\n"                            /* 17 */
                "retry_max = soon\n";                    /* 18: bad; url missing: 17 */

        check_error(text,
                    ":2: [watchdog] interval: \"10x\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)\n"
                    ":3: [watchdog]: expected \"key = value\"\n"
                    ":6: [mta] stall_after: duration must be greater than 0\n"
                    ":7: [mta] fail_threshold: 0 is out of range (1..4294967295)\n"
                    ":11: [probe:a] port: 0 is out of range (1..65535)\n"
                    ":8: [probe:a] host: missing required key\n"
                    ":12: [bogus]: unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])\n"
                    ":15: [alert:b] url: \"ftp://x\" is not an http:// or https:// URL\n"
                    ":18: [alert:c] retry_max: \"soon\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)\n"
                    ":14: [alert:b] retry_initial: larger than retry_max\n"
                    ":17: [alert:c] url: missing required key");
        assert_int_equal(count_errors(text), 11);

        /* A type in error: the keys of the type are not guessed at. */
        check_error("[mta]\ntype = qmail\nunit = q.service\nqueue_directory = rel\n"
                    "[probe:r]\ntype = icmp\nhost = h\nport = 0\n",
                    ":2: [mta] type: unsupported value \"qmail\" (supported: auto, postfix, exim, sendmail, generic)\n"
                    ":6: [probe:r] type: unsupported value \"icmp\" (supported: smtp, dns, tcp)");
        /* A header refused: no "[mta] section missing" besides. */
        check_error("[mta\nunit = a.service\n[watchdog]\ninterval = 0\n",
                    ":1: section header without closing ']'\n"
                    ":4: [watchdog] interval: duration must be greater than 0");
        /* A flush_command in error is not "missing" for actions = flush. */
        check_error(MTA "actions = flush restart\nflush_command = bin/x\n",
                    ":4: [mta] flush_command: \"bin/x\" must be an absolute path or a bare command name");
        /* Lines too long or with a NUL byte are skipped, the next ones read. */
        {
                char text2[512];

                (void) snprintf(text2, sizeof text2, MTA "name = %0250d\nmin_backlog = 0\n", 7);
                check_error(text2, ":3: [mta]: line too long (more than 199 characters)\n"
                            ":4: [mta] min_backlog: 0 is out of range (1..4294967295)");
                assert_int_equal(count_errors(text2), 2);
        }
}

/* Hosts of the documentation domains (RFC 2606) are advice, not errors:
 * each names its file, line and key. */
static void test_placeholders(void **state) {
        static const char text[] =
                "[watchdog]\n"
                "hostname = mail1.Example.NET\n"                          /* 2 */
                MTA                                                         /* 3, 4 */
                "[probe:relay]\n"                                          /* 5 */
                "type = smtp\n"
                "host = relay.example.org.\n"                              /* 7 */
                "[probe:real]\n"
                "host = smtp.test\n"                                       /* .test: real test setups */
                "type = smtp\n"
                "[probe:x]\n"
                "host = relay.invalid\n"                                   /* 12 */
                "type = smtp\n"
                "[probe:y]\n"
                "host = notexample.com\n"                                  /* not below example.com */
                "type = smtp\n"
                "[alert:ops]\n"
                "url = https://user@hooks.example.com:8443/x?y=1\n"        /* 18 */
                "[alert:own]\n"
                "url = http://example.company.net/hook\n";
        _cleanup_free_ char *path = write_config(text), *log = NULL, *expected = NULL;
        char advice[4096];
        Config *c = NULL;

        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_string_equal(log, "");
        assert_int_equal(config_advice(c, advice, sizeof advice), 4);
        assert_true(asprintf(&expected,
                             "%1$s:2: [watchdog] hostname: mail1.Example.NET is in a domain reserved for documentation "
                             "(RFC 2606), a placeholder: alerts name the host so; remove the key for the system's "
                             "host name\n"
                             "%1$s:7: [probe:relay] host: relay.example.org. is in a domain reserved for documentation "
                             "(RFC 2606), a placeholder: probe a host the MTA really depends on (its relay), or "
                             "remove the section\n"
                             "%1$s:12: [probe:x] host: relay.invalid is in a domain reserved for documentation "
                             "(RFC 2606), a placeholder: probe a host the MTA really depends on (its relay), or "
                             "remove the section\n"
                             "%1$s:18: [alert:ops] url: https://user@hooks.example.com:8443/x?y=1 is in a domain "
                             "reserved for documentation (RFC 2606), a placeholder: alerts sent there reach nobody; "
                             "set your receiver's URL, or remove the section (alerts are then only logged)\n",
                             path) > 0);
        assert_string_equal(advice, expected);
        config_free(c);

        /* none: no advice */
        c = load_ok(MTA "[probe:r]\ntype = smtp\nhost = 192.0.2.1\n[alert:a]\nurl = http://[2001:db8::1]/x\n");
        assert_int_equal(config_advice(c, advice, sizeof advice), 0);
        assert_string_equal(advice, "");
        config_free(c);
}

static void test_limits(void **state) {
        Config *c = load_ok(MTA
                            "fail_threshold = 4294967295\n"
                            "min_backlog = 1\n"
                            "actions = flush flush restart restart flush restart flush restart\n"
                            "[probe:a]\ntype = smtp\nhost = h\nport = 65535\n"
                            "[probe:b]\ntype = smtp\nhost = h\nport = 1\n");

        assert_int_equal(c->fail_threshold, 4294967295U);
        assert_int_equal(c->n_actions, ACTIONS_MAX);
        assert_int_equal(c->actions[7], ACTION_RESTART);
        assert_int_equal(SMTP(&c->probes[0])->port, 65535);
        assert_int_equal(SMTP(&c->probes[1])->port, 1);
        config_free(c);
}

static void test_errors(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                /* structure */
                { MTA "foo = 1\n",
                  ":3: [mta] foo: unknown key" },
                { "[watchdog]\nunit = x.service\n" MTA,
                  ":2: [watchdog] unit: unknown key" },
                { MTA "[probe:r]\ntype = smtp\nhost = h\nurl = http://x/\n",
                  ":6: [probe:r] url: unknown key" },
                { MTA "[bogus]\n",
                  ":3: [bogus]: unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])" },
                { MTA "[probe]\n",
                  ":3: [probe]: unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])" },
                { MTA "unit = other.service\n",
                  ":3: [mta] unit: duplicate key (first set on line 2)" },
                { MTA "[watchdog]\n[mta]\n",
                  ":4: [mta]: duplicate section (first on line 1)" },
                { "[watchdog]\n\n" MTA "[watchdog]\n",
                  ":5: [watchdog]: duplicate section (first on line 1)" },
                { MTA "[probe:r]\ntype = smtp\nhost = h\n[probe:r]\n",
                  ":6: [probe:r]: duplicate section (first on line 3)" },
                { MTA "[alert:a]\nurl = http://h/\n[alert:a]\n",
                  ":5: [alert:a]: duplicate section (first on line 3)" },
                { MTA "[probe:]\n",
                  ":3: [probe:]: invalid name \"\" (1-64 characters of A-Z a-z 0-9 _ . -)" },
                { MTA "[alert:a b]\n",
                  ":3: [alert:a b]: invalid name \"a b\" (1-64 characters of A-Z a-z 0-9 _ . -)" },
                { "interval = 5s\n" MTA,
                  ":1: interval: key outside of any section" },
                { MTA "junk\n",
                  ":3: [mta]: expected \"key = value\"" },
                { MTA "= value\n",
                  ":3: [mta]: expected \"key = value\"" },
                { MTA "junk ; a = b\n",
                  ":3: [mta]: expected \"key = value\"" },
                { MTA "flush_command =;x\n",
                  ":3: [mta] flush_command: a value cannot begin with ';' (it reads as a comment)" },
                { MTA "name =#x\n",
                  ":3: [mta] name: a value cannot begin with '#' (it reads as a comment)" },
                { "[mta\nunit = a.service\n",
                  ":1: section header without closing ']'" },
                { "[mta] x\nunit = a.service\n",
                  ":1: unexpected text after ']'" },

                /* required */
                { MTA "[probe:r]\n",
                  ":3: [probe:r] type: missing required key" },
                { MTA "[probe:r]\ntype = smtp\nport = 26\n",
                  ":3: [probe:r] host: missing required key" },
                { MTA "[alert:ops]\nformat = json\n[probe:r]\ntype = smtp\nhost = h\n",
                  ":3: [alert:ops] url: missing required key" },

                /* values */
                { MTA "[watchdog]\ninterval = 10x\n",
                  ":4: [watchdog] interval: \"10x\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)" },
                { MTA "[watchdog]\ninterval = 0\n",
                  ":4: [watchdog] interval: duration must be greater than 0" },
                { MTA "stall_after = 0s\n",
                  ":3: [mta] stall_after: duration must be greater than 0" },
                { MTA "restart_window = 213503983d\n",
                  ":3: [mta] restart_window: duration \"213503983d\" is too large" },
                { MTA "verify_after =\n",
                  ":3: [mta] verify_after: \"\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)" },
                { MTA "[watchdog]\ndry_run = maybe\n",
                  ":4: [watchdog] dry_run: \"maybe\" is not a boolean (yes/no)" },
                { MTA "[watchdog]\nlog_level = err\n",
                  ":4: [watchdog] log_level: unknown log level \"err\" (debug, info, notice, warning, error)" },
                { MTA "[watchdog]\nstate_dir = var/lib\n",
                  ":4: [watchdog] state_dir: \"var/lib\" is not an absolute path" },
                { MTA "[watchdog]\nmetrics_file = metrics.prom\n",
                  ":4: [watchdog] metrics_file: \"metrics.prom\" is not an absolute path" },
                { MTA "[watchdog]\nmetrics_file = /run/mta-watchdog/\n",
                  ":4: [watchdog] metrics_file: \"/run/mta-watchdog/\" names a directory, not a file" },
                { MTA "[watchdog]\nhostname = a b\n",
                  ":4: [watchdog] hostname: \"a b\" contains whitespace" },
                { MTA "name =\n",
                  ":3: [mta] name: empty value" },
                { MTA "fail_threshold = 0\n",
                  ":3: [mta] fail_threshold: 0 is out of range (1..4294967295)" },
                { MTA "ok_threshold = 0\n",
                  ":3: [mta] ok_threshold: 0 is out of range (1..4294967295)" },
                { MTA "min_backlog = 0\n",
                  ":3: [mta] min_backlog: 0 is out of range (1..4294967295)" },
                { MTA "activity_pattern = status=sent\n",
                  ":3: [mta] activity_pattern: the regular expression needs a capture group (...)" },
                { MTA "error_pattern = connect to ([a-z\n",
                  ":3: [mta] error_pattern: bad regular expression: Unmatched [, [^, [:, [., or [=" },
                /* regcomp() would take gigabytes (found by the config fuzzer) */
                { MTA "error_pattern = (connec++++++++++++++++++++++++++++++++++)\n",
                  ":3: [mta] error_pattern: the regular expression is too complex (repetitions such as + "
                  "and {m,n} multiply it to more than 10000 parts)" },
                { MTA "activity_pattern = (ab(c+++++++++++++++++++++++++++\n",
                  ":3: [mta] activity_pattern: the regular expression is too complex (repetitions such as + "
                  "and {m,n} multiply it to more than 10000 parts)" },
                { MTA "activity_pattern = (((a{99}){99}){99})\n",
                  ":3: [mta] activity_pattern: the regular expression is too complex (repetitions such as + "
                  "and {m,n} multiply it to more than 10000 parts)" },
                { MTA "activity_pattern = ((x|[a{]+){40}|b{3,}){90}\n",
                  ":3: [mta] activity_pattern: the regular expression is too complex (repetitions such as + "
                  "and {m,n} multiply it to more than 10000 parts)" },
                { MTA "overdue_slack = soon\n",
                  ":3: [mta] overdue_slack: \"soon\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)" },
                { MTA "restart_timeout = later\n",
                  ":3: [mta] restart_timeout: \"later\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)" },
                { MTA "unknown_alert_after = 0\n",
                  ":3: [mta] unknown_alert_after: duration must be greater than 0" },
                { MTA "stall_after = 366d\n",
                  ":3: [mta] stall_after: duration \"366d\" is too large (at most 365d)" },
                { "[watchdog]\ninterval = 5s\n" MTA "[probe:r]\ntype = smtp\nhost = h\ntimeout = 5s\n",
                  ":5: [probe:r] timeout: 5s is not shorter than [watchdog] interval (5s)" },
                { MTA "pid_file = run/exim4/exim.pid\n",
                  ":3: [mta] pid_file: \"run/exim4/exim.pid\" is not an absolute path" },
                { MTA "flush_on_restore = sometimes\n",
                  ":3: [mta] flush_on_restore: \"sometimes\" is not a boolean (yes/no)" },
                { MTA "max_restarts = 65\n",
                  ":3: [mta] max_restarts: 65 is out of range (0..64)" },
                { MTA "max_restarts = -1\n",
                  ":3: [mta] max_restarts: \"-1\" is not a number" },
                { MTA "max_restarts = 3 times\n",
                  ":3: [mta] max_restarts: \"3 times\" is not a number" },
                { MTA "type = qmail\n",
                  ":3: [mta] type: unsupported value \"qmail\" (supported: auto, postfix, exim, sendmail, generic)" },
                /* The keys of type exim: a log file is a path or syslog, the
                 * spool absolute, a delay a duration; not for type postfix. */
                { MTA "type = exim\nlog_file = mainlog\n",
                  ":4: [mta] log_file: \"mainlog\" is neither an absolute path nor \"syslog\"" },
                { MTA "type = exim\nspool_directory = spool\n",
                  ":4: [mta] spool_directory: \"spool\" is not an absolute path" },
                { MTA "type = exim\nqueue_interval = 30 minutes\n",
                  ":4: [mta] queue_interval: \"30 minutes\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)" },
                { MTA "log_file = /var/log/exim4/mainlog\n",
                  ":3: [mta] log_file: not a key of MTA type postfix (found by type = auto; mta-watchdogd --detect "
                  "shows why)" },
                { "[mta]\nunit = postfix\n",
                  ":2: [mta] unit: \"postfix\" is not a service unit name (e.g. postfix@-.service)" },
                { "[mta]\nunit = postfix@-.socket\n",
                  ":2: [mta] unit: \"postfix@-.socket\" is not a service unit name (e.g. postfix@-.service)" },
                { "[mta]\nunit = a/b.service\n",
                  ":2: [mta] unit: \"a/b.service\" is not a service unit name (e.g. postfix@-.service)" },
                { MTA "queue_directory = spool\n",
                  ":3: [mta] queue_directory: \"spool\" is not an absolute path" },
                { MTA "flush_command = bin/postqueue -f\n",
                  ":3: [mta] flush_command: \"bin/postqueue\" must be an absolute path or a bare command name" },
                { MTA "flush_command =\n",
                  ":3: [mta] flush_command: empty command" },
                { MTA "actions =\n",
                  ":3: [mta] actions: empty list (flush, restart)" },
                { MTA "actions = flush reboot\n",
                  ":3: [mta] actions: unknown action \"reboot\" (flush, restart)" },
                { MTA "actions = flush,restart\n",
                  ":3: [mta] actions: unknown action \"flush,restart\" (flush, restart)" },
                { MTA "actions = flush flush flush flush flush flush flush flush restart\n",
                  ":3: [mta] actions: more than 8 actions" },
                { MTA "[probe:r]\ntype = icmp\n",
                  ":4: [probe:r] type: unsupported value \"icmp\" (supported: smtp, dns, tcp)" },
                { MTA "[probe:r]\ntype = smtp\nhost = h\nport = 0\n",
                  ":6: [probe:r] port: 0 is out of range (1..65535)" },
                { MTA "[probe:r]\ntype = smtp\nhost = h\nport = 65536\n",
                  ":6: [probe:r] port: 65536 is out of range (1..65535)" },
                { MTA "[probe:r]\ntype = smtp\nhost = h\nport = smtp\n",
                  ":6: [probe:r] port: \"smtp\" is not a number" },
                { MTA "[probe:r]\ntype = smtp\nhost = h\ntimeout = 0ms\n",
                  ":6: [probe:r] timeout: duration must be greater than 0" },
                { MTA "[alert:a]\nurl = ftp://h/\n",
                  ":4: [alert:a] url: \"ftp://h/\" is not an http:// or https:// URL" },
                { MTA "[alert:a]\nurl = http://h/\nca_file = /nonexistent/ca.pem\n",
                  ":5: [alert:a] ca_file: /nonexistent/ca.pem: No such file or directory" },
                { MTA "[alert:a]\nurl = http://\n",
                  ":4: [alert:a] url: \"http://\" is not an http:// or https:// URL" },
                { MTA "[alert:a]\nurl = https://h/a b\n",
                  ":4: [alert:a] url: \"https://h/a b\" contains whitespace" },
                { MTA "[alert:a]\nurl = http://h/\nformat = teams\n",
                  ":5: [alert:a] format: unsupported value \"teams\" (supported: json, slack, alertmanager)" },
                { MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nheader = bad\n",
                  ":6: [alert:a] header: expected \"Name: value\"" },
                { MTA "[alert:a]\nurl = http://h/\nheader = X-A:\n",
                  ":5: [alert:a] header: empty header value" },
                { MTA "[alert:a]\nurl = http://h/\nheader = X-Name: caf\xe9\n",
                  ":5: [alert:a] header: byte 0xe9: header values are US-ASCII (RFC 9110, section 5.5)" },
                { MTA "[alert:a]\nurl = http://h/\nheader = X-Name: caf\xc3\xa9\n",
                  ":5: [alert:a] header: byte 0xc3: header values are US-ASCII (RFC 9110, section 5.5)" },
                { MTA "[alert:a]\nurl = http://h/\nheader = Webhook-Signature: x\n",
                  ":5: [alert:a] header: header \"Webhook-Signature\" is set by the daemon" },
                { MTA "[alert:a]\nurl = http://h/\nretry_initial = 2m\n",
                  ":3: [alert:a] retry_initial: larger than retry_max" },
                { MTA "[alert:a]\nurl = http://h/\nmax_queued = 0\n",
                  ":5: [alert:a] max_queued: 0 is out of range (1..4294967295)" },
                { MTA "[alert:a]\nurl = http://h/\nsecret_file = relative\n",
                  ":5: [alert:a] secret_file: \"relative\" is not an absolute path" },
                { MTA "[alert:a]\nurl = http://h/\nsecret_file = /nonexistent/secret\n",
                  ":5: [alert:a] secret_file: cannot read /nonexistent/secret: No such file or directory" },

                /* every error, in file order */
                { MTA "foo = 1\nbar = 2\n[nope]\n",
                  ":3: [mta] foo: unknown key\n"
                  ":4: [mta] bar: unknown key\n"
                  ":5: [nope]: unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_error(cases[i].text, cases[i].message);
}

static void test_line_too_long(void **state) {
        char line[300], *text = NULL;

        memset(line, 'a', sizeof line - 1);
        line[sizeof line - 1] = '\0';
        assert_true(asprintf(&text, MTA "name = %s\n", line) > 0);
        check_error(text, ":3: [mta]: line too long (more than 199 characters)");
        free(text);
}

static void test_missing_file(void **state) {
        _cleanup_free_ char *path = NULL, *log = NULL, *expected = NULL;
        Config *c = NULL;

        assert_true(asprintf(&path, "%s/does-not-exist.ini", tmpdir) > 0);
        assert_int_equal(load_captured(path, &c, &log), -ENOENT);
        assert_null(c);
        assert_true(asprintf(&expected, "%s: No such file or directory\n", path) > 0);
        assert_string_equal(log, expected);

        free(log);
        free(expected);
        assert_int_equal(load_captured(tmpdir, &c, &log), -EISDIR);
        assert_null(c);
        assert_true(asprintf(&expected, "%s: Is a directory\n", tmpdir) > 0);
        assert_string_equal(log, expected);
}

static void test_parse_duration(void **state) {
        static const struct {
                const char *s;
                uint64_t usec;
        } good[] = {
                { "0", 0 },
                { "0s", 0 },
                { "30", 30 * SEC },
                { "30s", 30 * SEC },
                { "250ms", 250000 },
                { "5m", 5 * MIN },
                { "1h", HOUR },
                { "2d", 2 * DAY },
                { "1h30m", HOUR + 30 * MIN },
                { "1h 30m", HOUR + 30 * MIN },
                { "  1d2h3m4s5ms  ", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5000 },
                { "1m 1m", 2 * MIN },
                { "10 s", 10 * SEC },
                { "007s", 7 * SEC },
                { "18446744073709ms", 18446744073709ULL * 1000 },
                { "213503982d", 213503982ULL * DAY },
        };
        static const struct {
                const char *s;
                int r;
        } bad[] = {
                { "", -EINVAL },
                { "   ", -EINVAL },
                { "s", -EINVAL },
                { "-5s", -EINVAL },
                { "+5s", -EINVAL },
                { "1.5h", -EINVAL },
                { "5 sec", -EINVAL },
                { "5min", -EINVAL },
                { "5us", -EINVAL },
                { "5S", -EINVAL },
                { "1h30", -EINVAL },
                { "30 1h", -EINVAL },
                { "1 2", -EINVAL },
                { "1h,30m", -EINVAL },
                { "infinity", -EINVAL },
                { "213503983d", -ERANGE },
                { "18446744073709552ms", -ERANGE },
                { "18446744073709551616", -ERANGE },
                { "99999999999999999999999s", -ERANGE },
                { "213503982d 213503982d", -ERANGE },
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                uint64_t u = 1;
                assert_int_equal(parse_duration(good[i].s, &u), 0);
                assert_int_equal(u, good[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t u = 77;
                assert_int_equal(parse_duration(bad[i].s, &u), bad[i].r);
                assert_int_equal(u, 77);
        }
        assert_int_equal(parse_duration(NULL, &(uint64_t) { 0 }), -EINVAL);
}

static void test_format_duration(void **state) {
        static const struct {
                uint64_t usec;
                const char *s;
        } cases[] = {
                { 0, "0" },
                { 250000, "250ms" },
                { 45 * SEC, "45s" },
                { 90 * SEC, "1m30s" },
                { 5 * MIN, "5m" },
                { HOUR + 30 * MIN, "1h30m" },
                { 2 * DAY, "2d" },
                { DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5000, "1d2h3m4s5ms" },
                { 1500, "1ms500us" },
                { UINT64_MAX, "213503982d8h1m49s551ms615us" },
        };
        char buf[FORMAT_DURATION_MAX];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t back;

                assert_string_equal(format_duration(buf, sizeof buf, cases[i].usec), cases[i].s);
                if (cases[i].usec % 1000 == 0) {
                        assert_int_equal(parse_duration(buf, &back), 0);
                        assert_int_equal(back, cases[i].usec);
                }
        }

        assert_null(format_duration(buf, 3, 250000));
        assert_string_equal(format_duration(buf, 6, 250000), "250ms");
        assert_null(format_duration(buf, 1, 0));
        assert_null(format_duration(NULL, 0, 0));
}

static void test_action_types(void **state) {
        assert_string_equal(action_type_to_string(ACTION_FLUSH), "flush");
        assert_string_equal(action_type_to_string(ACTION_RESTART), "restart");
        assert_null(action_type_to_string(_ACTION_TYPE_MAX));
        assert_null(action_type_to_string(_ACTION_TYPE_INVALID));
        assert_int_equal(action_type_from_string("flush"), ACTION_FLUSH);
        assert_int_equal(action_type_from_string("restart"), ACTION_RESTART);
        assert_int_equal(action_type_from_string("Restart"), _ACTION_TYPE_INVALID);
        assert_int_equal(action_type_from_string(""), _ACTION_TYPE_INVALID);
        assert_int_equal(action_type_from_string(NULL), _ACTION_TYPE_INVALID);
}

static char *dump(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        config_dump(c, f);
        assert_int_equal(fclose(f), 0);
        return buf;
}

/* Everything after the first line, which names the file. */
static const char *dump_body(const char *s) {
        const char *nl = strchr(s, '\n');
        assert_non_null(nl);
        return nl + 1;
}

/* [watchdog] metrics_file: off unless set, an absolute file name, empty turns it off. */
static void test_metrics_file(void **state) {
        Config *c = load_ok(MTA);

        assert_null(c->metrics_file);
        config_free(c);

        c = load_ok(MTA "[watchdog]\nmetrics_file = /run/mta-watchdog/metrics.prom\n");
        assert_string_equal(c->metrics_file, "/run/mta-watchdog/metrics.prom");
        config_free(c);

        c = load_ok(MTA "[watchdog]\nmetrics_file =\n");
        assert_null(c->metrics_file);
        config_free(c);
}

static void test_dump(void **state) {
        _cleanup_free_ char *text = NULL, *expected_head = NULL;
        Config *c = load_ok(MTA "[watchdog]\nhostname = mx.example\n"
                            "[probe:relay]\ntype = smtp\nhost = relay.example.net\n"
                            "[alert:ops]\nurl = http://127.0.0.1:9000/hook\n");

        text = dump(c);
        assert_true(asprintf(&expected_head, "# effective configuration of %s\n", c->path) > 0);
        assert_true(strncmp(text, expected_head, strlen(expected_head)) == 0);
        assert_string_equal(dump_body(text),
                            "\n"
                            "[watchdog]\n"
                            "interval = 10s\n"
                            "state_dir = /var/lib/mta-watchdog\n"
                            "hostname = mx.example\n"
                            "dry_run = no\n"
                            "log_level = info\n"
                            "; metrics_file = (not set)\n"
                            "\n"
                            "[mta]\n"
                            "name = postfix\n"
                            "type = postfix\n"
                            "unit = postfix@-.service\n"
                            "queue_directory = /var/spool/postfix\n"
                            "overdue_slack = auto\n"
                            "full_scan_interval = 10m\n"
                            "activity_pattern = ^[0-9A-Za-z]+: to=<.*, status=(sent|deferred|bounced|expired)([ ,]|$)|"
                            "^[0-9A-Za-z]+: from=<.*, status=(expired)([ ,]|$)\n"
                            "error_pattern = ^connect to ([^][ ]+\\[[^]]+\\]):|^[0-9A-Za-z]+: to=<.*, status=deferred "
                            "\\([^(]*connect to ([^][ ]+\\[[^]]+\\]):|^[0-9A-Za-z]+: to=<.*Name service error for "
                            "name=([^ ]+) type=\n"
                            "unknown_alert_after = 10m\n"
                            "outage_alert_after = 1m\n"
                            "flush_command = /usr/sbin/postqueue -f\n"
                            "flush_timeout = 30s\n"
                            "fail_threshold = 3\n"
                            "ok_threshold = 2\n"
                            "restore_grace = 5m\n"
                            "stall_after = 10m\n"
                            "min_backlog = 1\n"
                            "actions = restart\n"
                            "flush_after_restart = yes\n"
                            "verify_after = 2m\n"
                            "restart_timeout = auto\n"
                            "max_restarts = 3\n"
                            "restart_window = 1h\n"
                            "giveup_holddown = 1h\n"
                            "degraded_after = 10m\n"
                            "pid_file = none\n"
                            "flush_on_restore = no\n"
                            "kill_hung_deliveries = no\n"
                            "relay = auto\n"
                            "canary_domain = gmail.com\n"
                            "\n"
                            "[probe:relay]\n"
                            "type = smtp\n"
                            "host = relay.example.net\n"
                            "port = 25\n"
                            "timeout = 5s\n"
                            "\n"
                            "[alert:ops]\n"
                            "url = http://127.0.0.1:9000/hook\n"
                            "format = json\n"
                            "timeout = 10s\n"
                            "; ca_file = (not set)\n"
                            "; secret_file = (not set)\n"
                            "retry_initial = 1s\n"
                            "retry_max = 1m\n"
                            "max_age = 1h\n"
                            "max_queued = 1000\n"
                            "resend_interval = 1m\n"
                            "; success_body = (not set)\n"
                            "; failure_body = (not set)\n"
                            "rate_limit = none\n");
        config_free(c);
}

/* The dump of a config loads back into the same config. */
static void test_dump_round_trip(void **state) {
        _cleanup_free_ char *first = NULL, *second = NULL;
        Config *c = load_ok(full_config), *d;

        first = dump(c);
        d = load_ok(first);
        second = dump(d);
        assert_string_equal(dump_body(first), dump_body(second));
        assert_int_equal(d->stall_after_usec, c->stall_after_usec);
        assert_int_equal(d->restore_grace_usec, 0);
        assert_int_equal(d->max_restarts, 0);
        config_free(c);
        config_free(d);
}

/* Each type's default unit: the one Debian runs its daemon in. */
static void test_default_unit(void **state) {
        Config *c = load_ok("[mta]\nname = x\n");

        assert_string_equal(c->unit, "postfix@-.service");
        config_free(c);
}

/* type = exim: the Debian defaults (here without exim4 installed: the
 * built-in ones, and a notice that says so), and its keys. */
static void test_exim_type(void **state) {
        Config *c;
        const EximSettings *s;

        if (access(EXIM_DEFAULT_BINARY, X_OK) == 0)
                skip();  /* the defaults would come from this host's exim4 -bP */
        c = load_ok_logged("[mta]\ntype = exim\n", EXIM_DEFAULT_BINARY ": No such file or directory; "
                           "spool_directory and log_file take Debian's defaults\n");
        assert_string_equal(c->unit, "exim4.service");
        assert_string_equal(c->mta_name, "exim");
        assert_string_equal(c->flush_command[0], "systemctl");
        assert_string_equal(c->flush_command[1], "start");
        assert_string_equal(c->flush_command[2], "--no-block");
        assert_string_equal(c->flush_command[3], "mta-watchdog-exim-flush.service");
        assert_null(c->flush_command[4]);
        s = c->mta_settings;
        assert_string_equal(s->spool_directory, "/var/spool/exim4");
        assert_string_equal(s->log_file, "/var/log/exim4/mainlog");
        assert_int_equal(s->queue_interval_usec, USEC_INFINITY);
        assert_int_equal(s->overdue_slack_usec, USEC_INFINITY);
        assert_int_equal(s->hung_delivery_after_usec, 30 * MIN);
        config_free(c);

        c = load_ok("[mta]\ntype = exim\nspool_directory = /srv/exim\nlog_file = syslog\nqueue_interval = 0\n"
                    "overdue_slack = 2m\nhung_delivery_after = 0\n");
        s = c->mta_settings;
        assert_string_equal(s->spool_directory, "/srv/exim");
        assert_string_equal(s->log_file, "syslog");
        assert_null(c->profile->log_file(s));
        assert_int_equal(s->queue_interval_usec, 0);
        assert_int_equal(s->overdue_slack_usec, 2 * MIN);
        assert_int_equal(s->hung_delivery_after_usec, 0);
        config_free(c);
}

/* The shipped file loads as is, every setting at its default. */
static void test_example_config(void **state) {
        _cleanup_free_ char *path = NULL, *log = NULL, *expected = NULL;
        const char *srcdir = getenv("TEST_SRCDIR");
        char advice[1024];
        Config *c = NULL;

        assert_true(asprintf(&path, "%s/../etc/mta-watchdog.ini", srcdir ? srcdir : "tests") > 0);
        assert_int_equal(load_captured(path, &c, &log), 0);
        assert_string_equal(log, "");
        assert_defaults(c);

        /* As shipped: no placeholder left active (the [probe:relay] and
         * [alert:ops] sections are commented-out examples); the only advice
         * is that this host's relay cannot be read (no postconf in rootdir). */
        assert_int_equal(c->n_probes, 0);
        assert_int_equal(c->n_alerts, 0);
        assert_int_equal(config_advice(c, advice, sizeof advice), 1);
        assert_true(asprintf(&expected, "%s: [mta] relay: auto: the relay could not be read (/usr/sbin/postconf: "
                             "No such file or directory): no reachability probe, the network always counts as "
                             "up, so an outage may be taken for a stall; set relay (HOST[:PORT] or none) or add "
                             "a [probe:NAME]\n", path) > 0);
        assert_string_equal(advice, expected);

        config_free(c);
}

/* Without [mta] every key of it is at its default: type = auto (the fixture
 * root's Postfix). An empty file is a valid configuration. */
static void test_no_mta_section(void **state) {
        Config *c = load_ok("");

        assert_string_equal(c->mta_type, "postfix");
        assert_true(c->type_detected);
        assert_string_equal(c->unit, "postfix@-.service");
        config_free(c);

        c = load_ok("[watchdog]\ninterval = 5s\n");
        assert_string_equal(c->mta_type, "postfix");
        assert_int_equal(c->interval_usec, 5 * USEC_PER_SEC);
        config_free(c);
}

/* Every key config_dump() prints is documented in the example file, as
 * "key = " or "; key = ". */
static void test_example_documents_every_key(void **state) {
        _cleanup_free_ char *path = NULL, *log = NULL, *example = NULL, *text = NULL;
        const char *srcdir = getenv("TEST_SRCDIR");
        Config *c = NULL;
        char *line, *saveptr = NULL;

        assert_true(asprintf(&path, "%s/../etc/mta-watchdog.ini", srcdir ? srcdir : "tests") > 0);
        example = read_all(path);
        assert_int_equal(load_captured(path, &c, &log), 0);
        text = dump(c);

        for (line = strtok_r(text, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                _cleanup_free_ char *set = NULL, *commented = NULL;
                char *eq = strstr(line, " = ");

                if (!eq)
                        continue;
                assert_true(asprintf(&set, "\n%.*s = ", (int) (eq - line), line) > 0);
                assert_true(asprintf(&commented, "\n; %.*s = ", (int) (eq - line), line) > 0);
                if (!strstr(example, set) && !strstr(example, commented))
                        fail_msg("key \"%.*s\" not documented in %s", (int) (eq - line), line, path);
        }
        config_free(c);
}

/* Repetitions within the limit, and braces that are not intervals, are fine. */
static void test_regex_complexity_ok(void **state) {
        Config *c = load_ok(MTA "activity_pattern = ((x|[a{]+){40}|b{3,}){60}\n"
                            "error_pattern = \\{([]{}[:alpha:]]+){99}(\\{9999\\}|a{1,9})\n");

        assert_string_equal(c->activity_pattern, "((x|[a{]+){40}|b{3,}){60}");
        assert_string_equal(c->error_pattern, "\\{([]{}[:alpha:]]+){99}(\\{9999\\}|a{1,9})");
        config_free(c);
}

/* Files the daemon's user cannot read: the error says who needs to read them.
 * Loaded in a child running as nobody (needs root to switch; skipped otherwise). */
static void unreadable_case(const char *dir, const char *key, const char *file, const char *reason) {
        _cleanup_free_ char *ini = NULL, *path = NULL, *expected = NULL;
        char out[1024] = "";
        int pipefd[2], status;
        ssize_t n, k = 0;
        pid_t pid;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s.ini", dir, key) > 0);
        assert_true(asprintf(&ini, MTA "[alert:a]\nurl = https://h/\n%s = %s\n", key, file) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(ini, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                Config *c = NULL;

                if (dup2(pipefd[1], STDERR_FILENO) < 0 || setgroups(0, NULL) < 0 ||
                    setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        child_exit(100);
                child_exit(config_load_full(path, &load_options, &c) == -EINVAL && !c ? 0 : 1);
        }
        assert_int_equal(close(pipefd[1]), 0);
        while ((n = read(pipefd[0], out + k, sizeof(out) - 1 - (size_t) k)) > 0)
                k += n;
        assert_int_equal(close(pipefd[0]), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(asprintf(&expected, "%s:5: [alert:a] %s: %s (mta-watchdogd runs as user nobody: make the "
                             "file readable for it, e.g. chgrp nobody FILE; chmod g+r FILE)\n", path, key, reason) > 0);
        assert_string_equal(out, expected);
        assert_int_equal(unlink(path), 0);
}

static void test_unreadable_files(void **state) {
        char dir[] = "/tmp/test-config-ro-XXXXXX";
        _cleanup_free_ char *ca = NULL, *secret = NULL, *ca_reason = NULL, *secret_reason = NULL;
        FILE *f;

        if (geteuid() != 0)
                skip();
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
        assert_true(asprintf(&ca, "%s/ca.pem", dir) > 0);
        assert_true(asprintf(&secret, "%s/ops.secret", dir) > 0);
        f = fopen(ca, "we");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
        f = fopen(secret, "we");
        assert_non_null(f);
        assert_true(fputs("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(ca, 0600), 0);
        assert_int_equal(chmod(secret, 0640), 0);  /* group root: not nobody's */

        assert_true(asprintf(&ca_reason, "%s: Permission denied", ca) > 0);
        unreadable_case(dir, "ca_file", ca, ca_reason);
        assert_true(asprintf(&secret_reason, "cannot read %s: Permission denied", secret) > 0);
        unreadable_case(dir, "secret_file", secret, secret_reason);

        assert_int_equal(unlink(ca), 0);
        assert_int_equal(unlink(secret), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* The secret file must not be accessible by others; its content never shows. */
static void test_secret_file_and_headers(void **state) {
        _cleanup_free_ char *secret_path = NULL, *text = NULL, *ini = NULL, *bad = NULL, *log = NULL, *path = NULL;
        /* base64 -d of the Standard Webhooks test secret */
        static const uint8_t key[] = { 0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a,
                                       0xab, 0x4f, 0x08, 0xd4, 0x3c, 0x3f, 0x08, 0x2c,
                                       0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0 };
        Config *c = NULL;
        FILE *f;

        assert_true(asprintf(&secret_path, "%s/ops.secret", tmpdir) > 0);
        f = fopen(secret_path, "we");
        assert_non_null(f);
        assert_true(fputs("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", f) >= 0);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(chmod(secret_path, 0604), 0);
        assert_true(asprintf(&ini, MTA "[alert:a]\nurl = http://h/\nsecret_file = %s\n"
                             "header = Authorization: Bearer s3cr3t\nheader = X-Team:ops\n", secret_path) > 0);
        path = write_config(ini);
        assert_int_equal(load_captured(path, &c, &log), -EINVAL);
        assert_true(asprintf(&bad, "%s:5: [alert:a] secret_file: %s is accessible by others, refusing to use it "
                             "(chmod o-rwx)\n", path, secret_path) > 0);
        assert_string_equal(log, bad);

        assert_int_equal(chmod(secret_path, 0640), 0);
        c = load_ok(ini);
        assert_int_equal(c->alerts[0].secret_size, sizeof key);
        assert_memory_equal(c->alerts[0].secret, key, sizeof key);
        assert_string_equal(c->alerts[0].secret_file, secret_path);
        assert_string_equal(c->alerts[0].headers[0], "Authorization: Bearer s3cr3t");
        assert_string_equal(c->alerts[0].headers[1], "X-Team: ops");
        assert_null(c->alerts[0].headers[2]);

        text = dump(c);
        assert_non_null(strstr(text, "header = Authorization: (value hidden)\nheader = X-Team: (value hidden)\n"));
        assert_null(strstr(text, "s3cr3t"));
        assert_null(strstr(text, "MfKQ9r8"));
        assert_non_null(strstr(text, "secret_file = "));
        config_free(c);
}

static void test_alert_config_equal(void **state) {
        static const char base[] = MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\n";
        static const char *const differ[] = {
                MTA "[alert:a]\nurl = http://h/x\nheader = X-A: 1\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 2\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nheader = X-B: 1\n",
                MTA "[alert:a]\nurl = http://h/\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nformat = slack\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nca_file = /etc/passwd\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nretry_max = 30s\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nmax_queued = 5\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nresend_interval = 2m\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nsuccess_body = ^ok\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nfailure_body = failed\n",
                MTA "[alert:a]\nurl = http://h/\nheader = X-A: 1\nrate_limit = 2/1s\n",
        };
        Config *c = load_ok(base), *d = load_ok(base);

        assert_true(alert_config_equal(&c->alerts[0], &d->alerts[0]));
        config_free(d);
        for (size_t i = 0; i < ELEMENTSOF(differ); i++) {
                d = load_ok(differ[i]);
                if (alert_config_equal(&c->alerts[0], &d->alerts[0]) ||
                    alert_config_equal(&d->alerts[0], &c->alerts[0]))
                        fail_msg("equal, but should differ: %s", differ[i]);
                config_free(d);
        }
        config_free(c);
}

/* success_body, failure_body and rate_limit: the slack defaults, explicit
 * values, "none" and "" to switch them off, and the errors. */
static void test_body_checks_and_rate_limit(void **state) {
        _cleanup_free_ char *text = NULL;
        Config *c, *d;

        c = load_ok(MTA "[alert:j]\nurl = http://h/\n"
                    "[alert:s]\nurl = http://h/\nformat = slack\n"
                    "[alert:t]\nurl = http://h/\nsuccess_body = ^1$\nfailure_body = delivery failed|HTTP error [0-9]+\n"
                    "rate_limit = 30/1m\n"
                    "[alert:s2]\nurl = http://h/\nsuccess_body =\nrate_limit = none\nformat = slack\n"
                    "[alert:s3]\nrate_limit = 5/250ms\nurl = http://h/\nformat = slack\nsuccess_body = \"ok\"\n");
        assert_int_equal(c->n_alerts, 5);
        /* json: no body rule, no limit */
        assert_null(c->alerts[0].success_body);
        assert_null(c->alerts[0].failure_body);
        assert_int_equal(c->alerts[0].rate_limit_requests, 0);
        assert_false(c->alerts[0].rate_limit_set);
        /* slack: "ok", one request per second */
        assert_string_equal(c->alerts[1].success_body, "^ok[[:space:]]*$");
        assert_null(c->alerts[1].failure_body);
        assert_int_equal(c->alerts[1].rate_limit_requests, 1);
        assert_int_equal(c->alerts[1].rate_limit_period_usec, 1 * SEC);
        /* explicit */
        assert_string_equal(c->alerts[2].success_body, "^1$");
        assert_string_equal(c->alerts[2].failure_body, "delivery failed|HTTP error [0-9]+");
        assert_int_equal(c->alerts[2].rate_limit_requests, 30);
        assert_int_equal(c->alerts[2].rate_limit_period_usec, 60 * SEC);
        /* slack with both switched off */
        assert_string_equal(c->alerts[3].success_body, "");
        assert_int_equal(c->alerts[3].rate_limit_requests, 0);
        assert_true(c->alerts[3].rate_limit_set);
        assert_string_equal(c->alerts[4].success_body, "\"ok\"");
        assert_int_equal(c->alerts[4].rate_limit_requests, 5);
        assert_int_equal(c->alerts[4].rate_limit_period_usec, 250 * SEC / 1000);

        text = dump(c);
        assert_non_null(strstr(text, "[alert:j]\n"));
        assert_non_null(strstr(text, "; success_body = (not set)\n; failure_body = (not set)\nrate_limit = none\n\n[alert:s]"));
        assert_non_null(strstr(text, "success_body = ^ok[[:space:]]*$\n; failure_body = (not set)\nrate_limit = 1/1s\n"));
        assert_non_null(strstr(text, "success_body = ^1$\nfailure_body = delivery failed|HTTP error [0-9]+\n"
                               "rate_limit = 30/1m\n"));
        assert_non_null(strstr(text, "success_body = \n; failure_body = (not set)\nrate_limit = none\n"));
        assert_non_null(strstr(text, "rate_limit = 5/250ms\n"));
        /* ... and reads back the same. */
        d = load_ok(text);
        for (size_t i = 0; i < c->n_alerts; i++)
                assert_true(alert_config_equal(&c->alerts[i], &d->alerts[i]));
        config_free(d);
        config_free(c);

        check_error(MTA "[alert:a]\nurl = http://h/\nsuccess_body = (ok\n",
                    ":5: [alert:a] success_body: bad regular expression: Unmatched ( or \\(");
        check_error(MTA "[alert:a]\nurl = http://h/\nfailure_body = a{1,2\n",
                    ":5: [alert:a] failure_body: bad regular expression: Unmatched \\{");
        check_error(MTA "[alert:a]\nurl = http://h/\nfailure_body = ((a{99}){99}){99}\n",
                    ":5: [alert:a] failure_body: the regular expression is too complex (repetitions such as + "
                    "and {m,n} multiply it to more than 10000 parts)");
        check_error(MTA "[alert:a]\nurl = http://h/\nrate_limit = 1s\n",
                    ":5: [alert:a] rate_limit: \"1s\" is not N/DURATION (e.g. 1/1s, 30/1m) or none");
        check_error(MTA "[alert:a]\nurl = http://h/\nrate_limit = 0/1s\n",
                    ":5: [alert:a] rate_limit: 0 requests is out of range (1..10000)");
        check_error(MTA "[alert:a]\nurl = http://h/\nrate_limit = 10001/1h\n",
                    ":5: [alert:a] rate_limit: 10001 requests is out of range (1..10000)");
        check_error(MTA "[alert:a]\nurl = http://h/\nrate_limit = 1/soon\n",
                    ":5: [alert:a] rate_limit: \"soon\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)");
        check_error(MTA "[alert:a]\nurl = http://h/\nrate_limit = 1001/1s\n",
                    ":5: [alert:a] rate_limit: \"1001/1s\" allows more than one request per millisecond");
        check_error(MTA "[alert:a]\nurl = http://h/\nrate_limit = 1/0\n",
                    ":5: [alert:a] rate_limit: \"1/0\" allows more than one request per millisecond");
}

static int setup(void **state) {
        /* Plain messages, no "<N>" journal prefixes. */
        (void) unsetenv("JOURNAL_STREAM");
        if (!mkdtemp(tmpdir) || !mkdtemp(rootdir) || chmod(rootdir, 0755) < 0)
                return -1;
        fixture_write(rootdir, "/var/lib/dpkg/status", FIXTURE_DPKG_OTHER FIXTURE_DPKG_MTA("postfix"), 0644);
        fixture_write(rootdir, "/var/lib/dpkg/info/postfix.list", "/.\n/usr/sbin\n/usr/sbin/sendmail\n", 0644);
        fixture_write(rootdir, "/usr/sbin/sendmail", "#!/bin/sh\n", 0755);
        return 0;
}

static int teardown(void **state) {
        return rm_rf(tmpdir) | rm_rf(rootdir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_pid_file),
                cmocka_unit_test(test_all_keys),
                cmocka_unit_test(test_syntax_variants),
                cmocka_unit_test(test_booleans_and_levels),
                cmocka_unit_test(test_restart_timeout),
                cmocka_unit_test(test_type_keys_before_type),
                cmocka_unit_test(test_every_error),
                cmocka_unit_test(test_placeholders),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_line_too_long),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_format_duration),
                cmocka_unit_test(test_action_types),
                cmocka_unit_test(test_metrics_file),
                cmocka_unit_test(test_dump),
                cmocka_unit_test(test_dump_round_trip),
                cmocka_unit_test(test_default_unit),
        cmocka_unit_test(test_exim_type),
                cmocka_unit_test(test_example_config),
                cmocka_unit_test(test_no_mta_section),
                cmocka_unit_test(test_example_documents_every_key),
                cmocka_unit_test(test_secret_file_and_headers),
                cmocka_unit_test(test_unreadable_files),
                cmocka_unit_test(test_regex_complexity_ok),
                cmocka_unit_test(test_alert_config_equal),
                cmocka_unit_test(test_body_checks_and_rate_limit),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
