/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "alert.h"
#include "config.h"
#include "detector.h"
#include "exec.h"
#include "metrics.h"
#include "probe.h"
#include "systemd.h"

/* One reachability or queue probe and the result of its current round. */
typedef struct ProbeSlot {
        Probe *probe;
        ProbeResult result;
        bool done;          /* result belongs to the current round */
        bool ignore_next;   /* the next completion is an overlapped run of the previous round */
        ProbeStatus last_status;
        bool have_last;
} ProbeSlot;

/* What the STATUS= line shows (manager_format_status()). */
typedef struct StatusInfo {
        MtaView view;                /* no probes: REACH is shown instead */
        Reachability reach;          /* the detector's combined reachability */
        unsigned restarts;           /* restarts in the window, shown when > 0 or while acting */
        unsigned max_restarts;
        uint64_t restart_window_usec;
        bool dry_run;
} StatusInfo;

/* How the manager runs. */
typedef struct ManagerOptions {
        bool once;               /* one probe round, print the verdict, exit (no alerts, no actions) */
        bool json;               /* with once: print JSON instead of text */
        bool dry_run;            /* --dry-run: overrides the file's dry_run, also after a reload */
} ManagerOptions;

/* Everything the daemon owns; no global mutable state. */
typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config *config;
        Alerter *alerter;

        ProbeSlot *slots;        /* reachability probes, then queue, activity and unit */
        size_t n_slots;
        size_t n_reach;          /* reachability probes: slots[0..n_reach) */
        const char **probed_hosts; /* their hosts, NULL-terminated, for the activity probe */
        size_t pending;          /* probes of the current round still running */
        uint64_t round_started_usec;
        sd_event_source *tick;

        Detector detector;
        DetectorParams params;
        Observation last_obs;

        UnitRestart *restart;    /* action in progress, at most one */
        ExecRun *flush;
        ActionType running_action;
        char action_detail[640];

        char incident[UUID_STRING_MAX];
        uint64_t state_since_usec;   /* CLOCK_MONOTONIC: when the detector entered its state */

        /* For the metrics file; counted since the daemon started. */
        bool have_round;             /* the probes of this config finished a round */
        uint64_t last_round_usec;    /* CLOCK_REALTIME end of the last round, 0: none */
        uint64_t restarts_total;
        uint64_t actions_total[_ACTION_TYPE_MAX][2]; /* [action][0 succeeded, 1 failed] */
        uint64_t incidents_total;
        bool metrics_failing;        /* the last write failed: repeats are logged at debug */

        ManagerOptions options;
        int lock_fd;             /* flock(2) on state_dir/lock: one daemon per state directory */
        int once_verdict;        /* OnceVerdict of the --once round */
} Manager;

/* Creates the manager on a new event loop for CONFIG (ownership passes to
 * the manager): signals (TERM, INT exit; HUP logged), watchdog pings,
 * probes, alerter, system bus. Returns 0 or a negative errno, logged. */
int manager_new(Config *config, const ManagerOptions *options, Manager **ret);

/* Runs the loop until SIGTERM/SIGINT, or for --once until the round is
 * judged (then returns the OnceVerdict, 0..2). Returns that, or a negative
 * errno. */
int manager_run(Manager *m);

/* Formats the sd_notify(3) STATUS= text of S, e.g.
 * "postfix@-.service: HEALTHY, backlog 3 (0 overdue), oldest 12s, relay up" or
 * "postfix@-.service: STALLED for 4m, backlog 20 (20 overdue), oldest 5m, relay up, restarts 1/3 in 1h".
 * Durations are whole seconds in format_duration() form. Pure. Returns 0
 * and a malloc'd string in *RET, or -ENOMEM. */
int manager_format_status(const StatusInfo *s, char **ret);

Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
