# Shared by run.sh, smoke.sh and profile.sh (sourced, POSIX sh): start a
# gateway, workers or the Python baseline on free loopback ports, wait until
# they serve, stop exactly the PIDs started here.
#
# Needs: PY (Debian's python3 with python3-websockets), LOGDIR.

PY=${PY:-/usr/bin/python3}
STARTED=""   # every PID this script started, newest last
# Children get SIGKILL if this shell dies (ctest timeout, kill -9): nothing
# outlives a run.
DIE_WITH_US=""
command -v setpriv >/dev/null 2>&1 && DIE_WITH_US="setpriv --pdeathsig KILL"
GW_PID="" GW_PORT="" GW_ZMQ="" WORKER_PIDS="" PYSRV_PID="" PYSRV_PORT=""
WSD_PID="" WSD_PORT="" HOLDER_PID=""

# free_port [N]: N (default 1) different free loopback ports, one a line
# (all held open until printed, so the kernel cannot give one out twice).
free_port() {
	"$PY" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "${1:-1}"
}

# Is this PID still running (a zombie child counts as gone)?
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)
	[ "$state" != Z ]
}

# stop_pid PID: SIGTERM, up to 15 s for it to exit, then SIGKILL.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	n=0
	while alive "$1" && [ $n -lt 150 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if alive "$1"; then
		echo "bench: pid $1 ignored SIGTERM for 15 s; SIGKILL" >&2
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null || true
}

# stop_all: everything started here, newest first (workers before their
# gateway, so they leave with BYE).
stop_all() {
	for p in $(echo $STARTED | tr ' ' '\n' | sed '1!G;h;$!d'); do
		stop_pid "$p"
	done
	STARTED="" GW_PID="" WORKER_PIDS="" PYSRV_PID="" WSD_PID="" HOLDER_PID=""
}

# wait_ready PORT WORKERS: ping until the server says WORKERS are
# registered (15 s at most).
wait_ready() {
	"$PY" - "$1" "$2" <<'PY'
import asyncio, json, sys, time
import websockets

async def main(port, want):
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
                while time.monotonic() < end:
                    await ws.send('{"type":"ping"}')
                    while True:
                        f = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if f.get("type") == "pong":
                            break
                    if f.get("workers", 0) >= want:
                        return 0
                    await asyncio.sleep(0.05)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
            await asyncio.sleep(0.05)
    print(f"bench: server on port {port} not ready with {want} workers",
          file=sys.stderr)
    return 1

sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]))))
PY
}

# start_sluice "WxT" [gateway options...]: a gateway on free ports plus W
# workers of T threads each; sets GW_PID, GW_PORT, WORKER_PIDS (a,b,...).
start_sluice() {
	shape=$1
	shift
	nw=${shape%x*}
	nt=${shape#*x}
	ports=$(free_port 2)
	GW_PORT=$(echo "$ports" | sed -n 1p)
	GW_ZMQ="tcp://127.0.0.1:$(echo "$ports" | sed -n 2p)"
	# --producers none: the default port would collide between runs.
	# Every bench client comes from 127.0.0.1 (the idle scenario opens
	# 10,000 connections): no per-address cap (default 256) here.
	$DIE_WITH_US "$GATEWAY" --listen "127.0.0.1:$GW_PORT" --workers "$GW_ZMQ" \
		--producers none --max-connections-per-address 1000000 \
		--log-level warn "$@" >>"$LOGDIR/gateway.log" 2>&1 &
	GW_PID=$!
	STARTED="$STARTED $GW_PID"
	WORKER_PIDS=""
	i=0
	while [ $i -lt "$nw" ]; do
		$DIE_WITH_US "$COMPUTE" --gateway "$GW_ZMQ" --threads "$nt" --log-level warn \
			>>"$LOGDIR/compute.log" 2>&1 &
		STARTED="$STARTED $!"
		WORKER_PIDS="$WORKER_PIDS${WORKER_PIDS:+,}$!"
		i=$((i + 1))
	done
	wait_ready "$GW_PORT" "$nw"
}

# start_pysrv THREADS: the Python thread-pool baseline; sets PYSRV_PID,
# PYSRV_PORT.
start_pysrv() {
	PYSRV_PORT=$(free_port)
	$DIE_WITH_US "$PY" "$BENCH_DIR/py_threadpool_server.py" \
		--listen "127.0.0.1:$PYSRV_PORT" --threads "$1" \
		>>"$LOGDIR/pysrv.log" 2>&1 &
	PYSRV_PID=$!
	STARTED="$STARTED $PYSRV_PID"
	wait_ready "$PYSRV_PORT" 1
}

# gw_metrics PORT FILE: the gateway's own sluice_forward_delay_seconds
# histogram (result at the gateway -> written to the client socket), read
# from /metrics: count, mean and the bucket bound under which each
# percentile falls, printed and saved as JSON in FILE.
gw_metrics() {
	"$PY" - "$1" "$2" <<'PY'
import json, sys, urllib.request
port, out = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}/metrics"
text = urllib.request.urlopen(url, timeout=5).read().decode()
buckets, total, count = [], 0.0, 0.0
for line in text.splitlines():
    name, _, value = line.rpartition(" ")
    if name.startswith("sluice_forward_delay_seconds_bucket"):
        le = name.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(value)))
    elif name == "sluice_forward_delay_seconds_sum":
        total = float(value)
    elif name == "sluice_forward_delay_seconds_count":
        count = float(value)
