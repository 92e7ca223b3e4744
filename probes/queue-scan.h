/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../watchdogd/exec.h"
#include "probe.h"

/* The queue probes' common run: the scan of the MTA's spool runs in a
 * child (it may block on a slow or locked spool; the probe's deadline
 * cancels it), which prints one line of QueueStats (or a reason), and the
 * parent parses it and completes the probe. Every MTA type's queue probe
 * (probes/postfix.c, probes/exim.c, ...) answers in this line. */

/* The longest line queue_scan_format_line() writes, NUL included. */
#define QUEUE_SCAN_LINE_MAX 512

/* Exit codes of a scan child that printed a reason (one line) instead of
 * the stats line. BUSY: the MTA holds a lock the scan needs (Exim's retry
 * database); the round is UNKNOWN. */
#define QUEUE_SCAN_EXIT_ERROR 1
#define QUEUE_SCAN_EXIT_PERMISSION 2
#define QUEUE_SCAN_EXIT_BUSY 3

/* Formats Q as the one line a scan child prints: "backlog=N incoming=N
 * active=N deferred=N maildrop=N oldest_age_usec=N overdue=N
 * most_overdue_usec=N slack_usec=N frozen=N hung=N hung_pid=N
 * hung_age_usec=N schedule=SOURCE hung_id=ID oldest_id=ID\n", SOURCE one
 * of "file-times", "retry-db", "msglog", "qf" (Sendmail), "envelope" (the
 * generic profile's OpenSMTPD envelopes) or, when schedule_known is false,
 * "none". Returns its length, -ENOBUFS if SIZE is too small, -EINVAL for
 * another schedule_source. */
int queue_scan_format_line(char *buf, size_t size, const QueueStats *q);

/* Parses such a line, S of SIZE bytes (NUL-terminated at SIZE, as exec's
 * output is): every field, in order, one '\n' at the end, and counts that
 * agree (the queues add up to backlog, an oldest id iff a backlog, overdue
 * only with a schedule, a hung delivery with its pid and id). Returns 0
 * and fills RET, or -EBADMSG. Pure: tests and fuzzers call it
 * (tests/fuzz/fuzz-spool.c). */
int queue_scan_parse_line(const char *s, size_t size, QueueStats *ret);

/* In a scan child, after a scan that returned R: prints the line of Q and
 * returns 0 (the exit code), or prints REASON (else R's text) and returns
 * QUEUE_SCAN_EXIT_PERMISSION for -EACCES/-EPERM, QUEUE_SCAN_EXIT_BUSY for
 * -EAGAIN, else QUEUE_SCAN_EXIT_ERROR. */
int queue_scan_child_answer(int out_fd, int r, const QueueStats *q, const char *reason);

/* Completes probe P as UNKNOWN for a scan child that did not exit 0:
 * with the reason it printed (a QUEUE_SCAN_EXIT_* status and one line),
 * else with its exit STATUS. WHAT names the queue ("/var/spool/exim4"). */
void queue_scan_fail(Probe *p, const char *what, int status, const char *output, size_t size);

typedef struct QueueScan QueueScan;

/* One MTA's part of the run. */
typedef struct QueueScanOps {
        /* In the child, on the child's copy of the probe's state (p->state):
         * scans, prints lines of its own if the MTA has any (Exim: the
         * message lock holders), then answers with queue_scan_child_answer();
         * returns the exit code. The clocks of the run are in the state's
         * QueueScan (see queue_scan_start()). */
        int (*child)(int out_fd, void *state);
        /* In the parent, for a child that exited 0: OUTPUT (SIZE bytes,
         * NUL-terminated) into *Q. Returns 0, or -EBADMSG for output it
         * cannot read. NULL: the stats line alone (queue_scan_parse_line()). */
        int (*parse)(Probe *p, const char *output, size_t size, QueueStats *q);
        /* In the parent: the text of the OK result for Q into BUF (the
         * probe's reason, seen in logs and --once). */
        void (*describe)(Probe *p, const QueueStats *q, char *buf, size_t size);
} QueueScanOps;

/* Lives in the queue probe's state (p->state), so the child sees it too. */
struct QueueScan {
        const QueueScanOps *ops;
        Probe *probe;
        const char *what;                 /* the queue named in failures; owned by the probe */
        ExecRun *run;
        /* When the run began (sd_event_now(3)), microseconds: the schedule
         * is read against realtime; process ages use boottime; trackers
         * of the parent use monotonic. */
        uint64_t realtime_usec, monotonic_usec, boottime_usec;
};

/* Starts a run of probe P with OPS: reads the clocks into SCAN, cancels a
 * run still going, forks the child (no deadline of its own: the probe's
 * deadline cancels it through queue_scan_cancel()). SCAN must be inside
 * p->state. WHAT names the queue in failures (kept, not copied). Returns 0
 * or a negative errno (the clock or fork failed), logged. */
int queue_scan_start(QueueScan *scan, Probe *p, const QueueScanOps *ops, const char *what);

/* Kills a run still going (exec_cancel()); no callback follows. */
void queue_scan_cancel(QueueScan *scan);
