#!/usr/bin/env bash
# Zero configuration on the Exim sandbox (Debian's exim4, a smarthost to 192.0.2.2::25 set by
# debconf, rootfs-exim.sh): the package purged and installed again with its shipped
# configuration unedited, and nothing else. The package enables and starts the service;
# `mta-watchdogd --detect` names Exim, its unit, its spool and its relay; then the stuck Exim
# of scenario-50-exim-stuck.sh (outage, the listening daemon frozen, link back) heals with the
# shipped timers (about 11 minutes; the waits allow 20), judged without alerts: the daemon's journal, Exim's pid
# file (/run/exim4/exim.pid) and the relay's messages.
set -euo pipefail
E2E_MTA=exim
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
zc_detect_has '^mta: exim '
zc_detect_has '^unit: exim4\.service '
zc_detect_has '^spool_directory: /var/spool/exim4 '
zc_detect_has '^relay: 192\.0\.2\.2:25 '
zc_detect_has '^probe relay: smtp '
zc_assert_status_detected exim

observe $((E2E_INTERVAL * (E2E_OK_THRESHOLD + 1) + 1))
track_master_pid
zc_stuck_after_outage 20
zc_wait_healed Exim

assert_eq "stopped exim processes" 0 "$(stopped_exim_count)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "distinct Message-Ids at the relay" 20 "$(zc_relay_message_ids)"
assert_eq "exim4.service" "active running" "$(mta_state) $(mta_sub_state)"
zc_assert_healed_by_one_restart "exim daemon"
# detection at start only, never per probe round: one line in 20 minutes
assert_eq "\"detected exim (\" lines in the journal" 1 "$(zc_journal_lines "detected exim (" | wc -l)"
