/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macros.h"
#include "state.h"

#define STATE_SCHEMA "mta-watchdog.state/1"
#define STATE_FILE_MAX (64 * 1024)

uint64_t state_mono_to_real(uint64_t t, uint64_t now_mono, uint64_t now_real) {
        uint64_t ago = now_mono > t ? now_mono - t : 0;
        return now_real > ago ? now_real - ago : 0;
}

uint64_t state_real_to_mono(uint64_t t, uint64_t now_mono, uint64_t now_real) {
        uint64_t ago = now_real > t ? now_real - t : 0;
        return now_mono > ago ? now_mono - ago : 0; /* before this boot: as old as it can be */
}

char *state_to_json(const SavedState *s) {
        json_t *root, *restarts;
        char *text;

        restarts = json_array();
        if (!restarts)
                return NULL;
        for (size_t i = 0; i < s->n_restarts; i++)
                if (json_array_append_new(restarts, json_integer((json_int_t) s->restarts_realtime_usec[i])) < 0) {
                        json_decref(restarts);
                        return NULL;
                }

        root = json_pack("{s:s, s:s, s:I, s:o, s:o, s:I}",
                         "schema", STATE_SCHEMA,
                         "state", detector_state_to_string(s->state),
                         "step", (json_int_t) s->step,
                         "incident", s->incident[0] ? json_string(s->incident) : json_null(),
                         "restarts_usec", restarts,
                         "gave_up_usec", (json_int_t) s->gave_up_realtime_usec);
        if (!root)
                return NULL;
        /* Only while a restart job is pending (new fields, see state_from_json()). */
        if (s->job[0] &&
            (json_object_set_new(root, "job", json_string(s->job)) < 0 ||
             json_object_set_new(root, "action_slow", json_boolean(s->action_slow)) < 0)) {
                json_decref(root);
                return NULL;
        }
        if (s->daemon_pid > 0 && json_object_set_new(root, "daemon_pid", json_integer(s->daemon_pid)) < 0) {
                json_decref(root);
                return NULL;
        }
        /* Only when known (new fields, see state_from_json()). */
        if ((s->cause != CAUSE_NONE && failure_cause_to_string(s->cause) &&
             (json_object_set_new(root, "cause", json_string(failure_cause_to_string(s->cause))) < 0 ||
              json_object_set_new(root, "peer", json_string(s->peer)) < 0)) ||
            (s->gave_up_cause != CAUSE_NONE && failure_cause_to_string(s->gave_up_cause) &&
             json_object_set_new(root, "gave_up_cause", json_string(failure_cause_to_string(s->gave_up_cause))) < 0)) {
                json_decref(root);
                return NULL;
        }
        text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(root);
        return text;
}

/* A cause class by its name (failure_cause_to_string()); NULL is
 * CAUSE_NONE. Returns 0, or -EBADMSG for a name of no class. */
static int cause_from_string(const char *name, FailureCause *ret) {
        *ret = CAUSE_NONE;
        if (!name)
                return 0;
        for (int c = 0; c < _CAUSE_MAX; c++)
                if (failure_cause_to_string(c) && strcmp(name, failure_cause_to_string(c)) == 0) {
                        *ret = c;
                        return 0;
                }
        return -EBADMSG;
}

int state_from_json(const char *text, SavedState *ret) {
        SavedState s = {};
        json_t *root, *restarts, *incident = NULL, *job = NULL, *v;
        int action_slow = 0;
        const char *schema, *state, *cause = NULL, *peer = NULL, *gave_up_cause = NULL;
        json_int_t step, gave_up = 0, daemon_pid = 0;
        json_error_t err;
        size_t i;
        int r = -EBADMSG;

        root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
        if (!root)
                return -EBADMSG;
        /* "job", "action_slow", "cause", "peer", "gave_up_cause" and
         * "daemon_pid" are newer: a file without them is fine. */
        if (json_unpack(root, "{s:s, s:s, s:I, s:o, s:o, s?I, s?o, s?b, s?s, s?s, s?s, s?I}",
                        "schema", &schema, "state", &state, "step", &step,
                        "incident", &incident, "restarts_usec", &restarts, "gave_up_usec", &gave_up,
                        "job", &job, "action_slow", &action_slow, "cause", &cause, "peer", &peer,
                        "gave_up_cause", &gave_up_cause, "daemon_pid", &daemon_pid) < 0)
                goto finish;
        if (daemon_pid < 0 || daemon_pid > INT32_MAX)
                goto finish;
        s.daemon_pid = (uint32_t) daemon_pid;
        if (cause_from_string(cause, &s.cause) < 0 || cause_from_string(gave_up_cause, &s.gave_up_cause) < 0 ||
            (peer && strlen(peer) >= sizeof(s.peer)))
                goto finish;
        (void) snprintf(s.peer, sizeof(s.peer), "%s", peer ?: "");
        if (strcmp(schema, STATE_SCHEMA) != 0 || step < 0 || gave_up < 0 || !json_is_array(restarts))
                goto finish;
        s.gave_up_realtime_usec = (uint64_t) gave_up;

        s.state = _DETECTOR_STATE_MAX;
        for (int k = 0; k < _DETECTOR_STATE_MAX; k++)
                if (strcmp(state, detector_state_to_string(k)) == 0)
                        s.state = k;
        if (s.state == _DETECTOR_STATE_MAX)
                goto finish;
        s.step = (size_t) step;

        if (json_is_string(incident)) {
                if (strlen(json_string_value(incident)) >= sizeof(s.incident))
                        goto finish;
                (void) snprintf(s.incident, sizeof(s.incident), "%s", json_string_value(incident));
        } else if (!json_is_null(incident))
                goto finish;

        if (job && json_is_string(job)) {
                if (strlen(json_string_value(job)) >= sizeof(s.job))
                        goto finish;
                (void) snprintf(s.job, sizeof(s.job), "%s", json_string_value(job));
        } else if (job && !json_is_null(job))
                goto finish;
        s.action_slow = action_slow;

        json_array_foreach(restarts, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        goto finish;
                /* Keep the newest ones if a file holds more than we track. */
                if (s.n_restarts == DETECTOR_RESTARTS_MAX) {
                        memmove(s.restarts_realtime_usec, s.restarts_realtime_usec + 1,
                                (DETECTOR_RESTARTS_MAX - 1) * sizeof(uint64_t));
                        s.n_restarts--;
                }
                s.restarts_realtime_usec[s.n_restarts++] = (uint64_t) json_integer_value(v);
        }

        *ret = s;
        r = 0;
finish:
        json_decref(root);
        return r;
}

int state_load(const char *dir, SavedState *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (asprintf(&path, "%s/%s", dir, STATE_FILE) < 0)
                return -ENOMEM;
        r = read_file_bounded(path, STATE_FILE_MAX, &text, NULL);
        if (r == -E2BIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return state_from_json(text, ret);
}

int state_save(const char *dir, const SavedState *s) {
        _cleanup_free_ char *text = state_to_json(s);

        if (!text)
                return -ENOMEM;
        return write_file_atomic(dir, STATE_FILE, text, strlen(text), 0600);
}
