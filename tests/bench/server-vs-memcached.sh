#!/usr/bin/env bash
# corecached against memcached 1.6, side by side in one run: each server
# gets one worker thread (-t 1) pinned with taskset to the same core, and
# memcaslap drives it from another core (90% get, 10% set, 1 kB values).
#
#   (a) light load, which both servers keep up with: the server's CPU time
#       per request (utime + stime from /proc/<pid>/stat, over the
#       requests it counted in `stats` cmd_get + cmd_set). A fixed rate
#       would be better, but memcaslap's --tps (-P) does not hold one in
#       this build (-P 5k gave 34k to 53k requests/s), so (a) is a fixed
#       small concurrency (4 requests in flight) for a fixed time;
#   (b) saturation (64 in flight): requests per second, and CPU time per
#       request there. With two CPUs, memcaslap's own core may be the
#       limit: the figures say which server answers faster, not the most
#       either can do.
#
# A benchmark, not a test: it never fails for being slow, and it is not
# part of the test suite. Takes about a minute and a half. Ends with one
# line:
#   server cpu_us_per_req=X memcached_cpu_us_per_req=X cpu_ratio=X ops=X
#   memcached_ops=X ops_ratio=X
# where cpu_us_per_req is from (a), ops from (b), and each ratio is
# corecached's figure over memcached's.
#
# Usage: tests/bench/server-vs-memcached.sh [CORECACHED [MEMCACHED]]
#   CORECACHED defaults to build/control/corecached, MEMCACHED to memcached
#   on PATH. SECONDS_EACH (length of each run, default 15) may be set in
#   the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

corecached=${1:-build/control/corecached}
memcached=${2:-$(command -v memcached || true)}
seconds=${SECONDS_EACH:-15}

for tool in memcaslap taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
[ -x "$corecached" ] || { echo "bench: no corecached at $corecached (build first)" >&2; exit 1; }
[ -n "$memcached" ] && [ -x "$memcached" ] || { echo "bench: memcached not found" >&2; exit 1; }

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
  server_cpu=0 client_cpu=1
else
  server_cpu=0 client_cpu=0
  echo "bench: one CPU only: server and client share it, figures are rough"
fi
hz=$(getconf CLK_TCK)

# calc EXPR: floating-point arithmetic (awk, so no bc needed).
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# A free TCP port on 127.0.0.1 (bound to 0 and read back, never 11211).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# stats_sum PORT: cmd_get + cmd_set as the server counts them.
stats_sum() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"stats\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
st = dict(l.split(" ")[1:3] for l in buf.decode().split("\r\n") if l.startswith("STAT "))
print(int(st["cmd_get"]) + int(st["cmd_set"]))
EOF
}

# cpu_ticks PID: utime + stime of the whole process.
cpu_ticks() {
  awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

wait_ready() {
  for _ in $(seq 100); do
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "bench: server on port $1 did not start" >&2
  return 1
}

pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

# run_load PORT PID [memcaslap args]: one memcaslap run; prints
# "requests cpu_seconds elapsed_seconds".
run_load() {
  local port=$1 p=$2; shift 2
  local r0 c0 t0 r1 c1 t1
  r0=$(stats_sum "$port"); c0=$(cpu_ticks "$p"); t0=$(date +%s.%N)
  taskset -c "$client_cpu" memcaslap -s "127.0.0.1:$port" -T 1 -t "${seconds}s" "$@" >/dev/null
  r1=$(stats_sum "$port"); c1=$(cpu_ticks "$p"); t1=$(date +%s.%N)
  echo "$((r1 - r0)) $(calc "($c1 - $c0) / $hz") $(calc "$t1 - $t0")"
}

# bench_server NAME CMD...: prints "cpu_us_fixed ops_sat cpu_us_sat".
bench_server() {
  local name=$1; shift
  local port fixed sat
  port=$(free_port)
  taskset -c "$server_cpu" "$@" -l 127.0.0.1 -p "$port" -U 0 -t 1 -m 1024 \
    >/dev/null 2>&1 &
  pid=$!
  wait_ready "$port"
  # Warm up: fill the key space so gets hit.
  taskset -c "$client_cpu" memcaslap -s "127.0.0.1:$port" -T 1 -c 16 -t 3s >/dev/null
  fixed=$(run_load "$port" "$pid" -c 4)
  sat=$(run_load "$port" "$pid" -c 64)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  read -r fr fc fe <<<"$fixed"
  read -r sr sc se <<<"$sat"
  local cpu_fixed ops_sat cpu_sat
  cpu_fixed=$(calc "$fc * 1000000 / $fr")
  ops_sat=$(calc "$sr / $se")
  cpu_sat=$(calc "$sc * 1000000 / $sr")
  printf '%-10s (a) light load: %.0f req/s, %.3f us cpu/req (%.0f%% of a core)\n' \
    "$name" "$(calc "$fr / $fe")" "$cpu_fixed" "$(calc "$fc * 100 / $fe")" >&2
  printf '%-10s (b) saturation: %.0f req/s, %.3f us cpu/req (%.0f%% of a core)\n' \
    "$name" "$ops_sat" "$cpu_sat" "$(calc "$sc * 100 / $se")" >&2
  echo "$cpu_fixed $ops_sat $cpu_sat"
}

echo "bench: server on cpu $server_cpu, memcaslap on cpu $client_cpu, ${seconds}s per run" >&2
mc_args=("$memcached")
[ "$(id -u)" -eq 0 ] && mc_args+=(-u root)
read -r mc_cpu mc_ops _ <<<"$(bench_server memcached "${mc_args[@]}")"
read -r cc_cpu cc_ops _ <<<"$(bench_server corecached "$corecached" --no-pin)"

printf 'server cpu_us_per_req=%.3f memcached_cpu_us_per_req=%.3f cpu_ratio=%.3f ops=%.0f memcached_ops=%.0f ops_ratio=%.3f\n' \
  "$cc_cpu" "$mc_cpu" "$(calc "$cc_cpu / $mc_cpu")" \
  "$cc_ops" "$mc_ops" "$(calc "$cc_ops / $mc_ops")"
