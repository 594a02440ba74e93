"""Shared helpers for sluice's end-to-end tests.

A test script lists async test functions and calls run(tests). Each test
gets a fresh Harness: it starts its own gateway and workers on free
loopback ports, and everything it started is stopped with SIGTERM (exit
code 0 asserted) when the test ends. Every wait is bounded; bounds scale
with SLUICE_TEST_TIME_SCALE (default 1).

Usage: test_<name>.py --gateway PATH --compute PATH [--only NAME,...]

SLUICE_TEST_WRAPPER, if set, is a command line put in front of every
gateway and worker the harness starts, e.g. "valgrind --leak-check=full
--error-exitcode=99" (tests/e2e/valgrind.sh): the wrapper must exec the
program in the same process (valgrind does), so that signals reach it and
its exit code is the program's.
"""

import argparse
import asyncio
import atexit
import base64
import ctypes
import json
import os
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import websockets
except ImportError as e:
    # A missing module is a failure, never a skip: ctest would otherwise
    # report the suite as passed.
    print(f"e2e: cannot import websockets ({e}); install python3-websockets "
          f"or point SLUICE_PYTHON at /usr/bin/python3 (this is {sys.executable})",
          file=sys.stderr)
    sys.exit(1)

TIME_SCALE = float(os.environ.get("SLUICE_TEST_TIME_SCALE", "1") or "1")
WRAPPER = shlex.split(os.environ.get("SLUICE_TEST_WRAPPER", ""))


def scaled(seconds):
    """A generous bound in seconds, stretched for slow or loaded machines."""
    return seconds * TIME_SCALE


def check(cond, message):
    """assert that survives python -O."""
    if not cond:
        raise AssertionError(message)


_ports_given = set()


def free_port():
    """A loopback TCP port nothing listens on now, never the same one twice
    in this process: the kernel may hand a port it just gave out again, and
    a gateway's --listen and --workers ports must differ."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def child_env(extra=None):
    """Our environment without the caller's SLUICE_* settings, plus extra:
    the programs read SLUICE_<OPTION>, and the tests must not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(extra or {})
    return env


