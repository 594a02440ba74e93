#!/usr/bin/python3
"""Hostile load on loopback, bounded in count and time: connection churn,
malformed frames, a request with the most items allowed, and the
connection limit. Throughout, a separate client's pings are answered
promptly; afterwards the gateway's memory is back near its baseline.

The churn runs in a child process (this file with --churn), so that its
Python work does not delay the measuring client's event loop."""

import asyncio
import base64
import os
import re
import resource
import socket
import statistics
import sys
import time

import websockets

CHURN_CONNS = 2000   # connections opened and closed by the churn
CHURN_PARALLEL = 40  # at most this many at once
BAD_FRAMES = 600     # malformed frames on one connection
RSS_SLACK_KIB = 8 * 1024


async def _churn_one(port, i):
    """One connection: handshake, sometimes garbage, then gone (half with
    a close frame, half by just dropping the TCP connection)."""
    from harness import ws_frame
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await r.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            return f"handshake {i}: {head[:40]!r}"
        if i % 3 == 0:
            w.write(ws_frame("{not json") + ws_frame(b"\xff\xfe", 0x1)
                    + ws_frame(b"\x00" * 64, 0x2))
        if i % 2 == 0:
            w.write(ws_frame(b"\x03\xe8", 0x8))  # close 1000
        await w.drain()
    finally:
        w.close()
    return None


async def _churn(port, n):
    sem = asyncio.Semaphore(CHURN_PARALLEL)
    errors = []

    async def one(i):
        async with sem:
            try:
                e = await _churn_one(port, i)
            except (OSError, asyncio.IncompleteReadError) as ex:
                e = f"conn {i}: {ex!r}"
            if e:
                errors.append(e)
    await asyncio.gather(*(one(i) for i in range(n)))
    return errors


if len(sys.argv) == 4 and sys.argv[1] == "--churn":
    t0 = time.monotonic()
    errs = asyncio.run(_churn(int(sys.argv[2]), int(sys.argv[3])))
    print(f"churn: {sys.argv[3]} connections in {time.monotonic() - t0:.1f} s, "
          f"{len(errs)} failed {errs[:5]}")
    sys.exit(1 if errs else 0)

from harness import (check, check_request, cpu_seconds,  # noqa: E402
                     log_events, metric, rss_kib, run, scaled, wait_log,
                     ws_frame, ws_handshake)


