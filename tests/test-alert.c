/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
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
#include <regex.h>

#include "alert.h"
#include "event.h"
#include "sign.h"
#include "log.h"
#include "macros.h"
#include "tests.h"

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
 * "read the request, then never answer". The body of answer I is BODIES[I]
 * when given, else "ok\n" (below 300) or "no such hook\n". Exits after the
 * last one. */
static _Noreturn void server_child(int lfd, int wfd, const int *statuses, const char *const *bodies, size_t n) {
        static char buf[65536];

        alarm(30);  /* never outlive a broken test */
        for (size_t i = 0; i < n; i++) {
                size_t head_len, body_len;
                char hdr[64], resp[1024];
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

                const char *body = bodies && bodies[i] ? bodies[i] : statuses[i] < 300 ? "ok\n" : "no such hook\n";
                k = snprintf(resp, sizeof(resp),
                             "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                             "%sConnection: close\r\n\r\n%s",
                             statuses[i], strlen(body), statuses[i] == 429 ? "Retry-After: 2\r\n" : "", body);
                if (k < 0 || (size_t) k >= sizeof(resp) || write(c, resp, (size_t) k) != k)
                        _exit(5);
                close(c);
        }
        _exit(0);
}

static void server_start_bodies(Server *s, const int *statuses, const char *const *bodies, size_t n) {
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
                server_child(lfd, p[1], statuses, bodies, n);
        }
        close(lfd);
        close(p[1]);
        s->records_fd = p[0];
        s->port = ntohs(sa.sin_port);
}

static void server_start(Server *s, const int *statuses, size_t n) {
        server_start_bodies(s, statuses, NULL, n);
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

/* Runs the loop until nothing is pending, failing after MAX_USEC. */
static void run_until_idle(sd_event *e, Alerter *a, uint64_t max_usec) {
        uint64_t start = now_usec();

        while (alerter_pending(a) > 0) {
                assert_true(now_usec() - start < max_usec);
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        }
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
        /* The helpers killed by alerter_free() are reaped by the loop. */
        run_until_no_children(fx->event);
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

/* ---- the outbox, formats, signing ---- */

static char tmpdir[] = "/tmp/test-alert-XXXXXX";

static unsigned count_files(const char *dir, const char *suffix) {
        _cleanup_free_ char *cmd = NULL;
        unsigned n = 0;
        FILE *p;

        assert_true(asprintf(&cmd, "ls -A '%s' | grep -c '%s$'", dir, suffix) > 0);
        p = popen(cmd, "re");
        assert_non_null(p);
        assert_int_equal(fscanf(p, "%u", &n), 1);
        pclose(p);
        return n;
}

static char *fresh_state_dir(const char *name) {
        char *d = NULL;

        assert_true(asprintf(&d, "%s/%s", tmpdir, name) > 0);
        return d;
}

static uint16_t closed_port(int *ret_fd) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t salen = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &salen), 0);
        *ret_fd = fd;
        return ntohs(sa.sin_port);
}

static const char *header_value(const char *head, const char *name, char *buf, size_t size) {
        _cleanup_free_ char *needle = NULL;
        const char *p;
        size_t n;

        assert_true(asprintf(&needle, "\r\n%s: ", name) > 0);
        p = strcasestr(head, needle);
        if (!p)
                return NULL;
        p += strlen(needle);
        n = strcspn(p, "\r");
        assert_true(n < size);
        memcpy(buf, p, n);
        buf[n] = '\0';
        return buf;
}

/* No [alert:NAME]: alerts are only logged. Events are taken and dropped
 * at once, nothing waits, and the state directory gets no outbox (the
 * daemon still heals and writes metrics: neither goes through here). */
static void test_no_receivers_no_outbox(void **state) {
        _cleanup_(alerter_freep) Alerter *a = NULL;
        _cleanup_free_ char *sd = fresh_state_dir("no-receivers"), *outbox = NULL;
        Config config = { .state_dir = sd };
        sd_event *e = NULL;
        struct stat st;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(alerter_new(e, &config, &a), 0);
        assert_int_equal(alerter_n_receivers(a), 0);
        for (EventKind k = 0; k < _EVENT_KIND_MAX; k++) {
                Event ev = test_event(k);

                assert_int_equal(alerter_send(a, &ev), 0);
        }
        assert_int_equal(alerter_pending(a), 0);
        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        assert_int_equal(stat(outbox, &st), -1);
        assert_int_equal(errno, ENOENT);
        a = alerter_free(a);
        e = sd_event_unref(e);
}

