#!/usr/bin/env bash
# The installed mta-watchdog as an admin runs it: the shipped unit, as the system user
# mta-watchdog, in its sandbox. It heals the stuck MTA with nothing but its grants; the same
# user is refused every other thing it could ask systemd for; systemctl status, the journal
# and the metrics file tell the incident; the package (or `cmake --install`) keeps an admin's
# configuration, and the package removes cleanly.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_scenario_begin

unit=$E2E_MTA_UNIT
metrics=/run/mta-watchdog/metrics.prom
e2e_exec sed -i "/^\[watchdog\]/a metrics_file = $metrics" /etc/mta-watchdog/mta-watchdog.ini

# --- a configuration error: the unit fails (exit 78) and stays failed, no restart loop ----------
conf=/etc/mta-watchdog/mta-watchdog.ini
e2e_exec sed -i "/^\[watchdog\]/a no_such_key = 1" "$conf"
e2e_exec timeout 60 systemctl start "$E2E_DAEMON_UNIT" 2>/dev/null && fail "started with an unknown key"
observe 12   # more than twice RestartSec=5s
assert_eq "unit after a configuration error" failed "$(daemon_state)"
assert_eq "restarts after a configuration error" 0 \
    "$(e2e_exec systemctl show -p NRestarts --value "$E2E_DAEMON_UNIT")"
assert_eq "exit status of the configuration error" 78 \
    "$(e2e_exec systemctl show -p ExecMainStatus --value "$E2E_DAEMON_UNIT")"
e2e_exec sed -i "/^no_such_key = 1\$/d" "$conf"
e2e_exec systemctl reset-failed "$E2E_DAEMON_UNIT"

start_daemon

# --- who it runs as -------------------------------------------------------------------------
pid=$(daemon_pid)
assert_eq "daemon user" mta-watchdog "$(e2e_exec ps -o user= -p "$pid" | tr -d ' ')"
assert_eq "daemon groups" "mta-watchdog postdrop systemd-journal" \
    "$(e2e_exec ps -o supgrp= -p "$pid" | tr ',' '\n' | tr -d ' ' | sort | paste -sd' ' -)"
# CAP_DAC_READ_SEARCH is capability 2 (bit 2): granted by the unit, then narrowed by the
# daemon (caps.h): permitted but not effective, not ambient (nothing it runs inherits it)
cap() { e2e_exec awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
assert_eq "permitted capabilities" 0000000000000004 "$(cap CapPrm)"
assert_eq "effective capabilities" 0000000000000000 "$(cap CapEff)"
assert_eq "ambient capabilities" 0000000000000000 "$(cap CapAmb)"
assert_eq "bounding capabilities" 0000000000000004 \
    "$(e2e_exec awk '/^CapBnd/ { print $2 }' "/proc/$pid/status")"
assert_eq "no new privileges" 1 "$(e2e_exec awk '/^NoNewPrivs/ { print $2 }' "/proc/$pid/status")"

# --- the sandbox, as systemd rates it ----------------------------------------------------------
exposure=$(e2e_exec systemd-analyze security --no-pager "$E2E_DAEMON_UNIT" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security $E2E_DAEMON_UNIT: overall exposure level $exposure (target <= 2.0)"
e2e_log "exposure level $exposure"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)' "${exposure:-99}" ||
    fail "exposure level '$exposure' above 2.0"

# --- what polkit lets the user ask systemd for -------------------------------------------------
as_watchdog() { # METHOD SIGNATURE ARGS...: a systemd Manager call as the mta-watchdog user
    e2e_exec setpriv --reuid=mta-watchdog --regid=mta-watchdog --init-groups \
        busctl call --timeout=20 org.freedesktop.systemd1 /org/freedesktop/systemd1 \
        org.freedesktop.systemd1.Manager "$@" 2>&1
}
relay_pid() { e2e_exec systemctl show -p MainPID --value e2e-relay.service; }
refused() { # WHAT OUTPUT: the call failed with systemd's "access denied"
    case $2 in
        *"Access denied"*) e2e_log "ok: refused: $1" ;;
        *) fail "$1: not refused: $2" ;;
    esac
}
before=$(relay_pid)
out=$(as_watchdog RestartUnit ss e2e-relay.service replace) && fail "restart of another unit allowed: $out"
refused "restart e2e-relay.service" "$out"
out=$(as_watchdog StopUnit ss "$unit" replace) && fail "stop of $unit allowed: $out"
refused "stop $unit" "$out"
out=$(as_watchdog ReloadUnit ss "$unit" replace) && fail "reload of $unit allowed: $out"
refused "reload $unit" "$out"
out=$(as_watchdog KillUnit ssi "$unit" all 15) && fail "kill of $unit allowed: $out"
refused "kill $unit" "$out"
out=$(as_watchdog StartUnit ss e2e-relay.service replace) && fail "start of another unit allowed: $out"
refused "start e2e-relay.service" "$out"
# Exim's flush unit may be started (a job is queued; without Exim here it then fails)
out=$(as_watchdog StartUnit ss mta-watchdog-exim-flush.service replace) ||
    fail "start of mta-watchdog-exim-flush.service refused: $out"
