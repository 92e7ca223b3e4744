# shellcheck shell=bash disable=SC2016
# (SC2016: sh -c / python3 -c scripts are single-quoted on purpose)
# Helpers of the remediation scenarios (issue 4: ladder, persisted budget, give-up, dry run,
# reload). Sourced after lib.sh. They change the daemon's configuration inside the container
# (rm_config_set) and make every qmgr that Postfix starts freeze itself (qmgr_refreeze_on);
# rm_cleanup undoes both, so a scenario registers it with e2e_on_exit and the next scenario
# sees the default sandbox again.

RM_INI=/etc/mta-watchdog/mta-watchdog.ini
RM_INI_SAVED=/var/lib/e2e/mta-watchdog.ini.default   # the sandbox's file, while one is changed
RM_QMGR_STOPPER=qmgr-e2e-stop                         # the wrapper in Postfix's daemon_directory

# --- the daemon's configuration -----------------------------------------------------------
rm_config_save() { # keep the sandbox's file once (a later save does not overwrite it)
    e2e_exec sh -c '[ -f "$2" ] || cp -p "$1" "$2"' sh "$RM_INI" "$RM_INI_SAVED" ||
        fail "cannot save $RM_INI"
}
rm_config_restore() { # the sandbox's file back (the running daemon is not told)
    e2e_exec sh -c 'if [ -f "$2" ]; then cp -p "$2" "$1" && rm -f "$2"; fi' sh "$RM_INI" "$RM_INI_SAVED"
}
rm_config_set() { # SECTION KEY VALUE: set an active key of the daemon's file (replaced, or added after the header)
    rm_config_save
    e2e_exec python3 -c '
import re, sys
path, sec, key, val = sys.argv[1:5]
with open(path, encoding="utf-8") as f:
    lines = f.read().splitlines()
cur, header, done = None, None, False
for i, line in enumerate(lines):
    m = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
    if m:
        cur = m.group(1).strip()
        if cur == sec and header is None:
            header = i
        continue
    if cur == sec and re.match(r"^\s*" + re.escape(key) + r"\s*=", line):
        lines[i] = f"{key} = {val}"
        done = True
        break
if not done:
    if header is None:
        lines += ["", f"[{sec}]"]
        header = len(lines) - 1
    lines.insert(header + 1, f"{key} = {val}")
with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
' "$RM_INI" "$1" "$2" "$3" || fail "cannot set [$1] $2 in $RM_INI"
    e2e_log "config: [$1] $2 = $3"
}
rm_config_check() { rm_config_check_file "$RM_INI"; }   # the daemon's own validation of the file
rm_config_check_file() { # FILE: mta-watchdogd --check-config accepts it, or fail
    e2e_exec /usr/sbin/mta-watchdogd --check-config -c "$1" >/dev/null 2>&1 ||
        fail "mta-watchdogd --check-config rejects $1: $(e2e_exec /usr/sbin/mta-watchdogd --check-config -c "$1" 2>&1 | tail -n 3)"
}

