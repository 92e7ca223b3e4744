/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* Unit control over the systemd D-Bus API (org.freedesktop.systemd1(5)),
 * all calls asynchronous on the event loop. */

#define UNIT_STATE_MAX 32

typedef struct UnitStatus {
        char active_state[UNIT_STATE_MAX];  /* "active", "inactive", "failed", ... */
        char sub_state[UNIT_STATE_MAX];     /* "running", "dead", ... */
        char result[UNIT_STATE_MAX];        /* "success", "start-limit-hit", ... */
        uint32_t main_pid;                  /* 0 when none */
} UnitStatus;

typedef struct RestartOutcome {
        int error;                          /* 0, or negative errno: the call failed (-ETIMEDOUT: no JobRemoved in time) */
        char error_message[256];            /* D-Bus error text, "" if none */
        char job_result[UNIT_STATE_MAX];    /* JobRemoved result: "done", "failed", "timeout", ... or "" */
        uint32_t old_main_pid;
        UnitStatus after;                   /* unit status read after the job ended */
        /* A unit without a MainPID (Debian's postfix@.service is
         * Type=forking with GuessMainPID=no) is judged by its processes
         * (Manager.GetUnitProcesses) instead: counts before and after, and
         * how many of the old ones are still there. */
        bool by_processes;
        unsigned old_processes, new_processes, survivors;
        bool success;                       /* active, and MainPID changed (non-zero), or
                                             * by_processes with new ones and no survivors */
} RestartOutcome;

typedef struct UnitRestart UnitRestart;
typedef void (*unit_restart_fn)(const RestartOutcome *o, void *userdata);

/* Restarts UNIT: reads MainPID (the process list when it is 0),
 * Subscribe()s, calls RestartUnit(UNIT, "replace"), waits for JobRemoved of
 * that job for up to TIMEOUT_USEC, then reads the unit status (and process
 * list) again. Success is judged by the
 * MainPID having changed and the unit being active, not by the job result
 * alone (Postfix's stop may log a failure although the restart works).
 * CB is called exactly once unless the operation is freed first.
 * Returns 0 or a negative errno (nothing started). */
int unit_restart(sd_bus *bus, const char *unit, uint64_t timeout_usec,
                 unit_restart_fn cb, void *userdata, UnitRestart **ret);

UnitRestart *unit_restart_free(UnitRestart *r);

/* Whether systemd refused the restart (D-Bus AccessDenied and the like: polkit
 * said no), rather than the restart failing. */
bool unit_restart_refused(const RestartOutcome *o);

/* Object path of UNIT under /org/freedesktop/systemd1/unit/ (sd_bus_path_encode).
 * Returns 0 or -ENOMEM. */
int unit_object_path(const char *unit, char **ret);
