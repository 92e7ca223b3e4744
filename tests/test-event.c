/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "event.h"
#include "fileio.h"
#include "macros.h"

static Event fixed_event(void) {
        Event ev = {
                .kind = EVENT_STALL_DETECTED,
                .id = "0b4c6a7e-3f1d-4a2b-9c8d-1e2f3a4b5c6d",
                .incident = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f",
                .host = "mx1.example.org",
                .mta = "postfix",
                .unit = "postfix@-.service",
                .time_usec = 1795994535 * USEC_PER_SEC + 999999,  /* sub-second part is cut */
                .state = "STALLED",
                .summary = "queue \"deferred\" stalled: 42 messages, relay reachable",
                .action = "restart",
                .reachability = "up",
                .backlog = 42,
                .oldest_age_usec = 5400 * USEC_PER_SEC + 500000,
                .restarts_in_window = 1,
                .schedule_known = 1,
                .overdue = 40,
                .sent = 3,
                .deferred = 7,
                .bounced = 1,
                .conn_errors = 2,
                .conn_errors_probed = 12,
                .dry_run = 0,
        };
        return ev;
}

static void test_json_golden(void **state) {
        Event ev = fixed_event();
        _cleanup_free_ char *s = event_to_json(&ev);

        assert_non_null(s);
        assert_string_equal(s,
                "{\"schema\":\"mta-watchdog.event/1\","
                "\"id\":\"0b4c6a7e-3f1d-4a2b-9c8d-1e2f3a4b5c6d\","
                "\"event\":\"stall.detected\","
                "\"severity\":\"warning\","
                "\"incident\":\"9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f\","
                "\"time\":\"2026-11-29T23:22:15Z\","
                "\"host\":\"mx1.example.org\","
                "\"mta\":\"postfix\","
                "\"unit\":\"postfix@-.service\","
                "\"state\":\"STALLED\","
                "\"summary\":\"queue \\\"deferred\\\" stalled: 42 messages, relay reachable\","
                "\"action\":\"restart\","
                "\"dry_run\":false,"
                "\"details\":{\"backlog\":42,\"oldest_age_seconds\":5400,\"overdue\":40,"
                "\"reachability\":\"up\",\"restarts_in_window\":1,"
                "\"activity\":{\"sent\":3,\"deferred\":7,\"bounced\":1,\"connection_errors\":2,"
                "\"connection_errors_to_probed_hosts\":12,\"by_cause\":{},\"bounced_by_cause\":{}},"
                "\"cause\":null}}");
}

/* details.cause and the counts by cause, as the alert of a DNS stall has them. */
static void test_json_cause(void **state) {
        static const char *const log[] = { "postfix/smtp: fatal: bad numerical configuration: x = 5x" };
        Event ev = fixed_event();

        ev.failures_by_cause[CAUSE_DNS_FAILURE] = 4;
        ev.failures_by_cause[CAUSE_CONNECT_FAILURE] = 12;
        ev.bounced_by_cause[CAUSE_DNS_FAILURE] = 1;
        ev.cause_class = "dns-failure";
        ev.cause_peer = "relay.example.net";
        ev.cause_count = 4;
        ev.cause_first_line = "first";
        ev.cause_last_line = "last";
        ev.cause_resolver = "/var/spool/postfix/etc/resolv.conf (nameserver 192.0.2.53) differs from "
                            "/etc/resolv.conf (nameserver 127.0.0.1)";
        ev.mta_log = log;
        ev.n_mta_log = 1;

        _cleanup_free_ char *s = event_to_json(&ev);
        assert_non_null(s);
        assert_non_null(strstr(s,
                "\"by_cause\":{\"connect-failure\":12,\"dns-failure\":4},\"bounced_by_cause\":{\"dns-failure\":1}},"
                "\"cause\":{\"class\":\"dns-failure\",\"peer\":\"relay.example.net\",\"count\":4,"
                "\"first_line\":\"first\",\"last_line\":\"last\","
                "\"resolver\":\"/var/spool/postfix/etc/resolv.conf (nameserver 192.0.2.53) differs from "
                "/etc/resolv.conf (nameserver 127.0.0.1)\","
                "\"mta_log\":[\"postfix/smtp: fatal: bad numerical configuration: x = 5x\"]}}}"));

        /* only MTA log lines: a cause object without a class */
        ev.cause_class = NULL;
        ev.cause_peer = ev.cause_first_line = ev.cause_last_line = ev.cause_resolver = NULL;
        ev.cause_count = 0;
        free(s);
        s = event_to_json(&ev);
        assert_non_null(strstr(s, "\"cause\":{\"class\":null,\"peer\":null,\"count\":0,\"first_line\":null,"
                                  "\"last_line\":null,\"resolver\":null,\"mta_log\":[\"postfix/smtp: fatal: "));
}