r = {"count": int(count), "mean_us": total / count * 1e6 if count else 0}
for key, q in (("p50", .5), ("p90", .9), ("p99", .99), ("p99_9", .999)):
    le = next((b for b, c in sorted(buckets) if c >= q * count), None)
    r[key + "_le_us"] = None if le in (None, float("inf")) else le * 1e6
json.dump(r, open(out, "w"))
print(f"gateway /metrics forward delay (result in -> written to client): "
      f"n={r['count']} mean={r['mean_us']:.0f} us, p50 <= {r['p50_le_us']} us, "
      f"p99 <= {r['p99_le_us']} us, p99.9 <= {r['p99_9_le_us']} us")
PY
}

# wait_port PORT: until something accepts TCP connections there (15 s).
wait_port() {
	"$PY" - "$1" <<'PY'
import socket, sys, time
end = time.monotonic() + 15
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
print(f"bench: nothing listens on port {sys.argv[1]}", file=sys.stderr)
sys.exit(1)
PY
}

# start_websocketd: Debian's websocketd on a free port, running TICKER
# (sluice-bench-ticker) for every connection; sets WSD_PID, WSD_PORT.
start_websocketd() {
	WSD_PORT=$(free_port)
	$DIE_WITH_US websocketd --port="$WSD_PORT" --address=127.0.0.1 \
		--loglevel=fatal "$TICKER" >>"$LOGDIR/websocketd.log" 2>&1 &
	WSD_PID=$!
	STARTED="$STARTED $WSD_PID"
	wait_port "$WSD_PORT"
}

# start_holder NAME PORT SERVER_PID N: a second sluice-bench that opens N
# idle connections to PORT, measures SERVER_PID's RSS with them open and
# parks (keeps them open) until stop_holder; its report goes to
# $OUT/NAME.json. Waits (up to 300 s: a busy server may accept 10,000
# connections slowly) until it has parked; sets HOLDER_PID.
start_holder() {
	rm -f "$OUT/$1.ready"
	$DIE_WITH_US "$BENCH" --connect "127.0.0.1:$2" --conns 0 --idle "$4" \
		--idle-hold-ms 2000 --connect-timeout-ms 300000 \
		--park --ready-file "$OUT/$1.ready" \
		--gateway-pid "$3" --json-out "$OUT/$1.json" \
		>"$OUT/$1.txt" 2>&1 &
	HOLDER_PID=$!
	STARTED="$STARTED $HOLDER_PID"
	n=0
	while [ ! -f "$OUT/$1.ready" ] && alive "$HOLDER_PID" && [ $n -lt 3100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -f "$OUT/$1.ready" ] && return 0
	echo "bench: the idle holder $1 did not park (see $OUT/$1.txt)" >&2
	return 1
}

# stop_holder: close the holder's connections; it prints its report
# (idle connections the server dropped meanwhile count as lost).
stop_holder() {
	[ -n "${HOLDER_PID:-}" ] || return 0
	stop_pid "$HOLDER_PID"
	STARTED=$(echo $STARTED | tr ' ' '\n' | grep -vx "$HOLDER_PID" | tr '\n' ' ')
	HOLDER_PID=""
}
