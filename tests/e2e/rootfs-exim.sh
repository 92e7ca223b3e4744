#!/usr/bin/env bash
# Builds (once) and prints the path of the Exim variant of the e2e rootfs: a copy of the
# cached Postfix rootfs (rootfs.sh) with Debian's exim4-daemon-light installed by apt from
# the same mirror (the one in the base rootfs's sources.list, i.e. this machine's), and
# configured through debconf as Debian's installer would: a smarthost setup relaying
# everything to the sandbox's relay 192.0.2.2 port 25 (update-exim4.conf.conf(5)).
# Cache key: the base rootfs, rootfs-exim-packages.txt and this script; a change to any of
# them rebuilds the variant. Progress goes to stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MTA_WATCHDOG_E2E_CACHE:-/var/cache/mta-watchdog-e2e}
mkdir -p "$cache"
# One builder at a time (run.sh starts several sandboxes side by side).
exec 9>"$cache/.exim.lock"
flock 9

base=$(bash "$here/rootfs.sh")
key=$(printf '%s\n' "$base" | cat - "$here/rootfs-exim-packages.txt" "$here/rootfs-exim.sh" |
    sha256sum | cut -c1-16)
# Not named rootfs-*: rootfs.sh removes older generations of those.
root="$cache/exim-$key"
if [ -f "$root/.complete" ]; then
    echo "$root"
    exit 0
fi

rm -rf "$root.tmp"
echo "building the Exim rootfs $root from $base" >&2
cp -a --reflink=auto "$base" "$root.tmp"
rm -f "$root.tmp/.complete"
pkgs=$(grep -vE '^[[:space:]]*(#|$)' "$here/rootfs-exim-packages.txt" | paste -sd' ' -)

cleanup_mounts() {
    umount "$root.tmp/proc" 2>/dev/null || true
}
trap cleanup_mounts EXIT
mount -t proc proc "$root.tmp/proc"
# No service starts inside the chroot (invoke-rc.d asks policy-rc.d, see its man page).
printf '#!/bin/sh\nexit 101\n' > "$root.tmp/usr/sbin/policy-rc.d"
chmod 0755 "$root.tmp/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true

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
echo "apt-get update + install in the Exim rootfs: $pkgs" >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
# exim4-daemon-light conflicts with postfix: apt removes it (postfix's smtp-sink goes too)
# shellcheck disable=SC2086
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
    --no-install-recommends install $pkgs postfix- >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge postfix >&2 || true
chroot "$root.tmp" apt-get clean
rm -rf "$root.tmp"/var/lib/apt/lists/*
rm -f "$root.tmp/usr/sbin/policy-rc.d"
systemctl --root="$root.tmp" enable exim4.service >/dev/null 2>&1 || true
cleanup_mounts
trap - EXIT
grep -q "dc_smarthost='192.0.2.2::25'" "$root.tmp/etc/exim4/update-exim4.conf.conf" ||
    { echo "debconf did not configure the smarthost" >&2; exit 1; }

# Older generations go, unless a sandbox runs from one.
for old in "$cache"/exim-*; do
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