/* Stored before sending; after a restart the same entries, same ids, in order. */
static void test_outbox_resume(void **state) {
        static const int statuses[] = { 200, 200, 200 };
        static const EventKind kinds[] = { EVENT_OUTAGE_STARTED, EVENT_STALL_DETECTED, EVENT_RECOVERED };
        _cleanup_free_ char *sd = fresh_state_dir("resume"), *outbox = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *want[3] = {};
        Record rec[4] = {};
        Alerter *a = NULL;
        Server srv;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        fixture_init(&fx, closed_port(&fd), 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        for (size_t i = 0; i < 3; i++) {
                Event ev = test_event(kinds[i]);
                want[i] = event_to_json(&ev);
                assert_int_equal(alerter_send(a, &ev), 0);
        }
        assert_int_equal(count_files(outbox, ".json"), 3);
        run_for(fx.event, 300 * USEC_PER_MSEC);
        assert_int_equal(alerter_pending(a), 3);
        a = alerter_free(a);
        fixture_done(&fx);
        assert_int_equal(count_files(outbox, ".json"), 3);

        /* "Restart" with the receiver up. */
        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        assert_int_equal(alerter_pending(a), 3);
        run_until_idle(fx.event, a, 20 * USEC_PER_SEC);
        assert_int_equal(count_files(outbox, ".json"), 0);
        a = alerter_free(a);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 3);
        for (size_t i = 0; i < 3; i++) {
                assert_string_equal(rec[i].body, want[i]);
                free(want[i]);
        }
        records_free(rec, 3);

        /* Delivered means gone: a third start sends nothing. */
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        assert_int_equal(alerter_pending(a), 0);
        a = alerter_free(a);
        fixture_done(&fx);
}

static void test_refused_goes_to_failed(void **state) {
        static const int statuses[] = { 410 };
        _cleanup_free_ char *sd = fresh_state_dir("refused"), *outbox = NULL, *failed = NULL;
        _cleanup_(alerter_freep) Alerter *a = NULL;
        Record rec[2] = {};
        Server srv;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        assert_true(asprintf(&failed, "%s/outbox/failed", sd) > 0);
        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_GAVE_UP);
        assert_int_equal(alerter_send(a, &ev), 0);
        run_until_idle(fx.event, a, 10 * USEC_PER_SEC);
        assert_int_equal(count_files(outbox, ".json"), 0);
        assert_int_equal(count_files(failed, ".json"), 1);
        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 1);
        records_free(rec, 1);
        a = alerter_free(a);
        fixture_done(&fx);
}

/* Undeliverable for max_age: moved to failed/, not retried for ever. */
static void test_max_age(void **state) {
        _cleanup_free_ char *sd = fresh_state_dir("max-age"), *outbox = NULL, *failed = NULL;
        _cleanup_(alerter_freep) Alerter *a = NULL;
        _cleanup_close_ int fd = -EBADF;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        assert_true(asprintf(&failed, "%s/outbox/failed", sd) > 0);
        fixture_init(&fx, closed_port(&fd), 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.retry_initial_usec = 100 * USEC_PER_MSEC;
        fx.ac.retry_max_usec = 200 * USEC_PER_MSEC;
        fx.ac.max_age_usec = 700 * USEC_PER_MSEC;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_GAVE_UP);
        assert_int_equal(alerter_send(a, &ev), 0);
        run_until_idle(fx.event, a, 5 * USEC_PER_SEC);
        assert_int_equal(count_files(outbox, ".json"), 0);
        assert_int_equal(count_files(failed, ".json"), 1);
        a = alerter_free(a);
        fixture_done(&fx);
}

/* Entries of a receiver no longer configured stay on disk, untouched. */
static void test_unknown_receiver_left_alone(void **state) {
        _cleanup_free_ char *sd = fresh_state_dir("unknown"), *outbox = NULL;
        _cleanup_close_ int fd = -EBADF;
        Alerter *a = NULL;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        fixture_init(&fx, closed_port(&fd), 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.name = (char *) "old";
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_OUTAGE_STARTED);
        assert_int_equal(alerter_send(a, &ev), 0);
        a = alerter_free(a);

        fx.ac.name = (char *) "new";
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        assert_int_equal(alerter_pending(a), 0);
        a = alerter_free(a);
        assert_int_equal(count_files(outbox, "^old\\..*\\.json"), 1);
        fixture_done(&fx);
}

static void test_retry_after(void **state) {
        static const int statuses[] = { 429, 200 };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        Record rec[3] = {};
        Server srv;
        Fixture fx;
        uint64_t t0;

        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_STALL_DETECTED);
        t0 = now_usec();
        assert_int_equal(alerter_send(a, &ev), 0);
        run_until_idle(fx.event, a, 10 * USEC_PER_SEC);
        /* "Retry-After: 2", not the 1s first backoff step. */
        assert_true(now_usec() - t0 >= 2 * USEC_PER_SEC);
        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 2);
        records_free(rec, 2);
        a = alerter_free(a);
        fixture_done(&fx);
}

static void test_signed_slack_with_headers(void **state) {
        static const int statuses[] = { 200 };
        static char *headers[] = { (char *) "X-Team: ops", (char *) "Authorization: Bearer t0k", NULL };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        _cleanup_free_ uint8_t *key = NULL;
        _cleanup_free_ char *sig = NULL;
        char id[64], ts[32], got[128];
        size_t key_size = 0;
        Record rec[2] = {};
        Server srv;
        Fixture fx;

        assert_int_equal(webhook_secret_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, &key_size), 0);
        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.ac.format = (char *) "slack";
        fx.ac.headers = headers;
        fx.ac.secret = key;
        fx.ac.secret_size = key_size;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_STALL_DETECTED);
        assert_int_equal(alerter_send(a, &ev), 0);
        run_until_idle(fx.event, a, 10 * USEC_PER_SEC);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 1);
        assert_string_equal(rec[0].body,
                            "{\"text\":\"[warning] stall.detected: postfix (postfix.service) on mx1.example.org "
                            "(action restart): queue stalled; backlog 42, oldest 0s, reachability up, "
                            "restarts in window 0, state STALLED\"}");
        assert_string_equal(header_value(rec[0].head, "X-Team", got, sizeof got), "ops");
        assert_string_equal(header_value(rec[0].head, "Authorization", got, sizeof got), "Bearer t0k");
        assert_string_equal(header_value(rec[0].head, "webhook-id", id, sizeof id), ev.id);
        assert_non_null(header_value(rec[0].head, "webhook-timestamp", ts, sizeof ts));
        assert_true(llabs(strtoll(ts, NULL, 10) - (long long) time(NULL)) < 5);
        sig = webhook_sign(key, key_size, id, strtoull(ts, NULL, 10), rec[0].body, strlen(rec[0].body));
        assert_string_equal(header_value(rec[0].head, "webhook-signature", got, sizeof got), sig);
        records_free(rec, 1);
        a = alerter_free(a);
        fixture_done(&fx);
}

