#!/usr/bin/env bash
# nullmailer's known hang (nullmailer issue #75: the log ends at "Starting delivery: host: ...
# file: ..." and nothing follows): the relay holds its answer to DATA, the protocol child
# (/usr/lib/nullmailer/smtp) is stopped (SIGSTOP) while it waits, the relay answers again.
# nullmailer-send then waits in waitpid(2) for ever: no outcome line, not even "Sending timed
# out" after sendtimeout (20 s in the sandbox), and mail queued afterwards stays (its trigger
# pull is not read). The generic profile's hung-send rule (a start without an outcome for
# longer than hung_delivery_after) makes that a stall; a flush cannot reach a wedged sender, so
# the watchdog restarts nullmailer.service exactly once (a new MainPID), the new nullmailer-send
# sends the whole queue, and the alerts tell one incident, stall to recovery.
set -euo pipefail
E2E_MTA=nullmailer
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

hung_after=$(secs "$(ini_get mta hung_delivery_after)")
start_daemon
track_master_pid
id=$(hung_send)
queue_mail 2
wait_until 20 queue_has 3 || fail "3 messages not queued: $(queue_count)"

budget=$((hung_after + E2E_VERIFY_AFTER + E2E_RESTART_TIMEOUT + 30))
e2e_log "waiting up to ${budget}s for the watchdog to restart the wedged nullmailer"
wait_until "$budget" queue_empty ||
    fail "queue not drained after ${budget}s: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"

# the hang's shape: no outcome line for the hung start, no "timed out" although sendtimeout
# passed; the restarted nullmailer-send started $id again and sent everything
assert_eq "deliveries of $id started (the hung one, the one after the restart)" 2 \
    "$(nullmailer_logged "Starting delivery: host: 192.0.2.2 protocol: smtp file: $id")"
assert_eq "\"Sending timed out\" lines" 0 "$(nullmailer_logged "Sending timed out")"
assert_eq "\"Sending failed\" lines" 0 "$(nullmailer_logged "Sending failed")"
assert_eq "nullmailer-send PID changes" 1 "$(master_pid_changes)"
assert_eq "stopped protocol children" 0 "$(stopped_protocol_count)"
assert_eq "messages at the relay" 3 "$(relay_count)"
assert_eq "\"Sent file.\" lines" 3 "$(nullmailer_logged "Sent file.")"
assert_eq "stall.detected alerts" 1 "$(event_count stall.detected)"
assert_eq "stall.detected names the queue file" 1 "$(event_count stall.detected "$id")"
assert_eq "flush action.started alerts (a wedged sender reads no trigger)" 0 "$(action_count action.started flush)"
assert_eq "restart action.started alerts" 1 "$(action_count action.started restart)"
assert_eq "restart action.succeeded alerts" 1 "$(action_count action.succeeded restart)"
assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
assert_eq "alerts in order" "stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident from stall to recovery" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "$E2E_MTA_UNIT" "active running" "$(mta_state) $(mta_sub_state)"
assert_eq "watchdog still running" active "$(daemon_state)"
