#!/usr/bin/python3
"""Who may connect: bearer tokens and Origin at the WebSocket handshake
(401/403 before any 101), TLS on the listener, CURVE + ZAP on the workers
endpoint. Real gateway and workers on loopback."""

import asyncio
import base64
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time

import websockets

from harness import (Client, check, check_request, free_port, run, scaled,
                     wait_log, wait_registered, worker_labels)

TOK_A = "e2e-token-alpha-0123456789"
TOK_B = "e2e-token-bravo+/=9876543210"  # needs percent-encoding in a URL


def raw_upgrade(port, path="/", headers=(), timeout=10):
    """Send a WebSocket upgrade by hand; read until the server closes the
    connection (or, after a 101, until the response head is complete).
    Returns (status code, lower-cased header dict, body bytes, closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
    with sock:
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        buf, closed = b"", False
        while True:
            if b"\r\n\r\n" in buf and buf.split(b" ", 2)[1] == b"101":
                break
            chunk = sock.recv(4096)
            if not chunk:
                closed = True
                break
            buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    check(lines and lines[0].startswith("HTTP/1."), f"no HTTP status: {buf!r}")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body, closed


async def refused(port, status, path="/", headers=()):
    """Assert the handshake is answered with status and the connection
    closed, never upgraded; return the response headers."""
    got, hdrs, body, closed = await asyncio.to_thread(
        raw_upgrade, port, path, headers)
    check(got == status, f"{path} {headers}: status {got}, want {status}")
    check(closed, "connection left open after a refusal")
    check(int(hdrs.get("content-length", -1)) == len(body),
          f"body does not match its length: {hdrs} {body!r}")
    return hdrs


async def connect(h, gw, path="/", headers=None, origin=None, ssl_ctx=None,
                  scheme="ws"):
    ws = await asyncio.wait_for(websockets.connect(
        f"{scheme}://127.0.0.1:{gw.port}{path}", extra_headers=headers,
        origin=origin, ssl=ssl_ctx, compression=None), scaled(10))
    c = Client(ws)
    h.clients.append(c)
    return c


async def echo_works(c, n=3):
    frames, _ = await c.submit_and_collect(c.new_id(), "echo", list(range(n)))
    check(check_request(frames, n) == list(range(n)), f"echo: {frames}")


def http_get(port, path, headers=()):
    """(status, body) of a plain HTTP GET."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(10)) as s:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  f"{extra}\r\n".encode())
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def tokens_gate_the_handshake(h):
    path = os.path.join(h.tmpdir, "tokens")
    with open(path, "w") as f:
        f.write(f"# e2e\n\n{TOK_A}\n")
    gw = await h.gateway("--tokens-file", path, "--metrics-token",
                         env={"SLUICE_TOKENS": TOK_B})
    h.worker(gw, 1)
    # missing, wrong, wrong scheme, right token in the wrong place: 401
    for headers, why in [((), "no_token"),
                         ((("Authorization", "Bearer " + TOK_A + "x"),), "bad_token"),
                         ((("Authorization", "Basic " + TOK_A),), "no_token"),
                         ((("X-Token", TOK_A),), "no_token")]:
        hdrs = await refused(gw.port, 401, headers=headers)
        check(hdrs.get("www-authenticate", "").startswith("Bearer"),
              f"401 without a Bearer challenge: {hdrs}")
        await wait_log(gw, f"reason={why}")
    await refused(gw.port, 401, path="/?access_token=nope-nope-nope-nope")
    await refused(gw.port, 401, path="/?token=" + TOK_A)
    # the websockets library sees the same refusal
    try:
        await connect(h, gw)
        raise AssertionError("connected without a token")
    except websockets.InvalidStatusCode as e:
        check(e.status_code == 401, f"status {e.status_code}")
    # the right tokens: header (file) and query parameter (env), both work
    c = await connect(h, gw, headers={"Authorization": "Bearer " + TOK_A})
    await echo_works(c)
    q = "/?x=1&access_token=" + TOK_B.replace("+", "%2B").replace(
        "/", "%2F").replace("=", "%3D")
    c2 = await connect(h, gw, path=q)
    await echo_works(c2)
    pong, _ = await c2.ping()
    check(pong["workers"] == 1, f"pong {pong}")
    # health stays open; /metrics wants the token here
    st, body = await asyncio.to_thread(http_get, gw.port, "/healthz")
    check(st == 200, f"/healthz not open: {st} {body!r}")
    check((await asyncio.to_thread(http_get, gw.port, "/metrics"))[0] == 401,
          "/metrics open without a token")
    st, body = await asyncio.to_thread(
        http_get, gw.port, "/metrics", (("Authorization", "Bearer " + TOK_B),))
    check(st == 200, f"/metrics with a token: {st}")
    check(b'sluice_clients_denied_total{reason="token"}' in body, "no counter")
    log = gw.log()
    check(TOK_A not in log and TOK_B not in log and "nope-nope" not in log,
          "a token reached the log")
    check("tokens=(set)" in log, "CFG line does not redact SLUICE_TOKENS")


