/* SPDX-License-Identifier: MIT */
/* The manager's lifecycle: the event loop, signals (SIGHUP reloads, SIGUSR1
 * resets), the state directory's lock and file, the probe timer. The probe
 * round, remediation, publishing and --once live in manager-*.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "caps.h"
#include "detect.h"
#include "log.h"
#include "manager-internal.h"
#include "state.h"

uint64_t now_monotonic(Manager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

uint64_t now_realtime(Manager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_REALTIME, &t);
        return t;
}

void manager_save_state(Manager *m) {
        const Detector *d = &m->detector;
        SavedState st = {
                .state = d->state,
                .step = d->step,
        };
        int r;

        /* A dry run's restarts were never made: the real budget is not its to spend. */
        if (m->config->dry_run)
                return;

        if (d->incident_open)
                (void) snprintf(st.incident, sizeof(st.incident), "%s", m->incident);
        for (size_t i = 0; i < d->n_restarts; i++)
                st.restarts_realtime_usec[st.n_restarts++] = state_mono_to_real(d->restarts_usec[i], now_monotonic(m), now_realtime(m));
        if (d->state == DETECTOR_REMEDIATING && m->restart_job[0]) {
                (void) snprintf(st.job, sizeof(st.job), "%s", m->restart_job);
                st.action_slow = d->action_slow;
        } else if (d->state == DETECTOR_REMEDIATING && m->running_action == ACTION_RESTART)
                st.daemon_pid = m->old_daemon_pid;
        if (d->state == DETECTOR_GAVE_UP)
                st.gave_up_realtime_usec = state_mono_to_real(d->gave_up_usec, now_monotonic(m), now_realtime(m));
        if (d->incident_open) {
                st.cause = d->incident_cause;
                (void) snprintf(st.peer, sizeof(st.peer), "%s", d->incident_peer);
                if (d->state == DETECTOR_GAVE_UP)
                        st.gave_up_cause = d->gave_up_cause;
        }

        r = state_save(m->config->state_dir, &st);
        if (r < 0)
                log_warning_errno(r, "Cannot save the state to %s/%s, the restart budget will not survive a restart of the watchdog: %m",
                                  m->config->state_dir, STATE_FILE);
}

static void manager_restore_state(Manager *m) {
        uint64_t restarts[DETECTOR_RESTARTS_MAX];
        SavedState st;
        int r;

        if (mkdir(m->config->state_dir, 0750) < 0 && errno != EEXIST)
                log_warning_errno(errno, "Cannot create %s: %m", m->config->state_dir);

        r = state_load(m->config->state_dir, &st);
        if (r == -ENOENT)
                return;
        if (r == -EBADMSG) {
                log_error("%s/%s is damaged (not a state file of this version); starting with a fresh budget, the file will be replaced",
                          m->config->state_dir, STATE_FILE);
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot read %s/%s, starting with a fresh budget: %m",
                                  m->config->state_dir, STATE_FILE);
                return;
        }

        for (size_t i = 0; i < st.n_restarts; i++)
                restarts[i] = state_real_to_mono(st.restarts_realtime_usec[i], now_monotonic(m), now_realtime(m));
        detector_restore(&m->detector, st.state, st.step, st.incident[0] != '\0', restarts, st.n_restarts,
                         st.gave_up_realtime_usec > 0 ? state_real_to_mono(st.gave_up_realtime_usec, now_monotonic(m), now_realtime(m)) : 0,
                         &m->params, now_monotonic(m));
        detector_restore_cause(&m->detector, st.cause, st.peer, st.gave_up_cause);
        (void) snprintf(m->incident, sizeof(m->incident), "%s", st.incident);
        /* Our restart job may still run: wait for it, never restart over it. */
        if (st.state == DETECTOR_REMEDIATING && st.job[0])
                (void) manager_resume_restart(m, st.job, st.action_slow);
        else if (st.state == DETECTOR_REMEDIATING && st.daemon_pid > 0)
                (void) manager_reissue_restart(m, st.daemon_pid);
        log_notice("%s: resuming: %u restart(s) in the last window%s%s, state %s",
                   m->config->unit, detector_restarts_in_window(&m->detector, &m->params, now_monotonic(m)),
                   st.incident[0] ? ", incident " : "", st.incident,
                   detector_state_to_string(m->detector.state));
}

/* The realtime clock was set. The queue probe reads the MTA's schedule
 * against it: messages it now calls overdue count for a stall only after
 * the slack, measured from here (detector_clock_stepped()). */
