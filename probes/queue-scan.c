/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../watchdogd/log.h"
#include "../watchdogd/macros.h"
#include "queue-scan.h"

int queue_scan_child_answer(int out_fd, int r, const QueueStats *q, const char *reason) {
        char line[QUEUE_SCAN_LINE_MAX];

        if (r >= 0)
                r = queue_scan_format_line(line, sizeof(line), q);
        if (r < 0) {
                (void) dprintf(out_fd, "%s\n", reason[0] ? reason : strerror(-r));
                return r == -EACCES || r == -EPERM ? QUEUE_SCAN_EXIT_PERMISSION :
                       r == -EAGAIN ? QUEUE_SCAN_EXIT_BUSY : QUEUE_SCAN_EXIT_ERROR;
        }
        (void) dprintf(out_fd, "%s", line);
        return 0;
}

/* The schedule field of the line: where the schedule came from, "none"
 * when the scan read none. */
static const char *const schedule_sources[] = { "file-times", "retry-db", "msglog", "qf", "envelope" };

int queue_scan_format_line(char *buf, size_t size, const QueueStats *q) {
        const char *schedule = q->schedule_known ? q->schedule_source : "none";
        int n;

        if (q->schedule_known) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(schedule_sources); i++)
                        if (strcmp(schedule, schedule_sources[i]) == 0)
                                break;
                if (i == ELEMENTSOF(schedule_sources))
                        return -EINVAL;
        }
        n = snprintf(buf, size,
                     "backlog=%u incoming=%u active=%u deferred=%u maildrop=%u oldest_age_usec=%" PRIu64
                     " overdue=%u most_overdue_usec=%" PRIu64 " slack_usec=%" PRIu64 " frozen=%u hung=%u"
                     " hung_pid=%" PRIu32 " hung_age_usec=%" PRIu64 " schedule=%s hung_id=%.*s oldest_id=%.*s\n",
                     q->backlog, q->incoming, q->active, q->deferred, q->maildrop, q->oldest_age_usec,
                     q->overdue, q->most_overdue_usec, q->slack_usec, q->frozen, q->hung, q->hung_pid,
                     q->hung_age_usec, schedule, QUEUE_ID_MAX - 1, q->hung_id, QUEUE_ID_MAX - 1, q->oldest_id);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

/* Reads "KEY=DIGITS " at *P. */
static int parse_field(const char **p, const char *key, uint64_t max, uint64_t *ret) {
        size_t k = strlen(key);
        const char *s = *p;
        char *end;
        uint64_t v;

        if (strncmp(s, key, k) != 0 || s[k] != '=' || !isdigit((unsigned char) s[k + 1]))
                return -EBADMSG;
        errno = 0;
        v = strtoull(s + k + 1, &end, 10);
        if (errno != 0 || v > max || *end != ' ')
                return -EBADMSG;
        *ret = v;
        *p = end + 1;
        return 0;
}

/* A queue id in the line: [0-9A-Za-z_.-] (Postfix's ids are alphanumeric,
 * Exim's carry '-', nullmailer's file names '.': probes/generic.c), shorter
 * than QUEUE_ID_MAX; at *P, up to END. */
static int parse_id(const char *p, const char *end, char *ret) {
        size_t n = (size_t) (end - p);

        if (n >= QUEUE_ID_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) p[i]) && p[i] != '_' && p[i] != '-' && p[i] != '.')
                        return -EBADMSG;
        memcpy(ret, p, n);
        ret[n] = 0;
        return 0;
}

