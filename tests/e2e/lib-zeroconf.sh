# shellcheck shell=bash disable=SC2016
# (SC2016: sh -c / python3 -c scripts are single-quoted on purpose)
# Helpers of the zero-configuration scenarios (scenario-8x): the package purged and installed
# again as an admin would, with its shipped configuration unedited (no alert receiver), and
# what the daemon then did, judged from its journal, the MTA's PID file and the relay, never
# from alerts. Sourced after lib.sh. Each of these scenarios runs in a sandbox of its own
# (run.sh): what they change (the package, its configuration) is not put back.

ZC_INI=/etc/mta-watchdog/mta-watchdog.ini
ZC_DETECT=/var/lib/e2e/detect.txt   # the last `mta-watchdogd --detect` output (zc_detect)

# --- the package --------------------------------------------------------------------------------
zc_reinstall() { # dpkg --purge mta-watchdog, then dpkg -i of the .deb: nothing else
    [ "$E2E_INSTALL" = deb ] || fail "this scenario installs the package: E2E_INSTALL=deb, not $E2E_INSTALL"
    e2e_exec timeout 120 dpkg --purge mta-watchdog >"$E2E_TMP/purge.log" 2>&1 ||
        { cat "$E2E_TMP/purge.log" >&2; fail "dpkg --purge mta-watchdog failed"; }
    e2e_exec test ! -e "$ZC_INI" || fail "$ZC_INI still there after the purge"
    assert_eq "watchdog after the purge" inactive "$(daemon_state)"
    e2e_log "mta-watchdog purged (its configuration too)"
    e2e_exec timeout 120 dpkg -i /pkg/mta-watchdog.deb >"$E2E_TMP/install.log" 2>&1 ||
        { cat "$E2E_TMP/install.log" >&2; fail "dpkg -i mta-watchdog.deb failed"; }
    sed 's/^/          dpkg: /' "$E2E_TMP/install.log" >&2
    e2e_log "mta-watchdog installed again: dpkg -i /pkg/mta-watchdog.deb"
}
zc_assert_shipped_config() { # the installed configuration is the repository's etc/mta-watchdog.ini
    e2e_exec cmp -s /src/etc/mta-watchdog.ini "$ZC_INI" ||
        fail "$ZC_INI differs from the shipped etc/mta-watchdog.ini"
    e2e_log "ok: $ZC_INI is the shipped etc/mta-watchdog.ini, unedited"
    assert_eq "[alert:NAME] sections in the shipped config" 0 \
        "$(e2e_exec sh -c 'grep -c "^[[:space:]]*\[alert:" "$1" || true' sh "$ZC_INI")"
}
zc_assert_started_by_package() { # enabled and running, started by the package's installation
    wait_until 30 _zc_active || fail "mta-watchdogd.service not active after the install: $(daemon_state); $(e2e_exec journalctl -u "$E2E_DAEMON_UNIT" -n 5 --no-pager -o cat 2>&1 | paste -sd'|' -)"
    assert_eq "mta-watchdogd.service enabled" enabled "$(e2e_exec systemctl is-enabled "$E2E_DAEMON_UNIT" 2>/dev/null || true)"
    assert_eq "mta-watchdogd.service active" active "$(daemon_state)"
}
_zc_active() { [ "$(daemon_state)" = active ]; }
zc_restart_daemon() { # systemctl restart, as an admin does after an edit; its journal's last lines on failure
    if ! e2e_exec timeout 60 systemctl restart "$E2E_DAEMON_UNIT" >/dev/null 2>&1 || ! wait_until 30 _zc_active; then
        fail "$E2E_DAEMON_UNIT did not restart: $(e2e_exec journalctl -u "$E2E_DAEMON_UNIT" -n 4 --no-pager -o cat 2>&1 | paste -sd'|' -)"
    fi
    e2e_log "$E2E_DAEMON_UNIT restarted (pid $(e2e_exec systemctl show -p MainPID --value "$E2E_DAEMON_UNIT"))"
}
zc_config_add() { # SECTION KEY VALUE: one line added below the [SECTION] header of the installed file
    e2e_exec sh -c 'grep -q "^\[$1\]" "$4" && sed -i "/^\[$1\]\$/a $2 = $3" "$4"' sh "$1" "$2" "$3" "$ZC_INI" ||
        fail "cannot add [$1] $2 to $ZC_INI"
    e2e_log "config: [$1] $2 = $3 added to the shipped file"
}

# --- what the daemon runs with -----------------------------------------------------------------
# The waits scale with the effective configuration (the shipped defaults), read from
# `mta-watchdogd --check-config`: it replaces the sandbox ini's timers that lib.sh read.
zc_effective() { # SECTION KEY: its value in the --check-config dump ("" if absent)
    e2e_exec sh -c '/usr/sbin/mta-watchdogd --check-config -c "$1" 2>/dev/null; true' sh "$ZC_INI" |
        awk -v s="[$1]" -v k="$2" '
            /^[[:space:]]*\[/ { gsub(/[[:space:]]/, ""); cur = $0; next }
            cur == s && $0 ~ "^[[:space:]]*" k "[[:space:]]*=" {
                sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); print; exit }'
}
zc_secs() { # a duration of the dump ("1m30s", "10m", "2s", "1500ms") -> whole seconds
    python3 -c '
import re, sys
total = 0.0
for n, u in re.findall(r"([0-9.]+)\s*(ms|s|m|h|d)?", sys.argv[1]):
    total += float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}[u]
print(int(total))' "$1"
}
zc_timers() { # E2E_INTERVAL, thresholds, restore_grace, stall_after, verify_after: the daemon's own
    local v
    v=$(zc_effective watchdog interval); [ -n "$v" ] || fail "--check-config shows no [watchdog] interval"
    E2E_INTERVAL=$(zc_secs "$v")
    E2E_RESTORE_GRACE=$(zc_secs "$(zc_effective mta restore_grace)")
    E2E_STALL_AFTER=$(zc_secs "$(zc_effective mta stall_after)")
    E2E_VERIFY_AFTER=$(zc_secs "$(zc_effective mta verify_after)")
    E2E_OK_THRESHOLD=$(zc_effective mta ok_threshold)
    ZC_FAIL_THRESHOLD=$(zc_effective mta fail_threshold)
    ZC_OUTAGE_ALERT_AFTER=$(zc_secs "$(zc_effective mta outage_alert_after)")
    e2e_log "effective timers: interval ${E2E_INTERVAL}s, fail/ok_threshold $ZC_FAIL_THRESHOLD/$E2E_OK_THRESHOLD," \
        "outage_alert_after ${ZC_OUTAGE_ALERT_AFTER}s, restore_grace ${E2E_RESTORE_GRACE}s," \
        "stall_after ${E2E_STALL_AFTER}s, verify_after ${E2E_VERIFY_AFTER}s"
}