e2e_log "ok: allowed: start mta-watchdog-exim-flush.service ($out)"
assert_eq "relay untouched" "$before" "$(relay_pid)"
assert_eq "$unit still active" active "$(mta_state)"
# and the one thing it may do (the rule is not simply broken): restart the MTA unit
_master_changed() { [ "$(master_pid_changes)" -ge 1 ]; }
_postfix_up() { [ "$(mta_state)" = active ] && [ "$(master_pid)" != 0 ]; }
track_master_pid
out=$(as_watchdog RestartUnit ss "$unit" replace) || fail "restart of $unit refused: $out"
wait_until 30 _master_changed || fail "restart of $unit did not happen"
wait_until 30 _postfix_up || fail "$unit not back after the allowed restart"
e2e_log "ok: allowed: restart $unit"

# --- the stuck MTA, healed by the unprivileged daemon -----------------------------------------
track_master_pid
stuck_after_outage 20
_status() { e2e_exec systemctl show -p StatusText --value "$E2E_DAEMON_UNIT"; }
_status_in_incident() { case $(_status) in *"restarts 1/"*) return 0 ;; esac; return 1; }
wait_until $((E2E_RESTORE_GRACE + E2E_STALL_AFTER + 60)) _status_in_incident ||
    fail "STATUS never showed the restart: '$(_status)'"
e2e_log "ok: STATUS during the incident: $(_status)"
budget=$((E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
wait_until "$budget" queue_empty || fail "queue not drained: $(queue_count) left; alerts: $(events | paste -sd, -)"
wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"
wait_until 30 _outbox_empty || fail "alerts still queued: $(outbox_count)"
assert_eq "master PID changes" 1 "$(master_pid_changes)"
assert_eq "messages at the relay" 20 "$(relay_count)"
assert_eq "alerts in order" \
    "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
    "$(events | paste -sd' ' -)"
incident=$(events --event stall.detected --field incident)
# flush_after_restart: postqueue -f ran as mta-watchdog (group postdrop, no set-gid) and worked
assert_eq "flush after the restart ran" 1 "$(daemon_logged "running /usr/sbin/postqueue")"
assert_eq "flush after the restart failed" 0 "$(daemon_logged "flush after restart:")"

# --- where admins look: systemctl status, the journal, the metrics file ---------------------
_healthy_status() { case $(_status) in "$unit: HEALTHY"*) return 0 ;; esac; return 1; }
wait_until 20 _healthy_status || fail "STATUS after recovery: '$(_status)'"
shown=$(e2e_exec systemctl status --no-pager "$E2E_DAEMON_UNIT" 2>&1 | sed -n 's/^ *Status: //p')
e2e_log "systemctl status: Status: $shown"
case $shown in "\"$unit: HEALTHY"*) ;; *) fail "systemctl status shows no HEALTHY status line: '$shown'" ;; esac

# The daemon's entries of this run of its unit (its invocation id): a field match next to
# --after-cursor can miss entries in journalctl 252.
daemon_run_journal() { # JOURNALCTL_ARGS...
    e2e_exec journalctl "_SYSTEMD_INVOCATION_ID=$(e2e_exec systemctl show -p InvocationID --value "$E2E_DAEMON_UNIT")" "$@"
}
jfield() { # EVENT FIELD: FIELD of the daemon's journal entry for EVENT (the last one)
    daemon_run_journal "EVENT=$1" -o export --no-pager |
        sed -n "s/^$2=//p" | tail -n1
}
assert_eq "journal: stall.detected MTA" postfix "$(jfield stall.detected MTA)"
assert_eq "journal: stall.detected UNIT" "$unit" "$(jfield stall.detected UNIT)"
assert_eq "journal: stall.detected STATE" STALLED "$(jfield stall.detected STATE)"
assert_eq "journal: stall.detected BACKLOG" 20 "$(jfield stall.detected BACKLOG)"
assert_eq "journal: stall.detected INCIDENT" "$incident" "$(jfield stall.detected INCIDENT)"
assert_eq "journal: recovered INCIDENT" "$incident" "$(jfield recovered INCIDENT)"
stall_id=$(jfield stall.detected MESSAGE_ID)
recovered_id=$(jfield recovered MESSAGE_ID)
[ "${#stall_id}" -eq 32 ] || fail "stall.detected has no MESSAGE_ID: '$stall_id'"
[ "$stall_id" != "$recovered_id" ] || fail "stall.detected and recovered share MESSAGE_ID $stall_id"
explained=$(daemon_run_journal -x "MESSAGE_ID=$stall_id" --no-pager 2>&1 |
    grep -c '^░░ Subject:' || true)
