/* SPDX-License-Identifier: MIT */
/* Exim 4's main log as delivery activity: the rules of [mta] type = exim
 * (probes/activity.h), read from /var/log/exim4/mainlog by the log file
 * follower (probes/logfile.c) or from the journal when Exim logs to syslog.
 *
 * The lines, as Exim 4.96 writes them (spec chapter "Log files"; the
 * sources named with each rule below), after exim_log_own_text():
 *
 *   "ID => a@b R=smarthost T=remote_smtp_smarthost H=relay [ADDR] ... C=..."   sent
 *   "ID -> c@b ..."                     sent (another address of the same delivery)
 *   "ID ** a@b R=... : SMTP error from remote mail server ..."                bounced
 *   "ID Completed"                      the message left the queue (deliver.c)
 *   "ID H=relay [ADDR] Connection refused"     one host's failure (transports/smtp.c
 *   "ID H=relay [ADDR]: SMTP timeout after EHLO x: Connection timed out"   write_logs())
 *   "ID == a@b R=r T=t defer (-44) H=mx [ADDR]: SMTP error from remote mail server ..."
 *                                       deferred (deliver.c deferral_log())
 *   "ID == a@b R=r T=t defer (-54): retry time not reached for any host for 'b'"
 *                                       Exim waiting out its retry rules: nothing
 *   "Start queue run: pid=123"          a queue runner began (queue.c)
 *
 * Every host Exim tries and fails has its own "H=" line; the address's "=="
 * line then repeats the last error. When that error is a failed connect
 * ("defer (111): Connection refused", no H=), the "==" line counts as
 * nothing: it names no host, and counted as a deferral it would pass for a
 * sign of life (README "How it decides"). Other "==" lines of a transport
 * count as deferred (a greeting timeout or a 4xx after MAIL or DATA thus
 * counts twice, once per line; both are failures a restart cannot fix).
 * The errno in "defer (N)" says what kind of deferral it is (src/macros.h
 * ERRNO_*): -52 ERRNO_RRETRY, -53 ERRNO_LRETRY and -54 ERRNO_HRETRY are
 * "retry time not reached" (-55 to -58: local-only, queue_domains,
 * transport concurrency limit, event), all below ERRNO_RETRY_BASE = -52:
 * nothing was attempted. A router's deferral without a transport counts
 * only when a host name did not resolve (the smarthost's name is a peer);
 * "R=alias defer (-1): forced to defer", first-pass routing (-odqs) and the
 * like are no attempt.
 *
 * Message ids: 6-6-2 characters (Exim up to 4.96), 6-11-4 (4.97 on). */

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "exim-log.h"
#include "macros.h"

const char *const exim_syslog_identifiers[] = { "exim", "exim4", NULL };

#define EXIM_ID "[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"
#define EXIM_HOST "([^ ()]+ \\[[^]]+\\])"
#define EXIM_CONNECT_ERRNO "Connection refused|Connection timed out|No route to host|Network is unreachable|" \
                           "Connection reset by peer"

/* The outcome in the first group: "=>", "->", "**", "==", "Completed",
 * "Start queue run" (probes/activity.c outcome_kind()). The address is
 * overwritten with 'x' by then; "Q=name" follows it with named queues.
 * At most ACTIVITY_GROUPS_MAX (10) groups in all: only those are looked at. */
#define EXIM_DEFER_ROUTER "^" EXIM_ID " (==) [^ ]+ [^:]*R=[^ ]+ defer \\(-?[0-9]+\\): "
#define EXIM_ACTIVITY                                                                                   \
        "^" EXIM_ID " (=>|->|\\*\\*) |"                                                                 \
        "^" EXIM_ID " (==) [^ ]+ [^:]*T=[^ ]+ defer \\(|"                                                \
        EXIM_DEFER_ROUTER "host lookup [^:]*did not complete|"                                         \
        EXIM_DEFER_ROUTER "lookup of host |"                                                           \
        EXIM_DEFER_ROUTER "all relevant MX records point to non-existent hosts|"                       \
        "^" EXIM_ID " (Completed)( |$)|"                                                                \
        "^(Start queue run): "

