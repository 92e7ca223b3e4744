#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs the unit
# tests under AddressSanitizer + UndefinedBehaviorSanitizer and the short fuzz
# run, then the end-to-end scenarios against real systemd and real MTAs (Postfix,
# Exim, Sendmail, nullmailer) in containers.
# Usage: scripts/test.sh [--unit-only]
set -euo pipefail
cd "$(dirname "$0")/.."

unit_only=no
[ "${1:-}" = "--unit-only" ] && unit_only=yes

bash scripts/deps.sh

echo "== unit tests (ASan + UBSan)"
cmake -S . -B build-asan -DMTA_WATCHDOG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure)

echo "== fuzz targets (libFuzzer, short fixed run)"
bash scripts/fuzz.sh

[ "$unit_only" = yes ] && exit 0

echo "== end-to-end (systemd-nspawn: Postfix, Exim, Sendmail, nullmailer, zero-configuration, direct delivery)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTA_WATCHDOG_TESTS=OFF -DMTA_WATCHDOG_SANITIZE=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
# The sandboxes install what an admin installs: this package, or `cmake --install build`.
(cd build && cpack -G DEB >/dev/null && ls mta-watchdog_*.deb)
bash tests/e2e/run.sh
