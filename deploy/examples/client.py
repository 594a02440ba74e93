#!/usr/bin/python3
"""A sluice WebSocket client on the command line, on clients/python.

Submits TASK on ITEMs (JSON values) through the first gateway of --url
that answers and prints each result as a JSON line the moment it
arrives ({"seq":..,"value":..} or {"seq":..,"error":..,"message":..}),
then the done frame's fields on stderr. A dropped connection or a dead
gateway loses nothing: the request resumes on the same gateway or goes
on on the next URL, and each seq is printed once. Exit status: 0 all
items ok, 1 some failed, 2 the request was refused or no gateway
answered for --give-up seconds.

  deploy/examples/client.py --url ws://127.0.0.1:8080/ \
      --url ws://127.0.0.1:8081/ sleep 300 200 100

Needs Debian's python3-websockets; sluice_client is found in
clients/python of this repository unless it is installed
(`pip install ./clients/python`).
"""
import argparse
import asyncio
import json
import os
import sys

try:
    import sluice_client
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "clients", "python"))
    import sluice_client


async def main(args):
    items = [json.loads(i) for i in args.items]
    try:
        async with sluice_client.connect(
                args.url or ["ws://127.0.0.1:8080/"],
                token=os.environ.get("SLUICE_TOKEN"),
                give_up_after=args.give_up) as client:
            stream = client.submit(args.task, items, notify=args.notify)
            async for r in stream:
                line = ({"seq": r.seq, "value": r.value} if r.error is None
                        else {"seq": r.seq, "error": r.error,
                              "message": r.message})
                print(json.dumps(line), flush=True)
    except sluice_client.SluiceError as e:
        print(f"client.py: {e}", file=sys.stderr)
        return 2
    print(json.dumps(stream.done), file=sys.stderr)
    return 1 if stream.done["failed"] or stream.done.get("cancelled") else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", action="append",
                    help="a gateway's WebSocket URL; repeat for several "
                         "(default ws://127.0.0.1:8080/); a token comes "
                         "from SLUICE_TOKEN")
    ap.add_argument("--give-up", type=float, default=30.0,
                    help="seconds without any gateway before giving up")
    ap.add_argument("--notify", help="channel whose subscribers watch it")
    ap.add_argument("task")
    ap.add_argument("items", nargs="+", help="JSON values")
    sys.exit(asyncio.run(main(ap.parse_args())))
