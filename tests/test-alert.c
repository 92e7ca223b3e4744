/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alert.h"
#include "event.h"
#include "log.h"
#include "macros.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Alerter *, alerter_free)

/* ---- pure parts ---- */

static void test_classify(void **state) {
        static const struct {
                CURLcode code;
                long status;
                DeliveryVerdict verdict;
        } table[] = {
                { CURLE_OK, 200, DELIVERY_OK },
                { CURLE_OK, 201, DELIVERY_OK },
                { CURLE_OK, 204, DELIVERY_OK },
                { CURLE_OK, 299, DELIVERY_OK },
                { CURLE_OK, 100, DELIVERY_FAILED },
                { CURLE_OK, 301, DELIVERY_FAILED },  /* redirects are not followed */
                { CURLE_OK, 400, DELIVERY_FAILED },
                { CURLE_OK, 401, DELIVERY_FAILED },
                { CURLE_OK, 404, DELIVERY_FAILED },
                { CURLE_OK, 408, DELIVERY_RETRY },
                { CURLE_OK, 413, DELIVERY_FAILED },
                { CURLE_OK, 429, DELIVERY_RETRY },
                { CURLE_OK, 500, DELIVERY_RETRY },
                { CURLE_OK, 502, DELIVERY_RETRY },
                { CURLE_OK, 503, DELIVERY_RETRY },
                { CURLE_OK, 599, DELIVERY_RETRY },
                { CURLE_OK, 600, DELIVERY_FAILED },
                { CURLE_OK, 0, DELIVERY_FAILED },
                { CURLE_COULDNT_CONNECT, 0, DELIVERY_RETRY },
                { CURLE_OPERATION_TIMEDOUT, 0, DELIVERY_RETRY },
                { CURLE_COULDNT_RESOLVE_HOST, 0, DELIVERY_RETRY },
                { CURLE_PEER_FAILED_VERIFICATION, 0, DELIVERY_RETRY },
                /* A transport error wins over whatever status was seen before it. */
                { CURLE_RECV_ERROR, 200, DELIVERY_RETRY },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                DeliveryVerdict v = delivery_classify(table[i].code, table[i].status);
                if (v != table[i].verdict)
                        fail_msg("code %d status %ld: got %d, want %d",
                                 (int) table[i].code, table[i].status, (int) v, (int) table[i].verdict);
        }
}

static void test_retry_delay(void **state) {
        static const uint64_t want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
        static const uint64_t want_ms[] = { 250, 500, 1000, 2000, 4000, 5000, 5000 };
        const uint64_t s = USEC_PER_SEC;

        /* The defaults: retry_initial = 1s, retry_max = 60s. */
        for (unsigned i = 0; i < ELEMENTSOF(want); i++)
                assert_int_equal(retry_delay_usec(1 * s, 60 * s, i), want[i] * s);
        assert_int_equal(retry_delay_usec(1 * s, 60 * s, 63), 60 * s);
        assert_int_equal(retry_delay_usec(1 * s, 60 * s, 64), 60 * s);
        assert_int_equal(retry_delay_usec(1 * s, 60 * s, UINT32_MAX), 60 * s);

        for (unsigned i = 0; i < ELEMENTSOF(want_ms); i++)
                assert_int_equal(retry_delay_usec(250 * USEC_PER_MSEC, 5 * s, i), want_ms[i] * USEC_PER_MSEC);

        /* A cap below the first step wins; huge values do not overflow. */
        assert_int_equal(retry_delay_usec(10 * s, 3 * s, 0), 3 * s);
        assert_int_equal(retry_delay_usec(UINT64_MAX / 2 + 1, UINT64_MAX, 5), UINT64_MAX);
}

/* ---- a tiny HTTP server in a child process, loopback only ---- */

typedef struct Server {
        pid_t pid;
        uint16_t port;
        int records_fd;   /* child writes one record per request: "HEADLEN BODYLEN\n" head body */
} Server;

