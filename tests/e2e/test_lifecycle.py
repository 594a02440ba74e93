#!/usr/bin/python3
"""Start-up order, queueing without workers, command line, shutdown."""
import asyncio
import os
import re
import signal
import socket
import time

from harness import (check, check_request, free_port, run, scaled, wait_log,
                     wait_registered)


async def worker_started_first_connects_later(h):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    w = h.worker(endpoint, 1)
    await asyncio.sleep(0.3)  # scenario, not synchronisation: it is retrying
    check(w.running(), f"worker exited without a gateway:\n{w.log()}")
    gw = await h.gateway(endpoint=endpoint)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    check(await c.run("echo", ["hi"]) == ["hi"], "echo")
    # The gateway acknowledges READY (REGISTERED): the worker says once
    # where it registered, under the label the gateway's log uses for it.
    label = await wait_registered(gw, w)
    line = await wait_log(w, "WRK-REGISTERED")
    check(line.startswith("N: ") and f"gateway={endpoint} " in line
          and "threads=1 " in line and line.endswith(f"as={label}"),
          f"registration line: {line}")
    check(w.log().count("WRK-REGISTERED") == 1, f"more than once:\n{w.log()}")


async def worker_ignores_message_types_it_does_not_know(h):
    """A newer gateway may send types this worker does not know: it drops
    them quietly (debug level) and carries on. A fake gateway here."""
    import msgpack
    import zmq
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    try:
        w = h.worker(endpoint, 1)
        loop = asyncio.get_running_loop()

        def recv(kind, timeout):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if sock.poll(50):
                    rid, data = sock.recv_multipart()
                    frame = msgpack.unpackb(data)
                    if frame[1] == kind:
                        return rid, frame
            raise AssertionError(f"no {kind} from the worker")

        rid, _ = await loop.run_in_executor(None, recv, "READY", scaled(10))
        for frame in ([1, "HELLO", {"from": "the future"}],
                      [1, "REGISTERED", {"worker": "w1", "extra": [1]}],
                      [1, "JOB", {"job": 5, "task": "echo", "item": "a"}]):
            sock.send_multipart([rid, msgpack.packb(frame)])
        _, res = await loop.run_in_executor(None, recv, "RESULT", scaled(10))
        check(res[2].get("job") == 5 and res[2].get("value") == "a",
              f"{res}")
        await wait_log(w, "WRK-REGISTERED")
        check("IO-BADMSG" not in w.log(),
              f"an unknown type was treated as an error:\n{w.log()}")
        await h.stop(w)
    finally:
        sock.close()


async def request_waits_for_first_worker(h):
    gw = await h.gateway()
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("z1", "echo", [1, 2])
    acc, _ = await c.wait_frame(lambda f: f["type"] == "accepted", mark,
                                what="accepted")
    check(acc["workers"] == 0 and acc["items"] == 2, f"{acc}")
    pong, _ = await c.ping("q")
    check(pong["workers"] == 0 and pong["queued"] == 2, f"{pong}")
    check(not c.since(mark, "z1")[1:], "results without a worker")
    h.worker(gw, 1)
    frames = await c.collect("z1", mark)
    check(check_request(frames, 2) == [1, 2], f"{frames}")
    pong, _ = await c.ping()
    check(pong["workers"] == 1 and pong["queued"] == 0, f"{pong}")


async def help_and_version(h):
    for binary, name, opts in [(h.gateway_bin, "sluice-gateway", ["--listen", "--workers"]),
                               (h.compute_bin, "sluice-compute", ["--gateway", "--threads"])]:
        r = h.run_cli(binary, "--help")
        check(r.returncode == 0, f"{name} --help exit {r.returncode}: {r.stderr}")
        for word in ["Usage", name, *opts]:
            check(word in r.stdout, f"{name} --help lacks {word}:\n{r.stdout}")
        r = h.run_cli(binary, "--version")
        check(r.returncode == 0, f"{name} --version exit {r.returncode}: {r.stderr}")
        check(re.search(rf"{name} \d+\.\d+\.\d+", r.stdout), f"{name}: {r.stdout!r}")


