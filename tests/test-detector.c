/* SPDX-License-Identifier: MIT */
/* Detector timelines: every tick is fed at an exact time and the expected
 * decisions are asserted at exact ticks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "detector.h"

#define S(x) ((uint64_t) (x) * USEC_PER_SEC)

enum { OK = PROBE_OK, FAIL = PROBE_FAIL, UNK = PROBE_UNKNOWN };

#define TABLE_ROWS_MAX 128

/* How often each row of the transition table was taken, over all timelines
 * run so far (test_transition_table_covered() runs last and reads it). */
static unsigned table_hits[TABLE_ROWS_MAX];

typedef struct Timeline {
        Detector d;
        DetectorParams p;
        DetectorOutput out;
        /* what happened over the whole run */
        unsigned n_actions, n_events[_EVENT_KIND_MAX];
        uint64_t first_action_at;
        unsigned incidents_opened, incidents_closed;
        unsigned *hits;         /* per row of the transition table */
} Timeline;

static void tl_init(Timeline *tl) {
        memset(tl, 0, sizeof(*tl));
        tl->p = (DetectorParams) {
                .fail_threshold = 2,
                .ok_threshold = 2,
                .restore_grace_usec = S(60),
                .stall_after_usec = S(300),
                .verify_after_usec = S(120),
                .min_backlog = 1,
                .actions = { ACTION_RESTART },
                .n_actions = 1,
                .max_restarts = 3,
                .restart_window_usec = S(3600),
                .unknown_alert_after_usec = S(600),
                .outage_alert_after_usec = 0,
                .giveup_holddown_usec = S(3600),
        };
        tl->first_action_at = UINT64_MAX;
        tl->hits = table_hits;
        detector_init(&tl->d, 0);
}

static const char *event_name(EventKind e) {
        return event_kind_to_string(e) ?: "none";
}

/* The row of the transition table that T took; fails the test when none. */
static size_t table_row(const Transition *t) {
        const DetectorTransitionRule *rows;
        size_t n;

        rows = detector_transition_table(&n);
        assert_true(n <= TABLE_ROWS_MAX);
        for (size_t i = 0; i < n; i++)
                if (rows[i].from == t->from && rows[i].to == t->to && rows[i].event == t->event)
                        return i;
        fail_msg("transition %s -> %s (%s) is not in the transition table: \"%s\"",
                 detector_state_to_string(t->from), detector_state_to_string(t->to),
                 event_name(t->event), t->reason);
        return SIZE_MAX;
}

static void tl_account(Timeline *tl, uint64_t t) {
        for (size_t i = 0; i < tl->out.n_transitions; i++)
                tl->hits[table_row(&tl->out.transitions[i])]++;
        for (size_t i = 0; i < tl->out.n_transitions; i++)
                if (tl->out.transitions[i].event >= 0)
                        tl->n_events[tl->out.transitions[i].event]++;
        if (tl->out.act) {
                tl->n_actions++;
                if (tl->first_action_at == UINT64_MAX)
                        tl->first_action_at = t;
        }
        tl->incidents_opened += tl->out.incident_opened;
        tl->incidents_closed += tl->out.incident_closed;
}

/* The MTA's unit as most timelines see it: active, running, no MainPID
 * (Debian's postfix@-.service). */
static const UnitState unit_running = { "active", "running", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_RUNNING };

/* The MTA's daemon, as a sysv-generated unit shows it (Debian's
 * exim4.service): active/exited, no MainPID; the PID file says. */
static const UnitState unit_exim_running = { "active", "exited", "success", 0, false, 0, 0, true, 4242, true, UNIT_GATE_RUNNING };
static const UnitState unit_exim_dead = { "active", "exited", "success", 0, false, 0, 0, true, 4242, false, UNIT_GATE_DEAD };
static const UnitState unit_exim_new = { "active", "exited", "success", 0, false, 0, 0, true, 5151, true, UNIT_GATE_RUNNING };

static void step(Timeline *tl, uint64_t t, const Observation *o) {
        detector_step(&tl->d, &tl->p, o, S(t), &tl->out);
        tl_account(tl, S(t));
}

/* One probe round at T seconds: no schedule known, no log activity, unit running. */
static void tick(Timeline *tl, uint64_t t, int reach, int qs, unsigned backlog, const char *oldest) {
        Observation o = {
                .reach = (ProbeStatus) reach,
                .queue_status = (ProbeStatus) qs,
                .queue = { .backlog = backlog },
                .activity_status = PROBE_OK,
                .unit_status = PROBE_OK,
                .unit = unit_running,
        };
        snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "%s", oldest ? oldest : "");
        step(tl, t, &o);
}

/* Same round repeated every 10 s over [from, to]. */
static void ticks(Timeline *tl, uint64_t from, uint64_t to, int reach, int qs, unsigned backlog, const char *oldest) {
        for (uint64_t t = from; t <= to; t += 10)
                tick(tl, t, reach, qs, backlog, oldest);
}

static void action_done(Timeline *tl, uint64_t t, bool ok) {
        detector_action_done(&tl->d, &tl->p, ok, ok ? "new MainPID" : "job failed", S(t), &tl->out);
        tl_account(tl, S(t));
}

/* Outage, network back, the queue drains by itself: no restart. */
static void test_outage_then_healthy_drain(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 400, FAIL, OK, 20, "A");          /* 20 messages wait */
        assert_int_equal(tl.d.state, DETECTOR_OUTAGE);
        ticks(&tl, 410, 440, OK, OK, 20, "A");            /* MTA waits out its backoff */
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        tick(&tl, 450, OK, OK, 12, "C");                  /* retries succeed */
        ticks(&tl, 460, 470, OK, OK, 3, "K");
        ticks(&tl, 480, 1200, OK, OK, 0, NULL);

        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 1);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_ENDED], 1);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_int_equal(tl.incidents_opened, 1);
        assert_int_equal(tl.incidents_closed, 1);
}

/* Long outage: restore_grace is the later condition. Backlog appears at
 * t=100 (last progress t=90, queue empty), DOWN at 110, UP at 420:
 * grace ends at 480, stall_after (300 s from 90) at 390 -> restart at 480. */
static void test_outage_then_stall_grace_decides(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 400, FAIL, OK, 20, "A");
        ticks(&tl, 410, 470, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        tick(&tl, 480, OK, OK, 20, "A");

        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(480));
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].to, DETECTOR_STALLED);
        assert_int_equal(tl.out.transitions[0].event, EVENT_STALL_DETECTED);
        assert_string_equal(tl.out.transitions[0].reason,
                            "no progress for 6m30s with backlog 20 while reachability has been up for 1m");
        assert_int_equal(tl.out.transitions[1].to, DETECTOR_REMEDIATING);
        assert_int_equal(tl.out.transitions[1].event, EVENT_ACTION_STARTED);
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);

        /* Restart done at 500; the queue moves at 520: succeeded + recovered. */
        ticks(&tl, 490, 490, OK, OK, 20, "A");
        action_done(&tl, 500, true);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 510, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 520, OK, OK, 4, "Q");
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_SUCCEEDED);
        assert_int_equal(tl.out.transitions[1].event, EVENT_RECOVERED);
        assert_true(tl.out.incident_closed);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        ticks(&tl, 530, 2000, OK, OK, 0, NULL);

        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.incidents_opened, 1);
        assert_int_equal(tl.incidents_closed, 1);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 1);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
}

/* Short outage: stall_after is the later condition. Last progress 90,
 * DOWN at 110, UP at 150, grace ends 210, stall at 390 -> restart at 390. */
static void test_outage_then_stall_stall_after_decides(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 130, FAIL, OK, 20, "A");
        ticks(&tl, 140, 380, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        tick(&tl, 390, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(390));
}

/* The network never comes back: never a restart, one outage.started. */
static void test_outage_never_ends(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 3 * 3600, FAIL, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 1);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_ENDED], 0);
        assert_int_equal(tl.d.state, DETECTOR_OUTAGE);
}

/* An empty queue is never stalled, whatever the network does. */
static void test_empty_queue_never(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 600, OK, OK, 0, NULL);
        ticks(&tl, 610, 900, FAIL, OK, 0, NULL);
        ticks(&tl, 910, 5000, OK, OK, 0, NULL);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* Single failures alternating with successes never reach fail_threshold:
 * reachability stays UP, no outage events, and the stuck queue is acted on
 * as if the flaps had not happened (stall clock and grace keep running). */
static void test_flapping_link_hysteresis(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);               /* UP at 10, last progress 90 */
        for (uint64_t t = 100; t < 380; t += 20) {
                tick(&tl, t, FAIL, OK, 20, "A");
                tick(&tl, t + 10, OK, OK, 20, "A");
        }
        tick(&tl, 380, OK, OK, 20, "A");
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 0);
        assert_int_equal(tl.d.reach, REACH_UP);
        assert_int_equal(tl.n_actions, 0);
        /* A lone failure at the decisive tick: no decision on a round
         * that did not see the relay; the next good round decides. */
        tick(&tl, 390, FAIL, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.reach, REACH_UP);
        tick(&tl, 400, UNK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        tick(&tl, 410, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(410));
}

/* Packets dropped upstream: the probe stops answering (UNKNOWN when its
 * run overlaps the next round). Unknown rounds leave the hysteresis alone,
 * but no stall is ever declared on them. */
static void test_unanswered_probe_never_stalls(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 3000, UNK, OK, 20, "A");
        assert_int_equal(tl.d.reach, REACH_UP);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
}

/* A queue probe that only answers UNKNOWN never yields "stalled", and it
 * does not reset the stall clock either. */
static void test_unknown_queue_never(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 130, FAIL, UNK, 0, NULL);
        ticks(&tl, 140, 5000, OK, UNK, 0, NULL);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);

        /* Once it answers with a stuck queue, the clock has kept running. */
        tick(&tl, 5010, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
}

/* The restart did not help: verify_after passes without progress, the
 * ladder (one step) is exhausted -> action.failed + gave_up, then nothing. */
static void test_restart_without_progress_gives_up(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 380, OK, OK, 20, "A");
        tick(&tl, 390, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        action_done(&tl, 395, true);
        ticks(&tl, 400, 510, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 520, OK, OK, 20, "A");                  /* 125 s >= verify_after */
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_FAILED);
        assert_int_equal(tl.out.transitions[1].event, EVENT_GAVE_UP);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        ticks(&tl, 530, 3000, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 1);

        /* Progress ends the incident. */
        tick(&tl, 3010, OK, OK, 19, "B");
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(tl.incidents_closed, 1);
}

/* Ladder flush -> restart: a failed flush moves straight to the restart. */
static void test_ladder_flush_then_restart(void **state) {
        Timeline tl;
        tl_init(&tl);
        tl.p.actions[0] = ACTION_FLUSH;
        tl.p.actions[1] = ACTION_RESTART;
        tl.p.n_actions = 2;

        /* Backlog from the start: the stall clock runs from t=0. */
        ticks(&tl, 0, 290, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        tick(&tl, 300, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        action_done(&tl, 392, false);
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_FAILED);
        assert_string_equal(tl.out.transitions[0].reason, "flush failed: job failed");
        assert_int_equal(tl.out.transitions[1].event, EVENT_ACTION_STARTED);
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(392)), 1);
}

/* Budget: max_restarts=2 per 1h. Stalls keep coming back right after
 * each recovery; the third restart inside the window is refused. */
static void test_restart_budget(void **state) {
        Timeline tl;
        tl_init(&tl);
        tl.p.max_restarts = 2;
        tl.p.stall_after_usec = S(60);
        tl.p.restore_grace_usec = 0;

        uint64_t t = 0;
        char id[8];
        for (unsigned round = 0; round < 3; round++) {
                snprintf(id, sizeof(id), "M%u", round);
                tick(&tl, t, OK, OK, 0, NULL);            /* drained: progress */
                t += 10;
                for (unsigned i = 0; i < 20 && !tl.out.act && tl.d.state != DETECTOR_GAVE_UP; i++, t += 10)
                        tick(&tl, t, OK, OK, 5, id);
                if (tl.d.state == DETECTOR_GAVE_UP)
                        break;
                action_done(&tl, t, true);
                t += 10;
                tick(&tl, t, OK, OK, 0, NULL);            /* recovered */
                t += 10;
        }
        assert_int_equal(tl.n_actions, 2);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        assert_string_equal(tl.out.transitions[tl.out.n_transitions - 1].reason,
                            "restart budget spent: 2 of 2 restarts used in 1h");
}


/* ---- The case catalog (README "How it decides": when it restarts, and when it does not) ----
 * A timeline is a function of t: the test builds each round's observation
 * and feeds it every 10 s. Parameters as in tl_init() unless set:
 * fail 2, ok 2, restore_grace 60 s, stall_after 300 s, verify_after 120 s. */

typedef struct Round {
        int reach;
        int qs;
        unsigned backlog;
        const char *oldest;
        bool schedule;           /* the queue probe reads a schedule */
        unsigned overdue;
        uint64_t slack;          /* the probe's overdue_slack, µs (0: overdue counts at once) */
        ActivityCounts act;
        int unit_status;
        UnitState unit;
        uint64_t wait;           /* QueueStats.wait_left_usec, µs */
} Round;

/* As the activity probe counts them: a connection error to a probed peer
 * is also a failure of class connect-failure that a restart may fix. */
static ActivityCounts with_causes(ActivityCounts a) {
        a.failures[CAUSE_CONNECT_FAILURE] += a.conn_errors + a.conn_errors_probed;
        a.fixable[CAUSE_CONNECT_FAILURE] += a.conn_errors_probed;
        return a;
}

static void feed(Timeline *tl, uint64_t t, const Round *r) {
        Observation o = {
                .reach = (ProbeStatus) r->reach,
                .queue_status = (ProbeStatus) r->qs,
                .queue = {
                        .backlog = r->backlog,
                        .schedule_known = r->schedule,
                        .overdue = r->overdue,
                        .slack_usec = r->slack,
                        .wait_left_usec = r->wait,
                },
                .activity_status = PROBE_OK,
                .activity = with_causes(r->act),
                .unit_status = (ProbeStatus) r->unit_status,
                .unit = r->unit,
        };
        snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "%s", r->oldest ? r->oldest : "");
        step(tl, t, &o);
}

static Round round_ok(unsigned backlog, const char *oldest) {
        return (Round) {
                .reach = OK, .qs = OK, .backlog = backlog, .oldest = oldest,
                .schedule = true, .unit_status = OK, .unit = unit_running,
        };
}

/* 1. After an outage Postfix waits out its backoff: nothing is overdue, so
 * no restart however long it takes; once messages are overdue beyond the
 * slack and nothing is attempted, restart at exactly that tick. */
static void test_catalog_01_backoff(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 90; t += 10)
                r = round_ok(0, NULL), feed(&tl, t, &r);
        for (uint64_t t = 100; t <= 400; t += 10)
                r = round_ok(20, "A"), r.reach = FAIL, feed(&tl, t, &r);
        for (uint64_t t = 410; t <= 1000; t += 10)      /* next attempts still ahead */
                r = round_ok(20, "A"), feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);

        r = round_ok(20, "A"), r.overdue = 20, feed(&tl, 1010, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(1010));
        assert_string_equal(tl.out.transitions[0].reason,
                            "no progress for 15m20s with backlog 20, 20 overdue while reachability has been up for 9m50s");
}

/* 2. One destination greylists (or is down) while other mail is sent:
 * the oldest message never leaves, it is even overdue, but deliveries go
 * on: never a restart. */
