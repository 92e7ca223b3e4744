/* SPDX-License-Identifier: MIT */
/* Remediation: the detector's output turned into incidents, alerts and
 * actions (flush, restart through systemd), and their outcome. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-internal.h"
#include "mta.h"
#include "unit.h"

/* After a restart job ended, how long the daemon may take to write its new
 * PID file, and how often it is read meanwhile. A sysv-generated unit's
 * start job ends when the init script returns; the daemon forks into the
 * background first and writes the file after that (Exim: daemon.c). */
#define PID_WAIT_USEC (10 * USEC_PER_SEC)
#define PID_WAIT_STEP_USEC (250 * USEC_PER_MSEC)

static void start_action(Manager *m, ActionType a);

void handle_output(Manager *m, const DetectorOutput *out) {
        int r;

        for (size_t i = 0; i < out->n_transitions; i++) {
                const Transition *t = &out->transitions[i];

                if (t->opens_incident) {
                        r = uuid_random(m->incident);
                        if (r < 0) {
                                log_warning_errno(r, "Cannot generate an incident id, using none: %m");
                                m->incident[0] = '\0';
                        }
                }

                if (t->opens_incident)
                        m->incidents_total++;
                if (t->to != t->from)
                        m->state_since_usec = now_monotonic(m);

                manager_log_transition(m, t);
                if (t->event == EVENT_ACTION_STARTED && m->config->dry_run) {
                        char would[DETECTOR_REASON_MAX + 64];

                        (void) snprintf(would, sizeof(would), "dry run: would %s (%s)",
                                        action_type_to_string(t->action), t->reason);
                        send_event_cause(m, t->event, t->to, t->action, would, t->cause, t->peer);
                } else if (t->event >= 0)
                        send_event_cause(m, t->event, t->to, t->action, t->reason, t->cause, t->peer);

                if (t->closes_incident)
                        m->incident[0] = '\0';
        }

        /* Saved before the action starts: a restart that the daemon does
         * not live to see still counts against the budget. */
        if (out->n_transitions > 0 || out->act)
                manager_save_state(m);

        if (out->act)
                start_action(m, out->action);
        if (out->kill_hung)
                manager_kill_hung(m, out->hung_pid, out->hung_id);

        manager_publish(m);
}

static void action_finished(Manager *m, bool ok, const char *detail) {
        const Observation *o = &m->last_obs;
        ActionType a = m->running_action;
        DetectorOutput out;
        char backlog[16];

        /* A dry run did nothing, so it counts nothing. */
        if (!m->config->dry_run && a >= 0 && a < _ACTION_TYPE_MAX)
                m->actions_total[a][ok ? 0 : 1]++;

        m->running_action = _ACTION_TYPE_INVALID;
        detector_action_done(&m->detector, &m->params, ok, detail, now_monotonic(m), &out);

        /* Logged after the detector took it, so STATE is the state it leads
         * to, and before the transitions it causes. */
        (void) snprintf(backlog, sizeof(backlog), "%u", o->queue.backlog);
        LogField fields[] = {
                { "MTA", m->config->mta_name },
                { "UNIT", m->config->unit },
                { "STATE", detector_state_to_string(m->detector.state) },
                { "BACKLOG", o->queue_status == PROBE_OK ? backlog : NULL },
                { "INCIDENT", m->incident[0] ? m->incident : NULL },
                { "ACTION", action_type_to_string(a) },
                { "RESULT", ok ? "succeeded" : "failed" },
        };
        log_struct(ok ? LOG_INFO : LOG_WARNING, MESSAGE_ID_ACTION_FINISHED, fields, ELEMENTSOF(fields),
                   "%s: %s %s%s%s", m->config->unit, action_type_to_string(a),
                   ok ? "completed" : "failed", detail && *detail ? ": " : "", detail ? detail : "");
        handle_output(m, &out);
}

static void on_flush_done(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Manager *m = userdata;
        char detail[sizeof(m->action_detail)];

        m->flush = NULL;
        if (status == -ETIMEDOUT)
                (void) snprintf(detail, sizeof(detail), "%s timed out", m->config->flush_command[0]);
        else if (status < 0)
                (void) snprintf(detail, sizeof(detail), "%s could not run: %s",
                                m->config->flush_command[0], strerror(-status));
        else
                (void) snprintf(detail, sizeof(detail), "%s exited with %d", m->config->flush_command[0], status);

        if (m->running_action == ACTION_FLUSH) {
                action_finished(m, status == 0, detail);
                return;
        }

        /* The flush that follows a successful restart: the restart stands
         * either way, verification judges the result. */
        if (status != 0)
                log_warning("%s: flush after restart: %s, ignoring", m->config->unit, detail);
        action_finished(m, true, m->action_detail);
}

