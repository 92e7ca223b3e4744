/* SPDX-License-Identifier: MIT */
/* The request and answer of the webhook helper (watchdogd/post-protocol.h),
 * and the helper itself on a request it cannot read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exec.h"
#include "post-protocol.h"
#include "tests.h"

static void test_request_encode_exact(void **state) {
        static const char *const headers[] = { "Content-Type: application/json", "Expect:",
                                               "Authorization: Bearer t\"k", NULL };
        PostRequest req = {
                .url = "https://hooks.example.org/x?a=1",
                .body = "{\"text\":\"h\u00e9\"}",
                .headers = headers,
                .user_agent = "mta-watchdogd/1.2.3",
                .timeout_ms = 10000,
                .ca_file = "/etc/ssl/ca.pem",
        };
        _cleanup_free_ char *s = NULL, *t = NULL;
        PostRequestBuf b;

        assert_int_equal(post_request_encode(&req, &s), 0);
        assert_string_equal(s,
                "{\"url\":\"https://hooks.example.org/x?a=1\","
                "\"body\":\"{\\\"text\\\":\\\"h\u00e9\\\"}\","
                "\"headers\":[\"Content-Type: application/json\",\"Expect:\",\"Authorization: Bearer t\\\"k\"],"
                "\"user_agent\":\"mta-watchdogd/1.2.3\","
                "\"timeout_ms\":10000,"
                "\"ca_file\":\"/etc/ssl/ca.pem\"}");

        assert_int_equal(post_request_decode(s, strlen(s), &b), 0);
        assert_string_equal(b.req.url, req.url);
        assert_string_equal(b.req.body, req.body);
        assert_string_equal(b.req.headers[0], headers[0]);
        assert_string_equal(b.req.headers[1], headers[1]);
        assert_string_equal(b.req.headers[2], headers[2]);
        assert_null(b.req.headers[3]);
        assert_string_equal(b.req.user_agent, req.user_agent);
        assert_int_equal(b.req.timeout_ms, 10000);
        assert_string_equal(b.req.ca_file, req.ca_file);
        post_request_buf_done(&b);

        /* No CA file, no headers. */
        req.ca_file = NULL;
        req.headers = NULL;
        assert_int_equal(post_request_encode(&req, &t), 0);
        assert_non_null(strstr(t, "\"headers\":[],"));
        assert_non_null(strstr(t, ",\"ca_file\":null}"));
        assert_int_equal(post_request_decode(t, strlen(t), &b), 0);
        assert_null(b.req.ca_file);
        assert_null(b.req.headers[0]);
        post_request_buf_done(&b);
}

static void test_request_refused(void **state) {
        static const char *const latin1[] = { "X-Name: caf\xe9", NULL };
        static const char *const bad[] = {
                "",
                "[]",
                "{\"url\":\"http://x\"}",
                /* timeout_ms 0 */
                "{\"url\":\"u\",\"body\":\"b\",\"headers\":[],\"user_agent\":\"a\",\"timeout_ms\":0,\"ca_file\":null}",
                /* a header that is not a string */
                "{\"url\":\"u\",\"body\":\"b\",\"headers\":[1],\"user_agent\":\"a\",\"timeout_ms\":1,\"ca_file\":null}",
                /* ca_file missing */
                "{\"url\":\"u\",\"body\":\"b\",\"headers\":[],\"user_agent\":\"a\",\"timeout_ms\":1}",
        };
        PostRequest req = { .url = "http://x/", .body = "{}", .user_agent = "u", .timeout_ms = 1 };
        char *s = NULL;
        PostRequestBuf b;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(post_request_decode(bad[i], strlen(bad[i]), &b), -EBADMSG);

        req.timeout_ms = 0;
        assert_int_equal(post_request_encode(&req, &s), -EINVAL);
        req.timeout_ms = 1;
        req.headers = latin1;  /* JSON carries UTF-8 only */
        assert_int_equal(post_request_encode(&req, &s), -EINVAL);
        assert_null(s);
}

