/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "activity.h"
#include "probe.h"
#include "spool-index.h"

typedef struct MtaProfile MtaProfile;

/* [mta] type = postfix: the queue probe reads Postfix's spool
 * (probes/postfix.c), the activity probe its journal lines by unit. */
extern const MtaProfile mta_profile_postfix;
extern const struct probe_ops probe_postfix_ops;   /* type "postfix", PROBE_KIND_QUEUE */
extern const ActivityRules postfix_activity_rules;

#define POSTFIX_DEFAULT_QUEUE_DIRECTORY "/var/spool/postfix"

/* The settings of the postfix queue probe: the [mta] keys of the type. */
typedef struct PostfixSettings {
        char *queue_directory;            /* absolute, default /var/spool/postfix */
        char *postconf_path;              /* NULL: /usr/sbin/postconf (tests set it) */
        char *master_cf_path;             /* NULL: /etc/postfix/master.cf (tests set it) */
        uint64_t overdue_slack_usec;      /* how long past its next attempt a message is
                                           * overdue, microseconds; USEC_INFINITY = "auto":
                                           * queue_run_delay (postconf -h) plus one minute */
        uint64_t full_scan_interval_usec; /* incremental tracking: walk the whole spool at
                                           * least this often, microseconds; 0: every round
                                           * (no tracking). Default POSTFIX_DEFAULT_FULL_SCAN_INTERVAL */
} PostfixSettings;

#define POSTFIX_DEFAULT_FULL_SCAN_INTERVAL_USEC (600ULL * 1000000ULL)

/* Scans a Postfix queue_directory (see probes/postfix.c for what counts,
 * how ages are estimated and when a message is overdue). Blocks on the
 * filesystem: the probe runs it in a child; exported so that tests can
 * call it directly. NOW is CLOCK_REALTIME in microseconds; SLACK is the
 * overdue slack in microseconds (USEC_INFINITY: nothing is overdue).
 * Returns 0 and fills RET (schedule_known set), or a negative errno with
 * "scan PATH: error" written to REASON (may be NULL). */
int postfix_scan_queue(const char *queue_directory, uint64_t now_realtime_usec, uint64_t slack_usec,
                       QueueStats *ret, char *reason, size_t reason_size);

/* Incremental tracking, the two walks of the reading child (exported for
 * tests; they block on the file system like postfix_scan_queue()).
 *
 * postfix_follow_scan(): postfix_scan_queue() that also adds a watch on
 * INOTIFY_FD (inotify(7)) for queue_directory and every queue directory
 * before listing it, and writes SpoolRecords (spool-index.h) for them and
 * each counted message to RECORDS_FD. Same return values and RET.
 *
 * postfix_follow_read(): for each name of NAMES (directories of F's
 * table), writes what it is now: a counted message, gone, or a new
 * subdirectory (followed and walked). Returns 0, or a negative errno with
 * the reason in REASON.
 *
 * postfix_follow_names(): for each directory of F whose oldest message's
 * name is wanted (spool_index_names_wanted()), lists it once (readdir(3),
 * no statx: only names are hashed) and writes a SPOOL_RECORD_NAME with the
 * smallest name among those whose key is one of its earliest second's
 * (spool_index_oldest_keys()), and how many names matched. A directory
 * that is gone writes nothing. Returns 0, or a negative errno with the
 * reason in REASON. */
int postfix_follow_scan(const char *queue_directory, int inotify_fd, int records_fd, uint64_t now_realtime_usec,
                        uint64_t slack_usec, QueueStats *ret, char *reason, size_t reason_size);
int postfix_follow_read(const char *queue_directory, const SpoolFollow *f, const SpoolDirtyList *names,
                        int inotify_fd, int records_fd, char *reason, size_t reason_size);
int postfix_follow_names(const char *queue_directory, const SpoolFollow *f, int records_fd, char *reason,
                         size_t reason_size);

/* Parses a Postfix time value as `postconf -h` prints it (postconf(5),
 * "time"): digits and an optional unit s, m, h, d or w, then an optional
 * newline. Returns 0 and the value in usec, -EBADMSG or -ERANGE. */
int postfix_parse_time(const char *s, size_t size, uint64_t *ret);
