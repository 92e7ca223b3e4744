#!/usr/bin/env bash
# Outage, then the relay is back and Postfix is left alone: it delivers by itself once its
# retry timers expire. The watchdog must not restart anything, now or later.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

start_daemon
track_master_pid
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
wait_until 120 queue_empty || fail "Postfix did not drain by itself: $(queue_count) left"
e2e_log "drained by itself; watching for another $((E2E_STALL_AFTER + E2E_RESTORE_GRACE))s"
observe $((E2E_STALL_AFTER + E2E_RESTORE_GRACE))

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "outage.started outage.ended" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"
