#!/usr/bin/env bash
# Debian's logrotate job for Exim (/etc/logrotate.d/exim4-base: rename, delaycompress,
# nocreate: Exim creates a new mainlog on its next write) runs twice: during a healthy run and
# during a stall. The watchdog follows /var/log/exim4/mainlog across both: every delivery line
# is counted exactly once (mta_watchdog_delivery_lines_total{outcome="sent"} equals the number
# of messages delivered: none lost, none doubled), and the stall is still detected and healed.
set -euo pipefail
E2E_MTA=exim
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
e2e_scenario_begin
e2e_on_exit rm_cleanup

metrics=/run/mta-watchdog/metrics.prom
rm_config_set watchdog metrics_file "$metrics"
lines_metric() { # OUTCOME: mta_watchdog_delivery_lines_total of that outcome
    e2e_exec python3 /e2e/promparse.py "$metrics" \
        "mta_watchdog_delivery_lines_total{outcome=\"$1\",unit=\"$E2E_MTA_UNIT\"}" 2>/dev/null || echo '?'
}
sent_lines() { lines_metric sent; }
_sent_is() { [ "$(sent_lines)" = "$1" ]; }
# The main log's lines since exim_log_mark that match the ERE $1 and not the ERE $2, read from
# the files two rotations leave (mainlog.2.gz, mainlog.1, mainlog): what the metric must count.
mainlog_count() {
    # shellcheck disable=SC2016
    e2e_exec sh -c 'for f in "$1".2.gz "$1".1 "$1"; do if [ -f "$f" ]; then zcat -f "$f"; fi; done |
        awk -v m="$2" "\$1 \" \" \$2 >= m" | grep -E -- "$3" | grep -cvE -- "$4" || true' \
        sh "$E2E_EXIM_MAINLOG" "$E2E_MAINLOG_MARK" "$1" "${2:-^$}"
}
rotate() {
    e2e_exec logrotate -f /etc/logrotate.d/exim4-base || fail "logrotate failed"
    e2e_log "logrotate -f: $(e2e_exec ls /var/log/exim4 | paste -sd' ' -)"
}

start_daemon
track_master_pid
exim_log_mark   # the follower counts only lines written after the daemon started

# healthy: 5 delivered, the log rotated, 5 more (the first lands in a new mainlog)
queue_mail 5
wait_until 60 queue_empty || fail "not delivered: $(queue_count) left"
wait_until 20 _sent_is 5 || fail "delivery lines counted before the rotation: $(sent_lines), not 5"
rotate
queue_mail 5
wait_until 60 queue_empty || fail "not delivered after the rotation: $(queue_count) left"
wait_until 20 _sent_is 10 || fail "delivery lines counted across the rotation: $(sent_lines), not 10"
observe $((E2E_INTERVAL * 3))
assert_eq "delivery lines (healthy run, one rotation)" 10 "$(sent_lines)"

# a stall, and the log rotated in the middle of it (the frozen daemon writes nothing: no mainlog
# until the restarted Exim writes one)
stuck_after_outage 10 rotate
budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
wait_until "$budget" queue_empty ||
    fail "queue not drained after ${budget}s: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"
wait_until 20 _sent_is 20 || fail "delivery lines counted across the stall's rotation: $(sent_lines), not 20"
observe $((E2E_INTERVAL * 3))

assert_eq "delivery lines (all)" 20 "$(sent_lines)"
# every outcome as the main log has it (probes/exim-log.c): "=>" sent; the relay's own
# "H=... Network is unreachable" a connection error to the probed host; a transport's "=="
# deferral, but not a failed connect's summary or "retry time not reached" (-52 and below)
assert_eq "sent lines in the main log" 20 "$(mainlog_count ' [^ ]+ (=>|->) ')"
conn=$(mainlog_count ' H=192\.0\.2\.2 \[192\.0\.2\.2\] Network is unreachable$')
assert_ge "connection errors in the main log" 1 "$conn"
assert_eq "connection error lines to the relay" "$conn" "$(lines_metric connection_error_probed)"
assert_eq "deferred lines" "$(mainlog_count ' == .* T=[^ ]+ defer \(' 'defer \(-5[2-9]\)|defer \([0-9]+\): Network is unreachable$')" \
    "$(lines_metric deferred)"
assert_eq "bounced lines" 0 "$(lines_metric bounced)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "exim daemon PID changes" 1 "$(master_pid_changes)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
assert_eq "one incident" 1 "$(events --field incident | sort -u | wc -l)"
assert_eq "watchdog still running" active "$(daemon_state)"
