#!/usr/bin/env bash
# The stuck scenario with dry_run = yes: the watchdog detects the stall and alerts it, and
# alerts the restart it would make ("dry run: would restart", dry_run true), but touches
# nothing: Postfix is not restarted and the queue stays stuck. The ladder then runs out
# (nothing was done, so nothing moved): action.failed and gave_up, still in dry run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

rm_config_set watchdog dry_run yes
rm_config_check

start_daemon
track_master_pid
stuck_after_outage 20

budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 60))
e2e_log "waiting up to ${budget}s for the stall"
wait_until "$budget" has_event action.started || fail "no action.started after ${budget}s; alerts: $(events | paste -sd, -)"
wait_until $((E2E_VERIFY_AFTER + 30)) has_event gave_up || fail "no gave_up; alerts: $(events | paste -sd, -)"
observe $((E2E_INTERVAL * 5))

summary=$(events --event action.started --field summary)
e2e_log "action.started: $summary"
assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "queue still stuck (all deferred)" 20 "$(deferred_count)"
assert_eq "messages at the relay" 0 "$(relay_count)"
assert_eq "stall.detected alerts" 1 "$(event_count stall.detected)"
assert_eq "action.started alerts" 1 "$(event_count action.started)"
assert_eq "action.started summary starts with 'dry run: would restart'" yes \
    "$(case $summary in "dry run: would restart"*) echo yes ;; *) echo no ;; esac)"
assert_eq "action.started action" restart "$(events --event action.started --field action)"
assert_eq "action.started dry_run" true "$(events --event action.started --field dry_run)"
assert_eq "alerts with dry_run false" 0 "$(events --field dry_run | grep -vcx true || true)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.failed gave_up" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "journal: would restart" 1 "$(daemon_log_count "dry run: would restart")"
assert_eq "journal: restarting through systemd" 0 "$(daemon_log_count "restarting through systemd")"
assert_eq "status line says dry run" yes "$(case $(daemon_status_text) in *"(dry run)"*) echo yes ;; *) echo no ;; esac)"
# A dry run never spends the real budget: the state file is not written by it.
assert_eq "state.json written by the dry run" missing "$(state_state)"
assert_eq "watchdog still running" active "$(daemon_state)"