static void test_catalog_02_greylisting(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 3 * 3600; t += 10) {
                r = round_ok(5, "G");
                r.overdue = 5;
                r.act.sent = t / 60;          /* other mail leaves every minute */
                r.act.deferred = t / 300;     /* 450 4.7.1 greylisted, every 5 min */
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* 3. Quiet hours: the whole queue is mail for one dead domain. Postfix
 * tries on its schedule (connection refused, a peer nobody probes) and is
 * never late: no restart. */
static void test_catalog_03_dead_domain(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 6 * 3600; t += 10) {
                r = round_ok(3, "D");
                r.act.conn_errors = 3 * (t / 1000);   /* an attempt every 1000 s */
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
}

/* 4. A big healthy queue (500) draining steadily over 20 minutes. */
static void test_catalog_04_big_draining_queue(void **state) {
        Timeline tl;
        Round r;
        char id[16];
        tl_init(&tl);

        for (uint64_t t = 0; t <= 1200; t += 10) {
                unsigned left = 500 - 25 * (unsigned) (t / 60);
                snprintf(id, sizeof(id), "Q%u", 500 - left);
                r = round_ok(left, left ? id : NULL);
                r.overdue = left / 2;
                r.act.sent = 500 - left;
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* 5. Hung delivery agent: the relay answers, the queue grows from 1 to 400
 * over hours without a single log line. Message k arrives at 10k s and is
 * overdue once it sat longer than the slack (360 s): the first one at 380 s;
 * no progress since 0 s -> restart at 380 s. */
static void test_catalog_05_hung_delivery_agent(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        r = round_ok(0, NULL), feed(&tl, 0, &r);
        for (uint64_t t = 10; t <= 4000 && tl.n_actions == 0; t += 10) {
                unsigned n = (unsigned) (t / 10);
                r = round_ok(n > 400 ? 400 : n, "H1");
                r.overdue = 0;
                for (unsigned k = 1; k <= n; k++)
                        if (t - 10 * k > 360)
                                r.overdue++;
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(380));
        assert_int_equal(tl.out.action, ACTION_RESTART);
}

/* 6. After a restart the burst meets remote throttling (421/450 "slow
 * down"): deferrals and a trickle of deliveries are progress, not a new
 * stall. */
static void test_catalog_06_throttled_burst_after_restart(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 290; t += 10)
                r = round_ok(200, "B"), r.overdue = 200, feed(&tl, t, &r);
        r = round_ok(200, "B"), r.overdue = 200, feed(&tl, 300, &r);
        assert_int_equal(tl.n_actions, 1);
        action_done(&tl, 310, true);
        for (uint64_t t = 320; t <= 320 + 3600; t += 10) {
                uint64_t since = t - 320;
                r = round_ok(200 - (unsigned) (since / 60), "B");
                r.overdue = 150;
                r.act.deferred = 10 * (since / 30);   /* 421 4.7.0 try again later */
                r.act.sent = since / 60;
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 1);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* 7. Postfix's master is stopped behind systemd's back: mail waits in
 * maildrop (postqueue would hang), the spool probe keeps answering and the
 * messages grow overdue: stalled -> restart at the first tick where both
 * hold (no progress since 0 s: 300 s; first message overdue: 400 s). */
static void test_catalog_07_master_stopped_maildrop(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        r = round_ok(0, NULL), feed(&tl, 0, &r);
        for (uint64_t t = 10; t <= 1000 && tl.n_actions == 0; t += 10) {
                r = round_ok((unsigned) (t / 30) + 1, "M0");
                r.overdue = t >= 400 ? (unsigned) ((t - 370) / 30) : 0;
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(400));
}

/* 8. An administrator stops the MTA's unit with mail queued: one
 * mta.stopped, never a restart; started again, it drains, still nothing. */
static void test_catalog_08_admin_stop(void **state) {
        static const UnitState stopped = { "inactive", "dead", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_STOPPED };
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 100; t += 10)
                r = round_ok(10, "S"), feed(&tl, t, &r);
        for (uint64_t t = 110; t <= 4 * 3600; t += 10)
                r = round_ok(10, "S"), r.overdue = 10, r.unit = stopped, feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_MTA_STOPPED], 1);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);

        /* Started again: a clean slate, and it drains. */
        for (uint64_t t = 4 * 3600 + 10; t <= 4 * 3600 + 200; t += 10)
                r = round_ok(10, "S"), r.overdue = 10, feed(&tl, t, &r);
        r = round_ok(0, NULL), feed(&tl, 4 * 3600 + 210, &r);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_MTA_STOPPED], 1);
}

/* 9. The unit failed with start-limit-hit: one critical mta.failed naming
 * the result, no restart (systemd's own limit is never hammered). */
static void test_catalog_09_start_limit_hit(void **state) {
        static const UnitState failed = { "failed", "failed", "start-limit-hit", 0, false, 0, 0, false, 0, false, UNIT_GATE_FAILED };
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 100; t += 10)
                r = round_ok(10, "F"), feed(&tl, t, &r);
        for (uint64_t t = 110; t <= 3 * 3600; t += 10) {
                r = round_ok(10, "F"), r.overdue = 10, r.unit = failed;
                feed(&tl, t, &r);
                if (t == 110) {
                        assert_int_equal(tl.out.n_transitions, 1);
                        assert_int_equal(tl.out.transitions[0].event, EVENT_MTA_FAILED);
                        assert_string_equal(tl.out.transitions[0].reason,
                                            "unit failed (result start-limit-hit); systemd's own policy applies, no restart");
                }
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_MTA_FAILED], 1);
        assert_string_equal(event_kind_severity(EVENT_MTA_FAILED), "critical");
}

/* 10. The queue probe times out for 10 minutes in the middle of a real
 * stall (due at 300 s): no restart while it is unknown; the stall clock
 * keeps running, so the restart comes at the first answer (860 s); one
 * observation.unknown, at 240 + 600 = 840 s. */
static void test_catalog_10_queue_probe_times_out(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        r = round_ok(0, NULL), feed(&tl, 0, &r);
        for (uint64_t t = 10; t <= 230; t += 10)
                r = round_ok(20, "A"), r.overdue = 20, feed(&tl, t, &r);
        for (uint64_t t = 240; t <= 850; t += 10) {
                r = round_ok(0, NULL), r.qs = UNK, feed(&tl, t, &r);
                if (t == 840) {
                        assert_int_equal(tl.out.n_transitions, 1);
                        assert_int_equal(tl.out.transitions[0].event, EVENT_OBSERVATION_UNKNOWN);
                        assert_string_equal(tl.out.transitions[0].reason,
                                            "queue unknown for 10m: no decision is taken on it");
                }
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_OBSERVATION_UNKNOWN], 1);
        r = round_ok(20, "A"), r.overdue = 20, feed(&tl, 860, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(860));
        assert_int_equal(tl.n_events[EVENT_OBSERVATION_UNKNOWN], 1);
}

/* 11. The link flaps every 20 s (20 s down, 20 s up: the hysteresis flips
 * each time) for 10 minutes with a stuck MTA: no outage.* alerts for
 * outages shorter than outage_alert_after; restore_grace counts from the
 * last flip, so the restart comes 60 s after the flapping ends. */
static void test_catalog_11_flapping_link(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);
        tl.p.outage_alert_after_usec = S(60);

        r = round_ok(0, NULL), feed(&tl, 0, &r);
        for (uint64_t t = 10; t < 610; t += 10) {
                r = round_ok(20, "A"), r.overdue = 20;
                r.reach = ((t - 10) / 20) % 2 == 0 ? FAIL : OK;
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 0);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_ENDED], 0);
        /* Last flip to UP at 600 (OK at 590 and 600). */
        assert_int_equal(tl.d.reach, REACH_UP);
        for (uint64_t t = 610; t <= 700 && tl.n_actions == 0; t += 10)
                r = round_ok(20, "A"), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(660));
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 0);
}

/* 12. An empty queue during a DNS outage while bounces are logged: no
 * restart; the bounces of the incident are counted for the next alert. */
static void test_catalog_12_dns_outage_bounces(void **state) {
        Timeline tl;
        Round r;
        ActivityCounts inc = {};
        tl_init(&tl);
        tl.p.outage_alert_after_usec = S(60);

        for (uint64_t t = 0; t <= 90; t += 10)
                r = round_ok(0, NULL), r.act.sent = 40, feed(&tl, t, &r);
        for (uint64_t t = 100; t <= 1000; t += 10) {
                r = round_ok(0, NULL), r.reach = FAIL;
                r.act.sent = 40, r.act.bounced = (t - 100) / 100;  /* 9 by 1000 s */
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 1);
        for (uint64_t t = 1010; t <= 1020; t += 10) {
                r = round_ok(0, NULL), r.act.sent = 40, r.act.bounced = 9;
                feed(&tl, t, &r);
                if (tl.out.n_transitions == 1 && tl.out.transitions[0].event == EVENT_OUTAGE_ENDED)
                        inc = detector_incident_activity(&tl.d, NULL);
        }
        assert_int_equal(tl.n_events[EVENT_OUTAGE_ENDED], 1);
        assert_int_equal(inc.bounced, 9);
        assert_int_equal(inc.sent, 0);
        assert_int_equal(tl.n_actions, 0);
}

/* 13. The network is back and the relay answers our probe, but the MTA
 * keeps logging connection failures to that same relay at its retry
 * interval. Those are not progress, and although each retry reschedules
 * the messages (none overdue), it is the stuck pattern. Errors count once
 * reachability has been up for restore_grace (UP at 420, grace until 480):
 * the first one after that is logged at 520 -> restart at 520. */
static void test_catalog_13_conn_errors_to_reachable_relay(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 90; t += 10)
                r = round_ok(0, NULL), feed(&tl, t, &r);
        for (uint64_t t = 100; t <= 400; t += 10) {
                r = round_ok(20, "A"), r.reach = FAIL;
                r.act.conn_errors_probed = 20 * ((t - 100) / 60);
                feed(&tl, t, &r);
        }
        for (uint64_t t = 410; t <= 600 && tl.n_actions == 0; t += 10) {
                r = round_ok(20, "A");
                r.act.conn_errors_probed = 20 * ((t - 100) / 60);
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 1);

        assert_true(tl.first_action_at == S(520));
}
/* 18. Sendmail after an outage: the relay's host status says "failed"
 * and sendmail trusts it for Timeout.hoststatus (30 min), deferring every
 * queue run's mail with the stored "Connection refused by relay" without
 * connecting (probes/sendmail.c). Those lines look like the stuck pattern
 * of 13, but the queue probe reports the wait: no stall while it lasts;
 * once it is over and the same failures go on, the stall of 13. */
static void test_catalog_18_host_status_wait(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 90; t += 10)
                r = round_ok(0, NULL), feed(&tl, t, &r);
        for (uint64_t t = 100; t <= 400; t += 10) {
                r = round_ok(20, "A"), r.reach = FAIL;
                r.act.conn_errors_probed = 20 * ((t - 100) / 60);
                feed(&tl, t, &r);
        }
        /* the last real attempt at 400: trusted until 2200 */
        for (uint64_t t = 410; t < 2200; t += 10) {
                r = round_ok(20, "A");
                r.act.conn_errors_probed = 20 * ((t - 100) / 60);
                r.wait = S(2200 - t);
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        for (uint64_t t = 2200; t <= 2400 && tl.n_actions == 0; t += 10) {
                r = round_ok(20, "A");
                r.act.conn_errors_probed = 20 * ((t - 100) / 60);
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(2200));
}

/* 14. A realtime clock step (or anything else that moves the schedule's
 * time stamps: here 20 deferred messages due in hours suddenly look 10
 * minutes overdue) on a healthy Postfix with a slack of 120 s. The stall
 * clock ran out long ago and nothing else holds a restart back: overdue
 * counts only once it has been seen for the slack on the monotonic clock.
 * Postfix picks the messages up within queue_run_delay and the queue
 * drains before that: no restart, ever. */
static void test_catalog_14_overdue_at_once_drains(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 1000; t += 10)         /* due in 3 h: waiting */
                r = round_ok(20, "A"), r.slack = S(120), feed(&tl, t, &r);
        for (uint64_t t = 1010; t <= 1120; t += 10)      /* overdue, not seen for 120 s yet */
                r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.overdue_since_usec, S(1010));
        r = round_ok(0, NULL), r.slack = S(120), r.act.sent = 20, feed(&tl, 1130, &r);
        for (uint64_t t = 1140; t <= 3000; t += 10)
                r = round_ok(0, NULL), r.slack = S(120), r.act.sent = 20, feed(&tl, t, &r);
        assert_int_equal(tl.d.overdue_since_usec, 0);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* 15. The same, but the MTA really is stuck: the messages stay overdue, and
 * the restart comes at exactly the slack after they were first seen
 * overdue (1010 s + 120 s); an unknown queue round in between neither
 * restarts nor breaks that clock. A known round with nothing overdue does
 * break it (1050 s): then 1060 s + 120 s. */
static void test_catalog_15_overdue_seen_for_slack(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 1000; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), feed(&tl, t, &r);
        for (uint64_t t = 1010; t <= 1120; t += 10) {
                r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20;
                if (t == 1060)
                        r.qs = UNK;
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, 1130, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(1130));
        assert_string_equal(tl.out.transitions[0].reason,
                            "no progress for 18m50s with backlog 20, 20 overdue while reachability has been up for 18m40s");

        tl_init(&tl);
        for (uint64_t t = 0; t <= 1000; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), feed(&tl, t, &r);
        for (uint64_t t = 1010; t <= 1100; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), r.overdue = (t == 1050 ? 0 : 20), feed(&tl, t, &r);
        assert_int_equal(tl.d.overdue_since_usec, S(1060));
        for (uint64_t t = 1110; t <= 1170; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 0);
        r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, 1180, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(1180));
}

/* 16. The realtime clock is set while messages look overdue: the clock of
 * "seen overdue" starts again at the step (1100 s), so the restart waits
 * until 1100 s + 120 s instead of 1010 s + 120 s. A step while nothing is
 * overdue changes nothing. */
static void test_catalog_16_clock_step_restarts_overdue_clock(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 1000; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), feed(&tl, t, &r);
        detector_clock_stepped(&tl.d, S(1005));
        assert_int_equal(tl.d.overdue_since_usec, 0);
        for (uint64_t t = 1010; t <= 1100; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.d.overdue_since_usec, S(1010));
        detector_clock_stepped(&tl.d, S(1105));
        assert_int_equal(tl.d.overdue_since_usec, S(1105));
        for (uint64_t t = 1110; t <= 1220; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 0);
        r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, feed(&tl, 1230, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(1230));
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 1);
}

/* 17. Connection errors to the relay that our probe reaches need no
 * schedule: they still count at once, however fresh the overdue clock. */
static void test_catalog_17_probed_errors_need_no_overdue_clock(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 1000; t += 10)
                r = round_ok(20, "A"), r.slack = S(120), feed(&tl, t, &r);
        detector_clock_stepped(&tl.d, S(1005));
        r = round_ok(20, "A"), r.slack = S(120), r.overdue = 20, r.act.conn_errors_probed = 1, feed(&tl, 1010, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(1010));
}

/* The daemon was killed while verifying its restart: it resumes verifying
 * in the same incident, and progress ends it with succeeded + recovered. */
static void test_restore_verifying(void **state) {
        Timeline tl;
        uint64_t restarts[] = { S(950) };
        tl_init(&tl);

        detector_restore(&tl.d, DETECTOR_REMEDIATING, 0, true, restarts, 1, 0, &tl.p, S(1000));
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        assert_true(tl.d.incident_open);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(1000)), 1);

        ticks(&tl, 1010, 1050, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 1060, OK, OK, 5, "Q");
        assert_int_equal(tl.n_events[EVENT_ACTION_SUCCEEDED], 1);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(tl.incidents_opened, 0);   /* the old incident went on */
        assert_int_equal(tl.incidents_closed, 1);
}

static void action_slow(Timeline *tl, uint64_t t) {
        detector_action_slow(&tl->d, &tl->p, "job /org/freedesktop/systemd1/job/42 after 1m", S(t), &tl->out);
        tl_account(tl, S(t));
}

/* A slow start (ladder restart restart): the restart job outlives
 * restart_timeout. action.slow once, the state stays REMEDIATING through
 * the rounds (no second step, no action.failed), and the job's end is
 * judged as usual: success -> verifying -> recovered. */
static void test_slow_restart_job(void **state) {
        Timeline tl;
        tl_init(&tl);
        tl.p.actions[1] = ACTION_RESTART;
        tl.p.n_actions = 2;

        ticks(&tl, 0, 290, OK, OK, 20, "A");
        tick(&tl, 300, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);

        action_slow(&tl, 360);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_int_equal(tl.out.transitions[0].from, DETECTOR_REMEDIATING);
        assert_int_equal(tl.out.transitions[0].to, DETECTOR_REMEDIATING);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_SLOW);
        assert_int_equal(tl.out.transitions[0].action, ACTION_RESTART);
        assert_string_equal(tl.out.transitions[0].reason,
                            "restart still pending: job /org/freedesktop/systemd1/job/42 after 1m");
        assert_false(tl.out.act);

        /* Reported once per step; rounds meanwhile change nothing (the unit
         * is activating: not looked at while the action runs). */
        action_slow(&tl, 370);
        assert_int_equal(tl.out.n_transitions, 0);
        ticks(&tl, 370, 450, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.n_events[EVENT_ACTION_SLOW], 1);
        assert_int_equal(tl.n_events[EVENT_ACTION_FAILED], 0);

        action_done(&tl, 455, true);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 460, OK, OK, 5, "Q");
        assert_int_equal(tl.n_events[EVENT_ACTION_SUCCEEDED], 1);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(460)), 1);

        /* Outside REMEDIATING it is ignored. */
        action_slow(&tl, 470);
        assert_int_equal(tl.out.n_transitions, 0);
        assert_int_equal(tl.n_events[EVENT_ACTION_SLOW], 1);
}

/* A slow job that then fails: action.failed after all, then the next step;
 * that step may be slow again (once). */
static void test_slow_restart_job_fails(void **state) {
        Timeline tl;
        tl_init(&tl);
        tl.p.actions[1] = ACTION_RESTART;
        tl.p.n_actions = 2;

        ticks(&tl, 0, 300, OK, OK, 20, "A");
        action_slow(&tl, 360);
        action_done(&tl, 400, false);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_FAILED);
        assert_int_equal(tl.out.transitions[1].event, EVENT_ACTION_STARTED);
        assert_true(tl.out.act);
        action_slow(&tl, 460);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_int_equal(tl.n_events[EVENT_ACTION_SLOW], 2);
}

