/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>

#include "alert.h"
#include "log.h"
#include "macros.h"

/* An entry is given up when it could not be delivered for this long. */
#define ALERT_MAX_AGE_USEC (3600 * USEC_PER_SEC)
#define RETRY_DELAY_FIRST_USEC (1 * USEC_PER_SEC)
#define RETRY_DELAY_MAX_USEC (60 * USEC_PER_SEC)
/* Response bytes kept for the log line of a refused alert. */
#define RESPONSE_EXCERPT_MAX 512

typedef struct AlertEntry AlertEntry;
struct AlertEntry {
        AlertEntry *next;
        char *body;                    /* JSON, NUL-terminated */
        const char *event;             /* static name, for logs */
        char id[UUID_STRING_MAX];      /* event id, for logs */
        uint64_t queued_usec;          /* CLOCK_MONOTONIC */
        unsigned attempts;             /* attempts that ended in DELIVERY_RETRY */
};

typedef struct Receiver {
        Alerter *alerter;
        char *name;
        char *url;
        uint64_t timeout_usec;

        AlertEntry *head, *tail;       /* FIFO; head is the one being sent */
        size_t n_entries;

        CURL *easy;                    /* the transfer in flight for head, or NULL */
        char errbuf[CURL_ERROR_SIZE];
        char response[RESPONSE_EXCERPT_MAX + 1];
        size_t response_len;

        sd_event_source *retry_timer;  /* backoff before sending head again */
        bool failing;                  /* the last attempt failed: log repeats at debug */
} Receiver;

/* One socket libcurl asked us to watch. */
typedef struct SocketWatch SocketWatch;
struct SocketWatch {
        SocketWatch *prev, *next;
        sd_event_source *source;
};

struct Alerter {
        sd_event *event;
        CURLM *multi;
        sd_event_source *curl_timer;
        SocketWatch *sockets;
        struct curl_slist *headers;
        char *user_agent;

        Receiver *receivers;
        size_t n_receivers;
};

DeliveryVerdict delivery_classify(CURLcode code, long http_status) {
        if (code != CURLE_OK)
                return DELIVERY_RETRY;
        if (http_status >= 200 && http_status <= 299)
                return DELIVERY_OK;
        if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status <= 599))
                return DELIVERY_RETRY;
        return DELIVERY_FAILED;
}

uint64_t retry_delay_usec(unsigned attempt) {
        /* 1s << 6 is already past the cap; also keeps the shift defined. */
        if (attempt >= 6)
                return RETRY_DELAY_MAX_USEC;
        uint64_t d = RETRY_DELAY_FIRST_USEC << attempt;
        return d < RETRY_DELAY_MAX_USEC ? d : RETRY_DELAY_MAX_USEC;
}

/* Up to 20% of DELAY, so that receivers (and daemons on many hosts) that
 * failed together do not retry in lockstep. */
static uint64_t retry_jitter_usec(uint64_t delay) {
        uint64_t x;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t) sizeof(x))
                return 0;  /* no jitter is fine, no alert is not */
        return x % (delay / 5 + 1);
}

static void alert_entry_free(AlertEntry *e) {
        if (!e)
                return;
        free(e->body);
        free(e);
}

static void receiver_pop(Receiver *r) {
        AlertEntry *e = r->head;

        if (!e)
                return;
        r->head = e->next;
        if (!r->head)
                r->tail = NULL;
        r->n_entries--;
        alert_entry_free(e);
}

