/* SPDX-License-Identifier: MIT */
/* Classification of MTA log messages into delivery attempts and connection
 * errors (see activity.h).
 *
 * The built-in rules of each MTA live in its probe file (probes/postfix.c,
 * probes/exim-log.c) as an ActivityRules, named by its profile (probes/mta.h). */

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

/* Compiles PATTERN, which needs no capture group. */
static int compile_plain(regex_t *re, const char *what, const char *pattern, char *err, size_t err_size) {
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
        return 0;
}

/* Compiles PATTERN into RE; it needs a capture group. On error writes
 * "WHAT pattern: reason" to ERR and returns -EINVAL (RE is then not
 * compiled) or -ENOMEM. */
static int compile_one(regex_t *re, const char *what, const char *pattern, char *err, size_t err_size) {
        int r = compile_plain(re, what, pattern, err, err_size);

        if (r < 0)
                return r;
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
        int r;

        if (!err || err_size == 0) {
                err = dummy;
                err_size = sizeof(dummy);
        }
        err[0] = 0;
        *p = (ActivityPatterns) { .error_cause = CAUSE_CONNECT_FAILURE };

        r = strv_copy(probed_hosts, &p->probed_hosts);
        if (r >= 0)
                r = strv_copy(NULL, &p->probed_names);
        if (r < 0)
                goto fail;

        /* Words per outcome can stand in for the activity pattern. */
        if (activity_pattern || !rules || rules->activity || !rules->delivered) {
                r = compile_one(&p->activity, "activity",
                                activity_pattern ? activity_pattern : rules ? rules->activity : NULL, err, err_size);
                if (r < 0)
                        goto fail;
                p->have_activity = true;
        }
        if (error_pattern || !rules || rules->error || !rules->delivered) {
                r = compile_one(&p->error, "error",
                                error_pattern ? error_pattern : rules ? rules->error : NULL, err, err_size);
                if (r < 0)
                        goto fail;
                p->have_error = true;
        }

        if (!rules)
                return 0;
        p->identifiers = rules->identifiers;
        p->mta_log_identifiers = rules->mta_log_identifiers;
        p->own_text = rules->own_text;
        if (rules->error_cause != CAUSE_NONE)
                p->error_cause = rules->error_cause;
        p->failed_cause = rules->failed_cause;
        const struct {
                regex_t *re;
                bool *have;
                const char *what, *pattern;
                bool group;             /* needs a capture group */
        } optional[] = {
                { &p->skip,      &p->have_skip,      "skip",      rules->skip,      false },
                { &p->peer,      &p->have_peer,      "peer",      rules->peer,      true  },
                { &p->mta_log,   &p->have_mta_log,   "mta_log",   rules->mta_log,   false },
                { &p->mta_error, &p->have_mta_error, "mta_error", rules->mta_error, false },
                { &p->delivered, &p->have_delivered, "delivered", rules->delivered, false },
                { &p->failed,    &p->have_failed,    "failed",    rules->failed,    false },
                { &p->started,   &p->have_started,   "started",   rules->started,   false },
        };
        for (size_t i = 0; i < ELEMENTSOF(optional); i++) {
                if (!optional[i].pattern)
                        continue;
                r = (optional[i].group ? compile_one : compile_plain)(optional[i].re, optional[i].what,
                                                                      optional[i].pattern, err, err_size);
                if (r < 0)
                        goto fail;
                *optional[i].have = true;
        }
        for (const CauseRule *c = rules->causes; c && c->pattern; c++) {
                if (p->n_causes >= ACTIVITY_CAUSE_RULES_MAX) {
                        (void) snprintf(err, err_size, "more than %d cause rules", ACTIVITY_CAUSE_RULES_MAX);
                        r = -EINVAL;
                        goto fail;
                }
                r = compile_plain(&p->causes[p->n_causes], failure_cause_to_string(c->cause) ?: "cause",
                                  c->pattern, err, err_size);
                if (r < 0)
                        goto fail;
                p->cause_of[p->n_causes++] = c->cause;
        }
        return 0;

fail:
        activity_patterns_done(p);
        return r;
}

void activity_patterns_done(ActivityPatterns *p) {
        if (!p)
                return;
        if (p->have_activity)
                regfree(&p->activity);
        if (p->have_error)
                regfree(&p->error);
        if (p->have_skip)
                regfree(&p->skip);
        if (p->have_peer)
                regfree(&p->peer);
        if (p->have_mta_log)
                regfree(&p->mta_log);
        if (p->have_mta_error)
                regfree(&p->mta_error);
        if (p->have_delivered)
                regfree(&p->delivered);
        if (p->have_failed)
                regfree(&p->failed);
        if (p->have_started)
                regfree(&p->started);
        for (size_t i = 0; i < p->n_causes; i++)
                regfree(&p->causes[i]);
        p->probed_hosts = strv_free(p->probed_hosts);
        p->probed_names = strv_free(p->probed_names);
        *p = (ActivityPatterns) {};
}

