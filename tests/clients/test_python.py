#!/usr/bin/python3
"""clients/python (sluice_client) against real gateways and workers: a
plain request, done's fields, an item error, a refusal as SluiceError,
cancel, subscribe, msgpack, ping, tokens, a gateway that never answers,
a TCP cut mid-request (the same gateway resumes: nothing computed twice),
a resume after the window (unknown_request, the missing items again with
their seqs), a silently dead link, a hostile gateway, kill -9 of the
gateway mid-request with two gateways in the URL list (the request
completes on the other: every seq once, none twice), and the README's
example run as written. test_python_pip.py installs it with pip."""

import asyncio
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

from harness import (check, child_env, free_port, metric,  # noqa: E402
                     run, scaled, wait_log, wait_registered)

import sluice_client  # noqa: E402
import websockets  # noqa: E402


def fast(**kw):
    """Options for a client that notices and recovers quickly in a test."""
    opts = dict(give_up_after=scaled(20), connect_timeout=scaled(2),
                backoff_min=0.05, backoff_max=0.5)
    opts.update(kw)
    return opts


async def collect(stream, timeout=20, on_result=None):
    """Every Result of stream, checking no seq comes twice."""
    out = []

    async def loop():
        async for r in stream:
            check(all(r.seq != o.seq for o in out), f"seq {r.seq} twice")
            out.append(r)
            if on_result is not None:
                await on_result(r, out)
    try:
        await asyncio.wait_for(loop(), scaled(timeout))
    except asyncio.TimeoutError:
        raise AssertionError(f"stream {stream.id} not ended after "
                             f"{scaled(timeout):.0f} s; got seqs "
                             f"{sorted(r.seq for r in out)}") from None
    return out


