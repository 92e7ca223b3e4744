#!/usr/bin/env bash
# A flapping link with qmgr frozen, and every qmgr that Postfix starts frozen too (a restart
# never helps): 20 link flaps (alternately 2s and 5s down) in three bursts, with quiet
# stretches between them long enough for a stall to be detected. Flapping must never push the
# restarts past the budget (max_restarts = 2 here): no restart while the link flaps (the
# restore_grace), one per quiet stretch while the budget lasts, then gave_up.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

max_restarts=2
flaps=0
flap_burst() { # N: N flaps, alternately short (2s down, 3s up) and long (5s down, 4s up)
    local i down up t
    t=$(e2e_uptime)
    for ((i = 0; i < $1; i++)); do
        if [ $((flaps % 2)) = 0 ]; then down=2 up=3; else down=5 up=4; fi
        e2e_exec ip link set veth-mta down
        sleep "$down"
        e2e_exec ip link set veth-mta up
        flaps=$((flaps + 1))
        sleep "$up"
        master_pid_changes >/dev/null   # sample the master PID
    done
    e2e_log "$1 link flaps in $(($(e2e_uptime) - t))s ($flaps so far); restarts so far: $(event_count action.started restart)"
}
quiet_until_restart() { # N: the link stays up until the Nth restart was alerted (+ its start)
    wait_until $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 30)) event_count_ge action.started "$1" restart ||
        fail "no restart #$1 in a quiet stretch; alerts: $(events | paste -sd, -)"
    observe 4
}

rm_config_set mta max_restarts "$max_restarts"
rm_config_set mta restart_window 6h
rm_config_check

start_daemon
track_master_pid
stuck_after_outage 20 qmgr_refreeze_on
t_flaps=$(e2e_uptime)

flap_burst 7
assert_eq "restarts while the link flapped" 0 "$(event_count action.started)"
quiet_until_restart 1
flap_burst 7            # interrupts the verification of restart #1
quiet_until_restart 2
flap_burst 6            # interrupts the verification of restart #2
e2e_log "$flaps flaps over $(($(e2e_uptime) - t_flaps))s; now the link stays up"
wait_until $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 30)) has_event gave_up ||
    fail "no gave_up after the budget was spent; alerts: $(events | paste -sd, -)"
observe $((E2E_INTERVAL * 5))

changes=$(master_pid_changes)
restarts=$(event_count action.started restart)
e2e_log "alerts: $(events | paste -sd' ' -)"
assert_eq "link flaps" 20 "$flaps"
assert_eq "restarts within max_restarts ($max_restarts)" yes "$([ "$changes" -le "$max_restarts" ] && echo yes || echo "no: $changes")"
assert_eq "restart action.started alerts = master PID changes" "$changes" "$restarts"
assert_eq "master PID changes" "$max_restarts" "$changes"
assert_eq "gave_up alerts" 1 "$(event_count gave_up)"
assert_eq "gave_up because of the budget" 1 "$(event_count gave_up "restart budget spent: $max_restarts of $max_restarts")"
assert_eq "stall.detected alerts (one per quiet stretch)" 3 "$(event_count stall.detected)"
assert_eq "action.succeeded alerts" 0 "$(event_count action.succeeded)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "queue still stuck" 20 "$(queue_count)"
assert_eq "state.json: restarts" "$max_restarts" "$(state_restarts)"
assert_eq "watchdog still running" active "$(daemon_state)"