static ssize_t read_request(int fd, char *buf, size_t size, size_t *ret_head_len, size_t *ret_body_len) {
        size_t len = 0, head_len = 0, body_len = 0;

        for (;;) {
                if (head_len == 0) {
                        char *end;
                        buf[len] = '\0';
                        end = strstr(buf, "\r\n\r\n");
                        if (end) {
                                head_len = (size_t) (end - buf) + 4;
                                for (char *p = buf; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL)
                                        if (strncasecmp(p, "Content-Length:", 15) == 0)
                                                body_len = strtoul(p + 15, NULL, 10);
                        }
                }
                if (head_len > 0 && len >= head_len + body_len)
                        break;
                if (len + 1 >= size)
                        return -1;
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n <= 0)
                        return -1;
                len += (size_t) n;
        }
        *ret_head_len = head_len;
        *ret_body_len = body_len;
        return (ssize_t) len;
}

/* Answers one connection per entry of STATUSES, in order; status 0 means
 * "read the request, then never answer". Exits after the last one. */
static _Noreturn void server_child(int lfd, int wfd, const int *statuses, size_t n) {
        static char buf[65536];

        alarm(30);  /* never outlive a broken test */
        for (size_t i = 0; i < n; i++) {
                size_t head_len, body_len;
                char hdr[64], resp[256];
                int c;

                c = accept(lfd, NULL, NULL);
                if (c < 0)
                        _exit(2);
                if (read_request(c, buf, sizeof(buf), &head_len, &body_len) < 0)
                        _exit(3);

                int k = snprintf(hdr, sizeof(hdr), "%zu %zu\n", head_len, body_len);
                if (write(wfd, hdr, (size_t) k) != k ||
                    write(wfd, buf, head_len + body_len) != (ssize_t) (head_len + body_len))
                        _exit(4);

                if (statuses[i] == 0)
                        pause();

                const char *body = statuses[i] < 300 ? "ok\n" : "no such hook\n";
                k = snprintf(resp, sizeof(resp),
                             "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\n\r\n%s",
                             statuses[i], strlen(body), body);
                if (write(c, resp, (size_t) k) != k)
                        _exit(5);
                close(c);
        }
        _exit(0);
}

static void server_start(Server *s, const int *statuses, size_t n) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t salen = sizeof(sa);
        int lfd, p[2];

        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 8), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *) &sa, &salen), 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);

        fflush(NULL);
        s->pid = fork();
        assert_true(s->pid >= 0);
        if (s->pid == 0) {
                close(p[0]);
                server_child(lfd, p[1], statuses, n);
        }
        close(lfd);
        close(p[1]);
        s->records_fd = p[0];
        s->port = ntohs(sa.sin_port);
}

typedef struct Record {
        char *head;
        char *body;
} Record;

/* Waits for the child (killing it if it hangs on purpose) and reads its records. */
static size_t server_finish(Server *s, bool kill_it, Record *records, size_t max) {
        _cleanup_fclose_ FILE *f = NULL;
        size_t n = 0, hl, bl;
        int status;

        if (kill_it)
                (void) kill(s->pid, SIGKILL);
        assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
        if (!kill_it)
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        f = fdopen(s->records_fd, "r");
        assert_non_null(f);
        while (n < max && fscanf(f, "%zu %zu\n", &hl, &bl) == 2) {
                records[n].head = calloc(1, hl + 1);
                records[n].body = calloc(1, bl + 1);
                assert_non_null(records[n].head);
                assert_non_null(records[n].body);
                assert_int_equal(fread(records[n].head, 1, hl, f), hl);
                assert_int_equal(fread(records[n].body, 1, bl, f), bl);
                n++;
        }
        return n;
}

