/* SPDX-License-Identifier: MIT */
/* The MTA's systemd unit: ActiveState and SubState (interface
 * org.freedesktop.systemd1.Unit), Result and MainPID (interface
 * org.freedesktop.systemd1.Service), read with two asynchronous
 * org.freedesktop.DBus.Properties.GetAll calls on the unit's object
 * (org.freedesktop.systemd1(5)).
 *
 * A unit that is not a service has no Service interface: systemd answers
 * GetAll with an error (UnknownInterface), older versions with an empty
 * dictionary. Either way Result is "" and MainPID 0, and the run is OK.
 *
 * The result carries the liveness judgement (UnitState.gate, from
 * unit_gate_from_state()): the unit's state, its MainPID, and where the
 * MTA type names one, the daemon's PID file, needed for sysv-generated
 * units (Debian's exim4.service, sendmail.service) whose MainPID is 0 and
 * which stay "active (exited)" after the daemon died.
 *
 * A unit that is inactive or failed is an observation like any other
 * (OK); only not being able to observe it is UNKNOWN: no bus, a D-Bus
 * error, a malformed reply, or the probe deadline. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "log.h"
#include "macros.h"
#include "probe.h"
#include "systemd.h"
#include "unit.h"

#define SD_DESTINATION "org.freedesktop.systemd1"
#define SD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SD_SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define DBUS_PROPERTIES_IFACE "org.freedesktop.DBus.Properties"

typedef struct UnitProbe {
        sd_bus *bus;             /* NULL: every run is UNKNOWN */
        char *unit;
        char *pid_file;          /* NULL: liveness from the unit alone */
        char *daemon_exe;        /* NULL: any process under the PID file's PID */
        char *path;              /* the unit's object path */
        sd_bus_slot *slot;       /* the GetAll call in flight */
        UnitState state;         /* being filled by the run */
} UnitProbe;

/* Properties read, by interface. */
typedef struct UnitProperty {
        const char *interface;
        const char *name;
        size_t offset;           /* in UnitState */
        char type;               /* 's': char[UNIT_FIELD_MAX]; 'u': uint32_t; 't': uint64_t */
        bool required;           /* a reply without it is malformed */
} UnitProperty;

static const UnitProperty unit_properties[] = {
        { SD_UNIT_IFACE,    "ActiveState", offsetof(UnitState, active_state), 's', true  },
        { SD_UNIT_IFACE,    "SubState",    offsetof(UnitState, sub_state),    's', true  },
        { SD_SERVICE_IFACE, "Result",      offsetof(UnitState, result),       's', false },
        { SD_SERVICE_IFACE, "MainPID",     offsetof(UnitState, main_pid),     'u', false },
        { SD_UNIT_IFACE,    "StartLimitBurst",        offsetof(UnitState, start_limit_burst),         'u', false },
        { SD_UNIT_IFACE,    "StartLimitIntervalUSec", offsetof(UnitState, start_limit_interval_usec), 't', false },
};

static void copy_field(char dst[static UNIT_FIELD_MAX], const char *src) {
        size_t n = strnlen(src, UNIT_FIELD_MAX - 1);

        memcpy(dst, src, n);
        dst[n] = 0;
}

/* Reads the a{sv} of a GetAll reply for INTERFACE into U: the properties
 * of unit_properties[] of that interface, by name; others are skipped.
 * Returns 0, -EBADMSG when a required one is missing, or the sd-bus error
 * of a value of the wrong type. */
static int unit_read_properties(sd_bus_message *m, const char *interface, UnitState *u) {
        bool seen[ELEMENTSOF(unit_properties)] = {};
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const UnitProperty *prop = NULL;
                const char *name;
                size_t i;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                for (i = 0; i < ELEMENTSOF(unit_properties); i++)
                        if (strcmp(unit_properties[i].interface, interface) == 0 &&
                            strcmp(unit_properties[i].name, name) == 0) {
                                prop = &unit_properties[i];
                                break;
                        }

                if (!prop)
                        r = sd_bus_message_skip(m, "v");
                else if (prop->type == 'u')
                        r = sd_bus_message_read(m, "v", "u", (uint32_t *) ((char *) u + prop->offset));
                else if (prop->type == 't')
                        r = sd_bus_message_read(m, "v", "t", (uint64_t *) ((char *) u + prop->offset));
                else {
                        const char *s;

                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r >= 0)
                                copy_field((char *) u + prop->offset, s);
                }
                if (r < 0)
                        return r;
                if (prop)
                        seen[i] = true;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(unit_properties); i++)
                if (unit_properties[i].required && !seen[i] &&
                    strcmp(unit_properties[i].interface, interface) == 0)
                        return -EBADMSG;
        return 0;
}

