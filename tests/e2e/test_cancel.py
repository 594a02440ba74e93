#!/usr/bin/python3
"""Requests that end early (cancel, disconnect, timeout_ms) free their
workers at once; pings stay prompt; SIGTERM drains, then closes with 1001."""
import asyncio
import time

from harness import check, check_request, run, scaled, wait_log, wait_pong


async def start(h, threads, *gw_args):
    gw = await h.gateway(*gw_args)
    h.worker(gw, threads)
    await h.wait_workers(gw, 1)
    return gw


async def idle_within(c, seconds, what):
    """Poll until nothing runs or waits, for at most seconds (scaled)."""
    await wait_pong(c, lambda p: p["running"] == 0 and p["queued"] == 0,
                    timeout=seconds, what=what)


async def cancel_frees_the_workers(h):
    gw = await start(h, 2)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("c1", "sleep", [3000] * 4)
    await c.wait_frame(lambda f: f["type"] == "accepted", mark,
                       what="accepted")
    await wait_pong(c, lambda p: p["running"] == 2 and p["queued"] == 2,
                    what="2 running, 2 queued")
    t_cancel = await c.send({"type": "cancel", "id": "c1"})
    frames = await c.collect("c1", mark)
    kinds = [f["type"] for f, _ in frames
             if f["type"] != "progress"]  # revision 7's hints
    check(kinds == ["accepted", "done"], f"frames after cancel: {frames}")
    done, t_done = frames[-1]
    check(done["ok"] == 0 and done["failed"] == 0 and done["cancelled"] == 4,
          f"{done}")
    check(t_done - t_cancel < scaled(1), f"done {t_done - t_cancel:.2f} s "
                                         f"after the cancel")
    # The workers got CANCEL: their threads are free within a slice.
    await idle_within(c, 1, "running 0 and queued 0 after the cancel")
    frames, t0 = await c.submit_and_collect("c2", "sleep", [100, 100])
    check(check_request(frames, 2) == [100, 100], f"{frames}")
    check(frames[-1][1] - t0 < scaled(1), "the workers are still busy")
    # Nothing more arrived for the cancelled request.
    mine = [f for f, _ in c.since(mark, "c1")]
    late = mine[[f["type"] for f in mine].index("done") + 1:]
    check(not late, f"frames after done: {late}")


async def cancel_of_unknown_id_is_refused(h):
    gw = await start(h, 1)
    c = await h.client(gw)
    frames, _ = await c.submit_and_collect("done1", "echo", [1])
    check(check_request(frames, 1) == [1], f"{frames}")
    # Never submitted, and finished: neither can be cancelled.
    for req_id in ("nosuch", "done1"):
        mark = c.mark()
        await c.send({"type": "cancel", "id": req_id})
        err, _ = await c.wait_frame(lambda f: f["type"] == "error", mark,
                                    what="error")
        check(err["code"] == "unknown_id" and err.get("id") == req_id
              and "seq" not in err, f"{err}")
    check(await c.run("echo", [2]) == [2], "connection still usable")


async def disconnect_frees_the_workers(h):
    gw = await start(h, 2)
    gone = await h.client(gw)
    c = await h.client(gw)
    mark = gone.mark()
    await gone.submit("x1", "sleep", [5000] * 4)
    await gone.wait_frame(lambda f: f["type"] == "accepted", mark,
                          what="accepted")
    await wait_pong(c, lambda p: p["running"] == 2, what="2 running")
    await gone.close()
    await idle_within(c, 1, "running 0 after the disconnect")
    frames, t0 = await c.submit_and_collect("x2", "sleep", [100, 100])
    check(check_request(frames, 2) == [100, 100], f"{frames}")
    check(frames[-1][1] - t0 < scaled(1), "the workers are still busy")


