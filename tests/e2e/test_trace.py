#!/usr/bin/python3
"""Where an item's time went (PROTOCOL.md revision 7): a traceparent given
with submit, or made by the gateway without one, is named in accepted and
in the gateway's and the worker's log lines of every item; with timing, a
result and a worker's item error say how long the item waited in the
gateway's queue (queue_us), on the worker before its task started
(start_us), how long the task ran (run_us), which worker ran it and after
how many attempts; a malformed traceparent is refused."""
import asyncio
import json
import os
import re
import sys
import time

from harness import (Proc, check, check_request, log_events, run, scaled,
                     wait_log)

try:
    import msgpack
    import zmq
except ImportError as e:
    print(f"e2e: cannot import zmq/msgpack ({e}); install python3-zmq "
          "python3-msgpack", file=sys.stderr)
    sys.exit(1)

from test_msgpack_ws import msgpack_client, no_junk  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "deploy", "examples")
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TP_RE = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
TIMES = ("queue_us", "start_us", "run_us")


DEBUG = ("--log-level", "debug")  # every item's lines, both programs


def lines_with(proc, event, trace):
    lines, _ = log_events(proc, event)
    return [x for x in lines if f"trace={trace}" in x]


def check_timing(frames, t_sent, workers=("w1",), attempts=1):
    """Every result of a request submitted with timing says where its
    time went, and the parts fit in what the client measured."""
    for f, t in frames:
        if f["type"] not in ("result", "error") or "seq" not in f:
            continue
        latency_us = (t - t_sent) * 1e6
        for k in TIMES + ("t_done_us", "cpu_us"):
            check(isinstance(f.get(k), int) and f[k] >= 0, f"{k}: {f}")
        total = f["queue_us"] + f["start_us"] + f["run_us"]
        check(total <= latency_us,
              f"queue+start+run {total} us > latency {latency_us:.0f} us: {f}")
        check(f["worker"] in workers, f"worker {f.get('worker')!r}: {f}")
        check(f["attempts"] == attempts, f"attempts: {f}")


async def given_traceparent_is_in_both_logs_for_each_item(h):
    gw = await h.gateway(*DEBUG)
    w = h.worker(gw, 2, *DEBUG)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    t0 = time.monotonic()  # before the send: its answer may come first
    await c.send({"type": "submit", "id": "t1", "task": "sleep",
                       "items": [30, 60, 10, 40], "timing": True,
                       "traceparent": TP})
    frames = await c.collect("t1", mark)
    check_request(frames, 4)
    check(frames[0][0].get("traceparent") == TP, f"{frames[0][0]}")
    check_timing(frames, t0)
    runs = sorted(f["run_us"] for f, _ in frames if f["type"] == "result")
    check(runs[0] >= 10000 and runs[-1] >= 60000, f"run_us {runs}")
    # Every item's dispatch and result at the gateway, its start and end
    # at the worker, each name the trace; so does the accept.
    await wait_log(w, "JOB-END")
    check(len(lines_with(gw, "REQ-ACCEPT", TP)) == 1, gw.log())
    for proc, event in ((gw, "JOB-SENT"), (gw, "JOB-DONE"),
                        (w, "JOB-START"), (w, "JOB-END")):
        deadline = time.monotonic() + scaled(5)
        while len(lines_with(proc, event, TP)) < 4 \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        got = lines_with(proc, event, TP)
        check(len(got) == 4, f"{event} lines with the trace: {got}\n"
                             f"{proc.log()[-3000:]}")
    # Without timing, none of it in results.
    out = await c.submit_and_collect("t2", "echo", [1])
    res = [f for f, _ in out[0] if f["type"] == "result"]
    check(res and not any(k in res[0] for k in TIMES + ("worker",)),
          f"{res}")


async def without_one_the_gateway_makes_one(h):
    gw = await h.gateway(*DEBUG)
    w = h.worker(gw, 1, *DEBUG)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    seen = set()
    for req in ("a", "b"):
        frames, _ = await c.submit_and_collect(req, "echo", [1, 2])
        check_request(frames, 2)
        tp = frames[0][0].get("traceparent")
        check(isinstance(tp, str) and TP_RE.match(tp)
              and tp[3:35] != "0" * 32, f"accepted: {frames[0][0]}")
        seen.add(tp)
        await wait_log(w, f"trace={tp}")
        check(len(lines_with(gw, "JOB-SENT", tp)) == 2, gw.log())
        deadline = time.monotonic() + scaled(5)
        while len(lines_with(w, "JOB-START", tp)) < 2 \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        check(len(lines_with(w, "JOB-START", tp)) == 2, w.log())
    check(len(seen) == 2, f"two requests, one trace: {seen}")


async def msgpack_clients_and_producers_get_the_same(h):
    gw = await h.start()
    c = await msgpack_client(h, gw)
    mark = c.mark()
    t0 = time.monotonic()  # before the send: its answer may come first
    await c.send({"type": "submit", "id": "m", "task": "burn",
                       "items": [5, 5], "timing": True, "traceparent": TP})
    frames = await c.collect("m", mark)
    check_request(frames, 2)
    check(frames[0][0].get("traceparent") == TP, f"{frames[0][0]}")
    check_timing(frames, t0)
    no_junk(c)
    # a producer: same fields in its msgpack maps
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(gw.producers)
    try:
        t0 = time.monotonic()
        s.send(msgpack.packb({"type": "submit", "id": "p", "task": "echo",
                              "items": [1], "timing": True,
                              "traceparent": TP}))
        got = []
        while not got or got[-1][0]["type"] != "done":
            check(s.poll(scaled(10) * 1000), f"producer got {got}")
            got.append((msgpack.unpackb(s.recv()), time.monotonic()))
        check(got[0][0].get("traceparent") == TP, f"{got}")
        check_timing(got, t0)
        s.send(msgpack.packb({"type": "submit", "id": "p2", "task": "echo",
                              "items": [1], "traceparent": TP.upper()}))
        check(s.poll(scaled(10) * 1000), "no answer to a bad traceparent")
        err = msgpack.unpackb(s.recv())
        check(err["type"] == "error" and err["code"] == "bad_message"
              and "traceparent" in err["message"], f"{err}")
    finally:
        s.close(0)


