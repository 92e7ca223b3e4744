#!/usr/bin/env bash
# Postfix's retry backoff is longer than the watchdog's stall_after: after the outage the
# deferred mail is not due for a while, and a healthy Postfix waits for it. Nothing is
# overdue, so the watchdog must not restart anything; Postfix drains the queue when due.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

backoff=120   # longer than stall_after (and than restore_grace + stall_after)
postfix_conf "minimal_backoff_time = ${backoff}s" "maximal_backoff_time = ${backoff}s"
start_daemon
track_master_pid
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
# past restore_grace + stall_after without a delivery: a stall, if anything were overdue
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))
assert_eq "queue still waiting out its backoff" 20 "$(queue_count)"
assert_eq "master PID changes while waiting" 0 "$(master_pid_changes)"

# due backoff s after the deferral, picked up within queue_run_delay (10 s)
budget=$((backoff + 60))
wait_until "$budget" queue_empty || fail "Postfix did not drain within ${budget}s: $(queue_count) left"
e2e_log "drained when due; watching for another ${E2E_STALL_AFTER}s"
observe "$E2E_STALL_AFTER"

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "outage.started outage.ended" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"
