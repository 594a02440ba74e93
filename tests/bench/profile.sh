#!/bin/sh
# profile.sh: where the gateway's CPU goes on the worker -> gateway ->
# client path. Starts a gateway and workers on free loopback ports, drives
# them with sluice-bench (echo, closed loop, 10 connections, 8 s) and
# samples the gateway with `perf record --call-graph dwarf` for 5 s of that, then prints
# the hottest symbols (self time) and the callers of the top ones.
# Needs linux-perf (deploy/dev.sh installs it).
#
#   tests/bench/profile.sh [SHAPE]     SHAPE = workers x threads (2x8)
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$BENCH_DIR/../.." && pwd)
build=${BUILD_DIR:-$top/build}
BENCH=$build/tests/bench/sluice-bench
GATEWAY=$build/gateway/sluice-gateway
COMPUTE=$build/compute/sluice-compute
PY=${SLUICE_PYTHON:-/usr/bin/python3}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sluice-profile.XXXXXX")}
LOGDIR=$OUT
. "$BENCH_DIR/bench_lib.sh"
command -v perf >/dev/null || {
	echo "profile.sh: perf missing (apt-get install linux-perf)" >&2
	exit 2
}
trap 'stop_all; exit 1' INT TERM

start_sluice "${1:-2x8}" || { stop_all; exit 1; }
"$BENCH" --connect "127.0.0.1:$GW_PORT" --conns 10 --inflight 4 \
	--items 100 --item-bytes 100 --duration-ms 8000 \
	--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS" \
	>"$OUT/bench.txt" 2>&1 &
bench_pid=$!
sleep 2
perf record -F 1000 --call-graph dwarf,16384 -p "$GW_PID" -o "$OUT/perf.data" -- sleep 5 \
	>"$OUT/perf-record.log" 2>&1
wait $bench_pid
stop_all
cat "$OUT/bench.txt"
echo
echo "== gateway, self time by symbol (perf report --no-children)"
perf report -i "$OUT/perf.data" --no-children --stdio --percent-limit 1.5 \
	--sort symbol -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
echo
echo "== gateway, by shared object"
perf report -i "$OUT/perf.data" --no-children --stdio --sort dso -g none \
	2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
echo
echo "== gateway, inclusive time of sluice's own functions"
perf report -i "$OUT/perf.data" --children --stdio --sort symbol -g none \
	2>/dev/null | grep -E '\b(gw_|sl_|s_)[a-z_]+' | head -25
echo "perf data: $OUT/perf.data"
