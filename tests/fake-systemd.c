/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-id128.h>

#include <cmocka.h>

#include "fake-systemd.h"
#include "macros.h"
#include "systemd.h"

#define MANAGER_PATH  "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define UNIT_IFACE    "org.freedesktop.systemd1.Unit"
#define SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define JOB_PATH      FAKE_JOB_PATH

int fake_systemd_reply_unit(FakeSystemd *f, sd_bus_message *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        assert_true(sd_bus_message_new_method_return(m, &reply) >= 0);
        assert_true(sd_bus_message_open_container(reply, 'a', "{sv}") >= 0);
        /* Properties the code does not read come first and in between: skipped. */
        assert_true(sd_bus_message_append(reply, "{sv}", "Id", "s", f->unit) >= 0);
        assert_true(sd_bus_message_append(reply, "{sv}", "Names", "as", 2, f->unit, "alias.service") >= 0);
        if (f->active_state_wrong_type)
                assert_true(sd_bus_message_append(reply, "{sv}", "ActiveState", "u", 1) >= 0);
        else
                assert_true(sd_bus_message_append(reply, "{sv}", "ActiveState", "s", f->active_state) >= 0);
        assert_true(sd_bus_message_append(reply, "{sv}", "ActiveEnterTimestamp", "t", UINT64_C(1700000000000000)) >= 0);
        assert_true(sd_bus_message_append(reply, "{sv}", "StartLimitBurst", "u", 5) >= 0);
        assert_true(sd_bus_message_append(reply, "{sv}", "StartLimitIntervalUSec", "t", UINT64_C(10000000)) >= 0);
        if (!f->no_sub_state)
                assert_true(sd_bus_message_append(reply, "{sv}", "SubState", "s", f->sub_state) >= 0);
        assert_true(sd_bus_message_close_container(reply) >= 0);
        return sd_bus_send(NULL, reply, NULL);
}

static int reply_service(FakeSystemd *f, sd_bus_message *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        assert_true(sd_bus_message_new_method_return(m, &reply) >= 0);
        assert_true(sd_bus_message_open_container(reply, 'a', "{sv}") >= 0);
        if (f->is_service) {
                assert_true(sd_bus_message_append(reply, "{sv}", "Type", "s", "forking") >= 0);
                assert_true(sd_bus_message_append(reply, "{sv}", "MainPID", "u", f->main_pid) >= 0);
                assert_true(sd_bus_message_append(reply, "{sv}", "ControlPID", "u", 4242) >= 0);
                assert_true(sd_bus_message_append(reply, "{sv}", "Result", "s", f->result) >= 0);
        }
        assert_true(sd_bus_message_close_container(reply) >= 0);
        return sd_bus_send(NULL, reply, NULL);
}

static int emit_job_removed(FakeSystemd *f, uint32_t id, const char *job, const char *unit, const char *result) {
        return sd_bus_emit_signal(f->bus, MANAGER_PATH, MANAGER_IFACE, "JobRemoved", "uoss", id, job, unit, result);
}

static int on_pending_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        FakeSystemd *f = userdata;
        uint32_t id = f->pending_job_id;
        const char *path = f->pending_job;

        f->pending_job_id = 0;
        f->pending_job = NULL;
        if (!f->job_silent)
                assert_true(emit_job_removed(f, id, path, f->unit, f->pending_job_result ?: "done") >= 0);
        return 0;
}

/* Properties.Get for the few properties unit_restart() reads. */
static int reply_property(FakeSystemd *f, sd_bus_message *m, const char *iface, const char *name) {
        if (strcmp(iface, UNIT_IFACE) == 0) {
                if (strcmp(name, "Job") == 0) {
                        f->n_job_reads++;
                        if (f->pending_job_id != 0 && f->pending_job_usec > 0 && !f->pending_timer)
                                assert_true(sd_event_add_time_relative(sd_bus_get_event(f->bus), &f->pending_timer,
                                                                       CLOCK_MONOTONIC, f->pending_job_usec, 0,
                                                                       on_pending_timer, f) >= 0);
                        return sd_bus_reply_method_return(m, "v", "(uo)", f->pending_job_id,
                                                          f->pending_job_id != 0 ? f->pending_job : "/");
                }
                if (strcmp(name, "ActiveState") == 0)
                        return sd_bus_reply_method_return(m, "v", "s", f->active_state);
                if (strcmp(name, "SubState") == 0)
                        return sd_bus_reply_method_return(m, "v", "s", f->sub_state);
        } else {
                if (strcmp(name, "MainPID") == 0)
                        return sd_bus_reply_method_return(m, "v", "u", f->main_pid);
                if (strcmp(name, "Result") == 0)
                        return sd_bus_reply_method_return(m, "v", "s", f->result);
                if (strcmp(name, "TimeoutStartUSec") == 0)
                        return sd_bus_reply_method_return(m, "v", "t", f->timeout_start_usec);
                if (strcmp(name, "TimeoutStopUSec") == 0)
                        return sd_bus_reply_method_return(m, "v", "t", f->timeout_stop_usec);
        }
        return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_PROPERTY, "Unknown property %s.", name);
}

