#!/usr/bin/python3
"""deploy/dev.sh run: Ctrl-C drains, a failed start fails, nothing is left.

dev.sh runs with BUILD_DIR set to the build under test (the one holding
--gateway), so it only checks that the packages are there and that the
build is up to date, then starts that gateway and a worker on free ports.
"""
import asyncio
import os
import re
import signal
import socket
import subprocess
import time

import websockets

from harness import check, child_env, free_port, run, scaled

DEV_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "deploy", "dev.sh")


class DevSh:
    """One `dev.sh run` in its own session and process group, as a
    terminal would start it (its Ctrl-C goes to the whole group)."""

    def __init__(self, h, port=None):
        self.port = port or free_port()
        self.log_path = os.path.join(h.tmpdir, "devsh.log")
        build = os.path.dirname(os.path.dirname(h.gateway_bin))
        env = child_env({
            "BUILD_DIR": build,
            "SLUICE_LISTEN": f"127.0.0.1:{self.port}",
            "SLUICE_WORKERS": f"tcp://127.0.0.1:{free_port()}",
            "SLUICE_PRODUCERS": f"tcp://127.0.0.1:{free_port()}",
            "SLUICE_THREADS": "1",
        })
        # CI=true makes dev.sh configure again; the build under test is
        # configured already (and other tests may be running from it).
        env.pop("CI", None)
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                ["sh", DEV_SH, "run"], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        self.pgid = self.popen.pid
        self.children = []  # the gateway's and worker's pids, from the banner

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    async def wait_up(self, timeout=60):
        """Wait for the banner; return (gateway pid, worker pid)."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            m = re.search(r"gateway pid (\d+) .* worker pid (\d+)", self.log())
            if m:
                self.children = [int(m.group(1)), int(m.group(2))]
                return self.children
            check(self.popen.poll() is None,
                  f"dev.sh exited {self.popen.returncode}:\n{self.log()}")
            check(time.monotonic() < deadline,
                  f"no banner after {scaled(timeout):.0f} s:\n{self.log()}")
            await asyncio.sleep(0.1)

    async def wait_exit(self, timeout=60):
        deadline = time.monotonic() + scaled(timeout)
        while self.popen.poll() is None:
            check(time.monotonic() < deadline,
                  f"dev.sh still running after {scaled(timeout):.0f} s:\n"
                  f"{self.log()}")
            await asyncio.sleep(0.1)
        return self.popen.returncode

    def kill(self):
        """After a failure: nothing of ours may stay."""
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.popen.poll() is None:
            os.killpg(self.pgid, signal.SIGKILL)
            self.popen.wait()


def gone(pid):
    """The process has exited (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def with_devsh(h, body, port=None):
    d = DevSh(h, port)
    try:
        await body(d)
    finally:
        d.kill()


async def interrupt_and_check_drain(d, sig, to_group):
    """A request is running when sig arrives: it completes, the client is
    then closed with 1001, dev.sh exits 0 and both children are gone."""
    gw_pid, cp_pid = await d.wait_up()
    ws = await asyncio.wait_for(websockets.connect(
        f"ws://127.0.0.1:{d.port}/", compression=None), scaled(10))
    frames = []
    try:
        # one thread, 6 items of 300 ms: about 1.8 s of work
        await ws.send('{"type":"submit","id":"r","task":"sleep",'
                      '"items":[300,300,300,300,300,300]}')
        while True:
            f = await asyncio.wait_for(ws.recv(), scaled(20))
            frames.append(f)
            if '"type":"result"' in f:
                break  # running now: interrupt it
        if to_group:
            os.killpg(d.pgid, sig)  # what a terminal's Ctrl-C does
        else:
            os.kill(d.popen.pid, sig)
        try:
            while True:
                frames.append(await asyncio.wait_for(ws.recv(), scaled(20)))
        except websockets.ConnectionClosed:
            pass
        check(ws.close_code == 1001,
              f"closed {ws.close_code} {ws.close_reason!r}, want 1001")
    finally:
        await ws.close()
    results = [f for f in frames if '"type":"result"' in f]
    check(len(results) == 6 and '"type":"done"' in frames[-1]
          and '"ok":6' in frames[-1],
          f"the running request did not finish: {frames}\n{d.log()}")
    rc = await d.wait_exit()
    check(rc == 0, f"dev.sh exited {rc}:\n{d.log()}")
    for pid, name in ((gw_pid, "gateway"), (cp_pid, "worker")):
        check(gone(pid), f"{name} {pid} still running after dev.sh ended")
    log = d.log()
    check(log.count("GW-DRAIN") == 1 and "WRK-STOP" in log,
          f"no single drain, or the worker did not stop:\n{log}")


async def ctrl_c_drains_running_request(h):
    await with_devsh(h, lambda d: interrupt_and_check_drain(
        d, signal.SIGINT, to_group=True))


async def sigint_to_script_alone_stops_both(h):
    await with_devsh(h, lambda d: interrupt_and_check_drain(
        d, signal.SIGINT, to_group=False))


async def sigterm_to_script_alone_stops_both(h):
    await with_devsh(h, lambda d: interrupt_and_check_drain(
        d, signal.SIGTERM, to_group=False))


async def port_in_use_fails_without_banner(h):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]

        async def body(d):
            rc = await d.wait_exit()
            log = d.log()
            check(rc != 0, f"dev.sh exited 0 on a port in use:\n{log}")
            check("already in use" in log, f"no 'already in use' in:\n{log}")
            check("gateway pid" not in log and "worker pid" not in log,
                  f"banner printed for a failed start:\n{log}")
        await with_devsh(h, body, port)


run([ctrl_c_drains_running_request, sigint_to_script_alone_stops_both,
     sigterm_to_script_alone_stops_both, port_in_use_fails_without_banner])
