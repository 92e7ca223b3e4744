/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "../watchdogd/macros.h"

/* One probe per file under probes/, each exporting one `const struct
 * probe_ops`. A run is asynchronous on the sd-event loop, has exactly one
 * deadline, and ends in exactly one call of probe_complete(), which calls
 * the owner's callback. Runs never overlap: starting a run while one is
 * going cancels it and reports it as UNKNOWN ("overlapped"). */

typedef enum ProbeStatus {
        PROBE_OK,
        PROBE_FAIL,      /* the thing probed answered wrongly or refused */
        PROBE_UNKNOWN,   /* we could not tell: local error, a queue or unit probe timed out */
        _PROBE_STATUS_MAX,
} ProbeStatus;

const char *probe_status_to_string(ProbeStatus s);

/* Why a run ended as it did, next to the free-text reason, so that logs,
 * metrics and alerts can name causes uniformly (in the manner of relayd's
 * `enum host_error`). */
typedef enum ProbeOutcome {
        PROBE_OUTCOME_OK,                 /* the run succeeded */
        PROBE_OUTCOME_TIMEOUT,            /* no answer within the run's deadline */
        PROBE_OUTCOME_REFUSED,            /* connection refused or reset by the peer */
        PROBE_OUTCOME_UNREACHABLE,        /* no route, network unreachable, no address to try */
        PROBE_OUTCOME_GREETING_REJECTED,  /* an SMTP greeting other than 220 (RFC 5321 4.2, 3.1) */
        PROBE_OUTCOME_PROTOCOL_ERROR,     /* a malformed or over-long reply, or the peer closed early */
        PROBE_OUTCOME_DNS_FAILURE,        /* the name did not resolve */
        PROBE_OUTCOME_PERMISSION,         /* EACCES/EPERM on a file, or access denied on the bus */
        PROBE_OUTCOME_PARSE_ERROR,        /* an answer or a helper's output we cannot read */
        PROBE_OUTCOME_LOCAL_ERROR,        /* any other failure on our side (socket, fork, no bus) */
        PROBE_OUTCOME_OVERLAPPED,         /* cancelled by the next run */
        _PROBE_OUTCOME_MAX,
} ProbeOutcome;

/* "ok", "timeout", "refused", "unreachable", "greeting-rejected",
 * "protocol-error", "dns-failure", "permission", "parse-error",
 * "local-error", "overlapped"; NULL for a value out of range. */
const char *probe_outcome_to_string(ProbeOutcome o);

/* The outcome of a failed system call: ERR is a negative (or positive)
 * errno value (ECONNREFUSED → refused, ETIMEDOUT → timeout, EACCES →
 * permission, ...); anything unlisted is PROBE_OUTCOME_LOCAL_ERROR. */
ProbeOutcome probe_outcome_from_errno(int err);

typedef enum ProbeKind {
        PROBE_KIND_REACHABILITY,  /* fills only status and reason */
        PROBE_KIND_QUEUE,         /* fills ProbeResult.queue when OK */
        PROBE_KIND_ACTIVITY,      /* fills ProbeResult.activity when OK */
        PROBE_KIND_UNIT,          /* fills ProbeResult.unit when OK */
} ProbeKind;

#define QUEUE_ID_MAX 64

/* A snapshot of an MTA queue. Ages are in microseconds. */
typedef struct QueueStats {
        unsigned backlog;                 /* incoming + active + deferred + maildrop */
        unsigned incoming, active, deferred, maildrop;
        uint64_t oldest_age_usec;         /* age of the oldest message in the backlog, 0 if empty */
        char oldest_id[QUEUE_ID_MAX];     /* its queue id (file name), "" if empty */
        /* The MTA's own schedule (Postfix: a deferred file's mtime is its
         * next delivery attempt, qmgr(8)). A message is overdue when that
         * time passed more than overdue_slack ago; a message in incoming,
         * active or maildrop is overdue when it has sat there longer than
         * overdue_slack. */
        bool schedule_known;              /* the probe reads a schedule: overdue is meaningful */
        unsigned overdue;                 /* overdue messages */
        uint64_t most_overdue_usec;       /* how far past due the most overdue one is, 0 if none */
        /* The overdue_slack this scan used. The schedule is read against
         * CLOCK_REALTIME, which a clock step moves: the detector counts
         * overdue messages only once it has seen some for this long on
         * CLOCK_MONOTONIC (README "How it decides"). */
        uint64_t slack_usec;
        /* Where the schedule came from, for status and alerts: "file-times"
         * (Postfix: deferred files' mtimes), "retry-db" (Exim's retry hints
         * database), "msglog" (Exim without the database: per-message log
         * mtimes), "qf" (Sendmail: the K, T and N lines of its qf files),
         * "envelope" (OpenSMTPD's envelope files, the generic profile);
         * "" when schedule_known is false. */
        char schedule_source[16];
        /* Frozen messages (Exim: a "-frozen" line in the -H file; Sendmail:
         * lost "Qf" and quarantined "hf" files): not in backlog, the MTA
         * does not try them until an admin thaws them. */
        unsigned frozen;
        /* Deliveries that have held a message's lock longer than the
         * hung-delivery threshold (Exim: the -D file's fcntl lock, holder
         * from F_GETLK): how many, and the longest-running one. */
        unsigned hung;
        uint32_t hung_pid;                /* its process, 0 if none */
        char hung_id[QUEUE_ID_MAX];       /* the message it holds, "" if none */
        uint64_t hung_age_usec;           /* how long it has run, microseconds */
        /* How much longer the MTA waits by a rule of its own before it
         * tries again (Sendmail: a relay's failed host status, trusted for
         * Timeout.hoststatus, probes/sendmail.c), microseconds; 0: none.
         * No stall is detected while it is > 0 (README "How it decides"). */
        uint64_t wait_left_usec;
        char wait_reason[128];            /* what it waits for, as the MTA recorded it; "" if none */
} QueueStats;