/* Properties.Get and GetAll on the unit's object. */
static int on_properties(FakeSystemd *f, sd_bus_message *m, bool get_all) {
        _cleanup_free_ char *unit_path = NULL;
        const char *iface, *name = NULL;

        assert_string_equal(sd_bus_message_get_destination(m), "org.freedesktop.systemd1");
        assert_int_equal(unit_object_path(f->unit, &unit_path), 0);
        assert_string_equal(sd_bus_message_get_path(m), unit_path);
        if (get_all)
                assert_true(sd_bus_message_read(m, "s", &iface) >= 0);
        else
                assert_true(sd_bus_message_read(m, "ss", &iface, &name) >= 0);

        if (f->hang_status && f->n_restart_calls > 0)
                return 1;  /* swallowed: the caller's deadline must end it */

        if (strcmp(iface, UNIT_IFACE) == 0) {
                f->n_unit_calls++;
                if (f->deny_unit)
                        return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "Access denied");
                if (!get_all)
                        return reply_property(f, m, iface, name);
                if (f->hold_unit) {
                        assert_null(f->held);
                        f->held = sd_bus_message_ref(m);
                        return 1;
                }
                return fake_systemd_reply_unit(f, m);
        }
        if (strcmp(iface, SERVICE_IFACE) == 0) {
                f->n_service_calls++;
                if (f->deny_service)
                        return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "Access denied");
                if (f->is_service && !get_all)
                        return reply_property(f, m, iface, name);
                if (f->is_service || (f->service_empty && get_all))
                        return reply_service(f, m);
        }
        return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_INTERFACE, "Unknown interface %s.", iface);
}

static void finish_job(FakeSystemd *f) {
        f->restarted = true;
        f->pending_job_id = 0;
        f->pending_job = NULL;
        if (f->restart_main_pid != 0)
                f->main_pid = f->restart_main_pid;
        if (f->job_silent)
                return;
        /* Noise first: another unit's job, and an older job of our unit. */
        assert_true(emit_job_removed(f, 7, "/org/freedesktop/systemd1/job/7", "other.service", "failed") >= 0);
        assert_true(emit_job_removed(f, 41, "/org/freedesktop/systemd1/job/41", f->unit, "canceled") >= 0);
        assert_true(emit_job_removed(f, 42, JOB_PATH, f->unit, "done") >= 0);
}

static int on_job_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        finish_job(userdata);
        return 0;
}

static int on_restart_unit(FakeSystemd *f, sd_bus_message *m) {
        const char *unit, *mode;

        assert_true(sd_bus_message_read(m, "ss", &unit, &mode) >= 0);
        assert_string_equal(unit, f->unit);
        assert_string_equal(mode, "replace");
        f->n_restart_calls++;
        if (f->pending_job_id != 0)
                f->n_restart_while_pending++;
        if (f->deny_restart)
                return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "Access denied by test");
        /* "replace": whatever was pending is replaced by our job. */
        f->pending_timer = sd_event_source_disable_unref(f->pending_timer);
        f->pending_job_id = 42;
        f->pending_job = JOB_PATH;
        if (f->job_mode == FAKE_JOB_SIGNAL_BEFORE_REPLY)
                finish_job(f);
        assert_true(sd_bus_reply_method_return(m, "o", JOB_PATH) >= 0);
        if (f->job_mode == FAKE_JOB_SIGNAL_AFTER_REPLY)
                assert_true(sd_event_add_time_relative(sd_bus_get_event(f->bus), &f->job_timer,
                                                       CLOCK_MONOTONIC,
                                                       f->job_delay_usec ?: 50 * USEC_PER_MSEC, 0,
                                                       on_job_timer, f) >= 0);
        return 1;
}

/* KillUnit(unit, who, signal): recorded; nothing is signalled. */
static int on_kill_unit(FakeSystemd *f, sd_bus_message *m) {
        const char *unit, *who;
        int32_t sig;

        assert_true(sd_bus_message_read(m, "ssi", &unit, &who, &sig) >= 0);
        assert_string_equal(unit, f->unit);
        f->n_kill_calls++;
        (void) snprintf(f->kill_who, sizeof(f->kill_who), "%s", who);
        f->kill_signal = sig;
        if (!f->restarted)
                f->killed_before_restart = true;
        if (f->deny_kill)
                return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "Access denied");
        return sd_bus_reply_method_return(m, NULL);
}