static void test_answer_exact(void **state) {
        PostAnswer ans = {
                .curl_code = 0,
                .tls_trust = false,
                .http_status = 503,
                .retry_after_sec = 120,
                .body_size = 5,
        }, back;
        _cleanup_free_ char *s = NULL, *t = NULL;

        memcpy(ans.body, "n\0o\xff\n", 6);
        assert_int_equal(post_answer_encode(&ans, &s), 0);
        assert_string_equal(s, "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":503,\"retry_after\":120,"
                               "\"body_hex\":\"6e006fff0a\",\"error\":\"\"}\n");
        assert_int_equal(post_answer_decode(s, strlen(s), &back), 0);
        assert_int_equal(back.curl_code, 0);
        assert_false(back.tls_trust);
        assert_int_equal(back.http_status, 503);
        assert_int_equal(back.retry_after_sec, 120);
        assert_int_equal(back.body_size, 5);
        assert_memory_equal(back.body, "n\0o\xff\n", 6);
        assert_string_equal(back.error, "");

        /* A TLS failure; the error text kept printable ASCII. */
        ans = (PostAnswer) {
                .curl_code = 60,
                .tls_trust = true,
        };
        (void) snprintf(ans.error, sizeof(ans.error), "SSL certificate problem: caf\xc3\xa9\n");
        assert_int_equal(post_answer_encode(&ans, &t), 0);
        assert_string_equal(t, "{\"curl_code\":60,\"tls_trust\":true,\"http_status\":0,\"retry_after\":0,"
                               "\"body_hex\":\"\",\"error\":\"SSL certificate problem: caf???\"}\n");
        assert_int_equal(post_answer_decode(t, strlen(t), &back), 0);
        assert_int_equal(back.curl_code, 60);
        assert_true(back.tls_trust);
        assert_int_equal(back.body_size, 0);
        assert_string_equal(back.body, "");
        assert_string_equal(back.error, "SSL certificate problem: caf???");
}

static void test_answer_refused(void **state) {
        static const char *const bad[] = {
                "",
                "garbage",
                "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":200,\"retry_after\":0,\"body_hex\":\"6\",\"error\":\"\"}",
                "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":200,\"retry_after\":0,\"body_hex\":\"zz\",\"error\":\"\"}",
                "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":200,\"retry_after\":-1,\"body_hex\":\"\",\"error\":\"\"}",
                "{\"curl_code\":0,\"tls_trust\":0,\"http_status\":200,\"retry_after\":0,\"body_hex\":\"\",\"error\":\"\"}",
                "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":1000,\"retry_after\":0,\"body_hex\":\"\",\"error\":\"\"}",
                "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":200,\"retry_after\":0,\"body_hex\":\"\"}",
                /* two objects */
                "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":200,\"retry_after\":0,\"body_hex\":\"\",\"error\":\"\"}{}",
        };
        _cleanup_free_ char *big = NULL;
        PostAnswer back;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(post_answer_decode(bad[i], strlen(bad[i]), &back), -EBADMSG);

        /* A body longer than POST_BODY_MAX bytes. */
        big = malloc(200 + 2 * (POST_BODY_MAX + 1));
        assert_non_null(big);
        strcpy(big, "{\"curl_code\":0,\"tls_trust\":false,\"http_status\":200,\"retry_after\":0,\"body_hex\":\"");
        for (size_t i = 0; i < POST_BODY_MAX + 1; i++)
                strcat(big, "41");
        strcat(big, "\",\"error\":\"\"}");
        assert_int_equal(post_answer_decode(big, strlen(big), &back), -EBADMSG);
}

typedef struct Result {
        bool done;
        int status;
        size_t size;
} Result;

static void on_done(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Result *res = userdata;

        res->done = true;
        res->status = status;
        res->size = size;
}

/* The helper refuses what is not a request (exit 1, nothing on stdout). */
static void test_helper_bad_request(void **state) {
        char *const argv[] = { (char *) TEST_POST_HELPER, NULL };
        sd_event *e = NULL;
        Result res = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(exec_argv_input(e, argv, "{\"url\":1}", 9, 30 * USEC_PER_SEC, on_done, &res, NULL), 0);
        run_until(e, &res.done, 30 * USEC_PER_SEC);
        assert_int_equal(res.status, 1);
        assert_int_equal(res.size, 0);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_encode_exact),
                cmocka_unit_test(test_request_refused),
                cmocka_unit_test(test_answer_exact),
                cmocka_unit_test(test_answer_refused),
                cmocka_unit_test(test_helper_bad_request),
        };

        block_sigchld();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
