#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks what `cmake --install` and `cpack -G DEB` of a build tree lay down (staged with
# DESTDIR, never onto this system):
#  * with another prefix (--prefix /opt/mw) the unit's ExecStart= runs the binary
#    installed under that prefix (no line names /usr/sbin/mta-watchdogd), and
#    Documentation= names its README;
#  * with the prefix /usr the unit is units/mta-watchdogd.service unchanged;
#  * the package's Description is the summary, then the long text with every line
#    indented by one space (two would make dpkg show the lines verbatim), not the
#    summary again;
#  * the package runs join-mta-groups on configure and when postfix, exim4 or
#    sendmail is installed later (triggers);
#  * Maintainer is NAME <ADDRESS> (not root@localhost), Description names the MTAs
#    and the ladder, Depends any mail-transport-agent;
#  * the postinst enables the service (deb-systemd-helper) and starts it
#    (deb-systemd-invoke); a start that fails does not fail it, and it prints one
#    line naming journalctl -u mta-watchdogd (run with stand-ins for systemctl and
#    the helpers, in a mount namespace of its own where /run/systemd/system
#    exists; skipped where unshare(1) cannot make one);
#  * prerm stops, postrm purge forgets the enablement (deb-systemd-helper purge).
# Exit 0 when all holds, 1 naming what does not.
#
# Usage: tests/check-install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail

