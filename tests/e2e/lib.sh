# shellcheck shell=bash disable=SC2016,SC2034
# (SC2016: sh -c scripts are single-quoted on purpose; SC2034: settings used by scenarios)
# Helpers of the end-to-end tests: boot systemd as PID 1 in systemd-nspawn from the
# cached rootfs, drive Postfix, the relay link, the webhook receiver and mta-watchdogd
# inside it, and assert. Sourced by run.sh, the scenarios and scripts/demo.sh.
#
# The container: --volatile=overlay over the cached rootfs (the cache stays pristine,
# every write lands in a tmpfs that vanishes with the container), --private-network
# (192.0.2.0/24 exists only inside it), no machined/systemd on the host, so it is
# controlled with nsenter into the namespaces of its PID 1 (E2E_LEADER).
# The process that calls e2e_boot owns the container and tears it down on exit;
# child processes (scenarios run by run.sh) inherit E2E_LEADER etc. and reuse it.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_DIR/../.." && pwd)
# How the daemon gets into the sandbox, as an admin would install it (never the build
# tree): "deb" installs the package that `cpack -G DEB` made in E2E_BUILD; "cmake" runs
# `cmake --install E2E_BUILD` into the running container (DESTDIR = its root).
E2E_INSTALL=${E2E_INSTALL:-deb}
E2E_BUILD=${E2E_BUILD:-$E2E_REPO/build}
E2E_SBIN=/usr/sbin/mta-watchdogd
E2E_POLL=${E2E_POLL:-2}                     # seconds between two polls of wait_until
E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-120}
E2E_TIMELINE=${E2E_TIMELINE:-0}             # 1: print a timeline line while waiting
E2E_TIMELINE_EVERY=${E2E_TIMELINE_EVERY:-5}
# The MTA a sandbox boots (one per sandbox: postfix, exim4, nullmailer and sendmail conflict):
# "postfix" (rootfs.sh), "exim" (rootfs-exim.sh, helpers in lib-exim.sh), "nullmailer"
# (rootfs-nullmailer.sh, helpers in lib-nullmailer.sh) or "sendmail" (rootfs-sendmail.sh,
# helpers in lib-sendmail.sh). A scenario that needs Exim is named scenario-*-exim-*.sh and
# sets E2E_MTA=exim before sourcing this file (nullmailer: scenario-*-nullmailer-*.sh,
# E2E_MTA=nullmailer; Sendmail: scenario-*-sendmail-*.sh, E2E_MTA=sendmail); run.sh shards by it.
E2E_MTA=${E2E_MTA:-postfix}
# A variant of the Postfix sandbox: "" (none), or "direct" (rootfs-direct.sh: Postfix delivers
# to MX hosts itself, no relayhost, with the answers of dnsmasq (e2e-dns.service, 192.0.2.53 in
# netns relay, guest-setup.sh); a scenario that needs it is named scenario-*-direct-*.sh and
# sets E2E_VARIANT=direct before sourcing this file; run.sh shards by it).
E2E_VARIANT=${E2E_VARIANT:-}
case $E2E_VARIANT in
    '') ;;
    direct) [ "$E2E_MTA" = postfix ] || { echo "lib.sh: E2E_VARIANT=direct is a Postfix sandbox, not $E2E_MTA" >&2; exit 2; } ;;
    *) echo "lib.sh: E2E_VARIANT is empty or direct, not '$E2E_VARIANT'" >&2; exit 2 ;;
esac
case $E2E_MTA in
    postfix) E2E_INI=${E2E_INI:-mta-watchdog.e2e.ini} ;;
    exim) E2E_INI=${E2E_INI:-mta-watchdog.e2e-exim.ini} ;;
    nullmailer) E2E_INI=${E2E_INI:-mta-watchdog.e2e-nullmailer.ini} ;;
    sendmail) E2E_INI=${E2E_INI:-mta-watchdog.e2e-sendmail.ini} ;;
    *) echo "lib.sh: E2E_MTA is postfix, exim, nullmailer or sendmail, not '$E2E_MTA'" >&2; exit 2 ;;
esac
# The example file under etc/ the sandbox's config is made from (mkconfig.py lays E2E_INI
# over it): nullmailer's ready profile, so that the shipped example runs against the real MTA.
case $E2E_MTA in
    nullmailer) E2E_EXAMPLE=mta-watchdog-nullmailer.ini ;;
    *) E2E_EXAMPLE=mta-watchdog.ini ;;
esac
export E2E_MTA E2E_VARIANT E2E_INI E2E_EXAMPLE
E2E_SPOOL=/var/spool/postfix
E2E_WEBHOOK_LOG=/var/lib/e2e/webhook.jsonl
E2E_MTA_UNIT=postfix@-.service
E2E_DAEMON_UNIT=mta-watchdogd.service
E2E_POSTFIX_PIDFILE=${E2E_POSTFIX_PIDFILE:-no}  # yes: PIDFile= drop-in for postfix@-.service

# --- settings, read from the sandbox's config so that waits scale with them --------
ini_get() { # SECTION KEY -> value in mta-watchdog.e2e.ini
    awk -v s="[$1]" -v k="$2" '
        /^[[:space:]]*\[/ { gsub(/[[:space:]]/, ""); cur = $0; next }
        cur == s && $0 ~ "^[[:space:]]*" k "[[:space:]]*=" {
            sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); print; exit }' \
        "$E2E_DIR/$E2E_INI"
}
secs() { # "40s" | "2m" | "1h" | "7" -> seconds
    local v=$1
    case $v in
        *ms) echo 1 ;;
        *s) echo "${v%s}" ;;
        *m) echo $(( ${v%m} * 60 )) ;;
        *h) echo $(( ${v%h} * 3600 )) ;;
        *) echo "$v" ;;
    esac
}
E2E_INTERVAL=$(secs "$(ini_get watchdog interval)")
E2E_STATE_DIR=$(ini_get watchdog state_dir)
E2E_RESTORE_GRACE=$(secs "$(ini_get mta restore_grace)")
E2E_STALL_AFTER=$(secs "$(ini_get mta stall_after)")
E2E_VERIFY_AFTER=$(secs "$(ini_get mta verify_after)")
E2E_RESTART_TIMEOUT=$(secs "$(ini_get mta restart_timeout)")
E2E_OK_THRESHOLD=$(ini_get mta ok_threshold)