static int run_flush(Manager *m) {
        int r;

        r = exec_argv(m->event, m->config->flush_command, m->config->flush_timeout_usec,
                      on_flush_done, m, &m->flush);
        if (r < 0)
                return log_error_errno(r, "Cannot run %s: %m", m->config->flush_command[0]);
        log_info("%s: running %s", m->config->unit, m->config->flush_command[0]);
        return 0;
}

/* A job of the unit: ours queued, another waited for, or slow. */
static void on_unit_job(UnitJobEvent what, const RestartOutcome *o, void *userdata) {
        Manager *m = userdata;
        char detail[512], w[FORMAT_DURATION_MAX];
        DetectorOutput out;

        (void) format_duration(w, sizeof(w), o->deadline_usec);
        switch (what) {
        case UNIT_JOB_QUEUED:
                (void) snprintf(m->restart_job, sizeof(m->restart_job), "%s", o->job_path);
                log_info("%s: restart job %s queued; slow after %s (%s)", m->config->unit, o->job_path, w,
                         o->deadline_from_unit ? "the unit's TimeoutStopSec= + TimeoutStartSec=" : "restart_timeout");
                manager_save_state(m);   /* a restarted daemon waits for this job */
                return;
        case UNIT_JOB_WAITING:
                return;  /* logged where it is seen; the action simply waits */
        case UNIT_JOB_SLOW:
                if (o->job_path[0])
                        (void) snprintf(detail, sizeof(detail), "job %s still running after %s, waiting for its result",
                                        o->job_path, w);
                else
                        (void) snprintf(detail, sizeof(detail), "job %s of the unit (not ours) still running after %s, waiting for it before acting",
                                        o->other_job_path, w);
                detector_action_slow(&m->detector, &m->params, detail, now_monotonic(m), &out);
                handle_output(m, &out);
                return;
        }
}

/* The restart's job ended; the restart counts once the PID file names a
 * new process that runs the MTA's executable. Returns 1 (a new daemon: PID
 * in *RET), 0 (not yet), or -ESTALE (the file names the old daemon, no
 * process, or another program). */
static int new_daemon(Manager *m, uint32_t *ret) {
        uint32_t pid = 0;
        int r;

        /* A reload dropped pid_file meanwhile: the job's result stands. */
        if (!m->config->pid_file) {
                *ret = 0;
                return 1;
        }
        r = unit_read_pid_file(m->config->pid_file, &pid);
        if (r < 0)
                return 0;  /* not (re)written yet */
        if (pid == m->old_daemon_pid)
                return 0;
        if (kill((pid_t) pid, 0) < 0 && errno != EPERM)
                return -ESTALE;
        if (m->config->profile && m->config->profile->daemon_exe) {
                r = unit_pid_runs(pid, m->config->profile->daemon_exe);
                /* Another user's process is not ours to look at in the
                 * sandbox (-EACCES, -ENOENT): the PID file is believed. */
                if (r == 0 || r == -ESRCH)
                        return -ESTALE;
        }
        *ret = pid;
        return 1;
}

static void restart_verified(Manager *m, bool ok, const char *detail);

