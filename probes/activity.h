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
 *    "**" (bounced), per Exim's spec chapter "Log files"; Exim's
 *    "Completed" and "Start queue run" (ActivityCounts.completed,
 *    queue_runs); Sendmail's "Sent", "Deferred" (its stat= words) and
 *    "dsn=5" (a permanent failure). Other text in that group makes the line count as nothing.
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
        ACTIVITY_COMPLETED,          /* a message left the queue (Exim "Completed") */
        ACTIVITY_QUEUE_RUN,          /* a queue runner started (Exim "Start queue run") */
        ACTIVITY_STARTED,            /* a delivery began; a later line tells its outcome
                                      * (ActivityRules.started) */
        _ACTIVITY_KIND_MAX,
} ActivityKind;

/* One rule of an MTA profile that gives a failed line its cause class:
 * the first rule whose PATTERN (ERE) matches decides. When the pattern has
 * a capture group, the first one that took part in the match names the
 * peer (unless the profile's peer pattern found one already). */
typedef struct CauseRule {
        FailureCause cause;
        const char *pattern;
} CauseRule;

/* An MTA's built-in log rules, named by its profile (probes/mta.h) and
 * kept in its probe file: the defaults of activity_pattern and
 * error_pattern, a pattern for deferrals that attempted nothing, the
 * programs whose lines may tell of deliveries, the cause classes of
 * failures and the MTA's own error lines. */
typedef struct ActivityRules {
        const char *activity;                /* ERE, the outcome in its first group */
        const char *error;                   /* ERE, the peer in its first group */
        const char *skip;                    /* ERE or NULL: matching lines count as nothing */
        const char *const *identifiers;      /* NULL-terminated, or NULL: every identifier */
        const char *peer;                    /* ERE or NULL: the peer of a delivery line in its
                                              * first group (Postfix "relay=HOST[ADDR]:PORT") */
        const CauseRule *causes;             /* ends with a NULL pattern; NULL: no classes */
        FailureCause error_cause;            /* the class of an error_pattern line no rule names */
        const char *mta_log;                 /* ERE or NULL: the MTA's own fatal/panic/warning lines */
        const char *mta_error;               /* ERE or NULL: those of them that tell of its own agent
                                              * failing (a crash, a fatal error): class mta-internal */
        const char *const *mta_log_identifiers; /* more programs whose mta_log lines count
                                              * (Postfix: "master"); NULL-terminated or NULL */
        void (*own_text)(char *message);     /* NULL, or keeps in MESSAGE (a writable copy) only
                                              * the MTA's own words: overwrites the addresses and
                                              * cuts off the text it quotes from others, so that
                                              * no pattern above can match what a sender or a
                                              * remote server wrote */
        /* One ERE per outcome, for MTAs whose log says it in words of its
         * own (the generic profile's delivered_pattern, failed_pattern,
         * started_pattern, probes/generic.c). Tried after error and skip,
         * in this order, before activity; NULL: none. With delivered set,
         * activity may be NULL. A started line's first capture group, if
         * any, names the peer (ActivitySamples.open_start_peer). */
        const char *delivered;               /* a delivery: ACTIVITY_SENT */
        const char *failed;                  /* attempted, failed: ACTIVITY_DEFERRED */
        const char *started;                 /* a delivery began: ACTIVITY_STARTED */
        FailureCause failed_cause;           /* the class of a failed line no cause rule names */
} ActivityRules;

#define ACTIVITY_CAUSE_RULES_MAX 32

typedef struct ActivityPatterns {
        regex_t activity;
        regex_t error;
        bool have_activity, have_error;
        regex_t skip;                /* built in: deferrals without an attempt (Postfix) */
        bool have_skip;
        regex_t peer, mta_log, mta_error;
        bool have_peer, have_mta_log, have_mta_error;
        regex_t causes[ACTIVITY_CAUSE_RULES_MAX];
        FailureCause cause_of[ACTIVITY_CAUSE_RULES_MAX];
        size_t n_causes;
        FailureCause error_cause;
        const char *const *identifiers; /* built in: SYSLOG_IDENTIFIER programs that deliver */
        const char *const *mta_log_identifiers;
        void (*own_text)(char *message);
        regex_t delivered, failed, started; /* ActivityRules' words per outcome */
        bool have_delivered, have_failed, have_started;
        FailureCause failed_cause;
        char **probed_hosts;         /* NULL-terminated copies */
        char **probed_names;         /* names found to resolve to a probed host
                                      * (activity_patterns_add_probed_name()), NULL-terminated */
} ActivityPatterns;

/* One classified line. */
typedef struct ActivityLine {
        ActivityKind kind;
        FailureCause cause;          /* of a failure (deferred, bounced, connection error) */
        bool fixable;                /* a failure a restart may fix (see ActivityCounts) */
        bool mta_log;                /* one of the MTA's own fatal/panic/warning lines */
        bool mta_error;              /* ... that tells of its own agent failing (mta-internal) */
        bool peer_is_name;           /* the peer is a bare name (no [address]) */
        char peer[ACTIVITY_PEER_MAX];/* as the MTA names it, "" if none */
} ActivityLine;

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

/* Classifies MESSAGE (NUL-terminated), as the rules' own_text() leaves it
 * (a line that cannot be copied for that counts as nothing). A connection error's peer counts as
 * probed when its name or its bracketed address equals a probed host
 * (case-insensitively), or, for a bare name, when it is one of the probed
 * names. */
ActivityKind activity_classify(const ActivityPatterns *p, const char *message);

/* The same with the cause class, the peer and whether a restart may fix
 * it, into RET. Fixable: a connection or name-resolution error to a probed
 * peer, and the class mta-internal. */
void activity_classify_line(const ActivityPatterns *p, const char *message, ActivityLine *ret);

/* Whether IDENTIFIER's mta_log lines count (a delivering program, or one of
 * the rules' mta_log_identifiers). */
bool activity_identifier_mta_log(const ActivityPatterns *p, const char *identifier);

/* Adds NAME (a host name the MTA logs without an address) to the names
 * that count as probed: the caller found that it resolves to a probed
 * host. Returns 0 (also when known already) or -ENOMEM. */
int activity_patterns_add_probed_name(ActivityPatterns *p, const char *name);

/* Whether ADDRESS (an IPv4 or IPv6 literal, brackets allowed) equals one of
 * the probed hosts. */
bool activity_address_probed(const ActivityPatterns *p, const char *address);

/* Gives LINE, a failure that named no peer, the peer PEER (as the MTA
 * named it elsewhere: the open start's, ActivitySamples.open_start_peer)
 * and judges it again: a connection error to a probed PEER is
 * ACTIVITY_CONN_ERROR_PROBED and, as a connect or name-resolution
 * failure, fixable. Nothing happens for a line that has a peer, or that
 * is no failure, or for an empty PEER. */
void activity_line_set_peer(const ActivityPatterns *p, ActivityLine *line, const char *peer);

/* Adds one classified message to COUNTS. */
void activity_count(ActivityCounts *counts, ActivityKind kind);

/* Adds LINE to COUNTS: the outcome, and for a failure its cause (and
 * fixable), or mta_log. */
void activity_count_line(ActivityCounts *counts, const ActivityLine *line);