# --- clocks ----------------------------------------------------------------------------
# Waits and the log's offsets run on a monotonic clock: the kernel's uptime (/proc/uptime,
# CLOCK_BOOTTIME, shared with the container), never `date` or bash's SECONDS, which follow
# the realtime clock and jump when it is set. The daemon's journal is read from a cursor
# saved when the scenario began (E2E_CURSOR), not "--since" a wall-clock time.
e2e_uptime() { local u; read -r u _ < /proc/uptime; echo "${u%.*}"; }   # whole seconds
e2e_journal_cursor() { # the cursor of the container journal's last entry ("" if it has none)
    e2e_exec journalctl -q -n1 -o export --no-pager 2>/dev/null | sed -n 's/^__CURSOR=//p' | head -n1
}
journal_since_begin() { # JOURNALCTL_ARGS...: the container's journal since the scenario began
    e2e_exec journalctl ${E2E_CURSOR:+--after-cursor="$E2E_CURSOR"} "$@"
}

# --- logging and failing ------------------------------------------------------------
e2e_now() { echo $(( $(e2e_uptime) - ${E2E_T0:-$(e2e_uptime)} )); }
e2e_log() { printf '[+%4ss] %s\n' "$(e2e_now)" "$*" >&2; }
fail() { # REASON: record it (run.sh prints it) and end the scenario
    e2e_log "FAIL: $*"
    if [ -n "${E2E_REASON_FILE:-}" ]; then printf '%s\n' "$*" > "$E2E_REASON_FILE"; fi
    exit 1
}
assert_eq() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        e2e_log "ok: $1 = $3"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}
assert_ge() { # NAME MIN ACTUAL (integers)
    if [ "$3" -ge "$2" ] 2>/dev/null; then
        e2e_log "ok: $1 = $3 (>= $2)"
    else
        fail "$1: expected >= $2, got '$3'"
    fi
}

