#!/usr/bin/python3
"""Every request-level error gets its code, the connection stays usable,
and other clients are not disturbed."""

from harness import check, check_request, refusal_mismatch, run

LIMITS = ("--max-frame-bytes", "2048", "--max-items", "5", "--max-requests", "2",
          "--max-item-bytes", "1950")


def sub(req_id="e", task="echo", items=(1,)):
    """A submit; a field given as ... is left out."""
    msg = {"type": "submit", "id": req_id, "task": task,
           "items": list(items) if isinstance(items, tuple) else items}
    return {k: v for k, v in msg.items() if v is not ...}


class BadUtf8(bytes):
    """Bytes to send as a text frame, bypassing websockets' encoding."""


def nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


# (message: dict as JSON, str as text, list of str as a fragmented text
# message, bytes as binary; code; id in the error)
REFUSED = [
    ("{", "bad_json", None),
    ("not json", "bad_json", None),
    ("", "bad_json", None),
    ('{"type":"ping"} {}', "bad_json", None),
    ('{"type":"ping","type":"ping"}', "bad_json", None),
    ('{"type":"submit","id":"e","id":"f","task":"echo","items":[1]}', "bad_json", None),
    ('{"type":"ping","data":"a\\u0000b"}', "bad_json", None),
    ("[]", "bad_message", None),
    ('"submit"', "bad_message", None),
    ("42", "bad_message", None),
    ("null", "bad_message", None),
    ({}, "bad_message", None),
    ({"id": "e1"}, "bad_message", "e1"),
    ({"type": 5, "id": "e2"}, "bad_message", "e2"),
    ({"type": None}, "bad_message", None),
    (sub(req_id=...), "bad_message", None),
    (sub(req_id=5), "bad_message", None),
    (sub(req_id=""), "bad_message", None),
    (sub(req_id="x" * 65), "bad_message", None),
    (sub(req_id=["e"]), "bad_message", None),
    (sub("e3", task=...), "bad_message", "e3"),
    (sub("e4", task=5), "bad_message", "e4"),
    (sub("e5", task=""), "bad_message", "e5"),
    (sub("e6", task="Echo"), "bad_message", "e6"),
    (sub("e7", task="ec ho"), "bad_message", "e7"),
    (sub("e8", task="a" * 33), "bad_message", "e8"),
    ({"type": "reboot", "id": "e9"}, "unknown_type", "e9"),
    ({"type": "SUBMIT", "id": "e10"}, "unknown_type", "e10"),
    ({"type": "pong"}, "unknown_type", None),
    (sub("e11", items=...), "bad_items", "e11"),
    (sub("e12", items={"a": 1}), "bad_items", "e12"),
    (sub("e13", items="12"), "bad_items", "e13"),
    (sub("e14", items=None), "bad_items", "e14"),
    (sub("e15", items=[]), "bad_items", "e15"),
    (sub("e16", items=[1] * 6), "too_many_items", "e16"),
    (sub("e17", task="nosuch"), "unknown_task", "e17"),
    (sub("e18", items=[1, nested(13)]), "bad_item", "e18"),
    (sub("e19", items=[{"a": nested(12)}]), "bad_item", "e19"),
    (sub("e20", items=["x" * 5000]), "too_large", None),
    (['{"type":"ping","data":"', "x" * 1500, "x" * 1500, '"}'], "too_large", None),
    (b'{"type":"ping"}', "binary_unsupported", None),
    (b"\x00\xff" * 100, "binary_unsupported", None),
    # Numbers JSON allows but 64-bit integers and doubles cannot hold.
    ('{"type":"ping","data":12345678901234567890}', "bad_json", None),
    ('{"type":"ping","data":-9223372036854775809}', "bad_json", None),
    ('{"type":"ping","data":1e400}', "bad_json", None),
    ('{"type":"submit","id":"e22","task":"echo","items":[1e999]}', "bad_json", None),
    # An item over --max-item-bytes (1950) once packed: str16, 3 + 1948.
    (sub("e21", items=[1, "x" * 1948]), "item_too_large", "e21"),
    (BadUtf8(b'{"type":"ping","data":"\xff"}'), "bad_json", None),
    (BadUtf8(b'{"type":"ping","data":"\xed\xa0\x80"}'), "bad_json", None),
]

# Just inside the limits: accepted and run.
ACCEPTED = [
    sub("x" * 64, items=[1]),
    sub("e-ok", task="echo", items=[1, 2, 3, 4, 5]),
    sub("e-deep", items=[nested(12), {"a": nested(11)}]),
    sub("e-big", items=["x" * 1900]),
    sub("e-huge", items=[9223372036854775807, -9223372036854775808, 1e308]),
]


async def expect_refused(c, msg, code, req_id):
    """Send msg, expect a request-level error, then prove the connection
    still works with a fresh echo request. Returns a mismatch or None."""
    mark = c.mark()
    if isinstance(msg, BadUtf8):
        await c.ws.write_frame(True, 0x1, msg)  # OP_TEXT
    else:
        await c.send(msg)
    err, _ = await c.wait_frame(lambda f: f["type"] == "error" and "seq" not in f,
                                mark, what=f"{code} error for {msg!r:.80}")
    return await refusal_mismatch(c, mark, msg, err, code, req_id)