assert_eq "journalctl -x explains stall.detected" 1 "$explained"

e2e_exec python3 /e2e/promparse.py "$metrics" > "$E2E_TMP/metrics.txt" ||
    fail "metrics file does not parse: $(e2e_exec python3 /e2e/promparse.py "$metrics" 2>&1 | tail -n1)"
metric() { e2e_exec python3 /e2e/promparse.py "$metrics" "$1" 2>&1; }
u="unit=\"$unit\""
assert_eq "metrics file owner and mode" "mta-watchdog 644" "$(e2e_exec stat -c '%U %a' "$metrics")"
assert_eq "metric state healthy" 1 "$(metric "mta_watchdog_state{state=\"healthy\",$u}")"
assert_eq "metric state stalled" 0 "$(metric "mta_watchdog_state{state=\"stalled\",$u}")"
assert_eq "metric restarts_total" 1 "$(metric "mta_watchdog_restarts_total{$u}")"
assert_eq "metric restarts succeeded" 1 \
    "$(metric "mta_watchdog_actions_total{action=\"restart\",result=\"succeeded\",$u}")"
assert_eq "metric restarts failed" 0 \
    "$(metric "mta_watchdog_actions_total{action=\"restart\",result=\"failed\",$u}")"
assert_eq "metric incidents_total" 1 "$(metric "mta_watchdog_incidents_total{$u}")"
assert_eq "metric queue_backlog" 0 "$(metric "mta_watchdog_queue_backlog{$u}")"
assert_eq "metric queue_overdue" 0 "$(metric "mta_watchdog_queue_overdue{$u}")"
assert_eq "metric probe relay up" 1 "$(metric "mta_watchdog_probe_result{probe=\"relay\",result=\"up\",$u}")"
assert_eq "metric probe relay down" 0 "$(metric "mta_watchdog_probe_result{probe=\"relay\",result=\"down\",$u}")"
# the file is rewritten every round: the last deliveries show within an interval or two
sent=$(events | wc -l)
_sent_counted() { [ "$(metric 'mta_watchdog_alerts_sent_total{receiver="receiver"}')" = "$sent" ]; }
wait_until $((E2E_INTERVAL * 3)) _sent_counted || e2e_log "metrics file: $(e2e_exec cat "$metrics" | grep -v "^#" | paste -sd" " -)"
assert_eq "metric alerts sent" "$sent" "$(metric 'mta_watchdog_alerts_sent_total{receiver="receiver"}')"
assert_eq "metric alerts failed" 0 "$(metric 'mta_watchdog_alerts_failed_total{receiver="receiver"}')"
assert_eq "metric alerts queued" 0 "$(metric 'mta_watchdog_alerts_queued')"
last=$(metric "mta_watchdog_last_probe_timestamp_seconds{$u}")
age=$(( $(e2e_exec date +%s) - ${last%%.*} ))
[ "$age" -ge 0 ] && [ "$age" -le 30 ] || fail "last probe ${age}s ago (metric $last)"
e2e_log "ok: last probe ${age}s ago"
# a reload that moves metrics_file removes the old file: node_exporter would go on serving its
# last values beside the new file's
moved=/run/mta-watchdog/moved.prom
e2e_exec sed -i "s|^metrics_file = .*|metrics_file = $moved|" /etc/mta-watchdog/mta-watchdog.ini
e2e_exec systemctl reload "$E2E_DAEMON_UNIT" || fail "reload failed"
_metrics_moved() { e2e_exec test -f "$moved" && ! e2e_exec test -e "$metrics"; }
wait_until 20 _metrics_moved ||
    fail "metrics file not moved by the reload: $(e2e_exec ls /run/mta-watchdog | paste -sd' ' -)"
e2e_log "ok: reload moved the metrics file, the old one is gone"