# --- the container --------------------------------------------------------------------
e2e_exec() { # CMD...: run in the container (all its namespaces), clean environment
    nsenter -t "$E2E_LEADER" -m -u -i -n -p -- /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

_e2e_cgroup_dirs() { # the cgroup directories (one per hierarchy) the container lives under
    local name=mta-e2e-$E2E_OWNER
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        echo "/sys/fs/cgroup/$name"
    else
        local h
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
            if [ -d "$h" ]; then echo "$h/$name"; fi
        done
    fi
}

e2e_boot() {
    if [ -n "${E2E_LEADER:-}" ]; then return 0; fi   # a parent process booted it
    local rootfs
    if [ "$E2E_MTA" = exim ]; then
        rootfs=$(bash "$E2E_DIR/rootfs-exim.sh")
    elif [ "$E2E_MTA" = nullmailer ]; then
        rootfs=$(bash "$E2E_DIR/rootfs-nullmailer.sh")
    elif [ "$E2E_MTA" = sendmail ]; then
        rootfs=$(bash "$E2E_DIR/rootfs-sendmail.sh")
    elif [ "$E2E_VARIANT" = direct ]; then
        rootfs=$(bash "$E2E_DIR/rootfs-direct.sh")
    else
        rootfs=$(bash "$E2E_DIR/rootfs.sh")
    fi
    E2E_OWNER=$$
    E2E_T0=${E2E_T0:-$(e2e_uptime)}
    E2E_TMP=$(mktemp -d /tmp/mta-e2e.XXXXXX)
    E2E_MACHINE=mtae2e-$$
    export E2E_OWNER E2E_T0 E2E_TMP E2E_MACHINE
    trap e2e_teardown EXIT
    trap 'exit 130' INT TERM

    # Debian's prometheus-alertmanager (in every rootfs, for scenario-24) starts at boot in
    # its default cluster mode, which needs an address to advertise; a --private-network
    # container has only lo at boot, so the unit failed ("no private IP found") and the
    # system was "degraded". Without the cluster (one instance, as scenario-24 uses it) it
    # starts; the file is in place before boot (the cached rootfs stays as it is).
    printf '%s\n' '# tests/e2e/lib.sh (e2e_boot): one instance, no cluster: at boot the container has only lo' \
        'ARGS="--cluster.listen-address="' > "$E2E_TMP/prometheus-alertmanager.default"
    local -a args=(--boot --register=no --keep-unit --private-network --volatile=overlay
        --console=read-only -D "$rootfs" --machine="$E2E_MACHINE" --hostname=mta-e2e
        --bind-ro="$E2E_DIR:/e2e" --bind-ro="$E2E_REPO:/src"
        --bind="$E2E_TMP/prometheus-alertmanager.default:/etc/default/prometheus-alertmanager")
    case $E2E_INSTALL in
        deb)
            local deb
            deb=$(find "$E2E_BUILD" -maxdepth 1 -name 'mta-watchdog_*.deb' -newer "$E2E_BUILD/mta-watchdogd" 2>/dev/null | head -n1)
            [ -n "$deb" ] || fail "no package in $E2E_BUILD newer than its binary (cd $E2E_BUILD && cpack -G DEB)"
            # a private copy: the tree is rebuilt by others while tests run
            mkdir "$E2E_TMP/pkg"
            cp "$deb" "$E2E_TMP/pkg/mta-watchdog.deb"
            args+=(--bind-ro="$E2E_TMP/pkg:/pkg") ;;
        cmake)
            [ -f "$E2E_BUILD/cmake_install.cmake" ] || fail "$E2E_BUILD is not a configured build tree" ;;
        *) fail "E2E_INSTALL: deb or cmake, not '$E2E_INSTALL'" ;;
    esac
    # (its console log goes to $E2E_TMP, removed at teardown: a failed boot prints its tail,
    # a failed scenario's artifacts keep a copy, e2e_save_logs)
    e2e_log "booting $rootfs as $E2E_MACHINE"
    (
        # Own cgroup per run, so that concurrent runs and the leftovers stay apart.
        for cg in $(_e2e_cgroup_dirs); do
            if mkdir -p "$cg"; then echo "$BASHPID" > "$cg/cgroup.procs" || true; fi
        done
        exec systemd-nspawn "${args[@]}" </dev/null >"$E2E_TMP/boot.log" 2>&1
    ) &
    E2E_NSPAWN_PID=$!
    export E2E_NSPAWN_PID

    local deadline=$(($(e2e_uptime) + E2E_BOOT_TIMEOUT)) pid state=
    E2E_LEADER=
    while [ "$(e2e_uptime)" -lt "$deadline" ]; do
        if ! kill -0 "$E2E_NSPAWN_PID" 2>/dev/null; then
            tail -n 30 "$E2E_TMP/boot.log" >&2
            fail "systemd-nspawn exited during boot"
        fi
        if [ -z "$E2E_LEADER" ]; then
            for pid in $(pgrep -P "$E2E_NSPAWN_PID" || true); do
                if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ]; then E2E_LEADER=$pid; fi
            done
        fi
        if [ -n "$E2E_LEADER" ]; then
            export E2E_LEADER
            state=$(e2e_exec systemctl is-system-running 2>/dev/null || true)
            case $state in running|degraded) break ;; esac
        fi
        sleep 1
    done
    case $state in
        running|degraded) ;;
        *) tail -n 30 "$E2E_TMP/boot.log" >&2; fail "container did not boot within ${E2E_BOOT_TIMEOUT}s (state '$state')" ;;
    esac
    if [ "$state" = degraded ]; then   # named, so that a unit that fails at boot is seen
        state="$state: failed $(e2e_exec systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd' ' -)"
    fi
    e2e_log "booted (leader pid $E2E_LEADER, state $state)"
    if [ "$E2E_INSTALL" = cmake ]; then
        # the real `cmake --install`, into the container's root as its own mount namespace
        # sees it (an overlay: nothing reaches the cached rootfs)
        DESTDIR=/proc/$E2E_LEADER/root cmake --install "$E2E_BUILD" >"$E2E_TMP/install.log" 2>&1 ||
            { tail -n 20 "$E2E_TMP/install.log" >&2; fail "cmake --install into the container failed"; }
    fi
    e2e_exec E2E_POSTFIX_PIDFILE="${E2E_POSTFIX_PIDFILE:-no}" E2E_INSTALL="$E2E_INSTALL" \
        E2E_MTA="$E2E_MTA" E2E_VARIANT="$E2E_VARIANT" E2E_INI="$E2E_INI" E2E_EXAMPLE="$E2E_EXAMPLE" bash /e2e/guest-setup.sh >"$E2E_TMP/setup.log" 2>&1 ||
        { tail -n 30 "$E2E_TMP/setup.log" >&2; fail "guest setup failed"; }
    wait_until 30 _e2e_ready || fail "relay, receiver or $E2E_MTA not up: $(e2e_exec systemctl --failed --no-legend 2>&1)"
    e2e_log "mta-watchdog installed ($E2E_INSTALL): $(e2e_exec $E2E_SBIN --version 2>&1 | head -n1)"
    e2e_log "sandbox ready: relay 192.0.2.2:25 (netns relay), receiver 127.0.0.1:9000, $E2E_MTA master $(master_pid)"
}

_e2e_ready() {
    [ -n "$(e2e_exec ip netns exec relay ss -Hltn 'sport = :25' 2>/dev/null)" ] &&
        [ -n "$(e2e_exec ss -Hltn 'sport = :9000' 2>/dev/null)" ] &&
        [ "$(master_pid)" != 0 ]
}

e2e_save_logs() { # DIR: the container's journal and the boot log, for a post-mortem
    mkdir -p "$1"
    e2e_exec journalctl -b --no-pager -o short-monotonic >"$1/journal.txt" 2>&1 || true
    e2e_exec cat "$E2E_WEBHOOK_LOG" >"$1/webhook.jsonl" 2>/dev/null || true
    e2e_exec cat /etc/mta-watchdog/mta-watchdog.ini >"$1/mta-watchdog.ini" 2>/dev/null || true
    cp "$E2E_TMP/boot.log" "$E2E_TMP/setup.log" "$1/" 2>/dev/null || true
}

e2e_run_child() { # CMD...: run a scenario as a child; a signal to us ends it too
    # In the background + wait, so that INT/TERM reach our trap at once (bash defers traps
    # until a foreground child exits); e2e_teardown ends the child.
    "$@" &
    E2E_CHILD=$!
    local rc=0
    wait "$E2E_CHILD" || rc=$?
    E2E_CHILD=
    return "$rc"
}

