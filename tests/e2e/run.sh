#!/usr/bin/env bash
# End-to-end tests: boots the sandbox once (systemd in systemd-nspawn, Postfix, relay,
# webhook receiver, mta-watchdogd), runs every scenario-*.sh in order with a reset in
# between, prints "PASS name" / "FAIL name: reason" per scenario and "N passed, M failed".
# Usage: tests/e2e/run.sh [PATTERN]   (only scenarios whose file name contains PATTERN)
#        E2E_JOBS=N (default 3): that many sandboxes side by side, 1 for one after the other.
#        E2E_INSTALL=deb|cmake: how mta-watchdog is installed in every sandbox (lib.sh).
#        Unset: from the .deb, except in the last of several sandboxes, which uses
#        `cmake --install`, so that both install paths run the scenarios.
# A failed scenario's journal, alerts and config are kept in a directory printed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
install_mode=${E2E_INSTALL:-}   # as given, before lib.sh sets its default
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (systemd-nspawn)" >&2; exit 2; }
artifacts=${E2E_ARTIFACTS:-/tmp/mta-e2e-artifacts.$$}   # created on the first failure

selected=()
for scenario in "$here"/scenario-*.sh; do
    name=$(basename "$scenario" .sh)
    case $name in *"${1:-}"*) selected+=("$name") ;; esac
done

# Scenarios mostly wait on timers, so several sandboxes side by side (E2E_JOBS, default 3)
# cut the wall time; each shard boots its own container and runs its share in order.
jobs=${E2E_JOBS:-3}
if [ -z "${E2E_SHARD_LIST:-}" ] && [ "$jobs" -gt 1 ] && [ "${#selected[@]}" -gt 1 ]; then
    [ "$jobs" -le "${#selected[@]}" ] || jobs=${#selected[@]}
    out=$(mktemp -d /tmp/mta-e2e-shards.XXXXXX)
    pids=()
    trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; rm -rf "$out"; exit 130' INT TERM
    for ((i = 0; i < jobs; i++)); do
        list=()
        for ((k = i; k < ${#selected[@]}; k += jobs)); do list+=("${selected[k]}"); done
        mode=${install_mode:-deb}
        if [ -z "$install_mode" ] && [ "$i" -eq $((jobs - 1)) ]; then mode=cmake; fi
        E2E_INSTALL=$mode E2E_SHARD_LIST="${list[*]}" E2E_ARTIFACTS="$artifacts" bash "$0" > "$out/$i.log" 2>&1 &
        pids+=($!)
    done
    echo "running ${#selected[@]} scenarios in $jobs sandboxes side by side"
    wait "${pids[@]}" || true
    passed=0 failed=0
    for ((i = 0; i < jobs; i++)); do
        echo "---- sandbox $((i + 1)) of $jobs ($(sed -n 's/.*mta-watchdog installed (\([a-z]*\)).*/\1/p' "$out/$i.log" | head -n1))"
        cat "$out/$i.log"
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/$i.log" | tail -n1)
        if [ -z "$line" ]; then
            echo "FAIL sandbox $((i + 1)): ended without a summary"
            failed=$((failed + 1))
            continue
        fi
        passed=$((passed + ${line%% passed*}))
        f=${line#*, }
        failed=$((failed + ${f%% failed}))
    done
    rm -rf "$out"
    echo "==== all sandboxes"
    if [ "$failed" -gt 0 ]; then echo "logs of failed scenarios: $artifacts" >&2; fi
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi
[ -n "${E2E_SHARD_LIST:-}" ] && read -r -a selected <<< "$E2E_SHARD_LIST"

e2e_boot

passed=0 failed=0 first=1
for name in "${selected[@]}"; do
    scenario="$here/$name.sh"
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
