#!/usr/bin/python3
"""Inside an item where a person looks (issue 19 part 4): sluice-submit
shows each running item's progress (a line per progress frame with
--progress lines, or on its bar) and prints partial values as they
arrive; the Python worker example (deploy/examples/worker.py) reports
progress and partial values of a long item, which reach the client, stays
registered while it runs, and stops it on cancel. The page's side is in
test_page.py."""
import asyncio
import json
import os
import re
import sys
import time

from harness import Proc, check, check_request, run, scaled, wait_log
from test_open_queue import EXAMPLES, finish, spawn_submit


def progress_lines(err, req_id="submit"):
    """(seq, fraction, text) of each `progress ID SEQ FRACTION [TEXT]`
    line on stderr."""
    out = []
    for line in err.splitlines():
        m = re.fullmatch(rf"progress {req_id} (\d+) ([01]\.\d{{4}})(?: (.*))?",
                         line)
        if m:
            out.append((int(m[1]), float(m[2]), m[3]))
    return out


async def sluice_submit_prints_progress_lines_and_partials(h):
    gw = await h.start(workers=[1])
    t0 = time.monotonic()
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--progress", "lines", "burn", "1500"))
    check(rc == 0, f"exit {rc}: {err}")
    lines = [json.loads(x) for x in out.splitlines()]
    check([(f["type"], f["seq"], f["value"]) for f in lines]
          == [("result", 0, 1500)], f"{out}")
    prog = progress_lines(err)
    values = [v for _, v, _ in prog]
    print(f"e2e: {len(prog)} progress lines in "
          f"{time.monotonic() - t0:.2f} s: {values}")
    check(len(prog) >= 5 and all(s == 0 for s, _, _ in prog)
          and all(a < b for a, b in zip(values, values[1:])),
          f"progress lines: {err!r}")
    check("[" not in err, f"a bar with --progress lines: {err!r}")
    # Partial values: JSON lines on stdout, in order, before the result.
    rc, out, err = await finish(await spawn_submit(
        h, gw, "partials", '{"n":5,"ms":1000}', '{"n":2,"ms":10}'))
    check(rc == 0, f"exit {rc}: {err}")
    lines = [json.loads(x) for x in out.splitlines()]
    for seq, n in ((0, 5), (1, 2)):
        mine = [f for f in lines if f["seq"] == seq]
        check([(f["type"], f.get("index"), f["value"]) for f in mine]
              == [("partial", i, i) for i in range(n)]
              + [("result", None, n)], f"seq {seq}: {out}")
    # --partials no: the results alone
    rc, out2, err = await finish(await spawn_submit(
        h, gw, "--partials=no", "partials", '{"n":3,"ms":10}'))
    check(rc == 0 and [json.loads(x)["type"] for x in out2.splitlines()]
          == ["result"], f"exit {rc}: {out2} {err}")
    # --have: a partial line does not mean its item ended.
    have = os.path.join(h.tmpdir, "have")
    with open(have, "w") as f:
        f.write(json.dumps({"type": "partial", "id": "submit", "seq": 0,
                            "index": 0, "value": 0}) + "\n")
        f.write(json.dumps({"type": "result", "id": "submit", "seq": 1,
                            "value": 2}) + "\n")
    rc, out3, err = await finish(await spawn_submit(
        h, gw, "--have", have, "--partials=no", "partials",
        '{"n":1,"ms":10}', '{"n":2,"ms":10}'))
    check(rc == 0 and [(json.loads(x)["seq"], json.loads(x)["value"])
                       for x in out3.splitlines()] == [(0, 1)],
          f"--have with a partial line: exit {rc}: {out3} {err}")
    r = h.run_cli(os.path.join(os.path.dirname(h.gateway_bin),
                               "sluice-submit"), "--help")
    check("auto,yes,no,lines" in r.stdout and "--partials" in r.stdout
          and "SLUICE_SUBMIT_PARTIALS" in r.stdout, r.stdout)