e2e_teardown() {
    # shellcheck disable=SC2320
    local rc=$?
    [ "${E2E_OWNER:-}" = "$$" ] || return "$rc"
    trap - EXIT INT TERM
    if [ -n "${E2E_CHILD:-}" ] && kill -0 "$E2E_CHILD" 2>/dev/null; then
        kill -TERM "$E2E_CHILD" 2>/dev/null || true
        wait "$E2E_CHILD" 2>/dev/null || true
    fi
    if [ -n "${E2E_NSPAWN_PID:-}" ] && kill -0 "$E2E_NSPAWN_PID" 2>/dev/null; then
        if [ -n "${E2E_KEEP_LOGS:-}" ]; then e2e_save_logs "$E2E_KEEP_LOGS"; fi
        e2e_log "powering off the container"
        [ -n "${E2E_LEADER:-}" ] && timeout 15 nsenter -t "$E2E_LEADER" -m -u -i -n -p -- \
            systemctl poweroff --no-block >/dev/null 2>&1
        _e2e_wait_gone 30 ||
            { kill -TERM "$E2E_NSPAWN_PID" 2>/dev/null; _e2e_wait_gone 15; } ||
            { e2e_log "container did not stop; killing it"
              kill -KILL "$E2E_NSPAWN_PID" ${E2E_LEADER:+"$E2E_LEADER"} 2>/dev/null
              _e2e_wait_gone 10; } || true
        wait "$E2E_NSPAWN_PID" 2>/dev/null || true
    fi
    local cg
    for cg in $(_e2e_cgroup_dirs); do
        if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    rmdir "/run/systemd/nspawn/propagate/${E2E_MACHINE:-none}" 2>/dev/null || true
    if [ -n "${E2E_TMP:-}" ] && [ -d "$E2E_TMP" ]; then rm -rf "$E2E_TMP"; fi
    return "$rc"
}

_e2e_wait_gone() { # SECONDS: until systemd-nspawn has exited
    local i
    for ((i = 0; i < $1 * 5; i++)); do
        kill -0 "$E2E_NSPAWN_PID" 2>/dev/null || return 0
        sleep 0.2
    done
    return 1
}

# --- waiting ----------------------------------------------------------------------------
# Every poll of wait_until/observe runs the hooks: master PID sampling and the timeline.
wait_until() { # TIMEOUT_SEC CMD...: poll CMD every E2E_POLL s; 1 if it never succeeded
    local deadline=$(($(e2e_uptime) + $1))
    shift
    while :; do
        _e2e_poll_hooks
        if "$@"; then _e2e_final_tick; return 0; fi
        if [ "$(e2e_uptime)" -ge "$deadline" ]; then _e2e_final_tick; return 1; fi
        sleep "$E2E_POLL"
    done
}
observe() { # SECONDS: let time pass while the hooks keep sampling
    wait_until "$1" false || true
}
_e2e_final_tick() { # the timeline shows the state in which a wait ended (once)
    if [ "$E2E_TIMELINE" = 1 ]; then _E2E_TL_LAST=; timeline_tick changed; fi
}
_e2e_poll_hooks() {
    if [ -n "${E2E_PID_FILE:-}" ]; then _e2e_sample_master_pid; fi
    if [ "$E2E_TIMELINE" = 1 ]; then timeline_tick; fi
}

# --- network ----------------------------------------------------------------------------
link_down() { e2e_exec ip link set veth-mta down; e2e_log "link veth-mta DOWN"; }
link_up() { e2e_exec ip link set veth-mta up; e2e_log "link veth-mta UP"; }
link_state() { e2e_exec cat /sys/class/net/veth-mta/operstate 2>/dev/null || echo '?'; }

# --- Postfix ------------------------------------------------------------------------------
queue_mail() { # N [RCPT]: submit N messages to RCPT (user@remote.test: relayed to the relay)
    e2e_exec sh -c 'i=0; while [ "$i" -lt "$1" ]; do i=$((i + 1));
        printf "Subject: e2e message %s\n\nmessage %s\n" "$i" "$i" |
            sendmail -f e2e@mta-e2e.test "$2" || exit 1; done' sh "$1" "${2:-user@remote.test}"
    e2e_log "queued $1 messages${2:+ to $2}"
}
postfix_conf() { # 'KEY = VALUE'...: change main.cf and reload Postfix (e2e_reset restores it)
    e2e_exec postconf -e "$@" || fail "postconf -e $*"
    e2e_exec postfix reload >/dev/null 2>&1 || fail "postfix reload failed"
    e2e_log "postfix: $* (reloaded)"
}
_spool_count() { # SUBDIR...: files below those queue directories
    local dirs=() d
    for d in "$@"; do dirs+=("$E2E_SPOOL/$d"); done
    e2e_exec sh -c 'find "$@" -type f 2>/dev/null | wc -l' sh "${dirs[@]}"
}
queue_count() { _spool_count incoming active deferred maildrop; }
deferred_count() { _spool_count deferred; }
active_count() { _spool_count active; }
maildrop_count() { _spool_count maildrop; }
all_active() { # N: N messages, all of them in the active queue (a hung delivery agent)
    [ "$(active_count)" -eq "$1" ] && [ "$(queue_count)" -eq "$1" ]
}
queue_empty() { [ "$(queue_count)" -eq 0 ]; }
all_deferred() { # N: N messages, all of them in the deferred queue
    [ "$(deferred_count)" -eq "$1" ] && [ "$(queue_count)" -eq "$1" ]
}
relay_count() { e2e_exec sh -c 'ls /var/lib/e2e/relay | wc -l'; }
relay_has() { [ "$(relay_count)" -ge "$1" ]; }   # N: the relay received at least N
# The answer to DATA of sink.py, the relay of the sandboxes without Postfix (guest-setup.sh):
# it waits while the flag file is there (Postfix's smtp-sink knows no such flag).
relay_hold() { e2e_exec touch /var/lib/e2e/relay-hold; }
relay_release() { e2e_exec rm -f /var/lib/e2e/relay-hold; }
# The running master's PID, from Postfix's own pid file (checked against /proc). Not
# from systemd: Debian's postfix@.service is Type=forking with GuessMainPID=no and no
# PIDFile=, so its MainPID is always 0.
master_pid() {
    e2e_exec sh -c 'p=$(tr -dc 0-9 < "$1/pid/master.pid" 2>/dev/null)
        if [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = master ]; then echo "$p"; else echo 0; fi' \
        sh "$E2E_SPOOL" 2>/dev/null || echo 0
}
mta_state() { e2e_exec systemctl is-active "$E2E_MTA_UNIT" 2>/dev/null || true; }
mta_sub_state() { e2e_exec systemctl show -p SubState --value "$E2E_MTA_UNIT" 2>/dev/null || true; }
mta_stopped() { [ "$(mta_state)" = inactive ]; }
master_up() { [ "$(master_pid)" != 0 ]; }
signal_master() { # SIGNAL NAME DONE: SIGSIGNAL (STOP, KILL) to master_pid's process, which is
    # NAME in messages ("exim daemon"), logged as "NAME DONE (SIGSIGNAL, pid P)"
    local p
    p=$(master_pid)
    [ "$p" != 0 ] || fail "no $2 to send SIG$1 to"
    e2e_exec kill "-$1" "$p" || fail "cannot send SIG$1 to $2 $p"
    e2e_log "$2 $3 (SIG$1, pid $p)"
}
stopped_count() { # COMMAND: processes of that name in state T (stopped, e.g. by a freeze)
    e2e_exec sh -c 'ps -C "$1" -o stat= 2>/dev/null | grep -c "^T" || true' sh "$1"
}
freeze_qmgr() {
    e2e_exec pkill -STOP -x qmgr || fail "no qmgr to freeze"
    e2e_log "qmgr frozen (SIGSTOP, pid $(e2e_exec pgrep -x qmgr | paste -sd, -))"
}
stuck_after_outage() { # N [CMD...]: the failure this project exists for: the link to the relay
    # goes down, N messages are queued and deferred, qmgr is frozen (alive, but the queue will
    # not move; CMD runs right after, e.g. to keep it frozen across restarts), the outage is
    # reported, and the link comes back
    local n=$1
    shift
    link_down
    queue_mail "$n"
    wait_until 60 all_deferred "$n" ||
        fail "mail not deferred during the outage (queue $(queue_count), deferred $(deferred_count))"
    freeze_qmgr
    if [ "$#" -gt 0 ]; then "$@"; fi
    wait_until 30 has_event outage.started || fail "the outage was not reported: $(events | paste -sd, -)"
    link_up
}
thaw_qmgr() { e2e_exec pkill -CONT -x qmgr || true; }
freeze_smtp() { # the smtp(8) delivery agents that run now (e.g. idle ones after a delivery)
    e2e_exec pkill -STOP -x smtp || fail "no smtp process to freeze"
    e2e_log "smtp frozen (SIGSTOP, pid $(e2e_exec pgrep -x smtp | paste -sd, -))"
}
thaw_smtp() { e2e_exec pkill -CONT -x smtp || true; }

