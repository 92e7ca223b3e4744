/* SPDX-License-Identifier: MIT */
#pragma once

/* [mta] type = sendmail: the queue probe reads Sendmail's queue files and
 * host status directory (probes/sendmail.c), the activity source is the
 * journal by syslog identifier (probes/sendmail-log.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"
#include "sendmail-log.h"

typedef struct MtaProfile MtaProfile;
extern const MtaProfile mta_profile_sendmail;
extern const struct probe_ops probe_sendmail_ops;   /* type "sendmail", PROBE_KIND_QUEUE */

/* Debian 12's sendmail 8.17 (sendmail-bin, sendmail-base, sendmail-cf;
 * /etc/init.d/sendmail Get_Parameters()). */
#define SENDMAIL_DEFAULT_BINARY                 "/usr/libexec/sendmail/sendmail"  /* /usr/sbin/sendmail-mta's target */
#define SENDMAIL_DEFAULT_CF_FILE                "/etc/mail/sendmail.cf"
#define SENDMAIL_DEFAULT_CONF_FILE              "/etc/mail/sendmail.conf"
#define SENDMAIL_DEFAULT_RUN_DIRECTORY          "/run/sendmail/mta"
#define SENDMAIL_DEFAULT_QUEUE_DIRECTORY        "/var/spool/mqueue"
#define SENDMAIL_DEFAULT_CLIENT_QUEUE_DIRECTORY "/var/spool/mqueue-client"
#define SENDMAIL_DEFAULT_HOST_STATUS_DIRECTORY  "/var/lib/sendmail/host_status"
/* The init script's QUEUE_INTERVAL. */
#define SENDMAIL_DEFAULT_QUEUE_INTERVAL_USEC (10 * 60 * 1000000ULL)
/* Timeout.hoststatus when sendmail.cf leaves it commented out (op guide
 * "Timeout.hoststatus", default 30m). */
#define SENDMAIL_DEFAULT_HOST_STATUS_TIMEOUT_USEC (30 * 60 * 1000000ULL)
/* overdue_slack = auto: the queue run interval plus this. */
#define SENDMAIL_SLACK_MARGIN_USEC (60 * 1000000ULL)
/* Bytes of a qf file read for its T, K and N lines (written first). */
#define SENDMAIL_QF_READ_MAX 512
/* Bytes of a host status file read (at most 8 short lines). */
#define SENDMAIL_HOST_STATUS_READ_MAX 1024
/* Bounds of the host status walk: directory depth, files. */
#define SENDMAIL_HOST_STATUS_DEPTH_MAX 16
#define SENDMAIL_HOST_STATUS_FILES_MAX 4096
#define SENDMAIL_WAIT_REASON_MAX 128      /* QueueStats.wait_reason */

/* The settings of the sendmail queue probe: the [mta] keys of the type.
 * Durations in microseconds; USEC_INFINITY = auto. */
typedef struct SendmailSettings {
        char *queue_directory;            /* QueueDirectory; a last component ending in '*' is a
                                           * wildcard (queue groups, "/var/spool/mqueue/q*");
                                           * NULL until sendmail_settings_finish() */
        char *client_queue_directory;     /* the MSP's queue (sendmail-msp's submit.cf) */
        char *host_status_directory;      /* HostStatusDirectory; "" none; NULL until finish */
        uint64_t queue_interval_usec;     /* auto: the daemon's -q, else sendmail.conf; 0: none */
        uint64_t min_queue_age_usec;      /* auto: sendmail.cf MinQueueAge, else 0 */
        uint64_t max_queue_age_usec;      /* auto: sendmail.cf MaxQueueAge, else 0 */
        uint64_t host_status_timeout_usec;/* auto: sendmail.cf Timeout.hoststatus, else 30m */
        uint64_t overdue_slack_usec;      /* auto: queue interval + 1 minute */
        /* Not ini keys; NULL: the SENDMAIL_DEFAULT_* above (tests set them). */
        char *cf_file;
        char *conf_file;
        char *run_directory;
        char *sendmail_path;
} SendmailSettings;

/* A Sendmail time value (convtime(), sendmail's src/convtime.c): one or
 * more NUMBER[UNIT] pairs, UNIT one of w d h m s; a bare number takes
 * DEFAULT_UNIT ('m' for -q and the queue age options, op guide 5.6).
 * N bytes at S. Returns 0 and the value, -EBADMSG or -ERANGE. */
