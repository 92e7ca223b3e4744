/* SPDX-License-Identifier: MIT */
/* The unit probe against the fake org.freedesktop.systemd1 of
 * fake-systemd.h. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include <cmocka.h>

#include "fake-systemd.h"
#include "macros.h"
#include "probe-harness.h"
#include "probe.h"
#include "unit.h"

static Probe *new_probe(Harness *h, sd_bus *bus, uint64_t timeout_usec) {
        UnitSettings s = { .unit = h->fake.unit, .bus = bus };
        Probe *p = NULL;

        assert_int_equal(probe_new_on(h->event, &probe_unit_ops, "unit-test", timeout_usec, &s, &p), 0);
        assert_non_null(p);
        return p;
}

/* One run, and no second callback after it. */
static void run_probe(Harness *h, Probe *p, ProbeRun *res) {
        probe_run(h->event, p, res);
        run_for(h->event, 50 * USEC_PER_MSEC);
        assert_int_equal(res->calls, 1);
}

/* Runs the probe once against the fake as set up. */
static void probe_once(Harness *h, ProbeRun *res) {
        Probe *p = new_probe(h, h->client, 5 * USEC_PER_SEC);

        run_probe(h, p, res);
        probe_free(p);
}

/* The run read the unit: OK, with REASON and these properties. */
static void assert_unit(const ProbeRun *res, const char *reason, const char *active_state,
                        const char *sub_state, const char *result, uint32_t main_pid) {
        assert_int_equal(res->r.status, PROBE_OK);
        assert_string_equal(res->r.reason, reason);
        assert_string_equal(res->r.unit.active_state, active_state);
        assert_string_equal(res->r.unit.sub_state, sub_state);
        assert_string_equal(res->r.unit.result, result);
        assert_int_equal(res->r.unit.main_pid, main_pid);
}

static void test_registry(void **state) {
        assert_ptr_equal(probe_ops_find("unit"), &probe_unit_ops);
        assert_int_equal(probe_unit_ops.kind, PROBE_KIND_UNIT);
        assert_string_equal(probe_unit_ops.type, "unit");
}

static void test_active_running(void **state) {
        Harness *h = *state;
        ProbeRun res;
        char expect[64];

        h->fake.unit = "postfix@-.service";
        probe_once(h, &res);

        (void) snprintf(expect, sizeof(expect), "active/running, MainPID %u", (unsigned) getpid());
        assert_unit(&res, expect, "active", "running", "success", getpid());
        assert_true(res.r.unit.main_pid_alive);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_RUNNING);
        assert_false(res.r.unit.have_pid_file);
        assert_int_equal(res.r.unit.start_limit_burst, 5);
        assert_int_equal(res.r.unit.start_limit_interval_usec, 10 * USEC_PER_SEC);
        assert_int_equal(h->fake.n_unit_calls, 1);
        assert_int_equal(h->fake.n_service_calls, 1);
}

/* A MainPID that no longer exists: a child of ours, reaped. */
static void test_main_pid_gone(void **state) {
        Harness *h = *state;
        ProbeRun res;
        char expect[64];
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);

        h->fake.main_pid = (uint32_t) pid;
        probe_once(h, &res);

        (void) snprintf(expect, sizeof(expect), "active/running, MainPID %u gone", (unsigned) pid);
        assert_unit(&res, expect, "active", "running", "success", pid);
        assert_false(res.r.unit.main_pid_alive);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_TRANSITION);
}

/* PID 1 exists; as non-root kill(1, 0) fails with EPERM, which still
 * means alive. */
static void test_main_pid_other_user(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.main_pid = 1;
        probe_once(h, &res);

        assert_string_equal(res.r.reason, "active/running, MainPID 1");
        assert_true(res.r.unit.main_pid_alive);
}

