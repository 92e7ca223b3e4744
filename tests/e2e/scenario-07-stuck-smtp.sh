#!/usr/bin/env bash
# A hung delivery agent: the relay is fine, qmgr runs, but the smtp(8) processes are frozen
# (SIGSTOP). One message warms up an smtp process that then waits idle for the next job;
# frozen, it still counts as available to the master, so no other one is started and the
# next 20 messages sit in the active queue with nothing logged. The watchdog must detect
# the stall, restart Postfix exactly once and see the queue drain.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

e2e_on_exit thaw_smtp
start_daemon
queue_mail 1
wait_until 30 queue_empty || fail "warm-up message not delivered: $(queue_count) left"
freeze_smtp
track_master_pid
queue_mail 20
wait_until 30 all_active 20 ||
    fail "mail not in active (active $(active_count), deferred $(deferred_count), queue $(queue_count))"
observe 25   # longer than overdue_slack: stuck, not on their way
all_active 20 || fail "mail left active by itself (active $(active_count), deferred $(deferred_count), queue $(queue_count))"
e2e_log "20 messages sit in active/ with the smtp processes frozen"

budget=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
e2e_log "waiting up to ${budget}s for the watchdog to heal Postfix"
wait_until "$budget" queue_empty ||
    fail "queue not drained after ${budget}s: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"

assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 21 "$(relay_count)"
assert_eq "stall.detected alerts" 1 "$(event_count stall.detected)"
assert_eq "restart action.started alerts" 1 "$(action_count action.started restart)"
assert_eq "restart action.succeeded alerts" 1 "$(event_count action.succeeded restart)"
assert_eq "alerts in order" "stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "watchdog still running" active "$(daemon_state)"
