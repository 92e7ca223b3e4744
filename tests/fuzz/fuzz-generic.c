/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the generic profile (probes/generic.c). The input's
 * first line is a queue file's name for generic_name_arrival(): 1 only for
 * 1 to 12 digits ended by '.' or the end, and then the value those digits
 * spell. Each further line is classified with nullmailer's words
 * (etc/mta-watchdog-nullmailer.ini) as the activity feed does, with the
 * open start's peer handed to a failure that names none
 * (activity_line_set_peer()): the invariants of fuzz-activity.c hold, a
 * started line is never a failure and counts in started alone. The
 * patterns are compiled once. The whole input is also read as an
 * OpenSMTPD envelope (probes/opensmtpd-envelope.c): parsed or -EBADMSG,
 * values in range, and its next attempt never before ctime, never before
 * the retry's own step, and after the file's time plus the margin. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "fuzz.h"
#include "generic.h"
#include "log.h"
#include "opensmtpd-envelope.h"

static const char *const probed_hosts[] = { "192.0.2.2", "relay.example.org", NULL };
static const ActivityRules rules = {
        .delivered = "^Sent file\\.$",
        .failed = "^(Sending failed: |Sending timed out, killing protocol|Sending process crashed or was killed)",
        .started = "^Starting delivery: host: ([^ ]+) protocol: [^ ]+ file: ",
        .failed_cause = CAUSE_DEFERRED_REMOTE,
        .error_cause = CAUSE_CONNECT_FAILURE,
};
#define ERROR_PATTERN "^Sending failed: ()(Connection refused|Connection timed out|Host or network unreachable|" \
                      "Connection failed|Socket failed)$"
static ActivityPatterns patterns;

static void patterns_free(void) {
        activity_patterns_done(&patterns);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char err[256];

        log_set_max_level(-1);
        if (activity_patterns_init(&patterns, &rules, NULL, ERROR_PATTERN, probed_hosts, err, sizeof(err)) < 0)
                abort();
        (void) atexit(patterns_free);
        return 0;
}

static void check_arrival(const char *name) {
        uint64_t sec = 0, v = 0;
        size_t n = strspn(name, "0123456789");
        int r = generic_name_arrival(GENERIC_ARRIVAL_EPOCH_PREFIX, name, &sec);

        FUZZ_CHECK(r == 0 || r == 1);
        FUZZ_CHECK(r == (n >= 1 && n <= 12 && (name[n] == '\0' || name[n] == '.')));
        for (size_t i = 0; r == 1 && i < n; i++)
                v = v * 10 + (uint64_t) (name[i] - '0');
        FUZZ_CHECK(r == 0 || sec == v);
        FUZZ_CHECK(generic_name_arrival(GENERIC_ARRIVAL_MTIME, name, &sec) == 0);
}

static void check_envelope(const uint8_t *data, size_t size) {
        static const uint64_t written[] = { 0, 1796090906ULL, UINT64_C(1) << 40, UINT64_MAX };
        OpensmtpdEnvelope e = { .ctime_sec = 4242 };
        int r = opensmtpd_envelope_parse((const char *) data, size, &e);

        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0) {
                FUZZ_CHECK(e.ctime_sec == 4242);
                return;
        }
        FUZZ_CHECK((unsigned) e.type < _OPENSMTPD_DELIVERY_MAX);
        FUZZ_CHECK(e.ctime_sec <= (UINT64_C(1) << 40));
        for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
                uint64_t base = e.type == OPENSMTPD_DELIVERY_MTA ? 400 : 10;
                uint64_t next = opensmtpd_envelope_next_try(&e, written[i]);
                uint64_t w = written[i] > (UINT64_C(1) << 40) ? UINT64_C(1) << 40 : written[i];

                if (e.retry == 0) {
                        FUZZ_CHECK(next == e.ctime_sec);
                        continue;
                }
                if (next == UINT64_MAX) {
                        FUZZ_CHECK(e.retry > (UINT32_C(1) << 26));
                        continue;
                }
                FUZZ_CHECK(next >= e.ctime_sec + base * e.retry * e.retry);
                FUZZ_CHECK(next > w + OPENSMTPD_UPDATE_MARGIN_SEC);
                FUZZ_CHECK((next - e.ctime_sec) % base == 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1), *save = NULL, *line;
        char start_peer[ACTIVITY_PEER_MAX] = "";
        bool first = true;

        if (!text)
                return 0;
        check_envelope(data, size);
        memcpy(text, data, size);
        text[size] = 0;   /* cut at the first NUL, as a line reader does */
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                ActivityCounts c = {};
                ActivityLine l;
                bool failure;
                uint64_t sum = 0;

                if (first) {
                        check_arrival(line);
                        first = false;
                        continue;
                }
                activity_classify_line(&patterns, line, &l);
                FUZZ_CHECK(l.kind >= ACTIVITY_NONE && l.kind < _ACTIVITY_KIND_MAX);
                FUZZ_CHECK((unsigned) l.cause < _CAUSE_MAX);
                FUZZ_CHECK(memchr(l.peer, 0, sizeof(l.peer)) != NULL);
                if (l.kind == ACTIVITY_STARTED)
                        (void) snprintf(start_peer, sizeof(start_peer), "%s", l.peer);
                else
                        activity_line_set_peer(&patterns, &l, start_peer);
                failure = l.kind == ACTIVITY_DEFERRED || l.kind == ACTIVITY_BOUNCED || l.kind == ACTIVITY_CONN_ERROR ||
                          l.kind == ACTIVITY_CONN_ERROR_PROBED;
                FUZZ_CHECK(!l.fixable || failure || l.mta_error);
                FUZZ_CHECK(failure || l.mta_error || l.cause == CAUSE_NONE);
                FUZZ_CHECK(l.kind != ACTIVITY_CONN_ERROR_PROBED || l.peer[0]);
                FUZZ_CHECK(l.kind != ACTIVITY_DEFERRED || l.cause == CAUSE_DEFERRED_REMOTE);
                activity_count_line(&c, &l);
                for (size_t j = 0; j < _CAUSE_MAX; j++) {
                        FUZZ_CHECK(c.fixable[j] <= c.failures[j]);
                        sum += c.failures[j];
                }
                FUZZ_CHECK(sum == (failure ? 1 : 0));
                FUZZ_CHECK(c.sent + c.deferred + c.bounced + c.conn_errors + c.conn_errors_probed + c.completed +
                           c.queue_runs + c.started <= 1);
                FUZZ_CHECK(c.started == (l.kind == ACTIVITY_STARTED));
        }
        free(text);
        return 0;
}
