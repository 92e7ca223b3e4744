#!/usr/bin/env bash
# Outage, then the relay is back but Postfix's qmgr is frozen (SIGSTOP): the queue does not
# move although the network is fine. The watchdog must detect the stall, restart Postfix
# exactly once through systemd, see the queue drain, and alert stall.detected ... recovered.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

start_daemon
track_master_pid
stuck_after_outage 20
wait_healed Postfix 90

assert_eq "messages at the relay" 20 "$(relay_count)"
assert_healed_by_one_restart master
