/* SPDX-License-Identifier: MIT */
/* --once: one round's observation and verdict, as text or JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "manager-internal.h"

static json_t *json_probe_counts(const ActivityCounts *a) {
        return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
                         "sent", (json_int_t) a->sent, "deferred", (json_int_t) a->deferred,
                         "bounced", (json_int_t) a->bounced, "connection_errors", (json_int_t) a->conn_errors,
                         "connection_errors_to_probed_hosts", (json_int_t) a->conn_errors_probed,
                         "by_cause", by_cause_object(a->failures),
                         "bounced_by_cause", by_cause_object(a->bounced_by_cause));
}

/* The longest hung delivery (probes/probe.h QueueStats.hung*), or null. */
static json_t *json_hung(const QueueStats *q) {
        if (q->hung == 0)
                return json_null();
        return json_pack("{s:I, s:I, s:s, s:I}", "count", (json_int_t) q->hung, "pid", (json_int_t) q->hung_pid,
                         "id", q->hung_id, "age_seconds", (json_int_t) (q->hung_age_usec / USEC_PER_SEC));
}

/* --once: the observation and the verdict, for people or (--json) programs. */
void manager_print_once(Manager *m, const Observation *obs) {
        static const char *const verdicts[] = { "healthy", "stalled", "unknown" };
        const ProbeSlot *qs = mta_slot(m, SLOT_QUEUE), *as = mta_slot(m, SLOT_ACTIVITY), *us = mta_slot(m, SLOT_UNIT);
        char why[256], w[FORMAT_DURATION_MAX];

        m->once_verdict = detector_judge_once(&m->params, obs, why, sizeof(why));
        (void) format_duration(w, sizeof(w), m->params.stall_after_usec);

        if (m->options.json) {
                json_t *root, *probes = json_array();
                char *text;

                for (size_t i = 0; probes && i < m->n_reach; i++)
                        (void) json_array_append_new(probes, json_pack("{s:s, s:s, s:s, s:s}",
                                                     "probe", m->slots[i].probe->name,
                                                     "status", probe_status_to_string(m->slots[i].result.status),
                                                     "outcome", probe_outcome_to_string(m->slots[i].result.outcome),
                                                     "reason", m->slots[i].result.reason));
                root = json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:o}",
                                 "unit", m->config->unit,
                                 "mta", m->config->mta_name,
                                 "verdict", verdicts[m->once_verdict],
                                 "exit", m->once_verdict,
                                 "reason", why,
                                 "reachability", probes ? probes : json_null(),
                                 "queue", obs->queue_status != PROBE_OK ? json_null() :
                                 json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:I, s:o, s:I, s:o}",
                                           "backlog", (json_int_t) obs->queue.backlog,
                                           "incoming", (json_int_t) obs->queue.incoming,
                                           "active", (json_int_t) obs->queue.active,
                                           "deferred", (json_int_t) obs->queue.deferred,
                                           "maildrop", (json_int_t) obs->queue.maildrop,
                                           "oldest_age_seconds", (json_int_t) (obs->queue.oldest_age_usec / USEC_PER_SEC),
                                           "oldest_id", obs->queue.oldest_id,
                                           "overdue", obs->queue.schedule_known ?
                                                      json_integer((json_int_t) obs->queue.overdue) : json_null(),
                                           /* where the schedule came from: "file-times",
                                            * "retry-db", "msglog"; null: none */
                                           "schedule_source", obs->queue.schedule_known ?
                                                      json_string(obs->queue.schedule_source) : json_null(),
                                           "frozen", (json_int_t) obs->queue.frozen,
                                           "hung", json_hung(&obs->queue),
                                           /* the MTA waits by its own rule (Sendmail's
                                            * host status); 0 and null: it does not */
                                           "wait_left_seconds", (json_int_t) (obs->queue.wait_left_usec / USEC_PER_SEC),
                                           "wait_reason", obs->queue.wait_left_usec > 0 ?
                                                      json_string(obs->queue.wait_reason) : json_null()),
                                 "activity", obs->activity_status != PROBE_OK ? json_null() :
                                             json_probe_counts(&obs->activity),
                                 "unit_state", obs->unit_status != PROBE_OK ? json_null() :
                                 json_pack("{s:s, s:s, s:s, s:I}",
                                           "active_state", obs->unit.active_state,
                                           "sub_state", obs->unit.sub_state,
                                           "result", obs->unit.result,
                                           "main_pid", (json_int_t) obs->unit.main_pid));
                text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
                if (text)
                        printf("%s\n", text);
                else
                        log_error("Cannot format the result as JSON");
                free(text);
                json_decref(root);
                return;
        }

        printf("%s (%s): %s\n", m->config->unit, m->config->mta_name, verdicts[m->once_verdict]);
        printf("  reason:       %s\n", why);
        for (size_t i = 0; i < m->n_reach; i++)
                printf("  probe %-6s  %s: %s\n", m->slots[i].probe->name,
                       probe_status_to_string(m->slots[i].result.status), m->slots[i].result.reason);
        printf("  queue:        %s: %s\n", probe_status_to_string(qs->result.status), qs->result.reason);
        printf("  activity:     %s (last %s): %s\n", probe_status_to_string(as->result.status), w, as->result.reason);
        printf("  unit:         %s: %s\n", probe_status_to_string(us->result.status), us->result.reason);
}
