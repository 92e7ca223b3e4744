#!/usr/bin/env bash
# The relay stays unreachable for twice stall_after with mail queued: that is an outage,
# not a stuck MTA. The watchdog must alert the outage and restart nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

start_daemon
track_master_pid
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
observe $((2 * E2E_STALL_AFTER))

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "queue still held" 20 "$(queue_count)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_ge "outage.started alerts" 1 "$(event_count outage.started)"
assert_eq "watchdog still running" active "$(daemon_state)"
link_up
