#!/usr/bin/env bash
# nullmailer's normal pause is not a stall: during an outage nullmailer-send fails every
# attempt and doubles its pause after every queue run (pausetime 5 s here: runs 5, 15, 35 and
# 75 s after the last trigger pull), so when the link comes back right after the 75 s run it
# sleeps 80 s more before it tries again (with Debian's defaults: up to 24 h). With no schedule
# to read, the generic rule calls that a stall once nothing was attempted for stall_after; its
# ladder's first step, the flush, pulls nullmailer's trigger, and that alone sends the mail:
# one flush, no restart, the mail delivered by the run the trigger started (well before
# nullmailer's own next run), the alerts one incident from outage to recovery.
set -euo pipefail
E2E_MTA=nullmailer
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

pause=5
nullmailer_set pausetime "$pause"
start_daemon
track_master_pid
link_down
queue_mail 3
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
# the fifth run after the last trigger pull: 75 s after it; the next one is 80 s later
_slept_long() { [ "$(runs_since_trigger)" -ge 5 ]; }
wait_until $((15 * pause + 30)) _slept_long ||
    fail "nullmailer did not run 5 times after the last trigger: $(runs_since_trigger)"
assert_eq "messages in the queue" 3 "$(queue_count)"
up_cursor=$(e2e_journal_cursor)
link_up

budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 30))
e2e_log "waiting up to ${budget}s for the flush to wake nullmailer"
wait_until "$budget" queue_empty ||
    fail "queue not drained after ${budget}s: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"

# what nullmailer did after the link came back: woken by the trigger (the flush), not by its
# own timer, and sent the 3 messages in that run
assert_eq "nullmailer's first line after the link came back" "Trigger pulled." \
    "$(E2E_CURSOR=$up_cursor nullmailer_journal | head -n1)"
# one byte into the trigger, once: nullmailer-send may log "Trigger pulled." a second time for
# the same byte (the FIFO reads as ready again at the writer's close), so count the writes
assert_eq "flushes (trigger writes) after the link came back" 1 "$(daemon_logged "flush completed")"
assert_eq "\"Sent file.\" lines" 3 "$(nullmailer_logged "Sent file.")"
assert_eq "messages at the relay" 3 "$(relay_count)"
assert_eq "nullmailer-send PID changes" 0 "$(master_pid_changes)"
assert_eq "flush action.started alerts" 1 "$(action_count action.started flush)"
assert_eq "flush action.succeeded alerts" 1 "$(action_count action.succeeded flush)"
assert_eq "restart action.started alerts" 0 "$(action_count action.started restart)"
assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
# stall_after is shorter than nullmailer's longest pause (max_retry_gap = maxpause, 10m): the
# daemon said at its start what that costs (config_advice, README "The generic profile")
assert_eq "start-up advice on stall_after and max_retry_gap" 1 \
    "$(daemon_logged "[mta] stall_after: $(ini_get mta stall_after) is not longer than max_retry_gap ($(ini_get mta max_retry_gap)): a pause of the MTA between its retries counts as a stall; it costs one flush")"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident from outage to recovery" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "$E2E_MTA_UNIT" "active running" "$(mta_state) $(mta_sub_state)"
assert_eq "watchdog still running" active "$(daemon_state)"
