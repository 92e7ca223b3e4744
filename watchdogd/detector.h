/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "probe.h"

/* The detector: a pure state machine. What it decides, its states and its
 * transitions are described in README "How it decides".
 * No I/O and no clock reads: every call takes `now`, a CLOCK_MONOTONIC
 * time in microseconds, and the caller turns the output into logs, alerts
 * and actions. The one exception is a bug: a transition missing from the
 * transition table (below) is logged at error level (and asserted in builds
 * without NDEBUG). */

typedef enum DetectorState {
        DETECTOR_HEALTHY,
        DETECTOR_OUTAGE,       /* reachability DOWN */
        DETECTOR_RECOVERING,   /* reachability back UP, restore_grace running */
        DETECTOR_STALLED,      /* passed through within one step, on the way to an action */
        DETECTOR_REMEDIATING,  /* an action is running; waiting for detector_action_done() */
        DETECTOR_VERIFYING,    /* action done, looking for progress within verify_after */
        DETECTOR_GAVE_UP,      /* ladder or restart budget exhausted; no action until progress */
        _DETECTOR_STATE_MAX,
} DetectorState;

const char *detector_state_to_string(DetectorState s); /* "HEALTHY", ... */

typedef enum Reachability {
        REACH_UNKNOWN,
        REACH_UP,
        REACH_DOWN,
        _REACH_MAX,
} Reachability;

const char *reachability_to_string(Reachability r); /* "unknown", "up", "down" */

/* The observations whose unknown episodes are alerted, each on its own. */
typedef enum UnknownPart {
        UNKNOWN_PART_QUEUE,
        UNKNOWN_PART_UNIT,
        UNKNOWN_PART_ACTIVITY,
        _UNKNOWN_PART_MAX,
} UnknownPart;

/* Upper bound of Config.max_restarts the detector can track. */
#define DETECTOR_RESTARTS_MAX MAX_RESTARTS_LIMIT

typedef struct DetectorParams {
        unsigned fail_threshold;        /* failures in a row before DOWN, >= 1 */
        unsigned ok_threshold;          /* successes in a row before UP, >= 1 */
        uint64_t restore_grace_usec;
        uint64_t stall_after_usec;
        uint64_t verify_after_usec;
        unsigned min_backlog;
        ActionType actions[ACTIONS_MAX];
        size_t n_actions;
        unsigned max_restarts;          /* <= DETECTOR_RESTARTS_MAX */
        uint64_t restart_window_usec;
        uint64_t unknown_alert_after_usec; /* observation.unknown after this long unknown */
        uint64_t outage_alert_after_usec;  /* outage.* alerts only for outages at least this long */
        uint64_t giveup_holddown_usec;     /* GAVE_UP lasts at most this long without progress */
        uint64_t degraded_after_usec;      /* failures a restart cannot fix, for this long in a
                                            * row: delivery.degraded */
        bool flush_on_restore;             /* one flush when an outage ends */
        bool kill_hung_deliveries;         /* ask for hung deliveries to be ended */
        /* The rule without a schedule (MtaProfile.conservative, the generic
         * profile): a stall also needs the oldest message to be older than
         * stall_after. */
        bool conservative;
        /* A delivery started (ActivitySamples.open_start_usec) and without
         * an outcome for this long is a wedged sender: a stall that goes
         * straight to the ladder's restart; a younger one is a delivery
         * in progress, no stall. 0: open starts count for nothing. */
        uint64_t hung_start_after_usec;
} DetectorParams;

/* Copies the detector's settings out of a loaded config. */
void detector_params_from_config(DetectorParams *p, const Config *c);

