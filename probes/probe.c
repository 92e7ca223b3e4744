/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "macros.h"
#include "exim.h"
#include "sendmail.h"
#include "generic.h"
#include "journal.h"
#include "postfix.h"
#include "probe.h"
#include "smtp.h"
#include "tcp.h"
#include "unit.h"

/* The public Probe plus what only this file needs: a result that
 * completed during ops->start() is delivered from a defer source, so that
 * the owner's callback always runs from the event loop, never from inside
 * probe_start(). */
typedef struct ProbeImpl {
        Probe probe;
        bool starting;
        bool pending;
        ProbeResult result;
        sd_event_source *defer;
} ProbeImpl;

#define PROBE_IMPL(p) ((ProbeImpl *) ((char *) (p) - offsetof(ProbeImpl, probe)))

static const char *const probe_status_table[_PROBE_STATUS_MAX] = {
        [PROBE_OK]      = "ok",
        [PROBE_FAIL]    = "fail",
        [PROBE_UNKNOWN] = "unknown",
};

const char *probe_status_to_string(ProbeStatus s) {
        if ((unsigned) s >= ELEMENTSOF(probe_status_table))
                return NULL;
        return probe_status_table[s];
}

static const char *const probe_outcome_table[_PROBE_OUTCOME_MAX] = {
        [PROBE_OUTCOME_OK]                = "ok",
        [PROBE_OUTCOME_TIMEOUT]           = "timeout",
        [PROBE_OUTCOME_REFUSED]           = "refused",
        [PROBE_OUTCOME_UNREACHABLE]       = "unreachable",
        [PROBE_OUTCOME_GREETING_REJECTED] = "greeting-rejected",
        [PROBE_OUTCOME_PROTOCOL_ERROR]    = "protocol-error",
        [PROBE_OUTCOME_DNS_FAILURE]       = "dns-failure",
        [PROBE_OUTCOME_PERMISSION]        = "permission",
        [PROBE_OUTCOME_PARSE_ERROR]       = "parse-error",
        [PROBE_OUTCOME_LOCAL_ERROR]       = "local-error",
        [PROBE_OUTCOME_OVERLAPPED]        = "overlapped",
};

const char *probe_outcome_to_string(ProbeOutcome o) {
        if ((unsigned) o >= ELEMENTSOF(probe_outcome_table))
                return NULL;
        return probe_outcome_table[o];
}

static const char *const failure_cause_table[_CAUSE_MAX] = {
        [CAUSE_NONE]             = "none",
        [CAUSE_DEFERRED_REMOTE]  = "deferred-remote",
        [CAUSE_CONNECT_FAILURE]  = "connect-failure",
        [CAUSE_DNS_FAILURE]      = "dns-failure",
        [CAUSE_TLS_FAILURE]      = "tls-failure",
        [CAUSE_PROTOCOL_TIMEOUT] = "protocol-timeout",
        [CAUSE_LOCAL_RESOURCE]   = "local-resource",
        [CAUSE_MTA_INTERNAL]     = "mta-internal",
};

const char *failure_cause_to_string(FailureCause c) {
        if ((unsigned) c >= ELEMENTSOF(failure_cause_table))
                return NULL;
        return failure_cause_table[c];
}

ProbeOutcome probe_outcome_from_errno(int err) {
        switch (err < 0 ? -err : err) {
        case 0:
                return PROBE_OUTCOME_OK;
        case ETIMEDOUT:
                return PROBE_OUTCOME_TIMEOUT;
        case ECONNREFUSED:
        case ECONNRESET:
        case ECONNABORTED:
                return PROBE_OUTCOME_REFUSED;
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ENETDOWN:
        case EHOSTDOWN:
        case EADDRNOTAVAIL:
        case EAFNOSUPPORT:
                return PROBE_OUTCOME_UNREACHABLE;
        case EACCES:
        case EPERM:
                return PROBE_OUTCOME_PERMISSION;
        case EBADMSG:
                return PROBE_OUTCOME_PARSE_ERROR;
        default:
                return PROBE_OUTCOME_LOCAL_ERROR;
        }
}