static void test_json_nulls(void **state) {
        Event ev = fixed_event();

        ev.kind = EVENT_GAVE_UP;
        ev.incident[0] = '\0';
        ev.action = NULL;
        ev.dry_run = 1;
        ev.schedule_known = 0;
        ev.summary = "bad \xff byte";   /* not UTF-8: must not lose the alert */

        _cleanup_free_ char *s = event_to_json(&ev);
        assert_non_null(s);
        assert_string_equal(s,
                "{\"schema\":\"mta-watchdog.event/1\","
                "\"id\":\"0b4c6a7e-3f1d-4a2b-9c8d-1e2f3a4b5c6d\","
                "\"event\":\"gave_up\","
                "\"severity\":\"critical\","
                "\"incident\":null,"
                "\"time\":\"2026-11-29T23:22:15Z\","
                "\"host\":\"mx1.example.org\","
                "\"mta\":\"postfix\","
                "\"unit\":\"postfix@-.service\","
                "\"state\":\"STALLED\","
                "\"summary\":\"bad ? byte\","
                "\"action\":null,"
                "\"dry_run\":true,"
                "\"details\":{\"backlog\":42,\"oldest_age_seconds\":5400,\"overdue\":null,"
                "\"reachability\":\"up\",\"restarts_in_window\":1,"
                "\"activity\":{\"sent\":3,\"deferred\":7,\"bounced\":1,\"connection_errors\":2,"
                "\"connection_errors_to_probed_hosts\":12,\"by_cause\":{},\"bounced_by_cause\":{}},"
                "\"cause\":null}}");
        assert_null(strchr(s, '\n'));

        /* An empty action is the same as none. */
        ev.action = "";
        _cleanup_free_ char *t = event_to_json(&ev);
        assert_non_null(strstr(t, "\"action\":null,"));
}

static void check_uuid(const char *u) {
        assert_int_equal(strlen(u), 36);
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23)
                        assert_int_equal(u[i], '-');
                else
                        assert_non_null(strchr("0123456789abcdef", u[i]));
        }
        assert_int_equal(u[14], '4');                       /* version 4 */
        assert_non_null(strchr("89ab", u[19]));             /* variant 10xx */
}

static void test_uuid(void **state) {
        char a[UUID_STRING_MAX], b[UUID_STRING_MAX], seen[64][UUID_STRING_MAX];

        for (int i = 0; i < 64; i++) {
                assert_int_equal(uuid_random(a), 0);
                check_uuid(a);
                memcpy(seen[i], a, sizeof(a));
                for (int j = 0; j < i; j++)
                        assert_string_not_equal(seen[j], a);
        }
        assert_int_equal(uuid_random(b), 0);
        assert_string_not_equal(a, b);
}

static void test_rfc3339(void **state) {
        char buf[32];

        assert_string_equal(format_rfc3339(buf, 1795994535 * USEC_PER_SEC), "2026-11-29T23:22:15Z");
        assert_string_equal(format_rfc3339(buf, 0), "1970-01-01T00:00:00Z");
        assert_string_equal(format_rfc3339(buf, 946684799 * USEC_PER_SEC + 999999), "1999-12-31T23:59:59Z");
        assert_string_equal(format_rfc3339(buf, 2147483648 * USEC_PER_SEC), "2038-01-19T03:14:08Z");
}

static void test_kind_names(void **state) {
        static const char *const expected[_EVENT_KIND_MAX][2] = {
                [EVENT_OUTAGE_STARTED]      = { "outage.started", "warning" },
                [EVENT_OUTAGE_ENDED]        = { "outage.ended", "info" },
                [EVENT_STALL_DETECTED]      = { "stall.detected", "warning" },
                [EVENT_ACTION_STARTED]      = { "action.started", "info" },
                [EVENT_ACTION_SUCCEEDED]    = { "action.succeeded", "info" },
                [EVENT_ACTION_FAILED]       = { "action.failed", "critical" },
                [EVENT_RECOVERED]           = { "recovered", "info" },
                [EVENT_GAVE_UP]             = { "gave_up", "critical" },
                [EVENT_OBSERVATION_UNKNOWN] = { "observation.unknown", "warning" },
                [EVENT_MTA_STOPPED]         = { "mta.stopped", "info" },
                [EVENT_MTA_FAILED]          = { "mta.failed", "critical" },
                [EVENT_DELIVERY_DEGRADED]   = { "delivery.degraded", "warning" },
                [EVENT_ACTION_SLOW]         = { "action.slow", "warning" },
                [EVENT_MTA_DIED]            = { "mta.died", "critical" },
                [EVENT_DELIVERY_HUNG]       = { "delivery.hung", "warning" },
        };

        for (EventKind k = 0; k < _EVENT_KIND_MAX; k++) {
                assert_string_equal(event_kind_to_string(k), expected[k][0]);
                assert_string_equal(event_kind_severity(k), expected[k][1]);
                assert_int_equal(event_kind_from_string(expected[k][0]), k);
        }

        assert_null(event_kind_to_string(_EVENT_KIND_MAX));
        assert_null(event_kind_to_string(_EVENT_KIND_INVALID));
        assert_null(event_kind_severity(_EVENT_KIND_MAX));
        assert_int_equal(event_kind_from_string("stall"), _EVENT_KIND_INVALID);
        assert_int_equal(event_kind_from_string(""), _EVENT_KIND_INVALID);
        assert_int_equal(event_kind_from_string(NULL), _EVENT_KIND_INVALID);
}