static void records_free(Record *records, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(records[i].head);
                free(records[i].body);
        }
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Runs the loop until nothing is pending or MAX_USEC passed. */
static void run_until_idle(sd_event *e, Alerter *a, uint64_t max_usec) {
        uint64_t deadline = now_usec() + max_usec;

        while (alerter_pending(a) > 0 && now_usec() < deadline)
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
}

static void run_for(sd_event *e, uint64_t usec) {
        uint64_t deadline = now_usec() + usec;

        while (now_usec() < deadline)
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
}

static Event test_event(EventKind kind) {
        Event ev = {
                .kind = kind,
                .incident = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f",
                .host = "mx1.example.org",
                .mta = "postfix",
                .unit = "postfix.service",
                .time_usec = 1795994535 * USEC_PER_SEC,
                .state = "STALLED",
                .summary = "queue stalled",
                .action = "restart",
                .reachability = "up",
                .backlog = 42,
        };
        assert_int_equal(uuid_random(ev.id), 0);
        return ev;
}

typedef struct Fixture {
        sd_event *event;
        char url[64];
        AlertConfig ac;
        Config config;
} Fixture;

static void fixture_init(Fixture *fx, uint16_t port, uint64_t timeout_usec) {
        memset(fx, 0, sizeof(*fx));
        assert_int_equal(sd_event_new(&fx->event), 0);
        (void) snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%u/hook", port);
        fx->ac = (AlertConfig) {
                .name = (char *) "test",
                .url = fx->url,
                .format = (char *) "json",
                .timeout_usec = timeout_usec,
        };
        fx->config.alerts = &fx->ac;
        fx->config.n_alerts = 1;
}

static void fixture_done(Fixture *fx) {
        fx->event = sd_event_unref(fx->event);
}

/* ---- delivery on the loop ---- */

static void test_retry_then_delivered(void **state) {
        static const int statuses[] = { 503, 200 };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        _cleanup_free_ char *want = NULL;
        Record rec[4] = {};
        Server srv;
        Fixture fx;
        uint64_t t0;

        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);

        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_STALL_DETECTED);
        want = event_to_json(&ev);
        assert_non_null(want);

        t0 = now_usec();
        assert_int_equal(alerter_send(a, &ev), 0);
        assert_int_equal(alerter_pending(a), 1);
        run_until_idle(fx.event, a, 20 * USEC_PER_SEC);
        assert_int_equal(alerter_pending(a), 0);
        /* The retry waited out the first backoff step (1s plus jitter). */
        assert_true(now_usec() - t0 >= 1 * USEC_PER_SEC);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 2);
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(rec[i].body, want);
                assert_true(strncmp(rec[i].head, "POST /hook HTTP/1.1\r\n", 21) == 0);
                assert_non_null(strcasestr(rec[i].head, "\r\nContent-Type: application/json\r\n"));
                assert_non_null(strcasestr(rec[i].head, "\r\nUser-Agent: mta-watchdogd/" PACKAGE_VERSION "\r\n"));
                assert_null(strcasestr(rec[i].head, "\r\nExpect:"));
        }
        records_free(rec, 2);

        a = alerter_free(a);
        fixture_done(&fx);
}

static void test_order_kept(void **state) {
        static const int statuses[] = { 200, 200, 200 };
        static const EventKind kinds[] = { EVENT_STALL_DETECTED, EVENT_ACTION_STARTED, EVENT_RECOVERED };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        char *want[3] = {};
        Record rec[4] = {};
        Server srv;
        Fixture fx;

        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);

        for (size_t i = 0; i < 3; i++) {
                Event ev = test_event(kinds[i]);
                want[i] = event_to_json(&ev);
                assert_int_equal(alerter_send(a, &ev), 0);
        }
        assert_int_equal(alerter_pending(a), 3);
        run_until_idle(fx.event, a, 20 * USEC_PER_SEC);
        assert_int_equal(alerter_pending(a), 0);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 3);
        for (size_t i = 0; i < 3; i++) {
                assert_string_equal(rec[i].body, want[i]);
                free(want[i]);
        }
        records_free(rec, 3);

        a = alerter_free(a);
        fixture_done(&fx);
}

