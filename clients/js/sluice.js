// sluice.js: a client for sluice's WebSocket protocol (docs/PROTOCOL.md §1),
// for browsers and Node. One ES module, no build step, no dependency.
//
// It makes the gateway's guarantee the application's: each item's seq is
// handed to the application exactly once, across dropped connections and
// dead gateways. It reconnects with capped, jittered backoff over a list of
// URLs; on reconnect it `resume`s each unfinished request with the seqs it
// already delivered; a gateway that does not know the request answers
// `unknown_request`, and the missing items are submitted again with their
// `seqs`. Only the items of unfinished requests are kept.
//
//   import { connect } from "./sluice.js";
//   const client = connect(["ws://gw1:8080/", "ws://gw2:8080/"]);
//   const stream = client.submit("burn", [200, 200]);
//   for await (const r of stream) console.log(r.seq, r.value, r.error);
//   console.log(await stream.done);   // {ok, failed, elapsed_ms, ...}
//
// In Node 20 pass a WebSocket constructor: connect(urls, {WebSocket}) with
// Debian's node-ws (`require("ws")`). Everything runs on the caller's event
// loop; a Client owns its socket, timers and the unfinished requests.

const OPEN = 1;
// A W3C traceparent a gateway accepts (PROTOCOL.md 1.4): version 00,
// lowercase hex, neither id all zeros.
const TRACEPARENT =
  /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A refusal or failure with the protocol's error code in `.code`
 * (docs/PROTOCOL.md, "Error codes"), or the client's own codes:
 * `unreachable` (no gateway for giveUpMs), `closed` (client.close()),
 * `not_connected`, `ping_timeout`. */
export class SluiceError extends Error {
  constructor(code, message, frame) {
    super(code + ": " + (message || code));
    this.name = "SluiceError";
    this.code = code;
    this.frame = frame || null;
  }
}

