/* SPDX-License-Identifier: MIT */
#pragma once

/* [mta] type = generic: any MTA run by systemd, described by its [mta]
 * keys (README "The generic profile"): queue directories and a file-name
 * glob, the arrival time from the file's name or its mtime, a log source
 * (the unit's journal, syslog identifiers, or a log file), the words of
 * its log per outcome, and a flush command. Its rule is the conservative
 * one (probes/mta.h MtaProfile.conservative); where it can read the MTA's
 * schedule (schedule_from, OpenSMTPD's envelopes) a stall also needs mail
 * that is overdue. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "activity.h"
#include "mta.h"
#include "probe.h"

typedef struct MtaProfile MtaProfile;
extern const MtaProfile mta_profile_generic;
extern const struct probe_ops probe_generic_ops;   /* type "generic", PROBE_KIND_QUEUE */

#define GENERIC_DIRECTORIES_MAX 8          /* queue_directories */
#define GENERIC_DEPTH_MAX 4                /* queue_depth */
#define GENERIC_IDENTIFIERS_MAX 8          /* syslog_identifiers */
#define GENERIC_ENVELOPE_READ_MAX 8192     /* bytes of a file read for its schedule */

/* How a message's arrival time is read (arrival_from_name =). */
typedef enum GenericArrival {
        GENERIC_ARRIVAL_MTIME,             /* "mtime": the file's modification time */
        GENERIC_ARRIVAL_EPOCH_PREFIX,      /* "epoch-prefix": the decimal seconds since the epoch
                                            * that begin the name, up to a '.' or its end
                                            * (nullmailer's queue/<epoch>.<pid>); a name without
                                            * them: its mtime */
        _GENERIC_ARRIVAL_MAX,
} GenericArrival;

/* Where the MTA's schedule is read (schedule_from =). */
typedef enum GenericSchedule {
        GENERIC_SCHEDULE_NONE,             /* "none": no schedule */
        GENERIC_SCHEDULE_OPENSMTPD,        /* "opensmtpd-envelope": each file is an OpenSMTPD
                                            * envelope; its ctime is the arrival, its next attempt
                                            * computed (probes/opensmtpd-envelope.h) */
        _GENERIC_SCHEDULE_MAX,
} GenericSchedule;

/* overdue_slack = auto with schedule_from = opensmtpd-envelope: smtpd's
 * scheduler starts an envelope at its time (no queue runner to wait for),
 * and an envelope in flight is not rewritten until its attempt ends: one
 * SMTP session's timeout of 5 minutes (mta_session.c) twice. */
#define GENERIC_OPENSMTPD_SLACK_USEC (UINT64_C(600) * 1000000)

/* Where the MTA's log is read (log_source =). */
typedef enum GenericLogSource {
        GENERIC_LOG_UNIT,                  /* "unit": the journal of [mta] unit */
        GENERIC_LOG_SYSLOG,                /* "syslog": the journal by syslog_identifiers */
        GENERIC_LOG_FILE,                  /* "file": log_file, through probes/logfile.c */
        _GENERIC_LOG_MAX,
} GenericLogSource;

/* The [mta] keys of the type, and what generic_settings_finish() builds
 * from them. Durations in microseconds. */
typedef struct GenericSettings {
        char **queue_directories;          /* absolute, NULL-terminated; required */
        char *queue_glob;                  /* fnmatch(3) pattern of a message's file name, "*" */
        unsigned queue_depth;              /* subdirectory levels below each directory, 0 */
        GenericArrival arrival;
        GenericLogSource log_source;
        char **syslog_identifiers;         /* log_source = syslog; NULL-terminated */
        char *log_file;                    /* log_source = file; absolute */
        char *delivered_pattern;           /* ERE: a message was delivered; required */
        char *failed_pattern;              /* ERE: an attempt failed (the other side refused) */
        char *started_pattern;             /* ERE: a delivery began, its outcome comes later */
        uint64_t hung_delivery_after_usec; /* an open start older than this is a wedged sender;
                                            * 0: never */
        uint64_t max_retry_gap_usec;       /* the MTA's longest pause between attempts; 0: unknown */
        GenericSchedule schedule;          /* schedule_from */
        uint64_t overdue_slack_usec;       /* USEC_INFINITY: auto */
        /* Built by generic_settings_finish(): */
        ActivityRules rules;
} GenericSettings;

/* The arrival time encoded in NAME by RULE: for GENERIC_ARRIVAL_EPOCH_PREFIX
 * the decimal digits that begin NAME, ended by '.' or the end of NAME (at
 * most 12 digits: seconds until the year 33658). Returns 1 and the time in
 * seconds since the epoch, 0 when NAME holds none (or RULE reads none:
 * GENERIC_ARRIVAL_MTIME). Pure (tests/fuzz/fuzz-generic.c). */
int generic_name_arrival(GenericArrival rule, const char *name, uint64_t *ret_sec);

/* The overdue_slack S uses, microseconds: the key's, or for auto the
 * schedule's (GENERIC_OPENSMTPD_SLACK_USEC); USEC_INFINITY without a
 * schedule. */
uint64_t generic_overdue_slack(const GenericSettings *s);

/* One scan of the queue directories of S at NOW_USEC (CLOCK_REALTIME,
 * microseconds): every regular file whose name matches queue_glob
 * (fnmatch(3), no flags; names beginning with '.' never count), in each
 * directory and queue_depth levels of subdirectories below it, read with
 * readdir(3) and fstatat(2) (symbolic links are not followed; without
 * schedule_from no file is opened). Fills RET: backlog (all counted as
 * deferred), the oldest message (its name as oldest_id, bytes other than
 * [0-9A-Za-z_.-] as '_', cut to QUEUE_ID_MAX - 1; its age from the
 * arrival rule; a tie: the smaller id). Without schedule_from no schedule
 * (schedule_known false). With schedule_from = opensmtpd-envelope each
 * file's first GENERIC_ENVELOPE_READ_MAX bytes are read: its arrival is
 * the envelope's ctime, and it is overdue when its next attempt
 * (opensmtpd_envelope_next_try() from its mtime) is more than
 * generic_overdue_slack() before NOW_USEC; schedule_known, source
 * "envelope", unless a file is not such an envelope (then its arrival is
 * its mtime and the scan reads no schedule: overdue 0, schedule_known
 * false). Blocks on the file system: the probe runs it in a child.
 * Returns 0, or a negative errno (-ENOENT: a queue directory is missing,
 * -EACCES: unreadable) with "PATH: error" in REASON; a subdirectory or
 * file that vanishes during the scan is skipped. */
int generic_scan_queue(const GenericSettings *s, uint64_t now_usec, QueueStats *ret, char *reason,
                       size_t reason_size);

/* Checks the keys together and builds S->rules. Returns 0, or -EINVAL
 * with ERROR naming the key, -ENOMEM. */
int generic_settings_finish(void *settings, char *error, size_t error_size);
