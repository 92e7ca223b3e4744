/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "macros.h"
#include "systemd.h"

#define SD_DESTINATION "org.freedesktop.systemd1"
#define SD_MANAGER_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SD_SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define DBUS_PROPERTIES_IFACE "org.freedesktop.DBus.Properties"

/* The status read after the job has its own deadline: it also runs when
 * the main one has passed (we still want to report what the unit looks
 * like), but a hung PID 1 must not hold the callback back for long. */
#define STATUS_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* Once a job is slow, the unit's Job property is read this often (at most):
 * a JobRemoved signal that got lost must not leave us waiting forever. */
#define JOB_POLL_MAX_USEC (30 * USEC_PER_SEC)

typedef enum RestartPhase {
        PHASE_TIMEOUTS,     /* restart_timeout = auto: reading the unit's TimeoutStart/StopUSec */
        PHASE_JOB_CHECK,    /* reading the unit's Job property: is a job pending? */
        PHASE_WAIT_OTHER,   /* a job of the unit (not ours) is pending: waiting for its end */
        PHASE_OLD_PID,      /* reading MainPID before the restart */
        PHASE_OLD_PROCS,    /* MainPID is 0: listing the unit's processes before the restart */
        PHASE_CONT,         /* MainPID is 0: KillUnit(unit, "all", SIGCONT) sent, waiting for its reply */
        PHASE_RESTART,      /* RestartUnit sent, waiting for its reply */
        PHASE_WAIT_JOB,     /* job path known, waiting for JobRemoved */
        PHASE_STATUS,       /* reading the unit's properties after the job */
        PHASE_NEW_PROCS,    /* listing the unit's processes after the job */
        PHASE_DONE,
} RestartPhase;

/* Properties read after the job, in order. */
typedef enum StatusProp {
        PROP_ACTIVE_STATE,
        PROP_SUB_STATE,
        PROP_RESULT,
        PROP_MAIN_PID,
        _PROP_MAX,
} StatusProp;

static const struct {
        const char *interface;
        const char *name;
        bool service_only;   /* errors mean "not a service", not failure */
} status_props[_PROP_MAX] = {
        [PROP_ACTIVE_STATE] = { SD_UNIT_IFACE,    "ActiveState", false },
        [PROP_SUB_STATE]    = { SD_UNIT_IFACE,    "SubState",    false },
        [PROP_RESULT]       = { SD_SERVICE_IFACE, "Result",      true  },
        [PROP_MAIN_PID]     = { SD_SERVICE_IFACE, "MainPID",     true  },
};

typedef struct SeenJob {
        char *path;
        char result[UNIT_STATE_MAX];
} SeenJob;

struct UnitRestart {
        sd_bus *bus;
        char *unit;
        char *unit_path;
        unit_restart_fn cb;
        void *userdata;
        unit_job_fn on_job;
        char *adopt_job;              /* UnitRestartOptions.adopt_job */
        bool wait_only;
        bool cont_first;              /* UnitRestartOptions.cont_first */
        uint64_t timeout_usec;        /* as asked: a duration or RESTART_TIMEOUT_AUTO */
        uint64_t timeout_start_usec;  /* PHASE_TIMEOUTS: the unit's TimeoutStartUSec */
        unsigned n_waits;             /* other jobs waited for */

        RestartPhase phase;
        sd_bus_slot *match_slot;      /* JobRemoved */
        sd_bus_slot *subscribe_slot;  /* Subscribe() reply */
        sd_bus_slot *call_slot;       /* the one method call of the current phase */
        sd_event_source *timer;       /* overall deadline until JobRemoved */

        /* JobRemoved signals for our unit that arrived while the RestartUnit
         * reply was still pending: signals and replies travel separately,
         * so the job's end may be seen before we learn its path. */
        SeenJob *seen;
        size_t n_seen;

        StatusProp prop;
        uint32_t *old_pids;           /* PHASE_OLD_PROCS result */
        RestartOutcome outcome;
};

int unit_object_path(const char *unit, char **ret) {
        int r;

        if (!unit || !ret)
                return -EINVAL;

        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, ret);
        return r < 0 ? r : 0;
}

static void strscpy(char *dst, size_t size, const char *src) {
        if (size == 0)
                return;
        if (!src)
                src = "";
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}

