/* SPDX-License-Identifier: MIT */
#pragma once

#include "activity.h"

/* Sendmail 8's syslog lines read as delivery activity (probes/sendmail-log.c):
 * the built-in rules of [mta] type = sendmail, for the journal by
 * SYSLOG_IDENTIFIER (probes/journal.c). Lines are sendmail 8.17's
 * (src/deliver.c logdelivery(), giveresponse(); src/err.c sm_errstring();
 * src/queue.c runqueue()), the journal's MESSAGE without the syslog
 * header. */
extern const ActivityRules sendmail_activity_rules;

/* The SYSLOG_IDENTIFIER= values of Debian's sendmail queue runs (-L
 * sm-mta, -L sm-msp-queue, -L sm-mta-runq in /etc/init.d/sendmail and
 * /usr/share/sendmail/runq; the flush unit's), NULL-terminated. */
extern const char *const sendmail_syslog_identifiers[];

/* Keeps in LINE (a writable, NUL-terminated copy of one log line) only
 * sendmail's own words, as the rules' own_text: overwrites the addresses
 * of "to=", "ctladdr=", "from=", "orcpt=" (up to the next ", " outside
 * angle brackets) with 'x', cuts off what a remote server said (after
 * "stat=Deferred: NNN", "stat=Sent (", "reply=") and empties arrival lines
 * ("from="), whose every field the sender chooses. */
void sendmail_log_own_text(char *line);