/* One probe round. */
typedef struct Observation {
        ProbeStatus reach;          /* combined reachability: FAIL if any probe failed, OK if all
                                     * answered OK (or none is configured), else UNKNOWN */
        ProbeStatus queue_status;   /* OK: `queue` is valid; anything else: unknown this round */
        QueueStats queue;
        ProbeStatus activity_status;/* OK: `activity` and `samples` are valid (counters since the probe began) */
        ActivityCounts activity;
        ActivitySamples samples;    /* the lines behind the counters (peers, sample lines) */
        ProbeStatus unit_status;    /* OK: `unit` is valid; unit.gate is the liveness verdict */
        UnitState unit;
} Observation;

#define DETECTOR_MTA_LOG_MAX 3

/* Rounds in a row the unit must be judged UNIT_GATE_DEAD before the daemon
 * counts as dead: an MTA's daemon writes its PID file a moment after the
 * start job of a sysv-generated unit ends (it forks into the background
 * first), so one round can see an active unit without it. */
#define DETECTOR_DEAD_ROUNDS 2

typedef struct Detector {
        DetectorState state;
        Reachability reach;
        unsigned fail_streak, ok_streak;
        uint64_t reach_since_usec;      /* when `reach` took its current value */

        bool have_queue;                /* a queue snapshot was seen */
        unsigned last_backlog;
        char last_oldest_id[QUEUE_ID_MAX];
        uint64_t last_progress_usec;    /* last time the queue moved, the MTA attempted a
                                         * delivery, or the backlog was below min_backlog */
        bool have_activity;
        ActivityCounts last_activity;
        ActivityCounts incident_activity; /* counters when the incident began */
        uint64_t last_delivery_usec;    /* last time mail left the queue: sent or bounced
                                         * logged, the backlog shrank, or nothing to deliver */
        uint64_t last_fixable_usec;     /* last failure a restart may fix (see ActivityCounts)
                                         * seen while reachability was UP (0: none) */
        FailureCause fixable_cause;     /* its cause class */
        char fixable_peer[ACTIVITY_PEER_MAX];

        /* The cause of the open incident: what made it stall (CAUSE_NONE:
         * nothing attempted although mail was overdue), and after a failed
         * verification what the MTA logged instead of deliveries. */
        FailureCause incident_cause;
        char incident_peer[ACTIVITY_PEER_MAX];
        FailureCause gave_up_cause;     /* GAVE_UP for this cause: its failures extend the
                                         * hold-down (CAUSE_NONE: none named) */
        ActivityCounts step_activity;   /* counters when the action of `step` ended */
        uint64_t incident_started_usec;

        /* Failures a restart cannot fix, in a row (delivery.degraded). */
        uint64_t degraded_since_usec, degraded_last_usec; /* 0: none going on */
        FailureCause degraded_cause;
        char degraded_peer[ACTIVITY_PEER_MAX];
        bool degraded_alerted;

        /* The MTA's own fatal/panic/warning lines of the open incident, the
         * first DETECTOR_MTA_LOG_MAX of them (from stall_after before it
         * opened). */
        char incident_log[DETECTOR_MTA_LOG_MAX][ACTIVITY_LINE_MAX];
        size_t n_incident_log;
        uint64_t incident_log_seq;      /* the last MtaLogLine.seq looked at */
        uint64_t overdue_since_usec;    /* since when every answer of the queue probe has
                                         * reported overdue messages (0: the last did not);
                                         * restarted by detector_clock_stepped() */

        UnitGate unit_gate;
        unsigned dead_rounds;           /* rounds in a row with UNIT_GATE_DEAD */
        bool died_alerted;              /* mta.died sent for this death */
        bool died_incident;             /* the open incident restarts a dead daemon: verified
                                         * by the daemon running again, not by deliveries */
        bool restore_flush;             /* the flush of flush_on_restore is running */
        uint64_t restore_flushes_usec[DETECTOR_RESTARTS_MAX]; /* their times, oldest first */
        size_t n_restore_flushes;
        uint32_t hung_reported_pid;     /* delivery.hung sent for this holder (0: none) */
        uint64_t hung_start_usec;       /* the open start (ActivitySamples.open_start_usec) a
                                         * stall was detected for: not again (0: none) */
        uint32_t start_limit_burst;         /* last seen from the unit, 0: unknown or none */
        uint64_t start_limit_interval_usec;

        /* Since when each observation has been unknown without a break (0: known). */
        uint64_t queue_unknown_since_usec, unit_unknown_since_usec, activity_unknown_since_usec;
        bool unknown_alerted[_UNKNOWN_PART_MAX];        /* observation.unknown sent for this episode, per UnknownPart */

        bool outage_alerted;            /* outage.started was sent for this outage */
        uint64_t gave_up_usec;          /* when GAVE_UP was entered */

        size_t step;                    /* ladder index of the action running or verified */
        uint64_t step_started_usec;
        bool action_slow;               /* action.slow was sent for the running step */

        uint64_t restarts_usec[DETECTOR_RESTARTS_MAX]; /* times of restarts, oldest first */
        size_t n_restarts;

        bool incident_open;
        bool open_incident;             /* the next transition opens an incident even if it
                                         * stays HEALTHY (mta.died before its restart) */
        uint64_t now_usec;              /* of the call being handled */
} Detector;

