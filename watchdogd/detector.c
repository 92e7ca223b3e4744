/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "detector.h"
#include "log.h"
#include "mta.h"

static const char *const state_names[_DETECTOR_STATE_MAX] = {
        [DETECTOR_HEALTHY] = "HEALTHY",
        [DETECTOR_OUTAGE] = "OUTAGE",
        [DETECTOR_RECOVERING] = "RECOVERING",
        [DETECTOR_STALLED] = "STALLED",
        [DETECTOR_REMEDIATING] = "REMEDIATING",
        [DETECTOR_VERIFYING] = "VERIFYING",
        [DETECTOR_GAVE_UP] = "GAVE_UP",
};

const char *detector_state_to_string(DetectorState s) {
        if (s < 0 || s >= _DETECTOR_STATE_MAX)
                return NULL;
        return state_names[s];
}

static const char *const reach_names[_REACH_MAX] = {
        [REACH_UNKNOWN] = "unknown",
        [REACH_UP] = "up",
        [REACH_DOWN] = "down",
};

const char *reachability_to_string(Reachability r) {
        if (r < 0 || r >= _REACH_MAX)
                return NULL;
        return reach_names[r];
}

void detector_params_from_config(DetectorParams *p, const Config *c) {
        *p = (DetectorParams) {
                .fail_threshold = c->fail_threshold,
                .ok_threshold = c->ok_threshold,
                .restore_grace_usec = c->restore_grace_usec,
                .stall_after_usec = c->stall_after_usec,
                .verify_after_usec = c->verify_after_usec,
                .min_backlog = c->min_backlog,
                .n_actions = c->n_actions,
                .max_restarts = c->max_restarts,
                .restart_window_usec = c->restart_window_usec,
                .unknown_alert_after_usec = c->unknown_alert_after_usec,
                .outage_alert_after_usec = c->outage_alert_after_usec,
                .giveup_holddown_usec = c->giveup_holddown_usec,
                .degraded_after_usec = c->degraded_after_usec,
                .flush_on_restore = c->flush_on_restore,
                .kill_hung_deliveries = c->kill_hung_deliveries,
                .conservative = c->profile && c->profile->conservative,
                .hung_start_after_usec = c->profile && c->profile->hung_start_after ?
                                         c->profile->hung_start_after(c->mta_settings) : 0,
        };
        memcpy(p->actions, c->actions, sizeof(p->actions));
}

void detector_init(Detector *d, uint64_t now_usec) {
        *d = (Detector) {
                .state = DETECTOR_HEALTHY,
                .reach = REACH_UNKNOWN,
                .reach_since_usec = now_usec,
                .last_progress_usec = now_usec,
                .last_delivery_usec = now_usec,
        };
}

static uint64_t elapsed(uint64_t now, uint64_t since) {
        return now > since ? now - since : 0;
}

#define NO_EVENT _EVENT_KIND_INVALID

/* Every transition the code below records, as (from, to, event); NO_EVENT: no
 * alert. Rows whose from and to are equal report something without a state
 * change. STALLED is never the state a call begins in (enter_stalled() moves
 * on at once), so it reports nothing of its own. README "How it decides"
 * shows this table; tests/test-detector.c takes every row and checks that
 * nothing else happens. */
static const DetectorTransitionRule transition_table[] = {
        /* update_unit(): a unit change that is not ours, in any state a
         * round begins in, except while our own action runs */
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_MTA_STOPPED },
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_MTA_FAILED },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_MTA_STOPPED },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_MTA_FAILED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_MTA_STOPPED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_MTA_FAILED },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_MTA_STOPPED },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_MTA_FAILED },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_MTA_STOPPED },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_MTA_FAILED },

        /* check_degraded(): failures a restart cannot fix, once per run */
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_DELIVERY_DEGRADED },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_DELIVERY_DEGRADED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_DELIVERY_DEGRADED },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_DELIVERY_DEGRADED },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_DELIVERY_DEGRADED },

        /* check_died(): the daemon of an active unit is gone, once per death */
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_MTA_DIED },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_MTA_DIED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_MTA_DIED },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_MTA_DIED },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_MTA_DIED },

        /* check_hung(): a hung delivery, once per holder process */
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_DELIVERY_HUNG },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_DELIVERY_HUNG },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_DELIVERY_HUNG },
        { DETECTOR_REMEDIATING, DETECTOR_REMEDIATING, EVENT_DELIVERY_HUNG },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_DELIVERY_HUNG },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_DELIVERY_HUNG },

        /* check_unknown(): in any state a round begins in */
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_OBSERVATION_UNKNOWN },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_OBSERVATION_UNKNOWN },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_OBSERVATION_UNKNOWN },
        { DETECTOR_REMEDIATING, DETECTOR_REMEDIATING, EVENT_OBSERVATION_UNKNOWN },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_OBSERVATION_UNKNOWN },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_OBSERVATION_UNKNOWN },

        /* detector_step(), HEALTHY and RECOVERING; enter_outage() alerts
         * at once only with outage_alert_after = 0 */
        { DETECTOR_HEALTHY,     DETECTOR_OUTAGE,      EVENT_OUTAGE_STARTED },
        { DETECTOR_HEALTHY,     DETECTOR_OUTAGE,      NO_EVENT },
        { DETECTOR_HEALTHY,     DETECTOR_STALLED,     EVENT_STALL_DETECTED },
        { DETECTOR_RECOVERING,  DETECTOR_OUTAGE,      EVENT_OUTAGE_STARTED },
        { DETECTOR_RECOVERING,  DETECTOR_OUTAGE,      NO_EVENT },
        { DETECTOR_RECOVERING,  DETECTOR_STALLED,     EVENT_STALL_DETECTED },
        { DETECTOR_RECOVERING,  DETECTOR_HEALTHY,     NO_EVENT },

        /* enter_died() → begin_step(): the daemon is dead, the restart
         * starts or the budget says no; during an outage too */
        { DETECTOR_HEALTHY,     DETECTOR_REMEDIATING, EVENT_ACTION_STARTED },
        { DETECTOR_HEALTHY,     DETECTOR_GAVE_UP,     EVENT_GAVE_UP },
        { DETECTOR_OUTAGE,      DETECTOR_REMEDIATING, EVENT_ACTION_STARTED },
        { DETECTOR_OUTAGE,      DETECTOR_GAVE_UP,     EVENT_GAVE_UP },
        { DETECTOR_RECOVERING,  DETECTOR_REMEDIATING, EVENT_ACTION_STARTED },
        { DETECTOR_RECOVERING,  DETECTOR_GAVE_UP,     EVENT_GAVE_UP },

        /* restore_flush(): flush_on_restore when an outage ends, or not
         * (budget spent); its end is reported wherever it ends */
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_ACTION_STARTED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  NO_EVENT },
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_ACTION_SUCCEEDED },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_ACTION_SUCCEEDED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_ACTION_SUCCEEDED },
        { DETECTOR_HEALTHY,     DETECTOR_HEALTHY,     EVENT_ACTION_FAILED },
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_ACTION_FAILED },
        { DETECTOR_RECOVERING,  DETECTOR_RECOVERING,  EVENT_ACTION_FAILED },

        /* detector_step(), OUTAGE: outage.ended only after outage.started */
        { DETECTOR_OUTAGE,      DETECTOR_OUTAGE,      EVENT_OUTAGE_STARTED },
        { DETECTOR_OUTAGE,      DETECTOR_RECOVERING,  EVENT_OUTAGE_ENDED },
        { DETECTOR_OUTAGE,      DETECTOR_RECOVERING,  NO_EVENT },

        /* begin_step() from enter_stalled(): the unit runs (stalled()
         * requires it), so the step starts or the budget says no */
        { DETECTOR_STALLED,     DETECTOR_REMEDIATING, EVENT_ACTION_STARTED },
        { DETECTOR_STALLED,     DETECTOR_GAVE_UP,     EVENT_GAVE_UP },

        /* detector_action_done(); then begin_step() for the next step (the
         * unit is not looked at while an action runs) */
        { DETECTOR_REMEDIATING, DETECTOR_VERIFYING,   NO_EVENT },
        { DETECTOR_REMEDIATING, DETECTOR_REMEDIATING, EVENT_ACTION_FAILED },
        { DETECTOR_REMEDIATING, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED },
        { DETECTOR_REMEDIATING, DETECTOR_GAVE_UP,     EVENT_GAVE_UP },
        /* detector_action_slow(): once per step, the job is still awaited */
        { DETECTOR_REMEDIATING, DETECTOR_REMEDIATING, EVENT_ACTION_SLOW },

        /* detector_step(), VERIFYING; after action.failed begin_step() goes
         * on, or drops the incident when the unit stopped or failed */
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_ACTION_SUCCEEDED },
        { DETECTOR_VERIFYING,   DETECTOR_HEALTHY,     EVENT_RECOVERED },
        { DETECTOR_VERIFYING,   DETECTOR_OUTAGE,      EVENT_OUTAGE_STARTED },
        { DETECTOR_VERIFYING,   DETECTOR_OUTAGE,      NO_EVENT },
        { DETECTOR_VERIFYING,   DETECTOR_VERIFYING,   EVENT_ACTION_FAILED },
        { DETECTOR_VERIFYING,   DETECTOR_REMEDIATING, EVENT_ACTION_STARTED },
        { DETECTOR_VERIFYING,   DETECTOR_GAVE_UP,     EVENT_GAVE_UP },
        { DETECTOR_VERIFYING,   DETECTOR_HEALTHY,     NO_EVENT },

        /* detector_step(), GAVE_UP; detector_reset() */
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_OUTAGE_STARTED },
        { DETECTOR_GAVE_UP,     DETECTOR_GAVE_UP,     EVENT_OUTAGE_ENDED },
        { DETECTOR_GAVE_UP,     DETECTOR_HEALTHY,     EVENT_RECOVERED },
        { DETECTOR_GAVE_UP,     DETECTOR_HEALTHY,     NO_EVENT },
};