/* The process exists (EPERM: it does, but is not ours to signal). */
static bool pid_alive(uint32_t pid) {
        if (pid == 0 || pid > INT32_MAX)
                return false;
        return kill((pid_t) pid, 0) == 0 || errno == EPERM;
}

static const char *const unit_gate_table[_UNIT_GATE_MAX] = {
        [UNIT_GATE_UNKNOWN]    = "unknown",
        [UNIT_GATE_RUNNING]    = "running",
        [UNIT_GATE_TRANSITION] = "transition",
        [UNIT_GATE_STOPPED]    = "stopped",
        [UNIT_GATE_FAILED]     = "failed",
        [UNIT_GATE_DEAD]       = "dead",
};

const char *unit_gate_to_string(UnitGate g) {
        if ((unsigned) g >= ELEMENTSOF(unit_gate_table))
                return NULL;
        return unit_gate_table[g];
}

UnitGate unit_gate_from_state(const UnitState *u) {
        if (strcmp(u->active_state, "active") == 0) {
                if (u->main_pid != 0 && !u->main_pid_alive)
                        return UNIT_GATE_TRANSITION;
                /* A sysv-generated unit stays "active (exited)" when its daemon dies. */
                if (u->have_pid_file && !u->pid_file_alive)
                        return UNIT_GATE_DEAD;
                return UNIT_GATE_RUNNING;
        }
        if (strcmp(u->active_state, "inactive") == 0)
                return UNIT_GATE_STOPPED;
        if (strcmp(u->active_state, "failed") == 0)
                return UNIT_GATE_FAILED;
        return UNIT_GATE_TRANSITION; /* activating, deactivating, reloading, maintenance, ... */
}

