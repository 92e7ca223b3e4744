#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `mta-watchdogd --once` on a host without a system bus (DBUS_SYSTEM_BUS_ADDRESS names a
# socket that does not exist; sd_bus_open_system(3) reads it): its stderr is exactly one
# line, naming the bus address and the consequence; stdout is the usual report with the
# unit unknown; the exit status is 2 (unknown, README "Command line"). The MTA is a
# generic one on fixture files in a temporary directory (queue, log), so nothing of this
# host is read. Exit 0 when all holds, 1 naming what does not.
#
# Usage: tests/check-once-no-bus.sh BINARY
set -euo pipefail

bin=$1
tmp=$(mktemp -d /tmp/check-once-no-bus.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bad=0
no() { echo "check-once-no-bus: $*" >&2; bad=1; }

mkdir "$tmp/queue"
: > "$tmp/mail.log"
cat > "$tmp/w.ini" <<INI
[watchdog]
state_dir = $tmp/state

[mta]
type = generic
name = testmta
unit = testmta.service
queue_directories = $tmp/queue
log_source = file
log_file = $tmp/mail.log
delivered_pattern = ^sent$
max_retry_gap = 5m
actions = restart
# a probe on loopback (refused): without one a warning says the network always counts as up
relay = 127.0.0.1:1
INI

rc=0
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-bus" env -u JOURNAL_STREAM \
    timeout 60 "$bin" --once -c "$tmp/w.ini" >"$tmp/out" 2>"$tmp/err" || rc=$?

[ "$rc" -eq 2 ] || no "exit status: expected 2 (unknown), got $rc"
expected="Cannot connect to the system bus at unix:path=$tmp/no-bus: No such file or directory; the unit's state is unknown"
[ "$(cat "$tmp/err")" = "$expected" ] ||
    no "stderr: expected the one line '$expected', got: $(cat -A "$tmp/err")"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || no "stderr: expected 1 line, got $(wc -l < "$tmp/err")"
grep -qxF "testmta.service (testmta): unknown" "$tmp/out" || no "stdout: no verdict line: $(cat "$tmp/out")"
grep -qxF "  unit:         unknown: unit: no system bus" "$tmp/out" || no "stdout: no unit line: $(cat "$tmp/out")"
[ -e "$tmp/state" ] && no "--once created its state directory"

[ "$bad" -eq 0 ] && echo "check-once-no-bus: ok"
exit "$bad"