static void receiver_abort_transfer(Receiver *r) {
        if (!r->easy)
                return;
        (void) curl_multi_remove_handle(r->alerter->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
}

/* ---- libcurl glue: sockets and the timer on sd-event ---- */

static void curl_check_finished(Alerter *a);

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Alerter *a = userdata;
        int action = 0, running = 0;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;

        if (curl_multi_socket_action(a->multi, fd, action, &running) != CURLM_OK)
                log_debug("alert: curl_multi_socket_action() failed on fd %d, ignoring", fd);

        curl_check_finished(a);
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Alerter *a = userdata;
        int running = 0;

        if (curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
                log_debug("alert: curl_multi_socket_action() failed on timeout, ignoring");

        curl_check_finished(a);
        return 0;
}

static void socket_watch_free(Alerter *a, SocketWatch *w) {
        if (!w)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                a->sockets = w->next;
        if (w->next)
                w->next->prev = w->prev;
        sd_event_source_disable_unref(w->source);
        free(w);
}

/* CURLMOPT_SOCKETFUNCTION: libcurl tells us which sockets to watch for what. */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        Alerter *a = userp;
        SocketWatch *w = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                socket_watch_free(a, w);
                (void) curl_multi_assign(a->multi, fd, NULL);
                return 0;
        }

        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (w) {
                r = sd_event_source_set_io_events(w->source, events);
                if (r < 0)
                        goto fail;
                r = sd_event_source_set_enabled(w->source, SD_EVENT_ON);
                if (r < 0)
                        goto fail;
                return 0;
        }

        w = calloc(1, sizeof(*w));
        if (!w) {
                r = -ENOMEM;
                goto fail;
        }
        r = sd_event_add_io(a->event, &w->source, fd, events, on_curl_io, a);
        if (r < 0) {
                free(w);
                goto fail;
        }
        (void) sd_event_source_set_description(w->source, "alert-curl-io");

        w->next = a->sockets;
        if (a->sockets)
                a->sockets->prev = w;
        a->sockets = w;

        if (curl_multi_assign(a->multi, fd, w) != CURLM_OK) {
                socket_watch_free(a, w);
                r = -EIO;
                goto fail;
        }
        return 0;

fail:
        log_warning_errno(r, "alert: cannot watch curl socket %d: %m", fd);
        return -1;  /* makes libcurl fail this transfer, which we then retry */
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called after TIMEOUT_MS, or
 * never (-1). It must not call back into libcurl from here, so even a 0 ms
 * timeout is served from the loop. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        Alerter *a = userp;
        uint64_t now;
        int r;

        if (timeout_ms < 0) {
                r = sd_event_source_set_enabled(a->curl_timer, SD_EVENT_OFF);
                return r < 0 ? -1 : 0;
        }

        r = sd_event_now(a->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_time(a->curl_timer, now + (uint64_t) timeout_ms * USEC_PER_MSEC);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_enabled(a->curl_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                goto fail;
        return 0;

fail:
        log_warning_errno(r, "alert: cannot arm curl timer: %m");
        return -1;
}

/* ---- per-receiver delivery ---- */

static size_t on_curl_write(char *data, size_t size, size_t nmemb, void *userdata) {
        Receiver *r = userdata;
        size_t n = size * nmemb;
        size_t room = RESPONSE_EXCERPT_MAX - r->response_len;
        size_t k = n < room ? n : room;

        memcpy(r->response + r->response_len, data, k);
        r->response_len += k;
        r->response[r->response_len] = '\0';
        return n;  /* the rest is read and discarded */
}

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

static uint64_t alerter_now(Alerter *a) {
        uint64_t now;

        if (sd_event_now(a->event, CLOCK_MONOTONIC, &now) < 0) {
                struct timespec ts;
                (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        }
        return now;
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

/* One attempt of the head entry ended with VERDICT: pop it or arm the retry. */
static void receiver_attempt_done(Receiver *r, DeliveryVerdict verdict, CURLcode code, long status) {
        AlertEntry *e = r->head;
        uint64_t age, delay;
        int k;

        switch (verdict) {

        case DELIVERY_OK:
                log_info("alert %s: delivered %s %s", r->name, e->event, e->id);
                r->failing = false;
                receiver_pop(r);
                break;

        case DELIVERY_FAILED:
                sanitize_excerpt(r->response);
                log_error("alert %s: %s %s refused with HTTP %ld, dropping it: %s",
                          r->name, e->event, e->id, status,
                          r->response[0] ? r->response : "(empty response)");
                r->failing = false;
                receiver_pop(r);
                break;

        case DELIVERY_RETRY:
        default: {
                char why[CURL_ERROR_SIZE + 64];

                if (code != CURLE_OK)
                        (void) snprintf(why, sizeof(why), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
                else
                        (void) snprintf(why, sizeof(why), "HTTP %ld", status);

                age = alerter_now(r->alerter) - e->queued_usec;
                if (age >= ALERT_MAX_AGE_USEC) {
                        log_error("alert %s: giving up on %s %s after %u attempts in %llus: %s",
                                  r->name, e->event, e->id, e->attempts + 1,
                                  (unsigned long long) (age / USEC_PER_SEC), why);
                        r->failing = false;
                        receiver_pop(r);
                        break;
                }

                delay = retry_delay_usec(e->attempts);
                delay += retry_jitter_usec(delay);
                e->attempts++;

                log_full(r->failing ? LOG_DEBUG : LOG_WARNING,
                         "alert %s: sending %s %s failed (%s), retrying in %llums",
                         r->name, e->event, e->id, why,
                         (unsigned long long) (delay / USEC_PER_MSEC));
                r->failing = true;

                k = receiver_schedule_retry(r, delay);
                if (k < 0) {
                        /* Without a timer the queue would stall forever; drop instead. */
                        log_error_errno(k, "alert %s: cannot schedule retry, dropping %s %s: %m",
                                        r->name, e->event, e->id);
                        receiver_pop(r);
                        break;
                }
                return;  /* the timer kicks the queue */
        }
        }

        receiver_kick(r);
}

static int receiver_start(Receiver *r) {
        Alerter *a = r->alerter;
        AlertEntry *e = r->head;
        CURL *c;

        c = curl_easy_init();
        if (!c)
                return -ENOMEM;

        r->errbuf[0] = '\0';
        r->response[0] = '\0';
        r->response_len = 0;

        long timeout_ms = (long) (r->timeout_usec / USEC_PER_MSEC);
        if (timeout_ms <= 0)
                timeout_ms = 1;  /* 0 would mean "no timeout" to libcurl */

        if (curl_easy_setopt(c, CURLOPT_URL, r->url) != CURLE_OK ||
            /* Config checks the scheme; this keeps file://, gopher:// etc. out regardless. */
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, e->body) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(e->body)) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, a->headers) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_USERAGENT, a->user_agent) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
            /* No SIGALRM tricks for name resolution in a daemon with a signal loop. */
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_curl_write) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_WRITEDATA, r) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_PRIVATE, r) != CURLE_OK) {
                curl_easy_cleanup(c);
                return -EINVAL;
        }

        if (curl_multi_add_handle(a->multi, c) != CURLM_OK) {
                curl_easy_cleanup(c);
                return -EIO;
        }

        r->easy = c;
        log_debug("alert %s: sending %s %s (attempt %u)", r->name, e->event, e->id, e->attempts + 1);
        return 0;
}

