#!/usr/bin/python3
"""Slow readers get backpressure, clients that stop reading or stop
answering pings are closed, and nobody else notices either."""
import asyncio
import json
import socket
import time

import websockets

from harness import (check, check_request, read_to_eof, rss_kib, run, scaled,
                     wait_log, wait_pong, ws_frame, ws_handshake, ws_parse)

MIB = 1 << 20


async def slow_reader_gets_backpressure_not_punishment(h):
    gw = await h.gateway("--out-high-bytes", "16384",
                         "--out-low-bytes", "4096",
                         "--max-out-bytes", str(4 * MIB),
                         "--max-frame-bytes", str(16 * MIB))  # A's submit
    h.worker(gw, 2)
    await h.wait_workers(gw, 1)
    # A: a small receive buffer and a one-message queue, so that reading
    # slowly really holds the gateway back.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.connect(("127.0.0.1", gw.port))
    sock.setblocking(False)
    a = await asyncio.wait_for(websockets.connect(
        gw.url, sock=sock, compression=None, max_size=None, max_queue=1),
        scaled(10))
    b = await h.client(gw)
    # 400 results of 32 KB: 12.5 MB, well past what loopback socket
    # buffers absorb (a few MB) plus --max-out-bytes. Without backpressure
    # the gateway would queue the rest for A and close it with 1008.
    item = "y" * 32768
    await a.send(json.dumps({"type": "submit", "id": "a1", "task": "echo",
                             "items": [item] * 400}))
    frames_a, b_task = [], None
    t_a_done = None
    while True:
        try:
            msg = await asyncio.wait_for(a.recv(), scaled(20))
        except websockets.ConnectionClosed:
            raise AssertionError(f"A was closed ({a.close_code} "
                                 f"{a.close_reason!r}) after "
                                 f"{len(frames_a)} frames") from None
        f = json.loads(msg)
        frames_a.append((f, time.monotonic()))
        if f["type"] == "result" and b_task is None:
            # B arrives while A is being held back.
            b_task = asyncio.create_task(
                b.submit_and_collect("b1", "sleep", [100] * 10))
        if f["type"] in ("done", "error") and "seq" not in f:
            t_a_done = time.monotonic()
            break
        await asyncio.sleep(0.005)  # a slow reader
    check(check_request(frames_a, 400) == [item] * 400,
          f"A: {[f for f, _ in frames_a][-3:]}")
    check(frames_a[-1][0]["ok"] == 400, f"{frames_a[-1][0]}")
    frames_b, t0_b = await b_task
    check(check_request(frames_b, 10) == [100] * 10, f"B: {frames_b}")
    t_b_done = frames_b[-1][1]
    check(t_b_done - t0_b < scaled(3), f"B took {t_b_done - t0_b:.2f} s")
    check(t_b_done < t_a_done,
          f"B ended {t_b_done - t_a_done:.2f} s after A: A did not read "
          f"slowly enough to test anything")
    # A's jobs were paced by its reading: the last one ended late.
    reading = t_a_done - frames_a[0][1]
    elapsed = frames_a[-1][0]["elapsed_ms"] / 1000
    check(elapsed > reading / 2, f"A's items were all computed {elapsed:.2f} "
                                 f"s after the submit, A read for "
                                 f"{reading:.2f} s")
    check(a.close_code is None, f"A closed: {a.close_code} {a.close_reason}")
    pong, _ = await b.ping()
    check(pong["running"] == 0 and pong["queued"] == 0, f"{pong}")
    await a.close()
    log = gw.log()
    check("CLI-PAUSE" in log and "CLI-RESUME" in log,
          "the gateway never held A's jobs back (no CLI-PAUSE/CLI-RESUME)")
    check("CLI-SLOW" not in log and "CLI-STALL" not in log,
          "the gateway treated a slow reader as a dead one")


