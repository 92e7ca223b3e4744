#!/usr/bin/env bash
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
# Receivers that answer 200 but say in the body that they refused the alert. A json receiver
# behind a "Teams relay" answers "Webhook message delivery failed ... HTTP error 429" for a
# while (failure_body catches it): nothing is lost, the daemon logs the body, retries, and
# once the receiver answers properly each alert arrives exactly once, in order. A slack
# receiver that answers 200 "invalid_payload" gets that alert set aside in failed/ at once,
# and the next one, answered "ok", is delivered.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

refusal="Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429"
e2e_exec install -d -m 0755 /var/lib/e2e/relayed /var/lib/e2e/slack
e2e_exec sh -c 'printf "%s\n" "$1" > /var/lib/e2e/relayed/body' sh "$refusal"
e2e_exec sh -c 'printf "invalid_payload" > /var/lib/e2e/slack/body'
start_receiver relayed 9100 --body-flag /var/lib/e2e/relayed/body
start_receiver slack 9101 --body-flag /var/lib/e2e/slack/body
config_append "[alert:relayed]
url = http://127.0.0.1:9100/hook
failure_body = delivery failed|returned HTTP error
retry_max = 2s

[alert:slack]
url = http://127.0.0.1:9101/hook
format = slack"

_refused() { # NAME: requests receiver NAME answered with its refusal body
    e2e_exec sh -c 'f=/var/lib/e2e/$1/requests.jsonl; if [ -f "$f" ]; then grep -c "\"refused\":true" "$f" || true; else echo 0; fi' sh "$1"
}
_logged_refusal() { # journal lines: the relayed receiver's refusal, with its name, event and body
    e2e_exec journalctl -u "$E2E_DAEMON_UNIT" --since "@$E2E_T0" -o cat --no-pager 2>/dev/null |
        grep -cE "^alert relayed: sending outage\.started [0-9a-f-]{36} to http://127\.0\.0\.1:9100/hook failed \(HTTP 200 with an unexpected body: Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429\), retrying in [0-9]+ms$" || true
}
_refused_ge() { [ "$(_refused "$1")" -ge "$2" ]; }
_outbox_of() { # NAME [failed]: entries of receiver NAME in the outbox (or in its failed/)
    e2e_exec sh -c 'ls "$1/outbox/$3" 2>/dev/null | grep -c "^$2\..*\.json$" || true' sh "$E2E_STATE_DIR" "$1" "${2:-}"
}
_relayed_has() { [ "$(events_of relayed | wc -l)" -ge "$1" ]; }

start_daemon
link_down
wait_until 60 has_logged "alert relayed: sending outage.started" ||
    fail "outage.started was not sent to the relayed receiver"
wait_until 60 _refused_ge relayed 3 || fail "not retried: $(_refused relayed) refused request(s)"
e2e_log "the relayed receiver refused $(_refused relayed) requests in a 200"
assert_eq "alerts received by the relayed receiver meanwhile" 0 "$(events_of relayed | wc -l)"
assert_eq "outage.started waiting in the outbox for it" 1 "$(_outbox_of relayed)"
assert_ge "the refusal logged with the receiver's name, the event and the body" 1 "$(_logged_refusal)"

wait_until 30 has_logged "alert slack: outage.started" || fail "outage.started was not sent to slack"
assert_eq "slack's invalid_payload set aside at once" 1 "$(_outbox_of slack failed/)"
assert_ge "and logged" 1 "$(daemon_logged "refused with HTTP 200 and an error body, moved to failed/: invalid_payload")"
assert_eq "slack retried nothing" 1 "$(_refused slack)"
e2e_exec rm -f /var/lib/e2e/slack/body
e2e_log "slack receiver answers ok from now on"

link_up
wait_until 60 has_logged "(outage.ended)" || fail "the end of the outage was not detected"
observe 5   # outage.ended queues behind outage.started, which is still refused
assert_eq "alerts received by the relayed receiver while it refuses" 0 "$(events_of relayed | wc -l)"

e2e_exec rm -f /var/lib/e2e/relayed/body
e2e_log "relayed receiver answers ok from now on"
wait_until 60 _relayed_has 2 || fail "alerts not delivered after the receiver recovered: $(events_of relayed | paste -sd' ' -)"
observe 6   # would show a duplicate: at least two retry steps (retry_max = 2s)
assert_eq "delivered in order, each once" "outage.started outage.ended" "$(events_of relayed | paste -sd' ' -)"
assert_eq "distinct ids" 2 "$(events_of relayed --field id | sort -u | wc -l)"
assert_eq "nothing of relayed left in the outbox" 0 "$(_outbox_of relayed)"
assert_eq "nothing of relayed set aside" 0 "$(_outbox_of relayed failed/)"
assert_eq "slack got outage.ended, answered ok" 1 \
    "$(events_of slack --field text | grep -c 'outage.ended: ' || true)"
assert_eq "nothing of slack left in the outbox" 0 "$(_outbox_of slack)"
assert_eq "watchdog still running" active "$(daemon_state)"