static void restart_drop_sources(UnitRestart *r) {
        r->match_slot = sd_bus_slot_unref(r->match_slot);
        r->subscribe_slot = sd_bus_slot_unref(r->subscribe_slot);
        r->call_slot = sd_bus_slot_unref(r->call_slot);
        r->timer = sd_event_source_disable_unref(r->timer);
}

static void restart_set_error(UnitRestart *r, int error, const sd_bus_error *e) {
        if (r->outcome.error != 0)
                return;  /* the first error is the cause; later ones are consequences */
        r->outcome.error = error < 0 ? error : -EIO;
        if (e && e->message)
                strscpy(r->outcome.error_message, sizeof(r->outcome.error_message), e->message);
        else if (e && e->name)
                strscpy(r->outcome.error_message, sizeof(r->outcome.error_message), e->name);
}

static int bus_error_to_errno(const sd_bus_error *e) {
        int k = sd_bus_error_get_errno(e);
        return k > 0 ? -k : -EIO;
}

/* Ends the operation: judges success and calls the callback, which may free R. */
static void restart_done(UnitRestart *r) {
        RestartOutcome *o = &r->outcome;

        r->phase = PHASE_DONE;
        restart_drop_sources(r);

        if (r->wait_only)
                o->success = o->error == 0;
        else if (o->adopted)
                /* The MainPID and processes before that restart are not
                 * known here: the job ended and the unit runs. */
                o->success = o->error == 0 && strcmp(o->after.active_state, "active") == 0;
        else
                o->success = o->error == 0 &&
                        strcmp(o->after.active_state, "active") == 0 &&
                        (o->old_main_pid != 0 ?
                         o->after.main_pid != 0 && o->after.main_pid != o->old_main_pid :
                         o->by_processes && o->new_processes > 0 && o->survivors == 0);

        log_debug("%s: restart finished: error=%d job=%s active=%s/%s result=%s MainPID %u -> %u, processes %u -> %u (%u survived)%s",
                  r->unit, o->error, o->job_result[0] ? o->job_result : "-",
                  o->after.active_state[0] ? o->after.active_state : "-",
                  o->after.sub_state[0] ? o->after.sub_state : "-",
                  o->after.result[0] ? o->after.result : "-",
                  o->old_main_pid, o->after.main_pid,
                  o->old_processes, o->new_processes, o->survivors, o->success ? " (success)" : "");

        r->cb(o, r->userdata);
}

static int on_get_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata);

/* (Re)arms the one deadline of the current phase, TIMEOUT_USEC from now. */
static int restart_arm_timer(UnitRestart *r, uint64_t timeout_usec) {
        int k;

        r->timer = sd_event_source_disable_unref(r->timer);
        if (timeout_usec == USEC_INFINITY)
                return 0;
        k = sd_event_add_time_relative(sd_bus_get_event(r->bus), &r->timer, CLOCK_MONOTONIC,
                                       timeout_usec, 0, on_timeout, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(r->timer, "restart-timeout");
        return 0;
}

/* Sends Properties.Get(INTERFACE, NAME) on the unit's object; the reply goes
 * to HANDLER (NULL: on_get_reply). */
static int restart_get_property(UnitRestart *r, const char *interface, const char *name,
                                sd_bus_message_handler_t handler) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int k;

        k = sd_bus_message_new_method_call(r->bus, &m, SD_DESTINATION, r->unit_path,
                                           DBUS_PROPERTIES_IFACE, "Get");
        if (k < 0)
                return k;
        k = sd_bus_message_append(m, "ss", interface, name);
        if (k < 0)
                return k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);
        /* sd-bus default call timeout (25s); the phase deadline (r->timer) is what bounds it. */
        return sd_bus_call_async(r->bus, &r->call_slot, m, handler ?: on_get_reply, r, 0);
}

static int on_procs_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* Manager.GetUnitProcesses(unit) -> a(sus): cgroup, PID, command line. */
static int restart_list_processes(UnitRestart *r) {
        r->call_slot = sd_bus_slot_unref(r->call_slot);
        return sd_bus_call_method_async(r->bus, &r->call_slot, SD_DESTINATION, SD_MANAGER_PATH,
                                        SD_MANAGER_IFACE, "GetUnitProcesses", on_procs_reply, r,
                                        "s", r->unit);
}