static void test_inactive_dead(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.unit = "postfix@-.service";
        h->fake.active_state = "inactive";
        h->fake.sub_state = "dead";
        h->fake.main_pid = 0;
        probe_once(h, &res);

        assert_unit(&res, "inactive/dead, no MainPID", "inactive", "dead", "success", 0);
        assert_false(res.r.unit.main_pid_alive);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_STOPPED);
}

/* A sysv-generated unit (Debian's exim4.service): active/exited, no
 * MainPID; the daemon's PID file says whether it runs. */
static void run_with_pid_file_exe(const char *content, const char *exe, ProbeRun *res) {
        char dir[] = "/tmp/test-unit-pidfile-XXXXXX", path[64];
        Harness h;
        Probe *p = NULL;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/mta.pid", dir);
        if (content) {
                FILE *f = fopen(path, "we");

                assert_non_null(f);
                fputs(content, f);
                assert_int_equal(fclose(f), 0);
        }
        harness_init(&h, "exim4.service");
        h.fake.sub_state = "exited";
        h.fake.main_pid = 0;
        UnitSettings s = { .unit = h.fake.unit, .bus = h.client, .pid_file = path, .daemon_exe = exe };
        assert_int_equal(probe_new_on(h.event, &probe_unit_ops, "unit-test", 5 * USEC_PER_SEC, &s, &p), 0);
        run_probe(&h, p, res);
        probe_free(p);
        harness_done(&h);
        (void) unlink(path);
        assert_int_equal(rmdir(dir), 0);
        /* The path is in the reason: cut it off. */
        char *at = strstr(res->r.reason, dir);
        if (at)
                memmove(at, at + strlen(dir), strlen(at + strlen(dir)) + 1);
}

static void run_with_pid_file(const char *content, ProbeRun *res) {
        run_with_pid_file_exe(content, NULL, res);
}

static void test_pid_file(void **state) {
        ProbeRun res;
        char content[32], expect[128];
        pid_t pid;

        (void) snprintf(content, sizeof(content), "%u\n", (unsigned) getpid());
        run_with_pid_file(content, &res);
        (void) snprintf(expect, sizeof(expect), "active/exited, no MainPID, PID file /mta.pid: %u", (unsigned) getpid());
        assert_string_equal(res.r.reason, expect);
        assert_true(res.r.unit.have_pid_file);
        assert_int_equal(res.r.unit.pid_file_pid, getpid());
        assert_true(res.r.unit.pid_file_alive);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_RUNNING);

        /* The daemon died; the unit stays active. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        (void) snprintf(content, sizeof(content), "%u", (unsigned) pid);
        run_with_pid_file(content, &res);
        (void) snprintf(expect, sizeof(expect), "active/exited, no MainPID, PID file /mta.pid: %u gone", (unsigned) pid);
        assert_string_equal(res.r.reason, expect);
        assert_int_equal(res.r.status, PROBE_OK);
        assert_false(res.r.unit.pid_file_alive);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_DEAD);

        run_with_pid_file(NULL, &res);
        assert_string_equal(res.r.reason, "active/exited, no MainPID, PID file /mta.pid: No such file or directory");
        assert_int_equal(res.r.unit.pid_file_pid, 0);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_DEAD);

        run_with_pid_file("garbage\n", &res);
        assert_string_equal(res.r.reason, "active/exited, no MainPID, PID file /mta.pid: no PID in it");
        assert_int_equal(res.r.unit.gate, UNIT_GATE_DEAD);
}

/* What a damaged PID file holds: never a PID (strtoul(3) would turn
 * "-18446744073709551615" into 1, systemd, which always exists). */
