# shellcheck shell=bash
# The steps every variant of the e2e rootfs shares (rootfs-exim.sh, rootfs-nullmailer.sh,
# rootfs-sendmail.sh): a copy of the cached Postfix rootfs (rootfs.sh) with the variant's MTA
# installed by apt from the same mirror (the one in the base rootfs's sources.list, i.e. this
# machine's), cached in $MTA_WATCHDOG_E2E_CACHE as NAME-KEY. Sourced by the variant script,
# which keeps only what is its own (its debconf answers, its configuration, its checks):
#
#   variant_begin NAME TITLE   the cached variant's path on stdout and exit if it is built;
#                              otherwise the copy in $root.tmp, ready for debconf and chroot
#   variant_install            apt-get install of rootfs-NAME-packages.txt, postfix removed
#   variant_complete UNIT      UNIT enabled, older generations removed, $root.tmp moved to
#                              $root, its path on stdout
#
# Cache key: the base rootfs's path (itself keyed by rootfs.sh and its package list),
# rootfs-NAME-packages.txt, rootfs-NAME.sh and this file; a change to any of them rebuilds the
# variant. Progress goes to stderr, the path to stdout.

variant_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MTA_WATCHDOG_E2E_CACHE:-/var/cache/mta-watchdog-e2e}

# Sets: variant (NAME), variant_title (TITLE), base (the base rootfs), root (the variant's
# cache path; it is built in $root.tmp) and pkgs (the variant's packages, space separated).
variant_begin() { # NAME TITLE (NAME: exim, nullmailer, sendmail; TITLE: its name in messages)
    variant=$1
    variant_title=$2
    mkdir -p "$cache"
    # One builder at a time (run.sh starts several sandboxes side by side).
    exec 9>"$cache/.$variant.lock"
    flock 9

    base=$(bash "$variant_dir/rootfs.sh")
    local key
    key=$(printf '%s\n' "$base" | cat - "$variant_dir/rootfs-$variant-packages.txt" \
        "$variant_dir/rootfs-$variant.sh" "$variant_dir/rootfs-variant.sh" | sha256sum | cut -c1-16)
    # Not named rootfs-*: rootfs.sh removes older generations of those.
    root="$cache/$variant-$key"
    if [ -f "$root/.complete" ]; then
        echo "$root"
        exit 0
    fi

    rm -rf "$root.tmp"
    echo "building the $variant_title rootfs $root from $base" >&2
    cp -a --reflink=auto "$base" "$root.tmp"
    rm -f "$root.tmp/.complete"
    pkgs=$(grep -vE '^[[:space:]]*(#|$)' "$variant_dir/rootfs-$variant-packages.txt" | paste -sd' ' -)

    trap _variant_umount EXIT
    mount -t proc proc "$root.tmp/proc"
    # No service starts inside the chroot (invoke-rc.d asks policy-rc.d, see its man page).
    printf '#!/bin/sh\nexit 101\n' > "$root.tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$root.tmp/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true
}

_variant_umount() {
    umount "$root.tmp/proc" 2>/dev/null || true
}

# The variant's packages in place of postfix: each of these MTAs conflicts with it (they
# all provide mail-transport-agent), so apt removes it (postfix's smtp-sink goes too; these
# sandboxes' relay is sink.py, guest-setup.sh), then its configuration is purged.
variant_install() {
    echo "apt-get update + install in the $variant_title rootfs: $pkgs" >&2
    chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
    # shellcheck disable=SC2086
    chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        --no-install-recommends install $pkgs postfix- >&2
    chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge postfix >&2 || true
    chroot "$root.tmp" apt-get clean
    rm -rf "$root.tmp"/var/lib/apt/lists/*
}

variant_complete() { # UNIT: the MTA's unit, enabled as its package's postinst would have
    rm -f "$root.tmp/usr/sbin/policy-rc.d"
    systemctl --root="$root.tmp" enable "$1" >/dev/null 2>&1 || true
    _variant_umount
    trap - EXIT
    # Older generations go, unless a sandbox runs from one.
    local old
    for old in "$cache/$variant"-*; do
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
}
