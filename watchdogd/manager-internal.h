/* SPDX-License-Identifier: MIT */
#pragma once

/* What the parts of the manager share; not installed, not for tests.
 * manager.c: lifecycle (new, run, free), signals, the state directory.
 * manager-round.c: the probes and one probe round up to the detector.
 * manager-remediate.c: the detector's output: events, flush and restart.
 * manager-publish.c: alerts, STATUS=, the metrics file, journal lines.
 * manager-once.c: the verdict of --once. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "alert.h"
#include "clock-watch.h"
#include "config.h"
#include "detector.h"
#include "exec.h"
#include "manager.h"
#include "metrics.h"
#include "probe.h"
#include "systemd.h"

/* One reachability or queue probe and the result of its current round. */
typedef struct ProbeSlot {
        Probe *probe;
        ProbeResult result;
        bool done;          /* result belongs to the current round */
        bool ignore_next;   /* the next completion is an overlapped run of the previous round */
        ProbeStatus last_status;
        bool have_last;
} ProbeSlot;

/* Everything the daemon owns; no global mutable state. */
struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config *config;
        Alerter *alerter;

        ProbeSlot *slots;        /* reachability probes, then queue, activity and unit */
        size_t n_slots;
        size_t n_reach;          /* reachability probes: slots[0..n_reach) */
        const char **probed_hosts; /* their hosts, NULL-terminated, for the activity probe */
        size_t pending;          /* probes of the current round still running */
        uint64_t round_started_usec;
        sd_event_source *tick;
        ClockWatch *clock_watch;   /* steps of the realtime clock (not with --once) */

        Detector detector;
        DetectorParams params;
        Observation last_obs;

        UnitRestart *restart;    /* action in progress, at most one (restart, or the wait for
                                  * no pending job before a flush) */
        ExecRun *flush;
        ActionType running_action;
        char action_detail[640];
        char restart_job[UNIT_JOB_PATH_MAX]; /* our restart job while it is pending, "" else:
                                              * saved, so a restarted daemon waits for it */
        /* A restart verified through the MTA's PID file (pid_file): the PID
         * in it before the restart (0: none), and while its job has ended,
         * the wait for a new one. */
        uint32_t old_daemon_pid;
        sd_event_source *pid_wait;
        uint64_t pid_wait_until_usec;        /* CLOCK_MONOTONIC */
        /* kill_hung_deliveries: the one hung delivery being ended
         * (manager-hung.c): the check before a signal, the grace timer
         * before SIGKILL, the process (and a pidfd of it, opened before the
         * first check), its message and the next signal. */
        ExecRun *hung_check;
        sd_event_source *hung_timer;
        uint32_t hung_pid;
        int hung_pidfd;                      /* -EBADF when none */
        char hung_id[QUEUE_ID_MAX];
        int hung_sig;

        char incident[UUID_STRING_MAX];
        uint64_t state_since_usec;   /* CLOCK_MONOTONIC: when the detector entered its state */

        /* For the metrics file; counted since the daemon started. */
        bool have_round;             /* the probes of this config finished a round */
        uint64_t last_round_usec;    /* CLOCK_REALTIME end of the last round, 0: none */
        uint64_t restarts_total;
        uint64_t actions_total[_ACTION_TYPE_MAX][2]; /* [action][0 succeeded, 1 failed] */
        uint64_t incidents_total;
        bool metrics_failing;        /* the last write failed: repeats are logged at debug */

        ManagerOptions options;
        int lock_fd;             /* flock(2) on state_dir/lock: one daemon per state directory */
        int once_verdict;        /* OnceVerdict of the --once round */
};

/* manager.c */

/* The event loop's time of this iteration, CLOCK_MONOTONIC / CLOCK_REALTIME
 * microseconds (0 if it cannot be read). */
uint64_t now_monotonic(Manager *m);
uint64_t now_realtime(Manager *m);

/* Writes the detector's state and restart budget to the state directory
 * (nothing in a dry run). A failure is logged and ignored. */
void manager_save_state(Manager *m);

/* manager-round.c */

/* The MTA's own probes follow the reachability probes, in this order. */
enum { SLOT_QUEUE, SLOT_ACTIVITY, SLOT_UNIT, _SLOT_MTA_MAX };

/* The number of reachability probes (slots[0..n)). */
size_t n_reach_slots(const Manager *m);

