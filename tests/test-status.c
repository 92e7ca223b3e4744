/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macros.h"
#include "manager.h"

#define MIN (60 * USEC_PER_SEC)
#define HOUR (60 * MIN)

static const MetricsProbe relay_up[] = { { "relay", PROBE_OK } };

static StatusInfo base(void) {
        return (StatusInfo) {
                .view = {
                        .unit = "postfix@-.service",
                        .state = DETECTOR_HEALTHY,
                        .queue_ok = true,
                        .overdue_known = true,
                        .probes = relay_up,
                        .n_probes = 1,
                },
                .reach = REACH_UP,
                .max_restarts = 3,
                .restart_window_usec = HOUR,
        };
}

static void check(const StatusInfo *s, const char *expected) {
        _cleanup_free_ char *text = NULL;

        assert_int_equal(manager_format_status(s, &text), 0);
        assert_string_equal(text, expected);
}

static void test_healthy(void **state) {
        StatusInfo s = base();

        s.view.backlog = 3;
        s.view.oldest_age_usec = 12 * USEC_PER_SEC + 700000;  /* whole seconds only */
        s.view.state_usec = 3 * HOUR;                          /* not shown while HEALTHY */
        check(&s, "postfix@-.service: HEALTHY, backlog 3 (0 overdue), oldest 12s, relay up");

        s.view.backlog = 0;
        s.view.oldest_age_usec = 0;
        check(&s, "postfix@-.service: HEALTHY, backlog 0 (0 overdue), relay up");
}

static void test_stalled(void **state) {
        StatusInfo s = base();

        s.view.state = DETECTOR_STALLED;
        s.view.state_usec = 4 * MIN + 300000;
        s.view.backlog = 20;
        s.view.overdue = 20;
        s.view.oldest_age_usec = 5 * MIN;
        s.restarts = 1;
        check(&s, "postfix@-.service: STALLED for 4m, backlog 20 (20 overdue), oldest 5m, relay up, restarts 1/3 in 1h");
}

/* While acting and after giving up the budget is shown even when none is spent. */
static void test_acting(void **state) {
        StatusInfo s = base();

        s.view.state = DETECTOR_REMEDIATING;
        s.view.state_usec = 500000;
        s.view.backlog = 20;
        s.view.overdue = 20;
        s.view.oldest_age_usec = 5 * MIN + 10 * USEC_PER_SEC;
        check(&s, "postfix@-.service: REMEDIATING for 0s, backlog 20 (20 overdue), oldest 5m10s, relay up, restarts 0/3 in 1h");

        s.view.state = DETECTOR_GAVE_UP;
        s.view.state_usec = HOUR + 90 * USEC_PER_SEC;
        s.restarts = 3;
        s.dry_run = true;
        check(&s, "postfix@-.service: GAVE_UP for 1h1m30s, backlog 20 (20 overdue), oldest 5m10s, relay up, restarts 3/3 in 1h (dry run)");
}

static void test_outage_probes(void **state) {
        const MetricsProbe probes[] = { { "relay", PROBE_FAIL }, { "backup", PROBE_UNKNOWN }, { "dns", PROBE_OK } };
        StatusInfo s = base();

        s.view.state = DETECTOR_OUTAGE;
        s.view.state_usec = 2 * MIN;
        s.view.queue_ok = false;
        s.view.probes = probes;
        s.view.n_probes = ELEMENTSOF(probes);
        s.reach = REACH_DOWN;
        check(&s, "postfix@-.service: OUTAGE for 2m, queue unknown, relay down, backup unknown, dns up");
}

/* Without reachability probes the detector's overall view is shown; without
 * the MTA's schedule no overdue count. */
static void test_no_probes(void **state) {
        StatusInfo s = base();

        s.view.probes = NULL;
        s.view.n_probes = 0;
        s.reach = REACH_UNKNOWN;
        s.view.overdue_known = false;
        s.view.backlog = 7;
        s.view.oldest_age_usec = 45 * USEC_PER_SEC;
        s.dry_run = true;
        check(&s, "postfix@-.service: HEALTHY, backlog 7, oldest 45s, reachability unknown (dry run)");
}

/* Sendmail waiting out a relay's host status: the line says why no stall. */
static void test_mta_waits(void **state) {
        StatusInfo s = base();

        s.view.unit = "sendmail.service";
        s.view.state = DETECTOR_RECOVERING;
        s.view.state_usec = 5 * MIN;
        s.view.backlog = 4;
        s.view.oldest_age_usec = 20 * MIN;
        s.view.wait_left_usec = 25 * MIN + 500000;
        s.view.wait_reason = "host status of relay.example: Deferred: Connection refused by relay.example, "
                             "trusted until 00:20:00Z (Timeout.hoststatus 30m)";
        check(&s, "sendmail.service: RECOVERING for 5m, backlog 4 (0 overdue), oldest 20m, the MTA waits 25m more "
                  "(host status of relay.example: Deferred: Connection refused by relay.example, trusted until "
                  "00:20:00Z (Timeout.hoststatus 30m)), relay up");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_healthy),
                cmocka_unit_test(test_stalled),
                cmocka_unit_test(test_acting),
                cmocka_unit_test(test_outage_probes),
                cmocka_unit_test(test_no_probes),
                cmocka_unit_test(test_mta_waits),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