/* Reads the PIDs of a GetUnitProcesses reply into a new array. */
static int read_pids(sd_bus_message *m, uint32_t **ret, unsigned *ret_n) {
        _cleanup_free_ uint32_t *pids = NULL;
        const char *cgroup, *cmdline;
        unsigned n = 0;
        uint32_t pid;
        int k;

        k = sd_bus_message_enter_container(m, 'a', "(sus)");
        if (k < 0)
                return k;
        while ((k = sd_bus_message_read(m, "(sus)", &cgroup, &pid, &cmdline)) > 0) {
                uint32_t *t = realloc(pids, (n + 1) * sizeof(uint32_t));
                if (!t)
                        return -ENOMEM;
                pids = t;
                pids[n++] = pid;
        }
        if (k < 0)
                return k;
        k = sd_bus_message_exit_container(m);
        if (k < 0)
                return k;

        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

static int restart_send_restart(UnitRestart *r);
static int restart_send_cont(UnitRestart *r);
static void restart_fail(UnitRestart *r, int error, const sd_bus_error *e);
static void restart_job_ended(UnitRestart *r, const char *result);
static bool bus_error_is_no_service(const sd_bus_error *e);
static void restart_notify(UnitRestart *r, UnitJobEvent what);

static int on_procs_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        RestartOutcome *o = &r->outcome;
        _cleanup_free_ uint32_t *pids = NULL;
        unsigned n = 0;
        bool listed = false;
        int k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);

        /* Without a process list (a unit with no control group, an old
         * systemd) success cannot be judged by processes: by_processes
         * stays false, and the restart is judged a failure unless MainPID says
         * otherwise. It is still issued: the decision to restart was made. */
        if (sd_bus_message_is_method_error(m, NULL))
                log_debug("%s: GetUnitProcesses failed: %s", r->unit,
                          sd_bus_message_get_error(m)->message ?: "unknown error");
        else {
                k = read_pids(m, &pids, &n);
                if (k < 0)
                        log_debug_errno(k, "%s: cannot parse GetUnitProcesses reply: %m", r->unit);
                listed = k >= 0;
        }

        if (r->phase == PHASE_OLD_PROCS) {
                if (listed) {
                        o->by_processes = true;
                        o->old_processes = n;
                        r->old_pids = TAKE_PTR(pids);
                }
                k = r->cont_first ? restart_send_cont(r) : restart_send_restart(r);
                if (k < 0)
                        restart_fail(r, k, NULL);
                return 0;
        }

        if (o->by_processes) {
                if (!listed)
                        o->by_processes = false;
                else {
                        o->new_processes = n;
                        for (unsigned i = 0; i < n; i++)
                                for (unsigned j = 0; j < o->old_processes; j++)
                                        if (pids[i] == r->old_pids[j])
                                                o->survivors++;
                }
        }
        restart_done(r);
        return 0;
}

/* Reads the status properties one by one, then finishes. */
static void restart_read_status(UnitRestart *r) {
        int k;

        if (r->phase != PHASE_STATUS) {
                r->phase = PHASE_STATUS;
                r->prop = 0;
                k = restart_arm_timer(r, STATUS_TIMEOUT_USEC);
                if (k < 0) {
                        restart_set_error(r, k, NULL);
                        restart_done(r);
                        return;
                }
        }

        if (r->prop >= _PROP_MAX) {
                if (r->outcome.by_processes) {
                        r->phase = PHASE_NEW_PROCS;
                        k = restart_list_processes(r);
                        if (k >= 0)
                                return;
                        r->outcome.by_processes = false;
                }
                restart_done(r);
                return;
        }

        k = restart_get_property(r, status_props[r->prop].interface, status_props[r->prop].name, NULL);
        if (k < 0) {
                restart_set_error(r, k, NULL);
                restart_done(r);
        }
}

/* Ends the wait for the job, successfully or not, and goes on to read the status. */
static void restart_job_ended(UnitRestart *r, const char *result) {
        if (result)
                strscpy(r->outcome.job_result, sizeof(r->outcome.job_result), result);
        r->call_slot = sd_bus_slot_unref(r->call_slot);
        r->match_slot = sd_bus_slot_unref(r->match_slot);
        restart_read_status(r);
}

/* Any failure before the job ended: remember the first error, and still
 * read the status so the caller sees what the unit looks like. */
static void restart_fail(UnitRestart *r, int error, const sd_bus_error *e) {
        restart_set_error(r, error, e);
        restart_job_ended(r, NULL);
}