# Master PID tracking: distinct non-zero MainPIDs seen at every poll since track_master_pid.
track_master_pid() {
    E2E_PID_FILE=$(mktemp "${E2E_TMP:-/tmp}/master-pids.XXXXXX")
    _e2e_sample_master_pid
    e2e_log "tracking the master PID (now $(cat "$E2E_PID_FILE"))"
}
_e2e_sample_master_pid() {
    local p
    p=$(master_pid)
    if [ -n "$p" ] && [ "$p" != 0 ] && ! grep -qx "$p" "$E2E_PID_FILE"; then
        echo "$p" >> "$E2E_PID_FILE"
    fi
}
master_pid_changes() { # how often the master PID changed since track_master_pid
    _e2e_sample_master_pid
    echo $(( $(wc -l < "$E2E_PID_FILE") - 1 ))
}

# --- the webhook receiver -------------------------------------------------------------------
events() { e2e_exec python3 /e2e/events.py "$@"; }   # event names, one a line
event_count() { # NAME [GREP]: how many NAME events (whose line contains GREP)
    events --event "$1" ${2:+--grep "$2"} | wc -l
}
has_event() { [ "$(event_count "$1")" -gt 0 ]; }
action_count() { # NAME ACTION: how many NAME alerts (action.*) whose "action" field is ACTION
    # (by the field, not a text search: "restart" is also in "restarts_in_window")
    events --event "$1" --field action | grep -cx -- "$2" || true
}
receiver_fail() { # [HTTP_STATUS]: the receiver answers that (503) and records nothing
    e2e_exec sh -c 'echo "$1" > /var/lib/e2e/receiver-fail' sh "${1:-503}"
}
receiver_ok() { e2e_exec rm -f /var/lib/e2e/receiver-fail; }

# More receivers (alert scenarios): receiver.py as a transient unit e2e-recv-NAME on PORT,
# logging to /var/lib/e2e/NAME/; stopped by e2e_reset.
start_receiver() { # NAME PORT [receiver.py ARGS...]
    local name=$1 port=$2
    shift 2
    e2e_exec install -d -m 0755 "/var/lib/e2e/$name"
    e2e_exec systemd-run --quiet --unit="e2e-recv-$name" --property=Restart=no \
        /usr/bin/python3 /e2e/receiver.py --listen "127.0.0.1:$port" \
        --log "/var/lib/e2e/$name/webhook.jsonl" --fail-flag "/var/lib/e2e/$name/fail" "$@" ||
        fail "cannot start receiver $name"
    wait_until 15 _listening "$port" || fail "receiver $name not listening on $port"
}
_listening() { [ -n "$(e2e_exec ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
stop_receiver() { e2e_exec systemctl stop "e2e-recv-$1" 2>/dev/null || true; }
events_of() { # NAME [events.py ARGS...]: events.py over receiver NAME's log
    local name=$1
    shift
    e2e_exec python3 /e2e/events.py --log "/var/lib/e2e/$name/webhook.jsonl" "$@"
}
# Adds TEXT (e.g. a whole [alert:NAME] section) to the daemon's config; e2e_reset restores it.
config_append() { e2e_exec sh -c 'printf "\n%s\n" "$1" >> /etc/mta-watchdog/mta-watchdog.ini' sh "$1"; }
daemon_logged() { # TEXT: how many journal lines of the daemon since the scenario began contain TEXT
    journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager 2>/dev/null |
        grep -cF -- "$1" || true
}
has_logged() { [ "$(daemon_logged "$1")" -gt 0 ]; }
daemon_pid() { e2e_exec systemctl show -p MainPID --value "$E2E_DAEMON_UNIT" 2>/dev/null || echo 0; }
outbox_count() { # entries waiting in the daemon's outbox
    e2e_exec sh -c 'ls "$1/outbox" 2>/dev/null | grep -c "\.json$" || true' sh "$E2E_STATE_DIR"
}
# The stuck-MTA incident of scenario-01, judged from the daemon's journal rather than from
# a receiver (which alert scenarios may keep down): outage, frozen qmgr, link back, healed.
stuck_incident() { stuck_incident_begin; stuck_incident_end; }
stuck_incident_begin() {
    link_down
    queue_mail 20
    wait_until 60 all_deferred 20 || fail "mail not deferred during the outage (queue $(queue_count))"
    freeze_qmgr
    wait_until 30 has_logged "(outage.started)" || fail "the outage was not detected"
    link_up
}
stuck_incident_end() {
    local budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + 90))
    e2e_log "waiting up to ${budget}s for the watchdog to heal Postfix"
    wait_until "$budget" queue_empty || fail "queue not drained after ${budget}s: $(queue_count) left"
    wait_until 60 has_logged "(recovered)" || fail "no recovery logged"
    e2e_log "incident over: recovered"
}

