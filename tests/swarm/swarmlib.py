"""What the Docker Swarm tests share (test_swarm.py, test_swarm_multi.py).

* the swarm guard: a test makes its own swarm (`docker swarm init`) only
  when the engine is in none, marks its node with the label sluice.test=PID,
  and leaves it in a finally; a swarm of an earlier run whose process is gone
  (killed by a ctest timeout) is recognised by that label and left; any other
  swarm is not ours: the test fails with a message and touches nothing;
* the images: the compose test's (same tag, so `docker-compose build` reuses
  its cache) plus sluice-haproxy (deploy/swarm/Dockerfile.haproxy);
* Stack: one `docker stack deploy` of deploy/swarm/stack.yml, named
  sluiceswarm-PID-HEX, its services, tasks and containers;
* resumable_request: a client that loses its gateway mid-request and ends
  with every item exactly once through the load balancer.
"""

import asyncio
import hashlib
import json
import os
import re
import secrets
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "compose"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import check, free_port, scaled  # noqa: E402,F401
from test_compose import (arun, engine_version, http_get,  # noqa: E402,F401
                          run, wait_until)

import websockets  # noqa: E402

SKIP = 77
PREFIX = "sluiceswarm"
MARK = "sluice.test"  # node label: PID of the test run that made the swarm


def say(msg):
    print(f"swarm: {msg}", flush=True)


def cannot_run(test, why):
    """No Docker engine (or no root): skipped (exit 77), but a failure
    under CI=true, where the machines have what these tests need."""
    if os.environ.get("CI") == "true":
        print(f"swarm: FAIL: {why}, and CI=true", flush=True)
        sys.exit(1)
    bar = "*" * 72
    print(f"{bar}\n*** SKIPPED: {why}\n*** {test} did not test the "
          f"Docker Swarm deployment.\n{bar}", flush=True)
    sys.exit(SKIP)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def swarm_state(docker="docker"):
    r = run([docker, "info", "-f", "{{.Swarm.LocalNodeState}}"], timeout=30)
    return r.stdout.strip()


def networks():
    r = run(["docker", "network", "ls", "--format", "{{.Name}}"], timeout=30)
    return set(r.stdout.split())


class Swarm:
    """The single-node swarm (or the manager of a multi-node one) this test
    makes on the host's engine, and leaves again."""

    def __init__(self):
        self.made = False
        self.nets_before = None

    def _stale(self):
        """True if the engine's swarm was made by an earlier run of these
        tests that is gone (our label, a dead PID)."""
        r = run(["docker", "node", "inspect", "self", "-f",
                 "{{json .Spec.Labels}}"], check_rc=False, timeout=30)
        if r.returncode != 0:
            return False
        labels = json.loads(r.stdout or "{}") or {}
        pid = labels.get(MARK, "")
        return pid.isdigit() and not pid_alive(int(pid))

    def init(self, advertise="127.0.0.1"):
        state = swarm_state()
        if state != "inactive" and self._stale():
            say("leaving the swarm an earlier run of this test left behind")
            run(["docker", "swarm", "leave", "--force"], timeout=120)
            # the network the swarm made, unused once it is left
            run(["docker", "network", "rm", "docker_gwbridge"], timeout=60,
                check_rc=False)
            state = swarm_state()
        check(state == "inactive",
              f"this Docker engine is already in a swarm (state {state!r}) "
              f"that this test did not make: the test will not touch it. "
              f"Run it on an engine outside any swarm (`docker swarm leave "
              f"--force` if that swarm is not needed)")
        self.nets_before = networks()
        self.made = True
        run(["docker", "swarm", "init", "--advertise-addr", advertise,
             "--listen-addr", f"{advertise}:2377"], timeout=120)
        node = run(["docker", "info", "-f", "{{.Swarm.NodeID}}"],
                   timeout=30).stdout.strip()
        run(["docker", "node", "update", "--label-add",
             f"{MARK}={os.getpid()}", node], timeout=60)

    def join_token(self):
        return run(["docker", "swarm", "join-token", "-q", "worker"],
                   timeout=30).stdout.strip()

    def leave(self):
        """Leave the swarm and remove the networks it made (docker_gwbridge,
        ingress): the engine is as before."""
        if not self.made:
            return
        run(["docker", "swarm", "leave", "--force"], timeout=120, check_rc=False)
        for net in sorted(networks() - (self.nets_before or set())):
            run(["docker", "network", "rm", net], timeout=60, check_rc=False)
        state = swarm_state()
        left = networks() - (self.nets_before or set())
        check(state == "inactive" and not left,
              f"after leaving: swarm {state!r}, networks left {sorted(left)}")
        self.made = False


