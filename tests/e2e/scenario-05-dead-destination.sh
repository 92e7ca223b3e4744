#!/usr/bin/env bash
# One destination is dead (a transport map sends dead.test to an address on the link that
# nobody answers) while other mail flows to the relay, and mail for both keeps coming for
# longer than restore_grace + stall_after. Postfix keeps trying the dead one and delivering
# the rest: progress. The watchdog must not restart anything; the dead destination's connect
# failures (a peer nobody probes: a restart cannot fix them) go on for longer than
# degraded_after, so one delivery.degraded names them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

e2e_exec sh -c 'echo "dead.test smtp:[192.0.2.99]:25" > /etc/postfix/e2e-transport'
postfix_conf 'transport_maps = texthash:/etc/postfix/e2e-transport'
start_daemon
track_master_pid

duration=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 40))
e2e_log "mail for remote.test and dead.test every 5s for ${duration}s"
end=$(($(e2e_uptime) + duration)) sent=0
while [ "$(e2e_uptime)" -lt "$end" ]; do
    queue_mail 1 user@remote.test
    queue_mail 1 user@dead.test
    sent=$((sent + 1))
    observe 5
done
wait_until 60 relay_has "$sent" || fail "relay got $(relay_count) of $sent"
e2e_log "dead.test mail still queued: $(queue_count) (deferred $(deferred_count))"

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" "$sent" "$(relay_count)"
assert_eq "dead.test mail still queued" "$sent" "$(queue_count)"
assert_ge "dead.test deliveries tried" 1 "$(e2e_exec journalctl -u "$E2E_MTA_UNIT" -o cat --no-pager | grep -c 'to=<user@dead.test>.*status=deferred')"
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "action.started alerts" 0 "$(event_count action.started)"
assert_eq "alerts" "delivery.degraded" "$(events | paste -sd' ' -)"
assert_eq "degraded cause class" connect-failure "$(events --event delivery.degraded --field details.cause.class)"
assert_eq "degraded cause peer" "192.0.2.99[192.0.2.99]" "$(events --event delivery.degraded --field details.cause.peer)"
assert_eq "watchdog still running" active "$(daemon_state)"
