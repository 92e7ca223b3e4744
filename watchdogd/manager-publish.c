/* SPDX-License-Identifier: MIT */
/* Publishing: alerts, the STATUS= line, the metrics file and the journal
 * lines of state changes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "detect.h"
#include "log.h"
#include "manager-internal.h"
#include "mta.h"

void send_event(Manager *m, EventKind kind, DetectorState state, ActionType action, const char *summary) {
        send_event_cause(m, kind, state, action, summary, CAUSE_NONE, NULL);
}

void send_event_cause(Manager *m, EventKind kind, DetectorState state, ActionType action, const char *summary,
                      FailureCause cause, const char *peer) {
        const Config *c = m->config;
        const Observation *o = &m->last_obs;
        const Detector *d = &m->detector;
        const char *mta_log[DETECTOR_MTA_LOG_MAX];
        char resolver[512] = "";
        Event ev = {
                .kind = kind,
                .host = c->hostname,
                .mta = c->mta_name,
                .unit = c->unit,
                .time_usec = now_realtime(m),
                .state = detector_state_to_string(state),
                .summary = summary,
                .action = action >= 0 ? action_type_to_string(action) : NULL,
                .reachability = reachability_to_string(m->detector.reach),
                .backlog = o->queue_status == PROBE_OK ? o->queue.backlog : 0,
                .oldest_age_usec = o->queue_status == PROBE_OK ? o->queue.oldest_age_usec : 0,
                .restarts_in_window = detector_restarts_in_window(&m->detector, &m->params, now_monotonic(m)),
                .schedule_known = o->queue_status == PROBE_OK && o->queue.schedule_known,
                .overdue = o->queue_status == PROBE_OK ? o->queue.overdue : 0,
                .dry_run = c->dry_run,
        };
        ActivityCounts a = detector_incident_activity(&m->detector, o);
        int r;

        ev.sent = a.sent;
        ev.deferred = a.deferred;
        ev.bounced = a.bounced;
        ev.conn_errors = a.conn_errors;
        ev.conn_errors_probed = a.conn_errors_probed;
        memcpy(ev.failures_by_cause, a.failures, sizeof(ev.failures_by_cause));
        memcpy(ev.bounced_by_cause, a.bounced_by_cause, sizeof(ev.bounced_by_cause));

        /* details.cause: the class and its lines, and the MTA's own errors */
        if (cause > CAUSE_NONE && cause < _CAUSE_MAX) {
                const CauseSample *cs = &o->samples.causes[cause];

                ev.cause_class = failure_cause_to_string(cause);
                ev.cause_peer = peer && peer[0] ? peer : cs->peer;
                ev.cause_count = d->incident_open ? a.failures[cause] : o->activity.failures[cause];
                if (cause == CAUSE_MTA_INTERNAL)
                        ev.cause_count += d->incident_open ? a.mta_errors : o->activity.mta_errors;
                ev.cause_first_line = cs->first;
                ev.cause_last_line = cs->last;
                if (cause == CAUSE_DNS_FAILURE && c->profile && c->profile->resolver_view &&
                    c->profile->resolver_view(c->mta_settings, resolver, sizeof(resolver)) > 0)
                        ev.cause_resolver = resolver;
        }
        if (d->incident_open) {
                for (size_t i = 0; i < d->n_incident_log; i++)
                        mta_log[i] = d->incident_log[i];
                ev.mta_log = mta_log;
                ev.n_mta_log = d->n_incident_log;
        }

        r = uuid_random(ev.id);
        if (r < 0) {
                log_error_errno(r, "Cannot generate an event id, alert %s not sent: %m",
                                event_kind_to_string(kind));
                return;
        }
        (void) snprintf(ev.incident, sizeof(ev.incident), "%s", m->incident);

        r = alerter_send(m->alerter, &ev);
        if (r < 0)
                log_error_errno(r, "Cannot queue alert %s %s: %m", event_kind_to_string(kind), ev.id);
}

/* Whole seconds, and "0s" rather than "0". */
static const char *fmt_secs(char *buf, size_t size, uint64_t usec) {
        if (usec < USEC_PER_SEC) {
                (void) snprintf(buf, size, "0s");
                return buf;
        }
        return format_duration(buf, size, usec - usec % USEC_PER_SEC);
}

