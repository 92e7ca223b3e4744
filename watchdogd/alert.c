/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "alert.h"
#include "exec.h"
#include "log.h"
#include "macros.h"
#include "outbox.h"
#include "payload.h"
#include "post-protocol.h"
#include "sign.h"
#include "strv.h"

/* Longest Retry-After we wait for; a receiver asking for more gets retried sooner. */
#define RETRY_AFTER_MAX_USEC (3600 * USEC_PER_SEC)

/* The helper gets the receiver's timeout for its transfer (CURLOPT_TIMEOUT_MS)
 * and is killed this much later: time to start, and to print its answer. */
#define POST_GRACE_USEC (2 * USEC_PER_SEC)

#ifndef MTA_WATCHDOG_POST_PATH
#define MTA_WATCHDOG_POST_PATH "/usr/libexec/mta-watchdog/mta-watchdog-post"
#endif

static const char *post_helper = MTA_WATCHDOG_POST_PATH;

void alerter_set_post_helper(const char *path) {
        post_helper = path ?: MTA_WATCHDOG_POST_PATH;
}

typedef struct AlertEntry AlertEntry;
struct AlertEntry {
        AlertEntry *next;
        json_t *event;                 /* schema mta-watchdog.event/1 */
        json_t *am;                    /* Alertmanager view (payload.h), or NULL */
        uint64_t seq;
        bool stored;                   /* has a file in the outbox */
        char id[UUID_STRING_MAX];      /* event id, for logs and webhook-id */
        char kind[32];                 /* event name, for logs */
        int severity;                  /* severity_rank() */
        uint64_t queued_usec;          /* CLOCK_REALTIME: ages survive restarts */
        unsigned attempts;             /* attempts that ended in DELIVERY_RETRY */
};

/* The Alertmanager alert of the incident in progress, re-posted while it lasts. */
typedef struct AmIncident {
        bool open;
        char incident[UUID_STRING_MAX];
        int severity;
        char starts_at[32];
        json_t *last_event;
} AmIncident;

typedef struct Receiver {
        Alerter *alerter;
        char *name;
        char *url;
        char *ca_file;
        AlertFormat format;
        uint64_t timeout_usec;
        uint64_t retry_initial_usec, retry_max_usec, max_age_usec, resend_interval_usec;
        unsigned max_queued;
        uint8_t *secret;
        size_t secret_size;
        char **headers;                /* Content-Type, Expect and the configured ones */
        regex_t success_re, failure_re;  /* success_body, failure_body */
        bool has_success_re, has_failure_re;
        RateLimit rate;                /* rate_limit */
        sd_event_source *rate_timer;   /* the head waits for its turn under rate_limit */

        AlertEntry *head, *tail;       /* FIFO; head is the one being sent */
        size_t n_entries;
        uint64_t next_seq;
        unsigned dropped;              /* entries dropped since the last one queued */
        uint64_t n_sent, n_failed;     /* delivered, given up: for metrics */

        ExecRun *run;                  /* the helper posting head, or NULL */
        bool post_unusable;            /* the last attempt's helper could not run at all */
        char errbuf[POST_ERROR_MAX + 256];
        char response[RESPONSE_EXCERPT_MAX + 1];

        sd_event_source *retry_timer;  /* backoff before sending head again */
        bool failing;                  /* the last attempt failed: log repeats at debug */

        AmIncident am;
        sd_event_source *resend_timer;
} Receiver;

struct Alerter {
        sd_event *event;
        char *user_agent;
        Outbox *outbox;                /* NULL: memory only */

        Receiver *receivers;
        size_t n_receivers;
};

/* Error codes of Slack's incoming webhooks that no retry of the same post
 * can cure (api.slack.com/messaging/webhooks, "Handling errors"). */
static const char *const slack_permanent_errors[] = {
        "invalid_payload", "no_text", "user_not_found", "channel_not_found", "channel_is_archived",
        "action_prohibited", "posting_to_general_channel_denied", "too_many_attachments",
        "no_service", "no_service_id", "no_team", "team_disabled", "invalid_token",
};

static bool slack_error_is_permanent(const char *body) {
        size_t n;

        body += strspn(body, " \t\r\n");
        n = strcspn(body, " \t\r\n");
        if (body[n + strspn(body + n, " \t\r\n")] != '\0')
                return false;  /* more than one word: not one of Slack's codes */
        for (size_t i = 0; i < ELEMENTSOF(slack_permanent_errors); i++)
                if (strlen(slack_permanent_errors[i]) == n && strncmp(body, slack_permanent_errors[i], n) == 0)
                        return true;
        return false;
}

