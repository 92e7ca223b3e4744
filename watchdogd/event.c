/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-id128.h>
#include <time.h>

#include "event.h"
#include "macros.h"

static const char *const event_kind_table[_EVENT_KIND_MAX] = {
        [EVENT_OUTAGE_STARTED]      = "outage.started",
        [EVENT_OUTAGE_ENDED]        = "outage.ended",
        [EVENT_STALL_DETECTED]      = "stall.detected",
        [EVENT_ACTION_STARTED]      = "action.started",
        [EVENT_ACTION_SUCCEEDED]    = "action.succeeded",
        [EVENT_ACTION_FAILED]       = "action.failed",
        [EVENT_RECOVERED]           = "recovered",
        [EVENT_GAVE_UP]             = "gave_up",
        [EVENT_OBSERVATION_UNKNOWN] = "observation.unknown",
        [EVENT_MTA_STOPPED]         = "mta.stopped",
        [EVENT_MTA_FAILED]          = "mta.failed",
        [EVENT_DELIVERY_DEGRADED]   = "delivery.degraded",
        [EVENT_ACTION_SLOW]         = "action.slow",
        [EVENT_MTA_DIED]            = "mta.died",
        [EVENT_DELIVERY_HUNG]       = "delivery.hung",
};

static const char *const event_severity_table[_EVENT_KIND_MAX] = {
        [EVENT_OUTAGE_STARTED]      = "warning",
        [EVENT_OUTAGE_ENDED]        = "info",
        [EVENT_STALL_DETECTED]      = "warning",
        [EVENT_ACTION_STARTED]      = "info",
        [EVENT_ACTION_SUCCEEDED]    = "info",
        [EVENT_ACTION_FAILED]       = "critical",
        [EVENT_RECOVERED]           = "info",
        [EVENT_GAVE_UP]             = "critical",
        [EVENT_OBSERVATION_UNKNOWN] = "warning",
        [EVENT_MTA_STOPPED]         = "info",
        [EVENT_MTA_FAILED]          = "critical",
        [EVENT_DELIVERY_DEGRADED]   = "warning",
        [EVENT_ACTION_SLOW]         = "warning",
        [EVENT_MTA_DIED]            = "critical",
        [EVENT_DELIVERY_HUNG]       = "warning",
};

/* Never change one: journal queries and the catalog rely on them. */
static const char *const event_message_id_table[_EVENT_KIND_MAX] = {
        [EVENT_OUTAGE_STARTED]      = "ff3a1f42db0344c3a8f90ca333a1efe2",
        [EVENT_OUTAGE_ENDED]        = "cf98e167507e4e608be57ca4d58d2a7d",
        [EVENT_STALL_DETECTED]      = "1efdb0d52bf24d1fbecbba31e62bb876",
        [EVENT_ACTION_STARTED]      = "91ac0dbf148b4ca1ac3fa8194fa794e6",
        [EVENT_ACTION_SUCCEEDED]    = "0e0519bf79ab4f728f8d704a6ac1a744",
        [EVENT_ACTION_FAILED]       = "a6a43d89aeb5454a9adc2075fe30dbc5",
        [EVENT_RECOVERED]           = "48ef1ebda46a4650a7f0576102fed846",
        [EVENT_GAVE_UP]             = "71861905ab7b4dfe8f1441544096ad9b",
        [EVENT_OBSERVATION_UNKNOWN] = "af7b3042d5c54cd49360dfc9f11e8ebc",
        [EVENT_MTA_STOPPED]         = "29b6d98618a34c01b2582315b569c93e",
        [EVENT_MTA_FAILED]          = "1e5ca29a5c6c4509910cf2a742dc700a",
        [EVENT_DELIVERY_DEGRADED]   = "c4ed6a5347d44bc2b7f04bda5c0d1c17",
        [EVENT_ACTION_SLOW]         = "70d1c964235147cd84e90d73d7597e2b",
        [EVENT_MTA_DIED]            = "044f1d3dd62f49159be846efa4f09807",
        [EVENT_DELIVERY_HUNG]       = "8aa5a997d44844adadbabd2dced85c6a",
};

const char *event_kind_message_id(EventKind k) {
        if (k < 0 || k >= _EVENT_KIND_MAX)
                return NULL;
        return event_message_id_table[k];
}

int event_kind_log_priority(EventKind k) {
        const char *s = event_kind_severity(k);

        if (s && strcmp(s, "critical") == 0)
                return LOG_ERR;
        if (s && strcmp(s, "warning") == 0)
                return LOG_WARNING;
        return LOG_NOTICE;
}

const char *event_kind_to_string(EventKind k) {
        if (k < 0 || k >= _EVENT_KIND_MAX)
                return NULL;
        return event_kind_table[k];
}

EventKind event_kind_from_string(const char *s) {
        if (!s)
                return _EVENT_KIND_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(event_kind_table); i++)
                if (event_kind_table[i] && strcmp(event_kind_table[i], s) == 0)
                        return (EventKind) i;
        return _EVENT_KIND_INVALID;
}

const char *event_kind_severity(EventKind k) {
        if (k < 0 || k >= _EVENT_KIND_MAX)
                return NULL;
        return event_severity_table[k];
}

