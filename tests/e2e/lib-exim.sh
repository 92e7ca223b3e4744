# shellcheck shell=bash disable=SC2016,SC2034
# (SC2016: sh -c scripts are single-quoted on purpose; SC2034: settings used by scenarios)
# The Exim sandbox (E2E_MTA=exim): sourced at the end of lib.sh, it replaces the helpers that
# know Postfix with ones of the same name for Debian's Exim 4 (exim4-daemon-light, configured
# by debconf as a smarthost to the relay, rootfs-exim.sh; timers shortened by guest-setup.sh),
# and adds Exim's own. Facts used here (checked on the sandbox's Exim 4.96):
# - exim4.service is generated from /etc/init.d/exim4 by systemd-sysv-generator: MainPID 0,
#   the daemon's pid in /run/exim4/exim.pid, "active (exited)" once the daemon died;
# - the queue is <spool>/input/<id>-H (+ -D), the per-message log <spool>/msglog/<id>,
#   the main log /var/log/exim4/mainlog (Exim spec, chapters "Format of spool files" and
#   "Log files"); a delivery holds an fcntl write lock on its message's -D file.

E2E_SPOOL=/var/spool/exim4
E2E_MTA_UNIT=exim4.service
E2E_EXIM_PIDFILE=/run/exim4/exim.pid
E2E_EXIM_MAINLOG=/var/log/exim4/mainlog