static int on_restart_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        const char *path;
        int k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);

        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);
                restart_fail(r, bus_error_to_errno(e), e);
                return 0;
        }

        k = sd_bus_message_read(m, "o", &path);
        if (k < 0) {
                restart_fail(r, k, NULL);
                return 0;
        }

        if (strlen(path) >= sizeof(r->outcome.job_path)) {
                restart_fail(r, -ENAMETOOLONG, NULL);
                return 0;
        }
        strscpy(r->outcome.job_path, sizeof(r->outcome.job_path), path);

        log_debug("%s: restart job %s queued", r->unit, path);

        for (size_t i = 0; i < r->n_seen; i++)
                if (strcmp(r->seen[i].path, path) == 0) {
                        restart_job_ended(r, r->seen[i].result);
                        return 0;
                }

        r->phase = PHASE_WAIT_JOB;
        restart_notify(r, UNIT_JOB_QUEUED);
        return 0;
}

static int restart_send_restart(UnitRestart *r) {
        int k;

        r->phase = PHASE_RESTART;
        r->call_slot = sd_bus_slot_unref(r->call_slot);
        /* The job's deadline counts from here. */
        k = restart_arm_timer(r, r->outcome.deadline_usec);
        if (k < 0)
                return k;
        log_debug("%s: calling RestartUnit(%s, replace)", r->unit, r->unit);
        return sd_bus_call_method_async(r->bus, &r->call_slot, SD_DESTINATION, SD_MANAGER_PATH,
                                        SD_MANAGER_IFACE, "RestartUnit", on_restart_reply, r,
                                        "ss", r->unit, "replace");
}

/* A unit without a MainPID is stopped by its own ExecStop (a SysV script
 * through systemd-sysv-generator(8)), and such scripts send SIGTERM only:
 * Debian's /etc/init.d/sendmail waits 120 s for the daemon to go, then
 * gives up, and the start that follows fails ("MTA is already running").
 * A stopped (SIGSTOP, state T) process keeps that SIGTERM pending and never
 * goes. systemd's own stop sends SIGCONT after the kill signal
 * (systemd.kill(5), KillSignal=), a script does not; so before the restart
 * every process of the unit gets SIGCONT (harmless to running ones). A
 * failure (e.g. no polkit grant for "kill") is logged and the restart is
 * sent anyway: it is what was decided. */
static int on_cont_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        int k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);
        if (sd_bus_message_is_method_error(m, NULL))
                log_notice("%s: KillUnit(%s, all, SIGCONT) failed, restarting anyway: %s", r->unit, r->unit,
                           sd_bus_message_get_error(m)->message ?: "unknown error");
        k = restart_send_restart(r);
        if (k < 0)
                restart_fail(r, k, NULL);
        return 0;
}

static int restart_send_cont(UnitRestart *r) {
        int k;

        r->phase = PHASE_CONT;
        r->call_slot = sd_bus_slot_unref(r->call_slot);
        k = restart_arm_timer(r, r->outcome.deadline_usec);
        if (k < 0)
                return k;
        log_debug("%s: calling KillUnit(%s, all, SIGCONT)", r->unit, r->unit);
        return sd_bus_call_method_async(r->bus, &r->call_slot, SD_DESTINATION, SD_MANAGER_PATH,
                                        SD_MANAGER_IFACE, "KillUnit", on_cont_reply, r,
                                        "ssi", r->unit, "all", (int32_t) SIGCONT);
}

static void restart_notify(UnitRestart *r, UnitJobEvent what) {
        if (r->on_job)
                r->on_job(what, &r->outcome, r->userdata);
}

static int on_job_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* Reads the unit's Job property, "(uo)": the id and object path of its
 * pending job, or 0 and "/" (org.freedesktop.systemd1(5)). */
static int restart_get_job(UnitRestart *r) {
        return restart_get_property(r, SD_UNIT_IFACE, "Job", on_job_reply);
}

/* Asks whether a job of the unit is pending, under the deadline. */
static void restart_check_job(UnitRestart *r) {
        int k;

        r->phase = PHASE_JOB_CHECK;
        k = restart_arm_timer(r, r->outcome.deadline_usec);
        if (k >= 0)
                k = restart_get_job(r);
        if (k < 0)
                restart_fail(r, k, NULL);
}

