"""The JavaScript client (clients/js/sluice.js) in Node with Debian's
node-ws, against real gateways and workers: each test starts them on free
ports (tests/e2e/harness.py) and runs one case of js_cases.mjs, reading
its JSON lines; the driver cuts connections and kills gateways when the
case says its first result arrived.

Usage: test_js.py --gateway PATH --compute PATH [--only NAME,...]
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import check, free_port, run, scaled  # noqa: E402

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js_cases.mjs")
NODE = shutil.which("node") or shutil.which("nodejs")


class Node:
    """One run of js_cases.mjs: its JSON lines, as they come."""

    async def start(self, case, urls, arg=""):
        check(NODE is not None, "no node on PATH (apt-get install nodejs node-ws)")
        env = dict(os.environ)
        env["NODE_PATH"] = "/usr/share/nodejs"  # Debian's node-ws
        self.proc = await asyncio.create_subprocess_exec(
            NODE, CASES, case, ",".join(urls), str(arg), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return self

    async def event(self, name, timeout=30):
        """The next line whose event is name (a crash is a failure)."""
        async def read():
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    err = (await self.proc.stderr.read()).decode()
                    raise AssertionError(f"node ended before {name}: {err}")
                ev = json.loads(line)
                check(ev["event"] not in ("crash", "timeout"), f"node: {ev}")
                if ev["event"] == name:
                    return ev
        try:
            return await asyncio.wait_for(read(), scaled(timeout))
        except asyncio.TimeoutError:
            self.proc.kill()
            raise AssertionError(f"node: no {name} in {scaled(timeout):.0f} s") from None

    async def result(self, name, timeout=30):
        """The case's last line, then its exit with code 0."""
        ev = await self.event(name, timeout)
        await self.end()
        return ev

    async def end(self):
        rc = await asyncio.wait_for(self.proc.wait(), scaled(10))
        check(rc == 0, f"node exited {rc}: {(await self.proc.stderr.read()).decode()}")


def once_each(ev, n):
    seqs = sorted(r["seq"] for r in ev["results"])
    check(seqs == list(range(n)), f"seqs not each once: {seqs}")


