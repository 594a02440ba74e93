#!/usr/bin/python3
"""Workers that crash, hang, stop or come back, a poison item, a gateway
restart: every accepted item still ends exactly once."""
import asyncio
import ctypes
import os
import re
import signal
import time

from harness import (check, check_request, run, scaled, wait_log, wait_pong,
                     wait_registered)

HB = ("--hb-interval-ms", "200")  # both sides: a silent peer is dead in 0.6 s

# ptrace stops one thread of a process (SIGSTOP stops all of them).
_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                         ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000  # waitpid __WALL: wait for a thread, not a process


def compute_threads(pid):
    """Thread ids of a worker's compute threads: neither its main (I/O)
    thread nor ZeroMQ's (named ZMQbg/...) nor its resolver (cp-resolve)."""
    tids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            comm = f.read()
            if int(tid) != pid and not comm.startswith(("ZMQ", "cp-resolve")):
                tids.append(int(tid))
    return tids


def freeze_thread(tid):
    """Stop one thread (we must be its process's parent or root)."""
    for req in (PTRACE_SEIZE, PTRACE_INTERRUPT):
        if _libc.ptrace(req, tid, None, None):
            err = ctypes.get_errno()
            raise AssertionError(f"ptrace({req:#x}, {tid}): {os.strerror(err)}"
                                 f"; this test needs to stop one thread")
    os.waitpid(tid, WALL)


def thaw_thread(tid):
    if _libc.ptrace(PTRACE_DETACH, tid, None, None):
        raise AssertionError(f"ptrace detach {tid}: "
                             f"{os.strerror(ctypes.get_errno())}")


async def gateway(h, *args, **kw):
    return await h.gateway(*HB, *args, **kw)


def worker(h, gw, wid, threads=1):
    """A worker with routing id wid (for the gateway's log lines)."""
    return h.worker(gw, threads, *HB, "--id", wid)


async def wait_results(c, req_id, n, since, timeout=10):
    """Wait until n results of req_id have arrived after mark since."""
    deadline = time.monotonic() + scaled(timeout)
    while sum(f["type"] == "result" for f, _ in c.since(since, req_id)) < n:
        check(time.monotonic() < deadline and not c.closed,
              f"fewer than {n} results of {req_id}: {c.since(since)}")
        await asyncio.sleep(0.01)


async def three_workers_mid_request(h):
    """Gateway, three 1-thread workers, a client with a 20-item request
    past its 4th result: (gw, workers, client, mark)."""
    gw = await gateway(h)
    workers = [worker(h, gw, f"w{i}") for i in range(3)]
    await h.wait_workers(gw, 3)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("f1", "sleep", [300] * 20)
    await wait_results(c, "f1", 4, mark)
    return gw, workers, c, mark


async def killed_worker_items_run_elsewhere(h):
    gw, workers, c, mark = await three_workers_mid_request(h)
    victim = workers[1]
    label = await wait_registered(gw, victim)
    victim.kill()  # SIGKILL while it holds a job: nothing is said
    frames = await c.collect("f1", mark, timeout=30)
    check(check_request(frames, 20) == [300] * 20, f"{frames}")
    done = frames[-1][0]
    check(done["ok"] == 20 and done["failed"] == 0, f"{done}")
    line = await wait_log(gw, f"WRK-GONE worker={label} ")
    check("reason=bye" not in line, f"a killed worker said bye: {line}")
    pong = await wait_pong(c, lambda p: p["workers"] == 2, what="2 workers")
    check(pong["running"] == 0 and pong["queued"] == 0, f"{pong}")


async def stopped_worker_is_dropped_and_comes_back(h):
    gw, workers, c, mark = await three_workers_mid_request(h)
    victim = workers[1]
    label = await wait_registered(gw, victim)
    os.kill(victim.pid, signal.SIGSTOP)  # hangs: silent, connection open
    try:
        frames = await c.collect("f1", mark, timeout=30)
        check(check_request(frames, 20) == [300] * 20, f"{frames}")
        line = await wait_log(gw, f"WRK-GONE worker={label} reason=silent")
        pong = await wait_pong(c, lambda p: p["workers"] == 2,
                               what="2 workers")
        check(pong["running"] == 0 and pong["queued"] == 0,
              f"{pong} after {line}")
    finally:
        os.kill(victim.pid, signal.SIGCONT)
    # It finds the gateway silent, registers again and takes work.
    await wait_pong(c, lambda p: p["workers"] == 3, timeout=10,
                    what="the stopped worker back")
    check(await c.run("sleep", [300] * 6) == [300] * 6, "after SIGCONT")
    await wait_log(victim, "GW-SILENT")
    # stop_all stops it with SIGTERM like the others, exit 0.


