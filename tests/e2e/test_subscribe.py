#!/usr/bin/python3
"""Notify channels: a submit with "notify": CHANNEL is watched live by
every connection subscribed to CHANNEL (WebSocket JSON or msgpack, or a
producer), each getting the submitter's frames plus "channel"; the
subscription limit, bad channel names, not_subscribed, the
sluice_subscriptions gauge and cleanup when subscribers go away."""

import asyncio
import os
import time

from harness import (check, check_request, metric, run, scaled,
                     wait_log, ws_frame, ws_handshake)
from test_msgpack_ws import msgpack_client, no_junk
from test_open_queue import (EXAMPLES, Producer, finish, run_example,
                             spawn_submit)


def subscribe(channel):
    return {"type": "subscribe", "channel": channel}


def unsubscribe(channel):
    return {"type": "unsubscribe", "channel": channel}


def is_answer(f):
    """A reply to subscribe/unsubscribe, or a refusal (an error without
    seq: forwarded item errors carry one, refused submits are not
    forwarded)."""
    return (f["type"] in ("subscribed", "unsubscribed")
            or (f["type"] == "error" and "seq" not in f))


async def ask_at(c, msg):
    """Send msg on a WebSocket client; (its answer frame, that frame's
    index in c.frames)."""
    mark = c.mark()
    await c.send(msg)
    f, _ = await c.wait_frame(is_answer, mark, what=f"answer to {msg}")
    return f, next(i for i in range(mark, len(c.frames))
                   if c.frames[i][0] is f)


async def ask(c, msg):
    """Send msg on a WebSocket client; its answer frame."""
    return (await ask_at(c, msg))[0]


async def pask(p, msg):
    """Send msg from a producer; its answer frame."""
    await p.send(msg)
    deadline = time.monotonic() + scaled(10)
    while True:
        f = await p.recv(max(0.1, deadline - time.monotonic()))
        if is_answer(f):
            return f


def check_reply(f, kind, channel, n, who=""):
    check(f["type"] == kind and f.get("channel") == channel
          and f.get("subscriptions") == n,
          f"{who}{kind} {channel!r}: got {f}, want {n} subscriptions")


def check_refused(f, code, channel=..., who=""):
    check(f["type"] == "error" and f.get("code") == code
          and isinstance(f.get("message"), str),
          f"{who}want error {code}, got {f}")
    if channel is not ...:
        check(f.get("channel") == channel, f"{who}{code} without channel "
                                           f"{channel!r}: {f}")


def watched(c, channel, req_id, since=0):
    """The (frame, time) list of req_id that c got on channel."""
    return [(f, t) for f, t in c.frames[since:]
            if f.get("id") == req_id and f.get("channel") == channel]


def strip(frames):
    return [{k: v for k, v in f.items() if k != "channel"} for f, _ in frames]


async def wait_watched_done(c, channel, req_id, since=0, timeout=30):
    await c.wait_frame(lambda f: f.get("id") == req_id and f["type"] == "done"
                       and f.get("channel") == channel, since, timeout,
                       what=f"{req_id} done on {channel}")
    return watched(c, channel, req_id, since)


def check_same(mine, theirs, channel, who):
    """theirs (a subscriber's frames) are mine (the submitter's) plus
    channel, in the same order; mine have no channel."""
    check(all("channel" not in f for f, _ in mine),
          f"the submitter's own frames carry a channel: {mine}")
    check(all(f.get("channel") == channel for f, _ in theirs),
          f"{who}: frames without channel {channel!r}: {theirs}")
    # The resume token of accepted is the submitter's alone (PROTOCOL.md
    # §1.3): a watcher's accepted has none, and is otherwise the same.
    check(all("resume" not in f for f, _ in theirs),
          f"{who} got the submitter's resume token: {theirs}")
    own = [{k: v for k, v in f.items() if k != "resume"} for f, _ in mine]
    check(strip(theirs) == own,
          f"{who} saw other frames than the submitter:\n  "
          f"{strip(theirs)}\nsubmitter:\n  {own}")


