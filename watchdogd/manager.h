/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "detector.h"
#include "macros.h"
#include "metrics.h"

/* What the STATUS= line shows (manager_format_status()). */
typedef struct StatusInfo {
        MtaView view;                /* no probes: REACH is shown instead */
        Reachability reach;          /* the detector's combined reachability */
        unsigned restarts;           /* restarts in the window, shown when > 0 or while acting */
        unsigned max_restarts;
        uint64_t restart_window_usec;
        bool dry_run;
        const char *detected;        /* [mta] type = auto: the MTA found ("postfix"), shown
                                      * beside the unit; NULL: a type the file sets */
} StatusInfo;

/* How the manager runs. */
typedef struct ManagerOptions {
        bool once;               /* one probe round, print the verdict, exit (no alerts, no actions) */
        bool json;               /* with once: print JSON instead of text */
        bool dry_run;            /* --dry-run: overrides the file's dry_run, also after a reload */
} ManagerOptions;

/* The daemon: manager_new() to manager_free(). */
typedef struct Manager Manager;

/* Creates the manager on a new event loop for CONFIG (ownership passes to
 * the manager): signals (TERM, INT exit; HUP reloads; USR1 resets), watchdog pings,
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

/* Frees M and all it owns (probes, an action in progress, alerter, bus,
 * loop, lock, config); M may be NULL. Returns NULL. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
