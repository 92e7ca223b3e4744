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
        PROBE_UNKNOWN,   /* we could not tell: timeout, local error */
        _PROBE_STATUS_MAX,
} ProbeStatus;

const char *probe_status_to_string(ProbeStatus s);

typedef enum ProbeKind {
        PROBE_KIND_REACHABILITY,  /* fills only status and reason */
        PROBE_KIND_QUEUE,         /* fills ProbeResult.queue when OK */
} ProbeKind;

#define QUEUE_ID_MAX 64

/* A snapshot of an MTA queue. Ages are in microseconds. */
typedef struct QueueStats {
        unsigned backlog;                 /* incoming + active + deferred + maildrop */
        unsigned incoming, active, deferred, maildrop;
        uint64_t oldest_age_usec;         /* age of the oldest message in the backlog, 0 if empty */
        char oldest_id[QUEUE_ID_MAX];     /* its queue id (file name), "" if empty */
} QueueStats;

#define PROBE_REASON_MAX 256

typedef struct ProbeResult {
        ProbeStatus status;
        char reason[PROBE_REASON_MAX];    /* why FAIL or UNKNOWN; short detail when OK */
        QueueStats queue;                 /* PROBE_KIND_QUEUE and status OK only */
} ProbeResult;

/* What a probe instance is told; fields not used by a type are ignored. */
typedef struct ProbeSettings {
        const char *host;                 /* smtp: host name or address literal */
        uint16_t port;                    /* smtp: TCP port */
        const char *queue_directory;      /* postfix: queue_directory */
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
 * that hits the deadline completes as UNKNOWN "timed out after ...".
 * Returns 0 or a negative errno (nothing started, CB not called). */
int probe_start(Probe *p, probe_done_fn cb, void *userdata);

/* Called by implementations, once per run: ends the run, disarms the
 * deadline, and calls the owner's callback. QUEUE may be NULL. */
void probe_complete(Probe *p, ProbeStatus status, const QueueStats *queue,
                    const char *fmt, ...) _printf_(4, 5);

/* Cancels a run in progress (no callback) and frees. Accepts NULL. */
Probe *probe_free(Probe *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Probe *, probe_free);

/* Scans a Postfix queue_directory (see probes/postfix.c for what counts
 * and how ages are estimated). Blocks on the filesystem: the probe runs it
 * in a child; exported so that tests can call it directly. NOW is
 * CLOCK_REALTIME in microseconds. Returns 0 and fills RET, or a negative
 * errno with "scan PATH: error" written to REASON (may be NULL). */
int postfix_scan_queue(const char *queue_directory, uint64_t now_realtime_usec, QueueStats *ret,
                       char *reason, size_t reason_size);

extern const struct probe_ops probe_smtp_ops;
extern const struct probe_ops probe_postfix_ops;