async def timeout_ends_items(h):
    gw = await start(h, 1)
    c = await h.client(gw)
    mark = c.mark()
    t0 = await c.send({"type": "submit", "id": "t1", "task": "burn",
                       "items": [3000], "timeout_ms": 300})
    frames = await c.collect("t1", mark, timeout=5)
    out = check_request(frames, 1)
    check(isinstance(out[0], dict) and out[0]["code"] == "timeout",
          f"{frames}")
    done, t_done = frames[-1]
    check(done["ok"] == 0 and done["failed"] == 1 and "cancelled" not in done,
          f"{done}")
    check(0.3 <= t_done - t0 < scaled(1), f"done {t_done - t0:.2f} s after "
                                          f"the submit (timeout_ms 300)")
    await idle_within(c, 1, "running 0 after the timeout")
    # Queued items time out too; a request that ends in time is untouched.
    mark = c.mark()
    await c.send({"type": "submit", "id": "t2", "task": "sleep",
                  "items": [3000] * 3, "timeout_ms": 400})
    await c.send({"type": "submit", "id": "t3", "task": "sleep",
                  "items": [50], "timeout_ms": 60000})
    frames = await c.collect("t2", mark, timeout=5)
    out = check_request(frames, 3)
    check(all(isinstance(o, dict) and o["code"] == "timeout" for o in out),
          f"{frames}")
    check(frames[-1][0]["failed"] == 3, f"{frames[-1][0]}")
    frames = await c.collect("t3", mark, timeout=5)
    check(check_request(frames, 1) == [50], f"{frames}")
    await idle_within(c, 1, "idle after t3")


async def pings_are_prompt_while_threads_burn(h):
    gw = await start(h, 2)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("b1", "burn", [2000, 2000])
    await wait_pong(c, lambda p: p["running"] == 2, what="both burning")
    for i in range(10):
        pong, rtt = await c.ping({"i": i})
        check(rtt < scaled(0.5), f"ping {i}: round trip {rtt:.3f} s")
        check(pong["data"] == {"i": i} and pong["running"] == 2, f"{pong}")
        skew = abs(pong["server_us"] / 1e6 - time.time())
        check(isinstance(pong["server_us"], int) and skew < 5,
              f"server_us {pong['server_us']} is {skew:.1f} s off")
        await asyncio.sleep(0.05)
    check(not any(f["type"] == "result" for f, _ in c.since(mark)),
          "the pings were not all sent while both threads burned")
    frames = await c.collect("b1", mark)
    check(check_request(frames, 2) == [2000, 2000], f"{frames}")


async def sigterm_drains_then_closes_with_1001(h):
    gw = await start(h, 3)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("s1", "sleep", [800, 800])
    await c.submit("s2", "sleep", [2000])  # keeps it draining
    await wait_pong(c, lambda p: p["running"] == 3, what="3 running")
    stopping = asyncio.create_task(h.stop(gw))  # SIGTERM, expects exit 0
    await asyncio.sleep(0)
    # Right after the signal: refused, unless it was read before the
    # gateway saw the signal (then it runs like the others).
    await c.submit("s3", "echo", [3])
    await wait_log(gw, "GW-DRAIN")
    await c.submit("s4", "echo", [4])  # certainly after: refused
    err, _ = await c.wait_frame(lambda f: f.get("id") == "s4", mark,
                                what="s4")
    check(err["type"] == "error" and err["code"] == "shutting_down"
          and "seq" not in err, f"submit while draining: {err}")
    s3, _ = await c.wait_frame(lambda f: f.get("id") == "s3", mark, what="s3")
    check(s3["type"] == "accepted" or s3.get("code") == "shutting_down",
          f"{s3}")
    for req_id, items in (("s1", [800, 800]), ("s2", [2000])):
        frames = await c.collect(req_id, mark)
        check(check_request(frames, len(items)) == items, f"{frames}")
    if s3["type"] == "accepted":
        check(check_request(await c.collect("s3", mark), 1) == [3], "s3")
    await c.wait_closed()
    check(c.ws.close_code == 1001, f"closed with {c.ws.close_code} "
                                   f"{c.ws.close_reason!r}, want 1001")
    await stopping


run([cancel_frees_the_workers, cancel_of_unknown_id_is_refused,
     disconnect_frees_the_workers, timeout_ends_items,
     pings_are_prompt_while_threads_burn,
     sigterm_drains_then_closes_with_1001])
