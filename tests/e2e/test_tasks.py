#!/usr/bin/python3
"""Each task computes what it should; values map back by seq. Items of a
task no worker runs end as unknown_task after --unknown-task-ms."""
import asyncio
import json
import time

from harness import check, check_request, run, scaled, wait_log

SHA256 = {
    "abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


def same(a, b):
    """Equal as JSON: False is not 0, 1.0 is not 1."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


async def every_task_computes_its_value(h):
    gw = await h.start(workers=[2])
    c = await h.client(gw)
    cases = [
        ("primes", [10, 100, 1000, 1000000, 0, 1, 2], [4, 25, 168, 78498, 0, 0, 1]),
        ("sha256", list(SHA256), list(SHA256.values())),
        ("echo", [{"a": [1, 2.5, "x", None, True]}, "", -7, False, [], {}],
         [{"a": [1, 2.5, "x", None, True]}, "", -7, False, [], {}]),
        ("sleep", [100], [100]),
        ("burn", [0, 20], [0, 20]),
    ]
    for task, items, want in cases:
        got = await c.run(task, items)
        check(same(got, want), f"{task} {items}: got {got}, want {want}")


async def echo_keeps_values_exact(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    items = ["é ✓ 😀", 2**53, -2**63, 2**63 - 1, 0.1, 1e300, {"k": {"l": [[[]]]}},
             "x" * 10000]
    got = await c.run("echo", items)
    check(same(got, items), f"echo changed values: {got}")


async def metrics_text(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Connection: close\r\n\r\n")
    body = await asyncio.wait_for(r.read(), scaled(10))
    w.close()
    return body.decode()


async def items_of_a_task_no_worker_runs_end_as_unknown_task(h):
    """Submitted before any worker, for a task the worker that then
    registers does not run: the items end as unknown_task after
    --unknown-task-ms, instead of waiting forever."""
    gw = await h.gateway("--unknown-task-ms", "1500")
    c = await h.client(gw)
    mark = c.mark()
    t0 = await c.submit("n1", "nosuchtask", [1, 2, 3])
    acc, _ = await c.wait_frame(lambda f: f["type"] == "accepted", mark,
                                what="accepted")
    check(acc["workers"] == 0, f"{acc}")
    h.worker(gw, 1)  # runs the built-in tasks only
    await h.wait_workers(gw, 1)
    frames = await c.collect("n1", mark, timeout=15)
    waited = frames[-1][1] - t0
    out = check_request(frames, 3)
    check(all(e["code"] == "unknown_task" and "nosuchtask" in e["message"]
              for e in out), f"{out}")
    check(waited >= 1.4, f"ended after {waited:.2f} s, before the wait")
    await wait_log(gw, "REQ-NOTASK req=n1")
    check('sluice_items_total{outcome="unknown_task"} 3'
          in await metrics_text(gw.port), "metric")
    # the connection and the worker go on serving
    check(await c.run("echo", [7]) == [7], "echo after unknown_task")


async def worker_with_the_task_arriving_in_time_runs_it(h):
    gw = await h.gateway("--unknown-task-ms", str(int(scaled(8000))))
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("a1", "echo", [1, 2])
    await c.wait_frame(lambda f: f["type"] == "accepted", mark,
                       what="accepted")
    await asyncio.sleep(0.5)  # scenario: the worker comes a little later
    h.worker(gw, 1)
    frames = await c.collect("a1", mark, timeout=20)
    check(check_request(frames, 2) == [1, 2], f"{frames}")
    check("REQ-NOTASK" not in gw.log(), "ended though a worker came")


run([every_task_computes_its_value, echo_keeps_values_exact,
     items_of_a_task_no_worker_runs_end_as_unknown_task,
     worker_with_the_task_arriving_in_time_runs_it])