/* Two processes, both replaced by the restart unless one survives it. */
static int on_get_unit_processes(FakeSystemd *f, sd_bus_message *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint32_t before[] = { 100, 101 }, after[] = { 200, 201 }, *pids;
        const char *unit;

        assert_true(sd_bus_message_read(m, "s", &unit) >= 0);
        assert_string_equal(unit, f->unit);
        if (f->survivor)
                after[0] = 101;
        pids = f->restarted ? after : before;
        assert_true(sd_bus_message_new_method_return(m, &reply) >= 0);
        assert_true(sd_bus_message_append(reply, "a(sus)", 2,
                                          "/system.slice/x", pids[0], "/usr/lib/postfix/sbin/master -w",
                                          "/system.slice/x", pids[1], "qmgr -l -t unix -u") >= 0);
        return sd_bus_send(NULL, reply, NULL);
}

static int on_method(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;

        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "GetAll"))
                return on_properties(f, m, true);
        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "Get"))
                return on_properties(f, m, false);
        if (sd_bus_message_is_method_call(m, MANAGER_IFACE, "Subscribe")) {
                if (f->already_subscribed)
                        return sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.AlreadySubscribed",
                                                          "Client is already subscribed.");
                return sd_bus_reply_method_return(m, NULL);
        }
        if (sd_bus_message_is_method_call(m, MANAGER_IFACE, "RestartUnit"))
                return on_restart_unit(f, m);
        if (sd_bus_message_is_method_call(m, MANAGER_IFACE, "KillUnit"))
                return on_kill_unit(f, m);
        if (f->list_processes && sd_bus_message_is_method_call(m, MANAGER_IFACE, "GetUnitProcesses"))
                return on_get_unit_processes(f, m);
        return 0;
}

/* A D-Bus connection pair on a socketpair: SERVER for the fake, CLIENT for
 * the code under test, both attached to E. */
static void bus_pair_open(sd_event *e, sd_bus **server, sd_bus **client) {
        int pair[2];
        sd_id128_t id;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), 0);
        assert_int_equal(sd_id128_randomize(&id), 0);

        assert_int_equal(sd_bus_new(server), 0);
        assert_int_equal(sd_bus_set_fd(*server, pair[0], pair[0]), 0);
        assert_int_equal(sd_bus_set_server(*server, 1, id), 0);
        assert_int_equal(sd_bus_set_anonymous(*server, 1), 0);
        assert_int_equal(sd_bus_start(*server), 0);
        assert_int_equal(sd_bus_attach_event(*server, e, 0), 0);

        assert_int_equal(sd_bus_new(client), 0);
        assert_int_equal(sd_bus_set_fd(*client, pair[1], pair[1]), 0);
        assert_int_equal(sd_bus_set_anonymous(*client, 1), 0);
        assert_int_equal(sd_bus_start(*client), 0);
        assert_int_equal(sd_bus_attach_event(*client, e, 0), 0);
}

void harness_init(Harness *h, const char *unit) {
        memset(h, 0, sizeof(*h));
        assert_int_equal(sd_event_new(&h->event), 0);
        bus_pair_open(h->event, &h->fake.bus, &h->client);
        assert_int_equal(sd_bus_add_fallback(h->fake.bus, &h->fake.fallback, "/", on_method, &h->fake), 0);

        h->fake.unit = unit;
        h->fake.is_service = true;
        h->fake.active_state = "active";
        h->fake.sub_state = "running";
        h->fake.result = "success";
        h->fake.main_pid = (uint32_t) getpid();
        h->fake.timeout_start_usec = 90 * USEC_PER_SEC;
        h->fake.timeout_stop_usec = 90 * USEC_PER_SEC;
}

void harness_done(Harness *h) {
        FakeSystemd *f = &h->fake;

        f->held = sd_bus_message_unref(f->held);
        f->job_timer = sd_event_source_disable_unref(f->job_timer);
        f->pending_timer = sd_event_source_disable_unref(f->pending_timer);
        f->fallback = sd_bus_slot_unref(f->fallback);
        h->client = sd_bus_flush_close_unref(h->client);
        f->bus = sd_bus_flush_close_unref(f->bus);
        h->event = sd_event_unref(h->event);
}

int harness_setup(void **state) {
        Harness *h = malloc(sizeof(Harness));

        if (!h)
                return -1;
        harness_init(h, "postfix.service");
        *state = h;
        return 0;
}

int harness_teardown(void **state) {
        harness_done(*state);
        free(*state);
        return 0;
}