# --- one stuck MTA, healed by one restart (scenario-01-stuck.sh; -50 Exim, -60 Sendmail) ------
# After stuck_after_outage, the watchdog must detect the stall, restart the MTA once, see the
# queue drain and alert outage ... recovered in one incident. The scenario adds what is its
# MTA's own (the relay's count, processes left stopped, the unit's state).
wait_healed() { # NAME SLACK: up to restore_grace + stall_after + verify_after + SLACK seconds for
    # the queue to drain (NAME: the MTA, in messages), then up to 60 s for the recovered alert
    local budget=$((E2E_RESTORE_GRACE + E2E_STALL_AFTER + E2E_VERIFY_AFTER + $2))
    e2e_log "waiting up to ${budget}s for the watchdog to heal $1"
    wait_until "$budget" queue_empty ||
        fail "queue not drained after ${budget}s: $(queue_count) left; alerts: $(events | paste -sd, -)"
    wait_until 60 has_event recovered || fail "no recovered alert; alerts: $(events | paste -sd, -)"
}
assert_healed_by_one_restart() { # MASTER: its name in the assertions ("master", "exim daemon")
    assert_eq "$1 PID changes" 1 "$(master_pid_changes)"
    assert_eq "stall.detected alerts" 1 "$(event_count stall.detected)"
    assert_eq "restart action.started alerts" 1 "$(action_count action.started restart)"
    assert_eq "restart action.succeeded alerts" 1 "$(action_count action.succeeded restart)"
    assert_eq "action.failed alerts" 0 "$(event_count action.failed)"
    assert_eq "alerts in order" \
        "outage.started outage.ended stall.detected action.started action.succeeded recovered" \
        "$(events | paste -sd' ' -)"
    assert_eq "one incident from outage to recovery" 1 "$(events --field incident | sort -u | wc -l)"
    assert_eq "recovered in the stall's incident" \
        "$(events --event stall.detected --field incident)" "$(events --event recovered --field incident)"
    assert_eq "watchdog still running" active "$(daemon_state)"
    assert_decided_before_restart
}
assert_decided_before_restart() { # the daemon's journal tells the stall decision (the
    # "(stall.detected)" line: what was seen, why it is a stall) before "restarting through systemd"
    local order
    order=$(journal_since_begin -u "$E2E_DAEMON_UNIT" -o cat --no-pager 2>/dev/null |
        grep -oE '\(stall\.detected\)|restarting through systemd' | paste -sd' ' -)
    assert_eq "journal: the stall decision, then the restart" \
        "(stall.detected) restarting through systemd" "$order"
}

# --- the MTA stopped by an administrator (scenario-06-admin-stop.sh; -55 Exim, -62 Sendmail,
# -72 nullmailer): a stopped unit is not the watchdog's to restart. The scenario submits its
# mail, lets time pass and asserts what is its MTA's own between admin_stop and admin_stop_end.
admin_stop() { # NAME [UNIT]: the watchdog started, the master PID tracked, then UNIT (default
    # E2E_MTA_UNIT) stopped as an administrator would (NAME: the MTA, in messages), until
    # E2E_MTA_UNIT is inactive; admin_stop_restart runs when the scenario ends, passed or failed
    E2E_STOPPED_UNIT=${2:-$E2E_MTA_UNIT}
    e2e_on_exit admin_stop_restart
    start_daemon
    track_master_pid
    e2e_exec timeout 60 systemctl stop "$E2E_STOPPED_UNIT" || fail "systemctl stop $E2E_STOPPED_UNIT failed"
    wait_until 30 mta_stopped || fail "$E2E_MTA_UNIT did not stop: $(mta_state)"
    e2e_log "$1 stopped by the administrator ($E2E_MTA_UNIT: $(mta_state))"
}
admin_stop_restart() { # what admin_stop stopped, started again (and E2E_MTA_UNIT)
    local units=("$E2E_MTA_UNIT")
    if [ "${E2E_STOPPED_UNIT:-$E2E_MTA_UNIT}" != "$E2E_MTA_UNIT" ]; then units=("$E2E_STOPPED_UNIT" "$E2E_MTA_UNIT"); fi
    e2e_exec timeout 60 systemctl start "${units[@]}" || true
}
assert_left_alone() { # MASTER: the stopped MTA untouched (MASTER: its name in the assertions):
    # no restart, one mta.stopped alert and no other, the watchdog still running
    assert_eq "$1 PID changes" 0 "$(master_pid_changes)"
    assert_eq "mta.stopped alerts" 1 "$(event_count mta.stopped)"
    assert_eq "stall.detected alerts" 0 "$(event_count stall.detected)"
    assert_eq "action.started alerts" 0 "$(event_count action.started)"
    assert_eq "alerts" "mta.stopped" "$(events | paste -sd' ' -)"
    assert_eq "watchdog still running" active "$(daemon_state)"
}
admin_stop_end() { # NAME N: started again, the MTA delivers the N messages that waited
    admin_stop_restart
    wait_until 60 queue_empty || fail "$1 did not deliver after its start: $(queue_count) left"
    assert_eq "messages at the relay" "$2" "$(relay_count)"
}