async def items_total(port, outcome):
    """sluice_items_total{outcome=...} from the gateway's /metrics."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = (await asyncio.wait_for(r.read(), scaled(10))).decode()
    w.close()
    m = re.search(rf'^sluice_items_total{{outcome="{outcome}"}} (\S+)$', body,
                  re.M)
    check(m, f"no items_total {outcome} in /metrics")
    return float(m.group(1))


async def test_plain(h):
    gw = await h.start(workers=(2,))
    states = []
    async with sluice_client.connect(
            [gw.url], on_state=lambda s, u: states.append((s, u))) as client:
        check(client.url == gw.url and client.state == "connected",
              f"{client.url} {client.state}")
        stream = client.submit("echo", [1, "two", {"3": [3]}, None])
        out = await collect(stream)
        check(sorted((r.seq, r.value) for r in out if r.seq != 2) ==
              [(0, 1), (1, "two"), (3, None)], f"{out}")
        check(any(r.seq == 2 and r.value == {"3": [3]} for r in out), f"{out}")
        check(all(r.error is None for r in out), f"{out}")
        check(stream.done["ok"] == 4 and stream.done["failed"] == 0,
              f"{stream.done}")
        rtt = await client.ping()
        check(isinstance(rtt, float) and 0 <= rtt < scaled(5), f"rtt {rtt}")
        # the same stream iterated again ends at once
        check(await collect(stream) == [], "stream iterated twice")
    check(states[:2] == [("connecting", gw.url), ("connected", gw.url)]
          and states[-1] == ("closed", None), f"states {states}")


async def test_timing_and_traceparent(h):
    gw = await h.start(workers=(1,))
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with sluice_client.connect(gw.url) as client:
        stream = client.submit("echo", [1, 2], timing=True, traceparent=tp)
        out = await collect(stream)
        check(stream.accepted["traceparent"] == tp, f"{stream.accepted}")
        check(all(r.frame["attempts"] == 1 and r.frame["worker"] == "w1"
                  and r.frame["run_us"] >= 0 for r in out), f"{out}")
        # without: the gateway's own, kept by the stream for resubmits
        stream = client.submit("echo", [3])
        out = await collect(stream)
        made = stream.accepted["traceparent"]
        check(made != tp and stream._traceparent == made
              and "run_us" not in out[0].frame, f"{stream.accepted} {out}")


async def test_done_fields(h):
    gw = await h.start(workers=(2,))
    async with sluice_client.connect(gw.url) as client:
        stream = client.submit("sleep", [30, "abc", 20], timeout_ms=60000)
        check(stream.done is None, "done before the end")
        out = await collect(stream)
        by_seq = {r.seq: r for r in out}
        check(sorted(by_seq) == [0, 1, 2], f"{out}")
        check(by_seq[1].error == "bad_item" and by_seq[1].value is None
              and by_seq[1].message, f"{by_seq[1].frame}")
        check(by_seq[0].value == 30 and by_seq[2].value == 20, f"{out}")
        d = stream.done
        check(d["ok"] == 2 and d["failed"] == 1 and "cancelled" not in d
              and isinstance(d["elapsed_ms"], int) and d["elapsed_ms"] >= 0,
              f"done {d}")
        check("type" not in d and "id" not in d, f"done {d}")
        check(stream.accepted["items"] == 3, f"{stream.accepted}")
        # a refusal is a SluiceError with the code, the client carries on
        bad = client.submit("no_such_task", [1])
        try:
            await collect(bad)
            raise AssertionError("unknown task not refused")
        except sluice_client.SluiceError as e:
            check(e.code == "unknown_task" and e.message, f"{e!r}")
        check(bad.done is None, "refused stream has done")
        check(len(await collect(client.submit("echo", [5]))) == 1, "after")
        check(client._streams == {}, f"finished requests kept: "
                                     f"{client._streams}")


async def test_cancel(h):
    gw = await h.start(workers=(1,))
    async with sluice_client.connect(gw.url) as client:
        stream = client.submit("sleep", [10, 20000, 20000, 20000])

        async def cancel_after_first(r, out):
            stream.cancel()
        t0 = time.monotonic()
        out = await collect(stream, on_result=cancel_after_first)
        check(time.monotonic() - t0 < scaled(10), "cancel took too long")
        d = stream.done
        check([r.seq for r in out if r.error is None] == [0], f"{out}")
        check(d["ok"] == 1 and d["ok"] + d["failed"] + d["cancelled"] == 4,
              f"done {d}")
        check(await client.ping() >= 0, "ping after cancel")


async def test_subscribe(h):
    gw = await h.start(workers=(2,))
    async with sluice_client.connect(gw.url) as watcher, \
            sluice_client.connect(gw.url) as submitter:
        sub = await asyncio.wait_for(watcher.subscribe("nightly"), scaled(10))
        stream = submitter.submit("echo", [7, 8], notify="nightly")
        out = await collect(stream)
        check(sorted(r.value for r in out) == [7, 8], f"{out}")
        seen = []

        async def watch():
            async for f in sub:
                seen.append(f)
                if f["type"] == "done":
                    return
        await asyncio.wait_for(watch(), scaled(10))
        kinds = [f["type"] for f in seen]
        check(kinds[0] == "accepted" and kinds[-1] == "done"
              and sorted(f["value"] for f in seen if f["type"] == "result")
              == [7, 8] and all(f["channel"] == "nightly" for f in seen)
              and all(f["id"] == stream.id for f in seen), f"{seen}")
        sub.close()
        check([f async for f in sub] == [], "closed subscription yields")
        bad = watcher.subscribe("bad channel!")
        try:
            await asyncio.wait_for(bad, scaled(10))
            raise AssertionError("bad channel name accepted")
        except sluice_client.SluiceError as e:
            check(e.code == "bad_message", f"{e!r}")
        # the gateway's refusal of a valid name ends that subscription
        subs = [watcher.subscribe(f"c{i}") for i in range(16)]
        for s in subs:
            await asyncio.wait_for(s, scaled(10))
        try:
            await asyncio.wait_for(watcher.subscribe("c16"), scaled(10))
            raise AssertionError("17th subscription accepted")
        except sluice_client.SluiceError as e:
            check(e.code == "too_many_subscriptions", f"{e!r}")
        check(await watcher.ping() >= 0, "client unusable after refusal")


async def test_msgpack(h):
    gw = await h.start(workers=(1,))
    async with sluice_client.connect(gw.url, msgpack=True) as client:
        check(client.msgpack, "msgpack subprotocol not chosen")
        out = await collect(client.submit("echo", [b"\x00\xff", 3]))
        check(sorted((r.seq, r.value) for r in out) ==
              [(0, b"\x00\xff"), (1, 3)], f"{out}")
        check(await client.ping() >= 0, "msgpack ping")


async def test_progress_and_partials(h):
    """Revision 7: on_progress and on_partial see every frame of the item
    before its Result; kill -9 of the worker mid-item gives one restart,
    indexes from 0 again, and one Result. msgpack clients get the same."""
    gw = await h.gateway()
    a = h.worker(gw, 1)
    await h.wait_workers(gw, 1)
    events = []
    got_some = asyncio.Event()

    def on_partial(seq, index, value, restart):
        events.append(("partial", seq, index, value, restart))
        if index >= 50:
            got_some.set()

    async with sluice_client.connect(gw.url, **fast()) as client:
        stream = client.submit(
            "partials", [{"n": 300, "ms": 3000}], on_partial=on_partial,
            on_progress=lambda s, p, t: events.append(("progress", s, p)))
        results = []

        async def reader():
            results.extend(await collect(stream, timeout=40))
            events.append(("result",))
        task = asyncio.create_task(reader())
        await asyncio.wait_for(got_some.wait(), scaled(20))
        h.worker(gw, 1)
        await h.wait_workers(gw, 2)
        a.kill()
        await task
    check(len(results) == 1 and results[0].value == 300, f"{results}")
    check(events[-1] == ("result",), f"after the result: {events[-3:]}")
    parts = [e for e in events if e[0] == "partial"]
    restarts = [i for i, e in enumerate(parts) if e[4]]
    check(len(restarts) == 1, f"restarts at {restarts}")
    k = restarts[0]
    check([e[2] for e in parts[:k]] == list(range(k))
          and [e[2] for e in parts[k:]] == list(range(300)),
          f"indexes {[e[2] for e in parts][:5]}...")
    check(all(e[3] == e[2] for e in parts), "partial values")
    check(sum(1 for e in events if e[0] == "progress") >= 3,
          "too few progress calls")
    async with sluice_client.connect(gw.url, msgpack=True) as client:
        seen = []
        out = await collect(client.submit(
            "burn", [600], on_progress=lambda s, p, t: seen.append(p)))
        check([r.value for r in out] == [600], f"{out}")
        check(len(seen) >= 2 and all(isinstance(p, float) for p in seen)
              and seen == sorted(seen), f"msgpack progress {seen}")


async def test_token(h):
    """token is sent as a bearer token; a refused one ends the client at
    once with code unauthorized instead of retrying until give_up_after."""
    token = "s3cret-token-0123456789"
    gw = await h.gateway("--tokens", token)
    await wait_registered(gw, h.worker(gw, 1))
    async with sluice_client.connect(gw.url, token=token) as client:
        check(len(await collect(client.submit("echo", [1]))) == 1, "token")
    for bad in (None, token + "x"):
        t0 = time.monotonic()
        try:
            async with sluice_client.connect(gw.url, token=bad,
                                             give_up_after=60):
                raise AssertionError(f"token {bad!r} accepted")
        except sluice_client.SluiceError as e:
            check(e.code == "unauthorized", f"{e!r}")
        check(time.monotonic() - t0 < scaled(5), "slow refusal")


async def silent_listener():
    """A TCP server that accepts and never says a word."""
    held = []

    async def hold(r, w):
        held.append(w)
        await asyncio.sleep(3600)
    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_silent_gateway(h):
    server, port = await silent_listener()
    url = f"ws://127.0.0.1:{port}/"
    t0 = time.monotonic()
    try:
        async with sluice_client.connect([url], give_up_after=2,
                                         connect_timeout=0.5):
            raise AssertionError("connected to a silent listener")
    except sluice_client.SluiceUnreachable as e:
        took = time.monotonic() - t0
        check(e.code == "unreachable" and url in str(e)
              and "no gateway answered for 2 s" in str(e), f"{e}")
        check(1.5 <= took < 2 + scaled(3), f"gave up after {took:.1f} s")
    # a caller that stops waiting for the first connection stops the client
    states = []
    try:
        await asyncio.wait_for(sluice_client.connect(
            [url], give_up_after=None,
            on_state=lambda st, u: states.append(st)), 0.5)
        raise AssertionError("connected to a silent listener")
    except asyncio.TimeoutError:
        pass
    n = len(states)
    await asyncio.sleep(1)
    check(states[-1] == "closed" and len(states) == n, f"{states}")
    server.close()
    # connected once, then every gateway gone: the request fails the same way
    gw = await h.start(workers=(1,))
    async with sluice_client.connect(gw.url, **fast(give_up_after=2)) as c:
        stream = c.submit("sleep", [10, 30000])
        h.procs[-1].kill()  # the worker: nothing finishes seq 1
        gw.kill()
        t0 = time.monotonic()
        try:
            await collect(stream)
            raise AssertionError("request ended without a gateway")
        except sluice_client.SluiceUnreachable as e:
            check(time.monotonic() - t0 < 2 + scaled(3), "slow give up")
        try:
            await c.ping()
            raise AssertionError("ping without a gateway")
        except sluice_client.SluiceUnreachable:
            pass


class Proxy:
    """A TCP forwarder to a port; cut() drops every connection it carries
    at once (no WebSocket close frame either way), new ones still pass."""

    def __init__(self, target_port):
        self.target = target_port
        self.conns = []
        self.frozen = set()  # connections whose bytes are dropped
        self.accepted = 0
        self.blocked = False  # new connections are cut at once

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        return self

    async def _handle(self, r, w):
        if self.blocked:
            w.transport.abort()
            return
        self.accepted += 1
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.transport.abort()
            return
        pair = (w, uw)
        self.conns.append(pair)

        async def pump(src, dst):
            try:
                while data := await src.read(65536):
                    if pair in self.frozen:
                        continue  # a dead link: nothing passes, no FIN
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            dst.transport.abort()
        await asyncio.gather(pump(r, uw), pump(ur, w))

    def cut(self):
        for w, uw in self.conns:
            w.transport.abort()
            uw.transport.abort()
        self.conns = []

    def freeze(self):
        """The link dies silently: the connections stay open on both
        sides and carry nothing any more (TCP reports nothing)."""
        self.frozen.update(self.conns)

    def close(self):
        self.cut()
        self.server.close()


def resume_supported(h):
    """Does this gateway resume requests (issue 16, --resume-ms)? The
    resume checks apply once it does."""
    return "--resume-ms" in h.run_cli(h.gateway_bin, "--help").stdout


async def tcp_cut(h, use_msgpack):
    gw = await h.start(workers=(2,))
    proxy = await Proxy(gw.port).start()
    states = []
    async with sluice_client.connect(
            proxy.url, on_state=lambda s, u: states.append(s),
            msgpack=use_msgpack, **fast()) as client:
        check(client.msgpack == use_msgpack, "subprotocol")
        n = 12  # 300 ms each on 2 threads: far from done at the 2nd cut
        stream = client.submit("sleep", [300] * n)
        cuts = []

        async def cut_twice(r, out):
            if len(out) in (3, 7):
                cuts.append(len(out))
                proxy.cut()
        out = await collect(stream, on_result=cut_twice)
        check(sorted(r.seq for r in out) == list(range(n)), f"{out}")
        check(stream.done["ok"] == n and stream.done["failed"] == 0,
              f"{stream.done}")
        check(cuts == [3, 7] and proxy.accepted == 3
              and states.count("disconnected") == 2, f"{cuts} "
              f"{proxy.accepted} {states}")
        if resume_supported(h):
            check("resume" in stream.accepted, f"{stream.accepted}")
            resumed = await metric(gw.port, "sluice_resumed_total")
            check(resumed == 2, f"{resumed} resumes for 2 cuts")
            done_ok = await items_total(gw.port, "ok")
            check(done_ok == n, f"{done_ok} items computed for {n}")
    proxy.close()


async def test_tcp_cut(h):
    """Cut mid-request: the client reconnects to the same gateway, resumes
    (when the gateway offers resume tokens), every seq once; with resume no
    item is computed twice."""
    await tcp_cut(h, False)


async def test_tcp_cut_msgpack(h):
    """The same on sluice.msgpack.v1."""
    await tcp_cut(h, True)


async def test_resume_expired(h):
    """The client comes back after the gateway's --resume-ms: its resume
    is refused (unknown_request) and it submits the missing items with
    their seqs on the same gateway; every seq once."""
    if not resume_supported(h):
        return
    gw = await h.start("--resume-ms", "300", workers=(2,))
    proxy = await Proxy(gw.port).start()
    async with sluice_client.connect(
            proxy.url, **fast(backoff_max=0.2)) as client:
        n = 8
        stream = client.submit("sleep", [150] * n)

        async def away(r, out):
            if len(out) == 2:
                proxy.blocked = True
                proxy.cut()
                await wait_log(gw, "REQ-EXPIRE")
                proxy.blocked = False
        out = await collect(stream, on_result=away)
        check(sorted(r.seq for r in out) == list(range(n)), f"{out}")
        check(stream.done["ok"] == n, f"{stream.done}")
        refused = await metric(gw.port, "sluice_resume_refused_total")
        check(refused == 1, f"{refused} resumes refused")
    proxy.close()


async def test_cancel_while_away(h):
    """cancel() with no connection ends the iteration at once; the next
    connection cancels the request the gateway held for a resume."""
    if not resume_supported(h):
        return
    gw = await h.start("--resume-ms", "60000", workers=(1,))
    proxy = await Proxy(gw.port).start()
    async with sluice_client.connect(proxy.url, **fast()) as client:
        stream = client.submit("sleep", [10, 30000, 30000])

        async def away(r, out):
            proxy.blocked = True
            proxy.cut()
            while client.state == "connected":
                await asyncio.sleep(0.01)
            stream.cancel()
        t0 = time.monotonic()
        out = await collect(stream, on_result=away)
        check([r.seq for r in out] == [0] and stream.done["ok"] == 1
              and stream.done["cancelled"] == 2, f"{out} {stream.done}")
        proxy.blocked = False
        line = await wait_log(gw, f"REQ-DONE req={stream.id} ")
        check("cancelled=2" in line, line)
        check(time.monotonic() - t0 < scaled(20), "cancelled by expiry")
        check(await client.ping() >= 0, "ping after")
    proxy.close()


async def test_dead_link(h):
    """The link dies without a word (no FIN, no RST): the client's
    WebSocket keepalive notices, it reconnects and the request ends with
    every seq once."""
    gw = await h.start(workers=(2,))
    proxy = await Proxy(gw.port).start()
    async with sluice_client.connect(
            proxy.url, **fast(ping_interval=0.5, ping_timeout=0.5)) as client:
        n = 8
        stream = client.submit("sleep", [150] * n)

        async def freeze(r, out):
            if len(out) == 2:
                proxy.freeze()
        out = await collect(stream, on_result=freeze)
        check(sorted(r.seq for r in out) == list(range(n)), f"{out}")
        check(proxy.accepted == 2, f"{proxy.accepted} connections")
    proxy.close()


async def test_backoff(h):
    """The delay between failed attempts: none before the first, then
    doubling from backoff_min, capped at backoff_max, +-20 % jitter."""
    c = sluice_client.Client(["ws://127.0.0.1:1/"], backoff_min=0.1,
                             backoff_max=5)
    check(c._backoff(0) == 0, "delay before the first attempt")
    check(0.8 * 5 <= c._backoff(5000) <= 1.2 * 5, "a never-ending client")
    for attempt in range(1, 40):
        base = min(5, 0.1 * 2 ** (attempt - 1))
        ds = [c._backoff(attempt) for _ in range(200)]
        check(all(0.8 * base <= d <= 1.2 * base for d in ds)
              and max(ds) - min(ds) > 0.1 * base, f"attempt {attempt}: "
              f"{min(ds)}..{max(ds)}, want {base} +-20 %")


async def test_hostile_gateway(h):
    """A gateway that sends garbage, a seq twice, seqs out of range, frames
    of other ids: the application still gets each seq of its request once
    and done counts what it got. One that closes every connection at once
    is given up on after give_up_after, with backoff, not a tight loop."""
    async def bad(ws, path=None):
        async for msg in ws:
            f = json.loads(msg)
            if f["type"] != "submit":
                continue
            i = f["id"]
            for out in ({"type": "accepted", "id": i, "items": 3},
                        {"type": "result", "id": i, "seq": 0, "value": "a"},
                        {"type": "result", "id": i, "seq": 0, "value": "b"},
                        "not json", b"\x92binary", "[1,2]", {"no": "type"},
                        {"type": "result", "id": i, "seq": 7, "value": 1},
                        {"type": "result", "id": i, "seq": -1, "value": 1},
                        {"type": "result", "id": i, "seq": "1", "value": 1},
                        {"type": "result", "id": i, "seq": 1.0, "value": 1},
                        {"type": "result", "id": i, "seq": True, "value": 1},
                        {"type": "result", "id": i + "x", "seq": 2},
                        {"type": "pong", "data": {"sluice_client": 99}},
                        {"type": "error", "id": i, "seq": 1,
                         "code": "bad_item", "message": "m"},
                        {"type": "result", "id": i, "seq": 1, "value": "c"},
                        {"type": "result", "id": i, "seq": 2, "value": "d"},
                        {"type": "done", "id": i, "ok": 9, "failed": 9,
                         "elapsed_ms": 5},
                        {"type": "result", "id": i, "seq": 2, "value": "e"}):
                await ws.send(json.dumps(out) if isinstance(out, dict)
                              else out)
    server = await websockets.serve(bad, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with sluice_client.connect(url, **fast()) as client:
        stream = client.submit("echo", [1, 2, 3])
        out = await collect(stream)
        check([(r.seq, r.value, r.error) for r in out] ==
              [(0, "a", None), (1, None, "bad_item"), (2, "d", None)],
              f"{out}")
        check(stream.done == {"ok": 2, "failed": 1, "elapsed_ms": 5},
              f"{stream.done}")
    server.close()

    opened = []

    async def slam(ws, path=None):
        opened.append(time.monotonic())
        await ws.close()
    server = await websockets.serve(slam, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    t0 = time.monotonic()
    try:
        client = await sluice_client.connect(
            url, give_up_after=2, backoff_min=0.05, backoff_max=0.5)
        stream = client.submit("echo", [1])
        await collect(stream)
        raise AssertionError("a gateway that closes at once served")
    except sluice_client.SluiceUnreachable as e:
        check("closed at once" in str(e), f"{e}")
    took = time.monotonic() - t0
    check(1.5 <= took < 2 + scaled(3) and 2 <= len(opened) <= 20,
          f"gave up after {took:.1f} s, {len(opened)} connections")
    await client.close()
    server.close()


async def kill9(h, shared):
    """shared: two workers serve both gateways; else one each."""
    gw1 = await h.gateway()
    gw2 = await h.gateway()
    if shared:
        for _ in range(2):
            h.worker(gw1, 2, "--gateway", gw2.endpoint)
    else:
        h.worker(gw1, 2)
        h.worker(gw2, 2)
    await h.wait_workers(gw1, 2 if shared else 1)
    await h.wait_workers(gw2, 2 if shared else 1)
    states = []
    async with sluice_client.connect(
            [gw1.url, gw2.url], on_state=lambda s, u: states.append((s, u)),
            **fast()) as client:
        n = 10
        stream = client.submit("sleep", [150] * n)

        async def kill_gw1(r, out):
            if len(out) == 3:
                gw1.kill()
        out = await collect(stream, on_result=kill_gw1)
        check(sorted(r.seq for r in out) == list(range(n)), f"{out}")
        check(client.url == gw2.url and ("connected", gw2.url) in states,
              f"{states}")
        check(stream.done["ok"] == n, f"{stream.done}")
        # the other gateway ran only the missing items
        ran = await items_total(gw2.port, "ok")
        check(ran <= n - 3, f"gateway 2 computed {ran} items, 3 were done")
        if resume_supported(h):
            refused = await metric(gw2.port, "sluice_resume_refused_total")
            check(refused == 1, f"{refused} resumes refused by gateway 2")


async def test_kill9(h):
    """kill -9 of the gateway mid-request with two gateways in the URL
    list: the request completes on the other, every seq once, the other
    gateway computing only the missing items."""
    await kill9(h, False)


async def test_kill9_shared_workers(h):
    """The same with two workers that serve both gateways (issue 16)."""
    await kill9(h, True)


README = os.path.join(ROOT, "clients", "python", "README.md")


def readme_example(url):
    """The README's example with its first address replaced by url."""
    text = open(README, encoding="utf-8").read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    check("ws://127.0.0.1:8080/" in code,
          "the example names no ws://127.0.0.1:8080/")
    return code.replace("ws://127.0.0.1:8080/", url)


