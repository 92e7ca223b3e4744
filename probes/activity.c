/* SPDX-License-Identifier: MIT */
/* Classification of MTA log messages into delivery attempts and connection
 * errors (see activity.h).
 *
 * Postfix (smtp(8), lmtp(8), qmgr(8) logging; MESSAGE as journald stores
 * it, without the "postfix/smtp[PID]: " syslog prefix):
 *   "QUEUEID: to=<a@b>, relay=HOST[ADDR]:25, ..., status=sent (250 ...)"
 *   "QUEUEID: to=<a@b>, relay=none, ..., status=deferred (connect to HOST[ADDR]:25: Connection timed out)"
 *   "connect to HOST[ADDR]:25: Connection refused"   (smtp, before it tries the next MX)
 *   "QUEUEID: to=<a@b>, ..., status=deferred (delivery temporarily suspended: connect to ...)"
 *                                                    (qmgr's dead-destination cache: no attempt)
 *   "QUEUEID: from=<a@b>, status=expired, returned to sender"
 * Every "connect to HOST[ADDR]:PORT: REASON" is a connection error, also
 * inside a status=deferred line, because error_pattern is tried first.
 * "host HOST[ADDR] said: 450 ...", "host HOST[ADDR] refused to talk to me",
 * "lost connection with HOST[ADDR] while ..." and "conversation with
 * HOST[ADDR] timed out while ..." inside status=deferred are deferred
 * attempts: the TCP connection was made, so the network and the MTA both
 * worked and the remote side answered (or vanished after answering); that
 * is progress. The same "lost connection"/"conversation" texts on their own
 * line (smtp moving on to the next MX) are not counted: the status= line
 * that follows counts the attempt once per recipient.
 * "connect from HOST[ADDR]" and "lost connection after CMD from HOST[ADDR]"
 * are smtpd(8) (incoming) and match neither pattern.
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

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "activity.h"
#include "log.h"
#include "macros.h"

/* Delivery lines start with the queue id: "ID: to=<...>, relay=..., ...,
 * status=sent (...)"; qmgr's expiry is "ID: from=<...>, status=expired". */
#define POSTFIX_ACTIVITY "^[0-9A-Za-z]+: to=<.*, status=(sent|deferred|bounced|expired)([ ,]|$)|" \
                         "^[0-9A-Za-z]+: from=<.*, status=(expired)([ ,]|$)"
/* "connect to HOST[ADDR]:PORT: reason" on its own line or as the reason of
 * a deferral (also from qmgr's dead-destination cache: "delivery
 * temporarily suspended: connect to ..."), and a name that does not
 * resolve: "Name service error for name=HOST type=A". Anchored to the
 * start of delivery lines, so that most text quoted from elsewhere cannot
 * match; short enough for one ini line (--check-config prints it). */
#define POSTFIX_PEER     "([^][ ]+\\[[^]]+\\]):"
#define POSTFIX_ERROR    "^connect to " POSTFIX_PEER "|"                                      \
                         "^[^ ]+: to=<.*, status=deferred \\([^(]*connect to " POSTFIX_PEER "|" \
                         "^[^ ]+: to=<.*Name service error for name=([^ ]+) type="
/* Deferrals that attempted nothing: the dead-destination cache of qmgr(8),
 * a transport that is not there. */
#define POSTFIX_SKIP     "status=deferred \\((delivery temporarily suspended: |unknown mail transport error|mail transport unavailable)"

static const char *const postfix_identifiers[] = {
        "smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard", "qmgr", NULL
};
static const char *const exim_identifiers[] = { "exim", "exim4", NULL };

#define EXIM_ID "[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"
#define EXIM_ACTIVITY                                           \
        EXIM_ID " (=>|->|\\*\\*) |"                             \
        EXIM_ID " (==) [^ ]+ .*defer \\([-0-9]+\\) H=[^ ]+ \\["
#define EXIM_ERROR                                              \
        EXIM_ID " H=([^ ]+ \\[[^]]+\\])(:[0-9]+)? "             \
        "(Connection refused|Connection timed out|No route to host|Network is unreachable)"

/* Capture groups examined per match; patterns with more still compile,
 * but only the first ones can name the outcome or the peer. */
#define ACTIVITY_GROUPS_MAX 10

static const struct {
        const char *mta_type;
        const char *activity;
        const char *error;
        const char *skip;
        const char *const *identifiers;
} builtin_patterns[] = {
        { "postfix", POSTFIX_ACTIVITY, POSTFIX_ERROR, POSTFIX_SKIP, postfix_identifiers },
        { "exim",    EXIM_ACTIVITY,    EXIM_ERROR,    NULL,         exim_identifiers    },
};