static void test_refused_is_dropped(void **state) {
        static const int statuses[] = { 404 };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        Record rec[2] = {};
        Server srv;
        Fixture fx;
        uint64_t t0;

        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);

        Event ev = test_event(EVENT_GAVE_UP);
        t0 = now_usec();
        assert_int_equal(alerter_send(a, &ev), 0);
        run_until_idle(fx.event, a, 20 * USEC_PER_SEC);
        assert_int_equal(alerter_pending(a), 0);
        assert_true(now_usec() - t0 < 1 * USEC_PER_SEC);  /* no backoff for a 4xx */

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 1);
        records_free(rec, 1);

        a = alerter_free(a);
        fixture_done(&fx);
}

/* Connection refused is retried: the entry stays queued under backoff, and
 * freeing the alerter with a retry timer armed releases everything. */
static void test_connection_refused_kept(void **state) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t salen = sizeof(sa);
        _cleanup_close_ int fd = -EBADF;
        Alerter *a = NULL;
        Fixture fx;

        /* Bound but not listening: connecting is refused, and nobody else gets the port meanwhile. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &salen), 0);

        fixture_init(&fx, ntohs(sa.sin_port), 5 * USEC_PER_SEC);
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_OUTAGE_STARTED);
        assert_int_equal(alerter_send(a, &ev), 0);
        assert_int_equal(alerter_send(a, &ev), 0);

        run_for(fx.event, 500 * USEC_PER_MSEC);
        assert_int_equal(alerter_pending(a), 2);

        a = alerter_free(a);
        fixture_done(&fx);
}

/* A receiver that never answers: the transfer times out and is retried;
 * a second one still in flight is aborted by alerter_free(). */
static void test_timeout_and_abort(void **state) {
        static const int statuses[] = { 0 };
        Alerter *a = NULL;
        Record rec[2] = {};
        Server srv;
        Fixture fx;

        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 1 * USEC_PER_SEC);
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);

        Event ev = test_event(EVENT_ACTION_FAILED);
        assert_int_equal(alerter_send(a, &ev), 0);
        /* Times out at 1s, retried after 1s..1.2s of backoff: at 1.5s it waits. */
        run_for(fx.event, 1500 * USEC_PER_MSEC);
        assert_int_equal(alerter_pending(a), 1);

        /* The retry (at 2s..2.2s) connects through the listen backlog and
         * hangs until 3s at the earliest; at 2.6s it is in flight: free it. */
        run_for(fx.event, 1100 * USEC_PER_MSEC);
        assert_int_equal(alerter_pending(a), 1);
        a = alerter_free(a);

        assert_int_equal(server_finish(&srv, true, rec, ELEMENTSOF(rec)), 1);
        records_free(rec, 1);
        fixture_done(&fx);
}

static void test_no_receivers(void **state) {
        _cleanup_(alerter_freep) Alerter *a = NULL;
        sd_event *e = NULL;
        Config c = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(alerter_new(e, &c, &a), 0);
        Event ev = test_event(EVENT_RECOVERED);
        assert_int_equal(alerter_send(a, &ev), 0);
        assert_int_equal(alerter_pending(a), 0);
        a = alerter_free(a);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classify),
                cmocka_unit_test(test_retry_delay),
                cmocka_unit_test(test_retry_then_delivered),
                cmocka_unit_test(test_order_kept),
                cmocka_unit_test(test_refused_is_dropped),
                cmocka_unit_test(test_connection_refused_kept),
                cmocka_unit_test(test_timeout_and_abort),
                cmocka_unit_test(test_no_receivers),
        };

        /* The server child writes to a pipe we may close early. */
        signal(SIGPIPE, SIG_IGN);
        log_set_max_level(LOG_DEBUG);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
