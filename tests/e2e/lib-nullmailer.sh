# shellcheck shell=bash disable=SC2016,SC2034
# (SC2016: sh -c scripts are single-quoted on purpose; SC2034: settings used by scenarios)
# The nullmailer sandbox (E2E_MTA=nullmailer): sourced at the end of lib.sh, it replaces the
# helpers that know Postfix with ones of the same name for Debian's nullmailer 2.2 (its only
# remote the relay, rootfs-nullmailer.sh; timers shortened by guest-setup.sh), and adds
# nullmailer's own. Facts used here (checked on the sandbox's nullmailer 1:2.2-4, and in
# nullmailer-send(8)):
# - nullmailer.service is a native unit, Type=simple, User=mail, Restart=always: MainPID is
#   /usr/sbin/nullmailer-send; each delivery runs a protocol child /usr/lib/nullmailer/smtp;
# - the queue is /var/spool/nullmailer/queue/<arrival epoch>.<pid> (written to tmp/ first),
#   permanent failures move to failed/; the FIFO /var/spool/nullmailer/trigger wakes
#   nullmailer-send, which keeps it open for reading while it runs;
# - nullmailer-send logs to the journal (stdout): "Starting delivery: host: H protocol: P
#   file: F" before each attempt, then "Sent file.", "Sending failed: ..." or "Sending timed
#   out, killing protocol"; between runs it sleeps pausetime, doubled after every run up to
#   maxpause, and "Trigger pulled." when woken.

E2E_SPOOL=/var/spool/nullmailer
E2E_MTA_UNIT=nullmailer.service
E2E_NULLMAILER_TRIGGER=/var/spool/nullmailer/trigger

# nullmailer-send's pid (the unit's MainPID, checked against /proc: the process must be
# /usr/sbin/nullmailer-send), 0 if none. Named master_pid like Postfix's, so that
# track_master_pid and master_pid_changes (lib.sh) count nullmailer restarts.
master_pid() {
    e2e_exec sh -c 'p=$(systemctl show -p MainPID --value "$1" 2>/dev/null)
        if [ -n "$p" ] && [ "$p" != 0 ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/nullmailer-send ]; then echo "$p"; else echo 0; fi' \
        sh "$E2E_MTA_UNIT" 2>/dev/null || echo 0
}

# --- the queue --------------------------------------------------------------------------------
queue_count() { # messages in the queue (queue/, not tmp/ nor failed/)
    e2e_exec sh -c 'find "$1/queue" -maxdepth 1 -type f 2>/dev/null | wc -l' sh "$E2E_SPOOL"
}
failed_count() { # messages nullmailer gave up on (failed/)
    e2e_exec sh -c 'find "$1/failed" -maxdepth 1 -type f 2>/dev/null | wc -l' sh "$E2E_SPOOL"
}
queue_ids() { # the queue files' names (<arrival epoch>.<pid>), oldest first
    e2e_exec sh -c 'find "$1/queue" -maxdepth 1 -type f -printf "%f\n" 2>/dev/null | sort -n' sh "$E2E_SPOOL"
}
deferred_count() { queue_count; }   # nullmailer keeps no per-message state: queued is deferred
maildrop_count() { echo 0; }
active_count() { echo 0; }
queue_has() { [ "$(queue_count)" -ge "$1" ]; }   # N: at least N queued

# --- nullmailer-send's journal lines ----------------------------------------------------------
nullmailer_journal() { # the messages of nullmailer-send and its protocol children since the
    # scenario began (by the identifier in short output, not by a field match: journalctl 252
    # can return nothing for --after-cursor with one, scenario-52-exim-flush-on-restore.sh)
    journal_since_begin -o short --no-pager 2>/dev/null | sed -n 's/^.* nullmailer-send\[[0-9]*\]: //p'
}
nullmailer_lines() { # TEXT: those lines that contain TEXT
    nullmailer_journal | grep -F -- "$1" || true
}
runs_since_trigger() { # queue runs ("Rescanning queue.") since the last "Trigger pulled." or start
    nullmailer_journal | awk '$0 == "Trigger pulled." { n = 0; next } $0 == "Rescanning queue." { n++ } END { print n + 0 }'
}
nullmailer_logged() { nullmailer_lines "$1" | grep -c . || true; }   # TEXT: how many
nullmailer_has_logged() { [ "$(nullmailer_logged "$1")" -ge "${2:-1}" ]; }   # TEXT [N]

