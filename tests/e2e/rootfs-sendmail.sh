#!/usr/bin/env bash
# Builds (once) and prints the path of the Sendmail variant of the e2e rootfs: a copy of the
# cached Postfix rootfs (rootfs.sh) with Debian's sendmail-bin installed by apt from the same
# mirror (the one in the base rootfs's sources.list, i.e. this machine's), configured as a
# smarthost client of the sandbox's relay: SMART_HOST `[192.0.2.2]' in /etc/mail/sendmail.mc
# (cf/README "SMART_HOST"), sendmail.cf rebuilt by Debian's sendmailconfig machinery.
# The short test timers are set by guest-setup.sh. The steps every variant shares, and its
# cache key (the base rootfs, rootfs-sendmail-packages.txt, this script and rootfs-variant.sh;
# a change to any of them rebuilds the variant), are in rootfs-variant.sh. Progress goes to
# stderr, the path to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=rootfs-variant.sh
. "$here/rootfs-variant.sh"
variant_begin sendmail Sendmail

# Sendmail wants a fully qualified name for itself; without one it sleeps and retries at
# every start ("My unqualified host name ... unknown"). The sandbox's host name is mta-e2e.
printf '127.0.1.1\tmta-e2e.test mta-e2e\n' >> "$root.tmp/etc/hosts"

# sendmail-bin conflicts with postfix (mail-transport-agent): apt removes it
variant_install

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
variant_complete sendmail.service
