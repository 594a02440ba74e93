#!/usr/bin/python3
"""Limits every client shares, and one client (or address) must not use
up: --max-connections-per-address (429 at the handshake, so one address
holding connections cannot lock another out) and --max-queued-per-client
(one connection, or one token's connections, cannot fill the job queue
for everyone). A second source address comes from binding the client
socket to 127.0.0.2 (loopback answers all of 127.0.0.0/8). Real gateway
and workers on loopback."""

import asyncio
import json
import socket
import time

import websockets

from harness import (Client, check, metric, read_to_eof, run, scaled, wait_log,
                     ws_frame, ws_handshake, ws_parse, ws_upgrade)

TOK_A = "shared-limits-token-alpha-0123"
TOK_B = "shared-limits-token-bravo-4567"


def upgrade_from(src, port, timeout=10):
    """A WebSocket upgrade from source address src. Returns (status,
    socket or None, the response as far as read): the socket stays open
    after a 101, for the caller to close."""
    status, sock, head, rest = ws_upgrade(port, timeout=timeout, source=src)
    return status, sock, head + b"\r\n\r\n" + rest


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


def has_pong(data):
    return any(op == 1 and b'"pong"' in p for op, p in ws_parse(data)[0])


def drain(sock, timeout, until=None):
    """Read what sock has within timeout (or until until(bytes read)):
    (bytes, closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while until is None or not until(data):
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
        return data, False
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def send_or_closed(sock, data):
    """sendall, or False if the gateway has closed the connection."""
    sock.setblocking(True)
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


async def buffer_cap_closes_the_biggest_holders(h):
    cap = 4 << 20
    gw = await h.start("--max-buffered-bytes", str(cap),
                       "--max-frame-bytes", str(1 << 20))
    # Small holders: a ping cut in two fragments, the end held back.
    small_text = '{"type":"ping","data":"' + "s" * 100000 + '"}'
    smalls = []
    for _ in range(4):
        sock, _ = await asyncio.to_thread(ws_handshake, gw.port)
        check(await asyncio.to_thread(send_or_closed, sock,
                                      ws_frame(small_text[:-10], fin=False)),
              "small holder closed while sending")
        smalls.append(sock)
    # Big holders: 700 kB of an unfinished message each (a 1 MiB buffer
    # in the gateway); 8 of them would hold 8 MiB, twice the cap.
    bigs = []
    for _ in range(8):
        sock, _ = await asyncio.to_thread(ws_handshake, gw.port)
        await asyncio.to_thread(send_or_closed, sock,
                                ws_frame("b" * 700000, fin=False))
        bigs.append(sock)
    # The gateway reads everything, then holds at most the cap.
    deadline = time.monotonic() + scaled(10)
    while await metric(gw.port, "sluice_buffer_cap_closed_total") < 5:
        check(time.monotonic() < deadline, "biggest holders not closed")
        await asyncio.sleep(0.1)
    held = await metric(gw.port, "sluice_buffered_bytes")
    check(held <= cap, f"{held} bytes buffered, cap {cap}")
    closed, seen_1009, open_bigs = 0, 0, 0
    for sock in bigs:
        data, eof = await asyncio.to_thread(drain, sock, scaled(1))
        frames, _ = ws_parse(data)
        codes = [int.from_bytes(p[:2], "big") for op, p in frames if op == 8]
        check(codes in ([], [1009]), f"big holder closed with {codes}")
        if eof or codes:
            # A close with our unread bytes still in the gateway's socket
            # may reach us as a reset before the close frame: count it.
            closed += 1
            seen_1009 += bool(codes)
        else:
            open_bigs += 1
        sock.close()
    check(closed >= 5 and open_bigs <= 3 and seen_1009 >= 1,
          f"{closed} big holders closed ({seen_1009} close frames 1009 "
          f"seen), {open_bigs} open")
    # The small holders were never the biggest: they finish their ping.
    for sock in smalls:
        check(await asyncio.to_thread(send_or_closed, sock,
                                      ws_frame(small_text[-10:], opcode=0)),
              "a small holder was closed")
        data, _ = await asyncio.to_thread(drain, sock, scaled(5), has_pong)
        check(has_pong(data), f"small holder got no pong: {data[:200]!r}")
        sock.close()
    line = await wait_log(gw, "CLI-BUFCAP")
    check("incoming" in line, f"log: {line}")
    c = await h.client(gw)
    check(await c.run("echo", [1, 2, 3]) == [1, 2, 3], "fresh client")
    deadline = time.monotonic() + scaled(10)
    while await metric(gw.port, "sluice_buffered_bytes") > 65536:
        check(time.monotonic() < deadline, "buffers not given back")
        await asyncio.sleep(0.1)


async def buffer_cap_closes_a_big_out_queue_with_1008(h):
    mib = 1 << 20
    # Per connection, A could queue 8 MiB before --max-out-bytes and 30 s
    # before --stall-ms; the total cap (1 MiB) comes first.
    gw = await h.start("--max-buffered-bytes", str(mib), "--max-out-bytes",
                       str(8 * mib), "--out-high-bytes", str(4 * mib),
                       "--out-low-bytes", str(mib), "--stall-ms", "30000",
                       workers=[2])
    b = await h.client(gw)
    sock, _ = await asyncio.to_thread(ws_handshake, gw.port, rcvbuf=4096)
    loop = asyncio.get_running_loop()
    # Control characters are escaped as \u0001: 6 bytes of JSON each, so
    # A is owed ~13 MB it never reads. Each message is ~200 kB: its
    # receive buffer (256 KiB) stays well below the cap, so what passes
    # the cap is A's output (a message about the size of the cap would
    # pass it incoming).
    item = "\x01" * 1365
    try:
        for k in range(64):
            msg = json.dumps({"type": "submit", "id": f"a{k}", "task": "echo",
                              "items": [item] * 25})
            await loop.sock_sendall(sock, ws_frame(msg))
    except (BrokenPipeError, ConnectionResetError):
        pass  # already closed
    line = await wait_log(gw, "CLI-BUFCAP", timeout=20)
    check("outgoing" in line, f"log: {line}")
    check(await metric(gw.port, "sluice_buffer_cap_closed_total") >= 1,
          "not counted")
    data, _ = await read_to_eof(sock, timeout=20)
    sock.close()
    closes = [p for op, p in ws_parse(data)[0] if op == 8]
    check(not closes or (int.from_bytes(closes[0][:2], "big") == 1008
                         and b"memory cap" in closes[0]),
          f"close frame {closes[:1]}, want 1008 memory cap")
    check(await b.run("echo", [4, 5]) == [4, 5], "the other client")
    check(await metric(gw.port, "sluice_buffered_bytes") <= mib,
          "over the cap after the close")


async def buffer_cap_spares_everyone_for_a_message_being_acted_on(h):
    """A message's receive buffer is freed as soon as it has been acted on:
    frames the broker sends meanwhile (here to a watcher of the request's
    channel) must not close connections for it. Before, the submitter was
    closed ("outgoing queue dropped", 1008) the moment the watcher's copy
    of its accepted frame passed the cap, though its 1 MiB buffer was about
    to be freed; had that not been enough, the cap went on to the next
    holder, since a closed submitter's buffer still counted."""
    w_held, a_held = 1 << 19, 1 << 20  # the gateway's rx buffers: 2^n
    # The two buffers plus the submitter's own accepted frame fit; the
    # watcher's copy of it does not.
    cap = w_held + a_held + 100
    gw = await h.start("--max-buffered-bytes", str(cap),
                       "--max-frame-bytes", str(1 << 20))
    w, _ = await asyncio.to_thread(ws_handshake, gw.port)
    check(await asyncio.to_thread(
        send_or_closed, w, ws_frame('{"type":"subscribe","channel":"ch"}')),
        "watcher closed")
    data, _ = await asyncio.to_thread(
        drain, w, scaled(5), lambda d: b'"subscribed"' in d)
    check(b'"subscribed"' in data, f"not subscribed: {data[:200]!r}")
    # the watcher holds an unfinished message: a 512 KiB buffer
    check(await asyncio.to_thread(send_or_closed, w,
                                  ws_frame("w" * 300000, fin=False)),
          "watcher closed while sending")
    deadline = time.monotonic() + scaled(10)
    while await metric(gw.port, "sluice_buffered_bytes") < w_held:
        check(time.monotonic() < deadline, "watcher's fragment not read")
        await asyncio.sleep(0.05)
    # the submitter's message: ~600 kB, a 1 MiB buffer
    a, _ = await asyncio.to_thread(ws_handshake, gw.port)
    msg = json.dumps({"type": "submit", "id": "a1", "task": "echo",
                      "notify": "ch", "items": ["x" * 1000] * 600})
    check(await asyncio.to_thread(send_or_closed, a, ws_frame(msg)),
          "submitter closed while sending")
    data, closed = await asyncio.to_thread(
        drain, a, scaled(5), lambda d: b'"accepted"' in d)
    check(b'"accepted"' in data and not closed,
          f"submitter: {data[:200]!r} closed={closed}")
    data, closed = await asyncio.to_thread(
        drain, w, scaled(5), lambda d: b'"accepted"' in d)
    check(b'"accepted"' in data and b'"ch"' in data and not closed,
          f"watcher: {data[:200]!r} closed={closed}")
    check(await metric(gw.port, "sluice_buffer_cap_closed_total") == 0,
          "connections closed by the memory cap")
    a.close()
    w.close()


if __name__ == "__main__":
    run([one_address_cannot_lock_out_another,
         one_connection_cannot_fill_the_queue, one_token_shares_one_quota,
         buffer_cap_closes_the_biggest_holders,
         buffer_cap_closes_a_big_out_queue_with_1008,
         buffer_cap_spares_everyone_for_a_message_being_acted_on])
