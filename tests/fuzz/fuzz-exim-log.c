/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Exim's main log classifier (probes/exim-log.c) on one
 * line, as the log file follower hands it over (the input cut at its first
 * NUL and at its first newline): exim_log_own_text() on a copy never
 * grows the line and leaves it NUL-terminated, and the classified line
 * keeps the invariants of fuzz-activity.c; the new kinds (Completed, Start
 * queue run) are never failures. The patterns are compiled once. */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "exim-log.h"
#include "fuzz.h"
#include "log.h"

static const char *const probed_hosts[] = { "smtp.example.net", "192.0.2.10", "[2001:db8::25]", NULL };
static ActivityPatterns patterns;

static void patterns_free(void) {
        activity_patterns_done(&patterns);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char err[256];

        log_set_max_level(-1);
        if (activity_patterns_init(&patterns, &exim_activity_rules, NULL, NULL, probed_hosts, err, sizeof(err)) < 0)
                abort();
        (void) atexit(patterns_free);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size);
        ActivityCounts c = {};
        ActivityLine l;
        char *line, *own;
        size_t n;
        bool failure;
        uint64_t sum = 0;

        if (nl)
                size = (size_t) (nl - data);
        line = malloc(size + 1);
        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = 0;
        n = strlen(line);

        own = strdup(line);
        if (own) {
                exim_log_own_text(own);
                FUZZ_CHECK(strlen(own) <= n);
                free(own);
        }

        activity_classify_line(&patterns, line, &l);
        FUZZ_CHECK(l.kind >= ACTIVITY_NONE && l.kind < _ACTIVITY_KIND_MAX);
        FUZZ_CHECK((unsigned) l.cause < _CAUSE_MAX);
        FUZZ_CHECK(memchr(l.peer, 0, sizeof(l.peer)) != NULL);
        FUZZ_CHECK(!l.mta_error || l.mta_log);
        failure = l.kind == ACTIVITY_DEFERRED || l.kind == ACTIVITY_BOUNCED || l.kind == ACTIVITY_CONN_ERROR ||
                  l.kind == ACTIVITY_CONN_ERROR_PROBED;
        FUZZ_CHECK(!l.fixable || failure || l.mta_error);
        FUZZ_CHECK(!l.fixable || l.kind != ACTIVITY_BOUNCED);
        FUZZ_CHECK(failure || l.mta_error || l.cause == CAUSE_NONE);
        activity_count_line(&c, &l);
        for (size_t j = 0; j < _CAUSE_MAX; j++) {
                FUZZ_CHECK(c.fixable[j] <= c.failures[j]);
                sum += c.failures[j];
        }
        FUZZ_CHECK(sum == (failure ? 1 : 0));
        FUZZ_CHECK(c.sent + c.deferred + c.bounced + c.conn_errors + c.conn_errors_probed + c.completed +
                   c.queue_runs <= 1);

        free(line);
        return 0;
}