/* max_queued = 3 on a dead receiver: info goes first, then warning;
 * critical stays even past the bound; the next stored alert says how many went. */
static void test_bounded(void **state) {
        static const EventKind kinds[] = {
                EVENT_ACTION_STARTED,   /* info */
                EVENT_STALL_DETECTED,   /* warning */
                EVENT_RECOVERED,        /* info */
                EVENT_GAVE_UP,          /* critical: drops the first info */
                EVENT_ACTION_FAILED,    /* critical: drops the second info */
                EVENT_GAVE_UP,          /* critical: drops the warning */
                EVENT_ACTION_FAILED,    /* critical: nothing left to drop */
                EVENT_OUTAGE_ENDED,     /* info: dropped itself */
        };
        _cleanup_free_ char *sd = fresh_state_dir("bounded"), *outbox = NULL, *last = NULL;
        _cleanup_close_ int fd = -EBADF;
        Alerter *a = NULL;
        Fixture fx;
        FILE *p;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        fixture_init(&fx, closed_port(&fd), 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.max_queued = 3;
        fx.ac.retry_initial_usec = 60 * USEC_PER_SEC;  /* one attempt only in this test */
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                Event ev = test_event(kinds[i]);
                assert_int_equal(alerter_send(a, &ev), 0);
                /* Attempts fail at once: the head waits out its backoff, not in flight. */
                run_for(fx.event, 100 * USEC_PER_MSEC);
        }
        assert_int_equal(alerter_pending(a), 4);
        assert_int_equal(count_files(outbox, ".json"), 4);
        a = alerter_free(a);

        /* What is left, in order: the four critical ones; the first of them counts 1 dropped... */
        char *cmd = NULL;
        assert_true(asprintf(&cmd, "cd '%s' && for f in test.*.json; do python3 -c 'import json,sys; "
                             "e=json.load(open(sys.argv[1]))[\"event\"]; "
                             "print(e[\"event\"], e[\"details\"].get(\"alerts_dropped\", 0))' $f; done",
                             outbox) > 0);
        p = popen(cmd, "re");
        free(cmd);
        assert_non_null(p);
        char buf[512] = "";
        size_t n = fread(buf, 1, sizeof buf - 1, p);
        buf[n] = '\0';
        pclose(p);
        assert_string_equal(buf,
                            "gave_up 1\n"          /* the first info went when it came */
                            "action.failed 1\n"    /* the second info */
                            "gave_up 1\n"          /* the warning */
                            "action.failed 0\n");  /* the last info dropped itself: counted for the next one */
        fixture_done(&fx);
}

/* ---- 2xx bodies and rate limits ---- */

