/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "config.h"
#include "detector.h"

/* The daemon's state for Prometheus, written as a file for node_exporter's
 * textfile collector (README "Metrics"). */

typedef struct MetricsProbe {
        const char *name;               /* NAME of [probe:NAME] */
        ProbeStatus status;             /* last round's result: OK up, FAIL down, else unknown */
} MetricsProbe;

typedef struct MetricsReceiver {
        const char *name;               /* NAME of [alert:NAME] */
        uint64_t sent;                  /* alerts delivered */
        uint64_t failed;                /* alerts given up (refused or too old) */
} MetricsReceiver;

/* What one metrics file shows; counters count since the daemon started. */
/* The watched unit as the last probe round and the detector see it: what
 * the status line (manager_format_status()) and the metrics both show. */
typedef struct MtaView {
        const char *unit;               /* the watched unit, e.g. "postfix@-.service" */
        DetectorState state;
        uint64_t state_usec;            /* time in STATE, microseconds */
        bool queue_ok;                  /* the last queue probe succeeded: the next four are valid */
        unsigned backlog;               /* messages queued */
        uint64_t oldest_age_usec;       /* age of the oldest, microseconds */
        bool overdue_known;             /* the queue probe knows the MTA's schedule */
        unsigned overdue;               /* messages overdue (only with overdue_known) */
        uint64_t wait_left_usec;        /* QueueStats.wait_left_usec: the MTA waits by its own rule */
        const char *wait_reason;        /* QueueStats.wait_reason, NULL when wait_left_usec is 0 */
        const MetricsProbe *probes;     /* reachability probes by name */
        size_t n_probes;
        bool activity_ok;               /* the MTA's log was read: `activity` is valid */
        ActivityCounts activity;        /* its lines since the daemon started */
} MtaView;

typedef struct MetricsSnapshot {
        const char *version;            /* build_info's version label */
        MtaView view;                   /* view.unit is the label "unit" */
        uint64_t restarts_total;        /* restarts started (never in a dry run) */
        uint64_t actions_total[_ACTION_TYPE_MAX][2]; /* [action][0 succeeded, 1 failed] */
        const MetricsReceiver *receivers;
        size_t n_receivers;
        uint64_t alerts_queued;         /* outbox entries waiting, over all receivers */
        uint64_t incidents_total;       /* incidents opened */
        uint64_t last_probe_usec;       /* CLOCK_REALTIME end of the last probe round, 0: none yet */
} MetricsSnapshot;

/* Formats S in the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): every
 * family with # HELP and # TYPE, times in seconds. Pure. Returns 0 and a
 * malloc'd NUL-terminated string in *RET, or -ENOMEM. */
int metrics_format(const MetricsSnapshot *s, char **ret);

/* Writes the label value S to F escaped as the exposition format wants:
 * backslash, double quote and line feed as \\, \" and \n. */
void metrics_write_label_value(FILE *f, const char *s);

/* Writes TEXT to PATH (absolute) with write_file_replace() (fileio.h):
 * renamed into place, never torn, not fsync'd (rewritten every round).
 * Mode 0644. Returns 0 or a negative errno. */
int metrics_write_file(const char *path, const char *text);

/* A reload moved the metrics file from OLD to NEW (NULL: none): removes OLD,
 * so that node_exporter does not keep serving its last values beside the
 * new file's. Nothing to do when OLD is NULL or the same as NEW, or is gone
 * already. Returns 1 if OLD was removed, 0 if nothing was done, or a
 * negative errno. */
int metrics_retire_file(const char *old, const char *new);
