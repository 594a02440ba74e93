#!/usr/bin/python3
"""Results stream one by one, as each item is computed."""
from harness import check, check_request, run, scaled


async def results_stream_as_items_finish(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    frames, t0 = await c.submit_and_collect("r1", "burn", [400, 400, 400])
    check(check_request(frames, 3) == [400, 400, 400], f"values: {frames}")
    results = [(f, t) for f, t in frames if f["type"] == "result"]
    check([f["seq"] for f, _ in results] == [0, 1, 2],
          f"one thread runs items in order: {[f for f, _ in results]}")
    times = [t for _, t in results]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g >= 0.25 for g in gaps),
          f"results arrived bunched, gaps {[round(g, 3) for g in gaps]} s")
    check(frames[-1][1] - t0 < scaled(10), "request took over 10 s")


run([results_stream_as_items_finish])