static void test_classify_body(void **state) {
        static const char teams[] =
                "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429";
        regex_t slack, one, failure;
        static const struct {
                const char *body;
                DeliveryVerdict slack;    /* format slack: the built-in success_body, Slack's codes */
                DeliveryVerdict generic;  /* success_body = ^1$, failure_body = delivery failed|... */
                DeliveryVerdict any;      /* no rule */
        } table[] = {
                { "ok",                         DELIVERY_OK,     DELIVERY_RETRY, DELIVERY_OK },
                { "ok\n",                       DELIVERY_OK,     DELIVERY_RETRY, DELIVERY_OK },
                { "ok\r\n",                     DELIVERY_OK,     DELIVERY_RETRY, DELIVERY_OK },
                { "okay",                       DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
                { "",                           DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
                { "1",                          DELIVERY_RETRY,  DELIVERY_OK,    DELIVERY_OK },
                { "invalid_payload",            DELIVERY_FAILED, DELIVERY_RETRY, DELIVERY_OK },
                { "no_text\n",                  DELIVERY_FAILED, DELIVERY_RETRY, DELIVERY_OK },
                { "channel_not_found",          DELIVERY_FAILED, DELIVERY_RETRY, DELIVERY_OK },
                { "no_service",                 DELIVERY_FAILED, DELIVERY_RETRY, DELIVERY_OK },
                { " invalid_token ",            DELIVERY_FAILED, DELIVERY_RETRY, DELIVERY_OK },
                { "invalid_payload_x",          DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
                { "invalid_payload because",    DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
                { "rate_limited",               DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
                { "<html>Bad Gateway</html>",   DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
                { teams,                        DELIVERY_RETRY,  DELIVERY_RETRY, DELIVERY_OK },
        };

        assert_int_equal(regcomp(&slack, SLACK_SUCCESS_BODY, REG_EXTENDED | REG_NOSUB), 0);
        assert_int_equal(regcomp(&one, "^1$", REG_EXTENDED | REG_NOSUB), 0);
        assert_int_equal(regcomp(&failure, "delivery failed|returned HTTP error", REG_EXTENDED | REG_NOSUB), 0);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                DeliveryVerdict v;

                v = delivery_classify_body(&slack, NULL, true, table[i].body);
                if (v != table[i].slack)
                        fail_msg("slack, body \"%s\": got %d, want %d", table[i].body, (int) v, (int) table[i].slack);
                v = delivery_classify_body(&one, &failure, false, table[i].body);
                if (v != table[i].generic)
                        fail_msg("generic, body \"%s\": got %d, want %d", table[i].body, (int) v, (int) table[i].generic);
                v = delivery_classify_body(NULL, NULL, false, table[i].body);
                if (v != table[i].any)
                        fail_msg("no rule, body \"%s\": got %d, want %d", table[i].body, (int) v, (int) table[i].any);
        }
        /* failure_body alone: a body it matches is retried, any other is delivered. */
        assert_int_equal(delivery_classify_body(NULL, &failure, false, teams), DELIVERY_RETRY);
        assert_int_equal(delivery_classify_body(NULL, &failure, false, "{\"ok\":true}"), DELIVERY_OK);
        assert_int_equal(delivery_classify_body(NULL, &failure, false, NULL), DELIVERY_OK);
        regfree(&slack);
        regfree(&one);
        regfree(&failure);
}

/* The spacing on a clock of our own: ticks of 100ms over 10s, with twenty
 * requests waiting all along, let exactly one start per second. */
static void test_rate_limit_ticks(void **state) {
        const uint64_t t0 = 5000 * USEC_PER_SEC, tick = 100 * USEC_PER_MSEC;
        RateLimit rl = { .interval_usec = USEC_PER_SEC };
        RateLimit none = {};
        unsigned started = 0, waiting = 20, unlimited = 0;

        for (unsigned i = 0; i < 100; i++) {
                uint64_t now = t0 + i * tick;
                unsigned this_tick = 0;

                /* As many as the limit lets through at this tick. */
                for (unsigned k = 0; k < 5 && waiting > 0 && rate_limit_wait(&rl, now) == 0; k++) {
                        rate_limit_note(&rl, now);
                        waiting--;
                        this_tick++;
                }
                assert_int_equal(this_tick, i % 10 == 0 ? 1 : 0);
                if (this_tick == 0)
                        assert_int_equal(rate_limit_wait(&rl, now), (10 - i % 10) * tick);
                started += this_tick;

                for (unsigned k = 0; k < 5 && rate_limit_wait(&none, now) == 0; k++) {
                        rate_limit_note(&none, now);
                        unlimited++;
                }
        }
        assert_int_equal(started, 10);
        assert_int_equal(waiting, 10);
        assert_int_equal(unlimited, 500);  /* no limit: everything at once */

        /* A request after a long pause does not earn a burst. */
        assert_int_equal(rate_limit_wait(&rl, t0 + 3600 * USEC_PER_SEC), 0);
        rate_limit_note(&rl, t0 + 3600 * USEC_PER_SEC);
        assert_int_equal(rate_limit_wait(&rl, t0 + 3600 * USEC_PER_SEC), USEC_PER_SEC);
}

/* Runs FN(ARG) with stderr going to a file; returns what was logged. */
static char *capture_stderr(void (*fn)(void *), void *arg) {
        _cleanup_free_ char *path = NULL;
        char *text = NULL;
        size_t size = 0;
        int saved, fd;
        FILE *f;

        assert_true(asprintf(&path, "%s/stderr.%d", tmpdir, (int) getpid()) > 0);
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);

        fn(arg);

        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);

        f = fopen(path, "re");
        assert_non_null(f);
        assert_true(getdelim(&text, &size, '\0', f) >= 0);
        fclose(f);
        (void) unlink(path);
        return text;
}

typedef struct BodyRun {
        Fixture *fx;
        Alerter *a;
} BodyRun;

static void body_run(void *userdata) {
        BodyRun *b = userdata;

        run_until_idle(b->fx->event, b->a, 20 * USEC_PER_SEC);
}

static void stats_of(Alerter *a, uint64_t *sent, uint64_t *failed) {
        const char *name;

        assert_int_equal(alerter_receiver_stats(a, 0, &name, sent, failed), 0);
        assert_string_equal(name, "test");
}

/* Slack answers "ok": delivered; two alerts in a row are a second apart at least
 * (rate_limit 1/1s, the slack default). */
static void test_slack_ok_delivered(void **state) {
        static const int statuses[] = { 200, 200 };
        static const char *const bodies[] = { "ok", "ok" };
        _cleanup_free_ char *sd = fresh_state_dir("slack-ok"), *outbox = NULL, *failed = NULL;
        _cleanup_(alerter_freep) Alerter *a = NULL;
        uint64_t t0, sent, nfailed;
        Record rec[3] = {};
        Server srv;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        assert_true(asprintf(&failed, "%s/outbox/failed", sd) > 0);
        server_start_bodies(&srv, statuses, bodies, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.format = (char *) "slack";
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev1 = test_event(EVENT_STALL_DETECTED), ev2 = test_event(EVENT_ACTION_STARTED);
        t0 = now_usec();
        assert_int_equal(alerter_send(a, &ev1), 0);
        assert_int_equal(alerter_send(a, &ev2), 0);
        run_until_idle(fx.event, a, 20 * USEC_PER_SEC);
        assert_true(now_usec() - t0 >= 1 * USEC_PER_SEC);

        assert_int_equal(count_files(outbox, ".json"), 0);
        assert_int_equal(count_files(failed, ".json"), 0);
        stats_of(a, &sent, &nfailed);
        assert_int_equal(sent, 2);
        assert_int_equal(nfailed, 0);
        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 2);
        assert_non_null(strstr(rec[0].body, "stall.detected"));
        assert_non_null(strstr(rec[1].body, "action.started"));
        records_free(rec, 2);
        a = alerter_free(a);
        fixture_done(&fx);
}

/* Slack answers 200 "invalid_payload": the post can never succeed, so it is
 * set aside in failed/ at once (no retry), like a 4xx. */
static void test_slack_invalid_payload_failed(void **state) {
        static const int statuses[] = { 200 };
        static const char *const bodies[] = { "invalid_payload" };
        _cleanup_free_ char *sd = fresh_state_dir("slack-invalid"), *outbox = NULL, *failed = NULL, *log = NULL;
        Alerter *a = NULL;
        uint64_t sent, nfailed;
        Record rec[2] = {};
        Server srv;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        assert_true(asprintf(&failed, "%s/outbox/failed", sd) > 0);
        server_start_bodies(&srv, statuses, bodies, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.format = (char *) "slack";
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_GAVE_UP);
        assert_int_equal(alerter_send(a, &ev), 0);
        log = capture_stderr(body_run, &(BodyRun) { &fx, a });

        assert_int_equal(count_files(outbox, ".json"), 0);
        assert_int_equal(count_files(failed, ".json"), 1);
        stats_of(a, &sent, &nfailed);
        assert_int_equal(sent, 0);
        assert_int_equal(nfailed, 1);
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "alert test: gave_up %s refused with HTTP 200 and an error body, "
                             "moved to failed/: invalid_payload\n", ev.id) > 0);
        if (!strstr(log, want))
                fail_msg("log lacks \"%s\": %s", want, log);
        a = alerter_free(a);
        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 1);
        records_free(rec, 1);
        fixture_done(&fx);
}

