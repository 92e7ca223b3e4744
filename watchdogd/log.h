/* SPDX-License-Identifier: MIT */
#pragma once

#include <syslog.h>
#include "macros.h"

/* Logging to stderr. Under systemd (JOURNAL_STREAM set) each line carries a
 * sd-daemon(3) "<N>" priority prefix so the journal files it at the right
 * level; on a terminal it is plain text. Messages at a priority above the
 * maximum level (log_set_max_level()) are dropped.
 *
 * log_full_errno() returns -abs(error) so callers can write
 * `return log_error_errno(r, "...: %m")`; "%m" formats `error`. */
void log_set_max_level(int prio);
int log_get_max_level(void);
int log_internal(int prio, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(prio, error, ...) log_internal((prio), (error), __VA_ARGS__)
#define log_full(prio, ...) (void) log_internal((prio), 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