static ssize_t builtin_index(const char *mta_type) {
        for (size_t i = 0; mta_type && i < ELEMENTSOF(builtin_patterns); i++)
                if (strcmp(builtin_patterns[i].mta_type, mta_type) == 0)
                        return (ssize_t) i;
        return -1;
}

bool activity_identifier_relevant(const ActivityPatterns *p, const char *identifier) {
        const char *prog;

        if (!p->identifiers)
                return true;
        if (!identifier)
                return false;
        /* Postfix: "postfix/smtp", or "NAME/smtp" with another syslog_name. */
        prog = strrchr(identifier, '/');
        prog = prog ? prog + 1 : identifier;
        for (const char *const *i = p->identifiers; *i; i++)
                if (strcmp(*i, prog) == 0)
                        return true;
        return false;
}

const char *activity_default_pattern(const char *mta_type) {
        ssize_t b = builtin_index(mta_type);
        return b >= 0 ? builtin_patterns[b].activity : NULL;
}

const char *activity_default_error_pattern(const char *mta_type) {
        ssize_t b = builtin_index(mta_type);
        return b >= 0 ? builtin_patterns[b].error : NULL;
}

/* Compiles PATTERN into RE. On error writes "WHAT pattern: reason" to ERR
 * and returns -EINVAL (RE is then not compiled) or -ENOMEM. */
static int compile_one(regex_t *re, const char *what, const char *pattern, char *err, size_t err_size) {
        char msg[256];
        int k;

        if (!pattern) {
                (void) snprintf(err, err_size, "%s pattern: none given and no built-in one", what);
                return -EINVAL;
        }
        k = regcomp(re, pattern, REG_EXTENDED);
        if (k == REG_ESPACE)
                return -ENOMEM;
        if (k != 0) {
                (void) regerror(k, re, msg, sizeof(msg));
                (void) snprintf(err, err_size, "%s pattern \"%s\": %s", what, pattern, msg);
                return -EINVAL;
        }
        if (re->re_nsub == 0) {
                regfree(re);
                (void) snprintf(err, err_size, "%s pattern \"%s\": needs a capture group", what, pattern);
                return -EINVAL;
        }
        return 0;
}

static char **strv_free(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
        return NULL;
}

int activity_patterns_init(ActivityPatterns *p, const char *mta_type, const char *activity_pattern,
                           const char *error_pattern, const char *const *probed_hosts,
                           char *err, size_t err_size) {
        char dummy[1];
        size_t n = 0;
        int r;

        if (!err || err_size == 0) {
                err = dummy;
                err_size = sizeof(dummy);
        }
        err[0] = 0;
        *p = (ActivityPatterns) {};

        for (const char *const *h = probed_hosts; h && *h; h++)
                n++;
        p->probed_hosts = calloc(n + 1, sizeof(char *));
        if (!p->probed_hosts)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                p->probed_hosts[i] = strdup(probed_hosts[i]);
                if (!p->probed_hosts[i]) {
                        p->probed_hosts = strv_free(p->probed_hosts);
                        return -ENOMEM;
                }
        }

        r = compile_one(&p->activity, "activity",
                        activity_pattern ? activity_pattern : activity_default_pattern(mta_type), err, err_size);
        if (r < 0) {
                p->probed_hosts = strv_free(p->probed_hosts);
                return r;
        }
        r = compile_one(&p->error, "error",
                        error_pattern ? error_pattern : activity_default_error_pattern(mta_type), err, err_size);
        if (r < 0) {
                regfree(&p->activity);
                p->probed_hosts = strv_free(p->probed_hosts);
                return r;
        }

        ssize_t b = builtin_index(mta_type);
        if (b >= 0) {
                p->identifiers = builtin_patterns[b].identifiers;
                if (builtin_patterns[b].skip) {
                        r = compile_one(&p->skip, "skip", builtin_patterns[b].skip, err, err_size);
                        if (r < 0) {
                                regfree(&p->activity);
                                regfree(&p->error);
                                p->probed_hosts = strv_free(p->probed_hosts);
                                return r;
                        }
                        p->have_skip = true;
                }
        }
        return 0;
}

void activity_patterns_done(ActivityPatterns *p) {
        if (!p || !p->probed_hosts)
                return;  /* never initialised, or done already */
        regfree(&p->activity);
        regfree(&p->error);
        if (p->have_skip)
                regfree(&p->skip);
        p->have_skip = false;
        p->probed_hosts = strv_free(p->probed_hosts);
}

/* The first capture group that took part in the match, or false. */
static bool first_group(const regex_t *re, const char *message, const char **ret, size_t *ret_len) {
        regmatch_t m[ACTIVITY_GROUPS_MAX + 1];
        size_t n = re->re_nsub < ACTIVITY_GROUPS_MAX ? re->re_nsub : ACTIVITY_GROUPS_MAX;

        if (regexec(re, message, n + 1, m, 0) != 0)
                return false;
        for (size_t i = 1; i <= n; i++)
                if (m[i].rm_so >= 0) {
                        *ret = message + m[i].rm_so;
                        *ret_len = (size_t) (m[i].rm_eo - m[i].rm_so);
                        return true;
                }
        *ret = message;
        *ret_len = 0;
        return true;
}