static const char *const extra_message_ids[] = {
        MESSAGE_ID_STATE_CHANGED,
        MESSAGE_ID_ACTION_FINISHED,
        MESSAGE_ID_ALERT_GIVEN_UP,
};

/* Every journal MESSAGE_ID: 32 lower-case hex digits (sd_id128 form), no
 * two alike. */
static void test_message_ids(void **state) {
        const char *all[_EVENT_KIND_MAX + ELEMENTSOF(extra_message_ids)];
        size_t n = 0;

        for (EventKind k = 0; k < _EVENT_KIND_MAX; k++)
                all[n++] = event_kind_message_id(k);
        for (size_t i = 0; i < ELEMENTSOF(extra_message_ids); i++)
                all[n++] = extra_message_ids[i];

        for (size_t i = 0; i < n; i++) {
                assert_non_null(all[i]);
                assert_int_equal(strlen(all[i]), 32);
                assert_int_equal(strspn(all[i], "0123456789abcdef"), 32);
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(all[i], all[j]);
        }
        assert_null(event_kind_message_id(_EVENT_KIND_MAX));
        assert_null(event_kind_message_id(_EVENT_KIND_INVALID));

        assert_int_equal(event_kind_log_priority(EVENT_RECOVERED), LOG_NOTICE);
        assert_int_equal(event_kind_log_priority(EVENT_STALL_DETECTED), LOG_WARNING);
        assert_int_equal(event_kind_log_priority(EVENT_GAVE_UP), LOG_ERR);
}

/* units/mta-watchdog.catalog has one entry ("-- ID" line followed by a
 * Subject) for each MESSAGE_ID, and none for unknown ones. */
static void test_catalog(void **state) {
        const char *srcdir = getenv("TEST_SRCDIR");
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t entries = 0, found = 0;

        if (!srcdir)
                skip();
        assert_true(asprintf(&path, "%s/../units/mta-watchdog.catalog", srcdir) > 0);
        assert_int_equal(read_file_bounded(path, 1 << 20, &text, NULL), 0);

        for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                char id[33] = "";
                bool known = false;

                if (strncmp(p, "-- ", 3) != 0)
                        continue;
                entries++;
                memcpy(id, p + 3, MIN_OF(strcspn(p + 3, "\n"), (size_t) 32));
                for (EventKind k = 0; k < _EVENT_KIND_MAX; k++)
                        known = known || strcmp(id, event_kind_message_id(k)) == 0;
                for (size_t i = 0; i < ELEMENTSOF(extra_message_ids); i++)
                        known = known || strcmp(id, extra_message_ids[i]) == 0;
                if (!known)
                        fail_msg("catalog entry for an unknown MESSAGE_ID: %s", id);
                if (strncmp(p + 3 + 32, "\nSubject: ", 10) != 0)
                        fail_msg("catalog entry %s: no Subject line after the id", id);
                found++;
        }

        for (EventKind k = 0; k < _EVENT_KIND_MAX; k++) {
                _cleanup_free_ char *line = NULL;

                assert_true(asprintf(&line, "\n-- %s\n", event_kind_message_id(k)) > 0);
                if (!strstr(text, line))
                        fail_msg("%s (%s) has no entry in %s", event_kind_message_id(k),
                                 event_kind_to_string(k), path);
        }
        for (size_t i = 0; i < ELEMENTSOF(extra_message_ids); i++) {
                _cleanup_free_ char *line = NULL;

                assert_true(asprintf(&line, "\n-- %s\n", extra_message_ids[i]) > 0);
                if (!strstr(text, line))
                        fail_msg("%s has no entry in %s", extra_message_ids[i], path);
        }
        assert_int_equal(found, entries);
        assert_int_equal(entries, _EVENT_KIND_MAX + ELEMENTSOF(extra_message_ids));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_golden),
                cmocka_unit_test(test_json_cause),
                cmocka_unit_test(test_json_nulls),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_rfc3339),
                cmocka_unit_test(test_kind_names),
                cmocka_unit_test(test_message_ids),
                cmocka_unit_test(test_catalog),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