const DetectorTransitionRule *detector_transition_table(size_t *n) {
        *n = ELEMENTSOF(transition_table);
        return transition_table;
}

bool detector_transition_allowed(DetectorState from, DetectorState to, EventKind event) {
        for (size_t i = 0; i < ELEMENTSOF(transition_table); i++)
                if (transition_table[i].from == from && transition_table[i].to == to &&
                    transition_table[i].event == event)
                        return true;
        return false;
}

/* Durations in reasons are read by people: whole seconds are enough. */
static void fmt_secs(char *buf, size_t size, uint64_t usec) {
        (void) format_duration(buf, size, usec - usec % USEC_PER_SEC);
}

/* The time of the call being handled (set by each entry point). */
static uint64_t now_of(const Detector *d) {
        return d->now_usec;
}

/* Names CAUSE and PEER in the last transition of OUT. */
static void set_cause(DetectorOutput *out, FailureCause cause, const char *peer) {
        Transition *t;

        if (out->n_transitions == 0)
                return;
        t = &out->transitions[out->n_transitions - 1];
        t->cause = cause;
        (void) snprintf(t->peer, sizeof(t->peer), "%s", peer ?: "");
}

/* "dns-failure at relay.example" or "dns-failure", for reasons. */
static const char *cause_text(char *buf, size_t size, FailureCause c, const char *peer) {
        if (peer && peer[0])
                (void) snprintf(buf, size, "%s at %s", failure_cause_to_string(c), peer);
        else
                (void) snprintf(buf, size, "%s", failure_cause_to_string(c));
        return buf;
}

_printf_(5, 6)
static void transition(Detector *d, DetectorOutput *out, DetectorState to, EventKind ev,
                       const char *fmt, ...) {
        Transition *t;
        va_list ap;

        if (out->n_transitions >= DETECTOR_TRANSITIONS_MAX)
                return; /* cannot happen: fewer transitions per call */

        if (!detector_transition_allowed(d->state, to, ev)) {
                /* The code and transition_table[] disagree: a bug here. A
                 * watchdog that aborts stops watching, so release builds
                 * (NDEBUG) say so and record the transition all the same. */
                log_error("detector: transition %s -> %s (%s) is not in the transition table",
                          detector_state_to_string(d->state), detector_state_to_string(to),
                          event_kind_to_string(ev) ?: "no event");
                assert(!"detector transition missing from transition_table[]");
        }

        t = &out->transitions[out->n_transitions++];
        *t = (Transition) {
                .from = d->state,
                .to = to,
                .event = ev,
                .action = _ACTION_TYPE_INVALID,
                .cause = d->incident_open ? d->incident_cause : CAUSE_NONE,
        };
        if (d->incident_open)
                (void) snprintf(t->peer, sizeof(t->peer), "%s", d->incident_peer);
        va_start(ap, fmt);
        (void) vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
        va_end(ap);

        if (!d->incident_open && (to != DETECTOR_HEALTHY || d->open_incident)) {
                d->incident_open = true;
                d->incident_activity = d->last_activity;
                d->incident_started_usec = now_of(d);
                d->incident_cause = CAUSE_NONE;
                d->incident_peer[0] = 0;
                d->gave_up_cause = CAUSE_NONE;
                d->n_incident_log = 0;
                t->opens_incident = out->incident_opened = true;
        }
        d->open_incident = false;
        if (to == DETECTOR_HEALTHY && d->state != DETECTOR_HEALTHY && d->incident_open) {
                d->incident_open = false;
                d->died_incident = false;
                t->closes_incident = out->incident_closed = true;
        }
        d->state = to;
}

static void prune_restarts(Detector *d, const DetectorParams *p, uint64_t now) {
        size_t keep = 0;

        for (size_t i = 0; i < d->n_restarts; i++)
                if (elapsed(now, d->restarts_usec[i]) < p->restart_window_usec)
                        d->restarts_usec[keep++] = d->restarts_usec[i];
        d->n_restarts = keep;
}

unsigned detector_restarts_in_window(const Detector *d, const DetectorParams *p, uint64_t now_usec) {
        unsigned n = 0;

        for (size_t i = 0; i < d->n_restarts; i++)
                if (elapsed(now_usec, d->restarts_usec[i]) < p->restart_window_usec)
                        n++;
        return n;
}

/* Starts ladder step d->step, or gives up when the ladder or the restart
 * budget is spent. */
static void begin_step(Detector *d, const DetectorParams *p, uint64_t now, DetectorOutput *out) {
        char w[FORMAT_DURATION_MAX];
        ActionType a;

        if (d->step >= p->n_actions) {
                d->gave_up_usec = now;
                transition(d, out, DETECTOR_GAVE_UP, EVENT_GAVE_UP,
                           "all %zu remediation steps tried without progress", p->n_actions);
                return;
        }

        if (d->unit_gate == UNIT_GATE_STOPPED || d->unit_gate == UNIT_GATE_FAILED) {
                transition(d, out, DETECTOR_HEALTHY, _EVENT_KIND_INVALID,
                           "remediation abandoned: the unit is %s, not ours to act on",
                           d->unit_gate == UNIT_GATE_STOPPED ? "stopped" : "failed");
                return;
        }

        a = p->actions[d->step];
        if (a == ACTION_RESTART) {
                prune_restarts(d, p, now);
                if (d->n_restarts >= p->max_restarts ||
                    d->n_restarts >= DETECTOR_RESTARTS_MAX) {
                        fmt_secs(w, sizeof(w), p->restart_window_usec);
                        d->gave_up_usec = now;
                        transition(d, out, DETECTOR_GAVE_UP, EVENT_GAVE_UP,
                                   "restart budget spent: %zu of %u restarts used in %s",
                                   d->n_restarts, p->max_restarts, w);
                        return;
                }
                /* systemd refuses a start past StartLimitBurst= starts per
                 * StartLimitIntervalSec= (start-limit-hit) and the unit ends
                 * up failed: never be the one to push it over. Our own
                 * restarts are a lower bound of its starts. */
                if (d->start_limit_burst > 0 && d->start_limit_interval_usec > 0) {
                        unsigned recent = 0;

                        for (size_t i = 0; i < d->n_restarts; i++)
                                if (elapsed(now, d->restarts_usec[i]) < d->start_limit_interval_usec)
                                        recent++;
                        if (recent + 1 >= d->start_limit_burst) {
                                fmt_secs(w, sizeof(w), d->start_limit_interval_usec);
                                d->gave_up_usec = now;
                                transition(d, out, DETECTOR_GAVE_UP, EVENT_GAVE_UP,
                                           "a restart now would reach systemd's start limit of the unit "
                                           "(StartLimitBurst=%u per %s, %u restart(s) by us in it)",
                                           d->start_limit_burst, w, recent);
                                return;
                        }
                }
                d->restarts_usec[d->n_restarts++] = now;
        }

        d->step_started_usec = now;
        d->action_slow = false;
        if (d->died_incident && d->state != DETECTOR_REMEDIATING && d->state != DETECTOR_VERIFYING)
                transition(d, out, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED,
                           "the MTA's daemon is gone while its unit stays active: %s (step %zu of %zu)",
                           action_type_to_string(a), d->step + 1, p->n_actions);
        else
                transition(d, out, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED,
                           "step %zu of %zu: %s", d->step + 1, p->n_actions, action_type_to_string(a));
        out->transitions[out->n_transitions - 1].action = a;
        out->act = true;
        out->action = a;
}