/* Sends the head entry unless a transfer or a backoff is already running. */
static void receiver_kick(Receiver *r) {
        int k;

        if (r->easy || r->retry_timer || !r->head)
                return;

        k = receiver_start(r);
        if (k < 0) {
                /* Treated as a transport error: retried with backoff. */
                (void) snprintf(r->errbuf, sizeof(r->errbuf), "cannot set up transfer: %s", strerror(-k));
                receiver_attempt_done(r, DELIVERY_RETRY, CURLE_FAILED_INIT, 0);
        }
}

static void curl_check_finished(Alerter *a) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(a->multi, &left))) {
                Receiver *r = NULL;
                CURLcode code;
                long status = 0;

                if (msg->msg != CURLMSG_DONE)
                        continue;

                code = msg->data.result;
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);

                if (!r || r->easy != msg->easy_handle) {
                        (void) curl_multi_remove_handle(a->multi, msg->easy_handle);
                        curl_easy_cleanup(msg->easy_handle);
                        continue;
                }

                receiver_abort_transfer(r);  /* finished: just releases the handle */
                receiver_attempt_done(r, delivery_classify(code, status), code, status);
        }
}

/* ---- public API ---- */

int alerter_new(sd_event *e, const Config *c, Alerter **ret) {
        static bool curl_initialized = false;
        Alerter *a;
        int r;

        if (!e || !c || !ret)
                return -EINVAL;

        /* libcurl's global state is process-wide by nature; set up once and
         * never torn down (it is still reachable at exit, so no leak). */
        if (!curl_initialized) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return log_error_errno(EIO, "alert: cannot initialise libcurl");
                curl_initialized = true;
        }

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(e);

        a->multi = curl_multi_init();
        if (!a->multi) {
                r = -EIO;
                goto fail;
        }
        if (curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a) != CURLM_OK ||
            curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a) != CURLM_OK) {
                r = -EIO;
                goto fail;
        }

        r = sd_event_add_time(e, &a->curl_timer, CLOCK_MONOTONIC, USEC_INFINITY, 0, on_curl_timer, a);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(a->curl_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(a->curl_timer, "alert-curl-timer");

        a->user_agent = strdup("mta-watchdogd/" PACKAGE_VERSION);
        if (!a->user_agent) {
                r = -ENOMEM;
                goto fail;
        }

        struct curl_slist *h;
        h = curl_slist_append(NULL, "Content-Type: application/json");
        if (!h) {
                r = -ENOMEM;
                goto fail;
        }
        a->headers = h;
        /* No "Expect: 100-continue" round trip for larger bodies. */
        h = curl_slist_append(a->headers, "Expect:");
        if (!h) {
                r = -ENOMEM;
                goto fail;
        }
        a->headers = h;

        if (c->n_alerts > 0) {
                a->receivers = calloc(c->n_alerts, sizeof(Receiver));
                if (!a->receivers) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < c->n_alerts; i++) {
                const AlertConfig *ac = &c->alerts[i];
                Receiver *rc = &a->receivers[i];

                rc->alerter = a;
                rc->timeout_usec = ac->timeout_usec;
                rc->name = strdup(ac->name ? ac->name : "");
                rc->url = strdup(ac->url ? ac->url : "");
                a->n_receivers++;
                if (!rc->name || !rc->url) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (ac->format && strcmp(ac->format, "json") != 0)
                        log_warning("alert %s: format \"%s\" not supported, sending \"json\"",
                                    rc->name, ac->format);
        }

        *ret = a;
        return 0;

fail:
        alerter_free(a);
        return r;
}

