/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "activity.h"
#include "probe.h"

/* The MTA's delivery activity read from the journal (type "journal",
 * PROBE_KIND_ACTIVITY): counters of classified lines since the probe
 * began. See probes/journal.c. */
extern const struct probe_ops probe_journal_ops;

typedef struct JournalSettings {
        const char *unit;                 /* the MTA's unit: its entries (_SYSTEMD_UNIT=), required */
        const char *const *syslog_identifiers; /* non-NULL: match these SYSLOG_IDENTIFIER= values
                                           * instead of the unit (NULL-terminated, not empty) */
        const ActivityRules *rules;       /* the MTA type's built-in rules, may be NULL */
        const char *activity_pattern;     /* ERE, or NULL for the rules' */
        const char *error_pattern;        /* ERE, or NULL for the rules' */
        const char *const *probed_hosts;  /* reachability probes' hosts, NULL-terminated */
        const char *state_dir;            /* where the cursor is kept (NULL: not kept) */
        const char *journal_directory;    /* read this directory instead of the system
                                           * journal (tests) */
        uint64_t since_usec;              /* without a saved cursor, count entries from this
                                           * CLOCK_REALTIME time on, microseconds (0: only new ones) */
} JournalSettings;
