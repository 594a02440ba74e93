#!/usr/bin/python3
"""sluice on a three-node Docker Swarm on one machine, a node lost mid-request.

The host's engine is the manager (it runs HAProxy, published on a free
port); two more nodes are extra `dockerd` daemons, each in a network
namespace of its own (`nsenter --net`, own config file, data root, exec
root, vfs storage, cgroup parent), joined to the host by a bridge (and an
iptables DOCKER-USER rule letting the bridge forward to itself). The images
move with `docker save | docker load`. Gateways run on the two extra nodes
(one each), workers on all three.

A client submits through HAProxy; mid-request the node running its gateway
dies: its dockerd is killed (-9), with its containerd, shims and
containers. HAProxy closes the client's connection (the gateway is marked
down), the client reconnects, lands on the other gateway, and submits the
missing items with their `seqs`: every item exactly once. The manager marks
the node down and reschedules its tasks.

Everything made is removed in every exit path: the stack, the swarm,
daemons (by PID), mounts under their roots, their data, namespaces, veths,
the bridge, the iptables rule, the cgroups. Needs root, iproute2, iptables,
nsenter; not root: skipped (exit 77), or a failure with CI=true.
`ctest -L swarm-multi`; part of `deploy/dev.sh test` (about 2 minutes).

Usage: test_swarm_multi.py [--top CHECKOUT] [--keep-going]
"""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import swarmlib as sw
from swarmlib import arun, check, run, say, scaled, wait_until

NODES = 2  # extra nodes beside the host's engine
CGROUP = "/sys/fs/cgroup"
LAB_DIR = "/var/tmp"  # the nodes' data roots: sluice-swarm-PID/


def subnet():
    """A /24 under 192.168.0.0/16 no route of the host's uses."""
    routes = run(["ip", "-4", "route"], timeout=10).stdout
    for _ in range(50):
        third = random.randint(160, 250)
        if f"192.168.{third}." not in routes:
            return f"192.168.{third}"
    raise AssertionError(f"no free 192.168.x.0/24: {routes}")


def mountpoints_under(prefixes):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp == p or mp.startswith(p + "/") for p in prefixes):
                out.append(mp)
    return out


def netns_inode(path):
    return os.stat(path).st_ino


