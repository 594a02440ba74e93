#!/bin/sh
# bench.websocketd (ctest): run.sh's websocketd scenarios in small:
# Debian's websocketd runs sluice-bench-ticker per connection on a free
# loopback port; a parked sluice-bench holds 20 idle connections
# (--park) while another reads pushed lines (--push) for 2 s at a rate,
# then 1 s flat out. Passes if both exit 0 (nothing lost, out of order,
# refused or dropped) and their JSON is sane. No timing is asserted.
# websocketd is not a test dependency (it is in deploy/dev.sh's
# BENCH_PKGS): without it the test is skipped (exit 77) with the reason.
#
# Usage: websocketd_smoke.sh SLUICE_BENCH SLUICE_BENCH_TICKER [PYTHON]
set -u
BENCH=$1 TICKER=$2
PY=${3:-/usr/bin/python3}
if ! command -v websocketd >/dev/null 2>&1; then
	echo "bench.websocketd: skipped: websocketd is not installed" \
		"(deploy/dev.sh bench installs it; it is no test dependency)"
	exit 77
fi
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-wsd.XXXXXX")
LOGDIR=$OUT
. "$BENCH_DIR/bench_lib.sh"

fail() {
	echo "bench.websocketd: FAIL: $*"
	for f in "$OUT"/*.log "$OUT"/*.txt; do
		[ -s "$f" ] && { echo "---- $f"; tail -n 20 "$f"; }
	done
	stop_all
	echo "bench.websocketd: 0 passed, 1 failed"
	exit 1
}
trap 'stop_all; exit 1' INT TERM

start_websocketd || fail "websocketd did not start"
start_holder idle "$WSD_PORT" "$WSD_PID" 20 || fail "the holder did not park"
for mode in paced flat; do
	case $mode in
	paced) load="--rate 100 --items 5 --duration-ms 2000" ;;
	flat) load="--rate 0 --items 1 --duration-ms 1000" ;;
	esac
	"$BENCH" --connect "127.0.0.1:$WSD_PORT" --push --conns 2 $load \
		--item-bytes 100 --gateway-pid "$WSD_PID" \
		--json-out "$OUT/$mode.json" >"$OUT/$mode.txt" 2>&1 ||
		fail "sluice-bench --push ($mode) exited $?"
	"$PY" - "$OUT/$mode.json" $mode <<'PY' || fail "implausible $mode report"
import json, sys
r = json.load(open(sys.argv[1]))
it = r["items"]
assert r["ok"] is True and r["push"]["on"], r
assert r["push"]["open"] == 0 and r["push"]["misordered"] == 0, r["push"]
assert it["lost"] == 0 and it["results"] == it["submitted"] > 0, it
assert r["requests"]["done"] == 2 and r["connections"]["ok"] == 2, r
s = r["forward_delay_us"]
assert s["n"] == it["results"] and 0 <= s["p50"] <= s["p99"] <= s["max"], s
if sys.argv[2] == "paced":
    # 2 connections x 100 bursts/s x 5 lines x 2 s, less timer slack
    assert 1500 <= it["results"] <= 2000, it
assert r["workers_cpu_pct"] > 0 and r["gateway"]["cpu_pct"] >= 0, r
print(f"bench.websocketd: {sys.argv[2]}: {it['results']} results at "
      f"{r['results_per_s']:.0f}/s, 0 lost, forward delay p99 {s['p99']} us")
PY
done
stop_holder
"$PY" - "$OUT/idle.json" <<'PY' || fail "implausible holder report"
import json, sys
r = json.load(open(sys.argv[1]))
c = r["connections"]
assert r["ok"] is True, r
assert c["idle_ok"] == 20 and c["idle_failed"] == 0 and c["idle_lost"] == 0, c
assert r["gateway"]["rss_end_kib"] > 0, r["gateway"]
print("bench.websocketd: the parked holder kept its 20 idle connections")
PY
[ $? -eq 0 ] || fail "holder report"
stop_all
rm -rf "$OUT"
echo "bench.websocketd: 1 passed, 0 failed"