async def run_example(python, url, env=None, cwd=None):
    p = await asyncio.create_subprocess_exec(
        python, "-c", readme_example(url), env=child_env(env), cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(p.communicate(), scaled(60))
    out = out.decode()
    check(p.returncode == 0, f"README example failed:\n{out}")
    check("'ok': 20" in out and "ping" in out, f"output:\n{out}")


async def test_readme(h):
    """The README's example, run as written (its address replaced)."""
    gw = await h.start(workers=(4,))
    await run_example(sys.executable, gw.url,
                      {"PYTHONPATH": os.path.join(ROOT, "clients", "python")})


async def output_of(argv, env=None, cwd=ROOT, stdin=None):
    """(exit code, stdout, stderr) of a program run to its end."""
    p = await asyncio.create_subprocess_exec(
        *argv, env=child_env(env), cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
    out, err = await asyncio.wait_for(p.communicate(stdin), scaled(60))
    return p.returncode, out.decode(), err.decode()


async def test_example_session(h):
    """The top README's example session, its shell block run as written
    (the address replaced) from the top of the tree with one thread."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    part = text[text.index("## An example session"):]
    block = re.search(r"```sh\n(.*?)```", part, re.S).group(1)
    gw = await h.start(workers=(1,))
    check("ws://127.0.0.1:8080/" in block, "session names no address")
    rc, out, err = await output_of(
        ["sh", "-c", block.replace("ws://127.0.0.1:8080/", gw.url)])
    check(rc == 0, f"example session failed: {out}{err}")
    lines = out.splitlines()
    check(len(lines) == 4 and all(re.fullmatch(
        rf" *\d+ ms  seq {i}: 400", lines[i]) for i in range(3)) and
        re.fullmatch(r" *\d+ ms  done \{'ok': 3, 'failed': 0, "
                     r"'elapsed_ms': \d+\}", lines[3]), f"output:\n{out}")


async def test_example_client(h):
    """deploy/examples/client.py: JSON lines, the done fields, exit codes;
    the first URL refuses, the second serves."""
    gw = await h.start(workers=(2,))
    dead = f"ws://127.0.0.1:{free_port()}/"
    prog = os.path.join(ROOT, "deploy", "examples", "client.py")
    rc, out, err = await output_of(
        [sys.executable, prog, "--url", dead, "--url", gw.url, "sleep",
         "30", "10", '"x"'])
    check(rc == 1, f"exit {rc}: {out}{err}")
    got = sorted((json.loads(line) for line in out.splitlines()),
                 key=lambda f: f["seq"])
    check([f["seq"] for f in got] == [0, 1, 2] and got[0]["value"] == 30
          and got[2]["error"] == "bad_item", f"{out}")
    done = json.loads(err.splitlines()[-1])
    check(done["ok"] == 2 and done["failed"] == 1, f"{err}")
    rc, out, err = await output_of([sys.executable, prog, "--url", gw.url,
                                    "echo", "[1]"])
    check(rc == 0 and json.loads(out) == {"seq": 0, "value": [1]},
          f"{rc} {out}{err}")
    rc, out, err = await output_of([sys.executable, prog, "--url", gw.url,
                                    "nosuchtask", "1"])
    check(rc == 2 and "unknown_task" in err, f"{rc} {out}{err}")
    rc, out, err = await output_of([sys.executable, prog, "--url", dead,
                                    "--give-up", "1", "echo", "1"])
    check(rc == 2 and "unreachable" in err, f"{rc} {out}{err}")


if __name__ == "__main__":
    run([test_plain, test_timing_and_traceparent, test_done_fields,
         test_cancel, test_subscribe, test_msgpack, test_progress_and_partials,
         test_token,
         test_silent_gateway, test_tcp_cut, test_tcp_cut_msgpack,
         test_resume_expired, test_cancel_while_away, test_backoff,
         test_dead_link, test_hostile_gateway, test_kill9,
         test_kill9_shared_workers, test_readme, test_example_session,
         test_example_client])
