#!/usr/bin/python3
"""The open queue: producers on ZeroMQ share the workers with WebSocket
clients, Python producers and workers written from docs/PROTOCOL.md alone
interoperate with the C ones, sluice-submit streams results."""
import asyncio
import os
import sys
import time

import json
import signal

from harness import (Proc, check, check_request, metric, run, scaled,
                     wait_log, child_env)

try:
    import msgpack
    import zmq
    import zmq.asyncio
except ImportError as e:
    print(f"e2e: cannot import zmq/msgpack ({e}); install python3-zmq "
          f"python3-msgpack", file=sys.stderr)
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "deploy", "examples")
_zctx = zmq.asyncio.Context.instance()


class Producer:
    """A DEALER on the producers endpoint; every frame one msgpack map."""

    def __init__(self, gw, rcvhwm=None, rcvbuf=None):
        check(gw.producers, "gateway without a producers endpoint")
        self.sock = _zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        if rcvbuf is not None:
            self.sock.setsockopt(zmq.RCVBUF, rcvbuf)
        self.sock.connect(gw.producers)
        self.frames = []  # (frame, monotonic arrival)

    async def send(self, msg):
        raw = msg if isinstance(msg, bytes) else msgpack.packb(msg)
        await self.sock.send(raw)
        return time.monotonic()

    async def recv(self, timeout=10):
        """The next frame other than progress (revision 7: hints, which
        test_progress.py checks; they are still kept in frames)."""
        while True:
            if not await self.sock.poll(scaled(timeout) * 1000):
                raise AssertionError(f"producer: nothing within "
                                     f"{scaled(timeout)} s; got "
                                     f"{self.frames[-10:]}")
            f = msgpack.unpackb(await self.sock.recv())
            self.frames.append((f, time.monotonic()))
            if f.get("type") != "progress":
                return f

    async def collect(self, req_id, timeout=20):
        """Every frame of req_id received (also before this call) through
        its done or request error, as (frame, time)."""
        def ended(f):
            return f.get("id") == req_id and (
                f["type"] == "done" or (f["type"] == "error" and "seq" not in f))
        deadline = time.monotonic() + scaled(timeout)
        while not any(ended(f) for f, _ in self.frames):
            await self.recv(max(0.1, deadline - time.monotonic()))
        return [(f, t) for f, t in self.frames if f.get("id") == req_id]

    def close(self):
        self.sock.close(0)


async def producer_request_runs_on_c_workers(h):
    gw = await h.start(workers=[2])
    p = Producer(gw)
    await p.send({"type": "submit", "id": "r1", "task": "echo",
                  "items": [1, "two", {"x": [3.5, None, True]}, b"\x01\x02"]})
    frames = await p.collect("r1")
    # msgpack in, msgpack out: bin stays bin (a JSON client would see
    # base64 text)
    check(check_request(frames, 4) == [1, "two", {"x": [3.5, None, True]},
                                       b"\x01\x02"], f"{frames}")
    await p.send({"type": "ping", "data": {"t": 7}})
    pong = await p.recv()
    check(pong["type"] == "pong" and pong["data"] == {"t": 7}
          and pong["workers"] == 1, f"{pong}")
    p.close()


async def forward_delay_counts_producers_results(h):
    gw = await h.start(workers=[2])
    before = await metric(gw.port, "sluice_forward_delay_seconds_count")
    p = Producer(gw)
    await p.send({"type": "submit", "id": "f1", "task": "echo",
                  "items": list(range(5))})
    check(check_request(await p.collect("f1"), 5) == list(range(5)), "echo")
    after = await metric(gw.port, "sluice_forward_delay_seconds_count")
    check(after - before == 5, f"forward delay counted {after - before} of a "
                               f"producer's 5 results")
    p.close()


