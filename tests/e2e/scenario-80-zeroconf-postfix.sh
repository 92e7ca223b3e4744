#!/usr/bin/env bash
# Zero configuration on the Postfix sandbox (Postfix relaying to [192.0.2.2]:25): the package
# purged and installed again with its shipped configuration unedited, and nothing else. The
# package enables and starts the service; `mta-watchdogd --detect` names Postfix, its unit,
# its queue directory and its relay; then the stuck MTA of scenario-01-stuck.sh (outage, qmgr
# frozen, link back) heals with the shipped timers (restore_grace 5m, stall_after 10m,
# verify_after 2m: about 11 minutes; the waits allow 20), judged without alerts (the shipped file has no
# [alert:NAME]): the daemon's journal, Postfix's pid file and the relay's messages.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-zeroconf.sh
. "$(dirname "$0")/lib-zeroconf.sh"
e2e_scenario_begin

zc_reinstall
zc_assert_shipped_config
zc_assert_started_by_package
zc_timers
zc_detect
zc_detect_has '^mta: postfix '
zc_detect_has '^unit: postfix@-\.service '
zc_detect_has '^queue_directory: /var/spool/postfix '
zc_detect_has '^relay: 192\.0\.2\.2:25 '
zc_detect_has '^probe relay: smtp '
zc_assert_status_detected postfix

# the relay seen up (ok_threshold rounds) before anything happens
observe $((E2E_INTERVAL * (E2E_OK_THRESHOLD + 1) + 1))
track_master_pid
zc_stuck_after_outage 20
zc_wait_healed Postfix

assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "distinct Message-Ids at the relay" 20 "$(zc_relay_message_ids)"
zc_assert_healed_by_one_restart master
# detection at start only, never per probe round: one line in 20 minutes
assert_eq "\"detected postfix (\" lines in the journal" 1 "$(zc_journal_lines "detected postfix (" | wc -l)"