# --- the daemon ---------------------------------------------------------------------------
start_daemon() {
    e2e_exec test -x "$E2E_SBIN" || fail "daemon binary missing ($E2E_SBIN; E2E_INSTALL=$E2E_INSTALL)"
    if ! e2e_exec timeout 60 systemctl start "$E2E_DAEMON_UNIT"; then
        e2e_exec journalctl -u "$E2E_DAEMON_UNIT" -n 20 --no-pager >&2 || true
        fail "$E2E_DAEMON_UNIT did not start"
    fi
    e2e_log "$E2E_DAEMON_UNIT started (pid $(e2e_exec systemctl show -p MainPID --value "$E2E_DAEMON_UNIT"))"
    # let it see the relay up (ok_threshold probes) before anything happens
    observe $(( E2E_INTERVAL * (E2E_OK_THRESHOLD + 1) + 1 ))
}
stop_daemon() { e2e_exec timeout 60 systemctl stop "$E2E_DAEMON_UNIT" || true; }
daemon_state() { e2e_exec systemctl is-active "$E2E_DAEMON_UNIT" 2>/dev/null || true; }
# `mta-watchdogd --once --json` run by hand: each sandbox's own runner (exim_once,
# sendmail_once) keeps its JSON in E2E_ONCE_JSON and its exit status in E2E_ONCE_RC.
once_field() { # PATH ("queue.backlog", "verdict"): that value in E2E_ONCE_JSON (JSON, strings bare), or "missing"
    printf '%s' "${E2E_ONCE_JSON:-}" | e2e_exec python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
    for k in sys.argv[1].split("."):
        v = v[k]
except Exception:
    print("missing")
    sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$1"
}

# --- between scenarios --------------------------------------------------------------------------
e2e_reset_begin() { # what every sandbox's e2e_reset_mta does first: the relay answers (sink.py's
    # hold flag gone), the MTA's stopped processes continue (thaw_qmgr, thaw_smtp: each
    # sandbox's own), the link is up and the receiver answers
    relay_release
    thaw_qmgr
    thaw_smtp
    e2e_exec ip link set veth-mta up
    receiver_ok
}
e2e_reset_mta() { # the MTA as guest-setup.sh left it, running, with an empty queue and the link up
    e2e_reset_begin
    # the sandbox's Postfix configuration (guest-setup.sh saved it), whatever a scenario changed
    e2e_exec sh -c 'for f in main.cf master.cf; do
        if [ -f "/var/lib/e2e/$f.default" ]; then cp "/var/lib/e2e/$f.default" "/etc/postfix/$f"; fi; done'
    e2e_exec timeout 60 systemctl restart "$E2E_MTA_UNIT" || fail "reset: postfix restart failed"
    e2e_exec timeout 60 systemctl start postfix.service || fail "reset: postfix.service start failed"
    e2e_exec postsuper -d ALL >/dev/null 2>&1 || true
    wait_until 30 queue_empty || fail "reset: queue not empty ($(queue_count))"
}
e2e_reset() {
    stop_daemon
    e2e_exec systemctl reset-failed "$E2E_DAEMON_UNIT" 2>/dev/null || true
    e2e_exec sh -c 'find "$1" -mindepth 1 -delete 2>/dev/null || true' sh "$E2E_STATE_DIR"
    e2e_reset_mta
    e2e_exec sh -c ': > /var/lib/e2e/webhook.jsonl; : > /var/lib/e2e/requests.jsonl;
        find /var/lib/e2e/relay -mindepth 1 -delete'
    # what alert scenarios change: extra receivers, the config, the default receiver stopped
    e2e_exec sh -c 'systemctl stop "e2e-recv-*" 2>/dev/null; systemctl reset-failed "e2e-recv-*" 2>/dev/null
        python3 /e2e/mkconfig.py "/src/etc/$2" "/e2e/$1" > /etc/mta-watchdog/mta-watchdog.ini
        systemctl start e2e-receiver.service' sh "$E2E_INI" "$E2E_EXAMPLE" || fail "reset: cannot restore receivers and config"
    # misbehaving peers of the cause scenarios (lib-causes.sh), and the relay they replaced
    e2e_exec sh -c 'systemctl stop "e2e-peer-*" 2>/dev/null; systemctl reset-failed "e2e-peer-*" 2>/dev/null
        systemctl start e2e-relay.service' || fail "reset: cannot stop the stand-ins or start the relay"
    unset E2E_PID_FILE
}

