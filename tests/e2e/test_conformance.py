#!/usr/bin/python3
"""RFC 6455 where lws 4.1.6 lets things through and the gateway can see
them (gw_hs): Sec-WebSocket-Version other than 13 -> 426 with
"Sec-WebSocket-Version: 13", a missing or malformed Sec-WebSocket-Key ->
400, a peer's close code >= 5000 answered with 1002 (not echoed), a
half close code dropped, "Upgrade: h2c" answered as plain HTTP/1.1 (not
switched to HTTP/2). Raw sockets against a real gateway on loopback."""

import asyncio
import base64
import os
import socket
import time

from harness import (check, read_to_eof, run, scaled, wait_log, ws_frame,
                     ws_handshake, ws_parse)

GOOD_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def raw_request(port, request, timeout=10):
    """Send request bytes; read the response head (and, unless it is a 101,
    its content-length body). Returns (status, lower-cased headers, body)."""
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=scaled(timeout)) as sock:
        sock.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            check(chunk, f"closed before a response head: {buf!r}")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].startswith("HTTP/1.1 "), f"not HTTP/1.1: {lines[0]!r}")
        status = int(lines[0].split(" ")[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = 0 if status == 101 else int(hdrs.get("content-length", "0"))
        while len(body) < want:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    return status, hdrs, body


def upgrade(port, version="13", key=GOOD_KEY):
    """An upgrade request; version/key None: header left out."""
    req = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\n")
    if key is not None:
        req += f"Sec-WebSocket-Key: {key}\r\n"
    if version is not None:
        req += f"Sec-WebSocket-Version: {version}\r\n"
    return (req + "\r\n").encode()


async def labelled(port, name, label):
    """The value of name{label} in /metrics."""
    _, _, body = await asyncio.to_thread(
        raw_request, port,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for line in body.decode().splitlines():
        if line.startswith(f"{name}{{{label}}} "):
            return float(line.split()[1])
    raise AssertionError(f"no {name}{{{label}}} in /metrics")


async def handshake_version_and_key(h):
    gw = await h.start()
    # The good handshake still upgrades.
    status, hdrs, _ = await asyncio.to_thread(raw_request, gw.port,
                                              upgrade(gw.port))
    check(status == 101, f"good handshake: {status}")
    for version in ("8", "12", "14", "", None):
        status, hdrs, body = await asyncio.to_thread(
            raw_request, gw.port, upgrade(gw.port, version=version))
        check(status == 426, f"version {version!r}: got {status}, want 426")
        check(hdrs.get("sec-websocket-version") == "13",
              f"version {version!r}: 426 without Sec-WebSocket-Version: 13: "
              f"{hdrs}")
        check(b"13" in body, f"426 body: {body!r}")
    bad_keys = ["abc", "", None, GOOD_KEY[:-1], GOOD_KEY + "=",
                "dGhlIHNhbXBsZSBub25jZQAA", "dGhlIHNhbXBsZSBub25j!Q==",
                base64.b64encode(os.urandom(17)).decode(),
                base64.b64encode(os.urandom(15)).decode(), "A" * 200]
    for key in bad_keys:
        status, hdrs, body = await asyncio.to_thread(
            raw_request, gw.port, upgrade(gw.port, key=key))
        check(status == 400, f"key {key!r}: got {status}, want 400")
    check(await labelled(gw.port, "sluice_ws_protocol_errors_total",
                         'kind="version"') == 5, "version refusals not counted")
    check(await labelled(gw.port, "sluice_ws_protocol_errors_total",
                         'kind="key"') == len(bad_keys),
          "key refusals not counted")
    await wait_log(gw, "CLI-BADHS")
    # ... and nothing of it disturbed a well-formed client.
    c = await h.client(gw)
    check(await c.run("echo", [1, 2]) is not None, "echo")


async def close_exchange(port, payload):
    """Handshake, send a close frame with payload, return the server's
    frames up to EOF."""
    sock, rest = await asyncio.to_thread(ws_handshake, port)
    with sock:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, ws_frame(payload, opcode=0x8))
        data, _ = await read_to_eof(sock)
    frames, _ = ws_parse(rest + data)
    return frames


async def close_codes(h):
    gw = await h.start()
    for code in (1000, 1001, 1011, 3000, 4999):
        frames = await close_exchange(gw.port, code.to_bytes(2, "big") + b"r")
        closes = [p for op, p in frames if op == 0x8]
        check(closes and int.from_bytes(closes[0][:2], "big") == code,
              f"valid close {code} not echoed: {frames}")
    for code in (5000, 6000, 65535, 999, 1005, 2999):
        frames = await close_exchange(gw.port, code.to_bytes(2, "big"))
        closes = [p for op, p in frames if op == 0x8]
        check(closes, f"close {code}: no close frame back: {frames}")
        got = int.from_bytes(closes[0][:2], "big")
        check(got == 1002, f"close {code} answered with {got}, want 1002")
    # Half a code: the connection fails; never a 1-byte close echoed.
    frames = await close_exchange(gw.port, b"\x03")
    check(all(op != 0x8 or len(p) != 1 for op, p in frames),
          f"1-byte close echoed: {frames}")
    check(await labelled(gw.port, "sluice_ws_protocol_errors_total",
                         'kind="close_code"') == 4,
          "bad close codes not counted (5000, 6000, 65535, 1-byte)")
    await wait_log(gw, "CLI-BADCLOSE")
    c = await h.client(gw)
    check(await c.run("echo", [3]) == [3], "echo after bad closes")


async def h2c_is_served_as_http1(h):
    gw = await h.gateway()
    req = (f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n"
           f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
           f"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n").encode()
    status, hdrs, body = await asyncio.to_thread(raw_request, gw.port, req)
    check(status == 200, f"h2c upgrade: got {status} {hdrs}, want a plain "
                         f"HTTP/1.1 200")
    check(body.startswith(b"ok"), f"/healthz body: {body!r}")
    check("upgrade" not in hdrs, f"upgrade header in the answer: {hdrs}")


async def _metric(port, name):
    _, _, body = await asyncio.to_thread(
        raw_request, port,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def h2c_counted(h):
    gw = await h.gateway()
    req = (f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n"
           f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: H2C\r\n"
           f"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n").encode()
    status, _, body = await asyncio.to_thread(raw_request, gw.port, req)
    check(status == 503 and b"no workers" in body,
          f"h2c /readyz: {status} {body!r}")
    check(await _metric(gw.port, "sluice_h2c_upgrades_ignored_total") == 1,
          "h2c not counted")


if __name__ == "__main__":
    run([handshake_version_and_key, close_codes, h2c_is_served_as_http1,
         h2c_counted])
