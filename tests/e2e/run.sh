#!/usr/bin/env bash
# End-to-end tests: boots the sandbox once (systemd in systemd-nspawn, Postfix, relay,
# webhook receiver, mta-watchdogd), runs every scenario-*.sh in order with a reset in
# between, prints "PASS name" / "FAIL name: reason" per scenario and "N passed, M failed".
# Usage: tests/e2e/run.sh [PATTERN]   (only scenarios whose file name contains PATTERN)
#        E2E_JOBS=N (default 3): that many Postfix sandboxes side by side, 1 for one sandbox
#        at a time (all of them one after the other).
#        E2E_EXIM_JOBS=N (default 1): that many Exim sandboxes for the scenario-*-exim-*.sh
#        scenarios (a sandbox boots one MTA: postfix and exim4 conflict), beside the others.
#        E2E_NULLMAILER_JOBS=N (default 1): the same for the scenario-*-nullmailer-*.sh ones.
#        E2E_SENDMAIL_JOBS=N (default 1): the same for the scenario-*-sendmail-*.sh ones.
#        scenario-*-zeroconf-*.sh: each in a sandbox of its own (they purge and install the
#        package again, and wait out the shipped timers, about 11 minutes), booted with the MTA
#        the name ends with (-exim, -sendmail, -nullmailer; else Postfix), always from the .deb.
#        E2E_DIRECT_JOBS=N (default 1): that many direct-delivery sandboxes (Postfix without a
#        relayhost, dnsmasq answering MX records: rootfs-direct.sh) for scenario-*-direct-*.sh,
#        always from the .deb.
#        E2E_INSTALL=deb|cmake: how mta-watchdog is installed in every sandbox (lib.sh).
#        Unset: from the .deb, except in the last of several sandboxes, which uses
#        `cmake --install`, so that both install paths run the scenarios.
# A failed scenario's journal, alerts and config are kept in a directory printed at the end.
# Output: every line of every sandbox as it comes, after its sandbox's number ("[s2] ..."),
# each line in one write (lines of sandboxes side by side never mix within a line); when a
# sandbox starts, its scenarios and expected duration (durations.txt: measured seconds per
# scenario); at the end each sandbox's count, the failures again and "N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
install_mode=${E2E_INSTALL:-}   # as given, before lib.sh sets its default
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (systemd-nspawn)" >&2; exit 2; }

_stream() { # PREFIX LOG: each line of stdin appended to LOG as it is, and to stdout after
    # PREFIX; bash's printf writes a line (up to 4 KiB) in one write(2), so lines of sandboxes
    # side by side stay whole
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%s\n' "$line" >> "$2"
        printf '%s%s\n' "$1" "$line"
    done
}
_expected_secs() { # SCENARIO...: durations.txt's boot + the seconds of each (its "default" if missing)
    awk -v names="$*" '
        BEGIN { n = split(names, want, " ") }
        /^[^#]/ { secs[$1] = $2 }
        END { t = secs["boot"]; for (i = 1; i <= n; i++) t += (want[i] in secs) ? secs[want[i]] : secs["default"]; print t }' \
        "$here/durations.txt"
}
_unmeasured() { # SCENARIO...: ", N without a measured time (counted as S s each)", or nothing
    local name k=0
    for name in "$@"; do grep -q "^$name " "$here/durations.txt" || k=$((k + 1)); done
    [ "$k" -eq 0 ] || echo " ($k without a measured time, counted as $(awk '$1 == "default" { print $2 }' "$here/durations.txt") s each)"
}
_fmt_secs() { printf 'about %dm%02ds' $(($1 / 60)) $(($1 % 60)); }   # SECONDS -> "about 12m05s"
artifacts=${E2E_ARTIFACTS:-/tmp/mta-e2e-artifacts.$$}   # created on the first failure

selected=()
for scenario in "$here"/scenario-*.sh; do
    name=$(basename "$scenario" .sh)
    case $name in *"${1:-}"*) selected+=("$name") ;; esac
done

