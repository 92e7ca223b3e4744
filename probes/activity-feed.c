/* SPDX-License-Identifier: MIT */
/* What the activity sources share once a line is read: classifying,
 * counting, samples for alerts, and the lookups of bare peer names
 * (probes/activity-feed.h).
 *
 * Lookups: a bare name (no "[address]") that the MTA could not resolve or
 * reach and that is not probed is looked up by us, since the MTA may relay
 * to a name and the probe reach its address (or the MTA's resolver view is
 * stale: a chrooted Postfix reads a copy of resolv.conf). getaddrinfo(3)
 * blocks, and sd-resolve is not public in Debian 12's libsystemd, so it
 * runs in a child (watchdogd/exec.h) with a deadline of 5 s, one name at a
 * time; a name is looked up again when the MTA logs it 5 min after its
 * last lookup. At most ACTIVITY_FEED_NAMES_MAX names are kept; when full,
 * the one the MTA logged longest ago makes room. */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "activity-feed.h"
#include "log.h"
#include "macros.h"

/* Copies at most SIZE-1 bytes of "PREFIX: S" (or S), control characters
 * replaced. */
static void copy_line(char *buf, size_t size, const char *prefix, const char *s) {
        size_t n;

        (void) snprintf(buf, size, "%s%s%s", prefix ?: "", prefix ? ": " : "", s);
        for (n = 0; buf[n]; n++)
                if ((unsigned char) buf[n] < 0x20 || buf[n] == 0x7f)
                        buf[n] = ' ';
}

/* The loop's CLOCK_MONOTONIC time, never 0 (0 means "not yet"). */
static uint64_t feed_now(const ActivityFeed *f) {
        uint64_t t = 0;

        (void) sd_event_now(f->probe->event, CLOCK_MONOTONIC, &t);
        return t ? t : 1;
}

/* The child: getaddrinfo(3) of the name, each address on a line. */
static int feed_resolve_child(int out_fd, void *arg) {
        const char *name = arg;
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
        char buf[INET6_ADDRSTRLEN];
        FILE *out;

        if (getaddrinfo(name, NULL, &hints, &res) != 0)
                return 1;
        out = fdopen(out_fd, "w");
        if (!out) {
                freeaddrinfo(res);
                return 2;
        }
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                const void *addr = a->ai_family == AF_INET6 ?
                        (const void *) &((const struct sockaddr_in6 *) a->ai_addr)->sin6_addr :
                        (const void *) &((const struct sockaddr_in *) a->ai_addr)->sin_addr;

                if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
                    inet_ntop(a->ai_family, addr, buf, sizeof(buf)))
                        fprintf(out, "%s\n", buf);
        }
        freeaddrinfo(res);
        return fclose(out) == 0 ? 0 : 2;
}

static void feed_resolve_next(ActivityFeed *f);

static void feed_on_resolved(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        ActivityFeed *f = userdata;
        ActivityPeerName *n = &f->names[f->resolving];
        bool probed = false;

        f->resolve = NULL;
        if (status == 0) {
                _cleanup_free_ char *copy = strndup(output, size);
                char *save = NULL;

                for (char *a = copy ? strtok_r(copy, "\n", &save) : NULL; a; a = strtok_r(NULL, "\n", &save))
                        if (activity_address_probed(&f->patterns, a))
                                probed = true;
        }
        if (probed) {
                if (activity_patterns_add_probed_name(&f->patterns, n->name) >= 0)
                        log_info("probe %s: %s resolves to a probed host: the MTA's errors for it count as "
                                 "errors to a probed peer", f->probe->name, n->name);
        } else
                log_debug("probe %s: %s is not a probed host (lookup: %s)", f->probe->name, n->name,
                          status == 0 ? "no probed address" : status == -ETIMEDOUT ? "timed out" : "failed");
        feed_resolve_next(f);
}