/* The daemon restarted while its restart job was pending: it resumes
 * REMEDIATING (waiting for that job) instead of verifying, with action.slow
 * not sent again when it was sent before. */
static void test_restore_pending_job(void **state) {
        Timeline tl;
        uint64_t restarts[] = { S(950) };
        tl_init(&tl);

        detector_restore(&tl.d, DETECTOR_REMEDIATING, 0, true, restarts, 1, 0, &tl.p, S(1000));
        detector_resume_action(&tl.d, true);
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);
        action_slow(&tl, 1005);
        assert_int_equal(tl.out.n_transitions, 0);
        ticks(&tl, 1010, 1200, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);
        assert_int_equal(tl.n_actions, 0);
        action_done(&tl, 1205, true);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 1210, OK, OK, 5, "Q");
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(tl.incidents_opened, 0);

        /* Nothing to resume outside an incident. */
        detector_restore(&tl.d, DETECTOR_HEALTHY, 0, false, restarts, 1, 0, &tl.p, S(1300));
        detector_resume_action(&tl.d, false);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* Killed and restarted in a loop: the persisted budget still holds. With
 * max_restarts restarts already in the window, the next stall gives up. */
static void test_restore_budget_spent(void **state) {
        Timeline tl;
        uint64_t restarts[] = { S(100), S(200), S(300) };
        tl_init(&tl);

        detector_restore(&tl.d, DETECTOR_HEALTHY, 0, false, restarts, 3, 0, &tl.p, S(400));
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_false(tl.d.incident_open);
        ticks(&tl, 400, 990, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);

        /* Restarts older than the window do not count. */
        detector_restore(&tl.d, DETECTOR_HEALTHY, 0, false, restarts, 3, 0, &tl.p, S(3700));
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(3700)), 2);
}

/* giveup_holddown: after giving up, nothing for an hour; then the stall
 * clock starts afresh and, with budget left, the ladder runs again. */
static void test_giveup_holddown(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 290, OK, OK, 20, "A");
        tick(&tl, 300, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        action_done(&tl, 305, true);
        ticks(&tl, 310, 420, OK, OK, 20, "A");
        tick(&tl, 430, OK, OK, 20, "A");                  /* 125 s without progress */
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        ticks(&tl, 440, 4020, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        tick(&tl, 4030, OK, OK, 20, "A");                 /* 430 + 3600 */
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_int_equal(tl.n_actions, 1);
        ticks(&tl, 4040, 4320, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        tick(&tl, 4330, OK, OK, 20, "A");                 /* 4030 + 300 */
        assert_int_equal(tl.n_actions, 2);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 2);
}

/* --once: one round, no history; exact verdicts and reasons. */
static void test_judge_once(void **state) {
        Timeline tl;
        Round r;
        char why[256];
        tl_init(&tl);

#define JUDGE(expect, text) do {                                                            \
                Observation o = {                                                           \
                        .reach = (ProbeStatus) r.reach, .queue_status = (ProbeStatus) r.qs, \
                        .queue = { .backlog = r.backlog, .schedule_known = r.schedule,      \
                                   .overdue = r.overdue,                                    \
                                   .most_overdue_usec = r.overdue ? S(400) : 0 },           \
                        .activity_status = PROBE_OK, .activity = with_causes(r.act),        \
                        .unit_status = (ProbeStatus) r.unit_status, .unit = r.unit,         \
                };                                                                          \
                assert_int_equal(detector_judge_once(&tl.p, &o, why, sizeof(why)), expect); \
                assert_string_equal(why, text);                                             \
        } while (0)

        r = round_ok(20, "A"), r.overdue = 20;
        JUDGE(ONCE_STALLED, "stalled: backlog 20, a message overdue by 6m40s, nothing attempted in the last 5m");
        r.act.deferred = 2;
        JUDGE(ONCE_HEALTHY, "healthy: 2 delivery attempt(s) in the last 5m");
        r = round_ok(20, "A"), r.act.conn_errors_probed = 4;
        JUDGE(ONCE_STALLED, "stalled: 4 failure(s) a restart may fix (connect-failure) in the last 5m");
        r = round_ok(20, "A");
        JUDGE(ONCE_HEALTHY, "healthy: backlog 20, nothing overdue by 5m yet (the MTA waits out its own schedule)");
        {
                /* Sendmail's host status wait: its cached failures are no stall */
                Observation o = {
                        .reach = PROBE_OK, .queue_status = PROBE_OK,
                        .queue = { .backlog = 20, .schedule_known = true, .overdue = 20,
                                   .most_overdue_usec = S(400), .wait_left_usec = S(1500),
                                   .wait_reason = "host status of relay.example: Deferred: Connection refused by "
                                                  "relay.example, trusted until 00:10:00Z (Timeout.hoststatus 30m)" },
                        .activity_status = PROBE_OK,
                        .activity = with_causes((ActivityCounts) { .conn_errors_probed = 4 }),
                        .unit_status = PROBE_OK, .unit = unit_running,
                };

                assert_int_equal(detector_judge_once(&tl.p, &o, why, sizeof(why)), ONCE_HEALTHY);
                assert_string_equal(why, "healthy: backlog 20, the MTA waits 25m more by its own rule: host status of "
                                         "relay.example: Deferred: Connection refused by relay.example, trusted until "
                                         "00:10:00Z (Timeout.hoststatus 30m)");
        }
        r = round_ok(0, NULL);
        JUDGE(ONCE_HEALTHY, "healthy: backlog 0");
        r = round_ok(20, "A"), r.overdue = 20, r.reach = FAIL;
        JUDGE(ONCE_HEALTHY, "outage: the relay does not answer; a restart would not help");
        r = round_ok(20, "A"), r.overdue = 20, r.qs = UNK;
        JUDGE(ONCE_UNKNOWN, "unknown: the queue probe did not answer");
        r = round_ok(20, "A"), r.overdue = 20, r.reach = UNK;
        JUDGE(ONCE_UNKNOWN, "unknown: a reachability probe did not answer");
        r = round_ok(20, "A"), r.overdue = 20;
        r.unit = (UnitState) { "inactive", "dead", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_STOPPED };
        JUDGE(ONCE_HEALTHY, "unit inactive/dead: not running, not ours to restart");
        r.unit = unit_exim_dead;
        JUDGE(ONCE_STALLED, "dead: unit active/exited, but PID 4242 of its PID file is gone");
        r.unit = unit_exim_dead;
        r.unit.pid_file_pid = 0;
        JUDGE(ONCE_STALLED, "dead: unit active/exited, but its PID file names no process");
#undef JUDGE
}

/* systemd's start limit (StartLimitBurst=3 per 10 min here): with two
 * restarts inside that interval, a third is not issued; gave_up says why. */
static void test_start_limit_respected(void **state) {
        Timeline tl;
        Round r;
        uint64_t restarts[] = { S(100), S(200) };
        tl_init(&tl);
        tl.p.max_restarts = 10;

        detector_restore(&tl.d, DETECTOR_HEALTHY, 0, false, restarts, 2, 0, &tl.p, S(300));
        for (uint64_t t = 300; t <= 700 && tl.d.state != DETECTOR_GAVE_UP; t += 10) {
                r = round_ok(20, "A"), r.overdue = 20;
                r.unit.start_limit_burst = 3;
                r.unit.start_limit_interval_usec = S(600);
                feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        assert_string_equal(tl.out.transitions[tl.out.n_transitions - 1].reason,
                            "a restart now would reach systemd's start limit of the unit "
                            "(StartLimitBurst=3 per 10m, 2 restart(s) by us in it)");
}

/* The operator's reset: out of GAVE_UP at once, budget cleared. */
static void test_operator_reset(void **state) {
        Timeline tl;
        uint64_t restarts[] = { S(100), S(200), S(300) };
        tl_init(&tl);

        detector_restore(&tl.d, DETECTOR_GAVE_UP, 0, true, restarts, 3, 0, &tl.p, S(400));
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        detector_reset(&tl.d, S(410), &tl.out);
        tl_account(&tl, S(410));
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_true(tl.out.incident_closed);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(410)), 0);
        ticks(&tl, 420, 700, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 0);
        tick(&tl, 710, OK, OK, 20, "A");                  /* 410 + 300 */
        assert_int_equal(tl.n_actions, 1);
}

/* The window is half-open: a restart exactly restart_window ago no longer
 * counts, one a microsecond younger does. */
static void test_budget_window_edges(void **state) {
        Timeline tl;
        uint64_t restarts[] = { S(1000), S(2000) };
        tl_init(&tl);

        detector_restore(&tl.d, DETECTOR_HEALTHY, 0, false, restarts, 2, 0, &tl.p, S(2000));
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(1000) + S(3600) - 1), 2);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(1000) + S(3600)), 1);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(2000) + S(3600)), 0);
        /* Restored ones older than the window are dropped at once. */
        detector_restore(&tl.d, DETECTOR_HEALTHY, 0, false, restarts, 2, 0, &tl.p, S(4600));
        assert_int_equal(tl.d.n_restarts, 1);
}

/* Restarted while GAVE_UP: the hold-down runs on from when it gave up. */
static void test_restore_gave_up_keeps_holddown(void **state) {
        Timeline tl;
        tl_init(&tl);

        detector_restore(&tl.d, DETECTOR_GAVE_UP, 0, true, NULL, 0, S(100), &tl.p, S(3650));
        ticks(&tl, 3650, 3690, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        tick(&tl, 3700, OK, OK, 20, "A");                 /* 100 + 3600 */
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* A reload that shortens the ladder while its step runs: no stuck
 * REMEDIATING, it gives up and says why. */
static void test_reload_shrinks_ladder(void **state) {
        Timeline tl;
        tl_init(&tl);
        tl.p.actions[0] = ACTION_FLUSH;
        tl.p.actions[1] = ACTION_RESTART;
        tl.p.n_actions = 2;

        ticks(&tl, 0, 300, OK, OK, 20, "A");
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        action_done(&tl, 305, false);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.d.step, 1);
        tl.p.n_actions = 1;                               /* the reload */
        action_done(&tl, 310, true);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        assert_string_equal(tl.out.transitions[0].reason,
                            "the remediation ladder changed (reload) while step 2 ran");
}

/* The transition that opens an incident says so, wherever it stands in
 * the round's output (here after an observation.unknown). */
static void test_incident_opened_by_later_transition(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);
        tl.p.unknown_alert_after_usec = S(20);

        r = round_ok(0, NULL), feed(&tl, 0, &r);
        r = round_ok(0, NULL), r.qs = UNK, feed(&tl, 10, &r);
        r = round_ok(0, NULL), r.qs = UNK, r.reach = FAIL, feed(&tl, 20, &r);
        r = round_ok(0, NULL), r.qs = UNK, r.reach = FAIL, feed(&tl, 30, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_OBSERVATION_UNKNOWN);
        assert_false(tl.out.transitions[0].opens_incident);
        assert_int_equal(tl.out.transitions[1].to, DETECTOR_OUTAGE);
        assert_true(tl.out.transitions[1].opens_incident);
        assert_true(tl.out.incident_opened);
}

/* ---- Regressions found by trying to break the detector ---- */

/* An empty queue until 90 s, then 20 overdue messages that do not move,
 * until the first action is decided. Returns the time of the round after it. */
static uint64_t stall_until_action(Timeline *tl) {
        Round r;
        uint64_t t = 100;

        for (uint64_t u = 0; u <= 90; u += 10)
                r = round_ok(0, NULL), feed(tl, u, &r);
        for (; t <= 2000 && tl->n_actions == 0; t += 10)
                r = round_ok(20, "A"), r.overdue = 20, feed(tl, t, &r);
        assert_int_equal(tl->n_actions, 1);
        return t;
}

static const UnitState unit_activating = { "activating", "start", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_TRANSITION };
static const UnitState unit_deactivating __attribute__((unused)) = { "deactivating", "stop", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_TRANSITION };
static const UnitState unit_inactive = { "inactive", "dead", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_STOPPED };
static const UnitState unit_failed = { "failed", "failed", "start-limit-hit", 0, false, 0, 0, false, 0, false, UNIT_GATE_FAILED };

/* A. A connection error to the relay does not latch. Relay blips once at t=200 (Postfix
 * logs one "connect to relay: Connection refused"); the probe never sees 3
 * failures so reach stays UP. Hours later the relay 4xx's a message
 * (status=deferred, progress), Postfix waits its backoff (nothing overdue).
 * Expected: no restart. */
static void test_A_probed_error_does_not_latch(void **state) {
        Timeline tl; Round r; ActivityCounts a = {};
        tl_init(&tl);
        for (uint64_t t = 0; t < 200; t += 10) { r = round_ok(0, NULL); r.act = a; feed(&tl, t, &r); }
        a.conn_errors_probed = 1;          /* one blip; queue is empty anyway */
        for (uint64_t t = 200; t < 10000; t += 10) { r = round_ok(0, NULL); r.act = a; feed(&tl, t, &r); }
        a.deferred = 1;                    /* relay said 451 for one message: an attempt */
        for (uint64_t t = 10000; t <= 12000; t += 10) {
                r = round_ok(1, "M1"); r.act = a; r.overdue = 0; feed(&tl, t, &r);
        }
        assert_int_equal(tl.n_actions, 0);
}

/* B. Errors logged during the outage are read in the round in which reach
 * turns UP (ok_threshold reached); they must not count as "while UP".
 * Healthy Postfix then waits out its backoff: no restart. */
static void test_B_outage_errors_counted_as_up(void **state) {
        Timeline tl; Round r; ActivityCounts a = {};
        tl_init(&tl);
        for (uint64_t t = 0; t <= 90; t += 10) { r = round_ok(0, NULL); feed(&tl, t, &r); }
        for (uint64_t t = 100; t <= 400; t += 10) {
                r = round_ok(20, "A"); r.reach = FAIL; a.conn_errors_probed += 2; r.act = a; feed(&tl, t, &r);
        }
        /* t=410 first OK; t=420 second OK -> UP; the journal lines of the last
         * timed-out connects (30 s connect timeout) land in this round */
        r = round_ok(20, "A"); r.act = a; feed(&tl, 410, &r);
        a.conn_errors_probed += 3;
        r = round_ok(20, "A"); r.act = a; feed(&tl, 420, &r);
        assert_int_equal(tl.d.reach, REACH_UP);
        /* Postfix waits out its backoff (up to 4000 s): nothing overdue, nothing logged */
        for (uint64_t t = 430; t <= 2000; t += 10) { r = round_ok(20, "A"); r.act = a; feed(&tl, t, &r); }
        assert_int_equal(tl.n_actions, 0);
}

/* C. Verification must not succeed on the unit state alone: a round during
 * the restart saw "deactivating"/"activating", the first round after
 * action_done sees "active" again, and the queue has not moved. */
static void test_C_verify_needs_queue_progress(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        uint64_t t = stall_until_action(&tl);
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);
        r = round_ok(20, "A"); r.overdue = 20; r.unit = unit_activating; feed(&tl, t, &r); /* during the job */
        action_done(&tl, t + 3, true);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        /* still stuck: nothing moves, nothing logged */
        for (uint64_t u = t + 10; u <= t + 200; u += 10) { r = round_ok(20, "A"); r.overdue = 20; feed(&tl, u, &r); }
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 0);
        assert_int_equal(tl.n_events[EVENT_ACTION_FAILED], 1);
}

/* D. Ladder "flush restart": admin stops the unit during the flush's
 * verification. When verify_after expires, the ladder must not restart a
 * unit the administrator stopped. */
static void test_D_admin_stop_during_verify_no_restart(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        tl.p.actions[0] = ACTION_FLUSH; tl.p.actions[1] = ACTION_RESTART; tl.p.n_actions = 2;
        uint64_t t = stall_until_action(&tl);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        action_done(&tl, t, true);
        for (uint64_t u = t + 10; u <= t + 300; u += 10) {
                r = round_ok(20, "A"); r.overdue = 20; r.unit = unit_inactive; feed(&tl, u, &r);
        }
        assert_int_equal(tl.n_actions, 1);
}

/* D2. Same, unit failed (start-limit-hit) during verification. */
static void test_D2_failed_during_verify_no_restart(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        tl.p.actions[0] = ACTION_FLUSH; tl.p.actions[1] = ACTION_RESTART; tl.p.n_actions = 2;
        uint64_t t = stall_until_action(&tl);
        action_done(&tl, t, true);
        for (uint64_t u = t + 10; u <= t + 300; u += 10) {
                r = round_ok(20, "A"); r.overdue = 20; r.unit = unit_failed; feed(&tl, u, &r);
        }
        assert_int_equal(tl.n_actions, 1);
}

/* E. Our restart leaves the unit failed (start-limit-hit), first seen by a
 * round during REMEDIATING: mta.failed is raised once the action is over. */
static void test_E_failed_during_remediating_alerted(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        uint64_t t = stall_until_action(&tl);
        r = round_ok(20, "A"); r.unit = unit_failed; feed(&tl, t, &r);
        action_done(&tl, t + 5, false);
        for (uint64_t u = t + 10; u <= t + 600; u += 10) { r = round_ok(20, "A"); r.unit = unit_failed; feed(&tl, u, &r); }
        assert_int_equal(tl.n_events[EVENT_MTA_FAILED], 1);
}

