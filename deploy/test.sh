#!/usr/bin/env bash
# Installs what corecache needs, then builds and runs the whole test suite
# three times: a release build (warnings are errors), an address+undefined
# sanitizer build, and a thread-sanitizer build. Ends with one summary line
# "N passed, N failed" and exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

passed=0
failed=0

# run_suite DIR [meson test args] -- [meson setup args]
run_suite() {
  local dir=$1; shift
  local -a setup_args=() test_args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do test_args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  setup_args=("$@")

  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" --werror "${setup_args[@]}" >/dev/null
  else
    meson setup "$dir" --werror "${setup_args[@]}" >/dev/null
  fi
  ninja -C "$dir"
  # A failing test is counted below from the log, not fatal here, so
  # every build still runs.
  meson test -C "$dir" --print-errorlogs --num-processes 1 "${test_args[@]}" || true
  local log="$dir/meson-logs/testlog.json"
  if [ -f "$log" ]; then
    passed=$((passed + $(grep -c '"result": "OK"' "$log" || true)))
    failed=$((failed + $(grep -vc '"result": "\(OK\|SKIP\|EXPECTEDFAIL\)"' "$log" || true)))
  fi
}

run_suite build -- -Dbuildtype=debugoptimized
run_suite build-asan -- -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dbench=disabled
run_suite build-tsan --suite unit -- -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dbench=disabled

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
