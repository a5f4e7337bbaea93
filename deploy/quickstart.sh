#!/usr/bin/env bash
# Installs what corecache needs, builds it, and runs the server in the
# foreground on 127.0.0.1:11211 (stop it with Ctrl-C). Extra arguments go
# to corecached, e.g. -m 1024 -t 8 -U 11211 -v; see build/control/corecached --help.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build
fi
ninja -C build
exec build/control/corecached -l 127.0.0.1 -p 11211 "$@"