#define DETECTOR_REASON_MAX 200
#define DETECTOR_TRANSITIONS_MAX 10

typedef struct Transition {
        DetectorState from, to;
        EventKind event;                /* the alert this transition raises, or _EVENT_KIND_INVALID */
        ActionType action;              /* for action.* events, else _ACTION_TYPE_INVALID */
        bool opens_incident;            /* an incident begins with this transition */
        bool closes_incident;           /* the incident ends with this transition */
        FailureCause cause;             /* what the event is about (CAUSE_NONE: no class known) */
        char peer[ACTIVITY_PEER_MAX];   /* the peer of that cause, "" if none */
        char reason[DETECTOR_REASON_MAX];
} Transition;

/* One allowed transition: FROM to TO, raising EVENT (_EVENT_KIND_INVALID:
 * none). FROM equal to TO reports something without a state change. */
typedef struct DetectorTransitionRule {
        DetectorState from, to;
        EventKind event;
} DetectorTransitionRule;

/* The table of every transition the detector records, read-only: returns
 * its first row and sets *N to the number of rows. Each Transition in a
 * DetectorOutput matches a row in from, to and event. */
const DetectorTransitionRule *detector_transition_table(size_t *n);

/* Whether (FROM, TO, EVENT) is a row of that table. */
bool detector_transition_allowed(DetectorState from, DetectorState to, EventKind event);

typedef struct DetectorOutput {
        Transition transitions[DETECTOR_TRANSITIONS_MAX];
        size_t n_transitions;
        bool incident_opened;           /* some transition opened an incident */
        bool incident_closed;           /* some transition closed one */
        bool act;                       /* start `action` now, then call detector_action_done() */
        ActionType action;
        /* kill_hung_deliveries: end process hung_pid, which held message
         * hung_id (re-check both before signalling it) */
        bool kill_hung;
        uint32_t hung_pid;
        char hung_id[QUEUE_ID_MAX];
} DetectorOutput;

/* Starts in HEALTHY with reachability UNKNOWN; the stall clock starts at NOW. */
void detector_init(Detector *d, uint64_t now_usec);

/* Feeds one observation. OUT is cleared and filled with what happened. */
void detector_step(Detector *d, const DetectorParams *p, const Observation *obs,
                   uint64_t now_usec, DetectorOutput *out);

/* Reports the end of the action requested by the last output with act set.
 * OK: the action itself completed (restart: new MainPID, unit active; flush:
 * exit 0) and verification begins; !OK: it failed (DETAIL says how) and the
 * ladder moves on. Ignored unless in REMEDIATING. */
void detector_action_done(Detector *d, const DetectorParams *p, bool ok, const char *detail,
                          uint64_t now_usec, DetectorOutput *out);