int activity_patterns_add_probed_name(ActivityPatterns *p, const char *name) {
        if (!p->probed_names)
                return 0;
        for (char **n = p->probed_names; *n; n++)
                if (strcasecmp(*n, name) == 0)
                        return 0;
        return strv_push(&p->probed_names, strdup(name));
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

/* PEER is "NAME[ADDR]" (Postfix), "NAME [ADDR]" (Exim) or a bare name;
 * a bare name also counts when it is one of the probed names. */
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
        if (!addr)
                for (char **h = p->probed_names; h && *h; h++)
                        if (host_equal(name, name_len, *h))
                                return true;
        return false;
}

bool activity_address_probed(const ActivityPatterns *p, const char *address) {
        unsigned char x[sizeof(struct in6_addr)];
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n;

        if (!p || !address)
                return false;
        n = strlen(address);
        if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
                address++;
                n -= 2;
        }
        if (n == 0 || n >= sizeof(buf))
                return false;
        memcpy(buf, address, n);
        buf[n] = 0;
        if (inet_pton(AF_INET6, buf, x) != 1 && inet_pton(AF_INET, buf, x) != 1)
                return false;
        for (char **h = p->probed_hosts; h && *h; h++)
                if (host_equal(buf, n, *h))
                        return true;
        return false;
}

bool activity_identifier_mta_log(const ActivityPatterns *p, const char *identifier) {
        const char *prog;

        if (activity_identifier_relevant(p, identifier))
                return true;
        if (!identifier)
                return false;
        prog = strrchr(identifier, '/');
        prog = prog ? prog + 1 : identifier;
        for (const char *const *i = p->mta_log_identifiers; i && *i; i++)
                if (strcmp(*i, prog) == 0)
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
                { "Completed", ACTIVITY_COMPLETED },
                { "Start queue run", ACTIVITY_QUEUE_RUN },
                /* Sendmail: "stat=Sent", "stat=Deferred", "dsn=5.x.x" (probes/sendmail-log.c) */
                { "Sent",     ACTIVITY_SENT     },
                { "Deferred", ACTIVITY_DEFERRED },
                { "dsn=5",    ACTIVITY_BOUNCED  },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strlen(table[i].word) == n && memcmp(table[i].word, s, n) == 0)
                        return table[i].kind;
        return ACTIVITY_NONE;
}

static void set_peer(ActivityLine *l, const char *g, size_t n) {
        if (n >= sizeof(l->peer))
                n = sizeof(l->peer) - 1;
        memcpy(l->peer, g, n);
        l->peer[n] = 0;
        l->peer_is_name = n > 0 && !memchr(g, '[', n);
}

/* The cause class of a failed line, and its peer when none is known. */
static void classify_cause(const ActivityPatterns *p, const char *message, ActivityLine *l, FailureCause fallback) {
        const char *g;
        size_t n;

        l->cause = fallback;
        for (size_t i = 0; i < p->n_causes; i++) {
                if (!first_group(&p->causes[i], message, &g, &n))
                        continue;
                l->cause = p->cause_of[i];
                if (!l->peer[0] && n > 0)
                        set_peer(l, g, n);
                return;
        }
}

