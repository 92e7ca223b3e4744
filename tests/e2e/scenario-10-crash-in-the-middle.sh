#!/usr/bin/env bash
# The stuck scenario, but mta-watchdogd is killed (SIGKILL) right after its first restart of
# Postfix. systemd starts it again (Restart=on-failure); from state_dir/state.json it must
# resume the incident and the restart budget: one incident id across all alerts from the
# outage to recovered, the restart still counted, and no second restart.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

start_daemon
pid1=$(daemon_pid)
inv1=$(daemon_invocation)
nrestarts0=$(daemon_nrestarts)
track_master_pid
stuck_after_outage 20

budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 60))
e2e_log "waiting up to ${budget}s for the first restart"
# Killed as soon as the restart is announced: the restart job (issued before the alert went
# out) runs on in systemd, and the killed daemon cannot have seen its outcome.
E2E_POLL=0.2 wait_until "$budget" has_event action.started ||
    fail "no restart after ${budget}s; alerts: $(events | paste -sd, -)"
daemon_signal KILL
e2e_log "killed mta-watchdogd (pid $pid1) right after action.started (master PID changes so far: $(master_pid_changes))"
wait_until 60 master_restarted 1 || fail "Postfix was not restarted (master $(master_pid))"
e2e_log "Postfix restarted (master $(master_pid))"
before_kill=$(events | paste -sd' ' -)
e2e_log "alerts before the kill: $before_kill"

# RestartSec=5s, then the start
wait_until 60 daemon_running_as_new_pid "$pid1" ||
    fail "mta-watchdogd not running again: $(daemon_state), pid $(daemon_pid), NRestarts $(daemon_nrestarts)"
pid2=$(daemon_pid)
inv2=$(daemon_invocation)
e2e_log "mta-watchdogd running again as pid $pid2"

wait_until 120 queue_empty || fail "queue not drained: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"
observe $((E2E_INTERVAL * 3))

incident=$(events --event stall.detected --field incident)
assert_eq "restarted by systemd (NRestarts)" $((nrestarts0 + 1)) "$(daemon_nrestarts)"
assert_eq "new daemon process" yes "$([ "$pid2" != "$pid1" ] && [ "$inv2" != "$inv1" ] && echo yes || echo no)"
assert_eq "killed daemon: restarts through systemd" 1 "$(daemon_log_count "restarting through systemd" "$inv1")"
assert_eq "new daemon resumed the budget and the incident" 1 \
    "$(daemon_log_count "resuming: 1 restart(s) in the last window, incident $incident" "$inv2")"
assert_eq "new daemon: restarts through systemd" 0 "$(daemon_log_count "restarting through systemd" "$inv2")"
assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "stall.detected alerts" 1 "$(event_count stall.detected)"
assert_eq "restart action.started alerts" 1 "$(event_count action.started restart)"
assert_eq "restart action.succeeded alerts" 1 "$(event_count action.succeeded restart)"
assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
assert_eq "gave_up alerts" 0 "$(event_count gave_up)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident from outage to recovery, across the crash" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "recovered in the stall's incident" "$incident" "$(events --event recovered --field incident)"
assert_eq "restarts_in_window in recovered" 1 "$(events --event recovered --field details.restarts_in_window)"
assert_eq "state.json: restarts (the budget survived)" 1 "$(state_restarts)"
assert_eq "state.json: incident closed" null "$(state_incident)"
assert_eq "state.json: state" HEALTHY "$(state_state)"
assert_eq "watchdog still running" active "$(daemon_state)"
assert_eq "watchdog pid unchanged since its restart" "$pid2" "$(daemon_pid)"