/* Host names and addresses compare case-insensitively, without a trailing
 * dot and without the brackets of an address literal ("[192.0.2.2]", as in
 * Postfix's relayhost); two IP addresses compare by value, so that
 * "2001:db8::1" equals "2001:DB8:0::1". */
static bool host_equal(const char *a, size_t an, const char *b) {
        size_t bn = strlen(b);
        unsigned char x[sizeof(struct in6_addr)], y[sizeof(struct in6_addr)];
        char sa[INET6_ADDRSTRLEN], sb[INET6_ADDRSTRLEN];

        if (bn >= 2 && b[0] == '[' && b[bn - 1] == ']') {
                b++;
                bn -= 2;
        }
        if (an >= 2 && a[0] == '[' && a[an - 1] == ']') {
                a++;
                an -= 2;
        }
        if (an > 1 && a[an - 1] == '.')
                an--;
        if (bn > 1 && b[bn - 1] == '.')
                bn--;
        if (an == 0 || bn == 0)
                return false;

        if (an < sizeof(sa) && bn < sizeof(sb)) {
                memcpy(sa, a, an);
                sa[an] = 0;
                memcpy(sb, b, bn);
                sb[bn] = 0;
                if (inet_pton(AF_INET6, sa, x) == 1 && inet_pton(AF_INET6, sb, y) == 1)
                        return memcmp(x, y, sizeof(struct in6_addr)) == 0;
                if (inet_pton(AF_INET, sa, x) == 1 && inet_pton(AF_INET, sb, y) == 1)
                        return memcmp(x, y, sizeof(struct in_addr)) == 0;
        }
        return an == bn && strncasecmp(a, b, an) == 0;
}

/* PEER is "NAME[ADDR]" (Postfix), "NAME [ADDR]" (Exim) or a bare name. */
static bool peer_is_probed(const ActivityPatterns *p, const char *peer, size_t n) {
        const char *open = memchr(peer, '[', n);
        const char *name = peer, *addr = NULL;
        size_t name_len = n, addr_len = 0;

        if (open) {
                const char *close = memchr(open, ']', (size_t) (peer + n - open));

                name_len = (size_t) (open - peer);
                while (name_len > 0 && name[name_len - 1] == ' ')
                        name_len--;
                addr = open + 1;
                addr_len = close ? (size_t) (close - addr) : (size_t) (peer + n - addr);
        }

        for (char **h = p->probed_hosts; h && *h; h++)
                if (host_equal(name, name_len, *h) || (addr && host_equal(addr, addr_len, *h)))
                        return true;
        return false;
}

static ActivityKind outcome_kind(const char *s, size_t n) {
        static const struct {
                const char *word;
                ActivityKind kind;
        } table[] = {
                { "sent",     ACTIVITY_SENT     },
                { "=>",       ACTIVITY_SENT     },
                { "->",       ACTIVITY_SENT     },
                { "deferred", ACTIVITY_DEFERRED },
                { "==",       ACTIVITY_DEFERRED },
                { "bounced",  ACTIVITY_BOUNCED  },
                { "expired",  ACTIVITY_BOUNCED  },
                { "**",       ACTIVITY_BOUNCED  },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strlen(table[i].word) == n && memcmp(table[i].word, s, n) == 0)
                        return table[i].kind;
        return ACTIVITY_NONE;
}

ActivityKind activity_classify(const ActivityPatterns *p, const char *message) {
        const char *g;
        size_t n;

        if (!p || !p->probed_hosts || !message)
                return ACTIVITY_NONE;

        if (first_group(&p->error, message, &g, &n))
                return peer_is_probed(p, g, n) ? ACTIVITY_CONN_ERROR_PROBED : ACTIVITY_CONN_ERROR;
        if (p->have_skip && regexec(&p->skip, message, 0, NULL, 0) == 0)
                return ACTIVITY_NONE;
        if (first_group(&p->activity, message, &g, &n))
                return outcome_kind(g, n);
        return ACTIVITY_NONE;
}

void activity_count(ActivityCounts *counts, ActivityKind kind) {
        switch (kind) {
        case ACTIVITY_SENT:
                counts->sent++;
                break;
        case ACTIVITY_DEFERRED:
                counts->deferred++;
                break;
        case ACTIVITY_BOUNCED:
                counts->bounced++;
                break;
        case ACTIVITY_CONN_ERROR:
                counts->conn_errors++;
                break;
        case ACTIVITY_CONN_ERROR_PROBED:
                counts->conn_errors_probed++;
                break;
        default:
                break;
        }
}
