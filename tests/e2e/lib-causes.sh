# shellcheck shell=bash disable=SC2016
# (SC2016: sh -c scripts are single-quoted on purpose)
# Helpers of the scenarios of failure causes (scenario-4x): misbehaving peers (peer.py as
# transient units e2e-peer-NAME), Postfix's resolver view (its chroot's copies of hosts and
# resolv.conf), an IPv6 relay link that can be black-holed. Sourced after lib.sh;
# causes_cleanup undoes all of it (a scenario registers it with e2e_on_exit; e2e_reset stops
# the stand-ins too).

CS_CHROOT_ETC=$E2E_SPOOL/etc            # where Debian's postfix@.service copies /etc files (configure-instance.sh)
CS_SAVED=/var/lib/e2e/causes-saved      # the sandbox's hosts/resolv.conf, while a scenario changes them
CS_RELAY6=2001:db8::2
CS_MTA6=2001:db8::1

# --- stand-ins (peer.py) ---------------------------------------------------------------------
peer_start() { # NAME [--netns relay] peer.py ARGS...: transient unit e2e-peer-NAME
    local name=$1
    shift
    local -a props=(--property=Restart=no)
    if [ "${1:-}" = --netns ]; then props+=("--property=NetworkNamespacePath=/run/netns/$2"); shift 2; fi
    e2e_exec systemctl reset-failed "e2e-peer-$name" 2>/dev/null || true
    e2e_exec systemd-run --quiet --unit="e2e-peer-$name" "${props[@]}" \
        /usr/bin/python3 /e2e/peer.py "$@" || fail "cannot start stand-in $name ($*)"
}
peer_stop() { e2e_exec systemctl stop "e2e-peer-$1" 2>/dev/null || true; }   # NAME
peer_running() { [ "$(e2e_exec systemctl is-active "e2e-peer-$1" 2>/dev/null)" = active ]; }
peer_journal() { e2e_exec journalctl -u "e2e-peer-$1" -o cat --no-pager 2>/dev/null || true; }
_tcp_listening() { # NETNS|- PORT [ADDR]
    local -a ns=()
    if [ "$1" != - ]; then ns=(ip netns exec "$1"); fi
    e2e_exec "${ns[@]}" ss -Hltn "sport = :$2" 2>/dev/null | grep -qF -- "${3:-:$2}"
}
_udp_listening() { [ -n "$(e2e_exec ss -Hlun "sport = :$1" 2>/dev/null)" ]; }   # PORT

smtp_hang_start() { # PORT: the smtp-hang stand-in on 127.0.0.1:PORT (220, then silence)
    peer_start hang smtp-hang --listen "127.0.0.1:$1"
    wait_until 15 _tcp_listening - "$1" || fail "smtp-hang stand-in not listening on 127.0.0.1:$1"
    e2e_log "smtp-hang stand-in on 127.0.0.1:$1"
}

relay_refuse_start() { # [greeting|ehlo]: the relay (192.0.2.2:25) answers 421 instead of smtp-sink
    e2e_exec systemctl stop e2e-relay.service || fail "cannot stop e2e-relay.service"
    wait_until 15 _relay_closed || fail "smtp-sink still listening on 192.0.2.2:25"
    peer_start relay421 --netns relay smtp-421 --listen 192.0.2.2:25 --when "${1:-greeting}"
    wait_until 15 _tcp_listening relay 25 192.0.2.2:25 || fail "smtp-421 stand-in not listening on 192.0.2.2:25"
    e2e_log "relay 192.0.2.2:25 answers 421 (${1:-greeting})"
}
_relay_closed() { ! _tcp_listening relay 25 192.0.2.2:25; }
relay_refuse_stop() { # smtp-sink back on 192.0.2.2:25
    peer_stop relay421
    wait_until 15 _relay_closed || fail "smtp-421 stand-in still listening"
    e2e_exec systemctl start e2e-relay.service || fail "cannot start e2e-relay.service"
    wait_until 15 _tcp_listening relay 25 192.0.2.2:25 || fail "smtp-sink not back on 192.0.2.2:25"
    e2e_log "relay 192.0.2.2:25 accepts mail again (smtp-sink)"
}