/* One host's failure (transports/smtp.c write_logs(): "H=%s [%s]" with
 * ":%d" under +outgoing_port, then " <strerror>" or ": <message>"); the
 * peer in the first group. Only the outgoing forms: an incoming SMTP
 * line ("H=name (helo) [ADDR] F=<...> rejected ...") never matches. */
#define EXIM_ERROR "^" EXIM_ID " H=" EXIM_HOST "(:[0-9]+)?:? (" EXIM_CONNECT_ERRNO "|SMTP timeout after|" \
                   "SMTP error from remote mail server|Remote host closed connection|Malformed SMTP reply|"  \
                   "smtp send to )"

/* No attempt: retry times not reached and below (ERRNO_RETRY_BASE), the
 * summary of a failed connect, mail explicitly queued. */
#define EXIM_SKIP " defer \\((-5[2-9]|-[6-9][0-9]|-[1-9][0-9][0-9]+)\\)|"                            \
                  " defer \\([0-9]+\\): (" EXIM_CONNECT_ERRNO ")$|"                                      \
                  "first-pass only routing|SMTP delivery explicitly queued"

/* The host of a deferral or bounce: deliver.c d_hostlog() " H=%s [%s]". */
#define EXIM_PEER " H=" EXIM_HOST

/* Exim's own trouble, each at the start of a line (log.c writes panic
 * lines to the main log as well, unless only LOG_PANIC is asked): hints
 * database locks (dbfn.c "Failed to get write lock for %s: timed out"),
 * spool and journal files it cannot handle (deliver.c, spool_in.c), its
 * transport processes dying (deliver.c "%s transport process returned
 * non-zero status 0x%04x: ..."), configuration errors (readconf.c), a
 * router whose MX points back at this host (routers/rf_self_action.c:
 * "ID lowest numbered MX record points to local host: DOMAIN", then the
 * address's "==" line with the same words). */
#define EXIM_MTA_LOG                                                                                   \
        "^(" EXIM_ID " )?(Exim configuration error|Failed to get (write|read) lock for |"                \
        "Failed to open |failed to open |Couldn't (open|fdopen|create|read|set perms on) |"               \
        "failed to (write|fsync|unlink|move|read|update|expand|reopen) |Failed to expand |"               \
        "Failed writing transport results|Format error in spool file|Error reading spool file|"          \
        "[^ ]+ transport process (returned non-zero status|vanished unexpectedly)|"                      \
        "Process [0-9]+ (\\(parent [0-9]+\\) failed|finished: not found)|[Ff]ork failed|"                \
        "internal error|socket bind\\(\\) to port|Error in system filter|"                               \
        "lowest numbered MX record points to local host|remote host address is the local host|"          \
        "== [^ ]+ (Q=[^ ]+ )?R=[^ ]+ defer \\(-?[0-9]+\\): lowest numbered MX record points to local host)"
/* ... those a restart may fix (class mta-internal, once): its delivery
 * processes failing, a configuration Debian's start rebuilds
 * (update-exim4.conf runs in /etc/init.d/exim4 start). A held hints lock
 * or an MX pointing here is not one: a restart kills neither queue runners
 * nor deliveries, and does not change DNS. */
#define EXIM_MTA_ERROR                                                                                 \
        "^(" EXIM_ID " )?(Exim configuration error|[^ ]+ transport process (returned non-zero status|"   \
        "vanished unexpectedly)|Failed writing transport results|[Ff]ork failed|"                        \
        "Process [0-9]+ \\(parent [0-9]+\\) failed)"

/* Cause classes of failed lines, tried in order (the peer from EXIM_PEER,
 * else from a rule's group: a rule without a peer has no group). Texts: transports/smtp.c check_response(),
 * smtp_setup_conn(); routers/rf_lookup_hostlist.c, routers/dnslookup.c;
 * the errnos of src/macros.h. */