DeliveryVerdict delivery_classify_body(const regex_t *success, const regex_t *failure, bool slack_errors,
                                       const char *body) {
        if (!body)
                body = "";
        if ((failure && regexec(failure, body, 0, NULL, 0) == 0) ||
            (success && regexec(success, body, 0, NULL, 0) != 0))
                return slack_errors && slack_error_is_permanent(body) ? DELIVERY_FAILED : DELIVERY_RETRY;
        return DELIVERY_OK;
}

uint64_t rate_limit_wait(const RateLimit *rl, uint64_t now) {
        if (rl->interval_usec == 0 || now >= rl->next_usec)
                return 0;
        return rl->next_usec - now;
}

void rate_limit_note(RateLimit *rl, uint64_t now) {
        if (rl->interval_usec == 0)
                return;
        rl->next_usec = now > UINT64_MAX - rl->interval_usec ? UINT64_MAX : now + rl->interval_usec;
}

DeliveryVerdict delivery_classify(CURLcode code, long http_status) {
        if (code != CURLE_OK)
                return DELIVERY_RETRY;
        if (http_status >= 200 && http_status <= 299)
                return DELIVERY_OK;
        if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status <= 599))
                return DELIVERY_RETRY;
        return DELIVERY_FAILED;
}

uint64_t retry_delay_usec(uint64_t initial, uint64_t max, unsigned attempt) {
        uint64_t d = initial;

        for (unsigned i = 0; i < attempt && d < max; i++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        return d < max ? d : max;
}

/* Up to 20% of DELAY, so that receivers (and daemons on many hosts) that
 * failed together do not retry in lockstep. */
static uint64_t retry_jitter_usec(uint64_t delay) {
        uint64_t x;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t) sizeof(x))
                return 0;  /* no jitter is fine, no alert is not */
        return x % (delay / 5 + 1);
}

static uint64_t now_clock(Alerter *a, clockid_t clock) {
        uint64_t now;

        if (sd_event_now(a->event, clock, &now) < 0) {
                struct timespec ts;
                (void) clock_gettime(clock, &ts);
                now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        }
        return now;
}

/* The rate limit reads the clock itself: the loop's timestamp (sd_event_now())
 * is that of the last wake-up, earlier than the request it would space. */
static uint64_t mono_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void alert_entry_free(AlertEntry *e) {
        if (!e)
                return;
        json_decref(e->event);
        json_decref(e->am);
        free(e);
}

static void receiver_unlink(Receiver *r, AlertEntry *prev, AlertEntry *e) {
        if (prev)
                prev->next = e->next;
        else
                r->head = e->next;
        if (r->tail == e)
                r->tail = prev;
        r->n_entries--;
}

/* How an entry leaves the queue: delivered or dropped (file removed), or
 * given up (file moved to failed/). */
static void receiver_finish_entry(Receiver *r, AlertEntry *prev, AlertEntry *e, bool failed) {
        Outbox *o = r->alerter->outbox;
        int k;

        receiver_unlink(r, prev, e);
        if (e->stored && o) {
                k = failed ? outbox_fail(o, r->name, e->seq) : outbox_remove(o, r->name, e->seq);
                if (k < 0)
                        log_error_errno(k, "alert %s: cannot %s outbox entry %" PRIu64 " of %s %s: %m",
                                        r->name, failed ? "set aside" : "remove", e->seq, e->kind, e->id);
        }
        alert_entry_free(e);
}

/* Kills the helper in flight (its process group) and leaves the reaping to the loop. */
static void receiver_abort_transfer(Receiver *r) {
        r->run = exec_cancel(r->run);
}

/* ---- per-receiver delivery ---- */

static void receiver_kick(Receiver *r);

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Receiver *r = userdata;

        r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
        receiver_kick(r);
        return 0;
}

static int receiver_schedule_retry(Receiver *r, uint64_t delay) {
        int k;

        r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
        k = sd_event_add_time_relative(r->alerter->event, &r->retry_timer, CLOCK_MONOTONIC,
                                       delay, 0, on_retry_timer, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(r->retry_timer, "alert-retry");
        return 0;
}

/* Replaces control characters so a peer's response cannot forge log lines. */
static void sanitize_excerpt(char *s) {
        size_t n = strlen(s);

        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        s[i] = ' ';
        while (n > 0 && s[n - 1] == ' ')
                s[--n] = '\0';
}

static const char *entry_string(const AlertEntry *e, const char *key) {
        const char *v = json_string_value(json_object_get(e->event, key));
        return v && v[0] ? v : NULL;
}

/* An entry given up: at error, with journal fields (README "Status and journal"). */
_printf_(3, 4)
static void log_given_up(const Receiver *r, const AlertEntry *e, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0) {
                msg = NULL;
                log_error("alert %s: gave up on %s %s", r->name, e->kind, e->id);
                return;
        }

        LogField fields[] = {
                { "MTA", entry_string(e, "mta") },
                { "UNIT", entry_string(e, "unit") },
                { "INCIDENT", entry_string(e, "incident") },
                { "EVENT", e->kind },
                { "ALERT_ID", e->id },
                { "RECEIVER", r->name },
        };
        log_struct(LOG_ERR, MESSAGE_ID_ALERT_GIVEN_UP, fields, ELEMENTSOF(fields), "%s", msg);
}