const struct probe_ops *const probe_ops_table[] = {
        &probe_smtp_ops,
        &probe_dns_ops,
        &probe_tcp_ops,
        &probe_postfix_ops,
        &probe_exim_ops,
        &probe_sendmail_ops,
        &probe_generic_ops,
        &probe_unit_ops,
        &probe_journal_ops,
        NULL,
};

const struct probe_ops *probe_ops_find(const char *type) {
        if (!type)
                return NULL;
        for (size_t i = 0; probe_ops_table[i]; i++)
                if (strcmp(probe_ops_table[i]->type, type) == 0)
                        return probe_ops_table[i];
        return NULL;
}


/* Ends the run: the single exit of every path. The callback may free the
 * probe or start the next run, so nothing touches P after it. */
static void probe_deliver(Probe *p, const ProbeResult *r) {
        probe_done_fn cb = p->cb;
        void *userdata = p->userdata;

        p->running = false;
        p->cb = NULL;
        p->userdata = NULL;
        (void) sd_event_source_set_enabled(p->deadline, SD_EVENT_OFF);

        log_debug("probe %s: %s%s%s", p->name, probe_status_to_string(r->status),
                  r->reason[0] ? ", " : "", r->reason);
        if (cb)
                cb(p, r, userdata);
}

static int probe_on_defer(sd_event_source *s, void *userdata) {
        Probe *p = userdata;
        ProbeImpl *impl = PROBE_IMPL(p);
        ProbeResult r;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        if (!impl->pending)
                return 0;
        impl->pending = false;
        r = impl->result;
        probe_deliver(p, &r);
        return 0;
}

void probe_complete_result(Probe *p, const ProbeResult *res) {
        ProbeImpl *impl;
        ProbeResult r;

        if (!p || !p->running || !res)
                return;
        impl = PROBE_IMPL(p);
        if (impl->pending)
                return;  /* already completed during start */

        r = *res;
        r.reason[sizeof(r.reason) - 1] = 0;
        /* Every failure names a cause; success names none. */
        if (r.status == PROBE_OK)
                r.outcome = PROBE_OUTCOME_OK;
        else if (r.outcome == PROBE_OUTCOME_OK)
                r.outcome = PROBE_OUTCOME_LOCAL_ERROR;

        if (impl->starting) {
                int k;

                (void) sd_event_source_set_enabled(p->deadline, SD_EVENT_OFF);
                impl->result = r;
                impl->pending = true;
                if (!impl->defer) {
                        k = sd_event_add_defer(p->event, &impl->defer, probe_on_defer, p);
                        if (k >= 0)
                                (void) sd_event_source_set_description(impl->defer, "probe-complete");
                } else
                        k = sd_event_source_set_enabled(impl->defer, SD_EVENT_ONESHOT);
                if (k >= 0)
                        return;
                log_warning_errno(k, "probe %s: cannot defer completion, delivering now: %m", p->name);
                impl->pending = false;
        }

        probe_deliver(p, &r);
}

void probe_complete(Probe *p, ProbeStatus status, ProbeOutcome outcome, const QueueStats *queue,
                    const char *fmt, ...) {
        ProbeResult r = { .status = status, .outcome = outcome };
        va_list ap;

        if (fmt) {
                va_start(ap, fmt);
                (void) vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
                va_end(ap);
        }
        if (queue && status == PROBE_OK)
                r.queue = *queue;
        probe_complete_result(p, &r);
}