/* No job of the unit is pending: act (or, adopting or only waiting, end). */
static void restart_no_job_pending(UnitRestart *r) {
        int k;

        if (r->wait_only) {
                restart_done(r);
                return;
        }
        if (r->adopt_job) {
                /* Our job ended while nobody watched; the status tells the rest. */
                log_debug("%s: job %s is gone", r->unit, r->adopt_job);
                restart_job_ended(r, NULL);
                return;
        }
        r->phase = PHASE_OLD_PID;
        k = restart_get_property(r, SD_SERVICE_IFACE, "MainPID", NULL);
        if (k < 0)
                restart_fail(r, k, NULL);
}

/* The one poll period once a job is slow: the deadline, at most JOB_POLL_MAX_USEC. */
static uint64_t restart_poll_usec(const UnitRestart *r) {
        return r->outcome.deadline_usec < JOB_POLL_MAX_USEC ? r->outcome.deadline_usec : JOB_POLL_MAX_USEC;
}

static int on_job_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        RestartOutcome *o = &r->outcome;
        const char *path;
        uint32_t id;
        int k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);

        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);

                if (r->phase == PHASE_JOB_CHECK)
                        /* Whether a job is pending is not known: act on nothing. */
                        restart_fail(r, bus_error_to_errno(e), e);
                else
                        log_debug("%s: cannot read the unit's Job property, still waiting: %s",
                                  r->unit, e->message ?: e->name);
                return 0;
        }
        k = sd_bus_message_read(m, "v", "(uo)", &id, &path);
        if (k < 0) {
                if (r->phase == PHASE_JOB_CHECK)
                        restart_fail(r, k, NULL);
                else
                        log_debug_errno(k, "%s: cannot parse the unit's Job property, still waiting: %m", r->unit);
                return 0;
        }

        switch (r->phase) {

        case PHASE_WAIT_JOB:
                if (id == 0 || strcmp(path, o->job_path) != 0) {
                        log_debug("%s: job %s ended without a JobRemoved signal seen", r->unit, o->job_path);
                        restart_job_ended(r, NULL);
                }
                return 0;

        case PHASE_JOB_CHECK:
        case PHASE_WAIT_OTHER:
                if (id == 0) {
                        restart_no_job_pending(r);
                        return 0;
                }
                if (r->adopt_job && !o->job_path[0] && strcmp(path, r->adopt_job) == 0) {
                        strscpy(o->job_path, sizeof(o->job_path), path);
                        r->phase = PHASE_WAIT_JOB;
                        log_debug("%s: waiting for job %s, issued before", r->unit, path);
                        if (o->slow) {
                                k = restart_arm_timer(r, restart_poll_usec(r));
                                if (k < 0)
                                        restart_fail(r, k, NULL);
                        }
                        return 0;
                }
                if (r->phase == PHASE_WAIT_OTHER && strcmp(path, o->other_job_path) == 0)
                        return 0;  /* still the same */
                o->other_job_id = id;
                strscpy(o->other_job_path, sizeof(o->other_job_path), path);
                r->phase = PHASE_WAIT_OTHER;
                /* Logged once; more jobs in a row are a detail. */
                log_full(r->n_waits++ == 0 ? LOG_NOTICE : LOG_DEBUG,
                         "%s: job %" PRIu32 " (%s) of the unit is pending; waiting for it to end before acting",
                         r->unit, id, path);
                restart_notify(r, UNIT_JOB_WAITING);
                return 0;

        default:
                return 0;
        }
}

static int on_timeout_prop_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        RestartOutcome *o = &r->outcome;
        bool start = r->prop == 0;
        uint64_t v = 0;
        int k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);

        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);

                o->deadline_usec = bus_error_is_no_service(e) ? RESTART_TIMEOUT_AUTO_OTHER_USEC :
                                                                RESTART_TIMEOUT_AUTO_MAX_USEC;
                log_debug("%s: cannot read %s (%s); restart deadline %llus", r->unit,
                          start ? "TimeoutStartUSec" : "TimeoutStopUSec", e->message ?: e->name,
                          (unsigned long long) (o->deadline_usec / USEC_PER_SEC));
                restart_check_job(r);
                return 0;
        }
        k = sd_bus_message_read(m, "v", "t", &v);
        if (k < 0) {
                o->deadline_usec = RESTART_TIMEOUT_AUTO_MAX_USEC;
                restart_check_job(r);
                return 0;
        }
        if (start) {
                r->timeout_start_usec = v;
                r->prop = 1;
                k = restart_get_property(r, SD_SERVICE_IFACE, "TimeoutStopUSec", on_timeout_prop_reply);
                if (k < 0)
                        restart_fail(r, k, NULL);
                return 0;
        }
        o->deadline_usec = restart_timeout_from_unit(r->timeout_start_usec, v);
        o->deadline_from_unit = true;
        log_debug("%s: restart deadline %llus (TimeoutStartUSec %llus + TimeoutStopUSec %llus)", r->unit,
                  (unsigned long long) (o->deadline_usec / USEC_PER_SEC),
                  (unsigned long long) (r->timeout_start_usec / USEC_PER_SEC),
                  (unsigned long long) (v / USEC_PER_SEC));
        restart_check_job(r);
        return 0;
}

