#!/usr/bin/python3
"""Items of one request run in parallel on every free worker thread."""
import asyncio
import os

from harness import check, check_request, run, scaled


def thread_ticks(pids):
    """{(pid, tid): user + system clock ticks} of every thread of pids."""
    ticks = {}
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            ticks[(pid, tid)] = int(fields[11]) + int(fields[12])
    return ticks


async def windows_with_two_busy(pids, done, window=0.1):
    """Until done is set, look at the workers' threads every window: how
    many windows had two or more threads each using CPU (2 ticks or more)."""
    n, prev = 0, thread_ticks(pids)
    while not done.is_set():
        await asyncio.sleep(window)
        cur = thread_ticks(pids)
        busy = sum(1 for k, v in cur.items() if v - prev.get(k, v) >= 2)
        n += busy >= 2
        prev = cur
    return n


async def check_two_rounds(h, workers):
    gw = await h.start(workers=workers)
    pids = [p.pid for p in h.procs if p is not gw]
    c = await h.client(gw)
    done = asyncio.Event()
    sampler = asyncio.create_task(windows_with_two_busy(pids, done))
    try:
        frames, _ = await c.submit_and_collect("p1", "burn", [600] * 4)
    finally:
        done.set()
    both = await sampler
    check(check_request(frames, 4) == [600] * 4, f"values: {frames}")
    total = frames[-1][1] - frames[0][1]
    # Two threads: two rounds of 600 ms of CPU (~1.2 s); serial is 2.4 s.
    # burn counts CPU time, so on a loaded machine the wall clock
    # stretches: these are only sanity bounds.
    check(total >= 1.1, f"4 x 600 ms on 2 threads took only {total:.3f} s")
    check(total < scaled(10), f"4 x 600 ms on 2 threads took {total:.3f} s")
    # Load-independent: two threads burned CPU at the same time, window
    # after window (about 12 of 0.1 s when the machine is idle, more when
    # it is loaded). One item after another would show at most the 3
    # windows where one item's thread hands over to the next.
    check(both >= 4, f"two threads busy at once in only {both} windows")


async def one_worker_with_two_threads(h):
    await check_two_rounds(h, [2])


async def two_workers_with_one_thread(h):
    await check_two_rounds(h, [1, 1])


run([one_worker_with_two_threads, two_workers_with_one_thread])
