#!/bin/sh
# run.sh: sluice's benchmarks (docs/BENCHMARKS.md) in one run, each
# scenario against fresh servers on free loopback ports, with the same
# client (sluice-bench) for all of them:
#
#   sluice     gateway + sluice-compute workers (echo; JSON and msgpack)
#   websocketd Debian's websocketd 0.4.1 running sluice-bench-ticker per
#              connection: timestamped result lines at the same rate
#              (sluice-bench --push); deploy/dev.sh bench installs it
#   python     py_threadpool_server.py, the thread-pool baseline
#
# with 0 and with 10,000 idle connections open (held by a second
# sluice-bench, --park), then summary.py: issue 18's target table and the
# side-by-side numbers, as markdown. About 6 minutes. Everything it starts
# is stopped by PID.
#
#   tests/bench/run.sh             everything
#   tests/bench/run.sh fwd idle    only those (fwd max cpu fair idle)
#
# Environment: BUILD_DIR (default ./build), OUT (directory for the JSON
# reports and logs; default a new /tmp/sluice-bench.*), SHAPE (worker
# processes x threads for the echo scenarios, 2x16), IDLE (10000),
# WSD_IDLE (idle connections for websocketd: it holds 4 descriptors per
# connection, and about 7 while it is still starting the connection's
# child, so by default an eighth of the open-files limit, at most IDLE). Run nothing else heavy meanwhile: the machine has 2 cores,
# and every report says how busy other processes kept it.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$BENCH_DIR/../.." && pwd)
build=${BUILD_DIR:-$top/build}
BENCH=$build/tests/bench/sluice-bench
TICKER=$build/tests/bench/sluice-bench-ticker
GATEWAY=$build/gateway/sluice-gateway
COMPUTE=$build/compute/sluice-compute
PY=${SLUICE_PYTHON:-/usr/bin/python3}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")}
mkdir -p "$OUT"
LOGDIR=$OUT
SHAPE=${SHAPE:-2x16}
IDLE=${IDLE:-10000}
. "$BENCH_DIR/bench_lib.sh"

for b in "$BENCH" "$TICKER" "$GATEWAY" "$COMPUTE"; do
	[ -x "$b" ] || {
		echo "run.sh: $b missing: build first (cmake --build build)" >&2
		exit 2
	}
done
"$PY" -c 'import websockets' 2>/dev/null || {
	echo "run.sh: $PY lacks websockets (apt-get install python3-websockets)" >&2
	exit 2
}
HAVE_WSD=1
command -v websocketd >/dev/null 2>&1 || {
	HAVE_WSD=0
	echo "run.sh: websocketd is not installed (deploy/dev.sh bench" \
		"installs it): its scenarios are skipped" >&2
}
trap 'stop_all; exit 1' INT TERM

# 10,000 idle connections need as many descriptors in the server: raise
# the soft limit to the hard one; the servers inherit it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
if [ "$nofile" -lt $((IDLE + 200)) ]; then
	echo "run.sh: the open-files limit is $nofile; $IDLE idle connections" \
		"need $((IDLE + 200)): raise it (ulimit -Hn, prlimit," \
		"LimitNOFILE=)" >&2
fi
# websocketd holds a socket and 3 pipes per connection, more while it
# starts the child (it starts ~100 a second on this machine).
auto=$(((nofile - 400) / 8 / 100 * 100))
[ "$auto" -gt "$IDLE" ] && auto=$IDLE
WSD_IDLE=${WSD_IDLE:-$auto}

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

# The loads, the same for every server. fwd: open loop, 10 connections x
# 200 requests/s x 10 items of a 100-byte string = 20,000 results/s, 6 s
# (websocketd: 200 bursts/s of 10 lines per connection). max: closed loop,
# 10 connections x 4 requests of 100 items in flight, 5 s (websocketd:
# the ticker writes line by line as fast as the pipe takes them).
FWD="--conns 10 --rate 200 --items 10 --inflight 64 --item-bytes 100 --duration-ms 6000"
MAX="--conns 10 --inflight 4 --items 100 --item-bytes 100 --duration-ms 5000"
MAXP="--push --conns 10 --rate 0 --items 1 --item-bytes 100 --duration-ms 5000"