static void update_reachability(Detector *d, const DetectorParams *p, ProbeStatus s, uint64_t now) {
        switch (s) {
        case PROBE_OK:
                d->ok_streak++;
                d->fail_streak = 0;
                if (d->reach != REACH_UP && d->ok_streak >= p->ok_threshold) {
                        d->reach = REACH_UP;
                        d->reach_since_usec = now;
                }
                break;
        case PROBE_FAIL:
                d->fail_streak++;
                d->ok_streak = 0;
                if (d->reach != REACH_DOWN && d->fail_streak >= p->fail_threshold) {
                        d->reach = REACH_DOWN;
                        d->reach_since_usec = now;
                }
                break;
        default:
                /* Unknown says nothing about the network: streaks and state stay. */
                break;
        }
}

/* Progress: the backlog shrank, the oldest message changed, or there is
 * less than min_backlog to deliver. An unknown queue changes nothing. */
static void update_progress(Detector *d, const DetectorParams *p, const Observation *obs, uint64_t now) {
        const QueueStats *q = &obs->queue;

        if (obs->queue_status != PROBE_OK)
                return;

        /* A new oldest id after an empty queue is an arrival, not a delivery. */
        if (q->backlog < p->min_backlog ||
            (d->have_queue && (q->backlog < d->last_backlog ||
                               (d->last_oldest_id[0] && strcmp(q->oldest_id, d->last_oldest_id) != 0))))
                d->last_progress_usec = d->last_delivery_usec = now;

        if (!q->schedule_known || q->overdue == 0)
                d->overdue_since_usec = 0;
        else if (d->overdue_since_usec == 0)
                d->overdue_since_usec = now ? now : 1;

        d->have_queue = true;
        d->last_backlog = q->backlog;
        (void) snprintf(d->last_oldest_id, sizeof(d->last_oldest_id), "%s", q->oldest_id);
}

static uint64_t sum_causes(const uint64_t v[static _CAUSE_MAX]) {
        uint64_t n = 0;

        for (size_t i = 0; i < _CAUSE_MAX; i++)
                n += v[i];
        return n;
}

/* Signs of life of the MTA: every line counted, except the failures a
 * restart may fix (the MTA cannot reach or resolve a peer that our probe
 * reaches, or its own agent fails): while the probe reaches that peer they
 * are the stuck pattern, not progress. Deferrals for a reason on the other
 * side (a refusing or hanging peer, a destination nobody probes) are life:
 * the MTA works, and a restart would not change what it is told. */
static uint64_t attempts(const ActivityCounts *a) {
        return a->sent + a->deferred + a->bounced + a->conn_errors + a->conn_errors_probed + a->completed -
               sum_causes(a->fixable);
}

/* Mail that left the queue according to the log (Exim's "Completed" too;
 * a started queue run is no delivery). */
static uint64_t deliveries(const ActivityCounts *a) {
        return a->sent + a->bounced + a->completed;
}

/* Failures a restart cannot fix that keep mail waiting (bounces do not:
 * the mail is gone), by cause, from B to A. */
static uint64_t unfixable_waiting(const ActivityCounts *a, const ActivityCounts *b, size_t c) {
        uint64_t x = a->failures[c] - a->fixable[c] - a->bounced_by_cause[c];
        uint64_t y = b->failures[c] - b->fixable[c] - b->bounced_by_cause[c];

        return x > y ? x - y : 0;
}

/* Failures a restart may fix, of cause C, from B to A: failed delivery
 * lines, and for mta-internal the MTA's own error lines. */
static uint64_t fixable_delta(const ActivityCounts *a, const ActivityCounts *b, size_t c) {
        return a->fixable[c] - b->fixable[c] + (c == CAUSE_MTA_INTERNAL ? a->mta_errors - b->mta_errors : 0);
}

/* The cause with the most failures from B to A: a restart may fix them
 * (FIXABLE) or not; CAUSE_NONE when there were none. */
static FailureCause dominant_cause(const ActivityCounts *a, const ActivityCounts *b, bool fixable) {
        FailureCause best = CAUSE_NONE;
        uint64_t most = 0;

        for (size_t c = 0; c < _CAUSE_MAX; c++) {
                uint64_t n = fixable ? fixable_delta(a, b, c) : unfixable_waiting(a, b, c);

                if (n > most) {
                        most = n;
                        best = (FailureCause) c;
                }
        }
        return best;
}

static bool counts_went_back(const ActivityCounts *a, const ActivityCounts *last) {
        if (a->sent < last->sent || a->deferred < last->deferred || a->bounced < last->bounced ||
            a->conn_errors < last->conn_errors || a->conn_errors_probed < last->conn_errors_probed ||
            a->mta_log < last->mta_log || a->mta_errors < last->mta_errors ||
            a->completed < last->completed || a->queue_runs < last->queue_runs || a->started < last->started)
                return true;
        for (size_t c = 0; c < _CAUSE_MAX; c++)
                if (a->failures[c] < last->failures[c] || a->fixable[c] < last->fixable[c] ||
                    a->bounced_by_cause[c] < last->bounced_by_cause[c])
                        return true;
        return false;
}

static void update_activity(Detector *d, const DetectorParams *p, const Observation *obs, uint64_t now) {
        const ActivityCounts *a = &obs->activity, *last = &d->last_activity;
        FailureCause c;

        if (obs->activity_status != PROBE_OK)
                return;

        /* Counters only grow; a smaller one means the probe started over:
         * new baselines, no progress read into it. */
        if (d->have_activity && counts_went_back(a, last)) {
                d->incident_activity = (ActivityCounts) {};
                d->step_activity = (ActivityCounts) {};
                d->last_activity = *a;
                return;
        }

        if (d->have_activity && attempts(a) > attempts(last))
                d->last_progress_usec = now;
        /* Without a schedule (the generic rule), failures to reach a probed
         * peer while our probes cannot reach it either (the outage, and
         * restore_grace after it) are the MTA's own retries: attempts.
         * Once reachability has been up for restore_grace they are the
         * stuck signature, as for every profile. */
        else if (d->have_activity && p->conservative &&
                 (d->reach != REACH_UP || elapsed(now, d->reach_since_usec) < p->restore_grace_usec) &&
                 sum_causes(a->fixable) > sum_causes(last->fixable))
                d->last_progress_usec = now;
        if (d->have_activity && deliveries(a) > deliveries(last))
                d->last_delivery_usec = now;

        /* The MTA fails in a way a restart may fix while our probe has
         * reached the peer fine for restore_grace: the stuck pattern,
         * whatever the schedule says. Errors from the first moments after
         * an outage (connects timing out, Postfix's dead-destination
         * cache) do not count. */
        if (d->have_activity && d->reach == REACH_UP &&
            elapsed(now, d->reach_since_usec) >= p->restore_grace_usec &&
            (c = dominant_cause(a, last, true)) != CAUSE_NONE) {
                d->last_fixable_usec = now ? now : 1;
                d->fixable_cause = c;
                (void) snprintf(d->fixable_peer, sizeof(d->fixable_peer), "%s", obs->samples.causes[c].peer);
        }

        /* Failures a restart cannot fix: a run of them (delivery.degraded). */
        if (d->have_activity && (c = dominant_cause(a, last, false)) != CAUSE_NONE) {
                if (d->degraded_since_usec == 0)
                        d->degraded_since_usec = now ? now : 1;
                d->degraded_last_usec = now ? now : 1;
                d->degraded_cause = c;
                (void) snprintf(d->degraded_peer, sizeof(d->degraded_peer), "%s", obs->samples.causes[c].peer);
                /* Given up on this cause: its failures hold us back. */
                if (d->state == DETECTOR_GAVE_UP && d->gave_up_cause == c)
                        d->gave_up_usec = now;
        }
        if (d->have_activity && d->state == DETECTOR_GAVE_UP && d->gave_up_cause != CAUSE_NONE &&
            fixable_delta(a, last, d->gave_up_cause) > 0)
                d->gave_up_usec = now;

        d->have_activity = true;
        d->last_activity = *a;
}