def _die_with_parent():
    """In the child: get SIGKILL if the test process dies (ctest timeout)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _preexec(rlimits):
    """The child's set-up: rlimits ({resource.RLIMIT_*: (soft, hard)})
    applied, then _die_with_parent."""
    def setup():
        for res, lim in (rlimits or {}).items():
            resource.setrlimit(res, lim)
        _die_with_parent()
    return setup


class Proc:
    """A started gateway or worker, its output in a log file; rlimits:
    {resource.RLIMIT_*: (soft, hard)} to start it with."""

    def __init__(self, name, argv, log_path, env=None, rlimits=None):
        self.name, self.argv, self.log_path = name, argv, log_path
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(
                WRAPPER + argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=child_env(env),
                preexec_fn=_preexec(rlimits))
        self.pid = self.popen.pid
        self.stopped = False  # exited because we said so
        self.killed = False   # ... with SIGKILL, after a failure

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def running(self):
        return self.popen.poll() is None

    def kill(self):
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait()
            self.killed = True
        self.stopped = True


class Gateway(Proc):
    def __init__(self, argv, log_path, port, endpoint, env=None,
                 producers=None, rlimits=None):
        super().__init__("gateway", argv, log_path, env, rlimits)
        self.port, self.endpoint = port, endpoint
        self.producers = producers  # the producers endpoint, or None
        self.url = f"ws://127.0.0.1:{port}/"


class Client:
    """A WebSocket connection whose reader task records every frame with
    its monotonic arrival time, so tests can wait for frames while sending
    others (pings during a request, several requests at once)."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []  # (frame dict, time.monotonic() at arrival)
        self.closed = False
        self._event = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._next_id = 0

    async def _read(self):
        try:
            async for msg in self.ws:
                t = time.monotonic()
                check(isinstance(msg, str), f"binary frame from gateway: {msg!r}")
                self.frames.append((json.loads(msg), t))
                self._event.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._event.set()

    async def send(self, msg):
        """msg: a dict (sent as JSON text), a str, bytes (a binary message)
        or a list of str (one text message in that many fragments)."""
        await self.ws.send(json.dumps(msg) if isinstance(msg, dict) else msg)
        return time.monotonic()

    def mark(self):
        return len(self.frames)

    def since(self, mark, req_id=None):
        return [(f, t) for f, t in self.frames[mark:]
                if req_id is None or f.get("id") == req_id]

    async def wait_frame(self, pred, since=0, timeout=10, what="frame"):
        """The first (frame, time) at index >= since for which pred holds."""
        async def wait():
            i = since
            while True:
                while i < len(self.frames):
                    if pred(self.frames[i][0]):
                        return self.frames[i]
                    i += 1
                check(not self.closed, f"connection closed waiting for {what}")
                self._event.clear()
                await self._event.wait()
        try:
            return await asyncio.wait_for(wait(), scaled(timeout))
        except asyncio.TimeoutError:
            raise AssertionError(
                f"no {what} within {scaled(timeout):.1f} s; frames received "
                f"since: {[f for f, _ in self.frames[since:]][-20:]}") from None

    async def wait_closed(self, timeout=10):
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), scaled(timeout))
        except asyncio.TimeoutError:
            raise AssertionError("connection still open") from None

    def new_id(self, prefix="q"):
        self._next_id += 1
        return f"{prefix}{self._next_id}"

    async def submit(self, req_id, task, items):
        return await self.send({"type": "submit", "id": req_id, "task": task,
                                "items": items})

    async def collect(self, req_id, since=0, timeout=20):
        """Frames of req_id from since up to its done or a request-level
        error (one without seq), as a list of (frame, time)."""
        await self.wait_frame(
            lambda f: f.get("id") == req_id and (
                f["type"] == "done" or (f["type"] == "error" and "seq" not in f)),
            since, timeout, what=f"end of request {req_id!r}")
        return self.since(since, req_id)

    async def submit_and_collect(self, req_id, task, items, timeout=20):
        """Submit and return ([(frame, time)...], time of the send)."""
        mark = self.mark()
        t0 = await self.submit(req_id, task, items)
        return await self.collect(req_id, mark, timeout), t0

    async def run(self, task, items, timeout=20):
        """Submit, check the request's frames are well-formed and complete,
        and return the list of per-item outcomes by seq: the value for a
        result, the error frame for an item error."""
        req_id = self.new_id()
        frames, _ = await self.submit_and_collect(req_id, task, items, timeout)
        return check_request(frames, len(items))

    async def ping(self, data=None, timeout=5):
        """Send a ping, return (pong frame, round trip seconds)."""
        msg = {"type": "ping"} if data is None else {"type": "ping", "data": data}
        mark = self.mark()
        t0 = await self.send(msg)
        pong, t1 = await self.wait_frame(
            lambda f: f["type"] == "pong" and f.get("data") == data, mark,
            timeout, what=f"pong for {data!r}")
        return pong, t1 - t0

    async def close(self):
        await self.ws.close()
        self._reader.cancel()


