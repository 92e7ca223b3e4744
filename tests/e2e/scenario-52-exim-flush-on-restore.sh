#!/usr/bin/env bash
# scenario-51-exim-backoff.sh with flush_on_restore = yes: when the outage ends, the watchdog
# runs the profile's flush (exim4 -qf) exactly once, so a healthy Exim delivers at once instead
# of waiting out its 2-minute retry time. No restart, no second flush, no stall.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

retry=120
exim_retry "F,1h,${retry}s"
rm_config_set mta flush_on_restore yes
start_daemon
track_master_pid
exim_log_mark
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
t_up=$(e2e_now)
# "at once": well before the retry time (the first failure was retry s ago at the most)
wait_until $((retry / 2)) queue_empty || fail "no flush drained the queue within $((retry / 2))s: $(queue_count) left; alerts: $(events | paste -sd, -)"
e2e_log "drained $(( $(e2e_now) - t_up ))s after the link came back; watching for another $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))s"
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))

assert_eq "forced queue runs (exim4 -qf)" 1 "$(forced_queue_runs)"
assert_eq "exim daemon PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "flush action.started alerts" 1 "$(event_count action.started flush)"
assert_eq "flush action.succeeded alerts" 1 "$(event_count action.succeeded flush)"
assert_eq "restart action.started alerts" 0 "$(event_count action.started restart)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "alerts in order" "outage.started outage.ended action.started action.succeeded" \
    "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"
