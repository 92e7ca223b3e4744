#!/usr/bin/env bash
# Exim stuck after an outage (as scenario-50-exim-stuck.sh), and mta-watchdogd killed (SIGKILL)
# as soon as it announced its restart of exim4.service: the restart job runs on in systemd,
# the killed daemon never sees its result. systemd starts the watchdog again; from
# state_dir/state.json it resumes the incident and the budget and waits for the daemon it
# restarted, or calls the restart again when it never ran (the PID file still names the old
# daemon): exactly one new Exim daemon, one incident, no alert lost or doubled.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin

start_daemon
pid1=$(daemon_pid)
inv1=$(daemon_invocation)
track_master_pid
stuck_after_outage 10

budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 60))
E2E_POLL=0.2 wait_until "$budget" has_event action.started ||
    fail "no restart after ${budget}s; alerts: $(events | paste -sd, -)"
daemon_signal KILL
e2e_log "killed mta-watchdogd (pid $pid1) right after action.started"
wait_until 60 daemon_running_as_new_pid "$pid1" || fail "mta-watchdogd not running again: $(daemon_state)"
inv2=$(daemon_invocation)
wait_until 120 queue_empty || fail "queue not drained: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"
observe $((E2E_INTERVAL * 3))

incident=$(events --event stall.detected --field incident)
assert_eq "killed daemon: restarts through systemd" 1 "$(daemon_log_count "restarting through systemd" "$inv1")"
# The kill may come before systemd ran the call (it drops a caller gone while polkit decides):
# then the new daemon calls it again, once; otherwise it only verifies. Either way one restart.
again=$(daemon_log_count "calling it again" "$inv2")
e2e_log "the new daemon called the restart again: $again"
assert_eq "new daemon: restarts through systemd (only a restart that never ran)" "$again" \
    "$(daemon_log_count "restarting through systemd" "$inv2")"
assert_eq "exim daemon PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 10 "$(relay_count)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident across the kill" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "recovered in the stall's incident" "$incident" "$(events --event recovered --field incident)"
assert_eq "state.json: restarts (the budget survived)" 1 "$(state_restarts)"
assert_eq "exim4.service" "active running" "$(mta_state) $(mta_sub_state)"
assert_eq "watchdog still running" active "$(daemon_state)"
