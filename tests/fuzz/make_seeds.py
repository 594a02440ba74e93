#!/usr/bin/python3
"""Write the seed corpora in tests/fuzz/corpus/<target>/ (run once; the
files are committed). Real frames of each protocol, valid and not."""
import json
import os

import msgpack

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


mp = msgpack.packb
# worker -> gateway frames (and gateway -> worker, the same decoder)
put("proto", "ready", mp([1, "READY", {"capacity": 4, "pid": 42, "host": "box",
                                       "tasks": ["echo", "burn", "sha256"]}]))
put("proto", "result_ok", mp([1, "RESULT", {"job": 7, "ok": True,
                                            "value": {"a": [1, 2.5, None, "x"]},
                                            "cpu_us": 10, "t_done_us": 20}]))
put("proto", "result_bin", mp([1, "RESULT", {"job": 8, "ok": True,
                                             "value": b"\x00\x01\xff"}],
                              use_bin_type=True))
put("proto", "result_err", mp([1, "RESULT", {"job": 9, "ok": False,
                                             "code": "bad_item",
                                             "message": "nope"}]))
put("proto", "job", mp([1, "JOB", {"job": 1, "task": "echo", "item": [1, {"k": "v"}]}]))
put("proto", "cancel", mp([1, "CANCEL", {"job": 3}]))
put("proto", "registered", mp([1, "REGISTERED", {"worker": "w1"}]))
for t in ("PING", "PONG", "BYE", "DRAIN"):
    put("proto", t.lower(), mp([1, t, {}]))
put("proto", "version2", mp([2, "PING", {}]))
put("proto", "huge_map_header", b"\xdf\x10\x00\x00\x00")
put("proto", "huge_array_header", b"\xdd\x01\x00\x00\x00")
put("proto", "deep", b"\x91" * 40 + b"\xc0")

# client frames
for name, text in [
        ("submit", {"type": "submit", "id": "r1", "task": "echo",
                    "items": [1, "two", [3], {"four": 4.0}, None, True]}),
        ("submit_opts", {"type": "submit", "id": "r2", "task": "burn",
                         "items": [10], "timeout_ms": 500, "timing": True}),
        ("cancel", {"type": "cancel", "id": "r1"}),
        ("ping", {"type": "ping", "data": {"t": 1}})]:
    put("cmsg", name, json.dumps(text))
put("cmsg", "dup_key", '{"type":"ping","type":"ping"}')
put("cmsg", "big_int", '{"type":"ping","data":12345678901234567890}')
put("cmsg", "bad_utf8", b'{"type":"ping","data":"\xff"}')
put("cmsg", "deep_item", '{"type":"submit","id":"d","task":"echo","items":['
    + "[" * 13 + "]" * 13 + "]}")

# JSON values (items)
for i, v in enumerate([0, -1, 2**63 - 1, -2**63, 1.5, -0.0, 1e308, "",
                       "é\u2603", [], {}, [1, [2, [3]]],
                       {"a": {"b": [None, True, False]}}]):
    put("json_to_mp", f"v{i:02d}", json.dumps(v))
# msgpack values (results)
for i, v in enumerate([0, -1, 2**64 - 1, -2**63, 1.5, float("nan"), "",
                       "é", b"\x00\xff", [], {}, {1: 2}, {"a": [1, {"b": None}]},
                       msgpack.ExtType(1, b"x")]):
    put("json_from_mp", f"v{i:02d}", mp(v, use_bin_type=True))
put("json_from_mp", "bad_utf8", b"\xa1\xff")

# revision 3: channels, and msgpack client frames that keep bin items
put("cmsg", "subscribe", json.dumps({"type": "subscribe", "channel": "c:1"}))
put("cmsg", "submit_notify", json.dumps(
    {"type": "submit", "id": "n1", "task": "echo", "items": [1],
     "notify": "night.ly-1"}))
put("pproto", "subscribe", mp({"type": "unsubscribe", "channel": "c_1"}))
put("pproto", "submit_notify_bin", mp(
    {"type": "submit", "id": "n2", "task": "echo", "notify": "n",
     "items": [b"\x00\xff", {"k": [1, b""]}, "s"]}, use_bin_type=True))
put("pproto", "ping_ext", mp({"type": "ping", "data": msgpack.ExtType(3, b"z")}))
