#!/usr/bin/env bash
# An administrator stops nullmailer (systemctl stop nullmailer) while the network is fine.
# Mail queued meanwhile waits in /var/spool/nullmailer/queue (nullmailer-queue's trigger pull
# finds no reader and is dropped), older than stall_after soon, with no delivery attempt
# logged: everything the generic rule looks at, but a stopped unit is not the watchdog's to
# restart (and Restart=always does not restart a unit stopped by hand): one mta.stopped, no
# stall, no flush, no restart, for longer than restore_grace + stall_after
# (scenario-06-admin-stop.sh for nullmailer). Started again, nullmailer sends the queue.
set -euo pipefail
E2E_MTA=nullmailer
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

admin_stop nullmailer
queue_mail 3
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 10))

assert_eq "$E2E_MTA_UNIT" "inactive dead" "$(mta_state) $(mta_sub_state)"
assert_eq "nullmailer-send" 0 "$(master_pid)"
assert_eq "mail waiting in the queue" 3 "$(queue_count)"
assert_left_alone nullmailer-send

admin_stop_end nullmailer 3