async def a_requeued_item_counts_two_attempts(h):
    gw = await h.gateway(*DEBUG)
    w1 = h.worker(gw, 1, *DEBUG)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    t0 = time.monotonic()  # before the send: its answer may come first
    await c.send({"type": "submit", "id": "k", "task": "sleep",
                       "items": [1500], "timing": True, "traceparent": TP})
    await wait_log(w1, f"trace={TP}")  # JOB-START: it runs on w1
    w1.kill()  # SIGKILL mid-item: the gateway requeues the job
    h.worker(gw, 1, *DEBUG)
    frames = await c.collect("k", mark, timeout=30)
    out = check_request(frames, 1)
    check(out == [1500], f"{out}")
    res = [f for f, _ in frames if f["type"] == "result"][0]
    check(res["attempts"] == 2 and res["worker"] == "w2", f"{res}")
    check_timing(frames, t0, workers=("w2",), attempts=2)
    requeues = lines_with(gw, "JOB-REQUEUE", TP)
    check(len(requeues) == 1 and "worker=w1" in requeues[0]
          and "lost=crashed" in requeues[0], f"{requeues}\n{gw.log()}")


async def an_older_worker_leaves_start_and_run_out(h):
    gw = await h.gateway()
    pw = Proc("pyworker", [sys.executable, os.path.join(EXAMPLES, "worker.py"),
                           "--gateway", gw.endpoint],
              h._log_path("pyworker"))
    h.procs.append(pw)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    await c.send({"type": "submit", "id": "o", "task": "upper",
                  "items": ["a", 7], "timing": True})
    frames = await c.collect("o", mark)
    check_request(frames, 2)
    items = [f for f, _ in frames if f["type"] in ("result", "error")]
    for f in items:  # its RESULT has cpu_us and t_done_us only
        check("start_us" not in f and "run_us" not in f, f"{f}")
        check(f["queue_us"] >= 0 and f["attempts"] == 1
              and f["worker"] == "w1" and "cpu_us" in f, f"{f}")
    check(any(f["type"] == "error" for f in items), f"{items}")
    await h.stop(pw)


BAD = [
    (TP + "0", "55 characters"),
    (TP[:-1], "55 characters"),
    ("", "55 characters"),
    (TP.replace("4bf92f", "4bf92g"), "trace-id"),
    (TP.upper(), "trace-id"),
    ("00-" + "0" * 32 + TP[35:], "all zeros"),
    (TP[:36] + "0" * 16 + "-01", "all zeros"),
    ("01" + TP[2:], "version 00"),
    (TP.replace("-", "_"), "'-'"),
    (42, "must be a string"),
    (None, "must be a string"),
    ([TP], "must be a string"),
]


async def malformed_traceparents_are_refused(h):
    gw = await h.start()
    c = await h.client(gw)
    for i, (tp, why) in enumerate(BAD):
        mark = c.mark()
        await c.send({"type": "submit", "id": f"b{i}", "task": "echo",
                      "items": [1], "traceparent": tp})
        err, _ = await c.wait_frame(
            lambda f: f.get("id") == f"b{i}", mark, what=f"answer to {tp!r}")
        check(err["type"] == "error" and "seq" not in err
              and err["code"] == "bad_message"
              and '"traceparent"' in err["message"]
              and why in err["message"], f"{tp!r}: {err}")
    # the connection is fine, and nothing was started
    check(await c.run("echo", [5]) == [5], "after the refusals")
    pong, _ = await c.ping()
    check(pong["queued"] == 0 and pong["running"] == 0, f"{pong}")


async def sluice_submit_timing_prints_where_time_went(h):
    gw = await h.start()
    submit = os.path.join(os.path.dirname(h.gateway_bin), "sluice-submit")
    r = h.run_cli(submit, "--gateway", gw.producers, "--timing",
                  "--traceparent", TP, "echo", "1", "2", timeout=20)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    check(f"traceparent {TP}" in r.stderr, f"{r.stderr!r}")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    check(len(lines) == 2 and all(
        all(k in f for k in TIMES + ("worker", "attempts")) for f in lines),
        f"{r.stdout}")
    r = h.run_cli(submit, "--gateway", gw.producers, "--traceparent",
                  TP.upper(), "echo", "1", timeout=20)
    check(r.returncode == 3 and "traceparent" in r.stderr,
          f"exit {r.returncode}: {r.stderr}")
    # without --timing: the lines as before, no traceparent on stderr
    r = h.run_cli(submit, "--gateway", gw.producers, "echo", "1", timeout=20)
    check(r.returncode == 0 and "queue_us" not in r.stdout
          and "traceparent" not in r.stderr, f"{r.stdout} {r.stderr}")


if __name__ == "__main__":
    run([given_traceparent_is_in_both_logs_for_each_item,
         without_one_the_gateway_makes_one,
         msgpack_clients_and_producers_get_the_same,
         a_requeued_item_counts_two_attempts,
         an_older_worker_leaves_start_and_run_out,
         malformed_traceparents_are_refused,
         sluice_submit_timing_prints_where_time_went])
