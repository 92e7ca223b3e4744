#!/usr/bin/env bash
# Builds (once) and prints the path of a cached Debian 12 rootfs for the
# end-to-end tests. The cache key is the hash of the package list and of this
# script, so editing either rebuilds it. The mirror is the one this machine's
# own apt sources use; without one, debootstrap's default is used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MTA_WATCHDOG_E2E_CACHE:-/var/cache/mta-watchdog-e2e}
key=$(cat "$here/rootfs-packages.txt" "$here/rootfs.sh" | sha256sum | cut -c1-16)
root="$cache/rootfs-$key"

if [ -f "$root/.complete" ]; then
    echo "$root"
    exit 0
fi

mirror_from_apt_sources() {
    # deb822 sources first, then one-line sources; the first bookworm 'deb' entry wins.
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN{RS="";FS="\n"}
             /Types:[^\n]*deb([ \n]|$)/ && /Suites:[^\n]*bookworm([ \n]|$)/ {
                 for (i=1;i<=NF;i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/,"",$i); split($i,a," "); print a[1]; exit } }' "$f"
    done | head -n1
    grep -hE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z]+://[^[:space:]]+[[:space:]]+bookworm[[:space:]]' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1; exit}'
}
mirror=$(mirror_from_apt_sources | head -n1 || true)

pkgs=$(grep -vE '^[[:space:]]*(#|$)' "$here/rootfs-packages.txt" | paste -sd, -)
mkdir -p "$cache"
rm -rf "$root.tmp"
echo "building rootfs $root (mirror: ${mirror:-debootstrap default})" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$root.tmp" ${mirror:+"$mirror"} >&2

# Settings the tests rely on: no getty noise, journald keeps logs in memory.
chroot "$root.tmp" systemctl mask console-getty.service getty@tty1.service \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
echo "mta-e2e" > "$root.tmp/etc/hostname"
echo "mta-e2e.test" > "$root.tmp/etc/mailname"
# Old cache generations are removed, so the cache does not grow without bound;
# one that a running sandbox boots from stays until a later build.
for old in "$cache"/rootfs-*; do
    [ "$old" = "$root.tmp" ] && continue
    [ -d "$old" ] || continue
    if pgrep -af systemd-nspawn | grep -qF -- "$old"; then
        echo "keeping $old: a sandbox runs from it" >&2
        continue
    fi
    rm -rf "$old"
done
touch "$root.tmp/.complete"
mv "$root.tmp" "$root"
echo "$root"