/* Why a delivery failed, as told by the MTA's log line (the cause
 * class). The MTA profile's rules (probes/activity.h, ActivityRules.causes)
 * map lines to classes; README "How it decides" says which a restart can
 * fix. */
typedef enum FailureCause {
        CAUSE_NONE,                /* not a failure (delivered), or no rule matched */
        CAUSE_DEFERRED_REMOTE,     /* the peer answered and refused: 4xx/5xx, dropped the line */
        CAUSE_CONNECT_FAILURE,     /* connect refused, timed out, no route */
        CAUSE_DNS_FAILURE,         /* the peer's name or MX did not resolve */
        CAUSE_TLS_FAILURE,         /* the TLS handshake or certificate check failed */
        CAUSE_PROTOCOL_TIMEOUT,    /* the peer went silent after the greeting */
        CAUSE_LOCAL_RESOURCE,      /* disk full, permission denied, out of memory here */
        CAUSE_MTA_INTERNAL,        /* the MTA's own agent crashed or is misconfigured */
        _CAUSE_MAX,
} FailureCause;

/* "none", "deferred-remote", "connect-failure", "dns-failure",
 * "tls-failure", "protocol-timeout", "local-resource", "mta-internal";
 * NULL for a value out of range. */
const char *failure_cause_to_string(FailureCause c);

/* Delivery activity read from the MTA's log (journal), as counters that
 * only grow while the daemon runs. See probes/activity.h. Every counted
 * line adds to exactly one of sent, deferred, bounced, conn_errors,
 * conn_errors_probed, completed, queue_runs and started; a failure also to failures[its cause], and a failure
 * a restart can fix (the peer is one our probes reach) also to fixable[]. */
typedef struct ActivityCounts {
        uint64_t sent;                    /* delivered */
        uint64_t deferred;                /* attempted, temporarily failed */
        uint64_t bounced;                 /* attempted, permanently failed (bounced/expired) */
        uint64_t conn_errors;             /* could not connect to a peer that is not probed */
        uint64_t conn_errors_probed;      /* could not connect to a peer that a reachability
                                           * probe watches (e.g. the relayhost) */
        uint64_t failures[_CAUSE_MAX];    /* failed lines by cause ([CAUSE_NONE]: no rule matched) */
        uint64_t bounced_by_cause[_CAUSE_MAX]; /* the bounced ones among them */
        uint64_t fixable[_CAUSE_MAX];     /* the failures among them that a restart may fix:
                                           * reaching or resolving a probed peer, the MTA's
                                           * internal errors */
        uint64_t mta_log;                 /* the MTA's own fatal/panic/warning lines */
        uint64_t mta_errors;              /* those among them that say its own agent failed
                                           * (class mta-internal; a restart may fix it) */
        uint64_t completed;               /* messages that left the queue (Exim "Completed"):
                                           * mail delivered, like sent and bounced */
        uint64_t queue_runs;              /* queue runners started (Exim "Start queue run"): the
                                           * runner is alive; no attempt, not progress */
        uint64_t started;                 /* deliveries begun whose outcome a later line tells
                                           * (the generic profile's started_pattern, nullmailer
                                           * "Starting delivery: ..."); not progress by itself */
} ActivityCounts;

/* What the activity source keeps of the lines behind the counters, for
 * alerts: per cause the peer and the first and last line of its current
 * run (a run ends after ACTIVITY_RUN_QUIET_USEC without such a line), and
 * the MTA's last fatal/panic/warning lines. Times are CLOCK_MONOTONIC,
 * microseconds, when the line was read. */