/* One attempt of the head entry ended with VERDICT: drop it, set it aside or arm the retry.
 * CODE is libcurl's result (CURLE_OK: an HTTP answer came), TLS_TRUST whether it is a
 * failure to trust the receiver's certificate (post-protocol.h). */
static void receiver_attempt_done(Receiver *r, DeliveryVerdict verdict, int code, bool tls_trust, long status,
                                  bool body_refused, uint64_t retry_after_usec) {
        AlertEntry *e = r->head;
        uint64_t age, now, delay;
        int k;

        switch (verdict) {

        case DELIVERY_OK:
                log_info("alert %s: delivered %s %s (HTTP %ld)", r->name, e->kind, e->id, status);
                r->n_sent++;
                r->failing = false;
                receiver_finish_entry(r, NULL, e, false);
                break;

        case DELIVERY_FAILED:
                sanitize_excerpt(r->response);
                log_given_up(r, e, "alert %s: %s %s refused with HTTP %ld%s, moved to failed/: %s",
                             r->name, e->kind, e->id, status, body_refused ? " and an error body" : "",
                             r->response[0] ? r->response : "(empty response)");
                r->n_failed++;
                r->failing = false;
                receiver_finish_entry(r, NULL, e, true);
                break;

        case DELIVERY_RETRY:
        default: {
                char why[sizeof(r->errbuf) + RESPONSE_EXCERPT_MAX + 128];

                if (code != CURLE_OK) {
                        if (r->errbuf[0])
                                (void) snprintf(why, sizeof(why), "%s%s", r->errbuf,
                                                tls_trust ? "; the receiver's TLS certificate is not trusted (see ca_file)" : "");
                        else
                                (void) snprintf(why, sizeof(why), "libcurl error %d%s", code,
                                                tls_trust ? "; the receiver's TLS certificate is not trusted (see ca_file)" : "");
                } else if (body_refused) {
                        sanitize_excerpt(r->response);
                        (void) snprintf(why, sizeof(why), "HTTP %ld with an unexpected body: %s", status,
                                        r->response[0] ? r->response : "(empty response)");
                } else
                        (void) snprintf(why, sizeof(why), "HTTP %ld", status);

                now = now_clock(r->alerter, CLOCK_REALTIME);
                age = now > e->queued_usec ? now - e->queued_usec : 0;
                if (age >= r->max_age_usec) {
                        log_given_up(r, e, "alert %s: giving up on %s %s after %u attempts in %" PRIu64 "s, moved to failed/: %s",
                                     r->name, e->kind, e->id, e->attempts + 1, age / USEC_PER_SEC, why);
                        r->n_failed++;
                        r->failing = false;
                        receiver_finish_entry(r, NULL, e, true);
                        break;
                }

                if (retry_after_usec > 0)
                        delay = retry_after_usec < RETRY_AFTER_MAX_USEC ? retry_after_usec : RETRY_AFTER_MAX_USEC;
                else {
                        delay = retry_delay_usec(r->retry_initial_usec, r->retry_max_usec, e->attempts);
                        delay += retry_jitter_usec(delay);
                }
                e->attempts++;

                log_full(r->failing ? LOG_DEBUG : (tls_trust || r->post_unusable ? LOG_ERR : LOG_WARNING),
                         "alert %s: sending %s %s to %s failed (%s), retrying in %" PRIu64 "ms",
                         r->name, e->kind, e->id, r->url, why, delay / USEC_PER_MSEC);
                r->failing = true;

                k = receiver_schedule_retry(r, delay);
                if (k < 0) {
                        /* Without a timer this queue would stall; the entry stays on disk for the next start. */
                        log_error_errno(k, "alert %s: cannot schedule a retry of %s %s, dropping it from memory: %m",
                                        r->name, e->kind, e->id);
                        receiver_unlink(r, NULL, e);
                        alert_entry_free(e);
                        break;
                }
                return;  /* the timer kicks the queue */
        }
        }

        receiver_kick(r);
}

static void on_post_done(ExecRun *run, int status, const char *output, size_t size, void *userdata);

