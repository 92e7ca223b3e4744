/* SPDX-License-Identifier: MIT */
/* unit_restart() against the fake org.freedesktop.systemd1 of
 * fake-systemd.h. */
#include <errno.h>
#include <setjmp.h>
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
} Result;

static void on_done(const RestartOutcome *o, void *userdata) {
        Result *res = userdata;

        res->called = true;
        res->n_calls++;
        res->outcome = *o;
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

static void test_timeout(void **state) {
        Harness *h = *state;
        Result res;
        uint64_t t0 = now_usec();

        h->fake.job_mode = FAKE_JOB_NEVER_ENDS;
        h->fake.restart_main_pid = 0;
        restart(h, 300 * USEC_PER_MSEC, &res);

        assert_true(now_usec() - t0 >= 300 * USEC_PER_MSEC);
        assert_int_equal(res.outcome.error, -ETIMEDOUT);
        assert_false(unit_restart_refused(&res.outcome));
        assert_string_equal(res.outcome.job_result, "");
        assert_after_running(&res.outcome, 100);
        assert_false(res.outcome.success);
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
        restart(h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_int_equal(res.outcome.old_main_pid, 0);
        assert_int_equal(res.outcome.after.main_pid, 0);
        assert_true(res.outcome.by_processes);
        assert_int_equal(res.outcome.old_processes, 2);
        assert_int_equal(res.outcome.new_processes, 2);
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
                cmocka_unit_test_setup_teardown(test_timeout, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_pid_unchanged, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_not_a_service, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_main_pid_processes_replaced, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_main_pid_process_survives, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_status_hangs, setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_free_cancels, setup, harness_teardown),
                cmocka_unit_test(test_bad_args),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
