#!/usr/bin/env bash
# Installs everything corecache's build, tests and benchmarks need on Debian 12.
# Idempotent and non-interactive: packages already present are left alone, and
# the package index is refreshed only when something is missing.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  libdpdk-dev dpdk dpdk-dev
  liburing-dev libjemalloc-dev libcmocka-dev libnuma-dev libxxhash-dev
  libinih-dev
  clang libclang-rt-14-dev
  memcached libmemcached-tools python3-pymemcache
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian's memcached package starts a memcached on 127.0.0.1:11211, the port
# corecached serves by default. The tests start their own memcached as a
# reference, so the packaged service is stopped and kept off.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled memcached >/dev/null 2>&1; then
  $sudo systemctl disable --now memcached >/dev/null 2>&1 || true
fi
# Debian's prometheus package likewise starts a server (on :9090) that
# scrapes itself; the exporter's tests and deploy/prometheus.yml run their
# own, so the packaged one is stopped and kept off (promtool is what the
# tests need from it).
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled prometheus >/dev/null 2>&1; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
