#!/usr/bin/python3
"""A sluice worker in Python, written from docs/PROTOCOL.md §2 alone.

It serves one task the C workers do not have, "upper" (uppercase a
string), one job at a time (capacity 1), and speaks the whole worker
protocol: READY, JOB -> RESULT, PING/PONG heartbeats, CANCEL, BYE; it
registers again when the gateway goes silent.

  deploy/examples/worker.py --gateway tcp://127.0.0.1:5555

Needs Debian's python3-zmq and python3-msgpack.
"""
import argparse
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


TASKS = {"upper": upper}


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


def handle(sock, frame):
    """One frame from the gateway; anything malformed is dropped."""
    try:
        version, kind, body = msgpack.unpackb(frame)
    except (ValueError, TypeError, msgpack.UnpackException):
        return
    if version != VERSION or not isinstance(body, dict):
        return
    if kind == "JOB":
        job, task = body.get("job"), body.get("task")
        fn = TASKS.get(task)
        t0 = time.process_time()
        if fn is None:
            ok, out = False, ("unknown_task", f"no task {task!r} here")
        else:
            ok, out = fn(body.get("item"))
        res = {"job": job, "ok": ok,
               "cpu_us": int((time.process_time() - t0) * 1e6),
               "t_done_us": time.time_ns() // 1000}
        if ok:
            res["value"] = out
        else:
            res["code"], res["message"] = out
        send(sock, "RESULT", res)
    elif kind == "PING":
        send(sock, "PONG")
    elif kind == "REGISTERED":
        print(f"registered as {body.get('worker', '?')}", flush=True)
    # CANCEL: jobs run to completion the moment they arrive, so a CANCEL
    # always names a job already answered; PONG needs nothing; types we
    # do not know (a newer gateway's) are ignored.


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
    sock = connect(ctx, args.gateway, rid.encode())
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
            sock = connect(ctx, args.gateway, rid.encode())
            heard = time.monotonic()
            continue
        try:
            if sock.poll(max(0, int((next_ping - now) * 1000))):
                handle(sock, sock.recv())
                heard, backoff = time.monotonic(), 0.25
        except zmq.ZMQError:
            if not stop:
                raise
    send(sock, "BYE")
    sock.close(linger=500)
    ctx.term()


if __name__ == "__main__":
    main()
