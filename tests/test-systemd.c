/* SPDX-License-Identifier: MIT */
/* unit_restart() against a fake org.freedesktop.systemd1 on a direct
 * connection (socketpair): the real PID 1 is covered by the e2e tests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "macros.h"
#include "bus-pair.h"
#include "systemd.h"

#define JOB_PATH "/org/freedesktop/systemd1/job/42"

typedef enum JobMode {
        JOB_SIGNAL_AFTER_REPLY,    /* the usual order */
        JOB_SIGNAL_BEFORE_REPLY,   /* the race the code must survive */
        JOB_NEVER_ENDS,
} JobMode;

typedef struct FakeManager {
        sd_bus *bus;
        const char *unit;
        bool is_service;
        bool already_subscribed;
        bool deny_restart;
        bool pid_changes;
        bool hang_status;          /* never answer Get after the restart */
        bool list_processes;       /* answer GetUnitProcesses (Debian's postfix@-: MainPID 0) */
        bool survivor;             /* one old process outlives the restart */
        bool restarted;
        JobMode job_mode;
        uint32_t main_pid;
        unsigned n_restart_calls;
        sd_event_source *job_timer;
} FakeManager;

typedef struct Result {
        bool called;
        unsigned n_calls;
        RestartOutcome outcome;
} Result;

static int emit_job_removed(FakeManager *f, uint32_t id, const char *job, const char *unit, const char *result) {
        return sd_bus_emit_signal(f->bus, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                  "JobRemoved", "uoss", id, job, unit, result);
}

static void finish_job(FakeManager *f) {
        f->restarted = true;
        if (f->pid_changes && f->main_pid != 0)
                f->main_pid = 200;
        /* Noise first: another unit's job, and an older job of our unit. */
        assert_true(emit_job_removed(f, 7, "/org/freedesktop/systemd1/job/7", "other.service", "failed") >= 0);
        assert_true(emit_job_removed(f, 41, "/org/freedesktop/systemd1/job/41", f->unit, "canceled") >= 0);
        assert_true(emit_job_removed(f, 42, JOB_PATH, f->unit, "done") >= 0);
}

static int on_job_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        finish_job(userdata);
        return 0;
}

static int fake_method(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeManager *f = userdata;
        _cleanup_free_ char *unit_path = NULL;
        const char *a, *b;

        if (sd_bus_message_is_method_call(m, "org.freedesktop.systemd1.Manager", "Subscribe")) {
                if (f->already_subscribed)
                        return sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.AlreadySubscribed",
                                                          "Client is already subscribed.");
                return sd_bus_reply_method_return(m, NULL);
        }

        if (sd_bus_message_is_method_call(m, "org.freedesktop.systemd1.Manager", "RestartUnit")) {
                assert_true(sd_bus_message_read(m, "ss", &a, &b) >= 0);
                assert_string_equal(a, f->unit);
                assert_string_equal(b, "replace");
                f->n_restart_calls++;
                if (f->deny_restart)
                        return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "Access denied by test");
                if (f->job_mode == JOB_SIGNAL_BEFORE_REPLY)
                        finish_job(f);
                assert_true(sd_bus_reply_method_return(m, "o", JOB_PATH) >= 0);
                if (f->job_mode == JOB_SIGNAL_AFTER_REPLY)
                        assert_true(sd_event_add_time_relative(sd_bus_get_event(f->bus), &f->job_timer,
                                                               CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0,
                                                               on_job_timer, f) >= 0);
                return 1;
        }

        if (f->list_processes &&
            sd_bus_message_is_method_call(m, "org.freedesktop.systemd1.Manager", "GetUnitProcesses")) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                uint32_t before[] = { 100, 101 }, after[] = { 200, 201 }, *pids;

                assert_true(sd_bus_message_read(m, "s", &a) >= 0);
                assert_string_equal(a, f->unit);
                if (f->survivor)
                        after[0] = 101;
                pids = f->restarted ? after : before;
                assert_true(sd_bus_message_new_method_return(m, &reply) >= 0);
                assert_true(sd_bus_message_append(reply, "a(sus)", 2,
                                                  "/system.slice/x", pids[0], "/usr/lib/postfix/sbin/master -w",
                                                  "/system.slice/x", pids[1], "qmgr -l -t unix -u") >= 0);
                return sd_bus_send(NULL, reply, NULL);
        }

        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "Get")) {
                assert_int_equal(unit_object_path(f->unit, &unit_path), 0);
                assert_string_equal(sd_bus_message_get_path(m), unit_path);
                assert_true(sd_bus_message_read(m, "ss", &a, &b) >= 0);

                if (f->hang_status && f->n_restart_calls > 0)
                        return 1;  /* swallowed: the caller's deadline must end it */

                if (strcmp(a, "org.freedesktop.systemd1.Unit") == 0) {
                        if (strcmp(b, "ActiveState") == 0)
                                return sd_bus_reply_method_return(m, "v", "s", "active");
                        if (strcmp(b, "SubState") == 0)
                                return sd_bus_reply_method_return(m, "v", "s", f->is_service ? "running" : "active");
                } else if (strcmp(a, "org.freedesktop.systemd1.Service") == 0) {
                        if (!f->is_service)
                                return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_INTERFACE,
                                                                  "Unknown interface %s.", a);
                        if (strcmp(b, "MainPID") == 0)
                                return sd_bus_reply_method_return(m, "v", "u", f->main_pid);
                        if (strcmp(b, "Result") == 0)
                                return sd_bus_reply_method_return(m, "v", "s", "success");
                }
                return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_PROPERTY, "Unknown property %s.", b);
        }

        return 0;
}

