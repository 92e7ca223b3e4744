#!/usr/bin/env bash
# A slow start: a drop-in gives postfix@-.service an ExecStartPre= that sleeps 75s, longer
# than restart_timeout (60s here, set explicitly: an explicit value wins over the default
# "auto", which would allow the unit's own TimeoutStopSec= + TimeoutStartSec=). Ladder
# "restart restart", Postfix stuck after an outage. The restart job outlives the deadline:
# exactly one action.slow (warning) while the job is still pending, no action.failed, and
# never a second RestartUnit over the pending job (which would cancel it and start Postfix
# over); the job's result is awaited and judged as usual: action.succeeded, recovered.
# While the job runs, the daemon is reloaded (before the deadline) and killed (after
# action.slow; systemd starts it again): neither loses the pending job, action.slow is not
# sent twice, and the new daemon waits for the same job instead of restarting again.
# shellcheck disable=SC2016
# (SC2016: sh -c scripts are single-quoted on purpose)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin

SLOW_DIR=/etc/systemd/system/postfix@-.service.d
SLOW_DROPIN=$SLOW_DIR/e2e-slow-start.conf
SLOW_STARTS=/run/e2e-slow-starts          # one line per start of postfix@-.service
SLOW_SECS=75
slow_cleanup() {
    rm_cleanup
    e2e_exec sh -c 'rm -f "$1" "$2"; rmdir "$3" 2>/dev/null; systemctl daemon-reload' \
        sh "$SLOW_DROPIN" "$SLOW_STARTS" "$SLOW_DIR" || true
}
e2e_on_exit slow_cleanup
slow_starts() { e2e_exec sh -c 'if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi' sh "$SLOW_STARTS"; }

rm_config_set mta actions "restart restart"
rm_config_set mta restart_timeout 60s
rm_config_check

# Each start of the unit leaves a line, then sleeps: a start that systemd begins over
# (a second RestartUnit with "replace") shows as a second line.
e2e_exec sh -c 'mkdir -p "$1" && printf "%s\n" "[Service]" \
    "ExecStartPre=/bin/sh -c '\''echo start >> $3; exec sleep $4'\''" > "$2" &&
    systemctl daemon-reload' sh "$SLOW_DIR" "$SLOW_DROPIN" "$SLOW_STARTS" "$SLOW_SECS" ||
    fail "cannot install $SLOW_DROPIN"
e2e_log "postfix@-.service starts slowly from now on (ExecStartPre= sleeps ${SLOW_SECS}s)"

start_daemon
pid1=$(daemon_pid)
inv1=$(daemon_invocation)
track_master_pid
stuck_after_outage 20

budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 60))
e2e_log "waiting up to ${budget}s for the restart"
wait_until "$budget" has_event action.started ||
    fail "no restart after ${budget}s; alerts: $(events | paste -sd, -)"
t_started=$(e2e_now)

# Before the deadline: a reload must not drop the wait.
observe 15
daemon_reload
wait_until 90 has_event action.slow || fail "no action.slow; alerts: $(events | paste -sd, -)"
t_slow=$(e2e_now)
e2e_log "action.slow $((t_slow - t_started))s after action.started"
assert_eq "action.slow while the job is pending: state" REMEDIATING "$(events --event action.slow --field state)"
assert_eq "action.slow names the restart" restart "$(events --event action.slow --field action)"
assert_eq "action.slow severity" warning "$(events --event action.slow --field severity)"
assert_eq "action.slow: the job is still running" 1 "$(event_count action.slow "still running after 1m")"
assert_eq "Postfix still starting at action.slow" 0 "$(master_pid_changes)"

# After action.slow: killed; systemd starts it again (Restart=on-failure, RestartSec=5s).
daemon_signal KILL
wait_until 60 daemon_running_as_new_pid "$pid1" ||
    fail "mta-watchdogd not running again: $(daemon_state), pid $(daemon_pid)"
inv2=$(daemon_invocation)
e2e_log "mta-watchdogd running again (pid $(daemon_pid))"

wait_until $((SLOW_SECS + E2E_VERIFY_AFTER + 60)) has_event recovered ||
    fail "no recovered alert; alerts: $(events | paste -sd, -); master PID changes $(master_pid_changes)"
observe $((E2E_INTERVAL * 3))

assert_eq "starts of postfix@-.service (one restart, never begun over)" 1 "$(slow_starts)"
assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "RestartUnit calls, first daemon" 1 "$(daemon_log_count "calling RestartUnit(" "$inv1")"
assert_eq "RestartUnit calls, restarted daemon" 0 "$(daemon_log_count "calling RestartUnit(" "$inv2")"
assert_eq "restarted daemon waited for the same job" 1 \
    "$(daemon_log_count "issued before this daemon restarted" "$inv2")"
assert_eq "action.slow alerts" 1 "$(event_count action.slow)"
assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
assert_eq "restart action.started alerts" 1 "$(event_count action.started restart)"
assert_eq "restart action.succeeded alerts" 1 "$(event_count action.succeeded restart)"
assert_eq "recovered alerts" 1 "$(event_count recovered)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.slow action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "state.json: restarts" 1 "$(state_restarts)"
assert_eq "state.json: state" HEALTHY "$(state_state)"
assert_eq "state.json: no job pending" missing "$(state_file_field 'd.get("job", "missing")')"
assert_eq "watchdog still running" active "$(daemon_state)"