def check_request(frames, n_items):
    """frames: one request's (frame, time) list through its done. Checks
    accepted first, every seq once, done last with matching counts; returns
    the outcomes by seq (value, or the error frame for a failed item).
    Progress and partial frames (revision 7) are left out here, checked
    only to come before their item's outcome."""
    ended = set()
    for f, _ in frames:
        if f["type"] in ("progress", "partial"):
            check(f.get("seq") not in ended, f"{f['type']} after its item "
                                             f"ended: {f}")
        elif f["type"] in ("result", "error") and "seq" in f:
            ended.add(f["seq"])
    frames = [(f, t) for f, t in frames
              if f["type"] not in ("progress", "partial")]
    kinds = [f["type"] for f, _ in frames]
    check(kinds and kinds[0] == "accepted", f"not accepted first: {kinds}")
    check(frames[0][0]["items"] == n_items, f"bad accepted: {frames[0][0]}")
    check(kinds[-1] == "done", f"done not last: {kinds}")
    check(kinds.count("done") == 1 and kinds.count("accepted") == 1,
          f"frames: {kinds}")
    out, failed = {}, 0
    for f, _ in frames[1:-1]:
        check(f["type"] in ("result", "error") and "seq" in f, f"unexpected {f}")
        check(f["seq"] not in out, f"seq {f['seq']} twice")
        check(0 <= f["seq"] < n_items, f"seq out of range: {f}")
        if f["type"] == "result":
            out[f["seq"]] = f["value"]
        else:
            out[f["seq"]] = f
            failed += 1
    check(sorted(out) == list(range(n_items)), f"seqs {sorted(out)}")
    done = frames[-1][0]
    check(done["ok"] == n_items - failed and done["failed"] == failed,
          f"done counts wrong: {done}, {failed} item errors seen")
    check(isinstance(done["elapsed_ms"], int) and done["elapsed_ms"] >= 0,
          f"bad elapsed_ms: {done}")
    return [out[i] for i in range(n_items)]


async def refusal_mismatch(c, mark, msg, err, code, req_id):
    """After err answered msg (sent at mark) on c: the error has a message,
    the connection still runs a fresh echo request, msg started nothing.
    Returns how err differs from (code, req_id), or None."""
    check(isinstance(err.get("message"), str) and err["message"], f"{err}")
    check(await c.run("echo", [1]) == [1], f"connection unusable after "
                                          f"{msg!r:.80}")
    accepted = [f for f, _ in c.since(mark) if f["type"] == "accepted"]
    check(len(accepted) == 1 and accepted[0]["id"] != req_id,
          f"{msg!r:.80} was accepted though refused: {accepted}")
    if code == "item_too_large" and "item 1" not in err["message"]:
        return f"{msg!r:.100}: {err} does not name item 1"
    if err["code"] != code or err.get("id") != req_id:
        return f"{msg!r:.100}: got {err}, want code {code} id {req_id}"
    return None


async def metric(port, name):
    """One unlabelled metric's value from GET /metrics."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Connection: close\r\n\r\n".encode())
    body = await asyncio.wait_for(r.read(), scaled(10))
    w.close()
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def wait_pong(c, pred, timeout=10, what="pong"):
    """Poll c with pings until pred(pong) holds; return that pong."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        pong, _ = await c.ping()
        if pred(pong):
            return pong
        check(time.monotonic() < deadline,
              f"no {what} within {scaled(timeout):.1f} s; last pong {pong}")
        await asyncio.sleep(0.05)


async def wait_log(proc, text, timeout=10):
    """Poll proc's log until a line contains text (a str, or a tuple of
    str: any of them); return that line."""
    texts = (text,) if isinstance(text, str) else text
    deadline = time.monotonic() + scaled(timeout)
    while True:
        for line in proc.log().splitlines():
            if any(t in line for t in texts):
                return line
        check(time.monotonic() < deadline,
              f"{proc.name} {proc.pid} logged no {text!r} within "
              f"{scaled(timeout):.1f} s")
        await asyncio.sleep(0.05)


def log_events(proc, event):
    """(lines, suppressed): proc's lines with this event id, and the sum of
    its "EVENT N more suppressed" reports (sl_log writes at most 10 lines
    of an id a second at warn/notice/info and counts the rest). The
    report lines themselves are not in lines."""
    lines, suppressed = [], 0
    for line in proc.log().splitlines():
        words = line.split()
        if len(words) < 4 or words[3] != event:
            continue
        if len(words) == 7 and words[5:] == ["more", "suppressed"]:
            suppressed += int(words[4])
        else:
            lines.append(line)
    return lines, suppressed


def log_count(proc, event):
    """How often proc logged event, suppressed lines included."""
    lines, suppressed = log_events(proc, event)
    return len(lines) + suppressed


