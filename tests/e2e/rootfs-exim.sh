#!/usr/bin/env bash
# Builds (once) and prints the path of the Exim variant of the e2e rootfs: a copy of the
# cached Postfix rootfs (rootfs.sh) with Debian's exim4-daemon-light installed by apt from
# the same mirror (the one in the base rootfs's sources.list, i.e. this machine's), and
# configured through debconf as Debian's installer would: a smarthost setup relaying
# everything to the sandbox's relay 192.0.2.2 port 25 (update-exim4.conf.conf(5)).
# The steps every variant shares, and its cache key (the base rootfs,
# rootfs-exim-packages.txt, this script and rootfs-variant.sh; a change to any of them
# rebuilds the variant), are in rootfs-variant.sh. Progress goes to stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=rootfs-variant.sh
. "$here/rootfs-variant.sh"
variant_begin exim Exim

# The answers Debian's installer would give for a satellite-like smarthost host
# (exim4-config's templates; written by its postinst to update-exim4.conf.conf).
chroot "$root.tmp" debconf-set-selections <<'EOF'
exim4-config exim4/dc_eximconfig_configtype select mail sent by smarthost; received via SMTP or fetchmail
exim4-config exim4/dc_smarthost string 192.0.2.2::25
exim4-config exim4/dc_other_hostnames string mta-e2e.test
exim4-config exim4/dc_local_interfaces string 127.0.0.1
exim4-config exim4/dc_readhost string
exim4-config exim4/dc_relay_domains string
exim4-config exim4/dc_relay_nets string
exim4-config exim4/dc_minimaldns boolean false
exim4-config exim4/dc_localdelivery select mbox format in /var/mail/
exim4-config exim4/dc_postmaster string root
exim4-config exim4/use_split_config boolean false
exim4-config exim4/hide_mailname boolean
exim4-config exim4/mailname string mta-e2e.test
EOF
# exim4-daemon-light conflicts with postfix: apt removes it (postfix's smtp-sink goes too)
variant_install
grep -q "dc_smarthost='192.0.2.2::25'" "$root.tmp/etc/exim4/update-exim4.conf.conf" ||
    { echo "debconf did not configure the smarthost" >&2; exit 1; }
variant_complete exim4.service
