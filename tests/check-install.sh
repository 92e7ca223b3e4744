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
#    sendmail is installed later (triggers).
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