#define ACTIVITY_LINE_MAX 240
#define ACTIVITY_PEER_MAX 96
#define ACTIVITY_MTA_LOG_MAX 4
#define ACTIVITY_RUN_QUIET_USEC (600ULL * 1000000ULL)

typedef struct CauseSample {
        uint64_t first_usec, last_usec;   /* 0: none seen */
        char peer[ACTIVITY_PEER_MAX];     /* of the last line, as the MTA names it ("" if none) */
        bool probed;                      /* that peer is one our probes reach */
        char first[ACTIVITY_LINE_MAX], last[ACTIVITY_LINE_MAX];
} CauseSample;

typedef struct MtaLogLine {
        uint64_t seq;                     /* 1, 2, ... in the order read; 0: empty slot */
        uint64_t usec;
        char line[ACTIVITY_LINE_MAX];
} MtaLogLine;

typedef struct ActivitySamples {
        CauseSample causes[_CAUSE_MAX];
        MtaLogLine mta_log[ACTIVITY_MTA_LOG_MAX]; /* a ring, the newest at (seq - 1) % MAX */
        /* The open start: the last "started" line (ActivityCounts.started)
         * with no outcome line (sent, deferred, bounced, connection error)
         * read since. CLOCK_MONOTONIC when it was read, 0: none open. A
         * sender wedged after it (nullmailer, README "The generic profile")
         * leaves it open. */
        uint64_t open_start_usec;
        char open_start_line[ACTIVITY_LINE_MAX];
        char open_start_peer[ACTIVITY_PEER_MAX]; /* its first capture group ("" if none): the
                                                  * peer of outcome lines that name none */
} ActivitySamples;

/* What the MTA's liveness allows the detector to conclude; the unit probe
 * judges it from the unit's state and, where the MTA type has one, its
 * PID file (probes/unit.c). */
typedef enum UnitGate {
        UNIT_GATE_UNKNOWN,      /* not observed (yet) */
        UNIT_GATE_RUNNING,      /* active, and its MainPID (if it has one) and the daemon of its
                                 * PID file (if it has one) exist */
        UNIT_GATE_TRANSITION,   /* activating, deactivating, reloading, or MainPID gone: wait */
        UNIT_GATE_STOPPED,      /* inactive: stopped by someone, not ours to restart */
        UNIT_GATE_FAILED,       /* failed: reported, not restarted (systemd's own policy applies) */
        UNIT_GATE_DEAD,         /* active, but the daemon of its PID file is gone (a sysv-generated
                                 * unit stays "active (exited)"): the MTA failed; restarted within
                                 * the budget (README "When the daemon dies") */
        _UNIT_GATE_MAX,
} UnitGate;

/* "unknown", "running", "transition", "stopped", "failed", "dead". */
const char *unit_gate_to_string(UnitGate g);

/* State of the MTA's systemd unit (org.freedesktop.systemd1(5)). */
#define UNIT_FIELD_MAX 32
typedef struct UnitState {
        char active_state[UNIT_FIELD_MAX];  /* "active", "inactive", "failed", "activating", ... */
        char sub_state[UNIT_FIELD_MAX];     /* "running", "dead", ... */
        char result[UNIT_FIELD_MAX];        /* "success", "start-limit-hit", ... ("" if not a service) */
        uint32_t main_pid;                  /* 0 when none (Debian's postfix@.service has none) */
        bool main_pid_alive;                /* main_pid != 0 and the process exists */
        /* systemd's own start rate limit (systemd.unit(5) StartLimitBurst=,
         * StartLimitIntervalSec=): at most burst starts per interval; 0: none. */
        uint32_t start_limit_burst;
        uint64_t start_limit_interval_usec;
        /* The daemon's PID file (sysv-generated units have no MainPID): */
        bool have_pid_file;                 /* the MTA type names one */
        uint32_t pid_file_pid;              /* the PID read from it, 0: missing or unreadable */
        bool pid_file_alive;                /* that process exists and is the daemon (its
                                             * /proc/PID/exe is the profile's daemon_exe) */
        UnitGate gate;                      /* the judgement of all of the above */
} UnitState;

#define PROBE_REASON_MAX 256

typedef struct ProbeResult {
        ProbeStatus status;
        ProbeOutcome outcome;             /* the cause of FAIL or UNKNOWN, PROBE_OUTCOME_OK when OK */
        char reason[PROBE_REASON_MAX];    /* why FAIL or UNKNOWN; short detail when OK */
        QueueStats queue;                 /* PROBE_KIND_QUEUE and status OK only */
        ActivityCounts activity;          /* PROBE_KIND_ACTIVITY and status OK only */
        ActivitySamples samples;          /* PROBE_KIND_ACTIVITY and status OK only */
        UnitState unit;                   /* PROBE_KIND_UNIT and status OK only */
} ProbeResult;

