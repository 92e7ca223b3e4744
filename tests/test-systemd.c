/* SPDX-License-Identifier: MIT */
/* unit_restart() against the fake org.freedesktop.systemd1 of
 * fake-systemd.h. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-systemd.h"
#include "macros.h"
#include "systemd.h"
#include "tests.h"

typedef struct Result {
        bool called;
        unsigned n_calls;
        RestartOutcome outcome;
        unsigned n_job_events[3];    /* per UnitJobEvent */
        bool slow_before_queued;     /* UNIT_JOB_SLOW came before UNIT_JOB_QUEUED */
        char slow_job[UNIT_JOB_PATH_MAX]; /* the job named when it was slow */
} Result;

static void on_done(const RestartOutcome *o, void *userdata) {
        Result *res = userdata;

        res->called = true;
        res->n_calls++;
        res->outcome = *o;
}

static void on_job(UnitJobEvent what, const RestartOutcome *o, void *userdata) {
        Result *res = userdata;

        assert_true(what >= 0 && what < 3);
        assert_false(res->called);
        res->n_job_events[what]++;
        if (what == UNIT_JOB_SLOW) {
                res->slow_before_queued = res->n_job_events[UNIT_JOB_QUEUED] == 0;
                snprintf(res->slow_job, sizeof(res->slow_job), "%s",
                         o->job_path[0] && !o->adopted ? o->job_path : o->adopted ? o->job_path : o->other_job_path);
        }
}

/* The fake's service has MainPID 100, and 200 once restarted. */
static int setup(void **state) {
        Harness *h;

        if (harness_setup(state) < 0)
                return -1;
        h = *state;
        h->fake.main_pid = 100;
        h->fake.restart_main_pid = 200;
        return 0;
}

/* Debian's postfix@-.service: Type=forking, GuessMainPID=no, MainPID 0.
 * The restart is judged by the unit's processes. */
static void fake_debian_postfix(Harness *h) {
        h->fake.unit = "postfix@-.service";
        h->fake.main_pid = 0;
        h->fake.restart_main_pid = 0;
        h->fake.list_processes = true;
}

/* Restarts with the harness as set up and returns the outcome. */
static void restart(Harness *h, uint64_t timeout_usec, Result *res) {
        UnitRestart *op = NULL;

        memset(res, 0, sizeof(*res));
        assert_int_equal(unit_restart(h->client, h->fake.unit, timeout_usec, on_done, res, &op), 0);
        run_until(h->event, &res->called, 10 * USEC_PER_SEC);
        assert_true(res->called);
        /* Nothing else may call back later. */
        run_for(h->event, 100 * USEC_PER_MSEC);
        assert_int_equal(res->n_calls, 1);
        unit_restart_free(op);
}

/* The same through unit_restart_full() with OPTS (its on_job is set here). */
static void restart_opts(Harness *h, UnitRestartOptions opts, Result *res) {
        UnitRestart *op = NULL;

        memset(res, 0, sizeof(*res));
        opts.on_job = on_job;
        assert_int_equal(unit_restart_full(h->client, h->fake.unit, &opts, on_done, res, &op), 0);
        run_until(h->event, &res->called, 10 * USEC_PER_SEC);
        run_for(h->event, 100 * USEC_PER_MSEC);
        assert_int_equal(res->n_calls, 1);
        unit_restart_free(op);
}

static void assert_after_running(const RestartOutcome *o, uint32_t pid) {
        assert_string_equal(o->after.active_state, "active");
        assert_string_equal(o->after.sub_state, "running");
        assert_string_equal(o->after.result, "success");
        assert_int_equal(o->after.main_pid, pid);
}

static void test_object_path(void **state) {
        _cleanup_free_ char *p = NULL, *q = NULL;

        assert_int_equal(unit_object_path("postfix.service", &p), 0);
        assert_string_equal(p, "/org/freedesktop/systemd1/unit/postfix_2eservice");
        assert_int_equal(unit_object_path("postfix@-.service", &q), 0);
        assert_string_equal(q, "/org/freedesktop/systemd1/unit/postfix_40_2d_2eservice");
        assert_int_equal(unit_object_path(NULL, &q), -EINVAL);
}

