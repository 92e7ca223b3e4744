#!/usr/bin/env bash
# The IPv6 path to the relay is black-holed while IPv4 works: relay.test has 2001:db8::2 and
# 192.0.2.2, Postfix prefers IPv6 (smtp_address_preference = ipv6). The relay's IPv6 address
# vanishes, so every connection first fails over IPv6 and then succeeds over IPv4: mail keeps
# flowing, slowly. Nothing to restart: no restart, one delivery.degraded (cause class
# connect-failure, peer 2001:db8::2), and all mail reaches the relay.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-causes.sh
. "$(dirname "$0")/lib-causes.sh"
e2e_scenario_begin
cleanup() { cs_record_log "ipv6 black hole"; cs_record_events; causes_cleanup; }
e2e_on_exit cleanup

ipv6_link_up
relay_name_add 192.0.2.2 "$CS_RELAY6"
e2e_exec postconf -e 'inet_protocols = all' 'relayhost = [relay.test]:25' 'smtp_address_preference = ipv6' ||
    fail "postconf -e failed"
# inet_protocols needs a restart, not a reload (postconf(5))
e2e_exec timeout 60 systemctl restart "$E2E_MTA_UNIT" || fail "setup: postfix restart failed"
e2e_log "postfix: inet_protocols = all, relayhost = [relay.test]:25, smtp_address_preference = ipv6 (restarted)"
queue_mail 1
wait_until 30 queue_empty || fail "setup: mail to relay.test not delivered ($(queue_count) left)"
postfix_logged "relay=relay.test[$CS_RELAY6]:25" || fail "setup: the first message did not go over IPv6"

start_daemon
track_master_pid
ipv6_blackhole
ipv6_reachable && fail "setup: $CS_RELAY6 still answers"
n=12
for ((i = 0; i < n; i++)); do   # 12 messages, one every 5 s
    queue_mail 1
    observe 5
done
wait_until 90 relay_has $((n + 1)) || fail "not all mail reached the relay: $(relay_count) of $((n + 1)); queue $(queue_count)"
postfix_logged "connect to relay.test[$CS_RELAY6]:25" || fail "setup: Postfix logged no failed connection over IPv6"
observe $((E2E_INTERVAL * 5))

assert_eq "messages at the relay" $((n + 1)) "$(relay_count)"
assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "delivery.degraded alerts" 1 "$(event_count delivery.degraded)"
assert_eq "degraded cause class" connect-failure "$(events --event delivery.degraded --field details.cause.class)"
assert_eq "degraded cause peer has $CS_RELAY6" yes \
    "$(case $(events --event delivery.degraded --field details.cause.peer) in *"$CS_RELAY6"*) echo yes ;; *) echo no ;; esac)"
assert_eq "watchdog still running" active "$(daemon_state)"
