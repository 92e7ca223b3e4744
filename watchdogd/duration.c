/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "strv.h"

static const struct {
        const char *suffix;
        uint64_t usec;
} duration_units[] = {
        /* Largest first: format_duration() relies on the order. */
        { "d",  USEC_PER_DAY    },
        { "h",  USEC_PER_HOUR   },
        { "m",  USEC_PER_MINUTE },
        { "s",  USEC_PER_SEC    },
        { "ms", USEC_PER_MSEC   },
};

int parse_uint64(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;
        int r;

        if (!s)
                return -EINVAL;

        s += strspn(s, WHITESPACE);
        if (*s == '\0')
                return -EINVAL;

        while (*s != '\0') {
                uint64_t n, mult = 0;
                size_t len;

                r = parse_uint64(&s, &n);
                if (r < 0)
                        return r;
                s += strspn(s, WHITESPACE);

                len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
                if (len == 0) {
                        /* A bare number means seconds, and only on its own. */
                        if (any || *s != '\0')
                                return -EINVAL;
                        mult = USEC_PER_SEC;
                } else {
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                                if (strlen(duration_units[i].suffix) == len &&
                                    strncmp(duration_units[i].suffix, s, len) == 0) {
                                        mult = duration_units[i].usec;
                                        break;
                                }
                        if (mult == 0)
                                return -EINVAL;
                        s += len;
                }

                if (n > UINT64_MAX / mult || total > UINT64_MAX - n * mult)
                        return -ERANGE;
                total += n * mult;
                any = true;

                s += strspn(s, WHITESPACE);
        }

        *ret_usec = total;
        return 0;
}

const char *format_duration(char *buf, size_t size, uint64_t usec) {
        size_t used = 0;

        if (!buf || size == 0)
                return NULL;

        if (usec == 0) {
                if (size < 2)
                        return NULL;
                return strcpy(buf, "0");
        }

        buf[0] = '\0';
        for (size_t i = 0; i <= ELEMENTSOF(duration_units); i++) {
                /* The last round prints a sub-millisecond remainder, which
                 * parse_duration() does not accept; configs never hold one. */
                uint64_t unit = i < ELEMENTSOF(duration_units) ? duration_units[i].usec : 1;
                const char *suffix = i < ELEMENTSOF(duration_units) ? duration_units[i].suffix : "us";
                uint64_t n = usec / unit;
                int k;

                if (n == 0)
                        continue;
                usec -= n * unit;

                k = snprintf(buf + used, size - used, "%" PRIu64 "%s", n, suffix);
                if (k < 0 || (size_t) k >= size - used)
                        return NULL;
                used += (size_t) k;
        }
        return buf;
}

