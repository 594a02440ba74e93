#!/usr/bin/python3
"""Tasks from a shared object: sluice-compute --plugin (compute/sluice_task.h).

The example plugin (compute/examples/reverse_task.c, built as
libsluice_reverse.so; ctest passes its path in SLUICE_TEST_PLUGIN) adds
"reverse" and "count" to the built-in tasks.
"""
import asyncio
import os

from harness import check, run, scaled

PLUGIN = os.environ.get("SLUICE_TEST_PLUGIN", "")
# The same source built for task API 1: an old plugin binary.
PLUGIN_V1 = os.environ.get("SLUICE_TEST_PLUGIN_V1", "")


async def plugin_tasks_run_beside_the_built_ins(h):
    check(os.path.exists(PLUGIN), f"no plugin at {PLUGIN!r} (SLUICE_TEST_PLUGIN)")
    gw = await h.gateway()
    h.worker(gw, 1, "--plugin", PLUGIN)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    out = await c.run("reverse", ["abc", "", "sluice", 5])
    check(out[:3] == ["cba", "", "eciuls"], f"reverse: {out}")
    check(out[3]["code"] == "bad_item", f"a bad item: {out[3]}")
    check(await c.run("echo", [1, "x"]) == [1, "x"], "built-ins gone")
    # a long plugin task checks for cancellation like the built-ins
    mark = c.mark()
    await c.submit("cn", "count", [60000])
    await c.wait_frame(lambda f: f["type"] == "accepted", mark)
    await asyncio.sleep(0.3)
    await c.send({"type": "cancel", "id": "cn"})
    done, _ = await c.wait_frame(lambda f: f["type"] == "done", mark)
    check(done.get("cancelled") == 1, f"cancel: {done}")
    deadline = asyncio.get_running_loop().time() + scaled(3)
    while True:
        pong, _ = await c.ping()
        if pong["running"] == 0:
            break
        check(asyncio.get_running_loop().time() < deadline,
              "the plugin task did not stop on CANCEL")
        await asyncio.sleep(0.05)


async def a_version_1_plugin_still_loads_and_runs(h):
    check(os.path.exists(PLUGIN_V1),
          f"no plugin at {PLUGIN_V1!r} (SLUICE_TEST_PLUGIN_V1)")
    gw = await h.gateway()
    h.worker(gw, 1, "--plugin", PLUGIN_V1)
    await h.wait_workers(gw, 1)
    c = await h.client(gw)
    check(await c.run("reverse", ["abc"]) == ["cba"], "v1 reverse")
    check(await c.run("count", [20]) == [20], "v1 count")


async def a_bad_plugin_stops_the_worker_at_start(h):
    missing = os.path.join(h.tmpdir, "nope.so")
    r = h.run_cli(h.compute_bin, "--plugin", missing)
    check(r.returncode == 2 and "--plugin" in r.stderr, f"missing: {r}")
    # the same tasks twice: duplicate names are refused
    r = h.run_cli(h.compute_bin, "--plugin", f"{PLUGIN},{PLUGIN}")
    check(r.returncode == 2 and "duplicate" in r.stderr, f"twice: {r}")
    # not a plugin at all (no sluice_tasks symbol): libc will do
    r = h.run_cli(h.compute_bin, "--plugin", "libc.so.6")
    check(r.returncode == 2 and "sluice_tasks" in r.stderr, f"libc: {r}")


run([plugin_tasks_run_beside_the_built_ins,
     a_version_1_plugin_still_loads_and_runs,
     a_bad_plugin_stops_the_worker_at_start])