static void on_clock_step(int64_t step_usec, void *userdata) {
        Manager *m = userdata;
        char w[FORMAT_DURATION_MAX];
        uint64_t a = step_usec < 0 ? (uint64_t) 0 - (uint64_t) step_usec : (uint64_t) step_usec;

        /* People read seconds; below one, milliseconds. */
        a -= a >= USEC_PER_SEC ? a % USEC_PER_SEC : a % USEC_PER_MSEC;
        log_notice("%s: the realtime clock was set (%s%s against the monotonic clock); "
                   "messages overdue by the MTA's schedule count again only after the slack",
                   m->config->unit, step_usec < 0 ? "back by " : "forward by ", format_duration(w, sizeof(w), a));
        detector_clock_stepped(&m->detector, now_monotonic(m));
}

static bool alerts_equal(const Config *a, const Config *b) {
        if (a->n_alerts != b->n_alerts)
                return false;
        for (size_t i = 0; i < a->n_alerts; i++)
                if (!alert_config_equal(&a->alerts[i], &b->alerts[i]))
                        return false;
        return true;
}

/* SIGUSR1: the operator's reset of the restart budget and of GAVE_UP. */
static int on_sigusr1(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        DetectorOutput out;

        log_notice("%s: SIGUSR1: reset by the operator (state was %s, %u restart(s) in the window)",
                   m->config->unit, detector_state_to_string(m->detector.state),
                   detector_restarts_in_window(&m->detector, &m->params, now_monotonic(m)));
        detector_reset(&m->detector, now_monotonic(m), &out);
        handle_output(m, &out);
        manager_save_state(m);
        return 0;
}

/* kill_hung_deliveries without CAP_KILL: said at start and reload, not
 * only when the first hung delivery cannot be ended. */
static void warn_kill_hung_caps(const Config *c) {
        if (c->kill_hung_deliveries && caps_can_kill() == 0)
                log_warning("%s: kill_hung_deliveries = yes, but CAP_KILL is not permitted: hung deliveries are "
                            "reported, and ending them fails (README \"What it runs as\")", c->path);
}

/* SIGHUP: re-reads the configuration file. A file with errors is rejected
 * (logged) and the running configuration stays; a good one replaces it
 * whole, keeping the detector's state, the restart budget, the incident and
 * the alerts queued (sd_notify(3) RELOADING=1 ... READY=1 around it). */
static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        _cleanup_(probe_set_done) ProbeSet ps = {};
        Alerter *alerter = NULL;
        Config *c = NULL;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nSTATUS=%s: reloading %s", m->config->unit, m->config->path);
        log_notice("SIGHUP: reloading %s", m->config->path);

        unsigned n_errors = 0;

        r = config_load_counted(m->config->path, &c, &n_errors);
        if (r < 0) {
                log_error("%s: %u error%s", m->config->path, n_errors, n_errors == 1 ? "" : "s");
                log_error("Reload: %s has errors (above); the running configuration stays", m->config->path);
                goto done;
        }
        if (m->options.dry_run)
                c->dry_run = true;

        r = probe_set_build(m, c, &ps);
        if (r >= 0 && m->alerter && !alerts_equal(m->config, c))
                r = alerter_new(m->event, c, &alerter);
        if (r < 0) {
                log_error_errno(r, "Reload: cannot apply %s: %m; the running configuration stays", c->path);
                config_free(c);
                goto done;
        }

        manager_take_probes(m, &ps);
        if (alerter) {
                /* Receivers changed. What is queued stays in the outbox: the
                 * new alerter resumes it for receivers still configured; the
                 * entries of removed ones stay on disk. */
                alerter_free(m->alerter);
                m->alerter = alerter;
        }
        log_set_max_level(c->log_level);
        detector_params_from_config(&m->params, c);
        warn_kill_hung_caps(c);
        /* The old metrics file would go on serving its last values (README "Metrics"). */
        r = metrics_retire_file(m->config->metrics_file, c->metrics_file);
        if (r < 0)
                log_warning_errno(r, "Reload: cannot remove the old metrics file %s, its values go stale: %m",
                                  m->config->metrics_file);
        else if (r > 0)
                log_info("Reload: removed the old metrics file %s", m->config->metrics_file);
        if (!m->config->metrics_file || !c->metrics_file || strcmp(m->config->metrics_file, c->metrics_file) != 0)
                m->metrics_failing = false; /* a new file's first failure is a warning again */
        if (m->config->dry_run && !c->dry_run) {
                DetectorOutput out;

                log_notice("Reload: dry run over; the restarts it only pretended are forgotten");
                detector_reset(&m->detector, now_monotonic(m), &out);
                handle_output(m, &out);
        }
        if (c->n_alerts == 0 && m->config->n_alerts > 0)
                log_notice("no [alert:NAME]: alerts are only logged");
        config_free(m->config);
        m->config = c;
        log_notice("Reload: %s applied", m->config->path);
        {
                char summary[1024];

                log_info("%s", config_detection_summary(m->config, summary, sizeof(summary)));
        }
