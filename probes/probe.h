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
} QueueStats;

/* Delivery activity read from the MTA's log (journal), as counters that
 * only grow while the daemon runs. See probes/activity.h. */
typedef struct ActivityCounts {
        uint64_t sent;                    /* delivered */
        uint64_t deferred;                /* attempted, temporarily failed for a remote reason */
        uint64_t bounced;                 /* attempted, permanently failed (bounced/expired) */
        uint64_t conn_errors;             /* could not connect to a peer that is not probed */
        uint64_t conn_errors_probed;      /* could not connect to a peer that a reachability
                                           * probe watches (e.g. the relayhost) */
} ActivityCounts;

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
} UnitState;

#define PROBE_REASON_MAX 256

typedef struct ProbeResult {
        ProbeStatus status;
        char reason[PROBE_REASON_MAX];    /* why FAIL or UNKNOWN; short detail when OK */
        QueueStats queue;                 /* PROBE_KIND_QUEUE and status OK only */
        ActivityCounts activity;          /* PROBE_KIND_ACTIVITY and status OK only */
        UnitState unit;                   /* PROBE_KIND_UNIT and status OK only */
} ProbeResult;

/* What a probe instance is told; fields not used by a type are ignored. */
typedef struct sd_bus sd_bus;

typedef struct ProbeSettings {
        const char *host;                 /* smtp: host name or address literal */
        uint16_t port;                    /* smtp: TCP port */
        const char *queue_directory;      /* postfix: queue_directory */
        const char *postconf_path;        /* postfix: postconf binary, default /usr/sbin/postconf */
        uint64_t overdue_slack_usec;      /* postfix: USEC_INFINITY = "auto": queue_run_delay
                                           * (postconf -h) plus one minute */
        const char *unit;                 /* journal, unit: the MTA's systemd unit */
        sd_bus *bus;                      /* unit: system bus attached to the loop (may be NULL:
                                           * the probe then reports UNKNOWN) */
        const char *mta_type;             /* journal: "postfix", "exim": built-in patterns */
        const char *activity_pattern;     /* journal: ERE or NULL for the built-in one */
        const char *error_pattern;        /* journal: ERE or NULL for the built-in one */
        const char *const *probed_hosts;  /* journal: reachability probes' hosts, NULL-terminated */
        const char *state_dir;            /* journal: where the cursor is kept (NULL: not kept) */
        const char *journal_directory;    /* journal: read this directory instead of the
                                           * system journal (tests) */
        uint64_t journal_since_usec;      /* journal: without a saved cursor, count entries
                                           * from this CLOCK_REALTIME time on (0: only new ones) */
        uint64_t timeout_usec;            /* deadline of one run */
} ProbeSettings;

typedef struct Probe Probe;
typedef void (*probe_done_fn)(Probe *p, const ProbeResult *r, void *userdata);

struct probe_ops {
        const char *type;                 /* config name: "smtp", "postfix" */
        ProbeKind kind;
        size_t state_size;                /* bytes zero-allocated at Probe.state */
        /* Checks settings and sets up state. Returns 0 or -EINVAL/-ENOMEM. */
        int (*init)(Probe *p, const ProbeSettings *s);
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

/* Creates a probe of OPS named NAME on event loop E.
 * Returns 0, -EINVAL (bad settings, logged), -ENOMEM. */
int probe_new(const struct probe_ops *ops, sd_event *e, const char *name,
              const ProbeSettings *s, Probe **ret);

/* Starts one run with a deadline of timeout_usec from now (CLOCK_MONOTONIC).
 * CB is called exactly once with the result, from the event loop; a run
 * that hits the deadline completes as "timed out after ...": FAIL for a
 * reachability probe (no answer in time is unreachable), UNKNOWN otherwise.
 * Returns 0 or a negative errno (nothing started, CB not called). */
int probe_start(Probe *p, probe_done_fn cb, void *userdata);

/* Called by implementations, once per run: ends the run, disarms the
 * deadline, and calls the owner's callback. QUEUE may be NULL. */
void probe_complete(Probe *p, ProbeStatus status, const QueueStats *queue,
                    const char *fmt, ...) _printf_(4, 5);

/* Like probe_complete(), with the whole result given (kinds whose result
 * is not QueueStats: activity, unit). */
void probe_complete_result(Probe *p, const ProbeResult *r);

/* Cancels a run in progress (no callback) and frees. Accepts NULL. */
Probe *probe_free(Probe *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Probe *, probe_free);

/* Scans a Postfix queue_directory (see probes/postfix.c for what counts,
 * how ages are estimated and when a message is overdue). Blocks on the
 * filesystem: the probe runs it in a child; exported so that tests can
 * call it directly. NOW is CLOCK_REALTIME in microseconds; SLACK is the
 * overdue slack in microseconds (USEC_INFINITY: nothing is overdue).
 * Returns 0 and fills RET (schedule_known set), or a negative errno with
 * "scan PATH: error" written to REASON (may be NULL). */
int postfix_scan_queue(const char *queue_directory, uint64_t now_realtime_usec, uint64_t slack_usec,
                       QueueStats *ret, char *reason, size_t reason_size);

extern const struct probe_ops probe_smtp_ops;
extern const struct probe_ops probe_journal_ops;   /* type "journal", PROBE_KIND_ACTIVITY */
extern const struct probe_ops probe_unit_ops;      /* type "unit", PROBE_KIND_UNIT */
extern const struct probe_ops probe_postfix_ops;