/* E2. Admin stops the unit while our restart job runs (stop replaces the job:
 * result "canceled"): once the action is over, one mta.stopped. */
static void test_E2_stopped_during_remediating(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        uint64_t t = stall_until_action(&tl);
        r = round_ok(20, "A"); r.unit = unit_inactive; feed(&tl, t, &r);
        action_done(&tl, t + 5, false);
        for (uint64_t u = t + 10; u <= t + 600; u += 10) { r = round_ok(20, "A"); r.unit = unit_inactive; feed(&tl, u, &r); }
        assert_int_equal(tl.n_events[EVENT_MTA_STOPPED], 1);
}

/* F. GAVE_UP, then a real outage: outage.started once, though given up. */
static void test_F_outage_during_gave_up(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        uint64_t t = stall_until_action(&tl);
        action_done(&tl, t, true);
        for (t += 10; t <= 1500 && tl.d.state != DETECTOR_GAVE_UP; t += 10) { r = round_ok(20, "A"); r.overdue = 20; feed(&tl, t, &r); }
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        for (uint64_t u = t; u <= t + 3600; u += 10) { r = round_ok(20, "A"); r.reach = FAIL; r.overdue = 20; feed(&tl, u, &r); }
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 1);
}

/* G. Two overlapping unknown episodes: queue unknown 0..700 (alerted at 600),
 * journal unknown from 690 for an hour: alerted too. */
static void test_G_overlapping_unknown_episodes_alerted(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        for (uint64_t t = 0; t <= 4400; t += 10) {
                Observation o = {
                        .reach = PROBE_OK,
                        .queue_status = t <= 700 ? PROBE_UNKNOWN : PROBE_OK,
                        .queue = { .backlog = 0 },
                        .activity_status = t >= 690 ? PROBE_UNKNOWN : PROBE_OK,
                        .unit_status = PROBE_OK, .unit = unit_running,
                };
                step(&tl, t, &o);
        }
        (void) r;
        assert_int_equal(tl.n_events[EVENT_OBSERVATION_UNKNOWN], 2);
}

/* H. Activity counters start over (journal probe re-created) with
 * conn_errors_probed only: incident activity must not underflow. */
static void test_H_incident_activity_no_underflow(void **state) {
        Timeline tl; Round r; ActivityCounts a = {};
        tl_init(&tl);
        for (uint64_t t = 0; t <= 90; t += 10) { r = round_ok(0, NULL); feed(&tl, t, &r); }
        for (uint64_t t = 100; t <= 400; t += 10) { r = round_ok(20, "A"); r.reach = FAIL; a.conn_errors_probed += 2; r.act = a; feed(&tl, t, &r); }
        a.conn_errors_probed = 0;
        r = round_ok(20, "A"); r.reach = FAIL; r.act = a; feed(&tl, 410, &r);
        ActivityCounts inc = detector_incident_activity(&tl.d, NULL);
        assert_true(inc.conn_errors_probed < 1000);
}

/* I. GAVE_UP; the admin restarts the unit (inactive -> active), still stuck:
 * no "recovered" while nothing moved. */
static void test_I_gave_up_admin_restart_no_false_recovered(void **state) {
        Timeline tl; Round r;
        tl_init(&tl);
        uint64_t t = stall_until_action(&tl);
        action_done(&tl, t, true);
        for (t += 10; t <= 1500 && tl.d.state != DETECTOR_GAVE_UP; t += 10) { r = round_ok(20, "A"); r.overdue = 20; feed(&tl, t, &r); }
        r = round_ok(20, "A"); r.unit = unit_inactive; feed(&tl, t, &r);
        r = round_ok(20, "A"); r.overdue = 20; feed(&tl, t + 10, &r);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 0);
}



/* ---- Transitions the timelines above do not take ---- */

/* Whether the last call output the transition FROM -> TO raising EV. */
static bool took(const Timeline *tl, DetectorState from, DetectorState to, EventKind ev) {
        for (size_t i = 0; i < tl->out.n_transitions; i++)
                if (tl->out.transitions[i].from == from && tl->out.transitions[i].to == to &&
                    tl->out.transitions[i].event == ev)
                        return true;
        return false;
}

/* The unit is stopped and fails behind our back during an outage and while
 * recovering from it: reported in place, the state stays. */
static void test_unit_changes_during_outage_and_recovery(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 90; t += 10)
                r = round_ok(0, NULL), feed(&tl, t, &r);
        r = round_ok(20, "A"), r.reach = FAIL, feed(&tl, 100, &r);
        r = round_ok(20, "A"), r.reach = FAIL, feed(&tl, 110, &r);
        assert_int_equal(tl.d.state, DETECTOR_OUTAGE);
        r = round_ok(20, "A"), r.reach = FAIL, r.unit = unit_inactive, feed(&tl, 120, &r);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_MTA_STOPPED));
        r = round_ok(20, "A"), r.reach = FAIL, r.unit = unit_failed, feed(&tl, 130, &r);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_MTA_FAILED));
        r = round_ok(20, "A"), r.reach = FAIL, feed(&tl, 140, &r);      /* started again */
        r = round_ok(20, "A"), feed(&tl, 150, &r);
        r = round_ok(20, "A"), feed(&tl, 160, &r);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        r = round_ok(20, "A"), r.unit = unit_inactive, feed(&tl, 170, &r);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_MTA_STOPPED));
        r = round_ok(20, "A"), r.unit = unit_failed, feed(&tl, 180, &r);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_MTA_FAILED));
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);

        assert_int_equal(tl.n_events[EVENT_MTA_STOPPED], 2);
        assert_int_equal(tl.n_events[EVENT_MTA_FAILED], 2);
        assert_int_equal(tl.n_actions, 0);
}

/* One observation.unknown per episode in whatever state it falls: the
 * unit probe stops answering during an outage, while our restart runs,
 * while verifying it and after giving up. */
static void test_unknown_in_every_state(void **state) {
        Timeline tl;
        Round r;
        uint64_t t;
        tl_init(&tl);
        tl.p.unknown_alert_after_usec = S(20);

        for (t = 0; t <= 90; t += 10)
                r = round_ok(0, NULL), feed(&tl, t, &r);
        for (t = 100; t <= 140; t += 10) {
                r = round_ok(20, "A"), r.reach = FAIL, r.unit_status = UNK, feed(&tl, t, &r);
                if (t == 120)
                        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_OBSERVATION_UNKNOWN));
        }
        for (t = 150; t <= 1000 && tl.n_actions == 0; t += 10)
                r = round_ok(20, "A"), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.d.state, DETECTOR_REMEDIATING);

        /* The restart runs: the unit probe gets no answer. */
        for (uint64_t u = t; u <= t + 30; u += 10) {
                r = round_ok(20, "A"), r.overdue = 20, r.unit_status = UNK, feed(&tl, u, &r);
                if (u == t + 20)
                        assert_true(took(&tl, DETECTOR_REMEDIATING, DETECTOR_REMEDIATING,
                                         EVENT_OBSERVATION_UNKNOWN));
        }
        action_done(&tl, t + 35, true);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        r = round_ok(20, "A"), r.overdue = 20, feed(&tl, t + 40, &r);     /* the episode ends */
        for (uint64_t u = t + 50; u <= t + 70; u += 10) {
                r = round_ok(20, "A"), r.overdue = 20, r.unit_status = UNK, feed(&tl, u, &r);
                if (u == t + 70)
                        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_VERIFYING,
                                         EVENT_OBSERVATION_UNKNOWN));
        }
        for (t += 80; t <= 2000 && tl.d.state != DETECTOR_GAVE_UP; t += 10)
                r = round_ok(20, "A"), r.overdue = 20, feed(&tl, t, &r);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        for (uint64_t u = t; u <= t + 20; u += 10) {
                r = round_ok(20, "A"), r.overdue = 20, r.unit_status = UNK, feed(&tl, u, &r);
                if (u == t + 20)
                        assert_true(took(&tl, DETECTOR_GAVE_UP, DETECTOR_GAVE_UP, EVENT_OBSERVATION_UNKNOWN));
        }
        assert_int_equal(tl.n_events[EVENT_OBSERVATION_UNKNOWN], 4);
        assert_int_equal(tl.n_actions, 1);
}

/* The link comes back and goes down again before restore_grace is over:
 * the first outage was announced and ended, so the second is announced
 * again. */
static void test_outage_again_while_recovering(void **state) {
        Timeline tl;
        tl_init(&tl);

        ticks(&tl, 0, 90, OK, OK, 0, NULL);
        ticks(&tl, 100, 200, FAIL, OK, 20, "A");
        ticks(&tl, 210, 220, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        ticks(&tl, 230, 240, FAIL, OK, 20, "A");
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_OUTAGE, EVENT_OUTAGE_STARTED));
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 2);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_ENDED], 1);
        assert_int_equal(tl.incidents_opened, 1);
        assert_int_equal(tl.n_actions, 0);
}

/* The network goes down while a restart is being verified: OUTAGE, no
 * verdict on the restart; with outage_alert_after the outage is announced
 * only once it lasted that long. */
static void test_outage_while_verifying(void **state) {
        for (unsigned alert_after = 0; alert_after <= 60; alert_after += 60) {
                Timeline tl;
                uint64_t t;
                tl_init(&tl);
                tl.p.outage_alert_after_usec = S(alert_after);

                t = stall_until_action(&tl);
                action_done(&tl, t, true);
                tick(&tl, t + 10, FAIL, OK, 20, "A");
                tick(&tl, t + 20, FAIL, OK, 20, "A");
                assert_int_equal(tl.d.state, DETECTOR_OUTAGE);
                assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_OUTAGE,
                                 alert_after == 0 ? EVENT_OUTAGE_STARTED : _EVENT_KIND_INVALID));
                ticks(&tl, t + 30, t + 90, FAIL, OK, 20, "A");
                assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 1);
                assert_int_equal(tl.n_events[EVENT_ACTION_SUCCEEDED], 0);
                assert_int_equal(tl.n_events[EVENT_ACTION_FAILED], 0);
                assert_int_equal(tl.n_actions, 1);
        }
}

/* Ladder flush -> restart: the flush completes but the queue does not
 * move within verify_after, so the restart follows. */
static void test_ladder_flush_verified_then_restart(void **state) {
        Timeline tl;
        tl_init(&tl);
        tl.p.actions[0] = ACTION_FLUSH;
        tl.p.actions[1] = ACTION_RESTART;
        tl.p.n_actions = 2;

        ticks(&tl, 0, 300, OK, OK, 20, "A");
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        action_done(&tl, 305, true);
        ticks(&tl, 310, 420, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        tick(&tl, 430, OK, OK, 20, "A");                  /* 125 s >= verify_after */
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_VERIFYING, EVENT_ACTION_FAILED));
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED));
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.n_actions, 2);
}

/* Given up, then an outage comes and goes: both are announced, and the
 * detector stays GAVE_UP (the queue did not move). */
static void test_outage_ends_while_gave_up(void **state) {
        Timeline tl;
        uint64_t t;
        tl_init(&tl);

        t = stall_until_action(&tl);
        action_done(&tl, t, true);
        for (t += 10; t <= 1500 && tl.d.state != DETECTOR_GAVE_UP; t += 10)
                tick(&tl, t, OK, OK, 20, "A");
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        ticks(&tl, t, t + 100, FAIL, OK, 20, "A");
        assert_int_equal(tl.n_events[EVENT_OUTAGE_STARTED], 1);
        ticks(&tl, t + 110, t + 120, OK, OK, 20, "A");
        assert_true(took(&tl, DETECTOR_GAVE_UP, DETECTOR_GAVE_UP, EVENT_OUTAGE_ENDED));
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(tl.n_events[EVENT_OUTAGE_ENDED], 1);
}

/* xorshift64*: the same sequence on every run. */
static uint64_t rnd(uint64_t *x) {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        return *x * UINT64_C(2685821657736338717);
}

/* True with probability 1/N. */
static bool one_in(uint64_t *x, unsigned n) {
        return rnd(x) % n == 0;
}

/* Random walks through everything the daemon can do to the detector: probe
 * rounds whose parts change at random, actions that end well or not,
 * reloads that change the ladder, operator resets, restarts of the daemon
 * (detector_restore()), under random settings. tl_account() fails the test
 * on any transition outside the table. The rows taken here are counted
 * apart: the timelines above must cover the table on their own. */
static void test_random_walks_stay_in_table(void **state) {
        static const UnitState units[] = {
                { "active", "running", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_RUNNING },
                { "active", "running", "success", 42, true, 0, 0, false, 0, false, UNIT_GATE_RUNNING },
                { "active", "running", "success", 42, false, 0, 0, false, 0, false, UNIT_GATE_TRANSITION }, /* MainPID gone */
                { "activating", "start", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_TRANSITION },
                { "inactive", "dead", "success", 0, false, 0, 0, false, 0, false, UNIT_GATE_STOPPED },
                { "failed", "failed", "start-limit-hit", 0, false, 0, 0, false, 0, false, UNIT_GATE_FAILED },
                { "active", "exited", "success", 0, false, 0, 0, true, 42, false, UNIT_GATE_DEAD },
                { "active", "exited", "success", 0, false, 0, 0, true, 43, true, UNIT_GATE_RUNNING },
        };
        static const int statuses[] = { OK, OK, OK, FAIL, UNK };
        unsigned hits[TABLE_ROWS_MAX] = {};
        uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
        size_t n_rows, taken = 0;

        (void) detector_transition_table(&n_rows);
        for (unsigned walk = 0; walk < 300; walk++) {
                Observation o = { .reach = PROBE_OK, .queue_status = PROBE_OK,
                                  .activity_status = PROBE_OK, .unit_status = PROBE_OK,
                                  .unit = units[0] };
                unsigned next_id = 0;
                Timeline tl;

                tl_init(&tl);
                tl.hits = hits;
                tl.p.fail_threshold = 1 + rnd(&x) % 3;
                tl.p.ok_threshold = 1 + rnd(&x) % 3;
                tl.p.restore_grace_usec = S(rnd(&x) % 4 * 20);
                tl.p.stall_after_usec = S(30 + rnd(&x) % 4 * 30);
                tl.p.verify_after_usec = S(20 + rnd(&x) % 3 * 20);
                tl.p.min_backlog = 1 + rnd(&x) % 3;
                tl.p.n_actions = 1 + rnd(&x) % 3;
                for (size_t i = 0; i < ACTIONS_MAX; i++)
                        tl.p.actions[i] = one_in(&x, 2) ? ACTION_FLUSH : ACTION_RESTART;
                tl.p.max_restarts = 1 + rnd(&x) % 4;
                tl.p.restart_window_usec = S(300 + rnd(&x) % 3 * 600);
                tl.p.unknown_alert_after_usec = S(10 + rnd(&x) % 3 * 30);
                tl.p.outage_alert_after_usec = one_in(&x, 2) ? 0 : S(30);
                tl.p.giveup_holddown_usec = S(100 + rnd(&x) % 3 * 200);
                tl.p.degraded_after_usec = S(1 + rnd(&x) % 4 * 60);
                tl.p.flush_on_restore = one_in(&x, 2);
                tl.p.kill_hung_deliveries = one_in(&x, 2);
                o.queue.schedule_known = one_in(&x, 2);
                bool running = false;   /* an action asked for and not yet done */

                for (uint64_t t = 0; t < 6000; t += 10) {
                        if (one_in(&x, 6))
                                o.reach = (ProbeStatus) statuses[rnd(&x) % ELEMENTSOF(statuses)];
                        if (one_in(&x, 15))
                                o.queue_status = o.queue_status == PROBE_OK ? PROBE_UNKNOWN : PROBE_OK;
                        if (one_in(&x, 20))
                                o.activity_status = o.activity_status == PROBE_OK ? PROBE_UNKNOWN : PROBE_OK;
                        if (one_in(&x, 20))
                                o.unit_status = o.unit_status == PROBE_OK ? PROBE_UNKNOWN : PROBE_OK;
                        if (one_in(&x, 25)) {
                                o.unit = units[rnd(&x) % ELEMENTSOF(units)];
                                if (one_in(&x, 3)) {
                                        o.unit.start_limit_burst = 2 + rnd(&x) % 3;
                                        o.unit.start_limit_interval_usec = S(600);
                                }
                        }

                        /* The queue mostly stands still, sometimes moves. */
                        switch (rnd(&x) % 24) {
                        case 0:
                                o.queue.backlog = 0;
                                break;
                        case 1:
                        case 2:
                                o.queue.backlog += 1 + rnd(&x) % 5;
                                break;
                        case 3:
                                if (o.queue.backlog > 0)
                                        o.queue.backlog--;
                                break;
                        case 4:
                                next_id++;
                                break;
                        default:
                                break;
                        }
                        if (o.queue.backlog == 0)
                                o.queue.oldest_id[0] = '\0';
                        else
                                (void) snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "Q%u", next_id);
                        o.queue.overdue = one_in(&x, 3) ? 0 : o.queue.backlog;
                        if (one_in(&x, 40)) {   /* a delivery hangs, or the hung one ends */
                                o.queue.hung = one_in(&x, 2);
                                o.queue.hung_pid = o.queue.hung ? 1000 + rnd(&x) % 3 : 0;
                                o.queue.hung_age_usec = S(1800);
                        }

                        /* The journal: an attempt now and then, errors to the
                         * probed relay, a probe that starts over. */
                        switch (rnd(&x) % 30) {
                        case 0:
                                o.activity.sent++;
                                break;
                        case 1:
                                o.activity.deferred++;
                                break;
                        case 2:
                        case 3:
                                o.activity.conn_errors_probed++;
                                o.activity.failures[CAUSE_CONNECT_FAILURE]++;
                                o.activity.fixable[CAUSE_CONNECT_FAILURE]++;
                                break;
                        case 4:
                                if (one_in(&x, 4))
                                        o.activity = (ActivityCounts) {};
                                break;
                        case 5: {               /* a failure of a random class */
                                FailureCause c = (FailureCause) (1 + rnd(&x) % (_CAUSE_MAX - 1));

                                o.activity.deferred++;
                                o.activity.failures[c]++;
                                if (c == CAUSE_MTA_INTERNAL)
                                        o.activity.fixable[c]++;
                                (void) snprintf(o.samples.causes[c].peer, sizeof(o.samples.causes[c].peer),
                                                "peer%u", (unsigned) c);
                                break;
                        }
                        case 6:                 /* the MTA's own error line */
                                o.activity.mta_log++;
                                o.activity.mta_errors++;
                                o.activity.failures[CAUSE_MTA_INTERNAL]++;
                                o.activity.fixable[CAUSE_MTA_INTERNAL]++;
                                break;
                        case 7:                 /* a bounce for a name nobody resolves */
                                o.activity.bounced++;
                                o.activity.failures[CAUSE_DNS_FAILURE]++;
                                o.activity.bounced_by_cause[CAUSE_DNS_FAILURE]++;
                                break;
                        default:
                                break;
                        }

                        step(&tl, t, &o);
                        /* One action at a time: none is asked for while one runs. */
                        assert_false(running && tl.out.act);
                        running = running || tl.out.act;

                        if (tl.d.state == DETECTOR_REMEDIATING && one_in(&x, 4))
                                action_slow(&tl, t + 2);
                        if ((tl.d.state == DETECTOR_REMEDIATING || tl.d.restore_flush) && one_in(&x, 3)) {
                                action_done(&tl, t + 5, !one_in(&x, 3));
                                running = tl.out.act;
                        }
                        if (one_in(&x, 300))            /* a reload */
                                tl.p.n_actions = 1 + rnd(&x) % 3;
                        if (one_in(&x, 400)) {          /* the operator's reset */
                                detector_reset(&tl.d, S(t + 5), &tl.out);
                                tl_account(&tl, S(t + 5));
                        }
                        if (one_in(&x, 500)) {          /* the daemon restarts */
                                Detector saved = tl.d;

                                detector_restore(&tl.d, (DetectorState) (rnd(&x) % _DETECTOR_STATE_MAX),
                                                 saved.step, saved.incident_open, saved.restarts_usec,
                                                 saved.n_restarts, saved.gave_up_usec, &tl.p, S(t + 5));
                                if (one_in(&x, 2))
                                        detector_restore_cause(&tl.d, saved.incident_cause, saved.incident_peer,
                                                               saved.gave_up_cause);
                                running = false;        /* the action died with it */
                        }
                        if (one_in(&x, 300))            /* a reload of degraded_after */
                                tl.p.degraded_after_usec = one_in(&x, 2) ? S(1) : S(365 * 24 * 3600);
                }
        }

        for (size_t i = 0; i < n_rows; i++)
                taken += hits[i] > 0;
        print_message("random walks took %zu of %zu rows of the transition table\n", taken, n_rows);
}

