#!/usr/bin/env bash
# SIGHUP (systemctl reload: the unit's ExecReload= sends it) re-reads the configuration. A
# broken file (a bad restore_grace, next to a new stall_after) is rejected: same process, the
# error and "the running configuration stays" in the journal, and the old stall_after (40s)
# still decides the next stall. A good file with
# stall_after = 100s is applied without a restart of the daemon: the next stuck queue is left
# alone past the old stall_after and restarted only after the new one.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

new_stall_after=100   # seconds; well apart from the sandbox's 40s
stuck_queue() { # qmgr frozen, then 20 messages that sit in incoming (overdue after overdue_slack)
    freeze_qmgr
    queue_mail 20
}
heal_and_check() { # N: wait for the Nth restart to drain the queue and the Nth recovered
    wait_until $((E2E_VERIFY_AFTER + 60)) queue_empty ||
        fail "queue not drained: $(queue_count) left; alerts: $(events | paste -sd, -)"
    wait_until 60 event_count_ge recovered "$1" || fail "no recovered alert #$1; alerts: $(events | paste -sd, -)"
    assert_eq "master PID changes" "$1" "$(master_pid_changes)"
}

start_daemon
pid=$(daemon_pid)
track_master_pid

# --- a broken file: rejected, the old configuration keeps running ------------------------
rm_config_set mta stall_after "${new_stall_after}s"
rm_config_set mta restore_grace later
daemon_reload
wait_until 20 daemon_logged "the running configuration stays" ||
    fail "no rejection logged after SIGHUP: $(daemon_journal | tail -n 5 | paste -sd'|' -)"
assert_eq "watchdog pid after a bad reload" "$pid" "$(daemon_pid)"
assert_eq "watchdog state after a bad reload" active "$(daemon_state)"
assert_eq "journal: the file's error" 1 \
    "$(daemon_journal | grep -F "$RM_INI:" | grep -cF "[mta] restore_grace:" || true)"
assert_eq "journal: rejected" 1 "$(daemon_log_count "has errors (above); the running configuration stays")"
assert_eq "journal: applied" 0 "$(daemon_log_count "Reload: $RM_INI applied")"

stuck_queue
wait_until $((E2E_STALL_AFTER + 40)) has_event stall.detected ||
    fail "no stall within the old stall_after + 40s; alerts: $(events | paste -sd, -)"
took=$(stall_no_progress_secs 1)
e2e_log "stall #1 after ${took}s without progress (old stall_after ${E2E_STALL_AFTER}s)"
assert_eq "stall #1 decided by the old stall_after" yes \
    "$([ "$took" -ge "$E2E_STALL_AFTER" ] && [ "$took" -lt "$new_stall_after" ] && echo yes || echo "no (${took}s)")"
heal_and_check 1

# --- a good file: applied, the new stall_after in effect ------------------------------------
rm_config_restore
rm_config_set mta stall_after "${new_stall_after}s"
rm_config_check
daemon_reload
wait_until 20 daemon_logged "Reload: $RM_INI applied" ||
    fail "reload not applied: $(daemon_journal | tail -n 5 | paste -sd'|' -)"
assert_eq "watchdog pid after a good reload" "$pid" "$(daemon_pid)"
assert_eq "watchdog state after a good reload" active "$(daemon_state)"
assert_eq "journal: rejected (still only the first)" 1 "$(daemon_log_count "the running configuration stays")"

stuck_queue
t_queued=$(e2e_uptime)
old_window=$((E2E_STALL_AFTER + 25))
observe "$old_window"
e2e_log "${old_window}s after queueing (old stall_after ${E2E_STALL_AFTER}s + 25s): nothing may have happened"
assert_eq "stall.detected alerts within the old stall_after" 1 "$(event_count stall.detected)"
assert_eq "master PID changes within the old stall_after" 1 "$(master_pid_changes)"
assert_eq "queue still stuck" 20 "$(queue_count)"
wait_until $((new_stall_after + 40 - ($(e2e_uptime) - t_queued))) event_count_ge stall.detected 2 ||
    fail "no stall within the new stall_after + 40s; alerts: $(events | paste -sd, -)"
took=$(stall_no_progress_secs 2)
e2e_log "stall #2 after ${took}s without progress (new stall_after ${new_stall_after}s), $(($(e2e_uptime) - t_queued))s after queueing"
assert_eq "stall #2 decided by the new stall_after" yes \
    "$([ "$took" -ge "$new_stall_after" ] && [ "$took" -lt $((new_stall_after + 20)) ] && echo yes || echo "no (${took}s)")"
heal_and_check 2

assert_eq "messages at the relay" 40 "$(relay_count)"
assert_eq "stall.detected alerts" 2 "$(event_count stall.detected)"
assert_eq "restart action.started alerts" 2 "$(event_count action.started restart)"
assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
assert_eq "alerts in order" \
    "stall.detected action.started action.succeeded recovered stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "watchdog pid throughout" "$pid" "$(daemon_pid)"
assert_eq "watchdog still running" active "$(daemon_state)"
