/* SPDX-License-Identifier: MIT */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "probe.h"

/* Classifies one log message of the MTA (the journal's MESSAGE field) as a
 * delivery attempt by outcome, a connection error, or nothing. Patterns are
 * POSIX extended regular expressions (regex(7)):
 *
 *  - error_pattern is tried first. A match is a connection error; its first
 *    capture group is the peer as the MTA names it (Postfix:
 *    "connect to HOST[ADDR]:PORT: REASON", qmgr(8)/smtp(8) logging), which
 *    is compared with the probed hosts.
 *  - activity_pattern: a match is a delivery attempt; its first capture
 *    group names the outcome: "sent", "deferred", "bounced" or "expired"
 *    (Postfix "status=..."), or Exim's "=>" "->" (sent), "==" (deferred),
 *    "**" (bounced), per Exim's spec chapter "Log files". Other text in
 *    that group makes the line count as nothing.
 *
 * "First capture group" means the first one that took part in the match,
 * so that a pattern may be an alternation of branches with one group each
 * (ERE has no non-capturing groups). See probes/activity.c for the built-in
 * patterns and what they deliberately leave out.
 */

typedef enum ActivityKind {
        ACTIVITY_NONE,
        ACTIVITY_SENT,
        ACTIVITY_DEFERRED,
        ACTIVITY_BOUNCED,
        ACTIVITY_CONN_ERROR,         /* to a peer that is not probed */
        ACTIVITY_CONN_ERROR_PROBED,  /* to a peer that a reachability probe watches */
        _ACTIVITY_KIND_MAX,
} ActivityKind;

/* An MTA's built-in log rules, named by its profile (probes/mta.h) and
 * kept in its probe file: the defaults of activity_pattern and
 * error_pattern, a pattern for deferrals that attempted nothing, and the
 * programs whose lines may tell of deliveries. */
typedef struct ActivityRules {
        const char *activity;                /* ERE, the outcome in its first group */
        const char *error;                   /* ERE, the peer in its first group */
        const char *skip;                    /* ERE or NULL: matching lines count as nothing */
        const char *const *identifiers;      /* NULL-terminated, or NULL: every identifier */
} ActivityRules;

typedef struct ActivityPatterns {
        regex_t activity;
        regex_t error;
        regex_t skip;                /* built in: deferrals without an attempt (Postfix) */
        bool have_skip;
        const char *const *identifiers; /* built in: SYSLOG_IDENTIFIER programs that deliver */
        char **probed_hosts;         /* NULL-terminated copies */
} ActivityPatterns;

/* Whether a journal entry logged under IDENTIFIER (SYSLOG_IDENTIFIER,
 * e.g. "postfix/smtp") may tell of deliveries: for Postfix only its
 * delivery agents and the queue manager (smtp, lmtp, local, virtual, pipe,
 * error, retry, discard, qmgr; see postfix(1) "delivery agents"), never
 * smtpd(8), cleanup(8) or local submission, whose lines quote what outside
 * clients send. Any identifier when the MTA type has no such list. */
bool activity_identifier_relevant(const ActivityPatterns *p, const char *identifier);

/* Compiles the patterns: ACTIVITY_PATTERN and ERROR_PATTERN, or where
 * NULL the built-in ones of RULES (NULL: none). Returns 0, -EINVAL for a
 * pattern that does not compile or lacks the capture group, or that is
 * missing with no built-in one (the reason is written to ERR), -ENOMEM. */
int activity_patterns_init(ActivityPatterns *p, const ActivityRules *rules, const char *activity_pattern,
                           const char *error_pattern, const char *const *probed_hosts,
                           char *err, size_t err_size);
void activity_patterns_done(ActivityPatterns *p);

/* Classifies MESSAGE (NUL-terminated). A connection error's peer counts as
 * probed when its name or its bracketed address equals a probed host
 * (case-insensitively). */
ActivityKind activity_classify(const ActivityPatterns *p, const char *message);

/* Adds one classified message to COUNTS. */
void activity_count(ActivityCounts *counts, ActivityKind kind);