static void test_pid_file_garbage(void **state) {
        static const char *const bad[] = {
                "", "\n", "-5\n", "-18446744073709551615\n", "+1\n", " 1\n", "0\n", "2147483648\n",
                "12abc\n", "1\0" "2\n", "\x7f\x45\x4c\x46",
        };
        char dir[] = "/tmp/test-unit-pidfile-XXXXXX", path[64];
        uint32_t pid = 7;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/mta.pid", dir);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                FILE *f = fopen(path, "we");

                assert_non_null(f);
                assert_int_equal(fwrite(bad[i], 1, i == 9 ? 4 : strlen(bad[i]), f), i == 9 ? 4 : strlen(bad[i]));
                assert_int_equal(fclose(f), 0);
                assert_int_equal(unit_read_pid_file(path, &pid), -EBADMSG);
                assert_int_equal(pid, 7);
        }
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(unit_read_pid_file(path, &pid), -EBADFD);   /* returns at once, no writer needed */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* Sendmail's PID file: the PID, then its command line on a second line. */
static void test_pid_file_first_line(void **state) {
        static const struct {
                const char *text;
                uint32_t pid;
        } good[] = {
                { "416\n/usr/sbin/sendmail-mta -Am -L sm-mta -bd -q10m\n", 416 },
                { "1115\n", 1115 },
                { "1115", 1115 },
                { "7\n\n", 7 },
        };
        char dir[] = "/tmp/test-unit-pidfile-XXXXXX", path[64];

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/mta.pid", dir);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                FILE *f = fopen(path, "we");
                uint32_t pid = 0;

                assert_non_null(f);
                assert_int_equal(fputs(good[i].text, f) >= 0, 1);
                assert_int_equal(fclose(f), 0);
                assert_int_equal(unit_read_pid_file(path, &pid), 0);
                assert_int_equal(pid, good[i].pid);
        }
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* A PID file the user may not read (a group not joined) is no dead daemon:
 * the round is unknown. */
static void test_pid_file_unreadable(void **state) {
        char dir[] = "/tmp/test-unit-pidfile-XXXXXX", path[64];
        Harness h;
        Probe *p = NULL;
        ProbeRun res;
        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/mta.pid", dir);
        /* a directory: not read, as a file of a group not joined could not be (EACCES) */
        assert_int_equal(mkdir(path, 0700), 0);
        harness_init(&h, "exim4.service");
        h.fake.sub_state = "exited";
        h.fake.main_pid = 0;
        UnitSettings s = { .unit = h.fake.unit, .bus = h.client, .pid_file = path };
        assert_int_equal(probe_new_on(h.event, &probe_unit_ops, "unit-test", 5 * USEC_PER_SEC, &s, &p), 0);
        run_probe(&h, p, &res);
        probe_free(p);
        harness_done(&h);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(res.r.reason, "/mta.pid: not a regular file"));
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* The PID file's process must be the daemon's executable: a PID reused by
 * another program is a dead daemon. This test process stands in for the
 * daemon; its executable is /proc/self/exe's target. */
static void test_pid_file_daemon_exe(void **state) {
        char self[PATH_MAX], content[32], expect[160];
        ProbeRun res;
        ssize_t n;
        pid_t pid;

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        assert_true(n > 0);
        self[n] = 0;
        (void) snprintf(content, sizeof(content), "%u\n", (unsigned) getpid());

        assert_int_equal(unit_pid_runs(getpid(), self), 1);
        assert_int_equal(unit_pid_runs(getpid(), "/usr/sbin/exim4"), 0);
        assert_int_equal(unit_pid_runs(0, self), -ESRCH);

        run_with_pid_file_exe(content, self, &res);
        (void) snprintf(expect, sizeof(expect), "active/exited, no MainPID, PID file /mta.pid: %u", (unsigned) getpid());
        assert_string_equal(res.r.reason, expect);
        assert_true(res.r.unit.pid_file_alive);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_RUNNING);

        run_with_pid_file_exe(content, "/usr/sbin/exim4", &res);
        (void) snprintf(expect, sizeof(expect), "active/exited, no MainPID, PID file /mta.pid: %u not the daemon (another program)",
                        (unsigned) getpid());
        assert_string_equal(res.r.reason, expect);
        assert_false(res.r.unit.pid_file_alive);
        assert_int_equal(res.r.unit.pid_file_pid, getpid());
        assert_int_equal(res.r.unit.gate, UNIT_GATE_DEAD);

        /* gone: the same as without daemon_exe */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(unit_pid_runs(pid, self), -ESRCH);
        (void) snprintf(content, sizeof(content), "%u", (unsigned) pid);
        run_with_pid_file_exe(content, self, &res);
        (void) snprintf(expect, sizeof(expect), "active/exited, no MainPID, PID file /mta.pid: %u gone", (unsigned) pid);
        assert_string_equal(res.r.reason, expect);
        assert_int_equal(res.r.unit.gate, UNIT_GATE_DEAD);
}