async def sluice_submit_bar_shows_running_items(h):
    """--progress yes: the bar (drawn as on a terminal) carries the running
    item's percentage while it runs, and a final line without it."""
    gw = await h.start(workers=[1])
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--progress", "yes", "burn", "1500", "10"))
    check(rc == 0, f"exit {rc}: {err}")
    draws = [d for d in re.split(r"\r", err) if d.startswith("[")]
    running = [d for d in draws if re.search(r"\] 0/2 .* #0 \d+%", d)]
    pcts = [int(m) for d in running for m in re.findall(r"#0 (\d+)%", d)]
    check(len(set(pcts)) >= 3 and pcts == sorted(pcts),
          f"the bar did not show #0 advancing: {draws}")
    final = draws[-1]
    check(final.startswith("[" + "#" * 30 + "] 2/2") and "#0" not in final,
          f"final bar: {final!r}")
    check(len(out.splitlines()) == 2, f"{out}")


def start_pyworker(h, gw):
    pw = Proc("pyworker", [sys.executable, os.path.join(EXAMPLES, "worker.py"),
                           "--gateway", gw.endpoint],
              h._log_path("pyworker"))
    h.procs.append(pw)
    return pw


async def python_worker_reports_progress_and_partials(h):
    gw = await h.gateway()
    pw = start_pyworker(h, gw)
    await h.wait_workers(gw, 1)
    await wait_log(pw, "registered as w1 (progress)")  # revision 7 gateway
    c = await h.client(gw)
    mark = c.mark()
    # 4 s: longer than the gateway's 3 s liveness, so the worker's
    # heartbeats must go on while the item runs.
    await c.send({"type": "submit", "id": "u", "task": "upper_slowly",
                  "items": [{"text": "sluice", "ms": 4000}, "x"],
                  "timing": True})
    frames = await c.collect("u", mark, timeout=30)
    out = check_request(frames, 2)
    check(out[0] == "SLUICE" and out[1]["code"] == "bad_item", f"{out}")
    mine = [f for f, _ in frames if f.get("seq") == 0]
    end = [f["type"] for f in mine].index("result")
    parts = [f for f in mine[:end] if f["type"] == "partial"]
    check([(f["index"], f["value"]) for f in parts]
          == list(enumerate("SLUICE")), f"partials: {parts}")
    prog = [f for f in mine[:end] if f["type"] == "progress"]
    values = [f["progress"] for f in prog]
    check(len(prog) >= 3 and all(a < b for a, b in zip(values, values[1:]))
          and all(re.fullmatch(r"[1-6]/6 characters", f["text"])
                  for f in prog), f"progress: {prog}")
    check(not [f for f in mine[end:] if f["type"] in ("progress", "partial")],
          f"after the result: {mine[end:]}")
    check(mine[end]["attempts"] == 1 and mine[end]["worker"] == "w1",
          f"the item ran twice (heartbeats stopped?): {mine[end]}")
    # A cancel stops a long item at its next step.
    mark = c.mark()
    await c.send({"type": "submit", "id": "k", "task": "upper_slowly",
                  "items": [{"text": "abcdefghij", "ms": 20000}]})
    await c.wait_frame(lambda f: f.get("id") == "k"
                       and f["type"] == "partial", mark, timeout=10)
    t0 = time.monotonic()
    await c.send({"type": "cancel", "id": "k"})
    done, _ = await c.wait_frame(lambda f: f.get("id") == "k"
                                 and f["type"] == "done", mark, timeout=10)
    check(done.get("cancelled") == 1 and time.monotonic() - t0 < scaled(5),
          f"{done} after {time.monotonic() - t0:.1f} s")
    check(await c.run("upper_slowly", [{"text": "ok", "ms": 10}]) == ["OK"],
          "the worker serves on after a cancel")
    # sluice-submit shows the worker's progress and its text.
    rc, out, err = await finish(await spawn_submit(
        h, gw, "--progress", "lines", "upper_slowly",
        '{"text":"abc","ms":900}'))
    check(rc == 0 and [json.loads(x)["value"] for x in out.splitlines()]
          == ["A", "B", "C", "ABC"], f"exit {rc}: {out} {err}")
    texts = [t for _, _, t in progress_lines(err)]
    check(texts and all(re.fullmatch(r"[123]/3 characters", t)
                        for t in texts), f"progress lines: {err!r}")
    await h.stop(pw)
    await wait_log(gw, "reason=bye")


run([sluice_submit_prints_progress_lines_and_partials,
     sluice_submit_bar_shows_running_items,
     python_worker_reports_progress_and_partials])
