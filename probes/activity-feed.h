/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "activity.h"
#include "exec.h"
#include "probe.h"

/* What every activity source (the journal, probes/journal.c; a plain log
 * file, probes/logfile.c) does with a line of the MTA's log once it has
 * read it: classify it (probes/activity.h), count it, keep the lines
 * behind failures and the MTA's own errors for alerts (ActivitySamples),
 * and look up the bare peer names the MTA could not resolve or reach, so
 * that a name which resolves to a probed host makes its failures fixable
 * (README "How it decides"). A source embeds one ActivityFeed in its
 * probe state and only finds the lines. */

#define ACTIVITY_FEED_NAMES_MAX 16        /* peer names whose addresses are looked up */
#define ACTIVITY_FEED_RESOLVE_TIMEOUT_USEC (5ULL * USEC_PER_SEC)   /* deadline of one lookup */
#define ACTIVITY_FEED_RESOLVE_AGAIN_USEC (300ULL * USEC_PER_SEC)   /* a name is looked up again after */

/* A peer name the MTA could not reach or resolve, looked up by us. */
typedef struct ActivityPeerName {
        char name[ACTIVITY_PEER_MAX];
        uint64_t looked_up_usec;          /* CLOCK_MONOTONIC; 0: not yet */
        uint64_t seen_usec;               /* CLOCK_MONOTONIC, when the MTA last logged it */
} ActivityPeerName;

typedef struct ActivityFeed {
        Probe *probe;                     /* the owner: its name for logs, its loop */
        ActivityPatterns patterns;
        ActivityCounts counts;            /* since the probe was created */
        ActivitySamples samples;
        uint64_t mta_log_seq;             /* MTA log lines kept so far */
        ActivityPeerName names[ACTIVITY_FEED_NAMES_MAX];
        size_t n_names;
        ExecRun *resolve;                 /* the lookup running, of names[resolving]; NULL: none */
        size_t resolving;
} ActivityFeed;

/* Compiles the patterns (activity_patterns_init(): ACTIVITY_PATTERN and
 * ERROR_PATTERN, or where NULL those of RULES) for the probe P, on whose
 * loop lookups run. Returns 0, -EINVAL (the reason logged with P's name)
 * or -ENOMEM. activity_feed_done() is safe after any result. */
int activity_feed_init(ActivityFeed *f, Probe *p, const ActivityRules *rules, const char *activity_pattern,
                       const char *error_pattern, const char *const *probed_hosts);

/* Classifies MESSAGE (NUL-terminated, one line of the MTA's log), counts
 * it and keeps it as a sample; a failure to a bare peer name that is not
 * probed starts a lookup of it (one at a time, in a child, on the loop).
 * IDENTIFIER (the journal's SYSLOG_IDENTIFIER, or NULL) prefixes the kept
 * lines of the MTA's own errors. MTA_LOG_ONLY: the program logs nothing
 * of deliveries, only the MTA's own errors count
 * (activity_identifier_mta_log()); other lines are dropped. */
void activity_feed_note_line(ActivityFeed *f, const char *identifier, const char *message, bool mta_log_only);

/* Fills RES's activity counters and samples, and its reason with "sent N,
 * deferred N, bounced N, conn errors N (+N to probed hosts)". Returns the
 * length of that reason (a source may append to it). */
size_t activity_feed_result(const ActivityFeed *f, ProbeResult *res);

/* Adds to P's loop a defer source for the rest of a backlog: idle
 * priority (it runs when everything else ran), off until a source turns
 * it on (SD_EVENT_ONESHOT), named DESCRIPTION. Returns 0 or a negative
 * errno (*RET untouched). */
int activity_feed_add_defer(Probe *p, sd_event_source **ret, sd_event_handler_t cb, const char *description);

/* Cancels a lookup still running and frees the patterns. */
void activity_feed_done(ActivityFeed *f);