/* Stores the value of the property just read into the outcome. */
static int restart_store_property(UnitRestart *r, sd_bus_message *m, const char *name) {
        const char *s;
        uint32_t u;
        int k;

        if (strcmp(name, "MainPID") == 0) {
                k = sd_bus_message_read(m, "v", "u", &u);
                if (k < 0)
                        return k;
                if (r->phase == PHASE_OLD_PID)
                        r->outcome.old_main_pid = u;
                else
                        r->outcome.after.main_pid = u;
                return 0;
        }

        k = sd_bus_message_read(m, "v", "s", &s);
        if (k < 0)
                return k;
        if (strcmp(name, "ActiveState") == 0)
                strscpy(r->outcome.after.active_state, sizeof(r->outcome.after.active_state), s);
        else if (strcmp(name, "SubState") == 0)
                strscpy(r->outcome.after.sub_state, sizeof(r->outcome.after.sub_state), s);
        else if (strcmp(name, "Result") == 0)
                strscpy(r->outcome.after.result, sizeof(r->outcome.after.result), s);
        return 0;
}

/* A unit that is not a service has no org.freedesktop.systemd1.Service
 * interface; systemd answers with one of these. Its MainPID counts as 0. */
static bool bus_error_is_no_service(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
                sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY) ||
                sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS);
}

static int on_get_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        const char *name;
        bool service_only;
        int k;

        r->call_slot = sd_bus_slot_unref(r->call_slot);

        if (r->phase == PHASE_OLD_PID) {
                name = "MainPID";
                service_only = true;
        } else {
                name = status_props[r->prop].name;
                service_only = status_props[r->prop].service_only;
        }

        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);
                if (!(service_only && bus_error_is_no_service(e))) {
                        if (r->phase == PHASE_OLD_PID) {
                                /* Without the old MainPID success cannot be judged; don't restart. */
                                restart_fail(r, bus_error_to_errno(e), e);
                                return 0;
                        }
                        /* Keep reading the other properties: a partial status still helps. */
                        restart_set_error(r, bus_error_to_errno(e), e);
                }
        } else {
                k = restart_store_property(r, m, name);
                if (k < 0) {
                        if (r->phase == PHASE_OLD_PID) {
                                restart_fail(r, k, NULL);
                                return 0;
                        }
                        restart_set_error(r, k, NULL);
                }
        }

        if (r->phase == PHASE_OLD_PID) {
                if (r->outcome.old_main_pid == 0) {
                        r->phase = PHASE_OLD_PROCS;
                        k = restart_list_processes(r);
                } else
                        k = restart_send_restart(r);
                if (k < 0)
                        restart_fail(r, k, NULL);
                return 0;
        }

        r->prop++;
        restart_read_status(r);
        return 0;
}

static int on_subscribe_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        const sd_bus_error *e;

        r->subscribe_slot = sd_bus_slot_unref(r->subscribe_slot);

        if (!sd_bus_message_is_method_error(m, NULL))
                return 0;

        e = sd_bus_message_get_error(m);
        /* Subscriptions are per connection; another user of the bus (or an
         * earlier restart) may have subscribed already. */
        if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.AlreadySubscribed"))
                return 0;

        if (r->phase < PHASE_STATUS)
                restart_fail(r, bus_error_to_errno(e), e);
        return 0;
}