async def poison_item_ends_as_worker_lost(h):
    gw = await gateway(h)
    first = worker(h, gw, "first")
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("p1", "sleep", [30000])
    await wait_pong(c, lambda p: p["running"] == 1, what="the job running")
    first.kill()  # its worker dies running it: once
    pong = await wait_pong(c, lambda p: p["workers"] == 0 and p["queued"] == 1,
                           what="the job requeued")
    check(pong["running"] == 0, f"{pong}")
    second = worker(h, gw, "second")
    await wait_pong(c, lambda p: p["running"] == 1 and p["workers"] == 1,
                    what="the second worker holding the job")
    second.kill()  # twice in a row: a poison item
    last = worker(h, gw, "third")  # must not get the job
    frames = await c.collect("p1", mark, timeout=15)
    out = check_request(frames, 1)
    check(isinstance(out[0], dict) and out[0]["code"] == "worker_lost",
          f"want item error worker_lost: {frames}")
    done = frames[-1][0]
    check(done["ok"] == 0 and done["failed"] == 1, f"{done}")
    await wait_log(gw, "JOB-POISON req=p1 seq=0")
    pong = await wait_pong(c, lambda p: p["workers"] == 1,
                           what="the third worker")
    check(pong["running"] == 0 and pong["queued"] == 0,
          f"the poison item was retried: {pong}")
    check(last.running(), "third worker died")


async def workers_return_after_gateway_restart(h):
    gw = await gateway(h)
    workers = [worker(h, gw, "w0"), worker(h, gw, "w1")]
    await h.wait_workers(gw, 2)
    old = await h.client(gw)
    mark = old.mark()
    await old.submit("g1", "sleep", [10000] * 4)
    await wait_pong(old, lambda p: p["running"] == 2, what="both jobs running")
    gw.kill()  # SIGKILL: no goodbye to anyone
    await old.wait_closed()
    check(not any(f["type"] == "result" for f, _ in old.since(mark)),
          f"results before the crash: {old.since(mark)}")
    gw2 = await gateway(h, port=gw.port, endpoint=gw.endpoint)
    await h.wait_workers(gw2, 2, timeout=20)
    c = await h.client(gw2)
    frames, _ = await c.submit_and_collect("g2", "sleep", [200] * 4)
    check(check_request(frames, 4) == [200] * 4, f"{frames}")
    # The old jobs were cancelled on the workers: their threads are free,
    # so 4 x 200 ms on 2 threads take about 400 ms, not 10 s more.
    elapsed = frames[-1][0]["elapsed_ms"]
    check(elapsed < scaled(1.5) * 1000,
          f"workers still busy with the dead gateway's jobs: {elapsed} ms")
    for w in workers:
        await wait_log(w, "GW-SILENT")
        check(w.running(), f"worker {w.pid} exited")


async def request_waits_for_a_worker(h):
    gw = await gateway(h)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("n1", "echo", [1, 2])
    acc, _ = await c.wait_frame(lambda f: f.get("id") == "n1", mark,
                                what="accepted")
    # resume: the request's token (PROTOCOL.md 1.3), 32 hex characters
    check(len(acc.pop("resume", "")) == 32, f"{acc}")
    # traceparent: the one the gateway made (PROTOCOL.md 1.4), 55 characters
    check(len(acc.pop("traceparent", "")) == 55, f"{acc}")
    check(acc == {"type": "accepted", "id": "n1", "items": 2, "workers": 0},
          f"{acc}")
    pong, _ = await c.ping()
    check((pong["workers"], pong["queued"], pong["running"]) == (0, 2, 0),
          f"{pong}")
    worker(h, gw, "late")
    frames = await c.collect("n1", mark)
    check(check_request(frames, 2) == [1, 2], f"{frames}")
    check(frames[-1][0]["ok"] == 2, f"{frames[-1][0]}")
    pong, _ = await c.ping()
    check((pong["workers"], pong["queued"], pong["running"]) == (1, 0, 0),
          f"{pong}")


async def stopping_worker_finishes_its_job(h):
    gw = await gateway(h)
    w1 = worker(h, gw, "w1")
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    ms = int(1500 * scaled(1))
    t0 = await c.submit("d1", "sleep", [ms])
    await wait_pong(c, lambda p: p["running"] == 1, what="the job on w1")
    w2 = worker(h, gw, "w2")
    await h.wait_workers(gw, 2)
    # Signal late in the job: run again on w2, it could not end before
    # t_sig + ms.
    await asyncio.sleep(max(0.0, t0 + ms / 1000 - 0.5 - time.monotonic()))
    t_sig = time.monotonic()
    stopping = asyncio.create_task(h.stop(w1))
    await asyncio.sleep(0)  # let it send SIGTERM now
    # Submitted while w1 drains: w2 serves all of it, w1 gets no new job.
    await c.submit("d2", "sleep", [500] * 3)
    frames = await c.collect("d1", mark)
    check(check_request(frames, 1) == [ms], f"{frames}")
    t_result = next(t for f, t in frames if f["type"] == "result")
    check(t_sig < t_result < t_sig + ms / 1000,
          f"the result came {t_result - t0:.2f} s after the submit, "
          f"{t_result - t_sig:.2f} s after SIGTERM: want it from the first "
          f"run, after the signal")
    await stopping  # exit 0
    frames2 = await c.collect("d2", mark)
    check(check_request(frames2, 3) == [500] * 3, f"{frames2}")
    gone = await wait_log(gw, f"WRK-GONE worker={await wait_registered(gw, w1)}"
                              f" reason=bye")
    check("requeued=0" in gone, f"w1 left jobs behind: {gone}")
    stop = await wait_log(w1, "WRK-STOP")
    check(re.search(r"\bjobs=1\b", stop),
          f"w1 took a job while draining: {stop}")
    pong = await wait_pong(c, lambda p: p["workers"] == 1, what="w1 gone")
    check(pong["running"] == 0 and pong["queued"] == 0, f"{pong}")
    check(await c.run("sleep", [100]) == [100], "after w1 left")
    check(w2.running(), "w2 exited")