typedef struct Harness {
        sd_event *event;
        sd_bus *client;
        FakeManager fake;
        sd_bus_slot *fallback;
} Harness;

static void harness_init(Harness *h, const char *unit) {
        memset(h, 0, sizeof(*h));
        assert_int_equal(sd_event_new(&h->event), 0);
        bus_pair_open(h->event, &h->fake.bus, &h->client);
        assert_int_equal(sd_bus_add_fallback(h->fake.bus, &h->fallback, "/", fake_method, &h->fake), 0);

        h->fake.unit = unit;
        h->fake.is_service = true;
        h->fake.pid_changes = true;
        h->fake.main_pid = 100;
}

static void harness_done(Harness *h) {
        h->fake.job_timer = sd_event_source_disable_unref(h->fake.job_timer);
        h->fallback = sd_bus_slot_unref(h->fallback);
        h->client = sd_bus_flush_close_unref(h->client);
        h->fake.bus = sd_bus_flush_close_unref(h->fake.bus);
        h->event = sd_event_unref(h->event);
}

static void run_until(sd_event *e, const bool *done, uint64_t max_usec) {
        uint64_t deadline = now_usec() + max_usec;

        while (!*done && now_usec() < deadline)
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
}

static void on_done(const RestartOutcome *o, void *userdata) {
        Result *res = userdata;

        res->called = true;
        res->n_calls++;
        res->outcome = *o;
}

/* Restarts with the harness as set up and returns the outcome. */
static void restart(Harness *h, uint64_t timeout_usec, Result *res) {
        UnitRestart *op = NULL;

        memset(res, 0, sizeof(*res));
        assert_int_equal(unit_restart(h->client, h->fake.unit, timeout_usec, on_done, res, &op), 0);
        run_until(h->event, &res->called, 10 * USEC_PER_SEC);
        assert_true(res->called);
        /* Nothing else may call back later. */
        uint64_t until = now_usec() + 100 * USEC_PER_MSEC;
        while (now_usec() < until)
                assert_true(sd_event_run(h->event, 20 * USEC_PER_MSEC) >= 0);
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
        Harness h;
        Result res;

        harness_init(&h, "postfix@-.service");
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.error_message, "");
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_after_running(&res.outcome, 200);
        assert_true(res.outcome.success);
        assert_int_equal(h.fake.n_restart_calls, 1);
        harness_done(&h);
}

static void test_signal_before_reply(void **state) {
        Harness h;
        Result res;

        harness_init(&h, "postfix.service");
        h.fake.job_mode = JOB_SIGNAL_BEFORE_REPLY;
        h.fake.already_subscribed = true;   /* also: this error is not one */
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_true(res.outcome.success);
        harness_done(&h);
}

static void test_access_denied(void **state) {
        Harness h;
        Result res;

        harness_init(&h, "postfix.service");
        h.fake.deny_restart = true;
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, -EACCES);
        assert_string_equal(res.outcome.error_message, "Access denied by test");
        assert_true(unit_restart_refused(&res.outcome));   /* the admin is pointed at polkit */
        assert_string_equal(res.outcome.job_result, "");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_after_running(&res.outcome, 100);   /* status still read */
        assert_false(res.outcome.success);
        harness_done(&h);
}

static void test_timeout(void **state) {
        Harness h;
        Result res;
        uint64_t t0 = now_usec();

        harness_init(&h, "postfix.service");
        h.fake.job_mode = JOB_NEVER_ENDS;
        h.fake.pid_changes = false;
        restart(&h, 300 * USEC_PER_MSEC, &res);

        assert_true(now_usec() - t0 >= 300 * USEC_PER_MSEC);
        assert_int_equal(res.outcome.error, -ETIMEDOUT);
        assert_false(unit_restart_refused(&res.outcome));
        assert_string_equal(res.outcome.job_result, "");
        assert_after_running(&res.outcome, 100);
        assert_false(res.outcome.success);
        harness_done(&h);
}

