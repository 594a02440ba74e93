#!/bin/sh
# bench.smoke (ctest): sluice-bench for ~2 s against a real gateway and one
# worker on free loopback ports: echo, 2 connections, pings, once over
# JSON and once over sluice.msgpack.v1, while a second, parked bench
# (--park, as run.sh's idle scenarios use it) holds 20 idle connections.
# Passes if the benches exit 0 (nothing lost, refused, failed or dropped)
# and their JSON is sane.
# No timing is asserted: speed is measured (run.sh), not tested.
#
# Usage: smoke.sh SLUICE_BENCH SLUICE_GATEWAY SLUICE_COMPUTE [PYTHON]
set -u
BENCH=$1 GATEWAY=$2 COMPUTE=$3
PY=${4:-/usr/bin/python3}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-smoke.XXXXXX")
OUT=$LOGDIR
. "$BENCH_DIR/bench_lib.sh"

fail() {
	echo "bench.smoke: FAIL: $*"
	for f in "$LOGDIR"/*.log; do
		[ -s "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
	done
	stop_all
	echo "bench.smoke: 0 passed, 1 failed"
	exit 1
}
trap 'stop_all; exit 1' INT TERM

"$PY" -c 'import websockets' 2>/dev/null ||
	fail "$PY cannot import websockets (install python3-websockets)"
start_sluice 1x2 || fail "gateway or worker did not start"
start_holder idle "$GW_PORT" "$GW_PID" 20 || fail "the idle holder did not park"
for proto in json msgpack; do
"$BENCH" --connect "127.0.0.1:$GW_PORT" --conns 2 --items 10 --inflight 2 \
	--item-bytes 100 --duration-ms 2000 --drain-ms 20000 --ping-ms 100 \
	--protocol $proto --gateway-pid "$GW_PID" --worker-pids "$WORKER_PIDS" \
	--json-out "$LOGDIR/smoke-$proto.json" ||
	fail "sluice-bench --protocol $proto exited $?"
"$PY" - "$LOGDIR/smoke-$proto.json" $proto <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1]))
want = {"json": "fast", "msgpack": "msgpack"}[sys.argv[2]]
assert r["bench"]["parser"] == want, r["bench"]
assert r["bench"]["unparsed"] == 0, r["bench"]
it, rq = r["items"], r["requests"]
assert r["ok"] is True, r
assert it["lost"] == 0 and it["item_errors"] == 0 and it["refused"] == 0, it
assert it["results"] == it["submitted"] > 0, it
assert rq["done"] == rq["submitted"] > 0 and rq["refused"] == 0, rq
assert r["connections"]["ok"] == 2 and r["connections"]["failed"] == 0, r
for k in ("forward_delay_us", "item_latency_us"):
    s = r[k]
    assert s["n"] == it["results"], (k, s)
    assert 0 <= s["p50"] <= s["p99"] <= s["max"], (k, s)
assert r["ping_rtt_us"]["n"] > 0 and r["pings"]["answered"] > 0, r["pings"]
assert r["results_per_s"] > 0 and r["gateway"]["rss_end_kib"] > 0, r
print(f"bench.smoke: {sys.argv[2]}: {it['results']} results at "
      f"{r['results_per_s']:.0f}/s, 0 lost, forward delay p99 "
      f"{r['forward_delay_us']['p99']} us")
PY
	fail "implausible $proto report"
done
stop_holder
"$PY" - "$LOGDIR/idle.json" <<'PY' || fail "implausible holder report"
import json, sys
r = json.load(open(sys.argv[1]))
c = r["connections"]
assert r["ok"] is True and r["conns"] == 0, r
assert c["idle_ok"] == 20 and c["idle_failed"] == 0 and c["idle_lost"] == 0, c
assert r["gateway"]["rss_end_kib"] > 0, r
print("bench.smoke: the parked holder kept its 20 idle connections")
PY
stop_all
rm -rf "$LOGDIR"
echo "bench.smoke: 1 passed, 0 failed"
