#!/usr/bin/env bash
# Installs what corecache needs, builds it, and runs the main job. Until the
# server lands that is the engine benchmark (corecache-bench engine); extra
# arguments go to it, e.g. --items 1000000.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build
fi
ninja -C build
exec build/corecache-bench engine "$@"