async def bad_options_are_refused(h):
    gw, cp = h.gateway_bin, h.compute_bin
    cases = [  # (binary, args, env, option the message must name)
        (gw, ["--listen", "nonsense"], {}, "listen"),
        (gw, ["--listen", "127.0.0.1:99999"], {}, "listen"),
        (gw, ["--max-frame-bytes", "100"], {}, "max-frame-bytes"),
        (gw, ["--max-items", "0"], {}, "max-items"),
        (gw, ["--max-requests", "ten"], {}, "max-requests"),
        (gw, ["--log-level", "loud"], {}, "log-level"),
        (gw, ["--workers"], {}, "workers"),
        (gw, ["--no-such-option"], {}, "no-such-option"),
        (gw, [], {"SLUICE_MAX_ITEMS": "abc"}, "SLUICE_MAX_ITEMS"),
        (gw, [], {"SLUICE_LISTEN": "nonsense"}, "listen"),
        (cp, ["--threads", "1025"], {}, "threads"),  # 0 means one per core
        (cp, ["--threads", "-1"], {}, "threads"),
        (cp, ["--log-level", "loud"], {}, "log-level"),
        (cp, ["--no-such-option"], {}, "no-such-option"),
        (cp, [], {"SLUICE_THREADS": "abc"}, "SLUICE_THREADS"),
        (cp, [], {"SLUICE_GATEWAY": ""}, "SLUICE_GATEWAY"),
    ]
    wrong = []
    for binary, args, env, option in cases:
        what = f"{binary.rsplit('/', 1)[-1]} {' '.join(args)} {env or ''}"
        try:
            r = h.run_cli(binary, *args, env=env, timeout=5)
        except AssertionError as e:  # it ran: the value was accepted
            wrong.append(str(e))
            continue
        if r.returncode <= 0 or option not in r.stderr:
            wrong.append(f"{what}: exit {r.returncode}, stderr {r.stderr!r}, "
                         f"want non-zero and a message naming {option}")
    check(not wrong, "\n".join(wrong))


async def option_rules_name_the_rule_broken(h):
    cases = [  # (args, what the message must say, what it must not)
        (["--ws-ping-secs", "30", "--ws-hangup-secs", "30"],
         ["--ws-hangup-secs (30)", "--ws-ping-secs (30)"], "out-"),
        (["--out-low-bytes", "1048576"],
         ["--out-low-bytes (1048576)", "--out-high-bytes (1048576)"], "ws-"),
        (["--out-high-bytes", "8388608"],
         ["--out-high-bytes (8388608)", "--max-out-bytes (8388608)"], "low"),
    ]
    wrong = []
    for args, want, not_named in cases:
        r = h.run_cli(h.gateway_bin, *args, "--producers", "none")
        if (r.returncode != 2 or not all(w in r.stderr for w in want)
                or not_named in r.stderr):
            wrong.append(f"{args}: exit {r.returncode}, {r.stderr!r}; want "
                         f"{want}, no {not_named!r}")
    check(not wrong, "\n".join(wrong))


async def port_in_use_is_named(h):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = h.run_cli(h.gateway_bin, "--listen", f"127.0.0.1:{port}",
                      "--workers", f"tcp://127.0.0.1:{free_port()}",
                      "--producers", "none")
    check(r.returncode == 1 and f"127.0.0.1 port {port} is already in use"
          in r.stderr, f"exit {r.returncode}: {r.stderr[-600:]!r}")


async def http_get(port, path):
    """(status line, body) of a GET on the gateway's port."""
    rd, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Connection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(rd.read(), scaled(10))
    w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode().split("\r\n")[0], body.decode("utf-8", "replace")


async def counts_are_spelled_right(h):
    gw = await h.gateway()
    w = h.worker(gw, None)  # 0: one thread per core
    await h.wait_workers(gw, 1)
    line = await wait_log(w, "CFG")
    cores = os.sysconf("SC_NPROCESSORS_ONLN")
    check(f" threads={cores} " in line, f"want threads={cores}: {line}")
    status, body = await http_get(gw.port, "/readyz")
    check(status.endswith("200 OK") and body.startswith("ready: 1 worker,"),
          f"{status}: {body!r}")


async def not_found_page_has_its_stylesheet(h):
    gw = await h.gateway()
    status, body = await http_get(gw.port, "/no-such-page")
    check(" 404" in status and 'href="/error.css"' in body, f"{status} {body!r}")
    status, body = await http_get(gw.port, "/error.css")
    check(status.endswith("200 OK") and "body" in body, f"{status} {body!r}")


async def options_come_from_the_environment(h):
    # The command line wins over the environment.
    gw = await h.gateway("--max-requests", "3", env={"SLUICE_MAX_ITEMS": "2",
                                                     "SLUICE_MAX_REQUESTS": "1"})
    h.worker(gw, None, env={"SLUICE_THREADS": "3", "SLUICE_GATEWAY": "tcp://127.0.0.1:1"})
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    frames, _ = await c.submit_and_collect("i3", "echo", [1, 2, 3])
    check(frames[0][0].get("code") == "too_many_items", f"SLUICE_MAX_ITEMS=2: {frames}")
    mark = c.mark()
    for req_id in ("t1", "t2", "t3"):  # three requests, one item each
        await c.submit(req_id, "sleep", [2000])
    await c.wait_frame(lambda f: f.get("id") == "t3", mark, what="t3")
    # SLUICE_THREADS=3: all three run at once, none is queued.
    pong, _ = await c.ping()
    check(pong["queued"] == 0, f"3 threads should hold 3 jobs: {pong}")
    for req_id in ("t1", "t2", "t3"):
        check(check_request(await c.collect(req_id, mark), 1) == [2000], req_id)