/* The MTA's probe WHICH (SLOT_QUEUE, SLOT_ACTIVITY or SLOT_UNIT). */
ProbeSlot *mta_slot(Manager *m, int which);

/* The probes of one configuration; built whole before it replaces another. */
typedef struct ProbeSet {
        ProbeSlot *slots;
        size_t n_slots, n_reach;
        const char **probed_hosts;
} ProbeSet;

/* Frees the probes of PS and empties it; an empty PS is fine. */
void probe_set_done(ProbeSet *ps);

/* Builds the probes of CONFIG into *RET: its reachability probes, then the
 * MTA's queue, activity and unit probes. Returns 0, or -EINVAL for a probe
 * of the wrong kind or an MTA type without a queue probe, -ENOMEM, or the
 * negative errno of a probe that cannot be set up; logged, and nothing is
 * left allocated. */
int probe_set_build(Manager *m, const Config *config, ProbeSet *ret);

/* Replaces the manager's probes by those of PS (emptied); a round in
 * progress ends with the old ones. */
void manager_take_probes(Manager *m, ProbeSet *ps);

/* The probe timer (sd_event_time_handler_t): ends a round still running,
 * starts the next one and re-arms for interval. Returns 0, or the negative
 * errno of a timer that cannot be re-armed (logged). */
int on_tick(sd_event_source *s, uint64_t usec, void *userdata);

/* manager-remediate.c */

/* Acts on what the detector decided: incident ids, journal lines, alerts,
 * the state file, the action to start, then the status and metrics. */
void handle_output(Manager *m, const DetectorOutput *out);

/* After a restart of the daemon whose state file names a pending restart
 * job (JOB, a systemd job object path; SLOW: action.slow was sent): waits
 * for that job instead of verifying or restarting again, and the detector
 * stays REMEDIATING. Returns 0, or a negative errno (logged) and nothing
 * changed: the detector verifies as after any restart of the daemon. */
int manager_resume_restart(Manager *m, const char *job, bool slow);
/* After a restart of this daemon: our RestartUnit was called but its
 * answer never came (no job in state.json). When the PID file still names
 * OLD_PID and that process lives, systemd never ran it (a caller gone
 * before polkit answered has its call dropped): it is called again, in
 * the same step and without counting it again. Returns 1 when called
 * again, 0 when the daemon changed (verified as usual), -ESTALE when the
 * step is not a restart, or a negative errno. */
int manager_reissue_restart(Manager *m, uint32_t old_pid);

/* Connects to the system bus once. Returns 0, or the negative errno of
 * sd_bus_open_system() or sd_bus_attach_event(), logged in one line that
 * names the bus address (with --once at warning, saying the unit's state
 * is unknown). */
int ensure_bus(Manager *m);

/* manager-hung.c */

/* kill_hung_deliveries: ends delivery process PID, which held message ID
 * past the queue probe's threshold: SIGTERM, then SIGKILL after
 * HUNG_GRACE_USEC, each only after a check in a child that PID still
 * holds that message's lock (MtaProfile.lock_holder) and does not run
 * another program than the MTA's (/proc/PID/exe). One at a time; each step
 * is logged. */
void manager_kill_hung(Manager *m, uint32_t pid, const char *id);

/* Stops a kill in progress (exit, reload). */
void manager_kill_hung_stop(Manager *m);

/* manager-publish.c */

/* Queues an alert of KIND for the detector's STATE, with ACTION (negative: none)
 * and SUMMARY. A failure is logged, the alert is lost. */
void send_event(Manager *m, EventKind kind, DetectorState state, ActionType action, const char *summary);
/* The same about CAUSE (CAUSE_NONE: none) at PEER (NULL: the cause's last
 * peer): details.cause gets its class, sample lines and, for DNS, the
 * MTA's resolver view (MtaProfile.resolver_view). */
void send_event_cause(Manager *m, EventKind kind, DetectorState state, ActionType action, const char *summary,
                      FailureCause cause, const char *peer);

/* After a round, a state change or a reload: the status line and the
 * metrics file. */
void manager_publish(Manager *m);

/* Logs transition T with its journal fields. */
void manager_log_transition(Manager *m, const Transition *t);

/* manager-once.c */

/* --once: judges OBS into m->once_verdict and prints it on stdout, as
 * text or (options.json) JSON. */
void manager_print_once(Manager *m, const Observation *obs);
