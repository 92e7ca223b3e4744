#!/usr/bin/env bash
# The delivery agent cannot start: smtp_mx_address_limit = 5x (not a number) makes every
# smtp(8) exit with "fatal:" at once, and master(8) throttles it. Fatal errors of the MTA
# itself (cause class mta-internal): one restart may help, this one does not (the setting
# stays): exactly one restart, then gave_up, with the fatal line among the alert's MTA log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-causes.sh
. "$(dirname "$0")/lib-causes.sh"
e2e_scenario_begin
cleanup() { cs_record_log "agent crash loop"; cs_record_events; causes_cleanup; }
e2e_on_exit cleanup

start_daemon
track_master_pid
postfix_conf 'smtp_mx_address_limit = 5x'
queue_mail 5
_crashing() { postfix_logged "fatal:" && postfix_logged "smtp_mx_address_limit"; }
wait_until 60 _crashing || fail "setup: no fatal error of smtp(8) logged (queue $(queue_count))"
e2e_log "smtp(8) dies at start: $(postfix_log "fatal:" | head -n1)"

budget=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 120))
e2e_log "waiting up to ${budget}s for gave_up"
wait_until "$budget" has_event gave_up ||
    fail "no gave_up after ${budget}s; alerts: $(events | paste -sd' ' -); master PID changes $(master_pid_changes); queue $(queue_count)"
observe $((E2E_INTERVAL * 5))

fatal_in_mta_log=$(e2e_exec python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        lines = json.loads(line).get("details", {}).get("cause", {}).get("mta_log") or []
    except (ValueError, AttributeError):
        continue
    if any(isinstance(s, str) and "fatal:" in s and "smtp_mx_address_limit" in s for s in lines):
        n += 1
print(n)' "$E2E_WEBHOOK_LOG")
assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "gave_up alerts" 1 "$(event_count gave_up)"
assert_ge "alerts whose details.cause.mta_log has the fatal line" 1 "$fatal_in_mta_log"
assert_eq "queue still stuck" 5 "$(queue_count)"
assert_eq "watchdog still running" active "$(daemon_state)"
