#!/usr/bin/env bash
# A delivery that hangs while it holds its message: the relay keeps the delivery waiting after
# DATA, the delivery process (exim4 -Mc ID) and its transport child are stopped (SIGSTOP), the
# relay answers again. Exim's queue runs skip the message ("Spool file ... is locked"), and a
# restart would not end the process. The watchdog reports the hung delivery (holder pid and
# message id, after hung_delivery_after); with kill_hung_deliveries = yes it ends the process,
# and the next queue run delivers the message.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

hung_after=20
rm_config_set mta hung_delivery_after "${hung_after}s"
start_daemon
exim_log_mark
id=$(hung_delivery)
holder=$(lock_holder "$id")
_hung_reported() { has_event delivery.hung; }
wait_until $((hung_after + 30)) _hung_reported || fail "the hung delivery was not reported; alerts: $(events | paste -sd, -)"
assert_eq "delivery.hung alerts" 1 "$(event_count delivery.hung)"
assert_eq "delivery.hung names the message" 1 "$(event_count delivery.hung "$id")"
assert_eq "delivery.hung names the holder" 1 "$(event_count delivery.hung "$holder")"
assert_ge "queue runs that skipped the locked message" 1 "$(exim_logged "Spool file for $id is locked")"
assert_eq "the delivery still holds the message" "$holder" "$(lock_holder "$id")"
assert_eq "messages at the relay" 0 "$(relay_count)"

# the opt-in step: the daemon restarted with kill_hung_deliveries = yes
stop_daemon
rm_config_set mta kill_hung_deliveries yes
start_daemon
wait_until $((hung_after + 60)) queue_empty || fail "the hung delivery was not ended: $(queue_count) left, holder $(lock_holder "$id"); alerts: $(events | paste -sd, -)"
assert_eq "holder process gone" no "$(e2e_exec test -d "/proc/$holder" && echo yes || echo no)"
assert_eq "messages at the relay" 1 "$(relay_count)"
assert_eq "watchdog still running" active "$(daemon_state)"
