/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the daemon and its webhook helper, mta-watchdog-post (watchdogd/post.c),
 * say to each other. The daemon does not link libcurl: each HTTP POST of an
 * alert runs in a short-lived helper process, so that libcurl and the TLS
 * libraries it pulls in are mapped only while an alert is in flight, and the
 * receiver's answer is parsed in another address space (the helper runs as
 * the same user with the same rights: not a privilege boundary).
 *
 * Request: one JSON object on the helper's standard input (a sealed memfd,
 * exec_argv_input() in exec.h), never in argv, which any local user can
 * read in /proc/PID/cmdline: headers carry secrets (Authorization, the
 * webhook-signature).
 *   "url"          string   http:// or https:// URL to POST to
 *   "body"         string   request body, sent as is
 *   "headers"      [string] "Name: value" lines, in order; "Name:" removes a
 *                           header libcurl would add (CURLOPT_HTTPHEADER)
 *   "user_agent"   string   User-Agent
 *   "timeout_ms"   integer  whole transfer, name lookup included
 *                           (CURLOPT_TIMEOUT_MS), milliseconds, >= 1
 *   "ca_file"      string or null   CA bundle (CURLOPT_CAINFO); null: the system's
 *
 * Answer: one JSON object on the helper's standard output, exit status 0.
 * Anything else (no object, garbage, a non-zero exit, a signal) is a failed
 * attempt.
 *   "curl_code"    integer  libcurl's CURLcode, 0 = the transfer completed
 *   "tls_trust"    boolean  curl_code is a failure to trust the receiver's
 *                           certificate (CURLE_PEER_FAILED_VERIFICATION,
 *                           CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR)
 *   "http_status"  integer  HTTP status, 0 when none was received
 *   "retry_after"  integer  Retry-After of a 429 or 503 in seconds
 *                           (CURLINFO_RETRY_AFTER), 0 when none
 *   "body_hex"     string   the first POST_BODY_MAX bytes of the response
 *                           body, hex encoded (the bytes as received, which
 *                           need not be UTF-8)
 *   "error"        string   libcurl's error text ("" when curl_code is 0),
 *                           printable ASCII */

/* Response bytes kept per attempt: for the body checks and the log. */
#define POST_BODY_MAX 512
/* Longest error text kept (libcurl's CURL_ERROR_SIZE). */
#define POST_ERROR_MAX 256
/* Longest request the helper reads, bytes. */
#define POST_REQUEST_MAX (4 * 1024 * 1024)

typedef struct PostRequest {
        const char *url;
        const char *body;
        const char *const *headers;    /* NULL-terminated, may be NULL */
        const char *user_agent;
        uint64_t timeout_ms;
        const char *ca_file;           /* NULL: the system's CA store */
} PostRequest;

typedef struct PostAnswer {
        int curl_code;
        bool tls_trust;
        long http_status;
        uint64_t retry_after_sec;
        char body[POST_BODY_MAX + 1];  /* NUL-terminated after body_size bytes */
        size_t body_size;
        char error[POST_ERROR_MAX];
} PostAnswer;

/* Encodes REQ as the request object; *RET is a NUL-terminated string to
 * free(). Returns 0, -EINVAL (a missing field, a string that is not UTF-8),
 * or -ENOMEM. */
int post_request_encode(const PostRequest *req, char **ret);

/* Decoded request: the strings point into an owned JSON value. */
typedef struct PostRequestBuf {
        PostRequest req;
        void *json;                    /* json_t * holding the strings */
        const char **headers;          /* the array req.headers points to */
} PostRequestBuf;

/* Parses SIZE bytes of DATA as a request into RET (free with
 * post_request_buf_done()). Returns 0, -EBADMSG (not a valid request:
 * a field missing, of the wrong type, timeout_ms < 1) or -ENOMEM. */
int post_request_decode(const char *data, size_t size, PostRequestBuf *ret);
void post_request_buf_done(PostRequestBuf *b);

/* Encodes ANS as the answer object, followed by a newline; *RET to free().
 * The error text is stored with every byte outside printable ASCII as '?'.
 * Returns 0 or -ENOMEM. */
int post_answer_encode(const PostAnswer *ans, char **ret);

/* Parses SIZE bytes of DATA as an answer into *RET. Returns 0, or -EBADMSG
 * when DATA is not exactly one answer object with every field of the right
 * type (body_hex of even length, hex digits only, at most POST_BODY_MAX
 * bytes; http_status 0..999; retry_after >= 0). */
int post_answer_decode(const char *data, size_t size, PostAnswer *ret);