static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        const sd_bus_error *e;

        if (!sd_bus_message_is_method_error(m, NULL))
                return 0;

        /* Without the match we would never see the job end. */
        e = sd_bus_message_get_error(m);
        if (r->phase < PHASE_STATUS)
                restart_fail(r, bus_error_to_errno(e), e);
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitRestart *r = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int k;

        k = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (k < 0) {
                log_debug_errno(k, "%s: cannot parse JobRemoved signal, ignoring: %m", r->unit);
                return 0;
        }

        if (strcmp(unit, r->unit) != 0)
                return 0;

        switch (r->phase) {

        case PHASE_RESTART: {
                SeenJob *n;
                char *p;

                p = strdup(path);
                if (!p) {
                        restart_fail(r, -ENOMEM, NULL);
                        return 0;
                }
                n = realloc(r->seen, (r->n_seen + 1) * sizeof(SeenJob));
                if (!n) {
                        free(p);
                        restart_fail(r, -ENOMEM, NULL);
                        return 0;
                }
                r->seen = n;
                r->seen[r->n_seen].path = p;
                strscpy(r->seen[r->n_seen].result, sizeof(r->seen[r->n_seen].result), result);
                r->n_seen++;
                return 0;
        }

        case PHASE_WAIT_JOB:
                if (strcmp(path, r->outcome.job_path) == 0)
                        restart_job_ended(r, result);
                return 0;

        case PHASE_WAIT_OTHER:
                if (strcmp(path, r->outcome.other_job_path) == 0) {
                        log_debug("%s: job %s ended (%s)", r->unit, path, result);
                        restart_check_job(r);   /* another may be queued meanwhile */
                }
                return 0;

        default:
                /* Jobs of our unit that ended before we asked are not ours. */
                return 0;
        }
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        UnitRestart *r = userdata;
        int k;

        r->timer = sd_event_source_disable_unref(r->timer);

        if (r->phase >= PHASE_STATUS) {
                if (r->phase == PHASE_NEW_PROCS)
                        r->outcome.by_processes = false;
                log_debug("%s: timed out reading the unit status", r->unit);
                restart_set_error(r, -ETIMEDOUT, NULL);
                restart_done(r);
                return 0;
        }

        if (r->phase == PHASE_WAIT_JOB || r->phase == PHASE_WAIT_OTHER) {
                /* Slow, not failed: systemd ends the job by its own timeouts,
                 * and acting over it would cancel it and start over. */
                if (!r->outcome.slow) {
                        r->outcome.slow = true;
                        log_debug("%s: job %s still pending after %llus", r->unit,
                                  r->phase == PHASE_WAIT_JOB ? r->outcome.job_path : r->outcome.other_job_path,
                                  (unsigned long long) (r->outcome.deadline_usec / USEC_PER_SEC));
                        restart_notify(r, UNIT_JOB_SLOW);
                }
                k = restart_arm_timer(r, restart_poll_usec(r));
                if (k >= 0 && !r->call_slot)
                        k = restart_get_job(r);
                if (k < 0)
                        restart_fail(r, k, NULL);
                return 0;
        }

        log_debug("%s: timed out waiting for %s", r->unit,
                  r->phase == PHASE_RESTART ? "the RestartUnit reply" : "systemd's answer");
        restart_fail(r, -ETIMEDOUT, NULL);
        return 0;
}

uint64_t restart_timeout_from_unit(uint64_t timeout_start_usec, uint64_t timeout_stop_usec) {
        uint64_t sum;

        if (timeout_start_usec == USEC_INFINITY || timeout_stop_usec == USEC_INFINITY ||
            timeout_start_usec > RESTART_TIMEOUT_AUTO_MAX_USEC || timeout_stop_usec > RESTART_TIMEOUT_AUTO_MAX_USEC)
                return RESTART_TIMEOUT_AUTO_MAX_USEC;
        sum = timeout_start_usec + timeout_stop_usec + RESTART_TIMEOUT_AUTO_SLACK_USEC;
        return sum < RESTART_TIMEOUT_AUTO_MAX_USEC ? sum : RESTART_TIMEOUT_AUTO_MAX_USEC;
}

int unit_restart(sd_bus *bus, const char *unit, uint64_t timeout_usec,
                 unit_restart_fn cb, void *userdata, UnitRestart **ret) {
        return unit_restart_full(bus, unit, &(UnitRestartOptions) { .timeout_usec = timeout_usec },
                                 cb, userdata, ret);
}