async def producer_errors_use_the_client_codes(h):
    gw = await h.start(workers=[1])
    p = Producer(gw)
    cases = [
        (b"\xc1", "bad_msgpack", None),
        ([1, 2], "bad_message", None),
        ({"type": "nope"}, "unknown_type", None),
        ({"type": "submit", "id": "e1", "task": "echo", "items": []},
         "bad_items", "e1"),
        ({"type": "submit", "id": "e2", "task": "nosuchtask", "items": [1]},
         "unknown_task", "e2"),
        ({"type": "cancel", "id": "e3"}, "unknown_id", "e3"),
        ({"type": "submit", "id": "e4", "task": "echo",
          "items": [msgpack.ExtType(1, b"x")]}, "bad_item", "e4"),
    ]
    for msg, code, rid in cases:
        await p.send(msg if isinstance(msg, bytes) else msgpack.packb(msg))
        f = await p.recv()
        check(f["type"] == "error" and f["code"] == code and "seq" not in f
              and f.get("id") == rid, f"{msg!r}: {f}, want {code}")
    # item errors carry seq and the worker's code
    await p.send({"type": "submit", "id": "e5", "task": "burn",
                  "items": ["abc", 1]})
    out = check_request(await p.collect("e5"), 2)
    check(out[0]["code"] == "bad_item" and out[1] == 1, f"{out}")
    p.close()


async def producer_cancel_and_silence_end_its_requests(h):
    gw = await h.start("--producer-timeout-ms", "1000", workers=[1])
    p = Producer(gw)
    await p.send({"type": "submit", "id": "c1", "task": "sleep",
                  "items": [5000, 5000, 5000]})
    check((await p.recv())["type"] == "accepted", "not accepted")
    await asyncio.sleep(0.2)
    await p.send({"type": "cancel", "id": "c1"})
    frames = await p.collect("c1", timeout=5)
    done = frames[-1][0]
    check(done["type"] == "done" and done["cancelled"] == 3, f"{frames}")
    # A silent producer is forgotten and its request cancelled.
    await p.send({"type": "submit", "id": "s1", "task": "sleep",
                  "items": [5000, 5000]})
    check((await p.recv())["type"] == "accepted", "not accepted")
    await wait_log(gw, "PRD-SILENT", timeout=5)
    c = await h.client(gw)
    pong, _ = await c.ping()
    check(pong["queued"] == 0, f"silent producer's jobs still queued: {pong}")
    # what it asks next is a new start: s1 is unknown
    await p.send({"type": "cancel", "id": "s1"})
    f = await p.recv()
    check(f["type"] == "error" and f["code"] == "unknown_id", f"{f}")
    p.close()


async def pinging_producer_keeps_its_request(h):
    gw = await h.start("--producer-timeout-ms", "600", workers=[1])
    p = Producer(gw)
    await p.send({"type": "submit", "id": "k1", "task": "sleep",
                  "items": [400, 400, 400, 400]})
    out, t_end = [], time.monotonic() + scaled(20)
    while not out or out[-1]["type"] != "done":
        check(time.monotonic() < t_end, f"no done: {out}")
        await p.send({"type": "ping"})
        try:
            f = await p.recv(timeout=0.2)
        except AssertionError:
            continue
        if f.get("id") == "k1":
            out.append(f)
    check(out[-1]["ok"] == 4, f"{out}")
    check("PRD-SILENT" not in gw.log(), "a pinging producer was forgotten")
    p.close()


async def big_producer_does_not_starve_a_browser(h):
    gw = await h.start(workers=[2])
    p = Producer(gw)
    tp = await p.send({"type": "submit", "id": "P", "task": "sleep",
                       "items": [300] * 20})
    check((await p.recv())["type"] == "accepted", "not accepted")
    c = await h.client(gw)
    fb, tb = await c.submit_and_collect("B", "sleep", [300] * 2)
    check(check_request(fb, 2) == [300] * 2, f"{fb}")
    # Round-robin: B's 2 items run in the first free slots (~0.3-0.6 s),
    # not after the producer's 20 items (3 s on 2 threads).
    check(fb[-1][1] - tb < scaled(1.5),
          f"browser waited {fb[-1][1] - tb:.2f} s behind the producer")
    fp = await p.collect("P", timeout=30)
    check(check_request(fp, 20) == [300] * 20, "producer request")
    check(fb[-1][1] < fp[-1][1], "browser finished after the producer")
    check(fp[-1][1] - tp >= 2.8, f"20 x 300 ms on 2 threads: {fp[-1][1] - tp}")
    p.close()