/* A failure a restart may fix counts for stall_after after it was logged,
 * and only while reachability has stayed UP since. */
static bool recent_fixable(const Detector *d, const DetectorParams *p, uint64_t now) {
        return d->last_fixable_usec != 0 &&
               d->last_fixable_usec > d->reach_since_usec &&
               elapsed(now, d->last_fixable_usec) < p->stall_after_usec;
}

ActivityCounts detector_incident_activity(const Detector *d, const Observation *last) {
        const ActivityCounts *a = &d->last_activity, *b = &d->incident_activity;
        ActivityCounts r;

        if (!d->incident_open || !d->have_activity)
                return (ActivityCounts) {};
        r = (ActivityCounts) {
                .sent = a->sent - b->sent,
                .deferred = a->deferred - b->deferred,
                .bounced = a->bounced - b->bounced,
                .conn_errors = a->conn_errors - b->conn_errors,
                .conn_errors_probed = a->conn_errors_probed - b->conn_errors_probed,
                .mta_log = a->mta_log - b->mta_log,
                .mta_errors = a->mta_errors - b->mta_errors,
                .completed = a->completed - b->completed,
                .queue_runs = a->queue_runs - b->queue_runs,
                .started = a->started - b->started,
        };
        for (size_t c = 0; c < _CAUSE_MAX; c++) {
                r.failures[c] = a->failures[c] - b->failures[c];
                r.fixable[c] = a->fixable[c] - b->fixable[c];
                r.bounced_by_cause[c] = a->bounced_by_cause[c] - b->bounced_by_cause[c];
        }
        return r;
}

/* A run of failures a restart cannot fix ends when none came for
 * degraded_after and mail was delivered since, or nothing waits. It is
 * alerted once it has lasted degraded_after, or at once after giving up
 * without a cause. */
static void check_degraded(Detector *d, const DetectorParams *p, const Observation *obs,
                           uint64_t now, DetectorOutput *out) {
        char w[FORMAT_DURATION_MAX], ct[ACTIVITY_PEER_MAX + 32];

        if (d->degraded_since_usec == 0)
                return;
        if (elapsed(now, d->degraded_last_usec) >= p->degraded_after_usec &&
            (d->last_delivery_usec > d->degraded_last_usec ||
             (obs->queue_status == PROBE_OK && obs->queue.backlog < p->min_backlog))) {
                d->degraded_since_usec = d->degraded_last_usec = 0;
                d->degraded_alerted = false;
                return;
        }
        if (d->degraded_alerted || d->state == DETECTOR_STALLED || d->state == DETECTOR_REMEDIATING)
                return;
        /* Given up without knowing why, the first such failures say why at
         * once, and from then on they hold the hold-down. */
        if (d->state == DETECTOR_GAVE_UP && d->gave_up_cause == CAUSE_NONE)
                d->gave_up_cause = d->degraded_cause;
        else if (elapsed(d->degraded_last_usec, d->degraded_since_usec) < p->degraded_after_usec)
                return;
        d->degraded_alerted = true;
        fmt_secs(w, sizeof(w), elapsed(d->degraded_last_usec, d->degraded_since_usec));
        transition(d, out, d->state, EVENT_DELIVERY_DEGRADED,
                   "delivery failing for %s: %s; a restart cannot fix this, no action",
                   w, cause_text(ct, sizeof(ct), d->degraded_cause, d->degraded_peer));
        set_cause(out, d->degraded_cause, d->degraded_peer);
}

/* The first MTA error lines of the incident, from stall_after before it. */
static void collect_incident_log(Detector *d, const DetectorParams *p, const Observation *obs) {
        uint64_t from;

        if (!d->incident_open || obs->activity_status != PROBE_OK)
                return;
        from = d->incident_started_usec > p->stall_after_usec ? d->incident_started_usec - p->stall_after_usec : 0;
        /* oldest first: the ring's slots in seq order */
        for (;;) {
                const MtaLogLine *next = NULL;

                for (size_t i = 0; i < ACTIVITY_MTA_LOG_MAX; i++) {
                        const MtaLogLine *l = &obs->samples.mta_log[i];

                        if (l->seq > d->incident_log_seq && (!next || l->seq < next->seq))
                                next = l;
                }
                if (!next)
                        return;
                d->incident_log_seq = next->seq;
                if (next->usec >= from && d->n_incident_log < DETECTOR_MTA_LOG_MAX)
                        (void) snprintf(d->incident_log[d->n_incident_log++], ACTIVITY_LINE_MAX, "%s", next->line);
        }
}

static void track_unknown(uint64_t *since, ProbeStatus s, uint64_t now) {
        if (s == PROBE_OK)
                *since = 0;
        else if (*since == 0)
                *since = now ? now : 1;
}

/* One observation.unknown per episode: when the queue, the unit or the
 * activity has been unknown for unknown_alert_after without a break. */
static void check_unknown(Detector *d, const DetectorParams *p, const Observation *obs,
                          uint64_t now, DetectorOutput *out) {
        const struct {
                uint64_t since;
                const char *what;
        } parts[_UNKNOWN_PART_MAX] = {
                [UNKNOWN_PART_QUEUE] = { d->queue_unknown_since_usec, "queue" },
                [UNKNOWN_PART_UNIT] = { d->unit_unknown_since_usec, "unit state" },
                [UNKNOWN_PART_ACTIVITY] = { d->activity_unknown_since_usec, "delivery activity (journal)" },
        };
        char w[FORMAT_DURATION_MAX];

        /* One alert per part and episode: an episode ends when that part answers. */
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                if (!parts[i].since) {
                        d->unknown_alerted[i] = false;
                        continue;
                }
                if (d->unknown_alerted[i] || elapsed(now, parts[i].since) < p->unknown_alert_after_usec)
                        continue;
                fmt_secs(w, sizeof(w), elapsed(now, parts[i].since));
                transition(d, out, d->state, EVENT_OBSERVATION_UNKNOWN,
                           "%s unknown for %s: no decision is taken on it", parts[i].what, w);
                d->unknown_alerted[i] = true;
        }
}

/* Unit changes that are not ours: reported once per change, never acted on. */
static void update_unit(Detector *d, const Observation *obs, uint64_t now, DetectorOutput *out) {
        UnitGate g;

        /* While our own restart runs the unit passes through stop and start;
         * where it ends up is judged once the action is done. */
        if (obs->unit_status != PROBE_OK || d->state == DETECTOR_REMEDIATING)
                return;

        d->start_limit_burst = obs->unit.start_limit_burst;
        d->start_limit_interval_usec = obs->unit.start_limit_interval_usec;

        g = obs->unit.gate;
        if (g != UNIT_GATE_DEAD) {
                d->dead_rounds = 0;
                d->died_alerted = false;
        } else if (d->dead_rounds < DETECTOR_DEAD_ROUNDS)
                d->dead_rounds++;
        if (g == d->unit_gate)
                return;

        if (g == UNIT_GATE_STOPPED && d->unit_gate != UNIT_GATE_UNKNOWN)
                transition(d, out, d->state, EVENT_MTA_STOPPED,
                           "unit %s/%s: stopped, not by the watchdog; no action",
                           obs->unit.active_state, obs->unit.sub_state);
        else if (g == UNIT_GATE_FAILED)
                transition(d, out, d->state, EVENT_MTA_FAILED,
                           "unit failed (result %s); systemd's own policy applies, no restart",
                           obs->unit.result[0] ? obs->unit.result : "unknown");

        /* A unit started again by someone begins with a clean slate; after
         * our own action, or after giving up, only the queue and the log
         * say whether mail flows. */
        if (g == UNIT_GATE_RUNNING && d->unit_gate != UNIT_GATE_UNKNOWN &&
            (d->state == DETECTOR_HEALTHY || d->state == DETECTOR_RECOVERING || d->state == DETECTOR_OUTAGE))
                d->last_progress_usec = now;
        d->unit_gate = g;
}

