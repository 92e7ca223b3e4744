/* SPDX-License-Identifier: MIT */
#pragma once

#include "exim-log.h"

/* [mta] type = exim: the queue probe reads Exim's spool and its retry
 * hints database (probes/exim.c), the activity source is its main log. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"

typedef struct MtaProfile MtaProfile;
extern const MtaProfile mta_profile_exim;
extern const struct probe_ops probe_exim_ops;   /* type "exim", PROBE_KIND_QUEUE */

/* Debian 12's exim4 (exim4-base, exim4-daemon-*; /etc/init.d/exim4). */
#define EXIM_DEFAULT_BINARY          "/usr/sbin/exim4"
#define EXIM_DEFAULT_SPOOL_DIRECTORY "/var/spool/exim4"
#define EXIM_DEFAULT_DEFAULTS_FILE   "/etc/default/exim4"
#define EXIM_DEFAULT_RUN_DIRECTORY   "/run/exim4"
#define EXIM_DEFAULT_QUEUE_INTERVAL_USEC (30 * 60 * 1000000ULL)   /* the init script's QUEUEINTERVAL */
#define EXIM_DEFAULT_HUNG_DELIVERY_AFTER_USEC (30 * 60 * 1000000ULL)
/* overdue_slack = auto: the queue runner interval plus this. */
#define EXIM_SLACK_MARGIN_USEC (60 * 1000000ULL)
/* Exim ignores retry records not written for this long (retry_data_expire,
 * default 7d, unchanged on Debian; Exim's retry.c). */
#define EXIM_RETRY_DATA_EXPIRE_SEC (7 * 86400ULL)
/* How long `exim4 -bP` may take at configuration load. */
#define EXIM_DISCOVER_TIMEOUT_USEC (2 * 1000000ULL)

/* The settings of the exim queue probe: the [mta] keys of the type. */
typedef struct EximSettings {
        char *spool_directory;            /* absolute; NULL until exim_settings_finish(): from
                                           * `exim4 -bP spool_directory`, else /var/spool/exim4 */
        char *log_file;                   /* absolute path of the main log, or "syslog"; NULL
                                           * until exim_settings_finish() (log_file_path) */
        uint64_t queue_interval_usec;     /* the queue runner's interval, microseconds;
                                           * USEC_INFINITY = auto (the daemon's -q, else
                                           * /etc/default/exim4); 0: no queue runner */
        uint64_t overdue_slack_usec;      /* USEC_INFINITY = auto: interval + 1 minute */
        uint64_t hung_delivery_after_usec;/* a delivery holding a message longer is hung */
        /* Not ini keys; NULL: the EXIM_DEFAULT_* above (tests set them). */
        char *exim_path;
        char *defaults_file;
        char *run_directory;
} EximSettings;

/* Exim's message ids (Exim specification 3.4 "Message identification"; the
 * spool's file names): 4.96's "tttttt-pppppp-ff" (16 characters) or
 * 4.97's "tttttt-ppppppppppp-ffff" (23), each part base 62 in
 * [0-9A-Za-z]. Returns true when the N bytes at S are one. */
bool exim_id_valid(const char *s, size_t n);

/* The arrival time of ID (its first six characters, base 62, most
 * significant first; Exim's string.c string_base62()), seconds since the
 * epoch. Returns 0 or -EINVAL (not six base-62 digits). */
int exim_id_time(const char *id, uint64_t *ret_sec);

/* NAME is "<id>-H" (a message's header file; not "hdr.<id>", Exim's
 * temporary name): copies the id to ID (QUEUE_ID_MAX bytes) and returns
 * its length, else -EINVAL. */
int exim_spool_name(const char *name, char *id);

/* What a -H file says (Exim specification 57.1 "Format of the -H file";
 * Exim's spool_out.c): line 4 the arrival time, then the "-" option
 * lines, "-frozen TIME" for a frozen message and "-deliver_firsttime"
 * for one never attempted. "-aclc/-aclm NAME LEN" lines are followed by
 * LEN + 1 bytes of value, skipped whole (they may hold newlines). */
typedef struct EximHeader {
        uint64_t received_sec;
        bool frozen;
        uint64_t frozen_sec;
        bool firsttime;
} EximHeader;

