#!/usr/bin/python3
"""Requests share the workers round-robin; workers never exceed capacity."""
from harness import check, check_request, run, scaled


async def small_request_is_not_stuck_behind_big_one(h):
    gw = await h.start(workers=[2])
    a, b = await h.client(gw), await h.client(gw)
    ta = await a.submit("A", "sleep", [300] * 12)
    await a.wait_frame(lambda f: f["type"] == "accepted", what="A accepted")
    tb = await b.submit("B", "sleep", [300] * 3)
    fb = await b.collect("B", timeout=30)
    fa = await a.collect("A", timeout=30)
    check(check_request(fb, 3) == [300] * 3, f"B: {fb}")
    check(check_request(fa, 12) == [300] * 12, f"A: {fa}")
    a_done, b_done = fa[-1], fb[-1]
    # FIFO would finish A (6 rounds) before B starts: B done at ~2.4 s.
    check(b_done[1] < a_done[1], "B finished after A: not interleaved")
    check(b_done[0]["elapsed_ms"] < a_done[0]["elapsed_ms"],
          f"B {b_done[0]} vs A {a_done[0]}")
    check(b_done[1] - tb < scaled(2.0),
          f"B took {b_done[1] - tb:.3f} s after its submit")
    # 12 x 300 ms on 2 threads takes 1.8 s at least: faster means the
    # worker held more jobs than its 2 threads.
    check(a_done[1] - ta >= 1.5, f"A took only {a_done[1] - ta:.3f} s")
    check(a_done[0]["elapsed_ms"] >= 1500, f"A: {a_done[0]}")
    # All 15 items: 4.5 s of sleeping on 2 threads is 2.25 s at least.
    last = max(a_done[1], b_done[1])
    check(last - ta >= 2.1, f"15 x 300 ms on 2 threads took {last - ta:.3f} s")


run([small_request_is_not_stuck_behind_big_one])