/* Every field, in order, nothing else. */
int queue_scan_parse_line(const char *s, size_t size, QueueStats *ret) {
        static const struct {
                const char *key;
                uint64_t max;
        } fields[] = {
                { "backlog",           UINT_MAX   },
                { "incoming",          UINT_MAX   },
                { "active",            UINT_MAX   },
                { "deferred",          UINT_MAX   },
                { "maildrop",          UINT_MAX   },
                { "oldest_age_usec",   UINT64_MAX },
                { "overdue",           UINT_MAX   },
                { "most_overdue_usec", UINT64_MAX },
                { "slack_usec",        UINT64_MAX },
                { "frozen",            UINT_MAX   },
                { "hung",              UINT_MAX   },
                { "hung_pid",          INT32_MAX  },
                { "hung_age_usec",     UINT64_MAX },
        };
        QueueStats q = {};
        uint64_t v[ELEMENTSOF(fields)];
        const char *p = s, *sp, *nl;
        size_t i;

        if (size == 0 || s[size - 1] != '\n' || memchr(s, '\n', size) != s + size - 1)
                return -EBADMSG;
        nl = s + size - 1;
        for (i = 0; i < ELEMENTSOF(fields); i++)
                if (parse_field(&p, fields[i].key, fields[i].max, &v[i]) < 0)
                        return -EBADMSG;
        if (strncmp(p, "schedule=", 9) != 0)
                return -EBADMSG;
        p += 9;
        sp = memchr(p, ' ', (size_t) (nl - p));
        if (!sp)
                return -EBADMSG;
        if ((size_t) (sp - p) == 4 && strncmp(p, "none", 4) == 0)
                q.schedule_known = false;
        else {
                for (i = 0; i < ELEMENTSOF(schedule_sources); i++)
                        if (strlen(schedule_sources[i]) == (size_t) (sp - p) &&
                            strncmp(p, schedule_sources[i], (size_t) (sp - p)) == 0)
                                break;
                if (i == ELEMENTSOF(schedule_sources))
                        return -EBADMSG;
                q.schedule_known = true;
                (void) snprintf(q.schedule_source, sizeof(q.schedule_source), "%s", schedule_sources[i]);
        }
        p = sp + 1;
        if (strncmp(p, "hung_id=", 8) != 0)
                return -EBADMSG;
        p += 8;
        sp = memchr(p, ' ', (size_t) (nl - p));
        if (!sp || parse_id(p, sp, q.hung_id) < 0)
                return -EBADMSG;
        p = sp + 1;
        if (strncmp(p, "oldest_id=", 10) != 0 || parse_id(p + 10, nl, q.oldest_id) < 0)
                return -EBADMSG;

        q.backlog = (unsigned) v[0];
        q.incoming = (unsigned) v[1];
        q.active = (unsigned) v[2];
        q.deferred = (unsigned) v[3];
        q.maildrop = (unsigned) v[4];
        q.oldest_age_usec = v[5];
        q.overdue = (unsigned) v[6];
        q.most_overdue_usec = v[7];
        q.slack_usec = v[8];
        q.frozen = (unsigned) v[9];
        q.hung = (unsigned) v[10];
        q.hung_pid = (uint32_t) v[11];
        q.hung_age_usec = v[12];

        if ((uint64_t) q.incoming + q.active + q.deferred + q.maildrop != q.backlog)
                return -EBADMSG;
        if ((q.backlog == 0) != (q.oldest_id[0] == 0))
                return -EBADMSG;
        if (q.overdue > q.backlog || (q.overdue == 0) != (q.most_overdue_usec == 0))
                return -EBADMSG;
        if (!q.schedule_known && q.overdue > 0)
                return -EBADMSG;
        /* A hung delivery names its process and message, and none is named without one. */
        if ((q.hung == 0) != (q.hung_pid == 0) || (q.hung == 0) != (q.hung_id[0] == 0) ||
            (q.hung == 0 && q.hung_age_usec != 0))
                return -EBADMSG;
        *ret = q;
        return 0;
}


void queue_scan_fail(Probe *p, const char *what, int status, const char *output, size_t size) {
        if ((status == QUEUE_SCAN_EXIT_ERROR || status == QUEUE_SCAN_EXIT_PERMISSION ||
             status == QUEUE_SCAN_EXIT_BUSY) && size > 1 && output[size - 1] == '\n' &&
            memchr(output, '\n', size) == output + size - 1) {
                probe_complete(p, PROBE_UNKNOWN,
                               status == QUEUE_SCAN_EXIT_PERMISSION ? PROBE_OUTCOME_PERMISSION :
                               PROBE_OUTCOME_LOCAL_ERROR,
                               NULL, "%.*s", (int) (size - 1), output);
                return;
        }
        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_LOCAL_ERROR, NULL, "queue scan of %s ended with status %d",
                       what, status);
}

static void queue_scan_on_done(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        QueueScan *scan = userdata;
        Probe *p = scan->probe;
        char text[PROBE_REASON_MAX] = "";
        QueueStats q;
        int r;

        scan->run = NULL;  /* freed by exec after we return */

        if (status != 0) {
                queue_scan_fail(p, scan->what, status, output, size);
                return;
        }
        r = scan->ops->parse ? scan->ops->parse(p, output, size, &q) : queue_scan_parse_line(output, size, &q);
        if (r < 0) {
                probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_PARSE_ERROR, NULL,
                               "queue scan of %s printed a malformed line", scan->what);
                return;
        }
        scan->ops->describe(p, &q, text, sizeof(text));
        probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, &q, "%s", text);
}

int queue_scan_start(QueueScan *scan, Probe *p, const QueueScanOps *ops, const char *what) {
        int r;

        queue_scan_cancel(scan);
        scan->ops = ops;
        scan->probe = p;
        scan->what = what;
        r = sd_event_now(p->event, CLOCK_REALTIME, &scan->realtime_usec);
        if (r >= 0)
                r = sd_event_now(p->event, CLOCK_BOOTTIME, &scan->boottime_usec);
        if (r >= 0)
                r = sd_event_now(p->event, CLOCK_MONOTONIC, &scan->monotonic_usec);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot read the clock: %m", p->name);
        /* The child gets a copy of p->state: later changes here do not matter to it. */
        r = exec_fn(p->event, ops->child, p->state, USEC_INFINITY, queue_scan_on_done, scan, &scan->run);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot start queue scan: %m", p->name);
        return 0;
}

void queue_scan_cancel(QueueScan *scan) {
        scan->run = exec_cancel(scan->run);
}
