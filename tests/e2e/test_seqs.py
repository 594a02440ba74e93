#!/usr/bin/python3
"""submit's seqs (PROTOCOL.md revision 6): each item is answered with the
seq the client gave it, on JSON and msgpack WebSocket connections and on
the producers' endpoint; malformed seqs are refused with bad_seqs and the
connection carries on; a client that lost its gateway (kill -9) submits
only its missing items, with their original seqs, on another gateway and
ends with every seq exactly once."""
import json
import os

from harness import check, refusal_mismatch, run, scaled, wait_log
from test_msgpack_ws import msgpack_client, no_junk
from test_open_queue import Producer, finish, spawn_submit
from test_resume import cut, cuttable, resume

HB = ("--hb-interval-ms", "200")  # both sides: a silent peer is dead in 0.6 s


def outcomes(frames, req_id):
    """The frames of req_id that end an item, as {seq: frame}; fails on a
    seq seen twice."""
    out = {}
    for f, _ in frames:
        if f.get("id") != req_id or "seq" not in f \
                or f["type"] in ("progress", "partial"):
            continue
        check(f["type"] in ("result", "error"), f"unexpected {f}")
        check(f["seq"] not in out, f"seq {f['seq']} twice: {f}, {out}")
        out[f["seq"]] = f
    return out


def check_seqs(frames, req_id, items, seqs):
    """frames: req_id's frames through its done. accepted first, then
    exactly one result per seq in seqs, whose value is that seq's item
    (echo), then done counting every item ok."""
    kinds = [f["type"] for f, _ in frames if f.get("id") == req_id]
    check(kinds[0] == "accepted" and kinds[-1] == "done",
          f"{req_id}: frames {kinds}")
    got = outcomes(frames, req_id)
    check(sorted(got) == sorted(seqs), f"{req_id}: seqs {sorted(got)}, "
                                       f"want {sorted(seqs)}")
    for item, seq in zip(items, seqs):
        check(got[seq]["type"] == "result" and got[seq]["value"] == item,
              f"{req_id}: seq {seq} should carry {item!r}: {got[seq]}")
    done = [f for f, _ in frames if f.get("id") == req_id][-1]
    check(done["ok"] == len(items) and done["failed"] == 0,
          f"{req_id}: {done}")


ITEMS = ["five", {"nine": 9}, [2]]
SEQS = [5, 9, 2]


async def results_carry_the_seqs_given(h):
    """[5, 9, 2]: exactly those seqs, once each, on every transport."""
    gw = await h.start(workers=(2,))
    msg = {"type": "submit", "id": "s1", "task": "echo", "items": ITEMS,
           "seqs": SEQS}
    c = await h.client(gw)
    mark = c.mark()
    await c.send(msg)
    check_seqs(await c.collect("s1", mark), "s1", ITEMS, SEQS)

    m = await msgpack_client(h, gw)
    mark = m.mark()
    await m.send(msg)
    check_seqs(await m.collect("s1", mark), "s1", ITEMS, SEQS)
    no_junk(m)

    p = Producer(gw)
    try:
        await p.send(msg)
        check_seqs(await p.collect("s1"), "s1", ITEMS, SEQS)
    finally:
        p.close()

    # Without seqs: the index, as before.
    mark = c.mark()
    await c.submit("s2", "echo", ITEMS)
    check_seqs(await c.collect("s2", mark), "s2", ITEMS, [0, 1, 2])


BAD_SEQS = [
    ("shorter than items", [1, 2]),
    ("longer than items", [1, 2, 3, 4]),
    ("a duplicate", [7, 3, 7]),
    ("a negative", [0, -1, 2]),
    ("2^32", [0, 1, 2 ** 32]),
    ("a real", [0, 1.5, 2]),
    ("an integral real", [0, 1.0, 2]),
    ("a string", [0, "1", 2]),
    ("null", [0, None, 2]),
    ("not an array", 3),
    ("an object", {"0": 1}),
]


