/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "macros.h"
#include "payload.h"

/* Exact bodies are kept in tests/golden/; set UPDATE_GOLDEN=1 to rewrite
 * them (and review the diff). */

static char *golden_path(const char *name) {
        const char *srcdir = getenv("TEST_SRCDIR");
        char *p = NULL;

        assert_true(asprintf(&p, "%s/golden/%s", srcdir ? srcdir : "tests", name) > 0);
        return p;
}

static void assert_golden(const char *name, const char *got) {
        _cleanup_free_ char *path = golden_path(name), *want = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (getenv("UPDATE_GOLDEN")) {
                f = fopen(path, "we");
                assert_non_null(f);
                assert_true(fprintf(f, "%s\n", got) > 0);
                return;
        }

        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        assert_true(getdelim(&want, &size, '\0', f) > 0);
        /* The files end in a newline, the bodies do not. */
        assert_true(strlen(want) > 0 && want[strlen(want) - 1] == '\n');
        want[strlen(want) - 1] = '\0';
        assert_string_equal(got, want);
}

static Event fixed_event(EventKind kind, const char *state, const char *summary) {
        return (Event) {
                .kind = kind,
                .id = "5c0e8a4e-2f1d-4b7a-9c3e-1d2f3a4b5c6d",
                .incident = "0b7f6e5d-4c3b-4a29-8817-161514131211",
                .host = "mx1.example.org",
                .mta = "postfix",
                .unit = "postfix@-.service",
                .time_usec = 1795994535 * USEC_PER_SEC,  /* 2026-11-29T23:22:15Z */
                .state = state,
                .summary = summary,
                .action = NULL,
                .reachability = "up",
                .backlog = 20,
                .oldest_age_usec = 412 * USEC_PER_SEC,
                .restarts_in_window = 0,
                .schedule_known = 1,
                .overdue = 20,
                .conn_errors_probed = 14,
        };
}

static char *render(AlertFormat f, const Event *ev, const char *am_text) {
        json_t *event = event_to_json_object(ev), *am = NULL;
        json_error_t err;
        char *s;

        assert_non_null(event);
        if (am_text) {
                am = json_loads(am_text, 0, &err);
                assert_non_null(am);
        }
        s = payload_render(f, event, am);
        json_decref(event);
        json_decref(am);
        assert_non_null(s);
        return s;
}

static void test_json(void **state) {
        Event ev = fixed_event(EVENT_STALL_DETECTED, "STALLED", "no queue progress for 6m30s with backlog 20");
        _cleanup_free_ char *s = render(ALERT_FORMAT_JSON, &ev, NULL), *direct = event_to_json(&ev);

        assert_golden("json-stall.json", s);
        assert_string_equal(s, direct);
}

static void test_slack(void **state) {
        Event ev = fixed_event(EVENT_STALL_DETECTED, "STALLED", "no queue progress for 6m30s with backlog 20");
        _cleanup_free_ char *s = render(ALERT_FORMAT_SLACK, &ev, NULL), *s2 = NULL;

        assert_golden("slack-stall.json", s);

        ev = fixed_event(EVENT_ACTION_STARTED, "REMEDIATING", "restarting postfix@-.service");
        ev.action = "restart";
        ev.dry_run = 1;
        s2 = render(ALERT_FORMAT_SLACK, &ev, NULL);
        assert_golden("slack-action-dry-run.json", s2);
}

/* The text names the cause class, its peer, its last line, the resolver
 * difference and the MTA's first error line. */
static void test_slack_cause(void **state) {
        static const char *const log[] = { "postfix/smtp: fatal: bad numerical configuration: x = 5x" };
        Event ev = fixed_event(EVENT_GAVE_UP, "GAVE_UP", "delivery fails for a reason a restart cannot fix");
        _cleanup_free_ char *s = NULL;

        ev.cause_class = "dns-failure";
        ev.cause_peer = "relay.example.net";
        ev.cause_count = 4;
        ev.cause_last_line = "1A: to=<a@b>, status=deferred (relay.example.net: Temporary failure in name resolution)";
        ev.cause_resolver = "/var/spool/postfix/etc/hosts differs from /etc/hosts";
        ev.mta_log = log;
        ev.n_mta_log = 1;
        s = render(ALERT_FORMAT_SLACK, &ev, NULL);
        assert_golden("slack-cause.json", s);
}

static void test_alertmanager(void **state) {
        Event ev = fixed_event(EVENT_STALL_DETECTED, "STALLED", "no queue progress for 6m30s with backlog 20");
        _cleanup_free_ char *firing = NULL, *escalated = NULL, *resolved = NULL;

        firing = render(ALERT_FORMAT_ALERTMANAGER, &ev,
                        "{\"severity\":\"warning\",\"starts_at\":\"2026-11-29T23:15:45Z\",\"ends_at\":null,\"superseded\":null}");
        assert_golden("alertmanager-firing.json", firing);

        ev = fixed_event(EVENT_GAVE_UP, "GAVE_UP", "3 restarts in 1h did not help");
        escalated = render(ALERT_FORMAT_ALERTMANAGER, &ev,
                           "{\"severity\":\"critical\",\"starts_at\":\"2026-11-29T23:15:45Z\",\"ends_at\":null,\"superseded\":\"warning\"}");
        assert_golden("alertmanager-escalated.json", escalated);

        ev = fixed_event(EVENT_RECOVERED, "HEALTHY", "queue moving again");
        ev.backlog = 0;
        resolved = render(ALERT_FORMAT_ALERTMANAGER, &ev,
                          "{\"severity\":\"critical\",\"starts_at\":\"2026-11-29T23:15:45Z\",\"ends_at\":\"2026-11-29T23:22:15Z\",\"superseded\":null}");
        assert_golden("alertmanager-resolved.json", resolved);

        /* Without its Alertmanager view there is nothing to render. */
        json_t *event = event_to_json_object(&ev);
        assert_null(payload_render(ALERT_FORMAT_ALERTMANAGER, event, NULL));
        json_decref(event);
}

static void test_dropped_counter(void **state) {
        Event ev = fixed_event(EVENT_OUTAGE_STARTED, "OUTAGE", "relay unreachable");
        json_t *event = event_to_json_object(&ev);
        _cleanup_free_ char *text = NULL;

        assert_non_null(event);
        assert_int_equal(json_object_set_new(json_object_get(event, "details"), "alerts_dropped", json_integer(7)), 0);
        text = payload_text(event);
        assert_string_equal(text,
                            "[warning] outage.started: postfix (postfix@-.service) on mx1.example.org: relay unreachable; "
                            "backlog 20 (20 overdue), oldest 6m52s, reachability up, restarts in window 0, state OUTAGE; "
                            "7 earlier informational alert(s) dropped, outbox full");
        json_decref(event);
}

static void test_names(void **state) {
        for (int f = 0; f < _ALERT_FORMAT_MAX; f++)
                assert_int_equal(alert_format_from_string(alert_format_to_string(f)), f);
        assert_int_equal(alert_format_from_string("teams"), _ALERT_FORMAT_INVALID);
        assert_int_equal(severity_rank("info"), 0);
        assert_int_equal(severity_rank("warning"), 1);
        assert_int_equal(severity_rank("critical"), 2);
        assert_int_equal(severity_rank("fatal"), -1);
        assert_string_equal(severity_from_rank(2), "critical");
        assert_null(severity_from_rank(3));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_slack),
                cmocka_unit_test(test_slack_cause),
                cmocka_unit_test(test_alertmanager),
                cmocka_unit_test(test_dropped_counter),
                cmocka_unit_test(test_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
