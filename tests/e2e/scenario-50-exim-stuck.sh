#!/usr/bin/env bash
# Exim (Debian's exim4, smarthost to the relay): outage, mail queued and deferred, then the
# listening daemon is frozen (SIGSTOP): alive, but it starts no queue runner, so the queue does
# not move although the relay is back. The watchdog must detect the stall, restart exim4.service
# exactly once (a new daemon pid in /run/exim4/exim.pid), see the queue drain, and alert
# outage ... recovered in one incident, as for Postfix (scenario-01-stuck.sh). The restart's stop
# (/etc/init.d/exim4: start-stop-daemon --stop --retry 5) sends SIGTERM, which the stopped daemon
# keeps pending, and SIGKILL 5 s later: the frozen daemon is gone, none is left stopped.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

# The queue as `mta-watchdogd --once --json` shows it during the outage (README "Watching Exim
# instead of Postfix"), run as the service user: one message frozen by hand (not backlog), the
# retry hints database the failures wrote (schedule_source retry-db), and, with the daemon frozen
# (no queue run), every other message overdue once the relay's next attempt (retry rule F,1h,10s,
# guest-setup.sh) is more than overdue_slack past; by then the probe reads -H, where the frozen
# flag is (only for messages older than overdue_slack, probes/exim.c). Then it is thawed again.
once_in_outage() {
    local id
    id=$(queue_ids | head -n1)
    exim_freeze_message "$id"
    wait_until 60 once_overdue 19 || { once_log; fail "--once: not 19 of 20 messages overdue after 60s"; }
    once_log
    assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
    assert_eq "--once verdict" healthy "$(once_field verdict)"
    assert_eq "--once reason" "outage: the relay does not answer; a restart would not help" "$(once_field reason)"
    assert_eq "--once backlog" 19 "$(once_field queue.backlog)"
    assert_eq "--once deferred" 19 "$(once_field queue.deferred)"
    assert_eq "--once frozen" 1 "$(once_field queue.frozen)"
    assert_eq "--once overdue" 19 "$(once_field queue.overdue)"
    assert_eq "--once schedule_source" retry-db "$(once_field queue.schedule_source)"
    assert_eq "--once hung" null "$(once_field queue.hung)"
    [ "$(once_field queue.oldest_id)" != "$id" ] || fail "--once: the frozen $id is the oldest of the backlog"
    exim_thaw_message "$id"
}

start_daemon
track_master_pid
stuck_after_outage 20 once_in_outage
wait_healed Exim 90

assert_eq "stopped exim processes" 0 "$(stopped_exim_count)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "exim4.service" "active running" "$(mta_state) $(mta_sub_state)"
assert_healed_by_one_restart "exim daemon"
