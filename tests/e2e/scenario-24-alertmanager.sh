#!/usr/bin/env bash
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
# format = alertmanager against Debian's prometheus-alertmanager in the container: during the
# stuck-MTA incident its API (/api/v2/alerts) shows our alert firing with our labels; after
# the recovery it is resolved (no longer active).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

# Alone, without a cluster: its gossip wants a private address the sandbox does not have.
e2e_exec sh -c 'echo "ARGS=\"--cluster.listen-address=\"" > /etc/default/prometheus-alertmanager'
e2e_exec systemctl restart prometheus-alertmanager.service || fail "cannot start prometheus-alertmanager"
wait_until 60 _listening 9093 || fail "alertmanager not listening on 9093"
wait_until 30 _am_ready || fail "alertmanager API not ready"
config_append "[alert:am]
url = http://127.0.0.1:9093/api/v2/alerts
format = alertmanager
resend_interval = 10s"

start_daemon
stuck_incident_begin
wait_until 30 _am_firing || fail "no firing alert in Alertmanager: $(_am_alerts)"
e2e_log "firing: $(_am_alerts)"
host=$(e2e_exec hostname)
incident=$(events --event outage.started --field incident)
assert_eq "labels of the firing alert" \
    "active MTAWatchdogIncident $host postfix postfix@-.service warning $incident" "$(_am_alerts)"
observe 15   # still within restore_grace: at least one re-post (resend_interval = 10s)
assert_ge "re-posts of the ongoing incident" 1 "$(daemon_logged "alert am: delivered re-post of incident")"
assert_eq "still one firing alert for the incident" \
    "active MTAWatchdogIncident $host postfix postfix@-.service warning $incident" "$(_am_alerts)"
stuck_incident_end
assert_eq "stall and recovery in the same incident" "$incident" "$(events --event recovered --field incident)"
wait_until 30 _am_resolved || fail "the alert was not resolved: $(_am_alerts)"
e2e_log "ok: resolved, no active alert left"
assert_ge "posts to Alertmanager delivered" 4 "$(daemon_logged "alert am: delivered")"
assert_eq "posts refused by Alertmanager" 0 "$(daemon_logged "refused with HTTP")"
