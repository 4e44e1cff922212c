#!/usr/bin/env bash
# Installs braid's build, test and demo dependencies (Debian/Ubuntu).
# Idempotent: safe to run again. Works as root; uses sudo otherwise.
# Set BRAID_SETUP_FORCE=1 to run apt-get even when everything is installed.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git clang-format clang libclang-rt-14-dev
  libasio-dev libssl-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libtomlplusplus-dev libsqlite3-dev libcpp-httplib-dev libcurl4-openssl-dev libpugixml-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 gnuplot-nox iproute2 curl aria2 axel nginx-light lighttpd ca-certificates openssl time ffmpeg
  help2man etcd-server etcd-client prometheus-cpp-dev prometheus chromium-headless-shell dpkg-dev fakeroot
  systemd man-db adduser  # the package test: systemd-analyze, man, the braid user
)

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo env DEBIAN_FRONTEND=noninteractive)
else
  echo "setup.sh: not root and sudo is not available" >&2
  exit 1
fi

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ] && [ "${BRAID_SETUP_FORCE:-0}" != "1" ]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "setup.sh: installing: ${missing[*]:-(forced) ${PACKAGES[*]}}"

# Servers the tests start themselves (web servers, etcd, prometheus): one that the install starts as
# a daemon (port 80) is stopped again, if this install started it. Best
# effort, never fatal.
daemons=(nginx lighttpd etcd prometheus)
declare -A package=([nginx]=nginx-light [lighttpd]=lighttpd [etcd]=etcd-server [prometheus]=prometheus)
declare -A was_there
for d in "${daemons[@]}"; do
  was_there[$d]=0
  if is_installed "${package[$d]}" || pgrep -x "$d" >/dev/null 2>&1; then
    was_there[$d]=1
  fi
done

"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}"

for d in "${daemons[@]}"; do
  if [ "${was_there[$d]}" -eq 0 ] && pgrep -x "$d" >/dev/null 2>&1; then
    echo "setup.sh: stopping the $d daemon started by the install"
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      "${SUDO[@]}" systemctl stop "$d" >/dev/null 2>&1 || true
    fi
    "${SUDO[@]}" pkill -x "$d" >/dev/null 2>&1 || true
  fi
done

echo "setup.sh: done"