# --- installing over an admin's configuration, and removing ------------------------------------
conf=/etc/mta-watchdog/mta-watchdog.ini
e2e_exec sh -c 'printf "; kept by the admin\n" >> "$1"' sh "$conf"
sum=$(e2e_exec md5sum "$conf")
case $E2E_INSTALL in
    deb)
        e2e_exec dpkg -i /pkg/mta-watchdog.deb >/dev/null 2>&1 || fail "reinstalling the package failed"
        assert_eq "config kept by a reinstall" "$sum" "$(e2e_exec md5sum "$conf")"
        assert_eq "daemon running after the reinstall" active "$(daemon_state)"
        files=$(e2e_exec sh -c 'dpkg -L mta-watchdog | while read -r f; do [ -f "$f" ] && echo "$f"; done')
        assert_ge "files of the package" 8 "$(echo "$files" | wc -l)"
        e2e_exec systemctl enable "$E2E_DAEMON_UNIT" >/dev/null 2>&1 || fail "cannot enable the unit"
        e2e_exec dpkg -r mta-watchdog >/dev/null 2>&1 || fail "dpkg -r failed"
        assert_eq "daemon after removal" inactive "$(daemon_state)"
        left=$(e2e_exec sh -c 'for f in "$@"; do if [ -e "$f" ]; then echo "$f"; fi; done' sh $files)
        assert_eq "files left after removal (the conffile only)" "$conf" "$left"
        assert_eq "unit known after removal" not-found \
            "$(e2e_exec systemctl show -p LoadState --value "$E2E_DAEMON_UNIT")"
        # as Debian does for services: removal keeps the enablement (for a reinstall), purge forgets it
        assert_eq "enablement kept after removal" 1 \
            "$(e2e_exec sh -c 'ls /etc/systemd/system/*.wants/ | grep -c mta-watchdog || true')"
        e2e_exec dpkg -P mta-watchdog >/dev/null 2>&1 || fail "dpkg -P failed"
        assert_eq "enablement left after purge" 0 \
            "$(e2e_exec sh -c 'ls /etc/systemd/system/*.wants/ | grep -c mta-watchdog || true')"
        assert_eq "left after purge" "" \
            "$(e2e_exec sh -c 'ls -d /etc/mta-watchdog /var/lib/mta-watchdog /run/mta-watchdog 2>/dev/null || true')"
        assert_eq "package status after purge" "" "$(e2e_exec dpkg-query -W -f='${Status}' mta-watchdog 2>/dev/null || true)"
        # a first install, with the shipped configuration: enabled and started, no edit needed
        e2e_exec dpkg -i /pkg/mta-watchdog.deb >/dev/null 2>&1 || fail "installing the package again failed"
        assert_eq "enabled by a first install" enabled \
            "$(e2e_exec systemctl is-enabled "$E2E_DAEMON_UNIT" 2>/dev/null || true)"
        assert_eq "started by a first install" active "$(daemon_state)"
        # no [alert:NAME] in the shipped file: said once at start, and no warning round after round
        observe 25   # two rounds of the shipped interval (10s)
        inv=$(e2e_exec systemctl show -p InvocationID --value "$E2E_DAEMON_UNIT")
        assert_eq "first install: 'alerts are only logged' lines" 1 \
            "$(e2e_exec journalctl --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$inv" |
                grep -cF 'no [alert:NAME]: alerts are only logged' || true)"
        assert_eq "first install: warnings in the daemon's journal" "" \
            "$(e2e_exec journalctl --no-pager -o cat -p warning "_SYSTEMD_INVOCATION_ID=$inv" || true)"
        assert_eq "first install: still running" active "$(daemon_state)"
        e2e_log "ok: a first install enables and starts the service with the shipped configuration"
        # back as the next scenario expects it (guest-setup.sh): stopped, no state
        stop_daemon
        e2e_exec sh -c 'find "$1" -mindepth 1 -delete 2>/dev/null || true' sh "$E2E_STATE_DIR"
        ;;
    cmake)
        out=$(DESTDIR=/proc/$E2E_LEADER/root cmake --install "$E2E_BUILD" 2>&1) || fail "cmake --install again failed: $out"
        case $out in *"Keeping: /proc/$E2E_LEADER/root$conf"*) ;; *) fail "cmake --install did not say it kept $conf" ;; esac
        assert_eq "config kept by cmake --install" "$sum" "$(e2e_exec md5sum "$conf")"
        ;;
esac
e2e_exec sh -c 'python3 /e2e/mkconfig.py /src/etc/mta-watchdog.ini /e2e/mta-watchdog.e2e.ini > "$1"' sh "$conf"
