#!/usr/bin/env bash
# The relay refuses at the greeting: for a minute 192.0.2.2:25 answers "421 4.3.2 Service not
# available, try later" (peer.py smtp-421 in place of smtp-sink), then accepts mail again.
# The peer's 4xx (cause class deferred-remote) is nothing a restart can fix: no restart,
# one delivery.degraded; after the relay is back the queue drains.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-causes.sh
. "$(dirname "$0")/lib-causes.sh"
e2e_scenario_begin
cleanup() { cs_record_log "relay refuses"; cs_record_events; causes_cleanup; }
e2e_on_exit cleanup

start_daemon
track_master_pid
refuse_start=$(e2e_uptime)
relay_refuse_start greeting
queue_mail 5
_refused() { all_deferred 5 && postfix_logged "421 4.3.2"; }
wait_until 60 _refused || fail "setup: mail not deferred with the relay's 421 (deferred $(deferred_count), queue $(queue_count))"
e2e_log "5 messages deferred: $(postfix_log "421 4.3.2" | head -n1)"
left=$((60 - ($(e2e_uptime) - refuse_start)))
if [ "$left" -lt $((CS_DEGRADED_AFTER + 10)) ]; then left=$((CS_DEGRADED_AFTER + 10)); fi
observe "$left"
relay_refuse_stop
wait_until 120 queue_empty || fail "queue not drained after the relay came back: $(queue_count) left"
observe $((E2E_INTERVAL * 5))

assert_eq "messages at the relay" 5 "$(relay_count)"
assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "delivery.degraded alerts" 1 "$(event_count delivery.degraded)"
assert_eq "degraded cause class" deferred-remote "$(events --event delivery.degraded --field details.cause.class)"
assert_eq "degraded cause last_line has 421" yes \
    "$(case $(events --event delivery.degraded --field details.cause.last_line) in *421*) echo yes ;; *) echo no ;; esac)"
assert_eq "restart action.started alerts" 0 "$(event_count action.started)"
assert_eq "watchdog still running" active "$(daemon_state)"
