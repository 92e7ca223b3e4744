#!/usr/bin/env bash
# An administrator stops Exim (systemctl stop exim4) while the network is fine. Mail queued
# meanwhile (sendmail -odq: no delivery attempt) waits in the spool and is soon overdue, but a
# stopped unit is not the watchdog's to restart: one mta.stopped, no stall, no restart, for
# longer than restore_grace + stall_after (scenario-06-admin-stop.sh for Exim).
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

cleanup() { e2e_exec timeout 60 systemctl start "$E2E_MTA_UNIT" || true; }
e2e_on_exit cleanup

start_daemon
track_master_pid
e2e_exec timeout 60 systemctl stop "$E2E_MTA_UNIT" || fail "systemctl stop exim4 failed"
wait_until 30 mta_stopped || fail "$E2E_MTA_UNIT did not stop: $(mta_state)"
e2e_log "exim stopped by the administrator ($E2E_MTA_UNIT: $(mta_state))"
queue_mail_only 5
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 20))
# `mta-watchdogd --once --json` as the service user: never-attempted mail is due at its arrival,
# so all 5 are overdue by now; no retry hints database (no failure), the msglog times alone
exim_once
once_log
assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
assert_eq "--once reason" "unit inactive/dead: not running, not ours to restart" "$(once_field reason)"
assert_eq "--once backlog" 5 "$(once_field queue.backlog)"
assert_eq "--once frozen" 0 "$(once_field queue.frozen)"
assert_eq "--once overdue" 5 "$(once_field queue.overdue)"
assert_eq "--once schedule_source" msglog "$(once_field queue.schedule_source)"
assert_eq "--once hung" null "$(once_field queue.hung)"

assert_eq "$E2E_MTA_UNIT" inactive "$(mta_state)"
assert_eq "exim daemon" 0 "$(master_pid)"
assert_eq "exim daemon PID changes" 0 "$(master_pid_changes)"
assert_eq "mail waiting in the spool" 5 "$(queue_count)"
assert_eq "mta.stopped alerts" 1 "$(event_count mta.stopped)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "mta.stopped" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"

cleanup
wait_until 60 queue_empty || fail "Exim did not deliver after its start: $(queue_count) left"
assert_eq "messages at the relay" 5 "$(relay_count)"
