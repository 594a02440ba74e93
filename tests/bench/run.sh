#!/bin/sh
# run.sh: sluice's benchmark scenarios (docs/BENCHMARKS.md), each against
# sluice (gateway + sluice-compute workers) and, where it applies, against
# the Python thread-pool baseline (py_threadpool_server.py), on free
# loopback ports. Every scenario is bounded in count and time; the whole
# script takes about 4 minutes. Everything it starts is stopped by PID.
#
#   tests/bench/run.sh             all scenarios, then the summary table
#   tests/bench/run.sh fwd cpu     only those (fwd max cpu fair idle)
#
# Environment: BUILD_DIR (default ./build), OUT (directory for the JSON
# reports and logs; default a new /tmp/sluice-bench.*), SHAPE_FWD /
# SHAPE_MAX (worker processes x threads for the echo scenarios).
# Run nothing else heavy meanwhile: the machine has 2 cores, and the
# report says how busy other processes kept it.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$BENCH_DIR/../.." && pwd)
build=${BUILD_DIR:-$top/build}
BENCH=$build/tests/bench/sluice-bench
GATEWAY=$build/gateway/sluice-gateway
COMPUTE=$build/compute/sluice-compute
PY=${SLUICE_PYTHON:-/usr/bin/python3}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")}
LOGDIR=$OUT
SHAPE_FWD=${SHAPE_FWD:-2x16}
SHAPE_MAX=${SHAPE_MAX:-2x16}
IDLE=10000
. "$BENCH_DIR/bench_lib.sh"

for b in "$BENCH" "$GATEWAY" "$COMPUTE"; do
	[ -x "$b" ] || {
		echo "run.sh: $b missing: build first (cmake --build build)" >&2
		exit 2
	}
done
"$PY" -c 'import websockets' 2>/dev/null || {
	echo "run.sh: $PY lacks websockets (apt-get install python3-websockets)" >&2
	exit 2
}
trap 'stop_all; exit 1' INT TERM

# 10,000 idle connections need as many descriptors in the server: raise
# the soft limit to the hard one; the gateway and workers inherit it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 200)) ]; then
	echo "run.sh: the open-files limit is $(ulimit -n) (hard $(ulimit -Hn));" \
		"the idle scenario needs $((IDLE + 200)): raise it (ulimit -Hn," \
		"prlimit, or LimitNOFILE= for a service)" >&2
fi

