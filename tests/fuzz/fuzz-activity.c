/* SPDX-License-Identifier: MIT */
/* libFuzzer target: activity_classify() and activity_classify_line() with
 * the built-in Postfix, Exim and Sendmail patterns on one journal MESSAGE (the input,
 * cut at its first NUL as the journal field is read as a C string), the
 * invariants of a classified line (a cause class in range, a peer that is a
 * string of its buffer, fixable only for a failure or the MTA's own error),
 * and
 * activity_identifier_relevant() on the same bytes as SYSLOG_IDENTIFIER.
 *
 * The patterns are compiled once and only read afterwards; nothing else
 * outlives an input. User-supplied patterns are not fuzzed: glibc's
 * regcomp() is not what this project has to harden, and arbitrary EREs
 * can take it exponential time. */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "exim-log.h"
#include "fuzz.h"
#include "log.h"
#include "macros.h"
#include "postfix.h"
#include "sendmail-log.h"

static const char *const probed_hosts[] = {
        "relay.example.net", "192.0.2.2", "[2001:db8::25]", "mx.dead.example.", NULL
};
static ActivityPatterns patterns[3];
static const ActivityRules *const mta_rules[3] = { &postfix_activity_rules, &exim_activity_rules,
                                                   &sendmail_activity_rules };

static void patterns_free(void) {
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++)
                activity_patterns_done(&patterns[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char err[256];

        log_set_max_level(-1);
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++)
                if (activity_patterns_init(&patterns[i], mta_rules[i], NULL, NULL, probed_hosts,
                                           err, sizeof(err)) < 0)
                        abort();
        (void) atexit(patterns_free);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ActivityCounts counts = {};
        char *msg;

        msg = malloc(size + 1);
        if (!msg)
                return 0;
        memcpy(msg, data, size);
        msg[size] = 0;

        for (size_t i = 0; i < ELEMENTSOF(patterns); i++) {
                ActivityKind k = activity_classify(&patterns[i], msg);
                ActivityCounts c = {};
                ActivityLine l;
                bool failure;
                uint64_t sum = 0;

                FUZZ_CHECK(k >= ACTIVITY_NONE && k < _ACTIVITY_KIND_MAX);
                activity_count(&counts, k);
                (void) activity_identifier_relevant(&patterns[i], msg);
                (void) activity_identifier_mta_log(&patterns[i], msg);
                (void) activity_address_probed(&patterns[i], msg);

                activity_classify_line(&patterns[i], msg, &l);
                FUZZ_CHECK(l.kind == k);
                FUZZ_CHECK((unsigned) l.cause < _CAUSE_MAX);
                FUZZ_CHECK(memchr(l.peer, 0, sizeof(l.peer)) != NULL);
                FUZZ_CHECK(!l.peer_is_name || l.peer[0]);
                FUZZ_CHECK(!l.mta_error || l.mta_log);
                failure = k == ACTIVITY_DEFERRED || k == ACTIVITY_BOUNCED || k == ACTIVITY_CONN_ERROR ||
                          k == ACTIVITY_CONN_ERROR_PROBED;
                FUZZ_CHECK(!l.fixable || failure || l.mta_error);
                FUZZ_CHECK(!l.fixable || l.cause == CAUSE_MTA_INTERNAL || l.cause == CAUSE_CONNECT_FAILURE ||
                           l.cause == CAUSE_DNS_FAILURE);
                FUZZ_CHECK(!l.fixable || k != ACTIVITY_BOUNCED);
                activity_count_line(&c, &l);
                for (size_t j = 0; j < _CAUSE_MAX; j++) {
                        FUZZ_CHECK(c.fixable[j] <= c.failures[j] && c.bounced_by_cause[j] <= c.failures[j]);
                        sum += c.failures[j];
                }
                FUZZ_CHECK(sum == (failure ? 1 : 0));
        }
        FUZZ_CHECK(counts.sent + counts.deferred + counts.bounced + counts.conn_errors +
               counts.conn_errors_probed <= 2);

        free(msg);
        return 0;
}