static const CauseRule exim_cause_rules[] = {
        /* "SMTP timeout after initial connection|EHLO x|MAIL FROM:<...>|end of data"
         * (the peer answered the connect, then went silent) */
        { CAUSE_PROTOCOL_TIMEOUT, "SMTP timeout after" },
        /* ERRNO_TLSFAILURE (-37) "TLS session: (gnutls_handshake): ...",
         * ERRNO_TLSREQUIRED (-38) */
        { CAUSE_TLS_FAILURE,      "defer \\(-3[78]\\)|TLS session: |TLS error|TLS session is required" },
        /* the smarthost's name (manualroute): "host lookup for relay.example
         * did not complete (DNS timeout?)" (ERRNO_DNSDEFER, -36);
         * "lookup of host \"relay.example\" failed in smarthost router" (-32) */
        { CAUSE_DNS_FAILURE,      "host lookup for ([^ ]+) did not complete" },
        { CAUSE_DNS_FAILURE,      "lookup of host \"([^\"]+)\" failed" },
        { CAUSE_DNS_FAILURE,      "host lookup did not complete|all relevant MX records point to non-existent hosts|"
                                  "defer \\(-3[26]\\)" },
        /* the peer answered: a 4xx, a malformed reply, a dropped line */
        { CAUSE_DEFERRED_REMOTE,  "SMTP error from remote mail server|Remote host closed connection|"
                                  "Malformed SMTP reply|smtp send to " },
        { CAUSE_LOCAL_RESOURCE,   "No space left on device|Permission denied|mailbox is full|defer \\(-22\\)|"
                                  "Cannot allocate memory|Too many open files" },
        /* ERRNO_EXPANDFAIL (-27), ERRNO_GIDFAIL, ERRNO_UIDFAIL, ERRNO_BADTRANSPORT (-30) */
        { CAUSE_MTA_INTERNAL,     "defer \\(-2[789]\\)|defer \\(-30\\)" },
        { CAUSE_CONNECT_FAILURE,  EXIM_CONNECT_ERRNO },
        {},
};

/* The length of a message id at S followed by a blank or the end, or 0. */
static size_t exim_id_length(const char *s) {
        static const struct { size_t min, max; } part[] = { { 6, 6 }, { 6, 11 }, { 2, 4 } };
        const char *p = s;

        for (size_t i = 0; i < ELEMENTSOF(part); i++) {
                size_t n = 0;

                while (isalnum((unsigned char) p[n]))
                        n++;
                if (n < part[i].min || n > part[i].max)
                        return 0;
                p += n;
                if (i < ELEMENTSOF(part) - 1) {
                        if (*p != '-')
                                return 0;
                        p++;
                }
        }
        return *p == ' ' || *p == '\0' ? (size_t) (p - s) : 0;
}

/* The length of DIGITS at S (at least MIN, at most MAX), or 0. */
static size_t digits(const char *s, size_t min, size_t max) {
        size_t n = 0;

        while (n < max && isdigit((unsigned char) s[n]))
                n++;
        return n >= min && !isdigit((unsigned char) s[n]) ? n : 0;
}

/* The length of the time stamp log.c writes (tod_stamp(tod_log):
 * "YYYY-MM-DD HH:MM:SS", ".ddd" with +millisec, " +hhmm" with
 * log_timezone) and the blank after it, or 0. */
static size_t exim_stamp_length(const char *s) {
        static const char shape[] = "dddd-dd-dd dd:dd:dd";
        size_t n;

        for (n = 0; shape[n]; n++)
                if (shape[n] == 'd' ? !isdigit((unsigned char) s[n]) : s[n] != shape[n])
                        return 0;
        if (s[n] == '.' && digits(s + n + 1, 3, 3))
                n += 4;
        if (s[n] == ' ' && (s[n + 1] == '+' || s[n + 1] == '-') && digits(s + n + 2, 4, 4))
                n += 6;
        return s[n] == ' ' ? n + 1 : 0;
}

/* Overwrites the quoted-string-aware run at S up to the first unquoted
 * character of STOP (not included) or the end; returns where it stopped. */
static char *wipe_until(char *s, const char *stop) {
        bool quoted = false;

        for (; *s; s++) {
                if (quoted && *s == '\\' && s[1]) {
                        *s++ = 'x';
                } else if (*s == '"')
                        quoted = !quoted;
                else if (!quoted && strchr(stop, *s))
                        break;
                *s = 'x';
        }
        return s;
}