def sanitized(pid):
    """ASan keeps freed memory in quarantine: RSS says nothing there."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


async def monitor(c, stop, rtts):
    """Ping every 50 ms until stop is set; record round trips."""
    while not stop.is_set():
        _, rtt = await c.ping(timeout=10)
        rtts.append(rtt)
        await asyncio.sleep(0.05)


async def flood_leaves_the_gateway_responsive_and_its_memory_bounded(h):
    gw = await h.start(workers=[2])
    c = await h.client(gw)
    # Warm up the paths the flood takes, then take the baseline.
    check(await c.run("echo", list(range(100))) == list(range(100)), "warm-up")
    await asyncio.sleep(scaled(0.5))
    base = rss_kib(gw.pid)

    stop, rtts = asyncio.Event(), []
    mon = asyncio.create_task(monitor(await h.client(gw), stop, rtts))
    t0 = time.monotonic()

    # 1. Churn: CHURN_CONNS connections in a child process.
    churn = await asyncio.create_subprocess_exec(
        sys.executable, os.path.abspath(__file__), "--churn", str(gw.port),
        str(CHURN_CONNS), stdout=asyncio.subprocess.PIPE)
    # 2. Meanwhile, malformed frames on one connection: each gets its
    # error, in order, and the connection still works afterwards.
    bad = [("{", "bad_json"), ('{"type":"ping","data":1e999}', "bad_json"),
           ('{"type":"nope"}', "unknown_type"), (b"\x01\x02", "binary_unsupported"),
           ('{"type":"submit","id":"b","task":"echo","items":[]}', "bad_items"),
           ('{"type":"cancel","id":"zz"}', "unknown_id")]
    mark = c.mark()
    for i in range(BAD_FRAMES):
        await c.send(bad[i % len(bad)][0])
    await c.wait_frame(lambda f: False if len(c.frames) - mark < BAD_FRAMES
                       else True, mark, timeout=30, what=f"{BAD_FRAMES} errors")
    codes = [f.get("code") for f, _ in c.since(mark)][:BAD_FRAMES]
    want = [bad[i % len(bad)][1] for i in range(BAD_FRAMES)]
    check(codes == want, f"error codes out of order or wrong: "
          f"{[(i, g, w) for i, (g, w) in enumerate(zip(codes, want)) if g != w][:5]}")
    # 3. A request with the most items allowed (--max-items, 10000).
    items = list(range(10000))
    frames, _ = await c.submit_and_collect("max", "echo", items, timeout=60)
    check(check_request(frames, len(items)) == items, "10000 items not echoed")

    out, _ = await asyncio.wait_for(churn.communicate(), scaled(60))
    check(churn.returncode == 0, f"churn failed: {out.decode()}")
    print(out.decode().strip())
    flood_s = time.monotonic() - t0
    stop.set()
    await mon
    check(gw.running(), "gateway died during the flood")

    worst = max(rtts)
    print(f"flood: {flood_s:.1f} s, {len(rtts)} pings, median "
          f"{statistics.median(rtts) * 1000:.1f} ms, worst {worst * 1000:.1f} ms")
    check(len(rtts) >= 5, f"only {len(rtts)} pings during the flood")
    check(worst < scaled(1.0), f"a ping took {worst:.3f} s during the flood")

    # Every churned connection is gone again (pong counts no connections;
    # /metrics does).
    _, w = await asyncio.open_connection("127.0.0.1", gw.port)
    w.close()
    deadline = time.monotonic() + scaled(10)
    while True:
        conns = await metric(gw.port, "sluice_connections")
        if conns <= 3:
            break
        check(time.monotonic() < deadline, f"{conns} connections still open")
        await asyncio.sleep(0.1)
    total = await metric(gw.port, "sluice_connections_total")
    check(total >= CHURN_CONNS, f"only {total} connections counted")

    await asyncio.sleep(scaled(3))
    after = rss_kib(gw.pid)
    print(f"flood: gateway VmRSS {base} KiB before, {after} KiB after")
    if sanitized(gw.pid):
        print("flood: sanitized build, RSS bound not checked (quarantine)")
    else:
        check(after <= base + RSS_SLACK_KIB,
              f"gateway RSS grew from {base} to {after} KiB")


async def connections_over_the_limit_get_503(h):
    gw = await h.start("--max-connections", "5", workers=[1])
    clients = [await h.client(gw) for _ in range(5)]

    def refused():
        try:
            ws_handshake(gw.port)
        except AssertionError as e:
            return str(e)
        return None
    err = await asyncio.to_thread(refused)
    check(err and "503" in err, f"6th connection not refused with 503: {err}")
    line = await wait_log(gw, "CLI-REFUSED")
    check("limit=5" in line, f"log line: {line}")
    check(await metric(gw.port, "sluice_connections_refused_total") == 1,
          "refusal not counted")
    # The five still work; when one leaves, a new one gets in.
    check(await clients[4].run("echo", [7]) == [7], "existing client broken")
    await clients[0].close()
    h.clients.remove(clients[0])
    deadline = time.monotonic() + scaled(5)
    while True:
        try:
            c = await h.client(gw)
            break
        except websockets.InvalidStatusCode as e:
            check(e.status_code == 503, f"refused with {e.status_code}")
            check(time.monotonic() < deadline, "no slot after a client left")
            await asyncio.sleep(0.05)
    check(await c.run("echo", [8]) == [8], "the new client does not work")


LOG_FLOOD_FRAMES = 2000   # bad frames on one connection
LOG_FLOOD_UPGRADES = 300  # upgrades refused with 503
LOG_RATE = 10             # sl_log: lines of one id per second, then counted


async def refused_upgrades(port, n):
    """n WebSocket handshakes, each answered 503; returns how many."""
    refused = 0
    for _ in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), scaled(10))
        refused += head.startswith(b"HTTP/1.1 503")
        w.close()
    return refused


async def a_flood_of_bad_frames_and_refusals_logs_a_bounded_number_of_lines(h):
    """Each bad frame (CLI-BADMSG, info) and refused upgrade (CLI-REFUSED,
    notice) used to be one log line: thousands a second. Now each id
    writes at most 10 lines a second and one "N more suppressed" line per
    window; no event goes uncounted."""
    gw = await h.start("--max-connections", "2", workers=[1])
    c = await h.client(gw)
    raw, _ = await asyncio.to_thread(ws_handshake, gw.port)  # the 2nd
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(raw, ws_frame("{not json") * LOG_FLOOD_FRAMES)
    refused = await refused_upgrades(gw.port, LOG_FLOOD_UPGRADES)
    check(refused == LOG_FLOOD_UPGRADES, f"only {refused} refused with 503")
    # Every event counted, as a line or in a report (a window's report
    # comes once it has ended: up to a second after its last event).
    deadline = time.monotonic() + scaled(20)
    while True:
        bad = log_events(gw, "CLI-BADMSG")
        ref = log_events(gw, "CLI-REFUSED")
        if (len(bad[0]) + bad[1] >= LOG_FLOOD_FRAMES
                and len(ref[0]) + ref[1] >= LOG_FLOOD_UPGRADES):
            break
        check(time.monotonic() < deadline,
              f"events not all logged or counted: CLI-BADMSG {len(bad[0])} "
              f"lines + {bad[1]} suppressed, CLI-REFUSED {len(ref[0])} + "
              f"{ref[1]}")
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - t0
    raw.close()
    check(await c.run("echo", [1]) == [1], "gateway unusable after the flood")
    # At most 10 lines plus one report per window, a window per second
    # (plus one started at the end).
    bound = (LOG_RATE + 1) * (int(elapsed) + 2)
    for name, (lines, suppressed), total in (
            ("CLI-BADMSG", bad, LOG_FLOOD_FRAMES),
            ("CLI-REFUSED", ref, LOG_FLOOD_UPGRADES)):
        print(f"flood: {name}: {total} events in {elapsed:.1f} s: "
              f"{len(lines)} lines, {suppressed} suppressed")
        check(len(lines) + suppressed == total,
              f"{name}: {len(lines)} lines + {suppressed} suppressed != "
              f"{total}")
        check(len(lines) <= bound, f"{name}: {len(lines)} lines in "
                                   f"{elapsed:.1f} s (bound {bound})")
        check(suppressed > 0, f"{name}: nothing suppressed")
    check(len(gw.log().splitlines()) < 4 * bound,
          f"{len(gw.log().splitlines())} log lines in all")


LOG_FLOOD_BIG_HEADERS = 300  # requests over lws' header space


async def oversized_headers_log_a_bounded_number_of_lines(h):
    """lws logs "Ran out of header data space" at error level for each
    request whose headers do not fit: one line per request, at will and
    unauthenticated. lws' lines are rate-limited at every level."""
    gw = await h.start()
    t0 = time.monotonic()
    for _ in range(LOG_FLOOD_BIG_HEADERS):
        r, w = await asyncio.open_connection("127.0.0.1", gw.port)
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000
                + b"\r\n\r\n")
        try:
            await asyncio.wait_for(r.read(100), scaled(10))
        except (ConnectionError, asyncio.TimeoutError):
            pass
        w.close()
    deadline = time.monotonic() + scaled(20)
    while True:
        lines, suppressed = log_events(gw, "LWS")
        if suppressed:
            break
        check(time.monotonic() < deadline,
              f"nothing suppressed: {len(lines)} LWS lines for "
              f"{LOG_FLOOD_BIG_HEADERS} requests")
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - t0
    bound = (LOG_RATE + 1) * (int(elapsed) + 2)
    print(f"flood: LWS: {LOG_FLOOD_BIG_HEADERS} requests in {elapsed:.1f} s: "
          f"{len(lines)} lines, {suppressed} suppressed")
    check(len(lines) <= bound,
          f"LWS: {len(lines)} lines in {elapsed:.1f} s (bound {bound})")
    await healthz(gw.port)  # still served