static void test_pid_unchanged(void **state) {
        Harness h;
        Result res;

        harness_init(&h, "postfix.service");
        h.fake.pid_changes = false;
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_after_running(&res.outcome, 100);
        assert_false(res.outcome.success);
        harness_done(&h);
}

static void test_not_a_service(void **state) {
        Harness h;
        Result res;

        harness_init(&h, "mail.target");
        h.fake.is_service = false;
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 0);
        assert_string_equal(res.outcome.after.active_state, "active");
        assert_string_equal(res.outcome.after.result, "");
        assert_int_equal(res.outcome.after.main_pid, 0);
        assert_false(res.outcome.success);
        harness_done(&h);
}

/* Debian's postfix@-.service: Type=forking, GuessMainPID=no, MainPID 0.
 * The restart is judged by the unit's processes. */
static void test_no_main_pid_processes_replaced(void **state) {
        Harness h;
        Result res;

        harness_init(&h, "postfix@-.service");
        h.fake.main_pid = 0;
        h.fake.list_processes = true;
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_int_equal(res.outcome.old_main_pid, 0);
        assert_int_equal(res.outcome.after.main_pid, 0);
        assert_true(res.outcome.by_processes);
        assert_int_equal(res.outcome.old_processes, 2);
        assert_int_equal(res.outcome.new_processes, 2);
        assert_int_equal(res.outcome.survivors, 0);
        assert_true(res.outcome.success);
        harness_done(&h);
}

static void test_no_main_pid_process_survives(void **state) {
        Harness h;
        Result res;

        harness_init(&h, "postfix@-.service");
        h.fake.main_pid = 0;
        h.fake.list_processes = true;
        h.fake.survivor = true;
        restart(&h, 5 * USEC_PER_SEC, &res);

        assert_int_equal(res.outcome.error, 0);
        assert_true(res.outcome.by_processes);
        assert_int_equal(res.outcome.survivors, 1);
        assert_false(res.outcome.success);
        harness_done(&h);
}

static void test_status_hangs(void **state) {
        Harness h;
        Result res;
        uint64_t t0 = now_usec();

        harness_init(&h, "postfix.service");
        h.fake.hang_status = true;
        restart(&h, 60 * USEC_PER_SEC, &res);

        /* Bounded by the status deadline (5s), not the restart timeout. */
        assert_true(now_usec() - t0 < 8 * USEC_PER_SEC);
        assert_int_equal(res.outcome.error, -ETIMEDOUT);
        assert_string_equal(res.outcome.job_result, "done");
        assert_int_equal(res.outcome.old_main_pid, 100);
        assert_string_equal(res.outcome.after.active_state, "");
        assert_false(res.outcome.success);
        harness_done(&h);
}

static void on_done_forbidden(const RestartOutcome *o, void *userdata) {
        fail_msg("callback after unit_restart_free()");
}

static void test_free_cancels(void **state) {
        UnitRestart *op = NULL;
        Harness h;

        harness_init(&h, "postfix.service");
        h.fake.job_mode = JOB_NEVER_ENDS;
        assert_int_equal(unit_restart(h.client, h.fake.unit, 200 * USEC_PER_MSEC, on_done_forbidden, NULL, &op), 0);

        /* Let it get as far as waiting for the job, then cancel. */
        uint64_t until = now_usec() + 100 * USEC_PER_MSEC;
        while (now_usec() < until)
                assert_true(sd_event_run(h.event, 20 * USEC_PER_MSEC) >= 0);
        assert_int_equal(h.fake.n_restart_calls, 1);
        op = unit_restart_free(op);

        /* Past the deadline: the timer must be gone too. */
        until = now_usec() + 300 * USEC_PER_MSEC;
        while (now_usec() < until)
                assert_true(sd_event_run(h.event, 20 * USEC_PER_MSEC) >= 0);
        harness_done(&h);
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
                cmocka_unit_test(test_restart_ok),
                cmocka_unit_test(test_signal_before_reply),
                cmocka_unit_test(test_access_denied),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_pid_unchanged),
                cmocka_unit_test(test_not_a_service),
                cmocka_unit_test(test_no_main_pid_processes_replaced),
                cmocka_unit_test(test_no_main_pid_process_survives),
                cmocka_unit_test(test_status_hangs),
                cmocka_unit_test(test_free_cancels),
                cmocka_unit_test(test_bad_args),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