async def stale_result_from_before_a_reconnect_is_dropped(h):
    """A worker that lost its gateway cancels what it ran and registers
    again; the gateway requeues that job and may hand it to the same worker
    (same routing id, same job id). The cancelled run's RESULT, if it comes
    after the new READY, is stale: the item must still end with its value,
    not as "cancelled" (the client never cancelled)."""
    gw = await gateway(h)
    w = worker(h, gw, "w0")
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    mark = c.mark()
    label = await wait_registered(gw, w)
    ms = int(6000 * scaled(1))
    t0 = await c.submit("z1", "sleep", [ms])
    await wait_pong(c, lambda p: p["running"] == 1, what="the job running")
    tids = compute_threads(w.pid)
    check(len(tids) == 1, f"compute threads of a 1-thread worker: {tids}")
    # The compute thread stops: the cancel below reaches it only later.
    freeze_thread(tids[0])
    try:
        # The gateway goes quiet: the worker cancels its job, reconnects.
        os.kill(gw.pid, signal.SIGSTOP)
        try:
            await wait_log(w, "GW-SILENT")
        finally:
            os.kill(gw.pid, signal.SIGCONT)
        # The gateway requeues the job and sends it to the same worker.
        await wait_log(gw, f"WRK-GONE worker={label} ")
        await wait_registered(gw, w, count=2)  # w0 registers again
        await wait_pong(c, lambda p: p["running"] == 1, what="the job resent")
        check(time.monotonic() - t0 < ms / 1000 - 1,
              "too slow: the first run's sleep is nearly over")
    finally:
        thaw_thread(tids[0])  # its first run now ends as "cancelled"
    frames = await c.collect("z1", mark, timeout=ms / 1000 / scaled(1) + 10)
    check(check_request(frames, 1) == [ms],
          f"the item ended with the stale RESULT of its cancelled run: "
          f"{[f for f, _ in frames]}")


async def restarted_gateway_never_hands_on_an_old_jobs_result(h):
    """A worker still running a job of a gateway that died (a task that does
    not poll for cancellation: here its thread is stopped) registers with
    the gateway started in its place. The old job's RESULT must never pass
    for the new gateway's job: job ids differ between gateway processes
    (random start), and the worker drops results of jobs from a previous
    connection (JOB-OLD). Before, both gateways numbered from 1 and client B
    got client A's outcome for its own item, then lost its own result."""
    gw = await gateway(h)
    w = worker(h, gw, "w0")
    await h.wait_workers(gw, 1)
    a = await h.client(gw)
    await a.submit("a1", "sleep", [int(8000 * scaled(1))])
    await wait_pong(a, lambda p: p["running"] == 1, what="A's job running")
    tids = compute_threads(w.pid)
    check(len(tids) == 1, f"compute threads of a 1-thread worker: {tids}")
    freeze_thread(tids[0])  # A's job cannot end, nor see its cancel
    try:
        gw.kill()
        await a.wait_closed()
        await wait_log(w, "GW-SILENT")
        gw2 = await gateway(h, port=gw.port, endpoint=gw.endpoint)
        await h.wait_workers(gw2, 1, timeout=20)
        b = await h.client(gw2)
        mark = b.mark()
        await b.submit("b1", "sleep", [11, 22, 33, 44])
        # B's first job waits on the worker behind A's stopped one.
        await wait_pong(b, lambda p: p["running"] == 1, what="B's job sent")
    finally:
        thaw_thread(tids[0])  # A's job ends now (as cancelled)
    frames = await b.collect("b1", mark, timeout=20)
    check(check_request(frames, 4) == [11, 22, 33, 44],
          f"client B got another job's outcome: {[f for f, _ in frames]}")
    await wait_log(w, "JOB-OLD")


run([killed_worker_items_run_elsewhere,
     stopped_worker_is_dropped_and_comes_back,
     poison_item_ends_as_worker_lost, workers_return_after_gateway_restart,
     request_waits_for_a_worker, stopping_worker_finishes_its_job,
     stale_result_from_before_a_reconnect_is_dropped,
     restarted_gateway_never_hands_on_an_old_jobs_result])