int unit_read_pid_file(const char *path, uint32_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        char *end;
        unsigned long v;
        struct stat st;
        ssize_t n;

        /* O_NONBLOCK: a FIFO put in its place must not block the loop in open(2). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        /* The first line: digits, then a newline or the end; nothing after a
         * NUL byte is hidden. Sendmail writes its command line on a second
         * line (sendmail's op.me, "PidFile"; seen on Debian's
         * /run/sendmail/mta/sendmail.pid). */
        buf[n] = '\0';
        end = memchr(buf, '\n', (size_t) n);
        if (end)
                n = end - buf;
        buf[n] = '\0';
        if (n == 0 || strspn(buf, "0123456789") != (size_t) n)
                return -EBADMSG;
        errno = 0;
        v = strtoul(buf, &end, 10);
        if (errno != 0 || v == 0 || v > INT32_MAX)
                return -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

int unit_pid_runs(uint32_t pid, const char *exe) {
        char path[32], buf[PATH_MAX + 16];
        size_t n = strlen(exe);
        ssize_t k;

        if (pid == 0 || pid > INT32_MAX)
                return -ESRCH;
        (void) snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", pid);
        k = readlink(path, buf, sizeof(buf) - 1);
        if (k < 0) {
                int r = negative_errno();

                /* ENOENT: gone, or hidden from us; kill(2) tells which. */
                if (r == -ENOENT && !pid_alive(pid))
                        return -ESRCH;
                return r;
        }
        buf[k] = 0;
        if (strncmp(buf, exe, n) != 0)
                return 0;
        return buf[n] == 0 || strcmp(buf + n, " (deleted)") == 0;
}

/* "active/running, MainPID 123", "failed/failed, result start-limit-hit,
 * no MainPID", "active/running, MainPID 123 gone", "active/exited, no
 * MainPID, PID file /run/x.pid: 42 gone". */
static void unit_complete_ok(Probe *p) {
        UnitProbe *st = p->state;
        ProbeResult r = { .status = PROBE_OK, .unit = st->state };
        char result[UNIT_FIELD_MAX + 16] = "", pid[48], pidfile[PROBE_REASON_MAX / 2] = "";

        r.unit.main_pid_alive = pid_alive(r.unit.main_pid);
        if (st->pid_file) {
                int k;

                /* A few bytes in /run (tmpfs): read on the loop. */
                r.unit.have_pid_file = true;
                k = unit_read_pid_file(st->pid_file, &r.unit.pid_file_pid);
                /* Missing or holding no PID: the daemon is gone. Unreadable
                 * (EACCES: the user is not in the MTA's group) says nothing
                 * of the daemon: this round is unknown, never "dead". */
                if (k < 0 && k != -ENOENT && k != -EBADMSG) {
                        probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(k), NULL,
                                       "unit: PID file %s: %s", st->pid_file,
                                       k == -EBADFD ? "not a regular file" : strerror(-k));
                        return;
                }
                if (k < 0) {
                        r.unit.pid_file_pid = 0;
                        (void) snprintf(pidfile, sizeof(pidfile), ", PID file %s: %s", st->pid_file,
                                        k == -EBADMSG ? "no PID in it" : strerror(-k));
                } else {
                        const char *how = "";

                        r.unit.pid_file_alive = pid_alive(r.unit.pid_file_pid);
                        if (!r.unit.pid_file_alive)
                                how = " gone";
                        else if (st->daemon_exe) {
                                /* A PID reused by another program is not the daemon.
                                 * Another user's process cannot be looked at in
                                 * the unit's sandbox (ProtectProc=invisible, no
                                 * CAP_SYS_PTRACE): then the PID file is believed. */
                                k = unit_pid_runs(r.unit.pid_file_pid, st->daemon_exe);
                                if (k == 0) {
                                        r.unit.pid_file_alive = false;
                                        how = " not the daemon (another program)";
                                } else if (k == -ESRCH) {
                                        r.unit.pid_file_alive = false;
                                        how = " gone";
                                } else if (k < 0)
                                        how = " (executable not readable)";
                        }
                        (void) snprintf(pidfile, sizeof(pidfile), ", PID file %s: %" PRIu32 "%s", st->pid_file,
                                        r.unit.pid_file_pid, how);
                }
        }
        r.unit.gate = unit_gate_from_state(&r.unit);
        if (r.unit.result[0] && strcmp(r.unit.result, "success") != 0)
                (void) snprintf(result, sizeof(result), ", result %s", r.unit.result);
        if (r.unit.main_pid == 0)
                (void) snprintf(pid, sizeof(pid), "no MainPID");
        else
                (void) snprintf(pid, sizeof(pid), "MainPID %" PRIu32 "%s", r.unit.main_pid,
                                r.unit.main_pid_alive ? "" : " gone");
        (void) snprintf(r.reason, sizeof(r.reason), "%s/%s%s, %s%.*s",
                        r.unit.active_state, r.unit.sub_state, result, pid,
                        (int) (sizeof(r.reason) - 3 * UNIT_FIELD_MAX - sizeof(pid) - 24), pidfile);
        probe_complete_result(p, &r);
}

static void unit_complete_bus_error(Probe *p, const sd_bus_error *e) {
        probe_complete(p, PROBE_UNKNOWN,
                       sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) ? PROBE_OUTCOME_PERMISSION :
                       sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) ? PROBE_OUTCOME_TIMEOUT : PROBE_OUTCOME_LOCAL_ERROR,
                       NULL, "unit: GetAll: %s",
                       e->message ? e->message : e->name ? e->name : "unknown error");
}

/* A unit that is not a service has no Service interface. */
static bool bus_error_is_no_service(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
                sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY) ||
                sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS);
}

static int unit_get_all(Probe *p, const char *interface, sd_bus_message_handler_t cb) {
        UnitProbe *st = p->state;

        st->slot = sd_bus_slot_unref(st->slot);
        /* sd-bus's default call timeout (25s); the probe deadline bounds it. */
        return sd_bus_call_method_async(st->bus, &st->slot, SD_DESTINATION, st->path,
                                        DBUS_PROPERTIES_IFACE, "GetAll", cb, p, "s", interface);
}