def cpu_seconds(pid):
    """User plus system CPU time a live process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_labels(gw, w):
    """The gateway's labels (w1, w2...) for worker process w, one per
    registration, oldest first. The gateway logs routing ids only at debug
    level (WRK-ID); its WRK-READY line names the worker's pid instead."""
    return re.findall(rf"WRK-READY worker=(\S+) .*\bpid={w.pid}\b", gw.log())


async def wait_registered(gw, w, count=1, timeout=10):
    """Wait until worker process w has registered count times with gw;
    return its latest label."""
    deadline = time.monotonic() + scaled(timeout)
    while len(worker_labels(gw, w)) < count:
        check(time.monotonic() < deadline,
              f"worker {w.pid} registered {len(worker_labels(gw, w))} times "
              f"with gateway {gw.pid}, want {count}, within "
              f"{scaled(timeout):.1f} s")
        await asyncio.sleep(0.05)
    return worker_labels(gw, w)[-1]


def rss_kib(pid):
    """Resident set size of a live process in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


# ---- raw WebSocket, for clients that misbehave below a library's level ----

def ws_upgrade(port, host="127.0.0.1", timeout=10, rcvbuf=None, source=None):
    """Send a WebSocket opening handshake (RFC 6455) by hand, from source
    address source if given; rcvbuf: the socket's SO_RCVBUF, set before it
    connects. Returns (status, socket or None, head, rest): after a 101 the
    socket stays open for the caller, with rest the bytes that came after
    the response; otherwise it is closed. It blocks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            sock.bind((source, 0))
        sock.settimeout(scaled(timeout))
        sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            check(chunk, f"connection closed during the handshake: {buf!r}")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 "), f"no HTTP answer: {head!r}")
        status = int(head.split(b" ", 2)[1])
    except BaseException:
        sock.close()
        raise
    if status != 101:
        sock.close()
        return status, None, head, rest
    return status, sock, head, rest


def ws_handshake(port, host="127.0.0.1", timeout=10, rcvbuf=None):
    """A TCP socket that has done the WebSocket opening handshake, now
    non-blocking, plus any bytes that came after the 101 response (a small
    rcvbuf makes a client that does not read fill up quickly). It blocks:
    in a test, await asyncio.to_thread(ws_handshake, port)."""
    status, sock, head, rest = ws_upgrade(port, host, timeout, rcvbuf)
    check(status == 101, f"handshake refused: {head!r}")
    sock.setblocking(False)
    return sock, rest