async def malformed_seqs_are_refused(h):
    """Every kind of bad seqs gets bad_seqs with the frame's id, nothing
    starts, and the connection (JSON or msgpack) carries on; a producer
    gets the same code."""
    gw = await h.start("--max-items", "100", workers=(2,))
    c = await h.client(gw)
    m = await msgpack_client(h, gw)
    p = Producer(gw)
    try:
        for name, seqs in BAD_SEQS:
            msg = {"type": "submit", "id": "bad", "task": "echo",
                   "items": [1, 2, 3], "seqs": seqs}
            for cl in (c, m):
                mark = cl.mark()
                await cl.send(msg)
                err, _ = await cl.wait_frame(
                    lambda f: f["type"] == "error", mark, what=name)
                wrong = await refusal_mismatch(cl, mark, msg, err,
                                               "bad_seqs", "bad")
                check(wrong is None, f"{name}: {wrong}")
            await p.send(msg)
            err = await p.recv()
            check(err["type"] == "error" and err["code"] == "bad_seqs"
                  and err["id"] == "bad" and "seq" not in err,
                  f"producer, {name}: {err}")
        # At the item limit: 100 seqs pass, 101 do not; a duplicate
        # among 100 is found wherever it is.
        items = list(range(100))
        seqs = [4294967295 - i for i in range(100)]
        mark = c.mark()
        await c.send({"type": "submit", "id": "big", "task": "echo",
                      "items": items, "seqs": seqs})
        check_seqs(await c.collect("big", mark), "big", items, seqs)
        for name, s in (("101 seqs", seqs + [0]),
                        ("a duplicate at the end", seqs[:99] + [seqs[0]])):
            mark = c.mark()
            await c.send({"type": "submit", "id": "big2", "task": "echo",
                          "items": items, "seqs": s})
            err, _ = await c.wait_frame(lambda f: f["type"] == "error",
                                        mark, what=name)
            check(err["code"] == "bad_seqs" and err["id"] == "big2",
                  f"{name}: {err}")
        no_junk(m)
    finally:
        p.close()


N = 16


async def lost_gateway_client_finishes_on_another(h):
    """Two gateways, two workers serving both. Gateway A dies (kill -9)
    mid-request; on gateway B the client's resume is refused (B never saw
    the request), so it submits only the items it has no outcome for,
    with their original seqs: every seq ends exactly once, each with its
    own item's value, on the workers A's death freed."""
    a = await h.gateway(*HB)
    b = await h.gateway(*HB)
    for _ in range(2):
        h.worker(a, 2, *HB, "--gateway", b.endpoint)
    await h.wait_workers(a, 2)
    await h.wait_workers(b, 2)
    items = [150 + i for i in range(N)]  # sleep: value = item, per seq

    ca = await h.client(a)
    await ca.submit("r1", "sleep", items)
    accepted, _ = await ca.wait_frame(lambda f: f["type"] == "accepted",
                                      what="accepted on A")
    await ca.wait_frame(
        lambda f: len(outcomes(ca.frames, "r1")) >= 4 or f["type"] == "done",
        timeout=20, what="4 results on A")
    a.kill()  # SIGKILL: no close frame, no done
    await ca.wait_closed()
    have = outcomes(ca.frames, "r1")
    check(4 <= len(have) < N, f"A answered {sorted(have)} before dying")
    check(not any(f["type"] == "done" for f, _ in ca.frames),
          "done from A before the kill")

    cb = await h.client(b)
    mark = cb.mark()
    check(isinstance(accepted.get("resume"), str), f"no token: {accepted}")
    await cb.send({"type": "resume", "id": "r1", "token": accepted["resume"],
                   "have": sorted(have)})
    err, _ = await cb.wait_frame(lambda f: f["type"] == "error", mark,
                                 what="B's answer to resume")
    # A's token means nothing to B: nothing to resume there.
    check(err["code"] == "unknown_request" and err.get("id") == "r1"
          and "seq" not in err, f"resume on B: {err}")

    missing = [s for s in range(N) if s not in have]
    mark = cb.mark()
    await cb.send({"type": "submit", "id": "r1", "task": "sleep",
                   "items": [items[s] for s in missing], "seqs": missing})
    frames = await cb.collect("r1", mark, timeout=30)
    got = outcomes(frames, "r1")
    check(sorted(got) == missing, f"B answered {sorted(got)}, want "
                                  f"{missing}")
    done = frames[-1][0]
    check(done["type"] == "done" and done["ok"] == len(missing),
          f"done on B: {done}")
    every = {**have, **got}
    check(sorted(every) == list(range(N)) and len(have) + len(got) == N,
          f"seqs overall: A {sorted(have)}, B {sorted(got)}")
    for s, f in every.items():
        check(f["type"] == "result" and f["value"] == items[s],
              f"seq {s}: {f}")
    h.clients.remove(ca)  # its gateway is gone


