/* SPDX-License-Identifier: MIT */
/* kill_hung_deliveries: ending a delivery process that has held a message
 * past the queue probe's threshold. Restarting the MTA does not end it
 * (Exim's deliveries are not the daemon, and its sysv-generated unit has
 * KillMode=process), and while it holds the message's lock nothing else
 * tries that message.
 *
 * The PID comes from a probe round, so before each signal a child checks
 * again, live: the process still holds the lock of that message (F_GETLK,
 * MtaProfile.lock_holder), and it does not run a program other than the
 * MTA's (/proc/PID/exe). In the shipped unit (ProtectProc=invisible,
 * ProcSubset=pid) another user's process cannot be looked at, the
 * readlink fails with ENOENT although the process lives, and then the
 * lock alone decides: a write lock on a spool file needs that file open
 * for writing, which only the MTA (its user, or root) can. A PID reused
 * since the round fails the lock check; the signal goes through a pidfd
 * opened before the check (pidfd_open(2)), so a holder that ended between
 * the check and the signal is never replaced by a process that got its
 * PID meanwhile (-ESRCH instead). Nothing is sent when the check cannot be
 * made or its answer is not a clear "this process holds this message".
 * SIGTERM first (Exim then defers the message, and another delivery picks
 * it up); SIGKILL HUNG_GRACE_USEC later if it still holds the lock (a
 * stopped process does not act on SIGTERM).
 *
 * The delivery runs as root or the MTA's user: the signal needs CAP_KILL,
 * which the shipped unit does not grant (README "What it runs as"); it is
 * effective only for the kill(2) call (caps_kill()). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "log.h"
#include "manager-internal.h"
#include "mta.h"
#include "unit.h"

#define HUNG_GRACE_USEC (10 * USEC_PER_SEC)
#define HUNG_CHECK_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* In the child: "LOCK HOLDER EXE\n", LOCK and EXE the results of
 * lock_holder() and unit_pid_runs(). */
static int hung_check_child(int out_fd, void *arg) {
        Manager *m = arg;
        const MtaProfile *prof = m->config->profile;
        uint32_t holder = 0;
        int lock, exe = -ENOENT;
        char line[64];

        (void) caps_raise_read_search();   /* the spool is the MTA's (Exim: 0750) */
        lock = prof->lock_holder(m->config->mta_settings, m->hung_id, &holder);
        if (prof->daemon_exe)
                exe = unit_pid_runs(m->hung_pid, prof->daemon_exe);
        (void) snprintf(line, sizeof(line), "%d %" PRIu32 " %d\n", lock, holder, exe);
        return write(out_fd, line, strlen(line)) == (ssize_t) strlen(line) ? 0 : 1;
}

static void hung_done(Manager *m) {
        m->hung_timer = sd_event_source_disable_unref(m->hung_timer);
        if (m->hung_pidfd >= 0)
                (void) close(m->hung_pidfd);
        m->hung_pidfd = -EBADF;
        m->hung_pid = 0;
        m->hung_id[0] = 0;
}

static int hung_start_check(Manager *m);

static int on_hung_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->hung_timer = sd_event_source_disable_unref(m->hung_timer);
        m->hung_sig = SIGKILL;
        if (hung_start_check(m) < 0)
                hung_done(m);
        return 0;
}

