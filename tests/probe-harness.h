/* SPDX-License-Identifier: MIT */
/* Running probes in the tests: one run on the loop to its completion,
 * bounded in time, with the result captured and the completion callback
 * counted. Each test makes its probes itself. Include after <cmocka.h>. */
#pragma once

#include <systemd/sd-event.h>

#include "probe.h"
#include "tests.h"

/* How long a run may take before the test fails. */
#define PROBE_RUN_MAX_USEC (10 * USEC_PER_SEC)

/* probe_new() on loop E with NAME and a deadline of TIMEOUT_USEC;
 * SETTINGS is the type's own settings struct. */
static inline int probe_new_on(sd_event *e, const struct probe_ops *ops, const char *name, uint64_t timeout_usec,
                               const void *settings, Probe **ret) {
        ProbeCommon common = { .name = name, .event = e, .timeout_usec = timeout_usec };

        return probe_new(ops, &common, settings, ret);
}

typedef struct ProbeRun {
        unsigned calls;
        ProbeResult r;
} ProbeRun;

static inline void probe_run_done(Probe *p, const ProbeResult *r, void *userdata) {
        ProbeRun *run = userdata;

        run->calls++;
        run->r = *r;
}

/* Starts a run into RUN; the callback never comes from inside probe_start(). */
static inline void probe_run_start(Probe *p, ProbeRun *run) {
        *run = (ProbeRun) {};
        assert_int_equal(probe_start(p, probe_run_done, run), 0);
        assert_int_equal(run->calls, 0);
}

/* Runs the loop until RUN has its result, failing after MAX_USEC. */
static inline void probe_run_wait(sd_event *e, ProbeRun *run, uint64_t max_usec) {
        uint64_t start = now_usec();

        while (run->calls == 0) {
                assert_true(now_usec() - start < max_usec);
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
        }
}

/* One run of P to its completion: exactly one callback, and the probe is
 * idle again. */
static inline void probe_run(sd_event *e, Probe *p, ProbeRun *run) {
        probe_run_start(p, run);
        probe_run_wait(e, run, PROBE_RUN_MAX_USEC);
        assert_int_equal(run->calls, 1);
        assert_false(p->running);
}
