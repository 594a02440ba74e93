#!/usr/bin/python3
"""Items of one request run in parallel on every free worker thread."""
from harness import check, check_request, run, scaled


async def check_two_rounds(h, workers):
    gw = await h.start(workers=workers)
    c = await h.client(gw)
    frames, _ = await c.submit_and_collect("p1", "burn", [600] * 4)
    check(check_request(frames, 4) == [600] * 4, f"values: {frames}")
    t_accepted, t_done = frames[0][1], frames[-1][1]
    total = t_done - t_accepted
    # Two threads: two rounds of 600 ms of CPU (~1.2 s); serial is 2.4 s.
    # burn counts CPU time, so on a loaded machine the wall clock
    # stretches: the upper bound here is only a sanity bound, and the
    # pairing check below is what tells parallel from serial.
    check(total >= 1.1, f"4 x 600 ms on 2 threads took only {total:.3f} s")
    check(total < scaled(10), f"4 x 600 ms on 2 threads took {total:.3f} s")
    # Load-independent: results come in pairs, one per round.
    t = [ft for f, ft in frames if f["type"] == "result"]
    within, between = t[1] - t[0], t[2] - t[1]
    check(within < between / 2,
          f"results not in pairs: {within:.3f} s within, {between:.3f} s between")


async def one_worker_with_two_threads(h):
    await check_two_rounds(h, [2])


async def two_workers_with_one_thread(h):
    await check_two_rounds(h, [1, 1])


run([one_worker_with_two_threads, two_workers_with_one_thread])