/* Cause classes. A timeline keeps the activity probe's running totals in
 * ACC; add_fail() adds N failed lines of cause C (a restart may fix them:
 * FIXABLE; BOUNCED: permanent) as the probe counts them, and sets the
 * cause's peer in the samples. */
typedef struct CauseRun {
        Timeline tl;
        ActivityCounts acc;
        ActivitySamples samples;
} CauseRun;

static void cr_init(CauseRun *cr) {
        memset(cr, 0, sizeof(*cr));
        tl_init(&cr->tl);
        cr->tl.p.degraded_after_usec = S(60);
}

static void add_fail(CauseRun *cr, FailureCause c, uint64_t n, bool fixable, bool bounced, const char *peer) {
        if (bounced)
                cr->acc.bounced += n;
        else if (fixable && c == CAUSE_CONNECT_FAILURE)
                cr->acc.conn_errors_probed += n;
        else if (c == CAUSE_CONNECT_FAILURE)
                cr->acc.conn_errors += n;
        else
                cr->acc.deferred += n;
        cr->acc.failures[c] += n;
        if (fixable)
                cr->acc.fixable[c] += n;
        if (bounced)
                cr->acc.bounced_by_cause[c] += n;
        snprintf(cr->samples.causes[c].peer, sizeof(cr->samples.causes[c].peer), "%s", peer);
}

/* One round at T: reachability REACH, BACKLOG messages, OVERDUE of them overdue. */
static void cr_tick(CauseRun *cr, uint64_t t, int reach, unsigned backlog, unsigned overdue) {
        Observation o = {
                .reach = (ProbeStatus) reach,
                .queue_status = PROBE_OK,
                .queue = { .backlog = backlog, .schedule_known = true, .overdue = overdue },
                .activity_status = PROBE_OK,
                .activity = cr->acc,
                .samples = cr->samples,
                .unit_status = PROBE_OK,
                .unit = unit_running,
        };
        snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "%s", backlog ? "A" : "");
        step(&cr->tl, t, &o);
}

/* The cause named by the last transition with event EV in the last output. */
static const Transition *last_event(const CauseRun *cr, EventKind ev) {
        for (size_t i = cr->tl.out.n_transitions; i > 0; i--)
                if (cr->tl.out.transitions[i - 1].event == ev)
                        return &cr->tl.out.transitions[i - 1];
        return NULL;
}

/* Case "next hop hangs": a content filter answers the greeting and then
 * nothing. The stall (mail overdue, nothing logged) gets one restart;
 * during verification the MTA logs protocol timeouts to the next hop, a
 * failure a restart cannot fix: gave_up names it, and its failures hold
 * the hold-down for as long as they go on. No second restart, no second
 * stall.detected, no delivery.degraded (the cause was named). */
static void test_cause_protocol_timeout_after_restart(void **state) {
        CauseRun cr;
        const Transition *t;
        cr_init(&cr);
        cr.tl.p.actions[1] = ACTION_RESTART;
        cr.tl.p.n_actions = 2;

        for (uint64_t x = 0; x <= 290; x += 10)
                cr_tick(&cr, x, OK, 5, 5);
        cr_tick(&cr, 300, OK, 5, 5);
        assert_int_equal(cr.tl.n_actions, 1);
        t = last_event(&cr, EVENT_STALL_DETECTED);
        assert_non_null(t);
        assert_int_equal(t->cause, CAUSE_NONE);           /* nothing attempted at all */
        action_done(&cr.tl, 305, true);
        cr_tick(&cr, 310, OK, 5, 5);
        add_fail(&cr, CAUSE_PROTOCOL_TIMEOUT, 5, false, false, "127.0.0.1[127.0.0.1]:10025");
        cr_tick(&cr, 370, OK, 5, 5);
        for (uint64_t x = 380; x < 420; x += 10)
                cr_tick(&cr, x, OK, 5, 5);
        assert_int_equal(cr.tl.d.state, DETECTOR_VERIFYING);
        cr_tick(&cr, 430, OK, 5, 5);                      /* 305 + 120 */
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
        t = last_event(&cr, EVENT_GAVE_UP);
        assert_non_null(t);
        assert_int_equal(t->cause, CAUSE_PROTOCOL_TIMEOUT);
        assert_string_equal(t->peer, "127.0.0.1[127.0.0.1]:10025");
        assert_string_equal(t->reason, "delivery fails for a reason a restart cannot fix: protocol-timeout at "
                                       "127.0.0.1[127.0.0.1]:10025");
        /* the next hop keeps hanging, every 80 s, for two hours */
        for (uint64_t x = 440; x <= 7640; x += 10) {
                if (x % 80 == 0)
                        add_fail(&cr, CAUSE_PROTOCOL_TIMEOUT, 5, false, false, "127.0.0.1[127.0.0.1]:10025");
                cr_tick(&cr, x, OK, 5, 5);
        }
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(cr.tl.n_events[EVENT_STALL_DETECTED], 1);
        assert_int_equal(cr.tl.n_events[EVENT_ACTION_FAILED], 1);
        assert_int_equal(cr.tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 0);
        assert_int_equal(cr.tl.n_events[EVENT_RECOVERED], 0);
        assert_int_equal(cr.tl.incidents_opened, 1);
        /* the filter is fixed: mail is delivered, the incident ends */
        cr.acc.sent += 5;
        cr_tick(&cr, 7650, OK, 0, 0);
        assert_int_equal(cr.tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(cr.tl.d.state, DETECTOR_HEALTHY);
}

/* The same, but the timeouts come only after the ladder ended: the
 * incident is in GAVE_UP without a cause, and delivery.degraded names it
 * at the first of them, once; from then on they hold the hold-down. */
static void test_cause_degraded_while_gave_up(void **state) {
        CauseRun cr;
        const Transition *t;
        cr_init(&cr);

        for (uint64_t x = 0; x <= 300; x += 10)
                cr_tick(&cr, x, OK, 5, 5);
        action_done(&cr.tl, 305, true);
        for (uint64_t x = 310; x <= 430; x += 10)
                cr_tick(&cr, x, OK, 5, 5);
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(last_event(&cr, EVENT_GAVE_UP)->cause, CAUSE_NONE);
        for (uint64_t x = 440; x <= 1000; x += 10) {
                if (x % 80 == 0)
                        add_fail(&cr, CAUSE_PROTOCOL_TIMEOUT, 5, false, false, "127.0.0.1[127.0.0.1]:10025");
                cr_tick(&cr, x, OK, 5, 5);
                if ((t = last_event(&cr, EVENT_DELIVERY_DEGRADED))) {
                        assert_int_equal(x, 480);         /* the first failure */
                        assert_int_equal(t->from, DETECTOR_GAVE_UP);
                        assert_int_equal(t->cause, CAUSE_PROTOCOL_TIMEOUT);
                }
        }
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 1);
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(cr.tl.d.gave_up_cause, CAUSE_PROTOCOL_TIMEOUT);
        /* an hour after the last failure, not after gave_up */
        for (uint64_t x = 1010; x <= 4600; x += 10) {
                if (x <= 1200 && x % 80 == 0)
                        add_fail(&cr, CAUSE_PROTOCOL_TIMEOUT, 5, false, false, "127.0.0.1[127.0.0.1]:10025");
                cr_tick(&cr, x, OK, 5, 5);
        }
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);    /* last failure at 1200 */
        for (uint64_t x = 4610; x <= 4810; x += 10)
                cr_tick(&cr, x, OK, 5, 5);
        assert_int_equal(cr.tl.d.state, DETECTOR_HEALTHY);
        assert_int_equal(cr.tl.n_actions, 1);
}

/* Case "the MTA's resolver view is broken": the chrooted MTA cannot resolve
 * the relay's name, which resolves (for us) to the probed address: a
 * failure a restart may fix. Nothing is overdue (each failure reschedules),
 * but the stall is seen with the DNS cause; the restart heals it and the
 * first sent line ends the incident. */