FD_LIMIT = 256        # the gateway's RLIMIT_NOFILE, soft and hard
FD_CLIENTS_MAX = 400  # more idle clients than that could ever hold
CPU_SHARE_MAX = 0.25  # of one core while idle clients sit (spinning: ~1)
LOG_LINES_MAX = 200   # the old spin wrote ~100,000 lines a second


async def healthz(port, timeout=5):
    """GET /healthz; its answer, or an AssertionError if none comes in
    time (a gateway out of descriptors never accepts the connection)."""
    async def get():
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Connection: close\r\n\r\n")
        data = await r.read()
        w.close()
        return data
    try:
        data = await asyncio.wait_for(get(), scaled(timeout))
    except (asyncio.TimeoutError, OSError) as e:
        raise AssertionError(f"/healthz unanswered in {scaled(timeout):.0f} "
                             f"s: {e!r}") from None
    check(data.startswith(b"HTTP/1.1 200"), f"/healthz: {data[:100]!r}")
    return data


async def cpu_share(pid, seconds=2.0):
    """The share of one core pid used over the next seconds."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


async def few_descriptors_lower_the_connection_limit_and_nothing_spins(h):
    """ulimit -n 256 with the default --max-connections 1024: clients once
    used up the descriptors before the 503 refusal began, and lws then spun
    on accept() failing with EMFILE; /healthz hung. Now the limit is
    lowered to what fits (GW-FDS), the client after it gets 503, and the
    gateway idles and answers."""
    gw = await h.gateway(rlimits={resource.RLIMIT_NOFILE: (FD_LIMIT,
                                                           FD_LIMIT)})

    def open_until_refused():
        socks = []
        try:
            while len(socks) < FD_CLIENTS_MAX:
                try:
                    socks.append(ws_handshake(gw.port, timeout=5)[0])
                except AssertionError as e:
                    return socks, str(e)
                except OSError as e:  # not answered at all
                    return socks, repr(e)
            return socks, None
        except BaseException:
            for s in socks:
                s.close()
            raise
    socks, why = await asyncio.to_thread(open_until_refused)
    try:
        print(f"fds: {len(socks)} idle clients, then: {why}")
        share = await cpu_share(gw.pid)
        print(f"fds: gateway CPU {share:.0%} of a core with the clients idle")
        check(share < CPU_SHARE_MAX, f"gateway busy: {share:.0%} of a core")
        await healthz(gw.port)
        n = len(gw.log().splitlines())
        check(n < LOG_LINES_MAX, f"{n} log lines")
        check(why and "503" in why, f"client {len(socks) + 1}: {why}")
        m = re.search(r"GW-FDS --max-connections 1024 lowered to (\d+)",
                      gw.log())
        check(m, "no GW-FDS warning about the lowered limit")
        check(len(socks) == int(m.group(1)),
              f"{len(socks)} clients, limit lowered to {m.group(1)}")
    finally:
        for s in socks:
            s.close()


async def connections_past_the_descriptor_limit_are_shed_not_spun_on(h):
    """Bare TCP connections (no request) hold a descriptor each, whatever
    --max-connections says; past the limit, accept() fails. The waiting
    ones are then accepted and closed at once (the spare descriptor), so
    the gateway neither spins nor floods its log, and serves again when
    the connections go."""
    gw = await h.gateway(rlimits={resource.RLIMIT_NOFILE: (FD_LIMIT,
                                                           FD_LIMIT)})
    socks = []
    try:
        for _ in range(FD_CLIENTS_MAX):
            s = socket.socket()
            s.setblocking(False)
            socks.append(s)
            try:
                s.connect(("127.0.0.1", gw.port))
            except BlockingIOError:
                pass
        # Until the gateway has used up its descriptors.
        deadline = time.monotonic() + scaled(10)
        while len(os.listdir(f"/proc/{gw.pid}/fd")) < FD_LIMIT - 8:
            check(time.monotonic() < deadline,
                  f"gateway holds only {len(os.listdir(f'/proc/{gw.pid}/fd'))}"
                  f" descriptors")
            await asyncio.sleep(0.05)
        share = await cpu_share(gw.pid)
        print(f"fds: gateway CPU {share:.0%} of a core past the limit")
        check(share < CPU_SHARE_MAX, f"gateway busy: {share:.0%} of a core")
        check(gw.running(), "gateway died")
        n = len(gw.log().splitlines())
        check(n < LOG_LINES_MAX, f"{n} log lines")
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + scaled(10)
    while True:
        try:
            await healthz(gw.port, timeout=2)
            break
        except AssertionError:
            check(time.monotonic() < deadline,
                  "/healthz unanswered after the connections left")
    shed = log_events(gw, "GW-FDS")
    print(f"fds: {len(shed[0])} GW-FDS lines, {shed[1]} suppressed")
    check(any("out of file descriptors" in line for line in shed[0]),
          "shedding not logged")
    n = len(gw.log().splitlines())
    check(n < LOG_LINES_MAX, f"{n} log lines")


run([connections_over_the_limit_get_503,
     few_descriptors_lower_the_connection_limit_and_nothing_spins,
     connections_past_the_descriptor_limit_are_shed_not_spun_on,
     a_flood_of_bad_frames_and_refusals_logs_a_bounded_number_of_lines,
     oversized_headers_log_a_bounded_number_of_lines,
     flood_leaves_the_gateway_responsive_and_its_memory_bounded],
    test_timeout=240)
