#!/usr/bin/python3
"""The msgpack WebSocket subprotocol, sluice.msgpack.v1: the client
protocol's frames as one binary msgpack map per message, both ways, values
kept as msgpack (bin stays bin); every refusal has the JSON protocol's code
(plus text_unsupported and bad_msgpack) and the connection carries on; JSON
and msgpack clients share one gateway."""

import asyncio
import sys
import time

import websockets

from harness import (Client, check, check_request, refusal_mismatch, run,
                     scaled)

try:
    import msgpack
except ImportError as e:
    print(f"e2e: cannot import msgpack ({e}); install python3-msgpack",
          file=sys.stderr)
    sys.exit(1)

MSGPACK = "sluice.msgpack.v1"
P = msgpack.packb


class MsgpackClient(Client):
    """A Client on sluice.msgpack.v1: a dict is sent as one binary message
    holding msgpack.packb(dict); a str as a text message, bytes as a
    binary one, a list as one fragmented message. Every message from the
    gateway is recorded unpacked; one that is text, not exactly one
    msgpack object or not a map is recorded as a frame of type "<text>",
    "<bad msgpack>" or "<not a map>" so that any check on it fails
    visibly (see no_junk)."""

    async def _read(self):
        try:
            async for msg in self.ws:
                t = time.monotonic()
                if isinstance(msg, str):
                    f = {"type": "<text>", "text": msg}
                else:
                    try:
                        f = msgpack.unpackb(msg, raw=False)
                    except Exception as e:  # noqa: BLE001 (any decoding error)
                        f = {"type": "<bad msgpack>", "raw": msg, "why": str(e)}
                    if not isinstance(f, dict):
                        f = {"type": "<not a map>", "value": f}
                self.frames.append((f, t))
                self._event.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._event.set()

    async def send(self, msg):
        await self.ws.send(P(msg) if isinstance(msg, dict) else msg)
        return time.monotonic()


def no_junk(c, what="msgpack client"):
    """Every message c received was one binary msgpack map."""
    junk = [f for f, _ in c.frames if str(f.get("type", "")).startswith("<")]
    check(not junk, f"{what}: messages that are not one binary msgpack map: "
                    f"{junk[:5]}")


async def msgpack_client(h, gw):
    """Connect asking for sluice.msgpack.v1; check the gateway chose it."""
    try:
        ws = await asyncio.wait_for(
            websockets.connect(gw.url, subprotocols=[MSGPACK],
                               compression=None, max_size=None), scaled(10))
    except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as e:
        raise AssertionError(f"handshake asking for {MSGPACK} failed: "
                             f"{e!r}") from None
    if ws.subprotocol != MSGPACK:
        await ws.close()
        raise AssertionError(f"asked for {MSGPACK}, got subprotocol "
                             f"{ws.subprotocol!r}")
    c = MsgpackClient(ws)
    h.clients.append(c)
    return c


def sub(req_id="e", task="echo", items=(1,), **extra):
    """A submit; a field given as ... is left out."""
    msg = {"type": "submit", "id": req_id, "task": task,
           "items": list(items) if isinstance(items, tuple) else items, **extra}
    return {k: v for k, v in msg.items() if v is not ...}


def nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