/* Overwrites the address of a flag line at S (deliver.c
 * string_log_address(): the address, " <parent>" ...) up to the first
 * field Exim adds: " R=", " T=", " H=", " Q=", " F=<", " P=<",
 * " defer (", " routing defer", ": ". Blanks inside quotes do not end it. */
static void wipe_address(char *s) {
        static const char *const fields[] = {
                " R=", " T=", " H=", " Q=", " F=<", " P=<", " defer (", " routing defer", ": ",
        };
        bool quoted = false, angle = false;

        for (; *s; s++) {
                if (quoted && *s == '\\' && s[1]) {
                        *s++ = 'x';
                        *s = 'x';
                        continue;
                }
                if (*s == '"')
                        quoted = !quoted;
                else if (!quoted && *s == '<')
                        angle = true;
                else if (!quoted && *s == '>')
                        angle = false;
                else if (!quoted && !angle)
                        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                                if (strncmp(s, fields[i], strlen(fields[i])) == 0)
                                        return;
                *s = 'x';
        }
}

void exim_log_own_text(char *line) {
        static const char *const flags[] = { "=> ", "-> ", "** ", "== ", ">> ", "*> " };
        /* What a remote server said follows these (transports/smtp.c); the
         * marker stays, the rest goes. */
        static const char *const quoting[] = {
                "SMTP error from remote mail server", "Remote host closed connection in response to",
                "Malformed SMTP reply", " C=", " DN=",
        };
        char *s = line, *cut = NULL;
        size_t n, id;

        /* syslog: "[n/m] " or "[n\m] " (log.c write_syslog()) */
        if (s[0] == '[' && (n = digits(s + 1, 1, 4)) > 0 && (s[1 + n] == '/' || s[1 + n] == '\\')) {
                size_t k = digits(s + 2 + n, 1, 4);

                if (k > 0 && s[2 + n + k] == ']' && s[3 + n + k] == ' ') {
                        if (!(n == 1 && s[1] == '1')) {
                                line[0] = '\0';
                                return;
                        }
                        s += 4 + n + k;
                }
        }
        s += exim_stamp_length(s);
        /* +pid: "[123] " */
        if (s[0] == '[' && (n = digits(s + 1, 1, 10)) > 0 && s[1 + n] == ']' && s[2 + n] == ' ')
                s += 3 + n;
        if (*s == ' ' || *s == '\t') {
                line[0] = '\0';
                return;
        }
        memmove(line, s, strlen(s) + 1);

        id = exim_id_length(line);
        if (id > 0 && line[id] == ' ') {
                s = line + id + 1;
                if (strncmp(s, "<= ", 3) == 0) {
                        line[0] = '\0';
                        return;
                }
                for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                        if (strncmp(s, flags[i], 3) == 0) {
                                wipe_address(s + 3);
                                break;
                        }
        }
        /* the sender (+sender_on_delivery) and the return path */
        for (size_t i = 0; i < 2; i++) {
                const char *f = i == 0 ? " F=<" : " P=<";

                for (s = strstr(line, f); s && *s; s = strstr(s, f))
                        s = wipe_until(s + strlen(f), ">");
        }

        for (size_t i = 0; i < ELEMENTSOF(quoting); i++) {
                char *q = strstr(line, quoting[i]);

                if (q && (!cut || q + strlen(quoting[i]) < cut))
                        cut = q + strlen(quoting[i]);
        }
        if (cut)
                *cut = '\0';
}

const ActivityRules exim_activity_rules = {
        .activity = EXIM_ACTIVITY,
        .error = EXIM_ERROR,
        .skip = EXIM_SKIP,
        .identifiers = exim_syslog_identifiers,
        .peer = EXIM_PEER,
        .causes = exim_cause_rules,
        .error_cause = CAUSE_CONNECT_FAILURE,
        .mta_log = EXIM_MTA_LOG,
        .mta_error = EXIM_MTA_ERROR,
        .own_text = exim_log_own_text,
};