/* The realtime clock was set (a step, not a slew: timerfd_create(2),
 * TFD_TIMER_CANCEL_ON_SET). The MTA's schedule is read against that clock,
 * so messages that look overdue now may only look so: they count for a
 * stall once they have been seen overdue for the queue probe's slack
 * after NOW, as if they had just become overdue. */
void detector_clock_stepped(Detector *d, uint64_t now_usec);

/* Reports that the running action's job outlived restart_timeout and is
 * still awaited (DETAIL says which job): action.slow, once per step, no
 * change of state; detector_action_done() follows when the job ends.
 * Ignored unless in REMEDIATING. */
void detector_action_slow(Detector *d, const DetectorParams *p, const char *detail,
                          uint64_t now_usec, DetectorOutput *out);

/* After detector_restore() of a REMEDIATING state whose job is still
 * pending (the caller waits for it again): stays REMEDIATING instead of
 * VERIFYING, SLOW_REPORTED: action.slow was sent already. No transition.
 * Ignored unless the restore gave VERIFYING in an open incident. */
void detector_resume_action(Detector *d, bool slow_reported);

/* Activity since the current incident began (all zero outside an incident). */
ActivityCounts detector_incident_activity(const Detector *d, const Observation *last);

/* Restores what a previous run of the daemon left: the restart times
 * (CLOCK_MONOTONIC, may be 0 for ones before this boot), whether an
 * incident is open, and the state: REMEDIATING or VERIFYING resume as
 * VERIFYING of STEP (the action may or may not have happened: progress
 * decides), GAVE_UP stays GAVE_UP from GAVE_UP_USEC (its hold-down goes
 * on; 0: from now), any other state of an open incident
 * resumes as RECOVERING. Reachability starts UNKNOWN again. */
void detector_restore(Detector *d, DetectorState state, size_t step, bool incident_open,
                      const uint64_t *restarts_usec, size_t n_restarts, uint64_t gave_up_usec,
                      const DetectorParams *p, uint64_t now_usec);

/* After detector_restore() of an open incident: what a previous run of the
 * daemon knew of its cause. INCIDENT_CAUSE and PEER (NULL: "") name what
 * made it stall or what the MTA logged instead of deliveries, so that a
 * restart is still not repeated for the same cause; GAVE_UP_CAUSE (GAVE_UP
 * only) is the cause whose failures keep extending the hold-down. CAUSE_NONE:
 * none known. Ignored without an open incident. */
void detector_restore_cause(Detector *d, FailureCause incident_cause, const char *peer,
                            FailureCause gave_up_cause);

/* The verdict of one probe round without history (mta-watchdogd --once);
 * the values are the command's exit codes. */
typedef enum OnceVerdict {
        ONCE_HEALTHY = 0,   /* also: an outage, a stopped unit, nothing to deliver */
        ONCE_STALLED = 1,
        ONCE_UNKNOWN = 2,
} OnceVerdict;

/* Judges OBS alone. Its activity must count the MTA's log over the last
 * stall_after (a look back, not counters since some start). Stalled: the
 * relay answers, the unit runs, there is a backlog, nothing was attempted
 * in that time, and a message is overdue by at least stall_after (oldest
 * message at least stall_after old when no schedule is known), or the MTA
 * failed to connect to a host that the probe reaches. REASON gets one line. */
OnceVerdict detector_judge_once(const DetectorParams *p, const Observation *obs, char *reason, size_t size);

/* The operator's reset (SIGUSR1): forgets the restarts of the window and,
 * when GAVE_UP, watches again with a fresh stall clock. OUT as for
 * detector_step(). */
void detector_reset(Detector *d, uint64_t now_usec, DetectorOutput *out);

/* Restarts counted in the window ending at NOW. */
unsigned detector_restarts_in_window(const Detector *d, const DetectorParams *p, uint64_t now_usec);