/* Renders the head entry, signs it, and starts the helper that posts it. */
static int receiver_start(Receiver *r) {
        _cleanup_free_ char *body = NULL, *request = NULL, *sig = NULL, *l1 = NULL, *l2 = NULL, *l3 = NULL;
        _cleanup_free_ const char **headers = NULL;
        char *argv[] = { (char *) post_helper, NULL };
        Alerter *a = r->alerter;
        AlertEntry *e = r->head;
        size_t n = 0;
        int k;

        r->errbuf[0] = '\0';
        r->response[0] = '\0';
        r->post_unusable = false;

        body = payload_render(r->format, e->event, e->am);
        if (!body)
                return -ENOMEM;

        headers = calloc(strv_length(r->headers) + 4, sizeof(char *));
        if (!headers)
                return -ENOMEM;
        for (char **i = r->headers; i && *i; i++)
                headers[n++] = *i;
        if (r->secret) {
                uint64_t ts = now_clock(a, CLOCK_REALTIME) / USEC_PER_SEC;

                sig = webhook_sign(r->secret, r->secret_size, e->id, ts, body, strlen(body));
                if (!sig ||
                    asprintf(&l1, "webhook-id: %s", e->id) < 0 ||
                    asprintf(&l2, "webhook-timestamp: %" PRIu64, ts) < 0 ||
                    asprintf(&l3, "webhook-signature: %s", sig) < 0)
                        return -ENOMEM;
                headers[n++] = l1;
                headers[n++] = l2;
                headers[n++] = l3;
        }

        uint64_t timeout_ms = r->timeout_usec / USEC_PER_MSEC;
        if (timeout_ms == 0)
                timeout_ms = 1;  /* 0 would mean "no timeout" to libcurl */

        PostRequest req = {
                .url = r->url,
                .body = body,
                .headers = headers,
                .user_agent = a->user_agent,
                .timeout_ms = timeout_ms,
                .ca_file = r->ca_file,
        };
        k = post_request_encode(&req, &request);
        if (k < 0)
                return k;

        k = exec_argv_input(a->event, argv, request, strlen(request), timeout_ms * USEC_PER_MSEC + POST_GRACE_USEC,
                            on_post_done, r, &r->run);
        /* The headers may hold tokens; the copy the helper reads is its own. */
        explicit_bzero(request, strlen(request));
        if (k < 0)
                return k;

        log_debug("alert %s: sending %s %s (attempt %u)", r->name, e->kind, e->id, e->attempts + 1);
        return 0;
}

static int on_rate_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Receiver *r = userdata;

        r->rate_timer = sd_event_source_disable_unref(r->rate_timer);
        receiver_kick(r);
        return 0;
}

/* Sends the head entry unless a transfer, a backoff or the wait for the
 * rate limit is already running. */
static void receiver_kick(Receiver *r) {
        uint64_t now, wait;
        int k;

        if (r->run || r->retry_timer || r->rate_timer || !r->head)
                return;

        now = mono_now();
        wait = rate_limit_wait(&r->rate, now);
        if (wait > 0) {
                k = sd_event_add_time(r->alerter->event, &r->rate_timer, CLOCK_MONOTONIC, now + wait,
                                      USEC_PER_MSEC, on_rate_timer, r);
                if (k >= 0) {
                        (void) sd_event_source_set_description(r->rate_timer, "alert-rate-limit");
                        log_debug("alert %s: rate limit, sending %s %s in %" PRIu64 "ms",
                                  r->name, r->head->kind, r->head->id, wait / USEC_PER_MSEC);
                        return;
                }
                /* Better a request too early than a queue that never moves. */
                log_warning_errno(k, "alert %s: cannot wait for the rate limit, sending now: %m", r->name);
        }

        k = receiver_start(r);
        if (k < 0) {
                /* Treated as a transport error: retried with backoff. */
                receiver_abort_transfer(r);
                (void) snprintf(r->errbuf, sizeof(r->errbuf), "cannot set up transfer: %s", strerror(-k));
                receiver_attempt_done(r, DELIVERY_RETRY, CURLE_FAILED_INIT, false, 0, false, 0);
                return;
        }
        rate_limit_note(&r->rate, now);
}

/* The helper ended: its answer decides the attempt. A helper that could not
 * run, crashed, overran its deadline, exited non-zero or printed no answer
 * is a failed attempt, retried like a connection error. */