/* Starts the next lookup of a name not looked up yet (one at a time). */
static void feed_resolve_next(ActivityFeed *f) {
        if (f->resolve)
                return;
        for (size_t i = 0; i < f->n_names; i++) {
                if (f->names[i].looked_up_usec != 0)
                        continue;
                f->names[i].looked_up_usec = feed_now(f);
                f->resolving = i;
                if (exec_fn(f->probe->event, feed_resolve_child, f->names[i].name,
                            ACTIVITY_FEED_RESOLVE_TIMEOUT_USEC, feed_on_resolved, f, &f->resolve) < 0)
                        f->resolve = NULL; /* tried again after ACTIVITY_FEED_RESOLVE_AGAIN_USEC */
                return;
        }
}

/* Remembers a bare peer name the MTA could not resolve or reach and that
 * is not probed, to look up whether it is one of the probed hosts under
 * another name (the MTA relays to a name, the probe to its address). */
static void feed_note_name(ActivityFeed *f, const ActivityLine *l) {
        size_t slot;

        if (!l->peer_is_name || !l->peer[0] || l->fixable ||
            (l->cause != CAUSE_DNS_FAILURE && l->cause != CAUSE_CONNECT_FAILURE))
                return;
        for (size_t i = 0; i < f->n_names; i++)
                if (strcasecmp(f->names[i].name, l->peer) == 0) {
                        f->names[i].seen_usec = feed_now(f);
                        if (f->names[i].looked_up_usec != 0 &&
                            feed_now(f) - f->names[i].looked_up_usec >= ACTIVITY_FEED_RESOLVE_AGAIN_USEC)
                                f->names[i].looked_up_usec = 0;
                        feed_resolve_next(f);
                        return;
                }
        if (f->n_names < ACTIVITY_FEED_NAMES_MAX)
                slot = f->n_names++;
        else {
                /* Full (many destinations that do not resolve): the name
                 * seen longest ago makes room, never the one being looked up. */
                slot = SIZE_MAX;
                for (size_t i = 0; i < f->n_names; i++)
                        if (!(f->resolve && i == f->resolving) &&
                            (slot == SIZE_MAX || f->names[i].seen_usec < f->names[slot].seen_usec))
                                slot = i;
                if (slot == SIZE_MAX)
                        return;
        }
        f->names[slot] = (ActivityPeerName) { .seen_usec = feed_now(f) };
        (void) snprintf(f->names[slot].name, sizeof(f->names[slot].name), "%s", l->peer);
        feed_resolve_next(f);
}

/* Keeps MESSAGE as the first line of C's run when the run is new (none
 * for ACTIVITY_RUN_QUIET_USEC), and as its last line. */
static void feed_sample_cause(CauseSample *c, uint64_t now, const char *identifier, const char *message) {
        if (c->last_usec == 0 || now - c->last_usec >= ACTIVITY_RUN_QUIET_USEC) {
                c->first_usec = now;
                copy_line(c->first, sizeof(c->first), identifier, message);
        }
        c->last_usec = now;
        copy_line(c->last, sizeof(c->last), identifier, message);
}

/* Keeps the line behind a failure or an MTA error for alerts. */
static void feed_sample(ActivityFeed *f, const ActivityLine *l, const char *identifier, const char *message) {
        uint64_t now = feed_now(f);
        CauseSample *c;

        if (l->mta_log) {
                MtaLogLine *m = &f->samples.mta_log[f->mta_log_seq % ACTIVITY_MTA_LOG_MAX];

                m->seq = ++f->mta_log_seq;
                m->usec = now;
                copy_line(m->line, sizeof(m->line), identifier, message);
                if (!l->mta_error)
                        return;
        }
        if (l->mta_error) {
                c = &f->samples.causes[CAUSE_MTA_INTERNAL];
                feed_sample_cause(c, now, identifier, message);
                (void) snprintf(c->peer, sizeof(c->peer), "%s", identifier ?: "");
                c->probed = true;
                return;
        }
        if (l->kind == ACTIVITY_DEFERRED || l->kind == ACTIVITY_BOUNCED ||
            l->kind == ACTIVITY_CONN_ERROR || l->kind == ACTIVITY_CONN_ERROR_PROBED) {
                c = &f->samples.causes[(unsigned) l->cause < _CAUSE_MAX ? l->cause : CAUSE_NONE];
                feed_sample_cause(c, now, NULL, message);
                (void) snprintf(c->peer, sizeof(c->peer), "%s", l->peer);
                c->probed = l->fixable;
                feed_note_name(f, l);
        }
}

