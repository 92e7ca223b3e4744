#!/usr/bin/env bash
# An administrator stops Exim (systemctl stop exim4) while the network is fine. Mail queued
# meanwhile (sendmail -odq: no delivery attempt) waits in the spool and is soon overdue, but a
# stopped unit is not the watchdog's to restart: one mta.stopped, no stall, no restart, for
# longer than restore_grace + stall_after (scenario-06-admin-stop.sh for Exim).
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

admin_stop exim
queue_mail_only 5
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 20))
# `mta-watchdogd --once --json` as the service user: never-attempted mail is due at its arrival,
# so all 5 are overdue by now; no retry hints database (no failure), the msglog times alone
exim_once
once_log
assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
assert_eq "--once reason" "unit inactive/dead: not running, not ours to restart" "$(once_field reason)"
assert_eq "--once backlog" 5 "$(once_field queue.backlog)"
assert_eq "--once frozen" 0 "$(once_field queue.frozen)"
assert_eq "--once overdue" 5 "$(once_field queue.overdue)"
assert_eq "--once schedule_source" msglog "$(once_field queue.schedule_source)"
assert_eq "--once hung" null "$(once_field queue.hung)"

assert_eq "$E2E_MTA_UNIT" inactive "$(mta_state)"
assert_eq "exim daemon" 0 "$(master_pid)"
assert_eq "mail waiting in the spool" 5 "$(queue_count)"
assert_left_alone "exim daemon"

admin_stop_end Exim 5