void activity_classify_line(const ActivityPatterns *p, const char *message, ActivityLine *ret) {
        _cleanup_free_ char *own = NULL;
        const char *g;
        size_t n;

        *ret = (ActivityLine) { .kind = ACTIVITY_NONE, .cause = CAUSE_NONE };
        if (!p || !p->probed_hosts || !message)
                return;
        if (p->own_text) {
                own = strdup(message);
                if (!own)
                        return;  /* out of memory: one line undercounted */
                p->own_text(own);
                message = own;
        }

        if (p->have_error && first_group(&p->error, message, &g, &n)) {
                const char *o;
                size_t on;

                ret->kind = peer_is_probed(p, g, n) ? ACTIVITY_CONN_ERROR_PROBED : ACTIVITY_CONN_ERROR;
                set_peer(ret, g, n);
                classify_cause(p, message, ret, p->error_cause);
                /* A bounce is final whatever its reason (Postfix bounces a
                 * name that does not exist: "status=bounced (Host or domain
                 * name not found. Name service error ...)"). */
                if (p->have_activity && first_group(&p->activity, message, &o, &on) &&
                    outcome_kind(o, on) == ACTIVITY_BOUNCED) {
                        ret->kind = ACTIVITY_BOUNCED;
                        return;
                }
                /* a probed peer that the MTA cannot reach or resolve; a
                 * line that a rule gives another class (the peer answered)
                 * is no such failure, whatever error_pattern matched */
                ret->fixable = ret->cause == CAUSE_MTA_INTERNAL ||
                               (ret->kind == ACTIVITY_CONN_ERROR_PROBED &&
                                (ret->cause == CAUSE_CONNECT_FAILURE || ret->cause == CAUSE_DNS_FAILURE));
                return;
        }
        if (p->have_skip && regexec(&p->skip, message, 0, NULL, 0) == 0)
                return;
        if (p->have_failed && regexec(&p->failed, message, 0, NULL, 0) == 0) {
                ret->kind = ACTIVITY_DEFERRED;
                classify_cause(p, message, ret, p->failed_cause);
                ret->fixable = ret->cause == CAUSE_MTA_INTERNAL;
                return;
        }
        if (p->have_delivered && regexec(&p->delivered, message, 0, NULL, 0) == 0) {
                ret->kind = ACTIVITY_SENT;
                return;
        }
        if (p->have_started && first_group(&p->started, message, &g, &n)) {
                ret->kind = ACTIVITY_STARTED;
                set_peer(ret, g, n);
                return;
        }
        if (p->have_activity && first_group(&p->activity, message, &g, &n)) {
                ret->kind = outcome_kind(g, n);
                if (ret->kind == ACTIVITY_DEFERRED || ret->kind == ACTIVITY_BOUNCED) {
                        const char *pg;
                        size_t pn;

                        if (p->have_peer && first_group(&p->peer, message, &pg, &pn) && pn > 0 &&
                            !(pn == 4 && strncasecmp(pg, "none", 4) == 0))
                                set_peer(ret, pg, pn);
                        classify_cause(p, message, ret, CAUSE_NONE);
                        /* a bounce is final: nothing left for a restart to fix */
                        ret->fixable = ret->kind == ACTIVITY_DEFERRED && (ret->cause == CAUSE_MTA_INTERNAL ||
                                       ((ret->cause == CAUSE_DNS_FAILURE || ret->cause == CAUSE_CONNECT_FAILURE) &&
                                        ret->peer[0] && peer_is_probed(p, ret->peer, strlen(ret->peer))));
                }
                return;
        }
        if (p->have_mta_log && regexec(&p->mta_log, message, 0, NULL, 0) == 0) {
                ret->mta_log = true;
                if (p->have_mta_error && regexec(&p->mta_error, message, 0, NULL, 0) == 0) {
                        ret->mta_error = true;
                        ret->cause = CAUSE_MTA_INTERNAL;
                        ret->fixable = true;
                }
        }
}

void activity_line_set_peer(const ActivityPatterns *p, ActivityLine *l, const char *peer) {
        bool probed;

        if (!p || !l || !peer || !peer[0] || l->peer[0])
                return;
        if (l->kind != ACTIVITY_DEFERRED && l->kind != ACTIVITY_CONN_ERROR && l->kind != ACTIVITY_CONN_ERROR_PROBED)
                return;
        set_peer(l, peer, strlen(peer));
        probed = peer_is_probed(p, l->peer, strlen(l->peer));
        if (l->kind != ACTIVITY_DEFERRED)
                l->kind = probed ? ACTIVITY_CONN_ERROR_PROBED : ACTIVITY_CONN_ERROR;
        l->fixable = l->cause == CAUSE_MTA_INTERNAL ||
                     (probed && (l->cause == CAUSE_CONNECT_FAILURE || l->cause == CAUSE_DNS_FAILURE));
}

ActivityKind activity_classify(const ActivityPatterns *p, const char *message) {
        ActivityLine l;

        activity_classify_line(p, message, &l);
        return l.kind;
}

void activity_count_line(ActivityCounts *counts, const ActivityLine *line) {
        activity_count(counts, line->kind);
        if (line->mta_log)
                counts->mta_log++;
        if (line->mta_error)
                counts->mta_errors++;
        if (line->kind == ACTIVITY_DEFERRED || line->kind == ACTIVITY_BOUNCED ||
            line->kind == ACTIVITY_CONN_ERROR || line->kind == ACTIVITY_CONN_ERROR_PROBED) {
                FailureCause c = (unsigned) line->cause < _CAUSE_MAX ? line->cause : CAUSE_NONE;

                counts->failures[c]++;
                if (line->kind == ACTIVITY_BOUNCED)
                        counts->bounced_by_cause[c]++;
                if (line->fixable)
                        counts->fixable[c]++;
        }
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
        case ACTIVITY_COMPLETED:
                counts->completed++;
                break;
        case ACTIVITY_QUEUE_RUN:
                counts->queue_runs++;
                break;
        case ACTIVITY_STARTED:
                counts->started++;
                break;
        default:
                break;
        }
}
