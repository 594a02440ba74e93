#!/usr/bin/python3
"""The gateway answers pings at once, also while every worker is busy."""
import asyncio
import time

from harness import check, check_request, run, scaled


async def pongs_are_prompt_while_workers_are_busy(h):
    gw = await h.start(workers=[2])
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("b1", "burn", [1500, 1500])
    await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    for i in range(10):
        pong, rtt = await c.ping({"n": i})
        t_last_pong = time.monotonic()
        check(rtt < scaled(0.2), f"pong {i} took {rtt:.3f} s")
        check(pong["data"] == {"n": i}, f"pong does not echo data: {pong}")
        check(pong["workers"] == 1 and pong["queued"] == 0,
              f"both jobs should be running: {pong}")
        check(abs(pong["server_us"] - time.time() * 1e6) < 5e6,
              f"server_us far from wall clock: {pong}")
        await asyncio.sleep(0.05)
    frames = await c.collect("b1", mark)
    check(check_request(frames, 2) == [1500, 1500], f"values: {frames}")
    first_result = min(t for f, t in frames if f["type"] == "result")
    check(first_result > t_last_pong, "the pings were not all sent while "
          "both threads were busy")


async def pong_data_is_any_json_or_absent(h):
    gw = await h.gateway()
    c = await h.client(gw)
    for data in ["x", 0, [1, {"a": None}], False, {"deep": [[[[1]]]]}]:
        pong, _ = await c.ping(data)
        check(pong["data"] == data, f"pong {pong} for {data!r}")
    pong, _ = await c.ping()
    check("data" not in pong, f"pong has data though the ping had none: {pong}")
    check(pong["workers"] == 0 and pong["queued"] == 0, f"idle gateway: {pong}")
    # Fragmented messages are reassembled.
    mark = c.mark()
    await c.send(['{"type":', '"ping","da', 'ta":"frag"}'])
    await c.wait_frame(lambda f: f.get("data") == "frag", mark, what="pong")
    # A ping may carry an id; it is not a request, so ids can repeat.
    for _ in range(2):
        mark = c.mark()
        await c.send({"type": "ping", "id": "same", "data": 1})
        await c.wait_frame(lambda f: f["type"] == "pong", mark, what="pong")


run([pongs_are_prompt_while_workers_are_busy, pong_data_is_any_json_or_absent])