class Node:
    """One extra dockerd in a network namespace."""

    def __init__(self, lab, i):
        self.lab, self.i = lab, i
        self.name = f"{lab.tag}n{i}"
        self.ns = f"/var/run/netns/{self.name}"
        self.addr = f"{lab.net}.{10 + i}"
        self.root = os.path.join(lab.dir, self.name)  # data root, config
        self.exec_root = f"/run/{self.name}"
        self.sock = f"/run/{self.name}.sock"
        self.docker = f"docker -H unix://{self.sock}"
        self.proc = None
        self.killed = False

    def host_veth(self):
        return f"{self.name}h"

    def setup_net(self):
        ip = ["ip"]
        run([*ip, "netns", "add", self.name], timeout=10)
        self.lab.made.append(("netns", self.name))
        run([*ip, "link", "add", self.host_veth(), "type", "veth", "peer", "name",
             f"{self.name}c"], timeout=10)
        self.lab.made.append(("link", self.host_veth()))
        run([*ip, "link", "set", f"{self.name}c", "netns", self.name], timeout=10)
        run([*ip, "link", "set", self.host_veth(), "master", self.lab.bridge, "up"],
            timeout=10)
        nsx = ["ip", "-n", self.name]
        run([*nsx, "link", "set", "lo", "up"], timeout=10)
        run([*nsx, "link", "set", f"{self.name}c", "name", "eth0"], timeout=10)
        run([*nsx, "addr", "add", f"{self.addr}/24", "dev", "eth0"], timeout=10)
        run([*nsx, "link", "set", "eth0", "up"], timeout=10)
        run([*nsx, "route", "add", "default", "via", f"{self.lab.net}.1"], timeout=10)

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        cfg = os.path.join(self.root, "daemon.json")
        with open(cfg, "w") as f:
            json.dump({"log-driver": "json-file"}, f)
        self.log = os.path.join(self.root, "dockerd.log")
        argv = ["nsenter", f"--net={self.ns}", "dockerd",
                "--config-file", cfg,
                "--data-root", os.path.join(self.root, "data"),
                "--exec-root", self.exec_root,
                "--pidfile", os.path.join(self.root, "dockerd.pid"),
                "-H", f"unix://{self.sock}",
                "--storage-driver", "vfs",
                "--cgroup-parent", self.name]
        with open(self.log, "wb") as log:
            # nsenter execs dockerd: the PID is the daemon's
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.lab.made.append(("node", self.name))

    def wait_up(self):
        deadline = time.monotonic() + scaled(60)
        while True:
            r = run([*self.docker.split(), "version", "-f", "{{.Server.Version}}"],
                    timeout=30, check_rc=False)
            if r.returncode == 0:
                return
            check(self.proc.poll() is None,
                  f"{self.name}: dockerd exited {self.proc.returncode}: "
                  f"{open(self.log).read()[-3000:]}")
            check(time.monotonic() < deadline, f"{self.name}: dockerd not up")
            time.sleep(0.5)

    def pids(self):
        """Every process of this node: those in its network namespace
        (dockerd, containerd, shims) and in its cgroups (containers)."""
        pids = set()
        try:
            ino = netns_inode(self.ns)
        except OSError:
            ino = None
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                if ino and os.stat(f"/proc/{p}/ns/net").st_ino == ino:
                    pids.add(int(p))
            except OSError:
                pass
        for ctl in ("pids", "memory"):
            top = os.path.join(CGROUP, ctl, self.name)
            for d, _, files in os.walk(top):
                if "cgroup.procs" in files:
                    try:
                        with open(os.path.join(d, "cgroup.procs")) as f:
                            pids.update(int(x) for x in f.read().split())
                    except OSError:
                        pass
        pids.discard(os.getpid())
        return pids

    def kill(self):
        """The node dies at once: dockerd -9 first, then everything else of
        it (containerd, shims, containers), until none is left."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        check(not self.pids(), f"{self.name}: processes left {self.pids()}")
        self.killed = True

    def remove(self):
        """Kill, unmount, delete its files and cgroups."""
        self.kill()
        for mp in sorted(mountpoints_under([self.root, self.exec_root]),
                         key=len, reverse=True):
            run(["umount", "-l", mp], timeout=30, check_rc=False)
        left = mountpoints_under([self.root, self.exec_root])
        check(not left, f"{self.name}: mounts left {left}")
        for path in (self.exec_root, self.sock):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(self.root, ignore_errors=True)
        for ctl in os.listdir(CGROUP):
            top = os.path.join(CGROUP, ctl, self.name)
            for d, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


class Lab:
    """The bridge, the iptables rule and the nodes; remove() undoes all."""

    def __init__(self, pid=None):
        """The lab of this process, or (pid) the one an earlier run left."""
        pid = pid or os.getpid()
        self.tag = f"slsw{pid}"  # interface names: at most 15 bytes
        self.bridge = f"{self.tag}br"
        self.net = subnet() if pid == os.getpid() else None
        self.dir = os.path.join(LAB_DIR, f"sluice-swarm-{pid}")
        self.rule = ["DOCKER-USER", "-i", self.bridge, "-o", self.bridge,
                     "-j", "ACCEPT"]
        self.made = []  # ("netns"|"link"|"rule"|"bridge"|"node", name)
        self.nodes = [Node(self, i + 1) for i in range(NODES)]

    def setup(self):
        os.makedirs(self.dir)
        run(["ip", "link", "add", self.bridge, "type", "bridge"], timeout=10)
        self.made.append(("bridge", self.bridge))
        run(["ip", "addr", "add", f"{self.net}.1/24", "dev", self.bridge], timeout=10)
        run(["ip", "link", "set", self.bridge, "up"], timeout=10)
        run(["iptables", "-I", *self.rule], timeout=10)
        self.made.append(("rule", None))
        for n in self.nodes:
            n.setup_net()
            n.start()
        for n in self.nodes:
            n.wait_up()

    def remove(self):
        errors = []
        for n in self.nodes:
            try:
                if ("node", n.name) in self.made:
                    n.remove()
            except BaseException as e:
                errors.append(f"{n.name}: {e}")
        for kind, name in reversed(self.made):
            if kind == "netns":
                run(["ip", "netns", "del", name], timeout=10, check_rc=False)
            elif kind in ("link", "bridge"):
                run(["ip", "link", "del", name], timeout=10, check_rc=False)
            elif kind == "rule":
                run(["iptables", "-D", *self.rule], timeout=10, check_rc=False)
        links = run(["ip", "-br", "link"], timeout=10).stdout
        netns = run(["ip", "netns", "list"], timeout=10).stdout
        rules = run(["iptables", "-S", "DOCKER-USER"], timeout=10).stdout
        if self.tag in links or self.tag in netns or self.bridge in rules:
            errors.append(f"left: links {links!r} netns {netns!r} rules {rules!r}")
        shutil.rmtree(self.dir, ignore_errors=True)
        check(not errors, "; ".join(errors))

    @classmethod
    def sweep_stale(cls):
        """Remove the labs of earlier runs whose process is gone (a ctest
        timeout kills without clean-up): found by their names."""
        names = run(["ip", "netns", "list"], timeout=10).stdout.split()
        names += run(["ip", "-br", "link"], timeout=10).stdout.split()
        pids = {int(m.group(1)) for m in
                (re.match(r"slsw(\d+)(?:br|n\d+h?)(?:@\S*)?$", x) for x in names) if m}
        for pid in sorted(pids):
            if sw.pid_alive(pid):
                continue
            say(f"removing the lab of an earlier run (pid {pid}) that is gone")
            lab = cls(pid)
            lab.made = ([("bridge", lab.bridge), ("rule", None)]
                        + [(k, n.name if k != "link" else n.host_veth())
                           for n in lab.nodes for k in ("netns", "link", "node")])
            lab.remove()


async def join_nodes(lab, swarm, images, st_log):
    token = swarm.join_token()
    for n in lab.nodes:
        t0 = time.monotonic()
        await arun(["bash", "-o", "pipefail", "-c",
                    f"docker save {' '.join(images)} | {n.docker} load -q"],
                   timeout=scaled(600), log=st_log)
        await arun([*n.docker.split(), "swarm", "join", "--token", token,
                    "--advertise-addr", n.addr, f"{lab.net}.1:2377"], timeout=120)
        say(f"{n.name} ({n.addr}) joined, images loaded, {time.monotonic() - t0:.0f} s")
        nid = (await arun([*n.docker.split(), "info", "-f", "{{.Swarm.NodeID}}"],
                          timeout=30)).stdout.strip()
        await arun(["docker", "node", "update", "--label-add", "sluice=gateway", nid],
                   timeout=60)
        n.node_id = nid

    async def all_ready():
        r = await arun(["docker", "node", "ls", "--format", "{{.Status}}"], timeout=30)
        states = r.stdout.split()
        check(states == ["Ready"] * (NODES + 1), f"nodes: {states}")
        return True
    await wait_until(all_ready, 60, "every node Ready", interval=1)


async def gateways_ready(lab, st, n):
    """n gateway tasks running on the extra nodes, each /readyz 200 with
    every worker (NODES + 1, one connection from each to each gateway)."""
    async def probe():
        states = []
        for node in lab.nodes:
            if node.killed:
                continue
            for cid in await st.containers("gateway", node.docker):
                states.append(await st.gateway_ready(cid, node.docker))
        check(len(states) == n
              and all(s.startswith(f"ready: {NODES + 1} workers,") for s in states),
              f"/readyz of gateways: {states}")
        return states
    return await wait_until(probe, 120, f"{n} ready gateways", interval=1)


async def lose_a_node_mid_request(lab, st, features):
    await gateways_ready(lab, st, NODES)
    await st.wait_lb_ready()
    lost = []

    async def kill(gw_ip):
        for node in lab.nodes:
            for cid in await st.containers("gateway", node.docker):
                if await st.ip_of(cid, node.docker) == gw_ip:
                    say(f"killing node {node.name}: dockerd pid {node.proc.pid}, "
                        f"its gateway {gw_ip}")
                    await asyncio.to_thread(node.kill)
                    lost.append(node)
                    return
        raise AssertionError(f"no node runs gateway {gw_ip}")

    t0 = time.monotonic()
    ledger, gw1, gw2, before = await sw.resumable_request(st, 24, kill, features)
    check(lost, "no node was lost")
    say(f"every item once: {before} from {gw1} (node lost), {24 - before} from "
        f"{gw2}, {time.monotonic() - t0:.1f} s")

    async def node_down():
        r = await arun(["docker", "node", "inspect", lost[0].node_id, "-f",
                        "{{.Status.State}}"], timeout=30)
        check(r.stdout.strip() == "down", f"lost node: {r.stdout.strip()}")
        return True
    await wait_until(node_down, 60, "the lost node marked down", interval=1)
    say(f"manager marked {lost[0].name} down "
        f"{time.monotonic() - t0:.0f} s after the request started")

    # Its tasks run elsewhere: every worker replica on a live node, and a
    # new request through HAProxy is served.
    async def rescheduled():
        tasks = await st.running_tasks("compute")
        nodes = list(tasks.values())
        check(len(nodes) == NODES + 1 and lost[0].node_id not in nodes,
              f"compute tasks on nodes {nodes}, lost {lost[0].node_id}")
        return nodes
    await wait_until(rescheduled, 90, "the lost node's worker rescheduled", interval=1)
    await sw.echo_request(st)
    say(f"worker rescheduled, a new request served, "
        f"{time.monotonic() - t0:.0f} s after the request started")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", default=os.path.normpath(os.path.join(sw.HERE, "..", "..")))
    args = ap.parse_args()
    top = os.path.abspath(args.top)
    version, why = sw.engine_version()
    if not version:
        sw.cannot_run("swarm.multi", f"no Docker engine ({why})")
    for tool in ("ip", "iptables", "nsenter", "dockerd"):
        if not shutil.which(tool):
            print(f"swarm: FAIL: {tool} missing (deploy/dev.sh deps installs "
                  f"iproute2 and iptables)")
            sys.exit(1)
    if os.geteuid() != 0:
        # Like a missing engine: skipped, but never under CI.
        sw.cannot_run("swarm.multi", "not root: network namespaces and dockerd need root")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # finally: clean up
    features = sw.protocol_features(top)
    tag = sw.image_tag(top)
    Lab.sweep_stale()
    lab = Lab()
    log = os.path.join(tempfile.gettempdir(), f"sluice-swarm-{os.getpid()}.log")
    swarm = sw.Swarm()
    st = sw.Stack(top, tag, log, gateways=NODES, workers=NODES + 1)
    st.env_extra = {"SLUICE_GATEWAY_CONSTRAINT": "node.labels.sluice == gateway"}
    images = []
    steps = [
        ("images", lambda: asyncio.to_thread(
            lambda: images.extend(sw.build_images(top, tag, log))), 1300),
        ("nodes_up", lambda: asyncio.to_thread(lab.setup), 180),
        ("swarm_init", lambda: asyncio.to_thread(swarm.init, f"{lab.net}.1"), 180),
        ("nodes_join", lambda: join_nodes(lab, swarm, images, log), 900),
        ("deploy", lambda: asyncio.to_thread(st.deploy), 200),
        ("lose_a_node_mid_request", lambda: lose_a_node_mid_request(lab, st, features),
         400),
    ]
    say(f"engine {version}; bridge {lab.bridge} {lab.net}.0/24; documented: {features}")

    def on_fail():
        print(f"---- swarm.log (tail) ----\n{sw.tail(log, 3000)}")
        for n in lab.nodes:
            print(f"---- {n.name} dockerd.log (tail) ----\n"
                  f"{sw.tail(os.path.join(n.root, 'dockerd.log'), 2000)}")
        if st.deployed:
            st.dump_logs()

    def remove_log():
        if os.path.exists(log):
            os.unlink(log)
    sw.run_steps(steps, [("stack rm", st.remove), ("swarm leave", swarm.leave),
                         ("nodes removed", lab.remove), ("log removed", remove_log)],
                 on_fail)

if __name__ == "__main__":
    main()
