#!/usr/bin/env bash
# Sendmail with host status files on (DAEMON_HOSTSTATS="Yes", as an admin sets it) trusts a
# relay's failure for Timeout.hoststatus (2 minutes here; Debian's default is 30): after the
# outage the relay answers again, but every queue run keeps deferring the mail from the
# cached status without connecting ("relay=[192.0.2.2], dsn=4.4.1, stat=Deferred: ..."), a
# "connection error" to a reachable relay. That is Sendmail's own rule, not a stall: the
# watchdog must not restart (or flush) anything inside the window, --once must name the host
# status as the reason, and Sendmail sends the mail itself once the window has passed.
set -euo pipefail
E2E_MTA=sendmail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

window=120   # longer than restore_grace + stall_after + the outage
n=5
sendmail_hoststatus_on "$window"
start_daemon
track_master_pid
link_down
queue_mail "$n"
wait_until 60 all_deferred "$n" || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
u=$(relay_status_time)
[ "$u" != 0 ] || fail "no host status for the relay: $(relay_host_status)"
e2e_log "relay's host status: $(relay_host_status)"
# past restore_grace + stall_after without a delivery: a stall, if the wait were not Sendmail's
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 5))
[ $(($(e2e_exec date +%s) + 10)) -lt $((u + window)) ] || fail "the host status window ended before the checks"
assert_eq "queue still waiting out the host status" "$n" "$(queue_count)"
assert_ge "deferrals from the cached host status, relay up" 1 "$(cached_deferrals)"
assert_eq "sendmail daemon PID changes while waiting" 0 "$(master_pid_changes)"
assert_eq "action.started alerts while waiting" 0 "$(event_count action.started)"
sendmail_once
once_log
until=$(e2e_exec date -u -d "@$((u + window))" +%H:%M:%SZ)
reason="host status of 192.0.2.2: Deferred: Network is unreachable, trusted until $until (Timeout.hoststatus 2m)"
assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
assert_eq "--once verdict" healthy "$(once_field verdict)"
assert_eq "--once wait_reason" "$reason" "$(once_field queue.wait_reason)"
case $(once_field reason) in
    *"$reason"*) e2e_log "ok: --once reason names the host status" ;;
    *) fail "--once reason does not name the host status: $(once_field reason)" ;;
esac
assert_eq "--once backlog" "$n" "$(once_field queue.backlog)"

# the first queue run after u + window connects (10 s interval)
budget=$((u + window + 40 - $(e2e_exec date +%s)))
wait_until "$budget" queue_empty || fail "Sendmail did not send within ${budget}s: $(queue_count) left"
e2e_log "sent when the host status expired; watching for another ${E2E_STALL_AFTER}s"
observe "$E2E_STALL_AFTER"

assert_eq "sendmail daemon PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" "$n" "$(relay_count)"
assert_eq "forced queue runs (sendmail-mta -qR@)" 0 "$(sendmail_flushes)"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "outage.started outage.ended" "$(events | paste -sd' ' -)"
assert_eq "watchdog still running" active "$(daemon_state)"
