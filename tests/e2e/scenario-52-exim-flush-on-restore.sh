#!/usr/bin/env bash
# scenario-51-exim-backoff.sh with flush_on_restore = yes: when the outage ends, the watchdog
# runs the profile's flush exactly once (it starts mta-watchdog-exim-flush.service, whose
# exim4 -qf runs as root), so a healthy Exim delivers at once instead of waiting out its
# 2-minute retry time. No restart, no second flush, no stall; the alerts say why it flushed.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

flush_unit=mta-watchdog-exim-flush.service   # the exim profile's default flush_command starts it
flush_unit_starts() { # starts of the flush unit since the scenario began (systemd's "Starting" line;
    # not with -u: journalctl 252 returns nothing for --after-cursor with a field match)
    journal_since_begin -o cat --no-pager 2>/dev/null | grep -cF "Starting $flush_unit " || true
}

retry=120
exim_retry "F,1h,${retry}s"
rm_config_set mta flush_on_restore yes
start_daemon
track_master_pid
exim_log_mark
link_down
queue_mail 20
wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
link_up
t_up=$(e2e_now)
# "at once": well before the retry time (the first failure was retry s ago at the most)
wait_until $((retry / 2)) queue_empty || fail "no flush drained the queue within $((retry / 2))s: $(queue_count) left; alerts: $(events | paste -sd, -)"
e2e_log "drained $(( $(e2e_now) - t_up ))s after the link came back; watching for another $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))s"
observe $((E2E_RESTORE_GRACE + E2E_STALL_AFTER))

assert_eq "forced queue runs (exim4 -qf)" 1 "$(forced_queue_runs)"
assert_eq "starts of $flush_unit" 1 "$(flush_unit_starts)"
assert_eq "exim daemon PID changes" 0 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "alerts in order" "outage.started outage.ended action.started action.succeeded" \
    "$(events | paste -sd' ' -)"
# the action by the alert's "action" field (a grep of the whole alert also finds "restarts_in_window")
assert_eq "the flush's action" flush "$(events --event action.started --field action)"
assert_eq "the flush's end" flush "$(events --event action.succeeded --field action)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
case $(events --event action.started --field summary) in
    "network restored: one flush"*"(flush_on_restore)") ;;
    *) fail "action.started does not say why: $(events --event action.started --field summary)" ;;
esac
assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
assert_eq "watchdog still running" active "$(daemon_state)"
