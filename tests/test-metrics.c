/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fileio.h"
#include "macros.h"
#include "metrics.h"

/* A stalled unit after one restart: every family with samples. */
static void test_format_full(void **state) {
        MetricsProbe probes[] = { { "relay", PROBE_OK }, { "dns", PROBE_FAIL } };
        MetricsReceiver receivers[] = { { "ops", 3, 1 }, { "pager\"x", 0, 0 } };
        MetricsSnapshot s = {
                .version = "0.1.0",
                .view = {
                        .unit = "postfix@-.service",
                        .state = DETECTOR_STALLED,
                        .state_usec = 240 * USEC_PER_SEC + 500000,
                        .queue_ok = true,
                        .backlog = 20,
                        .oldest_age_usec = 300 * USEC_PER_SEC,
                        .overdue_known = true,
                        .overdue = 20,
                        .probes = probes,
                        .n_probes = ELEMENTSOF(probes),
                        .activity_ok = true,
                        .activity = {
                                .sent = 5, .deferred = 2, .bounced = 3, .conn_errors = 1, .conn_errors_probed = 4,
                                .failures = { [CAUSE_DNS_FAILURE] = 3, [CAUSE_CONNECT_FAILURE] = 5,
                                              [CAUSE_DEFERRED_REMOTE] = 2 },
                                .bounced_by_cause = { [CAUSE_DNS_FAILURE] = 3 },
                        },
                },
                .restarts_total = 1,
                .actions_total = { [ACTION_RESTART] = { 1, 0 } },
                .receivers = receivers,
                .n_receivers = ELEMENTSOF(receivers),
                .alerts_queued = 2,
                .incidents_total = 1,
                .last_probe_usec = 1795994535 * USEC_PER_SEC + 250000,
        };
        _cleanup_free_ char *text = NULL;

        assert_int_equal(metrics_format(&s, &text), 0);
        assert_string_equal(text,
                "# HELP mta_watchdog_build_info Version of mta-watchdogd; the value is always 1.\n"
                "# TYPE mta_watchdog_build_info gauge\n"
                "mta_watchdog_build_info{version=\"0.1.0\"} 1\n"
                "# HELP mta_watchdog_state Detector state: 1 for the current one, 0 for the others.\n"
                "# TYPE mta_watchdog_state gauge\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"healthy\"} 0\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"outage\"} 0\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"recovering\"} 0\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"stalled\"} 1\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"remediating\"} 0\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"verifying\"} 0\n"
                "mta_watchdog_state{unit=\"postfix@-.service\",state=\"gave_up\"} 0\n"
                "# HELP mta_watchdog_state_seconds Seconds spent in the current detector state.\n"
                "# TYPE mta_watchdog_state_seconds gauge\n"
                "mta_watchdog_state_seconds{unit=\"postfix@-.service\"} 240.5\n"
                "# HELP mta_watchdog_queue_backlog Messages in the MTA's queue at the last queue probe.\n"
                "# TYPE mta_watchdog_queue_backlog gauge\n"
                "mta_watchdog_queue_backlog{unit=\"postfix@-.service\"} 20\n"
                "# HELP mta_watchdog_queue_oldest_age_seconds Age of the oldest queued message at the last queue probe.\n"
                "# TYPE mta_watchdog_queue_oldest_age_seconds gauge\n"
                "mta_watchdog_queue_oldest_age_seconds{unit=\"postfix@-.service\"} 300\n"
                "# HELP mta_watchdog_queue_overdue Queued messages past their next delivery attempt at the last queue probe.\n"
                "# TYPE mta_watchdog_queue_overdue gauge\n"
                "mta_watchdog_queue_overdue{unit=\"postfix@-.service\"} 20\n"
                "# HELP mta_watchdog_queue_probe_ok Whether the last queue probe succeeded (1) or not (0).\n"
                "# TYPE mta_watchdog_queue_probe_ok gauge\n"
                "mta_watchdog_queue_probe_ok{unit=\"postfix@-.service\"} 1\n"
                "# HELP mta_watchdog_probe_result Reachability probe result of the last round: 1 for the current one, 0 for the others.\n"
                "# TYPE mta_watchdog_probe_result gauge\n"
                "mta_watchdog_probe_result{unit=\"postfix@-.service\",probe=\"relay\",result=\"up\"} 1\n"
                "mta_watchdog_probe_result{unit=\"postfix@-.service\",probe=\"relay\",result=\"down\"} 0\n"
                "mta_watchdog_probe_result{unit=\"postfix@-.service\",probe=\"relay\",result=\"unknown\"} 0\n"
                "mta_watchdog_probe_result{unit=\"postfix@-.service\",probe=\"dns\",result=\"up\"} 0\n"
                "mta_watchdog_probe_result{unit=\"postfix@-.service\",probe=\"dns\",result=\"down\"} 1\n"
                "mta_watchdog_probe_result{unit=\"postfix@-.service\",probe=\"dns\",result=\"unknown\"} 0\n"
                "# HELP mta_watchdog_delivery_lines_total Delivery lines the MTA logged since the watchdog started, by outcome.\n"
                "# TYPE mta_watchdog_delivery_lines_total counter\n"
                "mta_watchdog_delivery_lines_total{unit=\"postfix@-.service\",outcome=\"sent\"} 5\n"
                "mta_watchdog_delivery_lines_total{unit=\"postfix@-.service\",outcome=\"deferred\"} 2\n"
                "mta_watchdog_delivery_lines_total{unit=\"postfix@-.service\",outcome=\"bounced\"} 3\n"
                "mta_watchdog_delivery_lines_total{unit=\"postfix@-.service\",outcome=\"connection_error\"} 1\n"
                "mta_watchdog_delivery_lines_total{unit=\"postfix@-.service\",outcome=\"connection_error_probed\"} 4\n"
                "# HELP mta_watchdog_delivery_failures_total Failed delivery lines the MTA logged since the watchdog started, by outcome (deferred: tried again later, connection errors included; bounced) and cause class.\n"
                "# TYPE mta_watchdog_delivery_failures_total counter\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"none\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"none\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"deferred-remote\"} 2\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"deferred-remote\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"connect-failure\"} 5\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"connect-failure\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"dns-failure\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"dns-failure\"} 3\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"tls-failure\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"tls-failure\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"protocol-timeout\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"protocol-timeout\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"local-resource\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"local-resource\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"deferred\",cause=\"mta-internal\"} 0\n"
                "mta_watchdog_delivery_failures_total{unit=\"postfix@-.service\",outcome=\"bounced\",cause=\"mta-internal\"} 0\n"
                "# HELP mta_watchdog_restarts_total Restarts of the unit started by the watchdog since it started.\n"
                "# TYPE mta_watchdog_restarts_total counter\n"
                "mta_watchdog_restarts_total{unit=\"postfix@-.service\"} 1\n"
                "# HELP mta_watchdog_actions_total Remediation actions finished since the watchdog started, by action and result.\n"
                "# TYPE mta_watchdog_actions_total counter\n"
                "mta_watchdog_actions_total{unit=\"postfix@-.service\",action=\"flush\",result=\"succeeded\"} 0\n"
                "mta_watchdog_actions_total{unit=\"postfix@-.service\",action=\"flush\",result=\"failed\"} 0\n"
                "mta_watchdog_actions_total{unit=\"postfix@-.service\",action=\"restart\",result=\"succeeded\"} 1\n"
                "mta_watchdog_actions_total{unit=\"postfix@-.service\",action=\"restart\",result=\"failed\"} 0\n"
                "# HELP mta_watchdog_alerts_sent_total Alerts delivered to the receiver since the watchdog started.\n"
                "# TYPE mta_watchdog_alerts_sent_total counter\n"
                "mta_watchdog_alerts_sent_total{receiver=\"ops\"} 3\n"
                "mta_watchdog_alerts_sent_total{receiver=\"pager\\\"x\"} 0\n"
                "# HELP mta_watchdog_alerts_failed_total Alerts given up (refused, or undelivered for max_age) since the watchdog started.\n"
                "# TYPE mta_watchdog_alerts_failed_total counter\n"
                "mta_watchdog_alerts_failed_total{receiver=\"ops\"} 1\n"
                "mta_watchdog_alerts_failed_total{receiver=\"pager\\\"x\"} 0\n"
                "# HELP mta_watchdog_alerts_queued Alerts in the outbox waiting for delivery, over all receivers.\n"
                "# TYPE mta_watchdog_alerts_queued gauge\n"
                "mta_watchdog_alerts_queued 2\n"
                "# HELP mta_watchdog_incidents_total Incidents opened since the watchdog started.\n"
                "# TYPE mta_watchdog_incidents_total counter\n"
                "mta_watchdog_incidents_total{unit=\"postfix@-.service\"} 1\n"
                "# HELP mta_watchdog_last_probe_timestamp_seconds Unix time of the end of the last probe round.\n"
                "# TYPE mta_watchdog_last_probe_timestamp_seconds gauge\n"
                "mta_watchdog_last_probe_timestamp_seconds{unit=\"postfix@-.service\"} 1795994535.25\n");
}