/* The daemon of an active unit is gone (DETECTOR_DEAD_ROUNDS rounds in a
 * row): mta.died, once per death, in any state a round begins in but
 * REMEDIATING (our own restart passes through a moment without it). */
static void check_died(Detector *d, const DetectorParams *p, const Observation *obs, DetectorOutput *out) {
        char pid[48];
        bool can = false;

        if (d->dead_rounds < DETECTOR_DEAD_ROUNDS || d->died_alerted || obs->unit_status != PROBE_OK ||
            d->state == DETECTOR_STALLED || d->state == DETECTOR_REMEDIATING)
                return;
        for (size_t i = 0; i < p->n_actions; i++)
                can = can || p->actions[i] == ACTION_RESTART;
        d->died_alerted = true;
        /* The restart that follows at once (enter_died()) belongs to the
         * same incident as this alert. */
        d->open_incident = d->state == DETECTOR_HEALTHY && can && p->max_restarts > 0 && !d->restore_flush &&
                           d->unit_gate == UNIT_GATE_DEAD;
        if (obs->unit.pid_file_pid != 0)
                (void) snprintf(pid, sizeof(pid), "PID %" PRIu32 " of its PID file is gone", obs->unit.pid_file_pid);
        else
                (void) snprintf(pid, sizeof(pid), "its PID file names no process");
        transition(d, out, d->state, EVENT_MTA_DIED,
                   "the MTA's daemon is gone (%s) while the unit stays %s/%s%s",
                   pid, obs->unit.active_state, obs->unit.sub_state,
                   d->state == DETECTOR_GAVE_UP ? "; given up, no restart before the hold-down ends" :
                   d->state == DETECTOR_VERIFYING ? "" :
                   !can || p->max_restarts == 0 ? "; restart is not in actions (or max_restarts = 0): reported only" :
                   "; restarting it");
}

/* The daemon is dead: the restart of the ladder (flush and the rest
 * cannot bring a daemon back), budgeted as for a stall. A dead daemon is
 * restarted during an outage too: the network does not bring it back, and
 * without it the MTA accepts and retries nothing. No restart in the ladder
 * (or max_restarts = 0): reported by check_died() only. */
static bool enter_died(Detector *d, const DetectorParams *p, uint64_t now, DetectorOutput *out) {
        size_t i;

        if (d->dead_rounds < DETECTOR_DEAD_ROUNDS || d->unit_gate != UNIT_GATE_DEAD ||
            d->restore_flush || p->max_restarts == 0)
                return false;
        for (i = 0; i < p->n_actions && p->actions[i] != ACTION_RESTART; i++)
                ;
        if (i >= p->n_actions)
                return false;
        d->died_incident = true;
        d->incident_cause = CAUSE_NONE;
        d->incident_peer[0] = 0;
        d->step = i;
        begin_step(d, p, now, out);
        return true;
}

/* A delivery held a message past the queue probe's threshold: reported
 * once per holder process, and with kill_hung_deliveries handed to the
 * caller to end. Restarting the MTA does not end it (Exim's deliveries
 * outlive the daemon), so it never becomes a restart. */
static void check_hung(Detector *d, const DetectorParams *p, const Observation *obs, DetectorOutput *out) {
        const QueueStats *q = &obs->queue;
        char w[FORMAT_DURATION_MAX];

        if (obs->queue_status != PROBE_OK)
                return;
        if (q->hung == 0 || q->hung_pid == 0) {
                d->hung_reported_pid = 0;
                return;
        }
        if (q->hung_pid == d->hung_reported_pid || d->state == DETECTOR_STALLED)
                return;
        d->hung_reported_pid = q->hung_pid;
        fmt_secs(w, sizeof(w), q->hung_age_usec);
        transition(d, out, d->state, EVENT_DELIVERY_HUNG,
                   "delivery process %" PRIu32 " has held message %s for %s (%u hung in all); %s",
                   q->hung_pid, q->hung_id[0] ? q->hung_id : "?", w, q->hung,
                   p->kill_hung_deliveries ? "ending it (kill_hung_deliveries)" :
                   "a restart does not end it; no action (kill_hung_deliveries = no)");
        if (p->kill_hung_deliveries) {
                out->kill_hung = true;
                out->hung_pid = q->hung_pid;
                (void) snprintf(out->hung_id, sizeof(out->hung_id), "%s", q->hung_id);
        }
}

/* flush_on_restore: the outage just ended (OUTAGE → RECOVERING). A healthy
 * MTA waits out its own retry timers before it tries deferred mail again;
 * one flush makes it try now (what Debian's if-up.d hooks of exim4 and
 * postfix do). Once per outage, only for a running unit, never while
 * another action runs, and at most max_restarts per restart_window (its
 * own count: a flush never uses up a restart). */
static void restore_flush(Detector *d, const DetectorParams *p, uint64_t now, DetectorOutput *out) {
        char w[FORMAT_DURATION_MAX];
        size_t keep = 0;

        if (!p->flush_on_restore || d->restore_flush || d->unit_gate != UNIT_GATE_RUNNING)
                return;
        for (size_t i = 0; i < d->n_restore_flushes; i++)
                if (elapsed(now, d->restore_flushes_usec[i]) < p->restart_window_usec)
                        d->restore_flushes_usec[keep++] = d->restore_flushes_usec[i];
        d->n_restore_flushes = keep;
        if (keep >= p->max_restarts || keep >= DETECTOR_RESTARTS_MAX) {
                fmt_secs(w, sizeof(w), p->restart_window_usec);
                transition(d, out, DETECTOR_RECOVERING, _EVENT_KIND_INVALID,
                           "network restored; no flush: %zu of %u flushes (flush_on_restore) used in %s",
                           keep, p->max_restarts, w);
                return;
        }
        d->restore_flushes_usec[d->n_restore_flushes++] = now;
        d->restore_flush = true;
        transition(d, out, DETECTOR_RECOVERING, EVENT_ACTION_STARTED,
                   "network restored: one flush so that the MTA retries its deferred mail now, "
                   "not at its next retry time (flush_on_restore)");
        out->transitions[out->n_transitions - 1].action = ACTION_FLUSH;
        out->act = true;
        out->action = ACTION_FLUSH;
}

/* Every part of this round's observation must be known and say "stuck":
 * hysteresis keeps reachability UP across a lone failure, but a round whose
 * probe failed or did not answer is no proof that the network is fine. */
/* Into OUTAGE. Short outages (flaps past the hysteresis) are logged, not
 * alerted, until outage_alert_after; an outage already announced (while
 * GAVE_UP) is not announced twice. */
_printf_(4, 5)
static void enter_outage(Detector *d, const DetectorParams *p, DetectorOutput *out, const char *fmt, ...) {
        char reason[DETECTOR_REASON_MAX];
        EventKind ev = _EVENT_KIND_INVALID;
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);

        if (!d->outage_alerted && p->outage_alert_after_usec == 0) {
                d->outage_alerted = true;
                ev = EVENT_OUTAGE_STARTED;
        }
        transition(d, out, DETECTOR_OUTAGE, ev, "%s", reason);
}

/* Overdue messages count once the queue has had some for the probe's
 * slack on CLOCK_MONOTONIC: the probe reads the schedule against
 * CLOCK_REALTIME, and a step of that clock makes messages look overdue
 * that the MTA (due within queue_run_delay, which the slack covers) is
 * about to pick up. */
static bool overdue_seen(const Detector *d, const Observation *obs, uint64_t now) {
        return obs->queue.overdue > 0 && d->overdue_since_usec != 0 &&
               elapsed(now, d->overdue_since_usec) >= obs->queue.slack_usec;
}

void detector_clock_stepped(Detector *d, uint64_t now_usec) {
        if (d->overdue_since_usec != 0)
                d->overdue_since_usec = now_usec ? now_usec : 1;
}

/* A delivery began and its outcome is not logged yet, for less than
 * hung_start_after: the MTA is at work (its own timeout ends it:
 * nullmailer's sendtimeout), no stall. */
static bool start_in_progress(const DetectorParams *p, const Observation *obs, uint64_t now) {
        return p->hung_start_after_usec > 0 && obs->activity_status == PROBE_OK &&
               obs->samples.open_start_usec != 0 &&
               elapsed(now, obs->samples.open_start_usec) < p->hung_start_after_usec;
}