async def every_refusal_has_its_code(h):
    gw = await h.start(*LIMITS, workers=[2])
    c, other = await h.client(gw), await h.client(gw)
    # The other client's work runs through the whole error phase.
    o_mark = other.mark()
    for req_id in ("o1", "o2"):
        await other.submit(req_id, "sleep", [200] * 5)

    wrong = [await expect_refused(c, msg, code, req_id)
             for msg, code, req_id in REFUSED]
    for msg in ACCEPTED:
        frames, _ = await c.submit_and_collect(msg["id"], msg["task"], msg["items"])
        check(check_request(frames, len(msg["items"])) == msg["items"],
              f"{msg!r:.80} not echoed: {frames}")

    # A second submit of a running id is refused; the first one is not
    # disturbed, and the id is free again once it is done.
    mark = c.mark()
    await c.submit("d1", "sleep", [1000])
    await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="d1 accepted")
    await expect_refused(c, sub("d1", task="sleep", items=[1000]), "duplicate_id", "d1")
    await c.wait_frame(lambda f: f["type"] == "done" and f["id"] == "d1", mark,
                       what="d1 done")
    frames = [(f, t) for f, t in c.since(mark, "d1") if f.get("code") != "duplicate_id"]
    check(check_request(frames, 1) == [1000], f"d1: {frames}")
    # Ids are per connection: another client may run its own d1 meanwhile.
    third = await h.client(gw)
    mark = c.mark()
    await c.submit("d1", "sleep", [300])
    t_frames, _ = await third.submit_and_collect("d1", "echo", [8])
    check(check_request(t_frames, 1) == [8], f"d1 on another connection: {t_frames}")
    check(check_request(await c.collect("d1", mark), 1) == [300], "d1 reused")

    # Over --max-requests 2 unfinished; a slot frees when one is done.
    mark = c.mark()
    await c.submit("m1", "sleep", [500])
    await c.submit("m2", "sleep", [500])
    await c.send(sub("m3"))
    err, _ = await c.wait_frame(lambda f: f.get("id") == "m3", mark, what="m3")
    check(err["type"] == "error" and err["code"] == "too_many_requests", f"{err}")
    for req_id in ("m1", "m2"):
        check(check_request(await c.collect(req_id, mark), 1) == [500], req_id)
    check(await c.run("echo", [1]) == [1], "no request slot after m1, m2")
    t_errors_over = c.frames[-1][1]

    for req_id in ("o1", "o2"):
        frames = await other.collect(req_id, o_mark, timeout=30)
        check(check_request(frames, 5) == [200] * 5, f"{req_id}: {frames}")
    early = [t for f, t in other.since(o_mark) if f["type"] == "result"
             and t < t_errors_over]
    check(early, "the other client got no result while errors happened")
    wrong = [w for w in wrong if w]
    check(not wrong, f"{len(wrong)} wrong error frames:\n" + "\n".join(wrong))


async def a_bad_item_fails_alone(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    frames, _ = await c.submit_and_collect("b1", "burn", ["abc", 10])
    kinds = [(f["type"], f.get("seq")) for f, _ in frames
             if f["type"] != "progress"]  # revision 7: burn reports it
    check(kinds in ([("accepted", None), ("error", 0), ("result", 1), ("done", None)],
                    [("accepted", None), ("result", 1), ("error", 0), ("done", None)]),
          f"burn [abc, 10]: {frames}")
    out = check_request(frames, 2)
    check(out[0]["code"] == "bad_item" and out[0]["message"] and out[1] == 10,
          f"burn [abc, 10]: {out}")
    sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    for task, bad, good, value in [
            ("burn", [-5, 600001, 1.5, None, [1], {"ms": 1}], 3, 3),
            ("sleep", ["x", -1, 0.5], 1, 1),
            ("primes", [-1, 100000001, 2.5, "7"], 10, 4),
            ("sha256", [5, None, ["abc"]], "abc", sha_abc)]:
        out = await c.run(task, bad + [good])
        check(out[-1] == value, f"{task} {good!r}: {out[-1]}")
        for item, o in zip(bad, out):
            check(isinstance(o, dict) and o.get("code") == "bad_item",
                  f"{task} {item!r}: {o}, want a bad_item error")


async def deep_json_is_refused_and_the_gateway_carries_on(h):
    """Nesting far past jansson's limit (2048) is bad_json; past the item
    limit (12) but inside jansson's, bad_item. Default --max-frame-bytes."""
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    for depth, code in [(100000, "bad_json"), (2000, "bad_item"),
                        (13, "bad_item")]:
        text = ('{"type":"submit","id":"deep","task":"echo","items":['
                + "[" * depth + "]" * depth + "]}")
        check(len(text) < 1 << 20, "keep it under the frame limit")
        mark = c.mark()
        await c.send(text)
        err, _ = await c.wait_frame(lambda f: f["type"] == "error", mark,
                                    what=f"error for depth {depth}")
        check(err["code"] == code, f"depth {depth}: {err}, want {code}")
        check(await c.run("echo", [1]) == [1], "connection unusable")


async def bad_json_names_the_first_invalid_byte(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    wrong = []
    for text, at in [("not json", 1), ('{"a":}', 5), ('{"type":"ping"} {}', 16),
                     ('[1,]', 3), ('{"type":"ping"', 14), ("", 0)]:
        mark = c.mark()
        await c.send(text)
        err, _ = await c.wait_frame(lambda f: f["type"] == "error", mark,
                                    what=f"error for {text!r}")
        if err["code"] != "bad_json" or f"at byte {at}:" not in err["message"]:
            wrong.append(f"{text!r}: {err}, want bad_json at byte {at}")
    check(not wrong, "\n".join(wrong))


run([every_refusal_has_its_code, a_bad_item_fails_alone,
     deep_json_is_refused_and_the_gateway_carries_on,
     bad_json_names_the_first_invalid_byte])