/* Parses the first SIZE bytes of the -H file of ID. Returns 0, -ENODATA
 * when the option block does not end within SIZE (read more, or not at
 * all), -EBADMSG when it is not a -H file of ID. */
int exim_parse_header(const char *buf, size_t size, const char *id, EximHeader *ret);

/* A record of the retry hints database, Exim 4.96's dbdata_retry
 * (hintsdb_structs.h) in the native layout: time_stamp, first_failed,
 * last_try, next_try (time_t), expired (unsigned), basic_errno,
 * more_errno (int), then the NUL-terminated error text. */
typedef struct EximRetryRecord {
        int64_t time_stamp, first_failed, last_try, next_try;  /* seconds since the epoch */
        bool expired;
        int basic_errno, more_errno;
        char text[128];                   /* cut to fit */
} EximRetryRecord;

/* Decodes SIZE bytes of a record's data. Returns 0 or -EBADMSG (too
 * short for the fixed part). */
int exim_retry_decode(const void *data, size_t size, EximRetryRecord *ret);

typedef enum EximRetryKey {
        EXIM_RETRY_KEY_OTHER,             /* not a retry key the probe uses */
        EXIM_RETRY_KEY_HOST,              /* "T:host:ip[:port]": a host that failed */
        EXIM_RETRY_KEY_MESSAGE,           /* "T:host:ip[:port]:<id>": that message on that host */
        EXIM_RETRY_KEY_ROUTING,           /* "R:domain", "R:local@domain": routing/address deferral */
} EximRetryKey;

/* Classifies the key of SIZE bytes (a trailing NUL, as Exim stores keys,
 * is allowed); for EXIM_RETRY_KEY_MESSAGE copies the id to ID
 * (QUEUE_ID_MAX bytes). Message ids are recognised from the end, since an
 * IPv6 address holds colons (Exim specification 54.12 "Retry rules"). */
EximRetryKey exim_retry_key(const char *key, size_t size, char *id);

/* The schedule read from the database: the latest next_try of host and
 * routing records, and per message the latest next_try of its own
 * records; records older than EXIM_RETRY_DATA_EXPIRE_SEC are left out. */
typedef struct EximMessageRetry {
        char id[QUEUE_ID_MAX];
        int64_t next_try;
} EximMessageRetry;

typedef struct EximSchedule {
        bool have_host;                   /* a host or routing record exists */
        int64_t host_next_try;            /* the latest of them */
        size_t records;                   /* records read (all keys) */
        EximMessageRetry *messages;       /* sorted by id */
        size_t n_messages;
} EximSchedule;

/* Adds one record (KEY of KEY_SIZE bytes, DATA of DATA_SIZE) read at
 * NOW_SEC to S. Returns 0, -ENOMEM (a malformed record is skipped: 0). */
int exim_schedule_add(EximSchedule *s, const void *key, size_t key_size, const void *data, size_t data_size,
                      uint64_t now_sec);
/* Sorts the message records for exim_schedule_message(). */
void exim_schedule_seal(EximSchedule *s);
/* The latest next_try of ID's own records, or -1. */
int64_t exim_schedule_message(const EximSchedule *s, const char *id);
void exim_schedule_done(EximSchedule *s);

/* Reads SPOOL/db/retry (Berkeley DB, read-only) under a non-blocking
 * F_RDLCK on SPOOL/db/retry.lockfile, as Exim's dbfn_open() locks it;
 * neither file is ever created. Returns 1 and fills S, 0 when the
 * database does not exist or is empty (0 bytes) (no retry records: Exim
 * has not deferred anything since it was last tidied), -EAGAIN when a writer holds the
 * lock, or another negative errno, with the reason in REASON. */
int exim_read_retry_db(const char *spool, uint64_t now_sec, EximSchedule *s, char *reason, size_t reason_size);

/* When a message becomes due for another delivery attempt: ARRIVAL_SEC
 * for one never attempted (FIRSTTIME); else the latest of its last
 * attempt (LAST_ATTEMPT_SEC: its msglog's mtime), its own retry
 * records' next_try (MESSAGE_NEXT_TRY, -1: none) and the hosts' latest
 * next_try (HOST_NEXT_TRY, -1: none). Exim tries a message at the first
 * queue run after it is due (Exim specification 32 "Retry
 * configuration"); see probes/exim.c for why the latest host counts. */
