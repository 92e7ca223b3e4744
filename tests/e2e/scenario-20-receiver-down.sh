#!/usr/bin/env bash
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
# The webhook receiver is down for the whole stuck-MTA incident and stays down as long again
# afterwards. Every alert waits in the daemon's outbox and, once the receiver is back, arrives
# in order, each id exactly once.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

e2e_exec systemctl stop e2e-receiver.service
e2e_log "receiver stopped"
start_daemon
t0=$(e2e_now)
stuck_incident
took=$(( $(e2e_now) - t0 ))
e2e_log "incident took ${took}s; receiver stays down ${took}s more"
observe "$took"

want="outage.started outage.ended stall.detected action.started action.succeeded recovered"
assert_eq "alerts waiting in the outbox" 6 "$(outbox_count)"
assert_eq "alerts received while down" 0 "$(event_count outage.started)"

e2e_exec systemctl start e2e-receiver.service
e2e_log "receiver started"
wait_until 60 _outbox_empty || fail "outbox not emptied: $(outbox_count) left"
assert_eq "alerts in order" "$want" "$(events | paste -sd' ' -)"
assert_eq "distinct ids" 6 "$(events --field id | sort -u | wc -l)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "nothing set aside" 0 "$(e2e_exec sh -c 'ls "$1/outbox/failed" | wc -l' sh "$E2E_STATE_DIR")"
assert_eq "watchdog still running" active "$(daemon_state)"
