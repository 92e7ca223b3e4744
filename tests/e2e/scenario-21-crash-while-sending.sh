#!/usr/bin/env bash
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
# mta-watchdogd is killed (SIGKILL) while alerts wait in its outbox because the receiver
# answers 503. systemd restarts it; it resumes the outbox: everything is delivered, nothing
# lost, and what was delivered (2xx) before the crash is not delivered again.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

start_daemon
link_down
wait_until 30 has_event outage.started || fail "outage.started not delivered"
first_id=$(events --field id)
receiver_fail 503
e2e_log "receiver answers 503 from now on"
link_up
wait_until 30 has_logged "(outage.ended)" || fail "the outage did not end"
link_down
wait_until 30 _two_outages || fail "the second outage was not detected"
link_up
wait_until 30 _two_outages_ended || fail "the second outage did not end"
wait_until 10 _outbox_has 3 || fail "expected 3 alerts in the outbox, found $(outbox_count)"

pid=$(daemon_pid)
e2e_exec systemctl kill -s KILL "$E2E_DAEMON_UNIT"
e2e_log "SIGKILL to mta-watchdogd (pid $pid)"
wait_until 60 _restarted "$pid" || fail "systemd did not restart the daemon"
e2e_log "restarted as pid $(daemon_pid)"
wait_until 10 has_logged "resuming 3 undelivered alert(s)" || fail "the outbox was not resumed"

receiver_ok
e2e_log "receiver answers 200 again"
wait_until 60 _outbox_empty || fail "outbox not emptied: $(outbox_count) left"

assert_eq "alerts in order" "outage.started outage.ended outage.started outage.ended" "$(events | paste -sd' ' -)"
assert_eq "distinct ids" 4 "$(events --field id | sort -u | wc -l)"
assert_eq "the alert delivered before the crash, delivered once" 1 \
    "$(events --field id | grep -cx "$first_id")"
assert_eq "nothing set aside" 0 "$(e2e_exec sh -c 'ls "$1/outbox/failed" | wc -l' sh "$E2E_STATE_DIR")"
