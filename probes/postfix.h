/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "probe.h"

/* What the Postfix queue probe reads back from other processes, as pure
 * functions on a buffer (no I/O), so that tests and fuzzers
 * (tests/fuzz/fuzz-spool.c) can call them. The spool scan itself is
 * postfix_scan_queue() in probe.h. */

/* The longest line postfix_format_scan_line() writes, NUL included. */
#define POSTFIX_SCAN_LINE_MAX 512

/* Formats Q as the one line the scan child prints ("backlog=N ...
 * oldest_id=ID\n"). Returns its length, or -ENOBUFS if SIZE is too small. */
int postfix_format_scan_line(char *buf, size_t size, const QueueStats *q);

/* Parses such a line, S of SIZE bytes (NUL-terminated at SIZE, as exec's
 * output is): every field, in order, one '\n' at the end, and counts that
 * agree. Returns 0 and fills RET (schedule_known set), or -EBADMSG. */
int postfix_parse_scan_line(const char *s, size_t size, QueueStats *ret);

/* Parses a Postfix time value as `postconf -h` prints it (postconf(5),
 * "time"): digits and an optional unit s, m, h, d or w, then an optional
 * newline. Returns 0 and the value in usec, -EBADMSG or -ERANGE. */
int postfix_parse_time(const char *s, size_t size, uint64_t *ret);