static int probe_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Probe *p = userdata;
        char t[32];

        if (!p->running)
                return 0;
        (void) format_duration(t, sizeof(t), p->timeout_usec);
        if (p->ops->cancel)
                p->ops->cancel(p);
        /* A relay that does not answer in time is unreachable as far as the
         * MTA is concerned (packets dropped upstream look exactly like this);
         * any other observation that runs out of time simply is not known. */
        probe_complete(p, p->ops->kind == PROBE_KIND_REACHABILITY ? PROBE_FAIL : PROBE_UNKNOWN,
                       PROBE_OUTCOME_TIMEOUT, NULL, "timed out after %s", t);
        return 0;
}

int probe_start(Probe *p, probe_done_fn cb, void *userdata) {
        ProbeImpl *impl;
        int r;

        if (!p || !cb)
                return -EINVAL;
        impl = PROBE_IMPL(p);

        if (p->running) {
                if (impl->pending) {
                        /* It finished but was not delivered yet: that is
                         * a real result, not an overlap. */
                        ProbeResult res = impl->result;

                        impl->pending = false;
                        (void) sd_event_source_set_enabled(impl->defer, SD_EVENT_OFF);
                        probe_deliver(p, &res);
                } else {
                        if (p->ops->cancel)
                                p->ops->cancel(p);
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_OVERLAPPED, NULL, "overlapped by the next run");
                }
        }
        /* The previous owner's callback may have started a run itself. */
        if (p->running)
                return -EBUSY;

        if (p->deadline) {
                r = sd_event_source_set_time_relative(p->deadline, p->timeout_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->deadline, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(p->event, &p->deadline, CLOCK_MONOTONIC, p->timeout_usec,
                                               USEC_PER_MSEC, probe_on_deadline, p);
                if (r >= 0)
                        (void) sd_event_source_set_description(p->deadline, "probe-deadline");
        }
        if (r < 0)
                return log_error_errno(r, "probe %s: cannot arm deadline: %m", p->name);

        p->cb = cb;
        p->userdata = userdata;
        p->running = true;
        impl->starting = true;
        r = p->ops->start(p);
        impl->starting = false;
        if (r < 0) {
                /* Contract: no completion on error; drop one if it came anyway. */
                impl->pending = false;
                if (impl->defer)
                        (void) sd_event_source_set_enabled(impl->defer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(p->deadline, SD_EVENT_OFF);
                p->running = false;
                p->cb = NULL;
                p->userdata = NULL;
                return r;
        }
        return 0;
}

Probe *probe_free(Probe *p) {
        ProbeImpl *impl;

        if (!p)
                return NULL;
        impl = PROBE_IMPL(p);

        if (p->running && !impl->pending && p->ops->cancel)
                p->ops->cancel(p);
        if (p->state && p->ops->done)
                p->ops->done(p);
        sd_event_source_disable_unref(impl->defer);
        sd_event_source_disable_unref(p->deadline);
        sd_event_unref(p->event);
        free(p->state);
        free(p->name);
        free(impl);
        return NULL;
}

int probe_new(const struct probe_ops *ops, const ProbeCommon *common, const void *settings, Probe **ret) {
        _cleanup_(probe_freep) Probe *p = NULL;
        ProbeImpl *impl;
        int r;

        if (!ops || !common || !common->event || !common->name || !ret || !ops->start)
                return -EINVAL;
        if (common->timeout_usec == 0 || common->timeout_usec == USEC_INFINITY) {
                log_error("probe %s: a timeout is required", common->name);
                return -EINVAL;
        }

        impl = calloc(1, sizeof(*impl));
        if (!impl)
                return -ENOMEM;
        p = &impl->probe;
        p->ops = ops;
        p->event = sd_event_ref(common->event);
        p->timeout_usec = common->timeout_usec;
        p->name = strdup(common->name);
        if (!p->name)
                return -ENOMEM;
        if (ops->state_size > 0) {
                p->state = calloc(1, ops->state_size);
                if (!p->state)
                        return -ENOMEM;
        }

        /* On failure, probe_free() calls ops->done on the partly set up
         * state, which must therefore cope with zeroed fields. */
        if (ops->init) {
                r = ops->init(p, settings);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}