# The running daemon's PID, from Exim's pid file (checked against /proc: the process must be
# /usr/sbin/exim4), 0 if none. Named master_pid like Postfix's, so that track_master_pid and
# master_pid_changes (lib.sh) count Exim daemon restarts.
master_pid() {
    e2e_exec sh -c 'p=$(tr -dc 0-9 < "$1" 2>/dev/null)
        if [ -n "$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/exim4 ]; then echo "$p"; else echo 0; fi' \
        sh "$E2E_EXIM_PIDFILE" 2>/dev/null || echo 0
}

# --- the queue --------------------------------------------------------------------------------
queue_count() { # messages in the queue: <id>-H files under input/ (split spool included)
    e2e_exec sh -c 'find "$1/input" -name "*-H" 2>/dev/null | wc -l' sh "$E2E_SPOOL"
}
deferred_count() { # messages in the queue whose own log (msglog, no "==" flag there) records a deferral
    e2e_exec sh -c 'n=0; for h in $(find "$1/input" -name "*-H" 2>/dev/null); do
            id=$(basename "$h" -H)
            if grep -q " defer (" "$1/msglog/$id" 2>/dev/null; then n=$((n + 1)); fi
        done; echo "$n"' sh "$E2E_SPOOL"
}
frozen_count() { # messages whose -H file carries the -frozen flag
    e2e_exec sh -c 'find "$1/input" -name "*-H" -exec grep -l "^-frozen " {} + 2>/dev/null | wc -l' sh "$E2E_SPOOL"
}
maildrop_count() { echo 0; }   # Exim has no maildrop: mail submitted with the daemon down is in input/
active_count() { echo 0; }
queue_ids() { # the ids of the queued messages, oldest first (the id begins with the arrival time)
    e2e_exec sh -c 'find "$1/input" -name "*-H" 2>/dev/null | sed "s|.*/||; s|-H$||" | sort' sh "$E2E_SPOOL"
}
# Exim's main log: lines that contain TEXT since the scenario began (MAINLOG_MARK, set by
# exim_log_mark; rotated files included, so that a logrotate in between loses nothing)
exim_log_mark() {
    E2E_MAINLOG_MARK=$(e2e_exec date '+%Y-%m-%d %H:%M:%S')
}
exim_log_lines() { # TEXT: the main log lines since exim_log_mark (or since the boot) that contain it
    e2e_exec sh -c 'for f in "$1".1 "$1"; do [ -f "$f" ] && cat "$f"; done |
        awk -v m="$2" "\$1 \" \" \$2 >= m" | grep -F -- "$3" || true' \
        sh "$E2E_EXIM_MAINLOG" "${E2E_MAINLOG_MARK:-0}" "$1"
}
exim_logged() { exim_log_lines "$1" | grep -c . || true; }   # TEXT: how many such lines
forced_queue_runs() { # queue runs started by "exim4 -qf" since exim_log_mark
    exim_log_lines "Start queue run: pid=" | grep -cE 'Start queue run: pid=[0-9]+ -qf$' || true
}
exim_has_logged() { [ "$(exim_logged "$1")" -gt 0 ]; }

# --- freezing and killing the daemon ----------------------------------------------------------
# the listening daemon stopped (SIGSTOP): alive, but it starts no queue runner
freeze_exim() { signal_master STOP "exim daemon" frozen; }
# exim4 processes in state T (stopped), e.g. a frozen daemon a restart left behind
stopped_exim_count() { stopped_count exim4; }
thaw_exim() { # every stopped exim process continues (the daemon, deliveries, queue runners)
    e2e_exec pkill -CONT -x exim4 || true
}
freeze_qmgr() { freeze_exim; }    # lib.sh's stuck_after_outage freezes "the queue manager"
thaw_qmgr() { thaw_exim; }
thaw_smtp() { :; }
# SIGKILL to the listening daemon (its queue runners and deliveries live on)
kill_exim_daemon() { signal_master KILL "exim daemon" killed; }

# --- configuration ----------------------------------------------------------------------------
exim_retry() { # RULE: the one retry rule (e.g. "F,1h,2m"), then Exim restarted to read it
    e2e_exec sh -c 'sed -i "s/^\*[[:space:]]\+\*[[:space:]]\+F,.*$/*                      *           $1/" \
        /etc/exim4/exim4.conf.template && grep -q "^\*  *\*  *$1\$" /etc/exim4/exim4.conf.template' sh "$1" ||
        fail "cannot set the retry rule $1"
    e2e_exec timeout 60 systemctl restart "$E2E_MTA_UNIT" || fail "exim4 restart failed"
    e2e_log "exim: retry rule $1 (restarted)"
}

# --- between scenarios --------------------------------------------------------------------------
e2e_reset_mta() { # Exim as guest-setup.sh left it, running, with an empty queue and the link up
    e2e_reset_begin
    e2e_exec sh -c 'cp /var/lib/e2e/exim4.default /etc/default/exim4
        cp /var/lib/e2e/exim4.conf.template.default /etc/exim4/exim4.conf.template'
    # the daemon's children (queue runners, deliveries) outlive a restart (KillMode=process):
    # end them all, then an empty spool and a fresh start
    e2e_exec timeout 60 systemctl stop "$E2E_MTA_UNIT" || true
    e2e_exec sh -c 'pkill -KILL -x exim4; rm -rf "$1"/input/* "$1"/msglog/* "$1"/db/*; true' sh "$E2E_SPOOL"
    e2e_exec timeout 60 systemctl start "$E2E_MTA_UNIT" || fail "reset: exim4 start failed"
    wait_until 30 queue_empty || fail "reset: queue not empty ($(queue_count))"
    wait_until 30 master_up || fail "reset: exim daemon not running"
}

# --- submission and hung deliveries -------------------------------------------------------------
queue_mail_only() { # N: N messages queued without a delivery attempt (sendmail -odq, exim4(8))
    e2e_exec sh -c 'i=0; while [ "$i" -lt "$1" ]; do i=$((i + 1));
        printf "Subject: e2e message %s\n\nmessage %s\n" "$i" "$i" |
            sendmail -odq -f e2e@mta-e2e.test user@remote.test || exit 1; done' sh "$1"
    e2e_log "queued $1 messages (-odq: no delivery attempt)"
}
delivery_pids() { # the processes of Exim deliveries ("exim4 -Mc ID"), one a line
    e2e_exec pgrep -f '^/usr/sbin/exim4 -Mc ' || true
}
lock_holder() { # ID: the pid holding the write lock on the message's -D file (/proc/locks), or nothing
    e2e_exec sh -c 'ino=$(stat -c %i "$1/input/$2-D" 2>/dev/null) || exit 0
        awk -v i=":$ino" "\$2 == \"POSIX\" && \$4 == \"WRITE\" && substr(\$6, length(\$6) - length(i) + 1) == i { print \$5 }" /proc/locks' \
        sh "$E2E_SPOOL" "$1"
}
_holds_lock() { [ -n "$(lock_holder "$1")" ]; }
hung_delivery() { # a delivery of one message stopped (SIGSTOP) while it holds the message:
    # the relay holds its answer to DATA, the delivery process and its transport child are
    # stopped, the relay is released (its greeting never stopped). Prints the message id.
    local id pids
    relay_hold
    queue_mail 1 >&2
    id=$(queue_ids | head -n1)
    [ -n "$id" ] || { relay_release; fail "no message queued"; }
    E2E_POLL=0.2 wait_until 30 _holds_lock "$id" || { relay_release; fail "no delivery holds $id"; }
    pids=$(delivery_pids | paste -sd' ' -)
    # shellcheck disable=SC2086
    e2e_exec kill -STOP $pids || { relay_release; fail "cannot stop the delivery ($pids)"; }
    relay_release
    e2e_log "delivery of $id stopped (SIGSTOP, pids $pids; -D lock held by $(lock_holder "$id"))"
    echo "$id"
}

# --- mta-watchdogd --once --json, as the daemon sees Exim ----------------------------------------
# One round run by hand as the service user (setpriv(1): its uid, gid and the groups
# join-mta-groups gave it, Debian-exim and adm) with the installed configuration, the command of
# README's "Watching Exim instead of Postfix". Its JSON is kept in E2E_ONCE_JSON, its exit status
# (0 healthy, 1 stalled, 2 unknown) in E2E_ONCE_RC.
exim_once() {
    E2E_ONCE_RC=0
    E2E_ONCE_JSON=$(e2e_exec setpriv --reuid=mta-watchdog --regid=mta-watchdog --init-groups \
        "$E2E_SBIN" --once --json -c /etc/mta-watchdog/mta-watchdog.ini 2>/dev/null) || E2E_ONCE_RC=$?
}
once_overdue() { exim_once; [ "$(once_field queue.overdue)" = "$1" ]; }   # N: --once sees N overdue
once_log() { e2e_log "mta-watchdogd --once --json as mta-watchdog: exit $E2E_ONCE_RC, queue $(once_field queue)"; }

# --- frozen messages (exim(8) -Mf, -Mt) ----------------------------------------------------------
_exim_frozen() { e2e_exec exim4 -Mf "$1" >/dev/null 2>&1 && [ "$(frozen_count)" -ge 1 ]; }
exim_freeze_message() { # ID: frozen; a queue run that holds the message makes -Mf wait for it
    E2E_POLL=0.5 wait_until 20 _exim_frozen "$1" || fail "exim4 -Mf $1 did not freeze it"
    e2e_log "message $1 frozen (exim4 -Mf)"
}
exim_thaw_message() { # ID: thawed
    e2e_exec exim4 -Mt "$1" >/dev/null 2>&1 || fail "exim4 -Mt $1 failed"
    e2e_log "message $1 thawed (exim4 -Mt)"
}
