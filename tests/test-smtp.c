/* SPDX-License-Identifier: MIT */
/* The smtp probe against real sockets, on 127.0.0.1 only. Each server is a
 * thread that serves one connection; every wait in it is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "detector.h"
#include "macros.h"
#include "probe-harness.h"
#include "probe.h"
#include "smtp.h"

typedef struct Server {
        int fd;
        uint16_t port;
        const char *chunks[4];     /* sent in turn, 20 ms apart; none: never greet */
        bool close_at_once;
        char received[64];
        size_t n_received;
        pthread_t thread;
} Server;

/* A loopback socket bound to a free port; listening if LISTEN. */
static int loopback_socket(bool listen_too, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (listen_too)
                assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static void *server_main(void *arg) {
        Server *s = arg;
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
        int c;

        if (poll(&pfd, 1, 5000) != 1)
                return NULL;
        c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return NULL;
        if (s->close_at_once) {
                close(c);
                return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(s->chunks) && s->chunks[i]; i++) {
                if (i > 0)
                        usleep(20000);
                (void) send(c, s->chunks[i], strlen(s->chunks[i]), MSG_NOSIGNAL);
        }
        /* Collect what the probe says until it closes, at most 3 s. */
        pfd.fd = c;
        while (s->n_received < sizeof(s->received) - 1 && poll(&pfd, 1, 3000) == 1) {
                ssize_t n = recv(c, s->received + s->n_received, sizeof(s->received) - 1 - s->n_received, 0);
                if (n <= 0)
                        break;
                s->n_received += (size_t) n;
        }
        close(c);
        return NULL;
}

static void server_start(Server *s) {
        s->fd = loopback_socket(true, &s->port);
        assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(Server *s) {
        assert_int_equal(pthread_join(s->thread, NULL), 0);
        close(s->fd);
}

/* Runs one probe to completion against HOST:PORT. */
static ProbeRun probe_once(const char *host, uint16_t port, uint64_t timeout_usec) {
        SmtpSettings s = { .host = (char *) host, .port = port };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun res;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_smtp_ops, "smtp-test", timeout_usec, &s, &p), 0);
        probe_run(e, p, &res);
        probe_free(p);

        /* A resolver child, if any, is reaped. */
        run_until_no_children(e);
        sd_event_unref(e);
        return res;
}

/* Runs one probe against HOST:S's port while S serves. */
static ProbeRun probe_served(Server *s, const char *host, uint64_t timeout_usec) {
        ProbeRun res;

        server_start(s);
        res = probe_once(host, s->port, timeout_usec);
        server_stop(s);
        return res;
}

#define expect_reason(res, fmt, port)                                          \
        do {                                                                   \
                char _expect[PROBE_REASON_MAX];                                \
                (void) snprintf(_expect, sizeof(_expect), fmt, port);          \
                assert_string_equal((res)->r.reason, _expect);                 \
        } while (0)

static void test_greeting_ok(void **state) {
        Server s = { .chunks = { "220 test ESMTP\r\n" } };
        ProbeRun res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_OK);
        expect_reason(&res, "connected to 127.0.0.1:%u, 220 greeting", s.port);
        assert_string_equal(s.received, "QUIT\r\n");
}

static void test_greeting_multiline(void **state) {
        /* Split mid-line and across lines to exercise partial reads. */
        Server s = { .chunks = { "220-test.example ESMTP", " first\r\n220-second line\r\n", "220 ready\r\n" } };
        ProbeRun res = probe_served(&s, "[127.0.0.1]", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_OK);
        expect_reason(&res, "connected to 127.0.0.1:%u, 220 greeting", s.port);
        assert_string_equal(s.received, "QUIT\r\n");
}

/* A peer that streams continuation lines is no SMTP server: it fails after
 * 100 lines instead of holding the probe (or the loop) forever. */
static void test_greeting_endless_continuation(void **state) {
        static char flood[120 * 8 + 1];
        Server s = {};
        ProbeRun res;

        for (unsigned i = 0; i < 120; i++)
                memcpy(flood + 8 * i, "220-xx\r\n", 8);
        s.chunks[0] = flood;
        res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_FAIL);
        expect_reason(&res, "greeting from 127.0.0.1:%u longer than 100 lines", s.port);
}

static void test_greeting_554(void **state) {
        Server s = { .chunks = { "554 no\r\n" } };
        ProbeRun res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_FAIL);
        assert_string_equal(res.r.reason, "greeting 554 no");
        assert_int_equal(res.r.outcome, PROBE_OUTCOME_GREETING_REJECTED);
        assert_string_equal(s.received, "");  /* no QUIT to a server that refused us */
}

/* RFC 5321 3.1: 421 is "service not available", a refusal like 554. */
static void test_greeting_421(void **state) {
        Server s = { .chunks = { "421 4.3.2 mx.example too busy, try later\r\n" } };
        ProbeRun res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_FAIL);
        assert_string_equal(res.r.reason, "greeting 421 4.3.2 mx.example too busy, try later");
        assert_int_equal(res.r.outcome, PROBE_OUTCOME_GREETING_REJECTED);
        assert_string_equal(s.received, "");
}

/* A relay that answers but refuses (421, 554) is not up: each such round
 * is a failure (the manager combines a round's reachability probes as FAIL
 * when one failed, watchdogd/manager-round.c), and fail_threshold of them
 * in a row make reachability DOWN: an outage, during which nothing is
 * restarted. */