/* Nothing known yet: the queue gauges, probe results, receivers and the
 * timestamp have no samples, but every family keeps HELP and TYPE; the
 * counters are there at 0. */
static void test_format_empty(void **state) {
        MetricsSnapshot s = {
                .version = "0.1.0",
                .view = {
                        .unit = "exim4.service",
                        .state = DETECTOR_HEALTHY,
                },
        };
        _cleanup_free_ char *text = NULL;

        assert_int_equal(metrics_format(&s, &text), 0);
        assert_string_equal(text,
                "# HELP mta_watchdog_build_info Version of mta-watchdogd; the value is always 1.\n"
                "# TYPE mta_watchdog_build_info gauge\n"
                "mta_watchdog_build_info{version=\"0.1.0\"} 1\n"
                "# HELP mta_watchdog_state Detector state: 1 for the current one, 0 for the others.\n"
                "# TYPE mta_watchdog_state gauge\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"healthy\"} 1\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"outage\"} 0\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"recovering\"} 0\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"stalled\"} 0\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"remediating\"} 0\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"verifying\"} 0\n"
                "mta_watchdog_state{unit=\"exim4.service\",state=\"gave_up\"} 0\n"
                "# HELP mta_watchdog_state_seconds Seconds spent in the current detector state.\n"
                "# TYPE mta_watchdog_state_seconds gauge\n"
                "mta_watchdog_state_seconds{unit=\"exim4.service\"} 0\n"
                "# HELP mta_watchdog_queue_backlog Messages in the MTA's queue at the last queue probe.\n"
                "# TYPE mta_watchdog_queue_backlog gauge\n"
                "# HELP mta_watchdog_queue_oldest_age_seconds Age of the oldest queued message at the last queue probe.\n"
                "# TYPE mta_watchdog_queue_oldest_age_seconds gauge\n"
                "# HELP mta_watchdog_queue_overdue Queued messages past their next delivery attempt at the last queue probe.\n"
                "# TYPE mta_watchdog_queue_overdue gauge\n"
                "# HELP mta_watchdog_queue_probe_ok Whether the last queue probe succeeded (1) or not (0).\n"
                "# TYPE mta_watchdog_queue_probe_ok gauge\n"
                "mta_watchdog_queue_probe_ok{unit=\"exim4.service\"} 0\n"
                "# HELP mta_watchdog_probe_result Reachability probe result of the last round: 1 for the current one, 0 for the others.\n"
                "# TYPE mta_watchdog_probe_result gauge\n"
                "# HELP mta_watchdog_delivery_lines_total Delivery lines the MTA logged since the watchdog started, by outcome.\n"
                "# TYPE mta_watchdog_delivery_lines_total counter\n"
                "# HELP mta_watchdog_delivery_failures_total Failed delivery lines the MTA logged since the watchdog started, by outcome (deferred: tried again later, connection errors included; bounced) and cause class.\n"
                "# TYPE mta_watchdog_delivery_failures_total counter\n"
                "# HELP mta_watchdog_restarts_total Restarts of the unit started by the watchdog since it started.\n"
                "# TYPE mta_watchdog_restarts_total counter\n"
                "mta_watchdog_restarts_total{unit=\"exim4.service\"} 0\n"
                "# HELP mta_watchdog_actions_total Remediation actions finished since the watchdog started, by action and result.\n"
                "# TYPE mta_watchdog_actions_total counter\n"
                "mta_watchdog_actions_total{unit=\"exim4.service\",action=\"flush\",result=\"succeeded\"} 0\n"
                "mta_watchdog_actions_total{unit=\"exim4.service\",action=\"flush\",result=\"failed\"} 0\n"
                "mta_watchdog_actions_total{unit=\"exim4.service\",action=\"restart\",result=\"succeeded\"} 0\n"
                "mta_watchdog_actions_total{unit=\"exim4.service\",action=\"restart\",result=\"failed\"} 0\n"
                "# HELP mta_watchdog_alerts_sent_total Alerts delivered to the receiver since the watchdog started.\n"
                "# TYPE mta_watchdog_alerts_sent_total counter\n"
                "# HELP mta_watchdog_alerts_failed_total Alerts given up (refused, or undelivered for max_age) since the watchdog started.\n"
                "# TYPE mta_watchdog_alerts_failed_total counter\n"
                "# HELP mta_watchdog_alerts_queued Alerts in the outbox waiting for delivery, over all receivers.\n"
                "# TYPE mta_watchdog_alerts_queued gauge\n"
                "mta_watchdog_alerts_queued 0\n"
                "# HELP mta_watchdog_incidents_total Incidents opened since the watchdog started.\n"
                "# TYPE mta_watchdog_incidents_total counter\n"
                "mta_watchdog_incidents_total{unit=\"exim4.service\"} 0\n"
                "# HELP mta_watchdog_last_probe_timestamp_seconds Unix time of the end of the last probe round.\n"
                "# TYPE mta_watchdog_last_probe_timestamp_seconds gauge\n");
}

