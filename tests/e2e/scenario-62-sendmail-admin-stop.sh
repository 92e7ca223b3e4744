#!/usr/bin/env bash
# An administrator stops Sendmail (systemctl stop sendmail) while the network is fine. Mail
# queued meanwhile (sendmail-mta -Am -odq: no delivery attempt) waits in /var/spool/mqueue and is
# soon overdue, but a stopped unit is not the watchdog's to restart: one mta.stopped, no stall,
# no restart, for longer than restore_grace + stall_after (scenario-06-admin-stop.sh for Sendmail).
set -euo pipefail
E2E_MTA=sendmail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

cleanup() { e2e_exec timeout 60 systemctl start "$E2E_MTA_UNIT" || true; }
e2e_on_exit cleanup

start_daemon
track_master_pid
e2e_exec timeout 60 systemctl stop "$E2E_MTA_UNIT" || fail "systemctl stop sendmail failed"
wait_until 30 mta_stopped || fail "$E2E_MTA_UNIT did not stop: $(mta_state)"
e2e_log "sendmail stopped by the administrator ($E2E_MTA_UNIT: $(mta_state))"
queue_mail_only 5
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 20))
# `mta-watchdogd --once --json` as the service user: the unit is stopped, whatever the queue
sendmail_once
once_log
assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
assert_eq "--once reason" "unit inactive/dead: not running, not ours to restart" "$(once_field reason)"
assert_eq "--once backlog" 5 "$(once_field queue.backlog)"
assert_eq "--once overdue" 5 "$(once_field queue.overdue)"   # never tried: due since arrival

assert_eq "$E2E_MTA_UNIT" inactive "$(mta_state)"
assert_eq "sendmail daemon" 0 "$(master_pid)"
assert_eq "sendmail daemon PID changes" 0 "$(master_pid_changes)"
assert_eq "mail waiting in the queue" 5 "$(queue_count)"
assert_eq "mta.stopped alerts" 1 "$(event_count mta.stopped)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "forced queue runs (sendmail-mta -qR@)" 0 "$(sendmail_flushes)"
assert_eq "alerts" "mta.stopped" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"

cleanup
# the daemon's first queue run, at its start, sends what waited
wait_until 60 queue_empty || fail "Sendmail did not deliver after its start: $(queue_count) left"
assert_eq "messages at the relay" 5 "$(relay_count)"
