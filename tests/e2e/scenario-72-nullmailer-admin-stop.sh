#!/usr/bin/env bash
# An administrator stops nullmailer (systemctl stop nullmailer) while the network is fine.
# Mail queued meanwhile waits in /var/spool/nullmailer/queue (nullmailer-queue's trigger pull
# finds no reader and is dropped), older than stall_after soon, with no delivery attempt
# logged: everything the generic rule looks at, but a stopped unit is not the watchdog's to
# restart (and Restart=always does not restart a unit stopped by hand): one mta.stopped, no
# stall, no flush, no restart, for longer than restore_grace + stall_after
# (scenario-06-admin-stop.sh for nullmailer). Started again, nullmailer sends the queue.
set -euo pipefail
E2E_MTA=nullmailer
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

cleanup() { e2e_exec timeout 60 systemctl start "$E2E_MTA_UNIT" || true; }
e2e_on_exit cleanup

start_daemon
track_master_pid
e2e_exec timeout 60 systemctl stop "$E2E_MTA_UNIT" || fail "systemctl stop nullmailer failed"
wait_until 30 mta_stopped || fail "$E2E_MTA_UNIT did not stop: $(mta_state)"
e2e_log "nullmailer stopped by the administrator ($E2E_MTA_UNIT: $(mta_state))"
queue_mail 3
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 10))

assert_eq "$E2E_MTA_UNIT" "inactive dead" "$(mta_state) $(mta_sub_state)"
assert_eq "nullmailer-send" 0 "$(master_pid)"
assert_eq "nullmailer-send PID changes" 0 "$(master_pid_changes)"
assert_eq "mail waiting in the queue" 3 "$(queue_count)"
assert_eq "mta.stopped alerts" 1 "$(event_count mta.stopped)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "mta.stopped" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"

cleanup
wait_until 60 queue_empty || fail "nullmailer did not send after its start: $(queue_count) left"
assert_eq "messages at the relay" 3 "$(relay_count)"
