#!/usr/bin/env bash
# The demo: installs the dependencies, builds mta-watchdogd, boots a throwaway container
# (systemd as PID 1, real Postfix, a relay in its own network namespace, a webhook
# receiver) and plays the failure this project exists for, printing a timeline:
#
#   1. the link to the relay goes down, 20 messages are queued and deferred;
#   2. Postfix's qmgr is frozen (SIGSTOP): the process lives, the unit is "active";
#   3. the link comes back, but the queue does not move;
#   4. mta-watchdogd sees reachability up + no progress, restarts Postfix through
#      systemd's D-Bus API, the queue drains, the alerts tell the story; the timeline
#      runs until the queue has drained and the `recovered` alert has arrived.
#
# Exit status 0 when Postfix was really healed (the checks of
# tests/e2e/scenario-01-stuck.sh, which this runs), non-zero otherwise.
# Needs root (systemd-nspawn). Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root: it boots a container with systemd-nspawn" >&2
    exit 2
fi

echo "== dependencies"
bash scripts/deps.sh

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTA_WATCHDOG_TESTS=OFF -DMTA_WATCHDOG_SANITIZE=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build -j2 >/dev/null
build/mta-watchdogd --version
(cd build && cpack -G DEB >/dev/null && echo "package: build/$(ls mta-watchdog_*.deb)")

echo "== sandbox (first run builds the Debian rootfs, a few minutes)"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_boot

cat <<'EOF'
== the stuck-MTA scenario
   relay 192.0.2.2:25 (smtp-sink, netns "relay")  <-- veth-mta -->  Postfix (postfix@-.service)
   mta-watchdogd.service probes the relay and the queue every 2s and posts alerts to
   the receiver on 127.0.0.1:9000. It is installed from the .deb and runs as the
   unprivileged user mta-watchdog. Each timeline line: link state, queued messages,
   messages the relay received, Postfix master PID, watchdog unit state; below it what
   the watchdog logged and the alerts that arrived since the line before. Under the
   first line comes the watchdog's journal so far: its start by the package at install
   time with the shipped configuration (every 10s, no receiver; a relay probe may fail
   while the sandbox is still being set up), stopped again, then its start with this
   demo's configuration (every 2s, 1 receiver).
EOF
export E2E_TIMELINE=1 E2E_TIMELINE_EVERY=${E2E_TIMELINE_EVERY:-4}
rc=0
e2e_run_child bash tests/e2e/scenario-01-stuck.sh || rc=$?

echo "== alerts received"
paste -d' ' <(events --field time) <(events --field event) <(events --field summary) | sed 's/^/   /'
if [ "$rc" -eq 0 ]; then
    # scenario-01's wait_healed: the queue empty, then the recovered alert at the receiver;
    # the timeline's last line shows that state, and the alerts up to recovered under it
    echo "== healed: Postfix restarted once by mta-watchdogd; the timeline ran until the queue had drained"
    echo "   (all 20 messages at the relay) and the recovered alert had arrived"
else
    echo "== NOT healed (see the reasons above)"
fi
exit "$rc"