static int on_service_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Probe *p = userdata;
        UnitProbe *st = p->state;
        int r;

        st->slot = sd_bus_slot_unref(st->slot);

        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);

                if (!bus_error_is_no_service(e)) {
                        unit_complete_bus_error(p, e);
                        return 0;
                }
                st->state.result[0] = 0;
                st->state.main_pid = 0;
        } else {
                r = unit_read_properties(m, SD_SERVICE_IFACE, &st->state);
                if (r < 0) {
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_PARSE_ERROR, NULL, "unit: GetAll %s: malformed reply: %s",
                                       SD_SERVICE_IFACE, strerror(-r));
                        return 0;
                }
        }

        unit_complete_ok(p);
        return 0;
}

static int on_unit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Probe *p = userdata;
        UnitProbe *st = p->state;
        int r;

        st->slot = sd_bus_slot_unref(st->slot);

        if (sd_bus_message_is_method_error(m, NULL)) {
                unit_complete_bus_error(p, sd_bus_message_get_error(m));
                return 0;
        }
        r = unit_read_properties(m, SD_UNIT_IFACE, &st->state);
        if (r < 0) {
                probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_PARSE_ERROR, NULL, "unit: GetAll %s: malformed reply: %s",
                               SD_UNIT_IFACE, strerror(-r));
                return 0;
        }

        r = unit_get_all(p, SD_SERVICE_IFACE, on_service_reply);
        if (r < 0)
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "unit: GetAll: %s", strerror(-r));
        return 0;
}

static void unit_cancel(Probe *p) {
        UnitProbe *st = p->state;

        st->slot = sd_bus_slot_unref(st->slot);
}

static int unit_start(Probe *p) {
        UnitProbe *st = p->state;
        int r;

        unit_cancel(p);
        st->state = (UnitState) {};

        if (!st->bus) {
                probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_LOCAL_ERROR, NULL, "unit: no system bus");
                return 0;
        }
        /* A bus that cannot send (closed, not connected) is an observation
         * that failed, not a probe that cannot start. */
        r = unit_get_all(p, SD_UNIT_IFACE, on_unit_reply);
        if (r < 0)
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "unit: GetAll: %s", strerror(-r));
        return 0;
}

static void unit_done(Probe *p) {
        UnitProbe *st = p->state;

        unit_cancel(p);
        st->bus = sd_bus_unref(st->bus);
        free(st->path);
        free(st->unit);
        free(st->pid_file);
        free(st->daemon_exe);
}

static int unit_init(Probe *p, const void *settings) {
        const UnitSettings *s = settings;
        UnitProbe *st = p->state;
        int r;

        if (!s || !s->unit || !s->unit[0]) {
                log_error("probe %s: unit needs a unit name", p->name);
                return -EINVAL;
        }
        if (s->bus && !sd_bus_get_event(s->bus)) {
                log_error("probe %s: the bus is not attached to an event loop", p->name);
                return -EINVAL;
        }
        if (s->pid_file && s->pid_file[0] != '/') {
                log_error("probe %s: the PID file %s is not an absolute path", p->name, s->pid_file);
                return -EINVAL;
        }
        if (s->daemon_exe && s->daemon_exe[0] != '/') {
                log_error("probe %s: the daemon's executable %s is not an absolute path", p->name, s->daemon_exe);
                return -EINVAL;
        }
        if (s->daemon_exe) {
                st->daemon_exe = strdup(s->daemon_exe);
                if (!st->daemon_exe)
                        return -ENOMEM;
        }
        st->unit = strdup(s->unit);
        if (!st->unit)
                return -ENOMEM;
        if (s->pid_file) {
                st->pid_file = strdup(s->pid_file);
                if (!st->pid_file)
                        return -ENOMEM;
        }
        r = unit_object_path(s->unit, &st->path);
        if (r < 0)
                return r;
        st->bus = sd_bus_ref(s->bus);
        return 0;
}

const struct probe_ops probe_unit_ops = {
        .type = "unit",
        .kind = PROBE_KIND_UNIT,
        .state_size = sizeof(UnitProbe),
        .init = unit_init,
        .start = unit_start,
        .cancel = unit_cancel,
        .done = unit_done,
};
