#!/usr/bin/env bash
# A delivery that hangs while it holds its message: the relay keeps the delivery waiting after
# DATA, the delivery process (exim4 -Mc ID) and its transport child are stopped (SIGSTOP), the
# relay answers again. Exim's queue runs skip the message ("Spool file ... is locked"), and a
# restart would not end the process, so none is made (a held message is not overdue). The
# watchdog, which cannot see Exim's processes in /proc (the shipped unit's ProtectProc=invisible),
# reports the hung delivery (holder pid and message id) once it has seen the process hold the
# message for hung_delivery_after; it starts looking when the message is that old, so the alert
# comes about twice hung_delivery_after after the arrival (probes/exim.c). With
# kill_hung_deliveries = yes and CAP_KILL granted by a drop-in (README "What it runs as"), it
# ends the process (SIGTERM, which a stopped process does not act on, then SIGKILL 10 s later),
# and the next queue run delivers the message.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin

CAP_KILL_DROPIN=/etc/systemd/system/$E2E_DAEMON_UNIT.d/e2e-cap-kill.conf
cap_kill_grant() { # the drop-in an admin adds for kill_hung_deliveries (README "What it runs as")
    e2e_exec sh -c 'mkdir -p "$(dirname "$1")" &&
        printf "[Service]\nAmbientCapabilities=CAP_KILL\nCapabilityBoundingSet=CAP_KILL\n" > "$1" &&
        systemctl daemon-reload' sh "$CAP_KILL_DROPIN" || fail "cannot install $CAP_KILL_DROPIN"
    e2e_log "drop-in $CAP_KILL_DROPIN: CAP_KILL"
}
cleanup() {
    e2e_exec sh -c 'if [ -f "$1" ]; then rm -f "$1"; rmdir "$(dirname "$1")" 2>/dev/null; systemctl daemon-reload; fi' \
        sh "$CAP_KILL_DROPIN" || true
    rm_cleanup
}
e2e_on_exit cleanup

hung_after=15
# looked at once the message is older than hung_after, reported hung_after later (+ rounds)
report_within=$((2 * hung_after + 3 * E2E_INTERVAL + 10))
rm_config_set mta hung_delivery_after "${hung_after}s"
start_daemon
exim_log_mark
track_master_pid
id=$(hung_delivery)
holder=$(lock_holder "$id")
_hung_reported() { has_event delivery.hung; }
wait_until "$report_within" _hung_reported ||
    fail "the hung delivery was not reported within ${report_within}s; alerts: $(events | paste -sd, -)"
assert_eq "delivery.hung alerts" 1 "$(event_count delivery.hung)"
assert_eq "delivery.hung names the message" 1 "$(event_count delivery.hung "$id")"
assert_eq "delivery.hung names the holder" 1 "$(event_count delivery.hung "$holder")"
assert_ge "queue runs that skipped the locked message" 1 "$(exim_logged "Spool file for $id is locked")"
assert_eq "the delivery still holds the message" "$holder" "$(lock_holder "$id")"
assert_eq "messages at the relay" 0 "$(relay_count)"
# a restart does not end a delivery: none was made, the message held is not a stall
assert_eq "alerts besides delivery.hung" "" "$(events | grep -vx delivery.hung | paste -sd, -)"
assert_eq "exim daemon restarts" 0 "$(master_pid_changes)"
assert_eq "messages in the queue" 1 "$(queue_count)"

# the opt-in step: CAP_KILL by a drop-in, the daemon restarted with kill_hung_deliveries = yes
stop_daemon
cap_kill_grant
rm_config_set mta kill_hung_deliveries yes
start_daemon
# the daemon's own clock starts again (hung_after), then SIGTERM, SIGKILL 10 s later, and
# Exim's next queue run (QUEUEINTERVAL 10s in the sandbox)
ended_within=$((hung_after + 3 * E2E_INTERVAL + 10 + 10 + 20))
wait_until "$ended_within" queue_empty ||
    fail "the hung delivery was not ended within ${ended_within}s: $(queue_count) left, holder $(lock_holder "$id"); alerts: $(events | paste -sd, -)"
assert_eq "holder process gone" no "$(e2e_exec test -d "/proc/$holder" && echo yes || echo no)"
assert_eq "messages at the relay" 1 "$(relay_count)"
assert_eq "the message delivered" 1 "$(exim_logged "$id Completed")"
assert_eq "delivery.hung alerts (one per daemon run)" 2 "$(event_count delivery.hung "$holder")"
assert_eq "SIGTERM sent" 1 "$(daemon_log_count "sent SIGTERM to delivery process $holder")"
assert_eq "SIGKILL sent (a stopped process ignores SIGTERM)" 1 "$(daemon_log_count "sent SIGKILL to delivery process $holder")"
assert_eq "alerts besides delivery.hung" "" "$(events | grep -vx delivery.hung | paste -sd, -)"
assert_eq "exim daemon restarts" 0 "$(master_pid_changes)"
assert_eq "watchdog still running" active "$(daemon_state)"
