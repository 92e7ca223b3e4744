#!/usr/bin/env bash
# What mta-watchdogd costs next to the MTA it watches, measured side by side in one run in
# the end-to-end sandbox (tests/e2e/lib.sh: systemd as PID 1 in systemd-nspawn, Debian's
# Postfix, the relay in its own network namespace, the webhook receiver, monit). Prints one
# table (medians and min-max over repetitions, ratios) and writes it as CSV, with every raw
# sample beside it. Not part of the test command; see README.md, "Benchmarks".
#
#   1. latencies of a real stuck-MTA incident (qmgr frozen after an outage), BENCH_LAT_REPS
#      times: stall.detected -> RestartUnit issued -> restart job done -> first delivery,
#      and every event -> the receiver's 200;
#   2. cost at rest: CPU per hour and memory of mta-watchdogd and of monit watching the same
#      unit, at interval 10s and 1s, empty queue;
#   3. for each queue size of BENCH_SIZES (deferred messages, a synthetic spool laid out as
#      Postfix lays it out, qmgr frozen so that nothing moves): one round of
#      `mta-watchdogd --once`, `postqueue -j`, `mailq` (showq's CPU counted: the Postfix
#      unit's cgroup), `qshape` and `find QUEUE -type f | wc -l`, interleaved, BENCH_REPS
#      times; the daemon's steady-state CPU per probe round at interval 1s and its memory;
#      at the stuck size (50000, or the largest size below it) the cost of step 2 again.
#
# Settings (environment):
#   BENCH_SIZES=1000,10000,50000,100000   queue sizes, ascending
#   BENCH_REPS=5          repetitions of each tool per size
#   BENCH_LAT_REPS=3      stuck-MTA incidents for the latencies
#   BENCH_CPU_REPS=3      windows per cost measurement
#   BENCH_WINDOW_10S=40 BENCH_WINDOW_1S=20   seconds per window at interval 10s / 1s
#   BENCH_STEADY=10       seconds per window of steady-state rounds (interval 1s; BENCH_CPU_REPS
#                         windows per size and mode)
#   BENCH_OUT=build/bench where the CSV files go
#   BENCH_BUILD=yes       build the package first (as scripts/demo.sh); "no": use build/ as is
#   BENCH_MODE_KEY=mta.full_scan_interval BENCH_MODES="10m 0"
#                         when the daemon knows that key (mta-watchdogd --check-config), the
#                         steady-state rounds run once per value: "0" walks the whole spool in
#                         a child every round, "10m" (the default) follows it with inotify and
#                         reads only what changed (README "Incremental queue tracking")
# Needs root (systemd-nspawn). Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "bench: run as root: it boots a container with systemd-nspawn" >&2
    exit 2
fi

SIZES=${BENCH_SIZES:-1000,10000,50000,100000}
REPS=${BENCH_REPS:-5}
LAT_REPS=${BENCH_LAT_REPS:-3}
CPU_REPS=${BENCH_CPU_REPS:-3}
WINDOW_10S=${BENCH_WINDOW_10S:-40}
WINDOW_1S=${BENCH_WINDOW_1S:-20}
STEADY=${BENCH_STEADY:-10}
OUT=${BENCH_OUT:-build/bench}
MODE_KEY=${BENCH_MODE_KEY:-mta.full_scan_interval}
IFS=, read -r -a sizes <<< "$SIZES"
for n in "${sizes[@]}"; do
    case $n in ''|*[!0-9]*) echo "bench: BENCH_SIZES: numbers separated by commas, not '$SIZES'" >&2; exit 2 ;; esac
done
stuck=${sizes[0]}
for n in "${sizes[@]}"; do if [ "$n" -le 50000 ]; then stuck=$n; fi; done

t_start=$(cut -d' ' -f1 /proc/uptime)
say() { printf '[bench +%4ss] %s\n' "$(awk -v a="$t_start" '{printf "%d", $1 - a}' /proc/uptime)" "$*" >&2; }

if [ "${BENCH_BUILD:-yes}" = yes ]; then
    say "dependencies and build (as scripts/demo.sh)"
    bash scripts/deps.sh >&2
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTA_WATCHDOG_TESTS=OFF -DMTA_WATCHDOG_SANITIZE=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
    cmake --build build -j2 >/dev/null
    (cd build && cpack -G DEB >/dev/null)