static void on_post_done(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Receiver *r = userdata;
        DeliveryVerdict verdict;
        bool body_refused = false;
        PostAnswer ans;
        int k = -EBADMSG;

        r->run = NULL;  /* freed by exec.c when we return */

        if (status == 0)
                k = post_answer_decode(output, size, &ans);
        if (k < 0) {
                if (status == -ETIMEDOUT)
                        (void) snprintf(r->errbuf, sizeof(r->errbuf), "%s did not finish within %" PRIu64 "ms, killed",
                                        post_helper, (r->timeout_usec + POST_GRACE_USEC) / USEC_PER_MSEC);
                else if (status < 0) {
                        (void) snprintf(r->errbuf, sizeof(r->errbuf), "cannot run %s: %s", post_helper, strerror(-status));
                        r->post_unusable = true;
                } else if (status > 128)
                        (void) snprintf(r->errbuf, sizeof(r->errbuf), "%s died of signal %d (%s)", post_helper,
                                        status - 128, strsignal(status - 128) ?: "?");
                else if (status > 0)
                        (void) snprintf(r->errbuf, sizeof(r->errbuf), "%s exited with status %d", post_helper, status);
                else
                        (void) snprintf(r->errbuf, sizeof(r->errbuf), "%s printed no valid answer (%zu bytes)",
                                        post_helper, size);
                receiver_attempt_done(r, DELIVERY_RETRY, CURLE_FAILED_INIT, false, 0, false, 0);
                return;
        }

        (void) snprintf(r->errbuf, sizeof(r->errbuf), "%s", ans.error);
        memcpy(r->response, ans.body, ans.body_size + 1);

        verdict = delivery_classify((CURLcode) ans.curl_code, ans.http_status);
        if (verdict == DELIVERY_OK) {
                verdict = delivery_classify_body(r->has_success_re ? &r->success_re : NULL,
                                                 r->has_failure_re ? &r->failure_re : NULL,
                                                 r->format == ALERT_FORMAT_SLACK, r->response);
                body_refused = verdict != DELIVERY_OK;
        }
        receiver_attempt_done(r, verdict, ans.curl_code, ans.tls_trust, ans.http_status, body_refused,
                              ans.retry_after_sec >= RETRY_AFTER_MAX_USEC / USEC_PER_SEC ? RETRY_AFTER_MAX_USEC :
                              ans.retry_after_sec * USEC_PER_SEC);
}

/* ---- queueing ---- */

static void receiver_append(Receiver *r, AlertEntry *e) {
        if (r->tail)
                r->tail->next = e;
        else
                r->head = e;
        r->tail = e;
        r->n_entries++;
}

/* Keeps the queue within max_queued before NEW is added: drops the oldest
 * entry of the lowest severity below critical (NEW counts as the newest).
 * Returns true when NEW itself is to be dropped. */
static bool receiver_make_room(Receiver *r, const AlertEntry *new) {
        if (r->n_entries < r->max_queued)
                return false;

        for (int rank = 0; rank < severity_rank("critical"); rank++) {
                AlertEntry *prev = NULL;

                for (AlertEntry *e = r->head; e; prev = e, e = e->next) {
                        if (e->severity != rank || (e == r->head && r->run))
                                continue;
                        log_warning("alert %s: outbox full (%u entries), dropping %s %s",
                                    r->name, r->max_queued, e->kind, e->id);
                        if (e == r->head)
                                r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
                        receiver_finish_entry(r, prev, e, false);
                        r->dropped++;
                        return false;
                }
                if (new->severity == rank) {
                        log_warning("alert %s: outbox full (%u entries), dropping %s %s",
                                    r->name, r->max_queued, new->kind, new->id);
                        r->dropped++;
                        return true;
                }
        }
        return false;  /* critical: never dropped, the bound gives */
}

static json_t *am_view(const AmIncident *am, const char *ends_at, const char *superseded) {
        return json_pack("{s:s, s:s, s:o, s:o}",
                         "severity", severity_from_rank(am->severity) ?: "warning",
                         "starts_at", am->starts_at,
                         "ends_at", ends_at ? json_string(ends_at) : json_null(),
                         "superseded", superseded ? json_string(superseded) : json_null());
}

/* Follows the incident of EVENT and returns its Alertmanager view (new reference). */
static json_t *receiver_am_track(Receiver *r, json_t *event) {
        AmIncident *am = &r->am;
        const char *incident = json_string_value(json_object_get(event, "incident"));
        const char *time = json_string_value(json_object_get(event, "time"));
        const char *state = json_string_value(json_object_get(event, "state"));
        int rank = severity_rank(json_string_value(json_object_get(event, "severity")));
        const char *superseded = NULL;
        json_t *view;

        if (!time)
                return NULL;
        if (rank < 0)
                rank = severity_rank("warning");

        if (!incident) {
                /* Outside any incident: an alert of its own, resolved by Alertmanager's resolve_timeout. */
                AmIncident lone = { .severity = rank };
                (void) snprintf(lone.starts_at, sizeof lone.starts_at, "%s", time);
                return am_view(&lone, NULL, NULL);
        }

        if (!am->open || strcmp(am->incident, incident) != 0) {
                am->open = true;
                (void) snprintf(am->incident, sizeof am->incident, "%s", incident);
                (void) snprintf(am->starts_at, sizeof am->starts_at, "%s", time);
                am->severity = rank;
        } else if (rank > am->severity) {
                superseded = severity_from_rank(am->severity);
                am->severity = rank;
        }

        json_decref(am->last_event);
        am->last_event = json_incref(event);

        if (state && strcmp(state, "HEALTHY") == 0) {
                view = am_view(am, time, superseded);
                am->open = false;
                json_decref(am->last_event);
                am->last_event = NULL;
        } else
                view = am_view(am, NULL, superseded);
        return view;
}

