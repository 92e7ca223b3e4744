/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

/* The one capability the shipped unit grants (AmbientCapabilities=
 * CAP_DAC_READ_SEARCH, capabilities(7)) is needed only to list Postfix's
 * 0700 queue directories. An ambient capability would stay effective for
 * everything the daemon reads and pass on to every program it runs (the
 * flush command, postconf). So the daemon narrows it at start-up and raises
 * it only in the spool-scan child.
 *
 * caps_confine(): clears the ambient set (PR_CAP_AMBIENT_CLEAR_ALL, so no
 * program executed later inherits anything) and drops every capability from
 * the effective set, keeping the permitted set for caps_raise_read_search().
 * Does nothing when running as root (euid 0). Returns 0, or a negative errno
 * from prctl(2)/capset(2). */
int caps_confine(void);

/* In a child that reads the queue directories: makes CAP_DAC_READ_SEARCH
 * effective again if it is permitted. Returns 1 when it is effective (or the
 * process runs as root), 0 when it is not permitted (the scan then works
 * with the user's own permissions), or a negative errno from capget/capset. */
int caps_raise_read_search(void);

/* Whether caps_kill() can signal another user's process: 1 when CAP_KILL
 * is permitted (or the process runs as root), 0 when not, or a negative
 * errno from capget(2). */
int caps_can_kill(void);

/* Sends SIG to PID with CAP_KILL effective for that one call, when it is
 * permitted (kill_hung_deliveries: a delivery runs as root or the MTA's
 * user; the shipped unit does not grant CAP_KILL, a drop-in does, README
 * "What it runs as"), and drops it again. Returns 0, or the negative errno
 * of kill(2) (-EPERM without the capability) or of capget/capset. */
int caps_kill(pid_t pid, int sig);

/* The same for the process PIDFD refers to (pidfd_open(2),
 * pidfd_send_signal(2)): a process that ended since the descriptor was
 * opened is -ESRCH, never another one that got its PID. Returns 0, -EBADF
 * for a negative PIDFD, or the negative errno of the call (-EPERM without
 * the capability) or of capget/capset. */
int caps_kill_pidfd(int pidfd, int sig);