static void on_hung_check(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Manager *m = userdata;
        const char *sig = m->hung_sig == SIGKILL ? "SIGKILL" : "SIGTERM";
        int lock = 0, exe = 0, r;
        uint32_t holder = 0;

        m->hung_check = NULL;
        if (status != 0 || sscanf(output, "%d %" SCNu32 " %d", &lock, &holder, &exe) != 3) {
                log_warning("%s: cannot check delivery process %" PRIu32 " of message %s (%s), not sending %s",
                            m->config->unit, m->hung_pid, m->hung_id,
                            status == -ETIMEDOUT ? "timed out" : "check failed", sig);
                hung_done(m);
                return;
        }
        if (lock < 0) {
                log_warning("%s: cannot tell who holds message %s: %s; not sending %s",
                            m->config->unit, m->hung_id, strerror(-lock), sig);
                hung_done(m);
                return;
        }
        if (lock == 0 || holder != m->hung_pid) {
                log_notice("%s: message %s is no longer held by process %" PRIu32 "%s; nothing to end",
                           m->config->unit, m->hung_id, m->hung_pid,
                           m->hung_sig == SIGKILL ? " after SIGTERM" : "");
                hung_done(m);
                return;
        }
        if (exe == 0 || exe == -ESRCH) {
                log_warning("%s: process %" PRIu32 " holds message %s but is not the MTA's program; not sending %s",
                            m->config->unit, m->hung_pid, m->hung_id, sig);
                hung_done(m);
                return;
        }

        r = caps_kill_pidfd(m->hung_pidfd, m->hung_sig);
        if (r == -ESRCH) {
                log_notice("%s: delivery process %" PRIu32 " of message %s ended before %s; nothing to end",
                           m->config->unit, m->hung_pid, m->hung_id, sig);
                hung_done(m);
                return;
        }
        if (r < 0) {
                log_warning("%s: cannot send %s to delivery process %" PRIu32 " of message %s: %s%s",
                            m->config->unit, sig, m->hung_pid, m->hung_id, strerror(-r),
                            r == -EPERM ? " (the unit needs CAP_KILL: README \"What it runs as\")" : "");
                hung_done(m);
                return;
        }
        log_notice("%s: sent %s to delivery process %" PRIu32 ", hung on message %s",
                   m->config->unit, sig, m->hung_pid, m->hung_id);
        if (m->hung_sig == SIGKILL) {
                hung_done(m);
                return;
        }
        r = sd_event_add_time_relative(m->event, &m->hung_timer, CLOCK_MONOTONIC, HUNG_GRACE_USEC, 0,
                                       on_hung_grace, m);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot arm the timer for SIGKILL, ignoring: %m", m->config->unit);
                hung_done(m);
        }
}

static int hung_start_check(Manager *m) {
        int r;

        r = exec_fn(m->event, hung_check_child, m, HUNG_CHECK_TIMEOUT_USEC, on_hung_check, m, &m->hung_check);
        if (r < 0)
                log_warning_errno(r, "%s: cannot check delivery process %" PRIu32 ", not ending it: %m",
                                  m->config->unit, m->hung_pid);
        return r;
}

void manager_kill_hung(Manager *m, uint32_t pid, const char *id) {
        const MtaProfile *prof = m->config->profile;

        if (pid == 0 || pid > INT32_MAX || !id || !id[0])
                return;
        if (!prof || !prof->lock_holder) {
                log_warning("%s: kill_hung_deliveries: MTA type %s cannot tell who holds a message; "
                            "delivery process %" PRIu32 " is reported only",
                            m->config->unit, m->config->mta_type, pid);
                return;
        }
        if (m->hung_check || m->hung_timer) {
                log_notice("%s: still ending delivery process %" PRIu32 "; process %" PRIu32 " is reported only",
                           m->config->unit, m->hung_pid, pid);
                return;
        }
        if (m->config->dry_run) {
                log_notice("%s: dry run: would end delivery process %" PRIu32 " of message %s",
                           m->config->unit, pid, id);
                return;
        }
        /* The process itself from now on, whatever its PID becomes. */
        m->hung_pidfd = (int) syscall(SYS_pidfd_open, (pid_t) pid, 0);
        if (m->hung_pidfd < 0) {
                int r = -errno;

                m->hung_pidfd = -EBADF;
                if (r == -ESRCH)
                        log_notice("%s: delivery process %" PRIu32 " of message %s has ended; nothing to end",
                                   m->config->unit, pid, id);
                else
                        log_warning_errno(r, "%s: cannot open delivery process %" PRIu32 " (pidfd_open), "
                                          "not ending it: %m", m->config->unit, pid);
                return;
        }
        m->hung_pid = pid;
        (void) snprintf(m->hung_id, sizeof(m->hung_id), "%s", id);
        m->hung_sig = SIGTERM;
        if (hung_start_check(m) < 0)
                hung_done(m);
}

void manager_kill_hung_stop(Manager *m) {
        m->hung_check = exec_cancel(m->hung_check);
        hung_done(m);
}