static int on_resend_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Receiver *r = userdata;
        AlertEntry *e;

        (void) sd_event_source_set_time(s, usec + r->resend_interval_usec);

        /* Anything queued re-states the alert anyway. */
        if (!r->am.open || !r->am.last_event || r->head)
                return 0;

        e = calloc(1, sizeof(*e));
        if (!e)
                return 0;
        e->event = json_incref(r->am.last_event);
        e->am = am_view(&r->am, NULL, NULL);
        if (!e->am) {
                alert_entry_free(e);
                return 0;
        }
        (void) snprintf(e->id, sizeof e->id, "%s", json_string_value(json_object_get(e->event, "id")) ?: "");
        (void) snprintf(e->kind, sizeof e->kind, "re-post of %s", r->am.incident[0] ? "incident" : "alert");
        e->severity = r->am.severity;
        e->queued_usec = now_clock(r->alerter, CLOCK_REALTIME);
        receiver_append(r, e);
        receiver_kick(r);
        return 0;
}

/* Builds RECEIVER's entry for EVENT, as stored in the outbox. */
static AlertEntry *receiver_new_entry(Receiver *r, json_t *event, json_t *am, uint64_t queued_usec) {
        AlertEntry *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        e->event = json_incref(event);
        e->am = json_incref(am);
        e->queued_usec = queued_usec;
        (void) snprintf(e->id, sizeof e->id, "%s", json_string_value(json_object_get(event, "id")) ?: "");
        (void) snprintf(e->kind, sizeof e->kind, "%s", json_string_value(json_object_get(event, "event")) ?: "?");
        e->severity = severity_rank(json_string_value(json_object_get(event, "severity")));
        return e;
}

static json_t *entry_to_json(const Receiver *r, const AlertEntry *e) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:O}",
                              "schema", OUTBOX_SCHEMA,
                              "receiver", r->name,
                              "queued_usec", (json_int_t) e->queued_usec,
                              "event", e->event);
        if (j && e->am && json_object_set(j, "alertmanager", e->am) < 0) {
                json_decref(j);
                return NULL;
        }
        return j;
}

static int receiver_queue_event(Receiver *r, json_t *event, uint64_t queued_usec) {
        _cleanup_(json_decrefp) json_t *copy = NULL, *am = NULL, *stored = NULL;
        AlertEntry *e;
        int k;

        copy = json_deep_copy(event);
        if (!copy)
                return -ENOMEM;

        if (r->format == ALERT_FORMAT_ALERTMANAGER) {
                am = receiver_am_track(r, copy);
                if (!am)
                        return -ENOMEM;
        }

        e = receiver_new_entry(r, copy, am, queued_usec);
        if (!e)
                return -ENOMEM;

        if (receiver_make_room(r, e)) {
                alert_entry_free(e);
                return 0;
        }
        if (r->dropped > 0) {
                json_t *d = json_object_get(e->event, "details");
                if (json_is_object(d) && json_object_set_new(d, "alerts_dropped", json_integer(r->dropped)) == 0)
                        r->dropped = 0;
        }

        e->seq = r->next_seq++;
        if (r->alerter->outbox) {
                stored = entry_to_json(r, e);
                k = stored ? outbox_put(r->alerter->outbox, r->name, e->seq, stored) : -ENOMEM;
                if (k < 0)
                        log_error_errno(k, "alert %s: cannot store %s %s in %s, keeping it in memory only: %m",
                                        r->name, e->kind, e->id, outbox_path(r->alerter->outbox));
                else
                        e->stored = true;
        }

        receiver_append(r, e);
        receiver_kick(r);
        return 0;
}

/* ---- resuming the outbox ---- */

