#!/usr/bin/env bash
# An administrator stops Postfix (systemctl stop postfix: postfix@-.service is PartOf it)
# while mail keeps being submitted and the network is fine. The mail waits in maildrop and
# is soon "overdue", but a stopped unit is not the watchdog's to restart: one mta.stopped,
# no stall, no restart, for longer than restore_grace + stall_after.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

admin_stop postfix postfix.service
queue_mail 5   # no pickup: it waits in maildrop
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 20))

assert_eq "$E2E_MTA_UNIT" inactive "$(mta_state)"
assert_eq "mail waiting in maildrop" 5 "$(maildrop_count)"
assert_left_alone master

admin_stop_end Postfix 5
