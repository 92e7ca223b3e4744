/* SPDX-License-Identifier: MIT */
#pragma once

#include <curl/curl.h>  /* CURLcode and its values only: libcurl is not linked here */
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "event.h"
#include "post-protocol.h"

/* Webhook delivery, at least once. Each HTTP POST runs in a short-lived
 * helper process, mta-watchdog-post (post-protocol.h), started with
 * exec_argv_input() and reaped on the loop: nothing blocks the loop but the
 * fsync() of small outbox files, libcurl is mapped only while an alert is in
 * flight, and a receiver's answer is parsed outside the daemon. The helper
 * is killed (its process group) at the receiver's timeout plus a grace, or
 * when the alerter is freed (shutdown, SIGHUP reload); such an attempt, and
 * one whose helper cannot run, crashes, exits non-zero or prints no answer,
 * is a failed attempt like a connection error.
 *
 * Each (event, receiver) is written to the outbox (outbox.h) in
 * state_dir/outbox/ before it is sent, and removed after a 2xx whose body
 * passes the receiver's checks (success_body, failure_body; for format =
 * slack the body must be "ok": delivery_classify_body()). Network
 * errors, timeouts, 408, 429 and 5xx are retried with capped exponential
 * backoff and jitter (retry_initial, retry_max; a Retry-After in seconds
 * is honoured) until the entry is max_age old; then, and at once for any
 * other status, it moves to outbox/failed/ and the reason is logged.
 * Events of one receiver go out one at a time, in order. A receiver holds
 * at most max_queued entries: the oldest "info" entry is dropped first,
 * then the oldest "warning"; "critical" never is. The next alert carries
 * the count as details.alerts_dropped. With rate_limit = N/DURATION (slack:
 * 1/1s unless set), two requests to a receiver, retries and re-posts
 * included, start at least DURATION/N apart; what waits stays queued.
 *
 * Formats: payload.h. Signing: sign.h (when secret_file is set). For
 * format = alertmanager the alert of an incident is re-posted every
 * resend_interval while it lasts; an event whose state is HEALTHY ends the
 * incident and resolves the alert (endsAt). */

typedef struct Alerter Alerter;

/* Opens the outbox in c->state_dir/outbox (creating it; without a
 * state_dir, or when that fails, alerts are kept in memory only, which is
 * logged) and resumes every entry stored there. A helper that cannot be
 * run is logged at error; alerts then stay queued. SIGCHLD must be blocked
 * (exec.h). Returns 0 or -ENOMEM. */
int alerter_new(sd_event *e, const Config *c, Alerter **ret);

/* Stores and queues EV for every receiver (EV's pointers need not outlive
 * the call). Returns 0 or -ENOMEM. A failed disk write is logged and the
 * entry kept in memory. */
int alerter_send(Alerter *a, const Event *ev);

/* Entries not yet delivered, over all receivers. */
size_t alerter_pending(const Alerter *a);

/* Receivers, in config order, and the alerts each delivered and gave up
 * since alerter_new() (for metrics). alerter_receiver_stats() returns 0, or
 * -ERANGE for I out of range; *RET_NAME is valid while A lives. */
size_t alerter_n_receivers(const Alerter *a);
int alerter_receiver_stats(const Alerter *a, size_t i, const char **ret_name, uint64_t *ret_sent,
                           uint64_t *ret_failed);

/* Kills the helpers in flight (reaped later by the loop); what is not
 * delivered stays in the outbox. */
Alerter *alerter_free(Alerter *a);

typedef enum DeliveryVerdict {
        DELIVERY_OK,      /* 2xx: delivered */
        DELIVERY_RETRY,   /* transport error (any CURLcode but CURLE_OK), 408, 429, 5xx;
                           * a 2xx whose body the receiver's checks refuse */
        DELIVERY_FAILED,  /* any other status: the receiver refused it for good */
        _DELIVERY_VERDICT_MAX,
} DeliveryVerdict;

/* Classifies one attempt from the transfer's result code and, when that is
 * CURLE_OK, its HTTP status. Pure, for tests. */
DeliveryVerdict delivery_classify(CURLcode code, long http_status);

/* Delay before retry number ATTEMPT (0 = the first retry), without jitter:
 * INITIAL doubled per attempt, capped at MAX. Microseconds. */
uint64_t retry_delay_usec(uint64_t initial, uint64_t max, unsigned attempt);

/* Judges the body of a 2xx answer, BODY being its first bytes (at most
 * RESPONSE_EXCERPT_MAX, NUL-terminated, as received). FAILURE and SUCCESS
 * are compiled EREs (regex(7), searched anywhere in BODY) or NULL for none:
 * a body FAILURE matches, or SUCCESS does not, is refused. A refused body is
 * DELIVERY_FAILED when SLACK_ERRORS is set and the body is one of the error
 * codes Slack's incoming webhooks answer for a post that can never succeed
 * (api.slack.com/messaging/webhooks, "Handling errors": invalid_payload,
 * channel_not_found, no_service, ...), else DELIVERY_RETRY. Otherwise
 * DELIVERY_OK. Pure, for tests. */
DeliveryVerdict delivery_classify_body(const regex_t *success, const regex_t *failure, bool slack_errors,
                                       const char *body);

/* Response bytes kept per attempt: for the body checks and the log. */
#define RESPONSE_EXCERPT_MAX POST_BODY_MAX

/* The helper program that posts alerts: PATH, or NULL for the installed one
 * (${libexecdir}/mta-watchdog/mta-watchdog-post, fixed at build time).
 * For tests, which run the one in the build tree; affects later attempts. */
void alerter_set_post_helper(const char *path);

/* Request spacing of one receiver (rate_limit = N/DURATION: INTERVAL_USEC is
 * DURATION/N, 0 for no limit). Times are CLOCK_MONOTONIC microseconds. */
typedef struct RateLimit {
        uint64_t interval_usec;
        uint64_t next_usec;      /* no request starts before this */
} RateLimit;

/* How long a request that wants to start at NOW must wait: 0 = at once. */
uint64_t rate_limit_wait(const RateLimit *rl, uint64_t now);

/* Records a request started at NOW: the next one waits until NOW + interval. */
void rate_limit_note(RateLimit *rl, uint64_t now);