static void test_cause_dns_fixable(void **state) {
        CauseRun cr;
        const Transition *t;
        cr_init(&cr);

        for (uint64_t x = 0; x <= 290; x += 10) {
                if (x % 20 == 0)
                        add_fail(&cr, CAUSE_DNS_FAILURE, 3, true, false, "relay.example.net");
                cr_tick(&cr, x, OK, 3, 0);
        }
        assert_int_equal(cr.tl.n_actions, 0);
        add_fail(&cr, CAUSE_DNS_FAILURE, 3, true, false, "relay.example.net");
        cr_tick(&cr, 300, OK, 3, 0);
        assert_int_equal(cr.tl.n_actions, 1);
        t = last_event(&cr, EVENT_STALL_DETECTED);
        assert_non_null(t);
        assert_int_equal(t->cause, CAUSE_DNS_FAILURE);
        assert_string_equal(t->peer, "relay.example.net");
        assert_string_equal(t->reason, "no progress for 5m with backlog 3, 0 overdue while reachability has been "
                                       "up for 4m50s; the MTA logs dns-failure at relay.example.net");
        action_done(&cr.tl, 305, true);
        cr.acc.sent += 3;
        cr_tick(&cr, 320, OK, 0, 0);
        assert_int_equal(cr.tl.n_events[EVENT_ACTION_SUCCEEDED], 1);
        assert_int_equal(cr.tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(cr.tl.d.state, DETECTOR_HEALTHY);
}

/* Case "DNS bounces": a name that does not resolve for anybody bounces.
 * Bounces are mail leaving the queue: no stall, no degraded, no action. */
static void test_cause_dns_bounces(void **state) {
        CauseRun cr;
        cr_init(&cr);

        cr_tick(&cr, 0, OK, 3, 0);
        add_fail(&cr, CAUSE_DNS_FAILURE, 3, false, true, "nxdomain.example");
        for (uint64_t x = 10; x <= 1200; x += 10)
                cr_tick(&cr, x, OK, 0, 0);
        assert_int_equal(cr.tl.n_actions, 0);
        for (size_t e = 0; e < _EVENT_KIND_MAX; e++)
                assert_int_equal(cr.tl.n_events[e], 0);
}

/* Case "the delivery agent crashes": qmgr defers with "unknown mail
 * transport error" (mta-internal, may be fixed by a restart): stall,
 * restart; the same cause comes back after the restart, so the ladder's
 * second restart is not tried: gave_up with the cause. */
static void test_cause_mta_internal_not_repeated(void **state) {
        CauseRun cr;
        const Transition *t;
        cr_init(&cr);
        cr.tl.p.actions[1] = ACTION_RESTART;
        cr.tl.p.n_actions = 2;

        for (uint64_t x = 0; x <= 600 && cr.tl.n_actions == 0; x += 10) {
                if (x % 60 == 0)
                        add_fail(&cr, CAUSE_MTA_INTERNAL, 2, true, false, "");
                cr_tick(&cr, x, OK, 2, 0);
        }
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(last_event(&cr, EVENT_STALL_DETECTED)->cause, CAUSE_MTA_INTERNAL);
        action_done(&cr.tl, 305, true);
        for (uint64_t x = 310; x <= 1200; x += 10) {
                if (x % 60 == 0)
                        add_fail(&cr, CAUSE_MTA_INTERNAL, 2, true, false, "");
                cr_tick(&cr, x, OK, 2, 0);
                if ((t = last_event(&cr, EVENT_GAVE_UP))) {
                        assert_int_equal(t->cause, CAUSE_MTA_INTERNAL);
                        assert_string_equal(t->reason, "the stall came back after restart with the same cause: "
                                                       "mta-internal");
                }
        }
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(cr.tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
}

/* The daemon restarts while the restart for mta-internal is verified, and
 * again while it has given up on it: the cause survives in the saved state
 * (detector_restore_cause()), so the restart is not repeated and the cause's
 * failures keep extending the hold-down. The new journal probe counts from 0. */
static void test_cause_survives_daemon_restart(void **state) {
        CauseRun cr;
        Detector saved;
        cr_init(&cr);
        cr.tl.p.actions[1] = ACTION_RESTART;
        cr.tl.p.n_actions = 2;

        for (uint64_t x = 0; x <= 600 && cr.tl.n_actions == 0; x += 10) {
                if (x % 60 == 0)
                        add_fail(&cr, CAUSE_MTA_INTERNAL, 2, true, false, "postfix/smtp");
                cr_tick(&cr, x, OK, 2, 0);
        }
        assert_int_equal(cr.tl.n_actions, 1);
        action_done(&cr.tl, 305, true);
        cr_tick(&cr, 310, OK, 2, 0);
        assert_int_equal(cr.tl.d.state, DETECTOR_VERIFYING);

        saved = cr.tl.d;
        detector_restore(&cr.tl.d, saved.state, saved.step, saved.incident_open, saved.restarts_usec,
                         saved.n_restarts, saved.gave_up_usec, &cr.tl.p, S(315));
        detector_restore_cause(&cr.tl.d, saved.incident_cause, saved.incident_peer, saved.gave_up_cause);
        cr.acc = (ActivityCounts) {};
        for (uint64_t x = 320; x <= 600; x += 10) {
                if (x % 60 == 0)
                        add_fail(&cr, CAUSE_MTA_INTERNAL, 2, true, false, "postfix/smtp");
                cr_tick(&cr, x, OK, 2, 0);
        }
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(cr.tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(cr.tl.d.gave_up_cause, CAUSE_MTA_INTERNAL);

        saved = cr.tl.d;
        detector_restore(&cr.tl.d, saved.state, saved.step, saved.incident_open, saved.restarts_usec,
                         saved.n_restarts, saved.gave_up_usec, &cr.tl.p, S(605));
        detector_restore_cause(&cr.tl.d, saved.incident_cause, saved.incident_peer, saved.gave_up_cause);
        cr.acc = (ActivityCounts) {};
        /* two hours of the same failures: held, never restarted again */
        for (uint64_t x = 610; x <= 7800; x += 10) {
                if (x % 60 == 0)
                        add_fail(&cr, CAUSE_MTA_INTERNAL, 2, true, false, "postfix/smtp");
                cr_tick(&cr, x, OK, 2, 0);
        }
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(cr.tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(cr.tl.d.incident_cause, CAUSE_MTA_INTERNAL);
        assert_string_equal(cr.tl.d.incident_peer, "postfix/smtp");

        /* without an open incident there is nothing to restore */
        detector_restore(&cr.tl.d, DETECTOR_HEALTHY, 0, false, NULL, 0, 0, &cr.tl.p, S(7810));
        detector_restore_cause(&cr.tl.d, CAUSE_MTA_INTERNAL, "x", CAUSE_MTA_INTERNAL);
        assert_int_equal(cr.tl.d.incident_cause, CAUSE_NONE);
        assert_int_equal(cr.tl.d.gave_up_cause, CAUSE_NONE);
}

/* The same with Postfix's real shape of it: no deferral at all, only the
 * agent's "fatal:" and master's "warning: process ... exit status 1" (the
 * MTA's own error lines, counted as mta-internal): one restart, gave_up
 * with the cause. */
static void test_cause_mta_errors_only(void **state) {
        CauseRun cr;
        Transition t = { .event = _EVENT_KIND_INVALID };
        cr_init(&cr);
        cr.tl.p.actions[1] = ACTION_RESTART;
        cr.tl.p.n_actions = 2;

        for (uint64_t x = 0; x <= 300; x += 10) {
                if (x % 60 == 0)
                        cr.acc.mta_errors += 2, cr.acc.mta_log += 3;
                cr_tick(&cr, x, OK, 5, 5);
        }
        assert_int_equal(cr.tl.n_actions, 1);
        action_done(&cr.tl, 305, true);
        for (uint64_t x = 310; x <= 1200; x += 10) {
                if (x % 60 == 0)
                        cr.acc.mta_errors += 2, cr.acc.mta_log += 3;
                cr_tick(&cr, x, OK, 5, 5);
                if (t.event < 0 && last_event(&cr, EVENT_GAVE_UP))
                        t = *last_event(&cr, EVENT_GAVE_UP);
        }
        assert_int_equal(t.event, EVENT_GAVE_UP);
        assert_int_equal(t.cause, CAUSE_MTA_INTERNAL);
        assert_string_equal(t.reason, "the stall came back after restart with the same cause: mta-internal");
        assert_int_equal(cr.tl.n_actions, 1);
        assert_int_equal(cr.tl.d.state, DETECTOR_GAVE_UP);
}

/* Case "the relay refuses at the greeting" during an outage (our probe
 * fails too), then TLS failures while reachability is recovering: one
 * delivery.degraded for the run, in whichever state it is, never an action. */
static void test_cause_degraded_outage_and_recovering(void **state) {
        CauseRun cr;
        const Transition *t;
        cr_init(&cr);

        for (uint64_t x = 0; x <= 20; x += 10)
                cr_tick(&cr, x, OK, 0, 0);
        for (uint64_t x = 30; x <= 200; x += 10) {
                if (x % 15 == 0 && x <= 120)
                        add_fail(&cr, CAUSE_DEFERRED_REMOTE, 1, false, false, "192.0.2.2[192.0.2.2]:25");
                cr_tick(&cr, x, FAIL, 4, 0);
                if (x == 90) {
                        t = last_event(&cr, EVENT_DELIVERY_DEGRADED);
                        assert_non_null(t);
                        assert_int_equal(t->from, DETECTOR_OUTAGE);
                        assert_int_equal(t->cause, CAUSE_DEFERRED_REMOTE);
                }
        }
        assert_int_equal(cr.tl.d.state, DETECTOR_OUTAGE);
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 1);
        /* the relay answers again and takes the mail (the run ends: quiet for
         * degraded_after, deliveries since); then the peer's TLS breaks while
         * reachability is still recovering: a new run */
        cr.acc.sent += 4;
        cr_tick(&cr, 210, OK, 0, 0);
        cr_tick(&cr, 220, OK, 0, 0);
        assert_int_equal(cr.tl.d.state, DETECTOR_RECOVERING);
        cr.tl.p.degraded_after_usec = S(50);   /* the grace ends at 280 */
        for (uint64_t x = 230; x <= 280; x += 10) {
                add_fail(&cr, CAUSE_TLS_FAILURE, 1, false, false, "mx.example.com[203.0.113.5]:25");
                cr_tick(&cr, x, OK, 1, 0);
        }
        t = last_event(&cr, EVENT_DELIVERY_DEGRADED);
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 2);
        assert_non_null(t);
        assert_int_equal(t->from, DETECTOR_RECOVERING);
        assert_int_equal(t->cause, CAUSE_TLS_FAILURE);
        assert_int_equal(cr.tl.n_actions, 0);
}

/* Case "IPv6 black-holed, IPv4 fine": every delivery first fails to
 * connect over IPv6 (an address nobody probes), then succeeds over IPv4.
 * One delivery.degraded after degraded_after; none for a short blip later;
 * no action. A local resource failure during a verification is reported
 * in VERIFYING. */
static void test_cause_degraded_with_deliveries(void **state) {
        CauseRun cr;
        const Transition *t;
        cr_init(&cr);

        cr_tick(&cr, 0, OK, 0, 0);
        for (uint64_t x = 10; x <= 200; x += 10) {
                add_fail(&cr, CAUSE_CONNECT_FAILURE, 1, false, false, "relay.example.net[2001:db8::2]");
                cr.acc.sent++;
                cr_tick(&cr, x, OK, 1, 0);
                if (x == 70) {
                        t = last_event(&cr, EVENT_DELIVERY_DEGRADED);
                        assert_non_null(t);
                        assert_int_equal(t->from, DETECTOR_HEALTHY);
                        assert_int_equal(t->cause, CAUSE_CONNECT_FAILURE);
                        assert_string_equal(t->peer, "relay.example.net[2001:db8::2]");
                }
        }
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 1);
        for (uint64_t x = 210; x <= 400; x += 10)
                cr_tick(&cr, x, OK, 0, 0);
        add_fail(&cr, CAUSE_CONNECT_FAILURE, 1, false, false, "relay.example.net[2001:db8::2]");
        cr.acc.sent++;
        for (uint64_t x = 410; x <= 600; x += 10)
                cr_tick(&cr, x, OK, 0, 0);
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 1);
        assert_int_equal(cr.tl.n_actions, 0);

        /* stall (nothing attempted), restart, then the disk fills up */
        for (uint64_t x = 610; x <= 910; x += 10)
                cr_tick(&cr, x, OK, 2, 2);
        assert_int_equal(cr.tl.n_actions, 1);
        action_done(&cr.tl, 915, true);
        for (uint64_t x = 920; x <= 1000; x += 10) {
                add_fail(&cr, CAUSE_LOCAL_RESOURCE, 1, false, false, "local");
                cr_tick(&cr, x, OK, 2, 2);
        }
        t = last_event(&cr, EVENT_DELIVERY_DEGRADED);
        assert_int_equal(cr.tl.n_events[EVENT_DELIVERY_DEGRADED], 2);
        assert_int_equal(cr.tl.d.state, DETECTOR_VERIFYING);
        assert_int_equal(cr.tl.n_actions, 1);
}

/* Every transition names its cause class: the stall's, kept through the incident. */
static void test_cause_names(void **state) {
        static const char *const names[] = {
                "none", "deferred-remote", "connect-failure", "dns-failure", "tls-failure",
                "protocol-timeout", "local-resource", "mta-internal",
        };

        for (FailureCause c = 0; c < _CAUSE_MAX; c++)
                assert_string_equal(failure_cause_to_string(c), names[c]);
        assert_int_equal(ELEMENTSOF(names), _CAUSE_MAX);
}


static Round round_exim(unsigned backlog, const UnitState *u) {
        Round r = round_ok(backlog, backlog ? "1abcDE-000001-AB" : NULL);

        r.unit = *u;
        return r;
}

/* The daemon dies while the unit stays active: one round of it is not
 * enough (a start writes its PID file a moment late); at the second,
 * mta.died and the restart at once; verified when a new daemon runs,
 * however the queue looks. */
static void test_died_restart_verified(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 100; t += 10)
                r = round_exim(2, &unit_exim_running), feed(&tl, t, &r);
        r = round_exim(2, &unit_exim_dead), feed(&tl, 110, &r);
        assert_int_equal(tl.out.n_transitions, 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        r = round_exim(2, &unit_exim_dead), feed(&tl, 120, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_HEALTHY, EVENT_MTA_DIED));
        assert_string_equal(tl.out.transitions[0].reason,
                            "the MTA's daemon is gone (PID 4242 of its PID file is gone) while the unit stays "
                            "active/exited; restarting it");
        assert_true(tl.out.transitions[0].opens_incident);   /* mta.died is part of the incident */
        assert_false(tl.out.transitions[1].opens_incident);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED));
        assert_string_equal(tl.out.transitions[1].reason,
                            "the MTA's daemon is gone while its unit stays active: restart (step 1 of 1)");
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.incidents_opened, 1);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(120)), 1);

        /* rounds while the restart runs say nothing */
        r = round_exim(2, &unit_exim_dead), feed(&tl, 130, &r);
        assert_int_equal(tl.out.n_transitions, 0);
        action_done(&tl, 135, true);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        /* backlog unchanged, nothing delivered: the daemon is back, that is the fix */
        r = round_exim(2, &unit_exim_new), feed(&tl, 140, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_VERIFYING, EVENT_ACTION_SUCCEEDED));
        assert_string_equal(tl.out.transitions[0].reason, "restart: the MTA's daemon runs again (PID 5151)");
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_HEALTHY, EVENT_RECOVERED));
        assert_int_equal(tl.incidents_closed, 1);

        for (uint64_t t = 150; t <= 400; t += 10)
                r = round_exim(2, &unit_exim_new), feed(&tl, t, &r);
        assert_int_equal(tl.n_events[EVENT_MTA_DIED], 1);
        assert_int_equal(tl.n_events[EVENT_ACTION_STARTED], 1);
        assert_int_equal(tl.n_events[EVENT_ACTION_SUCCEEDED], 1);
        assert_int_equal(tl.n_events[EVENT_RECOVERED], 1);
        assert_int_equal(tl.n_events[EVENT_MTA_FAILED], 0);
        assert_int_equal(tl.n_actions, 1);
}

/* A lone round without the daemon (a start in progress) is nothing; an
 * admin's systemctl stop is mta.stopped, never a restart. */
static void test_died_blip_and_admin_stop(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 600; t += 10) {
                r = round_exim(2, t % 100 == 50 ? &unit_exim_dead : &unit_exim_running);
                feed(&tl, t, &r);
        }
        r = round_exim(2, &unit_exim_dead), feed(&tl, 610, &r);
        r = round_exim(2, &unit_inactive), feed(&tl, 620, &r);
        for (uint64_t t = 630; t <= 2000; t += 10)
                r = round_exim(2, &unit_inactive), feed(&tl, t, &r);
        assert_int_equal(tl.n_events[EVENT_MTA_DIED], 0);
        assert_int_equal(tl.n_events[EVENT_MTA_STOPPED], 1);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* During an outage and while recovering from one, a dead daemon is
 * restarted all the same: the network does not bring it back. */
static void test_died_in_outage_and_recovering(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);

        for (uint64_t t = 0; t <= 50; t += 10)
                r = round_exim(2, &unit_exim_running), feed(&tl, t, &r);
        r = round_exim(2, &unit_exim_running), r.reach = FAIL, feed(&tl, 60, &r);
        r = round_exim(2, &unit_exim_running), r.reach = FAIL, feed(&tl, 70, &r);
        assert_int_equal(tl.d.state, DETECTOR_OUTAGE);
        r = round_exim(2, &unit_exim_dead), r.reach = FAIL, feed(&tl, 80, &r);
        r = round_exim(2, &unit_exim_dead), r.reach = FAIL, feed(&tl, 90, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_MTA_DIED));
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED));
        assert_int_equal(tl.out.action, ACTION_RESTART);
        action_done(&tl, 95, true);
        r = round_exim(2, &unit_exim_new), r.reach = FAIL, feed(&tl, 100, &r);
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_HEALTHY, EVENT_RECOVERED));
        r = round_exim(2, &unit_exim_new), r.reach = FAIL, feed(&tl, 110, &r);
        assert_int_equal(tl.d.state, DETECTOR_OUTAGE);

        /* back up: RECOVERING, and the daemon dies again */
        r = round_exim(2, &unit_exim_new), feed(&tl, 120, &r);
        r = round_exim(2, &unit_exim_new), feed(&tl, 130, &r);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        r = round_exim(2, &unit_exim_dead), feed(&tl, 140, &r);
        r = round_exim(2, &unit_exim_dead), feed(&tl, 150, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_MTA_DIED));
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_REMEDIATING, EVENT_ACTION_STARTED));
        action_done(&tl, 155, true);
        r = round_exim(2, &unit_exim_running), feed(&tl, 160, &r);
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_HEALTHY, EVENT_RECOVERED));
        assert_int_equal(tl.n_events[EVENT_MTA_DIED], 2);
        assert_int_equal(tl.n_actions, 2);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(160)), 2);
}

/* No restart loop: the budget holds for a dead daemon as for a stall. A
 * daemon that dies again and again is restarted max_restarts times per
 * window, then gave_up and the hold-down; after the hold-down one more
 * try only if the window has room. */
static void test_died_budget_and_holddown(void **state) {
        Timeline tl;
        Round r;
        uint64_t t = 0;
        tl_init(&tl);
        tl.p.max_restarts = 2;
        tl.p.giveup_holddown_usec = S(600);
        tl.p.restart_window_usec = S(3600);

        for (; t <= 50; t += 10)
                r = round_exim(0, &unit_exim_running), feed(&tl, t, &r);
        for (unsigned i = 0; i < 2; i++) {
                r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r), t += 10;
                r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r), t += 10;
                assert_true(tl.out.act);
                action_done(&tl, t, true);
                r = round_exim(0, &unit_exim_new), feed(&tl, t, &r), t += 10;
                assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        }
        r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_HEALTHY, EVENT_MTA_DIED));
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_GAVE_UP, EVENT_GAVE_UP));
        assert_string_equal(tl.out.transitions[1].reason, "restart budget spent: 2 of 2 restarts used in 1h");
        assert_false(tl.out.act);
        uint64_t gave_up = t;

        /* dead all through the hold-down: nothing more, however empty the queue */
        for (t += 10; t < gave_up + 600; t += 10)
                r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(tl.n_actions, 2);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 1);
        /* the hold-down ends; the window is still full: gave_up again */
        r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r), t += 10;
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_GAVE_UP, EVENT_GAVE_UP));
        assert_int_equal(tl.n_events[EVENT_MTA_DIED], 3);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 2);
        assert_int_equal(tl.n_actions, 2);

        /* an admin starts it: that ends the incident */
        r = round_exim(0, &unit_exim_new), feed(&tl, t + 10, &r);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_true(took(&tl, DETECTOR_GAVE_UP, DETECTOR_HEALTHY, EVENT_RECOVERED));
        assert_string_equal(tl.out.transitions[0].reason, "the MTA's daemon runs again (PID 5151) after giving up");
        assert_int_equal(tl.incidents_opened, tl.incidents_closed);

        /* the budget is spent when it dies during an outage, and while recovering */
        t += 20;
        r = round_exim(0, &unit_exim_new), r.reach = FAIL, feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_new), r.reach = FAIL, feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_dead), r.reach = FAIL, feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_dead), r.reach = FAIL, feed(&tl, t, &r), t += 10;
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_GAVE_UP, EVENT_GAVE_UP));
        r = round_exim(0, &unit_exim_new), feed(&tl, t, &r), t += 10;
        assert_true(took(&tl, DETECTOR_GAVE_UP, DETECTOR_HEALTHY, EVENT_RECOVERED));
        r = round_exim(0, &unit_exim_new), r.reach = FAIL, feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_new), r.reach = FAIL, feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_new), feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_new), feed(&tl, t, &r), t += 10;
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r), t += 10;
        r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r), t += 10;
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_GAVE_UP, EVENT_GAVE_UP));
        assert_int_equal(tl.n_actions, 2);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 4);

        /* given up on a stall, the daemon dies: reported only */
        tl_init(&tl);
        t = stall_until_action(&tl);
        action_done(&tl, t, true);
        for (uint64_t u = t + 10; u <= t + 200 && tl.d.state != DETECTOR_GAVE_UP; u += 10)
                r = round_ok(20, "A"), r.overdue = 20, r.unit = unit_exim_running, feed(&tl, u, &r);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        r = round_ok(20, "A"), r.overdue = 20, r.unit = unit_exim_dead, feed(&tl, t + 300, &r);
        r = round_ok(20, "A"), r.overdue = 20, r.unit = unit_exim_dead, feed(&tl, t + 310, &r);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_true(took(&tl, DETECTOR_GAVE_UP, DETECTOR_GAVE_UP, EVENT_MTA_DIED));
        assert_string_equal(tl.out.transitions[0].reason,
                            "the MTA's daemon is gone (PID 4242 of its PID file is gone) while the unit stays "
                            "active/exited; given up, no restart before the hold-down ends");
        assert_int_equal(tl.n_actions, 1);
}