def sanitized(pid):
    """True if the process runs with AddressSanitizer (its RSS means
    little: freed memory sits in quarantine)."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


async def sample_rss(pid, samples):
    while True:
        try:
            samples.append(rss_kib(pid))
        except (OSError, AssertionError):
            return
        await asyncio.sleep(0.02)


async def client_that_never_reads_is_closed(h):
    gw = await h.gateway("--max-out-bytes", str(MIB), "--out-high-bytes",
                         str(256 << 10), "--out-low-bytes", str(64 << 10),
                         "--stall-ms", "2000")
    h.worker(gw, 2)
    await h.wait_workers(gw, 1)
    b = await h.client(gw)
    await b.ping()
    base = rss_kib(gw.pid)
    samples = []
    sampler = asyncio.create_task(sample_rss(gw.pid, samples))
    # 4000 items of 8 KB JSON each, in 32 submits (each under the 1 MiB
    # message limit). The items are control characters, escaped as
    # \u0001 in JSON: the gateway stores 1.3 KB per item but owes the
    # client 32 MB of JSON, so a send queue without a cap would show.
    item = "\x01" * 1365
    sock, _ = await asyncio.to_thread(ws_handshake, gw.port)
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    for k in range(32):
        msg = json.dumps({"type": "submit", "id": f"a{k}", "task": "echo",
                          "items": [item] * 125})
        check(len(msg) < MIB, f"{len(msg)} bytes")
        await loop.sock_sendall(sock, ws_frame(msg))
    # Meanwhile another client is served as usual.
    frames, t0_b = await b.submit_and_collect("b1", "sleep", [200] * 6)
    check(check_request(frames, 6) == [200] * 6, f"B: {frames}")
    check(frames[-1][1] - t0_b < scaled(3),
          f"B took {frames[-1][1] - t0_b:.2f} s")
    # The gateway gives up on A: no reading progress for 2 s.
    why = await wait_log(gw, ("CLI-STALL", "CLI-SLOW"), timeout=10)
    data, t_eof = await read_to_eof(sock, timeout=10)
    sock.close()
    sampler.cancel()
    check(t_eof - t0 < scaled(10), f"A closed {t_eof - t0:.1f} s after its "
                                   f"submits")
    got, _ = ws_parse(data)
    texts = [json.loads(p) for op, p in got if op == 1]
    done = sum(f["type"] == "done" for f in texts)
    check(done < 32, f"A got {len(texts)} frames, {done} of 32 requests done, "
                     f"though it never read")
    closes = [p for op, p in got if op == 8]
    check(not closes or int.from_bytes(closes[0][:2], "big") == 1008,
          f"close frame {closes}, want 1008")
    check("CLI-STALL" in why, f"A's queue reached --max-out-bytes: its "
                              f"jobs were not held back: {why}")
    growth = (max(samples) - base) / 1024
    bound = 512 if sanitized(gw.pid) else 16
    check(growth < bound, f"gateway RSS grew by {growth:.1f} MiB (from "
                          f"{base / 1024:.1f}); want under {bound}")
    # A's requests were dropped with it; B carries on.
    pong = await wait_pong(b, lambda p: p["queued"] == 0 and p["running"] == 0,
                           what="A's jobs dropped")
    check(await b.run("echo", ["still here"]) == ["still here"], f"{pong}")


async def client_that_ignores_pings_is_closed(h):
    gw = await h.gateway("--ws-ping-secs", "1", "--ws-hangup-secs", "2")
    b = await h.client(gw)  # websockets answers pings by itself
    sock, rest = await asyncio.to_thread(ws_handshake, gw.port)
    t0 = time.monotonic()
    # Reading is not answering: this only collects the pings.
    data, t_eof = await read_to_eof(sock, timeout=6)
    sock.close()
    got, _ = ws_parse(rest + data)
    check(any(op == 9 for op, _ in got), f"closed without a ping: {got}")
    check(1.5 < t_eof - t0 < scaled(6),
          f"closed {t_eof - t0:.2f} s after the handshake (ping 1 s, "
          f"hangup 2 s)")
    # The client that answers pings outlives several ping intervals.
    await asyncio.sleep(max(0.0, t0 + 4 - time.monotonic()))
    check(not b.closed, f"a client that answers pings was closed: "
                        f"{b.ws.close_code} {b.ws.close_reason!r}")
    pong, _ = await b.ping("alive")
    check(pong["data"] == "alive", f"{pong}")


run([slow_reader_gets_backpressure_not_punishment,
     client_that_never_reads_is_closed, client_that_ignores_pings_is_closed])