def fragments(payload, n=3):
    """payload split into n pieces: sent as one fragmented message."""
    step = -(-len(payload) // n)
    return [payload[i:i + step] for i in range(0, len(payload), step)]


# ---------------------------------------------------------------- tests


async def the_subprotocol_is_negotiated(h):
    gw = await h.start(workers=[1])
    m = await msgpack_client(h, gw)
    pong, _ = await m.ping()
    check(pong["workers"] == 1, f"pong over msgpack: {pong}")
    # No subprotocol, or "sluice": the JSON protocol, unchanged.
    j = await h.client(gw)
    check(j.ws.subprotocol is None, f"no subprotocol asked, got "
                                    f"{j.ws.subprotocol!r}")
    check(await j.run("echo", [1, "a"]) == [1, "a"], "JSON client")
    ws = await asyncio.wait_for(
        websockets.connect(gw.url, subprotocols=["sluice"], compression=None),
        scaled(10))
    s = Client(ws)  # its reader fails on any binary message
    h.clients.append(s)
    check(ws.subprotocol in ("sluice", None),
          f"asked for sluice, got {ws.subprotocol!r}")
    check(await s.run("echo", [{"k": [2]}]) == [{"k": [2]}],
          "client that asked for 'sluice'")
    check(not s.closed and not j.closed, "a JSON client's reader failed "
                                         "(binary message from the gateway?)")
    no_junk(m)


async def submit_round_trip_in_msgpack(h):
    gw = await h.start(workers=[2])
    m = await msgpack_client(h, gw)
    items = [1, -7, 2 ** 63 - 1, -2 ** 63, 3.5, 0.0, "two", "Straße", "",
             None, True, False, [1, [2, "x"]], {"x": [3.5, None, True]}, {}]
    frames, _ = await m.submit_and_collect("r1", "echo", items)
    acc = frames[0][0]
    check(acc["id"] == "r1" and acc["items"] == len(items)
          and acc["workers"] == 1, f"accepted: {acc}")
    out = check_request(frames, len(items))
    check(out == items, f"echo over msgpack: {out}, want {items}")
    # == alone takes True for 1 and 1.0 for 1: the types must match too
    check([type(v) for v in out] == [type(v) for v in items],
          f"types changed: {[type(v).__name__ for v in out]}")
    done = frames[-1][0]
    check(type(done["ok"]) is int and type(done["elapsed_ms"]) is int,
          f"done: {done}")

    # timing fields, an item error, a request error with id
    mark = m.mark()
    await m.send(sub("r2", task="sleep", items=[20, 20], timing=True))
    frames = await m.collect("r2", mark)
    check(check_request(frames, 2) == [20, 20], f"r2: {frames}")
    for f, _ in frames[1:-1]:
        if f["type"] == "progress":  # revision 7: sleep reports progress
            continue
        check(type(f.get("t_done_us")) is int and type(f.get("cpu_us")) is int,
              f"timing fields: {f}")
    out = await m.run("burn", ["abc", 5])
    check(out[1] == 5 and out[0]["code"] == "bad_item"
          and isinstance(out[0]["message"], str), f"burn [abc, 5]: {out}")

    # cancel
    mark = m.mark()
    await m.send(sub("r3", task="sleep", items=[5000] * 3))
    await m.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    await asyncio.sleep(0.2)
    await m.send({"type": "cancel", "id": "r3"})
    frames = await m.collect("r3", mark, timeout=10)
    done = frames[-1][0]
    check(done["type"] == "done" and done.get("cancelled") == 3,
          f"cancel over msgpack: {frames}")
    no_junk(m)


async def bin_items_come_back_as_bin(h):
    gw = await h.start(workers=[1])
    m = await msgpack_client(h, gw)
    blob = bytes(range(256)) * 4  # NULs, invalid UTF-8: no text form
    items = [blob, b"", b"abc", "abc", {"k": b"\x00\xff", "s": "t"},
             [b"\x80", 1]]
    out = await m.run("echo", items)
    check(type(out[0]) is bytes and out[0] == blob,
          f"bin item came back as {type(out[0]).__name__}: {out[0]!r:.80} "
          f"(a JSON client would see base64)")
    check(out == items, f"echo {items!r:.200}: {out!r:.300}")
    check(type(out[1]) is bytes and type(out[2]) is bytes
          and type(out[3]) is str, f"bin and str mixed up: {out[1:4]}")
    check(type(out[4]["k"]) is bytes and type(out[5][0]) is bytes,
          f"nested bin: {out[4:]}")
    # a JSON client's echo of the same task still gets JSON (and text)
    j = await h.client(gw)
    check(await j.run("echo", ["abc", [1]]) == ["abc", [1]], "JSON echo")
    no_junk(m)


async def ping_data_is_echoed_as_sent(h):
    gw = await h.start(workers=[1])
    m = await msgpack_client(h, gw)
    for data in (b"\x00\x01\xfe\xff", b"", {"t": [1, b"x", 2.5, None]},
                 "text", 7, -1.5, [True, False]):
        pong, _ = await m.ping(data)
        check(pong["data"] == data and type(pong["data"]) is type(data),
              f"ping {data!r}: pong data {pong['data']!r}")
        check(type(pong["server_us"]) is int and pong["workers"] == 1
              and type(pong["queued"]) is int and type(pong["running"]) is int,
              f"pong: {pong}")
    check(type(pong["data"][0]) is bool, f"{pong}")
    pong, _ = await m.ping()
    check("data" not in pong, f"pong without data in the ping: {pong}")
    no_junk(m)


LIMITS = ("--max-frame-bytes", "4096", "--max-items", "5",
          "--max-item-bytes", "1950")

# (message: str as text, bytes as binary, list as a fragmented binary
# message; code; id in the error)
REFUSED = [
    ("hello", "text_unsupported", None),
    ('{"type":"ping"}', "text_unsupported", None),
    ('{"type":"submit","id":"t1","task":"echo","items":[1]}',
     "text_unsupported", None),
    (b"", "bad_msgpack", None),
    (b"\xc1", "bad_msgpack", None),
    (P({"type": "ping"}) + b"\x00", "bad_msgpack", None),
    (P({"type": "ping"}) + P({"type": "ping"}), "bad_msgpack", None),
    (P(sub("b1"))[:-1], "bad_msgpack", None),
    (b"\x92\x01", "bad_msgpack", None),
    (b"\xdd\xff\xff\xff\xff", "bad_msgpack", None),
    (b"\x81\xa4type", "bad_msgpack", None),
    (P([1, 2]), "bad_message", None),
    (P("submit"), "bad_message", None),
    (P(42), "bad_message", None),
    (P(None), "bad_message", None),
    (P(P({"type": "ping"})), "bad_message", None),  # a bin holding a map
    (P({}), "bad_message", None),
    (P({"id": "e1"}), "bad_message", "e1"),
    (P({"type": 5, "id": "e2"}), "bad_message", "e2"),
    (P({"type": None}), "bad_message", None),
    (P({"type": "ping", 1: 2}), "bad_message", None),
    (b"\x82\xa4type\xa4ping\xa4type\xa4ping", "bad_message", None),
    (P(sub(req_id=...)), "bad_message", None),
    (P(sub(req_id=5)), "bad_message", None),
    (P(sub(req_id="")), "bad_message", None),
    (P(sub(req_id="x" * 65)), "bad_message", None),
    (P(sub(req_id=["e"])), "bad_message", None),
    (P(sub("e3", task=...)), "bad_message", "e3"),
    (P(sub("e4", task=5)), "bad_message", "e4"),
    (P(sub("e5", task="Echo")), "bad_message", "e5"),
    (P(sub("e6", timing="yes")), "bad_message", "e6"),
    (P(sub("e7", timeout_ms=0)), "bad_message", "e7"),
    (P(sub("e8", timeout_ms=1.5)), "bad_message", "e8"),
    (P({"type": "reboot", "id": "e9"}), "unknown_type", "e9"),
    (P({"type": "pong"}), "unknown_type", None),
    (P(sub("e10", items=...)), "bad_items", "e10"),
    (P(sub("e11", items={"a": 1})), "bad_items", "e11"),
    (P(sub("e12", items="12")), "bad_items", "e12"),
    (P(sub("e13", items=b"\x01\x02")), "bad_items", "e13"),
    (P(sub("e14", items=None)), "bad_items", "e14"),
    (P(sub("e15", items=[])), "bad_items", "e15"),
    (P(sub("e16", items=[1] * 6)), "too_many_items", "e16"),
    (P(sub("e17", task="nosuch")), "unknown_task", "e17"),
    (P(sub("e18", items=[1, msgpack.ExtType(1, b"x")])), "bad_item", "e18"),
    (P(sub("e19", items=[{"a": msgpack.ExtType(5, b"")}])), "bad_item", "e19"),
    (P(sub("e20", items=[float("nan")])), "bad_item", "e20"),
    (P(sub("e21", items=[1, float("inf")])), "bad_item", "e21"),
    (P(sub("e22", items=[1, nested(13)])), "bad_item", "e22"),
    # over --max-item-bytes (1950) once packed: bin16, 3 + 1948 bytes
    (P(sub("e23", items=[1, b"x" * 1948])), "item_too_large", "e23"),
    # over --max-frame-bytes (4096), whole and in fragments
    (P({"type": "ping", "data": b"x" * 5000}), "too_large", None),
    (P(sub("e24", items=[b"x" * 4100])), "too_large", None),
    (fragments(P({"type": "ping", "data": b"y" * 6000})), "too_large", None),
]

# Just inside the limits: accepted and echoed.
ACCEPTED = [
    sub("x" * 64, items=[1]),
    sub("a-ok", items=[1, 2, 3, 4, 5]),
    sub("a-deep", items=[nested(12), {"a": nested(11)}]),
    sub("a-big", items=[b"z" * 1900]),
    sub("a-huge", items=[2 ** 63 - 1, -2 ** 63, 1e308]),
]


async def expect_refused(c, msg, code, req_id):
    """Send msg, expect a request-level error, then prove the connection
    still works with a fresh echo request. Returns a mismatch or None."""
    mark = c.mark()
    await c.send(msg)
    err, _ = await c.wait_frame(
        lambda f: f["type"] == "error" and "seq" not in f or
        f["type"].startswith("<"), mark, what=f"{code} error for {msg!r:.80}")
    check(not err["type"].startswith("<"),
          f"{msg!r:.80}: answered with {err!r:.200}, not a msgpack map")
    return await refusal_mismatch(c, mark, msg, err, code, req_id)


async def every_refusal_has_its_code(h):
    gw = await h.start(*LIMITS, workers=[2])
    m = await msgpack_client(h, gw)
    wrong = [await expect_refused(m, msg, code, req_id)
             for msg, code, req_id in REFUSED]
    for msg in ACCEPTED:
        frames, _ = await m.submit_and_collect(msg["id"], msg["task"],
                                               msg["items"])
        check(check_request(frames, len(msg["items"])) == msg["items"],
              f"{msg!r:.80} not echoed: {frames!r:.300}")
    # one message in fragments, under the limit: reassembled
    mark = m.mark()
    await m.send(fragments(P(sub("frag", items=[b"abc", "d" * 1000, 2]))))
    frames = await m.collect("frag", mark)
    check(check_request(frames, 3) == [b"abc", "d" * 1000, 2],
          f"fragmented submit: {frames!r:.300}")
    check(not m.closed, "connection closed")
    no_junk(m)
    wrong = [w for w in wrong if w]
    check(not wrong, f"{len(wrong)} wrong error frames:\n" + "\n".join(wrong))


async def json_and_msgpack_clients_side_by_side(h):
    gw = await h.start(workers=[2])
    j = await h.client(gw)
    m = await msgpack_client(h, gw)
    # The same request id on both: ids are per connection.
    jm, mm = j.mark(), m.mark()
    await asyncio.gather(j.submit("r1", "sleep", [200] * 4),
                         m.submit("r1", "sleep", [200] * 4))
    jf, mf = await asyncio.gather(j.collect("r1", jm, timeout=30),
                                  m.collect("r1", mm, timeout=30))
    check(check_request(jf, 4) == [200] * 4, f"JSON client: {jf}")
    check(check_request(mf, 4) == [200] * 4, f"msgpack client: {mf}")
    # served side by side: each had a result before the other was done
    jr = next(t for f, t in jf if f["type"] == "result")
    mr = next(t for f, t in mf if f["type"] == "result")
    check(jr < mf[-1][1] and mr < jf[-1][1],
          "one client's request waited for the other's to finish")
    # progress (revision 7) reaches a msgpack client as a msgpack map
    prog = [f for f, _ in mf if f["type"] == "progress"]
    check(prog and all(isinstance(f["progress"], float)
                       and f["id"] == "r1" and 0 <= f["seq"] < 4
                       for f in prog), f"msgpack progress: {prog}")

    # many small requests from both at once, each in its own encoding
    jitems = ["a", {"b": [1, None]}, 2.5]
    mitems = [b"\x00\xff", "a", {"b": [1, None]}]
    outs = await asyncio.gather(*[j.run("echo", jitems) for _ in range(5)],
                                *[m.run("echo", mitems) for _ in range(5)])
    check(all(o == jitems for o in outs[:5]), f"JSON outcomes: {outs[:5]}")
    check(all(o == mitems and type(o[0]) is bytes for o in outs[5:]),
          f"msgpack outcomes: {outs[5:]!r:.300}")

    # each protocol refuses the other's kind of message, and carries on
    mark = j.mark()
    await j.send(P({"type": "ping"}))
    err, _ = await j.wait_frame(lambda f: f["type"] == "error", mark,
                                what="binary_unsupported")
    check(err["code"] == "binary_unsupported", f"JSON client sent binary: {err}")
    mark = m.mark()
    await m.send('{"type":"ping"}')
    err, _ = await m.wait_frame(lambda f: f["type"] == "error", mark,
                                what="text_unsupported")
    check(err["code"] == "text_unsupported", f"msgpack client sent text: {err}")
    check(await j.run("echo", [1]) == [1] and await m.run("echo", [1]) == [1],
          "a client stopped working")
    check(not j.closed, "JSON client's reader failed (a binary message?)")
    no_junk(m)


async def oversized_frame_is_too_large(h):
    """Default --max-frame-bytes (1 MiB): a bigger binary message is
    discarded as too_large, one just under it runs."""
    gw = await h.start(workers=[1])
    m = await msgpack_client(h, gw)
    mark = m.mark()
    await m.send(P(sub("big", items=[b"x" * 60000] * 18)))  # ~1.08 MB
    err, _ = await m.wait_frame(lambda f: f["type"] == "error", mark,
                                what="too_large")
    check(err["code"] == "too_large" and "seq" not in err, f"{err}")
    check(await m.run("echo", [1]) == [1], "connection unusable")
    items = [b"x" * 60000] * 16  # ~960 kB: under the limit
    out = await m.run("echo", items, timeout=30)
    check(out == items, "items under the limit not echoed")
    no_junk(m)


TESTS = [the_subprotocol_is_negotiated, submit_round_trip_in_msgpack,
         bin_items_come_back_as_bin, ping_data_is_echoed_as_sent,
         every_refusal_has_its_code, json_and_msgpack_clients_side_by_side,
         oversized_frame_is_too_large]

if __name__ == "__main__":
    run(TESTS)
