/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"

/* Events that leave the daemon as alerts. Names are the ones receivers see
 * in the "event" field; see README "Formats" (the JSON payload). */
typedef enum EventKind {
        EVENT_OUTAGE_STARTED,
        EVENT_OUTAGE_ENDED,
        EVENT_STALL_DETECTED,
        EVENT_ACTION_STARTED,
        EVENT_ACTION_SUCCEEDED,
        EVENT_ACTION_FAILED,
        EVENT_RECOVERED,
        EVENT_GAVE_UP,
        EVENT_OBSERVATION_UNKNOWN,
        EVENT_MTA_STOPPED,         /* the unit went inactive, not by our hand */
        EVENT_MTA_FAILED,          /* the unit failed (Result names why, e.g. start-limit-hit) */
        EVENT_DELIVERY_DEGRADED,   /* deliveries fail for a reason a restart cannot fix */
        EVENT_ACTION_SLOW,         /* a job of the unit outlived restart_timeout; still waited for */
        EVENT_MTA_DIED,            /* the unit is active but its daemon (PID file) is gone */
        EVENT_DELIVERY_HUNG,       /* a delivery process has held a message longer than the
                                    * queue probe's threshold (Exim: hung_delivery_after) */
        _EVENT_KIND_MAX,
        _EVENT_KIND_INVALID = -22,
} EventKind;

const char *event_kind_to_string(EventKind k);  /* "outage.started", ... */
EventKind event_kind_from_string(const char *s);
const char *event_kind_severity(EventKind k);   /* "info", "warning", "critical" */

/* The journal MESSAGE_ID of the log line of event K: 32 lower-case hex
 * digits, fixed forever (made once with `systemd-id128 new`), each with an
 * entry in units/mta-watchdog.catalog. NULL for an invalid K. */
const char *event_kind_message_id(EventKind k);

/* The syslog priority of the log line of event K, from its severity: info
 * LOG_NOTICE, warning LOG_WARNING, critical LOG_ERR. */
int event_kind_log_priority(EventKind k);

/* MESSAGE_IDs of journal lines that are not events (also in the catalog). */
#define MESSAGE_ID_STATE_CHANGED   "ae6dcaafc21141b79343dd467e760ff2" /* detector state change without an alert */
#define MESSAGE_ID_ACTION_FINISHED "8f950848a9d24d8da69b1c75b3f95277" /* flush/restart result, as the action reports it */
#define MESSAGE_ID_ALERT_GIVEN_UP  "3bd2fbafe29044f38b90c43132c07293" /* an alert refused or expired, moved to outbox/failed/ */

#define UUID_STRING_MAX 37

typedef struct Event {
        EventKind kind;
        char id[UUID_STRING_MAX];          /* RFC 4122 version 4, lower case */
        char incident[UUID_STRING_MAX];    /* "" when not part of an incident */
        const char *host;
        const char *mta;
        const char *unit;
        uint64_t time_usec;                /* CLOCK_REALTIME, microseconds since the epoch */
        const char *state;                 /* detector state after the event, e.g. "STALLED" */
        const char *summary;               /* one line */
        const char *action;                /* "restart", "flush" or NULL */
        const char *reachability;          /* "up", "down", "unknown" */
        unsigned backlog;
        uint64_t oldest_age_usec;
        unsigned restarts_in_window;
        int schedule_known;                /* the queue probe reads the MTA's schedule */
        unsigned overdue;                  /* overdue messages (only with schedule_known) */
        /* Delivery activity logged by the MTA during the incident so far
         * (all zero outside one): counts of log lines. */
        uint64_t sent, deferred, bounced, conn_errors, conn_errors_probed;
        uint64_t failures_by_cause[_CAUSE_MAX];   /* failed lines by cause class */
        uint64_t bounced_by_cause[_CAUSE_MAX];
        /* What the event is about (details.cause; null when cause_class is
         * NULL and there are no mta_log lines): the cause class, its peer,
         * failed lines of it in the incident, the first and last of them,
         * a difference between the MTA's and the system's resolver
         * configuration, and the MTA's own first fatal/panic/warning lines. */
        const char *cause_class;
        const char *cause_peer;
        uint64_t cause_count;
        const char *cause_first_line, *cause_last_line;
        const char *cause_resolver;
        const char *const *mta_log;
        size_t n_mta_log;
        int dry_run;
} Event;

/* Fills BUF with a random version-4 UUID (RFC 4122 section 4.4) in lower
 * case, from sd_id128_randomize(3) (getrandom(2) underneath). Returns 0, or
 * the negative errno of sd_id128_randomize() with BUF untouched. */
int uuid_random(char buf[static UUID_STRING_MAX]);

/* Formats TIME_USEC (realtime) as RFC 3339 UTC with seconds:
 * "2026-11-29T23:22:15Z". BUF must hold 32 bytes. */
const char *format_rfc3339(char buf[static 32], uint64_t time_usec);

/* Serialises EV as our JSON schema "mta-watchdog.event/1" (built with
 * jansson). Returns a malloc'd NUL-terminated string, or NULL on ENOMEM. */
char *event_to_json(const Event *ev);

/* The same as a jansson object (a new reference), or NULL on ENOMEM. */
json_t *event_to_json_object(const Event *ev);

/* {"dns-failure": 3, ...}: the cause classes (failure_cause_to_string())
 * with a non-zero count, in the order of FailureCause. A new reference, or
 * NULL on ENOMEM. */
json_t *by_cause_object(const uint64_t counts[static _CAUSE_MAX]);