# sluice_loads SUFFIX: max and fwd over JSON and msgpack against the
# running gateway ($GW_PORT). The closed-loop max loads go first: an open
# loop that a server cannot keep up with leaves it a backlog that would
# slow whatever runs next.
sluice_loads() {
	w="--gateway-pid $GW_PID --worker-pids $WORKER_PIDS"
	c="--connect 127.0.0.1:$GW_PORT"
	bench "max10$1.sluice" $c $MAX $w
	bench "max10m$1.sluice" $c $MAX --protocol msgpack $w
	bench "fwd$1.sluice" $c $FWD $w &&
		gw_metrics "$GW_PORT" "$OUT/fwd$1.sluice.gwmetrics.json"
	bench "fwdm$1.sluice" $c $FWD --protocol msgpack $w
}

wsd_loads() {
	c="--connect 127.0.0.1:$WSD_PORT --gateway-pid $WSD_PID"
	bench "max$1.websocketd" $c $MAXP
	bench "fwd$1.websocketd" $c --push $FWD
}

py_loads() {
	c="--connect 127.0.0.1:$PYSRV_PORT --gateway-pid $PYSRV_PID"
	bench "max10$1.python" $c $MAX
	bench "fwd$1.python" $c $FWD
}

# children_pss PID N FILE: wait (up to 180 s) until PID (websocketd) has
# N children (it starts them after the handshake, slowly), then save its
# VmRSS and its children's summed PSS as JSON.
children_pss() {
	"$PY" - "$1" "$2" "$3" <<'PY'
import glob, json, sys, time
ppid, want, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def children():
    n = 0
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            n += open(st).read().rsplit(")", 1)[1].split()[1] == ppid
        except (OSError, IndexError):
            pass
    return n
end = time.monotonic() + 180
while children() < want and time.monotonic() < end:
    time.sleep(1)
time.sleep(1)
rss = 0
for line in open(f"/proc/{ppid}/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1])
n = pss = 0
for st in glob.glob("/proc/[0-9]*/stat"):
    try:
        if open(st).read().rsplit(")", 1)[1].split()[1] != ppid:
            continue
        for line in open(st[:-4] + "smaps_rollup"):
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
        n += 1
    except (OSError, IndexError, ValueError):
        pass
json.dump({"children": n, "pss_kib": pss, "parent_rss_kib": rss}, open(out, "w"))
print(f"websocketd: RSS {rss / 1024:.1f} MiB; its {n} children: PSS "
      f"{pss / 1024:.1f} MiB in all")
PY
}

echo "sluice benchmarks: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "open-files limit for the servers: $nofile; idle connections: $IDLE" \
	"(websocketd: $WSD_IDLE); reports in $OUT"
cut -d" " -f1-3 /proc/loadavg >"$OUT/loadavg.start"
echo "load average (1, 5, 15 min): $(cat "$OUT/loadavg.start")"
date -u +%Y-%m-%dT%H:%M:%SZ >"$OUT/started"
git -C "$top" rev-parse --short HEAD >"$OUT/commit" 2>/dev/null

# 1. Forward delay at 20,000 results/s and maximum throughput, no idle
# connections: sluice (JSON, msgpack), websocketd, Python.
if want fwd || want max; then
	start_sluice "$SHAPE" && sluice_loads ""
	stop_all
	if [ $HAVE_WSD = 1 ]; then
		start_websocketd && wsd_loads ""
		stop_all
	fi
	start_pysrv 2 && py_loads ""
	stop_all
fi

# 2. The same loads with IDLE idle connections open to the same server
# (held by a second sluice-bench, which also measures the server's RSS
# with them open: idle.SERVER).
if want idle; then
	start_sluice "$SHAPE" --max-connections $((IDLE + 100)) &&
		start_holder idle.sluice "$GW_PORT" "$GW_PID" "$IDLE" &&
		sluice_loads -idle
	stop_holder
	stop_all
	if [ $HAVE_WSD = 1 ]; then
		start_websocketd &&
			start_holder idle.websocketd "$WSD_PORT" "$WSD_PID" "$WSD_IDLE" &&
			children_pss "$WSD_PID" "$WSD_IDLE" "$OUT/idle.websocketd.children.json" &&
			wsd_loads -idle
		stop_holder
		stop_all
	fi
	start_pysrv 2 && start_holder idle.python "$PYSRV_PORT" "$PYSRV_PID" "$IDLE" &&
		py_loads -idle
	stop_holder
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

cut -d" " -f1-3 /proc/loadavg >"$OUT/loadavg.end"
echo
echo "load average at the end (1, 5, 15 min): $(cat "$OUT/loadavg.end")"
echo
"$PY" "$BENCH_DIR/summary.py" "$OUT"
