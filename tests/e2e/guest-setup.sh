#!/usr/bin/env bash
# shellcheck disable=SC2016
# Runs INSIDE the booted container (lib.sh: e2e_boot), once per boot. /e2e is this
# directory and /src the repository, both read-only. Sets up: the relay network
# namespace and its link, the relay (smtp-sink), the webhook receiver, Postfix relaying
# to the relay with short timers, and mta-watchdogd (installed) with its config.
set -euo pipefail

# --- network: netns "relay", link veth-mta (here) <-> veth-relay (relay ns) ---------
ip netns add relay
ip link add veth-mta type veth peer name veth-relay
ip link set veth-relay netns relay
ip addr add 192.0.2.1/24 dev veth-mta
ip link set veth-mta up
ip -n relay addr add 192.0.2.2/24 dev veth-relay
ip -n relay link set lo up
ip -n relay link set veth-relay up

# --- state shared with the host-side helpers --------------------------------------
install -d -m 0755 /var/lib/e2e
install -d -m 0755 -o nobody /var/lib/e2e/relay
: > /var/lib/e2e/webhook.jsonl

# --- relay: one file per received message in /var/lib/e2e/relay, in the relay netns ---
# Postfix's smtp-sink where Postfix is installed; in the Exim, nullmailer and Sendmail
# sandboxes (postfix conflicts with all three) sink.py, an SMTP sink of our own.
if [ "${E2E_MTA:-postfix}" != postfix ]; then
    relay_exec='/usr/bin/python3 /e2e/sink.py --listen 192.0.2.2:25 --dir /var/lib/e2e/relay --hold-flag /var/lib/e2e/relay-hold'
    relay_user='User=nobody
AmbientCapabilities=CAP_NET_BIND_SERVICE'
else
    relay_exec='/usr/sbin/smtp-sink -u nobody -h relay.test -d /var/lib/e2e/relay/%%H%%M%%S. 192.0.2.2:25 1000'
    relay_user=
fi
cat > /etc/systemd/system/e2e-relay.service <<EOF
[Unit]
Description=e2e relay: an SMTP sink on 192.0.2.2:25 in netns relay

[Service]
NetworkNamespacePath=/run/netns/relay
ExecStart=$relay_exec
$relay_user
Restart=on-failure
EOF

# --- webhook receiver --------------------------------------------------------------
cat > /etc/systemd/system/e2e-receiver.service <<'EOF'
[Unit]
Description=e2e webhook receiver on 127.0.0.1:9000

[Service]
ExecStart=/usr/bin/python3 /e2e/receiver.py --listen 127.0.0.1:9000 --log /var/lib/e2e/webhook.jsonl --fail-flag /var/lib/e2e/receiver-fail
Restart=on-failure
EOF

# --- Exim (E2E_MTA=exim): debconf made it a smarthost to 192.0.2.2::25 (rootfs-exim.sh);
# here only the timers are shortened, as for Postfix below: a queue runner every 10 s
# (/etc/default/exim4, read by /etc/init.d/exim4) and one retry rule, every 10 s for an
# hour, instead of Debian's "F,2h,15m; ..." (exim4.conf.template, "begin retry").
setup_exim() {
    sed -i "s/^QUEUEINTERVAL=.*/QUEUEINTERVAL='10s'/" /etc/default/exim4
    sed -i 's/^\*[[:space:]]\+\*[[:space:]]\+F,2h,15m; G,16h,1h,1.5; F,4d,6h$/*                      *           F,1h,10s/' \
        /etc/exim4/exim4.conf.template
    grep -q '^\*  *\*  *F,1h,10s$' /etc/exim4/exim4.conf.template
    # e2e_reset (lib.sh) restores these after scenarios that change Exim's configuration
    cp /etc/default/exim4 /var/lib/e2e/exim4.default
    cp /etc/exim4/exim4.conf.template /var/lib/e2e/exim4.conf.template.default
    systemctl enable exim4.service >/dev/null 2>&1 || true
}