ONLY="$*"
want() {
	[ -z "$ONLY" ] && return 0
	for w in $ONLY; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# bench NAME ARGS...: one sluice-bench run, its command echoed exactly,
# its table printed, its JSON kept as $OUT/NAME.json.
bench() {
	name=$1
	shift
	echo
	echo "### $name"
	echo "\$ sluice-bench $*"
	timeout 300 "$BENCH" "$@" --json-out "$OUT/$name.json"
	rc=$?
	[ $rc -eq 0 ] || echo "run.sh: $name: sluice-bench exited $rc"
}

echo "sluice benchmarks: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "open-files limit for the servers: $(ulimit -n); reports in $OUT"
echo "load average (1, 5, 15 min): $(cut -d" " -f1-3 /proc/loadavg)"

# 1. Forward delay at 20,000 results/s: echo of ~100-byte items, open
# loop: 10 connections x 200 requests/s x 10 items, 10 s.
if want fwd; then
	start_sluice "$SHAPE_FWD" && bench fwd.sluice \
		--connect "127.0.0.1:$GW_PORT" --conns 10 --rate 200 --items 10 \
		--inflight 64 --item-bytes 100 --duration-ms 10000 \
		--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS" &&
		gw_metrics "$GW_PORT" "$OUT/fwd.sluice.gwmetrics.json"
	stop_all
	start_pysrv 2 && bench fwd.python \
		--connect "127.0.0.1:$PYSRV_PORT" --conns 10 --rate 200 --items 10 \
		--inflight 64 --item-bytes 100 --duration-ms 10000 \
		--gateway-pid "$PYSRV_PID"
	stop_all
fi

# 2. Maximum throughput of small results, closed loop, to 10 and to 100
# clients (5 s each); then the bench's own cost with jansson for every
# frame, to show what parsing costs the meter; then 10 clients of the
# sluice.msgpack.v1 subprotocol instead of JSON.
if want max; then
	start_sluice "$SHAPE_MAX" && {
		bench max10.sluice --connect "127.0.0.1:$GW_PORT" --conns 10 \
			--inflight 4 --items 100 --item-bytes 100 --duration-ms 5000 \
			--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
		gw_metrics "$GW_PORT" "$OUT/max10.sluice.gwmetrics.json"
		bench max100.sluice --connect "127.0.0.1:$GW_PORT" --conns 100 \
			--inflight 2 --items 50 --item-bytes 100 --duration-ms 5000 \
			--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
		bench max10j.sluice --connect "127.0.0.1:$GW_PORT" --conns 10 \
			--inflight 4 --items 100 --item-bytes 100 --duration-ms 5000 \
			--parser jansson \
			--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
		bench max10m.sluice --connect "127.0.0.1:$GW_PORT" --conns 10 \
			--inflight 4 --items 100 --item-bytes 100 --duration-ms 5000 \
			--protocol msgpack \
			--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
	}
	stop_all
	start_pysrv 2 && {
		bench max10.python --connect "127.0.0.1:$PYSRV_PORT" --conns 10 \
			--inflight 4 --items 100 --item-bytes 100 --duration-ms 5000 \
			--gateway-pid "$PYSRV_PID"
		bench max100.python --connect "127.0.0.1:$PYSRV_PORT" --conns 100 \
			--inflight 2 --items 50 --item-bytes 100 --duration-ms 5000 \
			--gateway-pid "$PYSRV_PID"
	}
	stop_all
fi

# 3. CPU-bound: 8 clients x 25 items of burn 20 ms on 2 compute threads,
# with a ping every 20 ms on each connection all along.
if want cpu; then
	start_sluice 1x2 && bench cpu.sluice --connect "127.0.0.1:$GW_PORT" \
		--conns 8 --items 25 --task burn --item 20 --requests 8 \
		--ping-ms 20 --drain-ms 30000 \
		--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
	stop_all
	start_pysrv 2 && bench cpu.python --connect "127.0.0.1:$PYSRV_PORT" \
		--conns 8 --items 25 --task burn --item 20 --requests 8 \
		--ping-ms 20 --drain-ms 30000 --gateway-pid "$PYSRV_PID"
	stop_all
fi

# 4. Fairness: 12 x sleep 300 ms on one connection, 3 x 300 ms on a second
# one 10 ms later, 2 compute threads.
if want fair; then
	start_sluice 1x2 && bench fair.sluice --connect "127.0.0.1:$GW_PORT" \
		--conns 2 --items 12,3 --task sleep --item 300 --requests 2 \
		--stagger-ms 10 --drain-ms 30000 \
		--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
	stop_all
	start_pysrv 2 && bench fair.python --connect "127.0.0.1:$PYSRV_PORT" \
		--conns 2 --items 12,3 --task sleep --item 300 --requests 2 \
		--stagger-ms 10 --drain-ms 30000 --gateway-pid "$PYSRV_PID"
	stop_all
fi

# 5. 10,000 idle WebSocket connections: the server's RSS with all of them
# open (plus one connection running one echo request).
if want idle; then
	# --max-connections: the default (1024) would refuse most of them;
	# the gateway lowers it again if its descriptors cannot hold that
	# many (GW-FDS in its log).
	start_sluice 1x1 --max-connections $((IDLE + 100)) && {
		echo "gateway pid $GW_PID: $(prlimit --pid "$GW_PID" --nofile \
			--output RESOURCE,SOFT,HARD --noheadings 2>/dev/null)"
		bench idle.sluice --connect "127.0.0.1:$GW_PORT" --idle $IDLE \
			--conns 1 --items 1 --requests 1 --idle-hold-ms 2000 \
			--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
	}
	stop_all
	# The same echo load as max10, with the 10,000 idle connections
	# open: what many idle clients cost the busy ones.
	start_sluice "$SHAPE_MAX" --max-connections $((IDLE + 100)) &&
		bench idleload.sluice \
		--connect "127.0.0.1:$GW_PORT" --idle $IDLE --conns 10 \
		--inflight 4 --items 100 --item-bytes 100 --duration-ms 5000 \
		--idle-hold-ms 1000 \
		--gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS"
	stop_all
	start_pysrv 2 && bench idle.python --connect "127.0.0.1:$PYSRV_PORT" \
		--idle $IDLE --conns 1 --items 1 --requests 1 --idle-hold-ms 2000 \
		--gateway-pid "$PYSRV_PID"
	stop_all
fi

echo
"$PY" "$BENCH_DIR/summary.py" "$OUT"
