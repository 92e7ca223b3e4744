#!/usr/bin/env bash
# As scenario 04 (Postfix's backoff is longer than stall_after, nothing is overdue after the
# outage), with flush_on_restore = yes: when reachability comes back the watchdog runs the
# flush command exactly once, Postfix retries at once instead of waiting out its backoff, and
# nothing is restarted. The action.started alert says why the flush ran; action.succeeded
# reports its end, in the outage's incident.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

backoff=300   # far longer than the wait for the drain below: only the flush can drain it
postfix_conf "minimal_backoff_time = ${backoff}s" "maximal_backoff_time = ${backoff}s"
e2e_exec sed -i '/^\[mta\]/a flush_on_restore = yes' /etc/mta-watchdog/mta-watchdog.ini
start_daemon
track_master_pid
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
# up after ok_threshold rounds; the flush; Postfix delivers at once
budget=$((E2E_INTERVAL * (E2E_OK_THRESHOLD + 2) + 40))
wait_until "$budget" queue_empty || fail "not drained within ${budget}s of the link coming back: $(queue_count) left; alerts: $(events | paste -sd, -)"
e2e_log "drained after the flush; watching for another $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))s"
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "alerts" "outage.started outage.ended action.started action.succeeded" "$(events | paste -sd' ' -)"
assert_eq "the flush's action" flush "$(events --event action.started --field action)"
assert_eq "the flush's end" flush "$(events --event action.succeeded --field action)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
case $(events --event action.started --field summary) in
    "network restored: one flush"*"(flush_on_restore)") ;;
    *) fail "action.started does not say why: $(events --event action.started --field summary)" ;;
esac
assert_eq "flush commands run" 1 "$(daemon_logged "running /usr/sbin/postqueue")"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "watchdog still running" active "$(daemon_state)"
