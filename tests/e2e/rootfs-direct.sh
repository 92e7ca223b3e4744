#!/usr/bin/env bash
# Builds (once) and prints the path of the direct-delivery variant of the e2e rootfs: a copy
# of the cached Postfix rootfs (rootfs.sh) with Debian's dnsmasq-base (a DNS server for the
# test network) and bind9-dnsutils (dig) installed by apt from the same mirror (the one in the
# base rootfs's sources.list, i.e. this machine's). Postfix stays: guest-setup.sh makes it
# deliver to MX hosts itself (no relayhost), with the answers of dnsmasq, which it runs in the
# relay's network namespace (E2E_VARIANT=direct, lib.sh).
# The cache key (the base rootfs, rootfs-direct-packages.txt, this script and
# rootfs-variant.sh; a change to any of them rebuilds the variant) and the copy are
# rootfs-variant.sh's; the install is this script's own: rootfs-variant.sh's variant_install
# replaces Postfix, which this variant keeps. Progress goes to stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=rootfs-variant.sh
. "$here/rootfs-variant.sh"
variant_begin direct direct-delivery

echo "apt-get update + install in the $variant_title rootfs: $pkgs" >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
# shellcheck disable=SC2086
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install $pkgs >&2
chroot "$root.tmp" apt-get clean
rm -rf "$root.tmp"/var/lib/apt/lists/*
for f in /usr/sbin/dnsmasq /usr/bin/dig /usr/sbin/postfix; do
    [ -x "$root.tmp$f" ] || { echo "$f missing in the $variant_title rootfs" >&2; exit 1; }
done
variant_complete postfix.service