async def resume_on_the_same_gateway_keeps_the_seqs_given(h):
    """A request submitted with seqs (any 32-bit values, not in order) is
    resumed on the same gateway with have naming given seqs: the rest
    arrive with their given seqs, each once, with their own values."""
    gw = await h.gateway("--resume-ms", str(int(scaled(20) * 1000)))
    h.worker(gw, 2)
    await h.wait_workers(gw, 1)
    given = [4294967295, 0, 77, 3000000000, 5, 123456, 9, 1 << 31, 42, 6]
    items = [200 + i for i in range(len(given))]  # sleep: value = item
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.send({"type": "submit", "id": "r1", "task": "sleep",
                  "items": items, "seqs": given})
    acc, _ = await a.wait_frame(lambda f: f["type"] == "accepted", mark,
                                what="accepted")
    await a.wait_frame(lambda f: len(outcomes(a.frames, "r1")) >= 3,
                       mark, what="3 results")
    have = outcomes(a.frames, "r1")
    cut(h, a)
    b = await h.client(gw)
    frames = await resume(b, "r1", acc["resume"], sorted(have))
    got = outcomes(frames, "r1")
    done = frames[-1][0]
    check(done["type"] == "done" and done["ok"] == len(given)
          and done["failed"] == 0, f"{done}")
    check(not set(got) & set(have), f"resent: {sorted(got)} {sorted(have)}")
    every = {**have, **got}
    check(sorted(every) == sorted(given), f"seqs {sorted(every)}")
    for item, seq in zip(items, given):
        check(every[seq]["value"] == item, f"seq {seq}: {every[seq]}")


async def sluice_submit_have_submits_only_the_missing_items(h):
    """sluice-submit --have FILE: the seqs an earlier run printed are not
    submitted again; the others go with their seqs, so their lines carry
    the seqs of the whole list."""
    gw = await h.start(workers=(2,))
    items = ["10", "11", '"twelve"', "13", "[14]"]
    rc, out, err = await finish(await spawn_submit(h, gw, "echo", *items))
    check(rc == 0 and len(out.splitlines()) == 5, f"exit {rc}: {out} {err}")
    first = {json.loads(x)["seq"]: x for x in out.splitlines()}
    have = os.path.join(h.tmpdir, "have.jsonl")
    with open(have, "w") as f:
        f.write(first[1] + "\n\n" + first[3] + "\n")  # a blank line too
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--id", "again", "--have", have, "echo", *items))
    got = {f["seq"]: f["value"] for f in map(json.loads, out.splitlines())}
    check(rc == 0 and got == {0: 10, 2: "twelve", 4: [14]},
          f"exit {rc}: {out} {err}")
    await wait_log(gw, "req=again task=echo items=3")
    # Everything there already: nothing to submit, exit 0.
    with open(have, "w") as f:
        f.write(out + "".join(first[k] + "\n" for k in (1, 3)))
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--have", have, "echo", *items))
    check(rc == 0 and not out and "every item" in err, f"exit {rc}: {err}")
    # Not this tool's lines, or a seq these items do not have: usage.
    for text in ("not json\n", '{"seq": 5}\n', '{"seq": -1}\n', "[1]\n"):
        with open(have, "w") as f:
            f.write(text)
        rc, out, err = await finish(await spawn_submit(
            h, gw, "--have", have, "echo", *items))
        check(rc == 2 and "line 1" in err and not out,
              f"{text!r}: exit {rc}: {err}")
    rc, _, err = await finish(await spawn_submit(
        h, gw, "--have", have + ".missing", "echo", "1"))
    check(rc == 2 and "No such file" in err, f"exit {rc}: {err}")


if __name__ == "__main__":
    run([results_carry_the_seqs_given, malformed_seqs_are_refused,
         lost_gateway_client_finishes_on_another,
         resume_on_the_same_gateway_keeps_the_seqs_given,
         sluice_submit_have_submits_only_the_missing_items])
