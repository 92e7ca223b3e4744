#!/usr/bin/env bash
# The Exim daemon is killed (SIGKILL). exim4.service is generated from the init script
# (MainPID 0, RemainAfterExit=yes), so systemd only says "active (exited)": the unit state
# lies. The watchdog sees the daemon gone through /run/exim4/exim.pid (a stale file naming a
# dead pid), restarts exim4.service within its budget with an alert that says why, and sees a
# new daemon; mail submitted afterwards is delivered.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

start_daemon
track_master_pid
old=$(master_pid)
kill_exim_daemon
_unit_exited() { [ "$(mta_sub_state)" = exited ]; }
wait_until 10 _unit_exited || fail "exim4.service is not 'active (exited)': $(mta_state) $(mta_sub_state)"
e2e_log "exim4.service: $(mta_state) ($(mta_sub_state)), pid file names $(e2e_exec cat "$E2E_EXIM_PIDFILE" 2>/dev/null)"
_new_daemon() { local p; p=$(master_pid); [ "$p" != 0 ] && [ "$p" != "$old" ]; }
budget=$((E2E_INTERVAL * 10 + E2E_RESTART_TIMEOUT))
wait_until "$budget" _new_daemon || fail "no new exim daemon after ${budget}s; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"
queue_mail 3
wait_until 60 queue_empty || fail "the new daemon did not deliver: $(queue_count) left"
observe $((E2E_INTERVAL * 3))

assert_eq "exim daemon PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 3 "$(relay_count)"
assert_eq "mta.died alerts" 1 "$(event_count mta.died)"
assert_eq "restart action.started alerts" 1 "$(event_count action.started restart)"
assert_eq "restart action.succeeded alerts" 1 "$(event_count action.succeeded restart)"
assert_eq "alerts in order" "mta.died action.started action.succeeded recovered" "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "exim4.service" "active running" "$(mta_state) $(mta_sub_state)"
assert_eq "watchdog still running" active "$(daemon_state)"