static void test_refused_greeting_is_down(void **state) {
        static const char *const greetings[] = { "421 too busy\r\n", "554 no service\r\n" };
        DetectorParams params = {
                .fail_threshold = 3,
                .ok_threshold = 2,
                .restore_grace_usec = 60 * USEC_PER_SEC,
                .stall_after_usec = 600 * USEC_PER_SEC,
                .verify_after_usec = 120 * USEC_PER_SEC,
                .min_backlog = 1,
                .actions = { ACTION_RESTART },
                .n_actions = 1,
                .max_restarts = 3,
                .restart_window_usec = 3600 * USEC_PER_SEC,
                .unknown_alert_after_usec = 600 * USEC_PER_SEC,
                .giveup_holddown_usec = 3600 * USEC_PER_SEC,
        };

        for (size_t g = 0; g < ELEMENTSOF(greetings); g++) {
                Observation obs = {
                        .reach = PROBE_OK,
                        .queue_status = PROBE_UNKNOWN,
                        .activity_status = PROBE_UNKNOWN,
                        .unit_status = PROBE_UNKNOWN,
                };
                DetectorOutput out;
                Detector d;
                uint64_t t = 10 * USEC_PER_SEC;

                detector_init(&d, t);
                for (unsigned i = 0; i < params.ok_threshold; i++) {
                        t += 10 * USEC_PER_SEC;
                        detector_step(&d, &params, &obs, t, &out);
                }
                assert_int_equal(d.reach, REACH_UP);

                for (unsigned i = 1; i <= params.fail_threshold; i++) {
                        Server s = { .chunks = { greetings[g] } };
                        ProbeRun res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

                        assert_int_equal(res.r.status, PROBE_FAIL);
                        assert_int_equal(res.r.outcome, PROBE_OUTCOME_GREETING_REJECTED);
                        obs.reach = res.r.status;
                        t += 10 * USEC_PER_SEC;
                        detector_step(&d, &params, &obs, t, &out);
                        assert_int_equal(d.reach, i < params.fail_threshold ? REACH_UP : REACH_DOWN);
                }
        }
}

static void test_greeting_malformed(void **state) {
        Server s = { .chunks = { "HTTP/1.1 400 Bad Request\r\n" } };
        ProbeRun res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_FAIL);
        expect_reason(&res, "malformed greeting \"HTTP/1.1 400 Bad Request\" from 127.0.0.1:%u", s.port);
        assert_int_equal(res.r.outcome, PROBE_OUTCOME_PROTOCOL_ERROR);
}

static void test_eof_before_greeting(void **state) {
        Server s = { .close_at_once = true };
        ProbeRun res = probe_served(&s, "127.0.0.1", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_FAIL);
        /* Either the FIN or an RST (close with unread data) may come first. */
        char eof[PROBE_REASON_MAX], rst[PROBE_REASON_MAX];
        (void) snprintf(eof, sizeof(eof), "127.0.0.1:%u closed the connection before the greeting", s.port);
        (void) snprintf(rst, sizeof(rst), "read from 127.0.0.1:%u: Connection reset by peer", s.port);
        if (strcmp(res.r.reason, eof) != 0)
                assert_string_equal(res.r.reason, rst);
}

static void test_connection_refused(void **state) {
        uint16_t port;
        int fd = loopback_socket(false, &port);  /* bound, never listening */
        ProbeRun res;

        res = probe_once("127.0.0.1", port, 5 * USEC_PER_SEC);
        close(fd);

        assert_int_equal(res.r.status, PROBE_FAIL);
        expect_reason(&res, "connect to 127.0.0.1:%u: Connection refused", port);
        assert_int_equal(res.r.outcome, PROBE_OUTCOME_REFUSED);
}

static void test_no_greeting_times_out(void **state) {
        Server s = {};  /* accepts, never says a word */
        uint64_t start = now_usec(), elapsed;
        ProbeRun res;

        server_start(&s);
        res = probe_once("127.0.0.1", s.port, 300 * USEC_PER_MSEC);
        elapsed = now_usec() - start;
        server_stop(&s);

        assert_int_equal(res.r.status, PROBE_FAIL);
        assert_string_equal(res.r.reason, "timed out after 300ms");
        assert_int_equal(res.r.outcome, PROBE_OUTCOME_TIMEOUT);
        assert_true(elapsed >= 300 * USEC_PER_MSEC);
        assert_true(elapsed < 3 * USEC_PER_SEC);
}

static void test_name_resolved(void **state) {
        /* "localhost" comes from /etc/hosts through the resolver child; no
         * packet leaves the machine. */
        Server s = { .chunks = { "220 test ESMTP\r\n" } };
        ProbeRun res = probe_served(&s, "localhost", 5 * USEC_PER_SEC);

        assert_int_equal(res.r.status, PROBE_OK);
        expect_reason(&res, "connected to 127.0.0.1:%u, 220 greeting", s.port);
}

static void test_bad_settings(void **state) {
        SmtpSettings none = {};
        SmtpSettings empty = { .host = (char *) "" };
        sd_event *e = NULL;
        Probe *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_smtp_ops, "x", USEC_PER_SEC, &none, &p), -EINVAL);
        assert_int_equal(probe_new_on(e, &probe_smtp_ops, "x", USEC_PER_SEC, &empty, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(probe_smtp_ops.kind, PROBE_KIND_REACHABILITY);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_greeting_ok),
                cmocka_unit_test(test_greeting_multiline),
                cmocka_unit_test(test_greeting_endless_continuation),
                cmocka_unit_test(test_greeting_554),
                cmocka_unit_test(test_greeting_421),
                cmocka_unit_test(test_refused_greeting_is_down),
                cmocka_unit_test(test_greeting_malformed),
                cmocka_unit_test(test_eof_before_greeting),
                cmocka_unit_test(test_connection_refused),
                cmocka_unit_test(test_no_greeting_times_out),
                cmocka_unit_test(test_name_resolved),
                cmocka_unit_test(test_bad_settings),
        };

        block_sigchld();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