static void test_restart_ok(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.unit = "postfix@-.service";
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.error_message, "");
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_after_running(&res.outcome, 200);
        assert_true(res.outcome.success);
        assert_int_equal(h->fake.n_restart_calls, 1);
        /* a unit with a MainPID is stopped by systemd, which sends SIGCONT itself */
        assert_int_equal(h->fake.n_kill_calls, 0);
}

static void test_signal_before_reply(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.job_mode = FAKE_JOB_SIGNAL_BEFORE_REPLY;
        h->fake.already_subscribed = true;   /* also: this error is not one */
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_true(res.outcome.success);
}

static void test_access_denied(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.deny_restart = true;
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, -EACCES);
        assert_string_equal(res.outcome.error_message, "Access denied by test");
        assert_true(unit_restart_refused(&res.outcome));   /* the admin is pointed at polkit */
        assert_string_equal(res.outcome.job_result, "");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_after_running(&res.outcome, 100);   /* status still read */
        assert_false(res.outcome.success);
}

/* A job past the deadline is slow, not failed: reported once, then the
 * wait goes on (the unit's Job property is polled), and nothing else is
 * issued: no second RestartUnit over it. */
static void test_job_never_ends_is_slow(void **state) {
        Harness *h = *state;
        UnitRestart *op = NULL;
        Result res = {};
        uint64_t t0 = now_usec();
        bool slow = false;

        h->fake.job_mode = FAKE_JOB_NEVER_ENDS;
        assert_int_equal(unit_restart_full(h->client, h->fake.unit,
                                           &(UnitRestartOptions) { .timeout_usec = 200 * USEC_PER_MSEC, .on_job = on_job },
                                           on_done, &res, &op), 0);
        while (!slow) {
                assert_true(now_usec() - t0 < 5 * USEC_PER_SEC);
                assert_true(sd_event_run(h->event, 20 * USEC_PER_MSEC) >= 0);
                slow = res.n_job_events[UNIT_JOB_SLOW] > 0;
        }
        assert_true(now_usec() - t0 >= 200 * USEC_PER_MSEC);
        /* Five more deadlines: still waiting, polled, reported once. */
        run_for(h->event, 1000 * USEC_PER_MSEC);
        assert_false(res.called);
        assert_int_equal(res.n_job_events[UNIT_JOB_QUEUED], 1);
        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 1);
        assert_int_equal(res.n_job_events[UNIT_JOB_WAITING], 0);
        assert_false(res.slow_before_queued);
        assert_string_equal(res.slow_job, FAKE_JOB_PATH);
        assert_int_equal(h->fake.n_restart_calls, 1);
        assert_true(h->fake.n_job_reads >= 4);   /* the check before, and polls every 200ms */
        unit_restart_free(op);
}

/* The job takes 700ms, the deadline is 200ms: slow once, then its
 * JobRemoved is awaited and judged as usual. */
static void test_slow_job_then_done(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.job_delay_usec = 700 * USEC_PER_MSEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 200 * USEC_PER_MSEC }, &res);

        assert_int_equal(res.n_job_events[UNIT_JOB_QUEUED], 1);
        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 1);
        assert_string_equal(res.slow_job, FAKE_JOB_PATH);
        assert_true(res.outcome.slow);
        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_string_equal(res.outcome.job_path, FAKE_JOB_PATH);
        assert_int_equal(res.outcome.deadline_usec, 200 * USEC_PER_MSEC);
        assert_false(res.outcome.deadline_from_unit);
        assert_after_running(&res.outcome, 200);
        assert_true(res.outcome.success);
        assert_int_equal(h->fake.n_restart_calls, 1);
}

/* The JobRemoved signal is lost: polling the Job property finds the job
 * gone, and the status decides. */
static void test_slow_job_signal_lost(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.job_delay_usec = 500 * USEC_PER_MSEC;
        h->fake.job_silent = true;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 200 * USEC_PER_MSEC }, &res);

        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 1);
        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "");
        assert_after_running(&res.outcome, 200);
        assert_true(res.outcome.success);
        assert_int_equal(h->fake.n_restart_calls, 1);
}