dns_peer_start() { # peer.py dns ARGS (--a NAME=ADDR ...): a DNS server on 127.0.0.1:53 (udp)
    peer_start dns dns --listen 127.0.0.1:53 "$@"
    wait_until 15 _udp_listening 53 || fail "dns stand-in not listening on 127.0.0.1:53"
    e2e_log "dns stand-in on 127.0.0.1:53 ($*; NXDOMAIN for anything else)"
}

# --- the resolver view: /etc and Postfix's chroot copies --------------------------------------
_cs_save() { # FILE (absolute): keep the sandbox's copy once
    e2e_exec sh -c 'd="$2$(dirname "$1")"; mkdir -p "$d"
        [ -e "$2$1" ] || [ -e "$2$1.absent" ] || { if [ -e "$1" ]; then cp -p "$1" "$2$1"; else : > "$2$1.absent"; fi; }' \
        sh "$1" "$CS_SAVED" || fail "cannot save $1"
}
cs_write() { # FILE CONTENT: replace FILE (saved first; causes_cleanup restores it)
    _cs_save "$1"
    e2e_exec sh -c 'rm -f "$1" && printf "%s\n" "$2" > "$1" && chmod 0644 "$1"' sh "$1" "$2" || fail "cannot write $1"
}
cs_append() { # FILE LINE
    _cs_save "$1"
    e2e_exec sh -c 'printf "%s\n" "$2" >> "$1"' sh "$1" "$2" || fail "cannot append to $1"
}
_cs_restore() {
    e2e_exec sh -c '[ -d "$1" ] || exit 0
        cd "$1" && find . -type f | while read -r f; do f=${f#.}
            case $f in *.absent) rm -f "${f%.absent}" ;; *) cp -p "$1$f" "$f" ;; esac; done
        rm -rf "$1"' sh "$CS_SAVED" || true
}
# The name relay.test for the relay, in /etc/hosts and the chroot's copy of it.
relay_name_add() { # ADDR...: relay.test resolves to these (files)
    local a
    for a in "$@"; do
        cs_append /etc/hosts "$a relay.test"
        cs_append "$CS_CHROOT_ETC/hosts" "$a relay.test"
    done
}
chroot_has_relay_name() { e2e_exec grep -q 'relay\.test' "$CS_CHROOT_ETC/hosts"; }

# --- IPv6 on the relay link ---------------------------------------------------------------------
ipv6_link_up() { # 2001:db8::1 here, 2001:db8::2 in the relay netns; an smtp-sink listens there too
    e2e_exec sh -c 'sysctl -qw net.ipv6.conf.veth-mta.disable_ipv6=0
        ip netns exec relay sysctl -qw net.ipv6.conf.veth-relay.disable_ipv6=0
        ip -6 addr add "$1/64" dev veth-mta nodad &&
        ip -n relay -6 addr add "$2/64" dev veth-relay nodad' sh "$CS_MTA6" "$CS_RELAY6" ||
        fail "cannot set up IPv6 on the relay link"
    e2e_exec systemd-run --quiet --unit=e2e-peer-relay6 --property=Restart=no \
        --property=NetworkNamespacePath=/run/netns/relay \
        /usr/sbin/smtp-sink -u nobody -h relay.test -d '/var/lib/e2e/relay/%H%M%S.' "[$CS_RELAY6]:25" 1000 ||
        fail "cannot start smtp-sink on [$CS_RELAY6]:25"
    wait_until 15 _tcp_listening relay 25 "[$CS_RELAY6]:25" || fail "smtp-sink not listening on [$CS_RELAY6]:25"
    wait_until 15 ipv6_reachable || fail "no TCP connection to [$CS_RELAY6]:25"
    e2e_log "IPv6 on the relay link: $CS_MTA6 <-> $CS_RELAY6 (smtp-sink on [$CS_RELAY6]:25)"
}
ipv6_blackhole() { # the relay's IPv6 address vanishes: neighbour discovery fails, IPv4 still works
    e2e_exec sh -c 'ip -n relay -6 addr del "$1/64" dev veth-relay && ip -6 neigh flush dev veth-mta' sh "$CS_RELAY6" ||
        fail "cannot remove $CS_RELAY6"
    e2e_log "IPv6 towards the relay black-holed ($CS_RELAY6 removed; IPv4 192.0.2.2 still up)"
}
ipv6_reachable() { # a TCP connection to [2001:db8::2]:25 succeeds within 2 s (the rootfs has no ping)
    e2e_exec python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], 25), timeout=2).close()' \
        "$CS_RELAY6" >/dev/null 2>&1
}
_ipv6_cleanup() {
    e2e_exec systemctl stop e2e-peer-relay6 2>/dev/null || true
    e2e_exec sh -c 'ip -6 addr del "$1/64" dev veth-mta 2>/dev/null
        ip -n relay -6 addr del "$2/64" dev veth-relay 2>/dev/null; true' sh "$CS_MTA6" "$CS_RELAY6"
}