static int on_pid_wait(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        char detail[sizeof(m->action_detail) + 128];
        uint32_t pid = 0;
        int r;

        r = new_daemon(m, &pid);
        if (r > 0) {
                (void) snprintf(detail, sizeof(detail), "%s; daemon PID %" PRIu32 " -> %" PRIu32 " (%s)",
                                m->action_detail, m->old_daemon_pid, pid, m->config->pid_file ?: "no pid_file");
                m->pid_wait = sd_event_source_disable_unref(m->pid_wait);
                restart_verified(m, true, detail);
                return 0;
        }
        if (r == 0 && usec < m->pid_wait_until_usec) {
                r = sd_event_source_set_time_relative(s, PID_WAIT_STEP_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return 0;
        }
        (void) snprintf(detail, sizeof(detail), "%s; no new daemon in %s within %us (PID before: %" PRIu32 ")",
                        m->action_detail, m->config->pid_file, (unsigned) (PID_WAIT_USEC / USEC_PER_SEC),
                        m->old_daemon_pid);
        m->pid_wait = sd_event_source_disable_unref(m->pid_wait);
        restart_verified(m, false, detail);
        return 0;
}

/* Waits (on the loop, PID_WAIT_STEP_USEC apart, at most PID_WAIT_USEC)
 * for the PID file to name a new daemon. Returns 0 or a negative errno. */
static int wait_new_daemon(Manager *m) {
        m->pid_wait = sd_event_source_disable_unref(m->pid_wait);
        m->pid_wait_until_usec = now_monotonic(m) + PID_WAIT_USEC;
        return sd_event_add_time_relative(m->event, &m->pid_wait, CLOCK_MONOTONIC, 0, 0, on_pid_wait, m);
}

static void on_restart_done(const RestartOutcome *o, void *userdata) {
        Manager *m = userdata;
        char detail[sizeof(m->action_detail)];

        m->restart_job[0] = '\0';
        if (unit_restart_refused(o))
                /* The usual cause: [mta] unit is not in the polkit rule (README
                 * "What it runs as"); the admin must be told where to look. */
                (void) snprintf(detail, sizeof(detail),
                                "refused by systemd: %s; the polkit rule 50-mta-watchdog.rules must allow restarting %s",
                                o->error_message[0] ? o->error_message : strerror(-o->error), m->config->unit);
        else if (o->error < 0)
                (void) snprintf(detail, sizeof(detail), "%s (%s), job result \"%s\", MainPID %u -> %u, %s",
                                o->error_message[0] ? o->error_message : strerror(-o->error),
                                o->error == -ETIMEDOUT ? "no job result in time" : "D-Bus call failed",
                                o->job_result, o->old_main_pid, o->after.main_pid,
                                o->after.active_state[0] ? o->after.active_state : "state unknown");
        else if (o->adopted)
                (void) snprintf(detail, sizeof(detail), "job %s, issued before mta-watchdogd restarted, ended%s%s; %s/%s",
                                o->job_path[0] ? o->job_path : "(gone)", o->job_result[0] ? " with " : "",
                                o->job_result, o->after.active_state, o->after.sub_state);
        else if (o->by_processes)
                (void) snprintf(detail, sizeof(detail), "job result \"%s\", no MainPID, processes %u -> %u (%u survived), %s/%s%s%s",
                                o->job_result, o->old_processes, o->new_processes, o->survivors,
                                o->after.active_state, o->after.sub_state,
                                o->after.result[0] && strcmp(o->after.result, "success") != 0 ? ", result " : "",
                                o->after.result[0] && strcmp(o->after.result, "success") != 0 ? o->after.result : "");
        else
                (void) snprintf(detail, sizeof(detail), "job result \"%s\", MainPID %u -> %u, %s/%s%s%s",
                                o->job_result, o->old_main_pid, o->after.main_pid,
                                o->after.active_state, o->after.sub_state,
                                o->after.result[0] && strcmp(o->after.result, "success") != 0 ? ", result " : "",
                                o->after.result[0] && strcmp(o->after.result, "success") != 0 ? o->after.result : "");

        (void) snprintf(m->action_detail, sizeof(m->action_detail), "%s", detail);

        /* With a PID file the daemon's PID decides, not the unit's
         * processes: a sysv-generated unit has KillMode=process, so Exim's
         * queue runners and deliveries survive a restart (and no MainPID). */
        if (m->config->pid_file && o->error == 0 && !unit_restart_refused(o) &&
            strcmp(o->after.active_state, "active") == 0 && wait_new_daemon(m) >= 0)
                return;

        /* The operation is done; it is freed when the next one starts or at exit. */
        restart_verified(m, o->success && !m->config->pid_file, detail);
}

static void restart_verified(Manager *m, bool ok, const char *detail) {
        if (!ok) {
                action_finished(m, false, detail);
                return;
        }
        /* DETAIL may be longer than action_detail (on_pid_wait() appends): cut */
        (void) snprintf(m->action_detail, sizeof(m->action_detail), "%.*s", (int) sizeof(m->action_detail) - 1,
                        detail);
        if (m->config->flush_after_restart && m->config->flush_command) {
                /* said before the flush's own lines: the action completes when the flush ends */
                log_info("%s: restarted (%s); flushing the queue", m->config->unit, detail);
                if (run_flush(m) >= 0)
                        return;
        }
        action_finished(m, true, detail);
}

int ensure_bus(Manager *m) {
        int r;

        if (m->bus)
                return 0;

        r = sd_bus_open_system(&m->bus);
        if (r < 0) {
                /* sd_bus_open_system(3): $DBUS_SYSTEM_BUS_ADDRESS, else the
                 * well-known socket. --once reports the unit's state as
                 * unknown on stdout; this is its only line on stderr. */
                const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");

                if (!address || !*address)
                        address = "unix:path=/run/dbus/system_bus_socket";
                if (m->options.once)
                        return log_warning_errno(r, "Cannot connect to the system bus at %s: %m; "
                                                 "the unit's state is unknown", address);
                return log_error_errno(r, "Cannot connect to the system bus at %s: %m", address);
        }
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                m->bus = sd_bus_flush_close_unref(m->bus);
                return log_error_errno(r, "Cannot attach the system bus to the event loop: %m");
        }
        return 0;
}