# --- Sendmail (E2E_MTA=sendmail): rootfs-sendmail.sh made it a smarthost client of
# [192.0.2.2]; here only the queue interval is shortened, as for Postfix below: a queue run
# every 10 s (QUEUE_INTERVAL in /etc/mail/sendmail.conf, read by /etc/init.d/sendmail; the
# file's values are double-quoted, update_conf rewrites anything else to the default).
# Debian's default keeps no host status files (DAEMON_HOSTSTATS="No"); scenario 61 turns
# them on.
setup_sendmail() {
    sed -i 's/^QUEUE_INTERVAL=.*/QUEUE_INTERVAL="10s";/' /etc/mail/sendmail.conf
    make -C /etc/mail >/dev/null
    grep -q '^QUEUE_INTERVAL="10s";$' /etc/mail/sendmail.conf
    # e2e_reset (lib-sendmail.sh) restores these after scenarios that change them
    cp /etc/mail/sendmail.conf /var/lib/e2e/sendmail.conf.default
    cp /etc/mail/sendmail.mc /var/lib/e2e/sendmail.mc.default
    systemctl enable sendmail.service >/dev/null 2>&1 || true
}

# --- nullmailer (E2E_MTA=nullmailer): debconf made 192.0.2.2 port 25 its only remote
# (rootfs-nullmailer.sh); here the timers are shortened (nullmailer-send(8), "CONTROL FILES":
# every control file is reread each time the queue is run): pausetime 30 s instead of 60,
# maxpause 10 min instead of 24 h, sendtimeout 20 s instead of 1 h.
setup_nullmailer() {
    echo 30 > /etc/nullmailer/pausetime
    echo 600 > /etc/nullmailer/maxpause
    echo 20 > /etc/nullmailer/sendtimeout
    # e2e_reset (lib-nullmailer.sh) restores these after scenarios that change them
    install -d /var/lib/e2e/nullmailer.default
    cp -p /etc/nullmailer/* /var/lib/e2e/nullmailer.default/
    systemctl enable nullmailer.service >/dev/null 2>&1 || true
}

# --- the test network's DNS (E2E_VARIANT=direct): dnsmasq on 192.0.2.53 in netns relay,
# beside the relay, so that a link down takes both away as a real outage would. It answers
# the MX of the canary domain canary.test and of the recipients' domain remote.test, both
# hosts on the relay's address 192.0.2.2 (port 25: the relay), and NXDOMAIN for any other
# name under .test; it forwards nothing (--no-resolv) and reads no hosts file (dnsmasq(8)).
# The sandbox resolves through it: /etc/resolv.conf and the Postfix chroot's copy.
setup_direct_dns() {
    ip -n relay addr add 192.0.2.53/24 dev veth-relay
    cat > /etc/systemd/system/e2e-dns.service <<'UNIT'
[Unit]
Description=e2e DNS: dnsmasq on 192.0.2.53 in netns relay (canary.test, remote.test)

[Service]
NetworkNamespacePath=/run/netns/relay
ExecStart=/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= \
    --user=nobody --group=nogroup --listen-address=192.0.2.53 --bind-interfaces \
    --no-resolv --no-hosts --no-poll --local=/test/ --log-queries --log-facility=- \
    --mx-host=canary.test,mx.canary.test,10 --host-record=mx.canary.test,192.0.2.2 \
    --mx-host=remote.test,mx.remote.test,10 --host-record=mx.remote.test,192.0.2.2
Restart=on-failure
UNIT
    rm -f /etc/resolv.conf
    printf 'nameserver 192.0.2.53\noptions timeout:2 attempts:2\n' > /etc/resolv.conf
    install -d /var/spool/postfix/etc
    cp /etc/resolv.conf /var/spool/postfix/etc/resolv.conf
    systemctl daemon-reload
    systemctl start e2e-dns.service
    local i
    for ((i = 0; i < 30; i++)); do
        if [ "$(dig +short +time=1 +tries=1 MX canary.test)" = "10 mx.canary.test." ]; then return 0; fi
        sleep 0.5
    done
    echo "e2e-dns.service does not answer the MX of canary.test" >&2
    return 1
}

# --- Postfix: relay everything to the relay, short timers -------------------------
# (Postfix: everything up to the "fi" below, unindented)
if [ "${E2E_MTA:-postfix}" = exim ]; then setup_exim; elif [ "${E2E_MTA:-postfix}" = nullmailer ]; then setup_nullmailer
elif [ "${E2E_MTA:-postfix}" = sendmail ]; then setup_sendmail; else
postconf -e \
    'relayhost = [192.0.2.2]:25' \
    'myhostname = mta-e2e.test' \
    'myorigin = mta-e2e.test' \
    'mydestination = $myhostname, localhost' \
    'inet_interfaces = loopback-only' \
    'inet_protocols = ipv4' \
    'queue_run_delay = 10s' \
    'minimal_backoff_time = 10s' \
    'maximal_backoff_time = 20s' \
    'smtp_connect_timeout = 5s' \
    'smtp_host_lookup = native' \
    'disable_dns_lookups = yes'
# The direct-delivery sandbox (E2E_VARIANT=direct, rootfs-direct.sh): no relayhost, Postfix
# looks up the MX hosts of each recipient's domain itself, through its resolver view (the
# chroot's copy of /etc/resolv.conf, made by postfix@.service's configure-instance.sh), which
# names dnsmasq in the relay's network namespace (e2e-dns.service below).
if [ "${E2E_VARIANT:-}" = direct ]; then
    setup_direct_dns
    postconf -e 'relayhost =' 'smtp_host_lookup = dns' 'disable_dns_lookups = no'
fi
systemctl enable postfix.service >/dev/null 2>&1 || true
# e2e_reset (lib.sh) restores these after scenarios that change Postfix's configuration
cp /etc/postfix/main.cf /var/lib/e2e/main.cf.default
cp /etc/postfix/master.cf /var/lib/e2e/master.cf.default
# Debian's postfix@.service (Type=forking, GuessMainPID=no, no PIDFile=) leaves MainPID at
# 0. Stock is the default; E2E_POSTFIX_PIDFILE=yes gives systemd the master's pid file.
if [ "${E2E_POSTFIX_PIDFILE:-no}" = yes ]; then
    install -d /etc/systemd/system/postfix@-.service.d
    printf '[Service]\nPIDFile=/var/spool/postfix/pid/master.pid\n' \
        > /etc/systemd/system/postfix@-.service.d/e2e-pidfile.conf
fi
fi

# --- mta-watchdogd, installed as an admin would (E2E_INSTALL, see lib.sh): the .deb, or
# the files `cmake --install` put here from the host, followed by what its install step
# does on a live system. Then the example config with the sandbox's settings over it. ----
case ${E2E_INSTALL:-deb} in
    deb)
        dpkg -i /pkg/mta-watchdog.deb
        # The package enables and starts the service with the shipped config (postinst).
        # Every scenario starts the daemon itself (start_daemon, lib.sh) with the sandbox's
        # config and an empty state directory, as e2e_reset leaves it: stop this early
        # daemon and forget what it wrote (state.json, the journal cursor, an outbox).
        echo "mta-watchdogd.service after dpkg -i: $(systemctl is-enabled mta-watchdogd.service || true)," \
            "$(systemctl is-active mta-watchdogd.service || true)"
        systemctl is-enabled --quiet mta-watchdogd.service
        systemctl stop mta-watchdogd.service
        systemctl reset-failed mta-watchdogd.service 2>/dev/null || true
        find /var/lib/mta-watchdog /run/mta-watchdog -mindepth 1 -delete 2>/dev/null || true
        ;;
    cmake)
        systemd-sysusers /usr/lib/sysusers.d/mta-watchdog.conf
        /usr/libexec/mta-watchdog/join-mta-groups
        journalctl --update-catalog
        ;;
esac
id mta-watchdog
python3 /e2e/mkconfig.py "/src/etc/${E2E_EXAMPLE:-mta-watchdog.ini}" "/e2e/${E2E_INI:-mta-watchdog.e2e.ini}" \
    > /etc/mta-watchdog/mta-watchdog.ini.new
mv /etc/mta-watchdog/mta-watchdog.ini.new /etc/mta-watchdog/mta-watchdog.ini

systemctl daemon-reload
if [ "${E2E_MTA:-postfix}" = exim ]; then
    systemctl restart exim4.service
elif [ "${E2E_MTA:-postfix}" = nullmailer ]; then
    systemctl restart nullmailer.service
elif [ "${E2E_MTA:-postfix}" = sendmail ]; then
    systemctl restart sendmail.service
else
    systemctl restart postfix@-.service
fi
systemctl start e2e-relay.service e2e-receiver.service
