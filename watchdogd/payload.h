/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>

/* Request bodies for each receiver format, rendered from an event in our
 * schema "mta-watchdog.event/1" (event_to_json(), README "Alerts"). */

typedef enum AlertFormat {
        ALERT_FORMAT_JSON,          /* the event itself */
        ALERT_FORMAT_SLACK,         /* Slack incoming webhook: {"text": "..."} */
        ALERT_FORMAT_ALERTMANAGER,  /* Alertmanager API v2 POST /api/v2/alerts body */
        _ALERT_FORMAT_MAX,
        _ALERT_FORMAT_INVALID = -22,
} AlertFormat;

const char *alert_format_to_string(AlertFormat f);
AlertFormat alert_format_from_string(const char *s);

/* alertname label of every alert we post to Alertmanager. */
#define ALERTMANAGER_ALERTNAME "MTAWatchdogIncident"

/* Severity ranks: "info" < "warning" < "critical"; -1 for anything else. */
int severity_rank(const char *s);
const char *severity_from_rank(int rank);

/* Renders EVENT for FORMAT. AM is the Alertmanager view of the event's
 * incident and is needed for ALERT_FORMAT_ALERTMANAGER only:
 *   {"severity": S, "starts_at": RFC3339, "ends_at": RFC3339 or null,
 *    "superseded": S2 or null}
 * "severity" is the incident's highest severity so far (the label), "ends_at"
 * set resolves the alert, and "superseded" names an earlier severity label
 * whose alert this event resolves (the incident escalated), at the event's time.
 * The Alertmanager body is an array of postableAlert objects
 * (Alertmanager OpenAPI v2, api/v2/openapi.yaml): labels alertname, instance,
 * mta, unit, severity, incident; annotations summary, description; startsAt;
 * endsAt when resolved.
 * Returns a malloc'd compact JSON string, or NULL (ENOMEM or a malformed event). */
char *payload_render(AlertFormat format, const json_t *event, const json_t *am);

/* The one-line human text used by slack and as the Alertmanager description. */
char *payload_text(const json_t *event);
