/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* CODE_FILE= and friends name our caller, not this file. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_FIELDS_MAX 32
#define LOG_FIXED_FIELDS 7

static int max_level = LOG_INFO;

void log_set_max_level(int prio) {
        max_level = prio;
}

int log_get_max_level(void) {
        return max_level;
}

/* systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream it
 * connected stderr to; a child or a redirection may have inherited the
 * variable with another stderr, which then is not the journal. */
static bool stderr_is_journal(void) {
        static int cached = -1;

        if (cached < 0) {
                const char *e = getenv("JOURNAL_STREAM");
                unsigned long long dev, ino;
                struct stat st;

                cached = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
                         fstat(STDERR_FILENO, &st) >= 0 &&
                         (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        }
        return cached;
}

bool log_to_journal(void) {
        return stderr_is_journal();
}

static void log_write_stderr(int prio, const char *msg) {
        if (stderr_is_journal())
                fprintf(stderr, "<%d>", prio);
        fputs(msg, stderr);
        fputc('\n', stderr);
}

/* Sends MSG at PRIO through the journal's native protocol, with the
 * identifier and the caller's location; negative errno when it refused. */
static int log_send_plain(int prio, const char *file, int line, const char *func, const char *msg) {
        return sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=%s", LOG_IDENTIFIER,
                               "CODE_FILE=%s", file, "CODE_LINE=%d", line, "CODE_FUNC=%s", func, NULL);
}

int log_internal_at(int prio, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        int saved = errno;
        int e = error < 0 ? -error : error;

        if (prio <= max_level) {
                /* before errno is set: the first call parses and fstat()s */
                bool journal = stderr_is_journal();
                va_list ap;

                va_start(ap, fmt);
                errno = e; /* so that %m prints `error` */
                if (journal) {
                        /* One transport for every line: journald reads its stream
                         * sockets and its native socket independently, so lines
                         * of the two could be stored out of the order they were
                         * written in (a structured state change after the plain
                         * line that followed it). The stream stays the fallback. */
                        _cleanup_free_ char *msg = NULL;

                        if (vasprintf(&msg, fmt, ap) < 0)
                                msg = NULL;
                        if (!msg || log_send_plain(prio, file, line, func, msg) < 0)
                                log_write_stderr(prio, msg ? msg : "(out of memory formatting a log message)");
                } else {
                        vfprintf(stderr, fmt, ap);
                        fputc('\n', stderr);
                }
                va_end(ap);
        }
        errno = saved;
        return -e;
}

static int log_struct_send(int prio, const char *file, int line, const char *func, const char *message_id,
                           const LogField *fields, size_t n_fields, const char *msg) {
        char *strs[LOG_FIELDS_MAX + LOG_FIXED_FIELDS] = {};
        struct iovec iov[LOG_FIELDS_MAX + LOG_FIXED_FIELDS];
        size_t n = 0;
        int r = 0;

        if (n_fields > LOG_FIELDS_MAX)
                n_fields = LOG_FIELDS_MAX;

        if (asprintf(&strs[n++], "MESSAGE=%s", msg) < 0 ||
            asprintf(&strs[n++], "PRIORITY=%d", prio) < 0 ||
            asprintf(&strs[n++], "SYSLOG_IDENTIFIER=%s", LOG_IDENTIFIER) < 0 ||
            asprintf(&strs[n++], "CODE_FILE=%s", file) < 0 ||
            asprintf(&strs[n++], "CODE_LINE=%d", line) < 0 ||
            asprintf(&strs[n++], "CODE_FUNC=%s", func) < 0 ||
            (message_id && asprintf(&strs[n++], "MESSAGE_ID=%s", message_id) < 0)) {
                strs[n - 1] = NULL;
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_fields; i++) {
                if (!fields[i].name || !fields[i].value)
                        continue;
                if (asprintf(&strs[n++], "%s=%s", fields[i].name, fields[i].value) < 0) {
                        strs[n - 1] = NULL;
                        r = -ENOMEM;
                        goto finish;
                }
        }
        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = strs[i], .iov_len = strlen(strs[i]) };
        r = sd_journal_sendv(iov, (int) n);

finish:
        for (size_t i = 0; i < n; i++)
                free(strs[i]);
        return r;
}

void log_struct_internal(int prio, const char *file, int line, const char *func, const char *message_id,
                         const LogField *fields, size_t n_fields, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        int saved = errno, r;
        va_list ap;

        if (prio > max_level)
                return;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                log_write_stderr(prio, "(out of memory formatting a log message)");
                errno = saved;
                return;
        }

        /* The stream stays the fallback: the line is never lost, only its fields. */
        if (!stderr_is_journal() || log_struct_send(prio, file, line, func, message_id, fields, n_fields, msg) < 0)
                log_write_stderr(prio, msg);
        errno = saved;
}