async def producers_none_disables_the_endpoint(h):
    gw = await h.gateway("--producers", "none")
    check(gw.producers is None, "harness still thinks it has producers")
    await wait_log(gw, "producers=none")


async def run_example(*argv, timeout=20):
    """Run an example script to completion: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=child_env())
    try:
        out, err = await asyncio.wait_for(proc.communicate(), scaled(timeout))
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{argv} still running after {timeout} s")
    return proc.returncode, out.decode(), err.decode()


async def python_worker_serves_a_task_the_c_workers_lack(h):
    gw = await h.gateway()
    h.worker(gw, 1)
    pw = Proc("pyworker", [sys.executable, os.path.join(EXAMPLES, "worker.py"),
                           "--gateway", gw.endpoint],
              h._log_path("pyworker"))
    h.procs.append(pw)
    await h.wait_workers(gw, 2)
    await wait_log(pw, "registered as w")  # REGISTERED reached it
    c = await h.client(gw)
    out = await c.run("upper", ["abc", "Straße", 7])
    check(out[:2] == ["ABC", "STRASSE"], f"{out}")
    check(out[2]["code"] == "bad_item", f"{out}")
    check(await c.run("echo", [1, "x"]) == [1, "x"], "C worker's echo")
    # heartbeats keep it registered past the gateway's 3 s liveness
    await asyncio.sleep(3.5)
    check(await c.run("upper", ["late"]) == ["LATE"], "after 3.5 s")
    await h.stop(pw)
    await wait_log(gw, "reason=bye")


async def python_producer_is_served_by_c_workers(h):
    gw = await h.start(workers=[2])
    script = os.path.join(EXAMPLES, "producer.py")
    rc, out, err = await run_example(script, "--gateway", gw.producers,
                                     "echo", "1", '"two"', '{"x": [3]}')
    check(rc == 0, f"exit {rc}: {err}")
    lines = [json.loads(line) for line in out.splitlines()]
    check(sorted(f["seq"] for f in lines) == [0, 1, 2], f"{out}")
    check({f["seq"]: f["value"] for f in lines}
          == {0: 1, 1: "two", 2: {"x": [3]}}, f"{out}")
    check('"type": "done"' in err, f"no done on stderr: {err}")
    rc, out, err = await run_example(script, "--gateway", gw.producers,
                                     "burn", '"abc"', "5")
    check(rc == 1, f"a failed item must exit 1, got {rc}: {out} {err}")
    rc, out, err = await run_example(script, "--gateway", gw.producers,
                                     "nosuchtask", "1")
    check(rc == 2 and "unknown_task" in err, f"exit {rc}: {err}")


async def producer_reading_late_loses_nothing(h):
    """Results wait at the gateway for a producer that reads late, up to
    --max-producer-out-bytes (64 MiB, PROTOCOL.md §3), not ZeroMQ's
    default of 1000 frames."""
    # It does not ping while it reads (slowly: collect() rescans every
    # frame), so it must not be forgotten for silence meanwhile.
    gw = await h.start("--producer-timeout-ms", "600000", workers=[2])
    p = Producer(gw, rcvhwm=100)  # little room on our side: it waits there
    reqs, n = 16, 1000  # 16,000 results of ~1 kB: more than TCP buffers
    for r in range(reqs):
        await p.send({"type": "submit", "id": f"late{r}", "task": "echo",
                      "items": ["x" * 1000] * n})
    # not reading while the results pile up at the gateway
    deadline = time.monotonic() + scaled(30)
    # (from /metrics, not REQ-DONE lines: past 10 a second those are only
    # counted, and the count comes a second later, which this producer,
    # silent meanwhile, cannot spare)
    while (await metric(gw.port, "sluice_requests_accepted_total") < reqs
           or await metric(gw.port, "sluice_requests") > 0):
        check(time.monotonic() < deadline, "the requests did not finish")
        check("PRD-GONE" not in gw.log(),
              "the gateway dropped a producer that reads late")
        await asyncio.sleep(0.2)
    for r in range(reqs):
        frames = await p.collect(f"late{r}", timeout=30)
        done = frames[-1][0]
        check(len([f for f, _ in frames if f["type"] == "result"]) == n
              and done["type"] == "done" and done["ok"] == n,
              f"late{r}: {len(frames)} frames, last {done}")
    check("PRD-GONE" not in gw.log(), "the gateway dropped the late reader")
    p.close()


async def producer_reading_slowly_is_held_back_not_cut(h):
    """Results for a producer that does not read for a while: above half
    of --max-producer-out-bytes its jobs wait (backpressure), so its queue
    never passes the cap; once it reads, everything arrives."""
    gw = await h.start("--max-producer-out-bytes", "1048576", workers=[2])
    p = Producer(gw, rcvhwm=1, rcvbuf=65536)
    reqs, n, item = 8, 20, "x" * 50000  # 8 MB of results, cap 1 MiB
    for r in range(reqs):
        await p.send({"type": "submit", "id": f"bp{r}", "task": "echo",
                      "items": [item] * n})
    await wait_log(gw, "CLI-PAUSE", timeout=20)
    await asyncio.sleep(0.5)  # still not reading: nothing is cut
    check("PRD-SLOW" not in gw.log(), "a producer held back was cut")
    for r in range(reqs):
        frames = await p.collect(f"bp{r}", timeout=30)
        check(check_request(frames, n) == [item] * n, f"bp{r}")
    check("PRD-SLOW" not in gw.log() and "PRD-GONE" not in gw.log(),
          "the slow producer was dropped")
    await wait_log(gw, "CLI-RESUME")
    p.close()


def vm_hwm_kib(pid):
    """Peak resident set size of a live process in KiB (VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM for pid {pid}")


async def producer_that_never_reads_is_cut(h):
    """A producer that sends 1 MB pings and never reads: the gateway keeps
    at most --max-producer-out-bytes (64 MiB) queued for it plus a few
    frames in ZeroMQ, cuts it (PRD-SLOW, counted), and serves everybody
    else. Before the byte cap, 800 pongs of 1 MB (800 MB) piled up in
    ZeroMQ's 100000-frame queue."""
    # ASan keeps freed memory in quarantine (256 MB by default): keep it
    # small here, so the peak below measures what the gateway holds.
    asan = os.environ.get("ASAN_OPTIONS", "")
    gw = await h.gateway(env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                              + "quarantine_size_mb=8"})
    h.worker(gw, 1)
    await h.wait_workers(gw, 1)
    base = vm_hwm_kib(gw.pid)
    # little room on our side too, or this process would hold the pongs
    bad = Producer(gw, rcvhwm=1, rcvbuf=65536)
    ping = msgpack.packb({"type": "ping", "data": b"p" * 1000000})
    n, sent_mb = 800, 0
    deadline = time.monotonic() + scaled(60)
    for _ in range(n):
        check(time.monotonic() < deadline, f"only {sent_mb} pings sent")
        await asyncio.wait_for(bad.sock.send(ping), scaled(30))
        sent_mb += 1
    # the gateway has read (and answered) every ping: one more round trip
    # from a well-behaved producer proves it
    good = Producer(gw)
    await good.send({"type": "submit", "id": "g1", "task": "echo",
                     "items": [1, "two", 3]})
    check(check_request(await good.collect("g1"), 3) == [1, "two", 3],
          "the other producer")
    c = await h.client(gw)
    pong, _ = await c.ping()
    check(pong["type"] == "pong", f"{pong}")
    grown_mb = (vm_hwm_kib(gw.pid) - base) / 1024
    print(f"     gateway peak RSS +{grown_mb:.0f} MiB for {sent_mb} MB of "
          f"pings; {gw.log().count('PRD-SLOW')} cuts")
    # 64 MiB queued + 16 frames in each ZeroMQ pipe + socket buffers and
    # allocator slack, against 800 MB without the cap
    check(grown_mb < 320, f"gateway peak RSS grew by {grown_mb:.0f} MiB "
                          f"for {sent_mb} MB of pings never read")
    line = await wait_log(gw, "PRD-SLOW")
    check("--max-producer-out-bytes=67108864" in line, line)
    cut = await metric(gw.port, "sluice_slow_producers_cut_total")
    check(cut >= 1, f"sluice_slow_producers_cut_total {cut}")
    bad.close()
    # the cut producer's queue is gone: nothing stays queued for it once
    # ZeroMQ reports nothing more from it
    deadline = time.monotonic() + scaled(10)
    while await metric(gw.port, "sluice_producer_queued_bytes") > 0:
        check(time.monotonic() < deadline, "bytes still queued to producers")
        await asyncio.sleep(0.1)
    good.close()


