#!/usr/bin/env bash
# End-to-end tests: boots the sandbox once (systemd in systemd-nspawn, Postfix, relay,
# webhook receiver, mta-watchdogd), runs every scenario-*.sh in order with a reset in
# between, prints "PASS name" / "FAIL name: reason" per scenario and "N passed, M failed".
# Usage: tests/e2e/run.sh [PATTERN]   (only scenarios whose file name contains PATTERN)
# A failed scenario's journal, alerts and config are kept in a directory printed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (systemd-nspawn)" >&2; exit 2; }
artifacts=${E2E_ARTIFACTS:-/tmp/mta-e2e-artifacts.$$}   # created on the first failure
e2e_boot

passed=0 failed=0 first=1
for scenario in "$here"/scenario-*.sh; do
    name=$(basename "$scenario" .sh)
    case $name in *"${1:-}"*) ;; *) continue ;; esac
    export E2E_REASON_FILE="$E2E_TMP/$name.reason"
    rm -f "$E2E_REASON_FILE"
    if [ "$first" = 0 ] && ! (e2e_reset); then
        echo "FAIL $name: reset before it failed: $(cat "$E2E_REASON_FILE" 2>/dev/null)"
        failed=$((failed + 1))
        continue
    fi
    first=0
    if e2e_run_child bash "$scenario"; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        reason=$(cat "$E2E_REASON_FILE" 2>/dev/null || echo "exited with an error")
        echo "FAIL $name: $reason"
        failed=$((failed + 1))
        e2e_save_logs "$artifacts/$name"
    fi
done

if [ "$failed" -gt 0 ]; then echo "logs of failed scenarios: $artifacts" >&2; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
