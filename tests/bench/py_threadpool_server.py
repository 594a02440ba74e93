#!/usr/bin/python3
"""The baseline sluice is measured against: what a user would otherwise
write. One asyncio `websockets` server (Debian's python3-websockets 10.4)
that runs each item in a concurrent.futures.ThreadPoolExecutor and sends
each result the moment it finishes.

It speaks enough of sluice's client protocol (docs/PROTOCOL.md) for
sluice-bench to drive it unchanged: submit -> accepted, one result per item
(with t_done_us / cpu_us when "timing" is true), done; ping -> pong. Tasks
are the same as sluice-compute's: echo (value = item), burn (spin for item
ms of this thread's CPU time, measured with time.thread_time()), sleep
(item ms). Loopback only; stops on SIGINT/SIGTERM.

Usage: py_threadpool_server.py --listen 127.0.0.1:PORT --threads 2
"""

import argparse
import asyncio
import concurrent.futures
import json
import signal
import sys
import time

import websockets


def burn(ms):
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        pass
    return ms


def sleep(ms):
    time.sleep(ms / 1000.0)
    return ms


TASKS = {"echo": lambda item: item, "burn": burn, "sleep": sleep}


def run_item(task, item):
    """In a pool thread: (value, t_done_us, cpu_us)."""
    c0 = time.thread_time_ns()
    value = TASKS[task](item)
    cpu_us = (time.thread_time_ns() - c0) // 1000
    return value, time.time_ns() // 1000, cpu_us


class Server:
    def __init__(self, threads):
        self.threads = threads
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
        self.unfinished = 0  # items handed to the pool, not finished

    async def request(self, ws, msg):
        """Run one submit; frames leave in order: accepted, results as
        they finish, done."""
        rid, task, items = msg["id"], msg["task"], msg["items"]
        timing = msg.get("timing") is True
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        await ws.send(json.dumps({"type": "accepted", "id": rid,
                                  "items": len(items), "workers": self.threads}))
        self.unfinished += len(items)

        async def one(seq, item):
            try:
                return seq, await loop.run_in_executor(
                    self.pool, run_item, task, item), None
            except Exception as e:  # the task refused the item
                return seq, None, e
        ok = failed = 0
        for fut in asyncio.as_completed([one(i, it) for i, it in enumerate(items)]):
            seq, res, err = await fut
            self.unfinished -= 1
            if err is None:
                value, t_done_us, cpu_us = res
                frame = {"type": "result", "id": rid, "seq": seq, "value": value}
                if timing:
                    frame["t_done_us"], frame["cpu_us"] = t_done_us, cpu_us
                ok += 1
            else:
                frame = {"type": "error", "id": rid, "seq": seq,
                         "code": "task_failed", "message": str(err)}
                failed += 1
            await ws.send(json.dumps(frame))
        await ws.send(json.dumps({
            "type": "done", "id": rid, "ok": ok, "failed": failed,
            "elapsed_ms": int((time.monotonic() - t0) * 1000)}))

    async def handler(self, ws, path=None):
        tasks = set()
        try:
            async for text in ws:
                try:
                    msg = json.loads(text)
                    kind = msg["type"]
                except (ValueError, KeyError, TypeError):
                    await ws.send(json.dumps({"type": "error", "code": "bad_json",
                                              "message": "not a sluice frame"}))
                    continue
                if kind == "ping":
                    pong = {"type": "pong", "server_us": time.time_ns() // 1000,
                            "workers": self.threads,
                            "queued": max(0, self.unfinished - self.threads),
                            "running": min(self.unfinished, self.threads)}
                    if "data" in msg:
                        pong["data"] = msg["data"]
                    await ws.send(json.dumps(pong))
                elif kind == "submit" and msg.get("task") in TASKS \
                        and isinstance(msg.get("items"), list) and msg["items"]:
                    t = asyncio.create_task(self.request(ws, msg))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                else:
                    await ws.send(json.dumps({
                        "type": "error", "id": msg.get("id"),
                        "code": "bad_message", "message": "unsupported frame"}))
        except websockets.ConnectionClosed:
            pass
        finally:
            for t in tasks:
                t.cancel()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:8090")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    srv = Server(args.threads)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(srv.handler, host, int(port), compression=None,
                                max_size=None, max_queue=None):
        print(f"py_threadpool_server: listening on {args.listen}, "
              f"{args.threads} threads", file=sys.stderr, flush=True)
        await stop
    srv.pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    asyncio.run(main())