def submit_bin(h):
    return os.path.join(os.path.dirname(h.gateway_bin), "sluice-submit")


async def spawn_submit(h, gw, *args, stdin=asyncio.subprocess.DEVNULL):
    return await asyncio.create_subprocess_exec(
        submit_bin(h), "--gateway", gw.producers, *args, stdin=stdin,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=child_env())


async def finish(proc, timeout=20, data=None):
    try:
        out, err = await asyncio.wait_for(proc.communicate(data),
                                          scaled(timeout))
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("sluice-submit still running")
    return proc.returncode, out.decode(), err.decode()


async def sluice_submit_prints_results_and_exit_codes(h):
    gw = await h.start(workers=[2])
    rc, out, err = await finish(await spawn_submit(
        h, gw, "echo", "1", '"a b"', "-3", '{"k":[null]}'))
    check(rc == 0, f"exit {rc}: {err}")
    got = {f["seq"]: f["value"] for f in map(json.loads, out.splitlines())}
    check(got == {0: 1, 1: "a b", 2: -3, 3: {"k": [None]}}, f"{out}")
    check("[" not in err, f"a bar without a terminal: {err!r}")
    # JSON lines on stdin; one failed item: exit 1
    proc = await spawn_submit(h, gw, "burn", stdin=asyncio.subprocess.PIPE)
    rc, out, err = await finish(proc, data=b'10\n"x"\n\n20\n')
    lines = [json.loads(x) for x in out.splitlines()]
    check(rc == 1 and len(lines) == 3, f"exit {rc}: {out} {err}")
    check(sorted((f["seq"], f["type"]) for f in lines)
          == [(0, "result"), (1, "error"), (2, "result")], f"{out}")
    rc, _, err = await finish(await spawn_submit(h, gw, "nosuch", "1"))
    check(rc == 3 and "unknown_task" in err, f"exit {rc}: {err}")
    rc, _, err = await finish(await spawn_submit(h, gw, "echo", "{bad"))
    check(rc == 2, f"bad JSON item: exit {rc}: {err}")
    r = h.run_cli(submit_bin(h), "--help")
    check(r.returncode == 0 and "TASK [ITEM]..." in r.stdout, r.stdout)