/* A Teams relay answers 200 with its failure in the body: with success_body
 * set, that is retried (and logged, sanitised), and delivered once the body is
 * right. The same alert, the same id, both times. */
static void test_success_body_retried_then_delivered(void **state) {
        static const int statuses[] = { 200, 200, 200 };
        static const char *const bodies[] = {
                "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429",
                "Webhook message delivery failed\r\nwith error: Microsoft Teams endpoint returned HTTP error 429\n",
                "1",
        };
        _cleanup_free_ char *sd = fresh_state_dir("success-body"), *outbox = NULL, *failed = NULL, *log = NULL;
        _cleanup_free_ char *want = NULL, *want_first = NULL, *want_second = NULL;
        Alerter *a = NULL;
        uint64_t sent, nfailed;
        Record rec[4] = {};
        Server srv;
        Fixture fx;

        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        assert_true(asprintf(&failed, "%s/outbox/failed", sd) > 0);
        server_start_bodies(&srv, statuses, bodies, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.success_body = (char *) "^1$";
        fx.ac.retry_initial_usec = 100 * USEC_PER_MSEC;
        fx.ac.retry_max_usec = 200 * USEC_PER_MSEC;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_STALL_DETECTED);
        want = event_to_json(&ev);
        assert_int_equal(alerter_send(a, &ev), 0);
        log = capture_stderr(body_run, &(BodyRun) { &fx, a });

        assert_int_equal(count_files(outbox, ".json"), 0);
        assert_int_equal(count_files(failed, ".json"), 0);
        stats_of(a, &sent, &nfailed);
        assert_int_equal(sent, 1);
        assert_int_equal(nfailed, 0);
        a = alerter_free(a);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 3);
        for (size_t i = 0; i < 3; i++)
                assert_string_equal(rec[i].body, want);
        records_free(rec, 3);

        /* The first refusal at warning, with the body; the repeat (at debug) with
         * its control characters replaced. */
        assert_true(asprintf(&want_first, "alert test: sending stall.detected %s to %s failed (HTTP 200 with an "
                             "unexpected body: Webhook message delivery failed with error: Microsoft Teams "
                             "endpoint returned HTTP error 429), retrying in ", ev.id, fx.url) > 0);
        assert_true(asprintf(&want_second, "(HTTP 200 with an unexpected body: Webhook message delivery failed  "
                             "with error: Microsoft Teams endpoint returned HTTP error 429), retrying in ") > 0);
        if (!strstr(log, want_first))
                fail_msg("log lacks \"%s\": %s", want_first, log);
        if (!strstr(log, want_second))
                fail_msg("log lacks \"%s\": %s", want_second, log);
        assert_non_null(strstr(log, "alert test: delivered stall.detected"));
        fixture_done(&fx);
}