int64_t exim_message_due(int64_t arrival_sec, bool firsttime, int64_t last_attempt_sec, int64_t message_next_try,
                         int64_t host_next_try);

/* Whether a message due at DUE_SEC is overdue at NOW_USEC: more than
 * SLACK_USEC (USEC_INFINITY: never) past it. Returns how far past due in
 * *RET_LATE_USEC (0 if not overdue). The same edge as Postfix's: exactly
 * SLACK past due is not overdue. */
bool exim_overdue(int64_t due_sec, uint64_t now_usec, uint64_t slack_usec, uint64_t *ret_late_usec);

/* An Exim time value as the -q option and QUEUEINTERVAL take it (Exim
 * specification 6.15 "Format of time values"): one or more NUMBER UNIT
 * pairs, UNIT one of w d h m s; a bare number is seconds. Returns 0, or
 * -EBADMSG / -ERANGE. */
int exim_parse_time(const char *s, size_t n, uint64_t *ret_usec);

/* The queue runner interval from /etc/default/exim4's TEXT (shell
 * assignments QUEUERUNNER= and QUEUEINTERVAL=, the last one counting;
 * the init script's defaults 'combined' and '30m'): returns 1 and the
 * interval, 0 for QUEUERUNNER no, ppp or nodaemon (no queue runner), or
 * -EBADMSG for an interval that is not an Exim time. */
int exim_defaults_interval(const char *text, uint64_t *ret_usec);

/* The queue runner interval of a daemon from its command line (ARGV as
 * /proc/PID/cmdline holds it: NUL-separated, SIZE bytes): the time of
 * its "-q[qif...]TIME" argument. Returns 1 and the interval, 0 when it
 * runs no queue (no such argument). */
int exim_cmdline_interval(const char *argv, size_t size, uint64_t *ret_usec);

/* The queue runner interval on this host: the daemons of RUN_DIR/exim.pid
 * and RUN_DIR/eximqr.pid (QUEUERUNNER=separate) that are alive and run
 * EXE (/proc/PID/exe), by their -q option; when none runs, DEFAULTS_FILE.
 * Returns 1 and the interval, 0 (no queue runner); SOURCE gets a short
 * description ("daemon pid 123", "/etc/default/exim4", "built-in
 * default"). */
int exim_queue_interval(const char *run_dir, const char *exe, const char *defaults_file, uint64_t *ret_usec,
                        char *source, size_t source_size);

/* From `exim4 -bP spool_directory log_file_path`'s OUTPUT: the spool
 * directory (*RET_SPOOL, NULL if not printed or not absolute) and
 * log_file_path (*RET_LOG_PATH, "" when empty). Returns 0, -ENOMEM. */
int exim_parse_bp(const char *output, char **ret_spool, char **ret_log_path);

/* The main log from a log_file_path value (Exim specification 53.1): the
 * first item of the colon-separated list that is not "syslog", "%s"
 * replaced with "main"; an empty value is Exim's <spool>/log/%slog.
 * Returns 0 with a malloc'd path in *RET, or with "syslog" when the list
 * names syslog alone; -EINVAL when the path is not absolute; -ENOMEM. */
int exim_log_file_from_path(const char *log_file_path, const char *spool, char **ret);

/* Fills what the [mta] keys left unset (spool_directory, log_file) from
 * `exim4 -bP` (EXIM_DISCOVER_TIMEOUT_USEC at most; no binary: at once) or
 * the Debian defaults. Returns 0, or -EINVAL with ERROR naming the key. */
int exim_settings_finish(void *settings, char *error, size_t error_size);

/* Hung deliveries. A delivery process holds an fcntl write lock on its
 * message's -D file (Exim's spool_in.c spool_open_datafile()); F_GETLK
 * names it. How long it has held the message: the shipped unit
 * (units/mta-watchdogd.service: ProtectProc=invisible, ProcSubset=pid, its
 * own user) cannot see Exim's processes in /proc, so the daemon measures
 * it itself: from the first round that saw the same process hold the same
 * message, on CLOCK_MONOTONIC (exim_hung_track(), in the probe, since each
 * scan runs in a fresh child). A restart of the daemon starts that clock
 * again: late, never early. Where /proc shows the process (the daemon run
 * as root, `--once` by root) its run time counts when longer. */
