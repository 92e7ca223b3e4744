/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "state.h"

static SavedState sample(void) {
        SavedState s = {
                .state = DETECTOR_VERIFYING,
                .step = 1,
                .incident = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f",
                .restarts_realtime_usec = { 1795994535000000ULL, 1795995135000000ULL },
                .n_restarts = 2,
        };
        return s;
}

static void test_json_round_trip(void **state) {
        SavedState s = sample(), t;
        char *text = state_to_json(&s);

        assert_non_null(text);
        assert_string_equal(text,
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"VERIFYING\",\"step\":1,"
                "\"incident\":\"9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f\","
                "\"restarts_usec\":[1795994535000000,1795995135000000],\"gave_up_usec\":0}");
        assert_int_equal(state_from_json(text, &t), 0);
        assert_int_equal(t.state, DETECTOR_VERIFYING);
        assert_int_equal(t.step, 1);
        assert_string_equal(t.incident, s.incident);
        assert_int_equal(t.n_restarts, 2);
        assert_true(t.restarts_realtime_usec[1] == 1795995135000000ULL);
        free(text);

        s.incident[0] = '\0';
        s.n_restarts = 0;
        s.state = DETECTOR_GAVE_UP;
        s.gave_up_realtime_usec = 1795996135000000ULL;
        text = state_to_json(&s);
        assert_string_equal(text,
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"GAVE_UP\",\"step\":1,"
                "\"incident\":null,\"restarts_usec\":[],\"gave_up_usec\":1795996135000000}");
        assert_int_equal(state_from_json(text, &t), 0);
        assert_string_equal(t.incident, "");
        assert_true(t.gave_up_realtime_usec == 1795996135000000ULL);
        assert_string_equal(t.job, "");
        assert_false(t.action_slow);
        free(text);

        /* A restart job still pending, reported slow. */
        s = sample();
        s.state = DETECTOR_REMEDIATING;
        (void) snprintf(s.job, sizeof(s.job), "/org/freedesktop/systemd1/job/1234");
        s.action_slow = true;
        text = state_to_json(&s);
        assert_string_equal(text,
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":1,"
                "\"incident\":\"9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f\","
                "\"restarts_usec\":[1795994535000000,1795995135000000],\"gave_up_usec\":0,"
                "\"job\":\"/org/freedesktop/systemd1/job/1234\",\"action_slow\":true}");
        assert_int_equal(state_from_json(text, &t), 0);
        assert_int_equal(t.state, DETECTOR_REMEDIATING);
        assert_string_equal(t.job, "/org/freedesktop/systemd1/job/1234");
        assert_true(t.action_slow);
        assert_int_equal(t.cause, CAUSE_NONE);
        free(text);

        /* RestartUnit called, no answer yet: the daemon's PID before the call. */
        s = sample();
        s.state = DETECTOR_REMEDIATING;
        s.daemon_pid = 1115;
        text = state_to_json(&s);
        assert_string_equal(text,
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":1,"
                "\"incident\":\"9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f\","
                "\"restarts_usec\":[1795994535000000,1795995135000000],\"gave_up_usec\":0,\"daemon_pid\":1115}");
        assert_int_equal(state_from_json(text, &t), 0);
        assert_string_equal(t.job, "");
        assert_int_equal(t.daemon_pid, 1115);
        free(text);

        /* Given up on a cause: the class, its peer and the hold-down's class. */
        s = sample();
        s.state = DETECTOR_GAVE_UP;
        s.gave_up_realtime_usec = 1795996135000000ULL;
        s.cause = s.gave_up_cause = CAUSE_MTA_INTERNAL;
        (void) snprintf(s.peer, sizeof(s.peer), "postfix/smtp \"x\"");
        text = state_to_json(&s);
        assert_string_equal(text,
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"GAVE_UP\",\"step\":1,"
                "\"incident\":\"9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f\","
                "\"restarts_usec\":[1795994535000000,1795995135000000],\"gave_up_usec\":1795996135000000,"
                "\"cause\":\"mta-internal\",\"peer\":\"postfix/smtp \\\"x\\\"\",\"gave_up_cause\":\"mta-internal\"}");
        assert_int_equal(state_from_json(text, &t), 0);
        assert_int_equal(t.cause, CAUSE_MTA_INTERNAL);
        assert_int_equal(t.gave_up_cause, CAUSE_MTA_INTERNAL);
        assert_string_equal(t.peer, "postfix/smtp \"x\"");
        free(text);
}

/* Damaged files are refused whole, never half-read. */
static void test_damaged(void **state) {
        static const char *const bad[] = {
                "",
                "{",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"VERIFYING\",\"step\":1,\"incident\":null,\"restarts_usec\":[1,2",
                "garbage \x01\x02",
                "[]",
                "{\"schema\":\"mta-watchdog.state/2\",\"state\":\"HEALTHY\",\"step\":0,\"incident\":null,\"restarts_usec\":[]}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"SLEEPING\",\"step\":0,\"incident\":null,\"restarts_usec\":[]}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"HEALTHY\",\"step\":-1,\"incident\":null,\"restarts_usec\":[]}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"HEALTHY\",\"step\":0,\"incident\":7,\"restarts_usec\":[]}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"HEALTHY\",\"step\":0,\"incident\":null,\"restarts_usec\":[-5]}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"HEALTHY\",\"step\":0,\"incident\":null,\"restarts_usec\":\"x\"}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"HEALTHY\",\"step\":0,\"incident\":null}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"job\":7}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"job\":\"/j\",\"action_slow\":\"yes\"}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"GAVE_UP\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"cause\":\"bad-luck\"}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"daemon_pid\":-1}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"daemon_pid\":2147483648}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"REMEDIATING\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"daemon_pid\":\"1\"}",
                "{\"schema\":\"mta-watchdog.state/1\",\"state\":\"GAVE_UP\",\"step\":0,\"incident\":null,\"restarts_usec\":[],\"gave_up_cause\":3}",
                "{\"schema\":\"mta-watchdog.state/1\",\"schema\":\"mta-watchdog.state/1\",\"state\":\"HEALTHY\",\"step\":0,\"incident\":null,\"restarts_usec\":[]}",
        };
        SavedState t = sample();

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(state_from_json(bad[i], &t), -EBADMSG);
                assert_int_equal(t.state, DETECTOR_VERIFYING); /* untouched */
        }
}

static void test_save_load(void **state) {
        char dir[] = "/tmp/test-state-XXXXXX", path[64];
        SavedState s = sample(), t;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);

        assert_int_equal(state_load(dir, &t), -ENOENT);
        assert_int_equal(state_save(dir, &s), 0);
        assert_int_equal(state_load(dir, &t), 0);
        assert_string_equal(t.incident, s.incident);
        assert_int_equal(t.n_restarts, 2);

        /* A truncated file (a crash of another writer) is reported as damaged. */
        assert_int_equal(write_file_atomic(dir, STATE_FILE, "{\"schema\":\"mta-wat", 18, 0600), 0);
        assert_int_equal(state_load(dir, &t), -EBADMSG);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_round_trip),
                cmocka_unit_test(test_damaged),
                cmocka_unit_test(test_save_load),
        };
        return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
