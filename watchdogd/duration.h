/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macros.h"

/* Durations as the ini file and the logs write them. */

#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR   (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY    (24 * USEC_PER_HOUR)

/* Reads the decimal digits at *P into *RET and moves *P past them.
 * Returns 0, -EINVAL when *P does not start with a digit, -ERANGE on
 * overflow of 64 bits. */
int parse_uint64(const char **p, uint64_t *ret);

/* "30s", "5m", "1h", "2d", "250ms", "1h30m"; a bare number means seconds.
 * Returns 0 and *ret_usec (microseconds), or -EINVAL for anything else
 * (and -ERANGE on overflow). */
int parse_duration(const char *s, uint64_t *ret_usec);

/* Formats USEC (microseconds) as the shortest exact "1h30m", "45s",
 * "250ms", "0" into BUF. Returns BUF, or NULL when SIZE is too small. */
const char *format_duration(char *buf, size_t size, uint64_t usec);
#define FORMAT_DURATION_MAX 64
