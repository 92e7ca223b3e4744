/* SPDX-License-Identifier: MIT */
/* OpenSMTPD envelope files and the scheduler's retry rule
 * (probes/opensmtpd-envelope.h). */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "opensmtpd-envelope.h"

#define CTIME_MAX (UINT64_C(1) << 40)      /* seconds: the year 36812 */
#define RETRY_COMPUTED_MAX (UINT32_C(1) << 26)

/* DIGITS (LEN bytes, nothing else) as a number of at most MAX. */
static int parse_number(const char *s, size_t len, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 20)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                if (v > (max - (uint64_t) (s[i] - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

static bool value_is(const char *s, size_t len, const char *word) {
        return strlen(word) == len && memcmp(s, word, len) == 0;
}

int opensmtpd_envelope_parse(const char *buf, size_t size, OpensmtpdEnvelope *ret) {
        bool have_version = false, have_type = false, have_ctime = false, have_retry = false;
        OpensmtpdEnvelope e = {};
        size_t pos = 0;

        if (!buf)
                return -EBADMSG;
        while (pos < size) {
                const char *line = buf + pos, *nl = memchr(line, '\n', size - pos);
                size_t len, klen, v;
                uint64_t n;

                if (!nl)
                        break;             /* cut at SIZE: not read */
                len = (size_t) (nl - line);
                pos += len + 1;
                /* "field: value", the separator as envelope.c's parser
                 * takes it: the field [0-9A-Za-z-]+, blanks around ':' */
                for (klen = 0; klen < len && (line[klen] == '-' || (line[klen] >= '0' && line[klen] <= '9') ||
                                              (line[klen] >= 'a' && line[klen] <= 'z') ||
                                              (line[klen] >= 'A' && line[klen] <= 'Z'));
                     klen++)
                        ;
                if (klen == 0)
                        return -EBADMSG;   /* a NUL or binary: compressed or encrypted */
                for (v = klen; v < len && (line[v] == ' ' || line[v] == '\t'); v++)
                        ;
                if (v >= len || line[v] != ':')
                        return -EBADMSG;
                for (v++; v < len && (line[v] == ' ' || line[v] == '\t'); v++)
                        ;
                const char *val = line + v;
                size_t vlen = len - v;

                if (value_is(line, klen, "version")) {
                        if (have_version || parse_number(val, vlen, 64, &n) < 0 || n != 3)
                                return -EBADMSG;
                        have_version = true;
                } else if (value_is(line, klen, "type")) {
                        if (have_type)
                                return -EBADMSG;
                        if (value_is(val, vlen, "mta"))
                                e.type = OPENSMTPD_DELIVERY_MTA;
                        else if (value_is(val, vlen, "mda"))
                                e.type = OPENSMTPD_DELIVERY_MDA;
                        else if (value_is(val, vlen, "bounce"))
                                e.type = OPENSMTPD_DELIVERY_BOUNCE;
                        else
                                return -EBADMSG;
                        have_type = true;
                } else if (value_is(line, klen, "ctime")) {
                        if (have_ctime || parse_number(val, vlen, CTIME_MAX, &n) < 0)
                                return -EBADMSG;
                        e.ctime_sec = n;
                        have_ctime = true;
                } else if (value_is(line, klen, "retry")) {
                        if (have_retry || parse_number(val, vlen, UINT32_MAX, &n) < 0)
                                return -EBADMSG;
                        e.retry = (uint32_t) n;
                        have_retry = true;
                }
        }
        if (!have_version || !have_type || !have_ctime || !have_retry)
                return -EBADMSG;
        *ret = e;
        return 0;
}

/* The least k with K*K > V (V < 2^41: k < 2^21). */
static uint64_t root_above(uint64_t v) {
        uint64_t lo = 0, hi = UINT64_C(1) << 21;

        while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;

                if (mid * mid > v)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

uint64_t opensmtpd_envelope_next_try(const OpensmtpdEnvelope *e, uint64_t written_sec) {
        uint64_t base = e->type == OPENSMTPD_DELIVERY_MTA ? OPENSMTPD_BACKOFF_TRANSFER_SEC :
                                                             OPENSMTPD_BACKOFF_DELIVERY_SEC;
        uint64_t limit, k;

        if (e->ctime_sec > CTIME_MAX)
                return UINT64_MAX;
        if (e->retry == 0)
                return e->ctime_sec;
        if (e->retry > RETRY_COMPUTED_MAX)
                return UINT64_MAX;
        if (written_sec > CTIME_MAX)
                written_sec = CTIME_MAX;
        limit = written_sec + OPENSMTPD_UPDATE_MARGIN_SEC;
        /* the least k >= retry with ctime + base * k^2 > limit */
        /* base * k^2 > limit - ctime  <=>  k^2 > floor((limit - ctime) / base) */
        k = limit < e->ctime_sec ? 0 : root_above((limit - e->ctime_sec) / base);
        if (k < e->retry)
                k = e->retry;
        return e->ctime_sec + base * k * k;
}