# --- detection -------------------------------------------------------------------------------------
zc_detect() { # runs `mta-watchdogd --detect` (as root, as an admin would), keeps and prints it
    local rc=0
    e2e_exec sh -c '/usr/sbin/mta-watchdogd --detect -c "$1" > "$2" 2>&1' sh "$ZC_INI" "$ZC_DETECT" || rc=$?
    e2e_log "mta-watchdogd --detect (exit $rc):"
    e2e_exec sed -n '1,/^; effective configuration/p' "$ZC_DETECT" | sed 's/^/          detect: /' >&2
    assert_eq "--detect exit status" 0 "$rc"
    e2e_log "the service's STATUS=: $(zc_status)"
}
zc_assert_status_detected() { # NAME: the service's STATUS= names the MTA found, "(NAME, detected)"
    local status
    status=$(zc_status)
    assert_eq "STATUS= names the detected MTA" yes \
        "$(case $status in *"($1, detected)"*) echo yes ;; *) echo "no: $status" ;; esac)"
}
zc_detect_has() { # ERE: a line of the --detect output matches it
    if e2e_exec grep -qE -- "$1" "$ZC_DETECT"; then
        e2e_log "ok: --detect has a line matching /$1/"
    else
        fail "--detect has no line matching /$1/"
    fi
}

# --- the daemon's journal --------------------------------------------------------------------------
zc_events() { # the EVENT fields of the daemon's journal since the scenario began, in order
    journal_since_begin -u "$E2E_DAEMON_UNIT" -o json --no-pager 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e.get("EVENT"), str):
        print(e["EVENT"])'
}
zc_event_count() { zc_events | grep -cx -- "$1" || true; }   # EVENT
zc_has_event() { [ "$(zc_event_count "$1")" -gt 0 ]; }
zc_journal_lines() { # TEXT: the daemon's journal lines since the scenario began that contain it
    journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager 2>/dev/null | grep -F -- "$1" || true
}
zc_first_line_no() { # TEXT: the number of the daemon's first journal line that contains it, or 0
    journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager 2>/dev/null | grep -nF -m1 -- "$1" | cut -d: -f1 | grep . || echo 0
}

