/* SPDX-License-Identifier: MIT */
/* Sendmail 8's log as delivery activity: the rules of [mta] type =
 * sendmail (probes/activity.h), read from the journal by syslog
 * identifier: sm-mta (the daemon and its queue runs, -L sm-mta),
 * sm-msp-queue (the MSP's queue runs), sm-mta-runq (Debian's runq, and the
 * flush unit units/mta-watchdog-sendmail-flush.service). Not "sendmail":
 * that is a submission (the sendmail command without -L), whose lines tell
 * of mail handed to the local MTA, not of its delivery, and quote what the
 * caller chose. Identifiers, not the unit: a queue run started by hand or
 * by a unit of its own logs from there.
 *
 * The lines, as sendmail 8.17 writes them (src/deliver.c logdelivery():
 * "to=", "ctladdr=", "delay=", "xdelay=", "mailer=", "pri=", "relay=",
 * "dsn=", "stat="; the status text from giveresponse() and src/err.c
 * sm_errstring()), after sendmail_log_own_text():
 *
 *   "ID: to=x, delay=00:00:01, xdelay=00:00:01, mailer=relay, pri=120321,
 *    relay=relay.example. [192.0.2.10], dsn=2.0.0, stat=Sent (..."       sent
 *   "ID: to=x, ..., relay=[192.0.2.2] [192.0.2.2], dsn=4.4.1,
 *    stat=Deferred: [192.0.2.2]: Network is unreachable"                 connection error
 *   "ID: to=x, ..., relay=relay.example. [192.0.2.2], dsn=4.0.0,
 *    stat=Deferred: Connection refused by relay.example."               connection error
 *   "ID: to=x, ..., relay=[192.0.2.2], dsn=4.4.1,
 *    stat=Deferred: [192.0.2.2]: Network is unreachable"                 nothing: no attempt
 *   "ID: to=x, ..., dsn=4.0.0, stat=Deferred: 421 4.3.0 ..."           deferred (the peer answered)
 *   "ID: to=x, ..., dsn=4.4.3, stat=Deferred: Name server: relay.example.: host name lookup failure"
 *                                                                      deferred, dns-failure
 *   "ID: to=x, ..., dsn=5.1.1, stat=User unknown"                      bounced
 *   "runqueue: Skipping queue run -- load average too high"            sendmail's own warning
 *   "SYSERR(root): ..."                                                sendmail's own error
 *
 * A host that failed is not connected to again by the same queue run (the
 * in-process connection cache) nor, with a HostStatusDirectory, by any run
 * for Timeout.hoststatus: the job is deferred with the stored errno, and
 * the line reads like a real attempt but for its relay= field, which then
 * names the host alone, without the " [ADDR]" of a connection made (seen
 * on Debian 12's sendmail 8.17.1.9). Such a deferral attempted nothing: it
 * counts as nothing (the skip rule), as Exim's "retry time not reached".
 * The queue probe reports the host status wait itself
 * (probes/sendmail.c, QueueStats.wait_left_usec), and the detector
 * detects no stall while it lasts.
 *
 * Queue ids: "YMDhmsNNPPPPP" in base 60 (8.17: 14 characters; older 12). */

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "macros.h"
#include "sendmail-log.h"

const char *const sendmail_syslog_identifiers[] = { "sm-mta", "sm-msp-queue", "sm-mta-runq", NULL };

#define SM_ID "[0-9A-Za-z]{8,20}"
#define SM_RELAY "relay=([^ ,]+( \\[[^]]+\\])?)"
/* a connection made: the host and " [ADDR]" (deliver.c logdelivery()) */
#define SM_RELAY_CONNECTED "relay=([^ ,]+ \\[[^]]+\\])"
/* the errno text, after "Deferred: " and the host's "NAME: " when there is one */
#define SM_CONNECT_ERROR "Connection refused by |Connection timed out with |Connection reset by |" \
                         "No route to host|Network is unreachable|Host [^ ]+ is down|Connection timed out"
#define SM_DEFERRED_CONNECT ", dsn=4\\.[0-9]+\\.[0-9]+, stat=Deferred: ([^ ]+: )?(" SM_CONNECT_ERROR ")"

/* The outcome in the first group: "Sent", "Deferred", "dsn=5" (a
 * permanent failure; its stat= text varies), probes/activity.c
 * outcome_kind(). */
#define SENDMAIL_ACTIVITY                                                      \
        "^" SM_ID ": to=.*, dsn=2\\.[0-9]+\\.[0-9]+, stat=(Sent)( |$)|"        \
        "^" SM_ID ": to=.*, stat=(Deferred)(:|$)|"                             \
        "^" SM_ID ": to=.*, (dsn=5)\\.[0-9]+\\.[0-9]+, stat="

/* A failed connect to the host of "relay=" (the peer in the first group). */
#define SENDMAIL_ERROR "^" SM_ID ": to=.*, " SM_RELAY_CONNECTED SM_DEFERRED_CONNECT

/* No attempt: the same failure from the connection cache or the host
 * status, relay= without an address. */
#define SENDMAIL_SKIP "^" SM_ID ": to=.*, relay=[^ ,]+" SM_DEFERRED_CONNECT

#define SENDMAIL_PEER ", " SM_RELAY ", dsn="

/* sendmail's own trouble: syserr() lines ("SYSERR(user): ...", src/err.c),
 * queue runs it skips or loses (src/queue.c runqueue(), the persistent
 * queue runners), a WorkList it cannot grow. */