/* Another job of the unit is pending: no RestartUnit until it has ended. */
static void test_other_job_pending_waits(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.pending_job_id = 17;
        h->fake.pending_job = "/org/freedesktop/systemd1/job/17";
        h->fake.pending_job_usec = 300 * USEC_PER_MSEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC }, &res);

        assert_int_equal(res.n_job_events[UNIT_JOB_WAITING], 1);
        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 0);
        assert_int_equal(res.n_job_events[UNIT_JOB_QUEUED], 1);
        assert_int_equal(res.outcome.other_job_id, 17);
        assert_string_equal(res.outcome.other_job_path, "/org/freedesktop/systemd1/job/17");
        assert_int_equal(h->fake.n_restart_while_pending, 0);
        assert_int_equal(h->fake.n_restart_calls, 1);
        assert_int_equal(h->fake.n_job_reads, 2);   /* pending, then none */
        assert_true(res.outcome.success);
}

/* The other job outlives the deadline: slow (naming that job), still no
 * RestartUnit over it; afterwards ours runs with a deadline of its own. */
static void test_other_job_slow(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.pending_job_id = 17;
        h->fake.pending_job = "/org/freedesktop/systemd1/job/17";
        h->fake.pending_job_usec = 700 * USEC_PER_MSEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 200 * USEC_PER_MSEC }, &res);

        assert_int_equal(res.n_job_events[UNIT_JOB_WAITING], 1);
        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 1);
        assert_true(res.slow_before_queued);
        assert_string_equal(res.slow_job, "/org/freedesktop/systemd1/job/17");
        assert_int_equal(h->fake.n_restart_while_pending, 0);
        assert_int_equal(h->fake.n_restart_calls, 1);
        assert_string_equal(res.outcome.job_result, "done");
        assert_true(res.outcome.success);
}

/* restart_timeout = auto: the unit's TimeoutStartUSec + TimeoutStopUSec + 5s. */
static void test_auto_deadline_from_unit(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.timeout_start_usec = 75 * USEC_PER_SEC;
        h->fake.timeout_stop_usec = 20 * USEC_PER_SEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = RESTART_TIMEOUT_AUTO }, &res);

        assert_int_equal(res.outcome.deadline_usec, 100 * USEC_PER_SEC);
        assert_true(res.outcome.deadline_from_unit);
        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 0);
        assert_true(res.outcome.success);
}

static void test_auto_deadline_infinity_capped(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.timeout_start_usec = USEC_INFINITY;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = RESTART_TIMEOUT_AUTO }, &res);

        assert_int_equal(res.outcome.deadline_usec, 10 * 60 * USEC_PER_SEC);
        assert_true(res.outcome.deadline_from_unit);
        assert_true(res.outcome.success);
}

static void test_auto_deadline_not_a_service(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.unit = "mail.target";
        h->fake.is_service = false;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = RESTART_TIMEOUT_AUTO }, &res);

        assert_int_equal(res.outcome.deadline_usec, 90 * USEC_PER_SEC);
        assert_false(res.outcome.deadline_from_unit);
        assert_int_equal(h->fake.n_restart_calls, 1);
}

static void test_timeout_from_unit(void **state) {
        assert_int_equal(restart_timeout_from_unit(90 * USEC_PER_SEC, 90 * USEC_PER_SEC), 185 * USEC_PER_SEC);
        assert_int_equal(restart_timeout_from_unit(0, 0), 5 * USEC_PER_SEC);
        assert_int_equal(restart_timeout_from_unit(USEC_INFINITY, 90 * USEC_PER_SEC), 600 * USEC_PER_SEC);
        assert_int_equal(restart_timeout_from_unit(90 * USEC_PER_SEC, USEC_INFINITY), 600 * USEC_PER_SEC);
        assert_int_equal(restart_timeout_from_unit(400 * USEC_PER_SEC, 200 * USEC_PER_SEC), 600 * USEC_PER_SEC);
        assert_int_equal(restart_timeout_from_unit(400 * USEC_PER_SEC, 194 * USEC_PER_SEC), 599 * USEC_PER_SEC);
}

/* After a restart of the daemon: our job from before is still pending; it
 * is waited for, never issued again, and judged by the unit's state. */