# --- the protocol child -----------------------------------------------------------------------
protocol_pids() { # the running protocol children (/usr/lib/nullmailer/smtp), one a line
    e2e_exec pgrep -f '^/usr/lib/nullmailer/smtp' || true
}
_protocol_running() { [ -n "$(protocol_pids)" ]; }
hung_send() { # nullmailer-send wedged after "Starting delivery" (nullmailer issue #75's shape):
    # the relay holds its answer to DATA, one message is queued, its protocol child is stopped
    # (SIGSTOP) while it waits, the relay is released. nullmailer-send, which takes SIGCHLD
    # without SA_NOCLDSTOP, then waits in waitpid(2) for a child that never ends: no outcome,
    # no "timed out" line, however long sendtimeout is. Prints the queue file's name.
    local pids id
    relay_hold
    queue_mail 1 >&2
    E2E_POLL=0.2 wait_until 30 _protocol_running || { relay_release; fail "no protocol child started"; }
    pids=$(protocol_pids | paste -sd' ' -)
    # shellcheck disable=SC2086
    e2e_exec kill -STOP $pids || { relay_release; fail "cannot stop the protocol child ($pids)"; }
    relay_release
    id=$(queue_ids | head -n1)
    e2e_log "nullmailer's protocol child stopped (SIGSTOP, pids $pids) while it delivered $id"
    echo "$id"
}
stopped_protocol_count() { stopped_count smtp; }   # protocol children in state T (stopped)
thaw_nullmailer() { # every stopped nullmailer process continues
    e2e_exec sh -c 'pkill -CONT -f "^/usr/lib/nullmailer/" ; pkill -CONT -x nullmailer-send; true'
}
# lib.sh's stuck_after_outage freezes "the queue manager": here nullmailer-send (SIGSTOP)
freeze_qmgr() { signal_master STOP nullmailer-send frozen; }
thaw_qmgr() { thaw_nullmailer; }
thaw_smtp() { :; }
pull_trigger() { # what nullmailer-queue does after queueing: one byte into the FIFO; a
    # non-blocking open (dd oflag=nonblock) fails at once when nobody reads it
    e2e_exec sh -c 'echo 1 | dd of="$1" oflag=nonblock status=none' sh "$E2E_NULLMAILER_TRIGGER"
}

# --- configuration ----------------------------------------------------------------------------
nullmailer_set() { # NAME VALUE: the control file /etc/nullmailer/NAME (reread at each queue run)
    e2e_exec sh -c 'echo "$2" > "/etc/nullmailer/$1"' sh "$1" "$2" || fail "cannot set nullmailer $1"
    e2e_log "nullmailer: $1 = $2"
}

# --- between scenarios --------------------------------------------------------------------------
e2e_reset_mta() { # nullmailer as guest-setup.sh left it, running, with an empty queue and the link up
    e2e_reset_begin
    e2e_exec timeout 60 systemctl stop "$E2E_MTA_UNIT" || true
    e2e_exec sh -c 'cp -p /var/lib/e2e/nullmailer.default/* /etc/nullmailer/
        rm -f "$1"/queue/* "$1"/tmp/* "$1"/failed/*; true' sh "$E2E_SPOOL"
    e2e_exec systemctl reset-failed "$E2E_MTA_UNIT" 2>/dev/null || true
    e2e_exec timeout 60 systemctl start "$E2E_MTA_UNIT" || fail "reset: nullmailer start failed"
    wait_until 30 queue_empty || fail "reset: queue not empty ($(queue_count))"
    wait_until 30 master_up || fail "reset: nullmailer-send not running"
}
