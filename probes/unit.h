/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "probe.h"

typedef struct sd_bus sd_bus;

/* The MTA's systemd unit and the liveness judgement (type "unit",
 * PROBE_KIND_UNIT). See probes/unit.c. */
extern const struct probe_ops probe_unit_ops;

typedef struct UnitSettings {
        const char *unit;                 /* the MTA's unit, required */
        sd_bus *bus;                      /* system bus attached to the loop (NULL: every run
                                           * reports UNKNOWN) */
        const char *pid_file;             /* absolute path of the daemon's PID file, or NULL
                                           * when the unit's state (and MainPID) tell enough */
        const char *daemon_exe;           /* absolute path the PID file's process must run
                                           * (/proc/PID/exe), or NULL: any process will do */
} UnitSettings;

/* A PID file that exists but cannot be read (-EACCES, -EIO) makes the run
 * UNKNOWN: it tells nothing of the daemon. */

/* What U allows the detector to conclude: active with its MainPID (if
 * any) and the daemon of its PID file (if any) alive → RUNNING; active
 * with MainPID gone → TRANSITION; active with the PID file's daemon gone,
 * another program under its PID, or the file missing → DEAD; inactive →
 * STOPPED; failed → FAILED; any
 * other state (activating, deactivating, reloading) → TRANSITION. States
 * as org.freedesktop.systemd1(5) names them. */
UnitGate unit_gate_from_state(const UnitState *u);

/* Reads a PID file: its first line, one decimal number (a newline and more
 * lines may follow: Sendmail's second line is its command line).
 * Returns 0 and the PID, -EBADMSG when it holds no valid PID (a sign, a
 * blank, garbage, 0, more than INT32_MAX), -EBADFD when PATH is not a
 * regular file (a FIFO is never waited on), or the negative errno of
 * opening or reading it (-ENOENT, -EACCES, ...). */
int unit_read_pid_file(const char *path, uint32_t *ret);

/* Whether process PID runs the executable EXE (an absolute path), by
 * readlink(2) of /proc/PID/exe (proc(5)); a binary replaced on disk since
 * it started (a package upgrade) reads as "EXE (deleted)" and still counts.
 * Returns 1 yes, 0 another program, -ESRCH no such process, or the
 * negative errno of the readlink (-EACCES, -EPERM: another user's process
 * without CAP_SYS_PTRACE; -ENOENT: hidden by ProtectProc=invisible). */
int unit_pid_runs(uint32_t pid, const char *exe);
