/* SPDX-License-Identifier: MIT */
#pragma once

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "event.h"

/* Webhook delivery with the libcurl multi interface driven by sd-event
 * (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION): nothing blocks the loop.
 * Each (event, receiver) is queued in memory in order; a 2xx removes it;
 * network errors, timeouts, 408, 429 and 5xx are retried with capped
 * exponential backoff (1s doubling up to 60s) for up to one hour; other
 * responses are dropped and logged. Events of one receiver go out one at a
 * time, in order. */

typedef struct Alerter Alerter;

/* Returns 0, -ENOMEM, or -EIO when libcurl cannot be set up. */
int alerter_new(sd_event *e, const Config *c, Alerter **ret);

/* Queues EV for every receiver (JSON is built now, so EV's pointers need
 * not outlive the call). Returns 0 or -ENOMEM. */
int alerter_send(Alerter *a, const Event *ev);

/* Entries not yet delivered, over all receivers. */
size_t alerter_pending(const Alerter *a);

/* Aborts transfers in flight and drops everything not yet delivered. */
Alerter *alerter_free(Alerter *a);

typedef enum DeliveryVerdict {
        DELIVERY_OK,      /* 2xx: delivered */
        DELIVERY_RETRY,   /* transport error (any CURLcode but CURLE_OK), 408, 429, 5xx */
        DELIVERY_FAILED,  /* any other status: the receiver refused it for good */
        _DELIVERY_VERDICT_MAX,
} DeliveryVerdict;

/* Classifies one attempt from the transfer's result code and, when that is
 * CURLE_OK, its HTTP status. Pure, for tests. */
DeliveryVerdict delivery_classify(CURLcode code, long http_status);

/* Delay before retry number ATTEMPT (0 = the first retry), without jitter:
 * 1s, 2s, 4s, ... capped at 60s. In microseconds. */
uint64_t retry_delay_usec(unsigned attempt);
