#!/usr/bin/python3
"""Workers that serve several gateways: each worker connected to two
gateways runs both gateways' requests at once; kill -9 of one gateway
leaves the other's requests whole and stalls them no longer than the
heartbeat timeout; a --gateway name that resolves to several addresses
is followed as its addresses come and go."""
import asyncio
import os
import signal
import subprocess
import time

from harness import (check, check_request, free_port, log_events, metric, run,
                     scaled, wait_log, wait_pong)

HB_MS, LIVENESS = 1000, 3  # the defaults: a silent gateway is gone in 3 s


async def gateways_pair(h, *args):
    return await h.gateway(*args), await h.gateway(*args)


async def both_workers_run_both_gateways_requests_at_once(h):
    gw1, gw2 = await gateways_pair(h)
    workers = [h.worker([gw1, gw2], 2, "--log-level", "debug")
               for _ in range(2)]
    for gw in (gw1, gw2):
        await h.wait_workers(gw, 2)
    c1, c2 = await h.client(gw1), await h.client(gw2)
    m1, m2 = c1.mark(), c2.mark()
    await c1.submit("a", "sleep", [300] * 8)
    await c2.submit("b", "sleep", [300] * 8)
    # Both gateways have jobs running on the workers at the same time,
    # more than one worker's threads' worth in all: both workers busy.
    seen = False
    deadline = time.monotonic() + scaled(10)
    while not seen and time.monotonic() < deadline:
        p1, _ = await c1.ping()
        p2, _ = await c2.ping()
        seen = p1["running"] >= 1 and p2["running"] >= 1 \
            and p1["running"] + p2["running"] >= 3
    check(seen, "never saw both gateways' jobs running on both workers")
    r1 = check_request(await c1.collect("a", m1, timeout=30), 8)
    r2 = check_request(await c2.collect("b", m2, timeout=30), 8)
    check(r1 == [300] * 8 and r2 == [300] * 8, f"{r1} {r2}")
    # Each worker ran jobs of each gateway (its debug log names them).
    for w in workers:
        starts, _ = log_events(w, "JOB-START")
        for gw in (gw1, gw2):
            check(any(f"gateway={gw.endpoint}" in line for line in starts),
                  f"worker {w.pid} ran nothing of {gw.endpoint}:\n{w.log()}")
        check(w.log().count("WRK-REGISTERED") == 2, f"{w.log()}")
    # Jobs handed back unstarted (two gateways took the same free thread)
    # are counted; whether any were depends on timing.
    for gw in (gw1, gw2):
        check(await metric(gw.port, "sluice_jobs_returned_total") >= 0,
              "sluice_jobs_returned_total")


async def a_dead_gateway_stalls_the_other_no_longer_than_heartbeats(h):
    gw1, gw2 = await gateways_pair(h)
    workers = [h.worker([gw1, gw2], 2) for _ in range(2)]
    for gw in (gw1, gw2):
        await h.wait_workers(gw, 2)
    c1, c2 = await h.client(gw1), await h.client(gw2)
    # gw1's long jobs take every thread of both workers...
    await c1.submit("long", "sleep", [20000] * 4)
    await wait_pong(c1, lambda p: p["running"] == 4, what="4 running")
    # ...so gw2's request waits for them (its jobs are returned or not
    # offered); then gw1 dies in the middle of it all.
    m2 = c2.mark()
    await c2.submit("short", "sleep", [100] * 12)
    await asyncio.sleep(0.3)  # scenario: gw2's items are queued
    os.kill(gw1.pid, signal.SIGKILL)
    gw1.popen.wait()
    gw1.stopped = True
    killed = time.monotonic()
    frames = await c2.collect("short", m2, timeout=30)
    check(check_request(frames, 12) == [100] * 12, f"{frames}")
    # The workers cancel gw1's jobs once it misses its heartbeats (3 s):
    # gw2's first result comes within that, plus a generous margin.
    first = min(t for f, t in frames if f["type"] == "result")
    bound = HB_MS * LIVENESS / 1000 + scaled(2)
    check(first - killed < bound,
          f"gw2 stalled {first - killed:.1f} s after gw1 died (bound "
          f"{bound:.1f} s)")
    # and no gap between its results longer than the heartbeat timeout
    times = [killed] + sorted(t for f, t in frames if f["type"] == "result")
    gap = max(b - a for a, b in zip(times, times[1:]))
    check(gap < bound, f"a {gap:.1f} s gap in gw2's results")
    for w in workers:
        await wait_log(w, "GW-SILENT")
    pong, _ = await c2.ping()
    check(pong["workers"] == 2 and pong["running"] == 0, f"{pong}")


def _userns_works():
    try:
        return subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "true"],
            capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


async def a_name_with_several_addresses_is_followed(h):
    """The worker runs in its own user and mount namespace with a hosts
    file of ours bind-mounted on /etc/hosts: the name "gws" resolves to
    what the test writes there. Two gateways listen on 127.0.0.2 and
    127.0.0.3 (same port); as the name gains and loses addresses, the
    worker connects and leaves (GW-ADD, GW-DROP) within --resolve-ms."""
    if not _userns_works():
        print("skipped: no user namespaces here (unshare --user)")
        return
    port = free_port()
    gw_a = await h.gateway(endpoint=f"tcp://127.0.0.2:{port}")
    gw_b = await h.gateway(endpoint=f"tcp://127.0.0.3:{port}")
    hosts = os.path.join(h.tmpdir, "hosts")

    def name_is(*addrs):  # in place: the bind mount follows the inode
        with open(hosts, "w") as f:
            f.write("".join(f"{a} gws\n" for a in addrs))

    name_is("127.0.0.2")
    wrap = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', hosts]
    w = h.worker(f"tcp://gws:{port}", 1, "--resolve-ms", "200", wrap=wrap)
    await h.wait_workers(gw_a, 1)
    await h.wait_workers(gw_b, 0)
    name_is("127.0.0.2", "127.0.0.3")
    await h.wait_workers(gw_b, 1)
    await wait_log(w, f"GW-ADD gateway=tcp://127.0.0.3:{port}")
    c = await h.client(gw_b)
    check(await c.run("echo", ["b"]) == ["b"], "echo on the new gateway")
    name_is("127.0.0.3")
    await h.wait_workers(gw_a, 0)  # it said BYE
    await wait_log(w, f"GW-DROP gateway=tcp://127.0.0.2:{port}")
    check(await c.run("echo", ["still"]) == ["still"], "echo after the drop")
    # A name that stops resolving drops nothing (a DNS hiccup).
    name_is()
    await wait_log(w, "GW-RESOLVE")
    check(await c.run("echo", ["kept"]) == ["kept"], "echo after GW-RESOLVE")


if __name__ == "__main__":
    run([both_workers_run_both_gateways_requests_at_once,
         a_dead_gateway_stalls_the_other_no_longer_than_heartbeats,
         a_name_with_several_addresses_is_followed])
