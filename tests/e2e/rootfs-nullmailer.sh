#!/usr/bin/env bash
# Builds (once) and prints the path of the nullmailer variant of the e2e rootfs: a copy of
# the cached Postfix rootfs (rootfs.sh) with Debian's nullmailer installed by apt from the
# same mirror (the one in the base rootfs's sources.list, i.e. this machine's), configured
# through debconf as Debian's installer would: every message relayed to the sandbox's relay
# 192.0.2.2 port 25 (/etc/nullmailer/remotes, nullmailer-send(8)).
# Cache key: the base rootfs, rootfs-nullmailer-packages.txt and this script; a change to
# any of them rebuilds the variant. Progress goes to stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MTA_WATCHDOG_E2E_CACHE:-/var/cache/mta-watchdog-e2e}
mkdir -p "$cache"
# One builder at a time (run.sh starts several sandboxes side by side).
exec 9>"$cache/.nullmailer.lock"
flock 9

base=$(bash "$here/rootfs.sh")
key=$(printf '%s\n' "$base" | cat - "$here/rootfs-nullmailer-packages.txt" "$here/rootfs-nullmailer.sh" |
    sha256sum | cut -c1-16)
# Not named rootfs-*: rootfs.sh removes older generations of those.
root="$cache/nullmailer-$key"
if [ -f "$root/.complete" ]; then
    echo "$root"
    exit 0
fi

rm -rf "$root.tmp"
echo "building the nullmailer rootfs $root from $base" >&2
cp -a --reflink=auto "$base" "$root.tmp"
rm -f "$root.tmp/.complete"
pkgs=$(grep -vE '^[[:space:]]*(#|$)' "$here/rootfs-nullmailer-packages.txt" | paste -sd' ' -)

cleanup_mounts() {
    umount "$root.tmp/proc" 2>/dev/null || true
}
trap cleanup_mounts EXIT
mount -t proc proc "$root.tmp/proc"
# No service starts inside the chroot (invoke-rc.d asks policy-rc.d, see its man page).
printf '#!/bin/sh\nexit 101\n' > "$root.tmp/usr/sbin/policy-rc.d"
chmod 0755 "$root.tmp/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true

# The answers Debian's installer would give (nullmailer's debconf templates; its postinst
# writes them to /etc/nullmailer/remotes, /etc/nullmailer/adminaddr and /etc/mailname).
chroot "$root.tmp" debconf-set-selections <<'SEL'
nullmailer shared/mailname string mta-e2e.test
nullmailer nullmailer/relayhost string 192.0.2.2 smtp --port=25
nullmailer nullmailer/adminaddr string
SEL
echo "apt-get update + install in the nullmailer rootfs: $pkgs" >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
# nullmailer conflicts with postfix: apt removes it (postfix's smtp-sink goes too)
# shellcheck disable=SC2086
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
    --no-install-recommends install $pkgs postfix- >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge postfix >&2 || true
chroot "$root.tmp" apt-get clean
rm -rf "$root.tmp"/var/lib/apt/lists/*
rm -f "$root.tmp/usr/sbin/policy-rc.d"
systemctl --root="$root.tmp" enable nullmailer.service >/dev/null 2>&1 || true
cleanup_mounts
trap - EXIT
grep -q '^192\.0\.2\.2 smtp --port=25$' "$root.tmp/etc/nullmailer/remotes" ||
    { echo "debconf did not configure the relay in /etc/nullmailer/remotes" >&2; exit 1; }

# Older generations go, unless a sandbox runs from one.
for old in "$cache"/nullmailer-*; do
    [ -d "$old" ] || continue
    [ "$old" = "$root.tmp" ] && continue
    if pgrep -af systemd-nspawn | grep -qF -- "$old"; then
        echo "keeping $old: a sandbox runs from it" >&2
        continue
    fi
    rm -rf "$old"
done
touch "$root.tmp/.complete"
mv "$root.tmp" "$root"
echo "$root"
