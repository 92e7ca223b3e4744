#!/usr/bin/env bash
# Builds (once) and prints the path of the nullmailer variant of the e2e rootfs: a copy of
# the cached Postfix rootfs (rootfs.sh) with Debian's nullmailer installed by apt from the
# same mirror (the one in the base rootfs's sources.list, i.e. this machine's), configured
# through debconf as Debian's installer would: every message relayed to the sandbox's relay
# 192.0.2.2 port 25 (/etc/nullmailer/remotes, nullmailer-send(8)).
# The steps every variant shares, and its cache key (the base rootfs,
# rootfs-nullmailer-packages.txt, this script and rootfs-variant.sh; a change to any of them
# rebuilds the variant), are in rootfs-variant.sh. Progress goes to stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=rootfs-variant.sh
. "$here/rootfs-variant.sh"
variant_begin nullmailer nullmailer

# The answers Debian's installer would give (nullmailer's debconf templates; its postinst
# writes them to /etc/nullmailer/remotes, /etc/nullmailer/adminaddr and /etc/mailname).
chroot "$root.tmp" debconf-set-selections <<'SEL'
nullmailer shared/mailname string mta-e2e.test
nullmailer nullmailer/relayhost string 192.0.2.2 smtp --port=25
nullmailer nullmailer/adminaddr string
SEL
# nullmailer conflicts with postfix: apt removes it (postfix's smtp-sink goes too)
variant_install
grep -q '^192\.0\.2\.2 smtp --port=25$' "$root.tmp/etc/nullmailer/remotes" ||
    { echo "debconf did not configure the relay in /etc/nullmailer/remotes" >&2; exit 1; }
variant_complete nullmailer.service