def image_tag(top):
    """The compose test's tag for this checkout (tests/compose)."""
    return "test-" + hashlib.sha1(top.encode()).hexdigest()[:10]


def child_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLUICE_", "COMPOSE_"))}
    env.update(extra)
    return env


def build_images(top, tag, log):
    """base image, sluice-gateway/-compute (compose build: the compose
    test's cache) and sluice-haproxy, all tagged tag."""
    t0 = time.monotonic()
    run([os.path.join(top, "deploy", "base-image.sh")], timeout=scaled(600), log=log)
    run(["docker-compose", "-p", "sluiceswarmbuild", "-f",
         os.path.join(top, "deploy", "docker-compose.yml"), "build"],
        timeout=scaled(1100), log=log,
        env=child_env({"SLUICE_IMAGE_TAG": tag, "SLUICE_HOST_PORT": "0"}))
    run(["docker", "build", "-q", "-f",
         os.path.join(top, "deploy", "swarm", "Dockerfile.haproxy"),
         "-t", f"sluice-haproxy:{tag}", os.path.join(top, "deploy", "swarm")],
        timeout=scaled(600), log=log)
    say(f"images sluice-{{gateway,compute,haproxy}}:{tag} in "
        f"{time.monotonic() - t0:.0f} s")
    return [f"sluice-{s}:{tag}" for s in ("gateway", "compute", "haproxy")]


class Stack:
    """deploy/swarm/stack.yml deployed under a name of its own."""

    def __init__(self, top, tag, log, gateways=1, workers=1):
        self.top, self.tag, self.log = top, tag, log
        self.name = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        self.port = None
        self.gateways, self.workers = gateways, workers
        self.deployed = False
        self.env_extra = {}  # more variables for the stack file

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/"

    def deploy(self):
        self.port = free_port()
        self.deployed = True
        run(["docker", "stack", "deploy", "-c",
             os.path.join(self.top, "deploy", "swarm", "stack.yml"), self.name],
            timeout=scaled(180), log=self.log,
            env=child_env({"SLUICE_IMAGE_TAG": self.tag,
                           "SLUICE_HOST_PORT": str(self.port),
                           "SLUICE_GATEWAYS": str(self.gateways),
                           "SLUICE_WORKERS": str(self.workers),
                           "SLUICE_THREADS": "2",
                           "SLUICE_LOG_LEVEL": "info", **self.env_extra}))

    async def scale(self, **replicas):
        await arun(["docker", "service", "scale", "-d",
                    *[f"{self.name}_{s}={n}" for s, n in replicas.items()]],
                   timeout=scaled(60), log=self.log)

    async def containers(self, service, docker="docker"):
        """Running containers of service on the engine docker talks to."""
        r = await arun([*docker.split(), "ps", "-q", "--no-trunc", "--filter",
                        f"label=com.docker.swarm.service.name={self.name}_{service}"],
                       timeout=30)
        return r.stdout.split()

    async def ip_of(self, cid, docker="docker"):
        r = await arun([*docker.split(), "inspect", cid], timeout=30)
        nets = json.loads(r.stdout)[0]["NetworkSettings"]["Networks"]
        return nets[f"{self.name}_sluice"]["IPAddress"]

    async def running_tasks(self, service):
        """{task id: node} of the service's tasks running now."""
        r = await arun(["docker", "service", "ps", "-q", "--no-trunc", "--filter",
                        "desired-state=running", f"{self.name}_{service}"],
                       timeout=30)
        out = {}
        for tid in r.stdout.split():
            t = json.loads((await arun(["docker", "inspect", tid], timeout=30)).stdout)[0]
            if t["Status"]["State"] == "running":
                out[tid] = t["NodeID"]
        return out

    async def gateway_ready(self, cid, docker="docker"):
        r = await arun([*docker.split(), "exec", cid, "curl", "-s",
                        "--max-time", "2", "http://127.0.0.1:8080/readyz"],
                       timeout=30, check_rc=False)
        return r.stdout.strip()

    async def wait_lb_ready(self, timeout=120):
        async def probe():
            status, body = await asyncio.to_thread(http_get, self.url("/readyz"))
            check(status == 200, f"/readyz through the load balancer: {status} {body[:100]}")
            return True
        await wait_until(probe, timeout, "a ready gateway behind the load balancer",
                         interval=1)

    def remove(self):
        """docker stack rm, then wait until its containers and network are
        gone (the network goes last, once every task has ended)."""
        if not self.deployed:
            return
        run(["docker", "stack", "rm", self.name], timeout=120, log=self.log,
            check_rc=False)
        deadline = time.monotonic() + scaled(90)
        while True:
            r = run(["docker", "ps", "-aq", "--filter",
                     f"label=com.docker.stack.namespace={self.name}"],
                    check_rc=False, timeout=30)
            nets = [n for n in networks() if n.startswith(self.name)]
            if not r.stdout.split() and not nets:
                break
            check(time.monotonic() < deadline,
                  f"stack {self.name} not gone: containers {r.stdout.split()}, "
                  f"networks {nets}")
            time.sleep(1)
        self.deployed = False

    def dump_logs(self):
        for svc in ("lb", "gateway", "compute"):
            r = run(["docker", "service", "logs", "--no-task-ids", "--tail", "80",
                     f"{self.name}_{svc}"], check_rc=False, timeout=60)
            print(f"---- {self.name}_{svc} ----\n{r.stdout[-8000:]}{r.stderr[-8000:]}",
                  flush=True)


