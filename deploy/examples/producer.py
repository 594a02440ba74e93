#!/usr/bin/python3
"""A sluice producer in Python, written from docs/PROTOCOL.md §3 alone.

Submits TASK on ITEMs (JSON values) to the gateway's producers endpoint
and prints each result as a JSON line the moment it arrives, then the
done frame on stderr. Exit status: 0 all items ok, 1 some failed, 2 the
request was refused or the gateway went silent.

  deploy/examples/producer.py --gateway tcp://127.0.0.1:5556 sleep 300 200 100

Needs Debian's python3-zmq and python3-msgpack.
"""
import argparse
import json
import os
import sys
import time

import msgpack
import zmq

PING_EVERY = 5.0   # the gateway forgets producers silent for 15 s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", default=os.environ.get(
        "SLUICE_PRODUCERS", "tcp://127.0.0.1:5556"),
        help="the gateway's producers endpoint")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds without any frame from the gateway")
    ap.add_argument("--notify", help="channel whose subscribers watch it")
    ap.add_argument("task")
    ap.add_argument("items", nargs="+", help="JSON values")
    args = ap.parse_args()
    items = [json.loads(i) for i in args.items]

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.gateway)
    req = f"py-{os.getpid()}"
    submit = {"type": "submit", "id": req, "task": args.task, "items": items}
    if args.notify:
        submit["notify"] = args.notify
    sock.send(msgpack.packb(submit))
    heard = next_ping = time.monotonic()
    status = 2
    while True:
        now = time.monotonic()
        if now >= next_ping:          # liveness: any frame counts
            sock.send(msgpack.packb({"type": "ping"}))
            next_ping = now + PING_EVERY
        if now - heard > args.timeout:
            print(f"producer: gateway silent for {args.timeout} s",
                  file=sys.stderr)
            break
        if not sock.poll(int(min(next_ping - now, 1.0) * 1000) + 1):
            continue
        f = msgpack.unpackb(sock.recv())
        heard = time.monotonic()
        kind = f.get("type")
        if kind == "pong" or f.get("id") != req:
            continue
        if kind in ("result", "error") and "seq" in f:
            # values come as the worker sent them: bin as bytes
            print(json.dumps(f, default=lambda b: b.hex()), flush=True)
        elif kind == "accepted":
            print(f"producer: accepted {f['items']} items, "
                  f"{f['workers']} workers", file=sys.stderr)
        elif kind == "done":
            print(json.dumps(f), file=sys.stderr)
            status = 0 if f["failed"] == 0 and not f.get("cancelled") else 1
            break
        elif kind == "error":         # the request was refused
            print(f"producer: {f['code']}: {f['message']}", file=sys.stderr)
            break
    sock.close(0)
    ctx.term()
    return status


if __name__ == "__main__":
    sys.exit(main())
