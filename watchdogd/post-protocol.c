/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "post-protocol.h"

static void json_decrefp_local(json_t **j) {
        json_decref(*j);
}

int post_request_encode(const PostRequest *req, char **ret) {
        __attribute__((cleanup(json_decrefp_local))) json_t *j = NULL, *h = NULL;
        char *s;

        if (!req || !req->url || !req->body || !req->user_agent || req->timeout_ms < 1 || !ret)
                return -EINVAL;

        h = json_array();
        if (!h)
                return -ENOMEM;
        for (const char *const *i = req->headers; i && *i; i++) {
                json_t *v = json_string(*i);
                if (!v)
                        return -EINVAL;  /* not UTF-8 */
                if (json_array_append_new(h, v) < 0)
                        return -ENOMEM;
        }

        j = json_object();
        if (!j)
                return -ENOMEM;
        if (json_object_set_new(j, "url", json_string(req->url)) < 0 ||
            json_object_set_new(j, "body", json_string(req->body)) < 0 ||
            json_object_set(j, "headers", h) < 0 ||
            json_object_set_new(j, "user_agent", json_string(req->user_agent)) < 0 ||
            json_object_set_new(j, "timeout_ms", json_integer((json_int_t) req->timeout_ms)) < 0 ||
            json_object_set_new(j, "ca_file", req->ca_file ? json_string(req->ca_file) : json_null()) < 0)
                return -EINVAL;  /* json_string() refuses what is not UTF-8 */

        s = json_dumps(j, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void post_request_buf_done(PostRequestBuf *b) {
        if (!b)
                return;
        free(b->headers);
        json_decref(b->json);
        *b = (PostRequestBuf) {};
}

int post_request_decode(const char *data, size_t size, PostRequestBuf *ret) {
        json_t *j, *h, *ca, *t;
        size_t n;

        *ret = (PostRequestBuf) {};
        j = json_loadb(data, size, JSON_REJECT_DUPLICATES, NULL);
        if (!j)
                return -EBADMSG;
        ret->json = j;

        h = json_object_get(j, "headers");
        ca = json_object_get(j, "ca_file");
        t = json_object_get(j, "timeout_ms");
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "url")) ||
            !json_is_string(json_object_get(j, "body")) || !json_is_array(h) ||
            !json_is_string(json_object_get(j, "user_agent")) || !json_is_integer(t) ||
            json_integer_value(t) < 1 || !(json_is_string(ca) || json_is_null(ca)))
                goto bad;

        n = json_array_size(h);
        ret->headers = calloc(n + 1, sizeof(char *));
        if (!ret->headers) {
                post_request_buf_done(ret);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                ret->headers[i] = json_string_value(json_array_get(h, i));
                if (!ret->headers[i])
                        goto bad;
        }

        ret->req = (PostRequest) {
                .url = json_string_value(json_object_get(j, "url")),
                .body = json_string_value(json_object_get(j, "body")),
                .headers = ret->headers,
                .user_agent = json_string_value(json_object_get(j, "user_agent")),
                .timeout_ms = (uint64_t) json_integer_value(t),
                .ca_file = json_string_value(ca),
        };
        return 0;

bad:
        post_request_buf_done(ret);
        return -EBADMSG;
}

static const char hexdigits[] = "0123456789abcdef";

int post_answer_encode(const PostAnswer *ans, char **ret) {
        __attribute__((cleanup(json_decrefp_local))) json_t *j = NULL;
        char hex[2 * POST_BODY_MAX + 1], err[POST_ERROR_MAX];
        size_t n = ans->body_size < POST_BODY_MAX ? ans->body_size : POST_BODY_MAX;
        char *s, *line;

        for (size_t i = 0; i < n; i++) {
                hex[2 * i] = hexdigits[(unsigned char) ans->body[i] >> 4];
                hex[2 * i + 1] = hexdigits[(unsigned char) ans->body[i] & 0xf];
        }
        hex[2 * n] = '\0';

        /* libcurl's text may quote what a peer sent: keep it ASCII, so it is valid JSON. */
        (void) snprintf(err, sizeof(err), "%s", ans->error);
        for (char *p = err; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        *p = '?';

        j = json_pack("{s:i, s:b, s:I, s:I, s:s, s:s}",
                      "curl_code", ans->curl_code,
                      "tls_trust", ans->tls_trust,
                      "http_status", (json_int_t) ans->http_status,
                      "retry_after", (json_int_t) ans->retry_after_sec,
                      "body_hex", hex,
                      "error", err);
        if (!j)
                return -ENOMEM;
        s = json_dumps(j, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        if (asprintf(&line, "%s\n", s) < 0) {
                free(s);
                return -ENOMEM;
        }
        free(s);
        *ret = line;
        return 0;
}

static int unhex(char c) {
        const char *p = c ? strchr(hexdigits, c) : NULL;
        return p ? (int) (p - hexdigits) : -1;
}

int post_answer_decode(const char *data, size_t size, PostAnswer *ret) {
        __attribute__((cleanup(json_decrefp_local))) json_t *j = NULL;
        json_t *code, *tls, *status, *after, *body, *err;
        const char *hex;
        size_t n;

        *ret = (PostAnswer) {};
        /* One object; white space (the newline) may follow, nothing else. */
        j = json_loadb(data, size, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(j))
                return -EBADMSG;

        code = json_object_get(j, "curl_code");
        tls = json_object_get(j, "tls_trust");
        status = json_object_get(j, "http_status");
        after = json_object_get(j, "retry_after");
        body = json_object_get(j, "body_hex");
        err = json_object_get(j, "error");
        if (!json_is_integer(code) || json_integer_value(code) < 0 || json_integer_value(code) > 0xffff ||
            !json_is_boolean(tls) ||
            !json_is_integer(status) || json_integer_value(status) < 0 || json_integer_value(status) > 999 ||
            !json_is_integer(after) || json_integer_value(after) < 0 ||
            !json_is_string(body) || !json_is_string(err))
                return -EBADMSG;

        hex = json_string_value(body);
        n = json_string_length(body);
        if (n % 2 != 0 || n / 2 > POST_BODY_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n / 2; i++) {
                int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                ret->body[i] = (char) (hi << 4 | lo);
        }
        ret->body[n / 2] = '\0';
        ret->body_size = n / 2;

        ret->curl_code = (int) json_integer_value(code);
        ret->tls_trust = json_is_true(tls);
        ret->http_status = (long) json_integer_value(status);
        ret->retry_after_sec = (uint64_t) json_integer_value(after);
        (void) snprintf(ret->error, sizeof(ret->error), "%s", json_string_value(err));
        return 0;
}