/* ", WHAT N (cause n, ...)": the counts of COUNTS minus MINUS (or NULL) by cause. */
static void status_by_cause(FILE *f, const char *what, uint64_t total, const uint64_t *counts, const uint64_t *minus) {
        bool first = true;

        fprintf(f, ", %s %" PRIu64, what, total);
        for (FailureCause c = 0; c < _CAUSE_MAX; c++) {
                uint64_t n = counts[c] - (minus ? minus[c] : 0);

                if (n == 0)
                        continue;
                fprintf(f, "%s%s %" PRIu64, first ? " (" : ", ", failure_cause_to_string(c), n);
                first = false;
        }
        if (!first)
                fputc(')', f);
}

int manager_format_status(const StatusInfo *s, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char d[FORMAT_DURATION_MAX];
        size_t size = 0;
        FILE *f;
        bool acting;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "%s", s->view.unit);
        if (s->detected)
                fprintf(f, " (%s, detected)", s->detected);
        fprintf(f, ": %s", detector_state_to_string(s->view.state));
        if (s->view.state != DETECTOR_HEALTHY)
                fprintf(f, " for %s", fmt_secs(d, sizeof(d), s->view.state_usec));

        if (!s->view.queue_ok)
                fputs(", queue unknown", f);
        else {
                fprintf(f, ", backlog %u", s->view.backlog);
                if (s->view.overdue_known)
                        fprintf(f, " (%u overdue)", s->view.overdue);
                if (s->view.backlog > 0)
                        fprintf(f, ", oldest %s", fmt_secs(d, sizeof(d), s->view.oldest_age_usec));
                /* why no stall is detected (README "How it decides") */
                if (s->view.wait_left_usec > 0 && s->view.wait_reason)
                        fprintf(f, ", the MTA waits %s more (%s)", fmt_secs(d, sizeof(d), s->view.wait_left_usec),
                                s->view.wait_reason);
        }

        if (s->view.activity_ok) {
                const ActivityCounts *a = &s->view.activity;
                uint64_t failing = 0;

                for (FailureCause c = 0; c < _CAUSE_MAX; c++)
                        failing += a->failures[c] - a->bounced_by_cause[c];
                if (failing > 0)
                        status_by_cause(f, "deferred", failing, a->failures, a->bounced_by_cause);
                if (a->bounced > 0)
                        status_by_cause(f, "bounced", a->bounced, a->bounced_by_cause, NULL);
        }

        if (s->view.n_probes == 0)
                fprintf(f, ", reachability %s", reachability_to_string(s->reach));
        for (size_t i = 0; i < s->view.n_probes; i++)
                fprintf(f, ", %s %s", s->view.probes[i].name,
                        s->view.probes[i].status == PROBE_OK ? "up" :
                        s->view.probes[i].status == PROBE_FAIL ? "down" : "unknown");

        acting = s->view.state == DETECTOR_REMEDIATING || s->view.state == DETECTOR_VERIFYING ||
                 s->view.state == DETECTOR_GAVE_UP;
        if (acting || s->restarts > 0)
                fprintf(f, ", restarts %u/%u in %s", s->restarts, s->max_restarts,
                        format_duration(d, sizeof(d), s->restart_window_usec));
        if (s->dry_run)
                fputs(" (dry run)", f);

        if (ferror(f)) {
                (void) fclose(f);
                return -ENOMEM;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The reachability probes' results of the last round; unknown before one. */
static MetricsProbe *manager_probe_results(Manager *m) {
        MetricsProbe *p = calloc(m->n_reach + 1, sizeof(MetricsProbe));

        for (size_t i = 0; p && i < m->n_reach; i++)
                p[i] = (MetricsProbe) {
                        .name = m->slots[i].probe->name,
                        .status = m->have_round ? m->slots[i].result.status : PROBE_UNKNOWN,
                };
        return p;
}

static uint64_t manager_state_usec(Manager *m) {
        uint64_t now = now_monotonic(m);
        return now > m->state_since_usec ? now - m->state_since_usec : 0;
}

/* The unit as the last round and the detector see it; PROBES from
 * manager_probe_results() (NULL when out of memory: no probes shown). */
static MtaView manager_view(Manager *m, const MetricsProbe *probes) {
        const Observation *o = &m->last_obs;

        return (MtaView) {
                .unit = m->config->unit,
                .state = m->detector.state,
                .state_usec = manager_state_usec(m),
                .queue_ok = o->queue_status == PROBE_OK,
                .backlog = o->queue.backlog,
                .oldest_age_usec = o->queue.oldest_age_usec,
                .overdue_known = o->queue.schedule_known,
                .overdue = o->queue.overdue,
                .wait_left_usec = o->queue.wait_left_usec,
                .wait_reason = o->queue.wait_left_usec > 0 ? o->queue.wait_reason : NULL,
                .probes = probes,
                .n_probes = probes ? m->n_reach : 0,
                .activity_ok = o->activity_status == PROBE_OK,
                .activity = o->activity,
        };
}

static void manager_update_status(Manager *m, const MetricsProbe *probes) {
        _cleanup_free_ char *text = NULL;
        StatusInfo si = {
                .view = manager_view(m, probes),
                .reach = m->detector.reach,
                .restarts = detector_restarts_in_window(&m->detector, &m->params, now_monotonic(m)),
                .max_restarts = m->params.max_restarts,
                .restart_window_usec = m->params.restart_window_usec,
                .dry_run = m->config->dry_run,
                .detected = m->config->type_detected && m->config->detection ? m->config->detection->mta : NULL,
        };

        if (manager_format_status(&si, &text) < 0) {
                log_debug("Out of memory formatting the status, not updated");
                return;
        }
        (void) sd_notifyf(false, "STATUS=%s", text);
}

/* Writes the metrics file, if one is configured (README "Metrics"). A
 * failing write is logged at warning once, then at debug until it works. */
static void manager_write_metrics(Manager *m, const MetricsProbe *probes) {
        _cleanup_free_ MetricsReceiver *receivers = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n_receivers = alerter_n_receivers(m->alerter);
        int r;

        if (!m->config->metrics_file || m->options.once)
                return;

        receivers = calloc(n_receivers + 1, sizeof(MetricsReceiver));
        if (!probes || !receivers) {
                log_debug("Out of memory collecting metrics, %s not updated", m->config->metrics_file);
                return;
        }
        for (size_t i = 0; i < n_receivers; i++)
                (void) alerter_receiver_stats(m->alerter, i, &receivers[i].name,
                                              &receivers[i].sent, &receivers[i].failed);

        MetricsSnapshot ms = {
                .version = PACKAGE_VERSION,
                .view = manager_view(m, probes),
                .restarts_total = m->restarts_total,
                .receivers = receivers,
                .n_receivers = n_receivers,
                .alerts_queued = m->alerter ? alerter_pending(m->alerter) : 0,
                .incidents_total = m->incidents_total,
                .last_probe_usec = m->last_round_usec,
        };
        memcpy(ms.actions_total, m->actions_total, sizeof(ms.actions_total));

        r = metrics_format(&ms, &text);
        if (r >= 0)
                r = metrics_write_file(m->config->metrics_file, text);
        if (r < 0) {
                log_full_errno(m->metrics_failing ? LOG_DEBUG : LOG_WARNING, r,
                               "Cannot write the metrics file %s, ignoring: %m", m->config->metrics_file);
                m->metrics_failing = true;
                return;
        }
        if (m->metrics_failing)
                log_info("Metrics file %s written again", m->config->metrics_file);
        m->metrics_failing = false;
}

/* After a round, a state change or a reload: the status line and the metrics file. */
void manager_publish(Manager *m) {
        _cleanup_free_ MetricsProbe *probes = manager_probe_results(m);

        manager_update_status(m, probes);
        manager_write_metrics(m, probes);
}

/* Journal fields of an event or state line (README "Status and journal"). */
void manager_log_transition(Manager *m, const Transition *t) {
        const Observation *o = &m->last_obs;
        char backlog[16];
        const char *unit = m->config->unit, *from = detector_state_to_string(t->from),
                   *to = detector_state_to_string(t->to), *ev = event_kind_to_string(t->event);
        LogField fields[] = {
                { "MTA", m->config->mta_name },
                { "UNIT", unit },
                { "STATE", to },
                { "PREVIOUS_STATE", from },
                { "BACKLOG", o->queue_status == PROBE_OK ? backlog : NULL },
                { "INCIDENT", m->incident[0] ? m->incident : NULL },
                { "EVENT", ev },
                { "ACTION", t->action >= 0 ? action_type_to_string(t->action) : NULL },
        };

        (void) snprintf(backlog, sizeof(backlog), "%u", o->queue.backlog);

        if (t->event >= 0 && t->from == t->to)
                log_struct(event_kind_log_priority(t->event), event_kind_message_id(t->event),
                           fields, ELEMENTSOF(fields), "%s: %s (%s): %s", unit, to, ev, t->reason);
        else if (t->event >= 0)
                log_struct(event_kind_log_priority(t->event), event_kind_message_id(t->event),
                           fields, ELEMENTSOF(fields), "%s: %s -> %s (%s): %s", unit, from, to, ev, t->reason);
        else
                log_struct(LOG_NOTICE, MESSAGE_ID_STATE_CHANGED,
                           fields, ELEMENTSOF(fields), "%s: %s -> %s: %s", unit, from, to, t->reason);
}