int alerter_send(Alerter *a, const Event *ev) {
        _cleanup_free_ char *body = NULL;
        uint64_t now;

        if (!a || !ev)
                return -EINVAL;
        if (a->n_receivers == 0)
                return 0;

        body = event_to_json(ev);
        if (!body)
                return -ENOMEM;

        now = alerter_now(a);

        /* Build every entry first so that on ENOMEM no receiver got it
         * while another did not. */
        AlertEntry *entries[a->n_receivers];
        memset(entries, 0, sizeof(entries));
        for (size_t i = 0; i < a->n_receivers; i++) {
                AlertEntry *e = calloc(1, sizeof(*e));
                if (e)
                        e->body = strdup(body);
                if (!e || !e->body) {
                        alert_entry_free(e);
                        for (size_t j = 0; j < i; j++)
                                alert_entry_free(entries[j]);
                        return -ENOMEM;
                }
                e->event = event_kind_to_string(ev->kind) ?: "unknown";
                (void) snprintf(e->id, sizeof(e->id), "%s", ev->id);
                e->queued_usec = now;
                entries[i] = e;
        }

        for (size_t i = 0; i < a->n_receivers; i++) {
                Receiver *r = &a->receivers[i];

                if (r->tail)
                        r->tail->next = entries[i];
                else
                        r->head = entries[i];
                r->tail = entries[i];
                r->n_entries++;

                receiver_kick(r);
        }
        return 0;
}

size_t alerter_pending(const Alerter *a) {
        size_t n = 0;

        if (!a)
                return 0;
        for (size_t i = 0; i < a->n_receivers; i++)
                n += a->receivers[i].n_entries;
        return n;
}

Alerter *alerter_free(Alerter *a) {
        if (!a)
                return NULL;

        for (size_t i = 0; i < a->n_receivers; i++) {
                Receiver *r = &a->receivers[i];

                receiver_abort_transfer(r);
                r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
                while (r->head)
                        receiver_pop(r);
                free(r->name);
                free(r->url);
        }
        free(a->receivers);

        /* libcurl may still report sockets (CURL_POLL_REMOVE) while cleaning
         * up its connection cache, so the glue stays valid until after. */
        if (a->multi)
                (void) curl_multi_cleanup(a->multi);
        while (a->sockets)
                socket_watch_free(a, a->sockets);

        sd_event_source_disable_unref(a->curl_timer);
        curl_slist_free_all(a->headers);
        free(a->user_agent);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}