async def sluice_submit_at_the_workers_endpoint_fails_fast(h):
    """The gateway answers a producer's frame on its workers endpoint with
    error wrong_endpoint; sluice-submit says so and exits 5 at once
    (before, it waited 15 s in silence and exited 3)."""
    gw = await h.start(workers=[1])
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        submit_bin(h), "--gateway", gw.endpoint, "echo", "1",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=child_env())
    rc, out, err = await finish(proc)
    check(rc == 5 and "workers endpoint" in err and "5556" in err
          and not out, f"exit {rc} after {time.monotonic() - t0:.1f} s: "
                       f"{out!r} {err!r}")
    await wait_log(gw, "answered wrong_endpoint")
    # the workers endpoint still serves its workers
    c = await h.client(gw)
    check(await c.run("echo", [7]) == [7], "echo after the stray producer")
    r = h.run_cli(submit_bin(h), "--help")
    check(r.returncode == 0 and "Exit status:" in r.stdout
          and "\n  5 " in r.stdout, r.stdout)


async def sluice_submit_results_stream(h):
    gw = await h.start(workers=[1])
    proc = await spawn_submit(h, gw, "sleep", "400", "400", "400")
    times = []
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), scaled(10))
        if not line:
            break
        times.append(time.monotonic())
    rc = await proc.wait()
    check(rc == 0 and len(times) == 3, f"exit {rc}, {len(times)} lines")
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g >= 0.25 for g in gaps), f"results bunched: {gaps}")