static char *escaped(const char *in) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        metrics_write_label_value(f, in);
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void test_escape(void **state) {
        _cleanup_free_ char *a = escaped("plain-unit@x.service"),
                            *b = escaped("a\\b\"c\nd"),
                            *c = escaped(""),
                            *d = escaped("\\\\\n\n\"");

        assert_string_equal(a, "plain-unit@x.service");
        assert_string_equal(b, "a\\\\b\\\"c\\nd");
        assert_string_equal(c, "");
        assert_string_equal(d, "\\\\\\\\\\n\\n\\\"");
}

/* The formatter escapes label values in every place they appear. */
static void test_format_escapes_labels(void **state) {
        MetricsProbe probes[] = { { "re\nlay", PROBE_UNKNOWN } };
        MetricsSnapshot s = {
                .version = "0.1.0",
                .view = {
                        .unit = "we\"ird\\.service",
                        .probes = probes,
                        .n_probes = 1,
                },
        };
        _cleanup_free_ char *text = NULL;

        assert_int_equal(metrics_format(&s, &text), 0);
        assert_non_null(strstr(text, "mta_watchdog_state{unit=\"we\\\"ird\\\\.service\",state=\"healthy\"} 1\n"));
        assert_non_null(strstr(text, "mta_watchdog_probe_result{unit=\"we\\\"ird\\\\.service\",probe=\"re\\nlay\",result=\"unknown\"} 1\n"));
        assert_null(strstr(text, "re\nlay"));
}