static void test_failed_start_limit(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.unit = "postfix@-.service";
        h->fake.active_state = "failed";
        h->fake.sub_state = "failed";
        h->fake.result = "start-limit-hit";
        h->fake.main_pid = 0;
        probe_once(h, &res);

        assert_unit(&res, "failed/failed, result start-limit-hit, no MainPID",
                    "failed", "failed", "start-limit-hit", 0);
}

static void test_activating(void **state) {
        Harness *h = *state;
        ProbeRun res;
        char expect[64];

        h->fake.active_state = "activating";
        h->fake.sub_state = "start";
        probe_once(h, &res);

        (void) snprintf(expect, sizeof(expect), "activating/start, MainPID %u", (unsigned) getpid());
        assert_unit(&res, expect, "activating", "start", "success", getpid());
}

static void test_not_a_service(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.unit = "mail-transport-agent.target";
        h->fake.is_service = false;
        h->fake.sub_state = "active";
        probe_once(h, &res);

        assert_unit(&res, "active/active, no MainPID", "active", "active", "", 0);
        assert_false(res.r.unit.main_pid_alive);
        assert_int_equal(h->fake.n_service_calls, 1);
}

/* Older systemd answers GetAll of a missing interface with {}. */
static void test_not_a_service_empty(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.unit = "mail-transport-agent.target";
        h->fake.is_service = false;
        h->fake.service_empty = true;
        h->fake.sub_state = "active";
        probe_once(h, &res);

        assert_unit(&res, "active/active, no MainPID", "active", "active", "", 0);
}

static void test_error_reply(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.deny_unit = true;
        probe_once(h, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "unit: GetAll: Access denied");
        assert_string_equal(res.r.unit.active_state, "");
        assert_int_equal(h->fake.n_service_calls, 0);

        /* An error on the second call is no "not a service". */
        h->fake.deny_unit = false;
        h->fake.deny_service = true;
        probe_once(h, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "unit: GetAll: Access denied");
        assert_string_equal(res.r.unit.active_state, "");
}

static void test_malformed_reply(void **state) {
        Harness *h = *state;
        ProbeRun res;

        h->fake.active_state_wrong_type = true;
        probe_once(h, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason,
                            "unit: GetAll org.freedesktop.systemd1.Unit: malformed reply: No such device or address");

        h->fake.active_state_wrong_type = false;
        h->fake.no_sub_state = true;
        probe_once(h, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "unit: GetAll org.freedesktop.systemd1.Unit: malformed reply: Bad message");
}

/* No answer: the probe deadline ends the run as UNKNOWN; the answer that
 * comes after it is dropped with the call's slot. */
static void test_hanging_reply(void **state) {
        Harness *h = *state;
        ProbeRun res;
        Probe *p;
        uint64_t t0 = now_usec();
        char expect[64];

        h->fake.hold_unit = true;
        p = new_probe(h, h->client, 300 * USEC_PER_MSEC);
        run_probe(h, p, &res);

        assert_true(now_usec() - t0 >= 300 * USEC_PER_MSEC);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "timed out after 300ms");
        assert_non_null(h->fake.held);

        /* The late answer: no second callback, nothing asked further. */
        assert_true(fake_systemd_reply_unit(&h->fake, h->fake.held) >= 0);
        h->fake.held = sd_bus_message_unref(h->fake.held);
        run_for(h->event, 100 * USEC_PER_MSEC);
        assert_int_equal(res.calls, 1);
        assert_int_equal(h->fake.n_service_calls, 0);

        /* The next run works. */
        h->fake.hold_unit = false;
        run_probe(h, p, &res);
        assert_int_equal(res.r.status, PROBE_OK);
        (void) snprintf(expect, sizeof(expect), "active/running, MainPID %u", (unsigned) getpid());
        assert_string_equal(res.r.reason, expect);
        probe_free(p);
}

