#!/usr/bin/env bash
# Installs the Debian 12 packages that the build, the tests and the
# end-to-end sandbox need. Idempotent; run as root.
set -euo pipefail

pkgs=(
  # build
  build-essential cmake pkg-config
  libsystemd-dev libcurl4-openssl-dev libinih-dev libjansson-dev libssl-dev
  libdb-dev               # Berkeley DB 5.3: Exim's retry hints database (probes/exim.c)
  libc-ares-dev           # c-ares: the dns and tcp probes' lookups (probes/dns-client.c)
  # unit tests
  libcmocka-dev
  groff-base              # tests/check-docs.sh formats the man pages
  systemd-journal-remote  # tests/test-journal.c writes real journal files with it
  # fuzz targets (scripts/fuzz.sh): clang and its libFuzzer runtime (libclang_rt.fuzzer)
  clang libclang-rt-14-dev
  # end-to-end sandbox: systemd as PID 1 in a container, Debian rootfs
  systemd-container debootstrap iproute2 util-linux
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