def ws_frame(payload, opcode=0x1, fin=True):
    """One client-to-server WebSocket frame (masked, as RFC 6455 demands);
    payload str (as UTF-8) or bytes."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    key = (mask * (n // 4 + 1))[:n]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
    return head + mask + masked.to_bytes(n, "big")


def ws_parse(buf):
    """Split server-to-client (unmasked) frames off buf: ([(opcode,
    payload)...], the incomplete rest)."""
    frames, i = [], 0
    while len(buf) - i >= 2:
        opcode, n, j = buf[i] & 0x0F, buf[i + 1] & 0x7F, i + 2
        check(not buf[i + 1] & 0x80, "masked frame from the server")
        if n == 126:
            if len(buf) - j < 2:
                break
            n, j = int.from_bytes(buf[j:j + 2], "big"), j + 2
        elif n == 127:
            if len(buf) - j < 8:
                break
            n, j = int.from_bytes(buf[j:j + 8], "big"), j + 8
        if len(buf) - j < n:
            break
        frames.append((opcode, buf[j:j + n]))
        i = j + n
    return frames, buf[i:]


async def read_to_eof(sock, timeout=10):
    """Read a non-blocking socket until the peer closes it (EOF or reset);
    return (bytes read, monotonic time of the EOF)."""
    loop = asyncio.get_running_loop()
    data = bytearray()

    async def read():
        while True:
            try:
                chunk = await loop.sock_recv(sock, 1 << 16)
            except ConnectionResetError:
                return
            if not chunk:
                return
            data.extend(chunk)
    try:
        await asyncio.wait_for(read(), scaled(timeout))
    except asyncio.TimeoutError:
        raise AssertionError(f"connection still open after "
                             f"{scaled(timeout):.1f} s; {len(data)} bytes "
                             f"read") from None
    return bytes(data), time.monotonic()


class Harness:
    """What one test started; stop_all()/kill_all() end it."""

    def __init__(self, args, tmpdir):
        self.gateway_bin, self.compute_bin = args.gateway, args.compute
        self.tmpdir = tmpdir
        self.procs = []
        self.clients = []

    def _log_path(self, name):
        return os.path.join(self.tmpdir, f"{len(self.procs):02d}-{name}.log")

    async def gateway(self, *args, env=None, port=None, endpoint=None,
                      rlimits=None):
        """Start a gateway on free ports (unless given) and wait until its
        WebSocket port accepts connections. A port taken by someone else
        between free_port() and bind is retried with new ports. rlimits:
        see Proc."""
        for _ in range(3):
            p = port or free_port()
            ep = endpoint or f"tcp://127.0.0.1:{free_port()}"
            # Every gateway gets its own producers port (the default,
            # 5556, would collide between tests); args may override it.
            pe = f"tcp://127.0.0.1:{free_port()}"
            argv = [self.gateway_bin, "--listen", f"127.0.0.1:{p}",
                    "--workers", ep, "--producers", pe,
                    "--log-level", "info", *args]
            if "--producers" in args:
                pe = args[list(args).index("--producers") + 1]
            gw = Gateway(argv, self._log_path("gateway"), p, ep, env,
                         None if pe == "none" else pe, rlimits)
            self.procs.append(gw)
            if await self._wait_listening(gw):
                return gw
            log = gw.log()
            taken = "cannot listen" in log or "already in use" in log
            gw.stopped = True
            if not taken or port or endpoint:
                raise AssertionError(f"gateway did not start: {argv}\n{log}")
        raise AssertionError("gateway: no free ports after 3 attempts")

    async def _wait_listening(self, gw, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if not gw.running():
                return False
            try:
                _, w = await asyncio.open_connection("127.0.0.1", gw.port)
                w.close()
                await w.wait_closed()
                return True
            except OSError:
                await asyncio.sleep(0.02)
        raise AssertionError(f"gateway not listening on {gw.port} after "
                             f"{scaled(timeout):.0f} s")

    def worker(self, gw_or_endpoint, threads=1, *args, env=None, wrap=()):
        """Start a worker (threads None: no --threads option). A list of
        gateways (or endpoints) gives one --gateway each: the worker serves
        them all. wrap: argv in front of the worker's (it must exec it, so
        the pid stays the worker's)."""
        many = gw_or_endpoint if isinstance(gw_or_endpoint, (list, tuple)) \
            else [gw_or_endpoint]
        gws = []
        for g in many:
            gws += ["--gateway", getattr(g, "endpoint", g)]
        argv = [*wrap, self.compute_bin, *gws, "--log-level", "info",
                *([] if threads is None else ["--threads", str(threads)]), *args]
        w = Proc("worker", argv, self._log_path("worker"), env)
        self.procs.append(w)
        return w

    async def client(self, gw):
        ws = await asyncio.wait_for(
            websockets.connect(gw.url, compression=None, max_size=None),
            scaled(10))
        c = Client(ws)
        self.clients.append(c)
        return c

    async def wait_workers(self, gw, count, timeout=10):
        """Poll with pings until the gateway reports count workers."""
        c = await self.client(gw)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            pong, _ = await c.ping()
            if pong["workers"] == count:
                break
            check(time.monotonic() < deadline,
                  f"{pong['workers']} workers registered, want {count}")
            await asyncio.sleep(0.05)
        await c.close()
        self.clients.remove(c)

    async def start(self, *gw_args, workers=(1,)):
        """A gateway plus one worker per entry of workers (its threads),
        all registered."""
        gw = await self.gateway(*gw_args)
        for threads in workers:
            self.worker(gw, threads)
        await self.wait_workers(gw, len(workers))
        return gw

    async def stop(self, proc, sig=signal.SIGTERM, timeout=30):
        """Signal proc and assert it exits with code 0 in time (SIGTERM
        lets running work finish first: up to --drain-ms, 10 s)."""
        check(proc.running(),
              f"{proc.name} {proc.pid} exited early: {proc.popen.returncode}")
        os.kill(proc.pid, sig)
        deadline = time.monotonic() + scaled(timeout)
        while proc.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if proc.running():
            proc.kill()
            raise AssertionError(f"{proc.name} {proc.pid} ignored "
                                 f"{signal.Signals(sig).name} for "
                                 f"{scaled(timeout):.0f} s; killed")
        rc = proc.popen.returncode
        proc.stopped = True
        check(rc == 0, f"{proc.name} {proc.pid} exited {rc} after "
                       f"{signal.Signals(sig).name}")

    async def stop_all(self):
        """End of a passing test: close clients, then stop workers and
        gateways (newest first), each with SIGTERM and exit code 0."""
        for c in self.clients:
            await asyncio.wait_for(c.close(), scaled(10))
        self.clients = []
        for p in reversed(self.procs):
            if not p.stopped:
                await self.stop(p)  # also fails if p died on its own

    def kill_all(self):
        for p in self.procs:
            p.kill()

    def dump_logs(self):
        for p in self.procs:
            end = "killed by the harness" if p.killed else f"exit {p.popen.poll()}"
            print(f"---- {p.name} pid {p.pid}: {' '.join(p.argv)} ({end}) "
                  f"----\n{p.log()[-6000:]}")

    def run_cli(self, binary, *args, env=None, timeout=10):
        """Run a binary to completion, e.g. --help: CompletedProcess."""
        try:
            return subprocess.run([binary, *args], env=child_env(env),
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=scaled(timeout))
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"{binary} {' '.join(args)} {env or ''} still "
                                 f"running after {e.timeout:.0f} s; killed") from None


