/* SPDX-License-Identifier: MIT */
/* The tcp probe: connects to loopback listeners (127.0.0.1 and 127.0.0.2,
 * both on lo), names and MX records from a DNS responder on 127.0.0.1
 * (tests/dns-responder.h). Nothing leaves the machine. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns-responder.h"
#include "macros.h"
#include "probe-harness.h"
#include "probe.h"
#include "tcp.h"

static const DnsTestRecord zone[] = {
        /* out of order in the answer: the probe sorts by preference */
        DNS_MX("canary.test", 20, "mx2.canary.test"),
        DNS_MX("canary.test", 10, "mx1.canary.test"),
        DNS_A("mx1.canary.test", "127.0.0.1"),
        DNS_A("mx2.canary.test", "127.0.0.2"),
        /* the first exchange does not resolve */
        DNS_MX("lost.test", 5, "gone.lost.test"),
        DNS_MX("lost.test", 10, "mx2.canary.test"),
        DNS_MX("lostonly.test", 10, "gone.lostonly.test"),
        /* every exchange refuses */
        DNS_MX("refusing.test", 10, "mx1.canary.test"),
        /* no MX: the domain itself (RFC 5321 5.1) */
        DNS_A("direct.test", "127.0.0.2"),
        DNS_A("relay.test", "127.0.0.2"),
        DNS_MX("nullmx.test", 0, ""),
        DNS_RCODE("broken.test", ns_r_servfail),
        DNS_SILENT("silent.test"),
        /* more exchanges than the probe keeps (16), the best one last in
         * the answer: the best are kept, not the first ones */
        DNS_MX("many.test", 50, "g01.x"),
        DNS_MX("many.test", 50, "g02.x"),
        DNS_MX("many.test", 50, "g03.x"),
        DNS_MX("many.test", 50, "g04.x"),
        DNS_MX("many.test", 50, "g05.x"),
        DNS_MX("many.test", 50, "g06.x"),
        DNS_MX("many.test", 50, "g07.x"),
        DNS_MX("many.test", 50, "g08.x"),
        DNS_MX("many.test", 50, "g09.x"),
        DNS_MX("many.test", 50, "g10.x"),
        DNS_MX("many.test", 50, "g11.x"),
        DNS_MX("many.test", 50, "g12.x"),
        DNS_MX("many.test", 50, "g13.x"),
        DNS_MX("many.test", 50, "g14.x"),
        DNS_MX("many.test", 50, "g15.x"),
        DNS_MX("many.test", 50, "g16.x"),
        DNS_MX("many.test", 50, "g17.x"),
        DNS_MX("many.test", 10, "mx2.canary.test"),
        {},
};

static DnsResponder responder;
static int listener = -1;          /* 127.0.0.2:port, listening */
static int refuser = -1;           /* 127.0.0.1:port, bound, never listening: connects are refused */
static uint16_t port;

static int bind_to(const char *address, uint16_t p, bool listen_too, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, address, &sa.sin_addr), 1);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -errno;
        }
        if (listen_too)
                assert_int_equal(listen(fd, 64), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        if (ret_port)
                *ret_port = ntohs(sa.sin_port);
        return fd;
}

static int setup(void **state) {
        dns_responder_start(&responder, zone, NULL);
        /* one port free on both addresses: a few tries at most */
        for (unsigned i = 0; i < 20 && refuser < 0; i++) {
                if (listener >= 0)
                        close(listener);
                listener = bind_to("127.0.0.2", 0, true, &port);
                assert_true(listener >= 0);
                refuser = bind_to("127.0.0.1", port, false, NULL);
        }
        assert_true(refuser >= 0);
        return 0;
}

static int teardown(void **state) {
        close(listener);
        close(refuser);
        dns_responder_stop(&responder);
        return 0;
}

static ProbeRun tcp_once(const char *host, const char *mx_of, uint64_t timeout_usec) {
        TcpSettings s = {
                .host = { .value = (char *) host },
                .mx_of = { .value = (char *) mx_of },
                .port = port,
                .resolver = { .path = responder.resolv_conf, .port = responder.port,
                              .system = responder.resolv_conf },
        };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun res;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_tcp_ops, "tcp-test", timeout_usec, &s, &p), 0);
        probe_run(e, p, &res);
        probe_free(p);
        sd_event_unref(e);
        return res;
}

/* Compares the reason with FMT, in which each %u is the listeners' port. */
static void expect(const ProbeRun *res, ProbeStatus status, ProbeOutcome outcome, const char *fmt) {
        char reason[PROBE_REASON_MAX];

        _Pragma("GCC diagnostic push")
        _Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")
        (void) snprintf(reason, sizeof(reason), fmt, port, port, port);
        _Pragma("GCC diagnostic pop")
        assert_string_equal(res->r.reason, reason);
        assert_int_equal(res->r.status, status);
        assert_int_equal(res->r.outcome, outcome);
}