static void on_outbox_entry(const char *receiver, uint64_t seq, json_t *entry, void *userdata) {
        Alerter *a = userdata;
        json_t *event = json_object_get(entry, "event");
        json_t *am = json_object_get(entry, "alertmanager");
        Receiver *r = NULL;
        AlertEntry *e;

        for (size_t i = 0; i < a->n_receivers; i++)
                if (strcmp(a->receivers[i].name, receiver) == 0) {
                        r = &a->receivers[i];
                        break;
                }
        if (!r) {
                log_warning("alert: outbox entry %" PRIu64 " is for receiver \"%s\", which is not configured; leaving it",
                            seq, receiver);
                return;
        }

        e = receiver_new_entry(r, event, json_is_object(am) ? am : NULL,
                               (uint64_t) json_integer_value(json_object_get(entry, "queued_usec")));
        if (!e) {
                log_error("alert %s: out of memory resuming outbox entry %" PRIu64 ", it stays on disk", r->name, seq);
                return;
        }
        e->seq = seq;
        e->stored = true;
        if (seq >= r->next_seq)
                r->next_seq = seq + 1;

        /* The incident goes on being re-posted where it left off. */
        if (r->format == ALERT_FORMAT_ALERTMANAGER && e->am) {
                const char *incident = json_string_value(json_object_get(event, "incident"));
                const char *starts = json_string_value(json_object_get(e->am, "starts_at"));
                if (incident && starts) {
                        r->am.open = json_is_null(json_object_get(e->am, "ends_at"));
                        (void) snprintf(r->am.incident, sizeof r->am.incident, "%s", incident);
                        (void) snprintf(r->am.starts_at, sizeof r->am.starts_at, "%s", starts);
                        r->am.severity = severity_rank(json_string_value(json_object_get(e->am, "severity")));
                        json_decref(r->am.last_event);
                        r->am.last_event = r->am.open ? json_incref(event) : NULL;
                }
        }

        receiver_append(r, e);
}

/* ---- public API ---- */

static int receiver_init(Alerter *a, Receiver *rc, const AlertConfig *ac) {
        const char *success_body;
        int k;

        rc->alerter = a;
        rc->format = alert_format_from_string(ac->format ?: "json");
        if (rc->format < 0)
                rc->format = ALERT_FORMAT_JSON;
        rc->timeout_usec = ac->timeout_usec;
        rc->retry_initial_usec = ac->retry_initial_usec ?: USEC_PER_SEC;
        rc->retry_max_usec = ac->retry_max_usec ?: 60 * USEC_PER_SEC;
        rc->max_age_usec = ac->max_age_usec ?: 3600 * USEC_PER_SEC;
        rc->max_queued = ac->max_queued ?: 1000;
        rc->resend_interval_usec = ac->resend_interval_usec ?: 60 * USEC_PER_SEC;
        if (ac->rate_limit_requests > 0)
                rc->rate.interval_usec = ac->rate_limit_period_usec / ac->rate_limit_requests;
        else if (!ac->rate_limit_set && rc->format == ALERT_FORMAT_SLACK)
                rc->rate.interval_usec = SLACK_RATE_LIMIT_PERIOD_USEC / SLACK_RATE_LIMIT_REQUESTS;
        rc->name = strdup(ac->name ?: "");
        rc->url = strdup(ac->url ?: "");
        if (!rc->name || !rc->url)
                return -ENOMEM;
        if (ac->ca_file && !(rc->ca_file = strdup(ac->ca_file)))
                return -ENOMEM;
        if (ac->secret && ac->secret_size > 0) {
                rc->secret = malloc(ac->secret_size);
                if (!rc->secret)
                        return -ENOMEM;
                memcpy(rc->secret, ac->secret, ac->secret_size);
                rc->secret_size = ac->secret_size;
        }

        /* Checked by the configuration already, compiled once here. A NULL
         * success_body is the format's rule (config.h), "" none. */
        success_body = ac->success_body ?: (rc->format == ALERT_FORMAT_SLACK ? SLACK_SUCCESS_BODY : NULL);
        if (success_body && success_body[0]) {
                if (regcomp(&rc->success_re, success_body, REG_EXTENDED | REG_NOSUB) != 0)
                        return -EINVAL;
                rc->has_success_re = true;
        }
        if (ac->failure_body && ac->failure_body[0]) {
                if (regcomp(&rc->failure_re, ac->failure_body, REG_EXTENDED | REG_NOSUB) != 0)
                        return -EINVAL;
                rc->has_failure_re = true;
        }

        k = strv_push(&rc->headers, strdup("Content-Type: application/json"));
        if (k < 0)
                return k;
        /* No "Expect: 100-continue" round trip for larger bodies. */
        k = strv_push(&rc->headers, strdup("Expect:"));
        if (k < 0)
                return k;
        for (char **i = ac->headers; i && *i; i++) {
                k = strv_push(&rc->headers, strdup(*i));
                if (k < 0)
                        return k;
        }

        if (rc->format == ALERT_FORMAT_ALERTMANAGER) {
                k = sd_event_add_time_relative(a->event, &rc->resend_timer, CLOCK_MONOTONIC,
                                                   rc->resend_interval_usec, 0, on_resend_timer, rc);
                if (k < 0)
                        return k;
                (void) sd_event_source_set_enabled(rc->resend_timer, SD_EVENT_ON);
                (void) sd_event_source_set_description(rc->resend_timer, "alert-resend");
        }
        return 0;
}