/* Without restart in actions a dead daemon is reported, never acted on;
 * dying while a stall's restart is verified is reported and judged by the
 * verification. */
static void test_died_reported_only(void **state) {
        Timeline tl;
        Round r;
        tl_init(&tl);
        tl.p.actions[0] = ACTION_FLUSH;

        for (uint64_t t = 0; t <= 50; t += 10)
                r = round_exim(0, &unit_exim_running), feed(&tl, t, &r);
        for (uint64_t t = 60; t <= 1000; t += 10)
                r = round_exim(0, &unit_exim_dead), feed(&tl, t, &r);
        assert_int_equal(tl.n_events[EVENT_MTA_DIED], 1);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.incidents_opened, 0);

        tl_init(&tl);
        uint64_t t = stall_until_action(&tl);
        action_done(&tl, t, true);
        r = round_ok(20, "A"), r.overdue = 20, r.unit = unit_exim_dead, feed(&tl, t + 10, &r);
        r = round_ok(20, "A"), r.overdue = 20, r.unit = unit_exim_dead, feed(&tl, t + 20, &r);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_VERIFYING, EVENT_MTA_DIED));
        assert_string_equal(tl.out.transitions[0].reason,
                            "the MTA's daemon is gone (PID 4242 of its PID file is gone) while the unit stays "
                            "active/exited");
        for (uint64_t u = t + 30; u <= t + 130; u += 10)
                r = round_ok(20, "A"), r.overdue = 20, r.unit = unit_exim_dead, feed(&tl, u, &r);
        assert_int_equal(tl.n_events[EVENT_ACTION_FAILED], 1);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 1);
        assert_int_equal(tl.n_events[EVENT_MTA_DIED], 1);
        assert_int_equal(tl.n_actions, 1);
}

/* Up to (and not past) an outage that ends: with flush_on_restore one
 * flush as the network comes back, none while it runs or more than
 * max_restarts per window, never a stall while it runs. */
static void outage(Timeline *tl, uint64_t *t, unsigned backlog) {
        Round r;

        r = round_ok(backlog, "A"), r.reach = FAIL, feed(tl, *t, &r), *t += 10;
        r = round_ok(backlog, "A"), r.reach = FAIL, feed(tl, *t, &r), *t += 10;
        assert_int_equal(tl->d.state, DETECTOR_OUTAGE);
        r = round_ok(backlog, "A"), feed(tl, *t, &r), *t += 10;
        r = round_ok(backlog, "A"), feed(tl, *t, &r);
}

static void test_flush_on_restore(void **state) {
        Timeline tl;
        Round r;
        uint64_t t = 0;
        tl_init(&tl);
        tl.p.flush_on_restore = true;
        tl.p.max_restarts = 3;
        tl.p.restore_grace_usec = S(60);

        for (; t <= 50; t += 10)
                r = round_ok(5, "A"), feed(&tl, t, &r);
        outage(&tl, &t, 5);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_RECOVERING, EVENT_OUTAGE_ENDED));
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_ACTION_STARTED));
        assert_string_equal(tl.out.transitions[1].reason,
                            "network restored: one flush so that the MTA retries its deferred mail now, "
                            "not at its next retry time (flush_on_restore)");
        assert_int_equal(tl.out.transitions[1].action, ACTION_FLUSH);
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        /* a long flush: overdue mail, no progress past stall_after, no stall while it runs */
        for (t += 10; t <= 700; t += 10)
                r = round_ok(5, "A"), r.overdue = 5, feed(&tl, t, &r);
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        action_done(&tl, t, true);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_ACTION_SUCCEEDED));
        assert_string_equal(tl.out.transitions[0].reason,
                            "flush after the network came back (flush_on_restore) done: new MainPID");
        assert_int_equal(tl.out.transitions[0].action, ACTION_FLUSH);
        assert_false(tl.out.act);
        r = round_ok(0, NULL), feed(&tl, t += 10, &r);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);

        /* second outage: the queue drains while the flush runs, which ends in HEALTHY */
        outage(&tl, &t, 5);
        assert_true(tl.out.act);
        for (t += 10; t <= 2000 && tl.d.state != DETECTOR_HEALTHY; t += 10)
                r = round_ok(0, NULL), feed(&tl, t, &r);
        action_done(&tl, t, true);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_HEALTHY, EVENT_ACTION_SUCCEEDED));

        /* third: its flush fails while reachability is down again */
        outage(&tl, &t, 5);
        assert_true(tl.out.act);
        r = round_ok(5, "A"), r.reach = FAIL, feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), r.reach = FAIL, feed(&tl, t += 10, &r);
        assert_int_equal(tl.d.state, DETECTOR_OUTAGE);
        action_done(&tl, t += 5, false);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_ACTION_FAILED));
        assert_string_equal(tl.out.transitions[0].reason,
                            "flush after the network came back (flush_on_restore) failed: job failed");
        assert_int_equal(tl.out.transitions[0].action, ACTION_FLUSH);

        /* fourth: three flushes in the window already, none now */
        r = round_ok(5, "A"), feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), feed(&tl, t += 10, &r);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, _EVENT_KIND_INVALID));
        assert_string_equal(tl.out.transitions[1].reason,
                            "network restored; no flush: 3 of 3 flushes (flush_on_restore) used in 1h");
        assert_false(tl.out.act);
        assert_int_equal(tl.n_actions, 3);
        assert_int_equal(tl.n_events[EVENT_ACTION_STARTED], 3);
        assert_int_equal(tl.n_events[EVENT_ACTION_SUCCEEDED], 2);
        assert_int_equal(tl.n_events[EVENT_ACTION_FAILED], 1);
        assert_int_equal(detector_restarts_in_window(&tl.d, &tl.p, S(t)), 0);
}

/* The flush's failure is reported in RECOVERING and in HEALTHY, its success
 * in OUTAGE; a stopped unit gets none; flush_on_restore = no: nothing. */
static void test_flush_on_restore_fails(void **state) {
        Timeline tl;
        Round r;
        uint64_t t = 0;
        tl_init(&tl);
        tl.p.flush_on_restore = true;

        for (; t <= 50; t += 10)
                r = round_ok(5, "A"), feed(&tl, t, &r);
        outage(&tl, &t, 5);
        action_done(&tl, t + 5, false);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_ACTION_FAILED));

        outage(&tl, &t, 5);
        assert_true(tl.out.act);
        for (t += 10; t <= 1500 && tl.d.state != DETECTOR_HEALTHY; t += 10)
                r = round_ok(t % 20 ? 4 : 5, "A"), feed(&tl, t, &r);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        action_done(&tl, t, false);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_HEALTHY, EVENT_ACTION_FAILED));
        assert_int_equal(tl.n_events[EVENT_ACTION_FAILED], 2);

        outage(&tl, &t, 5);
        assert_true(tl.out.act);
        r = round_ok(5, "A"), r.reach = FAIL, feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), r.reach = FAIL, feed(&tl, t += 10, &r);
        action_done(&tl, t += 5, true);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_ACTION_SUCCEEDED));
        r = round_ok(5, "A"), feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), feed(&tl, t += 10, &r);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        assert_int_equal(tl.n_actions, 3);      /* 3 of 3 used: none now */
        for (t += 10; t <= 4000 && tl.d.state != DETECTOR_HEALTHY; t += 10)
                r = round_ok(t % 20 ? 4 : 5, "A"), feed(&tl, t, &r);

        /* the unit is stopped when the network comes back: no flush */
        tl_init(&tl);
        tl.p.flush_on_restore = true;
        t = 0;
        for (; t <= 50; t += 10)
                r = round_ok(5, "A"), feed(&tl, t, &r);
        r = round_ok(5, "A"), r.unit = unit_inactive, feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), r.reach = FAIL, r.unit = unit_inactive, feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), r.reach = FAIL, r.unit = unit_inactive, feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), r.unit = unit_inactive, feed(&tl, t += 10, &r);
        r = round_ok(5, "A"), r.unit = unit_inactive, feed(&tl, t += 10, &r);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        assert_false(tl.out.act);
        assert_int_equal(tl.n_actions, 0);

        tl_init(&tl);
        t = 0;
        for (; t <= 50; t += 10)
                r = round_ok(5, "A"), feed(&tl, t, &r);
        outage(&tl, &t, 5);
        assert_false(tl.out.act);
        assert_int_equal(tl.n_actions, 0);
}

/* A hung delivery: delivery.hung once per holder process, in whatever
 * state; with kill_hung_deliveries the output asks for that process. */
static void feed_hung(Timeline *tl, uint64_t t, Round *r, uint32_t pid) {
        Observation o = {
                .reach = (ProbeStatus) r->reach,
                .queue_status = (ProbeStatus) r->qs,
                .queue = { .backlog = r->backlog, .schedule_known = r->schedule, .overdue = r->overdue,
                           .hung = pid ? 1 : 0, .hung_pid = pid, .hung_age_usec = S(1930) },
                .activity_status = PROBE_OK,
                .activity = with_causes(r->act),
                .unit_status = (ProbeStatus) r->unit_status,
                .unit = r->unit,
        };
        snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "%s", r->oldest ? r->oldest : "");
        if (pid)
                snprintf(o.queue.hung_id, sizeof(o.queue.hung_id), "1abcDE-000001-AB");
        step(tl, t, &o);
}

static void test_hung_delivery(void **state) {
        Timeline tl;
        Round r;
        uint64_t t;
        tl_init(&tl);

        for (t = 0; t <= 50; t += 10)
                r = round_ok(3, "A"), feed_hung(&tl, t, &r, 0);
        r = round_ok(3, "A"), feed_hung(&tl, 60, &r, 777);
        assert_int_equal(tl.out.n_transitions, 1);
        assert_true(took(&tl, DETECTOR_HEALTHY, DETECTOR_HEALTHY, EVENT_DELIVERY_HUNG));
        assert_string_equal(tl.out.transitions[0].reason,
                            "delivery process 777 has held message 1abcDE-000001-AB for 32m10s (1 hung in all); "
                            "a restart does not end it; no action (kill_hung_deliveries = no)");
        assert_false(tl.out.kill_hung);
        for (t = 70; t <= 200; t += 10)
                r = round_ok(3, "A"), feed_hung(&tl, t, &r, 777);
        assert_int_equal(tl.n_events[EVENT_DELIVERY_HUNG], 1);

        /* opt-in: another holder is reported and asked to be ended */
        tl.p.kill_hung_deliveries = true;
        r = round_ok(3, "A"), feed_hung(&tl, 210, &r, 778);
        assert_int_equal(tl.n_events[EVENT_DELIVERY_HUNG], 2);
        assert_string_equal(tl.out.transitions[0].reason,
                            "delivery process 778 has held message 1abcDE-000001-AB for 32m10s (1 hung in all); "
                            "ending it (kill_hung_deliveries)");
        assert_true(tl.out.kill_hung);
        assert_int_equal(tl.out.hung_pid, 778);
        assert_string_equal(tl.out.hung_id, "1abcDE-000001-AB");
        r = round_ok(3, "A"), feed_hung(&tl, 220, &r, 778);
        assert_false(tl.out.kill_hung);
        /* it ended; the same PID hung again later is news again */
        r = round_ok(3, "A"), feed_hung(&tl, 230, &r, 0);
        r = round_ok(3, "A"), feed_hung(&tl, 240, &r, 778);
        assert_true(tl.out.kill_hung);
        assert_int_equal(tl.n_events[EVENT_DELIVERY_HUNG], 3);
        assert_int_equal(tl.n_actions, 0);

        /* in OUTAGE, RECOVERING */
        r = round_ok(3, "A"), r.reach = FAIL, feed_hung(&tl, 250, &r, 0);
        r = round_ok(3, "A"), r.reach = FAIL, feed_hung(&tl, 260, &r, 0);
        r = round_ok(3, "A"), r.reach = FAIL, feed_hung(&tl, 270, &r, 801);
        assert_true(took(&tl, DETECTOR_OUTAGE, DETECTOR_OUTAGE, EVENT_DELIVERY_HUNG));
        r = round_ok(3, "A"), feed_hung(&tl, 280, &r, 801);
        r = round_ok(3, "A"), feed_hung(&tl, 290, &r, 801);
        assert_int_equal(tl.d.state, DETECTOR_RECOVERING);
        r = round_ok(3, "A"), feed_hung(&tl, 300, &r, 802);
        assert_true(took(&tl, DETECTOR_RECOVERING, DETECTOR_RECOVERING, EVENT_DELIVERY_HUNG));

        /* in REMEDIATING, VERIFYING, GAVE_UP */
        tl_init(&tl);
        t = stall_until_action(&tl);
        r = round_ok(20, "A"), r.overdue = 20, feed_hung(&tl, t, &r, 901);
        assert_true(took(&tl, DETECTOR_REMEDIATING, DETECTOR_REMEDIATING, EVENT_DELIVERY_HUNG));
        action_done(&tl, t + 5, true);
        r = round_ok(20, "A"), r.overdue = 20, feed_hung(&tl, t + 10, &r, 902);
        assert_true(took(&tl, DETECTOR_VERIFYING, DETECTOR_VERIFYING, EVENT_DELIVERY_HUNG));
        for (uint64_t u = t + 20; u <= t + 200 && tl.d.state != DETECTOR_GAVE_UP; u += 10)
                r = round_ok(20, "A"), r.overdue = 20, feed_hung(&tl, u, &r, 902);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        r = round_ok(20, "A"), r.overdue = 20, feed_hung(&tl, t + 300, &r, 903);
        assert_true(took(&tl, DETECTOR_GAVE_UP, DETECTOR_GAVE_UP, EVENT_DELIVERY_HUNG));
        assert_int_equal(tl.n_events[EVENT_DELIVERY_HUNG], 3);
        assert_int_equal(tl.n_actions, 1);
}

/* Every row of the transition table is well-formed, listed once, and was
 * taken by some timeline above; runs last. */
static void test_transition_table_covered(void **state) {
        const DetectorTransitionRule *rows;
        size_t n, missing = 0;

        rows = detector_transition_table(&n);
        assert_true(n > 0 && n <= TABLE_ROWS_MAX);
        for (size_t i = 0; i < n; i++) {
                assert_true(rows[i].from >= 0 && rows[i].from < _DETECTOR_STATE_MAX);
                assert_true(rows[i].to >= 0 && rows[i].to < _DETECTOR_STATE_MAX);
                assert_true(rows[i].event == _EVENT_KIND_INVALID ||
                            (rows[i].event >= 0 && rows[i].event < _EVENT_KIND_MAX));
                assert_true(detector_transition_allowed(rows[i].from, rows[i].to, rows[i].event));
                for (size_t j = i + 1; j < n; j++)
                        assert_false(rows[i].from == rows[j].from && rows[i].to == rows[j].to &&
                                     rows[i].event == rows[j].event);
        }
        assert_false(detector_transition_allowed(DETECTOR_HEALTHY, DETECTOR_VERIFYING, EVENT_GAVE_UP));

        for (size_t i = 0; i < n; i++)
                if (table_hits[i] == 0) {
                        print_error("no timeline takes %s -> %s (%s)\n",
                                    detector_state_to_string(rows[i].from),
                                    detector_state_to_string(rows[i].to), event_name(rows[i].event));
                        missing++;
                }
        assert_int_equal(missing, 0);
}


/* ---- The generic profile (README "The generic profile") ----
 * No schedule: stalled only with the oldest message older than
 * stall_after, then one flush, a restart only when the flush brought no
 * attempt; a delivery started and never ended (nullmailer's hang) goes
 * straight to the restart. Parameters as in tl_init(), the ladder
 * flush restart, hung_start_after 600 s. */

#define NM_START "Starting delivery: host: 192.0.2.2 protocol: smtp file: 1796089777.323"

typedef struct GenRound {
        unsigned backlog;
        const char *oldest;
        uint64_t oldest_age;     /* µs */
        ActivityCounts act;
        uint64_t open_start;     /* µs, CLOCK_MONOTONIC; 0: none */
} GenRound;