async def js_plain_request_and_done(h):
    gw = await h.start()
    node = await (await Node().start("plain", [gw.url])).result("plain")
    items = [1, "two", {"three": 3}, [4], None]
    got = sorted((r["seq"], json.dumps(r["value"]), r["error"]) for r in node["results"])
    check(got == [(i, json.dumps(v), None) for i, v in enumerate(items)], f"results: {got}")
    d = node["done"]
    check(d["ok"] == 5 and d["failed"] == 0 and "cancelled" not in d
          and isinstance(d["elapsed_ms"], int), f"done: {d}")
    check(node["rtt"] > 0, f"ping: {node['rtt']}")
    r = node["refused"]
    check(r and r["code"] == "unknown_task" and r["isSluice"], f"refusal: {r}")
    check(node["states"][:2] == ["connecting", "connected"], f"states: {node['states']}")
    t = node["trace"]
    check(t["accepted"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
          and t["frame"]["attempts"] == 1 and t["frame"]["run_us"] >= 0
          and t["frame"]["worker"] == "w1", f"timing: {t}")


async def js_token(h):
    """opts.token goes as ?access_token= (percent-encoded); a wrong one
    never opens, and the request fails with unreachable."""
    token = "js+client/token=" + "x" * 16
    gw = await h.gateway(env={"SLUICE_TOKENS": token})
    h.worker(gw, 1)
    good = await (await Node().start("token", [gw.url], token)).result("token")
    check(good["ok"] and good["done"]["ok"] == 1, f"with the token: {good}")
    bad = await (await Node().start("token", [gw.url], token + "y")).result("token")
    check(not bad["ok"] and bad["code"] == "unreachable", f"wrong token: {bad}")


async def js_cancel(h):
    gw = await h.start()
    node = await (await Node().start("cancel", [gw.url])).result("cancel")
    d = node["done"]
    check(d["ok"] == 1 and d["cancelled"] == 2 and len(node["results"]) == 1,
          f"cancel: {node}")


async def js_subscribe(h):
    gw = await h.start()
    node = await (await Node().start("subscribe", [gw.url])).result("subscribe")
    check(node["ready"]["type"] == "subscribed", f"ready: {node['ready']}")
    types = [f["type"] for f in node["watched"]]
    check(types[0] == "accepted" and types[-1] == "done"
          and types.count("result") == 2
          and all(f["channel"] == "js-news" for f in node["watched"]),
          f"watched: {node['watched']}")
    check(node["done"]["ok"] == 2, f"done: {node['done']}")


async def js_silent_gateway_gives_up(h):
    """A TCP listener that never answers the handshake: the request fails
    with code unreachable soon after giveUpMs."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", free_port()))
    lsock.listen(16)
    try:
        url = f"ws://127.0.0.1:{lsock.getsockname()[1]}/"
        t0 = time.monotonic()
        node = await (await Node().start("silent", [url], 1500)).result("silent")
        check(node["error"] and node["error"]["code"] == "unreachable"
              and url in node["error"]["message"], f"error: {node['error']}")
        check(1400 <= node["ms"] <= 1500 + scaled(2000)
              and time.monotonic() - t0 < scaled(10), f"gave up after {node['ms']} ms")
        check(node["states"][-1] == "closed", f"states: {node['states']}")
    finally:
        lsock.close()


class Cutter:
    """A TCP relay to the gateway whose connections can be cut at once
    (both sides closed, no WebSocket close frame)."""

    def __init__(self, port):
        self.port, self.conns = port, []

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", free_port())
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"
        return self

    async def _serve(self, cr, cw):
        gr, gw = await asyncio.open_connection("127.0.0.1", self.port)
        self.conns += [cw, gw]

        async def pipe(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            w.close()
        await asyncio.gather(pipe(cr, gw), pipe(gr, cw))

    def cut(self):
        for w in self.conns:
            w.transport.abort()
        self.conns = []

    def close(self):
        self.cut()
        self.server.close()


async def js_survives_a_tcp_cut(h):
    gw = await h.start(workers=(2,))
    relay = await Cutter(gw.port).start()
    try:
        node = await Node().start("survive", [relay.url], 8)
        await node.event("first")
        relay.cut()
        ev = await node.result("survive")
        once_each(ev, 8)
        check(ev["done"]["ok"] == 8, f"done: {ev['done']}")
        check(ev["states"].count("connected") >= 2, f"no reconnect: {ev['states']}")
        print(f"e2e: after the cut: resumable {ev['resumable']}, "
              f"{ev['submits']} submit(s), states {ev['states']}")
        # A gateway with resume (its accepted has a token) keeps the
        # request: the client resumes it there, submitting nothing again.
        if ev["resumable"]:
            check(ev["submits"] == 1, f"resubmitted after a cut: {ev}")
    finally:
        relay.close()


async def js_subscription_survives_a_tcp_cut(h):
    gw = await h.start()
    relay = await Cutter(gw.port).start()
    try:
        node = await Node().start("resubscribe", [relay.url])
        await node.event("subscribed")
        relay.cut()
        ev = await node.result("resubscribe")
        check(ev["watched"] == ["accepted", "result", "done"]
              and ev["done"]["ok"] == 1, f"after the cut: {ev}")
    finally:
        relay.close()


async def js_survives_kill9_with_two_urls(h):
    gw1 = await h.start(workers=(2,))
    gw2 = await h.start(workers=(2,))
    node = await Node().start("survive", [gw1.url, gw2.url], 8)
    await node.event("first")
    gw1.popen.send_signal(signal.SIGKILL)
    gw1.popen.wait()
    gw1.stopped = True
    ev = await node.result("survive")
    once_each(ev, 8)
    check(ev["done"]["ok"] == 8, f"done: {ev['done']}")
    # The other gateway does not know the request: resubmitted with seqs.
    check(ev["submits"] == 2, f"submits: {ev}")


async def js_progress_and_partials_with_a_restart(h):
    gw = await h.gateway()
    a = h.worker(gw, 1)
    await h.wait_workers(gw, 1)
    node = await Node().start("inside", [gw.url])
    await node.event("partials")
    h.worker(gw, 1)
    await h.wait_workers(gw, 2)
    a.kill()  # kill -9 mid-item
    ev = await node.result("inside", timeout=60)
    check([r["value"] for r in ev["results"]] == [300], f"{ev['results']}")
    events = ev["events"]
    check(events[-1] == ["result"], f"after the result: {events[-3:]}")
    parts = [e for e in events if e[0] == "partial"]
    restarts = [i for i, e in enumerate(parts) if e[4]]
    check(len(restarts) == 1, f"restarts at {restarts}")
    k = restarts[0]
    check([e[2] for e in parts[:k]] == list(range(k))
          and [e[2] for e in parts[k:]] == list(range(300)),
          f"indexes {[e[2] for e in parts][:5]}...")
    check(sum(1 for e in events if e[0] == "progress") >= 3, "progress")


async def js_readme_example_runs_as_written(h):
    """clients/js/README.md's example, only the URL and the module's path
    changed: it prints 20 results, the done fields and a ping."""
    readme = os.path.join(os.path.dirname(CASES), "..", "..", "clients", "js", "README.md")
    with open(readme) as f:
        code = f.read().split("```js\n")[1].split("```")[0]
    check(len(code.splitlines()) <= 10, f"example is {len(code.splitlines())} lines")
    gw = await h.start(workers=(4,))
    lib = os.path.abspath(os.path.join(os.path.dirname(readme), "sluice.js"))
    path = os.path.join(h.tmpdir, "example.mjs")
    with open(path, "w") as f:
        f.write(code.replace("ws://127.0.0.1:8080/", gw.url)
                .replace('"./sluice.js"', json.dumps("file://" + lib)))
    proc = await asyncio.create_subprocess_exec(
        NODE, path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), scaled(30))
    lines = out.decode().splitlines()
    check(proc.returncode == 0, f"example exited {proc.returncode}: {err.decode()}")
    check(sorted(lines[:20]) == sorted(f"{i} 200 null" for i in range(20))
          and "ok: 20" in lines[20] and lines[-1].startswith("ping "),
          f"example printed: {lines}")


run([js_plain_request_and_done, js_readme_example_runs_as_written, js_token, js_cancel, js_subscribe,
     js_silent_gateway_gives_up, js_survives_a_tcp_cut,
     js_subscription_survives_a_tcp_cut, js_survives_kill9_with_two_urls,
     js_progress_and_partials_with_a_restart])
