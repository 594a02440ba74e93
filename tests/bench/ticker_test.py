#!/usr/bin/python3
"""bench.ticker (ctest): sluice-bench-ticker, the child websocketd runs in
run.sh's websocketd scenarios, driven directly through its stdin and
stdout: a paced run and a flat-out run produce well-formed result lines
with seq 0, 1, 2, ... and a done line that counts them; hostile start
lines (wrong type, missing or non-numeric fields, values out of range, an
overlong line) get one error line and exit status 2; an idle child (no
start line) exits 0 when stdin closes. No timing is asserted beyond
generous bounds.

Usage: ticker_test.py SLUICE_BENCH_TICKER
"""

import json
import subprocess
import sys
import time

TICKER = sys.argv[1]
failed = passed = 0


def run(stdin, timeout=20):
    return subprocess.run([TICKER], input=stdin, capture_output=True,
                          timeout=timeout)


def check(name, cond, detail=""):
    global failed, passed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def stream(name, start, want_min, want_max):
    t0 = time.time()
    p = run((json.dumps(start) + "\n").encode())
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    res = [l for l in lines if l["type"] == "result"]
    done = [l for l in lines if l["type"] == "done"]
    check(f"{name}: exit 0", p.returncode == 0, p.stderr)
    check(f"{name}: one done line, last", len(done) == 1 and lines[-1] is done[0])
    check(f"{name}: done counts the results", done and done[0]["ok"] == len(res),
          (done, len(res)))
    check(f"{name}: seq 0..n-1 in order", [r["seq"] for r in res] == list(range(len(res))))
    check(f"{name}: {want_min}..{want_max} results", want_min <= len(res) <= want_max,
          len(res))
    check(f"{name}: values of the asked size",
          all(len(json.dumps(r["value"])) == start["bytes"] for r in res))
    now_us = time.time() * 1e6
    check(f"{name}: t_done_us is wall-clock µs",
          all(t0 * 1e6 - 1e6 <= r["t_done_us"] <= now_us + 1e6 for r in res))
    check(f"{name}: cpu_us reported", done and done[0]["cpu_us"] >= 0)


# 100 bursts/s of 3 lines for 300 ms: 30 bursts, 90 lines (timer slack on
# a loaded machine may cost a burst or two at the end, never add one).
stream("paced", {"type": "push", "rate": 100, "burst": 3, "ms": 300, "bytes": 20},
       60, 90)
# Flat out for 100 ms into a pipe that is read as fast as possible.
stream("flat out", {"type": "push", "rate": 0, "burst": 5, "ms": 100, "bytes": 2},
       5, 10 ** 8)

p = run(b"")
check("idle: stdin closed at once -> exit 0, no output",
      p.returncode == 0 and p.stdout == b"", (p.returncode, p.stdout[:100]))

good = {"type": "push", "rate": 10, "burst": 1, "ms": 10, "bytes": 10}
hostile = {
    "not JSON": b"hello\n",
    "wrong type": json.dumps({**good, "type": "submit"}).encode() + b"\n",
    "rate missing": json.dumps({k: v for k, v in good.items() if k != "rate"}).encode() + b"\n",
    "rate negative": json.dumps({**good, "rate": -1}).encode() + b"\n",
    "rate too high": json.dumps({**good, "rate": 1000001}).encode() + b"\n",
    "burst 0": json.dumps({**good, "burst": 0}).encode() + b"\n",
    "burst too high": json.dumps({**good, "burst": 10001}).encode() + b"\n",
    "ms 0": json.dumps({**good, "ms": 0}).encode() + b"\n",
    "bytes 1": json.dumps({**good, "bytes": 1}).encode() + b"\n",
    "bytes too high": json.dumps({**good, "bytes": 65537}).encode() + b"\n",
    "rate not a number": b'{"type":"push","rate":"x","burst":1,"ms":10,"bytes":10}\n',
    "rate overflows": b'{"type":"push","rate":99999999999999999999999,"burst":1,"ms":10,"bytes":10}\n',
    "rate a fraction": b'{"type":"push","rate":1.5,"burst":1,"ms":10,"bytes":10}\n',
    "overlong line": b"{" + b" " * 5000 + b"}\n",
}
for name, line in hostile.items():
    p = run(line, timeout=10)
    out = p.stdout.decode().splitlines()
    try:
        err = json.loads(out[0]) if len(out) == 1 else None
    except ValueError:
        err = None
    check(f"hostile start line ({name}): one error line, exit 2",
          p.returncode == 2 and err and err["type"] == "error"
          and err["code"] == "bad_start", (p.returncode, out[:2]))

print(f"bench.ticker: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