static const GenRound *gr(unsigned backlog, const char *oldest, uint64_t oldest_age, ActivityCounts act,
                          uint64_t open_start) {
        static GenRound r;

        r = (GenRound) { backlog, oldest, oldest_age, act, open_start };
        return &r;
}

static void gen_init(Timeline *tl) {
        tl_init(tl);
        tl->p.actions[0] = ACTION_FLUSH;
        tl->p.actions[1] = ACTION_RESTART;
        tl->p.n_actions = 2;
        tl->p.conservative = true;
        tl->p.hung_start_after_usec = S(600);
}

static void gen_feed(Timeline *tl, uint64_t t, const GenRound *r) {
        Observation o = {
                .reach = PROBE_OK,
                .queue_status = PROBE_OK,
                .queue = { .backlog = r->backlog, .deferred = r->backlog, .oldest_age_usec = r->oldest_age },
                .activity_status = PROBE_OK,
                .activity = r->act,
                .unit_status = PROBE_OK,
                .unit = unit_running,
        };
        snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "%s", r->oldest ? r->oldest : "");
        o.samples.open_start_usec = r->open_start;
        if (r->open_start)
                snprintf(o.samples.open_start_line, sizeof(o.samples.open_start_line), "%s", NM_START);
        step(tl, t, &o);
}

/* One message that arrived 100 s before t = 0, nothing logged, from A to B. */
static void gen_quiet(Timeline *tl, uint64_t from, uint64_t to, const ActivityCounts *act) {
        for (uint64_t t = from; t <= to; t += 10)
                gen_feed(tl, t, gr(1, "1796000000.10", S(t + 100), act ? *act : (ActivityCounts) {}, 0));
}

/* The MTA retried the probed relay during the outage (and in the first
 * moments after it): those failures are its attempts, so the stall comes
 * stall_after after the last of them, not restore_grace after the outage.
 * Reachability: down until t = 200, up from t = 210 (ok_threshold 2). */
static void test_generic_outage_attempts_are_life(void **state) {
        Timeline tl;
        ActivityCounts a = {};
        gen_init(&tl);

        for (uint64_t t = 0; t <= 250; t += 10) {
                Observation o = {
                        .reach = t < 200 ? PROBE_FAIL : PROBE_OK,
                        .queue_status = PROBE_OK,
                        .queue = { .backlog = 1, .deferred = 1, .oldest_age_usec = S(t + 1000) },
                        .activity_status = PROBE_OK,
                        .unit_status = PROBE_OK,
                        .unit = unit_running,
                };
                /* a failed attempt to the relay every 50 s, the last at t = 250 (in restore_grace) */
                if (t % 50 == 0 && t > 0) {
                        a.conn_errors_probed++;
                        a.failures[CAUSE_CONNECT_FAILURE]++;
                        a.fixable[CAUSE_CONNECT_FAILURE]++;
                }
                o.activity = a;
                snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "1796000000.10");
                step(&tl, t, &o);
        }
        assert_int_equal(tl.d.last_progress_usec, S(250));
        gen_quiet(&tl, 260, 540, &a);
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        gen_quiet(&tl, 550, 550, &a);
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        assert_int_equal(tl.out.transitions[0].event, EVENT_STALL_DETECTED);
        assert_string_equal(tl.out.transitions[0].reason,
                            "no progress for 5m with backlog 1, oldest 10m50s old, no schedule read while "
                            "reachability has been up for 5m40s");
}

/* Nothing attempted for stall_after: one flush; it brings no attempt
 * within verify_after: the restart, which delivers. */
static void test_generic_flush_then_restart(void **state) {
        Timeline tl;
        gen_init(&tl);

        gen_quiet(&tl, 0, 290, NULL);
        assert_int_equal(tl.n_actions, 0);
        gen_quiet(&tl, 300, 300, NULL);
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_STALL_DETECTED);
        assert_string_equal(tl.out.transitions[0].reason,
                            "no progress for 5m with backlog 1, oldest 6m40s old, no schedule read while "
                            "reachability has been up for 4m50s");
        assert_string_equal(tl.out.transitions[1].reason, "step 1 of 2: flush");
        action_done(&tl, 310, true);
        gen_quiet(&tl, 310, 420, NULL);
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        gen_quiet(&tl, 430, 430, NULL);
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_FAILED);
        assert_string_equal(tl.out.transitions[0].reason, "flush: no delivery within 2m");
        assert_string_equal(tl.out.transitions[1].reason, "step 2 of 2: restart");
        action_done(&tl, 440, true);
        gen_feed(&tl, 450, gr(0, NULL, 0, (ActivityCounts) { .sent = 1 }, 0));
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_SUCCEEDED);
        assert_int_equal(tl.out.transitions[1].event, EVENT_RECOVERED);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_int_equal(tl.n_actions, 2);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 1);
        assert_int_equal(tl.incidents_opened, 1);
        assert_int_equal(tl.incidents_closed, 1);
}

/* The flush makes the MTA try, and every attempt fails for a reason on the
 * other side: no restart (gave_up names the cause). */
static void test_generic_flush_remote_failures(void **state) {
        Timeline tl;
        ActivityCounts a = {};
        gen_init(&tl);

        gen_quiet(&tl, 0, 300, NULL);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        action_done(&tl, 310, true);
        for (uint64_t t = 310; t <= 430; t += 10) {
                if (t % 30 == 20) {
                        a.deferred++;
                        a.failures[CAUSE_DEFERRED_REMOTE]++;
                }
                gen_quiet(&tl, t, t, &a);
        }
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.d.state, DETECTOR_GAVE_UP);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_FAILED);
        assert_int_equal(tl.out.transitions[1].event, EVENT_GAVE_UP);
        assert_string_equal(tl.out.transitions[1].reason,
                            "delivery fails for a reason a restart cannot fix: deferred-remote");
        assert_int_equal(tl.out.transitions[1].cause, CAUSE_DEFERRED_REMOTE);
}

/* nullmailer's doubling pause: nothing attempted for longer than
 * stall_after; the flush (its trigger) makes it send: healed, no restart. */
static void test_generic_long_pause_flush_heals(void **state) {
        Timeline tl;
        gen_init(&tl);

        gen_quiet(&tl, 0, 300, NULL);
        assert_int_equal(tl.out.action, ACTION_FLUSH);
        action_done(&tl, 310, true);
        gen_feed(&tl, 320, gr(1, "1796000000.10", S(420), (ActivityCounts) { .started = 1 }, S(315)));
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        gen_feed(&tl, 330, gr(0, NULL, 0, (ActivityCounts) { .started = 1, .sent = 1 }, 0));
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_SUCCEEDED);
        assert_string_equal(tl.out.transitions[0].reason, "flush: mail delivered again (backlog 0)");
        assert_int_equal(tl.out.transitions[1].event, EVENT_RECOVERED);
        for (uint64_t t = 340; t <= 2000; t += 10)
                gen_feed(&tl, t, gr(0, NULL, 0, (ActivityCounts) { .started = 1, .sent = 1 }, 0));
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.n_events[EVENT_ACTION_STARTED], 1);
        assert_int_equal(tl.d.n_restarts, 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
}

/* A delivery the flush set off is still going at verify_after: its outcome
 * decides, not the clock (until hung_start_after). */
static void test_generic_flush_delivery_in_progress(void **state) {
        Timeline tl;
        gen_init(&tl);

        gen_quiet(&tl, 0, 300, NULL);
        action_done(&tl, 310, true);
        for (uint64_t t = 320; t <= 600; t += 10)
                gen_feed(&tl, t, gr(1, "1796000000.10", S(t + 100), (ActivityCounts) { .started = 1 }, S(315)));
        assert_int_equal(tl.d.state, DETECTOR_VERIFYING);
        assert_int_equal(tl.n_actions, 1);
        gen_feed(&tl, 610, gr(0, NULL, 0, (ActivityCounts) { .started = 1, .sent = 1 }, 0));
        assert_int_equal(tl.out.transitions[1].event, EVENT_RECOVERED);
        assert_int_equal(tl.n_actions, 1);
}

/* The wedged sender: "Starting delivery" and nothing after it. No stall
 * while the delivery may still be going; past hung_start_after straight to
 * the restart (a flush cannot wake it), and once per open start. */
static void test_generic_hung_start(void **state) {
        Timeline tl;
        ActivityCounts a = { .started = 1 };
        gen_init(&tl);

        for (uint64_t t = 0; t <= 600; t += 10)
                gen_feed(&tl, t, gr(1, "1796000000.10", S(t + 100), a, t >= 10 ? S(5) : 0));
        assert_int_equal(tl.n_actions, 0);            /* 5 m of silence, the delivery still "going" */
        gen_feed(&tl, 610, gr(1, "1796000000.10", S(710), a, S(5)));
        assert_true(tl.out.act);
        assert_int_equal(tl.out.action, ACTION_RESTART);
        assert_int_equal(tl.out.n_transitions, 2);
        assert_int_equal(tl.out.transitions[0].event, EVENT_STALL_DETECTED);
        assert_string_equal(tl.out.transitions[0].reason,
                            "delivery started 10m5s ago, no outcome (hung_delivery_after 10m): the sender hangs, a "
                            "flush cannot wake it: restart: \"Starting delivery: host: 192.0.2.2 protocol: smtp "
                            "file: 1796089777.323\"");
        assert_string_equal(tl.out.transitions[1].reason, "step 2 of 2: restart");
        assert_int_equal(tl.d.n_restarts, 1);
        action_done(&tl, 620, true);
        /* the new sender delivers */
        a.sent = 1;
        gen_feed(&tl, 630, gr(0, NULL, 0, a, 0));
        assert_int_equal(tl.out.transitions[0].event, EVENT_ACTION_SUCCEEDED);
        assert_int_equal(tl.out.transitions[1].event, EVENT_RECOVERED);
        assert_int_equal(tl.n_actions, 1);

        /* the same open start seen again later (nothing closed it): no second incident */
        Timeline t2;
        gen_init(&t2);
        for (uint64_t t = 0; t <= 610; t += 10)
                gen_feed(&t2, t, gr(1, "1796000000.10", S(t + 100), a, S(5)));
        assert_int_equal(t2.n_actions, 1);
        action_done(&t2, 620, true);
        for (uint64_t t = 630; t <= 740; t += 10)
                gen_feed(&t2, t, gr(1, "1796000000.10", S(t + 100), a, S(5)));
        assert_int_equal(t2.d.state, DETECTOR_GAVE_UP);
        assert_string_equal(t2.out.transitions[1].reason, "all 2 remediation steps tried without progress");
        assert_int_equal(t2.n_actions, 1);
        assert_int_equal(t2.n_events[EVENT_STALL_DETECTED], 1);
}

/* A message younger than stall_after is never a stall without a schedule
 * (an MTA that rewrites its queue file at each attempt keeps it young);
 * the same timeline with a schedule-reading profile restarts at 300 s. */
static void test_generic_young_backlog(void **state) {
        Timeline tl, other;
        gen_init(&tl);
        tl_init(&other);

        for (uint64_t t = 0; t <= 2000; t += 10) {
                gen_feed(&tl, t, gr(1, "1796000000.10", S(120), (ActivityCounts) {}, 0));
                gen_feed(&other, t, gr(1, "1796000000.10", S(120), (ActivityCounts) {}, 0));
        }
        assert_int_equal(tl.n_actions, 0);
        assert_int_equal(tl.n_events[EVENT_STALL_DETECTED], 0);
        assert_int_equal(tl.d.state, DETECTOR_HEALTHY);
        assert_true(other.first_action_at == S(300));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outage_then_healthy_drain),
                cmocka_unit_test(test_outage_then_stall_grace_decides),
                cmocka_unit_test(test_outage_then_stall_stall_after_decides),
                cmocka_unit_test(test_outage_never_ends),
                cmocka_unit_test(test_empty_queue_never),
                cmocka_unit_test(test_flapping_link_hysteresis),
                cmocka_unit_test(test_unknown_queue_never),
                cmocka_unit_test(test_unanswered_probe_never_stalls),
                cmocka_unit_test(test_restart_without_progress_gives_up),
                cmocka_unit_test(test_ladder_flush_then_restart),
                cmocka_unit_test(test_restart_budget),
                cmocka_unit_test(test_giveup_holddown),
                cmocka_unit_test(test_judge_once),
                cmocka_unit_test(test_start_limit_respected),
                cmocka_unit_test(test_operator_reset),
                cmocka_unit_test(test_budget_window_edges),
                cmocka_unit_test(test_restore_gave_up_keeps_holddown),
                cmocka_unit_test(test_cause_survives_daemon_restart),
                cmocka_unit_test(test_reload_shrinks_ladder),
                cmocka_unit_test(test_incident_opened_by_later_transition),
                cmocka_unit_test(test_A_probed_error_does_not_latch),
                cmocka_unit_test(test_B_outage_errors_counted_as_up),
                cmocka_unit_test(test_C_verify_needs_queue_progress),
                cmocka_unit_test(test_D_admin_stop_during_verify_no_restart),
                cmocka_unit_test(test_D2_failed_during_verify_no_restart),
                cmocka_unit_test(test_E_failed_during_remediating_alerted),
                cmocka_unit_test(test_E2_stopped_during_remediating),
                cmocka_unit_test(test_F_outage_during_gave_up),
                cmocka_unit_test(test_G_overlapping_unknown_episodes_alerted),
                cmocka_unit_test(test_H_incident_activity_no_underflow),
                cmocka_unit_test(test_I_gave_up_admin_restart_no_false_recovered),
                cmocka_unit_test(test_restore_verifying),
                cmocka_unit_test(test_restore_budget_spent),
                cmocka_unit_test(test_slow_restart_job),
                cmocka_unit_test(test_slow_restart_job_fails),
                cmocka_unit_test(test_restore_pending_job),
                cmocka_unit_test(test_catalog_01_backoff),
                cmocka_unit_test(test_catalog_02_greylisting),
                cmocka_unit_test(test_catalog_03_dead_domain),
                cmocka_unit_test(test_catalog_04_big_draining_queue),
                cmocka_unit_test(test_catalog_05_hung_delivery_agent),
                cmocka_unit_test(test_catalog_06_throttled_burst_after_restart),
                cmocka_unit_test(test_catalog_07_master_stopped_maildrop),
                cmocka_unit_test(test_catalog_08_admin_stop),
                cmocka_unit_test(test_catalog_09_start_limit_hit),
                cmocka_unit_test(test_catalog_10_queue_probe_times_out),
                cmocka_unit_test(test_catalog_11_flapping_link),
                cmocka_unit_test(test_catalog_12_dns_outage_bounces),
                cmocka_unit_test(test_catalog_13_conn_errors_to_reachable_relay),
                cmocka_unit_test(test_catalog_14_overdue_at_once_drains),
                cmocka_unit_test(test_catalog_15_overdue_seen_for_slack),
                cmocka_unit_test(test_catalog_16_clock_step_restarts_overdue_clock),
                cmocka_unit_test(test_catalog_17_probed_errors_need_no_overdue_clock),
                cmocka_unit_test(test_catalog_18_host_status_wait),
                cmocka_unit_test(test_unit_changes_during_outage_and_recovery),
                cmocka_unit_test(test_unknown_in_every_state),
                cmocka_unit_test(test_outage_again_while_recovering),
                cmocka_unit_test(test_outage_while_verifying),
                cmocka_unit_test(test_ladder_flush_verified_then_restart),
                cmocka_unit_test(test_outage_ends_while_gave_up),
                cmocka_unit_test(test_random_walks_stay_in_table),
                cmocka_unit_test(test_cause_protocol_timeout_after_restart),
                cmocka_unit_test(test_cause_degraded_while_gave_up),
                cmocka_unit_test(test_cause_dns_fixable),
                cmocka_unit_test(test_cause_dns_bounces),
                cmocka_unit_test(test_cause_mta_internal_not_repeated),
                cmocka_unit_test(test_cause_mta_errors_only),
                cmocka_unit_test(test_cause_degraded_outage_and_recovering),
                cmocka_unit_test(test_cause_degraded_with_deliveries),
                cmocka_unit_test(test_cause_names),
                cmocka_unit_test(test_died_restart_verified),
                cmocka_unit_test(test_died_blip_and_admin_stop),
                cmocka_unit_test(test_died_in_outage_and_recovering),
                cmocka_unit_test(test_died_budget_and_holddown),
                cmocka_unit_test(test_died_reported_only),
                cmocka_unit_test(test_flush_on_restore),
                cmocka_unit_test(test_flush_on_restore_fails),
                cmocka_unit_test(test_hung_delivery),
                cmocka_unit_test(test_generic_flush_then_restart),
                cmocka_unit_test(test_generic_flush_remote_failures),
                cmocka_unit_test(test_generic_long_pause_flush_heals),
                cmocka_unit_test(test_generic_flush_delivery_in_progress),
                cmocka_unit_test(test_generic_hung_start),
                cmocka_unit_test(test_generic_young_backlog),
                cmocka_unit_test(test_generic_outage_attempts_are_life),
                cmocka_unit_test(test_transition_table_covered), /* last: counts the ones above */
        };
        return cmocka_run_group_tests_name("detector", tests, NULL, NULL);
}
