#!/usr/bin/python3
"""Resume on the same gateway: a client whose TCP connection is cut (no
close frame: an RST) takes its request over from a new connection with
the token from accepted and the seqs it holds, and gets every other item
exactly once, none computed twice; a wrong token is unknown_request; a
request nobody resumes is cancelled after --resume-ms and its workers are
free again; hostile resumes (a flood, a huge have, bad tokens, a guessed
token for someone else's request) are refused. Real gateway and workers
on loopback."""

import asyncio
import socket
import struct

import websockets

from harness import (Client, check, log_count, metric, run, scaled, wait_log,
                     wait_pong)


async def cuttable(h, gw, cls=Client, subprotocols=None):
    """A client on a socket of our own, so that the test can cut it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect(("127.0.0.1", gw.port))
    sock.setblocking(False)
    ws = await asyncio.wait_for(websockets.connect(
        gw.url, sock=sock, compression=None, max_size=None,
        subprotocols=subprotocols), scaled(10))
    c = cls(ws)
    c.sock = sock
    h.clients.append(c)
    return c


def cut(h, c):
    """End c's TCP connection with an RST: no close frame, no FIN."""
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.ws.transport.abort()
    c._reader.cancel()
    h.clients.remove(c)


async def labelled(port, line_start):
    """The value of the /metrics line that starts with line_start."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Connection: close\r\n\r\n")
    body = await asyncio.wait_for(r.read(), scaled(10))
    w.close()
    for line in body.decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {line_start} in /metrics")


def seqs(frames, req_id):
    return [f["seq"] for f, _ in frames
            if f.get("id") == req_id and f["type"] in ("result", "error")
            and "seq" in f]


async def accepted(c, req_id, mark):
    f, _ = await c.wait_frame(
        lambda f: f.get("id") == req_id and f["type"] in ("accepted", "error"),
        mark, what=f"accepted {req_id}")
    check(f["type"] == "accepted", f"{f}")
    tok = f.get("resume")
    check(isinstance(tok, str) and len(tok) == 32
          and all(ch in "0123456789abcdef" for ch in tok),
          f"accepted without a 128-bit hex resume token: {f}")
    return tok


async def resume(c, req_id, token, have=(), timeout=20):
    """Send resume; frames of req_id up to its done or a refusal."""
    mark = c.mark()
    await c.send({"type": "resume", "id": req_id, "token": token,
                  "have": list(have)})
    return await c.collect(req_id, mark, timeout)


async def cut_mid_request_resumes_exactly_once(h):
    gw = await h.gateway("--resume-ms", str(int(scaled(20) * 1000)),
                         "--log-level", "debug")
    h.worker(gw, 2)
    await h.wait_workers(gw, 1)
    n = 12
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.submit("r1", "sleep", [250] * n)
    tok = await accepted(a, "r1", mark)
    await a.wait_frame(lambda f: f.get("id") == "r1" and f["type"] == "result"
                       and len(seqs(a.frames[mark:], "r1")) >= 3,
                       mark, what="3 results")
    have = seqs(a.since(mark), "r1")
    cut(h, a)
    await wait_log(gw, "REQ-DETACH req=r1")
    # Results finish while nobody is connected: they wait in the log.
    await asyncio.sleep(0.6)
    b = await h.client(gw)
    frames = await resume(b, "r1", tok, have)
    kinds = [f["type"] for f, _ in frames]
    check("accepted" not in kinds and kinds[-1] == "done", f"{kinds}")
    got = seqs(frames, "r1")
    check(len(got) == len(set(got)), f"an item twice on the resume: {got}")
    check(not set(got) & set(have), f"an item the client had: {got} {have}")
    check(sorted(got + have) == list(range(n)), f"missing: {got} {have}")
    done = frames[-1][0]
    check(done["ok"] == n and done["failed"] == 0, f"{done}")
    # None computed twice: each item's job went out once, none requeued.
    check(log_count(gw, "JOB-SENT") == n,
          f"{log_count(gw, 'JOB-SENT')} jobs sent for {n} items")
    check(await metric(gw.port, "sluice_jobs_requeued_total") == 0, "requeued")
    check(await labelled(gw.port, 'sluice_items_total{outcome="ok"}') == n,
          "items ok")
    check(await metric(gw.port, "sluice_resumed_total") == 1, "resumed")
    check(await metric(gw.port, "sluice_detached_requests") == 0, "detached")
    # Finished: its token is spent.
    frames = await resume(b, "r1", tok)
    check(frames[-1][0].get("code") == "unknown_request", f"{frames}")


async def finished_while_away_replays_all_then_done(h):
    gw = await h.start("--resume-ms", str(int(scaled(20) * 1000)),
                       workers=(2,))
    a = await cuttable(h, gw)
    mark = a.mark()
    # 5 x 300 ms on 2 threads: still running at the cut (echo items could
    # all finish before it, and a finished request is not resumable), done
    # well before the resume.
    await a.submit("f1", "sleep", [300] * 5)
    tok = await accepted(a, "f1", mark)
    cut(h, a)
    await asyncio.sleep(scaled(2.5))
    b = await h.client(gw)
    frames = await resume(b, "f1", tok, [4])
    check(sorted(seqs(frames, "f1")) == [0, 1, 2, 3], f"{frames}")
    check(frames[-1][0]["type"] == "done" and frames[-1][0]["ok"] == 5,
          f"{frames}")


async def wrong_token_is_unknown_request(h):
    gw = await h.start("--resume-ms", str(int(scaled(20) * 1000)),
                       workers=(2,))
    a = await h.client(gw)
    mark = a.mark()
    await a.submit("w1", "sleep", [400] * 4)
    tok = await accepted(a, "w1", mark)
    b = await h.client(gw)
    guesses = ["0" * 32, tok[:-1] + ("0" if tok[-1] != "0" else "1"),
               tok[:16], tok + "0", "x" * 128]
    answers = []
    for req_id, t in [("w1", g) for g in guesses] + [("nosuch", tok)]:
        frames = await resume(b, req_id, t)
        f = frames[-1][0]
        check(f["type"] == "error" and f["code"] == "unknown_request"
              and f["id"] == req_id, f"{req_id} {t}: {f}")
        answers.append(f["message"])
    check(len(set(answers)) == 1, f"answers differ: {answers}")
    # A bad token is a bad message; the request is untouched.
    for t in ["x" * 129, "", 7]:
        frames = await resume(b, "w1", t)
        check(frames[-1][0]["code"] == "bad_message", f"{frames}")
    frames = await a.collect("w1", mark)
    check(sorted(seqs(frames, "w1")) == [0, 1, 2, 3], f"{frames}")
    check(not b.since(0, "w1") or all(
        f["type"] == "error" and "seq" not in f for f, _ in b.since(0, "w1")),
        "the guesser got the owner's results")


async def takeover_of_an_open_connection(h):
    gw = await h.start("--resume-ms", str(int(scaled(20) * 1000)),
                       workers=(2,))
    a = await h.client(gw)
    mark = a.mark()
    await a.submit("t1", "sleep", [300] * 8)
    tok = await accepted(a, "t1", mark)
    await a.wait_frame(lambda f: f.get("id") == "t1" and f["type"] == "result",
                       mark, what="a result")
    have = seqs(a.since(mark), "t1")
    b = await h.client(gw)
    frames = await resume(b, "t1", tok, have)
    got = seqs(frames, "t1")
    check(len(got) == len(set(got)) and not set(got) & set(have)
          and sorted(got + have) == list(range(8)), f"{got} {have}")
    check(not [f for f, _ in a.since(mark, "t1") if f["type"] == "done"],
          "the old connection got done too")
    check(await a.ping(), "the old connection is still open")


async def unresumed_request_expires_and_frees_workers(h):
    gw = await h.start("--resume-ms", "1000", workers=(2,))
    c = await h.client(gw)
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.submit("e1", "sleep", [20000] * 4)
    tok = await accepted(a, "e1", mark)
    await wait_pong(c, lambda p: p["running"] == 2, what="2 running")
    cut(h, a)
    await wait_log(gw, "REQ-DETACH req=e1")
    # Still running while the window lasts, ...
    pong, _ = await c.ping()
    check(pong["running"] == 2, f"{pong}")
    # ... then cancelled, its workers told to stop.
    await wait_log(gw, "REQ-EXPIRE req=e1", timeout=5)
    await wait_pong(c, lambda p: p["running"] == 0 and p["queued"] == 0,
                    timeout=3, what="workers free after the expiry")
    check(await metric(gw.port, "sluice_resume_expired_total") == 1, "expired")
    frames = await resume(c, "e1", tok)
    check(frames[-1][0]["code"] == "unknown_request", f"{frames}")
    check(await c.run("sleep", [100, 100]) == [100, 100], "workers busy")


async def resume_ms_0_cancels_on_a_cut(h):
    gw = await h.start("--resume-ms", "0", workers=(2,))
    c = await h.client(gw)
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.submit("z1", "sleep", [20000] * 2)
    f, _ = await a.wait_frame(lambda f: f["type"] == "accepted", mark)
    check("resume" not in f, f"a token with --resume-ms 0: {f}")
    await wait_pong(c, lambda p: p["running"] == 2, what="2 running")
    cut(h, a)
    await wait_pong(c, lambda p: p["running"] == 0, timeout=3,
                    what="workers free after the cut")


async def hostile_resumes_are_refused(h):
    gw = await h.start("--resume-ms", "20000", "--max-items", "100",
                       "--max-requests", "4", workers=(1,))
    c = await h.client(gw)
    # A huge have: more seqs than a request may have items, or past them.
    frames = await resume(c, "h1", "t" * 32, range(101))
    check(frames[-1][0]["code"] == "too_many_items", f"{frames[-1]}")
    frames = await resume(c, "h1", "t" * 32, [-1])
    check(frames[-1][0]["code"] == "bad_message", f"{frames[-1]}")
    frames = await resume(c, "h1", "t" * 32, ["0"])
    check(frames[-1][0]["code"] == "bad_message", f"{frames[-1]}")
    # A flood: past --max-requests + 16 resumes a connection is refused
    # without a lookup; the connection itself stays fine.
    mark = c.mark()
    for _ in range(4 + 16):
        await c.send({"type": "resume", "id": "h2", "token": "t" * 32})
    await c.wait_frame(lambda f: len([g for g, _ in c.since(mark, "h2")
                                      if g.get("code") == "unknown_request"])
                       == 20, mark, what="20 unknown_request")
    codes = []
    for _ in range(5):
        frames = await resume(c, "h2", "t" * 32)
        codes.append(frames[-1][0]["code"])
    check(codes == ["too_many_resumes"] * 5, f"{codes}")
    check(await c.run("echo", [1]) == [1], "connection unusable")
    check(await metric(gw.port, "sluice_resume_refused_total") >= 25,
          "refusals not counted")


async def over_the_resume_buffer_a_request_is_no_longer_resumable(h):
    gw = await h.start("--resume-ms", "20000", "--max-resume-bytes", "4096",
                       workers=(1,))
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.submit("b1", "echo", ["y" * 1000] * 8)
    tok = await accepted(a, "b1", mark)
    await a.collect("b1", mark)
    await wait_log(gw, "RESUME-FULL req=b1")
    check(await metric(gw.port, "sluice_resume_full_total") >= 1, "counted")
    check(await metric(gw.port, "sluice_resume_bytes") == 0, "bytes kept")
    # Cut while a second request runs: it cannot be resumed past the
    # budget, so it ends with the connection.
    mark = a.mark()
    await a.submit("b2", "echo", ["y" * 1000] * 8)
    tok = await accepted(a, "b2", mark)
    await wait_log(gw, "RESUME-FULL req=b2")
    cut(h, a)
    c = await h.client(gw)
    frames = await resume(c, "b2", tok)
    check(frames[-1][0]["code"] == "unknown_request", f"{frames}")


async def a_resume_counts_against_the_new_clients_limits(h):
    gw = await h.start("--resume-ms", str(int(scaled(20) * 1000)),
                       "--max-requests", "1", workers=(2,))
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.submit("l1", "sleep", [300] * 4)
    tok = await accepted(a, "l1", mark)
    cut(h, a)
    await wait_log(gw, "REQ-DETACH req=l1")
    b = await h.client(gw)
    mark = b.mark()
    await b.submit("l2", "sleep", [300])
    await accepted(b, "l2", mark)
    # b has its one request: taking l1 over would make two.
    frames = await resume(b, "l1", tok)
    check(frames[-1][0]["code"] == "too_many_requests", f"{frames}")
    await b.collect("l2", mark)
    frames = await resume(b, "l1", tok)
    check(sorted(seqs(frames, "l1")) == [0, 1, 2, 3]
          and frames[-1][0]["type"] == "done", f"{frames}")


async def msgpack_clients_resume_too(h):
    from test_msgpack_ws import MSGPACK, MsgpackClient
    gw = await h.start("--resume-ms", str(int(scaled(20) * 1000)),
                       workers=(2,))
    a = await cuttable(h, gw, MsgpackClient, [MSGPACK])
    mark = a.mark()
    await a.submit("m1", "sleep", [200] * 6)
    tok = await accepted(a, "m1", mark)
    await a.wait_frame(lambda f: f.get("id") == "m1" and f["type"] == "result",
                       mark, what="a result")
    have = seqs(a.since(mark), "m1")
    cut(h, a)
    b = await cuttable(h, gw, MsgpackClient, [MSGPACK])
    frames = await resume(b, "m1", tok, have)
    got = seqs(frames, "m1")
    check(sorted(got + have) == list(range(6)) and not set(got) & set(have),
          f"{got} {have}")
    check(frames[-1][0]["type"] == "done", f"{frames}")


async def the_gateway_stops_with_detached_requests(h):
    """SIGTERM with a request detached (one finished, one running): the
    gateway drains and exits 0, freeing both (valgrind.e2e checks)."""
    gw = await h.start("--resume-ms", "60000", workers=(2,))
    a = await cuttable(h, gw)
    mark = a.mark()
    await a.submit("s1", "sleep", [10])
    await a.submit("s2", "sleep", [300, 300])
    await accepted(a, "s1", mark)
    await accepted(a, "s2", mark)
    cut(h, a)
    await wait_log(gw, "REQ-DETACH req=s2")
    check(await metric(gw.port, "sluice_detached_requests") >= 1, "detached")


if __name__ == "__main__":
    run([cut_mid_request_resumes_exactly_once,
         finished_while_away_replays_all_then_done,
         wrong_token_is_unknown_request, takeover_of_an_open_connection,
         unresumed_request_expires_and_frees_workers,
         resume_ms_0_cancels_on_a_cut, hostile_resumes_are_refused,
         over_the_resume_buffer_a_request_is_no_longer_resumable,
         a_resume_counts_against_the_new_clients_limits,
         msgpack_clients_resume_too,
         the_gateway_stops_with_detached_requests])