/* A delivery began more than hung_start_after ago and logged no outcome:
 * the sender is wedged (nullmailer-send after "Starting delivery", README
 * "The generic profile"). Judged on a round where everything else says
 * "stuck, not the network": reachability up, mail waiting, the unit
 * running; once per open start. */
static bool start_hung(const Detector *d, const DetectorParams *p, const Observation *obs, uint64_t now) {
        return p->hung_start_after_usec > 0 &&
               !d->restore_flush &&
               obs->activity_status == PROBE_OK &&
               obs->samples.open_start_usec != 0 &&
               obs->samples.open_start_usec != d->hung_start_usec &&
               elapsed(now, obs->samples.open_start_usec) >= p->hung_start_after_usec &&
               d->reach == REACH_UP &&
               obs->reach == PROBE_OK &&
               obs->queue_status == PROBE_OK &&
               obs->queue.backlog >= p->min_backlog &&
               obs->unit_status == PROBE_OK &&
               d->unit_gate == UNIT_GATE_RUNNING;
}

/* The wedged sender: a flush cannot wake it (the trigger is read by the
 * process that hangs), so the ladder goes straight to its restart step;
 * without one, it runs from its first step. */
static void enter_start_hung(Detector *d, const DetectorParams *p, const Observation *obs,
                             uint64_t now, DetectorOutput *out) {
        char s[FORMAT_DURATION_MAX], h[FORMAT_DURATION_MAX];
        size_t i;

        for (i = 0; i < p->n_actions && p->actions[i] != ACTION_RESTART; i++)
                ;
        fmt_secs(s, sizeof(s), elapsed(now, obs->samples.open_start_usec));
        fmt_secs(h, sizeof(h), p->hung_start_after_usec);
        d->hung_start_usec = obs->samples.open_start_usec;
        transition(d, out, DETECTOR_STALLED, EVENT_STALL_DETECTED,
                   "delivery started %s ago, no outcome (hung_delivery_after %s): the sender hangs, %s: \"%s\"",
                   s, h, i < p->n_actions ? "a flush cannot wake it: restart" : "no restart in actions",
                   obs->samples.open_start_line);
        d->incident_cause = CAUSE_NONE;
        d->incident_peer[0] = 0;
        set_cause(out, CAUSE_NONE, "");
        d->died_incident = false;
        d->step = i < p->n_actions ? i : 0;
        begin_step(d, p, now, out);
}

static bool stalled(const Detector *d, const DetectorParams *p, const Observation *obs, uint64_t now) {
        return !d->restore_flush &&
               d->reach == REACH_UP &&
               obs->reach == PROBE_OK &&
               elapsed(now, d->reach_since_usec) >= p->restore_grace_usec &&
               obs->queue_status == PROBE_OK &&
               obs->activity_status == PROBE_OK &&
               obs->unit_status == PROBE_OK &&
               d->unit_gate == UNIT_GATE_RUNNING &&
               obs->queue.backlog >= p->min_backlog &&
               /* the MTA waits by a rule of its own (Sendmail's host status):
                * its deferrals meanwhile, "connection refused" ones too, are
                * that rule, not a stuck MTA */
               obs->queue.wait_left_usec == 0 &&
               (!obs->queue.schedule_known || overdue_seen(d, obs, now) || recent_fixable(d, p, now)) &&
               (!p->conservative || obs->queue.oldest_age_usec >= p->stall_after_usec) &&
               !start_in_progress(p, obs, now) &&
               elapsed(now, d->last_progress_usec) >= p->stall_after_usec;
}

static void enter_stalled(Detector *d, const DetectorParams *p, const Observation *obs,
                          uint64_t now, DetectorOutput *out) {
        char s[FORMAT_DURATION_MAX], u[FORMAT_DURATION_MAX], ct[ACTIVITY_PEER_MAX + 32];
        char o[FORMAT_DURATION_MAX + 48] = "", why[ACTIVITY_PEER_MAX + 64] = "";
        bool fixable = recent_fixable(d, p, now);

        fmt_secs(s, sizeof(s), elapsed(now, d->last_progress_usec));
        fmt_secs(u, sizeof(u), elapsed(now, d->reach_since_usec));
        if (obs->queue.schedule_known)
                (void) snprintf(o, sizeof(o), ", %u overdue", obs->queue.overdue);
        else if (p->conservative) {
                char a[FORMAT_DURATION_MAX];

                fmt_secs(a, sizeof(a), obs->queue.oldest_age_usec);
                (void) snprintf(o, sizeof(o), ", oldest %s old, no schedule read", a);
        }
        if (fixable)
                (void) snprintf(why, sizeof(why), "; the MTA logs %s",
                                cause_text(ct, sizeof(ct), d->fixable_cause, d->fixable_peer));
        transition(d, out, DETECTOR_STALLED, EVENT_STALL_DETECTED,
                   "no progress for %s with backlog %u%s while reachability has been up for %s%s",
                   s, obs->queue.backlog, o, u, why);
        /* What made it stall: a failure a restart may fix, or none at all. */
        d->incident_cause = fixable ? d->fixable_cause : CAUSE_NONE;
        (void) snprintf(d->incident_peer, sizeof(d->incident_peer), "%s", fixable ? d->fixable_peer : "");
        set_cause(out, d->incident_cause, d->incident_peer);
        d->died_incident = false;
        d->step = 0;
        begin_step(d, p, now, out);
}

/* verify_after passed without a delivery. What the MTA logged instead
 * decides: failures a restart cannot fix, or the stall's own cause back
 * after a restart, end the ladder (gave_up with the cause); otherwise the
 * next step runs. */
static void verification_failed(Detector *d, const DetectorParams *p, uint64_t now, const Observation *obs,
                                DetectorOutput *out) {
        char w[FORMAT_DURATION_MAX], ct[ACTIVITY_PEER_MAX + 32];
        ActionType a = p->actions[d->step];
        FailureCause fixable = dominant_cause(&d->last_activity, &d->step_activity, true);
        FailureCause unfixable = dominant_cause(&d->last_activity, &d->step_activity, false);
        FailureCause cause = CAUSE_NONE;

        fmt_secs(w, sizeof(w), p->verify_after_usec);
        transition(d, out, DETECTOR_VERIFYING, EVENT_ACTION_FAILED, "%s: no delivery within %s",
                   action_type_to_string(a), w);
        out->transitions[out->n_transitions - 1].action = a;

        if (fixable == CAUSE_NONE && unfixable != CAUSE_NONE)
                cause = unfixable;
        else if (a == ACTION_RESTART && fixable != CAUSE_NONE && fixable == d->incident_cause)
                cause = fixable;
        if (cause == CAUSE_NONE) {
                d->step++;
                begin_step(d, p, now, out);
                return;
        }

        d->incident_cause = cause;
        (void) snprintf(d->incident_peer, sizeof(d->incident_peer), "%s", obs->samples.causes[cause].peer);
        set_cause(out, d->incident_cause, d->incident_peer);
        d->gave_up_usec = now;
        d->gave_up_cause = cause;
        if (cause == unfixable && fixable == CAUSE_NONE) {
                /* named here: no delivery.degraded for the same run */
                d->degraded_alerted = true;
                transition(d, out, DETECTOR_GAVE_UP, EVENT_GAVE_UP,
                           "delivery fails for a reason a restart cannot fix: %s",
                           cause_text(ct, sizeof(ct), cause, d->incident_peer));
        } else
                transition(d, out, DETECTOR_GAVE_UP, EVENT_GAVE_UP,
                           "the stall came back after %s with the same cause: %s",
                           action_type_to_string(a), cause_text(ct, sizeof(ct), cause, d->incident_peer));
        set_cause(out, d->incident_cause, d->incident_peer);
}

