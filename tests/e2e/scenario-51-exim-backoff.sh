#!/usr/bin/env bash
# Exim's retry rule (2 minutes here) is longer than the watchdog's stall_after: after the
# outage the relay is back, but the retry hints DB says the host is not due yet, and a healthy
# Exim's queue runs log "retry time not reached" for every message. Nothing is overdue, so the
# watchdog must not restart (or flush) anything; Exim drains the queue when the retry time comes.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

queue_rounds() { # ERE: the daemon's queue probe rounds (log_level = debug) whose result matches it
    journal_since_begin -o cat --no-pager 2>/dev/null | grep -E '^probe queue: ok, backlog ' |
        grep -cE -- "$1" || true
}

retry=120   # longer than restore_grace + stall_after
exim_retry "F,1h,${retry}s"
start_daemon
track_master_pid
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
exim_log_mark
# past restore_grace + stall_after without a delivery: a stall, if anything were overdue
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))
assert_eq "queue still waiting out its retry time" 20 "$(queue_count)"
assert_ge "queue runs that logged 'retry time not reached'" 1 "$(exim_logged "retry time not reached")"
assert_eq "exim daemon PID changes while waiting" 0 "$(master_pid_changes)"

# due retry s after the first failure, picked up by the next queue run (10 s)
budget=$((retry + 60))
wait_until "$budget" queue_empty || fail "Exim did not drain within ${budget}s: $(queue_count) left"
e2e_log "drained when due; watching for another ${E2E_STALL_AFTER}s"
observe "$E2E_STALL_AFTER"

assert_eq "exim daemon PID changes" 0 "$(master_pid_changes)"
# why: the watchdog read Exim's schedule from its retry hints, and nothing was ever overdue
assert_ge "queue rounds with the backlog's schedule from the retry database" 1 \
    "$(queue_rounds '^probe queue: ok, backlog 20, .*\(retry-db, ')"
assert_eq "queue rounds with mail overdue" 0 "$(queue_rounds ', overdue [1-9]')"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "forced queue runs (exim4 -qf)" 0 "$(forced_queue_runs)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "outage.started outage.ended" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"
