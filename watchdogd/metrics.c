/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macros.h"
#include "metrics.h"

void metrics_write_label_value(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* NAME{unit="..." then the caller's labels, if any, and the closing brace. */
static void unit_labels(FILE *f, const char *name, const MetricsSnapshot *s) {
        fprintf(f, "%s{unit=\"", name);
        metrics_write_label_value(f, s->view.unit);
        fputc('"', f);
}

static void unit_sample(FILE *f, const char *name, const MetricsSnapshot *s, uint64_t value) {
        unit_labels(f, name, s);
        fprintf(f, "} %" PRIu64 "\n", value);
}

/* Seconds with the microseconds kept, without trailing zeros: "12", "12.5". */
static void seconds(FILE *f, uint64_t usec) {
        char frac[8];
        size_t n;

        fprintf(f, "%" PRIu64, usec / USEC_PER_SEC);
        if (usec % USEC_PER_SEC == 0)
                return;
        (void) snprintf(frac, sizeof(frac), "%06" PRIu64, usec % USEC_PER_SEC);
        for (n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
                frac[n - 1] = '\0';
        fprintf(f, ".%s", frac);
}

static void state_label(char *buf, size_t size, DetectorState st) {
        const char *s = detector_state_to_string(st);
        size_t i;

        for (i = 0; s && s[i] && i + 1 < size; i++)
                buf[i] = (char) tolower((unsigned char) s[i]);
        buf[i] = '\0';
}

static const char *probe_result(ProbeStatus st) {
        return st == PROBE_OK ? "up" : st == PROBE_FAIL ? "down" : "unknown";
}

int metrics_format(const MetricsSnapshot *s, char **ret) {
        static const char *const results[] = { "up", "down", "unknown" };
        static const char *const outcomes[] = { "succeeded", "failed" };
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        family(f, "mta_watchdog_build_info", "gauge", "Version of mta-watchdogd; the value is always 1.");
        fputs("mta_watchdog_build_info{version=\"", f);
        metrics_write_label_value(f, s->version);
        fputs("\"} 1\n", f);

        family(f, "mta_watchdog_state", "gauge", "Detector state: 1 for the current one, 0 for the others.");
        for (DetectorState st = 0; st < _DETECTOR_STATE_MAX; st++) {
                char name[32];

                state_label(name, sizeof(name), st);
                unit_labels(f, "mta_watchdog_state", s);
                fprintf(f, ",state=\"%s\"} %d\n", name, st == s->view.state);
        }

        family(f, "mta_watchdog_state_seconds", "gauge", "Seconds spent in the current detector state.");
        unit_labels(f, "mta_watchdog_state_seconds", s);
        fputs("} ", f);
        seconds(f, s->view.state_usec);
        fputc('\n', f);

        family(f, "mta_watchdog_queue_backlog", "gauge", "Messages in the MTA's queue at the last queue probe.");
        if (s->view.queue_ok)
                unit_sample(f, "mta_watchdog_queue_backlog", s, s->view.backlog);
        family(f, "mta_watchdog_queue_oldest_age_seconds", "gauge", "Age of the oldest queued message at the last queue probe.");
        if (s->view.queue_ok) {
                unit_labels(f, "mta_watchdog_queue_oldest_age_seconds", s);
                fputs("} ", f);
                seconds(f, s->view.oldest_age_usec);
                fputc('\n', f);
        }
        family(f, "mta_watchdog_queue_overdue", "gauge", "Queued messages past their next delivery attempt at the last queue probe.");
        if (s->view.queue_ok && s->view.overdue_known)
                unit_sample(f, "mta_watchdog_queue_overdue", s, s->view.overdue);
        family(f, "mta_watchdog_queue_probe_ok", "gauge", "Whether the last queue probe succeeded (1) or not (0).");
        unit_sample(f, "mta_watchdog_queue_probe_ok", s, s->view.queue_ok);

        family(f, "mta_watchdog_probe_result", "gauge", "Reachability probe result of the last round: 1 for the current one, 0 for the others.");
        for (size_t i = 0; i < s->view.n_probes; i++)
                for (size_t j = 0; j < ELEMENTSOF(results); j++) {
                        unit_labels(f, "mta_watchdog_probe_result", s);
                        fputs(",probe=\"", f);
                        metrics_write_label_value(f, s->view.probes[i].name);
                        fprintf(f, "\",result=\"%s\"} %d\n", results[j],
                                strcmp(results[j], probe_result(s->view.probes[i].status)) == 0);
                }

        family(f, "mta_watchdog_delivery_lines_total", "counter",
               "Delivery lines the MTA logged since the watchdog started, by outcome.");
        if (s->view.activity_ok) {
                const ActivityCounts *a = &s->view.activity;
                const struct {
                        const char *outcome;
                        uint64_t n;
                } lines[] = {
                        { "sent", a->sent },
                        { "deferred", a->deferred },
                        { "bounced", a->bounced },
                        { "connection_error", a->conn_errors },
                        { "connection_error_probed", a->conn_errors_probed },
                };

                for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                        unit_labels(f, "mta_watchdog_delivery_lines_total", s);
                        fprintf(f, ",outcome=\"%s\"} %" PRIu64 "\n", lines[i].outcome, lines[i].n);
                }
        }
        family(f, "mta_watchdog_delivery_failures_total", "counter",
               "Failed delivery lines the MTA logged since the watchdog started, by outcome "
               "(deferred: tried again later, connection errors included; bounced) and cause class.");
        if (s->view.activity_ok)
                for (FailureCause c = 0; c < _CAUSE_MAX; c++) {
                        const ActivityCounts *a = &s->view.activity;

                        unit_labels(f, "mta_watchdog_delivery_failures_total", s);
                        fprintf(f, ",outcome=\"deferred\",cause=\"%s\"} %" PRIu64 "\n",
                                failure_cause_to_string(c), a->failures[c] - a->bounced_by_cause[c]);
                        unit_labels(f, "mta_watchdog_delivery_failures_total", s);
                        fprintf(f, ",outcome=\"bounced\",cause=\"%s\"} %" PRIu64 "\n",
                                failure_cause_to_string(c), a->bounced_by_cause[c]);
                }

        family(f, "mta_watchdog_restarts_total", "counter", "Restarts of the unit started by the watchdog since it started.");
        unit_sample(f, "mta_watchdog_restarts_total", s, s->restarts_total);

        family(f, "mta_watchdog_actions_total", "counter", "Remediation actions finished since the watchdog started, by action and result.");
        for (ActionType a = 0; a < _ACTION_TYPE_MAX; a++)
                for (size_t j = 0; j < ELEMENTSOF(outcomes); j++) {
                        unit_labels(f, "mta_watchdog_actions_total", s);
                        fprintf(f, ",action=\"%s\",result=\"%s\"} %" PRIu64 "\n",
                                action_type_to_string(a), outcomes[j], s->actions_total[a][j]);
                }

        family(f, "mta_watchdog_alerts_sent_total", "counter", "Alerts delivered to the receiver since the watchdog started.");
        for (size_t i = 0; i < s->n_receivers; i++) {
                fputs("mta_watchdog_alerts_sent_total{receiver=\"", f);
                metrics_write_label_value(f, s->receivers[i].name);
                fprintf(f, "\"} %" PRIu64 "\n", s->receivers[i].sent);
        }
        family(f, "mta_watchdog_alerts_failed_total", "counter", "Alerts given up (refused, or undelivered for max_age) since the watchdog started.");
        for (size_t i = 0; i < s->n_receivers; i++) {
                fputs("mta_watchdog_alerts_failed_total{receiver=\"", f);
                metrics_write_label_value(f, s->receivers[i].name);
                fprintf(f, "\"} %" PRIu64 "\n", s->receivers[i].failed);
        }
        family(f, "mta_watchdog_alerts_queued", "gauge", "Alerts in the outbox waiting for delivery, over all receivers.");
        fprintf(f, "mta_watchdog_alerts_queued %" PRIu64 "\n", s->alerts_queued);

        family(f, "mta_watchdog_incidents_total", "counter", "Incidents opened since the watchdog started.");
        unit_sample(f, "mta_watchdog_incidents_total", s, s->incidents_total);

        family(f, "mta_watchdog_last_probe_timestamp_seconds", "gauge", "Unix time of the end of the last probe round.");
        if (s->last_probe_usec > 0) {
                unit_labels(f, "mta_watchdog_last_probe_timestamp_seconds", s);
                fputs("} ", f);
                seconds(f, s->last_probe_usec);
                fputc('\n', f);
        }

        r = ferror(f) ? -ENOMEM : 0;
        if (fclose(f) != 0 || r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int metrics_write_file(const char *path, const char *text) {
        _cleanup_free_ char *dir = NULL;
        const char *slash;

        if (!path || path[0] != '/')
                return -EINVAL;
        slash = strrchr(path, '/');
        if (!slash[1])
                return -EISDIR;
        dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        return write_file_replace(dir, slash + 1, text, strlen(text), 0644);
}

int metrics_retire_file(const char *old, const char *new) {
        struct stat st;

        if (!old || (new && strcmp(old, new) == 0))
                return 0;
        /* Never written (e.g. its directory is read-only): nothing to remove, no
         * error; unlink() would say EROFS rather than ENOENT there. */
        if (lstat(old, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (unlink(old) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 1;
}
