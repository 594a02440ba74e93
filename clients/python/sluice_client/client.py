"""The sluice client: one asyncio task keeps a WebSocket to one of the
gateways of a URL list open, and every request, subscription and ping of
the application survives a change of connection.

What survives what (docs/PROTOCOL.md, revision 6):
* a dropped connection: the client reconnects (same URL first, then the
  next ones, with a capped, jittered backoff) and sends `resume` with the
  seqs it already holds for each unfinished request;
* a gateway that does not know the request (`unknown_request`: it died,
  or the resume window passed): the client submits only the missing items,
  with their original `seqs`, on whichever gateway it is connected to;
* no gateway for `give_up_after` seconds: everything unfinished ends with
  SluiceUnreachable.
Each seq is handed to the application at most once, whatever the gateways
send; a request's items are kept only until it ends.

Everything runs on the event loop of the task that called connect(); no
method is thread-safe.
"""

import asyncio
import json
import random
import re
import time

import websockets

try:
    import msgpack
except ImportError:  # optional: only for msgpack=True
    msgpack = None

MSGPACK_SUBPROTOCOL = "sluice.msgpack.v1"
# A channel name (PROTOCOL.md 1.2): checked here because the gateway's
# refusal of a malformed one cannot name the channel it refers to.
_CHANNEL = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


def _traceparent_ok(tp):
    """A W3C traceparent a gateway accepts (PROTOCOL.md 1.4)."""
    m = _TRACEPARENT.fullmatch(tp) if isinstance(tp, str) else None
    return bool(m) and m.group(1) != "0" * 32 and m.group(2) != "0" * 16


# Connection states passed to on_state(state, url).
CONNECTING = "connecting"
CONNECTED = "connected"
DISCONNECTED = "disconnected"
CLOSED = "closed"


