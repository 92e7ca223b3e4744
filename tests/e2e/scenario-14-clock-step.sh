#!/usr/bin/env bash
# A step of the realtime clock, as the MTA's schedule sees it: deferred mail whose next
# attempt is 3 h ahead suddenly looks 10 minutes overdue. The test moves the queue files'
# time stamps (a deferred file's mtime is its next attempt, qmgr(8)) instead of the clock,
# which tests never set. Postfix is healthy, the link is up and the stall clock ran out long
# ago: without more, the next round would restart Postfix. Overdue counts only once it has
# been seen for the slack (here queue_run_delay + 1 min) on the monotonic clock, and a
# healthy qmgr picks the mail up at its next scan, within queue_run_delay: no restart.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

run_delay=60
slack=$((run_delay + 60))   # overdue_slack = auto (probes/postfix.c)
postfix_conf "queue_run_delay = ${run_delay}s" 'minimal_backoff_time = 3h' 'maximal_backoff_time = 3h'
rm_config_set mta overdue_slack auto
rm_config_check
start_daemon
track_master_pid

link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
# qmgr(8) remembers a destination it could not reach as dead for minimal_backoff_time (3 h
# here) and would defer the mail again without trying; the qmgr that a reload starts anew
# forgets that. The master (and its PID) stays.
e2e_exec postfix reload >/dev/null 2>&1 || fail "postfix reload failed"
e2e_log "postfix reloaded: a new qmgr, no dead destinations remembered"

# past restore_grace + stall_after without a delivery: nothing is due for 3 h, so nothing
wait_grace=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 10))
observe "$wait_grace"
assert_eq "queue waiting out its 3h backoff" 20 "$(deferred_count)"
assert_eq "master PID changes while waiting" 0 "$(master_pid_changes)"
assert_eq "stall.detected while waiting" 0 "$(event_count stall.detected)"
assert_eq "slack derived from queue_run_delay" 1 "$(daemon_log_count "overdue slack ${slack}s (queue_run_delay + 60s)")"

e2e_exec sh -c 't=$(( $(date +%s) - 600 )); for f in "$1"/deferred/*/*; do touch -d "@$t" "$f" || exit 1; done' \
    sh "$E2E_SPOOL" || fail "cannot move the deferred files' time stamps"
e2e_log "deferred mail now due 10 minutes ago (mtime), as after a step of the realtime clock"
t_step=$(e2e_uptime)

# The daemon sees the mail overdue and holds back for the slack; qmgr delivers meanwhile.
window=$((slack - 20))
observe "$window"
seen=$(journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager | grep -cE 'overdue [1-9][0-9]* \(slack' || true)
e2e_log "rounds in which the daemon saw overdue mail: $seen; $(($(e2e_uptime) - t_step))s since the step"
assert_ge "rounds that saw overdue mail" 1 "$seen"
assert_eq "master PID changes within the slack" 0 "$(master_pid_changes)"
assert_eq "stall.detected within the slack" 0 "$(event_count stall.detected)"

budget=$((run_delay + 60))
wait_until "$budget" queue_empty || fail "Postfix did not deliver the due mail within ${budget}s: $(queue_count) left"
e2e_log "drained by itself; watching for another $((E2E_INTERVAL * 5))s"
observe $((E2E_INTERVAL * 5))

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "outage.started outage.ended" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"