src=$1
build=$2
tmp=$(mktemp -d /tmp/check-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bad=0
no() { echo "check-install: $*" >&2; bad=1; }

unit_in() { # STAGING_DIR -> path of the installed unit
    find "$1" -name mta-watchdogd.service -type f | head -n1
}

DESTDIR=$tmp/opt cmake --install "$build" --prefix /opt/mw >"$tmp/opt.log" 2>&1 ||
    { cat "$tmp/opt.log" >&2; no "cmake --install --prefix /opt/mw failed"; }
unit=$(unit_in "$tmp/opt")
if [ -z "$unit" ]; then
    no "--prefix /opt/mw: no unit installed"
else
    [ -x "$tmp/opt/opt/mw/sbin/mta-watchdogd" ] || no "--prefix /opt/mw: no /opt/mw/sbin/mta-watchdogd"
    grep -q "^ExecStart=/opt/mw/sbin/mta-watchdogd " "$unit" ||
        no "--prefix /opt/mw: ExecStart= does not run /opt/mw/sbin/mta-watchdogd: $(grep "^ExecStart=" "$unit")"
    grep -q '^Documentation=file:///opt/mw/share/doc/mta-watchdog/README.md$' "$unit" ||
        no "--prefix /opt/mw: Documentation= does not name /opt/mw/share/doc/mta-watchdog/README.md"
    if grep -q '/usr/sbin/mta-watchdogd' "$unit"; then no "--prefix /opt/mw: the unit still names /usr/sbin/mta-watchdogd"; fi
fi

DESTDIR=$tmp/usr cmake --install "$build" --prefix /usr >"$tmp/usr.log" 2>&1 ||
    { cat "$tmp/usr.log" >&2; no "cmake --install --prefix /usr failed"; }
unit=$(unit_in "$tmp/usr")
if [ -z "$unit" ] || ! cmp -s "$unit" "$src/units/mta-watchdogd.service"; then
    no "--prefix /usr: the installed unit differs from units/mta-watchdogd.service"
fi

# The package's postinst, as "abort-upgrade" (the enable-and-start steps of
# "configure", without creating the user) with stand-ins that record their calls:
# deb-systemd-helper says the unit was enabled (a first install), deb-systemd-invoke's
# start fails, systemctl show says exit status 78. The postinst must exit 0, print one
# line, and have enabled, then started the unit.
# shellcheck disable=SC2016  # the stand-ins and the sh -c script expand their own $*, $1, $2
postinst_start_fails() { # DEB
    local d=$tmp/postinst out rc
    mkdir -p "$d/bin" "$d/ctl"
    dpkg-deb -e "$1" "$d/ctl"
    printf '#!/bin/sh\necho "deb-systemd-helper $*" >>"%s/calls"\n' "$d" >"$d/bin/deb-systemd-helper"
    printf '#!/bin/sh\necho "deb-systemd-invoke $*" >>"%s/calls"\necho "Job failed." >&2\nexit 1\n' "$d" \
        >"$d/bin/deb-systemd-invoke"
    printf '#!/bin/sh\necho "systemctl $*" >>"%s/calls"\ncase "$1" in show) echo 78 ;; esac\n' "$d" \
        >"$d/bin/systemctl"
    chmod +x "$d/bin/"*
    if ! unshare -m true 2>/dev/null; then
        echo "check-install: no mount namespace (unshare -m), the postinst's start is not run" >&2
        return 0
    fi
    rc=0
    out=$(unshare -m --propagation private sh -c '
        mount -t tmpfs check-install /run && mkdir -p /run/systemd/system &&
        PATH="$1:$PATH" sh "$2" abort-upgrade' sh "$d/bin" "$d/ctl/postinst" 2>"$d/stderr") || rc=$?
    [ "$rc" = 0 ] || no "postinst: a failed start failed the installation (exit $rc): $(cat "$d/stderr")"
    [ "$out" = "mta-watchdog: mta-watchdogd.service did not start (exit status 78: an error in /etc/mta-watchdog/mta-watchdog.ini, or no MTA here it can watch); see: journalctl -u mta-watchdogd" ] ||
        no "postinst: a failed start printed '$out'"
    [ ! -s "$d/stderr" ] || no "postinst: a failed start wrote to stderr: $(cat "$d/stderr")"
    [ "$(cat "$d/calls" 2>/dev/null)" = "deb-systemd-helper unmask mta-watchdogd.service
deb-systemd-helper --quiet was-enabled mta-watchdogd.service
deb-systemd-helper enable mta-watchdogd.service
systemctl daemon-reload
deb-systemd-invoke start mta-watchdogd.service
systemctl show -p ExecMainStatus --value mta-watchdogd.service" ] ||
        no "postinst: unexpected calls: $(paste -sd';' "$d/calls" 2>/dev/null)"
}

if command -v cpack >/dev/null && command -v dpkg-deb >/dev/null; then
    if (cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1); then
        deb=$(find "$tmp/pkg" -maxdepth 1 -name '*.deb' | head -n1)
        desc=$(dpkg-deb -f "$deb" Description)
        summary=$(printf '%s\n' "$desc" | head -n1)
        [ "$(printf '%s\n' "$desc" | sed -n 2p | sed 's/^ //')" != "$summary" ] ||
            no "package Description: the summary repeated as the first line of the long text"
        if printf '%s\n' "$desc" | tail -n +2 | grep -q '^  '; then
            no "package Description: lines indented by two spaces (shown verbatim): $(printf '%s\n' "$desc" | grep -c '^  ')"
        fi
        # the MTA's groups: joined by a script the postinst runs, again when an MTA comes later
        # (whole outputs first: grep -q would end the pipe early, a failure under pipefail)
        contents=$(dpkg-deb -c "$deb")
        postinst=$(dpkg-deb -I "$deb" postinst)
        grep -q ' \./usr/libexec/mta-watchdog/join-mta-groups$' <<<"$contents" ||
            no "package: no /usr/libexec/mta-watchdog/join-mta-groups"
        grep -q '^ *[^#]*/usr/libexec/mta-watchdog/join-mta-groups' <<<"$postinst" ||
            no "package: postinst does not run join-mta-groups"
        [ "$(dpkg-deb -I "$deb" triggers | grep -c '^interest-noawait /usr/\(sbin/postqueue\|sbin/exim4\|libexec/sendmail/sendmail\)$')" = 3 ] ||
            no "package: triggers on /usr/sbin/postqueue, /usr/sbin/exim4 and /usr/libexec/sendmail/sendmail missing"
        # any MTA, not Postfix alone; the flush units of Exim and Sendmail, and the examples
        depends=$(dpkg-deb -f "$deb" Depends)
        grep -q '\(^\|, \)default-mta | mail-transport-agent\(,\|$\)' <<<"$depends" ||
            no "package Depends: no 'default-mta | mail-transport-agent' in '$depends'"
        if grep -q 'postfix' <<<"$depends"; then no "package Depends names postfix: '$depends'"; fi
        maintainer=$(dpkg-deb -f "$deb" Maintainer)
        grep -q '^[^<>]*[^ <>] <[^<>@ ]\+@[^<>@ ]\+>$' <<<"$maintainer" ||
            no "package Maintainer is not NAME <ADDRESS>: '$maintainer'"
        if grep -q 'root@localhost' <<<"$maintainer"; then no "package Maintainer is root@localhost"; fi
        flat=$(printf '%s\n' "$desc" | sed 's/^ //' | tr '\n' ' ')
        for w in Postfix 'Exim 4' Sendmail nullmailer OpenSMTPD 'restart through systemd' 'queue flush first' \
                 webhook 'enabled and started on installation'; do
            grep -q "$w" <<<"$flat" || no "package Description does not say '$w'"
        done
        grep -q '^ *deb-systemd-helper enable ' <<<"$postinst" ||
            no "package: postinst does not enable the service with deb-systemd-helper"
        # shellcheck disable=SC2016  # the postinst's own words
        grep -q 'deb-systemd-invoke "\$1" "\$unit"' <<<"$postinst" ||
            no "package: postinst does not start the service with deb-systemd-invoke"
        grep -q '^ *deb-systemd-invoke stop mta-watchdogd.service' <<<"$(dpkg-deb -I "$deb" prerm)" ||
            no "package: prerm does not stop the service"
        grep -q '^ *deb-systemd-helper purge mta-watchdogd.service' <<<"$(dpkg-deb -I "$deb" postrm)" ||
            no "package: postrm purge does not forget the enablement"
        postinst_start_fails "$deb"
        for f in lib/systemd/system/mta-watchdog-exim-flush.service lib/systemd/system/mta-watchdog-sendmail-flush.service \
                 usr/share/doc/mta-watchdog/examples/mta-watchdog-nullmailer.ini \
                 usr/share/doc/mta-watchdog/examples/mta-watchdog-opensmtpd.ini; do
            grep -q " \./$f\$" <<<"$contents" || no "package: no /$f"
        done
    else
        cat "$tmp/cpack.log" >&2
        no "cpack -G DEB failed"
    fi
fi
exit "$bad"
