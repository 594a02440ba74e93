#!/usr/bin/python3
"""sluice on a single-node Docker Swarm (deploy/swarm/stack.yml), for real.

Makes a swarm of the host's engine (`docker swarm init --advertise-addr
127.0.0.1`; an engine already in a swarm this test did not make fails the
test, untouched), builds the images (the compose test's, from its cache, and
sluice-haproxy), deploys the stack with one gateway and one worker behind
HAProxy on a free host port, then:

* a request through HAProxy; scaled to 2 gateways and 3 workers: every
  gateway ready (workers reach every gateway through tasks.gateway), and
  HAProxy spreads concurrent clients over both;
* a gateway container killed mid-request: its client reconnects through
  HAProxy, lands on another gateway, `resume` is refused there
  (`unknown_request`) and it submits the missing items with their `seqs`:
  every item exactly once; the swarm replaces the dead gateway.

Always removes the stack, leaves the swarm and removes the networks the
swarm made (finally, also after SIGTERM). No Docker engine: exit 77 (ctest:
skipped), or a failure with CI=true.

Usage: test_swarm.py [--top CHECKOUT]
"""

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time

import swarmlib as sw
from swarmlib import arun, check, say, scaled, wait_until


async def all_gateways_ready(st, n, workers):
    """n gateway containers, each with /readyz 200 and every one of the
    workers registered (each worker connects to every gateway task)."""
    want = f"ready: {workers} worker{'' if workers == 1 else 's'},"

    async def probe():
        cids = await st.containers("gateway")
        check(len(cids) == n, f"{len(cids)} gateway containers")
        states = [await st.gateway_ready(c) for c in cids]
        check(all(s.startswith(want) for s in states), f"/readyz: {states}")
        return states
    return await wait_until(probe, 90, f"{n} ready gateways", interval=1)


async def scale_out(st):
    await st.scale(gateway=2, compute=3)
    states = await all_gateways_ready(st, 2, 3)
    say(f"2 gateways: {states}")
    ips = {await st.ip_of(c) for c in await st.containers("gateway")}

    async def spread():
        # HAProxy learns of the new gateway by DNS and health check.
        conns = [await sw.connect(st) for _ in range(4)]
        seen = {gw for _, gw in conns}
        for ws, _ in conns:
            await ws.close()
        check(seen == ips, f"4 clients on {sorted(seen)}, gateways {sorted(ips)}")
        return seen
    await wait_until(spread, 60, "clients on both gateways", interval=1)


async def kill_gateway_mid_request(st, features):
    killed = []

    async def kill(gw_ip):
        for cid in await st.containers("gateway"):
            if await st.ip_of(cid) == gw_ip:
                say(f"killing gateway container {cid[:12]} ({gw_ip})")
                await arun(["docker", "kill", "-s", "KILL", cid], timeout=30)
                killed.append(cid)
                return
        raise AssertionError(f"no gateway container has address {gw_ip}")

    t0 = time.monotonic()
    ledger, gw1, gw2, before = await sw.resumable_request(st, 16, kill, features)
    check(killed, "no gateway was killed")
    say(f"every item once: {before} from {gw1}, {16 - before} from {gw2} "
        f"({time.monotonic() - t0:.1f} s; seqs {'on' if features['seqs'] else 'absent'})")
    # The swarm replaces the dead gateway, and it gets workers again.
    await all_gateways_ready(st, 2, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", default=os.path.normpath(os.path.join(sw.HERE, "..", "..")))
    args = ap.parse_args()
    top = os.path.abspath(args.top)
    version, why = sw.engine_version()
    if not version:
        sw.cannot_run("swarm.single", f"no Docker engine ({why})")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # finally: clean up
    features = sw.protocol_features(top)
    say(f"engine {version}; documented: {features}")
    tag = sw.image_tag(top)
    with tempfile.TemporaryDirectory(prefix="sluice-swarm-") as tmp:
        log = os.path.join(tmp, "swarm.log")
        swarm = sw.Swarm()
        st = sw.Stack(top, tag, log, gateways=1, workers=1)
        steps = [
            ("images", lambda: asyncio.to_thread(sw.build_images, top, tag, log), 1300),
            ("swarm_init", lambda: asyncio.to_thread(swarm.init), 180),
            ("deploy", lambda: asyncio.to_thread(st.deploy), 200),
            ("lb_ready", lambda: st.wait_lb_ready(), 150),
            ("request_through_haproxy", lambda: sw.echo_request(st), 60),
            ("scale_out", lambda: scale_out(st), 240),
            ("kill_gateway_mid_request",
             lambda: kill_gateway_mid_request(st, features), 300),
        ]

        def on_fail():
            print(f"---- swarm.log (tail) ----\n{sw.tail(log, 4000)}")
            if st.deployed:
                st.dump_logs()
        sw.run_steps(steps, [("stack rm", st.remove), ("swarm leave", swarm.leave)],
                     on_fail)

if __name__ == "__main__":
    main()
