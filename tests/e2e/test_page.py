#!/usr/bin/python3
"""The demo page in a real browser: headless Chromium, driven over the
DevTools protocol, loads the page from the gateway, submits, and shows each
result as it arrives, under the gateway's Content-Security-Policy.

Needs Debian's chromium (deploy/dev.sh deps installs it). Screenshots are
saved in the working directory (under ctest: build/tests/e2e/page*.png).
"""
import asyncio
import atexit
import base64
import ctypes
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import websockets

from harness import check, run, scaled
from test_open_queue import Producer

CHROMIUM = "/usr/bin/chromium"
WWW_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "..", "gateway", "www")
VIEWPORT = {"width": 1000, "height": 900, "deviceScaleFactor": 1,
            "mobile": False}
JS_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                         "clients", "js", "sluice.js")


def _chromium_child():
    """In the child: own process group (so that the browser's helpers can
    be killed with it) and SIGKILL if the test process dies."""
    os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


class Browser:
    """A headless Chromium with one page, driven over its DevTools
    WebSocket (flat sessions). Every console message, log entry and
    exception is kept in self.events."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.proc = None
        self.ws = None
        self.session = None
        self.events = []
        self._calls = {}
        self._next = 0
        self._reader = None

    async def __aenter__(self):
        try:
            return await self._start()
        except BaseException:
            self.kill()
            raise

    async def _start(self):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.tmpdir)
        argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--mute-audio", "--remote-debugging-port=0",
                f"--user-data-dir={profile}", "about:blank"]
        self.log_path = os.path.join(self.tmpdir, "chromium.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_chromium_child)
        atexit.register(self.kill)
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + scaled(20)
        lines = []
        while len(lines) < 2:
            check(self.proc.poll() is None,
                  f"chromium exited {self.proc.returncode}:\n{self._log()}")
            check(time.monotonic() < deadline,
                  f"no DevToolsActivePort after {scaled(20):.0f} s:\n"
                  f"{self._log()}")
            await asyncio.sleep(0.05)
            if os.path.exists(port_file):
                with open(port_file) as f:
                    lines = f.read().split()
        self.ws = await asyncio.wait_for(websockets.connect(
            f"ws://127.0.0.1:{lines[0]}{lines[1]}", max_size=None,
            ping_interval=None, compression=None), scaled(10))
        self._reader = asyncio.create_task(self._read())
        target = await self.call("Target.createTarget", {"url": "about:blank"},
                                 session=False)
        attached = await self.call("Target.attachToTarget", {
            "targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        version = await self.call("Browser.getVersion", session=False)
        print(f"e2e: {version['product']}")
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.call(f"{domain}.enable")
        await self.call("Emulation.setDeviceMetricsOverride", VIEWPORT)
        return self

    async def __aexit__(self, exc_type, *_):
        if exc_type:
            print(f"---- chromium pid {self.proc.pid} ----\n{self._log()}")
        if self.ws:
            try:
                await self.call("Browser.close", session=False, timeout=5)
            except (AssertionError, websockets.ConnectionClosed):
                pass
            self._reader.cancel()
            await self.ws.close()
        deadline = time.monotonic() + scaled(5)
        while (self.proc and self.proc.poll() is None
               and time.monotonic() < deadline):
            await asyncio.sleep(0.05)
        self.kill()

    def kill(self):
        """SIGKILL the browser's process group (the browser and its
        helpers), which we created; harmless once it is gone."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def _log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    async def _read(self):
        try:
            async for msg in self.ws:
                m = json.loads(msg)
                if "id" in m:
                    fut = self._calls.pop(m["id"], None)
                    if fut and not fut.done():
                        fut.set_result(m)
                elif m.get("method") in (
                        "Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                        "Log.entryAdded", "Page.loadEventFired",
                        "Network.responseReceived"):
                    self.events.append((m["method"], m["params"]))
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self._calls.values():
                if not fut.done():
                    fut.set_exception(
                        AssertionError("DevTools connection closed"))
            self._calls.clear()

    async def call(self, method, params=None, session=True, timeout=10):
        """A DevTools command on the page (session=False: on the browser);
        returns its result."""
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        fut = asyncio.get_running_loop().create_future()
        self._calls[self._next] = fut
        await self.ws.send(json.dumps(msg))
        try:
            reply = await asyncio.wait_for(fut, scaled(timeout))
        except asyncio.TimeoutError:
            raise AssertionError(f"DevTools {method}: no answer within "
                                 f"{scaled(timeout):.0f} s") from None
        check("error" not in reply, f"DevTools {method}: {reply.get('error')}")
        return reply["result"]

    async def js(self, expr):
        """The value of a JavaScript expression in the page."""
        r = await self.call("Runtime.evaluate", {
            "expression": expr, "returnByValue": True, "awaitPromise": True})
        check("exceptionDetails" not in r,
              f"page threw evaluating {expr!r}: {r.get('exceptionDetails')}")
        return r["result"].get("value")

    async def wait_js(self, expr, timeout=10, what=None):
        """Poll expr until it is truthy; return its value."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            v = await self.js(expr)
            if v:
                return v
            check(time.monotonic() < deadline,
                  f"no {what or expr} within {scaled(timeout):.0f} s "
                  f"(last value {v!r}; page state {await self.state()})")
            await asyncio.sleep(0.05)

    async def state(self):
        return await self.js("window.sluiceState")

    async def text(self, element_id):
        return await self.js(f"document.getElementById('{element_id}')"
                             f".textContent.trim()")

    async def open(self, gw):
        """Load the page from gw; wait until it is connected and shows
        the worker."""
        url = f"http://127.0.0.1:{gw.port}/"
        mark = len(self.events)
        nav = await self.call("Page.navigate", {"url": url})
        check(not nav.get("errorText"), f"cannot load {url}: {nav}")
        deadline = time.monotonic() + scaled(10)
        while not any(m == "Page.loadEventFired"
                      for m, _ in self.events[mark:]):
            check(time.monotonic() < deadline, f"{url} did not load")
            await asyncio.sleep(0.05)
        await self.wait_js("window.sluiceState && sluiceState.conn === 'open'",
                           what="connection state 'open'")
        await self.wait_js("document.getElementById('workers').textContent"
                           " === '1'", what="1 worker shown")

    async def click(self, element_id):
        """A real left click in the middle of the element."""
        box = await self.js(f"""(() => {{
            const e = document.getElementById('{element_id}');
            e.scrollIntoView({{block: 'center'}});
            const r = e.getBoundingClientRect();
            return {{x: r.x + r.width / 2, y: r.y + r.height / 2,
                     disabled: e.disabled}}; }})()""")
        check(not box["disabled"], f"#{element_id} is disabled")
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", {
                "type": kind, "x": box["x"], "y": box["y"], "button": "left",
                "clickCount": 1})

    async def type_into(self, element_id, text, enter=False):
        """Replace the field's text as a user typing it would."""
        await self.js(f"document.getElementById('{element_id}').focus(), "
                      f"document.getElementById('{element_id}').select()")
        await self.call("Input.insertText", {"text": text})
        if enter:
            for kind in ("keyDown", "keyUp"):
                await self.call("Input.dispatchKeyEvent", {
                    "type": kind, "key": "Enter", "code": "Enter",
                    "windowsVirtualKeyCode": 13,
                    **({"text": "\r"} if kind == "keyDown" else {})})

    async def select(self, element_id, value):
        await self.js(f"""(() => {{
            const e = document.getElementById('{element_id}');
            e.focus(); e.value = {json.dumps(value)};
            e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")

    async def screenshot(self, name):
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        path = os.path.join(os.getcwd(), name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"e2e: screenshot {path}")

    def problems(self, allow=()):
        """Console errors, exceptions and CSP violations seen so far, as
        text; messages matching a regex in allow are not problems."""
        out = []
        for method, p in self.events:
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                text = d.get("exception", {}).get("description") or d["text"]
            elif method == "Runtime.consoleAPICalled" and p["type"] in (
                    "error", "assert", "warning"):  # the page logs none
                text = " ".join(str(a.get("value", a.get("description")))
                                for a in p["args"])
            elif method == "Log.entryAdded" and (
                    p["entry"]["level"] == "error"
                    or "Content Security Policy" in p["entry"]["text"]):
                text = p["entry"]["text"]
            else:
                continue
            csp = "Content Security Policy" in text
            if csp or not any(re.search(a, text) for a in allow):
                out.append(f"{method}: {text}"
                           + (" (CSP violation)" if csp else ""))
        return out


async def start(h):
    """Gateway + one single-threaded worker, after checking that the page
    it serves (the copy beside its binary) is the one in gateway/www."""
    check(os.access(CHROMIUM, os.X_OK),
          f"{CHROMIUM} not found: the page test needs Debian's chromium; "
          f"install it with `apt-get install chromium` "
          f"(`deploy/dev.sh deps` does)")
    served = os.path.join(os.path.dirname(h.gateway_bin), "www")
    for name in sorted(os.listdir(WWW_SRC)):
        with open(os.path.join(WWW_SRC, name), "rb") as f:
            src = f.read()
        try:
            with open(os.path.join(served, name), "rb") as f:
                same = f.read() == src
        except FileNotFoundError:
            same = False
        check(same, f"{served}/{name} differs from gateway/www/{name} (the "
                    f"build copies gateway/www only when it relinks "
                    f"sluice-gateway): run `cmake -E copy_directory "
                    f"gateway/www {served}`")
    # The page's protocol is the JavaScript client's, copied in beside it.
    with open(JS_CLIENT, "rb") as f, open(os.path.join(served, "sluice.js"), "rb") as g:
        check(f.read() == g.read(), f"{served}/sluice.js differs from {JS_CLIENT}")
    return await h.start(workers=[1])


async def page_streams_results_as_they_arrive(h):
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        check(await b.js("document.documentElement.lang") == "en", "no lang")
        check(await b.js("document.getElementById('task').value") == "burn"
              and await b.js("document.getElementById('items').value")
              == "[1000,1000,1000]", "defaults are not burn [1000,1000,1000]")
        docs = [p["response"] for m, p in b.events
                if m == "Network.responseReceived" and p["type"] == "Document"]
        check(docs and "content-security-policy" in
              {k.lower() for k in docs[-1]["headers"]},
              f"the page was served without its CSP: {docs}")
        # When each row appears in the table, seen by the page's own clock.
        await b.js("""window.rowTimes = [];
            new MutationObserver(() => {
              const n = document.querySelectorAll('#rows tr').length;
              while (rowTimes.length < n) rowTimes.push(performance.now());
            }).observe(document.getElementById('rows'), {childList: true})""")
        await b.click("submit")
        await b.wait_js("sluiceState.req && sluiceState.req.done", timeout=20,
                        what="done")
        await b.screenshot("page.png")
        st = await b.state()
        rows = await b.js("rowTimes")
        req = st["req"]
        res = req["results"]
        print(f"e2e: arrivals {[(r['seq'], round(r['ms'])) for r in res]} ms, "
              f"rows at {[round(t - rows[0]) for t in rows]} ms, rtt "
              f"{st['rtt']:.1f} ms, max {st['rttMax']:.1f} ms, "
              f"{req['pongs']} pongs during the run")
        check([(r["seq"], r["ok"], r.get("value")) for r in res]
              == [(0, True, 1000), (1, True, 1000), (2, True, 1000)],
              f"results: {res}")
        times = [r["ms"] for r in res]
        gaps = [y - x for x, y in zip([0] + times, times)]
        check(all(g >= 600 for g in gaps),
              f"results bunched: arrivals {times} ms after submit")
        row_gaps = [y - x for x, y in zip(rows, rows[1:])]
        check(len(rows) == 3 and all(g >= 600 for g in row_gaps),
              f"rows were not added one by one: at {rows}")
        done = req["done"]
        check(done["ok"] == 3 and done["failed"] == 0
              and done["elapsed_ms"] >= 1800, f"done: {done}")
        summary = await b.text("summary")
        check("3 ok, 0 failed" in summary
              and str(done["elapsed_ms"]) in summary,
              f"done not shown: {summary!r}")
        check(await b.text("count") == "3 / 3 done" and await b.js(
              "document.getElementById('progress').value") == 3,
              f"progress: {await b.text('count')!r}")
        rtt = await b.text("rtt")
        check(re.fullmatch(r"\d+(\.\d)? ms, max \d+(\.\d)? ms", rtt),
              f"ping round trip shown as {rtt!r}")
        check(await b.text("workers") == "1"
              and await b.text("conn") == "open",
              f"workers {await b.text('workers')!r}, connection "
              f"{await b.text('conn')!r}")
        # The gateway answers pings while the only thread burns.
        check(req["pongs"] >= 1 and st["rttMax"] < scaled(1000),
              f"{req['pongs']} pongs while running, max rtt {st['rttMax']} ms")
        check(not b.problems(), f"console: {b.problems()}")


async def page_shows_errors_and_cancels(h):
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        # Not JSON: the page says so, nothing is sent.
        await b.type_into("items", "[1,", enter=True)
        await b.wait_js("document.getElementById('alert').textContent"
                        ".includes('not valid JSON')", what="JSON alert")
        check(await b.js("document.getElementById('items')"
                         ".getAttribute('aria-invalid')") == "true",
              "bad items not marked aria-invalid")
        check((await b.state())["req"] is None, "a request was sent")
        # Item errors land in their rows; Enter submits.
        await b.type_into("items", '["abc", 10]', enter=True)
        await b.wait_js("sluiceState.req && sluiceState.req.done", what="done")
        failed = await b.js("[...document.querySelectorAll('#rows tr.failed')]"
                            ".map(r => r.textContent)")
        check(len(failed) == 1 and "bad_item" in failed[0],
              f"failed: {failed}")
        check("1 ok, 1 failed" in await b.text("summary"), "summary")
        # A refused request: its error code and message are shown.
        await b.type_into("items", "[]")
        await b.click("submit")
        alert = await b.wait_js("sluiceState.req.ended && document"
                                ".getElementById('alert').textContent",
                                what="refusal")
        check("bad_items" in alert and "refused" in alert, f"alert: {alert!r}")
        # Cancel after the first result.
        await b.type_into("items", "[1000,3000,3000]")
        await b.click("submit")
        await b.wait_js("sluiceState.req.results.length >= 1", what="result")
        await b.click("cancel")
        await b.wait_js("sluiceState.req.done", what="done after cancel")
        await b.screenshot("page-cancel.png")
        done = (await b.state())["req"]["done"]
        check(done["ok"] >= 1 and done.get("cancelled", 0) >= 1
              and done["ok"] + done["failed"] + done["cancelled"] == 3,
              f"done: {done}")
        check("cancelled" in await b.text("summary") and
              f"{done['cancelled']} cancelled" in await b.text("count"),
              "cancel not shown")
        # Each cancelled item has its row, and the status says cancelled.
        rows = await b.js("[...document.querySelectorAll('#rows tr.cancelled')]"
                          ".map(r => r.textContent)")
        check(len(rows) == done["cancelled"]
              and all("cancelled" in r for r in rows),
              f"cancelled rows: {rows}, done {done}")
        status = await b.text("status")
        check("cancelled" in status, f"status after a cancel: {status!r}")
        check(not await b.js("document.getElementById('submit').disabled"),
              "submit still disabled")
        check(not b.problems(), f"console: {b.problems()}")


async def page_reconnects_after_gateway_restart(h):
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        await h.stop(h.procs[-1])  # the worker
        await h.stop(gw)
        await b.wait_js("sluiceState.conn === 'closed'", what="closed")
        alert = await b.text("alert")
        check("Connection lost" in alert and "Reconnecting" in alert,
              f"alert: {alert!r}")
        check(not await b.js("document.getElementById('reconnect').disabled"),
              "Reconnect disabled while closed")
        check(await b.text("workers") == "\u2013", "stale worker count shown")
        gw2 = await h.gateway(port=gw.port)
        h.worker(gw2, 1)
        await b.wait_js("sluiceState.conn === 'open' "
                        "&& sluiceState.workers === 1",
                        timeout=20, what="reconnected with 1 worker")
        await b.select("task", "echo")
        items = await b.js("document.getElementById('items').value")
        check(items.startswith('["hello"'), f"echo preset missing: {items}")
        await b.click("submit")
        await b.wait_js("sluiceState.req && sluiceState.req.done", what="done")
        check((await b.state())["req"]["done"]["ok"] == 3, "echo failed")
        await b.screenshot("page-reconnect.png")
        # While the gateway was down, connecting failed: that is logged.
        check(not b.problems(allow=[r"WebSocket connection to .* failed"]),
              f"console: {b.problems()}")


async def page_shows_a_drain_and_keeps_the_shutdown_notice(h):
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        await b.select("task", "sleep")
        await b.type_into("items", "[1500,1500]")
        await b.click("submit")
        await b.wait_js("sluiceState.req.results.length >= 1", timeout=20,
                        what="the first result")
        os.kill(gw.pid, signal.SIGTERM)  # it drains: the request finishes
        await b.wait_js("sluiceState.draining === true", what="the drain")
        conn, status = await b.text("conn"), await b.text("status")
        check("draining" in conn and "shutting down" in status,
              f"drain not shown: connection {conn!r}, status {status!r}")
        await b.wait_js("sluiceState.req.done", timeout=20,
                        what="done during the drain")
        await b.wait_js("sluiceState.conn === 'closed'", what="the 1001 close")
        # Reconnection attempts fail meanwhile (0.5 s, then 1 s, ...):
        # the reason the gateway gave stays in the alert.
        await asyncio.sleep(scaled(2))
        alert = await b.text("alert")
        check("1001" in alert and "shutting down" in alert
              and "Reconnecting" in alert, f"alert: {alert!r}")
        gw.popen.wait(timeout=scaled(10))
        gw.stopped = True
        check(gw.popen.returncode == 0, f"gateway exited {gw.popen.returncode}")
        h.procs[-1].kill()  # its worker: the next gateway gets its own
        # The next gateway on the same port: the page reconnects.
        gw2 = await h.gateway(port=gw.port)
        h.worker(gw2, 1)
        await b.wait_js("sluiceState.conn === 'open' && sluiceState.workers"
                        " === 1", timeout=20, what="reconnected")
        check("1001" in await b.text("alert"), "notice gone on reconnect")
        # A request cut off by a lost connection keeps its timeline.
        await b.type_into("items", "[3000,3000]")
        await b.click("submit")
        await b.wait_js("sluiceState.req && !sluiceState.req.ended"
                        " && performance.now() - sluiceState.req.t0 > 1000",
                        what="1 s into the request")
        gw2.kill()
        await b.wait_js("sluiceState.req.ended && sluiceState.conn !== 'open'",
                        what="the request ended by the lost connection")
        check("1001" not in await b.text("alert"),
              "the old notice outlived a new submit")
        await asyncio.sleep(0.3)  # a frame or two: the plot is redrawn
        st = await b.state()
        req = st["req"]
        check(req["endMs"] >= 1000 and st["plotSpan"] >= req["endMs"],
              f"timeline collapsed: span {st['plotSpan']} ms, request ended "
              f"at {req['endMs']} ms")
        await b.screenshot("page-lost.png")
        check(not b.problems(allow=[r"WebSocket connection to .* failed"]),
              f"console: {b.problems()}")


async def page_watches_a_channel(h):
    """A request submitted elsewhere (a producer, over ZeroMQ) with
    notify shows on a page watching that channel, result by result."""
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        # A bad name is refused on the page, nothing is sent.
        await b.type_into("channel", "no spaces", enter=True)
        await b.wait_js("document.getElementById('alert').textContent"
                        ".includes('channel name')", what="channel alert")
        check(await b.js("document.getElementById('channel')"
                         ".getAttribute('aria-invalid')") == "true",
              "bad channel not marked aria-invalid")
        await b.type_into("channel", "nightly")
        await b.click("watch")
        await b.wait_js("sluiceState.watching === 'nightly'",
                        what="subscribed to nightly")
        check(await b.text("watch") == "Stop watching", "watch button label")
        await b.js("""window.rowTimes = [];
            new MutationObserver(() => {
              const n = document.querySelectorAll('#rows tr').length;
              while (rowTimes.length < n) rowTimes.push(performance.now());
            }).observe(document.getElementById('rows'), {childList: true})""")
        p = Producer(gw)
        await p.send({"type": "submit", "id": "night-1", "task": "sleep",
                      "items": [400, 400, 400, "x"], "notify": "nightly"})
        await b.wait_js("sluiceState.req && sluiceState.req.channel "
                        "=== 'nightly' && !sluiceState.req.ended",
                        what="the watched request shown")
        check(await b.js("document.getElementById('cancel').disabled"),
              "Cancel enabled for a request the page did not submit")
        await b.wait_js("sluiceState.req.done", timeout=20,
                        what="the watched request's done")
        mine = [x for x in await p.collect("night-1")
                if x[0]["type"] != "progress"]  # revision 7's hints
        check(len(mine) == 6 and mine[-1][0]["type"] == "done",
              f"the producer's own frames: {mine}")
        await b.screenshot("page-watch.png")
        st = await b.state()
        req = st["req"]
        check(req["id"] == "night-1" and req["n"] == 4 and st["watched"] == 1,
              f"watched request: {req}")
        ok = sorted(r["seq"] for r in req["results"] if r["ok"])
        bad = [r for r in req["results"] if not r["ok"]]
        check(ok == [0, 1, 2] and len(bad) == 1 and bad[0]["seq"] == 3
              and bad[0]["code"] == "bad_item", f"results: {req['results']}")
        # One compute thread: the sleeps end 400 ms apart, and each row
        # appears when its result does, not all at the end.
        rows = await b.js("rowTimes")
        slept = [t for t, r in zip(rows, req["results"]) if r["ok"]]
        check(len(rows) == 4 and all(y - x >= 200 for x, y in
                                     zip(slept, slept[1:])),
              f"watched rows were not added one by one: at {rows}")
        check("3 ok, 1 failed" in await b.text("summary"), "summary")
        # Stop watching: nothing more shows.
        await b.click("watch")
        await b.wait_js("sluiceState.watching === null", what="unsubscribed")
        await p.send({"type": "submit", "id": "night-2", "task": "echo",
                      "items": [1], "notify": "nightly"})
        await p.collect("night-2")
        await asyncio.sleep(scaled(0.3))
        check((await b.state())["req"]["id"] == "night-1",
              "a request showed after Stop watching")
        p.close()
        check(not b.problems(), f"console: {b.problems()}")


async def page_survives_a_gateway_restart_mid_request(h):
    """kill -9 of the gateway mid-request, a new one on the same port: the
    page's client submits the missing items again (with their seqs) and
    the page shows every result once, as one request."""
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        await b.select("task", "sleep")
        await b.type_into("items", json.dumps([400] * 8))
        await b.click("submit")
        await b.wait_js("sluiceState.req.results.length >= 2", timeout=20,
                        what="two results")
        gw.kill()
        h.procs[-1].kill()  # its worker: the next gateway gets its own
        await b.wait_js("sluiceState.conn === 'closed'", what="closed")
        alert = await b.text("alert")
        check("Connection lost" in alert and "resumes" in alert,
              f"alert: {alert!r}")
        check(not (await b.state())["req"]["ended"], "the request ended")
        gw2 = await h.gateway(port=gw.port)
        h.worker(gw2, 2)
        await b.wait_js("sluiceState.req.done", timeout=30,
                        what="done after the restart")
        st = await b.state()
        req = st["req"]
        seqs = sorted(r["seq"] for r in req["results"])
        check(seqs == list(range(8)) and all(r["ok"] for r in req["results"]),
              f"results: {req['results']}")
        check(req["done"]["ok"] == 8 and req["done"]["failed"] == 0
              and "cancelled" not in req["done"], f"done: {req['done']}")
        rows = await b.js("[...document.querySelectorAll('#rows tr')]"
                          ".map(r => r.firstChild.textContent)")
        check(sorted(rows, key=int) == [str(i) for i in range(8)],
              f"rows: {rows}")
        check("8 ok, 0 failed" in await b.text("summary")
              and await b.text("count") == "8 / 8 done",
              f"summary {await b.text('summary')!r}, count {await b.text('count')!r}")
        await b.screenshot("page-restart.png")
        check(not b.problems(allow=[r"WebSocket connection to .* failed"]),
              f"console: {b.problems()}")


async def inside_snapshot(b):
    """What the running items' list shows now, and the request's counts."""
    return await b.js("""(() => {
        const items = [...document.querySelectorAll('#inside li')].map(li => ({
          seq: Number(li.dataset.seq),
          bar: li.querySelector('progress').value,
          pct: li.querySelector('.pct').textContent,
          text: li.querySelector('.ptext').textContent,
          partials: [...li.querySelectorAll('.partials span')]
                    .map(s => s.textContent),
          restarted: li.classList.contains('restarted')}));
        return {items, all: document.getElementById('progress').value,
                results: sluiceState.req ? sluiceState.req.results.length
                                         : 0}; })()""")


async def page_shows_each_items_progress_and_partials(h):
    """Revision 7 on the page: a 1.5 s burn item gets a bar of its own that
    advances (read from the DOM while it runs; the overall bar moves with
    it) and goes when its result arrives; a screenshot shows the bars.
    Partial values appear under their item one by one, in order, before its
    result. With "Where the time went", each result row says it."""
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        check(await b.js("document.getElementById('inside').children.length")
              == 0, "running items shown before any request")
        await b.type_into("items", "[1500,1500]")  # burn, one thread
        await b.click("submit")
        samples, shot = [], None
        deadline = time.monotonic() + scaled(20)
        while True:
            snap = await inside_snapshot(b)
            if snap["results"] >= 1:
                break
            first = [it for it in snap["items"] if it["seq"] == 0]
            if first:
                samples.append((first[0]["bar"], first[0]["pct"],
                                snap["all"]))
                if shot is None and first[0]["bar"] >= 0.4:
                    await b.screenshot("page-progress.png")
                    shot = snap
            check(time.monotonic() < deadline, f"no result: {snap}")
            await asyncio.sleep(0.05)
        bars = [s[0] for s in samples]
        print(f"e2e: seq 0's bar read {len(bars)} times: "
              f"{sorted(set(round(v, 2) for v in bars))}")
        check(shot is not None and len(shot["items"]) == 1
              and shot["items"][0]["pct"].endswith("%"),
              f"no screenshot with the bar at 40 % or more: {samples}")
        check(len(set(bars)) >= 3 and all(0 <= v <= 1 for v in bars)
              and all(x <= y for x, y in zip(bars, bars[1:])),
              f"the bar did not advance: {bars}")
        check(all(pct == f"{int(v * 100)}%" for v, pct, _ in samples),
              f"percent shown: {samples}")
        # the overall bar counts the running item's fraction
        check(any(0 < a < 1 for _, _, a in samples),
              f"overall bar did not move during the first item: {samples}")
        # its result arrived: its bar is gone (seq 1's may be there)
        snap = await inside_snapshot(b)
        check(all(it["seq"] != 0 for it in snap["items"]),
              f"seq 0's bar outlived its result: {snap}")
        await b.wait_js("sluiceState.req.done", timeout=20, what="done")
        check(await b.js("document.getElementById('inside').children.length")
              == 0, "bars left after done")
        req = (await b.state())["req"]
        check(req["inside"]["0"]["frames"] >= 5
              and req["inside"]["1"]["frames"] >= 5,
              f"progress frames seen: {req['inside']}")
        # Partial values, appended as they arrive.
        await b.js("""window.partialsSeen = [];
            new MutationObserver(() => {
              const li = document.querySelector('#inside li[data-seq="0"]');
              if (li) partialsSeen.push([...li.querySelectorAll(
                '.partials span')].map(s => s.textContent).join(' '));
            }).observe(document.getElementById('inside'),
                       {childList: true, subtree: true})""")
        await b.select("task", "partials")
        await b.type_into("items", '[{"n":5,"ms":1500}]')
        await b.click("submit")
        await b.wait_js("sluiceState.req.done", timeout=20, what="done")
        raw = await b.js("partialsSeen")
        seen = [x for i, x in enumerate(raw)
                if x and (i == 0 or x != raw[i - 1])]
        check(seen[-1] == "0 1 2 3 4" and len(seen) >= 3
              and all(seen[-1].startswith(x) for x in seen),
              f"partial values were not appended one by one: {seen}")
        req = (await b.state())["req"]
        it = req["inside"]["0"]
        check(it["partials"] == [0, 1, 2, 3, 4] and it["restarts"] == 0
              and all(ms < req["results"][0]["ms"] for ms in it["partialMs"]),
              f"partials {it}, result {req['results']}")
        row = await b.js("document.querySelector('#rows tr td.value')"
                         ".textContent")
        check(row == "5 (after 5 partial values)", f"result row {row!r}")
        # Where the time went: a column of its own, only when asked for.
        check(not await b.js("document.querySelector('td.timing-col')"
                             ".offsetParent"), "timing column without timing")
        await b.js("document.getElementById('timing').click()")
        await b.select("task", "echo")
        await b.type_into("items", "[1,2,3]")
        await b.click("submit")
        await b.wait_js("sluiceState.req.done && sluiceState.req.timing",
                        timeout=20, what="done with timing")
        cells = await b.js("[...document.querySelectorAll('#rows td.timing-col')]"
                           ".map(td => td.offsetParent ? td.textContent : null)")
        check(len(cells) == 3 and all(c and re.fullmatch(
            r"queue [\d.]+ \+ start [\d.]+ \+ run [\d.]+ ms on w1", c)
            for c in cells), f"timing cells: {cells}")
        await b.js("document.getElementById('results').scrollIntoView()")
        await b.screenshot("page-timing.png")
        check(not b.problems(), f"console: {b.problems()}")


async def page_clears_partials_when_an_item_restarts(h):
    """kill -9 of the worker mid-item: the item starts again on another
    worker, the page clears the partial values it showed for it (the
    restart signal) and ends with each value once and one result."""
    gw = await start(h)
    async with Browser(h.tmpdir) as b:
        await b.open(gw)
        await b.js("""window.partialCounts = [];
            new MutationObserver(() => {
              const li = document.querySelector('#inside li[data-seq="0"]');
              if (li) partialCounts.push([li.querySelectorAll(
                '.partials span').length, li.classList.contains('restarted')]);
            }).observe(document.getElementById('inside'),
                       {childList: true, subtree: true, attributes: true})""")
        await b.select("task", "partials")
        await b.type_into("items", '[{"n":20,"ms":4000}]')
        await b.click("submit")
        await b.wait_js("sluiceState.req && sluiceState.req.inside[0] && "
                        "sluiceState.req.inside[0].npartials >= 3",
                        timeout=20, what="3 partial values")
        first = h.procs[-1]
        h.worker(gw, 1)
        await h.wait_workers(gw, 2)
        first.kill()  # kill -9 mid-item
        await b.wait_js("sluiceState.req.done", timeout=40,
                        what="done after the restart")
        req = (await b.state())["req"]
        it = req["inside"]["0"]
        check(it["restarts"] == 1 and it["partials"] == list(range(20))
              and it["npartials"] == 20, f"partials after a restart: {it}")
        check(req["done"]["ok"] == 1 and req["results"][0]["value"] == 20,
              f"{req['results']} {req['done']}")
        counts = await b.js("partialCounts")
        drop = [i for i, (n, _) in enumerate(counts)
                if i and n < counts[i - 1][0]]
        check(len(drop) == 1 and counts[drop[0]] == [1, True]
              and counts[drop[0] - 1][0] >= 3,
              f"the shown values were not cleared once: {counts}")
        check(not b.problems(), f"console: {b.problems()}")


run([page_streams_results_as_they_arrive, page_survives_a_gateway_restart_mid_request, page_shows_errors_and_cancels,
     page_reconnects_after_gateway_restart,
     page_shows_a_drain_and_keeps_the_shutdown_notice, page_watches_a_channel,
     page_shows_each_items_progress_and_partials,
     page_clears_partials_when_an_item_restarts])