# --- a client that survives the death of its gateway --------------------

async def connect(stack, avoid=None, timeout=60):
    """A WebSocket through the load balancer, retried until it succeeds;
    with avoid (a gateway address), until it lands on another gateway.
    Returns (ws, the gateway's address from X-Sluice-Gateway)."""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while time.monotonic() < deadline:
        try:
            ws = await asyncio.wait_for(
                websockets.connect(stack.ws_url(), compression=None,
                                   max_size=None, open_timeout=None), scaled(10))
            gw = ws.response_headers.get("X-Sluice-Gateway", "")
            if avoid is None or gw != avoid:
                return ws, gw
            await ws.close()
            last = f"landed on {gw} again"
        except (OSError, asyncio.TimeoutError,
                websockets.exceptions.WebSocketException) as e:
            last = repr(e)
        await asyncio.sleep(0.5)
    raise AssertionError(f"no connection through the load balancer within "
                         f"{scaled(timeout):.0f} s (last: {last})")


async def echo_request(st):
    """One small request through the load balancer, answered in full."""
    ws, gw = await connect(st)
    try:
        await ws.send('{"type":"submit","id":"a","task":"echo","items":[1,2,3]}')
        frames = []
        while not frames or frames[-1].get("type") != "done":
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), scaled(10))))
        vals = sorted(f["value"] for f in frames if f["type"] == "result")
        check(vals == [1, 2, 3], f"{frames}")
        say(f"echo through HAProxy on gateway {gw}")
    finally:
        await ws.close()


def protocol_features(top):
    """Which of issue 16's client features this checkout documents: the
    test then requires them (before they land it accepts their absence)."""
    with open(os.path.join(top, "docs", "PROTOCOL.md"), encoding="utf-8") as f:
        doc = f.read()
    return {"seqs": "`seqs`" in doc, "resume": '"type":"resume"' in doc}


class Ledger:
    """Every item's outcome as the client received it: item values are
    BASE + original seq, so a result names its item even without `seqs`."""

    # 1.5 s items: the kill (after a quarter of them) lands well before
    # the request could end, even on a slow engine
    BASE = 1500

    def __init__(self, n):
        self.n = n
        self.got = {}  # original seq -> value
        self.frames = []

    def add(self, frame, seq_map):
        """A result of the current submission; seq_map: the seq the gateway
        uses -> the original seq."""
        self.frames.append(frame)
        check(frame["type"] == "result", f"item failed: {frame}")
        orig = frame["value"] - self.BASE
        check(seq_map.get(frame["seq"]) == orig,
              f"result {frame} is not item {seq_map.get(frame['seq'])}")
        check(orig not in self.got, f"item {orig} twice: {frame}")
        self.got[orig] = frame["value"]

    def missing(self):
        return [s for s in range(self.n) if s not in self.got]


async def read_results(ws, req_id, ledger, seq_map, on_result=None):
    """Frames of req_id until done (returns it) or the connection drops
    (returns None); results go to the ledger."""
    try:
        async for msg in ws:
            f = json.loads(msg)
            if f.get("id") != req_id:
                continue
            if f["type"] == "result":
                ledger.add(f, seq_map)
                if on_result:
                    await on_result(len(ledger.got))
            elif f["type"] == "done":
                return f
            elif f["type"] == "error":
                raise AssertionError(f"error in {req_id}: {f}")
    except websockets.ConnectionClosed:
        pass
    return None