int unit_restart_full(sd_bus *bus, const char *unit, const UnitRestartOptions *opts,
                      unit_restart_fn cb, void *userdata, UnitRestart **ret) {
        UnitRestart *r;
        sd_event *e;
        int k;

        if (!bus || !unit || !opts || !cb || !ret || opts->timeout_usec == 0 ||
            (opts->adopt_job && (opts->wait_only || strlen(opts->adopt_job) >= UNIT_JOB_PATH_MAX)))
                return -EINVAL;

        e = sd_bus_get_event(bus);
        if (!e)
                return -EINVAL;  /* the caller must sd_bus_attach_event() first */

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;

        r->bus = sd_bus_ref(bus);
        r->cb = cb;
        r->userdata = userdata;
        r->on_job = opts->on_job;
        r->wait_only = opts->wait_only;
        r->cont_first = opts->cont_first;
        r->timeout_usec = opts->timeout_usec;
        r->outcome.adopted = !!opts->adopt_job;
        r->outcome.slow = opts->adopt_job && opts->slow_reported;
        r->outcome.deadline_usec = opts->timeout_usec == RESTART_TIMEOUT_AUTO ?
                RESTART_TIMEOUT_AUTO_MAX_USEC : opts->timeout_usec;

        r->unit = strdup(unit);
        if (!r->unit) {
                k = -ENOMEM;
                goto fail;
        }
        if (opts->adopt_job) {
                r->adopt_job = strdup(opts->adopt_job);
                if (!r->adopt_job) {
                        k = -ENOMEM;
                        goto fail;
                }
        }
        k = unit_object_path(unit, &r->unit_path);
        if (k < 0)
                goto fail;

        /* The match must be in place before RestartUnit is processed, or the
         * job's JobRemoved may be missed. Messages from one connection are
         * handled in order by the broker and by PID 1, so sending AddMatch
         * first is enough; we need not wait for its reply (which, on a
         * direct connection without a broker, never comes). Messages on a
         * direct connection carry no sender, so match on it only via a broker. */
        k = sd_bus_match_signal_async(bus, &r->match_slot,
                                      sd_bus_is_bus_client(bus) > 0 ? SD_DESTINATION : NULL,
                                      SD_MANAGER_PATH,
                                      SD_MANAGER_IFACE, "JobRemoved",
                                      on_job_removed, on_match_installed, r);
        if (k < 0)
                goto fail;
        (void) sd_bus_slot_set_description(r->match_slot, "job-removed");

        /* Unsubscribe is never called: other users of this connection may
         * rely on the subscription, and it ends with the connection anyway. */
        k = sd_bus_call_method_async(bus, &r->subscribe_slot, SD_DESTINATION, SD_MANAGER_PATH,
                                     SD_MANAGER_IFACE, "Subscribe", on_subscribe_reply, r, NULL);
        if (k < 0)
                goto fail;

        if (opts->timeout_usec == RESTART_TIMEOUT_AUTO) {
                r->phase = PHASE_TIMEOUTS;
                r->prop = 0;
                k = restart_get_property(r, SD_SERVICE_IFACE, "TimeoutStartUSec", on_timeout_prop_reply);
        } else {
                r->phase = PHASE_JOB_CHECK;
                k = restart_get_job(r);
        }
        if (k < 0)
                goto fail;

        /* Bounds the calls before RestartUnit; re-armed for the job. */
        k = restart_arm_timer(r, r->outcome.deadline_usec);
        if (k < 0)
                goto fail;

        log_debug("%s: %s (deadline %s)", unit,
                  r->wait_only ? "waiting until no job is pending" : r->adopt_job ? "resuming the wait for a restart job" : "restarting",
                  opts->timeout_usec == RESTART_TIMEOUT_AUTO ? "from the unit's timeouts" : "restart_timeout");
        *ret = r;
        return 0;

fail:
        unit_restart_free(r);
        return k;
}

UnitRestart *unit_restart_free(UnitRestart *r) {
        if (!r)
                return NULL;

        restart_drop_sources(r);
        for (size_t i = 0; i < r->n_seen; i++)
                free(r->seen[i].path);
        free(r->seen);
        free(r->old_pids);
        free(r->adopt_job);
        free(r->unit_path);
        free(r->unit);
        sd_bus_unref(r->bus);
        free(r);
        return NULL;
}

bool unit_restart_refused(const RestartOutcome *o) {
        return o && (o->error == -EACCES || o->error == -EPERM);
}
