#!/usr/bin/env bash
# Sendmail (Debian's sendmail-bin, smarthost [192.0.2.2], a queue run every 10 s): outage, mail
# queued and deferred, then the daemon is frozen (SIGSTOP): alive, but it runs no queue, so the
# queue does not move although the relay is back. The watchdog must detect the stall, restart
# sendmail.service exactly once (a new pid in /run/sendmail/mta/sendmail.pid, the frozen daemon
# gone), run the flush (sendmail-mta -qR@) after it, see the queue drain, and alert outage ...
# recovered in one incident, as for Postfix and Exim (scenario-01-stuck.sh, scenario-50).
# Debian's host status files are off (DAEMON_HOSTSTATS="No"): nothing makes Sendmail wait.
set -euo pipefail
E2E_MTA=sendmail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

n=10
# The queue as `mta-watchdogd --once --json` shows it once the frozen daemon has missed its
# queue runs, still during the outage: every message overdue (K, the last attempt, older than
# the queue interval 10 s plus overdue_slack), no host status to wait for.
once_frozen() {
    wait_until 60 _once_overdue "$n" || { once_log; fail "--once: not $n messages overdue after 60s"; }
    once_log
    assert_eq "--once exit status" 0 "$E2E_ONCE_RC"
    assert_eq "--once reason" "outage: the relay does not answer; a restart would not help" "$(once_field reason)"
    assert_eq "--once backlog" "$n" "$(once_field queue.backlog)"
    assert_eq "--once schedule_source" qf "$(once_field queue.schedule_source)"
    assert_eq "--once overdue" "$n" "$(once_field queue.overdue)"
    assert_eq "--once wait_left_seconds" 0 "$(once_field queue.wait_left_seconds)"
    assert_eq "--once wait_reason" null "$(once_field queue.wait_reason)"
}
_flushed() { [ "$(sendmail_flushes)" -ge 1 ]; }
_once_overdue() { sendmail_once; [ "$(once_field queue.overdue)" = "$1" ]; }

# a daemon still stopped when the scenario ends would hold up the next one's reset
e2e_on_exit thaw_sendmail
start_daemon
track_master_pid
old=$(master_pid)
stuck_after_outage "$n" once_frozen
wait_healed Sendmail 150

[ "$(master_pid)" != "$old" ] || fail "the pid file still names the frozen daemon $old"
assert_eq "stopped sendmail processes" 0 "$(stopped_sendmail_count)"
# Every message arrived. The SIGCONT before the restart lets the frozen daemon act on its
# pending queue-run alarm for the moment until the init script's SIGTERM ends it and its
# queue runner: a message the relay accepted in that moment, but whose qf the runner had not
# removed yet, is sent again by the new daemon (SMTP's at-least-once, RFC 5321 section 6.1).
assert_eq "distinct messages at the relay" "$n" "$(relay_distinct)"
[ "$(relay_count)" -le $((n + 1)) ] ||
    fail "messages at the relay: $(relay_count), more than one resent"
# the flush unit's lines in the journal (systemd's "Starting ..."), read until they are there
wait_until 20 _flushed || true
assert_eq "forced queue runs (sendmail-mta -qR@)" 1 "$(sendmail_flushes)"
assert_eq "sendmail.service" "active running" "$(mta_state) $(mta_sub_state)"
assert_healed_by_one_restart "sendmail daemon"
