/* SPDX-License-Identifier: MIT */
/* Exim 4: the built-in rules for reading its main log. Its queue probe and
 * profile are not there yet; the rules are used through activity_pattern
 * and error_pattern, and by tests.
 *
 * Exim (spec chapter "Log files", main log written to syslog with
 * log_file_path = syslog; a message id precedes the flags):
 *   "ID => a@b R=dnslookup T=remote_smtp H=mx [ADDR] ..."       sent
 *   "ID -> c@b ..."                                             sent (another address, same delivery)
 *   "ID ** a@b R=... : 550 ..."                                 bounced
 *   "ID == a@b R=r T=smtp defer (-44) H=mx [ADDR]: SMTP error from remote mail server ... 451 ..."
 *                                                               deferred (the remote answered)
 *   "ID H=mx [ADDR] Connection refused"                         connection error (smtp transport,
 *                                                               per host; also "Connection timed out")
 * A "==" line without "defer (N) H=" is not an attempt and counts as
 * nothing: "defer (111): Connection refused" repeats the per-host error
 * line above, "retry time not reached" is Exim waiting out its own retry
 * rules, "R=alias defer (-1)" is a router deferral. Message ids are the
 * old 6-6-2 form and the 6-11-4 form of Exim 4.97. */

#include "exim.h"

static const char *const exim_identifiers[] = { "exim", "exim4", NULL };

#define EXIM_ID "[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"

const ActivityRules exim_activity_rules = {
        .activity = EXIM_ID " (=>|->|\\*\\*) |"
                    EXIM_ID " (==) [^ ]+ .*defer \\([-0-9]+\\) H=[^ ]+ \\[",
        .error = EXIM_ID " H=([^ ]+ \\[[^]]+\\])(:[0-9]+)? "
                 "(Connection refused|Connection timed out|No route to host|Network is unreachable)",
        .identifiers = exim_identifiers,
};
