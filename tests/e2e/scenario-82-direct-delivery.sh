#!/usr/bin/env bash
# Direct delivery (the direct-delivery sandbox, rootfs-direct.sh: Postfix with no relayhost
# looks up MX hosts itself; dnsmasq in the test network, 192.0.2.53, answers the MX of
# canary.test and of the recipients' domain remote.test, both on 192.0.2.2 where the relay
# listens on 25). The package purged and installed again; its shipped file gets one line,
# [mta] canary_domain = canary.test. With no relay detected, the derived probes are the DNS
# lookup of the canary domain's MX (canary-mx, type dns) and a TCP connect to port 25 of its
# MX host (canary-smtp, type tcp). The link down is an outage those probes detect, the link
# back a recovery; Postfix delivers what waited, and nothing is restarted.
set -euo pipefail
E2E_VARIANT=direct
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-zeroconf.sh
. "$(dirname "$0")/lib-zeroconf.sh"
e2e_scenario_begin

# the sandbox: no relayhost, DNS answers from dnsmasq, through /etc and the chroot's copy
assert_eq "postconf -h relayhost" "" "$(e2e_exec postconf -h relayhost)"
assert_eq "resolv.conf and the Postfix chroot's copy" same \
    "$(e2e_exec cmp -s /etc/resolv.conf "$E2E_SPOOL/etc/resolv.conf" && echo same || echo different)"
assert_eq "dig MX canary.test" "10 mx.canary.test." "$(e2e_exec dig +short MX canary.test)"
assert_eq "dig A mx.canary.test" 192.0.2.2 "$(e2e_exec dig +short A mx.canary.test)"
assert_eq "dig MX remote.test" "10 mx.remote.test." "$(e2e_exec dig +short MX remote.test)"
assert_eq "getent hosts mx.remote.test" "192.0.2.2" "$(e2e_exec getent ahostsv4 mx.remote.test | awk 'NR == 1 { print $1 }')"
assert_eq "dig nothing.test (NXDOMAIN)" NXDOMAIN \
    "$(e2e_exec dig A nothing.test | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"

zc_reinstall
zc_assert_shipped_config
zc_config_add mta canary_domain canary.test
zc_restart_daemon
zc_timers
zc_detect
zc_detect_has '^mta: postfix '
zc_detect_has '^relay: none '
zc_detect_has '^probe canary-mx: dns '
zc_detect_has '^probe canary-smtp: tcp '

# mail to remote.test goes to its MX host, the relay
observe $((E2E_INTERVAL * (E2E_OK_THRESHOLD + 1) + 1))
track_master_pid
queue_mail 1
wait_until 60 queue_empty || fail "setup: mail to remote.test not delivered through its MX ($(queue_count) left)"
assert_eq "messages at the relay (MX of remote.test)" 1 "$(relay_count)"
once=$(once_reach)
e2e_log "--once --json reachability, link up: $once"
assert_eq "--once reachability, link up" "canary-mx ok; canary-smtp ok" "$(once_reach_short)"

link_down
queue_mail 5
wait_until 90 all_deferred 5 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
budget=$((E2E_INTERVAL * (ZC_FAIL_THRESHOLD + 2) + ZC_OUTAGE_ALERT_AFTER + 30))
zc_wait "$budget" "the outage (outage.started in the journal)" zc_has_event outage.started ||
    fail "the outage was not detected within ${budget}s: $(zc_events | paste -sd' ' -)"
e2e_log "--once --json reachability, link down: $(once_reach)"
down=$(once_reach_short)
status_down=$(zc_status)
e2e_log "StatusText, link down: $status_down"
zc_journal_lines "(outage.started)" | sed 's/^/          watchdog: /' >&2

link_up
budget=$((E2E_INTERVAL * (E2E_OK_THRESHOLD + 2) + 30))
zc_wait "$budget" "the recovery (outage.ended in the journal)" zc_has_event outage.ended ||
    fail "no outage.ended within ${budget}s: $(zc_events | paste -sd' ' -)"
zc_journal_lines "(outage.ended)" | sed 's/^/          watchdog: /' >&2
wait_until 120 queue_empty || fail "the 5 messages not delivered after the link came back ($(queue_count) left)"
observe "$E2E_INTERVAL"
status_up=$(zc_status)
e2e_log "StatusText, link up: $status_up"

assert_eq "--once reachability, link down" yes \
    "$(case $down in "canary-mx fail"*"; canary-smtp fail"*) echo yes ;; *) echo "no ($down)" ;; esac)"
assert_eq "messages at the relay" 6 "$(relay_count)"
assert_eq "distinct Message-Ids at the relay" 6 "$(zc_relay_message_ids)"
assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "journal events" "outage.started outage.ended" "$(zc_events | paste -sd' ' -)"
assert_eq "\"restarting through systemd\" in the journal" 0 "$(zc_journal_lines "restarting through systemd" | wc -l)"
assert_eq "StatusText, link down: canary-mx down, canary-smtp down" yes \
    "$(case $status_down in *"canary-mx down, canary-smtp down"*) echo yes ;; *) echo no ;; esac)"
assert_eq "StatusText, link up: canary-mx up, canary-smtp up" yes \
    "$(case $status_up in *"canary-mx up, canary-smtp up"*) echo yes ;; *) echo no ;; esac)"
assert_eq "watchdog still running" active "$(daemon_state)"