static void test_adopt_pending_job(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.pending_job_id = 42;
        h->fake.pending_job = FAKE_JOB_PATH;
        h->fake.pending_job_usec = 300 * USEC_PER_MSEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .adopt_job = FAKE_JOB_PATH }, &res);

        assert_int_equal(h->fake.n_restart_calls, 0);
        assert_int_equal(res.n_job_events[UNIT_JOB_WAITING], 0);
        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 0);
        assert_true(res.outcome.adopted);
        assert_string_equal(res.outcome.job_path, FAKE_JOB_PATH);
        assert_string_equal(res.outcome.job_result, "done");
        assert_after_running(&res.outcome, 100);
        assert_true(res.outcome.success);
}

/* Slow was reported by the daemon before it restarted: not again. */
static void test_adopt_slow_reported(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.pending_job_id = 42;
        h->fake.pending_job = FAKE_JOB_PATH;
        h->fake.pending_job_usec = 500 * USEC_PER_MSEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 100 * USEC_PER_MSEC, .adopt_job = FAKE_JOB_PATH,
                                               .slow_reported = true }, &res);

        assert_int_equal(res.n_job_events[UNIT_JOB_SLOW], 0);
        assert_true(res.outcome.slow);
        assert_int_equal(h->fake.n_restart_calls, 0);
        assert_true(res.outcome.success);
}

/* The job ended while the daemon was down: the unit's state decides. */
static void test_adopt_job_gone(void **state) {
        Harness *h = *state;
        Result res;

        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .adopt_job = FAKE_JOB_PATH }, &res);
        assert_int_equal(h->fake.n_restart_calls, 0);
        assert_true(res.outcome.adopted);
        assert_string_equal(res.outcome.job_result, "");
        assert_true(res.outcome.success);

        h->fake.active_state = "failed";
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .adopt_job = FAKE_JOB_PATH }, &res);
        assert_false(res.outcome.success);
}

/* Before a flush: only wait until no job of the unit is pending. */
static void test_wait_only(void **state) {
        Harness *h = *state;
        Result res;

        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .wait_only = true }, &res);
        assert_true(res.outcome.success);
        assert_int_equal(res.n_job_events[UNIT_JOB_WAITING], 0);

        h->fake.pending_job_id = 17;
        h->fake.pending_job = "/org/freedesktop/systemd1/job/17";
        h->fake.pending_job_usec = 200 * USEC_PER_MSEC;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .wait_only = true }, &res);
        assert_true(res.outcome.success);
        assert_int_equal(res.n_job_events[UNIT_JOB_WAITING], 1);
        assert_int_equal(h->fake.n_restart_calls, 0);
        assert_int_equal(h->fake.n_job_reads, 3);
}

static void test_pid_unchanged(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.restart_main_pid = 0;
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_after_running(&res.outcome, 100);
        assert_false(res.outcome.success);
}

static void test_not_a_service(void **state) {
        Harness *h = *state;
        Result res;

        h->fake.unit = "mail.target";
        h->fake.is_service = false;
        h->fake.sub_state = "active";
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 0);
        assert_string_equal(res.outcome.after.active_state, "active");
        assert_string_equal(res.outcome.after.result, "");
        assert_int_equal(res.outcome.after.main_pid, 0);
        assert_false(res.outcome.success);
}

static void test_no_main_pid_processes_replaced(void **state) {
        Harness *h = *state;
        Result res;

        fake_debian_postfix(h);
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .cont_first = true }, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_int_equal(res.outcome.old_main_pid, 0);
        assert_int_equal(res.outcome.after.main_pid, 0);
        assert_true(res.outcome.by_processes);
        assert_int_equal(res.outcome.old_processes, 2);
        assert_int_equal(res.outcome.new_processes, 2);
        assert_int_equal(res.outcome.survivors, 0);
        assert_true(res.outcome.success);
        /* every process of the unit continued first (a SysV stop sends SIGTERM only) */
        assert_int_equal(h->fake.n_kill_calls, 1);
        assert_string_equal(h->fake.kill_who, "all");
        assert_int_equal(h->fake.kill_signal, SIGCONT);
        assert_true(h->fake.killed_before_restart);
        assert_int_equal(h->fake.n_restart_calls, 1);
}