void detector_step(Detector *d, const DetectorParams *p, const Observation *obs,
                   uint64_t now_usec, DetectorOutput *out) {
        char w[FORMAT_DURATION_MAX];

        uint64_t delivery_before = d->last_delivery_usec;

        *out = (DetectorOutput) { .action = _ACTION_TYPE_INVALID };
        d->now_usec = now_usec;

        update_reachability(d, p, obs->reach, now_usec);
        update_progress(d, p, obs, now_usec);
        update_activity(d, p, obs, now_usec);
        track_unknown(&d->queue_unknown_since_usec, obs->queue_status, now_usec);
        track_unknown(&d->unit_unknown_since_usec, obs->unit_status, now_usec);
        track_unknown(&d->activity_unknown_since_usec, obs->activity_status, now_usec);
        update_unit(d, obs, now_usec, out);
        check_unknown(d, p, obs, now_usec, out);
        check_degraded(d, p, obs, now_usec, out);
        check_died(d, p, obs, out);
        check_hung(d, p, obs, out);

        switch (d->state) {
        case DETECTOR_HEALTHY:
        case DETECTOR_RECOVERING:
                if (enter_died(d, p, now_usec, out))
                        break;
                if (d->reach == REACH_DOWN) {
                        enter_outage(d, p, out, "reachability down after %u failed probe rounds in a row",
                                     d->fail_streak);
                        break;
                }
                if (start_hung(d, p, obs, now_usec)) {
                        enter_start_hung(d, p, obs, now_usec, out);
                        break;
                }
                if (stalled(d, p, obs, now_usec)) {
                        enter_stalled(d, p, obs, now_usec, out);
                        break;
                }
                if (d->state == DETECTOR_RECOVERING &&
                    elapsed(now_usec, d->reach_since_usec) >= p->restore_grace_usec &&
                    obs->queue_status == PROBE_OK &&
                    (obs->queue.backlog < p->min_backlog || d->last_progress_usec >= d->reach_since_usec)) {
                        fmt_secs(w, sizeof(w), elapsed(now_usec, d->reach_since_usec));
                        transition(d, out, DETECTOR_HEALTHY, _EVENT_KIND_INVALID,
                                   "queue moving (backlog %u) %s after reachability came back",
                                   obs->queue.backlog, w);
                }
                break;

        case DETECTOR_OUTAGE:
                if (enter_died(d, p, now_usec, out))
                        break;
                if (d->reach == REACH_UP) {
                        transition(d, out, DETECTOR_RECOVERING,
                                   d->outage_alerted ? EVENT_OUTAGE_ENDED : _EVENT_KIND_INVALID,
                                   "reachability up after %u successful probe rounds in a row",
                                   d->ok_streak);
                        d->outage_alerted = false;
                        restore_flush(d, p, now_usec, out);
                        break;
                }
                if (!d->outage_alerted && d->reach == REACH_DOWN &&
                    elapsed(now_usec, d->reach_since_usec) >= p->outage_alert_after_usec) {
                        fmt_secs(w, sizeof(w), elapsed(now_usec, d->reach_since_usec));
                        d->outage_alerted = true;
                        transition(d, out, DETECTOR_OUTAGE, EVENT_OUTAGE_STARTED,
                                   "reachability down for %s", w);
                }
                break;

        case DETECTOR_STALLED:
        case DETECTOR_REMEDIATING:
                /* An action is running; its end is reported by detector_action_done(). */
                break;

        case DETECTOR_VERIFYING:
                if (d->step >= p->n_actions) {
                        /* A reload shortened the ladder: what ran is no longer in it. */
                        d->step = p->n_actions - 1;
                }
                /* A dead daemon restarted: done once it runs again. */
                if (d->died_incident && obs->unit_status == PROBE_OK && d->unit_gate == UNIT_GATE_RUNNING) {
                        transition(d, out, DETECTOR_VERIFYING, EVENT_ACTION_SUCCEEDED,
                                   "%s: the MTA's daemon runs again (PID %" PRIu32 ")",
                                   action_type_to_string(p->actions[d->step]), obs->unit.pid_file_pid);
                        out->transitions[out->n_transitions - 1].action = p->actions[d->step];
                        transition(d, out, DETECTOR_HEALTHY, EVENT_RECOVERED,
                                   "the MTA's daemon runs again after %s", action_type_to_string(p->actions[d->step]));
                        break;
                }
                if (d->last_delivery_usec > d->step_started_usec) {
                        transition(d, out, DETECTOR_VERIFYING, EVENT_ACTION_SUCCEEDED,
                                   "%s: mail delivered again (backlog %u)",
                                   action_type_to_string(p->actions[d->step]), obs->queue.backlog);
                        out->transitions[out->n_transitions - 1].action = p->actions[d->step];
                        transition(d, out, DETECTOR_HEALTHY, EVENT_RECOVERED,
                                   "mail flows again after %s", action_type_to_string(p->actions[d->step]));
                        break;
                }
                if (d->reach == REACH_DOWN) {
                        enter_outage(d, p, out, "reachability down while verifying %s",
                                     action_type_to_string(p->actions[d->step]));
                        break;
                }
                /* A delivery the step set off is still going (started, no
                 * outcome yet, younger than hung_start_after): its outcome decides. */
                if (start_in_progress(p, obs, now_usec) && obs->samples.open_start_usec > d->step_started_usec)
                        break;
                if (elapsed(now_usec, d->step_started_usec) >= p->verify_after_usec)
                        verification_failed(d, p, now_usec, obs, out);
                break;

        case DETECTOR_GAVE_UP:
                /* Given up or not, people hear of outages. */
                if (d->reach == REACH_DOWN && !d->outage_alerted &&
                    elapsed(now_usec, d->reach_since_usec) >= p->outage_alert_after_usec) {
                        d->outage_alerted = true;
                        transition(d, out, DETECTOR_GAVE_UP, EVENT_OUTAGE_STARTED,
                                   "reachability down after %u failed probe rounds in a row", d->fail_streak);
                } else if (d->reach == REACH_UP && d->outage_alerted) {
                        d->outage_alerted = false;
                        transition(d, out, DETECTOR_GAVE_UP, EVENT_OUTAGE_ENDED,
                                   "reachability up after %u successful probe rounds in a row", d->ok_streak);
                }
                /* Given up on a dead daemon: only its return ends it (an
                 * empty queue counts as delivered, and would loop). */
                if (d->died_incident) {
                        if (obs->unit_status == PROBE_OK && d->unit_gate == UNIT_GATE_RUNNING) {
                                transition(d, out, DETECTOR_HEALTHY, EVENT_RECOVERED,
                                           "the MTA's daemon runs again (PID %" PRIu32 ") after giving up",
                                           obs->unit.pid_file_pid);
                                break;
                        }
                } else if (d->last_delivery_usec > delivery_before) {
                        transition(d, out, DETECTOR_HEALTHY, EVENT_RECOVERED,
                                   "mail delivered again (backlog %u) after giving up",
                                   obs->queue.backlog);
                        break;
                }
                /* After the hold-down the stall clock starts afresh; what
                 * happens next depends on the budget left in the window. */
                if (elapsed(now_usec, d->gave_up_usec) >= p->giveup_holddown_usec) {
                        fmt_secs(w, sizeof(w), p->giveup_holddown_usec);
                        d->last_progress_usec = now_usec;
                        transition(d, out, DETECTOR_HEALTHY, _EVENT_KIND_INVALID,
                                   "giveup_holddown (%s) over; watching again", w);
                }
                break;

        default:
                break;
        }
        collect_incident_log(d, p, obs);
}

void detector_restore(Detector *d, DetectorState state, size_t step, bool incident_open,
                      const uint64_t *restarts_usec, size_t n_restarts, uint64_t gave_up_usec,
                      const DetectorParams *p, uint64_t now_usec) {
        detector_init(d, now_usec);
        d->now_usec = now_usec;
        d->incident_started_usec = now_usec;

        for (size_t i = 0; i < n_restarts && d->n_restarts < DETECTOR_RESTARTS_MAX; i++)
                d->restarts_usec[d->n_restarts++] = restarts_usec[i];
        prune_restarts(d, p, now_usec);

        if (!incident_open)
                return;
        d->incident_open = true;

        switch (state) {
        case DETECTOR_REMEDIATING:
        case DETECTOR_VERIFYING:
                d->state = DETECTOR_VERIFYING;
                d->step = step < p->n_actions ? step : (p->n_actions > 0 ? p->n_actions - 1 : 0);
                d->step_started_usec = now_usec;
                break;
        case DETECTOR_GAVE_UP:
                d->state = DETECTOR_GAVE_UP;
                d->gave_up_usec = gave_up_usec > 0 && gave_up_usec <= now_usec ? gave_up_usec : now_usec;
                break;
        default:
                d->state = DETECTOR_RECOVERING;
        }
}

