#!/usr/bin/python3
"""The Docker Compose deployment (deploy/docker-compose.yml), for real.

Builds the base image if it is missing (deploy/base-image.sh) and both
images, starts one gateway and two workers as a compose project of its own
(a unique name, the gateway published on a free port of 127.0.0.1), and
drives it from the host over WebSocket and HTTP: scaling and stopping and
crashing workers in the middle of a request, the /readyz and /metrics
gauges following the scale, a worker cut off the network and reconnected.
Every item must reach the client exactly once. The project is always taken
down (`down -v`) at the end, also after a failure or SIGTERM.

No Docker engine: exit 77 (ctest: skipped), or 1 with CI=true.

Usage: test_compose.py [--top CHECKOUT]
Environment: SLUICE_TEST_TIME_SCALE stretches time bounds (harness.py).
"""

import argparse
import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import Client, check, check_request, free_port, scaled  # noqa: E402

import websockets  # noqa: E402  (harness.py made sure it imports)

SKIP = 77
PREFIX = "sluicetest"  # project names: sluicetest-<pid>-<random>
HEALTH_FILE = "/tmp/sluice-compute.health"  # SLUICE_HEALTH_FILE in the image


def say(msg):
    print(f"compose: {msg}", flush=True)


def no_engine(why):
    if os.environ.get("CI") == "true":
        print(f"compose: FAIL: no Docker engine ({why}), and CI=true: "
              f"CI machines have one", flush=True)
        print("e2e: 0 passed, 1 failed")
        sys.exit(1)
    bar = "*" * 72
    print(f"{bar}\n*** SKIPPED: no Docker engine ({why})\n"
          f"*** compose.deploy did not test the Docker deployment.\n{bar}",
          flush=True)
    sys.exit(SKIP)


def run(argv, timeout=120, env=None, check_rc=True, log=None):
    """Run a command to completion: CompletedProcess (text). With log, the
    output goes to that file instead of being captured."""
    try:
        if log:
            with open(log, "ab") as f:
                f.write(f"$ {' '.join(argv)}\n".encode())
                f.flush()
                r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                                   stdout=f, stderr=subprocess.STDOUT,
                                   timeout=timeout)
            r.stdout = r.stderr = ""
        else:
            r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{' '.join(argv)}: still running after "
                             f"{timeout:.0f} s; killed") from None
    if check_rc and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: exit {r.returncode}\n"
                             f"{(r.stdout or '')[-3000:]}{(r.stderr or '')[-3000:]}")
    return r


async def arun(*args, **kw):
    """run() in a thread, so the clients' readers keep reading."""
    return await asyncio.to_thread(run, *args, **kw)


def engine_version():
    if not shutil.which("docker"):
        return None, "no docker command"
    try:
        r = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None, "'docker version' did not answer in 30 s"
    if r.returncode != 0 or not r.stdout.strip():
        return None, (r.stderr.strip().splitlines() or ["docker version failed"])[-1]
    return r.stdout.strip(), ""


