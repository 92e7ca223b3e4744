# shellcheck shell=bash disable=SC2016,SC2034
# (SC2016: sh -c scripts are single-quoted on purpose; SC2034: settings used by scenarios)
# The Sendmail sandbox (E2E_MTA=sendmail): sourced at the end of lib.sh, it replaces the
# helpers that know Postfix with ones of the same name for Debian's Sendmail 8.17
# (sendmail-bin, a smarthost client of the relay, rootfs-sendmail.sh; queue interval
# shortened by guest-setup.sh), and adds Sendmail's own. Facts used here (checked on the
# sandbox's sendmail 8.17.1.9):
# - sendmail.service is generated from /etc/init.d/sendmail by systemd-sysv-generator:
#   MainPID 0; the daemon's pid is line 1 of /run/sendmail/mta/sendmail.pid (line 2 its
#   command line); its /proc/PID/exe is /usr/libexec/sendmail/sendmail;
# - the MTA queue is /var/spool/mqueue/qf<id> (+ df<id>); `sendmail` (the MSP) hands mail to
#   the daemon over SMTP on 127.0.0.1:25 and keeps it in /var/spool/mqueue-client when it
#   cannot (op.me "Queue directories", Debian's submit.mc);
# - the init script's stop sends SIGTERM only and gives up after 120 s, so a stopped
#   (SIGSTOP) daemon outlives `systemctl restart sendmail`.

E2E_SPOOL=/var/spool/mqueue
E2E_MSP_SPOOL=/var/spool/mqueue-client
E2E_MTA_UNIT=sendmail.service
E2E_SENDMAIL_PIDFILE=/run/sendmail/mta/sendmail.pid
E2E_HOSTSTATUS_DIR=/var/lib/sendmail/host_status
E2E_SENDMAIL_FLUSH_UNIT=mta-watchdog-sendmail-flush.service