typedef struct ConfigItem ConfigItem;
typedef struct ConfigContext ConfigContext;
struct MtaProfile;

/* What every probe instance is told; what only its type needs comes in
 * the type's own settings struct (SmtpSettings, UnitSettings, ...,
 * declared by the probe's header), given to probe_new() as SETTINGS. */
typedef struct ProbeCommon {
        const char *name;                 /* for logs: "relay", "queue", ... */
        sd_event *event;                  /* the loop the probe runs on */
        uint64_t timeout_usec;            /* deadline of one run, microseconds */
} ProbeCommon;

typedef struct Probe Probe;
typedef void (*probe_done_fn)(Probe *p, const ProbeResult *r, void *userdata);

struct probe_ops {
        const char *type;                 /* config name: "smtp", "postfix" */
        ProbeKind kind;
        size_t state_size;                /* bytes zero-allocated at Probe.state */

        /* The type's own settings, for types an admin configures in a
         * [probe:NAME] section (reachability): a struct of settings_size
         * bytes with the defaults from settings_init(), filled from the
         * section by config_items (see watchdogd/conf-parser.h; NULL-key
         * terminated), its allocations freed by settings_done(). 0/NULL
         * for types the daemon sets up itself. */
        size_t settings_size;
        const ConfigItem *config_items;
        void (*settings_init)(void *settings);
        void (*settings_done)(void *settings);
        /* Reachability: the host SETTINGS probe (name or address as
         * configured), with which the MTA's connection errors are
         * compared (probes/activity.h); NULL: none. */
        const char *(*settings_host)(const void *settings);
        /* Completes SETTINGS once the file is read and the MTA is known
         * (config load, SIGHUP): values that depend on the MTA, such as
         * resolv_conf = auto (probes/dns.c), and rules across keys.
         * PROF and MTA_SETTINGS: the configured MTA's (finished). Errors
         * go through config_error(CTX, line, key, ...) with CTX naming
         * the section, SECTION_LINE its header. Returns 0, -EINVAL,
         * -ENOMEM. NULL: nothing to do. */
        int (*settings_finish)(ConfigContext *ctx, unsigned section_line, void *settings,
                               const struct MtaProfile *prof, const void *mta_settings);
        /* Advice on finished SETTINGS, for --check-config and the log at
         * start (config_advice()): "KEY: text" or NULL when none. */
        const char *(*settings_advice)(const void *settings);

        /* Checks SETTINGS (the type's struct) and sets up state.
         * Returns 0 or -EINVAL (logged)/-ENOMEM. */
        int (*init)(Probe *p, const void *settings);
        /* Begins one run; must end with probe_complete() (possibly later on
         * the loop) or return a negative errno without having called it. */
        int (*start)(Probe *p);
        /* Releases what the run in progress holds; no completion follows. */
        void (*cancel)(Probe *p);
        /* Frees state contents (not the state block itself). */
        void (*done)(Probe *p);
};

struct Probe {
        const struct probe_ops *ops;
        char *name;
        sd_event *event;
        uint64_t timeout_usec;
        bool running;
        sd_event_source *deadline;
        probe_done_fn cb;
        void *userdata;
        void *state;
};

/* Registry: the probe_ops for a type name, or NULL. */
const struct probe_ops *probe_ops_find(const char *type);

/* Creates a probe of OPS as COMMON says, with SETTINGS of the type's own
 * settings struct. Returns 0, -EINVAL (bad settings, logged), -ENOMEM. */
int probe_new(const struct probe_ops *ops, const ProbeCommon *common, const void *settings, Probe **ret);

/* Starts one run with a deadline of timeout_usec from now (CLOCK_MONOTONIC).
 * CB is called exactly once with the result, from the event loop; a run
 * that hits the deadline completes as "timed out after ...": FAIL for a
 * reachability probe (no answer in time is unreachable), UNKNOWN otherwise.
 * Returns 0 or a negative errno (nothing started, CB not called). */
int probe_start(Probe *p, probe_done_fn cb, void *userdata);

/* Called by implementations, once per run: ends the run, disarms the
 * deadline, and calls the owner's callback. OUTCOME is PROBE_OUTCOME_OK
 * with PROBE_OK, else the cause. QUEUE may be NULL. */
void probe_complete(Probe *p, ProbeStatus status, ProbeOutcome outcome, const QueueStats *queue,
                    const char *fmt, ...) _printf_(5, 6);

/* Like probe_complete(), with the whole result given (kinds whose result
 * is not QueueStats: activity, unit). */
void probe_complete_result(Probe *p, const ProbeResult *r);

/* Cancels a run in progress (no callback) and frees. Accepts NULL. */
Probe *probe_free(Probe *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Probe *, probe_free);

/* Every registered type, NULL-terminated (for tests that run each type
 * through the common rules). */
extern const struct probe_ops *const probe_ops_table[];