int activity_feed_init(ActivityFeed *f, Probe *p, const ActivityRules *rules, const char *activity_pattern,
                       const char *error_pattern, const char *const *probed_hosts) {
        char err[512];
        int r;

        f->probe = p;
        r = activity_patterns_init(&f->patterns, rules, activity_pattern, error_pattern, probed_hosts, err,
                                   sizeof(err));
        if (r == -EINVAL)
                log_error("probe %s: %s", p->name, err);
        return r;
}

/* The open start (ActivitySamples.open_start_usec): a started line opens
 * it (a later one replaces it), an outcome line closes it. An outcome that
 * names no peer takes the open start's (nullmailer logs the host only in
 * "Starting delivery: host: H ...", its "Sending failed: Connection
 * refused" names none). */
static void feed_track_start(ActivityFeed *f, ActivityLine *l, const char *message) {
        ActivitySamples *s = &f->samples;

        switch (l->kind) {
        case ACTIVITY_STARTED:
                s->open_start_usec = feed_now(f);
                copy_line(s->open_start_line, sizeof(s->open_start_line), NULL, message);
                (void) snprintf(s->open_start_peer, sizeof(s->open_start_peer), "%s", l->peer);
                break;
        case ACTIVITY_DEFERRED:
        case ACTIVITY_CONN_ERROR:
        case ACTIVITY_CONN_ERROR_PROBED:
                if (s->open_start_usec != 0)
                        activity_line_set_peer(&f->patterns, l, s->open_start_peer);
                __attribute__((fallthrough));
        case ACTIVITY_SENT:
        case ACTIVITY_BOUNCED:
        case ACTIVITY_COMPLETED:
                s->open_start_usec = 0;
                s->open_start_line[0] = 0;
                s->open_start_peer[0] = 0;
                break;
        default:
                break;
        }
}

void activity_feed_note_line(ActivityFeed *f, const char *identifier, const char *message, bool mta_log_only) {
        ActivityLine line;

        activity_classify_line(&f->patterns, message, &line);
        if (mta_log_only && !line.mta_log)
                return;
        if (f->patterns.have_started)
                feed_track_start(f, &line, message);
        activity_count_line(&f->counts, &line);
        feed_sample(f, &line, identifier, message);
}

size_t activity_feed_result(const ActivityFeed *f, ProbeResult *res) {
        int n;

        res->activity = f->counts;
        res->samples = f->samples;
        n = snprintf(res->reason, sizeof(res->reason),
                     "sent %" PRIu64 ", deferred %" PRIu64 ", bounced %" PRIu64
                     ", conn errors %" PRIu64 " (+%" PRIu64 " to probed hosts)",
                     f->counts.sent, f->counts.deferred, f->counts.bounced,
                     f->counts.conn_errors, f->counts.conn_errors_probed);
        return n < 0 ? 0 : MIN_OF((size_t) n, sizeof(res->reason) - 1);
}

int activity_feed_add_defer(Probe *p, sd_event_source **ret, sd_event_handler_t cb, const char *description) {
        sd_event_source *s = NULL;
        int r;

        r = sd_event_add_defer(p->event, &s, cb, p);
        if (r < 0)
                return r;
        /* The rest of a long backlog waits until everything else ran. */
        (void) sd_event_source_set_priority(s, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s, description);
        *ret = s;
        return 0;
}

void activity_feed_done(ActivityFeed *f) {
        f->resolve = exec_cancel(f->resolve);
        activity_patterns_done(&f->patterns);
}
