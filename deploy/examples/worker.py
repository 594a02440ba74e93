#!/usr/bin/python3
"""A sluice worker in Python, written from docs/PROTOCOL.md §2 alone.

It serves two tasks the C workers do not have, one job at a time
(capacity 1): "upper" (uppercase a string) and "upper_slowly" (the same,
one character at a time over item["ms"] milliseconds, for an item
{"text": "...", "ms": 1500}). It speaks the whole worker protocol: READY,
JOB -> RESULT, PING/PONG heartbeats, CANCEL, BYE, and (revision 7, when
the gateway's REGISTERED says "progress") PROGRESS and PARTIAL: a slow
item reports how far it is and sends each character as a partial value
before its result. It registers again when the gateway goes silent.
A long job runs in steps between which the socket is served, so its
heartbeats go on and a CANCEL stops it.

  deploy/examples/worker.py --gateway tcp://127.0.0.1:5555

Needs Debian's python3-zmq and python3-msgpack.
"""
import argparse
import collections
import math
import os
import random
import signal
import socket
import time

import msgpack
import zmq

VERSION = 1        # [version, type, body] on every frame
HB_IVL = 1.0       # seconds between our PINGs (gateway default too)
LIVENESS = 3       # silent intervals before we call the gateway dead


def upper(item):
    """The task: (ok, value) or (False, (code, message))."""
    if not isinstance(item, str):
        return False, ("bad_item", "upper: item must be a string")
    return True, item.upper()


def upper_slowly(item):
    """A long task, as a generator: it yields ("progress", fraction,
    text), ("partial", value) and ("sleep", seconds) along the way, and
    returns (ok, value) like upper."""
    if (not isinstance(item, dict) or not isinstance(item.get("text"), str)
            or not isinstance(item.get("ms"), int)
            or not 0 <= item["ms"] <= 600000):
        return False, ("bad_item", 'upper_slowly: item must be '
                                   '{"text": string, "ms": 0..600000}')
    text, n = item["text"], len(item["text"])
    for i, ch in enumerate(text):
        yield ("sleep", item["ms"] / 1000 / n)
        yield ("partial", ch.upper())
        yield ("progress", (i + 1) / n, f"{i + 1}/{n} characters")
    return True, text.upper()


TASKS = {"upper": upper, "upper_slowly": upper_slowly}


def send(sock, kind, body=None):
    sock.send(msgpack.packb([VERSION, kind, body or {}]))


def connect(ctx, endpoint, rid):
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, rid)
    sock.connect(endpoint)
    send(sock, "READY", {"capacity": 1, "tasks": list(TASKS),
                         "pid": os.getpid(), "host": socket.gethostname()})
    return sock


class Job:
    """The running job: a task's generator stepped between socket reads."""

    def __init__(self, body, steps):
        self.id = body.get("job")
        self.steps = steps
        self.wake = time.monotonic()  # when to take its next step
        self.cpu = 0.0
        self.partials = 0


class Worker:
    def __init__(self):
        self.sock = None
        self.progress = False  # the gateway takes PROGRESS and PARTIAL
        self.job = None
        self.queue = collections.deque()  # JOB bodies not started yet

    def result(self, job_id, ok, out, cpu):
        res = {"job": job_id, "ok": ok, "cpu_us": int(cpu * 1e6),
               "t_done_us": time.time_ns() // 1000}
        if ok:
            res["value"] = out
        else:
            res["code"], res["message"] = out
        send(self.sock, "RESULT", res)

    def start(self, body):
        fn = TASKS.get(body.get("task"))
        if fn is None:
            self.result(body.get("job"), False, (
                "unknown_task", f"no task {body.get('task')!r} here"), 0)
            return
        t0 = time.process_time()
        out = fn(body.get("item"))
        if isinstance(out, tuple):  # done at once
            self.result(body.get("job"), *out, time.process_time() - t0)
        else:
            self.job = Job(body, out)
            self.job.cpu = time.process_time() - t0

    def step(self):
        """Run the job until it sleeps or ends."""
        job = self.job
        t0 = time.process_time()
        try:
            while True:
                what = next(job.steps)
                if what[0] == "sleep":
                    job.wake = time.monotonic() + what[1]
                    break
                if not self.progress:
                    continue  # an older gateway: they would be dropped
                if what[0] == "progress":
                    send(self.sock, "PROGRESS", {
                        "job": job.id, "progress": what[1], "text": what[2]})
                else:
                    send(self.sock, "PARTIAL", {
                        "job": job.id, "index": job.partials,
                        "value": what[1]})
                    job.partials += 1
        except StopIteration as end:
            self.job = None
            self.result(job.id, *end.value,
                        job.cpu + time.process_time() - t0)
            return
        job.cpu += time.process_time() - t0

    def handle(self, frame):
        """One frame from the gateway; anything malformed is dropped."""
        try:
            version, kind, body = msgpack.unpackb(frame)
        except (ValueError, TypeError, msgpack.UnpackException):
            return
        if version != VERSION or not isinstance(body, dict):
            return
        if kind == "JOB":
            self.queue.append(body)
        elif kind == "PING":
            send(self.sock, "PONG")
        elif kind == "REGISTERED":
            self.progress = body.get("progress") is True
            print(f"registered as {body.get('worker', '?')}"
                  f"{' (progress)' if self.progress else ''}", flush=True)
        elif kind == "CANCEL":
            job = body.get("job")
            if self.job and self.job.id == job:
                self.job = None
                self.result(job, False, ("cancelled", "cancelled"), 0)
            elif any(b.get("job") == job for b in self.queue):
                self.queue = collections.deque(
                    b for b in self.queue if b.get("job") != job)
                self.result(job, False, ("cancelled", "cancelled"), 0)
        # A CANCEL for a job already answered needs nothing; PONG needs
        # nothing; types we do not know (a newer gateway's) are ignored.

    def work(self):
        """Start queued jobs and step the running one while it is due;
        returns the seconds until it is due again (None: no job)."""
        while True:
            if self.job is None and self.queue:
                self.start(self.queue.popleft())
            if self.job is None:
                return None if not self.queue else 0
            wait = self.job.wake - time.monotonic()
            if wait > 0:
                return wait
            self.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", default=os.environ.get(
        "SLUICE_GATEWAY", "tcp://127.0.0.1:5555"), help="workers endpoint")
    args = ap.parse_args()
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    rid = f"py-{socket.gethostname()}-{os.getpid()}-{random.randrange(1 << 16):04x}"
    ctx = zmq.Context()
    w = Worker()
    w.sock = sock = connect(ctx, args.gateway, rid.encode())
    heard = next_ping = time.monotonic()
    backoff = 0.25
    while not stop:
        now = time.monotonic()
        if now >= next_ping:
            send(sock, "PING")
            next_ping = now + HB_IVL
        if now - heard > HB_IVL * LIVENESS:
            # Gateway silent: it has requeued our jobs; register afresh.
            sock.close(0)
            time.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, 5.0)
            # its jobs are the gateway's again: a new connection starts
            # with none (PROTOCOL.md §2, "Job ids")
            w.job, w.queue = None, collections.deque()
            w.sock = sock = connect(ctx, args.gateway, rid.encode())
            heard = time.monotonic()
            continue
        try:
            due = w.work()
            wait = next_ping - now if due is None else min(due, next_ping - now)
            if sock.poll(max(0, math.ceil(wait * 1000))):
                w.handle(sock.recv())
                heard, backoff = time.monotonic(), 0.25
        except zmq.ZMQError:
            if not stop:
                raise
    send(sock, "BYE")
    sock.close(linger=500)
    ctx.term()


if __name__ == "__main__":
    main()