#define EXIM_HELD_MAX 16                  /* holders reported and followed per round */
#define EXIM_RUN_UNKNOWN UINT64_MAX       /* EximHeld.run_usec: /proc does not show the process */

typedef struct EximHeld {
        uint32_t pid;                     /* the lock holder */
        char id[QUEUE_ID_MAX];            /* the message */
        uint64_t run_usec;                /* how long the process has run (/proc/PID/stat),
                                           * EXIM_RUN_UNKNOWN when hidden */
} EximHeld;

/* The messages older than hung_after_usec whose -D lock a process holds:
 * the EXIM_HELD_MAX with the smallest ids (the oldest; the same ones round
 * after round, whatever order readdir() gives), and how many in all. */
typedef struct EximHeldList {
        EximHeld v[EXIM_HELD_MAX];
        size_t n;
        unsigned total;
} EximHeldList;

/* What the probe remembers between rounds: when it first saw each holder
 * hold its message (CLOCK_MONOTONIC, microseconds). */
typedef struct EximHungTracker {
        struct {
                uint32_t pid;
                char id[QUEUE_ID_MAX];
                uint64_t first_seen_usec;
        } v[EXIM_HELD_MAX];
        size_t n;
} EximHungTracker;

/* One round: HELD (this round's holders, NULL: none) against tracker T at
 * NOW_USEC (CLOCK_MONOTONIC, microseconds). A (pid, message) pair not seen
 * before starts at NOW_USEC; pairs not in HELD are forgotten. A pair's age
 * is the longer of NOW_USEC - first seen and the process's run time (when
 * known); it is hung when its age exceeds HUNG_AFTER_USEC (0: nothing is).
 * Sets Q's hung (how many), hung_pid, hung_id and hung_age_usec (the
 * longest; ties: the smaller id), all 0/"" when none. */
void exim_hung_track(EximHungTracker *t, const EximHeldList *held, uint64_t now_usec, uint64_t hung_after_usec,
                     QueueStats *q);

/* The line the scan child writes for each holder before its summary:
 * "held PID RUN_USEC|- ID\n" (at most EXIM_HELD_LINE_MAX bytes), and its
 * reader: 0, or -EBADMSG for anything else. */
#define EXIM_HELD_LINE_MAX (QUEUE_ID_MAX + 48)
int exim_format_held_line(char *buf, size_t size, const EximHeld *h);
int exim_parse_held_line(const char *s, size_t n, EximHeld *ret);

/* One scan of the spool, in the child. */
typedef struct EximScanParams {
        const char *spool;
        uint64_t now_usec;                /* CLOCK_REALTIME */
        uint64_t boottime_usec;           /* CLOCK_BOOTTIME, for process ages */
        uint64_t slack_usec;              /* USEC_INFINITY: nothing is overdue (no queue runner) */
        uint64_t header_age_usec;         /* read -H of messages older than this */
        uint64_t hung_after_usec;         /* look for lock holders of messages older than
                                           * this; 0: do not look */
        EximHeldList *held;               /* out: the holders found; NULL: none looked for */
} EximScanParams;

/* Counts the queue under P->spool/input (split spool included), reads
 * the retry database, and fills RET (backlog in .deferred, frozen apart,
 * overdue, schedule_source "retry-db" or "msglog"; the hung fields stay 0:
 * the holders go to P->held, and exim_hung_track() judges them). Blocks on the file system: the probe runs it in a child.
 * Returns 0, -EAGAIN (the database is locked by a writer) or a negative
 * errno, with "scan PATH: error" or the like in REASON. */
int exim_scan_queue(const EximScanParams *p, QueueStats *ret, char *reason, size_t reason_size);

/* The holder of a lock on the file FD (F_GETLK, whole file, as for a
 * write lock: Exim's deliveries hold one on the -D file, spool_in.c):
 * 0 and its pid, or 0 and 0 when none; a negative errno. Takes no lock. */
int exim_lock_holder(int fd, pid_t *ret);

/* How long process PID has run at BOOTTIME_USEC (/proc/PID/stat field 22,
 * proc(5)). Returns 0, or -ENOENT (gone, or hidden from the caller:
 * ProtectProc=invisible), -EBADMSG. */
int exim_process_age(pid_t pid, uint64_t boottime_usec, uint64_t *ret_usec);