static void on_probe_forbidden(Probe *p, const ProbeResult *r, void *userdata) {
        fail_msg("callback after probe_free()");
}

/* Freed while the call is pending: no callback, ever. */
static void test_free_while_pending(void **state) {
        Harness *h = *state;
        Probe *p;

        h->fake.hold_unit = true;
        p = new_probe(h, h->client, 200 * USEC_PER_MSEC);
        assert_int_equal(probe_start(p, on_probe_forbidden, NULL), 0);
        run_for(h->event, 50 * USEC_PER_MSEC);
        assert_non_null(h->fake.held);
        probe_free(p);

        assert_true(fake_systemd_reply_unit(&h->fake, h->fake.held) >= 0);
        run_for(h->event, 300 * USEC_PER_MSEC);
        assert_int_equal(h->fake.n_service_calls, 0);
}

static void test_no_bus(void **state) {
        Harness *h = *state;
        ProbeRun res;
        Probe *p;

        p = new_probe(h, NULL, USEC_PER_SEC);
        run_probe(h, p, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "unit: no system bus");
        probe_free(p);
}

/* The connection is gone: UNKNOWN with the reason, never a start error. */
static void test_closed_bus(void **state) {
        Harness *h = *state;
        ProbeRun res;
        Probe *p;

        p = new_probe(h, h->client, USEC_PER_SEC);
        sd_bus_close(h->client);
        run_probe(h, p, &res);
        assert_int_equal(res.r.status, PROBE_UNKNOWN);
        assert_string_equal(res.r.reason, "unit: GetAll: Transport endpoint is not connected");
        probe_free(p);
}

static void test_bad_settings(void **state) {
        Harness *h = *state;
        Probe *p = NULL;
        sd_bus *detached = NULL;

        UnitSettings no_unit = { .bus = h->client };
        UnitSettings empty_unit = { .unit = "", .bus = h->client };
        assert_int_equal(probe_new_on(h->event, &probe_unit_ops, "x", USEC_PER_SEC, &no_unit, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(probe_new_on(h->event, &probe_unit_ops, "x", USEC_PER_SEC, &empty_unit, &p), -EINVAL);
        assert_null(p);

        assert_int_equal(sd_bus_new(&detached), 0);
        UnitSettings not_attached = { .unit = "postfix.service", .bus = detached };
        assert_int_equal(probe_new_on(h->event, &probe_unit_ops, "x", USEC_PER_SEC, &not_attached, &p), -EINVAL);
        assert_null(p);
        sd_bus_unref(detached);
        /* Let the connection finish its handshake, or closing it waits for that. */
        run_for(h->event, 50 * USEC_PER_MSEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_registry),
                cmocka_unit_test_setup_teardown(test_active_running, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_main_pid_gone, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_main_pid_other_user, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_inactive_dead, harness_setup, harness_teardown),
                cmocka_unit_test(test_pid_file),
                cmocka_unit_test(test_pid_file_garbage),
                cmocka_unit_test(test_pid_file_first_line),
                cmocka_unit_test(test_pid_file_daemon_exe),
                cmocka_unit_test(test_pid_file_unreadable),
                cmocka_unit_test_setup_teardown(test_failed_start_limit, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_activating, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_not_a_service, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_not_a_service_empty, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_error_reply, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_malformed_reply, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_hanging_reply, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_free_while_pending, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_no_bus, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_closed_bus, harness_setup, harness_teardown),
                cmocka_unit_test_setup_teardown(test_bad_settings, harness_setup, harness_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
