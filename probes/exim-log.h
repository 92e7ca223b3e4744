/* SPDX-License-Identifier: MIT */
#pragma once

#include "activity.h"

/* Exim 4's main log read as delivery activity (probes/exim-log.c): the
 * built-in rules of [mta] type = exim, for the log file follower
 * (probes/logfile.c) and, when Exim logs to syslog (log_file_path =
 * syslog), for the journal (probes/journal.c). Lines are Exim 4.96's
 * (spec chapter "Log files"; src/deliver.c, src/transports/smtp.c,
 * src/queue.c, src/log.c), with or without the leading time stamp, with
 * syslog's "[n/m] " prefix of long lines. */
extern const ActivityRules exim_activity_rules;

/* The SYSLOG_IDENTIFIER= values of Exim's lines when it logs to syslog
 * (syslog_processname, spec chapter "Log files"), NULL-terminated. */
extern const char *const exim_syslog_identifiers[];

/* Keeps in LINE (a writable, NUL-terminated copy of one log line) only
 * Exim's own words, as the rules' own_text: drops the time stamp, the
 * "[pid]" of +pid and the syslog "[1/m] " prefix (later pieces "[k/m] ",
 * k > 1, and indented continuation lines become empty: they continue a
 * line already classified); overwrites the addresses of a "=>", "->",
 * "**", "==" line (and its parent "<...>", F=<...>, P=<...>) with 'x';
 * cuts off what a remote server said (after "SMTP error from remote mail
 * server", "Remote host closed connection in response to", "Malformed
 * SMTP reply", C="...", DN="...") and empties arrival lines ("<="), whose
 * every field the sender chooses. */
void exim_log_own_text(char *line);