def _parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", required=True, help="sluice-gateway binary")
    ap.add_argument("--compute", required=True, help="sluice-compute binary")
    ap.add_argument("--only", default="",
                    help="comma-separated test names to run (default: all)")
    args = ap.parse_args()
    for path in (args.gateway, args.compute):
        if not os.access(path, os.X_OK):
            print(f"e2e: {path} is not an executable (build it first)")
            sys.exit(1)
    return args


_live = []  # harnesses whose processes must not outlive us


@atexit.register
def _kill_leftovers():
    for h in _live:
        h.kill_all()


def run(tests, test_timeout=90):
    """Run each async test(h) with its own Harness; print the summary line
    and exit 0 only if every test passed."""
    args = _parse_args()
    if args.only:
        names = args.only.split(",")
        unknown = set(names) - {t.__name__ for t in tests}
        check(not unknown, f"--only: no such test {sorted(unknown)}")
        tests = [t for t in tests if t.__name__ in names]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # runs atexit
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="sluice-e2e-") as tmp:
        for test in tests:
            h = Harness(args, tempfile.mkdtemp(prefix=test.__name__, dir=tmp))
            _live.append(h)
            t0 = time.monotonic()

            async def one():
                try:
                    await asyncio.wait_for(test(h), scaled(test_timeout))
                except asyncio.TimeoutError:
                    h.kill_all()
                    # a socket timeout inside the test is a TimeoutError
                    # too: only call it ours if our bound has passed
                    if time.monotonic() - t0 < scaled(test_timeout) - 1:
                        raise
                    raise AssertionError(f"test still running after "
                                         f"{scaled(test_timeout):.0f} s") from None
                except BaseException:
                    h.kill_all()  # before asyncio.run closes the clients
                    raise
                await h.stop_all()
            try:
                asyncio.run(one())
                passed += 1
                print(f"ok   {test.__name__} ({time.monotonic() - t0:.1f} s)")
            except BaseException as e:  # also SystemExit from SIGTERM
                failed += 1
                print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f} s)")
                traceback.print_exception(e, file=sys.stdout)
                h.kill_all()
                h.dump_logs()
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    break
            sys.stdout.flush()
    print(f"e2e: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and passed == len(tests) else 1)
