#!/usr/bin/env bash
# Installs what corecache needs, then builds and runs the whole test suite
# three times: a release build (warnings are errors), an address+undefined
# sanitizer build, and a thread-sanitizer build; then fuzzes the protocol
# layer in a fourth, clang build. Ends with one summary line
# "N passed, N failed" and exits non-zero if anything failed.
#
# The release build runs the unit tests, the integration tests against
# corecached (suite 'integration') and against memcached 1.6 (suite
# 'memcached', which shows the tests themselves are right), and the
# differential test (suite 'differential': one random stream to corecached
# and to memcached, replies compared). The sanitizer build runs the unit,
# integration and differential tests, so real clients drive corecached
# under ASan+UBSan (a leak or UB report makes the daemon
# exit non-zero, which fails the test). The thread-sanitizer build runs the
# unit tests. Each libFuzzer target runs FUZZ_SECONDS (default 30) from its
# seed corpus; a crash, leak or hang is one failed test.
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

# run_fuzz DIR: the libFuzzer targets (tests/fuzz), built by clang with
# every library instrumented for coverage and sanitized.
run_fuzz() {
  local dir=$1 seconds=${FUZZ_SECONDS:-30} t work
  local -a setup_args=(--werror -Dfuzz=enabled -Dbuildtype=debugoptimized
    -Db_sanitize=address,undefined -Db_lundef=false -Dbench=disabled
    "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined")

  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "${setup_args[@]}" >/dev/null
  else
    CC=clang meson setup "$dir" "${setup_args[@]}" >/dev/null
  fi
  ninja -C "$dir" tests/fuzz/fuzz_text tests/fuzz/fuzz_meta tests/fuzz/fuzz_udp \
    tests/fuzz/fuzz_packet
  for t in text meta udp packet; do
    # New inputs go to a scratch corpus; the seed corpus is only read.
    work="$dir/fuzz-$t"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$dir/tests/fuzz/fuzz_$t" "$work/corpus" "tests/fuzz/corpus/$t" \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1; then
      passed=$((passed + 1))
      echo "fuzz_$t: OK, $(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log") runs," \
        "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")/s"
    else
      failed=$((failed + 1))
      echo "fuzz_$t: FAILED (inputs in $work/artifacts)"
      tail -n 60 "$work/log"
    fi
  done
}

run_suite build -- -Dbuildtype=debugoptimized
run_suite build-asan --no-suite memcached -- -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dbench=disabled
run_suite build-tsan --suite unit -- -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dbench=disabled
run_fuzz build-fuzz

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