# --- Postfix -------------------------------------------------------------------------------------
queue_mail_quiet() { # N RCPT: like queue_mail, but no delivery status notification (-N never)
    e2e_exec sh -c 'i=0; while [ "$i" -lt "$1" ]; do i=$((i + 1));
        printf "Subject: e2e message %s\n\nmessage %s\n" "$i" "$i" |
            sendmail -N never -f e2e@mta-e2e.test "$2" || exit 1; done' sh "$1" "$2"
    e2e_log "queued $1 messages to $2 (no DSN)"
}
postfix_log() { # [GREP]: Postfix's journal lines since the scenario began, "IDENTIFIER: MESSAGE"
    journal_since_begin -u "$E2E_MTA_UNIT" -o json --no-pager 2>/dev/null |
        python3 -c '
import json, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
want = sys.argv[1].lower()
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    msg = e.get("MESSAGE")
    if not isinstance(msg, str):
        continue
    text = "%s[%s]: %s" % (e.get("SYSLOG_IDENTIFIER", "?"), e.get("SYSLOG_PID", e.get("_PID", "?")), msg)
    if want in text.lower():
        print(text)' "${1:-}"
}
postfix_logged() { [ -n "$(postfix_log "$1")" ]; }   # TEXT
postfix_log_count() { postfix_log "$1" | wc -l; }    # TEXT
cs_record_log() { # TITLE: Postfix's journal since the scenario began into the scenario's output
    e2e_log "---- Postfix journal ($1) ----"
    postfix_log >&2 || true
    e2e_log "---- end of Postfix journal ----"
}
cs_record_events() { # the alerts received so far, "event summary", into the scenario's output
    e2e_log "alerts: $(events | paste -sd' ' -)"
    paste -d' ' <(events --field event) <(events --field summary) | sed 's/^/          ALERT: /' >&2 || true
}

# --- the daemon ----------------------------------------------------------------------------------
# [mta] degraded_after: how long failures of one cause class go on before delivery.degraded
# (20s when the sandbox's ini does not set it).
CS_DEGRADED_AFTER=$(secs "$(ini_get mta degraded_after)")
CS_DEGRADED_AFTER=${CS_DEGRADED_AFTER:-20}
once_json() { # PYTHON_EXPR over d (mta-watchdogd --once --json): its value (JSON), or "missing"
    e2e_exec sh -c '/usr/sbin/mta-watchdogd --once --json -c /etc/mta-watchdog/mta-watchdog.ini 2>/dev/null; true' |
        python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception:
    print("missing")
    sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# --- cleanup -------------------------------------------------------------------------------------
causes_cleanup() { # stand-ins stopped, smtp-sink back, /etc files and the chroot's copies restored, IPv6 off
    e2e_exec sh -c 'systemctl stop "e2e-peer-*" 2>/dev/null; systemctl reset-failed "e2e-peer-*" 2>/dev/null; true'
    e2e_exec systemctl start e2e-relay.service 2>/dev/null || true
    _ipv6_cleanup
    _cs_restore
}