# --- scenarios --------------------------------------------------------------------------------
# A scenario script: source this file, call e2e_scenario_begin, then steps and asserts.
# Run alone it boots (and tears down) its own container and prints PASS/FAIL itself;
# run by run.sh it uses the booted one and run.sh prints the verdict.
e2e_scenario_begin() {
    E2E_SCENARIO=$(basename "$0" .sh)
    if [ -z "${E2E_LEADER:-}" ]; then
        e2e_boot
        trap '_e2e_standalone_end' EXIT
    else
        trap '_e2e_scenario_cleanup' EXIT
    fi
    E2E_T0=$(e2e_uptime)
    E2E_CURSOR=$(e2e_journal_cursor)
    e2e_log "scenario $E2E_SCENARIO"
}
e2e_on_exit() { E2E_CLEANUP=$1; }   # FUNCTION: run when the scenario ends, passed or failed
_e2e_scenario_cleanup() {
    local rc=$?
    if [ -n "${E2E_CLEANUP:-}" ]; then "$E2E_CLEANUP" || true; fi
    return "$rc"
}
_e2e_standalone_end() {
    local rc=$?
    if [ -n "${E2E_CLEANUP:-}" ]; then "$E2E_CLEANUP" || true; fi
    if [ "$rc" = 0 ]; then echo "PASS $E2E_SCENARIO"; else echo "FAIL $E2E_SCENARIO"; fi
    e2e_teardown
    return "$rc"
}

# --- timeline (demo) -------------------------------------------------------------------------
# One line of state, then what the daemon logged (priority info and up) and the alerts
# received since the previous tick.
timeline_tick() { # [changed]: the state line only if it differs from the last one printed (what
    # the daemon logged and the alerts that arrived since are printed either way, under a
    # state line: the final tick of a wait shows how it ended, e.g. the recovered alert)
    local now state logged n alerts=
    now=$(e2e_now)
    if [ -n "${_E2E_TL_LAST:-}" ] && [ $((now - _E2E_TL_LAST)) -lt "$E2E_TIMELINE_EVERY" ]; then return 0; fi
    _E2E_TL_LAST=$now
    state=$(printf 'link=%-4s queue=%-3s relayed=%-3s postfix-master=%-6s watchdog=%s' \
        "$(link_state)" "$(queue_count)" "$(relay_count)" "$(master_pid)" "$(daemon_state)")
    logged=$(e2e_exec journalctl -u "$E2E_DAEMON_UNIT" -p "${E2E_TIMELINE_PRIORITY:-info}" -o cat \
        --no-pager --cursor-file=/run/e2e-timeline.cursor 2>/dev/null |
        grep -vE '^(#|\[|[a-z_]+ = |$)' |   # not a config dump (--check-config)
        sed 's/^/          watchdog: /' || true)
    n=$(e2e_exec sh -c 'wc -l < "$1"' sh "$E2E_WEBHOOK_LOG" 2>/dev/null || echo 0)
    if [ "$n" -gt "${_E2E_TL_ALERTS:-0}" ]; then
        alerts=$(paste -d' ' <(events --field event | tail -n +"$(( ${_E2E_TL_ALERTS:-0} + 1 ))") \
                             <(events --field summary | tail -n +"$(( ${_E2E_TL_ALERTS:-0} + 1 ))") |
            sed 's/^/          ALERT: /')
    fi
    _E2E_TL_ALERTS=$n
    if [ "${1:-}" = changed ] && [ "$state" = "${_E2E_TL_STATE:-}" ] && [ -z "$logged$alerts" ]; then return 0; fi
    _E2E_TL_STATE=$state
    printf '[+%4ss] %s\n' "$now" "$state"
    if [ -n "$logged" ]; then printf '%s\n' "$logged"; fi
    if [ -n "$alerts" ]; then printf '%s\n' "$alerts"; fi
}
_outbox_empty() { [ "$(outbox_count)" -eq 0 ]; }
_outbox_has() { [ "$(outbox_count)" -eq "$1" ]; }
_two_outages() { [ "$(daemon_logged "(outage.started)")" -ge 2 ]; }
_restarted() { # OLD_PID: the unit is active again under another pid
    local p
    p=$(daemon_pid)
    [ "$(daemon_state)" = active ] && [ "$p" != 0 ] && [ "$p" != "$1" ]
}
_two_outages_ended() { [ "$(daemon_logged "(outage.ended)")" -ge 2 ]; }
_signed_has() { [ "$(events_of signed | wc -l)" -ge "$1" ]; }
_signatures() { # valid|invalid: requests the signed receiver judged so
    e2e_exec sh -c 'grep -c "\"signature\":\"$1\"" /var/lib/e2e/signed/requests.jsonl || true' sh "$1"
}
_tls_has() { [ "$(events_of tls | wc -l)" -ge "$1" ]; }
# Alertmanager's view of our alerts: "STATE alertname instance mta unit severity incident", one a line.
_am_alerts() {
    e2e_exec python3 -c '
import json, urllib.request
with urllib.request.urlopen("http://127.0.0.1:9093/api/v2/alerts", timeout=5) as r:
    alerts = json.load(r)
for a in alerts:
    l = a["labels"]
    if l.get("alertname") != "MTAWatchdogIncident":
        continue
    print(a["status"]["state"], l["alertname"], l.get("instance"), l.get("mta"), l.get("unit"),
          l.get("severity"), l.get("incident"))' 2>/dev/null
}
_am_ready() { e2e_exec python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:9093/api/v2/status", timeout=5)' 2>/dev/null; }
_am_firing() { _am_alerts | grep -q '^active '; }
_am_resolved() { [ -z "$(_am_alerts)" ]; }

# --- the Exim sandbox: its helpers replace the Postfix ones above (same names) ----------------
if [ "$E2E_MTA" = exim ]; then
    # shellcheck source-path=SCRIPTDIR source=lib-exim.sh
    . "$E2E_DIR/lib-exim.sh"
fi
# --- the nullmailer sandbox: the same for nullmailer (lib-nullmailer.sh) -----------------------
if [ "$E2E_MTA" = nullmailer ]; then
    # shellcheck source-path=SCRIPTDIR source=lib-nullmailer.sh
    . "$E2E_DIR/lib-nullmailer.sh"
fi
# --- the Sendmail sandbox: the same for Sendmail (lib-sendmail.sh) -----------------------------
if [ "$E2E_MTA" = sendmail ]; then
    # shellcheck source-path=SCRIPTDIR source=lib-sendmail.sh
    . "$E2E_DIR/lib-sendmail.sh"
fi