int manager_resume_restart(Manager *m, const char *job, bool slow) {
        int r;

        if (m->config->dry_run || m->detector.state != DETECTOR_VERIFYING ||
            m->detector.step >= m->params.n_actions || m->params.actions[m->detector.step] != ACTION_RESTART)
                return -ESTALE;
        r = ensure_bus(m);
        if (r < 0)
                return r;
        m->restart = unit_restart_free(m->restart);
        r = unit_restart_full(m->bus, m->config->unit,
                              &(UnitRestartOptions) {
                                      .timeout_usec = m->config->restart_timeout_usec,
                                      .adopt_job = job,
                                      .slow_reported = slow,
                                      .on_job = on_unit_job,
                              }, on_restart_done, m, &m->restart);
        if (r < 0)
                return log_warning_errno(r, "%s: cannot wait for the restart job %s again, verifying instead: %m",
                                         m->config->unit, job);
        (void) snprintf(m->restart_job, sizeof(m->restart_job), "%s", job);
        m->running_action = ACTION_RESTART;
        detector_resume_action(&m->detector, slow);
        log_notice("%s: waiting for restart job %s, issued before this daemon restarted", m->config->unit, job);
        return 0;
}

int manager_reissue_restart(Manager *m, uint32_t old_pid) {
        uint32_t pid = 0;
        int r;

        if (m->config->dry_run || !m->config->pid_file || m->detector.state != DETECTOR_VERIFYING ||
            m->detector.step >= m->params.n_actions || m->params.actions[m->detector.step] != ACTION_RESTART)
                return -ESTALE;
        r = unit_read_pid_file(m->config->pid_file, &pid);
        if (r < 0 || pid != old_pid || (kill((pid_t) pid, 0) < 0 && errno != EPERM))
                return 0;
        log_notice("%s: the restart called before this daemon restarted never ran (%s still names process %" PRIu32
                   "): calling it again", m->config->unit, m->config->pid_file, pid);
        detector_resume_action(&m->detector, false);
        start_action(m, ACTION_RESTART);
        return 1;
}

static void on_flush_wait_done(const RestartOutcome *o, void *userdata) {
        Manager *m = userdata;
        char detail[512];

        if (!o->success) {
                (void) snprintf(detail, sizeof(detail), "cannot tell whether a job of the unit is pending: %s",
                                o->error_message[0] ? o->error_message : strerror(-o->error));
                action_finished(m, false, detail);
                return;
        }
        if (run_flush(m) < 0) {
                (void) snprintf(detail, sizeof(detail), "cannot run %s", m->config->flush_command[0]);
                action_finished(m, false, detail);
        }
}

/* The unit's side of an action: RestartUnit, or with WAIT_ONLY only the
 * wait for a job of the unit that is pending; DONE gets the outcome.
 * Returns 0 or a negative errno (no bus, the call failed). */
static int start_unit_job(Manager *m, bool wait_only, unit_restart_fn done) {
        int r;

        m->restart = unit_restart_free(m->restart);
        r = ensure_bus(m);
        if (r < 0)
                return r;
        return unit_restart_full(m->bus, m->config->unit,
                                 &(UnitRestartOptions) {
                                         .timeout_usec = m->config->restart_timeout_usec,
                                         .wait_only = wait_only,
                                         /* a PID file: a SysV script's unit (see systemd.h) */
                                         .cont_first = m->config->pid_file != NULL,
                                         .on_job = on_unit_job,
                                 }, done, m, &m->restart);
}

static void start_action(Manager *m, ActionType a) {
        char detail[128];
        int r;

        m->running_action = a;

        if (m->config->dry_run) {
                log_notice("%s: dry run: would %s", m->config->unit, action_type_to_string(a));
                action_finished(m, true, "dry run, nothing done");
                return;
        }

        switch (a) {
        case ACTION_RESTART:
                /* A few bytes in /run (tmpfs), as the unit probe reads it. */
                m->old_daemon_pid = 0;
                if (m->config->pid_file)
                        (void) unit_read_pid_file(m->config->pid_file, &m->old_daemon_pid);
                r = start_unit_job(m, false, on_restart_done);
                if (r < 0) {
                        (void) snprintf(detail, sizeof(detail), "cannot call RestartUnit: %s", strerror(-r));
                        action_finished(m, false, detail);
                        return;
                }
                m->restarts_total++;
                log_notice("%s: restarting through systemd", m->config->unit);
                manager_save_state(m);   /* the PID before the call, until the job is known */
                break;

        case ACTION_FLUSH:
                /* Not while a job of the unit is pending (a start would
                 * not take the flush yet); without the bus, flush anyway. */
                r = start_unit_job(m, true, on_flush_wait_done);
                if (r >= 0)
                        break;
                r = run_flush(m);
                if (r < 0) {
                        (void) snprintf(detail, sizeof(detail), "cannot run %s: %s",
                                        m->config->flush_command[0], strerror(-r));
                        action_finished(m, false, detail);
                }
                break;

        default:
                action_finished(m, false, "unknown action");
        }
}
