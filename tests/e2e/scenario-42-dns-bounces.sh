#!/usr/bin/env bash
# DNS bounces: direct MX delivery (no relayhost, DNS lookups) through a nameserver that
# answers NXDOMAIN for nxdomain.test (peer.py dns). Postfix bounces the 3 messages ("Host or
# domain name not found"). Nothing a restart can fix and nothing stuck: no restart, no alert,
# but the failures are counted by cause: --once --json, STATUS= and the metrics file.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-remediation.sh
. "$(dirname "$0")/lib-remediation.sh"
# shellcheck source-path=SCRIPTDIR source=lib-causes.sh
. "$(dirname "$0")/lib-causes.sh"
e2e_scenario_begin
cleanup() { cs_record_log "dns bounces"; cs_record_events; causes_cleanup; rm_cleanup; }
e2e_on_exit cleanup

metrics=/run/mta-watchdog/metrics.prom
rm_config_set watchdog metrics_file "$metrics"
rm_config_check
dns_peer_start --a relay.test=192.0.2.2
cs_write /etc/resolv.conf "nameserver 127.0.0.1"
cs_write "$CS_CHROOT_ETC/resolv.conf" "nameserver 127.0.0.1"
postfix_conf 'relayhost =' 'smtp_host_lookup = dns' 'disable_dns_lookups = no'
start_daemon
track_master_pid

queue_mail_quiet 3 user@nxdomain.test
_bounced() { queue_empty && [ "$(postfix_log_count "status=bounced")" -ge 3 ]; }
wait_until 60 _bounced || fail "setup: 3 bounces expected, Postfix logged $(postfix_log_count "status=bounced") (queue $(queue_count))"
assert_eq "setup: bounces for nxdomain.test" 3 "$(postfix_log_count "name=nxdomain.test type=A: Host not found")"
peer_journal dns | grep -q 'nxdomain.test MX -> NXDOMAIN' || fail "setup: the dns stand-in saw no MX query for nxdomain.test"
observe $((E2E_INTERVAL * 3))

# --once reads the journal back over stall_after: right after the bounces
once=$(once_json 'd["activity"]["bounced_by_cause"]["dns-failure"]')
e2e_log "--once --json activity: $(once_json 'd["activity"]')"
status=$(daemon_status_text)
e2e_log "StatusText: $status"
# promparse.py names a series with its labels sorted
series='mta_watchdog_delivery_failures_total{cause="dns-failure",outcome="bounced",unit="postfix@-.service"}'
value=$(e2e_exec python3 /e2e/promparse.py "$metrics" "$series" 2>&1 || true)
e2e_log "metrics: $series = $value"
observe $((CS_DEGRADED_AFTER + 10))

assert_eq "master PID changes" 0 "$(master_pid_changes)"
assert_eq "alerts" "" "$(events | paste -sd' ' -)"
assert_eq "--once activity.bounced_by_cause[dns-failure]" 3 "$once"
assert_eq "StatusText has 'bounced 3 (dns-failure 3)'" yes \
    "$(case $status in *"bounced 3 (dns-failure 3)"*) echo yes ;; *) echo no ;; esac)"
assert_eq "metrics: $series" 3 "$value"
assert_eq "watchdog still running" active "$(daemon_state)"
