/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "activity.h"
#include "probe.h"

/* The MTA's delivery activity read from a plain log file that the MTA
 * appends to and logrotate rotates (type "logfile", PROBE_KIND_ACTIVITY;
 * Exim's /var/log/exim4/mainlog): the same counters, samples, cause
 * classes and peer-name lookups as the journal source (probes/journal.h;
 * both through probes/activity-feed.h), from the lines of the file. See
 * probes/logfile.c. */
extern const struct probe_ops probe_logfile_ops;

typedef struct LogfileSettings {
        const char *path;                 /* the log file, absolute, required */
        const ActivityRules *rules;       /* the MTA type's built-in rules, may be NULL */
        const char *activity_pattern;     /* ERE, or NULL for the rules' */
        const char *error_pattern;        /* ERE, or NULL for the rules' */
        const char *const *probed_hosts;  /* reachability probes' hosts, NULL-terminated */
        const char *state_dir;            /* where the position is kept (NULL: not kept) */
        uint64_t since_usec;              /* > 0: read the file from its start and count the
                                           * lines stamped (local time, "YYYY-MM-DD HH:MM:SS")
                                           * from this CLOCK_REALTIME time on, microseconds; a
                                           * run reports once it read to the end (--once) */
        size_t chunk_bytes;               /* bytes read per loop iteration; 0: LOGFILE_CHUNK */
} LogfileSettings;

#define LOGFILE_CHUNK (64U * 1024U)
#define LOGFILE_POSITION_FILE "logfile.position"
