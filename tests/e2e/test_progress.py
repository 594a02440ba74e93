#!/usr/bin/python3
"""Inside an item (PROTOCOL.md revision 7): progress frames before the
result and never after it, dropped first for a client that does not read;
partial values all delivered, in order, before the result, with other
items' results in between; a worker killed mid-item makes the item start
again elsewhere, which the client is told (restart), with one result."""
import asyncio
import json
import socket
import time

import websockets

from harness import check, check_request, metric, run, scaled

MIB = 1 << 20


def item_frames(c, mark, req_id, seq=0):
    return [f for f, _ in c.since(mark, req_id) if f.get("seq") == seq]


async def burn_reports_progress_then_its_result(h):
    gw = await h.start()  # --progress-ms 100 by default
    c = await h.client(gw)
    mark = c.mark()
    frames, _ = await c.submit_and_collect("b1", "burn", [1500], timeout=20)
    check(check_request(frames, 1) == [1500], f"{frames}")
    mine = item_frames(c, mark, "b1")
    kinds = [f["type"] for f in mine]
    result_at = kinds.index("result")
    progress = [f for f in mine[:result_at] if f["type"] == "progress"]
    check(len(progress) >= 5, f"{len(progress)} progress frames: {mine}")
    values = [f["progress"] for f in progress]
    check(all(0 <= v <= 1 for v in values), f"out of 0..1: {values}")
    check(all(a < b for a, b in zip(values, values[1:])),
          f"not increasing: {values}")
    # none after the result, even a while later
    await asyncio.sleep(scaled(0.5))
    check("progress" not in kinds[result_at:]
          and len(item_frames(c, mark, "b1")) == len(mine),
          f"after the result: {item_frames(c, mark, 'b1')[result_at:]}")
    check(await metric(gw.port, "sluice_progress_frames_total") >= 5,
          "progress frames not counted")


async def progress_ms_0_sends_none(h):
    gw = await h.start("--progress-ms", "0")
    c = await h.client(gw)
    mark = c.mark()
    frames, _ = await c.submit_and_collect("b0", "sleep", [400])
    check(check_request(frames, 1) == [400], f"{frames}")
    check(not [f for f, _ in c.since(mark) if f["type"] == "progress"],
          f"progress with --progress-ms 0: {c.since(mark)}")


async def partials_arrive_in_order_with_other_results_between(h):
    gw = await h.start(workers=(2,))
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("p1", "partials", [{"n": 1000, "ms": 1500}])
    await c.submit("r1", "sleep", [200, 200, 200])
    await c.collect("p1", mark, timeout=30)
    await c.collect("r1", mark, timeout=30)
    frames = c.since(mark)
    check(check_request([x for x in frames if x[0].get("id") == "p1"], 1)
          == [1000], "p1")
    check(check_request([x for x in frames if x[0].get("id") == "r1"], 3)
          == [200] * 3, "r1")
    order = [(i, f) for i, (f, _) in enumerate(frames)]
    parts = [(i, f) for i, f in order
             if f["id"] == "p1" and f["type"] == "partial"]
    check([f["index"] for _, f in parts] == list(range(1000)),
          f"indexes: {[f['index'] for _, f in parts][:20]}...")
    check(all(f["value"] == f["index"] and f["seq"] == 0
              and "restart" not in f for _, f in parts), "partial values")
    result_at = next(i for i, f in order
                     if f["id"] == "p1" and f["type"] == "result")
    check(parts[-1][0] < result_at, "a partial after the result")
    between = [f for i, f in order if f["id"] == "r1"
               and f["type"] == "result" and parts[0][0] < i < parts[-1][0]]
    check(len(between) == 3, f"r1's results were not interleaved with "
                             f"p1's partials: {len(between)} between")
    check(await metric(gw.port, "sluice_partial_frames_total") == 1000,
          "partial frames not counted")


async def a_killed_worker_restarts_the_item_and_says_so(h):
    gw = await h.gateway()
    a = h.worker(gw, 1)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("k1", "partials", [{"n": 1000, "ms": 4000}])
    await c.wait_frame(lambda f: f["type"] == "partial"
                       and f["index"] >= 200, mark, timeout=20)
    h.worker(gw, 1)
    await h.wait_workers(gw, 2)
    a.kill()  # kill -9 mid-item
    frames = await c.collect("k1", mark, timeout=40)
    check(check_request(frames, 1) == [1000], f"{frames[-3:]}")
    parts = [f for f, _ in frames if f["type"] == "partial"]
    restarts = [i for i, f in enumerate(parts) if f.get("restart")]
    check(len(restarts) == 1, f"restart flags at {restarts}")
    k = restarts[0]
    check(k >= 201 and [f["index"] for f in parts[:k]] == list(range(k)),
          f"first attempt: {[f['index'] for f in parts[:k]][-5:]}")
    check([f["index"] for f in parts[k:]] == list(range(1000)),
          f"second attempt: {[f['index'] for f in parts[k:]][:5]}")
    results = [f for f, _ in frames if f["type"] == "result"]
    check(len(results) == 1 and "restart" not in results[0], f"{results}")


async def a_client_that_does_not_read_loses_progress_not_partials(h):
    gw = await h.gateway("--max-out-bytes", str(64 * MIB))
    h.worker(gw, 1)
    await h.wait_workers(gw, 1)
    # A small receive buffer and a one-message queue: not reading holds
    # the gateway back at once.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.connect(("127.0.0.1", gw.port))
    sock.setblocking(False)
    ws = await asyncio.wait_for(websockets.connect(
        gw.url, sock=sock, compression=None, max_size=None, max_queue=1),
        scaled(10))
    n = 100000  # ~7 MB of partial frames: more than socket buffers hold
    await ws.send(json.dumps({"type": "submit", "id": "s1",
                              "task": "partials",
                              "items": [{"n": n, "ms": 2000}]}))
    await asyncio.sleep(scaled(3))  # not reading while the item runs
    frames = []
    while True:
        f = json.loads(await asyncio.wait_for(ws.recv(), scaled(30)))
        frames.append((f, time.monotonic()))
        if f["type"] == "done" or (f["type"] == "error" and "seq" not in f):
            break
    check(check_request(frames, 1) == [n], f"{[f for f, _ in frames[-3:]]}")
    parts = [f["index"] for f, _ in frames if f["type"] == "partial"]
    check(parts == list(range(n)), f"{len(parts)} partials")
    dropped = await metric(gw.port, "sluice_progress_dropped_total")
    check(dropped > 0, "no progress frame was dropped")
    await ws.close()


run([burn_reports_progress_then_its_result,
     progress_ms_0_sends_none,
     partials_arrive_in_order_with_other_results_between,
     a_killed_worker_restarts_the_item_and_says_so,
     a_client_that_does_not_read_loses_progress_not_partials])
