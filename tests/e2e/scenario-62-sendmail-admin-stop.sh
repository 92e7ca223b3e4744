#!/usr/bin/env bash
# An administrator stops Sendmail (systemctl stop sendmail) while the network is fine. Mail
# queued meanwhile (sendmail-mta -Am -odq: no delivery attempt) waits in /var/spool/mqueue and is
# soon overdue, but a stopped unit is not the watchdog's to restart: one mta.stopped, no stall,
# no restart, for longer than restore_grace + stall_after (scenario-06-admin-stop.sh for Sendmail).
set -euo pipefail
E2E_MTA=sendmail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

admin_stop sendmail
queue_mail_only 5
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 20))
# `mta-watchdogd --once --json` as the service user: the unit is stopped, whatever the queue
sendmail_once
once_log
assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
assert_eq "--once reason" "unit inactive/dead: not running, not ours to restart" "$(once_field reason)"
assert_eq "--once backlog" 5 "$(once_field queue.backlog)"
assert_eq "--once overdue" 5 "$(once_field queue.overdue)"   # never tried: due since arrival

assert_eq "$E2E_MTA_UNIT" inactive "$(mta_state)"
assert_eq "sendmail daemon" 0 "$(master_pid)"
assert_eq "mail waiting in the queue" 5 "$(queue_count)"
assert_eq "forced queue runs (sendmail-mta -qR@)" 0 "$(sendmail_flushes)"
assert_left_alone "sendmail daemon"

# the daemon's first queue run, at its start, sends what waited
admin_stop_end Sendmail 5
