/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int prio) {
        max_level = prio;
}

int log_get_max_level(void) {
        return max_level;
}

static bool stderr_is_journal(void) {
        static int cached = -1;
        if (cached < 0)
                cached = getenv("JOURNAL_STREAM") != NULL;
        return cached;
}

int log_internal(int prio, int error, const char *fmt, ...) {
        int saved = errno;
        int e = error < 0 ? -error : error;

        if (prio <= max_level) {
                va_list ap;
                va_start(ap, fmt);
                errno = e; /* so that %m prints `error` */
                if (stderr_is_journal())
                        fprintf(stderr, "<%d>", prio);
                vfprintf(stderr, fmt, ap);
                fputc('\n', stderr);
                va_end(ap);
        }
        errno = saved;
        return -e;
}