fi
mkdir -p "$OUT"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
samples="$OUT/bench-$stamp-samples.csv"
table_csv="$OUT/bench-$stamp.csv"
echo "section,case,subject,metric,unit,value" > "$samples"

say "sandbox (the first run builds the Debian rootfs, a few minutes)"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. tests/e2e/lib.sh
E2E_POLL=1
e2e_boot
E2E_T0=$(e2e_uptime)

CFG=/etc/mta-watchdog/mta-watchdog.ini
guest() { e2e_exec python3 /src/scripts/bench-guest.py "$@"; }
record() { guest "$@" | tee -a "$samples" >/dev/null; }
mono_usec() { e2e_exec python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)'; }

# The daemon's configuration: the sandbox's (tests/e2e/mta-watchdog.e2e.ini) with
# SECTION.KEY=VALUE overrides, laid over etc/mta-watchdog.ini as the scenarios do. The relay
# probe's timeout must stay below the interval, 1s at the shortest here.
daemon_config() {
    local kv sec key
    {
        cat tests/e2e/mta-watchdog.e2e.ini
        for kv in probe:relay.timeout=800ms "$@"; do
            sec=${kv%%.*}
            key=${kv#*.}
            printf '\n[%s]\n%s = %s\n' "$sec" "${key%%=*}" "${key#*=}"
        done
    } | e2e_exec sh -c 'mkdir -p /run/bench && cat > /run/bench/overrides.ini &&
        python3 /e2e/mkconfig.py /src/etc/mta-watchdog.ini /run/bench/overrides.ini > /etc/mta-watchdog/mta-watchdog.ini.new &&
        mv /etc/mta-watchdog/mta-watchdog.ini.new /etc/mta-watchdog/mta-watchdog.ini'
    e2e_exec "$E2E_SBIN" -c "$CFG" --check-config >/dev/null 2>&1 ||
        fail "bench config rejected: $(e2e_exec "$E2E_SBIN" -c "$CFG" --check-config 2>&1 | tail -n 3)"
}
daemon_restart() {
    e2e_exec systemctl reset-failed "$E2E_DAEMON_UNIT" 2>/dev/null || true
    e2e_exec timeout 60 systemctl restart "$E2E_DAEMON_UNIT" || fail "$E2E_DAEMON_UNIT did not start"
}
# monit watching the same unit: the master process (pid file) and the relay it needs (SMTP).
monit_config() { # INTERVAL_SECONDS
    # shellcheck disable=SC2016
    e2e_exec sh -c 'cat > /etc/monit/monitrc <<EOF
set daemon $1
set log syslog
set idfile /var/lib/monit/id
set statefile /var/lib/monit/state
check process postfix with pidfile /var/spool/postfix/pid/master.pid
    start program = "/bin/systemctl start postfix@-.service"
    stop program = "/bin/systemctl stop postfix@-.service"
    if failed host 192.0.2.2 port 25 protocol smtp for 2 cycles then alert
EOF
chmod 0600 /etc/monit/monitrc && monit -t >/dev/null && systemctl restart monit.service' sh "$1" ||
        fail "monit did not start"
}

# The queue-probe modes the daemon offers (see BENCH_MODE_KEY above).
modes=(0)
mode_key_sec=${MODE_KEY%%.*}
mode_key=${MODE_KEY#*.}
if e2e_exec "$E2E_SBIN" -c "$CFG" --check-config 2>/dev/null | grep -qE "^[[:space:]]*${mode_key}[[:space:]]*="; then
    read -r -a modes <<< "${BENCH_MODES:-10m 0}"
    say "the daemon has $MODE_KEY: steady-state rounds for each of: ${modes[*]}"
fi
mode_override() { # MODE -> the override for daemon_config, or nothing for the only mode
    if [ "${#modes[@]}" -gt 1 ]; then echo "$mode_key_sec.$mode_key=$1"; fi
}

# ---- 1. latencies of a real incident ------------------------------------------------------
e2e_exec systemctl stop monit.service 2>/dev/null || true
daemon_config watchdog.interval=1s watchdog.log_level=debug mta.restore_grace=5s mta.stall_after=5s \
    mta.overdue_slack=0 mta.verify_after=15s
for ((i = 1; i <= LAT_REPS; i++)); do
    say "latency: stuck-MTA incident $i of $LAT_REPS (outage, qmgr frozen, link back)"
    [ "$i" -eq 1 ] || e2e_reset >/dev/null 2>&1 || fail "reset before incident $i failed"
    [ "$i" -eq 1 ] || daemon_config watchdog.interval=1s watchdog.log_level=debug mta.restore_grace=5s \
        mta.stall_after=5s mta.overdue_slack=0 mta.verify_after=15s
    e2e_exec sh -c ': > /var/lib/e2e/webhook.jsonl'
    E2E_CURSOR=$(e2e_journal_cursor)
    since=$(mono_usec)
    daemon_restart
    sleep 4
    link_down
    queue_mail 5
    wait_until 60 all_deferred 5 || fail "mail not deferred during the outage"
    freeze_qmgr
    wait_until 30 has_logged "(outage.started)" || fail "the outage was not detected"
    link_up
    wait_until 120 has_logged "(recovered)" || fail "incident $i: no recovery within 120s"
    sleep 2   # the last alert's answer
    record latency "incident" "$since"
done
e2e_reset >/dev/null 2>&1 || fail "reset after the latencies failed"

# ---- 2. cost at rest, and again with a stuck queue (cost CASE) ----------------------------
cost() { # CASE
    local iv w r
    for iv in 10 1; do
        if [ "$iv" = 10 ]; then w=$WINDOW_10S; else w=$WINDOW_1S; fi
        daemon_config watchdog.interval="${iv}s" watchdog.dry_run=yes
        daemon_restart
        monit_config "$iv"
        say "cost, $1, interval ${iv}s: mta-watchdogd (dry run) and monit, $CPU_REPS windows of ${w}s"
        sleep $((iv + 3))
        for ((r = 1; r <= CPU_REPS; r++)); do
            record window cost "$1 @ ${iv}s" "$w" "$E2E_DAEMON_UNIT" monit.service
        done
    done
    e2e_exec systemctl stop monit.service "$E2E_DAEMON_UNIT"
}
cost "empty queue"

# ---- 3. queue sizes ------------------------------------------------------------------------
say "template message: one real deferred message (link down), then the synthetic spool"
link_down
queue_mail 1
wait_until 60 all_deferred 1 || fail "the template message was not deferred"
guest template
e2e_exec postsuper -d ALL >/dev/null 2>&1
link_up
freeze_qmgr   # the queue is stuck: nothing Postfix does moves it
for n in "${sizes[@]}"; do
    say "queue of $n deferred messages"
    guest fill "$n"
    e2e_exec systemctl stop "$E2E_DAEMON_UNIT"
    daemon_config watchdog.interval=1s watchdog.dry_run=yes watchdog.log_level=debug
    say "probe round, $n messages: $REPS repetitions of each tool"
    record probe "$n" "$REPS" "$CFG"
    for mode in "${modes[@]}"; do
        # shellcheck disable=SC2046
        daemon_config watchdog.interval=1s watchdog.dry_run=yes watchdog.log_level=debug $(mode_override "$mode")
        daemon_restart
        say "steady state, $n messages, $mode: $CPU_REPS windows of ${STEADY}s at interval 1s"
        sleep 3
        for ((r = 1; r <= CPU_REPS; r++)); do
            record window probe "$n" "$STEADY" "$E2E_DAEMON_UNIT=mta-watchdogd round ($mode)"
        done
    done
    e2e_exec systemctl stop "$E2E_DAEMON_UNIT"
    if [ "$n" = "$stuck" ]; then cost "stuck $n"; fi
done

# ---- the table ---------------------------------------------------------------------------
echo
echo "mta-watchdog benchmark, $(date -u +%Y-%m-%d), $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "median [min-max] of n; CPU includes children; 'mta_cpu' is the Postfix unit's cgroup (showq)"
e2e_exec python3 /src/scripts/bench-guest.py summary < "$samples"
e2e_exec cat /run/bench/table.csv > "$table_csv"
echo
echo "table: $table_csv"
echo "samples: $samples"