/* The first exchange (preference 10) refuses, the second accepts. */
static void test_mx_second_accepts(void **state) {
        ProbeRun res = tcp_once(NULL, "canary.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "connected to mx2.canary.test[127.0.0.2]:%u, MX 20 of canary.test");
}

static void test_mx_exchange_unresolved(void **state) {
        ProbeRun res = tcp_once(NULL, "lost.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "connected to mx2.canary.test[127.0.0.2]:%u, MX 10 of lost.test");
}

static void test_mx_many(void **state) {
        ProbeRun res = tcp_once(NULL, "many.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "connected to mx2.canary.test[127.0.0.2]:%u, MX 10 of many.test");
}

/* No exchange resolves: a DNS failure, naming the resolv.conf read where
 * it differs from the system's. */
static void test_mx_no_exchange_resolves(void **state) {
        char system[128], expected[PROBE_REASON_MAX * 2];
        TcpSettings s = {
                .mx_of = { .value = (char *) "lostonly.test" },
                .port = port,
                .resolver = { .path = responder.resolv_conf, .port = responder.port, .system = system },
        };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun res;
        FILE *f;

        (void) snprintf(system, sizeof(system), "%s/system-resolv.conf", responder.dir);
        f = fopen(system, "we");
        assert_non_null(f);
        fputs("nameserver 192.0.2.1\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_tcp_ops, "tcp-test", 5 * USEC_PER_SEC, &s, &p), 0);
        probe_run(e, p, &res);
        probe_free(p);
        sd_event_unref(e);
        assert_int_equal(unlink(system), 0);
        (void) snprintf(expected, sizeof(expected),
                        "no MX host of lostonly.test accepted a connection: gone.lostonly.test: NXDOMAIN "
                        "(through %s, which differs from %s)", responder.resolv_conf, system);
        assert_string_equal(res.r.reason, expected);
        assert_int_equal(res.r.status, PROBE_FAIL);
        assert_int_equal(res.r.outcome, PROBE_OUTCOME_DNS_FAILURE);
}

static void test_mx_all_refuse(void **state) {
        ProbeRun res = tcp_once(NULL, "refusing.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_REFUSED,
               "no MX host of refusing.test accepted a connection: connect to mx1.canary.test[127.0.0.1]:%u: "
               "Connection refused");
}

static void test_implicit_mx(void **state) {
        ProbeRun res = tcp_once(NULL, "direct.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "connected to direct.test[127.0.0.2]:%u, no MX: the domain itself");
}

static void test_mx_lookup_fails(void **state) {
        ProbeRun res = tcp_once(NULL, "nowhere.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "MX nowhere.test: NXDOMAIN");
        res = tcp_once(NULL, "broken.test", 5 * USEC_PER_SEC);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "MX broken.test: SERVFAIL");
}

static void test_null_mx(void **state) {
        ProbeRun res = tcp_once(NULL, "nullmx.test", 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE,
               "MX nullmx.test: null MX (RFC 7505): the domain accepts no mail");
}

static void test_no_answer_times_out(void **state) {
        uint64_t start = now_usec();
        ProbeRun res = tcp_once(NULL, "silent.test", 300 * USEC_PER_MSEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_TIMEOUT, "timed out after 300ms");
        assert_true(now_usec() - start >= 300 * USEC_PER_MSEC);
}

static void test_host(void **state) {
        ProbeRun res = tcp_once("127.0.0.2", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "connected to 127.0.0.2:%u");
        res = tcp_once("[127.0.0.1]", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_REFUSED, "connect to 127.0.0.1:%u: Connection refused");
        res = tcp_once("relay.test", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "connected to 127.0.0.2:%u");
        res = tcp_once("nowhere.test", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "nowhere.test: NXDOMAIN");
}

static void test_bad_settings(void **state) {
        TcpSettings none = {}, both = { .host = { .value = (char *) "h" }, .mx_of = { .value = (char *) "d" } };
        sd_event *e = NULL;
        Probe *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_tcp_ops, "x", USEC_PER_SEC, &none, &p), -EINVAL);
        assert_int_equal(probe_new_on(e, &probe_tcp_ops, "x", USEC_PER_SEC, &both, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(probe_tcp_ops.kind, PROBE_KIND_REACHABILITY);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mx_second_accepts),
                cmocka_unit_test(test_mx_exchange_unresolved),
                cmocka_unit_test(test_mx_many),
                cmocka_unit_test(test_mx_no_exchange_resolves),
                cmocka_unit_test(test_mx_all_refuse),
                cmocka_unit_test(test_implicit_mx),
                cmocka_unit_test(test_mx_lookup_fails),
                cmocka_unit_test(test_null_mx),
                cmocka_unit_test(test_no_answer_times_out),
                cmocka_unit_test(test_host),
                cmocka_unit_test(test_bad_settings),
        };

        block_sigchld();
        return cmocka_run_group_tests(tests, setup, teardown);
}
