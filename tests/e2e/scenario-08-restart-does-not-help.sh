#!/usr/bin/env bash
# Restarting does not help: after the outage qmgr is frozen, and every qmgr that Postfix
# starts afterwards freezes itself at birth (lib-remediation.sh: qmgr_refreeze_on). With a
# ladder of three restarts but max_restarts = 2 in a long window, the watchdog must restart
# Postfix exactly twice, alert gave_up exactly once ("restart budget spent"), and then do
# nothing more for longer than stall_after + verify_after.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

max_restarts=2
# One restart step would give up after the first restart (ladder exhausted); three steps
# leave the budget, not the ladder, as the limit.
rm_config_set mta actions "restart restart restart"
rm_config_set mta max_restarts "$max_restarts"
rm_config_set mta restart_window 6h
rm_config_check

start_daemon
track_master_pid
stuck_after_outage 20 qmgr_refreeze_on

# restore_grace/stall_after, then per restart: the restart, its flush and verify_after
budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + max_restarts * (E2E_VERIFY_AFTER + 30) + 60))
e2e_log "waiting up to ${budget}s for $max_restarts restarts and gave_up"
wait_until "$budget" has_event gave_up ||
    fail "no gave_up after ${budget}s; alerts: $(events | paste -sd, -); master PID changes $(master_pid_changes)"
assert_eq "master PID changes until gave_up" "$max_restarts" "$(master_pid_changes)"
assert_eq "qmgr frozen at birth after the last restart" 1 "$(qmgr_self_frozen)"

quiet=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 10))
e2e_log "given up; watching for another ${quiet}s (stall_after + verify_after + 10s)"
observe "$quiet"

assert_eq "master PID changes" "$max_restarts" "$(master_pid_changes)"
assert_eq "restart action.started alerts" "$max_restarts" "$(action_count action.started restart)"
assert_eq "action.failed alerts (verification)" "$max_restarts" "$(event_count action.failed "no delivery within")"
assert_eq "action.succeeded alerts" 0 "$(event_count action.succeeded)"
assert_eq "gave_up alerts" 1 "$(event_count gave_up)"
assert_eq "gave_up because of the budget" 1 "$(event_count gave_up "restart budget spent: $max_restarts of $max_restarts")"
assert_eq "recovered alerts" 0 "$(event_count recovered)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.failed action.started action.failed gave_up" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "restarts_in_window in gave_up" "$max_restarts" "$(events --event gave_up --field details.restarts_in_window)"
assert_eq "queue still stuck" 20 "$(queue_count)"
assert_eq "messages at the relay" 0 "$(relay_count)"
assert_eq "state.json: restarts" "$max_restarts" "$(state_restarts)"
assert_eq "state.json: state" GAVE_UP "$(state_state)"
assert_eq "state.json: incident" "$(events --event gave_up --field incident)" "$(state_incident)"
assert_eq "watchdog still running" active "$(daemon_state)"