static void test_write_file(void **state) {
        char dir[] = "/tmp/test-metrics.XXXXXX";
        _cleanup_free_ char *path = NULL, *cmd = NULL, *back = NULL;
        struct stat st;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/metrics.prom", dir) > 0);

        assert_int_equal(metrics_write_file(path, "a 1\n"), 0);
        assert_int_equal(metrics_write_file(path, "mta_watchdog_alerts_queued 0\n"), 0);
        assert_int_equal(read_file_bounded(path, 4096, &back, NULL), 0);
        assert_string_equal(back, "mta_watchdog_alerts_queued 0\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);

        assert_int_equal(metrics_write_file("metrics.prom", "x"), -EINVAL);
        assert_int_equal(metrics_write_file("/tmp/", "x"), -EISDIR);

        assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        assert_int_equal(system(cmd), 0);
}

/* A reload that moves or drops metrics_file removes the old file: node_exporter
 * would otherwise keep serving its last values (a stale state forever). */
static void test_retire_file(void **state) {
        char dir[] = "/tmp/test-metrics.XXXXXX";
        _cleanup_free_ char *a = NULL, *b = NULL, *cmd = NULL;
        struct stat st;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&a, "%s/a.prom", dir) > 0);
        assert_true(asprintf(&b, "%s/b.prom", dir) > 0);

        assert_int_equal(metrics_retire_file(NULL, b), 0);
        assert_int_equal(metrics_retire_file(NULL, NULL), 0);
        /* never written (its directory missing or read-only): nothing to report */
        assert_int_equal(metrics_retire_file("/nonexistent-test-metrics/x.prom", b), 0);

        assert_int_equal(metrics_write_file(a, "x 1\n"), 0);
        assert_int_equal(metrics_retire_file(a, a), 0);           /* unchanged: kept */
        assert_int_equal(stat(a, &st), 0);
        assert_int_equal(metrics_retire_file(a, b), 1);           /* moved: old removed */
        assert_int_equal(stat(a, &st), -1);
        assert_int_equal(metrics_retire_file(a, b), 0);           /* already gone */

        assert_int_equal(metrics_write_file(b, "x 1\n"), 0);
        assert_int_equal(metrics_retire_file(b, NULL), 1);        /* dropped: removed */
        assert_int_equal(stat(b, &st), -1);

        assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_full),
                cmocka_unit_test(test_format_empty),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_format_escapes_labels),
                cmocka_unit_test(test_write_file),
                cmocka_unit_test(test_retire_file),
        };

        (void) umask(022);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
