/* SPDX-License-Identifier: MIT */
/* mta-watchdog-post: one HTTP POST of a webhook alert for mta-watchdogd.
 *
 * Reads the request from standard input and prints the answer on standard
 * output, both one JSON object (post-protocol.h), then exits 0. A request
 * it cannot read, or an answer it cannot write, exits 1 with one line on
 * standard error. The transfer settings are those the daemon used when it
 * ran libcurl itself (watchdogd/alert.c): POST, http and https only, peer
 * and host verified, no redirects, the whole transfer within timeout_ms.
 * The daemon starts it in a process group of its own, with the parent
 * death signal set, and kills the group at timeout_ms plus a grace. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "post-protocol.h"

typedef struct Capture {
        char data[POST_BODY_MAX + 1];
        size_t size;
} Capture;

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata) {
        Capture *c = userdata;
        size_t n = size * nmemb;
        size_t room = POST_BODY_MAX - c->size;
        size_t k = n < room ? n : room;

        memcpy(c->data + c->size, data, k);
        c->size += k;
        c->data[c->size] = '\0';
        return n;  /* the rest is read and discarded */
}

/* The certificate of the receiver is not trusted: the log says so at error
 * (README "Alerts", ca_file). */
static bool curl_code_is_tls_trust(CURLcode code) {
        return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
               code == CURLE_SSL_ISSUER_ERROR;
}

static int read_all(int fd, char **ret, size_t *ret_size) {
        size_t size = 0, allocated = 0;
        char *buf = NULL;

        for (;;) {
                ssize_t n;

                if (allocated - size < 4096) {
                        size_t m = allocated ? allocated * 2 : 16384;
                        char *p;

                        if (m > POST_REQUEST_MAX + 1)
                                m = POST_REQUEST_MAX + 1;
                        if (m <= allocated) {
                                free(buf);
                                return -EFBIG;
                        }
                        p = realloc(buf, m);
                        if (!p) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = p;
                        allocated = m;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        free(buf);
                        return r;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

static int post(const PostRequest *req, PostAnswer *ans) {
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL;
        Capture capture = {};
        curl_off_t retry_after = 0;
        CURLcode code;
        CURL *c;

        for (const char *const *i = req->headers; i && *i; i++) {
                struct curl_slist *t = curl_slist_append(headers, *i);
                if (!t) {
                        curl_slist_free_all(headers);
                        return -ENOMEM;
                }
                headers = t;
        }

        c = curl_easy_init();
        if (!c) {
                curl_slist_free_all(headers);
                return -ENOMEM;
        }

        if (curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK ||
            /* Config checks the scheme; this keeps file://, gopher:// etc. out regardless. */
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(req->body)) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_USERAGENT, req->user_agent) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) req->timeout_ms) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
            (req->ca_file && curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file) != CURLE_OK) ||
            /* No SIGALRM for name resolution: the timeout holds through the threaded resolver. */
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &capture) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
                curl_easy_cleanup(c);
                curl_slist_free_all(headers);
                return -EINVAL;
        }

        code = curl_easy_perform(c);

        *ans = (PostAnswer) { .curl_code = (int) code, .tls_trust = curl_code_is_tls_trust(code) };
        (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->http_status);
        if (code == CURLE_OK && (ans->http_status == 429 || ans->http_status == 503) &&
            curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
                ans->retry_after_sec = (uint64_t) retry_after;
        memcpy(ans->body, capture.data, capture.size + 1);
        ans->body_size = capture.size;
        if (code != CURLE_OK)
                (void) snprintf(ans->error, sizeof(ans->error), "%s",
                                errbuf[0] ? errbuf : curl_easy_strerror(code));

        curl_easy_cleanup(c);
        curl_slist_free_all(headers);
        return 0;
}

static int write_all(int fd, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        PostRequestBuf req = {};
        PostAnswer ans;
        char *in = NULL, *out = NULL;
        size_t size = 0;
        int r;

        if (argc != 1) {
                fprintf(stderr, "mta-watchdog-post: takes no arguments; mta-watchdogd runs it with a "
                                "request on standard input\n");
                return 1;
        }
        (void) signal(SIGPIPE, SIG_IGN);

        r = read_all(STDIN_FILENO, &in, &size);
        if (r < 0) {
                fprintf(stderr, "mta-watchdog-post: cannot read the request: %s\n", strerror(-r));
                return 1;
        }
        r = post_request_decode(in, size, &req);
        free(in);
        if (r < 0) {
                fprintf(stderr, "mta-watchdog-post: %s\n",
                        r == -EBADMSG ? "the request is not a valid request object" : strerror(-r));
                return 1;
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "mta-watchdog-post: cannot initialise libcurl\n");
                post_request_buf_done(&req);
                return 1;
        }
        r = post(&req.req, &ans);
        post_request_buf_done(&req);
        if (r >= 0)
                r = post_answer_encode(&ans, &out);
        if (r >= 0)
                r = write_all(STDOUT_FILENO, out, strlen(out));
        free(out);
        curl_global_cleanup();
        if (r < 0) {
                fprintf(stderr, "mta-watchdog-post: cannot send the alert: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