/* failure_body alone: a body it matches is retried, an empty 200 delivers.
 * rate_limit = 1/300ms spaces three alerts (retry included) in order. */
static void test_failure_body_and_rate_limit(void **state) {
        static const int statuses[] = { 200, 200, 200, 200 };
        static const char *const bodies[] = { "delivery failed", "", "", "" };
        static const EventKind kinds[] = { EVENT_STALL_DETECTED, EVENT_ACTION_STARTED, EVENT_RECOVERED };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        char *want[3] = {};
        uint64_t t0, sent, nfailed;
        Record rec[5] = {};
        Server srv;
        Fixture fx;

        server_start_bodies(&srv, statuses, bodies, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.ac.failure_body = (char *) "delivery failed|returned HTTP error";
        fx.ac.retry_initial_usec = 10 * USEC_PER_MSEC;  /* shorter than the limit: the limit wins */
        fx.ac.rate_limit_requests = 1;
        fx.ac.rate_limit_period_usec = 300 * USEC_PER_MSEC;
        fx.ac.rate_limit_set = true;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        t0 = now_usec();
        for (size_t i = 0; i < 3; i++) {
                Event ev = test_event(kinds[i]);
                want[i] = event_to_json(&ev);
                assert_int_equal(alerter_send(a, &ev), 0);
        }
        run_until_idle(fx.event, a, 20 * USEC_PER_SEC);
        /* Four requests, each 300ms after the one before at the earliest. */
        assert_true(now_usec() - t0 >= 900 * USEC_PER_MSEC);
        stats_of(a, &sent, &nfailed);
        assert_int_equal(sent, 3);
        assert_int_equal(nfailed, 0);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 4);
        assert_string_equal(rec[0].body, want[0]);
        assert_string_equal(rec[1].body, want[0]);
        assert_string_equal(rec[2].body, want[1]);
        assert_string_equal(rec[3].body, want[2]);
        for (size_t i = 0; i < 3; i++)
                free(want[i]);
        records_free(rec, 4);
        a = alerter_free(a);
        fixture_done(&fx);
}

static json_t *parse(const char *s) {
        json_error_t err;
        json_t *j = json_loads(s, 0, &err);

        if (!j)
                fail_msg("not JSON: %s", s);
        return j;
}

static const char *am_get(json_t *list, size_t i, const char *obj, const char *key) {
        json_t *a = json_array_get(list, i);
        if (obj)
                a = json_object_get(a, obj);
        return json_string_value(json_object_get(a, key));
}

/* One Alertmanager alert per incident: firing, re-posted, escalated, resolved. */
static void test_alertmanager_incident(void **state) {
        static const int statuses[] = { 200, 200, 200, 200 };
        _cleanup_(alerter_freep) Alerter *a = NULL;
        Record rec[5] = {};
        Server srv;
        Fixture fx;
        json_t *j;

        server_start(&srv, statuses, ELEMENTSOF(statuses));
        fixture_init(&fx, srv.port, 5 * USEC_PER_SEC);
        fx.ac.format = (char *) "alertmanager";
        fx.ac.resend_interval_usec = 1 * USEC_PER_SEC;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);

        Event ev = test_event(EVENT_STALL_DETECTED);
        ev.time_usec = 1795994100 * USEC_PER_SEC;  /* 2026-11-29T23:15:00Z */
        assert_int_equal(alerter_send(a, &ev), 0);
        run_for(fx.event, 1500 * USEC_PER_MSEC);   /* delivered, then re-posted once at 1s */
        assert_int_equal(alerter_pending(a), 0);

        ev = test_event(EVENT_GAVE_UP);
        ev.state = "GAVE_UP";
        ev.time_usec = 1795994400 * USEC_PER_SEC;  /* 23:20:00Z */
        assert_int_equal(alerter_send(a, &ev), 0);
        ev = test_event(EVENT_RECOVERED);
        ev.state = "HEALTHY";
        ev.time_usec = 1795994535 * USEC_PER_SEC;  /* 23:22:15Z */
        assert_int_equal(alerter_send(a, &ev), 0);
        run_until_idle(fx.event, a, 10 * USEC_PER_SEC);
        run_for(fx.event, 1200 * USEC_PER_MSEC);   /* resolved: no more re-posts */
        assert_int_equal(alerter_pending(a), 0);
        a = alerter_free(a);

        assert_int_equal(server_finish(&srv, false, rec, ELEMENTSOF(rec)), 4);

        for (size_t i = 0; i < 2; i++) {
                j = parse(rec[i].body);
                assert_int_equal(json_array_size(j), 1);
                assert_string_equal(am_get(j, 0, "labels", "alertname"), "MTAWatchdogIncident");
                assert_string_equal(am_get(j, 0, "labels", "instance"), "mx1.example.org");
                assert_string_equal(am_get(j, 0, "labels", "mta"), "postfix");
                assert_string_equal(am_get(j, 0, "labels", "unit"), "postfix.service");
                assert_string_equal(am_get(j, 0, "labels", "severity"), "warning");
                assert_string_equal(am_get(j, 0, "labels", "incident"), "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f");
                assert_string_equal(am_get(j, 0, "annotations", "summary"), "queue stalled");
                assert_string_equal(am_get(j, 0, NULL, "startsAt"), "2026-11-29T23:15:00Z");
                assert_null(am_get(j, 0, NULL, "endsAt"));
                json_decref(j);
        }
        assert_true(strncmp(rec[0].head, "POST /hook HTTP/1.1\r\n", 21) == 0);

        j = parse(rec[2].body);
        assert_int_equal(json_array_size(j), 2);
        assert_string_equal(am_get(j, 0, "labels", "severity"), "warning");
        assert_string_equal(am_get(j, 0, NULL, "endsAt"), "2026-11-29T23:20:00Z");
        assert_string_equal(am_get(j, 1, "labels", "severity"), "critical");
        assert_string_equal(am_get(j, 1, NULL, "startsAt"), "2026-11-29T23:15:00Z");
        assert_null(am_get(j, 1, NULL, "endsAt"));
        json_decref(j);

        j = parse(rec[3].body);
        assert_int_equal(json_array_size(j), 1);
        assert_string_equal(am_get(j, 0, "labels", "severity"), "critical");
        assert_string_equal(am_get(j, 0, NULL, "startsAt"), "2026-11-29T23:15:00Z");
        assert_string_equal(am_get(j, 0, NULL, "endsAt"), "2026-11-29T23:22:15Z");
        json_decref(j);

        records_free(rec, 4);
        fixture_done(&fx);
}