_Static_assert(UUID_STRING_MAX == SD_ID128_UUID_STRING_MAX, "UUID_STRING_MAX is libsystemd's size");

int uuid_random(char buf[static UUID_STRING_MAX]) {
        sd_id128_t id;
        int r;

        /* sd_id128_randomize(3) sets the version 4 and variant bits itself. */
        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        (void) sd_id128_to_uuid_string(id, buf);
        return 0;
}

const char *format_rfc3339(char buf[static 32], uint64_t time_usec) {
        time_t t = (time_t) (time_usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
                /* Only reachable for absurd years; keep the output well-formed. */
                (void) snprintf(buf, 32, "1970-01-01T00:00:00Z");
        }
        return buf;
}

/* A JSON string for S, or null for NULL. Text we put into events may come
 * from logs or peers and need not be valid UTF-8, which jansson refuses;
 * rather than losing the whole alert, bytes outside ASCII are replaced. */
static json_t *json_string_or_null(const char *s) {
        json_t *j;

        if (!s)
                return json_null();

        j = json_string(s);
        if (j)
                return j;

        _cleanup_free_ char *copy = strdup(s);
        if (!copy)
                return NULL;
        for (char *p = copy; *p; p++)
                if ((unsigned char) *p >= 0x80)
                        *p = '?';
        return json_string(copy);
}

static json_t *json_string_or_null_if_empty(const char *s) {
        return json_string_or_null(s && s[0] ? s : NULL);
}

/* {"dns-failure": 3, ...}: the causes with a count, in the enum's order. */
json_t *by_cause_object(const uint64_t counts[static _CAUSE_MAX]) {
        json_t *o = json_object();

        if (!o)
                return NULL;
        for (size_t c = 0; c < _CAUSE_MAX; c++)
                if (counts[c] > 0 &&
                    json_object_set_new(o, failure_cause_to_string((FailureCause) c),
                                        json_integer((json_int_t) counts[c])) < 0) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

static json_t *cause_object(const Event *ev) {
        json_t *log;

        if (!ev->cause_class && ev->n_mta_log == 0)
                return json_null();
        log = json_array();
        if (!log)
                return NULL;
        for (size_t i = 0; i < ev->n_mta_log; i++)
                if (json_array_append_new(log, json_string_or_null(ev->mta_log[i])) < 0) {
                        json_decref(log);
                        return NULL;
                }
        return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o}",
                         "class", json_string_or_null(ev->cause_class),
                         "peer", json_string_or_null_if_empty(ev->cause_peer),
                         "count", (json_int_t) ev->cause_count,
                         "first_line", json_string_or_null_if_empty(ev->cause_first_line),
                         "last_line", json_string_or_null_if_empty(ev->cause_last_line),
                         "resolver", json_string_or_null_if_empty(ev->cause_resolver),
                         "mta_log", log);
}

/* The order of keys below is the order on the wire (jansson keeps insertion
 * order with JSON_PRESERVE_ORDER), which keeps golden tests and human
 * readers happy. */
json_t *event_to_json_object(const Event *ev) {
        char tbuf[32];
        json_t *root, *details;

        if (!ev)
                return NULL;

        details = json_pack("{s:I, s:I, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:o, s:o}, s:o}",
                            "backlog", (json_int_t) ev->backlog,
                            "oldest_age_seconds", (json_int_t) (ev->oldest_age_usec / USEC_PER_SEC),
                            "overdue", ev->schedule_known ? json_integer((json_int_t) ev->overdue) : json_null(),
                            "reachability", json_string_or_null(ev->reachability),
                            "restarts_in_window", (json_int_t) ev->restarts_in_window,
                            "activity",
                            "sent", (json_int_t) ev->sent,
                            "deferred", (json_int_t) ev->deferred,
                            "bounced", (json_int_t) ev->bounced,
                            "connection_errors", (json_int_t) ev->conn_errors,
                            "connection_errors_to_probed_hosts", (json_int_t) ev->conn_errors_probed,
                            "by_cause", by_cause_object(ev->failures_by_cause),
                            "bounced_by_cause", by_cause_object(ev->bounced_by_cause),
                            "cause", cause_object(ev));
        if (!details)
                return NULL;

        root = json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
                         "schema", "mta-watchdog.event/1",
                         "id", json_string_or_null_if_empty(ev->id),
                         "event", json_string_or_null(event_kind_to_string(ev->kind)),
                         "severity", json_string_or_null(event_kind_severity(ev->kind)),
                         "incident", json_string_or_null_if_empty(ev->incident),
                         "time", format_rfc3339(tbuf, ev->time_usec),
                         "host", json_string_or_null(ev->host),
                         "mta", json_string_or_null(ev->mta),
                         "unit", json_string_or_null(ev->unit),
                         "state", json_string_or_null(ev->state),
                         "summary", json_string_or_null(ev->summary),
                         "action", json_string_or_null_if_empty(ev->action),
                         "dry_run", ev->dry_run ? 1 : 0,
                         "details", details);
        /* "o" steals the reference even on failure, so DETAILS is gone either way. */
        return root;
}

char *event_to_json(const Event *ev) {
        json_t *root = event_to_json_object(ev);
        char *s;

        if (!root)
                return NULL;
        s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(root);
        return s;
}
