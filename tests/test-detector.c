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

typedef struct Timeline {
        Detector d;
        DetectorParams p;
        DetectorOutput out;
        /* what happened over the whole run */
        unsigned n_actions, n_events[_EVENT_KIND_MAX];
        uint64_t first_action_at;
        unsigned incidents_opened, incidents_closed;
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
        };
        tl->first_action_at = UINT64_MAX;
        detector_init(&tl->d, 0);
}

static void tl_account(Timeline *tl, uint64_t t) {
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

/* One probe round at T seconds. */
static void tick(Timeline *tl, uint64_t t, int reach, int qs, unsigned backlog, const char *oldest) {
        Observation o = {
                .reach = (ProbeStatus) reach,
                .queue_status = (ProbeStatus) qs,
                .queue = { .backlog = backlog },
        };
        snprintf(o.queue.oldest_id, sizeof(o.queue.oldest_id), "%s", oldest ? oldest : "");
        detector_step(&tl->d, &tl->p, &o, S(t), &tl->out);
        tl_account(tl, S(t));
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
                            "no queue progress for 6m30s with backlog 20 while reachability has been up for 1m");
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
        tick(&tl, 390, FAIL, OK, 20, "A");                /* a lone failure at the decisive tick */
        assert_int_equal(tl.n_actions, 1);
        assert_true(tl.first_action_at == S(390));
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
        ticks(&tl, 530, 5000, OK, OK, 20, "A");
        assert_int_equal(tl.n_actions, 1);
        assert_int_equal(tl.n_events[EVENT_GAVE_UP], 1);

        /* Progress ends the incident. */
        tick(&tl, 5010, OK, OK, 19, "B");
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outage_then_healthy_drain),
                cmocka_unit_test(test_outage_then_stall_grace_decides),
                cmocka_unit_test(test_outage_then_stall_stall_after_decides),
                cmocka_unit_test(test_outage_never_ends),
                cmocka_unit_test(test_empty_queue_never),
                cmocka_unit_test(test_flapping_link_hysteresis),
                cmocka_unit_test(test_unknown_queue_never),
                cmocka_unit_test(test_restart_without_progress_gives_up),
                cmocka_unit_test(test_ladder_flush_then_restart),
                cmocka_unit_test(test_restart_budget),
        };
        return cmocka_run_group_tests_name("detector", tests, NULL, NULL);
}