void detector_restore_cause(Detector *d, FailureCause incident_cause, const char *peer,
                            FailureCause gave_up_cause) {
        if (!d->incident_open)
                return;
        d->incident_cause = (unsigned) incident_cause < _CAUSE_MAX ? incident_cause : CAUSE_NONE;
        (void) snprintf(d->incident_peer, sizeof(d->incident_peer), "%s", peer ?: "");
        if (d->state == DETECTOR_GAVE_UP && (unsigned) gave_up_cause < _CAUSE_MAX)
                d->gave_up_cause = gave_up_cause;
}

void detector_reset(Detector *d, uint64_t now_usec, DetectorOutput *out) {
        *out = (DetectorOutput) { .action = _ACTION_TYPE_INVALID };
        d->now_usec = now_usec;

        d->n_restarts = 0;
        if (d->state == DETECTOR_GAVE_UP) {
                d->last_progress_usec = now_usec;
                transition(d, out, DETECTOR_HEALTHY, _EVENT_KIND_INVALID,
                           "reset by the operator: restart budget cleared, watching again");
        }
}

void detector_action_done(Detector *d, const DetectorParams *p, bool ok, const char *detail,
                          uint64_t now_usec, DetectorOutput *out) {
        ActionType a;

        *out = (DetectorOutput) { .action = _ACTION_TYPE_INVALID };
        d->now_usec = now_usec;

        /* flush_on_restore's flush: no verification (the queue and the log
         * judge the MTA as always); its end is reported as it is. */
        if (d->restore_flush) {
                d->restore_flush = false;
                if (d->state == DETECTOR_HEALTHY || d->state == DETECTOR_OUTAGE ||
                    d->state == DETECTOR_RECOVERING) {
                        transition(d, out, d->state, ok ? EVENT_ACTION_SUCCEEDED : EVENT_ACTION_FAILED,
                                   "flush after the network came back (flush_on_restore) %s%s%s",
                                   ok ? "done" : "failed", detail && *detail ? ": " : "", detail ? detail : "");
                        out->transitions[out->n_transitions - 1].action = ACTION_FLUSH;
                }
                return;
        }

        if (d->state != DETECTOR_REMEDIATING)
                return;
        /* A reload shortened the ladder under the running step. */
        if (d->step >= p->n_actions) {
                d->gave_up_usec = now_usec;
                transition(d, out, DETECTOR_GAVE_UP, EVENT_GAVE_UP,
                           "the remediation ladder changed (reload) while step %zu ran", d->step + 1);
                return;
        }

        a = p->actions[d->step];
        if (ok) {
                /* Verification measures progress from here on. */
                d->step_started_usec = now_usec;
                d->step_activity = d->last_activity;
                transition(d, out, DETECTOR_VERIFYING, _EVENT_KIND_INVALID,
                           "%s done%s%s; verifying", action_type_to_string(a),
                           detail && *detail ? ": " : "", detail ? detail : "");
                return;
        }

        transition(d, out, DETECTOR_REMEDIATING, EVENT_ACTION_FAILED, "%s failed%s%s",
                   action_type_to_string(a), detail && *detail ? ": " : "", detail ? detail : "");
        out->transitions[out->n_transitions - 1].action = a;
        d->step++;
        begin_step(d, p, now_usec, out);
}

void detector_action_slow(Detector *d, const DetectorParams *p, const char *detail,
                          uint64_t now_usec, DetectorOutput *out) {
        ActionType a;

        *out = (DetectorOutput) { .action = _ACTION_TYPE_INVALID };

        if (d->state != DETECTOR_REMEDIATING || d->action_slow || d->step >= p->n_actions)
                return;
        d->action_slow = true;
        a = p->actions[d->step];
        transition(d, out, DETECTOR_REMEDIATING, EVENT_ACTION_SLOW, "%s still pending%s%s",
                   action_type_to_string(a), detail && *detail ? ": " : "", detail ? detail : "");
        out->transitions[out->n_transitions - 1].action = a;
}

void detector_resume_action(Detector *d, bool slow_reported) {
        if (d->state != DETECTOR_VERIFYING || !d->incident_open)
                return;
        d->state = DETECTOR_REMEDIATING;
        d->action_slow = slow_reported;
}

OnceVerdict detector_judge_once(const DetectorParams *p, const Observation *obs, char *reason, size_t size) {
        char w[FORMAT_DURATION_MAX], o[FORMAT_DURATION_MAX];
        const QueueStats *q = &obs->queue;
        UnitGate g;

        fmt_secs(w, sizeof(w), p->stall_after_usec);

        if (obs->reach == PROBE_UNKNOWN || obs->queue_status != PROBE_OK ||
            obs->unit_status != PROBE_OK || obs->activity_status != PROBE_OK) {
                (void) snprintf(reason, size, "unknown: %s did not answer",
                                obs->reach == PROBE_UNKNOWN ? "a reachability probe" :
                                obs->queue_status != PROBE_OK ? "the queue probe" :
                                obs->unit_status != PROBE_OK ? "the unit probe" : "the journal");
                return ONCE_UNKNOWN;
        }
        if (obs->reach == PROBE_FAIL) {
                (void) snprintf(reason, size, "outage: the relay does not answer; a restart would not help");
                return ONCE_HEALTHY;
        }
        g = obs->unit.gate;
        /* The MTA failing (README "When the daemon dies"): not healthy. */
        if (g == UNIT_GATE_DEAD) {
                if (obs->unit.pid_file_pid != 0)
                        (void) snprintf(reason, size, "dead: unit %s/%s, but PID %" PRIu32 " of its PID file is gone",
                                        obs->unit.active_state, obs->unit.sub_state, obs->unit.pid_file_pid);
                else
                        (void) snprintf(reason, size, "dead: unit %s/%s, but its PID file names no process",
                                        obs->unit.active_state, obs->unit.sub_state);
                return ONCE_STALLED;
        }
        if (g != UNIT_GATE_RUNNING) {
                (void) snprintf(reason, size, "unit %s/%s: not running, not ours to restart",
                                obs->unit.active_state, obs->unit.sub_state);
                return ONCE_HEALTHY;
        }
        if (q->backlog < p->min_backlog) {
                (void) snprintf(reason, size, "healthy: backlog %u", q->backlog);
                return ONCE_HEALTHY;
        }
        if (attempts(&obs->activity) > 0) {
                (void) snprintf(reason, size, "healthy: %" PRIu64 " delivery attempt(s) in the last %s",
                                attempts(&obs->activity), w);
                return ONCE_HEALTHY;
        }
        /* before the failures: while the MTA waits by its own rule, its
         * deferrals ("connection refused" from Sendmail's host status
         * cache too) are that rule */
        if (q->wait_left_usec > 0) {
                fmt_secs(o, sizeof(o), q->wait_left_usec);
                (void) snprintf(reason, size, "healthy: backlog %u, the MTA waits %s more by its own rule: %s",
                                q->backlog, o, q->wait_reason);
                return ONCE_HEALTHY;
        }
        if (sum_causes(obs->activity.fixable) + obs->activity.mta_errors > 0) {
                FailureCause c = dominant_cause(&obs->activity, &(ActivityCounts) {}, true);
                char ct[ACTIVITY_PEER_MAX + 32];

                (void) snprintf(reason, size, "stalled: %" PRIu64 " failure(s) a restart may fix (%s) in the last %s",
                                sum_causes(obs->activity.fixable) + obs->activity.mta_errors,
                                cause_text(ct, sizeof(ct), c, obs->samples.causes[c].peer), w);
                return ONCE_STALLED;
        }
        if (q->schedule_known ? q->most_overdue_usec >= p->stall_after_usec : q->oldest_age_usec >= p->stall_after_usec) {
                fmt_secs(o, sizeof(o), q->schedule_known ? q->most_overdue_usec : q->oldest_age_usec);
                (void) snprintf(reason, size, "stalled: backlog %u, %s %s, nothing attempted in the last %s",
                                q->backlog, q->schedule_known ? "a message overdue by" : "oldest message", o, w);
                return ONCE_STALLED;
        }
        (void) snprintf(reason, size, "healthy: backlog %u, nothing overdue by %s yet (the MTA waits out its own schedule)",
                        q->backlog, w);
        return ONCE_HEALTHY;
}