async def client_leaving_mid_request_harms_no_one(h):
    gw = await h.start(workers=[2])
    gone = await h.client(gw)
    mark = gone.mark()
    await gone.submit("g1", "sleep", [300] * 6)
    await gone.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    await gone.close()
    c = await h.client(gw)
    check(await c.run("sleep", [400, 400]) == [400, 400], "after a client left")
    pong, _ = await c.ping()
    check(pong["queued"] == 0, f"the departed client's jobs are still queued: {pong}")


async def stopping_a_busy_worker_loses_no_item(h):
    gw = await h.gateway()
    w1, _ = h.worker(gw, 1), h.worker(gw, 1)
    await h.wait_workers(gw, 2)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("k1", "sleep", [1000] * 4)
    await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    await h.stop(w1)  # it holds a job
    frames = await c.collect("k1", mark, timeout=30)
    # Each item ends exactly once: run (again, elsewhere) or cancelled.
    for out in check_request(frames, 4):
        check(out == 1000 or (isinstance(out, dict) and out["code"] == "cancelled"),
              f"{frames}")


async def a_crashed_workers_items_run_elsewhere(h):
    gw = await h.gateway()
    w1, _ = h.worker(gw, 1), h.worker(gw, 1)
    await h.wait_workers(gw, 2)
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("x1", "sleep", [1000] * 4)
    await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    w1.kill()  # SIGKILL while it holds a job: found dead, the job requeued
    frames = await c.collect("x1", mark, timeout=30)
    check(check_request(frames, 4) == [1000] * 4, f"{frames}")
    await h.wait_workers(gw, 1)


async def sigterm_with_clients_and_work_exits_cleanly(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("s1", "sleep", [1500])
    await c.wait_frame(lambda f: f["type"] == "accepted", mark, what="accepted")
    await h.stop(gw)
    await c.wait_closed()
    # Shutdown drains: the running request ended before the connection.
    check(check_request(c.since(mark, "s1"), 1) == [1500], f"{c.since(mark)}")
    # The worker outlives its gateway and still stops cleanly (stop_all).


async def drain_without_a_worker_ends_at_once(h):
    """SIGTERM with a request that no worker is left to run: waiting out
    --drain-ms (30 s here) would help nobody, so clients hear 1001 now."""
    gw = await h.gateway("--drain-ms", "30000")
    c = await h.client(gw)
    mark = c.mark()
    await c.submit("d1", "echo", [1, 2])
    acc, _ = await c.wait_frame(lambda f: f["type"] == "accepted", mark,
                                what="accepted")
    check(acc["workers"] == 0, f"{acc}")
    t0 = time.monotonic()
    os.kill(gw.pid, signal.SIGTERM)
    await c.wait_closed(timeout=10)
    check(c.ws.close_code == 1001, f"closed with {c.ws.close_code} "
                                   f"{c.ws.close_reason!r}, want 1001")
    waited = time.monotonic() - t0
    check(waited < scaled(10), f"clients told after {waited:.1f} s")
    await wait_log(gw, "no worker can run them")
    deadline = time.monotonic() + scaled(10)
    while gw.running():
        check(time.monotonic() < deadline, "gateway still draining")
        await asyncio.sleep(0.02)
    check(gw.popen.returncode == 0, f"exit {gw.popen.returncode}")
    gw.stopped = True


async def sigint_stops_both(h):
    gw = await h.gateway()
    w = h.worker(gw, 2)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    check(await c.run("sleep", [10]) == [10], "sleep")
    await h.stop(w, signal.SIGINT)
    await h.wait_workers(gw, 0)  # it said goodbye
    await h.stop(gw, signal.SIGINT)


run([worker_started_first_connects_later,
     worker_ignores_message_types_it_does_not_know,
     request_waits_for_first_worker,
     help_and_version, bad_options_are_refused, option_rules_name_the_rule_broken,
     port_in_use_is_named, counts_are_spelled_right,
     not_found_page_has_its_stylesheet, options_come_from_the_environment,
     client_leaving_mid_request_harms_no_one, stopping_a_busy_worker_loses_no_item,
     a_crashed_workers_items_run_elsewhere,
     sigterm_with_clients_and_work_exits_cleanly,
     drain_without_a_worker_ends_at_once, sigint_stops_both])
