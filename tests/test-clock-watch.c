/* SPDX-License-Identifier: MIT */
/* The realtime clock watch. Tests never set the clock, so the step itself
 * (read(2) failing with ECANCELED) is not provoked here: these check that
 * the watch arms, stays quiet without a step and frees what it owns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock-watch.h"

static void count_step(int64_t step_usec, void *userdata) {
        (*(unsigned *) userdata)++;
}

/* Armed and on the loop: a loop iteration without a step calls nothing. */
static void test_quiet_without_step(void **state) {
        sd_event *e = NULL;
        ClockWatch *cw = NULL;
        unsigned steps = 0;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(clock_watch_new(e, count_step, &steps, &cw), 0);
        assert_non_null(cw);
        /* 0: nothing was dispatched in one iteration that waits 0 µs. */
        assert_int_equal(sd_event_run(e, 0), 0);
        assert_int_equal(steps, 0);
        assert_null(clock_watch_free(cw));
        /* The source is gone with the watch: the loop has nothing left to run. */
        assert_int_equal(sd_event_run(e, 0), 0);
        sd_event_unref(e);
}

static void test_free_null(void **state) {
        assert_null(clock_watch_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quiet_without_step),
                cmocka_unit_test(test_free_null),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
