#!/usr/bin/python3
"""Limits every client shares, and one client (or address) must not use
up: --max-connections-per-address (429 at the handshake, so one address
holding connections cannot lock another out) and --max-queued-per-client
(one connection, or one token's connections, cannot fill the job queue
for everyone). A second source address comes from binding the client
socket to 127.0.0.2 (loopback answers all of 127.0.0.0/8). Real gateway
and workers on loopback."""

import asyncio
import base64
import os
import socket
import time

import websockets

from harness import Client, check, metric, run, scaled, wait_log

TOK_A = "shared-limits-token-alpha-0123"
TOK_B = "shared-limits-token-bravo-4567"


def upgrade_from(src, port, timeout=10):
    """A WebSocket upgrade from source address src. Returns (status,
    socket or None): the socket stays open after a 101, for the caller to
    close."""
    sock = socket.create_connection(("127.0.0.1", port),
                                    timeout=scaled(timeout),
                                    source_address=(src, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    check(buf.startswith(b"HTTP/1.1 "), f"no HTTP answer: {buf!r}")
    status = int(buf.split(b" ", 2)[1])
    if status != 101:
        sock.close()
        return status, None, buf
    return status, sock, buf


async def one_address_cannot_lock_out_another(h):
    gw = await h.start("--max-connections", "8",
                       "--max-connections-per-address", "4")
    held, statuses = [], []
    # 127.0.0.1 tries to take all 8 places: it gets its 4.
    for _ in range(8):
        status, sock, buf = await asyncio.to_thread(upgrade_from, "127.0.0.1",
                                                    gw.port)
        statuses.append(status)
        if sock:
            held.append(sock)
        else:
            check(b"this address" in buf, f"429 without a reason: {buf!r}")
    check(statuses == [101] * 4 + [429] * 4,
          f"one address: {statuses}, want 4 upgrades then 429s")
    line = await wait_log(gw, "CLI-ADDRFULL")
    check("addr=127.0.0.1" in line and "limit=4" in line, f"log: {line}")
    # Another address still gets in, up to its own 4.
    for _ in range(4):
        status, sock, _ = await asyncio.to_thread(upgrade_from, "127.0.0.2",
                                                  gw.port)
        check(status == 101, f"127.0.0.2 locked out: {status}")
        held.append(sock)
    check(await metric(gw.port, "sluice_connections_refused_address_total")
          == 4, "429s not counted")
    # When one of the first address's connections ends, it has a place.
    held.pop(0).close()
    deadline = time.monotonic() + scaled(5)
    while True:
        status, sock, _ = await asyncio.to_thread(upgrade_from, "127.0.0.1",
                                                  gw.port)
        if sock:
            held.append(sock)
            break
        check(status == 429 and time.monotonic() < deadline,
              f"no place after a close: {status}")
        await asyncio.sleep(0.05)
    for s in held:
        s.close()


async def submit_300(c, req_id):
    """Submit 300 items; return the first frame answering req_id."""
    mark = c.mark()
    await c.submit(req_id, "echo", list(range(300)))
    f, _ = await c.wait_frame(lambda f: f.get("id") == req_id, mark,
                              what=f"answer to {req_id}")
    return f


# No worker: every accepted item stays queued, so the numbers are exact.
QUEUE_ARGS = ("--max-queued-jobs", "1000", "--max-queued-per-client", "400",
              "--max-items", "300", "--drain-ms", "100")


async def one_connection_cannot_fill_the_queue(h):
    gw = await h.gateway(*QUEUE_ARGS)
    greedy, other = await h.client(gw), await h.client(gw)
    answers = [await submit_300(greedy, f"g{i}") for i in range(4)]
    kinds = [a["type"] for a in answers]
    check(kinds == ["accepted", "error", "error", "error"],
          f"greedy connection: {kinds}")
    err = answers[1]
    check(err["code"] == "queue_full" and "connection's share" in err["message"],
          f"share refusal: {err}")
    # The queue holds 300 of 1000: the other connection gets its share.
    for i in range(1):
        a = await submit_300(other, f"o{i}")
        check(a["type"] == "accepted", f"other client refused: {a}")
    check(await metric(gw.port, "sluice_queue_share_refused_total") == 3,
          "share refusals not counted")
    # Cancelling gives the greedy connection its share back.
    mark = greedy.mark()
    await greedy.send({"type": "cancel", "id": "g0"})
    await greedy.wait_frame(lambda f: f["type"] == "done", mark)
    a = await submit_300(greedy, "g9")
    check(a["type"] == "accepted", f"share not given back: {a}")


async def connect_with(gw, token):
    ws = await asyncio.wait_for(websockets.connect(
        gw.url, extra_headers={"Authorization": f"Bearer {token}"},
        compression=None), scaled(10))
    return Client(ws)


async def one_token_shares_one_quota(h):
    gw = await h.gateway(*QUEUE_ARGS, env={"SLUICE_TOKENS": f"{TOK_A},{TOK_B}"})
    a1, a2, b = [await connect_with(gw, t) for t in (TOK_A, TOK_A, TOK_B)]
    h.clients += [a1, a2, b]
    check((await submit_300(a1, "a1"))["type"] == "accepted", "a1")
    err = await submit_300(a2, "a2")
    check(err["type"] == "error" and err["code"] == "queue_full"
          and "token's share" in err["message"],
          f"a second connection of the same token got past its share: {err}")
    check((await submit_300(b, "b"))["type"] == "accepted",
          "another token's client refused")


if __name__ == "__main__":
    run([one_address_cannot_lock_out_another,
         one_connection_cannot_fill_the_queue, one_token_shares_one_quota])