# The running daemon's PID, from line 1 of Sendmail's pid file (checked against /proc: the
# process must run sendmail's binary), 0 if none. Named master_pid like Postfix's, so that
# track_master_pid and master_pid_changes (lib.sh) count Sendmail daemon restarts.
master_pid() {
    e2e_exec sh -c 'p=$(head -n1 "$1" 2>/dev/null | tr -dc 0-9)
        if [ -n "$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/libexec/sendmail/sendmail ]; then echo "$p"; else echo 0; fi' \
        sh "$E2E_SENDMAIL_PIDFILE" 2>/dev/null || echo 0
}

# --- the queue --------------------------------------------------------------------------------
queue_count() { # messages in the MTA queue: qf* files (queue groups and qf/ subdirectories included)
    e2e_exec sh -c 'find "$1" -name "qf*" -type f 2>/dev/null | wc -l' sh "$E2E_SPOOL"
}
msp_queue_count() { # messages in the submission (MSP) queue
    e2e_exec sh -c 'find "$1" -name "qf*" -type f 2>/dev/null | wc -l' sh "$E2E_MSP_SPOOL"
}
deferred_count() { # queued messages whose qf records a failed attempt (an "MDeferred: ..." line)
    e2e_exec sh -c 'find "$1" -name "qf*" -type f -exec grep -l "^MDeferred: " {} + 2>/dev/null | wc -l' sh "$E2E_SPOOL"
}
maildrop_count() { msp_queue_count; }
active_count() { echo 0; }
qf_field() { # LETTER: that line's value (T, K, N...) of every queued qf, one a line
    e2e_exec sh -c 'for f in $(find "$1" -name "qf*" -type f 2>/dev/null); do
        sed -n "s/^$2//p" "$f" | head -n1; done' sh "$E2E_SPOOL" "$1"
}

# --- Sendmail's log: the journal by syslog identifier (sm-mta: the daemon and its queue
# runs; sm-mta-runq: the flush unit's queue run; sendmail: submissions and runs by hand) ------
sendmail_log_lines() { # TEXT: such lines since the scenario began that contain TEXT
    journal_since_begin SYSLOG_IDENTIFIER=sm-mta SYSLOG_IDENTIFIER=sm-mta-runq SYSLOG_IDENTIFIER=sendmail -o cat --no-pager 2>/dev/null |
        grep -F -- "$1" || true
}
sendmail_logged() { sendmail_log_lines "$1" | grep -c . || true; }   # TEXT: how many such lines
# A real delivery attempt names the relay and its address ("relay=[192.0.2.2] [192.0.2.2]");
# a deferral from the host status cache names the relay alone ("relay=[192.0.2.2], dsn=").
cached_deferrals() { sendmail_logged "relay=[192.0.2.2], dsn=4"; }
sendmail_flushes() { # runs of the flush unit (sendmail-mta -qR@) since the scenario began
    # systemd's "Starting UNIT - ..." lines, from the whole journal: with --after-cursor,
    # journalctl -u (whose match for PID 1's lines about a unit is UNIT= and _PID=1) missed
    # them on the sandbox's systemd 252
    journal_since_begin -o cat --no-pager 2>/dev/null |
        grep -cF "Starting $E2E_SENDMAIL_FLUSH_UNIT - " || true
}

relay_distinct() { # messages at the relay told apart by their Message-Id (a resent one counts once)
    e2e_exec sh -c 'cat /var/lib/e2e/relay/* 2>/dev/null | grep -i "^Message-Id:" | sort -u | wc -l'
}

# --- freezing the daemon ------------------------------------------------------------------------
# the daemon stopped (SIGSTOP): alive, but it runs no queue and accepts nothing
freeze_sendmail() { signal_master STOP "sendmail daemon" frozen; }
# sendmail processes in state T (stopped), e.g. a frozen daemon a restart left behind
stopped_sendmail_count() { stopped_count sendmail-mta; }
thaw_sendmail() { e2e_exec pkill -CONT -x sendmail-mta || true; }
freeze_qmgr() { freeze_sendmail; }    # lib.sh's stuck_after_outage freezes "the queue manager"
thaw_qmgr() { thaw_sendmail; }
thaw_smtp() { :; }

# --- configuration ------------------------------------------------------------------------------
# Host status files on, as an admin turns them on: DAEMON_HOSTSTATS="Yes" in sendmail.conf and
# the failure of a host trusted for SECONDS (Timeout.hoststatus, confTO_HOSTSTATUS in
# sendmail.mc), sendmail.cf rebuilt by sendmailconfig (make alone does not apply sendmail.conf
# to sendmail.mc), then the daemon restarted to read it.
sendmail_hoststatus_on() { # SECONDS
    local line="define(\`confTO_HOSTSTATUS', \`${1}s')dnl"
    e2e_exec sh -c 'sed -i "s/^DAEMON_HOSTSTATS=.*/DAEMON_HOSTSTATS=\"Yes\";/" /etc/mail/sendmail.conf &&
        awk -v l="$3" "/^MAILER_DEFINITIONS/ { print l } { print }" /etc/mail/sendmail.mc > /etc/mail/sendmail.mc.new &&
        mv /etc/mail/sendmail.mc.new /etc/mail/sendmail.mc &&
        { yes y | sendmailconfig --no-reload >/dev/null 2>&1; true; } &&
        grep -q "^O HostStatusDirectory=$2\$" /etc/mail/sendmail.cf &&
        grep -q "^O Timeout.hoststatus=$1s\$" /etc/mail/sendmail.cf' sh "$1" "$E2E_HOSTSTATUS_DIR" "$line" ||
        fail "cannot turn host status on (Timeout.hoststatus ${1}s)"
    e2e_exec timeout 60 systemctl restart "$E2E_MTA_UNIT" || fail "sendmail restart failed"
    wait_until 30 master_up || fail "no sendmail daemon after the restart"
    e2e_log "sendmail: host status in $E2E_HOSTSTATUS_DIR, Timeout.hoststatus=${1}s (restarted)"
}
relay_host_status() { # the relay's host status file (/var/lib/sendmail/host_status/2./2./0./192), one line
    e2e_exec sh -c 'cat "$1/2./2./0./192" 2>/dev/null | paste -sd" " -' sh "$E2E_HOSTSTATUS_DIR"
}
relay_status_time() { # U line of the relay's host status: when sendmail last tried it (epoch), or 0
    e2e_exec sh -c 'sed -n "s/^U//p" "$1/2./2./0./192" 2>/dev/null | head -n1' sh "$E2E_HOSTSTATUS_DIR" |
        grep . || echo 0
}

# --- between scenarios ----------------------------------------------------------------------------
e2e_reset_mta() { # Sendmail as guest-setup.sh left it, running, with empty queues and the link up
    e2e_reset_begin
    # a scenario that changed the configuration: back to the sandbox's, sendmail.cf rebuilt
    if ! e2e_exec sh -c 'cmp -s /var/lib/e2e/sendmail.conf.default /etc/mail/sendmail.conf &&
            cmp -s /var/lib/e2e/sendmail.mc.default /etc/mail/sendmail.mc'; then
        e2e_exec sh -c 'cp /var/lib/e2e/sendmail.conf.default /etc/mail/sendmail.conf
            cp /var/lib/e2e/sendmail.mc.default /etc/mail/sendmail.mc
            yes y | sendmailconfig --no-reload >/dev/null 2>&1' || fail "reset: sendmailconfig failed"
    fi
    # a stopped daemon outlives the init script's stop: every sendmail process goes, then
    # empty queues, no host status, and a fresh start
    e2e_exec timeout 150 systemctl stop "$E2E_MTA_UNIT" || true
    e2e_exec sh -c 'pkill -KILL -x sendmail-mta; pkill -KILL -x sendmail-msp; sleep 0.2
        rm -f "$1"/* "$2"/* "$3"; rm -rf "$4"/*; true' \
        sh "$E2E_SPOOL" "$E2E_MSP_SPOOL" "$E2E_SENDMAIL_PIDFILE" "$E2E_HOSTSTATUS_DIR"
    e2e_exec systemctl reset-failed "$E2E_MTA_UNIT" 2>/dev/null || true
    e2e_exec timeout 60 systemctl start "$E2E_MTA_UNIT" || fail "reset: sendmail start failed"
    wait_until 30 queue_empty || fail "reset: queue not empty ($(queue_count))"
    wait_until 30 master_up || fail "reset: sendmail daemon not running"
}

# --- submission ---------------------------------------------------------------------------------
# N: N messages put in the MTA queue without a delivery attempt (sendmail-mta -Am -odq: -Am
# makes it the MTA, with sendmail.cf and /var/spool/mqueue; without it a submission goes
# through submit.cf, and with the daemon down to /var/spool/mqueue-client)
queue_mail_only() {
    e2e_exec sh -c 'i=0; while [ "$i" -lt "$1" ]; do i=$((i + 1));
        printf "Subject: e2e message %s\n\nmessage %s\n" "$i" "$i" |
            sendmail-mta -Am -odq -f e2e@mta-e2e.test user@remote.test || exit 1; done' sh "$1"
    e2e_log "queued $1 messages (sendmail-mta -Am -odq: no delivery attempt)"
}

# --- mta-watchdogd --once --json, as the daemon sees Sendmail -------------------------------------
# One round run by hand as the service user (setpriv(1): its uid, gid, the groups
# join-mta-groups gave it, and systemd-journal, which the unit adds with SupplementaryGroups=:
# Sendmail's log is the journal) with the installed configuration. Its JSON is kept in
# E2E_ONCE_JSON, its exit status (0 healthy, 1 stalled, 2 unknown) in E2E_ONCE_RC.
sendmail_once() {
    E2E_ONCE_RC=0
    E2E_ONCE_JSON=$(e2e_exec sh -c 'g=$(id -G mta-watchdog | tr " " ,),$(getent group systemd-journal | cut -d: -f3)
        exec setpriv --reuid=mta-watchdog --regid=mta-watchdog --groups="$g" "$1" --once --json \
            -c /etc/mta-watchdog/mta-watchdog.ini 2>/dev/null' sh "$E2E_SBIN") || E2E_ONCE_RC=$?
}
once_log() { e2e_log "mta-watchdogd --once --json as mta-watchdog: exit $E2E_ONCE_RC, reason '$(once_field reason)', queue $(once_field queue)"; }