# Scenarios mostly wait on timers, so several sandboxes side by side (E2E_JOBS, default 3)
# cut the wall time; each shard boots its own container and runs its share in order. A
# shard runs one MTA type: Postfix scenarios in E2E_JOBS sandboxes, the Exim ones
# (scenario-*-exim-*.sh) in E2E_EXIM_JOBS more, the nullmailer ones
# (scenario-*-nullmailer-*.sh) in E2E_NULLMAILER_JOBS more, the Sendmail ones
# (scenario-*-sendmail-*.sh) in E2E_SENDMAIL_JOBS more, each zero-configuration one
# (scenario-*-zeroconf-*.sh) in one more, the direct-delivery ones (scenario-*-direct-*.sh) in
# E2E_DIRECT_JOBS more.
if [ -z "${E2E_SHARD_LIST:-}" ]; then
    postfix_sel=() exim_sel=() nullmailer_sel=() sendmail_sel=() zeroconf_sel=() direct_sel=()
    for name in ${selected[@]+"${selected[@]}"}; do
        case $name in
            *-zeroconf-*) zeroconf_sel+=("$name") ;;
            *-direct-*) direct_sel+=("$name") ;;
            *-exim-*) exim_sel+=("$name") ;;
            *-nullmailer-*) nullmailer_sel+=("$name") ;;
            *-sendmail-*) sendmail_sel+=("$name") ;;
            *) postfix_sel+=("$name") ;;
        esac
    done
    jobs=${E2E_JOBS:-3}
    exim_jobs=${E2E_EXIM_JOBS:-1}
    [ "$jobs" -le "${#postfix_sel[@]}" ] || jobs=${#postfix_sel[@]}
    [ "$exim_jobs" -le "${#exim_sel[@]}" ] || exim_jobs=${#exim_sel[@]}
    [ "$exim_jobs" -ge 1 ] || [ "${#exim_sel[@]}" -eq 0 ] || exim_jobs=1
    nullmailer_jobs=${E2E_NULLMAILER_JOBS:-1}
    [ "$nullmailer_jobs" -le "${#nullmailer_sel[@]}" ] || nullmailer_jobs=${#nullmailer_sel[@]}
    [ "$nullmailer_jobs" -ge 1 ] || [ "${#nullmailer_sel[@]}" -eq 0 ] || nullmailer_jobs=1
    sendmail_jobs=${E2E_SENDMAIL_JOBS:-1}
    [ "$sendmail_jobs" -le "${#sendmail_sel[@]}" ] || sendmail_jobs=${#sendmail_sel[@]}
    [ "$sendmail_jobs" -ge 1 ] || [ "${#sendmail_sel[@]}" -eq 0 ] || sendmail_jobs=1
    [ "$jobs" -ge 1 ] || [ "${#postfix_sel[@]}" -eq 0 ] || jobs=1
    direct_jobs=${E2E_DIRECT_JOBS:-1}
    [ "$direct_jobs" -le "${#direct_sel[@]}" ] || direct_jobs=${#direct_sel[@]}
    [ "$direct_jobs" -ge 1 ] || [ "${#direct_sel[@]}" -eq 0 ] || direct_jobs=1
    shard_mta=() shard_mode=() shard_list=() shard_variant=()
    for ((i = 0; i < jobs; i++)); do
        list=()
        for ((k = i; k < ${#postfix_sel[@]}; k += jobs)); do list+=("${postfix_sel[k]}"); done
        mode=${install_mode:-deb}
        if [ -z "$install_mode" ] && [ "$jobs" -gt 1 ] && [ "$i" -eq $((jobs - 1)) ]; then mode=cmake; fi
        shard_mta+=(postfix) shard_mode+=("$mode") shard_list+=("${list[*]}")
    done
    for ((i = 0; i < exim_jobs; i++)); do
        list=()
        for ((k = i; k < ${#exim_sel[@]}; k += exim_jobs)); do list+=("${exim_sel[k]}"); done
        shard_mta+=(exim) shard_mode+=("${install_mode:-deb}") shard_list+=("${list[*]}")
    done
    for ((i = 0; i < nullmailer_jobs; i++)); do
        list=()
        for ((k = i; k < ${#nullmailer_sel[@]}; k += nullmailer_jobs)); do list+=("${nullmailer_sel[k]}"); done
        shard_mta+=(nullmailer) shard_mode+=("${install_mode:-deb}") shard_list+=("${list[*]}")
    done
    for ((i = 0; i < sendmail_jobs; i++)); do
        list=()
        for ((k = i; k < ${#sendmail_sel[@]}; k += sendmail_jobs)); do list+=("${sendmail_sel[k]}"); done
        shard_mta+=(sendmail) shard_mode+=("${install_mode:-deb}") shard_list+=("${list[*]}")
    done
    for name in ${zeroconf_sel[@]+"${zeroconf_sel[@]}"}; do
        case ${name##*-} in exim|nullmailer|sendmail) mta=${name##*-} ;; *) mta=postfix ;; esac
        shard_mta+=("$mta") shard_mode+=(deb) shard_list+=("$name")
    done
    for ((i = 0; i < direct_jobs; i++)); do
        list=()
        for ((k = i; k < ${#direct_sel[@]}; k += direct_jobs)); do list+=("${direct_sel[k]}"); done
        shard_variant[${#shard_mta[@]}]=direct
        shard_mta+=(postfix) shard_mode+=(deb) shard_list+=("${list[*]}")
    done
    if [ "${#shard_list[@]}" -eq 0 ]; then echo "no scenario matches '${1:-}'"; echo "0 passed, 0 failed"; exit 0; fi
    # the cached rootfs(es) first, once, rather than by several shards at the same time
    if [ "${#postfix_sel[@]}" -gt 0 ]; then bash "$here/rootfs.sh" >/dev/null; fi
    if [ "${#exim_sel[@]}" -gt 0 ]; then bash "$here/rootfs-exim.sh" >/dev/null; fi
    if [ "${#nullmailer_sel[@]}" -gt 0 ]; then bash "$here/rootfs-nullmailer.sh" >/dev/null; fi
    if [ "${#sendmail_sel[@]}" -gt 0 ]; then bash "$here/rootfs-sendmail.sh" >/dev/null; fi
    if [ "${#direct_sel[@]}" -gt 0 ]; then bash "$here/rootfs-direct.sh" >/dev/null; fi
    for mta in $(printf '%s\n' "${shard_mta[@]}" | sort -u); do   # zeroconf ones alone
        case $mta in postfix) bash "$here/rootfs.sh" >/dev/null ;; *) bash "$here/rootfs-$mta.sh" >/dev/null ;; esac
    done
    out=$(mktemp -d /tmp/mta-e2e-shards.XXXXXX)
    pids=() streams=()
    trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; rm -rf "$out"; exit 130' INT TERM
    n=${#shard_list[@]}
    # Expected durations: the longest sandbox when they run side by side, else their sum.
    total=0
    for ((i = 0; i < n; i++)); do
        read -r -a list <<< "${shard_list[i]}"
        d=$(_expected_secs "${list[@]}")
        if [ "${E2E_JOBS:-3}" -le 1 ]; then total=$((total + d)); elif [ "$d" -gt "$total" ]; then total=$d; fi
    done
    echo "running ${#selected[@]} scenarios in $n sandboxes (${#postfix_sel[@]} Postfix in $jobs, ${#exim_sel[@]} Exim in $exim_jobs, ${#nullmailer_sel[@]} nullmailer in $nullmailer_jobs, ${#sendmail_sel[@]} Sendmail in $sendmail_jobs, ${#zeroconf_sel[@]} zero-configuration in ${#zeroconf_sel[@]}, ${#direct_sel[@]} direct-delivery in $direct_jobs), expected $(_fmt_secs "$total") (tests/e2e/durations.txt)"
    for ((i = 0; i < n; i++)); do
        read -r -a list <<< "${shard_list[i]}"
        echo "[s$((i + 1))] sandbox $((i + 1)) of $n starts: ${shard_mta[i]}${shard_variant[i]:+ ${shard_variant[i]}}, installed by ${shard_mode[i]}, ${#list[@]} scenario$([ "${#list[@]}" -eq 1 ] || echo s), expected $(_fmt_secs "$(_expected_secs "${list[@]}")")$(_unmeasured "${list[@]}"): ${shard_list[i]}"
        mkfifo "$out/$i.fifo"
        _stream "[s$((i + 1))] " "$out/$i.log" < "$out/$i.fifo" &
        streams+=($!)
        E2E_MTA=${shard_mta[i]} E2E_VARIANT=${shard_variant[i]:-} E2E_INI='' E2E_INSTALL=${shard_mode[i]} E2E_SHARD_LIST="${shard_list[i]}" \
            E2E_ARTIFACTS="$artifacts" bash "$0" > "$out/$i.fifo" 2>&1 &
        pids+=($!)
        if [ "${E2E_JOBS:-3}" -le 1 ]; then wait "$!" || true; wait "${streams[i]}" || true; fi   # one sandbox at a time
    done
    # Bounded: the loop ends when every shard has ended (each one's scenarios are bounded).
    # A line at least every minute, naming the sandboxes still running and their scenario, so
    # that a person watching never faces minutes of silence.
    # (the kernel's uptime, lib.sh e2e_uptime: SECONDS follows the realtime clock)
    last_size=-1 last_print=$(e2e_uptime) start=$(e2e_uptime)
    while :; do
        now=$(e2e_uptime)
        alive=0
        for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
        [ "$alive" = 1 ] || break
        size=$(cat "$out"/*.log 2>/dev/null | wc -c || true)   # no log before a sandbox's first line
        if [ "$size" != "$last_size" ]; then
            last_size=$size last_print=$now
        elif [ $((now - last_print)) -ge 60 ]; then
            running=""
            for i in "${!pids[@]}"; do
                kill -0 "${pids[i]}" 2>/dev/null || continue
                cur=$(grep -oE '\] scenario scenario-[^ ]+' "$out/$i.log" 2>/dev/null | tail -n 1 || true)
                running+=" s$((i + 1))${cur:+ (${cur#] scenario })}"
            done
            echo "[$((now - start))s] $(cat "$out"/*.log 2>/dev/null | grep -cE '^(PASS|FAIL) ' || true) of ${#selected[@]} scenarios done, still running:$running"
            last_print=$now
        fi
        sleep 5
    done
    # A sandbox that ended long before may be forgotten by bash already (its PID reused by
    # one of the many short processes since: "wait: pid N is not a child of this shell");
    # its result is read from its log below, not from this status.
    wait "${pids[@]}" 2>/dev/null || true
    wait "${streams[@]}" 2>/dev/null || true   # the last lines of each sandbox are out
    passed=0 failed=0
    for ((i = 0; i < n; i++)); do
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/$i.log" | tail -n1 || true)
        echo "---- sandbox $((i + 1)) of $n (${shard_mta[i]}${shard_variant[i]:+ ${shard_variant[i]}}, $(sed -n 's/.*mta-watchdog installed (\([a-z]*\)).*/\1/p' "$out/$i.log" | head -n1)): ${line:-no summary}"
        grep -E '^FAIL ' "$out/$i.log" | sed "s/^/[s$((i + 1))] /" || true
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