async def wait_metric(gw, name, value, timeout=10):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        got = await metric(gw.port, name)
        if got == value:
            return
        check(time.monotonic() < deadline,
              f"{name} is {got}, want {value} (after {scaled(timeout):.0f} s)")
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------- tests


async def ws_subscribers_watch_a_producers_request(h):
    gw = await h.start(workers=[1])
    s1, s2 = await h.client(gw), await h.client(gw)
    m = await msgpack_client(h, gw)
    other = await h.client(gw)
    for who, c in (("s1 ", s1), ("s2 ", s2), ("msgpack ", m)):
        check_reply(await ask(c, subscribe("jobs.a")), "subscribed", "jobs.a",
                    1, who)
    # subscribing again is harmless: same reply, no second copy
    check_reply(await ask(s2, subscribe("jobs.a")), "subscribed", "jobs.a", 1,
                "s2 again ")
    check_reply(await ask(other, subscribe("jobs.b")), "subscribed", "jobs.b", 1)

    p = Producer(gw)
    await p.send({"type": "submit", "id": "n1", "task": "sleep",
                  "items": [400] * 4, "notify": "jobs.a"})
    mine = await p.collect("n1", timeout=30)
    check(check_request(mine, 4) == [400] * 4, f"producer: {mine}")
    for who, c in (("s1", s1), ("s2", s2), ("msgpack", m)):
        theirs = await wait_watched_done(c, "jobs.a", "n1")
        check(check_request(theirs, 4) == [400] * 4, f"{who}: {theirs}")
        check_same(mine, theirs, "jobs.a", who)
        # streamed as they happen: one item per 400 ms on one thread, so
        # results arrive apart, the first well before the done
        times = [t for f, t in theirs if f["type"] == "result"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        check(all(g >= 0.2 for g in gaps),
              f"{who}: results bunched, not streamed: gaps {gaps}")
        check(times[0] < theirs[-1][1] - 0.6,
              f"{who}: first result came with the done")
    no_junk(m)
    # nothing on another channel (a ping orders after anything queued)
    await other.ping()
    leaked = [f for f, _ in other.frames if f.get("id") == "n1"]
    check(not leaked, f"a subscriber of jobs.b got jobs.a frames: {leaked}")
    p.close()


async def ws_clients_submit_with_notify(h):
    gw = await h.start(workers=[2])
    c = await h.client(gw)  # submits, JSON
    cm = await msgpack_client(h, gw)  # submits, msgpack
    w = await h.client(gw)
    wm = await msgpack_client(h, gw)
    q = Producer(gw)  # producers may subscribe too
    for who, x in (("JSON watcher ", w), ("msgpack watcher ", wm)):
        check_reply(await ask(x, subscribe("ui:42")), "subscribed", "ui:42", 1,
                    who)
    check_reply(await pask(q, subscribe("ui:42")), "subscribed", "ui:42", 1,
                "producer ")

    # a JSON submit with an item error and timing fields
    mark = c.mark()
    await c.send({"type": "submit", "id": "w1", "task": "sleep",
                  "items": [150, "x", 150], "timing": True, "notify": "ui:42"})
    mine = await c.collect("w1", mark, timeout=20)
    out = check_request(mine, 3)
    check(out[0] == 150 and out[2] == 150 and out[1]["code"] == "bad_item",
          f"w1: {out}")
    for who, x in (("JSON watcher", w), ("msgpack watcher", wm)):
        theirs = await wait_watched_done(x, "ui:42", "w1")
        check_same(mine, theirs, "ui:42", who)
        err = [f for f, _ in theirs if f["type"] == "error"]
        check(len(err) == 1 and err[0]["seq"] == 1, f"{who}: item error {err}")
    theirs = await q.collect("w1", timeout=20)
    check_same(mine, theirs, "ui:42", "producer watcher")

    # a msgpack submit: JSON and producer watchers see it too
    mark = cm.mark()
    await cm.send({"type": "submit", "id": "w2", "task": "echo",
                   "items": [1, "a", {"k": [None, True]}], "notify": "ui:42"})
    mine = await cm.collect("w2", mark)
    check(check_request(mine, 3) == [1, "a", {"k": [None, True]}], f"{mine}")
    for who, x in (("JSON watcher", w), ("msgpack watcher", wm)):
        check_same(mine, await wait_watched_done(x, "ui:42", "w2"), "ui:42",
                   who)
    check_same(mine, await q.collect("w2"), "ui:42", "producer watcher")

    # bin values: a msgpack watcher keeps bin, a JSON one gets base64 (as
    # for its own requests)
    mark = cm.mark()
    await cm.send({"type": "submit", "id": "w2b", "task": "echo",
                   "items": [b"\x00\xff", "s"], "notify": "ui:42"})
    mine = await cm.collect("w2b", mark)
    check(check_request(mine, 2) == [b"\x00\xff", "s"], f"{mine}")
    check_same(mine, await wait_watched_done(wm, "ui:42", "w2b"), "ui:42",
               "msgpack watcher")
    theirs = await wait_watched_done(w, "ui:42", "w2b")
    check(check_request(theirs, 2) == ["AP8=", "s"],
          f"JSON watcher: bin value of a msgpack client's request: {theirs}")
    # A producer watcher speaks msgpack too: bin stays bin (PROTOCOL §3)
    theirs = await q.collect("w2b")
    check(check_request(theirs, 2) == [b"\x00\xff", "s"],
          f"producer watcher: bin value of a msgpack client's request: "
          f"{theirs}")

    # item errors the gateway makes itself (timeout) are forwarded too
    mark = c.mark()
    await c.send({"type": "submit", "id": "w1t", "task": "sleep",
                  "items": [100, 5000], "timeout_ms": 500, "notify": "ui:42"})
    mine = await c.collect("w1t", mark, timeout=10)
    out = check_request(mine, 2)
    check(out[0] == 100 and out[1]["code"] == "timeout", f"w1t: {out}")
    for who, x in (("JSON watcher", w), ("msgpack watcher", wm)):
        check_same(mine, await wait_watched_done(x, "ui:42", "w1t"), "ui:42",
                   who)
    check_same(mine, await q.collect("w1t", timeout=10), "ui:42",
               "producer watcher")

    # refused submits are not forwarded; a cancelled request's done is
    mark = c.mark()
    for msg, code in [
            ({"type": "submit", "id": "bad1", "task": "nosuch", "items": [1],
              "notify": "ui:42"}, "unknown_task"),
            ({"type": "submit", "id": "bad2", "task": "echo", "items": [],
              "notify": "ui:42"}, "bad_items")]:
        check_refused(await ask(c, msg), code)
    await c.send({"type": "submit", "id": "w3", "task": "sleep",
                  "items": [5000, 5000], "notify": "ui:42"})
    await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    await asyncio.sleep(0.2)
    await c.send({"type": "cancel", "id": "w3"})
    mine = await c.collect("w3", mark, timeout=10)
    check(mine[-1][0].get("cancelled") == 2, f"w3: {mine}")
    for who, x in (("JSON watcher", w), ("msgpack watcher", wm)):
        check_same(mine, await wait_watched_done(x, "ui:42", "w3"), "ui:42",
                   who)
        leaked = [f for f, _ in x.frames if f.get("id") in ("bad1", "bad2")
                  or (f["type"] == "error" and "seq" not in f)]
        check(not leaked, f"{who} got refused submits: {leaked}")
    check_same(mine, await q.collect("w3", timeout=10), "ui:42",
               "producer watcher")
    leaked = [f for f, _ in q.frames if f.get("id") in ("bad1", "bad2")]
    check(not leaked, f"producer watcher got refused submits: {leaked}")
    no_junk(cm)
    no_junk(wm)
    q.close()


async def unsubscribe_stops_delivery_and_joiners_get_no_replay(h):
    gw = await h.start(workers=[1])
    s = await h.client(gw)
    late = await h.client(gw)
    check_reply(await ask(s, subscribe("c1")), "subscribed", "c1", 1)
    check_reply(await ask(s, subscribe("c2")), "subscribed", "c2", 2)
    p = Producer(gw)
    await p.send({"type": "submit", "id": "u1", "task": "sleep",
                  "items": [500] * 4, "notify": "c1"})
    await s.wait_frame(lambda f: f["type"] == "result" and f["id"] == "u1"
                       and f.get("channel") == "c1", what="u1's first result")
    f, i_unsub = await ask_at(s, unsubscribe("c1"))
    check_reply(f, "unsubscribed", "c1", 1)
    # joining mid-request: only what happens from now on
    check_reply(await ask(late, subscribe("c1")), "subscribed", "c1", 1, "late ")
    mine = await p.collect("u1", timeout=30)
    check(check_request(mine, 4) == [500] * 4, f"producer: {mine}")
    theirs = await wait_watched_done(late, "c1", "u1")
    kinds = [(f["type"], f.get("seq")) for f, _ in theirs]
    seqs = [f["seq"] for f, _ in theirs
            if "seq" in f and f["type"] != "progress"]  # revision 7 hints
    check("accepted" not in [k for k, _ in kinds] and 0 not in seqs,
          f"a late subscriber got a replay: {kinds}")
    check(len(set(seqs)) == len(seqs) and 3 in seqs and kinds[-1][0] == "done",
          f"late subscriber: {kinds}")
    check(strip(theirs) == [f for f, _ in mine if f in strip(theirs)]
          and strip(theirs)[-1] == mine[-1][0],
          f"late subscriber's frames differ: {theirs} vs {mine}")
    # s: nothing of u1 after its unsubscribed (a ping orders after it)
    await s.ping()
    after = [f for f, _ in s.frames[i_unsub:] if f.get("id") == "u1"]
    check(not after, f"frames after unsubscribe: {after}")
    check(any(f["type"] == "result" for f, _ in watched(s, "c1", "u1")),
          "s saw no result before it unsubscribed")
    # still subscribed to c2
    await p.send({"type": "submit", "id": "u2", "task": "echo",
                  "items": [7], "notify": "c2"})
    check(check_request(await p.collect("u2"), 1) == [7], "u2")
    theirs = await wait_watched_done(s, "c2", "u2")
    check(check_request(theirs, 1) == [7], f"c2 after unsubscribing c1: {theirs}")
    # unsubscribing twice, or from a channel never subscribed
    check_refused(await ask(s, unsubscribe("c1")), "not_subscribed", "c1")
    check_refused(await ask(s, unsubscribe("never")), "not_subscribed", "never")
    check_reply(await ask(s, unsubscribe("c2")), "unsubscribed", "c2", 0)
    check(await s.run("echo", [1]) == [1], "s unusable")
    p.close()


async def subscriptions_are_limited_per_connection(h):
    gw = await h.start("--max-subscriptions", "3", workers=[1])
    c = await h.client(gw)
    for i, ch in enumerate(("a", "b", "c")):
        check_reply(await ask(c, subscribe(ch)), "subscribed", ch, i + 1)
    f = await ask(c, subscribe("d"))
    check_refused(f, "too_many_subscriptions", "d")
    check("seq" not in f, f"{f}")
    # already subscribed: still the same reply at the limit
    check_reply(await ask(c, subscribe("a")), "subscribed", "a", 3)
    check_reply(await ask(c, unsubscribe("b")), "unsubscribed", "b", 2)
    check_reply(await ask(c, subscribe("d")), "subscribed", "d", 3)
    check_refused(await ask(c, subscribe("b")), "too_many_subscriptions", "b")
    # per connection: others have their own 3, in either encoding
    c2 = await h.client(gw)
    m = await msgpack_client(h, gw)
    p = Producer(gw)
    for who, x, ask_ in (("c2 ", c2, ask), ("msgpack ", m, ask),
                         ("producer ", p, pask)):
        for i, ch in enumerate(("a", "b", "c")):
            check_reply(await ask_(x, subscribe(ch)), "subscribed", ch, i + 1,
                        who)
        check_refused(await ask_(x, subscribe("e")), "too_many_subscriptions",
                      "e", who)
    # d works for c; the connection works
    await p.send({"type": "submit", "id": "l1", "task": "echo", "items": [1],
                  "notify": "d"})
    check(check_request(await p.collect("l1"), 1) == [1], "l1")
    check(check_request(await wait_watched_done(c, "d", "l1"), 1) == [1], "d")
    check(await c.run("echo", [2]) == [2], "c unusable")
    no_junk(m)
    p.close()

    # the environment sets it too; the default is 16
    gw2 = await h.gateway(env={"SLUICE_MAX_SUBSCRIPTIONS": "2"})
    c = await h.client(gw2)
    for i in range(2):
        check_reply(await ask(c, subscribe(f"x{i}")), "subscribed", f"x{i}",
                    i + 1, "SLUICE_MAX_SUBSCRIPTIONS=2: ")
    check_refused(await ask(c, subscribe("x2")), "too_many_subscriptions",
                  "x2", "SLUICE_MAX_SUBSCRIPTIONS=2: ")
    gw3 = await h.gateway()
    c = await h.client(gw3)
    for i in range(16):
        check_reply(await ask(c, subscribe(f"y{i}")), "subscribed", f"y{i}",
                    i + 1, "default limit: ")
    check_refused(await ask(c, subscribe("y16")), "too_many_subscriptions",
                  "y16", "default limit (16): ")


BAD_CHANNELS = ["", "a" * 65, "a b", "a/b", "a*", "é", "tab\t", "a,b", "#",
                "x\n", 5, 1.5, None, True, ["x"], {"c": "x"}]
GOOD_CHANNELS = ["a" * 64, "A", "Az09_.:-", "-", "..", ":"]


async def bad_channels_are_refused(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    m = await msgpack_client(h, gw)
    p = Producer(gw)
    for who, x, ask_ in (("JSON ", c, ask), ("msgpack ", m, ask),
                         ("producer ", p, pask)):
        for ch in BAD_CHANNELS:
            for msg in (subscribe(ch), unsubscribe(ch)):
                check_refused(await ask_(x, msg), "bad_message",
                              who=f"{who}{msg}: ")
        for msg in ({"type": "subscribe"}, {"type": "unsubscribe"}):
            check_refused(await ask_(x, msg), "bad_message", who=f"{who}{msg}: ")
        for i, ch in enumerate(GOOD_CHANNELS):
            check_reply(await ask_(x, subscribe(ch)), "subscribed", ch, i + 1,
                        who)
        check_reply(await ask_(x, unsubscribe("A")), "unsubscribed", "A",
                    len(GOOD_CHANNELS) - 1, who)
        check_refused(await ask_(x, unsubscribe("A")), "not_subscribed", "A",
                      who)
        check_refused(await ask_(x, unsubscribe("nope")), "not_subscribed",
                      "nope", who)
        # a submit with a bad notify is refused, nothing starts
        for i, ch in enumerate(BAD_CHANNELS):
            msg = {"type": "submit", "id": f"b{i}", "task": "echo",
                   "items": [1], "notify": ch}
            f = await ask_(x, msg)
            check_refused(f, "bad_message", who=f"{who}notify {ch!r}: ")
            check(f.get("id") == f"b{i}", f"{who}notify {ch!r}: id not "
                                          f"echoed: {f}")
        # (a channel x does not watch: else x gets g1 twice, once with
        # channel)
        msg = {"type": "submit", "id": "g1", "task": "echo", "items": [1],
               "notify": "b" * 64}
        if x is p:
            await p.send(msg)
            out = check_request(await p.collect("g1"), 1)
        else:
            mark = x.mark()
            await x.send(msg)
            out = check_request(await x.collect("g1", mark), 1)
        check(out == [1], f"{who}notify with 64 characters: {out}")
    started = [f for f, _ in c.frames + m.frames + p.frames
               if f["type"] == "accepted" and f["id"].startswith("b")]
    check(not started, f"bad notify accepted: {started}")
    check(await c.run("echo", [1]) == [1] and await m.run("echo", [1]) == [1],
          "a client stopped working")
    no_junk(m)
    p.close()


async def gauge_counts_subscriptions_and_cleanup(h):
    gw = await h.start("--producer-timeout-ms", "1500", workers=[1])
    await wait_metric(gw, "sluice_subscriptions", 0)
    a = await h.client(gw)
    b = await msgpack_client(h, gw)
    for ch in ("x", "y"):
        await ask(a, subscribe(ch))
    await ask(b, subscribe("x"))
    await wait_metric(gw, "sluice_subscriptions", 3)
    await ask(a, subscribe("x"))  # again: no second subscription
    await wait_metric(gw, "sluice_subscriptions", 3)
    check_reply(await ask(a, unsubscribe("y")), "unsubscribed", "y", 1)
    await wait_metric(gw, "sluice_subscriptions", 2)
    p = Producer(gw)
    check_reply(await pask(p, subscribe("z")), "subscribed", "z", 1)
    await wait_metric(gw, "sluice_subscriptions", 3)
    # the subscribers leave: their subscriptions go with them
    for c in (a, b):
        await c.close()
        h.clients.remove(c)
    await wait_metric(gw, "sluice_subscriptions", 1)
    # a silent producer is forgotten, its subscription too
    await wait_log(gw, "PRD-SILENT", timeout=10)
    await wait_metric(gw, "sluice_subscriptions", 0)
    p.close()
    # a notify to channels nobody watches any more runs as usual
    c = await h.client(gw)
    mark = c.mark()
    await c.send({"type": "submit", "id": "g1", "task": "echo", "items": [1, 2],
                  "notify": "x"})
    check(check_request(await c.collect("g1", mark), 2) == [1, 2], "g1")


async def subscriber_leaving_mid_request_harms_nothing(h):
    gw = await h.start(workers=[1])
    s1, s2 = await h.client(gw), await h.client(gw)
    m = await msgpack_client(h, gw)
    stay = await h.client(gw)
    for c in (s1, s2, m, stay):
        await ask(c, subscribe("live"))
    await wait_metric(gw, "sluice_subscriptions", 4)
    p = Producer(gw)
    await p.send({"type": "submit", "id": "k1", "task": "sleep",
                  "items": [300] * 5, "notify": "live"})
    await s1.wait_frame(lambda f: f["type"] == "result" and f["id"] == "k1",
                        what="k1's first result")
    # one closes cleanly, one vanishes (TCP reset), one closes mid-stream
    await s1.close()
    s2.ws.transport.abort()
    await m.close()
    for c in (s1, s2, m):
        h.clients.remove(c)
    mine = await p.collect("k1", timeout=30)
    check(check_request(mine, 5) == [300] * 5, f"producer's request: {mine}")
    theirs = await wait_watched_done(stay, "live", "k1")
    check_same(mine, theirs, "live", "the subscriber that stayed")
    await wait_metric(gw, "sluice_subscriptions", 1)
    # the gateway carries on
    await p.send({"type": "submit", "id": "k2", "task": "echo", "items": [1],
                  "notify": "live"})
    mine = await p.collect("k2")
    check(check_request(mine, 1) == [1], "k2")
    check_same(mine, await wait_watched_done(stay, "live", "k2"), "live",
               "the subscriber that stayed")
    check(gw.running(), "gateway died")
    p.close()


async def watchers_learn_when_the_submitter_leaves(h):
    gw = await h.start(workers=[1])
    w = await h.client(gw)
    await ask(w, subscribe("gone"))
    sub = await h.client(gw)
    await sub.send({"type": "submit", "id": "g1", "task": "sleep",
                    "items": [200] * 6, "notify": "gone"})
    await w.wait_frame(lambda f: f["type"] == "result" and f["id"] == "g1"
                       and f.get("channel") == "gone",
                       what="g1's first result at the watcher")
    await sub.close()
    h.clients.remove(sub)
    done, _ = await w.wait_frame(lambda f: f["type"] == "done"
                                 and f["id"] == "g1", timeout=10,
                                 what="a done after the submitter left")
    frames = watched(w, "gone", "g1")
    results = [f for f, _ in frames if f["type"] == "result"]
    check(done.get("channel") == "gone" and done.get("cancelled", 0) >= 1
          and done["ok"] == len(results)
          and done["ok"] + done["failed"] + done["cancelled"] == 6,
          f"watcher's last frame: {done}; results {len(results)}")
    # nothing follows the done, and the channel is still watched
    await asyncio.sleep(scaled(0.5))
    check(watched(w, "gone", "g1")[-1][0] == done, "frames after done")
    await wait_metric(gw, "sluice_subscriptions", 1)


async def sluice_submit_notify_is_watched(h):
    gw = await h.start(workers=[1])
    w = await h.client(gw)
    await ask(w, subscribe("cli"))
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--notify", "cli", "--id", "from-cli", "echo", "1", '"two"'))
    check(rc == 0, f"sluice-submit exit {rc}: {err}")
    theirs = await wait_watched_done(w, "cli", "from-cli")
    check(check_request(theirs, 2) == [1, "two"],
          f"the watcher's frames: {theirs}")
    rc, _, err = await finish(await spawn_submit(
        h, gw, "--notify", "a b", "echo", "1"))
    check(rc == 3 and "bad_message" in err, f"bad --notify: exit {rc}: {err}")
    # and the Python example producer
    mark = w.mark()
    rc, out, err = await run_example(
        os.path.join(EXAMPLES, "producer.py"), "--gateway", gw.producers,
        "--notify", "cli", "echo", "3")
    check(rc == 0, f"producer.py exit {rc}: {err}")
    done = await w.wait_frame(lambda f: f["type"] == "done"
                              and f.get("channel") == "cli", mark,
                              what="producer.py's request watched")
    check(done[0]["ok"] == 1, f"{done}")


async def a_watcher_that_does_not_read_is_cut_off_alone(h):
    """Watching gives no backpressure rights: a subscriber that stops
    reading is closed with 1008 at its own byte cap, and the request it
    watched runs on at full speed for its submitter."""
    gw = await h.start("--max-out-bytes", "65536", "--out-high-bytes", "16384",
                       "--out-low-bytes", "4096", workers=[2])
    sock, _ = await asyncio.to_thread(ws_handshake, gw.port, rcvbuf=4096)
    try:
        sock.setblocking(True)
        sock.sendall(ws_frame('{"type":"subscribe","channel":"flood"}'))
        await wait_metric(gw, "sluice_subscriptions", 1)
        # ... and never reads again. 8,000 results of ~1 kB: more than
        # the gateway's socket buffer (it may grow to 4 MB) and the
        # 64 KiB cap together.
        p = Producer(gw)
        reqs, n = 8, 1000
        for r in range(reqs):
            await p.send({"type": "submit", "id": f"f{r}", "task": "echo",
                          "items": ["y" * 1000] * n, "notify": "flood"})
        for r in range(reqs):
            frames = await p.collect(f"f{r}", timeout=30)
            check(frames[-1][0]["type"] == "done"
                  and frames[-1][0]["ok"] == n, f"f{r}: {frames[-1][0]}")
        await wait_log(gw, "CLI-SLOW")
        await wait_metric(gw, "sluice_slow_clients_closed_total", 1)
        await wait_metric(gw, "sluice_subscriptions", 0)
        p.close()
    finally:
        sock.close()


TESTS = [ws_subscribers_watch_a_producers_request,
         a_watcher_that_does_not_read_is_cut_off_alone,
         sluice_submit_notify_is_watched,
         watchers_learn_when_the_submitter_leaves,
         ws_clients_submit_with_notify,
         unsubscribe_stops_delivery_and_joiners_get_no_replay,
         subscriptions_are_limited_per_connection,
         bad_channels_are_refused,
         gauge_counts_subscriptions_and_cleanup,
         subscriber_leaving_mid_request_harms_nothing]

if __name__ == "__main__":
    run(TESTS)
