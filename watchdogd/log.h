/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>
#include "macros.h"

#define LOG_IDENTIFIER "mta-watchdogd"

/* Logging. On a terminal (or any stderr that is not the journal) plain lines
 * on stderr. Under systemd (JOURNAL_STREAM names stderr) every line goes to
 * the journal through sd_journal_send(3), like log_struct() below, so that
 * plain and structured lines keep the order they were written in (journald
 * reads its stream and native sockets independently); if the journal
 * refuses one, it goes to stderr with a sd-daemon(3) "<N>" priority prefix.
 * Messages at a priority above the maximum level (log_set_max_level()) are
 * dropped.
 *
 * log_full_errno() returns -abs(error) so callers can write
 * `return log_error_errno(r, "...: %m")`; "%m" formats `error`. */
void log_set_max_level(int prio);
int log_get_max_level(void);
int log_internal_at(int prio, int error, const char *file, int line, const char *func, const char *fmt, ...)
        _printf_(6, 7);

#define log_internal(prio, error, ...) \
        log_internal_at((prio), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
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

/* One journal field of a structured line: NAME in upper case
 * (journal-fields(7) rules), VALUE NULL to leave the field out. */
typedef struct LogField {
        const char *name;
        const char *value;
} LogField;

/* Whether stderr is connected to the journal (JOURNAL_STREAM matches its
 * device and inode, systemd.exec(5)). */
bool log_to_journal(void);

/* Logs the line FMT at PRIO like log_full(), and, when stderr is the
 * journal, sends it with sd_journal_sendv(3) instead, as MESSAGE= with
 * PRIORITY=, SYSLOG_IDENTIFIER=mta-watchdogd, CODE_FILE/LINE/FUNC= of the
 * caller, MESSAGE_ID= (32 hex digits, or NULL for none) and the N_FIELDS
 * FIELDS (at most 32). On a terminal, or when the journal refuses it, the
 * same text goes to stderr as with log_full(). "%m" is not supported. */
void log_struct_internal(int prio, const char *file, int line, const char *func, const char *message_id,
                         const LogField *fields, size_t n_fields, const char *fmt, ...) _printf_(8, 9);

#define log_struct(prio, message_id, fields, n_fields, ...) \
        log_struct_internal((prio), __FILE__, __LINE__, __func__, (message_id), (fields), (n_fields), __VA_ARGS__)
