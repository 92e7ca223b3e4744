/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "duration.h"
#include "macros.h"

/* Unit control over the systemd D-Bus API (org.freedesktop.systemd1(5)),
 * all calls asynchronous on the event loop. */

#define UNIT_STATE_MAX 32
#define UNIT_JOB_PATH_MAX 96    /* "/org/freedesktop/systemd1/job/4294967295" fits */

typedef struct UnitStatus {
        char active_state[UNIT_STATE_MAX];  /* "active", "inactive", "failed", ... */
        char sub_state[UNIT_STATE_MAX];     /* "running", "dead", ... */
        char result[UNIT_STATE_MAX];        /* "success", "start-limit-hit", ... */
        uint32_t main_pid;                  /* 0 when none */
} UnitStatus;

typedef struct RestartOutcome {
        int error;                          /* 0, or negative errno: a call failed (-ETIMEDOUT: no answer in time) */
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
                                             * by_processes with new ones and no survivors;
                                             * adopted: active; wait_only: no job pending */

        /* Jobs (org.freedesktop.systemd1(5): the unit's Job property, JobRemoved). */
        char job_path[UNIT_JOB_PATH_MAX];   /* our restart job, "" until RestartUnit answered */
        char other_job_path[UNIT_JOB_PATH_MAX]; /* the last job of the unit we waited for before
                                             * acting, "" if none */
        uint32_t other_job_id;
        uint64_t deadline_usec;             /* the deadline applied (restart_timeout, or the
                                             * unit's own with RESTART_TIMEOUT_AUTO) */
        bool deadline_from_unit;            /* from TimeoutStopUSec + TimeoutStartUSec */
        bool slow;                          /* a job outlived the deadline (reported once) */
        bool adopted;                       /* waited for UnitRestartOptions.adopt_job */
} RestartOutcome;

typedef struct UnitRestart UnitRestart;
typedef void (*unit_restart_fn)(const RestartOutcome *o, void *userdata);

/* What happens to jobs while an operation runs, before it ends. */
typedef enum UnitJobEvent {
        UNIT_JOB_QUEUED,    /* RestartUnit answered: o->job_path is our job (save it) */
        UNIT_JOB_WAITING,   /* another job of the unit is pending (o->other_job_path):
                             * nothing is issued until it has ended */
        UNIT_JOB_SLOW,      /* the deadline passed with a job still pending (ours, or the one
                             * waited for); once per operation; the wait goes on */
} UnitJobEvent;

/* Called for each UnitJobEvent; must not free the operation. */
typedef void (*unit_job_fn)(UnitJobEvent what, const RestartOutcome *o, void *userdata);

/* restart_timeout = auto: the deadline is the unit's own TimeoutStopUSec +
 * TimeoutStartUSec (a restart job stops, then starts; systemd.service(5))
 * plus RESTART_TIMEOUT_AUTO_SLACK_USEC, so that systemd's own timeout ends a
 * hung job first; infinity, or a sum above RESTART_TIMEOUT_AUTO_MAX_USEC, is
 * capped to that; a unit that is not a service gets
 * RESTART_TIMEOUT_AUTO_OTHER_USEC. */
#define RESTART_TIMEOUT_AUTO               USEC_INFINITY
#define RESTART_TIMEOUT_AUTO_SLACK_USEC    (5 * USEC_PER_SEC)
#define RESTART_TIMEOUT_AUTO_MAX_USEC      (10 * USEC_PER_MINUTE)
#define RESTART_TIMEOUT_AUTO_OTHER_USEC    (90 * USEC_PER_SEC)

/* The auto deadline for a unit with TIMEOUT_START_USEC and TIMEOUT_STOP_USEC
 * (microseconds, USEC_INFINITY for none), by the rules above. Pure. */
uint64_t restart_timeout_from_unit(uint64_t timeout_start_usec, uint64_t timeout_stop_usec);

typedef struct UnitRestartOptions {
        uint64_t timeout_usec;      /* how long a job may take before it is slow, or
                                     * RESTART_TIMEOUT_AUTO */
        const char *adopt_job;      /* NULL, or the path of a restart job issued before (by an
                                     * earlier run of the daemon): wait for it, issue nothing */
        bool slow_reported;         /* with adopt_job: UNIT_JOB_SLOW was reported already */
        bool wait_only;             /* issue nothing: end once no job of the unit is pending */
        bool cont_first;            /* a unit without a MainPID: KillUnit(UNIT, "all", SIGCONT)
                                     * before the restart (the MTA's liveness is read from a PID
                                     * file: its unit runs a SysV script, see below) */
        unit_job_fn on_job;         /* may be NULL */
} UnitRestartOptions;

/* Restarts UNIT: Subscribe()s; with RESTART_TIMEOUT_AUTO reads the unit's
 * timeouts; reads the unit's Job property and, while a job of the unit is
 * pending, waits for its JobRemoved (never RestartUnit over a pending job:
 * "replace" would cancel it and start over); reads MainPID (the process list
 * when it is 0, and then, with cont_first, KillUnit(UNIT, "all", SIGCONT): a
 * SysV script's stop sends SIGTERM only, which a stopped process keeps
 * pending; its failure is logged, not fatal), calls RestartUnit(UNIT, "replace") and waits for JobRemoved
 * of that job, then reads the unit status (and process list) again. Success
 * is judged by the MainPID having changed and the unit being active, not by
 * the job result alone (Postfix's stop may log a failure although the
 * restart works).
 * A job still pending at the deadline is reported once (UNIT_JOB_SLOW) and
 * waited for: until its JobRemoved, or until the unit's Job property no
 * longer names it (polled, in case the signal was lost). Only a D-Bus call
 * that does not answer by the deadline fails the operation (-ETIMEDOUT).
 * CB is called exactly once unless the operation is freed first.
 * Returns 0 or a negative errno (nothing started). */
int unit_restart_full(sd_bus *bus, const char *unit, const UnitRestartOptions *opts,
                      unit_restart_fn cb, void *userdata, UnitRestart **ret);

/* unit_restart_full() with only a timeout (TIMEOUT_USEC, microseconds, or
 * RESTART_TIMEOUT_AUTO). */
int unit_restart(sd_bus *bus, const char *unit, uint64_t timeout_usec,
                 unit_restart_fn cb, void *userdata, UnitRestart **ret);

UnitRestart *unit_restart_free(UnitRestart *r);

/* Whether systemd refused the restart (D-Bus AccessDenied and the like: polkit
 * said no), rather than the restart failing. */
bool unit_restart_refused(const RestartOutcome *o);

/* Object path of UNIT under /org/freedesktop/systemd1/unit/ (sd_bus_path_encode).
 * Returns 0 or -ENOMEM. */
int unit_object_path(const char *unit, char **ret);