/* ---- the helper that posts (mta-watchdog-post) failing ---- */

/* Writes SCRIPT as an executable shell script NAME in tmpdir; returns its path. */
static char *fake_helper(const char *name, const char *script) {
        char *path = NULL;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fprintf(f, "#!/bin/sh\n%s", script) > 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0755), 0);
        return path;
}

static unsigned count_lines(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        unsigned n = 0;
        int c;

        if (!f)
                return 0;
        while ((c = fgetc(f)) != EOF)
                if (c == '\n')
                        n++;
        return n;
}

typedef struct LoopRun {
        sd_event *event;
        uint64_t usec;
} LoopRun;

static void loop_run(void *userdata) {
        LoopRun *l = userdata;

        run_for(l->event, l->usec);
}

/* Whether PID is gone, or a zombie left to init (a grandchild of ours). */
static bool process_gone(pid_t pid) {
        _cleanup_free_ char *path = NULL;
        char stat[512] = "";
        FILE *f;

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        assert_true(asprintf(&path, "/proc/%d/stat", (int) pid) > 0);
        f = fopen(path, "re");
        if (!f)
                return true;
        (void) !fgets(stat, sizeof(stat), f);
        fclose(f);
        return strstr(stat, ") Z ") != NULL;
}

/* A helper that never answers (nor its child): its process group is killed
 * at the receiver's timeout plus the grace (1s + 2s), the attempt fails, and
 * the entry stays in the outbox. */
static void test_helper_hangs(void **state) {
        _cleanup_free_ char *sd = fresh_state_dir("helper-hangs"), *outbox = NULL, *helper = NULL,
                *pidfile = NULL, *log = NULL, *want = NULL;
        _cleanup_close_ int fd = -EBADF;
        Alerter *a = NULL;
        unsigned grandchild = 0;
        uint64_t start;
        Fixture fx;
        FILE *f;

        helper = fake_helper("helper-hangs.sh", "sleep 60 & echo $! >\"$0.pid\"\nwait\n");
        assert_true(asprintf(&pidfile, "%s.pid", helper) > 0);
        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        alerter_set_post_helper(helper);

        fixture_init(&fx, closed_port(&fd), 1 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.retry_initial_usec = 30 * USEC_PER_SEC;  /* one attempt in this test */
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_STALL_DETECTED);
        assert_int_equal(alerter_send(a, &ev), 0);

        LoopRun lr = { fx.event, 3500 * USEC_PER_MSEC };
        log = capture_stderr(loop_run, &lr);
        assert_true(asprintf(&want, "failed (%s did not finish within 3000ms, killed), retrying in ", helper) > 0);
        assert_non_null(strstr(log, want));
        assert_int_equal(alerter_pending(a), 1);
        assert_int_equal(count_files(outbox, ".json"), 1);

        /* Its child went with the process group. */
        f = fopen(pidfile, "re");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%u", &grandchild), 1);
        fclose(f);
        start = now_usec();
        while (!process_gone((pid_t) grandchild)) {
                assert_true(now_usec() - start < 5 * USEC_PER_SEC);
                (void) usleep(20 * 1000);
        }

        a = alerter_free(a);
        fixture_done(&fx);
        alerter_set_post_helper(TEST_POST_HELPER);
}

/* A helper SCRIPT that ends without an answer: a failed attempt, logged with
 * WANT after the helper's path, retried (with backoff), the entry kept. */