done:
        (void) sd_notify(false, "READY=1");
        manager_publish(m);
        return 0;
}

int manager_new(Config *config, const ManagerOptions *options, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ProbeSet ps = {};
        sigset_t mask;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m) {
                config_free(config);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        m->config = config;
        m->lock_fd = -EBADF;
        m->hung_pidfd = -EBADF;
        if (options)
                m->options = *options;
        m->running_action = _ACTION_TYPE_INVALID;
        detector_params_from_config(&m->params, config);
        warn_kill_hung_caps(config);

        r = sd_event_new(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Cannot block signals: %m");

        /* A NULL handler makes sd-event exit the loop on the signal. */
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGUSR1, on_sigusr1, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch signals: %m");

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Cannot enable the service watchdog: %m");

        /* Two daemons on one state directory would deliver every alert twice
         * and spend one budget twice over. */
        if (!m->options.once) {
                _cleanup_free_ char *lock = NULL;

                if (mkdir(config->state_dir, 0750) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", config->state_dir);
                if (asprintf(&lock, "%s/lock", config->state_dir) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
                m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (m->lock_fd < 0)
                        return log_error_errno(errno, "Cannot open %s: %m", lock);
                if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0)
                        return log_error_errno(errno == EWOULDBLOCK ? EBUSY : errno,
                                               "Another mta-watchdogd uses %s (%s is locked): %m",
                                               config->state_dir, lock);
        }

        /* Restarts need the bus; without it the daemon still watches and alerts. */
        (void) ensure_bus(m);

        /* --once neither alerts nor acts. */
        if (!m->options.once) {
                r = alerter_new(m->event, config, &m->alerter);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up alert delivery: %m");
        }

        r = probe_set_build(m, config, &ps);
        if (r < 0)
                return r;
        manager_take_probes(m, &ps);

        detector_init(&m->detector, now_monotonic(m));
        if (!m->options.once)
                manager_restore_state(m);
        m->state_since_usec = now_monotonic(m);

        /* Without it the daemon still watches; only a clock step may then
         * pass for overdue mail (README "How it decides"). */
        if (!m->options.once) {
                r = clock_watch_new(m->event, on_clock_step, m, &m->clock_watch);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch the realtime clock for steps, ignoring: %m");
        }

        r = sd_event_add_time(m->event, &m->tick, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_tick, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the probe timer: %m");
        (void) sd_event_source_set_description(m->tick, "probe-round");

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_run(Manager *m) {
        char iv[FORMAT_DURATION_MAX];
        int r;

        char summary[1024];

        log_info("%s", config_detection_summary(m->config, summary, sizeof(summary)));
        log_info("mta-watchdogd %s watching %s (%s, queue probe %s), %zu reachability probe(s), %zu receiver(s), every %s%s",
                 PACKAGE_VERSION, m->config->unit, m->config->mta_type, mta_slot(m, SLOT_QUEUE)->probe->ops->type,
                 n_reach_slots(m), m->config->n_alerts,
                 format_duration(iv, sizeof(iv), m->config->interval_usec),
                 m->config->dry_run ? ", dry run" : "");
        /* Alerts are optional: the daemon heals, logs and writes metrics all the same. */
        if (m->config->n_alerts == 0 && !m->options.once)
                log_notice("no [alert:NAME]: alerts are only logged");
        if (m->config->type_detected && m->config->detection)
                (void) sd_notifyf(false, "READY=1\nSTATUS=%s (%s, detected): starting", m->config->unit,
                                  m->config->detection->mta);
        else
                (void) sd_notifyf(false, "READY=1\nSTATUS=%s: starting", m->config->unit);

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        if (m->options.once)
                return m->once_verdict;
        log_info("Stopping on signal; %zu alert(s) not yet delivered, kept in the outbox",
                 m->alerter ? alerter_pending(m->alerter) : 0);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        manager_take_probes(m, &(ProbeSet) {});
        unit_restart_free(m->restart);
        exec_cancel(m->flush);
        sd_event_source_disable_unref(m->pid_wait);
        manager_kill_hung_stop(m);
        alerter_free(m->alerter);
        sd_event_source_unref(m->tick);
        clock_watch_free(m->clock_watch);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        if (m->lock_fd >= 0)
                (void) close(m->lock_fd);
        config_free(m->config);
        free(m);
        return NULL;
}
