/* SPDX-License-Identifier: MIT */
/* Classification of MTA log messages into delivery attempts and connection
 * errors (see activity.h).
 *
 * The built-in rules of each MTA live in its probe file (probes/postfix.c,
 * probes/exim.c) as an ActivityRules, named by its profile (probes/mta.h). */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "activity.h"
#include "log.h"
#include "macros.h"
#include "strv.h"

/* Capture groups examined per match; patterns with more still compile,
 * but only the first ones can name the outcome or the peer. */
#define ACTIVITY_GROUPS_MAX 10

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

int activity_patterns_init(ActivityPatterns *p, const ActivityRules *rules, const char *activity_pattern,
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
                        activity_pattern ? activity_pattern : rules ? rules->activity : NULL, err, err_size);
        if (r < 0) {
                p->probed_hosts = strv_free(p->probed_hosts);
                return r;
        }
        r = compile_one(&p->error, "error",
                        error_pattern ? error_pattern : rules ? rules->error : NULL, err, err_size);
        if (r < 0) {
                regfree(&p->activity);
                p->probed_hosts = strv_free(p->probed_hosts);
                return r;
        }

        if (rules) {
                p->identifiers = rules->identifiers;
                if (rules->skip) {
                        r = compile_one(&p->skip, "skip", rules->skip, err, err_size);
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