class SluiceError(Exception):
    """A refusal by the gateway (an `error` frame without `seq`), or the
    client's own end: `code` is the protocol's error code (`unknown_task`,
    `too_many_items`, ...), or `unreachable` (no gateway answered for
    give_up_after seconds), `unauthorized` (the gateway refused the token),
    `closed` (the client was closed first)."""

    def __init__(self, code, message="", frame=None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.frame = frame or {}


class SluiceUnreachable(SluiceError):
    """No gateway of the list could be reached for give_up_after seconds."""

    def __init__(self, message):
        super().__init__("unreachable", message)


class Result:
    """One item's outcome: seq, value (None for an error), error (None, or
    the item error's code), message (the error's message, or None) and
    frame (the whole frame as received)."""

    __slots__ = ("seq", "value", "error", "message", "frame")

    def __init__(self, frame):
        self.frame = frame
        self.seq = frame["seq"]
        ok = frame.get("type") == "result"
        self.value = frame.get("value") if ok else None
        self.error = None if ok else frame.get("code")
        self.message = None if ok else frame.get("message")

    def __repr__(self):
        if self.error is None:
            return f"Result(seq={self.seq}, value={self.value!r})"
        return f"Result(seq={self.seq}, error={self.error!r})"


_END = object()  # queue marker: the stream or subscription has ended


class Stream:
    """A submitted request: `async for r in stream` yields each item's
    Result once, in the order they finish; afterwards `stream.done` holds
    the done frame's fields (ok and failed count the whole request's items
    as this client received them, across reconnections). A refusal raises
    SluiceError from the iteration.

    Inside an item (PROTOCOL.md revision 7), set before the first await:
    `stream.on_progress(seq, progress, text)` is called for its progress
    frames (0..1, text or None; droppable hints) and
    `stream.on_partial(seq, index, value, restart)` for each partial value,
    in order, before the item's Result. restart is True when the item
    started again (another worker, or another gateway after a reconnect):
    discard the partial values held for that seq, indexes count from 0
    again. Neither is called for a seq after its Result."""

    def __init__(self, client, req_id, task, items, timeout_ms, notify,
                 timing=False, traceparent=None, on_progress=None,
                 on_partial=None):
        self._client = client
        self.id = req_id
        self.task = task
        self.n_items = len(items)
        self._items = list(items)  # None once its seq was delivered
        self._timeout_ms = timeout_ms
        self._notify = notify
        self._timing = timing
        self._traceparent = traceparent  # kept across gateways: one trace
        self._have = set()  # seqs delivered to the application
        self._ok = 0
        self._failed = 0
        self._token = None  # resume token of the current gateway
        self._cancelling = False
        self._queue = asyncio.Queue()
        self._error = None
        self.done = None
        self.accepted = None  # the last accepted frame
        self.on_progress = on_progress
        self.on_partial = on_partial
        self._next_index = {}  # seq -> index of its next partial

    # -- application side --
    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # iterating again ends again
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return item

    def cancel(self):
        """Ask the gateway to stop this request; the iteration ends with the
        items that finished before, and done["cancelled"] counts the rest."""
        if self._finished or self._cancelling:
            return
        self._cancelling = True
        if self._client._connected():
            self._client._send({"type": "cancel", "id": self.id})
            return
        # No connection: the iteration ends now. A gateway that holds the
        # request for a resume gets the cancel on the next connection, so
        # its workers are not busy for us until the resume window ends.
        if self._token is not None:
            self._client._orphans.append(
                [{"type": "resume", "id": self.id, "token": self._token,
                  "have": sorted(self._have)},
                 {"type": "cancel", "id": self.id}])
        self._finish({"cancelled": 0})

    @property
    def _finished(self):
        return self.done is not None or self._error is not None

    # -- client side --
    def _missing(self):
        return [s for s in range(self.n_items) if s not in self._have]

    def _submit_frame(self, seqs):
        f = {"type": "submit", "id": self.id, "task": self.task,
             "items": [self._items[s] for s in seqs]}
        if len(seqs) != self.n_items:
            f["seqs"] = seqs
        if self._timeout_ms is not None:
            f["timeout_ms"] = self._timeout_ms
        if self._notify is not None:
            f["notify"] = self._notify
        if self._timing:
            f["timing"] = True
        if self._traceparent is not None:
            f["traceparent"] = self._traceparent
        return f

    def _replay(self):
        """Frames that carry this request onto a fresh connection."""
        if self._token is not None:
            frames = [{"type": "resume", "id": self.id, "token": self._token,
                       "have": sorted(self._have)}]
        else:
            frames = self._resubmit()
        if frames and self._cancelling:
            frames.append({"type": "cancel", "id": self.id})
        return frames

    def _resubmit(self):
        """The submit of the items not delivered yet, or [] after ending
        the stream if there are none."""
        missing = self._missing()
        if not missing or self._cancelling:
            self._finish({"cancelled": 0} if self._cancelling else {})
            return []
        return [self._submit_frame(missing)]

    def _deliver(self, frame):
        seq = frame.get("seq")
        if (not isinstance(seq, int) or isinstance(seq, bool)
                or not 0 <= seq < self.n_items or seq in self._have):
            return  # a duplicate (or not ours): never twice
        self._have.add(seq)
        self._items[seq] = None
        if frame["type"] == "result":
            self._ok += 1
        else:
            self._failed += 1
        self._queue.put_nowait(Result(frame))

    def _progress(self, f):
        seq = f.get("seq")
        if self.on_progress is not None and seq not in self._have:
            self.on_progress(seq, f.get("progress"), f.get("text"))

    def _partial(self, f):
        seq, index = f.get("seq"), f.get("index")
        if seq in self._have or not isinstance(index, int):
            return
        # A first partial after others of the seq is a new attempt even
        # when no gateway said so (a resubmit on another gateway).
        restart = bool(f.get("restart")) or (
            index == 0 and self._next_index.get(seq, 0) > 0)
        self._next_index[seq] = index + 1
        if self.on_partial is not None:
            self.on_partial(seq, index, f.get("value"), restart)

    def _finish(self, done_frame):
        if self._finished:
            return
        done = {k: v for k, v in done_frame.items() if k not in ("type", "id")}
        done["ok"], done["failed"] = self._ok, self._failed
        rest = self.n_items - self._ok - self._failed
        if rest or "cancelled" in done:
            done["cancelled"] = rest
        self.done = done
        self._end()

    def _fail(self, exc):
        if self._finished:
            return
        self._error = exc
        self._end()

    def _end(self):
        self._items = None
        self._queue.put_nowait(_END)
        self._client._forget(self)


class Subscription:
    """The frames of a notify channel's requests (dicts with "channel"), an
    async iterator; `await client.subscribe(ch)` returns it once the gateway
    confirmed. Resubscribed after a reconnect; frames sent while no
    connection was open are not replayed (the protocol has no replay)."""

    def __init__(self, client, channel):
        self._client = client
        self.channel = channel
        self._queue = asyncio.Queue()
        self._ready = asyncio.get_running_loop().create_future()
        self._error = None
        self._closed = False

    def __await__(self):
        return self._wait_ready().__await__()

    async def _wait_ready(self):
        await asyncio.shield(self._ready)
        return self

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return item

    def close(self):
        """Stop watching; the iteration ends."""
        if not self._closed:
            self._client._unsubscribe(self)
            self._end(None)

    def _end(self, exc):
        if self._closed:
            return
        self._closed = True
        self._error = exc
        if not self._ready.done():
            if exc is None:
                self._ready.set_result(None)
            else:
                self._ready.set_exception(exc)
                self._ready.exception()  # retrieved: no warning if unused
        self._queue.put_nowait(_END)


class Client:
    """A connection to sluice that outlives connections: see connect()."""

    def __init__(self, urls, token=None, *, use_msgpack=False,
                 give_up_after=30.0, connect_timeout=5.0, backoff_min=0.1,
                 backoff_max=5.0, on_state=None, ping_interval=20.0,
                 ping_timeout=20.0):
        if isinstance(urls, str):
            urls = [urls]
        if not urls:
            raise ValueError("connect: no URL")
        if use_msgpack and msgpack is None:
            raise ImportError("connect(msgpack=True) needs the msgpack "
                              "module (Debian: python3-msgpack)")
        self.urls = list(urls)
        self._token = token
        self._use_msgpack = use_msgpack
        self.give_up_after = give_up_after
        self.connect_timeout = connect_timeout
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self._on_state = on_state
        self._ping_interval, self._ping_timeout = ping_interval, ping_timeout
        self.state = CLOSED
        self.url = None  # the gateway connected to now, or None
        self.msgpack = False  # this connection speaks sluice.msgpack.v1
        self._ws = None
        self._outbox = None  # frames for the current connection's writer
        self._streams = {}  # id -> Stream, unfinished only
        self._subs = {}  # channel -> [Subscription]
        self._pings = {}  # n -> [future, send time]
        self._orphans = []  # frames cancelling what we left while away
        self._next = 0
        self._prefix = "%08x" % random.getrandbits(32)  # ids across gateways
        self._fatal = None  # the exception that ended the client
        self._connected_once = None  # future: first connection or failure
        self._task = None

    # -- application side --
    def submit(self, task, items, timeout_ms=None, notify=None, timing=False,
               traceparent=None, on_progress=None, on_partial=None):
        """Run task on every item; returns a Stream (see there, also for
        on_progress and on_partial). timing: each Result's frame says
        where its time went; traceparent: a W3C traceparent for the
        gateways' and workers' logs (without one the first gateway makes
        one, kept for resubmits elsewhere)."""
        items = list(items)
        if not items:
            raise ValueError("submit: no items")
        self._next += 1
        s = Stream(self, f"{self._prefix}-{self._next}", task, items,
                   timeout_ms, notify, timing, traceparent, on_progress,
                   on_partial)
        if self._fatal is not None:
            s._fail(self._fatal)
            return s
        self._streams[s.id] = s
        if self._connected():
            self._send(s._submit_frame(list(range(s.n_items))))
        return s

    def subscribe(self, channel):
        """Watch channel: an async iterator of its requests' frames; await
        it to wait until the gateway confirmed."""
        sub = Subscription(self, channel)
        if self._fatal is not None:
            sub._end(self._fatal)
            return sub
        if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
            sub._end(SluiceError("bad_message", f"{channel!r} is not a "
                                 "channel name: 1..64 of [A-Za-z0-9_.:-]"))
            return sub
        subs = self._subs.setdefault(channel, [])
        subs.append(sub)
        if self._connected():
            if len(subs) == 1:
                self._send({"type": "subscribe", "channel": channel})
            elif any(s._ready.done() for s in subs):
                sub._ready.set_result(None)
        return sub

    async def ping(self):
        """Round trip of an application-level ping, in seconds (sent again
        on the next connection if this one drops first)."""
        if self._fatal is not None:
            raise self._fatal
        self._next += 1
        n = self._next
        fut = asyncio.get_running_loop().create_future()
        self._pings[n] = [fut, time.monotonic()]
        if self._connected():
            self._send({"type": "ping", "data": {"sluice_client": n}})
        try:
            return await fut
        finally:
            self._pings.pop(n, None)

    async def close(self):
        """Cancel unfinished requests, close the connection; what is still
        being iterated ends with SluiceError("closed")."""
        ws, unfinished = self._ws, list(self._streams.values())
        self._end(SluiceError("closed", "the client was closed"))
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
        if ws is None:
            return
        try:  # a resumable request would otherwise run on for a while
            for s in unfinished:
                await asyncio.wait_for(
                    ws.send(self._encode({"type": "cancel", "id": s.id})), 1)
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
        await ws.close()

    # -- the connection --
    async def _start(self):
        self._connected_once = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run())
        try:
            await asyncio.shield(self._connected_once)
        except BaseException:  # given up, or the caller stopped waiting
            await self.close()
            raise
        return self

    def _connected(self):
        return self._outbox is not None

    def _send(self, frame):
        self._outbox.put_nowait(frame)

    def _set_state(self, state, url):
        self.state = state
        if self._on_state is not None:
            self._on_state(state, url)

    def _backoff(self, attempt):
        """Delay before attempt (0: none): doubling, capped, +-20 %."""
        if attempt == 0:
            return 0.0
        # (the exponent is capped: 2.0 ** 1024 overflows, and a client
        # that never gives up makes that many attempts in a few hours)
        d = self.backoff_min * 2.0 ** min(attempt - 1, 64)
        d = min(self.backoff_max, d)
        return d * random.uniform(0.8, 1.2)

    def _left(self, lost_at):
        """Seconds until giving up (give_up_after None: never)."""
        if self.give_up_after is None:
            return float("inf")
        return lost_at + self.give_up_after - time.monotonic()

    async def _open(self, url, timeout):
        headers = {}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        subprotocols = [MSGPACK_SUBPROTOCOL] if self._use_msgpack else None
        return await asyncio.wait_for(websockets.connect(
            url, extra_headers=headers, subprotocols=subprotocols,
            open_timeout=None, close_timeout=1, compression=None,
            max_size=None, ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout), timeout)

    async def _run(self):
        try:
            await self._reconnect_loop()
        except Exception as e:  # a bug here must not leave waiters hanging
            self._end(SluiceError("internal", f"sluice_client: {e!r}"))
            raise

    async def _reconnect_loop(self):
        attempt, idx, last = 0, 0, None
        lost_at = time.monotonic()
        while True:
            left = self._left(lost_at)
            await asyncio.sleep(min(self._backoff(attempt), max(left, 0)))
            left = self._left(lost_at)
            if left <= 0:
                tried = ", ".join(self.urls)
                self._end(SluiceUnreachable(
                    f"no gateway answered for {self.give_up_after:g} s "
                    f"(tried {tried}); last error: {last!r}"))
                return
            url = self.urls[idx]
            self._set_state(CONNECTING, url)
            try:
                ws = await self._open(url, min(self.connect_timeout, left))
            except websockets.InvalidStatusCode as e:
                if e.status_code == 401:
                    self._end(SluiceError("unauthorized",
                                          f"{url} refused the token"))
                    return
                last = e
            except (OSError, asyncio.TimeoutError,
                    websockets.InvalidHandshake) as e:
                last = e
            else:
                if await self._serve(ws, url):
                    lost_at, attempt = time.monotonic(), 0
                    continue  # the same gateway first: it may hold them
                last = "connection closed at once"
            attempt += 1
            idx = (idx + 1) % len(self.urls)

    async def _serve(self, ws, url):
        """One connection, from open to close. Was it of use (a frame came,
        or it lasted a second)? A gateway that closes every connection at
        once gets the backoff and the give-up time of one that refuses."""
        t0, useful = time.monotonic(), False
        self._ws, self.url = ws, url
        self.msgpack = ws.subprotocol == MSGPACK_SUBPROTOCOL
        self._outbox = asyncio.Queue()
        writer = asyncio.create_task(self._write(ws, self._outbox))
        self._replay()
        self._set_state(CONNECTED, url)
        if not self._connected_once.done():
            self._connected_once.set_result(None)
        try:
            async for msg in ws:
                useful = True
                self._dispatch(self._decode(msg))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._ws, self.url, self._outbox = None, None, None
            writer.cancel()
        self._set_state(DISCONNECTED, url)
        return useful or time.monotonic() - t0 >= 1.0

    def _replay(self):
        """Carry everything unfinished onto the new connection."""
        for frames in self._orphans:  # their answers match no stream
            for f in frames:
                self._send(f)
        self._orphans.clear()
        for s in list(self._streams.values()):
            for f in s._replay():
                self._send(f)
        for channel in self._subs:
            self._send({"type": "subscribe", "channel": channel})
        for n, p in self._pings.items():
            p[1] = time.monotonic()
            self._send({"type": "ping", "data": {"sluice_client": n}})

    async def _write(self, ws, outbox):
        try:
            while True:
                await ws.send(self._encode(await outbox.get()))
        except websockets.ConnectionClosed:
            pass  # the reader sees it too and ends the connection

    def _encode(self, frame):
        if self.msgpack:
            return msgpack.packb(frame, use_bin_type=True)
        return json.dumps(frame, separators=(",", ":"))

    def _decode(self, msg):
        try:
            if isinstance(msg, bytes):
                if msgpack is None:
                    return None
                f = msgpack.unpackb(msg, raw=False)
            else:
                f = json.loads(msg)
        except ValueError:
            return None
        return f if isinstance(f, dict) else None

    # -- frames from the gateway --
    def _dispatch(self, f):
        if f is None:
            return
        kind = f.get("type")
        if "channel" in f:
            self._to_channel(f, kind)
        elif kind == "pong":
            data = f.get("data")
            n = data.get("sluice_client") if isinstance(data, dict) else None
            p = self._pings.get(n)
            if p is not None and not p[0].done():
                p[0].set_result(time.monotonic() - p[1])
        else:
            s = self._streams.get(f.get("id"))
            if s is not None:
                self._to_stream(s, f, kind)

    def _to_stream(self, s, f, kind):
        if kind == "accepted":
            s.accepted = f
            tp = f.get("traceparent")
            if s._traceparent is None and _traceparent_ok(tp):
                s._traceparent = tp  # the gateway's: kept for resubmits
            s._token = f.get("resume")
        elif kind in ("result", "error") and "seq" in f:
            s._deliver(f)
        elif kind == "progress":
            s._progress(f)
        elif kind == "partial":
            s._partial(f)
        elif kind == "done":
            s._finish(f)
        elif kind == "error":
            code = f.get("code")
            if code == "unknown_request":  # resume refused: resubmit
                s._token = None
                for frame in s._resubmit():
                    self._send(frame)
            elif code == "unknown_id":
                pass  # cancel crossed the done, or a resume is pending
            elif code == "shutting_down":
                s._token = None  # submitted again on the next gateway
            else:
                s._fail(SluiceError(code, f.get("message", ""), f))

    def _to_channel(self, f, kind):
        subs = self._subs.get(f["channel"], [])
        if kind == "subscribed":
            for sub in subs:
                if not sub._ready.done():
                    sub._ready.set_result(None)
        elif kind == "error" and "seq" not in f:
            err = SluiceError(f.get("code"), f.get("message", ""), f)
            self._subs.pop(f["channel"], None)
            for sub in subs:
                sub._end(err)
        elif kind != "unsubscribed":
            for sub in subs:
                sub._queue.put_nowait(f)

    # -- bookkeeping --
    def _forget(self, stream):
        self._streams.pop(stream.id, None)

    def _unsubscribe(self, sub):
        subs = self._subs.get(sub.channel, [])
        if sub in subs:
            subs.remove(sub)
        if not subs and self._subs.pop(sub.channel, None) is not None:
            if self._connected():
                self._send({"type": "unsubscribe", "channel": sub.channel})

    def _end(self, exc):
        """The client is over: everything unfinished fails with exc."""
        if self._fatal is not None:
            return
        self._fatal = exc
        for s in list(self._streams.values()):
            s._fail(exc)
        for subs in list(self._subs.values()):
            for sub in subs:
                sub._end(exc)
        self._subs.clear()
        for fut, _ in self._pings.values():
            if not fut.done():
                fut.set_exception(exc)
        first = self._connected_once
        if first is not None and not first.done():
            first.set_exception(exc)
            first.exception()  # retrieved: _start's caller may be gone
        self._set_state(CLOSED, None)


class connect:
    """connect(urls, token=None, **options): a Client, as an async context
    manager (`async with connect(...) as client`) or awaitable (`client =
    await connect(...)`, then `await client.close()`). Entering waits for
    the first connection and raises SluiceUnreachable if no gateway of
    urls answers within give_up_after seconds.

    urls: a URL or a list of them (ws:// or wss://), tried in turn.
    token: sent as `Authorization: Bearer TOKEN`.
    Options: msgpack (False: speak sluice.msgpack.v1, needs the msgpack
    module), give_up_after (30 s without any gateway ends the client with
    SluiceUnreachable; None: never), connect_timeout (5 s per attempt),
    backoff_min and backoff_max (0.1 and 5 s: the delay between failed
    attempts doubles from one to the other, +-20 %), on_state (a
    callable(state, url) told
    of "connecting", "connected", "disconnected" and "closed"),
    ping_interval and ping_timeout (WebSocket keepalive, 20 s each)."""

    def __init__(self, urls, token=None, *, msgpack=False, **options):
        self._client = Client(urls, token, use_msgpack=msgpack, **options)

    def __await__(self):
        return self._client._start().__await__()

    async def __aenter__(self):
        return await self._client._start()

    async def __aexit__(self, *exc):
        await self._client.close()
