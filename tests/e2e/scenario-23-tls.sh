#!/usr/bin/env bash
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
# An HTTPS receiver with a certificate from a CA the test makes: the receiver configured
# with that CA in ca_file gets the alerts; one without it refuses the certificate, and the
# refusal is logged clearly.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

e2e_exec sh -c 'set -e; d=/var/lib/e2e/tls; install -d -m 0755 $d; cd $d
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=e2e test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
    printf "subjectAltName=IP:127.0.0.1,DNS:localhost\n" > ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext 2>/dev/null' ||
    fail "cannot make the test CA"
start_receiver tls 9443 --tls-cert /var/lib/e2e/tls/server.pem --tls-key /var/lib/e2e/tls/server.key
config_append "[alert:tls]
url = https://127.0.0.1:9443/hook
ca_file = /var/lib/e2e/tls/ca.pem

[alert:tlsnoca]
url = https://127.0.0.1:9443/hook"

start_daemon
link_down
wait_until 30 has_logged "(outage.started)" || fail "no outage"
link_up
wait_until 30 _tls_has 2 || fail "the HTTPS receiver got $(events_of tls | wc -l) alerts, expected 2"
wait_until 30 has_logged "to https://127.0.0.1:9443/hook failed" || fail "no failed attempt logged for tlsnoca"
observe 5
assert_eq "alerts over TLS (only the receiver with ca_file)" "outage.started outage.ended" "$(events_of tls | paste -sd' ' -)"
assert_ge "refusals logged as an untrusted certificate" 1 \
    "$(daemon_logged "not trusted (see ca_file)")"
case $(journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager | grep "alert tlsnoca: sending .* failed" | head -n1) in
    *"SSL certificate problem"*"not trusted (see ca_file)"*) e2e_log "ok: the refusal names the certificate problem" ;;
    *) fail "refusal not logged clearly: $(journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager | grep "alert tlsnoca" | head -n1)" ;;
esac
assert_eq "tlsnoca alerts still waiting" 2 "$(e2e_exec sh -c 'ls "$1/outbox" | grep -c "^tlsnoca\."' sh "$E2E_STATE_DIR")"
