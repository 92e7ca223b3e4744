/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macros.h"
#include "payload.h"

static const char *const alert_format_table[_ALERT_FORMAT_MAX] = {
        [ALERT_FORMAT_JSON]         = "json",
        [ALERT_FORMAT_SLACK]        = "slack",
        [ALERT_FORMAT_ALERTMANAGER] = "alertmanager",
};

const char *alert_format_to_string(AlertFormat f) {
        if (f < 0 || f >= _ALERT_FORMAT_MAX)
                return NULL;
        return alert_format_table[f];
}

AlertFormat alert_format_from_string(const char *s) {
        if (!s)
                return _ALERT_FORMAT_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(alert_format_table); i++)
                if (strcmp(alert_format_table[i], s) == 0)
                        return (AlertFormat) i;
        return _ALERT_FORMAT_INVALID;
}

static const char *const severity_table[] = { "info", "warning", "critical" };

int severity_rank(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(severity_table); i++)
                if (strcmp(severity_table[i], s) == 0)
                        return (int) i;
        return -1;
}

const char *severity_from_rank(int rank) {
        if (rank < 0 || (size_t) rank >= ELEMENTSOF(severity_table))
                return NULL;
        return severity_table[rank];
}

static const char *str(const json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static json_int_t num(const json_t *o, const char *key) {
        return json_integer_value(json_object_get(o, key));
}

static void format_age(char *buf, size_t size, json_int_t sec) {
        if (sec >= 3600)
                (void) snprintf(buf, size, "%lldh%02lldm", (long long) (sec / 3600), (long long) (sec % 3600 / 60));
        else if (sec >= 60)
                (void) snprintf(buf, size, "%lldm%02llds", (long long) (sec / 60), (long long) (sec % 60));
        else
                (void) snprintf(buf, size, "%llds", (long long) sec);
}

char *payload_text(const json_t *event) {
        const json_t *d = json_object_get(event, "details");
        const char *action = json_string_value(json_object_get(event, "action"));
        json_int_t dropped = num(d, "alerts_dropped");
        const json_t *overdue = json_object_get(d, "overdue");
        const json_t *cause = json_object_get(d, "cause");
        char age[32], act[64] = "", drop[96] = "", od[48] = "";
        _cleanup_free_ char *why = NULL;
        char *s;

        if (!json_is_object(event))
                return NULL;

        format_age(age, sizeof age, num(d, "oldest_age_seconds"));
        if (action)
                (void) snprintf(act, sizeof act, " (action %s)", action);
        if (json_is_integer(overdue))
                (void) snprintf(od, sizeof od, " (%lld overdue)", (long long) json_integer_value(overdue));
        if (dropped > 0)
                (void) snprintf(drop, sizeof drop, "; %lld earlier informational alert(s) dropped, outbox full",
                                (long long) dropped);

        if (json_is_object(cause)) {
                const json_t *log = json_object_get(cause, "mta_log");
                const char *cls = json_string_value(json_object_get(cause, "class"));
                const char *peer = json_string_value(json_object_get(cause, "peer"));
                const char *last = json_string_value(json_object_get(cause, "last_line"));
                const char *resolver = json_string_value(json_object_get(cause, "resolver"));
                const char *first_log = json_string_value(json_array_get(log, 0));

                if (asprintf(&why, "%s%s%s%s%s%s%s%s%s%s%s",
                             cls ? "; cause " : "", cls ?: "", peer ? " at " : "", peer ?: "",
                             last ? ": \"" : "", last ?: "", last ? "\"" : "",
                             resolver ? "; " : "", resolver ?: "",
                             first_log ? "; MTA log: " : "", first_log ?: "") < 0)
                        return NULL;
        }

        if (asprintf(&s, "[%s] %s: %s (%s) on %s%s: %s%s; backlog %lld%s, oldest %s, reachability %s, "
                     "restarts in window %lld, state %s%s%s",
                     str(event, "severity"), str(event, "event"), str(event, "mta"), str(event, "unit"),
                     str(event, "host"), act, str(event, "summary"), why ?: "",
                     (long long) num(d, "backlog"), od, age, str(d, "reachability"),
                     (long long) num(d, "restarts_in_window"), str(event, "state"),
                     json_is_true(json_object_get(event, "dry_run")) ? " (dry run)" : "", drop) < 0)
                return NULL;
        return s;
}

static char *dump(json_t *j) {
        char *s;

        if (!j)
                return NULL;
        s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        return s;
}

static json_t *am_alert(const json_t *event, const char *severity, const char *starts_at,
                        const char *ends_at, const char *text) {
        const char *incident = json_string_value(json_object_get(event, "incident"));
        json_t *a;

        a = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}, s:s}",
                      "labels",
                      "alertname", ALERTMANAGER_ALERTNAME,
                      "instance", str(event, "host"),
                      "mta", str(event, "mta"),
                      "unit", str(event, "unit"),
                      "severity", severity,
                      /* One alert per incident; an event outside any incident stands alone. */
                      "incident", incident ? incident : str(event, "id"),
                      "annotations",
                      "summary", str(event, "summary"),
                      "description", text,
                      "startsAt", starts_at);
        if (a && ends_at && json_object_set_new(a, "endsAt", json_string(ends_at)) < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}

static char *render_alertmanager(const json_t *event, const json_t *am) {
        _cleanup_free_ char *text = NULL;
        const char *severity = json_string_value(json_object_get(am, "severity"));
        const char *starts_at = json_string_value(json_object_get(am, "starts_at"));
        const char *ends_at = json_string_value(json_object_get(am, "ends_at"));
        const char *superseded = json_string_value(json_object_get(am, "superseded"));
        json_t *list, *a;

        if (!severity || !starts_at)
                return NULL;
        text = payload_text(event);
        if (!text)
                return NULL;

        list = json_array();
        if (!list)
                return NULL;
        if (superseded) {
                a = am_alert(event, superseded, starts_at, str(event, "time"), text);
                if (json_array_append_new(list, a) < 0)
                        goto fail;
        }
        a = am_alert(event, severity, starts_at, ends_at, text);
        if (json_array_append_new(list, a) < 0)
                goto fail;
        return dump(list);

fail:
        json_decref(list);
        return NULL;
}

char *payload_render(AlertFormat format, const json_t *event, const json_t *am) {
        if (!json_is_object(event))
                return NULL;

        switch (format) {
        case ALERT_FORMAT_JSON:
                return json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER);
        case ALERT_FORMAT_SLACK: {
                _cleanup_free_ char *text = payload_text(event);
                return text ? dump(json_pack("{s:s}", "text", text)) : NULL;
        }
        case ALERT_FORMAT_ALERTMANAGER:
                return render_alertmanager(event, am);
        default:
                return NULL;
        }
}