static void alerter_open_outbox(Alerter *a, const Config *c) {
        _cleanup_free_ char *dir = NULL;
        int k;

        if (!c->state_dir) {
                log_debug("alert: no state directory, alerts are kept in memory only");
                return;
        }
        if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST) {
                log_error_errno(errno, "alert: cannot create %s, alerts are kept in memory only: %m", c->state_dir);
                return;
        }
        if (asprintf(&dir, "%s/outbox", c->state_dir) < 0) {
                log_error("alert: out of memory, alerts are kept in memory only");
                return;
        }
        k = outbox_open(dir, &a->outbox);
        if (k < 0) {
                log_error_errno(k, "alert: cannot open outbox %s, alerts are kept in memory only: %m", dir);
                return;
        }

        k = outbox_load(a->outbox, on_outbox_entry, a);
        if (k < 0)
                log_error_errno(k, "alert: cannot read outbox %s, ignoring what it holds: %m", dir);
        else if (k > 0)
                log_notice("alert: resuming %d undelivered alert(s) from %s", k, dir);
}

int alerter_new(sd_event *e, const Config *c, Alerter **ret) {
        Alerter *a;
        int r;

        if (!e || !c || !ret)
                return -EINVAL;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(e);

        a->user_agent = strdup("mta-watchdogd/" PACKAGE_VERSION);
        if (!a->user_agent) {
                r = -ENOMEM;
                goto fail;
        }

        if (c->n_alerts > 0) {
                a->receivers = calloc(c->n_alerts, sizeof(Receiver));
                if (!a->receivers) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < c->n_alerts; i++) {
                a->n_receivers++;
                r = receiver_init(a, &a->receivers[i], &c->alerts[i]);
                if (r < 0)
                        goto fail;
        }

        /* Said once at start; each attempt that cannot run it says so again. */
        if (a->n_receivers > 0 && access(post_helper, X_OK) < 0)
                log_error_errno(errno, "alert: cannot run %s, alerts stay queued until it can be run: %m",
                                post_helper);
        if (a->n_receivers > 0)
                alerter_open_outbox(a, c);
        for (size_t i = 0; i < a->n_receivers; i++)
                receiver_kick(&a->receivers[i]);

        *ret = a;
        return 0;

fail:
        alerter_free(a);
        return r;
}

int alerter_send(Alerter *a, const Event *ev) {
        _cleanup_(json_decrefp) json_t *event = NULL;
        uint64_t now;
        int r, k;

        if (!a || !ev)
                return -EINVAL;
        if (a->n_receivers == 0)
                return 0;

        event = event_to_json_object(ev);
        if (!event)
                return -ENOMEM;

        now = now_clock(a, CLOCK_REALTIME);
        r = 0;
        for (size_t i = 0; i < a->n_receivers; i++) {
                k = receiver_queue_event(&a->receivers[i], event, now);
                if (k < 0) {
                        log_error_errno(k, "alert %s: cannot queue %s %s: %m", a->receivers[i].name,
                                        event_kind_to_string(ev->kind) ?: "?", ev->id);
                        r = k;
                }
        }
        return r;
}

size_t alerter_pending(const Alerter *a) {
        size_t n = 0;

        if (!a)
                return 0;
        for (size_t i = 0; i < a->n_receivers; i++)
                n += a->receivers[i].n_entries;
        return n;
}

size_t alerter_n_receivers(const Alerter *a) {
        return a ? a->n_receivers : 0;
}

int alerter_receiver_stats(const Alerter *a, size_t i, const char **ret_name, uint64_t *ret_sent,
                           uint64_t *ret_failed) {
        if (!a || i >= a->n_receivers)
                return -ERANGE;
        *ret_name = a->receivers[i].name;
        *ret_sent = a->receivers[i].n_sent;
        *ret_failed = a->receivers[i].n_failed;
        return 0;
}

Alerter *alerter_free(Alerter *a) {
        if (!a)
                return NULL;

        for (size_t i = 0; i < a->n_receivers; i++) {
                Receiver *r = &a->receivers[i];

                receiver_abort_transfer(r);
                r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
                r->resend_timer = sd_event_source_disable_unref(r->resend_timer);
                r->rate_timer = sd_event_source_disable_unref(r->rate_timer);
                if (r->has_success_re)
                        regfree(&r->success_re);
                if (r->has_failure_re)
                        regfree(&r->failure_re);
                while (r->head) {
                        AlertEntry *e = r->head;
                        receiver_unlink(r, NULL, e);
                        alert_entry_free(e);
                }
                json_decref(r->am.last_event);
                strv_free(r->headers);
                if (r->secret)
                        explicit_bzero(r->secret, r->secret_size);
                free(r->secret);
                free(r->ca_file);
                free(r->name);
                free(r->url);
        }
        free(a->receivers);

        outbox_free(a->outbox);
        free(a->user_agent);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}