async def resumable_request(stack, n, kill, features, timeout=180):
    """Submit n sleep items of about 1.5 s each through the load balancer;
    after a quarter of the results, await kill(gateway address) (which makes
    that gateway go away); then reconnect through the load balancer to
    another gateway, try `resume` (refused there: `unknown_request`), and
    submit only the missing items with their original `seqs`. Returns
    (ledger, first gateway, second gateway); every item exactly once."""
    ledger = Ledger(n)
    req_id = f"r{secrets.token_hex(4)}"
    # sleep returns its argument: the values tell the items apart
    items = [Ledger.BASE + s for s in range(n)]
    ws, gw1 = await connect(stack)
    check(gw1, "no X-Sluice-Gateway header from the load balancer")
    await ws.send(json.dumps({"type": "submit", "id": req_id, "task": "sleep",
                              "items": items}))
    acc = json.loads(await asyncio.wait_for(ws.recv(), scaled(10)))
    check(acc["type"] == "accepted" and acc["id"] == req_id, f"{acc}")
    token = acc.get("resume")
    killed = asyncio.Event()

    async def on_result(count):
        if count >= n // 4 and not killed.is_set():
            killed.set()
            await kill(gw1)

    done = await asyncio.wait_for(
        read_results(ws, req_id, ledger, {s: s for s in range(n)}, on_result),
        scaled(timeout))
    check(done is None, f"request finished before its gateway was killed: {done}")
    check(killed.is_set(), "connection dropped before the kill")
    before = len(ledger.got)
    say(f"{before}/{n} items before gateway {gw1} died; reconnecting")
    ws2, gw2 = await connect(stack, avoid=gw1)
    try:
        missing = ledger.missing()
        await ws2.send(json.dumps({"type": "resume", "id": req_id,
                                   "token": token or "x" * 32,
                                   "have": sorted(ledger.got)}))
        err = json.loads(await asyncio.wait_for(ws2.recv(), scaled(10)))
        check(err["type"] == "error", f"resume on another gateway: {err}")
        if features["resume"]:
            check(err["code"] == "unknown_request" and err.get("id") == req_id,
                  f"resume on another gateway: {err}")
        await ws2.send(json.dumps({"type": "submit", "id": req_id, "task": "sleep",
                                   "items": [Ledger.BASE + s for s in missing],
                                   "seqs": missing}))
        acc2 = json.loads(await asyncio.wait_for(ws2.recv(), scaled(10)))
        check(acc2["type"] == "accepted" and acc2["items"] == len(missing), f"{acc2}")
        # With `seqs` results carry the original seqs; a gateway without
        # them numbers the new items from 0 (the values still tell).
        seq_map = ({s: s for s in missing} if features["seqs"]
                   else {i: s for i, s in enumerate(missing)})
        done = await asyncio.wait_for(read_results(ws2, req_id, ledger, seq_map),
                                      scaled(timeout))
        check(done is not None, "second gateway dropped the connection too")
        check(done["ok"] == len(missing) and done["failed"] == 0, f"{done}")
    finally:
        await ws2.close()
    check(sorted(ledger.got) == list(range(n)), f"items {sorted(ledger.got)}")
    check(len(ledger.frames) == n, f"{len(ledger.frames)} results for {n} items")
    return ledger, gw1, gw2, before


def tail(path, n):
    if not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        return f.read()[-n:].decode("utf-8", "replace")


def run_steps(steps, cleanups, on_fail):
    """steps: (name, coroutine function, time limit in s) run in order
    until one fails (then on_fail() prints what helps); cleanups: (name,
    function) all run, whatever happened. Prints ok/FAIL lines and a
    summary, and exits 0 only if everything passed."""
    passed = failed = 0
    t_start = time.monotonic()
    try:
        for name, step, limit in steps:
            t0 = time.monotonic()
            try:
                asyncio.run(asyncio.wait_for(step(), scaled(limit)))
                passed += 1
                print(f"ok   {name} ({time.monotonic() - t0:.1f} s)", flush=True)
            except BaseException as e:  # also SystemExit from SIGTERM
                failed += 1
                print(f"FAIL {name} ({time.monotonic() - t0:.1f} s)")
                traceback.print_exception(e, file=sys.stdout)
                on_fail()
                break
    finally:
        for name, fn in cleanups:
            t0 = time.monotonic()
            try:
                fn()
                passed += 1
                print(f"ok   {name} ({time.monotonic() - t0:.1f} s)", flush=True)
            except BaseException as e:
                failed += 1
                print(f"FAIL {name}: {e}", flush=True)
    say(f"{time.monotonic() - t_start:.0f} s in all")
    print(f"swarm: {passed} passed, {failed} failed", flush=True)
    sys.exit(0 if failed == 0 else 1)