int sendmail_parse_time(const char *s, size_t n, char default_unit, uint64_t *ret_usec);

/* The options of sendmail.cf's TEXT the probe uses ("O Name=value" lines;
 * "#O Name=value", as proto.m4 writes an option left unset, is the
 * binary's default, not that value). Each field is set only when the
 * file sets it: strings malloc'd (NULL when unset), durations
 * USEC_INFINITY when unset. Returns 0, -ENOMEM, or -EBADMSG naming the
 * option in ERROR (a time that is not one). */
typedef struct SendmailCf {
        char *queue_directory;
        char *host_status_directory;
        uint64_t min_queue_age_usec, max_queue_age_usec, host_status_timeout_usec;
} SendmailCf;

int sendmail_parse_cf(const char *text, SendmailCf *ret, char *error, size_t error_size);
void sendmail_cf_done(SendmailCf *cf);

/* The queue interval from /etc/mail/sendmail.conf's TEXT (shell
 * assignments QUEUE_MODE= and QUEUE_INTERVAL=, the init script's defaults
 * "Daemon" and "10m"): 1 and the interval, 0 for QUEUE_MODE none or cron
 * (no queue runner daemon), or -EBADMSG. */
int sendmail_conf_interval(const char *text, uint64_t *ret_usec);

/* The queue interval of a daemon from its PID file's TEXT: line 1 the PID,
 * line 2 its command line (sendmail writes both, src/daemon.c; the init
 * script's queue.pid the same). The time of a "-qTIME" or "-qpTIME"
 * argument, minutes by default. Returns 1 and the interval, 0 when the
 * command runs no periodic queue (no such argument, or "-q" alone). */
int sendmail_pidfile_interval(const char *text, uint64_t *ret_usec);

/* The first lines of a qf file (op guide Appendix B, "qf"; sendmail's
 * src/queue.c queueup()): T creation time, K last delivery attempt, N
 * attempts, all decimal. */
typedef struct SendmailQf {
        bool have_t, have_k, have_n;
        uint64_t t, k, n;
} SendmailQf;

/* Parses the first SIZE bytes of a qf file (complete lines only; the
 * file is read without a lock, so it may be cut anywhere). Returns 0 when
 * T and N and, for N > 0, K are there; -EBADMSG for a file that is not a
 * qf file (first line not "V<digits>") or lacks them (truncated, or being
 * written: a schedule unknown, counted but never overdue). RET holds what
 * was found either way. */
int sendmail_parse_qf(const char *buf, size_t size, SendmailQf *ret);

/* The queue spacing options in effect (MinQueueAge, MaxQueueAge). */
typedef struct SendmailSpacing {
        uint64_t min_queue_age_usec;
        uint64_t max_queue_age_usec;
} SendmailSpacing;

/* When the job QF becomes due for its next attempt, seconds since the
 * epoch: its creation T when never attempted (N0: a queue run never finds
 * it too young); else K plus the spacing a queue run applies before
 * trying it again (src/queue.c gatherq(), 'K' case): with MaxQueueAge > 0,
 * min(K - T, MaxQueueAge) (not below 0); else MinQueueAge. The job is
 * tried at the first queue run after that. */
int64_t sendmail_job_due(const SendmailQf *qf, const SendmailSpacing *s);

/* Whether a job due at DUE_SEC is overdue at NOW_USEC: more than
 * SLACK_USEC (USEC_INFINITY: never) past it; how far past in
 * *RET_LATE_USEC (0 if not overdue). Exactly SLACK past due is not. */
bool sendmail_overdue(int64_t due_sec, uint64_t now_usec, uint64_t slack_usec, uint64_t *ret_late_usec);

/* A host status file (HostStatusDirectory; sendmail's src/mci.c
 * mci_store_persistent() writes "V0", "E<errno>", "H<h_errno>",
 * "S<exit status>", "D<DSN status>", "R<SMTP reply>", "U<last use>", "."
 * under flock(LOCK_EX), rewriting it in place). */
typedef struct SendmailHostStatus {
        int err;                          /* E: errno of the last attempt */
        int herr;                         /* H: h_errno */
        int exitstat;                     /* S: sysexits(3) code; 0 EX_OK */
        uint64_t lastuse;                 /* U: seconds since the epoch */
        char dsn[32];                     /* D, "" when absent */
        char reply[96];                   /* R, "" when absent */
} SendmailHostStatus;