async def sluice_submit_timeout_and_sigint_cancel(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    t0 = time.monotonic()
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--timeout", "500", "sleep", "200", "5000", "5000"))
    check(rc == 4, f"timeout: exit {rc}: {err}")
    check(time.monotonic() - t0 < scaled(3), "timeout took too long")
    check(len(out.splitlines()) == 1, f"one item done in time: {out}")
    await wait_log(gw, "REQ-CANCEL")
    pong = await wait_pong_idle(c)
    # Ctrl-C: cancel, exit 130
    proc = await spawn_submit(h, gw, "sleep", "100", "5000", "5000")
    await asyncio.wait_for(proc.stdout.readline(), scaled(10))
    proc.send_signal(signal.SIGINT)
    rc, _, err = await finish(proc)
    check(rc == 130 and "interrupted" in err, f"SIGINT: exit {rc}: {err}")
    pong = await wait_pong_idle(c)
    check(gw.log().count("REQ-CANCEL") >= 2, "second cancel not logged")
    check(pong["running"] == 0, f"{pong}")


async def wait_pong_idle(c):
    from harness import wait_pong
    return await wait_pong(c, lambda p: p["queued"] == 0 and p["running"] == 0,
                           timeout=10, what="no jobs left")


async def sluice_submit_draws_a_bar_on_a_terminal(h):
    import pty
    gw = await h.start(workers=[1])
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        submit_bin(h), "--gateway", gw.producers, "sleep", "150", "150",
        "150", "150", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=slave, env=child_env())
    os.close(slave)
    out, _ = await asyncio.wait_for(proc.communicate(), scaled(20))
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    check(proc.returncode == 0, f"exit {proc.returncode}")
    check(len(out.splitlines()) == 4, f"stdout: {out}")
    text = tty.decode("utf-8", "replace")
    check("4/4" in text and "/s" in text and "[#" in text, f"bar: {text!r}")
    check("ETA" in text, f"no ETA while running: {text!r}")


TESTS = [producer_request_runs_on_c_workers,
         producer_errors_use_the_client_codes,
         forward_delay_counts_producers_results,
         producer_cancel_and_silence_end_its_requests,
         pinging_producer_keeps_its_request,
         big_producer_does_not_starve_a_browser,
         producers_none_disables_the_endpoint,
         python_worker_serves_a_task_the_c_workers_lack,
         python_producer_is_served_by_c_workers,
         producer_reading_late_loses_nothing,
         producer_that_never_reads_is_cut,
         producer_reading_slowly_is_held_back_not_cut,
         sluice_submit_prints_results_and_exit_codes,
         sluice_submit_at_the_workers_endpoint_fails_fast,
         sluice_submit_results_stream,
         sluice_submit_timeout_and_sigint_cancel,
         sluice_submit_draws_a_bar_on_a_terminal]

if __name__ == "__main__":
    run(TESTS)
