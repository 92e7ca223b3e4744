#!/usr/bin/env bash
# The next hop hangs: Postfix hands all mail to a content filter at [127.0.0.1]:10025 (an
# smtp(8) next hop), which greets with 220 and then never answers EHLO (peer.py smtp-hang);
# smtp_helo_timeout = 60s. The relay the watchdog probes is fine. The stall is seen while the
# delivery agents hang, before any failure is logged, so the watchdog restarts Postfix once;
# verify_after ends before smtp_helo_timeout, so nothing is logged by then and the ladder ends
# (gave_up). The hang comes back and is then logged as a timeout after the greeting (cause
# class protocol-timeout, peer 127.0.0.1:10025), which a restart cannot fix: one
# delivery.degraded names it at once, and then nothing more while the cause is unchanged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-causes.sh
. "$(dirname "$0")/lib-causes.sh"
e2e_scenario_begin
cleanup() { cs_record_log "next hop hangs"; cs_record_events; causes_cleanup; }
e2e_on_exit cleanup

smtp_hang_start 10025
postfix_conf 'content_filter = smtp:[127.0.0.1]:10025' 'smtp_helo_timeout = 60s'
start_daemon
track_master_pid
queue_mail 5
_hung() { all_active 5 && [ "$(peer_journal hang | grep -c 'connection from')" -ge 1 ]; }
wait_until 30 _hung ||
    fail "mail not hanging at the next hop (active $(active_count), queue $(queue_count), stand-in connections $(peer_journal hang | grep -c 'connection from'))"
e2e_log "5 messages in active/, smtp(8) hangs after the 220 of [127.0.0.1]:10025"

budget=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
e2e_log "waiting up to ${budget}s for gave_up"
wait_until "$budget" has_event gave_up ||
    fail "no gave_up after ${budget}s; alerts: $(events | paste -sd' ' -); master PID changes $(master_pid_changes)"
assert_eq "master PID changes until gave_up" 1 "$(master_pid_changes)"
# smtp(8) times out 60 s after the restart's reconnect
wait_until 90 has_event delivery.degraded ||
    fail "no delivery.degraded naming the next hop; alerts: $(events | paste -sd' ' -)"
n_events=$(events | wc -l)
quiet=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 60))
e2e_log "cause named; watching for another ${quiet}s (stall_after + verify_after + 60s: the hang repeats)"
observe "$quiet"

# the setup did what it should: the hang was logged as a timeout after the greeting
postfix_logged "timed out while" || fail "setup: Postfix logged no timeout towards 127.0.0.1"
assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "alerts in order" "stall.detected action.started action.failed gave_up delivery.degraded" \
    "$(events | paste -sd' ' -)"
assert_eq "no alerts while the cause is unchanged" "$n_events" "$(events | wc -l)"
assert_eq "degraded cause class" protocol-timeout "$(events --event delivery.degraded --field details.cause.class)"
assert_eq "degraded cause peer" "127.0.0.1[127.0.0.1]:10025" "$(events --event delivery.degraded --field details.cause.peer)"
assert_eq "degraded cause last line says timed out" yes \
    "$(case $(events --event delivery.degraded --field details.cause.last_line) in *"timed out while"*) echo yes ;; *) echo no ;; esac)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "watchdog still running" active "$(daemon_state)"