/* Parses SIZE bytes of a host status file. Only a whole file counts: a
 * "V" line first and the "." line at the end (sendmail rewrites the file
 * in place; a reader without the lock may see it half written). Returns
 * 0, or -EBADMSG (an unknown line, as mci_read_persistent() refuses, or
 * no "." line). */
int sendmail_parse_host_status(const char *buf, size_t size, SendmailHostStatus *ret);

/* The host of a host status file from its path below the directory,
 * REL ("com./example./relay": one directory per name component, reversed,
 * each but the last with a trailing dot; src/mci.c
 * mci_generate_persistent_path()), into BUF ("relay.example.com").
 * Returns 0, -EINVAL (empty), -ENOBUFS. */
int sendmail_host_from_path(const char *rel, char *buf, size_t size);

/* How much longer sendmail trusts host status HS at NOW_USEC, as it
 * decides in mci_get(): a failure (S not EX_OK) is used instead of
 * connecting until U + TIMEOUT_USEC. Returns the microseconds left, 0
 * when HS is no failure or has expired. */
uint64_t sendmail_host_status_wait(const SendmailHostStatus *hs, uint64_t now_usec, uint64_t timeout_usec);

/* The text of HOST's status HS for wait_reason: "host status of HOST:
 * Deferred: Connection refused by HOST, trusted until HH:MM:SSZ
 * (Timeout.hoststatus 30m)" (UTC) or with the SMTP reply or exit status. */
void sendmail_wait_reason(char *buf, size_t size, const char *host, const SendmailHostStatus *hs,
                          uint64_t timeout_usec);

/* One scan, in the child. */
typedef struct SendmailScanParams {
        const char *queue_directory;      /* the MTA queue, may end in a '*' wildcard */
        const char *client_queue_directory; /* NULL: none; missing on disk: empty */
        const char *host_status_directory;/* NULL or "": none */
        uint64_t now_usec;                /* CLOCK_REALTIME */
        uint64_t slack_usec;              /* USEC_INFINITY: nothing is overdue (no queue runner) */
        SendmailSpacing spacing;
        uint64_t host_status_timeout_usec;
} SendmailScanParams;

/* What the scan finds besides QueueStats. */
typedef struct SendmailScanExtra {
        unsigned lost;                    /* "Qf" files: sendmail gave up on them */
        unsigned quarantined;             /* "hf" files */
        unsigned unreadable;              /* qf files without T/N/K (counted, never overdue) */
        unsigned host_files;              /* host status files read */
} SendmailScanExtra;

/* Counts the queues and reads the host status: backlog = qf files; MTA
 * queue jobs never attempted (N0) in .active, others in .deferred; the
 * client queue in .maildrop (never overdue: sendmail-msp runs it, not the
 * MTA daemon); lost + quarantined in .frozen; overdue by
 * sendmail_job_due()/sendmail_overdue(); schedule_source "qf"; the longest
 * host status wait in wait_left_usec and wait_reason. Blocks on the file
 * system: the probe runs it in a child. Returns 0 or a negative errno,
 * with the reason in REASON (a missing client queue or host status
 * directory is no error). */
int sendmail_scan_queue(const SendmailScanParams *p, QueueStats *ret, SendmailScanExtra *extra, char *reason,
                        size_t reason_size);

/* The extra line the scan child prints before the stats line, and its
 * reader: "sendmail lost=N quarantined=N unreadable=N wait_left_usec=N
 * wait=REASON\n" (REASON printable, may be empty). Returns the length /
 * 0, or -ENOBUFS / -EBADMSG. */
#define SENDMAIL_EXTRA_LINE_MAX 320
int sendmail_format_extra_line(char *buf, size_t size, const SendmailScanExtra *e, const QueueStats *q);
int sendmail_parse_extra_line(const char *s, size_t n, SendmailScanExtra *e, QueueStats *q);

/* Fills what the [mta] keys left unset from sendmail.cf (QueueDirectory,
 * HostStatusDirectory, MinQueueAge, MaxQueueAge, Timeout.hoststatus) or
 * the Debian defaults. Returns 0, -ENOMEM, or -EINVAL with ERROR. */
int sendmail_settings_finish(void *settings, char *error, size_t error_size);