# --- the daemon ---------------------------------------------------------------------------
daemon_pid() { e2e_exec systemctl show -p MainPID --value "$E2E_DAEMON_UNIT" 2>/dev/null || echo 0; }
daemon_invocation() { e2e_exec systemctl show -p InvocationID --value "$E2E_DAEMON_UNIT" 2>/dev/null || true; }
daemon_nrestarts() { e2e_exec systemctl show -p NRestarts --value "$E2E_DAEMON_UNIT" 2>/dev/null || echo '?'; }
daemon_status_text() { e2e_exec systemctl show -p StatusText --value "$E2E_DAEMON_UNIT" 2>/dev/null || true; }
daemon_journal() { # [INVOCATION_ID]: the daemon's messages (this run of the unit by default)
    local inv=${1:-$(daemon_invocation)}
    [ -n "$inv" ] || return 0
    e2e_exec journalctl --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$inv" 2>/dev/null || true
}
daemon_log_count() { # TEXT [INVOCATION_ID]: lines of the daemon's journal containing TEXT
    daemon_journal "${2:-}" | grep -cF -- "$1" || true
}
daemon_logged() { [ "$(daemon_log_count "$@")" -gt 0 ]; }   # TEXT [INVOCATION_ID]
daemon_signal() { # SIGNAL: to the daemon's main process only (systemctl kill)
    e2e_exec systemctl kill --kill-who=main -s "$1" "$E2E_DAEMON_UNIT" || fail "systemctl kill -s $1 failed"
    e2e_log "sent SIG$1 to $E2E_DAEMON_UNIT"
}
daemon_reload() { # systemctl reload (the unit's ExecReload= sends SIGHUP), or SIGHUP without one
    if [ -n "$(e2e_exec systemctl show -p ExecReload --value "$E2E_DAEMON_UNIT" 2>/dev/null)" ]; then
        e2e_exec timeout 30 systemctl reload "$E2E_DAEMON_UNIT" || fail "systemctl reload failed"
        e2e_log "systemctl reload $E2E_DAEMON_UNIT"
    else
        daemon_signal HUP
    fi
}
daemon_running_as_new_pid() { # OLD_PID: active again under another main PID
    local p
    p=$(daemon_pid)
    [ "$(daemon_state)" = active ] && [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$1" ]
}
state_file_field() { # PYTHON_EXPR over d (the parsed state.json): its value, or "missing"
    e2e_exec python3 -c '
import json, sys
try:
    with open(sys.argv[1] + "/state.json", encoding="utf-8") as f:
        d = json.load(f)
except (OSError, ValueError):
    print("missing")
    sys.exit(0)
v = eval(sys.argv[2])
print("null" if v is None else v)
' "$E2E_STATE_DIR" "$1"
}
state_restarts() { state_file_field 'len(d["restarts_usec"])'; }
state_incident() { state_file_field 'd["incident"]'; }
state_state() { state_file_field 'd["state"]'; }

# --- a Postfix that a restart does not heal ----------------------------------------------------
# Every qmgr that Postfix's master starts from now on stops itself (SIGSTOP) before it runs:
# master.cf's qmgr command becomes a wrapper that stops its own process and, when continued,
# execs the real qmgr (same PID). A watcher that freezes qmgr after a restart would race
# qmgr's first scan of the deferred queue (it delivers overdue mail within milliseconds).
# master.cf is read when the master starts, so the running Postfix is not affected; the next
# restart (the watchdog's) is.
qmgr_refreeze_on() {
    e2e_exec sh -c 'dir=$(postconf -h daemon_directory) || exit 1
        printf "%s\n" "#!/bin/sh" "# e2e (tests/e2e/lib-remediation.sh): a qmgr that is frozen from birth" \
            "kill -STOP \$\$" "exec $dir/qmgr \"\$@\"" > "$dir/$1" &&
        chmod 0755 "$dir/$1" && postconf -F -e "qmgr/unix/command = $1"' sh "$RM_QMGR_STOPPER" ||
        fail "cannot install the $RM_QMGR_STOPPER wrapper"
    e2e_log "every qmgr started from now on freezes itself ($RM_QMGR_STOPPER in master.cf)"
}
qmgr_refreeze_off() { # master.cf back, wrapper gone, a stopped wrapper continued (it becomes qmgr)
    e2e_exec sh -c 'dir=$(postconf -h daemon_directory 2>/dev/null) || exit 0   # none in the Exim sandbox
        if [ "$(postconf -F -h qmgr/unix/command 2>/dev/null)" = "$1" ]; then
            postconf -F -e "qmgr/unix/command = qmgr"; fi
        pkill -CONT -x "$1"; rm -f "$dir/$1"; true' sh "$RM_QMGR_STOPPER" || true
}
master_restarted() { [ "$(master_pid_changes)" -ge "$1" ]; }   # N: at least N master PID changes
qmgr_self_frozen() { # how many qmgr wrappers sit stopped
    e2e_exec sh -c 'n=0; for p in $(pgrep -x "$1"); do
        case $(ps -o stat= -p "$p") in T*) n=$((n + 1)) ;; esac; done; echo "$n"' sh "$RM_QMGR_STOPPER"
}

# --- alerts ------------------------------------------------------------------------------------
event_count_ge() { [ "$(event_count "$1" "${3:-}")" -ge "$2" ]; }   # NAME MIN [GREP]
dur_secs() { # "1m42s" / "40s" / "2h" (format_duration's output) -> seconds
    local v=$1 n=0 num unit
    while [[ $v =~ ^([0-9]+)(ms|h|m|s|d)(.*)$ ]]; do
        num=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} v=${BASH_REMATCH[3]}
        case $unit in
            d) n=$((n + num * 86400)) ;; h) n=$((n + num * 3600)) ;;
            m) n=$((n + num * 60)) ;; s) n=$((n + num)) ;; ms) ;;
        esac
    done
    [ -z "$v" ] || { echo -1; return; }
    echo "$n"
}
stall_no_progress_secs() { # [INDEX (1-based)]: the "no progress for X" of that stall.detected, in s
    local s
    s=$(events --event stall.detected --field summary | sed -n "${1:-1}p")
    if [[ $s =~ no\ progress\ for\ ([0-9a-z]+) ]]; then dur_secs "${BASH_REMATCH[1]}"; else echo -1; fi
}

# --- cleanup -----------------------------------------------------------------------------------
rm_cleanup() { # whatever the remediation scenarios changed: config, master.cf wrapper, link
    qmgr_refreeze_off
    rm_config_restore
    e2e_exec ip link set veth-mta up 2>/dev/null || true
}