async def origin_allow_list(h):
    gw = await h.gateway("--allow-origins",
                         "https://good.example, http://localhost:8080")
    h.worker(gw, 1)
    hdrs = await refused(gw.port, 403, headers=(("Origin", "https://evil.example"),))
    check("www-authenticate" not in hdrs, "403 with a Bearer challenge")
    await refused(gw.port, 403, headers=(("Origin", "https://good.example.evil"),))
    await wait_log(gw, 'reason=bad_origin origin="https://evil.example"')
    try:
        await connect(h, gw, origin="http://localhost:8081")
        raise AssertionError("connected from an origin not on the list")
    except websockets.InvalidStatusCode as e:
        check(e.status_code == 403, f"status {e.status_code}")
    c = await connect(h, gw, origin="https://GOOD.example")
    await echo_works(c)
    c2 = await connect(h, gw)  # no Origin: a non-browser client, allowed
    await c2.ping()
    gw2 = await h.gateway("--allow-origins", "https://good.example",
                          "--allow-no-origin=no")
    await refused(gw2.port, 403)
    await connect(h, gw2, origin="https://good.example")


async def origin_and_token_together(h):
    gw = await h.gateway("--allow-origins", "https://good.example",
                         env={"SLUICE_TOKENS": TOK_A})
    # a bad origin is refused whatever the token; a good one still needs it
    await refused(gw.port, 403, headers=(("Origin", "https://evil.example"),
                                         ("Authorization", "Bearer " + TOK_A)))
    await refused(gw.port, 401, headers=(("Origin", "https://good.example"),))
    c = await connect(h, gw, origin="https://good.example",
                      headers={"Authorization": "Bearer " + TOK_A})
    await c.ping()


