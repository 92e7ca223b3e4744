#!/usr/bin/env bash
# Postfix's resolver view is broken, the network is fine: Postfix relays to [relay.test]:25
# by name; its chrooted smtp(8) resolves through /var/spool/postfix/etc/{hosts,resolv.conf},
# copies that Debian's postfix@.service makes at start (configure-instance.sh). Only those
# copies break (no relay.test, a nameserver that does not exist), /etc/hosts and
# /etc/resolv.conf stay right, and the watchdog's probe reaches the relay by address. A
# restart heals it (the copies are made again): the watchdog must restart once, with cause
# class dns-failure for relay.test and both resolv.conf paths named.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-causes.sh
. "$(dirname "$0")/lib-causes.sh"
e2e_scenario_begin
cleanup() { cs_record_log "resolver view"; cs_record_events; causes_cleanup; }
e2e_on_exit cleanup

relay_name_add 192.0.2.2
postfix_conf 'relayhost = [relay.test]:25'
queue_mail 1
wait_until 30 queue_empty || fail "setup: mail to [relay.test]:25 not delivered ($(queue_count) left)"
postfix_logged "relay=relay.test[192.0.2.2]:25" || fail "setup: delivery did not go to relay.test[192.0.2.2]"
start_daemon
track_master_pid

# break only the chroot's copies
cs_write "$CS_CHROOT_ETC/hosts" "127.0.0.1	localhost"
cs_write "$CS_CHROOT_ETC/resolv.conf" "nameserver 192.0.2.53"
e2e_exec grep -q 'relay\.test' /etc/hosts || fail "setup: /etc/hosts lost relay.test"
chroot_has_relay_name && fail "setup: the chroot's hosts still has relay.test"
e2e_log "chroot's hosts without relay.test, its resolv.conf -> 192.0.2.53 (no such host); /etc untouched"
queue_mail 5
_deferred_by_name() { all_deferred 5 && postfix_logged "unable to look up host relay.test"; }
wait_until 90 _deferred_by_name ||
    fail "setup: mail not deferred for relay.test's name (deferred $(deferred_count), queue $(queue_count))"
e2e_log "5 messages deferred: relay.test not found by Postfix"

budget=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
e2e_log "waiting up to ${budget}s for the watchdog to heal Postfix"
if ! wait_until "$budget" queue_empty; then
    alerts=$(events | paste -sd' ' -)
    restarts=$(master_pid_changes)
    # the setup is right if a restart heals it; then the watchdog is what failed
    e2e_exec timeout 60 systemctl restart "$E2E_MTA_UNIT" || fail "setup: postfix restart failed"
    if wait_until 60 queue_empty; then healed="a manual restart healed it"; else healed="a manual restart did NOT heal it either"; fi
    fail "queue not drained after ${budget}s ($healed); alerts: ${alerts:-none}; master PID changes $restarts"
fi
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd' ' -)"

assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 6 "$(relay_count)"
assert_eq "alerts in order" "stall.detected action.started action.succeeded recovered" "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "stall cause class" dns-failure "$(events --event stall.detected --field details.cause.class)"
assert_eq "stall cause peer" relay.test "$(events --event stall.detected --field details.cause.peer)"
resolver=$(events --event stall.detected --field details.cause.resolver)
e2e_log "stall cause resolver: $resolver"
assert_eq "cause resolver names the chroot's resolv.conf" yes \
    "$(case $resolver in *"$CS_CHROOT_ETC/resolv.conf"*) echo yes ;; *) echo no ;; esac)"
assert_eq "cause resolver names /etc/resolv.conf" yes \
    "$(case ${resolver//$CS_CHROOT_ETC\/resolv.conf/} in */etc/resolv.conf*) echo yes ;; *) echo no ;; esac)"
assert_eq "watchdog still running" active "$(daemon_state)"