# --- long waits, with a line of progress every minute ---------------------------------------------
zc_wait() { # BUDGET_SECS WHAT CMD...: wait_until CMD, printing progress every 60 s; 1 on timeout
    local budget=$1 what=$2 start left
    shift 2
    start=$(e2e_uptime)
    e2e_log "waiting up to ${budget}s for $what"
    while :; do
        left=$((start + budget - $(e2e_uptime)))
        [ "$left" -gt 0 ] || return 1
        [ "$left" -le 60 ] || left=60
        if wait_until "$left" "$@"; then
            e2e_log "$what after $(($(e2e_uptime) - start))s"
            return 0
        fi
        zc_progress "$what" "$(($(e2e_uptime) - start))" "$budget"
    done
}
zc_progress() { # WHAT ELAPSED BUDGET: one line of state
    e2e_log "still waiting for $1 (${2}s of ${3}s): link $(link_state), queue $(queue_count), relayed $(relay_count), $E2E_MTA pid $(master_pid), watchdog $(daemon_state): $(zc_status)"
}

# --- the stuck MTA with the shipped timers -------------------------------------------------------
zc_stuck_after_outage() { # N: lib.sh's stuck_after_outage, the outage judged from the journal
    local n=$1 budget
    link_down
    queue_mail "$n"
    wait_until 60 all_deferred "$n" ||
        fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
    freeze_qmgr
    # fail_threshold rounds to see it down, outage_alert_after before it is announced
    budget=$((E2E_INTERVAL * (ZC_FAIL_THRESHOLD + 2) + ZC_OUTAGE_ALERT_AFTER + 30))
    zc_wait "$budget" "the outage (outage.started in the journal)" zc_has_event outage.started ||
        fail "the outage was not detected within ${budget}s: $(zc_events | paste -sd' ' -)"
    link_up
}
zc_wait_healed() { # NAME: up to restore_grace + stall_after + verify_after + 3 min for the queue
    # to drain (NAME: the MTA, in messages), then up to a minute for the recovery
    local budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 180))
    zc_wait "$budget" "the watchdog to heal $1 (the queue drained)" queue_empty ||
        fail "queue not drained after ${budget}s: $(queue_count) left; events: $(zc_events | paste -sd' ' -)"
    wait_until 60 zc_has_event recovered || fail "no recovered in the journal; events: $(zc_events | paste -sd' ' -)"
}
zc_assert_healed_by_one_restart() { # MASTER: its name in the assertions ("master", "exim daemon")
    e2e_log "journal events: $(zc_events | paste -sd' ' -)"
    zc_journal_lines "" | grep -E '\((outage|stall|action|recovered)|restarting through systemd' | sed 's/^/          watchdog: /' >&2 || true
    assert_eq "$1 PID changes" 1 "$(master_pid_changes)"
    assert_eq "stall.detected in the journal" 1 "$(zc_event_count stall.detected)"
    assert_eq "\"restarting through systemd\" in the journal" 1 "$(zc_journal_lines "restarting through systemd" | wc -l)"
    assert_eq "recovered in the journal" 1 "$(zc_event_count recovered)"
    assert_eq "action.failed in the journal" 0 "$(zc_event_count action.failed)"
    assert_eq "events in the journal, in order" \
        "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
        "$(zc_events | paste -sd' ' -)"
    local stall restart
    stall=$(zc_first_line_no "(stall.detected)")
    restart=$(zc_first_line_no "restarting through systemd")
    assert_eq "the stall decision logged before \"restarting through systemd\"" yes \
        "$(if [ "$stall" -gt 0 ] && [ "$stall" -lt "$restart" ]; then echo yes; else echo "no (lines $stall, $restart)"; fi)"
    assert_eq "watchdog still running" active "$(daemon_state)"
}

# --- one round by hand: `mta-watchdogd --once --json` (as root, as an admin would) -------------
_zc_once() { e2e_exec sh -c '/usr/sbin/mta-watchdogd --once --json -c "$1" 2>/dev/null; true' sh "$ZC_INI"; }
once_reach() { # its reachability: "PROBE STATUS (OUTCOME: REASON)", "; " between probes
    _zc_once | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print("; ".join("%s %s (%s: %s)" % (p["probe"], p["status"], p["outcome"], p["reason"]) for p in d["reachability"]))
except Exception as e:
    print("missing (%s)" % e)'
}
once_reach_short() { once_reach | sed 's/ ([^;]*//g'; }   # "PROBE STATUS; PROBE STATUS"
zc_status() { e2e_exec systemctl show -p StatusText --value "$E2E_DAEMON_UNIT" 2>/dev/null || true; }   # the daemon's STATUS=
zc_relay_message_ids() { # distinct Message-Id headers among the messages the relay received
    e2e_exec sh -c 'cat /var/lib/e2e/relay/* 2>/dev/null | grep -i "^message-id:" | sort -u | wc -l'
}