/* Without cont_first (a unit whose liveness is not read from a PID file,
 * Postfix's): no KillUnit, the restart alone. */
static void test_no_main_pid_no_cont(void **state) {
        Harness *h = *state;
        Result res;

        fake_debian_postfix(h);
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_int_equal(h->fake.n_kill_calls, 0);
        assert_int_equal(h->fake.n_restart_calls, 1);
        assert_true(res.outcome.by_processes);
        assert_true(res.outcome.success);
}

/* KillUnit refused (no polkit grant for "kill"): the restart still happens. */
static void test_no_main_pid_cont_denied(void **state) {
        Harness *h = *state;
        Result res;

        fake_debian_postfix(h);
        h->fake.deny_kill = true;
        restart_opts(h, (UnitRestartOptions) { .timeout_usec = 5 * USEC_PER_SEC, .cont_first = true }, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_int_equal(h->fake.n_kill_calls, 1);
        assert_int_equal(h->fake.n_restart_calls, 1);
        assert_true(res.outcome.by_processes);
        assert_int_equal(res.outcome.survivors, 0);
        assert_true(res.outcome.success);
}

static void test_no_main_pid_process_survives(void **state) {
        Harness *h = *state;
        Result res;

        fake_debian_postfix(h);
        h->fake.survivor = true;
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_true(res.outcome.by_processes);
        assert_int_equal(res.outcome.survivors, 1);
        assert_false(res.outcome.success);
}

static void test_status_hangs(void **state) {
        Harness *h = *state;
        Result res;
        uint64_t t0 = now_usec();

        h->fake.hang_status = true;
        restart(h, 60 * USEC_PER_SEC, &res);

        /* Bounded by the status deadline (5s), not the restart timeout. */
        assert_true(now_usec() - t0 < 8 * USEC_PER_SEC);
        assert_int_equal(res.outcome.error, -ETIMEDOUT);
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_string_equal(res.outcome.after.active_state, "");
        assert_false(res.outcome.success);
}

static void on_done_forbidden(const RestartOutcome *o, void *userdata) {
        fail_msg("callback after unit_restart_free()");
}

static void test_free_cancels(void **state) {
        UnitRestart *op = NULL;
        Harness *h = *state;

        h->fake.job_mode = FAKE_JOB_NEVER_ENDS;
        assert_int_equal(unit_restart(h->client, h->fake.unit, 200 * USEC_PER_MSEC, on_done_forbidden, NULL, &op), 0);

        /* Let it get as far as waiting for the job, then cancel. */
        run_for(h->event, 100 * USEC_PER_MSEC);
        assert_int_equal(h->fake.n_restart_calls, 1);
        op = unit_restart_free(op);

        /* Past the deadline: the timer must be gone too. */
        run_for(h->event, 300 * USEC_PER_MSEC);
}

static void test_bad_args(void **state) {
        UnitRestart *op = NULL;
        sd_bus *bus = NULL;

        assert_int_equal(sd_bus_new(&bus), 0);
        /* Not attached to an event loop. */
        assert_int_equal(unit_restart(bus, "postfix.service", USEC_PER_SEC, on_done_forbidden, NULL, &op), -EINVAL);
        assert_null(op);
        sd_bus_unref(bus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_object_path),
                cmocka_unit_test_setup_teardown(test_restart_ok, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_signal_before_reply, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_access_denied, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_job_never_ends_is_slow, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_slow_job_then_done, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_slow_job_signal_lost, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_other_job_pending_waits, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_other_job_slow, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_auto_deadline_from_unit, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_auto_deadline_infinity_capped, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_auto_deadline_not_a_service, setup, harness_teardown),
                cmocka_unit_test(test_timeout_from_unit),
                cmocka_unit_test_setup_teardown(test_adopt_pending_job, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_adopt_slow_reported, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_adopt_job_gone, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_wait_only, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_pid_unchanged, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_not_a_service, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_main_pid_processes_replaced, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_main_pid_process_survives, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_main_pid_cont_denied, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_main_pid_no_cont, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_status_hangs, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_free_cancels, setup, harness_teardown),
                cmocka_unit_test(test_bad_args),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
