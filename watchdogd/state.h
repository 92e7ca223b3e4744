/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "detector.h"
#include "event.h"

/* What survives the daemon's own restarts (SIGKILL, watchdog kill, crash):
 * the restart budget and the incident in progress, so that a restart of
 * mta-watchdogd never resets max_restarts nor splits one incident in two.
 * Kept in STATE_DIR/state.json, schema "mta-watchdog.state/1", written
 * atomically (fileio.h). Times are CLOCK_REALTIME microseconds, since the
 * monotonic clock of one boot means nothing to the next. */

#define STATE_JOB_MAX 96

typedef struct SavedState {
        DetectorState state;                       /* as saved; see detector_restore() */
        size_t step;                               /* ladder step of REMEDIATING/VERIFYING */
        char incident[UUID_STRING_MAX];            /* "" when no incident is open */
        uint64_t restarts_realtime_usec[DETECTOR_RESTARTS_MAX];
        size_t n_restarts;
        uint64_t gave_up_realtime_usec;            /* when GAVE_UP began, 0 if not given up */
        /* REMEDIATING with a restart job still pending: its systemd job
         * object path ("" none) and whether action.slow was sent for it. */
        char job[STATE_JOB_MAX];
        bool action_slow;
        /* REMEDIATING with RestartUnit called and no answer yet (job ""):
         * the PID in pid_file before the call, 0 when none. A caller gone
         * before polkit answered has its call dropped by systemd: if the
         * same daemon still runs, the restart never happened. Field
         * "daemon_pid", written only when set. */
        uint32_t daemon_pid;
        /* The open incident's cause class and peer, and the class GAVE_UP is
         * for (detector_restore_cause()); CAUSE_NONE when none is known.
         * Fields "cause", "peer" and "gave_up_cause", written only when set. */
        FailureCause cause, gave_up_cause;
        char peer[ACTIVITY_PEER_MAX];
} SavedState;

#define STATE_FILE "state.json"

/* Reads DIR/state.json. Returns 0 and fills *RET; -ENOENT when there is
 * none; -EBADMSG for a file that is not valid JSON of our schema (the
 * caller reports it and starts afresh: the next save replaces it); another
 * negative errno when it cannot be read. */
int state_load(const char *dir, SavedState *ret);

/* Writes S to DIR/state.json atomically. Returns 0 or a negative errno. */
int state_save(const char *dir, const SavedState *s);

/* The file keeps CLOCK_REALTIME times, the detector CLOCK_MONOTONIC ones of
 * this boot. Both map T (microseconds) by its distance from now, given the
 * two clocks read at the same moment: NOW_MONO (CLOCK_MONOTONIC) and
 * NOW_REAL (CLOCK_REALTIME), both in microseconds. Pure.
 *
 * state_mono_to_real() returns CLOCK_REALTIME microseconds; a T after
 * NOW_MONO maps to NOW_REAL, a result before the epoch to 0. */
uint64_t state_mono_to_real(uint64_t t, uint64_t now_mono, uint64_t now_real);

/* state_real_to_mono() returns CLOCK_MONOTONIC microseconds; a T after
 * NOW_REAL maps to NOW_MONO, one before this boot to 0 (as old as it can
 * be). */
uint64_t state_real_to_mono(uint64_t t, uint64_t now_mono, uint64_t now_real);

/* Serialises / parses the file's content (exposed for tests). */
char *state_to_json(const SavedState *s);
int state_from_json(const char *text, SavedState *ret);