static void helper_fails(const char *name, const char *script, const char *want) {
        _cleanup_free_ char *sd = fresh_state_dir(name), *outbox = NULL, *helper = NULL, *runs = NULL,
                *log = NULL, *line = NULL, *text = NULL, *script_name = NULL;
        _cleanup_close_ int fd = -EBADF;
        Alerter *a = NULL;
        Fixture fx;

        assert_true(asprintf(&text, "echo run >>\"$0.runs\"\n%s", script) > 0);
        assert_true(asprintf(&script_name, "%s.sh", name) > 0);
        helper = fake_helper(script_name, text);
        assert_true(asprintf(&runs, "%s.runs", helper) > 0);
        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        alerter_set_post_helper(helper);

        fixture_init(&fx, closed_port(&fd), 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.retry_initial_usec = 100 * USEC_PER_MSEC;
        fx.ac.retry_max_usec = 100 * USEC_PER_MSEC;
        assert_int_equal(alerter_new(fx.event, &fx.config, &a), 0);
        Event ev = test_event(EVENT_GAVE_UP);
        assert_int_equal(alerter_send(a, &ev), 0);

        LoopRun lr = { fx.event, 1500 * USEC_PER_MSEC };
        log = capture_stderr(loop_run, &lr);
        assert_true(asprintf(&line, "failed (%s%s), retrying in ", helper, want) > 0);
        assert_non_null(strstr(log, line));
        assert_true(count_lines(runs) >= 2);  /* retried */
        assert_int_equal(alerter_pending(a), 1);
        assert_int_equal(count_files(outbox, ".json"), 1);

        a = alerter_free(a);
        fixture_done(&fx);
        alerter_set_post_helper(TEST_POST_HELPER);
}

static void test_helper_exits_1(void **state) {
        helper_fails("helper-exit-1", "exit 1\n", " exited with status 1");
}

static void test_helper_prints_garbage(void **state) {
        helper_fails("helper-garbage", "echo '{\"curl_code\": 0, garbage'\n",
                     " printed no valid answer (25 bytes)");
}

static void test_helper_crashes(void **state) {
        helper_fails("helper-crash", "kill -SEGV $$\n", " died of signal 11 (Segmentation fault)");
}

typedef struct StartRun {
        Fixture *fx;
        Alerter *a;
} StartRun;

static void start_run(void *userdata) {
        StartRun *sr = userdata;
        Event ev = test_event(EVENT_STALL_DETECTED);

        assert_int_equal(alerter_new(sr->fx->event, &sr->fx->config, &sr->a), 0);
        assert_int_equal(alerter_send(sr->a, &ev), 0);
        run_for(sr->fx->event, 500 * USEC_PER_MSEC);
}

/* No helper installed: said at start and at each attempt, entries kept. */
static void test_helper_missing(void **state) {
        _cleanup_free_ char *sd = fresh_state_dir("helper-missing"), *outbox = NULL, *helper = NULL,
                *log = NULL, *want = NULL;
        _cleanup_close_ int fd = -EBADF;
        Alerter *a = NULL;
        Fixture fx;

        assert_true(asprintf(&helper, "%s/no-such-dir/mta-watchdog-post", tmpdir) > 0);
        assert_true(asprintf(&outbox, "%s/outbox", sd) > 0);
        alerter_set_post_helper(helper);

        fixture_init(&fx, closed_port(&fd), 5 * USEC_PER_SEC);
        fx.config.state_dir = sd;
        fx.ac.retry_initial_usec = 100 * USEC_PER_MSEC;
        fx.ac.retry_max_usec = 100 * USEC_PER_MSEC;
        /* alerter_new() logs too: captured with the first attempts. */
        StartRun sr = { &fx, NULL };
        log = capture_stderr(start_run, &sr);
        a = sr.a;
        assert_true(asprintf(&want, "alert: cannot run %s, alerts stay queued until it can be run: "
                             "No such file or directory\n", helper) > 0);
        assert_non_null(strstr(log, want));
        free(want);
        assert_true(asprintf(&want, "failed (cannot run %s: No such file or directory), retrying in ", helper) > 0);
        assert_non_null(strstr(log, want));
        assert_int_equal(alerter_pending(a), 1);
        assert_int_equal(count_files(outbox, ".json"), 1);

        a = alerter_free(a);
        fixture_done(&fx);
        alerter_set_post_helper(TEST_POST_HELPER);
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
                cmocka_unit_test(test_no_receivers_no_outbox),
                cmocka_unit_test(test_outbox_resume),
                cmocka_unit_test(test_refused_goes_to_failed),
                cmocka_unit_test(test_retry_after),
                cmocka_unit_test(test_max_age),
                cmocka_unit_test(test_unknown_receiver_left_alone),
                cmocka_unit_test(test_signed_slack_with_headers),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_alertmanager_incident),
                cmocka_unit_test(test_classify_body),
                cmocka_unit_test(test_rate_limit_ticks),
                cmocka_unit_test(test_slack_ok_delivered),
                cmocka_unit_test(test_slack_invalid_payload_failed),
                cmocka_unit_test(test_success_body_retried_then_delivered),
                cmocka_unit_test(test_failure_body_and_rate_limit),
                cmocka_unit_test(test_helper_hangs),
                cmocka_unit_test(test_helper_exits_1),
                cmocka_unit_test(test_helper_prints_garbage),
                cmocka_unit_test(test_helper_crashes),
                cmocka_unit_test(test_helper_missing),
        };

        /* The server child writes to a pipe we may close early. */
        signal(SIGPIPE, SIG_IGN);
        /* The helpers are reaped by sd_event_add_child(), which needs SIGCHLD blocked. */
        block_sigchld();
        alerter_set_post_helper(TEST_POST_HELPER);
        log_set_max_level(LOG_DEBUG);
        (void) unsetenv("JOURNAL_STREAM");
        if (!mkdtemp(tmpdir))
                return 1;
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", tmpdir) > 0)
                (void) system(cmd);
        return r;
}
