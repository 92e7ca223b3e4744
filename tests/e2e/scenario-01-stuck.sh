#!/usr/bin/env bash
# Outage, then the relay is back but Postfix's qmgr is frozen (SIGSTOP): the queue does not
# move although the network is fine. The watchdog must detect the stall, restart Postfix
# exactly once through systemd, see the queue drain, and alert stall.detected ... recovered.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

start_daemon
track_master_pid
stuck_after_outage 20

budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
e2e_log "waiting up to ${budget}s for the watchdog to heal Postfix"
wait_until "$budget" queue_empty ||
    fail "queue not drained after ${budget}s: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"

assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "stall.detected alerts" 1 "$(event_count stall.detected)"
assert_eq "restart action.started alerts" 1 "$(action_count action.started restart)"
assert_eq "restart action.succeeded alerts" 1 "$(event_count action.succeeded restart)"
assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident from outage to recovery" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "recovered in the stall's incident" \
    "$(events --event stall.detected --field incident)" "$(events --event recovered --field incident)"
assert_eq "watchdog still running" active "$(daemon_state)"