#define SENDMAIL_MTA_LOG                                                                              \
        "^(" SM_ID ": )?SYSERR\\(|^runqueue: Skipping queue run|^(" SM_ID ": )?Aborting queue run|"    \
        "persistent queue runner|FAILED to grow WorkList|^ERROR: persistent queue runner"
/* ... those a restart may fix (class mta-internal): the queue runner lost. */
#define SENDMAIL_MTA_ERROR                                                                            \
        "^ERROR: persistent queue runner=[0-9]+ restarted too many times|"                            \
        "^persistent queue runner control process: lost all children|"                                \
        "Skipping queue run -- fork\\(\\) failed"

static const CauseRule sendmail_cause_rules[] = {
        /* "Connection timed out during client greeting with HOST" (sm_errstring(): the SMTP phase) */
        { CAUSE_PROTOCOL_TIMEOUT, "timed out during |timeout waiting for input from" },
        { CAUSE_TLS_FAILURE,      "STARTTLS|TLS handshake|tls_[a-z]+ failed" },
        /* "Deferred: Name server: relay.example.: host name lookup failure" (TRY_AGAIN) */
        { CAUSE_DNS_FAILURE,      "Name server: ([^ :]+):? host name lookup failure" },
        { CAUSE_DNS_FAILURE,      "host name lookup failure|Name server timeout|Host unknown \\(Name server" },
        /* the peer answered: an SMTP reply, a protocol error */
        { CAUSE_DEFERRED_REMOTE,  "stat=Deferred: [0-9]{3}[ -]|Remote protocol error|"
                                  "stat=Deferred: ([^ ]+: )?Connection reset by" },
        { CAUSE_LOCAL_RESOURCE,   "No space left on device|Permission denied|Cannot allocate memory|"
                                  "Too many open files|Insufficient permission" },
        { CAUSE_MTA_INTERNAL,     "stat=Internal error|stat=Operating system error|stat=Deferred: Operating system error" },
        { CAUSE_CONNECT_FAILURE,  SM_CONNECT_ERROR },
        {},
};

/* The length of a queue id at S followed by ": ", or 0. */
static size_t sendmail_id_length(const char *s) {
        size_t n = 0;

        while (isalnum((unsigned char) s[n]))
                n++;
        return n >= 8 && n <= 20 && s[n] == ':' && s[n + 1] == ' ' ? n : 0;
}

/* Overwrites the value at S (after "to=" and the like) up to ", " outside
 * angle brackets and quotes, or the end; returns where it stopped. */
static char *wipe_value(char *s) {
        bool quoted = false;
        int angle = 0;

        for (; *s; s++) {
                if (quoted && *s == '\\' && s[1]) {
                        *s++ = 'x';
                } else if (*s == '"')
                        quoted = !quoted;
                else if (!quoted && *s == '<')
                        angle++;
                else if (!quoted && *s == '>' && angle > 0)
                        angle--;
                else if (!quoted && angle == 0 && s[0] == ',' && s[1] == ' ')
                        break;
                *s = 'x';
        }
        return s;
}

void sendmail_log_own_text(char *line) {
        static const char *const addresses[] = { "to=", "ctladdr=", "orcpt=", "from=", "msgid=" };
        static const char *const quoting[] = { ", reply=", ", stat=Sent (" };
        size_t id = sendmail_id_length(line);
        char *s, *cut = NULL;

        if (id > 0) {
                s = line + id + 2;
                /* an arrival ("from=<...>, size=..."): the sender's words */
                if (strncmp(s, "from=", 5) == 0) {
                        line[0] = '\0';
                        return;
                }
                /* the addresses are fields at the start and after ", " */
                for (char *f = s; f && *f;) {
                        for (size_t i = 0; i < ELEMENTSOF(addresses); i++) {
                                size_t k = strlen(addresses[i]);

                                if (strncmp(f, addresses[i], k) == 0) {
                                        f = wipe_value(f + k);
                                        break;
                                }
                        }
                        f = strstr(f, ", ");
                        if (f)
                                f += 2;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(quoting); i++) {
                char *q = strstr(line, quoting[i]);

                if (q && (!cut || q + strlen(quoting[i]) < cut))
                        cut = q + strlen(quoting[i]);
        }
        /* "stat=Deferred: 421 4.3.0 text": the code stays, the server's text goes */
        s = strstr(line, ", stat=Deferred: ");
        if (s && isdigit((unsigned char) s[17]) && isdigit((unsigned char) s[18]) && isdigit((unsigned char) s[19]) &&
            (s[20] == ' ' || s[20] == '-')) {
                char *q = s + 21;  /* the code and the blank after it */

                if (!cut || q < cut)
                        cut = q;
        }
        if (cut)
                *cut = '\0';
}

const ActivityRules sendmail_activity_rules = {
        .activity = SENDMAIL_ACTIVITY,
        .error = SENDMAIL_ERROR,
        .skip = SENDMAIL_SKIP,
        .identifiers = sendmail_syslog_identifiers,
        .peer = SENDMAIL_PEER,
        .causes = sendmail_cause_rules,
        .error_cause = CAUSE_CONNECT_FAILURE,
        .mta_log = SENDMAIL_MTA_LOG,
        .mta_error = SENDMAIL_MTA_ERROR,
        .own_text = sendmail_log_own_text,
};