async def tls_listener(h):
    cert, key = (os.path.join(h.tmpdir, n) for n in ("cert.pem", "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=scaled(30))
    gw = await h.gateway("--tls-cert", cert, "--tls-key", key,
                         env={"SLUICE_TOKENS": TOK_A})
    h.worker(gw, 1)
    ctx = ssl.create_default_context(cafile=cert)
    c = await connect(h, gw, scheme="wss", ssl_ctx=ctx,
                      headers={"Authorization": "Bearer " + TOK_A})
    await echo_works(c)
    # the certificate is not trusted by default: verification fails
    try:
        await connect(h, gw, scheme="wss", ssl_ctx=ssl.create_default_context())
        raise AssertionError("self-signed certificate accepted by default")
    except ssl.SSLCertVerificationError:
        pass
    # TLS comes before the token check: a TLS client without one gets 401
    try:
        await connect(h, gw, scheme="wss", ssl_ctx=ctx)
        raise AssertionError("TLS client without a token connected")
    except websockets.InvalidStatusCode as e:
        check(e.status_code == 401, f"status {e.status_code}")
    # plain ws:// on the TLS port does not get a WebSocket
    try:
        await connect(h, gw, headers={"Authorization": "Bearer " + TOK_A})
        raise AssertionError("plain WebSocket on the TLS port")
    except (websockets.InvalidHandshake, ConnectionError, EOFError,
            asyncio.TimeoutError):
        pass
    # half-configured TLS does not start
    r = h.run_cli(h.gateway_bin, "--tls-cert", cert, *_free_endpoints())
    check(r.returncode != 0 and "go together" in r.stderr + r.stdout,
          f"--tls-cert alone: {r}")


def keypair(h, name):
    """(public key, secret file) made by sluice-compute --gen-keypair."""
    path = os.path.join(h.tmpdir, name + ".key")
    r = h.run_cli(h.compute_bin, "--gen-keypair", "--curve-secret-file", path)
    check(r.returncode == 0, f"--gen-keypair: {r}")
    pub = r.stdout.split()[1]
    check(len(pub) == 40, f"public key {pub!r}")
    check(os.stat(path).st_mode & 0o777 == 0o600, "secret file not 0600")
    check(pub not in open(path).read().splitlines()[-1], "secret = public?")
    r = h.run_cli(h.compute_bin, "--gen-keypair", "--curve-secret-file", path)
    check(r.returncode != 0, "--gen-keypair overwrote a secret file")
    return pub, path


async def workers_count(c):
    pong, _ = await c.ping()
    return pong["workers"]


async def curve_workers(h):
    gw_pub, gw_sec = keypair(h, "gateway")
    ok_pub, ok_sec = keypair(h, "good")
    bad_pub, bad_sec = keypair(h, "bad")
    clients = os.path.join(h.tmpdir, "clients")
    with open(clients, "w") as f:
        f.write(f"# allowed workers\n{ok_pub} worker-good\n")
    gw = await h.gateway("--curve-secret-file", gw_sec,
                         "--curve-clients-file", clients)
    check(gw_pub in await wait_log(gw, "GW-CURVE"), "server key not logged")
    curve = ("--curve-server-key", gw_pub)
    bad = h.worker(gw, 1, "--id", "bad", *curve, "--curve-secret-file", bad_sec)
    plain = h.worker(gw, 1, "--id", "plain")
    line = await wait_log(gw, "WRK-DENIED")
    check(f"key={bad_pub[:8]}..." in line and bad_pub not in line,
          f"denial line: {line}")
    good = h.worker(gw, 1, "--id", "good", *curve, "--curve-secret-file",
                    ok_sec)
    await wait_registered(gw, good)
    c = await connect(h, gw)
    await echo_works(c, 5)
    # the others stay out: for three heartbeat intervals, one worker only
    for _ in range(30):
        check(await workers_count(c) == 1, "an unlisted worker registered")
        await asyncio.sleep(0.1)
    check(not worker_labels(gw, bad) and not worker_labels(gw, plain),
          "a denied worker registered")
    check(bad.running() and plain.running(), "a denied worker exited")
    # each says what to check: the gateway never answered it
    line = await wait_log(plain, "never answered")
    check("--curve-server-key" in line, f"plain worker's hint: {line}")
    line = await wait_log(bad, "never answered")
    check("allow-list" in line, f"CURVE worker's hint: {line}")
    # a worker with the wrong server key cannot even finish the handshake
    other_pub, _ = keypair(h, "other")
    wrongsrv = h.worker(gw, 1, "--id", "wrongsrv", "--curve-server-key",
                        other_pub, "--curve-secret-file", ok_sec)
    await asyncio.sleep(scaled(1.5))
    check(await workers_count(c) == 1, "a worker with a wrong server key in")
    check(not worker_labels(gw, wrongsrv), "wrongsrv registered")


async def curve_misconfiguration_fails_closed(h):
    _, sec = keypair(h, "gateway")
    # CURVE without an allow-list would admit any key: refused at start
    r = h.run_cli(h.gateway_bin, "--curve-secret-file", sec,
                  *_free_endpoints())
    check(r.returncode != 0 and "go together" in r.stderr + r.stdout,
          f"secret without clients: {r}")
    bad = os.path.join(h.tmpdir, "clients")
    with open(bad, "w") as f:
        f.write("not-a-key\n")
    r = h.run_cli(h.gateway_bin, "--curve-secret-file", sec,
                  "--curve-clients-file", bad, *_free_endpoints())
    check(r.returncode != 0 and ":1: not a Z85" in r.stderr + r.stdout,
          f"bad clients file: {r}")
    r = h.run_cli(h.compute_bin, "--curve-server-key", "short")
    check(r.returncode == 2, f"worker with a bad server key: {r}")


async def insecure_binds_are_warned_about(h):
    gw = await h.gateway(endpoint=f"tcp://0.0.0.0:{free_port()}")
    await wait_log(gw, "GW-INSECURE workers=tcp://0.0.0.0")
    check("GW-INSECURE listen" not in gw.log(), "loopback listener warned")
    gw2 = await h.gateway("--tokens", TOK_A)
    check("GW-INSECURE" not in gw2.log(), f"warned on loopback: {gw2.log()}")


def listening_addresses(port):
    """The addresses something listens on at TCP port, from /proc/net."""
    found = []
    for path, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(path).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            hexaddr, hexport = local.split(":")
            if state != "0A" or int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(hexaddr)  # 32-bit words, host order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            addr = (ipaddress.IPv6Address(raw) if v6
                    else ipaddress.IPv4Address(raw))
            found.append(addr.ipv4_mapped or addr if v6 else addr)
    return found


async def listener_binds_only_the_address_given(h):
    # the default, loopback, must not be reachable from other hosts
    gw = await h.gateway()
    addrs = listening_addresses(gw.port)
    check(addrs and all(a.is_loopback for a in addrs),
          f"--listen 127.0.0.1 listens on {addrs}")
    c = await connect(h, gw)
    check((await c.ping())[0]["type"] == "pong", "no pong")
    # an address no interface has: refused at start, never widened
    r = h.run_cli(h.gateway_bin, "--listen", f"10.255.255.254:{free_port()}",
                  "--workers", f"tcp://127.0.0.1:{free_port()}",
                  "--producers", "none")
    check(r.returncode != 0 and "no network interface has address" in
          r.stderr, f"exit {r.returncode}: {r.stderr[-300:]}")


def _producer(endpoint, server_pub=None, keys=None, rid=None):
    """A DEALER to the producers endpoint, with CURVE keys and a routing id
    if given."""
    import zmq
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if rid:
        sock.setsockopt(zmq.ROUTING_ID, rid)
    if server_pub:
        pub, sec = keys
        sock.curve_serverkey = server_pub.encode()
        sock.curve_publickey = pub
        sock.curve_secretkey = sec
    sock.connect(endpoint)
    return sock


def _ask(sock, frame, timeout):
    """Send one msgpack frame; the frames that came back within timeout."""
    import msgpack
    import zmq
    got, end = [], time.monotonic() + timeout
    while True:  # a refused handshake leaves no pipe: send would block
        try:
            sock.send(msgpack.packb(frame), zmq.NOBLOCK)
            break
        except zmq.Again:
            if time.monotonic() >= end:
                return got
            time.sleep(0.05)
    while time.monotonic() < end:
        if sock.poll(50):
            got.append(msgpack.unpackb(sock.recv()))
            if got[-1].get("type") in ("done", "pong", "error"):
                break
    return got


async def curve_producers(h):
    """With --curve-producers-file, only listed producer keys may submit."""
    import zmq
    gw_pub, gw_sec = keypair(h, "gateway")
    w_pub, w_sec = keypair(h, "worker")
    ok = zmq.curve_keypair()
    bad = zmq.curve_keypair()
    workers = os.path.join(h.tmpdir, "workers")
    producers = os.path.join(h.tmpdir, "producers")
    with open(workers, "w") as f:
        f.write(f"{w_pub} worker\n")
    with open(producers, "w") as f:
        f.write(f"{ok[0].decode()} backend\n")
    gw = await h.gateway("--curve-secret-file", gw_sec,
                         "--curve-clients-file", workers,
                         "--curve-producers-file", producers)
    await wait_log(gw, "producers endpoint: CURVE")
    h.worker(gw, 1, "--curve-server-key", gw_pub, "--curve-secret-file",
             w_sec)
    await h.wait_workers(gw, 1)
    loop = asyncio.get_running_loop()
    good = _producer(gw.producers, gw_pub, ok)
    frames = await loop.run_in_executor(None, _ask, good, {
        "type": "submit", "id": "p1", "task": "echo", "items": [1, 2]},
        scaled(10))
    kinds = [f.get("type") for f in frames]
    check(kinds and kinds[0] == "accepted" and kinds[-1] == "done"
          and frames[-1]["ok"] == 2, f"listed producer: {frames}")
    for sock in (_producer(gw.producers, gw_pub, bad),
                 _producer(gw.producers)):
        frames = await loop.run_in_executor(None, _ask, sock,
                                            {"type": "ping"}, scaled(1.5))
        check(not frames, f"an unlisted or plain producer got {frames}")
        sock.close()
    good.close()
    await wait_log(gw, "PRD-DENIED")


def _listen(sock, frame, seconds):
    """Send frame (msgpack) now and again (a worker's heartbeat) for
    seconds; return every frame that came back, decoded."""
    import msgpack
    import zmq
    got, end, next_send = [], time.monotonic() + seconds, 0
    while time.monotonic() < end:
        if time.monotonic() >= next_send:
            try:
                sock.send(msgpack.packb(frame), zmq.NOBLOCK)
            except zmq.Again:
                pass
            next_send = time.monotonic() + 0.2
        if sock.poll(50):
            got.append(msgpack.unpackb(sock.recv()))
    return got


async def curve_routing_ids_are_bound_to_keys(h):
    """With CURVE, another allowed key reusing a registered worker's (or a
    producer's) routing id takes over nothing: no job, no result, no
    heartbeat of the victim reaches it. Before, ZMQ_ROUTER_HANDOVER gave
    the newcomer the victim's connection, and its READY its jobs."""
    import zmq
    gw_pub, gw_sec = keypair(h, "gateway")
    ok_pub, ok_sec = keypair(h, "victim")
    thief = zmq.curve_keypair()
    p_ok, p_thief = zmq.curve_keypair(), zmq.curve_keypair()
    clients = os.path.join(h.tmpdir, "clients")
    producers = os.path.join(h.tmpdir, "producers")
    with open(clients, "w") as f:
        f.write(f"{ok_pub} victim\n{thief[0].decode()} also-allowed\n")
    with open(producers, "w") as f:
        f.write(f"{p_ok[0].decode()} a\n{p_thief[0].decode()} b\n")
    gw = await h.gateway("--curve-secret-file", gw_sec,
                         "--curve-clients-file", clients,
                         "--curve-producers-file", producers)
    victim = h.worker(gw, 2, "--id", "victim", "--curve-server-key", gw_pub,
                      "--curve-secret-file", ok_sec)
    await wait_registered(gw, victim)
    c = await connect(h, gw)
    mark = c.mark()
    ms = int(300 * scaled(1))
    await c.submit("v1", "sleep", [ms] * 12)
    await c.wait_frame(lambda f: f.get("type") == "result", mark,
                       what="a first result")
    loop = asyncio.get_running_loop()
    # The thief: an allowed key, the victim's routing id, a READY.
    sock = _producer(gw.endpoint, gw_pub, thief, rid=b"victim")
    ready = [1, "READY", {"capacity": 8, "tasks": ["sleep", "echo"],
                          "pid": 1, "host": "thief"}]
    got = await loop.run_in_executor(None, _listen, sock, ready, scaled(2))
    check(not got, f"the thief got the victim's traffic: {got[:5]}")
    frames = await c.collect("v1", mark, timeout=30)
    check(check_request(frames, 12) == [ms] * 12, f"{frames}")
    check(len(worker_labels(gw, victim)) == 1, "the victim was replaced")
    check(await workers_count(c) == 1, "the thief registered")
    got = await loop.run_in_executor(None, _listen, sock, ready, 0.5)
    check(not got, f"the thief got traffic: {got[:5]}")
    sock.close()
    # Producers: the thief's ping under a submitter's id gets neither a
    # pong nor the submitter's results.
    owner = _producer(gw.producers, gw_pub, p_ok, rid=b"backend")
    first = await loop.run_in_executor(None, _ask, owner, {
        "type": "submit", "id": "p1", "task": "sleep",
        "items": [ms] * 6}, scaled(5))
    check(first and first[0].get("type") == "accepted", f"{first}")
    pthief = _producer(gw.producers, gw_pub, p_thief, rid=b"backend")
    got = await loop.run_in_executor(None, _listen, pthief, {"type": "ping"},
                                     scaled(2))
    check(not got, f"the producer thief got {got[:5]}")
    seen, deadline = first, time.monotonic() + scaled(20)
    while seen[-1].get("type") != "done":  # the owner pings until done
        check(time.monotonic() < deadline, f"no done: {seen}")
        more = await loop.run_in_executor(None, _ask, owner, {"type": "ping"},
                                          scaled(5))
        check(more, f"the owner heard nothing more: {seen}")
        seen += [f for f in more if f.get("type") != "pong"]
    check(sum(f.get("type") == "result" for f in seen) == 6, f"{seen}")
    owner.close()
    pthief.close()


async def curve_worker_restarted_under_its_id_gets_in(h):
    """With CURVE (no HANDOVER), a worker started under the routing id of a
    hung one (stopped process, connection open) registers once the
    gateway's heartbeats have closed the hung one's connection; before
    ZMTP heartbeats, never while the hung process lived."""
    gw_pub, gw_sec = keypair(h, "gateway")
    w_pub, w_sec = keypair(h, "worker")
    clients = os.path.join(h.tmpdir, "clients")
    with open(clients, "w") as f:
        f.write(f"{w_pub} worker\n")
    hb = ("--hb-interval-ms", "200")
    gw = await h.gateway(*hb, "--curve-secret-file", gw_sec,
                         "--curve-clients-file", clients)
    args = (*hb, "--id", "fixed", "--curve-server-key", gw_pub,
            "--curve-secret-file", w_sec)
    hung = h.worker(gw, 1, *args)
    label = await wait_registered(gw, hung)
    os.kill(hung.pid, signal.SIGSTOP)
    try:
        await wait_log(gw, f"WRK-GONE worker={label} reason=silent")
        fresh = h.worker(gw, 1, *args)
        await wait_registered(gw, fresh, timeout=15)
        c = await connect(h, gw)
        await echo_works(c)
    finally:
        hung.kill()  # SIGKILL works on a stopped process


def denied_tokens(port):
    st, body = http_get(port, "/metrics")
    check(st == 200, f"/metrics: {st}")
    for line in body.decode().splitlines():
        if line.startswith('sluice_clients_denied_total{reason="token"}'):
            return int(line.split()[1])
    raise AssertionError("no token denial counter")


async def sighup_reloads_tokens_and_keys(h):
    tokens = os.path.join(h.tmpdir, "tokens-hup")
    with open(tokens, "w") as f:
        f.write(TOK_A + "\n")
    gw_pub, gw_sec = keypair(h, "gw-hup")
    first_pub, first_sec = keypair(h, "first")
    second_pub, second_sec = keypair(h, "second")
    clients = os.path.join(h.tmpdir, "clients-hup")
    with open(clients, "w") as f:
        f.write(f"{first_pub} first\n")
    gw = await h.gateway("--tokens-file", tokens, "--curve-secret-file",
                         gw_sec, "--curve-clients-file", clients)
    curve = ("--curve-server-key", gw_pub)
    h.worker(gw, 1, "--id", "first", *curve, "--curve-secret-file", first_sec)
    second = h.worker(gw, 1, "--id", "second", *curve, "--curve-secret-file",
                      second_sec)
    await wait_log(gw, "WRK-DENIED")
    a = await connect(h, gw, headers={"Authorization": "Bearer " + TOK_A})
    await echo_works(a)
    await refused(gw.port, 401, headers=(("Authorization", "Bearer " + TOK_B),))
    denied = await asyncio.to_thread(denied_tokens, gw.port)
    check(denied == 1, f"denied counter {denied}")
    # B replaces A, the second worker's key joins: SIGHUP, no restart
    with open(tokens, "w") as f:
        f.write(TOK_B + "\n")
    with open(clients, "a") as f:
        f.write(f"{second_pub} second\n")
    os.kill(gw.pid, signal.SIGHUP)
    line = await wait_log(gw, "GW-RELOAD")
    check("tokens=1" in line, f"reload line: {line}")
    b = await connect(h, gw, headers={"Authorization": "Bearer " + TOK_B})
    await echo_works(b)
    await refused(gw.port, 401, headers=(("Authorization", "Bearer " + TOK_A),))
    # an open connection is not cut by the reload
    await echo_works(a)
    # the denied worker gets in on its next try
    await wait_registered(gw, second, timeout=20)
    check(await workers_count(b) == 2, "second worker not registered")
    # counters go on from where they were
    check(await asyncio.to_thread(denied_tokens, gw.port) == denied + 1,
          "the denial counter restarted with the reload")
    # a file that does not load keeps the policy in force
    with open(tokens, "w") as f:
        f.write("short\n")
    os.kill(gw.pid, signal.SIGHUP)
    line = await wait_log(gw, "not reloaded")
    check("the old ones stay" in line and "short" not in line,
          f"failed reload line: {line}")
    c = await connect(h, gw, headers={"Authorization": "Bearer " + TOK_B})
    await echo_works(c)
    check(gw.running(), "gateway died on a bad reload")


def _free_endpoints():
    """--listen, --workers and --producers on free ports: a gateway that
    should refuse to start must not take (or find taken) a default port
    such as the producers' 5556, should it get that far."""
    return ["--listen", f"127.0.0.1:{free_port()}",
            "--workers", f"tcp://127.0.0.1:{free_port()}",
            "--producers", f"tcp://127.0.0.1:{free_port()}"]


if __name__ == "__main__":
    run([tokens_gate_the_handshake, origin_allow_list,
         origin_and_token_together, tls_listener, curve_workers,
         curve_producers, curve_routing_ids_are_bound_to_keys,
         curve_worker_restarted_under_its_id_gets_in,
         curve_misconfiguration_fails_closed,
         insecure_binds_are_warned_about, sighup_reloads_tokens_and_keys,
         listener_binds_only_the_address_given])
