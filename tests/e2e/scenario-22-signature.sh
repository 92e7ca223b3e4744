#!/usr/bin/env bash
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
# Signed alerts (Standard Webhooks): a second receiver verifies every request's signature
# with the shared secret. The daemon refuses a secret file others can read and never shows
# the secret. When the receiver holds a different secret, verification fails (401) and the
# daemon sets the alert aside as refused.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

secret=whsec_$(head -c 32 /dev/urandom | base64)
wrong=whsec_$(head -c 32 /dev/urandom | base64)
key=${secret#whsec_}
conf=/etc/mta-watchdog/mta-watchdog.ini
e2e_exec sh -c 'umask 022; printf "%s\n" "$1" > /etc/mta-watchdog/signed.secret
    install -d /var/lib/e2e/signed; printf "%s\n" "$1" > /var/lib/e2e/signed/secret' sh "$secret"
start_receiver signed 9001 --secret-file /var/lib/e2e/signed/secret
config_append "[alert:signed]
url = http://127.0.0.1:9001/hook
secret_file = /etc/mta-watchdog/signed.secret"

# Readable by others: a configuration error naming the file, without the secret.
out=$(e2e_exec sh -c '/usr/sbin/mta-watchdogd --check-config -c "$1" 2>&1; echo "exit $?"' sh "$conf")
assert_eq "check-config exit status" "exit 78" "$(tail -n1 <<<"$out")"
case $out in
    *"secret_file: /etc/mta-watchdog/signed.secret is accessible by others"*) e2e_log "ok: refused, naming the file" ;;
    *) fail "no error naming the secret file: $out" ;;
esac
# as an admin gives the daemon (user mta-watchdog) its secret
e2e_exec chown root:mta-watchdog /etc/mta-watchdog/signed.secret
e2e_exec chmod 0640 /etc/mta-watchdog/signed.secret
out=$(e2e_exec /usr/sbin/mta-watchdogd --check-config -c "$conf" 2>&1) || fail "check-config failed: $out"
case $out in *"$key"*) fail "--check-config shows the secret" ;; esac
e2e_log "ok: check-config passes and does not show the secret"

start_daemon
link_down
wait_until 30 has_logged "(outage.started)" || fail "no outage"
link_up
wait_until 30 _signed_has 2 || fail "signed receiver got $(events_of signed | wc -l) alerts, expected 2"
assert_eq "alerts at the signed receiver" "outage.started outage.ended" "$(events_of signed | paste -sd' ' -)"
assert_eq "valid signatures" 2 "$(_signatures valid)"
assert_eq "invalid signatures" 0 "$(_signatures invalid)"

# The receiver now expects another secret: the next alert fails verification.
e2e_exec sh -c 'printf "%s\n" "$1" > /var/lib/e2e/signed/secret' sh "$wrong"
link_down
wait_until 30 has_logged "alert signed: outage.started" || true
wait_until 30 has_logged "refused with HTTP 401" || fail "a wrong secret did not fail"
assert_ge "invalid signatures" 1 "$(_signatures invalid)"
assert_eq "alerts accepted by the signed receiver" 2 "$(events_of signed | wc -l)"
assert_eq "refused alert set aside" 1 "$(e2e_exec sh -c 'ls "$1/outbox/failed" | grep -c "^signed\."' sh "$E2E_STATE_DIR")"
assert_eq "journal lines showing the secret" 0 "$(daemon_logged "$key")"
link_up
