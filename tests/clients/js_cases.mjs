// The JavaScript client's test cases, run in Node with Debian's node-ws by
// test_js.py, which starts the gateways and workers and reads our output:
// one JSON object per line ({"event": ...}). Usage:
//   node js_cases.mjs CASE URL[,URL...] [ARG]
import { createRequire } from "node:module";
import { connect, SluiceError } from "../../clients/js/sluice.js";

const require = createRequire(import.meta.url);
let WebSocket;
try { WebSocket = require("ws"); } catch (e) { WebSocket = require("/usr/share/nodejs/ws"); }

const [kase, urlList, arg] = process.argv.slice(2);
const urls = urlList.split(",");
const say = (event, fields) => console.log(JSON.stringify({ event, ...(fields || {}) }));
const states = [];
const opts = {
  WebSocket, backoffMinMs: 100, backoffMaxMs: 1000,
  onstate: (e) => states.push(e.state),
};

async function collect(stream, onResult) {
  const got = [];
  for await (const r of stream) {
    got.push({ seq: r.seq, value: r.value, error: r.error });
    if (onResult) onResult(r, got);
  }
  return { results: got, done: await stream.done };
}

const cases = {
  async plain() {
    const client = connect(urls, opts);
    const stream = client.submit("echo", [1, "two", { three: 3 }, [4], null]);
    const out = await collect(stream);
    const rtt = await client.ping();
    // timing and a traceparent: accepted names it, the frame says where
    // the item's time went
    const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const ts = client.submit("echo", [5], { timing: true, traceparent: tp });
    const frames = [];
    for await (const r of ts) frames.push(r.frame);
    const trace = { accepted: (await ts.accepted).traceparent, frame: frames[0] };
    let refused = null;
    try {
      await collect(client.submit("no_such_task", [1]));
    } catch (e) {
      refused = { code: e.code, isSluice: e instanceof SluiceError, message: e.message };
    }
    client.close();
    say("plain", { ...out, rtt, refused, states, trace });
  },
  // arg: the token; a wrong one gets 401s until giveUpMs.
  async token() {
    const client = connect(urls, { ...opts, token: arg, giveUpMs: 1500 });
    try {
      const out = await collect(client.submit("echo", ["t"]));
      client.close();
      say("token", { ok: true, ...out });
    } catch (e) {
      say("token", { ok: false, code: e.code, message: e.message });
    }
  },
  async cancel() {
    const client = connect(urls, opts);
    const stream = client.submit("sleep", [200, 5000, 5000]);
    const out = await collect(stream, (r, got) => { if (got.length === 1) stream.cancel(); });
    client.close();
    say("cancel", out);
  },
  async subscribe() {
    const client = connect(urls, opts);
    const sub = client.subscribe("js-news");
    const ready = await sub.ready;
    const watched = [];
    const watching = (async () => {
      for await (const f of sub) {
        watched.push(f);
        if (f.type === "done") break;
      }
    })();
    const out = await collect(client.submit("echo", [7, 8], { notify: "js-news" }));
    await watching;
    client.close();
    say("subscribe", { ready, watched, ...out });
  },
  // The driver cuts the link after "subscribed": the subscription is
  // taken up again on the next connection.
  async resubscribe() {
    const client = connect(urls, opts);
    const sub = client.subscribe("js-again");
    await sub.ready;
    const reopened = new Promise((resolve) => client.addEventListener("state", (e) => {
      if (e.state === "connected") resolve();
    }));
    say("subscribed");
    await reopened;
    const out = await collect(client.submit("echo", [5], { notify: "js-again" }));
    const watched = [];
    for await (const f of sub) {
      watched.push(f.type);
      if (f.type === "done") break;
    }
    client.close();
    say("resubscribe", { watched, ...out, states });
  },
  async silent() {
    const t0 = Date.now();
    const client = connect(urls, { ...opts, giveUpMs: Number(arg), openTimeoutMs: 300 });
    let error = null;
    try {
      await collect(client.submit("echo", [1]));
    } catch (e) {
      error = { code: e.code, message: e.message };
    }
    say("silent", { error, ms: Date.now() - t0, states: [...new Set(states)] });
  },
  // The driver breaks the connection or kills the gateway after "first".
  async survive() {
    const client = connect(urls, { ...opts, giveUpMs: 60000 });
    const n = Number(arg);
    const items = Array.from({ length: n }, () => 300);
    const stream = client.submit("sleep", items);
    const accepted = await stream.accepted;
    const out = await collect(stream, (r, got) => { if (got.length === 1) say("first"); });
    client.close();
    say("survive", { ...out, states, resumable: "resume" in accepted, submits: stream.submits });
  },
  // Revision 7: progress and partial values; the driver kills the worker
  // after "partials" (index 50 reached): one restart, one result.
  async inside() {
    const client = connect(urls, opts);
    const events = [];
    let told = false;
    const stream = client.submit("partials", [{ n: 300, ms: 3000 }], {
      onProgress: (p) => events.push(["progress", p.seq, p.progress]),
      onPartial: (p) => {
        events.push(["partial", p.seq, p.index, p.value, p.restart]);
        if (p.index >= 50 && !told) { told = true; say("partials"); }
      },
    });
    const out = await collect(stream, () => events.push(["result"]));
    client.close();
    say("inside", { ...out, events });
  },
};

const timer = setTimeout(() => { say("timeout"); process.exit(2); }, 120000);
cases[kase]().then(() => { clearTimeout(timer); }, (e) => {
  say("crash", { error: String(e && e.stack || e), code: e && e.code });
  process.exit(1);
});