// A queue that is an async iterable: push() values, end() or fail(), and
// consumers `for await` them in order.
class Feed {
  constructor(onReturn) {
    this.buf = [];
    this.waiters = [];
    this.ended = false;
    this.error = null;
    this.onReturn = onReturn;
  }
  push(v) {
    if (this.ended) return;
    const w = this.waiters.shift();
    if (w) w.resolve({ value: v, done: false });
    else this.buf.push(v);
  }
  end(error) {
    if (this.ended) return;
    this.ended = true;
    this.error = error || null;
    for (const w of this.waiters.splice(0)) {
      if (this.error) w.reject(this.error);
      else w.resolve({ value: undefined, done: true });
    }
  }
  next() {
    if (this.buf.length) return Promise.resolve({ value: this.buf.shift(), done: false });
    if (this.ended) {
      return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
  return() {
    if (this.onReturn) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

// A promise whose rejection is not reported as unhandled when nobody
// awaits it (a stream's .done when the application only iterates).
function quietPromise() {
  let resolve, reject;
  const p = new Promise((a, b) => { resolve = a; reject = b; });
  p.catch(() => {});
  return { p, resolve, reject };
}

/** The results of one submit: an async iterable of {seq, value, error,
 * message} (error: null, or the item error's code), each seq once. */
class Stream extends Feed {
  constructor(client, req) {
    super(null);
    this.id = req.id;
    this.items = req.items.length;
    const a = quietPromise();
    /** The first `accepted` frame (items, workers). */
    this.accepted = a.p;
    this._accepted = a;
    const d = quietPromise();
    /** The done frame's fields: ok and failed count every item the
     * application got (across resubmits), cancelled the rest of a
     * cancelled request, elapsed_ms the last gateway's. */
    this.done = d.p;
    this._done = d;
    this._client = client;
    /** How many submit frames it took (1 unless resubmitted with seqs). */
    this.submits = 0;
    /** Inside an item (PROTOCOL.md revision 7): onprogress({seq,
     * progress, text, frame}) for its progress frames (0..1; hints the
     * gateway drops for a slow reader), onpartial({seq, index, value,
     * restart, frame}) for each partial value, in order, before the
     * item's result. restart: the item started again (its worker died,
     * or it was resubmitted to another gateway): forget the partial
     * values held for that seq. Neither is called for a seq after its
     * result. Set here or with submit's opts onProgress / onPartial. */
    this.onprogress = req.opts.onProgress || null;
    this.onpartial = req.opts.onPartial || null;
  }
  /** Ask the gateway to stop the request; the stream ends with a done
   * that counts the cancelled items. */
  cancel() {
    this._client._cancel(this.id);
  }
}

/** A notify channel's frames: an async iterable of the watched requests'
 * frames (accepted, result, error, done; each with `channel`). */
class Subscription extends Feed {
  constructor(client, channel) {
    super(() => client._unsubscribe(channel));
    this.channel = channel;
    const r = quietPromise();
    /** Resolves with the `subscribed` frame, rejects with a SluiceError. */
    this.ready = r.p;
    this._ready = r;
  }
  /** Stop watching: the iteration ends. */
  close() {
    return this.return();
  }
}

const DEFAULTS = {
  token: null, // sent as ?access_token= (browsers cannot set headers)
  WebSocket: null, // constructor; default globalThis.WebSocket
  protocols: undefined, // WebSocket subprotocols (JSON is the default)
  backoffMinMs: 250, // first retry delay, doubled per failure...
  backoffMaxMs: 10000, // ...up to this; each delay ±20 % jitter
  openTimeoutMs: 10000, // a handshake not done by then counts as failed
  giveUpMs: 60000, // no gateway that long: fail everything (Infinity: never)
  keepTrying: false, // after giving up, fail only the requests and go on connecting
  pingMs: 10000, // keepalive ping interval while open (0: none)
  deadMs: 20000, // no pong that long: the link is dead, reconnect
  onstate: null, // function(event): the same as the "state" event
};

/** A connection to one of several gateways, kept up until close().
 * Events (EventTarget): "state" with {state, url, code, reason, wasOpen,
 * retryInMs, error}; state is "connecting", "connected", "disconnected"
 * (lost, a retry follows in retryInMs) or "closed" (for good: gave up, or
 * close(); error says why), as the Python client's;
 * "pong" with {frame, rtt}. */
export class Client extends EventTarget {
  constructor(urls, opts) {
    super();
    this.urls = typeof urls === "string" ? [urls] : [...urls];
    if (!this.urls.length) throw new TypeError("sluice: no gateway URL");
    this.opts = { ...DEFAULTS, ...(opts || {}) };
    this.WS = this.opts.WebSocket || globalThis.WebSocket;
    if (!this.WS) throw new TypeError("sluice: no WebSocket; pass {WebSocket}");
    this.state = "connecting";
    this.url = null;
    this.ws = null;
    this.reqs = new Map(); // id -> unfinished request
    this.subs = new Map(); // channel -> Subscription
    this.pings = new Map(); // ping number -> {resolve, reject, t0}
    this.nextId = 0;
    this.nextPing = 0;
    this.urlIndex = 0;
    this.backoff = this.opts.backoffMinMs;
    this.timers = { retry: 0, open: 0, ping: 0, giveUp: 0 };
    this._down(); // giving up counts from here
    this.lastPong = 0;
    this.closedByUser = false;
    this._open();
  }

  // ---- the application's side ---------------------------------------

  /** Run task on every item: a Stream. opts: timeoutMs, notify, timing,
   * traceparent (W3C; default: the first gateway's, kept for resubmits),
   * id (default: a fresh one), onProgress, onPartial (see Stream). */
  submit(task, items, opts) {
    const o = opts || {};
    if (!Array.isArray(items)) throw new TypeError("sluice: items must be an array");
    const id = o.id || "js" + Date.now().toString(36) + "-" + ++this.nextId;
    const req = {
      id, task, items, opts: o, seen: new Set(), ok: 0, failed: 0,
      token: null, accepted: false, cancelling: false, stream: null, submits: 0,
    };
    req.stream = new Stream(this, req);
    if (this.state === "closed") {
      this._finish(req, null, new SluiceError(this.failure.code, this.failure.message));
      return req.stream;
    }
    this.reqs.set(id, req);
    if (this._isOpen()) this._sendSubmit(req);
    return req.stream;
  }

  /** Round trip to the gateway in ms (a promise). */
  ping(timeoutMs) {
    return new Promise((resolve, reject) => {
      if (!this._isOpen()) {
        reject(new SluiceError("not_connected", "no open connection"));
        return;
      }
      const n = ++this.nextPing;
      const t0 = now();
      const timer = setTimeout(() => {
        this.pings.delete(n);
        reject(new SluiceError("ping_timeout", "no pong"));
      }, timeoutMs || this.opts.deadMs);
      this.pings.set(n, { resolve, reject, t0, timer });
      this._send({ type: "ping", data: { sluice_ping: n } });
    });
  }

  /** Watch a notify channel (kept across reconnects): a Subscription. */
  subscribe(channel) {
    let sub = this.subs.get(channel);
    if (sub) return sub;
    sub = new Subscription(this, channel);
    this.subs.set(channel, sub);
    if (this._isOpen()) this._send({ type: "subscribe", channel });
    return sub;
  }

  /** Connect now (a new attempt, backoff reset), e.g. a Reconnect button. */
  reconnect() {
    if (this.state === "closed" || this.closedByUser) return;
    this.backoff = this.opts.backoffMinMs;
    this._drop(this.ws);
    this._open();
  }

  /** Close for good: unfinished requests fail with code "closed". */
  close() {
    this.closedByUser = true;
    this._fail("closed", "the client was closed");
  }

  // ---- connection ---------------------------------------------------

  _isOpen() {
    return this.ws !== null && this.ws.readyState === OPEN && this.state === "connected";
  }

  _emit(detail) {
    Object.assign(this, { state: detail.state });
    const ev = new Event("state");
    Object.assign(ev, detail);
    if (this.opts.onstate) this.opts.onstate(ev);
    this.dispatchEvent(ev);
  }

  _open() {
    clearTimeout(this.timers.retry);
    const url = this.urls[this.urlIndex % this.urls.length];
    this.urlIndex++;
    const full = this.opts.token ? url + (url.includes("?") ? "&" : "?") +
      "access_token=" + encodeURIComponent(this.opts.token) : url;
    let ws;
    try {
      ws = new this.WS(full, this.opts.protocols);
    } catch (err) {
      this._emit({ state: "connecting", url });
      this._lost(null, url, 1006, String(err.message || err), false);
      return;
    }
    this.ws = ws;
    this.url = url;
    this._emit({ state: "connecting", url });
    let opened = false;
    this.timers.open = setTimeout(() => {
      if (ws === this.ws && !opened) this._lost(ws, url, 1006, "handshake timeout", false);
    }, this.opts.openTimeoutMs);
    ws.onopen = () => {
      if (ws !== this.ws) return;
      opened = true;
      clearTimeout(this.timers.open);
      this._onOpen(url);
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      let f;
      try { f = JSON.parse(typeof e.data === "string" ? e.data : String(e.data)); } catch (err) { return; }
      if (f && typeof f === "object") this._onFrame(f);
    };
    ws.onclose = (e) => {
      if (ws === this.ws) this._lost(ws, url, e.code, e.reason, opened);
    };
    ws.onerror = () => {}; // a close event follows
  }

  _onOpen(url) {
    this.backoff = this.opts.backoffMinMs;
    clearTimeout(this.timers.giveUp);
    this.timers.giveUp = 0;
    this.lastPong = now();
    this._emit({ state: "connected", url });
    for (const sub of this.subs.values()) this._send({ type: "subscribe", channel: sub.channel });
    for (const req of [...this.reqs.values()]) {
      if (req.cancelling) this._finish(req, null, null); // its done is lost with the link
      else if (req.token) {
        req.resuming = true;
        this._send({ type: "resume", id: req.id, token: req.token, have: [...req.seen] });
      } else this._sendSubmit(req);
    }
    if (this.opts.pingMs > 0) {
      this.ping().catch(() => {}); // a round trip to show at once
      this.timers.ping = setInterval(() => this._keepalive(), this.opts.pingMs);
    }
  }

  // A link can die without a close (a cut cable): no pong for deadMs.
  _keepalive() {
    if (now() - this.lastPong > this.opts.deadMs) {
      this._lost(this.ws, this.url, 1006, "no pong for " + this.opts.deadMs + " ms", true);
      return;
    }
    this.ping().catch(() => {});
  }

  // Without a close frame where the WebSocket can (node-ws's terminate):
  // a gateway keeps a dropped connection's requests for a resume, but
  // takes a close frame as leaving on purpose. Browsers always send one.
  _drop(ws) {
    if (ws === this.ws) {
      this.ws = null;
      clearInterval(this.timers.ping);
      clearTimeout(this.timers.open);
    }
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      if (typeof ws.terminate === "function" && !this.closedByUser) ws.terminate();
      else ws.close();
    } catch (err) { /* already closing */ }
  }

  // Pings waiting for a pong fail, their timers stopped (a pending timer
  // would keep Node running after close()).
  _failPings(err) {
    for (const [n, p] of this.pings) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pings.delete(n);
    }
  }

  _lost(ws, url, code, reason, wasOpen) {
    this._drop(ws);
    this._failPings(new SluiceError("not_connected", "connection lost"));
    for (const req of this.reqs.values()) req.accepted = false;
    if (this.closedByUser || this.state === "closed") return;
    this.lastClose = reason || "close code " + code;
    if (!this.timers.giveUp) this._down();
    const delay = this.backoff * (0.8 + 0.4 * Math.random());
    this.backoff = Math.min(this.backoff * 2, this.opts.backoffMaxMs);
    this._emit({ state: "disconnected", url, code, reason: reason || "", wasOpen, retryInMs: delay });
    this.timers.retry = setTimeout(() => this._open(), delay);
  }

  // No gateway since now: after giveUpMs without one, give up.
  _down() {
    const t0 = Date.now();
    if (!(this.opts.giveUpMs < Infinity)) return;
    this.timers.giveUp = setTimeout(() => {
      const why = "no gateway reachable for " + (Date.now() - t0) + " ms (" +
        this.urls.join(", ") + ")" + (this.lastClose ? "; last: " + this.lastClose : "");
      if (!this.opts.keepTrying) {
        this._fail("unreachable", why);
        return;
      }
      this.timers.giveUp = 0;
      const err = new SluiceError("unreachable", why);
      for (const req of [...this.reqs.values()]) this._finish(req, null, err);
    }, this.opts.giveUpMs);
  }

  _fail(code, message) {
    const err = new SluiceError(code, message);
    this.failure = err;
    clearTimeout(this.timers.retry);
    clearTimeout(this.timers.giveUp);
    this._drop(this.ws);
    this._failPings(err);
    for (const req of [...this.reqs.values()]) this._finish(req, null, err);
    for (const sub of this.subs.values()) { sub._ready.reject(err); sub.end(err); }
    this.subs.clear();
    this._emit({ state: "closed", url: this.url, error: err });
  }

  _send(obj) {
    if (!this._isOpen()) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  // The items not delivered yet, with their seqs when that is not all.
  // None left (only the done was lost): the request ends here.
  _sendSubmit(req) {
    if (req.stream.items > 0 && req.seen.size === req.stream.items) {
      this._finish(req, null, null);
      return;
    }
    const f = { type: "submit", id: req.id, task: req.task };
    if (req.seen.size === 0) f.items = req.items;
    else {
      f.seqs = [];
      f.items = [];
      req.items.forEach((it, seq) => {
        if (!req.seen.has(seq)) { f.seqs.push(seq); f.items.push(it); }
      });
    }
    const o = req.opts;
    if (o.timeoutMs) f.timeout_ms = o.timeoutMs;
    if (o.notify) f.notify = o.notify;
    if (o.timing) f.timing = true;
    const tp = o.traceparent || req.traceparent;
    if (tp) f.traceparent = tp;
    req.stream.submits = ++req.submits;
    this._send(f);
  }

  _cancel(id) {
    const req = this.reqs.get(id);
    if (!req || req.cancelling) return;
    req.cancelling = true;
    if (!this._isOpen()) this._finish(req, null, null);
    else this._send({ type: "cancel", id });
  }

  _unsubscribe(channel) {
    const sub = this.subs.get(channel);
    if (!sub) return;
    this.subs.delete(channel);
    this._send({ type: "unsubscribe", channel });
    sub.end(null);
  }

  // The request ends: with the gateway's done frame, a local one (frame
  // null: cancelled while no gateway could say so), or an error.
  _finish(req, frame, err) {
    this.reqs.delete(req.id);
    req.items = []; // keep only the items of unfinished requests
    if (err) {
      req.stream._accepted.reject(err);
      req.stream._done.reject(err);
      req.stream.end(err);
      return;
    }
    const n = req.stream.items, rest = n - req.ok - req.failed;
    const done = { id: req.id, ok: req.ok, failed: req.failed, elapsed_ms: frame ? frame.elapsed_ms : null };
    if (rest > 0 || (frame && "cancelled" in frame)) done.cancelled = rest;
    req.stream._done.resolve(done);
    req.stream.end(null);
  }

  // ---- frames from the gateway ------------------------------------

  _onFrame(f) {
    if (f.channel && f.type !== "subscribed" && f.type !== "unsubscribed") {
      const sub = this.subs.get(f.channel);
      if (!sub) return;
      if (f.type === "error" && !("seq" in f) && !("id" in f)) {
        this.subs.delete(f.channel);
        const err = new SluiceError(f.code, f.message, f);
        sub._ready.reject(err);
        sub.end(err);
      } else sub.push(f);
      return;
    }
    switch (f.type) {
    case "pong": return this._onPong(f);
    case "subscribed": {
      const sub = this.subs.get(f.channel);
      if (sub) sub._ready.resolve(f);
      return;
    }
    case "accepted": {
      const req = this.reqs.get(f.id);
      if (req) {
        req.accepted = true;
        req.resuming = false;
        req.stream._accepted.resolve(f);
        if (typeof f.resume === "string") req.token = f.resume;
        // the gateway's traceparent: one trace across resubmits elsewhere
        if (!req.traceparent && typeof f.traceparent === "string"
            && TRACEPARENT.test(f.traceparent)) req.traceparent = f.traceparent;
      }
      return;
    }
    case "progress": case "partial": return this._onInside(f);
    case "result": case "error": case "done": break;
    default: return;
    }
    const req = this.reqs.get(f.id);
    if (!req) return;
    if (f.type === "result" || (f.type === "error" && "seq" in f)) {
      if (req.seen.has(f.seq) || !(f.seq >= 0 && f.seq < req.stream.items)) return;
      req.seen.add(f.seq);
      const ok = f.type === "result";
      if (ok) req.ok++; else req.failed++;
      req.stream.push({
        seq: f.seq, value: ok ? f.value : null, error: ok ? null : f.code,
        message: ok ? null : f.message || "", frame: f,
      });
    } else if (f.type === "done") {
      this._finish(req, f, null);
    } else this._onRequestError(req, f);
  }

  _onRequestError(req, f) {
    if (f.code === "unknown_id" && req.cancelling) return; // crossed a done
    // (unknown_type: a gateway older than resume, in a mixed fleet)
    if (f.code === "unknown_request" || (req.resuming && f.code === "unknown_type")) {
      req.resuming = false;
      // This gateway does not hold the request: ask it for what is missing.
      req.token = null;
      this._sendSubmit(req);
      return;
    }
    if (f.code === "shutting_down" && req.submits > 1) {
      // A resubmit met a draining gateway: the next one will take it.
      return;
    }
    this._finish(req, null, new SluiceError(f.code, f.message, f));
  }

  // A progress or partial frame of an unfinished item.
  _onInside(f) {
    const req = this.reqs.get(f.id);
    if (!req || req.seen.has(f.seq)) return;
    const s = req.stream;
    if (f.type === "progress") {
      if (s.onprogress) s.onprogress({ seq: f.seq, progress: f.progress, text: f.text ?? null, frame: f });
      return;
    }
    if (!req.nextIndex) req.nextIndex = new Map();
    // A first partial after others of the seq is a new attempt even when
    // no gateway said so (a resubmit on another gateway).
    const restart = f.restart === true || (f.index === 0 && (req.nextIndex.get(f.seq) || 0) > 0);
    req.nextIndex.set(f.seq, f.index + 1);
    if (s.onpartial) s.onpartial({ seq: f.seq, index: f.index, value: f.value, restart, frame: f });
  }

  _onPong(f) {
    this.lastPong = now();
    const n = f.data && f.data.sluice_ping;
    const p = this.pings.get(n);
    let rtt = null;
    if (p) {
      this.pings.delete(n);
      clearTimeout(p.timer);
      rtt = now() - p.t0;
      p.resolve(rtt);
    }
    const ev = new Event("pong");
    Object.assign(ev, { frame: f, rtt });
    this.dispatchEvent(ev);
  }
}

function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** Connect to the first gateway of urls that answers (a string or an
 * array); see Client for opts. Requests may be submitted at once: they
 * go out when a connection opens. */
export function connect(urls, opts) {
  return new Client(urls, opts);
}