def compose_command():
    """Compose v2 (`docker compose`) or v1 (`docker-compose`)."""
    for argv in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(argv[0]):
            continue
        r = subprocess.run([*argv, "version"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return argv, r.stdout.strip().splitlines()[0]
    return None, None


def pid_is_ours(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"test_compose.py" in f.read()
    except OSError:
        return False


class Deployment:
    """One compose project of deploy/docker-compose.yml, driven through the
    compose tool and the docker command."""

    def __init__(self, top, compose, tmpdir):
        self.top = top
        self.file = os.path.join(top, "deploy", "docker-compose.yml")
        self.compose = compose
        self.project = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        # One tag per checkout: reruns reuse the build cache, and two
        # checkouts tested at once do not run each other's images.
        self.tag = "test-" + hashlib.sha1(top.encode()).hexdigest()[:10]
        self.port = None
        self.log = os.path.join(tmpdir, "compose.log")
        self.started = False

    def env(self):
        # The caller's SLUICE_* and COMPOSE_* must not configure the test's
        # deployment (SLUICE_LISTEN=127.0.0.1:... would break it).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLUICE_", "COMPOSE_"))}
        env.update(SLUICE_HOST_PORT=str(self.port or 0), SLUICE_IMAGE_TAG=self.tag,
                   SLUICE_THREADS="2", SLUICE_LOG_LEVEL="info")
        return env

    def cmd(self, *args):
        return [*self.compose, "-p", self.project, "-f", self.file, *args]

    async def run(self, *args, timeout=180, log=True):
        return await arun(self.cmd(*args), timeout=scaled(timeout), env=self.env(),
                          log=self.log if log else None)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    # --- docker objects of this project ---------------------------------

    async def ids(self, service):
        """The project's running containers of service."""
        r = await arun(["docker", "ps", "-q", "--no-trunc",
                        "--filter", f"label=com.docker.compose.project={self.project}",
                        "--filter", f"label=com.docker.compose.service={service}"])
        return r.stdout.split()

    async def inspect(self, ids):
        if not ids:
            return []
        return json.loads((await arun(["docker", "inspect", *ids])).stdout)

    async def health_file(self, cid):
        r = await arun(["docker", "exec", cid, "cat", HEALTH_FILE], check_rc=False)
        return r.stdout.strip() if r.returncode == 0 else f"(none: {r.stderr.strip()})"

    async def network(self):
        gw = await self.inspect(await self.ids("gateway"))
        check(gw, "no gateway container")
        nets = list(gw[0]["NetworkSettings"]["Networks"])
        check(len(nets) == 1, f"gateway networks: {nets}")
        return nets[0]

    # --- up / down ------------------------------------------------------

    async def up(self, workers):
        """Start the project on a free loopback port (another one if that
        port was taken in between)."""
        for attempt in range(3):
            self.port = free_port()
            self.started = True
            try:
                await self.run("up", "-d", "--scale", f"compute={workers}",
                               timeout=300)
                return
            except AssertionError:
                with open(self.log, "rb") as f:
                    tail = f.read()[-4000:].decode("utf-8", "replace")
                if attempt == 2 or not re.search(
                        r"already (allocated|in use)", tail):
                    raise
                say(f"port {self.port} was taken; another one")
                await self.run("down", "-v", "--remove-orphans")

    async def scale(self, workers):
        await self.run("up", "-d", "--no-recreate", "--scale", f"compute={workers}")

    def down(self):
        """Remove the project's containers, network and volumes, and check
        that nothing of it is left."""
        if not self.started:
            return
        run(self.cmd("down", "-v", "--remove-orphans", "-t", "20"), timeout=300,
            env=self.env(), log=self.log)
        left = []
        for kind in ("container", "network", "volume"):
            extra = ["-a"] if kind == "container" else []
            r = run(["docker", kind, "ls", "-q", *extra, "--filter",
                     f"label=com.docker.compose.project={self.project}"],
                    check_rc=False)
            left += [f"{kind} {x}" for x in r.stdout.split()]
        check(not left, f"left behind after down -v: {left}")
        self.started = False

    def dump_logs(self):
        r = run(self.cmd("logs", "--no-color", "--timestamps", "--tail", "150"),
                env=self.env(), check_rc=False, timeout=120)
        print(f"---- {self.project}: compose logs ----\n{r.stdout[-20000:]}"
              f"{r.stderr[-2000:]}", flush=True)


def sweep_stale(compose_argv, top):
    """Projects of earlier runs of this test whose process is gone (killed
    by a ctest timeout, say): take them down. Nothing else is touched."""
    r = run(["docker", "ps", "-a", "--format",
             '{{.Label "com.docker.compose.project"}}'], check_rc=False)
    r2 = run(["docker", "network", "ls", "--format",
              '{{.Label "com.docker.compose.project"}}'], check_rc=False)
    for name in sorted(set(r.stdout.split()) | set(r2.stdout.split())):
        m = re.fullmatch(rf"{PREFIX}-(\d+)-[0-9a-f]{{6}}", name)
        if not m or pid_is_ours(int(m.group(1))):
            continue
        say(f"taking down {name}, left by an earlier run that is gone")
        run([*compose_argv, "-p", name, "-f",
             os.path.join(top, "deploy", "docker-compose.yml"),
             "down", "-v", "--remove-orphans", "-t", "5"],
            check_rc=False, timeout=300,
            env={**{k: v for k, v in os.environ.items()
                    if not k.startswith(("SLUICE_", "COMPOSE_"))},
                 "SLUICE_HOST_PORT": "0"})


# --- HTTP from the host -------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=5):
    """(status, body); status None when nothing answered."""
    try:
        with _opener.open(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


async def aget(url):
    return await asyncio.to_thread(http_get, url)


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


async def metrics(d):
    status, body = await aget(d.url("/metrics"))
    check(status == 200, f"/metrics: {status} {body[:200]}")
    return parse_metrics(body)


async def wait_until(probe, timeout, what, interval=0.25):
    """Poll the async probe() until it returns something true; return it."""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        try:
            last = await probe()
            if last:
                return last
        except AssertionError as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"no {what} within {scaled(timeout):.0f} s "
                                 f"(last: {last})")
        await asyncio.sleep(interval)


async def wait_workers(d, n, timeout=60):
    """sluice_workers == n in /metrics, and /readyz agreeing."""
    async def probe():
        m = await metrics(d)
        status, body = await aget(d.url("/readyz"))
        check(m.get("sluice_workers") == n and (
            status == 503 and "no workers" in body if n == 0
            else status == 200
            and f"{n} worker{'' if n == 1 else 's'}," in body),
            f"sluice_workers {m.get('sluice_workers')}, /readyz {status} {body.strip()!r}")
        return m
    return await wait_until(probe, timeout, f"{n} workers in /metrics and /readyz")


async def client(d):
    ws = await asyncio.wait_for(
        websockets.connect(f"ws://127.0.0.1:{d.port}/", compression=None,
                           max_size=None), scaled(10))
    return Client(ws)


async def busy(d, cid):
    """The worker in container cid holds jobs (its health file, rewritten
    every heartbeat, says ok and load > 0)."""
    async def probe():
        text = await d.health_file(cid)
        m = re.search(r"load=(\d+)", text)
        check(text.startswith("ok ") and m and int(m.group(1)) > 0,
              f"health file: {text!r}")
        return text
    return await wait_until(probe, 10, f"jobs on worker {cid[:12]}")


# --- the tests ----------------------------------------------------------

async def images_are_built(d):
    t0 = time.monotonic()
    await arun([os.path.join(d.top, "deploy", "base-image.sh")],
               timeout=scaled(600), log=d.log)
    t1 = time.monotonic()
    await d.run("build", timeout=1100)
    t2 = time.monotonic()
    say(f"base image {t1 - t0:.0f} s, images (compose build) {t2 - t1:.0f} s")
    for service, user_env in (("gateway", ["SLUICE_LISTEN=*:8080",
                                          "SLUICE_WORKERS=tcp://*:5555"]),
                              ("compute", ["SLUICE_GATEWAY=tcp://gateway:5555",
                                           f"SLUICE_HEALTH_FILE={HEALTH_FILE}"])):
        img = json.loads((await arun(["docker", "image", "inspect",
                                      f"sluice-{service}:{d.tag}"])).stdout)[0]
        cfg = img["Config"]
        check(cfg["User"] not in ("", "0", "root") and not cfg["User"].startswith("0:"),
              f"{service} image runs as root: {cfg['User']!r}")
        check(cfg.get("Healthcheck", {}).get("Test"), f"{service}: no HEALTHCHECK")
        check(cfg["Entrypoint"] == [f"/usr/local/bin/sluice-{service}"],
              f"{service} entrypoint: {cfg['Entrypoint']}")
        for e in user_env:
            check(e in cfg["Env"], f"{service} image lacks {e}: {cfg['Env']}")
        say(f"sluice-{service}:{d.tag}: {img['Size'] / 1e6:.0f} MB, user {cfg['User']}")


async def deployment_comes_up_healthy(d):
    await d.up(workers=2)
    say(f"project {d.project}: ws://127.0.0.1:{d.port}/")
    await wait_until(lambda: _ok(d, "/healthz"), 60, "/healthz 200")
    m = await wait_workers(d, 2)
    check(m.get("sluice_worker_capacity") == 4,
          f"SLUICE_THREADS=2 x 2 workers: capacity {m.get('sluice_worker_capacity')}")
    status, page = await aget(d.url("/"))
    check(status == 200 and "<html" in page.lower(), f"demo page: {status}")
    # Every container healthy by its own HEALTHCHECK, running as non-root,
    # and the gateway published on the host's loopback only.
    ids = await d.ids("gateway") + await d.ids("compute")
    check(len(ids) == 3, f"containers: {ids}")

    async def all_healthy():
        states = [c["State"].get("Health", {}).get("Status")
                  for c in await d.inspect(ids)]
        check(all(s == "healthy" for s in states), f"health: {states}")
        return True
    await wait_until(all_healthy, 60, "all three containers healthy", interval=1)
    for cid in ids:
        uid = (await arun(["docker", "exec", cid, "id", "-u"])).stdout.strip()
        check(uid != "0", f"{cid[:12]} runs as root")
    gw = (await d.inspect(await d.ids("gateway")))[0]
    bindings = [b for port, bs in gw["NetworkSettings"]["Ports"].items() if bs
                for b in bs]
    check(bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings),
          f"gateway published beyond loopback: {gw['NetworkSettings']['Ports']}")


async def _ok(d, path):
    status, _ = await aget(d.url(path))
    return status == 200


async def crash(d, cid):
    """SIGKILL the worker's process, as a crash: the container's restart
    policy restarts it. True if so; False where the process is not visible
    from here (remote or rootless engine): then `docker kill` and `docker
    start`, and the restart policy is not tested."""
    pid = (await d.inspect([cid]))[0]["State"]["Pid"]
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            ours = f.read().split(b"\0")[0].endswith(b"/sluice-compute")
    except OSError:
        ours = False
    if ours:
        try:
            os.kill(pid, signal.SIGKILL)
            return True
        except PermissionError:
            pass
    say(f"cannot signal {cid[:12]}'s process from here: docker kill, "
        f"docker start; the restart policy is not tested")
    await arun(["docker", "kill", "-s", "KILL", cid])
    await arun(["docker", "start", cid])
    return False


async def scale_up_stop_and_crash_mid_request(d):
    """24 items of 2 s on 2 workers x 2 threads. While they run: scale to 4
    workers, stop one (SIGTERM: it drains, exit 0) and crash another
    (SIGKILL of its process: the restart policy brings it back). Every
    item arrives once; the gauges follow."""
    m0 = await wait_workers(d, 2)
    c = await client(d)
    try:
        mark = c.mark()
        await c.submit("big", "sleep", [2000] * 24)
        acc, _ = await c.wait_frame(lambda f: f["type"] == "accepted", mark,
                                    what="accepted")
        check(acc["workers"] == 2 and acc["items"] == 24, f"{acc}")
        first = await d.ids("compute")
        await d.scale(4)
        await wait_workers(d, 4)
        pong, _ = await c.ping()
        check(pong["workers"] == 4 and pong["running"] > 4,
              f"4 workers should run more than 4 jobs: {pong}")
        stopped, crashed = first[0], first[1]
        say(f"stopping {stopped[:12]} ({await busy(d, stopped)})")
        say(f"crashing {crashed[:12]} ({await busy(d, crashed)})")
        stop = asyncio.create_task(arun(["docker", "stop", "-t", "30", stopped],
                                        timeout=scaled(60)))
        by_policy = await crash(d, crashed)
        await stop
        frames = await c.collect("big", mark, timeout=90)
        out = check_request(frames, 24)
        n_frames = len(frames)
        check(out == [2000] * 24, f"values: {out}")
        check(frames[-1][0]["ok"] == 24 and frames[-1][0]["failed"] == 0,
              f"done: {frames[-1][0]}")
        # The stopped worker drained and exited 0; the crashed one was
        # restarted in place by the restart policy and registered again.
        st, cr = await d.inspect([stopped, crashed])
        check(st["State"]["Status"] == "exited" and st["State"]["ExitCode"] == 0,
              f"stopped worker: {st['State']}")
        check(cr["State"]["Running"] and (cr["RestartCount"] >= 1 or not by_policy),
              f"crashed worker not restarted: restarts {cr['RestartCount']}, "
              f"{cr['State']}")
        m = await wait_workers(d, 3)
        check(m["sluice_jobs_requeued_total"] > m0["sluice_jobs_requeued_total"],
              f"the crashed worker's jobs were not requeued: {m}")
        check(m['sluice_items_total{outcome="ok"}']
              - m0['sluice_items_total{outcome="ok"}'] == 24,
              "items_total ok should have grown by 24")
        check(m["sluice_queued_jobs"] == 0 and m["sluice_running_jobs"] == 0,
              f"jobs left: {m}")
        late = c.since(mark, "big")[n_frames:]
        check(not late, f"frames after done: {late}")
    finally:
        await c.close()


async def workers_gauge_follows_the_scale(d):
    """/metrics sluice_workers and /readyz through scale up and down,
    down to no worker at all (not ready, still alive)."""
    for n in (4, 1, 0, 2):
        await d.scale(n)
        m = await wait_workers(d, n)
        check(m["sluice_worker_capacity"] == 2 * n, f"capacity with {n}: {m}")
        running = await d.ids("compute")
        check(len(running) == n, f"{len(running)} compute containers, want {n}")
        if n == 0:
            check(await _ok(d, "/healthz"), "/healthz without workers")


async def network_cut_requeues_and_reconnect_serves(d):
    """A worker cut off the network mid-request (docker network
    disconnect): the gateway declares it dead after interval x liveness
    (3 s) and requeues its jobs; every item arrives once. Connected again,
    it registers again and takes work."""
    m0 = await wait_workers(d, 2)
    net = await d.network()
    victim = (await d.ids("compute"))[0]
    c = await client(d)
    try:
        mark = c.mark()
        await c.submit("cut", "sleep", [1000] * 24)
        await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
        say(f"cutting {victim[:12]} off {net} ({await busy(d, victim)})")
        t_cut = time.monotonic()
        await arun(["docker", "network", "disconnect", net, victim])
        m = await wait_workers(d, 1, timeout=20)
        say(f"gateway dropped it after {time.monotonic() - t_cut:.1f} s")
        check(m["sluice_heartbeats_missed_total"] > m0["sluice_heartbeats_missed_total"],
              f"not declared dead for silence: {m}")
        frames = await c.collect("cut", mark, timeout=90)
        out = check_request(frames, 24)
        check(out == [1000] * 24, f"values: {out}")
        n_frames = len(frames)
        m = await metrics(d)
        check(m["sluice_jobs_requeued_total"] > m0["sluice_jobs_requeued_total"],
              f"the cut worker's jobs were not requeued: {m}")
        # Back on the network: it notices the silence, reconnects (backoff
        # up to 5 s) and registers again.
        await arun(["docker", "network", "connect", net, victim])
        await wait_workers(d, 2, timeout=40)
        logs = (await arun(["docker", "logs", (await d.ids("gateway"))[0]])).stderr
        host = (await d.inspect([victim]))[0]["Config"]["Hostname"]
        # WRK-READY names a worker by label (w1...) and its host; the
        # routing id appears only at debug level.
        readies = len(re.findall(
            rf"WRK-READY worker=w\d+ .*\bhost={re.escape(host)}(?:\s|$)", logs,
            re.M))
        check(readies >= 2, f"worker {host}: {readies} WRK-READY in the gateway's log")
        # A request as large as the capacity: it runs in one round only if
        # the reconnected worker takes its share.
        mark = c.mark()
        await c.submit("after", "sleep", [2000] * 4)
        await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
        say(f"reconnected worker: {await busy(d, victim)}")
        pong, _ = await c.ping()
        check(pong["running"] == 4 and pong["queued"] == 0, f"{pong}")
        frames = await c.collect("after", mark, timeout=30)
        check(check_request(frames, 4) == [2000] * 4, f"{frames}")
        elapsed = frames[-1][0]["elapsed_ms"]
        check(elapsed < scaled(3.5) * 1000,
              f"4 x 2 s on 2 x 2 threads took {elapsed} ms: not in one round")
        # The cut worker's stale results, if any came through, were dropped.
        late = c.since(0, "cut")[n_frames:]
        check(not late, f"frames of 'cut' after its done: {late}")
    finally:
        await c.close()


TESTS = [images_are_built, deployment_comes_up_healthy,
         scale_up_stop_and_crash_mid_request, workers_gauge_follows_the_scale,
         network_cut_requeues_and_reconnect_serves]
NEEDED = 2  # the first two: without them nothing else can run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", default=os.path.normpath(os.path.join(HERE, "..", "..")),
                    help="the sluice checkout (default: this script's)")
    ap.add_argument("--logs", metavar="FILE",
                    help="save the containers' logs there before `down`")
    args = ap.parse_args()
    top = os.path.abspath(args.top)

    version, why = engine_version()
    if not version:
        no_engine(why)
    compose, compose_version = compose_command()
    if not compose:
        print("compose: FAIL: a Docker engine answers but neither "
              "`docker compose` nor `docker-compose` works")
        print("e2e: 0 passed, 1 failed")
        sys.exit(1)
    say(f"engine {version}, {' '.join(compose)}: {compose_version}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # finally: down

    passed = failed = 0
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sluice-compose-") as tmp:
        d = Deployment(top, compose, tmp)
        try:
            sweep_stale(compose, top)
            for i, test in enumerate(TESTS):
                t0 = time.monotonic()
                try:
                    asyncio.run(asyncio.wait_for(test(d), scaled(1200 if i == 0 else 240)))
                    passed += 1
                    print(f"ok   {test.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
                except BaseException as e:  # also SystemExit from SIGTERM
                    failed += 1
                    print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f} s)")
                    if isinstance(e, asyncio.TimeoutError):
                        print("test timed out")
                    traceback.print_exception(e, file=sys.stdout)
                    with open(d.log, "rb") as f:
                        print("---- compose.log (tail) ----\n"
                              + f.read()[-6000:].decode("utf-8", "replace"))
                    if d.started:
                        d.dump_logs()
                    if i < NEEDED or isinstance(e, (KeyboardInterrupt, SystemExit)):
                        rest = len(TESTS) - i - 1
                        if rest:
                            print(f"{rest} tests not run")
                        failed += rest
                        break
                sys.stdout.flush()
        finally:
            if args.logs and d.started:
                r = run(d.cmd("logs", "--no-color", "--timestamps"), env=d.env(),
                        check_rc=False, timeout=120)
                with open(args.logs, "w") as f:
                    f.write(r.stdout + r.stderr)
            t0 = time.monotonic()
            try:
                d.down()
                print(f"ok   down -v ({time.monotonic() - t0:.1f} s)")
                passed += 1
            except BaseException as e:
                failed += 1
                print(f"FAIL down -v: {e}")
    say(f"{time.monotonic() - t_start:.0f} s in all")
    print(f"e2e: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
