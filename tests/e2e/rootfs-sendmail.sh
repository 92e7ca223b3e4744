#!/usr/bin/env bash
# Builds (once) and prints the path of the Sendmail variant of the e2e rootfs: a copy of the
# cached Postfix rootfs (rootfs.sh) with Debian's sendmail-bin installed by apt from the same
# mirror (the one in the base rootfs's sources.list, i.e. this machine's), configured as a
# smarthost client of the sandbox's relay: SMART_HOST `[192.0.2.2]' in /etc/mail/sendmail.mc
# (cf/README "SMART_HOST"), sendmail.cf rebuilt by Debian's sendmailconfig machinery.
# The short test timers are set by guest-setup.sh. Cache key: the base rootfs,
# rootfs-sendmail-packages.txt and this script; a change to any of them rebuilds the
# variant. Progress goes to stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MTA_WATCHDOG_E2E_CACHE:-/var/cache/mta-watchdog-e2e}
mkdir -p "$cache"
# One builder at a time (run.sh starts several sandboxes side by side).
exec 9>"$cache/.sendmail.lock"
flock 9

base=$(bash "$here/rootfs.sh")
key=$(printf '%s\n' "$base" | cat - "$here/rootfs-sendmail-packages.txt" "$here/rootfs-sendmail.sh" |
    sha256sum | cut -c1-16)
# Not named rootfs-*: rootfs.sh removes older generations of those.
root="$cache/sendmail-$key"
if [ -f "$root/.complete" ]; then
    echo "$root"
    exit 0
fi

rm -rf "$root.tmp"
echo "building the Sendmail rootfs $root from $base" >&2
cp -a --reflink=auto "$base" "$root.tmp"
rm -f "$root.tmp/.complete"
pkgs=$(grep -vE '^[[:space:]]*(#|$)' "$here/rootfs-sendmail-packages.txt" | paste -sd' ' -)

cleanup_mounts() {
    umount "$root.tmp/proc" 2>/dev/null || true
}
trap cleanup_mounts EXIT
mount -t proc proc "$root.tmp/proc"
# No service starts inside the chroot (invoke-rc.d asks policy-rc.d, see its man page).
printf '#!/bin/sh\nexit 101\n' > "$root.tmp/usr/sbin/policy-rc.d"
chmod 0755 "$root.tmp/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true
# Sendmail wants a fully qualified name for itself; without one it sleeps and retries at
# every start ("My unqualified host name ... unknown"). The sandbox's host name is mta-e2e.
printf '127.0.1.1\tmta-e2e.test mta-e2e\n' >> "$root.tmp/etc/hosts"

echo "apt-get update + install in the Sendmail rootfs: $pkgs" >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
# sendmail-bin conflicts with postfix (mail-transport-agent): apt removes it
# shellcheck disable=SC2086
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
    --no-install-recommends install $pkgs postfix- >&2
chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge postfix >&2 || true
chroot "$root.tmp" apt-get clean
rm -rf "$root.tmp"/var/lib/apt/lists/*

# Everything to the relay: SMART_HOST before the MAILER lines of Debian's sendmail.mc,
# then sendmail.cf rebuilt (Debian's /etc/mail/Makefile, as sendmailconfig does).
mc="$root.tmp/etc/mail/sendmail.mc"
grep -q '^MAILER_DEFINITIONS' "$mc" || { echo "no MAILER_DEFINITIONS in sendmail.mc" >&2; exit 1; }
sed -i "/^MAILER_DEFINITIONS/i define(\`SMART_HOST', \`[192.0.2.2]')dnl" "$mc"
chroot "$root.tmp" make -C /etc/mail >&2
# The sandbox has no DNS server: host names from /etc/hosts only (Debian's own
# service.switch-nodns), or sendmail queues every message on "Name server timeout" while it
# canonifies the recipient's domain (the MSP in /var/spool/mqueue-client, "dsn=4.4.3").
cp "$root.tmp/etc/mail/service.switch-nodns" "$root.tmp/etc/mail/service.switch"
grep -q '^DS\[192\.0\.2\.2\]$' "$root.tmp/etc/mail/sendmail.cf" ||
    { echo "sendmail.cf has no DS[192.0.2.2]" >&2; exit 1; }
rm -f "$root.tmp/usr/sbin/policy-rc.d"
systemctl --root="$root.tmp" enable sendmail.service >/dev/null 2>&1 || true
cleanup_mounts
trap - EXIT

# Older generations go, unless a sandbox runs from one.
for old in "$cache"/sendmail-*; do
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
